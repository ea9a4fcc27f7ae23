/*
 * test_outcome.c - unit tests of server/outcome.c: every outcome has a wire
 * code, an HTTP status and a message; codes and outcomes map both ways; a
 * word nobody defined is "internal"; the statuses are the ones
 * docs/protocol.md promises to clients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "outcome.h"

#include <string.h>

static void every_outcome_has_code_status_message(void **state)
{
    int i;
    (void)state;
    for (i = 0; i < OUT_COUNT_; i++) {
        const char *code = outcome_code((outcome)i);
        const char *msg = outcome_message((outcome)i);
        int status = outcome_http_status((outcome)i);
        assert_non_null(code);
        assert_true(strlen(code) > 0);
        assert_non_null(msg);
        assert_true(strlen(msg) > 0);
        assert_in_range(status, 200, 599);
    }
}

static void codes_are_unique_and_parse_back(void **state)
{
    int i, j;
    (void)state;
    for (i = 0; i < OUT_COUNT_; i++) {
        assert_int_equal(outcome_parse(outcome_code((outcome)i)), i);
        for (j = i + 1; j < OUT_COUNT_; j++)
            assert_string_not_equal(outcome_code((outcome)i), outcome_code((outcome)j));
    }
}

static void unknown_words_are_internal(void **state)
{
    (void)state;
    assert_int_equal(outcome_parse("no_such_thing"), OUT_INTERNAL);
    assert_int_equal(outcome_parse(""), OUT_INTERNAL);
    assert_int_equal(outcome_parse(NULL), OUT_INTERNAL);
    assert_int_equal(outcome_parse("OK"), OUT_INTERNAL); /* words are case-sensitive */
    assert_int_equal(outcome_parse("ok "), OUT_INTERNAL);
}

static void out_of_range_is_internal(void **state)
{
    (void)state;
    assert_string_equal(outcome_code(OUT_COUNT_), "internal");
    assert_int_equal(outcome_http_status(OUT_COUNT_), 500);
    assert_string_equal(outcome_message(OUT_COUNT_), outcome_message(OUT_INTERNAL));
}

/* The words the Lua scripts answer with are the codes of protocol.md. */
static void codes_match_the_protocol(void **state)
{
    (void)state;
    assert_string_equal(outcome_code(OUT_OK), "ok");
    assert_string_equal(outcome_code(OUT_SEAT_UNAVAILABLE), "seat_unavailable");
    assert_string_equal(outcome_code(OUT_UNKNOWN_SHOW), "unknown_show");
    assert_string_equal(outcome_code(OUT_UNKNOWN_SEAT), "unknown_seat");
    assert_string_equal(outcome_code(OUT_HOLD_LIMIT), "hold_limit");
    assert_string_equal(outcome_code(OUT_HOLD_EXPIRED), "hold_expired");
    assert_string_equal(outcome_code(OUT_HOLD_LOCKED), "hold_locked");
    assert_string_equal(outcome_code(OUT_ALREADY_CANCELLED), "already_cancelled");
    assert_string_equal(outcome_code(OUT_HELLO_REQUIRED), "hello_required");
    assert_string_equal(outcome_code(OUT_RATE_LIMITED), "rate_limited");
    assert_string_equal(outcome_code(OUT_TOO_LARGE), "too_large");
    assert_string_equal(outcome_code(OUT_UNAVAILABLE), "unavailable");
    assert_string_equal(outcome_code(OUT_INTERNAL), "internal");
}

static void statuses_match_the_protocol(void **state)
{
    (void)state;
    assert_int_equal(outcome_http_status(OUT_OK), 200);
    assert_int_equal(outcome_http_status(OUT_BAD_REQUEST), 400);
    assert_int_equal(outcome_http_status(OUT_UNKNOWN_SEAT), 400);
    assert_int_equal(outcome_http_status(OUT_UNAUTHORIZED), 401);
    assert_int_equal(outcome_http_status(OUT_BAD_CREDENTIALS), 401);
    assert_int_equal(outcome_http_status(OUT_FORBIDDEN), 403);
    assert_int_equal(outcome_http_status(OUT_BAD_ORIGIN), 403);
    assert_int_equal(outcome_http_status(OUT_NOT_FOUND), 404);
    assert_int_equal(outcome_http_status(OUT_UNKNOWN_SHOW), 404);
    assert_int_equal(outcome_http_status(OUT_METHOD_NOT_ALLOWED), 405);
    assert_int_equal(outcome_http_status(OUT_LENGTH_REQUIRED), 411);
    assert_int_equal(outcome_http_status(OUT_TOO_LARGE), 413);
    assert_int_equal(outcome_http_status(OUT_SEAT_UNAVAILABLE), 409);
    assert_int_equal(outcome_http_status(OUT_HOLD_EXPIRED), 409);
    assert_int_equal(outcome_http_status(OUT_HOLD_LOCKED), 409);
    assert_int_equal(outcome_http_status(OUT_ALREADY_CANCELLED), 409);
    assert_int_equal(outcome_http_status(OUT_UNAVAILABLE), 503);
    assert_int_equal(outcome_http_status(OUT_INTERNAL), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_outcome_has_code_status_message),
        cmocka_unit_test(codes_are_unique_and_parse_back),
        cmocka_unit_test(unknown_words_are_internal),
        cmocka_unit_test(out_of_range_is_internal),
        cmocka_unit_test(codes_match_the_protocol),
        cmocka_unit_test(statuses_match_the_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
