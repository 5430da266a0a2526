/* fs/mount.c: see mount.h. */
#define FUSE_USE_VERSION 314
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/log.h"
#include "fs/fdcache.h"
#include "fs/s3cache.h"
#include "fs/passthrough.h"

/* Every name and attribute of a version is immutable, and the few that a new version
 * changes are invalidated explicitly (mount_publish), so the kernel may keep them. */
#define TIMEOUT_S      86400.0
#define MAX_BACKGROUND 64
#define READAHEAD_MIN  1024          /* KiB */
/* Passthrough registrations kept after their file's last close, for the next open
 * (fs/view.h). Each is a kernel reference to a backing file (a struct file, and the
 * backing inode kept in memory), not one of our descriptors, and lives only as long as
 * the kernel keeps the FUSE inode: under memory pressure the kernel's shrinker evicts
 * the inode, FORGET arrives, and the registration goes with it. The bound is for a
 * machine with memory to spare, where nothing is ever forgotten: it is above the files
 * of the shapes we measure (137,501 in bench/read), since a query that cycles through
 * more files than the bound would find none kept (least recently closed goes first). */
#define PT_KEEP        (1u << 20)

struct mount {
    struct view        *v;
    struct store       *s;
    struct fuse_session *se;
    char               *mountpoint;
    bool                mounted, single_thread;
    unsigned            max_threads, readahead_kb_opt;
    _Atomic bool        pt_on;       /* may try passthrough */
    atomic_bool         pt_offered;  /* the kernel's INIT offered passthrough */
    bool                no_opendir;  /* the kernel takes ENOSYS from opendir */
    atomic_bool         pt_warned;
    _Atomic uint64_t    lookups, getattrs, readdirs, opens, pt_opens, reads, read_bytes,
                        releases, erofs;
    unsigned            readahead_kb;
    struct fdcache     *fds;         /* the cached path's descriptors, bounded */
    struct s3cache     *s3cache;     /* borrowed; NULL: no file of the bucket is served */
    pthread_t           runner;      /* the thread in mount_run, while running is set */
    atomic_bool         running;
};

/* What fi->fh holds for an open file. */
struct ofile {
    bool               pt;           /* passthrough: nothing to read here */
    int                cfd;          /* a file of object storage: its fd in the s3 cache, else -1 */
    const uint8_t     *mem;          /* par.txt */
    size_t             len;
    struct view_file   f;            /* holds the version until release */
};

static struct mount *M(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static void to_stat(const struct view_attr *a, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = a->ino;
    st->st_mode = a->mode;
    st->st_nlink = a->nlink;
    st->st_size = (off_t)a->size;
    st->st_blksize = 4096;
    st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
    st->st_mtim.tv_sec = a->mtime_ns / 1000000000;
    st->st_mtim.tv_nsec = a->mtime_ns % 1000000000;
    st->st_ctim = st->st_atim = st->st_mtim;
}

static void reply_err(fuse_req_t req, const char *op, const struct smfs_err *e)
{
    int code = e->code ? -e->code : EIO;
    if (code != ENOENT) log_warn("%s: %s", op, e->msg);
    fuse_reply_err(req, code);
}

/* ---- init ------------------------------------------------------------------------ */

static void op_init(void *ud, struct fuse_conn_info *conn)
{
    struct mount *m = ud;
    /* Writeback caching forbids passthrough and means nothing read-only. */
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
    if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
    /* Readahead requests are background requests: the default 12 throttles parallel
     * sequential readers (fuse-perf.md §5.5). */
    conn->max_background = MAX_BACKGROUND;
    /* No OPENDIR/RELEASEDIR round trips: opendir answers ENOSYS once, and the kernel
     * then caches every listing (KEEP_CACHE|CACHE_DIR) until we invalidate it. */
    if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
        conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
        m->no_opendir = true;
    }
    conn->congestion_threshold = MAX_BACKGROUND * 3 / 4;
    if (m->pt_on) {
        atomic_store(&m->pt_offered, pt_kernel_offers());
        pt_mark_init();
    }
}

/* ---- names and attributes ----------------------------------------------------------- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct mount *m = M(req);
    struct smfs_err e = {0};
    struct view_attr a;
    struct fuse_entry_param ep;
    memset(&ep, 0, sizeof ep);
    atomic_fetch_add(&m->lookups, 1);
    int rc = view_lookup(m->v, parent, name, &a, &e);
    if (rc == -ENOENT) {
        /* A negative entry: kdb+ probes for optional files (par.txt, col#). Root names
         * that a version adds are invalidated by mount_publish. */
        ep.entry_timeout = TIMEOUT_S;
        fuse_reply_entry(req, &ep);
        return;
    }
    if (rc) return reply_err(req, "lookup", &e);
    ep.ino = a.ino;
    ep.generation = 1;
    to_stat(&a, &ep.attr);
    ep.attr_timeout = ep.entry_timeout = TIMEOUT_S;
    if (fuse_reply_entry(req, &ep)) view_forget(m->v, a.ino, 1);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    view_forget(M(req)->v, ino, nlookup);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
    for (size_t i = 0; i < count; i++) view_forget(M(req)->v, f[i].ino, f[i].nlookup);
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct mount *m = M(req);
    struct smfs_err e = {0};
    struct view_attr a;
    struct stat st;
    atomic_fetch_add(&m->getattrs, 1);
    if (view_getattr(m->v, ino, &a, &e)) return reply_err(req, "getattr", &e);
    to_stat(&a, &st);
    /* The root's size and time follow the version; everything else is immutable. */
    fuse_reply_attr(req, &st, ino == VIEW_ROOT_INO ? 1.0 : TIMEOUT_S);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    struct statvfs sv;
    if (statvfs(store_home(M(req)->s), &sv)) {
        fuse_reply_err(req, errno);
        return;
    }
    sv.f_flag |= ST_RDONLY;
    sv.f_namemax = STORE_NAME_MAX;
    fuse_reply_statfs(req, &sv);
}

/* ---- directories -------------------------------------------------------------------- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    if (M(req)->no_opendir) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    /* Listings are immutable per inode (the root's is dropped by mount_publish), so
     * the kernel keeps them: both flags, or the cache is dropped at each opendir. */
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

struct dirbuf {
    fuse_req_t req;
    char      *p;
    size_t     size, used;
    bool       plus;
};

static bool add_dirent(void *arg, const char *name, const struct view_attr *a, uint64_t next)
{
    struct dirbuf *b = arg;
    size_t room = b->size - b->used, need;
    if (b->plus) {
        struct fuse_entry_param ep;
        memset(&ep, 0, sizeof ep);
        ep.ino = a->ino;
        ep.generation = 1;
        to_stat(a, &ep.attr);
        ep.attr_timeout = ep.entry_timeout = TIMEOUT_S;
        need = fuse_add_direntry_plus(b->req, b->p + b->used, room, name, &ep, (off_t)next);
    } else {
        struct stat st;
        memset(&st, 0, sizeof st);
        st.st_ino = a->ino;
        st.st_mode = a->mode;
        need = fuse_add_direntry(b->req, b->p + b->used, room, name, &st, (off_t)next);
    }
    if (need > room) return false;
    b->used += need;
    return true;
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
    struct mount *m = M(req);
    struct smfs_err e = {0};
    struct dirbuf b = {.req = req, .size = size, .plus = plus};
    atomic_fetch_add(&m->readdirs, 1);
    if (!(b.p = malloc(size))) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    if (view_readdir(m->v, ino, (uint64_t)off, plus, add_dirent, &b, &e)) reply_err(req, "readdir", &e);
    else fuse_reply_buf(req, b.p, b.used);
    free(b.p);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)fi;
    readdir_common(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    (void)fi;
    readdir_common(req, ino, size, off, true);
}

/* ---- files --------------------------------------------------------------------------- */

static int fd_open(void *arg, const struct store_entry *obj, struct smfs_err *err)
{
    struct mount *m = arg;
    return store_object_open(m->s, obj, err);
}

static int pt_open_cb(void *arg, const struct store_entry *obj)
{
    struct mount *m = arg;
    int fd = store_object_open(m->s, obj, NULL);
    if (fd < 0) return fd;
    int id = pt_backing_open(fuse_session_fd(m->se), fd);
    /* The kernel holds the backing file now; our fd is not needed. */
    close(fd);
    return id;
}

static void pt_close_cb(void *arg, int id)
{
    struct mount *m = arg;
    pt_backing_close(fuse_session_fd(m->se), id);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct mount *m = M(req);
    struct smfs_err e = {0};
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        atomic_fetch_add(&m->erofs, 1);
        fuse_reply_err(req, EROFS);
        return;
    }
    struct ofile *of = calloc(1, sizeof *of);
    if (!of) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    if (view_open(m->v, ino, &of->f, &e)) {
        free(of);
        return reply_err(req, "open", &e);
    }
    atomic_fetch_add(&m->opens, 1);
    fi->noflush = 1;   /* nothing to flush read-only: saves a FLUSH per close */
    of->cfd = -1;
    if (!of->f.memory && (of->f.obj.flags & STORE_F_REMOTE)) {
        /* A file of the bucket: fetched (once) into the cache, read from there. The
         * open waits for the fetch: kdb+ maps what it opens, so the bytes must be here. */
        int fd = m->s3cache ? s3cache_open(m->s3cache, of->f.version, &of->f.obj, &e)
                              : err_set(&e, -EREMOTE, "'%s' is in object storage and smfs runs without --s3-cache",
                                        of->f.obj.name);
        if (fd < 0) {
            view_close(m->v, &of->f);
            free(of);
            return reply_err(req, "open", &e);
        }
        of->cfd = fd;
    } else if (of->f.memory) {
        of->mem = of->f.p;
        of->len = of->f.len;
    } else {
        int id;
        if (m->pt_on) {
            int rc = view_pt_acquire(m->v, ino, &of->f, &id);
            if (rc == 0) {
                of->pt = true;
                fi->fh = (uint64_t)(uintptr_t)of;
                atomic_fetch_add(&m->pt_opens, 1);
                pt_mark_open(id);
                if (fuse_reply_open(req, fi)) {
                    view_pt_release(m->v, ino);
                    view_close(m->v, &of->f);
                    free(of);
                }
                return;
            }
            if (rc == -EPERM || rc == -ENOTTY || rc == -EINVAL || rc == -EOPNOTSUPP) {
                /* The kernel did not take passthrough (no CAP_SYS_ADMIN, or an older
                 * kernel): serve everything through the cached path from now on. */
                m->pt_on = false;
                if (!atomic_exchange(&m->pt_warned, true))
                    log_warn("kernel passthrough refused (%s): files are served through the cached path",
                             strerror(-rc));
            } else if (rc < 0) {
                view_close(m->v, &of->f);
                free(of);
                fuse_reply_err(req, -rc);
                return;
            }
        }
    }
    /* Content per inode never changes, so the page cache survives every open. */
    fi->keep_cache = 1;
    fi->fh = (uint64_t)(uintptr_t)of;
    if (fuse_reply_open(req, fi)) {
        view_close(m->v, &of->f);
        free(of);
    }
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)ino;
    struct mount *m = M(req);
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    atomic_fetch_add(&m->reads, 1);
    if (of->mem) {
        size_t o = (size_t)off < of->len ? (size_t)off : of->len;
        size_t n = of->len - o < size ? of->len - o : size;
        atomic_fetch_add(&m->read_bytes, n);
        fuse_reply_buf(req, (const char *)of->mem + o, n);
        return;
    }
    /* The object's fd comes from the bounded cache at each READ, not at open: a mapped
     * file served from the page cache never costs one, and 24,000 files held open
     * cost at most the cache's bound (fs/fdcache.h). */
    struct smfs_err e = {0};
    struct fdcache_hold h = {0};
    /* OF is not ours after the reply: the kernel may release the file at once. */
    bool cached = of->cfd < 0;
    int fd = cached ? fdcache_get(m->fds, &of->f.obj, fd_open, m, &h, &e) : of->cfd;
    if (fd < 0) return reply_err(req, "read", &e);
    struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
    bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    bv.buf[0].fd = fd;
    bv.buf[0].pos = off;
    uint64_t left = of->f.obj.size > (uint64_t)off ? of->f.obj.size - (uint64_t)off : 0;
    atomic_fetch_add(&m->read_bytes, left < size ? left : size);
    fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
    if (cached) fdcache_put(m->fds, &h);   /* the reply has read the bytes: the fd is free again */
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct mount *m = M(req);
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    atomic_fetch_add(&m->releases, 1);
    if (of->pt) view_pt_release(m->v, ino);
    if (of->cfd >= 0) s3cache_close(m->s3cache, of->f.obj.id, of->cfd);
    view_close(m->v, &of->f);
    free(of);
    fuse_reply_err(req, 0);
}

/* ---- writes: none ----------------------------------------------------------------------- */

static void refuse(fuse_req_t req)
{
    atomic_fetch_add(&M(req)->erofs, 1);
    fuse_reply_err(req, EROFS);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int set,
                       struct fuse_file_info *fi)
{
    (void)ino, (void)a, (void)set, (void)fi;
    refuse(req);
}
static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mo, dev_t d)
{
    (void)p, (void)n, (void)mo, (void)d;
    refuse(req);
}
static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mo)
{
    (void)p, (void)n, (void)mo;
    refuse(req);
}
static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n)
{
    (void)p, (void)n;
    refuse(req);
}
static void op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n)
{
    (void)l, (void)p, (void)n;
    refuse(req);
}
static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np,
                      const char *nn, unsigned int f)
{
    (void)p, (void)n, (void)np, (void)nn, (void)f;
    refuse(req);
}
static void op_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn)
{
    (void)i, (void)np, (void)nn;
    refuse(req);
}
static void op_write(fuse_req_t req, fuse_ino_t i, const char *b, size_t s, off_t o,
                     struct fuse_file_info *fi)
{
    (void)i, (void)b, (void)s, (void)o, (void)fi;
    refuse(req);
}
static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mo,
                      struct fuse_file_info *fi)
{
    (void)p, (void)n, (void)mo, (void)fi;
    refuse(req);
}
static void op_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v,
                        size_t s, int f)
{
    (void)i, (void)n, (void)v, (void)s, (void)f;
    refuse(req);
}
static void op_removexattr(fuse_req_t req, fuse_ino_t i, const char *n)
{
    (void)i, (void)n;
    refuse(req);
}
static void op_fallocate(fuse_req_t req, fuse_ino_t i, int mo, off_t o, off_t l,
                         struct fuse_file_info *fi)
{
    (void)i, (void)mo, (void)o, (void)l, (void)fi;
    refuse(req);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_unlink,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
    .create = op_create,
    .fallocate = op_fallocate,
};

/* ---- readahead ---------------------------------------------------------------------------- */

static long read_sys_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f) return -1;
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

/* The readahead of the disk under DIR (a partition's is its disk's). */
static long backing_readahead(const char *dir)
{
    struct stat st;
    char p[256];
    if (stat(dir, &st)) return -1;
    unsigned ma = major(st.st_dev), mi = minor(st.st_dev);
    snprintf(p, sizeof p, "/sys/dev/block/%u:%u/queue/read_ahead_kb", ma, mi);
    long v = read_sys_long(p);
    if (v < 0) {
        snprintf(p, sizeof p, "/sys/dev/block/%u:%u/../queue/read_ahead_kb", ma, mi);
        v = read_sys_long(p);
    }
    if (v < 0) {
        snprintf(p, sizeof p, "/sys/class/bdi/%u:%u/read_ahead_kb", ma, mi);
        v = read_sys_long(p);
    }
    return v;
}

/* The FUSE bdi defaults to 128 KiB of readahead; the kernel only lets a daemon lower
 * it, so it is raised through sysfs (10x on cold sequential mmap scans, fuse-perf.md
 * §5.4). Our own st_dev comes from mountinfo: a stat of the mount point here would
 * wait for a request loop that is not running yet. */
/* The device of the FUSE mount at MNT (an absolute, resolved path), from mountinfo:
 * the last one listed is the top of the stack. */
static bool fuse_mount_dev(const char *mnt, unsigned *ma, unsigned *mi)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) return false;
    char line[4096], path[4096];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        unsigned a, b;
        if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &a, &b, path) == 3 && !strcmp(path, mnt) &&
            strstr(line, " - fuse")) {
            *ma = a, *mi = b, found = true;
        }
    }
    fclose(f);
    return found;
}

static void raise_readahead(struct mount *m)
{
    unsigned ma, mi;
    if (!fuse_mount_dev(m->mountpoint, &ma, &mi)) return;
    long want = m->readahead_kb_opt ? (long)m->readahead_kb_opt : backing_readahead(store_home(m->s));
    if (!m->readahead_kb_opt && want < READAHEAD_MIN) want = READAHEAD_MIN;
    char p[128];
    snprintf(p, sizeof p, "/sys/class/bdi/%u:%u/read_ahead_kb", ma, mi);
    FILE *w = fopen(p, "w");
    bool ok = w && fprintf(w, "%ld\n", want) > 0;
    if (w && fclose(w)) ok = false;
    if (!ok) {
        log_warn("could not set %s to %ld KiB (%s): cold scans will be slower", p, want,
                 strerror(errno));
        return;
    }
    m->readahead_kb = (unsigned)want;
    log_info("FUSE readahead %ld KiB (%s)", want, p);
}

/* ---- the session ---------------------------------------------------------------------------- */

int mount_new(struct view *v, struct store *s, const struct mount_opts *o, struct mount **out,
              struct smfs_err *err)
{
    struct mount *m = calloc(1, sizeof *m);
    if (!m) return err_set(err, -ENOMEM, "out of memory");
    m->v = v;
    m->s = s;
    m->single_thread = o->single_thread;
    m->max_threads = o->max_threads;
    m->readahead_kb_opt = o->readahead_kb;
    m->pt_on = o->passthrough;
    m->s3cache = o->s3cache;
    /* A quarter of the descriptors smfs may have, at most 16,384, for the cached path:
     * the rest stay for sockets, the store's packs and passthrough registrations. */
    struct rlimit rl;
    size_t fdmax = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur / 4 : 4096;
    if (fdmax > 16384) fdmax = 16384;
    if (fdmax < 16) fdmax = 16;
    if (fdcache_new(o->max_fds ? o->max_fds : fdmax, &m->fds)) {
        free(m);   /* nothing else to free yet */
        return err_set(err, -ENOMEM, "out of memory");
    }
    char *real = realpath(o->mountpoint, NULL);
    if (!real) {
        int rc = err_sys(err, "realpath", o->mountpoint);
        fdcache_free(m->fds);
        free(m);
        return rc;
    }
    unsigned ma, mi;
    struct statvfs sv;
    if (fuse_mount_dev(real, &ma, &mi)) {
        /* A FUSE mount is there already. A dead one (what a SIGKILLed daemon leaves:
         * statfs needs the daemon, unlike a stat the kernel answers from its cache)
         * is cleared as fusermount3 -u would; a live one is refused. */
        if (statvfs(real, &sv) == 0 || errno != ENOTCONN) {
            free(real);
            fdcache_free(m->fds);
            free(m);
            return err_set(err, -EBUSY, "'%s' is already a live FUSE mount (another smfs?): unmount it first",
                           o->mountpoint);
        }
        if (umount2(real, MNT_DETACH)) {
            int rc = err_sys(err, "umount2", real);
            err_wrap(err, "mount point '%s' is a dead FUSE mount; clear it with fusermount3 -u", o->mountpoint);
            free(real);
            fdcache_free(m->fds);
            free(m);
            return rc;
        }
        log_warn("%s was a dead FUSE mount (its daemon was killed): unmounted it", o->mountpoint);
    }
    struct stat st;
    m->mountpoint = real;
    if (stat(real, &st) || !S_ISDIR(st.st_mode)) {
        mount_free(m);
        return err_set(err, -ENOTDIR, "mount point '%s' is not a directory", o->mountpoint);
    }
    /* ro: the kernel refuses writes before they reach us; the handlers say EROFS too. */
    if (fuse_opt_add_arg(o->args, "-oro") || fuse_opt_add_arg(o->args, "-ofsname=smfs") ||
        fuse_opt_add_arg(o->args, "-osubtype=smfs") ||
        fuse_opt_add_arg(o->args, "-odefault_permissions")) {
        mount_free(m);
        return err_set(err, -ENOMEM, "out of memory");
    }
    m->se = fuse_session_new(o->args, &ops, sizeof ops, m);
    if (!m->se) {
        mount_free(m);
        return err_set(err, -EINVAL, "could not start a FUSE session (bad -o option? see above)");
    }
    if (fuse_session_mount(m->se, real)) {
        mount_free(m);
        return err_set(err, -EIO, "could not mount on '%s' (is /dev/fuse there, and fusermount3 installed?)", real);
    }
    m->mounted = true;
    /* The hook patches nothing unless asked (pt_mark_*), so the cached path may
     * have it for its polling alone. */
    pt_set_poll(o->poll_us);
    if ((m->pt_on || o->poll_us) && pt_install(m->se)) {
        log_warn("could not install the FUSE session hook: no passthrough, no polling");
        m->pt_on = false;
    }
    if (m->pt_on) view_pt_setup(v, pt_open_cb, pt_close_cb, m, PT_KEEP);
    if (fuse_set_signal_handlers(m->se)) {
        mount_free(m);
        return err_set(err, -EIO, "could not install signal handlers");
    }
    raise_readahead(m);
    *out = m;
    return 0;
}

int mount_run(struct mount *m, struct smfs_err *err)
{
    int rc;
    m->runner = pthread_self();
    atomic_store(&m->running, true);
    if (m->single_thread) {
        rc = fuse_session_loop(m->se);
    } else {
        struct fuse_loop_config *cfg = fuse_loop_cfg_create();
        if (!cfg) return err_set(err, -ENOMEM, "out of memory");
        if (m->max_threads) fuse_loop_cfg_set_max_threads(cfg, m->max_threads);
        rc = fuse_session_loop_mt(m->se, cfg);
        fuse_loop_cfg_destroy(cfg);
    }
    atomic_store(&m->running, false);
    /* A signal ends the loop with rc 0 or the signal number; both are a clean stop. */
    if (rc < 0) return err_set(err, rc, "FUSE request loop: %s", strerror(-rc));
    return 0;
}

void mount_free(struct mount *m)
{
    if (!m) return;
    if (m->se) {
        fuse_remove_signal_handlers(m->se);
        if (m->mounted) fuse_session_unmount(m->se);
        fuse_session_destroy(m->se);
    }
    fdcache_free(m->fds);
    free(m->mountpoint);
    free(m);
}

void mount_forget_fds(struct mount *m)
{
    fdcache_drop(m->fds);
    view_pt_drop_retired(m->v);
}

void mount_stop(struct mount *m)
{
    /* The session's own exit flag ends the loop; the loop only looks at it between
     * requests, though, and the runner sleeps (on the workers' semaphore, or in read
     * of /dev/fuse with -s) until something happens. A signal to that one thread --
     * never to the process, whose other threads must not take it -- interrupts that
     * sleep with EINTR; libfuse's handler, installed by mount_new and removed only by
     * mount_free after the loop, sets the same flag again. */
    fuse_session_exit(m->se);
    if (atomic_load(&m->running)) pthread_kill(m->runner, SIGTERM);
}

void mount_publish(struct mount *m, const struct view_change *c)
{
    /* Names first, then the root's listing: a reader that lists the root after this
     * returns sees the new names, and each of them resolves in the new version. */
    for (size_t i = 0; i < c->n; i++) {
        int rc = fuse_lowlevel_notify_inval_entry(m->se, VIEW_ROOT_INO, c->names[i], strlen(c->names[i]));
        if (rc && rc != -ENOENT) log_warn("invalidating '%s': %s", c->names[i], strerror(-rc));
    }
    int rc = fuse_lowlevel_notify_inval_inode(m->se, VIEW_ROOT_INO, 0, 0);
    if (rc && rc != -ENOENT) log_warn("invalidating the root: %s", strerror(-rc));
}

void mount_stats(struct mount *m, struct mount_stats *st)
{
    st->lookups = m->lookups;
    st->getattrs = m->getattrs;
    st->readdirs = m->readdirs;
    st->opens = m->opens;
    st->pt_opens = m->pt_opens;
    st->reads = m->reads;
    st->read_bytes = m->read_bytes;
    st->releases = m->releases;
    st->erofs = m->erofs;
    struct fdcache_stats fs;
    fdcache_stats(m->fds, &fs);
    st->fds_open = fs.open;
    st->fds_max = fs.max;
    st->passthrough = m->pt_on;
    st->passthrough_offered = m->pt_offered;
    st->readahead_kb = m->readahead_kb;
}
