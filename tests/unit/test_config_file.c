/* test_config_file.c - `seatmapd serve --config FILE`: the file's names are
 * the flags', the environment overrides the file and the command line both;
 * every mistake names the file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void write_file(const char *text)
{
    FILE *f;
    snprintf(path, sizeof(path), "/tmp/seatmap-config-%d.conf", (int)getpid());
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int parse_with(config *c, char *err, char *extra_flag, char *extra_value)
{
    char *argv[4] = {"--config", path, extra_flag, extra_value};
    return config_parse(c, extra_flag ? 4 : 2, argv, err, 512);
}

static void names_and_precedence(void **state)
{
    config c;
    char err[512];
    (void)state;
    unsetenv("SEATMAP_REDIS");
    unsetenv("SEATMAP_MAX_SEATS");
    unsetenv("SEATMAP_DB");
    write_file("# seatmapd\n"
               "\n"
               "listen = 0.0.0.0:9000\n"
               "--redis redis://10.0.0.5:6380/2\n"
               "SEATMAP_DB=/var/lib/seatmapd/seatmap.db\n"
               "max-seats = 4\n"
               "hold-ttl=90\n"
               "  demo = yes  \n"
               "metrics-listen = \"127.0.0.1:9100\"\n");
    assert_int_equal(parse_with(&c, err, NULL, NULL), 0);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.redis_url, "redis://10.0.0.5:6380/2");
    assert_string_equal(c.db_path, "/var/lib/seatmapd/seatmap.db");
    assert_int_equal(c.max_seats, 4);
    assert_int_equal(c.hold_ttl_ms, 90000);
    assert_int_equal(c.demo, 1);
    assert_string_equal(c.metrics_listen, "127.0.0.1:9100");
    assert_string_equal(c.config_file, path);
    /* the environment over the file, the command line over both */
    setenv("SEATMAP_MAX_SEATS", "6", 1);
    setenv("SEATMAP_REDIS", "redis://env:1/0", 1);
    assert_int_equal(parse_with(&c, err, "--max-seats", "8"), 0);
    assert_int_equal(c.max_seats, 8);
    assert_string_equal(c.redis_url, "redis://env:1/0");
    unsetenv("SEATMAP_MAX_SEATS");
    unsetenv("SEATMAP_REDIS");
    unlink(path);
}

static void mistakes_name_the_line(void **state)
{
    config c;
    char err[512];
    (void)state;
    write_file("listen = 127.0.0.1:8080\nlisen = 1\n");
    assert_int_equal(parse_with(&c, err, NULL, NULL), -1);
    assert_non_null(strstr(err, ":2: unknown setting 'lisen'"));
    write_file("max-seats = lots\n");
    assert_int_equal(parse_with(&c, err, NULL, NULL), -1);
    assert_non_null(strstr(err, ":1: --max-seats wants a whole number"));
    write_file("demo = maybe\n");
    assert_int_equal(parse_with(&c, err, NULL, NULL), -1);
    assert_non_null(strstr(err, ":1: demo wants true or false"));
    write_file("redis =\n");
    assert_int_equal(parse_with(&c, err, NULL, NULL), -1);
    assert_non_null(strstr(err, ":1: redis needs a value"));
    write_file("metrics-listen = 9100\n");
    assert_int_equal(parse_with(&c, err, NULL, NULL), -1);
    assert_non_null(strstr(err, "--metrics-listen wants HOST:PORT"));
    unlink(path);
    assert_int_equal(parse_with(&c, err, NULL, NULL), -1);
    assert_non_null(strstr(err, "cannot read config file"));
    {
        char *argv[1] = {"--config"};
        assert_int_equal(config_parse(&c, 1, argv, err, sizeof(err)), -1);
        assert_string_equal(err, "--config needs a value");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_precedence),
        cmocka_unit_test(mistakes_name_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
