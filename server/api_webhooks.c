/*
 * api_webhooks.c - the webhooks and their deliveries, for administrators:
 * POST/GET /api/webhooks, DELETE /api/webhooks/{id},
 * GET /api/webhooks/{id}/deliveries[?status=pending|failed|dead|ok][&limit=N],
 * GET /api/deliveries/{id} (one delivery with its payload),
 * POST /api/deliveries/{id}/retry, POST /api/deliveries/{id}/discard
 * (docs/webhooks.md). This file parses on the loop; the ledger calls and
 * the answer's JSON are made on the webhooks queue's thread (api_db.h), in
 * order with the dispatcher's own calls, and the answer goes out on the loop.
 */
#include "api.h"
#include "api_db.h"
#include "ledger_webhooks.h"
#include "webhook_json.h"
#include "webhook_sign.h"
#include "webhooks.h"

#include <cjson/cJSON.h>

#include <sodium.h>

#include <stdlib.h>
#include <string.h>

#define API_DELIVERIES_DEFAULT 100
#define API_DELIVERIES_MAX 1000

/* A positive id from the path, or 0. */
static int64_t path_id(const http_params *p, const char *name)
{
    const char *t = http_param(p, name);
    char *end;
    long long v = t && *t >= '0' && *t <= '9' ? strtoll(t, &end, 10) : 0;
    return v > 0 && !*end ? v : 0;
}

/* A webhook without its secret, with its deliveries counted by status. */
static void webhook_json(sm_buf *b, ledger *l, const ledger_webhook *h)
{
    static const char *const statuses[] = {"pending", "failed", "dead", "ok"};
    size_t i;
    sm_buf_printf(b, "{\"id\":%lld,\"url\":", (long long)h->id);
    sm_buf_add_json_str(b, h->url);
    sm_buf_adds(b, ",\"events\":");
    webhook_json_events(b, h->events);
    sm_buf_printf(b, ",\"created_at\":%lld,\"deliveries\":{", (long long)h->created_at);
    for (i = 0; i < 4; i++) {
        int64_t n = 0;
        ledger_delivery_count(l, h->id, statuses[i], &n);
        sm_buf_printf(b, "%s\"%s\":%lld", i ? "," : "", statuses[i], (long long)n);
    }
    sm_buf_adds(b, "}}");
}

/* "a,b" from a JSON array of event type strings into out; 0, or -1 after
 * answering 400. */
static int read_events(http_req *r, const cJSON *arr, char *out, size_t outlen)
{
    const cJSON *e;
    size_t n = 0;
    out[0] = '\0';
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        http_respond_error(r, OUT_BAD_REQUEST,
                           "\"events\" must be a non-empty array of event types, e.g. "
                           "[\"hold.expired\",\"booking.created\"], or [\"*\"]",
                           NULL);
        return -1;
    }
    cJSON_ArrayForEach(e, arr)
    {
        int w;
        if (!cJSON_IsString(e) || !*e->valuestring)
            break;
        w = snprintf(out + n, outlen - n, "%s%s", n ? "," : "", e->valuestring);
        if (w < 0 || (size_t)w >= outlen - n)
            break;
        n += (size_t)w;
    }
    if (e || !ledger_webhook_events_ok(out)) {
        http_respond_error(r, OUT_BAD_REQUEST,
                           "unknown or repeated event type: use hold.created, hold.updated, "
                           "hold.released, hold.expired, booking.created, booking.cancelled, or "
                           "\"*\" alone",
                           NULL);
        return -1;
    }
    return 0;
}

typedef enum wh_op {
    WH_CREATE,
    WH_LIST,
    WH_DELETE,
    WH_DELIVERIES,
    WH_GET,
    WH_RETRY,
    WH_DISCARD
} wh_op;

/* One request of this API: its inputs (copied on the loop), and its answer
 * (made on the thread: a status with a JSON body, or an error). */
typedef struct wh_call {
    api_db_call call;
    wh_op op;
    int64_t id;
    char url[LEDGER_URL_MAX + 1];
    char events[LEDGER_EVENTS_MAX + 1];
    char secret[WH_SECRET_LEN + 1];
    char status[16];
    long limit;
    /* the answer */
    int http_status; /* 0 until set */
    outcome err;     /* OUT_OK: body is the answer */
    const char *msg; /* a static message with err */
    sm_buf body;
    char why[256];             /* the database's message, logged on the loop */
    ledger_delivery d, before; /* a retry's, to queue on the loop */
    int changed;               /* the registry changed: the dispatcher re-reads it */
    app *a;
    int settled; /* the loop's part (wh_settle) is done */
    int queued;  /* a retry: its job is in the Redis queue (0: it could not be) */
} wh_call;

static void fail(wh_call *c, int status, outcome err, const char *msg)
{
    c->http_status = status;
    c->err = err;
    c->msg = msg;
}

static void db_failed(wh_call *c, ledger *l)
{
    snprintf(c->why, sizeof(c->why), "%s", ledger_errmsg(l));
    fail(c, 503, OUT_UNAVAILABLE, "the database is unavailable; try again");
}

static void run_create(ledger *l, wh_call *c)
{
    ledger_webhook h;
    int64_t id = 0;
    if (ledger_webhook_add(l, c->url, c->events, c->secret, sm_now_ms(), &id) ||
        ledger_webhook_get(l, id, &h)) {
        db_failed(c, l);
        return;
    }
    c->changed = 1;
    sm_buf_init(&c->body, 64 * 1024);
    webhook_json(&c->body, l, &h);
    c->body.len--; /* the closing brace: the secret goes in, shown this once */
    sm_buf_adds(&c->body, ",\"secret\":");
    sm_buf_add_json_str(&c->body, c->secret);
    sm_buf_addc(&c->body, '}');
    c->http_status = 201;
}

static void run_list(ledger *l, wh_call *c)
{
    ledger_webhook *list = NULL;
    size_t n = 0, i;
    if (ledger_webhook_list(l, &list, &n)) {
        db_failed(c, l);
        return;
    }
    sm_buf_init(&c->body, 16u * 1024 * 1024);
    sm_buf_addc(&c->body, '[');
    for (i = 0; i < n; i++) {
        sm_buf_adds(&c->body, i ? "," : "");
        webhook_json(&c->body, l, &list[i]);
    }
    sm_buf_addc(&c->body, ']');
    free(list);
    c->http_status = 200;
}

static void run_delete(ledger *l, wh_call *c)
{
    int rc = c->id ? ledger_webhook_delete(l, c->id) : LEDGER_ENOTFOUND;
    if (rc == LEDGER_ENOTFOUND) {
        fail(c, 404, OUT_NOT_FOUND, "there is no such webhook");
        return;
    }
    if (rc) {
        db_failed(c, l);
        return;
    }
    c->changed = 1;
    sm_buf_init(&c->body, 256);
    sm_buf_printf(&c->body, "{\"id\":%lld,\"deleted\":true}", (long long)c->id);
    c->http_status = 200;
}

static void run_deliveries(ledger *l, wh_call *c)
{
    ledger_delivery *list = NULL;
    ledger_webhook h;
    size_t n = 0, i;
    if (!c->id || ledger_webhook_get(l, c->id, &h)) {
        fail(c, 404, OUT_NOT_FOUND, "there is no such webhook");
        return;
    }
    if (ledger_delivery_list(l, c->id, c->status[0] ? c->status : NULL, (size_t)c->limit, &list,
                             &n)) {
        db_failed(c, l);
        return;
    }
    sm_buf_init(&c->body, 16u * 1024 * 1024);
    sm_buf_addc(&c->body, '[');
    for (i = 0; i < n; i++) {
        sm_buf_adds(&c->body, i ? "," : "");
        webhook_json_delivery(&c->body, &list[i]);
    }
    sm_buf_addc(&c->body, ']');
    ledger_delivery_list_free(list, n);
    c->http_status = 200;
}

/* The delivery of the path's {id} with its payload into *d, or 0 after
 * failing 404 (or 503). The caller clears *d. */
static int delivery_of(ledger *l, wh_call *c, ledger_delivery *d)
{
    int rc = c->id ? ledger_delivery_get(l, c->id, d) : LEDGER_ENOTFOUND;
    if (rc == LEDGER_ENOTFOUND)
        fail(c, 404, OUT_NOT_FOUND, "there is no such delivery (ids are positive whole numbers)");
    else if (rc)
        db_failed(c, l);
    return rc == 0;
}

static void run_get(ledger *l, wh_call *c)
{
    ledger_delivery d;
    cJSON *payload;

    if (!delivery_of(l, c, &d))
        return;
    sm_buf_init(&c->body, 1024 * 1024);
    webhook_json_delivery(&c->body, &d);
    c->body.len--; /* the closing brace: the event goes in */
    sm_buf_adds(&c->body, ",\"payload\":");
    /* The event as it is POSTed: JSON the Lua scripts wrote; shown as a
     * string should a row ever hold anything else. */
    payload = cJSON_Parse(d.payload ? d.payload : "");
    if (cJSON_IsObject(payload))
        sm_buf_adds(&c->body, d.payload);
    else
        sm_buf_add_json_str(&c->body, d.payload ? d.payload : "");
    cJSON_Delete(payload);
    sm_buf_addc(&c->body, '}');
    ledger_delivery_clear(&d);
    c->http_status = 200;
}

static void run_retry(ledger *l, wh_call *c)
{
    int rc = c->id ? webhooks_retry_prepare(l, c->id, &c->d, &c->before) : LEDGER_ENOTFOUND;
    if (rc == LEDGER_ENOTFOUND)
        fail(c, 404, OUT_NOT_FOUND, "there is no such delivery");
    else if (rc == LEDGER_EINVAL)
        fail(c, 409, OUT_BAD_REQUEST, "only a failed or dead delivery can be retried");
    else if (rc)
        db_failed(c, l);
    else
        c->http_status = 200; /* queued on the loop (wh_answer) */
}

static void run_discard(ledger *l, wh_call *c)
{
    ledger_delivery d;
    int rc;

    if (!delivery_of(l, c, &d))
        return;
    ledger_delivery_clear(&d);
    rc = strcmp(d.status, "ok") == 0 ? LEDGER_EINVAL : webhooks_discard_run(l, d.id);
    if (rc == LEDGER_ENOTFOUND) {
        fail(c, 404, OUT_NOT_FOUND, "there is no such delivery");
    } else if (rc == LEDGER_EINVAL) {
        fail(c, 409, OUT_BAD_REQUEST,
             "this delivery has already been delivered (ok): nothing to discard");
    } else if (rc) {
        db_failed(c, l);
    } else {
        sm_buf_init(&c->body, 256);
        sm_buf_printf(&c->body, "{\"id\":%lld,\"webhook_id\":%lld,\"discarded\":true}",
                      (long long)d.id, (long long)d.webhook_id);
        c->http_status = 200;
    }
}

/* On the webhooks queue's thread. */
static void wh_run(ledger *l, api_db_call *call)
{
    wh_call *c = call->data;
    static void (*const runs[])(ledger *, wh_call *) = {
        [WH_CREATE] = run_create,         [WH_LIST] = run_list, [WH_DELETE] = run_delete,
        [WH_DELIVERIES] = run_deliveries, [WH_GET] = run_get,   [WH_RETRY] = run_retry,
        [WH_DISCARD] = run_discard,
    };
    runs[c->op](l, c);
}

/* The loop's part of what the thread did, once, whether or not anyone is
 * still waiting for the answer (a call answered 503 by the bound, or whose
 * client left): the dispatcher re-reads a changed registry, and a retry the
 * thread made pending gets its job in the queue, else it would stay pending
 * with nothing to run it. */
static void wh_settle(wh_call *c)
{
    app *a = c->a;
    if (c->settled)
        return;
    c->settled = 1;
    if (c->why[0])
        sm_warn("webhooks API: %s", c->why);
    if (c->changed && a->webhooks)
        webhooks_changed(a->webhooks);
    if (c->op == WH_RETRY && c->err == OUT_OK && c->http_status == 200)
        c->queued = a->webhooks && webhooks_retry_queue(a->webhooks, &c->d, &c->before) == 0;
}

static void wh_answer(http_req *r, api_db_call *call)
{
    wh_call *c = call->data;

    wh_settle(c);
    if (c->err != OUT_OK) {
        http_respond_error_status(r, c->http_status, c->err, c->msg, NULL);
        return;
    }
    if (c->op == WH_RETRY) {
        if (!c->queued) {
            http_respond_error(r, OUT_UNAVAILABLE,
                               "the job queue (Redis) is unavailable; try again", NULL);
            return;
        }
        sm_buf_init(&c->body, 64 * 1024);
        webhook_json_delivery(&c->body, &c->d);
    }
    http_respond_json(r, c->http_status, &c->body);
}

static void wh_release(api_db_call *call)
{
    wh_call *c = call->data;
    if (c->http_status) /* the thread ran it */
        wh_settle(c);
    sm_buf_free(&c->body);
    sodium_memzero(c->secret, sizeof(c->secret));
    free(c);
}

/* A call of op for r, or NULL after answering 500. */
static wh_call *wh_new(http_req *r, wh_op op, const http_params *p)
{
    wh_call *c = calloc(1, sizeof(*c));
    if (!c) {
        http_respond_error(r, OUT_INTERNAL, "out of memory", NULL);
        return NULL;
    }
    c->op = op;
    c->err = OUT_OK;
    c->id = path_id(p, "id");
    c->call.data = c;
    return c;
}

static void wh_start(http_req *r, wh_call *c)
{
    app *a = http_req_ctx(r);
    c->a = a;
    api_db_call_on(a, a->webhooks_queue, r, &c->call, wh_run, wh_answer, wh_release);
}

void api_webhooks_create(http_req *r, const http_params *p)
{
    cJSON *j = http_req_json(r);
    const cJSON *url;
    char events[LEDGER_EVENTS_MAX + 1];
    wh_call *c;

    if (!j)
        return;
    url = cJSON_GetObjectItemCaseSensitive(j, "url");
    if (!cJSON_IsString(url) || !ledger_webhook_url_ok(url->valuestring) ||
        strlen(url->valuestring) > LEDGER_URL_MAX) {
        http_respond_error(r, OUT_BAD_REQUEST,
                           "\"url\" must be an http:// or https:// URL with a host (no other "
                           "schemes; redirects are not followed)",
                           NULL);
        cJSON_Delete(j);
        return;
    }
    if (read_events(r, cJSON_GetObjectItemCaseSensitive(j, "events"), events, sizeof(events)) ||
        !(c = wh_new(r, WH_CREATE, p))) {
        cJSON_Delete(j);
        return;
    }
    snprintf(c->url, sizeof(c->url), "%s", url->valuestring);
    snprintf(c->events, sizeof(c->events), "%s", events);
    cJSON_Delete(j);
    wh_secret_new(c->secret);
    wh_start(r, c);
}

/* A request with nothing to parse but the path's {id}. */
static void wh_path_only(http_req *r, wh_op op, const http_params *p)
{
    wh_call *c = wh_new(r, op, p);
    if (c)
        wh_start(r, c);
}

void api_webhooks_list(http_req *r, const http_params *p)
{
    wh_path_only(r, WH_LIST, p);
}

void api_webhooks_delete(http_req *r, const http_params *p)
{
    wh_path_only(r, WH_DELETE, p);
}

void api_webhooks_deliveries(http_req *r, const http_params *p)
{
    char status[16], limit_text[16], *end;
    long limit = API_DELIVERIES_DEFAULT;
    wh_call *c;

    http_req_query(r, "status", status, sizeof(status));
    http_req_query(r, "limit", limit_text, sizeof(limit_text));
    if (status[0] && strcmp(status, "pending") != 0 && strcmp(status, "failed") != 0 &&
        strcmp(status, "dead") != 0 && strcmp(status, "ok") != 0) {
        http_respond_error(r, OUT_BAD_REQUEST, "status must be pending, failed, dead or ok", NULL);
        return;
    }
    if (limit_text[0]) {
        limit = strtol(limit_text, &end, 10);
        if (*end || limit < 1 || limit > API_DELIVERIES_MAX) {
            http_respond_error(r, OUT_BAD_REQUEST, "limit must be a number from 1 to 1000", NULL);
            return;
        }
    }
    if (!(c = wh_new(r, WH_DELIVERIES, p)))
        return;
    snprintf(c->status, sizeof(c->status), "%s", status);
    c->limit = limit;
    wh_start(r, c);
}

void api_delivery_retry(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    if (a->webhooks && !webhooks_redis_up(a->webhooks)) {
        http_respond_error(r, OUT_UNAVAILABLE, "the job queue (Redis) is unavailable; try again",
                           NULL);
        return;
    }
    wh_path_only(r, WH_RETRY, p);
}

void api_delivery_get(http_req *r, const http_params *p)
{
    wh_path_only(r, WH_GET, p);
}

void api_delivery_discard(http_req *r, const http_params *p)
{
    wh_path_only(r, WH_DISCARD, p);
}
