/*
 * app.h - the one running server: the event loop and every long-lived part
 * hang off this struct, which `seatmapd serve` creates (server.c).
 *
 * Who may write what: Redis (store) owns holds; SQLite (ledger) owns
 * bookings, shows and staff; the show cache (show.c) is rebuilt from both
 * and written only from script results and pub/sub messages.
 */
#ifndef SEATMAP_APP_H
#define SEATMAP_APP_H

#include "auth.h"
#include "config.h"
#include "ledger.h"
#include "map.h"
#include "store.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

typedef struct app {
    config cfg;
    uv_loop_t *loop;
    struct lws_context *lws;
    store *store;
    ledger *ledger;
    uint8_t secret[AUTH_SECRET_BYTES];
    /* Who freezes a hold: "hostname:port", stable across restarts, so that a
     * restarted server knows the confirmations it was in the middle of are
     * abandoned (see sweep.lua). */
    char instance[300];
    char started_ms[24]; /* unix ms of this start, as text for scripts */
    sm_map shows;        /* id -> show*, loaded on first use */
    sm_map buyers;       /* buyer id -> client* (head of that buyer's connections) */
    uv_timer_t tick_timer;
    uv_timer_t sweep_timer;
    uv_timer_t maint_timer;
    uv_signal_t sigint, sigterm;
    unsigned sweep_round;
    int64_t last_booked_check_mono;
    int stopping;
    int store_was_ready;
} app;

#endif
