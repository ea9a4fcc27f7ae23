/*
 * http.c - the lws callback of HTTP (see http.h): a thin dispatcher over the
 * per-connection session. One http_req per transaction; the connection's
 * client (client.h) carries every answer, written from HTTP_WRITEABLE.
 */
#include "http.h"

#include "api.h"
#include "http_static.h"
#include "metrics.h"
#include "iplimit.h"

#include <stdlib.h>
#include <string.h>

/* Answers are bounded by their own buffers; this only stops a client that
 * never reads from holding more than a few of them. */
#define HTTP_MAX_QUEUE (512u * 1024 * 1024)

/* What a counted connection carries (lws's opaque user data of its wsi,
 * which stays with the socket across the upgrade to WebSocket). */
typedef struct conn_mark {
    char key[IPLIMIT_KEY_MAX]; /* "" when not counted */
    int refused;               /* over a cap: every request gets 503 */
} conn_mark;

static app *app_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* A socket was accepted: count it for its address. */
static void conn_opened(struct lws *wsi)
{
    app *a = app_of(wsi);
    conn_mark *m = calloc(1, sizeof(*m));
    char addr[64];
    if (!m)
        return;
    http_client_addr(wsi, addr, sizeof(addr));
    m->refused = limits_conn_open(a->limits, addr, m->key);
    lws_set_opaque_user_data(wsi, m);
}

static void conn_destroyed(struct lws *wsi)
{
    conn_mark *m = lws_get_opaque_user_data(wsi);
    if (!m)
        return;
    lws_set_opaque_user_data(wsi, NULL);
    limits_conn_close(app_of(wsi)->limits, m->key);
    free(m);
}

static int conn_refused(struct lws *wsi)
{
    conn_mark *m = lws_get_opaque_user_data(wsi);
    return m && m->refused;
}

#define HTTP_BUSY_MESSAGE                                                                          \
    "too many connections from your address, or to this server; close some and try again"

/* An upgrade to WebSocket: refused with a status (lws would only drop the
 * connection) when over a cap or from another site's page. */
static int confirm_upgrade(struct lws *wsi)
{
    if (conn_refused(wsi)) {
        lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, HTTP_BUSY_MESSAGE);
        return 1;
    }
    if (!http_origin_ok(wsi)) {
        lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN,
                               "WebSocket connections from other sites are not accepted");
        return 1;
    }
    /* Without a subprotocol lws would bind the connection to this HTTP
     * protocol, and it would never be answered. (Making seatmap.v1 lws's
     * default protocol instead moves every new connection's network
     * callbacks, the per-address limits among them, to the WebSocket one.) */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) <= 0) {
        lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
                               "name the WebSocket subprotocol: seatmap.v1 or seatmap.v2");
        return 1;
    }
    return 0;
}

static int is_api(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/healthz") == 0 ||
           strcmp(path, "/metrics") == 0;
}

/* With --metrics-listen, /metrics is served there only, and that listener
 * (the vhost named HTTP_METRICS_VHOST) serves nothing else. */
static int metrics_refused(const app *a, struct lws *wsi, const char *path)
{
    const char *vh = lws_get_vhost_name(lws_get_vhost(wsi));
    int on_metrics = vh && strcmp(vh, HTTP_METRICS_VHOST) == 0;
    int is_metrics = strcmp(path, "/metrics") == 0;
    if (on_metrics)
        return !is_metrics;
    return is_metrics && a->cfg.metrics_listen[0];
}

/* One debug line per answered API transaction (files: at the start). */
static void log_access(const http_req *r, int status, const char *what)
{
    char peer[PEER_ADDR_MAX];
    if (!sm_log_enabled(SM_LOG_DEBUG))
        return;
    http_req_peer(r, peer, sizeof(peer));
    sm_logf(SM_LOG_DEBUG, http_req_id(r), "%s %s %d%s from %s in %lld ms", http_req_method_name(r),
            http_req_path(r), status, what, peer, (long long)http_req_age_ms(r));
}

static void end_request(http_session *pss)
{
    /* lws gives no session to a request it refused */
    if (pss && pss->r) {
        if (http_req_status(pss->r))
            log_access(pss->r, http_req_status(pss->r), "");
        http_req_detach(pss->r);
        http_req_unref(pss->r);
        pss->r = NULL;
    }
}

static void end_connection(http_session *pss)
{
    end_request(pss);
    if (pss && pss->conn) {
        client_detach(pss->conn);
        client_unref(pss->conn);
        pss->conn = NULL;
        metrics_gauge_add(M_CONNECTIONS, "http", -1);
    }
}

/* A POST's body is read first: it needs a Content-Length (lws 4.1.6 drops
 * chunked bodies without answering) within the limit. */
static void start_post(http_session *pss, struct lws *wsi)
{
    char clen[32];
    long long n;
    size_t digits;

    if (!http_req_header(pss->r, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof(clen))) {
        http_respond_error(pss->r, OUT_LENGTH_REQUIRED, NULL, NULL);
        return;
    }
    /* Digits only: "10abc" or "-1" is no length (RFC 9110 8.6) */
    digits = strspn(clen, "0123456789");
    if (digits == 0 || clen[digits] != '\0') {
        http_respond_error(pss->r, OUT_BAD_REQUEST, "Content-Length must be a number of bytes",
                           NULL);
        return;
    }
    n = digits > 9 ? HTTP_MAX_BODY + 1 : atoll(clen);
    if (n > HTTP_MAX_BODY) {
        http_respond_error(pss->r, OUT_TOO_LARGE, NULL, NULL);
        return;
    }
    if (n == 0)
        http_router_dispatch(&api_routes, pss->r);
}

static int on_request(http_session *pss, struct lws *wsi, const char *path)
{
    app *a = lws_context_user(lws_get_context(wsi));
    http_method m = http_method_of(wsi);

    end_request(pss);
    pss->dispatched = 0;
    if (!pss->conn) {
        if (!(pss->conn = client_new(wsi, HTTP_MAX_QUEUE)))
            return -1;
        metrics_inc(M_CONNECTIONS_TOTAL, "http");
        metrics_gauge_add(M_CONNECTIONS, "http", 1);
    }
    if (!(pss->r = http_req_new(wsi, pss->conn, a, m, path)))
        return -1;
    if (strlen(path) >= HTTP_MAX_PATH) {
        http_respond_error(pss->r, OUT_URI_TOO_LONG, NULL, NULL);
        return 0;
    }
    if (metrics_refused(a, wsi, path)) {
        http_respond_error(pss->r, OUT_NOT_FOUND, NULL, NULL);
        return 0;
    }
    if (conn_refused(wsi)) {
        http_respond_error_status(pss->r, 503, OUT_RATE_LIMITED, HTTP_BUSY_MESSAGE, NULL);
        return 0;
    }
    if (!is_api(path)) {
        http_static_rc rc = http_static_serve(pss->r, wsi, a->cfg.web_dir);
        if (rc == HTTP_STATIC_ANSWERED)
            return 0; /* an error, written as usual */
        if (rc == HTTP_STATIC_SERVING)
            log_access(pss->r, 200, " (file)");
        end_request(pss); /* lws serves the file (or failed) on its own */
        return rc == HTTP_STATIC_CLOSE ? -1 : 0;
    }
    if (m == HTTP_POST)
        start_post(pss, wsi);
    else
        http_router_dispatch(&api_routes, pss->r);
    return 0;
}

static int on_writeable(http_session *pss, struct lws *wsi)
{
    int rc;
    if (!pss->conn)
        return 0;
    rc = client_writeable(pss->conn);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        app *a = lws_context_user(lws_get_context(wsi));
        end_request(pss);
        /* draining: no next transaction on this connection */
        if (a->draining || lws_http_transaction_completed(wsi))
            return -1;
    }
    return 0;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    http_session *pss = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
        const struct lws_filter_network_conn_args *f = user;
        char addr[64] = "";
        lws_get_peer_simple_fd(f->accept_fd, addr, sizeof(addr));
        return limits_conn_accept(app_of(wsi)->limits, addr) ? 1 : 0;
    }
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        conn_opened(wsi);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        conn_destroyed(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi);
    case LWS_CALLBACK_HTTP:
        return pss ? on_request(pss, wsi, in) : -1;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* no WebSocket on the metrics listener */
        const char *vh = lws_get_vhost_name(lws_get_vhost(wsi));
        if (vh && strcmp(vh, HTTP_METRICS_VHOST) == 0)
            return 1;
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (pss && pss->r && !http_req_answered(pss->r) && http_req_add_body(pss->r, in, len))
            http_respond_error(pss->r, OUT_TOO_LARGE, NULL, NULL);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* With pipelined bytes waiting behind a body, lws 4.1.6 calls
         * BODY_COMPLETION again and again (a busy loop) until the answer is
         * written, and ours may wait for Redis or a password check. HTTP lets
         * a server close instead of answering pipelined requests: do that. */
        if (!pss || !pss->r)
            return 0;
        if (pss->dispatched)
            return -1;
        pss->dispatched = 1;
        if (!http_req_answered(pss->r))
            http_router_dispatch(&api_routes, pss->r);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss ? on_writeable(pss, wsi) : 0;
    case LWS_CALLBACK_HTTP_FILE_COMPLETION: {
        app *a = lws_context_user(lws_get_context(wsi));
        return a->draining || lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        end_connection(pss);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
