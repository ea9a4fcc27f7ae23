/*
 * webhooks.h - delivers the shows' events to the registered webhooks
 * (docs/webhooks.md), in every seatmapd process:
 *
 *  - dispatch: this process is a consumer of the group "webhooks" on every
 *    show's event stream (sm:{SHOW}:events, written by the Lua scripts); for
 *    each event and each webhook that wants its type (and existed when it
 *    happened) it records a delivery in the ledger and queues a "webhook" job
 *    (jobq.h), then acknowledges the event. Events left unacknowledged by a
 *    process that died are claimed by another after WEBHOOKS_CLAIM_MS.
 *  - delivery: the job handler POSTs the event, signed per Standard Webhooks
 *    1.0 (webhook_sign.h), with libcurl's multi interface on the libuv loop,
 *    so no receiver can block the loop or delay seat updates. 2xx within the
 *    timeout is success; anything else is retried with exponential backoff
 *    and jitter up to max_attempts, then the delivery is dead.
 *
 * At least once: an event may be delivered twice (a crash between the POST
 * and its acknowledgement); receivers dedupe by the event id.
 *
 * Not here: the registry's storage (ledger_webhooks.h), the API
 * (api_webhooks.c), the queue itself (jobq.h).
 */
#ifndef SEATMAP_WEBHOOKS_H
#define SEATMAP_WEBHOOKS_H

#include "ledger.h"
#include "ledger_queue.h"
#include "ledger_webhooks.h"

#include <stdint.h>
#include <uv.h>

#define WEBHOOKS_MAX_IN_FLIGHT 64 /* concurrent POSTs per process */
#define WEBHOOKS_POLL_MS 200      /* how often each show's stream is read */
#define WEBHOOKS_CLAIM_MS 10000   /* an event undispatched this long is taken over */
#define WEBHOOKS_RELOAD_MS 2000   /* the registry and the show list are re-read */

typedef struct webhooks webhooks;

typedef struct webhooks_opts {
    const char *redis_url;
    const char *consumer; /* this process's stable name (host:port) */
    unsigned timeout_ms;  /* per attempt */
    unsigned backoff_ms;  /* first retry's base wait */
    int max_attempts;
} webhooks_opts;

/* Starts dispatching and delivering on loop. Every ledger call (the
 * registry, delivery rows) runs on lq's thread, never on the loop: a stalled
 * database delays deliveries, not buyers; with lq NULL (tests) they run
 * inline on l. l and lq must outlive the module.
 * 0, or -1 (out of memory, bad URL, libcurl failed to start). */
int webhooks_create(uv_loop_t *loop, ledger *l, ledger_queue *lq, const webhooks_opts *o,
                    webhooks **out);
/* Stops: POSTs in flight are abandoned and their jobs stay pending in Redis
 * for another process or the next start. Frees once the loop has run. */
void webhooks_destroy(webhooks *w);
/* The registry changed (a webhook added or removed here): re-read it now.
 * Other processes notice within WEBHOOKS_RELOAD_MS. */
void webhooks_changed(webhooks *w);

/* A manual retry (the API) in two steps. First, on a ledger queue's thread
 * with its handle l: a failed or dead delivery becomes pending again
 * (max_attempts more attempts); *out holds it as it is now, *before as it
 * was. 0, LEDGER_ENOTFOUND, LEDGER_EINVAL (it is pending or ok), LEDGER_EBUSY
 * or LEDGER_EIO from the database. Then, on the loop: queues its attempt;
 * -1 when Redis is down (the row is put back as it was). */
int webhooks_retry_prepare(ledger *l, int64_t delivery_id, ledger_delivery *out,
                           ledger_delivery *before);
int webhooks_retry_queue(webhooks *w, const ledger_delivery *d, const ledger_delivery *before);
/* 1 when the module's Redis connection is up (a retry can be queued). */
int webhooks_redis_up(const webhooks *w);

/* Discards a delivery that is not ok (the API), on a ledger queue's thread
 * with its handle l: its row is removed, so it is never attempted again (an
 * attempt already running finishes unrecorded). 0, LEDGER_ENOTFOUND,
 * LEDGER_EINVAL (it went ok), or a database error. */
int webhooks_discard_run(ledger *l, int64_t delivery_id);

/* ---- figures for metrics (cheap; any time) ---- */
uint64_t
webhooks_queue_depth(const webhooks *w); /* jobs queued or waiting to retry (all processes) */
unsigned webhooks_in_flight(const webhooks *w); /* POSTs running in this process */
/* POSTs running in this process per webhook: at most max (webhook id,
 * count) pairs into ids and counts; returns how many. */
size_t webhooks_in_flight_each(const webhooks *w, int64_t *ids, unsigned *counts, size_t max);
uint64_t webhooks_delivered_total(const webhooks *w); /* 2xx answers, this process */
uint64_t webhooks_failed_total(const webhooks *w);    /* failed attempts, this process */
uint64_t webhooks_dead_total(const webhooks *w);      /* deliveries that went dead here */

#endif
