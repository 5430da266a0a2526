/* fs/smfs.c: the smfs daemon. `smfs [options] MOUNTPOINT` opens the assembly's store
 * (importing the HDB first when the assembly says initialImport), mounts the view of
 * its current version with FUSE (or writes it as a symlink tree with --vanilla, or
 * when FUSE is unavailable), starts the control thread (control/), and serves until
 * SIGTERM, SIGINT, `smctl stop` or fusermount3 -u. Usable from /etc/fstab as type
 * fuse.smfs:
 *   /etc/smfs/assembly.yaml  /hdb  fuse.smfs  allow_other  0 0
 * (mount.fuse3 passes the first field as a source argument: a .yaml file there is
 * the assembly).
 *
 * This file wires the two halves together: the readers' side (fs/view, fs/mount,
 * fs/vanilla) and the Storage Manager (control/), which reaches the readers' side
 * only through the struct control_hooks installed here. */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <curl/curl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/control.h"
#include "core/config.h"
#include "core/fault.h"
#include "core/fileio.h"
#include "core/import.h"
#include "core/log.h"
#include "core/notify.h"
#include "core/store.h"
#include "fs/mount.h"
#include "fs/smfs_opts.h"
#include "fs/s3cache.h"
#include "fs/vanilla.h"
#include "fs/view.h"
#include "ipc/admin.h"

/* Everything main opens, released in one place (daemon_release). */
struct daemon {
    struct smfs_opts *o;
    struct cfg       *cfg;
    struct store     *store;
    struct view      *view;
    struct mount     *mount;          /* FUSE mode */
    struct s3cache   *s3cache;        /* --s3-cache */
    const char       *vanilla_dir;    /* symlink mode: the mount point */
    char              mnt[PATH_MAX];  /* absolute mount point */
    char              admin[PATH_MAX], qsock[PATH_MAX];
    int               stop_fd;        /* symlink mode: eventfd the stop hook writes */
    struct control   *ctl;
    bool              curl_inited;
    char              tp_creds[1100]; /* --tp-login's user:password ("": none) */
    pthread_t         ready_th;       /* FUSE: waits for the mount to answer, then READY=1 */
    bool              ready_started;
};

static void notify_ready_version(struct daemon *d)
{
    char line[PATH_MAX + 64];
    uint64_t v = view_current(d->view);
    if (v) snprintf(line, sizeof line, "serving version %llu at %s", (unsigned long long)v, d->mnt);
    else snprintf(line, sizeof line, "serving an empty store at %s", d->mnt);
    notify_ready(line);
}

/* ---- the hooks control/ calls ------------------------------------------------------ */

/* Writer thread: the view first, then what the kernel caches or the symlink tree. */
static int hook_publish(void *arg, uint64_t *old, struct smfs_err *err)
{
    struct daemon *d = arg;
    struct view_change chg;
    int rc = view_publish(d->view, 0, &chg, err);
    if (rc) return rc;
    *old = chg.old_version;
    if (d->mount) mount_publish(d->mount, &chg);
    if (d->vanilla_dir) rc = vanilla_publish(d->vanilla_dir, d->view, d->store, err);
    view_change_free(&chg);
    return rc;
}

/* Writer thread, after a vacuum: the symlink tree drops the v<N>$ of dropped versions
 * (the FUSE view learns it from the store: their inodes answer ESTALE), and the FUSE
 * cached path closes its idle descriptors, so unlinked objects give their space back. */
static int hook_vacuumed(void *arg, struct smfs_err *err)
{
    struct daemon *d = arg;
    if (d->mount) mount_forget_fds(d->mount);
    return d->vanilla_dir ? vanilla_publish(d->vanilla_dir, d->view, d->store, err) : 0;
}

static uint64_t hook_current(void *arg)
{
    struct daemon *d = arg;
    return view_current(d->view);
}

static void hook_stats(void *arg, struct control_view_stats *st)
{
    struct daemon *d = arg;
    struct view_stats vs;
    view_stats(d->view, &vs);
    *st = (struct control_view_stats){.current = vs.current, .inodes = vs.inodes,
                                      .versions = vs.versions, .pinned = vs.pinned};
    if (!d->mount) return;
    struct mount_stats ms;
    mount_stats(d->mount, &ms);
    st->fuse = true;
    st->passthrough = ms.passthrough;
    st->passthrough_offered = ms.passthrough_offered;
    st->readahead_kb = ms.readahead_kb;
    st->lookups = ms.lookups;
    st->getattrs = ms.getattrs;
    st->readdirs = ms.readdirs;
    st->opens = ms.opens;
    st->pt_opens = ms.pt_opens;
    st->reads = ms.reads;
    st->read_bytes = ms.read_bytes;
    st->releases = ms.releases;
    st->erofs = ms.erofs;
    st->fds_open = ms.fds_open;
    st->fds_max = ms.fds_max;
    st->backings = vs.pt_registered;
    st->backings_kept = vs.pt_kept;
}

/* Loop thread (smctl stop): end the FUSE session, or wake the symlink mode's wait. */
static void hook_stop(void *arg)
{
    struct daemon *d = arg;
    if (d->mount) {
        mount_stop(d->mount);
    } else {
        uint64_t one = 1;
        ssize_t w = write(d->stop_fd, &one, sizeof one);
        (void)w;   /* a full counter already says "stop" */
    }
}

/* FUSE thread, under the view's lock: control_unpinned only wakes the loop. */
static void on_unpinned(void *arg, uint64_t version)
{
    (void)version;
    control_unpinned(arg);
}

/* libfuse writes one message in pieces ("unknown option(s): `", "-o ", "x'", "\n"):
 * each thread collects its pieces and logs one line at the newline. */
static void fuse_to_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
    static __thread char pend[1024];
    enum log_level l = level <= FUSE_LOG_ERR ? LOG_ERR_ : level <= FUSE_LOG_WARNING ? LOG_WARN_
                     : level <= FUSE_LOG_INFO ? LOG_INFO_ : LOG_DEBUG_;
    size_t n = strlen(pend);
    vsnprintf(pend + n, sizeof pend - n, fmt, ap);
    n = strlen(pend);
    if (n && pend[n - 1] != '\n' && n < sizeof pend - 1) return;
    log_msg(l, "%s", pend);
    pend[0] = '\0';
}

/* ---- start-up ---------------------------------------------------------------------- */

/* The assembly, with every problem in it logged as smctl config check prints it
 * (FILE:LINE:COL: key: message), errors and warnings alike. */
static struct cfg *load_cfg(const char *path)
{
    struct cfg *c = NULL;
    struct smfs_err e = {0};
    int rc = cfg_open(path, &c, &e);
    for (size_t i = 0; c && i < c->ndiags; i++) {
        char line[1024];
        cfg_diag_str(c, &c->diags[i], line, sizeof line);
        log_msg(c->diags[i].sev == CFG_WARNING ? LOG_WARN_ : LOG_ERR_, "%s", line);
    }
    if (rc || (c && c->nerrors)) {
        log_err("%s; nothing was started (smctl config check FILE shows the same)", e.msg[0] ? e.msg : "bad assembly");
        cfg_free(c);
        return NULL;
    }
    if (!c->ndate) {
        log_err("%s: the assembly has no local date tier to serve", c->file);
        cfg_free(c);
        return NULL;
    }
    log_info("assembly %s (%s)", c->file, c->origin);
    return c;
}

static void import_diag(void *arg, const char *line)
{
    (void)arg;
    log_info("import: %s", line);
}

/* initialImport: convert the HDB in the first tier's store directory before serving,
 * or finish an import a crash interrupted. */
static int initial_import(const struct cfg *c)
{
    const char *state = import_state(c);
    struct stat st;
    bool have_store = store_exists(c->date_tiers[0]->store.path);
    if (!strcmp(state, "rollback")) {
        log_err("an import rollback was interrupted in %s: finish it with 'smctl import --rollback' "
                "first", c->date_tiers[0]->store.path);
        return -1;
    }
    if (!c->sm.initial_import && strcmp(state, "running")) return 0;
    if (have_store && strcmp(state, "running")) return 0;
    if (!have_store && stat(c->date_tiers[0]->store.path, &st)) return 0;   /* nothing there yet */
    log_info("initialImport: importing %s", c->date_tiers[0]->store.path);
    struct import_opts io = {.cfg = c, .verify = true, .diag = import_diag};
    struct import_summary sum;
    struct smfs_err e = {0};
    if (import_run(&io, &sum, &e)) {
        log_err("initialImport: %s", e.msg);
        return -1;
    }
    log_info("initialImport: %llu partitions, %llu files, %llu bytes into version %llu%s",
             (unsigned long long)sum.partitions, (unsigned long long)sum.files,
             (unsigned long long)sum.bytes, (unsigned long long)sum.version,
             sum.resumed ? " (resumed)" : "");
    return 0;
}

/* The log, as the options say; 0 or exit status 2 (message on stderr). */
static int start_log(const struct smfs_opts *o)
{
    log_init(o->level, "smfs");
    fuse_set_log_func(fuse_to_log);
    log_to_syslog(o->syslog);
    if (o->log_file) {
        int rc = log_to_file(o->log_file);
        if (rc) {
            fprintf(stderr, "smfs: --log-file '%s': %s\n", o->log_file, strerror(-rc));
            return 2;
        }
    }
    return 0;
}

/* The assembly, the store (after any initial import) and the view over it. 0 or an
 * exit status. */
static int open_store(struct daemon *d)
{
    struct smfs_err e = {0};
    if (!(d->cfg = load_cfg(d->o->config))) return SMFS_EXIT_CONFIG;
    if (initial_import(d->cfg)) return SMFS_EXIT_STORE;
    struct store_recovery rep;
    int rc = import_store_open(d->cfg, true, &d->store, &rep, &e);
    struct view_opts vo = {.idb = d->cfg->ordinal_tier != NULL};
    if (!rc && d->o->s3_cache) {
        /* The bucket's files are fetched at open: only a FUSE mount has an open. */
        if (d->o->vanilla || access("/dev/fuse", R_OK | W_OK))
            rc = err_set(&e, -EINVAL, "--s3-cache needs a FUSE mount (%s)",
                         d->o->vanilla ? "--vanilla was given" : "/dev/fuse is not available");
        if (!rc) rc = s3cache_new(d->o->s3_cache, d->cfg, d->store, &d->s3cache, &e);
        if (!rc) {
            vo.s3seg = s3cache_segment(d->s3cache);
            vo.s3line = s3cache_line(d->s3cache);
            log_info("the bucket's days (%s) are served as segment %s through the cache %s", vo.s3line, vo.s3seg,
                     d->o->s3_cache);
        }
    }
    if (!rc) rc = view_new(d->store, &vo, &d->view, &e);
    if (rc) {
        log_err("%s", e.msg);
        return rc == -EBUSY ? SMFS_EXIT_STORE_BUSY : SMFS_EXIT_STORE;
    }
    if (rep.note[0]) log_warn("store recovery: %s", rep.note);
    return 0;
}

/* Absolute paths for the mount point and the sockets (a daemon works from "/"). 0 or
 * an exit status. */
static int resolve_paths(struct daemon *d)
{
    struct smfs_err e = {0};
    const struct smfs_opts *o = d->o;
    if (o->admin) {
        snprintf(d->admin, sizeof d->admin, "%s", o->admin);
    } else if (admin_default_path(d->cfg, d->admin, sizeof d->admin, &e)) {
        log_err("%s", e.msg);
        return -1;
    }
    if (o->q_socket) {
        snprintf(d->qsock, sizeof d->qsock, "%s", o->q_socket);
    } else if (!o->q_socket_none && file_join(d->qsock, sizeof d->qsock, store_home(d->store), "smfs.q.sock")) {
        log_err("q IPC socket: path too long");
        return -1;
    }
    if (!realpath(o->mountpoint, d->mnt)) {
        if (errno != ENOTCONN) {
            log_err("mount point '%s': %s", o->mountpoint, strerror(errno));
            return SMFS_EXIT_MOUNTPOINT;
        }
        snprintf(d->mnt, sizeof d->mnt, "%s", o->mountpoint);   /* a dead mount: mount_new clears it */
    }
    return 0;
}

/* Show the current version to readers: the symlink tree, or a FUSE mount. */
static int start_readers(struct daemon *d)
{
    struct smfs_err e = {0};
    const struct smfs_opts *o = d->o;
    bool vanilla = o->vanilla;
    if (!vanilla && access("/dev/fuse", R_OK | W_OK)) {
        log_warn("FUSE is not available (/dev/fuse: %s): writing the symlink tree at %s instead",
                 strerror(errno), d->mnt);
        vanilla = true;
    }
    if (vanilla) {
        d->vanilla_dir = d->mnt;
        if (vanilla_check(d->mnt, d->store, &e)) {
            log_err("%s", e.msg);
            return SMFS_EXIT_MOUNTPOINT;
        }
        if (view_current(d->view) && vanilla_publish(d->mnt, d->view, d->store, &e)) {
            log_err("%s", e.msg);
            return -1;
        }
        d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (d->stop_fd < 0) {
            log_err("eventfd: %s", strerror(errno));
            return -1;
        }
        log_info("symlink tree of version %llu at %s", (unsigned long long)view_current(d->view), d->mnt);
        return 0;
    }
    struct mount_opts mo = {
        .mountpoint = d->mnt,
        .args = o->args,
        .passthrough = !o->no_passthrough,
        .single_thread = o->single_thread,
        .max_threads = o->max_threads,
        .readahead_kb = o->readahead_kb,
        .poll_us = o->poll_us,
        .s3cache = d->s3cache,
    };
    if (mount_new(d->view, d->store, &mo, &d->mount, &e)) {
        log_err("%s", e.msg);
        return e.code == -EBUSY || e.code == -ENOTDIR || e.code == -ENOENT || e.code == -ENOTEMPTY
                   ? SMFS_EXIT_MOUNTPOINT : SMFS_EXIT_FAIL;
    }
    log_info("version %llu mounted at %s", (unsigned long long)view_current(d->view), d->mnt);
    return 0;
}

/* --tp-login: "user:password" on the first line of a file only smfs's user should
 * read (a password on the command line would show in ps). */
static int read_tp_login(struct daemon *d)
{
    const char *path = d->o->tp_login;
    if (!path) return 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        log_err("--tp-login: %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        log_warn("--tp-login: %s can be read by other users (chmod 600 it)", path);
    char *got = fgets(d->tp_creds, sizeof d->tp_creds, f);
    fclose(f);
    d->tp_creds[strcspn(d->tp_creds, "\r\n")] = 0;
    if (!got || !d->tp_creds[0]) {
        log_err("--tp-login: %s: the first line should be user:password", path);
        return -1;
    }
    return 0;
}

static int start_control(struct daemon *d)
{
    struct smfs_err e = {0};
    const struct smfs_opts *o = d->o;
    struct control_opts co = {
        .admin_path = d->admin, .cfg = d->cfg, .store = d->store, .mountpoint = d->mnt,
        .hooks = {.arg = d, .mode = d->mount ? "fuse" : "vanilla", .publish = hook_publish,
                  .vacuumed = hook_vacuumed, .current = hook_current,
                  .stats = hook_stats, .stop = hook_stop},
        .q_port = o->q_port, .q_host = o->q_host, .q_unix = d->qsock[0] ? d->qsock : NULL,
        .q_users = o->users, .q_unix_mode = o->q_socket_mode, .q_unix_chgrp = o->socket_chgrp,
        .q_unix_gid = o->socket_gid, .http_port = o->http_port, .http_host = o->http_host,
        .auto_vacuum = !o->no_auto_vacuum, .keep_versions = o->keep_versions,
        .stream_off = o->no_stream ? "--no-stream" : NULL,
        .stream_dir = o->stream_dir, .tp_log_dir = o->tp_log_dir, .stream_budget = o->stream_budget,
        .stream_checkpoint_ms = o->stream_checkpoint_ms,
    };
    if (read_tp_login(d)) return SMFS_EXIT_CONFIG;
    co.tp_creds = d->tp_creds[0] ? d->tp_creds : NULL;
    /* libcurl's global set-up is not thread-safe: here, before the control thread. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    d->curl_inited = true;
    if (control_start(&co, &d->ctl, &e)) {
        log_err("%s", e.msg);
        return e.code == -EADDRINUSE ? SMFS_EXIT_ADDRINUSE : SMFS_EXIT_FAIL;
    }
    view_on_unpinned(d->view, on_unpinned, d->ctl);
    return 0;
}

/* Symlink mode: the main thread waits for SIGINT/SIGTERM or the stop hook. Both
 * signals are blocked (before any thread starts), so they queue on the signalfd. */
static int wait_for_stop(struct daemon *d)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        log_err("signalfd: %s", strerror(errno));
        return -1;
    }
    struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = d->stop_fd, .events = POLLIN}};
    while (poll(p, 2, -1) < 0 && errno == EINTR) {}
    if (p[0].revents & POLLIN) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) log_info("signal %u: stopping", si.ssi_signo);
    } else {
        log_info("stopping");
    }
    close(sfd);
    return 0;
}

/* ---- daemon mode ------------------------------------------------------------------ */

/* Without -f, smfs forks before it opens anything, and the parent stays until the
 * child has its verdict: it copies the child's start-up messages (the child's stderr
 * is a pipe to it) to its own stderr, and exits 0 once the child serves -- mounted or
 * the symlink tree written, every listener open -- or with the child's exit status
 * when it could not. So mount(8), fstab and scripts see the real outcome, with the
 * reason, instead of a 0 from a parent that left before the ports were tried.
 * The verdict comes on a second pipe (one byte, 'R'), not from the end of the first:
 * a child that dies closes its pipes before it can be reaped, so the end of the
 * message pipe alone cannot tell "ready" from "died". */
static int detach_begin(int *ready_fd)
{
    int msg[2], rdy[2];
    if (pipe2(msg, O_CLOEXEC) < 0 || pipe2(rdy, O_CLOEXEC) < 0) {
        fprintf(stderr, "smfs: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "smfs: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(msg[0]);
        close(rdy[0]);
        setsid();
        dup2(msg[1], STDERR_FILENO);
        close(msg[1]);
        *ready_fd = rdy[1];
        log_tee_stderr(true);
        return 0;
    }
    close(msg[1]);
    close(rdy[1]);
    char buf[4096];
    for (;;) {
        ssize_t n = read(msg[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
        (void)w;
    }
    char c = 0;
    ssize_t n;
    while ((n = read(rdy[0], &c, 1)) < 0 && errno == EINTR) {}
    if (n == 1 && c == 'R') _exit(0);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(st) && WEXITSTATUS(st)) _exit(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) fprintf(stderr, "smfs: the daemon died of signal %d while starting\n", WTERMSIG(st));
    _exit(1);
}

/* The child serves: tell the parent, then let go of the terminal. */
static void detach_ready(const struct smfs_opts *o, int ready_fd)
{
    if (!o->log_file) log_to_syslog(true);
    log_tee_stderr(false);
    ssize_t w = write(ready_fd, "R", 1);
    (void)w;
    close(ready_fd);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);   /* the parent sees the end of its message pipe */
        close(null);
    }
    if (chdir("/") < 0) log_warn("chdir /: %s", strerror(errno));
}

/* READY=1 for the service manager once a reader would find the database: through FUSE
 * that is once the session answers (a stat of the mount's root goes through it, so it
 * returns only when mount_run serves), for the symlink tree at once. */
static void *ready_main(void *arg)
{
    struct daemon *d = arg;
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", d->mnt, view_current(d->view) ? "par.txt" : ".");
    if (stat(p, &st) < 0) log_warn("readiness: %s: %s", p, strerror(errno));
    notify_ready_version(d);
    return NULL;
}

static void start_ready(struct daemon *d)
{
    if (d->vanilla_dir) {
        notify_ready_version(d);
        return;
    }
    /* Stop signals stay blocked in it, as in every thread but main's. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    d->ready_started = pthread_create(&d->ready_th, NULL, ready_main, d) == 0;
    if (!d->ready_started) notify_ready_version(d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int serve(struct daemon *d)
{
    struct smfs_err e = {0};
    const struct smfs_opts *o = d->o;
    int ready_fd = -1;
    /* Detach first, before any file, socket or thread exists: fork keeps only the
     * calling thread, and the child is the one that opens the store (its pid is the
     * one the store's lock names). */
    if (!o->foreground && detach_begin(&ready_fd)) return 1;
    /* SIGHUP waits in every thread for the control loop's signalfd (it reopens the
     * log); blocked here, before any thread exists, so none can take it. */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    int st = open_store(d);
    if (!st) st = resolve_paths(d);
    if (!st) st = start_readers(d);
    if (st) return st < 0 ? SMFS_EXIT_FAIL : st;
    if (!view_current(d->view))
        log_warn("the store at %s is empty: nothing is served until a database is imported "
                 "(smctl import) or partitions are ingested (smctl ingest)", store_home(d->store));
    if (d->vanilla_dir) {
        /* Block the stop signals before threads start, so the signalfd gets them. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
    if ((st = start_control(d))) return st < 0 ? SMFS_EXIT_FAIL : st;
    if (ready_fd >= 0) detach_ready(o, ready_fd);
    start_ready(d);
    int rc = d->vanilla_dir ? wait_for_stop(d) : mount_run(d->mount, &e);
    notify_stopping();
    if (rc) {
        log_err("%s", e.msg);
        return 1;
    }
    if (d->mount) log_info("stopping: unmounting %s", d->mnt);
    return 0;
}

static void daemon_release(struct daemon *d)
{
    /* The control thread first: it calls the hooks, which use everything below. */
    if (d->ctl) view_on_unpinned(d->view, NULL, NULL);
    control_stop(d->ctl);
    if (d->curl_inited) curl_global_cleanup();
    mount_free(d->mount);
    /* Unmounted: a stat the session never answered has failed by now. */
    if (d->ready_started) pthread_join(d->ready_th, NULL);
    view_free(d->view);
    s3cache_free(d->s3cache);
    if (d->store) store_close(d->store);
    cfg_free(d->cfg);
    if (d->stop_fd >= 0) close(d->stop_fd);
}

int main(int argc, char **argv)
{
    struct smfs_opts o;
    fault_arm_env();
    int status = smfs_opts_parse(argc, argv, &o);
    if (!status && o.action == SMFS_RUN) status = start_log(&o);
    if (!status && o.action == SMFS_RUN) {
        struct daemon d = {.o = &o, .stop_fd = -1};
        status = serve(&d);
        daemon_release(&d);
    }
    smfs_opts_release(&o);
    return status;
}
