/* fs/mount.h: the FUSE side of smfs: a libfuse 3.14 low-level session serving a view
 * (fs/view.h) read-only, with kernel passthrough for store objects where the kernel
 * and our capabilities allow it, and the cached path (splice from the object file,
 * keep_cache, raised readahead) otherwise. Knobs and why: fuse-perf.md §5–6.
 * Owns:    the FUSE session, its mount, the request threads, and the cached path's
 *          descriptors: at most max_fds, shared by every open of an object, least
 *          recently used closed first (fs/fdcache.h); no fd per inode or open.
 * Never:   writes (every write, create, rename or unlink is EROFS); uses direct_io
 *          (it breaks MAP_SHARED); sends a notification from a request thread
 *          (invalidating inside a request can deadlock: CurvineIO/curvine #853).
 * Threads: mount_run runs the request loop on the calling thread plus workers.
 *          mount_publish, mount_stop and mount_stats from any other thread.
 *          SIGINT/SIGTERM end the loop; other threads of the process must block them.
 * Sequence: mount_new (mounts) → mount_run (returns when unmounted or signalled) →
 *          mount_free (unmounts if still mounted).
 * Errors:  0 or -errno with *err filled; request errors go to the kernel as errno. */
#ifndef SMFS_MOUNT_H
#define SMFS_MOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/store.h"
#include "fs/view.h"

struct mount;
struct fuse_args;

struct mount_opts {
    const char       *mountpoint;
    struct fuse_args *args;          /* libfuse's -o options and -d; we add ours */
    bool              passthrough;   /* try kernel passthrough (needs CAP_SYS_ADMIN) */
    bool              single_thread;
    unsigned          max_threads;   /* 0: libfuse's default */
    unsigned          readahead_kb;  /* 0: the backing disk's, at least 1024 */
    unsigned          poll_us;       /* poll for the next request before sleeping (0: never) */
    size_t            max_fds;       /* cached path's descriptors; 0: RLIMIT_NOFILE / 4 */
    struct s3cache   *s3cache;       /* files in object storage are read through it (NULL:
                                        the view does not serve them) */
};

struct mount_stats {
    uint64_t lookups, getattrs, readdirs, opens, pt_opens, reads, read_bytes, releases;
    uint64_t erofs;                  /* writes refused */
    bool     passthrough;            /* passthrough is in use */
    bool     passthrough_offered;    /* the kernel's INIT offered it (asked only with the hook) */
    uint64_t fds_open, fds_max;      /* the cached path's descriptors (fs/fdcache.h) */
    unsigned readahead_kb;           /* what the FUSE bdi was set to (0: unchanged) */
};

int mount_new(struct view *v, struct store *s, const struct mount_opts *o, struct mount **out,
              struct smfs_err *err) __attribute__((warn_unused_result));
int mount_run(struct mount *m, struct smfs_err *err) __attribute__((warn_unused_result));
void mount_free(struct mount *m);

/* End mount_run from another thread (smctl stop): the session is marked exited, and
 * the thread in mount_run is woken so that it sees it. mount_run then returns 0 and
 * the caller unmounts with mount_free, as after SIGTERM. Never blocks; any thread. */
void mount_stop(struct mount *m);

/* Tell the kernel what a new version changed (names at the root, the root listing).
 * Call after view_publish, from a thread that is not serving a request. */
void mount_publish(struct mount *m, const struct view_change *c);

void mount_stats(struct mount *m, struct mount_stats *st);

/* Close the cached path's idle descriptors and give back the passthrough registrations
 * kept for files of retired versions (after a vacuum, so unlinked objects give their
 * space back). Any thread. */
void mount_forget_fds(struct mount *m);

#endif
