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
#define WRITEDOWN_EOI    ".smfs/eoi"   /* the IDB's intervals, one per line */

struct wd_opts {
    const struct cfg *cfg;
    int32_t     date;           /* the day that ended (days since 2000.01.01) */
    const char *id;             /* the spill's identity: written once */
    int         threads;        /* column writers (0: the CPUs, at most 8) */
    int32_t     oldest;         /* rows of an earlier date are refused (INT32_MIN: none) */
    void      (*note)(void *arg, const char *line);   /* warnings, one line each */
    void      (*progress)(void *arg, const char *current, uint64_t done, uint64_t total);
    void       *arg;
    /* writedown_eoi only: interval INTERVAL (0, 1, ...) of the spill, its rows
     * [from[t], to[t]) of each table (assembly order), ending at END_NS. */
    int64_t         interval;
    const uint64_t *from, *to;
    int64_t         end_ns;
};

struct wd_summary {
    uint64_t version;           /* 0 when nothing was committed */
    bool     already;           /* the spill was written before: nothing done */
    uint64_t rows, late_rows, refused_rows, partitions, files, bytes, new_syms;
    int32_t  first, last;       /* the dates written */
    int64_t  ordinal;           /* writedown_eoi: the IDB partition written */
};

int writedown_eod(struct store *s, struct spill *sp, const struct wd_opts *o, struct wd_summary *sum,
                  struct smfs_err *err) __attribute__((warn_unused_result));

/* An end of interval: the rows of an open spill's interval (read through
 * spill_open_ro) as the next ordinal partition of the IDB (idb/<n>/<table>, every
 * partitioned table, sorted by sortColsOrd, attrOrd), in one commit; recorded in
 * .smfs/eoi with its end, so it is written once. The end of day of the same spill
 * removes its intervals from the IDB in its own commit. */
int writedown_eoi(struct store *s, struct spill *sp, const struct wd_opts *o, struct wd_summary *sum,
                  struct smfs_err *err) __attribute__((warn_unused_result));
/* The end of the last interval the IDB of SNAP holds (ns since 1970; KNULL_J: none). */
int writedown_idb_end(struct store *s, struct store_snap *snap, int64_t *end_ns, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Whether the current version records ID as written. */
int writedown_done(struct store *s, const char *id, bool *done, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
