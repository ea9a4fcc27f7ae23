/*
 * test_keepalive.c - the pings' list: an entry is pinged once ping_ms after
 * its last proof of life and dropped at hangup_ms unless a pong confirmed it
 * meanwhile; a check visits only the entries that are due (the list stays
 * in order because every add and confirm appends).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "keepalive.h"

#include <string.h>

#define N 5

typedef struct seen {
    keepalive_entry e[N];
    int pings[N], drops[N];
} seen;

static void on_ping(keepalive_entry *e, void *arg)
{
    seen *s = arg;
    s->pings[e - s->e]++;
}

static void on_drop(keepalive_entry *e, void *arg)
{
    seen *s = arg;
    s->drops[e - s->e]++;
}

static void pinged_once_then_dropped_without_a_pong(void **state)
{
    keepalive_list l;
    seen s;
    (void)state;
    memset(&s, 0, sizeof(s));
    keepalive_init(&l, 20000, 35000);
    keepalive_add(&l, &s.e[0], 1000);
    keepalive_add(&l, &s.e[1], 2000);
    assert_int_equal(keepalive_check(&l, 20999, on_ping, on_drop, &s), 0);
    assert_int_equal(s.pings[0] + s.pings[1], 0);
    keepalive_check(&l, 21000, on_ping, on_drop, &s);
    keepalive_check(&l, 21500, on_ping, on_drop, &s);
    assert_int_equal(s.pings[0], 1); /* once, however often checked */
    assert_int_equal(s.pings[1], 0);
    keepalive_check(&l, 22000, on_ping, on_drop, &s);
    assert_int_equal(s.pings[1], 1);
    /* entry 1 answers; entry 0 does not */
    keepalive_confirm(&l, &s.e[1], 22010);
    assert_int_equal(keepalive_check(&l, 36000, on_ping, on_drop, &s), 1);
    assert_int_equal(s.drops[0], 1);
    assert_int_equal(s.drops[1], 0);
    assert_int_equal(l.n, 1);
    /* the confirmed one is pinged again 20 s after its pong */
    keepalive_check(&l, 42010, on_ping, on_drop, &s);
    assert_int_equal(s.pings[1], 2);
    assert_int_equal(s.drops[1], 0);
}

static void removed_entries_are_never_called(void **state)
{
    keepalive_list l;
    seen s;
    int i;
    (void)state;
    memset(&s, 0, sizeof(s));
    keepalive_init(&l, 1000, 1750);
    for (i = 0; i < N; i++)
        keepalive_add(&l, &s.e[i], 0);
    keepalive_remove(&l, &s.e[0]);     /* head */
    keepalive_remove(&l, &s.e[2]);     /* middle */
    keepalive_remove(&l, &s.e[N - 1]); /* tail */
    keepalive_remove(&l, &s.e[N - 1]); /* twice: a no-op */
    assert_int_equal(l.n, N - 3);
    assert_int_equal(keepalive_check(&l, 5000, on_ping, on_drop, &s), N - 3);
    for (i = 0; i < N; i++)
        assert_int_equal(s.drops[i], i == 1 || i == 3);
    assert_null(l.head);
    assert_null(l.tail);
    assert_int_equal(l.n, 0);
}

static void a_check_stops_at_the_first_entry_not_due(void **state)
{
    keepalive_list l;
    seen s;
    (void)state;
    memset(&s, 0, sizeof(s));
    keepalive_init(&l, 1000, 1750);
    keepalive_add(&l, &s.e[0], 0);
    keepalive_add(&l, &s.e[1], 500);
    keepalive_add(&l, &s.e[2], 900);
    keepalive_confirm(&l, &s.e[0], 950); /* now last */
    keepalive_check(&l, 1600, on_ping, on_drop, &s);
    assert_int_equal(s.pings[1], 1);
    assert_int_equal(s.pings[2], 0);
    assert_int_equal(s.pings[0], 0);
    keepalive_check(&l, 1950, on_ping, on_drop, &s);
    assert_int_equal(s.pings[2], 1);
    assert_int_equal(s.pings[0], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pinged_once_then_dropped_without_a_pong),
        cmocka_unit_test(removed_entries_are_never_called),
        cmocka_unit_test(a_check_stops_at_the_first_entry_not_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
