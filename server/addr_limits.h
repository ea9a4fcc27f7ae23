/*
 * addr_limits.h - the server's per-address limits (docs/security.md), built on
 * iplimit.h: connections per address and in all, new buyer identities per
 * address, sign-in throttling per (user, address) and per address, and a
 * gate that lets only a few password checks run at once.
 *
 * `--ip-limits off` turns the per-address limits off (for load tests from
 * one address); the total connection cap, the sign-in throttle and the
 * password gate stay on: they protect the server, not a share of it.
 *
 * Held seats per address are counted in Redis by hold.lua (several
 * processes share them); this module only says what the cap is.
 *
 * Not here: where the address comes from (http_client_addr), lws, HTTP.
 */
#ifndef SEATMAP_ADDR_LIMITS_H
#define SEATMAP_ADDR_LIMITS_H

#include "config.h"
#include "iplimit.h"

#include <stdint.h>

/* Beyond the per-address cap, this many more connections of the address
 * are accepted to be told 503; further ones are closed at accept. */
#define LIMITS_CONN_GRACE 64
#define LIMITS_LOGIN_FAILS_USER 5  /* failures per (user, address) ... */
#define LIMITS_LOGIN_FAILS_ADDR 20 /* ... and per address, in a window */
#define LIMITS_LOGIN_WINDOW_MS (15 * 60 * 1000)
#define LIMITS_LOGIN_LOCK_MS 10000 /* first lockout; doubles */
#define LIMITS_LOGIN_LOCK_MAX_MS (15 * 60 * 1000)
#define LIMITS_PW_PARALLEL 2 /* password checks at once (Argon2id, 64 MiB each) */
#define LIMITS_PW_QUEUE 64   /* waiting for a turn; more are refused */
#define LIMITS_PW_PER_ADDR                                                                         \
    2 /* running or waiting per address: one address cannot fill the queue                         \
       */

typedef struct limits_counts {
    uint64_t conns_refused;    /* over a connection cap: 503 or closed */
    uint64_t buyers_refused;   /* hello refused: identities per connection or address */
    uint64_t held_refused;     /* holds refused by the per-address seat cap */
    uint64_t logins_throttled; /* sign-ins answered 429 */
    uint64_t pw_busy;          /* sign-ins refused: the password queue was full */
    uint64_t ws_flooders;      /* WebSocket connections closed for flooding (1008) */
} limits_counts;

typedef struct limits limits;

/* NULL when out of memory. cfg must outlive the limits. */
limits *limits_new(const config *cfg);
void limits_free(limits *l);
limits_counts *limits_stats(limits *l);
/* Connections counted now. */
int limits_conns(const limits *l);
/* Call every few hundred ms: drops idle entries now and then. */
void limits_sweep(limits *l, int64_t now_ms);

/* Connections. limits_conn_accept: 0 to go on, -1 to close the socket at
 * once (far over the address's cap). limits_conn_open counts an accepted
 * connection of addr under key (filled; "" when not counted) and returns 0,
 * or 1 when it is over a cap and must be refused (503). limits_conn_close
 * undoes a counted open. */
int limits_conn_accept(limits *l, const char *addr);
int limits_conn_open(limits *l, const char *addr, char key[IPLIMIT_KEY_MAX]);
void limits_conn_close(limits *l, const char *key);

/* A new buyer identity minted for addr: 1 allowed, 0 refused (then
 * *wait_ms says when the next one is). */
int limits_new_buyer(limits *l, const char *addr, int64_t *wait_ms);

/* Seats a show may have held by one address, or 0 for no cap; the
 * address's key for hold.lua into key ("" for no cap). */
int limits_held_cap(const limits *l, const char *addr, char key[IPLIMIT_KEY_MAX]);

/* Sign-in: ms left of a lockout of (user, addr) or addr, 0 when free to
 * try; a failure (returns the lockout it started, 0 if none); a success
 * (clears the pair's failures, not the address's). */
int64_t limits_login_wait(limits *l, const char *user, const char *addr);
int64_t limits_login_failed(limits *l, const char *user, const char *addr);
void limits_login_ok(limits *l, const char *user, const char *addr);

/* The password gate: runs start(arg) now when fewer than
 * LIMITS_PW_PARALLEL checks run, or later in arrival order. 0 when started
 * or queued; -1 when the queue is full, -2 when addr already has
 * LIMITS_PW_PER_ADDR checks running or waiting (start is not called then).
 * Every started check must call limits_pw_done with the same addr once it
 * ends; that starts the next one waiting. */
int limits_pw_run(limits *l, const char *addr, void (*start)(void *arg), void *arg);
void limits_pw_done(limits *l, const char *addr);

#endif
