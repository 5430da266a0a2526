/* control/control.h: the Storage Manager itself: the daemon's control thread and its
 * writer thread.
 *   The control thread is one ev loop (epoll, with an eventfd for wake-ups, a
 *   signalfd for SIGHUP and timers for acknowledgement deadlines) that owns every
 *   socket smfs answers on: the q IPC listeners (.sm.api.register, getStatus,
 *   reloadComplete), the REST server (/register, /status, /healthz, /readyz,
 *   /metrics), the admin socket (smctl), outgoing REST callbacks, and the reload
 *   registry (control/reload.h).
 *   The writer thread runs what changes or reads the whole store (ingest, vacuum,
 *   verify), has the new version published to readers (through the hooks below),
 *   then hands the new reload signals to the loop, which sends them.
 * Owns:    both threads, every listener above, the queue of writer jobs.
 * Never:   includes fs/ or knows FUSE: what readers see (the FUSE view or the symlink
 *          tree) is reached only through struct control_hooks, which main installs;
 *          runs a store write or a whole-store read on the loop thread (the loop keeps
 *          answering while an ingest runs); waits on a FUSE thread, or makes one wait
 *          (control_unpinned only flips an atomic and writes the eventfd); takes SIGINT
 *          or SIGTERM (both threads block them, so they reach the FUSE loop or the
 *          main thread).
 * Threads: control_start and control_stop from the main thread; control_unpinned
 *          from any thread.
 * Sequence: control_start (after the mount and after daemonizing) → … → control_stop
 *          (before the mount and the store are freed).
 * Errors:  0 or -errno with *err filled. */
#ifndef SMFS_CONTROL_H
#define SMFS_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/store.h"

struct control;

/* What readers see, as the control thread needs to know it. */
struct control_view_stats {
    uint64_t current;                 /* version served (0: none yet) */
    uint64_t inodes, versions, pinned;
    bool     fuse;                    /* the counters below are a FUSE mount's */
    bool     passthrough, passthrough_offered;
    unsigned readahead_kb;
    uint64_t lookups, getattrs, readdirs, opens, pt_opens, reads, read_bytes, releases, erofs;
    uint64_t fds_open, fds_max;       /* the cached path's descriptors */
    uint64_t backings, backings_kept; /* passthrough registrations: in all, kept idle */
};

/* How the control thread reaches whatever shows versions to readers (the FUSE view,
 * the symlink tree). Installed by main; control/ never calls fs/ otherwise. */
struct control_hooks {
    void       *arg;
    const char *mode;                 /* "fuse" or "vanilla", for status */
    /* Show the store's current version to readers (the view, then the kernel's
     * caches or the symlink tree); *old receives the version shown before (0: none).
     * Writer thread only. */
    int      (*publish)(void *arg, uint64_t *old, struct smfs_err *err);
    /* A vacuum dropped versions: forget what readers can no longer reach. Writer
     * thread only; NULL when there is nothing to do. */
    int      (*vacuumed)(void *arg, struct smfs_err *err);
    /* The version readers see now (0: none). Any thread; never blocks. */
    uint64_t (*current)(void *arg);
    /* Counters for status and metrics. Loop thread; never blocks. */
    void     (*stats)(void *arg, struct control_view_stats *st);
    /* End the daemon: stop serving readers, so that main returns and calls
     * control_stop. Loop thread; must not block or call back into control. */
    void     (*stop)(void *arg);
};

struct control_opts {
    const char       *admin_path;
    const struct cfg *cfg;
    struct store     *store;
    struct control_hooks hooks;
    const char       *mountpoint;
    /* q IPC: TCP port (-1: none; 0: any free port) on q_host (NULL: every interface,
     * as q -p does), a Unix socket (NULL: none), a kdb+-style user file (NULL: open). */
    int               q_port;
    const char       *q_host, *q_unix, *q_users;
    /* The Unix socket's file: mode (0: the umask's) and, when q_unix_chgrp, group. */
    unsigned          q_unix_mode;
    bool              q_unix_chgrp;
    unsigned          q_unix_gid;
    /* REST: port (-1: none; 0: any free port) on http_host (NULL: 127.0.0.1). */
    int               http_port;
    const char       *http_host;
    /* Vacuum by itself once nobody holds an old version, keeping keep_versions. */
    bool              auto_vacuum;
    unsigned          keep_versions;
    /* REST callbacks: per-try timeout and tries (0: 5000 ms, 3). */
    int               callback_timeout_ms, callback_tries;
    /* The stream (control/stream.h): off when stream_off names why (--no-stream);
     * otherwise the source bus's tickerplant, with a login (NULL: none), the spill
     * root (NULL: <hdb baseURI>/stream), where its logs are read (NULL: where it
     * says), the memory budget (0: default) and checkpoint interval (0: 2 s). */
    const char       *stream_off;
    const char       *tp_creds, *stream_dir, *tp_log_dir;
    uint64_t          stream_budget;
    int               stream_checkpoint_ms;
};

int control_start(const struct control_opts *o, struct control **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void control_stop(struct control *c);

/* The ports bound (useful with port 0): -1 when not listening. */
int control_q_port(const struct control *c);
int control_http_port(const struct control *c);

/* An old version's last open file closed (it may now be vacuumed). Any thread, under
 * any lock: it only flips an atomic and wakes the loop. */
void control_unpinned(struct control *c);

#endif
