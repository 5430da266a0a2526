/* core/ckd.h: checked integer arithmetic for sizes and counts that come from a file or
 * the wire. Every such number goes through these before it sizes an allocation, an mmap
 * or a read; a true return means "overflowed", as C23's ckd_* do.
 * Never: allocates or reports; callers turn an overflow into a message naming the input. */
#ifndef SMFS_CKD_H
#define SMFS_CKD_H

#include <stdbool.h>
#include <stdint.h>

static inline bool ckd_add_u64(uint64_t *r, uint64_t a, uint64_t b)
{
    return __builtin_add_overflow(a, b, r);
}

static inline bool ckd_mul_u64(uint64_t *r, uint64_t a, uint64_t b)
{
    return __builtin_mul_overflow(a, b, r);
}

/* r = a * w + b, all unsigned. */
static inline bool ckd_muladd_u64(uint64_t *r, uint64_t a, uint64_t w, uint64_t b)
{
    uint64_t t;
    return __builtin_mul_overflow(a, w, &t) || __builtin_add_overflow(t, b, r);
}

#endif
