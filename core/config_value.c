/* core/config_value.c: typed values of the assembly file (q timespans, retention
 * durations, q column types, URIs, names) and the cfg's arena and diagnostics. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ckd.h"
#include "config_int.h"
#include "k.h"

/* --- arena ------------------------------------------------------------------ */

#define ARENA_BLOCK 16384

struct cfg_arena {
    struct cfg_arena *next;
    size_t            used, cap;
    bool              oom;          /* meaningful on the head block only */
    _Alignas(16) unsigned char data[];
};

void *cfg_alloc(struct cfg *c, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct cfg_arena *a = c->arena;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        struct cfg_arena *b = malloc(sizeof *b + cap);
        if (!b) {
            if (a) a->oom = true;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->oom = a ? a->oom : false;
        b->next = a;
        c->arena = b;
        a = b;
    }
    void *p = a->data + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

bool cfg_oom(const struct cfg *c)
{
    return c->arena && c->arena->oom;
}

const char *cfg_strdup(struct cfg *c, const char *s)
{
    size_t n = strlen(s);
    char *p = cfg_alloc(c, n + 1);
    if (!p) return "";
    memcpy(p, s, n + 1);
    return p;
}

const char *cfg_strfmt(struct cfg *c, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return cfg_strdup(c, tmp);
}

void cfg_free(struct cfg *c)
{
    if (!c) return;
    struct cfg_arena *a = c->arena;
    while (a) {
        struct cfg_arena *next = a->next;
        free(a);
        a = next;
    }
    free(c->diags);
    free(c);
}

/* --- diagnostics ---------------------------------------------------------------- */

void cfg_diag(struct cfg *c, enum cfg_sev sev, struct cfg_pos pos, const char *path,
              const char *fmt, ...)
{
    if (c->ndiags == c->diag_cap) {
        size_t cap = c->diag_cap ? c->diag_cap * 2 : 16;
        struct cfg_diag *d = realloc(c->diags, cap * sizeof *d);
        if (!d) {
            if (c->arena) c->arena->oom = true;
            return;
        }
        c->diags = d;
        c->diag_cap = cap;
    }
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    struct cfg_diag *d = &c->diags[c->ndiags++];
    d->sev = sev;
    d->pos = pos;
    d->path = cfg_strdup(c, path ? path : "");
    d->msg = cfg_strdup(c, tmp);
    if (sev == CFG_ERROR) c->nerrors++;
    else c->nwarnings++;
}

int cfg_diag_str(const struct cfg *c, const struct cfg_diag *d, char *out, size_t n)
{
    const char *sev = d->sev == CFG_WARNING ? "warning: " : "";
    const char *sep = *d->path ? ": " : "";
    return snprintf(out, n, "%s:%d:%d: %s%s%s%s", c->file, d->pos.line, d->pos.col, sev,
                    d->path, sep, d->msg);
}

/* --- q timespans ------------------------------------------------------------------ */

static int digits(const char **p, int max, int64_t *v)
{
    int n = 0;
    *v = 0;
    while (n < max && isdigit((unsigned char)**p)) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n;
}

/* q timespan literals: [-][nD]HH:MM[:SS[.fffffffff]] or nD alone ("1D", "0D00:10:00",
 * "00:10:00", "01:35"). */
int cfg_parse_timespan(const char *s, int64_t *ns)
{
    const char *p = s;
    bool neg = false;
    int64_t days = 0, h = 0, m = 0, sec = 0, frac = 0;
    if (*p == '-') {
        neg = true;
        p++;
    }
    int64_t v;
    int n = digits(&p, 7, &v);
    if (n == 0) return -EINVAL;
    if (*p == 'D') {
        days = v;
        p++;
        if (*p == '\0') goto done;
        n = digits(&p, 2, &v);
        if (n != 2) return -EINVAL;
        if (v > 23) return -EINVAL;
    } else if (n < 2 || n > 6) {
        return -EINVAL;
    }
    h = v;
    if (*p++ != ':') return -EINVAL;
    if (digits(&p, 2, &m) != 2 || m > 59) return -EINVAL;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &sec) != 2 || sec > 59) return -EINVAL;
        if (*p == '.') {
            p++;
            n = digits(&p, 9, &frac);
            if (n == 0) return -EINVAL;
            for (; n < 9; n++) frac *= 10;
        }
    }
    if (*p != '\0') return -EINVAL;
done:;
    uint64_t t = (uint64_t)days * 86400 + (uint64_t)h * 3600 + (uint64_t)m * 60 + (uint64_t)sec;
    uint64_t r;
    if (ckd_muladd_u64(&r, t, 1000000000u, (uint64_t)frac) || r > (uint64_t)INT64_MAX)
        return -EINVAL;
    *ns = neg ? -(int64_t)r : (int64_t)r;
    return 0;
}

/* --- retention durations ------------------------------------------------------------ */

static const struct { const char *name; enum cfg_unit u; } units[] = {
    {"second", CFG_SECONDS}, {"minute", CFG_MINUTES}, {"hour", CFG_HOURS},
    {"day", CFG_DAYS},       {"week", CFG_WEEKS},     {"month", CFG_MONTHS},
    {"year", CFG_YEARS},
};

const char *cfg_unit_name(enum cfg_unit u)
{
    static const char *const n[] = {"?", "seconds", "minutes", "hours", "days", "weeks",
                                    "months", "years"};
    return (unsigned)u < sizeof n / sizeof *n ? n[u] : "?";
}

/* "2 weeks", "12 Months", "1 day": a positive count and a unit, any case, singular
 * or plural. */
int cfg_parse_duration(const char *s, int64_t *count, enum cfg_unit *unit)
{
    const char *p = s;
    while (*p == ' ') p++;
    int64_t v;
    int n = digits(&p, 12, &v);
    if (n == 0 || n == 12 || v <= 0) return -EINVAL;
    while (*p == ' ') p++;
    const char *w = p;
    while (isalpha((unsigned char)*p)) p++;
    size_t wl = (size_t)(p - w);
    while (*p == ' ') p++;
    if (*p != '\0' || wl == 0) return -EINVAL;
    if (w[wl - 1] == 's' || w[wl - 1] == 'S') wl--;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strlen(units[i].name) == wl && strncasecmp(w, units[i].name, wl) == 0) {
            *count = v;
            *unit = units[i].u;
            return 0;
        }
    }
    return -EINVAL;
}

/* --- q column types ------------------------------------------------------------------ */

int cfg_parse_qtype(const char *s, int8_t *type, bool *vector)
{
    if (*s == '\0') {
        *type = 0;
        *vector = false;
        return 0;
    }
    if (strcmp(s, "string") == 0) {
        *type = KT_CHAR;
        *vector = true;
        return 0;
    }
    size_t n = strlen(s);
    char one[32];
    bool plural = false;
    if (n >= sizeof one) return -EINVAL;
    memcpy(one, s, n + 1);
    /* Names only (case-sensitive as in the schema docs); k_type_from_name would also
     * take type letters and mixed case. */
    for (int pass = 0; pass < 2; pass++) {
        for (int t = 1; t <= KT_TIME; t++) {
            const char *nm = k_type_name(t);
            if (t == 3 || !nm || strcmp(one, nm) != 0) continue;
            *type = (int8_t)t;
            *vector = plural;
            return 0;
        }
        if (n < 2 || one[n - 1] != 's') break;
        one[n - 1] = '\0';
        plural = true;
    }
    return -EINVAL;
}

/* --- names ------------------------------------------------------------------------- */

bool cfg_q_name(const char *s)
{
    if (!isalpha((unsigned char)*s)) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return false;
    return true;
}

/* .Q.res (the k primitives q reserves) plus the names the schema docs forbid. */
bool cfg_reserved_column(const char *name)
{
    static const char *const res[] = {
        "abs", "acos", "asin", "atan", "avg", "bin", "binr", "by", "cor", "cos", "cov",
        "delete", "dev", "div", "do", "enlist", "exec", "exit", "exp", "from", "getenv",
        "hopen", "if", "in", "insert", "last", "like", "log", "max", "min", "prd",
        "select", "setenv", "sin", "sqrt", "ss", "sum", "tan", "update", "var", "wavg",
        "while", "within", "wsum", "xexp", "date", "int",
    };
    if (strncmp(name, "label_", 6) == 0) return true;
    for (size_t i = 0; i < sizeof res / sizeof *res; i++)
        if (strcmp(name, res[i]) == 0) return true;
    return false;
}

/* --- URIs ------------------------------------------------------------------------- */

/* An absolute path with no empty, "." or ".." component; a trailing '/' is dropped. */
static int norm_path(struct cfg *c, const char *p, const char **out, const char **why)
{
    if (*p != '/') {
        *why = "the path must be absolute (file:///abs/path)";
        return -EINVAL;
    }
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && p[j] != '/') j++;
        size_t cl = j - i - 1;
        if (cl == 0 && n > 1) {
            *why = "the path has an empty component ('//')";
            return -EINVAL;
        }
        if ((cl == 1 && p[i + 1] == '.') || (cl == 2 && p[i + 1] == '.' && p[i + 2] == '.')) {
            *why = "the path has a '.' or '..' component";
            return -EINVAL;
        }
        i = j;
    }
    char *s = cfg_alloc(c, n + 1);
    if (!s) {
        *out = "";
        return 0;
    }
    memcpy(s, p, n);
    *out = s;
    return 0;
}

/* On failure *u is left all zero: no kind claims a path it does not have. */
static int uri_parse(struct cfg *c, const char *s, struct cfg_uri *u, const char **why);

int cfg_uri_parse(struct cfg *c, const char *s, struct cfg_uri *u, const char **why)
{
    memset(u, 0, sizeof *u);
    int rc = uri_parse(c, s, u, why);
    if (rc) memset(u, 0, sizeof *u);
    return rc;
}

static int uri_parse(struct cfg *c, const char *s, struct cfg_uri *u, const char **why)
{
    if (strcmp(s, "none") == 0) {
        u->kind = CFG_URI_NONE;
        u->text = "none";
        return 0;
    }
    if (strncmp(s, "file://", 7) == 0) {
        u->kind = CFG_URI_FILE;
        if (norm_path(c, s + 7, &u->path, why)) return -EINVAL;
        u->text = cfg_strfmt(c, "file://%s", u->path);
        return 0;
    }
    static const struct { const char *scheme; enum cfg_uri_kind k; } os[] = {
        {"s3://", CFG_URI_S3}, {"gs://", CFG_URI_GS}, {"ms://", CFG_URI_MS}};
    for (size_t i = 0; i < sizeof os / sizeof *os; i++) {
        if (strncmp(s, os[i].scheme, 5) != 0) continue;
        const char *b = s + 5, *slash = strchr(b, '/');
        size_t bl = slash ? (size_t)(slash - b) : strlen(b);
        if (bl < 3 || bl > 63) {
            *why = "the bucket name must have 3 to 63 characters";
            return -EINVAL;
        }
        for (size_t k = 0; k < bl; k++) {
            if (!islower((unsigned char)b[k]) && !isdigit((unsigned char)b[k]) && b[k] != '-' &&
                b[k] != '.') {
                *why = "the bucket name takes lower-case letters, digits, '-' and '.' only";
                return -EINVAL;
            }
        }
        const char *pre = slash ? slash + 1 : "";
        size_t pl = strlen(pre);
        while (pl > 0 && pre[pl - 1] == '/') pl--;
        if (strstr(pre, "//")) {
            *why = "the key prefix has an empty component ('//')";
            return -EINVAL;
        }
        u->kind = os[i].k;
        u->bucket = cfg_strfmt(c, "%.*s", (int)bl, b);
        u->prefix = cfg_strfmt(c, "%.*s", (int)pl, pre);
        u->text = cfg_strfmt(c, "%.5s%s%s%s", os[i].scheme, u->bucket, pl ? "/" : "", u->prefix);
        return 0;
    }
    *why = "expected 'none', an absolute file:// URI or an object-storage URI (s3://bucket/prefix)";
    return -EINVAL;
}

/* --- names of enums ------------------------------------------------------------------ */

const char *cfg_table_type_name(enum cfg_table_type t)
{
    switch (t) {
    case CFG_PARTITIONED: return "partitioned";
    case CFG_SPLAYED: return "splayed";
    case CFG_BASIC: return "basic";
    case CFG_SPLAYED_MEM: return "splayed_mem";
    }
    return "?";
}

const char *cfg_tier_kind_name(enum cfg_tier_kind k)
{
    switch (k) {
    case CFG_TIER_STREAM: return "stream";
    case CFG_TIER_ORDINAL: return "ordinal";
    case CFG_TIER_DATE: return "date";
    }
    return "?";
}

const char *cfg_peach_name(enum cfg_peach p)
{
    switch (p) {
    case CFG_PEACH_PART: return "part";
    case CFG_PEACH_TABLE: return "table";
    case CFG_PEACH_COLUMN: return "column";
    }
    return "?";
}
