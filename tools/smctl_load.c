/* tools/smctl_load.c: `smctl load DIR`: walk a database the way q's \l does
 * (kdb-formats.md §4) and say what a loader sees, or why it would fail: the root
 * listing without '$' names, par.txt's segments, every segment entry a partition
 * whose name parses as a date, tables from the latest partition, columns from its .d,
 * then every partition checked to have every table and every column file with the
 * same count as its siblings. Used by the demo and by the tests of the FUSE mount
 * and the symlink tree; it reads only through the paths it is given. */
#include "tools/smctl.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/k.h"
#include "core/k_fmt.h"
#include "core/kdb.h"

struct strs {
    char  **v;
    size_t  n;
};

static void strs_free(struct strs *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int strs_add(struct strs *s, const char *x, size_t len)
{
    char **v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v) return -1;
    s->v = v;
    if (!(v[s->n] = strndup(x, len))) return -1;
    s->n++;
    return 0;
}

/* A path into P (PATH_MAX); an overlong one becomes "" and fails the open that follows. */
static void __attribute__((format(printf, 2, 3))) pathf(char *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX) p[0] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* `key dir`: sorted names, without . and .. */
static int list(const char *dir, struct strs *out)
{
    DIR *d = opendir(dir);
    if (!d) {
        smctl_errf("load: cannot list '%s': %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            rc = strs_add(out, de->d_name, strlen(de->d_name));
    closedir(d);
    if (rc) smctl_errf("load: out of memory");
    else if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);   /* an empty segment: v is NULL */
    return rc;
}

/* Column names of a table from its .d. */
static int read_d(const char *tdir, struct strs *cols)
{
    char p[PATH_MAX];
    struct k *x = NULL;
    struct smfs_err e;
    pathf(p, "%s/.d", tdir);
    if (kdb_load(p, &x, &e)) {
        smctl_errf("load: %s", e.msg);
        return -1;
    }
    int rc = 0;
    if (x->t != KT_SYM) {
        smctl_errf("load: '%s' is not a symbol list (type %d)", p, x->t);
        rc = -1;
    }
    for (int64_t i = 0; !rc && i < x->n; i++) {
        const char *s = x->u.syms[i] ? x->u.syms[i] : "";
        rc = strs_add(cols, s, strlen(s));
    }
    k_free(x);
    return rc;
}

static int64_t count_of(const char *path)
{
    struct kdb_file f;
    struct kdb_info in;
    struct smfs_err e;
    if (kdb_file_open(&f, path, &e)) {
        smctl_errf("load: %s", e.msg);
        return -1;
    }
    int rc = kdb_file_info(&f, &in, &e);
    kdb_file_close(&f);
    if (rc) {
        smctl_errf("load: %s", e.msg);
        return -1;
    }
    return in.count;
}

struct part {
    int32_t day;
    char    name[16];
    char   *seg;        /* borrowed */
};

static int cmp_part(const void *a, const void *b)
{
    const struct part *x = a, *y = b;
    return x->day < y->day ? -1 : x->day > y->day;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: smctl load [--json] DIR\n"
               "  Walk DIR as q's \\l would and print what it loads: segments, partitions, tables,\n"
               "  columns and row counts; exit 1 naming the first thing \\l would fail on.\n");
}

int smctl_load(int argc, char **argv)
{
    static const struct option lo[] = {
        { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *root = argv[optind];
    struct strs names = {0}, segs = {0}, tables = {0}, globals = {0};
    struct part *parts = NULL;
    size_t nparts = 0;
    struct strs *cols = NULL;
    int64_t *rows = NULL;
    int status = 1;
    int64_t nsym = -1;
    char p[PATH_MAX];

    if (list(root, &names)) goto out;
    bool has_par = false;
    for (size_t i = 0; i < names.n; i++) {
        const char *n = names.v[i];
        size_t l = strlen(n);
        if (n[l - 1] == '$') continue;                            /* never mind the dollars */
        if (!strcmp(n, "par.txt")) has_par = true;
        else if (n[0] >= '0' && n[0] <= '9') { if (strs_add(&segs, ".", 1)) goto out; }
        else if (!(l > 2 && n[l - 2] == '.')) { if (strs_add(&globals, n, l)) goto out; }
    }
    if (has_par) {
        strs_free(&segs);
        uint8_t *txt;
        size_t len;
        struct smfs_err e;
        pathf(p, "%s/par.txt", root);
        if (file_read_all(p, 1 << 20, &txt, &len, &e)) {
            smctl_errf("load: %s", e.msg);
            goto out;
        }
        for (size_t at = 0; at < len;) {
            const char *l = (const char *)txt + at, *nl = memchr(l, '\n', len - at);
            size_t n = nl ? (size_t)(nl - l) : len - at;
            at += n + 1;
            if (n && strs_add(&segs, l, n)) {
                free(txt);
                goto out;
            }
        }
        free(txt);
    } else if (segs.n) {
        strs_free(&segs);
        if (strs_add(&segs, ".", 1)) goto out;
    }

    /* .Q.L: every entry of every segment is a partition of one type: dates (an HDB) or
     * ints (an IDB's ordinal partitions). */
    int kind = 0;   /* 1 date, 2 int */
    for (size_t s = 0; s < segs.n; s++) {
        if (strstr(segs.v[s], "://")) continue;   /* object storage: not a POSIX path */
        struct strs ents = {0};
        pathf(p, "%s/%s", root, segs.v[s]);
        if (list(p, &ents)) goto out;
        for (size_t i = 0; i < ents.n; i++) {
            const char *n = ents.v[i];
            int32_t day;
            if (!strcmp(segs.v[s], ".") && !(n[0] >= '0' && n[0] <= '9')) continue;
            int k = strlen(n) == 10 && k_parse_date(n, &day) ? 1 : 0;
            if (!k && strlen(n) < 10 && strspn(n, "0123456789") == strlen(n)) {
                k = 2;
                day = (int32_t)atol(n);
            }
            if (!k || (kind && k != kind)) {
                smctl_errf("load: 'part: segment '%s' holds '%s', which is not a %s partition", segs.v[s], n,
                           kind == 2 ? "int" : kind == 1 ? "date" : "date or int");
                strs_free(&ents);
                goto out;
            }
            kind = k;
            struct part *np = realloc(parts, (nparts + 1) * sizeof *np);
            if (!np) goto out;
            parts = np;
            parts[nparts].day = day;
            snprintf(parts[nparts].name, sizeof parts[nparts].name, "%s", n);
            parts[nparts++].seg = segs.v[s];
        }
        strs_free(&ents);
    }
    if (segs.n && !nparts) {
        smctl_errf("load: 'empty: no partition in any segment");
        goto out;
    }
    if (nparts) qsort(parts, nparts, sizeof *parts, cmp_part);

    /* Tables: the latest partition's entries; columns: each one's .d there. */
    if (nparts) {
        const struct part *last = &parts[nparts - 1];
        pathf(p, "%s/%s/%s", root, last->seg, last->name);
        if (list(p, &tables)) goto out;
        cols = calloc(tables.n, sizeof *cols);
        rows = calloc(tables.n, sizeof *rows);
        if (!cols || !rows) goto out;
        for (size_t t = 0; t < tables.n; t++) {
            pathf(p, "%s/%s/%s/%s", root, last->seg, last->name, tables.v[t]);
            if (read_d(p, &cols[t])) goto out;
        }
    }
    for (size_t i = 0; i < nparts; i++) {
        for (size_t t = 0; t < tables.n; t++) {
            int64_t n = -1;
            for (size_t k = 0; k < cols[t].n; k++) {
                pathf(p, "%s/%s/%s/%s/%s", root, parts[i].seg, parts[i].name, tables.v[t],
                         cols[t].v[k]);
                struct stat st;
                if (stat(p, &st)) {
                    smctl_errf("load: partition %s (segment %s): table %s: column file %s: %s", parts[i].name,
                               parts[i].seg, tables.v[t], cols[t].v[k], strerror(errno));
                    goto out;
                }
                int64_t cn = count_of(p);
                if (cn < 0) goto out;
                if (n >= 0 && cn != n) {
                    smctl_errf("load: 'length: partition %s table %s: column %s has %lld items, %s has %lld",
                               parts[i].name, tables.v[t], cols[t].v[k], (long long)cn, cols[t].v[0], (long long)n);
                    goto out;
                }
                n = cn;
            }
            rows[t] += n > 0 ? n : 0;
        }
    }
    for (size_t g = 0; g < globals.n; g++)
        if (!strcmp(globals.v[g], "sym")) {
            pathf(p, "%s/sym", root);
            if ((nsym = count_of(p)) < 0) goto out;
        }

    if (json) {
        json_t *o = json_object(), *ja = json_array(), *jt = json_object(), *jg = json_array();
        for (size_t s = 0; s < segs.n; s++) json_array_append_new(ja, json_string(segs.v[s]));
        for (size_t g = 0; g < globals.n; g++) json_array_append_new(jg, json_string(globals.v[g]));
        for (size_t t = 0; t < tables.n; t++) {
            json_t *jc = json_array();
            for (size_t k = 0; k < cols[t].n; k++) json_array_append_new(jc, json_string(cols[t].v[k]));
            json_object_set_new(jt, tables.v[t], json_pack("{s:o,s:I}", "columns", jc, "rows", (json_int_t)rows[t]));
        }
        json_object_set_new(o, "segments", ja);
        json_object_set_new(o, "partitions", json_integer((json_int_t)nparts));
        json_object_set_new(o, "first", json_string(nparts ? parts[0].name : ""));
        json_object_set_new(o, "last", json_string(nparts ? parts[nparts - 1].name : ""));
        json_object_set_new(o, "tables", jt);
        json_object_set_new(o, "globals", jg);
        json_object_set_new(o, "symbols", json_integer(nsym));
        char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("segments:   %zu (", segs.n);
        for (size_t s = 0; s < segs.n; s++) printf("%s%s", s ? ", " : "", segs.v[s]);
        printf(")\npartitions: %zu (%s .. %s)\n", nparts, nparts ? parts[0].name : "-",
               nparts ? parts[nparts - 1].name : "-");
        for (size_t t = 0; t < tables.n; t++) {
            printf("table %-8s %lld rows; columns", tables.v[t], (long long)rows[t]);
            for (size_t k = 0; k < cols[t].n; k++) printf(" %s", cols[t].v[k]);
            printf("\n");
        }
        printf("globals:   ");
        for (size_t g = 0; g < globals.n; g++) printf(" %s", globals.v[g]);
        if (nsym >= 0) printf(" (sym: %lld symbols)", (long long)nsym);
        printf("\n");
    }
    status = 0;
out:
    for (size_t t = 0; cols && t < tables.n; t++) strs_free(&cols[t]);
    free(cols);
    free(rows);
    free(parts);
    strs_free(&names);
    strs_free(&segs);
    strs_free(&tables);
    strs_free(&globals);
    return status;
}
