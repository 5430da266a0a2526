/* tests/unit/test_ipc.c: framing, and our client against our server over real
 * sockets (TCP and Unix): handshake and logins, calls of every shape, async and
 * callbacks, compression, and hostile peers — garbage, lying lengths, oversized and
 * stalled messages, too many connections — that lose their connection while
 * everyone else carries on. The server runs its loop on a second thread. */
#include "testutil.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ipc/admin.h"
#include "ipc/ev.h"
#include "ipc/ipc_client.h"
#include "ipc/ipc_msg.h"
#include "ipc/ipc_server.h"
#include "tests/helpers/ipc_handlers.h"

struct srv {
    struct ev_loop    *loop;
    struct ipc_server *s;
    pthread_t          th;
    struct test_state  ts;
    char               tcp[64], unx[300], users[300];
    pthread_mutex_t    loglock;
    char               log[8192];   /* the last lines logged, for assertions */
};

static void capture(void *arg, enum ipc_log_level lv, const char *msg)
{
    struct srv *v = arg;
    (void)lv;
    pthread_mutex_lock(&v->loglock);
    size_t n = strlen(v->log);
    if (n > sizeof v->log - 600) n = 0;
    snprintf(v->log + n, sizeof v->log - n, "%s\n", msg);
    pthread_mutex_unlock(&v->loglock);
}

static bool logged(struct srv *v, const char *what)
{
    for (int i = 0; i < 100; i++) {   /* the server thread logs asynchronously */
        pthread_mutex_lock(&v->loglock);
        bool f = strstr(v->log, what) != NULL;
        pthread_mutex_unlock(&v->loglock);
        if (f) return true;
        usleep(20000);
    }
    print_message("not logged: %s\nlog:\n%s", what, v->log);
    return false;
}

static void *loop_main(void *arg)
{
    struct srv *v = arg;
    struct smfs_err err;
    if (ev_run(v->loop, &err)) print_message("ev_run: %s\n", err.msg);
    return NULL;
}

static struct srv *start(struct ipc_server_opts o)
{
    struct srv *v = calloc(1, sizeof *v);
    struct smfs_err err;
    pthread_mutex_init(&v->ts.lock, NULL);
    pthread_mutex_init(&v->loglock, NULL);
    static int seq;
    snprintf(v->unx, sizeof v->unx, "%s/q%d.sock", test_tmpdir(), seq++);
    snprintf(v->users, sizeof v->users, "%s/users", test_tmpdir());
    FILE *f = fopen(v->users, "w");
    /* sha256("hunter2") */
    fputs("# users\nalice:secret\nbob:f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7\n", f);
    fclose(f);
    o.port = 0;
    o.unix_path = v->unx;
    if (o.user_file) o.user_file = v->users;   /* any value: use the file written above */
    o.log = capture;
    o.log_arg = v;
    assert_int_equal(ev_new(&v->loop, &err), 0);
    int rc = ipc_server_new(v->loop, &o, &v->s, &err);
    if (rc) print_message("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(test_handlers(v->s, &v->ts), 0);
    snprintf(v->tcp, sizeof v->tcp, "127.0.0.1:%d", ipc_server_port(v->s));
    assert_int_equal(pthread_create(&v->th, NULL, loop_main, v), 0);
    return v;
}

static void stop(struct srv *v)
{
    ev_stop_async(v->loop);
    pthread_join(v->th, NULL);
    ipc_server_free(v->s);
    ev_free(v->loop);
    k_free(v->ts.last_async);
    free(v);
}

static struct ipc_client *login(const char *target, const char *creds)
{
    struct ipc_client *c = NULL;
    struct smfs_err err;
    int rc = ipc_client_connect(target, creds, 5000, &c, &err);
    if (rc) print_message("connect %s: %s\n", target, err.msg);
    assert_int_equal(rc, 0);
    return c;
}

/* (`name; args…) as a general list with a symbol head. */
static struct k *callv(const char *name, int n, ...)
{
    struct k *x = k_list(n + 1);
    va_list ap;
    va_start(ap, n);
    k_list_set(x, 0, k_sym(name));
    for (int i = 0; i < n; i++) k_list_set(x, i + 1, va_arg(ap, struct k *));
    va_end(ap);
    return x;
}

static struct k *must_call(struct ipc_client *c, struct k *x)
{
    struct k *r = NULL;
    struct smfs_err err;
    int rc = ipc_client_call(c, x, 10000, &r, &err);
    if (rc) print_message("call: %s\n", err.msg);
    assert_int_equal(rc, 0);
    k_free(x);
    return r;
}

static void expect_error(struct ipc_client *c, struct k *x, const char *msg)
{
    struct k *r = NULL;
    struct smfs_err err;
    assert_int_equal(ipc_client_call(c, x, 10000, &r, &err), -EREMOTEIO);
    assert_non_null(r);
    assert_int_equal(r->t, KT_ERROR);
    assert_string_equal(r->u.s, msg);
    k_free(r);
    k_free(x);
}

/* --- framing --------------------------------------------------------------------- */

static void headers_are_checked(void **state)
{
    (void)state;
    struct ipc_hdr h;
    struct smfs_err err;
    const uint8_t ok[8] = {1, 1, 0, 0, 10, 0, 0, 0}, be[8] = {0, 2, 0, 0, 0, 0, 0, 10};
    assert_int_equal(ipc_hdr_parse(ok, 100, &h, &err), 0);
    assert_true(h.len == 10 && h.type == IPC_SYNC && !h.big_endian);
    assert_int_equal(ipc_hdr_parse(be, 100, &h, &err), 0);
    assert_true(h.len == 10 && h.type == IPC_RESPONSE && h.big_endian);
    const uint8_t bad[][8] = {{2, 1, 0, 0, 10, 0, 0, 0}, {1, 3, 0, 0, 10, 0, 0, 0}, {1, 1, 2, 0, 10, 0, 0, 0},
                              {1, 1, 0, 9, 10, 0, 0, 0}, {1, 1, 0, 0, 8, 0, 0, 0}, {1, 1, 1, 0, 12, 0, 0, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ipc_hdr_parse(bad[i], 100, &h, &err), -EPROTO);
    const uint8_t huge[8] = {1, 1, 0, 0, 0, 0, 0, 0x7f};
    assert_int_equal(ipc_hdr_parse(huge, 1 << 20, &h, &err), -EMSGSIZE);
    assert_string_equal(err.msg, "q IPC message of 2130706432 bytes is over the limit of 1048576");
}

static void encode_decode_and_compress(void **state)
{
    (void)state;
    struct smfs_err err;
    struct k *v = k_vec(KT_LONG, 10000), *x = NULL;
    for (int i = 0; i < 10000; i++) ((int64_t *)v->u.v)[i] = i % 7;
    struct buf plain, zip;
    buf_init(&plain, 1 << 30);
    buf_init(&zip, 1 << 30);
    assert_int_equal(ipc_encode(v, IPC_SYNC, false, &plain, &err), 0);
    assert_int_equal(ipc_encode(v, IPC_SYNC, true, &zip, &err), 0);
    assert_int_equal(plain.p[2], 0);
    assert_int_equal(zip.p[2], 1);            /* compressed: well under half */
    assert_true(zip.len < plain.len / 2);
    enum ipc_type t;
    assert_int_equal(ipc_decode(zip.p, zip.len, 1 << 30, &x, &t, &err), 0);
    assert_true(k_equal(x, v) && t == IPC_SYNC);
    k_free(x);
    /* The decompressed size is bounded by the limit too. */
    assert_int_equal(ipc_decode(zip.p, zip.len, 1000, &x, &t, &err) < 0, true);
    /* Trailing bytes after the object, and a length that disagrees, are refused. */
    uint8_t extra[64];
    memcpy(extra, "\x01\x01\x00\x00\x0b\x00\x00\x00\xf9\x00\x00", 11);
    assert_int_equal(ipc_decode(extra, 11, 100, &x, &t, &err), -EBADMSG);  /* 0xf9 long needs 8 bytes */
    memcpy(extra, "\x01\x01\x00\x00\x0b\x00\x00\x00\xfc\x00\x00", 11);      /* real atom + 2 extra bytes */
    assert_int_equal(ipc_decode(extra, 11, 100, &x, &t, &err), -EBADMSG);
    /* Small messages are never compressed (kdb+: over 2000 bytes only). */
    struct k *s = k_long(1);
    zip.len = 0;
    assert_int_equal(ipc_encode(s, IPC_ASYNC, true, &zip, &err), 0);
    assert_int_equal(zip.p[2], 0);
    k_free(s);
    k_free(v);
    buf_release(&plain);
    buf_release(&zip);
}

/* --- our client against our server ------------------------------------------------------ */

static void calls_of_every_shape(void **state)
{
    (void)state;
    struct srv *v = start((struct ipc_server_opts){0});
    struct ipc_client *c = login(v->tcp, "me");
    assert_int_equal(ipc_client_cap(c), 3);
    struct k *r;

    /* Values of every type come back unchanged. */
    struct k *vals[] = {k_bool(true), k_long(-5), k_float(2.5), k_sym("AAPL"), k_timestamp(1234567),
                        k_date(8767), k_str("hello", 5), k_vec(KT_GUID, 2), k_vec(KT_TIMESPAN, 3),
                        k_vec(KT_REAL, 4), k_null(), k_list(2)};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        r = must_call(c, callv("echo", 1, k_copy(vals[i])));
        assert_true(k_equal(r, vals[i]));
        k_free(r);
        k_free(vals[i]);
    }
    const char *names[] = {"a", "b"};
    struct k *d = k_dict(k_symv(names, 2), k_list(2));
    struct k *tbl = k_table(k_dict(k_symv(names, 2), k_list(2)));
    k_list_set(tbl->u.kk[0]->u.kk[1], 0, k_vec(KT_LONG, 3));
    k_list_set(tbl->u.kk[0]->u.kk[1], 1, k_vec(KT_FLOAT, 3));
    r = must_call(c, callv("echo", 1, k_copy(d)));
    assert_true(k_equal(r, d));
    k_free(r);
    r = must_call(c, callv("echo", 1, k_copy(tbl)));
    assert_true(k_equal(r, tbl));
    k_free(r);
    k_free(d);
    k_free(tbl);

    /* A symbol vector `count`a`b is count[`a;`b]: two symbol arguments. */
    const char *sv[] = {"echo", "x", "y"};
    r = must_call(c, k_symv(sv, 3));
    assert_true(r->t == KT_LIST && r->n == 2 && r->u.kk[1]->t == -KT_SYM && !strcmp(r->u.kk[1]->u.s, "y"));
    k_free(r);
    /* A string head names the function too (what javakdb and node-q send). */
    struct k *sh = k_list(3);
    k_list_set(sh, 0, k_str("add", 3));
    k_list_set(sh, 1, k_long(2));
    k_list_set(sh, 2, k_long(40));
    r = must_call(c, sh);
    assert_true(r->t == -KT_LONG && r->u.j == 42);
    k_free(r);
    /* h"" is the ping: (::). */
    r = must_call(c, k_str("", 0));
    assert_true(r->t == 101 && r->u.g == 0);
    k_free(r);

    expect_error(c, callv("nosuch", 1, k_long(1)), "nosuch");
    expect_error(c, callv("fail", 1, k_str("boom", 4)), "boom");
    expect_error(c, callv("add", 1, k_long(1)), "rank");
    expect_error(c, k_str("2+2", 3), "smfs has no q interpreter: send a call of a named function with literal "
                 "arguments, e.g. \".sm.api.getStatus[]\" or (`.sm.api.getStatus;::); at character 1 ('2'): "
                 "expected the name of a function, such as .sm.api.getStatus");
    /* A call written as text, literal arguments only (core/qcall): parsed, not evaluated. */
    const char *txt = "add[2;40]";
    r = must_call(c, k_str(txt, strlen(txt)));
    assert_true(r->t == -KT_LONG && r->u.j == 42);
    k_free(r);
    expect_error(c, k_sym("echo"), "a name alone asks for its value; smfs only calls functions: (`name;args)");
    expect_error(c, k_long(7), "type");
    struct k *fl = k_list(2);
    k_list_set(fl, 0, k_long(1));
    expect_error(c, fl, "smfs cannot run a function sent over IPC: call a name, e.g. (`.sm.api.getStatus;::)");

    /* Async calls run in order with sync ones; errors in them are logged, never answered. */
    struct smfs_err err;
    struct k *a = callv("notify", 2, k_sym("hello"), k_float(4.5));
    assert_int_equal(ipc_client_send(c, a, &err), 0);
    k_free(a);
    a = callv("fail", 1, k_str("quiet", 5));
    assert_int_equal(ipc_client_send(c, a, &err), 0);
    k_free(a);
    r = must_call(c, callv("lastAsync", 1, k_null()));
    assert_true(r->t == KT_LIST && r->n == 2 && r->u.kk[1]->u.f == 4.5);
    k_free(r);
    assert_true(logged(v, "async call 'fail' failed: 'quiet"));

    /* A callback arrives on the same connection after the reply. */
    r = must_call(c, callv("callback", 2, k_sym("onReload"), k_long(99)));
    assert_string_equal(r->u.s, "ok");
    k_free(r);
    struct k *m = NULL;
    enum ipc_type t;
    assert_int_equal(ipc_client_recv(c, 5000, &m, &t, &err), 0);
    assert_int_equal(t, IPC_ASYNC);
    assert_true(m->t == KT_LIST && !strcmp(m->u.kk[0]->u.s, "onReload") && m->u.kk[1]->u.j == 99);
    k_free(m);
    ipc_client_close(c);

    /* The Unix socket serves the same. */
    char target[320];
    snprintf(target, sizeof target, "unix:%s", v->unx);
    c = login(target, NULL);
    r = must_call(c, callv("add", 2, k_float(1), k_float(2)));
    assert_true(r->u.f == 3);
    k_free(r);
    ipc_client_close(c);
    stop(v);

    /* A socket in the abstract namespace, as kdb+ listens on Linux: no file made or
     * removed, and a second listener on the same name is refused. */
    char name[64];
    snprintf(name, sizeof name, "@/tmp/smfs-test-kx.%d", (int)getpid());
    struct ev_loop *loop;
    struct ipc_server *s1, *s2;
    struct ipc_server_opts ao = {.port = -1, .unix_path = name};
    assert_int_equal(ev_new(&loop, &err), 0);
    assert_int_equal(ipc_server_new(loop, &ao, &s1, &err), 0);
    assert_int_equal(access(name, F_OK), -1);
    assert_int_equal(ipc_server_new(loop, &ao, &s2, &err), -EADDRINUSE);
    assert_non_null(strstr(err.msg, "another process is listening"));
    struct srv lv = {.loop = loop};
    assert_int_equal(pthread_create(&lv.th, NULL, loop_main, &lv), 0);
    snprintf(target, sizeof target, "unix:%s", name);
    c = login(target, NULL);
    struct k *x = callv("add", 2, k_float(1), k_float(2));
    assert_int_equal(ipc_client_call(c, x, 5000, &r, &err), -EREMOTEIO);
    assert_string_equal(r->u.s, "add");   /* no handlers on this one: kdb+'s error, the name */
    k_free(x);
    k_free(r);
    ipc_client_close(c);
    ev_stop_async(loop);
    pthread_join(lv.th, NULL);
    ipc_server_free(s1);
    assert_int_equal(ipc_server_new(loop, &ao, &s2, &err), 0);   /* free released the name */
    ipc_server_free(s2);
    ev_free(loop);
}

static void logins_and_compression(void **state)
{
    (void)state;
    struct srv *v = start((struct ipc_server_opts){.compress_local = true, .user_file = "users"});
    struct smfs_err err;
    struct ipc_client *c = NULL;
    assert_int_equal(ipc_client_connect(v->tcp, "alice:wrong", 5000, &c, &err), -EACCES);
    assert_null(c);
    assert_int_equal(ipc_client_connect(v->tcp, "alice", 5000, &c, &err), -EACCES);
    assert_int_equal(ipc_client_connect(v->tcp, "eve:secret", 5000, &c, &err), -EACCES);
    assert_true(logged(v, "login refused for user 'eve'"));
    ipc_client_close(login(v->tcp, "bob:hunter2"));   /* SHA-256 entry */
    c = login(v->tcp, "alice:secret");

    /* A big, compressible reply travels compressed (forced on loopback here) and is
     * decompressed by the client. */
    struct ipc_stats st0, st1;
    ipc_server_stats(v->s, &st0);
    struct k *r = must_call(c, callv("big", 1, k_long(500000)));
    ipc_server_stats(v->s, &st1);
    assert_int_equal(r->n, 500000);
    assert_true(((int64_t *)r->u.v)[499999] == 499999);
    assert_true(st1.bytes_out - st0.bytes_out < 500000 * 8 / 2);
    k_free(r);
    ipc_client_close(c);
    stop(v);
}

/* A raw TCP socket, for peers that misbehave. */
static int raw(struct srv *v)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ipc_server_port(v->s)),
                            .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* True once the server has closed FD (read returns 0 or an error). */
static bool closed_by_server(int fd, int ms)
{
    char b[256];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t end = ev_now_ms() + ms;
    while (ev_now_ms() < end) {
        if (poll(&p, 1, 100) > 0) {
            ssize_t n = recv(fd, b, sizeof b, 0);
            if (n <= 0) return true;
        }
    }
    return false;
}

static void hostile_peers_lose_only_their_connection(void **state)
{
    (void)state;
    struct srv *v = start((struct ipc_server_opts){.max_msg = 1 << 20, .max_msg_anon = 1 << 20, .max_conns = 8,
                                                   .max_per_addr = 8, .handshake_ms = 300, .stall_ms = 300});
    struct ipc_client *good = login(v->tcp, "good");
    struct smfs_err err;

    /* Garbage instead of a header. */
    int fd = raw(v);
    assert_int_equal(write(fd, "me\3\0GARBAGE!", 12), 12);
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    assert_true(logged(v, "not a q IPC message header"));

    /* A length over the limit. */
    fd = raw(v);
    assert_int_equal(write(fd, "me\3\0\1\1\0\0\0\0\0\x10", 12), 12);
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    assert_true(logged(v, "over the limit of 1048576"));

    /* A lying length: 1 MB claimed, 10 bytes sent, then silence. */
    fd = raw(v);
    assert_int_equal(write(fd, "me\3\0\1\1\0\0\0\0\x0f\0\xf9\0", 14), 14);
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    assert_true(logged(v, "message too slow: not whole 300 ms after its first byte"));

    /* No login at all, and a login that never ends. */
    fd = raw(v);
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    assert_true(logged(v, "no login within 300 ms"));
    fd = raw(v);
    char junk[1100];
    memset(junk, 'a', sizeof junk);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    assert_true(logged(v, "login longer than 1024 bytes"));

    /* A body that does not decode: a symbol without its NUL, a count past the end. */
    fd = raw(v);
    assert_int_equal(write(fd, "me\3\0\1\1\0\0\x0c\0\0\0\xf5" "abc", 17), 17);
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    fd = raw(v);
    assert_int_equal(write(fd, "me\3\0\1\1\0\0\x0e\0\0\0\x07\0\xff\xff\xff\x7f", 18), 18);
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    /* A compressed message whose stream lies about its size. */
    fd = raw(v);
    assert_int_equal(write(fd, "me\3\0\1\1\1\0\x10\0\0\0\xff\xff\xff\x0f\0\0\0\0", 20), 20);
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    /* Our client refuses a message over its own limit before sending (it is the
     * server that refuses here: 2 MB over a 1 MB limit drops the connection). */
    struct ipc_client *big = login(v->tcp, "big");
    struct k *r = NULL, *x = callv("count", 1, k_vec(KT_LONG, 300000));
    assert_true(ipc_client_call(big, x, 5000, &r, &err) < 0);
    k_free(x);
    ipc_client_close(big);

    /* Too many connections: the ninth is refused, the others unaffected. */
    struct ipc_client *cs[8] = {0};
    int n = 0;
    for (; n < 7; n++) cs[n] = login(v->tcp, "many");
    struct ipc_client *extra = NULL;
    assert_true(ipc_client_connect(v->tcp, "extra", 2000, &extra, &err) < 0);
    assert_true(logged(v, "8 connections already open (the limit)"));
    for (int i = 0; i < n; i++) ipc_client_close(cs[i]);

    /* Through all of it the well-behaved client was served. */
    r = must_call(good, callv("add", 2, k_long(1), k_long(2)));
    assert_true(r->u.j == 3);
    k_free(r);
    struct ipc_stats st;
    ipc_server_stats(v->s, &st);
    assert_true(st.dropped >= 8);
    assert_true(st.refused_full >= 1);
    ipc_client_close(good);
    stop(v);
}

/* A raw socket that has logged in (capability 3) from SRC (127.0.0.x). */
static int raw_from(struct srv *v, uint32_t src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(src)};
    assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ipc_server_port(v->s)),
                            .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int raw_login(struct srv *v, uint32_t src)
{
    int fd = raw_from(v, src);
    assert_int_equal(write(fd, "me\3\0", 4), 4);
    char cap;
    assert_int_equal(read(fd, &cap, 1), 1);
    return fd;
}

static struct k *h_keepme(struct ipc_call *c, void *arg)
{
    (void)arg;
    ipc_server_keep(c->srv, c->conn, true);
    return k_null();
}

static int count_in(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* What a peer can take without logging in is bounded: the memory a message may
 * expand to (a compression bomb gets 'limit and the connection goes on), its size,
 * the bytes buffered across connections, connections per address, a body's time,
 * idleness; refusals are logged once per window; at the fd limit accepting rests. A
 * canary client is served throughout. */
static void limits_hold_against_a_crowd(void **state)
{
    (void)state;
    struct srv *v = start((struct ipc_server_opts){.max_msg_anon = 256 << 10, .max_buffered = 200 << 10,
                                                   .max_conns = 32, .max_per_addr = 3, .stall_ms = 300,
                                                   .idle_ms = 400, .handshake_ms = 1000});
    assert_int_equal(ipc_server_handle(v->s, "keepme", h_keepme, NULL), 0);
    struct smfs_err err;
    /* The canary comes from its own address, 127.0.0.2, and is kept (a registrant). */
    char utarget[320];
    snprintf(utarget, sizeof utarget, "unix:%s", v->unx);
    struct ipc_client *canary = login(utarget, "canary");
    struct k *r = must_call(canary, callv("keepme", 1, k_null()));
    k_free(r);

    /* 1. A compression bomb: a list of 100,000 (::) is 200 KB plain (under the 256 KiB
     * limit), a few KB compressed, and 6 MB decoded: 'limit, and the peer goes on. */
    struct k *bomb = k_list(100001);
    k_list_set(bomb, 0, k_sym("count"));
    struct buf m;
    buf_init(&m, 1 << 30);
    assert_int_equal(ipc_encode(bomb, IPC_SYNC, true, &m, &err), 0);
    k_free(bomb);
    assert_true(m.len < 20000 && m.p[2] == 1);   /* compressed */
    int fd = raw_login(v, 0x7f000001);
    assert_int_equal(write(fd, m.p, m.len), (ssize_t)m.len);
    buf_release(&m);
    uint8_t resp[64];
    ssize_t got = 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (got < 15 && poll(&pf, 1, 3000) > 0) {
        ssize_t n = recv(fd, resp + got, sizeof resp - (size_t)got, 0);
        if (n <= 0) break;
        got += n;
    }
    assert_true(got >= 15 && resp[1] == IPC_RESPONSE && resp[8] == 0x80 && !memcmp(resp + 9, "limit", 6));
    assert_true(logged(v, "message refused with 'limit"));
    /* …and the same connection still answers. */
    struct k *small = callv("add", 2, k_long(2), k_long(3));
    buf_init(&m, 1 << 20);
    assert_int_equal(ipc_encode(small, IPC_SYNC, false, &m, &err), 0);
    k_free(small);
    assert_int_equal(write(fd, m.p, m.len), (ssize_t)m.len);
    buf_release(&m);
    assert_true(poll(&pf, 1, 3000) > 0 && recv(fd, resp, sizeof resp, 0) >= 17 && resp[8] == 0xf9 && resp[9] == 5);
    close(fd);

    /* 2. Over the anonymous limit: dropped, saying why. */
    fd = raw_login(v, 0x7f000001);
    assert_int_equal(write(fd, "\1\1\0\0\0\0\x10\0", 8), 8);   /* 1 MiB claimed */
    assert_true(closed_by_server(fd, 3000));
    close(fd);
    assert_true(logged(v, "the limit for a peer without a login"));

    /* 3. The bytes buffered across connections: two half-sent 150 KB messages; the
     * one that would pass 200 KiB in all is dropped, the other finishes. */
    int a = raw_login(v, 0x7f000001), b = raw_login(v, 0x7f000003);
    uint8_t part[100 << 10];
    memset(part, 0, sizeof part);
    uint8_t hdr[14] = {1, IPC_ASYNC, 0, 0, 0, 0, 0, 0, 4, 0};   /* a byte vector */
    uint32_t len = 150000;
    memcpy(hdr + 4, &len, 4);
    uint32_t cnt = len - 14;
    memcpy(hdr + 10, &cnt, 4);
    assert_int_equal(write(a, hdr, 14), 14);
    assert_int_equal(write(a, part, sizeof part), (ssize_t)sizeof part);
    assert_true(logged(v, "") && usleep(100000) == 0);
    assert_int_equal(write(b, hdr, 14), 14);
    assert_int_equal(write(b, part, sizeof part), (ssize_t)sizeof part);
    assert_true(closed_by_server(b, 3000));
    assert_true(logged(v, "message input over budget"));
    close(b);
    close(a);

    /* 4. Per address: a fourth connection from 127.0.0.1 is refused, one from
     * 127.0.0.4 is not; 20 refusals make one line and a count. */
    int held[3];
    for (int i = 0; i < 3; i++) held[i] = raw_login(v, 0x7f000001);
    int refused = 0;
    for (int i = 0; i < 20; i++) {
        int x = raw_from(v, 0x7f000001);
        refused += closed_by_server(x, 2000);
        close(x);
    }
    assert_int_equal(refused, 20);
    int other = raw_login(v, 0x7f000004);
    close(other);
    assert_true(logged(v, "3 connections already open from 127.0.0.1 (the limit per address)"));
    pthread_mutex_lock(&v->loglock);
    int lines = count_in(v->log, "the limit per address");
    pthread_mutex_unlock(&v->loglock);
    assert_int_equal(lines, 1);
    struct ipc_stats st;
    ipc_server_stats(v->s, &st);
    assert_true(st.refused_addr >= 20);

    /* 5. Idle connections go after idle_ms; the kept canary stays. */
    for (int i = 0; i < 3; i++) {
        assert_true(closed_by_server(held[i], 3000));
        close(held[i]);
    }
    assert_true(logged(v, "idle for 0 s"));

    /* 6. A body trickled a byte at a time is dropped at its deadline. */
    fd = raw_login(v, 0x7f000001);
    assert_int_equal(write(fd, "\1\1\0\0\x20\0\0\0", 8), 8);
    bool closed = false;
    for (int i = 0; i < 30 && !closed; i++) {
        if (write(fd, "", 1) != 1) break;
        closed = closed_by_server(fd, 100);
    }
    assert_true(closed || closed_by_server(fd, 2000));
    close(fd);
    assert_true(logged(v, "message too slow"));

    /* 7. Out of file descriptors: the server accepts and closes through its spare
     * descriptor, rests, logs it once, and serves again once fds are free. */
    struct rlimit rl, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    int probe = dup(0), top = probe;
    close(probe);
    low = rl;
    low.rlim_cur = (rlim_t)top + 2;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    pid_t kid = fork();
    if (kid == 0) {   /* a crowd from another process: its own fd table and limit */
        setrlimit(RLIMIT_NOFILE, &rl);
        for (int i = 0; i < 40; i++) {
            int x = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ipc_server_port(v->s)),
                                     .sin_addr.s_addr = htonl(0x7f000001)};
            struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000010 + (uint32_t)i)};
            if (x < 0 || bind(x, (struct sockaddr *)&me, sizeof me) || connect(x, (struct sockaddr *)&sa, sizeof sa)) break;
        }
        sleep(2);
        _exit(0);
    }
    assert_true(logged(v, "out of file descriptors"));
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int kst;
    waitpid(kid, &kst, 0);
    pthread_mutex_lock(&v->loglock);
    lines = count_in(v->log, "out of file descriptors");
    pthread_mutex_unlock(&v->loglock);
    assert_true(lines <= 2);   /* the window's line (and the next window's), never one per try */

    /* Through all of it the canary was served. */
    r = must_call(canary, callv("add", 2, k_long(40), k_long(2)));
    assert_true(r->u.j == 42);
    k_free(r);
    ipc_server_stats(v->s, &st);
    assert_true(st.limit_replies == 1 && st.refused_fds >= 1 && st.idle_closed >= 3 && st.buffered == 0);
    ipc_client_close(canary);
    stop(v);
}

static void client_timeouts_and_bad_targets(void **state)
{
    (void)state;
    struct ipc_client *c = NULL;
    struct smfs_err err;
    assert_int_equal(ipc_client_connect("nocolon", NULL, 1000, &c, &err), -EINVAL);
    assert_int_equal(ipc_client_connect("127.0.0.1:1", NULL, 1000, &c, &err), -ECONNREFUSED);
    assert_true(ipc_client_connect("unix:/nonexistent/sock", NULL, 1000, &c, &err) < 0);
    /* A server that accepts but never answers the handshake: the timeout holds. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 4), 0);
    getsockname(l, (struct sockaddr *)&a, &al);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(a.sin_port));
    int64_t t0 = ev_now_ms();
    assert_int_equal(ipc_client_connect(target, "x", 300, &c, &err), -ETIMEDOUT);
    assert_true(ev_now_ms() - t0 < 5000);   /* bounded, not a timing assertion on speed */
    close(l);
}

/* What a peer names (a q login, a callback symbol, a tickerplant's symbols) reaches the
 * admin socket's JSON whatever its bytes. */
static void admin_str_takes_any_bytes(void **state)
{
    (void)state;
    json_t *j = admin_str("caf\xc3\xa9");
    assert_string_equal(json_string_value(j), "caf\xc3\xa9");
    json_decref(j);
    j = admin_str("\xffuser\xc3");
    assert_string_equal(json_string_value(j), "?user?");
    char *out = json_dumps(j, JSON_ENCODE_ANY);
    assert_string_equal(out, "\"?user?\"");
    free(out);
    json_decref(j);
    assert_null(admin_str(NULL));
    j = admin_strn("a\0b", 3);                       /* valid: the NUL is kept */
    assert_int_equal(json_string_length(j), 3);
    json_decref(j);
    j = admin_strn("a\0\xff", 3);                   /* not: both become '?' */
    assert_string_equal(json_string_value(j), "a??");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(headers_are_checked),
        cmocka_unit_test(encode_decode_and_compress),
        cmocka_unit_test(calls_of_every_shape),
        cmocka_unit_test(logins_and_compression),
        cmocka_unit_test(hostile_peers_lose_only_their_connection),
        cmocka_unit_test(limits_hold_against_a_crowd),
        cmocka_unit_test(client_timeouts_and_bad_targets),
        cmocka_unit_test(admin_str_takes_any_bytes),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
