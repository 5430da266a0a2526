/* core/gen.c: see gen.h. */
#include "gen.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fileio.h"
#include "k_fmt.h"

#define OPEN_NS     (INT64_C(34200) * 1000000000)   /* 09:30 */
#define SESSION_NS  (INT64_C(23400) * 1000000000)   /* 6.5 hours */

/* A fixed universe keeps the domain realistic; its order is also the order in which
 * symbols enter the domain, as .Q.en appends them on first sight. */
static const char *const universe[] = {
    "AAPL", "MSFT", "AMZN", "GOOG", "META", "NVDA", "TSLA", "JPM", "V", "JNJ",
    "WMT", "PG", "XOM", "UNH", "HD", "MA", "BAC", "KO", "PFE", "DIS",
    "CSCO", "INTC", "ORCL", "IBM", "GS", "MS", "C", "T", "VZ", "NKE",
    "VOD.L", "BP.L", "HSBA.L", "SAP.DE", "SIE.DE", "7203.T", "6758.T", "0700.HK", "BHP.AX", "RY.TO",
};
#define NUNIV ((int)(sizeof universe / sizeof universe[0]))

static const char exchanges[] = "NQBZKP";
static const char *const conds[] = { "", "@", "F", "@ T", "O", "I", "@ F I", "Z" };
static const char *const modes[] = { "R", "", "O", "A B", "L" };

/* splitmix64: tiny, fast and the same everywhere. */
struct rng { uint64_t s; };
static uint64_t rnd(struct rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}
static uint64_t rnd_below(struct rng *r, uint64_t n) { return n ? rnd(r) % n : 0; }
static double rnd_unit(struct rng *r) { return (double)(rnd(r) >> 11) / 9007199254740992.0; }

void gen_defaults(struct gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tables = "trade,quote";
    o->seed = 1;
    o->start = k_days_from_ymd(2024, 1, 2);
}

struct col {
    const char *name;
    struct k   *val;
};

static int save(const char *dir, const char *name, const struct k *x, const struct gen_opts *o,
                struct gen_stats *st, struct smfs_err *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return err_set(err, -ENAMETOOLONG, "path '%s/%s' is too long", dir, name);
    const struct kdb_zparams *zp = o->zip.alg ? &o->zip : NULL;
    int rc = kdb_save(path, x, o->enc_flags, zp, false, err);
    if (rc < 0) return rc;
    bool nested = x->t == KT_LIST;
    for (int i = 0; i < (nested ? 2 : 1); i++) {
        char p2[PATH_MAX + 2];
        snprintf(p2, sizeof p2, "%s%s", path, i ? "#" : "");
        struct stat sb;
        if (stat(p2, &sb) == 0) {
            st->files++;
            st->bytes += (uint64_t)sb.st_size;
        }
    }
    return 0;
}

/* Per-symbol state carried across days so prices walk rather than jump. */
struct symstate {
    double price;
    bool   seen;      /* already in the domain */
    int64_t index;    /* its index in the domain */
};

struct dom {
    struct k        *syms;   /* the sym domain so far (grows as .Q.en would) */
    struct symstate  st[NUNIV];
};

static int dom_add(struct dom *d, int u, struct smfs_err *err)
{
    if (d->st[u].seen) return 0;
    int64_t n = d->syms->n;
    char **grown = realloc(d->syms->u.syms, (size_t)(n + 1) * sizeof(char *));
    if (!grown) return err_set(err, -ENOMEM, "out of memory");
    d->syms->u.syms = grown;
    grown[n] = strdup(universe[u]);
    if (!grown[n]) return err_set(err, -ENOMEM, "out of memory");
    d->syms->n = n + 1;
    d->st[u].seen = true;
    d->st[u].index = n;
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;   /* (symbol index in universe, time) pairs */
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* A table of the generated HDB: trade, quote, or a wide one (sym, time, then columns
 * x2.. alternately float and long) for benchmarks that need a shape of many files. */
struct gtable {
    char name[32];
    int  ncols;          /* 0: trade or quote */
};

static int gen_wide(const char *tdir, const struct gtable *t, int32_t date, const int64_t *keys,
                    const struct gen_opts *o, struct rng *r, struct dom *d, struct gen_stats *st,
                    struct smfs_err *err);

/* Table directory TDIR: its NC columns, then .d last (its presence says the table's
 * columns are all there). */
static int save_table(const char *tdir, const char *const *names, struct k *const *cols, int nc,
                      const struct gen_opts *o, struct gen_stats *st, struct smfs_err *err)
{
    int rc = file_mkdirs(tdir, 0755, err);
    for (int c = 0; rc >= 0 && c < nc; c++) rc = save(tdir, names[c], cols[c], o, st, err);
    if (rc < 0) return rc;
    struct k *dcols = k_symv(names, nc);
    if (!dcols) return err_set(err, -ENOMEM, "out of memory");
    rc = save(tdir, ".d", dcols, o, st, err);
    k_free(dcols);
    return rc;
}

/* Write one table of one partition. */
static int gen_table(const char *pdir, const struct gtable *gt, int32_t date, const struct gen_opts *o,
                     struct rng *r, struct dom *d, struct gen_stats *st, struct smfs_err *err)
{
    const char *table = gt->name;
    bool trade = strcmp(table, "trade") == 0;
    int64_t n = o->rows;
    int active = NUNIV < 8 ? NUNIV : 8 + (int)rnd_below(r, (uint64_t)NUNIV - 7);  /* symbols trading today */
    int64_t *keys = malloc((size_t)(n ? n : 1) * 2 * sizeof(int64_t));
    if (!keys) return err_set(err, -ENOMEM, "out of memory for %" PRId64 " rows", n);
    for (int64_t i = 0; i < n; i++) {
        keys[2 * i] = (int64_t)rnd_below(r, (uint64_t)active);
        keys[2 * i + 1] = OPEN_NS + (int64_t)rnd_below(r, (uint64_t)SESSION_NS);
    }
    qsort(keys, (size_t)n, 2 * sizeof(int64_t), cmp_row);
    if (gt->ncols) {
        char tdir[PATH_MAX];
        int wrc;
        if (snprintf(tdir, sizeof tdir, "%s/%s", pdir, table) >= (int)sizeof tdir)
            wrc = err_set(err, -ENAMETOOLONG, "path '%s/%s' is too long", pdir, table);
        else wrc = gen_wide(tdir, gt, date, keys, o, r, d, st, err);
        free(keys);
        return wrc;
    }

    const char *names[8];
    int nc = 0;
    struct k *cols[8] = { 0 };
    int rc = 0;
    struct k *sym = k_enum("sym", n), *time = k_vec(KT_TIMESTAMP, n);
    if (sym) sym->attr = KA_PARTED;   /* rows come grouped by symbol: p#, as .Q.hdpf writes it */
    names[nc] = "sym"; cols[nc++] = sym;
    names[nc] = "time"; cols[nc++] = time;
    struct k *f1 = k_vec(KT_FLOAT, n), *f2 = trade ? NULL : k_vec(KT_FLOAT, n);
    struct k *j1 = k_vec(KT_LONG, n), *j2 = trade ? NULL : k_vec(KT_LONG, n);
    struct k *ex = k_vec(KT_CHAR, n), *str = k_list(n);
    if (trade) {
        names[nc] = "price"; cols[nc++] = f1;
        names[nc] = "size"; cols[nc++] = j1;
    } else {
        names[nc] = "bid"; cols[nc++] = f1;
        names[nc] = "ask"; cols[nc++] = f2;
        names[nc] = "bsize"; cols[nc++] = j1;
        names[nc] = "asize"; cols[nc++] = j2;
    }
    names[nc] = "ex"; cols[nc++] = ex;
    names[nc] = trade ? "cond" : "mode"; cols[nc++] = str;
    for (int c = 0; c < nc; c++)
        if (!cols[c]) {
            rc = err_set(err, -ENOMEM, "out of memory for %" PRId64 " rows", n);
            goto out;
        }
    for (int64_t i = 0; i < n; i++) {
        int u = (int)keys[2 * i];
        if ((rc = dom_add(d, u, err)) < 0) goto out;
        struct symstate *s = &d->st[u];
        if (s->price == 0) s->price = 10 + 490 * rnd_unit(r);
        s->price *= 1 + (rnd_unit(r) - 0.5) * 0.002;
        double px = (double)llround(s->price * 100) / 100;
        ((int64_t *)sym->u.v)[i] = s->index;
        ((int64_t *)time->u.v)[i] = (int64_t)date * K_NS_PER_DAY + keys[2 * i + 1];
        ((int64_t *)j1->u.v)[i] = 100 * (1 + (int64_t)rnd_below(r, 50));
        ((char *)ex->u.v)[i] = exchanges[rnd_below(r, sizeof exchanges - 1)];
        const char *text;
        if (trade) {
            ((double *)f1->u.v)[i] = px;
            text = conds[rnd_below(r, sizeof conds / sizeof conds[0])];
        } else {
            double spread = 0.01 * (double)(1 + rnd_below(r, 5));
            ((double *)f1->u.v)[i] = px;
            ((double *)f2->u.v)[i] = (double)llround((px + spread) * 100) / 100;
            ((int64_t *)j2->u.v)[i] = 100 * (1 + (int64_t)rnd_below(r, 50));
            text = modes[rnd_below(r, sizeof modes / sizeof modes[0])];
        }
        struct k *s_item = k_str(text, strlen(text));
        if (!s_item) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        k_list_set(str, i, s_item);
    }

    char tdir[PATH_MAX];
    if (snprintf(tdir, sizeof tdir, "%s/%s", pdir, table) >= (int)sizeof tdir) {
        rc = err_set(err, -ENAMETOOLONG, "path '%s/%s' is too long", pdir, table);
        goto out;
    }
    rc = save_table(tdir, names, cols, nc, o, st, err);
out:
    for (int c = 0; c < nc; c++) k_free(cols[c]);   /* f2, j2 are NULL for trade */
    free(keys);
    return rc;
}

static int gen_wide(const char *tdir, const struct gtable *t, int32_t date, const int64_t *keys,
                    const struct gen_opts *o, struct rng *r, struct dom *d, struct gen_stats *st,
                    struct smfs_err *err)
{
    int64_t n = o->rows;
    int nc = t->ncols, rc = 0;
    char (*nm)[16] = calloc((size_t)nc, sizeof *nm);
    const char **names = calloc((size_t)nc, sizeof *names);
    struct k **cols = calloc((size_t)nc, sizeof *cols);
    if (!nm || !names || !cols) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (int c = 0; c < nc; c++) {
        if (c == 0) snprintf(nm[c], sizeof nm[c], "sym"), cols[c] = k_enum("sym", n);
        else if (c == 1) snprintf(nm[c], sizeof nm[c], "time"), cols[c] = k_vec(KT_TIMESTAMP, n);
        else snprintf(nm[c], sizeof nm[c], "x%d", c), cols[c] = k_vec(c % 2 ? KT_LONG : KT_FLOAT, n);
        names[c] = nm[c];
        if (!cols[c]) {
            rc = err_set(err, -ENOMEM, "out of memory for %" PRId64 " rows", n);
            goto out;
        }
    }
    cols[0]->attr = KA_PARTED;
    for (int64_t i = 0; i < n; i++) {
        if ((rc = dom_add(d, (int)keys[2 * i], err)) < 0) goto out;
        ((int64_t *)cols[0]->u.v)[i] = d->st[keys[2 * i]].index;
        ((int64_t *)cols[1]->u.v)[i] = (int64_t)date * K_NS_PER_DAY + keys[2 * i + 1];
        for (int c = 2; c < nc; c++) {
            if (c % 2) ((int64_t *)cols[c]->u.v)[i] = (int64_t)rnd_below(r, 1000000);
            else ((double *)cols[c]->u.v)[i] = rnd_unit(r) * 1000;
        }
    }
    rc = save_table(tdir, names, cols, nc, o, st, err);
out:
    for (int c = 0; cols && c < nc; c++) k_free(cols[c]);
    free(cols);
    free(names);
    free(nm);
    return rc;
}

static bool dir_has_partitions(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *e;
    bool found = false;
    int32_t days;
    while (!found && (e = readdir(d))) found = k_parse_date(e->d_name, &days) || strcmp(e->d_name, "sym") == 0;
    closedir(d);
    return found;
}

int gen_hdb(const struct gen_opts *o, struct gen_stats *st, struct smfs_err *err)
{
    memset(st, 0, sizeof *st);
    if (o->days < 1 || o->days > GEN_MAX_DAYS)
        return err_set(err, -EINVAL, "gen-hdb: --days must be 1..%d, got %d", GEN_MAX_DAYS, o->days);
    if (o->rows < 0 || o->rows > GEN_MAX_ROWS)
        return err_set(err, -EINVAL, "gen-hdb: --rows must be 0..%" PRId64 ", got %" PRId64, GEN_MAX_ROWS, o->rows);
    if (o->zip.alg) {
        int rc = kdb_zparams_check(&o->zip, err);
        if (rc < 0) return err_wrap(err, "gen-hdb");
    }
    struct gtable tabs[GEN_MAX_TABLES];
    int nt = 0;
    char list[1024];
    if (snprintf(list, sizeof list, "%s", o->tables ? o->tables : "trade,quote") >= (int)sizeof list)
        return err_set(err, -EINVAL, "gen-hdb: --tables is too long");
    for (char *save_p = NULL, *t = strtok_r(list, ",", &save_p); t; t = strtok_r(NULL, ",", &save_p)) {
        struct gtable g = { .ncols = 0 };
        char *colon = strchr(t, ':');
        if (colon) {
            char *end;
            long nc = strtol(colon + 1, &end, 10);
            *colon = 0;
            if (*end || nc < 2 || nc > GEN_MAX_COLS)
                return err_set(err, -EINVAL, "gen-hdb: table '%s': column count '%s' must be 2..%d", t, colon + 1,
                               GEN_MAX_COLS);
            g.ncols = (int)nc;
        } else if (strcmp(t, "trade") && strcmp(t, "quote")) {
            return err_set(err, -EINVAL, "gen-hdb: unknown table '%s' (known: trade, quote, or NAME:COLUMNS)", t);
        }
        if (!cfg_q_name(t) || strlen(t) >= sizeof g.name)
            return err_set(err, -EINVAL, "gen-hdb: table name '%s' is not a q name of at most %zu characters", t,
                           sizeof g.name - 1);
        snprintf(g.name, sizeof g.name, "%s", t);
        bool dup = false;
        for (int i = 0; i < nt; i++) dup |= strcmp(tabs[i].name, g.name) == 0;
        if (dup) continue;
        if (nt == GEN_MAX_TABLES) return err_set(err, -EINVAL, "gen-hdb: more than %d tables", GEN_MAX_TABLES);
        tabs[nt++] = g;
    }
    if (nt == 0) return err_set(err, -EINVAL, "gen-hdb: --tables names no table");
    int rc = file_mkdirs(o->dir, 0755, err);
    if (rc < 0) return err_wrap(err, "gen-hdb");
    if (dir_has_partitions(o->dir))
        return err_set(err, -EEXIST, "gen-hdb: '%s' already holds an HDB (a sym file or date partitions); choose an empty directory",
                       o->dir);

    struct dom d = { 0 };
    d.syms = k_vec(KT_SYM, 0);
    if (!d.syms) return err_set(err, -ENOMEM, "out of memory");
    struct rng r = { o->seed };
    int32_t date = o->start;
    for (int day = 0; day < o->days; day++) {
        /* weekdays only: 2000.01.01 was a Saturday, so day % 7 == 0 or 1 is a weekend */
        while (((date % 7) + 7) % 7 <= 1) date++;
        int y, m, dd;
        k_ymd_from_days(date, &y, &m, &dd);
        char pdir[PATH_MAX];
        if (snprintf(pdir, sizeof pdir, "%s/%04d.%02d.%02d", o->dir, y, m, dd) >= (int)sizeof pdir) {
            rc = err_set(err, -ENAMETOOLONG, "path under '%s' is too long", o->dir);
            goto out;
        }
        for (int t = 0; t < nt; t++)
            if ((rc = gen_table(pdir, &tabs[t], date, o, &r, &d, st, err)) < 0) goto out;
        st->partitions++;
        date++;
        if (o->progress) o->progress(o->arg, st->partitions, o->days, st->bytes);
    }
    st->tables = nt;
    st->symbols = d.syms->n;
    /* The domain last, as after .Q.en: it holds every symbol the columns index. The
     * domain file is never compressed (kdb+ appends to it in place). */
    char sp[PATH_MAX];
    snprintf(sp, sizeof sp, "%s/sym", o->dir);
    rc = kdb_save(sp, d.syms, o->enc_flags, NULL, false, err);
    if (rc == 0) {
        struct stat sb;
        if (stat(sp, &sb) == 0) {
            st->files++;
            st->bytes += (uint64_t)sb.st_size;
        }
    }
out:
    k_free(d.syms);
    return rc;
}
