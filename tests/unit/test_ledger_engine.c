/*
 * test_ledger_engine.c - unit tests of the engine table (ledger_engine.h):
 * every engine the server links fills every operation slot, and a handle
 * whose engine leaves one NULL answers LEDGER_EIO with a sentence naming
 * the engine and the operation, from ledger.h, ledger_accounts.h and
 * ledger_webhooks.h alike, instead of crashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger.h"
#include "ledger_accounts.h"
#include "ledger_engine.h"
#include "ledger_webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_every_engine_fills_every_slot(void **state)
{
    static const ledger_engine *const engines[] = {&ledger_sqlite_engine, &ledger_pg_engine};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        const char *missing = ledger__engine_missing(engines[i]);
        if (missing)
            fail_msg("the %s engine leaves %s NULL", engines[i]->name, missing);
        assert_non_null(engines[i]->name);
    }
}

static void test_missing_slot_is_named(void **state)
{
    ledger_engine partial = ledger_sqlite_engine;
    (void)state;
    partial.delivery_count = NULL;
    assert_string_equal(ledger__engine_missing(&partial), "delivery_count");
    partial.open = NULL;
    assert_string_equal(ledger__engine_missing(&partial), "open");
}

/* A handle on an engine that implements nothing: every call refuses. */
static void test_null_slot_refuses(void **state)
{
    static const ledger_engine empty = {.name = "empty"};
    ledger *l = ledger__new(&empty, NULL);
    ledger_webhook h;
    ledger_webhook *hs = NULL;
    ledger_delivery d, *ds = NULL;
    ledger_show show;
    ledger_user u;
    int64_t id = -1, count = -1;
    size_t n = 7;
    int created = -1;
    (void)state;

    assert_non_null(l);
    assert_int_equal(ledger_webhook_add(l, "http://a/1", "*", "whsec_AAAA", 1, &id), LEDGER_EIO);
    assert_string_equal(ledger_errmsg(l),
                        "the empty database engine cannot do webhook_add (not implemented)");
    assert_int_equal(ledger_webhook_get(l, 1, &h), LEDGER_EIO);
    assert_int_equal(ledger_webhook_list(l, &hs, &n), LEDGER_EIO);
    assert_null(hs);
    assert_int_equal(n, 0);
    assert_int_equal(ledger_webhook_delete(l, 1), LEDGER_EIO);
    assert_int_equal(ledger_delivery_add(l, 1, "evt_1", "hold.expired", "{}", 1, &id, &created),
                     LEDGER_EIO);
    assert_int_equal(ledger_delivery_get(l, 1, &d), LEDGER_EIO);
    assert_null(d.payload);
    assert_int_equal(ledger_delivery_list(l, 1, NULL, 10, &ds, &n), LEDGER_EIO);
    memset(&d, 0, sizeof(d));
    snprintf(d.status, sizeof(d.status), "ok");
    assert_int_equal(ledger_delivery_update(l, &d, 1), LEDGER_EIO);
    assert_int_equal(ledger_delivery_count(l, 1, NULL, &count), LEDGER_EIO);
    assert_string_equal(ledger_errmsg(l),
                        "the empty database engine cannot do delivery_count (not implemented)");

    assert_int_equal(ledger_show_get(l, "gala", &show), LEDGER_EIO);
    assert_string_equal(ledger_errmsg(l),
                        "the empty database engine cannot do show_get (not implemented)");
    assert_int_equal(ledger_user_get(l, "alice", &u), LEDGER_EIO);
    assert_non_null(strstr(ledger_errmsg(l), "user_get"));
    ledger__free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_engine_fills_every_slot),
        cmocka_unit_test(test_missing_slot_is_named),
        cmocka_unit_test(test_null_slot_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
