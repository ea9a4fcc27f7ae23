/*
 * api_best.c - POST /api/shows/{show}/best, for staff: the best available
 * seats (docs/best-available.md), sold at once as a walk-up sale when the
 * body has a "payment_ref", else held under a new hold whose code the box
 * office confirms later with POST /api/shows/{show}/bookings {"hold"}.
 * The work is best_op.c's (and booking.c's for the sale): this file parses,
 * calls it and translates the answer.
 */
#include "api.h"
#include "ledger_json.h"

#include <stdlib.h>
#include <string.h>

/* The buyer id of a box-office hold: its own for every hold, so that two
 * customers at the counter never share one. */
#define API_BEST_BUYER_PREFIX "boxoffice."

typedef struct call {
    best_op op;
    http_req *r; /* referenced */
} call;

static int still_wanted(best_op *op)
{
    return http_req_alive(((call *)op->data)->r);
}

static void respond_ok(http_req *r, const best_done *d, const venue *v)
{
    sm_buf b;

    sm_buf_init(&b, 1024 * 1024);
    if (d->sale) {
        sm_buf_adds(&b, "{\"booking\":");
        ledger_booking_json(&b, d->sale->booking);
    } else {
        sm_buf_printf(&b, "{\"hold\":%s", d->hold_json);
    }
    sm_buf_adds(&b, ",\"best\":{");
    if (d->pick->n) {
        best_pick_json(v, d->pick, &b);
        sm_buf_printf(&b, ",\"tries\":%d}}", d->tries);
    } else {
        sm_buf_printf(&b, "\"seats\":[],\"tries\":%d}}", d->tries); /* an earlier sale */
    }
    http_respond_json(r, d->sale && !d->sale->created ? 200 : 201, &b);
}

static void respond(http_req *r, const best_done *d, const venue *v)
{
    sm_buf b;

    if (d->outcome == OUT_OK) {
        respond_ok(r, d, v);
        return;
    }
    sm_buf_init(&b, 64 * 1024);
    if (d->outcome == OUT_SEAT_UNAVAILABLE) {
        const char *seats = d->seats_json                    ? d->seats_json
                            : d->sale && d->sale->seats_json ? d->sale->seats_json
                                                             : "[]";
        sm_buf_printf(&b, "\"seats\":%s,", seats);
        best_hint_json(d->pick, &b);
    }
    http_respond_error(r, d->outcome, d->message, b.len && !sm_buf_failed(&b) ? b.data : NULL);
    sm_buf_free(&b);
}

static void on_done(best_op *op, const best_done *d)
{
    call *c = op->data;
    respond(c->r, d, show_venue(op->s));
    best_op_clear(op);
    http_req_unref(c->r);
    free(c);
}

void api_best(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    cJSON *j = http_req_json(r);
    const cJSON *jpay;
    best_request req;
    char err[160], buyer[AUTH_BUYER_ID_LEN + 1], token[AUTH_TOKEN_HEX + 1];
    call *c;

    if (!j)
        return;
    jpay = cJSON_GetObjectItemCaseSensitive(j, "payment_ref");
    if (best_parse_request(show_venue(p->show), j, &req, err, sizeof(err))) {
        http_respond_error(r, OUT_BAD_REQUEST, err, NULL);
    } else if (jpay && (!cJSON_IsString(jpay) || !booking_valid_payment_ref(jpay->valuestring))) {
        http_respond_error(r, OUT_BAD_REQUEST,
                           "\"payment_ref\" must be the receipt or terminal reference, up to 128 "
                           "characters (leave it out to hold the seats instead)",
                           NULL);
    } else if (!(c = calloc(1, sizeof(*c)))) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
    } else {
        c->r = r;
        http_req_ref(r);
        c->op.data = c;
        c->op.wanted = still_wanted;
        if (jpay) {
            best_op_sell(&c->op, a->best, &a->books, p->show, &req, jpay->valuestring,
                         http_req_user(r)->name, on_done);
        } else {
            auth_random_token(token);
            snprintf(buyer, sizeof(buyer), "%s%.*s", API_BEST_BUYER_PREFIX,
                     (int)(AUTH_BUYER_ID_LEN - strlen(API_BEST_BUYER_PREFIX)), token);
            hold_who who;
            /* staff: no per-address cap (addr_limits.h is for buyers) */
            hold_who_init(&who, buyer, a->cfg.hold_ttl_ms, a->cfg.max_seats, NULL, 0);
            best_op_hold(&c->op, a->best, a->store, p->show, &req, &who, on_done);
        }
    }
    cJSON_Delete(j);
}
