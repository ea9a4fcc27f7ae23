/* test_config.c - flags and environment of `seatmapd serve`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <stdlib.h>
#include <string.h>

static int parse(config *c, char *err, int argc, ...)
{
    char *argv[16];
    va_list ap;
    int i;
    va_start(ap, argc);
    for (i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return config_parse(c, argc, argv, err, 256);
}

static void defaults(void **state)
{
    config c;
    char err[256];
    (void)state;
    unsetenv("SEATMAP_LISTEN");
    unsetenv("SEATMAP_HOLD_TTL");
    assert_int_equal(parse(&c, err, 0), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_int_equal(c.hold_ttl_ms, 600000);
    assert_int_equal(c.max_seats, 10);
    assert_int_equal(c.demo, 0);
}

static void ip_limits(void **state)
{
    config c;
    char err[256];
    (void)state;
    unsetenv("SEATMAP_IP_LIMITS");
    assert_int_equal(parse(&c, err, 0), 0);
    assert_int_equal(c.ip_limits, 1);
    assert_int_equal(c.max_conns, 20000);
    assert_int_equal(c.max_conns_per_ip, 256);
    assert_int_equal(c.new_buyers_per_ip, 60);
    assert_int_equal(c.max_held_per_ip, 100);
    assert_int_equal(parse(&c, err, 4, "--ip-limits", "off", "--max-held-per-ip", "7"), 0);
    assert_int_equal(c.ip_limits, 0);
    assert_int_equal(c.max_held_per_ip, 7);
    setenv("SEATMAP_IP_LIMITS", "off", 1);
    assert_int_equal(parse(&c, err, 0), 0);
    assert_int_equal(c.ip_limits, 0);
    assert_int_equal(parse(&c, err, 2, "--ip-limits", "on"), 0); /* the flag wins */
    assert_int_equal(c.ip_limits, 1);
    unsetenv("SEATMAP_IP_LIMITS");
    assert_int_equal(parse(&c, err, 2, "--ip-limits", "maybe"), -1);
    assert_non_null(strstr(err, "on or off"));
    assert_int_equal(parse(&c, err, 2, "--max-conns-per-ip", "0"), -1);
}

/* --stuck-reader-ms: 60 s by default (docs/protocol.md), at least 1 s. */
static void stuck_reader(void **state)
{
    config c;
    char err[256];
    (void)state;
    unsetenv("SEATMAP_STUCK_READER_MS");
    assert_int_equal(parse(&c, err, 0), 0);
    assert_int_equal(c.stuck_reader_ms, 60000);
    assert_int_equal(parse(&c, err, 2, "--stuck-reader-ms", "2500"), 0);
    assert_int_equal(c.stuck_reader_ms, 2500);
    setenv("SEATMAP_STUCK_READER_MS", "4000", 1);
    assert_int_equal(parse(&c, err, 0), 0);
    assert_int_equal(c.stuck_reader_ms, 4000);
    unsetenv("SEATMAP_STUCK_READER_MS");
    assert_int_equal(parse(&c, err, 2, "--stuck-reader-ms", "999"), -1);
    assert_non_null(strstr(err, "stuck-reader-ms"));
}

static void flags_and_env(void **state)
{
    config c;
    char err[256];
    (void)state;
    setenv("SEATMAP_HOLD_TTL", "90", 1);
    assert_int_equal(parse(&c, err, 0), 0);
    assert_int_equal(c.hold_ttl_ms, 90000);
    /* the flag wins over the environment; decimals are allowed */
    assert_int_equal(parse(&c, err, 5, "--hold-ttl", "1.5", "--listen", "0.0.0.0:9000", "--demo"),
                     0);
    assert_int_equal(c.hold_ttl_ms, 1500);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(c.demo, 1);
    unsetenv("SEATMAP_HOLD_TTL");
}

static void bad_flags_say_what(void **state)
{
    config c;
    char err[256];
    (void)state;
    assert_int_equal(parse(&c, err, 1, "--nope"), -1);
    assert_non_null(strstr(err, "--nope"));
    assert_int_equal(parse(&c, err, 1, "--listen"), -1);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(parse(&c, err, 2, "--listen", "8080"), -1);
    assert_int_equal(parse(&c, err, 2, "--listen", "h:99999"), -1);
    assert_int_equal(parse(&c, err, 2, "--hold-ttl", "abc"), -1);
    assert_int_equal(parse(&c, err, 2, "--hold-ttl", "0"), -1);
    assert_int_equal(parse(&c, err, 2, "--max-seats", "0"), -1);
    setenv("SEATMAP_MAX_SEATS", "lots", 1);
    assert_int_equal(parse(&c, err, 0), -1);
    assert_non_null(strstr(err, "SEATMAP_MAX_SEATS"));
    unsetenv("SEATMAP_MAX_SEATS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),           cmocka_unit_test(ip_limits),
        cmocka_unit_test(stuck_reader),       cmocka_unit_test(flags_and_env),
        cmocka_unit_test(bad_flags_say_what),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
