/* ipc/tp.c: see tp.h. */
#include "ipc/tp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "ipc/ipc_client.h"
#include "ipc/journal.h"

struct tp {
    struct ipc_client *c;
    char               target[256];
};

int tp_connect(const char *target, const char *creds, int timeout_ms, struct tp **out, struct smfs_err *err)
{
    *out = NULL;
    struct tp *tp = calloc(1, sizeof *tp);
    if (!tp) return err_set(err, -ENOMEM, "out of memory");
    snprintf(tp->target, sizeof tp->target, "%s", target);
    int rc = ipc_client_connect(target, creds, timeout_ms, &tp->c, err);
    if (rc) {
        free(tp);
        return rc;
    }
    ipc_client_set_max_msg(tp->c, TP_MAX_MSG);
    *out = tp;
    return 0;
}

void tp_close(struct tp *tp)
{
    if (!tp) return;
    ipc_client_close(tp->c);
    free(tp);
}

void tp_sub_free(struct tp_sub *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->table[i]);
        k_free(s->schema[i]);
    }
    free(s->table);
    free(s->schema);
    free(s->log);
    k_free(s->tables);
    memset(s, 0, sizeof *s);
}

/* A q name we may put in a string we send (the tickerplant evaluates it). */
static bool plain_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '.'))
            return false;
    return true;
}

static int call(struct tp *tp, const char *text, int timeout_ms, struct k **res, struct smfs_err *err)
{
    struct k *q = k_str(text, strlen(text));
    if (!q) return err_set(err, -ENOMEM, "out of memory");
    int rc = ipc_client_call(tp->c, q, timeout_ms, res, err);
    k_free(q);
    return rc;
}

/* (i;L) as `.u `i`L answers it. */
static int position(const struct k *x, int64_t *msgs, char **log, struct smfs_err *err)
{
    *msgs = -1;
    *log = NULL;
    if (!x || x->t != KT_LIST || x->n != 2)
        return err_set(err, -EPROTO, "`.u `i`L did not answer a pair (i;L)");
    const struct k *i = x->u.kk[0], *l = x->u.kk[1];
    if (i->t == -KT_LONG) *msgs = i->u.j;
    else if (i->t == -KT_INT) *msgs = i->u.i;
    else if (i->t != KT_LIST && i->t != 101) return err_set(err, -EPROTO, ".u.i is a %s, not a long", k_type_name(i->t));
    if (l->t == -KT_SYM && l->u.s && l->u.s[0]) {
        const char *s = l->u.s[0] == ':' ? l->u.s + 1 : l->u.s;
        if (!(*log = strdup(s))) return err_set(err, -ENOMEM, "out of memory");
    } else if (l->t != -KT_SYM && l->t != 101 && l->t != KT_LIST) {
        return err_set(err, -EPROTO, ".u.L is a %s, not a symbol", k_type_name(l->t));
    }
    if (!*log) *msgs = -1;   /* no log: nothing to replay from */
    return 0;
}

int tp_subscribe(struct tp *tp, const char *const *tables, size_t n, int timeout_ms, struct tp_sub *out,
                 struct smfs_err *err)
{
    memset(out, 0, sizeof *out);
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = buf_printf(&b, "(.u.sub[;`]each(),");
    for (size_t i = 0; !rc && i < n; i++) {
        if (!plain_name(tables[i])) {
            buf_release(&b);
            return err_set(err, -EINVAL, "table '%s': not a name to send a tickerplant", tables[i]);
        }
        rc = buf_printf(&b, "`%s", tables[i]);
    }
    if (!rc) rc = buf_printf(&b, ";`.u `i`L;@[value;`.u.t;()])");
    if (!rc) rc = buf_put_u8(&b, 0);
    if (rc) {
        buf_release(&b);
        return err_set(err, -ENOMEM, "out of memory");
    }
    struct k *res = NULL;
    rc = call(tp, (const char *)b.p, timeout_ms, &res, err);
    buf_release(&b);
    if (rc == -EREMOTEIO) {
        /* u.q's .u.sub signals the name of a table it does not have. */
        const char *what = res && res->u.s ? res->u.s : "";
        for (size_t i = 0; i < n; i++)
            if (!strcmp(what, tables[i])) {
                k_free(res);
                return err_set(err, -ENOENT, "tickerplant %s has no table %s (it answered '%s)", tp->target, tables[i],
                               tables[i]);
            }
        rc = err_set(err, -EREMOTEIO, "tickerplant %s refused the subscription: '%s", tp->target, what);
    }
    if (rc) {
        k_free(res);
        return rc;
    }
    const struct k *pairs = res->t == KT_LIST && res->n == 3 ? res->u.kk[0] : NULL;
    if (!pairs || pairs->t != KT_LIST || (size_t)pairs->n != n) {
        k_free(res);
        return err_set(err, -EPROTO, "tickerplant %s answered the subscription with something other than %zu "
                       "(table;schema) pairs", tp->target, n);
    }
    out->table = calloc(n ? n : 1, sizeof *out->table);
    out->schema = calloc(n ? n : 1, sizeof *out->schema);
    if (!out->table || !out->schema) rc = err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const struct k *p = pairs->u.kk[i];
        if (p->t != KT_LIST || p->n != 2 || p->u.kk[0]->t != -KT_SYM || p->u.kk[1]->t != KT_TABLE) {
            rc = err_set(err, -EPROTO, "tickerplant %s: item %zu of the subscription answer is not (table;schema)",
                         tp->target, i);
            break;
        }
        out->n++;
        if (!(out->table[i] = strdup(p->u.kk[0]->u.s ? p->u.kk[0]->u.s : "")) ||
            !(out->schema[i] = k_copy(p->u.kk[1])))
            rc = err_set(err, -ENOMEM, "out of memory");
        else if (strcmp(out->table[i], tables[i]))
            rc = err_set(err, -EPROTO, "tickerplant %s answered for table %s where %s was asked", tp->target,
                         out->table[i], tables[i]);
    }
    if (!rc) rc = position(res->u.kk[1], &out->msgs, &out->log, err);
    if (!rc) {
        const struct k *t = res->u.kk[2];
        out->tables = t->t == KT_SYM ? k_copy(t) : k_vec(KT_SYM, 0);
        if (!out->tables) rc = err_set(err, -ENOMEM, "out of memory");
    }
    k_free(res);
    if (rc) tp_sub_free(out);
    return rc;
}

int tp_log_now(struct tp *tp, int timeout_ms, int64_t *msgs, char **log, struct smfs_err *err)
{
    struct k *res = NULL;
    int rc = call(tp, "`.u `i`L", timeout_ms, &res, err);
    if (!rc) rc = position(res, msgs, log, err);
    k_free(res);
    return rc;
}

void tp_msg_free(struct tp_msg *m)
{
    k_free(m->raw);
    memset(m, 0, sizeof *m);
}

void tp_classify(struct k *raw, struct tp_msg *m)
{
    memset(m, 0, sizeof *m);
    m->raw = raw;
    struct smfs_err e = {0};
    if (journal_upd(raw, &m->table, &m->data, &e) == 0) {
        m->kind = TP_UPD;
        return;
    }
    if (raw->t == KT_LIST && raw->n == 2 && raw->u.kk[0]->t == -KT_SYM && raw->u.kk[0]->u.s &&
        !strcmp(raw->u.kk[0]->u.s, ".u.end") && raw->u.kk[1]->t == -KT_DATE) {
        m->kind = TP_END;
        m->date = raw->u.kk[1]->u.i;
        return;
    }
    m->kind = TP_OTHER;
    if (raw->t == KT_LIST && raw->n > 0 && raw->u.kk[0]->t == -KT_SYM)
        snprintf(m->what, sizeof m->what, "a call of `%.64s with %lld arguments", raw->u.kk[0]->u.s ? raw->u.kk[0]->u.s : "",
                 (long long)raw->n - 1);
    else
        snprintf(m->what, sizeof m->what, "a %s", k_type_name(raw->t));
}

int tp_wait(struct tp *tp, int wakefd, int timeout_ms, struct smfs_err *err)
{
    if (ipc_client_queued(tp->c)) return 1;
    struct pollfd p[2] = {{.fd = ipc_client_fd(tp->c), .events = POLLIN}, {.fd = wakefd, .events = POLLIN}};
    for (;;) {
        int n = poll(p, wakefd >= 0 ? 2 : 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return err_sys(err, "poll", tp->target);
        if (n == 0) return 0;
        return p[0].revents ? 1 : 0;
    }
}

int tp_next(struct tp *tp, int timeout_ms, struct tp_msg *m, struct smfs_err *err)
{
    memset(m, 0, sizeof *m);
    struct k *raw = NULL;
    enum ipc_type type;
    int rc = ipc_client_recv(tp->c, timeout_ms, &raw, &type, err);
    if (rc) return rc;   /* ipc_client names the tickerplant */
    tp_classify(raw, m);
    return 0;
}

int tp_publish(struct tp *tp, const char *table, const struct k *cols, struct smfs_err *err)
{
    struct k *m = k_list(3), *f = k_sym(".u.upd"), *t = k_sym(table), *x = k_copy(cols);
    if (!m || !f || !t || !x) {
        k_free(m);
        k_free(f);
        k_free(t);
        k_free(x);
        return err_set(err, -ENOMEM, "out of memory");
    }
    k_list_set(m, 0, f);
    k_list_set(m, 1, t);
    k_list_set(m, 2, x);
    int rc = ipc_client_send(tp->c, m, err);
    k_free(m);
    return rc ? err_wrap(err, "publish %s to tickerplant %s", table, tp->target) : 0;
}
