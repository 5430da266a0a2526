/* core/import_tree.c: what import and ingest write into the store tree besides the
 * files they take: par.txt, the tier of each segment, and empty tables. */
#include "import_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"

#include "kdb.h"

int import_par_txt(const struct cfg *c, struct buf *out)
{
    return cfg_store_par_txt(c, out);
}

/* A zero-row column of schema type C. */
static struct k *empty_column(const struct cfg_column *c)
{
    if (c->type == 0 || c->vector) return k_list(0);
    if (c->type == KT_SYM) return k_enum("sym", 0);
    return k_vec(c->type, 0);
}

/* Put FILE (under BASE; "" is BASE itself) into TX. */
static int put(struct store_tx *tx, const char *base, unsigned tier, const char *file,
               const void *p, size_t n, struct smfs_err *err)
{
    char path[1400];
    if (*file) PJOIN(path, base, file);
    return store_tx_put_bytes(tx, *file ? path : base, p, n, tier, err);
}

int import_empty_table(struct store_tx *tx, const char *base, unsigned tier,
                       const struct cfg_table *schema, struct smfs_err *err)
{
    struct buf b, heap;
    buf_init(&b, BUF_MAX_DEFAULT);
    buf_init(&heap, BUF_MAX_DEFAULT);
    int rc = 0;
    if (schema->type == CFG_BASIC) {
        /* One file: the table serialized whole. */
        struct k *names = k_vec(KT_SYM, (int64_t)schema->ncols);
        struct k *cols = k_list((int64_t)schema->ncols);
        struct k *t = NULL;
        if (names && cols) {
            for (size_t i = 0; i < schema->ncols && rc == 0; i++) {
                struct k *x = empty_column(&schema->cols[i]);
                if (x && x->t == KT_ENUM) {   /* a basic table holds plain symbols */
                    k_free(x);
                    x = k_vec(KT_SYM, 0);
                }
                if (!x || k_symv_set(names, (int64_t)i, schema->cols[i].name) < 0) rc = -ENOMEM;
                if (x) k_list_set(cols, (int64_t)i, x);
            }
            t = rc == 0 ? k_table(k_dict(names, cols)) : NULL;
            names = cols = NULL;
        }
        k_free(names);
        k_free(cols);
        if (!t) rc = err_set(err, -ENOMEM, "out of memory writing an empty table '%s'", schema->name);
        if (rc == 0) rc = kdb_encode(t, 0, &b, err);
        if (rc == 0) rc = put(tx, base, tier, "", b.p, b.len, err);
        k_free(t);
        goto out;
    }
    struct k *d = k_vec(KT_SYM, (int64_t)schema->ncols);
    if (!d) rc = err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < schema->ncols; i++)
        if (k_symv_set(d, (int64_t)i, schema->cols[i].name) < 0) rc = err_set(err, -ENOMEM, "out of memory");
    /* Columns first and .d last, as kdb+ writes a table: .d marks it complete. */
    for (size_t i = 0; rc == 0 && i < schema->ncols; i++) {
        const struct cfg_column *c = &schema->cols[i];
        struct k *x = empty_column(c);
        b.len = heap.len = 0;
        if (!x) rc = err_set(err, -ENOMEM, "out of memory");
        else if (x->t == KT_LIST) rc = kdb_encode_nested(x, &b, &heap, err);
        else rc = kdb_encode(x, 0, &b, err);
        k_free(x);
        if (rc == 0) rc = put(tx, base, tier, c->name, b.p, b.len, err);
        if (rc == 0 && heap.len) {
            char hn[300];
            snprintf(hn, sizeof hn, "%s#", c->name);
            rc = put(tx, base, tier, hn, heap.p, heap.len, err);
        }
    }
    b.len = 0;
    if (rc == 0) rc = kdb_encode(d, 0, &b, err);
    if (rc == 0) rc = put(tx, base, tier, ".d", b.p, b.len, err);
    k_free(d);
out:
    buf_release(&b);
    buf_release(&heap);
    if (rc < 0) err_wrap(err, "empty table '%s'", schema->name);
    return rc;
}

/* Unlink the original names under SRC (file or directory) whose store path REL in
 * SNAP names an object on the same inode: the file now lives in the store. With
 * COPIES, originals the store holds a copy of go too (an ingest consumes its staging
 * tree whole; an import from another filesystem keeps its source). */
int import_clean(struct store *s, struct store_snap *snap, const char *src, const char *rel,
                 bool copies, struct smfs_err *err)
{
    struct stat sb;
    if (lstat(src, &sb) < 0) return errno == ENOENT ? 0 : err_sys(err, "stat", src);
    if (S_ISDIR(sb.st_mode)) {
        struct strv names = {0};
        int rc = import_list_dir(src, &names, err);
        for (size_t i = 0; rc == 0 && i < names.n; i++) {
            char s2[4600], r2[1400];
            PJOIN(s2, src, names.v[i]);
            PJOIN(r2, rel, names.v[i]);
            rc = import_clean(s, snap, s2, r2, copies, err);
        }
        strv_free(&names);
        return rc;
    }
    struct store_entry e;
    struct smfs_err ig;
    if (!S_ISREG(sb.st_mode) || store_lookup(snap, rel, &e, &ig) < 0 || e.kind != STORE_FILE) return 0;
    char obj[4200];
    struct stat ob;
    int rc = store_object_path(s, &e, obj, sizeof obj, err);
    if (rc < 0) return rc;
    if (stat(obj, &ob) < 0) return err_sys(err, "stat", obj);
    if (ob.st_dev != sb.st_dev || ob.st_ino != sb.st_ino) {   /* a copy, read back when taken */
        if (copies && unlink(src) < 0) return err_sys(err, "unlink", src);
        return 0;
    }
    /* Read-only before the original name goes: once the store holds the only name no
     * writer -- a symlink tree user, kdb+'s own .Q.en -- may change what a committed
     * version names. (A crash between the two leaves the original name 0444 until the
     * resumed clean unlinks it; a rollback restores the mode the entry recorded.) */
    if (chmod(obj, 0444) < 0) return err_sys(err, "chmod", obj);
    if (unlink(src) < 0) return err_sys(err, "unlink", src);
    if (fault_hit("import.unlink")) return err_set(err, -EIO, "injected fault at import.unlink");
    return 0;
}

/* Remove the directories under DIR (and DIR) left empty; others stay. */
void import_prune(const char *dir)
{
    struct strv names = {0};
    struct smfs_err ig;
    if (import_list_dir(dir, &names, &ig) < 0) {
        strv_free(&names);
        return;
    }
    for (size_t i = 0; i < names.n; i++) {
        char p[4600];
        struct stat sb;
        PJOIN(p, dir, names.v[i]);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) import_prune(p);
    }
    strv_free(&names);
    rmdir(dir);
}

