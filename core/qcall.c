/* core/qcall.c: see qcall.h. A recursive-descent reader over one buffer: every
 * function takes the cursor, reads one token, and either returns an object or sets
 * *err naming the character where the text stopped making sense. */
#include "qcall.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k_fmt.h"

struct rd {
    const char *s;
    size_t      n, at;
    struct smfs_err *err;
};

static int fail(struct rd *r, const char *what)
{
    if (r->at >= r->n) return err_set(r->err, -EINVAL, "at the end: %s", what);
    return err_set(r->err, -EINVAL, "at character %zu ('%c'): %s", r->at + 1, r->s[r->at], what);
}

static void blanks(struct rd *r)
{
    while (r->at < r->n && (r->s[r->at] == ' ' || r->s[r->at] == '\t')) r->at++;
}

static bool peek(struct rd *r, char c)
{
    return r->at < r->n && r->s[r->at] == c;
}

/* The characters of one literal: up to a delimiter. */
static size_t word(struct rd *r, char *out, size_t cap)
{
    size_t i = 0;
    while (r->at < r->n && !strchr(";[]() \t\"`", r->s[r->at]) && i + 1 < cap) out[i++] = r->s[r->at++];
    out[i] = '\0';
    return i;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return n > 0;
}

/* "hh:mm[:ss[.f…]]" into ns; *kind: 'u' minute, 'v' second, 't' time (1–3 decimals),
 * 'n' timespan (4–9 decimals). False if malformed. */
static bool clock_of(const char *s, int64_t *ns, char *kind)
{
    size_t n = strlen(s);
    if (n < 5 || !digits(s, 2) || s[2] != ':' || !digits(s + 3, 2)) return false;
    int64_t h = atoi(s), m = atoi(s + 3), sec = 0, frac = 0;
    *kind = 'u';
    if (n > 5) {
        if (s[5] != ':' || n < 8 || !digits(s + 6, 2)) return false;
        sec = atoi(s + 6);
        *kind = 'v';
        if (n > 8) {
            size_t f = n - 9;
            if (s[8] != '.' || f < 1 || f > 9 || !digits(s + 9, f)) return false;
            frac = atoll(s + 9);
            for (size_t i = f; i < 9; i++) frac *= 10;
            *kind = f <= 3 ? 't' : 'n';
        }
    }
    if (m > 59 || sec > 59) return false;
    *ns = ((h * 60 + m) * 60 + sec) * INT64_C(1000000000) + frac;
    return true;
}

static struct k *number(struct rd *r, const char *w)
{
    static const struct { const char *lit; int8_t t; } nulls[] = {
        {"0N", -KT_LONG}, {"0Nj", -KT_LONG}, {"0Ni", -KT_INT}, {"0n", -KT_FLOAT}, {"0Nf", -KT_FLOAT},
        {"0Np", -KT_TIMESTAMP}, {"0Nn", -KT_TIMESPAN}, {"0Nd", -KT_DATE}, {"0Nt", -KT_TIME},
        {"0Nu", -KT_MINUTE}, {"0Nv", -KT_SECOND},
    };
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (!strcmp(w, nulls[i].lit)) {
            struct k *x = k_atom(nulls[i].t);
            if (!x) return NULL;
            switch (nulls[i].t) {
            case -KT_FLOAT: x->u.f = NAN; break;
            case -KT_INT: case -KT_DATE: case -KT_TIME: case -KT_MINUTE: case -KT_SECOND: x->u.i = KNULL_I; break;
            default: x->u.j = KNULL_J; break;
            }
            return x;
        }
    size_t n = strlen(w);
    if (n == 2 && (w[0] == '0' || w[0] == '1') && w[1] == 'b') return k_bool(w[0] == '1');
    const char *d = strchr(w, 'D');
    int32_t day;
    char date[11];
    if (n >= 10 && w[4] == '.' && w[7] == '.') {   /* a date, or a timestamp */
        memcpy(date, w, 10);
        date[10] = '\0';
        if (!k_parse_date(date, &day)) return fail(r, "not a valid date"), NULL;
        if (n == 10) return k_date(day);
        int64_t ns = 0;
        char kind;
        if (w[10] != 'D' || (n > 11 && !clock_of(w + 11, &ns, &kind)))
            return fail(r, "not a timestamp such as 2024.01.02D10:00:00.000000000"), NULL;
        return k_timestamp((int64_t)day * K_NS_PER_DAY + ns);
    }
    if (d) {   /* a timespan: [-]daysDhh:mm[:ss[.f]] */
        bool neg = w[0] == '-';
        const char *ds = w + neg;
        int64_t ns = 0;
        char kind;
        if (!digits(ds, (size_t)(d - ds)) || (d[1] && !clock_of(d + 1, &ns, &kind)))
            return fail(r, "not a timespan such as 0D00:05:00"), NULL;
        int64_t v = atoll(ds) * K_NS_PER_DAY + ns;
        return k_timespan(neg ? -v : v);
    }
    if (strchr(w, ':')) {
        int64_t ns;
        char kind;
        if (!clock_of(w, &ns, &kind)) return fail(r, "not a time such as 00:05, 00:05:00 or 00:05:00.000"), NULL;
        struct k *x = k_atom(kind == 'u' ? -KT_MINUTE : kind == 'v' ? -KT_SECOND : kind == 't' ? -KT_TIME
                                                                                              : -KT_TIMESPAN);
        if (!x) return NULL;
        if (kind == 'n') x->u.j = ns;
        else x->u.i = (int32_t)(kind == 'u' ? ns / 60000000000 : kind == 'v' ? ns / 1000000000 : ns / 1000000);
        return x;
    }
    char *end;
    char suffix = n ? w[n - 1] : 0;
    if (suffix == 'f' || strchr(w, '.') || strchr(w, 'e')) {
        double f = strtod(w, &end);
        if (end == w || (*end && !(end[0] == 'f' && !end[1]))) return fail(r, "not a number"), NULL;
        return k_float(f);
    }
    errno = 0;
    long long v = strtoll(w, &end, 10);
    if (end == w || errno == ERANGE || (*end && !((end[0] == 'j' || end[0] == 'i') && !end[1])))
        return fail(r, "not a literal smfs understands (a symbol, number, boolean, date, time, timespan or "
                       "timestamp)"), NULL;
    if (end[0] == 'i') {
        if (v < INT32_MIN || v > INT32_MAX) return fail(r, "an int out of range"), NULL;
        return k_int((int32_t)v);
    }
    return k_long(v);
}

static struct k *literal(struct rd *r)
{
    blanks(r);
    if (r->at >= r->n) return fail(r, "expected an argument"), NULL;
    char c = r->s[r->at];
    if (c == '`') {   /* `name, `:path, or ` */
        size_t st = ++r->at;
        while (r->at < r->n && (isalnum((unsigned char)r->s[r->at]) || strchr("._:/", r->s[r->at]))) r->at++;
        char *nm = strndup(r->s + st, r->at - st);
        struct k *x = nm ? k_sym(nm) : NULL;
        free(nm);
        return x;
    }
    if (c == '"') {
        size_t st = ++r->at;
        while (r->at < r->n && r->s[r->at] != '"') {
            if (r->s[r->at] == '\\') return fail(r, "escapes in strings are not supported"), NULL;
            r->at++;
        }
        if (r->at >= r->n) return fail(r, "the string is not closed"), NULL;
        struct k *x = k_str(r->s + st, r->at - st);
        r->at++;
        return x;
    }
    if (c == '(' || c == ':') {   /* (::) or :: */
        bool paren = c == '(';
        if (paren) {
            r->at++;
            blanks(r);
        }
        if (!(r->at + 1 < r->n && r->s[r->at] == ':' && r->s[r->at + 1] == ':'))
            return fail(r, "only (::) may stand in parentheses: smfs evaluates nothing"), NULL;
        r->at += 2;
        blanks(r);
        if (paren && !peek(r, ')')) return fail(r, "expected ')'"), NULL;
        if (paren) r->at++;
        return k_null();
    }
    if (c == '{') return fail(r, "a lambda cannot be sent: smfs has no q interpreter"), NULL;
    char w[64];
    size_t st = r->at;
    if (!word(r, w, sizeof w)) return fail(r, "expected an argument"), NULL;
    if (r->at < r->n && !strchr(";[]() \t", r->s[r->at])) {
        r->at = st;
        return fail(r, "not a literal smfs understands"), NULL;
    }
    size_t end = r->at;
    r->at = st;   /* errors point at the literal's start */
    struct k *x = number(r, w);
    if (x) r->at = end;
    return x;
}

int qcall_parse(const char *text, size_t len, char **name, struct k **args, struct smfs_err *err)
{
    *name = NULL;
    *args = NULL;
    if (len > QCALL_MAX_LEN)
        return err_set(err, -EINVAL, "a call of %zu characters is longer than the %d allowed", len, QCALL_MAX_LEN);
    struct rd r = {text, len, 0, err};
    struct k *a[QCALL_MAX_ARGS];
    size_t na = 0;
    int rc = 0;
    blanks(&r);
    size_t st = r.at;
    if (r.at < r.n && (r.s[r.at] == '.' || isalpha((unsigned char)r.s[r.at])))
        while (r.at < r.n && (isalnum((unsigned char)r.s[r.at]) || r.s[r.at] == '.' || r.s[r.at] == '_')) r.at++;
    if (r.at == st) return fail(&r, "expected the name of a function, such as .sm.api.getStatus");
    char *nm = strndup(r.s + st, r.at - st);
    if (!nm) return err_set(err, -ENOMEM, "out of memory");
    blanks(&r);
    if (peek(&r, ':') && !(r.at + 1 < r.n && r.s[r.at + 1] == ':')) {
        free(nm);
        return fail(&r, "an assignment cannot be sent: smfs evaluates nothing");
    }
    if (peek(&r, '[')) {
        r.at++;
        blanks(&r);
        if (peek(&r, ']')) {
            r.at++;
            if (!(a[na++] = k_null())) rc = -ENOMEM;
        } else {
            for (;;) {
                if (na == QCALL_MAX_ARGS) {
                    rc = fail(&r, "too many arguments");
                    break;
                }
                struct k *x = literal(&r);
                if (!x) {
                    rc = err->code ? err->code : -ENOMEM;
                    break;
                }
                a[na++] = x;
                blanks(&r);
                if (peek(&r, ']')) {
                    r.at++;
                    break;
                }
                if (!peek(&r, ';')) {
                    rc = fail(&r, "expected ';' or ']'");
                    break;
                }
                r.at++;
            }
        }
    } else if (r.at < r.n) {
        struct k *x = literal(&r);
        if (x) a[na++] = x;
        else rc = err->code ? err->code : -ENOMEM;
    } else {
        rc = err_set(err, -EINVAL, "'%s' alone asks for its value; smfs only calls functions: %s[]", nm, nm);
    }
    if (!rc) {
        blanks(&r);
        if (r.at < r.n) rc = fail(&r, "unexpected text after the call");
    }
    struct k *list = rc ? NULL : k_list((int64_t)na);
    if (!rc && !list) rc = -ENOMEM;
    for (size_t i = 0; i < na; i++) {
        if (list) k_list_set(list, (int64_t)i, a[i]);
        else k_free(a[i]);
    }
    if (rc) {
        free(nm);
        return rc == -ENOMEM && !err->code ? err_set(err, -ENOMEM, "out of memory") : rc;
    }
    *name = nm;
    *args = list;
    return 0;
}
