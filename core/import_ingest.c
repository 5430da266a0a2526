/* core/import_ingest.c: batch ingest (see import.h). One transaction: new symbols
 * appended to sym, each staging partition's tables put in place of the store's (the
 * partition's other tables kept), new partitions completed with empty tables, then
 * one commit. The staging files are hard-linked in, so until the commit is durable
 * the staging tree is untouched; afterwards its originals are unlinked (unless
 * --keep-staging). A crash before the commit leaves the store at its old version and
 * the staging tree whole: run the ingest again. */
#include "import_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "fileio.h"
#include "kdb.h"
#include "tiers.h"

#define SYM_MAX ((size_t)4 << 30)   /* a sym file larger than this is refused */

struct ingest {
    struct store *s;
    const struct ingest_opts *o;
    struct ingest_summary *sum;
    struct store_tx *tx;
    struct k *store_sym, *stage_sym;
    int64_t *map;                    /* staging index → store index */
    bool identity;                   /* map[i] == i for all i: files need no rewrite */
    struct strv rewritten;           /* staging files the store holds re-mapped copies of */
    /* Files copied rather than linked, by reason (see take_how): the count and the
     * first file, said once per reason at the end. */
    uint64_t copied[3];
    char     copied_first[3][256];
};

#define note(in, ...) import_say((in)->o->diag, (in)->o->arg, __VA_ARGS__)

enum copy_why { COPY_KEPT, COPY_OWNER, COPY_NAMES };

/* How a staging file may enter the store. A hard link shares the inode: the store
 * may hold it only if nothing outside can change its bytes afterwards -- the staging
 * name goes at the commit (not with --keep-staging), the store's owner owns it (so no
 * one else may chmod it writable again), and it has no other name (another HDB's, a
 * backup's). Otherwise the bytes are copied. */
static enum store_take take_how(struct ingest *in, const char *src)
{
    struct stat st;
    int why = -1;
    if (in->o->keep_staging) why = COPY_KEPT;
    else if (stat(src, &st) == 0 && st.st_uid != geteuid()) why = COPY_OWNER;
    else if (stat(src, &st) == 0 && st.st_nlink > 1) why = COPY_NAMES;
    if (why < 0) return STORE_TAKE_LINK;
    if (!in->copied[why]++) snprintf(in->copied_first[why], sizeof in->copied_first[why], "%s", src);
    return STORE_TAKE_COPY;
}

static void say_copies(struct ingest *in)
{
    static const char *const why[] = {"--keep-staging keeps the staging files",
                                      "not owned by the store's owner, who must be able to keep them read-only",
                                      "with another name besides the staging one (it could change them)"};
    for (int i = 0; i < 3; i++)
        if (in->copied[i])
            note(in, "copied %llu file%s (e.g. '%s') instead of linking: %s", (unsigned long long)in->copied[i],
                 in->copied[i] == 1 ? "" : "s", in->copied_first[i], why[i]);
}

/* Every symbolic link in the staging tree must lead inside it: a partition linked in
 * from another HDB would otherwise put that HDB's files under the store. */
static int refuse_outside_links(const char *real, const char *dir, int depth, struct smfs_err *err)
{
    struct strv names = {0};
    int rc = import_list_dir(dir, &names, err);
    size_t rl = strlen(real);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        char p[4600], to[4096];
        struct stat st;
        PJOIN(p, dir, names.v[i]);
        if (lstat(p, &st) < 0) {
            rc = err_sys(err, "stat", p);
            break;
        }
        if (S_ISLNK(st.st_mode)) {
            if (!realpath(p, to))
                rc = err_set(err, -ELOOP, "'%s' is a symbolic link that leads nowhere (%s: a loop, or a missing "
                             "target); nothing was changed", p, strerror(errno));
            else if (strncmp(to, real, rl) || (to[rl] != '/' && to[rl] != '\0'))
                rc = err_set(err, -EXDEV, "'%s' is a symbolic link leading outside the staging directory (to '%s'): "
                             "staging must hold the files themselves; nothing was changed", p, to);
        } else if (S_ISDIR(st.st_mode) && depth < 8) {
            rc = refuse_outside_links(real, p, depth + 1, err);
        }
    }
    strv_free(&names);
    return rc;
}


/* The current sym of the store (an empty list when it has none yet). */
static int load_store_sym(struct ingest *in, struct smfs_err *err)
{
    struct store_entry e;
    int rc = store_tx_lookup(in->tx, "sym", &e, err);
    if (rc == -ENOENT) {
        in->store_sym = k_vec(KT_SYM, 0);
        return in->store_sym ? 0 : err_set(err, -ENOMEM, "out of memory");
    }
    if (rc < 0) return rc;
    char path[4200];
    if ((rc = store_object_path(in->s, &e, path, sizeof path, err)) < 0) return rc;
    uint8_t *p;
    size_t n;
    if ((rc = file_read_all(path, SYM_MAX, &p, &n, err)) < 0) return err_wrap(err, "the store's sym");
    rc = kdb_decode(p, n, "sym", &in->store_sym, err);
    free(p);
    if (rc == 0 && in->store_sym->t != KT_SYM)
        rc = err_set(err, -EIO, "the store's sym is not a symbol list (type %d)", in->store_sym->t);
    return rc < 0 ? err_wrap(err, "the store's sym") : 0;
}

static const struct k *sort_sym;
static int by_name(const void *a, const void *b)
{
    return strcmp(k_symv_at(sort_sym, *(const int64_t *)a), k_symv_at(sort_sym, *(const int64_t *)b));
}

/* Map each staging symbol to its index in the store's sym, appending the new ones in
 * staging order (as .Q.en would have). Puts the new sym when it grew. */
static int map_syms(struct ingest *in, const char *stage_path, struct smfs_err *err)
{
    int rc = kdb_load(stage_path, &in->stage_sym, err);
    if (rc < 0) return rc;
    const struct k *st = in->stage_sym, *ss = in->store_sym;
    if (st->t != KT_SYM) return err_set(err, -EINVAL, "'%s' is not a symbol list", stage_path);
    int64_t ns = ss->n, nt = st->n;
    int64_t *order = malloc((size_t)(ns ? ns : 1) * sizeof *order);
    in->map = malloc((size_t)(nt ? nt : 1) * sizeof *in->map);
    if (!order || !in->map) {
        free(order);
        return err_set(err, -ENOMEM, "out of memory mapping %lld symbols", (long long)nt);
    }
    for (int64_t i = 0; i < ns; i++) order[i] = i;
    sort_sym = ss;   /* single-threaded: one ingest at a time per store */
    qsort(order, (size_t)ns, sizeof *order, by_name);
    struct strv added = {0};
    in->identity = true;
    for (int64_t i = 0; i < nt && rc == 0; i++) {
        const char *name = k_symv_at(st, i);
        int64_t lo = 0, hi = ns, found = -1;
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            int c = strcmp(k_symv_at(ss, order[mid]), name);
            if (c == 0) {
                found = order[mid];
                break;
            }
            if (c < 0) lo = mid + 1;
            else hi = mid;
        }
        if (found < 0) {
            /* A name twice in the staging sym maps to its first new index. */
            for (size_t j = 0; j < added.n && found < 0; j++)
                if (!strcmp(added.v[j], name)) found = ns + (int64_t)j;
            if (found < 0) {
                found = ns + (int64_t)added.n;
                if (strv_add(&added, name) < 0) rc = err_set(err, -ENOMEM, "out of memory");
            }
        }
        in->map[i] = found;
        if (found != i) in->identity = false;
    }
    free(order);
    in->sum->new_symbols = added.n;
    if (rc == 0 && added.n) {
        struct k *nsym = k_vec(KT_SYM, ns + (int64_t)added.n);
        struct buf b;
        buf_init(&b, BUF_MAX_DEFAULT);
        if (!nsym) rc = err_set(err, -ENOMEM, "out of memory");
        for (int64_t i = 0; rc == 0 && i < ns; i++)
            if (k_symv_set(nsym, i, k_symv_at(ss, i)) < 0) rc = err_set(err, -ENOMEM, "out of memory");
        for (size_t j = 0; rc == 0 && j < added.n; j++)
            if (k_symv_set(nsym, ns + (int64_t)j, added.v[j]) < 0) rc = err_set(err, -ENOMEM, "out of memory");
        if (rc == 0) rc = kdb_encode(nsym, 0, &b, err);
        if (rc == 0 && !in->o->dry_run) rc = store_tx_put_bytes(in->tx, "sym", b.p, b.len, 0, err);
        buf_release(&b);
        k_free(nsym);
    }
    strv_free(&added);
    return rc;
}

/* Rewrite the enumeration file SRC against the store's sym and put it at PATH. */
static int put_remapped(struct ingest *in, const char *path, const char *src, unsigned tier,
                        struct smfs_err *err)
{
    struct kdb_file f;
    struct kdb_info info;
    int rc = kdb_file_open(&f, src, err);
    if (rc < 0) return rc;
    rc = kdb_file_info(&f, &info, err);
    bool zipped = f.compressed;
    struct kdb_zparams zp = { 0 };
    if (zipped) {
        zp.alg = f.z.alg;
        zp.level = f.z.level;
        for (zp.block_log2 = 12; zp.block_log2 < 20 && ((uint64_t)1 << zp.block_log2) < f.z.block_size;)
            zp.block_log2++;
    }
    kdb_file_close(&f);
    if (rc < 0) return rc;
    struct k *x = NULL;
    if ((rc = kdb_load(src, &x, err)) < 0) return rc;
    int64_t *v = x->u.v;
    for (int64_t i = 0; i < x->n && rc == 0; i++) {
        if (v[i] < 0 || v[i] >= in->stage_sym->n)
            rc = err_set(err, -EINVAL, "'%s': row %lld refers to symbol %lld, but the staging sym has %lld",
                         src, (long long)i, (long long)v[i], (long long)in->stage_sym->n);
        else
            v[i] = in->map[v[i]];
    }
    /* Re-mapping keeps runs, groups and distinctness, so u#, p# and g# still hold (their
     * index structure is built again over the new values); the order does not, so s#
     * holds only if the new values are still sorted. */
    char why[200] = "";
    if (rc == 0 && x->attr == KA_SORTED)
        for (int64_t i = 1; i < x->n && !why[0]; i++)
            if (v[i] < v[i - 1]) snprintf(why, sizeof why, "the store's sym orders its values differently");
    if (rc == 0 && x->attr > KA_SORTED) (void)kdb_attr_supported(x, why, sizeof why);   /* fills WHY if not */
    if (rc == 0 && x->attr && why[0]) {
        note(in, "warning: %s: its %s# attribute was dropped when re-mapping it to the store's sym: %s", path,
             k_attr_name(x->attr), why);
        x->attr = KA_NONE;
    }
    struct buf raw, out;
    buf_init(&raw, BUF_MAX_DEFAULT);
    buf_init(&out, BUF_MAX_DEFAULT);
    if (rc == 0) rc = kdb_encode(x, 0, &raw, err);
    if (rc == 0 && zipped) rc = kdb_zip(raw.p, raw.len, &zp, &out, err);
    const struct buf *w = zipped ? &out : &raw;
    if (rc == 0) rc = store_tx_put_bytes(in->tx, path, w->p, w->len, tier, err);
    buf_release(&raw);
    buf_release(&out);
    k_free(x);
    if (rc == 0) in->sum->remapped++;
    if (rc == 0 && strv_add(&in->rewritten, src) < 0) rc = err_set(err, -ENOMEM, "out of memory");
    return rc;
}

static bool is_sym_enum(const char *file)
{
    struct kdb_file f;
    struct kdb_info info;
    struct smfs_err ig;
    if (kdb_file_open(&f, file, &ig) < 0) return false;
    bool r = kdb_file_info(&f, &info, &ig) == 0 && (info.fmt == KDB_FMT_ENUM || info.fmt == KDB_FMT_ENUM32);
    kdb_file_close(&f);
    return r;
}

static int put_table(struct ingest *in, const struct scan_table *t, const char *srcdir,
                     const char *base, unsigned tier, struct smfs_err *err)
{
    struct store_entry e;
    struct smfs_err ig;
    if (store_tx_lookup(in->tx, base, &e, &ig) == 0) {
        int rc = store_tx_remove(in->tx, base, err);
        if (rc < 0) return rc;
    }
    for (size_t i = 0; i < t->files.n; i++) {
        char path[1400], src[4600];
        PJOIN(path, base, t->files.v[i]);
        PJOIN(src, srcdir, t->files.v[i]);
        int rc;
        if (!in->identity && is_sym_enum(src)) rc = put_remapped(in, path, src, tier, err);
        else rc = store_tx_put_file(in->tx, path, src, take_how(in, src), in->o->verify, tier, err);
        if (rc < 0) return err_wrap(err, "ingest '%s'", src);
        if (fault_hit("ingest.file")) return err_set(err, -EIO, "injected fault at ingest.file");
        in->sum->files++;
    }
    in->sum->tables++;
    in->sum->bytes += t->bytes;
    return 0;
}

/* The tier (store index and segment) holding partition NAME, or the first. */
static int locate(struct ingest *in, const char *name, unsigned *tier, const char **seg, bool *exists)
{
    const struct cfg *c = in->o->cfg;
    *exists = false;
    *tier = 0;
    *seg = NULL;
    for (size_t i = 0; i < c->ndate; i++) {
        const struct cfg_tier *t = c->date_tiers[i];
        if (!t->segment) continue;
        if (!*seg) *seg = t->segment;
        char path[600];
        struct store_entry e;
        struct smfs_err ig;
        PJOIN(path, t->segment, name);
        if (store_tx_lookup(in->tx, path, &e, &ig) == 0) {
            *exists = true;
            *seg = t->segment;
            *tier = (unsigned)tiers_store_index(c, i);
            return 0;
        }
    }
    return *seg ? 0 : -ENOENT;
}

/* The staging directory REAL (resolved) is a directory apart from the store: not one of
 * the store's directories, not inside one (its objects and packs would be taken in as
 * partitions of themselves), and not above one (its cleaning after the commit would
 * delete the store). */
static int staging_is_apart(struct store *s, const struct cfg *c, const char *real, struct smfs_err *err)
{
    struct stat st;
    if (stat(real, &st) < 0) return err_sys(err, "stat", real);
    if (!S_ISDIR(st.st_mode))
        return err_set(err, -ENOTDIR, "the staging path '%s' is not a directory: ingest takes a directory of "
                       "date partitions and tables", real);
    for (size_t i = 0; i <= c->ndate; i++) {
        const char *dir = i == c->ndate ? store_home(s)
                          : c->date_tiers[i]->segment ? c->date_tiers[i]->store.path : NULL;
        char rd[4096];
        if (!dir || !realpath(dir, rd)) continue;
        if (file_path_within(real, rd) || file_path_within(rd, real))
            return err_set(err, -EINVAL, "the staging directory '%s' %s the store directory '%s': ingest takes a "
                           "separate directory of new partitions; nothing was changed", real,
                           !strcmp(real, rd) ? "is" : file_path_within(real, rd) ? "is inside" : "holds", rd);
    }
    return 0;
}

int ingest_run(struct store *s, const struct ingest_opts *o, struct ingest_summary *sum,
               struct smfs_err *err)
{
    memset(sum, 0, sizeof *sum);
    struct ingest in = { .s = s, .o = o, .sum = sum, .identity = true };
    struct scan sc = { .cfg = o->cfg, .flags = SCAN_INGEST | (o->verify ? SCAN_FULL : 0), .nsrc = 1 };
    const char **segs = NULL;
    int rc;
    char real[4096];
    if (!o->cfg || o->cfg->nerrors) return err_set(err, -EINVAL, "ingest needs a valid assembly");
    /* An import not yet done (or a rollback under way) owns the store: a version
     * committed now would be lost by the rollback, or block it. */
    const char *state = import_state(o->cfg);
    if (!strcmp(state, "running") || !strcmp(state, "rollback"))
        return err_set(err, -EBUSY, "cannot ingest: an import%s of '%s' is unfinished: finish it with smctl import%s",
                       !strcmp(state, "running") ? "" : " rollback", o->cfg->date_tiers[0]->store.path,
                       !strcmp(state, "running") ? "" : " --rollback");
    if (!realpath(o->staging, real)) return err_sys(err, "realpath", o->staging);
    if ((rc = staging_is_apart(s, o->cfg, real, err)) < 0) return rc;
    if (!(sc.src[0].dir = strdup(real))) return err_set(err, -ENOMEM, "out of memory");
    if ((rc = refuse_outside_links(real, real, 0, err)) < 0) goto out;
    rc = scan_run(&sc, err);
    if (rc == -EINVAL) {
        size_t n = scan_report(&sc, o->diag, o->arg);
        rc = err_set(err, -EINVAL, "the staging directory '%s' does not match the assembly '%s' (%zu problem%s): "
                     "nothing was changed", real, o->cfg->file, n, n == 1 ? "" : "s");
        goto out;
    }
    if (rc < 0) goto out;
    if (!sc.nparts && !sc.nroots && !sc.root_files.n) {
        rc = err_set(err, -EINVAL, "the staging directory '%s' holds no date partitions and no tables", real);
        goto out;
    }
    if ((rc = store_tx_begin(s, &in.tx, err)) < 0) goto out;
    if ((rc = load_store_sym(&in, err)) < 0) goto abort;
    if (sc.sym_path && (rc = map_syms(&in, sc.sym_path, err)) < 0) goto abort;
    struct store_entry e;
    struct smfs_err ig;
    if (store_tx_lookup(in.tx, "par.txt", &e, &ig) < 0) {
        struct buf b;
        buf_init(&b, 1 << 20);
        rc = import_par_txt(o->cfg, &b);
        if (rc == 0 && !o->dry_run) rc = store_tx_put_bytes(in.tx, "par.txt", b.p, b.len, 0, err);
        buf_release(&b);
        if (rc < 0) goto abort;
    }

    /* The segment each partition went to: where its staging originals are cleaned. */
    if (!(segs = calloc(sc.nparts + 1, sizeof *segs))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto abort;
    }
    struct import_progress pr = {.phase = "ingest", .parts_total = sc.nparts};
    int64_t t0 = import_now_ns();
    for (size_t i = 0; i < sc.nparts; i++) pr.bytes_total += sc.parts[i].bytes;
    for (size_t i = 0; i < sc.nparts; i++) {
        const struct scan_part *p = &sc.parts[i];
        unsigned tier;
        const char *seg;
        bool exists;
        if (locate(&in, p->name, &tier, &seg, &exists) < 0) {
            rc = err_set(err, -EINVAL, "the assembly has no local date tier to hold partition %s", p->name);
            goto abort;
        }
        char names[512] = "";
        for (size_t j = 0; j < p->ntabs; j++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? "," : "", p->tabs[j].name);
        segs[i] = seg;
        note(&in, "%s partition %s in tier %s: %s", exists ? "replace" : "add", p->name, seg, names);
        if (exists) sum->replaced++;
        else sum->added++;
        if (o->dry_run) continue;
        for (size_t j = 0; rc == 0 && j < p->ntabs; j++) {
            char srcdir[4600], base[600], rel[300];
            PJOIN(rel, p->name, p->tabs[j].name);
            PJOIN(srcdir, real, rel);
            PJOIN(base, seg, rel);
            rc = put_table(&in, &p->tabs[j], srcdir, base, tier, err);
        }
        /* A new partition holds every partitioned table, even with zero rows. */
        for (size_t j = 0; rc == 0 && !exists && j < o->cfg->ntables; j++) {
            const struct cfg_table *t = &o->cfg->tables[j];
            bool have = t->type != CFG_PARTITIONED;
            for (size_t k = 0; !have && k < p->ntabs; k++) have = p->tabs[k].schema == t;
            if (have) continue;
            char base[600], rel[300];
            PJOIN(rel, p->name, t->name);
            PJOIN(base, seg, rel);
            rc = import_empty_table(in.tx, base, tier, t, err);
            sum->filled++;
        }
        if (rc < 0) {
            err_wrap(err, "partition %s", p->name);
            goto abort;
        }
        pr.parts_done++;
        pr.bytes_done += p->bytes;
        pr.current = p->name;
        pr.elapsed_ns = import_now_ns() - t0;
        if (o->progress) o->progress(o->arg, &pr);
        if (fault_hit("ingest.partition")) {
            rc = err_set(err, -EIO, "injected fault at ingest.partition");
            goto abort;
        }
    }
    sum->root_tables = sc.nroots + sc.root_files.n;
    for (size_t i = 0; i < sc.nroots; i++) {
        note(&in, "replace table %s at the root", sc.roots[i].name);
        char srcdir[4600];
        PJOIN(srcdir, real, sc.roots[i].name);
        if (!o->dry_run && (rc = put_table(&in, &sc.roots[i], srcdir, sc.roots[i].name, 0, err)) < 0) goto abort;
    }
    for (size_t i = 0; i < sc.root_files.n; i++) {
        note(&in, "replace table %s at the root", sc.root_files.v[i]);
        char src[4600];
        PJOIN(src, real, sc.root_files.v[i]);
        if (!o->dry_run &&
            (rc = store_tx_put_file(in.tx, sc.root_files.v[i], src, take_how(&in, src), o->verify, 0, err)) < 0)
            goto abort;
    }
    if (sum->new_symbols)
        note(&in, "sym: %llu new symbols appended%s", (unsigned long long)sum->new_symbols,
             in.identity ? "" : "; enumerations re-mapped");
    say_copies(&in);
    if (o->dry_run) {
        store_tx_abort(in.tx);
        goto out;
    }
    char list[256] = "";
    for (size_t i = 0; i < sc.nparts && strlen(list) < 200; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", sc.parts[i].name);
    if ((rc = store_tx_set(in.tx, "kind", "ingest", err)) < 0 ||
        (rc = store_tx_set(in.tx, "ingest.source", real, err)) < 0 ||
        (rc = store_tx_set(in.tx, "ingest.partitions", list, err)) < 0)
        goto abort;
    rc = store_tx_commit(in.tx, &sum->version, err);
    in.tx = NULL;
    if (rc < 0) goto out;
    if (!o->keep_staging) {
        /* Durable now: the staging originals of linked files can go. */
        struct store_snap *snap;
        if ((rc = store_snap_get(s, sum->version, &snap, err)) < 0) goto out;
        for (size_t i = 0; rc == 0 && i < sc.nparts; i++) {
            char src[4600], rel[600];
            PJOIN(src, real, sc.parts[i].name);
            PJOIN(rel, segs[i], sc.parts[i].name);
            rc = import_clean(s, snap, src, rel, true, err);
        }
        for (size_t i = 0; rc == 0 && i < sc.nroots; i++) {
            char src[4600];
            PJOIN(src, real, sc.roots[i].name);
            rc = import_clean(s, snap, src, sc.roots[i].name, true, err);
        }
        for (size_t i = 0; rc == 0 && i < sc.root_files.n; i++) {
            char src[4600];
            PJOIN(src, real, sc.root_files.v[i]);
            rc = import_clean(s, snap, src, sc.root_files.v[i], true, err);
        }
        store_snap_put(snap);
        /* The staging sym was merged into the store's, and the re-mapped files were
         * rewritten into it: the store holds all they said. */
        if (rc == 0 && sc.sym_path && unlink(sc.sym_path) < 0) rc = err_sys(err, "unlink", sc.sym_path);
        for (size_t i = 0; rc == 0 && i < in.rewritten.n; i++)
            if (unlink(in.rewritten.v[i]) < 0 && errno != ENOENT) rc = err_sys(err, "unlink", in.rewritten.v[i]);
        if (rc == 0) import_prune(real);
        if (rc < 0) err_wrap(err, "version %llu is committed, but cleaning the staging directory failed",
                             (unsigned long long)sum->version);
    }
    goto out;
abort:
    if (in.tx) store_tx_abort(in.tx);
out:
    free(segs);
    strv_free(&in.rewritten);
    k_free(in.store_sym);
    k_free(in.stage_sym);
    free(in.map);
    scan_free(&sc);
    return rc;
}
