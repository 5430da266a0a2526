/* core/tiers_s3.c: partitions leaving for an object-storage tier (see tiers.h).
 *
 * The bucket holds a standard kdb+ partitioned layout, <prefix>/<date>/<table>/<col>,
 * which kdb+'s object-store support reads from the par.txt line s3://bucket/prefix; the
 * store names each object (size, checksum, STORE_F_REMOTE) under .smfs/s3/<tier>/<date>.
 *
 * Order, and the crash each step's place answers:
 *   1. <prefix>/.smfs-pending/<date> is written before the first object of that date:
 *      a run killed after it left objects no version names, and the marker says which
 *      date they belong to and that this store wrote them.
 *   2. the objects, each PUT with its MD5 and its ETag checked; an object a killed run
 *      already wrote with the same bytes (size and ETag) is adopted, not sent again.
 *   3. the date's listing: every object there with the size and ETag sent, anything
 *      else under the date (a killed run's leftovers) removed.
 *   4. the commit (tiers.c) names the objects; only then is the source partition
 *      gone from the version, and only after vacuum from the disk.
 *   5. the markers of committed dates are removed. A run killed before that finds
 *      them next time with the date committed and just removes them; one whose date
 *      was never committed removes the date's objects (or adopts them if the date is
 *      due again in that run). So no object stays in the bucket unnamed. */
#include "tiers_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "fault.h"
#include "k_fmt.h"
#include "s3.h"

#define PENDING ".smfs-pending/"
#define UP_THREADS_MAX 32

/* Objects go up several at a time, as aws does: against a remote S3 each PUT is a round
 * trip, and one at a time would make the latency the speed. The walk's thread reads,
 * checks and compresses each file and names it in the transaction; the pool's threads
 * (one S3 handle each) only send. At most 2 x threads files are in memory at once. */
struct upjob {
    char           key[2400];
    struct tier_bytes b;
    struct s3_obj  o;             /* key, size, the ETag S3 answered */
    int            rc;
    struct smfs_err err;
    struct upjob  *next;
};

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t  work, done;
    struct upjob   *q, *qtail;    /* waiting to be sent */
    struct upjob   *finished;     /* sent (or failed), for the walk's thread to collect */
    size_t          inflight;     /* queued, being sent, or finished and not collected */
    size_t          max;
    bool            stop, failed;
    size_t          nth;
    pthread_t       th[UP_THREADS_MAX];
    struct s3      *h[UP_THREADS_MAX];
};

struct obj_list {
    struct s3_obj *v;
    size_t         n, cap;
};

struct tiers_s3 {
    struct s3             *h;
    struct pool           *pool;          /* NULL: one at a time on h */
    const struct cfg_tier *t;
    char                   dir[300];      /* .smfs/s3/<tier> */
    char                   prefix[1100];  /* "" or "<prefix>/" */
    int32_t               *marked;        /* dates this run wrote a marker for */
    size_t                 nmarked;
    int32_t               *found;         /* markers a killed run left, for dates due now */
    size_t                 nfound;
};

/* ---- the pool of senders ------------------------------------------------------------- */

struct worker_arg {
    struct pool *p;
    size_t       i;
};

static void *sender(void *arg)
{
    struct pool *p = ((struct worker_arg *)arg)->p;
    size_t i = ((struct worker_arg *)arg)->i;
    free(arg);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->q && !p->stop) pthread_cond_wait(&p->work, &p->mu);
        if (!p->q) break;
        struct upjob *j = p->q;
        p->q = j->next;
        if (!p->q) p->qtail = NULL;
        bool skip = p->failed;   /* the run fails anyway: send no more */
        pthread_mutex_unlock(&p->mu);
        j->rc = skip ? err_set(&j->err, -ECANCELED, "not sent: another object failed")
                     : s3_put(p->h[i], j->key, j->b.p, j->b.len, j->o.etag, &j->err);
        pthread_mutex_lock(&p->mu);
        if (j->rc) p->failed = true;
        j->next = p->finished;
        p->finished = j;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_free(struct pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nth; i++) pthread_join(p->th[i], NULL);
    for (size_t i = 0; i < UP_THREADS_MAX; i++) s3_close(p->h[i]);
    for (struct upjob *j = p->finished, *n; j; j = n) {
        n = j->next;
        tiers_bytes_release(&j->b);
        free(j);
    }
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* N senders, each with a handle of its own; NULL (one at a time) if any cannot start. */
static struct pool *pool_new(const struct s3_conf *conf, const char *bucket, size_t n)
{
    if (n < 2) return NULL;
    if (n > UP_THREADS_MAX) n = UP_THREADS_MAX;
    struct pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->max = 2 * n;
    struct smfs_err e;
    for (size_t i = 0; i < n; i++) {
        struct worker_arg *a = malloc(sizeof *a);
        if (!a || s3_open(conf, bucket, &p->h[i], &e)) {
            free(a);
            break;
        }
        *a = (struct worker_arg){p, i};
        if (pthread_create(&p->th[p->nth], NULL, sender, a)) {
            free(a);
            break;
        }
        p->nth++;
    }
    if (p->nth < n) {
        pool_free(p);
        return NULL;
    }
    return p;
}

int tiers_s3_dir(const struct cfg_tier *t, char *out, size_t n)
{
    int l = snprintf(out, n, ".smfs/s3/%s", t->name);
    return l < 0 || (size_t)l >= n ? -ENAMETOOLONG : 0;
}

bool tiers_in_object_tier(struct store_snap *snap, const struct cfg_tier *t, int32_t d)
{
    char dir[300], ds[11], path[320];
    if (t->segment || tiers_s3_dir(t, dir, sizeof dir)) return false;
    k_date_str(d, ds);
    snprintf(path, sizeof path, "%s/%s", dir, ds);
    struct store_entry e;
    struct smfs_err le;
    return store_lookup(snap, path, &e, &le) == 0;
}

static const char *bucket_url(const struct cfg_tier *t)
{
    return t->store.text;
}

/* ---- lists of objects ------------------------------------------------------------ */

static int collect(void *arg, const struct s3_obj *o)
{
    struct obj_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct s3_obj *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    struct s3_obj *d = &l->v[l->n];
    *d = *o;
    if (!(d->key = strdup(o->key))) return -ENOMEM;
    l->n++;
    return 0;
}

static void list_free(struct obj_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].key);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int list(struct tiers_s3 *x, const char *prefix, struct obj_list *l, struct smfs_err *err)
{
    memset(l, 0, sizeof *l);
    int rc = s3_list(x->h, prefix, collect, l, err);
    if (rc == -ENOMEM) rc = err_set(err, -ENOMEM, "out of memory listing s3://%s/%s", s3_bucket(x->h), prefix);
    if (rc) list_free(l);
    return rc;
}

static int stop_at_first(void *arg, const struct s3_obj *o)
{
    (void)o;
    *(bool *)arg = true;
    return 1;
}

static void date_prefix(const struct tiers_s3 *x, int32_t d, char *out, size_t n)
{
    char ds[11];
    k_date_str(d, ds);
    snprintf(out, n, "%s%s/", x->prefix, ds);
}

static void marker_key(const struct tiers_s3 *x, int32_t d, char *out, size_t n)
{
    char ds[11];
    k_date_str(d, ds);
    snprintf(out, n, "%s" PENDING "%s", x->prefix, ds);
}

/* Remove every object under PREFIX; *n counts them. */
static int remove_all(struct tiers_s3 *x, const char *prefix, uint64_t *n, struct smfs_err *err)
{
    struct obj_list l;
    int rc = list(x, prefix, &l, err);
    for (size_t i = 0; !rc && i < l.n; i++) {
        rc = s3_delete(x->h, l.v[i].key, err);
        if (!rc) (*n)++;
    }
    list_free(&l);
    return rc;
}

static bool has_date(const int32_t *v, size_t n, int32_t d)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == d) return true;
    return false;
}

static int add_date(int32_t **v, size_t *n, int32_t d)
{
    int32_t *p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p) return -ENOMEM;
    *v = p;
    p[(*n)++] = d;
    return 0;
}

/* ---- before the moves ------------------------------------------------------------- */

static bool remote_move(const struct run *r, const struct tier_move *m)
{
    return m->to < (int)r->cfg->ndate && tiers_store_index(r->cfg, (size_t)m->to) < 0;
}

static void hold_all(struct run *r, const char *why)
{
    for (size_t i = 0; i < r->sum->nmoves; i++) {
        struct tier_move *m = &r->sum->moves[i];
        if (!remote_move(r, m) || m->held) continue;
        char ds[11];
        k_date_str(m->date, ds);
        m->held = true;
        tiers_note(r, "%s: past the retention of tier %s, but tier %s (%s) cannot be written: %s; it stays in %s",
                   ds, tiers_name(r, m->from), tiers_name(r, m->to), bucket_url(r->cfg->date_tiers[m->to]), why,
                   tiers_name(r, m->from));
    }
}

/* The store's version names date D in the object tier. */
static bool committed(struct run *r, struct tiers_s3 *x, int32_t d)
{
    return tiers_in_object_tier(r->snap, x->t, d);
}

static void close_s3(struct run *r)
{
    struct tiers_s3 *x = r->s3;
    if (!x) return;
    pool_free(x->pool);
    s3_close(x->h);
    free(x->marked);
    free(x->found);
    free(x);
    r->s3 = NULL;
}

/* What a killed run left: markers of dates the store never committed. */
static int recover(struct run *r, struct tiers_s3 *x, struct smfs_err *err)
{
    char pre[1200];
    snprintf(pre, sizeof pre, "%s" PENDING, x->prefix);
    struct obj_list l;
    int rc = list(x, pre, &l, err);
    for (size_t i = 0; !rc && i < l.n; i++) {
        int32_t d;
        const char *name = l.v[i].key + strlen(pre);
        if (!k_parse_date(name, &d) || strlen(name) != 10) continue;   /* not ours */
        bool due = false;
        for (size_t j = 0; j < r->sum->nmoves; j++)
            if (remote_move(r, &r->sum->moves[j]) && r->sum->moves[j].date == d) due = true;
        if (committed(r, x, d)) {
            /* Killed after its commit: the objects are the version's; only the marker is left. */
            rc = s3_delete(x->h, l.v[i].key, err);
        } else if (due) {
            rc = add_date(&x->found, &x->nfound, d) ? err_set(err, -ENOMEM, "out of memory") : 0;
        } else {
            char dp[1200];
            date_prefix(x, d, dp, sizeof dp);
            uint64_t n = 0;
            rc = remove_all(x, dp, &n, err);
            if (!rc) rc = s3_delete(x->h, l.v[i].key, err);
            if (!rc) {
                r->sum->s3_removed += n;
                tiers_note(r, "%s: removed %" PRIu64 " objects under s3://%s/%s that an unfinished upload left",
                           name, n, s3_bucket(x->h), dp);
            }
        }
    }
    list_free(&l);
    return rc;
}

int tiers_s3_prepare(struct run *r, struct smfs_err *err)
{
    const struct cfg *c = r->cfg;
    /* The object tier is the last date tier, if any (config refuses one elsewhere). */
    const struct cfg_tier *t = c->ndate ? c->date_tiers[c->ndate - 1] : NULL;
    if (!t || t->segment || t->store.kind != CFG_URI_S3) return 0;
    bool moves = false;
    for (size_t i = 0; i < r->sum->nmoves; i++)
        if (remote_move(r, &r->sum->moves[i])) moves = true;
    struct s3_conf conf;
    struct smfs_err ce;
    if (r->o->s3) conf = *r->o->s3;
    else if (s3_conf_env(&conf, &ce)) {
        hold_all(r, ce.msg);
        return 0;
    }
    /* A plan asks nothing of the bucket. Without moves the bucket is still visited
     * (one listing) so that a marker a killed run left after its commit goes. */
    if (r->o->dry_run) return 0;
    struct tiers_s3 *x = calloc(1, sizeof *x);
    if (!x) return err_set(err, -ENOMEM, "out of memory");
    x->t = t;
    if (tiers_s3_dir(t, x->dir, sizeof x->dir) ||
        snprintf(x->prefix, sizeof x->prefix, "%s%s", t->store.prefix, *t->store.prefix ? "/" : "") >= (int)sizeof x->prefix) {
        free(x);
        return err_set(err, -ENAMETOOLONG, "tier %s: its name or prefix is too long", t->name);
    }
    if (s3_open(&conf, t->store.bucket, &x->h, &ce)) {
        free(x);
        hold_all(r, ce.msg);
        return 0;
    }
    r->s3 = x;
    x->pool = pool_new(&conf, t->store.bucket, conf.parallel);
    if (recover(r, x, &ce)) {
        /* Unreachable, or refused: nothing is uploaded this run; the local moves go on. */
        close_s3(r);
        if (moves) hold_all(r, ce.msg);
        else tiers_note(r, "tier %s (%s): %s (nothing was due for it)", t->name, bucket_url(t), ce.msg);
        return 0;
    }
    /* A date whose prefix holds objects without a marker of ours was put there by
     * something else: overwriting it could destroy data this store never had. */
    for (size_t i = 0; i < r->sum->nmoves; i++) {
        struct tier_move *m = &r->sum->moves[i];
        if (!remote_move(r, m) || m->held || has_date(x->found, x->nfound, m->date)) continue;
        char dp[1200], ds[11];
        date_prefix(x, m->date, dp, sizeof dp);
        bool any = false;
        int rc = s3_list(x->h, dp, stop_at_first, &any, &ce);
        if (rc < 0) {
            close_s3(r);
            hold_all(r, ce.msg);
            return 0;
        }
        if (!any) continue;
        k_date_str(m->date, ds);
        m->held = true;
        tiers_note(r, "%s: s3://%s/%s already holds objects this store did not write: it stays in %s (move them away, "
                   "or import them with the tier)", ds, s3_bucket(x->h), dp, tiers_name(r, m->from));
    }
    (void)err;
    return 0;
}

/* ---- one date --------------------------------------------------------------------- */

struct up {
    struct tiers_s3  *x;
    struct tier_move *m;
    const char       *from;       /* <segment>/<date> */
    const char       *to_key;     /* <prefix><date>/ */
    const char       *to_path;    /* .smfs/s3/<tier>/<date> */
    struct obj_list   before;     /* what the date's prefix held (a killed run's objects) */
    struct obj_list   sent;       /* what it must hold now */
};

static const struct s3_obj *find(const struct obj_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].key, key)) return &l->v[i];
    return NULL;
}

static bool same_bytes(struct s3 *h, const struct s3_obj *o, const uint8_t *p, size_t n)
{
    return o && o->size == n && s3_etag_matches(h, p, n, o->etag);
}

/* Take in what the senders finished: each into SENT, its bytes let go. WAIT: until
 * nothing is in flight, else until there is room for one more. The first failure. */
static int pool_collect(struct run *r, struct up *u, bool wait, struct smfs_err *err)
{
    struct pool *p = u->x->pool;
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct upjob *list = p->finished;
        p->finished = NULL;
        pthread_mutex_unlock(&p->mu);
        for (struct upjob *j = list, *n; j; j = n) {
            n = j->next;
            if (j->rc && !rc) {
                rc = j->rc;
                *err = j->err;
            } else if (!j->rc) {
                j->o.key = j->key;
                r->sum->s3_puts++;
                if (!rc && collect(&u->sent, &j->o)) rc = err_set(err, -ENOMEM, "out of memory");
            }
            tiers_bytes_release(&j->b);
            free(j);
            pthread_mutex_lock(&p->mu);
            p->inflight--;
            pthread_mutex_unlock(&p->mu);
        }
        pthread_mutex_lock(&p->mu);
        bool enough = wait ? p->inflight == 0 : p->inflight < p->max;
        if (enough && !p->finished) break;
        if (!p->finished) pthread_cond_wait(&p->done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Hand J to the senders (it owns J's bytes from now). */
static int pool_submit(struct run *r, struct up *u, struct upjob *j, struct smfs_err *err)
{
    struct pool *p = u->x->pool;
    int rc = pool_collect(r, u, false, err);
    pthread_mutex_lock(&p->mu);
    j->next = NULL;
    if (p->qtail) p->qtail->next = j;
    else p->q = j;
    p->qtail = j;
    p->inflight++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int upload_file(struct run *r, const char *path, const struct store_entry *e, void *arg,
                       struct smfs_err *err)
{
    struct up *u = arg;
    struct tiers_s3 *x = u->x;
    const char *rel = path + strlen(u->from) + 1;
    char key[2400], tpath[4400];
    if (snprintf(key, sizeof key, "%s%s", u->to_key, rel) >= (int)sizeof key ||
        snprintf(tpath, sizeof tpath, "%s/%s", u->to_path, rel) >= (int)sizeof tpath)
        return err_set(err, -ENAMETOOLONG, "'%s': path too long for object storage", path);
    if (r->o->progress) r->o->progress(r->o->arg, key, r->done, r->total);
    r->done++;
    struct tier_bytes b;
    int rc = tiers_bytes(r, path, key, e, tiers_zip(x->t), &b, err);
    struct s3_obj o = {.size = b.len};
    if (!rc) {
        const struct s3_obj *was = find(&u->before, key);
        if (same_bytes(x->h, was, b.p, b.len)) {
            /* A killed run's upload of these very bytes: adopted. */
            memcpy(o.etag, was->etag, sizeof o.etag);
            r->sum->s3_adopted++;
        } else {
            if (fault_hit("tiers.s3.put")) rc = err_set(err, -EIO, "injected fault at tiers.s3.put");
            /* Named now, while the bytes are here: a failed send fails the whole run,
             * and the transaction with it. */
            if (!rc) rc = store_tx_put_remote(r->tx, tpath, b.len, XXH3_64bits(b.p, b.len), true, err);
            if (!rc) u->m->bytes_out += b.len;
            if (!rc && x->pool) {
                struct upjob *j = calloc(1, sizeof *j);
                if (!j) {
                    tiers_bytes_release(&b);
                    return err_set(err, -ENOMEM, "out of memory");
                }
                memcpy(j->key, key, sizeof j->key);
                j->b = b;
                j->o.size = b.len;
                return pool_submit(r, u, j, err);
            }
            if (!rc) rc = s3_put(x->h, key, b.p, b.len, o.etag, err);
            if (!rc) r->sum->s3_puts++;
            if (!rc) {
                o.key = key;
                rc = collect(&u->sent, &o) ? err_set(err, -ENOMEM, "out of memory") : 0;
            }
            tiers_bytes_release(&b);
            return rc;
        }
    }
    if (!rc) rc = store_tx_put_remote(r->tx, tpath, b.len, XXH3_64bits(b.p, b.len), true, err);
    if (!rc) {
        o.key = key;
        rc = collect(&u->sent, &o) ? err_set(err, -ENOMEM, "out of memory") : 0;
    }
    if (!rc) u->m->bytes_out += b.len;
    tiers_bytes_release(&b);
    return rc;
}

/* The listing after the upload: exactly what was sent, each with its size and ETag. */
static int check_date(struct run *r, struct up *u, struct smfs_err *err)
{
    struct tiers_s3 *x = u->x;
    struct obj_list now;
    int rc = list(x, u->to_key, &now, err);
    if (rc) return rc;
    size_t seen = 0;
    for (size_t i = 0; !rc && i < now.n; i++) {
        const struct s3_obj *o = &now.v[i], *want = find(&u->sent, o->key);
        if (!want) {
            /* Under a date this store is writing and not sent now: left by a killed run. */
            rc = s3_delete(x->h, o->key, err);
            if (!rc) r->sum->s3_removed++;
            continue;
        }
        seen++;
        if (o->size != want->size || strcasecmp(o->etag, want->etag))
            rc = err_set(err, -EIO, "s3://%s/%s: the bucket lists %" PRIu64 " bytes, ETag %s; %" PRIu64 " bytes, ETag %s were "
                         "sent", s3_bucket(x->h), o->key, o->size, o->etag, want->size, want->etag);
    }
    if (!rc && seen != u->sent.n)
        rc = err_set(err, -EIO, "s3://%s/%s: %zu objects were sent, the bucket lists %zu of them", s3_bucket(x->h),
                     u->to_key, u->sent.n, seen);
    list_free(&now);
    return rc;
}

int tiers_s3_carry(struct run *r, struct tier_move *m, struct smfs_err *err)
{
    struct tiers_s3 *x = r->s3;
    if (!x) return err_set(err, -EINVAL, "no connection to object storage (a bug: the move should have been held)");
    const struct cfg_tier *src = r->cfg->date_tiers[m->from];
    char ds[11], from[400], key[1200], path[400], mk[1200];
    k_date_str(m->date, ds);
    snprintf(from, sizeof from, "%s/%s", src->segment, ds);
    date_prefix(x, m->date, key, sizeof key);
    snprintf(path, sizeof path, "%s/%s", x->dir, ds);
    struct up u = {.x = x, .m = m, .from = from, .to_key = key, .to_path = path};
    struct store_entry se;
    int rc = store_lookup(r->snap, from, &se, err);
    if (!rc && has_date(x->found, x->nfound, m->date)) rc = list(x, key, &u.before, err);
    if (!rc && !has_date(x->found, x->nfound, m->date)) {
        /* Step 1: the marker, before any object of the date exists. */
        char body[600];
        int n = snprintf(body, sizeof body, "smfs upload of %s from store %s, pid %d\n", ds, store_home(r->s), (int)getpid());
        marker_key(x, m->date, mk, sizeof mk);
        rc = s3_put(x->h, mk, body, (size_t)n, NULL, err);
    }
    if (!rc) rc = add_date(&x->marked, &x->nmarked, m->date) ? err_set(err, -ENOMEM, "out of memory") : 0;
    if (!rc && fault_hit("tiers.s3.marked")) rc = err_set(err, -EIO, "injected fault at tiers.s3.marked");
    if (!rc) rc = tiers_walk(r, se.id, from, 2, upload_file, &u, err);
    if (x->pool) {
        /* Every object sent (or the walk failed) before the date is checked. */
        struct smfs_err pe;
        int prc = pool_collect(r, &u, true, &pe);
        if (!rc && prc) {
            rc = prc;
            *err = pe;
        }
    }
    if (!rc && fault_hit("tiers.s3.uploaded")) rc = err_set(err, -EIO, "injected fault at tiers.s3.uploaded");
    if (!rc) rc = check_date(r, &u, err);
    list_free(&u.before);
    list_free(&u.sent);
    return rc;
}

void tiers_s3_finish(struct run *r, bool done)
{
    struct tiers_s3 *x = r->s3;
    if (!x) return;
    for (size_t i = 0; done && i < x->nmarked; i++) {
        char mk[1200], ds[11];
        struct smfs_err e;
        marker_key(x, x->marked[i], mk, sizeof mk);
        if (fault_hit("tiers.s3.unmark")) break;
        if (s3_delete(x->h, mk, &e)) {
            k_date_str(x->marked[i], ds);
            tiers_note(r, "%s: committed, but its upload marker stays (%s); the next run removes it", ds, e.msg);
        }
    }
    close_s3(r);
}
