/*
 * show_load.h - shows not in the cache yet, loaded off the event loop.
 *
 * The cache (show.h) holds every show it loaded at start; a show added
 * later (by the CLI, another process, another machine) is loaded when a
 * request first names it. That load reads the ledger (ledger_show_get) and
 * parses the venue (5 MB for a stadium): both run on a ledger queue's
 * thread (the staff queue), never on the loop, so a database that stalls
 * stalls only the requests that wait for that show. The loop only installs
 * the parsed show (shows_add).
 *
 * One load per id at a time: requests for an id being loaded wait on the
 * same load. Outcomes are remembered for a moment, so that a script probing
 * ids, or a database that is down, costs at most one queued load per id:
 * "no such show" for SHOW_LOAD_UNKNOWN_MS, "database unavailable" for
 * SHOW_LOAD_DOWN_MS, in a table of at most SHOW_LOAD_REMEMBER ids (the
 * oldest goes first). At most SHOW_LOAD_MAX_LOADS loads and
 * SHOW_LOAD_MAX_WAITS waiting requests at once; beyond, a request is
 * answered `unavailable` at once. A wait not answered within the bound
 * (show_loader_config.wait_ms) is answered `unavailable`; its load goes on,
 * and the show is in the cache for the next request once it is back.
 *
 * Ownership: the loader owns its tables of loads and remembered outcomes.
 * A show_wait is the caller's (usually inside its parked request) and must
 * live until its done callback, which is called exactly once, on the loop.
 * A load's job copies the id before it is queued; its thread writes only
 * the job's own fields.
 *
 * Not here: the cache itself (show.h), what a waiting request does next
 * (ws.c parks and re-dispatches a message, api_routes.c resumes a route,
 * api_shows.c answers the list of shows once its new shows are loaded).
 */
#ifndef SEATMAP_SHOW_LOAD_H
#define SEATMAP_SHOW_LOAD_H

#include "ledger_queue.h"
#include "outcome.h"
#include "show.h"

#include <stdint.h>
#include <uv.h>

#define SHOW_LOAD_UNKNOWN_MS 2000 /* "no such show" is remembered this long */
#define SHOW_LOAD_DOWN_MS 1000    /* "the database did not answer" this long */
#define SHOW_LOAD_REMEMBER 1024   /* ids remembered at most */
#define SHOW_LOAD_MAX_LOADS 128   /* loads queued or running at most */
#define SHOW_LOAD_MAX_WAITS 4096  /* requests waiting at most */

typedef struct show_loader show_loader;
typedef struct show_wait show_wait;

/*
 * On the loop, once per wait: s is the show (in the cache from now on) with
 * OUT_OK, or NULL with OUT_UNKNOWN_SHOW (no such show, or its stored venue
 * does not parse) or OUT_UNAVAILABLE (the database did not answer, not
 * within the bound, or the loader stopped). After it, w is the caller's
 * again (it may free it).
 */
typedef void show_wait_done(show_wait *w, show *s, outcome o);

struct show_wait {
    void *data; /* the caller's */
    /* private */
    show_wait_done *done;
    struct show_load__pending *p;
    show_wait *next;
    int64_t deadline_mono; /* sm_mono_ms() */
};

typedef struct show_loader_config {
    uv_loop_t *loop;
    shows *shows;     /* where loaded shows go */
    ledger_queue *q;  /* the loads' thread (the staff queue); NULL (the
                       * fuzzers): no loads, a show not cached is unknown */
    int wait_ms;      /* a wait's bound (API_DB_WAIT_MS) */
    size_t queue_max; /* q's depth at which no more loads are queued */
} show_loader_config;

/* NULL when out of memory. */
show_loader *show_loader_new(const show_loader_config *cfg);

/*
 * The show named id: OUT_OK with *out when it is in the cache (w unused);
 * OUT_MORE when w now waits for its load (done(w, ...) follows, never
 * before this returns); or, answered at once with *out NULL,
 * OUT_UNKNOWN_SHOW (not a show id, or "no such show" remembered) or
 * OUT_UNAVAILABLE ("database unavailable" remembered, too many loads or
 * waits, the loader stopped, out of memory).
 */
outcome show_load(show_loader *l, const char *id, show **out, show_wait *w, show_wait_done *done);

/* Starts the load of id when it is not in the cache, not being loaded and
 * not remembered, with nobody waiting (the dashboard's feed, from its list
 * of shows: a later frame has it). */
void show_load_prefetch(show_loader *l, const char *id);

/* Loads queued or running, and requests waiting (tests, metrics). */
size_t show_load_pending(const show_loader *l);
size_t show_load_waiting(const show_loader *l);

/*
 * Before the queue closes (shutdown): every wait is answered
 * OUT_UNAVAILABLE now and no new one starts; loads still out end when the
 * queue closes, their results dropped. NULL is a no-op.
 */
void show_loader_stop(show_loader *l);

/*
 * After the queue has closed and the loop has run its close callbacks.
 * A load whose job never ended (a queue given up on while the database did
 * not answer, ledger_queue.h) is left to that queue, which keeps it. NULL
 * is a no-op.
 */
void show_loader_free(show_loader *l);

#endif
