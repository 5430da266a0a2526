/* core/kdb_nested.c: nested ("anymap", type 77) columns, kdb+ 3.6+ (kdb-formats §2.6).
 *
 *   col    fd20 header | 4080 fd 01 4d 00 0:i32 count:i64 (written 0) | 4096 one u64
 *          per row: low 56 bits = offset of the item in col#'s data area, top byte =
 *          item form (1 compact, 0 full)
 *   col#   fd20 header | 4080 fd 00 04 00 0:i32 0:i64 | 4096 items back to back
 *   items  compact vector  (0x7f + t) n:u8 then n packed items (t simple, n < 256)
 *          compact atom    (0x7f - t) then the value            (t simple)
 *          full vector     at a 16-byte aligned offset: fb 00 t attr 1:i32 n:i64 items
 * We write compact items up to COMPACT_MAX payload bytes and full items above it, as
 * the kdb+-written samples do (a 3-long item compact, a 30-long one full). Symbols
 * inside items (col##) are not supported yet. */
#include "kdb.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ckd.h"

#define OFF_MASK     ((UINT64_C(1) << 56) - 1)
#define FORM_COMPACT 1
#define FORM_FULL    0
#define COMPACT_MAX  0x5f

static const char *nm(const char *name) { return name ? name : "(buffer)"; }

static int ext_check(const uint8_t *p, size_t len, int a, int t, const char *what,
                     const char *name, struct smfs_err *err)
{
    if (len < KDB_EXT_HDR || p[0] != 0xfd || p[1] != 0x20 || p[4080] != 0xfd || p[4081] != a || p[4082] != t)
        return err_set(err, -EBADMSG, "'%s': not a nested-column %s file (fd20 with type %d at byte 4082)",
                       nm(name), what, t);
    return 0;
}

static int item_at(const uint8_t *h, size_t hl, uint64_t e, int64_t row, const char *name,
                   struct k **out, struct smfs_err *err)
{
    unsigned form = (unsigned)(e >> 56);
    uint64_t off = e & OFF_MASK;
    if (off >= hl)
        return err_set(err, -EBADMSG, "'%s#': row %" PRId64 " points at byte %" PRIu64 " of a %zu-byte heap",
                       nm(name), row, off, hl);
    const uint8_t *p = h + off;
    size_t left = hl - off;
    int t;
    uint64_t n, skip;
    bool atom = false;
    if (form == FORM_COMPACT) {
        if (p[0] >= 0x80) {
            t = p[0] - 0x7f;
            if (left < 2) goto short_item;
            n = p[1];
            skip = 2;
        } else {
            t = p[0] - 0x7f;     /* negative: an atom */
            atom = true;
            n = 1;
            skip = 1;
        }
    } else if (form == FORM_FULL) {
        if (left < 16) goto short_item;
        if (p[0] != 0xfb)
            return err_set(err, -EBADMSG, "'%s#': row %" PRId64 ": full item at byte %" PRIu64 " starts %02x, expected fb",
                           nm(name), row, off, p[0]);
        t = p[2];
        n = le64(p + 8);
        skip = 16;
    } else {
        return err_set(err, -EBADMSG, "'%s': row %" PRId64 " has unknown item form %u", nm(name), row, form);
    }
    if (!k_is_simple(atom ? -t : t))
        return err_set(err, -ENOTSUP, "'%s#': row %" PRId64 " holds type %d, not a simple type%s", nm(name), row, t,
                       (t == KT_SYM || t == -KT_SYM) ? " (symbols in nested columns, col##, are not supported)" : "");
    uint64_t need;
    if (ckd_muladd_u64(&need, n, (uint64_t)k_width(t), skip) || need > left)
        goto short_item;
    struct k *x = atom ? k_atom((int8_t)t) : k_vec((int8_t)t, (int64_t)n);
    if (!x) return err_set(err, -ENOMEM, "out of memory");
    if (!atom && form == FORM_FULL) x->attr = p[3] <= KA_GROUPED ? p[3] : 0;
    memcpy(atom ? (void *)&x->u : x->u.v, p + skip, (size_t)(need - skip));
    *out = x;
    return 0;
short_item:
    return err_set(err, -EBADMSG, "'%s#' truncated: row %" PRId64 "'s item at byte %" PRIu64 " runs past the %zu-byte heap",
                   nm(name), row, off, hl);
}

int kdb_decode_nested(const uint8_t *idx, size_t idxlen, const uint8_t *heap, size_t heaplen,
                      const char *name, struct k **out, struct smfs_err *err)
{
    *out = NULL;
    struct kdb_info in;
    int rc = kdb_probe(idx, idxlen, name, &in, err);
    if (rc < 0) return rc;
    if (in.fmt != KDB_FMT_ANYMAP)
        return err_set(err, -EINVAL, "'%s' is not a nested-column index (it is %s)", nm(name), kdb_fmt_name(in.fmt));
    if ((rc = ext_check(heap, heaplen, 0, KT_BYTE, "heap", name, err)) < 0) return rc;
    struct k *x = k_list(in.count);
    if (!x) return err_set(err, -ENOMEM, "out of memory");
    const uint8_t *h = heap + KDB_EXT_HDR;
    size_t hl = heaplen - KDB_EXT_HDR;
    for (int64_t i = 0; i < in.count; i++) {
        struct k *item = NULL;
        rc = item_at(h, hl, le64(idx + KDB_EXT_HDR + 8 * (uint64_t)i), i, name, &item, err);
        if (rc < 0) {
            k_free(x);
            return rc;
        }
        k_list_set(x, i, item);
    }
    *out = x;
    return 0;
}

static int ext_header(struct buf *b, int a, int t, struct smfs_err *err)
{
    size_t start = b->len;
    if (buf_append_zero(b, KDB_EXT_HDR) < 0) return err_set(err, -ENOMEM, "encode: out of memory");
    uint8_t *p = b->p + start;
    p[0] = 0xfd;
    p[1] = 0x20;
    p[4080] = 0xfd;
    p[4081] = (uint8_t)a;
    p[4082] = (uint8_t)t;
    return 0;
}

int kdb_nested_begin(struct buf *idx, struct buf *heap, size_t *base, struct smfs_err *err)
{
    int rc;
    if ((rc = ext_header(idx, 1, KT_ANYMAP, err)) < 0 || (rc = ext_header(heap, 0, KT_BYTE, err)) < 0) return rc;
    *base = heap->len;
    return 0;
}

/* One item: an atom of type -T (ATOM), or N items of simple type T at P. */
static int put_item(struct buf *idx, struct buf *heap, size_t base, int t, bool atom, const void *p, int64_t n,
                    uint8_t attr)
{
    size_t w = (size_t)k_width(t);
    size_t payload = atom ? w : (size_t)n * w;
    bool compact = atom || (n < 256 && payload <= COMPACT_MAX && attr == KA_NONE);
    uint8_t hdr[16] = { 0 };
    size_t hlen;
    if (compact) {
        hdr[0] = (uint8_t)(atom ? 0x7f - t : 0x7f + t);
        hdr[1] = (uint8_t)n;
        hlen = atom ? 1 : 2;
    } else {
        size_t pad = (16 - (heap->len - base) % 16) % 16;
        if (buf_append_zero(heap, pad) < 0) return -ENOMEM;
        hdr[0] = 0xfb;
        hdr[2] = (uint8_t)t;
        hdr[3] = attr;
        st32(hdr + 4, 1);
        st64(hdr + 8, (uint64_t)n);
        hlen = 16;
    }
    uint64_t off = heap->len - base;
    if (buf_append(heap, hdr, hlen) < 0 || buf_append(heap, p, payload) < 0 ||
        buf_put_u64(idx, off | (uint64_t)(compact ? FORM_COMPACT : FORM_FULL) << 56) < 0)
        return -ENOMEM;
    return 0;
}

int kdb_nested_item(struct buf *idx, struct buf *heap, size_t base, int8_t t, const void *items, int64_t n,
                    struct smfs_err *err)
{
    if (!k_is_simple(t)) return err_set(err, -ENOTSUP, "encode: a nested item of %s", k_type_name(t));
    if (put_item(idx, heap, base, t, false, items, n, KA_NONE))
        return err_set(err, -ENOMEM, "encode: out of memory for a nested column");
    return 0;
}

int kdb_encode_nested(const struct k *list, struct buf *idx, struct buf *heap,
                      struct smfs_err *err)
{
    if (list->t != KT_LIST)
        return err_set(err, -EINVAL, "encode: a nested column must be a general list, not %s", k_type_name(list->t));
    size_t base;
    int rc = kdb_nested_begin(idx, heap, &base, err);
    if (rc < 0) return rc;
    for (int64_t i = 0; i < list->n; i++) {
        const struct k *it = list->u.kk[i];
        bool atom = it->t < 0;
        int t = atom ? -it->t : it->t;
        if (!k_is_simple(t))
            return err_set(err, -ENOTSUP, "encode: nested row %" PRId64 " is %s; only simple vectors and atoms are supported",
                           i, k_type_name(it->t));
        if (put_item(idx, heap, base, t, atom, atom ? (const void *)&it->u : it->u.v, it->n, it->attr))
            return err_set(err, -ENOMEM, "encode: out of memory for a nested column of %" PRId64 " rows", list->n);
    }
    return 0;
}
