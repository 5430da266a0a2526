/* bench/bench.h: what the benchmark programs share (each is one file and one binary).
 * Owns:    nothing.
 * Never:   prints figures (each benchmark says what it measures). */
#ifndef SMFS_BENCH_H
#define SMFS_BENCH_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/import.h"
#include "core/k_fmt.h"
#include "core/store.h"
#include "core/tiers.h"
#include "ipc/ev.h"

/* Monotonic seconds, for timing a piece of work against its native twin. */
static inline double bench_now_s(void)
{
    return (double)ev_now_ns() / 1e9;
}

/* Run CMD with system(3); its wall seconds. A command that fails ends the benchmark:
 * every figure after it would be measured on a setup that is not there. */
static inline double bench_run(const char *cmd)
{
    double t0 = bench_now_s();
    if (system(cmd)) {
        fprintf(stderr, "bench/%s: command failed: %s\n", program_invocation_short_name, cmd);
        exit(1);
    }
    return bench_now_s() - t0;
}

/* Write the embedded default assembly to PATH with its /var/lib/smfs replaced by BASE,
 * so its store, baseURIs and stream logs all live under the benchmark's directory;
 * TABLES, when not NULL, is YAML that replaces the default's tables (each line indented
 * by two spaces, as under "tables:"). 0, or -1 with errno set. */
static inline int bench_write_assembly_tables(const char *path, const char *base, const char *tables)
{
    FILE *y = fopen(path, "w");
    if (!y) return -1;
    bool skip = false;
    for (const char *p = cfg_default_yaml; *p;) {
        bool bol = p == cfg_default_yaml || p[-1] == '\n';
        if (bol && tables && !strncmp(p, "tables:\n", 8)) {
            fputs("tables:\n", y), fputs(tables, y), p += 8, skip = true;
        } else if (bol && skip && *p != ' ') {
            skip = false;
        } else if (skip) {
            p++;
        } else if (!strncmp(p, "/var/lib/smfs", 13)) {
            fputs(base, y), p += 13;
        } else {
            fputc(*p++, y);
        }
    }
    return fclose(y) ? -1 : 0;
}

static inline int bench_write_assembly(const char *path, const char *base)
{
    return bench_write_assembly_tables(path, base, NULL);
}

/* The smfs built beside this benchmark: <build>/bench/x → <build>/smfs. 0 or -1. */
static inline int bench_smfs_path(char *buf, size_t n)
{
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0) return -1;
    exe[el] = 0;
    *strrchr(exe, '/') = 0;
    int l = snprintf(buf, n, "%s/../smfs", exe);
    return l < 0 || (size_t)l >= n ? -1 : 0;
}

/* The default assembly's tables with a fast tier under BASE (kept one day) and after it
 * SECOND, a tier as a YAML flow map ("{name: slow, mount: hdb, store: ...}"); the text
 * is left in Y (N bytes) for a benchmark that writes it to a file. 0 or -1, *err set. */
static inline int bench_two_tiers(char *y, size_t n, const char *base, const char *second, struct cfg **c,
                                  struct smfs_err *err)
{
    const char *d = cfg_default_yaml, *cut = strstr(d, "bus:");
    int l = snprintf(y, n, "%.*sbus:\n  stream: {protocol: tp, nodes: [\"localhost:5010\"]}\n"
                     "mounts:\n  rdb: {type: stream, baseURI: none, partition: none}\n"
                     "  hdb: {type: local, baseURI: \"file://%s/hdb\", partition: date}\n"
                     "elements:\n  sm:\n    source: stream\n    tiers:\n      - {name: stream, mount: rdb}\n"
                     "      - {name: fast, mount: hdb, retain: {time: 1 days}}\n      - %s\n",
                     (int)(cut - d), d, base, second);
    if (l < 0 || (size_t)l >= n) return err_set(err, -ENAMETOOLONG, "assembly longer than %zu bytes", n);
    return cfg_parse("bench.yaml", y, (size_t)l, c, err) ? -1 : 0;
}

/* A store at BASE whose fast tier (assembly C) holds a copy of SRC's partitions, then all
 * of them migrated as of 30 days after LAST (days since 2000.01.01): the migration's
 * seconds in *secs, its summary in *sum (the caller frees it). 0 or -1, *err set. */
static inline int bench_migrate_all(const char *src, const char *base, const struct cfg *c, int32_t last,
                                    double *secs, struct tiers_summary *sum, struct smfs_err *err)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/hdb && cp -a %s %s/hdb/data && sync", base, src, base);
    if (system(cmd)) return err_set(err, -EIO, "%s failed", cmd);
    struct import_opts io = {.cfg = c};
    struct import_summary is;
    struct store *s;
    if (import_run(&io, &is, err) || import_store_open(c, false, &s, NULL, err)) return -1;
    struct tiers_opts o = {.cfg = c, .now_ns = K_EPOCH_UNIX_NS + ((int64_t)last + 30) * K_NS_PER_DAY};
    int64_t t0 = ev_now_ns();
    int rc = tiers_migrate(s, &o, sum, err);
    *secs = (double)(ev_now_ns() - t0) / 1e9;
    store_close(s);
    if (rc) return -1;
    if (!sum->version || !sum->moved) {
        tiers_summary_free(sum);
        return err_set(err, -EINVAL, "nothing moved");
    }
    return 0;
}

#endif
