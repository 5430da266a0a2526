/* bench/store.c: the tier store against the plain filesystem, in one run.
 *
 *   1. commit of a PARTS × TABLES × COLS tree (default 2,500 × 5 × 10 = 125,000 files
 *      of 64 bytes), against writing the same files natively and syncfs;
 *   2. one-partition commits on top of it (TABLES × COLS files each), against writing
 *      the partition natively and syncfs;
 *   3. path lookups per second (store_lookup of a column path) against stat(2);
 *   4. store_open of the store after VERSIONS more commits (default 10,000), and the
 *      memory the open store holds.
 * Figures are printed as ratios against native; nothing passes or fails on time.
 * usage: bench/store [DIR] [--parts N] [--tables N] [--cols N] [--versions N] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/fileio.h"
#include "core/store.h"

/* Anonymous resident memory: the heap the store holds, not the page cache its maps share. */
static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static void die(const char *what, const struct smfs_err *e)
{
    fprintf(stderr, "bench/store: %s: %s\n", what, e ? e->msg : strerror(errno));
    exit(1);
}

static void colpath(char *buf, size_t n, int part, int t, int c)
{
    snprintf(buf, n, "seg/2%03d.%02d.%02d/t%d/c%02d", 100 + part / 336, part / 28 % 12 + 1,
             part % 28 + 1, t, c);
}

static const char payload[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";

static void native_files(const char *root, int p0, int p1, int tables, int cols)
{
    char path[4096], rel[128];
    for (int p = p0; p < p1; p++)
        for (int t = 0; t < tables; t++)
            for (int c = 0; c < cols; c++) {
                colpath(rel, sizeof rel, p, t, c);
                snprintf(path, sizeof path, "%s/%s", root, rel);
                if (c == 0) {
                    char dir[4096];
                    snprintf(dir, sizeof dir, "%s", path);
                    *strrchr(dir, '/') = '\0';
                    struct smfs_err e;
                    if (file_mkdirs(dir, 0755, &e) < 0) die("mkdir", &e);
                }
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd < 0 || write(fd, payload, sizeof payload) != (ssize_t)sizeof payload) die(path, NULL);
                close(fd);
            }
    int fd = open(root, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || syncfs(fd) < 0) die("syncfs", NULL);
    close(fd);
}

static void store_files(struct store *s, int p0, int p1, int tables, int cols)
{
    struct store_tx *tx;
    struct smfs_err e;
    if (store_tx_begin(s, &tx, &e) < 0) die("begin", &e);
    char rel[128];
    for (int p = p0; p < p1; p++)
        for (int t = 0; t < tables; t++)
            for (int c = 0; c < cols; c++) {
                colpath(rel, sizeof rel, p, t, c);
                if (store_tx_put_bytes(tx, rel, payload, sizeof payload, 0, &e) < 0) die("put", &e);
            }
    if (store_tx_commit(tx, NULL, &e) < 0) die("commit", &e);
}

static uint64_t du(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "du -sb '%s' | cut -f1", dir);
    FILE *p = popen(cmd, "r");
    unsigned long long n = 0;
    if (!p || fscanf(p, "%llu", &n) != 1) n = 0;
    if (p) pclose(p);
    return n;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/smfs-bench-store";
    int parts = 2500, tables = 5, cols = 10, versions = 10000;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--parts")) parts = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--tables")) tables = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--cols")) cols = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--versions")) versions = atoi(argv[++i]);
        else if (argv[i][0] != '-') dir = argv[i];
        else {
            fprintf(stderr, "usage: bench/store [DIR] [--parts N] [--tables N] [--cols N] [--versions N]\n");
            return 2;
        }
    }
    char cmd[4200], native[4096], home[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) die("rm", NULL);
    snprintf(native, sizeof native, "%s/native", dir);
    snprintf(home, sizeof home, "%s/store", dir);
    long files = (long)parts * tables * cols;
    printf("store benchmark in %s: %d partitions x %d tables x %d columns = %ld files of %zu bytes\n",
           dir, parts, tables, cols, files, sizeof payload);

    /* 1. The whole tree in one commit. */
    double t0 = bench_now_s();
    native_files(native, 0, parts, tables, cols);
    double tn = bench_now_s() - t0;
    struct smfs_err e;
    struct store_tier tier = { .name = "hdb" };
    if (store_create(home, &tier, 1, &e) < 0) die("create", &e);
    struct store *s;
    if (store_open(home, NULL, &s, NULL, &e) < 0) die("open", &e);
    t0 = bench_now_s();
    store_files(s, 0, parts, tables, cols);
    double ts = bench_now_s() - t0;
    printf("%-34s native %8.2f s   smfs %8.2f s   ratio %5.2f  (%.0f files/s)\n", "initial commit",
           tn, ts, ts / tn, (double)files / ts);

    /* 2. One partition per commit, durable each time. */
    int rounds = 20;
    t0 = bench_now_s();
    for (int r = 0; r < rounds; r++) native_files(native, parts + r, parts + r + 1, tables, cols);
    tn = (bench_now_s() - t0) / rounds;
    t0 = bench_now_s();
    for (int r = 0; r < rounds; r++) store_files(s, parts + r, parts + r + 1, tables, cols);
    ts = (bench_now_s() - t0) / rounds;
    printf("%-34s native %8.2f ms  smfs %8.2f ms  ratio %5.2f\n", "one-partition commit", tn * 1e3,
           ts * 1e3, ts / tn);

    /* 3. Lookups of random column paths. */
    int nlook = 200000;
    char rel[128], path[4400];
    srand(7);
    t0 = bench_now_s();
    for (int i = 0; i < nlook; i++) {
        colpath(rel, sizeof rel, rand() % parts, rand() % tables, rand() % cols);
        snprintf(path, sizeof path, "%s/%s", native, rel);
        struct stat st;
        if (stat(path, &st) < 0) die(path, NULL);
    }
    tn = bench_now_s() - t0;
    struct store_snap *snap;
    if (store_snap_get(s, 0, &snap, &e) < 0) die("snap", &e);
    srand(7);
    t0 = bench_now_s();
    for (int i = 0; i < nlook; i++) {
        colpath(rel, sizeof rel, rand() % parts, rand() % tables, rand() % cols);
        struct store_entry ent;
        if (store_lookup(snap, rel, &ent, &e) < 0) die("lookup", &e);
    }
    ts = bench_now_s() - t0;
    store_snap_put(snap);
    printf("%-34s native %8.0f /s  smfs %8.0f /s  ratio %5.2f (smfs/native speed)\n", "path lookups",
           nlook / tn, nlook / ts, tn / ts);

    /* 4. Many versions: small commits (one file in a small directory), then reopen. */
    struct store_opts fast = { .no_sync = true };
    store_close(s);
    if (store_open(home, &fast, &s, NULL, &e) < 0) die("open", &e);
    t0 = bench_now_s();
    for (int v = 0; v < versions; v++) {
        struct store_tx *tx;
        if (store_tx_begin(s, &tx, &e) < 0) die("begin", &e);
        snprintf(rel, sizeof rel, "meta/m%03d", v % 100);
        if (store_tx_put_bytes(tx, rel, payload, sizeof payload, 0, &e) < 0) die("put", &e);
        if (store_tx_commit(tx, NULL, &e) < 0) die("commit", &e);
    }
    double tv = bench_now_s() - t0;
    store_close(s);
    snprintf(path, sizeof path, "%s/packs", home);
    uint64_t index = du(path);
    long rss0 = rss_kb();
    t0 = bench_now_s();
    if (store_open(home, NULL, &s, NULL, &e) < 0) die("open", &e);
    double to = bench_now_s() - t0;
    long rss1 = rss_kb();
    printf("%-34s %d commits in %.2f s (no sync); index %.1f MB\n", "version history", versions, tv,
           (double)index / 1e6);
    printf("%-34s %8.3f s for %llu versions; +%ld KB heap\n", "open", to,
           (unsigned long long)store_current(s), rss1 - rss0);
    struct store_vacuum_report vr;
    t0 = bench_now_s();
    if (store_vacuum(s, NULL, &vr, &e) < 0) die("vacuum", &e);
    printf("%-34s %8.2f s: dropped %u versions, %llu objects, %u packs\n", "vacuum --keep 1",
           bench_now_s() - t0, vr.versions_dropped, (unsigned long long)vr.objects_removed, vr.packs_removed);
    store_close(s);
    printf("disk: native tree %.1f MB, store %.1f MB\n", (double)du(native) / 1e6, (double)du(home) / 1e6);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) != 0;
}
