/*
 * test_show.c - unit tests of server/show.c without a Redis: loading a
 * show's cache from the snapshot script's answer, applying transitions in
 * seq order (old ones ignored, a gap not applied), coalescing changes into
 * one delta per tick, snapshots that join up with the next delta, the
 * shared snapshot frame, the hold lookups, and hold events to a buyer's
 * connections.
 *
 * The setup is real except for Redis: a ledger in a temp file with one
 * small show, a store pointed at a closed port whose loop never runs (so
 * store_ready is 0 and every store_run fails at once), a client hub, and
 * watchers that are socketless clients, whose frames stay queued for
 * client_take. show_sync_from stands in for the snapshot script's reply,
 * show_apply for pub/sub.
 *
 * Not reachable here: the backlog of messages that arrive while a resync is
 * out (a resync is never out when store_run fails), the sweep and the
 * reconciliation; the integration tests with a real Redis cover those.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client.h"
#include "ledger.h"
#include "show.h"
#include "store.h"
#include "test_db.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* Six seats: S-A-1 .. S-A-4 are indexes 0..3, S-B-1 and S-B-2 are 4 and 5. */
static const char venue_doc[] =
    "{'format':1,'name':'Tiny','currency':'EUR',"
    "'stage':{'x':0,'y':0,'w':6,'h':1},"
    "'categories':[{'id':'std','name':'Standard','price':1000,'color':'#2e86c1'}],"
    "'sections':[{'id':'S','name':'Stalls','category':'std','rows':["
    "{'label':'A','y':3,'blocks':[{'first':1,'count':4,'x':1}]},"
    "{'label':'B','y':4,'blocks':[{'first':1,'count':2,'x':2}]}]}]}";

/* The snapshot script's answer the tests load: seq 5, b1 holds S-A-1, S-A-2
 * is booked. */
#define SNAP5                                                                                      \
    "{'seq':5,'holds':[{'ref':'ABCDEF','buyer':'b1','seats':['S-A-1'],'expires_at':123}],"         \
    "'booked':['S-A-2']}"

#define LIMIT (1u << 20)

typedef struct fixture {
    char path[64];
    ledger *l;
    uv_loop_t loop;
    store *st;
    client_hub *hub;
    shows *all;
} fixture;

/* Test documents are written with ' for " to stay readable: swaps them in
 * place. */
static char *dq(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

static int setup(void **state)
{
    char err[256], doc[sizeof(venue_doc)];
    store_events ev;
    shows_config cfg;
    fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(test_db_create(f->path, sizeof(f->path), "show"), 0);
    assert_int_equal(ledger_open(f->path, &f->l, err, sizeof(err)), 0);
    memcpy(doc, venue_doc, sizeof(doc));
    assert_int_equal(
        ledger_show_add(f->l, "t1", "Test night", "Tiny", "2026-01-01T20:00:00Z", dq(doc)), 0);
    assert_int_equal(ledger_show_add(f->l, "t2", "Second night", "Tiny", "", doc), 0);

    assert_int_equal(uv_loop_init(&f->loop), 0);
    memset(&ev, 0, sizeof(ev));
    /* Port 1 is closed, and the loop never runs while a test does. */
    assert_int_equal(store_create(&f->loop, "redis://127.0.0.1:1", &ev, &f->st), 0);
    assert_false(store_ready(f->st));
    f->hub = client_hub_new();
    assert_non_null(f->hub);

    memset(&cfg, 0, sizeof(cfg));
    cfg.store = f->st;
    cfg.ledger = f->l;
    cfg.hub = f->hub;
    cfg.instance = "127.0.0.1:0";
    cfg.started_ms = "1";
    cfg.tick_ms = 0; /* every tick flushes */
    cfg.frozen_bound_ms = 10000;
    f->all = shows_new(&cfg);
    assert_non_null(f->all);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    shows_free(f->all);
    client_hub_free(f->hub);
    store_destroy(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* lets the store's handles close */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    ledger_close(f->l);
    test_db_remove(f->path);
    free(f);
    return 0;
}

/* ---- helpers ---- */

/* Loads the snapshot script's answer (' for "). */
static void sync_from(show *s, const char *json)
{
    char *d = dq(strdup(json));
    store_result res;

    memset(&res, 0, sizeof(res));
    res.outcome = OUT_OK;
    res.status = "ok";
    res.detail = d;
    show_sync_from(s, &res);
    free(d);
}

/* A transition from pub/sub, printf-style, with ' for ". */
static void apply(show *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void apply(show *s, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_in_range(n, 1, sizeof(buf) - 1);
    show_apply(s, dq(buf), (size_t)n);
}

/* What hold.lua publishes: buyer's hold `ref` is now exactly `seat`. */
static void msg_hold(show *s, int seq, const char *buyer, const char *ref, const char *seat,
                     int exp)
{
    apply(s,
          "{'seq':%d,'op':'hold','buyer':'%s','ref':'%s','ch':[['%s','p']],"
          "'hold':{'ref':'%s','seats':['%s'],'expires_at':%d},'booking':0}",
          seq, buyer, ref, seat, ref, seat, exp);
}

/* What release.lua, lib.lua's expire_hold and book.lua publish when a hold
 * of one seat ends: op "release"/"expire" (state 'e') or "book" ('b'). */
static void msg_end(show *s, int seq, const char *op, const char *buyer, const char *ref,
                    const char *seat, char st)
{
    apply(s,
          "{'seq':%d,'op':'%s','buyer':'%s','ref':'%s','ch':[['%s','%c']],'hold':false,"
          "'booking':%d}",
          seq, op, buyer, ref, seat, st, st == 'b' ? 1 : 0);
}

/* The next frame of a client as JSON (the caller deletes it); fails the
 * test when there is none. *fr, when not NULL, gets the frame itself (the
 * caller drops it), else it is dropped here. */
static cJSON *take_json(client *c, frame **fr)
{
    frame *f = client_take(c);
    cJSON *j;
    assert_non_null(f);
    j = cJSON_ParseWithLength((const char *)f->buf + LWS_PRE, f->len);
    if (!j)
        fail_msg("not JSON: %.*s", (int)f->len, (const char *)f->buf + LWS_PRE);
    if (fr)
        *fr = f;
    else
        frame_unref(f);
    return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static long long jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return (long long)v->valuedouble;
}

/* The state a delta gives a seat, or 0 when the delta does not name it;
 * fails when it names a seat twice. */
static char delta_state(const cJSON *delta, const char *seat)
{
    const cJSON *it;
    char found = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(delta, "seats"))
    {
        const cJSON *id = cJSON_GetArrayItem(it, 0), *st = cJSON_GetArrayItem(it, 1);
        assert_true(cJSON_IsString(id));
        assert_true(cJSON_IsString(st));
        assert_int_equal(strlen(st->valuestring), 1);
        if (strcmp(id->valuestring, seat) == 0) {
            assert_int_equal(found, 0);
            found = st->valuestring[0];
        }
    }
    return found;
}

static int delta_count(const cJSON *delta)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(delta, "seats"));
}

/* Checks a snapshot frame and returns it parsed (the caller deletes it). */
static cJSON *expect_snapshot(client *c, long long seq, const char *seats, frame **fr)
{
    cJSON *j = take_json(c, fr);
    assert_string_equal(jstr(j, "type"), "snapshot");
    assert_string_equal(jstr(j, "show"), "t1");
    assert_int_equal(jnum(j, "seq"), seq);
    assert_string_equal(jstr(j, "seats"), seats);
    return j;
}

static show *loaded(fixture *f)
{
    show *s = shows_load_now(f->all, "t1");
    assert_non_null(s);
    sync_from(s, SNAP5);
    assert_true(show_loaded(s));
    return s;
}

/* ---- loading ---- */

static void loads_from_the_snapshot(void **state)
{
    fixture *f = *state;
    show *s = shows_load_now(f->all, "t1");
    const hold *h;

    assert_non_null(s);
    assert_ptr_equal(shows_get(f->all, "t1"), s);
    assert_null(shows_load_now(f->all, "nope"));
    assert_null(shows_load_now(f->all, "bad id"));
    /* only the cache: t2 is in the ledger but not loaded yet */
    assert_null(shows_get(f->all, "t2"));
    assert_null(shows_get(f->all, "nope"));
    assert_string_equal(show_id(s), "t1");
    assert_string_equal(show_name(s), "Test night");
    assert_string_equal(show_starts_at(s), "2026-01-01T20:00:00Z");
    assert_int_equal(show_seat_count(s), 6);
    assert_false(show_loaded(s)); /* Redis was never reached */
    assert_string_equal(show_states(s), "eeeeee");

    sync_from(s, SNAP5);
    assert_true(show_loaded(s));
    assert_int_equal(show_seq(s), 5);
    assert_string_equal(show_states(s), "pbeeee");
    h = show_hold_of(s, "b1");
    assert_non_null(h);
    assert_string_equal(h->ref, "ABCDEF");
    assert_string_equal(h->buyer, "b1");
    assert_int_equal(h->expires_at, 123);
    assert_int_equal(h->nseats, 1);
    assert_int_equal(h->seats[0], 0);

    /* A failed snapshot changes nothing. */
    {
        store_result res = STORE_RESULT_UNAVAILABLE;
        show_sync_from(s, &res);
        assert_int_equal(show_seq(s), 5);
        assert_string_equal(show_states(s), "pbeeee");
    }
}

/* Seats of a hold that the snapshot also lists as booked stay booked, and
 * seats the venue does not have are skipped. */
static void snapshot_booked_wins_and_unknown_seats_are_skipped(void **state)
{
    fixture *f = *state;
    show *s = shows_load_now(f->all, "t1");
    const hold *h;

    sync_from(s, "{'seq':3,'holds':[{'ref':'ABCDEF','buyer':'b1','seats':['S-A-1','S-B-2','X-9'],"
                 "'expires_at':9}],'booked':['S-A-1','Z-1']}");
    assert_int_equal(show_seq(s), 3);
    assert_string_equal(show_states(s), "beeeep");
    h = show_hold_of(s, "b1");
    assert_non_null(h);
    assert_int_equal(h->nseats, 2);
}

/* ---- seq ---- */

static void transitions_apply_in_seq_order(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);

    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);
    assert_int_equal(show_seq(s), 6);
    assert_string_equal(show_states(s), "pbpeee");
    assert_non_null(show_hold_of(s, "b2"));

    /* An old seq is ignored, whatever it says. */
    msg_hold(s, 6, "b3", "CDEFGH", "S-A-4", 200);
    msg_end(s, 4, "release", "b2", "BCDEFG", "S-A-3", 'e');
    msg_end(s, 5, "release", "b1", "ABCDEF", "S-A-1", 'e');
    assert_int_equal(show_seq(s), 6);
    assert_string_equal(show_states(s), "pbpeee");
    assert_null(show_hold_of(s, "b3"));
    assert_non_null(show_hold_of(s, "b1"));
    assert_non_null(show_hold_of(s, "b2"));

    msg_end(s, 7, "release", "b2", "BCDEFG", "S-A-3", 'e');
    assert_int_equal(show_seq(s), 7);
    assert_string_equal(show_states(s), "pbeeee");
    assert_null(show_hold_of(s, "b2"));

    /* Not JSON, or no seq: ignored. */
    apply(s, "{'seq':8,'op':'hold'");
    apply(s, "{'op':'hold','ch':[['S-A-4','p']]}");
    assert_int_equal(show_seq(s), 7);
    assert_string_equal(show_states(s), "pbeeee");
}

/* A gap means a message was missed: the one after it is not applied (the
 * state would be wrong), and the show waits for a resync. */
static void a_gap_is_not_applied(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);

    msg_hold(s, 7, "b3", "CDEFGH", "S-B-1", 200); /* seq 6 was missed */
    assert_int_equal(show_seq(s), 5);
    assert_string_equal(show_states(s), "pbeeee");
    assert_null(show_hold_of(s, "b3"));

    /* Out of sync (and Redis unreachable), nothing is applied, not even
     * the seq that would have come next. */
    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);
    assert_int_equal(show_seq(s), 5);
    assert_string_equal(show_states(s), "pbeeee");

    /* The resync answers at seq 6; the message after the gap was kept and
     * is applied on top. */
    sync_from(s, "{'seq':6,'holds':[{'ref':'ABCDEF','buyer':'b1','seats':['S-A-1'],"
                 "'expires_at':123},{'ref':'BCDEFG','buyer':'b2','seats':['S-A-3'],"
                 "'expires_at':200}],'booked':['S-A-2']}");
    assert_int_equal(show_seq(s), 7);
    assert_string_equal(show_states(s), "pbpepe");
    assert_non_null(show_hold_of(s, "b3"));

    /* In sync again: the next seq applies. */
    msg_end(s, 8, "expire", "b3", "CDEFGH", "S-B-1", 'e');
    assert_int_equal(show_seq(s), 8);
    assert_string_equal(show_states(s), "pbpeee");
}

/* A resync newer than the kept message drops it. */
static void a_kept_message_older_than_the_resync_is_dropped(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);

    msg_hold(s, 7, "b3", "CDEFGH", "S-B-1", 200);
    assert_int_equal(show_seq(s), 5);
    sync_from(s, "{'seq':9,'holds':[],'booked':['S-A-2','S-A-4']}");
    assert_int_equal(show_seq(s), 9);
    assert_string_equal(show_states(s), "ebebee");
    assert_null(show_hold_of(s, "b1"));
    assert_null(show_hold_of(s, "b3"));
}

/* A script's own reply (show_apply_result) never asks for a resync: a gap
 * there means another process's message is still on its way over pub/sub. */
static void a_script_reply_with_a_gap_waits_for_pubsub(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    char m7[512], m6[512];
    const char *msgs[1] = {m7};
    store_result res;

    snprintf(m7, sizeof(m7), "%s",
             "{'seq':7,'op':'hold','buyer':'b3','ref':'CDEFGH','ch':[['S-A-4','p']],"
             "'hold':{'ref':'CDEFGH','seats':['S-A-4'],'expires_at':300},'booking':0}");
    snprintf(m6, sizeof(m6), "%s",
             "{'seq':6,'op':'hold','buyer':'b2','ref':'BCDEFG','ch':[['S-A-3','p']],"
             "'hold':{'ref':'BCDEFG','seats':['S-A-3'],'expires_at':200},'booking':0}");
    dq(m7);
    dq(m6);
    memset(&res, 0, sizeof(res));
    res.outcome = OUT_OK;
    res.status = "ok";
    res.detail = "";
    res.nmsgs = 1;
    res.msgs = msgs;
    show_apply_result(s, &res, "staff:test");
    assert_int_equal(show_seq(s), 5); /* not yet */
    show_apply(s, m6, strlen(m6));    /* the other process's message */
    assert_int_equal(show_seq(s), 6);
    show_apply(s, m7, strlen(m7)); /* pub/sub brings ours too */
    assert_int_equal(show_seq(s), 7);
    assert_string_equal(show_states(s), "pbppee");

    msgs[0] = m7; /* a reply seen before: ignored */
    show_apply_result(s, &res, "staff:test");
    assert_int_equal(show_seq(s), 7);
}

/* ---- fan-out ---- */

static void the_snapshot_string(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    client *a = client_new(NULL, LIMIT), *b = client_new(NULL, LIMIT);
    client *holder = client_new(NULL, LIMIT);
    watcher *wa, *wb, *wh;
    frame *fa, *fb, *fh;
    cJSON *ja, *jb, *jh;
    const cJSON *hj;

    assert_int_equal(client_hub_set_buyer(f->hub, holder, "b1"), 0);
    wa = show_watch(s, a);
    wb = show_watch(s, b);
    wh = show_watch(s, holder);
    ja = expect_snapshot(a, 5, "pbeeee", &fa);
    jb = expect_snapshot(b, 5, "pbeeee", &fb);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ja, "hold")));
    /* Watchers without a hold share one frame. */
    assert_ptr_equal(fa, fb);

    /* The buyer with a hold gets a snapshot of its own, with the hold. */
    jh = expect_snapshot(holder, 5, "pbeeee", &fh);
    assert_ptr_not_equal(fh, fa);
    hj = cJSON_GetObjectItemCaseSensitive(jh, "hold");
    assert_true(cJSON_IsObject(hj));
    assert_string_equal(jstr(hj, "ref"), "ABCDEF");
    assert_int_equal(jnum(hj, "expires_at"), 123);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(hj, "seats")), 1);
    assert_string_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(hj, "seats"), 0)->valuestring, "S-A-1");

    assert_null(client_take(a));
    assert_null(client_take(holder));
    frame_unref(fa);
    frame_unref(fb);
    frame_unref(fh);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    cJSON_Delete(jh);
    show_unwatch(wa);
    show_unwatch(wb);
    show_unwatch(wh);
    client_unref(a);
    client_unref(b);
    client_unref(holder);
}

/* A watcher that comes before the show is loaded gets its snapshot when
 * the first resync answers, and no delta for the load itself. */
static void a_watcher_before_the_load(void **state)
{
    fixture *f = *state;
    show *s = shows_load_now(f->all, "t1");
    client *c = client_new(NULL, LIMIT);
    watcher *w = show_watch(s, c);
    cJSON *j;

    assert_non_null(w);
    assert_int_equal(client_queued(c), 0);
    shows_tick(f->all);
    assert_int_equal(client_queued(c), 0);
    sync_from(s, SNAP5);
    j = expect_snapshot(c, 5, "pbeeee", NULL);
    cJSON_Delete(j);
    shows_tick(f->all);
    assert_int_equal(client_queued(c), 0);
    show_unwatch(w);
    client_unref(c);
}

static void changes_coalesce_into_one_delta(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    client *a = client_new(NULL, LIMIT), *b = client_new(NULL, LIMIT);
    watcher *wa = show_watch(s, a), *wb = show_watch(s, b);
    frame *fa, *fb;
    cJSON *j;

    cJSON_Delete(expect_snapshot(a, 5, "pbeeee", NULL));
    cJSON_Delete(expect_snapshot(b, 5, "pbeeee", NULL));

    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);            /* S-A-3 e -> p */
    msg_hold(s, 7, "b3", "CDEFGH", "S-A-4", 300);            /* S-A-4 e -> p */
    msg_end(s, 8, "release", "b2", "BCDEFG", "S-A-3", 'e');  /* S-A-3 back to e */
    msg_end(s, 9, "book", "b3", "CDEFGH", "S-A-4", 'b');     /* S-A-4 p -> b */
    msg_end(s, 10, "release", "b1", "ABCDEF", "S-A-1", 'e'); /* S-A-1 p -> e */
    assert_int_equal(client_queued(a), 0);                   /* nothing before the tick */

    shows_tick(f->all);
    assert_int_equal(client_queued(a), 1);
    assert_int_equal(client_queued(b), 1);
    j = take_json(a, &fa);
    assert_string_equal(jstr(j, "type"), "delta");
    assert_string_equal(jstr(j, "show"), "t1");
    assert_int_equal(jnum(j, "from"), 5);
    assert_int_equal(jnum(j, "seq"), 10);
    assert_int_equal(delta_count(j), 2);
    assert_int_equal(delta_state(j, "S-A-4"), 'b'); /* its last state */
    assert_int_equal(delta_state(j, "S-A-1"), 'e');
    assert_int_equal(delta_state(j, "S-A-3"), 0); /* changed and changed back */
    cJSON_Delete(j);
    /* One delta frame, shared by every watcher. */
    fb = client_take(b);
    assert_ptr_equal(fa, fb);
    frame_unref(fa);
    frame_unref(fb);

    /* Nothing changed: no delta. */
    shows_tick(f->all);
    assert_int_equal(client_queued(a), 0);
    assert_int_equal(client_queued(b), 0);

    /* A seat that was in the last delta is reported again when it changes
     * again. */
    msg_hold(s, 11, "b2", "DEFGHJ", "S-A-1", 400);
    shows_tick(f->all);
    j = take_json(a, NULL);
    assert_int_equal(jnum(j, "from"), 10);
    assert_int_equal(jnum(j, "seq"), 11);
    assert_int_equal(delta_count(j), 1);
    assert_int_equal(delta_state(j, "S-A-1"), 'p');
    cJSON_Delete(j);

    /* A transition that changes no seat state still moves the seq: the
     * delta is empty but says where watchers are. */
    msg_hold(s, 12, "b2", "DEFGHJ", "S-A-1", 500);
    shows_tick(f->all);
    j = take_json(a, NULL);
    assert_int_equal(jnum(j, "from"), 11);
    assert_int_equal(jnum(j, "seq"), 12);
    assert_int_equal(delta_count(j), 0);
    cJSON_Delete(j);

    show_unwatch(wa);
    show_unwatch(wb);
    client_unref(a);
    client_unref(b);
}

/* Applies a snapshot and then a delta to a seat string, as a page does. */
static void replay(char *seats, const show *s, const cJSON *delta)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(delta, "seats"))
    {
        long idx = venue_seat_index(show_venue(s), cJSON_GetArrayItem(it, 0)->valuestring);
        assert_true(idx >= 0);
        seats[idx] = cJSON_GetArrayItem(it, 1)->valuestring[0];
    }
}

/* A watcher that joins between a change and the tick gets the state as of
 * the last tick, and the delta that follows starts right there. */
static void snapshot_and_delta_join_up(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    client *early = client_new(NULL, LIMIT), *late = client_new(NULL, LIMIT);
    watcher *we = show_watch(s, early), *wl;
    cJSON *snap, *delta;
    char seats[8];

    cJSON_Delete(expect_snapshot(early, 5, "pbeeee", NULL));
    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);
    msg_hold(s, 7, "b3", "CDEFGH", "S-B-2", 200);
    assert_string_equal(show_states(s), "pbpeep");

    wl = show_watch(s, late);
    snap = expect_snapshot(late, 5, "pbeeee", NULL); /* as flushed, not as now */
    assert_int_equal(client_queued(late), 0);

    shows_tick(f->all);
    delta = take_json(late, NULL);
    assert_string_equal(jstr(delta, "type"), "delta");
    assert_int_equal(jnum(delta, "from"), jnum(snap, "seq"));
    assert_int_equal(jnum(delta, "seq"), 7);
    snprintf(seats, sizeof(seats), "%s", jstr(snap, "seats"));
    replay(seats, s, delta);
    assert_string_equal(seats, show_states(s));
    cJSON_Delete(snap);
    cJSON_Delete(delta);

    /* The early watcher got the same delta. */
    delta = take_json(early, NULL);
    assert_int_equal(jnum(delta, "from"), 5);
    assert_int_equal(jnum(delta, "seq"), 7);
    cJSON_Delete(delta);

    /* After the tick, a new watcher's snapshot is at the flushed seq. */
    show_unwatch(wl);
    wl = show_watch(s, late);
    cJSON_Delete(expect_snapshot(late, 7, "pbpeep", NULL));

    show_unwatch(we);
    show_unwatch(wl);
    client_unref(early);
    client_unref(late);
}

/* A watcher whose frame is still unsent skips the deltas meanwhile, and
 * when it is taken gets one delta merged from the seq it has: at most one
 * frame of the show waits for it, and from always equals its seq. Watchers
 * at the same seq share that frame. */
static void a_slow_watcher_gets_one_merged_delta(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    client *fast = client_new(NULL, LIMIT), *slow = client_new(NULL, LIMIT),
           *slow2 = client_new(NULL, LIMIT);
    watcher *wf = show_watch(s, fast), *ws = show_watch(s, slow), *ws2 = show_watch(s, slow2);
    frame *m1, *m2;
    cJSON *j;
    char seats[8];

    cJSON_Delete(expect_snapshot(fast, 5, "pbeeee", NULL));
    /* the slow ones do not read their snapshot yet */
    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);
    shows_tick(f->all);
    cJSON_Delete(take_json(fast, NULL)); /* a reader keeps up: one delta a tick */
    msg_hold(s, 7, "b3", "CDEFGH", "S-A-4", 300);
    shows_tick(f->all);
    cJSON_Delete(take_json(fast, NULL));
    msg_end(s, 8, "release", "b2", "BCDEFG", "S-A-3", 'e');
    shows_tick(f->all);
    j = take_json(fast, NULL);
    assert_int_equal(jnum(j, "from"), 7);
    cJSON_Delete(j);
    assert_int_equal(client_queued(slow), 1); /* the snapshot, nothing more */
    assert_int_equal(client_queued(slow2), 1);

    j = expect_snapshot(slow, 5, "pbeeee", NULL);
    snprintf(seats, sizeof(seats), "%s", jstr(j, "seats"));
    cJSON_Delete(j);
    cJSON_Delete(expect_snapshot(slow2, 5, "pbeeee", NULL));
    /* taking the snapshot drained it: one merged delta 5 -> 8 waits */
    assert_int_equal(client_queued(slow), 1);
    j = take_json(slow, &m1);
    assert_string_equal(jstr(j, "type"), "delta");
    assert_int_equal(jnum(j, "from"), 5);
    assert_int_equal(jnum(j, "seq"), 8);
    assert_int_equal(delta_state(j, "S-A-4"), 'p');
    replay(seats, s, j);
    assert_string_equal(seats, show_states(s));
    cJSON_Delete(j);
    m2 = client_take(slow2);
    assert_ptr_equal(m1, m2); /* same seq, same frame */
    frame_unref(m1);
    frame_unref(m2);
    assert_int_equal(client_queued(slow), 0);

    /* Back in step: the next tick's shared delta starts at its seq. */
    msg_end(s, 9, "book", "b3", "CDEFGH", "S-A-4", 'b');
    shows_tick(f->all);
    j = take_json(slow, NULL);
    assert_int_equal(jnum(j, "from"), 8);
    assert_int_equal(jnum(j, "seq"), 9);
    cJSON_Delete(j);

    show_unwatch(wf);
    show_unwatch(ws);
    show_unwatch(ws2);
    client_unref(fast);
    client_unref(slow);
    client_unref(slow2);
}

/* A watch from a seq in the backlog's window gets one delta from there,
 * none when nothing changed; from before the window (or ahead of the
 * show) it gets a snapshot. */
static void a_watch_resumes_from_since(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    client *c = client_new(NULL, LIMIT);
    watcher *w;
    cJSON *j;

    assert_true(show_resumable(s, 5));
    assert_false(show_resumable(s, 4)); /* before the load: no history */
    assert_false(show_resumable(s, 6)); /* ahead of the show */
    w = show_watch_since(s, c, 5);
    assert_int_equal(client_queued(c), 0); /* nothing changed */
    show_unwatch(w);

    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);
    msg_hold(s, 7, "b3", "CDEFGH", "S-A-4", 300);
    shows_tick(f->all);
    msg_end(s, 8, "release", "b2", "BCDEFG", "S-A-3", 'e');
    shows_tick(f->all);
    w = show_watch_since(s, c, 6);
    j = take_json(c, NULL);
    assert_string_equal(jstr(j, "type"), "delta");
    assert_int_equal(jnum(j, "from"), 6);
    assert_int_equal(jnum(j, "seq"), 8);
    assert_int_equal(delta_state(j, "S-A-3"), 'e');
    assert_int_equal(delta_state(j, "S-A-4"), 'p');
    cJSON_Delete(j);
    assert_int_equal(client_queued(c), 0);
    show_unwatch(w);

    w = show_watch_since(s, c, 3);
    cJSON_Delete(expect_snapshot(c, 8, "pbepee", NULL));
    show_unwatch(w);
    client_unref(c);
}

/* A flush to more watchers than one chunk goes on over several loop turns
 * (shows_flush_more), so requests are read between its chunks: every
 * watcher still gets the tick's delta exactly once, a watcher that leaves
 * mid-flush gets nothing, and a change made meanwhile waits for the next
 * flush instead of starting one over the first. */
#define MANY 600
static void a_big_flush_goes_on_over_loop_turns(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    client **c = calloc(MANY, sizeof(*c));
    watcher **w = calloc(MANY, sizeof(*w));
    int i, turns, got, gone = MANY / 3; /* list order is newest first: reached late */
    cJSON *j;

    assert_non_null(c);
    assert_non_null(w);
    for (i = 0; i < MANY; i++) {
        c[i] = client_new(NULL, LIMIT);
        w[i] = show_watch(s, c[i]);
        frame_unref(client_take(c[i])); /* the snapshot */
    }
    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);
    assert_int_equal(shows_tick(f->all), 1); /* spread over turns */
    for (got = 0, i = 0; i < MANY; i++)
        got += client_queued(c[i]);
    assert_true(got > 0 && got < MANY);
    show_unwatch(w[gone]);
    w[gone] = NULL;
    msg_hold(s, 7, "b3", "CDEFGH", "S-A-4", 300);
    assert_int_equal(shows_tick(f->all), 1); /* still the first flush */
    for (turns = 0; shows_flush_more(f->all); turns++)
        assert_true(turns < MANY);
    assert_true(turns >= 1);
    for (i = 0; i < MANY; i++) {
        if (i == gone) {
            assert_int_equal(client_queued(c[i]), 0);
            continue;
        }
        assert_int_equal(client_queued(c[i]), 1);
        j = take_json(c[i], NULL);
        assert_int_equal(jnum(j, "from"), 5);
        assert_int_equal(jnum(j, "seq"), 6);
        assert_int_equal(delta_state(j, "S-A-3"), 'p');
        assert_int_equal(delta_count(j), 1);
        cJSON_Delete(j);
    }
    /* the change made during the flush goes in the next one; with one
     * watcher left the frame budget puts no interval between flushes */
    for (i = 1; i < MANY; i++) {
        show_unwatch(w[i]);
        w[i] = NULL;
    }
    assert_int_equal(client_queued(c[0]), 0);
    assert_int_equal(shows_tick(f->all), 0); /* one chunk: done at once */
    assert_int_equal(client_queued(c[0]), 1);
    j = take_json(c[0], NULL);
    assert_int_equal(jnum(j, "from"), 6);
    assert_int_equal(jnum(j, "seq"), 7);
    assert_int_equal(delta_state(j, "S-A-4"), 'p');
    cJSON_Delete(j);
    for (i = 0; i < MANY; i++) {
        show_unwatch(w[i]);
        client_unref(c[i]);
    }
    free(c);
    free(w);
}

static void unwatch_stops_frames(void **state)
{
    fixture *f = *state;
    show *s = loaded(f), *s2 = shows_load_now(f->all, "t2");
    client *a = client_new(NULL, LIMIT), *b = client_new(NULL, LIMIT);
    watcher *wa, *wb, *w2;

    assert_non_null(s2);
    assert_int_equal(shows_watcher_count(f->all), 0);
    wa = show_watch(s, a);
    wb = show_watch(s, b);
    w2 = show_watch(s2, a); /* one client may watch two shows */
    assert_int_equal(shows_watcher_count(f->all), 3);
    assert_int_equal(client_queued(a), 1); /* t2 is not loaded: no snapshot yet */
    while (client_queued(a))
        frame_unref(client_take(a));
    frame_unref(client_take(b));

    show_unwatch(wb);
    assert_int_equal(shows_watcher_count(f->all), 2);
    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);
    shows_tick(f->all);
    assert_int_equal(client_queued(b), 0);
    assert_int_equal(client_queued(a), 1);
    frame_unref(client_take(a));

    show_unwatch(wa);
    show_unwatch(w2);
    assert_int_equal(shows_watcher_count(f->all), 0);
    msg_end(s, 7, "release", "b2", "BCDEFG", "S-A-3", 'e');
    shows_tick(f->all);
    assert_int_equal(client_queued(a), 0);
    client_unref(a); /* the watches dropped their references: these free */
    client_unref(b);
}

/* ---- holds ---- */

static void hold_lookups(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    const hold **list;
    size_t n;
    sm_buf b;
    cJSON *j;

    assert_null(show_hold_of(s, "nobody"));
    assert_null(show_hold_of(s, ""));
    assert_null(show_hold_of(s, NULL));

    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 900);
    msg_hold(s, 7, "b3", "CDEFGH", "S-A-4", 500);
    /* A box-office sale in progress (buyer "") has seats but is no buyer's
     * hold: lib.lua's strip_seat publishes one like this. */
    apply(s, "{'seq':8,'op':'sync','buyer':'','ref':'DEFGHJ','ch':[['S-B-1','p']],"
             "'hold':{'ref':'DEFGHJ','seats':['S-B-1'],'expires_at':0},'booking':0}");
    assert_int_equal(show_seq(s), 8);
    assert_string_equal(show_states(s), "pbpppe");
    assert_null(show_hold_of(s, ""));

    assert_int_equal(show_hold_list(s, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0]->buyer, "b2"); /* newest deadline first */
    assert_string_equal(list[1]->buyer, "b3");
    assert_string_equal(list[2]->buyer, "b1");
    free(list);

    sm_buf_init(&b, 4096);
    assert_int_equal(show_hold_json(s, NULL, &b), 0);
    assert_string_equal(b.data, "null");
    sm_buf_reset(&b);
    assert_int_equal(show_hold_json(s, show_hold_of(s, "b2"), &b), 0);
    j = cJSON_Parse(b.data);
    assert_non_null(j);
    assert_string_equal(jstr(j, "ref"), "BCDEFG");
    assert_int_equal(jnum(j, "expires_at"), 900);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "seats")), 1);
    assert_string_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "seats"), 0)->valuestring, "S-A-3");
    cJSON_Delete(j);

    /* A hold that grows (hold.lua: same ref, more seats). */
    apply(s, "{'seq':9,'op':'hold','buyer':'b2','ref':'BCDEFG','ch':[['S-B-2','p']],"
             "'hold':{'ref':'BCDEFG','seats':['S-A-3','S-B-2'],'expires_at':950},'booking':0}");
    assert_int_equal(show_hold_of(s, "b2")->nseats, 2);
    sm_buf_reset(&b);
    show_hold_json(s, show_hold_of(s, "b2"), &b);
    j = cJSON_Parse(b.data);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "seats")), 2);
    cJSON_Delete(j);
    sm_buf_free(&b);

    /* Ended holds leave the list. */
    msg_end(s, 10, "expire", "b3", "CDEFGH", "S-A-4", 'e');
    assert_int_equal(show_hold_list(s, &list, &n), 0);
    assert_int_equal(n, 2);
    free(list);
}

static void hold_events_reach_the_buyer(void **state)
{
    fixture *f = *state;
    show *s = loaded(f);
    client *c1 = client_new(NULL, LIMIT), *c2 = client_new(NULL, LIMIT);
    client *other = client_new(NULL, LIMIT);
    const cJSON *h;
    cJSON *j;

    /* Two connections of b2 (say two tabs), neither watching. */
    client_hub_set_buyer(f->hub, c1, "b2");
    client_hub_set_buyer(f->hub, c2, "b2");
    client_hub_set_buyer(f->hub, other, "b9");

    msg_hold(s, 6, "b2", "BCDEFG", "S-A-3", 200);
    j = take_json(c1, NULL);
    assert_string_equal(jstr(j, "type"), "hold");
    assert_string_equal(jstr(j, "show"), "t1");
    assert_string_equal(jstr(j, "reason"), "held");
    h = cJSON_GetObjectItemCaseSensitive(j, "hold");
    assert_true(cJSON_IsObject(h));
    assert_string_equal(jstr(h, "ref"), "BCDEFG");
    assert_int_equal(jnum(h, "expires_at"), 200);
    cJSON_Delete(j);
    j = take_json(c2, NULL);
    assert_string_equal(jstr(j, "reason"), "held");
    cJSON_Delete(j);
    assert_int_equal(client_queued(other), 0);

    msg_end(s, 7, "release", "b2", "BCDEFG", "S-A-3", 'e');
    j = take_json(c1, NULL);
    assert_string_equal(jstr(j, "type"), "hold");
    assert_string_equal(jstr(j, "reason"), "released");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "hold")));
    cJSON_Delete(j);
    frame_unref(client_take(c2));

    msg_hold(s, 8, "b2", "CDEFGH", "S-A-3", 300);
    msg_end(s, 9, "expire", "b2", "CDEFGH", "S-A-3", 'e');
    msg_hold(s, 10, "b2", "DEFGHJ", "S-A-4", 400);
    msg_end(s, 11, "book", "b2", "DEFGHJ", "S-A-4", 'b');
    client_hub_set_buyer(f->hub, c2, ""); /* c2 left: only c1 hears */
    msg_hold(s, 12, "b2", "EFGHJK", "S-B-1", 500);
    j = take_json(c1, NULL);
    assert_string_equal(jstr(j, "reason"), "held");
    cJSON_Delete(j);
    j = take_json(c1, NULL);
    assert_string_equal(jstr(j, "reason"), "expired");
    cJSON_Delete(j);
    j = take_json(c1, NULL);
    assert_string_equal(jstr(j, "reason"), "held");
    cJSON_Delete(j);
    j = take_json(c1, NULL);
    assert_string_equal(jstr(j, "reason"), "booked");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "hold")));
    cJSON_Delete(j);
    j = take_json(c1, NULL);
    assert_string_equal(jstr(j, "reason"), "held");
    cJSON_Delete(j);
    assert_int_equal(client_queued(c1), 0);
    assert_int_equal(client_queued(c2), 4);
    assert_int_equal(client_queued(other), 0);

    /* A resync tells a buyer whose hold changed meanwhile: b2's hold was
     * booked while the show was out of touch. */
    sync_from(s, "{'seq':20,'holds':[{'ref':'ABCDEF','buyer':'b1','seats':['S-A-1'],"
                 "'expires_at':123}],'booked':['S-A-2','S-A-4','S-B-1']}");
    j = take_json(c1, NULL);
    assert_string_equal(jstr(j, "reason"), "booked");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "hold")));
    cJSON_Delete(j);
    assert_int_equal(client_queued(c1), 0);

    client_unref(c1);
    client_unref(c2);
    client_unref(other);
}

/* A pub/sub payload is (bytes, length), not a C string: a message cut off
 * right after "seq": or one without a NUL after it is read within its
 * length (found by tests/fuzz/fuzz_show.c: peek_seq ran strstr past it). */
static void a_payload_is_read_within_its_length(void **state)
{
    fixture *f = *state;
    show *s = shows_load_now(f->all, "t1");
    char msg[] = "{'seq':6,'op':'release','buyer':'b1','ref':'ABCDEF','ch':[['S-A-1','e']],"
                 "'hold':false,'booking':0}";
    size_t n = strlen(dq(msg));
    char *exact = malloc(n), *cut = malloc(7);

    assert_non_null(exact);
    assert_non_null(cut);
    sync_from(s, SNAP5);
    memcpy(cut, msg, 7); /* {"seq": and nothing after it, no NUL */
    show_apply(s, cut, 7);
    assert_int_equal(show_seq(s), 5);
    memcpy(exact, msg, n); /* the whole message, no NUL */
    show_apply(s, exact, n);
    assert_int_equal(show_seq(s), 6);
    assert_string_equal(show_states(s), "ebeeee");
    free(exact);
    free(cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(loads_from_the_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_booked_wins_and_unknown_seats_are_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(transitions_apply_in_seq_order, setup, teardown),
        cmocka_unit_test_setup_teardown(a_gap_is_not_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(a_payload_is_read_within_its_length, setup, teardown),
        cmocka_unit_test_setup_teardown(a_kept_message_older_than_the_resync_is_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_script_reply_with_a_gap_waits_for_pubsub, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_snapshot_string, setup, teardown),
        cmocka_unit_test_setup_teardown(a_watcher_before_the_load, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_coalesce_into_one_delta, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_and_delta_join_up, setup, teardown),
        cmocka_unit_test_setup_teardown(unwatch_stops_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(a_big_flush_goes_on_over_loop_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(a_slow_watcher_gets_one_merged_delta, setup, teardown),
        cmocka_unit_test_setup_teardown(a_watch_resumes_from_since, setup, teardown),
        cmocka_unit_test_setup_teardown(hold_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(hold_events_reach_the_buyer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
