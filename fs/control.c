/* fs/control.c: see control.h. */
#include "control.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/import.h"
#include "fs/log.h"
#include "fs/vanilla.h"
#include "ipc/admin.h"
#include "ipc/ev.h"

struct job {
    uint64_t    req;
    char        cmd[16];
    json_t     *body, *reply;
    struct job *next;
};

struct control {
    struct control_opts o;
    struct ev_loop     *loop;
    struct admin       *admin;
    pthread_t           loop_th, writer_th;
    bool                loop_started, writer_started;
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    struct job         *todo, *done;   /* FIFO by append at the tail */
    bool                stopping;
    int64_t             started_ns;
};

static int64_t now_ns(void)
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

static void job_free(struct job *j)
{
    json_decref(j->body);
    json_decref(j->reply);
    free(j);
}

int control_publish(const struct control_opts *o, struct smfs_err *err)
{
    struct view_change chg;
    int rc = view_publish(o->view, 0, &chg, err);
    if (rc) return rc;
    if (o->mount) mount_publish(o->mount, &chg);
    if (o->vanilla_dir) rc = vanilla_publish(o->vanilla_dir, o->view, o->store, err);
    if (!rc) log_info("version %llu is live (was %llu)", (unsigned long long)chg.new_version,
                      (unsigned long long)chg.old_version);
    view_change_free(&chg);
    return rc;
}

/* ---- writer jobs --------------------------------------------------------------- */

static void diag_json(void *arg, const char *line)
{
    json_array_append_new(arg, json_string(line));
}

static json_t *run_ingest(struct control *c, json_t *body)
{
    const char *dir = json_string_value(json_object_get(body, "dir"));
    if (!dir) return admin_error("ingest needs \"dir\": the staging directory");
    json_t *verify = json_object_get(body, "verify");
    json_t *diag = json_array();
    struct ingest_opts io = {
        .cfg = c->o.cfg,
        .staging = dir,
        .verify = verify ? json_is_true(verify) : true,
        .dry_run = json_is_true(json_object_get(body, "dry_run")),
        .keep_staging = json_is_true(json_object_get(body, "keep_staging")),
        .diag = diag_json,
        .arg = diag,
    };
    struct ingest_summary sum;
    struct smfs_err e = {0};
    int rc = ingest_run(c->o.store, &io, &sum, &e);
    if (!rc && !io.dry_run) {
        struct smfs_err pe = {0};
        if (control_publish(&c->o, &pe)) {
            /* The commit is durable; only what readers see lags. Say so, loudly. */
            log_err("version %llu committed but not published: %s", (unsigned long long)sum.version, pe.msg);
            json_t *r = admin_error("version %llu committed but not published: %s",
                                    (unsigned long long)sum.version, pe.msg);
            json_object_set_new(r, "diag", diag);
            return r;
        }
    }
    if (rc) {
        log_warn("ingest %s: %s", dir, e.msg);
        json_t *r = admin_error("%s", e.msg);
        json_object_set_new(r, "diag", diag);
        return r;
    }
    log_info("ingest %s: version %llu (%llu added, %llu replaced, %llu files)", dir,
             (unsigned long long)sum.version, (unsigned long long)sum.added,
             (unsigned long long)sum.replaced, (unsigned long long)sum.files);
    return json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "ok", 1,
                     "version", (json_int_t)sum.version, "added", (json_int_t)sum.added,
                     "replaced", (json_int_t)sum.replaced, "tables", (json_int_t)sum.tables,
                     "files", (json_int_t)sum.files, "bytes", (json_int_t)sum.bytes,
                     "filled", (json_int_t)sum.filled, "new_symbols", (json_int_t)sum.new_symbols,
                     "remapped", (json_int_t)sum.remapped, "diag", diag);
}

static json_t *run_vacuum(struct control *c, json_t *body)
{
    json_t *k = json_object_get(body, "keep");
    json_int_t keep = k ? json_integer_value(k) : 1;
    if (keep < 1 || keep > UINT32_MAX) return admin_error("vacuum: \"keep\" must be a whole number >= 1");
    struct store_vacuum_opts vo = {.keep = (uint32_t)keep};
    struct store_vacuum_report rep;
    struct smfs_err e = {0};
    int rc = store_vacuum(c->o.store, &vo, &rep, &e);
    if (!rc && c->o.vanilla_dir) rc = vanilla_publish(c->o.vanilla_dir, c->o.view, c->o.store, &e);
    if (rc) return admin_error("vacuum: %s", e.msg);
    log_info("vacuum: %u versions dropped, %llu objects (%llu bytes) removed", rep.versions_dropped,
             (unsigned long long)rep.objects_removed, (unsigned long long)rep.object_bytes);
    return json_pack("{s:b,s:i,s:i,s:I,s:I,s:i,s:I}", "ok", 1,
                     "versions_dropped", (int)rep.versions_dropped, "versions_kept", (int)rep.versions_kept,
                     "objects_removed", (json_int_t)rep.objects_removed,
                     "object_bytes", (json_int_t)rep.object_bytes, "packs_removed", (int)rep.packs_removed,
                     "pack_bytes", (json_int_t)rep.pack_bytes);
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
        pthread_mutex_unlock(&c->mu);
        j->reply = !strcmp(j->cmd, "ingest") ? run_ingest(c, j->body) : run_vacuum(c, j->body);
        pthread_mutex_lock(&c->mu);
        push(&c->done, j);
        ev_wake(c->loop);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
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
        admin_reply(c->admin, d->req, d->reply);
        d->reply = NULL;
        job_free(d);
        d = n;
    }
}

static json_t *status_json(struct control *c)
{
    struct view_stats vs;
    view_stats(c->o.view, &vs);
    json_t *r = json_pack("{s:b,s:i,s:s,s:s,s:s,s:I,s:I,s:{s:I,s:I,s:I}}", "ok", 1,
                          "pid", (int)getpid(), "mode", c->o.mount ? "fuse" : "vanilla",
                          "mountpoint", c->o.mountpoint, "store", store_home(c->o.store),
                          "current", (json_int_t)vs.current,
                          "uptime_s", (json_int_t)((now_ns() - c->started_ns) / 1000000000),
                          "view", "inodes", (json_int_t)vs.inodes, "versions",
                          (json_int_t)vs.versions, "versions_pinned", (json_int_t)vs.pinned);
    if (r && c->o.mount) {
        struct mount_stats ms;
        mount_stats(c->o.mount, &ms);
        json_object_set_new(r, "fuse", json_pack("{s:b,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
            "passthrough", ms.passthrough, "readahead_kb", (int)ms.readahead_kb,
            "lookups", (json_int_t)ms.lookups, "getattrs", (json_int_t)ms.getattrs,
            "readdirs", (json_int_t)ms.readdirs, "opens", (json_int_t)ms.opens,
            "passthrough_opens", (json_int_t)ms.pt_opens, "reads", (json_int_t)ms.reads,
            "read_bytes", (json_int_t)ms.read_bytes, "releases", (json_int_t)ms.releases,
            "erofs", (json_int_t)ms.erofs));
    }
    return r;
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
    return json_pack("{s:b,s:I,s:o}", "ok", 1, "current", (json_int_t)view_current(c->o.view),
                     "versions", arr);
}

static void on_admin(struct admin *a, uint64_t req, const char *cmd, json_t *body, void *arg)
{
    struct control *c = arg;
    if (!strcmp(cmd, "status")) {
        admin_reply(a, req, status_json(c));
        return;
    }
    if (!strcmp(cmd, "versions")) {
        admin_reply(a, req, versions_json(c));
        return;
    }
    if (!strcmp(cmd, "stop")) {
        log_info("stop requested over the admin socket");
        admin_reply(a, req, json_pack("{s:b}", "ok", 1));
        /* The same path as a SIGTERM from outside: the FUSE loop (or the main
         * thread's sigwait) takes it and unmounts cleanly. */
        kill(getpid(), SIGTERM);
        return;
    }
    if (strcmp(cmd, "ingest") && strcmp(cmd, "vacuum")) {
        admin_reply(a, req, admin_error("unknown command '%.64s' (known: status, versions, "
                                        "ingest, vacuum, stop)", cmd));
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
    pthread_mutex_lock(&c->mu);
    push(&c->todo, j);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void *loop_main(void *arg)
{
    struct control *c = arg;
    struct smfs_err e = {0};
    if (ev_run(c->loop, &e)) log_err("control loop: %s", e.msg);
    return NULL;
}

int control_start(const struct control_opts *o, struct control **out, struct smfs_err *err)
{
    struct control *c = calloc(1, sizeof *c);
    if (!c) return err_set(err, -ENOMEM, "out of memory");
    c->o = *o;
    c->started_ns = now_ns();
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int rc = ev_new(&c->loop, err);
    if (!rc) rc = admin_new(c->loop, o->admin_path, on_admin, c, &c->admin, err);
    if (rc) {
        control_stop(c);
        return rc;
    }
    ev_set_wake(c->loop, on_wake, c);
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
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        control_stop(c);
        return err_set(err, -rc, "could not start the control threads: %s", strerror(rc));
    }
    log_info("admin socket %s", o->admin_path);
    *out = c;
    return 0;
}

void control_stop(struct control *c)
{
    if (!c) return;
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
    admin_free(c->admin);
    if (c->loop) ev_free(c->loop);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
