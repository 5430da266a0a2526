/* tests/unit/test_spill.c: the intraday store (core/spill). Rows of every column kind
 * (fixed, symbol, nested, nested symbols, mixed) in each update form kdb+tick uses
 * read back equal; a checkpoint is exactly what a reopen finds, whatever was appended
 * after it; updates that do not fit the schema are refused by column and type with
 * nothing appended; memory stays within the budget; damaged and stale spills are
 * named; and a process killed at random moments while appending and checkpointing
 * always reopens at a checkpoint whose rows are the first rows sent, in order. */
#include "testutil.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/config.h"
#include "core/k_fmt.h"
#include "core/spill.h"

static const char yaml[] =
    "name: t\n"
    "tables:\n"
    "  trade:\n    type: partitioned\n    prtnCol: time\n    blockSize: 1000\n    columns:\n"
    "      - {name: time, type: timestamp}\n      - {name: sym, type: symbol}\n"
    "      - {name: price, type: float}\n      - {name: size, type: long}\n"
    "      - {name: cond, type: string}\n      - {name: tags, type: symbols}\n"
    "      - {name: extra, type: \"\"}\n"
    "  quote:\n    type: partitioned\n    prtnCol: time\n    columns:\n"
    "      - {name: time, type: timestamp}\n      - {name: sym, type: symbol}\n"
    "      - {name: bid, type: float}\n"
    "%s"
    "bus:\n  stream: {protocol: tp, nodes: [\"localhost:5010\"]}\n"
    "mounts:\n  rdb: {type: stream, baseURI: none, partition: none}\n"
    "  hdb: {type: local, baseURI: \"file:///tmp/x\", partition: date}\n"
    "elements:\n  sm:\n    source: stream\n    tiers:\n"
    "      - {name: stream, mount: rdb}\n      - {name: hdb, mount: hdb}\n";

static struct cfg *load(const char *more)
{
    char text[4096];
    snprintf(text, sizeof text, yaml, more);
    struct cfg *c = NULL;
    struct smfs_err err;
    int rc = cfg_parse("t.yaml", text, strlen(text), &c, &err);
    if (rc && c)
        for (size_t i = 0; i < c->ndiags; i++) print_message("cfg: %s\n", c->diags[i].msg);
    assert_int_equal(rc, 0);
    return c;
}

static const char *names[] = {"AAPL", "MSFT", "IBM", "GOOG", "", "VOD.L"};

/* Row I of trade, as one atom per column (the one-row form). */
static struct k *row_atoms(int64_t i)
{
    struct k *r = k_list(7);
    k_list_set(r, 0, k_timestamp(i * 1000000));
    k_list_set(r, 1, k_sym(names[i % 6]));
    k_list_set(r, 2, k_float((double)i / 4));
    k_list_set(r, 3, k_long(i * 7));
    char s[32];
    int n = snprintf(s, sizeof s, "c%lld", (long long)(i % 13));
    k_list_set(r, 4, k_str(s, i % 5 == 0 ? 0 : (size_t)n));     /* some empty strings */
    struct k *tags = k_vec(KT_SYM, i % 3);
    for (int64_t j = 0; j < tags->n; j++) assert_int_equal(k_symv_set(tags, j, names[(i + j) % 6]), 0);
    k_list_set(r, 5, tags);
    k_list_set(r, 6, i % 2 ? k_long(i) : k_sym(names[i % 6]));  /* mixed: any object */
    return r;
}

/* Rows [from, from+n) of trade as a list of columns (how kdb+tick logs them). */
static struct k *cols_of(int64_t from, int64_t n)
{
    struct k *c = k_list(7);
    struct k *t = k_vec(KT_TIMESTAMP, n), *s = k_vec(KT_SYM, n), *p = k_vec(KT_FLOAT, n), *z = k_vec(KT_LONG, n);
    struct k *cond = k_list(n), *tags = k_list(n), *ex = k_list(n);
    for (int64_t i = 0; i < n; i++) {
        struct k *r = row_atoms(from + i);
        ((int64_t *)t->u.v)[i] = r->u.kk[0]->u.j;
        assert_int_equal(k_symv_set(s, i, r->u.kk[1]->u.s), 0);
        ((double *)p->u.v)[i] = r->u.kk[2]->u.f;
        ((int64_t *)z->u.v)[i] = r->u.kk[3]->u.j;
        k_list_set(cond, i, k_copy(r->u.kk[4]));
        k_list_set(tags, i, k_copy(r->u.kk[5]));
        k_list_set(ex, i, k_copy(r->u.kk[6]));
        k_free(r);
    }
    k_list_set(c, 0, t);
    k_list_set(c, 1, s);
    k_list_set(c, 2, p);
    k_list_set(c, 3, z);
    k_list_set(c, 4, cond);
    k_list_set(c, 5, tags);
    k_list_set(c, 6, ex);
    return c;
}

static struct k *as_table(struct k *cols)
{
    const char *nm[] = {"time", "sym", "price", "size", "cond", "tags", "extra"};
    return k_table(k_dict(k_symv(nm, 7), cols));
}

/* Rows [from, from+n) read back equal what was sent. */
static void expect_rows(struct spill *sp, int64_t from, int64_t n)
{
    struct k *got = NULL, *want = as_table(cols_of(from, n));
    struct smfs_err err;
    assert_int_equal(spill_read(sp, "trade", (uint64_t)from, (uint64_t)n, &got, &err), 0);
    if (!k_equal(got, want)) {
        struct buf a, b;
        buf_init(&a, 1 << 20);
        buf_init(&b, 1 << 20);
        assert_int_equal(k_fmt(got, 20, &a) | k_fmt(want, 20, &b), 0);
        fail_msg("rows %lld..%lld differ:\n got  %.*s\n want %.*s", (long long)from, (long long)(from + n),
                 (int)a.len, a.p, (int)b.len, b.p);
    }
    k_free(got);
    k_free(want);
}

static void every_form_and_kind_reads_back(void **state)
{
    (void)state;
    struct cfg *cfg = load("");
    struct spill_opts o = {.cfg = cfg};
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/sp1", test_tmpdir());
    struct spill *sp;
    struct smfs_err err;
    assert_int_equal(spill_create(dir, "/logs/sym2026.02.18", &o, &sp, &err), 0);
    uint64_t rows;
    /* 0..99 as columns, 100 as one row of atoms, 101..150 as a table. */
    struct k *c = cols_of(0, 100);
    assert_int_equal(spill_append(sp, "trade", c, 0, &rows, &err), 0);
    assert_int_equal(rows, 100);
    k_free(c);
    struct k *r = row_atoms(100);
    assert_int_equal(spill_append(sp, "trade", r, 0, &rows, &err), 0);
    assert_int_equal(rows, 1);
    k_free(r);
    struct k *t = as_table(cols_of(101, 50));
    assert_int_equal(spill_append(sp, "trade", t, 0, &rows, &err), 0);
    k_free(t);
    assert_int_equal(spill_rows(sp, "trade"), 151);
    expect_rows(sp, 0, 151);
    expect_rows(sp, 37, 60);
    /* A replay hands the same rows again: SKIP drops the ones already held. */
    c = cols_of(140, 20);
    assert_int_equal(spill_append(sp, "trade", c, 11, &rows, &err), 0);
    assert_int_equal(rows, 20);
    k_free(c);
    assert_int_equal(spill_rows(sp, "trade"), 160);
    expect_rows(sp, 0, 160);
    spill_close(sp);
    assert_int_equal(spill_remove(dir, &err), 0);
    cfg_free(cfg);
}

static void a_reopen_finds_exactly_the_checkpoint(void **state)
{
    (void)state;
    struct cfg *cfg = load("");
    struct spill_opts o = {.cfg = cfg, .budget = 4096};
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/sp2", test_tmpdir());
    struct spill *sp;
    struct smfs_err err;
    assert_int_equal(spill_create(dir, "/logs/sym2026.02.18", &o, &sp, &err), 0);
    for (int64_t i = 0; i < 3000; i += 100) {
        struct k *c = cols_of(i, 100);
        assert_int_equal(spill_append(sp, "trade", c, 0, NULL, &err), 0);
        k_free(c);
        struct spill_stats st;
        spill_stats(sp, &st);
        /* The budget holds, give or take one update. */
        assert_true(st.bytes_mem < 4096 + 64 * 1024);
    }
    uint64_t mrows[2] = {2500, 0};
    struct spill_mark m = {.offset = 12345, .index = 77, .rows = mrows};
    assert_int_equal(spill_checkpoint(sp, &m, &err), 0);
    for (int64_t i = 3000; i < 3500; i += 100) {   /* after the checkpoint: will be lost */
        struct k *c = cols_of(i, 100);
        assert_int_equal(spill_append(sp, "trade", c, 0, NULL, &err), 0);
        k_free(c);
    }
    struct spill_stats st;
    spill_stats(sp, &st);
    assert_true(st.bytes_disk > 0);
    spill_close(sp);   /* a crash: no checkpoint */
    assert_int_equal(spill_open(dir, &o, &sp, &err), 0);
    assert_int_equal(spill_rows(sp, "trade"), 3000);
    assert_int_equal(spill_rows(sp, "quote"), 0);
    assert_string_equal(spill_log(sp), "/logs/sym2026.02.18");
    const struct spill_mark *mk = spill_mark(sp);
    assert_true(mk->offset == 12345 && mk->index == 77 && mk->rows[0] == 2500);
    expect_rows(sp, 0, 3000);
    /* Appending goes on from the checkpoint. */
    struct k *c = cols_of(3000, 10);
    assert_int_equal(spill_append(sp, "trade", c, 0, NULL, &err), 0);
    k_free(c);
    expect_rows(sp, 2990, 20);
    /* Sealed: nothing more, and it stays sealed. */
    int32_t day;
    assert_true(k_parse_date("2026.02.18", &day));
    assert_int_equal(spill_seal(sp, day, &err), 0);
    c = cols_of(0, 1);
    assert_int_equal(spill_append(sp, "trade", c, 0, NULL, &err), -EROFS);
    k_free(c);
    spill_close(sp);
    assert_int_equal(spill_open(dir, &o, &sp, &err), 0);
    int32_t d2 = 0;
    assert_true(spill_sealed(sp, &d2));
    assert_int_equal(d2, day);
    assert_int_equal(spill_rows(sp, "trade"), 3010);
    spill_close(sp);
    assert_int_equal(spill_remove(dir, &err), 0);
    cfg_free(cfg);
}

static void updates_that_do_not_fit_are_refused_by_name(void **state)
{
    (void)state;
    struct cfg *cfg = load("");
    struct spill_opts o = {.cfg = cfg};
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/sp3", test_tmpdir());
    struct spill *sp;
    struct smfs_err err;
    assert_int_equal(spill_create(dir, "/logs/x", &o, &sp, &err), 0);
    struct k *c = cols_of(0, 10);
    assert_int_equal(spill_append(sp, "trade", c, 0, NULL, &err), 0);

    /* price as longs */
    struct k *bad = k_copy(c);
    k_list_set(bad, 2, k_vec(KT_LONG, 10));
    assert_int_equal(spill_append(sp, "trade", bad, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "column price is a long vector, the assembly says float"));
    k_free(bad);
    /* a short column */
    bad = k_copy(c);
    k_list_set(bad, 3, k_vec(KT_LONG, 9));
    assert_int_equal(spill_append(sp, "trade", bad, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "column size has 9 rows"));
    k_free(bad);
    /* a string column of chars, not strings */
    bad = k_copy(c);
    k_list_set(bad, 4, k_str("abcdefghij", 10));
    assert_int_equal(spill_append(sp, "trade", bad, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "column cond is a char vector, the assembly says string"));
    k_free(bad);
    /* a nested row of the wrong type */
    bad = k_copy(c);
    k_list_set(bad->u.kk[5], 3, k_vec(KT_LONG, 2));
    assert_int_equal(spill_append(sp, "trade", bad, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "column tags is a general list whose row 3 is a long vector"));
    k_free(bad);
    /* too few columns, a dictionary, an unknown table, a table with a renamed column */
    struct k *few = k_list(2);
    k_list_set(few, 0, k_vec(KT_TIMESTAMP, 1));
    k_list_set(few, 1, k_vec(KT_SYM, 1));
    assert_int_equal(spill_append(sp, "trade", few, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "2 columns, the assembly has 7"));
    assert_int_equal(spill_append(sp, "nosuch", few, 0, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "no table nosuch"));
    k_free(few);
    struct k *atom = k_long(3);
    assert_int_equal(spill_append(sp, "trade", atom, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "the data is a long atom"));
    k_free(atom);
    const char *nm[] = {"time", "sym", "px", "size", "cond", "tags", "extra"};
    struct k *tb = k_table(k_dict(k_symv(nm, 7), k_copy(c)));
    assert_int_equal(spill_append(sp, "trade", tb, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "column 3 is px, the assembly says price"));
    k_free(tb);
    /* One row whose sym is a vector */
    struct k *r = row_atoms(0);
    k_list_set(r, 1, k_vec(KT_SYM, 1));
    assert_int_equal(spill_append(sp, "trade", r, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "column sym is a symbol vector"));
    k_free(r);
    /* Nothing of any of them was appended. */
    assert_int_equal(spill_rows(sp, "trade"), 10);
    expect_rows(sp, 0, 10);
    k_free(c);
    spill_close(sp);
    assert_int_equal(spill_remove(dir, &err), 0);
    cfg_free(cfg);
}

static void damaged_and_stale_spills_are_named(void **state)
{
    (void)state;
    struct cfg *cfg = load("");
    struct spill_opts o = {.cfg = cfg};
    char dir[4200], p[4300];
    snprintf(dir, sizeof dir, "%s/sp4", test_tmpdir());
    struct spill *sp;
    struct smfs_err err;
    assert_int_equal(spill_create(dir, "/logs/x", &o, &sp, &err), 0);
    struct k *c = cols_of(0, 50);
    assert_int_equal(spill_append(sp, "trade", c, 0, NULL, &err), 0);
    k_free(c);
    assert_int_equal(spill_checkpoint(sp, NULL, &err), 0);
    spill_close(sp);
    /* A column file shorter than its checkpoint. */
    snprintf(p, sizeof p, "%s/trade/price", dir);
    assert_int_equal(truncate(p, 8 * 20), 0);
    assert_int_equal(spill_open(dir, &o, &sp, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "holds 160 bytes, its checkpoint says 400"));
    /* A STATE edited by hand fails its checksum. */
    snprintf(p, sizeof p, "%s/STATE", dir);
    FILE *f = fopen(p, "r+");
    fseek(f, 20, SEEK_SET);
    fputc('#', f);
    fclose(f);
    assert_int_equal(spill_open(dir, &o, &sp, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "fails its checksum"));
    assert_int_equal(spill_remove(dir, &err), 0);

    /* Written under one schema, opened under another: price became a long. */
    assert_int_equal(spill_create(dir, "/logs/x", &o, &sp, &err), 0);
    spill_close(sp);
    struct cfg *c2 = load("");
    for (size_t i = 0; i < c2->tables[0].ncols; i++)
        if (!strcmp(c2->tables[0].cols[i].name, "price")) c2->tables[0].cols[i].type = KT_LONG;
    struct spill_opts o2 = {.cfg = c2};
    assert_int_equal(spill_open(dir, &o2, &sp, &err), -ESTALE);
    assert_non_null(strstr(err.msg, "column price of trade was spilled as type f, the assembly now says j"));
    cfg_free(c2);
    /* A table the assembly gained is simply empty. */
    struct cfg *c3 = load("  extra2:\n    type: partitioned\n    prtnCol: time\n    columns:\n"
                          "      - {name: time, type: timestamp}\n      - {name: v, type: int}\n");
    struct spill_opts o3 = {.cfg = c3};
    assert_int_equal(spill_open(dir, &o3, &sp, &err), 0);
    assert_int_equal(spill_rows(sp, "extra2"), 0);
    spill_close(sp);
    cfg_free(c3);
    /* A creation that never finished (no STATE) is -ENOENT. */
    snprintf(p, sizeof p, "%s/STATE", dir);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(spill_open(dir, &o, &sp, &err), -ENOENT);
    assert_int_equal(spill_remove(dir, &err), 0);
    cfg_free(cfg);
}

/* A child appends batches of 7 rows and checkpoints after every third batch, until it
 * is killed; each reopen must find a checkpoint: a multiple of 21 rows, the first rows
 * sent, in order, and at least as many as the last reopen found. */
static void killed_at_random_it_reopens_at_a_checkpoint(void **state)
{
    (void)state;
    struct cfg *cfg = load("");
    struct spill_opts o = {.cfg = cfg, .budget = 2048};
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/sp5", test_tmpdir());
    struct spill *sp;
    struct smfs_err err;
    assert_int_equal(spill_create(dir, "/logs/x", &o, &sp, &err), 0);
    spill_close(sp);
    srand(7);
    int64_t last = 0;
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct spill *c;
            struct smfs_err e;
            if (spill_open(dir, &o, &c, &e)) _exit(2);
            int64_t at = spill_rows(c, "trade");
            for (int b = 0;; b++) {
                struct k *x = cols_of(at, 7);
                if (spill_append(c, "trade", x, 0, NULL, &e)) _exit(3);
                k_free(x);
                at += 7;
                if (b % 3 == 2 && spill_checkpoint(c, NULL, &e)) _exit(4);
            }
        }
        usleep((useconds_t)(20000 + rand() % 80000));
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(spill_open(dir, &o, &sp, &err), 0);
        int64_t n = spill_rows(sp, "trade");
        assert_int_equal(n % 21, 0);
        assert_true(n >= last);
        if (n) expect_rows(sp, 0, n);
        last = n;
        spill_close(sp);
    }
    print_message("20 kills: %lld rows held at the end\n", (long long)last);
    assert_true(last > 0);
    assert_int_equal(spill_remove(dir, &err), 0);
    cfg_free(cfg);
}

/* The schema .u.sub answers, against the assembly. */
static struct k *schema_of(const char *const *nm, const int8_t *types, int n)
{
    struct k *v = k_list(n);
    for (int i = 0; i < n; i++) k_list_set(v, i, types[i] ? k_vec(types[i], 0) : k_list(0));
    return k_table(k_dict(k_symv(nm, n), v));
}

static void tickerplant_schemas_are_checked_by_column(void **state)
{
    (void)state;
    struct cfg *cfg = load("");
    struct smfs_err err;
    size_t untyped;
    const char *nm[] = {"time", "sym", "price", "size", "cond", "tags", "extra"};
    int8_t ty[] = {KT_TIMESTAMP, KT_SYM, KT_FLOAT, KT_LONG, 0, 0, 0};
    struct k *s = schema_of(nm, ty, 7);
    assert_int_equal(spill_schema_check(cfg, "trade", s, &untyped, &err), 0);
    assert_int_equal(untyped, 0);
    k_free(s);
    /* kdb+tick's own time column is a timespan */
    ty[0] = KT_TIMESPAN;
    s = schema_of(nm, ty, 7);
    assert_int_equal(spill_schema_check(cfg, "trade", s, &untyped, &err), -EINVAL);
    assert_string_equal(err.msg, "table trade: column time is timespan on the tickerplant, timestamp in the assembly");
    k_free(s);
    /* an untyped price is checked per update instead */
    ty[0] = KT_TIMESTAMP;
    ty[2] = 0;
    s = schema_of(nm, ty, 7);
    assert_int_equal(spill_schema_check(cfg, "trade", s, &untyped, &err), 0);
    assert_int_equal(untyped, 1);
    k_free(s);
    /* a char column where the assembly has strings, a missing column, an extra one */
    ty[2] = KT_FLOAT;
    ty[4] = KT_CHAR;
    s = schema_of(nm, ty, 7);
    assert_int_equal(spill_schema_check(cfg, "trade", s, &untyped, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "column cond is char on the tickerplant, string (each row a char vector)"));
    k_free(s);
    ty[4] = 0;
    s = schema_of(nm, ty, 6);
    assert_int_equal(spill_schema_check(cfg, "trade", s, &untyped, &err), -EINVAL);
    assert_string_equal(err.msg, "table trade: column extra (mixed) is missing on the tickerplant");
    k_free(s);
    const char *nm8[] = {"time", "sym", "price", "size", "cond", "tags", "extra", "venue"};
    int8_t ty8[] = {KT_TIMESTAMP, KT_SYM, KT_FLOAT, KT_LONG, 0, 0, 0, KT_SYM};
    s = schema_of(nm8, ty8, 8);
    assert_int_equal(spill_schema_check(cfg, "trade", s, &untyped, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "the tickerplant has a column venue (symbol) the assembly does not"));
    k_free(s);
    assert_int_equal(spill_schema_check(cfg, "nosuch", NULL, &untyped, &err), -ENOENT);
    cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_form_and_kind_reads_back),
        cmocka_unit_test(a_reopen_finds_exactly_the_checkpoint),
        cmocka_unit_test(updates_that_do_not_fit_are_refused_by_name),
        cmocka_unit_test(damaged_and_stale_spills_are_named),
        cmocka_unit_test(killed_at_random_it_reopens_at_a_checkpoint),
        cmocka_unit_test(tickerplant_schemas_are_checked_by_column),
    };
    return cmocka_run_group_tests_name("spill", tests, NULL, NULL);
}
