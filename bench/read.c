/* bench/read.c: the same HDB read natively and through smfs, in one run.
 *
 *   0. generate two date-partitioned HDBs (smctl gen-hdb's writer): "metadata", many
 *      small partitions, and "data", few partitions of about --gb gigabytes in all;
 *      hard-link a copy of each and import that, so native and store read the very
 *      same disk blocks;
 *   1. mount it with smfs twice: kernel passthrough, then --no-passthrough (the
 *      cached path: splice, keep_cache, raised readahead);
 *   2. on native, passthrough and cached: a \l-style metadata walk (list every
 *      partition, every table, stat every column, read every .d), sequential read()
 *      of every column file in 1 MiB calls, an mmap scan of every column file, and
 *      random 4 KiB reads through mmap; each cold (page caches dropped, when
 *      /proc/sys/vm/drop_caches is writable) and warm (the same run again).
 * Figures are rates, and ratios against native in the same run (1.00 = native speed,
 * higher is faster). Nothing passes or fails on time.
 * usage: bench/read [DIR] [--gb N (data shape, default 1)] [--days N (metadata shape,
 *        default 2000 partitions)] [--data-days N (default 20)] [--random N] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/config.h"
#include "core/gen.h"
#include "core/import.h"
#include "ipc/admin.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t child;   /* a running smfs: stopped (unmounting) on any exit */

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/read: %s: %s\n", what, msg ? msg : strerror(errno));
    if (child > 0) kill(child, SIGTERM);
    exit(1);
}

static bool can_drop = true;

static void drop_caches(void)
{
    sync();
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    if (!f) {
        can_drop = false;
        return;
    }
    fputs("3\n", f);
    fclose(f);
}

/* ---- the tree under test -------------------------------------------------------- */

struct files {
    char  **path;       /* column files (not .d, not sym) */
    size_t  n;
    uint64_t bytes;
};

static void add(struct files *f, const char *p, uint64_t size)
{
    f->path = realloc(f->path, (f->n + 1) * sizeof *f->path);
    if (!f->path || !(f->path[f->n] = strdup(p))) die("out of memory", NULL);
    f->n++;
    f->bytes += size;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in DIR, sorted, without dot entries. */
static char **names(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) die(dir, NULL);
    char **v = NULL;
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]))) continue;
        v = realloc(v, (*n + 1) * sizeof *v);
        if (!v || !(v[*n] = strdup(de->d_name))) die("out of memory", NULL);
        (*n)++;
    }
    closedir(d);
    qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* The \l walk over the partitions of SEG: list each partition, each table, read its
 * .d, stat every column. Also collects the column files (when F is not NULL). */
static uint64_t walk(const char *seg, struct files *f)
{
    uint64_t ops = 0;
    size_t np, nt, nc;
    char **parts = names(seg, &np);
    char p[8192], buf[4096];
    ops++;
    for (size_t i = 0; i < np; i++) {
        if (parts[i][0] < '0' || parts[i][0] > '9') continue;   /* sym beside native partitions */
        snprintf(p, sizeof p, "%s/%s", seg, parts[i]);
        char **tabs = names(p, &nt);
        ops++;
        for (size_t t = 0; t < nt; t++) {
            snprintf(p, sizeof p, "%s/%s/%s/.d", seg, parts[i], tabs[t]);
            int fd = open(p, O_RDONLY);
            if (fd < 0 || read(fd, buf, sizeof buf) <= 0) die(p, NULL);
            close(fd);
            snprintf(p, sizeof p, "%s/%s/%s", seg, parts[i], tabs[t]);
            char **cols = names(p, &nc);
            ops += 2;
            for (size_t c = 0; c < nc; c++) {
                struct stat st;
                snprintf(p, sizeof p, "%s/%s/%s/%s", seg, parts[i], tabs[t], cols[c]);
                if (stat(p, &st)) die(p, NULL);
                ops++;
                if (f && strcmp(cols[c], ".d")) add(f, p, (uint64_t)st.st_size);
            }
            free_names(cols, nc);
        }
        free_names(tabs, nt);
    }
    free_names(parts, np);
    return ops;
}

/* ---- workloads: each returns a rate ------------------------------------------------ */

static volatile uint64_t sink;

static double w_walk(const char *seg, const struct files *f)
{
    (void)f;
    double t = now();
    uint64_t ops = walk(seg, NULL);
    return (double)ops / (now() - t);                /* operations / s */
}

static double w_read(const char *seg, const struct files *f)
{
    (void)seg;
    static char buf[1 << 20];
    double t = now();
    for (size_t i = 0; i < f->n; i++) {
        int fd = open(f->path[i], O_RDONLY);
        if (fd < 0) die(f->path[i], NULL);
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0) sink += (uint64_t)buf[0];
        close(fd);
    }
    return (double)f->bytes / 1e6 / (now() - t);    /* MB/s */
}

static double w_mmap(const char *seg, const struct files *f)
{
    (void)seg;
    double t = now();
    for (size_t i = 0; i < f->n; i++) {
        int fd = open(f->path[i], O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) die(f->path[i], NULL);
        size_t len = (size_t)st.st_size;
        const uint64_t *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) die("mmap", NULL);
        uint64_t s = 0;
        for (size_t k = 0; k < len / 8; k++) s += m[k];   /* every word: a real scan */
        sink += s;
        munmap((void *)m, len);
    }
    return (double)f->bytes / 1e6 / (now() - t);
}

static size_t nrandom = 20000;

static double w_random(const char *seg, const struct files *f)
{
    (void)seg;
    size_t nf = f->n;
    const uint8_t **maps = calloc(nf, sizeof *maps);
    size_t *lens = calloc(nf, sizeof *lens);
    if (!maps || !lens) die("out of memory", NULL);
    for (size_t i = 0; i < nf; i++) {
        int fd = open(f->path[i], O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) die(f->path[i], NULL);
        lens[i] = (size_t)st.st_size;
        maps[i] = mmap(NULL, lens[i], PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (maps[i] == MAP_FAILED) die("mmap", NULL);
    }
    uint64_t x = 88172645463325252ull;   /* xorshift: the same pages on every tree */
    double t = now();
    for (size_t k = 0; k < nrandom; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t i = x % nf;
        if (lens[i] < 4096) continue;
        size_t pg = (x >> 20) % (lens[i] / 4096);
        sink += maps[i][pg * 4096 + (x & 4095)];
    }
    double r = (double)nrandom / (now() - t);         /* reads / s */
    for (size_t i = 0; i < nf; i++) munmap((void *)maps[i], lens[i]);
    free(maps);
    free(lens);
    return r;
}

/* ---- smfs as a child process -------------------------------------------------------- */

static pid_t mount_smfs(const char *smfs, const char *cfg, const char *mnt, const char *adm, bool pt)
{
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0 && !getenv("BENCH_VERBOSE")) dup2(fd, 2);
        execl(smfs, smfs, "-c", cfg, "--admin", adm, "-f", pt ? "--log-level=warn" : "--no-passthrough",
              "--log-level=warn", mnt, (char *)NULL);
        _exit(127);
    }
    json_t *req = json_pack("{s:s}", "cmd", "status"), *r = NULL;
    struct smfs_err e;
    for (int i = 0; i < 300; i++) {
        if (admin_call(adm, req, &r, &e) == 0) break;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) die("smfs", "exited at start (is /dev/fuse there?)");
        usleep(100000);
    }
    json_decref(req);
    if (!r) die("smfs", "did not start");
    json_t *fu = json_object_get(r, "fuse");
    printf("  smfs %s: passthrough %s, readahead %lld KiB\n", pt ? "(passthrough wanted)" : "--no-passthrough",
           json_is_true(json_object_get(fu, "passthrough")) ? "on" : "off",
           (long long)json_integer_value(json_object_get(fu, "readahead_kb")));
    json_decref(r);
    child = pid;
    return pid;
}

static void unmount_smfs(pid_t pid)
{
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    child = 0;
}

struct work {
    const char *name, *unit;
    double (*fn)(const char *, const struct files *);
};

static const struct work works[] = {
    {"\\l walk (list, .d, stat)", "ops/s", w_walk},
    {"sequential read() 1 MiB", "MB/s", w_read},
    {"mmap scan", "MB/s", w_mmap},
    {"random 4 KiB via mmap", "reads/s", w_random},
};
#define NWORK (sizeof works / sizeof works[0])

/* Rates of workloads [W0, W1) on SEG, cold then warm. */
static void measure(const char *seg, double rate[NWORK][2], size_t w0, size_t w1)
{
    struct files f = {0};
    walk(seg, &f);
    for (size_t w = w0; w < w1; w++) {
        drop_caches();
        rate[w][0] = works[w].fn(seg, &f);
        rate[w][1] = works[w].fn(seg, &f);
    }
    for (size_t i = 0; i < f.n; i++) free(f.path[i]);
    free(f.path);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    double gb = 1;
    int mdays = 2000, ddays = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--gb") && i + 1 < argc) gb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--days") && i + 1 < argc) mdays = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data-days") && i + 1 < argc) ddays = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--random") && i + 1 < argc) nrandom = (size_t)atol(argv[++i]);
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "usage: bench/read [DIR] [--gb N] [--days N] [--data-days N] [--random N]\n");
            return 2;
        }
    }
    if (access("/dev/fuse", R_OK | W_OK)) {
        printf("bench/read: /dev/fuse is not available here: nothing to compare\n");
        return 0;
    }
    char smfs[4200];
    if (bench_smfs_path(smfs, sizeof smfs)) die("readlink /proc/self/exe", NULL);

    char tmpl[] = "/var/tmp/smfs-bench-read.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) die("mkdtemp", NULL);
    char src[1200], base[1200], cfgp[1200], mnt[1200], adm[1200], seg[1300], cmd[8192];

    /* Two shapes of one kind of HDB: many small partitions for the \l walk (what
     * a load of years of history costs), few big ones for the data paths (columns
     * of megabytes, as kdb+ maps them). */
    struct shape { const char *name; int days; double gb; size_t w0, w1; } shapes[] = {
        {"metadata", mdays, 0.05, 0, 1},
        {"data", ddays, gb, 1, NWORK},
    };
    double rn[NWORK][2], rp[NWORK][2], rc[NWORK][2];
    for (size_t k = 0; k < 2; k++) {
        const struct shape *sh = &shapes[k];
        char sd[1100];
        snprintf(sd, sizeof sd, "%s/%s", dir, sh->name);
        snprintf(src, sizeof src, "%s/src", sd);
        snprintf(base, sizeof base, "%s/m", sd);
        snprintf(cfgp, sizeof cfgp, "%s/a.yaml", sd);
        snprintf(mnt, sizeof mnt, "%s/mnt", sd);
        snprintf(adm, sizeof adm, "%s/adm.sock", sd);
        struct gen_opts g;
        struct gen_stats st;
        struct smfs_err err;
        gen_defaults(&g);
        g.dir = src;
        g.days = sh->days;
        g.rows = (int64_t)(sh->gb * 1e9 / sh->days / 2 / 60.0);   /* about 60 bytes a row a table */
        if (g.rows < 1) g.rows = 1;
        double t = now();
        if (gen_hdb(&g, &st, &err) < 0) die("gen-hdb", err.msg);
        printf("bench/read %s: %d partitions x 2 tables x %lld rows: %llu files, %.2f GB (generated in %.0f s)\n",
               sh->name, st.partitions, (long long)g.rows, (unsigned long long)st.files, (double)st.bytes / 1e9,
               now() - t);
        if (bench_write_assembly(cfgp, base)) die(cfgp, NULL);
        struct cfg *c = NULL;
        if (cfg_load(cfgp, &c, &err) < 0) die("assembly", err.msg);
        /* The store takes hard links of the same files: native and smfs read the
         * same blocks, so only the path to them differs. */
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/hdb' && cp -al '%s' '%s/hdb/data' && mkdir -p '%s'", base, src,
                 base, mnt);
        if (system(cmd)) die("command failed", cmd);
        struct import_opts io = {.cfg = c, .verify = false};
        struct import_summary sum;
        if (import_run(&io, &sum, &err) < 0) die("import", err.msg);
        cfg_free(c);
        measure(src, rn, sh->w0, sh->w1);
        snprintf(seg, sizeof seg, "%s/v%llu$/hdb", mnt, (unsigned long long)sum.version);
        pid_t pid = mount_smfs(smfs, cfgp, mnt, adm, true);
        measure(seg, rp, sh->w0, sh->w1);
        unmount_smfs(pid);
        pid = mount_smfs(smfs, cfgp, mnt, adm, false);
        measure(seg, rc, sh->w0, sh->w1);
        unmount_smfs(pid);
    }

    printf("\n  %-28s %-5s %14s %14s %7s %14s %7s\n", "workload", "cache", "native", "passthrough", "ratio",
           "cached path", "ratio");
    for (size_t w = 0; w < NWORK; w++)
        for (int k = 0; k < 2; k++)
            printf("  %-28s %-5s %14.0f %14.0f %7.2f %14.0f %7.2f   %s\n", k ? "" : works[w].name,
                   k ? "warm" : (can_drop ? "cold" : "(warm)"), rn[w][k], rp[w][k], rp[w][k] / rn[w][k],
                   rc[w][k], rc[w][k] / rn[w][k], works[w].unit);
    printf("  (ratio: rate through smfs / rate on the plain filesystem, same run, same blocks;\n"
           "   1.00 = native speed%s)\n", can_drop ? "" : "; caches could not be dropped: not root");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) die("command failed", cmd);
    return 0;
}
