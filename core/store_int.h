/* core/store_int.h: private types of core/store*. Only core/store*.c include this.
 *
 * Locking. Order: s->wlock before s->idx. Never hold idx across an fsync, a file
 * copy or a callback.
 *   [I]  immutable after store_open
 *   [X]  guarded by s->idx (readers: rdlock; the writer publishes under wrlock)
 *   [W]  the writer only (holder of s->wlock); the writer may read [X] fields without
 *        idx because it is their only mutator
 *   [A]  atomic */
#ifndef SMFS_STORE_INT_H
#define SMFS_STORE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "buf.h"
#include "store.h"
#include "u64map.h"

/* ---- pack log (store_pack.c) ---- */

#define PACK_MAGIC      "SMFSPACK"
#define PACK_FORMAT     1u
#define PACK_HDR        32u
#define REC_MAGIC       0x52504d53u   /* "SMPR" */
#define REC_HDR         32u
#define REC_MAX         (16u << 20)   /* largest record we write or accept */

enum rec_type {
    REC_TREE    = 1,   /* id = tree id; payload: store_tree.c */
    REC_COMMIT  = 2,   /* id = version; a commit point */
    REC_DROP    = 3,   /* id = 0; versions vacuum dropped; a commit point */
    REC_COMPACT = 4,   /* id = first pack still needed; a commit point */
};

struct pack {
    uint32_t seq;
    int      fd;       /* open for the last pack only (appends), else -1 */
    uint8_t *map;      /* PROT_READ, MAP_SHARED, `reserve` bytes long */
    size_t   reserve;
    uint64_t size;     /* bytes of whole records (the committed end for readers) */
};

/* A location in the log: pack sequence number and offset (8-aligned). */
static inline uint64_t loc_make(uint32_t seq, uint64_t off) { return (uint64_t)seq << 32 | off >> 3; }
static inline uint32_t loc_seq(uint64_t loc) { return (uint32_t)(loc >> 32); }
static inline uint64_t loc_off(uint64_t loc) { return (loc & 0xffffffffu) << 3; }

static inline uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* The order of names in a tree: bytewise, the shorter first on a tie. */
static inline int store_name_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

/* ---- versions ---- */

struct ver {
    uint64_t    version, parent, root, next_oid, next_tid;
    int64_t     time_ns;
    uint64_t    loc;      /* its commit record */
    atomic_uint pins;     /* snapshots holding it */
};

struct store {
    char              home[PATH_MAX];       /* [I] */
    int               home_fd, lock_fd;     /* [I] */
    int               packs_fd;             /* [I] the packs/ directory */
    struct store_tier tiers[STORE_TIERS_MAX];  /* [I] */
    size_t            ntiers;               /* [I] */
    int               obj_fd[STORE_TIERS_MAX];  /* [I] each tier's objects/ */
    bool              no_sync;              /* [I] */
    uint64_t          pack_max;             /* [I] */

    pthread_mutex_t   wlock;                /* one transaction or vacuum at a time */
    pthread_rwlock_t  idx;

    struct pack      *packs;                /* [X] consecutive sequence numbers */
    size_t            npacks;               /* [X] */
    struct u64map     tids;                 /* [X] tree id → loc */
    struct ver       *vers;                 /* [X] sorted by version */
    size_t            nvers, capvers;       /* [X] */
    _Atomic uint64_t  current;              /* [X][A] readable without idx */

    uint64_t          next_oid, next_tid;   /* [W] */
    atomic_bool       broken;               /* [W] written, [A] read anywhere (health):
                                               a failed index write; no write until
                                               store_repair_locked cut the log back */
    pthread_mutex_t   why_mu;               /* guards broken_why only; never held long */
    char              broken_why[ERR_MSG_MAX];  /* [why_mu] what failed */
    bool              needs_reopen;         /* [W] broken in a way only a reopen mends */
    uint32_t          synced_seq;           /* [W] the log's end at the last successful */
    uint64_t          synced_off;           /*     pack_sync: a durable, whole prefix */
};

/* A failed index write or sync: no write until the log is cut back (store_repair_locked),
 * since the page cache may hold a torn record past the last sync. WHY (may be NULL)
 * says what failed. */
void store_mark_broken(struct store *s, const struct smfs_err *why);
/* Cut the log back to its end at the last successful sync and make that durable:
 * then memory and disk agree again and writes may go on. -EIO (and broken stays)
 * if the cut cannot be made. With the writer lock held. */
int  store_repair_locked(struct store *s, struct smfs_err *err);

/* A store's directories: its owner, and its group, may enter them; nobody else may
 * reach an object but through what serves it (the FUSE mount checks each reader
 * against the view's modes; a symlink tree shared with other users needs them in the
 * store's group). */
#define STORE_DIR_MODE 0750

/* store_pack.c */
int  pack_open_all(struct store *s, struct store_recovery *rep, struct smfs_err *err);
void pack_close_all(struct store *s);
int  pack_create(struct store *s, uint32_t seq, struct smfs_err *err);
/* Record at LOC: header checked (magic, bounds); *p points at the payload. */
int  pack_record(struct store *s, uint64_t loc, uint8_t *type, uint64_t *id,
                 const uint8_t **p, uint32_t *len, struct smfs_err *err);
/* Append a record to the last pack (rolling over past pack_max); *loc where it went.
 * Not durable until pack_sync. A failure marks the store broken. */
int  pack_append(struct store *s, uint8_t type, uint64_t id, const void *p, uint32_t len,
                 uint64_t *loc, struct smfs_err *err);
int  pack_sync(struct store *s, struct smfs_err *err);
uint64_t rec_sum(const uint8_t *hdr, const uint8_t *payload, uint32_t len);
struct pack *pack_by_seq(struct store *s, uint32_t seq);
/* Parse a commit payload into V (pins zero). */
int  commit_parse(const uint8_t *p, uint32_t len, uint64_t version, struct ver *v,
                  struct smfs_err *err);

/* store.c */
int  vers_reserve_locked(struct store *s);   /* room for one more version */
int  vers_insert_locked(struct store *s, const struct ver *v);
void vers_insert_reserved_locked(struct store *s, const struct ver *v);  /* capacity checked */
struct ver *vers_find_locked(struct store *s, uint64_t version);
void vers_remove_locked(struct store *s, uint64_t version);
int  store_path_split(const char *path, const char **comp, size_t *clen, size_t *n,
                      struct smfs_err *err);
int  object_rel(uint64_t oid, char *buf, size_t len);   /* "xx/0000…": no error path */
/* Read FROM to its end, hashing it (XXH3-64) and, when TO >= 0, writing it to TO.
 * BUF is scratch of OBJ_CHUNK bytes; WHAT names the file in errors. */
#define OBJ_CHUNK (1u << 20)
int  obj_hash(int from, int to, uint8_t *buf, const char *what, const char *dst, uint64_t *size,
               uint64_t *sum, struct smfs_err *err);

/* store_tree.c: the tree payload format. */
#define TREE_HDR       24u
#define TREE_ENT       48u
#define TREE_IDX_ENT   24u
#define TREE_CHUNK_MIN 16u    /* entries before a content-defined boundary may fall */
#define TREE_CHUNK_MAX 256u   /* entries after which one always falls */
#define TREE_FLAT_MAX  64u    /* directories up to this size are one record */

struct tree_view {        /* a checked tree record in the log */
    const uint8_t *p;
    uint32_t       len;
    uint8_t        level;  /* 0: entries; 1: index of chunks */
    uint32_t       n, total;
    int64_t        mtime_ns;
    const uint8_t *names;
    uint32_t       names_len;
};
int  tree_get_locked(struct store *s, uint64_t tid, struct tree_view *t, struct smfs_err *err);
int  tree_entry_at(const struct tree_view *t, uint32_t i, struct store_entry *e,
                   struct smfs_err *err);
int  tree_find_locked(struct store *s, uint64_t tid, const char *name, size_t nlen,
                      struct store_entry *e, struct smfs_err *err);
int  tree_read_locked(struct store *s, uint64_t tid, uint64_t start, struct store_entry *ents,
                      size_t max, size_t *n, struct smfs_err *err);
/* Index entry I of a level-1 tree: the chunk's tree id and entry count. */
int  tree_chunk_at(const struct tree_view *t, uint32_t i, uint64_t *tid, uint32_t *count,
                   struct smfs_err *err);
/* An entry as a transaction holds it: the name is the transaction's. */
struct tree_ent {
    char    *name;
    uint16_t nlen;
    uint8_t  kind, tier, flags;
    uint16_t mode;
    uint64_t id, size, sum;
    int64_t  mtime_ns;
};
/* Encode ENTS (sorted) as one level-0 payload, or an index of chunks. */
struct buf;
int  tree_encode_leaf(struct buf *b, const struct tree_ent *ents, size_t n, int64_t mtime);
int  tree_encode_index(struct buf *b, const uint64_t *tids, const uint32_t *counts,
                       const struct tree_ent *const *firsts, size_t n, int64_t mtime);
bool tree_boundary(const struct tree_ent *e, size_t in_chunk);
bool store_name_ok(const char *name, size_t len);

/* store_vacuum.c: the mark phase, shared with verify. */
int mark_version_locked(struct store *s, uint64_t root, struct u64map *tids,
                        struct u64map *objs, struct smfs_err *err);
static inline uint64_t obj_key(uint64_t oid, unsigned tier) { return oid << 4 | tier; }

#endif
