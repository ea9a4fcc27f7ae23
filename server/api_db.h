/*
 * api_db.h - a request's database work off the event loop, with a bound.
 *
 * Staff checks (sessions, API tokens), sign-in, sign-out, the shows list and
 * the webhooks admin API read and write the ledger. They run on the staff
 * queue (app.h, ledger_queue.h): a thread with a ledger handle of its own,
 * so a database that stalls (a lock, a slow network, a frozen server)
 * stalls only them, never holds, fan-out or page loads. A request whose
 * call has not come back within API_DB_WAIT_MS is answered 503 `unavailable`
 * (as a booking is when the database is down); the call still finishes
 * when the database answers, and its late result is dropped.
 *
 * Not here: the booking workflow's calls (booking.c, on the booking queue),
 * what each call does (the caller's run and answer).
 */
#ifndef SEATMAP_API_DB_H
#define SEATMAP_API_DB_H

#include "app.h"
#include "http_request.h"
#include "ledger_queue.h"

/* How long a request waits for the database before 503 unavailable: the
 * PostgreSQL statement_timeout (ledger_pg.c), which a database that does
 * not answer at all never enforces. */
#define API_DB_WAIT_MS 5000
/* Calls queued at once; beyond it a request is answered 503 at once rather
 * than piling up behind a database that does not answer. */
#define API_DB_QUEUE_MAX 512

typedef struct api_db_call api_db_call;

/* On the staff queue's thread: ledger calls on l, touching only what the
 * caller copied into its own struct (never the request or the app). */
typedef void api_db_run(ledger *l, api_db_call *c);
/* On the loop, when the request is still waiting for its answer. */
typedef void api_db_answer(http_req *r, api_db_call *c);
/* On the loop, last, always: frees the caller's struct (holding c). */
typedef void api_db_release(api_db_call *c);

struct api_db_call {
    void *data; /* the caller's */
    /* private */
    ledger_job job;
    http_req *r;       /* referenced until release */
    uv_timer_t *timer; /* the bound; its own allocation, freed once closed */
    api_db_run *run;
    api_db_answer *answer;
    api_db_release *release;
};

/*
 * Runs run(c) on the staff queue, then answer(r, c) on the loop unless r was
 * answered meanwhile (by the bound, or because it went away), then
 * release(c). c (and what holds it) is the caller's and must live until
 * release; release may be called before this returns (queue full, out of
 * memory: r is then answered 503/500).
 */
void api_db_call_start(app *a, http_req *r, api_db_call *c, api_db_run *run, api_db_answer *answer,
                       api_db_release *release);
/* The same on queue q (the webhooks API runs on the webhooks queue, in order
 * with the dispatcher's own calls). */
void api_db_call_on(app *a, ledger_queue *q, http_req *r, api_db_call *c, api_db_run *run,
                    api_db_answer *answer, api_db_release *release);

#endif
