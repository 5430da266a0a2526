/* core/kdb.h: kdb+ on-disk files, read and written exactly as kdb+ does
 * (reference/kdb-formats.md §1–3; tests against shared/golden/).
 *   ff01      serialized object: symbol lists (sym domains, .d), tables written whole…
 *   fe20      simple vector of one of the 18 fixed-width types (+ attribute byte)
 *   fd20      extended file, 4096-byte header: 64-bit enumeration (type 20, domain name
 *             in the header), nested-column index `col` (type 77) and heap `col#`
 *   fe+name   pre-3.6 32-bit enumeration (read only)
 *   kxzipped  any of the above compressed block by block (algorithms 0–5)
 * Owns:    the maps and buffers of a struct kdb_file until kdb_file_close.
 * Never:   returns a value it could not prove from the bytes (a truncated or foreign
 *          file is an error naming the file and what is wrong); writes u#/p#/g# index
 *          structures (their layout is not public: the writer refuses those attributes
 *          on mapped vectors rather than emit bytes kdb+ might misread).
 * Threads: reentrant; a struct kdb_file belongs to one thread.
 * Sequence: kdb_file_open → kdb_file_info / kdb_file_content → kdb_file_close;
 *          or kdb_load (whole file to a K object), kdb_save (K object to a file).
 * Errors:  0 or -errno; *err says what, where and why. */
#ifndef SMFS_KDB_H
#define SMFS_KDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "k.h"

#define KDB_DOMAIN_MAX   256        /* longest enumeration domain name we accept */
#define KDB_EXT_HDR      4096       /* fd20 files: data offset */
#define KDB_ZIP_MAGIC    "kxzipped"
#define KDB_MAX_LOAD     ((size_t)64 << 30)  /* refuse to decompress more than this */

enum kdb_fmt {
    KDB_FMT_OBJECT = 1,   /* ff01 */
    KDB_FMT_VECTOR,       /* fe20 */
    KDB_FMT_ENUM,         /* fd20, type 20 */
    KDB_FMT_ENUM32,       /* fe + domain name, pre-3.6 */
    KDB_FMT_ANYMAP,       /* fd20, type 77: index of a nested column (col) */
    KDB_FMT_HEAP,         /* fd20, type 4: data of a nested column (col#) */
};

/* Short names used by smctl inspect: "object", "vector", "enum", "enum32", "anymap",
 * "anymap-heap". Static strings. */
const char *kdb_fmt_name(enum kdb_fmt f);

/* Compression algorithms (file-compression parameters). */
enum { KDB_ZIP_NONE = 0, KDB_ZIP_QIPC = 1, KDB_ZIP_GZIP = 2, KDB_ZIP_SNAPPY = 3,
       KDB_ZIP_LZ4HC = 4, KDB_ZIP_ZSTD = 5 };
const char *kdb_zip_alg_name(int alg);   /* "qipc", "gzip"…; "unknown" */

struct kdb_zinfo {
    int      stamp;       /* trailer +0: 2 in files of kdb+ 3.x, 3 in 4.x */
    int      alg;         /* algorithm requested for the file (blocks may differ) */
    int      level;
    uint64_t block_size;  /* logical block size in bytes (2^12..2^20) */
    uint64_t nblocks;
    uint64_t ulen;        /* uncompressed length (what hcount reports) */
    uint64_t clen;        /* 8 + compressed bytes = offset of the trailer */
};

struct kdb_info {
    enum kdb_fmt fmt;
    int      type;        /* q type: 1..19 vectors, 11 symbol lists, 20 enums, 77 anymap
                             index, 4 heap; ff01 objects: their type (atoms < 0) */
    int      attr;        /* KA_* */
    int64_t  count;       /* items; derived from the size where the header says 0;
                             -1 for objects without a count (atoms, dicts) */
    int64_t  hdr_count;   /* the header's count as written */
    char     domain[KDB_DOMAIN_MAX];   /* enums: domain name; else "" */
    uint64_t data_off;    /* first item, in the uncompressed content */
    uint64_t data_len;    /* item bytes (fixed-width files), without index structures */
    uint64_t size;        /* uncompressed content length */
    uint64_t file_size;   /* bytes on disk */
    bool     compressed;
    struct kdb_zinfo z;   /* valid when compressed */
};

/* --- uncompressed content in memory ---------------------------------------- */

/* Identify P[0..len), the whole uncompressed content of a file, and check its claims
 * (counts against bytes). NAME (may be NULL) only labels error messages. */
int kdb_probe(const uint8_t *p, size_t len, const char *name, struct kdb_info *info,
              struct smfs_err *err) __attribute__((warn_unused_result));

/* The same from the first HAVE bytes of content LEN bytes long (HAVE >= 4096 unless
 * HAVE == LEN): enough for every family but ff01 objects, which need all of it. */
int kdb_probe_head(const uint8_t *p, size_t have, size_t len, const char *name,
                   struct kdb_info *info, struct smfs_err *err) __attribute__((warn_unused_result));

/* Decode content into a K object (caller frees): fe20 → vector, fd20/fe enums →
 * KT_ENUM vector with its domain, ff01 → the object (symbol lists are read to the end
 * of the file, whatever their header count says). Anymap indexes need their heap:
 * use kdb_decode_nested. Trailing u#/p#/g# index structures are skipped. */
int kdb_decode(const uint8_t *p, size_t len, const char *name, struct k **out,
               struct smfs_err *err) __attribute__((warn_unused_result));

/* kdb_decode for content already probed into *info (by kdb_probe of the same bytes):
 * saves the second probe. */
int kdb_decode_probed(const uint8_t *p, size_t len, const char *name, const struct kdb_info *info,
                      struct k **out, struct smfs_err *err) __attribute__((warn_unused_result));

/* Decode a nested column from its index (col) and heap (col#) contents into a
 * general list. Symbols inside items (col##) are not supported: -ENOTSUP. */
int kdb_decode_nested(const uint8_t *idx, size_t idxlen, const uint8_t *heap, size_t heaplen,
                      const char *name, struct k **out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Encoding flags. */
enum {
    KDB_ENC_ZERO_COUNT = 1 << 0,   /* header count 0 in attribute-free vectors, enums and
                                      symbol lists, as kdb+ 4.x writes them; the default
                                      writes the true count, as 3.x did (both load) */
};

/* Append the file bytes of x to OUT: simple vectors → fe20, KT_ENUM vectors → fd20
 * (with kdb_attr_encode's structure for u#, p#, g#), everything else → ff01. -ENOTSUP
 * for an attribute kdb_attr_supported refuses (u#/p#/g# on other vectors). */
int kdb_encode(const struct k *x, unsigned flags, struct buf *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* --- attributes (kdb_attr.c) ----------------------------------------------------- */

/* Whether kdb_attr_encode can write x's attribute (none and s# need nothing): 1, or 0
 * with WHY saying what the evidence does not cover. */
int kdb_attr_supported(const struct k *x, char *why, size_t n);
/* Append the structure kdb+ puts after the data of a u#/p#/g# enumeration (nothing for
 * none or s#). -ENOTSUP beyond what kdb+'s own files show, -EINVAL when the data
 * cannot carry the attribute (p# not parted, u# with repeats). */
int kdb_attr_encode(const struct k *x, struct buf *out, struct smfs_err *err)
        __attribute__((warn_unused_result));
/* Check the TL bytes after a decoded column's data against what its data implies:
 * -EBADMSG "corrupt p# column" when they disagree. Columns beyond the evidence pass. */
int kdb_attr_check(const struct k *x, const uint8_t *t, size_t tl, const char *name, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* The 16-byte header of an fe20 vector file of N items of simple type T: what
 * kdb_encode writes before the items (for a writer that puts the items itself). */
int kdb_vector_header(int8_t t, uint8_t attr, int64_t n, unsigned flags, struct buf *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Encode a general list of vectors/atoms of one simple type as a nested column:
 * index bytes to IDX, heap bytes to HEAP. */
int kdb_encode_nested(const struct k *list, struct buf *idx, struct buf *heap,
                      struct smfs_err *err) __attribute__((warn_unused_result));

/* The same, one item at a time: begin (headers; *BASE for the items), then each row's
 * N items of simple type T (a vector; N may be 0). */
int kdb_nested_begin(struct buf *idx, struct buf *heap, size_t *base, struct smfs_err *err)
        __attribute__((warn_unused_result));
int kdb_nested_item(struct buf *idx, struct buf *heap, size_t base, int8_t t, const void *items, int64_t n,
                    struct smfs_err *err) __attribute__((warn_unused_result));

/* --- compression ------------------------------------------------------------ */

struct kdb_zparams {
    int alg;              /* KDB_ZIP_* (1..5); 0 means "do not compress" */
    int block_log2;       /* 12..20 */
    int level;            /* gzip 0–9, lz4hc 0–16 (0 = default), zstd -7–22 */
};

/* Check params; -EINVAL with a message naming the bad value. */
int kdb_zparams_check(const struct kdb_zparams *zp, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Parse the trailer of a kxzipped file Z[0..zn). */
int kdb_zip_info(const uint8_t *z, size_t zn, const char *name, struct kdb_zinfo *zi,
                 struct smfs_err *err) __attribute__((warn_unused_result));

/* Decompress blocks [first, first+n) of Z into OUT (appended). */
int kdb_unzip_blocks(const uint8_t *z, size_t zn, const struct kdb_zinfo *zi, uint64_t first,
                     uint64_t n, const char *name, struct buf *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Compress RAW[0..n) into a kxzipped file appended to OUT. Blocks that do not shrink
 * are stored raw (algorithm 0), as kdb+ does. */
int kdb_zip(const uint8_t *raw, size_t n, const struct kdb_zparams *zp, struct buf *out,
            struct smfs_err *err) __attribute__((warn_unused_result));

/* --- files ------------------------------------------------------------------ */

struct kdb_file {
    char           *path;
    const uint8_t  *map;       /* the file as on disk */
    size_t          maplen;
    uint8_t        *raw;       /* decompressed content (compressed files), owned */
    size_t          rawlen;
    bool            compressed;
    struct kdb_zinfo z;
};

/* Map PATH and, if compressed, parse and check its trailer. */
int kdb_file_open(struct kdb_file *f, const char *path, struct smfs_err *err)
        __attribute__((warn_unused_result));
void kdb_file_close(struct kdb_file *f);

/* Probe the file. For compressed files only the first block is decompressed unless
 * the content is an ff01 object (which needs all of it to count). */
int kdb_file_info(struct kdb_file *f, struct kdb_info *info, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* The whole uncompressed content; borrowed from f, valid until kdb_file_close. */
int kdb_file_content(struct kdb_file *f, const uint8_t **p, size_t *len, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* The first min(N, count) items of a vector or enumeration file (fe20, fd20 enum,
 * 32-bit enum) as a K vector (caller frees), reading and decompressing only the bytes
 * and blocks that hold them: showing ten values of a 4 GB column costs one block.
 * IN is what kdb_file_info returned for F. Other families: -EINVAL. */
int kdb_file_head(struct kdb_file *f, const struct kdb_info *in, int64_t n, struct k **out,
                  struct smfs_err *err) __attribute__((warn_unused_result));

/* Load PATH as a K object (caller frees). An anymap index also loads PATH#. */
int kdb_load(const char *path, struct k **out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Write x as the kdb+ file PATH (and PATH# for a general list, always written as a
 * nested column), compressed when zp is
 * non-NULL with alg > 0. SYNC: make it durable before returning (see file_write). */
int kdb_save(const char *path, const struct k *x, unsigned flags, const struct kdb_zparams *zp,
             bool sync, struct smfs_err *err) __attribute__((warn_unused_result));

#endif
