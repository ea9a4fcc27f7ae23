/*
 * ledger.h - the database: bookings (the durable truth), shows, the audit
 * trail and server metadata, and the handle (open, close, last error). Staff
 * users, sessions and API tokens are in ledger_accounts.h, which callers that
 * need them include themselves; the shared types and limits are in
 * ledger_types.h. With those two, this header is the whole interface: the
 * rest of the server never sees which engine is behind it.
 *
 * Engines (ledger_engine.h): SQLite (ledger_sqlite.c) for a file path;
 * PostgreSQL (ledger_pg.c) for a postgres:// or postgresql:// URL or a libpq
 * keyword string ("host=... dbname=..."). With SQLite the database runs in
 * WAL mode; migrations (schema/NNN_*.sql, embedded at build time) are
 * applied at open inside one transaction each and tracked with PRAGMA
 * user_version. PostgreSQL's (schema/pg/) are tracked in seatmap_schema.
 *
 * Every call is synchronous and meant for the event loop: they are short
 * indexed statements (with PostgreSQL, one network round trip each for
 * most: see ledger_pg.c); booking commits are durable (with SQLite,
 * synchronous=FULL, an fsync) so a 201 is never sent for a booking that a
 * power cut could lose. Audit rows are buffered and written in batches by
 * ledger_audit_flush (with SQLite at synchronous=NORMAL: they survive a crash
 * of seatmapd, and the next FULL commit makes them durable too).
 *
 * Errors: functions return 0 on success and a negative LEDGER_E* code
 * otherwise; ledger_errmsg gives the last human message.
 */
#ifndef SEATMAP_LEDGER_H
#define SEATMAP_LEDGER_H

#include "ledger_types.h"

#include <stddef.h>
#include <stdint.h>

/* Opens (creating if needed) the database and applies migrations. path is a
 * file name (SQLite) or a PostgreSQL URL or keyword string (the database
 * must exist; its tables are created). On failure returns negative, *out is
 * NULL, and err holds one sentence, which never repeats a URL (it may hold a
 * password). The caller closes *out with ledger_close. */
int ledger_open(const char *path, ledger **out, char *err, size_t errlen);
void ledger_close(ledger *l);
const char *ledger_errmsg(ledger *l);

/* 32-byte secret shared by every process on this database (created on first
 * use, stored in the meta table). Used for buyer tokens. */
int ledger_secret(ledger *l, uint8_t out[32]);

/* ---- shows ---- */
void ledger_show_clear(ledger_show *s); /* frees venue_json */
/* LEDGER_EEXISTS if the id is taken. The venue text is stored so a show's
 * seat order never changes when the file does. */
int ledger_show_add(ledger *l, const char *id, const char *name, const char *venue_name,
                    const char *starts_at, const char *venue_json);
/* Fills *out (with venue_json) or LEDGER_ENOTFOUND. */
int ledger_show_get(ledger *l, const char *id, ledger_show *out);
/* Every show, ordered by starts_at then id, without venue_json.
 * *out is a malloc'd array the caller frees with free(). */
int ledger_show_list(ledger *l, ledger_show **out, size_t *n);

/* ---- bookings ---- */
void ledger_booking_clear(ledger_booking *b);
void ledger_booking_list_free(ledger_booking *list, size_t n);

/*
 * Commits a booking (synchronous=FULL) and its audit row in one transaction.
 * LEDGER_EEXISTS when (show, payment_ref) already exists: *out then holds that
 * existing booking. LEDGER_ESEATTAKEN when any seat has an active booking:
 * nothing is written. On success *out holds the new booking.
 */
int ledger_booking_create(ledger *l, const char *show, const char *hold_ref,
                          const char *const *seats, size_t nseats, const char *payment_ref,
                          const char *by, int64_t now_ms, ledger_booking *out);
int ledger_booking_by_payment(ledger *l, const char *show, const char *payment_ref,
                              ledger_booking *out);
/* The active booking made from a hold ref, if any (for reconciliation). */
int ledger_booking_by_hold(ledger *l, const char *show, const char *hold_ref, ledger_booking *out);
int ledger_booking_get(ledger *l, const char *show, int64_t id, ledger_booking *out);
/* All bookings of a show, newest first, cancelled ones included. */
int ledger_booking_list(ledger *l, const char *show, ledger_booking **out, size_t *n);
/* Marks a booking cancelled and frees its seats (with an audit row).
 * LEDGER_ENOTFOUND if no such booking; LEDGER_EINVAL if already cancelled.
 * On success *out holds the booking as cancelled. */
int ledger_booking_cancel(ledger *l, const char *show, int64_t id, const char *by, int64_t now_ms,
                          ledger_booking *out);
/* Every seat with an active booking in a show: calls cb(arg, seat, booking_id). */
int ledger_booked_seats(ledger *l, const char *show,
                        void (*cb)(void *arg, const char *seat, int64_t booking_id), void *arg);

/* The newest booking id of any show (0 when none): a watermark, so that
 * reconciling Redis with a read of the bookings leaves alone the bookings
 * made after that read. */
int ledger_booking_max_id(ledger *l, int64_t *out);
/* How many seats of a show have an active booking. */
int ledger_booked_count(ledger *l, const char *show, int64_t *out);

/* ---- audit ---- */
/*
 * Buffers one audit row: what ("hold", "release", "expire", "book",
 * "cancel", "sale"), the show, the hold ref or booking id, the seats
 * (space-separated), who ("buyer:<id>", "staff:<name>", "token:<name>",
 * "expiry"), and when. Never fails the caller: a full buffer is flushed.
 */
void ledger_audit(ledger *l, const char *what, const char *show, const char *ref, const char *seats,
                  const char *who, int64_t at_ms);
/* Writes buffered audit rows in one transaction. */
int ledger_audit_flush(ledger *l);
/* Drops the buffered audit rows without writing them (a server stopping
 * while the database does not answer: ledger_close would wait for it).
 * Returns how many. */
size_t ledger_audit_discard(ledger *l);

/*
 * Audit rows written by another handle (the server's loop buffers them, a
 * ledger queue's thread writes them: ledger_queue.h). A handle marked
 * buffer-only never writes by itself: a full buffer drops its oldest row
 * (counted and logged) instead of flushing, so that ledger_audit never waits
 * for the database. ledger_audit_take moves the buffered rows into a batch
 * the caller owns (NULL when there are none, or out of memory: they stay);
 * ledger_audit_give buffers a batch's rows on l, as ledger_audit, and frees
 * it (NULL: nothing).
 */
typedef struct ledger_audit_batch ledger_audit_batch;
void ledger_audit_buffer_only(ledger *l);
ledger_audit_batch *ledger_audit_take(ledger *l);
void ledger_audit_give(ledger *l, ledger_audit_batch *b);

#endif
