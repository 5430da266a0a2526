/* fs/vanilla.c: see vanilla.h. The tree is read through the view itself, so the
 * symlink tree and the FUSE mount cannot disagree about what \l sees. */
#include "vanilla.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"

#define TMP_SUFFIX ".tmp$"

struct names {
    char   **v;
    bool    *dir;
    size_t   n;
    bool     oom;
};

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    free(l->dir);
    memset(l, 0, sizeof *l);
}

static bool collect(void *arg, const char *name, const struct view_attr *a, uint64_t next)
{
    (void)next;
    struct names *l = arg;
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (v) l->v = v;
    bool *d = realloc(l->dir, (l->n + 1) * sizeof *d);
    if (d) l->dir = d;
    char *s = strdup(name);
    if (!v || !d || !s) {
        free(s);
        l->oom = true;
        return false;
    }
    l->v[l->n] = s;
    l->dir[l->n++] = S_ISDIR(a->mode);
    return true;
}

static int list(struct view *v, uint64_t ino, struct names *l, struct smfs_err *err)
{
    int rc = view_readdir(v, ino, 0, false, collect, l, err);
    if (!rc && l->oom) rc = err_set(err, -ENOMEM, "out of memory");
    if (rc) names_free(l);
    return rc;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)f;
    return (flag == FTW_DP ? rmdir(p) : unlink(p)) ? -1 : 0;
}

static int rm_rf(const char *path, struct smfs_err *err)
{
    struct stat st;
    if (lstat(path, &st)) return errno == ENOENT ? 0 : err_sys(err, "lstat", path);
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS)) return err_sys(err, "remove", path);
    return 0;
}

/* Write the view's file INO at PATH: a symlink to its object, or (par.txt) a file. */
static int put_file(struct view *v, struct store *s, uint64_t ino, const char *path,
                    struct smfs_err *err)
{
    struct view_file f;
    int rc = view_open(v, ino, &f, err);
    if (rc) return rc;
    char target[PATH_MAX];
    if (f.memory) rc = file_write(path, f.p, f.len, false, err);
    else if (!(rc = store_object_path(s, &f.obj, target, sizeof target, err)) && symlink(target, path))
        rc = err_sys(err, "symlink", path);
    view_close(v, &f);
    return rc;
}

/* Build directory INO of the view at PATH (which must not exist). */
static int build(struct view *v, struct store *s, uint64_t ino, const char *path,
                 struct smfs_err *err)
{
    if (mkdir(path, 0755)) return err_sys(err, "mkdir", path);
    struct names l = {0};
    int rc = list(v, ino, &l, err);
    for (size_t i = 0; !rc && i < l.n; i++) {
        char p[PATH_MAX];
        struct view_attr a;
        if (file_join(p, sizeof p, path, l.v[i])) {
            rc = err_set(err, -ENAMETOOLONG, "path under '%s' too long", path);
            break;
        }
        rc = view_lookup(v, ino, l.v[i], &a, err);
        if (rc) break;
        rc = S_ISDIR(a.mode) ? build(v, s, a.ino, p, err) : put_file(v, s, a.ino, p, err);
        view_forget(v, a.ino, 1);
    }
    names_free(&l);
    return rc;
}

/* Put the root entry NAME (view inode INO) in place under DIR: built beside it under a
 * '$' name that \l ignores, then switched in by one rename (or exchange, for a
 * directory replacing a directory, since rename(2) cannot replace a non-empty one). */
static int place(struct view *v, struct store *s, const char *dir, const char *name,
                 uint64_t ino, bool is_dir, struct smfs_err *err)
{
    char final[PATH_MAX], tmp[PATH_MAX];
    if (file_join(final, sizeof final, dir, name) ||
        snprintf(tmp, sizeof tmp, "%s%s", final, TMP_SUFFIX) >= (int)sizeof tmp)
        return err_set(err, -ENAMETOOLONG, "path of '%s' under '%s' too long", name, dir);
    int rc = rm_rf(tmp, err);
    if (rc) return rc;
    rc = is_dir ? build(v, s, ino, tmp, err) : put_file(v, s, ino, tmp, err);
    if (rc) {
        struct smfs_err ig;
        (void)rm_rf(tmp, &ig);
        return rc;
    }
    struct stat st;
    bool have_dir = lstat(final, &st) == 0 && S_ISDIR(st.st_mode);
    if (have_dir) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_EXCHANGE))
            return err_sys(err, "rename (exchange)", final);
        return rm_rf(tmp, err);   /* now the old one */
    }
    if (rename(tmp, final)) return err_sys(err, "rename", final);
    return 0;
}

static bool listed(const struct names *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], name)) return true;
    return false;
}

int vanilla_check(const char *dir, const struct store *s, struct smfs_err *err)
{
    char rd[PATH_MAX], rh[PATH_MAX];
    struct stat st;
    if (stat(dir, &st)) return err_sys(err, "stat", dir);
    if (!S_ISDIR(st.st_mode)) return err_set(err, -ENOTDIR, "'%s' is not a directory", dir);
    if (!realpath(dir, rd) || !realpath(store_home(s), rh)) return err_sys(err, "realpath", dir);
    size_t hl = strlen(rh);
    if (!strncmp(rd, rh, hl) && (rd[hl] == '\0' || rd[hl] == '/'))
        return err_set(err, -EINVAL, "'%s' is inside the store '%s': give a directory of its own", dir, rh);
    DIR *d = opendir(dir);
    if (!d) return err_sys(err, "opendir", dir);
    bool empty = true, ours = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        empty = false;
        if (view_vdir_version(de->d_name)) ours = true;
    }
    closedir(d);
    if (!empty && !ours)
        return err_set(err, -ENOTEMPTY, "'%s' is not empty and holds no smfs tree (no v<N>$ directory): "
                       "give an empty directory", dir);
    return 0;
}

/* Remove from DIR what the current listing L does not name, except v<N>$ of versions
 * the store still keeps (a kdb+ that loaded them still reads there). */
static int prune(const char *dir, struct store *s, const struct names *l, struct smfs_err *err)
{
    struct store_version *vs = NULL;
    size_t nv = 0;
    int rc = store_versions(s, &vs, &nv, err);
    if (rc) return rc;
    DIR *d = opendir(dir);
    if (!d) {
        store_versions_free(vs, nv);
        return err_sys(err, "opendir", dir);
    }
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || listed(l, n)) continue;
        uint64_t ver = view_vdir_version(n);
        bool kept = false;
        for (size_t i = 0; ver && i < nv; i++) kept |= vs[i].version == ver;
        if (kept) continue;
        char p[PATH_MAX];
        if (file_join(p, sizeof p, dir, n)) continue;
        rc = rm_rf(p, err);
    }
    closedir(d);
    store_versions_free(vs, nv);
    return rc;
}

int vanilla_publish(const char *dir, struct view *v, struct store *s, struct smfs_err *err)
{
    struct names l = {0};
    int rc = list(v, VIEW_ROOT_INO, &l, err);
    if (rc) return err_wrap(err, "symlink tree '%s'", dir);
    /* Order: the new version's segments, then sym and the root tables, then par.txt,
     * so a loader reading the new par.txt finds everything it names. */
    for (int pass = 0; pass < 3 && !rc; pass++) {
        for (size_t i = 0; i < l.n && !rc; i++) {
            const char *n = l.v[i];
            int want = view_vdir_version(n) ? 0 : strcmp(n, "par.txt") ? 1 : 2;
            if (want != pass) continue;
            char p[PATH_MAX];
            struct stat st;
            if (pass == 0 && !file_join(p, sizeof p, dir, n) && lstat(p, &st) == 0)
                continue;   /* a version's tree never changes once written */
            struct view_attr a;
            rc = view_lookup(v, VIEW_ROOT_INO, n, &a, err);
            if (rc) break;
            rc = place(v, s, dir, n, a.ino, l.dir[i], err);
            view_forget(v, a.ino, 1);
        }
    }
    if (!rc) rc = prune(dir, s, &l, err);
    names_free(&l);
    return rc ? err_wrap(err, "symlink tree '%s'", dir) : 0;
}
