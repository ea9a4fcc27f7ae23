/*
 * show.h - each show's seat states in memory, and their fan-out.
 *
 * The cache of one show is the seat-state array, its seq and its live holds.
 * It is written only by transitions (JSON messages from the Lua scripts,
 * whether they arrive as a script's reply or over pub/sub; a seq already
 * seen is ignored) and by a resync from Redis's snapshot script, which runs
 * when the show is loaded, after any reconnect, and whenever a seq gap shows
 * that a message was missed.
 *
 * Fan-out: changes mark seats dirty; every tick one delta frame per show is
 * built once and queued to every watcher (shared, reference counted). A new
 * watcher's snapshot is taken from the state as of the last tick ("flushed"),
 * so it and the next delta always join up at the same seq.
 *
 * Overload: a watcher whose previous frame is still unsent skips the tick's
 * delta; when that frame is out (client.h's drain callback) it gets one
 * delta merged from the seq it has to the flushed seq, built from the show's
 * backlog of recent changes (show_backlog.h) and shared by every watcher at
 * that seq. So a watcher has at most one pending frame, and a delta's
 * `from` is always the seq its client has. The same merged deltas answer a
 * watch that resumes from a seq (show_watch_since).
 *
 * Also here: the sweep that expires overdue holds, and reconciliation of
 * booked seats and frozen holds with the ledger.
 *
 * Ownership: the `shows` registry owns every show it loaded (until
 * shows_free); a show* stays valid for the life of the registry. Watchers
 * are the caller's clients, referenced only while watching.
 *
 * Not here: the wire protocol of requests (ws.c, api_*.c), bookings
 * (booking.h).
 */
#ifndef SEATMAP_SHOW_H
#define SEATMAP_SHOW_H

#include "auth.h"
#include "client.h"
#include "ledger.h"
#include "ledger_queue.h"
#include "store.h"
#include "util.h"
#include "venue.h"

#include <stdint.h>

typedef struct shows shows;
typedef struct show show;
typedef struct watcher watcher;

/* A live hold, as the cache knows it. Read-only outside show.c. */
typedef struct hold {
    char ref[AUTH_REF_LEN + 1];
    char buyer[AUTH_BUYER_ID_LEN + 1]; /* "" for a box-office sale in progress */
    int64_t expires_at;
    size_t nseats;
    uint32_t *seats; /* seat indexes, owned */
} hold;

typedef struct shows_config {
    store *store;           /* holds and pub/sub */
    ledger *ledger;         /* shows, bookings, audit */
    client_hub *hub;        /* where a buyer's hold events go */
    const char *instance;   /* "host:port" of this process (see sweep.lua); copied */
    const char *started_ms; /* unix ms of this start, as text; copied */
    int tick_ms;            /* delta coalescing period */
    long frozen_bound_ms;   /* a hold frozen longer than this is reconciled */
} shows_config;

/* ---- the registry ---- */

/* NULL when out of memory. */
shows *shows_new(const shows_config *cfg);
/* Frees every show; no watcher may remain. */
void shows_free(shows *all);
/* Audit rows are written on q's thread from now on (see show.c), never on
 * the loop; NULL (tests) writes them inline. */
void shows_set_audit_queue(shows *all, ledger_queue *q);
/* After q is closed: takes back a batch it never wrote. NULL is a no-op. */
void shows_audit_reclaim(shows *all);
/* The show with this id if it is in the cache, else NULL: never a database
 * call (a show not loaded yet is loaded off the loop: show_load.h). */
show *shows_get(shows *all, const char *id);
/* Puts a show read from the ledger into the cache and starts its sync from
 * Redis. Takes v (freed when the show cannot be added, and when the id is
 * in the cache already: that show is returned); name and starts_at are
 * copied. NULL when out of memory or id is not a show id. */
show *shows_add(shows *all, const char *id, const char *name, const char *starts_at, venue *v);
/* shows_get, else reads and parses the show on cfg.ledger and adds it:
 * BLOCKING, for the start (before the loop runs) and tests only. NULL when
 * there is no such show (or its stored venue no longer parses). */
show *shows_load_now(shows *all, const char *id);
/* Loads every show of the ledger, so each is swept and kept in sync:
 * blocking (shows_load_now), called once at start before the server
 * listens; shows added later are loaded off the loop (show_load.h). */
void shows_load_all(shows *all);
/* Watchers of every show together. */
size_t shows_watcher_count(const shows *all);
/* Shows loaded, and the watchers of one show. */
size_t shows_count(const shows *all);
size_t show_watcher_count(const show *s);
/* The (at most max) shows with the most watchers, busiest first, into out;
 * shows without watchers are left out. Returns how many. */
size_t shows_busiest(const shows *all, const show **out, size_t max);
/* 1 when every show's seat cache is loaded (a new process is ready). */
int shows_all_loaded(const shows *all);

/* Timers and store events, wired up by server.c. */
/* Flushes due changes; 1 when a flush is spread over loop turns: then
 * shows_flush_more once per loop turn (server.c: an idle handle) until it
 * returns 0, so requests and Redis replies are read between its chunks. */
int shows_tick(shows *all);
int shows_flush_more(shows *all);
void shows_sweep(shows *all);
void shows_maintain(shows *all);
void shows_store_ready(shows *all);
void shows_store_message(shows *all, const char *show_id, const char *json, size_t len);
void shows_store_expired(shows *all, const char *show_id);

/* ---- one show ---- */

const char *show_id(const show *s);
const char *show_name(const show *s);
const char *show_starts_at(const show *s); /* "" when not set */
const venue *show_venue(const show *s);
size_t show_seat_count(const show *s);
/* 1 once the cache was built from Redis at least once. */
int show_loaded(const show *s);
int64_t show_seq(const show *s);
/* One state letter ('e', 'p', 'b') per seat, show_seat_count of them. */
const char *show_states(const show *s);

/* The live holds of buyers (not box-office sales in progress), newest
 * deadline first, in a new array the caller frees with free(); the holds
 * themselves stay the show's. 0 or -1 (out of memory). */
int show_hold_list(const show *s, const hold ***out, size_t *n);
/* This buyer's live hold in the show, or NULL. */
const hold *show_hold_of(const show *s, const char *buyer_id);
/* Appends a hold as JSON {"ref","seats":[...],"expires_at"} (or null). */
int show_hold_json(const show *s, const hold *h, sm_buf *b);

/* A cache slot for the show's HTTP layout document, which never changes:
 * gz selects the gzipped copy. show_layout_cache returns a new reference or
 * NULL; show_set_layout_cache takes references to both (gz may be NULL). */
frame *show_layout_cache(const show *s, int gz);
void show_set_layout_cache(show *s, frame *plain, frame *gz);
/* The cached layout's ETag (quoted, a hash of its bytes, made when it is
 * cached), or "" when nothing is cached. */
const char *show_layout_etag(const show *s);

/* Adds c as a watcher (leaving w_old, when not NULL); it gets a snapshot as
 * soon as the show is synced. Returns the watch, which the caller ends with
 * show_unwatch; NULL when out of memory. Takes a reference to c. */
watcher *show_watch(show *s, client *c);
void show_unwatch(watcher *w);
/* 1 when a watcher that has applied every change up to `since` can be
 * brought up to date with one delta (the show's backlog reaches back that
 * far), rather than a snapshot. */
int show_resumable(const show *s, int64_t since);
/* show_watch for a client that has the show's state as of `since` (-1: it
 * has nothing): when show_resumable, it gets one delta from since (none
 * when nothing changed since), else a snapshot. */
watcher *show_watch_since(show *s, client *c, int64_t since);

/* Applies every message of a script result; `who` is the audit's actor
 * ("staff:NAME", "expiry", ...), NULL for the buyer the message names. */
void show_apply_result(show *s, const store_result *res, const char *who);
/* A transition message from pub/sub (see server/lua/lib.lua). */
void show_apply(show *s, const char *json, size_t len);
/* Applies the answer of the snapshot script (what show_resync asks Redis
 * for): the seam tests use to load a show without a Redis. */
void show_sync_from(show *s, const store_result *res);

/* Rebuilds a show's cache from Redis; with `snapshots`, every watcher gets a
 * fresh snapshot afterwards. */
void show_resync(show *s, int snapshots);
/* Makes Redis's booked seats of the show match the ledger (ensure.lua). Run
 * when Redis may have lost or missed something: on (re)connect, on loading
 * a show, and after a booking or cancellation whose Redis step failed. */
void show_ensure_booked(show *s);
/* booking.c, about hold ref: held, a confirmation of this process froze it
 * and is committing (until released). in_doubt: a freeze of this process
 * may have run in Redis without the answer reaching us (the connection was
 * lost). A hold in doubt, frozen by this process and not held by any of its
 * confirmations, is reconciled with the ledger by the next sweep (booked
 * there: booked; else thawed) instead of after the frozen bound (10 s), so
 * its seats do not stay pending past their deadline while the box office
 * retries. No reconciliation touches a hold while it is held. */
void show_freeze_held(show *s, const char *ref);
void show_freeze_released(show *s, const char *ref);
void show_freeze_in_doubt(show *s, const char *ref);

#endif
