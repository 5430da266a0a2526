/* ipc/http_post.c: see http_post.h. curl's multi_socket API: curl says which sockets
 * to watch (on_socket) and when to call it back (on_curl_timer); we run
 * curl_multi_socket_action from the loop and collect finished transfers. At most
 * max_active transfers run at once; the others wait in a FIFO holding no socket, so a
 * fan-out to thousands of callbacks costs the loop the same per event as to a few. */
#include "ipc/http_post.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct xfer {
    struct http_post  *p;
    CURL              *easy;
    struct curl_slist *hdrs;
    char              *url, *body;
    uint64_t           tag;
    int                tries;      /* done so far */
    int64_t            retry_timer;
    bool               active;     /* holds one of the max_active slots */
    char               errbuf[CURL_ERROR_SIZE];
    struct xfer       *prev, *next;   /* p->all: removal in O(1) */
    struct xfer       *qnext;         /* p->queue: waiting for a slot */
};

struct http_post {
    struct ev_loop       *loop;
    CURLM                *multi;
    int64_t               timer;
    struct http_post_opts o;
    http_post_done_fn    *done;
    void                 *arg;
    struct xfer          *all;     /* every request, in flight or waiting to retry */
    struct xfer          *qhead, *qtail;   /* waiting for a slot, oldest first */
    int                   active;
    struct http_post_stats st;
};

static void check_done(struct http_post *p);

static void on_fd(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    struct http_post *p = arg;
    int still;
    int mask = (events & EV_READ ? CURL_CSELECT_IN : 0) | (events & EV_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(p->multi, fd, mask, &still);
    check_done(p);
}

/* curl: watch S for WHAT. The per-socket pointer remembers that we added it. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct http_post *p = userp;
    if (what == CURL_POLL_REMOVE) {
        if (socketp) ev_del(p->loop, s);
        curl_multi_assign(p->multi, s, NULL);
        return 0;
    }
    unsigned mask = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (socketp) return ev_mod(p->loop, s, mask) ? -1 : 0;
    struct smfs_err err;
    if (ev_add(p->loop, s, mask, on_fd, p, &err)) return -1;
    curl_multi_assign(p->multi, s, p);   /* any non-NULL marks "added" */
    return 0;
}

static int64_t on_timer(struct ev_loop *loop, void *arg)
{
    (void)loop;
    struct http_post *p = arg;
    p->timer = 0;
    int still;
    curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    check_done(p);
    return -1;
}

static int on_curl_timer(CURLM *m, long ms, void *userp)
{
    (void)m;
    struct http_post *p = userp;
    if (p->timer) ev_timer_del(p->loop, p->timer);
    p->timer = 0;
    if (ms >= 0) {
        p->timer = ev_timer_add(p->loop, ms, on_timer, p);
        if (p->timer < 0) p->timer = 0;
    }
    return 0;
}

int http_post_new(struct ev_loop *loop, const struct http_post_opts *o, http_post_done_fn *done,
                  void *arg, struct http_post **out, struct smfs_err *err)
{
    struct http_post *p = calloc(1, sizeof *p);
    if (!p) return err_set(err, -ENOMEM, "http client: out of memory");
    p->loop = loop;
    p->o = *o;
    if (p->o.timeout_ms <= 0) p->o.timeout_ms = 5000;
    if (p->o.tries <= 0) p->o.tries = 3;
    if (p->o.backoff_ms <= 0) p->o.backoff_ms = 250;
    if (p->o.max_active <= 0) p->o.max_active = 32;
    p->done = done;
    p->arg = arg;
    if (!(p->multi = curl_multi_init())) {
        free(p);
        return err_set(err, -ENOMEM, "http client: curl_multi_init failed");
    }
    curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
    curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
    *out = p;
    return 0;
}

static void xfer_free(struct xfer *x)
{
    struct http_post *p = x->p;
    if (x->prev) x->prev->next = x->next;
    else if (p->all == x) p->all = x->next;
    if (x->next) x->next->prev = x->prev;
    for (struct xfer **q = &p->qhead; *q; q = &(*q)->qnext)   /* only ever at free time */
        if (*q == x) {
            *q = x->qnext;
            if (p->qtail == x) p->qtail = NULL;
            break;
        }
    if (x->active) p->active--;
    if (x->retry_timer) ev_timer_del(p->loop, x->retry_timer);
    if (x->easy) {
        curl_multi_remove_handle(p->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->hdrs);
    free(x->url);
    free(x->body);
    free(x);
}

void http_post_free(struct http_post *p)
{
    if (!p) return;
    while (p->all) xfer_free(p->all);
    if (p->timer) ev_timer_del(p->loop, p->timer);
    curl_multi_cleanup(p->multi);
    free(p);
}

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr, (void)arg;
    return size * n;
}

static int start(struct xfer *x);

/* X may run now: start it if a slot is free, else queue it. */
static int launch(struct xfer *x)
{
    struct http_post *p = x->p;
    if (p->active < p->o.max_active) return start(x);
    x->qnext = NULL;
    if (p->qtail) p->qtail->qnext = x;
    else p->qhead = x;
    p->qtail = x;
    p->st.queued++;
    return 0;
}

/* A slot came free (X finished a try): hand it to the oldest waiting transfer. */
static void release_slot(struct xfer *x)
{
    struct http_post *p = x->p;
    if (x->active) {
        x->active = false;
        p->active--;
    }
    while (p->qhead && p->active < p->o.max_active) {
        struct xfer *n = p->qhead;
        p->qhead = n->qnext;
        if (!p->qhead) p->qtail = NULL;
        n->qnext = NULL;
        if (start(n)) {
            p->st.failed++;
            p->st.in_flight--;
            uint64_t tag = n->tag;
            xfer_free(n);
            p->done(p->arg, tag, false, 0, "out of memory");
        }
    }
}

/* Start (or restart) X's transfer. */
static int start(struct xfer *x)
{
    struct http_post *p = x->p;
    if (x->easy) {
        curl_multi_remove_handle(p->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    if (!(x->easy = curl_easy_init())) return -ENOMEM;
    x->errbuf[0] = '\0';
    curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)p->o.timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)p->o.timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    x->tries++;
    if (curl_multi_add_handle(p->multi, x->easy) != CURLM_OK) return -ENOMEM;
    x->active = true;
    p->active++;
    return 0;
}

int http_post(struct http_post *p, const char *url, const char *body, uint64_t tag,
              struct smfs_err *err)
{
    struct xfer *x = calloc(1, sizeof *x);
    if (!x) return err_set(err, -ENOMEM, "http client: out of memory");
    x->p = p;
    x->tag = tag;
    x->url = strdup(url);
    x->body = strdup(body);
    x->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    x->next = p->all;
    if (p->all) p->all->prev = x;
    p->all = x;
    if (!x->url || !x->body || !x->hdrs || launch(x)) {
        xfer_free(x);
        return err_set(err, -ENOMEM, "http client: cannot start a request to %s", url);
    }
    p->st.started++;
    p->st.in_flight++;
    return 0;
}

static int64_t on_retry(struct ev_loop *loop, void *arg)
{
    (void)loop;
    struct xfer *x = arg;
    x->retry_timer = 0;
    if (launch(x)) {
        struct http_post *p = x->p;
        p->st.failed++;
        p->st.in_flight--;
        uint64_t tag = x->tag;
        xfer_free(x);
        p->done(p->arg, tag, false, 0, "out of memory");
    }
    return -1;
}

static void check_done(struct http_post *p)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(p->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        CURLcode rc = m->data.result;
        bool ok = rc == CURLE_OK && status >= 200 && status < 300;
        bool final = ok || (rc == CURLE_OK && status < 500) || x->tries >= p->o.tries;
        release_slot(x);
        if (!final) {
            /* Back off: 250 ms, 500 ms, … so a restarting receiver gets a moment. */
            p->st.retries++;
            x->retry_timer = ev_timer_add(p->loop, (int64_t)p->o.backoff_ms << (x->tries - 1), on_retry, x);
            if (x->retry_timer > 0) continue;
            x->retry_timer = 0;
        }
        char why[CURL_ERROR_SIZE + 64];
        if (ok) snprintf(why, sizeof why, "HTTP %ld", status);
        else if (rc != CURLE_OK) snprintf(why, sizeof why, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        else snprintf(why, sizeof why, "HTTP %ld", status);
        if (ok) p->st.succeeded++;
        else p->st.failed++;
        p->st.in_flight--;
        uint64_t tag = x->tag;
        xfer_free(x);
        p->done(p->arg, tag, ok, status, why);
    }
}

void http_post_stats(const struct http_post *p, struct http_post_stats *st)
{
    *st = p->st;
}
