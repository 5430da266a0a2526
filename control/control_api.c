/* control/control_api.c: the Storage Manager API on the control loop (sm-spec §2–4):
 * .sm.api.register, .sm.api.getStatus and .sm.api.reloadComplete over q IPC;
 * POST /register, GET /status, /healthz, /readyz and /metrics over HTTP; delivery of
 * reload signals (async q messages, sync ones for the old form, HTTP POSTs); the
 * status and client listings the admin socket shows. Everything here runs on the
 * loop thread. */
#include "control_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/k_fmt.h"
#include "core/notify.h"
#include "core/log.h"


/* ---- acknowledgement deadlines --------------------------------------------------- */

static int64_t on_ack_timer(struct ev_loop *loop, void *arg)
{
    (void)loop;
    struct control *c = arg;
    c->ack_timer = 0;
    api_arm(c);
    return -1;
}

void api_arm(struct control *c)
{
    int64_t now = ev_now_ns(), next = reload_tick(c->reload, now);
    if (c->ack_timer) ev_timer_del(c->loop, c->ack_timer);
    c->ack_timer = 0;
    if (next == INT64_MAX) return;
    int64_t ms = (next - now) / 1000000 + 1;   /* never early: a deadline is a minimum */
    c->ack_timer = ev_timer_add(c->loop, ms, on_ack_timer, c);
    if (c->ack_timer < 0) {
        c->ack_timer = 0;
        log_err("reload: out of memory arming the acknowledgement timer");
    }
}

/* ---- delivery ----------------------------------------------------------------------- */

static int send_q(struct control *c, struct reload_client *cl, const struct reload_signal *sig)
{
    struct k *msg = k_list(2);
    struct k *f = k_sym(cl->callback), *d = reload_signal_k(sig, -1);
    if (!msg || !f || !d) {
        k_free(msg);
        k_free(f);
        k_free(d);
        return -ENOMEM;
    }
    k_list_set(msg, 0, f);
    k_list_set(msg, 1, d);
    struct smfs_err e = {0};
    int rc = ipc_server_send(c->q, cl->conn, cl->kind == RELOAD_Q_SYNC ? IPC_SYNC : IPC_ASYNC, msg, &e);
    k_free(msg);
    if (rc) log_warn("reload: cannot send to %s (registration %llu): %s", cl->peer, (unsigned long long)cl->id, e.msg);
    return rc;
}

static int send_rest(struct control *c, struct reload_client *cl, const struct reload_signal *sig)
{
    json_t *j = reload_signal_json(sig, -1);
    if (!j) return -ENOMEM;
    json_object_set_new(j, "mount", json_string(sig->mount->name));
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!body) return -ENOMEM;
    struct smfs_err e = {0};
    int rc = http_post(c->post, cl->callback, body, cl->id, &e);
    free(body);
    if (rc) log_warn("reload: %s", e.msg);
    return rc;
}

static int on_send(void *arg, struct reload_client *cl, const struct reload_signal *sig)
{
    struct control *c = arg;
    return cl->kind == RELOAD_REST ? send_rest(c, cl, sig) : send_q(c, cl, sig);
}

static void on_released(void *arg, uint64_t version)
{
    struct control *c = arg;
    log_debug("reload: version %llu is no longer held for acknowledgements", (unsigned long long)version);
    ctl_queue_vacuum(c);
}

/* A REST callback's last try failed: the receiver is gone; it registers again when
 * it comes back (a DA re-registers at start). */
static void on_posted(void *arg, uint64_t id, bool ok, long status, const char *why)
{
    (void)status;
    struct control *c = arg;
    if (ok) return;
    for (size_t i = 0; i < reload_nclients(c->reload); i++) {
        struct reload_client *cl = reload_client_at(c->reload, i);
        if (cl->id != id) continue;
        log_warn("reload: callback %s (registration %llu, mount %s) failed: %s: registration dropped",
                 cl->callback, (unsigned long long)id, cl->mount->name, why);
    }
    reload_drop(c->reload, id, "its callback URL failed");
}

/* The stream's _reload rows for the mounts MASK names (sm-spec §5.1, 1.2 schema:
 * time, sym, mount, params; time and sym null, as .rt.pub fills them): the same
 * dictionary a q IPC registrant receives, so stream subscribers see reloads in stream
 * order. */
static void publish_reload(struct control *c, const struct reload_signal *sigs, size_t n, uint64_t mask)
{
    int64_t k = 0;
    for (size_t i = 0; i < n && i < 64; i++) k += (mask >> i) & 1;
    if (!c->stream || !k) return;
    struct k *time = k_vec(KT_TIMESPAN, k), *sym = k_vec(KT_SYM, k), *mount = k_vec(KT_SYM, k), *params = k_list(k);
    struct k *cols = k_list(4);
    bool ok = time && sym && mount && params && cols;
    for (size_t i = 0, j = 0; ok && i < n && i < 64; i++) {
        if (!((mask >> i) & 1)) continue;
        ((int64_t *)time->u.v)[j] = KNULL_J;
        struct k *p = reload_signal_k(&sigs[i], -1);
        ok = p && k_symv_set(mount, (int64_t)j, sigs[i].mount->name) == 0;
        if (p) k_list_set(params, (int64_t)j, p);
        j++;
    }
    if (!ok) {
        log_err("stream: out of memory: _reload is not published");
        k_free(time), k_free(sym), k_free(mount), k_free(params), k_free(cols);
        return;
    }
    k_list_set(cols, 0, time);
    k_list_set(cols, 1, sym);
    k_list_set(cols, 2, mount);
    k_list_set(cols, 3, params);
    stream_signal(c->stream, "_reload", cols);
}

void api_commit(struct control *c, struct commit_note *note)
{
    struct store_snap *old = note->old;
    note->old = NULL;
    uint64_t mask = reload_commit(c->reload, note->sigs, note->n, old, ev_now_ns());
    publish_reload(c, note->sigs, note->n, mask);
    struct reload_stats rs;
    reload_stats(c->reload, &rs);
    notify_status("serving version %llu at %s; %llu q IPC and %llu REST registrations, %llu acknowledgements pending",
                  (unsigned long long)ctl_current(c), c->o.mountpoint, (unsigned long long)rs.clients_q,
                  (unsigned long long)rs.clients_rest, (unsigned long long)rs.pending);
    api_arm(c);
    hist_observe(&c->commit_hist, (double)note->commit_s_ns / 1e9);
    hist_observe(&c->fanout_hist, (double)(ev_now_ns() - note->published_mono) / 1e9);
}

/* ---- q IPC ---------------------------------------------------------------------------- */

/* q's errors are short words a client can match ('mount, 'type); after a colon we
 * say what exactly was wrong, for the person reading it. */
static struct k *qerr(const char *word, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static struct k *qerr(const char *word, const char *fmt, ...)
{
    char msg[400];
    int n = snprintf(msg, sizeof msg, "%s", word);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        n += snprintf(msg + n, sizeof msg - (size_t)n, ": ");
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return k_error(msg);
}

/* How q users name what came: a char vector is a "string". */
static const char *arg_type(const struct k *x)
{
    return x->t == KT_CHAR ? "string" : k_type_name(x->t);
}

/* A symbol argument; NULL otherwise. The interface (sm-spec §2.1) types mount and
 * callback as symbols, and kdb Insights refuses a string there: so do we, or a DAP
 * tested against smfs would break against Insights. */
static const char *sym_arg(const struct k *x)
{
    return x->t == -KT_SYM ? (x->u.s ? x->u.s : "") : NULL;
}

/* The timeout argument: a timespan (or time, second, minute); null means 0. *sync
 * is set for the old boolean form. Returns false for another type. */
static bool timeout_arg(const struct k *x, int64_t *ns, int *sync)
{
    *sync = -1;
    switch (x->t) {
    case -KT_BOOL: *sync = x->u.g != 0; *ns = 0; return true;
    case -KT_TIMESPAN: *ns = x->u.j == KNULL_J ? 0 : x->u.j; return true;
    case -KT_TIME: *ns = x->u.i == KNULL_I ? 0 : (int64_t)x->u.i * 1000000; return true;
    case -KT_SECOND: *ns = x->u.i == KNULL_I ? 0 : (int64_t)x->u.i * 1000000000; return true;
    case -KT_MINUTE: *ns = x->u.i == KNULL_I ? 0 : (int64_t)x->u.i * 60000000000; return true;
    default: return false;
    }
}

static struct k *q_register(struct ipc_call *call, void *arg)
{
    struct control *c = arg;
    const struct k *a = call->args;
    if (a->n != 3)
        return qerr("rank", ".sm.api.register takes 3 arguments [mount;timeout;callback], got %lld",
                    (long long)a->n);
    const char *mount = sym_arg(a->u.kk[0]);
    if (!mount)
        return qerr("type", "mount must be a symbol, got %s", arg_type(a->u.kk[0]));
    int64_t timeout;
    int sync;
    if (!timeout_arg(a->u.kk[1], &timeout, &sync))
        return qerr("type", "timeout must be a timespan such as 0D00:05:00 (or the old sync boolean), got %s",
                    arg_type(a->u.kk[1]));
    if (timeout < 0) return qerr("domain", "timeout must not be negative");
    const struct k *cx = a->u.kk[2];
    const char *callback = sym_arg(cx);
    if (!callback && cx->t != 101)
        return qerr("type", "callback must be a symbol naming a unary function, got %s", arg_type(cx));
    if (!callback || !*callback) return k_error("callback");
    struct reload_reg reg = {
        .kind = sync == 1 ? RELOAD_Q_SYNC : RELOAD_Q,
        .conn = call->conn,
        .mount = mount,
        .callback = callback,
        .peer = call->peer,
        .user = call->user,
        .timeout_ns = sync >= 0 ? 0 : timeout,
    };
    const struct reload_signal *sig;
    int64_t granted;
    struct smfs_err e = {0};
    int rc = reload_register(c->reload, &reg, ctl_now_rt(), &sig, &granted, &e);
    if (rc == -ENOENT) return k_error("mount");
    if (rc == -EAGAIN) return k_error("state");
    if (rc == -EUSERS) return k_error(e.msg);   /* "limit: …" */
    if (rc) return qerr("register", "%s", e.msg);
    /* A registrant waits for signals for hours: its connection is not idle. */
    ipc_server_keep(c->q, call->conn, true);
    log_info("reload: %s%s%s registered for mount %s (callback %s, %s %.3f s)", call->user,
             *call->user ? "@" : "", call->peer, mount, callback,
             sync >= 0 ? (sync ? "sync, waited up to" : "async, not waited for; form [mount;sync;callback],")
                       : "acknowledgement timeout", granted / 1e9);
    /* The old form predates the `timeout entry in the answer. */
    return reload_signal_k(sig, sync >= 0 ? -1 : granted);
}

static struct k *status_table(struct control *c)
{
    size_t n = reload_nmounts(c->reload);
    struct k *mounts = k_vec(KT_SYM, (int64_t)n), *params = k_list((int64_t)n);
    bool ok = mounts && params;
    for (size_t i = 0; ok && i < n; i++) {
        const struct reload_signal *s = reload_signal_at(c->reload, i);
        struct k *d = reload_signal_k(s, -1);
        ok = d && !k_symv_set(mounts, (int64_t)i, s->mount->name);
        if (d) k_list_set(params, (int64_t)i, d);
    }
    const char *names[] = {"mount", "params"};
    struct k *cols = ok ? k_list(2) : NULL, *keys = ok ? k_symv(names, 2) : NULL;
    if (!cols || !keys) {
        k_free(mounts);
        k_free(params);
        k_free(cols);
        k_free(keys);
        return NULL;
    }
    k_list_set(cols, 0, mounts);
    k_list_set(cols, 1, params);
    struct k *d = k_dict(keys, cols);
    return d ? k_table(d) : NULL;
}

static struct k *q_get_status(struct ipc_call *call, void *arg)
{
    (void)call;
    struct control *c = arg;
    if (!ctl_current(c)) return k_error("state");
    return status_table(c);
}

static struct k *q_reload_complete(struct ipc_call *call, void *arg)
{
    struct control *c = arg;
    const struct k *a = call->args;
    if (a->n != 1)
        return qerr("rank", ".sm.api.reloadComplete takes 1 argument, the signal's ts; got %lld", (long long)a->n);
    if (a->u.kk[0]->t != -KT_TIMESTAMP)
        return qerr("type", "ts must be the timestamp the reload signal carried, got %s",
                    arg_type(a->u.kk[0]));
    int64_t ts = k_unix_ns_from_ts(a->u.kk[0]->u.j);
    int n = reload_ack(c->reload, call->conn, ts);
    if (!n) log_debug("reload: acknowledgement from %s matches no pending signal", call->peer);
    api_arm(c);
    return k_null();
}

static void on_q_close(struct ipc_server *srv, uint64_t conn, void *arg)
{
    (void)srv;
    struct control *c = arg;
    reload_drop_conn(c->reload, conn);
    api_arm(c);
}

static void on_q_response(struct ipc_server *srv, uint64_t conn, const struct k *x, void *arg)
{
    (void)srv;
    struct control *c = arg;
    if (x->t == KT_ERROR) log_warn("reload: a sync callback answered with an error: '%s", x->u.s ? x->u.s : "");
    if (!reload_ack_sync(c->reload, conn)) log_debug("reload: unexpected response on connection %llu", (unsigned long long)conn);
    api_arm(c);
}

static void q_log(void *arg, enum ipc_log_level level, const char *msg)
{
    (void)arg;
    log_msg(level == IPC_LOG_ERROR ? LOG_ERR_ : level == IPC_LOG_WARN ? LOG_WARN_ : LOG_INFO_, "q ipc: %s", msg);
}

/* ---- HTTP -------------------------------------------------------------------------------- */

static void reply_json(struct http_resp *r, int status, json_t *j)
{
    r->status = status;
    r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    r->len = r->body ? strlen(r->body) : 0;
    if (j && !r->body) r->status = 500;
    json_decref(j);
}

static void reply_error(struct http_resp *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply_error(struct http_resp *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_scrub(msg);   /* a path libmicrohttpd unescaped ("%cb") must not empty the answer */
    reply_json(r, status, json_pack("{s:s}", "error", msg));
}

static void rest_register(struct control *c, const struct http_req *q, struct http_resp *r)
{
    json_error_t je;
    json_t *b = json_loadb(q->body, q->len, JSON_REJECT_DUPLICATES, &je);
    if (!b) {
        reply_error(r, 400, "body is not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return;
    }
    const char *mount = json_string_value(json_object_get(b, "mount"));
    const char *cb = json_string_value(json_object_get(b, "callback"));
    if (!json_is_object(b) || !mount || !cb) {
        json_decref(b);
        reply_error(r, 400, "body must be {\"mount\": \"<mount name>\", \"callback\": \"http://host:port/path\"}");
        return;
    }
    if (strncmp(cb, "http://", 7) && strncmp(cb, "https://", 8)) {
        reply_error(r, 400, "callback '%.200s' is not an http:// or https:// URL", cb);
        json_decref(b);
        return;
    }
    struct reload_reg reg = {.kind = RELOAD_REST, .mount = mount, .callback = cb, .peer = q->peer, .user = ""};
    const struct reload_signal *sig;
    int64_t granted;
    struct smfs_err e = {0};
    int rc = reload_register(c->reload, &reg, ctl_now_rt(), &sig, &granted, &e);
    if (rc == -ENOENT) reply_error(r, 404, "unknown mount '%.200s'", mount);
    else if (rc == -EAGAIN) reply_error(r, 503, "not ready: the store has no version to serve yet");
    else if (rc == -EUSERS) reply_error(r, 429, "%s", e.msg);
    else if (rc) reply_error(r, 500, "%s", e.msg);
    else {
        log_info("reload: %s registered callback %s for mount %s", q->peer, cb, mount);
        reply_json(r, 200, reload_signal_json(sig, -1));
    }
    json_decref(b);
}

static json_t *status_array(struct control *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < reload_nmounts(c->reload); i++) {
        const struct reload_signal *s = reload_signal_at(c->reload, i);
        json_array_append_new(a, json_pack("{s:s,s:o}", "mount", s->mount->name, "params",
                                           reload_signal_json(s, -1)));
    }
    return a;
}

static void on_http(void *arg, const struct http_req *q, struct http_resp *r)
{
    struct control *c = arg;
    bool get = !strcmp(q->method, "GET") || !strcmp(q->method, "HEAD");
    bool post = !strcmp(q->method, "POST");
    const char *p = q->path;
    if (!strcmp(p, "/register")) {
        if (post) rest_register(c, q, r);
        else reply_error(r, 405, "%s /register: use POST", q->method);
    } else if (!strcmp(p, "/status")) {
        if (!get) reply_error(r, 405, "%s /status: use GET", q->method);
        else if (!ctl_current(c)) reply_error(r, 503, "not ready: the store has no version to serve yet");
        else reply_json(r, 200, status_array(c));
    } else if (!strcmp(p, "/healthz")) {
        /* Alive is all /healthz says; lagging readers are worth a line (kdb Insights'
         * own health message), not a failure. */
        struct reload_stats rs;
        reload_stats(c->reload, &rs);
        char why[ERR_MSG_MAX];
        bool broken = store_broken(c->o.store, why, sizeof why);
        json_t *j = json_pack("{s:s,s:I}", "status", broken ? "degraded" : "ok", "pending_acks", (json_int_t)rs.pending);
        /* A tier filling up is said here before it is full, while writes still succeed. */
        json_t *warn = json_array();
        json_decref(ctl_tiers_json(c, warn));
        if (j && json_array_size(warn)) json_object_set(j, "warnings", warn);
        json_decref(warn);
        if (j && broken) {
            /* Reads go on; writes wait until the log is cut back (retried every few
             * seconds, and by the next write). */
            char m[ERR_MSG_MAX + 100];
            snprintf(m, sizeof m, "the store cannot write until it recovers from: %s", why);
            json_object_set_new(j, "message", json_string(m));
        } else if (j && rs.pending) {
            char m[128];
            snprintf(m, sizeof m, "Storage is lagging, waiting on %llu pending reload signals",
                     (unsigned long long)rs.pending);
            json_object_set_new(j, "message", json_string(m));
        }
        reply_json(r, 200, j);
    } else if (!strcmp(p, "/eod")) {
        /* Manual end of day (Insights' EOD trigger): 202, then GET /eod for its state
         * (pending, queued, processing, completed, failed). */
        if (get) {
            reply_json(r, 200, ctl_eod_json(c));
        } else if (!post) {
            reply_error(r, 405, "%s /eod: POST starts an end of day, GET shows it", q->method);
        } else {
            json_error_t je;
            json_t *body = q->len ? json_loadb(q->body, q->len, 0, &je) : json_object();
            const char *d = json_string_value(json_object_get(body, "date"));
            char busy[16];
            int32_t day;
            if (!json_is_object(body)) reply_error(r, 400, "POST /eod: the body is not a JSON object");
            else if (json_object_get(body, "date") && (!d || !k_parse_date(d, &day)))
                reply_error(r, 400, "POST /eod: \"date\" must be YYYY.MM.DD");
            else if (!c->stream) reply_error(r, 409, "the stream is off (%s): there are no rows to write", c->stream_off);
            else if (ctl_eod_busy(c, busy, sizeof busy))
                reply_error(r, 409, "an end of day is already in progress (%s): GET /eod shows it", busy);
            else {
                ctl_eod_manual(c, 0, body);
                reply_json(r, 202, json_pack("{s:s}", "state", "pending"));
            }
            json_decref(body);
        }
    } else if (!strcmp(p, "/migrate")) {
        /* Tier migration now (it also runs after every end of day): 202, then GET
         * /migrate for the last run. Always by the wall clock. */
        if (get) {
            json_t *m = ctl_migrate_json(c);
            json_object_set_new(m, "tiers", ctl_tiers_json(c, NULL));
            reply_json(r, 200, m);
        } else if (!post) {
            reply_error(r, 405, "%s /migrate: POST starts a migration, GET shows the last", q->method);
        } else {
            json_error_t je;
            json_t *body = q->len ? json_loadb(q->body, q->len, 0, &je) : json_object();
            if (!json_is_object(body)) reply_error(r, 400, "POST /migrate: the body is not a JSON object");
            else if (json_object_get(body, "now_ns"))
                reply_error(r, 403, "POST /migrate: \"now_ns\" may only be set over the admin socket");
            else {
                ctl_migrate_queue(c, 0, body);
                reply_json(r, 202, json_pack("{s:s}", "state", "queued"));
            }
            json_decref(body);
        }
    } else if (!strcmp(p, "/readyz")) {
        uint64_t cur = ctl_current(c);
        char why[ERR_MSG_MAX];
        if (store_broken(c->o.store, why, sizeof why))
            reply_error(r, 503, "not ready: the store cannot write until it recovers from: %s", why);
        else if (cur) reply_json(r, 200, json_pack("{s:b,s:I}", "ready", 1, "version", (json_int_t)cur));
        else reply_error(r, 503, "not ready: the store has no version to serve yet");
    } else if (!strcmp(p, "/metrics")) {
        if (!get) {
            reply_error(r, 405, "%s /metrics: use GET", q->method);
            return;
        }
        r->body = metrics_text(c, &r->len);
        r->status = r->body ? 200 : 500;
        r->ctype = "text/plain; version=0.0.4; charset=utf-8";
    } else {
        reply_error(r, 404, "no endpoint %.200s (there are POST /register, GET /status, /healthz, /readyz, /metrics, POST|GET /eod, /migrate)", p);
    }
}

/* ---- listings for the admin socket --------------------------------------------------------- */

static const char *kind_name(enum reload_kind k)
{
    return k == RELOAD_REST ? "rest" : k == RELOAD_Q_SYNC ? "qipc-sync" : "qipc";
}

json_t *api_clients_json(struct control *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < reload_nclients(c->reload); i++) {
        struct reload_client *cl = reload_client_at(c->reload, i);
        if (cl->dead) continue;
        /* A q client's callback symbol and login are whatever bytes it sent. */
        json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
            "id", (json_int_t)cl->id, "transport", kind_name(cl->kind), "mount", cl->mount->name,
            "callback", admin_str(cl->callback), "peer", admin_str(cl->peer), "user", admin_str(cl->user),
            "timeout_ns", (json_int_t)cl->timeout_ns, "registered_ns", (json_int_t)cl->registered_rt,
            "sent", (json_int_t)cl->sent, "acked", (json_int_t)cl->acked,
            "timeouts", (json_int_t)cl->timeouts, "pending", (json_int_t)cl->npend,
            "last_ack_ts_ns", (json_int_t)(cl->last_ack_ts == KNULL_J ? 0 : cl->last_ack_ts)));
    }
    return json_pack("{s:b,s:o}", "ok", 1, "clients", a);
}

json_t *api_status_json(struct control *c)
{
    struct control_view_stats vs = {0};
    c->o.hooks.stats(c->o.hooks.arg, &vs);
    struct reload_stats rs;
    reload_stats(c->reload, &rs);
    json_t *r = json_pack("{s:b,s:i,s:s,s:s,s:s,s:I,s:I,s:{s:I,s:I,s:I}}", "ok", 1,
                          "pid", (int)getpid(), "mode", c->o.hooks.mode,
                          "mountpoint", c->o.mountpoint, "store", store_home(c->o.store),
                          "current", (json_int_t)vs.current,
                          "uptime_s", (json_int_t)((ctl_now_rt() - c->started_ns) / 1000000000),
                          "view", "inodes", (json_int_t)vs.inodes, "versions",
                          (json_int_t)vs.versions, "versions_pinned", (json_int_t)vs.pinned);
    if (!r) return NULL;
    json_object_set_new(r, "api", json_pack("{s:i,s:s?,s:i,s:b,s:i,s:I}",
        "q_port", control_q_port(c), "q_unix", c->o.q_unix, "http_port", control_http_port(c),
        "auto_vacuum", c->o.auto_vacuum, "keep_versions", (int)c->o.keep_versions,
        "reload_timeout_ns", (json_int_t)c->reload_timeout_ns));
    json_object_set_new(r, "reload", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "clients_qipc", (json_int_t)rs.clients_q, "clients_rest", (json_int_t)rs.clients_rest,
        "pending_acks", (json_int_t)rs.pending, "versions_held", (json_int_t)rs.held,
        "signals", (json_int_t)rs.signals, "acks", (json_int_t)rs.acks,
        "timeouts", (json_int_t)rs.timeouts, "commits", (json_int_t)c->n.commits));
    char why[ERR_MSG_MAX];
    if (store_broken(c->o.store, why, sizeof why)) json_object_set_new(r, "store_error", admin_str(why));
    pthread_mutex_lock(&c->mu);
    struct job_state js = c->job;
    pthread_mutex_unlock(&c->mu);
    /* "current" is a file name, cut at 64 bytes: admin_str keeps it valid JSON whatever its bytes. */
    if (js.running)
        json_object_set_new(r, "job", json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:f}", "cmd", js.cmd,
            "phase", js.phase, "current", admin_str(js.current),
            "done", (json_int_t)js.done, "total", (json_int_t)js.total,
            "bytes_done", (json_int_t)js.bytes_done, "bytes_total", (json_int_t)js.bytes_total,
            "elapsed_s", (ctl_now_rt() - js.started_ns) / 1e9));
    if (c->q) {
        struct ipc_stats is;
        ipc_server_stats(c->q, &is);
        json_object_set_new(r, "ipc", json_pack("{s:I,s:I,s:I,s:I,s:I}", "connections", (json_int_t)is.conns,
            "accepted", (json_int_t)is.accepted, "dropped", (json_int_t)is.dropped,
            "refused", (json_int_t)(is.refused_login + is.refused_full + is.refused_addr + is.refused_fds),
            "error_replies", (json_int_t)is.errors));
    }
    json_object_set_new(r, "eod", ctl_eod_json(c));
    json_object_set_new(r, "tiers", ctl_tiers_json(c, NULL));
    json_object_set_new(r, "migrate", ctl_migrate_json(c));
    json_object_set_new(r, "stream", c->stream ? stream_status_json(c->stream)
                                               : json_pack("{s:s,s:s}", "state", "off", "why", c->stream_off));
    if (vs.fuse) {
        const struct control_view_stats ms = vs;
        json_object_set_new(r, "fuse", json_pack("{s:b,s:b,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
            "passthrough", ms.passthrough, "passthrough_offered", ms.passthrough_offered,
            "readahead_kb", (int)ms.readahead_kb,
            "lookups", (json_int_t)ms.lookups, "getattrs", (json_int_t)ms.getattrs,
            "readdirs", (json_int_t)ms.readdirs, "opens", (json_int_t)ms.opens,
            "passthrough_opens", (json_int_t)ms.pt_opens, "reads", (json_int_t)ms.reads,
            "read_bytes", (json_int_t)ms.read_bytes, "releases", (json_int_t)ms.releases,
            "erofs", (json_int_t)ms.erofs));
        json_object_set_new(json_object_get(r, "fuse"), "fds_open", json_integer((json_int_t)ms.fds_open));
        json_object_set_new(json_object_get(r, "fuse"), "fds_max", json_integer((json_int_t)ms.fds_max));
        json_object_set_new(json_object_get(r, "fuse"), "backings", json_integer((json_int_t)ms.backings));
        json_object_set_new(json_object_get(r, "fuse"), "backings_kept",
                            json_integer((json_int_t)ms.backings_kept));
    }
    return r;
}

/* ---- start and stop ------------------------------------------------------------------------- */

/* The current version's signals, ts = when it was committed. */
static int initial_signals(struct control *c, struct smfs_err *err)
{
    uint64_t cur = ctl_current(c);
    if (!cur) return 0;   /* nothing to serve yet: register answers 'state */
    struct store_snap *snap;
    int rc = store_snap_get(c->o.store, cur, &snap, err);
    if (rc) return rc;
    int64_t ts = ctl_now_rt();
    struct store_version *v = NULL;
    size_t n = 0;
    struct smfs_err e = {0};
    if (!store_versions(c->o.store, &v, &n, &e)) {
        for (size_t i = 0; i < n; i++)
            if (v[i].version == cur) ts = v[i].time_ns;
        store_versions_free(v, n);
    }
    struct reload_signal *sigs = NULL;
    size_t ns = 0;
    rc = ctl_signals(c, snap, ts, NULL, NULL, &sigs, &ns, err);
    store_snap_put(snap);
    if (rc) return rc;
    reload_set_signals(c->reload, sigs, ns);
    free(sigs);
    return 0;
}

int api_start(struct control *c, struct smfs_err *err)
{
    const struct control_opts *o = &c->o;
    struct reload_ops ops = {.send = on_send, .released = on_released, .arg = c};
    int rc = reload_new(o->cfg, c->reload_timeout_ns, &ops, &c->reload, err);
    if (!rc) reload_set_limits(c->reload, CTL_MAX_REG_PER_MOUNT, CTL_MAX_REG_PER_ADDR);
    if (!rc) rc = initial_signals(c, err);
    if (!rc && (o->q_port >= 0 || o->q_unix)) {
        struct ipc_server_opts qo = {
            .host = o->q_host ? o->q_host : "0.0.0.0",
            .port = o->q_port,
            .unix_path = o->q_unix,
            .unix_mode = (mode_t)o->q_unix_mode,
            .unix_chgrp = o->q_unix_chgrp,
            .unix_gid = (gid_t)o->q_unix_gid,
            .user_file = o->q_users,
            .log = q_log,
            .log_arg = c,
        };
        rc = ipc_server_new(c->loop, &qo, &c->q, err);
        if (!rc) rc = ipc_server_handle(c->q, ".sm.api.register", q_register, c);
        if (!rc) rc = ipc_server_handle(c->q, ".sm.api.getStatus", q_get_status, c);
        if (!rc) rc = ipc_server_handle(c->q, ".sm.api.reloadComplete", q_reload_complete, c);
        if (rc && !err->code) rc = err_set(err, rc, "q IPC: out of memory");
        if (!rc) {
            ipc_server_on_close(c->q, on_q_close, c);
            ipc_server_on_response(c->q, on_q_response, c);
            if (o->q_port >= 0) log_info("q IPC on %s:%d", qo.host, ipc_server_port(c->q));
            if (o->q_unix) log_info("q IPC on unix socket %s", o->q_unix);
        }
    }
    if (!rc && o->http_port >= 0) {
        struct http_opts ho = {.host = o->http_host, .port = o->http_port};
        rc = http_new(c->loop, &ho, on_http, c, &c->http, err);
        if (!rc) log_info("REST on http://%s:%d", o->http_host ? o->http_host : "127.0.0.1", http_port(c->http));
    }
    if (!rc) {
        struct http_post_opts po = {.timeout_ms = o->callback_timeout_ms, .tries = o->callback_tries};
        rc = http_post_new(c->loop, &po, on_posted, c, &c->post, err);
    }
    return rc;
}

void api_stop(struct control *c)
{
    /* The IPC server calls on_q_close for each connection as it goes: the registry
     * must still exist then. */
    ipc_server_free(c->q);
    c->q = NULL;
    if (c->ack_timer) ev_timer_del(c->loop, c->ack_timer);
    c->ack_timer = 0;
    http_free(c->http);
    c->http = NULL;
    http_post_free(c->post);
    c->post = NULL;
    reload_free(c->reload);
    c->reload = NULL;
}
