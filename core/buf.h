/* core/buf.h: a growable byte buffer with a hard maximum (curl's dynbuf).
 * Owns:    its heap block.
 * Never:   grows past max (the append fails with -E2BIG and the buffer is unchanged).
 * Threads: none; one owner.
 * Sequence: buf_init(b, max) → buf_append*… → buf_take (caller owns the bytes) or
 *          buf_release. A zero-initialised struct buf is NOT valid: call buf_init.
 * Errors:  appends return 0, -ENOMEM or -E2BIG. */
#ifndef SMFS_BUF_H
#define SMFS_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BUF_MAX_DEFAULT ((size_t)1 << 40)   /* 1 TiB: "no practical limit" for files */

struct buf {
    uint8_t *p;     /* NULL until the first append */
    size_t   len;
    size_t   cap;
    size_t   max;   /* hard limit on len */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);   /* frees; the buffer is empty and reusable */

/* Hand the bytes to the caller (free() them); the buffer is empty afterwards.
 * Returns NULL if nothing was ever appended. */
uint8_t *buf_take(struct buf *b, size_t *len);

int buf_reserve(struct buf *b, size_t more) __attribute__((warn_unused_result));
int buf_append(struct buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
int buf_append_zero(struct buf *b, size_t n) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3), warn_unused_result));

/* Little-endian fixed-width appends. */
int buf_put_u8(struct buf *b, uint8_t v) __attribute__((warn_unused_result));
int buf_put_u32(struct buf *b, uint32_t v) __attribute__((warn_unused_result));
int buf_put_u64(struct buf *b, uint64_t v) __attribute__((warn_unused_result));

/* Little-endian loads and stores on raw memory (unaligned-safe). */
static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}
static inline void st32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void st64(uint8_t *p, uint64_t v)
{
    st32(p, (uint32_t)v);
    st32(p + 4, (uint32_t)(v >> 32));
}

#endif
