/* tools/smctl_store.c: `smctl store log|ls|verify|vacuum DIR …` — offline tools on a
 * store no daemon holds. Each opens the store (taking its lock, so a store in use is
 * refused with the holder's pid), which also recovers it after a crash; what recovery
 * did is printed to stderr. --json prints one JSON document for machines. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/num.h"
#include "core/store.h"
#include "tools/smctl.h"
#include "tools/smctl_progress.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: smctl store log [--json] DIR\n"
               "       smctl store ls [--json] DIR [VERSION] [PATH]\n"
               "       smctl store cat DIR [VERSION] PATH\n"
               "       smctl store verify [--json] DIR\n"
               "       smctl store vacuum [--json] [--keep N] DIR\n"
               "  DIR is a store directory (a tier's store; the first tier's holds the index).\n"
               "  log     the kept versions, newest first, with their metadata\n"
               "  ls      a directory or file of VERSION (default: the current one)\n"
               "  cat     write the bytes of a file of VERSION to stdout\n"
               "  verify  re-read every index record and every object of every kept version\n"
               "          and check each checksum; exit status 1 if anything is wrong\n"
               "  vacuum  drop versions other than the newest N (default 1) and any pinned,\n"
               "          remove their objects, compact mostly dead packs\n"
               "  All work offline: a store held by a running smfs is refused.\n");
}

static const char *when(int64_t ns, char *buf, size_t n)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + l, n - l, ".%03dZ", (int)(ns / 1000000 % 1000));
    return buf;
}

static struct store *open_store(const char *dir)
{
    struct store *s = NULL;
    struct store_recovery rep;
    struct smfs_err err;
    if (store_open(dir, NULL, &s, &rep, &err) < 0) {
        smctl_errf("%s", err.msg);
        return NULL;
    }
    if (rep.note[0]) smctl_errf("store '%s': %s", dir, rep.note);
    return s;
}

static int print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    if (!text) return 1;
    puts(text);
    free(text);
    return 0;
}

static int cmd_log(struct store *s, bool json)
{
    struct store_version *v;
    size_t n;
    struct smfs_err err;
    if (store_versions(s, &v, &n, &err) < 0) {
        smctl_errf("%s", err.msg);
        return 1;
    }
    json_t *arr = json ? json_array() : NULL;
    char t[64];
    if (!json && n == 0) printf("store '%s' has no versions yet\n", store_home(s));
    for (size_t i = n; i-- > 0;) {
        const struct store_version *x = &v[i];
        if (json) {
            json_t *meta = json_object();
            for (size_t k = 0; k < x->nkv; k++) json_object_set_new(meta, x->key[k], json_string(x->val[k]));
            json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:I, s:o, s:b}",
                "version", (json_int_t)x->version, "parent", (json_int_t)x->parent,
                "time", when(x->time_ns, t, sizeof t), "pins", (json_int_t)x->pins,
                "meta", meta, "current", x->version == store_current(s)));
            continue;
        }
        printf("version %llu%s  %s  parent %llu", (unsigned long long)x->version,
               x->version == store_current(s) ? " (current)" : "", when(x->time_ns, t, sizeof t),
               (unsigned long long)x->parent);
        if (x->pins) printf("  pinned by %u", x->pins);
        printf("\n");
        for (size_t k = 0; k < x->nkv; k++) printf("    %s: %s\n", x->key[k], x->val[k]);
    }
    store_versions_free(v, n);
    return json ? print_json(arr) : 0;
}

static json_t *entry_json(const struct store *s, const struct store_entry *e)
{
    char t[64], sum[24];
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", e->name,
                          "kind", e->kind == STORE_DIR ? "dir" : "file", "id", (json_int_t)e->id,
                          "size", (json_int_t)e->size, "mtime", when(e->mtime_ns, t, sizeof t));
    if (e->kind == STORE_FILE) {
        const struct store_tier *tr = store_tier(s, e->tier);
        json_object_set_new(j, "tier", json_string(tr ? tr->name : "?"));
        snprintf(sum, sizeof sum, "%016llx", (unsigned long long)e->sum);
        json_object_set_new(j, "xxh3", (e->flags & STORE_F_NOSUM) ? json_null() : json_string(sum));
    }
    return j;
}

static void entry_text(const struct store *s, const struct store_entry *e)
{
    if (e->kind == STORE_DIR) {
        printf("d %12llu  %-24s tree %llu\n", (unsigned long long)e->size, e->name,
               (unsigned long long)e->id);
        return;
    }
    const struct store_tier *tr = store_tier(s, e->tier);
    printf("f %12llu  %-24s object %016llx in %s%s\n", (unsigned long long)e->size, e->name,
           (unsigned long long)e->id, tr ? tr->name : "?",
           (e->flags & STORE_F_NOSUM) ? " (no checksum)" : "");
}

static int cmd_ls(struct store *s, bool json, uint64_t version, const char *path)
{
    struct store_snap *snap;
    struct smfs_err err;
    int rc = 1;
    if (store_snap_get(s, version, &snap, &err) < 0) {
        smctl_errf("%s", err.msg);
        return 1;
    }
    struct store_entry e;
    if (store_lookup(snap, path, &e, &err) < 0) {
        smctl_errf("%s", err.msg);
        goto out;
    }
    if (e.kind == STORE_FILE) {
        if (json) {
            rc = print_json(entry_json(s, &e));
            goto out;
        }
        entry_text(s, &e);
        rc = 0;
        goto out;
    }
    json_t *arr = json ? json_array() : NULL;
    struct store_entry ents[64];
    size_t got;
    for (uint64_t at = 0;; at += got) {
        if (store_dir_read(s, e.id, at, ents, 64, &got, &err) < 0) {
            smctl_errf("%s", err.msg);
            json_decref(arr);
            goto out;
        }
        if (!got) break;
        for (size_t i = 0; i < got; i++) {
            if (json) json_array_append_new(arr, entry_json(s, &ents[i]));
            else entry_text(s, &ents[i]);
        }
    }
    rc = json ? print_json(arr) : 0;
out:
    store_snap_put(snap);
    return rc;
}

static int cmd_cat(struct store *s, uint64_t version, const char *path)
{
    struct store_snap *snap;
    struct smfs_err err;
    if (store_snap_get(s, version, &snap, &err) < 0) {
        smctl_errf("%s", err.msg);
        return 1;
    }
    struct store_entry e;
    int rc = store_lookup(snap, path, &e, &err);
    store_snap_put(snap);
    if (rc == 0 && e.kind != STORE_FILE) rc = err_set(&err, -EISDIR, "'%s' is a directory", path);
    int fd = rc < 0 ? rc : store_object_open(s, &e, &err);
    if (fd < 0) {
        smctl_errf("%s", err.msg);
        return 1;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) break;
    close(fd);
    return n < 0 || fflush(stdout) != 0;
}

static void print_problem(void *arg, const char *line)
{
    json_t *arr = arg;
    if (arr) json_array_append_new(arr, json_string(line));
    else printf("problem: %s\n", line);
}

struct verify_ctx {
    json_t         *problems;   /* --json */
    struct progress pr;
};

static void verify_problem(void *arg, const char *line)
{
    struct verify_ctx *v = arg;
    print_problem(v->problems, line);
    if (!v->problems) fflush(stdout);
}

static void verify_progress(void *arg, const struct store_verify_progress *p)
{
    struct verify_ctx *v = arg;
    progress_show(&v->pr, "verify", NULL, p->objects_done, p->objects_total, "objects", p->bytes_done,
                  p->bytes_total);
}

static int cmd_verify(struct store *s, bool json)
{
    struct verify_ctx v = {.problems = json ? json_array() : NULL};
    json_t *problems = v.problems;
    progress_init(&v.pr, "verify", json);
    struct store_verify_report r;
    struct smfs_err err;
    int rc = store_verify_with_progress(s, verify_problem, verify_progress, &v, &r, &err);
    progress_end(&v.pr);
    if (json)
        return print_json(json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "ok", rc == 0,
                                    "versions", (json_int_t)r.versions, "trees", (json_int_t)r.trees,
                                    "objects", (json_int_t)r.objects, "bytes", (json_int_t)r.bytes,
                                    "unchecked", (json_int_t)r.unchecked, "remote", (json_int_t)r.remote,
                                    "problems", problems)) || rc < 0;
    printf("verified %u versions, %u trees, %llu objects (%llu bytes, %llu without checksum; %llu more in object "
           "storage, checked when uploaded): %s\n", r.versions, r.trees, (unsigned long long)r.objects,
           (unsigned long long)r.bytes, (unsigned long long)r.unchecked, (unsigned long long)r.remote,
           rc == 0 ? "ok" : "PROBLEMS");
    if (rc < 0) smctl_errf("%s", err.msg);
    return rc < 0;
}

static int cmd_vacuum(struct store *s, bool json, uint32_t keep)
{
    struct store_vacuum_report r;
    struct smfs_err err;
    if (store_vacuum(s, &(struct store_vacuum_opts){ .keep = keep }, &r, &err) < 0) {
        smctl_errf("%s", err.msg);
        return 1;
    }
    if (json)
        return print_json(json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "versions_dropped",
                                    (json_int_t)r.versions_dropped, "versions_kept",
                                    (json_int_t)r.versions_kept, "objects_removed",
                                    (json_int_t)r.objects_removed, "object_bytes",
                                    (json_int_t)r.object_bytes, "packs_removed",
                                    (json_int_t)r.packs_removed, "pack_bytes",
                                    (json_int_t)r.pack_bytes));
    printf("dropped %u versions (kept %u); removed %llu objects (%llu bytes) and %u packs (%llu index bytes)\n",
           r.versions_dropped, r.versions_kept, (unsigned long long)r.objects_removed,
           (unsigned long long)r.object_bytes, r.packs_removed, (unsigned long long)r.pack_bytes);
    return 0;
}

int smctl_store(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    bool json = false;
    uint64_t keep = 1;
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' }, { "keep", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' }, { 0 },
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'k':
            if (!smctl_u64_arg(optarg, 1, 1000000, "--keep", &keep)) return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    char **rest = argv + 1 + optind;
    int nrest = argc - 1 - optind;
    bool ls = !strcmp(sub, "ls"), cat = !strcmp(sub, "cat");
    if (strcmp(sub, "log") && !ls && !cat && strcmp(sub, "verify") && strcmp(sub, "vacuum")) {
        smctl_errf("unknown store command '%s' (log, ls, cat, verify, vacuum)", sub);
        return 2;
    }
    if (nrest < (cat ? 2 : 1) || nrest > (ls || cat ? 3 : 1)) {
        usage(stderr);
        return 2;
    }
    uint64_t version = 0;
    const char *path = "";
    if ((ls || cat) && nrest >= 2) {
        struct smfs_err ve = {0};
        if (!num_parse_u64(rest[1], 0, UINT64_MAX, "version", &version, &ve)) path = nrest == 3 ? rest[2] : "";
        else if (nrest == 2) path = rest[1];
        else {
            smctl_errf("version '%s' is not a number", rest[1]);
            return 2;
        }
    }
    struct store *s = open_store(rest[0]);
    if (!s) return 1;
    int rc;
    if (!strcmp(sub, "log")) rc = cmd_log(s, json);
    else if (ls) rc = cmd_ls(s, json, version, path);
    else if (cat) rc = cmd_cat(s, version, path);
    else if (!strcmp(sub, "verify")) rc = cmd_verify(s, json);
    else rc = cmd_vacuum(s, json, (uint32_t)keep);
    store_close(s);
    return rc;
}
