/*
 * store.h - Redis, the owner of holds. Two async connections on the shared
 * libuv loop: one for commands (Lua scripts, each one atomic transition) and
 * one subscribed to every show's event channel, to expired-key events and to
 * a private keepalive channel.
 *
 * The store hides hiredis: it reconnects with backoff, reloads the scripts,
 * re-enables keyspace events, re-subscribes, and notices dead connections
 * (a command unanswered for STORE_REPLY_TIMEOUT_MS, or a keepalive that did
 * not come back on the subscriber). It knows nothing about seats or shows
 * beyond the key prefix: the scripts (server/lua) hold that logic.
 *
 * Not here: the seat cache (show.h), bookings (ledger.h).
 */
#ifndef SEATMAP_STORE_H
#define SEATMAP_STORE_H

#include "outcome.h"

#include <stddef.h>
#include <uv.h>

#define STORE_REPLY_TIMEOUT_MS 5000
#define STORE_BACKOFF_MIN_MS 100
#define STORE_BACKOFF_MAX_MS 5000
#define STORE_KEEPALIVE_MS 2000
#define STORE_MAX_ARGS 200010

typedef struct store store;

/*
 * What a script answered. status is "ok" or a script's own word
 * ("seat_unavailable", "hold_expired", ...), or "unavailable" when Redis did
 * not answer. detail is the script's JSON detail or "". msgs are the
 * transitions the script published (JSON, see lib.lua). Everything is valid
 * only during the callback.
 */
typedef struct store_result {
    outcome outcome; /* status as an outcome (OUT_INTERNAL for a word outcome.h lacks) */
    const char *status;
    const char *detail;
    size_t nmsgs;
    const char **msgs;
    size_t nmore; /* messages that could not be passed on (out of memory): resync */
} store_result;

/* What a caller hands its own callback when store_run said -1. */
#define STORE_RESULT_UNAVAILABLE                                                                   \
    {                                                                                              \
        .outcome = OUT_UNAVAILABLE, .status = "unavailable", .detail = ""                          \
    }

typedef void store_cb(void *arg, const store_result *res);

typedef struct store_events {
    /* Both connections are up (again): anything may have been missed, so
     * every cache must be rebuilt. */
    void (*on_ready)(void *arg);
    /* A connection was lost. Called once per loss; may be NULL. */
    void (*on_down)(void *arg);
    /* A transition of a show, from any process (pub/sub). */
    void (*on_message)(void *arg, const char *show, const char *json, size_t len);
    /* A key of this show expired in Redis: sweep it soon. */
    void (*on_expired)(void *arg, const char *show);
    void *arg;
} store_events;

/* url: redis://host[:port][/db]. Starts connecting at once; never fails
 * because Redis is down. *out is owned by the caller (store_destroy). */
int store_create(uv_loop_t *loop, const char *url, const store_events *ev, store **out);
/* Disconnects; pending callbacks are called with "unavailable". */
void store_destroy(store *st);
/* 1 when commands can be sent (the command connection is up). */
int store_up(const store *st);
/* 1 when both connections are up. */
int store_ready(const store *st);

/*
 * Runs a script (name of server/lua/NAME.lua) for one show with ARGV =
 * prefix, args... 0: cb will be called exactly once, later. -1: Redis is
 * unavailable now; cb will not be called.
 */
int store_run(store *st, const char *script, const char *show, int argc, const char *const *args,
              store_cb *cb, void *arg);

#endif
