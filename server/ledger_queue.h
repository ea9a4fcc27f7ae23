/*
 * ledger_queue.h - ledger calls off the event loop: one thread with a
 * ledger handle of its own (its own SQLite connection or PostgreSQL
 * session) runs jobs in the order they were queued, and each job's result
 * comes back to the loop through a callback. A booking's commit waits for
 * the database (a network round trip, an fsync, a lock held by another
 * process) here, not on the loop: holds, fan-out and other requests go on
 * meanwhile (docs/scaling.md says why a thread and not libpq's async API).
 *
 * One thread, FIFO: jobs run one at a time, as the loop ran them before, so
 * the engines need no locking, and the ledger's own reconnects after a
 * database outage (ledger_pg.c) work unchanged on the thread's handle.
 *
 * A server runs three (docs/scaling.md): the booking queue, the staff queue
 * (api_db.h) and the webhooks queue, so that none waits behind the others.
 *
 * Not here: what a job does (the caller's run function), and the reads at
 * start, which use the loop's own handle before the loop runs.
 */
#ifndef SEATMAP_LEDGER_QUEUE_H
#define SEATMAP_LEDGER_QUEUE_H

#include "ledger.h"

#include <uv.h>

typedef struct ledger_queue ledger_queue;
typedef struct ledger_job ledger_job;

/* On the queue's thread: the job's ledger calls, on l (the thread's own
 * handle; ledger_errmsg(l) is only valid here). It must not touch the loop
 * or anything the loop owns: copy what it needs into the job first. */
typedef void ledger_job_run(ledger *l, ledger_job *job);
/* On the loop, after run: the job is the caller's again. */
typedef void ledger_job_done(ledger_job *job);

struct ledger_job {
    void *data; /* the caller's */
    /* private */
    ledger_job_run *run;
    ledger_job_done *done;
    ledger_job *next;
};

/*
 * Opens a second ledger handle on path (as ledger_open: err says why it
 * could not, never a password) and starts the thread. The loop must outlive
 * the queue. 0, or -1 with err. The caller frees *out with
 * ledger_queue_close.
 */
int ledger_queue_open(uv_loop_t *loop, const char *path, ledger_queue **out, char *err,
                      size_t errlen);

/*
 * Queues job: run(thread's ledger, job) on the thread, then done(job) on
 * the loop, always (never before this returns). The caller owns job and
 * keeps it alive until done.
 */
void ledger_queue_submit(ledger_queue *q, ledger_job *job, ledger_job_run *run,
                         ledger_job_done *done);

/* As ledger_queue_submit when q is set; without a queue (tests, tools) runs
 * run(inline_l, job) then done(job) at once, before returning. */
void ledger_queue_call(ledger_queue *q, ledger *inline_l, ledger_job *job, ledger_job_run *run,
                       ledger_job_done *done);

/* Jobs queued or running. */
size_t ledger_queue_depth(ledger_queue *q);

/*
 * Stops: the thread runs the jobs already queued and ends, and is joined;
 * then, on the caller's loop, every job still out ends: done callbacks of
 * finished jobs in order, then jobs queued after the thread ended run on
 * the queue's handle (blocking, as the server is closing) and their done
 * callbacks follow. A job submitted from then on (a done callback
 * submitting again) runs inline. The handle closes and q is freed once the
 * loop has closed its async handle. NULL is a no-op. Waits as long as the
 * database takes: ledger_queue_close_by bounds it.
 */
void ledger_queue_close(ledger_queue *q);

/*
 * As ledger_queue_close, but waits for the thread only until deadline_ms
 * (sm_mono_ms clock). A thread still busy then (a database that does not
 * answer: a frozen server, a lost network) is given up on: the done
 * callbacks of the jobs finished so far run, the job it runs and the jobs
 * not started never end (their done callbacks are never called; a job
 * submitted from then on is kept and never runs either), and q, its handle
 * and those jobs stay allocated for the life of the process, as the thread
 * may still touch them. Only for a process about to exit. Returns 0 when
 * closed, 1 when given up on. NULL: 0.
 */
int ledger_queue_close_by(ledger_queue *q, int64_t deadline_ms);

#endif
