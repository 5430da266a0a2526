/* fs/control.h: the daemon's control thread and its writer thread.
 *   The control thread is one ev loop (epoll, with an eventfd for wake-ups, a
 *   signalfd for SIGHUP and timers for acknowledgement deadlines) that owns every
 *   socket smfs answers on: the q IPC listeners (.sm.api.register, getStatus,
 *   reloadComplete), the REST server (/register, /status, /healthz, /readyz,
 *   /metrics), the admin socket (smctl), outgoing REST callbacks, and the reload
 *   registry (fs/reload.h).
 *   The writer thread runs what changes or reads the whole store (ingest, vacuum,
 *   verify), publishes a new version to the view and the kernel (or the symlink
 *   tree), then hands the new reload signals to the loop, which sends them.
 * Owns:    both threads, every listener above, the queue of writer jobs.
 * Never:   runs a store write or a whole-store read on the loop thread (the loop keeps
 *          answering while an ingest runs); invalidates from a FUSE request thread;
 *          waits on a FUSE thread, or makes one wait (they only flip an atomic and
 *          write the eventfd); takes SIGINT or SIGTERM (both threads block them, so
 *          they reach the FUSE loop or the main thread's sigwait).
 * Threads: control_start and control_stop from the main thread.
 * Sequence: control_start (after the mount and after daemonizing) → … → control_stop
 *          (before the mount and the store are freed).
 * Errors:  0 or -errno with *err filled. */
#ifndef SMFS_CONTROL_H
#define SMFS_CONTROL_H

#include "core/config.h"
#include "core/err.h"
#include "core/store.h"
#include "fs/mount.h"
#include "fs/view.h"

struct control;

struct control_opts {
    const char       *admin_path;
    const struct cfg *cfg;
    struct store     *store;
    struct view      *view;
    struct mount     *mount;         /* FUSE mode */
    const char       *vanilla_dir;   /* symlink mode */
    const char       *mountpoint;
    /* q IPC: TCP port (-1: none; 0: any free port) on q_host (NULL: every interface,
     * as q -p does), a Unix socket (NULL: none), a kdb+-style user file (NULL: open). */
    int               q_port;
    const char       *q_host, *q_unix, *q_users;
    /* REST: port (-1: none; 0: any free port) on http_host (NULL: 127.0.0.1). */
    int               http_port;
    const char       *http_host;
    /* Vacuum by itself once nobody holds an old version, keeping keep_versions. */
    bool              auto_vacuum;
    unsigned          keep_versions;
    /* REST callbacks: per-try timeout and tries (0: 5000 ms, 3). */
    int               callback_timeout_ms, callback_tries;
};

int control_start(const struct control_opts *o, struct control **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void control_stop(struct control *c);

/* The ports bound (useful with port 0): -1 when not listening. */
int control_q_port(const struct control *c);
int control_http_port(const struct control *c);

/* Publish the store's current version: the view, then the kernel or the symlink
 * tree. On the writer thread, or before control_start. */
int control_publish(const struct control_opts *o, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
