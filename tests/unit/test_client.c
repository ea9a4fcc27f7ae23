/*
 * test_client.c - unit tests of server/client.c without sockets: the send
 * queue of a socketless client (order, sharing of frames, the byte limit
 * that cuts a slow client off, growth of the ring, detach), and the hub that
 * finds every connection of a buyer.
 *
 * Not here: writing to lws (client_writeable); the integration tests drive
 * real sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client.h"
#include "frame.h"

#include <stdio.h>
#include <string.h>

#define BIG_LIMIT (1u << 20)

/* The text of a frame (frames are NUL-terminated after their data). */
static const char *text_of(const frame *f)
{
    return (const char *)f->buf + LWS_PRE;
}

/* Takes the next frame and checks its text; drops the reference. */
static void expect_next(client *c, const char *want)
{
    frame *f = client_take(c);
    assert_non_null(f);
    assert_int_equal(f->len, strlen(want));
    assert_memory_equal(text_of(f), want, f->len);
    frame_unref(f);
}

static void frames_come_out_in_order(void **state)
{
    client *c = client_new(NULL, BIG_LIMIT);
    (void)state;
    assert_non_null(c);
    assert_true(client_connected(c));
    assert_false(client_closing(c));
    assert_null(client_take(c));
    client_send_text(c, "one", 3);
    client_send_text(c, "two", 3);
    client_send_text(c, "three", 5);
    assert_int_equal(client_queued(c), 3);
    expect_next(c, "one");
    expect_next(c, "two");
    expect_next(c, "three");
    assert_int_equal(client_queued(c), 0);
    assert_null(client_take(c));
    client_unref(c);
}

static void a_shared_frame_is_not_copied(void **state)
{
    client *a = client_new(NULL, BIG_LIMIT), *b = client_new(NULL, BIG_LIMIT);
    frame *f = frame_new("delta", 5), *fa, *fb;
    (void)state;
    assert_non_null(f);
    assert_int_equal(f->refs, 1);
    client_send(a, f);
    client_send(b, f);
    assert_int_equal(f->refs, 3); /* ours and one per queue */
    fa = client_take(a);
    fb = client_take(b);
    assert_ptr_equal(fa, f);
    assert_ptr_equal(fb, f);
    frame_unref(fa);
    frame_unref(fb);
    assert_int_equal(f->refs, 1);
    frame_unref(f);
    client_unref(a);
    client_unref(b);
}

/* A client whose queue would pass its byte limit is cut off: the frame
 * that passes it is not queued, nor is anything after it, even once the
 * queue has room again. */
static void passing_the_byte_limit_closes(void **state)
{
    client *c = client_new(NULL, 10);
    frame *f = frame_new("x", 1);
    (void)state;
    client_send_text(c, "12345", 5);
    client_send_text(c, "67890", 5); /* exactly at the limit: fine */
    assert_false(client_closing(c));
    assert_int_equal(client_queued(c), 2);
    client_send(c, f);
    assert_true(client_closing(c));
    assert_int_equal(client_queued(c), 2);
    assert_int_equal(f->refs, 1); /* not kept by the queue */
    expect_next(c, "12345");
    client_send(c, f); /* there is room now, but the client is closing */
    client_send_text(c, "y", 1);
    assert_int_equal(client_queued(c), 1);
    assert_int_equal(f->refs, 1);
    expect_next(c, "67890");
    assert_null(client_take(c));
    frame_unref(f);
    client_unref(c);
}

static void the_queue_grows_and_keeps_order(void **state)
{
    client *c = client_new(NULL, BIG_LIMIT);
    char want[16];
    int i, next = 0, sent = 0;
    (void)state;
    /* Fill part of the first ring, take some so the head moves, then push
     * past its size so it grows while wrapped around. */
    for (i = 0; i < CLIENT_QUEUE_MIN - 2; i++, sent++) {
        snprintf(want, sizeof(want), "f%d", sent);
        client_send_text(c, want, strlen(want));
    }
    for (i = 0; i < CLIENT_QUEUE_MIN / 2; i++, next++) {
        snprintf(want, sizeof(want), "f%d", next);
        expect_next(c, want);
    }
    for (i = 0; i < CLIENT_QUEUE_MIN * 4; i++, sent++) {
        snprintf(want, sizeof(want), "f%d", sent);
        client_send_text(c, want, strlen(want));
    }
    assert_false(client_closing(c));
    assert_int_equal(client_queued(c), sent - next);
    assert_true(client_queued(c) > CLIENT_QUEUE_MIN);
    for (; next < sent; next++) {
        snprintf(want, sizeof(want), "f%d", next);
        expect_next(c, want);
    }
    assert_null(client_take(c));
    client_unref(c);
}

static void more_than_the_frame_limit_closes(void **state)
{
    client *c = client_new(NULL, BIG_LIMIT * 16);
    frame *f = frame_new("x", 1);
    int i;
    (void)state;
    for (i = 0; i < CLIENT_QUEUE_MAX; i++)
        client_send(c, f);
    assert_false(client_closing(c));
    assert_int_equal(client_queued(c), CLIENT_QUEUE_MAX);
    client_send(c, f);
    assert_true(client_closing(c));
    assert_int_equal(client_queued(c), CLIENT_QUEUE_MAX);
    client_unref(c); /* drops the queued references */
    assert_int_equal(f->refs, 1);
    frame_unref(f);
}

/* Fan-out frames wait behind replies; each stream knows whether its frame
 * is still unsent, and hears when it left. */
static int drained_a, drained_b;
static void count_drain(client *c, void *tag)
{
    (void)c;
    if (tag == &drained_a)
        drained_a++;
    else if (tag == &drained_b)
        drained_b++;
}

static void replies_go_ahead_of_fan_out(void **state)
{
    client *c = client_new(NULL, BIG_LIMIT);
    frame *d1 = frame_new("delta-a", 7), *d2 = frame_new("delta-b", 7);
    (void)state;
    drained_a = drained_b = 0;
    client_set_drain(c, count_drain);
    client_send_bulk(c, d1, &drained_a);
    client_send_bulk(c, d2, &drained_b);
    client_send_text(c, "reply", 5);
    assert_true(client_bulk_pending(c, &drained_a));
    assert_true(client_bulk_pending(c, &drained_b));
    assert_false(client_bulk_pending(c, c));
    expect_next(c, "reply");
    assert_int_equal(drained_a, 0);
    expect_next(c, "delta-a");
    assert_int_equal(drained_a, 1);
    assert_false(client_bulk_pending(c, &drained_a));
    /* a stream that ends is not called back */
    client_forget(c, &drained_b);
    assert_false(client_bulk_pending(c, &drained_b));
    expect_next(c, "delta-b");
    assert_int_equal(drained_b, 0);
    assert_null(client_take(c));
    frame_unref(d1);
    frame_unref(d2);
    client_unref(c);
}

static void detach_drops_the_queue(void **state)
{
    client *c = client_new(NULL, BIG_LIMIT);
    frame *f = frame_new("late", 4);
    (void)state;
    client_send(c, f);
    client_send(c, f);
    assert_int_equal(f->refs, 3);
    client_ref(c); /* say a Redis reply is still out */
    client_detach(c);
    assert_false(client_connected(c));
    assert_int_equal(client_queued(c), 0);
    assert_int_equal(f->refs, 1);
    client_send(c, f); /* the reply arrives: a no-op */
    client_send_text(c, "x", 1);
    assert_int_equal(client_queued(c), 0);
    assert_int_equal(f->refs, 1);
    assert_null(client_take(c));
    client_unref(c);
    client_unref(c);
    frame_unref(f);
}

/* ---- the hub ---- */

static void every_connection_of_a_buyer_gets_it(void **state)
{
    client_hub *h = client_hub_new();
    client *c1 = client_new(NULL, BIG_LIMIT), *c2 = client_new(NULL, BIG_LIMIT);
    client *other = client_new(NULL, BIG_LIMIT);
    frame *f = frame_new("hold", 4);
    (void)state;
    assert_non_null(h);
    assert_string_equal(client_buyer_id(c1), "");
    assert_false(client_hub_has(h, "b1"));
    assert_int_equal(client_hub_send(h, "b1", f), 0);

    assert_int_equal(client_hub_set_buyer(h, c1, "b1"), 0);
    assert_int_equal(client_hub_set_buyer(h, c2, "b1"), 0);
    assert_int_equal(client_hub_set_buyer(h, other, "b2"), 0);
    assert_string_equal(client_buyer_id(c2), "b1");
    assert_true(client_hub_has(h, "b1"));
    assert_int_equal(client_hub_send(h, "b1", f), 2);
    assert_int_equal(client_queued(c1), 1);
    assert_int_equal(client_queued(c2), 1);
    assert_int_equal(client_queued(other), 0);
    expect_next(c1, "hold");
    expect_next(c2, "hold");

    /* One connection goes: the other still gets the buyer's events. */
    assert_int_equal(client_hub_set_buyer(h, c1, ""), 0);
    assert_string_equal(client_buyer_id(c1), "");
    assert_true(client_hub_has(h, "b1"));
    assert_int_equal(client_hub_send(h, "b1", f), 1);
    assert_int_equal(client_queued(c1), 0);
    expect_next(c2, "hold");

    client_detach(c2); /* the socket closed: leaves the hub */
    assert_false(client_hub_has(h, "b1"));
    assert_int_equal(client_hub_send(h, "b1", f), 0);
    assert_true(client_hub_has(h, "b2"));

    client_unref(c1);
    client_unref(c2);
    client_unref(other);
    assert_false(client_hub_has(h, "b2")); /* the last unref unlinked it */
    client_hub_free(h);
    assert_int_equal(f->refs, 1);
    frame_unref(f);
}

/* Three connections of one buyer; taking out the middle one, then the
 * newest, keeps the rest reachable. */
static void unlinking_from_the_middle(void **state)
{
    client_hub *h = client_hub_new();
    client *c[3];
    frame *f = frame_new("x", 1);
    int i;
    (void)state;
    for (i = 0; i < 3; i++) {
        c[i] = client_new(NULL, BIG_LIMIT);
        assert_int_equal(client_hub_set_buyer(h, c[i], "b1"), 0);
    }
    assert_int_equal(client_hub_send(h, "b1", f), 3);
    client_hub_set_buyer(h, c[1], "");
    assert_int_equal(client_hub_send(h, "b1", f), 2);
    client_hub_set_buyer(h, c[2], "");
    assert_int_equal(client_hub_send(h, "b1", f), 1);
    assert_int_equal(client_queued(c[0]), 3);
    assert_int_equal(client_queued(c[1]), 1);
    assert_int_equal(client_queued(c[2]), 2);
    client_unref(c[0]);
    assert_false(client_hub_has(h, "b1"));
    client_unref(c[1]);
    client_unref(c[2]);
    client_hub_free(h);
    frame_unref(f);
}

static void relinking_moves_the_client(void **state)
{
    client_hub *h = client_hub_new();
    client *c = client_new(NULL, BIG_LIMIT), *stay = client_new(NULL, BIG_LIMIT);
    frame *f = frame_new("x", 1);
    char too_long[CLIENT_BUYER_ID_MAX + 2];
    (void)state;
    assert_int_equal(client_hub_set_buyer(h, stay, "b1"), 0);
    assert_int_equal(client_hub_set_buyer(h, c, "b1"), 0);
    assert_int_equal(client_hub_set_buyer(h, c, "b2"), 0);
    assert_string_equal(client_buyer_id(c), "b2");
    assert_int_equal(client_hub_send(h, "b1", f), 1);
    assert_int_equal(client_hub_send(h, "b2", f), 1);
    assert_int_equal(client_queued(stay), 1);
    assert_int_equal(client_queued(c), 1);

    /* A buyer id longer than the hub takes: refused, and the client is no
     * longer linked under its old one either. */
    memset(too_long, 'z', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    assert_int_equal(client_hub_set_buyer(h, c, too_long), -1);
    assert_false(client_hub_has(h, "b2"));
    assert_false(client_hub_has(h, too_long));

    client_unref(c);
    client_unref(stay);
    assert_false(client_hub_has(h, "b1"));
    client_hub_free(h);
    frame_unref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frames_come_out_in_order),
        cmocka_unit_test(a_shared_frame_is_not_copied),
        cmocka_unit_test(passing_the_byte_limit_closes),
        cmocka_unit_test(the_queue_grows_and_keeps_order),
        cmocka_unit_test(more_than_the_frame_limit_closes),
        cmocka_unit_test(detach_drops_the_queue),
        cmocka_unit_test(replies_go_ahead_of_fan_out),
        cmocka_unit_test(every_connection_of_a_buyer_gets_it),
        cmocka_unit_test(unlinking_from_the_middle),
        cmocka_unit_test(relinking_moves_the_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
