/* fs/vanilla.h: the symlink fallback, for hosts without FUSE (smfs --vanilla DIR): the
 * tree of the view (fs/view.h) written on disk as real directories with one symlink
 * per file to its object, so a stock kdb+ can \l DIR at any moment.
 * Owns:    everything in DIR (which must be empty, or hold a tree we wrote before).
 * Never:   writes into the store; removes DIR itself; leaves a moment where par.txt
 *          names a segment directory that is not there, or where sym or a root table
 *          is missing (each is built under a name ending in '$', which \l ignores, and
 *          switched by rename; par.txt goes last).
 * Threads: one caller at a time (the daemon's writer thread).
 * Sequence: vanilla_check → vanilla_publish after each view_publish (and after a
 *          vacuum, which lets it remove the v<N>$ of dropped versions).
 * Errors:  0 or -errno with *err filled. */
#ifndef SMFS_VANILLA_H
#define SMFS_VANILLA_H

#include "core/err.h"
#include "core/store.h"
#include "fs/view.h"

/* DIR exists, is a directory outside the store, and is empty or ours. */
int vanilla_check(const char *dir, const struct store *s, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Make DIR show the view's current version; remove what no kept version needs. */
int vanilla_publish(const char *dir, struct view *v, struct store *s, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
