/* ipc/http.c: see http.h. */
#include "ipc/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/buf.h"

struct http {
    struct ev_loop   *loop;
    struct MHD_Daemon *d;
    int               epfd;
    int64_t           timer;
    http_handler_fn  *fn;
    void             *arg;
    struct http_opts  o;
    struct http_stats st;
};

/* One request while its body arrives. */
struct req_state {
    struct buf body;
    bool       too_large;
};

static void run(struct http *h);

static int64_t on_timer(struct ev_loop *loop, void *arg)
{
    (void)loop;
    struct http *h = arg;
    h->timer = 0;
    run(h);
    return -1;
}

/* Let MHD do what is ready, then sleep until its next deadline (idle connections). */
static void run(struct http *h)
{
    MHD_run(h->d);
    MHD_UNSIGNED_LONG_LONG ms = 1000;
    if (MHD_get_timeout(h->d, &ms) != MHD_YES || ms > 1000) ms = 1000;
    if (h->timer) ev_timer_del(h->loop, h->timer);
    h->timer = ev_timer_add(h->loop, (int64_t)ms, on_timer, h);
    if (h->timer < 0) h->timer = 0;
}

static void on_epoll(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop, (void)fd, (void)events;
    run(arg);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct http_resp *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"",
                                                                r->body ? MHD_RESPMEM_MUST_FREE
                                                                        : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype ? r->ctype : "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void peer_of(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr, ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                              : sizeof(struct sockaddr_in),
                    host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(out, n, "%s:%s", host, port);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct http *h = cls;
    struct req_state *rs = *con_cls;
    if (!rs) {   /* headers only so far: set up for the body */
        if (!(rs = calloc(1, sizeof *rs))) return MHD_NO;
        buf_init(&rs->body, h->o.max_body);
        *con_cls = rs;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rs->too_large && buf_append(&rs->body, upload, *upload_size)) rs->too_large = true;
        *upload_size = 0;
        return MHD_YES;
    }
    h->st.requests++;
    struct http_resp r = {.status = 500};
    if (rs->too_large) {
        h->st.too_large++;
        char *b = NULL;
        int n = asprintf(&b, "{\"error\":\"request body over %zu bytes\"}", h->o.max_body);
        r = (struct http_resp){.status = 413, .body = n < 0 ? NULL : b, .len = n < 0 ? 0 : (size_t)n};
        return send_resp(conn, &r);
    }
    if (buf_put_u8(&rs->body, 0)) return MHD_NO;
    char peer[INET6_ADDRSTRLEN + 8];
    peer_of(conn, peer, sizeof peer);
    struct http_req q = {.method = method, .path = url, .body = (const char *)rs->body.p,
                         .len = rs->body.len - 1, .peer = peer};
    h->fn(h->arg, &q, &r);
    return send_resp(conn, &r);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct req_state *rs = *con_cls;
    if (!rs) return;
    buf_release(&rs->body);
    free(rs);
    *con_cls = NULL;
}

int http_new(struct ev_loop *loop, const struct http_opts *o, http_handler_fn *fn, void *arg,
             struct http **out, struct smfs_err *err)
{
    struct http *h = calloc(1, sizeof *h);
    if (!h) return err_set(err, -ENOMEM, "http: out of memory");
    h->loop = loop;
    h->fn = fn;
    h->arg = arg;
    h->o = *o;
    if (!h->o.max_body) h->o.max_body = 64 << 10;
    if (!h->o.max_conns) h->o.max_conns = 128;
    if (!h->o.idle_s) h->o.idle_s = 10;
    if (!h->o.max_per_ip) h->o.max_per_ip = h->o.max_conns / 4 ? h->o.max_conns / 4 : 1;
    h->epfd = -1;
    const char *host = o->host ? o->host : "127.0.0.1";

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_PASSIVE}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai) {
        free(h);
        return err_set(err, -EINVAL, "--http: '%s' is not a numeric address: %s", host, gai_strerror(gai));
    }
    unsigned flags = MHD_USE_EPOLL | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, h,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_LIMIT, h->o.max_conns,
                            /* One address may not take every connection (slowloris): the
                             * rest stay for everyone else. */
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->o.max_per_ip,
                            MHD_OPTION_CONNECTION_TIMEOUT, h->o.idle_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 << 10),
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, h,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        int e = errno ? errno : EADDRINUSE;
        free(h);
        return err_set(err, -e, "http: cannot listen on %s:%d: %s", host, o->port, strerror(e));
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    h->epfd = di ? di->epoll_fd : -1;
    int rc = h->epfd < 0 ? err_set(err, -ENOSYS, "http: libmicrohttpd has no epoll support")
                         : ev_add(loop, h->epfd, EV_READ, on_epoll, h, err);
    if (rc) {
        MHD_stop_daemon(h->d);
        free(h);
        return rc;
    }
    run(h);
    *out = h;
    return 0;
}

void http_free(struct http *h)
{
    if (!h) return;
    if (h->timer) ev_timer_del(h->loop, h->timer);
    if (h->epfd >= 0) ev_del(h->loop, h->epfd);
    MHD_stop_daemon(h->d);
    free(h);
}

int http_port(const struct http *h)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}

void http_stats(const struct http *h, struct http_stats *st)
{
    *st = h->st;
}
