/* fuzz_qcall: arbitrary text as a call a q user sends (h"f[…]"); whatever parses must
 * render, and every refusal must carry a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/k_fmt.h"
#include "core/qcall.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    struct smfs_err e = {0};
    char *name = NULL;
    struct k *args = NULL;
    if (qcall_parse((const char *)p, n, &name, &args, &e) == 0) {
        if (!name || !args || args->t != KT_LIST || args->n < 1) __builtin_trap();
        struct buf b;
        buf_init(&b, 1 << 20);
        (void)k_fmt(args, 20, &b);
        buf_release(&b);
        k_free(args);
        free(name);
    } else if (!e.msg[0] || name || args) {
        __builtin_trap();
    }
    return 0;
}
