/* core/tiers.c: retention and migration between date tiers (see tiers.h).
 *
 * Order, and what each step's place prevents:
 *   begin (writer lock) → pin the base version → plan → per file: read and check the
 *   source, write the copy, read it back → remove the old partition → commit
 * The plan is made from the version the transaction edits (the writer lock is held, so
 * no commit can slip in between), so a partition written meanwhile is never dropped.
 * Nothing is removed from the source tier but through the commit: a crash before it
 * leaves the version before (the copies are orphans vacuum removes), after it the
 * version after; the source objects stay on disk until no kept version names them, so
 * a reader of the old version keeps its files. */
#include "tiers.h"
#include "tiers_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <xxhash.h>

#include "buf.h"
#include "fault.h"
#include "fileio.h"
#include "k_fmt.h"
#include "kdb.h"

int tiers_store_index(const struct cfg *c, size_t i)
{
    if (i >= c->ndate || !c->date_tiers[i]->segment) return -1;
    int k = 0;
    for (size_t j = 0; j < i; j++)
        if (c->date_tiers[j]->segment) k++;
    return k;
}

const struct cfg_tier *tiers_local(const struct cfg *c, unsigned k)
{
    for (size_t i = 0; i < c->ndate; i++)
        if (c->date_tiers[i]->segment && k-- == 0) return c->date_tiers[i];
    return NULL;
}

const struct kdb_zparams *tiers_zip(const struct cfg_tier *t)
{
    return t && t->zip_set && t->zip.alg ? &t->zip : NULL;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* DAYS moved back by MONTHS calendar months, the day clamped to the month's length. */
static int32_t months_back(int32_t days, int64_t months)
{
    int y, m, d;
    k_ymd_from_days(days, &y, &m, &d);
    int64_t mm = (int64_t)y * 12 + (m - 1) - months;
    int ny = (int)floor_div(mm, 12), nm = (int)(mm - (int64_t)ny * 12) + 1;
    int32_t first = k_days_from_ymd(ny, nm, 1);
    int32_t next = nm == 12 ? k_days_from_ymd(ny + 1, 1, 1) : k_days_from_ymd(ny, nm + 1, 1);
    int len = (int)(next - first);
    return first + (d <= len ? d : len) - 1;
}

int32_t tiers_oldest_kept(const struct cfg_tier *t, int64_t now_ns)
{
    if (!t || t->retain_count <= 0) return INT32_MIN;
    int64_t n = t->retain_count;
    /* q days and the time of day of now. */
    int64_t q = now_ns - K_EPOCH_UNIX_NS;
    int64_t day = floor_div(q, K_NS_PER_DAY);
    int64_t unit = 0, cut_day;
    switch (t->retain_unit) {
    case CFG_SECONDS: unit = INT64_C(1000000000); break;
    case CFG_MINUTES: unit = INT64_C(60000000000); break;
    case CFG_HOURS:   unit = INT64_C(3600000000000); break;
    case CFG_DAYS:    unit = K_NS_PER_DAY; break;
    case CFG_WEEKS:   unit = 7 * K_NS_PER_DAY; break;
    case CFG_MONTHS:  unit = 0; break;
    case CFG_YEARS:   unit = 0; n = n > INT64_MAX / 12 ? INT64_MAX : 12 * n; break;
    default:          return INT32_MIN;
    }
    /* A retention of a million years keeps everything: keep the arithmetic in range. */
    if (unit ? n > INT64_MAX / unit / 2 : n > 12 * 1000000) return INT32_MIN + 1;
    if (!unit) {
        cut_day = months_back((int32_t)day, n);
    } else {
        cut_day = floor_div(q - n * unit, K_NS_PER_DAY);
    }
    /* D has aged out when D+1 (its end) <= the cut: the oldest kept is the cut's day. */
    if (cut_day < INT32_MIN + 1) return INT32_MIN + 1;
    if (cut_day > INT32_MAX) return INT32_MAX;
    return (int32_t)cut_day;
}

int tiers_fs(const char *path, struct tier_fs *fs, struct smfs_err *err)
{
    struct statvfs v;
    memset(fs, 0, sizeof *fs);
    if (statvfs(path, &v) < 0) return err_sys(err, "statvfs", path);
    fs->known = true;
    fs->size = (uint64_t)v.f_blocks * v.f_frsize;
    fs->used = (uint64_t)(v.f_blocks - v.f_bfree) * v.f_frsize;
    return 0;
}

/* ---- the plan ---------------------------------------------------------------------- */

void tiers_note(struct run *r, const char *fmt, ...)
{
    if (!r->o->note) return;
    char line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->o->note(r->o->arg, line);
}

const char *tiers_name(const struct run *r, int i)
{
    return i < (int)r->cfg->ndate ? r->cfg->date_tiers[i]->name : "(deleted)";
}

int tiers_walk(struct run *r, uint64_t dir, const char *base, int depth, file_fn fn, void *arg,
                struct smfs_err *err)
{
    if (depth > STORE_DEPTH_MAX) return err_set(err, -ELOOP, "'%s': deeper than %d levels", base, STORE_DEPTH_MAX);
    enum { CHUNK = 128 };
    struct store_entry *ents = malloc(CHUNK * sizeof *ents);
    if (!ents) return err_set(err, -ENOMEM, "out of memory listing '%s'", base);
    int rc = 0;
    for (uint64_t at = 0;;) {
        size_t n = 0;
        rc = store_dir_read(r->s, dir, at, ents, CHUNK, &n, err);
        if (rc || n == 0) break;
        for (size_t i = 0; i < n && rc == 0; i++) {
            char path[4096];
            if (file_join(path, sizeof path, base, ents[i].name) < 0) {
                rc = err_set(err, -ENAMETOOLONG, "'%s/%s': path too long", base, ents[i].name);
                break;
            }
            if (ents[i].kind == STORE_DIR) rc = tiers_walk(r, ents[i].id, path, depth + 1, fn, arg, err);
            else rc = fn(r, path, &ents[i], arg, err);
        }
        if (rc || n < CHUNK) break;
        at += n;
    }
    free(ents);
    return rc;
}

static int count_file(struct run *r, const char *path, const struct store_entry *e, void *arg,
                      struct smfs_err *err)
{
    (void)r, (void)path, (void)err;
    struct tier_move *m = arg;
    m->files++;
    m->bytes += e->size;
    return 0;
}

static int add_move(struct run *r, const struct tier_move *m, struct smfs_err *err)
{
    struct tiers_summary *sum = r->sum;
    if (sum->nmoves == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct tier_move *p = realloc(sum->moves, cap * sizeof *p);
        if (!p) return err_set(err, -ENOMEM, "out of memory planning the migration");
        sum->moves = p;
        r->cap = cap;
    }
    sum->moves[sum->nmoves++] = *m;
    return 0;
}

/* The first tier after FROM that keeps DATE by time, or ndate (deleted). */
static int destination(const struct run *r, int from, int32_t date)
{
    int j = from + 1;
    while (j < (int)r->cfg->ndate && date < tiers_oldest_kept(r->cfg->date_tiers[j], r->o->now_ns)) j++;
    return j;
}

static int by_date(const void *a, const void *b)
{
    const struct tier_move *x = a, *y = b;
    return x->date < y->date ? -1 : x->date > y->date ? 1 : x->from - y->from;
}

/* The dates of local date tier I in the base version, each with its files and bytes,
 * oldest first (names sort as dates). */
static int tier_dates(struct run *r, size_t i, struct tier_move **out, size_t *n, struct smfs_err *err)
{
    *out = NULL;
    *n = 0;
    const char *seg = r->cfg->date_tiers[i]->segment;
    struct store_entry d;
    int rc = store_lookup(r->snap, seg, &d, err);
    if (rc == -ENOENT) return 0;   /* an empty tier */
    if (rc) return rc;
    if (d.kind != STORE_DIR) return err_set(err, -EIO, "segment '%s' of tier '%s' is a file", seg, r->cfg->date_tiers[i]->name);
    size_t cap = 0;
    struct tier_move *v = NULL;
    struct store_entry ents[64];
    for (uint64_t at = 0;;) {
        size_t got = 0;
        rc = store_dir_read(r->s, d.id, at, ents, 64, &got, err);
        if (rc) break;
        for (size_t k = 0; k < got && rc == 0; k++) {
            int32_t date;
            if (ents[k].kind != STORE_DIR || !k_parse_date(ents[k].name, &date)) continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                struct tier_move *p = realloc(v, cap * sizeof *p);
                if (!p) {
                    rc = err_set(err, -ENOMEM, "out of memory listing tier '%s'", r->cfg->date_tiers[i]->name);
                    break;
                }
                v = p;
            }
            struct tier_move *m = &v[(*n)++];
            *m = (struct tier_move){.date = date, .from = (int)i, .to = (int)i};
            char base[4096];
            rc = file_join(base, sizeof base, seg, ents[k].name) < 0
                 ? err_set(err, -ENAMETOOLONG, "segment '%s': path too long", seg)
                 : tiers_walk(r, ents[k].id, base, 2, count_file, m, err);
        }
        if (rc || got < 64) break;
        at += got;
    }
    if (rc) free(v);
    else *out = v;
    return rc;
}

static int plan(struct run *r, struct smfs_err *err)
{
    const struct cfg *c = r->cfg;
    int rc = 0;
    for (size_t i = 0; i < c->ndate && rc == 0; i++) {
        const struct cfg_tier *t = c->date_tiers[i];
        int k = tiers_store_index(c, i);
        if (k < 0) continue;   /* object storage: nothing of it is in this store */
        struct tier_move *d;
        size_t n;
        rc = tier_dates(r, i, &d, &n, err);
        if (rc) break;
        int32_t oldest = tiers_oldest_kept(t, r->o->now_ns);
        uint64_t leaving = 0;
        for (size_t j = 0; j < n; j++)
            if (d[j].date < oldest) {
                d[j].why = TIER_AGE;
                leaving += d[j].bytes;
            }
        if (t->retain_size_pct > 0) {
            struct tier_fs fs;
            if (r->o->fs) fs = r->o->fs[k];
            else {
                struct smfs_err fe;
                if (tiers_fs(store_tier(r->s, (size_t)k)->path, &fs, &fe)) {
                    tiers_note(r, "tier %s: its size is not known (%s): retain.sizePct is not applied", t->name, fe.msg);
                    fs.known = false;
                }
            }
            /* Bytes over the limit, less what leaves by age already: the oldest of the rest
             * go until the tier is back within it. */
            uint64_t limit = fs.size / 100 * (uint64_t)t->retain_size_pct;
            if (fs.known && fs.used > limit) {
                uint64_t over = fs.used - limit;
                over = over > leaving ? over - leaving : 0;
                for (size_t j = 0; j < n && over; j++) {
                    if (d[j].why) continue;
                    d[j].why = TIER_SIZE;
                    over = d[j].bytes < over ? over - d[j].bytes : 0;
                }
                tiers_note(r, "tier %s: %" PRIu64 " of %" PRIu64 " bytes used, over its %d%%: the oldest partitions move on",
                     t->name, fs.used, fs.size, t->retain_size_pct);
            }
        }
        for (size_t j = 0; j < n && rc == 0; j++) {
            if (!d[j].why) continue;
            d[j].to = destination(r, (int)i, d[j].date);
            rc = add_move(r, &d[j], err);
        }
        free(d);
    }
    if (r->sum->nmoves) qsort(r->sum->moves, r->sum->nmoves, sizeof *r->sum->moves, by_date);
    return rc;
}

/* ---- moving files ------------------------------------------------------------------ */

struct dest {
    const char *from_base, *to_base;   /* <seg>/<date> in the source and destination tier */
    unsigned    tier;                   /* destination store tier */
    const struct kdb_zparams *zp;       /* NULL: stored uncompressed */
    struct tier_move *m;
};

/* The copy's bytes as the tier returns them hash to what was written. */
static int read_back(struct run *r, const char *path, struct smfs_err *err)
{
    struct store_entry e;
    int rc = store_tx_lookup(r->tx, path, &e, err);
    if (rc) return rc;
    char obj[4200];
    rc = store_object_path(r->s, &e, obj, sizeof obj, err);
    struct file_map fm = {0};
    if (!rc && e.size) rc = file_map(obj, &fm, err);
    if (rc) return rc;
    uint64_t h = XXH3_64bits(fm.p, fm.len);
    bool ok = fm.len == e.size && h == e.sum;
    file_unmap(&fm);
    if (!ok) return err_set(err, -EIO, "the copy of '%s' reads back differently from what was written", path);
    return 0;
}

/* Name the object again at PATH and let the store copy it to TIER (it checks the copy). */
static int copy_as_is(struct run *r, const char *path, const struct store_entry *e, unsigned tier,
                      struct smfs_err *err)
{
    int rc = store_tx_put_entry(r->tx, path, e, err);
    if (!rc) rc = store_tx_move(r->tx, path, tier, err);
    return rc;
}

static bool same_zip(const struct kdb_file *f, const struct kdb_zparams *zp)
{
    if (!f->compressed) return zp == NULL;
    return zp && f->z.alg == zp->alg && f->z.level == zp->level && f->z.block_size == (1ull << zp->block_log2);
}

int tiers_bytes(struct run *r, const char *path, const char *to, const struct store_entry *e,
                const struct kdb_zparams *zp, struct tier_bytes *b, struct smfs_err *err)
{
    memset(b, 0, sizeof *b);
    buf_init(&b->z, BUF_MAX_DEFAULT);
    b->as_is = true;
    b->p = (const uint8_t *)"";
    if (e->size == 0) return 0;
    char obj[4200];
    int rc = store_object_path(r->s, e, obj, sizeof obj, err);
    if (rc) return rc;
    rc = kdb_file_open(&b->f, obj, err);
    if (rc) return err_wrap(err, "%s", path);
    b->opened = true;
    /* The source as the index recorded it: a damaged object is never carried on. */
    if (!(e->flags & STORE_F_NOSUM) && (b->f.maplen != e->size || XXH3_64bits(b->f.map, b->f.maplen) != e->sum))
        return err_set(err, -EIO, "'%s' (object %s) is damaged: its bytes do not match the index's checksum", path, obj);
    b->p = b->f.map;
    b->len = b->f.maplen;
    const uint8_t *raw = NULL;
    size_t rawlen = 0;
    b->as_is = same_zip(&b->f, zp);
    if (!b->as_is) {
        rc = kdb_file_content(&b->f, &raw, &rawlen, err);
        struct kdb_info info;
        struct smfs_err pe;
        /* Only kdb+ files are compressed: another file (a note someone left) stays readable. */
        if (!rc && !b->f.compressed && kdb_probe(raw, rawlen, path, &info, &pe) < 0) b->as_is = true;
    }
    if (rc) return err_wrap(err, "%s", path);
    if (b->as_is) return 0;
    b->p = raw;
    b->len = rawlen;
    if (zp) {
        uint64_t h = XXH3_64bits(raw, rawlen);
        rc = kdb_zip(raw, rawlen, zp, &b->z, err);
        /* Decompress what will be written and compare before anything names it. */
        struct kdb_zinfo zi;
        struct buf back;
        buf_init(&back, BUF_MAX_DEFAULT);
        if (!rc) rc = kdb_zip_info(b->z.p, b->z.len, to, &zi, err);
        if (!rc) rc = kdb_unzip_blocks(b->z.p, b->z.len, &zi, 0, zi.nblocks, to, &back, err);
        if (!rc && (back.len != rawlen || XXH3_64bits(back.p, back.len) != h))
            rc = err_set(err, -EIO, "'%s': its compressed copy does not decompress to the source's bytes", path);
        buf_release(&back);
        b->p = b->z.p;
        b->len = b->z.len;
    }
    return rc;
}

void tiers_bytes_release(struct tier_bytes *b)
{
    buf_release(&b->z);
    if (b->opened) kdb_file_close(&b->f);
    b->opened = false;
}

static int move_file(struct run *r, const char *path, const struct store_entry *e, void *arg,
                     struct smfs_err *err)
{
    struct dest *d = arg;
    char to[4200];
    size_t fl = strlen(d->from_base);
    snprintf(to, sizeof to, "%s%s", d->to_base, path + fl);
    if (r->o->progress) r->o->progress(r->o->arg, to, r->done, r->total);
    r->done++;
    struct tier_bytes b;
    int rc = tiers_bytes(r, path, to, e, d->zp, &b, err);
    if (!rc && b.as_is) {
        d->m->bytes_out += e->size;
        rc = copy_as_is(r, to, e, d->tier, err);
    } else if (!rc) {
        if (fault_hit("tiers.file")) rc = err_set(err, -EIO, "injected fault at tiers.file");
        if (!rc) rc = store_tx_put_bytes(r->tx, to, b.p, b.len, d->tier, err);
        if (!rc) rc = read_back(r, to, err);
        if (!rc) d->m->bytes_out += b.len;
    }
    tiers_bytes_release(&b);
    return rc;
}

static int carry_out(struct run *r, struct tier_move *m, struct smfs_err *err)
{
    const struct cfg *c = r->cfg;
    char ds[11], from[4096], to[4096];
    k_date_str(m->date, ds);
    if (file_join(from, sizeof from, c->date_tiers[m->from]->segment, ds) < 0)
        return err_set(err, -ENAMETOOLONG, "segment '%s': path too long", c->date_tiers[m->from]->segment);
    int rc = 0;
    if (m->to < (int)c->ndate && tiers_store_index(c, (size_t)m->to) < 0) {
        rc = tiers_s3_carry(r, m, err);
    } else if (m->to < (int)c->ndate) {
        const struct cfg_tier *t = c->date_tiers[m->to];
        if (file_join(to, sizeof to, t->segment, ds) < 0)
            return err_set(err, -ENAMETOOLONG, "segment '%s': path too long", t->segment);
        struct store_entry e;
        /* Import refuses a date in two tiers; should one be there anyway, the copy that
         * moves replaces it rather than leaving kdb+ the date twice. */
        if (store_tx_lookup(r->tx, to, &e, err) == 0) {
            tiers_note(r, "%s: tier %s holds it too; the copy from %s replaces it", ds, t->name, tiers_name(r, m->from));
            rc = store_tx_remove(r->tx, to, err);
        }
        struct store_entry src;
        if (!rc) rc = store_lookup(r->snap, from, &src, err);
        struct dest d = {.from_base = from, .to_base = to, .tier = (unsigned)tiers_store_index(c, (size_t)m->to),
                         .zp = tiers_zip(t), .m = m};
        if (!rc) rc = tiers_walk(r, src.id, from, 2, move_file, &d, err);
    }
    if (!rc) rc = store_tx_remove(r->tx, from, err);
    if (rc) return err_wrap(err, "%s %s → %s", ds, tiers_name(r, m->from), tiers_name(r, m->to));
    return 0;
}

/* The commit's record of what moved: "2024.01.02 fast>slow age", one per move. */
static int describe(const struct tiers_summary *sum, const struct cfg *c, struct buf *b)
{
    int rc = 0;
    size_t shown = 0;
    for (size_t i = 0; i < sum->nmoves && rc == 0; i++) {
        const struct tier_move *m = &sum->moves[i];
        if (m->held) continue;
        if (shown++ == 500) {
            rc = buf_printf(b, "; and %zu more", sum->moved + sum->deleted - 500);
            break;
        }
        char ds[11];
        k_date_str(m->date, ds);
        rc = buf_printf(b, "%s%s %s>%s %s", shown > 1 ? "; " : "", ds, c->date_tiers[m->from]->name,
                        m->to < (int)c->ndate ? c->date_tiers[m->to]->name : "deleted",
                        m->why == TIER_AGE ? "age" : "size");
    }
    return rc;
}

int tiers_migrate(struct store *s, const struct tiers_opts *o, struct tiers_summary *sum,
                  struct smfs_err *err)
{
    memset(sum, 0, sizeof *sum);
    const struct cfg *c = o->cfg;
    struct run r = {.s = s, .o = o, .cfg = c, .sum = sum};
    size_t nlocal = 0;
    for (size_t i = 0; i < c->ndate; i++)
        if (c->date_tiers[i]->segment) nlocal++;
    if (store_ntiers(s) < nlocal)
        return err_set(err, -EINVAL, "store '%s' has %zu tiers but the assembly names %zu local date tiers; "
                       "a tier cannot be added to an existing store", store_home(s), store_ntiers(s), nlocal);
    int rc = 0;
    /* The writer lock first, so the version planned from is the one edited. */
    if (!o->dry_run) rc = store_tx_begin(s, &r.tx, err);
    if (rc) return rc;
    if (!store_current(s)) goto done;   /* an empty store: nothing ages */
    rc = store_snap_get(s, 0, &r.snap, err);
    if (!rc) rc = plan(&r, err);
    /* Object storage is asked before anything moves: what it cannot take now stays. */
    if (!rc) rc = tiers_s3_prepare(&r, err);
    for (size_t i = 0; !rc && i < sum->nmoves; i++) {
        struct tier_move *m = &sum->moves[i];
        if (m->held) {
            sum->held++;
            continue;
        }
        if (m->to < (int)c->ndate) {
            sum->moved++;
            r.total += m->files;
        } else {
            sum->deleted++;
        }
        sum->files += m->files;
        sum->bytes_in += m->bytes;
    }
    if (rc || o->dry_run || sum->moved + sum->deleted == 0) goto done;
    for (size_t i = 0; !rc && i < sum->nmoves; i++)
        if (!sum->moves[i].held) rc = carry_out(&r, &sum->moves[i], err);
    for (size_t i = 0; i < sum->nmoves; i++) sum->bytes_out += sum->moves[i].bytes_out;
    struct buf b;
    buf_init(&b, BUF_MAX_DEFAULT);
    char now[32];
    snprintf(now, sizeof now, "%" PRId64, o->now_ns);
    if (!rc) rc = describe(sum, c, &b) ? err_set(err, -ENOMEM, "out of memory") : 0;
    if (!rc) rc = store_tx_set(r.tx, "kind", "migrate", err);
    if (!rc) rc = store_tx_set(r.tx, "moves", b.len ? (const char *)b.p : "", err);
    if (!rc) rc = store_tx_set(r.tx, "now_ns", now, err);
    buf_release(&b);
    if (r.snap) store_snap_put(r.snap);
    r.snap = NULL;
    if (!rc && fault_hit("tiers.commit")) rc = err_set(err, -EIO, "injected fault at tiers.commit");
    if (!rc) {
        struct store_tx *tx = r.tx;
        r.tx = NULL;
        rc = store_tx_commit(tx, &sum->version, err);
    }
    /* Only a durable commit lets the upload markers go (tiers_s3.c, step 5). */
    tiers_s3_finish(&r, rc == 0);
done:
    tiers_s3_finish(&r, false);
    if (r.snap) store_snap_put(r.snap);
    if (r.tx) store_tx_abort(r.tx);
    return rc;
}

void tiers_summary_free(struct tiers_summary *sum)
{
    free(sum->moves);
    sum->moves = NULL;
    sum->nmoves = 0;
}
