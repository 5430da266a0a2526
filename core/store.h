/* core/store.h: the tier store. Immutable object files (one per kdb+ file, under each
 * tier's objects/) plus an append-only log of pack files (packs/p00000001.pack…) in the
 * home directory, holding copy-on-write directory trees and one commit record per
 * version. Formats: store_pack.c (log, records, recovery) and store_tree.c (trees).
 * Owns:    everything under the home directory and under objects/ of each tier
 *          directory named in <home>/STORE; an exclusive flock on <home>/lock for as
 *          long as it is open (one process at a time: the daemon, or an offline smctl).
 * Never:   knows FUSE, sockets or q IPC; rewrites a durable object; removes anything
 *          a kept version references; exits the process.
 * Threads: one writer at a time (a transaction or a vacuum; both take the writer
 *          mutex, so a second waits); any number of reader threads. Readers pin a
 *          version with store_snap_get and then look up, list and open without
 *          waiting on the writer except for the instant a commit is published.
 * Sequence: store_create (once) → store_open → store_tx_begin → store_tx_put_* /
 *          store_tx_remove / store_tx_move → store_tx_commit (durable on return) |
 *          store_tx_abort → … → store_vacuum → store_close.
 * Crash:   store_open finds exactly the last version whose commit record is intact;
 *          the order that makes this true is explained in store_tx.c and store_pack.c.
 * Identity: a file's id is its object id: stable across versions and tier moves, new
 *          whenever its bytes change. A directory's id is its tree id: stable while
 *          nothing under it changes. Ids never repeat in one store, so the FUSE layer
 *          derives inode numbers from them.
 * Errors:  every fallible call returns 0 or -errno and fills *err with what, where, why.
 *          -EIO means a checksum or structure check failed: the data is never returned. */
#ifndef SMFS_STORE_H
#define SMFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_NAME_MAX   255            /* one path component */
#define STORE_DEPTH_MAX  32             /* components in a path */
#define STORE_TIERS_MAX  16
#define STORE_PACK_MAX   (2ull << 30)   /* a pack rolls over past this size */
#define STORE_KV_MAX     64             /* metadata pairs per commit */

struct store;
struct store_snap;
struct store_tx;

enum store_kind { STORE_FILE = 1, STORE_DIR = 2 };

/* Entry flags. */
#define STORE_F_NOSUM  0x01u  /* taken in without reading (import --no-verify): no checksum */
#define STORE_F_REMOTE 0x02u  /* the bytes live in object storage (core/tiers says where); the
                                 store keeps their size and checksum, never a local object */

/* One name in a directory, copied out of the index (the caller owns it). */
struct store_entry {
    char     name[STORE_NAME_MAX + 1];
    uint8_t  kind;       /* enum store_kind */
    uint8_t  tier;       /* file: index of the tier directory holding the object */
    uint8_t  flags;      /* STORE_F_* */
    uint64_t id;         /* file: object id; dir: tree id */
    uint64_t size;       /* file: bytes; dir: number of entries */
    uint64_t sum;        /* file: XXH3-64 of the bytes (unless STORE_F_NOSUM) */
    int64_t  mtime_ns;   /* file: when taken in; dir: when the tree was written */
    uint16_t mode;       /* file taken by hard link: its permission bits when taken (a
                            rollback gives them back; the store makes it 0444 once its
                            original name is gone); 0: a file the store wrote (0444) */
};

/* A tier directory: where objects of that tier live. Tier 0 is the home directory. */
struct store_tier {
    char name[64];
    char path[4096];
};

struct store_opts {
    bool     no_sync;     /* skip fdatasync/syncfs: only for building bench and test
                           * fixtures; a crash may then lose or tear recent versions */
    uint64_t pack_max;    /* 0: STORE_PACK_MAX */
    const struct store_tier *tier_override;   /* paths by name, e.g. from the assembly */
    size_t   ntier_override;
};

/* What store_open found and set aside. */
struct store_recovery {
    uint64_t version;            /* current version after open (0: empty store) */
    uint64_t discarded_bytes;    /* torn or uncommitted tail cut off the log */
    uint32_t discarded_records;  /* whole records in that tail */
    uint32_t removed_packs;      /* packs emptied by a finished compaction, or tail packs */
    char     note[512];          /* one line for the log; empty when nothing happened */
};

/* A committed version as `store log` shows it. Strings are copies the caller frees
 * with store_versions_free. */
struct store_version {
    uint64_t version, parent, root;
    int64_t  time_ns;
    uint32_t pins;               /* snapshots holding it now */
    size_t   nkv;
    char    *key[STORE_KV_MAX];  /* "kind" first when set */
    char    *val[STORE_KV_MAX];
};

/* ---- the store ---------------------------------------------------------------- */

/* Make an empty store: HOME (created if missing, must be empty of store files), with
 * TIERS[0] naming HOME's own tier and the others their directories (created). A tier
 * path may be NULL or "" for tier 0. Durable on return. */
int store_create(const char *home, const struct store_tier *tiers, size_t ntiers,
                 struct smfs_err *err) __attribute__((warn_unused_result));

/* HOME holds a store (store_create finished there: its STORE file exists). */
bool store_exists(const char *home);

/* Open HOME: take the lock (-EBUSY "store … is in use by process N" if another
 * process holds it), scan the log, cut off a torn tail (reported in *rep, which may be
 * NULL), and remove packs a finished compaction left behind. -EIO if the log is
 * damaged before its last commit (that is corruption, not a crash). */
int store_open(const char *home, const struct store_opts *opts, struct store **out,
               struct store_recovery *rep, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Write this process's pid into the lock file again: after a fork (the daemon
 * detaching from its terminal) the flock is inherited but the pid there is the
 * parent's, and "in use by process N" must name the holder. */
int store_lock_pid(struct store *s, struct smfs_err *err) __attribute__((warn_unused_result));

/* Release everything. Every snapshot must have been released; no tx may be open. */
void store_close(struct store *s);

uint64_t store_current(struct store *s);          /* 0: no version yet */

/* Whether an index write or sync failed (a full disk, an I/O error) and writes are
 * held until the log is cut back; *WHY (may be NULL) says what failed. Any thread,
 * never blocks on a running commit. */
bool store_broken(struct store *s, char *why, size_t n);
/* Cut the log back to its last sync point so writes may go on (the next transaction
 * or vacuum does this by itself); 0, or -EIO with *err saying why not (then only a
 * reopen mends it). Takes the writer lock: not on a thread that must not wait. */
int store_repair(struct store *s, struct smfs_err *err) __attribute__((warn_unused_result));
const char *store_home(const struct store *s);    /* borrowed, valid until close */
size_t store_ntiers(const struct store *s);
const struct store_tier *store_tier(const struct store *s, size_t i);  /* NULL if out of range */

/* The kept versions, oldest first. */
int store_versions(struct store *s, struct store_version **out, size_t *n,
                   struct smfs_err *err) __attribute__((warn_unused_result));
void store_versions_free(struct store_version *v, size_t n);

/* ---- reading ------------------------------------------------------------------ */

/* Pin VERSION (0: the current one) until store_snap_put. A pinned version is never
 * vacuumed. -ENOENT if it does not exist or was vacuumed. */
int store_snap_get(struct store *s, uint64_t version, struct store_snap **out,
                   struct smfs_err *err) __attribute__((warn_unused_result));
void store_snap_put(struct store_snap *snap);
uint64_t store_snap_version(const struct store_snap *snap);
uint64_t store_snap_root(const struct store_snap *snap);   /* tree id of its root */

/* What a version holds in each tier: its files and their bytes (a file named twice
 * counts twice: this is what readers of the version see). The index alone is read. */
struct store_usage {
    uint64_t bytes[STORE_TIERS_MAX], files[STORE_TIERS_MAX];
    uint64_t remote_bytes, remote_files;   /* STORE_F_REMOTE entries */
};
int store_snap_usage(struct store *s, const struct store_snap *snap, struct store_usage *u,
                     struct smfs_err *err) __attribute__((warn_unused_result));

/* PATH relative to the root, '/'-separated ("" or "/": the root itself). -ENOENT,
 * -ENOTDIR (a file in the middle), -EINVAL (a bad component such as ".."), -EIO. */
int store_lookup(struct store_snap *snap, const char *path, struct store_entry *out,
                 struct smfs_err *err) __attribute__((warn_unused_result));

/* NAME in directory tree DIR (a tree id from an entry of a pinned version). */
int store_dir_lookup(struct store *s, uint64_t dir, const char *name,
                     struct store_entry *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Up to MAX entries of DIR from index START (names in byte order); *n says how many.
 * Stateless, so FUSE readdir offsets are indices. */
int store_dir_read(struct store *s, uint64_t dir, uint64_t start, struct store_entry *ents,
                   size_t max, size_t *n, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* The object file of a file entry: its path, and an O_RDONLY fd (caller closes).
 * -EREMOTE for an entry whose bytes are in object storage. */
int store_object_path(const struct store *s, const struct store_entry *e, char *buf,
                      size_t len, struct smfs_err *err) __attribute__((warn_unused_result));
int store_object_open(const struct store *s, const struct store_entry *e,
                      struct smfs_err *err) __attribute__((warn_unused_result));

/* ---- writing ------------------------------------------------------------------ */

/* Start a transaction on top of the current version. Blocks while another
 * transaction or a vacuum runs. */
int store_tx_begin(struct store *s, struct store_tx **out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Add or replace the file PATH (parents are created) with the object in TIER. */
int store_tx_put_bytes(struct store_tx *tx, const char *path, const void *p, size_t n,
                       unsigned tier, struct smfs_err *err) __attribute__((warn_unused_result));
/* Copy from FD (read from its current offset to EOF; the caller keeps FD). */
int store_tx_put_fd(struct store_tx *tx, const char *path, int fd, unsigned tier,
                    struct smfs_err *err) __attribute__((warn_unused_result));

enum store_take {
    STORE_TAKE_RENAME = 1,   /* move SRC into the store; SRC is gone afterwards */
    STORE_TAKE_LINK   = 2,   /* hard-link SRC; it stays where it is */
    STORE_TAKE_COPY   = 3,   /* copy SRC's bytes; SRC is left alone */
};
/* Take the file SRC without copying its data when it is on the tier's filesystem;
 * otherwise copy it (and, for RENAME, unlink SRC once the commit is durable).
 * VERIFY reads the bytes to record a checksum; without it the entry is STORE_F_NOSUM. */
int store_tx_put_file(struct store_tx *tx, const char *path, const char *src,
                      enum store_take how, bool verify, unsigned tier,
                      struct smfs_err *err) __attribute__((warn_unused_result));

/* Name bytes that are in object storage: SIZE bytes hashing to SUM (XXH3-64) when
 * CHECKED (written and verified there by the caller), else unread (STORE_F_NOSUM, as an
 * import that only listed them); the entry gets a new id (an inode of its own) and
 * STORE_F_REMOTE. Nothing is written to a tier. */
int store_tx_put_remote(struct store_tx *tx, const char *path, uint64_t size, uint64_t sum, bool checked,
                        struct smfs_err *err) __attribute__((warn_unused_result));

/* Name an existing object again, e.g. a file of a kept version under a new path. */
int store_tx_put_entry(struct store_tx *tx, const char *path, const struct store_entry *e,
                       struct smfs_err *err) __attribute__((warn_unused_result));

/* Remove the file or the whole directory PATH. -ENOENT if absent. */
int store_tx_remove(struct store_tx *tx, const char *path, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Move every file at or under PATH to TIER: copy, check the copy's checksum, and
 * point the entries at it. The old copies go when no kept version needs them.
 * -EREMOTE for a file in object storage (it has no local copy to move). */
int store_tx_move(struct store_tx *tx, const char *path, unsigned tier, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Metadata of the commit: "kind" (import, ingest, writedown, migrate…) and free-form
 * pairs such as the reload signal. Copied. A key set twice keeps the last value. */
int store_tx_set(struct store_tx *tx, const char *key, const char *val, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Look up PATH as the transaction now has it (entries written so far included). */
int store_tx_lookup(struct store_tx *tx, const char *path, struct store_entry *out,
                    struct smfs_err *err) __attribute__((warn_unused_result));

/* Make the transaction version N = current + 1, durable when this returns 0, and free
 * TX. On failure the transaction is aborted and freed, the current version is
 * unchanged, and a failure at or after the first index write leaves the store
 * refusing further writes until it is reopened ("needs reopen"). */
int store_tx_commit(struct store_tx *tx, uint64_t *version, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Drop the transaction; objects it wrote are removed. */
void store_tx_abort(struct store_tx *tx);

/* ---- vacuum and verify ---------------------------------------------------------- */

struct store_vacuum_opts {
    uint32_t keep;          /* keep this many newest versions besides pinned ones (>= 1) */
    double   compact_below; /* compact a pack whose live share is below this (0: 0.5) */
};

struct store_vacuum_report {
    uint32_t versions_dropped;
    uint32_t versions_kept;
    uint64_t objects_removed;
    uint64_t object_bytes;     /* bytes of the removed objects */
    uint32_t packs_removed;
    uint64_t pack_bytes;       /* bytes of index given back (removed packs minus copies) */
};

int store_vacuum(struct store *s, const struct store_vacuum_opts *o,
                 struct store_vacuum_report *rep, struct smfs_err *err)
        __attribute__((warn_unused_result));

struct store_verify_report {
    uint32_t versions, trees;
    uint64_t objects, bytes;
    uint64_t unchecked;          /* STORE_F_NOSUM objects: present and sized only */
    uint64_t remote;             /* STORE_F_REMOTE entries: in object storage, not read here */
    uint64_t problems;
};

/* Re-read every record of the log and every object of every kept version, checking
 * each checksum, size and tree. Each problem is passed to REPORT (may be NULL) as one
 * line; returns -EIO if there was any (the first in *err), 0 when all is right. */
int store_verify(struct store *s, void (*report)(void *arg, const char *line), void *arg,
                 struct store_verify_report *rep, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Where a verify is: objects and bytes checked so far, of the totals every kept
 * version names (counted before the first object is read). */
struct store_verify_progress {
    uint64_t objects_done, objects_total, bytes_done, bytes_total;
};
/* store_verify that also calls PROGRESS (may be NULL) after each object, on the
 * calling thread, with the store's writer lock held: it must only note or print. */
int store_verify_with_progress(struct store *s, void (*report)(void *arg, const char *line),
                               void (*progress)(void *arg, const struct store_verify_progress *p),
                               void *arg, struct store_verify_report *rep, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
