/* core/import.h: bringing kdb+ data into the store. Two entry points share one
 * validator (import_scan.c):
 *   initial import   converts an existing date-partitioned HDB, in place, into a new
 *                    store (sm-spec §9): files are hard-linked into objects/ and the
 *                    originals unlinked once the commit naming them is durable, so no
 *                    byte is copied on one filesystem; one commit per batch of
 *                    partitions; a journal makes it resumable and reversible.
 *   batch ingest     adds or replaces date partitions from a staging directory laid
 *                    out as a partitioned database (the affected tables only) as one
 *                    new version, appending new symbols to sym and re-mapping
 *                    enumerations when the staging sym differs (sm-spec §8.5).
 * The store tree both write (and the view serves, fs/):
 *   par.txt                          segment lines: a local tier's name, or an s3:// URI
 *   sym                              the enumeration domain
 *   <table>/…                        splayed and basic tables
 *   <tier>/<YYYY.MM.DD>/<table>/…    partitions, under the name of the tier holding them
 * Owns:    the import journal <home>/import.journal; the source files it has taken
 *          (unlinked only after the commit naming them is durable).
 * Never:   moves or changes anything before the whole source has been validated;
 *          loses a source file: until a commit names its object, the original name is
 *          still there; unlinks a source that lives on another filesystem (that is a
 *          copy import: the original stays as it was); prints (problems and progress go
 *          to the caller's callbacks).
 * Threads: one import or ingest at a time per store (the store's writer lock; the
 *          store's flock keeps out other processes).
 * Sequence: import_run (validate → create store → journal → batches → clean up →
 *          vacuum) | import_rollback; ingest_run on an open store.
 * Crash:   import_run after a crash resumes: partitions the store's current version
 *          holds are finished (their sources unlinked), the rest imported. The journal
 *          is written before the first file is linked and removed only by rollback.
 * Errors:  0 or -errno. Validation failures are -EINVAL with every problem passed to
 *          the diag callback first, each naming partitions, tables and columns. */
#ifndef SMFS_IMPORT_H
#define SMFS_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "s3.h"
#include "store.h"

#define IMPORT_JOURNAL      "import.journal"
#define IMPORT_BATCH        64          /* partitions per commit by default */

struct import_progress {
    const char *phase;                  /* "validate", "import", "clean", "rollback" */
    const char *current;                /* partition being worked on, or "" */
    uint64_t    parts_done, parts_total;
    uint64_t    bytes_done, bytes_total;
    int64_t     elapsed_ns;
};

struct import_opts {
    const struct cfg *cfg;              /* must be valid (no errors) */
    const char *source;                 /* the HDB of the first date tier; NULL: its store
                                           directory, <baseURI>/data, converted in place */
    bool        verify;                 /* read every byte and record checksums */
    bool        dry_run;                /* validate and describe the plan, touch nothing */
    bool        fill_missing;           /* a partition without a table gets an empty one
                                           (as .Q.chk does) instead of an error */
    bool        no_vacuum;              /* keep one version per batch */
    unsigned    batch;                  /* partitions per commit; 0: IMPORT_BATCH */
    bool        no_sync;                /* skip fsync/syncfs: for tests and benchmarks that
                                           kill processes but never lose power */
    const struct s3_conf *s3;           /* the object tier's S3; NULL: the AWS variables */
    void      (*diag)(void *arg, const char *line);    /* problems and the plan */
    void      (*progress)(void *arg, const struct import_progress *p);
    void       *arg;
};

struct import_summary {
    bool     resumed;                   /* continued an interrupted import */
    bool     copied;                    /* some source was on another filesystem */
    uint64_t partitions, tables, files, bytes;
    uint64_t filled;                    /* empty tables written for --fill-missing */
    uint64_t s3_partitions;             /* found in the object tier, checked and named */
    uint64_t versions;                  /* commits made by this run */
    uint64_t version;                   /* the store's version at the end */
    int64_t  elapsed_ns;
};

/* Validate, then convert (see above). -EEXIST if the store already holds a version
 * that no import journal explains (a database is imported once; use ingest). */
int import_run(const struct import_opts *o, struct import_summary *sum, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Put the original tree back exactly as it was (file bytes, inodes, modes, times;
 * directories, their modes and times) and remove the store, from any point of an
 * import: interrupted, failed or finished, as long as no other kind of version was
 * committed after it. Resumable itself. -ENOENT when there is no import journal. */
int import_rollback(const struct import_opts *o, struct import_summary *sum,
                    struct smfs_err *err) __attribute__((warn_unused_result));

/* What the journal of the first date tier's store says: "none", "running", "done"
 * or "rollback". For smfs at start and smctl. */
const char *import_state(const struct cfg *c);

/* Whether DIR, where no store exists yet, holds a kdb+ database (sym, par.txt, a date
 * partition, a splayed table with .d): 0 when it does not (or DIR does not exist),
 * -EEXIST with *err naming what was found and pointing at smctl import. Creating a
 * store there would put STORE, lock, objects/ and packs/ among the HDB's tables. */
int import_refuse_hdb(const char *dir, struct smfs_err *err) __attribute__((warn_unused_result));

/* Open the store of the assembly's first date tier (its tiers are the local date
 * tiers, in order), creating an empty one when CREATE and there is none -- but never
 * over a kdb+ database (import_refuse_hdb). */
int import_store_open(const struct cfg *c, bool create, struct store **out,
                      struct store_recovery *rep, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* ---- batch ingest ---- */

struct ingest_opts {
    const struct cfg *cfg;
    const char *staging;                /* <baseURI>/staging/<session> or any directory */
    bool        verify;
    bool        dry_run;
    bool        keep_staging;           /* link the files in and leave the staging tree */
    void      (*diag)(void *arg, const char *line);
    /* After each partition taken in (phase "ingest"); may be NULL. */
    void      (*progress)(void *arg, const struct import_progress *p);
    void       *arg;
};

struct ingest_summary {
    uint64_t added, replaced;           /* partitions */
    uint64_t tables, files, bytes;
    uint64_t filled;                    /* empty tables added to complete new partitions */
    uint64_t new_symbols;
    uint64_t remapped;                  /* enumeration files rewritten for the new sym */
    uint64_t root_tables;               /* splayed and basic tables replaced at the root */
    uint64_t version;
};

/* Add or replace the staging partitions as one new version of S. New partitions go
 * to the first date tier; a replaced one stays in the tier that holds it. Tables the
 * staging partition does not have are kept (replace) or created empty (add). */
int ingest_run(struct store *s, const struct ingest_opts *o, struct ingest_summary *sum,
               struct smfs_err *err) __attribute__((warn_unused_result));

#endif
