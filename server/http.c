/*
 * http.c - static files, the JSON API and /healthz (see http.h).
 *
 * One http_req per HTTP transaction, reference counted: asynchronous work
 * (a Redis script, a password check on the thread pool) holds a reference,
 * and finds wsi == NULL if the client went away meanwhile. The response is
 * kept in the request and written from HTTP_WRITEABLE in chunks.
 */
#include "http.h"

#include "app.h"
#include "show.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define HTTP_CHUNK 32768
#define HTTP_CONFIRM_RETRIES 30 /* x 100 ms: waiting out a confirmation in flight */
#define HTTP_MAX_SALE_SEATS 100

typedef enum { M_GET, M_POST, M_DELETE, M_OTHER } method;

typedef struct http_req {
    app *a;
    struct lws *wsi; /* NULL once the connection closed */
    int refs;
    method m;
    char path[256];
    sm_buf body;
    /* staff, once authenticated */
    ledger_user user;
    char who[LEDGER_NAME_MAX + 8];
    /* the response */
    int status;
    char *resp;
    size_t resp_len, resp_off;
    char cookie[256];
    int gzipped; /* the body is gzip-encoded */
    int ready, headers_sent;
    int dispatched; /* its body was read and the request handed on */
    /* a confirmation or sale in progress */
    show *s;
    char hold_ref[AUTH_REF_LEN + 1];
    char frozen[24]; /* when our freeze or reservation locked it (Redis ms) */
    char payment_ref[LEDGER_PAYMENT_REF_MAX + 1];
    char **seats;
    size_t nseats;
    int tries;
    ledger_booking booking;
    uv_timer_t *retry;
    /* login */
    uv_work_t work;
    char pw_hash[AUTH_PWHASH_MAX];
    char *password;
    int pw_ok;
} http_req;

static void req_unref(http_req *r)
{
    size_t i;
    if (!r || --r->refs)
        return;
    sm_buf_free(&r->body);
    free(r->resp);
    for (i = 0; i < r->nseats; i++)
        free(r->seats[i]);
    free(r->seats);
    ledger_booking_clear(&r->booking);
    if (r->password) {
        memset(r->password, 0, strlen(r->password));
        free(r->password);
    }
    free(r);
}

/* ---- responses ---- */

/* Takes ownership of body (malloc'd). */
static void respond_owned(http_req *r, int status, char *body, size_t len)
{
    if (r->ready || !r->wsi) {
        free(body);
        return;
    }
    r->status = status;
    r->resp = body;
    r->resp_len = len;
    r->ready = 1;
    lws_callback_on_writable(r->wsi);
}

static void respond_buf(http_req *r, int status, sm_buf *b)
{
    size_t len;
    char *p = sm_buf_steal(b, &len);
    if (!p) {
        p = strdup("{}");
        len = 2;
    }
    respond_owned(r, status, p, len);
}

static void respond_error(http_req *r, int status, const char *code, const char *message,
                          const char *extra)
{
    sm_buf b;
    sm_buf_init(&b, 1024 * 1024);
    sm_buf_printf(&b, "{\"error\":{\"code\":\"%s\",\"message\":", code);
    sm_buf_add_json_str(&b, message);
    if (extra)
        sm_buf_printf(&b, ",%s", extra);
    sm_buf_adds(&b, "}}");
    respond_buf(r, status, &b);
}

static int write_response(http_req *r)
{
    struct lws *wsi = r->wsi;
    unsigned char buf[LWS_PRE + HTTP_CHUNK];
    size_t n;
    int last;

    if (!r->headers_sent) {
        unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
        if (lws_add_http_common_headers(wsi, (unsigned int)r->status, "application/json",
                                        r->resp_len, &p, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                        (const unsigned char *)"no-store", 8, &p, end))
            return -1;
        if (r->gzipped &&
            (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-encoding:",
                                         (const unsigned char *)"gzip", 4, &p, end) ||
             lws_add_http_header_by_name(wsi, (const unsigned char *)"vary:",
                                         (const unsigned char *)"accept-encoding", 15, &p, end)))
            return -1;
        if (r->cookie[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
                                                        (const unsigned char *)r->cookie,
                                                        (int)strlen(r->cookie), &p, end))
            return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        r->headers_sent = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    n = r->resp_len - r->resp_off;
    if (n > HTTP_CHUNK)
        n = HTTP_CHUNK;
    last = r->resp_off + n == r->resp_len;
    memcpy(buf + LWS_PRE, r->resp + r->resp_off, n);
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    r->resp_off += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    return 1; /* done: the caller detaches, then completes the transaction */
}

/* ---- request helpers ---- */

static int header(struct lws *wsi, enum lws_token_indexes t, char *out, size_t outlen)
{
    int n = lws_hdr_copy(wsi, out, (int)outlen, t);
    if (n <= 0) {
        out[0] = '\0';
        return 0;
    }
    return n;
}

int http_origin_ok(struct lws *wsi)
{
    char origin[300], host[260], want[300];
    if (!header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)))
        return 1;
    if (!header(wsi, WSI_TOKEN_HOST, host, sizeof(host)))
        return 0;
    snprintf(want, sizeof(want), "http://%s", host);
    if (strcmp(origin, want) == 0)
        return 1;
    snprintf(want, sizeof(want), "https://%s", host);
    return strcmp(origin, want) == 0;
}

static int cookie_value(struct lws *wsi, const char *name, char *out, size_t outlen)
{
    char cookies[2048], *p, *save = NULL;
    size_t n = strlen(name);
    if (!header(wsi, WSI_TOKEN_HTTP_COOKIE, cookies, sizeof(cookies)))
        return 0;
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

/* 0 when staff with at least `role`; otherwise answers the request. */
static int require_staff(http_req *r, const char *role)
{
    char auth[512], token[256], hash[AUTH_HASH_HEX + 1];
    int rc;

    if (header(r->wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)) &&
        strncmp(auth, "Bearer ", 7) == 0) {
        auth_token_hash(auth + 7, hash);
        rc = ledger_token_lookup(r->a->ledger, hash, &r->user);
        if (rc) {
            respond_error(r, 401, "unauthorized", "this API token is not valid", NULL);
            return -1;
        }
        snprintf(r->who, sizeof(r->who), "%s", r->user.name); /* "token:NAME" */
    } else if (cookie_value(r->wsi, HTTP_COOKIE, token, sizeof(token))) {
        if (!http_origin_ok(r->wsi)) {
            respond_error(r, 403, "bad_origin", "requests from other sites are not accepted", NULL);
            return -1;
        }
        auth_token_hash(token, hash);
        rc = ledger_session_lookup(r->a->ledger, hash, sm_now_ms(), &r->user);
        if (rc) {
            respond_error(r, 401, "unauthorized", "your session has expired; please log in again",
                          NULL);
            return -1;
        }
        snprintf(r->who, sizeof(r->who), "%s", r->user.name);
    } else {
        respond_error(r, 401, "unauthorized", "log in as box-office staff first", NULL);
        return -1;
    }
    if (strcmp(role, "admin") == 0 && strcmp(r->user.role, "admin") != 0) {
        respond_error(r, 403, "forbidden", "this needs an administrator", NULL);
        return -1;
    }
    return 0;
}

static cJSON *parse_body(http_req *r)
{
    cJSON *j = r->body.len ? cJSON_ParseWithLength(r->body.data, r->body.len) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        respond_error(r, 400, "bad_request", "the body must be a JSON object", NULL);
        return NULL;
    }
    return j;
}

/* ---- shows ---- */

static void add_show_fields(sm_buf *b, show *s)
{
    sm_buf_adds(b, "\"id\":");
    sm_buf_add_json_str(b, s->id);
    sm_buf_adds(b, ",\"name\":");
    sm_buf_add_json_str(b, s->name);
    sm_buf_adds(b, ",\"starts_at\":");
    if (s->starts_at[0])
        sm_buf_add_json_str(b, s->starts_at);
    else
        sm_buf_adds(b, "null");
    sm_buf_printf(b, ",\"capacity\":%zu", s->nseats);
}

static void get_shows(http_req *r)
{
    ledger_show *list = NULL;
    size_t n = 0, i;
    sm_buf b;

    if (ledger_show_list(r->a->ledger, &list, &n)) {
        respond_error(r, 503, "unavailable", "the database is unavailable", NULL);
        return;
    }
    sm_buf_init(&b, 16u * 1024 * 1024);
    sm_buf_addc(&b, '[');
    for (i = 0; i < n; i++) {
        show *s = shows_get(r->a, list[i].id);
        if (!s)
            continue;
        if (b.len > 1)
            sm_buf_addc(&b, ',');
        sm_buf_addc(&b, '{');
        add_show_fields(&b, s);
        sm_buf_adds(&b, ",\"venue\":");
        sm_buf_add_json_str(&b, venue_name(s->venue));
        sm_buf_addc(&b, '}');
    }
    sm_buf_addc(&b, ']');
    free(list);
    respond_buf(r, 200, &b);
}

/* gzip of len bytes into a new buffer (caller frees); NULL on failure. */
static char *gzip_copy(const char *data, size_t len, size_t *outlen)
{
    z_stream z;
    uLong cap = compressBound((uLong)len) + 64;
    char *out = malloc(cap);

    memset(&z, 0, sizeof(z));
    if (!out || deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(out);
        return NULL;
    }
    *outlen = z.total_out;
    deflateEnd(&z);
    return out;
}

static int accepts_gzip(struct lws *wsi)
{
    char ae[256];
    return header(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING, ae, sizeof(ae)) && strstr(ae, "gzip");
}

/* The layout never changes for a show, so its JSON (and a gzipped copy,
 * about a tenth of the size: 60,000 seats are 5 MB of JSON) is built once. */
static void get_show(http_req *r, show *s)
{
    const char *body;
    size_t len;
    char *copy;

    if (!s->api_json) {
        size_t mlen;
        const char *members = venue_layout_members(s->venue, &mlen);
        sm_buf b;
        sm_buf_init(&b, 256u * 1024 * 1024);
        sm_buf_addc(&b, '{');
        add_show_fields(&b, s);
        sm_buf_addc(&b, ',');
        sm_buf_add(&b, members, mlen);
        sm_buf_addc(&b, '}');
        s->api_json = sm_buf_steal(&b, &s->api_len);
        if (!s->api_json) {
            respond_error(r, 500, "internal", "out of memory", NULL);
            return;
        }
        s->api_gz = gzip_copy(s->api_json, s->api_len, &s->api_gz_len);
    }
    body = s->api_json;
    len = s->api_len;
    if (s->api_gz && accepts_gzip(r->wsi)) {
        body = s->api_gz;
        len = s->api_gz_len;
        r->gzipped = 1;
    }
    copy = malloc(len);
    if (!copy) {
        respond_error(r, 500, "internal", "out of memory", NULL);
        return;
    }
    memcpy(copy, body, len);
    respond_owned(r, 200, copy, len);
}

static void get_seats(http_req *r, show *s)
{
    sm_buf b;
    if (!s->loaded) {
        respond_error(r, 503, "unavailable", "seat states are not available yet; Redis is down",
                      NULL);
        return;
    }
    sm_buf_init(&b, s->nseats + 128);
    sm_buf_printf(&b, "{\"seq\":%lld,\"seats\":\"", (long long)s->seq);
    sm_buf_add(&b, s->state, s->nseats);
    sm_buf_adds(&b, "\"}");
    respond_buf(r, 200, &b);
}

static int cmp_hold_newest(const void *x, const void *y)
{
    const hold *a = *(const hold *const *)x, *b = *(const hold *const *)y;
    return a->expires_at < b->expires_at ? 1 : a->expires_at > b->expires_at ? -1 : 0;
}

static void get_holds(http_req *r, show *s)
{
    size_t it = 0, n = 0, i, k;
    const hold **list;
    void *v;
    sm_buf b;

    list = calloc(s->holds_by_ref.used + 1, sizeof(*list));
    if (!list) {
        respond_error(r, 500, "internal", "out of memory", NULL);
        return;
    }
    while (sm_map_next(&s->holds_by_ref, &it, NULL, &v))
        if (((hold *)v)->buyer[0]) /* not a box-office sale in progress */
            list[n++] = v;
    qsort(list, n, sizeof(*list), cmp_hold_newest);
    sm_buf_init(&b, 64u * 1024 * 1024);
    sm_buf_addc(&b, '[');
    for (i = 0; i < n; i++) {
        long price = 0;
        for (k = 0; k < list[i]->nseats; k++)
            price += venue_seat_price(s->venue, list[i]->seats[k]);
        sm_buf_adds(&b, i ? "," : "");
        show_hold_json(s, list[i], &b);
        b.len--; /* reopen the object to add the price */
        sm_buf_printf(&b, ",\"price\":%ld}", price);
    }
    sm_buf_addc(&b, ']');
    free(list);
    respond_buf(r, 200, &b);
}

/* ---- bookings ---- */

static void booking_json(sm_buf *b, const ledger_booking *bk)
{
    size_t i;
    sm_buf_printf(b, "{\"id\":%lld,\"show\":", (long long)bk->id);
    sm_buf_add_json_str(b, bk->show);
    sm_buf_adds(b, ",\"seats\":[");
    for (i = 0; i < bk->nseats; i++) {
        sm_buf_adds(b, i ? "," : "");
        sm_buf_add_json_str(b, bk->seats[i]);
    }
    sm_buf_adds(b, "],\"payment_ref\":");
    sm_buf_add_json_str(b, bk->payment_ref);
    sm_buf_printf(b, ",\"created_at\":%lld,\"by\":", (long long)bk->created_at);
    sm_buf_add_json_str(b, bk->by);
    sm_buf_adds(b, ",\"hold\":");
    if (bk->hold_ref[0])
        sm_buf_add_json_str(b, bk->hold_ref);
    else
        sm_buf_adds(b, "null");
    if (bk->cancelled_at)
        sm_buf_printf(b, ",\"cancelled_at\":%lld,\"status\":\"cancelled\"}",
                      (long long)bk->cancelled_at);
    else
        sm_buf_adds(b, ",\"cancelled_at\":null,\"status\":\"active\"}");
}

static void respond_booking(http_req *r, int status, const ledger_booking *bk)
{
    sm_buf b;
    sm_buf_init(&b, 1024 * 1024);
    sm_buf_adds(&b, "{\"booking\":");
    booking_json(&b, bk);
    sm_buf_addc(&b, '}');
    respond_buf(r, status, &b);
}

static void get_bookings(http_req *r, show *s)
{
    ledger_booking *list = NULL;
    size_t n = 0, i;
    sm_buf b;

    if (ledger_booking_list(r->a->ledger, s->id, &list, &n)) {
        respond_error(r, 503, "unavailable", "the database is unavailable", NULL);
        return;
    }
    sm_buf_init(&b, 256u * 1024 * 1024);
    sm_buf_addc(&b, '[');
    for (i = 0; i < n; i++) {
        sm_buf_adds(&b, i ? "," : "");
        booking_json(&b, &list[i]);
    }
    sm_buf_addc(&b, ']');
    ledger_booking_list_free(list, n);
    respond_buf(r, 200, &b);
}

static void on_booked(void *arg, const store_result *res)
{
    http_req *r = arg;
    show_apply_result(r->s, res);
    if (strcmp(res->status, "ok") != 0) {
        sm_warn("show %s: booking %lld is committed but Redis did not mark it (%s); reconciling",
                r->s->id, (long long)r->booking.id, res->status);
        show_ensure_booked(r->s); /* or at the reconnect, if Redis is down */
    }
    respond_booking(r, 201, &r->booking);
    req_unref(r);
}

static void on_thawed(void *arg, const store_result *res)
{
    http_req *r = arg;
    show_apply_result(r->s, res);
    req_unref(r);
}

/* Undo a freeze or reservation whose booking did not happen. */
static void thaw_now(http_req *r)
{
    const char *args[2] = {r->hold_ref, r->frozen};
    r->refs++;
    if (store_run(r->a->store, "thaw", r->s->id, 2, args, on_thawed, r))
        req_unref(r); /* Redis is down: the sweep's reconciliation thaws it later */
}

/* The seats are frozen in Redis under r->hold_ref: commit, then book. */
static void commit_booking(http_req *r)
{
    int rc;
    char id[24];
    const char *args[2] = {r->hold_ref, id};

    rc = ledger_booking_create(r->a->ledger, r->s->id, r->hold_ref, (const char *const *)r->seats,
                               r->nseats, r->payment_ref, r->who, sm_now_ms(), &r->booking);
    if (rc == LEDGER_EEXISTS) {
        thaw_now(r);
        respond_booking(r, 200, &r->booking);
        return;
    }
    if (rc) {
        thaw_now(r);
        if (rc == LEDGER_ESEATTAKEN)
            respond_error(r, 409, "seat_unavailable", "one of these seats is already booked", NULL);
        else
            respond_error(r, 503, "unavailable", "the booking could not be saved; try again", NULL);
        return;
    }
    snprintf(id, sizeof(id), "%lld", (long long)r->booking.id);
    r->refs++;
    if (store_run(r->a->store, "book", r->s->id, 2, args, on_booked, r)) {
        store_result res = {.status = "unavailable", .detail = ""};
        on_booked(r, &res);
    }
}

static int take_seats(http_req *r, const cJSON *arr)
{
    const cJSON *it;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    r->seats = calloc(n ? n : 1, sizeof(*r->seats));
    if (!r->seats)
        return -1;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_IsString(it) && (r->seats[r->nseats] = strdup(it->valuestring)))
            r->nseats++;
    }
    return 0;
}

static void confirm_start(http_req *r);

static void on_confirm_retry(uv_timer_t *t)
{
    http_req *r = t->data;
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    r->retry = NULL;
    if (r->wsi)
        confirm_start(r);
    req_unref(r);
}

/* Remembers when our freeze or reservation happened, from its detail. */
static void take_frozen(http_req *r, const char *detail)
{
    cJSON *d = cJSON_Parse(detail);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(d, "frozen");
    snprintf(r->frozen, sizeof(r->frozen), "%lld",
             cJSON_IsNumber(f) ? (long long)f->valuedouble : 0LL);
    cJSON_Delete(d);
}

static void on_frozen(void *arg, const store_result *res)
{
    http_req *r = arg;
    cJSON *d;

    show_apply_result(r->s, res);
    if (strcmp(res->status, "ok") == 0)
        take_frozen(r, res->detail);
    if (!r->wsi) {
        if (strcmp(res->status, "ok") == 0)
            thaw_now(r);
    } else if (strcmp(res->status, "ok") == 0 && (d = cJSON_Parse(res->detail)) != NULL) {
        take_seats(r, cJSON_GetObjectItemCaseSensitive(d, "seats"));
        cJSON_Delete(d);
        if (strcmp(r->hold_ref, "") != 0 && r->seats)
            commit_booking(r);
        else
            respond_error(r, 500, "internal", "unexpected answer from Redis", NULL);
    } else if (strcmp(res->status, "hold_locked") == 0 && r->tries++ < HTTP_CONFIRM_RETRIES) {
        /* Another confirmation of this hold is in flight (a double click):
         * wait for it, then answer as a retry would. */
        r->retry = malloc(sizeof(*r->retry));
        if (r->retry) {
            uv_timer_init(r->a->loop, r->retry);
            r->retry->data = r;
            r->refs++;
            uv_timer_start(r->retry, on_confirm_retry, 100, 0);
        } else {
            respond_error(r, 500, "internal", "out of memory", NULL);
        }
    } else if (strcmp(res->status, "hold_locked") == 0) {
        respond_error(r, 409, "hold_locked", "this hold is being confirmed right now", NULL);
    } else if (strcmp(res->status, "hold_expired") == 0) {
        ledger_booking b;
        memset(&b, 0, sizeof(b));
        if (ledger_booking_by_hold(r->a->ledger, r->s->id, r->hold_ref, &b) == 0) {
            sm_buf x;
            sm_buf_init(&x, 1024 * 1024);
            sm_buf_adds(&x, "\"booking\":");
            booking_json(&x, &b);
            /* Still hold_expired for v1 clients; the booking says why. */
            respond_error(r, 409, "hold_expired",
                          "this hold is gone: it was already confirmed with another payment "
                          "reference",
                          x.data);
            sm_buf_free(&x);
            ledger_booking_clear(&b);
        } else {
            respond_error(r, 409, "hold_expired",
                          "this hold has expired or does not exist; its seats were released", NULL);
        }
    } else if (strcmp(res->status, "unavailable") == 0) {
        respond_error(r, 503, "unavailable", "the seat store is unavailable; try again", NULL);
    } else {
        respond_error(r, 500, "internal", "something went wrong on our side", NULL);
    }
    req_unref(r);
}

static void confirm_start(http_req *r)
{
    const char *args[2] = {r->hold_ref, r->a->instance};
    ledger_booking_clear(&r->booking);
    memset(&r->booking, 0, sizeof(r->booking));
    if (ledger_booking_by_payment(r->a->ledger, r->s->id, r->payment_ref, &r->booking) == 0) {
        respond_booking(r, 200, &r->booking);
        return;
    }
    r->refs++;
    if (store_run(r->a->store, "freeze", r->s->id, 2, args, on_frozen, r)) {
        r->refs--;
        respond_error(r, 503, "unavailable", "the seat store is unavailable; try again", NULL);
    }
}

static void sale_start(http_req *r);

static void on_reserved(void *arg, const store_result *res)
{
    http_req *r = arg;
    cJSON *d;

    show_apply_result(r->s, res);
    if (strcmp(res->status, "ok") == 0 && (d = cJSON_Parse(res->detail)) != NULL) {
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(d, "ref");
        take_frozen(r, res->detail);
        snprintf(r->hold_ref, sizeof(r->hold_ref), "%s",
                 cJSON_IsString(ref) ? ref->valuestring : "");
        cJSON_Delete(d);
        if (!r->wsi)
            thaw_now(r);
        else
            commit_booking(r);
    } else if (strcmp(res->status, "retry") == 0 && r->tries++ < 3) {
        sale_start(r);
    } else if (strcmp(res->status, "seat_unavailable") == 0) {
        char extra[64 * 1024];
        snprintf(extra, sizeof(extra), "\"seats\":%s", res->detail);
        respond_error(r, 409, "seat_unavailable", "some of these seats are not free", extra);
    } else if (strcmp(res->status, "unavailable") == 0) {
        respond_error(r, 503, "unavailable", "the seat store is unavailable; try again", NULL);
    } else {
        respond_error(r, 500, "internal", "something went wrong on our side", NULL);
    }
    req_unref(r);
}

static void sale_start(http_req *r)
{
    const char *args[4 + HTTP_MAX_SALE_SEATS];
    char refs[3][AUTH_REF_LEN + 1];
    size_t i;

    args[0] = r->a->instance;
    for (i = 0; i < 3; i++) {
        auth_random_ref(refs[i]);
        args[1 + i] = refs[i];
    }
    for (i = 0; i < r->nseats; i++)
        args[4 + i] = r->seats[i];
    r->refs++;
    if (store_run(r->a->store, "reserve", r->s->id, (int)(4 + r->nseats), args, on_reserved, r)) {
        r->refs--;
        respond_error(r, 503, "unavailable", "the seat store is unavailable; try again", NULL);
    }
}

static int valid_payment_ref(const char *s)
{
    size_t n = strlen(s), i;
    if (n == 0 || n > LEDGER_PAYMENT_REF_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static void post_booking(http_req *r, show *s)
{
    cJSON *j = parse_body(r);
    const cJSON *jhold, *jseats, *jpay, *it;
    sm_buf unknown;
    size_t i, k;

    if (!j)
        return;
    r->s = s;
    jhold = cJSON_GetObjectItemCaseSensitive(j, "hold");
    jseats = cJSON_GetObjectItemCaseSensitive(j, "seats");
    jpay = cJSON_GetObjectItemCaseSensitive(j, "payment_ref");
    if (!cJSON_IsString(jpay) || !valid_payment_ref(jpay->valuestring)) {
        respond_error(r, 400, "bad_request",
                      "\"payment_ref\" is required: the receipt or terminal reference, up to 128 "
                      "characters",
                      NULL);
        goto out;
    }
    snprintf(r->payment_ref, sizeof(r->payment_ref), "%s", jpay->valuestring);
    if (cJSON_IsString(jhold) && !jseats) {
        if (strlen(jhold->valuestring) != AUTH_REF_LEN) {
            respond_error(r, 409, "hold_expired", "there is no live hold with this code", NULL);
            goto out;
        }
        for (i = 0; i < AUTH_REF_LEN; i++)
            r->hold_ref[i] = (char)toupper((unsigned char)jhold->valuestring[i]);
        r->hold_ref[AUTH_REF_LEN] = '\0';
        confirm_start(r);
        goto out;
    }
    if (jhold || !cJSON_IsArray(jseats) || cJSON_GetArraySize(jseats) == 0 ||
        cJSON_GetArraySize(jseats) > HTTP_MAX_SALE_SEATS) {
        respond_error(r, 400, "bad_request",
                      "send either \"hold\" (a hold code) or \"seats\" (1 to 100 seat ids)", NULL);
        goto out;
    }
    sm_buf_init(&unknown, 64 * 1024);
    sm_buf_adds(&unknown, "\"seats\":[");
    cJSON_ArrayForEach(it, jseats)
    {
        if (!cJSON_IsString(it) || venue_seat_index(s->venue, it->valuestring) < 0) {
            if (unknown.data[unknown.len - 1] != '[')
                sm_buf_addc(&unknown, ',');
            if (cJSON_IsString(it))
                sm_buf_add_json_str(&unknown, it->valuestring);
            else
                sm_buf_adds(&unknown, "null");
        }
    }
    if (unknown.data[unknown.len - 1] != '[') {
        sm_buf_addc(&unknown, ']');
        respond_error(r, 400, "unknown_seat", "this show has no such seat", unknown.data);
        sm_buf_free(&unknown);
        goto out;
    }
    sm_buf_free(&unknown);
    take_seats(r, jseats);
    for (i = 0; i < r->nseats; i++) /* drop duplicates */
        for (k = i + 1; k < r->nseats; k++)
            if (strcmp(r->seats[i], r->seats[k]) == 0) {
                free(r->seats[k]);
                r->seats[k--] = r->seats[--r->nseats];
            }
    memset(&r->booking, 0, sizeof(r->booking));
    if (ledger_booking_by_payment(r->a->ledger, s->id, r->payment_ref, &r->booking) == 0)
        respond_booking(r, 200, &r->booking);
    else
        sale_start(r);
out:
    cJSON_Delete(j);
}

static void on_cancelled(void *arg, const store_result *res)
{
    http_req *r = arg;
    show_apply_result(r->s, res);
    if (strcmp(res->status, "ok") != 0) {
        sm_warn("show %s: booking %lld is cancelled but Redis did not free its seats (%s); "
                "reconciling",
                r->s->id, (long long)r->booking.id, res->status);
        show_ensure_booked(r->s);
    }
    respond_booking(r, 200, &r->booking);
    req_unref(r);
}

static void delete_booking(http_req *r, show *s, const char *idtext)
{
    char *end;
    long long id = strtoll(idtext, &end, 10);
    const char **args;
    char idbuf[24];
    size_t i;
    int rc;

    if (*end || id <= 0) {
        respond_error(r, 404, "not_found", "there is no such booking", NULL);
        return;
    }
    r->s = s;
    memset(&r->booking, 0, sizeof(r->booking));
    rc = ledger_booking_cancel(r->a->ledger, s->id, id, r->who, sm_now_ms(), &r->booking);
    if (rc == LEDGER_ENOTFOUND) {
        respond_error(r, 404, "not_found", "there is no such booking", NULL);
        return;
    }
    if (rc == LEDGER_EINVAL) {
        respond_error(r, 409, "already_cancelled", "this booking was already cancelled", NULL);
        return;
    }
    if (rc) {
        respond_error(r, 503, "unavailable", "the database is unavailable", NULL);
        return;
    }
    args = calloc(r->booking.nseats + 1, sizeof(*args));
    snprintf(idbuf, sizeof(idbuf), "%lld", id);
    r->refs++;
    if (!args) {
        store_result res = {.status = "internal", .detail = ""};
        on_cancelled(r, &res);
        return;
    }
    args[0] = idbuf;
    for (i = 0; i < r->booking.nseats; i++)
        args[i + 1] = r->booking.seats[i];
    if (store_run(r->a->store, "cancel", s->id, (int)(r->booking.nseats + 1), args, on_cancelled,
                  r)) {
        store_result res = {.status = "unavailable", .detail = ""};
        on_cancelled(r, &res);
    }
    free(args);
}

/* ---- login ---- */

/* On the thread pool: Argon2id takes tens of milliseconds. An unknown user
 * gets the same work, so both answers take as long. */
static void login_work(uv_work_t *w)
{
    http_req *r = w->data;
    if (!r->pw_hash[0]) {
        char dummy[AUTH_PWHASH_MAX];
        if (auth_password_hash("not a real password", dummy) == 0)
            auth_password_verify(dummy, r->password);
        r->pw_ok = 0;
        return;
    }
    r->pw_ok = auth_password_verify(r->pw_hash, r->password) == 0;
}

static void login_done(uv_work_t *w, int status)
{
    http_req *r = w->data;
    char token[AUTH_TOKEN_HEX + 1], hash[AUTH_HASH_HEX + 1];
    sm_buf b;

    if (!r->wsi) {
        /* gone */
    } else if (status || !r->pw_ok || r->user.id <= 0) {
        respond_error(r, 401, "bad_credentials", "wrong user name or password", NULL);
    } else {
        auth_random_token(token);
        auth_token_hash(token, hash);
        if (ledger_session_create(r->a->ledger, r->user.id, hash, sm_now_ms() + HTTP_SESSION_MS)) {
            respond_error(r, 503, "unavailable", "the database is unavailable", NULL);
        } else {
            snprintf(r->cookie, sizeof(r->cookie),
                     HTTP_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld", token,
                     HTTP_SESSION_MS / 1000);
            sm_buf_init(&b, 1024);
            sm_buf_adds(&b, "{\"user\":");
            sm_buf_add_json_str(&b, r->user.name);
            sm_buf_printf(&b, ",\"role\":\"%s\"}", r->user.role);
            respond_buf(r, 200, &b);
        }
    }
    req_unref(r);
}

static void post_login(http_req *r)
{
    cJSON *j;
    const cJSON *ju, *jp;

    if (!http_origin_ok(r->wsi)) {
        respond_error(r, 403, "bad_origin", "requests from other sites are not accepted", NULL);
        return;
    }
    if (!(j = parse_body(r)))
        return;
    ju = cJSON_GetObjectItemCaseSensitive(j, "username");
    jp = cJSON_GetObjectItemCaseSensitive(j, "password");
    if (!cJSON_IsString(ju) || !cJSON_IsString(jp) || strlen(ju->valuestring) > LEDGER_NAME_MAX ||
        strlen(jp->valuestring) > 1024) {
        respond_error(r, 400, "bad_request", "expected \"username\" and \"password\" strings",
                      NULL);
        cJSON_Delete(j);
        return;
    }
    if (ledger_user_get(r->a->ledger, ju->valuestring, &r->user) == 0) {
        snprintf(r->pw_hash, sizeof(r->pw_hash), "%s", r->user.pwhash);
    } else {
        memset(&r->user, 0, sizeof(r->user));
        r->pw_hash[0] = '\0'; /* login_work does the same work for nothing */
    }
    r->password = strdup(jp->valuestring);
    cJSON_Delete(j);
    if (!r->password) {
        respond_error(r, 500, "internal", "out of memory", NULL);
        return;
    }
    r->work.data = r;
    r->refs++;
    if (uv_queue_work(r->a->loop, &r->work, login_work, login_done)) {
        r->refs--;
        respond_error(r, 500, "internal", "cannot check the password now", NULL);
    }
}

static void post_logout(http_req *r)
{
    char token[256], hash[AUTH_HASH_HEX + 1];
    if (cookie_value(r->wsi, HTTP_COOKIE, token, sizeof(token))) {
        auth_token_hash(token, hash);
        ledger_session_delete(r->a->ledger, hash);
    }
    snprintf(r->cookie, sizeof(r->cookie),
             HTTP_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    respond_owned(r, 200, strdup("{\"ok\":true}"), 11);
}

/* ---- routing ---- */

static void healthz(http_req *r)
{
    uint8_t secret[AUTH_SECRET_BYTES];
    int redis = store_up(r->a->store), db = ledger_secret(r->a->ledger, secret) == 0;
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"status\":\"%s\",\"redis\":\"%s\",\"database\":\"%s\"}",
                     redis && db ? "ok" : "unavailable", redis ? "up" : "down", db ? "up" : "down");
    respond_owned(r, redis && db ? 200 : 503, strdup(body), (size_t)n);
}

static void route_api(http_req *r)
{
    char path[256], *parts[6], *save = NULL, *p;
    int n = 0;
    show *s;

    snprintf(path, sizeof(path), "%s", r->path + 5); /* after "/api/" */
    for (p = strtok_r(path, "/", &save); p && n < 6; p = strtok_r(NULL, "/", &save))
        parts[n++] = p;
    if (n == 1 && strcmp(parts[0], "login") == 0 && r->m == M_POST)
        return post_login(r);
    if (n == 1 && strcmp(parts[0], "logout") == 0 && r->m == M_POST) {
        if (require_staff(r, "boxoffice") == 0)
            post_logout(r);
        return;
    }
    if (n == 1 && strcmp(parts[0], "me") == 0 && r->m == M_GET) {
        if (require_staff(r, "boxoffice") == 0) {
            sm_buf b;
            sm_buf_init(&b, 1024);
            sm_buf_adds(&b, "{\"user\":");
            sm_buf_add_json_str(&b, r->user.name);
            sm_buf_printf(&b, ",\"role\":\"%s\"}", r->user.role);
            respond_buf(r, 200, &b);
        }
        return;
    }
    if (n == 1 && strcmp(parts[0], "shows") == 0 && r->m == M_GET)
        return get_shows(r);
    if (n < 2 || strcmp(parts[0], "shows") != 0)
        return respond_error(r, 404, "not_found", "no such API endpoint", NULL);
    s = shows_get(r->a, parts[1]);
    if (!s)
        return respond_error(r, 404, "unknown_show", "there is no such show", NULL);
    if (n == 2 && r->m == M_GET)
        return get_show(r, s);
    if (n == 3 && strcmp(parts[2], "seats") == 0 && r->m == M_GET)
        return get_seats(r, s);
    if (n == 3 && strcmp(parts[2], "holds") == 0 && r->m == M_GET) {
        if (require_staff(r, "boxoffice") == 0)
            get_holds(r, s);
        return;
    }
    if (n == 3 && strcmp(parts[2], "bookings") == 0 && r->m == M_GET) {
        if (require_staff(r, "boxoffice") == 0)
            get_bookings(r, s);
        return;
    }
    if (n == 3 && strcmp(parts[2], "bookings") == 0 && r->m == M_POST) {
        if (require_staff(r, "boxoffice") == 0)
            post_booking(r, s);
        return;
    }
    if (n == 4 && strcmp(parts[2], "bookings") == 0 && r->m == M_DELETE) {
        if (require_staff(r, "admin") == 0)
            delete_booking(r, s, parts[3]);
        return;
    }
    if (r->m == M_OTHER)
        respond_error(r, 405, "method_not_allowed", "this method is not supported here", NULL);
    else
        respond_error(r, 404, "not_found", "no such API endpoint", NULL);
}

static const char *mime_of(const char *path)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"},
                 {".json", "application/json"},
                 {".webmanifest", "application/manifest+json"},
                 {".woff2", "font/woff2"},
                 {".txt", "text/plain; charset=utf-8"}};
    const char *dot = strrchr(path, '.');
    size_t i;
    for (i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].mime;
    return NULL;
}

/* Serves a file of the web directory. 0: lws owns the transaction now,
 * 1: answered with an error, 2: already complete, -1: close. */
static int serve_static(http_req *r)
{
    char file[2048];
    const char *rel = r->path, *mime;
    struct stat st;
    int n;

    if (strcmp(rel, "/") == 0)
        rel = "/index.html";
    else if (strcmp(rel, "/boxoffice") == 0 || strcmp(rel, "/boxoffice/") == 0)
        rel = "/boxoffice.html";
    mime = mime_of(rel);
    if (r->m != M_GET || strstr(rel, "..") || strstr(rel, "//") || !mime) {
        respond_error(r, 404, "not_found", "no such page", NULL);
        return 1;
    }
    snprintf(file, sizeof(file), "%s%s", r->a->cfg.web_dir, rel);
    if (stat(file, &st) || !S_ISREG(st.st_mode)) {
        respond_error(r, 404, "not_found", "no such page", NULL);
        return 1;
    }
    n = lws_serve_http_file(r->wsi, file, mime, NULL, 0);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(r->wsi)))
        return -1;
    return 0;
}

static void dispatch(http_req *r)
{
    if (strcmp(r->path, "/healthz") == 0)
        healthz(r);
    else if (strncmp(r->path, "/api/", 5) == 0)
        route_api(r);
    else
        respond_error(r, 404, "not_found", "no such page", NULL);
}

static void req_detach(http_session *pss)
{
    http_req *r = pss ? pss->r : NULL; /* lws gives no session to a request it refused */
    if (!r)
        return;
    r->wsi = NULL;
    pss->r = NULL;
    req_unref(r);
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    http_session *pss = user;
    app *a = lws_context_user(lws_get_context(wsi));
    http_req *r = NULL;
    char clen[32];

    /* `user` is our session only for the HTTP reasons below. */
    if (pss && (reason == LWS_CALLBACK_HTTP_BODY || reason == LWS_CALLBACK_HTTP_BODY_COMPLETION ||
                reason == LWS_CALLBACK_HTTP_WRITEABLE))
        r = pss->r;

    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        long long n;
        req_detach(pss);
        r = calloc(1, sizeof(*r));
        if (!r)
            return -1;
        r->a = a;
        r->wsi = wsi;
        r->refs = 1;
        sm_buf_init(&r->body, HTTP_MAX_BODY);
        snprintf(r->path, sizeof(r->path), "%s", (const char *)in);
        pss->r = r;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
            r->m = M_GET;
        else if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
            r->m = M_POST;
        else if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
            r->m = M_DELETE;
        else
            r->m = M_OTHER;
        if (strncmp(r->path, "/api/", 5) != 0 && strcmp(r->path, "/healthz") != 0) {
            int rc = serve_static(r);
            if (rc == 1)
                return 0;    /* answered with an error, written as usual */
            req_detach(pss); /* lws serves the file (or failed) on its own */
            if (rc == 2 && lws_http_transaction_completed(wsi))
                return -1;
            return rc < 0 ? -1 : 0;
        }
        if (r->m != M_POST) {
            dispatch(r);
            return 0;
        }
        if (!header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof(clen))) {
            respond_error(r, 411, "length_required", "send the body with a Content-Length", NULL);
            return 0;
        }
        n = atoll(clen);
        if (n < 0 || n > HTTP_MAX_BODY) {
            respond_error(r, 413, "too_large", "the body is too large", NULL);
            return 0;
        }
        if (n == 0)
            dispatch(r);
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (r && !r->ready && sm_buf_add(&r->body, in, len))
            respond_error(r, 413, "too_large", "the body is too large", NULL);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* With pipelined bytes waiting behind a body, lws 4.1.6 calls
         * BODY_COMPLETION again and again (a busy loop) until the answer is
         * written, and ours may wait for Redis or a password check. HTTP lets
         * a server close instead of answering pipelined requests: do that. */
        if (r && r->dispatched)
            return -1;
        if (r) {
            r->dispatched = 1;
            dispatch(r);
        }
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        int rc;
        if (!r || !r->ready)
            return 0;
        rc = write_response(r);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            req_detach(pss);
            if (lws_http_transaction_completed(wsi))
                return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        req_detach(pss);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
