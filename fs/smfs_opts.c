/* fs/smfs_opts.c: see smfs_opts.h. */
#define FUSE_USE_VERSION 314
#include "smfs_opts.h"

#include <fuse_lowlevel.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/num.h"

/* What fuse_opt_parse fills: raw strings, checked afterwards. */
struct cli {
    char *config, *admin, *log_level, *readahead, *poll_us;
    char *port, *q_socket, *users, *http, *keep, *log_file;
    char *socket_group, *q_socket_mode;
    char *tp_login, *tp_log_dir, *stream_dir, *stream_mem, *stream_ckpt, *s3_cache;
    int   vanilla, no_passthrough, syslog, no_auto_vacuum, no_stream;
    char *pos[2];
    int   npos;
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
    OPT("--s3-cache %s", s3_cache, 0),
    OPT("s3_cache=%s", s3_cache, 0),
    OPT("--admin %s", admin, 0),
    OPT("admin=%s", admin, 0),
    OPT("--log-level %s", log_level, 0),
    OPT("log_level=%s", log_level, 0),
    OPT("--syslog", syslog, 1),
    OPT("--readahead-kb %s", readahead, 0),
    OPT("readahead_kb=%s", readahead, 0),
    OPT("--poll-us %s", poll_us, 0),
    OPT("poll_us=%s", poll_us, 0),
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
    OPT("--socket-group %s", socket_group, 0),
    OPT("socket_group=%s", socket_group, 0),
    OPT("--q-socket-mode %s", q_socket_mode, 0),
    OPT("q_socket_mode=%s", q_socket_mode, 0),
    OPT("--no-stream", no_stream, 1),
    OPT("no_stream", no_stream, 1),
    OPT("--tp-login %s", tp_login, 0),
    OPT("tp_login=%s", tp_login, 0),
    OPT("--tp-log-dir %s", tp_log_dir, 0),
    OPT("tp_log_dir=%s", tp_log_dir, 0),
    OPT("--stream-dir %s", stream_dir, 0),
    OPT("stream_dir=%s", stream_dir, 0),
    OPT("--stream-memory-mb %s", stream_mem, 0),
    OPT("stream_memory_mb=%s", stream_mem, 0),
    OPT("--stream-checkpoint-ms %s", stream_ckpt, 0),
    OPT("stream_checkpoint_ms=%s", stream_ckpt, 0),
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
    c->pos[c->npos] = strdup(arg);
    if (!c->pos[c->npos]) return -1;
    c->npos++;
    return 0;
}

static void cli_release(struct cli *c)
{
    free(c->config);
    free(c->admin);
    free(c->s3_cache);
    free(c->log_level);
    free(c->readahead);
    free(c->poll_us);
    free(c->port);
    free(c->q_socket);
    free(c->users);
    free(c->http);
    free(c->keep);
    free(c->log_file);
    free(c->socket_group);
    free(c->q_socket_mode);
    free(c->tp_login);
    free(c->tp_log_dir);
    free(c->stream_dir);
    free(c->stream_mem);
    free(c->stream_ckpt);
    free(c->pos[0]);
    free(c->pos[1]);
}

static int bad(const char *msg)
{
    fprintf(stderr, "smfs: %s\n", msg);
    return 2;
}

/* "[HOST:]PORT" (PORT 0..65535) into a copy of HOST (NULL if none) and the port. */
static int host_port(const char *s, const char *what, char **host, int *port)
{
    const char *colon = strrchr(s, ':'), *p = colon ? colon + 1 : s;
    uint64_t v;
    struct smfs_err e = {0};
    if (num_parse_u64(p, 0, 65535, what, &v, &e)) {
        char m[600];
        snprintf(m, sizeof m, "%s: '%s' is not [HOST:]PORT with PORT from 0 to 65535", what, s);
        return bad(m);
    }
    *host = NULL;
    if (colon && colon > s) {
        const char *h = s;
        size_t n = (size_t)(colon - s);
        if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {   /* [::1]:5000 */
            h++;
            n -= 2;
        }
        if (!(*host = strndup(h, n))) return bad("out of memory");
    }
    *port = (int)v;
    return 0;
}

/* PATH made absolute against the working directory (a daemon works from "/"). */
static int absolute(const char *path, const char *what, char **out)
{
    char cwd[PATH_MAX], buf[PATH_MAX];
    if (path[0] == '/' || path[0] == '@') {
        *out = strdup(path);
    } else {
        if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "/");
        if (file_join(buf, sizeof buf, cwd, path)) {
            char m[300];
            snprintf(m, sizeof m, "%s: path too long", what);
            return bad(m);
        }
        *out = strdup(buf);
    }
    return *out ? 0 : bad("out of memory");
}

/* Every smfs option, with the -o form /etc/fstab and mount(8) can carry. */
static void usage(void)
{
    printf("usage: smfs [options] MOUNTPOINT\n"
           "       smfs ASSEMBLY MOUNTPOINT -o OPT[,OPT...]     (fstab, mount -t fuse.smfs)\n"
           "\n"
           "Mount the current version of the assembly's store as a kdb+ segmented database\n"
           "(par.txt, sym, date partitions) that a stock q can \\l. Without -f, smfs returns once\n"
           "it serves (mounted and listening), or exits non-zero saying why it could not.\n"
           "\n"
           "smfs options (long form; -o form):\n"
           "    -c FILE, --config=FILE; -o config=FILE\n"
           "                           the assembly (default: $KXI_ASSEMBLY_FILE, ./assembly.yaml,\n"
           "                           then the embedded default)\n"
           "    --vanilla; -o vanilla  write the tree as directories and symlinks at MOUNTPOINT\n"
           "                           instead of mounting (also used when FUSE is unavailable)\n"
           "    --no-passthrough; -o no_passthrough\n"
           "                           serve files through the daemon, never kernel passthrough\n"
           "    --s3-cache=DIR[:SIZE]; -o s3_cache=DIR[:SIZE]\n"
           "                           serve the s3:// tier's days as a segment, each file fetched\n"
           "                           on first open into DIR (at most SIZE, default 10G; K M G T)\n"
           "    --admin=PATH; -o admin=PATH\n"
           "                           admin socket (default $SMFS_ADMIN, or smfs.sock in the store)\n"
           "    --log-level=LEVEL; -o log_level=LEVEL\n"
           "                           error, warn, info (default) or debug\n"
           "    --log-file=PATH; -o log_file=PATH\n"
           "                           append the log to PATH; SIGHUP reopens it (logrotate)\n"
           "    --syslog               log to syslog even in the foreground\n"
           "    --readahead-kb=N; -o readahead_kb=N\n"
           "                           FUSE readahead (default: the store disk's, at least 1024)\n"
           "    --poll-us=N; -o poll_us=N\n"
           "                           before sleeping, look for the next FUSE request for up to N\n"
           "                           microseconds (default 50; 0: never): a burst of opens then\n"
           "                           pays no wakeups, for one busy thread at most that long\n"
           "\n"
           "Storage Manager API (reload signals for query processes):\n"
           "    -p, --port=[HOST:]PORT; -o port=[HOST:]PORT\n"
           "                           q IPC port for .sm.api.register/getStatus/reloadComplete\n"
           "                           (default $KXI_PORT; every interface unless HOST is given)\n"
           "    --q-socket=PATH; -o q_socket=PATH\n"
           "                           q IPC on a Unix socket too (default: smfs.q.sock in the\n"
           "                           store; 'none' for no socket; @NAME: Linux's abstract\n"
           "                           namespace, e.g. @/tmp/kx.5010 for q's hopen`:unix://5010)\n"
           "    --q-socket-mode=MODE; -o q_socket_mode=MODE\n"
           "                           the q socket file's mode, octal (default 0660: owner and\n"
           "                           group may connect; 0666: every local user, then use --users)\n"
           "    --socket-group=GROUP; -o socket_group=GROUP\n"
           "                           the q socket file's group (name or number; default: smfs's)\n"
           "    --users=FILE; -o users=FILE\n"
           "                           q IPC logins, kdb+ -u style (user:password lines)\n"
           "    --http=[HOST:]PORT; -o http=[HOST:]PORT\n"
           "                           REST: POST /register, GET /status /healthz /readyz /metrics\n"
           "                           (loopback unless HOST is given)\n"
           "    --keep-versions=N; -o keep_versions=N\n"
           "                           versions kept besides those in use (default 1)\n"
           "    --no-auto-vacuum; -o no_auto_vacuum\n"
           "                           reclaim old versions only on 'smctl vacuum'\n"
           "\n"
           "The stream (the tickerplant of the assembly's source bus, or $KXI_RT_NODES):\n"
           "    --no-stream; -o no_stream\n"
           "                           serve and version the database, subscribe to nothing\n"
           "    --tp-login=FILE; -o tp_login=FILE\n"
           "                           the tickerplant login, user:password on the first line\n"
           "    --tp-log-dir=DIR; -o tp_log_dir=DIR\n"
           "                           read the tickerplant's logs here (it reports paths of its\n"
           "                           own host; default: those paths)\n"
           "    --stream-dir=DIR; -o stream_dir=DIR\n"
           "                           the day's rows until written down (default: the HDB\n"
           "                           mount's baseURI/stream)\n"
           "    --stream-memory-mb=N; -o stream_memory_mb=N\n"
           "                           rows held in memory before they go to disk (default 64)\n"
           "    --stream-checkpoint-ms=N; -o stream_checkpoint_ms=N\n"
           "                           how often rows received are made durable (default 2000)\n"
           "\n"
           "    -V, --version          print the version\n"
           "\n"
           "Access: the mount is readable by smfs's user only unless -o allow_other (for root,\n"
           "or with user_allow_other in /etc/fuse.conf); files are 0444, directories 0555.\n"
           "\n"
           "Exit status: 0 stopped as asked; 1 a failure the log names; 2 a bad option; 3 the\n"
           "assembly (or a file an option names) is invalid; 4 another process holds the store;\n"
           "5 the store cannot be served as it is; 6 the mount point; 7 a port or socket is\n"
           "taken. Under systemd (Type=notify): READY=1 once served, STATUS=, STOPPING=1.\n"
           "\n");
    fuse_cmdline_help();
    fuse_lowlevel_help();
}

/* libfuse's messages arrive in pieces ("unknown option(s): `", "-o ", "x'", "\n"):
 * collected into one line while the options are checked. */
static char g_fuse_msg[512];

static void capture_fuse(enum fuse_log_level level, const char *fmt, va_list ap)
{
    (void)level;
    size_t l = strlen(g_fuse_msg);
    vsnprintf(g_fuse_msg + l, sizeof g_fuse_msg - l, fmt, ap);
}

/* The -o options left for libfuse, checked now, before anything is opened: a session
 * is created and destroyed on them (it mounts nothing), and what libfuse says about a
 * bad one becomes one line. 0 or exit status 2. */
static int check_fuse_args(const struct fuse_args *args)
{
    struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
    struct fuse_lowlevel_ops none = {0};
    for (int i = 0; i < args->argc; i++)
        if (fuse_opt_add_arg(&copy, args->argv[i])) {
            fuse_opt_free_args(&copy);
            return bad("out of memory");
        }
    g_fuse_msg[0] = '\0';
    fuse_set_log_func(capture_fuse);
    struct fuse_session *se = fuse_session_new(&copy, &none, sizeof none, NULL);
    fuse_set_log_func(NULL);
    fuse_opt_free_args(&copy);
    if (se) {
        fuse_session_destroy(se);
        return 0;
    }
    char *m = g_fuse_msg;
    if (!strncmp(m, "fuse: ", 6)) m += 6;
    for (char *p = m; *p; p++)
        if (*p == '\n') *p = ' ';
    size_t n = strlen(m);
    while (n && m[n - 1] == ' ') m[--n] = '\0';
    char line[700];
    snprintf(line, sizeof line, "%s (smfs --help lists the options)", *m ? m : "bad FUSE options");
    return bad(line);
}

/* The raw strings of C into O; 0 or exit status 2 (message printed). */
static int check(struct cli *c, const struct fuse_cmdline_opts *fo, struct smfs_opts *o)
{
    struct smfs_err e = {0};
    int rc = 0;
    const char *port_what = "--port";
    const char *port = c->port;
    if (!port && getenv("KXI_PORT") && *getenv("KXI_PORT")) {
        port = getenv("KXI_PORT");
        port_what = "$KXI_PORT";
    }
    if (port && (rc = host_port(port, port_what, &o->q_host, &o->q_port))) return rc;
    if (c->http && (rc = host_port(c->http, "--http", &o->http_host, &o->http_port))) return rc;
    if (c->keep) {
        uint64_t v;
        if (num_parse_u64(c->keep, 1, 1000000, "--keep-versions", &v, &e)) return bad(e.msg);
        o->keep_versions = (unsigned)v;
    }
    if (c->readahead) {
        uint64_t v;
        if (num_parse_u64(c->readahead, 0, 1u << 20, "--readahead-kb", &v, &e)) return bad(e.msg);
        o->readahead_kb = (unsigned)v;
    }
    if (c->poll_us) {
        uint64_t v;
        if (num_parse_u64(c->poll_us, 0, 10000, "--poll-us", &v, &e)) return bad(e.msg);
        o->poll_us = (unsigned)v;
    }
    o->level = fo->debug ? LOG_DEBUG_ : LOG_INFO_;
    if (c->log_level && log_level_parse(c->log_level, &o->level)) {
        char m[200];
        snprintf(m, sizeof m, "--log-level: '%.64s' is not one of error, warn, info, debug", c->log_level);
        return bad(m);
    }
    /* fstab: "SOURCE MOUNTPOINT"; the source is the assembly when it is a file. */
    struct stat st;
    if (c->npos == 2 && !c->config && stat(c->pos[0], &st) == 0 && S_ISREG(st.st_mode)) {
        c->config = c->pos[0];
        c->pos[0] = NULL;
    }
    if (!c->npos) return bad("no mount point (usage: smfs [options] MOUNTPOINT; smfs --help)");
    o->mountpoint = c->pos[c->npos - 1];
    c->pos[c->npos - 1] = NULL;
    o->config = c->config;
    c->config = NULL;
    if (c->admin && (rc = absolute(c->admin, "--admin", &o->admin))) return rc;
    if (c->log_file && (rc = absolute(c->log_file, "--log-file", &o->log_file))) return rc;
    if (c->s3_cache && (rc = absolute(c->s3_cache, "--s3-cache", &o->s3_cache))) return rc;
    if (o->s3_cache && c->vanilla)
        return bad("--s3-cache needs the FUSE mount: a symlink tree (--vanilla) has no open to fetch a file at");
    if (c->users && (rc = absolute(c->users, "--users", &o->users))) return rc;
    if (c->q_socket && !strcmp(c->q_socket, "none")) o->q_socket_none = true;
    else if (c->q_socket && (rc = absolute(c->q_socket, "--q-socket", &o->q_socket))) return rc;
    if (c->q_socket_mode) {
        char *end;
        unsigned long m = strtoul(c->q_socket_mode, &end, 8);
        if (!*c->q_socket_mode || *end || m > 0777) {
            char msg[200];
            snprintf(msg, sizeof msg, "--q-socket-mode: '%.64s' is not an octal file mode such as 0660",
                     c->q_socket_mode);
            return bad(msg);
        }
        o->q_socket_mode = (unsigned)m;
    }
    if (c->socket_group) {
        struct group *g = getgrnam(c->socket_group);
        uint64_t gid;
        struct smfs_err ge = {0};
        if (g) o->socket_gid = (unsigned)g->gr_gid;
        else if (!num_parse_u64(c->socket_group, 0, UINT32_MAX - 1, "--socket-group", &gid, &ge))
            o->socket_gid = (unsigned)gid;
        else {
            char msg[200];
            snprintf(msg, sizeof msg, "--socket-group: no group '%.64s' on this host", c->socket_group);
            return bad(msg);
        }
        o->socket_chgrp = true;
    }
    if ((c->q_socket_mode || c->socket_group) && o->q_socket && o->q_socket[0] == '@')
        return bad("--q-socket-mode and --socket-group need a socket file, not an abstract @name "
                   "(anyone in the network namespace may connect to those)");
    if (o->q_socket && o->q_socket[0] == '@') o->q_socket_mode = 0;
    if (c->tp_login && (rc = absolute(c->tp_login, "--tp-login", &o->tp_login))) return rc;
    if (c->tp_log_dir && (rc = absolute(c->tp_log_dir, "--tp-log-dir", &o->tp_log_dir))) return rc;
    if (c->stream_dir && (rc = absolute(c->stream_dir, "--stream-dir", &o->stream_dir))) return rc;
    if (c->stream_mem) {
        uint64_t v;
        if (num_parse_u64(c->stream_mem, 1, 1u << 20, "--stream-memory-mb", &v, &e)) return bad(e.msg);
        o->stream_budget = v << 20;
    }
    if (c->stream_ckpt) {
        uint64_t v;
        if (num_parse_u64(c->stream_ckpt, 10, 3600000, "--stream-checkpoint-ms", &v, &e)) return bad(e.msg);
        o->stream_checkpoint_ms = (int)v;
    }
    o->no_stream = c->no_stream;
    o->vanilla = c->vanilla;
    o->no_passthrough = c->no_passthrough;
    o->syslog = c->syslog;
    o->no_auto_vacuum = c->no_auto_vacuum;
    o->foreground = fo->foreground;
    o->single_thread = fo->singlethread;
    o->max_threads = fo->max_threads;
    return 0;
}

int smfs_opts_parse(int argc, char **argv, struct smfs_opts *o)
{
    *o = (struct smfs_opts){.q_port = -1, .http_port = -1, .keep_versions = 1, .level = LOG_INFO_,
                            .q_socket_mode = 0660, .poll_us = 50};
    struct cli c = {0};
    struct fuse_cmdline_opts fo = {0};
    int rc = 0;
    o->args = malloc(sizeof *o->args);
    if (!o->args) return bad("out of memory");
    *o->args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
    if (fuse_opt_parse(o->args, &c, cli_spec, cli_proc) || fuse_parse_cmdline(o->args, &fo)) {
        rc = bad("bad arguments (smfs --help lists them)");
        goto out;
    }
    unprefix(c.config);
    unprefix(c.admin);
    unprefix(c.s3_cache);
    unprefix(c.log_level);
    unprefix(c.readahead);
    unprefix(c.poll_us);
    unprefix(c.port);
    unprefix(c.q_socket);
    unprefix(c.users);
    unprefix(c.http);
    unprefix(c.keep);
    unprefix(c.log_file);
    unprefix(c.socket_group);
    unprefix(c.q_socket_mode);
    unprefix(c.tp_login);
    unprefix(c.tp_log_dir);
    unprefix(c.stream_dir);
    unprefix(c.stream_mem);
    unprefix(c.stream_ckpt);
    if (fo.show_help) {
        usage();
        o->action = SMFS_DONE;
        goto out;
    }
    if (fo.show_version) {
        printf("smfs %s (libfuse %s)\n", SMFS_VERSION, fuse_pkgversion());
        o->action = SMFS_DONE;
        goto out;
    }
    rc = check(&c, &fo, o);
    if (!rc) rc = check_fuse_args(o->args);
out:
    free(fo.mountpoint);
    cli_release(&c);
    return rc;
}

void smfs_opts_release(struct smfs_opts *o)
{
    free(o->config);
    free(o->mountpoint);
    free(o->admin);
    free(o->s3_cache);
    free(o->log_file);
    free(o->users);
    free(o->q_socket);
    free(o->tp_login);
    free(o->tp_log_dir);
    free(o->stream_dir);
    free(o->q_host);
    free(o->http_host);
    if (o->args) fuse_opt_free_args(o->args);
    free(o->args);
    *o = (struct smfs_opts){0};
}
