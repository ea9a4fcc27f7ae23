/* test_iplimit.c - per-address counters: keys, connections, buckets,
 * lockouts and the bound on memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "iplimit.h"

#include <stdio.h>
#include <string.h>

static void keys_group_ipv6_by_64(void **state)
{
    char k[IPLIMIT_KEY_MAX];
    (void)state;
    iplimit_key("127.0.0.2", k);
    assert_string_equal(k, "127.0.0.2");
    iplimit_key("::ffff:10.1.2.3", k);
    assert_string_equal(k, "10.1.2.3");
    iplimit_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    iplimit_key("2001:db8:1:2::1", k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    iplimit_key("2001:db8:1:3::1", k);
    assert_string_equal(k, "2001:db8:1:3::/64");
}

static void connections_count_up_and_down(void **state)
{
    iplimit *t = iplimit_new(10, 1000);
    (void)state;
    assert_int_equal(iplimit_conn_open(t, "a"), 1);
    assert_int_equal(iplimit_conn_open(t, "a"), 2);
    assert_int_equal(iplimit_conn_open(t, "b"), 1);
    iplimit_conn_close(t, "a");
    assert_int_equal(iplimit_conns(t, "a"), 1);
    iplimit_conn_close(t, "a");
    iplimit_conn_close(t, "a"); /* never below zero */
    assert_int_equal(iplimit_conns(t, "a"), 0);
    iplimit_free(t);
}

static void bucket_refills_at_its_rate(void **state)
{
    iplimit *t = iplimit_new(10, 1000);
    int64_t wait, now = 1000000;
    int i;
    (void)state;
    for (i = 0; i < 60; i++)
        assert_true(iplimit_take(t, "a", 1.0, 60, now, &wait));
    assert_false(iplimit_take(t, "a", 1.0, 60, now, &wait));
    assert_true(wait > 0 && wait <= 1001);
    assert_true(iplimit_take(t, "b", 1.0, 60, now, &wait)); /* others unaffected */
    assert_true(iplimit_take(t, "a", 1.0, 60, now + 1000, &wait));
    assert_false(iplimit_take(t, "a", 1.0, 60, now + 1000, &wait));
    iplimit_free(t);
}

static void lockouts_start_after_threshold_and_grow(void **state)
{
    iplimit *t = iplimit_new(10, 1000);
    int64_t now = 5000000, lock;
    int i;
    (void)state;
    for (i = 0; i < 4; i++)
        assert_int_equal(iplimit_fail(t, "u", 5, 60000, 1000, 8000, now), 0);
    assert_int_equal(iplimit_locked(t, "u", now), 0);
    lock = iplimit_fail(t, "u", 5, 60000, 1000, 8000, now);
    assert_int_equal(lock, 1000);
    assert_int_equal(iplimit_locked(t, "u", now + 10), 990);
    /* the next failure after the lockout locks again, twice as long */
    now += 1001;
    assert_int_equal(iplimit_locked(t, "u", now), 0);
    assert_int_equal(iplimit_fail(t, "u", 5, 60000, 1000, 8000, now), 2000);
    now += 2001;
    assert_int_equal(iplimit_fail(t, "u", 5, 60000, 1000, 8000, now), 4000);
    now += 4001;
    assert_int_equal(iplimit_fail(t, "u", 5, 60000, 1000, 8000, now), 8000);
    now += 8001;
    assert_int_equal(iplimit_fail(t, "u", 5, 60000, 1000, 8000, now), 8000); /* capped */
    iplimit_clear(t, "u");
    assert_int_equal(iplimit_locked(t, "u", now), 0);
    assert_int_equal(iplimit_fail(t, "u", 5, 60000, 1000, 8000, now), 0);
    iplimit_free(t);
}

static void memory_is_bounded_and_idle_entries_go(void **state)
{
    iplimit *t = iplimit_new(100, 1000);
    char key[32];
    int64_t wait, now = 1000000;
    int i, refused = 0;
    (void)state;
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
        if (!iplimit_take(t, key, 1, 10, now, &wait))
            refused++;
    }
    assert_int_equal(iplimit_size(t), 100);
    assert_int_equal(refused, 900); /* full: refused, not grown */
    assert_int_equal(iplimit_conn_open(t, "x"), -1);
    iplimit_sweep(t, now + 1001);
    assert_int_equal(iplimit_size(t), 0);
    /* an open connection keeps its entry */
    assert_int_equal(iplimit_conn_open(t, "x"), 1);
    iplimit_sweep(t, now + 100000);
    assert_int_equal(iplimit_size(t), 1);
    iplimit_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_group_ipv6_by_64),
        cmocka_unit_test(connections_count_up_and_down),
        cmocka_unit_test(bucket_refills_at_its_rate),
        cmocka_unit_test(lockouts_start_after_threshold_and_grow),
        cmocka_unit_test(memory_is_bounded_and_idle_entries_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
