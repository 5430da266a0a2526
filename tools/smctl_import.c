/* tools/smctl_import.c: `smctl import` (initial import of an existing HDB into the
 * store, in place) and `smctl ingest STAGING_DIR` (batch ingest), offline: the store
 * must not be held by a running smfs. Problems and the plan go to stdout, progress to
 * stderr (tools/smctl_progress.h), and a one-line summary ends a successful run; with
 * --json one JSON object holds all of it. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/import.h"
#include "core/store.h"
#include "tools/smctl.h"
#include "tools/smctl_progress.h"

#include "ipc/admin.h"

static void import_usage(FILE *f)
{
    fprintf(f, "usage: smctl import [-c ASSEMBLY] [--source DIR] [--dry-run] [--no-verify]\n"
               "                    [--fill-missing] [--batch N] [--keep-versions]\n"
               "       smctl import [-c ASSEMBLY] --rollback\n"
               "  Convert the date-partitioned HDB under the HDB mount's baseURI (in data/, the\n"
               "  first date tier's store) into an smfs store, in place: files are moved in by\n"
               "  hard link, never copied on one filesystem. Partitions already in the other local\n"
               "  date tiers' store directories are imported into those tiers.\n"
               "  -c FILE          the assembly (default: $KXI_ASSEMBLY_FILE, ./assembly.yaml, the\n"
               "                   embedded default)\n"
               "  --source DIR     import the HDB at DIR instead (copied, and kept, if DIR is on\n"
               "                   another filesystem than the store)\n"
               "  --dry-run        validate and print the plan; change nothing\n"
               "  --no-verify      do not read the data to checksum it (validation then reads\n"
               "                   only the first value of each partition column)\n"
               "  --fill-missing   write an empty table where a partition lacks one (as .Q.chk)\n"
               "  --batch N        partitions per commit (default %d)\n"
               "  --keep-versions  keep one version per batch (default: vacuum them at the end)\n"
               "  --rollback       put the original HDB back exactly as it was and remove the store\n"
               "  --json           one JSON object on stdout (its \"diag\" lines included), progress\n"
               "                   as JSON lines on stderr\n"
               "  An interrupted import continues where it stopped when run again.\n", IMPORT_BATCH);
}

static void ingest_usage(FILE *f)
{
    fprintf(f, "usage: smctl ingest [-c ASSEMBLY] [--dry-run] [--no-verify] [--keep-staging] [--json] STAGING_DIR\n"
               "  Add or replace the date partitions of STAGING_DIR (a partitioned database holding\n"
               "  only the affected tables, with its own sym) as one new version of the store.\n"
               "  New symbols are appended to sym; enumerations are re-mapped when needed.\n"
               "  --keep-staging   leave STAGING_DIR as it is (default: its files move into the store)\n"
               "  --admin SOCKET   the running smfs to ask (default: $SMFS_ADMIN, or smfs.sock in the\n"
               "                   store). When smfs runs, it commits and publishes the version itself;\n"
               "                   otherwise the store is opened here.\n"
               "  --json           one JSON object on stdout (its \"diag\" lines included), progress\n"
               "                   as JSON lines on stderr\n");
}

/* Where diagnostic lines go: stdout, one per line, or with --json into the "diag"
 * array of the one JSON object printed at the end. */
struct out {
    json_t         *diag;      /* --json */
    struct progress pr;
};

static void print_line(void *arg, const char *line)
{
    struct out *o = arg;
    if (o->diag) {
        json_array_append_new(o->diag, json_string(line));
        return;
    }
    printf("%s\n", line);
    fflush(stdout);
}

static void show(void *arg, const struct import_progress *p)
{
    struct out *o = arg;
    progress_show(&o->pr, p->phase, p->current, p->parts_done, p->parts_total, "partitions", p->bytes_done,
                  p->bytes_total);
}

/* --json: {"ok":…, "diag":[…], …FIELDS} on stdout; FIELDS is stolen (may be NULL). */
static int print_result(struct out *o, int rc, const char *err, json_t *fields)
{
    json_t *r = fields ? fields : json_object();
    json_object_set_new(r, "ok", json_boolean(rc == 0));
    if (rc) json_object_set_new(r, "error", json_string(err));
    json_object_set(r, "diag", o->diag);
    char *t = json_dumps(r, JSON_INDENT(2));
    if (t) printf("%s\n", t);
    free(t);
    json_decref(r);
    return rc ? 1 : 0;
}

int smctl_import(int argc, char **argv)
{
    static const struct option lo[] = {
        { "source", required_argument, 0, 's' }, { "dry-run", no_argument, 0, 'n' },
        { "no-verify", no_argument, 0, 'V' },   { "fill-missing", no_argument, 0, 'f' },
        { "batch", required_argument, 0, 'b' }, { "keep-versions", no_argument, 0, 'k' },
        { "rollback", no_argument, 0, 'r' },    { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *cfgpath = NULL;
    struct import_opts o = { .verify = true };
    bool rollback = false, json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': cfgpath = optarg; break;
        case 's': o.source = optarg; break;
        case 'n': o.dry_run = true; break;
        case 'V': o.verify = false; break;
        case 'f': o.fill_missing = true; break;
        case 'k': o.no_vacuum = true; break;
        case 'r': rollback = true; break;
        case 'j': json = true; break;
        case 'b': {
            uint64_t n;
            if (!smctl_u64_arg(optarg, 1, 1000000, "import: --batch (partitions per commit)", &n)) return 2;
            o.batch = (unsigned)n;
            break;
        }
        case 'h': import_usage(stdout); return 0;
        default: import_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        smctl_errf("import: unexpected argument '%s'", argv[optind]);
        import_usage(stderr);
        return 2;
    }
    struct cfg *cfg = smctl_load_cfg(cfgpath);
    if (!cfg) return 1;
    struct out out = { .diag = json ? json_array() : NULL };
    progress_init(&out.pr, rollback ? "rollback" : "import", json);
    o.cfg = cfg;
    o.diag = print_line;
    o.progress = show;
    o.arg = &out;
    struct import_summary sum;
    struct smfs_err err = {0};
    int rc = rollback ? import_rollback(&o, &sum, &err) : import_run(&o, &sum, &err);
    progress_end(&out.pr);
    cfg_free(cfg);
    if (json) {
        json_t *f = json_pack("{s:s,s:b,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}",
                              "action", rollback ? "rollback" : o.dry_run ? "dry-run" : "import",
                              "resumed", sum.resumed, "copied", sum.copied, "dry_run", o.dry_run,
                              "partitions", (json_int_t)sum.partitions, "tables", (json_int_t)sum.tables,
                              "files", (json_int_t)sum.files, "bytes", (json_int_t)sum.bytes,
                              "filled", (json_int_t)sum.filled, "versions", (json_int_t)sum.versions,
                              "version", (json_int_t)sum.version, "elapsed_s", (double)sum.elapsed_ns / 1e9);
        rc = print_result(&out, rc, err.msg, f);
        json_decref(out.diag);
        return rc;
    }
    if (rc < 0) {
        smctl_errf("import: %s", err.msg);
        return 1;
    }
    if (!rollback && !o.dry_run && sum.versions) {
        double s = (double)sum.elapsed_ns / 1e9;
        char b[32];
        progress_human((double)sum.bytes, b, sizeof b);
        printf("imported %llu partitions, %llu tables, %llu files, %s in %.2f s (%.0f MB/s)%s%s; store "
               "version %llu%s\n", (unsigned long long)sum.partitions, (unsigned long long)sum.tables,
               (unsigned long long)sum.files, b, s, s > 0 ? (double)sum.bytes / 1e6 / s : 0.0,
               sum.resumed ? ", resumed" : "", sum.copied ? ", copied from another filesystem" : "",
               (unsigned long long)sum.version, sum.filled ? "" : "");
        if (sum.filled) printf("wrote %llu empty tables (--fill-missing)\n", (unsigned long long)sum.filled);
    }
    return 0;
}

static json_t *ingest_json(const struct ingest_summary *sum, bool live)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "root_tables", (json_int_t)sum->root_tables,
                     "added", (json_int_t)sum->added,
                     "replaced", (json_int_t)sum->replaced, "tables", (json_int_t)sum->tables,
                     "files", (json_int_t)sum->files, "bytes", (json_int_t)sum->bytes,
                     "filled", (json_int_t)sum->filled, "new_symbols", (json_int_t)sum->new_symbols,
                     "remapped", (json_int_t)sum->remapped, "version", (json_int_t)sum->version,
                     "live", live);
}

static void print_ingest(const struct ingest_summary *sum, const char *how)
{
    char b[32];
    progress_human((double)sum->bytes, b, sizeof b);
    char roots[64] = "";
    if (sum->root_tables)
        snprintf(roots, sizeof roots, " and %llu table%s at the root", (unsigned long long)sum->root_tables,
                 sum->root_tables == 1 ? "" : "s");
    printf("ingested %llu new and %llu replaced partitions%s (%llu tables, %llu files, %s); %llu new "
           "symbols, %llu files re-mapped, %llu empty tables added; store version %llu%s\n",
           (unsigned long long)sum->added, (unsigned long long)sum->replaced, roots,
           (unsigned long long)sum->tables, (unsigned long long)sum->files, b,
           (unsigned long long)sum->new_symbols, (unsigned long long)sum->remapped,
           (unsigned long long)sum->filled, (unsigned long long)sum->version, how);
}

/* A running smfs holds the store: hand it the ingest, so the new version is committed
 * and published by the process serving it. 0 done, 1 failed, -1 no daemon. */
static int ingest_via_daemon(const struct cfg *cfg, const char *given, const struct ingest_opts *o,
                             struct out *out)
{
    char path[PATH_MAX], dir[PATH_MAX];
    struct smfs_err e;
    if (given) snprintf(path, sizeof path, "%s", given);
    else if (admin_default_path(cfg, path, sizeof path, &e)) return -1;
    if (!realpath(o->staging, dir)) {
        char m[PATH_MAX + 100];
        snprintf(m, sizeof m, "staging directory '%s': %s", o->staging, strerror(errno));
        if (out->diag) return print_result(out, -ENOENT, m, NULL);
        smctl_errf("ingest: %s", m);
        return 1;
    }
    json_t *req = json_pack("{s:s,s:s,s:b,s:b,s:b}", "cmd", "ingest", "dir", dir, "verify", o->verify,
                            "dry_run", o->dry_run, "keep_staging", o->keep_staging), *r = NULL;
    /* No daemon: work offline, unless the user named one. */
    int rc = smctl_admin_call_progress(path, req, &r, !given, out->diag != NULL);
    json_decref(req);
    if (rc) return rc;
    struct ingest_summary sum = {0};
#define F(k) sum.k = (uint64_t)json_integer_value(json_object_get(r, #k))
    F(added); F(replaced); F(tables); F(files); F(bytes); F(filled); F(new_symbols); F(remapped); F(version);
    F(root_tables);
#undef F
    if (out->diag) json_array_extend(out->diag, json_object_get(r, "diag"));
    json_decref(r);
    if (out->diag) return print_result(out, 0, NULL, ingest_json(&sum, true));
    if (!o->dry_run) print_ingest(&sum, ", live in the running smfs");
    return 0;
}

int smctl_ingest(int argc, char **argv)
{
    static const struct option lo[] = {
        { "dry-run", no_argument, 0, 'n' }, { "no-verify", no_argument, 0, 'V' },
        { "keep-staging", no_argument, 0, 'k' }, { "admin", required_argument, 0, 'a' },
        { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *cfgpath = NULL, *admin = NULL;
    struct ingest_opts o = { .verify = true };
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': cfgpath = optarg; break;
        case 'n': o.dry_run = true; break;
        case 'V': o.verify = false; break;
        case 'k': o.keep_staging = true; break;
        case 'a': admin = optarg; break;
        case 'j': json = true; break;
        case 'h': ingest_usage(stdout); return 0;
        default: ingest_usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        smctl_errf("ingest: give one STAGING_DIR");
        ingest_usage(stderr);
        return 2;
    }
    o.staging = argv[optind];
    struct cfg *cfg = smctl_load_cfg(cfgpath);
    if (!cfg) return 1;
    struct out out = { .diag = json ? json_array() : NULL };
    progress_init(&out.pr, "ingest", json);
    o.cfg = cfg;
    o.diag = print_line;
    o.progress = show;
    o.arg = &out;
    int rc = ingest_via_daemon(cfg, admin, &o, &out);
    if (rc >= 0) {
        cfg_free(cfg);
        json_decref(out.diag);
        return rc;
    }
    struct store *s = NULL;
    struct store_recovery rep;
    struct smfs_err err = {0};
    struct ingest_summary sum = {0};
    rc = import_store_open(cfg, false, &s, &rep, &err);
    if (rc == 0) {
        if (rep.note[0]) smctl_errf("store '%s': %s", store_home(s), rep.note);
        rc = ingest_run(s, &o, &sum, &err);
        progress_end(&out.pr);
        store_close(s);
    }
    cfg_free(cfg);
    if (json) {
        rc = print_result(&out, rc, err.msg, rc ? NULL : ingest_json(&sum, false));
        json_decref(out.diag);
        return rc;
    }
    if (rc < 0) {
        smctl_errf("ingest: %s", err.msg);
        return 1;
    }
    if (!o.dry_run) print_ingest(&sum, "");
    return 0;
}
