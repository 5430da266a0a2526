/* core/qzip.h: kdb+'s own LZ-style codec, used for compressed q IPC messages and for
 * `kxzipped` algorithm 1 blocks (kdb-formats §3.2, §5.6).
 * Owns:    nothing beyond the buffers it returns.
 * Never:   reads or writes outside the given buffers, whatever the input claims.
 * Threads: reentrant.
 * Format:  a compressed message is the original 8-byte header with byte 2 = 1 and
 *          bytes 4..7 = compressed total length, then the uncompressed total length
 *          (int32, including the 8-byte header), then the stream: a flag byte governs
 *          the next 8 items; a clear bit is one literal byte, a set bit is a 2-byte
 *          back-reference (hash slot of the pair, extra length 0..255). */
#ifndef SMFS_QZIP_H
#define SMFS_QZIP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* Compress the whole message MSG[0..n) (8-byte header included, little-endian
 * header). Appends the compressed message to OUT and returns 0, or returns 1 and
 * appends nothing when the result would not be under half of n (kdb+'s rule: then
 * the message goes uncompressed). -ENOMEM/-E2BIG from the buffer. */
int qzip_compress(const uint8_t *msg, size_t n, struct buf *out) __attribute__((warn_unused_result));

/* Decompress the compressed message Z[0..zn) (header included; its byte 0 gives the
 * byte order). *out receives a malloc'd message of the uncompressed length, whose
 * header is Z's with byte 2 = 0 and the length fixed; callers free it. The claimed
 * uncompressed length must be at most MAX. */
int qzip_decompress(const uint8_t *z, size_t zn, size_t max, uint8_t **out, size_t *outlen,
                    struct smfs_err *err) __attribute__((warn_unused_result));

#endif
