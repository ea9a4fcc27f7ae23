/*
 * best_op.h - "the best N seats" as an operation: pick them on the show's
 * in-memory state (best.h), then hold them for a buyer through hold.lua (the
 * same all-or-nothing hold, with the same limits) or sell them at once
 * through the walk-up sale of booking.h. Redis's scripts are the arbiter:
 * when another buyer won a race for a picked seat (seat_unavailable), the
 * op picks again without the lost seats, at most BEST_OP_TRIES times.
 *
 * Fairness on one process: the seats of every pick in flight are "claimed"
 * (a counter per seat in the service) until its script answers, so
 * concurrent requests on this process pick different seats instead of all
 * racing for the same best ones; only races with other processes cost a
 * retry.
 *
 * Ownership: the service is the app's (best_service_new/free). A best_op is
 * owned by its caller (like a uv_req_t) until its callback, which is called
 * exactly once, possibly before best_op_hold/best_op_sell returns.
 * Everything in the best_done is valid only during the callback.
 *
 * Not here: the wire (ws.c, api_best.c), the pick itself (best.c).
 */
#ifndef SEATMAP_BEST_OP_H
#define SEATMAP_BEST_OP_H

#include "best.h"
#include "booking.h"
#include "iplimit.h"
#include "show.h"
#include "store_hold.h"

#include <uv.h>

#include <cjson/cJSON.h>

#define BEST_OP_TRIES 8 /* picks per request: the first and seven after lost races */
/* Units of distance of random jitter per lost race (best.h): the second pick
 * spreads over seats up to 2 units worse than the best, the third 4, ... */
#define BEST_OP_JITTER 2.0
#define BEST_OP_REF_TRIES 3

typedef struct best_service best_service;

/* How long an op waits for a show's seats to load from Redis (a show's
 * first request on this process, or after a reconnect) before it answers
 * unavailable; checked every BEST_OP_WAIT_POLL_MS. */
#define BEST_OP_LOAD_WAIT_MS 5000
#define BEST_OP_WAIT_POLL_MS 20

/* A service on this loop (it keeps a timer for ops waiting for a show to
 * load). NULL when out of memory. */
best_service *best_service_new(uv_loop_t *loop);
/* Shutting down: ops still waiting answer unavailable; the timer is closed.
 * Call before the loop's last run. */
void best_service_stop(best_service *bs);
/* Frees it, after best_service_stop and the loop's end. */
void best_service_free(best_service *bs);
/* Picks without holding: what best_op would try first (tests, bench). The
 * show must be loaded. BEST_ENOMEM when the index cannot be built. */
int best_service_pick(best_service *bs, show *s, const best_request *req, best_result *res);

typedef struct best_done {
    outcome outcome;
    const char *hold_json;      /* hold mode, OUT_OK: {"ref","seats","expires_at"} */
    const booking_result *sale; /* sell mode, when the booking workflow answered */
    const best_result *pick;    /* the last pick: seats, groups, largest, available */
    const char *seats_json;     /* OUT_SEAT_UNAVAILABLE after a lost race: the seats lost */
    const char *message;        /* a sentence for this case, or NULL for the default */
    int tries;                  /* picks made */
    int ip_capped;              /* OUT_HOLD_LIMIT: the client address's cap (store_hold.h) */
} best_done;

typedef struct best_op best_op;
typedef void best_cb(best_op *op, const best_done *d);

struct best_op {
    void *data; /* the caller's */
    /* The caller's: when set, asked before each retry whether the requester
     * is still there (0: stop). */
    int (*wanted)(best_op *op);
    /* private */
    best_service *bs;
    show *s;
    store *st;
    const booking_env *env;
    best_cb *cb;
    best_request req;
    best_result pick;
    int sell;
    int tries, ref_tries;
    hold_who holder; /* hold mode: buyer, ttl, max seats, address cap */
    char payment_ref[LEDGER_PAYMENT_REF_MAX + 1];
    char who[LEDGER_NAME_MAX + 8];
    uint32_t lost[BEST_OP_TRIES * BEST_MAX_SEATS]; /* seats lost to races, claimed */
    size_t nlost;
    int claimed;        /* pick.seats are claimed */
    int64_t wait_until; /* waiting for the show to load until then (mono ms), or 0 */
    best_op *next_waiting;
    booking_op sale;
    /* the payment-ref lookup of a sale, on the booking thread (ledger_queue.h) */
    ledger_job paid_job;
    char show[SM_SHOW_ID_MAX + 1];
    int paid_rc;
};

/* Holds the best seats for who->buyer_id (added to the buyer's hold, as
 * hold does), under who's limits (store_hold.h; copied). */
void best_op_hold(best_op *op, best_service *bs, store *st, show *s, const best_request *req,
                  const hold_who *who, best_cb *cb);
/* Sells the best seats (walk-up sale). who: "staff:..." as the ledger records it. */
void best_op_sell(best_op *op, best_service *bs, const booking_env *env, show *s,
                  const best_request *req, const char *payment_ref, const char *who, best_cb *cb);

/* Frees what a sale holds, after the callback (hold mode: nothing). */
void best_op_clear(best_op *op);

/*
 * Reads the options of a request object, as the WebSocket and HTTP requests
 * share them: "count" (1..BEST_MAX_SEATS), "category" and "section" (ids of
 * the venue, optional), "accessible" (0..count, default 0), "together"
 * (default true). 0, or -1 with one sentence in err naming what is wrong.
 */
int best_parse_request(const venue *v, const cJSON *m, best_request *req, char *err, size_t errlen);

/* Appends "seats":[ids],"groups":N,"together":bool (no braces): what a pick got. */
void best_pick_json(const venue *v, const best_result *res, sm_buf *b);
/* Appends "largest":N,"available":N,"wheelchair":N: what there was to be had. */
void best_hint_json(const best_result *res, sm_buf *b);

/* A sentence for a pick that found nothing (rc a BEST_E* code), e.g. "there
 * are no 4 seats together in category premium; the most together is 3". */
void best_explain(const venue *v, const best_request *req, int rc, const best_result *res,
                  char *out, size_t outlen);

#endif
