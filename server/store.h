/*
 * store.h - Redis, the owner of holds. Two async connections on the shared
 * libuv loop: one for commands (Lua scripts, each one atomic transition) and
 * one subscribed to every show's event channel, to expired-key events and to
 * a private keepalive channel.
 *
 * The store hides hiredis: it reconnects with backoff, reloads the scripts,
 * re-enables keyspace events, re-subscribes, and notices dead connections
 * (a command unanswered for STORE_REPLY_TIMEOUT_MS, or a keepalive that did
 * not come back on the subscriber). It knows nothing about seats or shows
 * beyond the key prefix: the scripts (server/lua) hold that logic.
 *
 * With a redis+cluster:// URL the two connections are replaced by a Redis
 * Cluster client (rcluster.h): each script goes to the master of its show's
 * slot, and a subscriber on every master brings expired-key events (they
 * are node-local) and the shows' messages.
 *
 * Not here: the seat cache (show.h), bookings (ledger.h).
 */
#ifndef SEATMAP_STORE_H
#define SEATMAP_STORE_H

#include "outcome.h"

#include <stddef.h>
#include <uv.h>

#define STORE_REPLY_TIMEOUT_MS 5000
#define STORE_BACKOFF_MIN_MS 100
#define STORE_BACKOFF_MAX_MS 5000
#define STORE_KEEPALIVE_MS 2000
#define STORE_MAX_ARGS 200010
#define STORE_HOST_MAX 255      /* longest host name in a Redis URL */
#define STORE_DB_MAX 2147483647 /* largest database number in a Redis URL */
#define STORE_DEFAULT_PORT 6379

typedef struct store store;

/* Errors of store_create, store_parse_url and store_script_text; the human
 * message is store_strerror(rc). */
enum {
    STORE_ERR = -1,          /* out of memory, or the embedded scripts are missing */
    STORE_URL_ESCHEME = -2,  /* a scheme other than redis:// */
    STORE_URL_EHOST = -3,    /* host empty, too long, or with other characters */
    STORE_URL_EPORT = -4,    /* port not a number from 1 to 65535 */
    STORE_URL_EDB = -5,      /* database not a number from 0 to STORE_DB_MAX */
    STORE_ENOSCRIPT = -6,    /* no such script in server/lua */
    STORE_URL_ECLUSTER = -7, /* a redis+cluster:// URL without valid HOST:PORT seeds */
};

/* A short English sentence for rc (static, never NULL; "" for 0). */
const char *store_strerror(int rc);

/* Where Redis is, as store_parse_url read it from a URL. */
typedef struct store_url {
    char host[STORE_HOST_MAX + 1]; /* letters, digits, '.', '-', '_' */
    int port;                      /* 1..65535; STORE_DEFAULT_PORT when not given */
    int db;                        /* 0..STORE_DB_MAX; 0 when not given */
} store_url;

/*
 * Reads redis://HOST[:PORT][/DB] or HOST[:PORT][/DB] (a trailing "/" alone
 * means database 0). PORT and DB are decimal digits only: "12x", "-1", "+1"
 * or a value out of range are refused, and so is anything after DB. No user,
 * password, query, IPv6 literal or other scheme. Returns 0 and fills *out, or
 * a STORE_URL_E* code and leaves *out untouched.
 */
int store_parse_url(const char *url, store_url *out);

/* 0 when url is one store_create takes: store_parse_url's form, or
 * redis+cluster://HOST:PORT[,HOST:PORT...] (rcluster.h); else the code. */
int store_check_url(const char *url);

/*
 * What a script answered. status is "ok" or a script's own word
 * ("seat_unavailable", "hold_expired", ...), or "unavailable" when Redis did
 * not answer. detail is the script's JSON detail or "". msgs are the
 * transitions the script published (JSON, see lib.lua). Everything is valid
 * only during the callback.
 */
typedef struct store_result {
    outcome outcome; /* status as an outcome (OUT_INTERNAL for a word outcome.h lacks) */
    const char *status;
    const char *detail;
    size_t nmsgs;
    const char **msgs;
    size_t nmore; /* messages that could not be passed on (out of memory): resync */
} store_result;

/* Reads a script's reply (NULL: Redis did not answer) into res, whose
 * strings point into the reply; the caller frees res->msgs with free()
 * once done. What every store_run callback gets; the seam the fuzzer
 * (tests/fuzz/fuzz_show.c) feeds with replies parsed by hiredis. */
struct redisReply;
void store_read_reply(const struct redisReply *reply, store_result *res);

/* What a caller hands its own callback when store_run said -1. */
#define STORE_RESULT_UNAVAILABLE                                                                   \
    {                                                                                              \
        .outcome = OUT_UNAVAILABLE, .status = "unavailable", .detail = ""                          \
    }

typedef void store_cb(void *arg, const store_result *res);

typedef struct store_events {
    /* Both connections are up (again): anything may have been missed, so
     * every cache must be rebuilt. */
    void (*on_ready)(void *arg);
    /* A connection was lost. Called once per loss; may be NULL. */
    void (*on_down)(void *arg);
    /* A transition of a show, from any process (pub/sub). */
    void (*on_message)(void *arg, const char *show, const char *json, size_t len);
    /* A key of this show expired in Redis: sweep it soon. */
    void (*on_expired)(void *arg, const char *show);
    void *arg;
} store_events;

/* url: see store_check_url. Starts connecting at once; never fails because
 * Redis is down. Returns 0, a STORE_URL_E* code for a bad URL (nothing is
 * created or connected, *out is NULL), or STORE_ERR. *out is owned by the
 * caller (store_destroy). */
int store_create(uv_loop_t *loop, const char *url, const store_events *ev, store **out);
/* Disconnects; pending callbacks are called with "unavailable". */
void store_destroy(store *st);
/* 1 when commands can be sent: the command connection is up (a cluster:
 * the topology is known and some master answers). */
int store_up(const store *st);
/* 1 when both connections are up. */
int store_ready(const store *st);

/*
 * Runs a script (name of server/lua/NAME.lua) for one show with ARGV =
 * prefix, args... 0: cb will be called exactly once, later. -1: Redis is
 * unavailable now; STORE_ENOSCRIPT: no script of that name. On an error
 * nothing is sent and cb will not be called.
 */
int store_run(store *st, const char *script, const char *show, int argc, const char *const *args,
              store_cb *cb, void *arg);

/*
 * The text SCRIPT LOAD is given for script NAME: the embedded lib.lua, a
 * newline, then NAME.lua. 0 and *out a malloc'd NUL-terminated string the
 * caller frees; STORE_ENOSCRIPT (also for "lib" itself) or STORE_ERR, and
 * *out NULL.
 */
int store_script_text(const char *name, char **out);

/* ---- Pure steps of the store, public so tests/unit/test_store.c can reach
 * them. ---- */

/* The backoff after a failed attempt at backoff_ms: doubled, at most
 * STORE_BACKOFF_MAX_MS. */
unsigned store_backoff_next(unsigned backoff_ms);
/* The wait before the next attempt: backoff_ms plus a jitter of up to a
 * quarter of it, taken from rnd (any value, e.g. rand()). */
unsigned store_backoff_delay(unsigned backoff_ms, unsigned rnd);
/* "sm:{SHOW}:..." (len bytes, need not be NUL-terminated) -> SHOW copied to
 * out (outlen bytes with the NUL). 0, or -1 when key is not a show's key or
 * SHOW is empty or does not fit. */
int store_show_of_key(const char *key, size_t len, char *out, size_t outlen);
/* What a Redis error reply means to a caller: "unavailable" for the ones
 * that pass (NOSCRIPT, LOADING, BUSY, OOM, READONLY), else "internal". */
const char *store_error_status(const char *err);

#endif
