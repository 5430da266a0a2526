/* tests/helpers/kunzip.c: the content of a kdb+ file as kdb+ reads it: a kxzipped file
 * decompressed (core/kdb, checked against kdb+'s own compressed golden files), any
 * other file as it is. For comparing a migrated, recompressed partition with its source.
 *   kunzip FILE     the content to stdout; "zip ALG" on stderr when FILE was compressed
 * Exit 0, or 1 naming what is wrong with FILE. */
#include <stdio.h>
#include <unistd.h>

#include "core/kdb.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: kunzip FILE\n");
        return 2;
    }
    struct kdb_file f;
    struct smfs_err err;
    const uint8_t *p;
    size_t len;
    if (kdb_file_open(&f, argv[1], &err) || kdb_file_content(&f, &p, &len, &err)) {
        fprintf(stderr, "kunzip: %s\n", err.msg);
        return 1;
    }
    if (f.compressed) fprintf(stderr, "zip %s\n", kdb_zip_alg_name(f.z.alg));
    int rc = fwrite(p, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
    kdb_file_close(&f);
    return rc;
}
