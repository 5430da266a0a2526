/* core/spill.c: see spill.h. Three parts: the schema check of an update (one column
 * at a time, before anything is appended), appending (memory buffers per file,
 * written out past the budget), and checkpoints (STATE as text, so an administrator
 * can read where a spill stands). */
#include "spill.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "buf.h"
#include "fileio.h"
#include "k_fmt.h"
#include "k_ser.h"
#include "num.h"
#include "u64map.h"

#define STATE_MAX   ((size_t)4 << 20)
#define KEEP_CAP    ((size_t)4 << 20)   /* a buffer this big is freed once written out */
#define SPILL_MODE  0750

enum kind { SK_FIXED = SPILL_FIXED, SK_SYM = SPILL_SYM, SK_NESTED = SPILL_NESTED, SK_NSYM = SPILL_NSYM,
            SK_MIXED = SPILL_MIXED };

/* One file of a column: what is on disk, and what waits in memory to be appended. */
struct sfile {
    int        fd;
    uint64_t   disk;       /* bytes in the file */
    bool       dirty;      /* written since the last fdatasync */
    struct buf mem;
    char       path[4096];
};

struct scol {
    const struct cfg_column *c;
    enum kind    kind;
    int8_t       type;     /* of one item (KT_*); 0 for mixed */
    int          w;        /* bytes per entry of f: item width, 4 for a symbol, 8 for an offset */
    struct sfile f;        /* items, or end offsets into heap */
    struct sfile heap;     /* nested and mixed only (fd -1 otherwise) */
    uint64_t     heap_end; /* bytes of heap, on disk and in memory */
};

struct stab {
    const struct cfg_table *t;
    struct scol *cols;
    size_t       ncols;
    uint64_t     rows;     /* held, on disk and in memory */
    uint64_t     mem_rows; /* of them, still in memory */
    uint64_t     base;     /* rows of the same log earlier spills hold */
};

struct spill {
    char            *dir, *log;
    struct spill_opts o;
    struct stab     *tabs;
    size_t           ntabs;
    /* Symbols: every name in id order (names), its offset (noff), a hash map from
     * the name's hash to id + 1, and how many names the syms file holds. */
    struct u64map    map;
    struct buf       names;
    uint64_t        *noff;
    uint32_t         nsyms, capsyms, syms_disk;
    uint64_t         syms_disk_bytes;
    int              symfd;
    bool             sym_dirty;
    uint64_t         mem;  /* bytes in every sfile.mem */
    bool             sealed;
    int32_t          date;
    struct spill_mark mark;
    bool             has_mark;
    uint64_t         checkpoints;
    uint64_t         msgs;    /* updates taken */
    bool             ro;      /* spill_open_ro: read, never written or cut */
    struct spill_eoi *eois;   /* intervals cut from this spill, in order */
    size_t           neoi;
};

/* ---- small helpers ------------------------------------------------------------------ */

static bool safe_name(const char *s)
{
    return s && *s && *s != '.' && !strchr(s, '/') && !strpbrk(s, " \t\r\n") && strlen(s) < 200;
}

static void sfile_init(struct sfile *f)
{
    f->fd = -1;
    f->disk = 0;
    f->dirty = false;
    buf_init(&f->mem, BUF_MAX_DEFAULT);
    f->path[0] = 0;
}

static void sfile_close(struct sfile *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    buf_release(&f->mem);
}

static int write_at(int fd, const uint8_t *p, size_t n, uint64_t off, const char *path, struct smfs_err *err)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return err_sys(err, "write", path);
        if (w == 0) return err_set(err, -EIO, "write(%s): wrote nothing", path);
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int sfile_flush(struct spill *sp, struct sfile *f, struct smfs_err *err)
{
    if (f->fd < 0 || !f->mem.len) return 0;
    int rc = write_at(f->fd, f->mem.p, f->mem.len, f->disk, f->path, err);
    if (rc) return rc;
    f->disk += f->mem.len;
    sp->mem -= f->mem.len;
    f->mem.len = 0;
    f->dirty = true;
    if (f->mem.cap > KEEP_CAP) buf_release(&f->mem);
    return 0;
}

static int sfile_sync(struct sfile *f, struct smfs_err *err)
{
    if (f->fd < 0 || !f->dirty) return 0;
    if (fdatasync(f->fd) < 0) return err_sys(err, "fdatasync", f->path);
    f->dirty = false;
    return 0;
}

/* Open (creating when CREATE) the file and make it exactly BYTES long: longer means
 * writes after the last checkpoint (cut back), shorter a damaged spill. */
static int sfile_open(struct sfile *f, const char *path, uint64_t bytes, bool create, bool ro, struct smfs_err *err)
{
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (create && !ro ? O_CREAT : 0), 0640);
    if (f->fd < 0) {
        if (errno == ENOENT && bytes == 0 && ro) return f->disk = 0, 0;   /* nothing to read */
        if (errno == ENOENT && bytes == 0) return sfile_open(f, path, 0, true, ro, err);
        return errno == ENOENT ? err_set(err, -EBADMSG, "spill file '%s' is missing (its checkpoint says %" PRIu64
                                         " bytes)", path, bytes)
                               : err_sys(err, "open", path);
    }
    struct stat st;
    if (fstat(f->fd, &st) < 0) return err_sys(err, "stat", path);
    if ((uint64_t)st.st_size < bytes)
        return err_set(err, -EBADMSG, "spill file '%s' holds %lld bytes, its checkpoint says %" PRIu64
                       ": the spill is damaged", path, (long long)st.st_size, bytes);
    /* Read-only (an end of interval reading while the stream appends): bytes past the
     * checkpoint are left alone and simply not read. */
    if (!ro && (uint64_t)st.st_size > bytes && ftruncate(f->fd, (off_t)bytes) < 0) return err_sys(err, "ftruncate", path);
    f->disk = bytes;
    return 0;
}

/* ---- the schema ----------------------------------------------------------------------- */

static int col_setup(struct scol *c, const struct cfg_column *cc, struct smfs_err *err)
{
    c->c = cc;
    c->type = cc->type;
    sfile_init(&c->f);
    sfile_init(&c->heap);
    if (cc->type == 0) {
        c->kind = SK_MIXED;
        c->w = 8;
    } else if (cc->type == KT_SYM) {
        c->kind = cc->vector ? SK_NSYM : SK_SYM;
        c->w = cc->vector ? 8 : 4;
    } else if (k_is_simple(cc->type)) {
        c->kind = cc->vector ? SK_NESTED : SK_FIXED;
        c->w = cc->vector ? 8 : k_width(cc->type);
    } else {
        return err_set(err, -EINVAL, "column %s: type '%s' cannot be streamed", cc->name, cc->type_name);
    }
    if (!safe_name(cc->name)) return err_set(err, -EINVAL, "column '%s': not a name a file can have", cc->name);
    return 0;
}

static bool has_heap(const struct scol *c)
{
    return c->kind == SK_NESTED || c->kind == SK_NSYM || c->kind == SK_MIXED;
}

/* "j", "C" (a vector column: upper case, as q's meta shows), "*" for mixed. */
static void type_code(const struct scol *c, char out[2])
{
    char ch = c->kind == SK_MIXED ? '*' : k_type_char(c->type);
    out[0] = has_heap(c) && c->kind != SK_MIXED ? (char)toupper((unsigned char)ch) : ch;
    out[1] = 0;
}

static void stab_free(struct stab *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        sfile_close(&t->cols[i].f);
        sfile_close(&t->cols[i].heap);
    }
    free(t->cols);
}

static struct spill *spill_new(const char *dir, const struct spill_opts *o, struct smfs_err *err)
{
    struct spill *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->dir = strdup(dir))) {
        free(sp);
        err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    sp->o = *o;
    if (!sp->o.budget) sp->o.budget = SPILL_BUDGET_DEFAULT;
    sp->symfd = -1;
    buf_init(&sp->names, (size_t)UINT32_MAX * 16);
    const struct cfg *cfg = o->cfg;
    sp->tabs = calloc(cfg->ntables ? cfg->ntables : 1, sizeof *sp->tabs);
    sp->mark.rows = calloc(cfg->ntables ? cfg->ntables : 1, sizeof *sp->mark.rows);
    if (!sp->tabs || !sp->mark.rows) {
        spill_close(sp);
        err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->ntables; i++) {
        struct stab *t = &sp->tabs[sp->ntabs++];
        t->t = &cfg->tables[i];
        if (!safe_name(t->t->name)) {
            spill_close(sp);
            err_set(err, -EINVAL, "table '%s': not a name a directory can have", t->t->name);
            return NULL;
        }
        t->cols = calloc(t->t->ncols ? t->t->ncols : 1, sizeof *t->cols);
        if (!t->cols) {
            spill_close(sp);
            err_set(err, -ENOMEM, "out of memory");
            return NULL;
        }
        for (size_t c = 0; c < t->t->ncols; c++) {
            int rc = col_setup(&t->cols[c], &t->t->cols[c], err);
            t->ncols++;
            if (rc) {
                err_wrap(err, "table %s", t->t->name);
                spill_close(sp);
                return NULL;
            }
        }
    }
    return sp;
}

void spill_close(struct spill *sp)
{
    if (!sp) return;
    for (size_t i = 0; i < sp->ntabs; i++) stab_free(&sp->tabs[i]);
    free(sp->tabs);
    if (sp->symfd >= 0) close(sp->symfd);
    u64map_release(&sp->map);
    buf_release(&sp->names);
    free(sp->noff);
    free(sp->mark.rows);
    for (size_t k = 0; k < sp->neoi; k++) free(sp->eois[k].rows);
    free(sp->eois);
    free(sp->dir);
    free(sp->log);
    free(sp);
}

int spill_remove(const char *dir, struct smfs_err *err)
{
    return file_remove_tree(dir, err);
}

static struct stab *find_tab(const struct spill *sp, const char *name)
{
    for (size_t i = 0; i < sp->ntabs; i++)
        if (!strcmp(sp->tabs[i].t->name, name)) return &sp->tabs[i];
    return NULL;
}

static int col_paths(const struct spill *sp, const struct stab *t, const struct scol *c, char *f, char *h,
                     size_t n)
{
    if (snprintf(f, n, "%s/%s/%s", sp->dir, t->t->name, c->c->name) >= (int)n ||
        snprintf(h, n, "%s/%s/%s#", sp->dir, t->t->name, c->c->name) >= (int)n)
        return -ENAMETOOLONG;
    return 0;
}

/* ---- symbols ------------------------------------------------------------------------- */

static const char *sym_name(const struct spill *sp, uint32_t id)
{
    return (const char *)sp->names.p + sp->noff[id];
}

/* The id of NAME, adding it when new. A 64-bit hash names the slot; a collision (two
 * names, one hash) moves on to the next seed, so lookups follow the same chain. */
static int intern(struct spill *sp, const char *name, uint32_t *id, struct smfs_err *err)
{
    size_t len = strlen(name);
    for (uint64_t seed = 0;; seed++) {
        uint64_t h = XXH3_64bits_withSeed(name, len, seed);
        if (!h) h = 1;
        uint64_t v;
        if (!u64map_get(&sp->map, h, &v)) {
            if (sp->nsyms == UINT32_MAX) return err_set(err, -E2BIG, "more than 4 billion distinct symbols in one day");
            if (sp->nsyms == sp->capsyms) {
                uint32_t cap = sp->capsyms ? sp->capsyms * 2 : 1024;
                uint64_t *n = realloc(sp->noff, (size_t)cap * sizeof *n);
                if (!n) return err_set(err, -ENOMEM, "out of memory for symbols");
                sp->noff = n;
                sp->capsyms = cap;
            }
            uint64_t at = sp->names.len;
            if (buf_append(&sp->names, name, len + 1) || u64map_put(&sp->map, h, (uint64_t)sp->nsyms + 1))
                return err_set(err, -ENOMEM, "out of memory for symbols");
            sp->noff[sp->nsyms] = at;
            *id = sp->nsyms++;
            return 0;
        }
        if (!strcmp(sym_name(sp, (uint32_t)(v - 1)), name)) {
            *id = (uint32_t)(v - 1);
            return 0;
        }
    }
}

static int syms_flush(struct spill *sp, struct smfs_err *err)
{
    if (sp->syms_disk == sp->nsyms) return 0;
    char p[4200];
    snprintf(p, sizeof p, "%s/syms", sp->dir);
    uint64_t from = sp->syms_disk_bytes, to = sp->names.len;
    int rc = write_at(sp->symfd, sp->names.p + from, (size_t)(to - from), from, p, err);
    if (rc) return rc;
    sp->syms_disk_bytes = to;
    sp->syms_disk = sp->nsyms;
    sp->sym_dirty = true;
    return 0;
}

/* ---- checking an update ----------------------------------------------------------------- */

/* "a float vector", "a long atom", "a general list", "a table" -- what came. */
static void describe(const struct k *x, char *out, size_t n)
{
    if (!x) snprintf(out, n, "nothing");
    else if (x->t < 0 && x->t != KT_ERROR) snprintf(out, n, "a %s atom", k_type_name(-x->t));
    else if (x->t == KT_LIST) snprintf(out, n, "a general list");
    else if (x->t > 0 && x->t < KT_TABLE) snprintf(out, n, "a %s vector", k_type_name(x->t));
    else snprintf(out, n, "a %s", k_type_name(x->t));
}

/* What the assembly asks for, as a sentence fragment. */
static void expected(const struct scol *c, char *out, size_t n)
{
    switch (c->kind) {
    case SK_FIXED:
    case SK_SYM:   snprintf(out, n, "%s", c->c->type_name); break;
    case SK_NESTED:
    case SK_NSYM:  snprintf(out, n, "%s (each row a %s vector)", c->c->type_name, k_type_name(c->type)); break;
    case SK_MIXED: snprintf(out, n, "mixed"); break;
    }
}

static int col_error(const struct stab *t, const struct scol *c, const struct k *x, const char *what,
                     struct smfs_err *err)
{
    char got[64], want[96];
    describe(x, got, sizeof got);
    expected(c, want, sizeof want);
    return err_set(err, -EINVAL, "update of %s: column %s is %s%s, the assembly says %s", t->t->name, c->c->name, got,
                   what, want);
}

/* An item of a nested column: a vector of the column's item type, or an empty list. */
static bool nested_item_ok(const struct scol *c, const struct k *it)
{
    return it && (it->t == c->type || (it->t == KT_LIST && it->n == 0));
}

/* X as column C: a whole column (ONE false), or the single row of a one-row update.
 * *N: its rows. */
static int check_col(const struct stab *t, const struct scol *c, const struct k *x, bool one, int64_t *n,
                     struct smfs_err *err)
{
    *n = 1;
    switch (c->kind) {
    case SK_FIXED:
    case SK_SYM:
        if (one ? x->t == -c->type : x->t == c->type) break;
        return col_error(t, c, x, "", err);
    case SK_NESTED:
    case SK_NSYM:
        if (one) {
            if (nested_item_ok(c, x)) break;
            return col_error(t, c, x, " for one row", err);
        }
        if (x->t == KT_LIST) {
            for (int64_t i = 0; i < x->n; i++)
                if (!nested_item_ok(c, x->u.kk[i])) {
                    char what[128], got[64];
                    describe(x->u.kk[i], got, sizeof got);
                    snprintf(what, sizeof what, " whose row %lld is %s", (long long)i, got);
                    return col_error(t, c, x, what, err);
                }
            break;
        }
        return col_error(t, c, x, "", err);
    case SK_MIXED:
        if (one || x->t == KT_LIST || (x->t > 0 && x->t < KT_TABLE && (k_is_simple(x->t) || x->t == KT_SYM))) break;
        return col_error(t, c, x, "", err);
    }
    if (!one) *n = x->n;
    return 0;
}

/* The columns of DATA in schema order, and whether it is one row of atoms. */
static int columns_of(const struct stab *t, const struct k *data, const struct k *const **cols, bool *one,
                      struct smfs_err *err)
{
    const struct k *list = data;
    if (data->t == KT_TABLE) {
        const struct k *d = data->u.kk[0], *keys = d->u.kk[0];
        list = d->u.kk[1];
        if (keys->t != KT_SYM || list->t != KT_LIST || keys->n != list->n)
            return err_set(err, -EINVAL, "update of %s: a table without symbol column names", t->t->name);
        if ((size_t)keys->n != t->ncols)
            return err_set(err, -EINVAL, "update of %s: a table of %lld columns, the assembly has %zu", t->t->name,
                           (long long)keys->n, t->ncols);
        for (size_t i = 0; i < t->ncols; i++)
            if (strcmp(k_symv_at(keys, (int64_t)i), t->cols[i].c->name))
                return err_set(err, -EINVAL, "update of %s: column %zu is %s, the assembly says %s", t->t->name, i + 1,
                               k_symv_at(keys, (int64_t)i), t->cols[i].c->name);
        *one = false;
    } else if (data->t == KT_LIST) {
        if ((size_t)data->n != t->ncols)
            return err_set(err, -EINVAL, "update of %s: %lld columns, the assembly has %zu", t->t->name,
                           (long long)data->n, t->ncols);
        /* kdb+tick's rule (0>type first x) on the first column whose kind decides:
         * an atom (or, for a nested column, one item) is a one-row update. */
        *one = false;
        for (size_t i = 0; i < t->ncols; i++) {
            const struct scol *c = &t->cols[i];
            const struct k *x = data->u.kk[i];
            if (c->kind == SK_MIXED) continue;
            *one = c->kind == SK_FIXED || c->kind == SK_SYM ? x->t < 0 : x->t == c->type;
            break;
        }
    } else {
        char got[64];
        describe(data, got, sizeof got);
        return err_set(err, -EINVAL, "update of %s: the data is %s, not a table or a list of columns", t->t->name, got);
    }
    *cols = (const struct k *const *)list->u.kk;
    return 0;
}

int spill_schema_check(const struct cfg *cfg, const char *table, const struct k *schema, size_t *untyped,
                       struct smfs_err *err)
{
    *untyped = 0;
    const struct cfg_table *t = cfg_table_find(cfg, table);
    if (!t) return err_set(err, -ENOENT, "the assembly has no table %s", table);
    if (!schema || schema->t != KT_TABLE)
        return err_set(err, -EINVAL, "table %s: the tickerplant's schema is not a table", table);
    const struct k *keys = schema->u.kk[0]->u.kk[0], *vals = schema->u.kk[0]->u.kk[1];
    if (keys->t != KT_SYM || vals->t != KT_LIST || keys->n != vals->n)
        return err_set(err, -EINVAL, "table %s: the tickerplant's schema has no symbol column names", table);
    for (size_t i = 0; i < t->ncols || i < (size_t)keys->n; i++) {
        if (i >= (size_t)keys->n)
            return err_set(err, -EINVAL, "table %s: column %s (%s) is missing on the tickerplant", table, t->cols[i].name,
                           t->cols[i].type_name[0] ? t->cols[i].type_name : "mixed");
        const char *name = k_symv_at(keys, (int64_t)i);
        const struct k *x = vals->u.kk[i];
        if (i >= t->ncols)
            return err_set(err, -EINVAL, "table %s: the tickerplant has a column %s (%s) the assembly does not", table,
                           name, x->t == KT_LIST ? "untyped" : k_type_name(x->t));
        struct scol c;
        int rc = col_setup(&c, &t->cols[i], err);
        if (rc) return err_wrap(err, "table %s", table);
        if (strcmp(name, c.c->name))
            return err_set(err, -EINVAL, "table %s: column %zu is %s on the tickerplant, %s in the assembly", table, i + 1,
                           name, c.c->name);
        bool ok = c.kind == SK_FIXED || c.kind == SK_SYM ? x->t == c.type : x->t == KT_LIST;
        if (!ok && x->t == KT_LIST && x->n == 0) {
            (*untyped)++;
            continue;
        }
        if (!ok) {
            char want[96];
            expected(&c, want, sizeof want);
            return err_set(err, -EINVAL, "table %s: column %s is %s on the tickerplant, %s in the assembly", table, name,
                           x->t == KT_LIST ? "a general list" : k_type_name(x->t), want);
        }
    }
    return 0;
}

/* ---- appending ------------------------------------------------------------------------- */

static struct k *item_atom(const struct k *x, int64_t i)
{
    if (x->t == KT_SYM) return k_sym(k_symv_at(x, i));
    struct k *a = k_atom((int8_t)-x->t);
    if (a) memcpy(&a->u, (const uint8_t *)x->u.v + (size_t)i * (size_t)k_width(x->t), (size_t)k_width(x->t));
    return a;
}

static int put(struct spill *sp, struct sfile *f, const void *p, size_t n)
{
    size_t before = f->mem.len;
    if (buf_append(&f->mem, p, n)) return -ENOMEM;
    sp->mem += f->mem.len - before;
    return 0;
}

static int put_sym(struct spill *sp, struct sfile *f, const char *name, struct smfs_err *err)
{
    uint32_t id;
    int rc = intern(sp, name, &id, err);
    uint8_t b[4];
    st32(b, id);
    return rc ? rc : put(sp, f, b, 4) ? err_set(err, -ENOMEM, "out of memory") : 0;
}

static int put_end(struct spill *sp, struct scol *c)
{
    uint8_t b[8];
    st64(b, c->heap_end);
    return put(sp, &c->f, b, 8);
}

/* Rows [from, n) of column X (or its one row) into C's buffers. */
static int append_col(struct spill *sp, struct scol *c, const struct k *x, bool one, int64_t from, int64_t n,
                      struct smfs_err *err)
{
    int rc = 0;
    if (one) {
        if (from >= 1) return 0;
        switch (c->kind) {
        case SK_FIXED: rc = put(sp, &c->f, &x->u, (size_t)c->w); break;
        case SK_SYM:   return put_sym(sp, &c->f, x->u.s ? x->u.s : "", err);
        default:       break;
        }
        if (c->kind == SK_FIXED) return rc ? err_set(err, -ENOMEM, "out of memory") : 0;
    }
    switch (c->kind) {
    case SK_FIXED:
        rc = put(sp, &c->f, (const uint8_t *)x->u.v + (size_t)from * (size_t)c->w, (size_t)(n - from) * (size_t)c->w);
        break;
    case SK_SYM:
        for (int64_t i = from; i < n && !rc; i++) rc = put_sym(sp, &c->f, k_symv_at(x, i), err);
        return rc;
    case SK_NESTED:
    case SK_NSYM:
        for (int64_t i = one ? 0 : from; i < (one ? 1 : n) && !rc; i++) {
            const struct k *it = one ? x : x->u.kk[i];
            if (c->kind == SK_NESTED && it->t != KT_LIST) {
                size_t bytes = (size_t)it->n * (size_t)k_width(c->type);
                rc = put(sp, &c->heap, it->u.v, bytes);
                c->heap_end += bytes;
            } else if (c->kind == SK_NSYM && it->t == KT_SYM) {
                for (int64_t j = 0; j < it->n && !rc; j++) rc = put_sym(sp, &c->heap, k_symv_at(it, j), err);
                c->heap_end += (uint64_t)it->n * 4;
            }
            if (!rc) rc = put_end(sp, c);
        }
        break;
    case SK_MIXED:
        for (int64_t i = one ? 0 : from; i < (one ? 1 : n) && !rc; i++) {
            struct k *tmp = NULL;
            const struct k *it = one ? x : x->t == KT_LIST ? x->u.kk[i] : (tmp = item_atom(x, i));
            if (!it) return err_set(err, -ENOMEM, "out of memory");
            size_t before = c->heap.mem.len;
            rc = k_serialize(it, &c->heap.mem, err);
            k_free(tmp);
            if (rc) return err_wrap(err, "column %s row %lld", c->c->name, (long long)i);
            sp->mem += c->heap.mem.len - before;
            c->heap_end += c->heap.mem.len - before;
            rc = put_end(sp, c);
        }
        break;
    }
    return rc ? (err && err->code ? rc : err_set(err, -ENOMEM, "out of memory")) : 0;
}

static int flush_tab(struct spill *sp, struct stab *t, struct smfs_err *err)
{
    for (size_t i = 0; i < t->ncols; i++) {
        int rc = sfile_flush(sp, &t->cols[i].f, err);
        if (!rc) rc = sfile_flush(sp, &t->cols[i].heap, err);
        if (rc) return rc;
    }
    t->mem_rows = 0;
    return 0;
}

static int flush_all(struct spill *sp, struct smfs_err *err)
{
    for (size_t i = 0; i < sp->ntabs; i++) {
        int rc = flush_tab(sp, &sp->tabs[i], err);
        if (rc) return rc;
    }
    return syms_flush(sp, err);
}

int spill_append(struct spill *sp, const char *table, const struct k *data, uint64_t skip, uint64_t *rows,
                 struct smfs_err *err)
{
    if (rows) *rows = 0;
    struct stab *t = find_tab(sp, table);
    if (!t) return err_set(err, -ENOENT, "update of %s: the assembly has no table %s", table, table);
    if (sp->sealed || sp->ro)
        return err_set(err, -EROFS, "update of %s: the spill of %s is %s", table, sp->log,
                       sp->ro ? "open read-only" : "sealed (its day ended)");
    const struct k *const *cols = NULL;
    bool one = false;
    int rc = columns_of(t, data, &cols, &one, err);
    if (rc) return rc;
    int64_t n = -1;
    for (size_t i = 0; i < t->ncols; i++) {
        int64_t m;
        rc = check_col(t, &t->cols[i], cols[i], one, &m, err);
        if (rc) return rc;
        if (n >= 0 && m != n)
            return err_set(err, -EINVAL, "update of %s: column %s has %lld rows, column %s %lld", t->t->name,
                           t->cols[i].c->name, (long long)m, t->cols[0].c->name, (long long)n);
        n = m;
    }
    if (n < 0) n = 0;
    if (rows) *rows = (uint64_t)n;
    if ((uint64_t)n <= skip) return 0;
    /* Every column is checked; now append. A failure here (no memory) would leave the
     * columns uneven: the caller must then drop the spill back to its checkpoint. */
    for (size_t i = 0; i < t->ncols; i++) {
        rc = append_col(sp, &t->cols[i], cols[i], one, (int64_t)skip, n, err);
        if (rc) return err_wrap(err, "update of %s", t->t->name);
    }
    t->rows += (uint64_t)n - skip;
    t->mem_rows += (uint64_t)n - skip;
    if (t->t->block_size > 0 && t->mem_rows >= (uint64_t)t->t->block_size) rc = flush_tab(sp, t, err);
    if (!rc && sp->mem >= sp->o.budget) rc = flush_all(sp, err);
    return rc;
}

/* ---- STATE --------------------------------------------------------------------------- */

static int state_text(const struct spill *sp, struct buf *b)
{
    char date[16] = "-";
    if (sp->sealed) {
        int y, m, d;
        k_ymd_from_days(sp->date, &y, &m, &d);
        snprintf(date, sizeof date, "%04d.%02d.%02d", y, m, d);
    }
    int rc = buf_printf(b, "smfs-spill 1\nlog %s\nsealed %s\nmark %" PRIu64 " %" PRIu64 "\nmsgs %" PRIu64
                        "\nsyms %u %" PRIu64 "\n", sp->log, date, sp->mark.offset, sp->mark.index, sp->msgs, sp->syms_disk,
                        sp->syms_disk_bytes);
    for (size_t k = 0; !rc && k < sp->neoi; k++) {
        rc = buf_printf(b, "eoi %lld", (long long)sp->eois[k].end_ns);
        for (size_t i = 0; !rc && i < sp->ntabs; i++)
            rc = buf_printf(b, " %s:%" PRIu64, sp->tabs[i].t->name, sp->eois[k].rows[i]);
        if (!rc) rc = buf_printf(b, "\n");
    }
    for (size_t i = 0; !rc && i < sp->ntabs; i++) {
        const struct stab *t = &sp->tabs[i];
        rc = buf_printf(b, "table %s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", t->t->name, t->rows, sp->mark.rows[i],
                        t->base);
        for (size_t c = 0; !rc && c < t->ncols; c++) {
            char code[2];
            type_code(&t->cols[c], code);
            rc = buf_printf(b, "col %s %s %s %" PRIu64 " %" PRIu64 "\n", t->t->name, t->cols[c].c->name, code,
                            t->cols[c].f.disk, t->cols[c].heap.disk);
        }
    }
    if (!rc) rc = buf_printf(b, "end %016llx\n", (unsigned long long)XXH3_64bits(b->p, b->len));
    return rc;
}

/* Durable in this order, each step before the next: every column byte (fdatasync of
 * each file written since the last checkpoint), the symbols, then STATE (temp file,
 * fdatasync, rename, fsync of the directory). A crash before the rename leaves the
 * old STATE, which names no more than the files held then; open cuts the rest back.
 * Were STATE renamed first, a crash could leave it naming bytes that never reached
 * the disk, and the rows would come back as zeros. */
int spill_checkpoint(struct spill *sp, const struct spill_mark *mark, struct smfs_err *err)
{
    if (sp->ro) return err_set(err, -EROFS, "spill '%s' is open read-only", sp->dir);
    int rc = flush_all(sp, err);
    for (size_t i = 0; !rc && i < sp->ntabs; i++)
        for (size_t c = 0; !rc && c < sp->tabs[i].ncols; c++) {
            rc = sfile_sync(&sp->tabs[i].cols[c].f, err);
            if (!rc) rc = sfile_sync(&sp->tabs[i].cols[c].heap, err);
        }
    if (!rc && sp->sym_dirty) {
        char p[4200];
        snprintf(p, sizeof p, "%s/syms", sp->dir);
        if (fdatasync(sp->symfd) < 0) rc = err_sys(err, "fdatasync", p);
        else sp->sym_dirty = false;
    }
    if (rc) return rc;
    if (mark) {
        sp->mark.offset = mark->offset;
        sp->mark.index = mark->index;
        memcpy(sp->mark.rows, mark->rows, sp->ntabs * sizeof *sp->mark.rows);
        sp->has_mark = true;
    }
    struct buf b;
    buf_init(&b, STATE_MAX);
    rc = state_text(sp, &b) ? err_set(err, -ENOMEM, "spill '%s': state too large", sp->dir) : 0;
    char p[4200];
    snprintf(p, sizeof p, "%s/STATE", sp->dir);
    if (!rc) rc = file_write(p, b.p, b.len, true, err);
    buf_release(&b);
    if (!rc) sp->checkpoints++;
    return rc;
}

int spill_seal(struct spill *sp, int32_t date, struct smfs_err *err)
{
    bool was = sp->sealed;
    int32_t d = sp->date;
    sp->sealed = true;
    sp->date = date;
    int rc = spill_checkpoint(sp, NULL, err);
    if (rc) {
        sp->sealed = was;
        sp->date = d;
    }
    return rc;
}

/* ---- create and open ------------------------------------------------------------------ */

static int open_files(struct spill *sp, struct stab *t, const uint64_t *bytes, const uint64_t *heap, bool create,
                      struct smfs_err *err)
{
    char d[4200];
    snprintf(d, sizeof d, "%s/%s", sp->dir, t->t->name);
    if (!sp->ro && mkdir(d, SPILL_MODE) < 0 && errno != EEXIST) return err_sys(err, "mkdir", d);
    for (size_t c = 0; c < t->ncols; c++) {
        struct scol *col = &t->cols[c];
        char f[4096], h[4096];
        if (col_paths(sp, t, col, f, h, sizeof f)) return err_set(err, -ENAMETOOLONG, "spill path too long: %s", d);
        int rc = sfile_open(&col->f, f, bytes ? bytes[c] : 0, create, sp->ro, err);
        if (!rc && has_heap(col)) rc = sfile_open(&col->heap, h, heap ? heap[c] : 0, create, sp->ro, err);
        if (rc) return rc;
        col->heap_end = col->heap.disk;
        uint64_t per = (uint64_t)col->w;
        if (col->f.disk % per)
            return err_set(err, -EBADMSG, "spill file '%s': %" PRIu64 " bytes is not a whole number of %d-byte items", f,
                           col->f.disk, col->w);
        uint64_t r = col->f.disk / per;
        if (c > 0 && r != t->rows)
            return err_set(err, -EBADMSG, "spill of %s: column %s holds %" PRIu64 " rows, column %s %" PRIu64,
                           t->t->name, col->c->name, r, t->cols[0].c->name, t->rows);
        t->rows = r;
    }
    return create && !sp->ro ? file_sync_dir(d, err) : 0;
}

int spill_create(const char *dir, const char *log, const struct spill_opts *o, struct spill **out,
                 struct smfs_err *err)
{
    *out = NULL;
    if (strchr(log, '\n')) return err_set(err, -EINVAL, "log path '%s' has a line break", log);
    struct spill *sp = spill_new(dir, o, err);
    if (!sp) return err->code;
    int rc = 0;
    if (!(sp->log = strdup(log))) rc = err_set(err, -ENOMEM, "out of memory");
    else if (mkdir(dir, SPILL_MODE) < 0) rc = err_sys(err, "mkdir", dir);
    char p[4200];
    snprintf(p, sizeof p, "%s/syms", dir);
    if (!rc && (sp->symfd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0) rc = err_sys(err, "open", p);
    for (size_t i = 0; !rc && i < sp->ntabs; i++) {
        rc = open_files(sp, &sp->tabs[i], NULL, NULL, true, err);
        if (o->base) sp->tabs[i].base = o->base[i];
    }
    /* STATE last: until it is durable (and the parent knows DIR), DIR is a spill that
     * never existed (spill_open says -ENOENT, the caller removes it). */
    if (!rc) rc = spill_checkpoint(sp, NULL, err);
    if (!rc) {
        char parent[4200];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) *slash = 0;
        rc = file_sync_dir(slash ? parent : ".", err);
    }
    if (rc) {
        spill_close(sp);
        return rc;
    }
    *out = sp;
    return 0;
}

/* Split TEXT into lines (in place); check the last is "end <checksum of the rest>". */
static int state_lines(char *text, size_t len, const char *path, char ***lines, size_t *n, struct smfs_err *err)
{
    if (len < 5 || text[len - 1] != '\n')
        return err_set(err, -EBADMSG, "spill state '%s' is cut short (%zu bytes)", path, len);
    const char *endl = NULL;
    for (size_t i = len - 1; i > 0; i--)
        if (text[i - 1] == '\n') {
            endl = text + i;
            break;
        }
    unsigned long long want = 0;
    if (!endl || sscanf(endl, "end %llx", &want) != 1 || want != XXH3_64bits(text, (size_t)(endl - text)))
        return err_set(err, -EBADMSG, "spill state '%s' fails its checksum: the spill is damaged", path);
    size_t cap = 16, k = 0;
    char **v = malloc(cap * sizeof *v);
    if (!v) return err_set(err, -ENOMEM, "out of memory");
    for (char *s = text; s < endl;) {
        char *nl = memchr(s, '\n', (size_t)(endl - s));
        *nl = 0;
        if (k == cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return err_set(err, -ENOMEM, "out of memory");
            }
            v = nv;
        }
        v[k++] = s;
        s = nl + 1;
    }
    *lines = v;
    *n = k;
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') return -EINVAL;
    *v = x;
    return 0;
}

/* The words of LINE (at most MAX), split on single spaces; LINE is changed. */
static size_t words(char *line, char **w, size_t max)
{
    size_t n = 0;
    for (char *s = line; s && n < max;) {
        w[n++] = s;
        s = strchr(s, ' ');
        if (s) *s++ = 0;
    }
    return n;
}

/* "eoi END_NS TABLE:ROWS ..." (the words after "eoi" re-read from the line: there may
 * be more tables than words() splits). */
static int add_eoi_line(struct spill *sp, char **w, size_t nw, const char *rest, struct smfs_err *err)
{
    (void)w, (void)nw;
    struct spill_eoi e = {0};
    e.rows = calloc(sp->ntabs + 1, sizeof *e.rows);
    if (!e.rows) return err_set(err, -ENOMEM, "out of memory");
    char *copy = strdup(rest), *save = NULL;
    int rc = copy ? 0 : -ENOMEM;
    bool first = true;
    for (char *tok = copy ? strtok_r(copy, " ", &save) : NULL; !rc && tok; tok = strtok_r(NULL, " ", &save)) {
        if (first) {
            char *end;
            errno = 0;
            e.end_ns = strtoll(tok, &end, 10);
            rc = errno || *end ? -EINVAL : 0;
            first = false;
            continue;
        }
        char *colon = strrchr(tok, ':');
        uint64_t r;
        if (!colon || parse_u64(colon + 1, &r)) {
            rc = -EINVAL;
            break;
        }
        *colon = 0;
        struct stab *t = find_tab(sp, tok);
        if (t) e.rows[t - sp->tabs] = r;
    }
    free(copy);
    struct spill_eoi *n = rc ? NULL : realloc(sp->eois, (sp->neoi + 1) * sizeof *n);
    if (!rc && !n) rc = -ENOMEM;
    if (rc) {
        free(e.rows);
        return rc == -ENOMEM ? err_set(err, rc, "out of memory") : -EINVAL;
    }
    sp->eois = n;
    sp->eois[sp->neoi++] = e;
    return 0;
}

static int load_syms(struct spill *sp, uint32_t count, uint64_t bytes, struct smfs_err *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/syms", sp->dir);
    struct sfile f;
    sfile_init(&f);
    int rc = sfile_open(&f, p, bytes, false, sp->ro, err);
    sp->symfd = f.fd;
    if (rc) return rc;
    char *text = malloc(bytes ? bytes : 1);
    if (!text) return err_set(err, -ENOMEM, "out of memory for %" PRIu64 " bytes of symbols", bytes);
    rc = file_pread_full(sp->symfd, text, (size_t)bytes, 0, p, err);
    uint32_t n = 0;
    for (uint64_t at = 0; !rc && at < bytes;) {
        const char *z = memchr(text + at, 0, (size_t)(bytes - at));
        if (!z) {
            rc = err_set(err, -EBADMSG, "spill symbols '%s': the last name has no NUL", p);
            break;
        }
        uint32_t id;
        rc = intern(sp, text + at, &id, err);
        if (!rc && id != n) rc = err_set(err, -EBADMSG, "spill symbols '%s': symbol %u (%s) appears twice", p, n, text + at);
        n++;
        at = (uint64_t)(z - text) + 1;
    }
    free(text);
    if (!rc && n != count)
        rc = err_set(err, -EBADMSG, "spill symbols '%s' hold %u names, its checkpoint says %u", p, n, count);
    sp->syms_disk = n;
    sp->syms_disk_bytes = bytes;
    return rc;
}

static int open_spill(const char *dir, const struct spill_opts *o, bool ro, struct spill **out, struct smfs_err *err);

int spill_open(const char *dir, const struct spill_opts *o, struct spill **out, struct smfs_err *err)
{
    return open_spill(dir, o, false, out, err);
}

int spill_open_ro(const char *dir, const struct spill_opts *o, struct spill **out, struct smfs_err *err)
{
    return open_spill(dir, o, true, out, err);
}

static int open_spill(const char *dir, const struct spill_opts *o, bool ro, struct spill **out, struct smfs_err *err)
{
    *out = NULL;
    char p[4200];
    snprintf(p, sizeof p, "%s/STATE", dir);
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = file_read_all(p, STATE_MAX, &text, &len, err);
    if (rc == -ENOENT) return err_set(err, -ENOENT, "spill '%s' has no STATE: its creation never finished", dir);
    if (rc) return rc;
    char **lines = NULL;
    size_t nl = 0;
    struct spill *sp = NULL;
    rc = state_lines((char *)text, len, p, &lines, &nl, err);
    if (!rc && !(sp = spill_new(dir, o, err))) rc = err->code;
    if (sp) sp->ro = ro;
    if (!rc && (nl < 5 || strcmp(lines[0], "smfs-spill 1") || strncmp(lines[1], "log ", 4)))
        rc = err_set(err, -EBADMSG, "spill state '%s': not a version 1 state", p);
    if (!rc && !(sp->log = strdup(lines[1] + 4))) rc = err_set(err, -ENOMEM, "out of memory");
    uint64_t *bytes = NULL, *heap = NULL;
    bool *seen = sp ? calloc(sp->ntabs + 1, sizeof *seen) : NULL;
    if (!rc && !seen) rc = err_set(err, -ENOMEM, "out of memory");
    struct stab *cur = NULL;
    size_t ncur = 0;
    for (size_t i = 2; !rc && i <= nl; i++) {
        /* A table's columns end at the next table line (or the end): open its files. */
        if (cur && (i == nl || !strncmp(lines[i], "table ", 6))) {
            if (ncur != cur->ncols)
                rc = err_set(err, -ESTALE, "spill '%s' holds %zu columns of %s, the assembly has %zu", dir, ncur,
                             cur->t->name, cur->ncols);
            uint64_t held = cur->rows;
            if (!rc) rc = open_files(sp, cur, bytes, heap, false, err);
            if (!rc && cur->rows != held)
                rc = err_set(err, -EBADMSG, "spill of %s: its columns hold %" PRIu64 " rows, its checkpoint says %" PRIu64,
                             cur->t->name, cur->rows, held);
            cur = NULL;
        }
        if (rc || i == nl) break;
        if (!strncmp(lines[i], "eoi ", 4)) {   /* before words() cuts the line up */
            rc = add_eoi_line(sp, NULL, 0, lines[i] + 4, err);
            if (rc == -EINVAL) rc = err_set(err, -EBADMSG, "spill state '%s': line %zu does not parse", p, i + 1);
            continue;
        }
        char *w[8] = {0};
        size_t nw = words(lines[i], w, 8);
        uint64_t a = 0, b = 0;
        if (!strcmp(w[0], "sealed") && nw == 2) {
            sp->sealed = strcmp(w[1], "-") != 0;
            if (sp->sealed && !k_parse_date(w[1], &sp->date)) rc = -EINVAL;
        } else if (!strcmp(w[0], "mark") && nw == 3) {
            rc = parse_u64(w[1], &sp->mark.offset) || parse_u64(w[2], &sp->mark.index) ? -EINVAL : 0;
            sp->has_mark = sp->mark.offset != 0;
        } else if (!strcmp(w[0], "msgs") && nw == 2) {
            rc = parse_u64(w[1], &sp->msgs) ? -EINVAL : 0;
        } else if (!strcmp(w[0], "syms") && nw == 3) {
            rc = parse_u64(w[1], &a) || parse_u64(w[2], &b) || a > UINT32_MAX ? -EINVAL : load_syms(sp, (uint32_t)a, b, err);
        } else if (!strcmp(w[0], "table") && (nw == 4 || nw == 5)) {
            cur = find_tab(sp, w[1]);
            if (!cur) {
                rc = err_set(err, -ESTALE, "spill '%s' holds rows of table %s, which the assembly no longer has", dir, w[1]);
                break;
            }
            seen[cur - sp->tabs] = true;
            rc = parse_u64(w[2], &cur->rows) || parse_u64(w[3], &sp->mark.rows[cur - sp->tabs]) ||
                 (nw == 5 && parse_u64(w[4], &cur->base)) ? -EINVAL : 0;
            ncur = 0;
            free(bytes);
            free(heap);
            bytes = calloc(cur->ncols + 1, sizeof *bytes);
            heap = calloc(cur->ncols + 1, sizeof *heap);
            if (!bytes || !heap) rc = err_set(err, -ENOMEM, "out of memory");
        } else if (!strcmp(w[0], "col") && nw == 6 && cur && !strcmp(w[1], cur->t->name)) {
            if (ncur >= cur->ncols || strcmp(w[2], cur->cols[ncur].c->name)) {
                rc = err_set(err, -ESTALE, "spill '%s': column %zu of %s is %s, the assembly says %s", dir, ncur + 1,
                             cur->t->name, w[2], ncur < cur->ncols ? cur->cols[ncur].c->name : "nothing");
                break;
            }
            char code[2];
            type_code(&cur->cols[ncur], code);
            if (strcmp(w[3], code)) {
                rc = err_set(err, -ESTALE, "spill '%s': column %s of %s was spilled as type %s, the assembly now says %s",
                             dir, w[2], cur->t->name, w[3], code);
                break;
            }
            rc = parse_u64(w[4], &bytes[ncur]) || parse_u64(w[5], &heap[ncur]) ? -EINVAL : 0;
            ncur++;
        } else {
            rc = -EINVAL;
        }
        if (rc == -EINVAL) rc = err_set(err, -EBADMSG, "spill state '%s': line %zu does not parse", p, i + 1);
    }
    /* Tables the assembly gained since: empty, with new files (none when read-only). */
    for (size_t i = 0; !rc && sp && i < sp->ntabs; i++)
        if (!seen[i]) rc = open_files(sp, &sp->tabs[i], NULL, NULL, !sp->ro, err);
    if (!rc && sp->symfd < 0) rc = err_set(err, -EBADMSG, "spill state '%s': no syms line", p);
    free(bytes);
    free(heap);
    free(seen);
    free(lines);
    free(text);
    if (rc) {
        spill_close(sp);
        return rc;
    }
    *out = sp;
    return 0;
}

/* ---- reading ------------------------------------------------------------------------- */

const char *spill_dir(const struct spill *sp) { return sp->dir; }
const char *spill_log(const struct spill *sp) { return sp->log; }

bool spill_sealed(const struct spill *sp, int32_t *date)
{
    if (date) *date = sp->date;
    return sp->sealed;
}

int64_t spill_rows(const struct spill *sp, const char *table)
{
    const struct stab *t = find_tab(sp, table);
    return t ? (int64_t)t->rows : -1;
}

int spill_add_eoi(struct spill *sp, int64_t end_ns, struct smfs_err *err)
{
    struct spill_eoi e = {.end_ns = end_ns, .rows = calloc(sp->ntabs + 1, sizeof(uint64_t))};
    struct spill_eoi *n = e.rows ? realloc(sp->eois, (sp->neoi + 1) * sizeof *n) : NULL;
    if (!n) {
        free(e.rows);
        return err_set(err, -ENOMEM, "out of memory");
    }
    sp->eois = n;
    for (size_t i = 0; i < sp->ntabs; i++) e.rows[i] = sp->tabs[i].rows;
    sp->eois[sp->neoi++] = e;
    int rc = spill_checkpoint(sp, NULL, err);
    if (rc) free(sp->eois[--sp->neoi].rows);
    return rc;
}

size_t spill_neoi(const struct spill *sp)
{
    return sp->neoi;
}

const struct spill_eoi *spill_eoi(const struct spill *sp, size_t k)
{
    return k < sp->neoi ? &sp->eois[k] : NULL;
}

void spill_count_msg(struct spill *sp)
{
    sp->msgs++;
}

uint64_t spill_msgs(const struct spill *sp)
{
    return sp->msgs;
}

uint64_t spill_base(const struct spill *sp, const char *table)
{
    const struct stab *t = find_tab(sp, table);
    return t ? t->base : 0;
}

const char *spill_sym(const struct spill *sp, uint32_t id)
{
    return id < sp->nsyms ? sym_name(sp, id) : "";
}

uint32_t spill_nsyms(const struct spill *sp)
{
    return sp->nsyms;
}

int spill_map_table(struct spill *sp, const char *table, struct spill_tabmap *out, struct smfs_err *err)
{
    memset(out, 0, sizeof *out);
    struct stab *t = find_tab(sp, table);
    if (!t) return err_set(err, -ENOENT, "the assembly has no table %s", table);
    int rc = flush_tab(sp, t, err);
    if (!rc) rc = syms_flush(sp, err);
    if (rc) return rc;
    out->t = t->t;
    out->rows = t->rows;
    out->ncols = t->ncols;
    out->cols = calloc(t->ncols + 1, sizeof *out->cols);
    struct file_map *maps = calloc(2 * t->ncols + 1, sizeof *maps);
    out->maps = maps;
    if (!out->cols || !maps) {
        spill_unmap_table(out);
        return err_set(err, -ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < t->ncols; c++) {
        struct scol *col = &t->cols[c];
        struct spill_colmap *m = &out->cols[c];
        m->c = col->c;
        m->kind = (enum spill_kind)col->kind;
        m->type = col->type;
        m->w = col->w;
        rc = col->f.disk ? file_map(col->f.path, &maps[2 * c], err) : 0;
        if (!rc && has_heap(col) && col->heap.disk) rc = file_map(col->heap.path, &maps[2 * c + 1], err);
        if (rc) {
            spill_unmap_table(out);
            return rc;
        }
        /* What the checkpoint (or the last flush) holds, never a torn end. */
        m->data = maps[2 * c].p;
        m->len = maps[2 * c].len < col->f.disk ? maps[2 * c].len : (size_t)col->f.disk;
        m->heap = maps[2 * c + 1].p;
        m->heaplen = maps[2 * c + 1].len < col->heap.disk ? maps[2 * c + 1].len : (size_t)col->heap.disk;
        if (m->len != t->rows * (uint64_t)col->w) {
            spill_unmap_table(out);
            return err_set(err, -EBADMSG, "spill file '%s' holds %zu bytes, %" PRIu64 " rows need %" PRIu64, col->f.path,
                           maps[2 * c].len, t->rows, t->rows * (uint64_t)col->w);
        }
    }
    return 0;
}

void spill_unmap_table(struct spill_tabmap *m)
{
    struct file_map *maps = m->maps;
    for (size_t i = 0; maps && i < 2 * m->ncols; i++) file_unmap(&maps[i]);
    free(maps);
    free(m->cols);
    memset(m, 0, sizeof *m);
}

const struct spill_mark *spill_mark(const struct spill *sp)
{
    return &sp->mark;
}

void spill_stats(const struct spill *sp, struct spill_stats *st)
{
    memset(st, 0, sizeof *st);
    for (size_t i = 0; i < sp->ntabs; i++) {
        st->rows += sp->tabs[i].rows;
        for (size_t c = 0; c < sp->tabs[i].ncols; c++)
            st->bytes_disk += sp->tabs[i].cols[c].f.disk + sp->tabs[i].cols[c].heap.disk;
    }
    st->bytes_disk += sp->syms_disk_bytes;
    st->bytes_mem = sp->mem;
    st->syms = sp->nsyms;
    st->checkpoints = sp->checkpoints;
}

static int read_col(struct spill *sp, const struct scol *c, uint64_t from, uint64_t n, struct k **out,
                    struct smfs_err *err)
{
    *out = NULL;
    uint8_t *raw = malloc(n * (uint64_t)c->w + 8);
    if (!raw) return err_set(err, -ENOMEM, "out of memory");
    /* Nested: the end offset of the row before FROM too (0 for row 0). */
    uint64_t lead = has_heap(c) && from > 0 ? 1 : 0;
    int rc = file_pread_full(c->f.fd, raw, (size_t)((n + lead) * (uint64_t)c->w), (from - lead) * (uint64_t)c->w,
                             c->f.path, err);
    struct k *x = NULL;
    if (!rc && c->kind == SK_FIXED) {
        if ((x = k_vec(c->type, (int64_t)n))) memcpy(x->u.v, raw, (size_t)n * (size_t)c->w);
    } else if (!rc && c->kind == SK_SYM) {
        x = k_vec(KT_SYM, (int64_t)n);
        for (uint64_t i = 0; x && !rc && i < n; i++) {
            uint32_t id = le32(raw + 4 * i);
            rc = id < sp->nsyms ? k_symv_set(x, (int64_t)i, sym_name(sp, id)) : -EBADMSG;
        }
    } else if (!rc) {
        x = k_list((int64_t)n);
        uint64_t start = lead ? le64(raw) : 0;
        const uint8_t *ends = raw + 8 * lead;
        for (uint64_t i = 0; x && !rc && i < n; i++) {
            uint64_t end = le64(ends + 8 * i);
            if (end < start || end > c->heap.disk) {
                rc = -EBADMSG;
                break;
            }
            uint8_t *h = malloc(end - start + 1);
            if (!h) {
                rc = -ENOMEM;
                break;
            }
            rc = file_pread_full(c->heap.fd, h, (size_t)(end - start), start, c->heap.path, err);
            struct k *it = NULL;
            if (!rc && c->kind == SK_NESTED) {
                uint64_t items = (end - start) / (uint64_t)k_width(c->type);
                if ((it = k_vec(c->type, (int64_t)items))) memcpy(it->u.v, h, (size_t)(end - start));
            } else if (!rc && c->kind == SK_NSYM) {
                it = k_vec(KT_SYM, (int64_t)((end - start) / 4));
                for (int64_t j = 0; it && !rc && j < it->n; j++) {
                    uint32_t id = le32(h + 4 * j);
                    rc = id < sp->nsyms ? k_symv_set(it, j, sym_name(sp, id)) : -EBADMSG;
                }
            } else if (!rc) {
                size_t used;
                rc = k_deserialize(h, (size_t)(end - start), false, &it, &used, err);
            }
            free(h);
            if (!rc && !it) rc = -ENOMEM;
            if (rc) {
                k_free(it);
                break;
            }
            k_list_set(x, (int64_t)i, it);
            start = end;
        }
    }
    free(raw);
    if (!rc && !x) rc = -ENOMEM;
    if (rc) {
        k_free(x);
        if (rc == -ENOMEM) return err_set(err, rc, "out of memory");
        if (rc == -EBADMSG) return err_set(err, rc, "spill column '%s' is damaged", c->f.path);
        return rc;
    }
    *out = x;
    return 0;
}

int spill_read(struct spill *sp, const char *table, uint64_t from, uint64_t n, struct k **out, struct smfs_err *err)
{
    *out = NULL;
    struct stab *t = find_tab(sp, table);
    if (!t) return err_set(err, -ENOENT, "the assembly has no table %s", table);
    int rc = flush_tab(sp, t, err);
    if (!rc) rc = syms_flush(sp, err);
    if (rc) return rc;
    if (from > t->rows) from = t->rows;
    if (n > t->rows - from) n = t->rows - from;
    struct k *names = k_vec(KT_SYM, (int64_t)t->ncols), *vals = k_list((int64_t)t->ncols);
    if (!names || !vals) rc = err_set(err, -ENOMEM, "out of memory");
    for (size_t c = 0; !rc && c < t->ncols; c++) {
        struct k *col = NULL;
        rc = k_symv_set(names, (int64_t)c, t->cols[c].c->name) ? err_set(err, -ENOMEM, "out of memory")
                                                               : read_col(sp, &t->cols[c], from, n, &col, err);
        if (!rc) k_list_set(vals, (int64_t)c, col);
    }
    struct k *d = rc ? NULL : k_dict(names, vals);
    if (rc) {
        k_free(names);
        k_free(vals);
        return rc;
    }
    if (!d || !(*out = k_table(d))) return err_set(err, -ENOMEM, "out of memory");
    return 0;
}
