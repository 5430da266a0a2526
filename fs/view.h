/* fs/view.h: the tree a kdb+ loader sees, computed from store versions (DESIGN.md,
 * "The view"), and the inode table the FUSE layer serves it through:
 *
 *   /par.txt                 each relative line L of the version's par.txt as v<N>$/L
 *   /sym, /<table>/…         root entries of the current version (par.txt and the
 *                            segment directories it names excepted)
 *   /v<N>$/<seg>/<date>/<table>/<file>   any kept version N, looked up by name; only
 *                            the current one is listed
 *   /idb$/par.txt, /idb$/sym with an IDB (an ordinal mount in the assembly): where an
 *                            IDB process loads the intervals written today, par.txt
 *                            "../v<N>$/idb" and the version's sym; /v<N>$/idb holds
 *                            the ordinal partitions 0, 1, ... (empty before the first
 *                            interval and after the end of day)
 *
 * Inode numbers. A file's inode is its object id (+1), so a file unchanged between
 * versions keeps its inode, and the kernel its page cache. A directory's inode is
 * allocated per (version, tree id): the same tree reached through v41$ and v42$ gets
 * two inodes, because a directory inode with two parents makes the kernel move the
 * dentry back and forth (d_splice_alias). par.txt and v<N>$ have inodes of their own
 * per version.
 *
 * Owns:    the inode table, and a store snapshot of each version that is current,
 *          has a file open (or mapped: the kernel keeps the file open), or is in the
 *          middle of a call. Inodes the kernel merely caches do not pin: vacuum may
 *          drop their version, and they answer ESTALE from then on. So files open or
 *          mapped keep their old bytes, and nobody else holds old data back.
 * Never:   knows libfuse; writes to the store; blocks on anything but its mutex and
 *          the store's read path.
 * Threads: every call from any thread; one mutex guards the table, never held across
 *          store reads except in the view_pt_* callbacks (one open + ioctl, or
 *          one ioctl to give an id back).
 * Sequence: view_new → (view_lookup / view_readdir / view_getattr / view_forget …)*
 *          with view_publish after each commit → view_free once unmounted.
 * Errors:  0 or -errno with *err filled; -ENOENT for names that do not exist. */
#ifndef SMFS_VIEW_H
#define SMFS_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"
#include "core/store.h"

#define VIEW_ROOT_INO 1

struct view;

struct view_attr {
    uint64_t ino;
    mode_t   mode;        /* S_IFDIR|0555 or S_IFREG|0444 */
    uint64_t size;        /* file bytes; directory entries */
    int64_t  mtime_ns;
    uint32_t nlink;
};

/* What an open of a file inode reads from. */
struct view_file {
    bool               memory;   /* par.txt: bytes held by the view */
    const uint8_t     *p;        /* memory: valid while the inode is referenced */
    size_t             len;
    struct store_entry obj;      /* otherwise: the object (name is for messages) */
    uint64_t           version;  /* the version it was opened in */
    struct vver       *pin;      /* the version held open (view_close gives it back) */
};

/* Names at the root that a switch from OLD to NEW changed (added, removed, or now
 * another inode), for the kernel's dentry cache. */
struct view_change {
    uint64_t old_version, new_version;
    char   **names;
    size_t   n;
};
void view_change_free(struct view_change *c);

struct view_stats {
    uint64_t inodes, versions;   /* in the table now; versions in memory */
    uint64_t pinned;             /* versions vacuum must keep: current, or files open */
    uint64_t current;
    uint64_t pt_registered, pt_kept;   /* passthrough backing ids: in all, kept idle */
};

struct view_opts {
    bool        idb;      /* serve idb$ and v<N>$/idb (the assembly has an ordinal mount) */
    /* Serve the object-storage tier as segment S3SEG: par.txt's line S3LINE (its s3://
     * URI) becomes v<N>$/S3SEG, whose tree is the store's .smfs/s3/S3SEG (files
     * STORE_F_REMOTE: the mount reads them through its cache). NULL: the line as it is. */
    const char *s3seg, *s3line;
};

int view_new(struct store *s, const struct view_opts *o, struct view **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void view_free(struct view *v);

/* Make VERSION (0: the store's current) the one the root shows. *chg (may be NULL)
 * receives the root names to invalidate. */
int view_publish(struct view *v, uint64_t version, struct view_change *chg,
                 struct smfs_err *err) __attribute__((warn_unused_result));
uint64_t view_current(struct view *v);

/* NAME in directory PARENT; on success the inode's lookup count is raised by one
 * (the kernel's reference, given back by view_forget). */
int view_lookup(struct view *v, uint64_t parent, const char *name, struct view_attr *out,
                struct smfs_err *err) __attribute__((warn_unused_result));
void view_forget(struct view *v, uint64_t ino, uint64_t nlookup);
int view_getattr(struct view *v, uint64_t ino, struct view_attr *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Entries of directory INO from index OFF (0 is the first). FN returns false when it
 * could not take the entry (its buffer is full), which ends the listing. With PLUS
 * each entry FN took counts as a lookup (readdirplus), and its attr is filled. */
typedef bool view_dirent_fn(void *arg, const char *name, const struct view_attr *a,
                            uint64_t next_off);
int view_readdir(struct view *v, uint64_t ino, uint64_t off, bool plus, view_dirent_fn *fn,
                 void *arg, struct smfs_err *err) __attribute__((warn_unused_result));

/* Open file INO: what it reads, with its version pinned (not vacuumed) until
 * view_close. -EISDIR for a directory, -ESTALE if its version was vacuumed. */
int view_open(struct view *v, uint64_t ino, struct view_file *out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void view_close(struct view *v, struct view_file *f);

/* Kernel passthrough bookkeeping: one backing id per inode, registered by OPEN(arg,
 * object) (> 0, or a negative errno that fails the open) at the first open, and kept
 * after the last close while the kernel keeps the inode, so that a warm open costs one
 * round trip and no store lookup or ioctl. CLOSE(arg, id) gives an id back: at FORGET,
 * beyond KEEP kept (least recently closed first), when the object moved tier, and for
 * files of retired versions (view_pt_drop_retired). A kept id is a kernel reference to
 * the backing file, never a descriptor of ours. Call view_pt_setup once, before the
 * first open; KEEP 0 gives every id back at its last close. */
void view_pt_setup(struct view *v, int (*open)(void *arg, const struct store_entry *obj),
                   void (*close)(void *arg, int id), void *arg, size_t keep);
/* After view_open gave F: the inode's backing id in *BACKING_ID. */
int view_pt_acquire(struct view *v, uint64_t ino, const struct view_file *f, int *backing_id);
void view_pt_release(struct view *v, uint64_t ino);
/* Give back the kept ids of files whose version is retired (not current, nothing
 * open): after a vacuum, so that deleted objects free their blocks. Returns how many. */
size_t view_pt_drop_retired(struct view *v);

void view_stats(struct view *v, struct view_stats *st);

/* FN(arg, version) when the last pin of a version that is no longer current goes
 * (its files all closed), once per version: vacuum may now reclaim it. FN runs on
 * whichever thread closed the file, under the view's lock: it must only note the
 * fact and wake someone (never call into the view or block). */
void view_on_unpinned(struct view *v, void (*fn)(void *arg, uint64_t version), void *arg);

/* "v42$" → 42; 0 if NAME is not of that form. */
uint64_t view_vdir_version(const char *name);

#endif
