/* ipc/ipc_client.h: a blocking q IPC client — what smfs uses to reach tickerplants
 * and to call back query processes, and what smctl and the tests use. Targets:
 * "host:port", ":port" (localhost), "unix:/path/to/socket" or "unix:@name" (Linux's
 * abstract namespace, where kdb+ listens: "unix:@/tmp/kx.5010").
 * Owns:    its socket and any asynchronous messages received while waiting for a
 *          response (kept in order for ipc_client_recv).
 * Never:   waits longer than the timeout it was given; accepts a message over its
 *          limit; sends a password anywhere but the handshake.
 * Threads: one thread at a time per client.
 * Sequence: ipc_client_connect → ipc_client_call / _send / _recv … → ipc_client_close.
 * Errors:  0 or -errno with *err filled; -ETIMEDOUT after the timeout (the client is
 *          then unusable: a late response would answer the wrong call); -EREMOTEIO
 *          when the peer answered with a q error (*result holds it, err says "'msg").
 *          A timeout of -1 waits for ever. */
#ifndef SMFS_IPC_CLIENT_H
#define SMFS_IPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/k.h"
#include "ipc/ipc_msg.h"

struct ipc_client;

/* CREDS: "user:password", "user" or NULL. */
int ipc_client_connect(const char *target, const char *creds, int timeout_ms,
                       struct ipc_client **out, struct smfs_err *err) __attribute__((warn_unused_result));
void ipc_client_close(struct ipc_client *c);

/* The capability the server agreed (0..3). */
int ipc_client_cap(const struct ipc_client *c);
void ipc_client_set_max_msg(struct ipc_client *c, size_t max);

/* Sync call: send X, wait for the response. */
int ipc_client_call(struct ipc_client *c, const struct k *x, int timeout_ms, struct k **result,
                    struct smfs_err *err) __attribute__((warn_unused_result));
/* Async: send X; nothing comes back. */
int ipc_client_send(struct ipc_client *c, const struct k *x, struct smfs_err *err)
        __attribute__((warn_unused_result));
/* Receive the next message the peer sends of its own accord (async or sync). */
int ipc_client_recv(struct ipc_client *c, int timeout_ms, struct k **msg, enum ipc_type *type,
                    struct smfs_err *err) __attribute__((warn_unused_result));
/* The socket, for poll (readable: a message is arriving), and whether messages that
 * arrived during a call wait in the queue (poll would not show them). */
int  ipc_client_fd(const struct ipc_client *c);
bool ipc_client_queued(const struct ipc_client *c);
/* Send raw bytes (tests of hostile input). */
int ipc_client_send_raw(struct ipc_client *c, const void *p, size_t n, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
