/* control/migrate.c: tier migration and retention in the daemon (core/tiers does the
 * work). A migration is a writer job: after every end of day that committed (the last
 * step of the daily persistence, as in kdb Insights), on `smctl migrate` and on
 * POST /migrate. Its commit is published and signalled like any other, so readers of
 * the version before keep their files until they acknowledge.
 *
 * The clock a migration measures ages by is the wall clock, except that the admin
 * socket (its owner only) may name another "now": the tests walk a database through
 * its retention boundaries that way. POST /migrate cannot: a peer on the network must
 * not be able to age data out early. */
#include "control_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/k_fmt.h"
#include "core/log.h"
#include "core/tiers.h"

/* A tier whose filesystem is this share of its limit (retain.sizePct, else all of it)
 * is reported as filling, so an operator hears of it before writes fail. */
#define TIER_FILLING_PCT 90

void ctl_migrate_queue(struct control *c, uint64_t req, json_t *body)
{
    bool plain = !req && !json_object_get(body, "now_ns") && !json_is_true(json_object_get(body, "dry_run"));
    pthread_mutex_lock(&c->mu);
    bool covered = plain && c->migrate.waiting_plain;
    if (covered) c->migrate.coalesced++;
    pthread_mutex_unlock(&c->mu);
    if (covered) return;
    struct job *j = calloc(1, sizeof *j);
    if (!j || !(j->body = body ? json_incref(body) : json_object())) {
        free(j);
        log_err("migrate: out of memory: not queued");
        if (req) admin_reply(c->admin, req, NULL);
        return;
    }
    j->req = req;
    j->plain = plain;
    snprintf(j->cmd, sizeof j->cmd, "migrate");
    pthread_mutex_lock(&c->mu);
    c->migrate.queued++;
    c->migrate.waiting_plain += plain;
    pthread_mutex_unlock(&c->mu);
    ctl_enqueue(c, j);
}

static json_t *moves_json(const struct cfg *cfg, const struct tiers_summary *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->nmoves; i++) {
        const struct tier_move *m = &s->moves[i];
        char ds[11];
        k_date_str(m->date, ds);
        json_array_append_new(a, json_pack("{s:s,s:s,s:s?,s:s,s:b,s:I,s:I,s:I}", "date", ds,
            "from", cfg->date_tiers[m->from]->name,
            "to", m->to < (int)cfg->ndate ? cfg->date_tiers[m->to]->name : NULL,
            "why", m->why == TIER_AGE ? "age" : "size", "held", m->held,
            "files", (json_int_t)m->files, "bytes", (json_int_t)m->bytes, "bytes_out", (json_int_t)m->bytes_out));
    }
    return a;
}

json_t *ctl_migrate_run(struct control *c, json_t *body, bool plain, struct commit_note **note)
{
    /* Started: from here a new request may see a clock this run did not, so it queues
     * a run of its own. */
    if (plain) {
        pthread_mutex_lock(&c->mu);
        c->migrate.waiting_plain--;
        pthread_mutex_unlock(&c->mu);
    }
    /* POST /migrate refuses now_ns before queueing: only the admin socket gets here with it. */
    json_t *jn = json_object_get(body, "now_ns");
    if (jn && !json_is_integer(jn)) return admin_error("migrate: \"now_ns\" is a whole number of ns since 1970");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = jn ? (int64_t)json_integer_value(jn) : (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    json_t *diag = json_array();
    struct ctl_diag x = {.c = c, .lines = diag, .log_as = "migrate", .phase = "copy"};
    struct tiers_opts o = {.cfg = c->o.cfg, .now_ns = now, .dry_run = json_is_true(json_object_get(body, "dry_run")),
                           .note = ctl_diag_note, .progress = ctl_diag_progress, .arg = &x};
    struct tiers_summary sum;
    struct smfs_err e = {0};
    int64_t start = ctl_now_rt();
    int rc = tiers_migrate(c->o.store, &o, &sum, &e);
    int64_t committed = ctl_now_rt();
    pthread_mutex_lock(&c->mu);
    c->migrate.queued -= c->migrate.queued ? 1 : 0;
    pthread_mutex_unlock(&c->mu);
    if (rc) {
        tiers_summary_free(&sum);
        log_err("migrate: %s (nothing moved; tried again after the next end of day)", e.msg);
        pthread_mutex_lock(&c->mu);
        c->migrate.failed++;
        snprintf(c->migrate.error, sizeof c->migrate.error, "%s", e.msg);
        pthread_mutex_unlock(&c->mu);
        json_t *r = admin_error("migrate: %s", e.msg);
        json_object_set_new(r, "diag", diag);
        return r;
    }
    if (sum.version) {
        struct smfs_err pe = {0};
        if (ctl_publish_commit(c, start, c->o.cfg->hdb, NULL, note, &pe))
            log_err("migrate: version %" PRIu64 " committed but not published: %s", sum.version, pe.msg);
        else
            (*note)->commit_s_ns = committed - start;
        ctl_note_usage(c);
        log_info("migrate: version %" PRIu64 ": %zu partitions moved, %zu deleted, %zu held; %" PRIu64 " files, %" PRIu64
                 " bytes in, %" PRIu64 " out; %" PRIu64 " objects uploaded, %" PRIu64 " adopted, %" PRIu64
                 " orphans removed; %.3f s", sum.version, sum.moved, sum.deleted, sum.held, sum.files, sum.bytes_in,
                 sum.bytes_out, sum.s3_puts, sum.s3_adopted, sum.s3_removed, (double)(committed - start) / 1e9);
    }
    json_t *r = json_pack("{s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "ok", 1, "dry_run", o.dry_run,
                          "now_ns", (json_int_t)now, "version", (json_int_t)sum.version,
                          "moved", (json_int_t)sum.moved, "deleted", (json_int_t)sum.deleted,
                          "held", (json_int_t)sum.held, "files", (json_int_t)sum.files,
                          "bytes_in", (json_int_t)sum.bytes_in, "bytes_out", (json_int_t)sum.bytes_out,
                          "moves", moves_json(c->o.cfg, &sum), "diag", diag);
    if (r) json_object_set_new(r, "s3", json_pack("{s:I,s:I,s:I}", "uploaded", (json_int_t)sum.s3_puts,
                                                  "adopted", (json_int_t)sum.s3_adopted,
                                                  "orphans_removed", (json_int_t)sum.s3_removed));
    pthread_mutex_lock(&c->mu);
    c->migrate.done++;
    c->migrate.error[0] = 0;
    if (!o.dry_run) {
        c->migrate.last_ns = committed;
        c->migrate.last_dur_ns = committed - start;
        c->migrate.last_version = sum.version;
        c->migrate.last_moved = sum.moved;
        c->migrate.last_deleted = sum.deleted;
        c->migrate.last_held = sum.held;
        c->migrate.last_bytes_in = sum.bytes_in;
        c->migrate.last_bytes_out = sum.bytes_out;
    }
    pthread_mutex_unlock(&c->mu);
    tiers_summary_free(&sum);
    return r;
}

json_t *ctl_tiers_json(struct control *c, json_t *warnings)
{
    const struct cfg *cfg = c->o.cfg;
    pthread_mutex_lock(&c->mu);
    struct store_usage u = c->usage;
    pthread_mutex_unlock(&c->mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    json_t *a = json_array();
    for (size_t i = 0; a && i < cfg->ndate; i++) {
        const struct cfg_tier *t = cfg->date_tiers[i];
        int k = tiers_store_index(cfg, i);
        json_t *o = json_pack("{s:s,s:s,s:b}", "name", t->name, "store", t->store.text, "local", k >= 0);
        if (!o) continue;
        const struct kdb_zparams *zp = tiers_zip(t);
        json_object_set_new(o, "compression", json_string(zp ? kdb_zip_alg_name(zp->alg) : "none"));
        struct tier_fs fs;
        struct smfs_err e = {0};
        const struct store_tier *st = k >= 0 ? store_tier(c->o.store, (size_t)k) : NULL;
        if (st && tiers_fs(st->path, &fs, &e) == 0 && fs.size) {
            int limit = t->retain_size_pct > 0 ? t->retain_size_pct : 100;
            double pct = 100.0 * (double)fs.used / (double)fs.size;
            const char *state = pct >= limit ? "over" : pct >= limit * TIER_FILLING_PCT / 100.0 ? "filling" : "ok";
            json_object_set_new(o, "fs_bytes", json_integer((json_int_t)fs.size));
            json_object_set_new(o, "fs_used", json_integer((json_int_t)fs.used));
            json_object_set_new(o, "used_pct", json_real(pct));
            json_object_set_new(o, "limit_pct", json_integer(limit));
            json_object_set_new(o, "state", json_string(state));
            if (strcmp(state, "ok") && warnings) {
                char m[400];
                snprintf(m, sizeof m, "tier %s is %.1f%% full (%s %d%%)%s", t->name, pct,
                         t->retain_size_pct > 0 ? "its retain.sizePct is" : "writes fail at", limit,
                         t->retain_size_pct > 0 && i + 1 < cfg->ndate ? ": the oldest partitions move on at the next migration"
                                                                      : "");
                json_array_append_new(warnings, admin_str(m));
            }
        } else if (st) {
            json_object_set_new(o, "error", admin_str(e.msg));
        }
        if (k >= 0) {
            json_object_set_new(o, "bytes", json_integer((json_int_t)u.bytes[k]));
            json_object_set_new(o, "files", json_integer((json_int_t)u.files[k]));
        } else {
            /* The object tier is the last (config refuses another after it): every
             * remote entry is its. */
            json_object_set_new(o, "bytes", json_integer((json_int_t)u.remote_bytes));
            json_object_set_new(o, "files", json_integer((json_int_t)u.remote_files));
            /* What the next upload would use, from the environment: no request is made
             * for a status. */
            struct s3_conf sc;
            struct smfs_err se = {0};
            if (s3_conf_env(&sc, &se) == 0) {
                json_object_set_new(o, "endpoint", admin_str(sc.endpoint));
            } else {
                json_object_set_new(o, "error", admin_str(se.msg));
                if (warnings) {
                    char m[700];
                    snprintf(m, sizeof m, "tier %s (%s) cannot be written: %s", t->name, t->store.text, se.msg);
                    json_array_append_new(warnings, admin_str(m));
                }
            }
            explicit_bzero(&sc, sizeof sc);
        }
        if (t->retain_count > 0) {
            int32_t d = tiers_oldest_kept(t, now);
            char ds[11];
            k_date_str(d, ds);
            json_object_set_new(o, "oldest_kept", json_string(ds));
        }
        json_array_append_new(a, o);
    }
    return a;
}

json_t *ctl_migrate_json(struct control *c)
{
    pthread_mutex_lock(&c->mu);
    struct migrate_state m = c->migrate;
    pthread_mutex_unlock(&c->mu);
    json_t *r = json_pack("{s:I,s:I,s:I,s:I}", "queued", (json_int_t)m.queued, "done", (json_int_t)m.done,
                          "failed", (json_int_t)m.failed, "coalesced", (json_int_t)m.coalesced);
    if (r && m.last_ns)
        json_object_set_new(r, "last", json_pack("{s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I}", "at_ns", (json_int_t)m.last_ns,
            "seconds", (double)m.last_dur_ns / 1e9, "version", (json_int_t)m.last_version,
            "moved", (json_int_t)m.last_moved, "deleted", (json_int_t)m.last_deleted, "held", (json_int_t)m.last_held,
            "bytes_in", (json_int_t)m.last_bytes_in, "bytes_out", (json_int_t)m.last_bytes_out));
    if (r && m.error[0]) json_object_set_new(r, "error", admin_str(m.error));
    return r;
}
