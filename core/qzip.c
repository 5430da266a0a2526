/* core/qzip.c: see qzip.h. The compressor follows the algorithm of KX's javakdb
 * c.java compress() (Apache-2.0), re-expressed here; it reproduces kdb+'s output byte
 * for byte (tests/unit/test_qzip.c checks the §6.4 vector). */
#include "qzip.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static uint32_t ld32(const uint8_t *p, bool be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : le32(p);
}

static void sto32(uint8_t *p, uint32_t v, bool be)
{
    if (be) {
        p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
    } else {
        st32(p, v);
    }
}

int qzip_compress(const uint8_t *y, size_t t, struct buf *out)
{
    if (t < 12 || t > INT32_MAX) return 1;
    size_t e = t / 2;               /* the output may use at most half the input */
    int rc = buf_reserve(out, e);
    if (rc < 0) return rc;
    uint8_t *b = out->p + out->len;
    uint32_t a[256] = { 0 };        /* last position of each byte-pair hash */
    size_t c = 12, d = 12;          /* c: current flag byte, d: next output byte */
    size_t s = 8, s0 = 0, p;
    unsigned i = 0, f = 0, h = 0, h0 = 0;
    bool be = y[0] == 0;

    memcpy(b, y, 4);
    b[2] = 1;
    sto32(b + 8, (uint32_t)t, be);
    for (; s < t; i = (i * 2) & 0xff) {
        if (i == 0) {
            if (d + 17 > e) return 1;   /* not worth it: room for 8 more items is gone */
            i = 1;
            b[c] = (uint8_t)f;
            c = d++;
            f = 0;
        }
        bool lit = s + 3 > t;
        if (!lit) {
            h = (unsigned)(y[s] ^ y[s + 1]);
            p = a[h];
            lit = p == 0 || y[s] != y[p];
        }
        /* The previous literal's position is recorded only now, one step late, so a
         * pair never matches itself (the decompressor updates in the same order). */
        if (s0 > 0) {
            a[h0] = (uint32_t)s0;
            s0 = 0;
        }
        if (lit) {
            h0 = h;
            s0 = s;
            b[d++] = y[s++];
        } else {
            a[h] = (uint32_t)s;
            f |= i;
            p += 2;
            size_t r = s += 2;
            size_t q = s + 255 < t ? s + 255 : t;
            while (y[p] == y[s] && ++s < q) ++p;
            b[d++] = (uint8_t)h;
            b[d++] = (uint8_t)(s - r);
        }
    }
    b[c] = (uint8_t)f;
    sto32(b + 4, (uint32_t)d, be);
    out->len += d;
    return 0;
}

int qzip_decompress(const uint8_t *z, size_t zn, size_t max, uint8_t **out, size_t *outlen,
                    struct smfs_err *err)
{
    *out = NULL;
    *outlen = 0;
    if (zn < 12)
        return err_set(err, -EBADMSG, "compressed message is %zu bytes, shorter than its 12-byte header", zn);
    bool be = z[0] == 0;
    size_t usize = ld32(z + 8, be);
    if (usize < 8 || usize > max)
        return err_set(err, -EBADMSG, "compressed message claims %zu uncompressed bytes (allowed 8..%zu)", usize, max);
    uint8_t *dst = calloc(1, usize);
    if (!dst) return err_set(err, -ENOMEM, "out of memory for %zu bytes", usize);
    uint32_t aa[256] = { 0 };
    size_t s = 8, p = 8, d = 12;
    unsigned i = 0, f = 0;
    while (s < usize) {
        if (i == 0) {
            if (d >= zn) goto truncated;
            f = z[d++];
            i = 1;
        }
        size_t n = 0;
        if (f & i) {
            if (d + 2 > zn) goto truncated;
            size_t r = aa[z[d++]];
            n = z[d++];
            if (s + 2 + n > usize || r >= s) {
                free(dst);
                return err_set(err, -EBADMSG, "compressed message: back-reference at output byte %zu overruns %zu bytes",
                               s, usize);
            }
            /* Byte by byte: the source may overlap what this copy writes. */
            dst[s] = dst[r];
            dst[s + 1] = dst[r + 1];
            for (size_t m = 0; m < n; m++) dst[s + 2 + m] = dst[r + 2 + m];
            s += 2;
        } else {
            if (d >= zn) goto truncated;
            dst[s++] = z[d++];
        }
        while (p + 1 < s) {
            aa[dst[p] ^ dst[p + 1]] = (uint32_t)p;
            p++;
        }
        if (f & i) {
            s += n;
            p = s;
        }
        i = (i * 2) & 0xff;
    }
    memcpy(dst, z, 8);
    dst[2] = 0;
    sto32(dst + 4, (uint32_t)usize, be);
    *out = dst;
    *outlen = usize;
    return 0;
truncated:
    free(dst);
    return err_set(err, -EBADMSG, "compressed message ends after %zu bytes, output has %zu of %zu bytes", zn, s, usize);
}
