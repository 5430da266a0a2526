/* control/reload.c: see reload.h. */
#include "control/reload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/k_fmt.h"
#include "core/log.h"

/* A previous version some registrant may still be reading. */
struct reload_gen {
    struct store_snap *snap;
    uint64_t           version;
    uint64_t           next_version;   /* the version whose signal is waited for */
    uint32_t           waiting;     /* pending acknowledgements that point here */
    struct reload_gen *next;
};

struct reload_pending {
    struct reload_gen *gen;
    int64_t            ts;          /* the signal's ts, what the ack echoes */
    int64_t            deadline;    /* monotonic ns */
};

struct reload {
    const struct cfg     *cfg;
    int64_t               max_timeout;
    struct reload_ops     ops;
    struct reload_signal *sigs;     /* one per cfg mount */
    size_t                nsigs;
    bool                  ready;
    struct reload_client **cl;
    size_t                ncl, capcl;
    uint64_t              next_id;
    struct reload_gen    *gens;
    int                   iterating;   /* a fan-out is walking cl: drops only mark */
    struct reload_stats   st;
    size_t                max_per_mount, max_per_addr;   /* 0: none */
};

void reload_set_limits(struct reload *r, size_t per_mount, size_t per_addr)
{
    r->max_per_mount = per_mount;
    r->max_per_addr = per_addr;
}

/* The address of a peer "host:port" (or "unix", a uid): registrations are counted per
 * host, whatever port each connection came from. */
static size_t addr_len(const char *peer)
{
    const char *colon = strrchr(peer, ':');
    return colon ? (size_t)(colon - peer) : strlen(peer);
}

int reload_new(const struct cfg *cfg, int64_t max_timeout_ns, const struct reload_ops *ops,
               struct reload **out, struct smfs_err *err)
{
    struct reload *r = calloc(1, sizeof *r);
    if (r) r->sigs = calloc(cfg->nmounts ? cfg->nmounts : 1, sizeof *r->sigs);
    if (!r || !r->sigs) {
        free(r);
        return err_set(err, -ENOMEM, "reload registry: out of memory");
    }
    r->cfg = cfg;
    r->max_timeout = max_timeout_ns;
    r->ops = *ops;
    r->nsigs = cfg->nmounts;
    r->next_id = 1;
    for (size_t i = 0; i < r->nsigs; i++) {
        struct reload_signal *s = &r->sigs[i];
        s->mount = &cfg->mounts[i];
        s->ts = s->min_ts = s->max_ts = s->start_ts = s->end_ts = s->pos = KNULL_J;
    }
    *out = r;
    return 0;
}

static void gen_release(struct reload *r, struct reload_gen *g)
{
    if (--g->waiting) return;
    for (struct reload_gen **pp = &r->gens; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    uint64_t v = g->version;
    store_snap_put(g->snap);
    free(g);
    r->st.held--;
    if (r->ops.released) r->ops.released(r->ops.arg, v);
}

/* Resolve pending item I of C (an ack, a timeout or a drop). */
static void pend_resolve(struct reload *r, struct reload_client *c, size_t i)
{
    struct reload_gen *g = c->pend[i].gen;
    memmove(&c->pend[i], &c->pend[i + 1], (c->npend - i - 1) * sizeof *c->pend);
    c->npend--;
    r->st.pending--;
    gen_release(r, g);
}

static void client_free(struct reload_client *c)
{
    free(c->callback);
    free(c->pend);
    free(c);
}

/* Remove dead clients from the array (not while a fan-out walks it). */
static void compact(struct reload *r)
{
    if (r->iterating) return;
    size_t w = 0;
    for (size_t i = 0; i < r->ncl; i++) {
        if (r->cl[i]->dead) client_free(r->cl[i]);
        else r->cl[w++] = r->cl[i];
    }
    r->ncl = w;
}

static void client_drop(struct reload *r, struct reload_client *c, const char *why)
{
    if (c->dead) return;
    c->dead = true;
    if (c->kind == RELOAD_REST) r->st.clients_rest--;
    else r->st.clients_q--;
    if (c->npend)
        log_info("reload: registration %llu (%s, mount %s) dropped (%s): %zu acknowledgement(s) "
                 "no longer awaited", (unsigned long long)c->id, c->peer, c->mount->name, why, c->npend);
    while (c->npend) pend_resolve(r, c, c->npend - 1);
}

void reload_free(struct reload *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->ncl; i++) client_free(r->cl[i]);
    free(r->cl);
    while (r->gens) {
        struct reload_gen *g = r->gens;
        r->gens = g->next;
        store_snap_put(g->snap);
        free(g);
    }
    free(r->sigs);
    free(r);
}

static struct reload_signal *sig_find(const struct reload *r, const char *mount)
{
    for (size_t i = 0; i < r->nsigs; i++)
        if (!strcmp(r->sigs[i].mount->name, mount)) return &r->sigs[i];
    return NULL;
}

void reload_set_signals(struct reload *r, const struct reload_signal *sigs, size_t n)
{
    for (size_t i = 0; i < n && i < r->nsigs; i++) {
        r->sigs[i] = sigs[i];
        r->sigs[i].changed = false;
    }
    r->ready = n > 0 && sigs[0].version > 0;
}

size_t reload_nmounts(const struct reload *r)
{
    return r->nsigs;
}

const struct reload_signal *reload_signal_at(const struct reload *r, size_t i)
{
    return i < r->nsigs ? &r->sigs[i] : NULL;
}

int reload_register(struct reload *r, const struct reload_reg *reg, int64_t now_rt,
                    const struct reload_signal **sig, int64_t *granted, struct smfs_err *err)
{
    struct reload_signal *s = sig_find(r, reg->mount);
    if (!s) return err_set(err, -ENOENT, "mount: '%s' is not a mount of the assembly", reg->mount);
    if (!r->ready) return err_set(err, -EAGAIN, "state: the store has no version to serve yet");
    int64_t t = reg->kind == RELOAD_REST ? 0 : reg->timeout_ns;
    if (reg->kind == RELOAD_Q_SYNC) t = r->max_timeout;
    if (t < 0 || t == KNULL_J) t = 0;
    if (t > r->max_timeout) t = r->max_timeout;

    struct reload_client *c = NULL;
    for (size_t i = 0; i < r->ncl && !c; i++) {
        struct reload_client *x = r->cl[i];
        if (x->dead || x->mount != s->mount) continue;
        if (reg->kind == RELOAD_REST ? x->kind == RELOAD_REST && !strcmp(x->callback, reg->callback)
                                     : x->kind != RELOAD_REST && x->conn == reg->conn)
            c = x;
    }
    if (!c && (r->max_per_mount || r->max_per_addr)) {
        /* A bound on what registrations may cost: 20,000 callbacks that never answer
         * would otherwise make every commit's fan-out that long and that big. */
        const char *peer = reg->peer ? reg->peer : "";
        size_t pl = addr_len(peer), on_mount = 0, from = 0;
        for (size_t i = 0; i < r->ncl; i++) {
            const struct reload_client *x = r->cl[i];
            if (x->dead) continue;
            on_mount += x->mount == s->mount;
            from += addr_len(x->peer) == pl && !strncmp(x->peer, peer, pl);
        }
        if (r->max_per_mount && on_mount >= r->max_per_mount) {
            r->st.refused++;
            return err_set(err, -EUSERS, "limit: mount '%s' has %zu registrations, the most it takes",
                           reg->mount, on_mount);
        }
        if (r->max_per_addr && from >= r->max_per_addr) {
            r->st.refused++;
            return err_set(err, -EUSERS, "limit: %.*s has %zu registrations, the most one address may hold",
                           (int)pl, peer, from);
        }
    }
    char *cb = strdup(reg->callback);
    if (!cb) return err_set(err, -ENOMEM, "out of memory");
    if (!c) {
        if (r->ncl == r->capcl) {
            size_t cap = r->capcl ? 2 * r->capcl : 16;
            struct reload_client **n = realloc(r->cl, cap * sizeof *n);
            if (!n) {
                free(cb);
                return err_set(err, -ENOMEM, "out of memory");
            }
            r->cl = n;
            r->capcl = cap;
        }
        if (!(c = calloc(1, sizeof *c))) {
            free(cb);
            return err_set(err, -ENOMEM, "out of memory");
        }
        c->id = r->next_id++;
        c->mount = s->mount;
        c->last_ack_ts = KNULL_J;
        c->registered_rt = now_rt;
        r->cl[r->ncl++] = c;
        if (reg->kind == RELOAD_REST) r->st.clients_rest++;
        else r->st.clients_q++;
    } else if ((c->kind == RELOAD_REST) != (reg->kind == RELOAD_REST)) {
        free(cb);
        return err_set(err, -EINVAL, "registration kinds cannot change");
    }
    /* A re-registration keeps its pending acknowledgements: the client may still be
     * reading the version they hold. */
    free(c->callback);
    c->callback = cb;
    c->kind = reg->kind;
    c->conn = reg->conn;
    c->timeout_ns = t;
    snprintf(c->peer, sizeof c->peer, "%s", reg->peer ? reg->peer : "");
    snprintf(c->user, sizeof c->user, "%s", reg->user ? reg->user : "");
    *sig = s;
    *granted = t;
    return 0;
}

static bool same_purview(const struct reload_signal *a, const struct reload_signal *b)
{
    return a->min_ts == b->min_ts && a->max_ts == b->max_ts && a->start_ts == b->start_ts &&
           a->end_ts == b->end_ts && a->pos == b->pos;
}

static int pend_add(struct reload_client *c, struct reload_gen *g, int64_t ts, int64_t deadline)
{
    if (c->npend == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4;
        struct reload_pending *n = realloc(c->pend, cap * sizeof *n);
        if (!n) return -ENOMEM;
        c->pend = n;
        c->cap = cap;
    }
    c->pend[c->npend++] = (struct reload_pending){.gen = g, .ts = ts, .deadline = deadline};
    return 0;
}

uint64_t reload_commit(struct reload *r, const struct reload_signal *sigs, size_t n,
                       struct store_snap *old, int64_t now)
{
    bool affected[64] = {0};
    uint64_t mask = 0;
    size_t nm = n < r->nsigs ? n : r->nsigs;
    if (nm > 64) nm = 64;   /* an assembly has a handful of mounts; cfg caps them too */
    for (size_t i = 0; i < nm; i++) {
        affected[i] = sigs[i].changed || !same_purview(&sigs[i], &r->sigs[i]);
        if (affected[i]) mask |= UINT64_C(1) << i;
        if (affected[i]) {
            r->sigs[i] = sigs[i];
            r->sigs[i].changed = false;
        } else {
            r->sigs[i].version = sigs[i].version;   /* same purview, same ts: nothing to say */
        }
    }
    r->ready = nm > 0 && sigs[0].version > 0;

    /* The generation exists before any send, so a client that acks (or drops) while
     * the fan-out still runs finds it; one extra wait keeps it until the end. */
    struct reload_gen *g = NULL;
    if (old) {
        g = calloc(1, sizeof *g);
        if (!g) {
            log_err("reload: out of memory: version %llu is not held for acknowledgements",
                    (unsigned long long)store_snap_version(old));
            store_snap_put(old);
        } else {
            g->snap = old;
            g->version = store_snap_version(old);
            g->waiting = 1;
            g->next_version = nm ? sigs[0].version : 0;
            g->next = r->gens;
            r->gens = g;
            r->st.held++;
        }
    }
    r->iterating++;
    /* The HDB's registrants first, then the IDB's, then the stream's: a query process
     * that purges rows on its signal must find them already where the others look. */
    for (int pass = 0; pass < 3; pass++)
    for (size_t i = 0; i < r->ncl; i++) {
        struct reload_client *c = r->cl[i];
        size_t mi = (size_t)(c->mount - r->cfg->mounts);
        if (c->dead || mi >= nm || !affected[mi]) continue;
        int order = c->mount->type == CFG_MOUNT_STREAM ? 2 : c->mount->partition == CFG_PART_ORDINAL ? 1 : 0;
        if (order != pass) continue;
        const struct reload_signal *s = &r->sigs[mi];
        if (r->ops.send(r->ops.arg, c, s)) {
            client_drop(r, c, "could not send the reload signal");
            continue;
        }
        c->sent++;
        r->st.signals++;
        if (g && c->timeout_ns > 0 && c->kind != RELOAD_REST) {
            if (pend_add(c, g, s->ts, now + c->timeout_ns)) {
                log_err("reload: out of memory: registration %llu is not waited for",
                        (unsigned long long)c->id);
                continue;
            }
            g->waiting++;
            r->st.pending++;
        }
    }
    r->iterating--;
    if (g) gen_release(r, g);
    compact(r);
    return mask;
}

static struct reload_client *by_conn(struct reload *r, uint64_t conn, size_t *from)
{
    for (; *from < r->ncl; (*from)++) {
        struct reload_client *c = r->cl[*from];
        if (!c->dead && c->kind != RELOAD_REST && c->conn == conn) {
            (*from)++;
            return c;
        }
    }
    return NULL;
}

int reload_ack(struct reload *r, uint64_t conn, int64_t ts)
{
    /* Only a ts this connection was sent counts: anything else (a typo, a signal
     * from before a restart) must not release what others' signals hold. */
    bool known = false;
    size_t at = 0;
    for (struct reload_client *c; !known && (c = by_conn(r, conn, &at));)
        for (size_t i = 0; i < c->npend && !known; i++) known = c->pend[i].ts == ts;
    if (!known) {
        r->st.unmatched_acks++;
        return 0;
    }
    int done = 0;
    bool exact = false;
    at = 0;
    for (struct reload_client *c; (c = by_conn(r, conn, &at));) {
        bool hit = false;
        for (size_t i = 0; i < c->npend;) {
            if (c->pend[i].ts < ts || (c->pend[i].ts == ts && !exact)) {
                if (c->pend[i].ts == ts) exact = true;
                pend_resolve(r, c, i);
                done++;
                hit = true;
            } else {
                i++;
            }
        }
        if (hit) {
            c->acked++;
            c->last_ack_ts = ts;
        }
    }
    r->st.acks += (uint64_t)done;
    return done;
}

int reload_ack_sync(struct reload *r, uint64_t conn)
{
    size_t at = 0;
    for (struct reload_client *c; (c = by_conn(r, conn, &at));) {
        if (c->kind != RELOAD_Q_SYNC || !c->npend) continue;
        c->acked++;
        c->last_ack_ts = c->pend[0].ts;
        pend_resolve(r, c, 0);
        r->st.acks++;
        return 1;
    }
    return 0;
}

int64_t reload_tick(struct reload *r, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < r->ncl; i++) {
        struct reload_client *c = r->cl[i];
        for (size_t k = 0; k < c->npend;) {
            if (c->pend[k].deadline <= now) {
                log_warn("reload: %s (registration %llu, mount %s) did not acknowledge the signal "
                         "of version %llu within %.3f s: version %llu is no longer held for it",
                         c->peer, (unsigned long long)c->id, c->mount->name,
                         (unsigned long long)c->pend[k].gen->next_version, c->timeout_ns / 1e9,
                         (unsigned long long)c->pend[k].gen->version);
                c->timeouts++;
                r->st.timeouts++;
                pend_resolve(r, c, k);
            } else {
                if (c->pend[k].deadline < next) next = c->pend[k].deadline;
                k++;
            }
        }
    }
    return next;
}

void reload_drop_conn(struct reload *r, uint64_t conn)
{
    size_t at = 0;
    for (struct reload_client *c; (c = by_conn(r, conn, &at));) client_drop(r, c, "connection closed");
    compact(r);
}

void reload_drop(struct reload *r, uint64_t id, const char *why)
{
    for (size_t i = 0; i < r->ncl; i++)
        if (r->cl[i]->id == id) client_drop(r, r->cl[i], why);
    compact(r);
}

size_t reload_nclients(const struct reload *r)
{
    return r->ncl;
}

struct reload_client *reload_client_at(struct reload *r, size_t i)
{
    return i < r->ncl ? r->cl[i] : NULL;
}

void reload_stats(const struct reload *r, struct reload_stats *st)
{
    *st = r->st;
}

/* ---- encodings -------------------------------------------------------------------- */

static bool is_stream(const struct reload_signal *s)
{
    return s->mount->type == CFG_MOUNT_STREAM;
}

struct k *reload_signal_k(const struct reload_signal *s, int64_t timeout_ns)
{
    const char *date_keys[] = {"ts", "minTS", "maxTS", "timeout"};
    const char *stream_keys[] = {"ts", "minTS", "startTS", "endTS", "pos", "timeout"};
    bool stream = is_stream(s);
    int64_t nk = (stream ? 5 : 3) + (timeout_ns >= 0);
    struct k *keys = k_symv(stream ? stream_keys : date_keys, nk);
    if (!keys) return NULL;
    if (!stream && timeout_ns < 0) {
        /* All timestamps: q collapses them into one timestamp vector. */
        struct k *v = k_vec(KT_TIMESTAMP, 3);
        if (!v) {
            k_free(keys);
            return NULL;
        }
        int64_t *p = v->u.v;
        p[0] = k_ts_from_unix_ns(s->ts);
        p[1] = k_ts_from_unix_ns(s->min_ts);
        p[2] = k_ts_from_unix_ns(s->max_ts);
        return k_dict(keys, v);
    }
    struct k *vals = k_list(nk);
    if (!vals) {
        k_free(keys);
        return NULL;
    }
    int64_t i = 0;
    bool ok = true;
    struct k *x;
#define PUT(expr) do { x = (expr); ok = ok && x; k_list_set(vals, i++, x); } while (0)
    PUT(k_timestamp(k_ts_from_unix_ns(s->ts)));
    PUT(k_timestamp(k_ts_from_unix_ns(s->min_ts)));
    if (stream) {
        PUT(k_timestamp(k_ts_from_unix_ns(s->start_ts)));
        PUT(k_timestamp(k_ts_from_unix_ns(s->end_ts)));
        PUT(k_long(s->pos));
    } else {
        PUT(k_timestamp(k_ts_from_unix_ns(s->max_ts)));
    }
    if (timeout_ns >= 0) PUT(k_timespan(timeout_ns));
#undef PUT
    if (!ok) {
        k_free(keys);
        k_free(vals);
        return NULL;
    }
    return k_dict(keys, vals);
}

/* A timestamp or timespan atom as q prints it. */
static json_t *q_json(struct k *a)
{
    struct buf b;
    buf_init(&b, 64);
    json_t *j = NULL;
    if (a && !k_fmt_item(a, 0, &b) && !buf_put_u8(&b, 0)) j = json_string((const char *)b.p);
    k_free(a);
    buf_release(&b);
    return j;
}

static json_t *ts_json(int64_t unix_ns)
{
    return unix_ns == KNULL_J ? json_null() : q_json(k_timestamp(k_ts_from_unix_ns(unix_ns)));
}

json_t *reload_signal_json(const struct reload_signal *s, int64_t timeout_ns)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "ts", ts_json(s->ts));
    json_object_set_new(o, "minTS", ts_json(s->min_ts));
    if (is_stream(s)) {
        json_object_set_new(o, "startTS", ts_json(s->start_ts));
        json_object_set_new(o, "endTS", ts_json(s->end_ts));
        json_object_set_new(o, "pos", s->pos == KNULL_J ? json_null() : json_integer(s->pos));
    } else {
        json_object_set_new(o, "maxTS", ts_json(s->max_ts));
    }
    if (timeout_ns >= 0) json_object_set_new(o, "timeout", q_json(k_timespan(timeout_ns)));
    return o;
}
