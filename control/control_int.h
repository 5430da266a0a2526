/* control/control_int.h: what control/control.c (threads, writer jobs, admin socket,
 * signals) and control/control_api.c (the SM API over q IPC and REST, reload
 * delivery, metrics) share. Not for other modules: control.h is the public face. */
#ifndef SMFS_CONTROL_INT_H
#define SMFS_CONTROL_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "control/control.h"
#include "control/reload.h"
#include "control/stream.h"
#include "ipc/admin.h"
#include "ipc/ev.h"
#include "ipc/http.h"
#include "ipc/http_post.h"
#include "ipc/ipc_server.h"

/* Registrations one mount, and one host, may hold: 100 query processes on a host fit
 * many times over; 20,000 callbacks that never answer do not. */
#define CTL_MAX_REG_PER_MOUNT 1024
#define CTL_MAX_REG_PER_ADDR  256
/* How often a store whose index write failed tries to recover by itself. */
#define CTL_HEALTH_MS         5000

/* What a commit hands from the writer to the loop: the new signals and a pin of the
 * version it replaced, which the reload registry holds for acknowledgements. */
struct commit_note {
    struct reload_signal *sigs;
    size_t                n;
    struct store_snap    *old;
    int64_t               commit_s_ns;    /* how long the commit took (writer) */
    int64_t               published_mono; /* ev_now_ns() once readers saw it */
};

/* The _prtnEnd a writedown followed: what the stream mount's signal carries. */
struct prtn_end {
    int64_t start_ts, end_ts, pos;   /* ns since 1970; pos: yyyymmdd * 10^11 + updates */
};

/* A Prometheus histogram: cumulative buckets by upper bound (seconds), sum, count. */
#define HIST_BUCKETS 12
struct hist {
    const double *le;                     /* HIST_BUCKETS bounds, ascending */
    uint64_t      n[HIST_BUCKETS];        /* observations <= le[i] (not cumulative) */
    uint64_t      count;
    double        sum;
};
void hist_observe(struct hist *h, double v);
extern const double metrics_commit_le[HIST_BUCKETS], metrics_fanout_le[HIST_BUCKETS];

struct job {
    uint64_t            req;        /* admin request to answer; 0: internal (auto vacuum) */
    char                cmd[16];
    bool                plain;      /* migrate: counted in migrate_state.waiting_plain */
    json_t             *body, *reply;
    struct commit_note *note;       /* set by a commit for the loop */
    struct job         *next;
};

/* The writer's running job as status shows it (smctl polls it for a progress line). */
struct job_state {
    bool     running;
    char     cmd[16], phase[16], current[64];
    uint64_t done, total, bytes_done, bytes_total;
    int64_t  started_ns;              /* realtime */
};

struct ctl_counters {
    uint64_t commits, ingest_errors, vacuums, vacuum_versions, verifies;
};

/* End of day as status shows it (eod.c). */
struct eod_state {
    char     manual[16];              /* "", pending, queued, processing, completed, failed */
    char     manual_date[16];
    int64_t  manual_ns;
    char     error[ERR_MSG_MAX];      /* the last failure (kept until a success) */
    uint64_t pending, done, failed;   /* sealed days waiting; writedowns done; failed tries */
    bool     has_last;
    int32_t  last_date;
    int64_t  last_ns, last_dur_ns;    /* when it committed, how long it took */
    uint64_t last_version, last_rows, last_bytes, last_files, last_late, last_refused, last_partitions;
    /* end of interval */
    uint64_t eoi_done, eoi_failed;
    bool     has_eoi;
    int64_t  eoi_n, eoi_end_ns, eoi_at_ns, eoi_dur_ns;
    uint64_t eoi_rows, eoi_version;
};

/* Tier migration as status shows it (migrate.c). */
struct migrate_state {
    uint64_t queued, done, failed;
    /* Wall-clock runs nobody waits for (after an end of day, POST /migrate) queued and
     * not yet started: while there is one, another such request is covered by it and
     * only counted (coalesced), so a flood of POST /migrate cannot grow the queue. */
    uint64_t waiting_plain, coalesced;
    char     error[ERR_MSG_MAX];      /* the last failure (kept until a success) */
    int64_t  last_ns, last_dur_ns;    /* the last run that was not a dry run */
    uint64_t last_version, last_moved, last_deleted, last_held, last_bytes_in, last_bytes_out;
};

/* Locking. One mutex, mu, for the job queues between the loop and the writer; held
 * only to push or pop a job, never across a store call, a reply or a hook. Tags:
 *   [I] immutable after control_start   [M] guarded by mu
 *   [L] loop thread only                [W] writer thread only
 *   [A] atomic (seq_cst): written by any thread, read by the loop; a stale read only
 *       delays a vacuum to the next wake-up. */
struct control {
    struct control_opts o;                /* [I] the hooks' arg outlives the control */
    int64_t             reload_timeout_ns;/* [I] */
    struct ev_loop     *loop;             /* [I] ev_wake is the only call other threads make */
    struct admin       *admin;            /* [L] */
    struct ipc_server  *q;                /* [L] */
    struct http        *http;             /* [L] */
    struct http_post   *post;             /* [L] */
    struct reload      *reload;           /* [L] */
    struct stream      *stream;           /* [I] NULL when off (stream_off says why) */
    char                stream_off[ERR_MSG_MAX];   /* [I] */
    char                stream_target[256];        /* [I] */
    int                 sigfd;            /* [I] */
    int64_t             ack_timer;        /* [L] */
    pthread_t           loop_th, writer_th;               /* [I] */
    bool                loop_started, writer_started;     /* [I] */
    pthread_mutex_t     mu;
    pthread_cond_t      cv;               /* signalled when todo grows or stopping is set */
    struct job         *todo, *done;      /* [M] FIFO by append at the tail */
    struct job_state    job;              /* [M] written by the writer, read by status */
    struct eod_state    eod;              /* [M] */
    struct migrate_state migrate;         /* [M] */
    bool                stopping;         /* [M] */
    bool                vacuum_queued, vacuum_again;   /* [L] */
    bool                repair_queued;    /* [L] */
    atomic_bool         unpinned;         /* [A] an old version's last file closed */
    int64_t             started_ns;       /* [I] */
    struct ctl_counters n;                /* [L] */
    struct hist         commit_hist;      /* [L] commit duration, seconds */
    struct hist         fanout_hist;      /* [L] published → every signal handed out */
    struct store_usage  usage;            /* [M] the current version, per tier */
    uint64_t            usage_version;    /* [M] the version usage describes */
};

/* control_api.c */
int  api_start(struct control *c, struct smfs_err *err) __attribute__((warn_unused_result));
void api_stop(struct control *c);
/* A commit reached the loop: fan the signals out. Takes the note's contents. */
void api_commit(struct control *c, struct commit_note *note);
/* Re-arm the acknowledgement timer after the registry changed. */
void api_arm(struct control *c);
json_t *api_clients_json(struct control *c);
json_t *api_status_json(struct control *c);

/* metrics.c: the Prometheus text of GET /metrics (caller frees), NULL if too long;
 * and the HELP and TYPE lines of one family (name without the smfs_ prefix). */
int metrics_family(struct buf *b, const char *name, const char *type, const char *help)
        __attribute__((warn_unused_result));
char *metrics_text(struct control *c, size_t *len);

/* control.c */
void ctl_queue_vacuum(struct control *c);
void ctl_enqueue(struct control *c, struct job *j);
/* After a commit (writer thread): pin the old version, publish the new, compute the
 * signals (PE: the _prtnEnd the writedown followed, for the stream mount; NULL none). */
int  ctl_publish_commit(struct control *c, int64_t start_rt, const struct cfg_mount *changed,
                        const struct prtn_end *pe, struct commit_note **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void ctl_note_usage(struct control *c);
void ctl_job_progress(struct control *c, const char *phase, const char *current, uint64_t done, uint64_t total,
                      uint64_t bytes_done, uint64_t bytes_total);

/* What a writer job's callbacks get: the control (for progress), the reply's diagnostic
 * lines, and the word each line is also logged under as a warning (NULL: kept only) and
 * the phase its progress shows (ctl_diag_progress). */
struct ctl_diag {
    struct control *c;
    json_t         *lines;
    const char     *log_as, *phase;
};
void ctl_diag_note(void *arg, const char *line);                     /* arg: struct ctl_diag */
void ctl_diag_progress(void *arg, const char *current, uint64_t done, uint64_t total);

/* eod.c: end of day. A sealed day (stream thread) becomes a writer job; the writer
 * writes it down and publishes; a failure is retried every CTL_EOD_RETRY_MS. */
#define CTL_EOD_RETRY_MS 30000
void    ctl_eod_sealed(struct control *c, const char *dir, int32_t date);
/* An interval cut by the stream (stream thread): a writer job. */
void    ctl_eoi_cut(struct control *c, const char *dir, int64_t k, const uint64_t *from, const uint64_t *to,
                    int64_t end_ns);
json_t *ctl_eoi_run(struct control *c, json_t *body, struct commit_note **note);
json_t *ctl_eod_run(struct control *c, json_t *body, struct commit_note **note);
/* The loop saw an eod job end (retry it later if it failed). */
void    ctl_eod_done(struct control *c, struct job *j);
/* smctl eod / POST /eod: a manual end of day (REQ 0: no admin reply, REST). */
void    ctl_eod_manual(struct control *c, uint64_t req, json_t *body);
/* A manual end of day not yet completed or failed: its state in STATE. POST /eod refuses
 * another meanwhile (each would seal and write a day: a flood must not queue them). */
bool    ctl_eod_busy(struct control *c, char *state, size_t n);
json_t *ctl_eod_json(struct control *c);
/* migrate.c: tier migration and retention. A writer job (REQ 0: after an end of day,
 * or POST /migrate), and what status shows of the tiers and the last run; WARNINGS
 * (may be NULL) collects a line per tier that is filling. */
void    ctl_migrate_queue(struct control *c, uint64_t req, json_t *body);
json_t *ctl_migrate_run(struct control *c, json_t *body, bool plain, struct commit_note **note);
json_t *ctl_migrate_json(struct control *c);
json_t *ctl_tiers_json(struct control *c, json_t *warnings);
/* The version readers see now (the hook's answer; 0: none). Any thread. */
uint64_t ctl_current(struct control *c);
int64_t ctl_now_rt(void);
/* The signals of the version SNAP shows, for every mount of the assembly; TS is when
 * the work that made it started; CHANGED names the mount the commit wrote (NULL: none). */
int ctl_signals(struct control *c, struct store_snap *snap, int64_t ts, const struct cfg_mount *changed,
                const struct prtn_end *pe, struct reload_signal **out, size_t *n, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
