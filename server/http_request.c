/*
 * http_request.c - HTTP transactions of the API (see http_request.h).
 */
#include "http_request.h"

#include "peer.h"

#include "metrics.h"
#include "json_input.h"

#include <stdlib.h>
#include <string.h>

#define HTTP_HEAD_MAX 2048
#define HTTP_HSTS "max-age=31536000"

/* Set once at start (http_req_configure), and when the server drains. */
static struct {
    const peer_config *trust;
    int tls;
    int draining;
    size_t live; /* requests not yet freed */
} G;

struct http_req {
    struct lws *wsi; /* NULL once detached */
    client *conn;    /* referenced */
    void *ctx;
    int refs;
    http_method m;
    char path[HTTP_MAX_PATH];
    sm_buf body;
    ledger_user user;
    char cookie[256];
    char allow[64];
    char etag[80];
    char cache[64];
    long retry_after; /* seconds, 0: none */
    int answered;
    int status;                 /* of the answer, once answered */
    char id[SM_LOG_ID_LEN + 1]; /* X-Request-Id, and in log lines */
    int64_t started_ms;
};

void http_req_configure(const peer_config *trust, int tls)
{
    G.trust = trust;
    G.tls = tls;
}

void http_req_set_draining(int on)
{
    G.draining = on;
}

size_t http_req_live(void)
{
    return G.live;
}

http_method http_method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return HTTP_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return HTTP_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
        return HTTP_DELETE;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
        return HTTP_HEAD;
    return HTTP_OTHER;
}

http_req *http_req_new(struct lws *wsi, client *conn, void *ctx, http_method m, const char *path)
{
    http_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->wsi = wsi;
    r->conn = conn;
    client_ref(conn);
    r->ctx = ctx;
    r->refs = 1;
    r->m = m;
    snprintf(r->path, sizeof(r->path), "%s", path);
    sm_buf_init(&r->body, HTTP_MAX_BODY);
    sm_log_new_id(r->id);
    r->started_ms = sm_mono_ms();
    G.live++;
    return r;
}

void http_req_ref(http_req *r)
{
    r->refs++;
}

void http_req_unref(http_req *r)
{
    if (!r || --r->refs)
        return;
    sm_buf_free(&r->body);
    client_unref(r->conn);
    free(r);
    G.live--;
}

void http_req_detach(http_req *r)
{
    r->wsi = NULL;
}

int http_req_alive(const http_req *r)
{
    return r->wsi != NULL;
}

void *http_req_ctx(const http_req *r)
{
    return r->ctx;
}

http_method http_req_method(const http_req *r)
{
    return r->m;
}

const char *http_req_path(const http_req *r)
{
    return r->path;
}

const char *http_req_id(const http_req *r)
{
    return r->id;
}

int http_req_status(const http_req *r)
{
    return r->status;
}

int64_t http_req_age_ms(const http_req *r)
{
    return sm_mono_ms() - r->started_ms;
}

void http_req_peer(const http_req *r, char *out, size_t len)
{
    peer_address(r->wsi, G.trust, out, len);
}

static const char *method_name(http_method m)
{
    switch (m) {
    case HTTP_GET:
        return "GET";
    case HTTP_POST:
        return "POST";
    case HTTP_DELETE:
        return "DELETE";
    case HTTP_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

const char *http_req_method_name(const http_req *r)
{
    return method_name(r->m);
}

int http_req_extra_headers(const http_req *r, char *out, size_t len)
{
    int n = snprintf(out, len, "x-request-id: %s\r\n%s%s", r->id,
                     G.tls ? "strict-transport-security: " HTTP_HSTS "\r\n" : "",
                     G.draining ? "connection: close\r\n" : "");
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* ---- headers ---- */

static int header_of(struct lws *wsi, enum lws_token_indexes t, char *out, size_t outlen)
{
    int n = wsi ? lws_hdr_copy(wsi, out, (int)outlen, t) : -1;
    if (n <= 0) {
        out[0] = '\0';
        return 0;
    }
    return n;
}

int http_req_header(const http_req *r, enum lws_token_indexes t, char *out, size_t outlen)
{
    return header_of(r->wsi, t, out, outlen);
}

int http_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    char cookies[2048], *p, *save = NULL;
    size_t n = strlen(name);
    out[0] = '\0';
    snprintf(cookies, sizeof(cookies), "%s", header);
    for (p = strtok_r(cookies, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
        while (*p == ' ')
            p++;
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            snprintf(out, outlen, "%s", p + n + 1);
            return out[0] != '\0';
        }
    }
    return 0;
}

int http_req_cookie(const http_req *r, const char *name, char *out, size_t outlen)
{
    char cookies[2048];
    out[0] = '\0';
    if (!http_req_header(r, WSI_TOKEN_HTTP_COOKIE, cookies, sizeof(cookies)))
        return 0;
    return http_cookie_get(cookies, name, out, outlen);
}

int http_origin_ok(struct lws *wsi)
{
    char origin[300], host[260], want[300];
    if (!header_of(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)))
        return 1;
    if (!header_of(wsi, WSI_TOKEN_HOST, host, sizeof(host)))
        return 0;
    snprintf(want, sizeof(want), "http://%s", host);
    if (strcmp(origin, want) == 0)
        return 1;
    snprintf(want, sizeof(want), "https://%s", host);
    return strcmp(origin, want) == 0;
}

int http_req_origin_ok(const http_req *r)
{
    return r->wsi && http_origin_ok(r->wsi);
}

int http_req_query(const http_req *r, const char *name, char *out, size_t outlen)
{
    char key[64];
    const char *v;
    out[0] = '\0';
    if (!r->wsi || snprintf(key, sizeof(key), "%s=", name) >= (int)sizeof(key))
        return 0;
    /* lws copies the whole "name=value" fragment into out and points past
     * the '=' (or returns NULL, leaving another fragment in out). */
    v = lws_get_urlarg_by_name(r->wsi, key, out, (int)outlen);
    if (!v) {
        out[0] = '\0';
        return 0;
    }
    memmove(out, v, strlen(v) + 1);
    return 1;
}

void http_client_addr(struct lws *wsi, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!wsi)
        return;
    /* behind a trusted proxy (--trust-proxy), its X-Forwarded-For says who */
    if (G.trust && peer_address(wsi, G.trust, out, outlen) == 0 && strcmp(out, "unknown") != 0)
        return;
    if (!lws_get_peer_simple(wsi, out, outlen))
        out[0] = '\0';
}

void http_req_client_addr(const http_req *r, char *out, size_t outlen)
{
    http_client_addr(r->wsi, out, outlen);
}

int http_req_accepts_gzip(const http_req *r)
{
    char ae[256];
    return http_req_header(r, WSI_TOKEN_HTTP_ACCEPT_ENCODING, ae, sizeof(ae)) &&
           strstr(ae, "gzip") != NULL;
}

/* ---- body ---- */

int http_req_add_body(http_req *r, const void *data, size_t len)
{
    return sm_buf_add(&r->body, data, len);
}

cJSON *http_req_json(http_req *r)
{
    cJSON *j = r->body.len ? cJSON_ParseWithLength(r->body.data, r->body.len) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        http_respond_error(r, OUT_BAD_REQUEST, "the body must be a JSON object", NULL);
        return NULL;
    }
    if (json_input_check(r->body.data, r->body.len, j)) {
        cJSON_Delete(j);
        http_respond_error(r, OUT_BAD_REQUEST, JSON_INPUT_MESSAGE, NULL);
        return NULL;
    }
    return j;
}

/* ---- staff ---- */

void http_req_set_user(http_req *r, const ledger_user *u)
{
    r->user = *u;
}

const ledger_user *http_req_user(const http_req *r)
{
    return &r->user;
}

void http_req_set_cookie(http_req *r, const char *cookie)
{
    snprintf(r->cookie, sizeof(r->cookie), "%s", cookie);
}

void http_req_set_allow(http_req *r, const char *methods)
{
    snprintf(r->allow, sizeof(r->allow), "%s", methods);
}

void http_req_set_retry_after(http_req *r, long seconds)
{
    r->retry_after = seconds < 1 ? 1 : seconds;
}

void http_req_set_cache(http_req *r, const char *etag, const char *cache_control)
{
    snprintf(r->etag, sizeof(r->etag), "%s", etag);
    snprintf(r->cache, sizeof(r->cache), "%s", cache_control);
}

/* ---- answers ---- */

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* The header block as a frame; NULL when it does not fit. */
static frame *head_frame(http_req *r, int status, const char *ctype, size_t len, int gzipped)
{
    unsigned char buf[HTTP_HEAD_MAX], *p = buf, *end = buf + sizeof(buf) - 1;
    struct lws *wsi = r->wsi;
    char code[8];

    char num[24];

    snprintf(code, sizeof(code), "%d", status);
    metrics_inc(M_HTTP_REQUESTS, code);
    if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, len, &p, end) ||
        add_header(wsi, "cache-control:", r->cache[0] ? r->cache : "no-store", &p, end))
        return NULL;
    if (r->etag[0] && add_header(wsi, "etag:", r->etag, &p, end))
        return NULL;
    if (r->allow[0] && add_header(wsi, "allow:", r->allow, &p, end))
        return NULL;
    snprintf(num, sizeof(num), "%ld", r->retry_after);
    if (r->retry_after > 0 && add_header(wsi, "retry-after:", num, &p, end))
        return NULL;
    if (gzipped && (add_header(wsi, "content-encoding:", "gzip", &p, end) ||
                    add_header(wsi, "vary:", "accept-encoding", &p, end)))
        return NULL;
    if (r->cookie[0] && add_header(wsi, "set-cookie:", r->cookie, &p, end))
        return NULL;
    if (add_header(wsi, "x-request-id:", r->id, &p, end) ||
        (G.tls && add_header(wsi, "strict-transport-security:", HTTP_HSTS, &p, end)) ||
        (G.draining && add_header(wsi, "connection:", "close", &p, end)))
        return NULL;
    if (lws_finalize_http_header(wsi, &p, end))
        return NULL;
    return frame_new_mode(FRAME_HTTP_HEAD, (const char *)buf, (size_t)(p - buf));
}

static void respond_frame_typed(http_req *r, int status, const char *ctype, frame *body,
                                int gzipped)
{
    frame *head;
    if (r->answered || !r->wsi)
        return;
    r->answered = 1;
    r->status = status;
    head = head_frame(r, status, ctype, body->len, gzipped);
    if (!head) {
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        return;
    }
    client_send(r->conn, head);
    if (r->m != HTTP_HEAD) {
        client_send(r->conn, body);
    } else {
        /* The same headers, and an empty body that ends the transaction */
        frame *empty = frame_new_mode(FRAME_HTTP_BODY, "", 0);
        if (empty)
            client_send(r->conn, empty);
        else
            lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        frame_unref(empty);
    }
    frame_unref(head);
}

void http_respond_frame(http_req *r, int status, frame *body, int gzipped)
{
    respond_frame_typed(r, status, "application/json", body, gzipped);
}

void http_respond_body(http_req *r, int status, const char *content_type, sm_buf *b)
{
    frame *body;
    if (sm_buf_failed(b) || !b->data) {
        sm_buf_free(b);
        http_respond_error(r, OUT_INTERNAL, "the answer is too large to send", NULL);
        return;
    }
    body = frame_new_mode(FRAME_HTTP_BODY, b->data, b->len);
    sm_buf_free(b);
    if (!body) {
        if (r->wsi && !r->answered)
            lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        return;
    }
    respond_frame_typed(r, status, content_type, body, 0);
    frame_unref(body);
}

void http_respond_not_modified(http_req *r)
{
    frame *head, *empty;
    if (r->answered || !r->wsi)
        return;
    r->answered = 1;
    head = head_frame(r, 304, "application/json", 0, 0);
    empty = frame_new_mode(FRAME_HTTP_BODY, "", 0);
    if (!head || !empty) {
        frame_unref(head);
        frame_unref(empty);
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        return;
    }
    client_send(r->conn, head);
    /* The empty body frame ends the transaction in client.c as any other
     * answer does. */
    client_send(r->conn, empty);
    frame_unref(head);
    frame_unref(empty);
}

static void respond_text(http_req *r, int status, const char *text, size_t len)
{
    frame *body = frame_new_mode(FRAME_HTTP_BODY, text, len);
    if (!body) {
        if (r->wsi && !r->answered)
            lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        return;
    }
    http_respond_frame(r, status, body, 0);
    frame_unref(body);
}

void http_respond_json(http_req *r, int status, sm_buf *b)
{
    static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"the answer is "
                              "too large to send\"}}";
    if (sm_buf_failed(b) || !b->data) {
        sm_buf_free(b);
        respond_text(r, 500, oom, sizeof(oom) - 1);
        return;
    }
    respond_text(r, status, b->data, b->len);
    sm_buf_free(b);
}

/* One line per failed request, with its id: server faults as errors,
 * refused credentials as info (what fail2ban and people look for), the rest
 * of the client's mistakes as debug. Never a header value: they carry
 * cookies and tokens. */
static void log_error(const http_req *r, int status, outcome o, const char *message)
{
    sm_log_level lv = status >= 500                    ? SM_LOG_ERROR
                      : status == 401 || status == 403 ? SM_LOG_INFO
                                                       : SM_LOG_DEBUG;
    char peer[PEER_ADDR_MAX];
    if (!sm_log_enabled(lv) || r->answered || !r->wsi)
        return;
    http_req_peer(r, peer, sizeof(peer));
    sm_logf(lv, r->id, "HTTP %d %s on %s %s from %s: %s", status, outcome_code(o),
            method_name(r->m), r->path, peer, message ? message : outcome_message(o));
}

void http_respond_error_status(http_req *r, int status, outcome o, const char *message,
                               const char *extra)
{
    sm_buf b;
    log_error(r, status, o, message);
    sm_buf_init(&b, 1024 * 1024);
    sm_buf_printf(&b, "{\"error\":{\"code\":\"%s\",\"message\":", outcome_code(o));
    sm_buf_add_json_str(&b, message ? message : outcome_message(o));
    if (extra)
        sm_buf_printf(&b, ",%s", extra);
    sm_buf_adds(&b, "}}");
    http_respond_json(r, status, &b);
}

void http_respond_error(http_req *r, outcome o, const char *message, const char *extra)
{
    http_respond_error_status(r, outcome_http_status(o), o, message, extra);
}

int http_req_answered(const http_req *r)
{
    return r->answered;
}
