/* test_config_ops.c - the operations flags of `seatmapd serve` (logs,
 * restarts, TLS, trusted proxies): defaults, values, environment, and the
 * combinations that are refused. */
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
    err[0] = '\0';
    return config_parse(c, argc, argv, err, 256);
}

static void defaults(void **state)
{
    config c;
    char err[256];
    (void)state;
    assert_int_equal(parse(&c, err, 0), 0);
    assert_int_equal(c.log_level, SM_LOG_INFO);
    assert_int_equal(c.log_format, SM_LOG_TEXT);
    assert_string_equal(c.log_file, "");
    assert_int_equal(c.shutdown_ms, 10000);
    assert_int_equal(c.reuse_port, 0);
    assert_string_equal(c.tls_cert, "");
    assert_int_equal(c.http_redirect_port, 0);
    assert_int_equal(c.trust_proxy.n, 0);
}

static void values(void **state)
{
    config c;
    char err[256];
    (void)state;
    assert_int_equal(parse(&c, err, 13, "--log-level", "debug", "--log-format", "json",
                           "--log-file", "/tmp/x.log", "--shutdown-timeout", "2.5", "--reuse-port",
                           "--trust-proxy", "10.0.0.0/8,::1", "--listen", "0.0.0.0:443"),
                     0);
    assert_int_equal(c.log_level, SM_LOG_DEBUG);
    assert_int_equal(c.log_format, SM_LOG_JSON);
    assert_string_equal(c.log_file, "/tmp/x.log");
    assert_int_equal(c.shutdown_ms, 2500);
    assert_int_equal(c.reuse_port, 1);
    assert_int_equal(c.trust_proxy.n, 2);
    assert_int_equal(parse(&c, err, 6, "--tls-cert", "c.pem", "--tls-key", "k.pem",
                           "--http-redirect-port", "80"),
                     0);
    assert_string_equal(c.tls_cert, "c.pem");
    assert_string_equal(c.tls_key, "k.pem");
    assert_int_equal(c.http_redirect_port, 80);
    setenv("SEATMAP_LOG_FORMAT", "json", 1);
    setenv("SEATMAP_TRUST_PROXY", "192.168.0.0/16", 1);
    assert_int_equal(parse(&c, err, 0), 0);
    assert_int_equal(c.log_format, SM_LOG_JSON);
    assert_true(peer_trusted(&c.trust_proxy, "192.168.3.4"));
    unsetenv("SEATMAP_LOG_FORMAT");
    unsetenv("SEATMAP_TRUST_PROXY");
}

static void refusals_say_what(void **state)
{
    config c;
    char err[256];
    (void)state;
    assert_int_equal(parse(&c, err, 2, "--log-level", "verbose"), -1);
    assert_non_null(strstr(err, "--log-level wants debug, info, warn or error"));
    assert_int_equal(parse(&c, err, 2, "--log-format", "xml"), -1);
    assert_non_null(strstr(err, "--log-format wants text or json"));
    assert_int_equal(parse(&c, err, 2, "--shutdown-timeout", "0"), -1);
    assert_non_null(strstr(err, "--shutdown-timeout wants seconds"));
    assert_int_equal(parse(&c, err, 2, "--tls-key", "k.pem"), -1);
    assert_non_null(strstr(err, "--tls-cert and --tls-key go together"));
    assert_int_equal(parse(&c, err, 2, "--http-redirect-port", "80"), -1);
    assert_non_null(strstr(err, "needs --tls-cert and --tls-key"));
    assert_int_equal(parse(&c, err, 8, "--tls-cert", "c", "--tls-key", "k", "--http-redirect-port",
                           "8080", "--listen", "127.0.0.1:8080"),
                     -1);
    assert_non_null(strstr(err, "must differ from the --listen port"));
    assert_int_equal(parse(&c, err, 2, "--trust-proxy", "everyone"), -1);
    assert_non_null(strstr(err, "--trust-proxy wants addresses or CIDR ranges"));
    setenv("SEATMAP_LOG_LEVEL", "loud", 1);
    assert_int_equal(parse(&c, err, 0), -1);
    assert_non_null(strstr(err, "(from SEATMAP_LOG_LEVEL)"));
    unsetenv("SEATMAP_LOG_LEVEL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(values),
        cmocka_unit_test(refusals_say_what),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
