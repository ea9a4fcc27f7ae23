/*
 * http_request.h - one HTTP transaction of the JSON API: what was asked
 * (method, path, headers, body), who asked (staff, once authenticated) and
 * the answer, which goes out through the connection's client (client.h) as
 * a header frame and a body frame.
 *
 * Ownership: http.c creates a request per transaction and holds the first
 * reference; asynchronous work (a booking, a password check) takes its own
 * with http_req_ref. When the connection closes or moves on to its next
 * transaction, http.c calls http_req_detach: later answers are dropped and
 * http_req_alive() says 0. The last http_req_unref frees it.
 *
 * Answers are JSON with `cache-control: no-store`; errors are
 * {"error":{"code","message",...}} with the status of outcome.h's table. A
 * request is answered at most once: later answers are ignored.
 *
 * Not here: routes (http_router.h), the lws callback (http.c).
 */
#ifndef SEATMAP_HTTP_REQUEST_H
#define SEATMAP_HTTP_REQUEST_H

#include "client.h"
#include "ledger.h"
#include "outcome.h"
#include "peer.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_PATH 256

typedef enum http_method {
    HTTP_GET = 1,
    HTTP_POST = 2,
    HTTP_DELETE = 4,
    HTTP_HEAD = 8,
    HTTP_OTHER = 16,
} http_method;

typedef struct http_req http_req;

/* Once, at start: whose X-Forwarded-For to believe (kept, not copied) and
 * whether the port is TLS (answers then carry Strict-Transport-Security). */
void http_req_configure(const peer_config *trust, int tls);
/* While the server drains (SIGTERM), answers say `connection: close`. */
void http_req_set_draining(int on);
/* Requests not yet freed: answers being written or work still running for
 * them (a booking, a password check). The server waits for 0 to stop. */
size_t http_req_live(void);

/* The method of the request being parsed on wsi. */
http_method http_method_of(struct lws *wsi);

/* A request of the connection `conn` (referenced while the request lives);
 * ctx is what handlers need (the app), never owned. The path is cut at
 * HTTP_MAX_PATH - 1 bytes: the caller refuses longer ones first. wsi NULL
 * makes a request with no socket (tests): it has no headers and its answers
 * are dropped. NULL when out of memory. */
http_req *http_req_new(struct lws *wsi, client *conn, void *ctx, http_method m, const char *path);
void http_req_ref(http_req *r);
void http_req_unref(http_req *r);
/* The connection closed or went on to its next transaction. */
void http_req_detach(http_req *r);
int http_req_alive(const http_req *r);

void *http_req_ctx(const http_req *r);
http_method http_req_method(const http_req *r);
const char *http_req_path(const http_req *r);
const char *http_req_method_name(const http_req *r);
/* Its id: the X-Request-Id header of the answer and the req= of log lines. */
const char *http_req_id(const http_req *r);
/* The status it was answered with; 0 before. */
int http_req_status(const http_req *r);
int64_t http_req_age_ms(const http_req *r);
/* The client's address (peer.h, with the configured trusted proxies). */
void http_req_peer(const http_req *r, char *out, size_t len);
/* The headers every answer carries (x-request-id, HSTS with TLS,
 * connection: close while draining) as raw "name: value\r\n" lines, for
 * answers lws writes itself (files). Its length, or -1 when len is short. */
int http_req_extra_headers(const http_req *r, char *out, size_t len);

/* Copies a header; its length, or 0 (out = "") when absent or too long. */
int http_req_header(const http_req *r, enum lws_token_indexes t, char *out, size_t outlen);
/* The value of a cookie; 1 when present and not empty. */
int http_req_cookie(const http_req *r, const char *name, char *out, size_t outlen);
/* The same from a Cookie header's value (the parsing alone; fuzzed). */
int http_cookie_get(const char *header, const char *name, char *out, size_t outlen);
/* 1 when the request has no Origin header or it names this server
 * (http://HOST or https://HOST for the request's Host header). */
int http_origin_ok(struct lws *wsi);
int http_req_origin_ok(const http_req *r);
/* The client's address as text ("127.0.0.1", "2001:db8::1") into out;
 * "" when unknown. The one place that says who a client is: the TCP peer,
 * or, when the peer is a trusted proxy (--trust-proxy, peer.h), the last
 * hop of its X-Forwarded-For (once headers have arrived). */
void http_client_addr(struct lws *wsi, char *out, size_t outlen);
void http_req_client_addr(const http_req *r, char *out, size_t outlen);
/* 1 when the client takes gzip. */
int http_req_accepts_gzip(const http_req *r);
/* The value of query argument name (?name=value, not decoded) into out;
 * 1 if present, else 0 and out "". */
int http_req_query(const http_req *r, const char *name, char *out, size_t outlen);

/* The body, read from BODY callbacks: -1 once it would pass HTTP_MAX_BODY. */
int http_req_add_body(http_req *r, const void *data, size_t len);
/* The body as a JSON object (the caller frees it with cJSON_Delete); NULL
 * after answering 400 when it is not one. */
cJSON *http_req_json(http_req *r);

/* Staff, once authenticated (http_router.c). */
void http_req_set_user(http_req *r, const ledger_user *u);
const ledger_user *http_req_user(const http_req *r);
/* A Set-Cookie header for the answer (copied). */
void http_req_set_cookie(http_req *r, const char *cookie);
/* Extra headers for the answer: Allow (a 405's methods), Retry-After
 * (seconds), and for a cacheable answer its ETag (quoted) with a
 * Cache-Control other than no-store. Strings are copied. */
void http_req_set_allow(http_req *r, const char *methods);
void http_req_set_retry_after(http_req *r, long seconds);
void http_req_set_cache(http_req *r, const char *etag, const char *cache_control);
/* 304 Not Modified with the ETag set by http_req_set_cache. */
void http_respond_not_modified(http_req *r);

/* Answers with the JSON in b (b is emptied). A buffer whose append failed
 * answers 500 instead: a truncated document is never sent. */
void http_respond_json(http_req *r, int status, sm_buf *b);
/* Answers with the text in b, of this content type (b is emptied); a
 * buffer whose append failed answers 500. */
void http_respond_body(http_req *r, int status, const char *content_type, sm_buf *b);
/* Answers with a shared body frame (FRAME_HTTP_BODY; takes a reference).
 * A HEAD request gets the same headers and no body. */
void http_respond_frame(http_req *r, int status, frame *body, int gzipped);
/* Answers an error: message NULL takes outcome.h's default; extra is more
 * JSON members for the error object (e.g. "\"seats\":[...]") or NULL. */
void http_respond_error(http_req *r, outcome o, const char *message, const char *extra);
/* The same with a status other than the outcome's own. */
void http_respond_error_status(http_req *r, int status, outcome o, const char *message,
                               const char *extra);
/* 1 once answered. */
int http_req_answered(const http_req *r);

#endif
