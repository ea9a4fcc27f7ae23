/*
 * http_redirect.h - the plain-HTTP listener of a TLS server
 * (--http-redirect-port): every request is answered with a redirect to the
 * same path on https, nothing else (no pages, no API, no WebSocket).
 */
#ifndef SEATMAP_HTTP_REDIRECT_H
#define SEATMAP_HTTP_REDIRECT_H

#include <libwebsockets.h>

/* Where to send people: the vhost's user pointer (lws_create_vhost's
 * info.user) points to one of these, which outlives the vhost. */
typedef struct http_redirect_target {
    int https_port;          /* 443 is left out of the URL */
    char fallback_host[256]; /* when the request's Host is absent or odd */
} http_redirect_target;

/* The one protocol of the redirecting vhost (a NULL-terminated list). */
extern const struct lws_protocols http_redirect_protocols[];

/* Builds the Location for a request to `host` (the Host header, port and
 * all, or NULL) and `path` (with its query, if any) into out. A host that
 * is not a plain name or address is replaced by the fallback: the redirect
 * never leads elsewhere. 0, or -1 when out is too short. */
int http_redirect_location(const http_redirect_target *t, const char *host, const char *path,
                           char *out, size_t len);

#endif
