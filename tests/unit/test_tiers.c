/* tests/unit/test_tiers.c: retention and migration between date tiers (core/tiers).
 * The retention clock (days, weeks, calendar months and years, a month back from the
 * 31st); a run over a store with a fast tier (no compression) and a slow one (zstd):
 * every partition past fast's retention in slow, recompressed, decompressing to the
 * source's bytes, a file that is not kdb+'s copied as it was, those past slow's deleted,
 * the version before untouched; a dry run that changes nothing; sizePct moving the
 * oldest partitions of a tier over its share; a next tier in object storage holding a
 * partition where it is; a fault at every step leaving the version before; and the
 * process killed (SIGKILL) at every step: the store reopens at the version before or
 * after, verifies, and the next run (what the daemon does after its next end of day)
 * finishes the work. */
#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>

#include "core/config.h"
#include "core/fault.h"
#include "core/import.h"
#include "core/k_fmt.h"
#include "core/kdb.h"
#include "core/store.h"
#include "core/tiers.h"

/* Two local date tiers (fast keeps FAST, slow keeps SLOW and compresses with zstd) and,
 * with S3, an object-storage tier after them. */
static struct cfg *cfg_tiers(const char *base, const char *fast, const char *slow, bool s3)
{
    char y[4096];
    snprintf(y, sizeof y,
             "name: t\ntables:\n  trade:\n    type: partitioned\n    prtnCol: time\n    columns:\n"
             "      - {name: time, type: timestamp}\n      - {name: price, type: float}\n"
             "bus:\n  stream: {protocol: tp, nodes: [\"localhost:5010\"]}\n"
             "mounts:\n  rdb: {type: stream, baseURI: none, partition: none}\n"
             "  hdb: {type: local, baseURI: \"file://%s/hdb\", partition: date}\n"
             "elements:\n  sm:\n    source: stream\n    tiers:\n      - {name: stream, mount: rdb}\n"
             "      - {name: fast, mount: hdb%s}\n"
             "      - {name: slow, mount: hdb, store: \"file://%s/slow\"%s, "
             "compression: {algorithm: zstd, block: 12, level: 3}}\n%s",
             base, fast, base, slow, s3 ? "      - {name: s3, mount: hdb, store: \"s3://bkt/db\"}\n" : "");
    struct cfg *c = NULL;
    struct smfs_err err;
    int rc = cfg_parse("t.yaml", y, strlen(y), &c, &err);
    if (rc && c)
        for (size_t i = 0; i < c->ndiags; i++) {
            char line[2048];
            cfg_diag_str(c, &c->diags[i], line, sizeof line);
            print_message("%s\n", line);
        }
    assert_int_equal(rc, 0);
    return c;
}

static int64_t at(const char *date)
{
    int32_t d;
    assert_true(k_parse_date(date, &d));
    return K_EPOCH_UNIX_NS + (int64_t)d * K_NS_PER_DAY + 12 * INT64_C(3600000000000);   /* noon */
}

static int32_t day(const char *date)
{
    int32_t d;
    assert_true(k_parse_date(date, &d));
    return d;
}

static void retention_clock(void **state)
{
    (void)state;
    struct cfg_tier t = {.retain_count = 3, .retain_unit = CFG_DAYS};
    /* At noon on the 11th, 3 days: the 8th ended less than 3 days ago, the 7th did not. */
    assert_int_equal(tiers_oldest_kept(&t, at("2024.01.11")), day("2024.01.08"));
    t.retain_unit = CFG_WEEKS;
    assert_int_equal(tiers_oldest_kept(&t, at("2024.01.31")), day("2024.01.10"));
    t = (struct cfg_tier){.retain_count = 1, .retain_unit = CFG_MONTHS};
    assert_int_equal(tiers_oldest_kept(&t, at("2024.03.31")), day("2024.02.29"));   /* clamped */
    assert_int_equal(tiers_oldest_kept(&t, at("2024.01.15")), day("2023.12.15"));
    t.retain_count = 14;
    assert_int_equal(tiers_oldest_kept(&t, at("2024.03.10")), day("2023.01.10"));
    t = (struct cfg_tier){.retain_count = 1, .retain_unit = CFG_YEARS};
    assert_int_equal(tiers_oldest_kept(&t, at("2024.02.29")), day("2023.02.28"));
    t = (struct cfg_tier){0};
    assert_int_equal(tiers_oldest_kept(&t, at("2024.02.29")), INT32_MIN);
    assert_int_equal(tiers_oldest_kept(NULL, at("2024.02.29")), INT32_MIN);
    t = (struct cfg_tier){.retain_count = INT64_MAX / 2, .retain_unit = CFG_DAYS};
    assert_true(tiers_oldest_kept(&t, at("2024.02.29")) < day("1900.01.01"));   /* keeps everything */
}

/* A float vector of N values from SEED, as kdb+ writes a column. */
static void column(struct buf *b, int n, int seed)
{
    struct k *v = k_vec(KT_FLOAT, n);
    for (int i = 0; i < n; i++) ((double *)v->u.v)[i] = (double)((seed * 31 + i) % 97) / 4;
    struct smfs_err err;
    buf_init(b, BUF_MAX_DEFAULT);
    assert_int_equal(kdb_encode(v, 0, b, &err), 0);
    k_free(v);
}

/* Days FIRST.. (N of them) in fast: fast/<date>/trade/price and a note that is not kdb+'s. */
static void put_days(struct store *s, const char *first, int n)
{
    struct store_tx *tx;
    struct smfs_err err;
    assert_int_equal(store_tx_begin(s, &tx, &err), 0);
    for (int i = 0; i < n; i++) {
        char ds[11], p[128];
        k_date_str(day(first) + i, ds);
        struct buf b;
        column(&b, 5000, day(first) + i);
        snprintf(p, sizeof p, "fast/%s/trade/price", ds);
        assert_int_equal(store_tx_put_bytes(tx, p, b.p, b.len, 0, &err), 0);
        buf_release(&b);
        snprintf(p, sizeof p, "fast/%s/README", ds);
        assert_int_equal(store_tx_put_bytes(tx, p, ds, 10, 0, &err), 0);
    }
    uint64_t v;
    assert_int_equal(store_tx_commit(tx, &v, &err), 0);
}

/* The dates under SEG in version V, as "d1 d2 …". */
static void dates(struct store *s, uint64_t v, const char *seg, char *out, size_t n)
{
    struct store_snap *snap;
    struct smfs_err err;
    struct store_entry e, ents[64];
    size_t got = 0;
    out[0] = 0;
    assert_int_equal(store_snap_get(s, v, &snap, &err), 0);
    if (store_lookup(snap, seg, &e, &err) == 0) assert_int_equal(store_dir_read(s, e.id, 0, ents, 64, &got, &err), 0);
    for (size_t i = 0; i < got; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? " " : "", ents[i].name);
    store_snap_put(snap);
}

/* PATH in version V: its object's content (decompressed) equals column(seed). */
static void expect_column(struct store *s, uint64_t v, const char *path, int seed, bool compressed)
{
    struct store_snap *snap;
    struct smfs_err err;
    struct store_entry e;
    assert_int_equal(store_snap_get(s, v, &snap, &err), 0);
    assert_int_equal(store_lookup(snap, path, &e, &err), 0);
    char obj[4200];
    assert_int_equal(store_object_path(s, &e, obj, sizeof obj, &err), 0);
    struct kdb_file f;
    assert_int_equal(kdb_file_open(&f, obj, &err), 0);
    assert_int_equal(f.compressed, compressed);
    if (compressed) assert_int_equal(f.z.alg, KDB_ZIP_ZSTD);
    const uint8_t *p;
    size_t len;
    assert_int_equal(kdb_file_content(&f, &p, &len, &err), 0);
    struct buf b;
    column(&b, 5000, seed);
    assert_int_equal(len, b.len);
    assert_memory_equal(p, b.p, len);
    buf_release(&b);
    kdb_file_close(&f);
    store_snap_put(snap);
}

static void expect_file(struct store *s, uint64_t v, const char *path, const char *want)
{
    struct store_snap *snap;
    struct smfs_err err;
    struct store_entry e;
    assert_int_equal(store_snap_get(s, v, &snap, &err), 0);
    assert_int_equal(store_lookup(snap, path, &e, &err), 0);
    char got[64] = "";
    int fd = store_object_open(s, &e, &err);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, got, sizeof got - 1), (ssize_t)strlen(want));
    close(fd);
    assert_string_equal(got, want);
    store_snap_put(snap);
}

static struct store *fresh(const char *name, struct cfg **c, const char *fast, const char *slow, bool s3)
{
    char base[512];
    snprintf(base, sizeof base, "%s/%s", test_tmpdir(), name);
    *c = cfg_tiers(base, fast, slow, s3);
    struct store *s;
    struct smfs_err err;
    assert_int_equal(import_store_open(*c, true, &s, NULL, &err), 0);
    return s;
}

static void note_print(void *arg, const char *line)
{
    (void)arg;
    print_message("note: %s\n", line);
}

static void ages_out_through_both_tiers(void **state)
{
    (void)state;
    struct cfg *c;
    struct store *s = fresh("age", &c, ", retain: {time: 3 days}", ", retain: {time: 7 days}", false);
    put_days(s, "2024.01.01", 10);   /* 1st .. 10th, version 1 */
    struct tiers_opts o = {.cfg = c, .now_ns = at("2024.01.11"), .dry_run = true, .note = note_print};
    struct tiers_summary sum;
    struct smfs_err err;
    /* A dry run plans and changes nothing. */
    assert_int_equal(tiers_migrate(s, &o, &sum, &err), 0);
    assert_int_equal(sum.version, 0);
    assert_int_equal(sum.nmoves, 7);
    assert_int_equal(sum.moved, 4);
    assert_int_equal(sum.deleted, 3);
    assert_int_equal(store_current(s), 1);
    tiers_summary_free(&sum);

    /* Fast keeps from the 8th, slow from the 4th: 1st-3rd deleted, 4th-7th to slow. */
    o.dry_run = false;
    assert_int_equal(tiers_migrate(s, &o, &sum, &err), 0);
    assert_int_equal(sum.version, 2);
    assert_int_equal(sum.moves[0].date, day("2024.01.01"));
    assert_int_equal(sum.moves[0].to, 2);
    assert_int_equal(sum.moves[3].to, 1);
    assert_true(sum.bytes_out < sum.bytes_in);   /* zstd on the way */
    tiers_summary_free(&sum);
    char got[512];
    dates(s, 2, "fast", got, sizeof got);
    assert_string_equal(got, "2024.01.08 2024.01.09 2024.01.10");
    dates(s, 2, "slow", got, sizeof got);
    assert_string_equal(got, "2024.01.04 2024.01.05 2024.01.06 2024.01.07");
    for (int i = 4; i <= 7; i++) {
        char p[64], ds[11];
        k_date_str(day("2024.01.01") + i - 1, ds);
        snprintf(p, sizeof p, "slow/%s/trade/price", ds);
        expect_column(s, 2, p, day(ds), true);
        snprintf(p, sizeof p, "slow/%s/README", ds);
        expect_file(s, 2, p, ds);   /* not kdb+'s: as it was */
    }
    expect_column(s, 2, "fast/2024.01.08/trade/price", day("2024.01.08"), false);
    /* The version before is untouched: every day in fast, uncompressed. */
    dates(s, 1, "fast", got, sizeof got);
    assert_int_equal(strlen(got), 10 * 11 - 1);
    expect_column(s, 1, "fast/2024.01.05/trade/price", day("2024.01.05"), false);
    struct store_verify_report vr;
    assert_int_equal(store_verify(s, NULL, NULL, &vr, &err), 0);

    /* Two days on: the 8th and 9th go, the 4th and 5th expire; nothing left: no commit. */
    o.now_ns = at("2024.01.13");
    assert_int_equal(tiers_migrate(s, &o, &sum, &err), 0);
    assert_int_equal(sum.version, 3);
    tiers_summary_free(&sum);
    dates(s, 3, "fast", got, sizeof got);
    assert_string_equal(got, "2024.01.10");
    dates(s, 3, "slow", got, sizeof got);
    assert_string_equal(got, "2024.01.06 2024.01.07 2024.01.08 2024.01.09");
    expect_column(s, 3, "slow/2024.01.06/trade/price", day("2024.01.06"), true);   /* moved before: kept */
    assert_int_equal(tiers_migrate(s, &o, &sum, &err), 0);
    assert_int_equal(sum.version, 0);
    assert_int_equal(sum.nmoves, 0);
    tiers_summary_free(&sum);
    assert_int_equal(store_current(s), 3);
    store_close(s);
    cfg_free(c);
}

static void size_share_moves_the_oldest(void **state)
{
    (void)state;
    struct cfg *c;
    struct store *s = fresh("size", &c, ", retain: {sizePct: 50}", "", false);
    put_days(s, "2024.01.01", 6);
    /* Each day is ~40 kB; a 1 MB filesystem 50 kB over its half: the two oldest go. */
    uint64_t per = 5000 * 8 + 16 + 10;
    struct tier_fs fs[2] = {{true, 1000000, 500000 + per + per / 2}, {true, 1000000, 0}};
    struct tiers_opts o = {.cfg = c, .now_ns = at("2024.01.11"), .fs = fs, .note = note_print};
    struct tiers_summary sum;
    struct smfs_err err;
    assert_int_equal(tiers_migrate(s, &o, &sum, &err), 0);
    assert_int_equal(sum.moved, 2);
    assert_int_equal(sum.moves[0].why, TIER_SIZE);
    tiers_summary_free(&sum);
    char got[512];
    dates(s, 2, "slow", got, sizeof got);
    assert_string_equal(got, "2024.01.01 2024.01.02");
    /* Within its share: nothing moves. */
    fs[0].used = 400000;
    assert_int_equal(tiers_migrate(s, &o, &sum, &err), 0);
    assert_int_equal(sum.nmoves, 0);
    tiers_summary_free(&sum);
    store_close(s);
    cfg_free(c);
}

static void object_storage_holds(void **state)
{
    (void)state;
    struct cfg *c;
    struct store *s = fresh("s3", &c, ", retain: {time: 3 days}", ", retain: {time: 5 days}", true);
    put_days(s, "2024.01.01", 4);
    struct tiers_opts o = {.cfg = c, .now_ns = at("2024.01.11"), .note = note_print};
    struct tiers_summary sum;
    struct smfs_err err;
    /* Past both local tiers, the next is object storage, and there are no credentials
     * for it: every such partition stays, and nothing is committed. */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(tiers_migrate(s, &o, &sum, &err), 0);
    assert_int_equal(sum.held, 4);
    assert_int_equal(sum.version, 0);
    tiers_summary_free(&sum);
    char got[512];
    dates(s, 1, "fast", got, sizeof got);
    assert_string_equal(got, "2024.01.01 2024.01.02 2024.01.03 2024.01.04");
    store_close(s);
    cfg_free(c);
}

static void a_fault_anywhere_leaves_the_version_before(void **state)
{
    (void)state;
    struct cfg *c;
    struct store *s = fresh("fault", &c, ", retain: {time: 3 days}", ", retain: {time: 7 days}", false);
    put_days(s, "2024.01.01", 10);
    struct tiers_opts o = {.cfg = c, .now_ns = at("2024.01.11")};
    struct tiers_summary sum;
    struct smfs_err err;
    unsigned n;
    for (n = 1;; n++) {
        fault_arm("*", n, FAULT_FAIL);
        int rc = tiers_migrate(s, &o, &sum, &err);
        fault_disarm();
        tiers_summary_free(&sum);
        if (rc == 0) break;
        assert_int_equal(rc, -EIO);
        assert_non_null(strstr(err.msg, "injected fault"));
        if (store_broken(s, NULL, 0) && store_repair(s, &err)) {
            store_close(s);
            assert_int_equal(import_store_open(c, false, &s, NULL, &err), 0);
        }
        /* The version before, or (a fault after the commit record) the version after. */
        uint64_t cur = store_current(s);
        assert_true(cur == 1 || cur == 2);
        if (cur == 2) break;
    }
    assert_true(n > 5);
    char got[512];
    dates(s, 2, "slow", got, sizeof got);
    assert_string_equal(got, "2024.01.04 2024.01.05 2024.01.06 2024.01.07");
    struct store_vacuum_opts vo = {.keep = 1};
    struct store_vacuum_report rep;
    assert_int_equal(store_vacuum(s, &vo, &rep, &err), 0);   /* the copies of failed runs go */
    struct store_verify_report vr;
    assert_int_equal(store_verify(s, NULL, NULL, &vr, &err), 0);
    expect_column(s, 2, "slow/2024.01.05/trade/price", day("2024.01.05"), true);
    store_close(s);
    cfg_free(c);
}

static void killed_at_every_step(void **state)
{
    (void)state;
    struct cfg *c;
    struct store *s = fresh("kill", &c, ", retain: {time: 3 days}", ", retain: {time: 7 days}", false);
    put_days(s, "2024.01.01", 10);
    store_close(s);
    struct smfs_err err;
    int before = 0, after = 0;
    for (unsigned n = 1; n < 500; n++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct store *cs;
            struct smfs_err e;
            if (import_store_open(c, false, &cs, NULL, &e)) _exit(2);
            struct tiers_opts o = {.cfg = c, .now_ns = at("2024.01.11")};
            struct tiers_summary sum;
            fault_arm("*", n, FAULT_KILL);
            _exit(tiers_migrate(cs, &o, &sum, &e) ? 3 : 0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_int_equal(import_store_open(c, false, &s, NULL, &err), 0);
        uint64_t v = store_current(s);
        assert_true(v == 1 || v == 2);
        struct store_verify_report vr;
        assert_int_equal(store_verify(s, NULL, NULL, &vr, &err), 0);
        if (WIFEXITED(st)) {   /* walked past the last point */
            assert_int_equal(WEXITSTATUS(st), 0);
            assert_int_equal(v, 2);
            store_close(s);
            break;
        }
        assert_true(WIFSIGNALED(st));
        if (v == 2) after++;
        else before++;
        /* The next run finishes the work, or finds nothing left to do. */
        struct tiers_opts o = {.cfg = c, .now_ns = at("2024.01.11")};
        struct tiers_summary sum;
        assert_int_equal(tiers_migrate(s, &o, &sum, &err), 0);
        assert_int_equal(sum.version, v == 1 ? 2 : 0);
        tiers_summary_free(&sum);
        char got[512];
        dates(s, 2, "slow", got, sizeof got);
        assert_string_equal(got, "2024.01.04 2024.01.05 2024.01.06 2024.01.07");
        expect_column(s, 2, "slow/2024.01.06/trade/price", day("2024.01.06"), true);
        struct store_vacuum_opts vo = {.keep = 1};
        struct store_vacuum_report rep;
        assert_int_equal(store_vacuum(s, &vo, &rep, &err), 0);   /* orphans of the killed run go */
        assert_int_equal(store_verify(s, NULL, NULL, &vr, &err), 0);
        store_close(s);
        /* Back to version 1 alone for the next kill: a fresh store. */
        cfg_free(c);
        char name[32];
        snprintf(name, sizeof name, "kill%u", n);
        s = fresh(name, &c, ", retain: {time: 3 days}", ", retain: {time: 7 days}", false);
        put_days(s, "2024.01.01", 10);
        store_close(s);
    }
    print_message("killed %d times: %d at the version before, %d after\n", before + after, before, after);
    assert_true(before > 5);
    assert_true(after > 0);
    cfg_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retention_clock),
        cmocka_unit_test(ages_out_through_both_tiers),
        cmocka_unit_test(size_share_moves_the_oldest),
        cmocka_unit_test(object_storage_holds),
        cmocka_unit_test(a_fault_anywhere_leaves_the_version_before),
        cmocka_unit_test(killed_at_every_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
