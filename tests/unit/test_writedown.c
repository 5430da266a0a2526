/* tests/unit/test_writedown.c: a day's rows from the intraday store written as date
 * partitions in one commit (core/writedown). Rows of three dates (one of them late for
 * a day already written), every column decoding to exactly the rows sent, sorted by
 * sym then time, p# on sym and s# nowhere it does not hold, symbols resolving through
 * sym, .d in schema order, an empty table where a date has no rows of it, the tier's
 * compression; a late day merged and re-sorted while the version before keeps its
 * rows; the same spill twice writes nothing; a failure injected at any step leaves the
 * version as it was, and a writer killed at every step leaves the version before or
 * after with every row once. */
#include "testutil.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/config.h"
#include "core/fault.h"
#include "core/fileio.h"
#include "core/import.h"
#include "core/k_fmt.h"
#include "core/kdb.h"
#include "core/spill.h"
#include "core/store.h"
#include "core/writedown.h"

static int seq;

/* The embedded default's tables (trade: sym time price size ex cond, sym parted) with
 * the HDB under BASE; ZIP: a compression line for the tier, or "". */
static struct cfg *cfg_at(const char *base, const char *zip)
{
    const char *d = cfg_default_yaml, *cut = strstr(d, "bus:");
    char y[8192];
    snprintf(y, sizeof y, "%.*sbus:\n  stream: {protocol: tp, nodes: [\"localhost:5010\"]}\n"
             "mounts:\n  rdb: {type: stream, baseURI: none, partition: none}\n"
             "  hdb: {type: local, baseURI: \"file://%s\", partition: date}\n"
             "elements:\n  sm:\n    source: stream\n    tiers:\n      - {name: stream, mount: rdb}\n"
             "      - {name: hdb, mount: hdb%s}\n", (int)(cut - d), d, base, zip);
    struct cfg *c = NULL;
    struct smfs_err err;
    int rc = cfg_parse("t.yaml", y, strlen(y), &c, &err);
    if (rc && c)
        for (size_t i = 0; i < c->ndiags; i++) print_message("cfg: %s\n", c->diags[i].msg);
    assert_int_equal(rc, 0);
    return c;
}

static const char *SYMS[] = {"MSFT", "AAPL", "IBM", "GOOG", "VOD.L"};
#define DAY(d) ((int64_t)(d) * K_NS_PER_DAY)

/* A trade row: sym, time, price, size (= id, to find it again), ex, cond. */
static struct k *trade_row(int32_t day, int64_t id)
{
    struct k *r = k_list(6);
    k_list_set(r, 0, k_sym(SYMS[(id * 7) % 5]));
    k_list_set(r, 1, k_timestamp(DAY(day) + 36000000000000 + (id % 97) * 1000000000 + id));
    k_list_set(r, 2, k_float(100 + (double)id / 8));
    k_list_set(r, 3, k_long(id));
    k_list_set(r, 4, k_char("NLQ"[id % 3]));
    char s[16];
    snprintf(s, sizeof s, "c%lld", (long long)(id % 9));
    k_list_set(r, 5, k_str(s, id % 4 ? strlen(s) : 0));
    return r;
}

static struct k *quote_row(int32_t day, int64_t id)
{
    struct k *r = k_list(8);
    k_list_set(r, 0, k_sym(SYMS[id % 5]));
    k_list_set(r, 1, k_timestamp(DAY(day) + 40000000000000 + id));
    k_list_set(r, 2, k_float(10));
    k_list_set(r, 3, k_float(11));
    k_list_set(r, 4, k_long(id));
    k_list_set(r, 5, k_long(1));
    k_list_set(r, 6, k_char('N'));
    k_list_set(r, 7, k_str("m", 1));
    return r;
}

static struct spill *spill_with(const char *dir, const struct cfg *cfg, const int32_t *days, const int64_t *ids, int n,
                                int nquote, int32_t qday)
{
    struct spill_opts o = {.cfg = cfg};
    struct spill *sp;
    struct smfs_err err;
    assert_int_equal(spill_create(dir, "/logs/sym", &o, &sp, &err), 0);
    for (int i = 0; i < n; i++) {
        struct k *r = trade_row(days[i], ids[i]);
        if (spill_append(sp, "trade", r, 0, NULL, &err)) fail_msg("%s", err.msg);
        k_free(r);
    }
    for (int i = 0; i < nquote; i++) {
        struct k *r = quote_row(qday, i);
        assert_int_equal(spill_append(sp, "quote", r, 0, NULL, &err), 0);
        k_free(r);
    }
    assert_int_equal(spill_seal(sp, days[0], &err), 0);
    return sp;
}

/* Column NAME of PATH (a table directory) in version SNAP. */
static struct k *col(struct store *s, struct store_snap *snap, const char *table, const char *name)
{
    char p[600], hp[610], obj[4200], hobj[4200];
    snprintf(p, sizeof p, "%s/%s", table, name);
    snprintf(hp, sizeof hp, "%s#", p);
    struct store_entry e, he;
    struct smfs_err err;
    if (store_lookup(snap, p, &e, &err)) fail_msg("%s: %s", p, err.msg);
    assert_int_equal(store_object_path(s, &e, obj, sizeof obj, &err), 0);
    struct k *x = NULL;
    if (store_lookup(snap, hp, &he, &err) == 0) {
        assert_int_equal(store_object_path(s, &he, hobj, sizeof hobj, &err), 0);
        uint8_t *a, *b;
        size_t al, bl;
        struct kdb_file f, hf;
        const uint8_t *ap, *bp;
        (void)a, (void)b;
        assert_int_equal(kdb_file_open(&f, obj, &err), 0);
        assert_int_equal(kdb_file_open(&hf, hobj, &err), 0);
        assert_int_equal(kdb_file_content(&f, &ap, &al, &err), 0);
        assert_int_equal(kdb_file_content(&hf, &bp, &bl, &err), 0);
        if (kdb_decode_nested(ap, al, bp, bl, p, &x, &err)) fail_msg("%s: %s", p, err.msg);
        kdb_file_close(&f);
        kdb_file_close(&hf);
    } else if (kdb_load(obj, &x, &err)) {
        fail_msg("%s: %s", p, err.msg);
    }
    return x;
}

/* The partition DAY of TABLE holds exactly the rows with ids IDS (any order sent),
 * sorted by sym name then time, p# on sym, every value as made. */
static void expect_trade(struct store *s, struct store_snap *snap, int32_t day, const int64_t *ids, int n)
{
    char dir[64], ds[16];
    int y, m, d;
    k_ymd_from_days(day, &y, &m, &d);
    snprintf(ds, sizeof ds, "%04d.%02d.%02d", y, m, d);
    snprintf(dir, sizeof dir, "hdb/%s/trade", ds);
    struct k *dcols = col(s, snap, dir, ".d"), *sym = col(s, snap, "", "sym") , *c[6];
    const char *names[] = {"sym", "time", "price", "size", "ex", "cond"};
    assert_int_equal(dcols->n, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(k_symv_at(dcols, i), names[i]);
        c[i] = col(s, snap, dir, names[i]);
        assert_int_equal(k_count(c[i]), n);
    }
    assert_int_equal(c[0]->attr, KA_PARTED);
    assert_int_equal(c[1]->attr, KA_NONE);   /* time is sorted within each sym only */
    int seen = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t id = ((int64_t *)c[3]->u.v)[i];
        int k = 0;
        while (k < n && ids[k] != id) k++;
        if (k == n) fail_msg("%s: row %lld has id %lld, not sent for this day", dir, (long long)i, (long long)id);
        seen++;
        struct k *want = trade_row(day, id);
        const char *nm = k_symv_at(sym, ((int64_t *)c[0]->u.v)[i]);
        assert_string_equal(nm, want->u.kk[0]->u.s);
        assert_true(((int64_t *)c[1]->u.v)[i] == want->u.kk[1]->u.j);
        assert_true(((double *)c[2]->u.v)[i] == want->u.kk[2]->u.f);
        assert_int_equal(((char *)c[4]->u.v)[i], want->u.kk[4]->u.g);
        assert_true(k_equal(c[5]->u.kk[i], want->u.kk[5]));
        k_free(want);
        if (i) {
            const char *prev = k_symv_at(sym, ((int64_t *)c[0]->u.v)[i - 1]);
            int cmp = strcmp(prev, nm);
            assert_true(cmp < 0 || (cmp == 0 && ((int64_t *)c[1]->u.v)[i - 1] <= ((int64_t *)c[1]->u.v)[i]));
        }
    }
    assert_int_equal(seen, n);
    for (int i = 0; i < 6; i++) k_free(c[i]);
    k_free(dcols);
    k_free(sym);
}

static void note_print(void *arg, const char *line)
{
    (void)arg;
    print_message("note: %s\n", line);
}

static void a_day_and_its_late_rows(void **state)
{
    (void)state;
    char base[4200], sd[4300];
    snprintf(base, sizeof base, "%s/wd%d", test_tmpdir(), seq++);
    struct cfg *cfg = cfg_at(base, ", compression: {algorithm: lz4hc, block: 17, level: 9}");
    struct store *s;
    struct smfs_err err;
    assert_int_equal(import_store_open(cfg, true, &s, NULL, &err), 0);
    int32_t d1, d0;
    assert_true(k_parse_date("2026.02.18", &d1));
    d0 = d1 - 1;
    /* Day 1: 300 rows on d1, 20 that arrived after midnight dated d1 + 1; no quote on d1 + 1. */
    int32_t days[320];
    int64_t ids[320];
    for (int i = 0; i < 320; i++) {
        days[i] = i < 300 ? d1 : d1 + 1;
        ids[i] = (i * 37) % 320;   /* arrival order is not time order */
    }
    snprintf(sd, sizeof sd, "%s/spill1", base);
    struct spill *sp = spill_with(sd, cfg, days, ids, 320, 50, d1);
    struct wd_opts o = {.cfg = cfg, .date = d1, .id = "spill1:/logs/sym", .oldest = INT32_MIN, .note = note_print};
    struct wd_summary sum;
    if (writedown_eod(s, sp, &o, &sum, &err)) fail_msg("%s", err.msg);
    assert_int_equal(sum.version, 1);
    assert_int_equal(sum.rows, 370);
    assert_int_equal(sum.partitions, 2);
    assert_true(sum.new_syms == 5 && sum.first == d1 && sum.last == d1 + 1);
    struct store_snap *v1;
    assert_int_equal(store_snap_get(s, 1, &v1, &err), 0);
    int64_t want1[300], want2[20];
    for (int i = 0; i < 320; i++) (i < 300 ? want1 : want2)[i < 300 ? i : i - 300] = ids[i];
    expect_trade(s, v1, d1, want1, 300);
    expect_trade(s, v1, d1 + 1, want2, 20);
    struct k *q = col(s, v1, "hdb/2026.02.19/quote", "sym");   /* no quote rows: an empty table */
    assert_int_equal(q->n, 0);
    assert_int_equal(q->attr, KA_PARTED);
    k_free(q);
    /* compressed as the tier says */
    struct store_entry e;
    char obj[4200];
    assert_int_equal(store_lookup(v1, "hdb/2026.02.18/trade/price", &e, &err), 0);
    assert_int_equal(store_object_path(s, &e, obj, sizeof obj, &err), 0);
    struct kdb_file f;
    assert_int_equal(kdb_file_open(&f, obj, &err), 0);
    assert_true(f.compressed && f.z.alg == 4);
    kdb_file_close(&f);
    /* The same spill again: nothing. */
    assert_int_equal(writedown_eod(s, sp, &o, &sum, &err), 0);
    assert_true(sum.already && sum.version == 0);
    bool done;
    assert_int_equal(writedown_done(s, "spill1:/logs/sym", &done, &err), 0);
    assert_true(done);
    spill_close(sp);

    /* Day 2: 40 late rows for d1 (merged), 10 for d0 (a new old day), 5 for d1 + 2. */
    int32_t days2[55];
    int64_t ids2[55];
    for (int i = 0; i < 55; i++) {
        days2[i] = i < 40 ? d1 : i < 50 ? d0 : d1 + 2;
        ids2[i] = 1000 + i;
    }
    snprintf(sd, sizeof sd, "%s/spill2", base);
    sp = spill_with(sd, cfg, days2, ids2, 55, 0, d1);
    o.id = "spill2:/logs/sym";
    assert_int_equal(writedown_eod(s, sp, &o, &sum, &err), 0);
    assert_int_equal(sum.version, 2);
    assert_int_equal(sum.late_rows, 40);
    struct store_snap *v2;
    assert_int_equal(store_snap_get(s, 2, &v2, &err), 0);
    int64_t merged[340];
    memcpy(merged, want1, sizeof want1);
    memcpy(merged + 300, ids2, 40 * sizeof *ids2);
    expect_trade(s, v2, d1, merged, 340);
    expect_trade(s, v2, d0, ids2 + 40, 10);
    expect_trade(s, v2, d1 + 2, ids2 + 50, 5);
    expect_trade(s, v2, d1 + 1, want2, 20);   /* untouched */
    expect_trade(s, v1, d1, want1, 300);      /* the version before keeps its rows */
    /* Rows older than every local tier keeps are refused and counted. */
    spill_close(sp);
    snprintf(sd, sizeof sd, "%s/spill3", base);
    sp = spill_with(sd, cfg, days2, ids2, 55, 0, d1);
    o.id = "spill3:/logs/sym";
    o.oldest = d1;
    assert_int_equal(writedown_eod(s, sp, &o, &sum, &err), 0);
    assert_int_equal(sum.refused_rows, 10);
    spill_close(sp);
    store_snap_put(v1);
    store_snap_put(v2);
    store_close(s);
    cfg_free(cfg);
}

/* A date in the object-storage tier is immutable: rows for it are refused and counted,
 * the others written; its entries have no local object, and verify counts them apart. */
static void rows_for_a_day_in_object_storage_are_refused(void **state)
{
    (void)state;
    char base[4200], sd[4300];
    snprintf(base, sizeof base, "%s/wd%d", test_tmpdir(), seq++);
    struct cfg *cfg = cfg_at(base, "}\n      - {name: s3, mount: hdb, store: \"s3://bkt/db\"");
    struct store *s;
    struct smfs_err err;
    assert_int_equal(import_store_open(cfg, true, &s, NULL, &err), 0);
    int32_t d1;
    assert_true(k_parse_date("2026.02.18", &d1));
    /* The day before is in the bucket (as a migration leaves it). */
    struct store_tx *tx;
    assert_int_equal(store_tx_begin(s, &tx, &err), 0);
    assert_int_equal(store_tx_put_remote(tx, ".smfs/s3/s3/2026.02.17/trade/price", 816, 42, true, &err), 0);
    uint64_t v;
    assert_int_equal(store_tx_commit(tx, &v, &err), 0);
    int32_t days[60];
    int64_t ids[60];
    for (int i = 0; i < 60; i++) {
        days[i] = i < 45 ? d1 : d1 - 1;
        ids[i] = i;
    }
    snprintf(sd, sizeof sd, "%s/spill", base);
    struct spill *sp = spill_with(sd, cfg, days, ids, 60, 0, d1);
    struct wd_opts o = {.cfg = cfg, .date = d1, .id = "spill:/logs/sym", .oldest = INT32_MIN, .note = note_print};
    struct wd_summary sum;
    if (writedown_eod(s, sp, &o, &sum, &err)) fail_msg("%s", err.msg);
    assert_int_equal(sum.refused_rows, 15);
    struct store_snap *snap;
    assert_int_equal(store_snap_get(s, 0, &snap, &err), 0);
    expect_trade(s, snap, d1, ids, 45);
    struct store_entry e;
    assert_int_equal(store_lookup(snap, "hdb/2026.02.17", &e, &err), -ENOENT);
    assert_int_equal(store_lookup(snap, ".smfs/s3/s3/2026.02.17/trade/price", &e, &err), 0);
    assert_true(e.flags & STORE_F_REMOTE);
    assert_int_equal(store_object_open(s, &e, &err), -EREMOTE);
    store_snap_put(snap);
    struct store_verify_report rep;
    assert_int_equal(store_verify(s, NULL, NULL, &rep, &err), 0);
    assert_int_equal(rep.remote, 1);
    spill_close(sp);
    store_close(s);
    cfg_free(cfg);
}

/* A failure injected at each step (ours and the store's): the version stays, and the
 * spill is written whole by the next try. */
static void a_failure_anywhere_changes_nothing(void **state)
{
    (void)state;
    char base[4200], sd[4300];
    snprintf(base, sizeof base, "%s/wd%d", test_tmpdir(), seq++);
    struct cfg *cfg = cfg_at(base, "");
    struct store *s;
    struct smfs_err err;
    assert_int_equal(import_store_open(cfg, true, &s, NULL, &err), 0);
    int32_t d1;
    assert_true(k_parse_date("2026.02.18", &d1));
    int32_t days[100];
    int64_t ids[100];
    for (int i = 0; i < 100; i++) days[i] = d1, ids[i] = i;
    snprintf(sd, sizeof sd, "%s/spill", base);
    struct spill *sp = spill_with(sd, cfg, days, ids, 100, 10, d1);
    struct wd_opts o = {.cfg = cfg, .date = d1, .id = "spill", .oldest = INT32_MIN, .threads = 1};
    struct wd_summary sum;
    unsigned n, durable = 0;
    for (n = 1;; n++) {
        fault_arm("*", n, FAULT_FAIL);
        int rc = writedown_eod(s, sp, &o, &sum, &err);
        unsigned passed = fault_count();
        fault_disarm();
        if (rc == 0) break;
        assert_int_equal(rc, -EIO);
        assert_non_null(strstr(err.msg, "injected fault"));
        assert_true(passed >= n);
        if (!store_broken(s, NULL, 0) || !store_repair(s, &err)) {
            assert_int_equal(store_current(s), 0);
            continue;
        }
        /* "needs reopen", as the daemon would: the commit record may have been durable
         * before the fault (then the day is there, whole), or not. */
        store_close(s);
        assert_int_equal(import_store_open(cfg, false, &s, NULL, &err), 0);
        if (store_current(s) == 1) {
            durable++;
            struct store_snap *v;
            assert_int_equal(store_snap_get(s, 1, &v, &err), 0);
            expect_trade(s, v, d1, ids, 100);
            store_snap_put(v);
            assert_int_equal(writedown_eod(s, sp, &o, &sum, &err), 0);
            assert_true(sum.already);
            store_close(s);
            char rm[4400];
            snprintf(rm, sizeof rm, "rm -rf %s/data", base);
            assert_int_equal(system(rm), 0);
            assert_int_equal(import_store_open(cfg, true, &s, NULL, &err), 0);
        }
        assert_int_equal(store_current(s), 0);
    }
    print_message("writedown: %u fault points: %u left the version before, %u the day whole\n", n - 1, n - 1 - durable,
                  durable);
    assert_int_equal(store_current(s), 1);
    struct store_snap *v;
    assert_int_equal(store_snap_get(s, 1, &v, &err), 0);
    expect_trade(s, v, d1, ids, 100);
    store_snap_put(v);
    spill_close(sp);
    store_close(s);
    cfg_free(cfg);
}

/* A child writing the day is killed at each step in turn; the parent reopens the
 * store: the version before (no partition) or after (every row once), then writes the
 * day if it was not, and never twice. */
static void killed_at_every_step_the_day_is_written_once(void **state)
{
    (void)state;
    char base[4200], sd[4300];
    snprintf(base, sizeof base, "%s/wd%d", test_tmpdir(), seq++);
    struct cfg *cfg = cfg_at(base, "");
    struct smfs_err err;
    int32_t d1;
    assert_true(k_parse_date("2026.02.18", &d1));
    int32_t days[60];
    int64_t ids[60];
    for (int i = 0; i < 60; i++) days[i] = d1, ids[i] = i;
    snprintf(sd, sizeof sd, "%s/spill", base);
    struct store *s;
    assert_int_equal(import_store_open(cfg, true, &s, NULL, &err), 0);
    store_close(s);
    struct spill *sp0 = spill_with(sd, cfg, days, ids, 60, 5, d1);
    spill_close(sp0);
    int after = 0, before = 0;
    for (unsigned n = 1; n < 200; n++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct store *cs;
            struct spill *csp;
            struct spill_opts so = {.cfg = cfg};
            struct smfs_err e;
            if (import_store_open(cfg, false, &cs, NULL, &e) || spill_open(sd, &so, &csp, &e)) _exit(2);
            struct wd_opts o = {.cfg = cfg, .date = d1, .id = "spill", .oldest = INT32_MIN, .threads = 1};
            struct wd_summary sum;
            fault_arm("*", n, FAULT_KILL);
            int rc = writedown_eod(cs, csp, &o, &sum, &e);
            _exit(rc ? 3 : sum.already ? 4 : 0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_int_equal(import_store_open(cfg, false, &s, NULL, &err), 0);
        uint64_t v = store_current(s);
        if (WIFEXITED(st)) {   /* walked past the last point: done */
            assert_int_equal(WEXITSTATUS(st), 0);
            assert_int_equal(v, 1);
            store_close(s);
            break;
        }
        assert_true(WIFSIGNALED(st));
        if (v == 1) after++;
        else before++;
        /* Recovery: what the daemon does at start -- write it unless it was. */
        struct spill *sp;
        struct spill_opts so = {.cfg = cfg};
        assert_int_equal(spill_open(sd, &so, &sp, &err), 0);
        struct wd_opts o = {.cfg = cfg, .date = d1, .id = "spill", .oldest = INT32_MIN, .threads = 1};
        struct wd_summary sum;
        assert_int_equal(writedown_eod(s, sp, &o, &sum, &err), 0);
        assert_true(v == 1 ? sum.already : sum.version == 1);
        struct store_snap *snap;
        assert_int_equal(store_snap_get(s, 0, &snap, &err), 0);
        expect_trade(s, snap, d1, ids, 60);
        store_snap_put(snap);
        spill_close(sp);
        store_close(s);
        /* Back to no version for the next round: a fresh store. */
        char rm[4400];
        snprintf(rm, sizeof rm, "rm -rf %s/data", base);
        assert_int_equal(system(rm), 0);
        assert_int_equal(import_store_open(cfg, true, &s, NULL, &err), 0);
        store_close(s);
    }
    print_message("writedown killed at %d steps: %d left the version before, %d the version after\n", before + after,
                  before, after);
    assert_true(before > 5 && after >= 1);
    cfg_free(cfg);
}

/* Intervals of an open spill become IDB partitions 0, 1 (each written once), and the
 * spill's end of day takes them out of the IDB in the same commit that writes the day. */
static void intervals_then_the_day(void **state)
{
    (void)state;
    char base[4200], sd[4300];
    snprintf(base, sizeof base, "%s/wd%d", test_tmpdir(), seq++);
    struct cfg *cfg = cfg_at(base, "");
    struct store *s;
    struct smfs_err err;
    assert_int_equal(import_store_open(cfg, true, &s, NULL, &err), 0);
    int32_t d1;
    assert_true(k_parse_date("2026.02.18", &d1));
    struct spill_opts so = {.cfg = cfg};
    struct spill *sp;
    snprintf(sd, sizeof sd, "%s/spill", base);
    assert_int_equal(spill_create(sd, "/logs/sym", &so, &sp, &err), 0);
    int64_t ids[250];
    for (int i = 0; i < 250; i++) {
        ids[i] = i;
        struct k *r = trade_row(d1, i);
        assert_int_equal(spill_append(sp, "trade", r, 0, NULL, &err), 0);
        k_free(r);
        if (i == 99) assert_int_equal(spill_add_eoi(sp, 1000, &err), 0);
    }
    assert_int_equal(spill_add_eoi(sp, 2000, &err), 0);
    assert_int_equal(spill_neoi(sp), 2);
    /* The writer reads it read-only while the owner could go on appending. */
    struct spill *ro;
    assert_int_equal(spill_open_ro(sd, &so, &ro, &err), 0);
    assert_int_equal(spill_neoi(ro), 2);
    uint64_t zero[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        const struct spill_eoi *e = spill_eoi(ro, (size_t)k);
        struct wd_opts o = {.cfg = cfg, .id = "spill:/logs/sym", .oldest = INT32_MIN, .interval = k,
                            .from = k ? spill_eoi(ro, 0)->rows : zero, .to = e->rows, .end_ns = e->end_ns};
        struct wd_summary sum;
        if (writedown_eoi(s, ro, &o, &sum, &err)) fail_msg("%s", err.msg);
        assert_int_equal(sum.ordinal, k);
        assert_int_equal(sum.rows, k ? 150 : 100);
        assert_int_equal(writedown_eoi(s, ro, &o, &sum, &err), 0);   /* again: nothing */
        assert_true(sum.already);
    }
    spill_close(ro);
    struct store_snap *v;
    assert_int_equal(store_snap_get(s, 0, &v, &err), 0);
    struct k *c0 = col(s, v, "idb/0/trade", "size"), *c1 = col(s, v, "idb/1/trade", "size"),
             *q = col(s, v, "idb/1/quote", "sym"), *y = col(s, v, "idb/1/trade", "sym");
    assert_true(c0->n == 100 && c1->n == 150 && q->n == 0 && y->attr == KA_NONE);   /* attrOrd: none */
    int64_t sum_ids = 0;
    for (int64_t i = 0; i < c1->n; i++) sum_ids += ((int64_t *)c1->u.v)[i];
    assert_int_equal(sum_ids, (100 + 249) * 150 / 2);
    k_free(c0), k_free(c1), k_free(q), k_free(y);
    int64_t end;
    assert_int_equal(writedown_idb_end(s, v, &end, &err), 0);
    assert_int_equal(end, 2000);
    store_snap_put(v);
    /* The day: all 250 rows in the HDB, the IDB empty again. */
    assert_int_equal(spill_seal(sp, d1, &err), 0);
    struct wd_opts o = {.cfg = cfg, .date = d1, .id = "spill:/logs/sym", .oldest = INT32_MIN};
    struct wd_summary sum;
    assert_int_equal(writedown_eod(s, sp, &o, &sum, &err), 0);
    assert_int_equal(store_snap_get(s, 0, &v, &err), 0);
    expect_trade(s, v, d1, ids, 250);
    struct store_entry e;
    assert_int_equal(store_lookup(v, "idb/0", &e, &err), -ENOENT);
    assert_int_equal(store_lookup(v, WRITEDOWN_EOI, &e, &err), -ENOENT);
    assert_int_equal(writedown_idb_end(s, v, &end, &err), 0);
    assert_true(end == KNULL_J);
    store_snap_put(v);
    spill_close(sp);
    store_close(s);
    cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_day_and_its_late_rows),
        cmocka_unit_test(rows_for_a_day_in_object_storage_are_refused),
        cmocka_unit_test(a_failure_anywhere_changes_nothing),
        cmocka_unit_test(killed_at_every_step_the_day_is_written_once),
        cmocka_unit_test(intervals_then_the_day),
    };
    return cmocka_run_group_tests_name("writedown", tests, NULL, NULL);
}
