/* core/spill.h: one tickerplant log's rows as smfs holds them until they are written
 * down -- the intraday store. Each table of the assembly keeps its columns as files
 * that grow as rows arrive (what kdb+ shops' write-down processes do with a temporary
 * splayed table), so a day never has to fit in memory; a checkpoint makes what was
 * written durable together with where in the log it reaches.
 *
 * Layout of DIR (one per tickerplant log, e.g. <hdb baseURI>/stream/sym2026.02.18):
 *   STATE            text, replaced whole (temp, fsync, rename) at each checkpoint: the
 *                    log, rows per table, bytes of every file, symbols, whether sealed,
 *                    and a checksum line
 *   syms             the log's symbols, NUL-terminated, in first-seen order
 *   <table>/<col>    fixed-width columns: the items as kdb+ lays them out (symbols as
 *                    uint32 indices into syms); nested and mixed columns: int64 end
 *                    offsets per row into <col>#
 *   <table>/<col>#   nested: the items' bytes back to back; mixed: each row's object
 *                    serialized as q does
 * The files may hold more than STATE says (written after the last checkpoint):
 * opening cuts them back, so what a restart finds is exactly a checkpoint, and the
 * tickerplant's log supplies the rest.
 *
 * Owns:    DIR and everything in it, its descriptors, and at most the memory budget
 *          of rows not yet written out (plus the day's distinct symbols).
 * Never:   appends part of an update (every column is checked first: all rows or none);
 *          names bytes in STATE that were not fdatasync'd first; changes a sealed spill.
 * Threads: none; one owner (the stream thread).
 * Sequence: spill_create | spill_open → spill_append* → spill_checkpoint … →
 *          spill_seal → (the writedown reads it) → spill_close → spill_remove.
 * Errors:  0 or -errno with *err naming the table, the column, the file: -EINVAL an
 *          update that does not fit the assembly's schema (which column, what it is,
 *          what the assembly says), -ENOENT a table the assembly does not have, -EROFS
 *          an append to a sealed spill, -EBADMSG a damaged spill (a file shorter than its
 *          checkpoint, a STATE that fails its checksum), -ESTALE a spill written for
 *          another schema. */
#ifndef SMFS_SPILL_H
#define SMFS_SPILL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "k.h"

#define SPILL_BUDGET_DEFAULT ((uint64_t)64 << 20)

struct spill;

struct spill_opts {
    const struct cfg *cfg;     /* the schema; must outlive the spill */
    uint64_t          budget;  /* bytes of rows held in memory before they are written
                                  out (0: SPILL_BUDGET_DEFAULT); a table's blockSize
                                  writes it out sooner */
    const uint64_t   *base;    /* spill_create: rows of each table (assembly order) that
                                  earlier spills of the same log hold (a day ended early
                                  by a manual EOD goes on in a new spill); NULL: none */
};

/* A place in the log the row counts were last known at: message INDEX starts at byte
 * OFFSET, and before it ROWS[t] rows of table t (assembly order) were accepted. */
struct spill_mark {
    uint64_t  offset, index;
    uint64_t *rows;            /* ntables items, owned by the spill */
};

/* Make DIR (which must not exist) a new empty spill for the tickerplant log LOG,
 * durable on return. */
int spill_create(const char *dir, const char *log, const struct spill_opts *o, struct spill **out,
                 struct smfs_err *err) __attribute__((warn_unused_result));
/* Open DIR at its last checkpoint. -ENOENT when DIR has no STATE (a spill whose
 * creation did not finish: remove it). */
int spill_open(const char *dir, const struct spill_opts *o, struct spill **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
/* Open DIR to read what its last checkpoint holds while its owner goes on appending
 * (an end of interval): nothing is cut back or written; appends are -EROFS. */
int spill_open_ro(const char *dir, const struct spill_opts *o, struct spill **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
/* Close without a checkpoint: rows since the last one are dropped from memory (the
 * files keep them, but the next open cuts them back). */
void spill_close(struct spill *sp);
/* rm -r DIR (after its rows are committed to the store). */
int spill_remove(const char *dir, struct smfs_err *err) __attribute__((warn_unused_result));

/* Check DATA, an update's x for TABLE (a table, a list of columns, or a list of
 * atoms for one row, as kdb+tick sends and logs them), against the assembly; then
 * append its rows after the first SKIP (rows already held, during a replay).
 * *ROWS (may be NULL) says how many rows DATA has, appended or skipped. */
int spill_append(struct spill *sp, const char *table, const struct k *data, uint64_t skip, uint64_t *rows,
                 struct smfs_err *err) __attribute__((warn_unused_result));

/* Compare a tickerplant's schema for TABLE (the empty table .u.sub answers) with the
 * assembly: the same columns in the same order, each of the type the assembly says.
 * 0, or -EINVAL naming the table, the column and both types (-ENOENT: the assembly
 * has no TABLE). *UNTYPED counts the tickerplant's untyped columns (an empty general
 * list where the assembly has a typed column): each update is checked instead. */
int spill_schema_check(const struct cfg *cfg, const char *table, const struct k *schema, size_t *untyped,
                       struct smfs_err *err) __attribute__((warn_unused_result));

/* Make every row appended so far durable, with MARK (may be NULL: keep the last) as
 * where in the log the row counts are known. */
int spill_checkpoint(struct spill *sp, const struct spill_mark *mark, struct smfs_err *err)
        __attribute__((warn_unused_result));
/* Checkpoint and mark the spill finished: the day DATE (days since 2000.01.01) is
 * over and nothing more may be appended. */
int spill_seal(struct spill *sp, int32_t date, struct smfs_err *err) __attribute__((warn_unused_result));

const char *spill_dir(const struct spill *sp);
const char *spill_log(const struct spill *sp);
bool        spill_sealed(const struct spill *sp, int32_t *date);
/* Rows of TABLE held (-1 for a table the assembly does not have), and the rows of the
 * same log that earlier spills hold (spill_opts.base). */
int64_t     spill_rows(const struct spill *sp, const char *table);
uint64_t    spill_base(const struct spill *sp, const char *table);
/* The last mark (rows: NULL when none was ever set). */
const struct spill_mark *spill_mark(const struct spill *sp);
/* Updates taken into the spill (the stream's position for its _prtnEnd: kept with the
 * checkpoint). */
void        spill_count_msg(struct spill *sp);
uint64_t    spill_msgs(const struct spill *sp);

struct spill_stats {
    uint64_t rows, bytes_disk, bytes_mem, syms, checkpoints;
};
void spill_stats(const struct spill *sp, struct spill_stats *st);

/* Intervals cut from the spill (end of interval): when each ended (ns since 1970) and
 * the rows each table held then; interval k holds rows [rows of k-1, rows of k). */
struct spill_eoi {
    int64_t   end_ns;
    uint64_t *rows;            /* ntables, assembly order */
};
/* Cut an interval now (ending at END_NS): recorded durably with a checkpoint. */
int spill_add_eoi(struct spill *sp, int64_t end_ns, struct smfs_err *err) __attribute__((warn_unused_result));
size_t spill_neoi(const struct spill *sp);
const struct spill_eoi *spill_eoi(const struct spill *sp, size_t k);

/* How a column is held (the writedown reads the files through spill_map_table). */
enum spill_kind {
    SPILL_FIXED = 1,   /* items of the column's type, k_width bytes each */
    SPILL_SYM,         /* uint32 indices into the spill's symbols */
    SPILL_NESTED,      /* int64 end offsets into heap; items of the column's type there */
    SPILL_NSYM,        /* the same, each item uint32 symbol indices */
    SPILL_MIXED,       /* the same, each item one object serialized as q does */
};

struct spill_colmap {
    const struct cfg_column *c;
    enum spill_kind kind;
    int8_t          type;      /* of one item; 0 for mixed */
    int             w;         /* bytes per row in data: the width, 4, or 8 (an offset) */
    const uint8_t  *data, *heap;
    size_t          len, heaplen;
};

struct spill_tabmap {
    const struct cfg_table *t;
    uint64_t               rows;
    struct spill_colmap   *cols;
    size_t                 ncols;
    void                  *maps;   /* internal */
};

/* Write TABLE's rows out and map its files read-only (a sealed spill changes no more;
 * an open one must not be appended to while mapped). */
int spill_map_table(struct spill *sp, const char *table, struct spill_tabmap *out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void spill_unmap_table(struct spill_tabmap *m);
/* The spill's symbol ID (< spill_nsyms) by name. */
const char *spill_sym(const struct spill *sp, uint32_t id);
uint32_t    spill_nsyms(const struct spill *sp);

/* Rows [FROM, FROM+N) of TABLE (fewer at the end) as a q table with the assembly's
 * columns, symbols by name. */
int spill_read(struct spill *sp, const char *table, uint64_t from, uint64_t n, struct k **out,
               struct smfs_err *err) __attribute__((warn_unused_result));

#endif
