/*
 * iplimit.h - per-address accounting: how many connections an address has
 * open, a token bucket per address (new buyer identities), and failure
 * counters with a growing lockout (sign-ins). The server's limits of
 * docs/security.md are built on it.
 *
 * Keys are client addresses normalised by iplimit_key: an IPv4 address as
 * it is, an IPv6 address by its /64 (one household or one cloud machine
 * usually gets a whole /64), an IPv4-mapped IPv6 address as IPv4. Callers
 * may put anything else in front of a key ("alice\n10.0.0.1") to count
 * per (name, address).
 *
 * Memory is bounded: a table holds at most `max_entries` keys; an entry
 * with no open connection, no lockout and nothing counted for `idle_ms`
 * is dropped by iplimit_sweep. When the table is full, new keys are
 * refused (the functions say so), never grown past the bound.
 *
 * Not here: where the address comes from (http_request.h's
 * http_client_addr), what the limits are (config.h), and anything of lws.
 * Not thread-safe: one event loop.
 */
#ifndef SEATMAP_IPLIMIT_H
#define SEATMAP_IPLIMIT_H

#include <stddef.h>
#include <stdint.h>

#define IPLIMIT_KEY_MAX 64 /* "ffff:ffff:ffff:ffff::/64" and IPv4 fit */

typedef struct iplimit iplimit;

/* NULL when out of memory. idle_ms: how long an idle entry is kept. */
iplimit *iplimit_new(size_t max_entries, int64_t idle_ms);
void iplimit_free(iplimit *t);
size_t iplimit_size(const iplimit *t);

/* Normalises a textual address into out (IPLIMIT_KEY_MAX bytes). Text that
 * is no address is kept as it is (cut to fit). */
void iplimit_key(const char *addr, char out[IPLIMIT_KEY_MAX]);

/* Connections: open returns the key's count after counting this one, or
 * -1 when the table is full (then nothing was counted: do not call close).
 * close undoes one open. */
int iplimit_conn_open(iplimit *t, const char *key);
void iplimit_conn_close(iplimit *t, const char *key);
int iplimit_conns(const iplimit *t, const char *key);

/* Token bucket of the key: `rate` tokens a second, at most `burst` saved
 * (a new key starts full). 1 when a token was taken, 0 when refused (also
 * when the table is full). *wait_ms, when not NULL, gets how long until
 * the next token. */
int iplimit_take(iplimit *t, const char *key, double rate, double burst, int64_t now_ms,
                 int64_t *wait_ms);

/* Failures (sign-ins). iplimit_locked: ms left of the key's lockout, 0 when
 * none. iplimit_fail counts a failure: once `threshold` failures fall in
 * `window_ms`, the key is locked for `lock_ms`, doubled at each further
 * lockout up to `lock_max_ms`; returns the lockout it set (0: none yet).
 * iplimit_clear forgets the key's failures (a success). */
int64_t iplimit_locked(const iplimit *t, const char *key, int64_t now_ms);
int64_t iplimit_fail(iplimit *t, const char *key, int threshold, int64_t window_ms, int64_t lock_ms,
                     int64_t lock_max_ms, int64_t now_ms);
void iplimit_clear(iplimit *t, const char *key);

/* Drops idle entries; call it every few seconds. */
void iplimit_sweep(iplimit *t, int64_t now_ms);

#endif
