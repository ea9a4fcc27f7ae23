/*
 * show_load.c - see show_load.h. A load is a job on the queue (ledger read
 * and venue parse on its thread) with the list of waits that joined it; a
 * timer that runs while anything waits answers the waits past their bound.
 */
#include "show_load.h"

#include "map.h"
#include "util.h"
#include "venue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_LOAD_TICK_MS 100 /* how often waits are checked against their bound */

typedef struct show_load__pending {
    ledger_job job;
    show_loader *l;
    char id[SM_SHOW_ID_MAX + 1];
    show_wait *head, *tail; /* waits, oldest first */
    /* written on the thread, read on the loop once the job is done */
    int rc;         /* 0, or a ledger error */
    int bad_venue;  /* the show is there but its venue does not parse */
    char why[256];  /* the database's or the parser's message */
    ledger_show ls; /* name, starts_at (venue_json freed on the thread) */
    venue *v;       /* parsed, handed to shows_add */
} pending;

typedef struct remembered {
    char id[SM_SHOW_ID_MAX + 1];
    int64_t until_mono;
    outcome o;
} remembered;

struct show_loader {
    show_loader_config cfg;
    sm_map loads;                        /* id -> pending* (owned) */
    sm_map known;                        /* id -> remembered* (an entry of ring) */
    remembered ring[SHOW_LOAD_REMEMBER]; /* oldest first from ring_head */
    size_t ring_head, ring_n;
    size_t nwaits;
    uv_timer_t timer;
    int timer_on;
    int stopped;
};

/* ---- remembered outcomes ---- */

static const remembered *recall(const show_loader *l, const char *id)
{
    const remembered *r = sm_map_get(&l->known, id);
    return r && r->until_mono > sm_mono_ms() ? r : NULL;
}

static void remember(show_loader *l, const char *id, outcome o, int ms)
{
    remembered *r = sm_map_get(&l->known, id);

    if (!r) {
        if (l->ring_n == SHOW_LOAD_REMEMBER) { /* full: the oldest goes */
            remembered *old = &l->ring[l->ring_head];
            if (sm_map_get(&l->known, old->id) == old)
                sm_map_del(&l->known, old->id);
            l->ring_head = (l->ring_head + 1) % SHOW_LOAD_REMEMBER;
            l->ring_n--;
        }
        r = &l->ring[(l->ring_head + l->ring_n) % SHOW_LOAD_REMEMBER];
        snprintf(r->id, sizeof(r->id), "%s", id);
        if (sm_map_set(&l->known, r->id, r))
            return; /* out of memory: not remembered */
        l->ring_n++;
    }
    r->o = o;
    r->until_mono = sm_mono_ms() + ms;
}

/* ---- waits ---- */

static void stop_timer_if_idle(show_loader *l)
{
    if (l->timer_on && !l->nwaits) {
        uv_timer_stop(&l->timer);
        l->timer_on = 0;
    }
}

/* Takes w off p's list (it must be on it). */
static void unlink_wait(pending *p, show_wait *w)
{
    show_wait **pp = &p->head, *prev = NULL;
    while (*pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = w->next;
    if (p->tail == w)
        p->tail = prev;
    w->next = NULL;
    w->p = NULL;
    p->l->nwaits--;
}

/* Answers every wait of a list linked by next (taken out of their loads)
 * `unavailable`. */
static void answer_unavailable(show_wait *w)
{
    show_wait *next;
    for (; w; w = next) {
        next = w->next;
        w->next = NULL;
        w->done(w, NULL, OUT_UNAVAILABLE);
    }
}

/* Answers every wait of p (the load ended). */
static void answer_all(pending *p, show *s, outcome o)
{
    show_wait *w;
    while ((w = p->head)) {
        unlink_wait(p, w);
        w->done(w, s, o);
    }
}

static void on_tick(uv_timer_t *t)
{
    show_loader *l = t->data;
    int64_t now = sm_mono_ms();
    size_t it = 0;
    void *v;
    show_wait *late = NULL, *w, *next;

    /* Collected first: a done callback may start another wait. */
    while (sm_map_next(&l->loads, &it, NULL, &v)) {
        pending *p = v;
        for (w = p->head; w; w = next) {
            next = w->next;
            if (w->deadline_mono > now)
                break; /* in order: the rest are later */
            unlink_wait(p, w);
            w->next = late;
            late = w;
        }
    }
    answer_unavailable(late);
    stop_timer_if_idle(l);
}

/* ---- loads ---- */

static void load_run(ledger *lg, ledger_job *job)
{
    pending *p = job->data;
    p->rc = ledger_show_get(lg, p->id, &p->ls);
    if (p->rc) {
        snprintf(p->why, sizeof(p->why), "%s", ledger_errmsg(lg));
        return;
    }
    if (venue_parse(p->ls.venue_json, strlen(p->ls.venue_json), &p->v, p->why, sizeof(p->why)))
        p->bad_venue = 1;
    ledger_show_clear(&p->ls); /* the document is parsed: 5 MB less to keep */
}

static void pending_free(pending *p)
{
    ledger_show_clear(&p->ls);
    venue_free(p->v);
    free(p);
}

static void load_done(ledger_job *job)
{
    pending *p = job->data;
    show_loader *l = p->l;
    show *s = NULL;
    outcome o = OUT_UNAVAILABLE;

    sm_map_del(&l->loads, p->id);
    if (l->stopped) {
        /* shutting down: nobody waits any more (show_loader_stop) */
    } else if (p->rc == LEDGER_ENOTFOUND) {
        o = OUT_UNKNOWN_SHOW;
        remember(l, p->id, o, SHOW_LOAD_UNKNOWN_MS);
    } else if (p->rc) {
        sm_warn("cannot read show %s from the database: %s", p->id, p->why);
        remember(l, p->id, o, SHOW_LOAD_DOWN_MS);
    } else if (p->bad_venue) {
        sm_error("show %s: its stored venue does not parse: %s", p->id, p->why);
        o = OUT_UNKNOWN_SHOW;
        remember(l, p->id, o, SHOW_LOAD_UNKNOWN_MS);
    } else {
        s = shows_add(l->cfg.shows, p->id, p->ls.name, p->ls.starts_at, p->v);
        p->v = NULL; /* shows_add took it */
        o = s ? OUT_OK : OUT_UNAVAILABLE;
        if (s)
            sm_info("show %s loaded (%zu seats)", p->id, show_seat_count(s));
    }
    answer_all(p, s, o);
    stop_timer_if_idle(l);
    pending_free(p);
}

/* The load of id, started when there is none; NULL when none can start. */
static pending *load_of(show_loader *l, const char *id)
{
    pending *p = sm_map_get(&l->loads, id);

    if (p)
        return p;
    if (l->loads.used >= SHOW_LOAD_MAX_LOADS || ledger_queue_depth(l->cfg.q) >= l->cfg.queue_max)
        return NULL;
    if (!(p = calloc(1, sizeof(*p))))
        return NULL;
    p->l = l;
    snprintf(p->id, sizeof(p->id), "%s", id);
    if (sm_map_set(&l->loads, p->id, p)) {
        free(p);
        return NULL;
    }
    p->job.data = p;
    ledger_queue_submit(l->cfg.q, &p->job, load_run, load_done);
    return p;
}

show_loader *show_loader_new(const show_loader_config *cfg)
{
    show_loader *l;

    if (!(l = calloc(1, sizeof(*l))))
        return NULL;
    l->cfg = *cfg;
    sm_map_init(&l->loads);
    sm_map_init(&l->known);
    uv_timer_init(cfg->loop, &l->timer);
    l->timer.data = l;
    return l;
}

outcome show_load(show_loader *l, const char *id, show **out, show_wait *w, show_wait_done *done)
{
    const remembered *r;
    pending *p;

    *out = NULL;
    if (!id || !sm_valid_show_id(id))
        return OUT_UNKNOWN_SHOW;
    if ((*out = shows_get(l->cfg.shows, id)))
        return OUT_OK;
    if (!l->cfg.q)
        return OUT_UNKNOWN_SHOW;
    if ((r = recall(l, id)))
        return r->o;
    if (l->stopped || l->nwaits >= SHOW_LOAD_MAX_WAITS || !(p = load_of(l, id)))
        return OUT_UNAVAILABLE;
    w->done = done;
    w->p = p;
    w->next = NULL;
    w->deadline_mono = sm_mono_ms() + l->cfg.wait_ms;
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    l->nwaits++;
    if (!l->timer_on) {
        uv_timer_start(&l->timer, on_tick, SHOW_LOAD_TICK_MS, SHOW_LOAD_TICK_MS);
        l->timer_on = 1;
    }
    return OUT_MORE;
}

void show_load_prefetch(show_loader *l, const char *id)
{
    if (l->cfg.q && !l->stopped && id && sm_valid_show_id(id) && !shows_get(l->cfg.shows, id) &&
        !recall(l, id))
        load_of(l, id);
}

size_t show_load_pending(const show_loader *l)
{
    return l->loads.used;
}

size_t show_load_waiting(const show_loader *l)
{
    return l->nwaits;
}

void show_loader_stop(show_loader *l)
{
    size_t it = 0;
    void *v;
    show_wait *all = NULL, *w;

    if (!l || l->stopped)
        return;
    l->stopped = 1;
    while (sm_map_next(&l->loads, &it, NULL, &v)) {
        pending *p = v;
        while ((w = p->head)) {
            unlink_wait(p, w);
            w->next = all;
            all = w;
        }
    }
    answer_unavailable(all);
    uv_timer_stop(&l->timer);
    l->timer_on = 0;
    uv_close((uv_handle_t *)&l->timer, NULL);
}

void show_loader_free(show_loader *l)
{
    if (!l)
        return;
    /* A load still in l->loads has a job that never ended: its queue was
     * given up on and keeps the job (its thread may still write it), so it
     * is not freed here. */
    sm_map_free(&l->loads);
    sm_map_free(&l->known);
    free(l);
}
