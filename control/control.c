/* control/control.c: see control.h. This file: the two threads, the writer's jobs, the
 * admin socket and SIGHUP. The SM API and metrics are in control_api.c. */
#include "control_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/import.h"
#include "core/k_fmt.h"
#include "core/log.h"
#include "core/notify.h"
#include "core/writedown.h"

int64_t ctl_now_rt(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void push(struct job **q, struct job *j)
{
    j->next = NULL;
    while (*q) q = &(*q)->next;
    *q = j;
}

static void note_free(struct commit_note *n)
{
    if (!n) return;
    free(n->sigs);
    if (n->old) store_snap_put(n->old);
    free(n);
}

static void job_free(struct job *j)
{
    json_decref(j->body);
    json_decref(j->reply);
    note_free(j->note);
    free(j);
}

uint64_t ctl_current(struct control *c)
{
    return c->o.hooks.current(c->o.hooks.arg);
}

/* ---- reload signals of a version -------------------------------------------------- */

static int64_t unix_of_days(int32_t qdays)
{
    return k_unix_ns_from_ts((int64_t)qdays * K_NS_PER_DAY);
}

/* The first and last date partition of SNAP over every local date tier. */
static int date_range(struct control *c, struct store_snap *snap, int32_t *lo, int32_t *hi,
                      struct smfs_err *err)
{
    enum { BATCH = 256 };
    const struct cfg *cfg = c->o.cfg;
    struct store_entry *ents = malloc(BATCH * sizeof *ents);
    if (!ents) return err_set(err, -ENOMEM, "out of memory");
    *lo = INT32_MAX;
    *hi = INT32_MIN;
    int rc = 0;
    for (size_t t = 0; t < cfg->ndate && !rc; t++) {
        const char *seg = cfg->date_tiers[t]->segment;
        struct store_entry d;
        if (!seg) continue;
        rc = store_lookup(snap, seg, &d, err);
        if (rc == -ENOENT || (!rc && d.kind != STORE_DIR)) {
            rc = 0;
            continue;
        }
        for (uint64_t at = 0; !rc;) {
            size_t n = 0;
            rc = store_dir_read(c->o.store, d.id, at, ents, BATCH, &n, err);
            for (size_t i = 0; !rc && i < n; i++) {
                int32_t day;
                if (ents[i].kind != STORE_DIR || !k_parse_date(ents[i].name, &day)) continue;
                if (day < *lo) *lo = day;
                if (day > *hi) *hi = day;
            }
            if (n < BATCH) break;
            at += n;
        }
    }
    free(ents);
    return rc;
}

/* sm-spec §4.1 for the mounts of an assembly whose only written tiers are dates:
 *   date mount     minTS = first day 00:00, maxTS = last day's last nanosecond
 *   ordinal mount  minTS = HDB maxTS + 1ns, maxTS = the end of the last interval the
 *                  IDB holds (or minTS - 1ns: nothing since the HDB's end)
 *   stream mount   minTS = IDB maxTS + 1ns (HDB maxTS + 1ns without one); startTS, endTS, pos those of the _prtnEnd
 *                  the writedown followed (null for an ingest)
 * An empty HDB has null bounds everywhere. */
int ctl_signals(struct control *c, struct store_snap *snap, int64_t ts, const struct cfg_mount *changed,
                const struct prtn_end *pe, struct reload_signal **out, size_t *n, struct smfs_err *err)
{
    const struct cfg *cfg = c->o.cfg;
    int32_t lo, hi;
    int64_t idb_end = KNULL_J;
    int rc = date_range(c, snap, &lo, &hi, err);
    if (!rc) rc = writedown_idb_end(c->o.store, snap, &idb_end, err);
    if (rc) return rc;
    struct reload_signal *sigs = calloc(cfg->nmounts ? cfg->nmounts : 1, sizeof *sigs);
    if (!sigs) return err_set(err, -ENOMEM, "out of memory");
    int64_t hmin = lo <= hi ? unix_of_days(lo) : KNULL_J;
    int64_t hmax = lo <= hi ? unix_of_days(hi + 1) - 1 : KNULL_J;
    int64_t after = hmax == KNULL_J ? KNULL_J : hmax + 1;
    for (size_t i = 0; i < cfg->nmounts; i++) {
        const struct cfg_mount *m = &cfg->mounts[i];
        struct reload_signal *g = &sigs[i];
        *g = (struct reload_signal){.mount = m, .version = store_snap_version(snap), .ts = ts,
                                    .min_ts = KNULL_J, .max_ts = KNULL_J, .start_ts = KNULL_J,
                                    .end_ts = KNULL_J, .pos = KNULL_J, .changed = m == changed};
        if (m->type == CFG_MOUNT_STREAM) {   /* from the IDB's end, else the HDB's */
            g->min_ts = idb_end != KNULL_J ? idb_end + 1 : after;
            if (pe) {
                g->start_ts = pe->start_ts;
                g->end_ts = pe->end_ts;
                g->pos = pe->pos;
            }
        } else if (m->partition == CFG_PART_DATE) {
            g->min_ts = hmin;
            g->max_ts = hmax;
        } else {   /* the IDB: from the HDB's end to the last interval written */
            g->min_ts = after;
            g->max_ts = idb_end != KNULL_J ? idb_end : hmax;
        }
    }
    *out = sigs;
    *n = cfg->nmounts;
    return 0;
}

/* ---- writer jobs --------------------------------------------------------------- */

void ctl_diag_note(void *arg, const char *line)
{
    struct ctl_diag *d = arg;
    if (d->log_as) log_warn("%s: %s", d->log_as, line);
    json_array_append_new(d->lines, admin_str(line));
}

void ctl_diag_progress(void *arg, const char *current, uint64_t done, uint64_t total)
{
    struct ctl_diag *d = arg;
    ctl_job_progress(d->c, d->phase, current, done, total, 0, 0);
}

/* What the current version holds per tier, for /metrics (writer thread, or before the
 * threads start): an index walk, no object is read. */
void ctl_note_usage(struct control *c)
{
    struct store_snap *snap = NULL;
    struct store_usage u;
    struct smfs_err e = {0};
    uint64_t cur = ctl_current(c);
    if (!cur || store_snap_get(c->o.store, cur, &snap, &e) || store_snap_usage(c->o.store, snap, &u, &e)) {
        if (e.msg[0]) log_warn("tier usage of version %llu: %s", (unsigned long long)cur, e.msg);
        if (snap) store_snap_put(snap);
        return;
    }
    store_snap_put(snap);
    pthread_mutex_lock(&c->mu);
    c->usage = u;
    c->usage_version = cur;
    pthread_mutex_unlock(&c->mu);
}

/* After a commit: pin the version being replaced, publish the new one, compute the
 * new signals. The order matters:
 *   - the pin comes before the publish, so the old version cannot be vacuumed in the
 *     gap between the view letting it go and the reload registry taking it (vacuum
 *     also runs on this thread, but the pin makes that independent of scheduling);
 *   - the signals are sent (by the loop, after this returns) only once the view and
 *     the kernel show the new version, so a client that reloads on its callback
 *     finds it. */
int ctl_publish_commit(struct control *c, int64_t start_rt, const struct cfg_mount *changed,
                       const struct prtn_end *pe, struct commit_note **out, struct smfs_err *err)
{
    struct commit_note *note = calloc(1, sizeof *note);
    if (!note) return err_set(err, -ENOMEM, "out of memory");
    uint64_t old = ctl_current(c), shown = 0;
    struct smfs_err he = {0};
    if (old && store_snap_get(c->o.store, old, &note->old, &he)) {
        log_warn("version %llu could not be held for acknowledgements: %s", (unsigned long long)old, he.msg);
        note->old = NULL;
    }
    int rc = c->o.hooks.publish(c->o.hooks.arg, &shown, err);
    note->published_mono = ev_now_ns();
    uint64_t now = ctl_current(c);
    struct store_snap *cur = NULL;
    if (!rc) log_info("version %llu is live (was %llu)", (unsigned long long)now, (unsigned long long)shown);
    if (!rc) rc = store_snap_get(c->o.store, now, &cur, err);
    if (!rc) rc = ctl_signals(c, cur, start_rt, changed, pe, &note->sigs, &note->n, err);
    if (cur) store_snap_put(cur);
    if (rc) {
        note_free(note);
        return rc;
    }
    *out = note;
    return 0;
}

/* Writer thread: where the running job is, for status (under mu, briefly). */
void ctl_job_progress(struct control *c, const char *phase, const char *current, uint64_t done, uint64_t total,
                      uint64_t bytes_done, uint64_t bytes_total)
{
    pthread_mutex_lock(&c->mu);
    snprintf(c->job.phase, sizeof c->job.phase, "%s", phase);
    snprintf(c->job.current, sizeof c->job.current, "%s", current ? current : "");
    c->job.done = done;
    c->job.total = total;
    c->job.bytes_done = bytes_done;
    c->job.bytes_total = bytes_total;
    pthread_mutex_unlock(&c->mu);
}

static void on_ingest_progress(void *arg, const struct import_progress *p)
{
    struct ctl_diag *d = arg;
    ctl_job_progress(d->c, p->phase, p->current, p->parts_done, p->parts_total, p->bytes_done, p->bytes_total);
}

static void on_verify_progress(void *arg, const struct store_verify_progress *p)
{
    struct ctl_diag *d = arg;
    ctl_job_progress(d->c, "verify", NULL, p->objects_done, p->objects_total, p->bytes_done, p->bytes_total);
}

static json_t *run_ingest(struct control *c, json_t *body, struct commit_note **note)
{
    const char *dir = json_string_value(json_object_get(body, "dir"));
    if (!dir) return admin_error("ingest needs \"dir\": the staging directory");
    json_t *verify = json_object_get(body, "verify");
    json_t *diag = json_array();
    struct ctl_diag dc = {.c = c, .lines = diag};
    struct ingest_opts io = {
        .cfg = c->o.cfg,
        .staging = dir,
        .verify = verify ? json_is_true(verify) : true,
        .dry_run = json_is_true(json_object_get(body, "dry_run")),
        .keep_staging = json_is_true(json_object_get(body, "keep_staging")),
        .diag = ctl_diag_note,
        .progress = on_ingest_progress,
        .arg = &dc,
    };
    struct ingest_summary sum;
    struct smfs_err e = {0};
    int64_t start_rt = ctl_now_rt();
    int rc = ingest_run(c->o.store, &io, &sum, &e);
    if (rc) {
        log_warn("ingest %s: %s", dir, e.msg);
        json_t *r = admin_error("%s", e.msg);
        json_object_set_new(r, "diag", diag);
        return r;
    }
    int64_t committed_rt = ctl_now_rt(), published_rt = 0;
    if (!io.dry_run) {
        struct smfs_err pe = {0};
        if (ctl_publish_commit(c, start_rt, c->o.cfg->hdb, NULL, note, &pe)) {
            /* The commit is durable; only what readers see lags. Say so, loudly. */
            log_err("version %llu committed but not published: %s", (unsigned long long)sum.version, pe.msg);
            json_t *r = admin_error("version %llu committed but not published: %s",
                                    (unsigned long long)sum.version, pe.msg);
            json_object_set_new(r, "diag", diag);
            return r;
        }
        published_rt = ctl_now_rt();
        (*note)->commit_s_ns = committed_rt - start_rt;
        ctl_note_usage(c);
        log_info("ingest %s: version %llu (%llu added, %llu replaced, %llu files)", dir,
                 (unsigned long long)sum.version, (unsigned long long)sum.added,
                 (unsigned long long)sum.replaced, (unsigned long long)sum.files);
    }
    return json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "ok", 1,
                     "version", (json_int_t)sum.version, "added", (json_int_t)sum.added,
                     "replaced", (json_int_t)sum.replaced, "tables", (json_int_t)sum.tables,
                     "files", (json_int_t)sum.files, "bytes", (json_int_t)sum.bytes,
                     "filled", (json_int_t)sum.filled, "new_symbols", (json_int_t)sum.new_symbols,
                     "remapped", (json_int_t)sum.remapped, "root_tables", (json_int_t)sum.root_tables,
                     "committed_ns", (json_int_t)committed_rt,
                     "published_ns", (json_int_t)published_rt,
                     "diag", diag);
}

/* Whether a vacuum keeping KEEP would drop anything: some version beyond the newest
 * KEEP that nobody pins. Saves a whole-store sweep after every close. */
static bool droppable(struct control *c, uint32_t keep)
{
    struct store_version *v = NULL;
    size_t n = 0;
    struct smfs_err e = {0};
    if (store_versions(c->o.store, &v, &n, &e)) return true;   /* let vacuum say what is wrong */
    bool any = false;
    uint64_t cur = store_current(c->o.store);
    for (size_t i = 0; i + keep < n; i++)
        if (!v[i].pins && v[i].version != cur) any = true;
    store_versions_free(v, n);
    return any;
}

static json_t *run_vacuum(struct control *c, json_t *body, bool automatic)
{
    json_t *k = json_object_get(body, "keep");
    json_int_t keep = k ? json_integer_value(k) : 1;
    if (keep < 1 || keep > UINT32_MAX) return admin_error("vacuum: \"keep\" must be a whole number >= 1");
    if (automatic && !droppable(c, (uint32_t)keep)) return json_pack("{s:b,s:i}", "ok", 1, "versions_dropped", 0);
    struct store_vacuum_opts vo = {.keep = (uint32_t)keep};
    struct store_vacuum_report rep;
    struct smfs_err e = {0};
    int rc = store_vacuum(c->o.store, &vo, &rep, &e);
    if (!rc && c->o.hooks.vacuumed) rc = c->o.hooks.vacuumed(c->o.hooks.arg, &e);
    if (rc) {
        if (automatic) log_err("automatic vacuum: %s", e.msg);
        return admin_error("vacuum: %s", e.msg);
    }
    if (rep.versions_dropped || !automatic)
        log_info("%svacuum: %u versions dropped, %llu objects (%llu bytes) removed", automatic ? "automatic " : "",
                 rep.versions_dropped, (unsigned long long)rep.objects_removed,
                 (unsigned long long)rep.object_bytes);
    return json_pack("{s:b,s:i,s:i,s:I,s:I,s:i,s:I}", "ok", 1,
                     "versions_dropped", (int)rep.versions_dropped, "versions_kept", (int)rep.versions_kept,
                     "objects_removed", (json_int_t)rep.objects_removed,
                     "object_bytes", (json_int_t)rep.object_bytes, "packs_removed", (int)rep.packs_removed,
                     "pack_bytes", (json_int_t)rep.pack_bytes);
}

static json_t *run_verify(struct control *c)
{
    json_t *problems = json_array();
    struct ctl_diag dc = {.c = c, .lines = problems};
    struct store_verify_report rep = {0};
    struct smfs_err e = {0};
    int rc = store_verify_with_progress(c->o.store, ctl_diag_note, on_verify_progress, &dc, &rep, &e);
    json_t *r = json_pack("{s:b,s:i,s:i,s:I,s:I,s:I,s:I,s:o}", "ok", rc == 0, "versions", (int)rep.versions,
                          "trees", (int)rep.trees, "objects", (json_int_t)rep.objects,
                          "bytes", (json_int_t)rep.bytes, "unchecked", (json_int_t)rep.unchecked,
                          "problems", (json_int_t)rep.problems, "diag", problems);
    if (r) json_object_set_new(r, "remote", json_integer((json_int_t)rep.remote));
    if (rc && r) json_object_set_new(r, "error", admin_str(e.msg));
    if (rc) log_err("verify: %s", e.msg);
    return r;
}

static json_t *run_repair(struct control *c)
{
    struct smfs_err e = {0};
    if (!store_broken(c->o.store, NULL, 0)) return json_pack("{s:b}", "ok", 1);
    if (store_repair(c->o.store, &e)) return admin_error("%s", e.msg);
    log_info("store: index writes resume (the log was cut back to its last sync point)");
    return json_pack("{s:b}", "ok", 1);
}

static void *writer_main(void *arg)
{
    struct control *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->todo && !c->stopping) pthread_cond_wait(&c->cv, &c->mu);
        if (c->stopping) break;
        struct job *j = c->todo;
        c->todo = j->next;
        c->job = (struct job_state){.running = true, .started_ns = ctl_now_rt()};
        snprintf(c->job.cmd, sizeof c->job.cmd, "%s", j->cmd);
        pthread_mutex_unlock(&c->mu);
        if (!strcmp(j->cmd, "ingest")) j->reply = run_ingest(c, j->body, &j->note);
        else if (!strcmp(j->cmd, "verify")) j->reply = run_verify(c);
        else if (!strcmp(j->cmd, "repair")) j->reply = run_repair(c);
        else if (!strcmp(j->cmd, "eod")) j->reply = ctl_eod_run(c, j->body, &j->note);
        else if (!strcmp(j->cmd, "eoi")) j->reply = ctl_eoi_run(c, j->body, &j->note);
        else if (!strcmp(j->cmd, "migrate")) j->reply = ctl_migrate_run(c, j->body, j->plain, &j->note);
        else j->reply = run_vacuum(c, j->body, j->req == 0);
        pthread_mutex_lock(&c->mu);
        c->job.running = false;
        push(&c->done, j);
        ev_wake(c->loop);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void ctl_enqueue(struct control *c, struct job *j)
{
    pthread_mutex_lock(&c->mu);
    push(&c->todo, j);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* One automatic vacuum at a time; a request while one is queued or running asks for
 * another afterwards (what it should reclaim may have been pinned when it looked). */
void ctl_queue_vacuum(struct control *c)
{
    if (!c->o.auto_vacuum) return;
    if (c->vacuum_queued) {
        c->vacuum_again = true;
        return;
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j || !(j->body = json_pack("{s:I}", "keep", (json_int_t)(c->o.keep_versions ? c->o.keep_versions : 1)))) {
        free(j);
        log_err("automatic vacuum: out of memory");
        return;
    }
    snprintf(j->cmd, sizeof j->cmd, "vacuum");
    c->vacuum_queued = true;
    c->vacuum_again = false;
    ctl_enqueue(c, j);
}

/* ---- the loop thread --------------------------------------------------------------- */

static void on_wake(struct ev_loop *loop, void *arg)
{
    (void)loop;
    struct control *c = arg;
    pthread_mutex_lock(&c->mu);
    struct job *d = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    while (d) {
        struct job *n = d->next;
        bool ok = d->reply && json_is_true(json_object_get(d->reply, "ok"));
        if (!strcmp(d->cmd, "ingest")) {
            if (d->note) c->n.commits++;
            else if (!ok) c->n.ingest_errors++;
        } else if (!strcmp(d->cmd, "vacuum")) {
            c->n.vacuums++;
            c->n.vacuum_versions += (uint64_t)json_integer_value(json_object_get(d->reply, "versions_dropped"));
        } else if (!strcmp(d->cmd, "verify")) {
            c->n.verifies++;
        } else if (!strcmp(d->cmd, "migrate")) {
            if (d->note) c->n.commits++;
        } else if (!strcmp(d->cmd, "eod") || !strcmp(d->cmd, "eoi")) {
            if (d->note) c->n.commits++;
            ctl_eod_done(c, d);
        }
        if (d->note) {
            api_commit(c, d->note);   /* takes the pin the note holds */
        }
        if (d->req) {
            admin_reply(c->admin, d->req, d->reply);
            d->reply = NULL;
        } else if (!strcmp(d->cmd, "repair")) {
            c->repair_queued = false;
        } else if (!strcmp(d->cmd, "vacuum")) {
            c->vacuum_queued = false;
            if (c->vacuum_again) ctl_queue_vacuum(c);
        }
        job_free(d);
        d = n;
    }
    if (atomic_exchange(&c->unpinned, false)) ctl_queue_vacuum(c);
}

/* Any thread, possibly a FUSE thread under the view's lock: note it and wake the
 * loop, nothing more (the loop queues the vacuum). */
void control_unpinned(struct control *c)
{
    atomic_store(&c->unpinned, true);
    ev_wake(c->loop);
}

static void on_signal(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop, (void)events, (void)arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo != SIGHUP) continue;
        /* logrotate's convention: SIGHUP reopens the log file. */
        notify_reloading(true);
        int rc = log_reopen();
        if (rc) log_err("SIGHUP: cannot reopen the log file: %s", strerror(-rc));
        else log_info("SIGHUP: log reopened");
        notify_reloading(false);
    }
}

static json_t *versions_json(struct control *c)
{
    struct store_version *v = NULL;
    size_t n = 0;
    struct smfs_err e = {0};
    if (store_versions(c->o.store, &v, &n, &e)) return admin_error("%s", e.msg);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *kind = "";
        for (size_t k = 0; k < v[i].nkv; k++)
            if (!strcmp(v[i].key[k], "kind")) kind = v[i].val[k];
        json_array_append_new(arr, json_pack("{s:I,s:I,s:s,s:i}", "version", (json_int_t)v[i].version,
                                             "time_ns", (json_int_t)v[i].time_ns, "kind", kind,
                                             "pins", (int)v[i].pins));
    }
    store_versions_free(v, n);
    return json_pack("{s:b,s:I,s:o}", "ok", 1, "current", (json_int_t)ctl_current(c),
                     "versions", arr);
}

static void on_admin(struct admin *a, uint64_t req, const char *cmd, json_t *body, void *arg)
{
    struct control *c = arg;
    if (!strcmp(cmd, "status")) {
        admin_reply(a, req, api_status_json(c));
        return;
    }
    if (!strcmp(cmd, "versions")) {
        admin_reply(a, req, versions_json(c));
        return;
    }
    if (!strcmp(cmd, "clients")) {
        admin_reply(a, req, api_clients_json(c));
        return;
    }
    if (!strcmp(cmd, "stop")) {
        log_info("stop requested over the admin socket");
        admin_reply(a, req, json_pack("{s:b}", "ok", 1));
        /* Main's hook ends the FUSE session (or the symlink mode's wait); main then
         * unmounts and calls control_stop, as after a SIGTERM. */
        c->o.hooks.stop(c->o.hooks.arg);
        return;
    }
    if (!strcmp(cmd, "eod")) {
        ctl_eod_manual(c, req, body);
        return;
    }
    if (!strcmp(cmd, "stream-rows")) {
        if (c->stream) stream_request(c->stream, req, "rows", body);
        else admin_reply(a, req, admin_error("the stream is off: %s", c->stream_off));
        return;
    }
    if (!strcmp(cmd, "migrate")) {
        ctl_migrate_queue(c, req, body);
        return;
    }
    if (strcmp(cmd, "ingest") && strcmp(cmd, "vacuum") && strcmp(cmd, "verify")) {
        admin_reply(a, req, admin_error("unknown command '%.64s' (known: status, clients, versions, "
                                        "ingest, vacuum, verify, migrate, stream-rows, eod, stop)", cmd));
        return;
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        admin_reply(a, req, NULL);
        return;
    }
    j->req = req;
    snprintf(j->cmd, sizeof j->cmd, "%s", cmd);
    j->body = json_incref(body);
    ctl_enqueue(c, j);
}

/* Every few seconds: a store whose index write failed (a full disk) tries to cut its
 * log back by itself, so writes resume once space allows, without a restart. */
static int64_t on_health_timer(struct ev_loop *loop, void *arg)
{
    (void)loop;
    struct control *c = arg;
    if (!c->repair_queued && store_broken(c->o.store, NULL, 0)) {
        struct job *j = calloc(1, sizeof *j);
        if (j) {
            snprintf(j->cmd, sizeof j->cmd, "repair");
            c->repair_queued = true;
            ctl_enqueue(c, j);
        }
    }
    return CTL_HEALTH_MS;
}

/* ---- the stream ------------------------------------------------------------------- */

static void on_interval(void *arg, const char *dir, int64_t k, const uint64_t *from, const uint64_t *to,
                        int64_t end_ns)
{
    ctl_eoi_cut(arg, dir, k, from, to, end_ns);
}

/* A day's rows are sealed: the writedown takes them from here. */
static void on_sealed(void *arg, const char *dir, int32_t date)
{
    ctl_eod_sealed(arg, dir, date);
}

/* The stream thread answered an admin request: hand it to the loop, which replies. */
static void on_stream_answer(void *arg, uint64_t req, json_t *reply)
{
    struct control *c = arg;
    if (json_is_true(json_object_get(reply, "eod")) && !json_is_true(json_object_get(reply, "ok"))) {
        pthread_mutex_lock(&c->mu);
        snprintf(c->eod.manual, sizeof c->eod.manual, "failed");
        snprintf(c->eod.error, sizeof c->eod.error, "%s", json_string_value(json_object_get(reply, "error")) ?: "");
        pthread_mutex_unlock(&c->mu);
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        json_decref(reply);
        log_err("stream: out of memory: admin request %llu is not answered", (unsigned long long)req);
        return;
    }
    j->req = req;
    snprintf(j->cmd, sizeof j->cmd, "stream");
    j->reply = reply;
    pthread_mutex_lock(&c->mu);
    push(&c->done, j);
    pthread_mutex_unlock(&c->mu);
    ev_wake(c->loop);
}

/* The stream is a part of the daemon that may be away (no tickerplant configured, a
 * protocol smfs does not speak): the daemon serves the database regardless, and
 * status says why there is no stream. */
static int start_stream(struct control *c, struct smfs_err *err)
{
    const struct control_opts *o = &c->o;
    if (o->stream_off) {
        snprintf(c->stream_off, sizeof c->stream_off, "%s", o->stream_off);
        return 0;
    }
    struct smfs_err e = {0};
    if (stream_target(o->cfg, c->stream_target, sizeof c->stream_target, &e)) {
        snprintf(c->stream_off, sizeof c->stream_off, "%s", e.msg);
        log_warn("stream: off: %s", e.msg);
        return 0;
    }
    char dir[4200];
    if (o->stream_dir) snprintf(dir, sizeof dir, "%s", o->stream_dir);
    else if (o->cfg->hdb && o->cfg->hdb->base.path) snprintf(dir, sizeof dir, "%s/stream", o->cfg->hdb->base.path);
    else return err_set(err, -EINVAL, "the stream needs a directory: the assembly has no local date mount");
    struct stream_opts so = {
        .cfg = o->cfg, .target = c->stream_target, .creds = o->tp_creds, .dir = dir, .log_dir = o->tp_log_dir,
        .budget = o->stream_budget, .checkpoint_ms = o->stream_checkpoint_ms,
        .wait_ms = o->cfg->sm.wait_ms > 0 && o->cfg->sm.wait_ms < 30000 ? (int)o->cfg->sm.wait_ms : 0,
        .sealed = on_sealed, .answer = on_stream_answer, .arg = c,
        .interval = o->cfg->ordinal_tier ? on_interval : NULL,
        .eoi_freq_ns = o->cfg->ordinal_tier ? o->cfg->ordinal_tier->freq_ns : 0,
        .eoi_offset_ns = o->cfg->ordinal_tier ? o->cfg->ordinal_tier->offset_ns : 0,
    };
    return stream_start(&so, &c->stream, err);
}

/* The service manager's watchdog: the loop answering is what it watches. */
static int64_t on_watchdog(struct ev_loop *loop, void *arg)
{
    (void)loop, (void)arg;
    notify_watchdog();
    return (int64_t)(notify_watchdog_usec() / 2000);
}

static void *loop_main(void *arg)
{
    struct control *c = arg;
    struct smfs_err e = {0};
    if (ev_run(c->loop, &e)) log_err("control loop: %s", e.msg);
    return NULL;
}

/* elements.sm.reloadTimeout, else the EOI interval (the ordinal tier's freq), else
 * its default of ten minutes. */
static int64_t reload_timeout(const struct cfg *cfg)
{
    if (cfg->sm.reload_timeout_ns > 0) return cfg->sm.reload_timeout_ns;
    if (cfg->ordinal_tier && cfg->ordinal_tier->freq_ns > 0) return cfg->ordinal_tier->freq_ns;
    return INT64_C(600) * 1000000000;
}

int control_start(const struct control_opts *o, struct control **out, struct smfs_err *err)
{
    struct control *c = calloc(1, sizeof *c);
    if (!c) return err_set(err, -ENOMEM, "out of memory");
    c->o = *o;
    c->sigfd = -1;
    c->started_ns = ctl_now_rt();
    c->commit_hist.le = metrics_commit_le;
    c->fanout_hist.le = metrics_fanout_le;
    c->reload_timeout_ns = reload_timeout(o->cfg);
    atomic_init(&c->unpinned, false);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int rc = ev_new(&c->loop, err);
    if (!rc) rc = admin_new(c->loop, o->admin_path, on_admin, c, &c->admin, err);
    if (!rc) rc = api_start(c, err);
    if (!rc) {
        /* SIGHUP is blocked in every thread (main blocks it before any starts), so it
         * waits here for the loop instead of killing the daemon. */
        sigset_t hup;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        c->sigfd = signalfd(-1, &hup, SFD_NONBLOCK | SFD_CLOEXEC);
        rc = c->sigfd < 0 ? err_sys(err, "signalfd", NULL) : ev_add(c->loop, c->sigfd, EV_READ, on_signal, c, err);
    }
    if (rc) {
        control_stop(c);
        return rc;
    }
    ev_set_wake(c->loop, on_wake, c);
    ctl_note_usage(c);
    uint64_t wd = notify_watchdog_usec();
    if (wd && ev_timer_add(c->loop, (int64_t)(wd / 2000 ? wd / 2000 : 1), on_watchdog, c) < 0) {
        control_stop(c);
        return err_set(err, -ENOMEM, "out of memory");
    }
    if (ev_timer_add(c->loop, CTL_HEALTH_MS, on_health_timer, c) < 0) {
        control_stop(c);
        return err_set(err, -ENOMEM, "out of memory");
    }
    /* Threads inherit the mask: these two never take the stop signals. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    rc = pthread_create(&c->writer_th, NULL, writer_main, c);
    c->writer_started = rc == 0;
    if (!rc) {
        rc = pthread_create(&c->loop_th, NULL, loop_main, c);
        c->loop_started = rc == 0;
    }
    if (rc) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        control_stop(c);
        return err_set(err, -rc, "could not start the control threads: %s", strerror(rc));
    }
    rc = start_stream(c, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        control_stop(c);
        return rc;
    }
    log_info("admin socket %s", o->admin_path);
    *out = c;
    return 0;
}

void control_stop(struct control *c)
{
    if (!c) return;
    /* First: its last checkpoint, and no more answers for the loop. */
    stream_stop(c->stream);
    c->stream = NULL;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    /* A running ingest finishes first: its commit is durable either way, and
     * stopping in the middle would only leave staging files to clean. */
    if (c->writer_started) pthread_join(c->writer_th, NULL);
    if (c->loop_started) {
        ev_stop_async(c->loop);
        pthread_join(c->loop_th, NULL);
    }
    for (struct job *q = c->todo; q;) {
        struct job *n = q->next;
        job_free(q);
        q = n;
    }
    for (struct job *q = c->done; q;) {
        struct job *n = q->next;
        job_free(q);
        q = n;
    }
    api_stop(c);
    admin_free(c->admin);
    if (c->sigfd >= 0) {
        if (c->loop) ev_del(c->loop, c->sigfd);
        close(c->sigfd);
    }
    if (c->loop) ev_free(c->loop);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int control_q_port(const struct control *c)
{
    return c && c->q ? ipc_server_port(c->q) : -1;
}

int control_http_port(const struct control *c)
{
    return c && c->http ? http_port(c->http) : -1;
}
