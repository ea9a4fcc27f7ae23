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
 * Also here: the sweep that expires overdue holds, and reconciliation of
 * booked seats and frozen holds with SQLite.
 */
#ifndef SEATMAP_SHOW_H
#define SEATMAP_SHOW_H

#include "app.h"
#include "client.h"
#include "venue.h"

#include <stdint.h>

typedef struct hold {
    char ref[AUTH_REF_LEN + 1];
    char buyer[AUTH_BUYER_ID_LEN + 1]; /* "" for a box-office sale in progress */
    int64_t expires_at;
    size_t nseats;
    uint32_t *seats; /* seat indexes, owned */
} hold;

typedef struct show {
    app *app;
    char id[SM_SHOW_ID_MAX + 1];
    char name[257];
    char starts_at[40];
    venue *venue; /* owned */
    size_t nseats;
    char *state;   /* 'e' 'p' 'b' per seat: now */
    char *flushed; /* as of flushed_seq: what watchers have */
    int64_t seq, flushed_seq;
    int64_t last_flush_mono;
    frame *snapshot; /* shared snapshot (hold null) of flushed_seq, or NULL */
    uint32_t *dirty; /* seats changed since the last tick */
    uint8_t *dirty_mark;
    size_t ndirty;
    sm_map holds_by_ref;   /* ref -> hold* (owned) */
    sm_map holds_by_buyer; /* buyer id -> hold* (same objects) */
    client *watchers;
    size_t nwatchers;
    int loaded;       /* the cache has been built at least once */
    int synced;       /* the cache matches Redis as of seq */
    int syncing;      /* a snapshot request is out */
    int snapshot_all; /* after the resync, send every watcher a snapshot */
    char **backlog;   /* messages that arrived during a resync */
    size_t nbacklog;
    int sweeping, sweep_again;
    char *api_json; /* GET /api/shows/{id}, built on first use; owned */
    size_t api_len;
    char *api_gz; /* the same, gzipped once for clients that accept it */
    size_t api_gz_len;
} show;

/* The show with this id, loading it from SQLite on first use; NULL when
 * there is no such show (or its stored venue no longer parses). */
show *shows_get(app *a, const char *id);
/* Frees every show (at shutdown). */
void shows_free(app *a);

/* A transition message (see server/lua/lib.lua); `local` when it came back
 * as our own script's reply rather than over pub/sub. */
void show_apply(show *s, const char *json, size_t len);
/* Applies every message of a script result. */
void show_apply_result(show *s, const store_result *res);

/* Adds c as a watcher (leaving any other show); it gets a snapshot as soon as
 * the show is synced. */
void show_watch(show *s, client *c);
void show_unwatch(client *c);
/* This buyer's live hold in the show, or NULL. */
const hold *show_hold_of(const show *s, const char *buyer_id);
/* Appends a hold as JSON {"ref","seats":[...],"expires_at"} (or null). */
int show_hold_json(const show *s, const hold *h, sm_buf *b);
/* Sends the hold event of a buyer to all its connections on this process. */
void shows_notify_buyer(app *a, show *s, const char *buyer_id, const char *reason);

/* Timers and store events, wired up by server.c. */
void shows_tick(app *a);
void shows_sweep(app *a);
void shows_maintain(app *a);
void shows_store_ready(app *a);
void shows_store_message(app *a, const char *show_id, const char *json, size_t len);
void shows_store_expired(app *a, const char *show_id);

/* Rebuilds a show's cache from Redis; with `snapshots`, every watcher gets a
 * fresh snapshot afterwards. */
void show_resync(show *s, int snapshots);
/* Makes Redis's booked seats of the show match SQLite (ensure.lua). Run when
 * Redis may have lost or missed something: on (re)connect, on loading a
 * show, and after a booking or cancellation whose Redis step failed. */
void show_ensure_booked(show *s);

#endif
