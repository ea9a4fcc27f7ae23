/*
 * webhook_json.h - the JSON shapes of webhooks' event lists and deliveries,
 * written by the admin API (api_webhooks.c) and the live dashboard
 * (admin_feed.c) alike, so both always show a delivery the same way
 * (docs/webhooks.md).
 */
#ifndef SEATMAP_WEBHOOK_JSON_H
#define SEATMAP_WEBHOOK_JSON_H

#include "ledger_types.h"
#include "util.h"

/* A JSON array of the comma-separated event types ("*" stays "*"). */
void webhook_json_events(sm_buf *b, const char *events);
/* A delivery without its payload: {"id","webhook_id","event_id","event_type",
 * "status","attempts","last_error","next_attempt_at","created_at"}. */
void webhook_json_delivery(sm_buf *b, const ledger_delivery *d);

#endif
