/*
 * api_bookings.c - the bookings of a show, for staff: GET (list), POST
 * (confirm a hold's payment, or a walk-up sale of empty seats), DELETE
 * /api/shows/{show}/bookings/{id} (cancel; admin). The workflow itself is
 * booking.c: this file parses, calls it and translates its result. The list
 * is read on the booking thread too (ledger_queue.h), off the event loop.
 */
#include "api.h"
#include "ledger_json.h"

#include <stdlib.h>
#include <string.h>

/* One booking request in flight: the op and the request it answers. */
typedef struct call {
    booking_op op;
    http_req *r; /* referenced */
} call;

/* One list request: read on the booking thread (ledger_queue.h), answered
 * on the loop. */
typedef struct list_call {
    ledger_job job;
    http_req *r; /* referenced */
    char show[SM_SHOW_ID_MAX + 1];
    ledger_booking *list;
    size_t n;
    int rc;
} list_call;

/* On the booking thread: only the call's own fields. */
static void list_run(ledger *l, ledger_job *job)
{
    list_call *c = job->data;
    c->rc = ledger_booking_list(l, c->show, &c->list, &c->n);
}

static void list_done(ledger_job *job)
{
    list_call *c = job->data;
    size_t i;
    sm_buf b;

    if (!http_req_alive(c->r)) {
        /* the requester is gone: nothing to answer */
    } else if (c->rc) {
        http_respond_error(c->r, OUT_UNAVAILABLE, "the database is unavailable", NULL);
    } else {
        sm_buf_init(&b, 256u * 1024 * 1024);
        sm_buf_addc(&b, '[');
        for (i = 0; i < c->n; i++) {
            sm_buf_adds(&b, i ? "," : "");
            ledger_booking_json(&b, &c->list[i]);
        }
        sm_buf_addc(&b, ']');
        http_respond_json(c->r, 200, &b);
    }
    if (!c->rc)
        ledger_booking_list_free(c->list, c->n);
    http_req_unref(c->r);
    free(c);
}

void api_bookings_list(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    list_call *c = calloc(1, sizeof(*c));

    if (!c) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    c->r = r;
    http_req_ref(r);
    snprintf(c->show, sizeof(c->show), "%s", show_id(p->show));
    c->job.data = c;
    ledger_queue_call(a->books.queue, a->ledger, &c->job, list_run, list_done);
}

/* ---- the workflow's answer ---- */

static void respond_result(http_req *r, const booking_result *res)
{
    sm_buf b;

    sm_buf_init(&b, 1024 * 1024);
    if (res->outcome == OUT_OK) {
        sm_buf_adds(&b, "{\"booking\":");
        ledger_booking_json(&b, res->booking);
        sm_buf_addc(&b, '}');
        http_respond_json(r, res->created ? 201 : 200, &b);
        return;
    }
    if (res->outcome == OUT_HOLD_EXPIRED && res->booking) {
        /* Still hold_expired for v1 clients; the booking says why. */
        sm_buf_adds(&b, "\"booking\":");
        ledger_booking_json(&b, res->booking);
    } else if (res->outcome == OUT_SEAT_UNAVAILABLE && res->seats_json) {
        sm_buf_printf(&b, "\"seats\":%s", res->seats_json);
    }
    if (sm_buf_failed(&b))
        http_respond_error(r, OUT_INTERNAL, "the answer is too large to send", NULL);
    else
        http_respond_error(r, res->outcome, res->message, b.data);
    sm_buf_free(&b);
}

static void on_done(booking_op *op, const booking_result *res)
{
    call *c = op->data;
    respond_result(c->r, res);
    booking_op_clear(op);
    http_req_unref(c->r);
    free(c);
}

static int still_wanted(booking_op *op)
{
    return http_req_alive(((call *)op->data)->r);
}

static call *call_new(http_req *r)
{
    call *c = calloc(1, sizeof(*c));
    if (!c) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return NULL;
    }
    c->r = r;
    http_req_ref(r);
    c->op.data = c;
    c->op.wanted = still_wanted;
    return c;
}

/* ---- POST: confirm or sell ---- */

/* A walk-up sale: every seat must be one of the show's. */
static void sell(http_req *r, show *s, const cJSON *jseats, const char *payment_ref)
{
    app *a = http_req_ctx(r);
    const char *ids[BOOKING_MAX_SEATS];
    size_t n;
    sm_buf unknown;
    call *c;

    sm_buf_init(&unknown, 64 * 1024);
    sm_buf_adds(&unknown, "\"seats\":");
    if (venue_resolve_seats(show_venue(s), jseats, ids, BOOKING_MAX_SEATS, &n, &unknown)) {
        http_respond_error(r, OUT_UNKNOWN_SEAT, NULL,
                           sm_buf_failed(&unknown) ? NULL : unknown.data);
        sm_buf_free(&unknown);
        return;
    }
    sm_buf_free(&unknown);
    if ((c = call_new(r)) != NULL)
        booking_sell(&c->op, &a->books, s, ids, n, payment_ref, http_req_user(r)->name, on_done);
}

void api_bookings_create(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    cJSON *j = http_req_json(r);
    const cJSON *jhold, *jseats, *jpay;
    call *c;

    if (!j)
        return;
    jhold = cJSON_GetObjectItemCaseSensitive(j, "hold");
    jseats = cJSON_GetObjectItemCaseSensitive(j, "seats");
    jpay = cJSON_GetObjectItemCaseSensitive(j, "payment_ref");
    if (!cJSON_IsString(jpay) || !booking_valid_payment_ref(jpay->valuestring)) {
        http_respond_error(r, OUT_BAD_REQUEST,
                           "\"payment_ref\" is required: the receipt or terminal reference, up "
                           "to 128 characters",
                           NULL);
    } else if (cJSON_IsString(jhold) && !jseats) {
        if ((c = call_new(r)) != NULL)
            booking_confirm(&c->op, &a->books, p->show, jhold->valuestring, jpay->valuestring,
                            http_req_user(r)->name, on_done);
    } else if (jhold || !cJSON_IsArray(jseats) || cJSON_GetArraySize(jseats) == 0 ||
               cJSON_GetArraySize(jseats) > BOOKING_MAX_SEATS) {
        http_respond_error(r, OUT_BAD_REQUEST,
                           "send either \"hold\" (a hold code) or \"seats\" (1 to 100 seat ids)",
                           NULL);
    } else {
        sell(r, p->show, jseats, jpay->valuestring);
    }
    cJSON_Delete(j);
}

/* ---- DELETE: cancel ---- */

void api_bookings_cancel(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    const char *idtext = http_param(p, "id");
    char *end;
    long long id = idtext ? strtoll(idtext, &end, 10) : 0;
    call *c;

    if (!idtext || *end || id <= 0) {
        http_respond_error(r, OUT_NOT_FOUND, "there is no such booking", NULL);
        return;
    }
    if ((c = call_new(r)) != NULL)
        booking_cancel(&c->op, &a->books, p->show, id, http_req_user(r)->name, on_done);
}
