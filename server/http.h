/*
 * http.h - the HTTP side of the one port: static pages from the web
 * directory, the JSON API of PROTOCOL.md (shows, seats, staff login, holds,
 * bookings) and /healthz.
 *
 * Staff are a session cookie (seatmap_session) or a bearer API token. A
 * cookie-authenticated request, or a WebSocket upgrade, whose Origin is
 * present and not this server's own is refused.
 */
#ifndef SEATMAP_HTTP_H
#define SEATMAP_HTTP_H

#include <libwebsockets.h>

#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_SESSION_MS (12LL * 3600 * 1000)
#define HTTP_COOKIE "seatmap_session"

struct http_req;
typedef struct http_session {
    struct http_req *r;
} http_session;

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);

/* 1 when the request has no Origin header or it names this server
 * (http://HOST or https://HOST for the request's Host header). */
int http_origin_ok(struct lws *wsi);

#endif
