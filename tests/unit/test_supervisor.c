/* test_supervisor.c - --workers: the flag and its limits, and the restart
 * backoff of a worker that keeps dying at start. The supervisor itself
 * (fork, signals, restarts) is tested on the real binary in
 * tests/integration/workers.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "supervisor.h"

#include <stdlib.h>
#include <string.h>

static int parse(config *c, char *err, int argc, char **argv)
{
    err[0] = '\0';
    return config_parse(c, argc, argv, err, 256);
}

static void workers_flag(void **state)
{
    config c;
    char err[256];
    char *one[] = {"--listen", "127.0.0.1:8080"};
    char *four[] = {"--workers", "4", "--metrics-listen", "127.0.0.1:9100"};
    (void)state;
    assert_int_equal(parse(&c, err, 2, one), 0);
    assert_int_equal(c.workers, 1);
    assert_int_equal(c.worker_id, 0);
    assert_int_equal(parse(&c, err, 4, four), 0);
    assert_int_equal(c.workers, 4);
}

static void workers_refused(void **state)
{
    config c;
    char err[256];
    char *zero[] = {"--workers", "0"};
    char *many[] = {"--workers", "65"};
    char *word[] = {"--workers", "two"};
    char *top[] = {"--workers", "3", "--metrics-listen", "127.0.0.1:65534"};
    char *clash[] = {"--listen", "127.0.0.1:9101",   "--workers",
                     "3",        "--metrics-listen", "127.0.0.1:9100"};
    (void)state;
    assert_int_equal(parse(&c, err, 2, zero), -1);
    assert_non_null(strstr(err, "--workers"));
    assert_int_equal(parse(&c, err, 2, many), -1);
    assert_non_null(strstr(err, "1 to 64"));
    assert_int_equal(parse(&c, err, 2, word), -1);
    /* worker 3 would scrape on 65536 */
    assert_int_equal(parse(&c, err, 4, top), -1);
    assert_non_null(strstr(err, "--metrics-listen"));
    /* worker 2 would scrape on the port buyers connect to */
    assert_int_equal(parse(&c, err, 6, clash), -1);
    assert_non_null(strstr(err, "9100 to 9102, which include the --listen port 9101"));
}

static void workers_env(void **state)
{
    config c;
    char err[256];
    (void)state;
    setenv("SEATMAP_WORKERS", "3", 1);
    assert_int_equal(parse(&c, err, 0, NULL), 0);
    assert_int_equal(c.workers, 3);
    unsetenv("SEATMAP_WORKERS");
}

static void backoff_doubles_and_stops(void **state)
{
    (void)state;
    assert_int_equal(supervisor_backoff_ms(0), 0);
    assert_int_equal(supervisor_backoff_ms(1), SUPERVISOR_BACKOFF_MIN_MS);
    assert_int_equal(supervisor_backoff_ms(2), 2 * SUPERVISOR_BACKOFF_MIN_MS);
    assert_int_equal(supervisor_backoff_ms(4), 8 * SUPERVISOR_BACKOFF_MIN_MS);
    assert_int_equal(supervisor_backoff_ms(20), SUPERVISOR_BACKOFF_MAX_MS);
    assert_int_equal(supervisor_backoff_ms(1000000), SUPERVISOR_BACKOFF_MAX_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workers_flag),
        cmocka_unit_test(workers_refused),
        cmocka_unit_test(workers_env),
        cmocka_unit_test(backoff_doubles_and_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
