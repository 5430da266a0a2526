/* tests/helpers/ipc_handlers.h: the q functions the IPC tests call, shared by the
 * in-process unit test and the ipc_testd server node-q talks to.
 *   echo[x]        x (several arguments come back as a list)
 *   type[x]        q's type of x as a short, like q's `type`
 *   add[x;y]       longs or floats
 *   count[x]       items of x as a long
 *   fail[msg]      the q error 'msg
 *   notify[x…]     async: remembered for lastAsync
 *   lastAsync[]    the arguments of the last notify, or (::)
 *   callback[f;x]  answers `ok, then sends (f;x) async on the same connection
 *   big[n]         n longs 0..n-1 (large responses, compression) */
#ifndef SMFS_TEST_IPC_HANDLERS_H
#define SMFS_TEST_IPC_HANDLERS_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/k.h"
#include "ipc/ipc_server.h"

struct test_state {
    pthread_mutex_t lock;
    struct k       *last_async;   /* guarded by lock */
};

static struct k *h_echo(struct ipc_call *c, void *arg)
{
    (void)arg;
    if (c->args->n == 1) {
        struct k *x = c->args->u.kk[0];
        c->args->u.kk[0] = NULL;
        return x;
    }
    return k_copy(c->args);
}

static struct k *h_type(struct ipc_call *c, void *arg)
{
    (void)arg;
    if (c->args->n != 1) return k_error("rank");
    struct k *r = k_atom(-KT_SHORT);
    if (r) r->u.h = c->args->u.kk[0]->t;
    return r;
}

static struct k *h_add(struct ipc_call *c, void *arg)
{
    (void)arg;
    if (c->args->n != 2) return k_error("rank");
    struct k *x = c->args->u.kk[0], *y = c->args->u.kk[1];
    if (x->t == -KT_LONG && y->t == -KT_LONG) return k_long(x->u.j + y->u.j);
    if (x->t == -KT_FLOAT && y->t == -KT_FLOAT) return k_float(x->u.f + y->u.f);
    return k_error("type");
}

static struct k *h_count(struct ipc_call *c, void *arg)
{
    (void)arg;
    if (c->args->n != 1) return k_error("rank");
    int64_t n = k_count(c->args->u.kk[0]);
    return k_long(n < 0 ? 1 : n);
}

static struct k *h_fail(struct ipc_call *c, void *arg)
{
    (void)arg;
    struct k *m = c->args->n ? c->args->u.kk[0] : NULL;
    if (m && m->t == KT_CHAR) {
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)m->n, (const char *)m->u.v);
        return k_error(buf);
    }
    if (m && m->t == -KT_SYM) return k_error(m->u.s ? m->u.s : "");
    return k_error("fail");
}

static struct k *h_notify(struct ipc_call *c, void *arg)
{
    struct test_state *ts = arg;
    struct k *x = k_copy(c->args);
    pthread_mutex_lock(&ts->lock);
    k_free(ts->last_async);
    ts->last_async = x;
    pthread_mutex_unlock(&ts->lock);
    return k_null();
}

static struct k *h_last_async(struct ipc_call *c, void *arg)
{
    struct test_state *ts = arg;
    (void)c;
    pthread_mutex_lock(&ts->lock);
    struct k *r = ts->last_async ? k_copy(ts->last_async) : k_null();
    pthread_mutex_unlock(&ts->lock);
    return r;
}

static struct k *h_callback(struct ipc_call *c, void *arg)
{
    (void)arg;
    if (c->args->n != 2 || c->args->u.kk[0]->t != -KT_SYM) return k_error("type");
    struct k *msg = k_list(2);
    if (!msg) return NULL;
    k_list_set(msg, 0, c->args->u.kk[0]);
    k_list_set(msg, 1, c->args->u.kk[1]);
    c->args->u.kk[0] = c->args->u.kk[1] = NULL;
    struct smfs_err err;
    /* Queued behind the response to this call, as a q server's neg[.z.w] would be. */
    int rc = ipc_server_send(c->srv, c->conn, IPC_ASYNC, msg, &err);
    k_free(msg);
    return rc ? k_error("callback") : k_sym("ok");
}

static struct k *h_big(struct ipc_call *c, void *arg)
{
    (void)arg;
    if (c->args->n != 1 || c->args->u.kk[0]->t != -KT_LONG) return k_error("type");
    int64_t n = c->args->u.kk[0]->u.j;
    if (n < 0 || n > 100000000) return k_error("limit");
    struct k *v = k_vec(KT_LONG, n);
    if (!v) return NULL;
    for (int64_t i = 0; i < n; i++) ((int64_t *)v->u.v)[i] = i;
    return v;
}

static int test_handlers(struct ipc_server *s, struct test_state *ts)
{
    int rc = 0;
    rc |= ipc_server_handle(s, "echo", h_echo, NULL);
    rc |= ipc_server_handle(s, "type", h_type, NULL);
    rc |= ipc_server_handle(s, "add", h_add, NULL);
    rc |= ipc_server_handle(s, "count", h_count, NULL);
    rc |= ipc_server_handle(s, "fail", h_fail, NULL);
    rc |= ipc_server_handle(s, "notify", h_notify, ts);
    rc |= ipc_server_handle(s, "lastAsync", h_last_async, ts);
    rc |= ipc_server_handle(s, "callback", h_callback, NULL);
    rc |= ipc_server_handle(s, "big", h_big, NULL);
    return rc ? -ENOMEM : 0;
}

#endif
