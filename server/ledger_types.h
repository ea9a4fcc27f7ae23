/*
 * ledger_types.h - the types and limits every ledger module shares: the
 * opaque handle, the LEDGER_E* codes, the name and text limits, and the rows
 * callers get back (shows, users, bookings). Types only, no functions and no
 * .c file, so that ledger.h (bookings, shows, audit), ledger_accounts.h
 * (users, sessions, tokens) and ledger_engine.h (internal) can all include
 * it without including each other.
 *
 * Callers include ledger.h and/or ledger_accounts.h, not this file: the
 * functions that fill and free these structs (and say who owns what) are
 * declared there.
 */
#ifndef SEATMAP_LEDGER_TYPES_H
#define SEATMAP_LEDGER_TYPES_H

#include <stddef.h>
#include <stdint.h>

#define LEDGER_ENOTFOUND (-2)  /* no such row */
#define LEDGER_EEXISTS (-3)    /* unique key taken (user name, show id, payment ref) */
#define LEDGER_ESEATTAKEN (-4) /* a seat of a new booking is already booked */
#define LEDGER_EBUSY (-5)      /* database locked by another process for too long */
#define LEDGER_EINVAL (-6)     /* bad argument */
#define LEDGER_EIO (-1)        /* anything else from the database engine */

#define LEDGER_PAYMENT_REF_MAX 128
#define LEDGER_NAME_MAX 64
/* Longest show or venue name, and start time text, a show may have. */
#define LEDGER_SHOW_NAME_MAX 256
#define LEDGER_STARTS_AT_MAX 39

/* A token acts as the user "token:NAME"; its name leaves room for that. */
#define LEDGER_TOKEN_PREFIX "token:"
#define LEDGER_TOKEN_NAME_MAX (LEDGER_NAME_MAX - (int)(sizeof(LEDGER_TOKEN_PREFIX) - 1))
/* Longest stored hash of a session or API token. */
#define LEDGER_TOKEN_HASH_MAX 128

/* The open database; made by ledger_open, ended by ledger_close (ledger.h). */
typedef struct ledger ledger;

typedef struct ledger_show {
    char id[65];
    char name[257];
    char venue_name[257];
    char starts_at[40]; /* ISO 8601 as given, or "" */
    char *venue_json;   /* the venue document as stored at `show add`; owned */
} ledger_show;

typedef struct ledger_user {
    int64_t id;
    char name[LEDGER_NAME_MAX + 1];
    char role[16]; /* "boxoffice" or "admin" */
    char pwhash[128];
} ledger_user;

typedef struct ledger_booking {
    int64_t id;
    char show[65];
    char hold_ref[16]; /* "" for a walk-up sale */
    char payment_ref[LEDGER_PAYMENT_REF_MAX + 1];
    char by[LEDGER_NAME_MAX + 8];
    int64_t created_at;   /* unix ms */
    int64_t cancelled_at; /* unix ms, 0 while active */
    size_t nseats;
    char **seats; /* owned, with the strings; free with ledger_booking_clear */
} ledger_booking;

/* ---- webhooks (ledger_webhooks.h) ---- */
#define LEDGER_URL_MAX 2048
#define LEDGER_EVENTS_MAX 255    /* the comma-separated event types of a webhook */
#define LEDGER_WH_SECRET_MAX 127 /* "whsec_" + base64 */
#define LEDGER_EVENT_ID_MAX 127
#define LEDGER_EVENT_TYPE_MAX 31
#define LEDGER_DELIVERY_ERROR_MAX 255

typedef struct ledger_webhook {
    int64_t id;
    char url[LEDGER_URL_MAX + 1];
    char events[LEDGER_EVENTS_MAX + 1]; /* "hold.expired,booking.created" */
    char secret[LEDGER_WH_SECRET_MAX + 1];
    int64_t created_at; /* unix ms */
} ledger_webhook;

typedef struct ledger_delivery {
    int64_t id;
    int64_t webhook_id;
    char event_id[LEDGER_EVENT_ID_MAX + 1];
    char event_type[LEDGER_EVENT_TYPE_MAX + 1];
    char status[8]; /* "pending", "failed", "dead", "ok" */
    int attempts;
    int base_attempts; /* attempts made before the last manual retry */
    char last_error[LEDGER_DELIVERY_ERROR_MAX + 1];
    int64_t next_attempt_at; /* unix ms; 0 when none is planned */
    int64_t created_at;
    char *payload; /* the event JSON; owned, free with ledger_delivery_clear */
} ledger_delivery;

/* A webhook's deliveries counted by status, and those that went ok since a
 * given time (the dashboard's "delivered per minute"). */
typedef struct ledger_delivery_counts {
    int64_t pending, failed, dead, ok;
    int64_t ok_since;
} ledger_delivery_counts;

#endif
