/* core/import.c: initial import (see import.h), its journal, resume and rollback.
 *
 * How a file moves. Each source file is hard-linked into the store as an object
 * (store_tx_put_file, STORE_TAKE_LINK) and its original name is unlinked only after
 * the commit that names the object is durable, and only if the name still points at
 * that same inode. So at every instant each file has its original name, or a
 * committed version names its object, or both: a SIGKILL anywhere loses nothing, and
 * a source on another filesystem (the link fails with EXDEV, the store copies) is
 * never unlinked at all.
 *
 * The journal, <home>/import.journal, written durably before the first link and
 * rewritten (atomically, by rename) at each change of state:
 *   smfs-import 1
 *   state running|done|rollback|restored
 *   verify 1, fill 0, batch 64, home-created 0
 *   src <tier> <dir>                       one per source directory, tier 0 first
 *   created <dir>                          a tier directory the import made
 *   dir <src> <mode> <sec> <nsec> <rel>    every source directory as it was
 *   fill <store path>                      an empty table --fill-missing added
 * Which partitions are done is not journaled: the store's current version says it,
 * and it is the only record that cannot disagree with the store after a crash.
 * Rollback walks that version and links each object back to its original name;
 * "restored" marks that every file is back, so the store can be deleted. */
#include "import_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "fileio.h"
#include "k_fmt.h"

#define JOURNAL_MAGIC "smfs-import 1"

struct jdir {
    unsigned        src;
    mode_t          mode;
    struct timespec mtime;
    char           *rel;
};

struct imp {
    const struct import_opts *o;
    const struct cfg *cfg;
    char         home[4096];
    char         journal[4200];
    struct store_tier tiers[STORE_TIERS_MAX];
    size_t       ntiers;
    /* journal */
    char         state[16];
    bool         verify, fill, home_created;
    unsigned     batch;
    char        *src[STORE_TIERS_MAX];   /* by store tier; NULL: nothing to import there */
    struct strv  created, fills;
    struct jdir *dirs;
    size_t       ndirs, capdirs;
    /* run */
    struct store *s;
    struct store_opts sopts;
    struct import_summary *sum;
    struct import_progress pr;
    int64_t      t0;
    struct s3_import *s3;              /* partitions the object tier already holds */
};

#define say(im, ...) import_say((im)->o->diag, (im)->o->arg, __VA_ARGS__)

static void progress(struct imp *im, const char *phase, const char *current)
{
    im->pr.phase = phase;
    im->pr.current = current;
    im->pr.elapsed_ns = import_now_ns() - im->t0;
    if (im->o->progress) im->o->progress(im->o->arg, &im->pr);
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* ---- the journal ---- */

static int jdir_add(struct imp *im, unsigned src, const char *rel, const struct stat *sb)
{
    if (im->ndirs == im->capdirs) {
        size_t cap = im->capdirs ? im->capdirs * 2 : 256;
        struct jdir *n = realloc(im->dirs, cap * sizeof *n);
        if (!n) return -ENOMEM;
        im->dirs = n;
        im->capdirs = cap;
    }
    struct jdir *d = &im->dirs[im->ndirs];
    d->src = src;
    d->mode = sb->st_mode & 07777;
    d->mtime = sb->st_mtim;
    if (!(d->rel = strdup(rel))) return -ENOMEM;
    im->ndirs++;
    return 0;
}

static int journal_write(struct imp *im, const char *state, struct smfs_err *err)
{
    snprintf(im->state, sizeof im->state, "%s", state);
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    int rc = buf_printf(&b, "%s\nstate %s\nverify %d\nfill %d\nbatch %u\nhome-created %d\n",
                        JOURNAL_MAGIC, state, im->verify, im->fill, im->batch, im->home_created);
    for (size_t i = 0; rc == 0 && i < im->ntiers; i++)
        if (im->src[i]) rc = buf_printf(&b, "src %zu %s\n", i, im->src[i]);
    for (size_t i = 0; rc == 0 && i < im->created.n; i++)
        rc = buf_printf(&b, "created %s\n", im->created.v[i]);
    for (size_t i = 0; rc == 0 && i < im->ndirs; i++) {
        const struct jdir *d = &im->dirs[i];
        rc = buf_printf(&b, "dir %u %o %lld %ld %s\n", d->src, (unsigned)d->mode,
                        (long long)d->mtime.tv_sec, d->mtime.tv_nsec, d->rel);
    }
    for (size_t i = 0; rc == 0 && i < im->fills.n; i++) rc = buf_printf(&b, "fill %s\n", im->fills.v[i]);
    if (rc < 0) {
        buf_release(&b);
        return err_set(err, rc, "out of memory writing the import journal");
    }
    /* Durable before anything it describes happens: a crash must find the journal
     * of every link it could have made. */
    rc = file_write(im->journal, b.p, b.len, !im->o->no_sync, err);
    buf_release(&b);
    return rc;
}

static int journal_read(struct imp *im, struct smfs_err *err)
{
    uint8_t *text;
    size_t len;
    int rc = file_read_all(im->journal, (size_t)1 << 30, &text, &len, err);
    if (rc < 0) return rc;
    char *p = (char *)text, *end = p + len;
    int lineno = 0;
    rc = 0;
    while (p < end && rc == 0) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            rc = err_set(err, -EIO, "import journal '%s': line %d is cut short", im->journal, lineno + 1);
            break;
        }
        *nl = 0;
        lineno++;
        char *line = p;
        p = nl + 1;
        unsigned a;
        unsigned mode;
        long long sec;
        long nsec;
        int n = 0, v;
        if (lineno == 1) {
            if (strcmp(line, JOURNAL_MAGIC))
                rc = err_set(err, -EIO, "import journal '%s' is not an smfs import journal (first line '%.40s')",
                             im->journal, line);
        } else if (sscanf(line, "state %15s", im->state) == 1) {
        } else if (sscanf(line, "verify %d", &v) == 1) {
            im->verify = v;
        } else if (sscanf(line, "fill %d%n", &v, &n) == 1 && line[n] == 0) {
            im->fill = v;
        } else if (sscanf(line, "batch %u", &im->batch) == 1) {
        } else if (sscanf(line, "home-created %d", &v) == 1) {
            im->home_created = v;
        } else if (sscanf(line, "src %u %n", &a, &n) == 1 && n && a < STORE_TIERS_MAX) {
            free(im->src[a]);
            if (!(im->src[a] = strdup(line + n))) rc = -ENOMEM;
        } else if (!strncmp(line, "created ", 8)) {
            if (strv_add(&im->created, line + 8) < 0) rc = -ENOMEM;
        } else if (!strncmp(line, "fill ", 5)) {
            if (strv_add(&im->fills, line + 5) < 0) rc = -ENOMEM;
        } else if (sscanf(line, "dir %u %o %lld %ld %n", &a, &mode, &sec, &nsec, &n) == 4 && n) {
            struct stat sb = { .st_mode = mode, .st_mtim = { .tv_sec = sec, .tv_nsec = nsec } };
            if (jdir_add(im, a, line + n, &sb) < 0) rc = -ENOMEM;
        } else {
            rc = err_set(err, -EIO, "import journal '%s': line %d not understood: '%.60s'", im->journal,
                         lineno, line);
        }
    }
    if (rc == -ENOMEM) err_set(err, rc, "out of memory reading the import journal");
    if (rc == 0 && (!im->state[0] || !im->src[0]))
        rc = err_set(err, -EIO, "import journal '%s' has no state or no source", im->journal);
    free(text);
    return rc;
}

/* ---- set-up ---- */

/* Store tier i is the i-th local date tier of the assembly (tiers_store_index). */
static size_t store_tiers(const struct cfg *c, struct store_tier *tiers)
{
    size_t n = 0;
    for (size_t i = 0; i < c->ndate && n < STORE_TIERS_MAX; i++) {
        const struct cfg_tier *t = c->date_tiers[i];
        if (!t->segment) continue;
        snprintf(tiers[n].name, sizeof tiers[n].name, "%s", t->name);
        snprintf(tiers[n].path, sizeof tiers[n].path, "%s", t->store.path);
        n++;
    }
    return n;
}

int import_refuse_hdb(const char *dir, struct smfs_err *err)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_sys(err, "opendir", dir);
    char found[256] = "";
    size_t nfound = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        char path[4600], dotd[4700];
        struct stat sb;
        int32_t day;
        if (nm[0] == '.' || scan_store_name(nm)) continue;
        PJOIN(path, dir, nm);
        if (stat(path, &sb) < 0) continue;
        PJOIN(dotd, path, ".d");
        bool kdb = (!strcmp(nm, "sym") && S_ISREG(sb.st_mode)) || !strcmp(nm, "par.txt") ||
                   (S_ISDIR(sb.st_mode) && (k_parse_date(nm, &day) || access(dotd, F_OK) == 0));
        if (!kdb) continue;
        if (nfound++ < 3) {
            size_t l = strlen(found);
            snprintf(found + l, sizeof found - l, "%s%.64s", l ? ", " : "", nm);
        }
    }
    closedir(d);
    if (!nfound) return 0;
    return err_set(err, -EEXIST, "'%s' holds a kdb+ database (%s%s) but no smfs store: import it first with "
                   "'smctl import' (or set initialImport: true in the assembly); smfs will not create a store "
                   "inside a live HDB", dir, found, nfound > 3 ? ", …" : "");
}

int import_store_open(const struct cfg *c, bool create, struct store **out,
                      struct store_recovery *rep, struct smfs_err *err)
{
    struct store_tier tiers[STORE_TIERS_MAX];
    size_t n = c && !c->nerrors ? store_tiers(c, tiers) : 0;
    if (!n) return err_set(err, -EINVAL, "the assembly has no local date tier to hold a store");
    if (!store_exists(tiers[0].path)) {
        if (!create)
            return err_set(err, -ENOENT, "no store at '%s' (the first date tier's store): import a "
                           "database with smctl import, or start smfs, first", tiers[0].path);
        int rc = import_refuse_hdb(tiers[0].path, err);
        if (rc == 0) rc = store_create(tiers[0].path, tiers, n, err);
        if (rc < 0) return rc;
    }
    return store_open(tiers[0].path, NULL, out, rep, err);
}

static int imp_init(struct imp *im, const struct import_opts *o, struct import_summary *sum,
                    struct smfs_err *err)
{
    memset(im, 0, sizeof *im);
    im->o = o;
    im->cfg = o->cfg;
    im->sum = sum;
    im->t0 = import_now_ns();
    memset(sum, 0, sizeof *sum);
    const struct cfg *c = o->cfg;
    if (!c || c->nerrors || !c->ndate)
        return err_set(err, -EINVAL, "import needs a valid assembly with a date tier");
    im->ntiers = store_tiers(c, im->tiers);
    if (!im->ntiers) return err_set(err, -EINVAL, "the assembly has no local date tier to import into");
    snprintf(im->home, sizeof im->home, "%s", im->tiers[0].path);
    snprintf(im->journal, sizeof im->journal, "%s/%s", im->home, IMPORT_JOURNAL);
    im->verify = o->verify;
    im->fill = o->fill_missing;
    im->batch = o->batch ? o->batch : IMPORT_BATCH;
    im->sopts.no_sync = o->no_sync;
    return 0;
}

static void imp_free(struct imp *im)
{
    if (im->s) store_close(im->s);
    for (size_t i = 0; i < STORE_TIERS_MAX; i++) free(im->src[i]);
    strv_free(&im->created);
    strv_free(&im->fills);
    for (size_t i = 0; i < im->ndirs; i++) free(im->dirs[i].rel);
    free(im->dirs);
}

/* Sources of a fresh import: the first tier's HDB (given, or its store directory) and
 * any date partitions already sitting in the other tiers' store directories. */
static int pick_sources(struct imp *im, struct smfs_err *err)
{
    const char *first = im->o->source ? im->o->source : im->home;
    char real[4096];
    if (!realpath(first, real)) {
        if (errno == ENOENT)
            return err_set(err, -ENOENT, "no kdb+ database found at '%s': the directory does not exist "
                           "(put the HDB under the HDB mount's baseURI in data/, or name it with --source)", first);
        return err_sys(err, "realpath", first);
    }
    if (!(im->src[0] = strdup(real))) return -ENOMEM;
    for (size_t i = 1; i < im->ntiers; i++)
        if (exists(im->tiers[i].path) && !(im->src[i] = strdup(im->tiers[i].path))) return -ENOMEM;
    return 0;
}

static int fill_scan_sources(struct imp *im, struct scan *sc)
{
    /* One scan source per store tier, so a partition's source index is its tier. */
    sc->nsrc = im->ntiers;
    for (size_t i = 0; i < im->ntiers; i++) {
        struct scan_src *s = &sc->src[i];
        s->tier = (unsigned)i;
        s->seg = im->tiers[i].name;
        if (!im->src[i]) continue;
        if (!(s->dir = strdup(im->src[i]))) return -ENOMEM;
        char p[4200];
        bool store = store_exists(s->dir);
        PJOIN(p, s->dir, IMPORT_JOURNAL);
        s->store_dir = store || exists(p);
        struct stat a, b;
        if (stat(s->dir, &a) == 0) s->dev = a.st_dev;
        /* The tier directory may not exist yet: compare with its nearest parent. */
        char t[4096];
        snprintf(t, sizeof t, "%s", im->tiers[i].path);
        while (stat(t, &b) < 0 && strrchr(t, '/') && strrchr(t, '/') != t) *strrchr(t, '/') = 0;
        s->copy = stat(t, &b) == 0 && b.st_dev != s->dev;
        if (s->copy) im->sum->copied = true;
    }
    return 0;
}

/* ---- moving files ---- */

/* Take TABLE's files from SRCDIR into the store at BASE. */
static int take_table(struct imp *im, struct store_tx *tx, const struct scan_table *t,
                      const char *srcdir, const char *base, unsigned tier, struct smfs_err *err)
{
    if (t->fill) {
        im->sum->filled++;
        return import_empty_table(tx, base, tier, t->schema, err);
    }
    for (size_t i = 0; i < t->files.n; i++) {
        char path[1400], src[4600];
        PJOIN(path, base, t->files.v[i]);
        PJOIN(src, srcdir, t->files.v[i]);
        int rc = store_tx_put_file(tx, path, src, STORE_TAKE_LINK, im->verify, tier, err);
        if (rc < 0) return rc;
        if (fault_hit("import.file")) return err_set(err, -EIO, "injected fault at import.file");
        im->sum->files++;
    }
    im->sum->tables++;
    im->pr.bytes_done += t->bytes;
    return 0;
}

/* The root of the store tree (par.txt, sym, root tables) goes with the first batch, so
 * that every version is loadable. */
static int take_root(struct imp *im, struct store_tx *tx, const struct scan *sc, struct smfs_err *err)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = import_par_txt(im->cfg, &b);
    if (rc < 0) rc = err_set(err, rc, "out of memory");
    if (rc == 0) rc = store_tx_put_bytes(tx, "par.txt", b.p, b.len, 0, err);
    buf_release(&b);
    if (rc == 0 && sc->sym_path) {
        rc = store_tx_put_file(tx, "sym", sc->sym_path, STORE_TAKE_LINK, im->verify, 0, err);
        im->sum->files++;
    }
    for (size_t i = 0; rc == 0 && i < sc->root_files.n; i++) {
        char src[4600];
        PJOIN(src, im->src[0], sc->root_files.v[i]);
        rc = store_tx_put_file(tx, sc->root_files.v[i], src, STORE_TAKE_LINK, im->verify, 0, err);
        im->sum->files++;
    }
    for (size_t i = 0; rc == 0 && i < sc->nroots; i++) {
        char src[4600];
        PJOIN(src, im->src[0], sc->roots[i].name);
        rc = take_table(im, tx, &sc->roots[i], src, sc->roots[i].name, 0, err);
    }
    /* With the root: a resumed import finds them named once the first batch is in. */
    if (rc == 0) rc = s3_import_take(im->s3, tx, err);
    return rc;
}

static int clean_root(struct imp *im, struct store_snap *snap, const struct scan *sc,
                      struct smfs_err *err)
{
    char src[4600];
    snprintf(src, sizeof src, "%s/sym", im->src[0]);
    int rc = import_clean(im->s, snap, src, "sym", false, err);
    for (size_t i = 0; rc == 0 && i < sc->cfg->ntables; i++) {
        const struct cfg_table *t = &sc->cfg->tables[i];
        if (t->type == CFG_PARTITIONED) continue;
        PJOIN(src, im->src[0], t->name);
        rc = import_clean(im->s, snap, src, t->name, false, err);
    }
    return rc;
}

static int clean_part(struct imp *im, struct store_snap *snap, const struct scan_part *p,
                      struct smfs_err *err)
{
    char src[4600], rel[600];
    PJOIN(src, im->src[p->src], p->name);
    PJOIN(rel, im->tiers[p->src].name, p->name);
    return import_clean(im->s, snap, src, rel, false, err);
}

/* ---- rollback ---- */

static const struct jdir *jdir_find(const struct imp *im, unsigned src, const char *rel)
{
    for (size_t i = 0; i < im->ndirs; i++)
        if (im->dirs[i].src == src && !strcmp(im->dirs[i].rel, rel)) return &im->dirs[i];
    return NULL;
}

/* Make the parents of REL under source SRC, with their journaled modes. */
static int make_parents(const struct imp *im, unsigned src, const char *rel, struct smfs_err *err)
{
    char sub[1400];
    for (const char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
        snprintf(sub, sizeof sub, "%.*s", (int)(s - rel), rel);
        char path[4600];
        PJOIN(path, im->src[src], sub);
        const struct jdir *d = jdir_find(im, src, sub);
        if (mkdir(path, d ? d->mode : 0755) < 0 && errno != EEXIST) return err_sys(err, "mkdir", path);
        if (d) chmod(path, d->mode);   /* mkdir applies the umask */
    }
    return 0;
}

/* Where store path REL came from: (source index, path relative to it). */
static bool origin(const struct imp *im, const char *rel, unsigned *src, const char **sub)
{
    for (size_t i = 0; i < im->ntiers; i++) {
        size_t l = strlen(im->tiers[i].name);
        if (!strncmp(rel, im->tiers[i].name, l) && rel[l] == '/') {
            *src = (unsigned)i;
            *sub = rel + l + 1;
            return im->src[i] != NULL;
        }
    }
    *src = 0;
    *sub = rel;
    return true;
}

static int restore_dir(struct imp *im, uint64_t tid, const char *rel, struct smfs_err *err)
{
    struct store_entry ents[64];
    uint64_t start = 0;
    size_t n;
    do {
        int rc = store_dir_read(im->s, tid, start, ents, 64, &n, err);
        if (rc < 0) return rc;
        start += n;
        for (size_t i = 0; i < n; i++) {
            const struct store_entry *e = &ents[i];
            char path[1400];
            if (snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", e->name) >= (int)sizeof path)
                return err_set(err, -ENAMETOOLONG, "rollback: path '%s/%s' is too long", rel, e->name);
            if (e->kind == STORE_DIR) {
                if (strv_has(&im->fills, path)) continue;
                rc = restore_dir(im, e->id, path, err);
                if (rc < 0) return rc;
                continue;
            }
            unsigned src;
            const char *sub;
            if (!*rel && !strcmp(e->name, "par.txt")) continue;   /* generated, never a source */
            if (!origin(im, path, &src, &sub)) continue;
            char dst[4600], obj[4200];
            PJOIN(dst, im->src[src], sub);
            if (exists(dst)) continue;   /* never unlinked, or already back */
            if ((rc = make_parents(im, src, sub, err)) < 0) return rc;
            if ((rc = store_object_path(im->s, e, obj, sizeof obj, err)) < 0) return rc;
            if (link(obj, dst) < 0) return err_sys(err, "link", dst);
            /* The mode it had when taken (cleaning made the object 0444). */
            if (e->mode && chmod(dst, e->mode) < 0) return err_sys(err, "chmod", dst);
            if (fault_hit("import.restore")) return err_set(err, -EIO, "injected fault at import.restore");
            im->pr.bytes_done += e->size;
        }
    } while (n == 64);
    return 0;
}

static int remove_store(struct imp *im, struct smfs_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < im->ntiers; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/objects", im->tiers[i].path);
        rc = file_remove_tree(p, err);
    }
    const char *files[] = { "packs", "STORE", "lock" };
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        char p[4200];
        PJOIN(p, im->home, files[i]);
        rc = i == 0 ? file_remove_tree(p, err) : (unlink(p) < 0 && errno != ENOENT ? err_sys(err, "unlink", p) : 0);
    }
    for (size_t i = 0; rc == 0 && i < im->created.n; i++)
        if (strcmp(im->created.v[i], im->home)) rmdir(im->created.v[i]);
    return rc;
}

static void restore_times(const struct imp *im)
{
    /* Modes, then times last: each link and mkdir above touched a directory's mtime. */
    for (size_t i = im->ndirs; i-- > 0;) {
        const struct jdir *d = &im->dirs[i];
        if (!im->src[d->src]) continue;
        char p[4600];
        PJOIN(p, im->src[d->src], d->rel);
        chmod(p, d->mode);
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, d->mtime };
        utimensat(AT_FDCWD, p, ts, 0);
    }
}

static int sync_sources(const struct imp *im, struct smfs_err *err)
{
    if (im->o->no_sync) return 0;
    for (size_t i = 0; i < im->ntiers; i++) {
        if (!im->src[i]) continue;
        int fd = open(im->src[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return err_sys(err, "open", im->src[i]);
        int rc = syncfs(fd) < 0 ? err_sys(err, "syncfs", im->src[i]) : 0;
        close(fd);
        if (rc < 0) return rc;
    }
    return 0;
}

/* With the journal read: put every file back, then delete the store. Each step can be
 * repeated after a crash: links skip names that exist, removal skips what is gone. */
/* Whether the rollback may start: the store opens (no daemon holds it) and its current
 * version is the import's own last commit. Changes nothing on disk. */
static int rollback_check(struct imp *im, struct smfs_err *err)
{
    int rc;
    if (!im->s && store_exists(im->home)) {
        struct store_recovery rep;
        rc = store_open(im->home, &im->sopts, &im->s, &rep, err);
        if (rc < 0) return err_wrap(err, "cannot roll back the import");
    }
    if (!im->s || !store_current(im->s)) return 0;
    struct store_version *v;
    size_t n;
    if ((rc = store_versions(im->s, &v, &n, err)) < 0) return rc;
    const struct store_version *cur = &v[n - 1];
    bool imp = cur->nkv && !strcmp(cur->key[0], "kind") && !strcmp(cur->val[0], "import");
    uint64_t ver = cur->version;
    char kind[64];
    snprintf(kind, sizeof kind, "%s", cur->nkv ? cur->val[0] : "none");
    store_versions_free(v, n);
    if (!imp)
        return err_set(err, -EBUSY, "cannot roll back the import: version %llu (%s) was committed "
                       "after it and would be lost", (unsigned long long)ver, kind);
    return 0;
}

/* A journal saying "rollback" whose rollback cannot start: earlier smfs versions wrote
 * that state before checking, so a refused rollback left it behind (and smfs refusing
 * to start). A rollback that really started had passed the check, and nothing can
 * commit while the journal says "rollback" (ingest refuses), so a failing check means
 * nothing was restored. Verified before the journal goes back to "done", whatever the
 * reasoning: a store missing an object keeps the journal as it is. */
static int rollback_unstick(struct imp *im, struct smfs_err *err)
{
    char why[ERR_MSG_MAX];
    snprintf(why, sizeof why, "%s", err->msg);
    struct store_verify_report vr = {0};
    struct smfs_err ve = {0};
    if (!im->s || store_verify(im->s, NULL, NULL, &vr, &ve) < 0 || vr.problems)
        return err_set(err, -EBUSY, "%s; the journal still says a rollback was started, and the store does not "
                       "verify (smctl store verify): restore from a copy", why);
    int rc = journal_write(im, "done", err);
    if (rc < 0) return rc;
    return err_set(err, -EBUSY, "%s; an earlier refused rollback had left the journal saying 'rollback' "
                   "(nothing was restored: the store verifies): it says 'done' again and smfs serves the store",
                   why);
}

static int do_rollback(struct imp *im, struct smfs_err *err)
{
    int rc = 0;
    if (strcmp(im->state, "restored")) {
        /* Every check before the first durable step: a refused rollback changes
         * nothing on disk (the journal keeps its state, the store stays servable). */
        if ((rc = rollback_check(im, err)) < 0) {
            if (rc == -EBUSY && !strcmp(im->state, "rollback") && im->s) return rollback_unstick(im, err);
            return rc;
        }
        if (strcmp(im->state, "rollback") && (rc = journal_write(im, "rollback", err)) < 0) return rc;
        if (im->s && store_current(im->s)) {
            struct store_snap *snap;
            if ((rc = store_snap_get(im->s, 0, &snap, err)) < 0) return rc;
            progress(im, "rollback", "");
            rc = restore_dir(im, store_snap_root(snap), "", err);
            store_snap_put(snap);
            if (rc < 0) return err_wrap(err, "rollback");
        }
        /* Every original name is back before the store, which holds the only other
         * name of the unlinked files, is deleted. */
        if ((rc = sync_sources(im, err)) < 0) return rc;
        if ((rc = journal_write(im, "restored", err)) < 0) return rc;
    }
    if (im->s) {
        store_close(im->s);
        im->s = NULL;
    }
    if ((rc = remove_store(im, err)) < 0) return err_wrap(err, "rollback: removing the store");
    restore_times(im);
    if (unlink(im->journal) < 0 && errno != ENOENT) return err_sys(err, "unlink", im->journal);
    if (im->home_created) rmdir(im->home);
    restore_times(im);   /* removing the journal touched the home directory again */
    return 0;
}

int import_rollback(const struct import_opts *o, struct import_summary *sum, struct smfs_err *err)
{
    struct imp im;
    int rc = imp_init(&im, o, sum, err);
    if (rc == 0 && !exists(im.journal))
        rc = err_set(err, -ENOENT, "nothing to roll back: no import journal at '%s'", im.journal);
    if (rc == 0) rc = journal_read(&im, err);
    if (rc == 0) rc = do_rollback(&im, err);
    if (rc == 0) {
        say(&im, "rolled back: the original database is back in '%s' and the store is removed", im.src[0]);
        sum->elapsed_ns = import_now_ns() - im.t0;
    }
    imp_free(&im);
    return rc;
}

const char *import_state(const struct cfg *c)
{
    if (!c || !c->ndate || !c->date_tiers[0]->store.path) return "none";
    char p[4200];
    PJOIN(p, c->date_tiers[0]->store.path, IMPORT_JOURNAL);
    FILE *f = fopen(p, "re");
    if (!f) return "none";
    char line[128], state[32] = "";
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "state %31s", state) == 1) break;
    fclose(f);
    if (!strcmp(state, "running")) return "running";
    if (!strcmp(state, "done")) return "done";
    return state[0] ? "rollback" : "none";
}

/* ---- import ---- */

static int record_dirs(struct imp *im, const struct scan *sc, struct smfs_err *err)
{
    struct stat sb;
    for (size_t i = 0; i < im->ntiers; i++)
        if (im->src[i] && stat(im->src[i], &sb) == 0 && jdir_add(im, (unsigned)i, ".", &sb) < 0)
            return err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < sc->nparts; i++) {
        const struct scan_part *p = &sc->parts[i];
        char path[4600], rel[600];
        PJOIN(path, im->src[p->src], p->name);
        if (stat(path, &sb) < 0) return err_sys(err, "stat", path);
        if (jdir_add(im, p->src, p->name, &sb) < 0) return err_set(err, -ENOMEM, "out of memory");
        for (size_t j = 0; j < p->ntabs; j++) {
            PJOIN(rel, p->name, p->tabs[j].name);
            if (p->tabs[j].fill) {
                char sp[700];
                PJOIN(sp, im->tiers[p->src].name, rel);
                if (strv_add(&im->fills, sp) < 0) return err_set(err, -ENOMEM, "out of memory");
                continue;
            }
            PJOIN(path, im->src[p->src], rel);
            if (stat(path, &sb) < 0) return err_sys(err, "stat", path);
            if (jdir_add(im, p->src, rel, &sb) < 0) return err_set(err, -ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < sc->nroots; i++) {
        char path[4600];
        PJOIN(path, im->src[0], sc->roots[i].name);
        if (stat(path, &sb) < 0) return err_sys(err, "stat", path);
        if (jdir_add(im, 0, sc->roots[i].name, &sb) < 0) return err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static void plan(struct imp *im, const struct scan *sc, size_t todo)
{
    say(im, "import into store '%s'", im->home);
    for (size_t i = 0; i < im->ntiers; i++) {
        size_t n = 0;
        uint64_t bytes = 0;
        const char *lo = NULL, *hi = NULL;
        for (size_t j = 0; j < sc->nparts; j++)
            if (sc->parts[j].src == i && !sc->parts[j].done) {
                n++;
                bytes += sc->parts[j].bytes;
                if (!lo) lo = sc->parts[j].name;
                hi = sc->parts[j].name;
            }
        if (im->src[i])
            say(im, "  tier %s: %zu partitions%s%s%s%s, %.1f MB from '%s'%s", im->tiers[i].name, n,
                n ? " " : "", n ? lo : "", n ? ".." : "", n ? hi : "", (double)bytes / 1e6, im->src[i],
                sc->src[i].copy ? " (another filesystem: copied, the original is kept)" : " (moved in place)");
    }
    s3_import_describe(im->s3, im->o->diag, im->o->arg);
    size_t fills = 0;
    for (size_t j = 0; j < sc->nparts; j++)
        for (size_t k = 0; k < sc->parts[j].ntabs; k++) fills += sc->parts[j].tabs[k].fill;
    say(im, "  root: %s%zu splayed and %zu basic tables", sc->sym_path ? "sym, " : "", sc->nroots,
        sc->root_files.n);
    say(im, "  %zu partitions in %zu commits of up to %u, %llu files, %.1f MB%s", todo,
        todo ? (todo + im->batch - 1) / im->batch : 1, im->batch, (unsigned long long)sc->files,
        (double)sc->bytes / 1e6, im->verify ? ", checksummed" : ", not read (--no-verify)");
    if (fills) say(im, "  %zu empty tables will be written where partitions lack them (--fill-missing)", fills);
}

static int run_batches(struct imp *im, struct scan *sc, struct smfs_err *err)
{
    size_t todo = 0;
    for (size_t i = 0; i < sc->nparts; i++) todo += !sc->parts[i].done;
    size_t nb = todo ? (todo + im->batch - 1) / im->batch : (store_current(im->s) ? 0 : 1);
    size_t next = 0;
    im->pr.parts_total = todo;
    im->pr.bytes_total = sc->bytes;
    for (size_t b = 0; b < nb; b++) {
        struct store_tx *tx;
        int rc = store_tx_begin(im->s, &tx, err);
        if (rc < 0) return rc;
        bool root = store_current(im->s) == 0;
        if (root) rc = take_root(im, tx, sc, err);
        size_t first = next, taken = 0;
        while (rc == 0 && next < sc->nparts && taken < im->batch) {
            struct scan_part *p = &sc->parts[next++];
            if (p->done) continue;
            char srcdir[4600], base[600];
            for (size_t j = 0; rc == 0 && j < p->ntabs; j++) {
                snprintf(srcdir, sizeof srcdir, "%s/%s/%s", im->src[p->src], p->name, p->tabs[j].name);
                snprintf(base, sizeof base, "%s/%s/%s", im->tiers[p->src].name, p->name, p->tabs[j].name);
                rc = take_table(im, tx, &p->tabs[j], srcdir, base, p->src, err);
            }
            if (rc < 0) err_wrap(err, "partition %s", p->name);
            taken++;
            im->pr.parts_done++;
            progress(im, "import", p->name);
        }
        char val[64];
        snprintf(val, sizeof val, "%zu/%zu", b + 1, nb);
        if (rc == 0) rc = store_tx_set(tx, "kind", "import", err);
        if (rc == 0) rc = store_tx_set(tx, "import.batch", val, err);
        if (rc < 0) {
            store_tx_abort(tx);
            return rc;
        }
        uint64_t v;
        if ((rc = store_tx_commit(tx, &v, err)) < 0) return rc;
        im->sum->versions++;
        if (fault_hit("import.committed")) return err_set(err, -EIO, "injected fault at import.committed");
        /* The originals go only now that a durable version names their objects. */
        struct store_snap *snap;
        if ((rc = store_snap_get(im->s, 0, &snap, err)) < 0) return rc;
        if (root) rc = clean_root(im, snap, sc, err);
        for (size_t i = first; rc == 0 && i < next; i++)
            if (!sc->parts[i].done) rc = clean_part(im, snap, &sc->parts[i], err);
        store_snap_put(snap);
        if (rc < 0) return rc;
    }
    return 0;
}

static int finish(struct imp *im, struct scan *sc, struct smfs_err *err)
{
    /* Partitions committed before a crash: their originals may still be linked. */
    struct store_snap *snap;
    int rc = store_snap_get(im->s, 0, &snap, err);
    if (rc < 0) return rc;
    rc = clean_root(im, snap, sc, err);
    for (size_t i = 0; rc == 0 && i < sc->nparts; i++)
        if (sc->parts[i].done) rc = clean_part(im, snap, &sc->parts[i], err);
    store_snap_put(snap);
    if (rc < 0) return rc;
    progress(im, "clean", "");
    for (size_t i = 0; i < sc->nparts; i++) {
        char p[4600];
        PJOIN(p, im->src[sc->parts[i].src], sc->parts[i].name);
        import_prune(p);
    }
    for (size_t i = 0; i < sc->cfg->ntables; i++) {
        char p[4600];
        if (sc->cfg->tables[i].type == CFG_PARTITIONED) continue;
        PJOIN(p, im->src[0], sc->cfg->tables[i].name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) import_prune(p);
    }
    if ((rc = sync_sources(im, err)) < 0) return rc;
    if (fault_hit("import.pruned")) return err_set(err, -EIO, "injected fault at import.pruned");
    return journal_write(im, "done", err);
}

int import_run(const struct import_opts *o, struct import_summary *sum, struct smfs_err *err)
{
    struct imp im;
    struct scan sc = {0};
    int rc = imp_init(&im, o, sum, err);
    if (rc < 0) goto out;
    bool resume = exists(im.journal);
    if (resume) {
        if ((rc = journal_read(&im, err)) < 0) goto out;
        if (!strcmp(im.state, "done")) {
            say(&im, "already imported: '%s' is a store (import journal says done); use ingest to add partitions",
                im.home);
            goto out;
        }
        if (strcmp(im.state, "running")) {
            rc = err_set(err, -EBUSY, "an import rollback of '%s' was interrupted: finish it with "
                         "smctl import --rollback", im.home);
            goto out;
        }
        sum->resumed = true;
        if (o->source && strcmp(o->source, im.src[0]))
            say(&im, "resuming the interrupted import from '%s' (its journal's source; --source ignored)",
                im.src[0]);
        else
            say(&im, "resuming the interrupted import from '%s'", im.src[0]);
    } else {
        if ((rc = pick_sources(&im, err)) < 0) goto out;
    }

    bool have_store = store_exists(im.home);
    if (have_store && !o->dry_run) {
        struct store_recovery rep;
        if ((rc = store_open(im.home, &im.sopts, &im.s, &rep, err)) < 0) goto out;
        if (rep.note[0]) say(&im, "store '%s': %s", im.home, rep.note);
        if (!resume && store_current(im.s)) {
            rc = err_set(err, -EEXIST, "store '%s' already holds version %llu and no import is in progress: "
                         "a database is imported once (add partitions with smctl ingest)", im.home,
                         (unsigned long long)store_current(im.s));
            goto out;
        }
    }

    /* Validate everything before anything moves. */
    sc.cfg = im.cfg;
    sc.flags = (im.fill ? SCAN_FILL : 0) | (im.verify ? SCAN_FULL : 0);
    if (fill_scan_sources(&im, &sc) < 0) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    struct store_snap *done = NULL;
    if (im.s && store_current(im.s) && (rc = store_snap_get(im.s, 0, &done, err)) < 0) goto out;
    sc.done_in = done;
    progress(&im, "validate", "");
    rc = scan_run(&sc, err);
    if (done) store_snap_put(done);
    sc.done_in = NULL;
    /* The object tier's partitions, checked with the rest (a resumed import named them
     * in its first commit). */
    if ((rc == 0 || rc == -EINVAL) && !(im.s && store_current(im.s))) {
        int r2 = s3_import_scan(&sc, o->s3, o->diag, o->arg, &im.s3, err);
        if (r2 < 0) rc = r2;
        else if (sc.ndiags) rc = -EINVAL;
    }
    if (rc == -EINVAL) {
        size_t n = scan_report(&sc, o->diag, o->arg);
        rc = err_set(err, -EINVAL, "the database at '%s' does not match the assembly '%s' (%zu problem%s): "
                     "nothing was changed", im.src[0], im.cfg->file, n, n == 1 ? "" : "s");
        goto out;
    }
    if (rc < 0) goto out;
    size_t todo = 0;
    for (size_t i = 0; i < sc.nparts; i++) todo += !sc.parts[i].done;
    plan(&im, &sc, todo);
    if (o->dry_run) goto out;

    if (!resume) {
        if (!exists(im.home)) {
            if ((rc = file_mkdirs(im.home, 0755, err)) < 0) goto out;
            im.home_created = true;
        }
        for (size_t i = 1; i < im.ntiers; i++)
            if (!exists(im.tiers[i].path) && strv_add(&im.created, im.tiers[i].path) < 0) {
                rc = err_set(err, -ENOMEM, "out of memory");
                goto out;
            }
        if ((rc = record_dirs(&im, &sc, err)) < 0) goto out;
        if ((rc = journal_write(&im, "running", err)) < 0) goto out;
        if (fault_hit("import.journal")) {
            rc = err_set(err, -EIO, "injected fault at import.journal");
            goto fail;
        }
    }
    if (!im.s) {
        /* A crash between the journal and store_create leaves no STORE: make it now. */
        if (!have_store && (rc = store_create(im.home, im.tiers, im.ntiers, err)) < 0) goto fail;
        struct store_recovery rep;
        if ((rc = store_open(im.home, &im.sopts, &im.s, &rep, err)) < 0) goto fail;
    }
    if ((rc = run_batches(&im, &sc, err)) < 0) goto fail;
    if ((rc = finish(&im, &sc, err)) < 0) goto fail;
    if (!o->no_vacuum && im.sum->versions > 1) {
        /* One version per batch was progress, not history. */
        struct store_vacuum_opts vo = { .keep = 1 };
        struct store_vacuum_report vr;
        struct smfs_err verr;
        /* The import stands either way: a failed vacuum only leaves versions behind. */
        if (store_vacuum(im.s, &vo, &vr, &verr) < 0)
            say(&im, "warning: vacuum after the import failed (%s): run smctl store vacuum", verr.msg);
    }
    sum->version = store_current(im.s);
    for (size_t i = 0; i < sc.nparts; i++) sum->partitions += !sc.parts[i].done;
    sum->bytes = sc.bytes;
    sum->s3_partitions = s3_import_parts(im.s3);
    goto out;
fail:
    {
        struct smfs_err rb;
        err_wrap(err, "import failed");
        im.pr.bytes_done = 0;
        int r2 = do_rollback(&im, &rb);
        size_t l = strlen(err->msg);
        if (r2 == 0)
            snprintf(err->msg + l, sizeof err->msg - l, "; the original database was put back");
        else
            snprintf(err->msg + l, sizeof err->msg - l, "; putting it back failed too (%s): run smctl import --rollback",
                     rb.msg);
    }
out:
    sum->elapsed_ns = import_now_ns() - im.t0;
    scan_free(&sc);
    s3_import_free(im.s3);
    imp_free(&im);
    return rc;
}
