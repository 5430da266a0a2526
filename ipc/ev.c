/* ipc/ev.c: epoll event loop with timers and a cross-thread wake-up (eventfd). */
#include "ipc/ev.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define EV_BATCH 64

struct ev_slot {
    ev_fd_fn *fn;       /* NULL: not watched */
    void     *arg;
    unsigned  mask;
    uint32_t  gen;      /* bumped by ev_del so stale events in a batch are dropped */
};

struct ev_timer {
    int64_t      id, when;
    ev_timer_fn *fn;
    void        *arg;
    bool         dead;  /* deleted while the timer list is being walked */
};

struct ev_loop {
    int              epfd, wakefd;
    struct ev_slot  *slots;
    int              nslots;
    struct ev_timer *timers;
    size_t           ntimers, cap_timers;
    int64_t          next_id;
    ev_wake_fn      *wake_fn;
    void            *wake_arg;
    atomic_bool      stop;
};

int64_t ev_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ev_now_ms(void)
{
    return ev_now_ns() / 1000000;
}

static uint64_t tag(int fd, uint32_t gen)
{
    return (uint64_t)gen << 32 | (uint32_t)fd;
}

int ev_new(struct ev_loop **out, struct smfs_err *err)
{
    struct ev_loop *l = calloc(1, sizeof *l);
    *out = NULL;
    if (!l) return err_set(err, -ENOMEM, "event loop: out of memory");
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int rc = err_sys(err, "epoll_create1", NULL);
        free(l);
        return rc;
    }
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wakefd < 0) {
        int rc = err_sys(err, "eventfd", NULL);
        close(l->epfd);
        free(l);
        return rc;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) {
        int rc = err_sys(err, "epoll_ctl", NULL);
        ev_free(l);
        return rc;
    }
    l->next_id = 1;
    *out = l;
    return 0;
}

void ev_free(struct ev_loop *l)
{
    if (!l) return;
    close(l->epfd);
    close(l->wakefd);
    free(l->slots);
    free(l->timers);
    free(l);
}

static unsigned to_epoll(unsigned mask)
{
    return (mask & EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (mask & EV_WRITE ? EPOLLOUT : 0);
}

int ev_add(struct ev_loop *l, int fd, unsigned mask, ev_fd_fn *fn, void *arg, struct smfs_err *err)
{
    if (fd < 0) return err_set(err, -EBADF, "event loop: bad fd %d", fd);
    if (fd >= l->nslots) {
        int n = l->nslots ? l->nslots : 64;
        while (n <= fd) n *= 2;
        struct ev_slot *s = realloc(l->slots, (size_t)n * sizeof *s);
        if (!s) return err_set(err, -ENOMEM, "event loop: out of memory");
        memset(s + l->nslots, 0, (size_t)(n - l->nslots) * sizeof *s);
        l->slots = s;
        l->nslots = n;
    }
    struct ev_slot *s = &l->slots[fd];
    struct epoll_event ev = {.events = to_epoll(mask), .data.u64 = tag(fd, s->gen)};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return err_sys(err, "epoll_ctl(ADD)", NULL);
    s->fn = fn;
    s->arg = arg;
    s->mask = mask;
    return 0;
}

int ev_mod(struct ev_loop *l, int fd, unsigned mask)
{
    if (fd < 0 || fd >= l->nslots || !l->slots[fd].fn) return -EBADF;
    struct ev_slot *s = &l->slots[fd];
    if (s->mask == mask) return 0;
    struct epoll_event ev = {.events = to_epoll(mask), .data.u64 = tag(fd, s->gen)};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) return -errno;
    s->mask = mask;
    return 0;
}

void ev_del(struct ev_loop *l, int fd)
{
    if (fd < 0 || fd >= l->nslots || !l->slots[fd].fn) return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->slots[fd].fn = NULL;
    l->slots[fd].gen++;
}

int64_t ev_timer_add(struct ev_loop *l, int64_t ms, ev_timer_fn *fn, void *arg)
{
    if (l->ntimers == l->cap_timers) {
        size_t cap = l->cap_timers ? l->cap_timers * 2 : 8;
        struct ev_timer *t = realloc(l->timers, cap * sizeof *t);
        if (!t) return -ENOMEM;
        l->timers = t;
        l->cap_timers = cap;
    }
    struct ev_timer *t = &l->timers[l->ntimers++];
    t->id = l->next_id++;
    t->when = ev_now_ms() + (ms > 0 ? ms : 0);
    t->fn = fn;
    t->arg = arg;
    t->dead = false;
    return t->id;
}

void ev_timer_del(struct ev_loop *l, int64_t id)
{
    for (size_t i = 0; i < l->ntimers; i++)
        if (l->timers[i].id == id) l->timers[i].dead = true;
}

void ev_set_wake(struct ev_loop *l, ev_wake_fn *fn, void *arg)
{
    l->wake_fn = fn;
    l->wake_arg = arg;
}

void ev_wake(struct ev_loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->wakefd, &one, sizeof one);
    (void)n;   /* EAGAIN: the counter is already non-zero, a wake-up is pending */
}

void ev_stop(struct ev_loop *l)
{
    atomic_store(&l->stop, true);
}

void ev_stop_async(struct ev_loop *l)
{
    atomic_store(&l->stop, true);
    ev_wake(l);
}

/* Fire due timers. Timers may add or delete timers while we walk: the array can
 * move, so it is indexed afresh each step and deletions only mark. */
static int64_t run_timers(struct ev_loop *l)
{
    int64_t now = ev_now_ms(), next = -1;
    size_t n = l->ntimers;
    for (size_t i = 0; i < n && !atomic_load(&l->stop); i++) {
        if (l->timers[i].dead || l->timers[i].when > now) continue;
        int64_t again = l->timers[i].fn(l, l->timers[i].arg);
        if (again < 0) l->timers[i].dead = true;
        else l->timers[i].when = now + again;
    }
    size_t w = 0;
    for (size_t i = 0; i < l->ntimers; i++) {
        if (l->timers[i].dead) continue;
        l->timers[w++] = l->timers[i];
        int64_t d = l->timers[i].when - now;
        if (d < 0) d = 0;
        if (next < 0 || d < next) next = d;
    }
    l->ntimers = w;
    return next;
}

int ev_run(struct ev_loop *l, struct smfs_err *err)
{
    struct epoll_event evs[EV_BATCH];
    atomic_store(&l->stop, false);
    while (!atomic_load(&l->stop)) {
        int64_t wait = run_timers(l);
        if (atomic_load(&l->stop)) break;
        int n = epoll_wait(l->epfd, evs, EV_BATCH, wait > INT32_MAX ? INT32_MAX : (int)wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            return err_sys(err, "epoll_wait", NULL);
        }
        for (int i = 0; i < n && !atomic_load(&l->stop); i++) {
            if (evs[i].data.u64 == UINT64_MAX) {
                uint64_t v;
                ssize_t r = read(l->wakefd, &v, sizeof v);
                (void)r;
                if (l->wake_fn) l->wake_fn(l, l->wake_arg);
                continue;
            }
            int fd = (int)(uint32_t)evs[i].data.u64;
            uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
            if (fd >= l->nslots) continue;
            struct ev_slot *s = &l->slots[fd];
            /* A handler earlier in this batch may have deleted (and even re-added)
             * this fd: the generation tells the event is stale. */
            if (!s->fn || s->gen != gen) continue;
            unsigned fired = 0;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) fired |= EV_READ;
            if (evs[i].events & EPOLLOUT) fired |= EV_WRITE;
            fired &= s->mask | EV_READ;
            if (fired) s->fn(l, fd, fired, s->arg);
        }
    }
    return 0;
}
