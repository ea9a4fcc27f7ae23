/*
 * ledger_json.h - ledger records as JSON, the one shape the HTTP API and the
 * webhook events (booking.created, booking.cancelled) share, so a shop sees
 * the same booking wherever it reads it.
 *
 * Not here: parsing, HTTP.
 */
#ifndef SEATMAP_LEDGER_JSON_H
#define SEATMAP_LEDGER_JSON_H

#include "ledger_types.h"
#include "util.h"

/* Appends bk as {"id","show","seats","payment_ref","created_at","by","hold",
 * "cancelled_at","status"} to b (failures stick in b: sm_buf_failed). */
void ledger_booking_json(sm_buf *b, const ledger_booking *bk);

/* The same as a malloc'd NUL-terminated string the caller frees, or NULL
 * when out of memory. */
char *ledger_booking_json_str(const ledger_booking *bk);

#endif
