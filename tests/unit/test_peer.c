/* test_peer.c - trusted proxy ranges and the client's address behind them
 * (server/peer.c): parsing, matching, and the X-Forwarded-For walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "peer.h"

#include <string.h>

static peer_config trust(const char *list)
{
    peer_config pc;
    char err[256];
    assert_int_equal(peer_config_parse(&pc, list, err, sizeof(err)), 0);
    return pc;
}

static void parses_ranges_and_refuses_nonsense(void **state)
{
    peer_config pc;
    char err[256];
    (void)state;
    pc = trust("10.0.0.0/8, 192.168.1.1 ,::1,fd00::/8");
    assert_int_equal(pc.n, 4);
    assert_int_equal(pc.cidrs[1].bits, 32);
    assert_int_equal(pc.cidrs[2].bits, 128);
    pc = trust("");
    assert_int_equal(pc.n, 0);
    const char *bad[] = {"10.0.0.0/33", "10.0.0/8",  "nonsense",
                         "::1/129",     "10.0.0.1/", "1.2.3.4/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(peer_config_parse(&pc, bad[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "--trust-proxy"));
    }
}

static void matches_inside_ranges_only(void **state)
{
    peer_config pc = trust("10.0.0.0/8,172.16.0.0/12,2001:db8::/32,127.0.0.1");
    (void)state;
    assert_true(peer_trusted(&pc, "10.1.2.3"));
    assert_true(peer_trusted(&pc, "172.31.255.255"));
    assert_false(peer_trusted(&pc, "172.32.0.1"));
    assert_true(peer_trusted(&pc, "2001:db8:1::5"));
    assert_false(peer_trusted(&pc, "2001:db9::5"));
    assert_true(peer_trusted(&pc, "::ffff:10.9.9.9")); /* IPv4-mapped is IPv4 */
    assert_true(peer_trusted(&pc, "127.0.0.1"));
    assert_false(peer_trusted(&pc, "127.0.0.2"));
    assert_false(peer_trusted(&pc, "not an address"));
    assert_false(peer_trusted(NULL, "10.1.2.3"));
}

static void no_trust_ignores_the_header(void **state)
{
    peer_config none = trust("");
    char out[PEER_ADDR_MAX];
    (void)state;
    assert_int_equal(peer_resolve(&none, "203.0.113.7", "1.1.1.1", out, sizeof(out)), 0);
    assert_string_equal(out, "203.0.113.7");
    assert_int_equal(peer_resolve(&none, "::ffff:127.0.0.1", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "127.0.0.1");
}

static void trusted_proxy_gives_the_last_hop(void **state)
{
    peer_config pc = trust("10.0.0.0/8");
    char out[PEER_ADDR_MAX];
    (void)state;
    /* the client sent a forged first entry; the proxy appended the real one */
    assert_int_equal(peer_resolve(&pc, "10.0.0.2", "6.6.6.6, 198.51.100.4", out, sizeof(out)), 0);
    assert_string_equal(out, "198.51.100.4");
    /* an untrusted peer's header is not believed */
    peer_resolve(&pc, "198.51.100.9", "1.2.3.4", out, sizeof(out));
    assert_string_equal(out, "198.51.100.9");
    /* two trusted hops: the walk goes on past the inner proxy */
    peer_resolve(&pc, "10.0.0.2", "198.51.100.4,10.0.0.3", out, sizeof(out));
    assert_string_equal(out, "198.51.100.4");
    /* every hop trusted: the leftmost */
    peer_resolve(&pc, "10.0.0.2", "10.0.0.5, 10.0.0.3", out, sizeof(out));
    assert_string_equal(out, "10.0.0.5");
    /* garbage stops the walk at the last good address */
    peer_resolve(&pc, "10.0.0.2", "198.51.100.4, garbage", out, sizeof(out));
    assert_string_equal(out, "10.0.0.2");
    /* empty header, empty items */
    peer_resolve(&pc, "10.0.0.2", "", out, sizeof(out));
    assert_string_equal(out, "10.0.0.2");
    peer_resolve(&pc, "10.0.0.2", "198.51.100.4, ,", out, sizeof(out));
    assert_string_equal(out, "198.51.100.4");
    /* IPv6 hops, mapped peers */
    pc = trust("::1,10.0.0.0/8");
    peer_resolve(&pc, "::ffff:10.0.0.2", "2001:db8::9", out, sizeof(out));
    assert_string_equal(out, "2001:db8::9");
    peer_resolve(&pc, "::1", "::ffff:198.51.100.4", out, sizeof(out));
    assert_string_equal(out, "198.51.100.4");
}

static void bad_peer_is_reported(void **state)
{
    peer_config pc = trust("10.0.0.0/8");
    char out[8];
    (void)state;
    assert_int_equal(peer_resolve(&pc, "what is this", "1.2.3.4", out, sizeof(out)), -1);
    assert_string_equal(out, "what is"); /* cut to fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_ranges_and_refuses_nonsense),
        cmocka_unit_test(matches_inside_ranges_only),
        cmocka_unit_test(no_trust_ignores_the_header),
        cmocka_unit_test(trusted_proxy_gives_the_last_hop),
        cmocka_unit_test(bad_peer_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
