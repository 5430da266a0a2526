/* ipc/tp.h: a kdb+tick tickerplant, seen from a subscriber -- the protocol of u.q and
 * r.q (../shared/reference/journals-and-attributes.md §2): one sync call subscribes
 * to tables and learns the log (its path and how many messages it holds), then the
 * tickerplant sends (`upd;`table;data) for every update and (`.u.end;date) at the end
 * of its day; a subscriber may publish with (`.u.upd;`table;data).
 * Owns:    the connection (an ipc_client) and the messages it hands out until freed.
 * Never:   waits on the socket longer than the timeout given; evaluates anything the
 *          tickerplant sends (messages are data: an update, the end of day, or
 *          "other", which the caller counts and drops).
 * Threads: one thread at a time per struct tp.
 * Sequence: tp_connect → tp_subscribe → (tp_wait → tp_next)* / tp_publish / tp_log_now
 *          → tp_close.
 * Errors:  0 or -errno with *err: -EREMOTEIO when the tickerplant answered with a q
 *          error (a table it does not have: "'quote"), -EPROTO for an answer of the
 *          wrong shape (saying what came), what ipc_client says otherwise; after an
 *          error on the socket the connection is unusable (close it, connect again). */
#ifndef SMFS_TP_H
#define SMFS_TP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/k.h"

#define TP_MAX_MSG ((size_t)512 << 20)   /* one update; a batch-mode tickerplant's can be large */

struct tp;

/* What .u.sub answered: each table's empty schema (a q table), where the log is and
 * how many messages it held at that moment, and every table the tickerplant has. */
struct tp_sub {
    size_t     n;
    char     **table;
    struct k **schema;
    int64_t    msgs;        /* .u.i; -1 when the tickerplant keeps no log */
    char      *log;         /* .u.L without its leading ':'; NULL when none */
    struct k  *tables;      /* .u.t: a symbol vector (empty when it has none) */
};
void tp_sub_free(struct tp_sub *s);

/* CREDS: "user:password", "user" or NULL. */
int tp_connect(const char *target, const char *creds, int timeout_ms, struct tp **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void tp_close(struct tp *tp);

/* Subscribe to TABLES (every symbol) the way r.q does, in one sync call:
 *   (.u.sub[;`]each(),`t1`t2;`.u `i`L;@[value;`.u.t;()])
 * The schemas come back in the order asked. */
int tp_subscribe(struct tp *tp, const char *const *tables, size_t n, int timeout_ms, struct tp_sub *out,
                 struct smfs_err *err) __attribute__((warn_unused_result));

/* The log now: `.u `i`L (after an end of day, where the new day's log is). */
int tp_log_now(struct tp *tp, int timeout_ms, int64_t *msgs, char **log, struct smfs_err *err)
        __attribute__((warn_unused_result));

enum tp_kind { TP_UPD = 1, TP_END, TP_OTHER };

struct tp_msg {
    enum tp_kind    kind;
    const char     *table;   /* TP_UPD: borrowed from raw */
    const struct k *data;    /* TP_UPD: the update's x, borrowed from raw */
    int32_t         date;    /* TP_END: the day that ended (days since 2000.01.01) */
    char            what[128];/* TP_OTHER: what it was, for the log */
    struct k       *raw;     /* the message (tp_msg_free frees it) */
};
void tp_msg_free(struct tp_msg *m);

/* Wait up to TIMEOUT_MS for a message to start arriving (or for WAKEFD, when >= 0,
 * to become readable): 1 a message is there, 0 timed out or woken, <0 an error. */
int tp_wait(struct tp *tp, int wakefd, int timeout_ms, struct smfs_err *err) __attribute__((warn_unused_result));
/* The next message; blocks up to TIMEOUT_MS for the rest of it once it started. */
int tp_next(struct tp *tp, int timeout_ms, struct tp_msg *m, struct smfs_err *err) __attribute__((warn_unused_result));

/* Async (`.u.upd;`TABLE;COLS): publish rows (a list of columns) to the tickerplant. */
int tp_publish(struct tp *tp, const char *table, const struct k *cols, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Classify one object as the tickerplant would send it (also for journal messages). */
void tp_classify(struct k *raw, struct tp_msg *m);

#endif
