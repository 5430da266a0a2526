/* tools/smctl_inspect.c: `smctl inspect [--json] [-n N] FILE...` — per file: family,
 * q type, attribute, count, enumeration domain, compression and the first values as
 * q prints them. Enumerations are resolved against their domain file when one is
 * found beside the file or up to three directories above it (an HDB root). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/k_fmt.h"
#include "core/kdb.h"
#include "tools/smctl.h"

#define DEFAULT_ITEMS 10

/* Find DOMAIN as a file in PATH's directory or up to five levels above: a column of a
 * segmented database, <root>/<seg>/<date>/<table>/<col>, has its sym four levels up,
 * and through smfs's view <root>/v<N>$/<seg>/… five. PATH is made absolute but not
 * resolved: in a symlink tree the link leads into the store, away from the sym. */
static struct k *find_domain(const char *path, const char *domain)
{
    char dir[PATH_MAX], cand[PATH_MAX + 300], cwd[PATH_MAX];
    if (path[0] == '/') snprintf(dir, sizeof dir, "%s", path);
    else if (!getcwd(cwd, sizeof cwd) || snprintf(dir, sizeof dir, "%s/%s", cwd, path) >= (int)sizeof dir) return NULL;
    for (int up = 0; up < 6; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) break;
        *slash = '\0';
        snprintf(cand, sizeof cand, "%s/%s", dir, domain);
        if (access(cand, R_OK) == 0) {
            struct k *x = NULL;
            struct smfs_err e;
            if (kdb_load(cand, &x, &e) == 0 && x->t == KT_SYM) return x;
            k_free(x);
        }
    }
    return NULL;
}

/* Enum vector → symbol vector through dom. A null index is q's null symbol (`);
 * an index outside the domain (a damaged or mismatched domain) shows as "?". */
static struct k *resolve(const struct k *en, const struct k *dom)
{
    struct k *s = k_vec(KT_SYM, en->n);
    if (!s) return NULL;
    const int64_t *ix = en->u.v;
    for (int64_t i = 0; i < en->n; i++) {
        const char *name = ix[i] == KNULL_J ? "" : ix[i] >= 0 && ix[i] < dom->n ? k_symv_at(dom, ix[i]) : "?";
        if (k_symv_set(s, i, name) < 0) {
            k_free(s);
            return NULL;
        }
    }
    return s;
}

struct shown {
    struct k *val;        /* what to render (owned) */
    bool      resolved;   /* enum names found in the domain file */
};

/* Vectors and enumerations: read only the items shown, plus one so the rendering
 * knows to print " .."; everything else is loaded whole. */
static int load_value(struct kdb_file *f, const char *path, const struct kdb_info *in, size_t items,
                      struct shown *sh, struct smfs_err *err)
{
    sh->val = NULL;
    sh->resolved = false;
    if (in->fmt == KDB_FMT_HEAP) return 0;
    int rc;
    if (in->fmt == KDB_FMT_VECTOR || in->fmt == KDB_FMT_ENUM || in->fmt == KDB_FMT_ENUM32)
        rc = kdb_file_head(f, in, (int64_t)items + 1, &sh->val, err);
    else
        rc = kdb_load(path, &sh->val, err);
    if (rc < 0) return rc;
    if (sh->val->t == KT_ENUM) {
        struct k *dom = find_domain(path, in->domain);
        if (dom) {
            struct k *s = resolve(sh->val, dom);
            k_free(dom);
            if (s) {
                k_free(sh->val);
                sh->val = s;
                sh->resolved = true;
            }
        }
    }
    return 0;
}

static double ratio(const struct kdb_info *in)
{
    return in->file_size ? (double)in->z.ulen / (double)in->file_size : 0;
}

static void print_human(const char *path, const struct kdb_info *in, const struct shown *sh, size_t items)
{
    printf("%s\n", path);
    printf("  format      %s\n", kdb_fmt_name(in->fmt));
    printf("  type        %s (%d)\n", k_type_name(in->type), in->type);
    printf("  attribute   %s\n", in->attr ? k_attr_name(in->attr) : "none");
    if (in->count >= 0) {
        printf("  count       %" PRId64, in->count);
        if (in->hdr_count != in->count) printf("  (header says %" PRId64 ")", in->hdr_count);
        printf("\n");
    }
    if (in->domain[0]) printf("  domain      %s%s\n", in->domain, sh->resolved ? "" : "  (domain file not found: indices shown)");
    if (in->compressed)
        printf("  compressed  %s level %d, %" PRIu64 " blocks of %" PRIu64 " bytes, %" PRIu64 " -> %" PRIu64 " bytes (%.2fx)\n",
               kdb_zip_alg_name(in->z.alg), in->z.level, in->z.nblocks, in->z.block_size, in->z.ulen,
               in->file_size, ratio(in));
    else
        printf("  compressed  no\n");
    printf("  size        %" PRIu64 " bytes\n", in->file_size);
    if (sh->val) {
        struct buf b;
        buf_init(&b, 0);
        if (sh->resolved && (buf_printf(&b, "`%s$", in->domain) < 0)) b.len = 0;
        if (k_fmt(sh->val, items, &b) == 0) printf("  values      %.*s\n", (int)b.len, (const char *)b.p);
        buf_release(&b);
    } else if (in->fmt == KDB_FMT_HEAP) {
        printf("  values      (data of a nested column: inspect the column's index file)\n");
    }
}

static json_t *json_values(const struct k *v, size_t items)
{
    json_t *a = json_array();
    struct buf b;
    buf_init(&b, 0);
    bool vec = v->t > 0 && v->t < KT_ANYMAP;
    int64_t n = vec || v->t == KT_LIST ? v->n : (v->t == KT_TABLE ? -1 : 1);
    if (n < 0) {
        /* a table: one rendering of the whole (truncated) value */
        if (k_fmt(v, items, &b) == 0) json_array_append_new(a, json_stringn((const char *)b.p, b.len));
    } else {
        for (int64_t i = 0; i < n && i < (int64_t)items; i++) {
            b.len = 0;
            int rc = v->t == KT_LIST ? k_fmt(v->u.kk[i], items, &b) : vec ? k_fmt_item(v, i, &b) : k_fmt(v, items, &b);
            if (rc == 0) json_array_append_new(a, json_stringn((const char *)b.p, b.len));
        }
    }
    buf_release(&b);
    return a;
}

static void print_json(const char *path, const struct kdb_info *in, const struct shown *sh, size_t items)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "format", json_string(kdb_fmt_name(in->fmt)));
    json_object_set_new(o, "type", json_integer(in->type));
    json_object_set_new(o, "typename", json_string(k_type_name(in->type)));
    json_object_set_new(o, "attr", json_string(in->attr ? k_attr_name(in->attr) : ""));
    json_object_set_new(o, "count", in->count >= 0 ? json_integer(in->count) : json_null());
    json_object_set_new(o, "header_count", json_integer(in->hdr_count));
    json_object_set_new(o, "domain", in->domain[0] ? json_string(in->domain) : json_null());
    json_object_set_new(o, "size", json_integer((json_int_t)in->file_size));
    if (in->compressed) {
        json_t *z = json_object();
        json_object_set_new(z, "algorithm", json_integer(in->z.alg));
        json_object_set_new(z, "name", json_string(kdb_zip_alg_name(in->z.alg)));
        json_object_set_new(z, "level", json_integer(in->z.level));
        json_object_set_new(z, "block_size", json_integer((json_int_t)in->z.block_size));
        json_object_set_new(z, "blocks", json_integer((json_int_t)in->z.nblocks));
        json_object_set_new(z, "uncompressed", json_integer((json_int_t)in->z.ulen));
        json_object_set_new(z, "ratio", json_real(ratio(in)));
        json_object_set_new(o, "compressed", z);
    } else {
        json_object_set_new(o, "compressed", json_false());
    }
    if (sh->val) {
        json_object_set_new(o, "values", json_values(sh->val, items));
        json_object_set_new(o, "resolved", json_boolean(sh->resolved));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) puts(s);
    free(s);
    json_decref(o);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: smctl inspect [--json] [-n N] FILE...\n"
               "  Describe kdb+ files: format (object, vector, enum, enum32, anymap, anymap-heap),\n"
               "  q type, attribute, count, enumeration domain, compression and the first values.\n"
               "  --json      one JSON object per file (keys path, format, type, attr, count, domain,\n"
               "              compressed, size, values; 'error' for a file that could not be read)\n"
               "  -n N        show N values (default %d)\n", DEFAULT_ITEMS);
}

int smctl_inspect(int argc, char **argv)
{
    bool json = false;
    size_t items = DEFAULT_ITEMS;
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jn:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'n': {
            uint64_t v;
            if (!smctl_u64_arg(optarg, 1, 1000000, "inspect: -n", &v)) return 2;
            items = (size_t)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    int failed = 0;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        struct smfs_err err = { 0 };
        struct kdb_file f;
        struct kdb_info in;
        struct shown sh = { 0 };
        int rc = kdb_file_open(&f, path, &err);
        if (rc == 0) {
            rc = kdb_file_info(&f, &in, &err);
            if (rc == 0) rc = load_value(&f, path, &in, items, &sh, &err);
            kdb_file_close(&f);
        }
        if (rc < 0) {
            failed++;
            smctl_errf("inspect: %s", err.msg);
            if (json) {
                json_t *o = json_pack("{s:s, s:s}", "path", path, "error", err.msg);
                char *s = json_dumps(o, JSON_COMPACT);
                if (s) puts(s);
                free(s);
                json_decref(o);
            }
            continue;
        }
        if (json) print_json(path, &in, &sh, items);
        else print_human(path, &in, &sh, items);
        k_free(sh.val);
    }
    return failed ? 1 : 0;
}
