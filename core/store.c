/* core/store.c: creating, opening and reading a store; versions and snapshots.
 *
 * Layout of the home directory (the other tiers' directories hold only objects/):
 *   STORE               "smfs-store 1", then "tier NAME<TAB>PATH" per tier (tier 0: ".")
 *   lock                flock'd by the one process that has the store open; holds its pid
 *   packs/pNNNNNNNN.pack the index log (store_pack.c)
 *   objects/xx/<16 hex> the objects of this tier, xx = low byte of the id (256 fan-out
 *                       directories made at create time, so a commit never mkdirs)
 * STORE is written last by store_create, so a directory without it is not a store. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack */
#include <xxhash.h>

/* ---- versions ---- */

struct ver *vers_find_locked(struct store *s, uint64_t version)
{
    size_t lo = 0, hi = s->nvers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->vers[mid].version == version) return &s->vers[mid];
        if (s->vers[mid].version < version) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

int vers_reserve_locked(struct store *s)
{
    if (s->nvers < s->capvers) return 0;
    size_t cap = s->capvers ? s->capvers * 2 : 64;
    struct ver *n = realloc(s->vers, cap * sizeof *n);
    if (!n) return -ENOMEM;
    s->vers = n;
    s->capvers = cap;
    return 0;
}

int vers_insert_locked(struct store *s, const struct ver *v)
{
    if (vers_reserve_locked(s) < 0) return -ENOMEM;
    vers_insert_reserved_locked(s, v);
    return 0;
}

void vers_insert_reserved_locked(struct store *s, const struct ver *v)
{
    size_t i = s->nvers;
    while (i > 0 && s->vers[i - 1].version > v->version) i--;
    memmove(&s->vers[i + 1], &s->vers[i], (s->nvers - i) * sizeof *s->vers);
    s->vers[i] = *v;
    atomic_init(&s->vers[i].pins, 0);
    s->nvers++;
}

void vers_remove_locked(struct store *s, uint64_t version)
{
    struct ver *v = vers_find_locked(s, version);
    if (!v) return;
    size_t i = (size_t)(v - s->vers);
    memmove(&s->vers[i], &s->vers[i + 1], (s->nvers - i - 1) * sizeof *s->vers);
    s->nvers--;
}

int obj_hash(int from, int to, uint8_t *buf, const char *what, const char *dst, uint64_t *size,
             uint64_t *sum, struct smfs_err *err)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    *size = 0;
    for (;;) {
        ssize_t r = read(from, buf, OBJ_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return err_sys(err, "read", what);
        if (r == 0) break;
        XXH3_64bits_update(&st, buf, (size_t)r);
        for (ssize_t done = 0; to >= 0 && done < r;) {
            ssize_t w = write(to, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                /* The write failed where the bytes were going: name that file (a full
                 * store disk is the store's problem, not the source's). */
                int rc = err_sys(err, "write", dst ? dst : what);
                return dst ? err_wrap(err, "copying '%s'", what) : rc;
            }
            done += w;
        }
        *size += (uint64_t)r;
    }
    *sum = XXH3_64bits_digest(&st);
    return 0;
}

/* ---- paths ---- */

int object_rel(uint64_t oid, char *buf, size_t len)
{
    return snprintf(buf, len, "%02x/%016llx", (unsigned)(oid & 0xff), (unsigned long long)oid);
}

int store_path_split(const char *path, const char **comp, size_t *clen, size_t *n,
                     struct smfs_err *err)
{
    *n = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (!store_name_ok(p, l))
            return err_set(err, -EINVAL, "path '%s': bad component '%.*s' (empty, '.', '..' or longer than %d bytes)",
                           path, (int)(l > 64 ? 64 : l), p, STORE_NAME_MAX);
        if (*n == STORE_DEPTH_MAX)
            return err_set(err, -EINVAL, "path '%s' is deeper than %d components", path, STORE_DEPTH_MAX);
        comp[*n] = p;
        clen[(*n)++] = l;
        p += l;
    }
    return 0;
}

/* ---- create ---- */

bool store_exists(const char *home)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/STORE", home);
    struct stat st;
    return lstat(p, &st) == 0;
}

static int write_store_file(const char *home, const struct store_tier *t, size_t n,
                            struct smfs_err *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/STORE", home);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return err_sys(err, "open_memstream", NULL);
    fprintf(f, "smfs-store 1\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "tier %s\t%s\n", t[i].name, i == 0 ? "." : t[i].path);
    fclose(f);
    int rc = file_write(path, text, len, true, err);
    free(text);
    return rc;
}

static int make_objects(const char *dir, struct smfs_err *err)
{
    char p[PATH_MAX];
    for (unsigned i = 0; i < 256; i++) {
        if (snprintf(p, sizeof p, "%s/objects/%02x", dir, i) >= (int)sizeof p)
            return err_set(err, -ENAMETOOLONG, "tier directory '%s' is too long a path", dir);
        int rc = file_mkdirs(p, STORE_DIR_MODE, err);
        if (rc < 0) return rc;
    }
    /* The fan-out directories' names durable before STORE names this tier: a tier
     * whose objects/xx directories vanished in a power loss (a secondary tier on
     * another filesystem is synced by nothing else) would make the first commit
     * there fail with ENOENT, or worse, an object's link land nowhere after syncfs.
     * The tier's own directory entry for objects/ is made durable by the same call
     * on its parent, below. */
    snprintf(p, sizeof p, "%s/objects", dir);
    int rc = file_sync_dir(p, err);
    if (rc == 0) rc = file_sync_dir(dir, err);
    return rc;
}

int store_create(const char *home, const struct store_tier *tiers, size_t ntiers,
                 struct smfs_err *err)
{
    if (ntiers == 0 || ntiers > STORE_TIERS_MAX)
        return err_set(err, -EINVAL, "a store has 1 to %d tiers, not %zu", STORE_TIERS_MAX, ntiers);
    if (strlen(home) >= PATH_MAX - 64)
        return err_set(err, -ENAMETOOLONG, "store path '%.64s…' is too long", home);
    for (size_t i = 0; i < ntiers; i++) {
        const char *nm = tiers[i].name;
        if (!*nm || strpbrk(nm, " \t\n/"))
            return err_set(err, -EINVAL, "tier %zu: name '%s' must be non-empty, without blanks or '/'", i, nm);
        for (size_t j = 0; j < i; j++)
            if (strcmp(tiers[j].name, nm) == 0)
                return err_set(err, -EINVAL, "tier name '%s' is given twice", nm);
        if (i > 0 && tiers[i].path[0] != '/')
            return err_set(err, -EINVAL, "tier '%s': path '%s' must be absolute", nm, tiers[i].path);
        if (i > 0 && strchr(tiers[i].path, '\n'))
            return err_set(err, -EINVAL, "tier '%s': path has a newline", nm);
    }
    int rc = file_mkdirs(home, STORE_DIR_MODE, err);
    if (rc < 0) return rc;
    char p[PATH_MAX];
    if (store_exists(home))
        return err_set(err, -EEXIST, "'%s' is already a store", home);
    snprintf(p, sizeof p, "%s/packs", home);
    if ((rc = file_mkdirs(p, STORE_DIR_MODE, err)) < 0) return rc;
    for (size_t i = 0; i < ntiers; i++)
        if ((rc = make_objects(i == 0 ? home : tiers[i].path, err)) < 0) return rc;
    /* The first pack, empty. A leftover from an earlier create that died before
     * STORE was written is replaced. */
    snprintf(p, sizeof p, "%s/packs/p00000001.pack", home);
    unlink(p);
    struct store tmp = { .no_sync = false, .pack_max = STORE_PACK_MAX };
    pthread_rwlock_init(&tmp.idx, NULL);
    snprintf(p, sizeof p, "%s/packs", home);
    tmp.packs_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tmp.packs_fd < 0) return err_sys(err, "open", p);
    rc = pack_create(&tmp, 1, err);
    pack_close_all(&tmp);
    close(tmp.packs_fd);
    pthread_rwlock_destroy(&tmp.idx);
    if (rc < 0) return rc;
    /* STORE last, durably (file_write syncs the file and the directory): until it
     * exists nothing treats HOME as a store. */
    return write_store_file(home, tiers, ntiers, err);
}

/* ---- open ---- */

static int read_store_file(struct store *s, const struct store_opts *o, struct smfs_err *err)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/STORE", s->home);
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = file_read_all(p, 1 << 20, &text, &len, err);
    if (rc == -ENOENT)
        return err_set(err, -ENOENT, "'%s' is not a store (no STORE file); create one with import or store_create",
                       s->home);
    if (rc < 0) return rc;
    char *t = (char *)text, *save = NULL;
    char *nul = realloc(t, len + 1);
    if (!nul) {
        free(t);
        return err_set(err, -ENOMEM, "out of memory reading '%s'", p);
    }
    t = nul;
    t[len] = '\0';
    int lineno = 0;
    rc = 0;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "smfs-store 1") != 0) {
                rc = err_set(err, -EIO, "%s:1: expected 'smfs-store 1', found '%.40s'", p, line);
                break;
            }
            continue;
        }
        char *tab = strchr(line, '\t');
        if (strncmp(line, "tier ", 5) != 0 || !tab || s->ntiers == STORE_TIERS_MAX) {
            rc = err_set(err, -EIO, "%s:%d: expected 'tier NAME<TAB>PATH' (at most %d), found '%.40s'",
                         p, lineno, STORE_TIERS_MAX, line);
            break;
        }
        *tab = '\0';
        struct store_tier *tr = &s->tiers[s->ntiers++];
        snprintf(tr->name, sizeof tr->name, "%s", line + 5);
        snprintf(tr->path, sizeof tr->path, "%s", s->ntiers == 1 ? s->home : tab + 1);
        for (size_t i = 0; o && i < o->ntier_override; i++)
            if (strcmp(o->tier_override[i].name, tr->name) == 0 && s->ntiers > 1)
                snprintf(tr->path, sizeof tr->path, "%s", o->tier_override[i].path);
    }
    if (rc == 0 && s->ntiers == 0)
        rc = err_set(err, -EIO, "%s: names no tiers", p);
    free(t);
    return rc;
}

static int take_lock(struct store *s, struct smfs_err *err)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/lock", s->home);
    s->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (s->lock_fd < 0) return err_sys(err, "open", p);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) return err_sys(err, "flock", p);
        char pid[32] = "";
        ssize_t r = pread(s->lock_fd, pid, sizeof pid - 1, 0);
        if (r > 0) pid[r] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return err_set(err, -EBUSY, "store '%s' is in use by process %s (an smfs daemon or another "
                       "smctl); stop it, or ask the daemon with 'smctl status'", s->home,
                       *pid ? pid : "(unknown)");
    }
    return store_lock_pid(s, err);
}

int store_lock_pid(struct store *s, struct smfs_err *err)
{
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(s->lock_fd, 0) < 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
        return err_sys(err, "write", "lock");
    return 0;
}

int store_open(const char *home, const struct store_opts *o, struct store **out,
               struct store_recovery *rep, struct smfs_err *err)
{
    *out = NULL;
    if (rep) memset(rep, 0, sizeof *rep);
    struct store *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, -ENOMEM, "out of memory opening store '%s'", home);
    s->home_fd = s->lock_fd = s->packs_fd = -1;
    for (size_t i = 0; i < STORE_TIERS_MAX; i++) s->obj_fd[i] = -1;
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->why_mu, NULL);
    pthread_rwlock_init(&s->idx, NULL);
    s->no_sync = o && o->no_sync;
    s->pack_max = o && o->pack_max ? o->pack_max : STORE_PACK_MAX;
    int rc;
    if (snprintf(s->home, sizeof s->home, "%s", home) >= (int)sizeof s->home - 64) {
        rc = err_set(err, -ENAMETOOLONG, "store path '%.64s…' is too long", home);
        goto fail;
    }
    s->home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->home_fd < 0) {
        rc = err_sys(err, "open", home);
        goto fail;
    }
    if ((rc = read_store_file(s, o, err)) < 0) goto fail;
    if ((rc = take_lock(s, err)) < 0) goto fail;
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/packs", home);
    s->packs_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->packs_fd < 0) {
        rc = err_sys(err, "open", p);
        goto fail;
    }
    for (size_t i = 0; i < s->ntiers; i++) {
        snprintf(p, sizeof p, "%s/objects", s->tiers[i].path);
        s->obj_fd[i] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->obj_fd[i] < 0) {
            rc = err_sys(err, "open", p);
            err_wrap(err, "tier '%s'", s->tiers[i].name);
            goto fail;
        }
    }
    if ((rc = pack_open_all(s, rep, err)) < 0) {
        err_wrap(err, "store '%s'", home);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    store_close(s);
    return rc;
}

void store_close(struct store *s)
{
    if (!s) return;
    pack_close_all(s);
    u64map_release(&s->tids);
    free(s->vers);
    for (size_t i = 0; i < STORE_TIERS_MAX; i++)
        if (s->obj_fd[i] >= 0) close(s->obj_fd[i]);
    if (s->packs_fd >= 0) close(s->packs_fd);
    if (s->lock_fd >= 0) close(s->lock_fd);   /* releases the flock */
    if (s->home_fd >= 0) close(s->home_fd);
    pthread_rwlock_destroy(&s->idx);
    pthread_mutex_destroy(&s->wlock);
    pthread_mutex_destroy(&s->why_mu);
    free(s);
}

uint64_t store_current(struct store *s) { return atomic_load(&s->current); }
const char *store_home(const struct store *s) { return s->home; }
size_t store_ntiers(const struct store *s) { return s->ntiers; }

const struct store_tier *store_tier(const struct store *s, size_t i)
{
    return i < s->ntiers ? &s->tiers[i] : NULL;
}

int store_versions(struct store *s, struct store_version **out, size_t *n, struct smfs_err *err)
{
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&s->idx);
    int rc = 0;
    struct store_version *v = calloc(s->nvers ? s->nvers : 1, sizeof *v);
    if (!v) {
        rc = err_set(err, -ENOMEM, "out of memory listing versions");
        goto out;
    }
    for (size_t i = 0; i < s->nvers; i++) {
        const struct ver *src = &s->vers[i];
        struct store_version *d = &v[i];
        d->version = src->version;
        d->parent = src->parent;
        d->root = src->root;
        d->time_ns = src->time_ns;
        d->pins = atomic_load(&src->pins);
        uint8_t type;
        uint64_t id;
        const uint8_t *p;
        uint32_t len;
        rc = pack_record(s, src->loc, &type, &id, &p, &len, err);
        if (rc < 0) break;
        uint32_t nkv = le32(p + 48);
        size_t off = 56;
        for (uint32_t k = 0; k < nkv && k < STORE_KV_MAX; k++) {
            if (off + 8 > len) break;
            uint16_t kl = (uint16_t)(p[off] | p[off + 1] << 8);
            uint32_t vl = le32(p + off + 4);
            if (off + 8 + kl + (uint64_t)vl > len) break;
            d->key[k] = strndup((const char *)p + off + 8, kl);
            d->val[k] = strndup((const char *)p + off + 8 + kl, vl);
            if (!d->key[k] || !d->val[k]) {
                free(d->key[k]);
                free(d->val[k]);
                rc = err_set(err, -ENOMEM, "out of memory listing versions");
                break;
            }
            d->nkv++;
            off += 8 + kl + vl;
        }
        *n = i + 1;
        if (rc < 0) break;
    }
out:
    pthread_rwlock_unlock(&s->idx);
    if (rc < 0) {
        store_versions_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}

void store_versions_free(struct store_version *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < v[i].nkv; k++) {
            free(v[i].key[k]);
            free(v[i].val[k]);
        }
    free(v);
}

/* ---- snapshots and reading ---- */

struct store_snap {
    struct store *s;
    uint64_t      version, root;
};

int store_snap_get(struct store *s, uint64_t version, struct store_snap **out,
                   struct smfs_err *err)
{
    *out = NULL;
    struct store_snap *snap = malloc(sizeof *snap);
    if (!snap) return err_set(err, -ENOMEM, "out of memory pinning a version");
    pthread_rwlock_rdlock(&s->idx);
    if (version == 0) version = atomic_load(&s->current);
    struct ver *v = version ? vers_find_locked(s, version) : NULL;
    if (v) {
        /* Under the read lock: vacuum decides what to drop under the write lock, so it
         * sees this pin or the version is already gone. */
        atomic_fetch_add(&v->pins, 1);
        snap->root = v->root;
    }
    pthread_rwlock_unlock(&s->idx);
    if (!v) {
        free(snap);
        if (version == 0) return err_set(err, -ENOENT, "store '%s' has no version yet", s->home);
        return err_set(err, -ENOENT, "version %llu is not in store '%s' (never committed, or vacuumed)",
                       (unsigned long long)version, s->home);
    }
    snap->s = s;
    snap->version = version;
    *out = snap;
    return 0;
}

void store_snap_put(struct store_snap *snap)
{
    if (!snap) return;
    struct store *s = snap->s;
    pthread_rwlock_rdlock(&s->idx);
    struct ver *v = vers_find_locked(s, snap->version);
    if (v) atomic_fetch_sub(&v->pins, 1);
    pthread_rwlock_unlock(&s->idx);
    free(snap);
}

uint64_t store_snap_version(const struct store_snap *snap) { return snap->version; }
uint64_t store_snap_root(const struct store_snap *snap) { return snap->root; }

static void root_entry(struct store *s, uint64_t root, struct store_entry *e)
{
    memset(e, 0, sizeof *e);
    e->kind = STORE_DIR;
    e->id = root;
    struct tree_view t;
    struct smfs_err ignore;
    if (tree_get_locked(s, root, &t, &ignore) == 0) {
        e->size = t.total;
        e->mtime_ns = t.mtime_ns;
    }
}

int store_lookup(struct store_snap *snap, const char *path, struct store_entry *out,
                 struct smfs_err *err)
{
    const char *comp[STORE_DEPTH_MAX];
    size_t clen[STORE_DEPTH_MAX], n;
    int rc = store_path_split(path, comp, clen, &n, err);
    if (rc < 0) return rc;
    struct store *s = snap->s;
    pthread_rwlock_rdlock(&s->idx);
    root_entry(s, snap->root, out);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (out->kind != STORE_DIR) {
            rc = err_set(err, -ENOTDIR, "'%.*s' in '%s' is a file, not a directory",
                         (int)clen[i - 1], comp[i - 1], path);
            break;
        }
        rc = tree_find_locked(s, out->id, comp[i], clen[i], out, err);
        if (rc == -ENOENT)
            rc = err_set(err, -ENOENT, "'%s' is not in version %llu (no '%.*s')", path,
                         (unsigned long long)snap->version, (int)clen[i], comp[i]);
    }
    pthread_rwlock_unlock(&s->idx);
    return rc;
}

int store_dir_lookup(struct store *s, uint64_t dir, const char *name, struct store_entry *out,
                     struct smfs_err *err)
{
    size_t l = strlen(name);
    if (!store_name_ok(name, l)) return -ENOENT;
    pthread_rwlock_rdlock(&s->idx);
    int rc = tree_find_locked(s, dir, name, l, out, err);
    pthread_rwlock_unlock(&s->idx);
    return rc;
}

int store_dir_read(struct store *s, uint64_t dir, uint64_t start, struct store_entry *ents,
                   size_t max, size_t *n, struct smfs_err *err)
{
    pthread_rwlock_rdlock(&s->idx);
    int rc = tree_read_locked(s, dir, start, ents, max, n, err);
    pthread_rwlock_unlock(&s->idx);
    return rc;
}

static int usage_tree(struct store *s, uint64_t tid, unsigned depth, struct store_usage *u,
                      struct smfs_err *err)
{
    if (depth > STORE_DEPTH_MAX) return err_set(err, -EIO, "tree %llu: deeper than %d levels",
                                                (unsigned long long)tid, STORE_DEPTH_MAX);
    struct store_entry ents[64];
    for (uint64_t at = 0;;) {
        size_t n;
        int rc = store_dir_read(s, tid, at, ents, 64, &n, err);
        if (rc < 0) return rc;
        for (size_t i = 0; i < n; i++) {
            if (ents[i].kind == STORE_DIR) {
                if ((rc = usage_tree(s, ents[i].id, depth + 1, u, err)) < 0) return rc;
            } else if (ents[i].flags & STORE_F_REMOTE) {
                u->remote_bytes += ents[i].size;
                u->remote_files++;
            } else if (ents[i].tier < STORE_TIERS_MAX) {
                u->bytes[ents[i].tier] += ents[i].size;
                u->files[ents[i].tier]++;
            }
        }
        if (n < 64) return 0;
        at += n;
    }
}

int store_snap_usage(struct store *s, const struct store_snap *snap, struct store_usage *u,
                     struct smfs_err *err)
{
    memset(u, 0, sizeof *u);
    return usage_tree(s, store_snap_root(snap), 0, u, err);
}

/* E's object name under its tier's objects/ directory, or an error for an entry that
 * has no local object (-EREMOTE: one in object storage; -EINVAL: a directory, a tier this
 * store lacks) — callers tell the two apart. */
static int object_local(const struct store *s, const struct store_entry *e, char *rel, size_t n,
                        struct smfs_err *err)
{
    if (e->flags & STORE_F_REMOTE)
        return err_set(err, -EREMOTE, "'%s' is in object storage: it has no local object", e->name);
    if (e->kind != STORE_FILE || e->tier >= s->ntiers)
        return err_set(err, -EINVAL, "'%s' is not a file of a known tier", e->name);
    object_rel(e->id, rel, n);
    return 0;
}

int store_object_path(const struct store *s, const struct store_entry *e, char *buf,
                      size_t len, struct smfs_err *err)
{
    char rel[32];
    int rc = object_local(s, e, rel, sizeof rel, err);
    if (rc < 0) return rc;
    if (snprintf(buf, len, "%s/objects/%s", s->tiers[e->tier].path, rel) >= (int)len)
        return err_set(err, -ENAMETOOLONG, "object path of '%s' is too long", e->name);
    return 0;
}

int store_object_open(const struct store *s, const struct store_entry *e, struct smfs_err *err)
{
    char rel[32];
    int rc = object_local(s, e, rel, sizeof rel, err);
    if (rc < 0) return rc;
    int fd = openat(s->obj_fd[e->tier], rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_sys(err, "open", rel);
        return err_wrap(err, "object of '%s' in tier '%s'", e->name, s->tiers[e->tier].name);
    }
    return fd;
}
