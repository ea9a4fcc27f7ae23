/*
 * ledger_queue.c - ledger jobs on a thread of their own (see
 * ledger_queue.h): a mutex-protected FIFO in, a list of finished jobs out,
 * and a uv_async_t that wakes the loop to call their done callbacks in
 * order.
 */
#include "ledger_queue.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>

struct ledger_queue {
    uv_loop_t *loop;
    ledger *l; /* the thread's own handle */
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_async_t wake;
    ledger_job *head, *tail;           /* waiting to run */
    ledger_job *done_head, *done_tail; /* run, done not yet called */
    size_t depth;                      /* waiting, running or done not yet called */
    int stop;                          /* the thread ends once nothing is queued */
    int exited;                        /* it has (exit_cv tells the closer) */
    uv_cond_t exit_cv;
    int closed;    /* the thread is gone: jobs run inline on l (ledger_queue_close) */
    int abandoned; /* given up on (ledger_queue_close_by): nothing runs any more */
    ledger_queue *next_abandoned;
};

/* Queues given up on: kept for the life of the process (their thread may
 * still write them), and reachable, so that leak checkers see them kept. */
static ledger_queue *abandoned_queues;

static void append(ledger_job **head, ledger_job **tail, ledger_job *job)
{
    job->next = NULL;
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

static void thread_main(void *arg)
{
    ledger_queue *q = arg;
    ledger_job *job;

    for (;;) {
        uv_mutex_lock(&q->mu);
        while (!q->stop && !q->head)
            uv_cond_wait(&q->cv, &q->mu);
        if (!q->head || q->abandoned) { /* stopping, and nothing left to run */
            q->exited = 1;
            uv_cond_signal(&q->exit_cv);
            uv_mutex_unlock(&q->mu);
            return;
        }
        job = q->head;
        q->head = job->next;
        if (!q->head)
            q->tail = NULL;
        uv_mutex_unlock(&q->mu);

        job->run(q->l, job);

        uv_mutex_lock(&q->mu);
        if (q->abandoned) { /* too late: the loop no longer waits for it */
            q->exited = 1;
            uv_mutex_unlock(&q->mu);
            return;
        }
        append(&q->done_head, &q->done_tail, job);
        /* under the lock: once abandoned, the handle may be closing */
        uv_async_send(&q->wake);
        uv_mutex_unlock(&q->mu);
    }
}

/* On the loop: the finished jobs, in the order they ran. */
static void on_wake(uv_async_t *h)
{
    ledger_queue *q = h->data;
    ledger_job *job, *next;

    uv_mutex_lock(&q->mu);
    job = q->done_head;
    q->done_head = q->done_tail = NULL;
    uv_mutex_unlock(&q->mu);
    for (; job; job = next) {
        next = job->next; /* done may submit the job again */
        uv_mutex_lock(&q->mu);
        q->depth--;
        uv_mutex_unlock(&q->mu);
        job->done(job);
    }
}

int ledger_queue_open(uv_loop_t *loop, const char *path, ledger_queue **out, char *err,
                      size_t errlen)
{
    ledger_queue *q = calloc(1, sizeof(*q));

    *out = NULL;
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    q->loop = loop;
    if (ledger_open(path, &q->l, err, errlen)) {
        free(q);
        return -1;
    }
    if (uv_mutex_init(&q->mu)) {
        snprintf(err, errlen, "cannot create a mutex");
        goto fail_mutex;
    }
    if (uv_cond_init(&q->cv)) {
        snprintf(err, errlen, "cannot create a condition variable");
        goto fail_cond;
    }
    if (uv_cond_init(&q->exit_cv)) {
        uv_cond_destroy(&q->cv);
        snprintf(err, errlen, "cannot create a condition variable");
        goto fail_cond;
    }
    if (uv_async_init(loop, &q->wake, on_wake)) {
        snprintf(err, errlen, "cannot create the queue's wake-up handle");
        goto fail_async;
    }
    q->wake.data = q;
    if (uv_thread_create(&q->thread, thread_main, q)) {
        snprintf(err, errlen, "cannot start the database thread");
        /* the async handle is closed by the loop; q lives until then */
        uv_close((uv_handle_t *)&q->wake, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        goto fail_async;
    }
    *out = q;
    return 0;
fail_async:
    uv_cond_destroy(&q->exit_cv);
    uv_cond_destroy(&q->cv);
fail_cond:
    uv_mutex_destroy(&q->mu);
fail_mutex:
    ledger_close(q->l);
    free(q);
    return -1;
}

void ledger_queue_submit(ledger_queue *q, ledger_job *job, ledger_job_run *run,
                         ledger_job_done *done)
{
    job->run = run;
    job->done = done;
    if (q->abandoned) { /* kept, never run: the database does not answer */
        uv_mutex_lock(&q->mu);
        append(&q->head, &q->tail, job);
        q->depth++;
        uv_mutex_unlock(&q->mu);
        return;
    }
    if (q->closed) { /* a done callback of the last jobs submits again */
        run(q->l, job);
        done(job);
        return;
    }
    uv_mutex_lock(&q->mu);
    append(&q->head, &q->tail, job);
    q->depth++;
    uv_cond_signal(&q->cv);
    uv_mutex_unlock(&q->mu);
}

void ledger_queue_call(ledger_queue *q, ledger *inline_l, ledger_job *job, ledger_job_run *run,
                       ledger_job_done *done)
{
    if (q) {
        ledger_queue_submit(q, job, run, done);
        return;
    }
    job->run = run;
    job->done = done;
    run(inline_l, job);
    done(job);
}

size_t ledger_queue_depth(ledger_queue *q)
{
    size_t n;
    uv_mutex_lock(&q->mu);
    n = q->depth;
    uv_mutex_unlock(&q->mu);
    return n;
}

static void on_closed(uv_handle_t *h)
{
    ledger_queue *q = h->data;
    ledger_close(q->l);
    uv_cond_destroy(&q->exit_cv);
    uv_cond_destroy(&q->cv);
    uv_mutex_destroy(&q->mu);
    free(q);
}

/* Given up on: the finished jobs end, the rest are kept (see the header). */
static void give_up(ledger_queue *q)
{
    ledger_job *job, *next;
    size_t left;

    /* under q->mu */
    q->abandoned = 1;
    q->closed = 1;
    job = q->done_head;
    q->done_head = q->done_tail = NULL;
    left = q->depth;
    uv_mutex_unlock(&q->mu);
    q->next_abandoned = abandoned_queues;
    abandoned_queues = q;
    for (; job; job = next) {
        next = job->next;
        left--;
        uv_mutex_lock(&q->mu);
        q->depth--;
        uv_mutex_unlock(&q->mu);
        job->done(job);
    }
    sm_warn("ledger: a database thread is still waiting for the database at exit; %zu of its "
            "jobs are dropped (nothing they did was acknowledged)",
            left);
    /* the async handle closes; q is never freed (on_closed is not called) */
    uv_close((uv_handle_t *)&q->wake, NULL);
}

int ledger_queue_close_by(ledger_queue *q, int64_t deadline_ms)
{
    ledger_job *job;
    int ran;
    int64_t now;

    if (!q)
        return 0;
    uv_mutex_lock(&q->mu);
    q->stop = 1;
    uv_cond_signal(&q->cv);
    while (!q->exited) {
        if (deadline_ms < 0) {
            uv_cond_wait(&q->exit_cv, &q->mu);
            continue;
        }
        if ((now = sm_mono_ms()) >= deadline_ms) {
            give_up(q); /* unlocks */
            return 1;
        }
        uv_cond_timedwait(&q->exit_cv, &q->mu, (uint64_t)(deadline_ms - now) * 1000000u);
    }
    uv_mutex_unlock(&q->mu);
    uv_thread_join(&q->thread);
    /*
     * Every job still out ends now, on the loop, as it would have later:
     * the finished ones' done callbacks first, in order, then the ones
     * queued after the thread ended run on the thread's handle and end too.
     * Their owners free what they hold there (each done sees the server
     * closing); dropping them would leak them (LeakSanitizer) and lose their
     * work (an audit batch). A done that submits again runs inline (closed),
     * also into a queue closed before this one: the handle stays open until
     * on_closed.
     */
    q->closed = 1;
    for (;;) {
        if ((job = q->done_head)) {
            q->done_head = job->next;
            ran = 1;
        } else if ((job = q->head)) {
            q->head = job->next;
            ran = 0;
        } else {
            break;
        }
        q->depth--;
        if (!ran)
            job->run(q->l, job);
        job->done(job);
    }
    q->done_tail = q->tail = NULL;
    uv_close((uv_handle_t *)&q->wake, on_closed);
    return 0;
}

void ledger_queue_close(ledger_queue *q)
{
    ledger_queue_close_by(q, -1);
}
