/* core/writedown.c: see writedown.h. In five steps, one transaction:
 *   1. split each partitioned table's rows by date (and refuse the too old);
 *   2. per (table, date) -- a "part" -- load the partition the database already has,
 *      and sort old and new rows together: a permutation, computed key by key from the
 *      last to the first with stable radix passes over order-preserving 64-bit keys
 *      (a symbol's key is its name's rank), each pass skipped when already in order --
 *      rows arrive nearly in time order, so the usual (sym, time) sort is one counting
 *      pass;
 *   3. enumerate symbol columns in their final order against the database's sym, as
 *      .Q.en would (new names appended in order of first appearance);
 *   4. write every column of every part, in parallel: gather in sorted order, encode
 *      (with its attribute), compress, put;
 *   5. .d files, empty tables, sym, the marker, the commit. */
#include "writedown.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "buf.h"
#include "fault.h"
#include "fileio.h"
#include "k_fmt.h"
#include "k_ser.h"
#include "kdb.h"
#include "tiers.h"
#include "u64map.h"

#define SYM_MAX    ((size_t)4 << 30)
#define MARKER_MAX ((size_t)1 << 20)
#define MARKER_KEEP 1000          /* lines kept in the marker: far more than days kept */

/* ---- the database's sym, growing ---------------------------------------------------- */

struct symtab {
    struct k     *loaded;      /* the version's sym (names borrowed from it) */
    const char  **v;           /* every name, index = enumeration value */
    char        **owned;       /* names added here (freed) */
    int64_t       n, cap, n0, nowned;
    struct u64map map;         /* hash(name, seed) → index + 1 */
};

static void symtab_free(struct symtab *t)
{
    for (int64_t i = 0; i < t->nowned; i++) free(t->owned[i]);
    free(t->owned);
    free(t->v);
    k_free(t->loaded);
    u64map_release(&t->map);
}

static int symtab_find(struct symtab *t, const char *name, bool add, int64_t *idx)
{
    size_t len = strlen(name);
    for (uint64_t seed = 0;; seed++) {
        uint64_t h = XXH3_64bits_withSeed(name, len, seed), v;
        if (!h) h = 1;
        if (!u64map_get(&t->map, h, &v)) {
            if (!add) return -ENOENT;
            if (t->n == t->cap) {
                int64_t cap = t->cap ? t->cap * 2 : 1024;
                const char **nv = realloc(t->v, (size_t)cap * sizeof *nv);
                char **no = realloc(t->owned, (size_t)cap * sizeof *no);
                if (nv) t->v = nv;
                if (no) t->owned = no;
                if (!nv || !no) return -ENOMEM;
                t->cap = cap;
            }
            char *c = strdup(name);
            if (!c || u64map_put(&t->map, h, (uint64_t)t->n + 1)) {
                free(c);
                return -ENOMEM;
            }
            t->owned[t->nowned++] = c;
            t->v[t->n] = c;
            *idx = t->n++;
            return 0;
        }
        if (!strcmp(t->v[v - 1], name)) {
            *idx = (int64_t)v - 1;
            return 0;
        }
    }
}

/* Read an object of the version (decompressed when it is). */
static int read_object(struct store *s, const struct store_entry *e, struct kdb_file *f, const uint8_t **p,
                       size_t *len, struct smfs_err *err)
{
    char path[4200];
    int rc = store_object_path(s, e, path, sizeof path, err);
    if (!rc) rc = kdb_file_open(f, path, err);
    if (!rc) {
        rc = kdb_file_content(f, p, len, err);
        if (rc) kdb_file_close(f);
    }
    return rc;
}

static int load_k(struct store *s, const struct store_entry *e, const char *name, struct k **out,
                  struct smfs_err *err)
{
    struct kdb_file f;
    const uint8_t *p;
    size_t len;
    int rc = read_object(s, e, &f, &p, &len, err);
    if (rc) return err_wrap(err, "%s", name);
    rc = kdb_decode(p, len, name, out, err);
    kdb_file_close(&f);
    return rc;
}

static int symtab_load(struct store *s, struct store_snap *snap, struct symtab *t, struct smfs_err *err)
{
    memset(t, 0, sizeof *t);
    struct store_entry e;
    int rc = store_lookup(snap, "sym", &e, err);
    if (rc == -ENOENT) return 0;
    if (!rc) rc = load_k(s, &e, "sym", &t->loaded, err);
    if (!rc && t->loaded->t != KT_SYM) rc = err_set(err, -EIO, "the database's sym is not a symbol list");
    if (rc) return err_wrap(err, "the database's sym");
    int64_t n = t->loaded->n;
    t->v = malloc((size_t)(n ? n : 1) * sizeof *t->v);
    t->owned = malloc((size_t)(n ? n : 1) * sizeof *t->owned);
    if (!t->v || !t->owned || u64map_reserve(&t->map, (size_t)n)) return err_set(err, -ENOMEM, "out of memory for sym");
    t->cap = n ? n : 1;
    for (int64_t i = 0; i < n; i++) {
        const char *nm = k_symv_at(t->loaded, i);
        int64_t idx;
        /* A name twice in sym (kdb+ never writes that) keeps its first index. */
        if (symtab_find(t, nm, false, &idx) == 0) {
            t->v[t->n++] = nm;   /* a duplicate holds its place so later indices stay right */
            continue;
        }
        size_t len = strlen(nm);
        for (uint64_t seed = 0;; seed++) {
            uint64_t h = XXH3_64bits_withSeed(nm, len, seed), v;
            if (!h) h = 1;
            if (!u64map_get(&t->map, h, &v)) {
                u64map_put_reserved(&t->map, h, (uint64_t)t->n + 1);
                break;
            }
        }
        t->v[t->n++] = nm;
    }
    t->n0 = t->n;
    return 0;
}

/* ---- parts ---------------------------------------------------------------------------- */

struct part {
    const struct cfg_table *t;
    struct spill_tabmap    *m;          /* the table's rows in the spill */
    int32_t   date;                     /* INT32_MIN: a splayed or basic table */
    unsigned  tier;
    char      base[600];                /* "<segment>/<date>/<table>" or "<table>" */
    uint32_t *rows;                     /* spill rows of this part, arrival order */
    uint64_t  nnew, nold, n;
    struct k **old;                     /* per column: the partition's column, or NULL */
    uint32_t *perm;                     /* n: old row r < nold, or new row rows[r - nold] */
    int64_t **syms;                     /* per column: enumeration values in final order */
    uint8_t  *attr;                     /* per column: the attribute to write */
    bool      exists;
    bool      ordinal;                  /* an interval's partition of the IDB */
};

static void part_free(struct part *p)
{
    for (size_t c = 0; p->t && c < p->t->ncols; c++) {
        if (p->old) k_free(p->old[c]);
        if (p->syms) free(p->syms[c]);
    }
    free(p->old);
    free(p->syms);
    free(p->attr);
    free(p->rows);
    free(p->perm);
}

struct wd {
    struct store        *s;
    struct store_snap   *snap;
    struct store_tx     *tx;
    struct spill        *sp;
    const struct wd_opts *o;
    struct wd_summary   *sum;
    struct symtab        sym;
    struct spill_tabmap *maps;          /* per assembly table */
    struct part         *parts;
    size_t               nparts, cap;
    pthread_mutex_t      mu;            /* the transaction and the counters, for the writers */
};

/* A warning for the caller (column writers call it too: one at a time). */
static void note(struct wd *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct wd *w, const char *fmt, ...)
{
    if (!w->o->note) return;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&w->mu);
    w->o->note(w->o->arg, line);
    pthread_mutex_unlock(&w->mu);
}

static int col_index(const struct cfg_table *t, const char *name)
{
    for (size_t i = 0; name && i < t->ncols; i++)
        if (!strcmp(t->cols[i].name, name)) return (int)i;
    return -1;
}

static bool has_date(const int32_t *v, size_t n, int32_t d)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == d) return true;
    return false;
}

/* Date D is in an object-storage tier of the version written on (*TIER: its name). */
static bool in_object_storage(struct wd *w, int32_t d, const char **tier)
{
    const struct cfg *c = w->o->cfg;
    for (size_t i = 0; w->snap && i < c->ndate; i++)
        if (tiers_in_object_tier(w->snap, c->date_tiers[i], d)) {
            *tier = c->date_tiers[i]->name;
            return true;
        }
    return false;
}

/* Where date D lives now (its segment and tier), or the first date tier. */
static int locate(struct wd *w, int32_t d, const char *table, struct part *p, struct smfs_err *err)
{
    const struct cfg *c = w->o->cfg;
    char ds[11];
    k_date_str(d, ds);
    for (size_t i = 0; w->snap && i < c->ndate; i++) {   /* an empty store holds no date */
        const char *seg = c->date_tiers[i]->segment;
        if (!seg) continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", seg, ds);
        struct store_entry e;
        int rc = store_lookup(w->snap, path, &e, err);
        if (rc == -ENOENT) continue;
        if (rc) return rc;
        snprintf(p->base, sizeof p->base, "%s/%s/%s", seg, ds, table);
        p->tier = (unsigned)tiers_store_index(c, i);
        p->exists = true;
        return 0;
    }
    for (size_t i = 0; i < c->ndate; i++)
        if (c->date_tiers[i]->segment) {
            snprintf(p->base, sizeof p->base, "%s/%s/%s", c->date_tiers[i]->segment, ds, table);
            p->tier = (unsigned)tiers_store_index(c, i);
            return 0;
        }
    return err_set(err, -EINVAL, "the assembly has no local date tier to write %s into", ds);
}

static struct part *add_part(struct wd *w)
{
    if (w->nparts == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct part *n = realloc(w->parts, cap * sizeof *n);
        if (!n) return NULL;
        w->parts = n;
        w->cap = cap;
    }
    struct part *p = &w->parts[w->nparts++];
    memset(p, 0, sizeof *p);
    return p;
}

/* Step 1: a table's rows by date. */
static int split_dates(struct wd *w, size_t ti, int32_t **dates_out, size_t *ndates, struct smfs_err *err)
{
    const struct cfg_table *t = &w->o->cfg->tables[ti];
    struct spill_tabmap *m = &w->maps[ti];
    int pc = col_index(t, t->prtn_col);
    if (pc < 0 || m->cols[pc].kind != SPILL_FIXED || m->cols[pc].type != KT_TIMESTAMP)
        return err_set(err, -EINVAL, "table %s: its partition column %s is not a timestamp column", t->name,
                       t->prtn_col ? t->prtn_col : "(none)");
    const int64_t *ts = (const int64_t *)m->cols[pc].data;
    uint64_t n = m->rows;
    /* Distinct dates (few), each row's date index, then a counting split. */
    int32_t *dates = NULL;
    size_t nd = 0, cap = 0;
    uint32_t *which = malloc((n ? n : 1) * sizeof *which);
    if (!which) return err_set(err, -ENOMEM, "out of memory");
    uint64_t refused = 0, nulls = 0, inobj = 0;
    int32_t *objdates = NULL;
    size_t nobj = 0, objcap = 0;
    const char *objtier = NULL;
    for (uint64_t r = 0; r < n; r++) {
        if (ts[r] == KNULL_J) {
            which[r] = UINT32_MAX;
            nulls++;
            continue;
        }
        int64_t dd = ts[r] / K_NS_PER_DAY - (ts[r] % K_NS_PER_DAY < 0);
        int32_t d = (int32_t)dd;
        if (d < w->o->oldest) {
            which[r] = UINT32_MAX;
            refused++;
            continue;
        }
        size_t k = 0;
        while (k < nd && dates[k] != d) k++;
        if (k == nd && !has_date(objdates, nobj, d) && in_object_storage(w, d, &objtier)) {
            /* Object storage is immutable (as in Insights): a date that went there
             * takes no more rows. Remembered, so the next row of it is refused fast. */
            if (nobj == objcap) {
                objcap = objcap ? objcap * 2 : 4;
                int32_t *nx = realloc(objdates, objcap * sizeof *nx);
                if (!nx) {
                    free(objdates);
                    free(dates);
                    free(which);
                    return err_set(err, -ENOMEM, "out of memory");
                }
                objdates = nx;
            }
            objdates[nobj++] = d;
        }
        if (k == nd && has_date(objdates, nobj, d)) {
            which[r] = UINT32_MAX;
            inobj++;
            continue;
        }
        if (k == nd) {
            if (nd == cap) {
                cap = cap ? cap * 2 : 8;
                int32_t *nx = realloc(dates, cap * sizeof *nx);
                if (!nx) {
                    free(dates);
                    free(which);
                    return err_set(err, -ENOMEM, "out of memory");
                }
                dates = nx;
            }
            dates[nd++] = d;
        }
        which[r] = (uint32_t)k;
    }
    if (nulls) note(w, "table %s: %" PRIu64 " rows with a null %s cannot go to any date: refused", t->name, nulls,
                    t->prtn_col);
    if (refused) {
        char ds[11];
        k_date_str(w->o->oldest, ds);
        note(w, "table %s: %" PRIu64 " rows dated before %s, older than every local tier keeps: refused", t->name, refused,
             ds);
    }
    if (inobj) {
        char ds[11];
        k_date_str(objdates[0], ds);
        note(w, "table %s: %" PRIu64 " rows for %zu date%s (%s%s) in object-storage tier %s, whose partitions are "
             "immutable: refused", t->name, inobj, nobj, nobj == 1 ? "" : "s", ds, nobj > 1 ? ", …" : "", objtier);
    }
    free(objdates);
    w->sum->refused_rows += refused + nulls + inobj;
    int rc = 0;
    for (size_t k = 0; k < nd && !rc; k++) {
        struct part *p = add_part(w);
        if (!p) {
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        p->t = t;
        p->m = m;
        p->date = dates[k];
        uint64_t cnt = 0;
        for (uint64_t r = 0; r < n; r++) cnt += which[r] == k;
        p->rows = malloc((cnt ? cnt : 1) * sizeof *p->rows);
        if (!p->rows) {
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        for (uint64_t r = 0; r < n; r++)
            if (which[r] == k) p->rows[p->nnew++] = (uint32_t)r;
        rc = locate(w, p->date, t->name, p, err);
    }
    free(which);
    if (rc) {
        free(dates);
        return rc;
    }
    *dates_out = dates;
    *ndates = nd;
    return 0;
}

/* The partition's columns as the database has them (a column the partition lacks --
 * added to the assembly since -- is NULL: its rows are nulls). */
static int load_old(struct wd *w, struct part *p, struct smfs_err *err)
{
    const struct cfg_table *t = p->t;
    p->old = calloc(t->ncols, sizeof *p->old);
    if (!p->old) return err_set(err, -ENOMEM, "out of memory");
    struct store_entry te;
    int rc = store_lookup(w->snap, p->base, &te, err);
    if (rc == -ENOENT) {   /* the date exists, this table not (yet) */
        p->exists = false;
        return 0;
    }
    if (rc) return rc;
    int64_t n = -1;
    for (size_t c = 0; c < t->ncols && !rc; c++) {
        char path[800], hp[810];
        snprintf(path, sizeof path, "%s/%s", p->base, t->cols[c].name);
        snprintf(hp, sizeof hp, "%s#", path);
        struct store_entry e, he;
        rc = store_lookup(w->snap, path, &e, err);
        if (rc == -ENOENT) {
            rc = 0;
            continue;
        }
        if (rc) break;
        if (store_lookup(w->snap, hp, &he, err) == 0) {   /* nested: index and heap */
            struct kdb_file f, hf;
            const uint8_t *ip, *hpp;
            size_t il, hl;
            rc = read_object(w->s, &e, &f, &ip, &il, err);
            if (!rc) {
                rc = read_object(w->s, &he, &hf, &hpp, &hl, err);
                if (!rc) {
                    rc = kdb_decode_nested(ip, il, hpp, hl, path, &p->old[c], err);
                    kdb_file_close(&hf);
                }
                kdb_file_close(&f);
            }
        } else {
            rc = load_k(w->s, &e, path, &p->old[c], err);
        }
        if (!rc) {
            int64_t cn = k_count(p->old[c]);
            if (n >= 0 && cn != n)
                rc = err_set(err, -EIO, "partition %s: column %s holds %lld rows, the others %lld", p->base,
                             t->cols[c].name, (long long)cn, (long long)n);
            n = cn;
        }
    }
    if (rc) return err_wrap(err, "reading %s to merge late rows", p->base);
    p->nold = n < 0 ? 0 : (uint64_t)n;
    return 0;
}

/* ---- sorting -------------------------------------------------------------------------- */

/* An order-preserving 64-bit key of an item of width W and type T (nulls first, as
 * kdb+ sorts them). */
static uint64_t key_of(int8_t t, const uint8_t *p)
{
    switch (t) {
    case KT_BOOL: case KT_BYTE: case KT_CHAR: return p[0];
    case KT_SHORT: {
        int16_t v;
        memcpy(&v, p, 2);
        return (uint64_t)(int64_t)v ^ (UINT64_C(1) << 63);
    }
    case KT_INT: case KT_MONTH: case KT_DATE: case KT_MINUTE: case KT_SECOND: case KT_TIME:
        return (uint64_t)(int64_t)(int32_t)le32(p) ^ (UINT64_C(1) << 63);
    case KT_REAL: {
        float f;
        memcpy(&f, p, 4);
        double d = f;
        uint64_t b;
        memcpy(&b, &d, 8);
        if (d != d) return 0;
        return b >> 63 ? ~b : b | (UINT64_C(1) << 63);
    }
    case KT_FLOAT: case KT_DATETIME: {
        double d;
        memcpy(&d, p, 8);
        uint64_t b;
        memcpy(&b, &d, 8);
        if (d != d) return 0;
        return b >> 63 ? ~b : b | (UINT64_C(1) << 63);
    }
    default: return le64(p) ^ (UINT64_C(1) << 63);   /* long, timestamp, timespan */
    }
}

/* Ranks of names: for a sort by a symbol column, what order its values go in. */
struct rankent {
    const char *name;
    uint32_t   *slot;
};
static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct rankent *)a)->name, ((const struct rankent *)b)->name);
}

/* Keys of column C in the order PERM: old rows from the partition, new from the spill. */
static int keys_of(struct wd *w, struct part *p, size_t c, const uint32_t *perm, uint64_t *keys, struct smfs_err *err)
{
    const struct spill_colmap *sc = &p->m->cols[c];
    const struct k *old = p->old ? p->old[c] : NULL;
    int8_t t = sc->type;
    if (sc->kind == SPILL_FIXED) {
        if (t == KT_GUID) return err_set(err, -EINVAL, "table %s: sorting by guid column %s is not supported", p->t->name,
                                         sc->c->name);
        int wd = k_width(t);
        for (uint64_t i = 0; i < p->n; i++) {
            uint64_t r = perm[i];
            if (r < p->nold)
                keys[i] = old ? key_of(t, (const uint8_t *)old->u.v + r * (uint64_t)wd) : 0;
            else
                keys[i] = key_of(t, sc->data + (uint64_t)p->rows[r - p->nold] * (uint64_t)wd);
        }
        return 0;
    }
    if (sc->kind != SPILL_SYM)
        return err_set(err, -EINVAL, "table %s: sorting by %s, a nested or mixed column, is not supported", p->t->name,
                       sc->c->name);
    /* Rank every name in use: the spill's symbols and the partition's enumeration. */
    uint32_t ns = spill_nsyms(w->sp), no = (uint32_t)w->sym.n;
    uint32_t *rs = calloc((size_t)ns + 1, sizeof *rs), *ro = calloc((size_t)no + 1, sizeof *ro);
    struct rankent *e = malloc(((size_t)ns + no + 1) * sizeof *e);
    if (!rs || !ro || !e) {
        free(rs), free(ro), free(e);
        return err_set(err, -ENOMEM, "out of memory");
    }
    size_t ne = 0;
    for (uint32_t i = 0; i < ns; i++) e[ne++] = (struct rankent){spill_sym(w->sp, i), &rs[i]};
    if (old && old->t == KT_ENUM)
        for (uint32_t i = 0; i < no; i++) e[ne++] = (struct rankent){w->sym.v[i], &ro[i]};
    qsort(e, ne, sizeof *e, by_name);
    uint32_t rank = 0;
    for (size_t i = 0; i < ne; i++) {
        if (i && strcmp(e[i].name, e[i - 1].name)) rank++;
        *e[i].slot = rank;
    }
    free(e);
    const uint8_t *ids = sc->data;
    for (uint64_t i = 0; i < p->n; i++) {
        uint64_t r = perm[i];
        if (r < p->nold) {
            int64_t v = old ? ((const int64_t *)old->u.v)[r] : -1;
            keys[i] = v >= 0 && (uint64_t)v < no ? ro[v] + 1 : 0;   /* a null name first */
        } else {
            keys[i] = (uint64_t)rs[le32(ids + 4 * (uint64_t)p->rows[r - p->nold])] + 1;
        }
    }
    free(rs);
    free(ro);
    return 0;
}

/* Stable LSD radix sort of PERM by KEYS (both n long), 8 bits at a time, skipping the
 * bytes every key shares. */
static int radix(uint32_t *perm, uint64_t *keys, uint64_t n)
{
    bool sorted = true;
    for (uint64_t i = 1; i < n && sorted; i++) sorted = keys[i - 1] <= keys[i];
    if (sorted) return 0;
    uint64_t and_ = ~UINT64_C(0), or_ = 0;
    for (uint64_t i = 0; i < n; i++) {
        and_ &= keys[i];
        or_ |= keys[i];
    }
    uint32_t *p2 = malloc(n * sizeof *p2);
    uint64_t *k2 = malloc(n * sizeof *k2);
    if (!p2 || !k2) {
        free(p2);
        free(k2);
        return -ENOMEM;
    }
    for (int sh = 0; sh < 64; sh += 8) {
        if (((and_ ^ or_) >> sh & 0xff) == 0) continue;   /* every key has this byte */
        uint64_t cnt[257] = {0};
        for (uint64_t i = 0; i < n; i++) cnt[(keys[i] >> sh & 0xff) + 1]++;
        for (int b = 0; b < 256; b++) cnt[b + 1] += cnt[b];
        for (uint64_t i = 0; i < n; i++) {
            uint64_t at = cnt[keys[i] >> sh & 0xff]++;
            p2[at] = perm[i];
            k2[at] = keys[i];
        }
        memcpy(perm, p2, n * sizeof *perm);
        memcpy(keys, k2, n * sizeof *keys);
    }
    free(p2);
    free(k2);
    return 0;
}

/* The sort columns: sortColsDisk (else the parted column), then the partition column
 * when they do not name it -- so rows of one symbol stay in time order whatever order
 * they arrived in. */
static uint8_t col_attr(const struct cfg_table *t, size_t c, bool ord)
{
    return ord ? t->cols[c].attr_ord : t->cols[c].attr_disk;
}

/* ORD: an interval's (sortColsOrd, attrOrd), else a day's (sortColsDisk, attrDisk). */
static size_t sort_cols(const struct cfg_table *t, bool ord, int *out, size_t max)
{
    size_t n = 0;
    const struct cfg_strv *sc = ord ? &t->sort_ord : &t->sort_disk;
    for (size_t i = 0; i < sc->n && n < max; i++) {
        int c = col_index(t, sc->v[i]);
        if (c >= 0) out[n++] = c;
    }
    for (size_t i = 0; !sc->n && i < t->ncols && n < max; i++)
        if (col_attr(t, i, ord) == KA_PARTED) out[n++] = (int)i;
    int pc = col_index(t, t->prtn_col);
    bool has = false;
    for (size_t i = 0; i < n; i++) has |= out[i] == pc;
    if (pc >= 0 && !has && n < max) out[n++] = pc;
    return n;
}

static int sort_part(struct wd *w, struct part *p, struct smfs_err *err)
{
    p->n = p->nold + p->nnew;
    p->perm = malloc((p->n ? p->n : 1) * sizeof *p->perm);
    uint64_t *keys = malloc((p->n ? p->n : 1) * sizeof *keys);
    if (!p->perm || !keys) {
        free(keys);
        return err_set(err, -ENOMEM, "out of memory sorting %" PRIu64 " rows of %s", p->n, p->t->name);
    }
    for (uint64_t i = 0; i < p->n; i++) p->perm[i] = (uint32_t)i;
    int cols[16];
    size_t nk = sort_cols(p->t, p->ordinal, cols, 16);
    int rc = 0;
    for (size_t k = nk; k-- > 0 && !rc;) {
        rc = keys_of(w, p, (size_t)cols[k], p->perm, keys, err);
        if (!rc && radix(p->perm, keys, p->n)) rc = err_set(err, -ENOMEM, "out of memory sorting %s", p->t->name);
    }
    free(keys);
    return rc;
}

/* ---- attributes ----------------------------------------------------------------------- */

static uint8_t attr_for(const struct part *p, size_t c)
{
    const struct cfg_table *t = p->t;
    int cols[16];
    size_t nk = sort_cols(t, p->ordinal, cols, 16);
    uint8_t a = col_attr(t, c, p->ordinal);
    if (a) return a;
    /* q's xasc leaves s# on its first column: kept where it is not the parted one. */
    if (nk && cols[0] == (int)c && p->m->cols[c].kind == SPILL_FIXED) return KA_SORTED;
    return KA_NONE;
}

/* ---- step 3: symbols in final order ---------------------------------------------------- */

static int enumerate(struct wd *w, struct part *p, struct smfs_err *err)
{
    p->syms = calloc(p->t->ncols, sizeof *p->syms);
    if (!p->syms) return err_set(err, -ENOMEM, "out of memory");
    if (p->t->type == CFG_BASIC) return 0;   /* a basic table holds plain symbols */
    uint32_t ns = spill_nsyms(w->sp);
    int64_t *map = NULL;   /* spill id → enumeration value, filled on first sight */
    for (size_t c = 0; c < p->t->ncols; c++) {
        const struct spill_colmap *sc = &p->m->cols[c];
        if (sc->kind != SPILL_SYM) continue;
        if (!map) {
            map = malloc(((size_t)ns + 1) * sizeof *map);
            if (!map) return err_set(err, -ENOMEM, "out of memory");
            memset(map, 0xff, ((size_t)ns + 1) * sizeof *map);
        }
        int64_t *v = malloc((p->n ? p->n : 1) * sizeof *v);
        if (!v) {
            free(map);
            return err_set(err, -ENOMEM, "out of memory");
        }
        p->syms[c] = v;
        const struct k *old = p->old ? p->old[c] : NULL;
        for (uint64_t i = 0; i < p->n; i++) {
            uint64_t r = p->perm[i];
            if (r < p->nold) {
                v[i] = old && old->t == KT_ENUM ? ((const int64_t *)old->u.v)[r] : KNULL_J;
                continue;
            }
            if (i + 16 < p->n && p->perm[i + 16] >= p->nold)   /* as in write_fixed */
                __builtin_prefetch(sc->data + 4 * (uint64_t)p->rows[p->perm[i + 16] - p->nold]);
            uint32_t id = le32(sc->data + 4 * (uint64_t)p->rows[r - p->nold]);
            if (map[id] < 0) {
                int64_t idx;
                if (symtab_find(&w->sym, spill_sym(w->sp, id), true, &idx)) {
                    free(map);
                    return err_set(err, -ENOMEM, "out of memory for sym");
                }
                map[id] = idx;
            }
            v[i] = map[id];
        }
    }
    free(map);
    return 0;
}

/* ---- step 4: writing columns --------------------------------------------------------------- */

/* Column C of part P in final order, as a K object. */
static int gather(struct wd *w, struct part *p, size_t c, struct k **out, struct smfs_err *err)
{
    const struct spill_colmap *sc = &p->m->cols[c];
    const struct k *old = p->old ? p->old[c] : NULL;
    struct k *x = NULL;
    if (sc->kind == SPILL_SYM) {
        if (p->t->type == CFG_BASIC) {   /* a basic table keeps plain symbols (and has no old rows) */
            x = k_vec(KT_SYM, (int64_t)p->n);
            for (uint64_t i = 0; x && i < p->n; i++) {
                uint32_t id = le32(sc->data + 4 * (uint64_t)p->rows[p->perm[i] - p->nold]);
                if (k_symv_set(x, (int64_t)i, spill_sym(w->sp, id))) {
                    k_free(x);
                    x = NULL;
                }
            }
        } else if ((x = k_enum("sym", (int64_t)p->n))) {
            memcpy(x->u.v, p->syms[c], p->n * sizeof(int64_t));
        }
    } else if (sc->kind == SPILL_FIXED) {
        int wd = k_width(sc->type);
        x = k_vec(sc->type, (int64_t)p->n);
        if (x) {
            uint8_t *dst = x->u.v;
            struct k *null = NULL;
            for (uint64_t i = 0; i < p->n; i++, dst += wd) {
                uint64_t r = p->perm[i];
                if (r >= p->nold) memcpy(dst, sc->data + (uint64_t)p->rows[r - p->nold] * (uint64_t)wd, (size_t)wd);
                else if (old) memcpy(dst, (const uint8_t *)old->u.v + r * (uint64_t)wd, (size_t)wd);
                else {   /* a column the old partition lacks: q's null of its type */
                    if (!null && !(null = k_vec(sc->type, 1))) break;
                    memset(dst, 0, (size_t)wd);
                    if (wd == 8 && sc->type != KT_FLOAT && sc->type != KT_DATETIME) st64(dst, (uint64_t)KNULL_J);
                    else if (wd == 4 && sc->type != KT_REAL) st32(dst, (uint32_t)KNULL_I);
                    else if (wd == 2) { dst[0] = 0; dst[1] = 0x80; }
                    else if (sc->type == KT_FLOAT || sc->type == KT_DATETIME) { double nan = 0.0 / 0.0; memcpy(dst, &nan, 8); }
                    else if (sc->type == KT_REAL) { float nan = 0.0f / 0.0f; memcpy(dst, &nan, 4); }
                    else if (sc->type == KT_CHAR) dst[0] = ' ';
                }
            }
            k_free(null);
        }
    } else if (sc->kind == SPILL_NESTED) {
        int wd = k_width(sc->type);
        x = k_list((int64_t)p->n);
        for (uint64_t i = 0; x && i < p->n; i++) {
            uint64_t r = p->perm[i];
            struct k *it;
            if (r < p->nold) {
                it = old ? k_copy(old->u.kk[r]) : k_vec(sc->type, 0);
            } else {
                uint64_t row = p->rows[r - p->nold];
                uint64_t end = le64(sc->data + 8 * row), start = row ? le64(sc->data + 8 * (row - 1)) : 0;
                if (end < start || end > sc->heaplen) {
                    k_free(x);
                    return err_set(err, -EIO, "table %s: spill column %s is damaged at row %" PRIu64, p->t->name,
                                   sc->c->name, row);
                }
                it = k_vec(sc->type, (int64_t)((end - start) / (uint64_t)wd));
                if (it && end > start) memcpy(it->u.v, sc->heap + start, end - start);
            }
            if (!it) {
                k_free(x);
                x = NULL;
                break;
            }
            k_list_set(x, (int64_t)i, it);
        }
    } else {
        return err_set(err, -ENOTSUP, "table %s: column %s (%s) cannot be written down yet: smfs writes nested "
                       "columns of one simple type, not %s", p->t->name, sc->c->name, sc->c->type_name,
                       sc->kind == SPILL_NSYM ? "symbol lists (col## files)" : "mixed lists");
    }
    if (!x) return err_set(err, -ENOMEM, "out of memory for %" PRIu64 " rows of %s.%s", p->n, p->t->name, sc->c->name);
    *out = x;
    return 0;
}

static int put(struct wd *w, const char *path, const struct buf *b, unsigned tier, struct smfs_err *err)
{
    pthread_mutex_lock(&w->mu);
    int rc = store_tx_put_bytes(w->tx, path, b->p, b->len, tier, err);
    if (!rc) {
        w->sum->files++;
        w->sum->bytes += b->len;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Put the file bytes RAW at PATH, compressed as the tier says; RAW is released. */
static int put_file(struct wd *w, const char *path, struct buf *raw, unsigned tier, struct smfs_err *err)
{
    struct buf z;
    buf_init(&z, BUF_MAX_DEFAULT);
    const struct kdb_zparams *zp = tiers_zip(tiers_local(w->o->cfg, tier));
    int rc = zp ? kdb_zip(raw->p, raw->len, zp, &z, err) : 0;
    if (!rc) rc = put(w, path, zp ? &z : raw, tier, err);
    buf_release(raw);
    buf_release(&z);
    return rc ? err_wrap(err, "%s", path) : 0;
}

/* Encode X and put it at PATH. */
static int put_k(struct wd *w, const char *path, const struct k *x, unsigned tier, struct smfs_err *err)
{
    struct buf raw;
    buf_init(&raw, BUF_MAX_DEFAULT);
    int rc = kdb_encode(x, 0, &raw, err);
    if (rc) {
        buf_release(&raw);
        return err_wrap(err, "%s", path);
    }
    return put_file(w, path, &raw, tier, err);
}

/* A nested column straight from the spill's heap (and the old partition's items)
 * into kdb+'s col and col# files: no object per row. */
static int write_nested(struct wd *w, struct part *p, size_t c, const char *path, struct smfs_err *err)
{
    const struct spill_colmap *sc = &p->m->cols[c];
    const struct k *old = p->old ? p->old[c] : NULL;
    int wd = k_width(sc->type);
    struct buf idx, heap;
    buf_init(&idx, BUF_MAX_DEFAULT);
    buf_init(&heap, BUF_MAX_DEFAULT);
    size_t base;
    int rc = kdb_nested_begin(&idx, &heap, &base, err);
    if (!rc) rc = buf_reserve(&idx, p->n * 8) ? err_set(err, -ENOMEM, "out of memory") : 0;
    for (uint64_t i = 0; !rc && i < p->n; i++) {
        uint64_t r = p->perm[i];
        if (i + 16 < p->n && p->perm[i + 16] >= p->nold) {   /* as in write_fixed */
            uint64_t ahead = p->rows[p->perm[i + 16] - p->nold];
            __builtin_prefetch(sc->data + 8 * ahead);
            if (ahead) __builtin_prefetch(sc->data + 8 * (ahead - 1));
        }
        if (r < p->nold) {
            const struct k *it = old ? old->u.kk[r] : NULL;
            if (it && it->t == sc->type) rc = kdb_nested_item(&idx, &heap, base, sc->type, it->u.v, it->n, err);
            else rc = kdb_nested_item(&idx, &heap, base, sc->type, NULL, 0, err);
            continue;
        }
        uint64_t row = p->rows[r - p->nold];
        uint64_t end = le64(sc->data + 8 * row), start = row ? le64(sc->data + 8 * (row - 1)) : 0;
        if (end < start || end > sc->heaplen || (end - start) % (uint64_t)wd)
            rc = err_set(err, -EIO, "table %s: spill column %s is damaged at row %" PRIu64, p->t->name, sc->c->name, row);
        else
            rc = kdb_nested_item(&idx, &heap, base, sc->type, sc->heap + start, (int64_t)((end - start) / (uint64_t)wd),
                                 err);
    }
    if (!rc) rc = put(w, path, &idx, p->tier, err);
    char hp[810];
    snprintf(hp, sizeof hp, "%s#", path);
    if (!rc) rc = put(w, hp, &heap, p->tier, err);
    buf_release(&idx);
    buf_release(&heap);
    return rc ? err_wrap(err, "%s", path) : 0;
}

/* A fixed-width column without an index structure, gathered straight into the file's
 * bytes after its header (no intermediate vector, no second copy). */
static int write_fixed(struct wd *w, struct part *p, size_t c, const char *path, struct smfs_err *err)
{
    const struct spill_colmap *sc = &p->m->cols[c];
    const struct k *old = p->old ? p->old[c] : NULL;
    int wd = k_width(sc->type);
    uint8_t a = p->attr[c] == KA_SORTED ? KA_SORTED : KA_NONE;
    struct buf raw;
    buf_init(&raw, BUF_MAX_DEFAULT);
    int rc = kdb_vector_header(sc->type, a, (int64_t)p->n, 0, &raw, err);
    if (!rc && buf_reserve(&raw, p->n * (uint64_t)wd)) rc = err_set(err, -ENOMEM, "out of memory for %s", path);
    if (!rc) {
        uint8_t *dst = raw.p + raw.len;
        if (!old && p->nold) {   /* a column the old partition lacks: let gather make its nulls */
            struct k *x = NULL;
            rc = gather(w, p, c, &x, err);
            if (!rc) memcpy(dst, x->u.v, p->n * (uint64_t)wd);
            k_free(x);
        } else {
            for (uint64_t i = 0; i < p->n; i++, dst += wd) {
                uint64_t r = p->perm[i];
                /* Rows come in sorted order, from anywhere in the spill: ask for the
                 * one a few rows ahead now, so its cache line is there when needed. */
                if (i + 16 < p->n && p->perm[i + 16] >= p->nold)
                    __builtin_prefetch(sc->data + (uint64_t)p->rows[p->perm[i + 16] - p->nold] * (uint64_t)wd);
                const uint8_t *src = r >= p->nold ? sc->data + (uint64_t)p->rows[r - p->nold] * (uint64_t)wd
                                                  : (const uint8_t *)old->u.v + r * (uint64_t)wd;
                memcpy(dst, src, (size_t)wd);
            }
        }
        raw.len += p->n * (uint64_t)wd;
    }
    /* s# only where it holds (a first sort column that is not the parted one is sorted
     * within the whole partition only when it is the only sort column). */
    for (uint64_t i = 1; !rc && a == KA_SORTED && i < p->n; i++)
        if (key_of(sc->type, raw.p + 16 + i * (uint64_t)wd) < key_of(sc->type, raw.p + 16 + (i - 1) * (uint64_t)wd))
            a = raw.p[3] = KA_NONE;
    if (rc) {
        buf_release(&raw);
        return err_wrap(err, "%s", path);
    }
    return put_file(w, path, &raw, p->tier, err);
}

static int write_col(struct wd *w, struct part *p, size_t c, struct smfs_err *err)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", p->base, p->t->cols[c].name);
    if (p->m->cols[c].kind == SPILL_FIXED && p->attr[c] <= KA_SORTED && p->t->type != CFG_BASIC) {
        int frc = write_fixed(w, p, c, path, err);
        if (!frc && fault_hit("wd.column")) frc = err_set(err, -EIO, "injected fault at wd.column (%s)", path);
        return frc;
    }
    if (p->m->cols[c].kind == SPILL_NESTED && p->t->type != CFG_BASIC) {
        int nrc = write_nested(w, p, c, path, err);
        if (!nrc && fault_hit("wd.column")) nrc = err_set(err, -EIO, "injected fault at wd.column (%s)", path);
        return nrc;
    }
    struct k *x = NULL;
    int rc = gather(w, p, c, &x, err);
    if (rc) return rc;
    uint8_t a = p->attr[c];
    if (a == KA_SORTED && x->t != KT_SYM)
        for (int64_t i = 1; i < x->n && a; i++)
            if (key_of(x->t, (const uint8_t *)x->u.v + (size_t)i * (size_t)k_width(x->t)) <
                key_of(x->t, (const uint8_t *)x->u.v + (size_t)(i - 1) * (size_t)k_width(x->t)))
                a = KA_NONE;
    if (a > KA_SORTED && x->t == KT_ENUM) {
        x->attr = a;
        char why[200];
        if (!kdb_attr_supported(x, why, sizeof why)) {
            note(w, "%s: %s# left out: %s", path, k_attr_name(a), why);
            a = KA_NONE;
        }
    } else if (a > KA_SORTED) {
        note(w, "%s: %s# left out: smfs writes u#, p# and g# on symbol columns only", path, k_attr_name(a));
        a = KA_NONE;
    }
    x->attr = a;
    rc = put_k(w, path, x, p->tier, err);
    if (rc == -EINVAL && a > KA_SORTED) {   /* the data cannot carry it (p# not parted): said, and written without */
        note(w, "%s: %s# left out: %s", path, k_attr_name(a), err->msg);
        x->attr = KA_NONE;
        rc = put_k(w, path, x, p->tier, err);
    }
    k_free(x);
    if (!rc && fault_hit("wd.column")) rc = err_set(err, -EIO, "injected fault at wd.column (%s)", path);
    return rc;
}

struct colwork {
    struct wd *w;
    size_t     next, total, done;
    int        rc;
    struct smfs_err err;
    pthread_mutex_t mu;
};

static void *writer(void *arg)
{
    struct colwork *cw = arg;
    struct wd *w = cw->w;
    for (;;) {
        pthread_mutex_lock(&cw->mu);
        size_t j = cw->next++;
        bool stop = cw->rc != 0 || j >= cw->total;
        pthread_mutex_unlock(&cw->mu);
        if (stop) return NULL;
        /* Job j: column c of part pj (parts have different widths; basic tables are
         * written whole, after). */
        size_t pj = 0, c = j;
        while (pj < w->nparts && (w->parts[pj].t->type == CFG_BASIC || c >= w->parts[pj].t->ncols))
            if (w->parts[pj].t->type == CFG_BASIC) pj++;
            else c -= w->parts[pj++].t->ncols;
        struct part *p = &w->parts[pj];
        struct smfs_err e = {0};
        int rc = write_col(w, p, c, &e);
        pthread_mutex_lock(&cw->mu);
        if (rc && !cw->rc) {
            cw->rc = rc;
            cw->err = e;
        }
        cw->done++;
        size_t done = cw->done;
        pthread_mutex_unlock(&cw->mu);
        if (!rc && w->o->progress) {
            char cur[300];
            char ds[11] = "";
            if (p->date != INT32_MIN) k_date_str(p->date, ds);
            snprintf(cur, sizeof cur, "%s %s %s", p->t->name, ds, p->t->cols[c].name);
            w->o->progress(w->o->arg, cur, done, cw->total);
        }
    }
}

static int write_all(struct wd *w, struct smfs_err *err)
{
    struct colwork cw = {.w = w};
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].t->type != CFG_BASIC) cw.total += w->parts[i].t->ncols;
    pthread_mutex_init(&cw.mu, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = w->o->threads > 0 ? w->o->threads : cpus > 0 ? (int)(cpus > 8 ? 8 : cpus) : 1;
    pthread_t th[16];
    int started = 0;
    for (int i = 1; i < nt && i < 16; i++)
        if (pthread_create(&th[started], NULL, writer, &cw) == 0) started++;
    writer(&cw);   /* this thread too */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&cw.mu);
    if (cw.rc) {
        *err = cw.err;
        return cw.rc;
    }
    /* A basic table: one file, the table serialized whole. */
    int rc = 0;
    for (size_t i = 0; !rc && i < w->nparts; i++) {
        struct part *p = &w->parts[i];
        if (p->t->type != CFG_BASIC) continue;
        struct k *names = k_vec(KT_SYM, (int64_t)p->t->ncols), *cols = k_list((int64_t)p->t->ncols);
        rc = names && cols ? 0 : err_set(err, -ENOMEM, "out of memory");
        for (size_t c = 0; !rc && c < p->t->ncols; c++) {
            struct k *x = NULL;
            rc = gather(w, p, c, &x, err);
            if (!rc) k_list_set(cols, (int64_t)c, x);
            if (!rc && k_symv_set(names, (int64_t)c, p->t->cols[c].name)) rc = err_set(err, -ENOMEM, "out of memory");
        }
        struct k *t = rc ? NULL : k_table(k_dict(names, cols));
        if (rc) {
            k_free(names);
            k_free(cols);
        } else if (!t) {
            rc = err_set(err, -ENOMEM, "out of memory");
        }
        if (!rc) rc = put_k(w, p->base, t, 0, err);
        k_free(t);
    }
    return rc;
}

/* .d of a part: its columns in schema order (none for a basic table: one file). */
static int write_d(struct wd *w, struct part *p, struct smfs_err *err)
{
    if (p->t->type == CFG_BASIC) return 0;
    struct k *d = k_vec(KT_SYM, (int64_t)p->t->ncols);
    for (size_t c = 0; d && c < p->t->ncols; c++)
        if (k_symv_set(d, (int64_t)c, p->t->cols[c].name)) {
            k_free(d);
            d = NULL;
        }
    char path[700];
    snprintf(path, sizeof path, "%s/.d", p->base);
    int rc = d ? put_k(w, path, d, p->tier, err) : err_set(err, -ENOMEM, "out of memory");
    k_free(d);
    return rc;
}

/* sym, when names were added: every name, old ones first, in the same commit. */
static int write_sym(struct wd *w, struct smfs_err *err)
{
    if (w->sym.n <= w->sym.n0) return 0;
    w->sum->new_syms = (uint64_t)(w->sym.n - w->sym.n0);
    struct k *sv = k_vec(KT_SYM, w->sym.n);
    for (int64_t i = 0; sv && i < w->sym.n; i++)
        if (k_symv_set(sv, i, w->sym.v[i])) {
            k_free(sv);
            sv = NULL;
        }
    struct buf b;
    buf_init(&b, BUF_MAX_DEFAULT);
    int rc = sv ? kdb_encode(sv, 0, &b, err) : err_set(err, -ENOMEM, "out of memory");
    if (!rc) rc = put(w, "sym", &b, 0, err);
    buf_release(&b);
    k_free(sv);
    return rc;
}

/* ---- the marker -------------------------------------------------------------------------- */

static int read_marker(struct wd *w, struct store_snap *snap, char **text, size_t *len, struct smfs_err *err)
{
    *text = NULL;
    *len = 0;
    struct store_entry e;
    int rc = store_lookup(snap, WRITEDOWN_MARKER, &e, err);
    if (rc == -ENOENT) return 0;
    if (rc) return rc;
    char path[4200];
    rc = store_object_path(w->s, &e, path, sizeof path, err);
    uint8_t *p = NULL;
    if (!rc) rc = file_read_all(path, MARKER_MAX, &p, len, err);
    *text = (char *)p;
    return rc;
}

static bool marker_has(const char *text, size_t len, const char *id)
{
    size_t il = strlen(id);
    for (const char *l = text; l && l < text + len;) {
        const char *nl = memchr(l, '\n', (size_t)(text + len - l));
        size_t ll = nl ? (size_t)(nl - l) : (size_t)(text + len - l);
        if (ll > il && !memcmp(l, id, il) && l[il] == ' ') return true;
        l = nl ? nl + 1 : NULL;
    }
    return false;
}

int writedown_done(struct store *s, const char *id, bool *done, struct smfs_err *err)
{
    *done = false;
    if (!store_current(s)) return 0;
    struct wd w = {.s = s};
    struct store_snap *snap;
    int rc = store_snap_get(s, 0, &snap, err);
    if (rc) return rc;
    char *text;
    size_t len;
    rc = read_marker(&w, snap, &text, &len, err);
    if (!rc) *done = marker_has(text, len, id);
    free(text);
    store_snap_put(snap);
    return rc;
}

/* Whatever W holds: an unfinished transaction (aborted), the version it read, parts,
 * mapped spill files, the sym table. */
static void wd_release(struct wd *w)
{
    if (w->tx) store_tx_abort(w->tx);
    if (w->snap) store_snap_put(w->snap);
    for (size_t i = 0; i < w->nparts; i++) part_free(&w->parts[i]);
    free(w->parts);
    for (size_t ti = 0; w->maps && ti < w->o->cfg->ntables; ti++) spill_unmap_table(&w->maps[ti]);
    free(w->maps);
    symtab_free(&w->sym);
    pthread_mutex_destroy(&w->mu);
}

/* Commit W's transaction. store_tx_commit frees it whatever the outcome, so W lets go of
 * it first: wd_release must not abort a transaction that is already gone. */
static int wd_commit(struct wd *w, uint64_t *version, struct smfs_err *err)
{
    struct store_tx *tx = w->tx;
    w->tx = NULL;
    return store_tx_commit(tx, version, err);
}

/* ---- the IDB's record: ".smfs/eoi", one line per interval written --------------------------
 *   <spill id> <k> <n> <end ns>   interval k of that spill is idb/<n>, ending then */

struct eoiline {
    char    id[4400];
    int64_t k, n, end;
};

static int eoi_lines(struct wd *w, struct store_snap *snap, struct eoiline **out, size_t *nl, struct smfs_err *err)
{
    *out = NULL;
    *nl = 0;
    if (!snap) return 0;
    struct store_entry e;
    int rc = store_lookup(snap, WRITEDOWN_EOI, &e, err);
    if (rc == -ENOENT) return 0;
    char path[4200];
    uint8_t *text = NULL;
    size_t len = 0;
    if (!rc) rc = store_object_path(w->s, &e, path, sizeof path, err);
    if (!rc) rc = file_read_all(path, MARKER_MAX, &text, &len, err);
    struct eoiline *v = NULL;
    size_t n = 0;
    for (size_t at = 0; !rc && at < len;) {
        const char *l = (const char *)text + at, *nl2 = memchr(l, '\n', len - at);
        size_t ll = nl2 ? (size_t)(nl2 - l) : len - at;
        at += ll + 1;
        struct eoiline x;
        char fmt[64];
        char *line = strndup(l, ll);
        if (!line) {
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        snprintf(fmt, sizeof fmt, "%%%zus %%lld %%lld %%lld", sizeof x.id - 1);
        long long k, nn, end;
        int got = sscanf(line, fmt, x.id, &k, &nn, &end);
        free(line);
        if (got != 4) continue;   /* a line we did not write: skipped */
        x.k = k, x.n = nn, x.end = end;
        struct eoiline *nv = realloc(v, (n + 1) * sizeof *nv);
        if (!nv) {
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        (v = nv)[n++] = x;
    }
    free(text);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *nl = n;
    return 0;
}

static int eoi_write(struct wd *w, const struct eoiline *v, size_t n, struct smfs_err *err)
{
    if (!n) {
        int rc = store_tx_remove(w->tx, WRITEDOWN_EOI, err);
        return rc == -ENOENT ? (err_clear(err), 0) : rc;
    }
    struct buf b;
    buf_init(&b, MARKER_MAX * 2);
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = buf_printf(&b, "%s %lld %lld %lld\n", v[i].id, (long long)v[i].k, (long long)v[i].n, (long long)v[i].end)
                 ? err_set(err, -ENOMEM, "out of memory") : 0;
    if (!rc) rc = put(w, WRITEDOWN_EOI, &b, 0, err);
    buf_release(&b);
    return rc;
}

/* The end of day of spill ID: its intervals leave the IDB. */
static int idb_drop(struct wd *w, const char *id, struct smfs_err *err)
{
    struct eoiline *v;
    size_t n, kept = 0;
    int rc = eoi_lines(w, w->snap, &v, &n, err);
    bool any = false;
    for (size_t i = 0; !rc && i < n; i++) {
        if (strcmp(v[i].id, id)) {
            v[kept++] = v[i];
            continue;
        }
        char path[64];
        snprintf(path, sizeof path, "idb/%lld", (long long)v[i].n);
        rc = store_tx_remove(w->tx, path, err);
        if (rc == -ENOENT) rc = 0, err_clear(err);
        any = true;
    }
    if (!rc && any) rc = eoi_write(w, v, kept, err);
    free(v);
    return rc;
}

int writedown_idb_end(struct store *s, struct store_snap *snap, int64_t *end_ns, struct smfs_err *err)
{
    struct wd w = {.s = s};
    struct eoiline *v;
    size_t n;
    *end_ns = KNULL_J;
    int rc = eoi_lines(&w, snap, &v, &n, err);
    for (size_t i = 0; !rc && i < n; i++)
        if (*end_ns == KNULL_J || v[i].end > *end_ns) *end_ns = v[i].end;
    if (!rc) free(v);
    return rc;
}

int writedown_eoi(struct store *s, struct spill *sp, const struct wd_opts *o, struct wd_summary *sum,
                  struct smfs_err *err)
{
    memset(sum, 0, sizeof *sum);
    const struct cfg *cfg = o->cfg;
    struct wd w = {.s = s, .sp = sp, .o = o, .sum = sum};
    pthread_mutex_init(&w.mu, NULL);
    struct eoiline *lines = NULL;
    size_t nl = 0;
    int rc = store_tx_begin(s, &w.tx, err);
    if (!rc && store_current(s)) rc = store_snap_get(s, 0, &w.snap, err);
    if (!rc) rc = eoi_lines(&w, w.snap, &lines, &nl, err);
    int64_t next = 0;
    for (size_t i = 0; !rc && i < nl; i++) {
        if (!strcmp(lines[i].id, o->id) && lines[i].k == o->interval) {
            sum->already = true;
            goto out;
        }
        if (lines[i].n >= next) next = lines[i].n + 1;
    }
    sum->ordinal = next;
    if (!rc && w.snap) rc = symtab_load(s, w.snap, &w.sym, err);
    w.maps = calloc(cfg->ntables + 1, sizeof *w.maps);
    if (!rc && !w.maps) rc = err_set(err, -ENOMEM, "out of memory");
    /* Every partitioned table of the assembly, its rows of the interval (or none). */
    for (size_t ti = 0; !rc && ti < cfg->ntables; ti++) {
        const struct cfg_table *t = &cfg->tables[ti];
        if (t->type != CFG_PARTITIONED) continue;
        rc = spill_map_table(sp, t->name, &w.maps[ti], err);
        uint64_t from = o->from[ti], to = o->to[ti];
        if (!rc && (from > to || to > w.maps[ti].rows))
            rc = err_set(err, -EINVAL, "interval %lld of %s: rows %" PRIu64 "..%" PRIu64 " of %s, which holds %" PRIu64,
                         (long long)o->interval, o->id, from, to, t->name, w.maps[ti].rows);
        struct part *p = rc ? NULL : add_part(&w);
        if (!rc && !p) rc = err_set(err, -ENOMEM, "out of memory");
        if (rc) break;
        p->t = t;
        p->m = &w.maps[ti];
        p->date = INT32_MIN;
        p->ordinal = true;
        p->tier = 0;
        snprintf(p->base, sizeof p->base, "idb/%lld/%s", (long long)next, t->name);
        p->nnew = to - from;
        p->rows = malloc((p->nnew ? p->nnew : 1) * sizeof *p->rows);
        if (!p->rows) rc = err_set(err, -ENOMEM, "out of memory");
        for (uint64_t r = 0; !rc && r < p->nnew; r++) p->rows[r] = (uint32_t)(from + r);
        sum->rows += p->nnew;
    }
    for (size_t i = 0; !rc && i < w.nparts; i++) {
        struct part *p = &w.parts[i];
        p->attr = calloc(p->t->ncols, 1);
        if (!p->attr) rc = err_set(err, -ENOMEM, "out of memory");
        for (size_t c = 0; !rc && c < p->t->ncols; c++) p->attr[c] = attr_for(p, c);
        if (!rc) rc = sort_part(&w, p, err);
        if (!rc) rc = enumerate(&w, p, err);
    }
    if (!rc) rc = write_all(&w, err);
    for (size_t i = 0; !rc && i < w.nparts; i++) rc = write_d(&w, &w.parts[i], err);
    if (!rc) rc = write_sym(&w, err);
    if (!rc) {
        struct eoiline *nv = realloc(lines, (nl + 1) * sizeof *nv);
        if (!nv) rc = err_set(err, -ENOMEM, "out of memory");
        else {
            lines = nv;
            snprintf(lines[nl].id, sizeof lines[nl].id, "%s", o->id);
            lines[nl].k = o->interval;
            lines[nl].n = next;
            lines[nl].end = o->end_ns;
            rc = eoi_write(&w, lines, nl + 1, err);
        }
    }
    char nstr[32];
    snprintf(nstr, sizeof nstr, "%lld", (long long)next);
    if (!rc) rc = store_tx_set(w.tx, "kind", "eoi", err);
    if (!rc) rc = store_tx_set(w.tx, "interval", nstr, err);
    if (!rc) rc = store_tx_set(w.tx, "spill", o->id, err);
    if (!rc) rc = wd_commit(&w, &sum->version, err);
out:
    wd_release(&w);
    free(lines);
    return rc;
}

/* ---- the whole ----------------------------------------------------------------------------- */

int writedown_eod(struct store *s, struct spill *sp, const struct wd_opts *o, struct wd_summary *sum,
                  struct smfs_err *err)
{
    memset(sum, 0, sizeof *sum);
    sum->first = INT32_MAX;
    sum->last = INT32_MIN;
    const struct cfg *cfg = o->cfg;
    struct wd w = {.s = s, .sp = sp, .o = o, .sum = sum};
    pthread_mutex_init(&w.mu, NULL);
    char *marker = NULL;
    size_t mlen = 0;
    int32_t *dates = NULL, *all = NULL;
    size_t nall = 0;
    int rc = store_tx_begin(s, &w.tx, err);
    if (!rc && store_current(s)) rc = store_snap_get(s, 0, &w.snap, err);
    if (!rc && w.snap) rc = read_marker(&w, w.snap, &marker, &mlen, err);
    if (!rc && marker_has(marker, mlen, o->id)) {
        sum->already = true;
        goto out;
    }
    if (!rc && w.snap) rc = symtab_load(s, w.snap, &w.sym, err);
    w.maps = calloc(cfg->ntables + 1, sizeof *w.maps);
    if (!rc && !w.maps) rc = err_set(err, -ENOMEM, "out of memory");
    /* 1. rows by date */
    for (size_t ti = 0; !rc && ti < cfg->ntables; ti++) {
        const struct cfg_table *t = &cfg->tables[ti];
        rc = spill_map_table(sp, t->name, &w.maps[ti], err);
        if (rc || !w.maps[ti].rows) continue;
        sum->rows += w.maps[ti].rows;
        if (t->type != CFG_PARTITIONED) {
            struct part *p = add_part(&w);
            if (!p) {
                rc = err_set(err, -ENOMEM, "out of memory");
                break;
            }
            p->t = t;
            p->m = &w.maps[ti];
            p->date = INT32_MIN;
            p->tier = 0;
            snprintf(p->base, sizeof p->base, "%s", t->name);
            p->nnew = w.maps[ti].rows;
            p->rows = malloc(p->nnew * sizeof *p->rows);
            if (!p->rows) rc = err_set(err, -ENOMEM, "out of memory");
            for (uint64_t r = 0; !rc && r < p->nnew; r++) p->rows[r] = (uint32_t)r;
            continue;
        }
        size_t nd = 0;
        rc = split_dates(&w, ti, &dates, &nd, err);
        for (size_t k = 0; !rc && k < nd; k++) {   /* every date any table has */
            size_t j = 0;
            while (j < nall && all[j] != dates[k]) j++;
            if (j == nall) {
                int32_t *na = realloc(all, (nall + 1) * sizeof *na);
                if (!na) rc = err_set(err, -ENOMEM, "out of memory");
                else (all = na)[nall++] = dates[k];
            }
        }
        free(dates);
        dates = NULL;
    }
    /* Every partitioned table on every date written: an empty part where it has none. */
    for (size_t k = 0; !rc && k < nall; k++)
        for (size_t ti = 0; !rc && ti < cfg->ntables; ti++) {
            const struct cfg_table *t = &cfg->tables[ti];
            if (t->type != CFG_PARTITIONED) continue;
            bool have = false;
            for (size_t i = 0; i < w.nparts && !have; i++) have = w.parts[i].t == t && w.parts[i].date == all[k];
            if (have) continue;
            if (!w.maps[ti].cols && (rc = spill_map_table(sp, t->name, &w.maps[ti], err))) break;
            struct part *p = add_part(&w);
            if (!p) {
                rc = err_set(err, -ENOMEM, "out of memory");
                break;
            }
            p->t = t;
            p->m = &w.maps[ti];
            p->date = all[k];
            rc = locate(&w, all[k], t->name, p, err);
        }
    /* 2. old rows and the order; 3. symbols */
    for (size_t i = 0; !rc && i < w.nparts; i++) {
        struct part *p = &w.parts[i];
        if (p->date != INT32_MIN) {
            if (p->exists) rc = load_old(&w, p, err);
            if (!rc && p->exists && !p->nnew) {   /* already there, nothing new: leave it be */
                p->n = 0;
                continue;
            }
            if (p->date < sum->first) sum->first = p->date;
            if (p->date > sum->last) sum->last = p->date;
            if (p->nold && p->nnew) sum->late_rows += p->nnew;
        }
        p->attr = calloc(p->t->ncols, 1);
        if (!p->attr) rc = err_set(err, -ENOMEM, "out of memory");
        for (size_t c = 0; !rc && c < p->t->ncols; c++) p->attr[c] = attr_for(p, c);
        if (!rc) rc = sort_part(&w, p, err);
        if (!rc) rc = enumerate(&w, p, err);
        if (rc) {
            char ds[11] = "";
            if (p->date != INT32_MIN) k_date_str(p->date, ds);
            err_wrap(err, "%s %s", p->t->name, ds);
        }
    }
    /* Parts that change nothing drop out (their old columns are not rewritten). */
    for (size_t i = 0; !rc && i < w.nparts;) {
        if (w.parts[i].exists && !w.parts[i].nnew) {
            part_free(&w.parts[i]);
            w.parts[i] = w.parts[--w.nparts];
        } else {
            i++;
        }
    }
    /* 4. every column */
    if (!rc) rc = write_all(&w, err);
    /* 5. .d, sym, marker, commit */
    for (size_t i = 0; !rc && i < w.nparts; i++) rc = write_d(&w, &w.parts[i], err);
    sum->partitions = nall;
    /* The intervals of this spill leave the IDB in the same commit: the day is in the
     * HDB now. */
    if (!rc && w.snap) rc = idb_drop(&w, o->id, err);
    /* A store made empty (no import) has no par.txt yet: without it the view would
     * show the segment as a table at the root. */
    struct store_entry pe;
    int prc = rc ? 0 : w.snap ? store_lookup(w.snap, "par.txt", &pe, err) : -ENOENT;
    if (!rc && prc == -ENOENT) {
        struct buf b;
        buf_init(&b, 1 << 16);
        rc = cfg_store_par_txt(cfg, &b) ? err_set(err, -ENOMEM, "out of memory") : put(&w, "par.txt", &b, 0, err);
        buf_release(&b);
    } else if (!rc && prc) {
        rc = prc;
    }
    if (!rc) rc = write_sym(&w, err);
    if (!rc) {
        /* The marker: this spill, after the last MARKER_KEEP - 1 lines. */
        struct buf b;
        buf_init(&b, MARKER_MAX * 2);
        size_t lines = 0, from = 0;
        for (size_t i = 0; i < mlen; i++) lines += marker[i] == '\n';
        for (size_t i = 0; i < mlen && lines >= MARKER_KEEP; i++)
            if (marker[i] == '\n') {
                lines--;
                from = i + 1;
            }
        char ds[11];
        k_date_str(o->date, ds);
        rc = (mlen > from && buf_append(&b, marker + from, mlen - from)) ||
             buf_printf(&b, "%s %s %" PRIu64 "\n", o->id, ds, sum->rows) ? err_set(err, -ENOMEM, "out of memory") : 0;
        if (!rc) rc = put(&w, WRITEDOWN_MARKER, &b, 0, err);
        buf_release(&b);
        char rows[32];
        snprintf(rows, sizeof rows, "%" PRIu64, sum->rows);
        if (!rc) rc = store_tx_set(w.tx, "kind", "eod", err);
        if (!rc) rc = store_tx_set(w.tx, "date", ds, err);
        if (!rc) rc = store_tx_set(w.tx, "rows", rows, err);
        if (!rc) rc = store_tx_set(w.tx, "spill", o->id, err);
    }
    if (!rc) rc = wd_commit(&w, &sum->version, err);
out:
    wd_release(&w);
    free(all);
    free(marker);
    if (sum->first > sum->last) sum->first = sum->last = 0;
    return rc;
}
