/*
 * test_webhook_sign.c - unit tests of webhook_sign.h: the Standard Webhooks
 * 1.0 signature against the specification's own example, secrets' shape and
 * decoding, and the retry schedule (exponential, jittered, capped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "webhook_sign.h"

#include <sodium.h>
#include <string.h>

static void test_spec_example(void **state)
{
    /* From the Standard Webhooks specification and its reference libraries. */
    const char *body = "{\"test\": 2432232314}";
    char sig[WH_SIGNATURE_LEN + 1];
    (void)state;
    assert_int_equal(wh_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                             "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* the prefix is optional, as in the reference libraries */
    assert_int_equal(wh_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                             1614265330, body, strlen(body), sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* any change to id, time or body changes it */
    assert_int_equal(wh_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                             "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body), sig),
                     0);
    assert_string_not_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_secrets(void **state)
{
    char a[WH_SECRET_LEN + 1], b[WH_SECRET_LEN + 1];
    unsigned char key[WH_KEY_MAX];
    char sig[WH_SIGNATURE_LEN + 1];
    (void)state;
    wh_secret_new(a);
    wh_secret_new(b);
    assert_int_equal(strlen(a), WH_SECRET_LEN);
    assert_memory_equal(a, "whsec_", 6);
    assert_string_not_equal(a, b);
    assert_int_equal(wh_secret_key(a, key), WH_SECRET_BYTES);
    assert_int_equal(wh_secret_key("whsec_", key), -1);
    assert_int_equal(wh_secret_key("whsec_not base64!", key), -1);
    assert_int_equal(wh_secret_key(NULL, key), -1);
    assert_int_equal(wh_sign("whsec_%%%", "id", 1, "x", 1, sig), -1);
}

static void test_backoff(void **state)
{
    int a;
    (void)state;
    /* equal jitter: between half and all of base * 2^(attempt-1) */
    for (a = 1; a <= 6; a++) {
        uint64_t full = 1000ull << (a - 1);
        assert_int_equal(wh_backoff_ms(1000, a, 0), full - full / 2);
        assert_true(wh_backoff_ms(1000, a, UINT32_MAX) <= full);
        assert_true(wh_backoff_ms(1000, a, 12345) >= full / 2);
    }
    /* capped at 10 minutes, however many attempts */
    assert_true(wh_backoff_ms(1000, 40, UINT32_MAX) <= WH_BACKOFF_CAP_MS);
    assert_true(wh_backoff_ms(1000, 40, 0) >= WH_BACKOFF_CAP_MS / 2);
    assert_true(wh_backoff_ms(600000, 3, 7) <= WH_BACKOFF_CAP_MS);
    assert_true(wh_backoff_ms(1, 1, 0) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_backoff),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
