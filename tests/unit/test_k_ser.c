/* test_k_ser: q serialization is byte-exact against the vectors kdb+ produced
 * (reference/kdb-formats.md §6) and refuses hostile bodies cleanly. */
#include "testutil.h"

#include <math.h>

#include "core/k_fmt.h"
#include "core/k_ser.h"

/* Full messages (8-byte header + body) from §6.1–6.3, with what q shows for them. */
static const struct { const char *q; const char *msg; } vectors[] = {
    { "1i", "010000000d000000fa01000000" },
    { ",1i", "010000001200000006000100000001000000" },
    { "0x0001020304", "01000000130000000400050000000001020304" },
    { ",0x0001020304", "01000000190000000000010000000400050000000001020304" },
    { "`a`b!2 3i", "0100000021000000630b0002000000610062000600020000000200000003000000" },
    { "`s#`a`b!2 3i", "01000000210000007f0b0102000000610062000600020000000200000003000000" },
    { "`a`b!(,2i;,3i)", "010000002d000000630b0002000000610062000000020000000600010000000200000006000100000003000000" },
    { "+`a`b!(,2i;,3i)", "010000002f0000006200630b0002000000610062000000020000000600010000000200000006000100000003000000" },
    { "+`a`b!(,2i;,3i)", "010000002f0000006201630b0002000000610062000000020000000603010000000200000006000100000003000000" },
    { "(+(,`a)!,,2i)!+(,`b)!,,3i", "010000003f000000636200630b00010000006100000001000000060001000000020000006200630b0001000000620000000100000006000100000003000000" },
    { "{x+y}", "010000001500000064000a00050000007b782b797d" },
    { "1", "0100000011000000f90100000000000000" },
    { "-234h", "010000000b000000fb16ff" },
    { "0b", "010000000a000000ff00" },
    { "0x2a", "010000000a000000fc2a" },
    { "3.234", "0100000011000000f7ac1c5a643bdf0940" },
    { "5.5e", "010000000d000000f80000b040" },
    { "\"0\"", "010000000a000000f630" },
    { "\"abc\"", "01000000110000000a0003000000616263" },
    { "\"\"", "010000000e0000000a0000000000" },
    { "`abc", "010000000d000000f561626300" },
    { "`", "010000000a000000f500" },
    { "2000.01.04D05:36:57.600000000", "0100000011000000f400c0cafa20fe0000" },
    { "2001.01m", "010000000d000000f30c000000" },
    { "2001.01.01", "010000000d000000f26e010000" },
    { "2000.01.04T05:36:57.600", "0100000011000000f1ac1c5a643bdf0940" },
    { "0D05:36:57.600000000", "0100000011000000f000c0dd4663120000" },
    { "12:01", "010000000d000000efd1020000" },
    { "12:05:00", "010000000d000000eeeca90000" },
    { "12:04:59.123", "010000000d000000ed73be9702" },
    { "0Nh", "010000000b000000fb0080" },
    { "0Ni", "010000000d000000fa00000080" },
    { "0N", "0100000011000000f90000000000000080" },
    { "0Ne", "010000000d000000f80000c07f" },
    { "0n", "0100000011000000f7000000000000f87f" },
    { "0Np", "0100000011000000f40000000000000080" },
    { "()", "010000000e000000000000000000" },
    { "1 2 3", "0100000026000000070003000000010000000000000002000000000000000300000000000000" },
    { "`the`quick`brown`fox", "01000000220000000b000400000074686500717569636b0062726f776e00666f7800" },
    { "(1;`bcd;\"0bc\";5.5e)", "010000002a000000000004000000f90100000000000000f5626364000a0003000000306263f80000b040" },
    { "::", "010000000a0000006500" },
    { "(,`a)!,1", "010000001f000000630b000100000061000700010000000100000000000000" },
    { "+`abc`def!(1 2 3;4 5 6)", "010000005b0000006200630b00020000006162630064656600000002000000070003000000010000000000000002000000000000000300000000000000070003000000040000000000000005000000000000000600000000000000" },
    { "8c680a01-5a49-5aab-5a65-d4bfddb6a661", "0100000019000000fe8c680a015a495aab5a65d4bfddb6a661" },
    { "0Ng", "0100000019000000fe00000000000000000000000000000000" },
    { "'type", "010200000e000000807479706500" },
    { "1.5", "0100000011000000f7000000000000f83f" },
    { "2000.01.02", "010000000d000000f201000000" },
    { "1 2 3i", "010000001a000000060003000000010000000200000003000000" },
    { "`.sm.api.reloadComplete`mount", "010000002b0000000b00020000002e736d2e6170692e72656c6f6164436f6d706c657465006d6f756e7400" },
    { "(`.sm.api.register;`hdb;0D00:05:00.000000000;`.da.reload)", "010100003a000000000004000000f52e736d2e6170692e726567697374657200f568646200f000b864d945000000f52e64612e72656c6f616400" },
    { "(`.da.reload;`mount`ts!(`hdb;2024.01.02D03:04:05.000000000))", "010000003e000000000002000000f52e64612e72656c6f616400630b00020000006d6f756e7400747300000002000000f568646200f40032bedde71b830a" },
    { "`.u.sub`trade`", "010100001c0000000b00030000002e752e7375620074726164650000" },
};

static void vectors_round_trip_byte_for_byte(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n;
        uint8_t *m = hex(vectors[i].msg, &n);
        assert_int_equal(le32(m + 4), n);
        struct k *x = NULL;
        struct smfs_err e = { 0 };
        size_t used = 0;
        int rc = k_deserialize(m + 8, n - 8, false, &x, &used, &e);
        if (rc) fail_msg("vector %zu (%s): %s", i, vectors[i].q, e.msg);
        assert_int_equal(used, n - 8);
        struct buf b;
        buf_init(&b, 0);
        assert_int_equal(k_serialize(x, &b, &e), 0);
        assert_int_equal(b.len, n - 8);
        assert_memory_equal(b.p, m + 8, n - 8);
        assert_int_equal(k_ser_size(x), (int64_t)(n - 8));
        /* and q prints it as documented */
        b.len = 0;
        assert_int_equal(k_fmt(x, 100, &b), 0);
        if (b.len != strlen(vectors[i].q) || memcmp(b.p, vectors[i].q, b.len))
            fail_msg("vector %zu renders as '%.*s', q shows '%s'", i, (int)b.len, (char *)b.p, vectors[i].q);
        buf_release(&b);
        k_free(x);
        free(m);
    }
}

static void decoded_values_are_right(void **state)
{
    (void)state;
    size_t n;
    uint8_t *m = hex("0100000022000000000004000000f90100000000000000f5626364000a0003000000306263f80000b040", &n);
    struct k *x = NULL;
    struct smfs_err e;
    assert_int_equal(k_deserialize(m + 8, n - 8, false, &x, NULL, &e), 0);
    assert_int_equal(x->t, KT_LIST);
    assert_int_equal(x->n, 4);
    assert_int_equal(x->u.kk[0]->t, -KT_LONG);
    assert_int_equal(x->u.kk[0]->u.j, 1);
    assert_string_equal(x->u.kk[1]->u.s, "bcd");
    assert_int_equal(x->u.kk[2]->n, 3);
    assert_memory_equal(x->u.kk[2]->u.v, "0bc", 3);
    assert_true(x->u.kk[3]->u.e == 5.5f);
    k_free(x);
    free(m);
}

static void big_endian_bodies_decode_to_the_same_values(void **state)
{
    (void)state;
    /* 1 2 3i and `a!2.5 sent by a big-endian kdb+ (header byte 0 = 0). */
    size_t n1, n2;
    uint8_t *le = hex("060003000000010000000200000003000000", &n1);
    uint8_t *be = hex("060000000003000000010000000200000003", &n2);
    struct k *a = NULL, *b = NULL;
    struct smfs_err e;
    assert_int_equal(k_deserialize(le, n1, false, &a, NULL, &e), 0);
    assert_int_equal(k_deserialize(be, n2, true, &b, NULL, &e), 0);
    assert_true(k_equal(a, b));
    k_free(a);
    k_free(b);
    free(le);
    free(be);
    uint8_t f_be[] = { 0xf7, 0x40, 0x04, 0, 0, 0, 0, 0, 0 };   /* 2.5 */
    assert_int_equal(k_deserialize(f_be, sizeof f_be, true, &a, NULL, &e), 0);
    assert_true(a->u.f == 2.5);
    k_free(a);
}

static void every_truncation_is_an_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n;
        uint8_t *m = hex(vectors[i].msg, &n);
        for (size_t cut = 0; cut < n - 8; cut++) {
            struct k *x = NULL;
            struct smfs_err e = { 0 };
            uint8_t *c = malloc(cut ? cut : 1);   /* exact size, so ASan sees any overread */
            memcpy(c, m + 8, cut);
            int rc = k_deserialize(c, cut, false, &x, NULL, &e);
            if (rc == 0) fail_msg("vector %zu cut to %zu bytes decoded", i, cut);
            assert_null(x);
            assert_true(e.msg[0] != '\0');
            free(c);
        }
        free(m);
    }
}

static void lying_counts_are_refused_before_allocation(void **state)
{
    (void)state;
    /* a long vector claiming 2^31-1 items in 14 bytes */
    uint8_t m[] = { 7, 0, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8 };
    struct k *x = NULL;
    struct smfs_err e = { 0 };
    assert_int_equal(k_deserialize(m, sizeof m, false, &x, NULL, &e), -EBADMSG);
    assert_string_equal(e.msg, "long vector at offset 0 claims 2147483647 items (17179869176 bytes), 8 bytes left");
    /* a general list nested deeper than the limit */
    uint8_t deep[6 * (K_SER_MAX_DEPTH + 5)];
    for (size_t i = 0; i < sizeof deep; i += 6) {
        deep[i] = 0; deep[i + 1] = 0; deep[i + 2] = 1; deep[i + 3] = deep[i + 4] = deep[i + 5] = 0;
    }
    assert_int_equal(k_deserialize(deep, sizeof deep, false, &x, NULL, &e), -EBADMSG);
    assert_non_null(strstr(e.msg, "nesting deeper than"));
    /* a dictionary with 2 keys and 1 value */
    uint8_t d[] = { 99, 11, 0, 2, 0, 0, 0, 'a', 0, 'b', 0, 7, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(k_deserialize(d, sizeof d, false, &x, NULL, &e), -EBADMSG);
    assert_string_equal(e.msg, "dictionary at offset 0 has 2 keys and 1 values");
    /* an unknown type */
    uint8_t u[] = { 50, 0 };
    assert_int_equal(k_deserialize(u, sizeof u, false, &x, NULL, &e), -EBADMSG);
}

static void random_bytes_never_crash(void **state)
{
    (void)state;
    uint64_t s = 42;
    int refused = 0, decoded = 0, unsendable = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 1 + (size_t)(iter % 64);
        uint8_t *p = malloc(n);
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            p[i] = (uint8_t)(s >> 56);
        }
        if (iter % 3 == 0) p[0] = (uint8_t)(iter % 20);   /* bias toward real vector types */
        struct k *x = NULL;
        struct smfs_err e = {0};
        int rc = k_deserialize(p, n, iter & 1, &x, NULL, &e);
        if (rc == 0) {
            /* What decodes encodes again, to bytes that decode to the same object --
             * or is one of the documented values kdb+ cannot send back (-EINVAL,
             * with a message). */
            struct buf b;
            buf_init(&b, 0);
            int src = k_serialize(x, &b, &e);
            if (src) {
                assert_int_equal(src, -EINVAL);
                assert_true(strlen(e.msg) > 0);
                unsendable++;
            } else {
                assert_true(b.len > 0);
                struct k *y = NULL;
                assert_int_equal(k_deserialize(b.p, b.len, false, &y, NULL, &e), 0);
                assert_true(k_equal(x, y));
                k_free(y);
            }
            buf_release(&b);
            k_free(x);
            decoded++;
        } else {
            /* A refusal is an error with its code and a message saying why. */
            refused++;
            assert_true(rc < 0);
            assert_int_equal(e.code, rc);
            assert_true(strlen(e.msg) > 0);
            assert_null(x);
        }
        free(p);
    }
    assert_true(refused > 0 && decoded > 0);
    print_message("random bytes: %d refused with a message, %d decoded (%d of them not serializable back)\n",
                  refused, decoded, unsendable);
}

static void copy_and_equal_agree(void **state)
{
    (void)state;
    size_t n;
    uint8_t *m = hex(vectors[42].msg, &n);   /* a table */
    struct k *x = NULL, *y;
    struct smfs_err e;
    assert_int_equal(k_deserialize(m + 8, n - 8, false, &x, NULL, &e), 0);
    y = k_copy(x);
    assert_true(k_equal(x, y));
    ((int64_t *)y->u.kk[0]->u.kk[1]->u.kk[0]->u.v)[1] = 99;
    assert_false(k_equal(x, y));
    assert_int_equal(k_count(x), 3);
    k_free(x);
    k_free(y);
    free(m);
}

static void enums_and_nan_are_handled(void **state)
{
    (void)state;
    struct k *en = k_enum("sym", 2);
    struct buf b;
    buf_init(&b, 0);
    struct smfs_err e;
    assert_int_equal(k_serialize(en, &b, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "must be resolved to symbols"));
    assert_int_equal(b.len, 0);
    k_free(en);
    struct k *f = k_float(NAN);
    assert_int_equal(k_fmt(f, 10, &b), 0);
    assert_memory_equal(b.p, "0n", 2);
    buf_release(&b);
    k_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vectors_round_trip_byte_for_byte),
        cmocka_unit_test(decoded_values_are_right),
        cmocka_unit_test(big_endian_bodies_decode_to_the_same_values),
        cmocka_unit_test(every_truncation_is_an_error),
        cmocka_unit_test(lying_counts_are_refused_before_allocation),
        cmocka_unit_test(random_bytes_never_crash),
        cmocka_unit_test(copy_and_equal_agree),
        cmocka_unit_test(enums_and_nan_are_handled),
    };
    return cmocka_run_group_tests_name("k_ser", tests, NULL, NULL);
}
