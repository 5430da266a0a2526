/* fuzz_config: arbitrary bytes as an assembly file. Whatever loads (valid or with
 * errors) must format every diagnostic and, when valid, its par.txt, without fault. */
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    struct cfg *c = NULL;
    struct smfs_err e;
    int rc = cfg_parse("fuzz.yaml", (const char *)p, n, &c, &e);
    if (!c) return 0;
    if ((rc == 0) != (c->nerrors == 0)) __builtin_trap();
    char line[2048];
    for (size_t i = 0; i < c->ndiags; i++) cfg_diag_str(c, &c->diags[i], line, sizeof line);
    if (rc == 0) {
        struct buf b;
        buf_init(&b, 1 << 20);
        if (cfg_par_txt(c, 7, &b) != 0 || !c->hdb || !c->ndate) __builtin_trap();
        buf_release(&b);
    }
    cfg_free(c);
    return 0;
}
