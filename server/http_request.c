/*
 * http_request.c - HTTP transactions of the API (see http_request.h).
 */
#include "http_request.h"

#include <stdlib.h>
#include <string.h>

#define HTTP_HEAD_MAX 2048

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
    int answered;
};

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

/* ---- answers ---- */

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* The header block as a frame; NULL when it does not fit. */
static frame *head_frame(http_req *r, int status, size_t len, int gzipped)
{
    unsigned char buf[HTTP_HEAD_MAX], *p = buf, *end = buf + sizeof(buf) - 1;
    struct lws *wsi = r->wsi;

    if (lws_add_http_common_headers(wsi, (unsigned int)status, "application/json", len, &p, end) ||
        add_header(wsi, "cache-control:", "no-store", &p, end))
        return NULL;
    if (gzipped && (add_header(wsi, "content-encoding:", "gzip", &p, end) ||
                    add_header(wsi, "vary:", "accept-encoding", &p, end)))
        return NULL;
    if (r->cookie[0] && add_header(wsi, "set-cookie:", r->cookie, &p, end))
        return NULL;
    if (lws_finalize_http_header(wsi, &p, end))
        return NULL;
    return frame_new_mode(FRAME_HTTP_HEAD, (const char *)buf, (size_t)(p - buf));
}

void http_respond_frame(http_req *r, int status, frame *body, int gzipped)
{
    frame *head;
    if (r->answered || !r->wsi)
        return;
    r->answered = 1;
    head = head_frame(r, status, body->len, gzipped);
    if (!head) {
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        return;
    }
    client_send(r->conn, head);
    client_send(r->conn, body);
    frame_unref(head);
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

void http_respond_error_status(http_req *r, int status, outcome o, const char *message,
                               const char *extra)
{
    sm_buf b;
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
