/* control/metrics.c: GET /metrics, the Prometheus text format 0.0.4. Names carry the
 * smfs_ prefix, counters end in _total and no family is both a gauge and a counter;
 * process_* are Prometheus' standard process metrics. Loop thread only: the counters
 * are the loop's, the view's and the registry's; tier usage is the writer's copy
 * under mu. */
#include "control_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/version.h"

#define METRICS_MAX (1u << 20)

/* Seconds: 1 ms to 2 min for commits, 0.1 ms to 10 s for the fan-out. */
const double metrics_commit_le[HIST_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 120};
const double metrics_fanout_le[HIST_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                0.1, 0.5, 2, 10};

void hist_observe(struct hist *h, double v)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        if (v <= h->le[i]) {
            h->n[i]++;
            break;
        }
    h->count++;
    h->sum += v;
}

int metrics_family(struct buf *b, const char *name, const char *type, const char *help)
{
    return buf_printf(b, "# HELP smfs_%s %s\n# TYPE smfs_%s %s\n", name, help, name, type);
}

static int histogram(struct buf *b, const char *name, const char *help, const struct hist *h)
{
    int rc = metrics_family(b, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; rc == 0 && i < HIST_BUCKETS; i++) {
        cum += h->n[i];
        rc = buf_printf(b, "smfs_%s_bucket{le=\"%g\"} %llu\n", name, h->le[i], (unsigned long long)cum);
    }
    if (rc == 0)
        rc = buf_printf(b, "smfs_%s_bucket{le=\"+Inf\"} %llu\nsmfs_%s_sum %.9f\nsmfs_%s_count %llu\n", name,
                        (unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
    return rc;
}

/* Per local tier: what the current version holds there, and its filesystem's room
 * (a tier filling up shows before it is full). */
static int tiers(struct control *c, struct buf *b)
{
    pthread_mutex_lock(&c->mu);
    struct store_usage u = c->usage;
    pthread_mutex_unlock(&c->mu);
    size_t n = store_ntiers(c->o.store);
    int rc = metrics_family(b, "tier_bytes", "gauge", "bytes of the files the current version holds in each tier");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(b, "smfs_tier_bytes{tier=\"%s\"} %llu\n", store_tier(c->o.store, i)->name,
                        (unsigned long long)u.bytes[i]);
    if (rc == 0) rc = metrics_family(b, "tier_files", "gauge", "files the current version holds in each tier");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(b, "smfs_tier_files{tier=\"%s\"} %llu\n", store_tier(c->o.store, i)->name,
                        (unsigned long long)u.files[i]);
    if (rc == 0) rc = metrics_family(b, "tier_filesystem_size_bytes", "gauge", "size of each tier's filesystem");
    struct statvfs sv[STORE_TIERS_MAX];
    bool ok[STORE_TIERS_MAX] = {0};
    for (size_t i = 0; i < n && i < STORE_TIERS_MAX; i++) ok[i] = statvfs(store_tier(c->o.store, i)->path, &sv[i]) == 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (ok[i])
            rc = buf_printf(b, "smfs_tier_filesystem_size_bytes{tier=\"%s\"} %llu\n", store_tier(c->o.store, i)->name,
                            (unsigned long long)sv[i].f_blocks * sv[i].f_frsize);
    if (rc == 0) rc = metrics_family(b, "tier_filesystem_avail_bytes", "gauge", "bytes still free for smfs in each tier's filesystem");
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (ok[i])
            rc = buf_printf(b, "smfs_tier_filesystem_avail_bytes{tier=\"%s\"} %llu\n", store_tier(c->o.store, i)->name,
                            (unsigned long long)sv[i].f_bavail * sv[i].f_frsize);
    return rc;
}

/* Prometheus' standard process metrics (client libraries' names), from /proc. */
static int process(struct buf *b, int64_t started_ns)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long vsz = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%llu %llu", &vsz, &rss) != 2) vsz = rss = 0;
        fclose(f);
    }
    unsigned fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) fds += de->d_name[0] != '.';
        closedir(d);
        fds--;   /* the directory's own descriptor */
    }
    struct rlimit rl;
    unsigned long long maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long long)rl.rlim_cur : 0;
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    return buf_printf(b,
        "# HELP process_cpu_seconds_total user and system CPU time spent, in seconds\n"
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n"
        "# HELP process_resident_memory_bytes resident memory size in bytes\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n"
        "# HELP process_virtual_memory_bytes virtual memory size in bytes\n"
        "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
        "# HELP process_open_fds open file descriptors\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds %u\n"
        "# HELP process_max_fds the file descriptor limit\n"
        "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n"
        "# HELP process_start_time_seconds start time of the process since the epoch, in seconds\n"
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
        cpu, rss * (unsigned long long)page, vsz * (unsigned long long)page, fds, maxfds, started_ns / 1e9);
}

char *metrics_text(struct control *c, size_t *len)
{
    struct buf b;
    buf_init(&b, METRICS_MAX);
    struct control_view_stats vs = {0};
    c->o.hooks.stats(c->o.hooks.arg, &vs);
    struct reload_stats rs;
    reload_stats(c->reload, &rs);
    struct ipc_stats is = {0};
    if (c->q) ipc_server_stats(c->q, &is);
    struct http_post_stats ps = {0};
    if (c->post) http_post_stats(c->post, &ps);
    struct http_stats hs = {0};
    if (c->http) http_stats(c->http, &hs);
    struct store_version *sv = NULL;
    size_t nv = 0;
    struct smfs_err e = {0};
    if (store_versions(c->o.store, &sv, &nv, &e)) nv = 0;
    store_versions_free(sv, nv);
    int rc = 0;
#define G(name, help, fmt, ...) \
    if (!rc) rc = metrics_family(&b, name, "gauge", help); \
    if (!rc) rc = buf_printf(&b, "smfs_" name fmt "\n", __VA_ARGS__)
#define C(name, help, fmt, ...) \
    if (!rc) rc = metrics_family(&b, name, "counter", help); \
    if (!rc) rc = buf_printf(&b, "smfs_" name fmt "\n", __VA_ARGS__)
    if (!rc) rc = metrics_family(&b, "build_info", "gauge", "the smfs build: version and libraries, value 1");
    if (!rc) rc = buf_printf(&b, "smfs_build_info{version=\"%s\",mode=\"%s\"} 1\n", SMFS_VERSION, c->o.hooks.mode);
    G("up", "1 while the daemon serves", " %d", 1);
    G("ready", "1 when a version is being served", " %d", vs.current ? 1 : 0);
    G("uptime_seconds", "seconds since the control thread started", " %.3f",
      (ctl_now_rt() - c->started_ns) / 1e9);
    G("version_current", "the store version being served", " %llu", (unsigned long long)vs.current);
    G("versions", "versions the store keeps", " %zu", nv);
    G("versions_pinned", "versions held by the view (current, or files open)", " %llu", (unsigned long long)vs.pinned);
    G("view_inodes", "inodes the view knows", " %llu", (unsigned long long)vs.inodes);
    C("commits_total", "versions committed and published by this daemon", " %llu", (unsigned long long)c->n.commits);
    C("ingest_errors_total", "ingests that failed", " %llu", (unsigned long long)c->n.ingest_errors);
    C("vacuums_total", "vacuums run (manual and automatic)", " %llu", (unsigned long long)c->n.vacuums);
    C("vacuum_versions_dropped_total", "versions reclaimed by vacuum", " %llu", (unsigned long long)c->n.vacuum_versions);
    if (!rc) rc = metrics_family(&b, "registered_clients", "gauge", "registrations for reload signals");
    if (!rc) rc = buf_printf(&b, "smfs_registered_clients{transport=\"qipc\"} %llu\n"
                                 "smfs_registered_clients{transport=\"rest\"} %llu\n",
                             (unsigned long long)rs.clients_q, (unsigned long long)rs.clients_rest);
    G("pending_acks", "reload signals sent and not yet acknowledged", " %llu", (unsigned long long)rs.pending);
    G("versions_held_for_acks", "previous versions held until registrants acknowledge", " %llu",
      (unsigned long long)rs.held);
    C("reload_signals_total", "reload signals sent", " %llu", (unsigned long long)rs.signals);
    C("reload_acks_total", "acknowledgements received", " %llu", (unsigned long long)rs.acks);
    C("reload_ack_timeouts_total", "acknowledgements given up after their timeout", " %llu",
      (unsigned long long)rs.timeouts);
    C("reload_unmatched_acks_total", "acknowledgements that matched no pending signal", " %llu",
      (unsigned long long)rs.unmatched_acks);
    C("rest_callbacks_total", "reload signals POSTed to REST callbacks", " %llu", (unsigned long long)ps.started);
    C("rest_callback_failures_total", "REST callbacks that failed after every try", " %llu",
      (unsigned long long)ps.failed);
    C("rest_callback_retries_total", "REST callback tries repeated", " %llu", (unsigned long long)ps.retries);
    G("ipc_connections_open", "q IPC connections open", " %llu", (unsigned long long)is.conns);
    C("ipc_connections_total", "q IPC connections accepted", " %llu", (unsigned long long)is.accepted);
    if (!rc) rc = metrics_family(&b, "ipc_errors_total", "counter", "q IPC connections refused or dropped, calls answered with an error");
    if (!rc) rc = buf_printf(&b, "smfs_ipc_errors_total{kind=\"refused_login\"} %llu\n"
                                 "smfs_ipc_errors_total{kind=\"refused_full\"} %llu\n"
                                 "smfs_ipc_errors_total{kind=\"refused_address\"} %llu\n"
                                 "smfs_ipc_errors_total{kind=\"refused_fds\"} %llu\n"
                                 "smfs_ipc_errors_total{kind=\"dropped\"} %llu\n"
                                 "smfs_ipc_errors_total{kind=\"idle_closed\"} %llu\n"
                                 "smfs_ipc_errors_total{kind=\"limit_reply\"} %llu\n"
                                 "smfs_ipc_errors_total{kind=\"error_reply\"} %llu\n",
                             (unsigned long long)is.refused_login, (unsigned long long)is.refused_full,
                             (unsigned long long)is.refused_addr, (unsigned long long)is.refused_fds,
                             (unsigned long long)is.dropped, (unsigned long long)is.idle_closed,
                             (unsigned long long)is.limit_replies, (unsigned long long)is.errors);
    G("ipc_buffered_bytes", "q IPC message bytes buffered now, all connections", " %llu",
      (unsigned long long)is.buffered);
    C("reload_registrations_refused_total", "registrations refused over a limit", " %llu",
      (unsigned long long)rs.refused);
    if (!rc) rc = metrics_family(&b, "ipc_messages_total", "counter", "q IPC messages");
    if (!rc) rc = buf_printf(&b, "smfs_ipc_messages_total{direction=\"in\"} %llu\nsmfs_ipc_messages_total{direction=\"out\"} %llu\n",
                             (unsigned long long)is.msgs_in, (unsigned long long)is.msgs_out);
    if (!rc) rc = metrics_family(&b, "ipc_bytes_total", "counter", "q IPC bytes");
    if (!rc) rc = buf_printf(&b, "smfs_ipc_bytes_total{direction=\"in\"} %llu\nsmfs_ipc_bytes_total{direction=\"out\"} %llu\n",
                             (unsigned long long)is.bytes_in, (unsigned long long)is.bytes_out);
    C("http_requests_total", "HTTP requests answered", " %llu", hs.requests);
    if (vs.fuse) {
        const struct control_view_stats ms = vs;
        if (!rc) rc = metrics_family(&b, "fuse_operations_total", "counter", "FUSE requests by operation");
        if (!rc) rc = buf_printf(&b,
            "smfs_fuse_operations_total{op=\"lookup\"} %llu\nsmfs_fuse_operations_total{op=\"getattr\"} %llu\n"
            "smfs_fuse_operations_total{op=\"readdir\"} %llu\nsmfs_fuse_operations_total{op=\"open\"} %llu\n"
            "smfs_fuse_operations_total{op=\"read\"} %llu\nsmfs_fuse_operations_total{op=\"release\"} %llu\n"
            "smfs_fuse_operations_total{op=\"write_refused\"} %llu\n",
            (unsigned long long)ms.lookups, (unsigned long long)ms.getattrs, (unsigned long long)ms.readdirs,
            (unsigned long long)ms.opens, (unsigned long long)ms.reads, (unsigned long long)ms.releases,
            (unsigned long long)ms.erofs);
        C("fuse_read_bytes_total", "bytes served by FUSE READ requests (not passthrough)", " %llu",
          (unsigned long long)ms.read_bytes);
        C("fuse_passthrough_opens_total", "opens served by kernel passthrough", " %llu",
          (unsigned long long)ms.pt_opens);
        G("fuse_passthrough", "1 when kernel passthrough is in use", " %d", ms.passthrough ? 1 : 0);
        G("fuse_cached_fds", "descriptors the cached path holds open (bounded)", " %llu",
          (unsigned long long)ms.fds_open);
        G("fuse_passthrough_backings", "passthrough backing files registered with the kernel (kernel "
          "references, not descriptors)", " %llu", (unsigned long long)ms.backings);
        G("fuse_passthrough_backings_kept", "of those, kept after their file's last close for the next open",
          " %llu", (unsigned long long)ms.backings_kept);
    }
    if (!rc) rc = histogram(&b, "commit_duration_seconds", "commits by the daemon: from the start of the work "
                            "to the durable commit", &c->commit_hist);
    if (!rc) rc = histogram(&b, "reload_fanout_seconds", "from a new version shown to readers to every "
                            "reload signal handed to its connection", &c->fanout_hist);
    if (!rc) rc = tiers(c, &b);
    if (!rc && c->stream) rc = stream_metrics(c->stream, &b);
    if (!rc) rc = process(&b, c->started_ns);
#undef G
#undef C
    if (rc) {
        buf_release(&b);
        return NULL;
    }
    return (char *)buf_take(&b, len);
}

