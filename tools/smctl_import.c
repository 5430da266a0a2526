/* tools/smctl_import.c: `smctl import` (initial import of an existing HDB into the
 * store, in place) and `smctl ingest STAGING_DIR` (batch ingest), offline: the store
 * must not be held by a running smfs. Problems and the plan go to stdout, the progress
 * bar to stderr when it is a terminal, and a one-line summary ends a successful run. */
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
               "  An interrupted import continues where it stopped when run again.\n", IMPORT_BATCH);
}

static void ingest_usage(FILE *f)
{
    fprintf(f, "usage: smctl ingest [-c ASSEMBLY] [--dry-run] [--no-verify] [--keep-staging] STAGING_DIR\n"
               "  Add or replace the date partitions of STAGING_DIR (a partitioned database holding\n"
               "  only the affected tables, with its own sym) as one new version of the store.\n"
               "  New symbols are appended to sym; enumerations are re-mapped when needed.\n"
               "  --keep-staging   leave STAGING_DIR as it is (default: its files move into the store)\n"
               "  --admin SOCKET   the running smfs to ask (default: $SMFS_ADMIN, or smfs.sock in the\n"
               "                   store). When smfs runs, it commits and publishes the version itself;\n"
               "                   otherwise the store is opened here.\n");
}

static void print_line(void *arg, const char *line)
{
    (void)arg;
    printf("%s\n", line);
    fflush(stdout);
}

struct bar {
    bool    tty;
    int64_t last_ns;
};

static void human(double bytes, char *out, size_t n)
{
    const char *u[] = { "B", "KB", "MB", "GB", "TB" };
    int i = 0;
    while (bytes >= 1000 && i < 4) bytes /= 1000, i++;
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", bytes, u[i]);
}

/* A progress bar on a terminal, redrawn at most ten times a second. */
static void draw(void *arg, const struct import_progress *p)
{
    struct bar *b = arg;
    if (!b->tty) return;
    if (p->elapsed_ns - b->last_ns < 100000000 && p->parts_done != p->parts_total) return;
    b->last_ns = p->elapsed_ns;
    double f = p->bytes_total ? (double)p->bytes_done / (double)p->bytes_total : 0;
    if (f > 1) f = 1;
    char bar[31], done[32], total[32];
    int w = (int)(f * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < w ? '#' : '.';
    bar[30] = 0;
    human((double)p->bytes_done, done, sizeof done);
    human((double)p->bytes_total, total, sizeof total);
    double s = (double)p->elapsed_ns / 1e9;
    fprintf(stderr, "\r%-8s [%s] %3.0f%%  %llu/%llu partitions  %s/%s  %.0f MB/s  %-10s", p->phase, bar,
            f * 100, (unsigned long long)p->parts_done, (unsigned long long)p->parts_total, done, total,
            s > 0 ? (double)p->bytes_done / 1e6 / s : 0.0, p->current ? p->current : "");
    fflush(stderr);
}

static void bar_end(struct bar *b)
{
    if (b->tty && b->last_ns) fprintf(stderr, "\n");
}

int smctl_import(int argc, char **argv)
{
    static const struct option lo[] = {
        { "source", required_argument, 0, 's' }, { "dry-run", no_argument, 0, 'n' },
        { "no-verify", no_argument, 0, 'V' },   { "fill-missing", no_argument, 0, 'f' },
        { "batch", required_argument, 0, 'b' }, { "keep-versions", no_argument, 0, 'k' },
        { "rollback", no_argument, 0, 'r' },    { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *cfgpath = NULL;
    struct import_opts o = { .verify = true };
    bool rollback = false;
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
    struct bar bar = { .tty = isatty(2) == 1 };
    o.cfg = cfg;
    o.diag = print_line;
    o.progress = draw;
    o.arg = &bar;
    /* diag and progress share arg: print_line ignores it. */
    struct import_summary sum;
    struct smfs_err err;
    int rc = rollback ? import_rollback(&o, &sum, &err) : import_run(&o, &sum, &err);
    bar_end(&bar);
    if (rc < 0) {
        smctl_errf("import: %s", err.msg);
        cfg_free(cfg);
        return 1;
    }
    if (!rollback && !o.dry_run && sum.versions) {
        double s = (double)sum.elapsed_ns / 1e9;
        char b[32];
        human((double)sum.bytes, b, sizeof b);
        printf("imported %llu partitions, %llu tables, %llu files, %s in %.2f s (%.0f MB/s)%s%s; store "
               "version %llu%s\n", (unsigned long long)sum.partitions, (unsigned long long)sum.tables,
               (unsigned long long)sum.files, b, s, s > 0 ? (double)sum.bytes / 1e6 / s : 0.0,
               sum.resumed ? ", resumed" : "", sum.copied ? ", copied from another filesystem" : "",
               (unsigned long long)sum.version, sum.filled ? "" : "");
        if (sum.filled) printf("wrote %llu empty tables (--fill-missing)\n", (unsigned long long)sum.filled);
    }
    cfg_free(cfg);
    return 0;
}

static void print_ingest(const struct ingest_summary *sum, const char *how)
{
    char b[32];
    human((double)sum->bytes, b, sizeof b);
    printf("ingested %llu new and %llu replaced partitions (%llu tables, %llu files, %s); %llu new "
           "symbols, %llu files re-mapped, %llu empty tables added; store version %llu%s\n",
           (unsigned long long)sum->added, (unsigned long long)sum->replaced,
           (unsigned long long)sum->tables, (unsigned long long)sum->files, b,
           (unsigned long long)sum->new_symbols, (unsigned long long)sum->remapped,
           (unsigned long long)sum->filled, (unsigned long long)sum->version, how);
}

/* A running smfs holds the store: hand it the ingest, so the new version is committed
 * and published by the process serving it. 0 done, 1 failed, -1 no daemon. */
static int ingest_via_daemon(const struct cfg *cfg, const char *given, const struct ingest_opts *o)
{
    char path[PATH_MAX], dir[PATH_MAX];
    struct smfs_err e;
    if (given) snprintf(path, sizeof path, "%s", given);
    else if (admin_default_path(cfg, path, sizeof path, &e)) return -1;
    if (!realpath(o->staging, dir)) {
        smctl_errf("ingest: staging directory '%s': %s", o->staging, strerror(errno));
        return 1;
    }
    json_t *req = json_pack("{s:s,s:s,s:b,s:b,s:b}", "cmd", "ingest", "dir", dir, "verify", o->verify,
                            "dry_run", o->dry_run, "keep_staging", o->keep_staging), *r = NULL;
    /* No daemon: work offline, unless the user named one. */
    int rc = smctl_admin_call(path, req, &r, !given);
    json_decref(req);
    if (rc) return rc;
    struct ingest_summary sum = {0};
#define F(k) sum.k = (uint64_t)json_integer_value(json_object_get(r, #k))
    F(added); F(replaced); F(tables); F(files); F(bytes); F(filled); F(new_symbols); F(remapped); F(version);
#undef F
    if (!o->dry_run) print_ingest(&sum, ", live in the running smfs");
    json_decref(r);
    return 0;
}

int smctl_ingest(int argc, char **argv)
{
    static const struct option lo[] = {
        { "dry-run", no_argument, 0, 'n' }, { "no-verify", no_argument, 0, 'V' },
        { "keep-staging", no_argument, 0, 'k' }, { "admin", required_argument, 0, 'a' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *cfgpath = NULL, *admin = NULL;
    struct ingest_opts o = { .verify = true };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': cfgpath = optarg; break;
        case 'n': o.dry_run = true; break;
        case 'V': o.verify = false; break;
        case 'k': o.keep_staging = true; break;
        case 'a': admin = optarg; break;
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
    o.cfg = cfg;
    o.diag = print_line;
    int via = ingest_via_daemon(cfg, admin, &o);
    if (via >= 0) {
        cfg_free(cfg);
        return via;
    }
    struct store *s = NULL;
    struct store_recovery rep;
    struct smfs_err err;
    int rc = import_store_open(cfg, false, &s, &rep, &err);
    if (rc < 0) {
        smctl_errf("ingest: %s", err.msg);
        cfg_free(cfg);
        return 1;
    }
    if (rep.note[0]) smctl_errf("store '%s': %s", store_home(s), rep.note);
    struct ingest_summary sum;
    rc = ingest_run(s, &o, &sum, &err);
    store_close(s);
    cfg_free(cfg);
    if (rc < 0) {
        smctl_errf("ingest: %s", err.msg);
        return 1;
    }
    if (!o.dry_run) print_ingest(&sum, "");
    return 0;
}
