/* fs/view.c: see view.h. */
#include "view.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fileio.h"
#include "core/u64map.h"

#define PAR_TXT      "par.txt"
#define PAR_TXT_MAX  (1u << 16)   /* a par.txt longer than this is not an HDB's */
#define INO_FILE(oid) ((oid) + 1)                       /* 2 … 2^60 */
#define INO_SYN       (1ull << 61)                      /* v<N>$, par.txt, idb$ of N */
#define INO_VDIR(n)   (INO_SYN | (n) << 2)
#define INO_PARTXT(n) (INO_SYN | (n) << 2 | 1)
#define INO_IDBDIR(n) (INO_SYN | (n) << 2 | 2)
#define INO_IDBPAR(n) (INO_SYN | (n) << 2 | 3)
#define IDB          "idb"    /* the ordinal partitions in the store tree, a segment of v<N>$ */
#define IDB_ROOT     "idb$"   /* where an IDB process loads them: par.txt and sym */
#define INO_DIR0      (1ull << 62)                      /* directories, by counter */
#define DIR_BATCH     64

enum vkind { VK_ROOT = 1, VK_VDIR, VK_PARTXT, VK_DIR, VK_FILE, VK_IDBDIR, VK_IDBPAR };

/* Locking. One mutex, view->mu, guards the whole table: every vver and vnode field
 * that changes, and the lists. It is never held across a store read (a version's
 * par.txt and root entries are read before it is linked in) except inside
 * view_pt_acquire's OPEN callback (one object open and one ioctl), and never across
 * anything that waits on another thread. Tags:
 *   [M] guarded by view->mu       [I] immutable once the vver/vnode is linked in
 *   [F] set at view_new, immutable after */

/* One version the view refers to. */
struct vver {
    uint64_t           version, root_tid;   /* [I] */
    int64_t            mtime_ns;            /* [I] */
    struct store_snap *snap;        /* [M] held while pins > 0 */
    uint64_t           refs;        /* [M] memory: nodes, pins */
    uint64_t           pins;        /* [M] store snapshot: current, open files, calls in flight */
    bool               told;        /* [M] view_on_unpinned called for it */
    uint8_t           *partxt;      /* [I] rewritten: relative lines under v<N>$/ */
    size_t             partxt_len;  /* [I] */
    bool               has_partxt;  /* [I] */
    uint8_t           *idbpar;      /* [I] idb$/par.txt: "../v<N>$/idb" (NULL: no IDB) */
    size_t             idbpar_len;  /* [I] */
    char             **segs;        /* [I] relative par.txt lines: segment directories */
    size_t             nsegs;       /* [I] */
    struct store_entry *rootents;   /* [I] root entries but par.txt and the segments */
    size_t             nroot;       /* [I] */
    struct u64map      dirs;        /* [M] tree id → directory inode, for its lifetime */
    struct vver       *next;        /* [M] */
};

struct vnode {
    uint64_t     ino;               /* [I] */
    uint64_t     nlookup;           /* [M] the kernel's references */
    struct vver *ver;               /* [I] NULL for the root (it follows v->cur) */
    uint8_t      kind, tier, flags; /* [I] */
    uint64_t     id, size;          /* [I] dir: tree id, entries; file: object id, bytes */
    int64_t      mtime_ns;          /* [I] */
    int          backing_id;        /* [M] passthrough id: while open, or kept idle */
    uint32_t     nopen;             /* [M] */
    bool         pt_stale;          /* [M] the id is for a place the object left */
    struct vnode *idle_prev, *idle_next;   /* [M] on the kept list: registered, not open */
};

struct view {
    struct store   *s;              /* [F] borrowed; outlives the view */
    pthread_mutex_t mu;
    struct vver    *cur;            /* [M] one ref while current; NULL before version 1 */
    struct vver    *vers;           /* [M] every version held */
    struct vnode    root;           /* [M] */
    struct u64map   nodes;          /* [M] ino → struct vnode * (root not included) */
    uint64_t        next_dir;       /* [M] */
    uint64_t        nvers;          /* [M] */
    bool            idb;            /* [F] the assembly has an ordinal mount */
    char           *s3seg, *s3line; /* [F] view_set_s3: the bucket's line served as a segment */
    void          (*unpinned)(void *arg, uint64_t version);   /* [M] */
    void           *unpinned_arg;   /* [M] */
    /* Passthrough registrations (view_pt_setup), and the kept ones, least recently
     * closed first: each is a kernel reference to a backing file, not a descriptor. */
    int           (*pt_open)(void *arg, const struct store_entry *obj);   /* [F] */
    void          (*pt_close)(void *arg, int id);                         /* [F] */
    void           *pt_arg;         /* [F] */
    size_t          pt_keep;        /* [F] at most this many kept */
    size_t          pt_kept, pt_live;   /* [M] kept (idle); registered in all */
    struct vnode   *idle_head, *idle_tail;   /* [M] */
};

/* ---- versions ---------------------------------------------------------------- */

static void ver_free(struct vver *w)
{
    if (!w) return;
    if (w->snap) store_snap_put(w->snap);
    free(w->partxt);
    free(w->idbpar);
    for (size_t i = 0; i < w->nsegs; i++) free(w->segs[i]);
    free(w->segs);
    free(w->rootents);
    u64map_release(&w->dirs);
    free(w);
}

/* smfs's own records in a version (.smfs/: which days were written down): not part
 * of the database kdb+ loads. */
static bool hidden(const char *name)
{
    return !strcmp(name, ".smfs");
}

static bool ver_is_seg(const struct vver *w, const char *name)
{
    for (size_t i = 0; i < w->nsegs; i++)
        if (!strcmp(w->segs[i], name)) return true;
    return false;
}

/* A date tier that holds no partition yet has no directory in the store tree, but
 * par.txt names it and kdb+ loads an empty segment directory: it is served as one.
 * Its tree id is synthetic, one per segment (a directory inode needs one parent), and
 * above any id the store hands out. */
#define TID_EMPTY_SEG(i)   (UINT64_MAX - (uint64_t)(i))
#define TID_IS_EMPTY(id)   ((id) > UINT64_MAX - STORE_TIERS_MAX - 1)

/* Segment NAME of W: its directory, or the empty one. */
static int seg_lookup(struct view *v, const struct vver *w, const char *name, struct store_entry *e,
                      struct smfs_err *err)
{
    int rc;
    if (v->s3seg && !strcmp(name, v->s3seg)) {
        /* The bucket's days: named in the store under .smfs/s3/<tier>. */
        rc = store_dir_lookup(v->s, w->root_tid, ".smfs", e, err);
        if (!rc) rc = e->kind == STORE_DIR ? store_dir_lookup(v->s, e->id, "s3", e, err) : -ENOENT;
        if (!rc) rc = e->kind == STORE_DIR ? store_dir_lookup(v->s, e->id, name, e, err) : -ENOENT;
        if (!rc) snprintf(e->name, sizeof e->name, "%s", name);
    } else {
        rc = store_dir_lookup(v->s, w->root_tid, name, e, err);
    }
    if (rc != -ENOENT) return rc;
    for (size_t i = 0; i < w->nsegs; i++)
        if (!strcmp(w->segs[i], name)) {
            memset(e, 0, sizeof *e);
            snprintf(e->name, sizeof e->name, "%s", name);
            e->kind = STORE_DIR;
            e->id = TID_EMPTY_SEG(i);
            e->mtime_ns = w->mtime_ns;
            err_clear(err);
            return 0;
        }
    return rc;
}

/* A par.txt line that names a directory of this store (not s3://, not absolute). */
static bool line_is_segment(const char *l, size_t n)
{
    return n > 0 && l[0] != '/' && !memmem(l, n, "://", 3) && !memchr(l, '/', n);
}

static int ver_read_partxt(struct view *v, struct vver *w, const struct store_entry *e,
                           struct smfs_err *err)
{
    const char *s3 = v->s3line;
    if (e->kind != STORE_FILE || e->size > PAR_TXT_MAX)
        return err_set(err, -EIO, "version %llu: par.txt is not a file of at most %u bytes",
                       (unsigned long long)w->version, PAR_TXT_MAX);
    char *raw = malloc(e->size + 1);
    if (!raw) return err_set(err, -ENOMEM, "out of memory reading par.txt");
    int fd = store_object_open(v->s, e, err), rc = fd;
    if (fd >= 0) {
        rc = file_pread_full(fd, raw, e->size, 0, "par.txt", err);
        close(fd);
    }
    struct buf out;
    buf_init(&out, PAR_TXT_MAX * 2);
    for (size_t at = 0; rc == 0 && at < e->size;) {
        const char *l = raw + at, *nl = memchr(l, '\n', e->size - at);
        size_t n = nl ? (size_t)(nl - l) : e->size - at;
        at += n + 1;
        if (n && l[n - 1] == '\r') n--;
        if (!n) continue;
        bool s3seg = s3 && strlen(s3) == n && !memcmp(l, s3, n);
        if (s3seg) l = v->s3seg, n = strlen(v->s3seg);
        if (s3seg || line_is_segment(l, n)) {
            char **segs = realloc(w->segs, (w->nsegs + 1) * sizeof *segs);
            char *name = strndup(l, n);
            if (segs) w->segs = segs;
            if (!segs || !name) {
                free(name);
                rc = err_set(err, -ENOMEM, "out of memory reading par.txt");
                break;
            }
            w->segs[w->nsegs++] = name;
            rc = buf_printf(&out, "v%llu$/%.*s\n", (unsigned long long)w->version, (int)n, l);
        } else {
            rc = buf_printf(&out, "%.*s\n", (int)n, l);
        }
        if (rc) rc = err_set(err, rc, "version %llu: par.txt too long", (unsigned long long)w->version);
    }
    free(raw);
    if (rc) {
        buf_release(&out);
        return rc;
    }
    w->partxt = buf_take(&out, &w->partxt_len);
    w->has_partxt = true;
    return 0;
}

/* Load VERSION from the store (no lock held: only store reads). */
static int ver_load(struct view *v, uint64_t version, struct vver **out, struct smfs_err *err)
{
    struct vver *w = calloc(1, sizeof *w);
    if (!w) return err_set(err, -ENOMEM, "out of memory");
    int rc = store_snap_get(v->s, version, &w->snap, err);
    if (rc) goto fail;
    w->version = store_snap_version(w->snap);
    struct store_entry root, e;
    rc = store_lookup(w->snap, "", &root, err);
    if (rc) goto fail;
    w->root_tid = root.id;
    w->mtime_ns = root.mtime_ns;
    rc = store_dir_lookup(v->s, w->root_tid, PAR_TXT, &e, err);
    if (rc == 0) rc = ver_read_partxt(v, w, &e, err);
    else if (rc == -ENOENT) rc = 0;
    if (rc) goto fail;
    if (v->idb) {
        /* The IDB is one more directory of v<N>$ (empty when no interval is written),
         * and idb$ at the root points an IDB process at it. */
        char **segs = realloc(w->segs, (w->nsegs + 1) * sizeof *segs);
        char *name = strdup(IDB);
        char buf[64];
        int n = snprintf(buf, sizeof buf, "../v%llu$/" IDB "\n", (unsigned long long)w->version);
        if (segs) w->segs = segs;
        if (!segs || !name || !(w->idbpar = (uint8_t *)strdup(buf))) {
            free(name);
            rc = err_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
        w->segs[w->nsegs++] = name;
        w->idbpar_len = (size_t)n;
    }

    /* The root listing without par.txt and the segments, which live under v<N>$. */
    struct store_entry *ents = malloc(DIR_BATCH * sizeof *ents);
    if (!ents) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    for (uint64_t at = 0;;) {
        size_t n;
        rc = store_dir_read(v->s, w->root_tid, at, ents, DIR_BATCH, &n, err);
        if (rc) break;
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(ents[i].name, PAR_TXT) || ver_is_seg(w, ents[i].name) || hidden(ents[i].name)) continue;
            struct store_entry *r = realloc(w->rootents, (w->nroot + 1) * sizeof *r);
            if (!r) {
                rc = err_set(err, -ENOMEM, "out of memory");
                break;
            }
            w->rootents = r;
            r[w->nroot++] = ents[i];
        }
        if (rc || n < DIR_BATCH) break;
        at += n;
    }
    free(ents);
    if (rc) goto fail;
    *out = w;
    return 0;
fail:
    ver_free(w);
    return err_wrap(err, "version %llu", (unsigned long long)version);
}

static struct vver *ver_find_locked(struct view *v, uint64_t version)
{
    for (struct vver *w = v->vers; w; w = w->next)
        if (w->version == version) return w;
    return NULL;
}

/* Add W to the list unless that version is there already (a racing loader): returns
 * the one to use, with a reference taken. */
static struct vver *ver_insert_locked(struct view *v, struct vver *w)
{
    struct vver *have = ver_find_locked(v, w->version);
    if (have) {
        if (!have->pins) {
            have->snap = w->snap;   /* W's pin becomes HAVE's */
            w->snap = NULL;
        }
        ver_free(w);
        w = have;
    } else {
        w->next = v->vers;
        v->vers = w;
        v->nvers++;
    }
    w->refs++;
    w->pins++;
    return w;
}

/* Pin W's snapshot again (its inodes outlive pins while the kernel caches them):
 * -ESTALE once vacuum has dropped the version. */
static int ver_pin_locked(struct view *v, struct vver *w)
{
    if (!w->pins) {
        struct smfs_err e;
        if (store_snap_get(v->s, w->version, &w->snap, &e)) return -ESTALE;
    }
    w->pins++;
    w->refs++;
    return 0;
}

static void ver_unref_locked(struct view *v, struct vver *w)
{
    if (!w || --w->refs) return;
    v->nvers--;
    for (struct vver **pp = &v->vers; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    ver_free(w);
}

/* Give back a pin (and its reference). The snapshot goes with the last pin, so a
 * version nobody has open or current can be vacuumed although the kernel still
 * caches inodes of it. */
static void ver_release_locked(struct view *v, struct vver *w)
{
    if (!w) return;
    if (!--w->pins) {
        store_snap_put(w->snap);
        w->snap = NULL;
        if (w != v->cur && !w->told && v->unpinned) {
            w->told = true;
            v->unpinned(v->unpinned_arg, w->version);
        }
    }
    ver_unref_locked(v, w);
}

/* Version N pinned: held already, or loaded from the store. */
static int ver_get(struct view *v, uint64_t version, struct vver **out, struct smfs_err *err)
{
    pthread_mutex_lock(&v->mu);
    struct vver *w = ver_find_locked(v, version);
    int rc = w ? ver_pin_locked(v, w) : 0;
    pthread_mutex_unlock(&v->mu);
    if (rc) return err_set(err, -ENOENT, "version %llu was vacuumed", (unsigned long long)version);
    if (w) {
        *out = w;
        return 0;
    }
    rc = ver_load(v, version, &w, err);
    if (rc) return rc;
    pthread_mutex_lock(&v->mu);
    *out = ver_insert_locked(v, w);
    pthread_mutex_unlock(&v->mu);
    return 0;
}

/* ---- nodes --------------------------------------------------------------------- */

static struct vnode *node_get_locked(struct view *v, uint64_t ino)
{
    if (ino == VIEW_ROOT_INO) return &v->root;
    uint64_t p;
    return u64map_get(&v->nodes, ino, &p) ? (struct vnode *)(uintptr_t)p : NULL;
}

/* ---- kept passthrough registrations ---------------------------------------------- */

static void kept_unlink_locked(struct view *v, struct vnode *n)
{
    if (n->idle_prev) n->idle_prev->idle_next = n->idle_next;
    else v->idle_head = n->idle_next;
    if (n->idle_next) n->idle_next->idle_prev = n->idle_prev;
    else v->idle_tail = n->idle_prev;
    n->idle_prev = n->idle_next = NULL;
    v->pt_kept--;
}

/* Give N's registration back to the kernel (N is not open). */
static void pt_drop_locked(struct view *v, struct vnode *n)
{
    if (n->backing_id <= 0) return;
    if (v->idle_head == n || n->idle_prev) kept_unlink_locked(v, n);
    v->pt_close(v->pt_arg, n->backing_id);
    n->backing_id = 0;
    n->pt_stale = false;
    v->pt_live--;
}

/* A version nobody holds (not current, no file open, no call in flight) may be
 * vacuumed at any moment: a registration kept for one of its files would hold the
 * deleted object's blocks for as long as the kernel caches the inode. */
static bool ver_retired_locked(const struct view *v, const struct vver *w)
{
    return w != v->cur && w->pins == 0;
}

static void node_drop_locked(struct view *v, struct vnode *n)
{
    if (n == &v->root || n->nlookup || n->nopen) return;
    pt_drop_locked(v, n);
    u64map_del(&v->nodes, n->ino);
    ver_unref_locked(v, n->ver);
    free(n);
}

static int dir_ino_locked(struct vver *w, uint64_t tid, uint64_t *next, uint64_t *ino)
{
    if (u64map_get(&w->dirs, tid, ino)) return 0;
    *ino = INO_DIR0 + ++*next;
    return u64map_put(&w->dirs, tid, *ino);
}

static void node_attr(const struct view *v, const struct vnode *n, struct view_attr *a)
{
    memset(a, 0, sizeof *a);
    a->ino = n->ino;
    a->size = n->size;
    a->mtime_ns = n->mtime_ns;
    if (n->kind == VK_ROOT) {
        const struct vver *w = v->cur;
        a->size = w ? w->has_partxt + w->nroot + 1 + (w->idbpar != NULL) : 0;
        a->mtime_ns = w ? w->mtime_ns : 0;
    }
    bool dir = n->kind == VK_ROOT || n->kind == VK_VDIR || n->kind == VK_DIR || n->kind == VK_IDBDIR;
    a->mode = dir ? S_IFDIR | 0555 : S_IFREG | 0444;
    a->nlink = dir ? 2 : 1;
}

/* The node for a store entry of version W: found, or made with no lookups yet. */
static int node_entry_locked(struct view *v, struct vver *w, const struct store_entry *e,
                             struct vnode **out)
{
    uint64_t ino;
    if (e->kind == STORE_DIR) {
        if (dir_ino_locked(w, e->id, &v->next_dir, &ino)) return -ENOMEM;
    } else {
        ino = INO_FILE(e->id);
    }
    struct vnode *n = node_get_locked(v, ino);
    if (n) {
        /* A file seen again through a newer version: the newer entry says where the
         * object lives now (a tier move keeps the id), and the node moves its
         * reference so the old version is not held for nothing. */
        if (e->kind == STORE_FILE && n->ver != w && w->version > n->ver->version) {
            w->refs++;
            ver_unref_locked(v, n->ver);
            n->ver = w;
            if (n->tier != e->tier && n->backing_id > 0) {
                /* The registration is for the old tier's file: the next open must
                 * register the new one (now if idle, else after the last close). */
                if (n->nopen) n->pt_stale = true;
                else pt_drop_locked(v, n);
            }
            n->tier = e->tier;
            n->flags = e->flags;
        }
        *out = n;
        return 0;
    }
    if (u64map_reserve(&v->nodes, 1)) return -ENOMEM;
    n = calloc(1, sizeof *n);
    if (!n) return -ENOMEM;
    n->ino = ino;
    n->ver = w;
    w->refs++;
    n->kind = e->kind == STORE_DIR ? VK_DIR : VK_FILE;
    n->tier = e->tier;
    n->flags = e->flags;
    n->id = e->id;
    n->size = e->size;
    n->mtime_ns = e->mtime_ns;
    u64map_put_reserved(&v->nodes, ino, (uint64_t)(uintptr_t)n);
    *out = n;
    return 0;
}

static uint64_t syn_ino(const struct vver *w, enum vkind kind)
{
    switch (kind) {
    case VK_VDIR: return INO_VDIR(w->version);
    case VK_PARTXT: return INO_PARTXT(w->version);
    case VK_IDBDIR: return INO_IDBDIR(w->version);
    default: return INO_IDBPAR(w->version);
    }
}

/* v<N>$ (VDIR), par.txt of N (PARTXT), idb$ of N (IDBDIR) and its par.txt (IDBPAR). */
static int node_syn_locked(struct view *v, struct vver *w, enum vkind kind, struct vnode **out)
{
    uint64_t ino = syn_ino(w, kind);
    struct vnode *n = node_get_locked(v, ino);
    if (!n) {
        if (u64map_reserve(&v->nodes, 1)) return -ENOMEM;
        n = calloc(1, sizeof *n);
        if (!n) return -ENOMEM;
        n->ino = ino;
        n->kind = (uint8_t)kind;
        n->ver = w;
        w->refs++;
        n->size = kind == VK_VDIR ? w->nsegs : kind == VK_PARTXT ? w->partxt_len : kind == VK_IDBDIR ? 2 : w->idbpar_len;
        n->mtime_ns = w->mtime_ns;
        u64map_put_reserved(&v->nodes, ino, (uint64_t)(uintptr_t)n);
    }
    *out = n;
    return 0;
}

/* ---- public ---------------------------------------------------------------------- */

uint64_t view_vdir_version(const char *name)
{
    if (name[0] != 'v' || name[1] < '1' || name[1] > '9') return 0;
    uint64_t n = 0;
    const char *p = name + 1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - 9) / 10) return 0;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    return p[0] == '$' && p[1] == '\0' ? n : 0;
}

int view_new(struct store *s, const struct view_opts *o, struct view **out, struct smfs_err *err)
{
    struct view *v = calloc(1, sizeof *v);
    if (!v) return err_set(err, -ENOMEM, "out of memory");
    v->s = s;
    v->idb = o->idb;
    pthread_mutex_init(&v->mu, NULL);
    if (o->s3seg && o->s3line && (!(v->s3seg = strdup(o->s3seg)) || !(v->s3line = strdup(o->s3line)))) {
        view_free(v);
        return err_set(err, -ENOMEM, "out of memory");
    }
    v->root.ino = VIEW_ROOT_INO;
    v->root.kind = VK_ROOT;
    if (store_current(s)) {
        int rc = view_publish(v, 0, NULL, err);
        if (rc) {
            view_free(v);
            return rc;
        }
    }
    *out = v;
    return 0;
}

void view_free(struct view *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->nodes.cap; i++)
        if (v->nodes.key[i]) free((struct vnode *)(uintptr_t)v->nodes.val[i]);
    u64map_release(&v->nodes);
    while (v->vers) {
        struct vver *w = v->vers;
        v->vers = w->next;
        ver_free(w);
    }
    pthread_mutex_destroy(&v->mu);
    free(v->s3seg);
    free(v->s3line);
    free(v);
}

uint64_t view_current(struct view *v)
{
    pthread_mutex_lock(&v->mu);
    uint64_t n = v->cur ? v->cur->version : 0;
    pthread_mutex_unlock(&v->mu);
    return n;
}

void view_change_free(struct view_change *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->names[i]);
    free(c->names);
    memset(c, 0, sizeof *c);
}

static int change_add(struct view_change *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->names[i], name)) return 0;
    char **p = realloc(c->names, (c->n + 1) * sizeof *p);
    if (!p) return -ENOMEM;
    c->names = p;
    if (!(p[c->n] = strdup(name))) return -ENOMEM;
    c->n++;
    return 0;
}

static const struct store_entry *root_find(const struct vver *w, const char *name)
{
    for (size_t i = 0; w && i < w->nroot; i++)
        if (!strcmp(w->rootents[i].name, name)) return &w->rootents[i];
    return NULL;
}

/* Root names whose meaning differs between OLD and NEW. */
static int root_diff(const struct vver *old, const struct vver *w, struct view_change *c)
{
    char vd[32];
    int rc = change_add(c, PAR_TXT);
    if (!rc && w->idbpar) rc = change_add(c, IDB_ROOT);
    if (!rc && old) snprintf(vd, sizeof vd, "v%llu$", (unsigned long long)old->version), rc = change_add(c, vd);
    snprintf(vd, sizeof vd, "v%llu$", (unsigned long long)w->version);
    if (!rc) rc = change_add(c, vd);
    for (size_t i = 0; !rc && old && i < old->nroot; i++) {
        const struct store_entry *a = &old->rootents[i], *b = root_find(w, a->name);
        if (!b || b->id != a->id || b->kind != a->kind) rc = change_add(c, a->name);
    }
    for (size_t i = 0; !rc && i < w->nroot; i++)
        if (!root_find(old, w->rootents[i].name)) rc = change_add(c, w->rootents[i].name);
    return rc;
}

int view_publish(struct view *v, uint64_t version, struct view_change *chg, struct smfs_err *err)
{
    struct vver *w;
    int rc = ver_get(v, version ? version : store_current(v->s), &w, err);
    if (rc) return rc;
    pthread_mutex_lock(&v->mu);
    struct vver *old = v->cur;
    if (chg) {
        memset(chg, 0, sizeof *chg);
        chg->old_version = old ? old->version : 0;
        chg->new_version = w->version;
        if (root_diff(old, w, chg)) {
            view_change_free(chg);
            ver_release_locked(v, w);
            pthread_mutex_unlock(&v->mu);
            return err_set(err, -ENOMEM, "out of memory publishing version %llu",
                           (unsigned long long)w->version);
        }
    }
    /* The pin taken by ver_get becomes the "current" one. */
    v->cur = w;
    ver_release_locked(v, old);
    pthread_mutex_unlock(&v->mu);
    return 0;
}

int view_lookup(struct view *v, uint64_t parent, const char *name, struct view_attr *out,
                struct smfs_err *err)
{
    pthread_mutex_lock(&v->mu);
    struct vnode *p = node_get_locked(v, parent);
    if (!p) {
        pthread_mutex_unlock(&v->mu);
        return err_set(err, -ESTALE, "inode %llu is not known", (unsigned long long)parent);
    }
    enum vkind pk = p->kind;
    struct vver *w = pk == VK_ROOT ? v->cur : p->ver;
    uint64_t dir = p->kind == VK_DIR ? p->id : 0;
    if (pk == VK_FILE || pk == VK_PARTXT || pk == VK_IDBPAR) {
        pthread_mutex_unlock(&v->mu);
        return err_set(err, -ENOTDIR, "not a directory");
    }
    if (!w) {
        pthread_mutex_unlock(&v->mu);
        return err_set(err, -ENOENT, "'%s': the store has no version yet", name);
    }
    if (ver_pin_locked(v, w)) {   /* W's trees stay readable while we read unlocked */
        pthread_mutex_unlock(&v->mu);
        return err_set(err, -ESTALE, "version %llu was vacuumed", (unsigned long long)w->version);
    }
    pthread_mutex_unlock(&v->mu);

    struct vver *other = NULL;   /* v<N>$ of a version that is not W */
    struct store_entry e;
    enum vkind kind = 0;
    int rc = 0;
    uint64_t n;
    if (pk == VK_ROOT && !strcmp(name, PAR_TXT)) {
        kind = VK_PARTXT;
        if (!w->has_partxt) rc = -ENOENT;
    } else if (pk == VK_ROOT && !strcmp(name, IDB_ROOT)) {
        kind = VK_IDBDIR;
        if (!w->idbpar) rc = -ENOENT;
    } else if (pk == VK_IDBDIR) {   /* par.txt, and the version's sym */
        if (!strcmp(name, PAR_TXT)) kind = VK_IDBPAR;
        else if (strcmp(name, "sym")) rc = -ENOENT;
        else rc = store_dir_lookup(v->s, w->root_tid, name, &e, err);
    } else if (pk == VK_ROOT && (n = view_vdir_version(name))) {
        kind = VK_VDIR;
        if (n != w->version) {
            rc = ver_get(v, n, &other, err);
            if (rc == -ENOENT || rc == -ESTALE) rc = -ENOENT;
        }
    } else if (pk == VK_ROOT || pk == VK_VDIR) {
        bool seg = ver_is_seg(w, name);
        if (pk == VK_ROOT ? seg : !seg) rc = -ENOENT;
        else if (pk == VK_VDIR) rc = seg_lookup(v, w, name, &e, err);
        else if (hidden(name)) rc = -ENOENT;
        else rc = store_dir_lookup(v->s, w->root_tid, name, &e, err);
    } else if (TID_IS_EMPTY(dir)) {
        rc = -ENOENT;   /* an empty segment */
    } else {
        rc = store_dir_lookup(v->s, dir, name, &e, err);
    }

    pthread_mutex_lock(&v->mu);
    struct vnode *nd = NULL;
    if (!rc) {
        if (kind) rc = node_syn_locked(v, other ? other : w, kind, &nd);
        else rc = node_entry_locked(v, w, &e, &nd);
        if (rc == -ENOMEM) err_set(err, rc, "out of memory");
    }
    if (!rc) {
        nd->nlookup++;
        node_attr(v, nd, out);
    }
    ver_release_locked(v, other);
    ver_release_locked(v, w);
    pthread_mutex_unlock(&v->mu);
    if (rc == -ENOENT) err_set(err, rc, "'%s' does not exist", name);
    return rc;
}

void view_forget(struct view *v, uint64_t ino, uint64_t nlookup)
{
    pthread_mutex_lock(&v->mu);
    struct vnode *n = node_get_locked(v, ino);
    if (n && n != &v->root) {
        n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
        node_drop_locked(v, n);
    }
    pthread_mutex_unlock(&v->mu);
}

int view_getattr(struct view *v, uint64_t ino, struct view_attr *out, struct smfs_err *err)
{
    pthread_mutex_lock(&v->mu);
    struct vnode *n = node_get_locked(v, ino);
    if (n) node_attr(v, n, out);
    pthread_mutex_unlock(&v->mu);
    return n ? 0 : err_set(err, -ESTALE, "inode %llu is not known", (unsigned long long)ino);
}

/* Hand one entry to FN; with PLUS make its node and count the lookup if FN took it. */
static bool emit_locked(struct view *v, struct vver *w, const struct store_entry *e,
                        enum vkind syn, bool plus, view_dirent_fn *fn, void *arg,
                        uint64_t next, int *rc)
{
    struct view_attr a;
    struct vnode *n = NULL;
    if (plus) {
        *rc = syn ? node_syn_locked(v, w, syn, &n) : node_entry_locked(v, w, e, &n);
        if (*rc) return false;
        node_attr(v, n, &a);
    } else {
        memset(&a, 0, sizeof a);
        bool dir = syn == VK_VDIR || syn == VK_IDBDIR || (!syn && e->kind == STORE_DIR);
        a.mode = dir ? S_IFDIR | 0555 : S_IFREG | 0444;
        if (syn) a.ino = syn_ino(w, syn);
        else if (!dir) a.ino = INO_FILE(e->id);
        else if ((*rc = dir_ino_locked(w, e->id, &v->next_dir, &a.ino))) return false;
    }
    char vd[32];
    const char *name = e ? e->name : syn == VK_PARTXT || syn == VK_IDBPAR ? PAR_TXT : syn == VK_IDBDIR ? IDB_ROOT : vd;
    if (syn == VK_VDIR) snprintf(vd, sizeof vd, "v%llu$", (unsigned long long)w->version);
    bool took = fn(arg, name, &a, next);
    if (n) {
        if (took) n->nlookup++;
        else node_drop_locked(v, n);
    }
    return took;
}

int view_readdir(struct view *v, uint64_t ino, uint64_t off, bool plus, view_dirent_fn *fn,
                 void *arg, struct smfs_err *err)
{
    pthread_mutex_lock(&v->mu);
    struct vnode *p = node_get_locked(v, ino);
    if (!p) {
        pthread_mutex_unlock(&v->mu);
        return err_set(err, -ESTALE, "inode %llu is not known", (unsigned long long)ino);
    }
    enum vkind pk = p->kind;
    struct vver *w = pk == VK_ROOT ? v->cur : p->ver;
    if (pk == VK_FILE || pk == VK_PARTXT || pk == VK_IDBPAR) {
        pthread_mutex_unlock(&v->mu);
        return err_set(err, -ENOTDIR, "not a directory");
    }
    int rc = 0;
    if (!w) {
        pthread_mutex_unlock(&v->mu);
        return 0;
    }
    if (ver_pin_locked(v, w)) {
        pthread_mutex_unlock(&v->mu);
        return err_set(err, -ESTALE, "version %llu was vacuumed", (unsigned long long)w->version);
    }
    uint64_t dir = p->id;
    if (pk == VK_ROOT) {
        /* par.txt, the root entries, then v<N>$ of this version. */
        uint64_t i = off, np = w->has_partxt;
        for (bool more = true; more && !rc; i++) {
            if (i < np)
                more = emit_locked(v, w, NULL, VK_PARTXT, plus, fn, arg, i + 1, &rc);
            else if (i < np + w->nroot)
                more = emit_locked(v, w, &w->rootents[i - np], 0, plus, fn, arg, i + 1, &rc);
            else if (i == np + w->nroot)
                more = emit_locked(v, w, NULL, VK_VDIR, plus, fn, arg, i + 1, &rc);
            else if (i == np + w->nroot + 1 && w->idbpar)
                more = emit_locked(v, w, NULL, VK_IDBDIR, plus, fn, arg, i + 1, &rc);
            else
                more = false;
        }
        ver_release_locked(v, w);
        pthread_mutex_unlock(&v->mu);
        return rc ? err_set(err, rc, "out of memory") : 0;
    }
    if (pk == VK_IDBDIR) {   /* par.txt, then sym when the version has one */
        pthread_mutex_unlock(&v->mu);
        struct store_entry se;
        int have = store_dir_lookup(v->s, w->root_tid, "sym", &se, err) == 0;
        pthread_mutex_lock(&v->mu);
        bool more = true;
        if (off == 0) more = emit_locked(v, w, NULL, VK_IDBPAR, plus, fn, arg, 1, &rc);
        if (more && !rc && off <= 1 && have) emit_locked(v, w, &se, 0, plus, fn, arg, 2, &rc);
        ver_release_locked(v, w);
        pthread_mutex_unlock(&v->mu);
        err_clear(err);
        return rc ? err_set(err, rc, "out of memory") : 0;
    }
    pthread_mutex_unlock(&v->mu);

    struct store_entry *ents = malloc(DIR_BATCH * sizeof *ents);
    if (!ents) rc = err_set(err, -ENOMEM, "out of memory");
    for (bool more = true; !rc && more;) {
        size_t n = 0;
        if (pk == VK_VDIR) {
            for (; n < DIR_BATCH && off + n < w->nsegs && !rc; n++)
                rc = seg_lookup(v, w, w->segs[off + n], &ents[n], err);
        } else if (TID_IS_EMPTY(dir)) {
            n = 0;
        } else {
            rc = store_dir_read(v->s, dir, off, ents, DIR_BATCH, &n, err);
        }
        if (rc) break;
        pthread_mutex_lock(&v->mu);
        for (size_t i = 0; i < n && more && !rc; i++)
            more = emit_locked(v, w, &ents[i], 0, plus, fn, arg, off + i + 1, &rc);
        pthread_mutex_unlock(&v->mu);
        if (rc) rc = err_set(err, rc, "out of memory");
        off += n;
        if (n < DIR_BATCH) break;
    }
    free(ents);
    pthread_mutex_lock(&v->mu);
    ver_release_locked(v, w);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

int view_open(struct view *v, uint64_t ino, struct view_file *out, struct smfs_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&v->mu);
    struct vnode *n = node_get_locked(v, ino);
    memset(out, 0, sizeof *out);
    if (n && (n->kind == VK_PARTXT || n->kind == VK_IDBPAR || n->kind == VK_FILE)) {
        if (ver_pin_locked(v, n->ver)) {
            pthread_mutex_unlock(&v->mu);
            return err_set(err, -ESTALE, "version %llu was vacuumed", (unsigned long long)n->ver->version);
        }
        out->pin = n->ver;
    }
    if (!n) {
        rc = err_set(err, -ESTALE, "inode %llu is not known", (unsigned long long)ino);
    } else if (n->kind == VK_PARTXT || n->kind == VK_IDBPAR) {
        out->memory = true;
        out->p = n->kind == VK_PARTXT ? n->ver->partxt : n->ver->idbpar;
        out->len = n->kind == VK_PARTXT ? n->ver->partxt_len : n->ver->idbpar_len;
    } else if (n->kind == VK_FILE) {
        struct store_entry *e = &out->obj;
        out->version = n->ver->version;
        snprintf(e->name, sizeof e->name, "object %llu", (unsigned long long)n->id);
        e->kind = STORE_FILE;
        e->tier = n->tier;
        e->flags = n->flags;
        e->id = n->id;
        e->size = n->size;
        e->mtime_ns = n->mtime_ns;
    } else {
        rc = err_set(err, -EISDIR, "is a directory");
    }
    pthread_mutex_unlock(&v->mu);
    return rc;
}

void view_pt_setup(struct view *v, int (*open)(void *arg, const struct store_entry *obj),
                   void (*close)(void *arg, int id), void *arg, size_t keep)
{
    pthread_mutex_lock(&v->mu);
    v->pt_open = open;
    v->pt_close = close;
    v->pt_arg = arg;
    v->pt_keep = keep;
    pthread_mutex_unlock(&v->mu);
}

int view_pt_acquire(struct view *v, uint64_t ino, const struct view_file *f, int *backing_id)
{
    if (f->memory || !v->pt_open) return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&v->mu);
    struct vnode *n = node_get_locked(v, ino);
    if (!n) {
        rc = -ESTALE;
    } else if (n->backing_id > 0) {
        /* Open already, or kept since its last close: the warm open costs no store
         * lookup and no ioctl, only this round trip. */
        if (!n->nopen) kept_unlink_locked(v, n);
    } else {
        /* Under the mutex: a second open of this inode must wait for the id, since
         * the kernel wants one backing file per inode (fuse-perf.md §4). */
        rc = v->pt_open(v->pt_arg, &f->obj);
        if (rc > 0) n->backing_id = rc, rc = 0, v->pt_live++;
        else if (rc == 0) rc = -EIO;
    }
    if (!rc) {
        n->nopen++;
        *backing_id = n->backing_id;
    }
    pthread_mutex_unlock(&v->mu);
    return rc;
}

void view_pt_release(struct view *v, uint64_t ino)
{
    pthread_mutex_lock(&v->mu);
    struct vnode *n = node_get_locked(v, ino);
    if (n && n->nopen && !--n->nopen) {
        /* Kept while the kernel keeps the inode (until FORGET drops the node), for
         * the next open; not when the object moved, nobody may look it up again, or
         * its version may be vacuumed. The oldest kept goes beyond the bound. */
        if (n->pt_stale || !n->nlookup || !v->pt_keep || ver_retired_locked(v, n->ver)) {
            pt_drop_locked(v, n);
            node_drop_locked(v, n);
        } else {
            n->idle_prev = v->idle_tail;
            if (v->idle_tail) v->idle_tail->idle_next = n;
            else v->idle_head = n;
            v->idle_tail = n;
            v->pt_kept++;
            while (v->pt_kept > v->pt_keep) pt_drop_locked(v, v->idle_head);
        }
    }
    pthread_mutex_unlock(&v->mu);
}

size_t view_pt_drop_retired(struct view *v)
{
    size_t dropped = 0;
    pthread_mutex_lock(&v->mu);
    for (struct vnode *n = v->idle_head, *next; n; n = next) {
        next = n->idle_next;
        if (ver_retired_locked(v, n->ver)) pt_drop_locked(v, n), dropped++;
    }
    pthread_mutex_unlock(&v->mu);
    return dropped;
}

void view_close(struct view *v, struct view_file *f)
{
    if (!f->pin) return;
    pthread_mutex_lock(&v->mu);
    ver_release_locked(v, f->pin);
    pthread_mutex_unlock(&v->mu);
    f->pin = NULL;
}

void view_stats(struct view *v, struct view_stats *st)
{
    pthread_mutex_lock(&v->mu);
    st->inodes = v->nodes.n + 1;
    st->versions = v->nvers;
    st->pinned = 0;
    for (struct vver *w = v->vers; w; w = w->next) st->pinned += w->pins > 0;
    st->current = v->cur ? v->cur->version : 0;
    st->pt_registered = v->pt_live;
    st->pt_kept = v->pt_kept;
    pthread_mutex_unlock(&v->mu);
}

void view_on_unpinned(struct view *v, void (*fn)(void *arg, uint64_t version), void *arg)
{
    pthread_mutex_lock(&v->mu);
    v->unpinned = fn;
    v->unpinned_arg = arg;
    pthread_mutex_unlock(&v->mu);
}
