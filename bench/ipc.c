/* bench/ipc.c: sync q IPC round trips over loopback — our client calling `echo` on
 * our server (handshake done, handler dispatch, serialize both ways) — against a
 * plain TCP echo of the same bytes in the same run. Prints round trips per second
 * and the ratio (smfs / native; 1.0 = as fast as moving the bytes). Two sizes: a
 * small call and a 1 MB table. Never fails on time. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/k.h"
#include "ipc/ev.h"
#include "ipc/ipc_client.h"
#include "ipc/ipc_server.h"

static struct k *echo(struct ipc_call *c, void *arg)
{
    (void)arg;
    struct k *x = c->args->u.kk[0];
    c->args->u.kk[0] = NULL;
    return x;
}

static void *loop_main(void *arg)
{
    struct smfs_err err;
    ev_run(arg, &err);
    return NULL;
}

static void quiet(void *arg, enum ipc_log_level lv, const char *msg)
{
    (void)arg;
    (void)lv;
    (void)msg;
}

/* The native baseline: read a q IPC message (header says the length), write it back. */
static void *echo_main(void *arg)
{
    int l = *(int *)arg;
    int fd = accept(l, NULL, NULL);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t *b = malloc(64 << 20);
    for (;;) {
        size_t got = 0, want = 8;
        while (got < want) {
            ssize_t n = recv(fd, b + got, want - got, 0);
            if (n <= 0) goto out;
            got += (size_t)n;
            if (got >= 8) want = le32(b + 4);
        }
        for (size_t off = 0; off < got;) {
            ssize_t n = send(fd, b + off, got - off, MSG_NOSIGNAL);
            if (n <= 0) goto out;
            off += (size_t)n;
        }
    }
out:
    free(b);
    close(fd);
    return NULL;
}

static int native_conn(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(0x7f000001)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static double native_rate(int fd, const uint8_t *msg, size_t n, int iters)
{
    uint8_t *b = malloc(n);
    int64_t t0 = ev_now_ms();
    for (int i = 0; i < iters; i++) {
        for (size_t off = 0; off < n;) off += (size_t)send(fd, msg + off, n - off, MSG_NOSIGNAL);
        for (size_t got = 0; got < n;) {
            ssize_t r = recv(fd, b + got, n - got, 0);
            if (r <= 0) exit(1);
            got += (size_t)r;
        }
    }
    int64_t dt = ev_now_ms() - t0;
    free(b);
    return iters * 1000.0 / (double)(dt ? dt : 1);
}

static double smfs_rate(struct ipc_client *c, const struct k *x, int iters)
{
    struct smfs_err err;
    int64_t t0 = ev_now_ms();
    for (int i = 0; i < iters; i++) {
        struct k *r = NULL;
        if (ipc_client_call(c, x, 30000, &r, &err)) {
            fprintf(stderr, "bench ipc: %s\n", err.msg);
            exit(1);
        }
        k_free(r);
    }
    int64_t dt = ev_now_ms() - t0;
    return iters * 1000.0 / (double)(dt ? dt : 1);
}

/* The serialization work of one round trip with no socket: encode and decode the
 * call, then the reply — what both ends spend on the K model and the format. */
static double codec_rate(const struct k *x, int iters)
{
    struct smfs_err err;
    int64_t t0 = ev_now_ms();
    for (int i = 0; i < iters * 2; i++) {
        struct buf m;
        struct k *y = NULL;
        enum ipc_type t;
        buf_init(&m, (size_t)1 << 30);
        if (ipc_encode(x, IPC_SYNC, false, &m, &err) || ipc_decode(m.p, m.len, m.len, &y, &t, &err)) exit(1);
        k_free(y);
        buf_release(&m);
    }
    int64_t dt = ev_now_ms() - t0;
    return iters * 1000.0 / (double)(dt ? dt : 1);
}

static struct k *call_of(struct k *arg)
{
    struct k *x = k_list(2);
    k_list_set(x, 0, k_sym("echo"));
    k_list_set(x, 1, arg);
    return x;
}

/* ([] time; sym; price; size) of ROWS rows: 8+8+8+8 bytes a row plus symbol text. */
static struct k *table(int64_t rows)
{
    const char *names[] = {"time", "sym", "price", "size"};
    struct k *cols = k_list(4), *sym = k_vec(KT_SYM, rows);
    struct k *time = k_vec(KT_TIMESTAMP, rows), *price = k_vec(KT_FLOAT, rows), *size = k_vec(KT_LONG, rows);
    const char *tick[] = {"AAPL", "MSFT", "IBM", "GOOG"};
    for (int64_t i = 0; i < rows; i++) {
        ((int64_t *)time->u.v)[i] = i * 1000;
        ((double *)price->u.v)[i] = 100 + (double)(i % 97) / 8;
        ((int64_t *)size->u.v)[i] = i % 500;
        if (k_symv_set(sym, i, tick[i % 4])) exit(1);
    }
    k_list_set(cols, 0, time);
    k_list_set(cols, 1, sym);
    k_list_set(cols, 2, price);
    k_list_set(cols, 3, size);
    return k_table(k_dict(k_symv(names, 4), cols));
}

int main(void)
{
    struct smfs_err err;
    struct ev_loop *loop;
    struct ipc_server *s;
    signal(SIGPIPE, SIG_IGN);
    struct ipc_server_opts o = {.port = 0, .log = quiet};
    if (ev_new(&loop, &err) || ipc_server_new(loop, &o, &s, &err) || ipc_server_handle(s, "echo", echo, NULL)) {
        fprintf(stderr, "bench ipc: %s\n", err.msg);
        return 1;
    }
    pthread_t th, eth;
    pthread_create(&th, NULL, loop_main, loop);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", ipc_server_port(s));
    struct ipc_client *c;
    if (ipc_client_connect(target, "bench", 5000, &c, &err)) {
        fprintf(stderr, "bench ipc: %s\n", err.msg);
        return 1;
    }
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t al = sizeof a;
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 1);
    getsockname(l, (struct sockaddr *)&a, &al);
    pthread_create(&eth, NULL, echo_main, &l);
    int nfd = native_conn(ntohs(a.sin_port));

    struct { const char *what; struct k *x; int iters; } cases[] = {
        {"small call (`echo;42)", call_of(k_long(42)), 20000},
        {"1 MB table (32768 rows x 4 cols)", call_of(table(32768)), 200},
    };
    printf("%-34s %11s %13s %6s %15s\n", "sync round trips over loopback", "smfs rt/s", "TCP echo rt/s", "ratio",
           "codec-only rt/s");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct buf m;
        buf_init(&m, (size_t)1 << 30);
        if (ipc_encode(cases[i].x, IPC_SYNC, false, &m, &err)) return 1;
        smfs_rate(c, cases[i].x, cases[i].iters / 10);            /* warm up */
        native_rate(nfd, m.p, m.len, cases[i].iters / 10);
        double ours = smfs_rate(c, cases[i].x, cases[i].iters);
        double native = native_rate(nfd, m.p, m.len, cases[i].iters);
        double codec = codec_rate(cases[i].x, cases[i].iters);
        printf("%-34s %11.0f %13.0f %6.2f %15.0f   (%zu-byte message)\n", cases[i].what, ours, native,
               ours / native, codec, m.len);
        buf_release(&m);
        k_free(cases[i].x);
    }
    close(nfd);
    pthread_join(eth, NULL);
    close(l);
    ipc_client_close(c);
    ev_stop_async(loop);
    pthread_join(th, NULL);
    ipc_server_free(s);
    ev_free(loop);
    return 0;
}
