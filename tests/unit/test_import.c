/* tests/unit/test_import.c: initial import and batch ingest. Every validation error
 * with its exact text (and nothing changed); in-place import round trip with every
 * file byte-identical through the store and rollback restoring the tree exactly
 * (bytes, modes, mtimes, inodes of files); the golden kdb+ HDB; an injected failure
 * at every step rolled back; SIGKILL at every step resumed, and rolled back;
 * a copy import from another filesystem; ingest adding and replacing partitions with
 * new symbols re-mapped. */
#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <xxhash.h>

#include "core/config.h"
#include "core/fault.h"
#include "core/fileio.h"
#include "core/gen.h"
#include "core/import.h"
#include "core/k_fmt.h"
#include "core/kdb.h"
#include "core/store.h"

static char root[512];
static int seq;

/* ---- fixtures ---- */

static struct cfg *load_cfg(const char *yaml)
{
    struct cfg *c = NULL;
    struct smfs_err err;
    int rc = cfg_parse("test.yaml", yaml, strlen(yaml), &c, &err);
    if (rc < 0 && c)
        for (size_t i = 0; i < c->ndiags; i++) print_message("cfg: %s\n", c->diags[i].msg);
    assert_int_equal(rc, 0);
    return c;
}

/* The embedded default's tables with the HDB mount at BASE, and a second date tier
 * "slow" with its store at SLOW when not NULL. */
static struct cfg *cfg_with(const char *base, const char *slow, const char *more_tables)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    const char *d = cfg_default_yaml;
    const char *cut = strstr(d, "bus:");
    assert_int_equal(buf_printf(&b, "%.*s%s", (int)(cut - d), d, more_tables ? more_tables : ""), 0);
    assert_int_equal(buf_printf(&b,
        "bus:\n  stream: {protocol: tp, nodes: [\"localhost:5010\"]}\n"
        "mounts:\n  rdb: {type: stream, baseURI: none, partition: none}\n"
        "  hdb: {type: local, baseURI: \"file://%s\", partition: date}\n"
        "elements:\n  sm:\n    source: stream\n    tiers:\n"
        "      - {name: stream, mount: rdb}\n      - {name: hdb, mount: hdb}\n", base), 0);
    if (slow) assert_int_equal(buf_printf(&b, "      - {name: slow, mount: hdb, store: \"file://%s\"}\n", slow), 0);
    assert_int_equal(buf_append_zero(&b, 1), 0);
    struct cfg *c = load_cfg((const char *)b.p);
    buf_release(&b);
    return c;
}

static struct cfg *cfg_at(const char *base, const char *slow)
{
    return cfg_with(base, slow, NULL);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) print_message("command failed (%d): %s\n", rc, cmd);
    assert_int_equal(rc, 0);
}

/* Where the crash loops work: tmpfs when there is one. Each step creates and deletes
 * a store's 256 fan-out directories, and ext4's mkdir slows down badly right after
 * many deletions (recently_deleted), which would make these loops take minutes. */
static char fast[512];

/* A new HDB mount: BASE, with a generated HDB in BASE/data; and a pristine copy. */
static void new_hdb_in(const char *dir, char *base, size_t n, int days, int64_t rows);
static void new_hdb(char *base, size_t n, int days, int64_t rows)
{
    new_hdb_in(root, base, n, days, rows);
}

static void new_hdb_in(const char *dir, char *base, size_t n, int days, int64_t rows)
{
    snprintf(base, n, "%s/m%d", dir, ++seq);
    char data[700];
    snprintf(data, sizeof data, "%s/data", base);
    struct gen_opts o;
    gen_defaults(&o);
    o.dir = data;
    o.days = days;
    o.rows = rows;
    struct gen_stats st;
    struct smfs_err err;
    assert_int_equal(gen_hdb(&o, &st, &err), 0);
    sh("cp -a '%s' '%s/orig'", data, base);
}

/* ---- what a tree is ---- */

static struct buf *walk_out;
static size_t walk_skip;

static int walk_one(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)f;
    const char *rel = p + walk_skip;
    if (!*rel) rel = "/.";
    uint64_t h = 0;
    if (type == FTW_F) {
        struct file_map m;
        struct smfs_err err;
        if (file_map(p, &m, &err) == 0) {
            h = XXH3_64bits(m.p, m.len);
            file_unmap(&m);
        }
    }
    return buf_printf(walk_out, "%s %o %lld %lld.%09ld %016llx%s\n", rel, (unsigned)sb->st_mode,
                      type == FTW_F ? (long long)sb->st_size : 0LL, (long long)sb->st_mtim.tv_sec,
                      type == FTW_F || type == FTW_DP ? sb->st_mtim.tv_nsec : 0, (unsigned long long)h,
                      type == FTW_F && sb->st_nlink != 1 ? " linked" : "");
}

static int ino_one(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)f;
    if (type != FTW_F) return 0;
    return buf_printf(walk_out, "%s %llu\n", p + walk_skip, (unsigned long long)sb->st_ino);
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What FN writes for every name under DIR (nftw with FLAGS), its lines sorted: two
 * walks agree when these strings do, whatever order readdir gave. */
static char *walk_sorted(const char *dir, int (*fn)(const char *, const struct stat *, int, struct FTW *),
                         int flags)
{
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    walk_out = &b;
    walk_skip = strlen(dir);
    assert_int_equal(nftw(dir, fn, 32, flags), 0);
    assert_int_equal(buf_append_zero(&b, 1), 0);
    size_t n = 0, i = 0;
    for (const uint8_t *q = b.p; *q; q++) n += *q == '\n';
    char **lines = malloc((n + 1) * sizeof *lines);
    for (char *l = strtok((char *)b.p, "\n"); l; l = strtok(NULL, "\n")) lines[i++] = l;
    qsort(lines, i, sizeof *lines, cmp_line);
    struct buf o;
    buf_init(&o, (size_t)1 << 30);
    for (size_t k = 0; k < i; k++) assert_int_equal(buf_printf(&o, "%s\n", lines[k]), 0);
    assert_int_equal(buf_append_zero(&o, 1), 0);
    free(lines);
    buf_release(&b);
    return (char *)buf_take(&o, &n);
}

/* Every file under DIR with its inode number: rollback hands back the very same file
 * inodes. */
static char *file_inodes(const char *dir)
{
    return walk_sorted(dir, ino_one, FTW_PHYS);
}

/* Every name under DIR with mode, size, mtime and a hash of the bytes (directories'
 * times included): two trees are the same when these strings are. */
static char *tree(const char *dir)
{
    return walk_sorted(dir, walk_one, FTW_PHYS | FTW_DEPTH);
}

static void same_tree(const char *a, const char *b)
{
    char *x = tree(a), *y = tree(b);
    if (strcmp(x, y)) print_message("trees differ:\n--- %s\n%s--- %s\n%s", a, x, b, y);
    assert_string_equal(x, y);
    free(x);
    free(y);
}

/* Every file of ORIG (a partitioned HDB) is in the store at HOME, byte for byte. */
static int check_file(const char *p, const struct stat *sb, int type, struct FTW *f);
static struct store_snap *chk_snap;
static struct store *chk_store;
static size_t chk_skip, chk_files;
static const char *chk_seg;

static int check_file(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)sb, (void)f;
    if (type != FTW_F) return 0;
    const char *rel = p + chk_skip + 1;
    char path[1024];
    int32_t day;
    char first[16];
    snprintf(first, sizeof first, "%.10s", rel);
    if (k_parse_date(first, &day)) snprintf(path, sizeof path, "%s/%s", chk_seg, rel);
    else snprintf(path, sizeof path, "%s", rel);
    struct store_entry e;
    struct smfs_err err;
    int rc = store_lookup(chk_snap, path, &e, &err);
    if (rc < 0) print_message("lookup %s: %s\n", path, err.msg);
    assert_int_equal(rc, 0);
    int fd = store_object_open(chk_store, &e, &err);
    assert_true(fd >= 0);
    struct file_map m;
    assert_int_equal(file_map(p, &m, &err), 0);
    char *got = malloc(m.len + 1);
    assert_int_equal(file_pread_full(fd, got, m.len, 0, path, &err), 0);
    assert_int_equal(m.len, e.size);
    assert_memory_equal(got, m.p, m.len);
    free(got);
    file_unmap(&m);
    close(fd);
    chk_files++;
    return 0;
}

static size_t store_matches(const char *home, const char *orig, const char *seg)
{
    struct store_recovery rep;
    struct smfs_err err;
    assert_int_equal(store_open(home, NULL, &chk_store, &rep, &err), 0);
    assert_int_equal(store_snap_get(chk_store, 0, &chk_snap, &err), 0);
    chk_skip = strlen(orig);
    chk_files = 0;
    chk_seg = seg;
    assert_int_equal(nftw(orig, check_file, 32, FTW_PHYS), 0);
    store_snap_put(chk_snap);
    store_close(chk_store);
    return chk_files;
}

/* ---- running an import ---- */

static struct strv_lines { char *v[64]; size_t n; } lines;

static void collect(void *arg, const char *line)
{
    (void)arg;
    if (lines.n < 64) lines.v[lines.n++] = strdup(line);
}

static void lines_clear(void)
{
    for (size_t i = 0; i < lines.n; i++) free(lines.v[i]);
    lines.n = 0;
}

static bool has_line(const char *want)
{
    for (size_t i = 0; i < lines.n; i++)
        if (!strcmp(lines.v[i], want)) return true;
    print_message("no line '%s' among:\n", want);
    for (size_t i = 0; i < lines.n; i++) print_message("  %s\n", lines.v[i]);
    return false;
}

static bool has_line_with(const char *part)
{
    for (size_t i = 0; i < lines.n; i++)
        if (strstr(lines.v[i], part)) return true;
    print_message("no line with '%s' among:\n", part);
    for (size_t i = 0; i < lines.n; i++) print_message("  %s\n", lines.v[i]);
    return false;
}

static int run_import(struct cfg *c, const char *source, bool fill, unsigned batch, struct smfs_err *err)
{
    lines_clear();
    struct import_opts o = { .cfg = c, .source = source, .verify = true, .fill_missing = fill,
                             .batch = batch, .diag = collect, .no_sync = true };
    struct import_summary sum;
    return import_run(&o, &sum, err);
}

static int run_rollback(struct cfg *c, struct smfs_err *err)
{
    lines_clear();
    struct import_opts o = { .cfg = c, .verify = true, .diag = collect, .no_sync = true };
    struct import_summary sum;
    return import_rollback(&o, &sum, err);
}

/* Import BASE/data with CFG and expect it refused with exactly the problem WANT
 * (among others), the tree untouched. */
static void expect_refused(struct cfg *c, const char *base, const char *want)
{
    char data[700];
    snprintf(data, sizeof data, "%s/data", base);
    char *before = tree(data);
    struct smfs_err err;
    int rc = run_import(c, NULL, false, 0, &err);
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err.msg, "nothing was changed"));
    assert_true(has_line(want));
    char *after = tree(data);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* ---- tests ---- */

static void import_round_trip_and_rollback_restore_everything(void **state)
{
    (void)state;
    char base[600], data[700], orig[700];
    new_hdb(base, sizeof base, 5, 300);
    snprintf(data, sizeof data, "%s/data", base);
    snprintf(orig, sizeof orig, "%s/orig", base);
    struct cfg *c = cfg_at(base, NULL);
    struct smfs_err err;
    assert_string_equal(import_state(c), "none");
    char *inos = file_inodes(data);

    /* A dry run changes nothing and says what it would do. */
    lines_clear();
    struct import_opts dry = { .cfg = c, .verify = true, .dry_run = true, .diag = collect, .batch = 2 };
    struct import_summary sum;
    assert_int_equal(import_run(&dry, &sum, &err), 0);
    assert_true(has_line("  5 partitions in 3 commits of up to 2, 91 files, 0.3 MB, checksummed"));
    same_tree(orig, data);

    struct import_opts o = { .cfg = c, .verify = true, .batch = 2, .diag = collect };
    int rc = import_run(&o, &sum, &err);
    if (rc < 0) print_message("import: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sum.partitions, 5);
    assert_int_equal(sum.tables, 10);
    assert_int_equal(sum.files, 91);
    assert_int_equal(sum.versions, 3);
    assert_string_equal(import_state(c), "done");
    /* In place: the HDB's names are gone, only the store is left. */
    char *t = tree(data);
    assert_null(strstr(t, "/2024.01.02"));
    assert_null(strstr(t, "/sym "));
    free(t);
    assert_int_equal(store_matches(data, orig, "hdb"), 91);

    /* Run again: nothing to do. */
    assert_int_equal(run_import(c, NULL, false, 0, &err), 0);

    /* Rollback: the original tree, down to modes and times. */
    rc = run_rollback(c, &err);
    if (rc < 0) print_message("rollback: %s\n", err.msg);
    assert_int_equal(rc, 0);
    same_tree(orig, data);
    /* Exactly what comes back: every name, its bytes, mode and mtime (same_tree), each
     * file as the very inode it was (below); directories are made anew (new inodes)
     * with their old modes and times. */
    char *inos2 = file_inodes(data);
    assert_string_equal(inos, inos2);
    free(inos);
    free(inos2);
    assert_string_equal(import_state(c), "none");
    assert_int_equal(run_rollback(c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "nothing to roll back"));
    cfg_free(c);
}

static void every_validation_error_is_named(void **state)
{
    (void)state;
    char base[600], data[700], want[1024];
    new_hdb(base, sizeof base, 3, 20);
    snprintf(data, sizeof data, "%s/data", base);
    struct cfg *c = cfg_at(base, NULL);

    sh("touch '%s/junk.txt' && mkdir '%s/2024.01' '%s/notes'", data, data, data);
    expect_refused(c, base, "Stray files in DB root: Tables must be listed in schema and symbol file must be "
                            "called 'sym': files=junk.txt,notes");
    assert_true(has_line("Only date partitions can be imported (not month, year or int): dirs=2024.01"));
    sh("rm -r '%s/junk.txt' '%s/2024.01' '%s/notes'", data, data, data);

    sh("cp -a '%s/2024.01.02/trade' '%s/2024.01.02/orders'", data, data);
    expect_refused(c, base, "The table has not been configured in the assembly: table=orders partitions=2024.01.02");
    sh("rm -r '%s/2024.01.02/orders'", data);

    sh("mv '%s/2024.01.03/quote' '%s/q.keep' && mv '%s/2024.01.04/quote' '%s/q2.keep'", data, base, data, base);
    expect_refused(c, base, "The table is missing from the database: table=quote partitions=2024.01.03,2024.01.04");
    sh("mv '%s/q.keep' '%s/2024.01.03/quote' && mv '%s/q2.keep' '%s/2024.01.04/quote'", base, data, base, data);

    /* .d against the schema: extra, missing, order. */
    char dpath[800];
    snprintf(dpath, sizeof dpath, "%s/2024.01.02/trade/.d", data);
    sh("cp -a '%s' '%s/d.keep'", dpath, base);
    const char *extra[] = { "sym", "time", "price", "size", "ex", "cond", "venue" };
    struct k *d = k_symv(extra, 7);
    struct smfs_err err;
    assert_int_equal(kdb_save(dpath, d, 0, NULL, false, &err), 0);
    k_free(d);
    sh("cp '%s/2024.01.02/trade/size' '%s/2024.01.02/trade/venue'", data, data);
    expect_refused(c, base, "The table has the following extra columns: table=trade columns=venue partitions=2024.01.02");
    sh("rm '%s/2024.01.02/trade/venue'", data);
    const char *fewer[] = { "sym", "time", "price", "size", "cond" };
    d = k_symv(fewer, 5);
    assert_int_equal(kdb_save(dpath, d, 0, NULL, false, &err), 0);
    k_free(d);
    expect_refused(c, base, "The table has the following missing columns from the .d file: table=trade columns=ex "
                            "partitions=2024.01.02");
    assert_true(has_line("The table has files not listed in its .d file: table=trade files=ex partitions=2024.01.02"));
    const char *order[] = { "time", "sym", "price", "size", "ex", "cond" };
    d = k_symv(order, 6);
    assert_int_equal(kdb_save(dpath, d, 0, NULL, false, &err), 0);
    k_free(d);
    expect_refused(c, base, "The table's .d file lists the columns in another order than the schema: table=trade "
                            "found=time,sym,price,size,ex,cond expected=sym,time,price,size,ex,cond "
                            "partitions=2024.01.02");
    sh("cp -a '%s/d.keep' '%s'", base, dpath);
    sh("mv '%s' '%s/d.keep'", dpath, base);
    expect_refused(c, base, "The table has no .d file: table=trade partitions=2024.01.02");
    sh("mv '%s/d.keep' '%s'", base, dpath);

    /* Column files: missing, wrong type, counts, truncated, wrong domain. */
    char col[800];
    snprintf(col, sizeof col, "%s/2024.01.03/quote/bid", data);
    sh("mv '%s' '%s/c.keep'", col, base);
    expect_refused(c, base, "The table has the following missing columns: table=quote columns=bid partitions=2024.01.03");
    struct k *x = k_vec(KT_LONG, 20);
    assert_int_equal(kdb_save(col, x, 0, NULL, false, &err), 0);
    k_free(x);
    expect_refused(c, base, "The column has the wrong type: table=quote column=bid type=long expected=float "
                            "partitions=2024.01.03");
    x = k_vec(KT_FLOAT, 19);
    assert_int_equal(kdb_save(col, x, 0, NULL, false, &err), 0);
    k_free(x);
    expect_refused(c, base, "The table's columns have different row counts: table=quote "
                            "counts=sym:20,time:20,bid:19,ask:20,bsize:20,asize:20,ex:20,mode:20 partitions=2024.01.03");
    sh("cp -a '%s/c.keep' '%s' && truncate -s 100 '%s'", base, col, col);
    lines_clear();
    assert_int_equal(run_import(c, NULL, false, 0, &err), -EINVAL);
    bool found = false;
    for (size_t i = 0; i < lines.n; i++)
        found |= !strncmp(lines.v[i], "Cannot read: table=quote file=bid: ", 35) &&
                 strstr(lines.v[i], "partitions=2024.01.03") != NULL;
    assert_true(found);
    sh("mv '%s/c.keep' '%s'", base, col);
    snprintf(col, sizeof col, "%s/2024.01.04/trade/sym", data);
    sh("cp -a '%s' '%s/s.keep'", col, base);
    x = k_enum("sym_trade", 20);
    assert_int_equal(kdb_save(col, x, 0, NULL, false, &err), 0);
    k_free(x);
    expect_refused(c, base, "The column is not enumerated against sym (one enumeration file named sym is "
                            "required): table=trade column=sym domain=sym_trade partitions=2024.01.04");
    sh("mv '%s/s.keep' '%s'", base, col);

    /* A partition whose rows belong to another day. */
    sh("mv '%s/2024.01.04' '%s/2024.01.05'", data, data);
    lines_clear();
    assert_int_equal(run_import(c, NULL, false, 0, &err), -EINVAL);
    found = false;
    for (size_t i = 0; i < lines.n; i++)
        found |= !strncmp(lines.v[i], "The partition column has values outside the partition date: table=trade "
                                      "column=time rows=20 first=row 0 (2024.01.04D", 110) &&
                 strstr(lines.v[i], ") partitions=2024.01.05") != NULL;
    assert_true(found);
    sh("mv '%s/2024.01.05' '%s/2024.01.04'", data, data);

    /* sym, par.txt, and nothing at all. */
    sh("mv '%s/sym' '%s/sym.keep'", data, base);
    snprintf(want, sizeof want, "No sym file found at '%s/sym'", data);
    expect_refused(c, base, want);
    sh("mv '%s/sym.keep' '%s/sym' && echo /x > '%s/par.txt'", base, data, data);
    snprintf(want, sizeof want, "Segmented database (par.txt) found at '%s/par.txt': import a partitioned database; "
             "list its segments' directories as the stores of date tiers instead", data);
    expect_refused(c, base, want);
    sh("rm '%s/par.txt'", data);

    char empty[700];
    snprintf(empty, sizeof empty, "%s/empty", base);
    sh("mkdir -p '%s/data'", empty);
    struct cfg *c2 = cfg_at(empty, NULL);
    snprintf(want, sizeof want, "No kdb+ database found at '%s/data': no date partitions and no sym file", empty);
    expect_refused(c2, empty, want);
    cfg_free(c2);
    snprintf(empty, sizeof empty, "%s/absent", base);
    c2 = cfg_at(empty, NULL);
    assert_int_equal(run_import(c2, NULL, false, 0, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "no kdb+ database found at"));
    cfg_free(c2);

    /* After all that, the untouched HDB imports. */
    assert_int_equal(run_import(c, NULL, false, 0, &err), 0);
    cfg_free(c);
}

/* A validator that cannot record a problem (out of memory) must refuse the whole
 * database: before, it dropped the problem and, with none left, passed a bad tree. */
static void validation_out_of_memory_refuses_instead_of_passing(void **state)
{
    (void)state;
    char base[600], data[700];
    new_hdb(base, sizeof base, 2, 20);
    snprintf(data, sizeof data, "%s/data", base);
    struct cfg *c = cfg_at(base, NULL);
    sh("touch '%s/junk.txt'", data);   /* one problem: a stray file */
    char *before = tree(data);
    struct smfs_err err = {0};
    fault_arm("scan.diag", 1, FAULT_FAIL);
    int rc = run_import(c, NULL, false, 0, &err);
    fault_disarm();
    assert_int_equal(rc, -ENOMEM);
    assert_non_null(strstr(err.msg, "out of memory while validating"));
    assert_non_null(strstr(err.msg, "nothing is imported"));
    char *after = tree(data);
    assert_string_equal(before, after);
    assert_string_equal(import_state(c), "none");
    free(before);
    free(after);
    cfg_free(c);
}

static void a_partition_in_two_tiers_is_refused_and_tiers_import_in_place(void **state)
{
    (void)state;
    char base[600], data[700], slow[700];
    new_hdb(base, sizeof base, 4, 10);
    snprintf(data, sizeof data, "%s/data", base);
    snprintf(slow, sizeof slow, "%s-slow", base);
    sh("mkdir -p '%s' && cp -a '%s/2024.01.02' '%s/'", slow, data, slow);
    struct cfg *c = cfg_at(base, slow);
    expect_refused(c, base, "The partition is in more than one tier: tiers=hdb,slow partitions=2024.01.02");
    /* The oldest day lives only in the slow tier: each tier imports its own. */
    sh("rm -r '%s/2024.01.02'", data);
    struct smfs_err err;
    int rc = run_import(c, NULL, false, 0, &err);
    if (rc < 0) print_message("import: %s\n", err.msg);
    assert_int_equal(rc, 0);
    struct store *s;
    struct store_recovery rep;
    assert_int_equal(store_open(data, NULL, &s, &rep, &err), 0);
    struct store_snap *snap;
    assert_int_equal(store_snap_get(s, 0, &snap, &err), 0);
    struct store_entry e;
    assert_int_equal(store_lookup(snap, "slow/2024.01.02/trade/price", &e, &err), 0);
    assert_int_equal(e.tier, 1);
    assert_int_equal(store_lookup(snap, "hdb/2024.01.03/trade/price", &e, &err), 0);
    assert_int_equal(e.tier, 0);
    assert_int_equal(store_lookup(snap, "par.txt", &e, &err), 0);
    char txt[64] = "";
    int fd = store_object_open(s, &e, &err);
    assert_true(read(fd, txt, sizeof txt - 1) > 0);
    close(fd);
    assert_string_equal(txt, "hdb\nslow\n");
    store_snap_put(snap);
    store_close(s);
    assert_int_equal(run_rollback(c, &err), 0);
    char orig[700];
    snprintf(orig, sizeof orig, "%s/orig/2024.01.02", base);
    snprintf(slow + strlen(slow), sizeof slow - strlen(slow), "/2024.01.02");
    same_tree(orig, slow);
    cfg_free(c);
}

static const char tick_yaml[] =
    "name: tick\n"
    "tables:\n"
    "  trade:\n    type: partitioned\n    prtnCol: time\n    columns:\n"
    "      - {name: sym, type: symbol}\n      - {name: time, type: timestamp}\n"
    "      - {name: size, type: long}\n      - {name: price, type: float}\n"
    "      - {name: exchange, type: symbol}\n"
    "  quote:\n    type: partitioned\n    prtnCol: time\n    columns:\n"
    "      - {name: sym, type: symbol}\n      - {name: time, type: timestamp}\n"
    "      - {name: bid, type: float}\n      - {name: ask, type: float}\n"
    "      - {name: bidSize, type: long}\n      - {name: askSize, type: long}\n"
    "      - {name: exchange, type: symbol}\n"
    "%s"
    "bus:\n  stream: {protocol: tp, nodes: [\"localhost:5010\"]}\n"
    "mounts:\n  rdb: {type: stream, baseURI: none, partition: none}\n"
    "  hdb: {type: local, baseURI: \"file://%s\", partition: date}\n"
    "elements:\n  sm:\n    source: stream\n    tiers:\n"
    "      - {name: stream, mount: rdb}\n      - {name: hdb, mount: hdb}\n";
static const char agg_yaml[] =
    "  agg:\n    type: partitioned\n    prtnCol: time\n    columns:\n"
    "      - {name: sym, type: symbol}\n      - {name: time, type: timestamp}\n"
    "      - {name: maxTrade, type: float}\n      - {name: maxBid, type: float}\n"
    "      - {name: minAsk, type: float}\n      - {name: tradeVolume, type: long}\n";

static void golden_hdb_is_refused_by_name_then_imports(void **state)
{
    (void)state;
    SKIP_WITHOUT_GOLDEN();
    char base[600], data[700], orig[700], yaml[8192];
    snprintf(base, sizeof base, "%s/g%d", root, ++seq);
    snprintf(data, sizeof data, "%s/data", base);
    snprintf(orig, sizeof orig, "%s/orig", base);
    sh("mkdir -p '%s' && cp -a '%s/kdb-tick-hdb' '%s' && chmod -R u+w '%s'", base, golden_dir(), data, data);
    snprintf(yaml, sizeof yaml, tick_yaml, "", base);
    struct cfg *c = load_cfg(yaml);
    /* agg exists on one day only, and two days hold rows of 2019.04.04. */
    expect_refused(c, base, "The table has not been configured in the assembly: table=agg partitions=2019.04.04");
    cfg_free(c);
    snprintf(yaml, sizeof yaml, tick_yaml, agg_yaml, base);
    c = load_cfg(yaml);
    expect_refused(c, base, "The table is missing from the database: table=agg partitions=2019.04.02,2019.04.03");
    assert_true(has_line("The partition column has values outside the partition date: table=trade column=time "
                         "rows=2 first=row 0 (2019.04.04D15:32:12.036150000) partitions=2019.04.02,2019.04.03"));
    /* The consistent day imports (old 32-bit enumerations and all), and rolls back. */
    sh("rm -r '%s/2019.04.02' '%s/2019.04.03' && cp -a '%s' '%s'", data, data, data, orig);
    struct smfs_err err;
    int rc = run_import(c, NULL, false, 0, &err);
    if (rc < 0) print_message("import: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(store_matches(data, orig, "hdb"), 22);
    assert_int_equal(run_rollback(c, &err), 0);
    same_tree(orig, data);
    cfg_free(c);
}

static void fill_missing_writes_loadable_empty_tables(void **state)
{
    (void)state;
    char base[600], data[700];
    new_hdb(base, sizeof base, 3, 10);
    snprintf(data, sizeof data, "%s/data", base);
    sh("rm -r '%s/2024.01.03/quote'", data);
    sh("rm -r '%s/orig' && cp -a '%s' '%s/orig'", base, data, base);
    struct cfg *c = cfg_at(base, NULL);
    struct smfs_err err;
    assert_int_equal(run_import(c, NULL, true, 0, &err), 0);
    struct store *s;
    struct store_recovery rep;
    assert_int_equal(store_open(data, NULL, &s, &rep, &err), 0);
    struct store_snap *snap;
    assert_int_equal(store_snap_get(s, 0, &snap, &err), 0);
    const char *cols[] = { ".d", "sym", "time", "bid", "ask", "bsize", "asize", "ex", "mode", "mode#" };
    for (size_t i = 0; i < 10; i++) {
        char p[256], obj[4200];
        snprintf(p, sizeof p, "hdb/2024.01.03/quote/%s", cols[i]);
        struct store_entry e;
        assert_int_equal(store_lookup(snap, p, &e, &err), 0);
        assert_int_equal(store_object_path(s, &e, obj, sizeof obj, &err), 0);
        if (i >= 8) continue;   /* the nested column's index needs its heap beside it */
        struct k *x = NULL;
        int rc = kdb_load(obj, &x, &err);
        if (rc < 0) print_message("%s: %s\n", p, err.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(k_count(x), i == 0 ? 8 : 0);
        k_free(x);
    }
    store_snap_put(snap);
    store_close(s);
    /* Rollback leaves the gap as it was: the filled table was never a source. */
    assert_int_equal(run_rollback(c, &err), 0);
    char orig[700];
    snprintf(orig, sizeof orig, "%s/orig", base);
    same_tree(orig, data);
    cfg_free(c);
}

static void failure_at_every_step_puts_the_original_back(void **state)
{
    (void)state;
    char base[600], data[700], orig[700];
    new_hdb_in(fast, base, sizeof base, 2, 8);
    snprintf(data, sizeof data, "%s/data", base);
    snprintf(orig, sizeof orig, "%s/orig", base);
    struct cfg *c = cfg_at(base, NULL);
    unsigned n;
    for (n = 1;; n++) {
        struct smfs_err err;
        fault_arm("*", n, FAULT_FAIL);
        int rc = run_import(c, NULL, false, 1, &err);
        unsigned hits = fault_count();
        fault_disarm();
        if (rc == 0 && hits < n) break;   /* walked past the last point */
        if (rc == 0) {
            /* The fault hit the vacuum after the last commit: the import stands. */
            assert_true(lines.n > 0 && !strncmp(lines.v[lines.n - 1], "warning: vacuum after the import failed", 39));
            assert_int_equal(run_rollback(c, &err), 0);
            same_tree(orig, data);
            continue;
        }
        assert_non_null(strstr(err.msg, "injected fault"));
        if (!strstr(err.msg, "the original database was put back")) print_message("step %u: %s\n", n, err.msg);
        assert_non_null(strstr(err.msg, "the original database was put back"));
        same_tree(orig, data);
        assert_string_equal(import_state(c), "none");
    }
    print_message("import: %u fault points, each rolled back exactly\n", n - 1);
    cfg_free(c);
}

/* Fork an import (or a rollback) and SIGKILL it at fault point N. True if it died. */
static bool killed_at(struct cfg *c, unsigned n, bool rollback)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct smfs_err err;
        fault_arm("*", n, FAULT_KILL);
        int rc = rollback ? run_rollback(c, &err) : run_import(c, NULL, false, 1, &err);
        _exit(rc == 0 ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st)) assert_int_equal(WEXITSTATUS(st), 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static void sigkill_at_every_step_resumes_or_rolls_back(void **state)
{
    (void)state;
    char base[600], data[700], orig[700];
    new_hdb_in(fast, base, sizeof base, 2, 8);
    snprintf(data, sizeof data, "%s/data", base);
    snprintf(orig, sizeof orig, "%s/orig", base);
    struct cfg *c = cfg_at(base, NULL);
    unsigned n, resumed = 0, rolled = 0, tried = 0;
    /* Every point; alternate points resume and roll back. */
    for (n = 1;; n++, tried++) {
        if (!killed_at(c, n, false)) break;
        struct smfs_err err;
        /* Odd steps: run again and it finishes; even ones: roll back instead. */
        if (tried % 2 == 0) {
            int rc = run_import(c, NULL, false, 1, &err);
            if (rc < 0) print_message("resume after kill %u: %s\n", n, err.msg);
            assert_int_equal(rc, 0);
            assert_int_equal(store_matches(data, orig, "hdb"), 37);
            resumed++;
        }
        int rc = run_rollback(c, &err);
        if (rc == -ENOENT) assert_string_equal(import_state(c), "none");   /* killed before the journal */
        else if (rc < 0) print_message("rollback after kill %u: %s\n", n, err.msg);
        if (rc != -ENOENT) assert_int_equal(rc, 0);
        if (rc == 0 && tried % 2) rolled++;
        same_tree(orig, data);
    }
    print_message("import: killed at %u of %u points; %u resumed, %u rolled back, each exact\n", tried, n - 1,
                  resumed, rolled);
    /* And a rollback killed at every step finishes when run again. */
    unsigned m;
    for (m = 1;; m++) {
        struct smfs_err err;
        assert_int_equal(run_import(c, NULL, false, 1, &err), 0);
        if (!killed_at(c, m, true)) {
            same_tree(orig, data);
            break;
        }
        assert_int_equal(run_rollback(c, &err), 0);
        same_tree(orig, data);
    }
    print_message("rollback: killed at %u points, each finished by the next run\n", m - 1);
    cfg_free(c);
}

/* /dev/shm is a writable filesystem other than the tests' own. */
static bool second_fs(void)
{
    struct stat a, b;
    return stat("/dev/shm", &a) == 0 && stat(root, &b) == 0 && a.st_dev != b.st_dev && access("/dev/shm", W_OK) == 0;
}

static void source_on_another_filesystem_is_copied_and_kept(void **state)
{
    (void)state;
    if (!second_fs()) {
        print_message("skipped: /dev/shm is not a second writable filesystem\n");
        skip();
    }
    char base[600], src[600];
    snprintf(base, sizeof base, "%s/x%d", root, ++seq);
    snprintf(src, sizeof src, "/dev/shm/smfs-import-test.%d", (int)getpid());
    struct gen_opts o;
    gen_defaults(&o);
    o.dir = src;
    o.days = 2;
    o.rows = 10;
    struct gen_stats st;
    struct smfs_err err;
    assert_int_equal(gen_hdb(&o, &st, &err), 0);
    char *before = tree(src);
    struct cfg *c = cfg_at(base, NULL);
    lines_clear();
    struct import_opts io = { .cfg = c, .source = src, .verify = true, .diag = collect };
    struct import_summary sum;
    int rc = import_run(&io, &sum, &err);
    if (rc < 0) print_message("import: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(sum.copied);
    char data[700];
    snprintf(data, sizeof data, "%s/data", base);
    assert_int_equal(store_matches(data, src, "hdb"), (size_t)st.files);
    char *after = tree(src);
    assert_string_equal(before, after);   /* the original is left as it was */
    free(before);
    free(after);
    assert_int_equal(run_rollback(c, &err), 0);
    struct stat sb;
    assert_int_equal(stat(data, &sb), -1);   /* the store the import made is gone */
    sh("rm -rf '%s'", src);
    cfg_free(c);
}

/* ---- ingest ---- */

static char *slurp(const char *path)
{
    uint8_t *p;
    size_t n;
    struct smfs_err e;
    assert_int_equal(file_read_all(path, 1 << 20, &p, &n, &e), 0);
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    free(p);
    return s;
}

static int do_ingest(struct cfg *c, const char *staging, struct ingest_summary *sum, struct smfs_err *err)
{
    struct store *s;
    struct store_recovery rep;
    int rc = import_store_open(c, true, &s, &rep, err);
    if (rc < 0) return rc;
    lines_clear();
    struct ingest_opts o = { .cfg = c, .staging = staging, .verify = true, .diag = collect };
    rc = ingest_run(s, &o, sum, err);
    store_close(s);
    return rc;
}

/* The names of the symbol column of store file PATH, through the store's sym. */
static char *names_of(const char *home, const char *path)
{
    struct store *s;
    struct store_recovery rep;
    struct smfs_err err;
    assert_int_equal(store_open(home, NULL, &s, &rep, &err), 0);
    struct store_snap *snap;
    assert_int_equal(store_snap_get(s, 0, &snap, &err), 0);
    struct store_entry e;
    char obj[4200];
    struct k *sym = NULL, *col = NULL;
    assert_int_equal(store_lookup(snap, "sym", &e, &err), 0);
    assert_int_equal(store_object_path(s, &e, obj, sizeof obj, &err), 0);
    assert_int_equal(kdb_load(obj, &sym, &err), 0);
    assert_int_equal(store_lookup(snap, path, &e, &err), 0);
    assert_int_equal(store_object_path(s, &e, obj, sizeof obj, &err), 0);
    assert_int_equal(kdb_load(obj, &col, &err), 0);
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int64_t i = 0; i < col->n; i++) {
        int64_t j = ((int64_t *)col->u.v)[i];
        assert_true(j >= 0 && j < sym->n);
        assert_int_equal(buf_printf(&b, "%s%s", i ? " " : "", k_symv_at(sym, j)), 0);
    }
    assert_int_equal(buf_append_zero(&b, 1), 0);
    k_free(sym);
    k_free(col);
    store_snap_put(snap);
    store_close(s);
    size_t n;
    return (char *)buf_take(&b, &n);
}

static void ingest_adds_replaces_and_remaps_new_symbols(void **state)
{
    (void)state;
    char base[600], data[700], stg[700];
    new_hdb(base, sizeof base, 3, 10);
    snprintf(data, sizeof data, "%s/data", base);
    struct cfg *c = cfg_at(base, NULL);
    struct smfs_err err;
    assert_int_equal(run_import(c, NULL, false, 0, &err), 0);
    char *old_quote = names_of(data, "hdb/2024.01.03/quote/sym");

    /* A staging HDB written against its own sym, in another order, with new names:
     * trade for an existing day (replace) and a new one (add). */
    snprintf(stg, sizeof stg, "%s/staging/s1", base);
    const char *ssym[] = { "ZZZ", "MSFT", "NEW1", "AAPL" };
    const int64_t idx[] = { 2, 0, 1, 3, 0 };   /* against the staging sym */
    const char *want = "NEW1 ZZZ MSFT AAPL ZZZ";
    sh("mkdir -p '%s'", stg);
    char p[1200];
    snprintf(p, sizeof p, "%s/sym", stg);
    struct k *x = k_symv(ssym, 4);
    assert_int_equal(kdb_save(p, x, 0, NULL, false, &err), 0);
    k_free(x);
    const char *days[] = { "2024.01.03", "2024.01.09" };
    for (int d = 0; d < 2; d++) {
        int32_t day;
        assert_true(k_parse_date(days[d], &day));
        char dir[800];
        snprintf(dir, sizeof dir, "%s/%s/trade", stg, days[d]);
        sh("mkdir -p '%s'", dir);
        struct k *cols[6];
        cols[0] = k_enum("sym", 5);
        memcpy(cols[0]->u.v, idx, sizeof idx);
        cols[1] = k_vec(KT_TIMESTAMP, 5);
        for (int i = 0; i < 5; i++) ((int64_t *)cols[1]->u.v)[i] = (int64_t)day * 86400000000000LL + i;
        cols[2] = k_vec(KT_FLOAT, 5);
        cols[3] = k_vec(KT_LONG, 5);
        cols[4] = k_vec(KT_CHAR, 5);
        cols[5] = k_list(5);
        for (int i = 0; i < 5; i++) k_list_set(cols[5], i, k_str("c", 1));
        const char *names[] = { "sym", "time", "price", "size", "ex", "cond" };
        for (int i = 0; i < 6; i++) {
            snprintf(p, sizeof p, "%s/%s", dir, names[i]);
            assert_int_equal(kdb_save(p, cols[i], 0, NULL, false, &err), 0);
            k_free(cols[i]);
        }
        snprintf(p, sizeof p, "%s/.d", dir);
        x = k_symv(names, 6);
        assert_int_equal(kdb_save(p, x, 0, NULL, false, &err), 0);
        k_free(x);
    }
    struct ingest_summary sum;
    int rc = do_ingest(c, stg, &sum, &err);
    if (rc < 0) print_message("ingest: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sum.added, 1);
    assert_int_equal(sum.replaced, 1);
    assert_int_equal(sum.new_symbols, 2);   /* ZZZ and NEW1 */
    assert_int_equal(sum.remapped, 2);      /* the sym column of both days */
    assert_int_equal(sum.filled, 1);        /* quote of the new day */
    assert_true(has_line("replace partition 2024.01.03 in tier hdb: trade"));
    assert_true(has_line("add partition 2024.01.09 in tier hdb: trade"));
    for (int d = 0; d < 2; d++) {
        char sp[256];
        snprintf(sp, sizeof sp, "hdb/%s/trade/sym", days[d]);
        char *got = names_of(data, sp);
        assert_string_equal(got, want);
        free(got);
    }
    /* The replaced day keeps its other table; old enumerations still resolve. */
    char *q = names_of(data, "hdb/2024.01.03/quote/sym");
    assert_string_equal(q, old_quote);
    free(q);
    free(old_quote);
    struct stat sb;
    assert_int_equal(stat(stg, &sb), -1);   /* consumed */

    /* A bad staging tree is refused whole. */
    sh("mkdir -p '%s/2024.01.10/orders' && touch '%s/stray'", stg, stg);
    rc = do_ingest(c, stg, &sum, &err);
    assert_int_equal(rc, -EINVAL);
    assert_true(has_line("The table has not been configured in the assembly: table=orders partitions=2024.01.10"));
    sh("rm -r '%s'", stg);

    /* A rollback would lose the ingest: refused, and nothing changes on disk -- the
     * journal still says done, so smfs keeps serving the store. */
    char jpath[800];
    snprintf(jpath, sizeof jpath, "%s/" IMPORT_JOURNAL, data);
    char *j0 = slurp(jpath);
    rc = run_rollback(c, &err);
    assert_int_equal(rc, -EBUSY);
    assert_non_null(strstr(err.msg, "(ingest) was committed after it and would be lost"));
    char *j1 = slurp(jpath);
    assert_string_equal(j0, j1);
    assert_string_equal(import_state(c), "done");
    free(j1);

    /* The same while another process holds the store (a running smfs). */
    struct store *held;
    struct store_recovery rep;
    assert_int_equal(import_store_open(c, false, &held, &rep, &err), 0);
    rc = run_rollback(c, &err);
    assert_int_equal(rc, -EBUSY);
    j1 = slurp(jpath);
    assert_string_equal(j0, j1);
    free(j1);
    store_close(held);

    /* A journal left saying "rollback" by the old check-after-write bug: ingest
     * refuses to add to it, and a rollback that cannot start puts it back to done
     * once the store verifies. */
    sh("sed -i 's/^state done$/state rollback/' '%s'", jpath);
    assert_string_equal(import_state(c), "rollback");
    sh("mkdir -p '%s'", stg);
    rc = do_ingest(c, stg, &sum, &err);
    assert_int_equal(rc, -EBUSY);
    assert_non_null(strstr(err.msg, "an import rollback of"));
    rc = run_rollback(c, &err);
    assert_int_equal(rc, -EBUSY);
    assert_non_null(strstr(err.msg, "it says 'done' again"));
    assert_string_equal(import_state(c), "done");
    struct store_verify_report vr = {0};
    assert_int_equal(import_store_open(c, false, &held, &rep, &err), 0);
    assert_int_equal(store_verify(held, NULL, NULL, &vr, &err), 0);
    assert_int_equal(vr.problems, 0);
    assert_int_equal(store_current(held), 2);   /* the import and the ingest, both kept */
    store_close(held);
    free(j0);
    cfg_free(c);
}

/* A basic table at the root: ref (k symbol, v long), N rows, saved at PATH. */
static void save_ref(const char *path, int64_t n)
{
    const char *names[] = {"k", "v"};
    struct k *cols = k_list(2), *ks = k_vec(KT_SYM, n), *vs = k_vec(KT_LONG, n);
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(k_symv_set(ks, i, i % 2 ? "A" : "B"), 0);
        ((int64_t *)vs->u.v)[i] = i;
    }
    k_list_set(cols, 0, ks);
    k_list_set(cols, 1, vs);
    struct k *t = k_table(k_dict(k_symv(names, 2), cols));
    struct smfs_err err;
    assert_int_equal(kdb_save(path, t, 0, NULL, false, &err), 0);
    k_free(t);
}

/* Root tables go through import and ingest, and the ingest summary counts them. */
static void ingest_replaces_root_tables_and_counts_them(void **state)
{
    (void)state;
    char base[600], data[700], stg[700], p[800];
    new_hdb(base, sizeof base, 2, 10);
    snprintf(data, sizeof data, "%s/data", base);
    struct cfg *c = cfg_with(base, NULL, "  ref:\n    type: basic\n    columns:\n"
                                         "      - {name: k, type: symbol}\n      - {name: v, type: long}\n");
    snprintf(p, sizeof p, "%s/ref", data);
    save_ref(p, 3);
    struct smfs_err err;
    int rc = run_import(c, NULL, false, 0, &err);
    if (rc) print_message("import: %s\n", err.msg);
    assert_int_equal(rc, 0);
    snprintf(stg, sizeof stg, "%s/staging/r", base);
    sh("mkdir -p '%s'", stg);
    snprintf(p, sizeof p, "%s/ref", stg);
    save_ref(p, 5);
    struct ingest_summary sum;
    rc = do_ingest(c, stg, &sum, &err);
    if (rc) print_message("ingest: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sum.root_tables, 1);
    assert_int_equal(sum.added + sum.replaced, 0);
    assert_true(has_line("replace table ref at the root"));
    cfg_free(c);
}

static int ingest_with(struct cfg *c, const char *staging, bool keep, struct ingest_summary *sum,
                       struct smfs_err *err)
{
    struct store *s;
    struct store_recovery rep;
    int rc = import_store_open(c, false, &s, &rep, err);
    if (rc < 0) return rc;
    lines_clear();
    struct ingest_opts o = { .cfg = c, .staging = staging, .verify = true, .keep_staging = keep, .diag = collect };
    rc = ingest_run(s, &o, sum, err);
    store_close(s);
    return rc;
}

/* The inode and mode of the object store path REL names in the current version. */
static struct stat object_stat(const char *home, const char *rel)
{
    struct store *s;
    struct store_recovery rep;
    struct smfs_err err;
    assert_int_equal(store_open(home, NULL, &s, &rep, &err), 0);
    struct store_snap *snap;
    assert_int_equal(store_snap_get(s, 0, &snap, &err), 0);
    struct store_entry e;
    char obj[4200];
    assert_int_equal(store_lookup(snap, rel, &e, &err), 0);
    assert_int_equal(store_object_path(s, &e, obj, sizeof obj, &err), 0);
    struct stat st;
    assert_int_equal(stat(obj, &st), 0);
    store_snap_put(snap);
    store_close(s);
    return st;
}

/* What ingest takes in stays the store's: a file is hard-linked only when nothing
 * outside can change it afterwards (its staging name goes at the commit, the store's
 * owner owns it, it has no other name) and ends 0444; otherwise it is copied, and
 * said so. Symlinks leading out of staging are refused by name. */
static void ingest_takes_only_what_it_can_keep_immutable(void **state)
{
    (void)state;
    char base[600], data[700], stg[700], other[700];
    new_hdb(base, sizeof base, 2, 10);
    snprintf(data, sizeof data, "%s/data", base);
    struct cfg *c = cfg_at(base, NULL);
    struct smfs_err err;
    assert_int_equal(run_import(c, NULL, false, 0, &err), 0);
    snprintf(stg, sizeof stg, "%s/staging/s", base);
    snprintf(other, sizeof other, "%s/elsewhere", base);
    struct ingest_summary sum;
    struct gen_opts go;
    struct gen_stats gs;
    gen_defaults(&go);
    go.dir = stg;
    go.days = 1;
    go.rows = 10;
    go.start = k_days_from_ymd(2024, 2, 1);

    /* A symlinked partition from another HDB: refused, nothing changed. */
    assert_int_equal(gen_hdb(&go, &gs, &err), 0);
    sh("mkdir -p '%s' && mv '%s/2024.02.01' '%s/' && ln -s '%s/2024.02.01' '%s/2024.02.01'", other, stg, other,
       other, stg);
    assert_int_equal(ingest_with(c, stg, false, &sum, &err), -EXDEV);
    assert_non_null(strstr(err.msg, "is a symbolic link leading outside the staging directory"));
    sh("rm '%s/2024.02.01' && mv '%s/2024.02.01' '%s/'", stg, other, stg);

    /* A staging path that is not a directory apart from the store: refused by name. */
    char bad[800];
    snprintf(bad, sizeof bad, "%s/2024.02.01/trade/price", stg);
    assert_int_equal(ingest_with(c, bad, false, &sum, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "is not a directory"));
    assert_int_equal(ingest_with(c, data, false, &sum, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is the store directory"));
    snprintf(bad, sizeof bad, "%s/objects", data);
    assert_int_equal(ingest_with(c, bad, false, &sum, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is inside the store directory"));
    assert_int_equal(ingest_with(c, base, false, &sum, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "holds the store directory"));
    /* A symbolic link loop inside staging: named, nothing changed. */
    sh("ln -s '%s/loop-b' '%s/loop-a' && ln -s '%s/loop-a' '%s/loop-b'", stg, stg, stg, stg);
    assert_int_equal(ingest_with(c, stg, false, &sum, &err), -ELOOP);
    assert_non_null(strstr(err.msg, "is a symbolic link that leads nowhere"));
    sh("rm '%s/loop-a' '%s/loop-b'", stg, stg);

    /* A file with a second name elsewhere is copied; the rest is linked, then 0444. */
    char price[800], twin[800];
    snprintf(price, sizeof price, "%s/2024.02.01/trade/price", stg);
    snprintf(twin, sizeof twin, "%s/price-twin", other);
    assert_int_equal(link(price, twin), 0);
    int rc = ingest_with(c, stg, false, &sum, &err);
    if (rc) print_message("ingest: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(has_line_with("copied 1 file (e.g. '"));
    assert_true(has_line_with("instead of linking: with another name besides the staging one"));
    struct stat tw, ob = object_stat(data, "hdb/2024.02.01/trade/price");
    assert_int_equal(stat(twin, &tw), 0);
    assert_true(tw.st_ino != ob.st_ino);          /* the twin's owner cannot reach the store */
    assert_int_equal(ob.st_mode & 07777, 0444);
    struct stat sz = object_stat(data, "hdb/2024.02.01/trade/size");
    assert_int_equal(sz.st_mode & 07777, 0444);   /* linked, and read-only now */
    assert_int_equal(sz.st_nlink, 1);             /* its staging name is gone */
    assert_int_equal(access(stg, F_OK), -1);      /* the staging tree, copies included */

    /* --keep-staging: everything is copied, so editing the kept files later changes
     * nothing in the store. */
    go.start = k_days_from_ymd(2024, 2, 5);
    assert_int_equal(gen_hdb(&go, &gs, &err), 0);
    rc = ingest_with(c, stg, true, &sum, &err);
    if (rc) print_message("ingest: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(has_line_with("instead of linking: --keep-staging keeps the staging files"));
    snprintf(price, sizeof price, "%s/2024.02.05/trade/price", stg);
    struct stat kept, ob2 = object_stat(data, "hdb/2024.02.05/trade/price");
    assert_int_equal(stat(price, &kept), 0);
    assert_true(kept.st_ino != ob2.st_ino);
    sh("dd if=/dev/zero of='%s' bs=1 count=8 seek=16 conv=notrunc status=none", price);
    struct store *s;
    struct store_recovery rep;
    struct store_verify_report vr;
    assert_int_equal(import_store_open(c, false, &s, &rep, &err), 0);
    assert_int_equal(store_verify(s, NULL, NULL, &vr, &err), 0);
    store_close(s);
    cfg_free(c);
}

/* An ingest from another filesystem copies every file and, once committed, clears
 * the staging tree whole (it used to delete sym and leave the partitions). */
static void ingest_across_filesystems_clears_staging_whole(void **state)
{
    (void)state;
    if (!second_fs()) {
        print_message("skipped: /dev/shm is not a second writable filesystem\n");
        skip();
    }
    char base[600], stg[600];
    new_hdb(base, sizeof base, 2, 10);
    struct cfg *c = cfg_at(base, NULL);
    struct smfs_err err;
    assert_int_equal(run_import(c, NULL, false, 0, &err), 0);
    snprintf(stg, sizeof stg, "/dev/shm/smfs-ingest-test.%d", (int)getpid());
    struct gen_opts go;
    struct gen_stats gs;
    gen_defaults(&go);
    go.dir = stg;
    go.days = 2;
    go.rows = 10;
    go.start = k_days_from_ymd(2024, 3, 1);
    assert_int_equal(gen_hdb(&go, &gs, &err), 0);
    struct ingest_summary sum;
    int rc = ingest_with(c, stg, false, &sum, &err);
    if (rc) print_message("ingest: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sum.added, 2);
    assert_int_equal(access(stg, F_OK), -1);
    cfg_free(c);
}

int main(void)
{
    snprintf(root, sizeof root, "%s", test_tmpdir());
    snprintf(fast, sizeof fast, "/dev/shm/smfs-test-import.%d", (int)getpid());
    if (mkdir(fast, 0755) < 0) snprintf(fast, sizeof fast, "%s", root);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(import_round_trip_and_rollback_restore_everything),
        cmocka_unit_test(every_validation_error_is_named),
        cmocka_unit_test(validation_out_of_memory_refuses_instead_of_passing),
        cmocka_unit_test(a_partition_in_two_tiers_is_refused_and_tiers_import_in_place),
        cmocka_unit_test(golden_hdb_is_refused_by_name_then_imports),
        cmocka_unit_test(fill_missing_writes_loadable_empty_tables),
        cmocka_unit_test(failure_at_every_step_puts_the_original_back),
        cmocka_unit_test(sigkill_at_every_step_resumes_or_rolls_back),
        cmocka_unit_test(source_on_another_filesystem_is_copied_and_kept),
        cmocka_unit_test(ingest_adds_replaces_and_remaps_new_symbols),
        cmocka_unit_test(ingest_replaces_root_tables_and_counts_them),
        cmocka_unit_test(ingest_takes_only_what_it_can_keep_immutable),
        cmocka_unit_test(ingest_across_filesystems_clears_staging_whole),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", root, fast);
    if (rc == 0 && system(cmd) != 0) rc = 1;
    lines_clear();
    return rc;
}
