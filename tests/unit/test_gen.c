/* test_gen: gen-hdb writes an HDB that satisfies what \l needs (every table in every
 * partition, .d naming the column files, equal row counts, enumerations inside the
 * domain), grouped by sym for p#, and the same bytes for the same seed. */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/gen.h"
#include "core/k_fmt.h"

static char *join(char *buf, size_t n, const char *a, const char *b)
{
    if (snprintf(buf, n, "%s/%s", a, b) >= (int)n) fail_msg("path too long");
    return buf;
}

static struct k *load(const char *path)
{
    struct k *x = NULL;
    struct smfs_err e = { 0 };
    if (kdb_load(path, &x, &e) < 0) fail_msg("%s", e.msg);
    return x;
}

/* Check one HDB the way \l would see it; returns the total row count. */
static const char *const trade_quote[] = { "trade", "quote", NULL };

static int64_t check_hdb_tables(const char *dir, int days, int64_t rows, const char *const *tabs)
{
    char p[4096], q[4096], r[4096];
    struct k *dom = load(join(p, sizeof p, dir, "sym"));
    assert_int_equal(dom->t, KT_SYM);
    DIR *d = opendir(dir);
    struct dirent *e;
    int parts = 0;
    int64_t total = 0;
    while ((e = readdir(d))) {
        int32_t day;
        if (!k_parse_date(e->d_name, &day)) continue;
        parts++;
        join(p, sizeof p, dir, e->d_name);
        for (int t = 0; tabs[t]; t++) {
            join(q, sizeof q, p, tabs[t]);
            struct k *cols = load(join(r, sizeof r, q, ".d"));
            assert_string_equal(k_symv_at(cols, 0), "sym");
            struct k *sym = NULL, *time = NULL;
            for (int64_t c = 0; c < cols->n; c++) {
                struct k *v = load(join(r, sizeof r, q, k_symv_at(cols, c)));
                assert_int_equal(k_count(v), rows);
                if (c == 0) sym = v;
                else if (c == 1) time = v;
                else k_free(v);
            }
            assert_int_equal(sym->t, KT_ENUM);
            assert_string_equal(sym->dom, "sym");
            assert_int_equal(time->t, KT_TIMESTAMP);
            const int64_t *ix = sym->u.v, *ts = time->u.v;
            /* grouped by sym (each value's rows contiguous), time ascending in a group,
             * every time on the partition's date */
            for (int64_t i = 0; i < rows; i++) {
                assert_true(ix[i] >= 0 && ix[i] < dom->n);
                assert_int_equal(ts[i] / INT64_C(86400000000000), day);
                if (i && ix[i] == ix[i - 1]) assert_true(ts[i] >= ts[i - 1]);
                if (i && ix[i] != ix[i - 1])
                    for (int64_t j = 0; j < i; j++) assert_true(ix[j] != ix[i]);
            }
            total += rows;
            k_free(sym);
            k_free(time);
            k_free(cols);
        }
    }
    closedir(d);
    assert_int_equal(parts, days);
    k_free(dom);
    return total;
}

static int64_t check_hdb(const char *dir, int days, int64_t rows)
{
    return check_hdb_tables(dir, days, rows, trade_quote);
}

/* Default options writing DAYS x ROWS into <tmp>/NAME (DIR holds the path). */
static void opts_in(struct gen_opts *o, char *dir, size_t n, const char *name, int days, int64_t rows)
{
    if (snprintf(dir, n, "%s/%s", test_tmpdir(), name) >= (int)n) fail_msg("path too long");
    gen_defaults(o);
    o->dir = dir;
    o->days = days;
    o->rows = rows;
}

static void hdb_is_loadable_and_grouped(void **state)
{
    (void)state;
    char dir[512];
    struct gen_opts o;
    opts_in(&o, dir, sizeof dir, "hdb1", 4, 500);
    struct gen_stats st;
    struct smfs_err e = { 0 };
    if (gen_hdb(&o, &st, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(st.partitions, 4);
    assert_int_equal(st.tables, 2);
    assert_int_equal(st.files, 4 * (2 + 7 + 9) + 1);   /* trade 6 cols + cond# + .d; quote 8 + mode# + .d; sym */
    assert_int_equal(check_hdb(dir, 4, 500), 4 * 2 * 500);
    /* weekdays only: 2024.01.02 is a Tuesday, so 4 days end on Friday 2024.01.05 */
    struct stat sb;
    char p[600];
    snprintf(p, sizeof p, "%s/2024.01.05/trade/.d", dir);
    assert_int_equal(stat(p, &sb), 0);
}

/* NAME:N tables: the many-files shapes of bench/read. */
static void wide_tables_have_the_shape_asked(void **state)
{
    (void)state;
    char dir[512], p[700];
    struct gen_opts o;
    opts_in(&o, dir, sizeof dir, "wide", 3, 200);
    o.tables = "t1:10,t2:10,t3:2";
    struct gen_stats st;
    struct smfs_err e = { 0 };
    if (gen_hdb(&o, &st, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(st.tables, 3);
    assert_int_equal(st.files, 3 * (11 + 11 + 3) + 1);   /* columns and .d per table; sym */
    static const char *const tabs[] = { "t1", "t2", "t3", NULL };
    assert_int_equal(check_hdb_tables(dir, 3, 200, tabs), 3 * 3 * 200);
    struct k *d = load(join(p, sizeof p, dir, "2024.01.04/t1/.d"));
    assert_int_equal(d->n, 10);
    assert_string_equal(k_symv_at(d, 2), "x2");
    assert_string_equal(k_symv_at(d, 9), "x9");
    k_free(d);
    struct k *x = load(join(p, sizeof p, dir, "2024.01.04/t1/x2")), *y = load(join(p, sizeof p, dir, "2024.01.04/t1/x3"));
    assert_int_equal(x->t, KT_FLOAT);
    assert_int_equal(y->t, KT_LONG);
    k_free(x);
    k_free(y);
}

static int files_equal(const char *a, const char *b)
{
    uint8_t *x, *y;
    size_t xn, yn;
    struct smfs_err e;
    if (file_read_all(a, 1 << 30, &x, &xn, &e) < 0) return 0;
    if (file_read_all(b, 1 << 30, &y, &yn, &e) < 0) { free(x); return 0; }
    int same = xn == yn && memcmp(x, y, xn) == 0;
    free(x);
    free(y);
    return same;
}

static void same_seed_same_bytes_and_compression_keeps_values(void **state)
{
    (void)state;
    char a[512], b[512], z[512];
    snprintf(a, sizeof a, "%s/seedA", test_tmpdir());
    snprintf(b, sizeof b, "%s/seedB", test_tmpdir());
    snprintf(z, sizeof z, "%s/seedZ", test_tmpdir());
    struct gen_opts o;
    gen_defaults(&o);
    o.days = 2;
    o.rows = 3000;
    o.seed = 77;
    struct gen_stats st;
    struct smfs_err e = { 0 };
    o.dir = a;
    assert_int_equal(gen_hdb(&o, &st, &e), 0);
    o.dir = b;
    assert_int_equal(gen_hdb(&o, &st, &e), 0);
    o.dir = z;
    o.zip = (struct kdb_zparams){ KDB_ZIP_LZ4HC, 12, 9 };
    assert_int_equal(gen_hdb(&o, &st, &e), 0);
    const char *files[] = { "sym", "2024.01.02/trade/price", "2024.01.03/quote/mode", "2024.01.03/quote/mode#",
                            "2024.01.03/trade/.d" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char pa[600], pb[600], pz[600];
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        snprintf(pz, sizeof pz, "%s/%s", z, files[i]);
        assert_true(files_equal(pa, pb));
        if (files[i][strlen(files[i]) - 1] == '#') continue;
        struct k *x = load(pa), *y = load(pz);
        assert_true(k_equal(x, y));
        k_free(x);
        k_free(y);
    }
    assert_int_equal(check_hdb(z, 2, 3000), 2 * 2 * 3000);
}

static void bad_options_and_existing_hdb_are_refused(void **state)
{
    (void)state;
    char dir[512];
    struct gen_opts o;
    opts_in(&o, dir, sizeof dir, "twice", 1, 1);
    struct gen_stats st;
    struct smfs_err e = { 0 };
    assert_int_equal(gen_hdb(&o, &st, &e), 0);
    assert_int_equal(gen_hdb(&o, &st, &e), -EEXIST);
    assert_non_null(strstr(e.msg, "already holds an HDB"));
    o.tables = "trade,fx";
    snprintf(dir, sizeof dir, "%s/hdb2", test_tmpdir());
    assert_int_equal(gen_hdb(&o, &st, &e), -EINVAL);
    assert_string_equal(e.msg, "gen-hdb: unknown table 'fx' (known: trade, quote, or NAME:COLUMNS)");
    o.tables = "w:1";
    assert_int_equal(gen_hdb(&o, &st, &e), -EINVAL);
    assert_string_equal(e.msg, "gen-hdb: table 'w': column count '1' must be 2..256");
    o.tables = "w:3x";
    assert_int_equal(gen_hdb(&o, &st, &e), -EINVAL);
    o.tables = "9w:3";
    assert_int_equal(gen_hdb(&o, &st, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "is not a q name"));
    o.tables = NULL;
    o.days = 0;
    assert_int_equal(gen_hdb(&o, &st, &e), -EINVAL);
    assert_string_equal(e.msg, "gen-hdb: --days must be 1..100000, got 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hdb_is_loadable_and_grouped),
        cmocka_unit_test(same_seed_same_bytes_and_compression_keeps_values),
        cmocka_unit_test(wide_tables_have_the_shape_asked),
        cmocka_unit_test(bad_options_and_existing_hdb_are_refused),
    };
    return cmocka_run_group_tests_name("gen", tests, NULL, NULL);
}
