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
 *      from the last checkpoint: the usual case).
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

static pid_t tp_pid, smfs_pid;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/stream: %s: %s\n", what, msg ? msg : strerror(errno));
    if (tp_pid > 0) kill(tp_pid, SIGTERM);
    if (smfs_pid > 0) kill(smfs_pid, SIGKILL);
    exit(1);
}

static double now_s(void)
{
    return (double)ev_now_ns() / 1e9;
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
              "--stream-memory-mb", mb, mnt, (char *)NULL);
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
    double t0 = now_s();
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
    double t = now_s() - t0;
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
    double c0 = now_s();
    if (system(cat)) die("cat", log);
    double tcat = now_s() - c0;
    struct stat st;
    if (stat(log, &st)) die("stat", log);
    double s0 = now_s();
    start_smfs(smfs, cfg, adm, mnt, budget);
    wait_rows(adm, day);
    double treplay = now_s() - s0;
    printf("  replay of the whole log (%.1f MiB, %lld rows) from a start: %.2f s, %.0f rows/s; cat > /dev/null: "
           "%.3f s (ratio %.1f)\n", (double)st.st_size / 1048576.0, 2 * day, treplay, 2.0 * (double)day / treplay,
           tcat, treplay / tcat);

    /* 3. live: a second blast */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "{\"cmd\":\"blast\",\"batches\":%d,\"rows\":%d}", batches, rows);
    double l0 = now_s();
    tp_cmd(ctl, cmd);
    wait_rows(adm, 2 * day);
    double tl = now_s() - l0;
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
    double k0 = now_s();
    start_smfs(smfs, cfg, adm, mnt, budget);
    wait_rows(adm, 2 * day);
    printf("  after a SIGKILL: live again with every row in %.2f s (replay from the last checkpoint)\n", now_s() - k0);

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
