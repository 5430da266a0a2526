/* ipc/ipc_msg.c: header, encode (with kdb+'s compression rule), decode. */
#include "ipc/ipc_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#include "core/k_ser.h"
#include "core/qzip.h"

static uint32_t rd32(const uint8_t *p, bool be)
{
    return be ? __builtin_bswap32(le32(p)) : le32(p);
}

int ipc_hdr_parse(const uint8_t h[IPC_HDR], size_t max, struct ipc_hdr *out, struct smfs_err *err)
{
    if (h[0] > 1 || h[1] > 2 || h[2] > 1 || h[3] != 0)
        return err_set(err, -EPROTO, "not a q IPC message header (bytes %02x %02x %02x %02x)", h[0],
                       h[1], h[2], h[3]);
    out->big_endian = h[0] == 0;
    out->type = h[1];
    out->compressed = h[2] == 1;
    out->len = rd32(h + 4, out->big_endian);
    /* The smallest body is one byte (a type); a compressed one has its 4-byte length. */
    if (out->len < IPC_HDR + (out->compressed ? 5u : 1u))
        return err_set(err, -EPROTO, "q IPC message length %u is shorter than its header", out->len);
    if (out->len > max)
        return err_set(err, -EMSGSIZE, "q IPC message of %u bytes is over the limit of %zu", out->len, max);
    return 0;
}

int ipc_encode(const struct k *x, enum ipc_type type, bool compress, struct buf *out,
               struct smfs_err *err)
{
    struct buf m;
    buf_init(&m, (size_t)UINT32_MAX);
    uint8_t h[IPC_HDR] = {1, (uint8_t)type, 0, 0, 0, 0, 0, 0};
    int rc = buf_append(&m, h, sizeof h);
    if (rc == 0) rc = k_serialize(x, &m, err);
    else err_set(err, rc, "q IPC message: out of memory");
    if (rc) goto out;
    if (m.len > UINT32_MAX) {
        rc = err_set(err, -EMSGSIZE, "q IPC message of %zu bytes does not fit the 4 GiB wire limit", m.len);
        goto out;
    }
    st32(m.p + 4, (uint32_t)m.len);
    if (compress && m.len > IPC_ZIP_MIN) {
        rc = qzip_compress(m.p, m.len, out);
        if (rc == 0) goto out;
        if (rc < 0) {
            err_set(err, rc, "q IPC message: compressing %zu bytes: out of memory", m.len);
            goto out;
        }
    }
    rc = buf_append(out, m.p, m.len);   /* not worth compressing: as is */
    if (rc) err_set(err, rc, "q IPC message of %zu bytes: out of memory", m.len);
out:
    buf_release(&m);
    return rc;
}

int ipc_decode(const uint8_t *msg, size_t n, size_t max, struct k **out, enum ipc_type *type,
               struct smfs_err *err)
{
    return ipc_decode_within(msg, n, max, (uint64_t)max * IPC_DECODE_FACTOR, out, type, err);
}

int ipc_decode_within(const uint8_t *msg, size_t n, size_t max, uint64_t max_mem, struct k **out,
                      enum ipc_type *type, struct smfs_err *err)
{
    struct ipc_hdr h;
    *out = NULL;
    if (n < IPC_HDR) return err_set(err, -EPROTO, "q IPC message of %zu bytes is shorter than its header", n);
    int rc = ipc_hdr_parse(msg, max, &h, err);
    if (rc) return rc;
    if (h.len != n)
        return err_set(err, -EPROTO, "q IPC header says %u bytes, the message has %zu", h.len, n);
    *type = (enum ipc_type)h.type;
    uint8_t *plain = NULL;
    size_t plen = n;
    if (h.compressed) {
        rc = qzip_decompress(msg, n, max, &plain, &plen, err);
        if (rc) return rc;
        msg = plain;
    }
    size_t used = 0;
    rc = k_deserialize_within(msg + IPC_HDR, plen - IPC_HDR, h.big_endian, max_mem, out, &used, err);
    if (rc == 0 && used != plen - IPC_HDR) {
        rc = err_set(err, -EBADMSG, "q IPC body has %zu bytes after its object", plen - IPC_HDR - used);
        k_free(*out);
        *out = NULL;
    }
    free(plain);
    return rc;
}

bool ipc_peer_local(const struct sockaddr *a)
{
    if (a->sa_family == AF_UNIX) return true;
    if (a->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->sa_family == AF_INET6) {
        const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(x) || (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
    }
    return false;
}
