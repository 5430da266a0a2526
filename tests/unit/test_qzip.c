/* test_qzip: kdb+'s IPC compression reproduces kdb+'s bytes (§6.4) and its
 * decompressor survives hostile input. */
#include "testutil.h"

#include "core/qzip.h"

static const char *q1000 = "010001002d000000de070000800b00e80300007171ffaa7171ff7171ff7171ff7171ff2a7171ff7171ff7171bf";

static uint8_t *msg_1000q(size_t *n)
{
    /* 1000#`q as an async message: header, 0b 00 e8030000, 1000 × "q\0" */
    *n = 8 + 6 + 2000;
    uint8_t *m = malloc(*n);
    m[0] = 1; m[1] = 0; m[2] = 0; m[3] = 0;
    st32(m + 4, (uint32_t)*n);
    m[8] = 11; m[9] = 0;
    st32(m + 10, 1000);
    for (int i = 0; i < 1000; i++) { m[14 + 2 * i] = 'q'; m[15 + 2 * i] = 0; }
    return m;
}

static void compresses_exactly_like_kdb(void **state)
{
    (void)state;
    size_t n, zn;
    uint8_t *m = msg_1000q(&n);
    uint8_t *want = hex(q1000, &zn);
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(qzip_compress(m, n, &b), 0);
    assert_int_equal(b.len, zn);
    assert_memory_equal(b.p, want, zn);
    buf_release(&b);
    free(m);
    free(want);
}

static void decompresses_kdb_output(void **state)
{
    (void)state;
    size_t n, zn, outn;
    uint8_t *m = msg_1000q(&n);
    uint8_t *z = hex(q1000, &zn);
    uint8_t *out = NULL;
    struct smfs_err e;
    assert_int_equal(qzip_decompress(z, zn, 1 << 20, &out, &outn, &e), 0);
    assert_int_equal(outn, n);
    assert_memory_equal(out, m, n);
    free(out);
    free(z);
    free(m);
}

static void round_trips_mixed_data(void **state)
{
    (void)state;
    uint64_t s = 7;
    for (int iter = 0; iter < 200; iter++) {
        size_t n = 12 + (size_t)iter * 97;
        uint8_t *m = malloc(n);
        m[0] = 1; m[1] = 0; m[2] = 0; m[3] = 0;
        st32(m + 4, (uint32_t)n);
        for (size_t i = 8; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            /* compressible: short alphabet with runs */
            m[i] = (iter % 3) ? (uint8_t)("abcab"[(s >> 60) % 5]) : (uint8_t)(s >> 56);
        }
        struct buf b;
        buf_init(&b, 0);
        int rc = qzip_compress(m, n, &b);
        assert_true(rc == 0 || rc == 1);
        if (rc == 0) {
            assert_true(b.len < n / 2 + 1);
            uint8_t *out = NULL;
            size_t outn;
            struct smfs_err e;
            assert_int_equal(qzip_decompress(b.p, b.len, n, &out, &outn, &e), 0);
            assert_int_equal(outn, n);
            assert_memory_equal(out + 8, m + 8, n - 8);
            free(out);
        } else {
            assert_int_equal(b.len, 0);   /* "not worth it" appends nothing */
        }
        buf_release(&b);
        free(m);
    }
}

static void hostile_input_is_refused(void **state)
{
    (void)state;
    size_t zn;
    uint8_t *z = hex(q1000, &zn);
    struct smfs_err e;
    uint8_t *out;
    size_t outn;
    for (size_t cut = 0; cut < zn; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, z, cut);
        assert_true(qzip_decompress(c, cut, 1 << 20, &out, &outn, &e) < 0);
        free(c);
    }
    /* a claimed size over the limit */
    assert_int_equal(qzip_decompress(z, zn, 100, &out, &outn, &e), -EBADMSG);
    assert_string_equal(e.msg, "compressed message claims 2014 uncompressed bytes (allowed 8..100)");
    /* random streams after a valid header: error or success, never a crash */
    uint64_t s = 3;
    for (int iter = 0; iter < 5000; iter++) {
        for (size_t i = 12; i < zn; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            z[i] = (uint8_t)(s >> 56);
        }
        if (qzip_decompress(z, zn, 1 << 20, &out, &outn, &e) == 0) free(out);
    }
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compresses_exactly_like_kdb),
        cmocka_unit_test(decompresses_kdb_output),
        cmocka_unit_test(round_trips_mixed_data),
        cmocka_unit_test(hostile_input_is_refused),
    };
    return cmocka_run_group_tests_name("qzip", tests, NULL, NULL);
}
