/* test_util.c - sm_buf limits, JSON string escaping, identifier rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util.h"

#include <stdlib.h>
#include <string.h>

static void buf_respects_its_limit(void **state)
{
    sm_buf b;
    (void)state;
    sm_buf_init(&b, 8);
    assert_int_equal(sm_buf_adds(&b, "12345678"), 0);
    assert_int_equal(b.len, 8);
    assert_int_equal(sm_buf_addc(&b, 'x'), -1);
    assert_int_equal(sm_buf_printf(&b, "%d", 1), -1);
    assert_string_equal(b.data, "12345678"); /* unchanged by the refused appends */
    sm_buf_reset(&b);
    assert_int_equal(sm_buf_printf(&b, "%s-%d", "a", 42), 0);
    assert_string_equal(b.data, "a-42");
    sm_buf_free(&b);
}

static void buf_escapes_json(void **state)
{
    sm_buf b;
    (void)state;
    sm_buf_init(&b, 1024);
    assert_int_equal(sm_buf_add_json_str(&b, "a\"b\\c\nd\x01"), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\"");
    sm_buf_free(&b);
}

static void buf_steal_hands_over(void **state)
{
    sm_buf b;
    size_t len;
    char *p;
    (void)state;
    sm_buf_init(&b, 100);
    sm_buf_adds(&b, "hello");
    p = sm_buf_steal(&b, &len);
    assert_string_equal(p, "hello");
    assert_int_equal(len, 5);
    assert_null(b.data);
    free(p);
}

static void ids(void **state)
{
    char long_show[70], long_seat[40];
    (void)state;
    memset(long_show, 'a', 65);
    long_show[65] = '\0';
    memset(long_seat, 'a', 33);
    long_seat[33] = '\0';
    assert_true(sm_valid_show_id("S1_x-2"));
    assert_false(sm_valid_show_id(""));
    assert_false(sm_valid_show_id("a.b"));
    assert_false(sm_valid_show_id("a b"));
    assert_false(sm_valid_show_id(long_show));
    long_show[64] = '\0';
    assert_true(sm_valid_show_id(long_show));
    assert_true(sm_valid_seat_id("ORCH-A-12"));
    assert_true(sm_valid_seat_id("B.1_2-3"));
    assert_false(sm_valid_seat_id("A/1"));
    assert_false(sm_valid_seat_id(long_seat));
    assert_false(sm_valid_seat_id(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_respects_its_limit),
        cmocka_unit_test(buf_escapes_json),
        cmocka_unit_test(buf_steal_hands_over),
        cmocka_unit_test(ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
