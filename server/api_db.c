/*
 * api_db.c - see api_db.h. A call is owned by its caller; the bound's timer
 * is a separate allocation because a libuv handle is freed only after its
 * close callback, which may come after the call is released.
 */
#include "api_db.h"

#include <stdlib.h>

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

static void stop_timer(api_db_call *c)
{
    if (!c->timer)
        return;
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, timer_closed);
    c->timer = NULL;
}

static void finish(api_db_call *c)
{
    http_req *r = c->r;
    c->release(c);
    http_req_unref(r);
}

/* The database did not answer in time: 503 now, the result is dropped. */
static void on_bound(uv_timer_t *t)
{
    api_db_call *c = t->data;
    stop_timer(c);
    if (http_req_alive(c->r) && !http_req_answered(c->r)) {
        http_req_set_retry_after(c->r, 1);
        http_respond_error(c->r, OUT_UNAVAILABLE, "the database is not answering; try again", NULL);
    }
}

static void job_run(ledger *l, ledger_job *job)
{
    api_db_call *c = job->data;
    c->run(l, c);
}

static void job_done(ledger_job *job)
{
    api_db_call *c = job->data;
    stop_timer(c);
    if (http_req_alive(c->r) && !http_req_answered(c->r))
        c->answer(c->r, c);
    finish(c);
}

void api_db_call_start(app *a, http_req *r, api_db_call *c, api_db_run *run, api_db_answer *answer,
                       api_db_release *release)
{
    api_db_call_on(a, a->staff_queue, r, c, run, answer, release);
}

void api_db_call_on(app *a, ledger_queue *q, http_req *r, api_db_call *c, api_db_run *run,
                    api_db_answer *answer, api_db_release *release)
{
    c->r = r;
    http_req_ref(r);
    c->run = run;
    c->answer = answer;
    c->release = release;
    c->job.data = c;
    c->timer = NULL;
    if (q && ledger_queue_depth(q) >= API_DB_QUEUE_MAX) {
        http_req_set_retry_after(r, 1);
        http_respond_error(r, OUT_UNAVAILABLE, "the database is not answering; try again", NULL);
        finish(c);
        return;
    }
    if (q) {
        c->timer = malloc(sizeof(*c->timer));
        if (!c->timer) {
            http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
            finish(c);
            return;
        }
        uv_timer_init(a->loop, c->timer);
        c->timer->data = c;
        uv_timer_start(c->timer, on_bound, API_DB_WAIT_MS, 0);
        /* the bound does not keep a stopping loop alive: a call whose
         * thread was given up on never ends (ledger_queue_close_by) */
        uv_unref((uv_handle_t *)c->timer);
    }
    ledger_queue_call(q, a->ledger, &c->job, job_run, job_done);
}
