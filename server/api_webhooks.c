/*
 * api_webhooks.c - the webhooks and their deliveries, for administrators:
 * POST/GET /api/webhooks, DELETE /api/webhooks/{id},
 * GET /api/webhooks/{id}/deliveries[?status=pending|failed|dead|ok][&limit=N],
 * GET /api/deliveries/{id} (one delivery with its payload),
 * POST /api/deliveries/{id}/retry, POST /api/deliveries/{id}/discard
 * (docs/webhooks.md). This file parses,
 * calls the ledger or the delivery module and translates the result.
 */
#include "api.h"
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

static void db_error(http_req *r, ledger *l)
{
    sm_warn("webhooks API: %s", ledger_errmsg(l));
    http_respond_error(r, OUT_UNAVAILABLE, "the database is unavailable; try again", NULL);
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

void api_webhooks_create(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    cJSON *j = http_req_json(r);
    const cJSON *url;
    char events[LEDGER_EVENTS_MAX + 1], secret[WH_SECRET_LEN + 1];
    ledger_webhook h;
    int64_t id = 0;
    sm_buf b;

    if (!j)
        return;
    url = cJSON_GetObjectItemCaseSensitive(j, "url");
    if (!cJSON_IsString(url) || !ledger_webhook_url_ok(url->valuestring)) {
        http_respond_error(r, OUT_BAD_REQUEST,
                           "\"url\" must be an http:// or https:// URL with a host (no other "
                           "schemes; redirects are not followed)",
                           NULL);
        cJSON_Delete(j);
        return;
    }
    if (read_events(r, cJSON_GetObjectItemCaseSensitive(j, "events"), events, sizeof(events))) {
        cJSON_Delete(j);
        return;
    }
    wh_secret_new(secret);
    if (ledger_webhook_add(a->ledger, url->valuestring, events, secret, sm_now_ms(), &id) ||
        ledger_webhook_get(a->ledger, id, &h)) {
        db_error(r, a->ledger);
        cJSON_Delete(j);
        return;
    }
    cJSON_Delete(j);
    if (a->webhooks)
        webhooks_changed(a->webhooks);
    sm_buf_init(&b, 64 * 1024);
    webhook_json(&b, a->ledger, &h);
    b.len--; /* the closing brace: the secret goes in, shown this once */
    sm_buf_adds(&b, ",\"secret\":");
    sm_buf_add_json_str(&b, secret);
    sm_buf_addc(&b, '}');
    sodium_memzero(secret, sizeof(secret));
    http_respond_json(r, 201, &b);
}

void api_webhooks_list(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    ledger_webhook *list = NULL;
    size_t n = 0, i;
    sm_buf b;

    if (ledger_webhook_list(a->ledger, &list, &n)) {
        db_error(r, a->ledger);
        return;
    }
    sm_buf_init(&b, 16u * 1024 * 1024);
    sm_buf_addc(&b, '[');
    for (i = 0; i < n; i++) {
        sm_buf_adds(&b, i ? "," : "");
        webhook_json(&b, a->ledger, &list[i]);
    }
    sm_buf_addc(&b, ']');
    free(list);
    http_respond_json(r, 200, &b);
}

void api_webhooks_delete(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    int64_t id = path_id(p, "id");
    int rc = id ? ledger_webhook_delete(a->ledger, id) : LEDGER_ENOTFOUND;
    sm_buf b;

    if (rc == LEDGER_ENOTFOUND) {
        http_respond_error(r, OUT_NOT_FOUND, "there is no such webhook", NULL);
        return;
    }
    if (rc) {
        db_error(r, a->ledger);
        return;
    }
    if (a->webhooks)
        webhooks_changed(a->webhooks);
    sm_buf_init(&b, 256);
    sm_buf_printf(&b, "{\"id\":%lld,\"deleted\":true}", (long long)id);
    http_respond_json(r, 200, &b);
}

void api_webhooks_deliveries(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    int64_t id = path_id(p, "id");
    char status[16], limit_text[16], *end;
    long limit = API_DELIVERIES_DEFAULT;
    ledger_delivery *list = NULL;
    ledger_webhook h;
    size_t n = 0, i;
    sm_buf b;

    if (!id || ledger_webhook_get(a->ledger, id, &h)) {
        http_respond_error(r, OUT_NOT_FOUND, "there is no such webhook", NULL);
        return;
    }
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
    if (ledger_delivery_list(a->ledger, id, status[0] ? status : NULL, (size_t)limit, &list, &n)) {
        db_error(r, a->ledger);
        return;
    }
    sm_buf_init(&b, 16u * 1024 * 1024);
    sm_buf_addc(&b, '[');
    for (i = 0; i < n; i++) {
        sm_buf_adds(&b, i ? "," : "");
        webhook_json_delivery(&b, &list[i]);
    }
    sm_buf_addc(&b, ']');
    ledger_delivery_list_free(list, n);
    http_respond_json(r, 200, &b);
}

void api_delivery_retry(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    int64_t id = path_id(p, "id");
    ledger_delivery d;
    int rc = id && a->webhooks ? webhooks_retry(a->webhooks, id, &d) : LEDGER_ENOTFOUND;
    sm_buf b;

    if (rc == LEDGER_ENOTFOUND) {
        http_respond_error(r, OUT_NOT_FOUND, "there is no such delivery", NULL);
        return;
    }
    if (rc == LEDGER_EINVAL) {
        http_respond_error_status(r, 409, OUT_BAD_REQUEST,
                                  "only a failed or dead delivery can be retried", NULL);
        return;
    }
    if (rc == -1) {
        http_respond_error(r, OUT_UNAVAILABLE, "the job queue (Redis) is unavailable; try again",
                           NULL);
        return;
    }
    if (rc) {
        db_error(r, a->ledger);
        return;
    }
    sm_buf_init(&b, 64 * 1024);
    webhook_json_delivery(&b, &d);
    http_respond_json(r, 200, &b);
}

/* The delivery of the path's {id} with its payload, or 0 after answering
 * 404 (or 503). The caller clears *d. */
static int delivery_of_path(http_req *r, const http_params *p, ledger_delivery *d)
{
    app *a = http_req_ctx(r);
    int64_t id = path_id(p, "id");
    int rc = id ? ledger_delivery_get(a->ledger, id, d) : LEDGER_ENOTFOUND;
    if (rc == LEDGER_ENOTFOUND)
        http_respond_error(r, OUT_NOT_FOUND,
                           "there is no such delivery (ids are positive whole numbers)", NULL);
    else if (rc)
        db_error(r, a->ledger);
    return rc == 0;
}

void api_delivery_get(http_req *r, const http_params *p)
{
    ledger_delivery d;
    cJSON *payload;
    sm_buf b;

    if (!delivery_of_path(r, p, &d))
        return;
    sm_buf_init(&b, 1024 * 1024);
    webhook_json_delivery(&b, &d);
    b.len--; /* the closing brace: the event goes in */
    sm_buf_adds(&b, ",\"payload\":");
    /* The event as it is POSTed: JSON the Lua scripts wrote; shown as a
     * string should a row ever hold anything else. */
    payload = cJSON_Parse(d.payload ? d.payload : "");
    if (cJSON_IsObject(payload))
        sm_buf_adds(&b, d.payload);
    else
        sm_buf_add_json_str(&b, d.payload ? d.payload : "");
    cJSON_Delete(payload);
    sm_buf_addc(&b, '}');
    ledger_delivery_clear(&d);
    http_respond_json(r, 200, &b);
}

void api_delivery_discard(http_req *r, const http_params *p)
{
    app *a = http_req_ctx(r);
    ledger_delivery d;
    int rc;
    sm_buf b;

    if (!delivery_of_path(r, p, &d))
        return;
    ledger_delivery_clear(&d);
    if (strcmp(d.status, "ok") == 0)
        rc = LEDGER_EINVAL;
    else
        rc = a->webhooks ? webhooks_discard(a->webhooks, d.id)
                         : ledger_delivery_delete(a->ledger, d.id);
    if (rc == LEDGER_ENOTFOUND) {
        http_respond_error(r, OUT_NOT_FOUND, "there is no such delivery", NULL);
        return;
    }
    if (rc == LEDGER_EINVAL) {
        http_respond_error_status(
            r, 409, OUT_BAD_REQUEST,
            "this delivery has already been delivered (ok): nothing to discard", NULL);
        return;
    }
    if (rc) {
        db_error(r, a->ledger);
        return;
    }
    sm_buf_init(&b, 256);
    sm_buf_printf(&b, "{\"id\":%lld,\"webhook_id\":%lld,\"discarded\":true}", (long long)d.id,
                  (long long)d.webhook_id);
    http_respond_json(r, 200, &b);
}
