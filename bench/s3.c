/* bench/s3.c: uploads to an object-storage tier, in one run, against s3rver (a real S3
 * API on loopback, started here from tests/node_modules) so that both contestants pay
 * the same server:
 *   0. N date partitions (default 20; trade and quote, R rows each a day, default
 *      50,000) written by core/gen and imported into the fast tier of a store;
 *   1. all of them migrated to an s3 tier that stores them as they are: wall time
 *      (objects uploaded, each ETag checked, each date's listing verified, the commit
 *      durable) against `aws s3 cp --recursive` of the same partitions (Debian's aws
 *      CLI, 10 requests at a time by default);
 *   2. the same into an s3 tier that compresses with lz4hc on the way: time and bytes;
 *   3. with FUSE: smfs --s3-cache over the store of 1, and `smctl load` (the \l walk)
 *      of the mount twice -- the first fetches every file it opens from the bucket, the
 *      second reads the cache -- against the same walk of the local copy.
 * Nothing passes or fails on time. Run from the top of the tree (make bench).
 * usage: bench/s3 [DIR] [--days N] [--rows R] */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
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
    fprintf(stderr, "bench/s3: %s: %s\n", what, msg ? msg : strerror(errno));
    exit(1);
}

/* The default assembly's tables, a fast tier (kept 1 day) under BASE and an s3 tier at
 * s3://bench/PREFIX (ZIP: its compression line, or ""); its text is left in yaml. */
static char yaml[8192];

static struct cfg *assembly(const char *base, const char *prefix, const char *zip)
{
    char tier[4400];
    snprintf(tier, sizeof tier, "{name: s3, mount: hdb, store: \"s3://bench/%s\"%s}", prefix, zip);
    struct cfg *c = NULL;
    struct smfs_err e = {0};
    if (bench_two_tiers(yaml, sizeof yaml, base, tier, &c, &e)) die("assembly", e.msg);
    return c;
}

/* The \l walk of DIR (smctl load), in seconds. */
static double walk(const char *dir)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "build/rel/smctl load %s >/dev/null", dir);
    return bench_run(cmd);
}

static double migrate(const char *src, const char *base, const char *prefix, const char *zip, int32_t last,
                      uint64_t *in, uint64_t *out, uint64_t *objects)
{
    struct cfg *c = assembly(base, prefix, zip);
    struct tiers_summary sum;
    struct smfs_err e = {0};
    double t = 0;
    if (bench_migrate_all(src, base, c, last, &t, &sum, &e)) die("migrate", e.msg);
    *in = sum.bytes_in;
    *out = sum.bytes_out;
    *objects = sum.s3_puts;
    tiers_summary_free(&sum);
    cfg_free(c);
    return t;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int days = 20;
    int64_t rows = 50000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--days") && i + 1 < argc) days = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = atoll(argv[++i]);
        else dir = argv[i];
    }
    if (access("tests/node_modules/.bin/s3rver", X_OK) || access("/usr/bin/aws", X_OK))
        die("s3rver or aws", "run from the top of the tree after make deps (tests/node_modules/.bin/s3rver, /usr/bin/aws)");
    char tmpl[] = "/var/tmp/smfs-bench-s3.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) die("mkdtemp", NULL);

    /* s3rver on a free port, its data under DIR. */
    char cmd[20000], log[4300];
    snprintf(log, sizeof log, "%s/s3rver.log", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/s3d && NODE_OPTIONS=--openssl-legacy-provider tests/node_modules/.bin/s3rver "
             "-d %s/s3d -a 127.0.0.1 -p 0 --configure-bucket bench >%s 2>&1 & echo $! >%s/s3rver.pid", dir, dir, log, dir);
    bench_run(cmd);
    int port = 0;
    for (int i = 0; i < 200 && !port; i++) {
        FILE *f = fopen(log, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            char *p = strstr(line, "listening on ");
            char *colon = p ? strrchr(p, ':') : NULL;
            if (colon) port = atoi(colon + 1);
        }
        if (f) fclose(f);
        if (!port) usleep(100000);
    }
    if (!port) die("s3rver", "did not start (see its log)");
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    setenv("AWS_ENDPOINT_URL", ep, 1);
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);

    char src[4200];
    snprintf(src, sizeof src, "%s/src", dir);
    struct gen_opts go;
    gen_defaults(&go);
    go.dir = src;
    go.days = days;
    go.rows = rows;
    struct gen_stats gs;
    struct smfs_err e = {0};
    if (gen_hdb(&go, &gs, &e)) die("gen", e.msg);
    int32_t last = go.start + days * 7 / 5 + 7;
    printf("s3: %d partitions, %" PRIu64 " files, %.0f MiB (trade and quote, %lld rows a day each), s3rver on loopback\n",
           gs.partitions, gs.files, (double)gs.bytes / 1048576.0, (long long)rows);

    char base[4300];
    uint64_t in, out, objs;
    snprintf(base, sizeof base, "%s/plain", dir);
    double tm = migrate(src, base, "plain", "", last, &in, &out, &objs);
    snprintf(cmd, sizeof cmd, "cd %s && /usr/bin/aws --endpoint-url %s s3 cp --quiet --recursive . s3://bench/native/ "
             "--exclude sym", src, ep);
    double ta = bench_run(cmd);
    printf("  to an s3 tier as they are: %.2f s (%.1f MiB/s, %" PRIu64 " objects, each verified, one commit); "
           "aws s3 cp --recursive: %.2f s (%.1f MiB/s): %.2f of aws's speed\n",
           tm, (double)in / 1048576.0 / tm, objs, ta, (double)in / 1048576.0 / ta, ta / tm);

    /* 3. the walk through --s3-cache, while the plain store's yaml is the last written */
    char yml[4400], mnt[4400];
    struct cfg *pc = assembly(base, "plain", "");   /* rewrites yaml for that store */
    cfg_free(pc);
    snprintf(yml, sizeof yml, "%s/plain.yaml", base);
    FILE *f = fopen(yml, "w");
    if (!f || fputs(yaml, f) < 0 || fclose(f)) die("write", yml);
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    if (access("/dev/fuse", R_OK | W_OK)) {
        printf("  the \\l walk through --s3-cache: not measured (no /dev/fuse)\n");
    } else {
        snprintf(cmd, sizeof cmd, "mkdir -p %s && build/rel/smfs -c %s --admin %s/adm.sock --q-socket none "
                 "--no-stream --s3-cache %s/cache:10G %s 2>%s/smfs.log && build/rel/smctl status --admin %s/adm.sock "
                 ">/dev/null", mnt, yml, dir, dir, mnt, dir, dir);
        bench_run(cmd);
        double w1 = walk(mnt), w2 = walk(mnt), wl = walk(src);
        printf("  the \\l walk (smctl load) of the %d days through --s3-cache: first %.2f s (every file fetched), "
               "second %.2f s; of the local copy %.2f s: %.1fx and %.2fx of local\n", days, w1, w2, wl, w1 / wl, w2 / wl);
        snprintf(cmd, sizeof cmd, "build/rel/smctl stop --admin %s/adm.sock >/dev/null", dir);
        if (system(cmd)) fprintf(stderr, "bench/s3: could not stop smfs\n");
    }

    snprintf(base, sizeof base, "%s/lz4", dir);
    double tz = migrate(src, base, "lz4", ", compression: {algorithm: lz4hc, block: 17, level: 4}", last, &in, &out, &objs);
    printf("  to an lz4hc s3 tier: %.2f s (%.1f MiB/s in), %.0f MiB -> %.0f MiB (%.1f%% fewer bytes sent): %.2f of aws's "
           "speed at sending the uncompressed files\n", tz, (double)in / 1048576.0 / tz, (double)in / 1048576.0,
           (double)out / 1048576.0, 100.0 * (1 - (double)out / (double)in), ta / tz);

    snprintf(cmd, sizeof cmd, "kill $(cat %s/s3rver.pid)", dir);
    if (system(cmd)) fprintf(stderr, "bench/s3: could not stop s3rver\n");
    if (dir == tmpl) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd)) fprintf(stderr, "bench/s3: could not remove %s\n", dir);
    }
    return 0;
}
