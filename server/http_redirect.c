/*
 * http_redirect.c - plain HTTP that sends everyone to https (see
 * http_redirect.h).
 */
#include "http_redirect.h"

#include <stdio.h>
#include <string.h>

/* A DNS name or IPv4 address, or an IPv6 address in brackets; no port. */
static int host_ok(const char *h, size_t n)
{
    size_t i;
    if (n == 0 || n > 253)
        return 0;
    if (h[0] == '[') {
        if (h[n - 1] != ']' || n < 3)
            return 0;
        for (i = 1; i + 1 < n; i++)
            if (!strchr("0123456789abcdefABCDEF:.", h[i]))
                return 0;
        return 1;
    }
    for (i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int http_redirect_location(const http_redirect_target *t, const char *host, const char *path,
                           char *out, size_t len)
{
    char port[16] = "";
    const char *h = t->fallback_host;
    size_t hn = strlen(h);
    int n;

    if (host && *host) {
        const char *end = host + strlen(host), *colon;
        if (host[0] == '[') {
            const char *rb = strchr(host, ']');
            end = rb ? rb + 1 : end;
        } else if ((colon = strchr(host, ':'))) {
            end = colon;
        }
        if (host_ok(host, (size_t)(end - host))) {
            h = host;
            hn = (size_t)(end - host);
        }
    }
    if (t->https_port != 443)
        snprintf(port, sizeof(port), ":%d", t->https_port);
    if (!path || path[0] != '/')
        path = "/";
    n = snprintf(out, len, "https://%.*s%s%s", (int)hn, h, port, path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int on_http(struct lws *wsi, const char *uri)
{
    const http_redirect_target *t = lws_vhost_user(lws_get_vhost(wsi));
    char host[300] = "", args[1024] = "", path[2048], loc[2400];
    unsigned char buf[LWS_PRE + 2600], *p = buf + LWS_PRE, *end = buf + sizeof(buf) - 1;
    int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) ||
              lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI);

    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
        host[0] = '\0';
    if (lws_hdr_copy(wsi, args, sizeof(args), WSI_TOKEN_HTTP_URI_ARGS) <= 0)
        args[0] = '\0';
    snprintf(path, sizeof(path), "%s%s%s", uri, args[0] ? "?" : "", args);
    if (http_redirect_location(t, host, path, loc, sizeof(loc)))
        http_redirect_location(t, host, "/", loc, sizeof(loc));
    /* 308 keeps the method and body of a POST; 301 is what every client
     * knows for pages */
    if (lws_http_redirect(wsi, get ? HTTP_STATUS_MOVED_PERMANENTLY : 308,
                          (const unsigned char *)loc, (int)strlen(loc), &p, end) < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int redirect_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; /* no WebSocket here */
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const struct lws_protocols http_redirect_protocols[] = {
    {"http", redirect_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};
