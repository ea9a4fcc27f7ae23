/*
 * shutdown.c - draining before a stop (see shutdown.h).
 *
 * lws_context_deprecate closes the listening sockets and nothing else.
 * "In flight" is counted, not guessed: open WebSocket connections (ws.c) and
 * HTTP requests not yet freed (http_request.c; a booking or a password
 * check holds its request until it has answered). Idle keep-alive HTTP
 * connections do not hold the stop back: a request that still comes on one
 * is answered with `connection: close`.
 */
#include "shutdown.h"

#include "http_request.h"
#include "ws.h"

#define SHUTDOWN_POLL_MS 20

static void (*on_done)(app *a);

static void finish(app *a)
{
    uv_timer_stop(&a->drain_timer);
    uv_close((uv_handle_t *)&a->drain_timer, NULL);
    on_done(a);
}

static void on_poll(uv_timer_t *t)
{
    app *a = t->data;
    size_t ws = ws_connections(), http = http_req_live();

    if (!ws && !http) {
        sm_info("drained in %lld ms: every request answered, every WebSocket closed",
                (long long)(sm_mono_ms() - a->drain_started_ms));
        finish(a);
    } else if (sm_mono_ms() - a->drain_started_ms >= a->cfg.shutdown_ms) {
        sm_warn("still %zu WebSocket connections and %zu HTTP requests after %ld ms "
                "(--shutdown-timeout); stopping anyway",
                ws, http, a->cfg.shutdown_ms);
        finish(a);
    }
}

void shutdown_begin(app *a, void (*done)(app *a))
{
    const struct lws_protocols *p;
    struct lws_vhost *vh;

    if (a->draining)
        return;
    a->draining = 1;
    on_done = done;
    a->drain_started_ms = sm_mono_ms();
    sm_info("draining: no new connections; answering %zu HTTP requests and closing %zu "
            "WebSockets with 1001 (at most %ld ms)",
            http_req_live(), ws_connections(), a->cfg.shutdown_ms);
    http_req_set_draining(1);
    lws_context_deprecate(a->lws, NULL);
    /* every WebSocket gets a writeable callback, where ws.c closes it */
    vh = lws_get_vhost_by_name(a->lws, "default");
    if (vh && (p = lws_vhost_name_to_protocol(vh, WS_PROTOCOL_V1)))
        lws_callback_on_writable_all_protocol(a->lws, p);
    if (vh && (p = lws_vhost_name_to_protocol(vh, WS_PROTOCOL_V2)))
        lws_callback_on_writable_all_protocol(a->lws, p);
    uv_timer_init(a->loop, &a->drain_timer);
    a->drain_timer.data = a;
    /* not at once: bytes already sent on an open connection are read first */
    uv_timer_start(&a->drain_timer, on_poll, SHUTDOWN_POLL_MS, SHUTDOWN_POLL_MS);
}
