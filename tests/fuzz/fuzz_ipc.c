/* fuzz_ipc: arbitrary bytes as a whole q IPC message (header, optional compression,
 * body) and as a message whose header is fixed up to be plausible, so the fuzzer
 * spends its time in the decompressor and the deserializer. Anything decoded must
 * re-encode and decode to an equal object. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc_msg.h"

static void one(const uint8_t *p, size_t n)
{
    struct smfs_err e;
    struct k *x = NULL;
    enum ipc_type t;
    if (ipc_decode(p, n, 1 << 24, &x, &t, &e) != 0) return;
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    if (ipc_encode(x, t, true, &b, &e) == 0) {
        struct k *y = NULL;
        enum ipc_type t2;
        if (ipc_decode(b.p, b.len, (size_t)1 << 30, &y, &t2, &e) != 0 || !k_equal(x, y) || t2 != t)
            __builtin_trap();
        k_free(y);
    }
    buf_release(&b);
    k_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    one(p, n);
    if (n < 2 || n > (1 << 20)) return 0;
    uint8_t *m = malloc(n + 8);
    if (!m) return 0;
    m[0] = p[0] & 1;
    m[1] = p[1] % 3;
    m[2] = (p[0] >> 1) & 1;
    m[3] = 0;
    uint32_t len = (uint32_t)(n + 6);
    if (m[0]) memcpy(m + 4, &len, 4);
    else { m[4] = len >> 24; m[5] = len >> 16; m[6] = len >> 8; m[7] = (uint8_t)len; }
    memcpy(m + 8, p + 2, n - 2);
    one(m, n + 6);
    free(m);
    return 0;
}
