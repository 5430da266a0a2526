/* bench/control.c: the control thread under load, in one run.
 *
 *   0. generate a small HDB, import it, start smfs (mounted with FUSE, or in symlink
 *      mode where /dev/fuse is absent: publishing then writes directories) with a q
 *      IPC port;
 *   1. fan-out: N query processes (threads with our q IPC client, one connection
 *      each) register for `hdb with a timeout; each round an ingest commits a new
 *      version and every client receives (callback; signal) and acknowledges its ts.
 *      Figure: time from the commit (the daemon's clock when the commit returned, in
 *      the ingest's answer) to the last client receiving its callback; also the median
 *      client, and how long until every acknowledgement was counted;
 *   2. getStatus round trips per second on one connection, against a plain TCP echo
 *      of the same sizes (request in, answer of the same length out) served by a
 *      child process, interleaved in slices with the smfs calls in the same run.
 * Nothing passes or fails on time. usage: bench/control [DIR] [--clients N] [--rounds N]
 *        [--calls N] */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/gen.h"
#include "core/import.h"
#include "core/k_fmt.h"
#include "ipc/admin.h"
#include "ipc/ipc_client.h"

static pid_t child;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/control: %s: %s\n", what, msg ? msg : strerror(errno));
    if (child > 0) kill(child, SIGTERM);
    exit(1);
}

static int64_t rt_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *admin(const char *path, json_t *req)
{
    json_t *r = NULL;
    struct smfs_err e;
    if (admin_call(path, req, &r, &e)) die("admin", e.msg);
    json_decref(req);
    if (!json_is_true(json_object_get(r, "ok"))) die("admin", json_string_value(json_object_get(r, "error")));
    return r;
}

/* ---- the registered clients ---------------------------------------------------------- */

struct qp {
    pthread_t          th;
    struct ipc_client *c;
    int                rounds;
    int64_t           *got;      /* realtime ns of each round's callback */
};

static struct k *call3(const char *f, struct k *a, struct k *b, struct k *c)
{
    struct k *x = k_list(4);
    if (!x) die("out of memory", NULL);
    k_list_set(x, 0, k_sym(f));
    k_list_set(x, 1, a);
    k_list_set(x, 2, b);
    k_list_set(x, 3, c);
    return x;
}

static void *qp_main(void *arg)
{
    struct qp *p = arg;
    struct smfs_err e;
    for (int r = 0; r < p->rounds; r++) {
        struct k *m = NULL;
        enum ipc_type t;
        if (ipc_client_recv(p->c, 120000, &m, &t, &e)) die("client: waiting for the callback", e.msg);
        __atomic_store_n(&p->got[r], rt_ns(), __ATOMIC_RELEASE);
        /* (callback; signal): echo its ts as .sm.api.reloadComplete does. */
        if (m->t != KT_LIST || m->n != 2 || m->u.kk[1]->t != KT_DICT) die("client", "callback is not (f;dict)");
        const struct k *vals = m->u.kk[1]->u.kk[1];
        int64_t ts = vals->t == KT_TIMESTAMP ? ((int64_t *)vals->u.v)[0] : vals->u.kk[0]->u.j;
        struct k *ack = k_list(2);
        k_list_set(ack, 0, k_sym(".sm.api.reloadComplete"));
        k_list_set(ack, 1, k_timestamp(ts));
        if (ipc_client_send(p->c, ack, &e)) die("client: ack", e.msg);
        k_free(ack);
        k_free(m);
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- a plain TCP echo of the same sizes --------------------------------------------------- */

struct echo {
    int    lfd, port;
    size_t req, resp;
};

static void *echo_main(void *arg)
{
    struct echo *e = arg;
    int fd = accept(e->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char *in = malloc(e->req), *out = calloc(1, e->resp);
    for (;;) {
        size_t got = 0;
        while (got < e->req) {
            ssize_t n = read(fd, in + got, e->req - got);
            if (n <= 0) goto done;
            got += (size_t)n;
        }
        if (write(fd, out, e->resp) != (ssize_t)e->resp) break;
    }
done:
    free(in);
    free(out);
    close(fd);
    return NULL;
}

/* A connected client of a fresh echo server in a child process, as smfs is one;
 * *pid to wait for after closing *fd. */
static void echo_open(struct echo *e, pid_t *pid, int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    e->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (e->lfd < 0 || bind(e->lfd, (struct sockaddr *)&a, sizeof a) || listen(e->lfd, 1) ||
        getsockname(e->lfd, (struct sockaddr *)&a, &al))
        die("echo server", NULL);
    if ((*pid = fork()) < 0) die("fork", NULL);
    if (*pid == 0) {
        echo_main(e);
        _exit(0);
    }
    close(e->lfd);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(*fd, (struct sockaddr *)&a, sizeof a)) die("echo connect", NULL);
}

/* N echo round trips on FD; returns the seconds taken. */
static double echo_calls(int fd, const struct echo *e, int n)
{
    static char q[1 << 16], r[1 << 16];
    if (e->req > sizeof q || e->resp > sizeof r) die("echo", "message too big");
    double t = mono();
    for (int i = 0; i < n; i++) {
        if (write(fd, q, e->req) != (ssize_t)e->req) die("echo write", NULL);
        size_t got = 0;
        while (got < e->resp) {
            ssize_t k = read(fd, r + got, e->resp - got);
            if (k <= 0) die("echo read", NULL);
            got += (size_t)k;
        }
    }
    return mono() - t;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int nclients = 100, rounds = 5, calls = 20000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--clients") && i + 1 < argc) nclients = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--calls") && i + 1 < argc) calls = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "usage: bench/control [DIR] [--clients N] [--rounds N] [--calls N]\n");
            return 2;
        }
    }
    if (nclients < 1 || rounds < 1 || calls < 1) die("arguments", "counts must be >= 1");
    char tmpl[] = "/tmp/smfs-bench-control.XXXXXX", smfs[4200], cmd[8192];
    if (!dir && !(dir = mkdtemp(tmpl))) die("mkdtemp", NULL);
    if (bench_smfs_path(smfs, sizeof smfs)) die("readlink /proc/self/exe", NULL);
    signal(SIGPIPE, SIG_IGN);

    /* 0. a small HDB in the store, smfs serving it. */
    char base[4200], cfgp[4300], mnt[4300], adm[4300];
    snprintf(base, sizeof base, "%s/m", dir);
    snprintf(cfgp, sizeof cfgp, "%s/a.yaml", dir);
    snprintf(mnt, sizeof mnt, "%s/tree", dir);
    snprintf(adm, sizeof adm, "%s/adm.sock", dir);
    struct gen_opts g;
    struct gen_stats gs;
    struct smfs_err err;
    char hdb[4400];
    snprintf(hdb, sizeof hdb, "%s/hdb/data", base);
    gen_defaults(&g);
    g.dir = hdb;
    g.days = 5;
    g.rows = 1000;
    if (gen_hdb(&g, &gs, &err)) die("gen-hdb", err.msg);
    if (bench_write_assembly(cfgp, base)) die(cfgp, NULL);
    struct cfg *c = NULL;
    if (cfg_load(cfgp, &c, &err)) die("assembly", err.msg);
    struct import_opts io = {.cfg = c, .verify = false};
    struct import_summary sum;
    if (import_run(&io, &sum, &err)) die("import", err.msg);
    cfg_free(c);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", mnt);
    if (system(cmd)) die("command failed", cmd);
    /* A FUSE mount where there is one (publishing is an invalidation), else the
     * symlink tree (publishing writes the new version's directories). */
    bool fuse = access("/dev/fuse", R_OK | W_OK) == 0;
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid == 0) {
        execl(smfs, smfs, "-c", cfgp, "--admin", adm, "-f", fuse ? "--log-level=warn" : "--vanilla", "--port",
              "127.0.0.1:0", "--q-socket", "none", "--no-auto-vacuum", "--log-level=warn", mnt, (char *)NULL);
        _exit(127);
    }
    child = pid;
    json_t *st = NULL;
    for (int i = 0; i < 300 && !st; i++) {
        json_t *req = json_pack("{s:s}", "cmd", "status");
        if (admin_call(adm, req, &st, &err)) st = NULL;
        json_decref(req);
        int ws;
        if (!st && waitpid(pid, &ws, WNOHANG) == pid) die("smfs", "exited at start");
        if (!st) usleep(100000);
    }
    if (!st) die("smfs", "did not start");
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%lld",
             (long long)json_integer_value(json_object_get(json_object_get(st, "api"), "q_port")));
    json_decref(st);

    /* 1. fan-out to N registered clients. */
    struct qp *qs = calloc((size_t)nclients, sizeof *qs);
    for (int i = 0; i < nclients; i++) {
        qs[i].rounds = rounds;
        qs[i].got = calloc((size_t)rounds, sizeof *qs[i].got);
        if (ipc_client_connect(target, NULL, 10000, &qs[i].c, &err)) die("connect", err.msg);
        struct k *x = call3(".sm.api.register", k_sym("hdb"), k_timespan(INT64_C(60) * 1000000000), k_sym("onReload")), *r;
        if (ipc_client_call(qs[i].c, x, 10000, &r, &err)) die("register", err.msg);
        k_free(x);
        k_free(r);
        pthread_create(&qs[i].th, NULL, qp_main, &qs[i]);
    }
    printf("bench/control: %d registered clients, %d commits (one new partition each), smfs %s\n",
           nclients, rounds, fuse ? "mounted with FUSE" : "in symlink mode (no /dev/fuse)");
    int64_t *lat = calloc((size_t)nclients, sizeof *lat);
    double sum_last = 0, sum_med = 0, sum_ack = 0, sum_fan = 0;
    for (int r = 0; r < rounds; r++) {
        char stg[4400];
        snprintf(stg, sizeof stg, "%s/stg%d", dir, r);
        gen_defaults(&g);
        g.dir = stg;
        g.days = 1;
        g.rows = 100;
        g.tables = "trade";
        g.seed = (uint64_t)r + 7;
        g.start = k_days_from_ymd(2024, 2, 1) + 7 * r;
        if (gen_hdb(&g, &gs, &err)) die("gen-hdb", err.msg);
        json_t *rep = admin(adm, json_pack("{s:s,s:s,s:b}", "cmd", "ingest", "dir", stg, "verify", 0));
        int64_t committed = json_integer_value(json_object_get(rep, "committed_ns"));
        int64_t published = json_integer_value(json_object_get(rep, "published_ns"));
        json_decref(rep);
        for (int i = 0; i < nclients; i++)
            while (!__atomic_load_n(&qs[i].got[r], __ATOMIC_ACQUIRE)) usleep(200);
        for (int i = 0; i < nclients; i++) lat[i] = qs[i].got[r] - committed;
        qsort(lat, (size_t)nclients, sizeof *lat, cmp_i64);
        /* every acknowledgement counted by the daemon (polled: an upper bound) */
        for (;;) {
            json_t *s = admin(adm, json_pack("{s:s}", "cmd", "status"));
            json_int_t pend = json_integer_value(json_object_get(json_object_get(s, "reload"), "pending_acks"));
            json_decref(s);
            if (!pend) break;
            usleep(500);
        }
        double acked_ms = (double)(rt_ns() - committed) / 1e6;
        double pub_ms = (double)(published - committed) / 1e6;
        printf("  commit %d: last callback %.2f ms after the commit (published at %.2f ms, so %.2f ms of fan-out), "
               "median %.2f ms; all %d acks counted by %.2f ms\n", r + 1, lat[nclients - 1] / 1e6, pub_ms,
               lat[nclients - 1] / 1e6 - pub_ms, lat[nclients / 2] / 1e6, nclients, acked_ms);
        sum_last += lat[nclients - 1] / 1e6;
        sum_fan += lat[nclients - 1] / 1e6 - pub_ms;
        sum_med += lat[nclients / 2] / 1e6;
        sum_ack += acked_ms;
    }
    printf("  mean over %d commits: last callback %.2f ms after the commit (%.2f ms after the publish), "
           "median %.2f ms, all acks %.2f ms\n", rounds, sum_last / rounds, sum_fan / rounds, sum_med / rounds,
           sum_ack / rounds);
    for (int i = 0; i < nclients; i++) {
        pthread_join(qs[i].th, NULL);
        ipc_client_close(qs[i].c);
        free(qs[i].got);
    }
    free(qs);
    free(lat);

    /* 2. getStatus round trips against a plain echo of the same sizes. */
    struct ipc_client *qc;
    if (ipc_client_connect(target, NULL, 10000, &qc, &err)) die("connect", err.msg);
    struct k *gsx = k_list(2), *res;
    k_list_set(gsx, 0, k_sym(".sm.api.getStatus"));
    k_list_set(gsx, 1, k_null());
    struct buf rb, qb;
    buf_init(&qb, 1 << 20);
    buf_init(&rb, 1 << 20);
    if (ipc_encode(gsx, IPC_SYNC, false, &qb, &err)) die("encode", err.msg);
    if (ipc_client_call(qc, gsx, 10000, &res, &err)) die("getStatus", err.msg);
    if (ipc_encode(res, IPC_RESPONSE, false, &rb, &err)) die("encode", err.msg);
    k_free(res);
    /* Interleaved in slices, so both sides see the same moments of a noisy machine. */
    struct echo ec = {.req = qb.len, .resp = rb.len};
    pid_t epid;
    int efd;
    echo_open(&ec, &epid, &efd);
    double t_smfs = 0, t_echo = 0;
    int slice = calls / 20 ? calls / 20 : 1, done = 0;
    while (done < calls) {
        int n = calls - done < slice ? calls - done : slice;
        double t = mono();
        for (int i = 0; i < n; i++) {
            if (ipc_client_call(qc, gsx, 10000, &res, &err)) die("getStatus", err.msg);
            k_free(res);
        }
        t_smfs += mono() - t;
        t_echo += echo_calls(efd, &ec, n);
        done += n;
    }
    close(efd);
    waitpid(epid, NULL, 0);
    double smfs_rate = calls / t_smfs, echo = calls / t_echo;
    printf("\n  getStatus round trips, one connection: smfs %.0f/s, plain TCP echo %.0f/s (%zu bytes in, %zu out): ratio %.2f\n",
           smfs_rate, echo, qb.len, rb.len, smfs_rate / echo);
    printf("  (ratio: smfs rate / echo rate in the same run; 1.00 = no cost beyond the socket)\n");
    k_free(gsx);
    buf_release(&qb);
    buf_release(&rb);
    ipc_client_close(qc);

    kill(pid, SIGTERM);
    int ws;
    waitpid(pid, &ws, 0);
    child = 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) die("command failed", cmd);
    return 0;
}
