/*
 * outcome.h - every result a request can have, as one enum, and the one
 * table from an outcome to what the wire says about it: the error code of
 * PROTOCOL.md, the HTTP status and a default human message (curl's CURLcode
 * with curl_easy_strerror, libuv's UV_E* with uv_strerror).
 *
 * The Lua scripts answer with the same words as the codes here ("ok",
 * "seat_unavailable", ...); outcome_parse turns a script's word into an
 * outcome once, so nothing above the store compares strings.
 *
 * Not here: how a reply is framed (ws.c, http_request.c).
 */
#ifndef SEATMAP_OUTCOME_H
#define SEATMAP_OUTCOME_H

typedef enum outcome {
    OUT_OK = 0,
    /* requests */
    OUT_BAD_REQUEST,
    OUT_HELLO_REQUIRED,
    OUT_RATE_LIMITED,
    OUT_TOO_LARGE,
    OUT_LENGTH_REQUIRED,
    OUT_URI_TOO_LONG,
    OUT_NOT_FOUND,
    OUT_METHOD_NOT_ALLOWED,
    /* staff */
    OUT_UNAUTHORIZED,
    OUT_FORBIDDEN,
    OUT_BAD_ORIGIN,
    OUT_BAD_CREDENTIALS,
    /* shows, seats, holds, bookings */
    OUT_UNKNOWN_SHOW,
    OUT_UNKNOWN_SEAT,
    OUT_SEAT_UNAVAILABLE,
    OUT_HOLD_LIMIT,
    OUT_NOT_HELD,
    OUT_HOLD_LOCKED,
    OUT_HOLD_EXPIRED,
    OUT_ALREADY_CANCELLED,
    /* scripts only: never sent (a retry with new codes, a sweep to go on) */
    OUT_RETRY,
    OUT_MORE,
    /* failures */
    OUT_UNAVAILABLE,
    OUT_INTERNAL,
    OUT_COUNT_
} outcome;

/* The wire word of an outcome ("seat_unavailable"); "internal" when out of range. */
const char *outcome_code(outcome o);
/* The HTTP status that goes with it (409 for seat_unavailable, ...). */
int outcome_http_status(outcome o);
/* A default message for people, in plain words. */
const char *outcome_message(outcome o);
/* The outcome named by a word (a script's status); OUT_INTERNAL for a word
 * nobody defined. */
outcome outcome_parse(const char *word);

#endif
