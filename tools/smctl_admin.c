/* tools/smctl_admin.c: smctl status | clients | versions | vacuum | verify | stop, spoken to a running
 * smfs over its admin socket (ipc/admin.h), and the daemon side of smctl ingest. */
#include "tools/smctl.h"
#include "tools/smctl_progress.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/k_fmt.h"
#include "ipc/admin.h"

int smctl_admin_path(const char *cfgpath, const char *given, char *buf, size_t n)
{
    if (given) {
        snprintf(buf, n, "%s", given);
        return 0;
    }
    const char *env = getenv("SMFS_ADMIN");
    struct cfg *cfg = env && *env ? NULL : smctl_load_cfg(cfgpath);
    if (!cfg && !(env && *env)) return -1;
    struct smfs_err e;
    int rc = admin_default_path(cfg, buf, n, &e);
    cfg_free(cfg);
    if (rc) smctl_errf("%s", e.msg);
    return rc;
}

struct watch {
    const char     *path;
    struct progress pr;
};

/* While a long request is outstanding: ask the daemon's status (another connection)
 * where its job is, and show it. */
static void watch_tick(void *arg)
{
    struct watch *w = arg;
    json_t *req = json_pack("{s:s}", "cmd", "status"), *r = NULL;
    struct smfs_err e;
    if (req && admin_call(w->path, req, &r, &e) == 0) {
        json_t *j = json_object_get(r, "job");
        if (j)
            progress_show(&w->pr, S(j, "phase"), S(j, "current"), (uint64_t)I(j, "done"), (uint64_t)I(j, "total"),
                          !strcmp(S(j, "cmd"), "verify") ? "objects" : "partitions", (uint64_t)I(j, "bytes_done"),
                          (uint64_t)I(j, "bytes_total"));
    }
    json_decref(r);
    json_decref(req);
}

int smctl_admin_call(const char *path, json_t *req, json_t **reply, bool absent_ok)
{
    return smctl_admin_call_progress(path, req, reply, absent_ok, false);
}

int smctl_admin_call_progress(const char *path, json_t *req, json_t **reply, bool absent_ok, bool json)
{
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    struct smfs_err e;
    *reply = NULL;
    struct watch w = {.path = path};
    bool show = !strcmp(cmd, "ingest") || !strcmp(cmd, "verify") || !strcmp(cmd, "migrate");
    if (show) progress_init(&w.pr, cmd, json);
    /* Ask for the job's progress as often as it would be printed (at most every second). */
    int tick_ms = show && w.pr.interval_ns < 1000000000 ? (int)(w.pr.interval_ns / 1000000) : 1000;
    int rc = admin_call_tick(path, req, reply, tick_ms < 50 ? 50 : tick_ms, show ? watch_tick : NULL, &w, &e);
    if (show) progress_end(&w.pr);
    if (rc == -ENOENT || rc == -ECONNREFUSED) {
        if (absent_ok) return -1;
        smctl_errf("%s: no smfs is running for this store (nothing answers on %s)", cmd, path);
        return 1;
    }
    if (rc == -ECONNRESET && (!strcmp(cmd, "ingest") || !strcmp(cmd, "vacuum"))) {
        /* The daemon may have died after its commit was durable, or before. */
        smctl_errf("%s: %s; whether the %s was committed is unknown: 'smctl versions' (once smfs runs "
                   "again) or 'smctl store log STORE' lists the versions", cmd, e.msg, cmd);
        return 1;
    }
    if (rc) {
        smctl_errf("%s: %s", cmd, e.msg);
        return 1;
    }
    json_t *d = json_object_get(*reply, "diag"), *l;
    size_t i;
    if (!json) json_array_foreach(d, i, l) printf("%s\n", json_string_value(l));   /* --json: the caller's */
    if (!json_is_true(json_object_get(*reply, "ok"))) {
        smctl_errf("%s: %s", cmd, json_string_value(json_object_get(*reply, "error")));
        json_decref(*reply);
        *reply = NULL;
        return 1;
    }
    return 0;
}

static void usage(FILE *f, const char *cmd)
{
    fprintf(f, "usage: smctl %s [-c ASSEMBLY] [--admin SOCKET] [--json]%s\n"
               "Ask the running smfs of the assembly's store (its admin socket: --admin, $SMFS_ADMIN,\n"
               "or smfs.sock in the store).\n", cmd, !strcmp(cmd, "vacuum") ? " [--keep N]"
               : !strcmp(cmd, "migrate") ? " [--dry-run] [--now YYYY.MM.DD[Dhh:mm:ss]]" : "");
    if (!strcmp(cmd, "migrate"))
        fprintf(f, "Move every date partition past its tier's retention to the next tier (deleted past the\n"
                   "last), as one new version. --now measures ages from another time (tests, what-ifs).\n");
}

static void print_status(json_t *r)
{
    printf("smfs pid %lld, %s mount at %s, up %lld s\n", I(r, "pid"), S(r, "mode"), S(r, "mountpoint"),
           I(r, "uptime_s"));
    printf("store %s, current version %lld\n", S(r, "store"), I(r, "current"));
    if (*S(r, "store_error"))
        printf("store: WRITES HELD until it recovers (retried every few seconds): %s\n", S(r, "store_error"));
    json_t *v = json_object_get(r, "view");
    printf("view: %lld inodes, %lld versions in memory, %lld pinned\n", I(v, "inodes"), I(v, "versions"),
           I(v, "versions_pinned"));
    json_t *api = json_object_get(r, "api"), *rl = json_object_get(r, "reload");
    if (api) {
        long long qp = I(api, "q_port"), hp = I(api, "http_port");
        const char *qu = json_string_value(json_object_get(api, "q_unix"));
        char qport[32] = "", hport[32] = "off";
        if (qp >= 0) snprintf(qport, sizeof qport, "port %lld", qp);
        if (hp >= 0) snprintf(hport, sizeof hport, "%lld", hp);
        printf("api: q IPC %s%s%s, REST %s; reloadTimeout %.3f s; vacuum %s (keep %lld)\n", qport,
               qp >= 0 && qu ? " and " : "", qu ? qu : (qp < 0 ? "off" : ""), hport,
               I(api, "reload_timeout_ns") / 1e9,
               json_is_true(json_object_get(api, "auto_vacuum")) ? "automatic" : "manual", I(api, "keep_versions"));
    }
    if (rl)
        printf("reload: %lld q IPC and %lld REST registrations, %lld acknowledgements pending, %lld versions held; "
               "%lld signals, %lld acks, %lld timeouts\n", I(rl, "clients_qipc"), I(rl, "clients_rest"),
               I(rl, "pending_acks"), I(rl, "versions_held"), I(rl, "signals"), I(rl, "acks"), I(rl, "timeouts"));
    smctl_print_stream(json_object_get(r, "stream"));
    smctl_print_eod(json_object_get(r, "eod"));
    json_t *ts = json_object_get(r, "tiers"), *t;
    size_t i;
    json_array_foreach(ts, i, t) {
        printf("tier %s: %s, %s", S(t, "name"), S(t, "store"), S(t, "compression"));
        if (*S(t, "oldest_kept")) printf(", keeps from %s", S(t, "oldest_kept"));
        if (json_object_get(t, "files")) printf("; %lld files, %lld bytes", I(t, "files"), I(t, "bytes"));
        if (json_object_get(t, "endpoint")) printf("; endpoint %s", S(t, "endpoint"));
        if (json_object_get(t, "error")) printf("; %s", S(t, "error"));
        if (json_object_get(t, "used_pct"))
            printf("; filesystem %.1f%% used (limit %lld%%): %s", json_real_value(json_object_get(t, "used_pct")),
                   I(t, "limit_pct"), S(t, "state"));
        printf("\n");
    }
    json_t *mg = json_object_get(r, "migrate"), *ml = json_object_get(mg, "last");
    if (ml)
        printf("migrate: last run version %lld, %lld moved, %lld deleted, %lld held, %.3f s; %lld runs, %lld failed\n",
               I(ml, "version"), I(ml, "moved"), I(ml, "deleted"), I(ml, "held"),
               json_real_value(json_object_get(ml, "seconds")), I(mg, "done"), I(mg, "failed"));
    if (*S(mg, "error")) printf("migrate: the last run failed: %s\n", S(mg, "error"));
    json_t *f = json_object_get(r, "fuse");
    if (f) {
        printf("fuse: passthrough %s, readahead %lld KiB\n",
               json_is_true(json_object_get(f, "passthrough")) ? "on" : "off", I(f, "readahead_kb"));
        printf("      %lld lookups, %lld opens (%lld passthrough), %lld reads (%lld bytes), %lld writes refused\n",
               I(f, "lookups"), I(f, "opens"), I(f, "passthrough_opens"), I(f, "reads"), I(f, "read_bytes"),
               I(f, "erofs"));
        printf("      %lld passthrough registrations (%lld kept since their last close), %lld of %lld cached-path "
               "descriptors open\n", I(f, "backings"), I(f, "backings_kept"), I(f, "fds_open"), I(f, "fds_max"));
    }
}

static void print_versions(json_t *r)
{
    json_t *arr = json_object_get(r, "versions"), *v;
    size_t i;
    json_int_t cur = json_integer_value(json_object_get(r, "current"));
    json_array_foreach(arr, i, v) {
        json_int_t n = json_integer_value(json_object_get(v, "version"));
        time_t t = (time_t)(json_integer_value(json_object_get(v, "time_ns")) / 1000000000);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", gmtime(&t));
        printf("v%-6lld %s  %-10s pins %lld%s\n", (long long)n, ts,
               json_string_value(json_object_get(v, "kind")), (long long)json_integer_value(json_object_get(v, "pins")),
               n == cur ? "  (current)" : "");
    }
}

static void print_clients(json_t *r)
{
    json_t *arr = json_object_get(r, "clients"), *v;
    size_t i;
    if (!json_array_size(arr)) {
        printf("no registrations\n");
        return;
    }
    printf("%-5s %-9s %-8s %-22s %-24s %9s %6s %6s %7s %8s\n", "id", "transport", "mount", "peer", "callback",
           "timeout_s", "sent", "acked", "pending", "timeouts");
    json_array_foreach(arr, i, v) {
        const char *peer = json_string_value(json_object_get(v, "peer"));
        const char *user = json_string_value(json_object_get(v, "user"));
        char who[128];
        snprintf(who, sizeof who, "%s%s%s", user && *user ? user : "", user && *user ? "@" : "", peer ? peer : "");
        printf("%-5lld %-9s %-8s %-22s %-24s %9.3f %6lld %6lld %7lld %8lld\n",
               (long long)json_integer_value(json_object_get(v, "id")),
               json_string_value(json_object_get(v, "transport")), json_string_value(json_object_get(v, "mount")),
               who, json_string_value(json_object_get(v, "callback")),
               json_integer_value(json_object_get(v, "timeout_ns")) / 1e9,
               (long long)json_integer_value(json_object_get(v, "sent")),
               (long long)json_integer_value(json_object_get(v, "acked")),
               (long long)json_integer_value(json_object_get(v, "pending")),
               (long long)json_integer_value(json_object_get(v, "timeouts")));
    }
}

/* --now: YYYY.MM.DD, or with Dhh:mm[:ss] after it (UTC). */
static bool parse_now(const char *s, int64_t *ns)
{
    char d[11];
    int32_t days;
    if (strlen(s) < 10) return false;
    memcpy(d, s, 10);
    d[10] = 0;
    if (!k_parse_date(d, &days)) return false;
    int hh = 0, mm = 0, ss = 0, used = 0;
    if (s[10]) {
        if (sscanf(s + 10, "D%2d:%2d%n:%2d%n", &hh, &mm, &used, &ss, &used) < 2 || s[10 + used] || hh > 23 || mm > 59 ||
            ss > 59 || hh < 0 || mm < 0 || ss < 0)
            return false;
    }
    *ns = K_EPOCH_UNIX_NS + (int64_t)days * K_NS_PER_DAY + ((int64_t)hh * 3600 + mm * 60 + ss) * INT64_C(1000000000);
    return true;
}

static void print_migrate(json_t *r)
{
    bool dry = json_is_true(json_object_get(r, "dry_run"));
    json_t *ms = json_object_get(r, "moves"), *m;
    size_t i;
    json_array_foreach(ms, i, m) {
        const char *to = json_string_value(json_object_get(m, "to"));
        bool held = json_is_true(json_object_get(m, "held"));
        printf("  %s %s -> %s (%s)%s, %lld files, %lld bytes", S(m, "date"), S(m, "from"), to ? to : "deleted",
               S(m, "why"), held ? ", held" : "", I(m, "files"), I(m, "bytes"));
        if (!dry && to && !held) printf(" -> %lld bytes", I(m, "bytes_out"));
        printf("\n");
    }
    if (dry)
        printf("migrate (dry run): %lld partitions would move, %lld be deleted, %lld are held\n", I(r, "moved"),
               I(r, "deleted"), I(r, "held"));
    else if (I(r, "version"))
        printf("migrate: version %lld: %lld partitions moved, %lld deleted, %lld held; %lld files, %lld bytes in, "
               "%lld bytes written\n", I(r, "version"), I(r, "moved"), I(r, "deleted"), I(r, "held"), I(r, "files"),
               I(r, "bytes_in"), I(r, "bytes_out"));
    else
        printf("migrate: nothing past its tier's retention%s\n", I(r, "held") ? " but the partitions held" : "");
    json_t *o = json_object_get(r, "s3");
    if (I(o, "uploaded") || I(o, "adopted") || I(o, "orphans_removed"))
        printf("object storage: %lld objects uploaded, %lld adopted from an unfinished run, %lld it left removed\n",
               I(o, "uploaded"), I(o, "adopted"), I(o, "orphans_removed"));
}

int smctl_daemon(int argc, char **argv)
{
    static const struct option lo[] = {
        { "admin", required_argument, 0, 'a' }, { "json", no_argument, 0, 'j' },
        { "keep", required_argument, 0, 'k' }, { "help", no_argument, 0, 'h' },
        { "now", required_argument, 0, 'n' }, { "dry-run", no_argument, 0, 'd' }, { 0, 0, 0, 0 },
    };
    int64_t now_ns = INT64_MIN;
    bool dry = false;
    const char *cmd = argv[0], *cfgpath = NULL, *given = NULL;
    bool json = false;
    uint64_t keep = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': cfgpath = optarg; break;
        case 'a': given = optarg; break;
        case 'j': json = true; break;
        case 'k':
            if (strcmp(cmd, "vacuum")) {
                smctl_errf("%s: --keep is for vacuum only", cmd);
                return 2;
            }
            if (!smctl_u64_arg(optarg, 1, 1000000, "vacuum: --keep", &keep)) return 2;
            break;
        case 'n':
        case 'd':
            if (strcmp(cmd, "migrate")) {
                smctl_errf("%s: --%s is for migrate only", cmd, c == 'n' ? "now" : "dry-run");
                return 2;
            }
            if (c == 'd') dry = true;
            else if (!parse_now(optarg, &now_ns)) {
                smctl_errf("migrate: --now '%s' is not a date or time (YYYY.MM.DD or YYYY.MM.DDDhh:mm:ss)", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    if (optind != argc) {
        smctl_errf("%s: unexpected argument '%s'", cmd, argv[optind]);
        usage(stderr, cmd);
        return 2;
    }
    char path[PATH_MAX];
    if (smctl_admin_path(cfgpath, given, path, sizeof path)) return 1;
    json_t *req = json_pack("{s:s}", "cmd", cmd), *r = NULL;
    if (!strcmp(cmd, "vacuum")) json_object_set_new(req, "keep", json_integer((json_int_t)keep));
    if (now_ns != INT64_MIN) json_object_set_new(req, "now_ns", json_integer((json_int_t)now_ns));
    if (dry) json_object_set_new(req, "dry_run", json_true());
    int rc = smctl_admin_call_progress(path, req, &r, false, json);
    json_decref(req);
    if (rc) return rc;
    if (json) {
        json_object_del(r, "ok");
        char *s = json_dumps(r, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else if (!strcmp(cmd, "status")) {
        print_status(r);
    } else if (!strcmp(cmd, "versions")) {
        print_versions(r);
    } else if (!strcmp(cmd, "clients")) {
        print_clients(r);
    } else if (!strcmp(cmd, "verify")) {
        printf("verify: %lld versions, %lld objects (%lld bytes) checked, %lld without checksum, %lld in object "
               "storage (checked when uploaded): no problems\n", I(r, "versions"), I(r, "objects"), I(r, "bytes"),
               I(r, "unchecked"), I(r, "remote"));
    } else if (!strcmp(cmd, "migrate")) {
        print_migrate(r);
    } else if (!strcmp(cmd, "vacuum")) {
        printf("vacuum: %lld versions dropped, %lld kept; %lld objects (%lld bytes) removed\n",
               I(r, "versions_dropped"), I(r, "versions_kept"), I(r, "objects_removed"), I(r, "object_bytes"));
    } else {
        printf("smfs is stopping\n");
    }
    json_decref(r);
    return 0;
}
