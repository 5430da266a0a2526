/* ipc/ipc_msg.h: q IPC messages on the wire (kdb-formats §5.2, §5.6): the 8-byte
 * header, the body (core/k_ser) and kdb+'s compression (core/qzip).
 *   byte 0  1 little-endian, 0 big-endian       byte 2  1 compressed, else 0
 *   byte 1  0 async, 1 sync, 2 response          byte 3  0
 *   4..7    total length including the header, uint32 in the message's byte order
 * Owns:    nothing beyond the buffers it returns.
 * Never:   trusts a length before checking it against the bytes and the limit.
 * Threads: reentrant.
 * Errors:  0 or -errno with *err filled (-EPROTO: not a q IPC message; -EMSGSIZE:
 *          over the limit; -EBADMSG: a body that does not decode). */
#ifndef SMFS_IPC_MSG_H
#define SMFS_IPC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/k.h"

#define IPC_HDR          8
#define IPC_ZIP_MIN      2000                  /* kdb+ compresses messages over 2000 bytes */
#define IPC_MAX_MSG_DFLT ((size_t)256 << 20)   /* 256 MiB; the wire allows up to 2 GiB - 1 */
#define IPC_CAP          3                     /* the capability we speak (V3.0: guids) */

enum ipc_type { IPC_ASYNC = 0, IPC_SYNC = 1, IPC_RESPONSE = 2 };

struct ipc_hdr {
    bool     big_endian;
    uint8_t  type;        /* enum ipc_type */
    bool     compressed;
    uint32_t len;         /* whole message, header included */
};

/* Check and read an 8-byte header. MAX bounds len (and, for a compressed message,
 * nothing yet: the uncompressed length is checked by ipc_decode). */
int ipc_hdr_parse(const uint8_t h[IPC_HDR], size_t max, struct ipc_hdr *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Append the message for X of TYPE to OUT (little-endian). COMPRESS: compress as
 * kdb+ does when the message is over IPC_ZIP_MIN bytes and shrinks under half;
 * callers pass it only for a remote TCP peer with capability >= 1. */
int ipc_encode(const struct k *x, enum ipc_type type, bool compress, struct buf *out,
               struct smfs_err *err) __attribute__((warn_unused_result));

/* A Unix-socket or loopback peer (127/8, ::1, v4-mapped 127/8): kdb+ does not
 * compress messages to it. */
struct sockaddr;
bool ipc_peer_local(const struct sockaddr *a);

/* Decode the whole message MSG[0..n) (header included; decompressed if need be, the
 * uncompressed length bounded by MAX). *out is the body; *type the message type. What
 * the body may take in memory decoded is bounded too: IPC_DECODE_FACTOR x MAX, or
 * MAX_MEM with ipc_decode_within; over it, -E2BIG before the memory is taken (a
 * compressed list of a million (::) is a few KB on the wire). */
#define IPC_DECODE_FACTOR 4
int ipc_decode(const uint8_t *msg, size_t n, size_t max, struct k **out, enum ipc_type *type,
               struct smfs_err *err) __attribute__((warn_unused_result));
int ipc_decode_within(const uint8_t *msg, size_t n, size_t max, uint64_t max_mem, struct k **out,
                      enum ipc_type *type, struct smfs_err *err) __attribute__((warn_unused_result));

#endif
