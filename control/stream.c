/* control/stream.c: see stream.h. The thread's life: open what the spill root holds
 * (sealed days go to the writedown, the unsealed one is today), then sessions --
 * connect, subscribe, check schemas, catch up from the log, take updates live --
 * each ended by a lost connection and followed, after a backoff, by the next.
 *
 * Where a replay starts. Rows are counted per table, not messages: a subscriber sees
 * only the tables it asked for, and a tickerplant in batch mode publishes many logged
 * messages as one, so a count of messages received says nothing about the log. Rows
 * of one table come in the same order in the log and on the wire, so a replay walks
 * the log and drops, per table, as many rows as the spill already holds. A mark saved
 * with each checkpoint taken during a replay (message number, byte offset, rows per
 * table at that message) lets the next replay start there instead of at byte 8. */
#include "control/stream.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control_int.h"
#include "core/fileio.h"
#include "core/k_fmt.h"
#include "core/log.h"
#include "core/spill.h"
#include "ipc/ev.h"
#include "ipc/journal.h"
#include "ipc/tp.h"

#define BACKOFF_MAX_MS   30000
#define CONNECT_MS       10000
#define CALL_MS          60000    /* the subscription call: a tickerplant may be busy */
#define MSG_MS           30000    /* the rest of a message once its first byte came */
#define SIGQ_MAX         1024
#define ROWS_MAX         100000   /* rows one smctl request may ask for */
#define RATELOG_NS       (INT64_C(10) * 1000000000)

enum sstate { SS_OFF = 0, SS_CONNECTING, SS_SUBSCRIBING, SS_REPLAYING, SS_LIVE, SS_ERROR, SS_STOPPED };

static const char *state_name(enum sstate s)
{
    static const char *n[] = {"off", "connecting", "subscribing", "replaying", "live", "error", "stopped"};
    return n[s];
}

/* A message to the tickerplant, or a request from smctl. */
struct sig {
    char        table[64];
    struct k   *cols;
    struct sig *next;
};
struct req {
    uint64_t    id;
    char        cmd[16];
    json_t     *body;
    struct req *next;
};

/* At most one line per kind every ten seconds, then how many were held back. */
struct ratelog {
    int64_t  last;
    uint64_t held;
};

/* What status and metrics show: written by the stream thread under mu. */
struct view {
    enum sstate state;
    int64_t     since_rt;
    char        error[ERR_MSG_MAX];
    char        last_refused[ERR_MSG_MAX];  /* the last update refused, and why */
    char        gap[ERR_MSG_MAX];           /* today's last gap: kept until the next day */
    char        log[1024];
    int64_t     sub_msgs;                    /* .u.i at the last subscription */
    uint64_t    live_msgs, msgs, other, refused, reconnects, gaps, replayed, checkpoints;
    uint64_t    replay_done, replay_total;
    uint64_t    signals_sent, signals_dropped, sealed;
    int64_t     last_msg_rt, lag_ns;
    uint64_t   *rows, *table_refused;        /* per assembly table */
    struct spill_stats sp;
    bool        has_spill;
};

struct stream {
    struct stream_opts o;              /* its strings point at the copies below */
    char               dir[4096], target[256], creds[1100], log_dir[4096];
    const struct cfg  *cfg;
    pthread_t          th;
    bool               started;
    int                wakefd;
    atomic_bool        stop;
    pthread_mutex_t    mu;
    /* [M] under mu */
    struct sig        *sigs, **sigs_tail;
    size_t             nsigs;
    struct req        *reqs, **reqs_tail;
    struct view        v;
    /* [T] the stream thread's */
    struct tp         *tp;
    struct tp_sub      sub;
    struct spill      *cur;
    int64_t            next_ckpt;       /* monotonic ns */
    int64_t            next_eoi;        /* realtime ns of the next interval's end (0: none) */
    bool               dirty;           /* rows since the last checkpoint */
    int                backoff;
    char               last_err[ERR_MSG_MAX];
    int64_t            last_err_logged;
    struct ratelog     rl_refused, rl_other;
    int               *prtn;            /* per table: its prtnCol's column index, -1 none */
};

/* Copy SRC into DST[N], cut short if it must be (a status line, not a path to use). */
static void copy_cut(char *dst, size_t n, const char *src)
{
    size_t l = strnlen(src, n - 1);
    memcpy(dst, src, l);
    dst[l] = 0;
}

static int64_t now_rt(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool stopping(struct stream *s)
{
    return atomic_load(&s->stop);
}

static void wake(struct stream *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->wakefd, &one, sizeof one);
    (void)w;
}

static void drain(struct stream *s)
{
    uint64_t v;
    while (read(s->wakefd, &v, sizeof v) == (ssize_t)sizeof v) {}
}

/* Sleep up to MS; a wake-up (stop, a request) ends it early. */
static void nap(struct stream *s, int ms)
{
    struct pollfd p = {.fd = s->wakefd, .events = POLLIN};
    if (!stopping(s) && poll(&p, 1, ms) > 0) drain(s);
}

static bool ratelog_ok(struct ratelog *r, uint64_t *held)
{
    int64_t t = ev_now_ns();
    if (r->last && t - r->last < RATELOG_NS) {
        r->held++;
        return false;
    }
    *held = r->held;
    r->held = 0;
    r->last = t;
    return true;
}

static void set_state(struct stream *s, enum sstate st, const char *err)
{
    pthread_mutex_lock(&s->mu);
    if (s->v.state != st) s->v.since_rt = now_rt();
    s->v.state = st;
    if (err) snprintf(s->v.error, sizeof s->v.error, "%s", err);
    else if (st == SS_LIVE) s->v.error[0] = 0;
    pthread_mutex_unlock(&s->mu);
}

/* A failure of the session: shown in status, logged when it is new or every ten
 * minutes (a tickerplant that is down for a day must not fill the log). */
static void log_retrying(struct stream *s, const char *msg)
{
    int64_t t = ev_now_ns();
    if (strncmp(msg, s->last_err, sizeof s->last_err - 1) || t - s->last_err_logged > INT64_C(600) * 1000000000) {
        log_warn("stream: %s (retrying)", msg);
        snprintf(s->last_err, sizeof s->last_err, "%s", msg);
        s->last_err_logged = t;
    }
}

static void session_error(struct stream *s, enum sstate st, const char *msg)
{
    set_state(s, st, msg);
    log_retrying(s, msg);
}

static int table_index(const struct stream *s, const char *name)
{
    for (size_t i = 0; i < s->cfg->ntables; i++)
        if (!strcmp(s->cfg->tables[i].name, name)) return (int)i;
    return -1;
}

/* ---- the spill -------------------------------------------------------------------- */

static void note_spill(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->v.has_spill = s->cur != NULL;
    if (s->cur) {
        spill_stats(s->cur, &s->v.sp);
        for (size_t i = 0; i < s->cfg->ntables; i++) {
            int64_t r = spill_rows(s->cur, s->cfg->tables[i].name);
            s->v.rows[i] = r < 0 ? 0 : (uint64_t)r;
        }
        snprintf(s->v.log, sizeof s->v.log, "%s", spill_log(s->cur));
    } else {
        memset(s->v.rows, 0, s->cfg->ntables * sizeof *s->v.rows);
    }
    pthread_mutex_unlock(&s->mu);
}

static struct spill_opts spill_opts_of(const struct stream *s)
{
    return (struct spill_opts){.cfg = s->cfg, .budget = s->o.budget};
}

static int checkpoint(struct stream *s, const struct spill_mark *mark)
{
    s->next_ckpt = ev_now_ns() + (int64_t)s->o.checkpoint_ms * 1000000;
    if (!s->cur || (!s->dirty && !mark)) return 0;
    struct smfs_err e = {0};
    int rc = spill_checkpoint(s->cur, mark, &e);
    if (rc) {
        /* In status until the stream is live again (a full disk: the day is sealed once
         * there is room), in the log when new or every ten minutes, not at every retry. */
        char m[ERR_MSG_MAX + 4200];
        snprintf(m, sizeof m, "checkpoint of %s: %s", spill_dir(s->cur), e.msg);
        pthread_mutex_lock(&s->mu);
        snprintf(s->v.error, sizeof s->v.error, "%.*s", (int)sizeof s->v.error - 1, m);
        pthread_mutex_unlock(&s->mu);
        log_retrying(s, m);
        return rc;
    }
    s->dirty = false;
    pthread_mutex_lock(&s->mu);
    s->v.checkpoints++;
    pthread_mutex_unlock(&s->mu);
    note_spill(s);
    return 0;
}

/* The spill's rows went wrong half way (no memory, a write failed): drop what is in
 * memory and go back to the last checkpoint; the log has the rest. */
static void reopen_spill(struct stream *s)
{
    if (!s->cur) return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", spill_dir(s->cur));
    spill_close(s->cur);
    s->cur = NULL;
    struct spill_opts so = spill_opts_of(s);
    struct smfs_err e = {0};
    if (spill_open(dir, &so, &s->cur, &e)) {
        /* Keep the damaged one for a post-mortem; a new one replays the day. */
        char aside[4200];
        snprintf(aside, sizeof aside, "%s.damaged-%lld", dir, (long long)(now_rt() / 1000000000));
        log_err("stream: %s; moved aside to %s, the day is replayed from the log", e.msg, aside);
        if (rename(dir, aside) < 0) log_err("stream: rename %s: %s", dir, strerror(errno));
        s->cur = NULL;
    }
    s->dirty = false;
    note_spill(s);
}

/* The log's own file name: tick.q names it <schema><date>. */
static const char *base_of(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* Where to read LOG: as reported, or under --tp-log-dir. */
static void log_path(const struct stream *s, const char *log, char *out, size_t n)
{
    if (s->o.log_dir) snprintf(out, n, "%s/%s", s->o.log_dir, base_of(log));
    else snprintf(out, n, "%s", log);
}

static int new_spill_base(struct stream *s, const char *log, const uint64_t *base, struct smfs_err *err);
static int new_spill(struct stream *s, const char *log, struct smfs_err *err)
{
    return new_spill_base(s, log, NULL, err);
}

/* A new spill for LOG; BASE: rows of each table that earlier spills of LOG hold. */
static int new_spill_base(struct stream *s, const char *log, const uint64_t *base, struct smfs_err *err)
{
    char dir[4200];
    const char *b = log[0] ? base_of(log) : "nolog";
    snprintf(dir, sizeof dir, "%s/%s", s->o.dir, b);
    for (int i = 1; access(dir, F_OK) == 0; i++) snprintf(dir, sizeof dir, "%s/%s.%d", s->o.dir, b, i);
    struct spill_opts so = spill_opts_of(s);
    so.base = base;
    int rc = spill_create(dir, log, &so, &s->cur, err);
    if (!rc) log_info("stream: today's rows go to %s (log %s)", dir, log[0] ? log : "none");
    pthread_mutex_lock(&s->mu);
    s->v.gap[0] = 0;   /* a new day: yesterday's gap is the writedown's business now */
    pthread_mutex_unlock(&s->mu);
    note_spill(s);
    return rc;
}

/* The day a log covers, from its name (tick.q's <schema>YYYY.MM.DD); else yesterday
 * (UTC), said in the log. */
static int32_t date_of_log(const char *log)
{
    const char *b = base_of(log);
    size_t n = strlen(b);
    int32_t d;
    if (n >= 10 && k_parse_date(b + n - 10, &d)) return d;
    d = (int32_t)(k_ts_from_unix_ns(now_rt()) / K_NS_PER_DAY) - 1;
    log_warn("stream: log %s has no date in its name; its rows are taken as the day before today", log);
    return d;
}

static void seal(struct stream *s, int32_t date)
{
    struct smfs_err e = {0};
    if (spill_seal(s->cur, date, &e)) {
        log_err("stream: sealing %s: %s", spill_dir(s->cur), e.msg);
        return;
    }
    int y, m, d;
    k_ymd_from_days(date, &y, &m, &d);
    log_info("stream: %04d.%02d.%02d sealed in %s: %" PRId64 " rows wait for the writedown", y, m, d,
             spill_dir(s->cur), spill_rows(s->cur, s->cfg->ntables ? s->cfg->tables[0].name : ""));
    if (s->o.sealed) s->o.sealed(s->o.arg, spill_dir(s->cur), date);
    spill_close(s->cur);
    s->cur = NULL;
    s->dirty = false;
    pthread_mutex_lock(&s->mu);
    s->v.sealed++;
    pthread_mutex_unlock(&s->mu);
    note_spill(s);
}

/* At start: every directory of the root. Sealed ones go (again) to the writedown;
 * one never finished being created is removed; the unsealed one is today's. */
static void load_spills(struct stream *s)
{
    DIR *d = opendir(s->o.dir);
    if (!d) return;
    struct dirent *de;
    struct spill_opts so = spill_opts_of(s);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strstr(de->d_name, ".damaged-")) continue;
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", s->o.dir, de->d_name);
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) continue;
        struct spill *sp = NULL;
        struct smfs_err e = {0};
        int rc = spill_open(dir, &so, &sp, &e);
        if (rc == -ENOENT) {
            log_info("stream: removing %s, whose creation never finished", dir);
            if (spill_remove(dir, &e)) log_err("stream: %s", e.msg);
            continue;
        }
        if (rc) {
            log_err("stream: %s (left as it is; its rows are replayed from the log if the log is today's)", e.msg);
            continue;
        }
        int32_t date;
        if (spill_sealed(sp, &date)) {
            if (s->o.sealed) s->o.sealed(s->o.arg, dir, date);
            spill_close(sp);
        } else if (!s->cur) {
            s->cur = sp;
            log_info("stream: resuming %s (log %s)", dir, spill_log(sp));
        } else {
            log_err("stream: two unsealed spills, %s and %s: keeping the first, the second is left as it is",
                    spill_dir(s->cur), dir);
            spill_close(sp);
        }
    }
    closedir(d);
    note_spill(s);
}

/* ---- end of interval ------------------------------------------------------------------ */

static int64_t eoi_after(const struct stream *s, int64_t t)
{
    int64_t f = s->o.eoi_freq_ns, off = s->o.eoi_offset_ns % (f ? f : 1);
    if (f <= 0) return 0;
    int64_t k = (t - off) / f + 1;
    return k * f + off;
}

/* Interval K of the current spill, to the writer. */
static void announce(struct stream *s, size_t k)
{
    if (!s->o.interval || !s->cur) return;
    const struct spill_eoi *e = spill_eoi(s->cur, k), *prev = k ? spill_eoi(s->cur, k - 1) : NULL;
    uint64_t *zero = calloc(s->cfg->ntables + 1, sizeof *zero);
    if (!zero) return;
    s->o.interval(s->o.arg, spill_dir(s->cur), (int64_t)k, prev ? prev->rows : zero, e->rows, e->end_ns);
    free(zero);
}

/* The interval ending at END_NS: cut when rows came since the last one. */
static void cut_interval(struct stream *s, int64_t end_ns)
{
    if (!s->cur || spill_sealed(s->cur, NULL)) return;
    size_t n = spill_neoi(s->cur);
    const struct spill_eoi *last = n ? spill_eoi(s->cur, n - 1) : NULL;
    bool grew = false;
    for (size_t i = 0; i < s->cfg->ntables && !grew; i++)
        grew = (uint64_t)spill_rows(s->cur, s->cfg->tables[i].name) > (last ? last->rows[i] : 0);
    if (!grew) return;
    struct smfs_err e = {0};
    if (spill_add_eoi(s->cur, end_ns, &e)) {
        log_err("stream: end of interval: %s (its rows go with the next one)", e.msg);
        return;
    }
    s->dirty = false;
    announce(s, n);
}

/* ---- taking an update -------------------------------------------------------------- */

/* Event time of the last row of DATA (its table's prtnCol), for the lag; KNULL_J when
 * there is none. */
static int64_t last_time(const struct stream *s, int ti, const struct k *data)
{
    int ci = s->prtn[ti];
    if (ci < 0) return KNULL_J;
    const struct k *cols = data->t == KT_TABLE ? data->u.kk[0]->u.kk[1] : data;
    if (cols->t != KT_LIST || ci >= cols->n) return KNULL_J;
    const struct k *c = cols->u.kk[ci];
    if (c->t == -KT_TIMESTAMP) return c->u.j;
    if (c->t == KT_TIMESTAMP && c->n > 0) return ((const int64_t *)c->u.v)[c->n - 1];
    return KNULL_J;
}

static void refused(struct stream *s, int ti, const char *where, const char *why)
{
    pthread_mutex_lock(&s->mu);
    s->v.refused++;
    if (ti >= 0) s->v.table_refused[ti]++;
    snprintf(s->v.last_refused, sizeof s->v.last_refused, "%.200s: %.300s", where, why);
    pthread_mutex_unlock(&s->mu);
    uint64_t held;
    if (ratelog_ok(&s->rl_refused, &held))
        log_warn("stream: %s refused: %s%s", where, why, held ? " (and more like it since the last line)" : "");
}

/* One update received live. <0 only when the spill failed (not for bad input). */
static int take(struct stream *s, const struct tp_msg *m)
{
    int ti = table_index(s, m->table);
    if (ti < 0) {
        char why[200];
        snprintf(why, sizeof why, "an update of %.64s, a table smfs did not subscribe to", m->table);
        refused(s, -1, "tickerplant message", why);
        return 0;
    }
    uint64_t n = 0;
    struct smfs_err e = {0};
    int rc = spill_append(s->cur, m->table, m->data, 0, &n, &e);
    if (rc == -EINVAL) {
        refused(s, ti, "tickerplant message", e.msg);
        return 0;
    }
    if (rc) {
        log_err("stream: %s", e.msg);
        return rc;
    }
    s->dirty = true;
    spill_count_msg(s->cur);
    int64_t t = last_time(s, ti, m->data), now = now_rt();
    pthread_mutex_lock(&s->mu);
    s->v.msgs++;
    s->v.live_msgs++;
    s->v.rows[ti] += n;
    s->v.last_msg_rt = now;
    if (t != KNULL_J) s->v.lag_ns = now - k_unix_ns_from_ts(t);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* ---- replaying a log ----------------------------------------------------------------- */

/* Replay LOG into the current spill up to UPTO messages (UINT64_MAX: to its end),
 * dropping the rows the spill already holds. A log that cannot be read, or ends
 * before UPTO, is a gap: said, counted, and the session goes on (live data must not
 * wait for a file that may never come back). <0 only when the spill failed. */
static int replay(struct stream *s, const char *log, uint64_t upto)
{
    char path[4200];
    log_path(s, log, path, sizeof path);
    struct journal *j = NULL;
    struct smfs_err e = {0};
    size_t nt = s->cfg->ntables;
    if (journal_open(path, &j, &e)) {
        char msg[ERR_MSG_MAX + 100];
        snprintf(msg, sizeof msg, "cannot replay: %s", e.msg);
        log_err("stream: %s: rows logged while smfs was away are missing", msg);
        pthread_mutex_lock(&s->mu);
        s->v.gaps++;
        copy_cut(s->v.gap, sizeof s->v.gap, msg);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    uint64_t *held = calloc(nt + 1, sizeof *held), *counted = calloc(nt + 1, sizeof *counted);
    if (!held || !counted) {
        free(held);
        free(counted);
        journal_close(j);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nt; i++)   /* this spill's rows, and those of the log that earlier ones hold */
        held[i] = spill_base(s->cur, s->cfg->tables[i].name) + (uint64_t)spill_rows(s->cur, s->cfg->tables[i].name);
    /* Start at the mark when it is on the way. */
    const struct spill_mark *mk = spill_mark(s->cur);
    bool use = mk->index > 0 && mk->index <= upto;
    for (size_t i = 0; use && i < nt; i++) use = mk->rows[i] <= held[i];
    if (use) {
        journal_seek(j, mk->index, mk->offset);
        memcpy(counted, mk->rows, nt * sizeof *counted);
    }
    pthread_mutex_lock(&s->mu);
    s->v.replay_done = journal_index(j);
    s->v.replay_total = upto == UINT64_MAX ? 0 : (uint64_t)upto;
    pthread_mutex_unlock(&s->mu);
    set_state(s, SS_REPLAYING, NULL);
    log_info("stream: replaying %s from message %" PRIu64 "%s", path, journal_index(j),
             upto == UINT64_MAX ? " to its end" : "");
    int rc = 0;
    uint64_t done = 0;
    int64_t started = ev_now_ns();
    while (journal_index(j) < upto && !stopping(s)) {
        struct k *raw = NULL;
        uint64_t idx, off;
        int r = journal_next(j, &raw, &idx, &off, &e);
        if (r) {
            if (upto != UINT64_MAX) {
                char msg[ERR_MSG_MAX + 200];
                if (r == 1)
                    snprintf(msg, sizeof msg, "log %.400s ends after %" PRIu64 " messages, the tickerplant says %" PRIu64
                             ": the rest are missing", path, journal_index(j), upto);
                else
                    snprintf(msg, sizeof msg, "%s; the tickerplant says %" PRIu64 " messages: those after %" PRIu64
                             " are missing", e.msg, upto, journal_index(j));
                log_err("stream: %s", msg);
                pthread_mutex_lock(&s->mu);
                s->v.gaps++;
                copy_cut(s->v.gap, sizeof s->v.gap, msg);
                pthread_mutex_unlock(&s->mu);
            } else if (r != 1) {
                log_warn("stream: %s (the log is read up to there)", e.msg);
            }
            break;
        }
        struct tp_msg m;
        tp_classify(raw, &m);
        int ti = m.kind == TP_UPD ? table_index(s, m.table) : -1;
        if (ti >= 0) {
            uint64_t n = 0, skip = held[ti] > counted[ti] ? held[ti] - counted[ti] : 0;
            struct smfs_err ae = {0};
            int ar = spill_append(s->cur, m.table, m.data, skip, &n, &ae);
            if (ar == -EINVAL) {
                char where[ERR_MSG_MAX];
                snprintf(where, sizeof where, "log %.400s message %" PRIu64 " at offset %" PRIu64, path, idx, off);
                refused(s, ti, where, ae.msg);
            } else if (ar) {
                log_err("stream: %s", ae.msg);
                rc = ar;
                tp_msg_free(&m);
                break;
            } else {
                counted[ti] += n;
                if (n > skip) {
                    s->dirty = true;
                    spill_count_msg(s->cur);
                }
            }
        }
        tp_msg_free(&m);
        done++;
        if ((done & 1023) == 0) {
            pthread_mutex_lock(&s->mu);
            s->v.replay_done = journal_index(j);
            s->v.replayed += 1024;
            pthread_mutex_unlock(&s->mu);
            if (ev_now_ns() >= s->next_ckpt) {
                struct spill_mark mark = {.offset = journal_offset(j), .index = journal_index(j), .rows = counted};
                if ((rc = checkpoint(s, &mark))) break;
            }
        }
    }
    for (size_t i = 0; rc == 0 && i < nt; i++)
        if (counted[i] < held[i] && journal_index(j) >= upto)
            log_err("stream: log %s holds %" PRIu64 " rows of %s, fewer than the %" PRIu64 " smfs already has: was the "
                    "log replaced?", path, counted[i], s->cfg->tables[i].name, held[i]);
    if (rc == 0) {
        struct spill_mark mark = {.offset = journal_offset(j), .index = journal_index(j), .rows = counted};
        rc = checkpoint(s, &mark);
    }
    pthread_mutex_lock(&s->mu);
    s->v.replayed += done & 1023;
    s->v.replay_done = journal_index(j);
    pthread_mutex_unlock(&s->mu);
    log_info("stream: replayed %" PRIu64 " messages of %s in %.3f s", done, path, (double)(ev_now_ns() - started) / 1e9);
    free(held);
    free(counted);
    journal_close(j);
    if (rc) reopen_spill(s);
    return rc;
}

/* The logs tick.q wrote between FROM and TO (the same directory and schema prefix,
 * a date in between), in date order: the days smfs missed entirely. */
static void missed_days(struct stream *s, const char *from, const char *to)
{
    char dir[4200], fpath[4200];
    log_path(s, from, fpath, sizeof fpath);
    snprintf(dir, sizeof dir, "%s", fpath);
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = 0;
    const char *fb = base_of(from), *tb = base_of(to);
    size_t fl = strlen(fb), tl = strlen(tb);
    int32_t d0, d1;
    if (fl < 10 || tl < 10 || fl != tl || strncmp(fb, tb, fl - 10) || !k_parse_date(fb + fl - 10, &d0) ||
        !k_parse_date(tb + tl - 10, &d1))
        return;
    for (int32_t d = d0 + 1; d < d1 && !stopping(s); d++) {
        int y, m, dd;
        k_ymd_from_days(d, &y, &m, &dd);
        char name[600], log[4300];
        snprintf(name, sizeof name, "%.*s%04d.%02d.%02d", (int)(fl - 10 < 500 ? fl - 10 : 500), fb, y, m, dd);
        snprintf(log, sizeof log, "%.*s%s", (int)(base_of(from) - from < 3000 ? base_of(from) - from : 3000), from,
                 name);
        char p[4400];
        log_path(s, log, p, sizeof p);
        if (access(p, R_OK) != 0) continue;
        struct smfs_err e = {0};
        if (new_spill(s, log, &e)) {
            log_err("stream: %s", e.msg);
            return;
        }
        if (replay(s, log, UINT64_MAX) == 0 && s->cur) seal(s, d);
    }
}

/* After subscribing: finish a day that ended while smfs was away, then replay
 * today's log up to where the live stream starts. */
static int catch_up(struct stream *s)
{
    const struct tp_sub *sub = &s->sub;
    struct smfs_err e = {0};
    if (!sub->log) {
        log_warn("stream: tickerplant %s keeps no log: rows it published while smfs was away cannot be recovered",
                 s->o.target);
        if (!s->cur && new_spill(s, "", &e)) {
            log_err("stream: %s", e.msg);
            return e.code;
        }
        return 0;
    }
    if (s->cur && strcmp(spill_log(s->cur), sub->log)) {
        char old[4096];
        snprintf(old, sizeof old, "%s", spill_log(s->cur));
        log_info("stream: the tickerplant moved from %s to %s while smfs was away: finishing that day first", old,
                 sub->log);
        int rc = old[0] ? replay(s, old, UINT64_MAX) : 0;
        if (rc) return rc;
        if (s->cur) seal(s, old[0] ? date_of_log(old) : (int32_t)(k_ts_from_unix_ns(now_rt()) / K_NS_PER_DAY) - 1);
        if (old[0]) missed_days(s, old, sub->log);
    }
    if (!s->cur && new_spill(s, sub->log, &e)) {
        log_err("stream: %s", e.msg);
        return e.code;
    }
    return sub->msgs > 0 ? replay(s, sub->log, (uint64_t)sub->msgs) : 0;
}

/* ---- the tickerplant's end of day ------------------------------------------------------- */

static int end_of_day(struct stream *s, int32_t date)
{
    int y, m, d;
    k_ymd_from_days(date, &y, &m, &d);
    log_info("stream: end of day %04d.%02d.%02d from the tickerplant", y, m, d);
    if (s->cur) {
        s->dirty = true;
        if (checkpoint(s, NULL)) return -EIO;
        seal(s, date);
    }
    /* Where the next day's log is. The updates logged there before this call was
     * answered were also sent to us after .u.end, so they are taken live, not
     * replayed. */
    int64_t msgs;
    char *log = NULL;
    struct smfs_err e = {0};
    int rc = tp_log_now(s->tp, CALL_MS, &msgs, &log, &e);
    if (rc) {
        log_warn("stream: after the end of day: %s", e.msg);
        return rc;
    }
    rc = new_spill(s, log ? log : "", &e);
    if (rc) log_err("stream: %s", e.msg);
    free(log);
    pthread_mutex_lock(&s->mu);
    s->v.sub_msgs = msgs;
    s->v.live_msgs = 0;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- requests and signals ----------------------------------------------------------------- */

static json_t *cell(const struct k *col, int64_t i)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    json_t *r = NULL;
    switch (col->t) {
    case KT_BOOL: return json_boolean(((const uint8_t *)col->u.v)[i]);
    case KT_SHORT: {
        int16_t v = ((const int16_t *)col->u.v)[i];
        return v == KNULL_H ? json_null() : json_integer(v);
    }
    case KT_INT: {
        int32_t v = ((const int32_t *)col->u.v)[i];
        return v == KNULL_I ? json_null() : json_integer(v);
    }
    case KT_LONG: {
        int64_t v = ((const int64_t *)col->u.v)[i];
        return v == KNULL_J ? json_null() : json_integer(v);
    }
    case KT_REAL:
    case KT_FLOAT: {
        double v = col->t == KT_REAL ? ((const float *)col->u.v)[i] : ((const double *)col->u.v)[i];
        return v != v ? json_null() : json_real(v);
    }
    case KT_SYM: r = admin_str(k_symv_at(col, i)); break;
    case KT_LIST: {
        const struct k *it = col->u.kk[i];
        if (it->t == KT_CHAR) {
            r = admin_strn((const char *)it->u.v, (size_t)it->n);
            break;
        }
        if (k_fmt(it, 100, &b) == 0) r = admin_strn((const char *)b.p, b.len);
        break;
    }
    default:
        if (k_fmt_item(col, i, &b) == 0) r = admin_strn((const char *)b.p, b.len);
    }
    buf_release(&b);
    return r ? r : json_null();
}

static json_t *rows_reply(struct stream *s, json_t *body)
{
    const char *table = json_string_value(json_object_get(body, "table"));
    json_int_t from = json_integer_value(json_object_get(body, "from"));
    json_t *lim = json_object_get(body, "limit");
    json_int_t limit = lim ? json_integer_value(lim) : 1000;
    if (!table) return admin_error("stream rows needs \"table\"");
    if (from < 0 || limit < 0 || limit > ROWS_MAX)
        return admin_error("stream rows: \"from\" must be >= 0 and \"limit\" from 0 to %d", ROWS_MAX);
    if (!s->cur) return admin_error("the stream holds no rows now (no current day)");
    struct k *t = NULL;
    struct smfs_err e = {0};
    if (spill_read(s->cur, table, (uint64_t)from, (uint64_t)limit, &t, &e)) return admin_error("%s", e.msg);
    const struct k *names = t->u.kk[0]->u.kk[0], *cols = t->u.kk[0]->u.kk[1];
    json_t *jn = json_array(), *rows = json_array();
    for (int64_t c = 0; c < names->n; c++) json_array_append_new(jn, admin_str(k_symv_at(names, c)));
    int64_t n = cols->n ? k_count(cols->u.kk[0]) : 0;
    for (int64_t i = 0; i < n; i++) {
        json_t *row = json_array();
        for (int64_t c = 0; c < cols->n; c++) json_array_append_new(row, cell(cols->u.kk[c], i));
        json_array_append_new(rows, row);
    }
    k_free(t);
    return json_pack("{s:b,s:s,s:s,s:I,s:I,s:o,s:o}", "ok", 1, "table", table, "log", spill_log(s->cur),
                     "from", (json_int_t)from, "held", (json_int_t)spill_rows(s->cur, table), "columns", jn,
                     "rows", rows);
}

/* A manual end of day (smctl eod): the rows held so far are sealed for the writedown,
 * and the day goes on in a new spill of the same log that knows how many rows of each
 * table the sealed one took (a replay must not take them twice). */
static json_t *eod_error(json_t *r)
{
    if (r) json_object_set_new(r, "eod", json_true());   /* the loop marks the manual EOD failed */
    return r;
}

static json_t *eod_reply(struct stream *s, json_t *body)
{
    if (!s->cur) return eod_error(admin_error("the stream holds no rows now (no current day)"));
    const char *ds = json_string_value(json_object_get(body, "date"));
    int32_t date;
    if (ds && !k_parse_date(ds, &date)) return eod_error(admin_error("eod: '%s' is not a date (YYYY.MM.DD)", ds));
    char log[4096];
    snprintf(log, sizeof log, "%s", spill_log(s->cur));
    if (!ds) date = log[0] ? date_of_log(log) : (int32_t)(k_ts_from_unix_ns(now_rt()) / K_NS_PER_DAY);
    size_t nt = s->cfg->ntables;
    uint64_t *base = calloc(nt + 1, sizeof *base), rows = 0;
    if (!base) return eod_error(admin_error("out of memory"));
    for (size_t i = 0; i < nt; i++) {
        uint64_t r = (uint64_t)spill_rows(s->cur, s->cfg->tables[i].name);
        base[i] = spill_base(s->cur, s->cfg->tables[i].name) + r;
        rows += r;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", spill_dir(s->cur));
    s->dirty = true;
    if (checkpoint(s, NULL)) {
        free(base);
        return eod_error(admin_error("eod: the rows held could not be made durable (see the log)"));
    }
    int y, m, d;
    k_ymd_from_days(date, &y, &m, &d);
    log_info("stream: manual end of day %04d.%02d.%02d: %" PRIu64 " rows sealed", y, m, d, rows);
    seal(s, date);
    if (s->cur) {
        free(base);
        return eod_error(admin_error("eod: the rows held could not be sealed (see the log)"));
    }
    struct smfs_err e = {0};
    int rc = new_spill_base(s, log, base, &e);
    free(base);
    if (rc) log_err("stream: after a manual end of day: %s", e.msg);
    char dstr[16];
    snprintf(dstr, sizeof dstr, "%04d.%02d.%02d", y, m, d);
    return json_pack("{s:b,s:s,s:s,s:I}", "ok", 1, "date", dstr, "sealed", dir, "rows", (json_int_t)rows);
}

static void serve_requests(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    struct req *q = s->reqs;
    s->reqs = NULL;
    s->reqs_tail = &s->reqs;
    pthread_mutex_unlock(&s->mu);
    while (q) {
        struct req *n = q->next;
        json_t *reply = !strcmp(q->cmd, "rows") ? rows_reply(s, q->body)
                        : !strcmp(q->cmd, "eod") ? eod_reply(s, q->body)
                                                 : admin_error("stream: unknown request '%s'", q->cmd);
        s->o.answer(s->o.arg, q->id, reply);
        json_decref(q->body);
        free(q);
        q = n;
    }
}

static bool tp_has_table(const struct stream *s, const char *table)
{
    const struct k *t = s->sub.tables;
    for (int64_t i = 0; t && i < t->n; i++)
        if (!strcmp(k_symv_at(t, i), table)) return true;
    return false;
}

/* Send what is queued; the first failure ends the session (the rest wait). */
static int send_signals(struct stream *s)
{
    for (;;) {
        pthread_mutex_lock(&s->mu);
        struct sig *g = s->sigs;
        if (g) {
            s->sigs = g->next;
            if (!s->sigs) s->sigs_tail = &s->sigs;
            s->nsigs--;
        }
        pthread_mutex_unlock(&s->mu);
        if (!g) return 0;
        int rc = 0;
        if (!tp_has_table(s, g->table)) {
            log_warn("stream: the tickerplant has no table %s: that signal is not published (define it there to "
                     "receive it)", g->table);
            pthread_mutex_lock(&s->mu);
            s->v.signals_dropped++;
            pthread_mutex_unlock(&s->mu);
        } else {
            struct smfs_err e = {0};
            rc = tp_publish(s->tp, g->table, g->cols, &e);
            if (rc) {
                log_warn("stream: %s", e.msg);
                /* Back to the front: sent after the reconnect. */
                pthread_mutex_lock(&s->mu);
                g->next = s->sigs;
                s->sigs = g;
                if (!g->next) s->sigs_tail = &g->next;
                s->nsigs++;
                pthread_mutex_unlock(&s->mu);
                return rc;
            }
            pthread_mutex_lock(&s->mu);
            s->v.signals_sent++;
            pthread_mutex_unlock(&s->mu);
        }
        k_free(g->cols);
        free(g);
    }
}

/* ---- a session ------------------------------------------------------------------------- */

static int check_schemas(struct stream *s)
{
    for (size_t i = 0; i < s->sub.n; i++) {
        size_t untyped = 0;
        struct smfs_err e = {0};
        if (spill_schema_check(s->cfg, s->sub.table[i], s->sub.schema[i], &untyped, &e)) {
            char msg[ERR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "tickerplant %s: %s", s->o.target, e.msg);
            session_error(s, SS_ERROR, msg);
            return -EINVAL;
        }
        if (untyped)
            log_info("stream: %zu columns of %s are untyped on the tickerplant: each update is checked instead",
                     untyped, s->sub.table[i]);
    }
    return 0;
}

static int live(struct stream *s)
{
    set_state(s, SS_LIVE, NULL);
    log_info("stream: live from %s", s->o.target);
    s->last_err[0] = 0;
    for (;;) {
        if (stopping(s)) return 0;
        serve_requests(s);
        int rc = send_signals(s);
        if (rc) return rc;
        if (s->next_eoi && now_rt() >= s->next_eoi) {
            cut_interval(s, s->next_eoi);
            s->next_eoi = eoi_after(s, now_rt());
        }
        int64_t left = (s->next_ckpt - ev_now_ns()) / 1000000;
        if (s->next_eoi) {
            int64_t to_eoi = (s->next_eoi - now_rt()) / 1000000 + 1;
            if (to_eoi < left) left = to_eoi;
        }
        struct smfs_err e = {0};
        rc = tp_wait(s->tp, s->wakefd, left < 0 ? 0 : left > 1000 ? 1000 : (int)left, &e);
        if (rc < 0) return rc;
        if (rc == 0) drain(s);
        if (rc == 1) {
            struct tp_msg m;
            rc = tp_next(s->tp, MSG_MS, &m, &e);
            if (rc) {
                session_error(s, SS_CONNECTING, e.msg);
                return rc;
            }
            if (m.kind == TP_UPD) {
                rc = s->cur ? take(s, &m) : 0;
            } else if (m.kind == TP_END) {
                rc = end_of_day(s, m.date);
            } else {
                uint64_t held;
                pthread_mutex_lock(&s->mu);
                s->v.other++;
                pthread_mutex_unlock(&s->mu);
                if (ratelog_ok(&s->rl_other, &held))
                    log_warn("stream: ignored %s from the tickerplant%s", m.what,
                             held ? " (and more like it since the last line)" : "");
            }
            tp_msg_free(&m);
            if (rc) {
                reopen_spill(s);
                return rc;
            }
        }
        if (ev_now_ns() >= s->next_ckpt && checkpoint(s, NULL)) {
            reopen_spill(s);
            return -EIO;
        }
    }
}

static void session(struct stream *s)
{
    struct smfs_err e = {0};
    set_state(s, SS_CONNECTING, NULL);
    if (tp_connect(s->o.target, s->o.creds, CONNECT_MS, &s->tp, &e)) {
        char msg[ERR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "cannot reach tickerplant %s: %s", s->o.target, e.msg);
        session_error(s, SS_CONNECTING, msg);
        return;
    }
    set_state(s, SS_SUBSCRIBING, NULL);
    const char **names = calloc(s->cfg->ntables + 1, sizeof *names);
    if (!names) return;
    for (size_t i = 0; i < s->cfg->ntables; i++) names[i] = s->cfg->tables[i].name;
    tp_sub_free(&s->sub);
    int rc = tp_subscribe(s->tp, names, s->cfg->ntables, CALL_MS, &s->sub, &e);
    free(names);
    if (rc) {
        char msg[ERR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "subscribing to %s: %s", s->o.target, e.msg);
        session_error(s, rc == -ENOENT ? SS_ERROR : SS_CONNECTING, msg);
        return;
    }
    if (check_schemas(s)) return;
    s->backoff = s->o.wait_ms;
    pthread_mutex_lock(&s->mu);
    s->v.sub_msgs = s->sub.msgs;
    s->v.live_msgs = 0;
    pthread_mutex_unlock(&s->mu);
    log_info("stream: subscribed to %zu tables on %s; its log %s holds %" PRId64 " messages", s->sub.n, s->o.target,
             s->sub.log ? s->sub.log : "(none)", s->sub.msgs);
    if (catch_up(s) || stopping(s)) return;
    live(s);
}

static void *stream_main(void *arg)
{
    struct stream *s = arg;
    load_spills(s);
    for (size_t k = 0; s->cur && k < spill_neoi(s->cur); k++) announce(s, k);
    s->next_eoi = eoi_after(s, now_rt());
    s->next_ckpt = ev_now_ns() + (int64_t)s->o.checkpoint_ms * 1000000;
    while (!stopping(s)) {
        session(s);
        if (s->tp) {
            tp_close(s->tp);
            s->tp = NULL;
        }
        checkpoint(s, NULL);
        if (stopping(s)) break;
        pthread_mutex_lock(&s->mu);
        s->v.reconnects++;
        pthread_mutex_unlock(&s->mu);
        /* Requests that came while away are answered from here too. */
        serve_requests(s);
        nap(s, s->backoff);
        s->backoff = s->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff * 2;
    }
    s->dirty = true;
    checkpoint(s, NULL);
    serve_requests(s);
    set_state(s, SS_STOPPED, NULL);
    return NULL;
}

/* ---- the public side ------------------------------------------------------------------- */

int stream_start(const struct stream_opts *o, struct stream **out, struct smfs_err *err)
{
    *out = NULL;
    struct stream *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, -ENOMEM, "out of memory");
    s->o = *o;
    s->cfg = o->cfg;
    /* The caller's strings may not outlive this call. */
    int trunc = snprintf(s->dir, sizeof s->dir, "%s", o->dir) >= (int)sizeof s->dir ||
                snprintf(s->target, sizeof s->target, "%s", o->target) >= (int)sizeof s->target ||
                (o->creds && snprintf(s->creds, sizeof s->creds, "%s", o->creds) >= (int)sizeof s->creds) ||
                (o->log_dir && snprintf(s->log_dir, sizeof s->log_dir, "%s", o->log_dir) >= (int)sizeof s->log_dir);
    s->o.dir = s->dir;
    s->o.target = s->target;
    s->o.creds = o->creds ? s->creds : NULL;
    s->o.log_dir = o->log_dir ? s->log_dir : NULL;
    if (!s->o.checkpoint_ms) s->o.checkpoint_ms = 2000;
    if (!s->o.wait_ms) s->o.wait_ms = 250;
    s->backoff = s->o.wait_ms;
    s->sigs_tail = &s->sigs;
    s->reqs_tail = &s->reqs;
    atomic_init(&s->stop, false);
    pthread_mutex_init(&s->mu, NULL);
    size_t nt = s->cfg->ntables ? s->cfg->ntables : 1;
    s->v.rows = calloc(nt, sizeof *s->v.rows);
    s->v.table_refused = calloc(nt, sizeof *s->v.table_refused);
    s->prtn = calloc(nt, sizeof *s->prtn);
    s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = 0;
    if (trunc) rc = err_set(err, -ENAMETOOLONG, "stream: a path or the tickerplant's address is too long");
    else if (!s->v.rows || !s->v.table_refused || !s->prtn) rc = err_set(err, -ENOMEM, "out of memory");
    else if (s->wakefd < 0) rc = err_sys(err, "eventfd", NULL);
    else if (file_mkdirs(o->dir, 0750, err)) rc = err_wrap(err, "the stream's directory");
    for (size_t i = 0; !rc && i < s->cfg->ntables; i++) {
        const struct cfg_table *t = &s->cfg->tables[i];
        s->prtn[i] = -1;
        for (size_t c = 0; t->prtn_col && c < t->ncols; c++)
            if (!strcmp(t->cols[c].name, t->prtn_col)) s->prtn[i] = (int)c;
    }
    if (!rc) {
        rc = pthread_create(&s->th, NULL, stream_main, s);
        if (rc) rc = err_set(err, -rc, "cannot start the stream thread: %s", strerror(rc));
        else s->started = true;
    }
    if (rc) {
        stream_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

void stream_stop(struct stream *s)
{
    if (!s) return;
    atomic_store(&s->stop, true);
    if (s->wakefd >= 0) wake(s);
    if (s->started) pthread_join(s->th, NULL);
    if (s->tp) tp_close(s->tp);
    spill_close(s->cur);
    tp_sub_free(&s->sub);
    while (s->sigs) {
        struct sig *n = s->sigs->next;
        k_free(s->sigs->cols);
        free(s->sigs);
        s->sigs = n;
    }
    while (s->reqs) {   /* only when the thread never ran */
        struct req *n = s->reqs->next;
        s->o.answer(s->o.arg, s->reqs->id, admin_error("the stream stopped"));
        json_decref(s->reqs->body);
        free(s->reqs);
        s->reqs = n;
    }
    if (s->wakefd >= 0) close(s->wakefd);
    pthread_mutex_destroy(&s->mu);
    free(s->v.rows);
    free(s->v.table_refused);
    free(s->prtn);
    free(s);
}

void stream_signal(struct stream *s, const char *table, struct k *cols)
{
    struct sig *g = calloc(1, sizeof *g);
    if (!g) {
        k_free(cols);
        return;
    }
    snprintf(g->table, sizeof g->table, "%s", table);
    g->cols = cols;
    pthread_mutex_lock(&s->mu);
    if (s->nsigs >= SIGQ_MAX) {   /* a tickerplant away for long: keep the newest */
        struct sig *old = s->sigs;
        s->sigs = old->next;
        if (!s->sigs) s->sigs_tail = &s->sigs;
        s->nsigs--;
        s->v.signals_dropped++;
        k_free(old->cols);
        free(old);
    }
    *s->sigs_tail = g;
    s->sigs_tail = &g->next;
    s->nsigs++;
    pthread_mutex_unlock(&s->mu);
    wake(s);
}

void stream_request(struct stream *s, uint64_t req, const char *cmd, json_t *body)
{
    struct req *q = calloc(1, sizeof *q);
    if (!q) {
        s->o.answer(s->o.arg, req, admin_error("out of memory"));
        return;
    }
    q->id = req;
    snprintf(q->cmd, sizeof q->cmd, "%s", cmd);
    q->body = json_incref(body);
    pthread_mutex_lock(&s->mu);
    *s->reqs_tail = q;
    s->reqs_tail = &q->next;
    pthread_mutex_unlock(&s->mu);
    wake(s);
}

json_t *stream_status_json(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    struct view v = s->v;
    json_t *tables = json_object();
    for (size_t i = 0; i < s->cfg->ntables; i++)
        json_object_set_new(tables, s->cfg->tables[i].name,
                            json_pack("{s:I,s:I}", "rows", (json_int_t)v.rows[i], "refused",
                                      (json_int_t)v.table_refused[i]));
    size_t queued = s->nsigs;
    pthread_mutex_unlock(&s->mu);
    json_t *r = json_pack("{s:s,s:s,s:I,s:o}", "state", state_name(v.state), "tickerplant", s->o.target,
                          "since_ns", (json_int_t)v.since_rt, "tables", tables);
    if (!r) return NULL;
    if (v.error[0]) json_object_set_new(r, "error", admin_str(v.error));
    if (v.last_refused[0]) json_object_set_new(r, "last_refused", admin_str(v.last_refused));
    if (v.gap[0]) json_object_set_new(r, "gap", admin_str(v.gap));
    if (v.log[0]) json_object_set_new(r, "log", admin_str(v.log));
    json_object_set_new(r, "position", json_pack("{s:I,s:I,s:I,s:I}", "log_messages_at_subscribe",
                        (json_int_t)v.sub_msgs, "received_since", (json_int_t)v.live_msgs,
                        "replay_done", (json_int_t)v.replay_done, "replay_total", (json_int_t)v.replay_total));
    json_object_set_new(r, "counts", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "messages",
                        (json_int_t)v.msgs, "refused", (json_int_t)v.refused, "other", (json_int_t)v.other,
                        "replayed", (json_int_t)v.replayed, "reconnects", (json_int_t)v.reconnects,
                        "gaps", (json_int_t)v.gaps, "checkpoints", (json_int_t)v.checkpoints,
                        "days_sealed", (json_int_t)v.sealed, "signals_sent", (json_int_t)v.signals_sent,
                        "signals_dropped", (json_int_t)v.signals_dropped));
    json_object_set_new(r, "signals_queued", json_integer((json_int_t)queued));
    if (v.last_msg_rt) {
        json_object_set_new(r, "last_message_ns", json_integer(v.last_msg_rt));
        json_object_set_new(r, "lag_ns", json_integer(v.lag_ns));
    }
    if (v.has_spill)
        json_object_set_new(r, "spill", json_pack("{s:s,s:I,s:I,s:I,s:I}", "dir", s->o.dir,
                            "bytes_disk", (json_int_t)v.sp.bytes_disk, "bytes_memory", (json_int_t)v.sp.bytes_mem,
                            "symbols", (json_int_t)v.sp.syms, "budget", (json_int_t)(s->o.budget ? s->o.budget
                                                                                   : SPILL_BUDGET_DEFAULT)));
    return r;
}

int stream_metrics(struct stream *s, struct buf *b)
{
    pthread_mutex_lock(&s->mu);
    struct view v = s->v;
    uint64_t *rows = malloc((s->cfg->ntables + 1) * sizeof *rows), *ref = malloc((s->cfg->ntables + 1) * sizeof *ref);
    if (rows && ref) {
        memcpy(rows, v.rows, s->cfg->ntables * sizeof *rows);
        memcpy(ref, v.table_refused, s->cfg->ntables * sizeof *ref);
    }
    pthread_mutex_unlock(&s->mu);
    int rc = !rows || !ref ? -ENOMEM : 0;
    if (!rc) rc = metrics_family(b, "stream_state", "gauge", "1 for the subscription's state (connecting, "
                                 "subscribing, replaying, live, error)");
    for (enum sstate st = SS_CONNECTING; !rc && st <= SS_ERROR; st++)
        rc = buf_printf(b, "smfs_stream_state{state=\"%s\"} %d\n", state_name(st), v.state == st);
    if (!rc) rc = metrics_family(b, "stream_rows", "gauge", "rows held for the current day, by table");
    for (size_t i = 0; !rc && i < s->cfg->ntables; i++)
        rc = buf_printf(b, "smfs_stream_rows{table=\"%s\"} %" PRIu64 "\n", s->cfg->tables[i].name, rows[i]);
    if (!rc) rc = metrics_family(b, "stream_refused_total", "counter", "updates refused (they do not fit the "
                                 "assembly's schema), by table");
    for (size_t i = 0; !rc && i < s->cfg->ntables; i++)
        rc = buf_printf(b, "smfs_stream_refused_total{table=\"%s\"} %" PRIu64 "\n", s->cfg->tables[i].name, ref[i]);
    uint64_t known = 0;
    for (size_t i = 0; !rc && i < s->cfg->ntables; i++) known += ref[i];
    if (!rc) rc = buf_printf(b, "smfs_stream_refused_total{table=\"\"} %" PRIu64 "\n", v.refused - known);
    struct { const char *name, *help; uint64_t v; } c[] = {
        {"stream_messages_total", "updates taken live", v.msgs},
        {"stream_replayed_total", "log messages replayed", v.replayed},
        {"stream_other_total", "messages from the tickerplant that were neither an update nor an end of day", v.other},
        {"stream_reconnects_total", "sessions with the tickerplant that ended", v.reconnects},
        {"stream_gaps_total", "replays that could not recover every logged message", v.gaps},
        {"stream_checkpoints_total", "checkpoints of the intraday store", v.checkpoints},
        {"stream_days_sealed_total", "days whose rows were sealed for the writedown", v.sealed},
        {"stream_signals_sent_total", "_prtnEnd and _reload rows published", v.signals_sent},
        {"stream_signals_dropped_total", "stream signals not published", v.signals_dropped},
    };
    for (size_t i = 0; !rc && i < sizeof c / sizeof c[0]; i++) {
        rc = metrics_family(b, c[i].name, "counter", c[i].help);
        if (!rc) rc = buf_printf(b, "smfs_%s %" PRIu64 "\n", c[i].name, c[i].v);
    }
    if (!rc) rc = metrics_family(b, "stream_spill_bytes", "gauge", "the current day's rows: on disk, in memory");
    if (!rc) rc = buf_printf(b, "smfs_stream_spill_bytes{where=\"disk\"} %" PRIu64 "\nsmfs_stream_spill_bytes{where="
                             "\"memory\"} %" PRIu64 "\n", v.sp.bytes_disk, v.sp.bytes_mem);
    if (!rc) rc = metrics_family(b, "stream_lag_seconds", "gauge", "receipt time minus event time (prtnCol) of the "
                                 "last update");
    if (!rc) rc = buf_printf(b, "smfs_stream_lag_seconds %.6f\n", (double)v.lag_ns / 1e9);
    free(rows);
    free(ref);
    return rc;
}

int stream_target(const struct cfg *cfg, char *out, size_t n, struct smfs_err *err)
{
    const struct cfg_bus *b = NULL;
    for (size_t i = 0; cfg->sm.source && i < cfg->nbuses; i++)
        if (!strcmp(cfg->buses[i].name, cfg->sm.source)) b = &cfg->buses[i];
    if (!b) return err_set(err, -ENOENT, "elements.sm.source names no bus");
    if (b->protocol && !strcmp(b->protocol, "rt"))
        return err_set(err, -ENOTSUP, "bus %s: protocol rt is kdb Insights' Reliable Transport, which smfs does not "
                       "speak: use protocol tp (a kdb+tick tickerplant)", b->name);
    const char *node = b->nodes.n ? b->nodes.v[0] : NULL;
    char env[256];
    if (!node) {
        const char *e = getenv("KXI_RT_NODES");
        if (!e || !*e) return err_set(err, -ENOENT, "bus %s has no nodes and $KXI_RT_NODES is not set", b->name);
        snprintf(env, sizeof env, "%.*s", (int)strcspn(e, ", "), e);   /* the first of a list */
        node = env;
    }
    if (strlen(node) >= n) return err_set(err, -ENAMETOOLONG, "bus %s: node '%s' is too long", b->name, node);
    snprintf(out, n, "%s", node);
    return 0;
}
