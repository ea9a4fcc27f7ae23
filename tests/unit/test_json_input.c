/* test_json_input.c - NUL and control characters in JSON input are
 * refused, wherever they are; ordinary text (escaped backslashes, Unicode)
 * passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "json_input.h"

#include <string.h>

static int check(const char *text)
{
    cJSON *j = cJSON_ParseWithLength(text, strlen(text));
    int rc = json_input_check(text, strlen(text), j);
    cJSON_Delete(j);
    return rc;
}

static void clean_input_passes(void **state)
{
    (void)state;
    assert_int_equal(check("{\"type\":\"hold\",\"show\":\"demo\",\"seats\":[\"A-1\"]}"), 0);
    assert_int_equal(check("{\"name\":\"Zo\\u00eb \\u2603\"}"), 0);
    /* an escaped backslash followed by the letters u0000 is no NUL */
    assert_int_equal(check("{\"ref\":\"a\\\\u0000\"}"), 0);
}

static void nul_anywhere_is_refused(void **state)
{
    (void)state;
    assert_int_equal(check("{\"payment_ref\":\"a\\u0000zzz\"}"), -1);
    assert_int_equal(check("{\"show\":\"demo\\u0000x\"}"), -1);
    assert_int_equal(check("{\"seats\":[\"A-1\",\"B\\u0000\"]}"), -1);
    assert_int_equal(check("{\"a\\u0000b\":1}"), -1);
    /* a raw NUL byte inside the text */
    {
        const char raw[] = "{\"a\":\"x\0y\"}";
        assert_int_equal(json_input_check(raw, sizeof(raw) - 1, NULL), -1);
    }
}

static void control_characters_are_refused(void **state)
{
    (void)state;
    assert_int_equal(check("{\"name\":\"a\\nb\"}"), -1);
    assert_int_equal(check("{\"name\":\"a\\tb\"}"), -1);
    assert_int_equal(check("{\"name\":\"a\\u001fb\"}"), -1);
    assert_int_equal(check("{\"name\":\"a\\u007fb\"}"), -1);
    assert_int_equal(check("{\"deep\":{\"list\":[{\"x\":\"\\r\"}]}}"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean_input_passes),
        cmocka_unit_test(nul_anywhere_is_refused),
        cmocka_unit_test(control_characters_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
