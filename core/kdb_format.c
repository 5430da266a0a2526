/* core/kdb_format.c: the uncompressed kdb+ file families (kdb-formats §2).
 *
 *   ff01   0 ff 01 | 2 the q serialization of one object (core/k_ser.c)
 *          symbol list: ff 01 0b attr count:i32 name\0… — count is often 0 or stale
 *          (kdb+ 4.x writes 0; .Q.en appends names without updating it): the names run
 *          to the end of the file and the count is never trusted.
 *   fe20   0 fe 20 t attr | 4 0:i32 | 8 count:i64 | 16 items (t's width each)
 *          [| u#/p#/g# index structures]. count 0 with attr none/s# means "derive from
 *          the size" (4.x); with an attribute the count is always written.
 *   fd20   0 fd 20 00 00 | 16 enum domain name\0 (type 20) | zeros to 4080 |
 *          4080 fd a t attr 0:i32 count:i64 | 4096 items. t = 20 (enum, a = 0,
 *          int64 indices), 77 (nested index, a = 1), 4 (nested heap, a = 0).
 *   fe+nm  0 fe name (7 bytes, NUL padded) | 8 00 00 00 attr 00 00 00 00 |
 *          16 count:i64 | 24 int32 indices. Pre-3.6 enumerations; read only.
 * All numbers little-endian. Every count is checked against the file size before it
 * sizes anything. */
#include "kdb.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "k_ser.h"

#define FE20_HDR   16
#define ENUM32_HDR 24
#define EXT_HDR2   4080   /* fd20 secondary header */

const char *kdb_fmt_name(enum kdb_fmt f)
{
    switch (f) {
    case KDB_FMT_OBJECT: return "object";
    case KDB_FMT_VECTOR: return "vector";
    case KDB_FMT_ENUM: return "enum";
    case KDB_FMT_ENUM32: return "enum32";
    case KDB_FMT_ANYMAP: return "anymap";
    case KDB_FMT_HEAP: return "anymap-heap";
    }
    return "unknown";
}

static const char *nm(const char *name) { return name ? name : "(buffer)"; }

static int foreign(const uint8_t *p, size_t len, const char *name, struct smfs_err *err)
{
    char hex[3 * 8 + 1] = "";
    size_t n = len < 8 ? len : 8;
    for (size_t i = 0; i < n; i++) snprintf(hex + 3 * i, 4, "%02x ", p[i]);
    if (n) hex[3 * n - 1] = '\0';
    if (len == 0) return err_set(err, -EBADMSG, "'%s' is empty, not a kdb+ file", nm(name));
    return err_set(err, -EBADMSG, "'%s' is not a kdb+ file: %zu bytes starting %s (expected ff01, fe20, fd20 or kxzipped)",
                   nm(name), len, hex);
}

/* Fixed-width items from OFF: settle the count (derive it where the header says 0
 * and there is no attribute) and check it against the size. */
static int settle_count(struct kdb_info *in, size_t len, uint64_t off, int w, const char *name,
                        struct smfs_err *err)
{
    in->data_off = off;
    if (in->hdr_count < 0)
        return err_set(err, -EBADMSG, "'%s': negative item count %" PRId64 " in the header", nm(name), in->hdr_count);
    uint64_t body = len - off;
    if (in->hdr_count == 0 && in->attr <= KA_SORTED) {
        if (body % (uint64_t)w)
            return err_set(err, -EBADMSG, "'%s': %zu bytes is not a %" PRIu64 "-byte header plus whole %d-byte %s items",
                           nm(name), len, off, w, k_type_name(in->type));
        in->count = (int64_t)(body / (uint64_t)w);
    } else {
        in->count = in->hdr_count;
    }
    uint64_t need;
    if (ckd_muladd_u64(&need, (uint64_t)in->count, (uint64_t)w, off) || need > len)
        return err_set(err, -EBADMSG, "'%s' truncated: header says %" PRId64 " items (%" PRIu64 " bytes), file has %zu bytes",
                       nm(name), in->count, ckd_muladd_u64(&need, (uint64_t)in->count, (uint64_t)w, off) ? UINT64_MAX : need, len);
    if (need < len && in->attr <= KA_SORTED)
        return err_set(err, -EBADMSG, "'%s': header says %" PRId64 " items (%" PRIu64 " bytes) but the file has %zu bytes",
                       nm(name), in->count, need, len);
    in->data_len = need - off;
    return 0;
}

static int probe_symlist(const uint8_t *p, size_t len, const char *name, struct kdb_info *in,
                         struct smfs_err *err)
{
    if (len < 8)
        return err_set(err, -EBADMSG, "'%s' truncated: symbol list header needs 8 bytes, file has %zu", nm(name), len);
    in->hdr_count = (int32_t)le32(p + 4);
    in->data_off = 8;
    in->data_len = len - 8;
    int64_t n = 0;
    for (size_t i = 8; i < len; i++) n += p[i] == 0;
    if (len > 8 && p[len - 1] != 0)
        return err_set(err, -EBADMSG, "'%s' truncated: last symbol is not NUL-terminated (%zu bytes, %" PRId64 " complete names)",
                       nm(name), len, n);
    /* .Q.en appends names in place without always updating the count, so a count
     * below the names present is stale and harmless; one above them means the file
     * lost its tail. */
    if (in->hdr_count > n)
        return err_set(err, -EBADMSG, "'%s' truncated: header says %" PRId64 " symbols, file has %" PRId64,
                       nm(name), in->hdr_count, n);
    in->count = n;
    return 0;
}

static int probe_ext(const uint8_t *p, size_t len, const char *name, struct kdb_info *in,
                     struct smfs_err *err)
{
    if (len < KDB_EXT_HDR)
        return err_set(err, -EBADMSG, "'%s' truncated: fd20 files have a 4096-byte header, file has %zu bytes", nm(name), len);
    const uint8_t *h = p + EXT_HDR2;
    if (h[0] != 0xfd)
        return err_set(err, -EBADMSG, "'%s': fd20 secondary header at byte 4080 starts %02x, expected fd", nm(name), h[0]);
    in->type = h[2];
    in->attr = h[3];
    in->hdr_count = (int64_t)le64(h + 8);
    if (in->attr > KA_GROUPED)
        return err_set(err, -EBADMSG, "'%s': unknown attribute byte %d", nm(name), in->attr);
    switch (in->type) {
    case KT_ENUM: {
        in->fmt = KDB_FMT_ENUM;
        const uint8_t *d = p + 16;
        const uint8_t *z = memchr(d, 0, EXT_HDR2 - 16);
        size_t dl = z ? (size_t)(z - d) : 0;
        if (!z || dl == 0 || dl >= KDB_DOMAIN_MAX)
            return err_set(err, -EBADMSG, "'%s': enumeration without a valid domain name at byte 16", nm(name));
        for (size_t i = 0; i < dl; i++)
            if (!isgraph(d[i]))
                return err_set(err, -EBADMSG, "'%s': enumeration domain name has byte %02x at %zu", nm(name), d[i], 16 + i);
        memcpy(in->domain, d, dl);
        in->domain[dl] = '\0';
        return settle_count(in, len, KDB_EXT_HDR, 8, name, err);
    }
    case KT_ANYMAP:
        in->fmt = KDB_FMT_ANYMAP;
        return settle_count(in, len, KDB_EXT_HDR, 8, name, err);
    case KT_BYTE:
        in->fmt = KDB_FMT_HEAP;
        in->data_off = KDB_EXT_HDR;
        in->data_len = len - KDB_EXT_HDR;
        in->count = (int64_t)in->data_len;
        return 0;
    default:
        return err_set(err, -ENOTSUP, "'%s': fd20 file of type %d is not supported (known: 20 enum, 77 nested index, 4 nested heap)",
                       nm(name), in->type);
    }
}

static int probe_enum32(const uint8_t *p, size_t len, const char *name, struct kdb_info *in,
                        struct smfs_err *err)
{
    if (len < ENUM32_HDR)
        return err_set(err, -EBADMSG, "'%s' truncated: a 32-bit enumeration has a 24-byte header, file has %zu bytes", nm(name), len);
    size_t dl = 0;
    while (dl < 7 && p[1 + dl]) dl++;
    for (size_t i = 0; i < dl; i++)
        if (!isgraph(p[1 + i])) return foreign(p, len, name, err);
    if (dl == 0) return foreign(p, len, name, err);
    memcpy(in->domain, p + 1, dl);
    in->domain[dl] = '\0';
    in->fmt = KDB_FMT_ENUM32;
    in->type = KT_ENUM;
    in->attr = p[11];
    if (in->attr > KA_GROUPED)
        return err_set(err, -EBADMSG, "'%s': unknown attribute byte %d", nm(name), in->attr);
    in->hdr_count = (int64_t)le64(p + 16);
    return settle_count(in, len, ENUM32_HDR, 4, name, err);
}

/* An ff01 object other than a symbol list: one deserialization, which is also its
 * validation (the probe would deserialize it a second time). */
static int decode_object(const uint8_t *p, size_t len, const char *name, struct k **out,
                         struct smfs_err *err)
{
    size_t used = 0;
    int rc = k_deserialize(p + 2, len - 2, false, out, &used, err);
    if (rc < 0) return err_wrap(err, "'%s'", nm(name));
    if (used != len - 2) {
        k_free(*out);
        *out = NULL;
        return err_set(err, -EBADMSG, "'%s': %zu bytes follow the serialized object (%zu bytes)",
                       nm(name), len - 2 - used, used);
    }
    return 0;
}

static bool is_object(const uint8_t *p, size_t len)
{
    return len >= 3 && p[0] == 0xff && p[1] == 0x01 && p[2] != KT_SYM;
}

int kdb_probe(const uint8_t *p, size_t len, const char *name, struct kdb_info *in,
              struct smfs_err *err)
{
    return kdb_probe_head(p, len, len, name, in, err);
}

/* P holds the first HAVE bytes of content LEN bytes long. Only ff01 objects read past
 * the first 4096 bytes, so they alone need the whole content. */
int kdb_probe_head(const uint8_t *p, size_t have, size_t len, const char *name,
                   struct kdb_info *in, struct smfs_err *err)
{
    if (have < len) {
        if (have < KDB_EXT_HDR)
            return err_set(err, -EINVAL, "'%s': probing needs the first 4096 bytes, got %zu", nm(name), have);
        if (p[0] == 0xff && p[1] == 0x01)
            return err_set(err, -EINVAL, "'%s': probing an ff01 object needs all of it", nm(name));
    }
    memset(in, 0, sizeof *in);
    in->size = in->file_size = len;
    in->count = -1;
    if (len >= 8 && memcmp(p, KDB_ZIP_MAGIC, 8) == 0)
        return err_set(err, -EINVAL, "'%s' is compressed (kxzipped): decompress it first", nm(name));
    if (len >= 8 && memcmp(p, "kxzippEd", 8) == 0)
        return err_set(err, -ENOTSUP, "'%s' is encrypted (kxzippEd): encrypted files are not supported", nm(name));
    if (len < 2) return foreign(p, len, name, err);

    if (p[0] == 0xff && p[1] == 0x01) {
        in->fmt = KDB_FMT_OBJECT;
        if (len < 3)
            return err_set(err, -EBADMSG, "'%s' truncated: ff01 header without an object", nm(name));
        in->type = (int8_t)p[2];
        if (in->type == KT_SYM) {
            in->attr = len > 3 ? p[3] : 0;
            return probe_symlist(p, len, name, in, err);
        }
        struct k *x = NULL;
        int rc = decode_object(p, len, name, &x, err);
        if (rc < 0) return rc;
        in->attr = x->t >= 0 && x->t <= KT_TABLE ? x->attr : 0;
        in->count = k_count(x);
        in->hdr_count = in->count;
        in->data_off = 2;
        in->data_len = len - 2;
        k_free(x);
        return 0;
    }
    if (p[0] == 0xfe && p[1] == 0x20) {
        if (len < FE20_HDR)
            return err_set(err, -EBADMSG, "'%s' truncated: fe20 header needs 16 bytes, file has %zu", nm(name), len);
        in->fmt = KDB_FMT_VECTOR;
        in->type = p[2];
        in->attr = p[3];
        in->hdr_count = (int64_t)le64(p + 8);
        if (!k_is_simple(in->type))
            return err_set(err, -EBADMSG, "'%s': fe20 vector of unknown type %d", nm(name), in->type);
        if (in->attr > KA_GROUPED)
            return err_set(err, -EBADMSG, "'%s': unknown attribute byte %d", nm(name), in->attr);
        return settle_count(in, len, FE20_HDR, k_width(in->type), name, err);
    }
    if (p[0] == 0xfd && p[1] == 0x20) return probe_ext(p, len, name, in, err);
    if (p[0] == 0xfe) return probe_enum32(p, len, name, in, err);
    return foreign(p, len, name, err);
}

int kdb_decode(const uint8_t *p, size_t len, const char *name, struct k **out,
               struct smfs_err *err)
{
    *out = NULL;
    if (is_object(p, len)) return decode_object(p, len, name, out, err);
    struct kdb_info in;
    int rc = kdb_probe(p, len, name, &in, err);
    if (rc < 0) return rc;
    return kdb_decode_probed(p, len, name, &in, out, err);
}

int kdb_decode_probed(const uint8_t *p, size_t len, const char *name, const struct kdb_info *info,
                      struct k **out, struct smfs_err *err)
{
    *out = NULL;
    if (is_object(p, len)) return decode_object(p, len, name, out, err);
    const struct kdb_info in = *info;
    struct k *x = NULL;
    switch (in.fmt) {
    case KDB_FMT_OBJECT:
        if (in.type == KT_SYM) {   /* the probe found every NUL: one block for all names */
            size_t used;
            int rc = k_symv_packed((const char *)p + 8, len - 8, in.count, &x, &used);
            if (rc == -ENOMEM) goto oom;
            if (rc) return err_set(err, -EBADMSG, "'%s': symbol %zu bytes into the list has no NUL", name, used);
            x->attr = (uint8_t)in.attr;
        }
        break;
    case KDB_FMT_VECTOR:
        x = k_vec((int8_t)in.type, in.count);
        if (!x) goto oom;
        x->attr = (uint8_t)in.attr;
        memcpy(x->u.v, p + in.data_off, in.data_len);
        break;
    case KDB_FMT_ENUM:
    case KDB_FMT_ENUM32:
        x = k_enum(in.domain, in.count);
        if (!x) goto oom;
        x->attr = (uint8_t)in.attr;
        if (in.fmt == KDB_FMT_ENUM) {
            memcpy(x->u.v, p + in.data_off, in.data_len);
            size_t end = in.data_off + in.data_len;
            int rc = kdb_attr_check(x, p + end, len - end, nm(name), err);
            if (rc) {
                k_free(x);
                return rc;
            }
        } else {
            int64_t *d = x->u.v;
            for (int64_t i = 0; i < in.count; i++) d[i] = (int32_t)le32(p + in.data_off + 4 * (uint64_t)i);
        }
        break;
    case KDB_FMT_ANYMAP:
        return err_set(err, -EINVAL, "'%s' is the index of a nested column: load it with its '%s#' heap",
                       nm(name), nm(name));
    case KDB_FMT_HEAP:
        return err_set(err, -EINVAL, "'%s' is the heap of a nested column: load the column's index file instead",
                       nm(name));
    }
    *out = x;
    return 0;
oom:
    k_free(x);
    return err_set(err, -ENOMEM, "'%s': out of memory for %" PRId64 " items", nm(name), in.count);
}

/* --- writer ----------------------------------------------------------------- */

static int put(int rc, struct smfs_err *err)
{
    if (rc < 0) return err_set(err, rc, "encode: output buffer %s", rc == -E2BIG ? "over its limit" : "out of memory");
    return 0;
}

int kdb_vector_header(int8_t t, uint8_t attr, int64_t n, unsigned flags, struct buf *out, struct smfs_err *err)
{
    uint64_t count = (flags & KDB_ENC_ZERO_COUNT) && attr == KA_NONE ? 0 : (uint64_t)n;
    uint8_t h[FE20_HDR] = { 0xfe, 0x20, (uint8_t)t, attr };
    st64(h + 8, count);
    return put(buf_append(out, h, sizeof h), err);
}

int kdb_encode(const struct k *x, unsigned flags, struct buf *out, struct smfs_err *err)
{
    bool zero = flags & KDB_ENC_ZERO_COUNT;
    int rc;
    if (k_is_simple(x->t) || x->t == KT_ENUM) {
        char why[200];
        if (!kdb_attr_supported(x, why, sizeof why))
            return err_set(err, -ENOTSUP, "encode: %s; write it without and let kdb+ apply it", why);
        uint64_t count = zero && x->attr == KA_NONE ? 0 : (uint64_t)x->n;
        size_t bytes = (size_t)x->n * (size_t)k_width(x->t);
        if (x->t == KT_ENUM) {
            size_t dl = x->dom ? strlen(x->dom) : 0;
            if (dl == 0 || dl >= KDB_DOMAIN_MAX)
                return err_set(err, -EINVAL, "encode: enumeration needs a domain name of 1..%d bytes", KDB_DOMAIN_MAX - 1);
            size_t start = out->len;
            if ((rc = put(buf_reserve(out, KDB_EXT_HDR + bytes), err)) < 0) return rc;
            if ((rc = put(buf_append_zero(out, KDB_EXT_HDR), err)) < 0) return rc;
            uint8_t *h = out->p + start;
            h[0] = 0xfd;
            h[1] = 0x20;
            memcpy(h + 16, x->dom, dl);
            h[EXT_HDR2] = 0xfd;
            h[EXT_HDR2 + 2] = KT_ENUM;
            h[EXT_HDR2 + 3] = x->attr;
            st64(h + EXT_HDR2 + 8, count);
        } else if ((rc = kdb_vector_header((int8_t)x->t, x->attr, x->n, flags, out, err)) < 0) {
            return rc;
        }
        if ((rc = put(buf_append(out, x->u.v, bytes), err)) < 0) return rc;
        return x->attr > KA_SORTED ? kdb_attr_encode(x, out, err) : 0;
    }
    if (x->t == KT_SYM) {
        if (x->n > INT32_MAX)
            return err_set(err, -EINVAL, "encode: %" PRId64 " symbols do not fit a symbol list's 32-bit count", x->n);
        uint8_t h[8] = { 0xff, 0x01, KT_SYM, x->attr };
        st32(h + 4, zero ? 0 : (uint32_t)x->n);
        if ((rc = put(buf_append(out, h, sizeof h), err)) < 0) return rc;
        for (int64_t i = 0; i < x->n; i++) {
            const char *s = k_symv_at(x, i);
            if ((rc = put(buf_append(out, s, strlen(s) + 1), err)) < 0) return rc;
        }
        return 0;
    }
    uint8_t h[2] = { 0xff, 0x01 };
    if ((rc = put(buf_append(out, h, 2), err)) < 0) return rc;
    rc = k_serialize(x, out, err);
    if (rc < 0) {
        out->len -= 2;
        return err_wrap(err, "encode");
    }
    return 0;
}
