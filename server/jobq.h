/*
 * jobq.h - a generic, at-least-once job queue on Redis Streams, shared by
 * every seatmapd process: a job is a type and a payload (text); each process
 * is a consumer of one consumer group and runs the handler registered for
 * the type. Webhook deliveries are its first user (webhooks.h); the next
 * kind of job is one jobq_handle call.
 *
 * Keys (one hash tag, so they share a cluster slot and one script may touch
 * both): sm:{jobs}:queue, a stream (fields type, payload) read by the group
 * "workers"; sm:{jobs}:retry, a sorted set of jobs waiting for their retry
 * time (Sidekiq's retry set), moved back into the stream when due.
 *
 * Guarantees: a job read by a consumer stays in the group's pending list
 * until its handler says done or retry, so a process that dies leaves it
 * there: another process claims it (XAUTOCLAIM) once it has been idle longer
 * than claim_idle_ms, and the same consumer (a restarted process has the same
 * name) reads its own pending jobs first thing after connecting. A handler
 * may therefore run twice for one job; handlers must be idempotent.
 *
 * Everything runs on the loop and never blocks it: the queue polls with
 * XREADGROUP without BLOCK on its own connection (rconn.h says why).
 */
#ifndef SEATMAP_JOBQ_H
#define SEATMAP_JOBQ_H

#include "rconn.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define JOBQ_POLL_MS 100
#define JOBQ_CLAIM_EVERY_MS 1000
#define JOBQ_TYPE_MAX 31
#define JOBQ_PAYLOAD_MAX 4096

typedef struct jobq jobq;
typedef struct jobq_job jobq_job;

/* Runs a job. The handler owns the job until it calls jobq_done or
 * jobq_retry on it, exactly once (then the job is freed). */
typedef void jobq_handler(void *arg, jobq_job *job);

/* consumer: this process's stable name (host:port). claim_idle_ms: a job
 * another consumer has had this long unanswered is taken over. max_in_flight:
 * jobs this process runs at once. conn belongs to the caller and must
 * outlive the queue. */
int jobq_create(uv_loop_t *loop, rconn *conn, const char *consumer, unsigned claim_idle_ms,
                unsigned max_in_flight, jobq **out);
/* Stops polling; jobs in flight stay pending in Redis (another process, or
 * this one restarted, takes them). Their handlers' later jobq_done/retry
 * calls are still safe until the loop ends; the queue is freed when the last
 * of them has come back. */
void jobq_destroy(jobq *q);
/* Registers the handler of a job type (at most 8 types). 0 or -1. */
int jobq_handle(jobq *q, const char *type, jobq_handler *h, void *arg);
/* Adds a job (sent now; lost only if Redis is down: then -1). */
int jobq_push(jobq *q, const char *type, const char *payload);
/* Should be called when the connection comes up (rconn's ready callback):
 * creates the group and reads this consumer's own pending jobs. */
void jobq_on_connect(jobq *q);

const char *jobq_job_type(const jobq_job *job);
const char *jobq_job_payload(const jobq_job *job);
/* The job succeeded, or failed for good: it leaves the queue. */
void jobq_done(jobq_job *job);
/* Again after delay_ms, with payload (NULL: the same one). */
void jobq_retry(jobq_job *job, uint64_t delay_ms, const char *payload);

/* ---- figures for metrics (cheap; read them any time) ---- */
/* Jobs waiting: stream entries not yet read by the group plus the retry
 * set, as last measured (every second). */
uint64_t jobq_depth(const jobq *q);
/* Jobs this process is running now. */
unsigned jobq_in_flight(const jobq *q);

#endif
