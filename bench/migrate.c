/* bench/migrate.c: tier migration, in one run.
 *
 *   0. N date partitions (default 20; trade and quote, R rows each a day, default
 *      100,000) written by core/gen and imported into the fast tier of a store;
 *   1. all of them migrated to a slow tier that stores them as they are: wall time
 *      (commit durable) against `cp -a` of the same partitions followed by `sync`;
 *   2. the same into a slow tier that compresses with zstd (level 3, 128 KiB blocks,
 *      kdb+'s kxzipped): wall time and bytes saved, against `zstd -q -3 -T1` of the
 *      same files (each file whole, then `sync`) -- the compressor's own speed and ratio.
 * The source is in the page cache for every contestant (written just before).
 * Nothing passes or fails on time. usage: bench/migrate [DIR] [--days N] [--rows R] */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/gen.h"
#include "ipc/ev.h"

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/migrate: %s: %s\n", what, msg ? msg : strerror(errno));
    exit(1);
}

/* SRC's partitions migrated from a fast tier at BASE to a slow one (ZIP: its
 * compression line, or ""): seconds, *in and *out its bytes. */
static double migrate(const char *src, const char *base, const char *zip, int32_t last, uint64_t *in, uint64_t *out)
{
    char y[8192], tier[4400];
    snprintf(tier, sizeof tier, "{name: slow, mount: hdb, store: \"file://%s/slow\"%s}", base, zip);
    struct cfg *c = NULL;
    struct tiers_summary sum;
    struct smfs_err e = {0};
    double t = 0;
    if (bench_two_tiers(y, sizeof y, base, tier, &c, &e) || bench_migrate_all(src, base, c, last, &t, &sum, &e))
        die("migrate", e.msg);
    *in = sum.bytes_in;
    *out = sum.bytes_out;
    tiers_summary_free(&sum);
    cfg_free(c);
    return t;
}

static uint64_t du(const char *dir, const char *suffix)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "find %s -type f -name '*%s' -printf '%%s\\n' | awk '{s+=$1} END {print s+0}'", dir, suffix);
    FILE *p = popen(cmd, "r");
    unsigned long long n = 0;
    if (!p || fscanf(p, "%llu", &n) != 1) die("du", dir);
    pclose(p);
    return n;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int days = 20;
    int64_t rows = 100000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--days") && i + 1 < argc) days = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = atoll(argv[++i]);
        else dir = argv[i];
    }
    char tmpl[] = "/var/tmp/smfs-bench-mig.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) die("mkdtemp", NULL);
    if (system("command -v zstd >/dev/null")) die("zstd", "the zstd command is not installed (make deps)");

    char src[4200], cmd[20000];
    snprintf(src, sizeof src, "%s/src", dir);
    struct gen_opts go;
    gen_defaults(&go);
    go.dir = src;
    go.days = days;
    go.rows = rows;
    struct gen_stats gs;
    struct smfs_err e = {0};
    if (gen_hdb(&go, &gs, &e)) die("gen", e.msg);
    /* The last weekday written: the start plus the partitions' span. */
    int32_t last = go.start + days * 7 / 5 + 7;
    printf("migrate: %d partitions, %" PRIu64 " files, %.0f MiB (trade and quote, %lld rows a day each)\n",
           gs.partitions, gs.files, (double)gs.bytes / 1048576.0, (long long)rows);

    /* 1. as they are */
    char base[4300], nat[4300];
    uint64_t in, out;
    snprintf(base, sizeof base, "%s/plain", dir);
    double tm = migrate(src, base, "", last, &in, &out);
    snprintf(nat, sizeof nat, "%s/native", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp -a %s/2* %s/ && sync", nat, src, nat);
    double tc = bench_run(cmd);
    printf("  to a tier as they are: %.2f s (%.0f MiB/s); cp -a + sync: %.2f s (%.0f MiB/s): %.2f of cp's speed\n",
           tm, (double)in / 1048576.0 / tm, tc, (double)in / 1048576.0 / tc, tc / tm);

    /* 2. zstd on the way */
    snprintf(base, sizeof base, "%s/zstd", dir);
    double tz = migrate(src, base, ", compression: {algorithm: zstd, block: 17, level: 3}", last, &in, &out);
    snprintf(cmd, sizeof cmd, "cd %s && zstd -q -3 -T1 -r 2* && sync", nat);
    double tzc = bench_run(cmd);
    uint64_t zout = du(nat, ".zst");
    printf("  to a zstd tier: %.2f s (%.0f MiB/s in), %.0f MiB -> %.0f MiB (%.1f%% saved); zstd -3 -T1 + sync: %.2f s, "
           "-> %.0f MiB (%.1f%% saved; %" PRIu64 " against our %" PRIu64 " bytes): %.2f of zstd's speed\n",
           tz, (double)in / 1048576.0 / tz, (double)in / 1048576.0, (double)out / 1048576.0,
           100.0 * (1 - (double)out / (double)in), tzc, (double)zout / 1048576.0, 100.0 * (1 - (double)zout / (double)in), zout, out,
           tzc / tz);
    if (dir == tmpl) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd)) fprintf(stderr, "bench/migrate: could not remove %s\n", dir);
    }
    return 0;
}
