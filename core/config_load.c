/* core/config_load.c: assembly YAML → struct cfg. libyaml builds the document
 * (nodes with their marks); we walk only the keys of sm-spec §6, so hostile
 * nesting or aliases cost at most what the schema walks. Each value is checked on
 * its own here (syntax, ranges, names within one table); checks that need the whole
 * file live in config_check.c. Nothing stops at the first problem. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config_int.h"
#include "fileio.h"
#include "k.h"

struct ld {
    struct cfg      *c;
    yaml_document_t *doc;
};

#define PATH_MAX_KEY 512

/* --- nodes --------------------------------------------------------------------- */

static struct cfg_pos pos_of(const yaml_node_t *n)
{
    return (struct cfg_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static yaml_node_t *nd(struct ld *l, int id)
{
    return yaml_document_get_node(l->doc, id);
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return "a scalar";
    }
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain empty, ~ or null scalar: the key is there with no value. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = sval(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *sub(char *buf, const char *path, const char *key)
{
    /* A truncated key path in a message is better than none. */
    if (snprintf(buf, PATH_MAX_KEY, "%s%s%s", path, *path ? "." : "", key) >= PATH_MAX_KEY)
        buf[PATH_MAX_KEY - 1] = '\0';
    return buf;
}

static const char *idx(char *buf, const char *path, size_t i)
{
    if (snprintf(buf, PATH_MAX_KEY, "%s[%zu]", path, i) >= PATH_MAX_KEY)
        buf[PATH_MAX_KEY - 1] = '\0';
    return buf;
}

#define ERR(l, n, path, ...)  cfg_diag((l)->c, CFG_ERROR, pos_of(n), path, __VA_ARGS__)
#define WARN(l, n, path, ...) cfg_diag((l)->c, CFG_WARNING, pos_of(n), path, __VA_ARGS__)


/* The value of KEY in mapping M, or NULL. */
static yaml_node_t *get(struct ld *l, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nd(l, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp(sval(k), key) == 0) return nd(l, p->value);
    }
    return NULL;
}

/* A setting smfs reads and checks but does not act on yet: said at its line, so nobody
 * believes it in force. Each goes as its feature lands:
 * an end of day at snap time (schedule.snap), schema changes (oldName, backfill), the
 * object-storage tier (inventory; retention into or out of it: config_check.c). */
static void not_yet(struct ld *l, yaml_node_t *n, const char *path, const char *key, const char *why)
{
    yaml_node_t *x = n ? get(l, n, key) : NULL;
    char p[PATH_MAX_KEY];
    if (!x) return;
    WARN(l, x, sub(p, path, key), "has no effect yet: %s", why);
    l->c->npending++;
}

/* Keys of M: a warning for each not in KNOWN (NULL-terminated; NULL KNOWN = any),
 * an error for a duplicate or a key that is not a plain string. */
static void keys(struct ld *l, yaml_node_t *m, const char *path, const char *const *known)
{
    char p[PATH_MAX_KEY];
    for (yaml_node_pair_t *a = m->data.mapping.pairs.start; a < m->data.mapping.pairs.top; a++) {
        yaml_node_t *k = nd(l, a->key);
        if (!k) continue;
        if (k->type != YAML_SCALAR_NODE) {
            ERR(l, k, path, "a key must be a string, found %s", kind_name(k));
            continue;
        }
        for (yaml_node_pair_t *b = m->data.mapping.pairs.start; b < a; b++) {
            yaml_node_t *k2 = nd(l, b->key);
            if (k2 && k2->type == YAML_SCALAR_NODE && !strcmp(sval(k), sval(k2))) {
                ERR(l, k, sub(p, path, sval(k)), "duplicate key (first at line %d)",
                    pos_of(k2).line);
                break;
            }
        }
        if (!known) continue;
        bool ok = false;
        for (const char *const *w = known; *w && !ok; w++) ok = !strcmp(*w, sval(k));
        if (!ok) WARN(l, k, sub(p, path, sval(k)), "unknown key (ignored)");
    }
}

/* N if it is a mapping (keys checked against KNOWN), NULL after an error otherwise. */
static yaml_node_t *as_map(struct ld *l, yaml_node_t *n, const char *path, const char *const *known)
{
    if (!n || is_null(n)) return NULL;
    if (n->type != YAML_MAPPING_NODE) {
        ERR(l, n, path, "expected a mapping, found %s", kind_name(n));
        return NULL;
    }
    keys(l, n, path, known);
    return n;
}

/* The string value of scalar N; NULL (after an error) for a mapping or a list. */
static const char *as_str(struct ld *l, yaml_node_t *n, const char *path)
{
    if (n->type != YAML_SCALAR_NODE) {
        ERR(l, n, path, "expected a value, found %s", kind_name(n));
        return NULL;
    }
    if (strlen(sval(n)) != n->data.scalar.length) {
        ERR(l, n, path, "the value contains a NUL character");
        return NULL;
    }
    return sval(n);
}

/* KEY of M as a string copied into the arena; NULL if absent or not a string.
 * REQUIRED: an absent key is an error at M. */
static const char *get_str(struct ld *l, yaml_node_t *m, const char *path, const char *key,
                           bool required, yaml_node_t **node)
{
    char p[PATH_MAX_KEY];
    yaml_node_t *n = get(l, m, key);
    if (node) *node = n;
    if (!n || is_null(n)) {
        if (required && m) ERR(l, n ? n : m, sub(p, path, key), "required key is missing");
        return NULL;
    }
    const char *s = as_str(l, n, sub(p, path, key));
    return s ? cfg_strdup(l->c, s) : NULL;
}

static bool get_bool(struct ld *l, yaml_node_t *m, const char *path, const char *key, bool dflt)
{
    char p[PATH_MAX_KEY];
    yaml_node_t *n = get(l, m, key);
    if (!n || is_null(n)) return dflt;
    const char *s = as_str(l, n, sub(p, path, key));
    if (!s) return dflt;
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!strcmp(s, yes[i])) return true;
        if (!strcmp(s, no[i])) return false;
    }
    ERR(l, n, p, "expected true or false, found '%s'", s);
    return dflt;
}

static int64_t get_int(struct ld *l, yaml_node_t *m, const char *path, const char *key,
                       int64_t lo, int64_t hi, int64_t dflt, yaml_node_t **node)
{
    char p[PATH_MAX_KEY];
    yaml_node_t *n = get(l, m, key);
    if (node) *node = n;
    if (!n || is_null(n)) return dflt;
    const char *s = as_str(l, n, sub(p, path, key));
    if (!s) return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno) {
        ERR(l, n, p, "expected an integer, found '%s'", s);
        return dflt;
    }
    if (v < lo || v > hi) {
        ERR(l, n, p, "%lld is out of range (%lld..%lld)", v, (long long)lo, (long long)hi);
        return dflt;
    }
    return v;
}

static double get_num(struct ld *l, yaml_node_t *m, const char *path, const char *key,
                      double lo, double hi, double dflt)
{
    char p[PATH_MAX_KEY];
    yaml_node_t *n = get(l, m, key);
    if (!n || is_null(n)) return dflt;
    const char *s = as_str(l, n, sub(p, path, key));
    if (!s) return dflt;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v != v) {
        ERR(l, n, p, "expected a number, found '%s'", s);
        return dflt;
    }
    if (v < lo || v > hi) {
        ERR(l, n, p, "%g is out of range (%g..%g)", v, lo, hi);
        return dflt;
    }
    return v;
}

static int64_t get_span(struct ld *l, yaml_node_t *m, const char *path, const char *key,
                        int64_t dflt)
{
    char p[PATH_MAX_KEY];
    yaml_node_t *n = get(l, m, key);
    if (!n || is_null(n)) return dflt;
    const char *s = as_str(l, n, sub(p, path, key));
    int64_t ns;
    if (!s) return dflt;
    if (cfg_parse_timespan(s, &ns) || ns < 0) {
        ERR(l, n, p, "'%s' is not a q timespan (e.g. 0D00:10:00 or 00:10:00)", s);
        return dflt;
    }
    return ns;
}

/* A list of strings; a single string is a list of one. */
static struct cfg_strv get_strv(struct ld *l, yaml_node_t *m, const char *path, const char *key)
{
    char p[PATH_MAX_KEY], q[PATH_MAX_KEY];
    struct cfg_strv v = {0};
    yaml_node_t *n = get(l, m, key);
    if (!n || is_null(n)) return v;
    sub(p, path, key);
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = as_str(l, n, p);
        v.v = cfg_alloc(l->c, sizeof *v.v);
        if (s && v.v) v.v[v.n++] = cfg_strdup(l->c, s);
        return v;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        ERR(l, n, p, "expected a list of names, found %s", kind_name(n));
        return v;
    }
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    v.v = cfg_alloc(l->c, (cnt ? cnt : 1) * sizeof *v.v);
    if (!v.v) return v;
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = nd(l, n->data.sequence.items.start[i]);
        const char *s = it ? as_str(l, it, idx(q, p, i)) : NULL;
        if (s) v.v[v.n++] = cfg_strdup(l->c, s);
    }
    return v;
}

/* Index of S in NAMES (NULL-terminated) + 1, or 0 after an error listing them. */
static int get_enum(struct ld *l, yaml_node_t *m, const char *path, const char *key,
                    const char *const *names, bool required, yaml_node_t **node)
{
    char p[PATH_MAX_KEY];
    yaml_node_t *n;
    const char *s = get_str(l, m, path, key, required, &n);
    if (node) *node = n;
    if (!s) return 0;
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        if (!strcmp(s, names[i])) return i + 1;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    }
    ERR(l, n, sub(p, path, key), "'%s' is not one of: %s", s, list);
    return 0;
}

static size_t nitems(const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (n->type == YAML_SEQUENCE_NODE)
        return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    return 0;
}

/* --- tables ---------------------------------------------------------------------- */

static const char *const attr_names[] = {"sorted", "unique", "parted", "grouped", NULL};

static void load_column(struct ld *l, yaml_node_t *n, const char *path, struct cfg_column *col)
{
    static const char *const known[] = {"name", "description", "type", "attrMem", "attrOrd",
                                        "attrDisk", "foreign", "anymap", "oldName", "backfill",
                                        "mandatory", NULL};
    char p[PATH_MAX_KEY];
    col->pos = pos_of(n);
    col->type_pos = col->pos;
    col->type = -1;   /* until a type name is understood */
    if (!as_map(l, n, path, known)) {
        if (is_null(n)) ERR(l, n, path, "empty column");
        return;
    }
    col->name = get_str(l, n, path, "name", true, NULL);
    col->description = get_str(l, n, path, "description", false, NULL);
    col->foreign = get_str(l, n, path, "foreign", false, NULL);
    col->old_name = get_str(l, n, path, "oldName", false, NULL);
    col->backfill = get_str(l, n, path, "backfill", false, NULL);
    col->anymap = get_bool(l, n, path, "anymap", false);
    if (col->name && !cfg_q_name(col->name))
        ERR(l, get(l, n, "name"), sub(p, path, "name"),
            "'%s' is not a q name (a letter, then letters, digits or '_')", col->name);
    else if (col->name && cfg_reserved_column(col->name))
        ERR(l, get(l, n, "name"), sub(p, path, "name"),
            "'%s' is reserved in q (date, int, label_*, and q keywords such as %s)", col->name,
            "sum or select");
    yaml_node_t *tn = get(l, n, "type");
    if (!tn) {
        ERR(l, n, sub(p, path, "type"), "required key is missing");
    } else if (as_str(l, tn, sub(p, path, "type"))) {
        /* An empty plain value (`type:`) is a missing type; a quoted "" is mixed. */
        col->type_pos = pos_of(tn);
        col->type_name = cfg_strdup(l->c, sval(tn));
        if (is_null(tn)) {
            ERR(l, tn, p, "no type given (write \"\" for a mixed column)");
        } else if (cfg_parse_qtype(sval(tn), &col->type, &col->vector)) {
            ERR(l, tn, p, "'%s' is not a q type name (boolean guid byte short int long real float "
                "char symbol timestamp month date datetime timespan minute second time, a plural "
                "for a vector column, string, or \"\")", sval(tn));
        }
    }
    not_yet(l, n, path, "oldName", "columns are not renamed across partitions yet");
    not_yet(l, n, path, "backfill", "missing columns of old partitions are not back-filled yet");
    uint8_t *attrs[] = {&col->attr_mem, &col->attr_ord, &col->attr_disk};
    const char *akeys[] = {"attrMem", "attrOrd", "attrDisk"};
    for (int i = 0; i < 3; i++)
        *attrs[i] = (uint8_t)get_enum(l, n, path, akeys[i], attr_names, false, NULL);
}

/* Every name in V must be a column of T. */
static void check_names(struct ld *l, yaml_node_t *m, const char *path, const char *key,
                        const struct cfg_table *t, const struct cfg_strv *v)
{
    char p[PATH_MAX_KEY];
    for (size_t i = 0; i < v->n; i++)
        if (!cfg_column_find(t, v->v[i]))
            ERR(l, get(l, m, key), sub(p, path, key), "'%s' is not a column of table '%s'",
                v->v[i], t->name);
}

static void load_table(struct ld *l, const char *name, yaml_node_t *kn, yaml_node_t *n,
                       const char *path, struct cfg_table *t)
{
    static const char *const known[] = {"description", "type", "prtnCol", "blockSize",
                                        "sortColsMem", "sortColsOrd", "sortColsDisk",
                                        "primaryKeys", "isSharded", "oldName", "columns",
                                        "shards", "partitions", "updTsCol", NULL};
    static const char *const types[] = {"partitioned", "splayed", "basic", "splayed_mem", NULL};
    char p[PATH_MAX_KEY], q[PATH_MAX_KEY];
    t->name = cfg_strdup(l->c, name);
    t->path = cfg_strdup(l->c, path);
    t->pos = pos_of(kn);
    if (!cfg_q_name(name))
        ERR(l, kn, path, "table name '%s' is not a q name (a letter, then letters, digits or '_')",
            name);
    if (!as_map(l, n, path, known)) {
        if (!n || is_null(n)) ERR(l, kn, path, "table has no definition");
        return;
    }
    t->type = (enum cfg_table_type)get_enum(l, n, path, "type", types, true, NULL);
    t->description = get_str(l, n, path, "description", false, NULL);
    t->old_name = get_str(l, n, path, "oldName", false, NULL);
    t->block_size = get_int(l, n, path, "blockSize", 1, INT64_MAX, 0, NULL);
    t->is_sharded = get_bool(l, n, path, "isSharded", false);

    yaml_node_t *cn = get(l, n, "columns");
    sub(p, path, "columns");
    if (!cn || is_null(cn)) {
        ERR(l, cn ? cn : n, p, "required key is missing (a table needs its columns)");
    } else if (cn->type != YAML_SEQUENCE_NODE) {
        ERR(l, cn, p, "expected a list of columns, found %s", kind_name(cn));
    } else if (nitems(cn) == 0) {
        ERR(l, cn, p, "a table needs at least one column");
    } else {
        t->cols = cfg_alloc(l->c, nitems(cn) * sizeof *t->cols);
        if (!t->cols) return;
        for (size_t i = 0; i < nitems(cn); i++) {
            yaml_node_t *it = nd(l, cn->data.sequence.items.start[i]);
            struct cfg_column *col = &t->cols[t->ncols];
            if (!it) continue;
            load_column(l, it, idx(q, p, i), col);
            if (!col->name) continue;
            const struct cfg_column *dup = cfg_column_find(t, col->name);
            if (dup)
                ERR(l, it, q, "duplicate column '%s' (first at line %d)", col->name, dup->pos.line);
            t->ncols++;
        }
    }

    yaml_node_t *pn;
    t->prtn_col = get_str(l, n, path, "prtnCol", t->type == CFG_PARTITIONED, &pn);
    t->prtn_pos = pn ? pos_of(pn) : t->pos;
    if (t->prtn_col && t->type && t->type != CFG_PARTITIONED) {
        WARN(l, pn, sub(p, path, "prtnCol"), "only partitioned tables use a partition column (ignored)");
    } else if (t->prtn_col && t->cols) {
        const struct cfg_column *c = cfg_column_find(t, t->prtn_col);
        if (!c)
            ERR(l, pn, sub(p, path, "prtnCol"), "'%s' is not a column of table '%s'", t->prtn_col,
                name);
        else if (c->type >= 0 && (c->type != KT_TIMESTAMP || c->vector))
            ERR(l, pn, sub(p, path, "prtnCol"),
                "column '%s' is of type '%s'; the partition column must be a timestamp",
                t->prtn_col, c->type_name ? c->type_name : "?");
    }
    not_yet(l, n, path, "oldName", "tables are not renamed across partitions yet");
    struct { const char *key; struct cfg_strv *v; } lists[] = {
        {"sortColsMem", &t->sort_mem}, {"sortColsOrd", &t->sort_ord},
        {"sortColsDisk", &t->sort_disk}, {"primaryKeys", &t->primary_keys}};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        *lists[i].v = get_strv(l, n, path, lists[i].key);
        if (t->cols) check_names(l, n, path, lists[i].key, t, lists[i].v);
    }
}

/* --- mounts and buses -------------------------------------------------------------- */

static void load_mount(struct ld *l, const char *name, yaml_node_t *kn, yaml_node_t *n,
                       const char *path, struct cfg_mount *m)
{
    static const char *const known[] = {"type", "baseURI", "partition", "dependency",
                                        "description", NULL};
    static const char *const types[] = {"stream", "local", NULL};
    static const char *const parts[] = {"none", "ordinal", "date", NULL};
    char p[PATH_MAX_KEY];
    m->name = cfg_strdup(l->c, name);
    m->path = cfg_strdup(l->c, path);
    m->pos = m->base_pos = pos_of(kn);
    if (!as_map(l, n, path, known)) {
        if (!n || is_null(n)) ERR(l, kn, path, "mount has no definition");
        return;
    }
    m->type = (enum cfg_mount_type)get_enum(l, n, path, "type", types, true, NULL);
    m->partition = (enum cfg_partition)get_enum(l, n, path, "partition", parts, true, NULL);
    m->dependency = get_strv(l, n, path, "dependency");
    yaml_node_t *bn;
    const char *base = get_str(l, n, path, "baseURI", true, &bn);
    if (base) {
        const char *why;
        m->base_pos = pos_of(bn);
        if (cfg_uri_parse(l->c, base, &m->base, &why))
            ERR(l, bn, sub(p, path, "baseURI"), "'%s': %s", base, why);
    }
}

static void load_bus(struct ld *l, const char *name, yaml_node_t *kn, yaml_node_t *n,
                     const char *path, struct cfg_bus *b)
{
    static const char *const known[] = {"protocol", "topic", "nodes", "description", NULL};
    static const char *const protos[] = {"rt", "tp", "custom", NULL};
    b->name = cfg_strdup(l->c, name);
    b->pos = pos_of(kn);
    if (!as_map(l, n, path, known)) {
        if (!n || is_null(n)) ERR(l, kn, path, "bus entry has no definition");
        return;
    }
    int pr = get_enum(l, n, path, "protocol", protos, false, NULL);
    b->protocol = pr ? protos[pr - 1] : NULL;
    b->topic = get_str(l, n, path, "topic", false, NULL);
    b->nodes = get_strv(l, n, path, "nodes");
}

/* KEY of ROOT, a mapping of named entries: FN loads each into an array of ELSZ-byte
 * items. MISSING, if not NULL, makes the key required and says what it must hold. */
typedef void named_fn(struct ld *, const char *, yaml_node_t *, yaml_node_t *, const char *, void *);

static void *load_named(struct ld *l, yaml_node_t *root, const char *rpath, const char *key,
                        const char *missing, size_t elsz, size_t *count, named_fn *fn)
{
    char p[PATH_MAX_KEY], path[PATH_MAX_KEY];
    yaml_node_t *n = get(l, root, key);
    *count = 0;
    sub(path, rpath, key);
    if (missing && (!n || is_null(n)))
        ERR(l, n ? n : root, path, "required key is missing (%s)", missing);
    if (!as_map(l, n, path, NULL)) return NULL;
    unsigned char *arr = cfg_alloc(l->c, (nitems(n) ? nitems(n) : 1) * elsz);
    if (!arr) return NULL;
    for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top; a++) {
        yaml_node_t *k = nd(l, a->key), *v = nd(l, a->value);
        if (!k || k->type != YAML_SCALAR_NODE) continue;
        fn(l, sval(k), k, v, sub(p, path, sval(k)), arr + *count * elsz);
        (*count)++;
    }
    return arr;
}

static void table_fn(struct ld *l, const char *nm, yaml_node_t *k, yaml_node_t *v, const char *p, void *out)
{
    load_table(l, nm, k, v, p, out);
}
static void mount_fn(struct ld *l, const char *nm, yaml_node_t *k, yaml_node_t *v, const char *p, void *out)
{
    load_mount(l, nm, k, v, p, out);
}
static void bus_fn(struct ld *l, const char *nm, yaml_node_t *k, yaml_node_t *v, const char *p, void *out)
{
    load_bus(l, nm, k, v, p, out);
}

/* --- elements.sm ------------------------------------------------------------------- */

static const char *const zip_names[] = {"none", "qipc", "gzip", "snappy", "lz4hc", "zstd", NULL};

/* SM's ranges (sm-spec §6.4): qipc/snappy 0, gzip 0–9, lz4hc 1–12, zstd −7…22. */
static void load_zip(struct ld *l, yaml_node_t *n, const char *path, struct cfg_tier *t)
{
    static const char *const known[] = {"algorithm", "block", "level", NULL};
    static const int lo[] = {0, 0, 0, 0, 1, -7}, hi[] = {0, 0, 9, 0, 12, 22};
    char p[PATH_MAX_KEY];
    if (!as_map(l, n, path, known)) return;
    t->zip_set = true;
    t->zip_pos = pos_of(n);
    int a = get_enum(l, n, path, "algorithm", zip_names, true, NULL);
    if (!a) return;
    t->zip.alg = a - 1;
    yaml_node_t *bn, *ln;
    t->zip.block_log2 = (int)get_int(l, n, path, "block", 12, 20, 17, &bn);
    t->zip.level = (int)get_int(l, n, path, "level", INT32_MIN, INT32_MAX, lo[t->zip.alg], &ln);
    if (t->zip.alg == KDB_ZIP_NONE && bn && !is_null(bn))
        WARN(l, bn, sub(p, path, "block"), "algorithm none takes no block size (ignored)");
    if (ln && (t->zip.level < lo[t->zip.alg] || t->zip.level > hi[t->zip.alg]))
        ERR(l, ln, sub(p, path, "level"), "level %d is out of range for %s (%d..%d)", t->zip.level,
            zip_names[t->zip.alg], lo[t->zip.alg], hi[t->zip.alg]);
}

static void load_tier(struct ld *l, yaml_node_t *n, const char *path, struct cfg_tier *t)
{
    static const char *const known[] = {"name", "mount", "store", "schedule", "retain",
                                        "compression", "inventory", "index", "description", NULL};
    static const char *const ksched[] = {"freq", "offset", "snap", NULL};
    static const char *const kret[] = {"time", "sizePct", "size", "rows", NULL};
    static const char *const kinv[] = {"enabled", "location", NULL};
    char p[PATH_MAX_KEY];
    t->pos = t->mount_pos = t->store_pos = t->retain_pos = t->zip_pos = pos_of(n);
    t->path = cfg_strdup(l->c, path);
    t->freq_ns = 600 * INT64_C(1000000000);
    if (!as_map(l, n, path, known)) {
        if (is_null(n)) ERR(l, n, path, "empty tier");
        return;
    }
    yaml_node_t *x;
    t->name = get_str(l, n, path, "name", true, &x);
    t->mount_name = get_str(l, n, path, "mount", true, &x);
    if (x) t->mount_pos = pos_of(x);
    const char *store = get_str(l, n, path, "store", false, &x);
    if (store) {
        const char *why;
        t->store_pos = pos_of(x);
        t->store_explicit = true;
        if (cfg_uri_parse(l->c, store, &t->store, &why))
            ERR(l, x, sub(p, path, "store"), "'%s': %s", store, why);
    }
    t->index = get_int(l, n, path, "index", INT32_MIN, INT32_MAX, 0, NULL);

    char q[PATH_MAX_KEY];
    not_yet(l, n, path, "inventory", "no object-storage inventory is written yet");
    yaml_node_t *s = as_map(l, get(l, n, "schedule"), sub(q, path, "schedule"), ksched);
    if (s) {
        t->freq_ns = get_span(l, s, q, "freq", t->freq_ns);
        t->offset_ns = get_span(l, s, q, "offset", 0);
        t->snap_ns = get_span(l, s, q, "snap", 0);
        not_yet(l, s, q, "snap", "no end of day runs at snap time yet (it follows the tickerplant's .u.end, or "
                "smctl eod)");
        if (t->freq_ns == 0) ERR(l, get(l, s, "freq"), sub(p, q, "freq"), "the interval must be longer than zero");
        else if (t->offset_ns >= t->freq_ns)
            ERR(l, get(l, s, "offset"), sub(p, q, "offset"), "the offset must be shorter than freq");
        if (t->snap_ns >= 86400 * INT64_C(1000000000))
            ERR(l, get(l, s, "snap"), sub(p, q, "snap"), "snap is a time of day (00:00:00 up to 23:59:59)");
    }
    yaml_node_t *r = as_map(l, get(l, n, "retain"), sub(q, path, "retain"), kret);
    if (r) {
        t->retain_pos = pos_of(r);
        const char *tm = get_str(l, r, q, "time", false, &x);
        if (tm && cfg_parse_duration(tm, &t->retain_count, &t->retain_unit))
            ERR(l, x, sub(p, q, "time"), "'%s' is not a duration (a count and a unit: "
                "2 weeks, 12 Months, 5 days, 6 hours)", tm);
        t->retain_size_pct = (int)get_int(l, r, q, "sizePct", 1, 100, 0, NULL);
        if (get(l, r, "size") || get(l, r, "rows"))
            WARN(l, r, q, "retention by size or rows is not supported (ignored); time and sizePct are");
    }
    yaml_node_t *z = get(l, n, "compression");
    if (z) load_zip(l, z, sub(q, path, "compression"), t);
    yaml_node_t *iv = as_map(l, get(l, n, "inventory"), sub(q, path, "inventory"), kinv);
    if (iv) {
        t->inventory = get_bool(l, iv, q, "enabled", false);
        t->inventory_location = get_str(l, iv, q, "location", false, NULL);
    }
}

static void load_sm(struct ld *l, yaml_node_t *n, const char *path)
{
    static const char *const known[] = {"description", "source", "tiers", "initialImport",
                                        "enforceSchema", "disableDiscovery", "chunkSize",
                                        "sortLimitGB", "waitTm", "eodPeachLevel", "reloadTimeout",
                                        "idbUsed", "size", NULL};
    static const char *const peach[] = {"part", "table", "column", NULL};
    struct cfg_sm *sm = &l->c->sm;
    char p[PATH_MAX_KEY], q[PATH_MAX_KEY];
    /* sm-spec §6.3 defaults, kept when elements.sm is missing or a value is bad. */
    sm->idb_used = true;
    sm->chunk_size = 500000;
    sm->sort_limit_gb = 10;
    sm->wait_ms = 250;
    sm->size = 1;
    sm->eod_peach = CFG_PEACH_COLUMN;
    if (!as_map(l, n, path, known)) {
        if (n) ERR(l, n, path, "the storage manager element has no definition");
        return;
    }
    sm->pos = sm->source_pos = pos_of(n);
    yaml_node_t *x;
    sm->source = get_str(l, n, path, "source", true, &x);
    if (x) sm->source_pos = pos_of(x);
    sm->initial_import = get_bool(l, n, path, "initialImport", false);
    sm->enforce_schema = get_bool(l, n, path, "enforceSchema", false);
    sm->disable_discovery = get_bool(l, n, path, "disableDiscovery", false);
    sm->idb_used = get_bool(l, n, path, "idbUsed", sm->idb_used);
    sm->chunk_size = get_int(l, n, path, "chunkSize", 1, INT64_MAX, sm->chunk_size, NULL);
    sm->wait_ms = get_int(l, n, path, "waitTm", 0, 86400000, sm->wait_ms, NULL);
    sm->size = get_int(l, n, path, "size", 1, INT32_MAX, sm->size, &x);
    if (sm->size > 1)
        WARN(l, x, sub(p, path, "size"), "smfs runs one storage manager per assembly (%lld ignored)",
             (long long)sm->size);
    sm->sort_limit_gb = get_num(l, n, path, "sortLimitGB", 0.001, 1e6, sm->sort_limit_gb);
    sm->reload_timeout_ns = get_span(l, n, path, "reloadTimeout", 0);
    /* A list is allowed; only the highest level listed helps (sm-spec §6.3). */
    struct cfg_strv pv = get_strv(l, n, path, "eodPeachLevel");
    for (size_t i = 0; i < pv.n; i++) {
        int lv = 0;
        for (int k = 0; peach[k]; k++)
            if (!strcmp(pv.v[i], peach[k])) lv = k + 1;
        if (!lv)
            ERR(l, get(l, n, "eodPeachLevel"), sub(p, path, "eodPeachLevel"),
                "'%s' is not one of part, table, column", pv.v[i]);
        else if (i == 0 || (enum cfg_peach)lv > sm->eod_peach)
            sm->eod_peach = (enum cfg_peach)lv;
    }
    yaml_node_t *tn = get(l, n, "tiers");
    sub(p, path, "tiers");
    if (!tn || is_null(tn)) {
        ERR(l, tn ? tn : n, p, "required key is missing (the tiers, newest first)");
    } else if (tn->type != YAML_SEQUENCE_NODE) {
        ERR(l, tn, p, "expected a list of tiers, found %s", kind_name(tn));
    } else {
        sm->tiers = cfg_alloc(l->c, (nitems(tn) ? nitems(tn) : 1) * sizeof *sm->tiers);
        if (!sm->tiers) return;
        for (size_t i = 0; i < nitems(tn); i++) {
            yaml_node_t *it = nd(l, tn->data.sequence.items.start[i]);
            if (it) load_tier(l, it, idx(q, p, i), &sm->tiers[sm->ntiers++]);
        }
    }
}

static void load_dap(struct ld *l, yaml_node_t *n, const char *path)
{
    static const char *const known[] = {"description", "lateData", "enforceSchema", "instances",
                                        "pctMemThreshold", "mountName", "mountList", "size",
                                        "smEndpoints", "gwEndpoints", "smConn", NULL};
    static const char *const kinst[] = {"mountName", "mountList", "lateData", "size", NULL};
    struct cfg_dap *d = &l->c->dap;
    char p[PATH_MAX_KEY];
    if (!as_map(l, n, path, known)) return;
    d->late_data = get_bool(l, n, path, "lateData", false);
    d->enforce_schema = get_bool(l, n, path, "enforceSchema", false);
    d->pct_mem_threshold = get_num(l, n, path, "pctMemThreshold", 0, 1, 0);
    yaml_node_t *in = as_map(l, get(l, n, "instances"), sub(p, path, "instances"), NULL);
    if (!in) return;
    d->instances = cfg_alloc(l->c, (nitems(in) ? nitems(in) : 1) * sizeof *d->instances);
    if (!d->instances) return;
    for (yaml_node_pair_t *a = in->data.mapping.pairs.start; a < in->data.mapping.pairs.top; a++) {
        yaml_node_t *k = nd(l, a->key), *v = nd(l, a->value);
        char q[PATH_MAX_KEY];
        if (!k || k->type != YAML_SCALAR_NODE) continue;
        struct cfg_dap_instance *di = &d->instances[d->ninstances++];
        di->name = cfg_strdup(l->c, sval(k));
        sub(q, p, sval(k));
        if (!as_map(l, v, q, kinst)) continue;
        yaml_node_t *mn;
        di->mount_name = get_str(l, v, q, "mountName", false, &mn);
        di->mount_list = get_strv(l, v, q, "mountList");
        if (di->mount_name && !cfg_mount_find(l->c, di->mount_name))
            ERR(l, mn, sub(p, q, "mountName"), "mount '%s' is not defined", di->mount_name);
        for (size_t i = 0; i < di->mount_list.n; i++)
            if (!cfg_mount_find(l->c, di->mount_list.v[i]))
                ERR(l, get(l, v, "mountList"), sub(p, q, "mountList"), "mount '%s' is not defined",
                    di->mount_list.v[i]);
    }
}

/* --- root ------------------------------------------------------------------------ */

static void load_root(struct ld *l, yaml_node_t *root)
{
    static const char *const known[] = {"name", "description", "labels", "tables", "mounts",
                                        "bus", "elements", "dbSettings", "overrides",
                                        "qlog", "license", "imagePullSecrets", NULL};
    static const char *const kres[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    struct cfg *c = l->c;
    const char *path = "";
    char p[PATH_MAX_KEY];
    if (!root || root->type != YAML_MAPPING_NODE) {
        cfg_diag(c, CFG_ERROR, root ? pos_of(root) : (struct cfg_pos){1, 1}, "",
                 "the assembly must be a mapping of keys (name, tables, mounts, bus, elements)%s",
                 root ? "" : "; the file is empty");
        return;
    }
    /* kdb Insights Enterprise wraps the same content in a resource under spec:. */
    yaml_node_t *spec = get(l, root, "spec");
    if (spec && spec->type == YAML_MAPPING_NODE && !get(l, root, "tables")) {
        keys(l, root, "", kres);
        root = spec;
        path = "spec";
    }
    keys(l, root, path, known);
    c->name = get_str(l, root, path, "name", true, NULL);
    c->description = get_str(l, root, path, "description", false, NULL);
    as_map(l, get(l, root, "labels"), sub(p, path, "labels"), NULL);
    if (get(l, root, "overrides"))
        WARN(l, get(l, root, "overrides"), sub(p, path, "overrides"),
             "overrides are not applied by smfs (ignored)");

    c->tables = load_named(l, root, path, "tables", "at least one partitioned table",
                           sizeof *c->tables, &c->ntables, table_fn);
    c->mounts = load_named(l, root, path, "mounts", "at least a local mount with partition: date",
                           sizeof *c->mounts, &c->nmounts, mount_fn);
    c->buses = load_named(l, root, path, "bus", NULL, sizeof *c->buses, &c->nbuses, bus_fn);

    yaml_node_t *el = as_map(l, get(l, root, "elements"), sub(p, path, "elements"), NULL);
    char q[PATH_MAX_KEY];
    if (!el) {
        cfg_diag(c, CFG_ERROR, pos_of(root), sub(p, path, "elements"),
                 "required key is missing (elements.sm with the tiers)");
        load_sm(l, NULL, sub(q, p, "sm"));
    } else {
        yaml_node_t *x = get(l, el, "sm");
        if (!x) ERR(l, el, sub(q, p, "sm"), "required key is missing (the storage manager's tiers)");
        load_sm(l, x, sub(q, p, "sm"));
        load_dap(l, get(l, el, "dap"), sub(q, p, "dap"));
    }

    yaml_node_t *db = as_map(l, get(l, root, "dbSettings"), sub(p, path, "dbSettings"), NULL);
    yaml_node_t *enc = as_map(l, get(l, db, "encryption"), sub(q, p, "encryption"), NULL);
    if (enc && get_bool(l, enc, q, "encryptAll", false))
        ERR(l, get(l, enc, "encryptAll"), sub(p, q, "encryptAll"),
            "encryption at rest is not supported by smfs; it would store your data unencrypted");
}

/* --- entry points -------------------------------------------------------------------- */

/* libyaml's scanner costs O(depth) per token, so a hostile file of nested brackets
 * would take minutes to load. A first pass over the events refuses nesting deeper
 * than any assembly needs before the document is built. Returns false after adding
 * the error. */
static bool depth_ok(struct cfg *c, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0;
    bool ok = true, more = true;
    if (!yaml_parser_initialize(&parser)) return true;   /* the load reports it */
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (more && yaml_parser_parse(&parser, &ev)) {
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > CFG_MAX_DEPTH) {
                cfg_diag(c, CFG_ERROR, (struct cfg_pos){(int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1},
                         "", "nesting deeper than %d levels: not an assembly file", CFG_MAX_DEPTH);
                ok = false;
                more = false;
            }
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        } else if (ev.type == YAML_STREAM_END_EVENT) {
            more = false;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return ok;
}

/* By line then column, keeping the order of equal positions: a reader fixes the file
 * top to bottom. Insertion sort: a file has a handful of diagnostics. */
static void sort_diags(struct cfg *c)
{
    for (size_t i = 1; i < c->ndiags; i++) {
        struct cfg_diag d = c->diags[i];
        size_t j = i;
        while (j > 0 && (c->diags[j - 1].pos.line > d.pos.line ||
                         (c->diags[j - 1].pos.line == d.pos.line && c->diags[j - 1].pos.col > d.pos.col))) {
            c->diags[j] = c->diags[j - 1];
            j--;
        }
        c->diags[j] = d;
    }
}

static struct cfg *cfg_new(const char *file)
{
    struct cfg *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->file = cfg_strdup(c, file);
    if (cfg_oom(c) || !c->arena) {
        cfg_free(c);
        return NULL;
    }
    c->origin = "";
    return c;
}

int cfg_parse(const char *file, const char *text, size_t len, struct cfg **out,
              struct smfs_err *err)
{
    *out = NULL;
    if (len > CFG_MAX_FILE)
        return err_set(err, -EFBIG, "'%s': %zu bytes is too large for an assembly file (limit %zu)",
                       file, len, CFG_MAX_FILE);
    struct cfg *c = cfg_new(file);
    if (!c) return err_set(err, -ENOMEM, "'%s': out of memory", file);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!depth_ok(c, text, len)) {
        *out = c;
        return err_set(err, -EINVAL, "'%s': 1 error in the assembly configuration", file);
    }
    if (!yaml_parser_initialize(&parser)) {
        cfg_free(c);
        return err_set(err, -ENOMEM, "'%s': out of memory", file);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        cfg_diag(c, CFG_ERROR,
                 (struct cfg_pos){(int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1},
                 "", "YAML syntax: %s%s%s", parser.problem ? parser.problem : "malformed input",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
    } else {
        struct ld l = {c, &doc};
        load_root(&l, yaml_document_get_root_node(&doc));
        yaml_document_delete(&doc);
        /* A second document is almost certainly a mistake (two files pasted together). */
        if (yaml_parser_load(&parser, &doc)) {
            if (yaml_document_get_root_node(&doc))
                cfg_diag(c, CFG_WARNING, (struct cfg_pos){(int)doc.start_mark.line + 1, 1}, "",
                         "a second YAML document follows the first (ignored)");
            yaml_document_delete(&doc);
        }
        yaml_parser_delete(&parser);
        cfg_check(c);
    }
    sort_diags(c);
    if (cfg_oom(c)) {
        cfg_free(c);
        return err_set(err, -ENOMEM, "'%s': out of memory", file);
    }
    *out = c;
    if (c->nerrors)
        return err_set(err, -EINVAL, "'%s': %zu error%s in the assembly configuration", file,
                       c->nerrors, c->nerrors == 1 ? "" : "s");
    return 0;
}

int cfg_load(const char *path, struct cfg **out, struct smfs_err *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = file_read_all(path, CFG_MAX_FILE, &text, &len, err);
    if (rc) return err_wrap(err, "assembly file");
    rc = cfg_parse(path, (const char *)text, len, out, err);
    free(text);
    return rc;
}

int cfg_open(const char *cli_path, struct cfg **out, struct smfs_err *err)
{
    const char *env = getenv("KXI_ASSEMBLY_FILE");
    const char *path = NULL, *origin;
    struct stat st;
    if (cli_path) {
        path = cli_path;
        origin = "-c";
    } else if (env && *env) {
        path = env;
        origin = "$KXI_ASSEMBLY_FILE";
    } else if (stat("assembly.yaml", &st) == 0) {
        path = "assembly.yaml";
        origin = "./assembly.yaml";
    } else {
        origin = "embedded default";
    }
    int rc = path ? cfg_load(path, out, err)
                  : cfg_parse(CFG_DEFAULT_NAME, cfg_default_yaml, strlen(cfg_default_yaml), out, err);
    if (*out) (*out)->origin = origin;
    else if (rc && !cli_path && path) err_wrap(err, "%s", origin);
    return rc;
}

/* --- look-ups ------------------------------------------------------------------------ */

const struct cfg_table *cfg_table_find(const struct cfg *c, const char *name)
{
    for (size_t i = 0; i < c->ntables; i++)
        if (c->tables[i].name && !strcmp(c->tables[i].name, name)) return &c->tables[i];
    return NULL;
}

const struct cfg_column *cfg_column_find(const struct cfg_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].name && !strcmp(t->cols[i].name, name)) return &t->cols[i];
    return NULL;
}

const struct cfg_mount *cfg_mount_find(const struct cfg *c, const char *name)
{
    for (size_t i = 0; i < c->nmounts; i++)
        if (c->mounts[i].name && !strcmp(c->mounts[i].name, name)) return &c->mounts[i];
    return NULL;
}
