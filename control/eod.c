/* control/eod.c: end of day in the daemon. The stream seals a day's rows (at .u.end,
 * at a manual EOD, or finding a finished log at a restart); the sealed spill becomes a
 * writer job: _prtnEnd on the stream, the writedown as one commit (core/writedown),
 * the new version shown to readers and its reload signals (HDB, then IDB, then stream
 * registrants), then the spill removed. A failed writedown keeps the spill and is
 * tried again every CTL_EOD_RETRY_MS; a spill already written (a crash between the
 * commit and its removal) is recognised by the marker in the version and removed.
 *
 * Order, and the crash each step's place prevents:
 *   commit (durable) → publish → remove the spill
 * a crash before the commit leaves the spill, written at the next start; after it,
 * the marker says the spill is in the database, so the next start only removes it. */
#include "control_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/k_fmt.h"
#include "core/log.h"
#include "core/spill.h"
#include "core/tiers.h"
#include "core/writedown.h"

void ctl_eod_sealed(struct control *c, const char *dir, int32_t date)
{
    struct job *j = calloc(1, sizeof *j);
    char ds[16];
    k_date_str(date, ds);
    if (!j || !(j->body = json_pack("{s:s,s:s}", "dir", dir, "date", ds))) {
        free(j);
        log_err("eod: out of memory: %s (%s) waits for the next start", dir, ds);
        return;
    }
    snprintf(j->cmd, sizeof j->cmd, "eod");
    pthread_mutex_lock(&c->mu);
    c->eod.pending++;
    if (!strcmp(c->eod.manual, "pending")) snprintf(c->eod.manual, sizeof c->eod.manual, "queued");
    pthread_mutex_unlock(&c->mu);
    ctl_enqueue(c, j);
}

/* The oldest date a local tier keeps, measured at the start of the day after DATE:
 * older rows could only go to object storage (or nowhere), which the writedown does
 * not write. INT32_MIN when the last local date tier keeps everything. */
static int32_t oldest_kept(const struct cfg *cfg, int32_t date)
{
    const struct cfg_tier *last = NULL;
    for (size_t i = 0; i < cfg->ndate; i++)
        if (cfg->date_tiers[i]->segment) last = cfg->date_tiers[i];
    return tiers_oldest_kept(last, K_EPOCH_UNIX_NS + ((int64_t)date + 1) * K_NS_PER_DAY);
}

/* _prtnEnd (sm-spec §5.1, 1.2 schema): time, sym null as .rt.pub fills them; signal
 * `eod or `eoi; endTS the day's last nanosecond, or the interval's end; opts the day,
 * the rows and the stream position. */
static void prtn_end(struct control *c, const char *signal, int32_t date, uint64_t rows, const struct prtn_end *pe)
{
    if (!c->stream) return;
    struct k *cols = k_list(5), *t = k_vec(KT_TIMESPAN, 1), *s = k_vec(KT_SYM, 1), *sig = k_vec(KT_SYM, 1);
    struct k *end = k_vec(KT_TIMESTAMP, 1), *opts = k_list(1);
    const char *keys[] = {"date", "rows", "pos"};
    struct k *vals = k_list(3), *dict = NULL;
    bool ok = cols && t && s && sig && end && opts && vals && !k_symv_set(sig, 0, signal);
    if (ok) {
        ((int64_t *)t->u.v)[0] = KNULL_J;
        ((int64_t *)end->u.v)[0] = k_ts_from_unix_ns(pe->end_ts);
        k_list_set(vals, 0, k_date(date));
        k_list_set(vals, 1, k_long((int64_t)rows));
        k_list_set(vals, 2, k_long(pe->pos));
        dict = k_dict(k_symv(keys, 3), vals);
        vals = NULL;
        ok = dict != NULL;
    }
    if (!ok) {
        k_free(cols), k_free(t), k_free(s), k_free(sig), k_free(end), k_free(opts), k_free(vals);
        log_err("eod: out of memory: _prtnEnd is not published");
        return;
    }
    k_list_set(opts, 0, dict);
    k_list_set(cols, 0, t);
    k_list_set(cols, 1, s);
    k_list_set(cols, 2, sig);
    k_list_set(cols, 3, end);
    k_list_set(cols, 4, opts);
    stream_signal(c->stream, "_prtnEnd", cols);
}

static void manual_state(struct control *c, const char *st, const char *err)
{
    pthread_mutex_lock(&c->mu);
    if (c->eod.manual[0] && strcmp(c->eod.manual, "completed") && strcmp(c->eod.manual, "failed"))
        snprintf(c->eod.manual, sizeof c->eod.manual, "%s", st);
    if (err) snprintf(c->eod.error, sizeof c->eod.error, "%s", err);
    pthread_mutex_unlock(&c->mu);
}

json_t *ctl_eod_run(struct control *c, json_t *body, struct commit_note **note)
{
    const char *dir = json_string_value(json_object_get(body, "dir"));
    const char *ds = json_string_value(json_object_get(body, "date"));
    int32_t date;
    if (!dir || !ds || !k_parse_date(ds, &date)) return admin_error("eod: needs \"dir\" and \"date\"");
    manual_state(c, "processing", NULL);
    struct spill_opts so = {.cfg = c->o.cfg};
    struct spill *sp = NULL;
    struct smfs_err e = {0};
    int rc = spill_open(dir, &so, &sp, &e);
    if (rc == -ENOENT && access(dir, F_OK) != 0) {   /* written and removed already */
        pthread_mutex_lock(&c->mu);
        c->eod.pending -= c->eod.pending ? 1 : 0;
        pthread_mutex_unlock(&c->mu);
        return json_pack("{s:b,s:b}", "ok", 1, "already", 1);
    }
    if (!rc && !spill_sealed(sp, NULL)) rc = err_set(&e, -EINVAL, "spill %s is not sealed", dir);
    if (rc) {
        spill_close(sp);
        return admin_error("eod %s: %s", ds, e.msg);
    }
    const char *b = strrchr(dir, '/');
    char id[4400];
    snprintf(id, sizeof id, "%s:%s", b ? b + 1 : dir, spill_log(sp));
    uint64_t rows = 0;
    for (size_t i = 0; i < c->o.cfg->ntables; i++) rows += (uint64_t)spill_rows(sp, c->o.cfg->tables[i].name);
    /* The stream position, as the sample RT shim over tick.q numbers it. */
    int y, m, d;
    k_ymd_from_days(date, &y, &m, &d);
    struct prtn_end pe = {
        .start_ts = k_unix_ns_from_ts((int64_t)date * K_NS_PER_DAY),
        .end_ts = k_unix_ns_from_ts((int64_t)(date + 1) * K_NS_PER_DAY - 1),
        .pos = ((int64_t)y * 10000 + m * 100 + d) * INT64_C(100000000000) + (int64_t)spill_msgs(sp),
    };
    bool done = false;
    if (writedown_done(c->o.store, id, &done, &e) == 0 && !done) prtn_end(c, "eod", date, rows, &pe);
    json_t *diag = json_array();
    struct ctl_diag x = {.c = c, .lines = diag, .log_as = "eod", .phase = "write"};
    struct wd_opts o = {.cfg = c->o.cfg, .date = date, .id = id, .oldest = oldest_kept(c->o.cfg, date),
                        .note = ctl_diag_note, .progress = ctl_diag_progress, .arg = &x};
    struct wd_summary sum;
    int64_t start = ctl_now_rt();
    rc = writedown_eod(c->o.store, sp, &o, &sum, &e);
    int64_t committed = ctl_now_rt();
    if (rc) {
        spill_close(sp);
        log_err("eod %s: %s (the rows are kept; tried again in %d s)", ds, e.msg, CTL_EOD_RETRY_MS / 1000);
        pthread_mutex_lock(&c->mu);
        c->eod.failed++;
        snprintf(c->eod.error, sizeof c->eod.error, "%s: %.480s", ds, e.msg);
        pthread_mutex_unlock(&c->mu);
        json_t *r = admin_error("eod %s: %s", ds, e.msg);
        json_object_set_new(r, "diag", diag);
        return r;
    }
    if (!sum.already) {
        struct smfs_err pe2 = {0};
        if (ctl_publish_commit(c, start, c->o.cfg->hdb, &pe, note, &pe2))
            log_err("eod %s: version %" PRIu64 " committed but not published: %s", ds, sum.version, pe2.msg);
        else
            (*note)->commit_s_ns = committed - start;
        ctl_note_usage(c);
        log_info("eod %s: version %" PRIu64 ": %" PRIu64 " rows in %" PRIu64 " partitions (%" PRIu64 " late, %" PRIu64
                 " refused), %" PRIu64 " files, %" PRIu64 " bytes, %.3f s", ds, sum.version, sum.rows, sum.partitions,
                 sum.late_rows, sum.refused_rows, sum.files, sum.bytes, (double)(committed - start) / 1e9);
    } else {
        log_info("eod %s: %s was written before (version with marker %s): removing it", ds, dir, id);
    }
    spill_close(sp);
    if (spill_remove(dir, &e)) log_err("eod %s: the written spill could not be removed: %s", ds, e.msg);
    pthread_mutex_lock(&c->mu);
    c->eod.pending -= c->eod.pending ? 1 : 0;
    c->eod.done++;
    c->eod.error[0] = 0;
    if (!sum.already) {
        c->eod.has_last = true;
        c->eod.last_date = date;
        c->eod.last_ns = committed;
        c->eod.last_dur_ns = committed - start;
        c->eod.last_version = sum.version;
        c->eod.last_rows = sum.rows;
        c->eod.last_bytes = sum.bytes;
        c->eod.last_files = sum.files;
        c->eod.last_late = sum.late_rows;
        c->eod.last_refused = sum.refused_rows;
        c->eod.last_partitions = sum.partitions;
    }
    if (c->eod.manual[0] && strcmp(c->eod.manual, "completed")) snprintf(c->eod.manual, sizeof c->eod.manual, "completed");
    pthread_mutex_unlock(&c->mu);
    return json_pack("{s:b,s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "ok", 1, "already", sum.already, "date", ds,
                     "version", (json_int_t)sum.version, "rows", (json_int_t)sum.rows, "late_rows",
                     (json_int_t)sum.late_rows, "refused_rows", (json_int_t)sum.refused_rows, "partitions",
                     (json_int_t)sum.partitions, "files", (json_int_t)sum.files, "bytes", (json_int_t)sum.bytes,
                     "diag", diag);
}

struct retry {
    struct control *c;
    struct job     *j;
};

static int64_t on_retry(struct ev_loop *loop, void *arg)
{
    (void)loop;
    struct retry *r = arg;
    ctl_enqueue(r->c, r->j);
    free(r);
    return -1;
}

void ctl_eod_done(struct control *c, struct job *d)
{
    bool eoi = !strcmp(d->cmd, "eoi");
    if (json_is_true(json_object_get(d->reply, "ok"))) {
        /* Migration is the last step of the daily persistence: after the day is in. */
        if (!eoi) ctl_migrate_queue(c, 0, NULL);
        return;
    }
    /* Failed: the same job again later (the spill is still there). */
    struct job *j = calloc(1, sizeof *j);
    struct retry *r = malloc(sizeof *r);
    if (j && r) {
        snprintf(j->cmd, sizeof j->cmd, "%s", eoi ? "eoi" : "eod");
        j->body = json_incref(d->body);
        *r = (struct retry){c, j};
    }
    if (!j || !r || ev_timer_add(c->loop, CTL_EOD_RETRY_MS, on_retry, r) < 0) {
        if (j) json_decref(j->body);
        free(j);
        free(r);
        log_err("eod: out of memory: the failed writedown waits for the next start");
    }
    pthread_mutex_lock(&c->mu);
    if (!eoi && !strcmp(c->eod.manual, "processing")) snprintf(c->eod.manual, sizeof c->eod.manual, "failed");
    pthread_mutex_unlock(&c->mu);
}

void ctl_eod_manual(struct control *c, uint64_t req, json_t *body)
{
    if (!c->stream) {
        json_t *r = admin_error("eod: the stream is off (%s): there are no rows to write", c->stream_off);
        if (req) admin_reply(c->admin, req, r);
        else json_decref(r);
        return;
    }
    const char *ds = json_string_value(json_object_get(body, "date"));
    pthread_mutex_lock(&c->mu);
    snprintf(c->eod.manual, sizeof c->eod.manual, "pending");
    snprintf(c->eod.manual_date, sizeof c->eod.manual_date, "%s", ds ? ds : "");
    c->eod.manual_ns = ctl_now_rt();
    pthread_mutex_unlock(&c->mu);
    log_info("manual end of day requested%s%s", ds ? " for " : "", ds ? ds : "");
    stream_request(c->stream, req, "eod", body);
}

bool ctl_eod_busy(struct control *c, char *state, size_t n)
{
    pthread_mutex_lock(&c->mu);
    const char *m = c->eod.manual;
    bool busy = m[0] && strcmp(m, "completed") && strcmp(m, "failed");
    snprintf(state, n, "%s", m);
    pthread_mutex_unlock(&c->mu);
    return busy;
}

json_t *ctl_eod_json(struct control *c)
{
    pthread_mutex_lock(&c->mu);
    struct eod_state e = c->eod;
    pthread_mutex_unlock(&c->mu);
    json_t *r = json_pack("{s:I,s:I,s:I}", "pending", (json_int_t)e.pending, "done", (json_int_t)e.done, "failed",
                          (json_int_t)e.failed);
    if (e.error[0]) json_object_set_new(r, "error", admin_str(e.error));
    json_t *eoi = json_pack("{s:I,s:I}", "done", (json_int_t)e.eoi_done, "failed", (json_int_t)e.eoi_failed);
    if (e.has_eoi)
        json_object_set_new(eoi, "last", json_pack("{s:I,s:I,s:I,s:f,s:I,s:I}", "ordinal", (json_int_t)e.eoi_n,
                            "end_ns", (json_int_t)e.eoi_end_ns, "at_ns", (json_int_t)e.eoi_at_ns, "duration_s",
                            (double)e.eoi_dur_ns / 1e9, "rows", (json_int_t)e.eoi_rows, "version",
                            (json_int_t)e.eoi_version));
    json_object_set_new(r, "eoi", eoi);
    if (e.manual[0])
        json_object_set_new(r, "manual", json_pack("{s:s,s:s,s:I}", "state", e.manual, "date", e.manual_date,
                                                   "requested_ns", (json_int_t)e.manual_ns));
    if (e.has_last) {
        char ds[16];
        k_date_str(e.last_date, ds);
        json_object_set_new(r, "last", json_pack("{s:s,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "date", ds, "at_ns",
                            (json_int_t)e.last_ns, "duration_s", (double)e.last_dur_ns / 1e9, "version",
                            (json_int_t)e.last_version, "rows", (json_int_t)e.last_rows, "bytes",
                            (json_int_t)e.last_bytes, "files", (json_int_t)e.last_files, "late_rows",
                            (json_int_t)e.last_late, "refused_rows", (json_int_t)e.last_refused, "partitions",
                            (json_int_t)e.last_partitions));
    }
    return r;
}

/* ---- end of interval ------------------------------------------------------------------- */

void ctl_eoi_cut(struct control *c, const char *dir, int64_t k, const uint64_t *from, const uint64_t *to,
                 int64_t end_ns)
{
    json_t *f = json_array(), *t = json_array();
    for (size_t i = 0; i < c->o.cfg->ntables; i++) {
        json_array_append_new(f, json_integer((json_int_t)from[i]));
        json_array_append_new(t, json_integer((json_int_t)to[i]));
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j || !(j->body = json_pack("{s:s,s:I,s:o,s:o,s:I}", "dir", dir, "k", (json_int_t)k, "from", f, "to", t,
                                    "end_ns", (json_int_t)end_ns))) {
        free(j);
        log_err("eoi: out of memory: interval %lld of %s waits for the next start", (long long)k, dir);
        return;
    }
    snprintf(j->cmd, sizeof j->cmd, "eoi");
    ctl_enqueue(c, j);
}

json_t *ctl_eoi_run(struct control *c, json_t *body, struct commit_note **note)
{
    const char *dir = json_string_value(json_object_get(body, "dir"));
    json_int_t k = json_integer_value(json_object_get(body, "k"));
    int64_t end_ns = (int64_t)json_integer_value(json_object_get(body, "end_ns"));
    json_t *jf = json_object_get(body, "from"), *jt = json_object_get(body, "to");
    size_t nt = c->o.cfg->ntables;
    if (!dir || json_array_size(jf) != nt || json_array_size(jt) != nt) return admin_error("eoi: a malformed job");
    uint64_t *from = calloc(nt + 1, sizeof *from), *to = calloc(nt + 1, sizeof *to);
    if (!from || !to) {
        free(from);
        free(to);
        return admin_error("out of memory");
    }
    uint64_t rows = 0;
    for (size_t i = 0; i < nt; i++) {
        from[i] = (uint64_t)json_integer_value(json_array_get(jf, i));
        to[i] = (uint64_t)json_integer_value(json_array_get(jt, i));
        rows += to[i] - from[i];
    }
    struct spill_opts so = {.cfg = c->o.cfg};
    struct spill *sp = NULL;
    struct smfs_err e = {0};
    int rc = spill_open_ro(dir, &so, &sp, &e);
    if (rc == -ENOENT && access(dir, F_OK) != 0) {   /* its day was written and removed since */
        free(from);
        free(to);
        return json_pack("{s:b,s:b}", "ok", 1, "already", 1);
    }
    if (rc) {
        free(from);
        free(to);
        return admin_error("eoi %lld: %s", (long long)k, e.msg);
    }
    const char *b = strrchr(dir, '/');
    char id[4400];
    snprintf(id, sizeof id, "%s:%s", b ? b + 1 : dir, spill_log(sp));
    /* The interval's start: the end of the one before, or the day's first nanosecond. */
    int64_t start_ns = k > 0 && spill_eoi(sp, (size_t)k - 1) ? spill_eoi(sp, (size_t)k - 1)->end_ns
                                                            : k_unix_ns_from_ts(k_ts_from_unix_ns(end_ns) / K_NS_PER_DAY *
                                                                                K_NS_PER_DAY);
    int32_t day = (int32_t)(k_ts_from_unix_ns(end_ns) / K_NS_PER_DAY);
    int y, m, d;
    k_ymd_from_days(day, &y, &m, &d);
    struct prtn_end pe = {.start_ts = start_ns, .end_ts = end_ns,
                          .pos = ((int64_t)y * 10000 + m * 100 + d) * INT64_C(100000000000) + (int64_t)spill_msgs(sp)};
    struct wd_opts o = {.cfg = c->o.cfg, .id = id, .oldest = INT32_MIN, .interval = k, .from = from, .to = to,
                        .end_ns = end_ns};
    json_t *diag = json_array();
    struct ctl_diag x = {.c = c, .lines = diag, .log_as = "eod", .phase = "write"};
    o.note = ctl_diag_note;
    o.progress = ctl_diag_progress;
    o.arg = &x;
    struct wd_summary sum;
    prtn_end(c, "eoi", day, rows, &pe);
    int64_t start = ctl_now_rt();
    rc = writedown_eoi(c->o.store, sp, &o, &sum, &e);
    int64_t committed = ctl_now_rt();
    spill_close(sp);
    free(from);
    free(to);
    if (rc) {
        log_err("eoi %lld: %s (tried again in %d s)", (long long)k, e.msg, CTL_EOD_RETRY_MS / 1000);
        pthread_mutex_lock(&c->mu);
        c->eod.eoi_failed++;
        pthread_mutex_unlock(&c->mu);
        json_t *r = admin_error("eoi %lld: %s", (long long)k, e.msg);
        json_object_set_new(r, "diag", diag);
        return r;
    }
    if (!sum.already) {
        struct smfs_err pe2 = {0};
        const struct cfg_mount *idb = c->o.cfg->ordinal_tier ? c->o.cfg->ordinal_tier->mount : NULL;
        if (ctl_publish_commit(c, start, idb, &pe, note, &pe2))
            log_err("eoi %lld: version %" PRIu64 " committed but not published: %s", (long long)k, sum.version, pe2.msg);
        else
            (*note)->commit_s_ns = committed - start;
        log_info("eoi: version %" PRIu64 ": interval %lld of %s as idb/%lld, %" PRIu64 " rows, %.3f s", sum.version,
                 (long long)k, dir, (long long)sum.ordinal, sum.rows, (double)(committed - start) / 1e9);
        pthread_mutex_lock(&c->mu);
        c->eod.eoi_done++;
        c->eod.has_eoi = true;
        c->eod.eoi_n = sum.ordinal;
        c->eod.eoi_end_ns = end_ns;
        c->eod.eoi_at_ns = committed;
        c->eod.eoi_dur_ns = committed - start;
        c->eod.eoi_rows = sum.rows;
        c->eod.eoi_version = sum.version;
        pthread_mutex_unlock(&c->mu);
    }
    return json_pack("{s:b,s:b,s:I,s:I,s:I,s:o}", "ok", 1, "already", sum.already, "version",
                     (json_int_t)sum.version, "ordinal", (json_int_t)sum.ordinal, "rows", (json_int_t)sum.rows, "diag",
                     diag);
}
