/* core/k_ser.c: q serialization (kdb-formats §5.3, §6; code.kx.com/q/kb/serialization).
 *
 * Body layout, recursively (all numbers in the message's byte order, little-endian on
 * disk):
 *   atom   -t          t:i8 | value (width of t; symbol: bytes NUL; guid: 16 raw)
 *   vector 1..19       t:i8 | attr:u8 | n:i32 | n items (symbol: NUL-terminated names)
 *   list   0           0 | attr | n:i32 | n objects
 *   dict   99 / 127    t | keys | values
 *   table  98          98 | attr | dict (symbol keys, list of columns)
 *   error  -128        0x80 | message NUL
 *   lambda 100         100 | context name NUL | char vector (the source)
 *   prims  101..103    t | one byte            ((::) is 101 0)
 *   proj., comp. 104/105  t | n:i32 | n objects;  derived 106..111: t | one object
 * Vector counts are int32 (capability 3); we never negotiate the 64-bit-count
 * capabilities, so an object that would need one is refused on write. */
#include "k_ser.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"

/* Vectors are copied between memory and the little-endian wire with memcpy. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "smfs assumes a little-endian host");

/* --- writer --------------------------------------------------------------- */

struct wr {
    struct buf      *out;
    struct smfs_err *err;
};

static int w_bytes(struct wr *w, const void *p, size_t n)
{
    int rc = buf_append(w->out, p, n);
    if (rc < 0) return err_set(w->err, rc, "serialize: output buffer: %s", rc == -E2BIG ? "over its limit" : "out of memory");
    return 0;
}

static int w_u8(struct wr *w, uint8_t v) { return w_bytes(w, &v, 1); }

static int w_i32(struct wr *w, int64_t v)
{
    uint8_t t[4];
    st32(t, (uint32_t)v);
    return w_bytes(w, t, 4);
}

static int w_str0(struct wr *w, const char *s)
{
    return w_bytes(w, s ? s : "", strlen(s ? s : "") + 1);
}

static int w_count(struct wr *w, int64_t n)
{
    if (n < 0 || n > INT32_MAX)
        return err_set(w->err, -EINVAL, "serialize: %lld items do not fit the 32-bit count of capability 3",
                       (long long)n);
    return w_i32(w, n);
}

static int w_obj(struct wr *w, const struct k *x, int depth);

static int w_fixed(struct wr *w, int t, const void *p, int64_t n)
{
    return w_bytes(w, p, (size_t)n * (size_t)k_width(t));
}

static int w_obj(struct wr *w, const struct k *x, int depth)
{
    if (!x) return err_set(w->err, -EINVAL, "serialize: missing item (NULL)");
    if (depth > K_SER_MAX_DEPTH)
        return err_set(w->err, -EINVAL, "serialize: nesting deeper than %d", K_SER_MAX_DEPTH);
    int rc;
    int t = x->t;
    if (t == KT_ERROR) {
        if ((rc = w_u8(w, 0x80)) < 0) return rc;
        return w_str0(w, x->u.s);
    }
    if (t == -KT_ENUM || t == KT_ENUM)
        return err_set(w->err, -EINVAL, "serialize: enumerated values (domain '%s') must be resolved to symbols first",
                       x->dom ? x->dom : "");
    if (t < 0) {
        if (-t > KT_TIME || -t == 3)
            return err_set(w->err, -EINVAL, "serialize: unknown atom type %d", t);
        if ((rc = w_u8(w, (uint8_t)(int8_t)t)) < 0) return rc;
        if (t == -KT_SYM) return w_str0(w, x->u.s);
        return w_bytes(w, &x->u, (size_t)k_width(t));
    }
    if (t == KT_LIST || k_is_simple(t) || t == KT_SYM) {
        if ((rc = w_u8(w, (uint8_t)t)) < 0 || (rc = w_u8(w, x->attr)) < 0 ||
            (rc = w_count(w, x->n)) < 0)
            return rc;
        if (t == KT_SYM) {
            for (int64_t i = 0; i < x->n; i++)
                if ((rc = w_str0(w, k_symv_at(x, i))) < 0) return rc;
            return 0;
        }
        if (t == KT_LIST) {
            for (int64_t i = 0; i < x->n; i++)
                if ((rc = w_obj(w, x->u.kk[i], depth + 1)) < 0) return rc;
            return 0;
        }
        return w_fixed(w, t, x->u.v, x->n);
    }
    if (t == KT_DICT || t == KT_SORTED_DICT) {
        if ((rc = w_u8(w, (uint8_t)t)) < 0) return rc;
        if ((rc = w_obj(w, x->u.kk[0], depth + 1)) < 0) return rc;
        return w_obj(w, x->u.kk[1], depth + 1);
    }
    if (t == KT_TABLE) {
        if ((rc = w_u8(w, (uint8_t)t)) < 0 || (rc = w_u8(w, x->attr)) < 0) return rc;
        return w_obj(w, x->u.kk[0], depth + 1);
    }
    if (t >= KT_UNARY && t <= KT_ITERATOR) {
        if ((rc = w_u8(w, (uint8_t)t)) < 0) return rc;
        return w_u8(w, x->u.g);
    }
    if (t == KT_LAMBDA || (t >= KT_PROJECTION && t <= KT_EACHPRIOR_LAST)) {
        if (x->u.fn.be)
            return err_set(w->err, -EINVAL, "serialize: a function value received from a big-endian peer cannot be re-sent");
        return w_bytes(w, x->u.fn.p, x->u.fn.len);
    }
    return err_set(w->err, -EINVAL, "serialize: type %d (%s) cannot be serialized", t, k_type_name(t));
}

int k_serialize(const struct k *x, struct buf *out, struct smfs_err *err)
{
    struct wr w = { out, err };
    size_t start = out->len;
    int rc = w_obj(&w, x, 0);
    if (rc < 0) out->len = start;   /* leave the buffer as it was */
    return rc;
}

int64_t k_ser_size(const struct k *x)
{
    struct buf b;
    buf_init(&b, 0);
    struct smfs_err e;
    int64_t n = k_serialize(x, &b, &e) < 0 ? -EINVAL : (int64_t)b.len;
    buf_release(&b);
    return n;
}

/* --- reader --------------------------------------------------------------- */

struct rd {
    const uint8_t   *p;
    size_t           len;
    size_t           off;
    bool             be;
    struct smfs_err *err;
    uint64_t         mem_left;   /* what the decoded object may still take in memory */
    uint64_t         mem_max;
    bool             truncated;  /* the bytes ended before the object did */
};

/* What one K object costs besides its data: the struct and the allocator's share. A
 * list of a million (::) is two million bytes on the wire and 64 MB decoded: the
 * budget is charged before each allocation, so a compression bomb is refused before
 * it takes the memory. */
#define K_OBJ_COST 64

static int charge(struct rd *r, uint64_t bytes, size_t at)
{
    if (bytes <= r->mem_left) {
        r->mem_left -= bytes;
        return 0;
    }
    return err_set(r->err, -E2BIG, "the object at offset %zu would take more than the %llu bytes a message "
                   "may take decoded", at, (unsigned long long)r->mem_max);
}

static int r_short(struct rd *r, size_t need, const char *what)
{
    r->truncated = true;
    return err_set(r->err, -EBADMSG, "%s at offset %zu needs %zu bytes, %zu left", what,
                   r->off, need, r->len - r->off);
}

static int r_u8(struct rd *r, uint8_t *v, const char *what)
{
    if (r->len - r->off < 1) return r_short(r, 1, what);
    *v = r->p[r->off++];
    return 0;
}

static uint64_t load(const uint8_t *p, int width, bool be)
{
    uint64_t v = 0;
    if (be)
        for (int i = 0; i < width; i++) v = v << 8 | p[i];
    else
        for (int i = width - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int r_i32(struct rd *r, int32_t *v, const char *what)
{
    if (r->len - r->off < 4) return r_short(r, 4, what);
    *v = (int32_t)(uint32_t)load(r->p + r->off, 4, r->be);
    r->off += 4;
    return 0;
}

/* Copy n items of width w into dst in host (little-endian) order. */
static void r_items(struct rd *r, void *dst, int64_t n, int w, bool swap)
{
    const uint8_t *s = r->p + r->off;
    size_t bytes = (size_t)n * (size_t)w;
    if (!swap || w == 1) {
        memcpy(dst, s, bytes);
    } else {
        uint8_t *d = dst;
        for (size_t i = 0; i < bytes; i += (size_t)w)
            for (int b = 0; b < w; b++) d[i + (size_t)b] = s[i + (size_t)(w - 1 - b)];
    }
    r->off += bytes;
}

static int r_str0(struct rd *r, char **out, const char *what)
{
    const uint8_t *s = r->p + r->off;
    const uint8_t *z = memchr(s, 0, r->len - r->off);
    if (!z) {
        r->truncated = true;
        return err_set(r->err, -EBADMSG, "%s at offset %zu is not NUL-terminated before the end (%zu bytes left)",
                       what, r->off, r->len - r->off);
    }
    size_t n = (size_t)(z - s);
    char *c = malloc(n + 1);
    if (!c) return err_set(r->err, -ENOMEM, "out of memory");
    memcpy(c, s, n + 1);
    r->off += n + 1;
    *out = c;
    return 0;
}

static int r_obj(struct rd *r, struct k **out, int depth);

/* Skip over one object without building it; used to carry function values whole. */
static int r_skip(struct rd *r, int depth)
{
    struct k *x = NULL;
    int rc = r_obj(r, &x, depth);
    k_free(x);
    return rc;
}

static int r_fn(struct rd *r, int8_t t, size_t start, struct k **out, int depth)
{
    int rc = 0;
    if (t == KT_DYNLOAD)
        return err_set(r->err, -EBADMSG, "type 112 (dynamic load) at offset %zu cannot be serialized", start);
    if (t == KT_LAMBDA) {
        char *ctx = NULL;
        if ((rc = r_str0(r, &ctx, "lambda context")) < 0) return rc;
        free(ctx);
        rc = r_skip(r, depth + 1);
    } else if (t >= KT_UNARY && t <= KT_ITERATOR) {
        uint8_t b = 0;
        if ((rc = r_u8(r, &b, "primitive")) < 0) return rc;
        struct k *x = k_atom(t);
        if (!x) return err_set(r->err, -ENOMEM, "out of memory");
        x->n = 1;
        x->u.g = b;
        *out = x;
        return 0;
    } else if (t == KT_PROJECTION || t == KT_COMPOSITION) {
        int32_t n;
        if ((rc = r_i32(r, &n, "function arity")) < 0) return rc;
        if (n < 0 || (size_t)n > r->len - r->off) {
            r->truncated = n >= 0;
            return err_set(r->err, -EBADMSG, "function at offset %zu claims %d parts, %zu bytes left",
                           start, n, r->len - r->off);
        }
        for (int32_t i = 0; i < n && rc == 0; i++) rc = r_skip(r, depth + 1);
    } else if (t >= KT_EACH && t <= KT_EACHPRIOR_LAST) {
        rc = r_skip(r, depth + 1);
    } else {
        return err_set(r->err, -EBADMSG, "unknown type %d at offset %zu", t, start);
    }
    if (rc < 0) return rc;
    struct k *x = k_atom(t);
    if (!x) return err_set(r->err, -ENOMEM, "out of memory");
    x->u.fn.len = r->off - start;
    x->u.fn.p = malloc(x->u.fn.len);
    if (!x->u.fn.p) {
        free(x);
        return err_set(r->err, -ENOMEM, "out of memory");
    }
    memcpy(x->u.fn.p, r->p + start, x->u.fn.len);
    x->u.fn.be = r->be;
    *out = x;
    return 0;
}

static int r_obj(struct rd *r, struct k **out, int depth)
{
    *out = NULL;
    if (depth > K_SER_MAX_DEPTH)
        return err_set(r->err, -EBADMSG, "nesting deeper than %d at offset %zu", K_SER_MAX_DEPTH, r->off);
    size_t start = r->off;
    uint8_t tb = 0;
    int rc = r_u8(r, &tb, "type byte");
    if (rc < 0) return rc;
    int8_t t = (int8_t)tb;
    struct k *x = NULL;
    if ((rc = charge(r, K_OBJ_COST, start)) < 0) return rc;

    if (t == KT_ERROR) {
        x = k_atom(t);
        if (!x) return err_set(r->err, -ENOMEM, "out of memory");
        if ((rc = r_str0(r, &x->u.s, "error text")) < 0) goto fail;
        *out = x;
        return 0;
    }
    if (t < 0) {
        int at = -t;
        if (at > KT_TIME || at == 3)
            return err_set(r->err, -EBADMSG, "unknown atom type %d at offset %zu", t, start);
        x = k_atom(t);
        if (!x) return err_set(r->err, -ENOMEM, "out of memory");
        if (t == -KT_SYM) {
            if ((rc = r_str0(r, &x->u.s, "symbol")) < 0) goto fail;
        } else {
            int w = k_width(t);
            if (r->len - r->off < (size_t)w) {
                rc = r_short(r, (size_t)w, k_type_name(t));
                goto fail;
            }
            r_items(r, &x->u, 1, w, r->be && t != -KT_GUID);
        }
        *out = x;
        return 0;
    }
    if (t == KT_LIST || k_is_simple(t) || t == KT_SYM) {
        uint8_t attr = 0;
        int32_t n;
        if ((rc = r_u8(r, &attr, "attribute")) < 0) return rc;
        if ((rc = r_i32(r, &n, "count")) < 0) return rc;
        if (attr > KA_GROUPED)
            return err_set(r->err, -EBADMSG, "unknown attribute byte %u at offset %zu", attr, start + 1);
        if (n < 0)
            return err_set(r->err, -EBADMSG, "negative count %d at offset %zu", n, start + 2);
        size_t left = r->len - r->off;
        /* Check the count against the bytes left before allocating: every item takes
         * at least one byte (a list item its type byte, a symbol its NUL). */
        uint64_t need;
        int w = t == KT_SYM || t == KT_LIST ? 1 : k_width(t);
        if (ckd_mul_u64(&need, (uint64_t)n, (uint64_t)w) || need > left) {
            r->truncated = true;
            return err_set(r->err, -EBADMSG, "%s vector at offset %zu claims %d items (%llu bytes), %zu bytes left",
                           k_type_name(t), start, n, (unsigned long long)need, left);
        }
        /* The items' memory: pointers for a list or symbols, the data otherwise. */
        uint64_t mem = (uint64_t)n * (t == KT_SYM || t == KT_LIST ? sizeof(void *) : (uint64_t)w);
        if ((rc = charge(r, mem, start)) < 0) return rc;
        if (t == KT_SYM) {   /* one block for all the names */
            size_t used;
            rc = k_symv_packed((const char *)r->p + r->off, left, n, &x, &used);
            if (rc == -EBADMSG) {
                r->truncated = true;
                return err_set(r->err, rc, "symbol at offset %zu is not NUL-terminated before the end (%zu bytes left)",
                               r->off + used, left - used);
            }
            if (rc) return err_set(r->err, rc, "out of memory for %d symbols", n);
            r->off += used;
            x->attr = attr;
            *out = x;
            return 0;
        }
        x = t == KT_LIST ? k_list_unset(n) : k_vec(t, n);
        if (!x) return err_set(r->err, -ENOMEM, "out of memory for %d items", n);
        x->attr = attr;
        if (t == KT_LIST) {
            for (int32_t i = 0; i < n; i++)
                if ((rc = r_obj(r, &x->u.kk[i], depth + 1)) < 0) goto fail;
        } else {
            r_items(r, x->u.v, n, w, r->be && t != KT_GUID);
        }
        *out = x;
        return 0;
    }
    if (t == KT_DICT || t == KT_SORTED_DICT) {
        struct k *keys = NULL, *vals = NULL;
        if ((rc = r_obj(r, &keys, depth + 1)) < 0) return rc;
        if ((rc = r_obj(r, &vals, depth + 1)) < 0) {
            k_free(keys);
            return rc;
        }
        int64_t nk = k_count(keys), nv = k_count(vals);
        if (nk < 0 || nv < 0 || nk != nv) {
            k_free(keys);
            k_free(vals);
            return err_set(r->err, -EBADMSG, "dictionary at offset %zu has %lld keys and %lld values",
                           start, (long long)nk, (long long)nv);
        }
        x = k_dict(keys, vals);
        if (!x) return err_set(r->err, -ENOMEM, "out of memory");
        x->t = t;
        *out = x;
        return 0;
    }
    if (t == KT_TABLE) {
        uint8_t attr = 0;
        struct k *d = NULL;
        if ((rc = r_u8(r, &attr, "table attribute")) < 0) return rc;
        if ((rc = r_obj(r, &d, depth + 1)) < 0) return rc;
        if (d->t != KT_DICT || d->u.kk[0]->t != KT_SYM ||
            (d->u.kk[1]->t != KT_LIST && d->u.kk[0]->n != 0)) {
            k_free(d);
            return err_set(r->err, -EBADMSG, "table at offset %zu is not a dictionary of symbols to columns", start);
        }
        /* Every column must have the same length (q refuses a ragged table). */
        const struct k *cols = d->u.kk[1];
        int64_t rows = -1;
        for (int64_t i = 0; cols->t == KT_LIST && i < cols->n; i++) {
            int64_t c = k_count(cols->u.kk[i]);
            if (c < 0 || (rows >= 0 && c != rows)) {
                k_free(d);
                return err_set(r->err, -EBADMSG, "table at offset %zu: column %lld has %lld rows, expected %lld",
                               start, (long long)i, (long long)c, (long long)rows);
            }
            rows = c;
        }
        x = k_table(d);
        if (!x) return err_set(r->err, -ENOMEM, "out of memory");
        x->attr = attr;
        *out = x;
        return 0;
    }
    if (t >= KT_ENUM && t < KT_ANYMAP)
        return err_set(r->err, -EBADMSG, "enumerated value (type %d) at offset %zu: its domain is not in the message",
                       t, start);
    return r_fn(r, t, start, out, depth);
fail:
    k_free(x);
    return rc;
}

int k_deserialize(const uint8_t *p, size_t len, bool big_endian, struct k **out,
                  size_t *used, struct smfs_err *err)
{
    return k_deserialize_within(p, len, big_endian, UINT64_MAX, out, used, err);
}

int k_deserialize_within(const uint8_t *p, size_t len, bool big_endian, uint64_t max_mem,
                         struct k **out, size_t *used, struct smfs_err *err)
{
    struct rd r = { p, len, 0, big_endian, err, max_mem, max_mem };
    int rc = r_obj(&r, out, 0);
    if (rc < 0) {
        *out = NULL;
        return rc;
    }
    if (used) *used = r.off;
    return 0;
}

int k_deserialize_prefix(const uint8_t *p, size_t len, struct k **out, size_t *used, struct smfs_err *err)
{
    struct rd r = { p, len, 0, false, err, UINT64_MAX, UINT64_MAX, false };
    int rc = r_obj(&r, out, 0);
    if (rc < 0) {
        *out = NULL;
        return r.truncated && rc == -EBADMSG ? -ENODATA : rc;
    }
    if (used) *used = r.off;
    return 0;
}
