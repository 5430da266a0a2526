/* core/config.h: the assembly configuration (sm-spec §6). Loads a kdb Insights
 * assembly YAML with libyaml, types every value (q timespans, retention durations,
 * URIs, q column types), checks the whole file at once, and derives what the rest
 * of smfs needs: the HDB mount, its date tiers in order, each tier's store, the
 * segments and the par.txt lines of the view.
 * Owns:    the struct cfg and everything it points to (one arena, freed together).
 * Never:   creates or inspects stores or mounts on disk (that is import's and the
 *          daemon's job); stops at the first problem: every diagnostic is
 *          collected, with FILE:LINE:COL and the key path; treats an unknown key
 *          as an error (it is a warning, as in kdb Insights).
 * Threads: a loaded cfg is immutable: share it read-only between threads.
 * Sequence: cfg_open (resolution order) | cfg_load (a file) | cfg_parse (bytes)
 *          → read the fields → cfg_free.
 * Errors:  the loaders return 0 when the configuration is valid; -EINVAL when it
 *          was read but has errors, in which case *out is still set so the caller
 *          can print every diagnostic (cfg_diag_str); any other -errno (missing
 *          file, no memory) leaves *out NULL and says why in *err. */
#ifndef SMFS_CONFIG_H
#define SMFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "kdb.h"

#define CFG_MAX_FILE  ((size_t)16 << 20)  /* an assembly file is a few KB; refuse absurd input */
#define CFG_MAX_DEPTH 32                  /* nesting; the schema needs 6 */
#define CFG_DEFAULT_NAME "<embedded default>"

/* Where a value came from: 1-based, 0 when it did not come from the file. */
struct cfg_pos { int line, col; };

enum cfg_sev { CFG_WARNING = 0, CFG_ERROR = 1 };

struct cfg_diag {
    enum cfg_sev   sev;
    struct cfg_pos pos;
    const char    *path;    /* key path: "elements.sm.tiers[2].mount" */
    const char    *msg;
};

struct cfg_strv { const char **v; size_t n; };

/* --- tables ------------------------------------------------------------------ */

enum cfg_table_type { CFG_PARTITIONED = 1, CFG_SPLAYED, CFG_BASIC, CFG_SPLAYED_MEM };

struct cfg_column {
    const char    *name, *description, *foreign, *old_name, *backfill;
    const char    *type_name;   /* as written: "float", "floats", "string", "" */
    int8_t         type;        /* KT_* of each item; 0 for mixed (""); -1 unknown name (an error) */
    bool           vector;      /* each item is a vector (plural names, string) */
    bool           anymap;
    uint8_t        attr_mem, attr_ord, attr_disk;   /* KA_* */
    struct cfg_pos pos, type_pos;
};

struct cfg_table {
    const char         *name, *description, *prtn_col, *old_name, *path;
    enum cfg_table_type type;
    int64_t             block_size;     /* 0: not set (kept in memory until EOI) */
    bool                is_sharded;
    struct cfg_strv     sort_mem, sort_ord, sort_disk, primary_keys;
    struct cfg_column  *cols;
    size_t              ncols;
    struct cfg_pos      pos, prtn_pos;
};

/* --- mounts, URIs, buses -------------------------------------------------------- */

enum cfg_uri_kind { CFG_URI_NONE = 0, CFG_URI_FILE, CFG_URI_S3, CFG_URI_GS, CFG_URI_MS };

struct cfg_uri {
    enum cfg_uri_kind kind;
    const char       *text;     /* normalised: "file:///data/db/hdb", "s3://bkt/pre" */
    const char       *path;     /* FILE: absolute path, no trailing '/', no '.'/'..' */
    const char       *bucket;   /* object storage: bucket (container) */
    const char       *prefix;   /* object storage: key prefix without slashes at the ends, may be "" */
};

enum cfg_mount_type { CFG_MOUNT_STREAM = 1, CFG_MOUNT_LOCAL };
enum cfg_partition  { CFG_PART_NONE = 1, CFG_PART_ORDINAL, CFG_PART_DATE };

struct cfg_mount {
    const char         *name, *path;
    enum cfg_mount_type type;
    enum cfg_partition  partition;
    struct cfg_uri      base;
    struct cfg_strv     dependency;
    struct cfg_pos      pos, base_pos;
};

struct cfg_bus {
    const char     *name, *protocol, *topic;   /* protocol: rt, tp or custom */
    struct cfg_strv nodes;                     /* "host:port" */
    struct cfg_pos  pos;
};

/* --- elements.sm --------------------------------------------------------------- */

enum cfg_tier_kind { CFG_TIER_STREAM = 1, CFG_TIER_ORDINAL, CFG_TIER_DATE };

/* Calendar units are kept as written: a month is not a fixed number of seconds. */
enum cfg_unit { CFG_SECONDS = 1, CFG_MINUTES, CFG_HOURS, CFG_DAYS, CFG_WEEKS, CFG_MONTHS,
                CFG_YEARS };

struct cfg_tier {
    const char        *name, *mount_name, *path;
    const struct cfg_mount *mount;     /* NULL if the mount is not defined (an error) */
    enum cfg_tier_kind kind;           /* from the mount; 0 if unknown */
    struct cfg_uri     store;          /* explicit or the default <baseURI>/data */
    bool               store_explicit;
    int64_t            freq_ns, offset_ns, snap_ns;   /* schedule, defaults applied */
    int64_t            retain_count;   /* 0: no time retention */
    enum cfg_unit      retain_unit;
    int                retain_size_pct;   /* 0: not set */
    bool               zip_set;
    struct kdb_zparams zip;            /* alg 0: stored uncompressed */
    bool               inventory;
    const char        *inventory_location;
    int64_t            index;          /* order among date tiers */
    const char        *segment;        /* par.txt segment dir of a local date tier, else NULL */
    struct cfg_pos     pos, mount_pos, store_pos, retain_pos, zip_pos;
};

enum cfg_peach { CFG_PEACH_PART = 1, CFG_PEACH_TABLE, CFG_PEACH_COLUMN };

struct cfg_sm {
    const char      *source;
    struct cfg_tier *tiers;
    size_t           ntiers;
    bool             initial_import, enforce_schema, disable_discovery, idb_used;
    int64_t          reload_timeout_ns;   /* 0: not set; the EOI interval applies */
    int64_t          chunk_size, wait_ms, size;
    double           sort_limit_gb;
    enum cfg_peach   eod_peach;           /* the highest level listed */
    struct cfg_pos   pos, source_pos;
};

struct cfg_dap_instance {
    const char     *name, *mount_name;
    struct cfg_strv mount_list;
};

struct cfg_dap {
    bool                     late_data, enforce_schema;
    double                   pct_mem_threshold;   /* 0: not set */
    struct cfg_dap_instance *instances;
    size_t                   ninstances;
};

/* --- the whole file ------------------------------------------------------------ */

struct cfg_arena;

struct cfg {
    const char        *file;      /* the path read, or CFG_DEFAULT_NAME */
    const char        *origin;    /* how it was found: "-c", "$KXI_ASSEMBLY_FILE", … */
    const char        *name, *description;
    struct cfg_table  *tables;
    size_t             ntables;
    struct cfg_mount  *mounts;
    size_t             nmounts;
    struct cfg_bus    *buses;
    size_t             nbuses;
    struct cfg_sm      sm;
    struct cfg_dap     dap;

    /* Derived (valid when nerrors == 0). */
    const struct cfg_mount *hdb;          /* the local date mount */
    const struct cfg_tier  *stream_tier;  /* may be NULL */
    const struct cfg_tier  *ordinal_tier; /* may be NULL */
    const struct cfg_tier **date_tiers;   /* by index, ties in list order; newest first */
    size_t                  ndate;

    struct cfg_diag   *diags;     /* in file order within each pass */
    size_t             ndiags, nerrors, nwarnings, diag_cap;
    size_t             npending;  /* of the warnings: settings smfs does not act on yet */
    struct cfg_arena  *arena;
};

/* The configuration smfs runs on when no file is found (documented in the README). */
extern const char cfg_default_yaml[];

/* Parse TEXT[0..len) read from FILE (a name for messages). See Errors above. */
int cfg_parse(const char *file, const char *text, size_t len, struct cfg **out,
              struct smfs_err *err) __attribute__((warn_unused_result));

/* Read and parse the file at PATH. */
int cfg_load(const char *path, struct cfg **out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Resolution order: CLI_PATH (from -c) if not NULL; else $KXI_ASSEMBLY_FILE if set and
 * not empty (it must exist); else ./assembly.yaml if it exists; else the embedded
 * default. (*out)->origin says which. */
int cfg_open(const char *cli_path, struct cfg **out, struct smfs_err *err)
        __attribute__((warn_unused_result));

void cfg_free(struct cfg *c);

/* "FILE:LINE:COL: key.path: message", "FILE:LINE:COL: warning: key.path: message".
 * Returns what snprintf returns. */
int cfg_diag_str(const struct cfg *c, const struct cfg_diag *d, char *out, size_t n);

/* The par.txt of version VERSION: a line per local date tier ("v7$/hdbfast"), then
 * the object-storage tier's URI. Appends to OUT. */
int cfg_par_txt(const struct cfg *c, uint64_t version, struct buf *out)
        __attribute__((warn_unused_result));

/* The par.txt a store version holds: a line per local date tier (its segment
 * directory), then the object-storage tier's URI. Appends to OUT. */
int cfg_store_par_txt(const struct cfg *c, struct buf *out) __attribute__((warn_unused_result));

/* Letters, digits and '_', starting with a letter: a q name usable as a table or column. */
bool cfg_q_name(const char *s);

const struct cfg_table  *cfg_table_find(const struct cfg *c, const char *name);
const struct cfg_column *cfg_column_find(const struct cfg_table *t, const char *name);
const struct cfg_mount  *cfg_mount_find(const struct cfg *c, const char *name);

/* Value parsers (exposed for tests and smctl). 0 or -EINVAL. */
int cfg_parse_timespan(const char *s, int64_t *ns);
int cfg_parse_duration(const char *s, int64_t *count, enum cfg_unit *unit);
/* A q column type name: "float" (type KT_FLOAT, not vector), "floats" (vector),
 * "string" (KT_CHAR, vector), "" (0, mixed). */
int cfg_parse_qtype(const char *s, int8_t *type, bool *vector);

const char *cfg_unit_name(enum cfg_unit u);            /* "weeks" */
const char *cfg_table_type_name(enum cfg_table_type t); /* "partitioned" */
const char *cfg_tier_kind_name(enum cfg_tier_kind k);   /* "date" */
const char *cfg_peach_name(enum cfg_peach p);           /* "column" */

#endif
