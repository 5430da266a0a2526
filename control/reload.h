/* control/reload.h: reload signals (sm-spec §4). Who is registered for which mount, the
 * last signal of every mount, and which previous versions are still held because a
 * registrant has not yet acknowledged the signal that replaced them.
 *   A commit sends each registrant of an affected mount the mount's new signal. A
 *   registrant with a positive timeout holds the version it was reading (a store
 *   snapshot) until it acknowledges that signal's ts (or a later one), its timeout
 *   passes, or it goes away; when nobody holds a version any more, ops->released
 *   says so and the caller may vacuum.
 * Owns:    the registrants, their pending acknowledgements, one store snapshot per
 *          previous version still waited for, a copy of every mount's last signal.
 * Never:   does I/O (delivery is ops->send, on the caller's loop); reads a clock
 *          (callers pass now, monotonic ns, for deadlines); blocks.
 * Threads: one thread (the control loop); nothing here locks.
 * Sequence: reload_new → reload_set_signals (the current version's) → register /
 *          commit / ack / tick / drop … → reload_free (puts every snapshot back).
 * Errors:  0 or -errno with *err filled: -ENOENT unknown mount, -EAGAIN no signal yet
 *          (the store has no version: q's 'state), -EUSERS over a registration limit
 *          (q's 'limit). */
#ifndef SMFS_RELOAD_H
#define SMFS_RELOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/k.h"
#include "core/store.h"

/* What a mount's signal carries. Times are ns since 1970 (KNULL_J: null). */
struct reload_signal {
    const struct cfg_mount *mount;   /* borrowed from the cfg */
    uint64_t version;                /* the store version it describes */
    int64_t  ts;                     /* when the processing that made it started */
    int64_t  min_ts, max_ts;         /* inclusive purview (max_ts: not for stream) */
    int64_t  start_ts, end_ts, pos;  /* stream mounts: the _prtnEnd that caused it */
    bool     changed;                /* commit input: this mount's data changed */
};

enum reload_kind {
    RELOAD_Q = 1,      /* q IPC, async (callback;signal); acks with .sm.api.reloadComplete */
    RELOAD_Q_SYNC,     /* q IPC, the old [mount;1b;callback] form: a sync call; its
                          response is the acknowledgement */
    RELOAD_REST,       /* HTTP POST of the signal to a URL; never waited for */
};

struct reload_client {
    uint64_t         id;             /* never reused */
    enum reload_kind kind;
    uint64_t         conn;           /* q: the IPC connection */
    const struct cfg_mount *mount;
    char            *callback;       /* q function name, or URL */
    char             peer[80], user[64];
    int64_t          timeout_ns;     /* granted; 0: not waited for */
    int64_t          registered_rt;  /* realtime ns */
    uint64_t         sent, acked, timeouts;
    int64_t          last_ack_ts;    /* KNULL_J: none yet */
    struct reload_pending *pend;
    size_t           npend, cap;
    bool             dead;           /* dropped while a fan-out was iterating */
};

struct reload_ops {
    /* Deliver SIG to C. 0 when queued; -ENOTCONN (or any error) drops C. */
    int  (*send)(void *arg, struct reload_client *c, const struct reload_signal *sig);
    /* Nobody waits for VERSION any more (the view may still pin it while files are
     * open; vacuum knows). */
    void (*released)(void *arg, uint64_t version);
    void *arg;
};

struct reload_stats {
    uint64_t refused;                /* registrations over a limit */
    uint64_t clients_q, clients_rest;
    uint64_t pending;                /* acknowledgements waited for now */
    uint64_t held;                   /* previous versions held for them */
    uint64_t signals, acks, timeouts, unmatched_acks;
};

struct reload;

/* MAX_TIMEOUT_NS caps every requested timeout (elements.sm.reloadTimeout). */
int reload_new(const struct cfg *cfg, int64_t max_timeout_ns, const struct reload_ops *ops,
               struct reload **out, struct smfs_err *err) __attribute__((warn_unused_result));
void reload_free(struct reload *r);
/* At most PER_MOUNT registrations on one mount and PER_ADDR from one host (0: no
 * limit); a new registration past either is -EUSERS ("limit: …"). */
void reload_set_limits(struct reload *r, size_t per_mount, size_t per_addr);

/* The signals of the current version, one per mount of the cfg (N of them, in cfg
 * order), without sending anything: at start. */
void reload_set_signals(struct reload *r, const struct reload_signal *sigs, size_t n);

size_t reload_nmounts(const struct reload *r);
const struct reload_signal *reload_signal_at(const struct reload *r, size_t i);

struct reload_reg {
    enum reload_kind kind;
    uint64_t    conn;
    const char *mount, *callback, *peer, *user;
    int64_t     timeout_ns;          /* requested; capped; ignored for REST */
};
/* Register (again: the same connection and mount, or the same URL and mount, update
 * the registration and keep what it holds). *sig: the mount's last signal;
 * *granted: the timeout granted. */
int reload_register(struct reload *r, const struct reload_reg *reg, int64_t now_rt,
                    const struct reload_signal **sig, int64_t *granted, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* A commit: SIGS (one per mount, cfg order) describe the new version; OLD is a
 * snapshot of the version it replaced (taken; NULL if none). Mounts whose signal is
 * `changed` or whose purview moved are signalled. NOW: monotonic ns. Returns those
 * mounts, bit i for mount i. */
uint64_t reload_commit(struct reload *r, const struct reload_signal *sigs, size_t n,
                       struct store_snap *old, int64_t now);

/* .sm.api.reloadComplete[ts] from CONN: if a signal with exactly TS is pending on
 * that connection, resolves it (one, for a connection registered for several mounts)
 * and every older one there. Returns how many (0: a ts it was not sent). */
int reload_ack(struct reload *r, uint64_t conn, int64_t ts);
/* A response on CONN: answers its oldest sync signal. Returns 1, or 0 if none. */
int reload_ack_sync(struct reload *r, uint64_t conn);

/* Expire acknowledgements due by NOW; returns the next deadline (INT64_MAX: none). */
int64_t reload_tick(struct reload *r, int64_t now);

/* CONN closed: its registrations go, and whatever they held. */
void reload_drop_conn(struct reload *r, uint64_t conn);
/* Registration ID goes (a REST callback that kept failing). */
void reload_drop(struct reload *r, uint64_t id, const char *why);

size_t reload_nclients(const struct reload *r);
struct reload_client *reload_client_at(struct reload *r, size_t i);
void reload_stats(const struct reload *r, struct reload_stats *st);

/* The signal as q sends it: `ts`minTS`maxTS!… for date and ordinal mounts (a
 * timestamp vector, as q makes it), `ts`minTS`startTS`endTS`pos!(…) for a stream
 * mount; with TIMEOUT_NS >= 0 a `timeout entry (timespan) is appended. NULL: no memory. */
struct k *reload_signal_k(const struct reload_signal *sig, int64_t timeout_ns);
/* The same as JSON: timestamps as q prints them ("2024.01.02D00:00:00.000000000"),
 * nulls as null. */
json_t *reload_signal_json(const struct reload_signal *sig, int64_t timeout_ns);

#endif
