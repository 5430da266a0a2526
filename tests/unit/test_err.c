/* test_err: error messages stay valid UTF-8 whatever bytes went into them, since they
 * are sent as JSON (REST, the admin socket, status). */
#include "testutil.h"

#include <jansson.h>

#include "core/err.h"

static void scrubbed(const char *in, const char *want)
{
    char s[64];
    snprintf(s, sizeof s, "%s", in);
    err_scrub(s);
    assert_string_equal(s, want);
}

static void valid_text_is_kept(void **state)
{
    (void)state;
    scrubbed("plain ascii", "plain ascii");
    scrubbed("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    scrubbed("\xed\x9f\xbf \xf4\x8f\xbf\xbf", "\xed\x9f\xbf \xf4\x8f\xbf\xbf");   /* U+D7FF, U+10FFFF */
    scrubbed("", "");
}

static void invalid_bytes_become_question_marks(void **state)
{
    (void)state;
    scrubbed("a\x80z", "a?z");                       /* a lone continuation byte */
    scrubbed("\xc0\x80", "??");                      /* overlong NUL */
    scrubbed("\xe0\x80\x80", "???");                 /* overlong */
    scrubbed("\xed\xa0\x80", "???");                 /* a surrogate */
    scrubbed("\xf4\x90\x80\x80", "????");            /* beyond U+10FFFF */
    scrubbed("\xf5\xff\xfe", "???");
    scrubbed("/caf\xc3", "/caf?");                   /* cut at the end */
    scrubbed("\xe2\x82x", "??x");                    /* cut in the middle */
}

/* What the fuzzer found: a path libmicrohttpd unescaped to a lone 0xcb, or a "%.Ns"
 * cutting a character, made json_pack fail and the error answer empty. */
static void messages_always_pack_as_json(void **state)
{
    (void)state;
    struct smfs_err e = {0};
    assert_int_equal(err_set(&e, -ENOENT, "no endpoint %.5s", "/caf\xc3\xa9\xcb"), -ENOENT);
    assert_string_equal(e.msg, "no endpoint /caf?");
    json_t *j = json_pack("{s:s}", "error", e.msg);
    assert_non_null(j);
    json_decref(j);
    assert_int_equal(err_wrap(&e, "file '%s'", "x\xff"), -ENOENT);
    assert_string_equal(e.msg, "file 'x?': no endpoint /caf?");
    char big[ERR_MSG_MAX * 2];
    for (size_t i = 0; i + 2 < sizeof big; i += 2) memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof big - 1] = 0;
    err_set(&e, -EINVAL, "xy%s", big);                  /* truncated inside a character */
    j = json_pack("{s:s}", "error", e.msg);
    assert_non_null(j);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_text_is_kept),
        cmocka_unit_test(invalid_bytes_become_question_marks),
        cmocka_unit_test(messages_always_pack_as_json),
    };
    return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
