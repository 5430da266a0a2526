/* core/k.c: construction, copy, equality and release of K objects (see k.h). */
#include "k.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { int t; const char *name; char c; int width; } k_types[] = {
    { KT_LIST, "list", ' ', 0 },        { KT_BOOL, "boolean", 'b', 1 },
    { KT_GUID, "guid", 'g', 16 },       { 3, "", ' ', 0 },
    { KT_BYTE, "byte", 'x', 1 },        { KT_SHORT, "short", 'h', 2 },
    { KT_INT, "int", 'i', 4 },          { KT_LONG, "long", 'j', 8 },
    { KT_REAL, "real", 'e', 4 },        { KT_FLOAT, "float", 'f', 8 },
    { KT_CHAR, "char", 'c', 1 },        { KT_SYM, "symbol", 's', 0 },
    { KT_TIMESTAMP, "timestamp", 'p', 8 }, { KT_MONTH, "month", 'm', 4 },
    { KT_DATE, "date", 'd', 4 },        { KT_DATETIME, "datetime", 'z', 8 },
    { KT_TIMESPAN, "timespan", 'n', 8 }, { KT_MINUTE, "minute", 'u', 4 },
    { KT_SECOND, "second", 'v', 4 },    { KT_TIME, "time", 't', 4 },
};

int k_width(int t)
{
    if (t < 0) t = -t;
    if (t == KT_ENUM) return 8;
    if (t >= 1 && t <= KT_TIME) return k_types[t].width;
    return 0;
}

bool k_is_simple(int t)
{
    return t >= 1 && t <= KT_TIME && t != 3 && t != KT_SYM;
}

const char *k_type_name(int t)
{
    if (t < 0 && t != KT_ERROR) t = -t;
    if (t >= 0 && t <= KT_TIME && t != 3) return k_types[t].name;
    if (t >= KT_ENUM && t < KT_ANYMAP) return "enum";
    switch (t) {
    case KT_ANYMAP: return "anymap";
    case KT_TABLE: return "table";
    case KT_DICT: return "dict";
    case KT_SORTED_DICT: return "sorted dict";
    case KT_ERROR: return "error";
    case KT_LAMBDA: return "lambda";
    case KT_PROJECTION: return "projection";
    case KT_COMPOSITION: return "composition";
    case KT_DYNLOAD: return "dynamic load";
    default: break;
    }
    if (t > KT_ANYMAP && t < 97) return "nested";   /* 77+t mapped nested, pre-3.6 */
    if (t >= KT_UNARY && t <= KT_EACHPRIOR_LAST) return "function";
    return "unknown";
}

char k_type_char(int t)
{
    if (t < 0) t = -t;
    if (t >= 0 && t <= KT_TIME) return k_types[t].c;
    return ' ';
}

const char *k_attr_name(int attr)
{
    static const char *const names[] = { "", "s", "u", "p", "g" };
    return attr >= 0 && attr <= 4 ? names[attr] : NULL;
}

int k_type_from_name(const char *name)
{
    if (!name || !*name) return 0;
    for (int t = 1; t <= KT_TIME; t++) {
        if (t == 3) continue;
        if (strcasecmp(name, k_types[t].name) == 0) return t;
        if (name[1] == '\0' && name[0] == k_types[t].c) return t;
    }
    if (strcasecmp(name, "bool") == 0) return KT_BOOL;
    if (strcasecmp(name, "string") == 0) return KT_CHAR;   /* callers decide nesting */
    return 0;
}

/* --- construction ------------------------------------------------------- */

struct k *k_atom(int8_t t)
{
    struct k *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->t = t;
    x->n = 1;
    return x;
}

struct k *k_bool(bool b)       { struct k *x = k_atom(-KT_BOOL); if (x) x->u.g = b; return x; }
struct k *k_long(int64_t j)    { struct k *x = k_atom(-KT_LONG); if (x) x->u.j = j; return x; }
struct k *k_int(int32_t i)     { struct k *x = k_atom(-KT_INT); if (x) x->u.i = i; return x; }
struct k *k_float(double f)    { struct k *x = k_atom(-KT_FLOAT); if (x) x->u.f = f; return x; }
struct k *k_char(char c)       { struct k *x = k_atom(-KT_CHAR); if (x) x->u.g = (uint8_t)c; return x; }
struct k *k_timestamp(int64_t ns) { struct k *x = k_atom(-KT_TIMESTAMP); if (x) x->u.j = ns; return x; }
struct k *k_timespan(int64_t ns)  { struct k *x = k_atom(-KT_TIMESPAN); if (x) x->u.j = ns; return x; }
struct k *k_date(int32_t d)    { struct k *x = k_atom(-KT_DATE); if (x) x->u.i = d; return x; }
struct k *k_null(void)         { return k_atom((int8_t)KT_UNARY); }

static struct k *atom_str(int8_t t, const char *s)
{
    struct k *x = k_atom(t);
    if (!x) return NULL;
    x->u.s = strdup(s ? s : "");
    if (!x->u.s) {
        free(x);
        return NULL;
    }
    return x;
}

struct k *k_sym(const char *s)         { return atom_str(-KT_SYM, s); }
struct k *k_error(const char *msg)     { return atom_str((int8_t)KT_ERROR, msg); }

struct k *k_vec(int8_t t, int64_t n)
{
    if (n < 0) return NULL;
    if (t == KT_LIST) return k_list(n);
    struct k *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->t = t;
    x->n = n;
    size_t w = t == KT_SYM ? sizeof(char *) : (size_t)k_width(t);
    if (w == 0 || (uint64_t)n > SIZE_MAX / w) {
        free(x);
        return NULL;
    }
    x->u.v = calloc(n ? (size_t)n : 1, w);
    if (!x->u.v) {
        free(x);
        return NULL;
    }
    return x;
}

struct k *k_enum(const char *dom, int64_t n)
{
    struct k *x = k_vec(KT_ENUM, n);
    if (!x) return NULL;
    x->dom = strdup(dom ? dom : "");
    if (!x->dom) {
        k_free(x);
        return NULL;
    }
    return x;
}

struct k *k_list_unset(int64_t n)
{
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(struct k *)) return NULL;
    struct k *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->t = KT_LIST;
    x->n = n;
    x->u.kk = calloc(n ? (size_t)n : 1, sizeof(struct k *));
    if (!x->u.kk) {
        free(x);
        return NULL;
    }
    return x;
}

struct k *k_list(int64_t n)
{
    struct k *x = k_list_unset(n);
    for (int64_t i = 0; x && i < n; i++) {
        x->u.kk[i] = k_null();
        if (!x->u.kk[i]) {
            k_free(x);
            return NULL;
        }
    }
    return x;
}

struct k *k_str(const char *s, size_t len)
{
    struct k *x = k_vec(KT_CHAR, (int64_t)len);
    if (x && len) memcpy(x->u.v, s, len);
    return x;
}

/* True if name P of symbol vector X lives in its block (and so is not freed alone). */
static bool in_blk(const struct k *x, const char *p)
{
    return x->blk && p >= x->blk && p < x->blk + x->blklen;
}

int k_symv_set(struct k *x, int64_t i, const char *s)
{
    char *c = strdup(s ? s : "");
    if (!c) return -ENOMEM;
    if (!in_blk(x, x->u.syms[i])) free(x->u.syms[i]);
    x->u.syms[i] = c;
    return 0;
}

int k_symv_packed(const char *text, size_t avail, int64_t n, struct k **out, size_t *used)
{
    *out = NULL;
    struct k *x = k_vec(KT_SYM, n);
    if (!x) return -ENOMEM;
    /* One pass finds every name; the items point into TEXT until the block exists,
     * then are moved onto it. They are never freed while they point into TEXT. */
    size_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *z = memchr(text + off, 0, avail - off);
        if (!z) {
            memset(x->u.syms, 0, (size_t)n * sizeof *x->u.syms);
            k_free(x);
            *used = off;
            return -EBADMSG;
        }
        x->u.syms[i] = (char *)(uintptr_t)off;
        off = (size_t)(z - text) + 1;
    }
    *used = off;
    x->blk = malloc(off ? off : 1);
    if (!x->blk) {
        memset(x->u.syms, 0, (size_t)n * sizeof *x->u.syms);
        k_free(x);
        return -ENOMEM;
    }
    memcpy(x->blk, text, off);
    x->blklen = off;
    for (int64_t i = 0; i < n; i++) x->u.syms[i] = x->blk + (uintptr_t)x->u.syms[i];
    *out = x;
    return 0;
}

struct k *k_symv(const char *const *names, int64_t n)
{
    struct k *x = k_vec(KT_SYM, n);
    if (!x) return NULL;
    for (int64_t i = 0; i < n; i++) {
        if (k_symv_set(x, i, names[i]) < 0) {
            k_free(x);
            return NULL;
        }
    }
    return x;
}

void k_list_set(struct k *x, int64_t i, struct k *item)
{
    k_free(x->u.kk[i]);
    x->u.kk[i] = item;
}

struct k *k_dict(struct k *keys, struct k *vals)
{
    struct k *x = NULL;
    if (!keys || !vals) goto fail;
    x = calloc(1, sizeof *x);
    if (!x) goto fail;
    x->u.kk = calloc(2, sizeof(struct k *));
    if (!x->u.kk) goto fail;
    x->t = KT_DICT;
    x->n = 2;
    x->u.kk[0] = keys;
    x->u.kk[1] = vals;
    return x;
fail:
    free(x);
    k_free(keys);
    k_free(vals);
    return NULL;
}

struct k *k_table(struct k *dict)
{
    if (!dict) return NULL;
    struct k *x = calloc(1, sizeof *x);
    if (x) x->u.kk = calloc(1, sizeof(struct k *));
    if (!x || !x->u.kk) {
        free(x);
        k_free(dict);
        return NULL;
    }
    x->t = KT_TABLE;
    x->n = 1;
    x->u.kk[0] = dict;
    return x;
}

/* --- whole-tree operations ------------------------------------------------ */

/* Children held in u.kk: general lists, dicts and tables. */
static bool has_kids(const struct k *x)
{
    return x->t == KT_LIST || x->t == KT_DICT || x->t == KT_SORTED_DICT || x->t == KT_TABLE;
}

/* Function values kept as opaque bytes: lambdas, projections, compositions and
 * derived functions. Primitives (101..103), (::) included, are one byte in u.g. */
static bool has_fn_bytes(const struct k *x)
{
    return x->t == KT_LAMBDA || (x->t >= KT_PROJECTION && x->t <= KT_EACHPRIOR_LAST);
}

void k_free(struct k *x)
{
    if (!x) return;
    if (has_kids(x)) {
        if (x->u.kk)
            for (int64_t i = 0; i < x->n; i++) k_free(x->u.kk[i]);
        free(x->u.kk);
    } else if (x->t == KT_SYM) {
        if (x->u.syms)
            for (int64_t i = 0; i < x->n; i++)
                if (!in_blk(x, x->u.syms[i])) free(x->u.syms[i]);
        free(x->blk);
        free(x->u.syms);
    } else if (x->t == -KT_SYM || x->t == KT_ERROR) {
        free(x->u.s);
    } else if (x->t > 0 && x->t < KT_LAMBDA) {
        free(x->u.v);
    } else if (has_fn_bytes(x)) {
        free(x->u.fn.p);
    }
    free(x->dom);
    free(x);
}

struct k *k_copy(const struct k *x)
{
    struct k *y = calloc(1, sizeof *y);
    if (!y) return NULL;
    *y = *x;
    y->dom = NULL;
    y->blk = NULL;
    y->blklen = 0;
    y->u.v = NULL;
    if (x->dom && !(y->dom = strdup(x->dom))) goto fail;
    if (has_kids(x)) {
        y->u.kk = calloc(x->n ? (size_t)x->n : 1, sizeof(struct k *));
        if (!y->u.kk) goto fail;
        for (int64_t i = 0; i < x->n; i++)
            if (!(y->u.kk[i] = k_copy(x->u.kk[i]))) goto fail;
    } else if (x->t == KT_SYM) {
        /* Packed into one block, like a decoded vector. */
        size_t total = 0;
        for (int64_t i = 0; i < x->n; i++) total += strlen(k_symv_at(x, i)) + 1;
        y->u.syms = calloc(x->n ? (size_t)x->n : 1, sizeof(char *));
        if (!y->u.syms) goto fail;
        y->blk = malloc(total ? total : 1);
        if (!y->blk) goto fail;
        y->blklen = total;
        for (int64_t i = 0, o = 0; i < x->n; i++) {
            size_t l = strlen(k_symv_at(x, i)) + 1;
            memcpy(y->blk + o, k_symv_at(x, i), l);
            y->u.syms[i] = y->blk + o;
            o += (int64_t)l;
        }
    } else if (x->t == -KT_SYM || x->t == KT_ERROR) {
        if (!(y->u.s = strdup(x->u.s ? x->u.s : ""))) goto fail;
    } else if (x->t > 0 && x->t < KT_LAMBDA) {
        size_t bytes = (size_t)x->n * (size_t)k_width(x->t);
        y->u.v = malloc(bytes ? bytes : 1);
        if (!y->u.v) goto fail;
        if (bytes) memcpy(y->u.v, x->u.v, bytes);
    } else if (has_fn_bytes(x)) {
        y->u.fn.p = malloc(x->u.fn.len ? x->u.fn.len : 1);
        if (!y->u.fn.p) goto fail;
        memcpy(y->u.fn.p, x->u.fn.p, x->u.fn.len);
    } else {
        y->u = x->u;
    }
    return y;
fail:
    k_free(y);
    return NULL;
}

bool k_equal(const struct k *a, const struct k *b)
{
    if (a == b) return true;
    if (!a || !b || a->t != b->t || a->attr != b->attr || a->n != b->n) return false;
    if ((a->dom == NULL) != (b->dom == NULL)) return false;
    if (a->dom && strcmp(a->dom, b->dom) != 0) return false;
    if (has_kids(a)) {
        for (int64_t i = 0; i < a->n; i++)
            if (!k_equal(a->u.kk[i], b->u.kk[i])) return false;
        return true;
    }
    if (a->t == KT_SYM) {
        for (int64_t i = 0; i < a->n; i++)
            if (strcmp(k_symv_at(a, i), k_symv_at(b, i)) != 0) return false;
        return true;
    }
    if (a->t == -KT_SYM || a->t == KT_ERROR) return strcmp(a->u.s, b->u.s) == 0;
    if (a->t > 0 && a->t < KT_LAMBDA)
        return memcmp(a->u.v, b->u.v, (size_t)a->n * (size_t)k_width(a->t)) == 0;
    if (has_fn_bytes(a))
        return a->u.fn.len == b->u.fn.len && memcmp(a->u.fn.p, b->u.fn.p, a->u.fn.len) == 0;
    if (a->t < 0) {
        int w = k_width(a->t);
        return memcmp(&a->u, &b->u, w ? (size_t)w : 1) == 0;
    }
    return a->u.g == b->u.g;
}

int64_t k_count(const struct k *x)
{
    if (!x) return -1;
    if (x->t == KT_TABLE) {
        const struct k *vals = x->u.kk[0]->u.kk[1];
        if (vals->n == 0) return 0;
        return k_count(vals->t == KT_LIST ? vals->u.kk[0] : vals);
    }
    if (x->t >= 0 && x->t < KT_ANYMAP) return x->n;
    return -1;
}
