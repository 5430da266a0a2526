/* tests/unit/test_qcall.c: calls written as text (core/qcall) -- every literal form a
 * DAP sends to SM parses to the K object q would make, and everything else (an
 * expression, a lambda, an assignment) is refused with the character where it stops. */
#include "testutil.h"

#include <math.h>

#include "core/k_fmt.h"
#include "core/qcall.h"

/* Parse TEXT and render its arguments as q prints them. */
static char *args_of(const char *text, char **name)
{
    struct k *a = NULL;
    struct smfs_err e = {0};
    int rc = qcall_parse(text, strlen(text), name, &a, &e);
    if (rc) fail_msg("'%s' refused: %s", text, e.msg);
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(k_fmt(a, 100, &b), 0);
    assert_int_equal(buf_append_zero(&b, 1), 0);
    k_free(a);
    size_t n;
    return (char *)buf_take(&b, &n);
}

static void expect_call(const char *text, const char *name, const char *args)
{
    char *nm = NULL, *got = args_of(text, &nm);
    assert_string_equal(nm, name);
    if (strcmp(got, args)) fail_msg("'%s': arguments %s, want %s", text, got, args);
    free(nm);
    free(got);
}

static void expect_refused(const char *text, const char *why)
{
    char *nm = NULL;
    struct k *a = NULL;
    struct smfs_err e = {0};
    int rc = qcall_parse(text, strlen(text), &nm, &a, &e);
    if (rc == 0) fail_msg("'%s' was accepted", text);
    assert_int_equal(rc, -EINVAL);
    assert_null(nm);
    assert_null(a);
    if (!strstr(e.msg, why)) fail_msg("'%s': message '%s' lacks '%s'", text, e.msg, why);
}

static void the_forms_a_dap_sends_parse(void **state)
{
    (void)state;
    expect_call(".sm.api.getStatus[]", ".sm.api.getStatus", ",::");
    expect_call("  .sm.api.getStatus[ ]  ", ".sm.api.getStatus", ",::");
    expect_call(".sm.api.getStatus[::]", ".sm.api.getStatus", ",::");
    expect_call(".sm.api.getStatus (::)", ".sm.api.getStatus", ",::");
    expect_call(".sm.api.register[`hdb;0D00:05:00;`onReload]", ".sm.api.register",
                "(`hdb;0D00:05:00.000000000;`onReload)");
    expect_call(".sm.api.register[`hdb; 1b ;`onReload]", ".sm.api.register", "(`hdb;1b;`onReload)");
    expect_call(".sm.api.register[`rdb;0Nn;`cb]", ".sm.api.register", "(`rdb;0Nn;`cb)");
    expect_call(".sm.api.register[`idb;00:10;`cb]", ".sm.api.register", "(`idb;00:10;`cb)");
    expect_call(".sm.api.register[`idb;00:10:30;`cb]", ".sm.api.register", "(`idb;00:10:30;`cb)");
    expect_call(".sm.api.register[`idb;00:10:30.250;`cb]", ".sm.api.register", "(`idb;00:10:30.250;`cb)");
    expect_call(".sm.api.register[`idb;00:10:30.000000001;`cb]", ".sm.api.register",
                "(`idb;0D00:10:30.000000001;`cb)");
    expect_call(".sm.api.reloadComplete[2024.01.02D10:00:00.123456789]", ".sm.api.reloadComplete",
                ",2024.01.02D10:00:00.123456789");
    expect_call(".sm.api.reloadComplete 2024.01.02D10:00:00.123456789", ".sm.api.reloadComplete",
                ",2024.01.02D10:00:00.123456789");
    expect_call("f[42;42i;1.5;-3j;\"ab c\";2024.01.02;`;0N]", "f",
                "(42;42i;1.5;-3;\"ab c\";2024.01.02;`;0N)");
    expect_call("f[0n;0Np;0Nd]", "f", "(0n;0Np;0Nd)");
    expect_call("f[-1D12:00]", "f", ",-1D12:00:00.000000000");
}

static void expressions_are_refused_where_they_start(void **state)
{
    (void)state;
    expect_refused("", "expected the name of a function");
    expect_refused("1+1", "expected the name of a function");
    expect_refused(".sm.api.getStatus", "alone asks for its value");
    expect_refused("f[1+1]", "at character 3 ('1'): not a literal");
    expect_refused("f[`a;", "at the end: expected an argument");
    expect_refused("f[`a", "at the end: expected ';' or ']'");
    expect_refused("f[{x}]", "a lambda cannot be sent");
    expect_refused("f[(1;2)]", "only (::) may stand in parentheses");
    expect_refused("f[`a] g", "unexpected text after the call");
    expect_refused("a:2", "at character 2 (':'): an assignment cannot be sent");
    expect_refused("f[2024.02.30]", "not a valid date");
    expect_refused("f[0D00:61]", "not a timespan");
    expect_refused("f[\"a\\\"b\"]", "escapes in strings");
    expect_refused("f[1;2;3;4;5;6;7;8;9]", "too many arguments");
    char big[QCALL_MAX_LEN + 10];
    memset(big, ' ', sizeof big);
    big[sizeof big - 1] = '\0';
    expect_refused(big, "longer than");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_forms_a_dap_sends_parse),
        cmocka_unit_test(expressions_are_refused_where_they_start),
    };
    return cmocka_run_group_tests_name("qcall", tests, NULL, NULL);
}
