/* fs/smfs_opts.h: smfs's command line, parsed and checked once into one struct that
 * main reads and frees in one place. libfuse's conventions (-f, -d, -s, -o opt,…,
 * --help, --version) plus smfs's own options, each with a long form and an -o form
 * that /etc/fstab can carry.
 * Owns:    every string in struct smfs_opts (freed by smfs_opts_release) and the
 *          fuse_args handed on to the mount.
 * Never:   opens the store, the assembly or a socket; logs (it runs before the log
 *          exists: problems go to stderr, one line each).
 * Threads: main thread, before any other starts.
 * Sequence: smfs_opts_parse → (read) → smfs_opts_release (also after a failed parse).
 * Errors:  smfs_opts_parse returns 0 (run, or --help/--version done: see action), or
 *          the exit status 2 after printing "smfs: what: why" to stderr. */
#ifndef SMFS_SMFS_OPTS_H
#define SMFS_SMFS_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"

#include "core/version.h"

enum smfs_action { SMFS_RUN, SMFS_DONE };

/* Exit statuses (smfs(8), EXIT STATUS): each a different thing for whoever started smfs
 * to fix, with one line in the log (and on stderr while starting) saying what. */
enum {
    SMFS_EXIT_FAIL        = 1,   /* anything not below */
    SMFS_EXIT_USAGE       = 2,   /* a bad option or argument */
    SMFS_EXIT_CONFIG      = 3,   /* the assembly (or a file an option names) is invalid or missing */
    SMFS_EXIT_STORE_BUSY  = 4,   /* another process holds the store */
    SMFS_EXIT_STORE       = 5,   /* the store cannot be served as it is: damaged, an import or
                                    rollback to finish, a live HDB without a store */
    SMFS_EXIT_MOUNTPOINT  = 6,   /* the mount point: missing, not a directory, a live mount */
    SMFS_EXIT_ADDRINUSE   = 7,   /* a port or socket smfs listens on is taken */
};   /* DONE: --help or --version printed */

struct fuse_args;

struct smfs_opts {
    enum smfs_action action;
    char    *config;            /* NULL: $KXI_ASSEMBLY_FILE, ./assembly.yaml, default */
    char    *mountpoint;        /* as given; main makes it absolute */
    char    *admin;             /* absolute, or NULL: the store's default */
    char    *log_file;          /* absolute, or NULL */
    char    *s3_cache;          /* --s3-cache DIR[:SIZE], DIR absolute; NULL: none */
    char    *users;             /* absolute, or NULL */
    char    *q_socket;          /* absolute or @abstract; NULL: the store's default */
    bool     q_socket_none;     /* --q-socket none */
    unsigned q_socket_mode;     /* its file's mode (default 0660; 0 for an @abstract name) */
    bool     socket_chgrp;      /* --socket-group given: */
    unsigned socket_gid;        /*   the q socket file's group */
    char    *q_host, *http_host;/* NULL: the listener's default */
    int      q_port, http_port; /* -1: not listening */
    unsigned keep_versions;     /* >= 1 */
    unsigned readahead_kb;      /* 0: the backing disk's */
    unsigned poll_us;           /* FUSE request polling before a thread sleeps */
    enum log_level level;
    bool     vanilla, no_passthrough, syslog, no_auto_vacuum;
    bool     no_stream;
    char    *tp_login, *tp_log_dir, *stream_dir;   /* absolute, or NULL */
    uint64_t stream_budget;     /* bytes; 0: the default */
    int      stream_checkpoint_ms;                  /* 0: the default */
    bool     foreground, single_thread;
    unsigned max_threads;       /* 0: libfuse's default */
    struct fuse_args *args;     /* what is left for libfuse (-o options, -d) */
};

int smfs_opts_parse(int argc, char **argv, struct smfs_opts *o) __attribute__((warn_unused_result));
void smfs_opts_release(struct smfs_opts *o);

#endif
