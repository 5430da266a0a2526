/* bench/writedown.c: end of day, in one run.
 *
 *   0. a day of N rows (default 10 million: 60% trade, 40% quote, 100 symbols, times
 *      ascending with arrival jitter, the default assembly's columns) taken into an
 *      intraday store (core/spill) and sealed;
 *   1. the writedown into an empty store, column writers in parallel (the default):
 *      wall time against `dd`-style writing of the same number of bytes to the same
 *      disk in 1 MiB writes with one fsync at the end;
 *   2. the same with one column writer (the shape of .Q.hdpf: sort, then write each
 *      column in turn): the parallel speed-up;
 *   3. peak resident memory of each writedown (a child process each, so one run's
 *      memory does not hide in the other's) against the day's bytes.
 * Nothing passes or fails on time. usage: bench/writedown [DIR] [--rows N] */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/config.h"
#include "core/import.h"
#include "core/k.h"
#include "core/k_fmt.h"
#include "core/spill.h"
#include "core/store.h"
#include "core/writedown.h"
#include "ipc/ev.h"

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/writedown: %s: %s\n", what, msg ? msg : strerror(errno));
    exit(1);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* BATCH rows of TABLE from row FROM as a list of columns of the default schema. */
static struct k *batch(bool trade, int64_t from, int64_t n, int32_t day, uint64_t *seed)
{
    static const char *ex = "NLQAB";
    static char names[100][8];
    static const char *np[100];
    if (!np[0])
        for (int i = 0; i < 100; i++) {
            snprintf(names[i], sizeof names[i], "S%03d", (i * 37) % 100);
            np[i] = names[i];
        }
    int nc = trade ? 6 : 8;
    struct k *cols = k_list(nc), *sym = k_vec(KT_SYM, n), *time = k_vec(KT_TIMESTAMP, n);
    struct k *f1 = k_vec(KT_FLOAT, n), *f2 = k_vec(KT_FLOAT, n), *j1 = k_vec(KT_LONG, n), *j2 = k_vec(KT_LONG, n);
    struct k *ch = k_vec(KT_CHAR, n), *str = k_list(n);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = rnd(seed);
        if (k_symv_set(sym, i, np[r % 100])) die("batch", "no memory");
        int64_t row = from + i;
        ((int64_t *)time->u.v)[i] = (int64_t)day * K_NS_PER_DAY + 34200000000000 + row * 2000 + (int64_t)(r % 1500);
        ((double *)f1->u.v)[i] = 100 + (double)(r % 10000) / 100;
        ((double *)f2->u.v)[i] = 100.01 + (double)(r % 10000) / 100;
        ((int64_t *)j1->u.v)[i] = (int64_t)(r >> 20) % 1000;
        ((int64_t *)j2->u.v)[i] = (int64_t)(r >> 30) % 1000;
        ((char *)ch->u.v)[i] = ex[r % 5];
        k_list_set(str, i, k_str(trade ? "@" : "R", 1));
    }
    int c = 0;
    k_list_set(cols, c++, sym);
    k_list_set(cols, c++, time);
    k_list_set(cols, c++, f1);
    if (!trade) k_list_set(cols, c++, f2);
    else k_free(f2);
    k_list_set(cols, c++, j1);
    if (!trade) k_list_set(cols, c++, j2);
    else k_free(j2);
    k_list_set(cols, c++, ch);
    k_list_set(cols, c++, str);
    return cols;
}

/* One writedown in a child: its wall time, bytes and peak resident set. */
static void writedown_child(const char *cfgpath, const char *spilldir, int threads, int32_t day, double *secs,
                            uint64_t *bytes, long *maxrss_kb)
{
    int pfd[2];
    if (pipe(pfd)) die("pipe", NULL);
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid == 0) {
        struct cfg *cfg;
        struct store *s;
        struct spill *sp;
        struct smfs_err e = {0};
        if (cfg_load(cfgpath, &cfg, &e) || import_store_open(cfg, true, &s, NULL, &e)) die("store", e.msg);
        struct spill_opts so = {.cfg = cfg};
        if (spill_open(spilldir, &so, &sp, &e)) die("spill", e.msg);
        struct wd_opts o = {.cfg = cfg, .date = day, .id = "bench", .threads = threads, .oldest = INT32_MIN};
        struct wd_summary sum;
        double t0 = bench_now_s();
        if (writedown_eod(s, sp, &o, &sum, &e)) die("writedown", e.msg);
        double t = bench_now_s() - t0;
        if (write(pfd[1], &t, sizeof t) != sizeof t || write(pfd[1], &sum.bytes, sizeof sum.bytes) != sizeof sum.bytes)
            _exit(1);
        spill_close(sp);
        store_close(s);
        cfg_free(cfg);
        _exit(0);
    }
    close(pfd[1]);
    if (read(pfd[0], secs, sizeof *secs) != sizeof *secs || read(pfd[0], bytes, sizeof *bytes) != sizeof *bytes)
        die("writedown", "the child failed");
    close(pfd[0]);
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) die("writedown", "the child failed");
    *maxrss_kb = ru.ru_maxrss;
}

/* The same bytes as the writedown wrote, 1 MiB at a time, one fsync at the end. */
static double dd(const char *dir, uint64_t bytes)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/dd.out", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("open", p);
    static char block[1 << 20];
    memset(block, 0x5a, sizeof block);
    double t0 = bench_now_s();
    for (uint64_t left = bytes; left;) {
        size_t n = left < sizeof block ? (size_t)left : sizeof block;
        if (write(fd, block, n) != (ssize_t)n) die("write", p);
        left -= n;
    }
    if (fsync(fd)) die("fsync", p);
    double t = bench_now_s() - t0;
    close(fd);
    unlink(p);
    return t;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int64_t rows = 10000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = atoll(argv[++i]);
        else dir = argv[i];
    }
    char tmpl[] = "/var/tmp/smfs-bench-wd.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) die("mkdtemp", NULL);
    int32_t day;
    k_parse_date("2026.02.18", &day);
    char cfgs[2][4200], spilldir[4200], base[2][4200];
    for (int i = 0; i < 2; i++) {
        snprintf(base[i], sizeof base[i], "%s/db%d", dir, i);
        snprintf(cfgs[i], sizeof cfgs[i], "%s/a%d.yaml", dir, i);
        if (bench_write_assembly(cfgs[i], base[i])) die("assembly", NULL);
    }
    snprintf(spilldir, sizeof spilldir, "%s/spill", dir);

    /* 0. the day */
    struct cfg *cfg;
    struct smfs_err e = {0};
    if (cfg_load(cfgs[0], &cfg, &e)) die("assembly", e.msg);
    struct spill_opts so = {.cfg = cfg};
    struct spill *sp;
    if (spill_create(spilldir, "/bench/sym2026.02.18", &so, &sp, &e)) die("spill", e.msg);
    uint64_t seed = 88172645463325252ull;
    double g0 = bench_now_s();
    int64_t ntrade = rows * 6 / 10, nquote = rows - ntrade;
    for (int64_t at = 0; at < ntrade || at < nquote; at += 10000) {
        for (int t = 0; t < 2; t++) {
            int64_t total = t ? nquote : ntrade;
            if (at >= total) continue;
            int64_t n = total - at < 10000 ? total - at : 10000;
            struct k *b = batch(t == 0, at, n, day, &seed);
            if (spill_append(sp, t ? "quote" : "trade", b, 0, NULL, &e)) die("spill", e.msg);
            k_free(b);
        }
    }
    if (spill_seal(sp, day, &e)) die("seal", e.msg);
    struct spill_stats ss;
    spill_stats(sp, &ss);
    spill_close(sp);
    cfg_free(cfg);
    printf("writedown: a day of %lld rows (%lld trade, %lld quote), %.0f MiB in the intraday store (taken in %.1f s)\n",
           (long long)rows, (long long)ntrade, (long long)nquote, (double)ss.bytes_disk / 1048576.0, bench_now_s() - g0);

    /* 1, 2, 3 */
    double tp, t1;
    uint64_t bp, b1;
    long rp, r1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    writedown_child(cfgs[0], spilldir, 0, day, &tp, &bp, &rp);
    writedown_child(cfgs[1], spilldir, 1, day, &t1, &b1, &r1);
    double tdd = dd(dir, bp);
    printf("  parallel (%ld writers): %.2f s, %.0f MiB written (%.0f MiB/s); dd of the same bytes + fsync: %.2f s "
           "(%.0f MiB/s): %.2f of dd's bandwidth\n", cpus > 8 ? 8 : cpus, tp, (double)bp / 1048576.0,
           (double)bp / 1048576.0 / tp, tdd, (double)bp / 1048576.0 / tdd, tdd / tp);
    printf("  one writer (sort, then each column in turn): %.2f s: the parallel writedown is %.2fx faster\n", t1, t1 / tp);
    printf("  peak resident: %.0f MiB parallel, %.0f MiB one writer, for a day of %.0f MiB\n", rp / 1024.0, r1 / 1024.0,
           (double)ss.bytes_disk / 1048576.0);
    if (dir == tmpl) {
        char rm[4200];
        snprintf(rm, sizeof rm, "rm -rf %s", dir);
        if (system(rm)) fprintf(stderr, "bench/writedown: could not remove %s\n", dir);
    }
    return 0;
}
