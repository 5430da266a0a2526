/* tools/smctl_gen.c: `smctl gen-hdb DIR --days N --rows R [--tables trade,quote]
 * [--seed S] [--start YYYY.MM.DD] [--compress ALG[:BLOCKLOG2[:LEVEL]]] [--kdb4]`. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/gen.h"
#include "core/k_fmt.h"
#include "tools/smctl.h"
#include "tools/smctl_progress.h"

#include <jansson.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: smctl gen-hdb DIR --days N --rows R [options]\n"
               "  Write a deterministic date-partitioned HDB (weekdays from --start): a sym domain,\n"
               "  tables trade and quote sorted by sym, with timestamps, floats, longs, chars and a\n"
               "  string column.\n"
               "  --days N            partitions (1..%d)\n"
               "  --rows R            rows per table per partition\n"
               "  --tables LIST       comma list of trade, quote and NAME:N (a wide table of N\n"
               "                      columns: sym, time, then floats and longs); default\n"
               "                      trade,quote\n"
               "  --seed S            random seed (default 1): same seed, same bytes\n"
               "  --start DATE        first date, YYYY.MM.DD (default 2024.01.02)\n"
               "  --compress SPEC     ALG[:BLOCKLOG2[:LEVEL]], ALG one of qipc gzip snappy lz4hc zstd\n"
               "                      (default block 17, level gzip 6 / lz4hc 9 / zstd 3)\n"
               "  --kdb4              header counts 0 as kdb+ 4.x writes them (default: true counts)\n"
               "  --json              the summary as one JSON object; progress as JSON lines on stderr\n",
               GEN_MAX_DAYS);
}

static void gen_progress(void *arg, int done, int total, uint64_t bytes)
{
    progress_show(arg, "gen-hdb", NULL, (uint64_t)done, (uint64_t)total, "partitions", bytes, 0);
}

static bool parse_zip(const char *spec, struct kdb_zparams *zp)
{
    char alg[16] = "";
    int blk = 17, lvl = -100;
    int n = sscanf(spec, "%15[a-z0-9]:%d:%d", alg, &blk, &lvl);
    if (n < 1) return false;
    zp->block_log2 = blk;
    for (int a = 1; a <= KDB_ZIP_ZSTD; a++)
        if (!strcmp(alg, kdb_zip_alg_name(a))) zp->alg = a;
    if (!zp->alg) return false;
    if (lvl == -100) lvl = zp->alg == KDB_ZIP_GZIP ? 6 : zp->alg == KDB_ZIP_LZ4HC ? 9 : zp->alg == KDB_ZIP_ZSTD ? 3 : 0;
    zp->level = lvl;
    return true;
}

int smctl_gen_hdb(int argc, char **argv)
{
    struct gen_opts o;
    gen_defaults(&o);
    static const struct option opts[] = {
        { "days", required_argument, NULL, 'd' }, { "rows", required_argument, NULL, 'r' },
        { "tables", required_argument, NULL, 't' }, { "seed", required_argument, NULL, 's' },
        { "start", required_argument, NULL, 'a' }, { "compress", required_argument, NULL, 'z' },
        { "kdb4", no_argument, NULL, '4' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    bool json = false;
    int64_t days = -1, rows = -1, seed;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (!smctl_i64_arg(optarg, 1, GEN_MAX_DAYS, "gen-hdb: --days", &days)) return 2;
            break;
        case 'r':
            if (!smctl_i64_arg(optarg, 0, GEN_MAX_ROWS, "gen-hdb: --rows", &rows)) return 2;
            break;
        case 't': o.tables = optarg; break;
        case 's':
            if (!smctl_i64_arg(optarg, INT64_MIN, INT64_MAX, "gen-hdb: --seed", &seed)) return 2;
            o.seed = (uint64_t)seed;
            break;
        case 'a':
            if (!k_parse_date(optarg, &o.start)) {
                smctl_errf("gen-hdb: --start wants a date YYYY.MM.DD, got '%s'", optarg);
                return 2;
            }
            break;
        case 'z':
            if (!parse_zip(optarg, &o.zip)) {
                smctl_errf("gen-hdb: --compress wants ALG[:BLOCKLOG2[:LEVEL]] with ALG one of qipc gzip snappy lz4hc zstd, got '%s'",
                           optarg);
                return 2;
            }
            break;
        case '4': o.enc_flags |= KDB_ENC_ZERO_COUNT; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || days < 0 || rows < 0) {
        if (optind != argc - 1) smctl_errf("gen-hdb: give exactly one directory");
        else smctl_errf("gen-hdb: --days and --rows are required");
        usage(stderr);
        return 2;
    }
    o.dir = argv[optind];
    o.days = (int)days;
    o.rows = rows;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct gen_stats st = { 0 };
    struct smfs_err err = { 0 };
    struct progress pr;
    progress_init(&pr, "gen-hdb", json);
    o.progress = gen_progress;
    o.arg = &pr;
    int rc = gen_hdb(&o, &st, &err);
    progress_end(&pr);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (json) {
        json_t *j = json_pack("{s:b,s:s,s:i,s:i,s:I,s:I,s:I,s:I,s:f}", "ok", rc == 0, "dir", o.dir,
                              "partitions", st.partitions, "tables", st.tables, "rows", (json_int_t)o.rows,
                              "symbols", (json_int_t)st.symbols, "files", (json_int_t)st.files,
                              "bytes", (json_int_t)st.bytes, "elapsed_s", secs);
        if (rc) json_object_set_new(j, "error", json_string(err.msg));
        char *t = json_dumps(j, JSON_INDENT(2));
        if (t) printf("%s\n", t);
        free(t);
        json_decref(j);
        return rc ? 1 : 0;
    }
    if (rc < 0) {
        smctl_errf("%s", err.msg);
        return 1;
    }
    printf("gen-hdb: %s: %d partitions x %d tables x %" PRId64 " rows, %" PRId64 " symbols, %" PRIu64
           " files, %.1f MB in %.2f s\n", o.dir, st.partitions, st.tables, o.rows, st.symbols, st.files,
           (double)st.bytes / 1e6, secs);
    return 0;
}
