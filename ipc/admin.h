/* ipc/admin.h: the admin protocol smctl speaks to a running smfs over a Unix socket
 * (mode 0600; a peer whose uid is neither ours nor root is refused by SO_PEERCRED).
 * One request per connection: a JSON object on one line with "cmd" and its arguments;
 * one JSON object back on one line: {"ok":true,…} or {"ok":false,"error":"…"}.
 * Owns:    the listening socket (and its path while listening), its connections.
 * Never:   runs a command itself (the handler does, and may answer later, e.g. after
 *          an ingest on a worker thread); blocks the loop on a slow client.
 * Threads: the server lives on one ev loop; every call but admin_call on its thread.
 * Sequence: admin_new → (handler … admin_reply)* → admin_free (removes the socket).
 * Errors:  0 or -errno with *err filled. A request that is not a JSON object with a
 *          string "cmd", or longer than ADMIN_REQ_MAX, is answered with an error by
 *          the server itself and never reaches the handler. */
#ifndef SMFS_ADMIN_H
#define SMFS_ADMIN_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "ipc/ev.h"

#define ADMIN_REQ_MAX  (1u << 20)
#define ADMIN_SOCK     "smfs.sock"       /* in the store's home directory by default */

struct admin;

/* REQ identifies the connection for admin_reply; REQUEST is borrowed for the call. */
typedef void admin_fn(struct admin *a, uint64_t req, const char *cmd, json_t *request,
                      void *arg);

/* Listen on PATH. -EADDRINUSE if a live server already answers there (a stale socket
 * file is replaced). */
int admin_new(struct ev_loop *loop, const char *path, admin_fn *fn, void *arg,
              struct admin **out, struct smfs_err *err) __attribute__((warn_unused_result));
void admin_free(struct admin *a);

/* Answer REQ with REPLY (stolen; NULL means out of memory, answered as an error) and
 * close the connection. A REQ whose client went away is ignored. */
void admin_reply(struct admin *a, uint64_t req, json_t *reply);
/* {"ok":false,"error":MSG}. */
json_t *admin_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A JSON string of S whatever its bytes: a peer's name, a q user or a callback symbol
 * may not be UTF-8, which json_string refuses (each bad byte becomes '?', err_scrub). */
json_t *admin_str(const char *s);
/* The same for N bytes (a q char vector); if they are not UTF-8, a NUL among them
 * becomes '?' too. */
json_t *admin_strn(const char *s, size_t n);

struct cfg;
/* Where the daemon of assembly C listens: $SMFS_ADMIN if set, else ADMIN_SOCK in the
 * store's home directory (the first date tier's store). */
int admin_default_path(const struct cfg *c, char *buf, size_t n, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Client: send REQUEST to the server at PATH and wait for the reply (*reply, caller
 * decrefs). -ECONNREFUSED or -ENOENT when no server listens there; -ECONNRESET when it
 * closed the connection without an answer (it stopped or died: a request that changes
 * the store may or may not have happened). */
int admin_call(const char *path, json_t *request, json_t **reply, struct smfs_err *err)
        __attribute__((warn_unused_result));
/* admin_call that calls TICK(ARG) every TICK_MS while the reply is outstanding (a
 * client showing a long job's progress; TICK may make admin_calls of its own). */
int admin_call_tick(const char *path, json_t *request, json_t **reply, int tick_ms,
                    void (*tick)(void *arg), void *arg, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
