/*
 * test_show_load.c - unit tests of server/show_load.c: a show not cached
 * is loaded once on the queue's thread however many wait for it, never
 * answered before show_load returns; "no such show" is remembered, in a
 * bounded table; loads in flight are capped; a wait is answered
 * `unavailable` at its bound while its load goes on; stopping answers every
 * wait.
 *
 * Real parts: a ledger in a temp file, a ledger queue (its thread) on a
 * loop the tests run, the show registry. A job that blocks the queue's
 * thread until the test lets it go stands in for a database that does not
 * answer. The store is on a loop of its own that never runs (no Redis).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger.h"
#include "ledger_queue.h"
#include "show.h"
#include "show_load.h"
#include "store.h"
#include "test_db.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char venue_doc[] =
    "{\"format\":1,\"name\":\"Tiny\",\"currency\":\"EUR\","
    "\"stage\":{\"x\":0,\"y\":0,\"w\":6,\"h\":1},"
    "\"categories\":[{\"id\":\"std\",\"name\":\"Standard\",\"price\":1000,\"color\":\"#2e86c1\"}],"
    "\"sections\":[{\"id\":\"S\",\"name\":\"Stalls\",\"category\":\"std\",\"rows\":["
    "{\"label\":\"A\",\"y\":3,\"blocks\":[{\"first\":1,\"count\":4,\"x\":1}]}]}]}";

typedef struct fixture {
    char path[64];
    ledger *l;
    uv_loop_t loop, store_loop;
    store *st;
    client_hub *hub;
    shows *all;
    ledger_queue *q;
    show_loader *sl;
} fixture;

/* ---- a thread that does not answer ---- */

static pthread_mutex_t stuck_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stuck_cv = PTHREAD_COND_INITIALIZER;
static int stuck_started, stuck_released, stuck_done;
static ledger_job stuck_job;

static void run_stuck(ledger *l, ledger_job *j)
{
    (void)l;
    (void)j;
    pthread_mutex_lock(&stuck_mu);
    stuck_started = 1;
    pthread_cond_broadcast(&stuck_cv);
    while (!stuck_released)
        pthread_cond_wait(&stuck_cv, &stuck_mu);
    pthread_mutex_unlock(&stuck_mu);
}

static void done_stuck(ledger_job *j)
{
    (void)j;
    stuck_done = 1;
}

static void block_queue(fixture *f)
{
    stuck_started = stuck_released = stuck_done = 0;
    ledger_queue_submit(f->q, &stuck_job, run_stuck, done_stuck);
    pthread_mutex_lock(&stuck_mu);
    while (!stuck_started)
        pthread_cond_wait(&stuck_cv, &stuck_mu);
    pthread_mutex_unlock(&stuck_mu);
}

static void release_queue(void)
{
    pthread_mutex_lock(&stuck_mu);
    stuck_released = 1;
    pthread_cond_broadcast(&stuck_cv);
    pthread_mutex_unlock(&stuck_mu);
}

/* ---- setup ---- */

static fixture *make(int wait_ms)
{
    char err[256];
    store_events ev;
    shows_config cfg;
    show_loader_config lc;
    fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(test_db_create(f->path, sizeof(f->path), "showload"), 0);
    assert_int_equal(ledger_open(f->path, &f->l, err, sizeof(err)), 0);
    assert_int_equal(
        ledger_show_add(f->l, "t1", "Test night", "Tiny", "2026-01-01T20:00:00Z", venue_doc), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_loop_init(&f->store_loop), 0);
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(store_create(&f->store_loop, "redis://127.0.0.1:1", &ev, &f->st), 0);
    f->hub = client_hub_new();
    memset(&cfg, 0, sizeof(cfg));
    cfg.store = f->st;
    cfg.ledger = f->l;
    cfg.hub = f->hub;
    cfg.instance = "127.0.0.1:0";
    cfg.started_ms = "1";
    cfg.frozen_bound_ms = 10000;
    assert_non_null(f->all = shows_new(&cfg));
    assert_int_equal(ledger_queue_open(&f->loop, f->path, &f->q, err, sizeof(err)), 0);
    memset(&lc, 0, sizeof(lc));
    lc.loop = &f->loop;
    lc.shows = f->all;
    lc.q = f->q;
    lc.wait_ms = wait_ms;
    lc.queue_max = 100000;
    assert_non_null(f->sl = show_loader_new(&lc));
    return f;
}

static void destroy(fixture *f)
{
    show_loader_stop(f->sl);
    ledger_queue_close(f->q);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    show_loader_free(f->sl);
    shows_free(f->all);
    client_hub_free(f->hub);
    store_destroy(f->st);
    uv_run(&f->store_loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->store_loop), 0);
    ledger_close(f->l);
    test_db_remove(f->path);
    free(f);
}

/* ---- waits ---- */

typedef struct waiter {
    show_wait w;
    int calls;
    show *s;
    outcome o;
} waiter;

static int answered;

static void on_done(show_wait *w, show *s, outcome o)
{
    waiter *x = w->data;
    x->calls++;
    x->s = s;
    x->o = o;
    answered++;
}

static outcome wait_for(fixture *f, const char *id, waiter *x)
{
    show *s = (show *)1;
    outcome o;
    memset(x, 0, sizeof(*x));
    x->w.data = x;
    o = show_load(f->sl, id, &s, &x->w, on_done);
    if (o != OUT_OK)
        assert_null(s);
    return o;
}

/* Runs the loop until n waits in all were answered (or 10 s passed). */
static void run_until_answered(fixture *f, int n)
{
    int64_t deadline = sm_mono_ms() + 10000;
    while (answered < n && sm_mono_ms() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(answered, n);
}

/* ---- tests ---- */

static void one_load_for_every_wait(void **state)
{
    fixture *f = make(5000);
    waiter a, b;
    show *s = NULL;
    (void)state;

    answered = 0;
    assert_null(shows_get(f->all, "t1"));
    assert_int_equal(wait_for(f, "t1", &a), OUT_MORE);
    assert_int_equal(wait_for(f, "t1", &b), OUT_MORE);
    assert_int_equal(a.calls + b.calls, 0); /* never before show_load returns */
    assert_int_equal(show_load_pending(f->sl), 1);
    assert_int_equal(show_load_waiting(f->sl), 2);
    run_until_answered(f, 2);
    assert_int_equal(a.o, OUT_OK);
    assert_int_equal(b.o, OUT_OK);
    assert_non_null(a.s);
    assert_ptr_equal(a.s, b.s);
    assert_ptr_equal(shows_get(f->all, "t1"), a.s);
    assert_string_equal(show_name(a.s), "Test night");
    assert_string_equal(show_starts_at(a.s), "2026-01-01T20:00:00Z");
    assert_int_equal(show_seat_count(a.s), 4);
    /* cached from now on: answered at once */
    assert_int_equal(show_load(f->sl, "t1", &s, &a.w, on_done), OUT_OK);
    assert_ptr_equal(s, a.s);
    assert_int_equal(show_load_pending(f->sl), 0);
    assert_int_equal(show_load_waiting(f->sl), 0);
    destroy(f);
}

static void no_such_show_is_remembered_in_a_bounded_table(void **state)
{
    fixture *f = make(5000);
    waiter *x = calloc(SHOW_LOAD_REMEMBER + 1, sizeof(*x));
    char id[32];
    int i, n = 0;
    (void)state;

    answered = 0;
    assert_int_equal(wait_for(f, "bad id!", &x[0]), OUT_UNKNOWN_SHOW); /* not an id: no load */
    assert_int_equal(show_load_pending(f->sl), 0);
    assert_int_equal(wait_for(f, "nope", &x[0]), OUT_MORE);
    run_until_answered(f, ++n);
    assert_int_equal(x[0].o, OUT_UNKNOWN_SHOW);
    assert_null(x[0].s);
    assert_int_equal(wait_for(f, "nope", &x[0]), OUT_UNKNOWN_SHOW); /* remembered */
    assert_int_equal(show_load_pending(f->sl), 0);

    /* SHOW_LOAD_REMEMBER more ids: "nope" is the oldest and goes */
    for (i = 0; i < SHOW_LOAD_REMEMBER; i++) {
        snprintf(id, sizeof(id), "probe-%d", i);
        assert_int_equal(wait_for(f, id, &x[i]), OUT_MORE);
        run_until_answered(f, ++n);
    }
    assert_int_equal(wait_for(f, "probe-0", &x[0]), OUT_UNKNOWN_SHOW);
    assert_int_equal(wait_for(f, "nope", &x[0]), OUT_MORE); /* loaded again */
    run_until_answered(f, ++n);
    free(x);
    destroy(f);
}

static void loads_are_capped_and_waits_bounded(void **state)
{
    fixture *f = make(200);
    waiter *x = calloc(SHOW_LOAD_MAX_LOADS + 1, sizeof(*x)), late;
    char id[32];
    int64_t t0;
    int i;
    (void)state;

    answered = 0;
    block_queue(f);
    t0 = sm_mono_ms();
    for (i = 0; i < SHOW_LOAD_MAX_LOADS; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        assert_int_equal(wait_for(f, id, &x[i]), OUT_MORE);
    }
    assert_int_equal(show_load_pending(f->sl), SHOW_LOAD_MAX_LOADS);
    /* one load more would pass the cap: unavailable at once */
    assert_int_equal(wait_for(f, "one-more", &late), OUT_UNAVAILABLE);
    assert_int_equal(late.calls, 0);
    /* a load already out takes another wait */
    assert_int_equal(wait_for(f, "id-0", &x[SHOW_LOAD_MAX_LOADS]), OUT_MORE);

    /* the thread never answers: every wait is answered at its bound */
    run_until_answered(f, SHOW_LOAD_MAX_LOADS + 1);
    assert_true(sm_mono_ms() - t0 >= 200);
    for (i = 0; i <= SHOW_LOAD_MAX_LOADS; i++) {
        assert_int_equal(x[i].calls, 1);
        assert_int_equal(x[i].o, OUT_UNAVAILABLE);
    }
    assert_int_equal(show_load_waiting(f->sl), 0);
    assert_int_equal(show_load_pending(f->sl), SHOW_LOAD_MAX_LOADS); /* the loads go on */

    /* the database answers: the loads end, nobody waits for them */
    release_queue();
    while (show_load_pending(f->sl) > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(stuck_done);
    assert_int_equal(answered, SHOW_LOAD_MAX_LOADS + 1);
    assert_int_equal(wait_for(f, "id-5", &late), OUT_UNKNOWN_SHOW); /* their outcome remembered */
    free(x);
    destroy(f);
}

static void stop_answers_every_wait(void **state)
{
    fixture *f = make(5000);
    waiter a, b, c;
    (void)state;

    answered = 0;
    block_queue(f);
    assert_int_equal(wait_for(f, "t1", &a), OUT_MORE);
    assert_int_equal(wait_for(f, "nope", &b), OUT_MORE);
    show_loader_stop(f->sl);
    assert_int_equal(answered, 2);
    assert_int_equal(a.o, OUT_UNAVAILABLE);
    assert_int_equal(b.o, OUT_UNAVAILABLE);
    assert_int_equal(wait_for(f, "t1", &c), OUT_UNAVAILABLE);
    release_queue();
    ledger_queue_close(f->q); /* the loads end: their results are dropped */
    f->q = NULL;
    assert_int_equal(answered, 2);
    assert_null(shows_get(f->all, "t1"));
    destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_load_for_every_wait),
        cmocka_unit_test(no_such_show_is_remembered_in_a_bounded_table),
        cmocka_unit_test(loads_are_capped_and_waits_bounded),
        cmocka_unit_test(stop_answers_every_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
