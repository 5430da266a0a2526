/* core/kdb_attr.c: the index structures kdb+ appends after a column's data for u#, p#
 * and g#, as its own files carry them. Derived from every 64-bit enumeration with an
 * attribute in ../shared/golden and ../shared/samples (13 files: p# on .Q.hdpf output
 * and on an empty column, g# and u# on 5,400-row columns), each reproduced byte for
 * byte by this code (tests/unit/test_kdb.c). Layout, n items, u distinct values in
 * order of first appearance, p the smallest power of two >= max(u, 1):
 *
 *   u#   the column itself is the hashed list: after its n items, (p - n) zero items,
 *        one zero word, then 2p int64 hash slots (below).
 *   p#   8 zero bytes, then a u# list of the distinct values (its own K header
 *        m 00 14 02 | r:int32 0 | u:int64, the values, (p - u) zero items, a zero
 *        word, 2p slots), then a long vector (m 00 07 00 | 0 | u+1) of the row where
 *        each run starts, and n.
 *   g#   as p#, the embedded list's r being 1; the long vector holds where each
 *        value's rows start in the next one (cumulative counts, then n); then a long
 *        vector of n row numbers: value 0's rows ascending, then value 1's, ...
 *
 * A hash slot holds the index of a distinct value or -1. Value v goes to slot
 * ((v * K) mod 2^64 >> 50) & (2p - 1), K = 0x1BBCD88000000000, the next free slot
 * forward on a collision, values inserted in order. The samples fix K's high bits and
 * exercise tables of 2 to 16,384 slots; a larger table (more than 8,192 distinct
 * values) is beyond the evidence -- kdb+ may take more bits of the product there -- so
 * the writer refuses it rather than write a hash kdb+ could misread (a wrong slot is a
 * query that finds nothing). Only enumerations are covered: the samples say nothing of
 * how kdb+ hashes floats, symbols or temporal values.
 *
 * m, the first byte of each embedded header, is kdb+'s allocator size class of the
 * object, ceil(log2(bytes)) - 4, bytes counting the 16-byte header. */
#include "kdb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "u64map.h"

#define HASH_K        UINT64_C(0x1BBCD88000000000)
#define HASH_SHIFT    50
#define SLOTS_PROVEN  16384   /* the largest hash table any sample holds */

static uint64_t pow2_at_least(uint64_t u)
{
    uint64_t p = 1;
    while (p < u) p <<= 1;
    return p;
}

static uint8_t size_class(uint64_t bytes)
{
    uint8_t l = 0;
    while ((UINT64_C(1) << l) < bytes) l++;
    return (uint8_t)(l - 4);
}

static size_t slot_of(int64_t v, uint64_t mask)
{
    return (size_t)((((uint64_t)v * HASH_K) >> HASH_SHIFT) & mask);
}

/* The distinct values of D[0..n) in order of first appearance (*vals, *u), and for
 * each row the index of its value (*which; may be NULL). */
static int distinct(const int64_t *d, int64_t n, int64_t **vals, int64_t *u, int64_t **which)
{
    struct u64map m = {0};
    int64_t *v = malloc((size_t)(n ? n : 1) * sizeof *v), *w = which ? malloc((size_t)(n ? n : 1) * sizeof *w) : NULL;
    if (!v || (which && !w) || u64map_reserve(&m, (size_t)n)) {
        free(v);
        free(w);
        u64map_release(&m);
        return -ENOMEM;
    }
    int64_t k = 0, minus_one = -1;   /* u64map keys cannot be 0: the key is v + 1, and -1 is kept aside */
    for (int64_t i = 0; i < n; i++) {
        uint64_t key = (uint64_t)d[i] + 1, at;
        if (!key) {
            if (minus_one < 0) v[minus_one = k++] = d[i];
            at = (uint64_t)minus_one;
        } else if (!u64map_get(&m, key, &at)) {
            at = (uint64_t)k;
            v[k++] = d[i];
            u64map_put_reserved(&m, key, at);
        }
        if (w) w[i] = (int64_t)at;
    }
    u64map_release(&m);
    *vals = v;
    *u = k;
    if (which) *which = w;
    return 0;
}

static int put_hdr(struct buf *b, uint8_t m, uint8_t t, uint8_t attr, int32_t r, int64_t n)
{
    uint8_t h[16] = {m, 0, t, attr};
    st32(h + 4, (uint32_t)r);
    st64(h + 8, (uint64_t)n);
    return buf_append(b, h, 16);
}

/* (p - u) zero items, a zero word, 2p slots. */
static int put_hash(struct buf *b, const int64_t *vals, int64_t u, uint64_t p)
{
    int rc = buf_append_zero(b, (size_t)(p - (uint64_t)u) * 8 + 8);
    if (rc) return rc;
    uint64_t ns = 2 * p, mask = ns - 1;
    int64_t *slot = malloc(ns * sizeof *slot);
    if (!slot) return -ENOMEM;
    memset(slot, 0xff, ns * sizeof *slot);
    for (int64_t i = 0; i < u; i++) {
        size_t s = slot_of(vals[i], mask);
        while (slot[s] != -1) s = (s + 1) & mask;
        slot[s] = i;
    }
    rc = buf_reserve(b, ns * 8);
    for (uint64_t i = 0; !rc && i < ns; i++) {
        st64(b->p + b->len, (uint64_t)slot[i]);
        b->len += 8;
    }
    free(slot);
    return rc;
}

static int put_items(struct buf *b, const int64_t *v, int64_t n)
{
    int rc = buf_reserve(b, (size_t)n * 8);
    for (int64_t i = 0; !rc && i < n; i++) {
        st64(b->p + b->len, (uint64_t)v[i]);
        b->len += 8;
    }
    return rc;
}

static int put_longs(struct buf *b, const int64_t *v, int64_t n)
{
    int rc = put_hdr(b, size_class(16 + 8 * (uint64_t)n), KT_LONG, KA_NONE, 0, n);
    return rc ? rc : put_items(b, v, n);
}

/* g#: where each value's rows start among the row numbers (u + 1 offsets, the last n),
 * and the row numbers grouped by value, ascending within each. */
static int put_groups(struct buf *b, const int64_t *which, int64_t n, int64_t u)
{
    int64_t *off = calloc((size_t)u + 1, sizeof *off), *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    int rc = off && rows ? 0 : -ENOMEM;
    for (int64_t i = 0; !rc && i < n; i++) off[which[i] + 1]++;
    for (int64_t g = 0; !rc && g < u; g++) off[g + 1] += off[g];
    int64_t *next = rc ? NULL : malloc((size_t)(u ? u : 1) * sizeof *next);
    if (!rc && !next) rc = -ENOMEM;
    if (!rc) {
        memcpy(next, off, (size_t)u * sizeof *next);
        for (int64_t i = 0; i < n; i++) rows[next[which[i]]++] = i;
        rc = put_longs(b, off, u + 1);
        if (!rc) rc = put_longs(b, rows, n);
    }
    free(next);
    free(off);
    free(rows);
    return rc;
}

int kdb_attr_supported(const struct k *x, char *why, size_t n)
{
    if (x->attr <= KA_SORTED) return 1;
    const char *a = k_attr_name(x->attr) ? k_attr_name(x->attr) : "?";
    if (x->t != KT_ENUM) {
        snprintf(why, n, "%s# on a %s column: the files kdb+ wrote show its index structures for enumerations only",
                 a, k_type_name(x->t));
        return 0;
    }
    int64_t *vals = NULL, u = 0;
    if (x->attr == KA_UNIQUE) u = x->n;
    else if (distinct(x->u.v, x->n, &vals, &u, NULL)) {
        snprintf(why, n, "out of memory");
        return 0;
    }
    free(vals);
    if (2 * pow2_at_least((uint64_t)u) > SLOTS_PROVEN) {
        snprintf(why, n, "%s# over %" PRId64 " distinct values needs a hash table of more than %d slots, and no file kdb+ "
                 "wrote shows how it hashes into one that large", a, u, SLOTS_PROVEN);
        return 0;
    }
    return 1;
}

int kdb_attr_encode(const struct k *x, struct buf *out, struct smfs_err *err)
{
    if (x->attr <= KA_SORTED) return 0;
    char why[200];
    if (!kdb_attr_supported(x, why, sizeof why)) return err_set(err, -ENOTSUP, "encode: %s", why);
    const int64_t *d = x->u.v;
    int64_t *vals = NULL, *which = NULL, u = 0;
    int rc = distinct(d, x->n, &vals, &u, x->attr == KA_GROUPED ? &which : NULL);
    if (rc) return err_set(err, rc, "encode: out of memory for the %s# structure", k_attr_name(x->attr));
    if (x->attr == KA_UNIQUE && u != x->n) {
        free(vals);
        return err_set(err, -EINVAL, "encode: u# on a column with repeated values (%" PRId64 " distinct of %" PRId64 ")", u,
                       x->n);
    }
    uint64_t p = pow2_at_least((uint64_t)u);
    int64_t *runs = NULL, nr = 0;
    if (x->attr == KA_PARTED) {
        runs = malloc((size_t)(u + 1) * sizeof *runs);
        if (!runs) rc = -ENOMEM;
        for (int64_t i = 0; !rc && i < x->n; i++)
            if (i == 0 || d[i] != d[i - 1]) {
                if (nr == u) {   /* more runs than values: some value comes back */
                    free(runs);
                    free(vals);
                    return err_set(err, -EINVAL, "encode: p# on a column that is not parted: the value at row %" PRId64
                                   " appears in an earlier run too (sort it first)", i);
                }
                runs[nr++] = i;
            }
        if (!rc) runs[nr++] = x->n;
    }
    size_t start = out->len;
    if (!rc && x->attr == KA_UNIQUE) {
        rc = put_hash(out, vals, u, p);
    } else if (!rc) {
        rc = buf_append_zero(out, 8);
        if (!rc) rc = put_hdr(out, size_class(16 + 24 * p + 8), KT_ENUM, KA_UNIQUE, x->attr == KA_GROUPED ? 1 : 0, u);
        if (!rc) rc = put_items(out, vals, u);
        if (!rc) rc = put_hash(out, vals, u, p);
        if (!rc && x->attr == KA_PARTED) rc = put_longs(out, runs, nr);
        if (!rc && x->attr == KA_GROUPED) rc = put_groups(out, which, x->n, u);
    }
    free(runs);
    free(vals);
    free(which);
    if (rc) {
        out->len = start;
        return err_set(err, rc, "encode: %s for the %s# structure", rc == -E2BIG ? "output over its limit" : "out of memory",
                       k_attr_name(x->attr));
    }
    return 0;
}

/* The parts of a structure that follow from the data, for the reader's check: the
 * lengths, the distinct values, the runs or groups. Header size classes and reference
 * counts are kdb+'s bookkeeping; the hash slots depend on a function known only as far
 * as the samples go: neither is held against a file. */
int kdb_attr_check(const struct k *x, const uint8_t *t, size_t tl, const char *name, struct smfs_err *err)
{
    char why[200];
    if (x->attr <= KA_SORTED || !kdb_attr_supported(x, why, sizeof why)) return 0;
    struct buf b;
    buf_init(&b, BUF_MAX_DEFAULT);
    struct smfs_err e = {0};
    int rc = kdb_attr_encode(x, &b, &e);
    if (rc == -EINVAL) {
        buf_release(&b);
        return err_set(err, -EBADMSG, "'%s': corrupt %s# column: %s", name, k_attr_name(x->attr), e.msg + 8);
    }
    if (rc) {
        buf_release(&b);
        return err_set(err, rc, "'%s': %s", name, e.msg);
    }
    /* Where the structure's parts are (see the layout at the top). */
    uint64_t n = (uint64_t)x->n, u = x->attr == KA_UNIQUE ? n : le64(b.p + 16), p = pow2_at_least(u);
    size_t slots_at = x->attr == KA_UNIQUE ? 8 * (size_t)(p - n) + 8 : 24 + 8 * (size_t)p + 8;
    size_t slots_end = slots_at + 16 * (size_t)p;
    size_t longs2 = slots_end + 16 + 8 * (size_t)(u + 1);   /* g#: the row numbers' header */
    size_t bad = b.len == tl ? SIZE_MAX : 0;
    for (size_t i = 0; bad == SIZE_MAX && i < b.len; i++) {
        bool bookkeeping = x->attr != KA_UNIQUE &&
                           (i == 8 || (i >= 12 && i < 16) || i == slots_end || (x->attr == KA_GROUPED && i == longs2));
        if (bookkeeping || (i >= slots_at && i < slots_end)) continue;
        if (b.p[i] != t[i]) bad = i;
    }
    buf_release(&b);
    if (bad == SIZE_MAX) return 0;
    return err_set(err, -EBADMSG, "'%s': corrupt %s# column: its index structure does not match its data (%s at byte %zu "
                   "after the data)", name, k_attr_name(x->attr), tl != b.len ? "its length differs" : "it differs", bad);
}
