/* fs/smfs.c: the smfs daemon. `smfs [options] MOUNTPOINT` opens the assembly's store
 * (importing the HDB first when the assembly says initialImport), mounts the view of
 * its current version with FUSE (or writes it as a symlink tree with --vanilla, or
 * when FUSE is unavailable), starts the control thread, and serves until SIGTERM,
 * SIGINT, `smctl stop` or fusermount3 -u. Usable from /etc/fstab as type fuse.smfs:
 *   /etc/smfs/assembly.yaml  /hdb  fuse.smfs  allow_other  0 0
 * (mount.fuse3 passes the first field as a source argument: a .yaml file there is
 * the assembly). */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fuse_lowlevel.h>
#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/fileio.h"
#include "core/fault.h"
#include "core/import.h"
#include "core/store.h"
#include "fs/control.h"
#include "fs/log.h"
#include "fs/mount.h"
#include "fs/vanilla.h"
#include "fs/view.h"
#include "ipc/admin.h"

#define SMFS_VERSION "0.1.0"

struct cli {
    char    *config, *admin, *log_level, *readahead;
    char    *port, *q_socket, *users, *http, *keep, *log_file;
    int      vanilla, no_passthrough, syslog, no_auto_vacuum;
    char    *pos[2];
    int      npos;
};

/* "--opt %s" takes both "--opt VALUE" and "--opt=VALUE" (then the value starts with
 * '=', which unprefix() drops); a separate "--opt=%s" would match too and run twice. */
#define OPT(t, f, v) {t, offsetof(struct cli, f), v}
static const struct fuse_opt cli_spec[] = {
    OPT("-c %s", config, 0),
    OPT("--config %s", config, 0),
    OPT("config=%s", config, 0),
    OPT("--vanilla", vanilla, 1),
    OPT("vanilla", vanilla, 1),
    OPT("--no-passthrough", no_passthrough, 1),
    OPT("no_passthrough", no_passthrough, 1),
    OPT("--admin %s", admin, 0),
    OPT("admin=%s", admin, 0),
    OPT("--log-level %s", log_level, 0),
    OPT("log_level=%s", log_level, 0),
    OPT("--syslog", syslog, 1),
    OPT("--readahead-kb %s", readahead, 0),
    OPT("readahead_kb=%s", readahead, 0),
    OPT("--port %s", port, 0),
    OPT("-p %s", port, 0),
    OPT("port=%s", port, 0),
    OPT("--q-socket %s", q_socket, 0),
    OPT("q_socket=%s", q_socket, 0),
    OPT("--users %s", users, 0),
    OPT("users=%s", users, 0),
    OPT("--http %s", http, 0),
    OPT("http=%s", http, 0),
    OPT("--keep-versions %s", keep, 0),
    OPT("keep_versions=%s", keep, 0),
    OPT("--no-auto-vacuum", no_auto_vacuum, 1),
    OPT("no_auto_vacuum", no_auto_vacuum, 1),
    OPT("--log-file %s", log_file, 0),
    OPT("log_file=%s", log_file, 0),
    FUSE_OPT_END,
};

static void unprefix(char *s)
{
    if (s && s[0] == '=') memmove(s, s + 1, strlen(s));
}

static int cli_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
    (void)out;
    struct cli *c = data;
    if (key != FUSE_OPT_KEY_NONOPT) return 1;
    if (c->npos == 2) {
        fprintf(stderr, "smfs: too many arguments: '%s' (usage: smfs [options] MOUNTPOINT)\n", arg);
        return -1;
    }
    c->pos[c->npos++] = strdup(arg);
    return 0;
}

/* "[HOST:]PORT" (PORT 0..65535); HOST is returned in *host (NULL if none). */
static int host_port(char *s, const char *what, char **host, int *port)
{
    char *colon = strrchr(s, ':'), *p = colon ? colon + 1 : s, *end;
    long v = strtol(p, &end, 10);
    if (!*p || *end || v < 0 || v > 65535) {
        fprintf(stderr, "smfs: %s: '%s' is not [HOST:]PORT with PORT from 0 to 65535\n", what, s);
        return -1;
    }
    if (colon) {
        *colon = '\0';
        *host = *s ? s : NULL;
        if (*s == '[' && colon[-1] == ']') {   /* [::1]:5000 */
            colon[-1] = '\0';
            *host = s + 1;
        }
    } else {
        *host = NULL;
    }
    *port = (int)v;
    return 0;
}

static void usage(void)
{
    printf("usage: smfs [options] MOUNTPOINT\n"
           "\n"
           "Mount the current version of the assembly's store as a kdb+ segmented database\n"
           "(par.txt, sym, date partitions) that a stock q can \\l.\n"
           "\n"
           "smfs options:\n"
           "    -c FILE, --config=FILE, -o config=FILE\n"
           "                           the assembly (default: $KXI_ASSEMBLY_FILE, ./assembly.yaml,\n"
           "                           then the embedded default)\n"
           "    --vanilla, -o vanilla  write the tree as directories and symlinks at MOUNTPOINT\n"
           "                           instead of mounting (also used when FUSE is unavailable)\n"
           "    --no-passthrough       serve files through the daemon, never kernel passthrough\n"
           "    --admin=PATH           admin socket (default $SMFS_ADMIN, or smfs.sock in the store)\n"
           "    --log-level=LEVEL      error, warn, info (default) or debug\n"
           "    --syslog               log to syslog even in the foreground\n"
           "    --readahead-kb=N       FUSE readahead (default: the store disk's, at least 1024)\n"
           "    --log-file=PATH        append the log to PATH; SIGHUP reopens it (logrotate)\n"
           "\n"
           "Storage Manager API (reload signals for query processes):\n"
           "    -p, --port=[HOST:]PORT q IPC port for .sm.api.register/getStatus/reloadComplete\n"
           "                           (default $KXI_PORT; every interface unless HOST is given)\n"
           "    --q-socket=PATH        q IPC on a Unix socket too (default: smfs.q.sock in the\n"
           "                           store; 'none' for no socket; @NAME: Linux's abstract\n"
           "                           namespace, e.g. @/tmp/kx.5010 for q's hopen`:unix://5010)\n"
           "    --users=FILE           q IPC logins, kdb+ -u style (user:password lines)\n"
           "    --http=[HOST:]PORT     REST: POST /register, GET /status /healthz /readyz /metrics\n"
           "                           (loopback unless HOST is given)\n"
           "    --keep-versions=N      versions kept besides those in use (default 1)\n"
           "    --no-auto-vacuum       reclaim old versions only on 'smctl vacuum'\n"
           "    -V, --version          print the version\n"
           "\n");
    fuse_cmdline_help();
    fuse_lowlevel_help();
}

static struct cfg *load_cfg(const char *path)
{
    struct cfg *c = NULL;
    struct smfs_err e = {0};
    if (cfg_open(path, &c, &e)) {
        log_err("%s", e.msg);
        return NULL;
    }
    for (size_t i = 0; i < c->ndiags; i++) {
        char line[1024];
        cfg_diag_str(c, &c->diags[i], line, sizeof line);
        log_msg(i < c->nerrors ? LOG_ERR_ : LOG_WARN_, "%s", line);
    }
    if (c->nerrors) {
        log_err("%s: %zu error(s) in the assembly; nothing was started", c->file, c->nerrors);
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

/* Symlink mode: the main thread only waits for the stop signal. */
static int wait_for_stop(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    log_info("signal %d: stopping", sig);
    return 0;
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct cli cli = {0};
    struct fuse_cmdline_opts fo = {0};
    struct cfg *cfg = NULL;
    struct store *s = NULL;
    struct view *v = NULL;
    struct mount *m = NULL;
    struct control *ctl = NULL;
    int status = 1;
    bool curl_inited = false;
    struct smfs_err e = {0};

    fault_arm_env();
    if (fuse_opt_parse(&args, &cli, cli_spec, cli_proc) || fuse_parse_cmdline(&args, &fo)) {
        fprintf(stderr, "smfs: bad arguments (smfs --help lists them)\n");
        status = 2;
        goto out;
    }
    unprefix(cli.config);
    unprefix(cli.admin);
    unprefix(cli.log_level);
    unprefix(cli.readahead);
    unprefix(cli.port);
    unprefix(cli.q_socket);
    unprefix(cli.users);
    unprefix(cli.http);
    unprefix(cli.keep);
    unprefix(cli.log_file);
    const char *port_what = "--port";
    if (!cli.port && getenv("KXI_PORT") && *getenv("KXI_PORT")) {
        cli.port = strdup(getenv("KXI_PORT"));
        port_what = "$KXI_PORT";
    }
    char *q_host = NULL, *http_host = NULL;
    int q_port = -1, http_port_ = -1;
    unsigned long keep = 1;
    if ((cli.port && host_port(cli.port, port_what, &q_host, &q_port)) ||
        (cli.http && host_port(cli.http, "--http", &http_host, &http_port_))) {
        status = 2;
        goto out;
    }
    if (cli.keep) {
        char *end;
        keep = strtoul(cli.keep, &end, 10);
        if (*end || !*cli.keep || keep < 1 || keep > 1000000) {
            fprintf(stderr, "smfs: --keep-versions: '%s' is not a whole number from 1\n", cli.keep);
            status = 2;
            goto out;
        }
    }
    unsigned readahead_kb = 0;
    if (cli.readahead) {
        char *end;
        unsigned long ra = strtoul(cli.readahead, &end, 10);
        if (*end || !*cli.readahead || ra > (1ul << 20)) {
            fprintf(stderr, "smfs: --readahead-kb: '%s' is not a number of KiB up to 1048576\n", cli.readahead);
            status = 2;
            goto out;
        }
        readahead_kb = (unsigned)ra;
    }
    if (fo.show_help) {
        usage();
        status = 0;
        goto out;
    }
    if (fo.show_version) {
        printf("smfs %s (libfuse %s)\n", SMFS_VERSION, fuse_pkgversion());
        status = 0;
        goto out;
    }
    /* fstab: "SOURCE MOUNTPOINT"; the source is the assembly when it is a file. */
    const char *mnt = cli.npos ? cli.pos[cli.npos - 1] : NULL;
    struct stat sst;
    if (cli.npos == 2 && !cli.config && stat(cli.pos[0], &sst) == 0 && S_ISREG(sst.st_mode))
        cli.config = strdup(cli.pos[0]);
    if (!mnt) {
        fprintf(stderr, "smfs: no mount point (usage: smfs [options] MOUNTPOINT; smfs --help)\n");
        status = 2;
        goto out;
    }
    enum log_level lvl = fo.debug ? LOG_DEBUG_ : LOG_INFO_;
    if (cli.log_level && log_level_parse(cli.log_level, &lvl)) {
        fprintf(stderr, "smfs: --log-level: '%s' is not one of error, warn, info, debug\n", cli.log_level);
        status = 2;
        goto out;
    }
    log_init(lvl, "smfs");
    log_to_syslog(cli.syslog);
    if (cli.log_file) {
        char lf[PATH_MAX], here[PATH_MAX];
        int lrc = -ENAMETOOLONG;
        if (getcwd(here, sizeof here) && !file_join(lf, sizeof lf, cli.log_file[0] == '/' ? "" : here, cli.log_file))
            lrc = log_to_file(lf);
        if (lrc) {
            fprintf(stderr, "smfs: --log-file '%s': %s\n", cli.log_file, strerror(-lrc));
            status = 2;
            goto out;
        }
    }
    /* SIGHUP waits in every thread for the control loop's signalfd (it reopens the
     * log); blocked here, before any thread exists, so none can take it. */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);

    if (!(cfg = load_cfg(cli.config))) goto out;
    if (initial_import(cfg)) goto out;
    struct store_recovery rep;
    if (import_store_open(cfg, true, &s, &rep, &e)) {
        log_err("%s", e.msg);
        goto out;
    }
    if (rep.note[0]) log_warn("store recovery: %s", rep.note);
    if (view_new(s, &v, &e)) {
        log_err("%s", e.msg);
        goto out;
    }
    /* Absolute paths: a daemon works from "/" once detached. */
    char admin[PATH_MAX], mntabs[PATH_MAX], cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "/");
    if (cli.admin && file_join(admin, sizeof admin, cli.admin[0] == '/' ? "" : cwd, cli.admin)) {
        log_err("--admin: path too long");
        goto out;
    } else if (!cli.admin && admin_default_path(cfg, admin, sizeof admin, &e)) {
        log_err("%s", e.msg);
        goto out;
    }
    if (!realpath(mnt, mntabs)) {
        if (errno != ENOTCONN) {
            log_err("mount point '%s': %s", mnt, strerror(errno));
            goto out;
        }
        snprintf(mntabs, sizeof mntabs, "%s", mnt);   /* a dead mount: mount_new clears it */
    }
    mnt = mntabs;

    bool vanilla = cli.vanilla;
    if (!vanilla && access("/dev/fuse", R_OK | W_OK)) {
        log_warn("FUSE is not available (/dev/fuse: %s): writing the symlink tree at %s instead",
                 strerror(errno), mnt);
        vanilla = true;
    }
    char users[PATH_MAX];
    if (cli.users && file_join(users, sizeof users, cli.users[0] == '/' ? "" : cwd, cli.users)) {
        log_err("--users: path too long");
        goto out;
    }
    char qsock[PATH_MAX];
    const char *q_unix = qsock;
    if (cli.q_socket && !strcmp(cli.q_socket, "none")) q_unix = NULL;
    else if (cli.q_socket && file_join(qsock, sizeof qsock, cli.q_socket[0] == '/' || cli.q_socket[0] == '@' ? "" : cwd,
                                       cli.q_socket)) {
        log_err("--q-socket: path too long");
        goto out;
    } else if (!cli.q_socket && file_join(qsock, sizeof qsock, store_home(s), "smfs.q.sock")) {
        log_err("q IPC socket: path too long");
        goto out;
    }
    struct control_opts co = {
        .admin_path = admin, .cfg = cfg, .store = s, .view = v, .mountpoint = mnt,
        .q_port = q_port, .q_host = q_host, .q_unix = q_unix, .q_users = cli.users ? users : NULL,
        .http_port = http_port_, .http_host = http_host,
        .auto_vacuum = !cli.no_auto_vacuum, .keep_versions = (unsigned)keep,
    };
    if (vanilla) {
        co.vanilla_dir = mnt;
        if (vanilla_check(mnt, s, &e) || (view_current(v) && vanilla_publish(mnt, v, s, &e))) {
            log_err("%s", e.msg);
            goto out;
        }
        log_info("symlink tree of version %llu at %s", (unsigned long long)view_current(v), mnt);
    } else {
        struct mount_opts mo = {
            .mountpoint = mnt,
            .args = &args,
            .passthrough = !cli.no_passthrough,
            .single_thread = fo.singlethread,
            .max_threads = fo.max_threads,
            .readahead_kb = readahead_kb,
        };
        if (mount_new(v, s, &mo, &m, &e)) {
            log_err("%s", e.msg);
            goto out;
        }
        co.mount = m;
        log_info("version %llu mounted at %s", (unsigned long long)view_current(v), mnt);
    }
    /* Detach before any thread starts (fork keeps only the caller). */
    if (!fo.foreground) {
        if (!cli.log_file) log_to_syslog(true);
        if (vanilla ? daemon(0, 0) : fuse_daemonize(0)) {
            log_err("could not detach from the terminal: %s", strerror(errno));
            goto out;
        }
        if (store_lock_pid(s, &e)) log_warn("%s", e.msg);
    }
    if (vanilla) {
        /* Block the stop signals before threads start, so sigwait gets them. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
    /* libcurl's global set-up is not thread-safe: here, before the control thread. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_inited = true;
    if (control_start(&co, &ctl, &e)) {
        log_err("%s", e.msg);
        goto out;
    }
    int rc = vanilla ? wait_for_stop() : mount_run(m, &e);
    if (rc) log_err("%s", e.msg);
    else log_info("stopping: unmounting %s", mnt);
    status = rc ? 1 : 0;
out:
    control_stop(ctl);
    if (curl_inited) curl_global_cleanup();
    mount_free(m);
    view_free(v);
    if (s) store_close(s);
    cfg_free(cfg);
    free(fo.mountpoint);
    free(cli.config);
    free(cli.admin);
    free(cli.log_level);
    free(cli.readahead);
    free(cli.port);
    free(cli.q_socket);
    free(cli.users);
    free(cli.http);
    free(cli.keep);
    free(cli.log_file);
    free(cli.pos[0]);
    free(cli.pos[1]);
    fuse_opt_free_args(&args);
    return status;
}
