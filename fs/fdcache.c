/* fs/fdcache.c: see fdcache.h. Entries live in a u64map by key (object id and tier)
 * and on an LRU list of those no read holds; a held entry is off the list, so
 * eviction only ever meets descriptors nobody is using. */
#include "fdcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/u64map.h"

struct fdent {
    uint64_t      key;
    int           fd;
    unsigned      holds;            /* reads in flight */
    struct fdent *prev, *next;      /* the LRU list, while holds == 0 */
};

/* Locking: mu guards everything below; open(2) and close(2) of a new or evicted fd
 * happen outside it (the entry is not yet, or no longer, reachable). */
struct fdcache {
    pthread_mutex_t mu;
    size_t          max;
    struct u64map   map;            /* key → struct fdent * */
    struct fdent   *lru, *mru;      /* unheld entries, least recently used first */
    size_t          n;
    struct fdcache_stats st;
};

static uint64_t key_of(const struct store_entry *e)
{
    return (e->id << 4 | e->tier) + 1;   /* never 0: u64map's empty key */
}

static void unlink_lru(struct fdcache *c, struct fdent *e)
{
    if (e->prev) e->prev->next = e->next;
    else c->lru = e->next;
    if (e->next) e->next->prev = e->prev;
    else c->mru = e->prev;
    e->prev = e->next = NULL;
}

static void push_mru(struct fdcache *c, struct fdent *e)
{
    e->prev = c->mru;
    e->next = NULL;
    if (c->mru) c->mru->next = e;
    else c->lru = e;
    c->mru = e;
}

int fdcache_new(size_t max, struct fdcache **out)
{
    struct fdcache *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->max = max ? max : 1;
    c->st.max = c->max;
    *out = c;
    return 0;
}

void fdcache_drop(struct fdcache *c)
{
    pthread_mutex_lock(&c->mu);
    struct fdent *list = c->lru;
    for (struct fdent *e = list; e; e = e->next) {
        (void)u64map_del(&c->map, e->key);
        c->n--;
    }
    c->lru = c->mru = NULL;
    pthread_mutex_unlock(&c->mu);
    while (list) {
        struct fdent *n = list->next;
        close(list->fd);
        free(list);
        list = n;
    }
}

void fdcache_free(struct fdcache *c)
{
    if (!c) return;
    fdcache_drop(c);   /* every read is over by now: nothing is held */
    u64map_release(&c->map);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int fdcache_get(struct fdcache *c, const struct store_entry *obj, fdcache_open_fn *open, void *arg,
                struct fdcache_hold *h, struct smfs_err *err)
{
    uint64_t key = key_of(obj), v;
    pthread_mutex_lock(&c->mu);
    if (u64map_get(&c->map, key, &v)) {
        struct fdent *e = (struct fdent *)(uintptr_t)v;
        if (e->holds++ == 0) unlink_lru(c, e);
        c->st.hits++;
        pthread_mutex_unlock(&c->mu);
        *h = (struct fdcache_hold){e, e->fd};
        return e->fd;
    }
    c->st.misses++;
    /* Room: evict the least recently used unheld fd, if full. */
    struct fdent *victim = NULL;
    if (c->n >= c->max && c->lru) {
        victim = c->lru;
        unlink_lru(c, victim);
        (void)u64map_del(&c->map, victim->key);
        c->n--;
        c->st.evictions++;
    }
    bool room = c->n < c->max;
    if (room) c->n++;   /* reserved for the fd opened below */
    pthread_mutex_unlock(&c->mu);
    if (victim) {
        close(victim->fd);
        free(victim);
    }
    int fd = open(arg, obj, err);
    struct fdent *e = fd >= 0 && room ? calloc(1, sizeof *e) : NULL;
    pthread_mutex_lock(&c->mu);
    if (e && u64map_get(&c->map, key, &v)) {
        /* Another read opened it meanwhile: use theirs, drop ours. */
        struct fdent *o = (struct fdent *)(uintptr_t)v;
        if (o->holds++ == 0) unlink_lru(c, o);
        c->n--;
        pthread_mutex_unlock(&c->mu);
        close(fd);
        free(e);
        *h = (struct fdcache_hold){o, o->fd};
        return o->fd;
    }
    if (e && u64map_put(&c->map, key, (uint64_t)(uintptr_t)e) == 0) {
        e->key = key;
        e->fd = fd;
        e->holds = 1;
        pthread_mutex_unlock(&c->mu);
        *h = (struct fdcache_hold){e, fd};
        return fd;
    }
    if (room) c->n--;   /* not cached after all: no memory, or the open failed */
    if (fd >= 0) c->st.overflow++;
    pthread_mutex_unlock(&c->mu);
    free(e);
    if (fd < 0) return fd;
    *h = (struct fdcache_hold){NULL, fd};   /* every cached fd is in use: this read's own */
    return fd;
}

void fdcache_put(struct fdcache *c, struct fdcache_hold *h)
{
    if (!h->ent) {
        if (h->fd >= 0) close(h->fd);
        return;
    }
    struct fdent *e = h->ent;
    pthread_mutex_lock(&c->mu);
    if (--e->holds == 0) push_mru(c, e);
    pthread_mutex_unlock(&c->mu);
}

void fdcache_stats(struct fdcache *c, struct fdcache_stats *st)
{
    pthread_mutex_lock(&c->mu);
    *st = c->st;
    st->open = c->n;
    size_t unheld = 0;
    for (struct fdent *e = c->lru; e; e = e->next) unheld++;
    st->held = c->n - unheld;
    pthread_mutex_unlock(&c->mu);
}
