/* tools/smctl_config.c: `smctl config check [--json] [FILE]` — load an assembly file
 * (or find one the way smfs does: $KXI_ASSEMBLY_FILE, ./assembly.yaml, the embedded
 * default), print every error and warning as FILE:LINE:COL: key.path: message, and
 * when it is valid the normalised configuration with the derived view: tiers in
 * order, stores, segments and the par.txt smfs will generate.
 * `smctl config default` prints the embedded default. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/k.h"
#include "core/k_fmt.h"
#include "tools/smctl.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: smctl config check [--json] [FILE]\n"
               "       smctl config default\n"
               "  check    validate an assembly file and print the configuration smfs derives from\n"
               "           it (tables, mounts, tiers, stores, segments, par.txt). Without FILE the\n"
               "           file smfs would use: $KXI_ASSEMBLY_FILE, ./assembly.yaml, else the\n"
               "           embedded default. Exit status 0 only if the file is valid.\n"
               "  default  print the embedded default assembly\n"
               "  --json   one JSON object on stdout: file, origin, valid, errors, warnings, config\n");
}

/* q's rendering of a timespan: 0D00:10:00.000000000 */
static const char *span(int64_t ns, char *out, size_t n)
{
    struct k *x = k_timespan(ns);
    struct buf b;
    buf_init(&b, 256);
    snprintf(out, n, "?");
    if (x && k_fmt(x, 1, &b) == 0) snprintf(out, n, "%.*s", (int)b.len, (const char *)b.p);
    buf_release(&b);
    k_free(x);
    return out;
}

/* The schema's names for KA_* (config_load.c reads them in this order). */
static const char *attr(uint8_t a)
{
    static const char *const n[] = {"", "sorted", "unique", "parted", "grouped"};
    return a < 5 ? n[a] : "?";
}

static void join(const struct cfg_strv *v, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < v->n; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", v->v[i]);
}

static void print_text(const struct cfg *c)
{
    char s1[64], s2[64], s3[64], list[512];
    printf("assembly %s (%s, from %s)\n", c->name, c->file, c->origin);
    printf("\ntables\n");
    for (size_t i = 0; i < c->ntables; i++) {
        const struct cfg_table *t = &c->tables[i];
        printf("  %s: %s", t->name, cfg_table_type_name(t->type));
        if (t->prtn_col) printf(", prtnCol %s", t->prtn_col);
        struct { const char *k; const struct cfg_strv *v; } ls[] = {
            {"sortColsMem", &t->sort_mem}, {"sortColsOrd", &t->sort_ord},
            {"sortColsDisk", &t->sort_disk}, {"primaryKeys", &t->primary_keys}};
        for (size_t j = 0; j < 4; j++) {
            if (!ls[j].v->n) continue;
            join(ls[j].v, list, sizeof list);
            printf(", %s %s", ls[j].k, list);
        }
        printf("\n");
        for (size_t j = 0; j < t->ncols; j++) {
            const struct cfg_column *col = &t->cols[j];
            printf("    %-12s %s", col->name, *col->type_name ? col->type_name : "\"\" (mixed)");
            if (col->attr_mem) printf(" attrMem %s", attr(col->attr_mem));
            if (col->attr_ord) printf(" attrOrd %s", attr(col->attr_ord));
            if (col->attr_disk) printf(" attrDisk %s", attr(col->attr_disk));
            if (col->foreign) printf(" foreign %s", col->foreign);
            printf("\n");
        }
    }
    printf("\nmounts\n");
    for (size_t i = 0; i < c->nmounts; i++) {
        const struct cfg_mount *m = &c->mounts[i];
        printf("  %s: %s, partition %s, baseURI %s\n", m->name,
               m->type == CFG_MOUNT_STREAM ? "stream" : "local",
               m->partition == CFG_PART_DATE ? "date" : m->partition == CFG_PART_ORDINAL ? "ordinal" : "none",
               m->base.text);
    }
    const struct cfg_sm *sm = &c->sm;
    printf("\nstorage manager: source %s, reloadTimeout %s, chunkSize %lld, sortLimitGB %g, "
           "waitTm %lld ms, eodPeachLevel %s, initialImport %s, enforceSchema %s\n",
           sm->source, sm->reload_timeout_ns ? span(sm->reload_timeout_ns, s1, sizeof s1) : "(EOI interval)",
           (long long)sm->chunk_size, sm->sort_limit_gb, (long long)sm->wait_ms,
           cfg_peach_name(sm->eod_peach), sm->initial_import ? "true" : "false",
           sm->enforce_schema ? "true" : "false");
    printf("\ntiers (newest first)\n");
    for (size_t i = 0; i < sm->ntiers; i++) {
        const struct cfg_tier *t = &sm->tiers[i];
        printf("  %s: %s tier on mount %s", t->name, cfg_tier_kind_name(t->kind), t->mount_name);
        if (t->kind != CFG_TIER_STREAM) printf(", store %s%s", t->store.text, t->store_explicit ? "" : " (default)");
        if (t->kind == CFG_TIER_ORDINAL)
            printf(", every %s offset %s", span(t->freq_ns, s1, sizeof s1), span(t->offset_ns, s2, sizeof s2));
        if (t->kind == CFG_TIER_DATE && t == c->date_tiers[0])
            printf(", snap %s", span(t->snap_ns, s3, sizeof s3));
        if (t->retain_count) printf(", retain %lld %s", (long long)t->retain_count, cfg_unit_name(t->retain_unit));
        if (t->retain_size_pct) printf(", retain %d%% of the disk", t->retain_size_pct);
        if (t->zip_set)
            printf(", compression %s block 2^%d level %d", kdb_zip_alg_name(t->zip.alg), t->zip.block_log2,
                   t->zip.level);
        if (t->inventory) printf(", inventory %s", t->inventory_location ? t->inventory_location : "(default)");
        printf("\n");
    }
    printf("\nview: HDB mount %s (%s); segments in order:", c->hdb->name, c->hdb->base.text);
    for (size_t i = 0; i < c->ndate; i++)
        printf(" %s", c->date_tiers[i]->segment ? c->date_tiers[i]->segment : c->date_tiers[i]->store.text);
    printf("\npar.txt of version 1:\n");
    struct buf b;
    buf_init(&b, 1 << 20);
    if (cfg_par_txt(c, 1, &b) == 0) {
        for (char *line = (char *)b.p, *end = line + b.len; line < end;) {
            char *nl = memchr(line, '\n', (size_t)(end - line));
            printf("  %.*s\n", (int)(nl - line), line);
            line = nl + 1;
        }
    }
    buf_release(&b);
}

static json_t *strv_json(const struct cfg_strv *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < v->n; i++) json_array_append_new(a, json_string(v->v[i]));
    return a;
}

static json_t *config_json(const struct cfg *c)
{
    json_t *o = json_object(), *ts = json_object(), *ms = json_object(), *tiers = json_array();
    json_object_set_new(o, "name", json_string(c->name));
    for (size_t i = 0; i < c->ntables; i++) {
        const struct cfg_table *t = &c->tables[i];
        json_t *jt = json_object(), *cols = json_array();
        json_object_set_new(jt, "type", json_string(cfg_table_type_name(t->type)));
        json_object_set_new(jt, "prtnCol", t->prtn_col ? json_string(t->prtn_col) : json_null());
        json_object_set_new(jt, "sortColsDisk", strv_json(&t->sort_disk));
        json_object_set_new(jt, "primaryKeys", strv_json(&t->primary_keys));
        for (size_t j = 0; j < t->ncols; j++) {
            const struct cfg_column *col = &t->cols[j];
            json_t *jc = json_object();
            json_object_set_new(jc, "name", json_string(col->name));
            json_object_set_new(jc, "type", json_string(col->type_name));
            json_object_set_new(jc, "ktype", json_integer(col->type));
            json_object_set_new(jc, "vector", json_boolean(col->vector));
            json_object_set_new(jc, "attrDisk", json_string(attr(col->attr_disk)));
            json_array_append_new(cols, jc);
        }
        json_object_set_new(jt, "columns", cols);
        json_object_set_new(ts, t->name, jt);
    }
    json_object_set_new(o, "tables", ts);
    for (size_t i = 0; i < c->nmounts; i++) {
        const struct cfg_mount *m = &c->mounts[i];
        json_t *jm = json_object();
        json_object_set_new(jm, "type", json_string(m->type == CFG_MOUNT_STREAM ? "stream" : "local"));
        json_object_set_new(jm, "baseURI", json_string(m->base.text));
        json_object_set_new(jm, "path", m->base.path ? json_string(m->base.path) : json_null());
        json_object_set_new(ms, m->name, jm);
    }
    json_object_set_new(o, "mounts", ms);
    for (size_t i = 0; i < c->sm.ntiers; i++) {
        const struct cfg_tier *t = &c->sm.tiers[i];
        json_t *jt = json_object();
        json_object_set_new(jt, "name", json_string(t->name));
        json_object_set_new(jt, "kind", json_string(cfg_tier_kind_name(t->kind)));
        json_object_set_new(jt, "mount", json_string(t->mount_name));
        json_object_set_new(jt, "store", json_string(t->store.text));
        json_object_set_new(jt, "storePath", t->store.path ? json_string(t->store.path) : json_null());
        json_object_set_new(jt, "segment", t->segment ? json_string(t->segment) : json_null());
        json_object_set_new(jt, "freqNs", json_integer(t->freq_ns));
        if (t->retain_count) {
            char r[64];
            snprintf(r, sizeof r, "%lld %s", (long long)t->retain_count, cfg_unit_name(t->retain_unit));
            json_object_set_new(jt, "retain", json_string(r));
        }
        if (t->retain_size_pct) json_object_set_new(jt, "retainSizePct", json_integer(t->retain_size_pct));
        if (t->zip_set) {
            json_t *z = json_object();
            json_object_set_new(z, "algorithm", json_string(kdb_zip_alg_name(t->zip.alg)));
            json_object_set_new(z, "block", json_integer(t->zip.block_log2));
            json_object_set_new(z, "level", json_integer(t->zip.level));
            json_object_set_new(jt, "compression", z);
        }
        json_array_append_new(tiers, jt);
    }
    json_object_set_new(o, "tiers", tiers);
    json_object_set_new(o, "hdbMount", json_string(c->hdb->name));
    json_t *segs = json_array();
    for (size_t i = 0; i < c->ndate; i++) json_array_append_new(segs, json_string(c->date_tiers[i]->name));
    json_object_set_new(o, "dateTiers", segs);
    json_object_set_new(o, "reloadTimeoutNs", json_integer(c->sm.reload_timeout_ns));
    struct buf b;
    buf_init(&b, 1 << 20);
    if (cfg_par_txt(c, 1, &b) == 0) json_object_set_new(o, "parTxt", json_stringn((const char *)b.p, b.len));
    buf_release(&b);
    return o;
}

static int check(int argc, char **argv)
{
    bool as_json = false;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'}, {0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (ch == 'j') as_json = true;
        else if (ch == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 2;
    }
    struct cfg *c = NULL;
    struct smfs_err err;
    int rc = cfg_open(optind < argc ? argv[optind] : NULL, &c, &err);
    if (!c) {
        if (as_json) {
            json_t *o = json_object();
            json_object_set_new(o, "valid", json_false());
            json_object_set_new(o, "error", json_string(err.msg));
            char *s = json_dumps(o, JSON_COMPACT);
            if (s) puts(s);
            free(s);
            json_decref(o);
        }
        smctl_errf("%s", err.msg);
        return 1;
    }
    char line[2048];
    if (as_json) {
        json_t *o = json_object(), *errs = json_array(), *warns = json_array();
        json_object_set_new(o, "file", json_string(c->file));
        json_object_set_new(o, "origin", json_string(c->origin));
        json_object_set_new(o, "valid", json_boolean(rc == 0));
        for (size_t i = 0; i < c->ndiags; i++) {
            const struct cfg_diag *d = &c->diags[i];
            json_t *jd = json_object();
            json_object_set_new(jd, "line", json_integer(d->pos.line));
            json_object_set_new(jd, "col", json_integer(d->pos.col));
            json_object_set_new(jd, "path", json_string(d->path));
            json_object_set_new(jd, "message", json_string(d->msg));
            json_array_append_new(d->sev == CFG_ERROR ? errs : warns, jd);
        }
        json_object_set_new(o, "errors", errs);
        json_object_set_new(o, "warnings", warns);
        if (rc == 0) json_object_set_new(o, "config", config_json(c));
        char *s = json_dumps(o, JSON_COMPACT);
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else {
        for (size_t i = 0; i < c->ndiags; i++) {
            cfg_diag_str(c, &c->diags[i], line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
        if (rc == 0) print_text(c);
    }
    if (rc) smctl_errf("%s", err.msg);
    cfg_free(c);
    return rc ? 1 : 0;
}

int smctl_config(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "check")) return check(argc - 1, argv + 1);
    if (!strcmp(argv[1], "default")) {
        fputs(cfg_default_yaml, stdout);
        return 0;
    }
    smctl_errf("config: unknown subcommand '%s' (check or default)", argv[1]);
    return 2;
}
