/*
 * test_show_backlog.c - the ring of a show's recent changes: merging from a
 * seq in the window (each seat once, its last state, nothing after upto),
 * the window moving up when the ring is full, reset, and asking from
 * outside the window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "show_backlog.h"

#include <stdio.h>
#include <string.h>

#define NSEATS 100

/* The merged changes as "idx:st idx:st ...", or "none" / "room". */
static const char *since(show_backlog *b, int64_t from, int64_t upto)
{
    static char out[4096];
    uint32_t idx[NSEATS];
    char st[NSEATS];
    long n = show_backlog_since(b, from, upto, idx, st, NSEATS), i;
    size_t len = 0;
    if (n == -1)
        return "none";
    if (n < 0)
        return "room";
    out[0] = '\0';
    for (i = 0; i < n; i++)
        len +=
            (size_t)snprintf(out + len, sizeof(out) - len, "%s%u:%c", i ? " " : "", idx[i], st[i]);
    return out;
}

static void merges_each_seat_once_with_its_last_state(void **state)
{
    show_backlog *b = show_backlog_new(NSEATS, 0, 10);
    (void)state;
    assert_non_null(b);
    assert_int_equal(show_backlog_add(b, 11, 1, 'p'), 0);
    assert_int_equal(show_backlog_add(b, 11, 2, 'p'), 0);
    assert_int_equal(show_backlog_add(b, 12, 1, 'e'), 0);
    assert_int_equal(show_backlog_add(b, 13, 3, 'b'), 0);
    assert_int_equal(show_backlog_add(b, 14, 2, 'b'), 0);
    assert_string_equal(since(b, 10, 14), "1:e 3:b 2:b");
    assert_string_equal(since(b, 11, 14), "1:e 3:b 2:b");
    assert_string_equal(since(b, 12, 14), "3:b 2:b");
    assert_string_equal(since(b, 14, 14), "");
    /* upto: the state as of that seq, later changes left out */
    assert_string_equal(since(b, 10, 12), "2:p 1:e");
    assert_string_equal(since(b, 10, 11), "1:p 2:p");
    show_backlog_free(b);
}

static void outside_the_window_is_refused(void **state)
{
    show_backlog *b = show_backlog_new(NSEATS, 0, 10);
    (void)state;
    show_backlog_add(b, 11, 1, 'p');
    assert_string_equal(since(b, 9, 11), "none");  /* before the base */
    assert_string_equal(since(b, 12, 11), "none"); /* after upto */
    assert_int_equal(show_backlog_add(b, 12, NSEATS, 'p'), -1);
    assert_int_equal(show_backlog_base(b), 10);
    show_backlog_free(b);
}

static void a_full_ring_moves_the_window_up(void **state)
{
    show_backlog *b = show_backlog_new(NSEATS, 300, 0);
    int64_t seq;
    (void)state;
    for (seq = 1; seq <= 1000; seq++)
        assert_int_equal(show_backlog_add(b, seq, (uint32_t)(seq % NSEATS), 'p'), 0);
    assert_int_equal(show_backlog_len(b), 300);
    assert_int_equal(show_backlog_base(b), 700);
    assert_string_equal(since(b, 699, 1000), "none");
    assert_string_equal(since(b, 997, 1000), "98:p 99:p 0:p");
    /* 300 entries over 100 seats: every seat once */
    {
        uint32_t idx[NSEATS];
        char st[NSEATS];
        assert_int_equal(show_backlog_since(b, 700, 1000, idx, st, NSEATS), NSEATS);
        assert_int_equal(show_backlog_since(b, 700, 1000, idx, st, 10), -2);
    }
    show_backlog_free(b);
}

static void reset_forgets_and_a_late_seq_is_clamped(void **state)
{
    show_backlog *b = show_backlog_new(NSEATS, 0, 0);
    (void)state;
    show_backlog_add(b, 5, 1, 'p');
    show_backlog_reset(b, 40);
    assert_int_equal(show_backlog_len(b), 0);
    assert_string_equal(since(b, 5, 40), "none");
    assert_string_equal(since(b, 40, 40), "");
    show_backlog_add(b, 41, 7, 'b');
    show_backlog_add(b, 39, 8, 'p'); /* recorded as 41: never missed from 40 */
    assert_string_equal(since(b, 40, 41), "7:b 8:p");
    show_backlog_free(b);
}

/* Older changes (read from Redis by a new process) go in front of the live
 * ones: the window reaches back to their base; bad input changes nothing;
 * what does not fit leaves out the oldest. */
static void prepend_widens_the_window_back(void **state)
{
    show_backlog *b = show_backlog_new(NSEATS, 4, 10);
    const int64_t seq[] = {8, 9, 10};
    const uint32_t idx[] = {1, 2, 1};
    const char st[] = {'p', 'p', 'b'};
    const int64_t bad[] = {9, 8, 10};
    (void)state;
    assert_int_equal(show_backlog_add(b, 11, 3, 'p'), 0);
    assert_int_equal(show_backlog_prepend(b, 7, bad, idx, st, 3), -1); /* out of order */
    assert_int_equal(show_backlog_prepend(b, 8, seq, idx, st, 3), -1); /* 8 is not after 8 */
    assert_int_equal(show_backlog_base(b), 10);
    assert_int_equal(show_backlog_prepend(b, 7, seq, idx, st, 3), 0);
    assert_int_equal(show_backlog_base(b), 7);
    assert_int_equal(show_backlog_len(b), 4);
    assert_string_equal(since(b, 7, 11), "2:p 1:b 3:p");
    assert_string_equal(since(b, 9, 11), "1:b 3:p");
    assert_string_equal(since(b, 6, 11), "none");
    /* Live changes still append after them. */
    assert_int_equal(show_backlog_add(b, 12, 4, 'e'), 0); /* full: seq 8 goes */
    assert_int_equal(show_backlog_base(b), 8);
    assert_string_equal(since(b, 8, 12), "2:p 1:b 3:p 4:e");
    show_backlog_free(b);

    /* Only the newest fit: the base is the seq of the last one left out. */
    b = show_backlog_new(NSEATS, 2, 10);
    assert_int_equal(show_backlog_add(b, 11, 3, 'p'), 0);
    assert_int_equal(show_backlog_prepend(b, 7, seq, idx, st, 3), 0);
    assert_int_equal(show_backlog_base(b), 9);
    assert_string_equal(since(b, 9, 11), "1:b 3:p");
    assert_string_equal(since(b, 8, 11), "none");
    show_backlog_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merges_each_seat_once_with_its_last_state),
        cmocka_unit_test(outside_the_window_is_refused),
        cmocka_unit_test(a_full_ring_moves_the_window_up),
        cmocka_unit_test(reset_forgets_and_a_late_seq_is_clamped),
        cmocka_unit_test(prepend_widens_the_window_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
