/* ipc/http.h: a small HTTP/1.1 server on an ev loop, for smfs's REST API and metrics.
 * libmicrohttpd does the protocol (parsing, keep-alive, limits, timeouts); it runs in
 * its "external epoll" mode, so its one epoll fd sits in our loop and no thread of
 * its own is started.
 * Owns:    the MHD daemon and its sockets, request bodies while they arrive.
 * Never:   blocks the loop (handlers answer at once); accepts a body over max_body
 *          (413), a connection over max_conns or over max_per_ip from one address, or a
 *          request that takes more than 32 KiB of memory; binds beyond loopback unless
 *          asked.
 * Threads: the loop's thread only.
 * Sequence: http_new → ev_run(loop) … → http_free (before the loop is freed).
 * Errors:  0 or -errno with *err filled. */
#ifndef SMFS_HTTP_H
#define SMFS_HTTP_H

#include <stddef.h>

#include "core/err.h"
#include "ipc/ev.h"

struct http_req {
    const char *method, *path;    /* path without the query string */
    const char *body;             /* NUL-terminated, may be "" */
    size_t      len;
    const char *peer;             /* "127.0.0.1:43122" */
};

struct http_resp {
    int         status;
    const char *ctype;            /* NULL: application/json */
    char       *body;             /* malloc'd; the server frees it */
    size_t      len;
};

/* Fill *resp for REQ. A handler that leaves resp->body NULL sends an empty body. */
typedef void http_handler_fn(void *arg, const struct http_req *req, struct http_resp *resp);

struct http_opts {
    const char *host;             /* bind address; NULL: 127.0.0.1 */
    int         port;             /* 0: any free port (http_port says which) */
    size_t      max_body;         /* 0: 64 KiB */
    unsigned    max_conns;        /* 0: 128 */
    unsigned    max_per_ip;       /* 0: max_conns / 4: connections from one address */
    unsigned    idle_s;           /* 0: 10 s: a connection silent this long is closed */
};

struct http_stats {
    unsigned long long requests, too_large;
};

struct http;

int http_new(struct ev_loop *loop, const struct http_opts *o, http_handler_fn *fn, void *arg,
             struct http **out, struct smfs_err *err) __attribute__((warn_unused_result));
void http_free(struct http *h);
int http_port(const struct http *h);
void http_stats(const struct http *h, struct http_stats *st);

#endif
