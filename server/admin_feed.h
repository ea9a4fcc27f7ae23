/*
 * admin_feed.h - what the live /admin dashboard shows (docs/webhooks.md,
 * "The dashboard"), pushed over the WebSocket to the administrators who
 * asked for it with the `admin` request (docs/protocol.md):
 *
 *  - per show: empty, pending and booked seats, live holds, watchers (this
 *    process's cache; every process has the same seat states);
 *  - every seatmapd process on this Redis: each one publishes a heartbeat
 *    (name, pid, uptime, connections, watchers, webhook POSTs in flight) into
 *    Redis every ADMIN_FEED_BEAT_MS with a TTL of ADMIN_FEED_BEAT_TTL_MS, so
 *    a process that dies drops off the list by itself;
 *  - Redis and database health;
 *  - every webhook: queue depth, in flight (summed over the processes'
 *    heartbeats), delivered in the last minute, failed, dead, and its newest
 *    deliveries.
 *
 * One frame per ADMIN_FEED_PUSH_MS, built once and shared by every
 * subscriber, however much changed: the rate is bounded. With no
 * subscriber nothing is built or read; only the heartbeat runs.
 *
 * Not here: who may subscribe (ws.c checks the session's role), the
 * actions (retry, discard: the HTTP API).
 */
#ifndef SEATMAP_ADMIN_FEED_H
#define SEATMAP_ADMIN_FEED_H

#include "client.h"
#include "ledger.h"
#include "ledger_queue.h"
#include "show.h"
#include "show_load.h"
#include "store.h"
#include "webhooks.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define ADMIN_FEED_PUSH_MS 1000
#define ADMIN_FEED_BEAT_MS 1000
#define ADMIN_FEED_BEAT_TTL_MS 5000
#define ADMIN_FEED_MAX_SUBSCRIBERS 64
#define ADMIN_FEED_DELIVERIES 25    /* newest deliveries listed per webhook */
#define ADMIN_FEED_RECHECK_MS 10000 /* a subscriber's session is checked again */

typedef struct admin_feed admin_feed;

/* What the feed reads. Every pointer must outlive the feed; webhooks may be
 * NULL. connections is called each heartbeat (this process's open
 * WebSocket connections), with arg. */
typedef struct admin_feed_env {
    uv_loop_t *loop;
    const char *redis_url;
    const char *instance; /* this process's name (host:port) */
    int64_t started_ms;   /* unix ms of this start */
    shows *shows;
    show_loader *loader; /* a listed show not cached yet is loaded (NULL: skipped) */
    store *store;
    ledger *ledger;      /* used inline only when queue is NULL (tests) */
    ledger_queue *queue; /* where the feed's ledger reads run, off the loop */
    webhooks *webhooks;
    size_t (*connections)(void *arg);
    void *arg;
} admin_feed_env;

/* Starts the heartbeat (its own Redis connection). 0, or -1 (memory, bad
 * URL). *out belongs to the caller: admin_feed_destroy. */
int admin_feed_create(const admin_feed_env *env, admin_feed **out);
/* Stops; subscribers are let go (their references dropped). Frees once the
 * loop has run. */
void admin_feed_destroy(admin_feed *f);

/* Adds a subscriber (takes a reference on c) whose session has the token
 * hash session_hash (checked again every ADMIN_FEED_RECHECK_MS: when it is
 * no longer an administrator's, c gets an `admin_end` event and is dropped).
 * The first frame is sent at once. 0, 1 when c already was one, -1 when
 * full or out of memory. */
int admin_feed_subscribe(admin_feed *f, client *c, const char *session_hash);
/* Drops c if it is a subscriber (at close). */
void admin_feed_unsubscribe(admin_feed *f, client *c);
/* Subscribers now. */
size_t admin_feed_subscribers(const admin_feed *f);

#endif
