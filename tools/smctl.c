/* tools/smctl.c: smctl's entry point and subcommand table. */
#include "tools/smctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/fault.h"
#include "core/num.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
} cmds[] = {
    { "inspect", smctl_inspect, "inspect [--json] [-n N] FILE...      describe kdb+ files (format, type, count, values)" },
    { "config",  smctl_config,  "config check [--json] [FILE]         validate an assembly file, show what smfs derives" },
    { "store",   smctl_store,   "store log|ls|cat|verify|vacuum DIR   inspect, check and vacuum a store offline" },
    { "import",  smctl_import,  "import [--dry-run] [--rollback] [...]  convert the existing HDB into the store, in place" },
    { "ingest",  smctl_ingest,  "ingest STAGING_DIR                   add or replace partitions as one new version" },
    { "load",     smctl_load,   "load [--json] DIR                    walk DIR as q's \\l does: segments, partitions, tables, rows" },
    { "status",   smctl_daemon, "status [--json]                      what the running smfs serves, with its counters" },
    { "clients",  smctl_daemon, "clients [--json]                     query processes registered for reload signals" },
    { "versions", smctl_daemon, "versions [--json]                    the kept versions, as the running smfs sees them" },
    { "vacuum",   smctl_daemon, "vacuum [--keep N]                    let the running smfs reclaim unpinned versions" },
    { "migrate",  smctl_daemon, "migrate [--dry-run] [--now TIME]     move partitions past their tier's retention now" },
    { "verify",   smctl_daemon, "verify [--json]                      let the running smfs re-read and check every version" },
    { "stream",   smctl_stream, "stream [rows TABLE] [--json]         the subscription to the tickerplant; the rows held today" },
    { "eod",      smctl_eod,    "eod [--date D] [--wait]              end the day now: write the rows held as partitions" },
    { "journal",  smctl_journal,"journal [--tables] LOG...            read tickerplant logs: whole messages, torn tails, rows" },
    { "stop",     smctl_daemon, "stop                                 unmount and stop the running smfs" },
    { "gen-hdb", smctl_gen_hdb, "gen-hdb DIR --days N --rows R [...]  write a deterministic date-partitioned HDB" },
};

void smctl_errf(const char *fmt, ...)
{
    va_list ap;
    fputs("smctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

struct cfg *smctl_load_cfg(const char *path)
{
    struct cfg *c = NULL;
    struct smfs_err err;
    int rc = cfg_open(path, &c, &err);
    if (c && rc < 0) {
        char line[2048];
        for (size_t i = 0; i < c->ndiags; i++) {
            cfg_diag_str(c, &c->diags[i], line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
        cfg_free(c);
        c = NULL;
    }
    if (!c) smctl_errf("%s", err.msg);
    return c;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: smctl COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) fprintf(f, "  %s\n", cmds[i].usage);
    fprintf(f, "\n'smctl COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    fault_arm_env();   /* SMFS_FAULT: the crash tests kill smctl at a named step */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("smctl %s\n", SMFS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    smctl_errf("unknown command '%s' (try 'smctl --help')", argv[1]);
    return 2;
}

bool smctl_u64_arg(const char *s, uint64_t lo, uint64_t hi, const char *what, uint64_t *out)
{
    struct smfs_err e = {0};
    if (!num_parse_u64(s, lo, hi, what, out, &e)) return true;
    smctl_errf("%s", e.msg);
    return false;
}

bool smctl_i64_arg(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out)
{
    struct smfs_err e = {0};
    if (!num_parse_i64(s, lo, hi, what, out, &e)) return true;
    smctl_errf("%s", e.msg);
    return false;
}
