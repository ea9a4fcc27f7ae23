/*
 * ledger_webhooks.c - the engine-independent half of ledger_webhooks.h: what
 * a valid webhook URL and event list are (the CLI and the API check with the
 * same functions), argument checks with their messages, and dispatch to the
 * engine chosen at ledger_open. Beside ledger.c and ledger_accounts.c; it
 * reaches the handle and the engine only through ledger_engine.c.
 */
#include "ledger_webhooks.h"

#include "ledger_engine.h"

#include <stdlib.h>
#include <string.h>

static const char *const event_types[] = {
    "hold.created",      "hold.updated", "hold.released", "hold.expired", "booking.created",
    "booking.cancelled", NULL,
};

int ledger_webhook_url_ok(const char *url)
{
    const char *host, *p;
    if (!url || strlen(url) > LEDGER_URL_MAX)
        return 0;
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return 0;
    if (!*host || *host == '/' || *host == ':' || *host == '?' || *host == '#')
        return 0;
    for (p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

int ledger_event_type_ok(const char *type)
{
    int i;
    for (i = 0; type && event_types[i]; i++)
        if (strcmp(type, event_types[i]) == 0)
            return 1;
    return 0;
}

/* 1 if the n bytes at w are one of the types. */
static int type_ok_n(const char *w, size_t n)
{
    int i;
    for (i = 0; event_types[i]; i++)
        if (strlen(event_types[i]) == n && strncmp(w, event_types[i], n) == 0)
            return 1;
    return 0;
}

/* 1 if the n bytes at w are a word of the comma-separated list. */
static int list_has(const char *list, const char *w, size_t n)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, w, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

int ledger_webhook_events_ok(const char *events)
{
    const char *p = events;
    if (!events || !*events || strlen(events) > LEDGER_EVENTS_MAX)
        return 0;
    if (strcmp(events, "*") == 0)
        return 1;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!type_ok_n(p, n))
            return 0;
        /* not twice: no earlier occurrence */
        if ((size_t)(p - events) > 0) {
            char *before = strndup(events, (size_t)(p - events - 1));
            int dup = before ? list_has(before, p, n) : 0;
            free(before);
            if (dup)
                return 0;
        }
        if (!e)
            return 1;
        p = e + 1;
    }
}

int ledger_webhook_wants(const char *events, const char *type)
{
    if (!events || !type)
        return 0;
    return strcmp(events, "*") == 0 || list_has(events, type, strlen(type));
}

static int status_ok(const char *s)
{
    return s && (strcmp(s, "pending") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "dead") == 0 ||
                 strcmp(s, "ok") == 0);
}

int ledger_webhook_add(ledger *l, const char *url, const char *events, const char *secret,
                       int64_t now_ms, int64_t *id)
{
    if (!ledger_webhook_url_ok(url))
        return ledger__set_err(l, LEDGER_EINVAL,
                               "the URL must be an http:// or https:// URL with a host, at most "
                               "%d bytes, without spaces",
                               LEDGER_URL_MAX);
    if (!ledger_webhook_events_ok(events))
        return ledger__set_err(l, LEDGER_EINVAL,
                               "events must be a comma-separated list of hold.created, "
                               "hold.updated, hold.released, hold.expired, booking.created, "
                               "booking.cancelled (each once), or *");
    if (!secret || strncmp(secret, "whsec_", 6) != 0 ||
        !ledger__text_ok(secret, LEDGER_WH_SECRET_MAX))
        return ledger__set_err(l, LEDGER_EINVAL, "the secret must start with whsec_");
    return LEDGER__CALL(l, webhook_add, url, events, secret, now_ms, id);
}

int ledger_webhook_get(ledger *l, int64_t id, ledger_webhook *out)
{
    memset(out, 0, sizeof(*out));
    return LEDGER__CALL(l, webhook_get, id, out);
}

int ledger_webhook_list(ledger *l, ledger_webhook **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return LEDGER__CALL(l, webhook_list, out, n);
}

int ledger_webhook_delete(ledger *l, int64_t id)
{
    return LEDGER__CALL(l, webhook_delete, id);
}

void ledger_delivery_clear(ledger_delivery *d)
{
    free(d->payload);
    d->payload = NULL;
}

void ledger_delivery_list_free(ledger_delivery *list, size_t n)
{
    size_t i;
    for (i = 0; list && i < n; i++)
        ledger_delivery_clear(&list[i]);
    free(list);
}

int ledger_delivery_add(ledger *l, int64_t webhook_id, const char *event_id, const char *event_type,
                        const char *payload, int64_t now_ms, int64_t *id, int *created)
{
    if (!ledger__text_ok(event_id, LEDGER_EVENT_ID_MAX) ||
        !ledger__text_ok(event_type, LEDGER_EVENT_TYPE_MAX) || !payload || !*payload)
        return ledger__set_err(l, LEDGER_EINVAL, "an event needs an id, a type and a body");
    *created = 0;
    return LEDGER__CALL(l, delivery_add, webhook_id, event_id, event_type, payload, now_ms, id,
                        created);
}

int ledger_delivery_get(ledger *l, int64_t id, ledger_delivery *out)
{
    memset(out, 0, sizeof(*out));
    return LEDGER__CALL(l, delivery_get, id, out);
}

int ledger_delivery_list(ledger *l, int64_t webhook_id, const char *status, size_t limit,
                         ledger_delivery **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (status && !status_ok(status))
        return ledger__set_err(l, LEDGER_EINVAL, "status must be pending, failed, dead or ok");
    return LEDGER__CALL(l, delivery_list, webhook_id, status, limit, out, n);
}

int ledger_delivery_update(ledger *l, const ledger_delivery *d, int64_t now_ms)
{
    if (!status_ok(d->status))
        return ledger__set_err(l, LEDGER_EINVAL, "status must be pending, failed, dead or ok");
    return LEDGER__CALL(l, delivery_update, d, now_ms);
}

int ledger_delivery_count(ledger *l, int64_t webhook_id, const char *status, int64_t *out)
{
    *out = 0;
    if (status && !status_ok(status))
        return ledger__set_err(l, LEDGER_EINVAL, "status must be pending, failed, dead or ok");
    return LEDGER__CALL(l, delivery_count, webhook_id, status, out);
}

int ledger_delivery_delete(ledger *l, int64_t id)
{
    return LEDGER__CALL(l, delivery_delete, id);
}

int ledger_delivery_stats(ledger *l, int64_t webhook_id, int64_t since_ms,
                          ledger_delivery_counts *out)
{
    memset(out, 0, sizeof(*out));
    return LEDGER__CALL(l, delivery_stats, webhook_id, since_ms, out);
}
