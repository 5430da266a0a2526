/* core/k_fmt.c: see k_fmt.h. Formats follow q's console (kdb-formats §1, §6):
 * 1b 0x2a 12h 1i 1 5.5e 3.234 "a" `a 2000.01.04D05:36:57.600000000 2001.01m 2001.01.01
 * 2000.01.04T05:36:57.600 0D05:36:57.600000000 12:01 12:05:00 12:04:59.123;
 * nulls 0N 0Ni 0Nh 0n 0Ne 0Np 0Nm 0Nd 0Nz 0Nn 0Nu 0Nv 0Nt 0Ng; infinities 0W 0w. */
#include "k_fmt.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Howard Hinnant's days-from-civil, shifted to the kdb+ epoch (2000.01.01 = 0). */
int32_t k_days_from_ymd(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468 - K_EPOCH_DAYS);
}

void k_ymd_from_days(int32_t days, int *y, int *m, int *d)
{
    int64_t z = (int64_t)days + K_EPOCH_DAYS + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

void k_date_str(int32_t days, char out[11])
{
    int y, m, d;
    k_ymd_from_days(days, &y, &m, &d);
    snprintf(out, 11, "%04d.%02d.%02d", y, m, d);
}

bool k_parse_date(const char *s, int32_t *days)
{
    if (strlen(s) != 10 || s[4] != '.' || s[7] != '.') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (m < 1 || m > 12 || d < 1 || d > 31) return false;
    int32_t n = k_days_from_ymd(y, m, d);
    int yy, mm, dd;
    k_ymd_from_days(n, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d) return false;   /* 2023.02.30 and friends */
    *days = n;
    return true;
}

/* --- one item --------------------------------------------------------------- */

static int fmt_hms(struct buf *o, int64_t ms_or_ns, bool ns, bool with_frac)
{
    int64_t unit = ns ? INT64_C(1000000000) : 1000;
    int64_t secs = ms_or_ns / unit, frac = ms_or_ns % unit;
    int rc = buf_printf(o, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, secs / 3600, secs / 60 % 60, secs % 60);
    if (rc == 0 && with_frac) rc = ns ? buf_printf(o, ".%09" PRId64, frac) : buf_printf(o, ".%03" PRId64, frac);
    return rc;
}

static int fmt_date(struct buf *o, int32_t days)
{
    int y, m, d;
    k_ymd_from_days(days, &y, &m, &d);
    return buf_printf(o, "%04d.%02d.%02d", y, m, d);
}

static int fmt_float(struct buf *o, double f, int prec)
{
    if (isnan(f)) return buf_printf(o, "0n");
    if (isinf(f)) return buf_printf(o, f > 0 ? "0w" : "-0w");
    return buf_printf(o, "%.*g", prec, f);
}

/* Null/infinity spelling for the integer-backed types; NULL if v is an ordinary value. */
static int64_t iabs(int64_t v) { return v < 0 ? -v : v; }   /* nulls are handled first */

static const char *special(int t, int64_t v)
{
    bool w = k_width(t) == 8;
    int64_t nul = w ? KNULL_J : (k_width(t) == 2 ? KNULL_H : KNULL_I);
    int64_t inf = w ? KINF_J : (k_width(t) == 2 ? KINF_H : KINF_I);
    if (v == nul) return "0N";
    if (v == inf) return "0W";
    if (v == -inf) return "-0W";
    return NULL;
}

/* Item i of a vector (or the atom itself) without q's type suffix. */
static int fmt_item(const struct k *x, int64_t i, struct buf *o)
{
    int t = x->t < 0 ? -x->t : x->t;
    const void *p = x->t < 0 ? (const void *)&x->u : (const uint8_t *)x->u.v + (size_t)i * (size_t)k_width(t);
    int64_t v = 0;
    switch (k_width(t)) {
    case 2: { int16_t h; memcpy(&h, p, 2); v = h; break; }
    case 4: { int32_t n; memcpy(&n, p, 4); v = n; break; }
    case 8: { int64_t j; memcpy(&j, p, 8); v = j; break; }
    default: break;
    }
    const char *sp = NULL;
    if (t == KT_SHORT || t == KT_INT || t == KT_LONG || t == KT_ENUM || (t >= KT_TIMESTAMP && t <= KT_TIME && t != KT_DATETIME))
        sp = special(t, v);
    if (sp) return buf_printf(o, "%s", sp);
    switch (t) {
    case KT_BOOL: return buf_printf(o, "%d", *(const uint8_t *)p ? 1 : 0);
    case KT_GUID: {
        const uint8_t *g = p;
        return buf_printf(o, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
    }
    case KT_BYTE: return buf_printf(o, "%02x", *(const uint8_t *)p);
    case KT_SHORT: case KT_INT: case KT_LONG: case KT_ENUM: return buf_printf(o, "%" PRId64, v);
    case KT_REAL: {
        float e;
        memcpy(&e, p, 4);
        if (isnan(e)) return buf_printf(o, "0N");            /* q: 0Ne, 0We */
        if (isinf(e)) return buf_printf(o, e > 0 ? "0W" : "-0W");
        return fmt_float(o, e, 7);
    }
    case KT_FLOAT: { double f; memcpy(&f, p, 8); return fmt_float(o, f, 7); }
    case KT_CHAR: return buf_printf(o, "%c", *(const char *)p);
    case KT_SYM: return buf_printf(o, "%s", x->t < 0 ? x->u.s : k_symv_at(x, i));
    case KT_TIMESTAMP: {
        int64_t days = v / K_NS_PER_DAY, ns = v % K_NS_PER_DAY;
        if (ns < 0) { ns += K_NS_PER_DAY; days--; }
        int rc = fmt_date(o, (int32_t)days);
        if (rc == 0) rc = buf_printf(o, "D");
        return rc ? rc : fmt_hms(o, ns, true, true);
    }
    case KT_MONTH: {
        int64_t y = 2000 + (v >= 0 ? v / 12 : (v - 11) / 12), m = ((v % 12) + 12) % 12 + 1;
        return buf_printf(o, "%04" PRId64 ".%02" PRId64, y, m);
    }
    case KT_DATE: return fmt_date(o, (int32_t)v);
    case KT_DATETIME: {
        double f;
        memcpy(&f, p, 8);
        if (isnan(f)) return buf_printf(o, "0N");
        if (isinf(f)) return buf_printf(o, f > 0 ? "0W" : "-0W");
        double days = floor(f);
        int64_t ms = (int64_t)llround((f - days) * 86400000.0);
        if (ms >= 86400000) { ms -= 86400000; days += 1; }
        int rc = fmt_date(o, (int32_t)days);
        if (rc == 0) rc = buf_printf(o, "T");
        return rc ? rc : fmt_hms(o, ms, false, true);
    }
    case KT_TIMESPAN: {
        int rc = 0;
        if (v < 0) { rc = buf_printf(o, "-"); v = -v; }
        int64_t day = K_NS_PER_DAY;
        if (rc == 0) rc = buf_printf(o, "%" PRId64 "D", v / day);
        return rc ? rc : fmt_hms(o, v % day, true, true);
    }
    case KT_MINUTE: return buf_printf(o, "%s%02" PRId64 ":%02" PRId64, v < 0 ? "-" : "", iabs(v) / 60, iabs(v) % 60);
    case KT_SECOND: return buf_printf(o, "%s%02" PRId64 ":%02" PRId64 ":%02" PRId64, v < 0 ? "-" : "",
                                      iabs(v) / 3600, iabs(v) / 60 % 60, iabs(v) % 60);
    case KT_TIME: {
        int rc = v < 0 ? buf_printf(o, "-") : 0;
        return rc ? rc : fmt_hms(o, iabs(v), false, true);
    }
    default: return buf_printf(o, "?");
    }
}

int k_fmt_item(const struct k *x, int64_t i, struct buf *out)
{
    return fmt_item(x, i, out);
}

/* --- whole objects ---------------------------------------------------------- */

/* q's null suffix letter per type, for "0N" + letter ("" for long). */
static const char *null_suffix(int t)
{
    switch (t) {
    case KT_SHORT: return "h";
    case KT_INT: return "i";
    case KT_TIMESTAMP: return "p";
    case KT_MONTH: return "m";
    case KT_DATE: return "d";
    case KT_DATETIME: return "z";
    case KT_TIMESPAN: return "n";
    case KT_MINUTE: return "u";
    case KT_SECOND: return "v";
    case KT_TIME: return "t";
    default: return "";
    }
}

static int fmt_char(struct buf *o, unsigned char c)
{
    switch (c) {
    case '"': return buf_printf(o, "\\\"");
    case '\\': return buf_printf(o, "\\\\");
    case '\n': return buf_printf(o, "\\n");
    case '\r': return buf_printf(o, "\\r");
    case '\t': return buf_printf(o, "\\t");
    default: return isprint(c) ? buf_printf(o, "%c", c) : buf_printf(o, "\\%03o", c);
    }
}

/* One item inside a vector or as an atom, with q's spelling of nulls. */
static int fmt_in_vec(const struct k *x, int64_t i, struct buf *o)
{
    int t = x->t < 0 ? -x->t : x->t;
    size_t start = o->len;
    int rc = fmt_item(x, i, o);   /* "0N"/"0W" for integer-backed nulls; letters come later */
    if (rc) return rc;
    if (t == KT_GUID) {
        static const uint8_t zero[16];
        const void *p = x->t < 0 ? (const void *)x->u.uu : (const uint8_t *)x->u.v + 16 * (size_t)i;
        if (memcmp(p, zero, 16) == 0) {
            o->len = start;
            return buf_printf(o, "0Ng");
        }
    }
    return 0;
}

static bool is_special_text(const char *s, size_t n)
{
    return (n >= 2 && s[0] == '0' && (s[1] == 'N' || s[1] == 'W' || s[1] == 'n' || s[1] == 'w')) ||
           (n >= 3 && s[0] == '-' && s[1] == '0' && (s[2] == 'W' || s[2] == 'w'));
}

static int fmt_obj(const struct k *x, size_t max, struct buf *o, int depth);

static int fmt_atom(const struct k *x, struct buf *o)
{
    int t = -x->t;
    size_t start = o->len;
    int rc;
    switch (t) {
    case KT_BOOL: return buf_printf(o, "%db", x->u.g ? 1 : 0);
    case KT_BYTE: return buf_printf(o, "0x%02x", x->u.g);
    case KT_CHAR:
        if ((rc = buf_printf(o, "\"")) || (rc = fmt_char(o, x->u.g))) return rc;
        return buf_printf(o, "\"");
    case KT_SYM: return buf_printf(o, "`%s", x->u.s);
    default: break;
    }
    if ((rc = fmt_in_vec(x, 0, o))) return rc;
    const char *s = (const char *)o->p + start;
    size_t n = o->len - start;
    bool sp = is_special_text(s, n);
    switch (t) {
    case KT_SHORT: return buf_printf(o, "h");
    case KT_INT: return buf_printf(o, "i");
    case KT_LONG: return 0;
    case KT_REAL: return buf_printf(o, "e");
    case KT_FLOAT:
        if (sp || memchr(s, '.', n) || memchr(s, 'e', n)) return 0;
        return buf_printf(o, "f");
    case KT_MONTH: return buf_printf(o, "m");
    default:
        return sp && (s[n - 1] == 'N' || s[n - 1] == 'W') ? buf_printf(o, "%s", null_suffix(t)) : 0;
    }
}

static int fmt_vec(const struct k *x, size_t max, struct buf *o)
{
    int t = x->t;
    int rc;
    int64_t n = x->n, shown = n > (int64_t)max ? (int64_t)max : n;
    if (n == 0) {
        if (t == KT_CHAR) return buf_printf(o, "\"\"");
        if (t == KT_ENUM) return buf_printf(o, "`%s$`symbol$()", x->dom ? x->dom : "");
        return buf_printf(o, "`%s$()", k_type_name(t));
    }
    if (n == 1 && t != KT_ENUM && (rc = buf_printf(o, ","))) return rc;
    if (t == KT_CHAR) {
        if ((rc = buf_printf(o, "\""))) return rc;
        for (int64_t i = 0; i < shown; i++)
            if ((rc = fmt_char(o, ((const uint8_t *)x->u.v)[i]))) return rc;
        return buf_printf(o, shown < n ? "\".." : "\"");
    }
    if (t == KT_BYTE) {
        if ((rc = buf_printf(o, "0x"))) return rc;
        for (int64_t i = 0; i < shown; i++)
            if ((rc = buf_printf(o, "%02x", ((const uint8_t *)x->u.v)[i]))) return rc;
        return shown < n ? buf_printf(o, "..") : 0;
    }
    if (t == KT_BOOL) {
        for (int64_t i = 0; i < shown; i++)
            if ((rc = buf_printf(o, "%d", ((const uint8_t *)x->u.v)[i] ? 1 : 0))) return rc;
        return buf_printf(o, shown < n ? "b.." : "b");
    }
    if (t == KT_SYM) {
        for (int64_t i = 0; i < shown; i++)
            if ((rc = buf_printf(o, "`%s", k_symv_at(x, i)))) return rc;
        return shown < n ? buf_printf(o, " ..") : 0;
    }
    if (t == KT_ENUM && (rc = buf_printf(o, "`%s!", x->dom ? x->dom : ""))) return rc;
    bool all_special = true, any_dot = false;   /* q: 1 0n 3f, 1.5 0n, 0n 0n */
    for (int64_t i = 0; i < shown; i++) {
        if (i && (rc = buf_printf(o, " "))) return rc;
        size_t start = o->len;
        if ((rc = fmt_in_vec(x, i, o))) return rc;
        const char *s = (const char *)o->p + start;
        size_t len = o->len - start;
        bool sp = is_special_text(s, len);
        all_special &= sp;
        if (!sp && (memchr(s, '.', len) || memchr(s, 'e', len))) any_dot = true;
    }
    const char *suffix = "";
    switch (t) {
    case KT_SHORT: suffix = "h"; break;
    case KT_INT: suffix = "i"; break;
    case KT_REAL: suffix = "e"; break;
    case KT_FLOAT: suffix = any_dot || all_special ? "" : "f"; break;
    case KT_MONTH: suffix = "m"; break;
    default: suffix = all_special ? null_suffix(t) : ""; break;
    }
    if (shown < n) return buf_printf(o, "%s ..", suffix);
    return buf_printf(o, "%s", suffix);
}

static int fmt_obj(const struct k *x, size_t max, struct buf *o, int depth)
{
    int rc;
    if (depth > 64) return buf_printf(o, "..");
    if (x->t == KT_ERROR) return buf_printf(o, "'%s", x->u.s);
    if (x->t < 0) {
        if (x->t == -KT_ENUM) return buf_printf(o, "`%s!%" PRId64, x->dom ? x->dom : "", x->u.j);
        return fmt_atom(x, o);
    }
    if (x->t == KT_LIST) {
        if (x->n == 0) return buf_printf(o, "()");
        if (x->n == 1) {
            if ((rc = buf_printf(o, ","))) return rc;
            return fmt_obj(x->u.kk[0], max, o, depth + 1);
        }
        int64_t shown = x->n > (int64_t)max ? (int64_t)max : x->n;
        if ((rc = buf_printf(o, "("))) return rc;
        for (int64_t i = 0; i < shown; i++) {
            if (i && (rc = buf_printf(o, ";"))) return rc;
            if ((rc = fmt_obj(x->u.kk[i], max, o, depth + 1))) return rc;
        }
        return buf_printf(o, shown < x->n ? ";..)" : ")");
    }
    if (x->t < KT_ANYMAP) return fmt_vec(x, max, o);
    if (x->t == KT_DICT || x->t == KT_SORTED_DICT) {
        if (x->t == KT_SORTED_DICT && (rc = buf_printf(o, "`s#"))) return rc;
        /* q wraps a key that would not parse as the left of ! on its own: a keyed
         * table's key table, or a one-item list (,`a). */
        const struct k *key = x->u.kk[0];
        bool wrap = key->t == KT_TABLE || (key->t >= 0 && key->t < KT_ANYMAP && key->n == 1);
        if (wrap && (rc = buf_printf(o, "("))) return rc;
        if ((rc = fmt_obj(key, max, o, depth + 1))) return rc;
        if ((rc = buf_printf(o, wrap ? ")!" : "!"))) return rc;
        return fmt_obj(x->u.kk[1], max, o, depth + 1);
    }
    if (x->t == KT_TABLE) {
        if ((rc = buf_printf(o, "+"))) return rc;
        return fmt_obj(x->u.kk[0], max, o, depth + 1);
    }
    if (x->t == KT_UNARY && x->u.g == 0) return buf_printf(o, "::");
    if (x->t == KT_LAMBDA && x->u.fn.len > 2) {
        /* 100 | context\0 | char vector: print the source text. */
        const uint8_t *p = x->u.fn.p + 1, *e = x->u.fn.p + x->u.fn.len;
        const uint8_t *z = memchr(p, 0, (size_t)(e - p));
        if (z && e - z >= 7 && z[1] == KT_CHAR) {
            const uint8_t *s = z + 7;
            return buf_append(o, s, (size_t)(e - s));
        }
    }
    return buf_printf(o, "<%s>", k_type_name(x->t));
}

int k_fmt(const struct k *x, size_t max_items, struct buf *out)
{
    if (!x) return buf_printf(out, "::");
    return fmt_obj(x, max_items ? max_items : 1, out, 0);
}
