/* ipc/http_post.h: JSON POSTs to URLs that smfs calls (REST reload callbacks), run by
 * libcurl's multi interface on an ev loop: many at once, none blocking the loop.
 * A request that fails (no connection, a timeout, an HTTP status >= 500) is tried
 * again after a growing pause, up to `tries` times in all; a 4xx is final.
 * Owns:    the curl multi handle, every request in flight and its body.
 * Never:   blocks; follows redirects; waits for one request longer than timeout_ms.
 * Threads: the loop's thread only. curl_global_init must have run in main first.
 * Sequence: http_post_new → http_post … → http_post_free (abandons what is in flight;
 *          their done callbacks are not called).
 * Errors:  0 or -errno with *err filled. */
#ifndef SMFS_HTTP_POST_H
#define SMFS_HTTP_POST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "ipc/ev.h"

struct http_post;

/* The outcome of a request after its last try: OK when a 2xx came back; STATUS the
 * last HTTP status (0: none); WHY says what went wrong. */
typedef void http_post_done_fn(void *arg, uint64_t tag, bool ok, long status, const char *why);

struct http_post_opts {
    int timeout_ms;     /* per try; 0: 5000 */
    int tries;          /* 0: 3 */
    int backoff_ms;     /* first pause, doubled each time; 0: 250 */
    int max_active;     /* transfers at once, the rest wait their turn; 0: 32 */
};

struct http_post_stats {
    uint64_t started, succeeded, failed, retries, in_flight;
    uint64_t queued;    /* requests that waited for a free slot */
};

int http_post_new(struct ev_loop *loop, const struct http_post_opts *o, http_post_done_fn *done,
                  void *arg, struct http_post **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void http_post_free(struct http_post *p);

/* POST BODY (JSON, copied) to URL; DONE(arg, TAG, …) later. */
int http_post(struct http_post *p, const char *url, const char *body, uint64_t tag,
              struct smfs_err *err) __attribute__((warn_unused_result));

void http_post_stats(const struct http_post *p, struct http_post_stats *st);

#endif
