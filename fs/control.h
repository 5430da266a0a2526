/* fs/control.h: the daemon's control thread: an ev loop (ipc/ev.h) that owns the admin
 * socket (ipc/admin.h), and one writer thread that runs what changes the store
 * (ingest, vacuum) and then publishes the new version to the view and to the kernel
 * (or to the symlink tree). Issue 8 adds q IPC, REST and reload fan-out to this loop.
 * Owns:    both threads, the admin socket, the queue of writer jobs.
 * Never:   runs a store write on the loop thread (the loop keeps answering while an
 *          ingest runs); invalidates from a FUSE request thread; takes SIGINT,
 *          SIGTERM or SIGHUP (both threads block them, so they reach the FUSE loop or
 *          the main thread's sigwait).
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
};

int control_start(const struct control_opts *o, struct control **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void control_stop(struct control *c);

/* Publish the store's current version: the view, then the kernel or the symlink
 * tree. On the writer thread, or before control_start. */
int control_publish(const struct control_opts *o, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
