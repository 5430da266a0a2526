/* bench/stream.c: the stream, in one run, against the test tickerplant
 * (tests/node/tickerplant.js: the same process feeds both sides).
 *
 *   1. plain reader: a subscriber that only reads bytes and counts messages; the
 *      tickerplant blasts B updates of R rows per table (trade and quote, lists of
 *      columns). Figure: rows per second until the last message arrived;
 *   2. smfs, fresh (no intraday store yet): it replays the log the first blast wrote.
 *      Figure: time from start to live with every row, against `cat LOG > /dev/null`
 *      (warm cache) -- the worst case after a SIGKILL, when no checkpoint survived;
 *   3. smfs live: a second blast of the same size. Figure: rows per second smfs takes
 *      (until its status counts every row), as a ratio to the plain reader's; peak
 *      resident memory (VmHWM) against the memory budget and the day's bytes on disk;
 *   4. SIGKILL while live, restart: time until live again with every row (the replay
 *      from the last checkpoint: the usual case);
 *   5. end of interval: smfs again with the IDB tier at one interval a second and 100
 *      query processes (our q IPC client, one connection each) registered for `idb;
 *      rows arrive; figure: from the interval's end (its maxTS) to each registrant
 *      receiving its reload signal -- median and slowest.
 * Nothing passes or fails on time. usage: bench/stream [DIR] [--batches B] [--rows R]
 *        [--budget-mb M] */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "ipc/admin.h"
#include "ipc/ev.h"
#include "ipc/ipc_client.h"
#include "ipc/tp.h"
#include "core/k_fmt.h"

static pid_t tp_pid, smfs_pid;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/stream: %s: %s\n", what, msg ? msg : strerror(errno));
    if (tp_pid > 0) kill(tp_pid, SIGTERM);
    if (smfs_pid > 0) kill(smfs_pid, SIGKILL);
    exit(1);
}

/* POST one command to the tickerplant's control port (curl: the bench's one helper
 * process, as the tests use it). */
static void tp_cmd(int ctl, const char *json)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "curl -sf -XPOST 127.0.0.1:%d -d '%s' >/dev/null", ctl, json);
    if (system(cmd) != 0) die("tickerplant command", json);
}

static long vm_hwm_kb(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static json_t *stream_status(const char *adm)
{
    json_t *req = json_pack("{s:s}", "cmd", "status"), *r = NULL;
    struct smfs_err e = {0};
    int rc = admin_call(adm, req, &r, &e);
    json_decref(req);
    if (rc) return NULL;
    json_t *s = json_incref(json_object_get(r, "stream"));
    json_decref(r);
    return s;
}

/* Wait until smfs is live and holds ROWS rows of trade and of quote. */
static void wait_rows(const char *adm, long long rows)
{
    for (int i = 0; i < 600000; i++) {
        json_t *s = stream_status(adm);
        json_t *t = s ? json_object_get(s, "tables") : NULL;
        long long tr = json_integer_value(json_object_get(json_object_get(t, "trade"), "rows"));
        long long qr = json_integer_value(json_object_get(json_object_get(t, "quote"), "rows"));
        bool live = s && !strcmp(json_string_value(json_object_get(s, "state")), "live");
        json_decref(s);
        if (live && tr == rows && qr == rows) return;
        if (tr > rows || qr > rows) die("smfs", "holds more rows than were logged");
        if (smfs_pid > 0 && waitpid(smfs_pid, NULL, WNOHANG) == smfs_pid) die("smfs", "exited");
        usleep(5000);
    }
    die("smfs", "never caught up");
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t rt_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The maxTS of a reload signal (callback; dict), ns since 1970. */
static int64_t max_ts(const struct k *m)
{
    if (m->t != KT_LIST || m->n != 2 || m->u.kk[1]->t != KT_DICT) return 0;
    const struct k *keys = m->u.kk[1]->u.kk[0], *vals = m->u.kk[1]->u.kk[1];
    for (int64_t i = 0; keys->t == KT_SYM && i < keys->n; i++)
        if (!strcmp(k_symv_at(keys, i), "maxTS"))
            return vals->t == KT_TIMESTAMP ? k_unix_ns_from_ts(((int64_t *)vals->u.v)[i])
                 : vals->t == KT_LIST ? k_unix_ns_from_ts(vals->u.kk[i]->u.j) : 0;
    return 0;
}

/* 100 registrants of `idb on smfs's q port; rows; the next interval's signal to each. */
static void eoi_latency(const char *adm, int ctl, int nclients)
{
    json_t *req = json_pack("{s:s}", "cmd", "status"), *r = NULL;
    struct smfs_err e = {0};
    if (admin_call(adm, req, &r, &e)) die("status", e.msg);
    json_decref(req);
    int qport = (int)json_integer_value(json_object_get(json_object_get(r, "api"), "q_port"));
    json_decref(r);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", qport);
    struct ipc_client **c = calloc((size_t)nclients, sizeof *c);
    int64_t *lat = calloc((size_t)nclients, sizeof *lat);
    if (!c || !lat) die("eoi", "out of memory");
    for (int i = 0; i < nclients; i++) {
        if (ipc_client_connect(target, NULL, 5000, &c[i], &e)) die("connect", e.msg);
        struct k *x = k_list(4), *res = NULL;
        k_list_set(x, 0, k_sym(".sm.api.register"));
        k_list_set(x, 1, k_sym("idb"));
        k_list_set(x, 2, k_timespan(INT64_C(10) * 1000000000));
        k_list_set(x, 3, k_sym("onReload"));
        if (ipc_client_call(c[i], x, 10000, &res, &e)) die("register", e.msg);
        k_free(x);
        k_free(res);
    }
    tp_cmd(ctl, "{\"cmd\":\"publish\",\"table\":\"trade\",\"batches\":10,\"rows\":1000}");
    struct pollfd *pf = calloc((size_t)nclients, sizeof *pf);
    if (!pf) die("eoi", "out of memory");
    int left = nclients;
    for (int i = 0; i < nclients; i++) pf[i] = (struct pollfd){.fd = ipc_client_fd(c[i]), .events = POLLIN};
    while (left > 0) {
        int n = poll(pf, (nfds_t)nclients, 10000);
        if (n <= 0) die("eoi", "no reload signal within 10 s");
        int64_t now = rt_ns();
        for (int i = 0; i < nclients; i++) {
            if (!(pf[i].revents & POLLIN)) continue;
            struct k *m = NULL;
            enum ipc_type t;
            if (ipc_client_recv(c[i], 5000, &m, &t, &e)) die("callback", e.msg);
            int64_t end = max_ts(m);
            k_free(m);
            if (lat[i] == 0 && end > 0) {
                lat[i] = now - end;
                pf[i].fd = -1;
                left--;
            }
        }
    }
    qsort(lat, (size_t)nclients, sizeof *lat, cmp_i64);
    printf("  end of interval -> reload signal at %d registrants of idb: median %.1f ms, slowest %.1f ms (from the "
           "interval's end, its maxTS)\n", nclients, lat[nclients / 2] / 1e6, lat[nclients - 1] / 1e6);
    for (int i = 0; i < nclients; i++) ipc_client_close(c[i]);
    free(c);
    free(lat);
    free(pf);
}

static void start_smfs(const char *smfs, const char *cfg, const char *adm, const char *mnt, int budget_mb)
{
    char mb[32];
    snprintf(mb, sizeof mb, "%d", budget_mb);
    smfs_pid = fork();
    if (smfs_pid < 0) die("fork", NULL);
    if (smfs_pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 2);
        execl(smfs, smfs, "-c", cfg, "--admin", adm, "-f", "--vanilla", "--q-socket", "none", "--log-level=warn",
              "--port", "127.0.0.1:0", "--stream-memory-mb", mb, mnt, (char *)NULL);
        _exit(127);
    }
}

/* The plain reader: subscribed like smfs, then it reads messages whole and counts
 * them, decoding nothing. */
static double plain_reader(int port, int ctl, int batches, int rows)
{
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    struct tp *tp;
    struct tp_sub sub;
    struct smfs_err e = {0};
    const char *tables[] = {"trade", "quote"};
    if (tp_connect(target, NULL, 5000, &tp, &e) || tp_subscribe(tp, tables, 2, 5000, &sub, &e)) die("reader", e.msg);
    tp_sub_free(&sub);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "{\"cmd\":\"blast\",\"batches\":%d,\"rows\":%d}", batches, rows);
    double t0 = bench_now_s();
    tp_cmd(ctl, cmd);
    long want = 2L * batches, got = 0;
    int fd = -1;
    (void)fd;
    while (got < want) {
        struct tp_msg m;
        if (tp_next(tp, 60000, &m, &e)) die("reader", e.msg);
        tp_msg_free(&m);
        got++;
    }
    double t = bench_now_s() - t0;
    tp_close(tp);
    return t;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int batches = 1000, rows = 1000, budget = 16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--budget-mb") && i + 1 < argc) budget = atoi(argv[++i]);
        else dir = argv[i];
    }
    if (system("node --version >/dev/null 2>&1") != 0) {
        printf("bench/stream: skipped: node is not installed (make deps)\n");
        return 0;
    }
    char tmpl[] = "/tmp/smfs-bench-stream.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) die("mkdtemp", NULL);
    char smfs[4096], repo[4096], p[4600], cfg[4600], adm[4600], mnt[4600], logs[4600];
    if (bench_smfs_path(smfs, sizeof smfs)) die("smfs", "not found beside the benchmark");
    if (!realpath(smfs, repo)) die("smfs", "not built");
    for (int up = 0; up < 3; up++) *strrchr(repo, '/') = 0;   /* <repo>/build/rel/smfs */
    snprintf(logs, sizeof logs, "%s/logs", dir);
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    snprintf(adm, sizeof adm, "%s/adm.sock", dir);
    snprintf(cfg, sizeof cfg, "%s/a.yaml", dir);
    snprintf(p, sizeof p, "%s/hdb/data", dir);
    struct smfs_err e = {0};
    if (file_mkdirs(p, 0755, &e) || file_mkdirs(mnt, 0755, &e)) die("mkdir", e.msg);

    /* The tickerplant: its ports on its first line of output. */
    int pfd[2];
    if (pipe(pfd)) die("pipe", NULL);
    tp_pid = fork();
    if (tp_pid < 0) die("fork", NULL);
    if (tp_pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        char js[4600];
        snprintf(js, sizeof js, "%s/tests/node/tickerplant.js", repo);
        execlp("node", "node", js, "0", logs, "0", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[256] = "";
    ssize_t n = read(pfd[0], line, sizeof line - 1);
    if (n <= 0) die("tickerplant", "did not start (cd to the repository; make deps installs node-q)");
    line[n] = 0;
    int port = 0, ctl = 0;
    if (sscanf(line, "{\"port\":%d,\"ctl\":%d}", &port, &ctl) != 2) die("tickerplant", line);

    if (bench_write_assembly(cfg, dir)) die("assembly", NULL);
    uint8_t *y;
    size_t yl;
    if (file_read_all(cfg, 1 << 20, &y, &yl, &e)) die("assembly", e.msg);
    struct buf b;
    buf_init(&b, 1 << 20);
    char node[64];
    snprintf(node, sizeof node, "127.0.0.1:%d", port);
    for (size_t i = 0; i < yl;) {
        if (i + 14 <= yl && !memcmp(y + i, "localhost:5010", 14)) {
            if (buf_append(&b, node, strlen(node))) die("assembly", "no memory");
            i += 14;
        } else if (buf_put_u8(&b, y[i++])) die("assembly", "no memory");
    }
    if (file_write(cfg, b.p, b.len, false, &e)) die("assembly", e.msg);
    free(y);
    buf_release(&b);

    long long day = (long long)batches * rows;
    printf("stream: %d updates of %d rows per table (trade, quote), memory budget %d MiB\n", batches, rows, budget);

    /* 1. the plain reader */
    double tr = plain_reader(port, ctl, batches, rows);
    printf("  plain reader: %.0f rows/s (%.2f s for %lld rows)\n", 2.0 * (double)day / tr, tr, 2 * day);

    /* 2. smfs replays the whole log (nothing of its own survived) */
    char log[4700], cat[4800];
    snprintf(log, sizeof log, "%s/sym2026.02.18", logs);
    snprintf(cat, sizeof cat, "cat %s > /dev/null", log);
    if (system(cat)) die("cat", log);
    double c0 = bench_now_s();
    if (system(cat)) die("cat", log);
    double tcat = bench_now_s() - c0;
    struct stat st;
    if (stat(log, &st)) die("stat", log);
    double s0 = bench_now_s();
    start_smfs(smfs, cfg, adm, mnt, budget);
    wait_rows(adm, day);
    double treplay = bench_now_s() - s0;
    printf("  replay of the whole log (%.1f MiB, %lld rows) from a start: %.2f s, %.0f rows/s; cat > /dev/null: "
           "%.3f s (ratio %.1f)\n", (double)st.st_size / 1048576.0, 2 * day, treplay, 2.0 * (double)day / treplay,
           tcat, treplay / tcat);

    /* 3. live: a second blast */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "{\"cmd\":\"blast\",\"batches\":%d,\"rows\":%d}", batches, rows);
    double l0 = bench_now_s();
    tp_cmd(ctl, cmd);
    wait_rows(adm, 2 * day);
    double tl = bench_now_s() - l0;
    json_t *s = stream_status(adm);
    long long disk = json_integer_value(json_object_get(json_object_get(s, "spill"), "bytes_disk"));
    json_decref(s);
    long hwm = vm_hwm_kb(smfs_pid);
    printf("  smfs live: %.0f rows/s (%.2f s), %.2f of the plain reader's rate\n", 2.0 * (double)day / tl, tl,
           (2.0 * (double)day / tl) / (2.0 * (double)day / tr));
    printf("  peak resident %.1f MiB with a %d MiB budget, while the day's rows took %.1f MiB on disk (%.1fx the "
           "budget)\n", (double)hwm / 1024.0, budget, (double)disk / 1048576.0, (double)disk / 1048576.0 / budget);

    /* 4. SIGKILL while live, and back */
    kill(smfs_pid, SIGKILL);
    waitpid(smfs_pid, NULL, 0);
    double k0 = bench_now_s();
    start_smfs(smfs, cfg, adm, mnt, budget);
    wait_rows(adm, 2 * day);
    printf("  after a SIGKILL: live again with every row in %.2f s (replay from the last checkpoint)\n", bench_now_s() - k0);

    /* 5. the same smfs with the IDB tier at one interval a second */
    kill(smfs_pid, SIGTERM);
    waitpid(smfs_pid, NULL, 0);
    char cfg2[4700], sedc[10000];
    snprintf(cfg2, sizeof cfg2, "%s/a2.yaml", dir);
    snprintf(sedc, sizeof sedc, "sed 's#freq: 0D00:10:00#freq: 0D00:00:01#' %s > %s", cfg, cfg2);
    if (system(sedc)) die("sed", cfg2);
    start_smfs(smfs, cfg2, adm, mnt, budget);
    wait_rows(adm, 2 * day);
    for (int i = 0;; i++) {   /* registrations need a version: the first interval makes one */
        json_t *rq = json_pack("{s:s}", "cmd", "status"), *rr = NULL;
        struct smfs_err se = {0};
        if (admin_call(adm, rq, &rr, &se)) die("status", se.msg);
        json_decref(rq);
        bool has = json_integer_value(json_object_get(rr, "current")) > 0;
        json_decref(rr);
        if (has) break;
        if (i > 1000) die("smfs", "no interval was written");
        usleep(10000);
    }
    eoi_latency(adm, ctl, 100);

    kill(smfs_pid, SIGTERM);
    waitpid(smfs_pid, NULL, 0);
    kill(tp_pid, SIGTERM);
    waitpid(tp_pid, NULL, 0);
    if (dir == tmpl) {
        char rm[4200];
        snprintf(rm, sizeof rm, "rm -rf %s", dir);
        if (system(rm)) fprintf(stderr, "bench/stream: could not remove %s\n", dir);
    }
    return 0;
}
