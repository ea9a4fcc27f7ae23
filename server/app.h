/*
 * app.h - the one running server: the event loop and every long-lived part
 * hang off this struct, which `seatmapd serve` creates (server.c).
 *
 * Who may write what: server.c fills this struct at start and tears it down
 * at exit; everything else only reads the pointers and calls the modules
 * they point to. Redis (store) owns holds; the ledger owns bookings, shows
 * and staff; the show cache (show.h) is rebuilt from both.
 */
#ifndef SEATMAP_APP_H
#define SEATMAP_APP_H

#include "auth.h"
#include "best_op.h"
#include "booking.h"
#include "client.h"
#include "config.h"
#include "ledger.h"
#include "ledger_queue.h"
#include "addr_limits.h"
#include "show.h"
#include "show_load.h"
#include "store.h"
#include "webhooks.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

typedef struct app {
    config cfg;
    uv_loop_t *loop;
    struct lws_context *lws;
    store *store;
    ledger *ledger; /* the loop's handle: reads at start only (docs/scaling.md) */
    /* Staff checks, sign-in, the shows list, the admin API and feed, the
     * /healthz probe: ledger calls of the loop's requests, on a thread of
     * their own (api_db.h), so that they never wait behind a booking's
     * commit on books.queue, nor the loop behind them. */
    ledger_queue *staff_queue;
    /* Webhook bookkeeping (webhooks.h) and the webhooks API, in order on a
     * third thread: deliveries under load never delay staff or bookings. */
    ledger_queue *webhooks_queue;
    shows *shows;             /* every show's seat cache */
    show_loader *loader;      /* shows not cached yet, loaded on staff_queue */
    client_hub *hub;          /* buyers' connections on this process */
    booking_env books;        /* what the booking workflow runs on */
    best_service *best;       /* best-available picks: indexes and claims in flight */
    webhooks *webhooks;       /* event dispatch and delivery */
    struct admin_feed *admin; /* the live /admin dashboard's feed and heartbeat */
    limits *limits;           /* per-address limits (docs/security.md) */
    uint8_t secret[AUTH_SECRET_BYTES];
    /* Who freezes a hold: "hostname:port", stable across restarts, so that a
     * restarted server knows the confirmations it was in the middle of are
     * abandoned (see sweep.lua). */
    char instance[300];
    char started_ms[24]; /* unix ms of this start, as text for scripts */
    uv_timer_t tick_timer;
    uv_idle_t flush_idle; /* a flush spread over loop turns goes on (shows_flush_more) */
    uv_timer_t sweep_timer;
    uv_timer_t maint_timer;
    uv_signal_t sigint, sigterm;
    int stopping;
    int db_stuck; /* a ledger thread was given up on at stop (server.c) */
    /* operations (shutdown.c, docs/operations.md) */
    uv_signal_t sighup; /* reopens the log file */
    int draining;       /* SIGTERM: finishing what is in flight */
    int64_t drain_started_ms;
    uv_timer_t drain_timer;
    struct http_redirect_target *redirect; /* --http-redirect-port, or NULL */
    uv_timer_t ready_timer;                /* --reuse-port: listen once every show is loaded */
    int ready_pending;
    int64_t ready_deadline_ms;
    /* the last database probe (api_health.c), reused for a second; it runs
     * on the staff queue, and one that takes too long counts as down */
    int db_up;
    int64_t db_probed_ms;
    ledger_job db_probe;
    int db_probe_busy, db_probe_result;
    int64_t db_probe_started_ms;
} app;

#endif
