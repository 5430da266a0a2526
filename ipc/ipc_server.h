/* ipc/ipc_server.h: a q IPC server on a TCP port and/or a Unix socket, driven by an
 * ev loop. It does the handshake (capability min(client, 3), optional logins from a
 * kdb+-style user file), reads sync/async messages, routes each call to a C handler
 * registered by name and answers sync calls with the result or a q error.
 *   A call is a symbol vector (`f`a`b: f with symbol arguments), or a general list
 *   whose head is a symbol or a string naming the function. An empty string is the
 *   "wait until processed" ping and gets (::). Any other string is refused: smfs has
 *   no q interpreter. An unknown name gets kdb+'s error: the name itself.
 * Owns:    its listening sockets (the Unix socket file too), every connection and its
 *          buffers, the handler table.
 * Never:   blocks (every socket is non-blocking); trusts a length, a count or a byte a
 *          peer sent; lets one connection starve or crash the others: garbage, lying
 *          lengths, oversized messages and stalled peers close that connection, logged.
 * Threads: everything on the loop's thread, handlers included.
 * Sequence: ipc_server_new → ipc_server_handle… → ev_run(loop) → ipc_server_free.
 * Errors:  0 or -errno with *err filled. */
#ifndef SMFS_IPC_SERVER_H
#define SMFS_IPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"
#include "core/k.h"
#include "ipc/ev.h"
#include "ipc/ipc_msg.h"

enum ipc_log_level { IPC_LOG_ERROR = 0, IPC_LOG_WARN, IPC_LOG_INFO };
typedef void ipc_log_fn(void *arg, enum ipc_log_level level, const char *msg);

struct ipc_server_opts {
    const char *host;          /* TCP address to bind; NULL: 127.0.0.1 */
    int         port;          /* -1: no TCP; 0: any free port (see ipc_server_port) */
    const char *unix_path;     /* NULL: no Unix socket */
    mode_t      unix_mode;     /* its file's mode (0: the umask's; never with '@') */
    bool        unix_chgrp;    /* give its file the group unix_gid (else: the creator's) */
    gid_t       unix_gid;
    const char *user_file;     /* NULL: anyone may log in */
    size_t      max_msg;       /* 0: 64 MiB for a peer that logged in with a user file;
                                  also bounds the decompressed size */
    size_t      max_msg_anon;  /* 0: 1 MiB: the same for a peer that did not (no user file:
                                  anyone may connect; the SM API's calls are small) */
    uint64_t    max_decoded;   /* 0: IPC_DECODE_FACTOR x the peer's max_msg: memory one
                                  decoded message may take (a compression bomb gets 'limit) */
    size_t      max_buffered;  /* 0: 256 MiB: message bytes buffered across all connections;
                                  the connection that would pass it is dropped */
    int         max_conns;     /* 0: 256 */
    int         max_per_addr;  /* 0: max_conns / 2: connections from one address (TCP peers
                                  by IP; Unix peers by uid) */
    int         handshake_ms;  /* 0: 5000; a login not finished by then is dropped */
    int         stall_ms;      /* 0: 60000; a message must arrive within this long of its
                                  first byte (plus a second per MiB), however it trickles */
    int         idle_ms;       /* 0: 600000; a connection with no message for this long is
                                  closed, unless kept (ipc_server_keep: a registered DAP) */
    size_t      max_out;       /* 0: 2 * max_msg; output queued for a peer that does not read */
    bool        compress_local;/* compress to loopback and Unix peers too (tests) */
    ipc_log_fn *log;           /* NULL: one line per event on stderr */
    void       *log_arg;
};

struct ipc_server;

struct ipc_call {
    struct ipc_server *srv;
    uint64_t           conn;   /* connection id: never reused while the server lives */
    const char        *user;   /* as logged in ("" if none given) */
    const char        *peer;   /* "127.0.0.1:40112", "unix" */
    const char        *name;   /* the function called */
    struct k          *args;   /* general list of the arguments, server-owned; a handler
                                  may take an item by replacing it with NULL */
    bool               sync;
};

/* Returns the result, which the server owns from then on: a q error is k_error(msg).
 * NULL means out of memory and answers 'wsfull. Async calls' results are dropped
 * (errors logged). */
typedef struct k *ipc_handler_fn(struct ipc_call *call, void *arg);
typedef void ipc_close_fn(struct ipc_server *srv, uint64_t conn, void *arg);
/* A response message from a peer (to a sync message smfs sent it). X is borrowed. */
typedef void ipc_response_fn(struct ipc_server *srv, uint64_t conn, const struct k *x, void *arg);

struct ipc_stats {
    uint64_t conns;            /* open now */
    uint64_t accepted, refused_full, refused_login, dropped;   /* dropped: protocol, limit, stall */
    uint64_t refused_addr;     /* an address over max_per_addr */
    uint64_t refused_fds;      /* accepted and closed at once: out of file descriptors */
    uint64_t idle_closed;      /* closed after idle_ms without a message */
    uint64_t limit_replies;    /* messages refused with 'limit (too big decoded) */
    uint64_t buffered;         /* message bytes buffered now, all connections */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    uint64_t errors;           /* calls answered with a q error */
};

int ipc_server_new(struct ev_loop *loop, const struct ipc_server_opts *o, struct ipc_server **out,
                   struct smfs_err *err) __attribute__((warn_unused_result));
/* Unlinks its Unix socket; closes every connection (on_close is called for each). */
void ipc_server_free(struct ipc_server *s);

/* Register FN under NAME (copied); a second registration replaces the first. */
int ipc_server_handle(struct ipc_server *s, const char *name, ipc_handler_fn *fn, void *arg)
        __attribute__((warn_unused_result));
void ipc_server_on_close(struct ipc_server *s, ipc_close_fn *fn, void *arg);
/* Without it, responses are logged and dropped. */
void ipc_server_on_response(struct ipc_server *s, ipc_response_fn *fn, void *arg);

/* The TCP port bound (useful with port 0); -1 without TCP. */
int ipc_server_port(const struct ipc_server *s);

/* Queue message X of TYPE to connection CONN (an async callback, a deferred answer).
 * -ENOTCONN if it has gone. */
int ipc_server_send(struct ipc_server *s, uint64_t conn, enum ipc_type type, const struct k *x,
                    struct smfs_err *err) __attribute__((warn_unused_result));
void ipc_server_close_conn(struct ipc_server *s, uint64_t conn);
/* Exempt CONN from the idle deadline (a registered query process waits for hours) or
 * put it back under it. */
void ipc_server_keep(struct ipc_server *s, uint64_t conn, bool keep);
void ipc_server_stats(const struct ipc_server *s, struct ipc_stats *st);

#endif
