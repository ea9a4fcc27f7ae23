/* test_util.c - sm_buf limits and sticky failures, JSON string escaping,
 * the FNV-1a hash, identifier rules. */
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

/* curl's dynbuf habit: once an append failed, the buffer stays failed
 * until reset, so a run of appends is checked once at the end and a
 * truncated document is never handed out. */
static void buf_failure_sticks(void **state)
{
    sm_buf b;
    size_t len = 99;
    (void)state;
    sm_buf_init(&b, 8);
    assert_false(sm_buf_failed(&b));
    assert_int_equal(sm_buf_adds(&b, "abc"), 0);
    assert_int_equal(sm_buf_adds(&b, "too long for it"), -1);
    assert_true(sm_buf_failed(&b));
    /* These would fit, but the content is already incomplete. */
    assert_int_equal(sm_buf_addc(&b, 'x'), -1);
    assert_int_equal(sm_buf_adds(&b, "de"), -1);
    assert_int_equal(sm_buf_printf(&b, "%d", 1), -1);
    assert_int_equal(sm_buf_add_json_str(&b, ""), -1);
    assert_true(sm_buf_failed(&b));
    assert_string_equal(b.data, "abc"); /* nothing was appended after the failure */
    assert_null(sm_buf_steal(&b, &len));
    assert_int_equal(len, 0);
    assert_false(sm_buf_failed(&b)); /* steal resets the buffer */

    sm_buf_init(&b, 8);
    sm_buf_adds(&b, "abc");
    sm_buf_adds(&b, "too long for it");
    sm_buf_reset(&b);
    assert_false(sm_buf_failed(&b));
    assert_int_equal(sm_buf_adds(&b, "12345678"), 0);
    assert_string_equal(b.data, "12345678");
    sm_buf_free(&b);
}

static void buf_steal_of_empty_is_null(void **state)
{
    sm_buf b;
    size_t len = 99;
    (void)state;
    sm_buf_init(&b, 8);
    assert_null(sm_buf_steal(&b, &len));
    assert_int_equal(len, 0);
    sm_buf_free(&b);
}

/* FNV-1a 64: offset basis 0xcbf29ce484222325, prime 0x100000001b3. */
static void hash_is_fnv1a_64(void **state)
{
    (void)state;
    assert_true(sm_hash("") == 0xcbf29ce484222325ULL);
    assert_true(sm_hash("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(sm_hash("foobar") == 0x85944171f73967e8ULL);
    assert_true(sm_hash("\xff") == 0xaf64724c8602eb6eULL); /* bytes are unsigned */
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

/* Numbers from outside become whole numbers only when a double holds them
 * exactly; anything else (huge, NaN) takes the default instead of UB. */
static void json_int_is_bounded(void **state)
{
    (void)state;
    assert_int_equal(sm_json_int(42.0, -1), 42);
    assert_int_equal(sm_json_int(-7.9, 0), -7);
    assert_int_equal(sm_json_int(9007199254740991.0, -1), 9007199254740991LL);
    assert_int_equal(sm_json_int(2.33333e19, -1), -1);
    assert_int_equal(sm_json_int(-1e300, 5), 5);
    assert_int_equal(sm_json_int(0.0 / 0.0, 3), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_int_is_bounded), cmocka_unit_test(buf_respects_its_limit),
        cmocka_unit_test(buf_escapes_json),    cmocka_unit_test(buf_steal_hands_over),
        cmocka_unit_test(buf_failure_sticks),  cmocka_unit_test(buf_steal_of_empty_is_null),
        cmocka_unit_test(hash_is_fnv1a_64),    cmocka_unit_test(ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
