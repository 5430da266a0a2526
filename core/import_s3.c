/* core/import_s3.c: the initial import's object-storage half (sm-spec §9, scenarios 2
 * and 3): partitions already under the S3 tier's prefix are checked against the
 * assembly without downloading them -- one listing, each table's .d read whole (a few
 * bytes), each column's header by a ranged GET (a compressed column: its trailer and
 * first block, decompressed) -- and then named in the store (STORE_F_REMOTE, no
 * checksum: the bytes were not read) under .smfs/s3/<tier>, so the view's par.txt line,
 * the writedown's refusal of late rows and the migration's "already there" all know
 * them. The data itself is not touched: object storage is immutable. */
#include "import_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k.h"
#include "k_fmt.h"
#include "kdb.h"
#include "s3.h"
#include "tiers.h"

#define DOTD_MAX  (1u << 20)     /* a .d longer than this names no real table */

struct s3file {
    char    *key;
    char    *rel;                /* <date>/<table>/<file> */
    uint64_t size;
};

struct s3_import {
    const struct cfg_tier *t;
    char           prefix[1100];  /* "" or "<prefix>/" */
    struct s3     *h;
    struct s3file *f;
    size_t         nf, cap;
    size_t         nparts;
    char           lo[11], hi[11];
    uint64_t       bytes;         /* in the partitions */
    uint64_t       ignored;       /* keys that are not <date>/<table>/<file> */
};

static int collect(void *arg, const struct s3_obj *o)
{
    struct s3_import *x = arg;
    const char *rel = o->key + strlen(x->prefix);
    int32_t d;
    const char *slash = strchr(rel, '/');
    /* Only date partitions: an inventory, a par.txt or sym beside them, or our own
     * upload markers are not partitions. */
    char ds[11];
    if (slash && slash - rel == 10) memcpy(ds, rel, 10), ds[10] = 0;
    if (!slash || slash - rel != 10 || !k_parse_date(ds, &d)) {
        x->ignored++;
        return 0;
    }
    if (x->nf == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        struct s3file *v = realloc(x->f, cap * sizeof *v);
        if (!v) return -ENOMEM;
        x->f = v;
        x->cap = cap;
    }
    struct s3file *f = &x->f[x->nf];
    if (!(f->key = strdup(o->key))) return -ENOMEM;
    f->rel = f->key + strlen(x->prefix);
    f->size = o->size;
    x->nf++;
    x->bytes += o->size;
    return 0;
}

void s3_import_free(struct s3_import *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->nf; i++) free(x->f[i].key);
    free(x->f);
    s3_close(x->h);
    free(x);
}

/* Length of the component of S up to the next '/' (or the end). */
static size_t comp(const char *s)
{
    const char *e = strchr(s, '/');
    return e ? (size_t)(e - s) : strlen(s);
}

/* The header of a compressed column: its trailer and first block, made into a
 * one-block container and decompressed. */
static int zipped_head(struct s3_import *x, const struct s3file *f, struct buf *raw, uint64_t *ulen,
                       struct smfs_err *err)
{
    struct buf tail, blk, syn;
    buf_init(&tail, 1u << 24);
    buf_init(&blk, 1u << 22);
    buf_init(&syn, 1u << 23);
    int rc = 0;
    if (f->size < 8 + 48) rc = err_set(err, -EIO, "'%s': %" PRIu64 " bytes: too short for a compressed file", f->rel, f->size);
    if (!rc) rc = s3_get(x->h, f->key, f->size - 8, 8, &tail, err);
    uint64_t k = tail.len == 8 ? le64(tail.p) : 0;
    if (!rc && (k == 0 || k > (f->size - 48) / 8))
        rc = err_set(err, -EIO, "'%s': the compressed file's trailer names %" PRIu64 " blocks", f->rel, k);
    uint64_t tl = 40 + 8 * k;
    tail.len = 0;
    if (!rc) rc = s3_get(x->h, f->key, f->size - tl, tl, &tail, err);
    if (!rc && tail.len != tl) rc = err_set(err, -EIO, "'%s': short read of the trailer", f->rel);
    uint64_t bs = 0, len0 = 0, clen = 0;
    if (!rc) {
        *ulen = le64(tail.p + 8);
        clen = le64(tail.p + 16);
        bs = le64(tail.p + 24);
        len0 = le32(tail.p + 32);
        if (clen + tl != f->size || len0 > clen - 8 || bs < 4096 || bs > (1u << 20))
            rc = err_set(err, -EIO, "'%s': the compressed file's trailer does not match its size (%" PRIu64 " bytes)",
                         f->rel, f->size);
    }
    if (!rc) rc = s3_get(x->h, f->key, 8, len0, &blk, err);
    if (!rc && blk.len != len0) rc = err_set(err, -EIO, "'%s': short read of the first block", f->rel);
    if (!rc) {
        /* The same trailer with one block: the first one's length, in a file that ends there. */
        uint8_t tr[48];
        memcpy(tr, tail.p, 40);
        st64(tr + 8, *ulen < bs ? *ulen : bs);
        st64(tr + 16, 8 + len0);
        st64(tr + 40, 1);
        if (buf_append(&syn, "kxzipped", 8) || buf_append(&syn, blk.p, blk.len) || buf_append(&syn, tr, 48))
            rc = err_set(err, -ENOMEM, "out of memory");
    }
    struct kdb_zinfo zi;
    if (!rc) rc = kdb_zip_info(syn.p, syn.len, f->rel, &zi, err);
    if (!rc) rc = kdb_unzip_blocks(syn.p, syn.len, &zi, 0, 1, f->rel, raw, err);
    buf_release(&tail);
    buf_release(&blk);
    buf_release(&syn);
    return rc;
}

static int head_info(struct s3_import *x, const struct s3file *f, struct kdb_info *in, struct smfs_err *err)
{
    struct buf b;
    buf_init(&b, 1u << 22);
    int rc = s3_get(x->h, f->key, 0, f->size < 4096 ? f->size : 4096, &b, err);
    if (!rc && b.len >= 8 && !memcmp(b.p, "kxzipped", 8)) {
        uint64_t ulen = 0;
        b.len = 0;
        rc = zipped_head(x, f, &b, &ulen, err);
        if (!rc) rc = kdb_probe_head(b.p, b.len, ulen, f->rel, in, err);
        if (!rc) in->compressed = true;
    } else if (!rc) {
        rc = kdb_probe_head(b.p, b.len, f->size, f->rel, in, err);
    }
    buf_release(&b);
    return rc;
}

static bool listed(const struct s3file *f, size_t a, size_t b, const char *table_rel, const char *name)
{
    size_t tl = strlen(table_rel);
    for (size_t i = a; i < b; i++)
        if (!strncmp(f[i].rel, table_rel, tl) && !strcmp(f[i].rel + tl, name)) return true;
    return false;
}

/* Table files F[a..b) of partition PART (all under <date>/<table>/). */
static void check_table(struct scan *sc, struct s3_import *x, const char *part, const char *table, size_t a,
                        size_t b)
{
    const struct cfg_table *sch = cfg_table_find(sc->cfg, table);
    if (!sch || sch->type != CFG_PARTITIONED) {
        scan_diag(sc, part, "In object storage: the partition has a table the assembly does not partition: table=%s", table);
        return;
    }
    char trel[300], list[512], list2[512];
    snprintf(trel, sizeof trel, "%s/%s/", part, table);
    struct strv cols = {0}, missing = {0}, extra = {0}, counts = {0};
    struct k *d = NULL;
    const struct s3file *dotd = NULL;
    for (size_t i = a; i < b; i++)
        if (!strcmp(x->f[i].rel + strlen(trel), ".d")) dotd = &x->f[i];
    struct smfs_err e;
    if (!dotd) {
        scan_diag(sc, part, "In object storage: the table has no .d file: table=%s", table);
    } else {
        struct buf db;
        buf_init(&db, DOTD_MAX);
        int rc = dotd->size > DOTD_MAX ? err_set(&e, -E2BIG, "%" PRIu64 " bytes", dotd->size)
                                       : s3_get(x->h, dotd->key, 0, 0, &db, &e);
        struct buf un;
        buf_init(&un, DOTD_MAX * 16);
        const uint8_t *dp = db.p;
        size_t dl = db.len;
        if (!rc && db.len >= 8 && !memcmp(db.p, "kxzipped", 8)) {
            /* kdb+ compresses .d too when .z.zd is set: whole, it is a few blocks at most. */
            struct kdb_zinfo zi;
            rc = kdb_zip_info(db.p, db.len, dotd->rel, &zi, &e);
            if (!rc) rc = kdb_unzip_blocks(db.p, db.len, &zi, 0, zi.nblocks, dotd->rel, &un, &e);
            dp = un.p;
            dl = un.len;
        }
        if (!rc) rc = kdb_decode(dp, dl, dotd->rel, &d, &e);
        buf_release(&un);
        if (!rc && d->t != KT_SYM) rc = err_set(&e, -EIO, "not a symbol list");
        if (rc) scan_diag(sc, part, "In object storage: cannot read: table=%s file=.d: %s", table, e.msg);
        for (int64_t i = 0; !rc && i < d->n; i++)
            if (strv_add(&cols, k_symv_at(d, i)) < 0) sc->oom = true;
        buf_release(&db);
    }
    if (cols.n) {
        for (size_t i = 0; i < sch->ncols; i++)
            if (!strv_has(&cols, sch->cols[i].name) && strv_add(&missing, sch->cols[i].name) < 0) sc->oom = true;
        for (size_t i = 0; i < cols.n; i++)
            if (!cfg_column_find(sch, cols.v[i]) && strv_add(&extra, cols.v[i]) < 0) sc->oom = true;
        if (missing.n)
            scan_diag(sc, part, "In object storage: the table has the following missing columns from the .d file: "
                      "table=%s columns=%s", table, scan_join(missing.v, missing.n, list, sizeof list));
        if (extra.n)
            scan_diag(sc, part, "In object storage: the table has the following extra columns: table=%s columns=%s",
                      table, scan_join(extra.v, extra.n, list, sizeof list));
        bool same = !missing.n && !extra.n;
        for (size_t i = 0; same && i < sch->ncols; i++) same = !strcmp(cols.v[i], sch->cols[i].name);
        if (!missing.n && !extra.n && !same) {
            const char *want[256];
            size_t nw = sch->ncols < 256 ? sch->ncols : 256;
            for (size_t i = 0; i < nw; i++) want[i] = sch->cols[i].name;
            scan_diag(sc, part, "In object storage: the table's .d file lists the columns in another order than the "
                      "schema: table=%s found=%s expected=%s", table, scan_join(cols.v, cols.n, list, sizeof list),
                      scan_join((char *const *)want, nw, list2, sizeof list2));
        }
        strv_free(&missing);
    }
    int64_t rows = -1;
    bool differ = false;
    for (size_t i = 0; i < cols.n; i++) {
        const char *c = cols.v[i];
        const struct s3file *f = NULL;
        for (size_t j = a; j < b && !f; j++)
            if (!strcmp(x->f[j].rel + strlen(trel), c)) f = &x->f[j];
        if (!f) {
            if (strv_add(&missing, c) < 0) sc->oom = true;
            continue;
        }
        struct kdb_info in;
        if (head_info(x, f, &in, &e)) {
            scan_diag(sc, part, "In object storage: cannot read: table=%s file=%s: %s", table, c, e.msg);
            continue;
        }
        const struct cfg_column *cc = cfg_column_find(sch, c);
        char heap[300];
        snprintf(heap, sizeof heap, "%s#", c);
        if (in.fmt == KDB_FMT_ANYMAP && !listed(x->f, a, b, trel, heap) && strv_add(&missing, heap) < 0) sc->oom = true;
        if (cc && !scan_type_ok(cc, &in))
            scan_diag(sc, part, "In object storage: the column has the wrong type: table=%s column=%s type=%s expected=%s",
                      table, c, scan_type_found(&in), cc->type_name[0] ? cc->type_name : "mixed");
        else if ((in.fmt == KDB_FMT_ENUM || in.fmt == KDB_FMT_ENUM32) && strcmp(in.domain, "sym"))
            scan_diag(sc, part, "In object storage: the column is not enumerated against sym: table=%s column=%s "
                      "domain=%s", table, c, in.domain);
        char cnt[300];
        snprintf(cnt, sizeof cnt, "%s:%lld", c, (long long)in.count);
        if (strv_add(&counts, cnt) < 0) sc->oom = true;
        if (rows < 0) rows = in.count;
        else if (in.count != rows) differ = true;
    }
    if (missing.n)
        scan_diag(sc, part, "In object storage: the table has the following missing columns: table=%s columns=%s",
                  table, scan_join(missing.v, missing.n, list, sizeof list));
    if (differ)
        scan_diag(sc, part, "In object storage: the table's columns have different row counts: table=%s counts=%s",
                  table, scan_join(counts.v, counts.n, list, sizeof list));
    /* Anything else under the table: not kdb+'s, and not ours to name. */
    struct strv stray = {0};
    for (size_t i = a; i < b; i++) {
        const char *nm = x->f[i].rel + strlen(trel);
        size_t l = strlen(nm);
        char base[300];
        snprintf(base, sizeof base, "%.*s", (int)(l - (l > 1 && nm[l - 1] == '#' ? (l > 2 && nm[l - 2] == '#' ? 2 : 1) : 0)), nm);
        if (strcmp(nm, ".d") && !strv_has(&cols, nm) && !strv_has(&cols, base) && strv_add(&stray, nm) < 0) sc->oom = true;
    }
    if (stray.n)
        scan_diag(sc, part, "In object storage: the table has files not listed in its .d file: table=%s files=%s",
                  table, scan_join(stray.v, stray.n, list, sizeof list));
    strv_free(&stray);
    strv_free(&missing);
    strv_free(&extra);
    strv_free(&counts);
    strv_free(&cols);
    k_free(d);
}

int s3_import_scan(struct scan *sc, const struct s3_conf *conf, void (*say)(void *, const char *), void *arg,
                   struct s3_import **out, struct smfs_err *err)
{
    *out = NULL;
    const struct cfg *c = sc->cfg;
    const struct cfg_tier *t = c->ndate ? c->date_tiers[c->ndate - 1] : NULL;
    if (!t || t->segment || t->store.kind != CFG_URI_S3) return 0;
    struct s3_conf cf;
    struct smfs_err ce;
    if (conf) cf = *conf;
    else if (s3_conf_env(&cf, &ce)) {
        import_say(say, arg, "  tier %s: object storage %s not listed (%s): any partitions there are not checked; "
                   "par.txt names it", t->name, t->store.text, ce.msg);
        return 0;
    }
    struct s3_import *x = calloc(1, sizeof *x);
    if (!x) return err_set(err, -ENOMEM, "out of memory");
    x->t = t;
    snprintf(x->prefix, sizeof x->prefix, "%s%s", t->store.prefix, *t->store.prefix ? "/" : "");
    int rc = s3_open(&cf, t->store.bucket, &x->h, err);
    if (!rc) rc = s3_list(x->h, x->prefix, collect, x, err);
    if (rc == -ENOMEM) rc = err_set(err, -ENOMEM, "out of memory listing %s", t->store.text);
    if (rc) {
        s3_import_free(x);
        return err_wrap(err, "tier %s: listing %s", t->name, t->store.text);
    }
    /* Keys come in byte order: a partition's, and in it a table's, are together. */
    for (size_t a = 0; a < x->nf;) {
        const char *rel = x->f[a].rel;
        char part[11];
        memcpy(part, rel, 10);
        part[10] = 0;
        size_t b = a;
        while (b < x->nf && !strncmp(x->f[b].rel, part, 10) && x->f[b].rel[10] == '/') b++;
        int32_t day;
        (void)k_parse_date(part, &day);
        x->nparts++;
        if (!x->lo[0]) memcpy(x->lo, part, 11);
        memcpy(x->hi, part, 11);
        for (size_t i = 0; i < sc->nparts; i++)
            if (sc->parts[i].day == day)
                scan_diag(sc, part, "The partition is both on disk (tier %s) and in object storage (%s): the same date "
                          "partition can't exist in both", sc->src[sc->parts[i].src].seg, t->store.text);
        for (size_t ta = a; ta < b;) {
            const char *tab = x->f[ta].rel + 11;
            size_t tl = comp(tab);
            if (!tab[tl]) {
                scan_diag(sc, part, "In object storage: a file directly in the partition: file=%s", tab);
                ta++;
                continue;
            }
            size_t tb = ta;
            while (tb < b && !strncmp(x->f[tb].rel + 11, tab, tl) && x->f[tb].rel[11 + tl] == '/') tb++;
            char table[256];
            snprintf(table, sizeof table, "%.*s", (int)tl, tab);
            check_table(sc, x, part, table, ta, tb);
            ta = tb;
        }
        for (size_t i = 0; i < c->ntables; i++) {
            const struct cfg_table *ct = &c->tables[i];
            if (ct->type != CFG_PARTITIONED) continue;
            char tr[300];
            snprintf(tr, sizeof tr, "%s/%s/", part, ct->name);
            bool have = false;
            for (size_t j = a; j < b && !have; j++) have = !strncmp(x->f[j].rel, tr, strlen(tr));
            if (!have) scan_diag(sc, part, "In object storage: the partition lacks a table of the assembly: table=%s", ct->name);
        }
        a = b;
    }
    if (sc->oom) {
        s3_import_free(x);
        return err_set(err, -ENOMEM, "out of memory checking %s", t->store.text);
    }
    *out = x;
    return 0;
}

void s3_import_describe(const struct s3_import *x, void (*say)(void *, const char *), void *arg)
{
    if (!x) return;
    struct s3_stats st;
    s3_stats(x->h, &st);
    import_say(say, arg, "  tier %s: %zu partitions%s%s%s%s, %.1f MB in %s (named, not copied: checked by listing and "
               "%" PRIu64 " ranged reads of %" PRIu64 " bytes)%s", x->t->name, x->nparts, x->nparts ? " " : "",
               x->lo, x->nparts ? ".." : "", x->hi, (double)x->bytes / 1e6, x->t->store.text, st.requests,
               st.bytes_down, x->ignored ? "; other keys there are not partitions and are left alone" : "");
}

int s3_import_take(const struct s3_import *x, struct store_tx *tx, struct smfs_err *err)
{
    if (!x) return 0;
    char dir[300], path[4400];
    int rc = tiers_s3_dir(x->t, dir, sizeof dir) ? err_set(err, -ENAMETOOLONG, "tier name too long") : 0;
    for (size_t i = 0; !rc && i < x->nf; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, x->f[i].rel);
        rc = store_tx_put_remote(tx, path, x->f[i].size, 0, false, err);
    }
    return rc;
}

uint64_t s3_import_parts(const struct s3_import *x)
{
    return x ? x->nparts : 0;
}
