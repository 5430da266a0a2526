/* bench/bench.h: what the benchmark programs share (each is one file and one binary).
 * Owns:    nothing.
 * Never:   prints figures (each benchmark says what it measures). */
#ifndef SMFS_BENCH_H
#define SMFS_BENCH_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

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

#endif
