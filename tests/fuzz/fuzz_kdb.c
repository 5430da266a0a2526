/* fuzz_kdb: arbitrary bytes as a kdb+ file (probe, decode, kxzipped trailer and blocks,
 * nested column with itself as heap) must never crash, leak or overrun. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/kdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    struct smfs_err e;
    struct kdb_info in;
    struct k *x = NULL;
    if (n >= 8 && memcmp(p, KDB_ZIP_MAGIC, 8) == 0) {
        struct kdb_zinfo zi;
        if (kdb_zip_info(p, n, "fuzz", &zi, &e) == 0 && zi.ulen < (64u << 20)) {
            struct buf b;
            buf_init(&b, 64u << 20);
            if (kdb_unzip_blocks(p, n, &zi, 0, zi.nblocks, "fuzz", &b, &e) == 0 &&
                kdb_decode(b.p, b.len, "fuzz", &x, &e) == 0)
                k_free(x);
            buf_release(&b);
        }
        return 0;
    }
    (void)kdb_probe(p, n, "fuzz", &in, &e);
    if (kdb_decode(p, n, "fuzz", &x, &e) == 0) {
        struct buf b;
        buf_init(&b, 0);
        if (kdb_encode(x, 0, &b, &e) == 0 && b.len == 0) __builtin_trap();
        buf_release(&b);
        k_free(x);
    }
    if (kdb_decode_nested(p, n, p, n, "fuzz", &x, &e) == 0) k_free(x);
    return 0;
}
