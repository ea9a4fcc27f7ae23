/*
 * show.c - the per-show seat cache, fan-out, sweep and reconciliation
 * (see show.h for the design).
 */
#include "show.h"

#include "show_backlog.h"

#include "metrics.h"
#include "ledger_json.h"
#include "failpoint.h"

#include "map.h"
#include "outcome.h"
#include "proto_v2.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_BACKLOG_MAX 4096
#define SHOW_SWEEP_BATCH "500"
#define SHOW_SWEEP_ALL_EVERY 20
#define SHOW_FRAMES_PER_SEC 120000
/* Watchers a flush writes to before it lets the loop read requests and
 * Redis replies again (about 2 ms of sends): a flush to 10k watchers takes
 * ~80 ms, and a hold's reply must not wait behind it (issue 13). */
#define SHOW_FLUSH_CHUNK 256
/* How long a resync waits for the ledger's booked seats (ensure_then_resync). */
#define SHOW_ENSURE_WAIT_MS 1000
#define SHOW_CHECK_BOOKED_MS 30000
/* Holds whose freeze is in doubt, reconciled by one sweep at most. */
#define SHOW_SWEEP_DOUBTFUL 16
#define SHOW_CATCHUP_CACHE 16 /* merged deltas kept per flushed seq, by from */

struct shows {
    shows_config cfg;
    char instance[300];
    char started_ms[24];
    sm_map by_id; /* id -> show* (owned) */
    unsigned sweep_round;
    int64_t last_booked_check_mono;
    /* The cache's ledger calls run on audit_queue's thread (the booking
     * queue), never on the loop: audit rows are buffered on the loop's handle
     * and written there in batches, one at a time so that they reach the
     * database in order; the reconciliation's reads too. NULL (tests): inline
     * on cfg.ledger. */
    ledger_queue *audit_queue;
    ledger_job audit_job;
    ledger_audit_batch *audit_batch; /* in flight; NULL once the thread took it */
    int audit_busy;
    int audit_failing; /* the thread's: log the first failure only */
};

/* One connection watching one show. */
struct watcher {
    show *s;
    client *c;            /* holds a reference */
    watcher *next, *prev; /* the show's watchers */
    int need_snapshot;    /* snapshot owed once the show is synced */
    int64_t sent_seq;     /* the seq the client has once its frames are written */
};

/* A merged delta from `from` to the flushed seq in one encoding, shared by
 * every watcher of that encoding that is at `from`. */
typedef struct catchup {
    int64_t from;
    client_wire wire;
    frame *f;
} catchup;

struct show {
    shows *all;
    int ensuring, ensure_again; /* a reconciliation read in flight; another wanted */
    int64_t resync_wait_mono;   /* a resync waits for that read (ensure_then_resync) */
    char id[SM_SHOW_ID_MAX + 1];
    char name[257];
    char starts_at[40];
    venue *venue; /* owned */
    size_t nseats;
    char *state;   /* 'e' 'p' 'b' per seat: now */
    char *flushed; /* as of flushed_seq: what watchers have */
    int64_t seq, flushed_seq;
    int64_t last_flush_mono;
    frame *snapshot[CLIENT_WIRE_COUNT];   /* shared (hold null) of flushed_seq, or NULL */
    show_backlog *changes;                /* recent changes, for merged deltas (owned) */
    int history_pending;                  /* reading older changes from Redis (read_history) */
    catchup catchups[SHOW_CATCHUP_CACHE]; /* of flushed_seq */
    size_t ncatchups;
    uint32_t *merge_idx; /* scratch of nseats for merged deltas, or NULL */
    char *merge_st;
    uint32_t *dirty; /* seats changed since the last tick */
    uint8_t *dirty_mark;
    size_t ndirty;
    sm_map holds_by_ref;   /* ref -> hold* (owned) */
    sm_map holds_by_buyer; /* buyer id -> hold* (same objects) */
    /* hold ref -> confirm_mark* (owned): this process's confirmations of
     * it in flight, and whether one of them may have frozen it without
     * hearing back (show_freeze_held) */
    sm_map confirms;
    watcher *watchers;
    size_t nwatchers;
    /* A flush in progress (flush_more): the watchers from flush_next on are
     * still to get the tick's delta from flush_from; with more watchers than
     * a chunk every encoding is built up front (dirty[] moves on). */
    int flushing;
    watcher *flush_next;
    int64_t flush_from;
    frame *flush_f[CLIENT_WIRE_COUNT];
    size_t flush_n, flush_sent, flush_shed;
    int loaded;       /* the cache has been built at least once */
    int synced;       /* the cache matches Redis as of seq */
    int syncing;      /* a snapshot request is out */
    int snapshot_all; /* after the resync, send every watcher a snapshot */
    char **backlog;   /* messages that arrived during a resync */
    size_t nbacklog;
    int sweeping, sweep_again;
    const char *sweep_source;      /* what started the sweep in flight (metrics) */
    const char *sweep_next_source; /* and the one asked for meanwhile */
    frame *layout, *layout_gz;     /* GET /api/shows/{id}, cached by the API */
    char layout_etag[24];
};

static void notify_buyer(show *s, const char *buyer_id, const char *reason);
static void drop_shared_snapshot(show *s);
static void ensure_then_resync(show *s);

/* ---- holds ---- */

static void hold_free(hold *h)
{
    if (h) {
        free(h->seats);
        free(h);
    }
}

static void hold_remove(show *s, const char *ref)
{
    hold *h = sm_map_del(&s->holds_by_ref, ref);
    if (!h)
        return;
    if (h->buyer[0] && sm_map_get(&s->holds_by_buyer, h->buyer) == h)
        sm_map_del(&s->holds_by_buyer, h->buyer);
    hold_free(h);
}

static void holds_clear(show *s)
{
    size_t it = 0;
    void *v;
    while (sm_map_next(&s->holds_by_ref, &it, NULL, &v))
        hold_free(v);
    sm_map_free(&s->holds_by_ref);
    sm_map_free(&s->holds_by_buyer);
}

/* seats: a cJSON array of seat ids. Unknown seats are skipped. */
static hold *hold_put(show *s, const char *ref, const char *buyer, int64_t exp, const cJSON *seats)
{
    hold *h;
    const cJSON *it;
    size_t n = (size_t)cJSON_GetArraySize(seats);

    if (!ref || !*ref || strlen(ref) > AUTH_REF_LEN || strlen(buyer) > AUTH_BUYER_ID_LEN)
        return NULL;
    hold_remove(s, ref);
    h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->seats = calloc(n ? n : 1, sizeof(*h->seats));
    if (!h->seats) {
        free(h);
        return NULL;
    }
    strcpy(h->ref, ref);
    strcpy(h->buyer, buyer);
    h->expires_at = exp;
    cJSON_ArrayForEach(it, seats)
    {
        long idx = cJSON_IsString(it) ? venue_seat_index(s->venue, it->valuestring) : -1;
        if (idx >= 0)
            h->seats[h->nseats++] = (uint32_t)idx;
    }
    if (sm_map_set(&s->holds_by_ref, ref, h)) {
        hold_free(h);
        return NULL;
    }
    if (buyer[0]) {
        hold *old = sm_map_get(&s->holds_by_buyer, buyer);
        if (old && old != h)
            hold_remove(s, old->ref);
        sm_map_set(&s->holds_by_buyer, buyer, h);
    }
    return h;
}

const hold *show_hold_of(const show *s, const char *buyer_id)
{
    return buyer_id && *buyer_id ? sm_map_get(&s->holds_by_buyer, buyer_id) : NULL;
}

int show_hold_json(const show *s, const hold *h, sm_buf *b)
{
    size_t i;
    int rc;
    if (!h)
        return sm_buf_adds(b, "null");
    rc = sm_buf_printf(b, "{\"ref\":\"%s\",\"seats\":[", h->ref);
    for (i = 0; i < h->nseats && !rc; i++)
        rc = sm_buf_printf(b, "%s\"%s\"", i ? "," : "", venue_seat_id(s->venue, h->seats[i]));
    return rc ? rc : sm_buf_printf(b, "],\"expires_at\":%lld}", (long long)h->expires_at);
}

static int cmp_hold_newest(const void *x, const void *y)
{
    const hold *a = *(const hold *const *)x, *b = *(const hold *const *)y;
    return a->expires_at < b->expires_at ? 1 : a->expires_at > b->expires_at ? -1 : 0;
}

int show_hold_list(const show *s, const hold ***out, size_t *n)
{
    size_t it = 0;
    const hold **list;
    void *v;

    *out = NULL;
    *n = 0;
    list = calloc(s->holds_by_ref.used + 1, sizeof(*list));
    if (!list)
        return -1;
    while (sm_map_next(&s->holds_by_ref, &it, NULL, &v))
        if (((hold *)v)->buyer[0]) /* not a box-office sale in progress */
            list[(*n)++] = v;
    qsort(list, *n, sizeof(*list), cmp_hold_newest);
    *out = list;
    return 0;
}

/* ---- loading ---- */

/* See show_freeze_held. */
typedef struct confirm_mark {
    int inflight; /* confirmations of this process that froze the hold */
    int doubtful; /* one may have frozen it and lost the answer */
} confirm_mark;

static int freeze_live(show *s, const char *ref);

static void confirms_clear(show *s)
{
    size_t it = 0;
    void *v;
    while (sm_map_next(&s->confirms, &it, NULL, &v))
        free(v);
    sm_map_free(&s->confirms);
}

static void show_free(show *s)
{
    size_t i;
    holds_clear(s);
    confirms_clear(s);
    for (i = 0; i < s->nbacklog; i++)
        free(s->backlog[i]);
    free(s->backlog);
    free(s->state);
    free(s->flushed);
    free(s->dirty);
    free(s->dirty_mark);
    venue_free(s->venue);
    frame_unref(s->layout);
    frame_unref(s->layout_gz);
    drop_shared_snapshot(s);
    for (i = 0; i < CLIENT_WIRE_COUNT; i++)
        frame_unref(s->flush_f[i]); /* a flush cut short: nobody is left to send to */
    show_backlog_free(s->changes);
    free(s->merge_idx);
    free(s->merge_st);
    free(s);
}

show *shows_get(shows *a, const char *id)
{
    if (!id || !sm_valid_show_id(id))
        return NULL;
    return sm_map_get(&a->by_id, id);
}

show *shows_add(shows *a, const char *id, const char *name, const char *starts_at, venue *v)
{
    show *s;

    if (!v)
        return NULL;
    if (!sm_valid_show_id(id)) {
        venue_free(v);
        return NULL;
    }
    if ((s = sm_map_get(&a->by_id, id))) { /* loaded meanwhile: the cache's copy stays */
        venue_free(v);
        return s;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        venue_free(v);
        return NULL;
    }
    s->all = a;
    snprintf(s->id, sizeof(s->id), "%s", id);
    snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
    snprintf(s->starts_at, sizeof(s->starts_at), "%s", starts_at ? starts_at : "");
    s->venue = v;
    s->nseats = venue_seat_count(s->venue);
    s->state = malloc(s->nseats + 1);
    s->flushed = malloc(s->nseats + 1);
    s->dirty = malloc(sizeof(*s->dirty) * (s->nseats + 1));
    s->dirty_mark = calloc(s->nseats + 1, 1);
    s->changes = show_backlog_new(s->nseats, 0, 0);
    sm_map_init(&s->holds_by_ref);
    sm_map_init(&s->holds_by_buyer);
    sm_map_init(&s->confirms);
    if (!s->state || !s->flushed || !s->dirty || !s->dirty_mark || !s->changes ||
        sm_map_set(&a->by_id, s->id, s)) {
        show_free(s);
        return NULL;
    }
    memset(s->state, 'e', s->nseats);
    memset(s->flushed, 'e', s->nseats);
    s->state[s->nseats] = s->flushed[s->nseats] = '\0';
    if (store_ready(a->cfg.store))
        ensure_then_resync(s);
    return s;
}

show *shows_load_now(shows *a, const char *id)
{
    show *s;
    ledger_show ls;
    venue *v = NULL;
    char err[256];
    int rc;

    if (!id || !sm_valid_show_id(id))
        return NULL;
    if ((s = sm_map_get(&a->by_id, id)))
        return s;
    memset(&ls, 0, sizeof(ls));
    rc = ledger_show_get(a->cfg.ledger, id, &ls);
    if (rc) {
        if (rc != LEDGER_ENOTFOUND)
            sm_warn("cannot read show %s from the database: %s", id, ledger_errmsg(a->cfg.ledger));
        return NULL;
    }
    rc = venue_parse(ls.venue_json, strlen(ls.venue_json), &v, err, sizeof(err));
    if (rc)
        sm_error("show %s: its stored venue does not parse: %s", id, err);
    else
        s = shows_add(a, id, ls.name, ls.starts_at, v);
    ledger_show_clear(&ls);
    return s;
}

shows *shows_new(const shows_config *cfg)
{
    shows *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->cfg = *cfg;
    snprintf(a->instance, sizeof(a->instance), "%s", cfg->instance ? cfg->instance : "");
    snprintf(a->started_ms, sizeof(a->started_ms), "%s", cfg->started_ms ? cfg->started_ms : "0");
    a->cfg.instance = a->instance;
    a->cfg.started_ms = a->started_ms;
    sm_map_init(&a->by_id);
    return a;
}

void shows_free(shows *a)
{
    size_t it = 0;
    void *v;
    if (!a)
        return;
    while (sm_map_next(&a->by_id, &it, NULL, &v))
        show_free(v);
    sm_map_free(&a->by_id);
    free(a);
}

void shows_load_all(shows *a)
{
    ledger_show *list = NULL;
    size_t n = 0, i;
    if (ledger_show_list(a->cfg.ledger, &list, &n))
        return;
    for (i = 0; i < n; i++)
        shows_load_now(a, list[i].id);
    free(list);
}

static int cmp_busiest(const void *x, const void *y)
{
    size_t a = (*(const show *const *)x)->nwatchers, b = (*(const show *const *)y)->nwatchers;
    return a < b ? 1 : a > b ? -1 : 0;
}

size_t shows_busiest(const shows *a, const show **out, size_t max)
{
    size_t it = 0, n = 0;
    void *v;

    if (!max)
        return 0;
    /* Keep the max busiest seen so far, sorted, busiest first. */
    while (sm_map_next(&a->by_id, &it, NULL, &v)) {
        const show *s = v;
        if (!s->nwatchers)
            continue;
        if (n < max)
            out[n++] = s;
        else if (s->nwatchers > out[n - 1]->nwatchers)
            out[n - 1] = s;
        else
            continue;
        qsort(out, n, sizeof(*out), cmp_busiest);
    }
    return n;
}

size_t shows_count(const shows *a)
{
    return a->by_id.used;
}

size_t show_watcher_count(const show *s)
{
    return s->nwatchers;
}

int shows_all_loaded(const shows *a)
{
    size_t it = 0;
    void *v;
    while (sm_map_next(&a->by_id, &it, NULL, &v))
        if (!show_loaded(v) || ((const show *)v)->history_pending)
            return 0;
    return 1;
}

size_t shows_watcher_count(const shows *a)
{
    size_t it = 0, n = 0;
    void *v;
    while (sm_map_next(&a->by_id, &it, NULL, &v))
        n += ((show *)v)->nwatchers;
    return n;
}

/* ---- accessors ---- */

const char *show_id(const show *s)
{
    return s->id;
}

const char *show_name(const show *s)
{
    return s->name;
}

const char *show_starts_at(const show *s)
{
    return s->starts_at;
}

const venue *show_venue(const show *s)
{
    return s->venue;
}

size_t show_seat_count(const show *s)
{
    return s->nseats;
}

int show_loaded(const show *s)
{
    return s->loaded;
}

int64_t show_seq(const show *s)
{
    return s->seq;
}

const char *show_states(const show *s)
{
    return s->state;
}

const char *show_layout_etag(const show *s)
{
    return s->layout_etag;
}

frame *show_layout_cache(const show *s, int gz)
{
    frame *f = gz ? s->layout_gz : s->layout;
    return f ? frame_ref(f) : NULL;
}

void show_set_layout_cache(show *s, frame *plain, frame *gz)
{
    frame_unref(s->layout);
    frame_unref(s->layout_gz);
    s->layout = plain ? frame_ref(plain) : NULL;
    s->layout_gz = gz ? frame_ref(gz) : NULL;
    s->layout_etag[0] = '\0';
    if (plain) /* frames are NUL-terminated; a JSON document holds no NUL */
        snprintf(s->layout_etag, sizeof(s->layout_etag), "\"%016llx\"",
                 (unsigned long long)sm_hash((const char *)plain->buf + LWS_PRE));
}

/* ---- applying transitions ---- */

/* Seat idx becomes st in the operation seq (a resync: the seq it reached). */
static void set_state(show *s, size_t idx, char st, int64_t seq)
{
    if (s->state[idx] == st)
        return;
    s->state[idx] = st;
    if (s->loaded)
        show_backlog_add(s->changes, seq, (uint32_t)idx, st);
    if (!s->dirty_mark[idx]) {
        s->dirty_mark[idx] = 1;
        s->dirty[s->ndirty++] = (uint32_t)idx;
    }
}

static const char *reason_of(const char *op)
{
    if (strcmp(op, "hold") == 0)
        return "held";
    if (strcmp(op, "release") == 0)
        return "released";
    if (strcmp(op, "expire") == 0)
        return "expired";
    if (strcmp(op, "book") == 0)
        return "booked";
    if (strcmp(op, "sync") == 0)
        return "released"; /* a booking took a seat of the hold (reconciliation) */
    return NULL;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* An expire message this process's script published (counted once in a
 * cluster: only the process that ran the script counts it). Its "deadline"
 * and "at" (Redis's clock, see lib.lua) give the lateness. source: what
 * found the hold lapsed; a hold ended before its deadline (a booking took
 * its last seat) counts as "reconcile" without a lateness. */
static void count_expiry(const cJSON *m, const char *source)
{
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(m, "deadline");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(m, "at");
    int timed = cJSON_IsNumber(dl) && cJSON_IsNumber(at) && dl->valuedouble > 0;

    if (timed && at->valuedouble < dl->valuedouble) {
        metrics_inc(M_EXPIRIES, "reconcile");
        return;
    }
    metrics_inc(M_EXPIRIES, source);
    if (timed)
        metrics_observe(M_EXPIRY_LATENESS, NULL, (at->valuedouble - dl->valuedouble) / 1000.0);
}

static const char *expiry_source(const show *s, const char *who)
{
    if (who && strcmp(who, "expiry") == 0)
        return s->sweep_source ? s->sweep_source : "sweep";
    if (who && strcmp(who, "reconcile") == 0)
        return "reconcile";
    return "request"; /* a hold, release or confirmation found it lapsed */
}

/* The audit row of one transition this process carried out. */
static void audit_msg(show *s, const cJSON *m, const char *who)
{
    const char *op = str_of(m, "op");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(m, "ch"), *it;
    const char *buyer = str_of(m, "buyer");
    char whobuf[64];
    sm_buf seats;

    if (strcmp(op, "expire") == 0)
        count_expiry(m, expiry_source(s, who));
    if (strcmp(op, "book") == 0 || strcmp(op, "cancel") == 0)
        return; /* the ledger wrote these with the booking */
    sm_buf_init(&seats, 64 * 1024);
    cJSON_ArrayForEach(it, ch)
    {
        const cJSON *seat = cJSON_GetArrayItem(it, 0);
        if (cJSON_IsString(seat) && (seats.len ? sm_buf_addc(&seats, ' ') : 0) == 0)
            sm_buf_adds(&seats, seat->valuestring);
    }
    if (!who) {
        snprintf(whobuf, sizeof(whobuf), "buyer:%s", buyer);
        who = whobuf;
    }
    ledger_audit(s->all->cfg.ledger, op, s->id, str_of(m, "ref"), seats.data ? seats.data : "", who,
                 sm_now_ms());
    sm_buf_free(&seats);
}

static void apply_msg(show *s, const cJSON *m, int64_t seq)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(m, "ch"), *it;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(m, "hold");
    const char *op = str_of(m, "op"), *buyer = str_of(m, "buyer"), *ref = str_of(m, "ref");
    const char *reason;

    cJSON_ArrayForEach(it, ch)
    {
        const cJSON *seat = cJSON_GetArrayItem(it, 0), *st = cJSON_GetArrayItem(it, 1);
        long idx;
        if (!cJSON_IsString(seat) || !cJSON_IsString(st))
            continue;
        idx = venue_seat_index(s->venue, seat->valuestring);
        if (idx >= 0 && strchr("epb", st->valuestring[0]) && st->valuestring[0])
            set_state(s, (size_t)idx, st->valuestring[0], seq);
    }
    if (cJSON_IsObject(h)) {
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(h, "expires_at");
        hold_put(s, ref, buyer, cJSON_IsNumber(exp) ? sm_json_int(exp->valuedouble, 0) : 0,
                 cJSON_GetObjectItemCaseSensitive(h, "seats"));
    } else if (*ref) {
        hold_remove(s, ref);
    }
    s->seq = seq;
    reason = reason_of(op);
    if (*buyer && reason)
        notify_buyer(s, buyer, reason);
}

static void backlog_add(show *s, const char *json, size_t len)
{
    char *copy;
    if (s->nbacklog >= SHOW_BACKLOG_MAX)
        return; /* the gap it leaves triggers another resync */
    if (!s->backlog) {
        s->backlog = calloc(SHOW_BACKLOG_MAX, sizeof(*s->backlog));
        if (!s->backlog)
            return;
    }
    copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, json, len);
    copy[len] = '\0';
    s->backlog[s->nbacklog++] = copy;
}

static int64_t seq_of(const cJSON *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "seq");
    return cJSON_IsNumber(v) ? sm_json_int(v->valuedouble, -1) : -1;
}

/* The seq of a message without parsing it all ("seq" is no seat id). Reads
 * only the len bytes given: a payload need not end in a NUL. */
static int64_t peek_seq(const char *json, size_t len)
{
    const char *p = memmem(json, len, "\"seq\":", 6), *end = json + len;
    int64_t v = 0;
    if (!p)
        return -1;
    for (p += 6; p < end && *p == ' '; p++)
        ;
    for (; p < end && *p >= '0' && *p <= '9' && v < INT64_MAX / 10 - 9; p++)
        v = v * 10 + (*p - '0');
    return v;
}

static void apply_json(show *s, const char *json, size_t len, const char *audit_who, int audit)
{
    cJSON *m;
    int64_t seq;

    /* Most pub/sub messages of our own operations were applied from the
     * script's reply already: skip them before the parse. */
    if (!audit && s->synced && peek_seq(json, len) <= s->seq)
        return;
    m = cJSON_ParseWithLength(json, len);
    if (!m)
        return;
    if (audit)
        audit_msg(s, m, audit_who);
    seq = seq_of(m);
    if (seq <= 0) {
        cJSON_Delete(m);
        return;
    }
    if (!s->synced) {
        if (s->syncing)
            backlog_add(s, json, len);
    } else if (seq == s->seq + 1) {
        apply_msg(s, m, seq);
    } else if (seq > s->seq + 1 && !audit) {
        /* A hole in the pub/sub stream: something was missed. */
        backlog_add(s, json, len);
        show_resync(s, 0);
    }
    /* else our own script's reply overtook another process's message on the
     * subscriber connection; pub/sub delivers both in order, so wait for it. */
    cJSON_Delete(m);
}

void show_apply(show *s, const char *json, size_t len)
{
    apply_json(s, json, len, NULL, 0);
}

void show_apply_result(show *s, const store_result *res, const char *who)
{
    size_t i;
    for (i = 0; i < res->nmsgs; i++)
        apply_json(s, res->msgs[i], strlen(res->msgs[i]), who, 1);
    if (res->nmore)
        show_resync(s, 0);
}

/* ---- fan-out ---- */

/* A snapshot frame of the flushed state with this hold (or null), in the
 * connection's encoding; NULL when out of memory. */
static frame *build_snapshot(show *s, const hold *h, client_wire wire)
{
    frame *f = NULL;
    sm_buf b, hj;
    sm_buf_init(&b, s->nseats + 4096 + 64 * 1024);
    if (wire == CLIENT_WIRE_V2) {
        sm_buf_init(&hj, 64 * 1024);
        if ((!h || show_hold_json(s, h, &hj) == 0) &&
            proto_v2_snapshot(&b, s->id, s->flushed_seq, s->flushed, s->nseats,
                              h ? hj.data : NULL) == 0)
            f = frame_new_mode(FRAME_BINARY, b.data, b.len);
        sm_buf_free(&hj);
    } else if (sm_buf_printf(&b, "{\"type\":\"snapshot\",\"show\":\"%s\",\"seq\":%lld,\"seats\":\"",
                             s->id, (long long)s->flushed_seq) == 0 &&
               sm_buf_add(&b, s->flushed, s->nseats) == 0 && sm_buf_adds(&b, "\",\"hold\":") == 0 &&
               show_hold_json(s, h, &b) == 0 && sm_buf_addc(&b, '}') == 0) {
        f = frame_new(b.data, b.len);
    }
    sm_buf_free(&b);
    return f;
}

/* The flushed state changed: the shared snapshots and merged deltas are
 * stale. */
static void drop_shared_snapshot(show *s)
{
    size_t i;
    for (i = 0; i < CLIENT_WIRE_COUNT; i++) {
        frame_unref(s->snapshot[i]);
        s->snapshot[i] = NULL;
    }
    for (i = 0; i < s->ncatchups; i++)
        frame_unref(s->catchups[i].f);
    s->ncatchups = 0;
}

/* Watchers without a hold (nearly all of them) share one snapshot frame per
 * flushed seq and encoding: a thousand joiners of a 60k-seat show cost one
 * build. A
 * watcher whose previous frame is still unsent gets it when that one is
 * written (on_drain). */
static void send_snapshot(show *s, watcher *w)
{
    const hold *h = show_hold_of(s, client_buyer_id(w->c));
    client_wire wire = client_get_wire(w->c);
    frame *f;

    if (client_bulk_pending(w->c, w))
        return;
    if (!h) {
        if (!s->snapshot[wire])
            s->snapshot[wire] = build_snapshot(s, NULL, wire);
        f = s->snapshot[wire] ? frame_ref(s->snapshot[wire]) : NULL;
    } else {
        f = build_snapshot(s, h, wire);
    }
    if (!f)
        return;
    w->need_snapshot = 0;
    w->sent_seq = s->flushed_seq;
    client_send_bulk(w->c, f, w);
    frame_unref(f);
    metrics_inc(M_SNAPSHOTS, NULL);
}

/*
 * The one place a delta is encoded: the changes from `from` to `to` (the
 * flushed seq), the seats idx[0..n) (each once, in any order) with their
 * flushed state, for one wire protocol. Used for the tick's shared delta and
 * for merged ones (a watcher that fell behind, a resumed watch). NULL when
 * it cannot be built.
 */
static frame *encode_delta(show *s, client_wire wire, int64_t from, int64_t to, const uint32_t *idx,
                           size_t n)
{
    sm_buf b;
    frame *f = NULL;
    size_t i;

    sm_buf_init(&b, 64u * 1024 * 1024);
    if (wire == CLIENT_WIRE_V2) {
        if (proto_v2_delta(&b, s->id, from, to, s->flushed, s->nseats, idx, n) == 0)
            f = frame_new_mode(FRAME_BINARY, b.data, b.len);
        sm_buf_free(&b);
        return f;
    }
    sm_buf_printf(&b, "{\"type\":\"delta\",\"show\":\"%s\",\"from\":%lld,\"seq\":%lld,\"seats\":[",
                  s->id, (long long)from, (long long)to);
    for (i = 0; i < n; i++)
        sm_buf_printf(&b, "%s[\"%s\",\"%c\"]", i ? "," : "", venue_seat_id(s->venue, idx[i]),
                      s->flushed[idx[i]]);
    sm_buf_adds(&b, "]}");
    f = sm_buf_failed(&b) ? NULL : frame_new(b.data, b.len);
    sm_buf_free(&b);
    return f;
}

/* The merged delta from `from` to the flushed seq in one encoding (shared
 * by every watcher of it at that seq), a new reference; NULL when the
 * backlog no longer reaches back that far (or out of memory). */
static frame *merged_delta(show *s, int64_t from, client_wire wire)
{
    frame *f;
    long n;
    size_t i;

    for (i = 0; i < s->ncatchups; i++)
        if (s->catchups[i].from == from && s->catchups[i].wire == wire)
            return frame_ref(s->catchups[i].f);
    if (!s->merge_idx) {
        s->merge_idx = malloc(sizeof(*s->merge_idx) * (s->nseats + 1));
        s->merge_st = malloc(s->nseats + 1);
        if (!s->merge_idx || !s->merge_st) {
            free(s->merge_idx);
            free(s->merge_st);
            s->merge_idx = NULL;
            s->merge_st = NULL;
            return NULL;
        }
    }
    n = show_backlog_since(s->changes, from, s->flushed_seq, s->merge_idx, s->merge_st,
                           s->nseats + 1);
    if (n < 0)
        return NULL;
    f = encode_delta(s, wire, from, s->flushed_seq, s->merge_idx, (size_t)n);
    if (f && s->ncatchups < SHOW_CATCHUP_CACHE)
        s->catchups[s->ncatchups++] = (catchup){from, wire, frame_ref(f)};
    return f;
}

/* Brings a watcher that is behind (its last frame came from an older
 * flushed seq) up to the flushed seq: one merged delta, or a snapshot when
 * the backlog no longer covers its seq. */
static void catch_up(show *s, watcher *w, const char *reason)
{
    frame *f;
    if (w->need_snapshot) {
        send_snapshot(s, w);
        return;
    }
    if (w->sent_seq == s->flushed_seq || client_bulk_pending(w->c, w))
        return;
    f = merged_delta(s, w->sent_seq, client_get_wire(w->c));
    if (!f) {
        w->need_snapshot = 1;
        send_snapshot(s, w);
        return;
    }
    w->sent_seq = s->flushed_seq;
    client_send_bulk(w->c, f, w);
    frame_unref(f);
    metrics_inc(M_CATCHUPS, reason);
}

/* A frame of this watcher left its client: if more changed meanwhile, one
 * merged delta brings it up to date. */
static void on_drain(client *c, void *tag)
{
    watcher *w = tag;
    (void)c;
    if (w->s->loaded)
        catch_up(w->s, w, "drain");
}

/* The end of a flush: its frames go, its figures count; a delta that could
 * not be built sends everyone a snapshot instead. */
static void flush_end(show *s, int lost)
{
    size_t i;
    for (i = 0; i < CLIENT_WIRE_COUNT; i++) {
        frame_unref(s->flush_f[i]);
        s->flush_f[i] = NULL;
    }
    s->flushing = 0;
    s->flush_next = NULL;
    if (lost) {
        show_resync(s, 1);
        return;
    }
    metrics_inc(M_DELTAS, NULL);
    metrics_add(M_DELTA_SEATS, NULL, (double)s->flush_n);
    metrics_add(M_DELTA_FRAMES, NULL, (double)s->flush_sent);
    if (s->flush_shed)
        metrics_add(M_DELTAS_SHED, NULL, (double)s->flush_shed);
}

/* The flush in progress goes on to up to budget more watchers. 1 when it
 * is over (or there was none). */
static int flush_more(show *s, size_t budget)
{
    watcher *w;

    if (!s->flushing)
        return 1;
    while ((w = s->flush_next) && budget) {
        client_wire wire = client_get_wire(w->c);
        s->flush_next = w->next;
        budget--;
        if (w->need_snapshot)
            continue;
        if (client_bulk_pending(w->c, w)) {
            s->flush_shed++; /* it gets one merged delta once that frame is out */
        } else if (w->sent_seq == s->flush_from) {
            /* built here only within flush() itself, while dirty[] is this tick's */
            if (!s->flush_f[wire] &&
                !(s->flush_f[wire] =
                      encode_delta(s, wire, s->flush_from, s->flushed_seq, s->dirty, s->flush_n))) {
                flush_end(s, 1);
                return 1;
            }
            w->sent_seq = s->flushed_seq;
            client_send_bulk(w->c, s->flush_f[wire], w);
            s->flush_sent++;
        } else {
            catch_up(s, w, "drain");
        }
    }
    if (s->flush_next)
        return 0;
    flush_end(s, 0);
    return 1;
}

/* Ends a flush in progress at once (before the flushed state moves on). */
static void flush_finish(show *s)
{
    flush_more(s, SIZE_MAX);
}

static void flush(show *s)
{
    size_t i, n = 0;
    int chunked = s->nwatchers > SHOW_FLUSH_CHUNK;

    /* The seats that really changed (not changed and back within the tick),
     * compacted into the front of dirty[]. */
    for (i = 0; i < s->ndirty; i++) {
        uint32_t idx = s->dirty[i];
        s->dirty_mark[idx] = 0;
        if (s->flushed[idx] == s->state[idx])
            continue;
        s->flushed[idx] = s->state[idx];
        s->dirty[n++] = idx;
    }
    s->ndirty = 0;
    s->flushing = 1;
    s->flush_from = s->flushed_seq;
    s->flush_n = n;
    s->flush_sent = s->flush_shed = 0;
    s->flushed_seq = s->seq;
    s->last_flush_mono = sm_mono_ms();
    drop_shared_snapshot(s);
    s->flush_next = s->watchers;
    /* each encoding is built once, when its first watcher needs it; in a
     * flush spread over several loop turns, all of them now */
    for (i = 0; chunked && i < CLIENT_WIRE_COUNT; i++)
        if (!(s->flush_f[i] =
                  encode_delta(s, (client_wire)i, s->flush_from, s->flushed_seq, s->dirty, n))) {
            flush_end(s, 1);
            return;
        }
    flush_more(s, chunked ? SHOW_FLUSH_CHUNK : SIZE_MAX);
}

/* Makes what watchers have equal to the cache without a delta (everyone is
 * about to get a snapshot). */
static void flush_silently(show *s)
{
    size_t i;
    flush_finish(s);
    for (i = 0; i < s->ndirty; i++)
        s->dirty_mark[s->dirty[i]] = 0;
    s->ndirty = 0;
    memcpy(s->flushed, s->state, s->nseats);
    s->flushed_seq = s->seq;
    drop_shared_snapshot(s);
}

int show_resumable(const show *s, int64_t since)
{
    return s->loaded && s->synced && since >= show_backlog_base(s->changes) &&
           since <= s->flushed_seq;
}

watcher *show_watch_since(show *s, client *c, int64_t since)
{
    watcher *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->s = s;
    w->c = c;
    client_ref(c);
    client_set_drain(c, on_drain);
    w->next = s->watchers;
    if (s->watchers)
        s->watchers->prev = w;
    s->watchers = w;
    s->nwatchers++;
    if (since >= 0 && show_resumable(s, since)) {
        w->sent_seq = since;
        catch_up(s, w, "resume");
        return w;
    }
    w->need_snapshot = 1;
    if (s->loaded)
        send_snapshot(s, w);
    return w;
}

watcher *show_watch(show *s, client *c)
{
    return show_watch_since(s, c, -1);
}

void show_unwatch(watcher *w)
{
    show *s;
    if (!w)
        return;
    s = w->s;
    if (w->prev)
        w->prev->next = w->next;
    else
        s->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    s->nwatchers--;
    if (s->flush_next == w)
        s->flush_next = w->next;
    client_forget(w->c, w);
    client_unref(w->c);
    free(w);
}

/* Sends the hold event of a buyer to all its connections on this process. */
static void notify_buyer(show *s, const char *buyer_id, const char *reason)
{
    client_hub *hub = s->all->cfg.hub;
    sm_buf b;
    frame *f;

    if (!hub || !client_hub_has(hub, buyer_id))
        return;
    sm_buf_init(&b, 64 * 1024);
    sm_buf_printf(&b, "{\"type\":\"hold\",\"show\":\"%s\",\"hold\":", s->id);
    show_hold_json(s, show_hold_of(s, buyer_id), &b);
    sm_buf_printf(&b, ",\"reason\":\"%s\"}", reason);
    f = sm_buf_failed(&b) ? NULL : frame_new(b.data, b.len);
    sm_buf_free(&b);
    if (!f)
        return;
    client_hub_send(hub, buyer_id, f);
    frame_unref(f);
}

/*
 * Every tick flushes each show's changes to its watchers, unless that would
 * send more than SHOW_FRAMES_PER_SEC frames a second in all: one frame costs
 * about 7 us (bench/), so past that budget the flushes of a process spread out
 * (10,000 watchers: every 75 ms instead of every 50) and a burst of changes
 * costs the same CPU whatever its size.
 */
int shows_tick(shows *a)
{
    size_t it = 0, watchers = shows_watcher_count(a), flushed = 0;
    int busy = 0;
    void *v;
    int64_t now = sm_mono_ms(), interval;
    double t0 = metrics_now();

    interval = (int64_t)(watchers * 1000 / SHOW_FRAMES_PER_SEC);
    /* due a quarter tick early (the timer runs every half tick), but never
     * sooner than a tick after the last delta, less timer jitter */
    interval -= a->cfg.tick_ms / 4;
    if (interval < a->cfg.tick_ms - 5)
        interval = a->cfg.tick_ms - 5;
    while (sm_map_next(&a->by_id, &it, NULL, &v)) {
        show *s = v;
        watcher *w;
        if (s->resync_wait_mono && now - s->resync_wait_mono > SHOW_ENSURE_WAIT_MS) {
            sm_warn("show %s: the database has not answered for %d ms: reading the seats "
                    "from Redis without waiting for its booked seats",
                    s->id, SHOW_ENSURE_WAIT_MS);
            s->resync_wait_mono = 0;
            show_resync(s, 1);
        }
        if (!s->loaded)
            continue;
        /* a flush still going on (shows_flush_more) ends before the next one */
        if (!s->flushing && s->seq != s->flushed_seq && now - s->last_flush_mono >= interval) {
            flush(s);
            flushed++;
        }
        busy |= s->flushing;
        for (w = s->watchers; w; w = w->next)
            if (w->need_snapshot)
                send_snapshot(s, w);
    }
    metrics_inc(M_TICKS, NULL);
    if (flushed)
        metrics_observe(M_FANOUT_SECONDS, NULL, metrics_now() - t0);
    return busy;
}

int shows_flush_more(shows *a)
{
    size_t it = 0;
    void *v;
    int busy = 0;

    while (sm_map_next(&a->by_id, &it, NULL, &v)) {
        show *s = v;
        if (s->flushing && !flush_more(s, SHOW_FLUSH_CHUNK))
            busy = 1;
    }
    return busy;
}

/* ---- resync ---- */

static int cmp_backlog(const void *x, const void *y)
{
    const char *jx = *(const char *const *)x, *jy = *(const char *const *)y;
    int64_t a = peek_seq(jx, strlen(jx)), b = peek_seq(jy, strlen(jy));
    return a < b ? -1 : a > b;
}

/* Holds that changed in a resync: tell their owners. */
static void notify_changed_holds(show *s, sm_map *old)
{
    size_t it = 0;
    const char *buyer;
    void *v;

    while (sm_map_next(old, &it, &buyer, &v)) {
        hold *was = v;
        const hold *now = show_hold_of(s, buyer);
        const char *reason;
        size_t i;
        int booked = 0;
        if (now && strcmp(now->ref, was->ref) == 0 && now->nseats == was->nseats)
            continue;
        for (i = 0; i < was->nseats; i++)
            booked |= s->state[was->seats[i]] == 'b';
        reason = now                              ? "held"
                 : booked                         ? "booked"
                 : was->expires_at <= sm_now_ms() ? "expired"
                                                  : "released";
        notify_buyer(s, buyer, reason);
    }
    it = 0;
    while (sm_map_next(&s->holds_by_buyer, &it, &buyer, &v))
        if (!sm_map_get(old, buyer))
            notify_buyer(s, buyer, "held");
}

static void on_snapshot(void *arg, const store_result *res)
{
    show_sync_from(arg, res);
}

/* The seat states of a snapshot answer: booked from "booked", pending for
 * the seats of the holds rebuilt into s's maps (the old maps are the
 * caller's). NULL when out of memory. */
static char *rebuild_from(show *s, const cJSON *d)
{
    char *fresh = malloc(s->nseats ? s->nseats : 1);
    const cJSON *it;
    size_t i;

    if (!fresh)
        return NULL;
    memset(fresh, 'e', s->nseats);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "booked"))
    {
        long idx = cJSON_IsString(it) ? venue_seat_index(s->venue, it->valuestring) : -1;
        if (idx >= 0)
            fresh[idx] = 'b';
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "holds"))
    {
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(it, "expires_at");
        hold *h = hold_put(s, str_of(it, "ref"), str_of(it, "buyer"),
                           cJSON_IsNumber(exp) ? sm_json_int(exp->valuedouble, 0) : 0,
                           cJSON_GetObjectItemCaseSensitive(it, "seats"));
        for (i = 0; h && i < h->nseats; i++)
            if (fresh[h->seats[i]] == 'e')
                fresh[h->seats[i]] = 'p';
    }
    return fresh;
}

/* Messages that came in during the resync, in seq order; older ones are
 * dropped. The array is taken away first: replaying may start a new one. */
static void replay_backlog(show *s)
{
    char **backlog = s->backlog;
    size_t n = s->nbacklog, i;

    s->backlog = NULL;
    s->nbacklog = 0;
    if (n)
        qsort(backlog, n, sizeof(*backlog), cmp_backlog);
    for (i = 0; i < n; i++) {
        if (s->synced)
            apply_json(s, backlog[i], strlen(backlog[i]), NULL, 0);
        free(backlog[i]);
    }
    free(backlog);
}

/* ---- resuming from before this process: the events stream ---- */

/* Events read at most: each is one operation, so this bounds both Redis's
 * work (about 9 us an event, decoding it in Lua: 1,024 block Redis for
 * about 10 ms, once per show a process loads) and how far back a resumed
 * watch can reach in a new process. */
#define SHOW_HISTORY_EVENTS 1024

/* One read in flight: made by read_history, freed by on_history (the store
 * calls it exactly once). The show outlives it, as for every store_run. */
typedef struct history_read {
    show *s;      /* not owned */
    int64_t upto; /* the seq the cache was loaded at: the backlog's base then */
} history_read;

/* The seat names of one event ("A-1 A-2"): how many, or -1 when one is
 * not a seat of the show. With idx, also their indexes into it. */
static long event_seats(const show *s, const char *names, uint32_t *idx)
{
    long n = 0;
    while (*names) {
        char name[128];
        size_t len = strcspn(names, " ");
        if (len) {
            long ix;
            if (len >= sizeof(name))
                return -1;
            memcpy(name, names, len);
            name[len] = '\0';
            if ((ix = venue_seat_index(s->venue, name)) < 0)
                return -1;
            if (idx)
                idx[n] = (uint32_t)ix;
            n++;
        }
        names += len;
        names += strspn(names, " ");
    }
    return n;
}

/* Seeds the backlog with the seats each operation in (L, upto] touched, for
 * the lowest L down to which the events run without a gap (each seq once:
 * an operation without an event, a trimmed or unreadable stream, a seat the
 * venue lacks ends the run). Their states are the cache's now: a merged
 * delta encodes the flushed states anyway. detail: history.lua's answer,
 * newest first; the backlog takes them oldest first, so they are laid out
 * from the end of the arrays. */
static void seed_history(show *s, int64_t upto, const char *detail)
{
    cJSON *d = cJSON_Parse(detail);
    const cJSON *list = cJSON_IsArray(d) ? d : NULL, *it;
    int64_t low = upto, *seq;
    uint32_t *idx;
    size_t total = 0, k, i;
    char *st;

    cJSON_ArrayForEach(it, list)
    {
        const cJSON *js = cJSON_GetArrayItem(it, 0), *jn = cJSON_GetArrayItem(it, 1);
        long n;
        if (low <= 0 || !cJSON_IsNumber(js) || sm_json_int(js->valuedouble, -1) != low ||
            !cJSON_IsString(jn) || (n = event_seats(s, jn->valuestring, NULL)) < 0)
            break;
        total += (size_t)n;
        low--;
    }
    seq = malloc(sizeof(*seq) * (total + 1));
    idx = malloc(sizeof(*idx) * (total + 1));
    st = malloc(total + 1);
    if (low < upto && seq && idx && st) {
        int64_t at = upto;
        k = total;
        cJSON_ArrayForEach(it, list)
        {
            const char *names = cJSON_GetArrayItem(it, 1)->valuestring;
            size_t n = (size_t)event_seats(s, names, NULL);
            if (at == low)
                break;
            k -= n;
            event_seats(s, names, idx + k);
            for (i = k; i < k + n; i++) {
                seq[i] = at;
                st[i] = s->state[idx[i]];
            }
            at--;
        }
        if (show_backlog_prepend(s->changes, low, seq, idx, st, total) == 0)
            sm_info("show %s: resumable from seq %lld (the events stream)", s->id,
                    (long long)show_backlog_base(s->changes));
    }
    cJSON_Delete(d);
    free(seq);
    free(idx);
    free(st);
}

/* Takes arg (a history_read) and frees it. */
static void on_history(void *arg, const store_result *res)
{
    history_read *h = arg;
    show *s = h->s;

    s->history_pending = 0;
    if (res->outcome == OUT_OK) {
        if (show_backlog_base(s->changes) == h->upto) /* else the window moved meanwhile */
            seed_history(s, h->upto, res->detail);
    } else if (res->outcome != OUT_UNAVAILABLE) { /* Redis down: the store says so */
        sm_warn("show %s: cannot read its recent changes from Redis (%s): watchers from before "
                "this process get a snapshot",
                s->id, res->status);
    }
    free(h);
}

/* A new process knows no change before the seq it loaded the show at:
 * reads them from the events stream (asynchronously; until the answer, a
 * watch from before gets a snapshot and the server does not count the
 * show as loaded, so it starts listening with them). */
static void read_history(show *s, int64_t upto)
{
    char a_upto[24], a_floor[24], a_max[24];
    const char *args[3] = {a_upto, a_floor, a_max};
    history_read *h;

    if (upto <= 0 || !(h = malloc(sizeof(*h))))
        return;
    h->s = s;
    h->upto = upto;
    snprintf(a_upto, sizeof(a_upto), "%lld", (long long)upto);
    snprintf(a_floor, sizeof(a_floor), "%lld",
             (long long)(upto > SHOW_HISTORY_EVENTS ? upto - SHOW_HISTORY_EVENTS : 0));
    snprintf(a_max, sizeof(a_max), "%d", SHOW_HISTORY_EVENTS);
    if (store_run(s->all->cfg.store, "history", s->id, 3, args, on_history, h) == 0)
        s->history_pending = 1;
    else
        free(h);
}

void show_sync_from(show *s, const store_result *res)
{
    cJSON *d = res->outcome == OUT_OK ? cJSON_Parse(res->detail) : NULL;
    int64_t seq = d ? seq_of(d) : -1;
    sm_map old_by_ref = s->holds_by_ref, old_by_buyer = s->holds_by_buyer;
    char *fresh = NULL;
    size_t i;
    void *h;

    s->syncing = 0;
    metrics_inc(M_RESYNCS, NULL);
    for (i = 0; seq >= 0 && i < res->nmsgs; i++) {
        cJSON *m = strstr(res->msgs[i], "\"expire\"") ? cJSON_Parse(res->msgs[i]) : NULL;
        if (m && strcmp(str_of(m, "op"), "expire") == 0)
            count_expiry(m, "resync");
        cJSON_Delete(m);
    }
    if (seq >= 0) {
        /* Rebuild the holds, keeping the old ones aside to tell their owners. */
        sm_map_init(&s->holds_by_ref);
        sm_map_init(&s->holds_by_buyer);
        if (!(fresh = rebuild_from(s, d))) {
            holds_clear(s);
            s->holds_by_ref = old_by_ref;
            s->holds_by_buyer = old_by_buyer;
        }
    }
    cJSON_Delete(d);
    if (!fresh) {
        if (res->outcome != OUT_UNAVAILABLE)
            sm_warn("show %s: cannot rebuild its seat cache from Redis (%s)", s->id, res->status);
        return; /* shows_maintain retries */
    }
    for (i = 0; i < s->nseats; i++)
        set_state(s, i, fresh[i], seq);
    free(fresh);
    s->seq = seq;
    s->synced = 1;
    if (!s->loaded) {
        s->loaded = 1;
        s->snapshot_all = 1;
        /* No history before this: a resumed watch from here on is covered. */
        show_backlog_reset(s->changes, seq);
        read_history(s, seq);
    }
    notify_changed_holds(s, &old_by_buyer);
    i = 0;
    while (sm_map_next(&old_by_ref, &i, NULL, &h))
        hold_free(h);
    sm_map_free(&old_by_ref);
    sm_map_free(&old_by_buyer);
    replay_backlog(s);
    if (s->snapshot_all && s->synced) {
        watcher *w;
        s->snapshot_all = 0;
        flush_silently(s);
        for (w = s->watchers; w; w = w->next)
            send_snapshot(s, w);
    }
}

void show_resync(show *s, int snapshots)
{
    char min[24];
    const char *args[1] = {min};

    if (snapshots)
        s->snapshot_all = 1;
    if (s->syncing)
        return;
    s->synced = 0;
    snprintf(min, sizeof(min), "%lld", (long long)s->seq);
    if (store_run(s->all->cfg.store, "snapshot", s->id, 1, args, on_snapshot, s) == 0)
        s->syncing = 1;
}

/* ---- reconciliation with SQLite ---- */

typedef struct pairs {
    sm_buf text; /* NUL-separated seat ids and booking ids */
    size_t n;
} pairs;

static void add_pair(void *arg, const char *seat, int64_t id)
{
    pairs *p = arg;
    sm_buf_adds(&p->text, seat);
    sm_buf_addc(&p->text, '\0');
    sm_buf_printf(&p->text, "%lld", (long long)id);
    sm_buf_addc(&p->text, '\0');
    p->n++;
}

static void on_store_result(void *arg, const store_result *res)
{
    show_apply_result(arg, res, "reconcile");
}

/* The ledger's side of a reconciliation, read off the loop (on the queue
 * the show cache was given; inline without one). */
typedef struct ensure_job {
    ledger_job job;
    show *s; /* valid for the registry's life */
    char id[SM_SHOW_ID_MAX + 1];
    int64_t watermark;
    pairs p;
    int rc;
    char why[256];
} ensure_job;

static void ensure_run(ledger *l, ledger_job *job)
{
    ensure_job *j = job->data;
    /* The watermark is read first: a booking committed after it is newer
     * than this read and must not be taken for a stale Redis entry. */
    j->rc = ledger_booking_max_id(l, &j->watermark);
    if (!j->rc)
        j->rc = ledger_booked_seats(l, j->id, add_pair, &j->p);
    if (j->rc)
        snprintf(j->why, sizeof(j->why), "%s", ledger_errmsg(l));
}

static void ensure_done(ledger_job *job)
{
    ensure_job *j = job->data;
    show *s = j->s;
    const char **args;
    const char *q;
    char wm[24];
    size_t i;

    s->ensuring = 0;
    if (j->rc) {
        sm_warn("show %s: cannot read its bookings: %s", s->id, j->why);
    } else if ((args = malloc(sizeof(*args) * (2 * j->p.n + 2)))) {
        snprintf(wm, sizeof(wm), "%lld", (long long)j->watermark);
        args[0] = wm;
        for (i = 0, q = j->p.text.data; i < 2 * j->p.n; i++, q += strlen(q) + 1)
            args[i + 1] = q;
        store_run(s->all->cfg.store, "ensure", s->id, (int)(2 * j->p.n + 1), args, on_store_result,
                  s);
        free(args);
    }
    sm_buf_free(&j->p.text);
    free(j);
    if (s->ensure_again) {
        s->ensure_again = 0;
        show_ensure_booked(s);
    } else if (s->resync_wait_mono) {
        s->resync_wait_mono = 0;
        show_resync(s, 1); /* its snapshot is read after the ensure script ran */
    }
}

/*
 * Redis (back, or new) gets the booked seats first, then the cache reads
 * its snapshot: Redis runs our commands in order, so watchers never see a
 * booked seat as empty after Redis lost its data. The ledger read runs off
 * the loop; should the database not answer within SHOW_ENSURE_WAIT_MS, the
 * resync goes ahead without it (shows_tick) and the booked seats follow.
 */
static void ensure_then_resync(show *s)
{
    s->resync_wait_mono = sm_mono_ms();
    show_ensure_booked(s);
}

void show_ensure_booked(show *s)
{
    ensure_job *j;

    if (s->ensuring) { /* one read at a time; the next starts after it */
        s->ensure_again = 1;
        return;
    }
    if (!(j = calloc(1, sizeof(*j)))) {
        sm_warn("show %s: cannot reconcile its bookings: out of memory", s->id);
        return;
    }
    j->s = s;
    snprintf(j->id, sizeof(j->id), "%s", s->id);
    sm_buf_init(&j->p.text, 64u * 1024 * 1024);
    j->job.data = j;
    s->ensuring = 1;
    ledger_queue_call(s->all->audit_queue, s->all->cfg.ledger, &j->job, ensure_run, ensure_done);
}

/* A hold frozen for too long: its confirming process died. The ledger
 * decides (read off the loop): booked there -> book it in Redis; not ->
 * thaw (or expire) it. */
typedef struct frozen_job {
    ledger_job job;
    show *s; /* valid for the registry's life */
    char id[SM_SHOW_ID_MAX + 1];
    char ref[AUTH_REF_LEN + 1], frozen[24];
    ledger_booking b;
    int rc;
} frozen_job;

static void frozen_run(ledger *l, ledger_job *job)
{
    frozen_job *j = job->data;
    j->rc = ledger_booking_by_hold(l, j->id, j->ref, &j->b);
}

static void frozen_done(ledger_job *job)
{
    frozen_job *j = job->data;
    show *s = j->s;
    char id[24], *json;
    const char *args[3] = {j->ref, id, ""};

    /* A confirmation of this process froze it meanwhile and is committing:
     * it finishes the hold itself (book.lua or thaw). */
    if (freeze_live(s, j->ref)) {
        ledger_booking_clear(&j->b);
        free(j);
        return;
    }
    /* Refs are unique only among live holds: a booking of this freeze was
     * made after it (a minute of slack for clocks), an older one is another
     * hold's that had the same code. A database that did not answer thaws
     * it too: the booking's own commit failed or will be seen by ensure. */
    if (j->rc == 0 && j->b.created_at >= atoll(j->frozen) - 60000) {
        snprintf(id, sizeof(id), "%lld", (long long)j->b.id);
        sm_info("show %s: hold %s was booked (booking %s) but not marked in Redis; fixing", s->id,
                j->ref, id);
        json = ledger_booking_json_str(&j->b); /* for booking.created; NULL: a smaller one */
        args[2] = json ? json : "";
        store_run(s->all->cfg.store, "book", s->id, 3, args, on_store_result, s);
        free(json);
    } else {
        args[1] = j->frozen;
        sm_info("show %s: hold %s was left frozen by an unfinished confirmation; releasing it",
                s->id, j->ref);
        store_run(s->all->cfg.store, "thaw", s->id, 2, args, on_store_result, s);
    }
    ledger_booking_clear(&j->b);
    free(j);
}

static void reconcile_frozen(show *s, const char *token)
{
    const char *at = strchr(token, '@');
    frozen_job *j;

    if (!at || at - token > AUTH_REF_LEN || !(j = calloc(1, sizeof(*j))))
        return;
    j->s = s;
    snprintf(j->id, sizeof(j->id), "%s", s->id);
    snprintf(j->ref, sizeof(j->ref), "%.*s", (int)(at - token), token);
    snprintf(j->frozen, sizeof(j->frozen), "%s", at + 1);
    j->job.data = j;
    ledger_queue_call(s->all->audit_queue, s->all->cfg.ledger, &j->job, frozen_run, frozen_done);
}

/* ---- sweep ---- */

static void sweep_show(show *s, const char *source);

static void on_swept(void *arg, const store_result *res)
{
    show *s = arg;
    int again = s->sweep_again || res->outcome == OUT_MORE;
    const char *next = s->sweep_next_source ? s->sweep_next_source : s->sweep_source;

    s->sweeping = 0;
    s->sweep_again = 0;
    s->sweep_next_source = NULL;
    /* show.expire error: the sweep ran in Redis but its reply is lost; its
     * expiries still arrive over pub/sub. */
    if (SM_FAILPOINT("show.expire"))
        return;
    show_apply_result(s, res, "expiry");
    if (res->outcome == OUT_OK || res->outcome == OUT_MORE) {
        char refs[4096], *tok, *save = NULL;
        snprintf(refs, sizeof(refs), "%s", res->detail);
        for (tok = strtok_r(refs, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
            reconcile_frozen(s, tok);
    }
    if (again)
        sweep_show(s, next);
}

/* source: "sweep" (the timer) or "keyspace_event", for the metrics. */
static confirm_mark *confirm_mark_of(show *s, const char *ref)
{
    confirm_mark *m = sm_map_get(&s->confirms, ref);
    if (m)
        return m;
    if (!(m = calloc(1, sizeof(*m))))
        return NULL;
    if (sm_map_set(&s->confirms, ref, m)) {
        free(m);
        return NULL;
    }
    return m;
}

static void confirm_mark_drop_if_idle(show *s, const char *ref, confirm_mark *m)
{
    if (!m->inflight && !m->doubtful)
        free(sm_map_del(&s->confirms, ref));
}

void show_freeze_held(show *s, const char *ref)
{
    confirm_mark *m = confirm_mark_of(s, ref);
    if (m)
        m->inflight++;
}

void show_freeze_released(show *s, const char *ref)
{
    confirm_mark *m = sm_map_get(&s->confirms, ref);
    if (!m)
        return; /* its held ran out of memory */
    if (m->inflight > 0)
        m->inflight--;
    confirm_mark_drop_if_idle(s, ref, m);
}

void show_freeze_in_doubt(show *s, const char *ref)
{
    confirm_mark *m = confirm_mark_of(s, ref);
    if (m)
        m->doubtful = 1;
}

static int freeze_live(show *s, const char *ref)
{
    const confirm_mark *m = sm_map_get(&s->confirms, ref);
    return m && m->inflight > 0;
}

/* Up to max refs whose freeze is in doubt and that no confirmation of this
 * process has in flight, into out; they are forgotten here (sweep.lua
 * reconciles them once; if that sweep fails, the frozen bound still does). */
static size_t take_doubtful(show *s, const char **out, char (*refs)[AUTH_REF_LEN + 1], size_t max)
{
    size_t it = 0, n = 0, i;
    const char *k;
    void *v;
    while (n < max && sm_map_next(&s->confirms, &it, &k, &v)) {
        confirm_mark *m = v;
        if (m->doubtful && !m->inflight)
            snprintf(refs[n++], AUTH_REF_LEN + 1, "%s", k);
    }
    for (i = 0; i < n; i++) {
        free(sm_map_del(&s->confirms, refs[i]));
        out[i] = refs[i];
    }
    return n;
}

static void sweep_show(show *s, const char *source)
{
    char bound[24], doubtful[SHOW_SWEEP_DOUBTFUL][AUTH_REF_LEN + 1];
    const char *args[4 + SHOW_SWEEP_DOUBTFUL] = {SHOW_SWEEP_BATCH, bound, s->all->instance,
                                                 s->all->started_ms};
    size_t ndoubt;

    if (s->sweeping) {
        s->sweep_again = 1;
        if (!s->sweep_next_source || strcmp(source, "keyspace_event") == 0)
            s->sweep_next_source = source;
        return;
    }
    s->sweep_source = source;
    snprintf(bound, sizeof(bound), "%ld", s->all->cfg.frozen_bound_ms);
    if (SM_FAILPOINT("show.sweep")) /* error: this round is skipped, as if Redis failed */
        return;
    ndoubt = s->confirms.used ? take_doubtful(s, args + 4, doubtful, SHOW_SWEEP_DOUBTFUL) : 0;
    if (store_run(s->all->cfg.store, "sweep", s->id, (int)(4 + ndoubt), args, on_swept, s) == 0)
        s->sweeping = 1;
}

/* Every tick sweeps the shows that have holds (as far as the cache knows);
 * every SHOW_SWEEP_ALL_EVERY ticks all of them, in case the cache missed one
 * or a confirmation left a frozen hold behind. */
void shows_sweep(shows *a)
{
    size_t it = 0;
    void *v;
    int all = a->sweep_round++ % SHOW_SWEEP_ALL_EVERY == 0;

    if (!store_up(a->cfg.store))
        return;
    while (sm_map_next(&a->by_id, &it, NULL, &v)) {
        show *s = v;
        if (all || s->holds_by_ref.used || !s->synced)
            sweep_show(s, "sweep");
    }
}

void shows_store_expired(shows *a, const char *show_id)
{
    show *s = sm_map_get(&a->by_id, show_id);
    if (s && store_up(a->cfg.store))
        sweep_show(s, "keyspace_event");
}

void shows_store_message(shows *a, const char *show_id, const char *json, size_t len)
{
    show *s = sm_map_get(&a->by_id, show_id);
    if (s)
        show_apply(s, json, len);
}

void shows_store_ready(shows *a)
{
    size_t it = 0;
    void *v;
    while (sm_map_next(&a->by_id, &it, NULL, &v))
        ensure_then_resync(v);
}

/* The periodic check of booked seats: Redis's count against the ledger's
 * (read off the loop); only a difference runs the full (O(show)) ensure. A
 * reconciliation that raced with a cancellation is put right by the next
 * check. */
typedef struct count_job {
    ledger_job job;
    show *s; /* valid for the registry's life */
    char id[SM_SHOW_ID_MAX + 1];
    int64_t redis, n;
    int rc;
} count_job;

static void count_run(ledger *l, ledger_job *job)
{
    count_job *j = job->data;
    j->rc = ledger_booked_count(l, j->id, &j->n);
}

static void count_done(ledger_job *job)
{
    count_job *j = job->data;
    if (!j->rc && j->n != j->redis) {
        sm_warn("show %s: Redis has %lld booked seats, the database %lld; reconciling", j->id,
                (long long)j->redis, (long long)j->n);
        show_ensure_booked(j->s);
    }
    free(j);
}

static void on_booked_count(void *arg, const store_result *res)
{
    show *s = arg;
    count_job *j;

    if (res->outcome != OUT_OK || !(j = calloc(1, sizeof(*j))))
        return;
    j->s = s;
    snprintf(j->id, sizeof(j->id), "%s", s->id);
    j->redis = atoll(res->detail);
    j->job.data = j;
    ledger_queue_call(s->all->audit_queue, s->all->cfg.ledger, &j->job, count_run, count_done);
}

/* On the queue's thread: the batch joins the thread handle's own buffer,
 * which keeps rows (up to its bound) while the database is away and writes
 * them with the next batch once it is back. */
static void audit_run(ledger *l, ledger_job *job)
{
    shows *a = job->data;
    ledger_audit_give(l, a->audit_batch);
    a->audit_batch = NULL;
    if (!ledger_audit_flush(l)) {
        if (a->audit_failing)
            sm_info("ledger: audit rows written again");
        a->audit_failing = 0;
    } else if (!a->audit_failing++) {
        sm_warn("ledger: cannot write audit rows (kept, tried again): %s", ledger_errmsg(l));
    }
}

static void audit_done(ledger_job *job)
{
    shows *a = job->data;
    a->audit_busy = 0;
}

void shows_set_audit_queue(shows *a, ledger_queue *q)
{
    a->audit_queue = q;
    if (q)
        ledger_audit_buffer_only(a->cfg.ledger);
}

void shows_audit_reclaim(shows *a)
{
    if (!a)
        return;
    /* the queue is closed: a batch it never started goes back to the loop's
     * handle, which writes it at close */
    ledger_audit_give(a->cfg.ledger, a->audit_batch);
    a->audit_batch = NULL;
    a->audit_busy = 0;
    a->audit_queue = NULL;
}

static void audit_flush(shows *a)
{
    if (!a->audit_queue) {
        ledger_audit_flush(a->cfg.ledger);
        return;
    }
    if (a->audit_busy || !(a->audit_batch = ledger_audit_take(a->cfg.ledger)))
        return;
    a->audit_busy = 1;
    a->audit_job.data = a;
    ledger_queue_submit(a->audit_queue, &a->audit_job, audit_run, audit_done);
}

void shows_maintain(shows *a)
{
    size_t it = 0;
    void *v;
    int64_t now = sm_mono_ms();
    int check = now - a->last_booked_check_mono >= SHOW_CHECK_BOOKED_MS;

    audit_flush(a);
    if (!store_ready(a->cfg.store))
        return;
    if (check)
        a->last_booked_check_mono = now;
    while (sm_map_next(&a->by_id, &it, NULL, &v)) {
        show *s = v;
        if (!s->synced && !s->syncing)
            show_resync(s, s->snapshot_all);
        if (check)
            store_run(a->cfg.store, "count", s->id, 0, NULL, on_booked_count, s);
    }
}
