/*
 * ledger_webhooks.h - webhooks (URL, event types, signing secret) and their
 * deliveries (one event for one webhook: status, attempts, last error, next
 * attempt). Part of the ledger interface, on the same handle as ledger.h,
 * beside ledger_accounts.h: neither includes the other. The types and limits
 * are in ledger_types.h.
 *
 * The delivery rows are what the admin API shows; the work itself travels
 * through the job queue in Redis (jobq.h), which carries delivery ids.
 *
 * Not here: secrets' generation and HTTP (webhook.h).
 */
#ifndef SEATMAP_LEDGER_WEBHOOKS_H
#define SEATMAP_LEDGER_WEBHOOKS_H

#include "ledger_types.h"

#include <stddef.h>
#include <stdint.h>

/* 1 if url is an absolute http:// or https:// URL with a host, at most
 * LEDGER_URL_MAX bytes, without spaces or control characters; else 0. */
int ledger_webhook_url_ok(const char *url);
/* 1 if type is one of the event types a webhook may ask for (hold.created,
 * hold.updated, hold.released, hold.expired, booking.created,
 * booking.cancelled). */
int ledger_event_type_ok(const char *type);
/* 1 if events (comma-separated, no spaces) names only known types, none
 * twice, at least one; "*" alone means every type. */
int ledger_webhook_events_ok(const char *events);
/* 1 if a webhook with these events wants an event of type. */
int ledger_webhook_wants(const char *events, const char *type);

/* LEDGER_EINVAL (with a message saying what) for a bad url, events or
 * secret; else stores it durably and sets *id. */
int ledger_webhook_add(ledger *l, const char *url, const char *events, const char *secret,
                       int64_t now_ms, int64_t *id);
/* Fills *out or LEDGER_ENOTFOUND. */
int ledger_webhook_get(ledger *l, int64_t id, ledger_webhook *out);
/* Every webhook, oldest first: *out is malloc'd (the caller frees it). */
int ledger_webhook_list(ledger *l, ledger_webhook **out, size_t *n);
/* Deletes it and its deliveries; LEDGER_ENOTFOUND if none. */
int ledger_webhook_delete(ledger *l, int64_t id);

void ledger_delivery_clear(ledger_delivery *d); /* frees payload */
void ledger_delivery_list_free(ledger_delivery *list, size_t n);

/* The delivery of event_id to webhook_id, made now (status pending) or
 * found (it was made before: *created 0). *id is its id either way.
 * payload is copied. LEDGER_ENOTFOUND if the webhook is gone. */
int ledger_delivery_add(ledger *l, int64_t webhook_id, const char *event_id, const char *event_type,
                        const char *payload, int64_t now_ms, int64_t *id, int *created);
/* Fills *out (with payload) or LEDGER_ENOTFOUND. */
int ledger_delivery_get(ledger *l, int64_t id, ledger_delivery *out);
/* The newest deliveries of a webhook first, at most limit, of one status or
 * (status NULL) any; without payloads. *out is malloc'd: free it with
 * ledger_delivery_list_free. */
int ledger_delivery_list(ledger *l, int64_t webhook_id, const char *status, size_t limit,
                         ledger_delivery **out, size_t *n);
/* Writes d's status, attempts, base_attempts, last_error and
 * next_attempt_at. LEDGER_ENOTFOUND if it is gone. */
int ledger_delivery_update(ledger *l, const ledger_delivery *d, int64_t now_ms);
/* How many deliveries of a webhook have status (NULL: any). */
int ledger_delivery_count(ledger *l, int64_t webhook_id, const char *status, int64_t *out);
/* Removes a delivery for good (the API's discard): a job that still carries
 * its id finds nothing and ends. LEDGER_ENOTFOUND if there is none. */
int ledger_delivery_delete(ledger *l, int64_t id);
/* One webhook's deliveries counted by status in one query, and how many
 * went ok at or after since_ms (unix ms). */
int ledger_delivery_stats(ledger *l, int64_t webhook_id, int64_t since_ms,
                          ledger_delivery_counts *out);

#endif
