/*
 * best_op.c - pick, hold (or sell), and pick again after a lost race; see
 * best_op.h.
 */
#include "best_op.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One show's pick state: the venue's index and the claims of picks in flight. */
typedef struct best_entry {
    show *s;
    best_index *ix;
    uint16_t *claims;
} best_entry;

struct best_service {
    best_entry *e;
    size_t n, cap;
    uv_timer_t timer; /* polls the shows waiting ops wait for */
    int timer_open;
    best_op *waiting; /* ops waiting for their show to load */
};

static void attempt(best_op *op);
static void best_wait(best_op *op);
static void finish_with(best_op *op, outcome o, const char *message);

best_service *best_service_new(uv_loop_t *loop)
{
    best_service *bs = calloc(1, sizeof(best_service));
    if (!bs)
        return NULL;
    if (loop && uv_timer_init(loop, &bs->timer) == 0) {
        bs->timer.data = bs;
        bs->timer_open = 1;
    }
    return bs;
}

static void on_poll(uv_timer_t *t)
{
    best_service *bs = t->data;
    best_op *list = bs->waiting, *op, *next;
    int64_t now = sm_mono_ms();

    bs->waiting = NULL;
    uv_timer_stop(&bs->timer);
    /* attempt() may put an op back on the (new) list, and restart the timer. */
    for (op = list; op; op = next) {
        next = op->next_waiting;
        op->next_waiting = NULL;
        if (show_loaded(op->s) || now >= op->wait_until)
            attempt(op);
        else
            best_wait(op);
    }
}

void best_service_stop(best_service *bs)
{
    best_op *op, *next;
    if (!bs)
        return;
    op = bs->waiting;
    bs->waiting = NULL;
    for (; op; op = next) {
        next = op->next_waiting;
        finish_with(op, OUT_UNAVAILABLE, "the server is shutting down");
    }
    if (bs->timer_open)
        uv_close((uv_handle_t *)&bs->timer, NULL);
    bs->timer_open = 0;
}

void best_service_free(best_service *bs)
{
    size_t i;
    if (!bs)
        return;
    for (i = 0; i < bs->n; i++) {
        best_index_free(bs->e[i].ix);
        free(bs->e[i].claims);
    }
    free(bs->e);
    free(bs);
}

/* The show's entry, made on first use (a handful of shows: a linear scan). */
static best_entry *entry_of(best_service *bs, show *s)
{
    size_t i, n = show_seat_count(s);
    best_entry *e;

    for (i = 0; i < bs->n; i++)
        if (bs->e[i].s == s)
            return &bs->e[i];
    if (bs->n == bs->cap) {
        size_t cap = bs->cap ? bs->cap * 2 : 8;
        best_entry *ne = realloc(bs->e, cap * sizeof(*ne));
        if (!ne)
            return NULL;
        bs->e = ne;
        bs->cap = cap;
    }
    e = &bs->e[bs->n];
    e->s = s;
    e->ix = best_index_new(show_venue(s));
    e->claims = calloc(n ? n : 1, sizeof(*e->claims));
    if (!e->ix || !e->claims) {
        best_index_free(e->ix);
        free(e->claims);
        return NULL;
    }
    bs->n++;
    return e;
}

int best_service_pick(best_service *bs, show *s, const best_request *req, best_result *res)
{
    best_entry *e = entry_of(bs, s);
    if (!e) {
        memset(res, 0, sizeof(*res));
        return BEST_ENOMEM;
    }
    return best_pick(e->ix, show_states(s), e->claims, req, res);
}

/* ---- messages ---- */

static void where(const venue *v, const best_request *req, char *out, size_t outlen)
{
    const venue_seat *seats = venue_seats(v);
    size_t i, n = venue_seat_count(v);
    const char *sec = NULL;

    out[0] = '\0';
    if (req->section >= 0) {
        /* The section's id is the first part of any of its seats' ids. */
        for (i = 0; i < n && seats[i].section != req->section; i++)
            ;
        sec = i < n ? venue_seat_id(v, i) : NULL;
    }
    if (req->category >= 0)
        snprintf(out, outlen, " in category %s", venue_category_id(v, (size_t)req->category));
    if (sec) {
        size_t len = strlen(out), k = strcspn(sec, "-");
        snprintf(out + len, outlen - len, " in section %.*s", (int)k, sec);
    }
}

void best_explain(const venue *v, const best_request *req, int rc, const best_result *res,
                  char *out, size_t outlen)
{
    char w[128];
    char acc[64] = "";

    where(v, req, w, sizeof(w));
    if (req->accessible)
        snprintf(acc, sizeof(acc), " with %zu wheelchair space%s", req->accessible,
                 req->accessible == 1 ? "" : "s");
    switch (rc) {
    case BEST_ENOTOGETHER:
        snprintf(out, outlen, "there are no %zu seats together%s%s; the most together is %zu",
                 req->count, acc, w, res->largest);
        break;
    case BEST_ETOOFEW:
        if (res->wheelchair < req->accessible)
            snprintf(out, outlen, "only %zu wheelchair space%s%s %s free", res->wheelchair,
                     res->wheelchair == 1 ? "" : "s", w, res->wheelchair == 1 ? "is" : "are");
        else if (res->available < req->count)
            snprintf(out, outlen, "only %zu seat%s%s %s free", res->available,
                     res->available == 1 ? "" : "s", w, res->available == 1 ? "is" : "are");
        else
            snprintf(out, outlen, "there are not %zu free seats%s%s", req->count, acc, w);
        break;
    case BEST_EINVAL:
        snprintf(out, outlen, "\"count\" must be 1 to %d and \"accessible\" 0 to \"count\"",
                 BEST_MAX_SEATS);
        break;
    default:
        snprintf(out, outlen, "out of memory");
    }
}

/* ---- requests and answers ---- */

static int whole(const cJSON *it, double min, double max)
{
    return cJSON_IsNumber(it) && it->valuedouble >= min && it->valuedouble <= max &&
           it->valuedouble == (double)(long)it->valuedouble;
}

/* An optional id member resolved by find; *idx -1 when absent. */
static int parse_id(const venue *v, const cJSON *m, const char *key,
                    long (*find)(const venue *, const char *), long *idx, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(m, key);
    *idx = -1;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it)) {
        snprintf(err, errlen, "\"%s\" must be a string", key);
        return -1;
    }
    *idx = find(v, it->valuestring);
    if (*idx < 0) {
        snprintf(err, errlen, "this venue has no %s '%.40s'", key, it->valuestring);
        return -1;
    }
    return 0;
}

int best_parse_request(const venue *v, const cJSON *m, best_request *req, char *err, size_t errlen)
{
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(m, "count");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(m, "accessible");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(m, "together");

    memset(req, 0, sizeof(*req));
    if (!whole(jc, 1, BEST_MAX_SEATS)) {
        snprintf(err, errlen, "\"count\" must be a whole number from 1 to %d", BEST_MAX_SEATS);
        return -1;
    }
    req->count = (size_t)jc->valuedouble;
    if (ja && !cJSON_IsNull(ja) && !whole(ja, 0, (double)req->count)) {
        snprintf(err, errlen, "\"accessible\" must be a whole number from 0 to \"count\"");
        return -1;
    }
    req->accessible = ja && !cJSON_IsNull(ja) ? (size_t)ja->valuedouble : 0;
    if (jt && !cJSON_IsNull(jt) && !cJSON_IsBool(jt)) {
        snprintf(err, errlen, "\"together\" must be true or false");
        return -1;
    }
    req->together = !cJSON_IsFalse(jt);
    if (parse_id(v, m, "category", venue_category_index, &req->category, err, errlen) ||
        parse_id(v, m, "section", venue_section_index, &req->section, err, errlen))
        return -1;
    return 0;
}

void best_pick_json(const venue *v, const best_result *res, sm_buf *b)
{
    size_t k;
    sm_buf_adds(b, "\"seats\":[");
    for (k = 0; k < res->n; k++) {
        sm_buf_adds(b, k ? "," : "");
        sm_buf_add_json_str(b, venue_seat_id(v, res->seats[k]));
    }
    sm_buf_printf(b, "],\"groups\":%zu,\"together\":%s", res->groups,
                  res->groups == 1 ? "true" : "false");
}

void best_hint_json(const best_result *res, sm_buf *b)
{
    sm_buf_printf(b, "\"largest\":%zu,\"available\":%zu,\"wheelchair\":%zu", res->largest,
                  res->available, res->wheelchair);
}

/* ---- claims ---- */

static void claim(best_op *op, const uint32_t *seats, size_t n, int delta)
{
    best_entry *e = entry_of(op->bs, op->s);
    size_t i;
    if (!e)
        return; /* made when the pick was: cannot fail now */
    for (i = 0; i < n; i++)
        e->claims[seats[i]] = (uint16_t)(e->claims[seats[i]] + delta);
}

static void unclaim_pick(best_op *op)
{
    if (op->claimed)
        claim(op, op->pick.seats, op->pick.n, -1);
    op->claimed = 0;
}

/* Seats (a JSON array of ids) that another buyer took: kept claimed by this
 * op until it ends, so that the next pick leaves them out even before the
 * other buyer's transition reaches this process. */
static void add_lost(best_op *op, const char *seats_json)
{
    cJSON *arr = seats_json ? cJSON_Parse(seats_json) : NULL;
    const cJSON *it;
    size_t max = sizeof(op->lost) / sizeof(op->lost[0]);

    cJSON_ArrayForEach(it, arr)
    {
        long idx = cJSON_IsString(it) ? venue_seat_index(show_venue(op->s), it->valuestring) : -1;
        if (idx < 0 || op->nlost == max)
            continue;
        op->lost[op->nlost] = (uint32_t)idx;
        claim(op, &op->lost[op->nlost], 1, +1);
        op->nlost++;
    }
    cJSON_Delete(arr);
}

/* ---- the op ---- */

static void finish(best_op *op, best_done *d)
{
    unclaim_pick(op);
    claim(op, op->lost, op->nlost, -1);
    op->nlost = 0;
    d->pick = &op->pick;
    d->tries = op->tries;
    op->cb(op, d);
}

static void finish_with(best_op *op, outcome o, const char *message)
{
    best_done d;
    memset(&d, 0, sizeof(d));
    d.outcome = o;
    d.message = message;
    finish(op, &d);
}

/* Puts the op on the list of those waiting for their show to load. */
static void best_wait(best_op *op)
{
    best_service *bs = op->bs;
    op->next_waiting = bs->waiting;
    bs->waiting = op;
    if (!uv_is_active((uv_handle_t *)&bs->timer))
        uv_timer_start(&bs->timer, on_poll, BEST_OP_WAIT_POLL_MS, BEST_OP_WAIT_POLL_MS);
}

static int wanted(best_op *op)
{
    return !op->wanted || op->wanted(op);
}

/* Picks; 0 when seats were picked and claimed, else the op has finished or
 * waits for its show to load. */
static int pick(best_op *op)
{
    best_entry *e;
    char msg[256];
    int rc;

    if (op->tries > 0 && !wanted(op)) {
        /* gone while waiting or racing: hold nothing for nobody */
        finish_with(op, OUT_UNAVAILABLE, "the request was given up");
        return -1;
    }
    if (!show_loaded(op->s)) {
        if (!op->wait_until)
            op->wait_until = sm_mono_ms() + BEST_OP_LOAD_WAIT_MS;
        if (op->bs->timer_open && sm_mono_ms() < op->wait_until && wanted(op)) {
            best_wait(op);
            return -1;
        }
        finish_with(op, OUT_UNAVAILABLE,
                    "the seats of this show are still loading; try again in a moment");
        return -1;
    }
    if (!(e = entry_of(op->bs, op->s))) {
        finish_with(op, OUT_INTERNAL, "out of memory");
        return -1;
    }
    op->tries++;
    if (op->tries > 1) {
        op->req.jitter = BEST_OP_JITTER * (op->tries - 1);
        op->req.seed = (uint64_t)sm_now_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)op;
    }
    rc = best_pick(e->ix, show_states(op->s), e->claims, &op->req, &op->pick);
    if (rc) {
        best_explain(show_venue(op->s), &op->req, rc, &op->pick, msg, sizeof(msg));
        finish_with(op,
                    rc == BEST_EINVAL   ? OUT_BAD_REQUEST
                    : rc == BEST_ENOMEM ? OUT_INTERNAL
                                        : OUT_SEAT_UNAVAILABLE,
                    msg);
        return -1;
    }
    claim(op, op->pick.seats, op->pick.n, +1);
    op->claimed = 1;
    return 0;
}

/* After a lost race: again, or give up. */
static void again_or_lost(best_op *op, const char *seats_json)
{
    best_done d;

    add_lost(op, seats_json);
    if (op->tries < BEST_OP_TRIES && wanted(op)) {
        attempt(op);
        return;
    }
    /* The hint says what is left now, not what the last pick saw. */
    unclaim_pick(op);
    {
        best_entry *e = entry_of(op->bs, op->s);
        if (e)
            best_survey(e->ix, show_states(op->s), e->claims, &op->req, &op->pick);
    }
    memset(&d, 0, sizeof(d));
    d.outcome = OUT_SEAT_UNAVAILABLE;
    d.seats_json = seats_json;
    d.message = "other buyers took the seats picked for you several times in a row; please try "
                "again";
    finish(op, &d);
}

static void hold_done(void *arg, const store_result *res)
{
    best_op *op = arg;
    best_done d;

    show_apply_result(op->s, res, NULL);
    unclaim_pick(op);
    switch (res->outcome) {
    case OUT_OK:
        memset(&d, 0, sizeof(d));
        d.outcome = OUT_OK;
        d.hold_json = res->detail[0] ? res->detail : "null";
        finish(op, &d);
        break;
    case OUT_RETRY: /* every candidate hold code was taken */
        if (++op->ref_tries < BEST_OP_REF_TRIES) {
            op->tries--;
            attempt(op);
        } else {
            finish_with(op, OUT_INTERNAL, NULL);
        }
        break;
    case OUT_SEAT_UNAVAILABLE:
        again_or_lost(op, res->detail);
        break;
    case OUT_HOLD_LIMIT: {
        char msg[256];
        memset(&d, 0, sizeof(d));
        d.outcome = OUT_HOLD_LIMIT;
        d.ip_capped = store_hold_ip_capped(res);
        d.message = store_hold_limit_message(res, &op->holder, msg, sizeof(msg));
        finish(op, &d);
        break;
    }
    default:
        finish_with(op, res->outcome, NULL);
    }
}

static void hold_run(best_op *op)
{
    const venue *v = show_venue(op->s);
    const char *seats[BEST_MAX_SEATS];
    size_t k;

    for (k = 0; k < op->pick.n; k++)
        seats[k] = venue_seat_id(v, op->pick.seats[k]);
    if (store_hold_run(op->st, show_id(op->s), &op->holder, seats, op->pick.n, hold_done, op)) {
        store_result res = STORE_RESULT_UNAVAILABLE;
        hold_done(op, &res);
    }
}

static void sale_done(booking_op *bop, const booking_result *r)
{
    best_op *op = bop->data;
    best_done d;

    unclaim_pick(op);
    if (r->outcome == OUT_SEAT_UNAVAILABLE && r->seats_json) {
        char *lost = strdup(r->seats_json);
        booking_op_clear(bop);
        again_or_lost(op, lost ? lost : "[]");
        free(lost);
        return;
    }
    memset(&d, 0, sizeof(d));
    d.outcome = r->outcome;
    d.sale = r;
    d.message = r->message;
    finish(op, &d);
}

static int sale_wanted(booking_op *bop)
{
    return wanted(bop->data);
}

static void sale_run(best_op *op)
{
    const venue *v = show_venue(op->s);
    const char *ids[BEST_MAX_SEATS];
    size_t k;

    for (k = 0; k < op->pick.n; k++)
        ids[k] = venue_seat_id(v, op->pick.seats[k]);
    op->sale.data = op;
    op->sale.wanted = sale_wanted;
    /* May call sale_done (and so finish the op) before it returns. */
    booking_sell(&op->sale, op->env, op->s, ids, op->pick.n, op->payment_ref, op->who, sale_done);
}

static void attempt(best_op *op)
{
    if (pick(op))
        return;
    if (op->sell)
        sale_run(op);
    else
        hold_run(op);
}

static void op_init(best_op *op, best_service *bs, show *s, const best_request *req, best_cb *cb)
{
    void *data = op->data;
    int (*w)(best_op *) = op->wanted;
    memset(op, 0, sizeof(*op));
    op->data = data;
    op->wanted = w;
    op->bs = bs;
    op->s = s;
    op->req = *req;
    op->cb = cb;
}

void best_op_hold(best_op *op, best_service *bs, store *st, show *s, const best_request *req,
                  const hold_who *who, best_cb *cb)
{
    op_init(op, bs, s, req, cb);
    op->st = st;
    op->holder = *who;
    if (req->count > (size_t)who->max_seats) {
        char msg[64];
        snprintf(msg, sizeof(msg), "a hold can have at most %d seats", who->max_seats);
        finish_with(op, OUT_HOLD_LIMIT, msg);
        return;
    }
    attempt(op);
}

/* The same payment ref again (a retried request) answers the booking it made,
 * as booking_sell does, even when no seats are left to pick. On the booking
 * thread: only op->show, op->payment_ref, op->sale.booking, op->paid_rc. */
static void paid_run(ledger *l, ledger_job *job)
{
    best_op *op = job->data;
    op->paid_rc = ledger_booking_by_payment(l, op->show, op->payment_ref, &op->sale.booking);
}

static void paid_done(ledger_job *job)
{
    best_op *op = job->data;
    booking_result r;
    best_done d;

    if (op->paid_rc != 0) { /* not sold yet (or the database is down: the sale will say) */
        attempt(op);
        return;
    }
    memset(&r, 0, sizeof(r));
    r.outcome = OUT_OK;
    r.booking = &op->sale.booking;
    memset(&d, 0, sizeof(d));
    d.outcome = OUT_OK;
    d.sale = &r;
    finish(op, &d);
}

void best_op_sell(best_op *op, best_service *bs, const booking_env *env, show *s,
                  const best_request *req, const char *payment_ref, const char *who, best_cb *cb)
{
    op_init(op, bs, s, req, cb);
    op->env = env;
    op->sell = 1;
    snprintf(op->payment_ref, sizeof(op->payment_ref), "%s", payment_ref);
    snprintf(op->who, sizeof(op->who), "%s", who);
    snprintf(op->show, sizeof(op->show), "%s", show_id(s));
    op->paid_job.data = op;
    ledger_queue_call(env->queue, env->ledger, &op->paid_job, paid_run, paid_done);
}

void best_op_clear(best_op *op)
{
    booking_op_clear(&op->sale);
}
