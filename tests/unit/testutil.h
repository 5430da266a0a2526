/* tests/unit/testutil.h: small helpers shared by the cmocka unit tests. */
#ifndef SMFS_TESTUTIL_H
#define SMFS_TESTUTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* Decode a hex string into a malloc'd buffer (test vectors are written in hex). */
static inline uint8_t *hex(const char *s, size_t *n)
{
    size_t len = strlen(s) / 2;
    uint8_t *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        p[i] = (uint8_t)v;
    }
    *n = len;
    return p;
}

/* The golden folder (../shared/golden unless $GOLDEN says otherwise), or NULL when
 * absent; tests that need it skip with a message. */
static inline const char *golden_dir(void)
{
    static char dir[4096];
    const char *g = getenv("GOLDEN");
    snprintf(dir, sizeof dir, "%s", g && *g ? g : "../shared/golden");
    return access(dir, R_OK) == 0 ? dir : NULL;
}

#define SKIP_WITHOUT_GOLDEN()                                                           \
    do {                                                                                \
        if (!golden_dir()) {                                                            \
            print_message("skipped: golden folder absent (set GOLDEN=…/shared/golden)\n"); \
            skip();                                                                     \
        }                                                                               \
    } while (0)

/* A fresh temporary directory per test binary; removed by the caller's rm -rf. */
static inline const char *test_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("SMFS_TEST_TMP");
        snprintf(dir, sizeof dir, "%s/unit.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            snprintf(dir, sizeof dir, "/tmp/smfs-unit.XXXXXX");
            if (!mkdtemp(dir)) abort();
        }
    }
    return dir;
}

#endif
