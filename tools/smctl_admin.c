/* tools/smctl_admin.c: smctl status | clients | versions | vacuum | verify | stop, spoken to a running
 * smfs over its admin socket (ipc/admin.h), and the daemon side of smctl ingest. */
#include "tools/smctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
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

int smctl_admin_call(const char *path, json_t *req, json_t **reply, bool absent_ok)
{
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    struct smfs_err e;
    *reply = NULL;
    int rc = admin_call(path, req, reply, &e);
    if (rc == -ENOENT || rc == -ECONNREFUSED) {
        if (absent_ok) return -1;
        smctl_errf("%s: no smfs is running for this store (nothing answers on %s)", cmd, path);
        return 1;
    }
    if (rc) {
        smctl_errf("%s: %s", cmd, e.msg);
        return 1;
    }
    json_t *d = json_object_get(*reply, "diag"), *l;
    size_t i;
    json_array_foreach(d, i, l) printf("%s\n", json_string_value(l));
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
               "or smfs.sock in the store).\n", cmd, !strcmp(cmd, "vacuum") ? " [--keep N]" : "");
}

static const char *i64(json_t *o, const char *k, char *b)
{
    snprintf(b, 32, "%lld", (long long)json_integer_value(json_object_get(o, k)));
    return b;
}

static void print_status(json_t *r)
{
    char a[32], b[32], c[32];
    printf("smfs pid %s, %s mount at %s, up %s s\n", i64(r, "pid", a),
           json_string_value(json_object_get(r, "mode")), json_string_value(json_object_get(r, "mountpoint")),
           i64(r, "uptime_s", b));
    printf("store %s, current version %s\n", json_string_value(json_object_get(r, "store")), i64(r, "current", c));
    json_t *v = json_object_get(r, "view");
    printf("view: %s inodes, %s versions in memory, %s pinned\n", i64(v, "inodes", a), i64(v, "versions", b),
           i64(v, "versions_pinned", c));
    json_t *api = json_object_get(r, "api"), *rl = json_object_get(r, "reload");
    if (api) {
        json_int_t qp = json_integer_value(json_object_get(api, "q_port"));
        json_int_t hp = json_integer_value(json_object_get(api, "http_port"));
        const char *qu = json_string_value(json_object_get(api, "q_unix"));
        printf("api: q IPC %s%s%s%s, REST %s; reloadTimeout %.3f s; vacuum %s (keep %s)\n",
               qp >= 0 ? "port " : "", qp >= 0 ? i64(api, "q_port", a) : "", qp >= 0 && qu ? " and " : "",
               qu ? qu : (qp < 0 ? "off" : ""), hp >= 0 ? i64(api, "http_port", b) : "off",
               json_integer_value(json_object_get(api, "reload_timeout_ns")) / 1e9,
               json_is_true(json_object_get(api, "auto_vacuum")) ? "automatic" : "manual",
               i64(api, "keep_versions", c));
    }
    if (rl) {
        char d[32], e[32], f1[32], f2[32];
        printf("reload: %s q IPC and %s REST registrations, %s acknowledgements pending, %s versions held; "
               "%s signals, %s acks, %s timeouts\n", i64(rl, "clients_qipc", a), i64(rl, "clients_rest", b),
               i64(rl, "pending_acks", c), i64(rl, "versions_held", d), i64(rl, "signals", e),
               i64(rl, "acks", f1), i64(rl, "timeouts", f2));
    }
    json_t *f = json_object_get(r, "fuse");
    if (f) {
        printf("fuse: passthrough %s, readahead %s KiB\n", json_is_true(json_object_get(f, "passthrough")) ? "on" : "off",
               i64(f, "readahead_kb", a));
        printf("      %s lookups, %s opens (%s passthrough), %s reads (%s bytes), %s writes refused\n",
               i64(f, "lookups", a), i64(f, "opens", b), i64(f, "passthrough_opens", c), i64(f, "reads", a),
               i64(f, "read_bytes", b), i64(f, "erofs", c));
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

int smctl_daemon(int argc, char **argv)
{
    static const struct option lo[] = {
        { "admin", required_argument, 0, 'a' }, { "json", no_argument, 0, 'j' },
        { "keep", required_argument, 0, 'k' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
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
    int rc = smctl_admin_call(path, req, &r, false);
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
        char a[32], b[32], d[32], e[32];
        printf("verify: %s versions, %s objects (%s bytes) checked, %s without checksum: no problems\n",
               i64(r, "versions", a), i64(r, "objects", b), i64(r, "bytes", d), i64(r, "unchecked", e));
    } else if (!strcmp(cmd, "vacuum")) {
        char a[32], b[32], d[32], e[32];
        printf("vacuum: %s versions dropped, %s kept; %s objects (%s bytes) removed\n", i64(r, "versions_dropped", a),
               i64(r, "versions_kept", b), i64(r, "objects_removed", d), i64(r, "object_bytes", e));
    } else {
        printf("smfs is stopping\n");
    }
    json_decref(r);
    return 0;
}
