/* bench/import.c: initial import against `cp -a` of the same tree, in one run.
 *
 *   0. generate a date-partitioned HDB of about GB gigabytes (smctl gen-hdb's writer);
 *   1. native: `cp -a` of it into <DIR>/m/data, then syncfs: what a careful admin does
 *      today before converting anything (and the tree the import then converts);
 *   2. import in place with verification (every byte read and checksummed), then
 *      rollback (every file linked back);
 *   3. import with --no-verify (metadata only), then rollback.
 * Page caches are dropped before each step when /proc/sys/vm/drop_caches is writable
 * (root), so "cold" means cold. Figures are ratios against step 1; nothing passes or
 * fails on time.
 * usage: bench/import [DIR] [--gb N] [--days N] [--warm] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/config.h"
#include "core/gen.h"
#include "core/import.h"

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/import: %s: %s\n", what, msg ? msg : strerror(errno));
    exit(1);
}

static bool warm;

static void cold(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
    if (warm) return;
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    if (!f) return;
    fputs("3\n", f);
    fclose(f);
}

static double timed_import(struct cfg *c, bool verify, bool rollback, struct import_summary *sum)
{
    struct import_opts o = { .cfg = c, .verify = verify };
    struct smfs_err err;
    double t = bench_now_s();
    int rc = rollback ? import_rollback(&o, sum, &err) : import_run(&o, sum, &err);
    if (rc < 0) die(rollback ? "rollback" : "import", err.msg);
    return bench_now_s() - t;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    double gb = 10;
    int days = 250;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--gb") && i + 1 < argc) gb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--days") && i + 1 < argc) days = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warm")) warm = true;
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "usage: bench/import [DIR] [--gb N] [--days N] [--warm]\n");
            return 2;
        }
    }
    char tmpl[] = "/var/tmp/smfs-bench-import.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) die("mkdtemp", NULL);
    char src[4096], base[4096], data[4200], cmd[16384];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(base, sizeof base, "%s/m", dir);
    snprintf(data, sizeof data, "%s/hdb/data", base);   /* the default assembly's HDB mount */

    /* Calibrate: one day of 10,000 rows per table says bytes per row. */
    struct gen_opts g;
    gen_defaults(&g);
    struct gen_stats st;
    struct smfs_err err;
    char cal[4200];
    snprintf(cal, sizeof cal, "%s/cal", dir);
    g.dir = cal;
    g.days = 1;
    g.rows = 10000;
    if (gen_hdb(&g, &st, &err) < 0) die("gen-hdb", err.msg);
    double per_row = (double)st.bytes / 10000.0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cal);
    bench_run(cmd);
    g.dir = src;
    g.days = days;
    g.rows = (int64_t)(gb * 1e9 / days / per_row);
    if (g.rows < 1) g.rows = 1;
    double t = bench_now_s();
    if (gen_hdb(&g, &st, &err) < 0) die("gen-hdb", err.msg);
    printf("bench/import: %d partitions x 2 tables x %lld rows: %llu files, %.2f GB (generated in %.0f s)%s\n",
           st.partitions, (long long)g.rows, (unsigned long long)st.files, (double)st.bytes / 1e9,
           bench_now_s() - t, warm ? ", warm caches" : ", caches dropped before each step");

    char cfgp[4300];
    snprintf(cfgp, sizeof cfgp, "%s/bench.yaml", dir);
    if (bench_write_assembly(cfgp, base)) die(cfgp, NULL);
    struct cfg *c = NULL;
    if (cfg_load(cfgp, &c, &err) < 0) die("assembly", err.msg);

    double mb = (double)st.bytes / 1e6;
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/hdb' && cp -a '%s' '%s'", base, src, data);
    cold(dir);
    t = bench_now_s();
    bench_run(cmd);
    cold(dir);   /* cp's data is durable only after this sync: count it */
    double native = bench_now_s() - t;
    printf("  %-34s %8.2f s %8.0f MB/s   1.00\n", "native: cp -a + syncfs", native, mb / native);

    struct import_summary sum;
    struct { const char *name; bool verify, rollback; } steps[] = {
        { "import (verify: read + checksum)", true, false },
        { "rollback", true, true },
        { "import --no-verify", false, false },
        { "rollback", false, true },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cold(dir);
        double s = timed_import(c, steps[i].verify, steps[i].rollback, &sum);
        printf("  %-34s %8.2f s %8.0f MB/s   %.2f\n", steps[i].name, s, mb / s, s / native);
    }
    printf("  (ratio: time against cp -a of the same tree; an import moves the files, it\n"
           "   copies nothing on one filesystem)\n");
    cfg_free(c);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    bench_run(cmd);
    return 0;
}
