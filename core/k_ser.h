/* core/k_ser.h: the q serialization of a K object, i.e. a q IPC message body (what
 * follows the 8-byte message header) and the payload of a kdb+ `ff01` file.
 * Owns:    nothing beyond the objects it returns.
 * Never:   allocates before checking a count against the bytes left; recurses deeper
 *          than K_SER_MAX_DEPTH; crashes on any input (tests/fuzz/fuzz_k.c).
 * Threads: reentrant.
 * Errors:  0 or -errno; *err names the offset and what was wrong. */
#ifndef SMFS_K_SER_H
#define SMFS_K_SER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "k.h"

#define K_SER_MAX_DEPTH 200   /* nesting of lists/dicts/tables in one object */

/* Append the little-endian serialization of x to out. -EINVAL for values kdb+ cannot
 * serialize (dynamic loads, enums, function bytes received big-endian). */
int k_serialize(const struct k *x, struct buf *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Bytes k_serialize would write, or -EINVAL. */
int64_t k_ser_size(const struct k *x);

/* Decode one object from p[0..len). BIG_ENDIAN is the byte order of the message
 * (header byte 0 == 0). On success *out is the caller's (k_free) and *used the bytes
 * consumed, which may be less than len. */
int k_deserialize(const uint8_t *p, size_t len, bool big_endian, struct k **out,
                  size_t *used, struct smfs_err *err) __attribute__((warn_unused_result));
/* Decode the little-endian object at the start of P[0..len), a stream of objects back
 * to back (a journal): -ENODATA when the bytes end before the object does (a prefix
 * of more to come, or a torn tail), -EBADMSG when they cannot be an object at all. */
int k_deserialize_prefix(const uint8_t *p, size_t len, struct k **out, size_t *used, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* k_deserialize that refuses, with -E2BIG and before allocating it, an object that
 * would take more than MAX_MEM bytes decoded (every object counted at its struct and
 * allocator cost plus its data): what a peer's message may expand to. */
int k_deserialize_within(const uint8_t *p, size_t len, bool big_endian, uint64_t max_mem,
                         struct k **out, size_t *used, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
