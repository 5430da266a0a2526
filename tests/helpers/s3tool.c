/* tests/helpers/s3tool.c: core/s3 driven from a shell, so the tests can hold it against
 * a real S3 server (s3rver) and an independent client (awscli). Configuration from the
 * usual AWS variables (s3_conf_env).
 *   s3tool put BUCKET KEY FILE       prints the verified ETag
 *   s3tool get BUCKET KEY [OFF LEN]  the bytes to stdout
 *   s3tool head BUCKET KEY           "SIZE ETAG"
 *   s3tool ls BUCKET PREFIX          "KEY SIZE ETAG" per line
 *   s3tool rm BUCKET KEY
 *   s3tool etag FILE                 the ETag s3_put would get
 * Then "requests N retries M" on stderr. Exit 0, 1 with the error (3 for -ENOENT). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "core/fileio.h"
#include "core/s3.h"

static int print_obj(void *arg, const struct s3_obj *o)
{
    (void)arg;
    printf("%s %" PRIu64 " %s\n", o->key, o->size, o->etag);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: s3tool put|get|head|ls|rm BUCKET KEY [FILE|OFF LEN] | etag FILE\n");
        return 2;
    }
    fault_arm_env();
    struct smfs_err err = {0};
    struct s3_conf c;
    struct s3 *s = NULL;
    if (s3_conf_env(&c, &err) || s3_open(&c, strcmp(argv[1], "etag") ? argv[2] : "local", &s, &err)) {
        fprintf(stderr, "s3tool: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    const char *cmd = argv[1];
    struct file_map fm = {0};
    if (!strcmp(cmd, "etag")) {
        char e[S3_ETAG_MAX];
        rc = file_map(argv[2], &fm, &err);
        if (!rc) {
            s3_etag(s, fm.p, fm.len, e);
            printf("%s\n", e);
        }
    } else if (argc < 4) {
        fprintf(stderr, "s3tool: %s needs a key\n", cmd);
        rc = -EINVAL;
        snprintf(err.msg, sizeof err.msg, "usage");
    } else if (!strcmp(cmd, "put") && argc == 5) {
        char e[S3_ETAG_MAX];
        rc = file_map(argv[4], &fm, &err);
        if (!rc) rc = s3_put(s, argv[3], fm.p, fm.len, e, &err);
        if (!rc) printf("%s\n", e);
    } else if (!strcmp(cmd, "get")) {
        struct buf b;
        buf_init(&b, BUF_MAX_DEFAULT);
        uint64_t off = argc > 5 ? strtoull(argv[4], NULL, 10) : 0, len = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
        rc = s3_get(s, argv[3], off, len, &b, &err);
        if (!rc && b.len) fwrite(b.p, 1, b.len, stdout);
        buf_release(&b);
    } else if (!strcmp(cmd, "head")) {
        struct s3_obj o;
        rc = s3_head(s, argv[3], &o, &err);
        if (!rc) printf("%" PRIu64 " %s\n", o.size, o.etag);
    } else if (!strcmp(cmd, "ls")) {
        rc = s3_list(s, argv[3], print_obj, NULL, &err);
    } else if (!strcmp(cmd, "rm")) {
        rc = s3_delete(s, argv[3], &err);
    } else {
        fprintf(stderr, "s3tool: unknown command or arguments: %s\n", cmd);
        rc = -EINVAL;
        snprintf(err.msg, sizeof err.msg, "usage");
    }
    file_unmap(&fm);
    struct s3_stats st;
    s3_stats(s, &st);
    fprintf(stderr, "requests %" PRIu64 " retries %" PRIu64 "\n", st.requests, st.retries);
    s3_close(s);
    if (rc) fprintf(stderr, "s3tool: %s\n", err.msg);
    return rc == -ENOENT ? 3 : rc ? 1 : 0;
}
