/*
 * ledger_engine.h - what a database engine gives the ledger, and what the
 * ledger modules share underneath. Internal to the ledger modules; the rest
 * of the server uses ledger.h and ledger_accounts.h only.
 *
 * The engine is a table of function pointers, one per operation the server
 * needs, chosen once at ledger_open (like SQLite's VFS). Below it sits
 * ledger_engine.c: the handle itself (engine, engine state, last error
 * message) and helpers the engines and both front modules use. Calls only go
 * down: ledger.c -> the engines and ledger_engine.c; ledger_accounts.c and
 * every engine -> ledger_engine.c; ledger_engine.c calls none of them by
 * name. An engine reaches nothing above it.
 *
 * Division of work: ledger.c and ledger_accounts.c check every argument that
 * does not depend on the engine (names, roles, text limits, seat lists) and
 * zero the caller's out structs; ledger.c also buffers audit rows and caches
 * the secret. By the time an engine function runs, its arguments are valid,
 * so an engine only stores and reads, and maps its own failures to LEDGER_E*
 * codes with a message (ledger__set_err).
 *
 * Every engine function takes the handle first and finds its own state with
 * ledger__state. Each returns 0 or a negative LEDGER_E* code and, on
 * failure, leaves a message in the handle.
 */
#ifndef SEATMAP_LEDGER_ENGINE_H
#define SEATMAP_LEDGER_ENGINE_H

#include "ledger_types.h"

#include <stddef.h>
#include <stdint.h>

#define LEDGER__ERRMSG_MAX 256
#define LEDGER__SECRET_BYTES 32

/* One audit row as the engine writes it. The strings are the ledger's. */
typedef struct ledger_audit_row {
    int64_t at;
    const char *what, *show, *ref, *seats, *who;
} ledger_audit_row;

/* A booking to be made; every field already checked. */
typedef struct ledger_booking_new {
    const char *show;
    const char *hold_ref; /* "" or NULL for a walk-up sale */
    const char *payment_ref;
    const char *by;
    const char *const *seats; /* no seat twice */
    size_t nseats;
    const char *seats_joined; /* the same seats, space-separated */
    int64_t now_ms;
} ledger_booking_new;

typedef void (*ledger_seat_cb)(void *arg, const char *seat, int64_t booking_id);

typedef struct ledger_engine {
    const char *name; /* "sqlite", "postgresql" */

    /* Opens target, applies migrations and stores the engine state with
     * ledger__set_state. On failure a message is left; ledger_open then
     * calls close, which must cope with a half-opened state. */
    int (*open)(ledger *l, const char *target);
    /* Frees the engine state (NULL is fine). Buffered audit rows have been
     * written already. */
    void (*close)(ledger *l);

    /* Stores fresh as the shared secret unless one exists (the first writer
     * wins a race), then reads the stored one into out. */
    int (*secret)(ledger *l, const uint8_t fresh[LEDGER__SECRET_BYTES],
                  uint8_t out[LEDGER__SECRET_BYTES]);

    int (*show_add)(ledger *l, const char *id, const char *name, const char *venue_name,
                    const char *starts_at, const char *venue_json);
    int (*show_get)(ledger *l, const char *id, ledger_show *out);
    int (*show_list)(ledger *l, ledger_show **out, size_t *n);

    int (*user_add)(ledger *l, const char *name, const char *role, const char *pwhash);
    int (*user_get)(ledger *l, const char *name, ledger_user *out);
    int (*session_create)(ledger *l, int64_t user_id, const char *token_hash,
                          int64_t expires_at_ms);
    int (*session_lookup)(ledger *l, const char *token_hash, int64_t now_ms, ledger_user *out);
    int (*session_delete)(ledger *l, const char *token_hash);
    int (*token_add)(ledger *l, const char *name, const char *role, const char *token_hash);
    int (*token_lookup)(ledger *l, const char *token_hash, ledger_user *out);

    /* Commits the booking, its seats and its audit row together, durably.
     * On success *id is the new booking's. LEDGER_EEXISTS when the payment
     * ref is taken (*existing then holds that booking), LEDGER_ESEATTAKEN
     * when a seat is: then nothing is written. */
    int (*booking_create)(ledger *l, const ledger_booking_new *nb, int64_t *id,
                          ledger_booking *existing);
    int (*booking_by_payment)(ledger *l, const char *show, const char *payment_ref,
                              ledger_booking *out);
    int (*booking_by_hold)(ledger *l, const char *show, const char *hold_ref, ledger_booking *out);
    int (*booking_get)(ledger *l, const char *show, int64_t id, ledger_booking *out);
    int (*booking_list)(ledger *l, const char *show, ledger_booking **out, size_t *n);
    /* As ledger_booking_cancel, with its audit row in the same transaction. */
    int (*booking_cancel)(ledger *l, const char *show, int64_t id, const char *by, int64_t now_ms,
                          ledger_booking *out);
    int (*booked_seats)(ledger *l, const char *show, ledger_seat_cb cb, void *arg);
    int (*booking_max_id)(ledger *l, int64_t *out);
    int (*booked_count)(ledger *l, const char *show, int64_t *out);

    /* Writes n buffered audit rows in one transaction (all or none). */
    int (*audit_write)(ledger *l, const ledger_audit_row *rows, size_t n);

    /* Webhooks and deliveries: as ledger_webhooks.h, arguments checked. */
    int (*webhook_add)(ledger *l, const char *url, const char *events, const char *secret,
                       int64_t now_ms, int64_t *id);
    int (*webhook_get)(ledger *l, int64_t id, ledger_webhook *out);
    int (*webhook_list)(ledger *l, ledger_webhook **out, size_t *n);
    int (*webhook_delete)(ledger *l, int64_t id);
    int (*delivery_add)(ledger *l, int64_t webhook_id, const char *event_id, const char *event_type,
                        const char *payload, int64_t now_ms, int64_t *id, int *created);
    int (*delivery_get)(ledger *l, int64_t id, ledger_delivery *out);
    int (*delivery_list)(ledger *l, int64_t webhook_id, const char *status, size_t limit,
                         ledger_delivery **out, size_t *n);
    int (*delivery_update)(ledger *l, const ledger_delivery *d, int64_t now_ms);
    int (*delivery_count)(ledger *l, int64_t webhook_id, const char *status, int64_t *out);
    int (*delivery_delete)(ledger *l, int64_t id);
    int (*delivery_stats)(ledger *l, int64_t webhook_id, int64_t since_ms,
                          ledger_delivery_counts *out);
} ledger_engine;

extern const ledger_engine ledger_sqlite_engine;
extern const ledger_engine ledger_pg_engine;

/* Every operation slot of ledger_engine, in order (open and close too). An
 * engine must fill them all; the unit test test_ledger_engine.c checks it,
 * and ledger_engine.c checks at build time that this list covers the whole
 * struct. */
#define LEDGER__ENGINE_SLOTS(X)                                                                    \
    X(open)                                                                                        \
    X(close)                                                                                       \
    X(secret)                                                                                      \
    X(show_add)                                                                                    \
    X(show_get)                                                                                    \
    X(show_list)                                                                                   \
    X(user_add)                                                                                    \
    X(user_get)                                                                                    \
    X(session_create)                                                                              \
    X(session_lookup)                                                                              \
    X(session_delete)                                                                              \
    X(token_add)                                                                                   \
    X(token_lookup)                                                                                \
    X(booking_create)                                                                              \
    X(booking_by_payment)                                                                          \
    X(booking_by_hold)                                                                             \
    X(booking_get)                                                                                 \
    X(booking_list)                                                                                \
    X(booking_cancel)                                                                              \
    X(booked_seats)                                                                                \
    X(booking_max_id)                                                                              \
    X(booked_count)                                                                                \
    X(audit_write)                                                                                 \
    X(webhook_add)                                                                                 \
    X(webhook_get)                                                                                 \
    X(webhook_list)                                                                                \
    X(webhook_delete)                                                                              \
    X(delivery_add)                                                                                \
    X(delivery_get)                                                                                \
    X(delivery_list)                                                                               \
    X(delivery_update)                                                                             \
    X(delivery_count)                                                                              \
    X(delivery_delete)                                                                             \
    X(delivery_stats)

/* Sets the field of out for status (pending, failed, dead, ok) to n; other
 * words are ignored. */
void ledger__stats_add(ledger_delivery_counts *out, const char *status, int64_t n);

/* The name of the first slot engine leaves NULL, or NULL when it fills
 * every one. */
const char *ledger__engine_missing(const ledger_engine *engine);

/* Calls operation op of l's engine with l and the rest of the arguments;
 * an engine that leaves op NULL gets LEDGER_EIO and a message saying so
 * (ledger__unsupported) instead of a crash. The front modules call the
 * engine only through this. */
#define LEDGER__CALL(l, op, ...)                                                                   \
    (ledger__engine(l)->op ? ledger__engine(l)->op((l), __VA_ARGS__)                               \
                           : ledger__unsupported((l), #op))

/* ---- the handle (ledger_engine.c) ---- */

/* What ledger.c keeps in the handle (the secret cache, the audit buffer);
 * defined and owned by ledger.c, opaque to everything else. */
struct ledger__front;

/* A handle with engine and front and no engine state yet, or NULL when out
 * of memory. front stays the caller's: ledger__free does not free it. */
ledger *ledger__new(const ledger_engine *engine, struct ledger__front *front);
/* Frees the handle only (NULL is fine): the engine must have closed and the
 * caller freed its front first. */
void ledger__free(ledger *l);
struct ledger__front *ledger__front(ledger *l);

/* The engine chosen at open. */
const ledger_engine *ledger__engine(ledger *l);
void *ledger__state(ledger *l);
void ledger__set_state(ledger *l, void *state);
/* LEDGER_EIO with a message: l's engine does not implement op. */
int ledger__unsupported(ledger *l, const char *op);
/* Records a message for ledger_errmsg and returns code. */
int ledger__set_err(ledger *l, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The last message; the handle's, valid until the next call on it. */
const char *ledger__errmsg(ledger *l);

/* 1 if s is 1 to max bytes long (not NULL, not empty). */
int ledger__text_ok(const char *s, size_t max);

/* Splits a space-separated seat list into b->seats (owned by b).
 * 0, or -1 when out of memory (b then holds what was split; clear it). */
int ledger__seats_split(ledger_booking *b, const char *text);
/* Joins seats with single spaces into a malloc'd string (*out, the caller
 * frees). 0, or -1 when out of memory. */
int ledger__seats_join(const char *const *seats, size_t n, char **out);

/* What ledger_booking_clear and ledger_booking_list_free (ledger.h) do, for
 * the engines, which do not include ledger.h. */
void ledger__booking_clear(ledger_booking *b);
void ledger__booking_list_free(ledger_booking *list, size_t n);

#endif
