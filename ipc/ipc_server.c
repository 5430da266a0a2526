/* ipc/ipc_server.c: listeners, connections (handshake → messages), dispatch.
 * Each connection is a small state machine fed with whatever bytes arrive:
 *   LOGIN   bytes up to a NUL: "user:password" + capability byte (< 32) — at most
 *           HS_MAX bytes and handshake_ms, or the connection is dropped
 *   HEADER  8 bytes, checked at once (type, flags, length within the peer's limit:
 *           max_msg after a login against the user file, max_msg_anon otherwise);
 *           no message for idle_ms closes a connection that is not kept
 *   BODY    the rest, grown as it arrives (a lying length costs what was sent,
 *           not what was claimed) within a budget shared by all connections, and
 *           due within stall_ms of its header (plus a second per MiB) however
 *           slowly it trickles
 * Limits a peer cannot talk its way around: max_conns in all and max_per_addr per
 * address, refusals logged once per LOG_WINDOW_MS with a count; at the fd limit
 * (EMFILE) the backlog is drained through a spare descriptor and accepting pauses. 
 * Closing is deferred: a connection found dead is unlinked at once but freed only
 * when the current event is done with it, so a handler may close any connection,
 * its own included. */
#include "ipc/ipc_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/qcall.h"
#include "ipc/ipc_auth.h"
#include "ipc/sock.h"

#define HS_MAX        1024           /* user:password + capability + NUL */
#define READ_CHUNK    65536
#define READ_BUDGET   (4u << 20)     /* bytes read per event before yielding to others */
#define SWEEP_MS      200
#define LOG_WINDOW_MS 10000          /* refusals: one line, then a count per window */
#define FD_PAUSE_MS   250            /* accepting rests this long after EMFILE */
#define MSG_ANON_DFLT ((size_t)1 << 20)
#define MSG_AUTH_DFLT ((size_t)64 << 20)
#define BUFFERED_DFLT ((size_t)256 << 20)
#define IDLE_DFLT_MS  600000

enum conn_state { LOGIN, HEADER, BODY };

struct conn {
    struct ipc_server *srv;
    uint64_t           id;
    int                fd;
    enum conn_state    st;
    bool               local;        /* Unix socket or loopback: kdb+ does not compress */
    bool               dead;
    bool               anon;         /* no user file: smaller limits */
    bool               keep;         /* exempt from idle_ms (a registered DAP) */
    char               addr[80];     /* per-address accounting: an IP, or "uid:N" */
    uint8_t            cap;
    char              *user;
    char               peer[80];
    uint8_t            hs[HS_MAX];
    size_t             hslen;
    uint8_t            hdr[IPC_HDR];
    size_t             hdrlen;
    struct ipc_hdr     h;
    struct buf         in;
    int64_t            deadline;     /* 0: none */
    struct buf         out;
    size_t             outoff;
    struct conn       *next;
};

struct handler {
    char           *name;
    ipc_handler_fn *fn;
    void           *arg;
};

struct ipc_server {
    struct ev_loop        *loop;
    struct ipc_server_opts o;
    char                  *unix_path;
    int                    tcp_fd, unix_fd, port;
    int64_t                sweep;
    struct ipc_auth       *auth;
    struct handler        *h;
    size_t                 nh;
    struct conn           *conns, *dead;
    uint64_t               next_id;
    ipc_close_fn          *on_close;
    void                  *close_arg;
    ipc_response_fn       *on_response;
    void                  *response_arg;
    struct ipc_stats       st;
    int                    spare_fd;      /* /dev/null, given up to drain an EMFILE backlog */
    int64_t                paused_until;  /* accepting rests after EMFILE (ev_now_ms) */
    struct {
        int64_t  until;                   /* the current window's end */
        uint64_t quiet;                   /* refusals not logged in it */
    } rlog[4];                            /* by enum refusal */
};

/* Kinds of refusal, each logged in its own windows: one cause does not hide another. */
enum refusal { REF_FULL, REF_ADDR, REF_FDS, REF_OTHER };
static const char *const refusal_name[] = {"at the connection limit", "at the per-address limit",
                                           "for want of file descriptors", "by accept errors"};

/* A connection's message limit. */
static size_t conn_max(const struct conn *c)
{
    return c->anon ? c->srv->o.max_msg_anon : c->srv->o.max_msg;
}

/* --- logging ------------------------------------------------------------------- */

static void logf_(struct ipc_server *s, enum ipc_log_level lv, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void logf_(struct ipc_server *s, enum ipc_log_level lv, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->o.log) s->o.log(s->o.log_arg, lv, msg);
    else fprintf(stderr, "smfs ipc: %s\n", msg);
}

/* A refusal: the first of a window is logged, the rest counted and summed up once
 * the window ends, so 20,000 refused connections cost a few lines, not 20,000. */
static void refusal_flush(struct ipc_server *s, enum refusal k)
{
    if (s->rlog[k].quiet)
        logf_(s, IPC_LOG_WARN, "%llu more connections refused %s in the last %d s (not logged one by one)",
              (unsigned long long)s->rlog[k].quiet, refusal_name[k], LOG_WINDOW_MS / 1000);
    s->rlog[k].quiet = 0;
}

static void refusal(struct ipc_server *s, enum refusal k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refusal(struct ipc_server *s, enum refusal k, const char *fmt, ...)
{
    int64_t now = ev_now_ms();
    if (now < s->rlog[k].until) {
        s->rlog[k].quiet++;
        return;
    }
    refusal_flush(s, k);
    s->rlog[k].until = now + LOG_WINDOW_MS;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    logf_(s, IPC_LOG_WARN, "%s (further refusals for %d s are counted, not logged)", msg, LOG_WINDOW_MS / 1000);
}

/* --- connections --------------------------------------------------------------------- */

static void conn_free(struct conn *c)
{
    buf_release(&c->in);
    buf_release(&c->out);
    free(c->user);
    free(c);
}

static void reap(struct ipc_server *s)
{
    while (s->dead) {
        struct conn *c = s->dead;
        s->dead = c->next;
        conn_free(c);
    }
}

/* Unlink and close now; free later (see the top of the file). */
static void conn_kill(struct conn *c, bool dropped, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void conn_kill(struct conn *c, bool dropped, const char *fmt, ...)
{
    struct ipc_server *s = c->srv;
    if (c->dead) return;
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    logf_(s, dropped ? IPC_LOG_WARN : IPC_LOG_INFO, "connection %llu (%s%s%s): %s",
          (unsigned long long)c->id, c->peer, c->user && *c->user ? ", user " : "",
          c->user ? c->user : "", why);
    for (struct conn **p = &s->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    c->dead = true;
    s->st.buffered -= c->st == BODY ? c->in.len : 0;
    ev_del(s->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    s->st.conns--;
    if (dropped) s->st.dropped++;
    c->next = s->dead;
    s->dead = c;
    if (c->st != LOGIN && s->on_close) s->on_close(s, c->id, s->close_arg);
}

static struct conn *conn_find(struct ipc_server *s, uint64_t id)
{
    for (struct conn *c = s->conns; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

static void conn_io(struct ev_loop *loop, int fd, unsigned ev, void *arg);

/* Write what the socket takes; watch for writability while output remains. */
static void conn_flush(struct conn *c)
{
    while (c->outoff < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            conn_kill(c, false, "send: %s", strerror(errno));
            return;
        }
        c->outoff += (size_t)n;
        c->srv->st.bytes_out += (uint64_t)n;
    }
    if (c->outoff == c->out.len) {
        c->out.len = c->outoff = 0;
        if (c->out.cap > (1u << 20)) buf_release(&c->out);   /* do not pin a big buffer */
        ev_mod(c->srv->loop, c->fd, EV_READ);
    } else {
        ev_mod(c->srv->loop, c->fd, EV_READ | EV_WRITE);
    }
}

static int conn_send(struct conn *c, enum ipc_type type, const struct k *x, struct smfs_err *err)
{
    struct ipc_server *s = c->srv;
    bool zip = c->cap >= 1 && (!c->local || s->o.compress_local);
    if (c->out.len - c->outoff > s->o.max_out) {
        conn_kill(c, true, "peer does not read: %zu bytes queued (limit %zu)", c->out.len - c->outoff,
                  s->o.max_out);
        return err_set(err, -ENOTCONN, "connection %llu dropped: peer does not read", (unsigned long long)c->id);
    }
    int rc = ipc_encode(x, type, zip, &c->out, err);
    if (rc) return rc;
    s->st.msgs_out++;
    conn_flush(c);
    return 0;
}

/* --- dispatch ------------------------------------------------------------------------ */

static struct handler *find_handler(struct ipc_server *s, const char *name)
{
    for (size_t i = 0; i < s->nh; i++)
        if (!strcmp(s->h[i].name, name)) return &s->h[i];
    return NULL;
}

/* Split a message into the function name and its arguments; NULL and *bad (a q
 * error) when it is not a call. */
static struct k *split_call(struct k *x, char **name, struct k **bad)
{
    *name = NULL;
    *bad = NULL;
    if (x->t == KT_SYM && x->n >= 1) {
        struct k *args = k_list(x->n - 1);
        *name = strdup(k_symv_at(x, 0));
        for (int64_t i = 1; args && i < x->n; i++) {
            struct k *a = k_sym(k_symv_at(x, i));
            if (!a) {
                k_free(args);
                args = NULL;
            } else {
                k_list_set(args, i - 1, a);
            }
        }
        if (!args || !*name) {   /* out of memory */
            free(*name);
            *name = NULL;
            k_free(args);
            return NULL;
        }
        return args;
    }
    if (x->t == KT_LIST && x->n >= 1) {
        struct k *head = x->u.kk[0];
        if (head->t == -KT_SYM) *name = strdup(head->u.s ? head->u.s : "");
        else if (head->t == KT_CHAR) *name = strndup((const char *)head->u.v, (size_t)head->n);
        else {
            *bad = k_error("smfs cannot run a function sent over IPC: call a name, e.g. (`.sm.api.getStatus;::)");
            return NULL;
        }
        struct k *args = k_list(x->n - 1);
        if (!args || !*name) {
            free(*name);
            *name = NULL;
            k_free(args);
            return NULL;
        }
        for (int64_t i = 1; i < x->n; i++) {   /* move, do not copy */
            k_free(args->u.kk[i - 1]);
            args->u.kk[i - 1] = x->u.kk[i];
            x->u.kk[i] = NULL;
        }
        return args;
    }
    if (x->t == KT_CHAR) {
        /* h".sm.api.getStatus[]": a q user's first habit. Parsed as a call with literal
         * arguments (core/qcall), never evaluated; anything else is refused saying so. */
        struct smfs_err e = {0};
        struct k *args = NULL;
        int rc = qcall_parse((const char *)x->u.v, (size_t)x->n, name, &args, &e);
        if (rc == 0) return args;
        if (rc != -ENOMEM) {
            char m[ERR_MSG_MAX + 200];
            snprintf(m, sizeof m, "smfs has no q interpreter: send a call of a named function with literal "
                     "arguments, e.g. \".sm.api.getStatus[]\" or (`.sm.api.getStatus;::); %s", e.msg);
            *bad = k_error(m);
        }
        return NULL;
    } else if (x->t == -KT_SYM)
        *bad = k_error("a name alone asks for its value; smfs only calls functions: (`name;args)");
    else
        *bad = k_error("type");
    return NULL;
}

static struct k *call(struct conn *c, struct k *x, bool sync, char **fname)
{
    struct ipc_server *s = c->srv;
    *fname = NULL;
    if (x->t == KT_CHAR && x->n == 0) return k_null();   /* h"" : wait until processed */
    struct k *bad, *args = split_call(x, fname, &bad);
    if (!args) return bad;    /* NULL bad: out of memory */
    struct handler *h = find_handler(s, *fname);
    if (!h) {
        k_free(args);
        return k_error(*fname);   /* kdb+: an undefined name is its own error */
    }
    struct ipc_call cl = {s, c->id, c->user ? c->user : "", c->peer, *fname, args, sync};
    struct k *r = h->fn(&cl, h->arg);
    k_free(args);
    return r;
}

static void dispatch(struct conn *c, const uint8_t *msg, size_t n)
{
    struct ipc_server *s = c->srv;
    struct smfs_err err;
    struct k *x = NULL;
    enum ipc_type type;
    s->st.msgs_in++;
    size_t max = conn_max(c);
    uint64_t max_mem = s->o.max_decoded ? s->o.max_decoded : (uint64_t)max * IPC_DECODE_FACTOR;
    int rc = ipc_decode_within(msg, n, max, max_mem, &x, &type, &err);
    if (rc == -E2BIG) {
        /* Well-formed but too big once decoded (a compression bomb): kdb+'s 'limit to
         * a sync call, and the connection goes on. */
        s->st.limit_replies++;
        logf_(s, IPC_LOG_WARN, "connection %llu (%s): message refused with 'limit: %s", (unsigned long long)c->id,
              c->peer, err.msg);
        if (msg[1] == IPC_SYNC) {
            struct k *e = k_error("limit");
            if (!e || conn_send(c, IPC_RESPONSE, e, &err)) conn_kill(c, true, "cannot reply 'limit");
            k_free(e);
        }
        return;
    }
    if (rc) {
        conn_kill(c, true, "bad message: %s", err.msg);
        return;
    }
    if (type == IPC_RESPONSE && s->on_response) {   /* the answer to a sync message we sent */
        s->on_response(s, c->id, x, s->response_arg);
        k_free(x);
        return;
    }
    if (type == IPC_RESPONSE) {   /* we never asked, so nobody should answer */
        logf_(s, IPC_LOG_WARN, "connection %llu (%s): unexpected response message ignored",
              (unsigned long long)c->id, c->peer);
        k_free(x);
        return;
    }
    char *fname;
    struct k *r = call(c, x, type == IPC_SYNC, &fname);
    k_free(x);
    if (!r) r = k_error("wsfull");
    if (r && r->t == KT_ERROR) s->st.errors++;
    if (type == IPC_SYNC && !c->dead) {
        if (conn_send(c, IPC_RESPONSE, r, &err) && !c->dead) {
            struct k *e = k_error(err.code == -EMSGSIZE ? "limit" : "wsfull");
            logf_(s, IPC_LOG_ERROR, "connection %llu: reply to '%s': %s", (unsigned long long)c->id,
                  fname ? fname : "?", err.msg);
            if (e && conn_send(c, IPC_RESPONSE, e, &err) && !c->dead)
                conn_kill(c, true, "cannot reply: %s", err.msg);
            k_free(e);
        }
    } else if (type == IPC_ASYNC && r->t == KT_ERROR) {
        logf_(s, IPC_LOG_WARN, "connection %llu (%s): async call '%s' failed: '%s",
              (unsigned long long)c->id, c->peer, fname ? fname : "?", r->u.s);
    }
    free(fname);
    k_free(r);
}

/* --- input state machine --------------------------------------------------------------- */

static void login(struct conn *c)
{
    struct ipc_server *s = c->srv;
    size_t n = c->hslen - 1;     /* without the NUL */
    uint8_t cap = 0;
    /* A byte below 32 before the NUL is the capability; very old clients send none. */
    if (n >= 1 && c->hs[n - 1] < 32) cap = c->hs[--n];
    c->hs[n] = '\0';
    c->user = strndup((const char *)c->hs, strcspn((const char *)c->hs, ":"));
    if (!c->user) {
        conn_kill(c, true, "out of memory");
        return;
    }
    if (s->auth && !ipc_auth_check(s->auth, (const char *)c->hs)) {
        s->st.refused_login++;
        memset(c->hs, 0, sizeof c->hs);
        conn_kill(c, true, "login refused for user '%s'", c->user);
        return;
    }
    memset(c->hs, 0, sizeof c->hs);   /* the password is not kept */
    c->cap = cap < IPC_CAP ? cap : IPC_CAP;
    c->anon = !s->auth;
    if (buf_put_u8(&c->out, c->cap)) {
        conn_kill(c, true, "out of memory");
        return;
    }
    c->st = HEADER;
    c->deadline = c->keep ? 0 : ev_now_ms() + s->o.idle_ms;
    logf_(s, IPC_LOG_INFO, "connection %llu (%s): user '%s' logged in, capability %u",
          (unsigned long long)c->id, c->peer, c->user, c->cap);
    conn_flush(c);
}

/* A whole message has arrived: back to waiting for a header, then run it. */
static void body_done(struct conn *c)
{
    struct ipc_server *s = c->srv;
    c->st = HEADER;
    c->hdrlen = 0;
    s->st.buffered -= c->in.len;
    c->deadline = c->keep ? 0 : ev_now_ms() + s->o.idle_ms;
    dispatch(c, c->in.p, c->in.len);
    buf_release(&c->in);
}

/* N more bytes of body are about to be buffered: within the budget all connections
 * share, or this connection goes (the one that would pass it). */
static bool budget_ok(struct conn *c, size_t n)
{
    struct ipc_server *s = c->srv;
    if (s->st.buffered + n <= s->o.max_buffered) {
        s->st.buffered += n;
        return true;
    }
    conn_kill(c, true, "message input over budget: %llu bytes buffered across connections, limit %zu",
              (unsigned long long)s->st.buffered, s->o.max_buffered);
    return false;
}

/* Feed P[0..n) through the state machine. */
static void feed(struct conn *c, const uint8_t *p, size_t n)
{
    struct ipc_server *s = c->srv;
    struct smfs_err err;
    while (n && !c->dead) {
        if (c->st == LOGIN) {
            const uint8_t *nul = memchr(p, 0, n);
            size_t take = nul ? (size_t)(nul - p) + 1 : n;
            if (c->hslen + take > HS_MAX) {
                conn_kill(c, true, "login longer than %d bytes", HS_MAX);
                return;
            }
            memcpy(c->hs + c->hslen, p, take);
            c->hslen += take;
            p += take;
            n -= take;
            if (nul) login(c);
        } else if (c->st == HEADER) {
            size_t take = IPC_HDR - c->hdrlen < n ? IPC_HDR - c->hdrlen : n;
            /* The clock of a message starts at its first byte; later bytes do not
             * wind it back (a byte every few seconds must not hold a slot). */
            if (c->hdrlen == 0) c->deadline = ev_now_ms() + s->o.stall_ms;
            memcpy(c->hdr + c->hdrlen, p, take);
            c->hdrlen += take;
            p += take;
            n -= take;
            if (c->hdrlen < IPC_HDR) continue;
            if (ipc_hdr_parse(c->hdr, conn_max(c), &c->h, &err)) {
                conn_kill(c, true, "%s%s", err.msg, c->anon ? " (the limit for a peer without a login; "
                                                             "a user file raises it)" : "");
                return;
            }
            buf_init(&c->in, c->h.len);
            if (!budget_ok(c, IPC_HDR)) return;
            if (buf_append(&c->in, c->hdr, IPC_HDR)) {
                conn_kill(c, true, "out of memory");
                return;
            }
            c->deadline += (int64_t)(c->h.len >> 20) * 1000;   /* a second per MiB on top */
            c->st = BODY;
        } else {
            size_t want = c->h.len - c->in.len, take = want < n ? want : n;
            if (!budget_ok(c, take)) return;
            if (buf_append(&c->in, p, take)) {
                conn_kill(c, true, "out of memory for a %u-byte message", c->h.len);
                return;
            }
            p += take;
            n -= take;
            if (c->in.len == c->h.len) body_done(c);
        }
    }
}

/* Receive body bytes into c->in directly. The buffer grows by at most what it
 * already holds (64 KiB at first), so a length that lies costs what was sent.
 * Returns bytes received, 0 when the socket would block, -1 when it fell back to
 * the chunked path (end of stream or an error: the caller's recv reports it). */
static ssize_t body_recv(struct conn *c)
{
    struct ipc_server *s = c->srv;
    size_t want = c->h.len - c->in.len;
    size_t step = c->in.len > 65536 ? c->in.len : 65536;
    if (step < want) want = step;
    if (buf_reserve(&c->in, want)) {
        conn_kill(c, true, "out of memory for a %u-byte message", c->h.len);
        return -1;
    }
    ssize_t r = recv(c->fd, c->in.p + c->in.len, want, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (r <= 0) return -1;
    if (!budget_ok(c, (size_t)r)) return -1;
    c->in.len += (size_t)r;
    s->st.bytes_in += (uint64_t)r;
    if (c->in.len == c->h.len) body_done(c);
    return r;
}

static void conn_io(struct ev_loop *loop, int fd, unsigned ev, void *arg)
{
    struct conn *c = arg;
    struct ipc_server *s = c->srv;
    (void)loop;
    (void)fd;
    if (ev & EV_WRITE) conn_flush(c);
    if ((ev & EV_READ) && !c->dead) {
        uint8_t chunk[READ_CHUNK];
        size_t budget = READ_BUDGET;
        while (!c->dead && budget) {
            if (c->st == BODY) {   /* straight into the message, no copy */
                ssize_t r = body_recv(c);
                if (r > 0) {
                    budget = (size_t)r < budget ? budget - (size_t)r : 0;
                    continue;
                }
                if (r == 0 || c->dead) break;   /* would block, or killed */
            }
            ssize_t r = recv(c->fd, chunk, sizeof chunk, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (r < 0) {
                conn_kill(c, false, "recv: %s", strerror(errno));
                break;
            }
            if (r == 0) {
                conn_kill(c, c->st == BODY || (c->st == HEADER && c->hdrlen), "closed by peer%s",
                          c->st == LOGIN ? " before logging in" : c->st == BODY || c->hdrlen ? " mid-message" : "");
                break;
            }
            s->st.bytes_in += (uint64_t)r;
            budget = (size_t)r < budget ? budget - (size_t)r : 0;
            feed(c, chunk, (size_t)r);
        }
    }
    reap(s);
}

/* --- listeners ---------------------------------------------------------------------- */

static void describe(const struct sockaddr_storage *a, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (a->ss_family == AF_UNIX) {
        snprintf(out, n, "unix");
    } else if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &x->sin_addr, host, sizeof host);
        snprintf(out, n, "%s:%u", host, ntohs(x->sin_port));
    } else {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &x->sin6_addr, host, sizeof host);
        snprintf(out, n, "[%s]:%u", host, ntohs(x->sin6_port));
    }
}

/* The address a peer is counted under: its IP (without the port), or for a Unix
 * socket peer its uid (SO_PEERCRED). */
static void addr_key(int fd, const struct sockaddr_storage *a, const char *peer, char *out, size_t n)
{
    if (a->ss_family == AF_UNIX) {
        struct ucred cr;
        socklen_t l = sizeof cr;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0) snprintf(out, n, "uid:%u", (unsigned)cr.uid);
        else snprintf(out, n, "unix");
        return;
    }
    snprintf(out, n, "%s", peer);
    char *colon = strrchr(out, ':');
    if (colon) *colon = '\0';   /* "1.2.3.4:5678" → "1.2.3.4", "[::1]:5678" → "[::1]" */
}

static int addr_count(const struct ipc_server *s, const char *key)
{
    int n = 0;
    for (const struct conn *c = s->conns; c; c = c->next) n += !strcmp(c->addr, key);
    return n;
}

/* Out of file descriptors: the kernel keeps the peers queued and the listener stays
 * readable, so without this the loop would spin logging EMFILE. The spare descriptor
 * is given up to accept (and close) one peer, and accepting rests a moment. */
static void out_of_fds(struct ipc_server *s, int lfd)
{
    s->st.refused_fds++;
    if (s->spare_fd >= 0) {
        close(s->spare_fd);
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) close(fd);
        s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    s->paused_until = ev_now_ms() + FD_PAUSE_MS;
    if (s->tcp_fd >= 0) ev_mod(s->loop, s->tcp_fd, 0);
    if (s->unix_fd >= 0) ev_mod(s->loop, s->unix_fd, 0);
    refusal(s, REF_FDS, "refused a connection: out of file descriptors (%s); accepting rests %d ms", strerror(EMFILE),
            FD_PAUSE_MS);
}

static void on_accept(struct ev_loop *loop, int lfd, unsigned ev, void *arg)
{
    struct ipc_server *s = arg;
    (void)ev;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage a;
        socklen_t al = sizeof a;
        int fd = accept4(lfd, (struct sockaddr *)&a, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) out_of_fds(s, lfd);
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                refusal(s, REF_OTHER, "accept: %s", strerror(errno));
            return;
        }
        char peer[80], key[80];
        describe(&a, peer, sizeof peer);
        addr_key(fd, &a, peer, key, sizeof key);
        if (s->st.conns >= (uint64_t)s->o.max_conns) {
            s->st.refused_full++;
            refusal(s, REF_FULL, "refused %s: %d connections already open (the limit)", peer, s->o.max_conns);
            close(fd);
            continue;
        }
        int from = addr_count(s, key);
        if (from >= s->o.max_per_addr) {
            s->st.refused_addr++;
            refusal(s, REF_ADDR, "refused %s: %d connections already open from %s (the limit per address)", peer, from, key);
            close(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        struct smfs_err err;
        if (!c) {
            logf_(s, IPC_LOG_ERROR, "refused %s: out of memory", peer);
            close(fd);
            continue;
        }
        int one = 1;
        if (a.ss_family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->srv = s;
        c->fd = fd;
        c->id = ++s->next_id;
        c->local = ipc_peer_local((const struct sockaddr *)&a);
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        snprintf(c->addr, sizeof c->addr, "%s", key);
        c->deadline = ev_now_ms() + s->o.handshake_ms;
        buf_init(&c->out, (size_t)UINT32_MAX * 2);
        buf_init(&c->in, 0);
        if (ev_add(loop, fd, EV_READ, conn_io, c, &err)) {
            logf_(s, IPC_LOG_ERROR, "refused %s: %s", peer, err.msg);
            close(fd);
            conn_free(c);
            continue;
        }
        c->next = s->conns;
        s->conns = c;
        s->st.conns++;
        s->st.accepted++;
    }
}

/* Drop logins and messages that stopped making progress, and idle connections; let
 * a paused listener accept again; say how many refusals went unlogged. */
static int64_t sweep(struct ev_loop *loop, void *arg)
{
    struct ipc_server *s = arg;
    int64_t now = ev_now_ms();
    (void)loop;
    for (struct conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (!c->deadline || now < c->deadline) continue;
        if (c->st == LOGIN) {
            conn_kill(c, true, "no login within %d ms", s->o.handshake_ms);
        } else if (c->st == HEADER && c->hdrlen == 0) {
            s->st.idle_closed++;
            conn_kill(c, false, "idle for %d s (no message; a registered connection is kept)", s->o.idle_ms / 1000);
        } else {
            conn_kill(c, true, "message too slow: not whole %d ms after its first byte (%u bytes, %zu arrived)",
                      s->o.stall_ms, c->h.len, c->in.len);
        }
    }
    if (s->paused_until && now >= s->paused_until) {
        s->paused_until = 0;
        if (s->tcp_fd >= 0) ev_mod(s->loop, s->tcp_fd, EV_READ);
        if (s->unix_fd >= 0) ev_mod(s->loop, s->unix_fd, EV_READ);
    }
    for (int k = 0; k < 4; k++)
        if (now >= s->rlog[k].until) refusal_flush(s, (enum refusal)k);
    reap(s);
    return SWEEP_MS;
}

static int listen_tcp(struct ipc_server *s, struct smfs_err *err)
{
    char port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    const char *host = s->o.host ? s->o.host : "127.0.0.1";
    snprintf(port, sizeof port, "%d", s->o.port);
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) return err_set(err, -EADDRNOTAVAIL, "q IPC listener: address '%s': %s", host, gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        rc = err_sys(err, "socket", NULL);
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        rc = err_set(err, -errno, "q IPC listener: bind/listen %s:%d: %s", host, s->o.port, strerror(errno));
        close(fd);
        goto out;
    }
    struct sockaddr_storage a;
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
                                           : ((struct sockaddr_in6 *)&a)->sin6_port);
    s->tcp_fd = fd;
    rc = ev_add(s->loop, fd, EV_READ, on_accept, s, err);
out:
    freeaddrinfo(ai);
    return rc;
}

static int listen_unix(struct ipc_server *s, const char *path, struct smfs_err *err)
{
    gid_t gid = (gid_t)-1;
    if (s->o.unix_chgrp) gid = s->o.unix_gid;
    int fd, rc = sock_listen_unix(path, "q IPC socket", s->o.unix_mode, gid, &fd, err);
    if (rc) return rc;
    s->unix_fd = fd;
    s->unix_path = strdup(path);
    if (!s->unix_path) return err_set(err, -ENOMEM, "out of memory");
    return ev_add(s->loop, fd, EV_READ, on_accept, s, err);
}

int ipc_server_new(struct ev_loop *loop, const struct ipc_server_opts *o, struct ipc_server **out,
                   struct smfs_err *err)
{
    struct ipc_server *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s) return err_set(err, -ENOMEM, "q IPC server: out of memory");
    s->loop = loop;
    s->o = *o;
    s->tcp_fd = s->unix_fd = s->port = -1;
    s->sweep = -1;
    if (!s->o.max_msg) s->o.max_msg = MSG_AUTH_DFLT;
    if (s->o.max_msg > UINT32_MAX / 2) s->o.max_msg = UINT32_MAX / 2;
    if (!s->o.max_msg_anon) s->o.max_msg_anon = MSG_ANON_DFLT;
    if (s->o.max_msg_anon > s->o.max_msg) s->o.max_msg_anon = s->o.max_msg;
    if (!s->o.max_buffered) s->o.max_buffered = BUFFERED_DFLT;
    if (!s->o.max_conns) s->o.max_conns = 256;
    if (!s->o.max_per_addr) s->o.max_per_addr = s->o.max_conns / 2 ? s->o.max_conns / 2 : 1;
    if (!s->o.handshake_ms) s->o.handshake_ms = 5000;
    if (!s->o.stall_ms) s->o.stall_ms = 60000;
    if (!s->o.idle_ms) s->o.idle_ms = IDLE_DFLT_MS;
    if (!s->o.max_out) s->o.max_out = 2 * s->o.max_msg;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s->o.user_file = NULL;   /* not kept: only the parsed entries are */
    s->o.unix_path = NULL;   /* kept as s->unix_path once bound */
    int rc = 0;
    if (o->user_file) rc = ipc_auth_load(o->user_file, &s->auth, err);
    if (!rc && o->port >= 0) rc = listen_tcp(s, err);
    if (!rc && o->unix_path) rc = listen_unix(s, o->unix_path, err);
    if (!rc && (s->sweep = ev_timer_add(loop, SWEEP_MS, sweep, s)) < 0) rc = err_set(err, -ENOMEM, "out of memory");
    if (!rc && s->tcp_fd < 0 && s->unix_fd < 0)
        rc = err_set(err, -EINVAL, "q IPC server: neither a TCP port nor a Unix socket given");
    if (rc) {
        ipc_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void ipc_server_free(struct ipc_server *s)
{
    if (!s) return;
    while (s->conns) conn_kill(s->conns, false, "server shutting down");
    reap(s);
    if (s->tcp_fd >= 0) {
        ev_del(s->loop, s->tcp_fd);
        close(s->tcp_fd);
    }
    if (s->unix_fd >= 0) {
        ev_del(s->loop, s->unix_fd);
        close(s->unix_fd);
        if (!sock_abstract(s->unix_path)) unlink(s->unix_path);
    }
    if (s->sweep > 0) ev_timer_del(s->loop, s->sweep);
    if (s->spare_fd >= 0) close(s->spare_fd);
    for (size_t i = 0; i < s->nh; i++) free(s->h[i].name);
    free(s->h);
    free(s->unix_path);
    ipc_auth_free(s->auth);
    free(s);
}

int ipc_server_handle(struct ipc_server *s, const char *name, ipc_handler_fn *fn, void *arg)
{
    struct handler *h = find_handler(s, name);
    if (h) {
        h->fn = fn;
        h->arg = arg;
        return 0;
    }
    struct handler *nh = realloc(s->h, (s->nh + 1) * sizeof *nh);
    if (!nh) return -ENOMEM;
    s->h = nh;
    nh[s->nh].name = strdup(name);
    if (!nh[s->nh].name) return -ENOMEM;
    nh[s->nh].fn = fn;
    nh[s->nh].arg = arg;
    s->nh++;
    return 0;
}

void ipc_server_on_close(struct ipc_server *s, ipc_close_fn *fn, void *arg)
{
    s->on_close = fn;
    s->close_arg = arg;
}

void ipc_server_on_response(struct ipc_server *s, ipc_response_fn *fn, void *arg)
{
    s->on_response = fn;
    s->response_arg = arg;
}

int ipc_server_port(const struct ipc_server *s)
{
    return s->port;
}

int ipc_server_send(struct ipc_server *s, uint64_t id, enum ipc_type type, const struct k *x,
                    struct smfs_err *err)
{
    struct conn *c = conn_find(s, id);
    if (!c || c->st == LOGIN)
        return err_set(err, -ENOTCONN, "connection %llu is closed", (unsigned long long)id);
    return conn_send(c, type, x, err);
}

void ipc_server_close_conn(struct ipc_server *s, uint64_t id)
{
    struct conn *c = conn_find(s, id);
    if (c) conn_kill(c, false, "closed by smfs");
}

void ipc_server_stats(const struct ipc_server *s, struct ipc_stats *st)
{
    *st = s->st;
}

void ipc_server_keep(struct ipc_server *s, uint64_t conn, bool keep)
{
    struct conn *c = conn_find(s, conn);
    if (!c) return;
    c->keep = keep;
    if (c->st == HEADER && c->hdrlen == 0) c->deadline = keep ? 0 : ev_now_ms() + s->o.idle_ms;
}
