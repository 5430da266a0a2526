/* tests/helpers/store_fixture.c: `store_fixture STORE SRC [KEY=VALUE…]` — commit the
 * tree SRC as a new version of STORE (created if absent, one tier), copying every
 * file, with KEY=VALUE pairs as the commit's metadata. For shell tests of
 * `smctl store` until import and ingest exist; honours SMFS_FAULT. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/store.h"

static struct store_tx *tx;
static size_t srclen;
static struct smfs_err err;
static int failed;

static int add(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type != FTW_F) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "store_fixture: open(%s): %s\n", path, strerror(errno));
        failed = 1;
        return 1;
    }
    int rc = store_tx_put_fd(tx, path + srclen + 1, fd, 0, &err);
    close(fd);
    if (rc < 0) {
        fprintf(stderr, "store_fixture: %s\n", err.msg);
        failed = 1;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: store_fixture STORE SRC [KEY=VALUE...]\n");
        return 2;
    }
    fault_arm_env();
    char p[4200];
    snprintf(p, sizeof p, "%s/STORE", argv[1]);
    if (access(p, F_OK) != 0) {
        struct store_tier t = { .name = "hdb" };
        if (store_create(argv[1], &t, 1, &err) < 0) {
            fprintf(stderr, "store_fixture: %s\n", err.msg);
            return 1;
        }
    }
    struct store *s;
    if (store_open(argv[1], NULL, &s, NULL, &err) < 0 || store_tx_begin(s, &tx, &err) < 0) {
        fprintf(stderr, "store_fixture: %s\n", err.msg);
        return 1;
    }
    srclen = strlen(argv[2]);
    while (srclen > 1 && argv[2][srclen - 1] == '/') srclen--;
    if (nftw(argv[2], add, 64, FTW_PHYS) != 0 && !failed) {
        fprintf(stderr, "store_fixture: nftw(%s): %s\n", argv[2], strerror(errno));
        failed = 1;
    }
    for (int i = 3; i < argc && !failed; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) continue;
        *eq = '\0';
        if (store_tx_set(tx, argv[i], eq + 1, &err) < 0) failed = 1;
    }
    uint64_t v = 0;
    if (failed) store_tx_abort(tx);
    else if (store_tx_commit(tx, &v, &err) < 0) {
        fprintf(stderr, "store_fixture: %s\n", err.msg);
        failed = 1;
    }
    store_close(s);
    if (!failed) printf("%llu\n", (unsigned long long)v);
    return failed;
}
