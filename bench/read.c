/* bench/read: the same HDB read natively and through smfs, in one run.
 *
 *   0. generate date-partitioned HDBs (smctl gen-hdb's writer): "metadata", many small
 *      partitions (default 2,500 partitions x 5 tables x 10 columns: 137,501 files,
 *      what a query over years of history opens), and "data", few partitions of about
 *      --gb gigabytes in all; hard-link a copy of each and import that, so native and
 *      store read the very same disk blocks;
 *   1. mount it with smfs twice: kernel passthrough, then --no-passthrough (the
 *      cached path: splice, keep_cache, raised readahead);
 *   2. on native, passthrough and cached: on "metadata", a \l-style walk (list every
 *      partition, every table, stat every column, read every .d) and open + read +
 *      close of every column file; on "data", sequential read() of every column file
 *      in 1 MiB calls, an mmap scan of every column file, and random 4 KiB reads
 *      through mmap; each cold (page caches dropped, when /proc/sys/vm/drop_caches is
 *      writable) and warm (the same run again). The FUSE requests the daemon answered
 *      in each warm run are printed per file: the round trips left.
 *   3. with --files N, the largest shape: a walk of about N files through smfs (cold,
 *      then warm), and the daemon's descriptors and resident memory at the end.
 * Figures are rates, and ratios against native in the same run (1.00 = native speed,
 * higher is faster). Nothing passes or fails on time.
 * usage: bench/read [DIR] [--days N] [--tables N] [--cols N] [--rows N] (metadata
 *        shape) [--gb N] [--data-days N] (data shape) [--random N] [--files N] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/config.h"
#include "core/gen.h"
#include "core/import.h"
#include "ipc/admin.h"

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
    double t = bench_now_s();
    uint64_t ops = walk(seg, NULL);
    return (double)ops / (bench_now_s() - t);                /* operations / s */
}

/* Every column file whole: open, read to the end, close. */
static double w_files(const struct files *f, size_t bufsize, double *bytes_s)
{
    static char buf[1 << 20];
    double t = bench_now_s();
    for (size_t i = 0; i < f->n; i++) {
        int fd = open(f->path[i], O_RDONLY);
        if (fd < 0) die(f->path[i], NULL);
        ssize_t r;
        while ((r = read(fd, buf, bufsize)) > 0) sink += (uint64_t)buf[0];
        if (r < 0) die(f->path[i], NULL);
        close(fd);
    }
    double dt = bench_now_s() - t;
    if (bytes_s) *bytes_s = (double)f->bytes / 1e6 / dt;
    return (double)f->n / dt;
}

static double w_small(const char *seg, const struct files *f)
{
    (void)seg;
    return w_files(f, 64 << 10, NULL);                /* files / s */
}

static double w_read(const char *seg, const struct files *f)
{
    (void)seg;
    double mbs;
    w_files(f, 1 << 20, &mbs);
    return mbs;                                       /* MB/s */
}

static double w_mmap(const char *seg, const struct files *f)
{
    (void)seg;
    double t = bench_now_s();
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
    return (double)f->bytes / 1e6 / (bench_now_s() - t);
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
    double t = bench_now_s();
    for (size_t k = 0; k < nrandom; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t i = x % nf;
        if (lens[i] < 4096) continue;
        size_t pg = (x >> 20) % (lens[i] / 4096);
        sink += maps[i][pg * 4096 + (x & 4095)];
    }
    double r = (double)nrandom / (bench_now_s() - t);         /* reads / s */
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
    {"small files: open+read+close", "files/s", w_small},
    {"sequential read() 1 MiB", "MB/s", w_read},
    {"mmap scan", "MB/s", w_mmap},
    {"random 4 KiB via mmap", "reads/s", w_random},
};
#define NWORK (sizeof works / sizeof works[0])

/* What the daemon says about itself, and what /proc says about it. */
struct dstate {
    double lookups, getattrs, readdirs, opens, reads, releases;
    long   fds, rss_kb, hwm_kb, backings;
    double cpu_s;   /* the daemon's user + system time */
};

static long proc_status_kb(pid_t pid, const char *key)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') v = atol(line + kl + 1);
    if (f) fclose(f);
    return v;
}

static struct dstate daemon_state(const char *adm, pid_t pid)
{
    struct dstate d = {0};
    json_t *req = json_pack("{s:s}", "cmd", "status"), *r = NULL;
    struct smfs_err e;
    if (admin_call(adm, req, &r, &e)) die("status", e.msg);
    json_decref(req);
    json_t *fu = json_object_get(r, "fuse");
#define GET(k) (double)json_integer_value(json_object_get(fu, k))
    d.lookups = GET("lookups"), d.getattrs = GET("getattrs"), d.readdirs = GET("readdirs");
    d.opens = GET("opens"), d.reads = GET("reads"), d.releases = GET("releases");
    d.backings = (long)GET("backings");
#undef GET
    json_decref(r);
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/fd", (int)pid);
    DIR *dd = opendir(p);
    for (struct dirent *de; dd && (de = readdir(dd));) d.fds += de->d_name[0] != '.';
    if (dd) closedir(dd);
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *sf = fopen(p, "r");
    unsigned long ut = 0, st = 0;
    /* Fields 14 and 15 (utime, stime) follow the command name, which ends with ')'. */
    if (sf && fscanf(sf, "%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        d.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    if (sf) fclose(sf);
    d.rss_kb = proc_status_kb(pid, "VmRSS");
    d.hwm_kb = proc_status_kb(pid, "VmHWM");
    return d;
}

static void print_requests(const char *what, const char *cache, size_t nfiles, struct dstate a, struct dstate b)
{
    double n = (double)nfiles;
    printf("    %-30s %s: FUSE requests per file: lookup %.2f getattr %.2f readdir %.3f open %.2f read %.2f "
           "release %.2f; daemon CPU %.1f us/file\n", what, cache, (b.lookups - a.lookups) / n,
           (b.getattrs - a.getattrs) / n, (b.readdirs - a.readdirs) / n, (b.opens - a.opens) / n,
           (b.reads - a.reads) / n, (b.releases - a.releases) / n, (b.cpu_s - a.cpu_s) * 1e6 / n);
}

/* Rates of workloads [W0, W1) on SEG, cold then warm. With a daemon (PID > 0), the
 * requests each run cost it, and its CPU time. */
static void measure(const char *seg, double rate[NWORK][2], size_t w0, size_t w1, const char *adm, pid_t pid)
{
    struct files f = {0};
    walk(seg, &f);
    for (size_t w = w0; w < w1; w++) {
        drop_caches();
        struct dstate a0 = pid > 0 ? daemon_state(adm, pid) : (struct dstate){0};
        rate[w][0] = works[w].fn(seg, &f);
        struct dstate a = pid > 0 ? daemon_state(adm, pid) : (struct dstate){0};
        rate[w][1] = works[w].fn(seg, &f);
        if (pid > 0) {
            print_requests(works[w].name, "cold", f.n, a0, a);
            print_requests("", "warm", f.n, a, daemon_state(adm, pid));
        }
    }
    for (size_t i = 0; i < f.n; i++) free(f.path[i]);
    free(f.path);
}

/* Generate SH's HDB under DIR/NAME, hard-link it into a store and import it; SRC gets
 * the native copy, CFGP the assembly, MNT the mount point. Returns the version. */
struct shape {
    const char *name, *tables;
    int days;
    int64_t rows;
};

/* The assembly's tables for a gen-hdb table list: NULL for the default's trade and
 * quote, else YAML declaring each NAME:N wide table as gen-hdb writes it (sym parted,
 * time, then x2.. alternately float and long). The string is static. */
static const char *wide_tables_yaml(const char *list)
{
    static char y[65536];
    if (!list || !strcmp(list, "trade,quote")) return NULL;
    size_t o = 0;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        if (!colon) die("bench/read", "a table of the metadata shape is not NAME:COLUMNS");
        *colon = 0;
        int nc = atoi(colon + 1);
        o += (size_t)snprintf(y + o, sizeof y - o,
                              "  %s:\n    type: partitioned\n    prtnCol: time\n    sortColsDisk: [sym]\n"
                              "    columns:\n      - {name: sym, type: symbol, attrDisk: parted}\n"
                              "      - {name: time, type: timestamp}\n", t);
        for (int c = 2; c < nc && o < sizeof y; c++)
            o += (size_t)snprintf(y + o, sizeof y - o, "      - {name: x%d, type: %s}\n", c, c % 2 ? "long" : "float");
        if (o >= sizeof y) die("bench/read", "too many columns for the assembly");
    }
    return y;
}

static uint64_t prepare(const char *dir, const struct shape *sh, char *src, char *cfgp, char *mnt, char *adm,
                        size_t n)
{
    char base[1200], cmd[8192];
    snprintf(src, n, "%s/%s/src", dir, sh->name);
    snprintf(base, sizeof base, "%s/%s/m", dir, sh->name);
    snprintf(cfgp, n, "%s/%s/a.yaml", dir, sh->name);
    snprintf(mnt, n, "%s/%s/mnt", dir, sh->name);
    snprintf(adm, n, "%s/%s/adm.sock", dir, sh->name);
    struct gen_opts g;
    struct gen_stats st;
    struct smfs_err err;
    gen_defaults(&g);
    g.dir = src;
    g.days = sh->days;
    g.rows = sh->rows;
    g.tables = sh->tables;
    double t = bench_now_s();
    if (gen_hdb(&g, &st, &err) < 0) die("gen-hdb", err.msg);
    printf("bench/read %s: %d partitions x %d tables x %lld rows: %llu files, %.2f GB (generated in %.0f s)\n",
           sh->name, st.partitions, st.tables, (long long)g.rows, (unsigned long long)st.files,
           (double)st.bytes / 1e9, bench_now_s() - t);
    if (bench_write_assembly_tables(cfgp, base, wide_tables_yaml(sh->tables))) die(cfgp, NULL);
    struct cfg *c = NULL;
    if (cfg_load(cfgp, &c, &err) < 0) die("assembly", err.msg);
    /* The store takes hard links of the same files: native and smfs read the same
     * blocks, so only the path to them differs. */
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/hdb' && cp -al '%s' '%s/hdb/data' && mkdir -p '%s'", base, src, base,
             mnt);
    if (system(cmd)) die("command failed", cmd);
    struct import_opts io = {.cfg = c, .verify = false};
    struct import_summary sum;
    t = bench_now_s();
    if (import_run(&io, &sum, &err) < 0) die("import", err.msg);
    printf("  imported in %.0f s\n", bench_now_s() - t);
    cfg_free(c);
    return sum.version;
}

/* The largest shape: a walk of about NFILES files, and what the daemon holds after. */
static void huge_walk(const char *dir, const char *smfs, long nfiles, int tables, int cols)
{
    char src[1200], cfgp[1200], mnt[1200], adm[1200], seg[1300], list[1024] = "";
    for (int t = 1; t <= tables; t++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%st%d:%d", t > 1 ? "," : "", t, cols);
    long per = (long)tables * (cols + 1);
    struct shape sh = {"huge", list, (int)((nfiles + per - 1) / per), 1};
    uint64_t ver = prepare(dir, &sh, src, cfgp, mnt, adm, sizeof src);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    snprintf(seg, sizeof seg, "%s/v%llu$/hdb", mnt, (unsigned long long)ver);
    drop_caches();
    double t = bench_now_s();
    uint64_t ops = walk(src, NULL);
    double native = (double)ops / (bench_now_s() - t);
    pid_t pid = mount_smfs(smfs, cfgp, mnt, adm, true);
    drop_caches();
    t = bench_now_s();
    walk(seg, NULL);
    double cold = (double)ops / (bench_now_s() - t);
    t = bench_now_s();
    walk(seg, NULL);
    double warm = (double)ops / (bench_now_s() - t);
    struct dstate d = daemon_state(adm, pid);
    printf("\n  \\l walk of %llu files (%ld partitions), descriptors limited to %llu:\n"
           "    native cold %.0f ops/s; smfs cold %.0f (%.2f), warm %.0f ops/s\n"
           "    the daemon after: %ld descriptors, resident %.1f MiB (peak %.1f MiB), %.0f lookups,\n"
           "    %ld passthrough registrations kept (kernel references, not descriptors)\n",
           (unsigned long long)(sh.days * per + 1), (long)sh.days, (unsigned long long)rl.rlim_cur, native, cold,
           cold / native, warm, d.fds, (double)d.rss_kb / 1024, (double)d.hwm_kb / 1024, d.lookups,
           d.backings);
    unmount_smfs(pid);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    double gb = 1;
    int mdays = 2500, ddays = 20, tables = 5, cols = 10;
    long files = 0;
    int64_t mrows = 600;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--gb") && i + 1 < argc) gb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--days") && i + 1 < argc) mdays = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tables") && i + 1 < argc) tables = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cols") && i + 1 < argc) cols = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) mrows = atol(argv[++i]);
        else if (!strcmp(argv[i], "--data-days") && i + 1 < argc) ddays = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--random") && i + 1 < argc) nrandom = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--files") && i + 1 < argc) files = atol(argv[++i]);
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "usage: bench/read [DIR] [--days N] [--tables N] [--cols N] [--rows N] [--gb N] "
                            "[--data-days N] [--random N] [--files N]\n");
            return 2;
        }
    }
    if (tables < 1 || tables > GEN_MAX_TABLES || cols < 2 || cols > GEN_MAX_COLS || mdays < 1 || mrows < 0) {
        fprintf(stderr, "bench/read: --tables 1..%d, --cols 2..%d, --days >= 1, --rows >= 0\n", GEN_MAX_TABLES,
                GEN_MAX_COLS);
        return 2;
    }
    if (access("/dev/fuse", R_OK | W_OK)) {
        printf("bench/read: /dev/fuse is not available here: nothing to compare\n");
        return 0;
    }
    char smfs[4200];
    if (bench_smfs_path(smfs, sizeof smfs)) die("readlink /proc/self/exe", NULL);

    char tmpl[] = "/var/tmp/smfs-bench-read.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) die("mkdtemp", NULL);
    char src[1200], cfgp[1200], mnt[1200], adm[1200], seg[1300], cmd[8192], list[1024] = "";
    for (int t = 1; t <= tables; t++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%st%d:%d", t > 1 ? "," : "", t, cols);

    /* Two shapes of one kind of HDB: many small partitions for what each file costs
     * (a load of years of history, a query over many days), few big ones for the data
     * paths (columns of megabytes, as kdb+ maps them). */
    struct { struct shape sh; size_t w0, w1; } shapes[] = {
        {{"metadata", list, mdays, mrows}, 0, 2},
        {{"data", "trade,quote", ddays, (int64_t)(gb * 1e9 / ddays / 2 / 60.0)}, 2, NWORK},
    };
    double rn[NWORK][2], rp[NWORK][2], rc[NWORK][2];
    for (size_t k = 0; k < 2; k++) {
        const struct shape *sh = &shapes[k].sh;
        size_t w0 = shapes[k].w0, w1 = shapes[k].w1;
        uint64_t ver = prepare(dir, sh, src, cfgp, mnt, adm, sizeof src);
        measure(src, rn, w0, w1, NULL, 0);
        snprintf(seg, sizeof seg, "%s/v%llu$/hdb", mnt, (unsigned long long)ver);
        pid_t pid = mount_smfs(smfs, cfgp, mnt, adm, true);
        measure(seg, rp, w0, w1, adm, pid);
        unmount_smfs(pid);
        pid = mount_smfs(smfs, cfgp, mnt, adm, false);
        measure(seg, rc, w0, w1, adm, pid);
        unmount_smfs(pid);
        snprintf(cmd, sizeof cmd, "rm -rf '%s/%s'", dir, sh->name);
        if (system(cmd)) die("command failed", cmd);
    }

    printf("\n  %-30s %-5s %14s %14s %7s %14s %7s\n", "workload", "cache", "native", "passthrough", "ratio",
           "cached path", "ratio");
    for (size_t w = 0; w < NWORK; w++)
        for (int k = 0; k < 2; k++)
            printf("  %-30s %-5s %14.0f %14.0f %7.2f %14.0f %7.2f   %s\n", k ? "" : works[w].name,
                   k ? "warm" : (can_drop ? "cold" : "(warm)"), rn[w][k], rp[w][k], rp[w][k] / rn[w][k],
                   rc[w][k], rc[w][k] / rn[w][k], works[w].unit);
    printf("  (ratio: rate through smfs / rate on the plain filesystem, same run, same blocks;\n"
           "   1.00 = native speed%s)\n", can_drop ? "" : "; caches could not be dropped: not root");
    if (files > 0) huge_walk(dir, smfs, files, tables, cols);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) die("command failed", cmd);
    return 0;
}
