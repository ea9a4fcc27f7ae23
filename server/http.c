/*
 * http.c - the lws callback of HTTP (see http.h): a thin dispatcher over the
 * per-connection session. One http_req per transaction; the connection's
 * client (client.h) carries every answer, written from HTTP_WRITEABLE.
 */
#include "http.h"

#include "api.h"
#include "http_static.h"
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

/* Answers are bounded by their own buffers; this only stops a client that
 * never reads from holding more than a few of them. */
#define HTTP_MAX_QUEUE (512u * 1024 * 1024)

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

    if (!http_req_header(pss->r, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof(clen))) {
        http_respond_error(pss->r, OUT_LENGTH_REQUIRED, NULL, NULL);
        return;
    }
    n = atoll(clen);
    if (n < 0 || n > HTTP_MAX_BODY) {
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
