/* core/gen.h: a deterministic, realistic date-partitioned HDB, written with our own
 * kdb+ writer (core/kdb). What the demo, the tests and the benchmarks run on.
 *   DIR/sym                           the enumeration domain (ff01 symbol list)
 *   DIR/YYYY.MM.DD/<table>/.d         column names, sym first (as .Q.dpft writes)
 *   DIR/YYYY.MM.DD/<table>/<col>      sym (enum of `sym, sorted by sym), time
 *                                     (timestamp), floats, longs, char, and a string
 *                                     column (nested char: col + col#)
 * Tables: trade (sym time price size ex cond), quote (sym time bid ask bsize asize ex
 * mode), and any NAME:N (sym time x2 .. x<N-1>, float and long: the many-files shapes
 * of bench/read). Every table in every partition; weekdays only from the start date.
 * Rows are sorted by sym then time, ready for p#, but the attribute itself is not
 * written: its index structures are undocumented (see kdb.h).
 * Owns:    nothing beyond the call.
 * Never:   depends on anything but its options (same seed → same bytes); leaves a
 *          table without its .d written last (.d marks a complete table).
 * Errors:  0 or -errno; *err names the file. */
#ifndef SMFS_GEN_H
#define SMFS_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "kdb.h"

#define GEN_MAX_DAYS 100000
#define GEN_MAX_ROWS ((int64_t)1 << 31)
#define GEN_MAX_TABLES 64
#define GEN_MAX_COLS   256

struct gen_opts {
    const char *dir;          /* created if missing; must not hold partitions already */
    int         days;         /* partitions, >= 1 */
    int64_t     rows;         /* rows per table per partition, >= 0 */
    const char *tables;       /* comma list of trade, quote and NAME:COLUMNS (a wide table:
                                 sym, time, then x2.. float and long); NULL = trade,quote */
    uint64_t    seed;
    int32_t     start;        /* first date (days since 2000.01.01); a weekend moves on */
    struct kdb_zparams zip;   /* alg 0: uncompressed */
    unsigned    enc_flags;    /* KDB_ENC_* */
    /* After each partition (DONE of TOTAL, bytes written so far); may be NULL. */
    void      (*progress)(void *arg, int done, int total, uint64_t bytes);
    void       *arg;
};

struct gen_stats {
    int      partitions;
    int      tables;
    uint64_t files;
    uint64_t bytes;           /* bytes written (on disk) */
    int64_t  symbols;         /* size of the sym domain */
};

/* Fill *o with defaults: both tables, seed 1, start 2024.01.02, uncompressed. */
void gen_defaults(struct gen_opts *o);

int gen_hdb(const struct gen_opts *o, struct gen_stats *st, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
