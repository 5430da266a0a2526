/* core/import_int.h: private to core/import*.c. The validator's model of a source
 * tree, and the helpers import and ingest share. */
#ifndef SMFS_IMPORT_INT_H
#define SMFS_IMPORT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "fileio.h"
#include "import.h"
#include "store.h"

/* BUF = "A/B". Paths here are a source directory plus names the scan read (each under
 * 256 bytes) and fit; one that does not becomes "", which the next system call
 * refuses with ENOENT, so it can never name a shorter, wrong path. */
#define PJOIN(buf, a, b) ((void)!file_join((buf), sizeof(buf), (a), (b)))

/* A growable list of owned strings. */
struct strv {
    char  **v;
    size_t  n, cap;
};
int  strv_add(struct strv *s, const char *str);     /* copies; 0 or -ENOMEM */
bool strv_has(const struct strv *s, const char *str);
void strv_free(struct strv *s);

/* One directory the scan reads date partitions from, and the store tier they go to. */
struct scan_src {
    char       *dir;
    unsigned    tier;          /* store tier index */
    const char *seg;           /* the tier's name: the segment directory in the store */
    dev_t       dev;
    bool        copy;          /* another filesystem than the tier: copy, keep the source */
    bool        store_dir;     /* also a store directory: its store names are not strays */
};

/* A table directory (a partition's, or a splayed table at the root). */
struct scan_table {
    const struct cfg_table *schema;   /* NULL for a table the schema lacks (an error) */
    char       *name;
    struct strv files;         /* every file taken: .d, columns, nested heaps */
    uint64_t    bytes;
    bool        fill;          /* absent: write an empty one (fill_missing / ingest add) */
};

struct scan_part {
    char        name[16];      /* "YYYY.MM.DD" */
    int32_t     day;
    unsigned    src;           /* index into scan.src */
    bool        done;          /* already in the store (resume) */
    struct scan_table *tabs;
    size_t      ntabs;
    uint64_t    files, bytes;
};

/* One grouped problem: the same message for many partitions is reported once. */
struct scan_diag {
    char       *key;
    struct strv parts;
};

enum {
    SCAN_INGEST = 1 << 0,      /* staging: the affected tables only, no root checks */
    SCAN_FILL   = 1 << 1,      /* a missing table is filled, not an error */
    SCAN_FULL   = 1 << 2,      /* read all of each prtnCol (else its first value) */
};

struct scan {
    const struct cfg *cfg;
    unsigned    flags;
    struct scan_src src[STORE_TIERS_MAX];
    size_t      nsrc;
    struct store_snap *done_in;       /* resume: partitions and root files already here */

    /* found */
    struct scan_part *parts;          /* by date */
    size_t      nparts, capparts;
    bool        have_sym;
    char       *sym_path;             /* NULL when sym comes from the store (resume) */
    struct strv root_files;           /* basic tables: file names at the root */
    struct scan_table *roots;         /* splayed tables at the root */
    size_t      nroots;
    uint64_t    files, bytes, tables;

    struct scan_diag *diags;
    size_t      ndiags, capdiags;
    bool        oom;                  /* a problem could not be recorded: scan_run fails */
    struct buf  line;                 /* scratch */
};

/* Read every source and check it against the assembly. Returns 0 when the tree can
 * be imported, -EINVAL when it has problems (then report them with scan_report), or
 * another -errno when a source cannot be read at all. */
int  scan_run(struct scan *sc, struct smfs_err *err) __attribute__((warn_unused_result));
/* Record a problem of partition PART (NULL: the root); the same message for many
 * partitions is reported once, listing them. */
void scan_diag(struct scan *sc, const char *part, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* LIST joined with ',' into OUT (cut to fit). */
const char *scan_join(char *const *list, size_t n, char *out, size_t len);
/* Whether a file of IN's kind may hold column C; the kind in the schema's words. */
bool scan_type_ok(const struct cfg_column *c, const struct kdb_info *in);
const char *scan_type_found(const struct kdb_info *in);

/* Pass every problem, one line each, to FN. Returns how many. */
size_t scan_report(struct scan *sc, void (*fn)(void *, const char *), void *arg);
void scan_free(struct scan *sc);

/* The names a store keeps in its home directory next to an in-place HDB. */
bool scan_store_name(const char *name);

/* An empty table of SCHEMA's columns at BASE in TX (objects in TIER), as kdb+ writes
 * one: every column with zero rows (symbols enumerated against sym), then .d; a basic
 * table is one file at BASE. */
int  import_empty_table(struct store_tx *tx, const char *base, unsigned tier,
                        const struct cfg_table *schema, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* par.txt of the store tree: one line per local date tier (its name), then the
 * object-storage tier's URI. */
int  import_par_txt(const struct cfg *c, struct buf *out) __attribute__((warn_unused_result));

/* The store tier index of each local date tier: store tier i is the i-th local date
 * tier of the assembly. -1 for object storage. */

int64_t import_now_ns(void);

/* The names in DIR, sorted, without . and .. (appended to OUT). */
int  import_list_dir(const char *dir, struct strv *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Format one line and hand it to FN (may be NULL). */
void import_say(void (*fn)(void *, const char *), void *arg, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Unlink the names under SRC (a file or a directory tree) whose store path REL in SNAP
 * names an object on the same inode: those files now live in the store (each made
 * 0444 first). A copy (an object on another inode) leaves its original alone, unless
 * COPIES (an ingest consumes its staging tree whole). */
int  import_clean(struct store *s, struct store_snap *snap, const char *src, const char *rel,
                  bool copies, struct smfs_err *err) __attribute__((warn_unused_result));

/* ---- object storage (import_s3.c) ---- */
struct s3_conf;
struct s3_import;
/* The object-storage tier's partitions, listed and checked against the assembly by
 * ranged reads; problems (overlaps with SC's partitions on disk among them) go into SC.
 * *OUT is NULL when the assembly has no object tier or there are no credentials (then
 * said through SAY). CONF NULL: from the AWS variables. */
int  s3_import_scan(struct scan *sc, const struct s3_conf *conf, void (*say)(void *, const char *), void *arg,
                    struct s3_import **out, struct smfs_err *err) __attribute__((warn_unused_result));
void s3_import_describe(const struct s3_import *x, void (*say)(void *, const char *), void *arg);
/* Name every object of those partitions in TX (under .smfs/s3/<tier>). */
int  s3_import_take(const struct s3_import *x, struct store_tx *tx, struct smfs_err *err)
        __attribute__((warn_unused_result));
uint64_t s3_import_parts(const struct s3_import *x);
void s3_import_free(struct s3_import *x);

/* Remove DIR and the directories under it that are left empty; others stay. */
void import_prune(const char *dir);

#endif
