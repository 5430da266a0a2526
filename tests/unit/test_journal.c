/* tests/unit/test_journal.c: tickerplant journals (core/journal) -- the real logs
 * kdb+tick wrote (../shared/samples/journals-advanced-kdb-tick-arch) read message by
 * message; a log cut at every byte of its last message stops cleanly at the torn tail
 * with the count and bytes of what is whole; a foreign file and a damaged message are
 * refused naming the file, the message number and the offset. */
#include "testutil.h"

#include <sys/stat.h>

#include "core/buf.h"
#include "ipc/journal.h"
#include "core/fileio.h"
#include "core/k_ser.h"

static const char *samples(void)
{
    static char dir[4200];
    const char *g = golden_dir();
    if (!g || strlen(g) > 4096) return NULL;
    snprintf(dir, sizeof dir, "%.4096s/../samples/journals-advanced-kdb-tick-arch", g);
    return access(dir, R_OK) == 0 ? dir : NULL;
}

#define SKIP_WITHOUT_SAMPLES()                                                         \
    do {                                                                               \
        if (!samples()) {                                                              \
            print_message("skipped: samples folder absent (../shared/samples)\n");     \
            skip();                                                                    \
        }                                                                              \
    } while (0)

/* Read a whole journal: messages, upd ones, rows per table, and the end. */
static int read_all(const char *path, uint64_t *msgs, uint64_t *upds, uint64_t *trade_rows, struct smfs_err *err)
{
    struct journal *j;
    int rc = journal_open(path, &j, err);
    if (rc) return rc;
    *msgs = *upds = *trade_rows = 0;
    for (;;) {
        struct k *m = NULL;
        uint64_t i, off;
        rc = journal_next(j, &m, &i, &off, err);
        if (rc) break;
        assert_int_equal(i, *msgs);
        (*msgs)++;
        const char *t;
        const struct k *d;
        struct smfs_err e;
        if (journal_upd(m, &t, &d, &e) == 0) {
            (*upds)++;
            if (!strcmp(t, "trade") && d->t == KT_LIST && d->n > 0) *trade_rows += (uint64_t)k_count(d->u.kk[0]);
        }
        k_free(m);
    }
    journal_close(j);
    return rc == 1 ? 0 : rc;
}

static void real_logs_read_whole(void **state)
{
    (void)state;
    SKIP_WITHOUT_SAMPLES();
    char p[4200];
    struct smfs_err err;
    uint64_t msgs, upds, rows;
    snprintf(p, sizeof p, "%s/schema2026.02.18", samples());
    assert_int_equal(read_all(p, &msgs, &upds, &rows, &err), 0);
    assert_int_equal(msgs, 17127);
    assert_int_equal(upds, 17127);
    print_message("schema2026.02.18: %llu messages, %llu trade rows\n", (unsigned long long)msgs,
                  (unsigned long long)rows);
    snprintf(p, sizeof p, "%s/schema2026.02.19", samples());
    assert_int_equal(read_all(p, &msgs, &upds, &rows, &err), 0);
    assert_int_equal(msgs, 418);
    assert_int_equal(upds, 418);
    snprintf(p, sizeof p, "%s/schema2026.02.25", samples());   /* header only */
    assert_int_equal(read_all(p, &msgs, &upds, &rows, &err), 0);
    assert_int_equal(msgs, 0);
    struct journal_scan sc;
    assert_int_equal(journal_scan(p, &sc, &err), 0);
    assert_true(sc.messages == 0 && sc.valid_bytes == 8 && !sc.torn);

    /* A list written with set: the header count is 10 and it is not all updates --
     * read as messages, and each non-update said to be one. */
    snprintf(p, sizeof p, "%s/debug/tplog", samples());
    struct journal *j;
    assert_int_equal(journal_open(p, &j, &err), 0);
    uint64_t n = 0, not_upd = 0;
    for (;;) {
        struct k *m = NULL;
        int rc = journal_next(j, &m, NULL, NULL, &err);
        if (rc) {
            if (rc != 1) print_message("tplog: %s\n", err.msg);
            break;
        }
        const char *t;
        const struct k *d;
        struct smfs_err e = {0};
        if (journal_upd(m, &t, &d, &e)) {
            not_upd++;
            assert_true(strstr(e.msg, "not an update") != NULL);
        }
        k_free(m);
        n++;
    }
    journal_close(j);
    print_message("debug/tplog: %llu objects, %llu of them not updates\n", (unsigned long long)n,
                  (unsigned long long)not_upd);
    assert_int_equal(n, 10);
}

/* Cut a real log at every byte of its last few messages: the scan counts exactly the
 * whole messages before the cut, and says where the torn one starts. */
static void a_torn_tail_stops_cleanly_at_every_cut(void **state)
{
    (void)state;
    SKIP_WITHOUT_SAMPLES();
    char src[4200], cut[4200];
    snprintf(src, sizeof src, "%s/schema2026.02.19", samples());
    snprintf(cut, sizeof cut, "%s/torn", test_tmpdir());
    uint8_t *all;
    size_t len;
    struct smfs_err err;
    assert_int_equal(file_read_all(src, 1 << 24, &all, &len, &err), 0);
    /* Offsets of the last three messages. */
    struct journal *j;
    assert_int_equal(journal_open(src, &j, &err), 0);
    uint64_t offs[500], nm = 0;
    for (;;) {
        struct k *m = NULL;
        uint64_t off;
        if (journal_next(j, &m, NULL, &off, &err)) break;
        k_free(m);
        offs[nm++] = off;
    }
    journal_close(j);
    assert_int_equal(nm, 418);
    for (size_t at = (size_t)offs[nm - 3]; at < len; at++) {
        FILE *f = fopen(cut, "w");
        assert_int_equal(fwrite(all, 1, at, f), at);
        fclose(f);
        struct journal_scan sc;
        assert_int_equal(journal_scan(cut, &sc, &err), 0);
        uint64_t whole = 0;
        while (whole < nm && offs[whole] < at &&
               (whole + 1 < nm ? offs[whole + 1] <= at : len <= at)) whole++;
        if (sc.messages != whole) fail_msg("cut at %zu: %llu messages, want %llu", at, (unsigned long long)sc.messages,
                                           (unsigned long long)whole);
        bool at_boundary = whole == nm || offs[whole] == at;
        assert_int_equal(sc.torn, !at_boundary);
        if (sc.torn) {
            char want[128];
            snprintf(want, sizeof want, "message %llu at offset %llu is cut short", (unsigned long long)whole,
                     (unsigned long long)offs[whole]);
            if (!strstr(sc.why, want)) fail_msg("cut at %zu: '%s' lacks '%s'", at, sc.why, want);
            assert_non_null(strstr(sc.why, cut));
            assert_int_equal(sc.valid_bytes, offs[whole]);
        }
    }
    free(all);
}

static void foreign_files_and_bad_messages_are_named(void **state)
{
    (void)state;
    char p[4200];
    struct smfs_err err;
    struct journal *j;
    snprintf(p, sizeof p, "%s/notlog", test_tmpdir());
    FILE *f = fopen(p, "w");
    fputs("\xfe\x20\x07\x00\x00\x00\x00\x00 a kdb+ vector file, not a log", f);
    fclose(f);
    assert_int_equal(journal_open(p, &j, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "is not a tickerplant journal"));
    assert_non_null(strstr(err.msg, p));

    /* Two good messages, then a byte that is no type at all. */
    struct buf b;
    buf_init(&b, 1 << 20);
    const uint8_t hdr[8] = {0xff, 0x01, 0, 0, 0, 0, 0, 0};
    assert_int_equal(buf_append(&b, hdr, 8), 0);
    for (int i = 0; i < 2; i++) {
        struct k *m = k_list(3), *cols = k_list(1), *v = k_vec(KT_LONG, 2);
        k_list_set(m, 0, k_sym("upd"));
        k_list_set(m, 1, k_sym("trade"));
        k_list_set(cols, 0, v);
        k_list_set(m, 2, cols);
        assert_int_equal(k_serialize(m, &b, &err), 0);
        k_free(m);
    }
    size_t bad_at = b.len;
    const uint8_t junk[] = {0x55, 1, 2, 3};
    assert_int_equal(buf_append(&b, junk, sizeof junk), 0);
    snprintf(p, sizeof p, "%s/badmsg", test_tmpdir());
    f = fopen(p, "w");
    assert_int_equal(fwrite(b.p, 1, b.len, f), b.len);
    fclose(f);
    buf_release(&b);
    assert_int_equal(journal_open(p, &j, &err), 0);
    assert_int_equal(journal_skip(j, 2, &err), 0);
    struct k *m = NULL;
    assert_int_equal(journal_next(j, &m, NULL, NULL, &err), -EBADMSG);
    char want[128];
    snprintf(want, sizeof want, "message 2 at offset %zu does not decode", bad_at);
    if (!strstr(err.msg, want)) fail_msg("'%s' lacks '%s'", err.msg, want);
    journal_close(j);
    struct journal_scan sc;
    assert_int_equal(journal_scan(p, &sc, &err), 0);
    assert_true(sc.messages == 2 && sc.torn && sc.valid_bytes == bad_at);

    /* A growing log: a message cut short now is whole after the writer finishes it. */
    f = fopen(p, "w");
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append(&b, hdr, 8), 0);
    struct k *one = k_list(3), *cols = k_list(1);
    k_list_set(one, 0, k_sym("upd"));
    k_list_set(one, 1, k_sym("quote"));
    k_list_set(cols, 0, k_vec(KT_FLOAT, 3));
    k_list_set(one, 2, cols);
    assert_int_equal(k_serialize(one, &b, &err), 0);
    k_free(one);
    assert_int_equal(fwrite(b.p, 1, b.len - 5, f), b.len - 5);
    fflush(f);
    assert_int_equal(journal_open(p, &j, &err), 0);
    assert_int_equal(journal_next(j, &m, NULL, NULL, &err), -ENODATA);
    assert_int_equal(fwrite(b.p + b.len - 5, 1, 5, f), 5);
    fclose(f);
    assert_int_equal(journal_refresh(j, &err), 0);
    assert_int_equal(journal_next(j, &m, NULL, NULL, &err), 0);
    k_free(m);
    assert_int_equal(journal_next(j, &m, NULL, NULL, &err), 1);
    assert_int_equal(journal_index(j), 1);
    assert_int_equal(journal_offset(j), b.len);
    journal_close(j);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_logs_read_whole),
        cmocka_unit_test(a_torn_tail_stops_cleanly_at_every_cut),
        cmocka_unit_test(foreign_files_and_bad_messages_are_named),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
