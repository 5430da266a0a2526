/* ipc/ipc_client.c: connect (TCP or Unix), handshake, sync call, async send, receive.
 * The socket is non-blocking and every wait goes through poll with the remaining
 * time, so no call outlives its timeout. */
#include "ipc/ipc_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/ev.h"
#include "ipc/sock.h"

struct queued {
    struct k      *x;
    enum ipc_type  type;
    struct queued *next;
};

struct ipc_client {
    int            fd;
    int            cap;
    bool           broken;     /* after a timeout or a protocol error */
    bool           local;
    size_t         max_msg;
    char           target[256];
    struct queued *q, *qtail;
};

static int remaining(int64_t deadline)
{
    if (deadline < 0) return -1;
    int64_t r = deadline - ev_now_ms();
    return r < 0 ? 0 : r > INT32_MAX ? INT32_MAX : (int)r;
}

static int wait_fd(struct ipc_client *c, short what, int64_t deadline, struct smfs_err *err)
{
    struct pollfd p = {.fd = c->fd, .events = what};
    for (;;) {
        int n = poll(&p, 1, remaining(deadline));
        if (n > 0) return 0;
        if (n == 0) {
            c->broken = true;
            return err_set(err, -ETIMEDOUT, "'%s': timed out", c->target);
        }
        if (errno != EINTR) return err_sys(err, "poll", c->target);
    }
}

static int write_all(struct ipc_client *c, const uint8_t *p, size_t n, int64_t deadline, struct smfs_err *err)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c, POLLOUT, deadline, err);
            if (rc) return rc;
            continue;
        }
        c->broken = true;
        return err_set(err, -ECONNRESET, "'%s': send: %s", c->target, strerror(errno));
    }
    return 0;
}

static int read_all(struct ipc_client *c, uint8_t *p, size_t n, int64_t deadline, struct smfs_err *err)
{
    while (n) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == 0) {
            c->broken = true;
            return err_set(err, -ECONNRESET, "'%s': connection closed by the peer", c->target);
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(c, POLLIN, deadline, err);
            if (rc) return rc;
            continue;
        }
        c->broken = true;
        return err_set(err, -ECONNRESET, "'%s': recv: %s", c->target, strerror(errno));
    }
    return 0;
}

/* Connect the non-blocking socket FD to A, waiting at most until DEADLINE. */
static int connect_to(struct ipc_client *c, const struct sockaddr *a, socklen_t al, int64_t deadline,
                      struct smfs_err *err)
{
    if (connect(c->fd, a, al) == 0) return 0;
    if (errno != EINPROGRESS && errno != EAGAIN)
        return err_set(err, -errno, "connect to '%s': %s", c->target, strerror(errno));
    int rc = wait_fd(c, POLLOUT, deadline, err);
    if (rc) return rc;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) return err_set(err, -soerr, "connect to '%s': %s", c->target, strerror(soerr));
    return 0;
}

static int open_socket(struct ipc_client *c, const char *target, int64_t deadline, struct smfs_err *err)
{
    if (!strncmp(target, "unix:", 5)) {
        struct sockaddr_un a;
        socklen_t alen;
        int rc = sock_addr_unix(target + 5, "q IPC socket", &a, &alen, err);
        if (rc) return rc;
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) return err_sys(err, "socket", target);
        c->local = true;
        return connect_to(c, (struct sockaddr *)&a, alen, deadline, err);
    }
    const char *colon = strrchr(target, ':');
    if (!colon || !colon[1])
        return err_set(err, -EINVAL, "'%s': expected host:port, :port or unix:/path", target);
    char host[200];
    snprintf(host, sizeof host, "%.*s", (int)(colon - target), target);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host[0] ? host : "localhost", colon + 1, &hints, &ai);
    if (g) return err_set(err, -EHOSTUNREACH, "'%s': %s", target, gai_strerror(g));
    int rc = -ECONNREFUSED;
    for (struct addrinfo *p = ai; p; p = p->ai_next) {
        c->fd = socket(p->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            rc = err_sys(err, "socket", target);
            continue;
        }
        rc = connect_to(c, p->ai_addr, p->ai_addrlen, deadline, err);
        if (rc == 0) {
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->local = ipc_peer_local(p->ai_addr);
            break;
        }
        close(c->fd);
        c->fd = -1;
        if (rc == -ETIMEDOUT) break;
    }
    freeaddrinfo(ai);
    return rc;
}

int ipc_client_connect(const char *target, const char *creds, int timeout_ms,
                       struct ipc_client **out, struct smfs_err *err)
{
    struct ipc_client *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) return err_set(err, -ENOMEM, "out of memory");
    c->fd = -1;
    c->max_msg = IPC_MAX_MSG_DFLT;
    snprintf(c->target, sizeof c->target, "%s", target);
    int64_t deadline = timeout_ms < 0 ? -1 : ev_now_ms() + timeout_ms;
    int rc = open_socket(c, target, deadline, err);
    if (rc) goto fail;
    size_t cl = creds ? strlen(creds) : 0;
    uint8_t hs[1100];
    if (cl > 1024) {
        rc = err_set(err, -EINVAL, "'%s': credentials longer than 1024 bytes", target);
        goto fail;
    }
    if (cl) memcpy(hs, creds, cl);
    hs[cl] = IPC_CAP;
    hs[cl + 1] = 0;
    rc = write_all(c, hs, cl + 2, deadline, err);
    if (rc) goto fail;
    uint8_t cap;
    rc = read_all(c, &cap, 1, deadline, err);
    if (rc == -ECONNRESET) {
        rc = err_set(err, -EACCES, "'%s': login refused (the server closed the connection)", target);
        goto fail;
    }
    if (rc) goto fail;
    c->cap = cap;
    *out = c;
    return 0;
fail:
    ipc_client_close(c);
    return rc;
}

void ipc_client_close(struct ipc_client *c)
{
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    while (c->q) {
        struct queued *n = c->q->next;
        k_free(c->q->x);
        free(c->q);
        c->q = n;
    }
    free(c);
}

int ipc_client_cap(const struct ipc_client *c)
{
    return c->cap;
}

void ipc_client_set_max_msg(struct ipc_client *c, size_t max)
{
    c->max_msg = max;
}

static int send_msg(struct ipc_client *c, const struct k *x, enum ipc_type type, int64_t deadline,
                    struct smfs_err *err)
{
    if (c->broken) return err_set(err, -ENOTCONN, "'%s': connection unusable after an earlier error", c->target);
    struct buf b;
    buf_init(&b, (size_t)UINT32_MAX);
    int rc = ipc_encode(x, type, c->cap >= 1 && !c->local, &b, err);
    if (!rc) rc = write_all(c, b.p, b.len, deadline, err);
    buf_release(&b);
    return rc;
}

/* Read one whole message. */
static int read_msg(struct ipc_client *c, int64_t deadline, struct k **x, enum ipc_type *type,
                    struct smfs_err *err)
{
    uint8_t h[IPC_HDR];
    struct ipc_hdr hd;
    int rc = read_all(c, h, IPC_HDR, deadline, err);
    if (rc) return rc;
    rc = ipc_hdr_parse(h, c->max_msg, &hd, err);
    if (rc) {
        c->broken = true;
        return err_wrap(err, "'%s'", c->target);
    }
    uint8_t *m = malloc(hd.len);
    if (!m) return err_set(err, -ENOMEM, "'%s': out of memory for a %u-byte message", c->target, hd.len);
    memcpy(m, h, IPC_HDR);
    rc = read_all(c, m + IPC_HDR, hd.len - IPC_HDR, deadline, err);
    if (!rc) {
        rc = ipc_decode(m, hd.len, c->max_msg, x, type, err);
        if (rc) {
            c->broken = true;
            err_wrap(err, "'%s'", c->target);
        }
    }
    free(m);
    return rc;
}

int ipc_client_call(struct ipc_client *c, const struct k *x, int timeout_ms, struct k **result,
                    struct smfs_err *err)
{
    int64_t deadline = timeout_ms < 0 ? -1 : ev_now_ms() + timeout_ms;
    *result = NULL;
    int rc = send_msg(c, x, IPC_SYNC, deadline, err);
    if (rc) return rc;
    for (;;) {
        struct k *m = NULL;
        enum ipc_type t;
        rc = read_msg(c, deadline, &m, &t, err);
        if (rc) return rc;
        if (t == IPC_RESPONSE) {
            *result = m;
            if (m->t == KT_ERROR) return err_set(err, -EREMOTEIO, "'%s", m->u.s ? m->u.s : "");
            return 0;
        }
        /* The peer's own messages that arrive meanwhile are kept, in order. */
        struct queued *q = malloc(sizeof *q);
        if (!q) {
            k_free(m);
            return err_set(err, -ENOMEM, "out of memory");
        }
        *q = (struct queued){m, t, NULL};
        if (c->qtail) c->qtail->next = q;
        else c->q = q;
        c->qtail = q;
    }
}

int ipc_client_send(struct ipc_client *c, const struct k *x, struct smfs_err *err)
{
    return send_msg(c, x, IPC_ASYNC, -1, err);
}

int ipc_client_recv(struct ipc_client *c, int timeout_ms, struct k **msg, enum ipc_type *type,
                    struct smfs_err *err)
{
    if (c->q) {
        struct queued *q = c->q;
        c->q = q->next;
        if (!c->q) c->qtail = NULL;
        *msg = q->x;
        *type = q->type;
        free(q);
        return 0;
    }
    if (c->broken) return err_set(err, -ENOTCONN, "'%s': connection unusable after an earlier error", c->target);
    return read_msg(c, timeout_ms < 0 ? -1 : ev_now_ms() + timeout_ms, msg, type, err);
}

int ipc_client_send_raw(struct ipc_client *c, const void *p, size_t n, struct smfs_err *err)
{
    return write_all(c, p, n, -1, err);
}

int ipc_client_fd(const struct ipc_client *c)
{
    return c->fd;
}

bool ipc_client_queued(const struct ipc_client *c)
{
    return c->q != NULL;
}
