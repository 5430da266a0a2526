/* core/writedown.h: a day's rows (a sealed intraday store, core/spill) written as date
 * partitions of the database in one commit -- what kdb+tick's .u.end with .Q.hdpf, or a
 * TorQ write-down process, does, without their half-written day on a crash.
 *
 * For every partitioned table, the rows are split by the date of their partition
 * column; each date becomes (or, for a date already written, replaces) a partition of
 * the first date tier (of the tier that already holds it): sorted by the table's
 * sortColsDisk (default: the attrDisk parted column, then the partition column), p# on
 * the parted column and s# on a first sort column that is not it (as q's xasc leaves
 * it), symbols enumerated against the database's sym (new names appended in the same
 * commit), .d in schema order, the tier's compression. A date already in the database
 * (late rows) is merged: its rows and the new ones sorted together. Every partitioned
 * table gets a partition on every date written, empty if it had no rows. Splayed and
 * basic tables with rows are replaced at the root. The spill's identity is recorded in
 * the commit (.smfs/eod in the version's tree, which the view hides), so a writedown
 * repeated after a crash between the commit and the spill's removal writes nothing.
 *
 * Owns:    its threads (column writers) for the duration of the call.
 * Never:   changes the database but through one store transaction (a crash leaves the
 *          version before or after); loses a row (an error aborts the commit and leaves
 *          the spill as it was); writes a structure kdb+ could misread (an attribute the
 *          evidence does not cover is left out, and said).
 * Threads: one call at a time per store (the store's writer lock); it runs column
 *          writers of its own.
 * Errors:  0 or -errno with *err naming the table, the date, the column. */
#ifndef SMFS_WRITEDOWN_H
#define SMFS_WRITEDOWN_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "spill.h"
#include "store.h"

#define WRITEDOWN_MARKER ".smfs/eod"   /* the written spills, one per line */

struct wd_opts {
    const struct cfg *cfg;
    int32_t     date;           /* the day that ended (days since 2000.01.01) */
    const char *id;             /* the spill's identity: written once */
    int         threads;        /* column writers (0: the CPUs, at most 8) */
    int32_t     oldest;         /* rows of an earlier date are refused (INT32_MIN: none) */
    void      (*note)(void *arg, const char *line);   /* warnings, one line each */
    void      (*progress)(void *arg, const char *current, uint64_t done, uint64_t total);
    void       *arg;
};

struct wd_summary {
    uint64_t version;           /* 0 when nothing was committed */
    bool     already;           /* the spill was written before: nothing done */
    uint64_t rows, late_rows, refused_rows, partitions, files, bytes, new_syms;
    int32_t  first, last;       /* the dates written */
};

int writedown_eod(struct store *s, struct spill *sp, const struct wd_opts *o, struct wd_summary *sum,
                  struct smfs_err *err) __attribute__((warn_unused_result));

/* Whether the current version records ID as written. */
int writedown_done(struct store *s, const char *id, bool *done, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
