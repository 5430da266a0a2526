/* core/tiers_int.h: what tiers.c (the plan, moves between local tiers) and tiers_s3.c
 * (uploads to an object-storage tier) share: one migration run, the walk over a
 * partition's files, and the bytes a file is written as in its new tier. */
#ifndef SMFS_TIERS_INT_H
#define SMFS_TIERS_INT_H

#include "buf.h"
#include "kdb.h"
#include "tiers.h"

struct tiers_s3;

struct run {
    struct store            *s;
    struct store_snap       *snap;
    struct store_tx         *tx;
    const struct tiers_opts *o;
    const struct cfg        *cfg;
    struct tiers_summary    *sum;
    size_t                   cap;           /* of sum->moves */
    uint64_t                 done, total;   /* files, for progress */
    struct tiers_s3         *s3;            /* NULL until a move goes to object storage */
};

void tiers_note(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *tiers_name(const struct run *r, int i);   /* date tier I, or "(deleted)" */

/* Every file under directory DIR (a tree id), depth first, with its path below BASE. */
typedef int (*file_fn)(struct run *r, const char *path, const struct store_entry *e, void *arg,
                       struct smfs_err *err);
int tiers_walk(struct run *r, uint64_t dir, const char *base, int depth, file_fn fn, void *arg,
               struct smfs_err *err);

/* A file as its new tier gets it: the source read and checked against the index's
 * checksum, then either as it is (as_is: already compressed as the tier wants, or not
 * a kdb+ file) or recompressed, the compressed bytes decompressed and compared first. */
struct tier_bytes {
    struct kdb_file f;
    bool            opened;
    bool            as_is;
    struct buf      z;
    const uint8_t  *p;       /* the bytes to write */
    size_t          len;
};
int tiers_bytes(struct run *r, const char *path, const char *to, const struct store_entry *e,
                const struct kdb_zparams *zp, struct tier_bytes *b, struct smfs_err *err);
void tiers_bytes_release(struct tier_bytes *b);

/* ---- object storage (tiers_s3.c) ---- */

/* Before carrying out: connect (a failure holds every move to object storage, said in a
 * note), finish what a killed run left in the bucket (its pending markers: objects of
 * a date the store never committed are removed, a committed date's marker goes), and
 * hold a date whose prefix holds objects this store did not write. */
int tiers_s3_prepare(struct run *r, struct smfs_err *err);
/* Upload M's files, verify them by listing, and name them in the transaction. */
int tiers_s3_carry(struct run *r, struct tier_move *m, struct smfs_err *err);
/* After the commit (COMMITTED) or a failure: drop the markers of what was committed,
 * close the connection. */
void tiers_s3_finish(struct run *r, bool committed);

#endif
