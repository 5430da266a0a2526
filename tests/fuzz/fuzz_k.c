/* fuzz_k: arbitrary bytes as a q IPC body (both byte orders) and as a compressed IPC
 * message; anything decoded must re-serialize and render without fault. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/k_fmt.h"
#include "core/k_ser.h"
#include "core/qzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    struct smfs_err e;
    for (int be = 0; be < 2; be++) {
        struct k *x = NULL;
        if (k_deserialize(p, n, be, &x, NULL, &e) == 0) {
            struct buf b;
            buf_init(&b, 0);
            if (k_serialize(x, &b, &e) == 0 && !be) {
                struct k *y = NULL;
                if (k_deserialize(b.p, b.len, false, &y, NULL, &e) != 0 || !k_equal(x, y)) __builtin_trap();
                k_free(y);
            }
            b.len = 0;
            (void)k_fmt(x, 20, &b);
            buf_release(&b);
            k_free(x);
        }
    }
    uint8_t *out = NULL;
    size_t outn;
    if (qzip_decompress(p, n, 1 << 20, &out, &outn, &e) == 0) free(out);
    return 0;
}
