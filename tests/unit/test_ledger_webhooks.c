/*
 * test_ledger_webhooks.c - unit tests of ledger_webhooks.h: the one URL and
 * event-list check (shared by the CLI and the API), webhooks and their
 * deliveries (idempotent recording per event, status updates, lists by
 * status, counts, removal with the webhook), run once per engine of
 * ledger_engines.h (the PostgreSQL row skipped only where PostgreSQL is not
 * installed); then, on PostgreSQL only, a ledger from before webhooks
 * upgraded at open, and two handles sharing one delivery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_engines.h"
#include "ledger_webhooks.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void test_url_ok(void **state)
{
    char longest[LEDGER_URL_MAX + 2];
    (void)state;
    assert_true(ledger_webhook_url_ok("http://orders.internal/hooks"));
    assert_true(ledger_webhook_url_ok("https://127.0.0.1:9000/x?y=1"));
    assert_false(ledger_webhook_url_ok("ftp://example.com/"));
    assert_false(ledger_webhook_url_ok("file:///etc/passwd"));
    assert_false(ledger_webhook_url_ok("gopher://x"));
    assert_false(ledger_webhook_url_ok("HTTP//x"));
    assert_false(ledger_webhook_url_ok("http://"));
    assert_false(ledger_webhook_url_ok("http:///path"));
    assert_false(ledger_webhook_url_ok("http://a b/"));
    assert_false(ledger_webhook_url_ok("http://a/\n"));
    assert_false(ledger_webhook_url_ok(""));
    assert_false(ledger_webhook_url_ok(NULL));
    memcpy(longest, "http://", 7);
    memset(longest + 7, 'a', LEDGER_URL_MAX - 7);
    longest[LEDGER_URL_MAX] = '\0';
    assert_true(ledger_webhook_url_ok(longest));
    longest[LEDGER_URL_MAX] = 'a';
    longest[LEDGER_URL_MAX + 1] = '\0';
    assert_false(ledger_webhook_url_ok(longest));
}

static void test_events_ok(void **state)
{
    (void)state;
    assert_true(ledger_webhook_events_ok("*"));
    assert_true(ledger_webhook_events_ok("hold.expired"));
    assert_true(ledger_webhook_events_ok("hold.expired,booking.created,booking.cancelled"));
    assert_false(ledger_webhook_events_ok("hold.expired,hold.expired"));
    assert_false(ledger_webhook_events_ok("hold.expired,"));
    assert_false(ledger_webhook_events_ok(",hold.expired"));
    assert_false(ledger_webhook_events_ok("hold.expired, booking.created"));
    assert_false(ledger_webhook_events_ok("*,hold.expired"));
    assert_false(ledger_webhook_events_ok("hold"));
    assert_false(ledger_webhook_events_ok(""));
    assert_false(ledger_webhook_events_ok(NULL));
    assert_true(ledger_webhook_wants("*", "hold.created"));
    assert_true(ledger_webhook_wants("hold.expired,booking.created", "booking.created"));
    assert_false(ledger_webhook_wants("hold.expired,booking.created", "hold.created"));
    assert_false(ledger_webhook_wants("hold.expired", "hold"));
}

static void test_webhooks_and_deliveries(void **state)
{
    fixture *f = *state;
    ledger_webhook *list = NULL, h;
    ledger_delivery d, *ds = NULL;
    size_t n = 0;
    int64_t id = 0, id2 = 0, did = 0, did2 = 0, count = -1;
    int created = -1;

    assert_int_equal(ledger_webhook_add(f->l, "ftp://x", "*", "whsec_AAAA", 1, &id), LEDGER_EINVAL);
    assert_int_equal(ledger_webhook_add(f->l, "http://x", "nope", "whsec_AAAA", 1, &id),
                     LEDGER_EINVAL);
    assert_int_equal(ledger_webhook_add(f->l, "http://x", "*", "AAAA", 1, &id), LEDGER_EINVAL);
    assert_int_equal(ledger_webhook_add(f->l, "http://a/1", "hold.expired", "whsec_AAAA", 5, &id),
                     0);
    assert_int_equal(ledger_webhook_add(f->l, "https://b/2", "*", "whsec_BBBB", 6, &id2), 0);
    assert_int_equal(ledger_webhook_list(f->l, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].url, "http://a/1");
    assert_string_equal(list[0].events, "hold.expired");
    assert_string_equal(list[1].secret, "whsec_BBBB");
    assert_int_equal(list[1].created_at, 6);
    free(list);

    /* one delivery per (webhook, event): recording it again finds it */
    assert_int_equal(
        ledger_delivery_add(f->l, id, "evt_1", "hold.expired", "{\"a\":1}", 10, &did, &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(
        ledger_delivery_add(f->l, id, "evt_1", "hold.expired", "{\"a\":1}", 11, &did2, &created),
        0);
    assert_int_equal(created, 0);
    assert_int_equal(did2, did);
    assert_int_equal(
        ledger_delivery_add(f->l, 999, "evt_1", "hold.expired", "{}", 11, &did2, &created),
        LEDGER_ENOTFOUND);
    assert_int_equal(ledger_delivery_get(f->l, did, &d), 0);
    assert_string_equal(d.status, "pending");
    assert_string_equal(d.payload, "{\"a\":1}");
    assert_int_equal(d.attempts, 0);
    ledger_delivery_clear(&d);

    assert_int_equal(ledger_delivery_get(f->l, did, &d), 0);
    snprintf(d.status, sizeof(d.status), "failed");
    d.attempts = 2;
    snprintf(d.last_error, sizeof(d.last_error), "HTTP 500");
    d.next_attempt_at = 1234;
    assert_int_equal(ledger_delivery_update(f->l, &d, 20), 0);
    snprintf(d.status, sizeof(d.status), "weird");
    assert_int_equal(ledger_delivery_update(f->l, &d, 20), LEDGER_EINVAL);
    ledger_delivery_clear(&d);
    reopen(f);
    assert_int_equal(ledger_delivery_list(f->l, id, "failed", 10, &ds, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ds[0].last_error, "HTTP 500");
    assert_int_equal(ds[0].attempts, 2);
    assert_int_equal(ds[0].next_attempt_at, 1234);
    assert_null(ds[0].payload);
    ledger_delivery_list_free(ds, n);
    assert_int_equal(ledger_delivery_list(f->l, id, "ok", 10, &ds, &n), 0);
    assert_int_equal(n, 0);
    ledger_delivery_list_free(ds, n);
    assert_int_equal(ledger_delivery_list(f->l, id, "bogus", 10, &ds, &n), LEDGER_EINVAL);
    assert_int_equal(ledger_delivery_count(f->l, id, "failed", &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(ledger_delivery_count(f->l, id, NULL, &count), 0);
    assert_int_equal(count, 1);

    /* removing a webhook removes its deliveries */
    assert_int_equal(ledger_webhook_delete(f->l, id), 0);
    assert_int_equal(ledger_webhook_delete(f->l, id), LEDGER_ENOTFOUND);
    assert_int_equal(ledger_webhook_get(f->l, id, &h), LEDGER_ENOTFOUND);
    assert_int_equal(ledger_delivery_get(f->l, did, &d), LEDGER_ENOTFOUND);
    assert_int_equal(ledger_webhook_get(f->l, id2, &h), 0);
    assert_string_equal(h.url, "https://b/2");
}

/* What the admin API relies on, the same on every engine: newest first,
 * limit, counts per status, deliveries of one webhook only, the messages of
 * refusals, and the same event id allowed once per webhook. */
static void test_delivery_lists_and_refusals(void **state)
{
    fixture *f = *state;
    ledger_delivery d, *ds = NULL;
    int64_t a = 0, b = 0, ids[5], other = 0, count = -1;
    size_t n = 0;
    int created = -1, i;
    char evt[16];

    assert_int_equal(ledger_webhook_add(f->l, "http://a/1", "*", "whsec_AAAA", 1, &a), 0);
    assert_int_equal(ledger_webhook_add(f->l, "http://b/2", "*", "whsec_BBBB", 2, &b), 0);
    assert_true(b > a);
    for (i = 0; i < 5; i++) {
        snprintf(evt, sizeof(evt), "evt_%d", i);
        assert_int_equal(
            ledger_delivery_add(f->l, a, evt, "hold.created", "{}", 100 + i, &ids[i], &created), 0);
        assert_int_equal(created, 1);
        assert_true(i == 0 || ids[i] > ids[i - 1]);
    }
    /* the same event for another webhook is another delivery */
    assert_int_equal(
        ledger_delivery_add(f->l, b, "evt_0", "hold.created", "{}", 200, &other, &created), 0);
    assert_int_equal(created, 1);
    assert_true(other != ids[0]);

    assert_int_equal(ledger_delivery_list(f->l, a, NULL, 3, &ds, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ds[0].id, ids[4]);
    assert_int_equal(ds[2].id, ids[2]);
    assert_int_equal(ds[0].webhook_id, a);
    assert_string_equal(ds[0].event_id, "evt_4");
    assert_string_equal(ds[0].event_type, "hold.created");
    assert_string_equal(ds[0].status, "pending");
    assert_int_equal(ds[0].created_at, 104);
    assert_int_equal(ds[0].next_attempt_at, 104);
    ledger_delivery_list_free(ds, n);

    assert_int_equal(ledger_delivery_get(f->l, ids[1], &d), 0);
    snprintf(d.status, sizeof(d.status), "dead");
    d.attempts = 8;
    d.base_attempts = 3;
    snprintf(d.last_error, sizeof(d.last_error), "connection refused: it's \"down\"");
    d.next_attempt_at = 0;
    assert_int_equal(ledger_delivery_update(f->l, &d, 300), 0);
    ledger_delivery_clear(&d);
    assert_int_equal(ledger_delivery_get(f->l, ids[1], &d), 0);
    assert_string_equal(d.status, "dead");
    assert_int_equal(d.attempts, 8);
    assert_int_equal(d.base_attempts, 3);
    assert_string_equal(d.last_error, "connection refused: it's \"down\"");
    assert_int_equal(d.next_attempt_at, 0);
    assert_int_equal(d.created_at, 101);
    ledger_delivery_clear(&d);

    assert_int_equal(ledger_delivery_count(f->l, a, NULL, &count), 0);
    assert_int_equal(count, 5);
    assert_int_equal(ledger_delivery_count(f->l, a, "pending", &count), 0);
    assert_int_equal(count, 4);
    assert_int_equal(ledger_delivery_count(f->l, a, "dead", &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(ledger_delivery_count(f->l, b, NULL, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(ledger_delivery_count(f->l, 999, NULL, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(ledger_delivery_list(f->l, a, "dead", 10, &ds, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ds[0].id, ids[1]);
    ledger_delivery_list_free(ds, n);

    /* refusals: the same codes and sentences whatever the engine */
    assert_int_equal(
        ledger_delivery_add(f->l, 999, "evt_9", "hold.created", "{}", 1, &other, &created),
        LEDGER_ENOTFOUND);
    assert_string_equal(ledger_errmsg(f->l), "no such webhook");
    assert_int_equal(ledger_delivery_get(f->l, 99999, &d), LEDGER_ENOTFOUND);
    assert_string_equal(ledger_errmsg(f->l), "no such delivery");
    memset(&d, 0, sizeof(d));
    d.id = 99999;
    snprintf(d.status, sizeof(d.status), "ok");
    assert_int_equal(ledger_delivery_update(f->l, &d, 1), LEDGER_ENOTFOUND);
    assert_string_equal(ledger_errmsg(f->l), "no such delivery");
    assert_int_equal(ledger_webhook_delete(f->l, 99999), LEDGER_ENOTFOUND);
    assert_string_equal(ledger_errmsg(f->l), "no such webhook");

    /* deleting one webhook leaves the other's deliveries */
    assert_int_equal(ledger_webhook_delete(f->l, a), 0);
    assert_int_equal(ledger_delivery_count(f->l, a, NULL, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(ledger_delivery_get(f->l, other, &d), 0);
    assert_int_equal(d.webhook_id, b);
    ledger_delivery_clear(&d);
}

/* ---- PostgreSQL only ---- */

static void pg_exec(const char *target, const char *sql)
{
    PGconn *c = PQconnectdb(target);
    PGresult *r;
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* A ledger made before webhooks existed (schema version 1) gets them at
 * its next open; two handles (two processes) recording the same event
 * share one delivery. */
static void test_pg_upgrade_and_two_handles(void **state)
{
    fixture *f = *state;
    ledger *other = NULL;
    int64_t wh = 0, d1 = 0, d2 = 0, count = -1;
    int created1 = -1, created2 = -1;

    pg_exec(f->target, "DROP TABLE deliveries; DROP TABLE webhooks;"
                       " DELETE FROM seatmap_schema WHERE version >= 2");
    assert_int_equal(query_int(f->target, "SELECT max(version) FROM seatmap_schema"), 1);
    reopen(f);
    assert_int_equal(query_int(f->target, "SELECT max(version) FROM seatmap_schema"),
                     3); /* every migration since, to the latest */
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM pg_constraint WHERE conname ="
                                          " 'deliveries_webhook_id_event_id_key'"),
                     1);

    assert_int_equal(ledger_webhook_add(f->l, "http://a/1", "*", "whsec_AAAA", 1, &wh), 0);
    t_open(f->target, &other);
    assert_int_equal(
        ledger_delivery_add(f->l, wh, "evt_1", "hold.created", "{}", 10, &d1, &created1), 0);
    assert_int_equal(
        ledger_delivery_add(other, wh, "evt_1", "hold.created", "{}", 11, &d2, &created2), 0);
    assert_int_equal(created1, 1);
    assert_int_equal(created2, 0);
    assert_int_equal(d2, d1);
    assert_int_equal(ledger_delivery_count(other, wh, "pending", &count), 0);
    assert_int_equal(count, 1);
    ledger_close(other);
}

/* The dashboard's counts in one query; a discarded (deleted) delivery is
 * gone, and its id is never given to a newer one, on either engine. */
static void test_delivery_stats_and_delete(void **state)
{
    fixture *f = *state;
    ledger_delivery d;
    ledger_delivery_counts c;
    int64_t wh = 0, ids[4] = {0}, again = 0;
    int created = 0, i;
    char ev[16];

    assert_int_equal(ledger_webhook_add(f->l, "http://a/1", "*", "whsec_AAAA", 1, &wh), 0);
    for (i = 0; i < 4; i++) {
        snprintf(ev, sizeof(ev), "evt_%d", i);
        assert_int_equal(
            ledger_delivery_add(f->l, wh, ev, "hold.created", "{}", 10, &ids[i], &created), 0);
    }
    /* 0: ok long ago, 1: ok just now, 2: dead, 3: still pending */
    for (i = 0; i < 3; i++) {
        assert_int_equal(ledger_delivery_get(f->l, ids[i], &d), 0);
        snprintf(d.status, sizeof(d.status), "%s", i < 2 ? "ok" : "dead");
        d.attempts = 1;
        assert_int_equal(ledger_delivery_update(f->l, &d, i == 0 ? 100 : 60000), 0);
        ledger_delivery_clear(&d);
    }
    assert_int_equal(ledger_delivery_stats(f->l, wh, 1000, &c), 0);
    assert_int_equal(c.ok, 2);
    assert_int_equal(c.ok_since, 1);
    assert_int_equal(c.dead, 1);
    assert_int_equal(c.pending, 1);
    assert_int_equal(c.failed, 0);
    assert_int_equal(ledger_delivery_stats(f->l, 999, 0, &c), 0);
    assert_int_equal(c.ok + c.dead + c.pending + c.failed, 0);

    /* the newest, deleted: the next delivery gets a new id */
    assert_int_equal(ledger_delivery_delete(f->l, ids[3]), 0);
    assert_int_equal(ledger_delivery_get(f->l, ids[3], &d), LEDGER_ENOTFOUND);
    assert_int_equal(ledger_delivery_delete(f->l, ids[3]), LEDGER_ENOTFOUND);
    assert_int_equal(
        ledger_delivery_update(f->l, &(ledger_delivery){.id = ids[3], .status = "ok"}, 1),
        LEDGER_ENOTFOUND);
    reopen(f);
    assert_int_equal(
        ledger_delivery_add(f->l, wh, "evt_new", "hold.created", "{}", 10, &again, &created), 0);
    assert_true(again > ids[3]);
    assert_int_equal(ledger_delivery_stats(f->l, wh, 1000, &c), 0);
    assert_int_equal(c.pending, 1);
}

int main(void)
{
    const struct CMUnitTest checks[] = {
        cmocka_unit_test(test_url_ok),
        cmocka_unit_test(test_events_ok),
    };
    const struct CMUnitTest each_engine[] = {
        cmocka_unit_test_setup_teardown(test_webhooks_and_deliveries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_lists_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_stats_and_delete, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("urls and events", checks, NULL, NULL);

    const struct CMUnitTest pg_only[] = {
        cmocka_unit_test_setup_teardown(test_pg_upgrade_and_two_handles, setup, teardown),
    };
    LEDGER_RUN_EACH_ENGINE(each_engine, failed);
    if (pg_available() == 0) {
        t_use_engine("postgresql");
        failed += cmocka_run_group_tests_name("postgresql only", pg_only, NULL, NULL);
    }
    return failed;
}
