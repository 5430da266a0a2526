/* ipc/admin.c: see admin.h. */
#include "ipc/admin.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "ipc/sock.h"

struct admin;

struct aconn {
    struct admin *a;
    uint64_t      id;
    int           fd;
    struct buf    in, out;
    size_t        sent;
    bool          asked;       /* the handler has the request: read no more */
    struct aconn *next;
};

struct admin {
    struct ev_loop *loop;
    int             fd;
    char           *path;
    admin_fn       *fn;
    void           *arg;
    uint64_t        next_id;
    struct aconn   *conns;
};

json_t *admin_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_scrub(msg);   /* a name from the request, cut at a byte count, must stay JSON */
    return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

json_t *admin_str(const char *s)
{
    return s ? admin_strn(s, strlen(s)) : NULL;
}

json_t *admin_strn(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j || !s) return j;
    char *t = malloc(n + 1);
    if (!t) return NULL;
    for (size_t i = 0; i < n; i++) t[i] = s[i] ? s[i] : '?';
    t[n] = 0;
    err_scrub(t);
    j = json_stringn(t, n);
    free(t);
    return j;
}

static void conn_close(struct aconn *c)
{
    struct admin *a = c->a;
    for (struct aconn **pp = &a->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    ev_del(a->loop, c->fd);
    close(c->fd);
    buf_release(&c->in);
    buf_release(&c->out);
    free(c);
}

static void flush_out(struct aconn *c)
{
    while (c->sent < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            ev_mod(c->a->loop, c->fd, EV_WRITE);
            return;
        }
        if (w <= 0) break;   /* the client went away: nothing more to say */
        c->sent += (size_t)w;
    }
    conn_close(c);
}

void admin_reply(struct admin *a, uint64_t req, json_t *reply)
{
    struct aconn *c = a->conns;
    while (c && c->id != req) c = c->next;
    if (!reply) reply = admin_error("out of memory");
    if (!c || !reply) {
        json_decref(reply);
        return;
    }
    c->asked = true;
    char *s = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    if (!s || buf_append(&c->out, s, strlen(s)) || buf_append(&c->out, "\n", 1)) {
        free(s);
        conn_close(c);
        return;
    }
    free(s);
    flush_out(c);
}

static void handle(struct aconn *c)
{
    struct admin *a = c->a;
    json_error_t je;
    json_t *req = json_loadb((const char *)c->in.p, c->in.len, 0, &je);
    const char *cmd = NULL;
    if (!req) {
        admin_reply(a, c->id, admin_error("request is not JSON: %s (line %d, column %d)",
                                          je.text, je.line, je.column));
        return;
    }
    if (!json_is_object(req) || !(cmd = json_string_value(json_object_get(req, "cmd")))) {
        json_decref(req);
        admin_reply(a, c->id, admin_error("request must be a JSON object with a string \"cmd\""));
        return;
    }
    c->asked = true;
    ev_mod(a->loop, c->fd, 0);
    a->fn(a, c->id, cmd, req, a->arg);
    json_decref(req);
}

static void on_conn(struct ev_loop *loop, int fd, unsigned ev, void *arg)
{
    (void)loop, (void)fd;
    struct aconn *c = arg;
    if (ev & EV_WRITE) {
        flush_out(c);
        return;
    }
    if (c->asked) return;
    for (;;) {
        if (buf_reserve(&c->in, 4096)) {
            admin_reply(c->a, c->id, admin_error("out of memory"));
            return;
        }
        ssize_t n = recv(c->fd, c->in.p + c->in.len, 4096, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        uint8_t *nl = memchr(c->in.p + c->in.len, '\n', (size_t)n);
        c->in.len += (size_t)n;
        if (nl) {
            c->in.len = (size_t)(nl - c->in.p);
            handle(c);
            return;
        }
        if (c->in.len > ADMIN_REQ_MAX) {
            admin_reply(c->a, c->id, admin_error("request longer than %u bytes", ADMIN_REQ_MAX));
            return;
        }
    }
}

/* The socket's mode (0600) keeps other users out, until someone loosens it (a umask, an
 * ACL, a chmod to let a monitoring user in): the kernel's word on who connected is
 * checked too. smfs's own user and root may drive the daemon; anyone else is told why
 * and closed, before a byte of theirs is read. */
static bool peer_may_admin(int fd)
{
    struct ucred cr;
    socklen_t l = sizeof cr;
    uid_t me = geteuid();
    bool known = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0;
    if (known && (cr.uid == me || cr.uid == 0)) return true;
    char msg[200];
    int n = known ? snprintf(msg, sizeof msg,
                             "{\"ok\":false,\"error\":\"admin socket: uid %u may not drive this smfs (only uid %u "
                             "or root)\"}\n", (unsigned)cr.uid, (unsigned)me)
                  : snprintf(msg, sizeof msg, "{\"ok\":false,\"error\":\"admin socket: the peer's uid is unknown\"}\n");
    if (n > 0) (void)!write(fd, msg, (size_t)n);   /* best effort: the socket is new and empty */
    close(fd);
    return false;
}

static void on_accept(struct ev_loop *loop, int lfd, unsigned ev, void *arg)
{
    (void)ev;
    struct admin *a = arg;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;   /* EAGAIN, or out of fds: try again at the next event */
        if (!peer_may_admin(fd)) continue;
        struct aconn *c = calloc(1, sizeof *c);
        struct smfs_err e;
        if (!c) {
            close(fd);
            continue;
        }
        c->a = a;
        c->fd = fd;
        c->id = ++a->next_id;
        buf_init(&c->in, ADMIN_REQ_MAX + 4096);
        buf_init(&c->out, 64u << 20);
        if (ev_add(loop, fd, EV_READ, on_conn, c, &e)) {
            close(fd);
            free(c);
            continue;
        }
        c->next = a->conns;
        a->conns = c;
    }
}

int admin_new(struct ev_loop *loop, const char *path, admin_fn *fn, void *arg,
              struct admin **out, struct smfs_err *err)
{
    struct admin *a = calloc(1, sizeof *a);
    if (!a) return err_set(err, -ENOMEM, "out of memory");
    a->loop = loop;
    a->fn = fn;
    a->arg = arg;
    a->fd = -1;
    int rc = sock_listen_unix(path, "admin socket", 0600, (gid_t)-1, &a->fd, err);
    if (!rc && !(a->path = strdup(path))) rc = err_set(err, -ENOMEM, "out of memory");
    if (!rc) rc = ev_add(loop, a->fd, EV_READ, on_accept, a, err);
    if (rc) {
        admin_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void admin_free(struct admin *a)
{
    if (!a) return;
    while (a->conns) conn_close(a->conns);
    if (a->fd >= 0) {
        ev_del(a->loop, a->fd);
        close(a->fd);
    }
    if (a->path) unlink(a->path);
    free(a->path);
    free(a);
}

int admin_call(const char *path, json_t *request, json_t **reply, struct smfs_err *err)
{
    return admin_call_tick(path, request, reply, 0, NULL, NULL, err);
}

int admin_call_tick(const char *path, json_t *request, json_t **reply, int tick_ms,
                    void (*tick)(void *arg), void *arg, struct smfs_err *err)
{
    int fd, rc = sock_connect_unix(path, "admin socket", &fd, err);
    if (rc) return rc;
    char *s = json_dumps(request, JSON_COMPACT);
    struct buf in;
    buf_init(&in, 64u << 20);
    if (!s) {
        close(fd);
        return err_set(err, -ENOMEM, "out of memory");
    }
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t w = send(fd, s + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = err_sys(err, "send", path);
            break;
        }
        off += (size_t)w;
    }
    free(s);
    if (!rc && send(fd, "\n", 1, MSG_NOSIGNAL) != 1) rc = err_sys(err, "send", path);
    while (!rc) {
        if (tick) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int pr = poll(&pfd, 1, tick_ms);
            if (pr < 0 && errno == EINTR) continue;
            if (pr == 0) {
                tick(arg);
                continue;
            }
        }
        if (buf_reserve(&in, 65536)) {
            rc = err_set(err, -E2BIG, "admin socket '%s': reply too long", path);
            break;
        }
        ssize_t n = recv(fd, in.p + in.len, 65536, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = err_sys(err, "recv", path);
        if (n <= 0) break;
        in.len += (size_t)n;
    }
    close(fd);
    if (!rc && in.len == 0) {
        rc = err_set(err, -ECONNRESET, "admin socket '%s': the daemon closed the connection without answering "
                     "(it stopped or died)", path);
    } else if (!rc) {
        json_error_t je;
        *reply = json_loadb((const char *)in.p, in.len, 0, &je);
        if (!*reply)
            rc = err_set(err, -EPROTO, "admin socket '%s': the reply is not JSON (%s)%s", path,
                         je.text, in.len ? "" : ": the daemon closed the connection");
    }
    buf_release(&in);
    return rc;
}

int admin_default_path(const struct cfg *c, char *buf, size_t n, struct smfs_err *err)
{
    const char *env = getenv("SMFS_ADMIN");
    int l;
    if (env && *env) l = snprintf(buf, n, "%s", env);
    else if (c && c->ndate && c->date_tiers[0]->store.path)
        l = snprintf(buf, n, "%s/%s", c->date_tiers[0]->store.path, ADMIN_SOCK);
    else return err_set(err, -EINVAL, "no admin socket: the assembly has no local date tier (set SMFS_ADMIN)");
    if (l < 0 || (size_t)l >= n) return err_set(err, -ENAMETOOLONG, "admin socket path too long");
    return 0;
}
