/* tests/fuzz/control_door.h: a running Storage Manager inside the fuzzer's process, for
 * the targets that knock on one of its doors (fuzz_rest, fuzz_admin, fuzz_qserver).
 *   On the first input: a one-day HDB is generated and imported into a store under
 *   /tmp/smfs-fuzz-ctl.<pid>, and control_start runs on it with the embedded default
 *   assembly (stream off), its REST server and q IPC port on loopback and its admin
 *   socket in that directory -- the same threads, listeners and handlers the daemon
 *   runs. Each input then goes over a real socket, and the answer is read to the end:
 *   a crash or a sanitizer report on the control thread is the fuzzer's finding, and
 *   so is a door that never answers (door_read gives up after 30 s and traps).
 * Never:   lets an input reach the admin commands "ingest" (it would take any
 *          directory the fuzzer names, and delete it once committed) or "stop"
 *          (ends the daemon): those are dropped before they are sent, decided by the
 *          same jansson call the admin server makes.
 * Included by one fuzz target each: everything here is static. */
#ifndef SMFS_FUZZ_CONTROL_DOOR_H
#define SMFS_FUZZ_CONTROL_DOOR_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/control.h"
#include "core/config.h"
#include "core/fileio.h"
#include "core/gen.h"
#include "core/import.h"
#include "core/log.h"
#include "core/store.h"

struct door {
    char          home[64], admin[96];
    struct cfg   *cfg;
    struct store *store;
    struct control *ctl;
    int           http_port, q_port;
};

static struct door door_g;

static int door_publish(void *arg, uint64_t *old, struct smfs_err *err)
{
    (void)arg, (void)err;
    *old = 0;
    return 0;
}

static uint64_t door_current(void *arg)
{
    return store_current(((struct door *)arg)->store);
}

static void door_stats(void *arg, struct control_view_stats *st)
{
    *st = (struct control_view_stats){.current = door_current(arg)};
}

static void door_stop(void *arg)
{
    (void)arg;   /* never reached: "stop" is filtered out */
}

static void door_die(const char *what, const char *msg)
{
    fprintf(stderr, "control_door: %s: %s\n", what, msg);
    abort();
}

/* The embedded default assembly, its /var/lib/smfs moved under HOME. */
static char *door_yaml(const char *home, size_t *len)
{
    const char *from = "/var/lib/smfs";
    size_t fl = strlen(from), hl = strlen(home), n = 0;
    const char *s = cfg_default_yaml;
    char *out = malloc(strlen(s) * 2 + 4096);
    if (!out) door_die("assembly", "out of memory");
    while (*s) {
        if (!strncmp(s, from, fl)) {
            memcpy(out + n, home, hl);
            n += hl;
            s += fl;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = 0;
    *len = n;
    return out;
}

static void door_open(void)
{
    struct door *d = &door_g;
    struct smfs_err e = {0};
    log_init(LOG_ERR_, "fuzz");
    snprintf(d->home, sizeof d->home, "/tmp/smfs-fuzz-ctl.%d", (int)getpid());
    snprintf(d->admin, sizeof d->admin, "%s/admin.sock", d->home);
    size_t len;
    char *yaml = door_yaml(d->home, &len);
    if (cfg_parse("fuzz assembly", yaml, len, &d->cfg, &e)) door_die("assembly", e.msg);
    free(yaml);
    char data[128];
    snprintf(data, sizeof data, "%s/hdb/data", d->home);
    struct gen_opts g;
    gen_defaults(&g);
    g.dir = data;
    g.days = 1;
    g.rows = 20;
    struct gen_stats gs;
    if (gen_hdb(&g, &gs, &e)) door_die("gen-hdb", e.msg);
    struct import_opts io = {.cfg = d->cfg, .no_sync = true};
    struct import_summary sum;
    if (import_run(&io, &sum, &e)) door_die("import", e.msg);
    struct store_recovery rep;
    if (import_store_open(d->cfg, false, &d->store, &rep, &e)) door_die("store", e.msg);
    struct control_opts co = {
        .admin_path = d->admin, .cfg = d->cfg, .store = d->store, .mountpoint = d->home,
        .hooks = {.arg = d, .mode = "fuzz", .publish = door_publish, .current = door_current,
                  .stats = door_stats, .stop = door_stop},
        .q_port = 0, .q_host = "127.0.0.1", .http_port = 0, .http_host = "127.0.0.1",
        .auto_vacuum = true, .keep_versions = 2, .stream_off = "fuzzing",
        .callback_timeout_ms = 200, .callback_tries = 1,
    };
    if (control_start(&co, &d->ctl, &e)) door_die("control_start", e.msg);
    d->http_port = control_http_port(d->ctl);
    d->q_port = control_q_port(d->ctl);
}

/* Send ALL of P, shut our side, and read the answer until the peer closes: it lands in
 * OUT (NUL-terminated, at most CAP-1 bytes kept). Returns the bytes kept. The RST at
 * close (linger 0) keeps thousands of connections a second out of TIME_WAIT. */
static size_t door_exchange(int fd, const void *p, size_t n, char *out, size_t cap)
{
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) door_die("send", "the door took nothing for 30 s");
        if (w < 0) break;   /* the server closed early (a refusal): read what it said */
        s += w;
        n -= (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    for (;;) {
        char tmp[4096];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) door_die("recv", "no answer and no close within 30 s");
        if (r <= 0) break;
        size_t k = (size_t)r < cap - 1 - got ? (size_t)r : cap - 1 - got;
        memcpy(out + got, tmp, k);
        got += k;
    }
    out[got] = 0;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    return got;
}

/* connect(), surviving a SIGSTOP/SIGCONT of the fuzzer (a long run paused while the
 * machine does something else): an interrupted connect goes on by itself. */
static int door_connect(int fd, const struct sockaddr *a, socklen_t n)
{
    if (fd < 0) door_die("socket", strerror(errno));
    if (!connect(fd, a, n)) return fd;
    if (errno != EINTR) door_die("connect", strerror(errno));
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t l = sizeof soerr;
    while (poll(&p, 1, 30000) < 0 && errno == EINTR) {}
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) || soerr) door_die("connect", strerror(soerr ? soerr : errno));
    return fd;
}

static int door_tcp(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return door_connect(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), (struct sockaddr *)&a, sizeof a);
}

static int door_unix(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    return door_connect(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), (struct sockaddr *)&a, sizeof a);
}

#endif
