/*
 * booking.h - the booking workflow: a payment confirmed for a hold, a
 * walk-up sale of empty seats, a cancellation. Redis owns the holds and the
 * ledger owns the bookings, so a booking is a short saga across both; this
 * module runs it and says how it ended. The HTTP API only translates
 * (api_bookings.c).
 *
 * A confirmation or sale in flight (booking_op.state):
 *
 *                       payment ref already booked
 *   START ----------------------------------------------------> DONE (200, that booking)
 *     | confirm: freeze.lua          | sale: reserve.lua
 *     v                              v
 *   FREEZING                       RESERVING --retry (ref taken, <3)--> RESERVING
 *     | hold_locked (<30): WAITING 100 ms, then START again
 *     | hold_expired / unavailable / seat_unavailable -------------> DONE (409/503)
 *     v ok: the seats are frozen under the hold's ref
 *   COMMITTING: the ledger commits (fsync, off the loop) - payment ref exists, seat taken,
 *     |                                          database error: THAW --> DONE
 *     v committed
 *   BOOKING: book.lua marks the seats booked (a failure is reconciled later:
 *     |      the ledger is the truth) ------------------------------> DONE (201)
 *
 *   The requester gone (booking_abandon, or op->wanted says 0) while FREEZING or RESERVING: the
 *   freeze is thawed at once and nothing is committed. Once COMMITTING, the
 *   booking is finished whatever happens to the requester: it is durable.
 *
 * Idempotency: (show, payment_ref) is unique in the ledger; the same ref
 * again answers the existing booking (200), before or after the freeze.
 *
 * Ownership: the caller owns the booking_op (like a uv_req_t) and keeps it
 * alive until its callback, which is called exactly once, possibly before
 * booking_confirm/sell/cancel returns. Everything in the result is valid
 * only during the callback.
 */
#ifndef SEATMAP_BOOKING_H
#define SEATMAP_BOOKING_H

#include "ledger.h"
#include "ledger_queue.h"
#include "outcome.h"
#include "show.h"
#include "store.h"

#include <uv.h>

#define BOOKING_MAX_SEATS 100      /* seats in one walk-up sale */
#define BOOKING_CONFIRM_RETRIES 30 /* x BOOKING_RETRY_MS: waiting out a confirmation in flight */
#define BOOKING_RETRY_MS 100
#define BOOKING_RESERVE_TRIES 3

typedef struct booking_env {
    uv_loop_t *loop;
    store *store;
    ledger *ledger;
    /* When set, every ledger call of the workflow runs on this queue's
     * thread, off the loop (ledger_queue.h); NULL runs them inline on
     * ledger (tests, tools). */
    ledger_queue *queue;
    const char *instance; /* who freezes: "host:port" (see sweep.lua) */
} booking_env;

typedef struct booking_result {
    outcome outcome;
    int created;                   /* OUT_OK: 1 a new booking (201), 0 an existing one (200) */
    const ledger_booking *booking; /* OUT_OK: the booking; OUT_HOLD_EXPIRED: the hold's
                                    * booking when it was confirmed with another payment
                                    * ref, else NULL */
    const char *seats_json;        /* OUT_SEAT_UNAVAILABLE from Redis: the seats not free */
    const char *message;           /* a message for this case, or NULL for the default */
} booking_result;

typedef struct booking_op booking_op;
typedef void booking_cb(booking_op *op, const booking_result *res);

typedef enum booking_state {
    BOOKING_START,
    BOOKING_FREEZING,
    BOOKING_RESERVING,
    BOOKING_WAITING,
    BOOKING_COMMITTING,
    BOOKING_BOOKING,
    BOOKING_CANCELLING,
    BOOKING_DONE,
} booking_state;

struct booking_op {
    void *data; /* the caller's */
    /* The caller's: when set, asked before committing whether the requester
     * is still there (0: abandon, as booking_abandon). */
    int (*wanted)(booking_op *op);
    /* private */
    const booking_env *env;
    show *s;
    booking_cb *cb;
    booking_state state;
    int abandoned;
    int tries;
    int confirming; /* its freeze is held (show_freeze_held) until its callback */
    char hold_ref[AUTH_REF_LEN + 1];
    char frozen[24]; /* when our freeze or reservation locked it (Redis ms) */
    char payment_ref[LEDGER_PAYMENT_REF_MAX + 1];
    char who[LEDGER_NAME_MAX + 8];
    char **seats;
    size_t nseats;
    int64_t cancel_id;
    ledger_booking booking;
    uv_timer_t *retry;
    /* a ledger call in flight (ledger_queue.h): what the thread reads and
     * writes, and where the workflow goes on */
    ledger_job job;
    char show[SM_SHOW_ID_MAX + 1];
    int lrc;        /* the call's LEDGER_E* code */
    char lerr[256]; /* and the ledger's message when it failed */
    double lsecs;   /* how long it took */
    void (*next)(booking_op *op);
    /* a lookup of an existing booking: by payment ref or by hold ref */
    int (*lookup)(ledger *l, const char *show, const char *key, ledger_booking *out);
    const char *lookup_key; /* op->payment_ref or op->hold_ref */
};

/* 1 when a payment reference is acceptable: 1 to 128 characters, no
 * control characters. */
int booking_valid_payment_ref(const char *s);

/* Confirms the payment of a live hold (ref, any case). who: "staff:..." as
 * the ledger records it. */
void booking_confirm(booking_op *op, const booking_env *env, show *s, const char *hold_ref,
                     const char *payment_ref, const char *who, booking_cb *cb);
/* Sells empty seats directly, all or nothing. seats: ids of the show's venue
 * (duplicates are dropped), 1 to BOOKING_MAX_SEATS. */
void booking_sell(booking_op *op, const booking_env *env, show *s, const char *const *seats,
                  size_t nseats, const char *payment_ref, const char *who, booking_cb *cb);
/* Cancels a booking; its seats become empty. OUT_NOT_FOUND,
 * OUT_ALREADY_CANCELLED, OUT_UNAVAILABLE or OUT_OK with the booking. */
void booking_cancel(booking_op *op, const booking_env *env, show *s, int64_t id, const char *who,
                    booking_cb *cb);
/* The requester went away: nothing uncommitted will be committed. The
 * callback still comes. */
void booking_abandon(booking_op *op);
/* Frees what the op holds, after its callback. */
void booking_op_clear(booking_op *op);

#endif
