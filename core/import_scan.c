/* core/import_scan.c: the validator import and ingest share. It reads a source tree
 * (directories and file headers; the partition column in full when asked) and checks
 * it against the assembly, collecting every problem before anything moves. Problems
 * with the same text for many partitions are grouped into one line, worded as kdb
 * Insights words them (sm-spec §9) so an administrator can search for them. */
#include "import_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fault.h"
#include "k_fmt.h"
#include "kdb.h"

#define DIAG_PARTS    8      /* partitions named per problem before "(N more)" */

/* ---- small lists ---- */

int strv_add(struct strv *s, const char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str))) return -ENOMEM;
    s->n++;
    return 0;
}

bool strv_has(const struct strv *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], str)) return true;
    return false;
}

void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void import_say(void (*fn)(void *, const char *), void *arg, const char *fmt, ...)
{
    if (!fn) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(arg, line);
}

int64_t import_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool scan_store_name(const char *name)
{
    return !strcmp(name, "STORE") || !strcmp(name, "lock") || !strcmp(name, "packs") ||
           !strcmp(name, "objects") || !strcmp(name, IMPORT_JOURNAL) ||
           !strncmp(name, IMPORT_JOURNAL ".", sizeof IMPORT_JOURNAL);   /* its temp file */
}

/* ---- problems ---- */

/* Add STR to a list that feeds a problem report. A failure is remembered (sc->oom), so
 * that scan_run refuses the whole database rather than report fewer problems than it
 * has: an under-reported tree would otherwise pass as valid. */
static void note(struct scan *sc, struct strv *v, const char *str)
{
    if (strv_add(v, str) < 0) sc->oom = true;
}

/* Record a problem. PART (may be NULL) is the partition it was seen in; the same text
 * seen in other partitions joins the same line. A problem that cannot be recorded
 * (out of memory; fault point "scan.diag" in tests) sets sc->oom, as note() does. */
void scan_diag(struct scan *sc, const char *part, const char *fmt, ...)
{
    char key[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    if (fault_hit("scan.diag")) {
        sc->oom = true;
        return;
    }
    struct scan_diag *d = NULL;
    for (size_t i = sc->ndiags; i-- > 0;)
        if (!strcmp(sc->diags[i].key, key)) {
            d = &sc->diags[i];
            break;
        }
    if (!d) {
        if (sc->ndiags == sc->capdiags) {
            size_t cap = sc->capdiags ? sc->capdiags * 2 : 16;
            struct scan_diag *n = realloc(sc->diags, cap * sizeof *n);
            if (!n) {
                sc->oom = true;
                return;
            }
            sc->diags = n;
            sc->capdiags = cap;
        }
        d = &sc->diags[sc->ndiags];
        memset(d, 0, sizeof *d);
        if (!(d->key = strdup(key))) {
            sc->oom = true;
            return;
        }
        sc->ndiags++;
    }
    if (part && !strv_has(&d->parts, part)) note(sc, &d->parts, part);
}

size_t scan_report(struct scan *sc, void (*fn)(void *, const char *), void *arg)
{
    for (size_t i = 0; i < sc->ndiags; i++) {
        const struct scan_diag *d = &sc->diags[i];
        sc->line.len = 0;
        int rc = buf_printf(&sc->line, "%s", d->key);
        for (size_t j = 0; rc == 0 && j < d->parts.n && j < DIAG_PARTS; j++)
            rc = buf_printf(&sc->line, "%s%s", j ? "," : " partitions=", d->parts.v[j]);
        if (rc == 0 && d->parts.n > DIAG_PARTS)
            rc = buf_printf(&sc->line, ",… (%zu more)", d->parts.n - DIAG_PARTS);
        if (rc == 0) rc = buf_append_zero(&sc->line, 1);
        if (fn) fn(arg, rc == 0 ? (const char *)sc->line.p : d->key);
    }
    return sc->ndiags;
}

/* "a,b,c" of LIST[0..n) into OUT (truncated to fit). */
const char *scan_join(char *const *list, size_t n, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && o + 1 < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "," : "", list[i]);
    if (o >= len && len > 4) memcpy(out + len - 4, "...", 4);
    return out;
}

/* ---- directories ---- */

int import_list_dir(const char *dir, struct strv *out, struct smfs_err *err)
{
    DIR *d = opendir(dir);
    if (!d) return err_sys(err, "opendir", dir);
    struct dirent *de;
    int rc = 0;
    errno = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (strv_add(out, de->d_name) < 0) rc = err_set(err, -ENOMEM, "out of memory listing '%s'", dir);
    }
    if (rc == 0 && errno) rc = err_sys(err, "readdir", dir);
    closedir(d);
    if (rc == 0 && out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return rc;
}

/* Month (YYYY.MM), year (YYYY) and int partitions: digits and at most one dot. */
static bool other_partition(const char *s)
{
    int dots = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s == '.') dots++;
        else if (*s < '0' || *s > '9') return false;
    }
    return dots <= 1;
}

/* ---- columns ---- */

static bool is_nested(const struct cfg_column *c) { return c->type == 0 || c->vector; }

bool scan_type_ok(const struct cfg_column *c, const struct kdb_info *in)
{
    if (is_nested(c))
        return in->fmt == KDB_FMT_ANYMAP || (in->fmt == KDB_FMT_OBJECT && in->type == 0);
    if (c->type == KT_SYM) return in->fmt == KDB_FMT_ENUM || in->fmt == KDB_FMT_ENUM32;
    return in->fmt == KDB_FMT_VECTOR && in->type == c->type;
}

const char *scan_type_found(const struct kdb_info *in)
{
    switch (in->fmt) {
    case KDB_FMT_ENUM: case KDB_FMT_ENUM32: return "symbol";
    case KDB_FMT_ANYMAP: return "nested";
    case KDB_FMT_HEAP: return "nested-heap";
    case KDB_FMT_VECTOR: return k_type_name(in->type);
    case KDB_FMT_OBJECT:
        return in->type == KT_SYM ? "symbol-not-enumerated" : in->type == 0 ? "mixed" : k_type_name(in->type);
    }
    return "unknown";
}

static const char *ts_text(int64_t v, char *buf, size_t n)
{
    if (v == KNULL_J) return snprintf(buf, n, "0Np"), buf;
    int64_t d = v / K_NS_PER_DAY, r = v % K_NS_PER_DAY;
    if (r < 0) r += K_NS_PER_DAY, d--;
    int y, m, dd;
    k_ymd_from_days((int32_t)d, &y, &m, &dd);
    snprintf(buf, n, "%04d.%02d.%02dD%02lld:%02lld:%02lld.%09lld", y, m, dd,
             (long long)(r / 3600000000000), (long long)(r / 60000000000 % 60),
             (long long)(r / 1000000000 % 60), (long long)(r % 1000000000));
    return buf;
}

static bool on_day(int64_t v, int32_t day)
{
    if (v == KNULL_J) return false;
    int64_t d = v / K_NS_PER_DAY;
    if (v % K_NS_PER_DAY < 0) d--;
    return d == day;
}

/* The partition column of a partition: every value on its date (SCAN_FULL reads all
 * of it; otherwise the first value only, to keep --no-verify free of data reads). */
static void check_prtn(struct scan *sc, const char *part, int32_t day, const char *table,
                       const char *col, struct kdb_file *f, const struct kdb_info *in)
{
    struct smfs_err e;
    int64_t bad = 0, first = -1, firstv = 0;
    if (in->count <= 0) return;
    if (sc->flags & SCAN_FULL) {
        const uint8_t *p;
        size_t len;
        if (kdb_file_content(f, &p, &len, &e) < 0) {
            scan_diag(sc, part, "Cannot read: table=%s file=%s: %s", table, col, e.msg);
            return;
        }
        const uint8_t *v = p + in->data_off;
        for (int64_t i = 0; i < in->count; i++) {
            int64_t x = (int64_t)le64(v + 8 * i);
            if (!on_day(x, day) && bad++ == 0) first = i, firstv = x;
        }
    } else {
        struct k *h = NULL;
        if (kdb_file_head(f, in, 1, &h, &e) < 0) {
            scan_diag(sc, part, "Cannot read: table=%s file=%s: %s", table, col, e.msg);
            return;
        }
        int64_t x = ((const int64_t *)h->u.v)[0];
        k_free(h);
        if (!on_day(x, day)) bad = 1, first = 0, firstv = x;
    }
    if (bad) {
        char ts[64];
        scan_diag(sc, part, "The partition column has values outside the partition date: table=%s column=%s "
             "rows=%lld first=row %lld (%s)", table, col, (long long)bad,
             (long long)first, ts_text(firstv, ts, sizeof ts));
    }
}

/* One table directory DIR, partition PART (NULL: a splayed table at the root, whose
 * problems are labelled "root"). Fills T->files and T->bytes. */
static int check_table(struct scan *sc, const char *part, int32_t day, const char *dir,
                       struct scan_table *t, struct smfs_err *err)
{
    const struct cfg_table *sch = t->schema;
    const char *lbl = part;   /* NULL at the root: no "partitions=" in its problems */
    struct strv names = {0};
    struct k *d = NULL;
    char path[4096], list[512], list2[512];
    int rc = import_list_dir(dir, &names, err);
    if (rc < 0) goto out;
    struct strv cols = {0}, missing = {0}, extra = {0}, unlisted = {0};
    struct strv counts = {0};

    /* .d: the column order kdb+ loads. */
    if (!strv_has(&names, ".d")) {
        scan_diag(sc, lbl, "The table has no .d file: table=%s", t->name);
    } else {
        struct smfs_err e;
        snprintf(path, sizeof path, "%s/.d", dir);
        if (kdb_load(path, &d, &e) < 0 || d->t != KT_SYM) {
            scan_diag(sc, lbl, "Cannot read: table=%s file=.d: %s", t->name,
                 d ? "not a symbol list" : e.msg);
            k_free(d);
            d = NULL;
        } else {
            for (int64_t i = 0; i < d->n; i++)
                if (strv_add(&cols, k_symv_at(d, i)) < 0)
                    rc = err_set(err, -ENOMEM, "out of memory reading '%s'", path);
        }
    }
    if (d && sch) {
        for (size_t i = 0; i < sch->ncols; i++)
            if (!strv_has(&cols, sch->cols[i].name)) note(sc, &missing, sch->cols[i].name);
        for (size_t i = 0; i < cols.n; i++)
            if (!cfg_column_find(sch, cols.v[i])) note(sc, &extra, cols.v[i]);
        if (missing.n)
            scan_diag(sc, lbl, "The table has the following missing columns from the .d file: table=%s columns=%s",
                 t->name, scan_join(missing.v, missing.n, list, sizeof list));
        if (extra.n)
            scan_diag(sc, lbl, "The table has the following extra columns: table=%s columns=%s", t->name,
                 scan_join(extra.v, extra.n, list, sizeof list));
        if (!missing.n && !extra.n) {
            bool same = true;
            for (size_t i = 0; i < sch->ncols; i++)
                if (strcmp(cols.v[i], sch->cols[i].name)) same = false;
            if (!same) {
                const char *want[256];
                size_t nw = sch->ncols < 256 ? sch->ncols : 256;
                for (size_t i = 0; i < nw; i++) want[i] = sch->cols[i].name;
                scan_diag(sc, lbl, "The table's .d file lists the columns in another order than the schema: "
                     "table=%s found=%s expected=%s", t->name, scan_join(cols.v, cols.n, list, sizeof list),
                     scan_join((char *const *)want, nw, list2, sizeof list2));
            }
        }
        strv_free(&missing);
    }

    /* Every column of .d: present, readable, of the schema's type, and one row count. */
    int64_t rows = -1;
    bool rows_differ = false;
    for (size_t i = 0; i < cols.n; i++) {
        const char *c = cols.v[i];
        const struct cfg_column *cc = sch ? cfg_column_find(sch, c) : NULL;
        if (!strv_has(&names, c)) {
            note(sc, &missing, c);
            continue;
        }
        PJOIN(path, dir, c);
        struct kdb_file f;
        struct kdb_info in;
        struct smfs_err e;
        if (kdb_file_open(&f, path, &e) < 0) {
            scan_diag(sc, lbl, "Cannot read: table=%s file=%s: %s", t->name, c, e.msg);
            continue;
        }
        if (kdb_file_info(&f, &in, &e) < 0) {
            scan_diag(sc, lbl, "Cannot read: table=%s file=%s: %s", t->name, c, e.msg);
            kdb_file_close(&f);
            continue;
        }
        if (in.fmt == KDB_FMT_ANYMAP) {
            char heap[300];
            snprintf(heap, sizeof heap, "%s#", c);
            if (!strv_has(&names, heap)) note(sc, &missing, heap);
        }
        if (cc && !scan_type_ok(cc, &in))
            scan_diag(sc, lbl, "The column has the wrong type: table=%s column=%s type=%s expected=%s",
                 t->name, c, scan_type_found(&in), cc->type_name[0] ? cc->type_name : "mixed");
        else if ((in.fmt == KDB_FMT_ENUM || in.fmt == KDB_FMT_ENUM32) && strcmp(in.domain, "sym"))
            scan_diag(sc, lbl, "The column is not enumerated against sym (one enumeration file named sym "
                 "is required): table=%s column=%s domain=%s", t->name, c, in.domain);
        else if (cc && sch->prtn_col && !strcmp(c, sch->prtn_col) && part &&
                 in.fmt == KDB_FMT_VECTOR && in.type == KT_TIMESTAMP)
            check_prtn(sc, part, day, t->name, c, &f, &in);
        kdb_file_close(&f);
        char cnt[300];
        snprintf(cnt, sizeof cnt, "%s:%lld", c, (long long)in.count);
        note(sc, &counts, cnt);
        if (rows < 0) rows = in.count;
        else if (in.count != rows) rows_differ = true;
    }
    if (missing.n)
        scan_diag(sc, lbl, "The table has the following missing columns: table=%s columns=%s", t->name,
             scan_join(missing.v, missing.n, list, sizeof list));
    if (rows_differ)
        scan_diag(sc, lbl, "The table's columns have different row counts: table=%s counts=%s",
             t->name, scan_join(counts.v, counts.n, list, sizeof list));

    /* Files: everything .d names (and nested heaps); anything else is stray. */
    for (size_t i = 0; i < names.n; i++) {
        const char *nm = names.v[i];
        size_t l = strlen(nm);
        bool listed = !strcmp(nm, ".d") || strv_has(&cols, nm);
        if (!listed && l > 1 && nm[l - 1] == '#') {
            char base[300];
            size_t bl = l - (l > 2 && nm[l - 2] == '#' ? 2 : 1);
            snprintf(base, sizeof base, "%.*s", (int)bl, nm);
            listed = strv_has(&cols, base);
        }
        PJOIN(path, dir, nm);
        struct stat sb;
        if (lstat(path, &sb) < 0) {
            rc = err_sys(err, "stat", path);
            break;
        }
        if (!listed) {
            note(sc, &unlisted, nm);
            continue;
        }
        if (!S_ISREG(sb.st_mode)) {
            scan_diag(sc, lbl, "Not a regular file: table=%s file=%s", t->name, nm);
            continue;
        }
        if (strv_add(&t->files, nm) < 0) rc = err_set(err, -ENOMEM, "out of memory scanning '%s'", dir);
        t->bytes += (uint64_t)sb.st_size;
    }
    if (unlisted.n)
        scan_diag(sc, lbl, "The table has files not listed in its .d file: table=%s files=%s", t->name,
             scan_join(unlisted.v, unlisted.n, list, sizeof list));
    strv_free(&cols);
    strv_free(&missing);
    strv_free(&extra);
    strv_free(&unlisted);
    strv_free(&counts);
out:
    k_free(d);
    strv_free(&names);
    return rc;
}

/* ---- partitions ---- */

static struct scan_part *part_new(struct scan *sc)
{
    if (sc->nparts == sc->capparts) {
        size_t cap = sc->capparts ? sc->capparts * 2 : 64;
        struct scan_part *n = realloc(sc->parts, cap * sizeof *n);
        if (!n) return NULL;
        sc->parts = n;
        sc->capparts = cap;
    }
    struct scan_part *p = &sc->parts[sc->nparts++];
    memset(p, 0, sizeof *p);
    return p;
}

static bool partitioned(const struct cfg_table *t) { return t && t->type == CFG_PARTITIONED; }

/* Is PATH (relative to the store root) in the version being resumed from? */
static bool in_store(struct scan *sc, const char *path)
{
    struct store_entry e;
    struct smfs_err ig;
    return sc->done_in && store_lookup(sc->done_in, path, &e, &ig) == 0;
}

static int scan_part(struct scan *sc, unsigned src, const char *name, int32_t day,
                     struct smfs_err *err)
{
    struct scan_part *p = part_new(sc);
    if (!p) return err_set(err, -ENOMEM, "out of memory scanning partitions");
    snprintf(p->name, sizeof p->name, "%s", name);
    p->day = day;
    p->src = src;
    char rel[512], dir[4096];
    PJOIN(rel, sc->src[src].seg ? sc->src[src].seg : "", name);
    if (!(sc->flags & SCAN_INGEST) && in_store(sc, rel)) {
        p->done = true;   /* committed before a crash: its sources are being cleaned */
        return 0;
    }
    PJOIN(dir, sc->src[src].dir, name);
    struct strv names = {0};
    struct strv stray = {0};
    int rc = import_list_dir(dir, &names, err);
    /* Room for every directory found plus every schema table a fill may add. */
    if (rc == 0 && !(p->tabs = calloc(names.n + sc->cfg->ntables + 1, sizeof *p->tabs)))
        rc = err_set(err, -ENOMEM, "out of memory scanning '%s'", dir);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        char path[4096];
        struct stat sb;
        PJOIN(path, dir, names.v[i]);
        if (stat(path, &sb) < 0) {
            rc = err_sys(err, "stat", path);
            break;
        }
        if (!S_ISDIR(sb.st_mode)) {
            note(sc, &stray, names.v[i]);
            continue;
        }
        const struct cfg_table *t = cfg_table_find(sc->cfg, names.v[i]);
        if (!t) {
            scan_diag(sc, name, "The table has not been configured in the assembly: table=%s", names.v[i]);
            continue;
        }
        if (!partitioned(t)) {
            scan_diag(sc, name, "The table is not partitioned in the assembly: table=%s type=%s", names.v[i],
                 cfg_table_type_name(t->type));
            continue;
        }
        struct scan_table *st = &p->tabs[p->ntabs++];
        st->schema = t;
        if (!(st->name = strdup(names.v[i]))) {
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        rc = check_table(sc, name, day, path, st, err);
        p->files += st->files.n;
        p->bytes += st->bytes;
    }
    if (stray.n) {
        char list[512];
        scan_diag(sc, name, "Stray files in partition: files=%s", scan_join(stray.v, stray.n, list, sizeof list));
    }
    /* "A non-corrupt kdb+ database contains data for every partitioned table in every
     * partition directory, even if there are zero rows" (sm-spec §9). */
    for (size_t i = 0; rc == 0 && !(sc->flags & SCAN_INGEST) && i < sc->cfg->ntables; i++) {
        const struct cfg_table *t = &sc->cfg->tables[i];
        if (!partitioned(t)) continue;
        bool have = false;
        for (size_t j = 0; j < p->ntabs; j++)
            if (p->tabs[j].schema == t) have = true;
        if (have) continue;
        if (sc->flags & SCAN_FILL) {
            struct scan_table *st = &p->tabs[p->ntabs];
            st->schema = t;
            st->fill = true;
            if (!(st->name = strdup(t->name))) rc = err_set(err, -ENOMEM, "out of memory");
            p->ntabs++;
        } else {
            scan_diag(sc, name, "The table is missing from the database: table=%s", t->name);
        }
    }
    for (size_t i = 0; i < p->ntabs; i++) if (!p->tabs[i].fill) sc->tables++;
    sc->files += p->files;
    sc->bytes += p->bytes;
    strv_free(&stray);
    strv_free(&names);
    return rc;
}

/* ---- roots ---- */

static int scan_root_table(struct scan *sc, const char *dir, const char *name,
                           const struct cfg_table *t, bool isdir, struct smfs_err *err)
{
    if (in_store(sc, name)) return 0;
    bool splayed = t->type != CFG_BASIC;
    if (splayed != isdir) {
        scan_diag(sc, NULL, splayed ? "The table should be a directory (splayed) at the root: table=%s"
                               : "The table should be a single file (basic) at the root: table=%s", name);
        return 0;
    }
    char path[4096];
    PJOIN(path, dir, name);
    if (!splayed) {
        struct k *x = NULL;
        struct smfs_err e;
        if (kdb_load(path, &x, &e) < 0) {
            scan_diag(sc, NULL, "Cannot read: table=%s file=%s: %s", name, name, e.msg);
            return 0;
        }
        bool ok = x->t == KT_TABLE;
        const struct k *keys = ok ? x->u.kk[0]->u.kk[0] : NULL;
        if (!ok) {
            scan_diag(sc, NULL, "The column has the wrong type: table=%s column=* type=%s expected=table",
                 name, k_type_name(x->t));
        } else {
            size_t n = (size_t)keys->n;
            bool same = n == t->ncols;
            for (size_t i = 0; same && i < n; i++)
                same = !strcmp(k_symv_at(keys, (int64_t)i), t->cols[i].name);
            if (!same) {
                char list[512];
                struct strv have = {0};
                for (size_t i = 0; i < n; i++) note(sc, &have, k_symv_at(keys, (int64_t)i));
                scan_diag(sc, NULL, "The basic table's columns differ from the schema: table=%s columns=%s",
                     name, scan_join(have.v, have.n, list, sizeof list));
                strv_free(&have);
            }
        }
        k_free(x);
        struct stat sb;
        if (stat(path, &sb) == 0) sc->bytes += (uint64_t)sb.st_size;
        sc->files++;
        sc->tables++;
        return strv_add(&sc->root_files, name) < 0 ? err_set(err, -ENOMEM, "out of memory") : 0;
    }
    struct scan_table *n = realloc(sc->roots, (sc->nroots + 1) * sizeof *n);
    if (!n) return err_set(err, -ENOMEM, "out of memory");
    sc->roots = n;
    struct scan_table *st = &sc->roots[sc->nroots++];
    memset(st, 0, sizeof *st);
    st->schema = t;
    if (!(st->name = strdup(name))) return err_set(err, -ENOMEM, "out of memory");
    int rc = check_table(sc, NULL, 0, path, st, err);
    sc->files += st->files.n;
    sc->bytes += st->bytes;
    sc->tables++;
    return rc;
}

/* Is NAME a segment directory of the store tree (a tier's name) or par.txt/sym? */
static bool reserved_root(const struct scan *sc, const char *name)
{
    if (!strcmp(name, "par.txt") || !strcmp(name, "sym")) return true;
    for (size_t i = 0; i < sc->cfg->ndate; i++)
        if (sc->cfg->date_tiers[i]->segment && !strcmp(sc->cfg->date_tiers[i]->segment, name))
            return true;
    return false;
}

static int scan_source(struct scan *sc, unsigned si, struct smfs_err *err)
{
    struct scan_src *src = &sc->src[si];
    bool first = si == 0;
    struct strv names = {0}, stray = {0}, other = {0};
    int rc = import_list_dir(src->dir, &names, err);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        const char *nm = names.v[i];
        char path[4096];
        struct stat sb;
        if (src->store_dir && scan_store_name(nm)) continue;
        if (!strcmp(nm, "lost+found")) continue;   /* an HDB volume's own root: not data */
        PJOIN(path, src->dir, nm);
        if (stat(path, &sb) < 0) {
            rc = err_sys(err, "stat", path);
            break;
        }
        int32_t day;
        const struct cfg_table *t;
        if (S_ISDIR(sb.st_mode) && k_parse_date(nm, &day)) {
            rc = scan_part(sc, si, nm, day, err);
        } else if (first && !strcmp(nm, "sym") && S_ISREG(sb.st_mode)) {
            struct kdb_file f;
            struct kdb_info in;
            struct smfs_err e;
            int r = kdb_file_open(&f, path, &e);
            if (r == 0) {
                r = kdb_file_info(&f, &in, &e);
                kdb_file_close(&f);
            }
            if (r < 0 || in.fmt != KDB_FMT_OBJECT || in.type != KT_SYM)
                scan_diag(sc, NULL, "Cannot read: table=sym file=%s: %s", path, r < 0 ? e.msg : "not a symbol list");
            sc->have_sym = true;
            if (!(sc->sym_path = strdup(path))) rc = err_set(err, -ENOMEM, "out of memory");
            if (rc == 0 && !in_store(sc, "sym")) {
                sc->files++;
                sc->bytes += (uint64_t)sb.st_size;
            }
        } else if (first && !strcmp(nm, "par.txt")) {
            scan_diag(sc, NULL, "Segmented database (par.txt) found at '%s': import a partitioned database; "
                 "list its segments' directories as the stores of date tiers instead", path);
        } else if (first && (t = cfg_table_find(sc->cfg, nm)) && !partitioned(t)) {
            if (reserved_root(sc, nm))
                scan_diag(sc, NULL, "The table name collides with a name smfs keeps at the root (a tier, "
                     "par.txt or sym): table=%s", nm);
            else
                rc = scan_root_table(sc, src->dir, nm, t, S_ISDIR(sb.st_mode), err);
        } else if (S_ISDIR(sb.st_mode) && other_partition(nm)) {
            note(sc, &other, nm);
        } else {
            note(sc, &stray, nm);
        }
    }
    char list[512];
    if (other.n)
        scan_diag(sc, NULL, "Only date partitions can be imported (not month, year or int): dirs=%s",
             scan_join(other.v, other.n, list, sizeof list));
    if (stray.n && first)
        scan_diag(sc, NULL, "Stray files in DB root: Tables must be listed in schema and symbol file must "
             "be called 'sym': files=%s", scan_join(stray.v, stray.n, list, sizeof list));
    else if (stray.n)
        scan_diag(sc, NULL, "Stray files in the store of tier '%s' (only date partitions belong there): files=%s",
             src->seg, scan_join(stray.v, stray.n, list, sizeof list));
    strv_free(&names);
    strv_free(&stray);
    strv_free(&other);
    return rc;
}

static int by_day(const void *a, const void *b)
{
    const struct scan_part *x = a, *y = b;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    return x->src < y->src ? -1 : x->src > y->src;
}

static bool needs_sym(const struct cfg *c)
{
    for (size_t i = 0; i < c->ntables; i++)
        for (size_t j = 0; j < c->tables[i].ncols; j++)
            if (c->tables[i].cols[j].type == KT_SYM && !c->tables[i].cols[j].vector) return true;
    return false;
}

int scan_run(struct scan *sc, struct smfs_err *err)
{
    buf_init(&sc->line, 1 << 20);
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < sc->nsrc; i++)
        if (sc->src[i].dir) rc = scan_source(sc, i, err);
    if (rc < 0) return rc;
    if (sc->nparts) qsort(sc->parts, sc->nparts, sizeof *sc->parts, by_day);
    for (size_t i = 1; i < sc->nparts; i++)
        if (sc->parts[i].day == sc->parts[i - 1].day)
            scan_diag(sc, sc->parts[i].name, "The partition is in more than one tier: tiers=%s,%s",
                 sc->src[sc->parts[i - 1].src].seg, sc->src[sc->parts[i].src].seg);
    bool sym_known = sc->have_sym || in_store(sc, "sym");
    /* Below, more problems may be recorded; the oom check comes last. */
    if (!sym_known && (needs_sym(sc->cfg) && (sc->nparts || !(sc->flags & SCAN_INGEST))))
        scan_diag(sc, NULL, "No sym file found at '%s/sym'", sc->src[0].dir ? sc->src[0].dir : "?");
    if (!(sc->flags & SCAN_INGEST)) {
        if (!sc->nparts && !sym_known)
            scan_diag(sc, NULL, "No kdb+ database found at '%s': no date partitions and no sym file",
                 sc->src[0].dir);
        for (size_t i = 0; i < sc->cfg->ntables; i++) {
            const struct cfg_table *t = &sc->cfg->tables[i];
            if (partitioned(t) || in_store(sc, t->name) || strv_has(&sc->root_files, t->name)) continue;
            bool have = false;
            for (size_t j = 0; j < sc->nroots; j++)
                if (sc->roots[j].schema == t) have = true;
            if (!have)
                scan_diag(sc, NULL, "The table is missing from the database root: table=%s type=%s", t->name,
                     cfg_table_type_name(t->type));
        }
    }
    if (sc->oom)
        return err_set(err, -ENOMEM, "out of memory while validating '%s': the list of problems would be "
                       "incomplete, so nothing is imported", sc->src[0].dir ? sc->src[0].dir : "the staging tree");
    return sc->ndiags ? -EINVAL : 0;
}

static void table_free(struct scan_table *t)
{
    free(t->name);
    strv_free(&t->files);
}

void scan_free(struct scan *sc)
{
    for (size_t i = 0; i < sc->nparts; i++) {
        for (size_t j = 0; j < sc->parts[i].ntabs; j++) table_free(&sc->parts[i].tabs[j]);
        free(sc->parts[i].tabs);
    }
    free(sc->parts);
    for (size_t i = 0; i < sc->nroots; i++) table_free(&sc->roots[i]);
    free(sc->roots);
    strv_free(&sc->root_files);
    free(sc->sym_path);
    for (size_t i = 0; i < sc->ndiags; i++) {
        free(sc->diags[i].key);
        strv_free(&sc->diags[i].parts);
    }
    free(sc->diags);
    for (size_t i = 0; i < sc->nsrc; i++) free(sc->src[i].dir);
    buf_release(&sc->line);
    memset(sc, 0, sizeof *sc);
}
