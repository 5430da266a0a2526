/* core/store_tx.c: transactions: taking files in as objects, editing a copy-on-write
 * view of the tree, and the commit.
 *
 * Invariants.
 *   1. No committed version names an object id at or above the next_oid of the last
 *      commit record. So a transaction writes its objects straight under their final
 *      names: until its commit record is durable nothing refers to them, and a crash
 *      leaves orphans that vacuum removes (or import's journal takes back). A new
 *      object is created with O_EXCL (or RENAME_NOREPLACE/link), and an id found taken
 *      (an orphan) is skipped, so an orphan is never overwritten.
 *   2. Everything a commit record refers to is durable before the record is written.
 *   3. A tree is never modified in place; a changed directory gets a new tree id, and
 *      so does every directory above it. Unchanged subtrees keep theirs.
 *
 * States:  OPEN (store_tx_begin) → WRITING (store_tx_commit, first index append) →
 *          COMMITTED (commit record fdatasync'd, then published) | BROKEN (an index
 *          write or sync failed: s->broken, writes refused until reopen). OPEN →
 *          ABORTED (store_tx_abort, or a failure before WRITING) undoes the takes. */

#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "buf.h"
#include "fault.h"

#define KV_KEY_MAX 255u
#define KV_VAL_MAX (64u << 10)

struct txdir {
    struct tree_ent *e;      /* sorted by name; names owned */
    struct txdir   **child;  /* parallel: the loaded subdirectory, or NULL */
    size_t           n, cap;
    bool             dirty;
    uint64_t         base;   /* tree id it was loaded from; 0: new */
    uint64_t        *chunk_tid;   /* the base's chunks, for reuse */
    uint64_t        *chunk_hash;
    size_t           nchunk;
};

struct newobj {
    uint64_t oid;
    uint8_t  tier;
    bool     renamed;   /* taken by rename from src: abort renames it back */
    bool     unlink_src;/* copied for a rename across filesystems: unlink src after commit */
    char    *src;
};

struct store_tx {
    struct store  *s;
    struct txdir   root;
    uint64_t       base_version;
    int64_t        now;
    char          *key[STORE_KV_MAX], *val[STORE_KV_MAX];
    size_t         nkv;
    struct newobj *obj;
    size_t         nobj, capobj;
    bool           tier_used[STORE_TIERS_MAX];
    uint8_t       *copybuf;
    uint64_t      *pending;    /* tid, loc pairs written by the commit */
    size_t         npending, cappending;
    bool           keep_objects;   /* the commit record may be on disk: undo nothing */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the in-memory tree ---- */

static void txdir_release(struct txdir *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->e[i].name);
        if (d->child[i]) {
            txdir_release(d->child[i]);
            free(d->child[i]);
        }
    }
    free(d->e);
    free(d->child);
    free(d->chunk_tid);
    free(d->chunk_hash);
    memset(d, 0, sizeof *d);
}

static int txdir_find(const struct txdir *d, const char *name, size_t nl, size_t *pos)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct tree_ent *e = &d->e[mid];
        int c = store_name_cmp(e->name, e->nlen, name, nl);
        if (c == 0) {
            *pos = mid;
            return 1;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *pos = lo;
    return 0;
}

static int txdir_insert(struct txdir *d, size_t pos, const struct tree_ent *e, const char *name,
                        size_t nl)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct tree_ent *ne = realloc(d->e, cap * sizeof *ne);
        if (!ne) return -ENOMEM;
        d->e = ne;
        struct txdir **nc = realloc(d->child, cap * sizeof *nc);
        if (!nc) return -ENOMEM;
        d->child = nc;
        d->cap = cap;
    }
    char *nm = strndup(name, nl);
    if (!nm) return -ENOMEM;
    memmove(&d->e[pos + 1], &d->e[pos], (d->n - pos) * sizeof *d->e);
    memmove(&d->child[pos + 1], &d->child[pos], (d->n - pos) * sizeof *d->child);
    d->e[pos] = *e;
    d->e[pos].name = nm;
    d->e[pos].nlen = (uint16_t)nl;
    d->child[pos] = NULL;
    d->n++;
    return 0;
}

static void txdir_delete(struct txdir *d, size_t pos)
{
    free(d->e[pos].name);
    if (d->child[pos]) {
        txdir_release(d->child[pos]);
        free(d->child[pos]);
    }
    memmove(&d->e[pos], &d->e[pos + 1], (d->n - pos - 1) * sizeof *d->e);
    memmove(&d->child[pos], &d->child[pos + 1], (d->n - pos - 1) * sizeof *d->child);
    d->n--;
}

static void ent_from(struct tree_ent *t, const struct store_entry *e)
{
    t->kind = e->kind;
    t->tier = e->tier;
    t->flags = e->flags;
    t->mode = e->mode;
    t->id = e->id;
    t->size = e->size;
    t->sum = e->sum;
    t->mtime_ns = e->mtime_ns;
}

static int load_leaf(const struct tree_view *t, struct txdir *d, struct smfs_err *err)
{
    for (uint32_t i = 0; i < t->n; i++) {
        struct store_entry e;
        int rc = tree_entry_at(t, i, &e, err);
        if (rc < 0) return rc;
        size_t nl = strlen(e.name);
        /* Lookups binary-search these arrays: a tree out of order would hide names. */
        if (d->n && store_name_cmp(d->e[d->n - 1].name, d->e[d->n - 1].nlen, e.name, nl) >= 0)
            return err_set(err, -EIO, "tree %llu lists '%s' out of order or twice",
                           (unsigned long long)d->base, e.name);
        struct tree_ent te;
        ent_from(&te, &e);
        if (txdir_insert(d, d->n, &te, e.name, nl) < 0)
            return err_set(err, -ENOMEM, "out of memory loading a directory");
    }
    return 0;
}

/* Fill D with the entries of tree TID (the writer reads the index without idx: it is
 * the index's only mutator). */
static int txdir_load(struct store *s, struct txdir *d, uint64_t tid, struct smfs_err *err)
{
    d->base = tid;
    struct tree_view t;
    int rc = tree_get_locked(s, tid, &t, err);
    if (rc < 0) return rc;
    if (t.level == 0) return load_leaf(&t, d, err);
    d->chunk_tid = calloc(t.n ? t.n : 1, sizeof *d->chunk_tid);
    d->chunk_hash = calloc(t.n ? t.n : 1, sizeof *d->chunk_hash);
    if (!d->chunk_tid || !d->chunk_hash) return err_set(err, -ENOMEM, "out of memory loading a directory");
    for (uint32_t i = 0; i < t.n; i++) {
        uint32_t count;
        rc = tree_chunk_at(&t, i, &d->chunk_tid[i], &count, err);
        if (rc < 0) return rc;
        struct tree_view c;
        rc = tree_get_locked(s, d->chunk_tid[i], &c, err);
        if (rc < 0) return rc;
        if (c.level != 0 || c.n != count)
            return err_set(err, -EIO, "chunk %llu of tree %llu holds %u entries, its index says %u",
                           (unsigned long long)d->chunk_tid[i], (unsigned long long)tid, c.n, count);
        d->chunk_hash[i] = XXH3_64bits(c.p, c.len);
        d->nchunk = i + 1;
        rc = load_leaf(&c, d, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* The subdirectory at D->e[pos], loaded on first use. */
static int child_dir(struct store_tx *tx, struct txdir *d, size_t pos, struct txdir **out,
                     struct smfs_err *err)
{
    if (!d->child[pos]) {
        struct txdir *c = calloc(1, sizeof *c);
        if (!c) return err_set(err, -ENOMEM, "out of memory loading a directory");
        d->child[pos] = c;
        int rc = txdir_load(tx->s, c, d->e[pos].id, err);
        if (rc < 0) {
            txdir_release(c);
            free(c);
            d->child[pos] = NULL;
            return err_wrap(err, "directory '%s'", d->e[pos].name);
        }
    }
    *out = d->child[pos];
    return 0;
}

/* The directory holding the last component of PATH. MODIFY creates missing parents
 * and marks every directory on the way dirty (their tree ids will change). */
static int walk(struct store_tx *tx, const char *path, bool modify, struct txdir **dir,
                const char **last, size_t *lastlen, struct smfs_err *err)
{
    const char *comp[STORE_DEPTH_MAX];
    size_t clen[STORE_DEPTH_MAX], n;
    int rc = store_path_split(path, comp, clen, &n, err);
    if (rc < 0) return rc;
    if (n == 0) return err_set(err, -EINVAL, "path '%s' names the root, not a file", path);
    struct txdir *d = &tx->root;
    for (size_t i = 0; i + 1 < n; i++) {
        if (modify) d->dirty = true;
        size_t pos;
        if (!txdir_find(d, comp[i], clen[i], &pos)) {
            if (!modify)
                return err_set(err, -ENOENT, "'%s': no '%.*s'", path, (int)clen[i], comp[i]);
            struct tree_ent e = { .kind = STORE_DIR, .mtime_ns = tx->now };
            if (txdir_insert(d, pos, &e, comp[i], clen[i]) < 0)
                return err_set(err, -ENOMEM, "out of memory adding '%s'", path);
            struct txdir *c = calloc(1, sizeof *c);
            if (!c) return err_set(err, -ENOMEM, "out of memory adding '%s'", path);
            c->dirty = true;
            d->child[pos] = c;
        } else if (d->e[pos].kind != STORE_DIR) {
            return err_set(err, -ENOTDIR, "'%s': '%.*s' is a file, not a directory", path,
                           (int)clen[i], comp[i]);
        }
        rc = child_dir(tx, d, pos, &d, err);
        if (rc < 0) return rc;
    }
    if (modify) d->dirty = true;
    *dir = d;
    *last = comp[n - 1];
    *lastlen = clen[n - 1];
    return 0;
}

static int set_file(struct store_tx *tx, const char *path, const struct tree_ent *e,
                    struct smfs_err *err)
{
    struct txdir *d;
    const char *name;
    size_t nl;
    int rc = walk(tx, path, true, &d, &name, &nl, err);
    if (rc < 0) return rc;
    size_t pos;
    if (txdir_find(d, name, nl, &pos)) {
        if (d->e[pos].kind == STORE_DIR)
            return err_set(err, -EISDIR, "'%s' is a directory; remove it before putting a file there", path);
        char *nm = d->e[pos].name;
        d->e[pos] = *e;
        d->e[pos].name = nm;
        d->e[pos].nlen = (uint16_t)nl;
        return 0;
    }
    if (txdir_insert(d, pos, e, name, nl) < 0) return err_set(err, -ENOMEM, "out of memory adding '%s'", path);
    return 0;
}

/* PATH's entry in the transaction: *d and *pos, or *d = NULL when PATH is the root.
 * -ENOENT without a message: each caller says what it was doing. */
static int locate(struct store_tx *tx, const char *path, bool modify, struct txdir **d,
                  size_t *pos, struct smfs_err *err)
{
    const char *comp[STORE_DEPTH_MAX];
    size_t clen[STORE_DEPTH_MAX], n;
    int rc = store_path_split(path, comp, clen, &n, err);
    if (rc < 0) return rc;
    *d = NULL;
    if (n == 0) return 0;
    const char *name;
    size_t nl;
    rc = walk(tx, path, modify, d, &name, &nl, err);
    if (rc < 0) return rc;
    return txdir_find(*d, name, nl, pos) ? 0 : -ENOENT;
}

/* ---- objects ---- */

static int note_obj(struct store_tx *tx, uint64_t oid, unsigned tier, bool renamed,
                    bool unlink_src, const char *src)
{
    if (tx->nobj == tx->capobj) {
        size_t cap = tx->capobj ? tx->capobj * 2 : 64;
        struct newobj *n = realloc(tx->obj, cap * sizeof *n);
        if (!n) return -ENOMEM;
        tx->obj = n;
        tx->capobj = cap;
    }
    struct newobj *o = &tx->obj[tx->nobj];
    *o = (struct newobj){ .oid = oid, .tier = (uint8_t)tier, .renamed = renamed,
                          .unlink_src = unlink_src };
    if (src && !(o->src = strdup(src))) return -ENOMEM;
    tx->nobj++;
    tx->tier_used[tier] = true;
    return 0;
}

static int check_tier(struct store_tx *tx, unsigned tier, const char *path, struct smfs_err *err)
{
    if (tier >= tx->s->ntiers)
        return err_set(err, -EINVAL, "'%s': tier %u does not exist (the store has %zu)", path,
                       tier, tx->s->ntiers);
    return 0;
}

/* A fresh object in TIER, open for writing. Ids held by orphans are skipped (inv. 1). */
static int obj_create(struct store_tx *tx, unsigned tier, uint64_t *oid, struct smfs_err *err)
{
    struct store *s = tx->s;
    for (;;) {
        char rel[32];
        uint64_t id = s->next_oid++;
        object_rel(id, rel, sizeof rel);
        int fd = openat(s->obj_fd[tier], rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0) return err_sys(err, "open", rel);
        if (note_obj(tx, id, tier, false, false, NULL) < 0) {
            close(fd);
            unlinkat(s->obj_fd[tier], rel, 0);
            return err_set(err, -ENOMEM, "out of memory taking an object");
        }
        *oid = id;
        return fd;
    }
}

static int write_all(int fd, const uint8_t *p, size_t n, const char *what, struct smfs_err *err)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return err_sys(err, "write", what);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read FROM to its end, hashing, and copy it to TO unless TO is -1. */
static int copy_hash(struct store_tx *tx, int from, int to, const char *what, const char *dst, uint64_t *size,
                     uint64_t *sum, struct smfs_err *err)
{
    if (!tx->copybuf && !(tx->copybuf = malloc(OBJ_CHUNK)))
        return err_set(err, -ENOMEM, "out of memory reading '%s'", what);
    return obj_hash(from, to, tx->copybuf, what, dst, size, sum, err);
}

/* "<tier path>/objects/xx/<id>": an object's file as a message names it. */
static const char *obj_name(const struct store *s, unsigned tier, uint64_t oid, char *buf, size_t n)
{
    char rel[32];
    object_rel(oid, rel, sizeof rel);
    snprintf(buf, n, "%s/objects/%s", s->tiers[tier].path, rel);
    return buf;
}

int store_tx_put_bytes(struct store_tx *tx, const char *path, const void *p, size_t n,
                       unsigned tier, struct smfs_err *err)
{
    int rc = check_tier(tx, tier, path, err);
    if (rc < 0) return rc;
    uint64_t oid;
    int fd = obj_create(tx, tier, &oid, err);
    if (fd < 0) return err_wrap(err, "put '%s'", path);
    char dst[PATH_MAX + 64];
    rc = write_all(fd, p, n, obj_name(tx->s, tier, oid, dst, sizeof dst), err);
    close(fd);
    if (rc < 0) return err_wrap(err, "put '%s'", path);
    if (fault_hit("tx.object")) return err_set(err, -EIO, "injected fault at tx.object");
    struct tree_ent e = { .kind = STORE_FILE, .tier = (uint8_t)tier, .id = oid, .size = n,
                          .sum = XXH3_64bits(p, n), .mtime_ns = tx->now };
    return set_file(tx, path, &e, err);
}

int store_tx_put_fd(struct store_tx *tx, const char *path, int fd, unsigned tier,
                    struct smfs_err *err)
{
    int rc = check_tier(tx, tier, path, err);
    if (rc < 0) return rc;
    uint64_t oid;
    int ofd = obj_create(tx, tier, &oid, err);
    if (ofd < 0) return err_wrap(err, "put '%s'", path);
    struct tree_ent e = { .kind = STORE_FILE, .tier = (uint8_t)tier, .id = oid, .mtime_ns = tx->now };
    char dst[PATH_MAX + 64];
    rc = copy_hash(tx, fd, ofd, path, obj_name(tx->s, tier, oid, dst, sizeof dst), &e.size, &e.sum, err);
    close(ofd);
    if (rc < 0) return err_wrap(err, "put '%s'", path);
    if (fault_hit("tx.object")) return err_set(err, -EIO, "injected fault at tx.object");
    return set_file(tx, path, &e, err);
}

int store_tx_put_file(struct store_tx *tx, const char *path, const char *src,
                      enum store_take how, bool verify, unsigned tier, struct smfs_err *err)
{
    struct store *s = tx->s;
    int rc = check_tier(tx, tier, path, err);
    if (rc < 0) return rc;
    struct stat sb;
    if (lstat(src, &sb) < 0) return err_sys(err, "stat", src);
    if (!S_ISREG(sb.st_mode))
        return err_set(err, -EINVAL, "'%s' is not a regular file; only files are taken into the store", src);
    struct tree_ent e = { .kind = STORE_FILE, .tier = (uint8_t)tier, .mtime_ns = tx->now,
                          .size = (uint64_t)sb.st_size };
    char rel[32];
    rc = -1;
    errno = EXDEV;   /* STORE_TAKE_COPY: straight to the copy below */
    for (; how != STORE_TAKE_COPY;) {
        e.id = s->next_oid++;
        object_rel(e.id, rel, sizeof rel);
        if (how == STORE_TAKE_RENAME)
            rc = renameat2(AT_FDCWD, src, s->obj_fd[tier], rel, RENAME_NOREPLACE);
        else
            rc = linkat(AT_FDCWD, src, s->obj_fd[tier], rel, 0);
        if (rc == 0 || errno != EEXIST) break;
    }
    if (rc < 0 && errno != EXDEV) return err_sys(err, how == STORE_TAKE_RENAME ? "rename" : "link", src);
    if (rc < 0) {
        /* Another filesystem: copy (hashing as we go), and for a rename unlink the
         * source only once the commit is durable. */
        int from = open(src, O_RDONLY | O_CLOEXEC);
        if (from < 0) return err_sys(err, "open", src);
        int to = obj_create(tx, tier, &e.id, err);
        if (to < 0) {
            close(from);
            return err_wrap(err, "put '%s'", path);
        }
        tx->obj[tx->nobj - 1].unlink_src = how == STORE_TAKE_RENAME;
        if (how == STORE_TAKE_RENAME && !(tx->obj[tx->nobj - 1].src = strdup(src))) {
            close(from);
            close(to);
            return err_set(err, -ENOMEM, "out of memory taking '%s'", src);
        }
        char dst[PATH_MAX + 64];
        rc = copy_hash(tx, from, to, src, obj_name(s, tier, e.id, dst, sizeof dst), &e.size, &e.sum, err);
        close(from);
        close(to);
        if (rc < 0) return err_wrap(err, "put '%s'", path);
        if (verify) {
            /* Read the copy back: the bytes on the tier, not the ones we meant to write. */
            object_rel(e.id, rel, sizeof rel);
            int fd = openat(s->obj_fd[tier], rel, O_RDONLY | O_CLOEXEC);
            if (fd < 0) return err_sys(err, "open", rel);
            uint64_t sz, sum;
            rc = copy_hash(tx, fd, -1, rel, NULL, &sz, &sum, err);
            close(fd);
            if (rc < 0) return rc;
            if (sz != e.size || sum != e.sum)
                return err_set(err, -EIO, "copy of '%s' reads back differently (%llu bytes, sum %016llx; wrote %llu, %016llx)",
                               src, (unsigned long long)sz, (unsigned long long)sum,
                               (unsigned long long)e.size, (unsigned long long)e.sum);
        }
    } else {
        /* Linked: the inode keeps the mode its owner gave it until its original name
         * goes (import_clean makes it 0444 then); a rollback puts this mode back. */
        if (how == STORE_TAKE_LINK) e.mode = (uint16_t)(sb.st_mode & 07777);
        if (note_obj(tx, e.id, tier, how == STORE_TAKE_RENAME, false, how == STORE_TAKE_RENAME ? src : NULL) < 0)
            return err_set(err, -ENOMEM, "out of memory taking '%s'", src);
        if (verify) {
            int fd = openat(s->obj_fd[tier], rel, O_RDONLY | O_CLOEXEC);
            if (fd < 0) return err_sys(err, "open", rel);
            rc = copy_hash(tx, fd, -1, src, NULL, &e.size, &e.sum, err);
            close(fd);
            if (rc < 0) return err_wrap(err, "put '%s'", path);
        } else {
            e.flags |= STORE_F_NOSUM;
        }
    }
    if (fault_hit("tx.object")) return err_set(err, -EIO, "injected fault at tx.object");
    return set_file(tx, path, &e, err);
}

int store_tx_put_remote(struct store_tx *tx, const char *path, uint64_t size, uint64_t sum, bool checked,
                        struct smfs_err *err)
{
    /* An id of its own, never a file: vacuum's sweep finds nothing by it to remove,
     * and the view gives it an inode no local object shares. */
    struct tree_ent e = { .kind = STORE_FILE, .tier = 0, .flags = (uint8_t)(STORE_F_REMOTE | (checked ? 0 : STORE_F_NOSUM)),
                          .id = tx->s->next_oid++,
                          .size = size, .sum = sum, .mtime_ns = tx->now };
    return set_file(tx, path, &e, err);
}

int store_tx_put_entry(struct store_tx *tx, const char *path, const struct store_entry *e,
                       struct smfs_err *err)
{
    if (e->kind != STORE_FILE)
        return err_set(err, -EINVAL, "'%s': only a file entry can be put again", path);
    int rc = check_tier(tx, e->tier, path, err);
    if (rc < 0) return rc;
    struct tree_ent t;
    ent_from(&t, e);
    return set_file(tx, path, &t, err);
}

int store_tx_remove(struct store_tx *tx, const char *path, struct smfs_err *err)
{
    struct txdir *d;
    size_t pos;
    int rc = locate(tx, path, true, &d, &pos, err);
    if (rc == -ENOENT) return err_set(err, -ENOENT, "remove '%s': no such file or directory", path);
    if (rc < 0) return rc;
    if (!d) return err_set(err, -EINVAL, "remove '%s': the root cannot be removed", path);
    txdir_delete(d, pos);
    return 0;
}

int store_tx_lookup(struct store_tx *tx, const char *path, struct store_entry *out,
                    struct smfs_err *err)
{
    memset(out, 0, sizeof *out);
    struct txdir *d;
    size_t pos;
    int rc = locate(tx, path, false, &d, &pos, err);
    if (rc == -ENOENT) return err_set(err, -ENOENT, "'%s' is not in the transaction", path);
    if (rc < 0) return rc;
    if (!d) {
        out->kind = STORE_DIR;
        out->id = tx->root.base;
        out->size = tx->root.n;
        return 0;
    }
    const struct tree_ent *e = &d->e[pos];
    memcpy(out->name, e->name, e->nlen);
    out->name[e->nlen] = '\0';
    out->kind = e->kind;
    out->tier = e->tier;
    out->flags = e->flags;
    out->mode = e->mode;
    out->id = e->id;
    out->size = d->child[pos] ? d->child[pos]->n : e->size;
    out->sum = e->sum;
    out->mtime_ns = e->mtime_ns;
    return 0;
}

/* ---- moving between tiers ---- */

static int move_file(struct store_tx *tx, struct tree_ent *e, unsigned tier, struct smfs_err *err)
{
    struct store *s = tx->s;
    if (e->flags & STORE_F_REMOTE)
        return err_set(err, -EREMOTE, "'%s' is in object storage: it has no local copy to move", e->name);
    if (e->tier == tier) return 0;
    char rel[32], tmp[48];
    object_rel(e->id, rel, sizeof rel);
    snprintf(tmp, sizeof tmp, "%s.tmp", rel);
    int from = openat(s->obj_fd[e->tier], rel, O_RDONLY | O_CLOEXEC);
    if (from < 0) {
        err_sys(err, "open", rel);
        return err_wrap(err, "move '%s' from tier '%s'", e->name, s->tiers[e->tier].name);
    }
    bool existed = faccessat(s->obj_fd[tier], rel, F_OK, 0) == 0;
    int to = openat(s->obj_fd[tier], tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (to < 0) {
        close(from);
        return err_sys(err, "open", tmp);
    }
    uint64_t size, sum;
    char dst[PATH_MAX + 64];
    snprintf(dst, sizeof dst, "%s/objects/%s", s->tiers[tier].path, tmp);
    int rc = copy_hash(tx, from, to, e->name, dst, &size, &sum, err);
    close(from);
    close(to);
    if (rc == 0 && (size != e->size || (!(e->flags & STORE_F_NOSUM) && sum != e->sum)))
        rc = err_set(err, -EIO, "object of '%s' in tier '%s' is damaged: %llu bytes, sum %016llx; the index says %llu, %016llx",
                     e->name, s->tiers[e->tier].name, (unsigned long long)size,
                     (unsigned long long)sum, (unsigned long long)e->size, (unsigned long long)e->sum);
    if (rc == 0) {
        /* Verify the copy as the tier returns it before anything points at it. */
        int fd = openat(s->obj_fd[tier], tmp, O_RDONLY | O_CLOEXEC);
        uint64_t sz2, sum2;
        rc = fd < 0 ? err_sys(err, "open", tmp) : copy_hash(tx, fd, -1, tmp, NULL, &sz2, &sum2, err);
        if (fd >= 0) close(fd);
        if (rc == 0 && (sz2 != size || sum2 != sum))
            rc = err_set(err, -EIO, "copy of '%s' in tier '%s' reads back differently", e->name,
                         s->tiers[tier].name);
    }
    /* Rename over any older copy of the same object: identical bytes, so a reader of
     * a kept version that names it never sees a gap. */
    if (rc == 0 && renameat(s->obj_fd[tier], tmp, s->obj_fd[tier], rel) < 0) rc = err_sys(err, "rename", tmp);
    if (rc < 0) {
        unlinkat(s->obj_fd[tier], tmp, 0);
        return rc;
    }
    if (!existed && note_obj(tx, e->id, tier, false, false, NULL) < 0)
        return err_set(err, -ENOMEM, "out of memory moving '%s'", e->name);
    tx->tier_used[tier] = true;
    e->tier = (uint8_t)tier;
    e->sum = sum;
    e->flags &= (uint8_t)~STORE_F_NOSUM;
    return 0;
}

static int move_dir(struct store_tx *tx, struct txdir *d, unsigned tier, struct smfs_err *err)
{
    d->dirty = true;
    for (size_t i = 0; i < d->n; i++) {
        int rc;
        if (d->e[i].kind == STORE_DIR) {
            struct txdir *c;
            rc = child_dir(tx, d, i, &c, err);
            if (rc == 0) rc = move_dir(tx, c, tier, err);
        } else {
            rc = move_file(tx, &d->e[i], tier, err);
        }
        if (rc < 0) return rc;
        if (fault_hit("tx.move")) return err_set(err, -EIO, "injected fault at tx.move");
    }
    return 0;
}

int store_tx_move(struct store_tx *tx, const char *path, unsigned tier, struct smfs_err *err)
{
    int rc = check_tier(tx, tier, path, err);
    if (rc < 0) return rc;
    struct txdir *d;
    size_t pos;
    rc = locate(tx, path, true, &d, &pos, err);
    if (rc == -ENOENT) return err_set(err, -ENOENT, "move '%s': no such file or directory", path);
    if (rc < 0) return rc;
    if (!d) return move_dir(tx, &tx->root, tier, err);
    if (d->e[pos].kind == STORE_FILE) rc = move_file(tx, &d->e[pos], tier, err);
    else {
        struct txdir *c;
        rc = child_dir(tx, d, pos, &c, err);
        if (rc == 0) rc = move_dir(tx, c, tier, err);
    }
    if (rc < 0) return err_wrap(err, "move '%s' to tier '%s'", path, tx->s->tiers[tier].name);
    return 0;
}

int store_tx_set(struct store_tx *tx, const char *key, const char *val, struct smfs_err *err)
{
    if (!*key || strlen(key) > KV_KEY_MAX || strlen(val) > KV_VAL_MAX)
        return err_set(err, -EINVAL, "commit metadata '%.40s': keys are 1 to %u bytes, values up to %u",
                       key, KV_KEY_MAX, KV_VAL_MAX);
    size_t i = 0;
    while (i < tx->nkv && strcmp(tx->key[i], key) != 0) i++;
    if (i == STORE_KV_MAX)
        return err_set(err, -E2BIG, "commit metadata: more than %d keys", STORE_KV_MAX);
    char *v = strdup(val);
    if (!v) return err_set(err, -ENOMEM, "out of memory setting '%s'", key);
    if (i == tx->nkv) {
        if (!(tx->key[i] = strdup(key))) {
            free(v);
            return err_set(err, -ENOMEM, "out of memory setting '%s'", key);
        }
        tx->nkv++;
    } else {
        free(tx->val[i]);
    }
    tx->val[i] = v;
    return 0;
}

/* ---- begin, abort ---- */

int store_tx_begin(struct store *s, struct store_tx **out, struct smfs_err *err)
{
    *out = NULL;
    struct store_tx *tx = calloc(1, sizeof *tx);
    if (!tx) return err_set(err, -ENOMEM, "out of memory starting a transaction");
    pthread_mutex_lock(&s->wlock);
    int rc = 0;
    /* After a failed index write (a full disk, say), the log is cut back to its last
     * sync point before anything is appended again; if that fails too, writes stay
     * refused and say why. */
    if (s->broken && store_repair_locked(s, err) < 0) {
        rc = err_wrap(err, "store '%s' cannot write after a failed index write (%s)", s->home, s->broken_why);
        goto fail;
    }
    tx->s = s;
    tx->now = now_ns();
    tx->base_version = atomic_load(&s->current);
    if (tx->base_version) {
        struct ver *v = vers_find_locked(s, tx->base_version);
        rc = txdir_load(s, &tx->root, v->root, err);
        if (rc < 0) {
            err_wrap(err, "root of version %llu", (unsigned long long)tx->base_version);
            goto fail;
        }
    } else {
        tx->root.dirty = true;   /* the first version writes an (empty) root */
    }
    *out = tx;
    return 0;
fail:
    txdir_release(&tx->root);
    pthread_mutex_unlock(&s->wlock);
    free(tx);
    return rc;
}

static void tx_free(struct store_tx *tx)
{
    txdir_release(&tx->root);
    for (size_t i = 0; i < tx->nkv; i++) {
        free(tx->key[i]);
        free(tx->val[i]);
    }
    for (size_t i = 0; i < tx->nobj; i++) free(tx->obj[i].src);
    free(tx->obj);
    free(tx->copybuf);
    free(tx->pending);
    struct store *s = tx->s;
    free(tx);
    pthread_mutex_unlock(&s->wlock);
}

void store_tx_abort(struct store_tx *tx)
{
    if (!tx) return;
    struct store *s = tx->s;
    /* Undo newest first. A file taken by rename goes back where it came from. */
    for (size_t i = tx->nobj; !tx->keep_objects && i-- > 0;) {
        const struct newobj *o = &tx->obj[i];
        char rel[32];
        object_rel(o->oid, rel, sizeof rel);
        if (o->renamed) {
            if (renameat2(s->obj_fd[o->tier], rel, AT_FDCWD, o->src, RENAME_NOREPLACE) < 0) {}
        } else {
            unlinkat(s->obj_fd[o->tier], rel, 0);
        }
    }
    tx_free(tx);
}

/* ---- commit ---- */

static int hold(struct store_tx *tx, uint64_t tid, uint64_t loc)
{
    if (tx->npending + 2 > tx->cappending) {
        size_t cap = tx->cappending ? tx->cappending * 2 : 256;
        uint64_t *n = realloc(tx->pending, cap * sizeof *n);
        if (!n) return -ENOMEM;
        tx->pending = n;
        tx->cappending = cap;
    }
    tx->pending[tx->npending++] = tid;
    tx->pending[tx->npending++] = loc;
    return 0;
}

static int append_tree(struct store_tx *tx, struct buf *b, uint64_t *tid, struct smfs_err *err)
{
    struct store *s = tx->s;
    uint64_t loc;
    *tid = s->next_tid++;
    int rc = pack_append(s, REC_TREE, *tid, b->p, (uint32_t)b->len, &loc, err);
    if (rc < 0) return rc;
    if (hold(tx, *tid, loc) < 0) return err_set(err, -ENOMEM, "out of memory writing trees");
    if (fault_hit("commit.tree")) {
        store_mark_broken(s, err);
        return err_set(err, -EIO, "injected fault at commit.tree");
    }
    return 0;
}

/* Is the encoded chunk B byte-identical to one of D's base chunks? Then it keeps that
 * chunk's tree id and is not written again. */
static uint64_t reuse_chunk(struct store *s, const struct txdir *d, const struct buf *b)
{
    uint64_t h = XXH3_64bits(b->p, b->len);
    for (size_t i = 0; i < d->nchunk; i++) {
        if (d->chunk_hash[i] != h) continue;
        struct tree_view t;
        struct smfs_err ignore;
        if (tree_get_locked(s, d->chunk_tid[i], &t, &ignore) == 0 && t.len == b->len &&
            memcmp(t.p, b->p, b->len) == 0)
            return d->chunk_tid[i];
    }
    return 0;
}

/* Write D's tree (its dirty subdirectories first: a parent names its children's
 * tree ids, so they must exist first) and return its tree id. */
static int write_dir(struct store_tx *tx, struct txdir *d, uint64_t *tid, struct smfs_err *err)
{
    if (!d->dirty) {
        *tid = d->base;
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!d->child[i]) continue;
        rc = write_dir(tx, d->child[i], &d->e[i].id, err);
        if (rc < 0) return rc;
        d->e[i].size = d->child[i]->n;
        if (d->child[i]->dirty) d->e[i].mtime_ns = tx->now;
    }
    struct buf b;
    buf_init(&b, REC_MAX);
    if (d->n <= TREE_FLAT_MAX) {
        rc = tree_encode_leaf(&b, d->e, d->n, tx->now);
        if (rc == 0) rc = append_tree(tx, &b, tid, err);
        else rc = err_set(err, rc, "directory of %zu entries does not encode", d->n);
        buf_release(&b);
        return rc;
    }
    size_t nch = 0, cap = d->n / TREE_CHUNK_MIN + 2;
    uint64_t *tids = malloc(cap * sizeof *tids);
    uint32_t *counts = malloc(cap * sizeof *counts);
    const struct tree_ent **firsts = malloc(cap * sizeof *firsts);
    if (!tids || !counts || !firsts) {
        rc = err_set(err, -ENOMEM, "out of memory writing a directory of %zu entries", d->n);
        goto out;
    }
    for (size_t i0 = 0, i = 0; i < d->n; i++) {
        if (!tree_boundary(&d->e[i], i - i0 + 1) && i + 1 < d->n) continue;
        b.len = 0;
        /* Chunks carry no time, so an unchanged chunk encodes byte for byte the same. */
        rc = tree_encode_leaf(&b, d->e + i0, i - i0 + 1, 0);
        if (rc < 0) {
            rc = err_set(err, rc, "directory chunk does not encode");
            goto out;
        }
        uint64_t ct = reuse_chunk(tx->s, d, &b);
        if (!ct && (rc = append_tree(tx, &b, &ct, err)) < 0) goto out;
        tids[nch] = ct;
        counts[nch] = (uint32_t)(i - i0 + 1);
        firsts[nch++] = &d->e[i0];
        i0 = i + 1;
    }
    b.len = 0;
    rc = tree_encode_index(&b, tids, counts, firsts, nch, tx->now);
    if (rc < 0) rc = err_set(err, rc, "directory index does not encode");
    else rc = append_tree(tx, &b, tid, err);
out:
    free(tids);
    free(counts);
    free(firsts);
    buf_release(&b);
    return rc;
}

static int sync_objects(struct store_tx *tx, struct smfs_err *err)
{
    struct store *s = tx->s;
    if (s->no_sync) return 0;
    for (size_t t = 0; t < s->ntiers; t++) {
        if (!tx->tier_used[t]) continue;
        /* One syncfs per tier instead of an fdatasync per object and an fsync per
         * fan-out directory: syncfs writes back and waits for every dirty inode of
         * that filesystem, data and metadata, the directories holding the new names
         * included (and since Linux 5.8 reports their writeback errors). Measured: a
         * one-partition commit with 50 directory fsyncs took 3.7x native, without 2x. */
        if (syncfs(s->obj_fd[t]) < 0) return err_sys(err, "syncfs", s->tiers[t].path);
    }
    return 0;
}

static int encode_commit(struct store_tx *tx, uint64_t version, uint64_t root, struct buf *b)
{
    struct store *s = tx->s;
    int rc = buf_put_u64(b, version);
    if (rc == 0) rc = buf_put_u64(b, tx->base_version);
    if (rc == 0) rc = buf_put_u64(b, root);
    if (rc == 0) rc = buf_put_u64(b, s->next_oid);
    if (rc == 0) rc = buf_put_u64(b, s->next_tid);
    if (rc == 0) rc = buf_put_u64(b, (uint64_t)tx->now);
    if (rc == 0) rc = buf_put_u32(b, (uint32_t)tx->nkv);
    if (rc == 0) rc = buf_put_u32(b, 0);
    /* "kind" first, so `store log` shows it first. */
    for (int pass = 0; pass < 2 && rc == 0; pass++)
        for (size_t i = 0; i < tx->nkv && rc == 0; i++) {
            if ((strcmp(tx->key[i], "kind") == 0) != (pass == 0)) continue;
            size_t kl = strlen(tx->key[i]), vl = strlen(tx->val[i]);
            uint8_t h[8] = { (uint8_t)kl, (uint8_t)(kl >> 8) };
            st32(h + 4, (uint32_t)vl);
            rc = buf_append(b, h, sizeof h);
            if (rc == 0) rc = buf_append(b, tx->key[i], kl);
            if (rc == 0) rc = buf_append(b, tx->val[i], vl);
        }
    return rc;
}

/* Grow the tree map and the version table now, so that publishing after the commit
 * point cannot fail. Under idx: readers may be in the map. */
static int reserve_publish(struct store *s, size_t ntids)
{
    pthread_rwlock_wrlock(&s->idx);
    int rc = u64map_reserve(&s->tids, ntids);
    if (rc == 0) rc = vers_reserve_locked(s);
    pthread_rwlock_unlock(&s->idx);
    return rc;
}

int store_tx_commit(struct store_tx *tx, uint64_t *version, struct smfs_err *err)
{
    struct store *s = tx->s;
    uint64_t v = tx->base_version + 1, root = 0;
    struct buf b;
    buf_init(&b, REC_MAX);
    int rc;
    if (fault_hit("commit.begin")) {
        rc = err_set(err, -EIO, "injected fault at commit.begin");
        goto fail;
    }
    /* 1/4. Objects durable before any tree names them (invariant 2): a tree record
     * that reached the disk first could, after a power loss, commit a version naming
     * empty or missing files. */
    rc = sync_objects(tx, err);
    if (rc < 0) goto fail;
    if (fault_hit("commit.objects_synced")) {
        rc = err_set(err, -EIO, "injected fault at commit.objects_synced");
        goto fail;
    }
    /* 2/4. Trees bottom-up, then fdatasync: the first of two syncs. It makes every
     * record before the commit record durable before the commit record is written,
     * which is what lets recovery call any bad record before a good commit point
     * damage rather than a torn tail (store_pack.c). */
    rc = write_dir(tx, &tx->root, &root, err);
    if (rc == 0) rc = pack_sync(s, err);
    if (rc == 0 && fault_hit("commit.trees_synced")) rc = err_set(err, -EIO, "injected fault at commit.trees_synced");
    if (rc < 0) {
        store_mark_broken(s, err);
        goto fail;
    }
    if (reserve_publish(s, tx->npending / 2) < 0 || encode_commit(tx, v, root, &b) < 0) {
        rc = err_set(err, -ENOMEM, "out of memory committing version %llu", (unsigned long long)v);
        store_mark_broken(s, err);
        goto fail;
    }
    /* 3/4. The commit record. From here on it may be on disk whatever we report, so
     * the objects stay where they are even if we fail (an abort must not take back
     * files a durable version names). */
    tx->keep_objects = true;
    uint64_t loc;
    rc = pack_append(s, REC_COMMIT, v, b.p, (uint32_t)b.len, &loc, err);
    if (rc == 0 && fault_hit("commit.record_written")) rc = err_set(err, -EIO, "injected fault at commit.record_written");
    /* 4/4. The commit point. Recovery accepts version v only if this record checks
     * out, so until this fdatasync returns v-1 is current; after it, v is, even if we
     * crash before telling anyone. */
    if (rc == 0) rc = pack_sync(s, err);
    if (rc < 0) {
        store_mark_broken(s, err);
        goto fail;
    }
    if (fault_hit("commit.durable")) {
        /* After the commit point: the crash tests kill here and expect version v. */
        rc = err_set(err, -EIO, "injected fault at commit.durable");
        store_mark_broken(s, err);
        /* Version v is durable but not in memory: a cut back to the last sync would
         * keep it, and the next commit would reuse its number. Only a reopen (which
         * reads it back) mends this. */
        s->needs_reopen = true;
        goto fail;
    }
    /* Publish. Nothing can fail: the map and the version table were grown above. */
    struct ver nv = { .version = v, .parent = tx->base_version, .root = root,
                      .next_oid = s->next_oid, .next_tid = s->next_tid, .time_ns = tx->now,
                      .loc = loc };
    pthread_rwlock_wrlock(&s->idx);
    for (size_t i = 0; i < tx->npending; i += 2)
        u64map_put_reserved(&s->tids, tx->pending[i], tx->pending[i + 1]);
    vers_insert_reserved_locked(s, &nv);
    atomic_store(&s->current, v);
    pthread_rwlock_unlock(&s->idx);
    /* Sources copied in from another filesystem for a rename go only now. */
    for (size_t i = 0; i < tx->nobj; i++)
        if (tx->obj[i].unlink_src && tx->obj[i].src) unlink(tx->obj[i].src);
    buf_release(&b);
    if (version) *version = v;
    tx_free(tx);
    return 0;
fail:
    buf_release(&b);
    err_wrap(err, "commit of version %llu to store '%s'", (unsigned long long)v, s->home);
    store_tx_abort(tx);
    return rc;
}
