/* fs/passthrough.h: kernel FUSE passthrough (protocol 7.40) with Debian's libfuse 3.14,
 * which predates it. A custom-io writev hook patches the INIT reply (FUSE_INIT_EXT,
 * FUSE_PASSTHROUGH, max_stack_depth) and an OPEN reply (FOPEN_PASSTHROUGH and the
 * backing id), and the backing ids come from our own ioctls on the session fd.
 * Facts and measurements: ../shared/reference/fuse-perf.md §4.
 * The same hook on the read side polls briefly for the next request before a thread
 * sleeps in read() (pt_set_poll): what a burst of opens costs is mostly wakeups.
 * Owns:    a thread-local "patch the next reply" flag per replying thread.
 * Never:   patches a reply it was not asked to (both flags are one-shot and the hook
 *          checks the reply's size); keeps a backing fd open (the kernel holds the
 *          file once registered, so RLIMIT_NOFILE is never spent per inode).
 * Threads: pt_mark_* and the reply they mark must happen on the same thread, with
 *          nothing replied in between (libfuse writes replies synchronously).
 * Sequence: fuse_session_mount → pt_install → (init: pt_mark_init) →
 *          (open: pt_backing_open once per inode; pt_mark_open(id); fuse_reply_open) →
 *          (last release: pt_backing_close).
 * Errors:  -errno; -EPERM means no CAP_SYS_ADMIN or a kernel that did not take the
 *          INIT flag, and the caller falls back to the cached path. */
#ifndef SMFS_PASSTHROUGH_H
#define SMFS_PASSTHROUGH_H

#include <stdbool.h>

struct fuse_session;

int  pt_install(struct fuse_session *se);   /* after fuse_session_mount */
/* Poll for the next request up to US microseconds before a reading thread sleeps
 * (0: never); one thread at a time. Set before the request loop starts. */
void pt_set_poll(unsigned us);
void pt_mark_init(void);                    /* in the init callback */
/* Whether the kernel's INIT request offered FUSE_PASSTHROUGH (in the init callback,
 * on its thread; false before INIT or on a kernel older than 6.9). */
bool pt_kernel_offers(void);
void pt_mark_open(int backing_id);          /* just before fuse_reply_open */
int  pt_backing_open(int devfd, int fd);    /* backing id > 0, or -errno */
void pt_backing_close(int devfd, int id);

#endif
