/* core/tiers.h: where each date partition belongs as it ages, and moving it there.
 * A date tier keeps a partition while it is younger than its retain.time and while the
 * tier's filesystem is within retain.sizePct (whichever is hit first, sm-spec §8.3);
 * then the partition goes to the next tier that would keep it, recompressed as that
 * tier says (compression), its bytes checked on the way out and again once written;
 * past the last tier it is deleted. All the moves of one run are one commit (kind
 * "migrate"), so readers see every partition in exactly one tier, before or after.
 *
 * Store tier k is the k-th local date tier of the assembly (the one with a segment);
 * an object-storage tier has no store tier: its partitions are uploaded (tiers_s3.c,
 * which says in what order and why) and named in the tree under .smfs/s3/<tier>. Its
 * data is immutable: the writedown refuses rows for a date it holds.
 *
 * Owns:    nothing beyond the call.
 * Never:   changes the database but through one store transaction (a crash leaves the
 *          version before or after, and vacuum removes the copies of an unfinished run);
 *          writes a copy it has not read back and compared with the source; moves a
 *          partition into a tier that would not keep it.
 * Threads: one call at a time per store (it runs a transaction: the writer lock).
 * Errors:  0 or -errno with *err naming the date, the tier and the file. */
#ifndef SMFS_TIERS_H
#define SMFS_TIERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "s3.h"
#include "store.h"

/* Store tier of date tier I (cfg->date_tiers[I]); -1 if it is not a local tier. */
int tiers_store_index(const struct cfg *c, size_t i);

/* The K-th local date tier (store tier K); NULL past the last. */
const struct cfg_tier *tiers_local(const struct cfg *c, unsigned k);

/* The store tree's directory naming object-storage tier T's partitions:
 * ".smfs/s3/<name>" (hidden from the view; kdb+ reads the bucket through par.txt's
 * s3:// line). -ENAMETOOLONG if it does not fit N. */
int tiers_s3_dir(const struct cfg_tier *t, char *out, size_t n);

/* Date D is in object-storage tier T in SNAP (its data there is immutable). */
bool tiers_in_object_tier(struct store_snap *snap, const struct cfg_tier *t, int32_t d);

/* How tier T compresses what it is given; NULL: stored uncompressed (T may be NULL). */
const struct kdb_zparams *tiers_zip(const struct cfg_tier *t);

/* The oldest date tier T keeps by time at NOW_NS (ns since 1970): a partition of date D
 * has aged out when its day ended retain.time or more before now. INT32_MIN when T has
 * no retain.time. Months and years are calendar ones (a month back from 31 March is
 * the last of February). */
int32_t tiers_oldest_kept(const struct cfg_tier *t, int64_t now_ns);

/* The filesystem under a tier's store. */
struct tier_fs {
    bool     known;
    uint64_t size, used;   /* bytes */
};
int tiers_fs(const char *path, struct tier_fs *fs, struct smfs_err *err)
        __attribute__((warn_unused_result));

enum tier_why { TIER_AGE = 1, TIER_SIZE };

/* One partition to move (or delete) and why. */
struct tier_move {
    int32_t       date;
    int           from, to;      /* date tier indexes; to == ndate: deleted */
    enum tier_why why;
    bool          held;          /* it stays where it is, said in a note: its destination is
                                    object storage that cannot be written now (no
                                    credentials, unreachable) or already holds that date */
    uint64_t      files, bytes;  /* in its tier now */
    uint64_t      bytes_out;     /* once written in the destination (after the run) */
};

struct tiers_opts {
    const struct cfg *cfg;
    int64_t  now_ns;             /* ns since 1970: the clock retention is measured by */
    bool     dry_run;            /* plan only */
    /* The filesystem of each store tier (by store tier index); NULL: measured. */
    const struct tier_fs *fs;
    const struct s3_conf *s3;    /* object storage; NULL: from the AWS variables (s3_conf_env) */
    void   (*note)(void *arg, const char *line);
    void   (*progress)(void *arg, const char *current, uint64_t done, uint64_t total);
    void    *arg;
};

struct tiers_summary {
    uint64_t          version;   /* 0: nothing committed (nothing to do, or a dry run) */
    struct tier_move *moves;     /* every partition past its tier's retention, oldest first */
    size_t            nmoves;
    size_t            moved, deleted, held;
    uint64_t          files, bytes_in, bytes_out;
    uint64_t          s3_puts;      /* objects uploaded */
    uint64_t          s3_adopted;   /* objects an unfinished run had uploaded, found intact */
    uint64_t          s3_removed;   /* objects an unfinished run left and no version names */
};

/* Plan, and unless dry_run, carry out as one commit, every move retention asks for in
 * the current version. sum->moves is the caller's to free (tiers_summary_free). */
int tiers_migrate(struct store *s, const struct tiers_opts *o, struct tiers_summary *sum,
                  struct smfs_err *err) __attribute__((warn_unused_result));
void tiers_summary_free(struct tiers_summary *sum);

#endif
