/*
 * test_booking.c - the booking workflow (server/booking.c) against a real
 * redis-server and a real ledger: a hold's payment is confirmed once (the
 * same payment ref again answers the same booking, another ref finds the
 * hold gone with the booking that took it), a walk-up sale is all or
 * nothing, cancellation frees the seats once, and a confirmation whose
 * requester left is thawed, not committed.
 *
 * The loop runs here: the store connects, the show loads from the snapshot
 * script, and each step waits for its callback with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "booking.h"
#include "client.h"
#include "ledger.h"
#include "redis_child.h"
#include "show.h"
#include "store.h"
#include "test_db.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#define DEADLINE_MS 10000

/* Six seats: S-A-1 .. S-A-4, S-B-1, S-B-2. */
static const char venue_doc[] =
    "{\"format\":1,\"name\":\"Tiny\",\"currency\":\"EUR\","
    "\"stage\":{\"x\":0,\"y\":0,\"w\":6,\"h\":1},"
    "\"categories\":[{\"id\":\"std\",\"name\":\"Standard\",\"price\":1000,\"color\":\"#2e86c1\"}],"
    "\"sections\":[{\"id\":\"S\",\"name\":\"Stalls\",\"category\":\"std\",\"rows\":["
    "{\"label\":\"A\",\"y\":3,\"blocks\":[{\"first\":1,\"count\":4,\"x\":1}]},"
    "{\"label\":\"B\",\"y\":4,\"blocks\":[{\"first\":1,\"count\":2,\"x\":2}]}]}]}";

typedef struct fixture {
    char path[64];
    char show_id[32];
    ledger *l;
    uv_loop_t loop;
    store *st;
    client_hub *hub;
    shows *all;
    show *s;
    booking_env env;
    int ready;
} fixture;

/* What a callback saw, copied out (the result is valid only during it). */
typedef struct seen {
    int done;
    outcome out;
    int created;
    int64_t id;
    int64_t other_id; /* the booking named with hold_expired */
    size_t nseats;
    char seats_json[256];
    int wanted; /* what op->wanted answers */
} seen;

static void on_ready(void *arg)
{
    fixture *f = arg;
    f->ready = 1;
    shows_store_ready(f->all);
}

static void on_message(void *arg, const char *show_id, const char *json, size_t len)
{
    shows_store_message(((fixture *)arg)->all, show_id, json, len);
}

static int setup(void **state)
{
    static int n;
    char err[256], url[64];
    store_events ev = {on_ready, NULL, on_message, NULL, NULL};
    shows_config cfg;
    fixture *f = calloc(1, sizeof(*f));
    int64_t deadline = sm_mono_ms() + DEADLINE_MS;

    assert_non_null(f);
    assert_int_equal(test_db_create(f->path, sizeof(f->path), "booking"), 0);
    /* a show of its own per test: one Redis serves them all */
    snprintf(f->show_id, sizeof(f->show_id), "gala%d-%d", (int)getpid(), n++);
    assert_int_equal(ledger_open(f->path, &f->l, err, sizeof(err)), 0);
    assert_int_equal(ledger_show_add(f->l, f->show_id, "Gala", "Tiny", "", venue_doc), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    ev.arg = f;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", redis_port);
    assert_int_equal(store_create(&f->loop, url, &ev, &f->st), 0);
    f->hub = client_hub_new();
    memset(&cfg, 0, sizeof(cfg));
    cfg.store = f->st;
    cfg.ledger = f->l;
    cfg.hub = f->hub;
    cfg.instance = "test:1";
    cfg.started_ms = "1";
    cfg.tick_ms = 50;
    cfg.frozen_bound_ms = 10000;
    f->all = shows_new(&cfg);
    assert_non_null(f->all);
    f->s = shows_load_now(f->all, f->show_id);
    assert_non_null(f->s);
    while (!show_loaded(f->s) && sm_mono_ms() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(show_loaded(f->s));
    f->env.loop = &f->loop;
    f->env.store = f->st;
    f->env.ledger = f->l;
    f->env.instance = "test:1";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    shows_free(f->all);
    client_hub_free(f->hub);
    store_destroy(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    ledger_close(f->l);
    test_db_remove(f->path);
    free(f);
    return 0;
}

/* ---- helpers ---- */

typedef struct held {
    show *s;
    int done;
    char ref[AUTH_REF_LEN + 1];
} held;

static void on_held(void *arg, const store_result *res)
{
    held *h = arg;
    cJSON *d = cJSON_Parse(res->detail);
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(d, "ref");
    show_apply_result(h->s, res, NULL); /* as ws.c does with a hold's answer */
    h->done = 1;
    if (res->outcome == OUT_OK && cJSON_IsString(ref))
        snprintf(h->ref, sizeof(h->ref), "%s", ref->valuestring);
    cJSON_Delete(d);
}

/* Holds two seats for a buyer through hold.lua, as ws.c does; the ref. */
static void hold_two(fixture *f, const char *buyer, const char *a, const char *b, char *ref)
{
    char refs[3][AUTH_REF_LEN + 1];
    const char *args[] = {buyer, "60000", "10", refs[0], refs[1], refs[2], "", "0", a, b};
    int i;
    for (i = 0; i < 3; i++)
        auth_random_ref(refs[i]);
    held h;
    memset(&h, 0, sizeof(h));
    h.s = f->s;
    assert_int_equal(store_run(f->st, "hold", f->show_id, 10, args, on_held, &h), 0);
    run_until(&f->loop, &h.done, DEADLINE_MS);
    assert_true(h.ref[0] != '\0');
    memcpy(ref, h.ref, AUTH_REF_LEN + 1);
}

static void on_booking(booking_op *op, const booking_result *res)
{
    seen *w = op->data;
    w->done = 1;
    w->out = res->outcome;
    w->created = res->created;
    if (res->outcome == OUT_OK) {
        w->id = res->booking->id;
        w->nseats = res->booking->nseats;
    } else if (res->booking) {
        w->other_id = res->booking->id;
    }
    snprintf(w->seats_json, sizeof(w->seats_json), "%s", res->seats_json ? res->seats_json : "");
    booking_op_clear(op);
}

static int wanted(booking_op *op)
{
    return ((seen *)op->data)->wanted;
}

static void wait_done(fixture *f, seen *w)
{
    run_until(&f->loop, &w->done, DEADLINE_MS);
    assert_true(w->done);
}

static void confirm(fixture *f, const char *ref, const char *pay, seen *w)
{
    booking_op op;
    memset(&op, 0, sizeof(op));
    memset(w, 0, sizeof(*w));
    w->wanted = 1;
    op.data = w;
    op.wanted = wanted;
    booking_confirm(&op, &f->env, f->s, ref, pay, "staff:alice", on_booking);
    wait_done(f, w);
}

static void sell(fixture *f, const char *const *seats, size_t n, const char *pay, seen *w)
{
    booking_op op;
    memset(&op, 0, sizeof(op));
    memset(w, 0, sizeof(*w));
    op.data = w;
    booking_sell(&op, &f->env, f->s, seats, n, pay, "staff:alice", on_booking);
    wait_done(f, w);
}

static char state_of(fixture *f, const char *seat)
{
    return show_states(f->s)[venue_seat_index(show_venue(f->s), seat)];
}

/* ---- tests ---- */

static void confirm_books_once(void **state)
{
    fixture *f = *state;
    char ref[AUTH_REF_LEN + 1] = "", lower[AUTH_REF_LEN + 1];
    seen w;
    size_t i;

    hold_two(f, "buyer-1", "S-A-1", "S-A-2", ref);
    assert_int_equal(state_of(f, "S-A-1"), 'p');
    for (i = 0; i <= AUTH_REF_LEN; i++)
        lower[i] = (char)(ref[i] >= 'A' && ref[i] <= 'Z' ? ref[i] + 32 : ref[i]);
    confirm(f, lower, "card-1", &w); /* the code, as a cashier types it */
    assert_int_equal(w.out, OUT_OK);
    assert_true(w.created);
    assert_int_equal(w.nseats, 2);
    assert_int_equal(state_of(f, "S-A-1"), 'b');
    assert_int_equal(state_of(f, "S-A-2"), 'b');
    assert_null(show_hold_of(f->s, "buyer-1"));

    /* a double click: the same payment again is the same booking */
    {
        int64_t id = w.id;
        confirm(f, ref, "card-1", &w);
        assert_int_equal(w.out, OUT_OK);
        assert_false(w.created);
        assert_int_equal(w.id, id);
        /* another payment for the paid hold: gone, and says by which booking */
        confirm(f, ref, "card-2", &w);
        assert_int_equal(w.out, OUT_HOLD_EXPIRED);
        assert_int_equal(w.other_id, id);
    }
}

static void confirm_unknown_hold(void **state)
{
    fixture *f = *state;
    seen w;
    confirm(f, "ZZZZZZ", "card-9", &w);
    assert_int_equal(w.out, OUT_HOLD_EXPIRED);
    assert_int_equal(w.other_id, 0);
    confirm(f, "abc", "card-9", &w); /* not even a code */
    assert_int_equal(w.out, OUT_HOLD_EXPIRED);
}

static void sale_is_all_or_nothing(void **state)
{
    fixture *f = *state;
    const char *two[] = {"S-B-1", "S-B-2", "S-B-1"}; /* a duplicate is dropped */
    const char *overlap[] = {"S-A-4", "S-B-2"};
    char ref[AUTH_REF_LEN + 1] = "";
    seen w;

    sell(f, two, 3, "cash-1", &w);
    assert_int_equal(w.out, OUT_OK);
    assert_true(w.created);
    assert_int_equal(w.nseats, 2);
    assert_int_equal(state_of(f, "S-B-1"), 'b');
    /* one seat taken: nothing is sold, and the answer names it */
    sell(f, overlap, 2, "cash-2", &w);
    assert_int_equal(w.out, OUT_SEAT_UNAVAILABLE);
    assert_non_null(strstr(w.seats_json, "S-B-2"));
    assert_null(strstr(w.seats_json, "S-A-4"));
    assert_int_equal(state_of(f, "S-A-4"), 'e');
    /* a held seat cannot be sold either */
    hold_two(f, "buyer-2", "S-A-3", "S-A-4", ref);
    sell(f, overlap, 1, "cash-3", &w);
    assert_int_equal(w.out, OUT_SEAT_UNAVAILABLE);
    assert_int_equal(state_of(f, "S-A-4"), 'p');
}

static void cancel_frees_once(void **state)
{
    fixture *f = *state;
    const char *seats[] = {"S-A-1"};
    booking_op op;
    seen w;
    int64_t id;

    sell(f, seats, 1, "cash-c", &w);
    assert_int_equal(w.out, OUT_OK);
    id = w.id;
    for (int round = 0; round < 2; round++) {
        memset(&op, 0, sizeof(op));
        memset(&w, 0, sizeof(w));
        op.data = &w;
        booking_cancel(&op, &f->env, f->s, id, "staff:admin", on_booking);
        wait_done(f, &w);
        assert_int_equal(w.out, round == 0 ? OUT_OK : OUT_ALREADY_CANCELLED);
        assert_int_equal(state_of(f, "S-A-1"), 'e');
    }
    memset(&op, 0, sizeof(op));
    memset(&w, 0, sizeof(w));
    op.data = &w;
    booking_cancel(&op, &f->env, f->s, 999999, "staff:admin", on_booking);
    wait_done(f, &w);
    assert_int_equal(w.out, OUT_NOT_FOUND);
}

/* The requester left while the hold was being frozen: nothing is committed
 * and the hold goes back to expiring (thawed), still the buyer's. */
static void abandoned_confirm_is_thawed(void **state)
{
    fixture *f = *state;
    char ref[AUTH_REF_LEN + 1] = "", key[128];
    booking_op op;
    ledger_booking b;
    seen w;
    int64_t deadline;
    int thawed = 0;
    redisContext *c;

    hold_two(f, "buyer-3", "S-A-2", "S-A-3", ref);
    memset(&op, 0, sizeof(op));
    memset(&w, 0, sizeof(w));
    w.wanted = 0;
    op.data = &w;
    op.wanted = wanted;
    booking_confirm(&op, &f->env, f->s, ref, "card-gone", "staff:alice", on_booking);
    wait_done(f, &w);
    assert_int_not_equal(w.out, OUT_OK);
    memset(&b, 0, sizeof(b));
    assert_int_equal(ledger_booking_by_payment(f->l, f->show_id, "card-gone", &b),
                     LEDGER_ENOTFOUND);
    /* the thaw is on its way: Redis soon has the hold unfrozen again */
    c = redisConnect("127.0.0.1", redis_port);
    assert_non_null(c);
    snprintf(key, sizeof(key), "sm:{%s}:hold:%s", f->show_id, ref);
    deadline = sm_mono_ms() + DEADLINE_MS;
    while (!thawed && sm_mono_ms() < deadline) {
        redisReply *r = redisCommand(c, "HGET %s frozen", key);
        thawed = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "0") == 0;
        freeReplyObject(r);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    redisFree(c);
    assert_true(thawed);
    assert_non_null(show_hold_of(f->s, "buyer-3"));
    assert_int_equal(state_of(f, "S-A-2"), 'p');
}

static void payment_refs(void **state)
{
    (void)state;
    assert_true(booking_valid_payment_ref("CARD-004512"));
    assert_false(booking_valid_payment_ref(""));
    assert_false(booking_valid_payment_ref("a\tb"));
    assert_false(booking_valid_payment_ref("a\x7f"));
    {
        char long_ref[LEDGER_PAYMENT_REF_MAX + 2];
        memset(long_ref, 'x', sizeof(long_ref) - 1);
        long_ref[sizeof(long_ref) - 1] = '\0';
        assert_false(booking_valid_payment_ref(long_ref));
        long_ref[LEDGER_PAYMENT_REF_MAX] = '\0';
        assert_true(booking_valid_payment_ref(long_ref));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(payment_refs),
        cmocka_unit_test_setup_teardown(confirm_books_once, setup, teardown),
        cmocka_unit_test_setup_teardown(confirm_unknown_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(sale_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_frees_once, setup, teardown),
        cmocka_unit_test_setup_teardown(abandoned_confirm_is_thawed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, start_redis, end_redis);
}
