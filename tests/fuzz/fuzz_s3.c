/* fuzz_s3: arbitrary bytes as an S3 server's listing answer (the XML a hostile or broken
 * endpoint could send): every entry handed on has a key; a refusal carries a message. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/s3.h"

static int each(void *arg, const struct s3_obj *o)
{
    (void)arg;
    if (!o->key || !o->key[0] || strlen(o->etag) >= S3_ETAG_MAX) __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    struct smfs_err e = {0};
    bool more;
    char token[2048];
    int rc = s3_list_parse(p, n, each, NULL, &more, token, sizeof token, &e);
    if (rc && !e.msg[0]) __builtin_trap();
    if (strlen(token) >= sizeof token) __builtin_trap();
    return 0;
}
