/*
 * booking.c - the booking workflow (see booking.h for the state diagram).
 */
#include "booking.h"

#include "metrics.h"
#include "ledger_json.h"
#include "failpoint.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void confirm_start(booking_op *op);
static void sale_start(booking_op *op);

int booking_valid_payment_ref(const char *s)
{
    size_t n = strlen(s), i;
    if (n == 0 || n > LEDGER_PAYMENT_REF_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static void op_init(booking_op *op, const booking_env *env, show *s, const char *payment_ref,
                    const char *who, booking_cb *cb)
{
    void *data = op->data;
    int (*wanted)(booking_op *) = op->wanted;
    memset(op, 0, sizeof(*op));
    op->data = data;
    op->wanted = wanted;
    op->env = env;
    op->s = s;
    op->cb = cb;
    snprintf(op->show, sizeof(op->show), "%s", show_id(s));
    snprintf(op->payment_ref, sizeof(op->payment_ref), "%s", payment_ref ? payment_ref : "");
    snprintf(op->who, sizeof(op->who), "%s", who);
}

/* Empties op->booking for the next ledger call to fill. */
static void reset_booking(booking_op *op)
{
    ledger_booking_clear(&op->booking);
    memset(&op->booking, 0, sizeof(op->booking));
}

void booking_op_clear(booking_op *op)
{
    size_t i;
    for (i = 0; i < op->nseats; i++)
        free(op->seats[i]);
    free(op->seats);
    op->seats = NULL;
    op->nseats = 0;
    reset_booking(op);
}

void booking_abandon(booking_op *op)
{
    op->abandoned = 1;
}

static int gone(booking_op *op)
{
    return op->abandoned || (op->wanted && !op->wanted(op));
}

/* ---- the ledger, off the loop ---- */

/* Runs run(ledger, op) on the queue's thread (inline without a queue), then
 * done(op) on the loop. The op is the caller's all along; only op->show,
 * op->hold_ref, op->payment_ref, op->who, op->seats, op->cancel_id,
 * op->lookup, op->lookup_key,
 * op->booking, op->lrc and op->lsecs are touched by run. */
static void ledger_call(booking_op *op, ledger_job_run *run, ledger_job_done *done)
{
    op->job.data = op;
    ledger_queue_call(op->env->queue, op->env->ledger, &op->job, run, done);
}

/* ---- endings ---- */

/* Every ending is counted once (metrics.h): cancellations by outcome,
 * bookings by outcome, a repeated request answered with its booking as
 * "duplicate". */
static void count_ending(const booking_op *op, const char *outcome_word)
{
    metrics_inc(op->cancel_id ? M_CANCELLATIONS : M_BOOKINGS, outcome_word);
}

/* Before every callback: a freeze of this op is no longer held (show.h). */
static void end_confirm(booking_op *op)
{
    if (op->confirming) {
        op->confirming = 0;
        show_freeze_released(op->s, op->hold_ref);
    }
}

static void finish(booking_op *op, outcome o, const char *message)
{
    booking_result res;
    count_ending(op, outcome_code(o));
    memset(&res, 0, sizeof(res));
    res.outcome = o;
    res.message = message;
    op->state = BOOKING_DONE;
    end_confirm(op);
    op->cb(op, &res);
}

static void finish_booking(booking_op *op, int created)
{
    booking_result res;
    count_ending(op, created || op->cancel_id ? "ok" : "duplicate");
    memset(&res, 0, sizeof(res));
    res.outcome = OUT_OK;
    res.created = created;
    res.booking = &op->booking;
    op->state = BOOKING_DONE;
    end_confirm(op);
    op->cb(op, &res);
}

/* On the thread: the booking op->lookup finds by op->lookup_key. */
static void lookup_run(ledger *l, ledger_job *job)
{
    booking_op *op = job->data;
    reset_booking(op);
    op->lrc = op->lookup(l, op->show, op->lookup_key, &op->booking);
}

/* Looks up an existing booking with fn (by payment or by hold ref), then
 * done(op) with op->lrc and op->booking. */
static void lookup_booking(booking_op *op,
                           int (*fn)(ledger *, const char *, const char *, ledger_booking *),
                           const char *key, ledger_job_done *done)
{
    op->lookup = fn;
    op->lookup_key = key;
    ledger_call(op, lookup_run, done);
}

static void paid_done(ledger_job *job)
{
    booking_op *op = job->data;
    if (op->lrc == 0)
        finish_booking(op, 0);
    else /* not found, or the database is down: the commit will say */
        op->next(op);
}

/* Answers the existing booking of op->payment_ref (the same request
 * again), or goes on with next. */
static void unless_paid(booking_op *op, void (*next)(booking_op *op))
{
    op->next = next;
    lookup_booking(op, ledger_booking_by_payment, op->payment_ref, paid_done);
}

/* ---- thaw: undo a freeze or reservation whose booking did not happen ---- */

static void on_thawed(void *arg, const store_result *res)
{
    show_apply_result(arg, res, NULL);
}

/* If Redis is down, the sweep's reconciliation thaws it later. */
static void thaw(booking_op *op)
{
    const char *args[2] = {op->hold_ref, op->frozen};
    store_run(op->env->store, "thaw", show_id(op->s), 2, args, on_thawed, op->s);
}

/* ---- commit and book ---- */

static void on_booked(void *arg, const store_result *res)
{
    booking_op *op = arg;
    show_apply_result(op->s, res, NULL);
    if (res->outcome != OUT_OK) {
        sm_warn("show %s: booking %lld is committed but Redis did not mark it (%s); reconciling",
                show_id(op->s), (long long)op->booking.id, res->status);
        show_ensure_booked(op->s); /* or at the reconnect, if Redis is down */
    }
    finish_booking(op, 1);
}

static void commit_run(ledger *l, ledger_job *job)
{
    booking_op *op = job->data;
    double t0 = metrics_now();
    op->lrc =
        ledger_booking_create(l, op->show, op->hold_ref, (const char *const *)op->seats, op->nseats,
                              op->payment_ref, op->who, sm_now_ms(), &op->booking);
    op->lsecs = metrics_now() - t0;
    /* the handle's message is only valid here, on its thread */
    snprintf(op->lerr, sizeof(op->lerr), "%s", op->lrc ? ledger_errmsg(l) : "");
}

/* Why the database refused a booking, once per reason in a row (a full
 * disk or an outage would otherwise be a line per request; the 503 of each
 * is logged by http_request.c). Called on the loop only. */
static void log_commit_failure(const booking_op *op)
{
    static char last[sizeof(op->lerr)];
    if (strcmp(last, op->lerr) == 0)
        return;
    snprintf(last, sizeof(last), "%s", op->lerr);
    sm_warn("show %s: a booking could not be saved: %s", op->show, op->lerr);
}

static void committed(ledger_job *job);

/* The seats are frozen in Redis under op->hold_ref: commit, then book. */
static void commit(booking_op *op)
{
    op->state = BOOKING_COMMITTING;
    reset_booking(op);
    /* before_commit error: as if the database refused the write */
    if (SM_FAILPOINT("confirm.before_commit")) {
        op->lrc = LEDGER_EIO;
        op->lsecs = 0;
        snprintf(op->lerr, sizeof(op->lerr), "failpoint confirm.before_commit");
        op->job.data = op;
        committed(&op->job);
        return;
    }
    ledger_call(op, commit_run, committed);
}

static void committed(ledger_job *job)
{
    booking_op *op = job->data;
    char id[24], *json;
    const char *args[3] = {op->hold_ref, id, ""};
    int rc = op->lrc;

    metrics_observe(M_BOOKING_COMMIT, NULL, op->lsecs);
    if (rc) {
        thaw(op);
        if (rc == LEDGER_EEXISTS)
            finish_booking(op, 0);
        else if (rc == LEDGER_ESEATTAKEN)
            finish(op, OUT_SEAT_UNAVAILABLE, "one of these seats is already booked");
        else {
            log_commit_failure(op);
            finish(op, OUT_UNAVAILABLE, "the booking could not be saved; try again");
        }
        return;
    }
    op->state = BOOKING_BOOKING;
    snprintf(id, sizeof(id), "%lld", (long long)op->booking.id);
    /* The booking.created event carries it as the API shows it; without
     * memory for that, book.lua writes a smaller one. */
    json = ledger_booking_json_str(&op->booking);
    args[2] = json ? json : "";
    /* Committed. after_commit and before_book error: as if Redis were down
     * for the book step (the ledger is reconciled into Redis later). */
    rc = SM_FAILPOINT("confirm.after_commit") || SM_FAILPOINT("confirm.before_book")
             ? -1
             : store_run(op->env->store, "book", show_id(op->s), 3, args, on_booked, op);
    free(json);
    if (rc) {
        store_result res = STORE_RESULT_UNAVAILABLE;
        on_booked(op, &res);
    }
}

/* The seats are locked under op->hold_ref: commit, unless the requester is
 * gone, when the lock is undone instead. */
static void commit_unless_gone(booking_op *op)
{
    if (gone(op)) {
        thaw(op);
        finish(op, OUT_UNAVAILABLE, NULL);
    } else {
        commit(op);
    }
}

/* A script said something else: Redis down stays unavailable, anything
 * unexpected is ours. */
static void finish_failed(booking_op *op, outcome o)
{
    finish(op, o == OUT_UNAVAILABLE ? OUT_UNAVAILABLE : OUT_INTERNAL, NULL);
}

/* Takes the seat ids of a script's detail {"seats":[...],"frozen":N,...}. */
static int take_detail(booking_op *op, const char *detail, int want_seats)
{
    cJSON *d = cJSON_Parse(detail);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(d, "frozen");
    const cJSON *seats = cJSON_GetObjectItemCaseSensitive(d, "seats"), *it;
    size_t n = (size_t)cJSON_GetArraySize(seats);

    snprintf(op->frozen, sizeof(op->frozen), "%lld",
             cJSON_IsNumber(f) ? (long long)f->valuedouble : 0LL);
    if (want_seats) {
        op->seats = calloc(n ? n : 1, sizeof(*op->seats));
        cJSON_ArrayForEach(it, seats)
        {
            if (op->seats && cJSON_IsString(it) &&
                (op->seats[op->nseats] = strdup(it->valuestring)))
                op->nseats++;
        }
    }
    cJSON_Delete(d);
    return d && (!want_seats || op->seats) ? 0 : -1;
}

/* ---- confirm a hold ---- */

static void on_confirm_retry(uv_timer_t *t)
{
    booking_op *op = t->data;
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    op->retry = NULL;
    if (gone(op))
        finish(op, OUT_UNAVAILABLE, NULL);
    else
        confirm_start(op);
}

/* Another confirmation of this hold is in flight (a double click): wait for
 * it, then answer as a retry would. */
static void wait_and_retry(booking_op *op)
{
    op->state = BOOKING_WAITING;
    op->retry = malloc(sizeof(*op->retry));
    if (!op->retry) {
        finish(op, OUT_INTERNAL, "out of memory");
        return;
    }
    uv_timer_init(op->env->loop, op->retry);
    op->retry->data = op;
    uv_timer_start(op->retry, on_confirm_retry, BOOKING_RETRY_MS, 0);
}

static void expired_done(ledger_job *job)
{
    booking_op *op = job->data;
    booking_result res;

    memset(&res, 0, sizeof(res));
    res.outcome = OUT_HOLD_EXPIRED;
    if (op->lrc == 0) {
        res.booking = &op->booking;
        res.message = "this hold is gone: it was already confirmed with another payment reference";
    }
    op->state = BOOKING_DONE;
    end_confirm(op);
    op->cb(op, &res);
}

/* The hold is gone: perhaps because it was booked with another payment ref. */
static void finish_expired(booking_op *op)
{
    lookup_booking(op, ledger_booking_by_hold, op->hold_ref, expired_done);
}

static void on_frozen(void *arg, const store_result *res)
{
    booking_op *op = arg;
    store_result lost = STORE_RESULT_UNAVAILABLE;

    show_apply_result(op->s, res, NULL);
    /* freeze_reply error: the freeze ran, its answer is lost (a connection
     * that broke, a master killed) */
    if (res->outcome == OUT_OK && SM_FAILPOINT("confirm.freeze_reply"))
        res = &lost;
    switch (res->outcome) {
    case OUT_OK:
        /* ours now: no reconciliation touches it until this op ends */
        op->confirming = 1;
        show_freeze_held(op->s, op->hold_ref);
        /* after_freeze error: as if the reply were garbled */
        if (take_detail(op, res->detail, 1) || !op->nseats ||
            SM_FAILPOINT("confirm.after_freeze")) {
            thaw(op);
            finish(op, OUT_INTERNAL, "unexpected answer from Redis");
        } else {
            commit_unless_gone(op);
        }
        break;
    case OUT_HOLD_LOCKED:
        if (op->tries++ < BOOKING_CONFIRM_RETRIES && !gone(op))
            wait_and_retry(op);
        else
            finish(op, OUT_HOLD_LOCKED, NULL);
        break;
    case OUT_HOLD_EXPIRED:
        finish_expired(op);
        break;
    default:
        /* unavailable: the connection was lost with the script sent, so it
         * may have frozen the hold; the next sweep finds out (show.h) */
        if (res->outcome == OUT_UNAVAILABLE)
            show_freeze_in_doubt(op->s, op->hold_ref);
        finish_failed(op, res->outcome);
    }
}

static void freeze(booking_op *op)
{
    const char *args[2] = {op->hold_ref, op->env->instance};
    op->state = BOOKING_FREEZING;
    if (SM_FAILPOINT("confirm.before_freeze")) { /* as if Redis were down */
        finish(op, OUT_UNAVAILABLE, NULL);
        return;
    }
    if (store_run(op->env->store, "freeze", show_id(op->s), 2, args, on_frozen, op))
        finish(op, OUT_UNAVAILABLE, NULL);
}

static void confirm_start(booking_op *op)
{
    op->state = BOOKING_START;
    unless_paid(op, freeze);
}

void booking_confirm(booking_op *op, const booking_env *env, show *s, const char *hold_ref,
                     const char *payment_ref, const char *who, booking_cb *cb)
{
    size_t i;
    op_init(op, env, s, payment_ref, who, cb);
    if (strlen(hold_ref) != AUTH_REF_LEN) {
        finish(op, OUT_HOLD_EXPIRED, "there is no live hold with this code");
        return;
    }
    for (i = 0; i < AUTH_REF_LEN; i++)
        op->hold_ref[i] = (char)toupper((unsigned char)hold_ref[i]);
    op->hold_ref[AUTH_REF_LEN] = '\0';
    confirm_start(op);
}

/* ---- walk-up sale ---- */

static void on_reserved(void *arg, const store_result *res)
{
    booking_op *op = arg;
    cJSON *d;
    const cJSON *ref;
    booking_result r;

    show_apply_result(op->s, res, NULL);
    switch (res->outcome) {
    case OUT_OK:
        d = cJSON_Parse(res->detail);
        ref = cJSON_GetObjectItemCaseSensitive(d, "ref");
        snprintf(op->hold_ref, sizeof(op->hold_ref), "%s",
                 cJSON_IsString(ref) ? ref->valuestring : "");
        cJSON_Delete(d);
        take_detail(op, res->detail, 0);
        commit_unless_gone(op);
        break;
    case OUT_RETRY:
        if (op->tries++ < BOOKING_RESERVE_TRIES)
            sale_start(op);
        else
            finish(op, OUT_INTERNAL, NULL);
        break;
    case OUT_SEAT_UNAVAILABLE:
        memset(&r, 0, sizeof(r));
        r.outcome = OUT_SEAT_UNAVAILABLE;
        r.seats_json = res->detail;
        op->state = BOOKING_DONE;
        op->cb(op, &r);
        break;
    default:
        finish_failed(op, res->outcome);
    }
}

static void sale_start(booking_op *op)
{
    const char *args[4 + BOOKING_MAX_SEATS];
    char refs[BOOKING_RESERVE_TRIES][AUTH_REF_LEN + 1];
    size_t i;

    op->state = BOOKING_RESERVING;
    args[0] = op->env->instance;
    for (i = 0; i < BOOKING_RESERVE_TRIES; i++) {
        auth_random_ref(refs[i]);
        args[1 + i] = refs[i];
    }
    for (i = 0; i < op->nseats; i++)
        args[4 + i] = op->seats[i];
    if (store_run(op->env->store, "reserve", show_id(op->s), (int)(4 + op->nseats), args,
                  on_reserved, op))
        finish(op, OUT_UNAVAILABLE, NULL);
}

/* Copies the seat ids, without duplicates. */
static int copy_seats(booking_op *op, const char *const *seats, size_t n)
{
    size_t i, k;
    op->seats = calloc(n ? n : 1, sizeof(*op->seats));
    if (!op->seats)
        return -1;
    for (i = 0; i < n; i++) {
        for (k = 0; k < op->nseats && strcmp(op->seats[k], seats[i]) != 0; k++)
            ;
        if (k < op->nseats)
            continue;
        if (!(op->seats[op->nseats] = strdup(seats[i])))
            return -1;
        op->nseats++;
    }
    return 0;
}

void booking_sell(booking_op *op, const booking_env *env, show *s, const char *const *seats,
                  size_t nseats, const char *payment_ref, const char *who, booking_cb *cb)
{
    op_init(op, env, s, payment_ref, who, cb);
    if (nseats == 0 || nseats > BOOKING_MAX_SEATS) {
        finish(op, OUT_BAD_REQUEST, NULL);
        return;
    }
    if (copy_seats(op, seats, nseats)) {
        finish(op, OUT_INTERNAL, "out of memory");
        return;
    }
    unless_paid(op, sale_start);
}

/* ---- cancel ---- */

static void on_cancelled(void *arg, const store_result *res)
{
    booking_op *op = arg;
    show_apply_result(op->s, res, NULL);
    if (res->outcome != OUT_OK) {
        sm_warn("show %s: booking %lld is cancelled but Redis did not free its seats (%s); "
                "reconciling",
                show_id(op->s), (long long)op->booking.id, res->status);
        show_ensure_booked(op->s);
    }
    finish_booking(op, 0);
}

static void cancel_run(ledger *l, ledger_job *job)
{
    booking_op *op = job->data;
    op->lrc = ledger_booking_cancel(l, op->show, op->cancel_id, op->who, sm_now_ms(), &op->booking);
}

static void cancelled_in_ledger(ledger_job *job)
{
    booking_op *op = job->data;
    const booking_env *env = op->env;
    show *s = op->s;
    int64_t id = op->cancel_id;
    const char **args;
    char idbuf[24], *json;
    size_t i;
    int rc = op->lrc;

    if (rc == LEDGER_ENOTFOUND) {
        finish(op, OUT_NOT_FOUND, "there is no such booking");
        return;
    }
    if (rc == LEDGER_EINVAL) {
        finish(op, OUT_ALREADY_CANCELLED, NULL);
        return;
    }
    if (rc) {
        finish(op, OUT_UNAVAILABLE, "the database is unavailable");
        return;
    }
    args = calloc(op->booking.nseats + 2, sizeof(*args));
    json = args ? ledger_booking_json_str(&op->booking) : NULL;
    if (!json) {
        free(args);
        store_result res = {.outcome = OUT_INTERNAL, .status = "internal", .detail = ""};
        on_cancelled(op, &res);
        return;
    }
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
    args[0] = idbuf;
    args[1] = json; /* for the booking.cancelled event */
    for (i = 0; i < op->booking.nseats; i++)
        args[i + 2] = op->booking.seats[i];
    if (store_run(env->store, "cancel", show_id(s), (int)(op->booking.nseats + 2), args,
                  on_cancelled, op)) {
        store_result res = STORE_RESULT_UNAVAILABLE;
        on_cancelled(op, &res);
    }
    free(json);
    free(args);
}

void booking_cancel(booking_op *op, const booking_env *env, show *s, int64_t id, const char *who,
                    booking_cb *cb)
{
    op_init(op, env, s, NULL, who, cb);
    op->cancel_id = id;
    op->state = BOOKING_CANCELLING;
    ledger_call(op, cancel_run, cancelled_in_ledger);
}
