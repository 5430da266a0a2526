/* core/buf.c: see buf.h. */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : BUF_MAX_DEFAULT;
}

void buf_release(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

uint8_t *buf_take(struct buf *b, size_t *len)
{
    uint8_t *p = b->p;
    if (len) *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

int buf_reserve(struct buf *b, size_t more)
{
    if (more > b->max || b->len > b->max - more) return -E2BIG;
    size_t need = b->len + more;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max) cap = b->max;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0) return 0;
    int rc = buf_reserve(b, n);
    if (rc < 0) return rc;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_append_zero(struct buf *b, size_t n)
{
    if (n == 0) return 0;
    int rc = buf_reserve(b, n);
    if (rc < 0) return rc;
    memset(b->p + b->len, 0, n);
    b->len += n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    int rc = buf_reserve(b, (size_t)n + 1);
    if (rc < 0) return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int buf_put_u8(struct buf *b, uint8_t v) { return buf_append(b, &v, 1); }

int buf_put_u32(struct buf *b, uint32_t v)
{
    uint8_t t[4];
    st32(t, v);
    return buf_append(b, t, 4);
}

int buf_put_u64(struct buf *b, uint64_t v)
{
    uint8_t t[8];
    st64(t, v);
    return buf_append(b, t, 8);
}
