/*
 * http.h - the HTTP side of the one port: the lws protocol callback that
 * reads requests into http_req (http_request.h), hands API paths to the
 * route table (api_routes.c through http_router.h) and everything else to
 * the static pages (http_static.h), and writes the answers from the
 * connection's client queue.
 */
#ifndef SEATMAP_HTTP_H
#define SEATMAP_HTTP_H

/* The name of the vhost of --metrics-listen (server.c creates it). */
#define HTTP_METRICS_VHOST "metrics"

#include <libwebsockets.h>

/* Per connection (lws allocates it, zeroed). */
typedef struct http_session {
    struct client *conn; /* the connection's send queue, owned */
    struct http_req *r;  /* the transaction in progress, owned */
    int dispatched;      /* its body was read and the request handed on */
} http_session;

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);

#endif
