/* core/kdb_zip.c: kxzipped compressed files (kdb-formats §3).
 *
 *   0          "kxzipped"
 *   8          blocks back to back, no prefixes; block i has length len_i
 *   8+C        trailer (40 + 8k bytes, k blocks):
 *              +0 stamp:i32 (2 in 3.x files, 3 in 4.x) | +4 alg:u8 | +5 level:u8 | +6 0:u16
 *              +8 ulen:i64 | +16 8+C:i64 | +24 block size in bytes:i64
 *              +32 k × (len_i:i32, alg_i:i32) | +32+8k k:i64
 * Every block but the last decompresses to exactly the block size. Readers dispatch
 * on alg_i, never on +4: kdb+ stores a block that did not shrink raw (alg_i = 0).
 * Block formats: 0 raw; 1 a whole compressed q IPC message of the block (core/qzip);
 * 2 a zlib stream (RFC 1950); 3 raw snappy; 4 an LZ4 block; 5 a zstd frame. */
#include "kdb.h"

#include <errno.h>
#include <inttypes.h>
#include <lz4.h>
#include <lz4hc.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "ckd.h"
#include "qzip.h"

#define TRAILER_FIXED 40
#define ZIP_STAMP     3     /* what kdb+ 4.x writes */

static const char *nm(const char *name) { return name ? name : "(buffer)"; }

const char *kdb_zip_alg_name(int alg)
{
    static const char *const names[] = { "none", "qipc", "gzip", "snappy", "lz4hc", "zstd" };
    return alg >= 0 && alg <= 5 ? names[alg] : "unknown";
}

int kdb_zparams_check(const struct kdb_zparams *zp, struct smfs_err *err)
{
    if (zp->alg < 0 || zp->alg > KDB_ZIP_ZSTD)
        return err_set(err, -EINVAL, "compression algorithm %d is unknown (0 none, 1 qipc, 2 gzip, 3 snappy, 4 lz4hc, 5 zstd)", zp->alg);
    if (zp->block_log2 < 12 || zp->block_log2 > 20)
        return err_set(err, -EINVAL, "compression block size 2^%d is out of range (2^12..2^20)", zp->block_log2);
    int lo = 0, hi = 0;
    switch (zp->alg) {
    case KDB_ZIP_GZIP: hi = 9; break;
    case KDB_ZIP_LZ4HC: hi = 16; break;
    case KDB_ZIP_ZSTD: lo = -7; hi = 22; break;
    default: break;
    }
    if (zp->level < lo || zp->level > hi)
        return err_set(err, -EINVAL, "compression level %d is out of range for %s (%d..%d)", zp->level,
                       kdb_zip_alg_name(zp->alg), lo, hi);
    return 0;
}

int kdb_zip_info(const uint8_t *z, size_t zn, const char *name, struct kdb_zinfo *zi,
                 struct smfs_err *err)
{
    memset(zi, 0, sizeof *zi);
    if (zn < 8 + TRAILER_FIXED || memcmp(z, KDB_ZIP_MAGIC, 8) != 0)
        return err_set(err, -EBADMSG, "'%s': not a kxzipped file or shorter than its %d-byte minimum (%zu bytes)",
                       nm(name), 8 + TRAILER_FIXED, zn);
    uint64_t k = le64(z + zn - 8);
    uint64_t tlen;
    if (k == 0 || ckd_muladd_u64(&tlen, k, 8, TRAILER_FIXED) || tlen > zn - 8)
        return err_set(err, -EBADMSG, "'%s': compressed trailer claims %" PRIu64 " blocks, file has %zu bytes",
                       nm(name), k, zn);
    const uint8_t *t = z + zn - tlen;
    zi->stamp = (int32_t)le32(t);
    zi->alg = t[4];
    zi->level = (int8_t)t[5];
    zi->ulen = le64(t + 8);
    zi->clen = le64(t + 16);
    zi->block_size = le64(t + 24);
    zi->nblocks = k;
    if (zi->clen != zn - tlen)
        return err_set(err, -EBADMSG, "'%s': trailer says compressed length %" PRIu64 ", file has %zu bytes before the trailer",
                       nm(name), zi->clen, zn - tlen);
    if (zi->block_size < 4096 || zi->block_size > (1u << 20) || (zi->block_size & (zi->block_size - 1)))
        return err_set(err, -EBADMSG, "'%s': block size %" PRIu64 " is not a power of two in 4096..1048576",
                       nm(name), zi->block_size);
    if ((zi->ulen + zi->block_size - 1) / zi->block_size != k)
        return err_set(err, -EBADMSG, "'%s': %" PRIu64 " uncompressed bytes in blocks of %" PRIu64 " need %" PRIu64
                       " blocks, trailer lists %" PRIu64, nm(name), zi->ulen, zi->block_size,
                       (zi->ulen + zi->block_size - 1) / zi->block_size, k);
    uint64_t sum = 8;
    for (uint64_t i = 0; i < k; i++) {
        uint32_t alg = le32(t + 32 + 8 * i + 4);
        if (alg > KDB_ZIP_ZSTD)
            return err_set(err, -EBADMSG, "'%s': block %" PRIu64 " uses unknown algorithm %u", nm(name), i, alg);
        sum += le32(t + 32 + 8 * i);
    }
    if (sum != zi->clen)
        return err_set(err, -EBADMSG, "'%s': block lengths add up to %" PRIu64 " bytes, trailer says %" PRIu64,
                       nm(name), sum - 8, zi->clen - 8);
    return 0;
}

/* Decompress one block of SRC[0..sl) with ALG into DST, exactly DL bytes. */
static int unzip_block(int alg, const uint8_t *src, size_t sl, uint8_t *dst, size_t dl,
                       const char *name, uint64_t blk, struct smfs_err *err)
{
    switch (alg) {
    case KDB_ZIP_NONE:
        if (sl != dl) break;
        memcpy(dst, src, dl);
        return 0;
    case KDB_ZIP_QIPC: {
        uint8_t *m = NULL;
        size_t ml = 0;
        int rc = qzip_decompress(src, sl, dl + 8, &m, &ml, err);
        if (rc < 0)
            return err_wrap(err, "'%s': block %" PRIu64 " (qipc)", nm(name), blk);
        bool ok = ml == dl + 8;
        if (ok) memcpy(dst, m + 8, dl);
        free(m);
        if (ok) return 0;
        break;
    }
    case KDB_ZIP_GZIP: {
        uLongf out = dl;
        int zr = uncompress(dst, &out, src, sl);
        if (zr != Z_OK || out != dl)
            return err_set(err, -EBADMSG, "'%s': block %" PRIu64 " (gzip): %s", nm(name), blk,
                           zr == Z_OK ? "wrong length" : zError(zr));
        return 0;
    }
    case KDB_ZIP_SNAPPY: {
        size_t out = dl;
        if (snappy_uncompress((const char *)src, sl, (char *)dst, &out) != SNAPPY_OK || out != dl) break;
        return 0;
    }
    case KDB_ZIP_LZ4HC: {
        if (sl > INT32_MAX || dl > INT32_MAX) break;
        int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)sl, (int)dl);
        if (r != (int)dl) break;
        return 0;
    }
    case KDB_ZIP_ZSTD: {
        size_t r = ZSTD_decompress(dst, dl, src, sl);
        if (ZSTD_isError(r))
            return err_set(err, -EBADMSG, "'%s': block %" PRIu64 " (zstd): %s", nm(name), blk, ZSTD_getErrorName(r));
        if (r != dl) break;
        return 0;
    }
    default:
        break;
    }
    return err_set(err, -EBADMSG, "'%s': block %" PRIu64 " (%s, %zu bytes) does not decompress to %zu bytes",
                   nm(name), blk, kdb_zip_alg_name(alg), sl, dl);
}

int kdb_unzip_blocks(const uint8_t *z, size_t zn, const struct kdb_zinfo *zi, uint64_t first,
                     uint64_t n, const char *name, struct buf *out, struct smfs_err *err)
{
    if (zi->clen + 40 + 8 * zi->nblocks > zn)   /* zi must describe this very buffer */
        return err_set(err, -EINVAL, "'%s': trailer info does not match a %zu-byte file", nm(name), zn);
    if (first > zi->nblocks || n > zi->nblocks - first)
        return err_set(err, -EINVAL, "'%s': blocks %" PRIu64 "..%" PRIu64 " requested, file has %" PRIu64,
                       nm(name), first, first + n, zi->nblocks);
    const uint8_t *t = z + zi->clen;
    uint64_t off = 8;
    for (uint64_t i = 0; i < first; i++) off += le32(t + 32 + 8 * i);
    for (uint64_t i = first; i < first + n; i++) {
        uint32_t bl = le32(t + 32 + 8 * i);
        int alg = (int)le32(t + 32 + 8 * i + 4);
        uint64_t dl = i + 1 < zi->nblocks ? zi->block_size : zi->ulen - i * zi->block_size;
        if (buf_reserve(out, (size_t)dl) < 0)
            return err_set(err, -ENOMEM, "'%s': out of memory for block %" PRIu64, nm(name), i);
        int rc = unzip_block(alg, z + off, bl, out->p + out->len, (size_t)dl, name, i, err);
        if (rc < 0) return rc;
        out->len += (size_t)dl;
        off += bl;
    }
    return 0;
}

/* Compress one block into OUT; returns the algorithm used (0 when stored raw). */
static int zip_block(const struct kdb_zparams *zp, const uint8_t *src, size_t sl, struct buf *out,
                     struct smfs_err *err)
{
    size_t start = out->len;
    size_t bound = 0;
    switch (zp->alg) {
    case KDB_ZIP_QIPC: bound = sl / 2 + 16; break;
    case KDB_ZIP_GZIP: bound = compressBound(sl); break;
    case KDB_ZIP_SNAPPY: bound = snappy_max_compressed_length(sl); break;
    case KDB_ZIP_LZ4HC: bound = (size_t)LZ4_compressBound((int)sl); break;
    case KDB_ZIP_ZSTD: bound = ZSTD_compressBound(sl); break;
    default: break;
    }
    if (buf_reserve(out, bound > sl ? bound : sl) < 0) return err_set(err, -ENOMEM, "compress: out of memory");
    uint8_t *dst = out->p + start;
    size_t got = 0;
    bool ok = false;
    switch (zp->alg) {
    case KDB_ZIP_QIPC: {
        /* Algorithm 1 blocks are whole compressed IPC messages of the block. */
        uint8_t *msg = malloc(sl + 8);
        if (!msg) return err_set(err, -ENOMEM, "compress: out of memory");
        msg[0] = 1; msg[1] = 0; msg[2] = 0; msg[3] = 0;
        st32(msg + 4, (uint32_t)(sl + 8));
        memcpy(msg + 8, src, sl);
        struct buf tmp;
        buf_init(&tmp, 0);
        int rc = qzip_compress(msg, sl + 8, &tmp);
        free(msg);
        if (rc < 0) {
            buf_release(&tmp);
            return err_set(err, rc, "compress: out of memory");
        }
        if (rc == 0 && tmp.len < sl) {
            memcpy(dst, tmp.p, tmp.len);
            got = tmp.len;
            ok = true;
        }
        buf_release(&tmp);
        break;
    }
    case KDB_ZIP_GZIP: {
        uLongf dl = bound;
        ok = compress2(dst, &dl, src, sl, zp->level) == Z_OK;
        got = dl;
        break;
    }
    case KDB_ZIP_SNAPPY: {
        size_t dl = bound;
        ok = snappy_compress((const char *)src, sl, (char *)dst, &dl) == SNAPPY_OK;
        got = dl;
        break;
    }
    case KDB_ZIP_LZ4HC: {
        int r = LZ4_compress_HC((const char *)src, (char *)dst, (int)sl, (int)bound, zp->level);
        ok = r > 0;
        got = ok ? (size_t)r : 0;
        break;
    }
    case KDB_ZIP_ZSTD: {
        size_t r = ZSTD_compress(dst, bound, src, sl, zp->level);
        ok = !ZSTD_isError(r);
        got = ok ? r : 0;
        break;
    }
    default:
        break;
    }
    if (ok && got < sl) {
        out->len = start + got;
        return zp->alg;
    }
    memcpy(dst, src, sl);   /* did not shrink: store raw, as kdb+ does */
    out->len = start + sl;
    return KDB_ZIP_NONE;
}

int kdb_zip(const uint8_t *raw, size_t n, const struct kdb_zparams *zp, struct buf *out,
            struct smfs_err *err)
{
    int rc = kdb_zparams_check(zp, err);
    if (rc < 0) return rc;
    if (zp->alg == KDB_ZIP_NONE)
        return err_set(err, -EINVAL, "compress: algorithm 0 means uncompressed; write the file as it is");
    if (n == 0)
        return err_set(err, -EINVAL, "compress: an empty file has no blocks; write it uncompressed");
    size_t bs = (size_t)1 << zp->block_log2;
    uint64_t k = (n + bs - 1) / bs;
    uint32_t *lens = calloc(k, 2 * sizeof(uint32_t));
    if (!lens) return err_set(err, -ENOMEM, "compress: out of memory");
    size_t start = out->len;
    if (buf_append(out, KDB_ZIP_MAGIC, 8) < 0) goto oom;
    for (uint64_t i = 0; i < k; i++) {
        size_t off = (size_t)i * bs;
        size_t sl = n - off < bs ? n - off : bs;
        size_t before = out->len;
        int alg = zip_block(zp, raw + off, sl, out, err);
        if (alg < 0) {
            rc = alg;
            goto fail;
        }
        lens[2 * i] = (uint32_t)(out->len - before);
        lens[2 * i + 1] = (uint32_t)alg;
    }
    uint64_t clen = out->len - start;
    uint8_t t[TRAILER_FIXED - 8] = { 0 };
    st32(t, ZIP_STAMP);
    t[4] = (uint8_t)zp->alg;
    t[5] = (uint8_t)zp->level;
    st64(t + 8, n);
    st64(t + 16, clen);
    st64(t + 24, bs);
    if (buf_append(out, t, sizeof t) < 0) goto oom;
    for (uint64_t i = 0; i < k; i++)
        if (buf_put_u32(out, lens[2 * i]) < 0 || buf_put_u32(out, lens[2 * i + 1]) < 0) goto oom;
    if (buf_put_u64(out, k) < 0) goto oom;
    free(lens);
    return 0;
oom:
    rc = err_set(err, -ENOMEM, "compress: out of memory for %zu bytes", n);
fail:
    out->len = start;
    free(lens);
    return rc;
}
