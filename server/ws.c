/*
 * ws.c - the WebSocket protocol callback and the requests of seatmap.v1 and
 * seatmap.v2 (the same requests; v2 differs only in how show.c encodes seat
 * events, which the connection's client records).
 *
 * The callback is a thin dispatcher over the per-connection session: it
 * parses each complete message with cJSON, answers hello and watch itself
 * and hands holds and releases to Redis (store.h), best-available requests
 * to best_op.h. A request naming a show this process has not loaded yet is
 * parked until its load (off the loop, show_load.h) ends, then handled
 * again. Every frame goes out
 * through the connection's client (client.h).
 */
#include "ws.h"

#include "metrics.h"

#include "admin_feed.h"
#include "api.h"
#include "api_db.h"
#include "app.h"
#include "failpoint.h"
#include "http_request.h"
#include "json_input.h"
#include "ledger_accounts.h"
#include "store_hold.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define WS_REF_TRIES 3
#define WS_MAX_SEATS 100 /* seats named in one request */
/* A connection that has more than this many messages refused by the rate
 * limit in each of two seconds running is closed with 1008: it is not
 * listening. */
#define WS_FLOOD_REFUSED 200
#define WS_FLOOD_MS 1000
#define WS_FLOOD_KILL_S 5

static size_t ws_open; /* connections established and not yet closed */
/* Connections in order of their last proof of life (keepalive.h); the
 * periods are set from the config at the first connection. */
static keepalive_list ws_alive;
static int ws_alive_ready;

size_t ws_connections(void)
{
    return ws_open;
}

/* ---- replies ---- */

/*
 * The request being answered: replies made while it is set carry its type
 * and the time it was read (frame.h), and client.c observes
 * M_WS_REQUEST_SECONDS when it writes them. Set around the synchronous
 * handling of a message and around each asynchronous answer (one loop per
 * process: one at a time; nested answers save and restore it).
 */
typedef struct req_ctx {
    const char *type; /* a static label; NULL: not answering a request */
    double t0;        /* metrics_now() when the request was read */
} req_ctx;
static req_ctx cur_req;

static req_ctx req_enter(const char *type, double t0)
{
    req_ctx saved = cur_req;
    cur_req.type = type;
    cur_req.t0 = t0;
    return saved;
}

static void req_leave(req_ctx saved)
{
    cur_req = saved;
}

/* Sends b's text as a reply to the current request. */
static void send_answer(client *c, const sm_buf *b)
{
    frame *f;
    if (sm_buf_failed(b) || !(f = frame_new(b->data, b->len)))
        return;
    f->req_type = cur_req.type;
    f->req_t0 = cur_req.t0;
    client_send(c, f);
    frame_unref(f);
}

static void send_reply(client *c, int64_t id, const char *fields)
{
    sm_buf b;
    sm_buf_init(&b, 1024 * 1024);
    sm_buf_printf(&b, "{\"type\":\"ok\",\"id\":%lld%s%s}", (long long)id, *fields ? "," : "",
                  fields);
    send_answer(c, &b);
    sm_buf_free(&b);
}

/* message NULL: outcome.h's default. extra: more JSON members (e.g.
 * "\"seats\":[...]") or NULL. id 0: a message without a usable id. */
static void send_error(client *c, int64_t id, outcome o, const char *message, const char *extra)
{
    sm_log_level lv = outcome_http_status(o) >= 500 ? SM_LOG_ERROR : SM_LOG_DEBUG;
    sm_buf b;
    if (sm_log_enabled(lv))
        sm_logf(lv, client_id(c), "WebSocket error %s on request %lld: %s", outcome_code(o),
                (long long)id, message ? message : outcome_message(o));
    sm_buf_init(&b, 1024 * 1024);
    if (id > 0)
        sm_buf_printf(&b, "{\"type\":\"error\",\"id\":%lld,", (long long)id);
    else
        sm_buf_adds(&b, "{\"type\":\"error\",\"id\":null,");
    sm_buf_printf(&b, "\"code\":\"%s\",\"message\":", outcome_code(o));
    sm_buf_add_json_str(&b, message ? message : outcome_message(o));
    if (extra)
        sm_buf_printf(&b, ",%s", extra);
    sm_buf_addc(&b, '}');
    send_answer(c, &b);
    sm_buf_free(&b);
}

/* ---- a show not in the cache yet (show_load.h) ---- */

/* Requests of one connection waiting for a show's load at once; beyond,
 * `unavailable` (a page waits for one show; a script probing ids need not
 * hold more). */
#define WS_MAX_PARKED 16

static void dispatch(app *a, ws_session *pss, int64_t id, const char *type, const cJSON *m,
                     int count);

/*
 * A request naming a show that is being loaded (off the loop): a copy of
 * the message, parked until the load ends, then handled again (the show is
 * cached by then) or answered with the load's error. The connection may
 * close meanwhile: c is referenced and pss (owned by lws) is used only
 * while c is still connected, as admin_check does; a closed one is simply
 * dropped from the wait.
 */
typedef struct parked {
    show_wait w;
    app *a;
    ws_session *pss;
    client *c; /* referenced */
    int64_t id;
    const char *type; /* a static label (req_ctx) */
    double t0;        /* when the request was read */
    int has_metric;   /* hold and release count their outcomes */
    metric_id metric;
    char *msg; /* the message, re-encoded (cJSON_PrintUnformatted: free) */
} parked;

static void send_show_error(client *c, int64_t id, outcome o)
{
    if (o == OUT_UNAVAILABLE)
        send_error(c, id, OUT_UNAVAILABLE,
                   "the database is not answering; please try again in a moment", NULL);
    else
        send_error(c, id, OUT_UNKNOWN_SHOW, NULL, NULL);
}

static void parked_done(show_wait *w, show *s, outcome o)
{
    parked *k = w->data;
    ws_session *pss = k->pss;
    req_ctx saved = req_enter(k->type, k->t0);
    cJSON *m;

    if (client_connected(k->c) && pss->c == k->c) {
        pss->parked--;
        if (!s) {
            if (k->has_metric)
                metrics_inc(k->metric, outcome_code(o == OUT_UNAVAILABLE ? o : OUT_UNKNOWN_SHOW));
            send_show_error(k->c, k->id, o);
        } else if ((m = cJSON_Parse(k->msg))) {
            /* the show is cached now: handled as if it had just come */
            const cJSON *jtype = cJSON_GetObjectItemCaseSensitive(m, "type");
            dispatch(k->a, pss, k->id, jtype->valuestring, m, 0);
            cJSON_Delete(m);
        } else {
            send_error(k->c, k->id, OUT_INTERNAL, "out of memory", NULL);
        }
    }
    req_leave(saved);
    client_unref(k->c);
    cJSON_free(k->msg);
    free(k);
}

/*
 * The show a request names: OUT_OK with *out when it is cached. Else
 * OUT_MORE when the request is parked until the show's load ends (handled
 * again then), or the error to answer (OUT_UNKNOWN_SHOW, OUT_UNAVAILABLE).
 */
static outcome show_for(app *a, ws_session *pss, int64_t id, const cJSON *m, const char *show_id,
                        const metric_id *metric, show **out)
{
    parked *k;
    outcome o;

    if ((*out = shows_get(a->shows, show_id)))
        return OUT_OK;
    if (pss->parked >= WS_MAX_PARKED || !(k = calloc(1, sizeof(*k))))
        return OUT_UNAVAILABLE;
    k->w.data = k;
    o = show_load(a->loader, show_id, out, &k->w, parked_done);
    if (o != OUT_MORE) {
        free(k);
        return o;
    }
    k->a = a;
    k->pss = pss;
    k->c = pss->c;
    client_ref(k->c);
    k->id = id;
    k->type = cur_req.type;
    k->t0 = cur_req.t0;
    if (metric) {
        k->has_metric = 1;
        k->metric = *metric;
    }
    /* after show_load: its done callback never comes before it returns */
    k->msg = cJSON_PrintUnformatted(m);
    pss->parked++;
    return OUT_MORE;
}

/* ---- hold and release ---- */

/* Who holds for this connection: its buyer, under the per-address cap of
 * its client address (addr_limits.h). */
static void who_of(app *a, client *c, const char *addr, hold_who *w)
{
    char ip_key[IPLIMIT_KEY_MAX];
    int cap = limits_held_cap(a->limits, addr, ip_key);
    hold_who_init(w, client_buyer_id(c), a->cfg.hold_ttl_ms, a->cfg.max_seats, ip_key, cap);
}

typedef struct seat_op {
    app *a;
    client *c;       /* holds a reference */
    ws_session *pss; /* valid while c is connected */
    show *s;
    hold_who who; /* the buyer, and for a hold its address's cap */
    int64_t id;
    double t0; /* when the request was read (req_ctx) */
    int release;
    int tries;
    size_t nseats;
    const char *seats[]; /* the venue's own strings */
} seat_op;

static void op_run(seat_op *op);

/* The reply to a hold or release; 1 when the op runs again instead. */
static int op_reply(seat_op *op, const store_result *res)
{
    client *c = op->c;
    char extra[64 * 1024];

    switch (res->outcome) {
    case OUT_OK:
        snprintf(extra, sizeof(extra), "\"hold\":%s", res->detail[0] ? res->detail : "null");
        send_reply(c, op->id, extra);
        break;
    case OUT_RETRY: /* every candidate code was taken */
        if (++op->tries < WS_REF_TRIES) {
            op_run(op);
            return 1;
        }
        send_error(c, op->id, OUT_INTERNAL, NULL, NULL);
        break;
    case OUT_SEAT_UNAVAILABLE:
        snprintf(extra, sizeof(extra), "\"seats\":%s", res->detail);
        send_error(c, op->id, OUT_SEAT_UNAVAILABLE,
                   "someone else has just taken one of these seats", extra);
        break;
    case OUT_NOT_HELD:
        snprintf(extra, sizeof(extra), "\"seats\":%s", res->detail[0] ? res->detail : "[]");
        send_error(c, op->id, OUT_NOT_HELD, NULL, extra);
        break;
    case OUT_HOLD_LIMIT:
        if (store_hold_ip_capped(res))
            limits_stats(op->a->limits)->held_refused++;
        send_error(c, op->id, OUT_HOLD_LIMIT,
                   store_hold_limit_message(res, &op->who, extra, sizeof(extra)), NULL);
        break;
    case OUT_HOLD_LOCKED:
        send_error(c, op->id, OUT_HOLD_LOCKED,
                   "your hold is being paid for at the box office right now", NULL);
        break;
    case OUT_UNAVAILABLE:
        send_error(c, op->id, OUT_UNAVAILABLE,
                   "the seat store is unavailable right now; please try again in a moment", NULL);
        break;
    default:
        send_error(c, op->id, OUT_INTERNAL, NULL, NULL);
    }
    return 0;
}

static void op_done(void *arg, const store_result *res)
{
    seat_op *op = arg;
    client *c = op->c;
    int again = 0;

    metrics_inc(op->release ? M_RELEASES : M_HOLDS, outcome_code(res->outcome));
    /* The buyer's hold event (show_apply_result) and the reply go out in
     * one write when they go to the same connection (client.h). The batch
     * keeps a reference of its own: a retry may finish (and free) op. */
    req_ctx saved = req_enter(op->release ? "release" : "hold", op->t0);

    client_ref(c);
    client_batch_begin(c);
    show_apply_result(op->s, res, NULL);
    /* closed meanwhile: nobody to answer */
    if (client_connected(c) && !(again = op_reply(op, res))) {
        /* a server that drains closes once every request is answered */
        if (--op->pss->ops == 0 && op->a->draining)
            client_go_away(c);
    }
    if (!again) {
        client_unref(c); /* op's */
        free(op);
    }
    client_batch_end(c);
    client_unref(c);
    req_leave(saved);
}

static void op_run(seat_op *op)
{
    const char *args[1 + WS_MAX_SEATS];
    int rc;

    /* error: as if Redis were down */
    if (SM_FAILPOINT(op->release ? "ws.release" : "ws.hold")) {
        rc = -1;
    } else if (op->release) {
        args[0] = op->who.buyer_id;
        memcpy(args + 1, op->seats, sizeof(args[0]) * op->nseats);
        rc = store_run(op->a->store, "release", show_id(op->s), (int)op->nseats + 1, args, op_done,
                       op);
    } else {
        rc = store_hold_run(op->a->store, show_id(op->s), &op->who, op->seats, op->nseats, op_done,
                            op);
    }
    if (rc) {
        store_result res = STORE_RESULT_UNAVAILABLE;
        op_done(op, &res);
    }
}

/* Checks the request's shape; the number of seats, or 0 after answering. */
static int seats_request_ok(app *a, client *c, int64_t id, const cJSON *jshow, const cJSON *jseats,
                            int release)
{
    const cJSON *it;
    int n;
    char msg[64];

    if (!cJSON_IsString(jshow) || !cJSON_IsArray(jseats) || (n = cJSON_GetArraySize(jseats)) == 0) {
        send_error(c, id, OUT_BAD_REQUEST,
                   "expected \"show\" (a string) and \"seats\" (a list of seat ids)", NULL);
        return 0;
    }
    cJSON_ArrayForEach(it, jseats) if (!cJSON_IsString(it))
    {
        send_error(c, id, OUT_BAD_REQUEST, "\"seats\" must be a list of seat ids (strings)", NULL);
        return 0;
    }
    if (!release && n > a->cfg.max_seats) {
        snprintf(msg, sizeof(msg), "a hold can have at most %d seats", a->cfg.max_seats);
        send_error(c, id, OUT_HOLD_LIMIT, msg, NULL);
        return 0;
    }
    if (n > WS_MAX_SEATS) {
        send_error(c, id, OUT_BAD_REQUEST, "too many seats in one request", NULL);
        return 0;
    }
    return n;
}

static void do_seats(app *a, ws_session *pss, int64_t id, const cJSON *m, int release)
{
    client *c = pss->c;
    const cJSON *jshow = cJSON_GetObjectItemCaseSensitive(m, "show");
    const cJSON *jseats = cJSON_GetObjectItemCaseSensitive(m, "seats");
    int n = seats_request_ok(a, c, id, jshow, jseats, release);
    seat_op *op;
    show *s;
    sm_buf unknown;

    if (!n) {
        metrics_inc(release ? M_RELEASES : M_HOLDS, outcome_code(OUT_BAD_REQUEST));
        return;
    }
    {
        metric_id mid = release ? M_RELEASES : M_HOLDS;
        outcome o = show_for(a, pss, id, m, jshow->valuestring, &mid, &s);
        if (o != OUT_OK) {
            if (o != OUT_MORE) { /* else parked: answered once the show is loaded */
                metrics_inc(mid, outcome_code(o));
                send_show_error(c, id, o);
            }
            return;
        }
    }
    op = calloc(1, sizeof(*op) + sizeof(op->seats[0]) * (size_t)n);
    if (!op) {
        send_error(c, id, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    sm_buf_init(&unknown, 64 * 1024);
    sm_buf_adds(&unknown, "\"seats\":");
    if (venue_resolve_seats(show_venue(s), jseats, op->seats, (size_t)n, &op->nseats, &unknown)) {
        metrics_inc(release ? M_RELEASES : M_HOLDS, outcome_code(OUT_UNKNOWN_SEAT));
        send_error(c, id, OUT_UNKNOWN_SEAT, NULL, sm_buf_failed(&unknown) ? NULL : unknown.data);
        sm_buf_free(&unknown);
        free(op);
        return;
    }
    sm_buf_free(&unknown);
    op->a = a;
    op->c = c;
    op->pss = pss;
    pss->ops++;
    client_ref(c);
    op->s = s;
    op->id = id;
    op->t0 = cur_req.t0;
    op->release = release;
    who_of(a, c, pss->addr, &op->who);
    op_run(op);
}

/* ---- best: the best seats, held (best_op.h) ---- */

typedef struct best_call {
    best_op op;
    app *a;
    client *c; /* holds a reference */
    int64_t id;
    double t0; /* when the request was read (req_ctx) */
} best_call;

static int best_wanted(best_op *op)
{
    return client_connected(((best_call *)op->data)->c);
}

static void best_reply(best_call *bc, const best_done *d)
{
    const venue *v = show_venue(bc->op.s);
    sm_buf b;
    char msg[64];

    sm_buf_init(&b, 64 * 1024);
    switch (d->outcome) {
    case OUT_OK:
        sm_buf_printf(&b, "\"hold\":%s,\"best\":{", d->hold_json);
        best_pick_json(v, d->pick, &b);
        sm_buf_printf(&b, ",\"tries\":%d}", d->tries);
        if (!sm_buf_failed(&b))
            send_reply(bc->c, bc->id, b.data);
        break;
    case OUT_SEAT_UNAVAILABLE:
        sm_buf_printf(&b, "\"seats\":%s,", d->seats_json ? d->seats_json : "[]");
        best_hint_json(d->pick, &b);
        send_error(bc->c, bc->id, d->outcome, d->message, sm_buf_failed(&b) ? NULL : b.data);
        break;
    case OUT_HOLD_LIMIT:
        if (d->ip_capped)
            limits_stats(bc->a->limits)->held_refused++;
        if (d->message) {
            send_error(bc->c, bc->id, d->outcome, d->message, NULL);
        } else {
            snprintf(msg, sizeof(msg), "a hold can have at most %d seats", bc->a->cfg.max_seats);
            send_error(bc->c, bc->id, d->outcome, msg, NULL);
        }
        break;
    case OUT_HOLD_LOCKED:
        send_error(bc->c, bc->id, d->outcome,
                   "your hold is being paid for at the box office right now", NULL);
        break;
    default:
        send_error(bc->c, bc->id, d->outcome, d->message, NULL);
    }
    sm_buf_free(&b);
}

static void best_done_cb(best_op *op, const best_done *d)
{
    best_call *bc = op->data;
    req_ctx saved = req_enter("best", bc->t0);
    if (client_connected(bc->c))
        best_reply(bc, d);
    req_leave(saved);
    best_op_clear(op);
    client_unref(bc->c);
    free(bc);
}

static void do_best(app *a, ws_session *pss, int64_t id, const cJSON *m)
{
    const cJSON *jshow = cJSON_GetObjectItemCaseSensitive(m, "show");
    client *c = pss->c;
    const char *addr = pss->addr;
    best_request req;
    best_call *bc;
    char err[160];
    show *s;
    outcome o;

    if (!cJSON_IsString(jshow)) {
        send_error(c, id, OUT_BAD_REQUEST, "expected \"show\" (a string) and \"count\"", NULL);
        return;
    }
    if ((o = show_for(a, pss, id, m, jshow->valuestring, NULL, &s)) != OUT_OK) {
        if (o != OUT_MORE) /* else parked: answered once the show is loaded */
            send_show_error(c, id, o);
        return;
    }
    if (best_parse_request(show_venue(s), m, &req, err, sizeof(err))) {
        send_error(c, id, OUT_BAD_REQUEST, err, NULL);
        return;
    }
    bc = calloc(1, sizeof(*bc));
    if (!bc) {
        send_error(c, id, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    bc->a = a;
    bc->c = c;
    client_ref(c);
    bc->id = id;
    bc->t0 = cur_req.t0;
    bc->op.data = bc;
    bc->op.wanted = best_wanted;
    {
        hold_who who;
        who_of(a, c, addr, &who);
        best_op_hold(&bc->op, a->best, a->store, s, &req, &who, best_done_cb);
    }
}

/* ---- hello and watch ---- */

/* 1 when this connection has used the buyer id before. */
static int used_identity(const ws_session *pss, const char *buyer_id)
{
    int i;
    for (i = 0; i < pss->identities; i++)
        if (strcmp(pss->identity[i], buyer_id) == 0)
            return 1;
    return 0;
}

/* 0 when the connection may take this identity (counting it when it is a
 * new one); otherwise answers rate_limited and returns -1. known_id: the
 * id of a valid token it brought, or NULL when one is to be minted. */
static int identity_ok(app *a, ws_session *pss, int64_t id, const char *known_id)
{
    char msg[256];
    int64_t wait_ms;

    if (known_id && used_identity(pss, known_id))
        return 0; /* switching back is free */
    if (pss->identities >= WS_MAX_IDENTITIES) {
        limits_stats(a->limits)->buyers_refused++;
        snprintf(msg, sizeof(msg),
                 "this connection has already used %d buyer identities; open a new one",
                 WS_MAX_IDENTITIES);
        send_error(pss->c, id, OUT_RATE_LIMITED, msg, NULL);
        return -1;
    }
    if (!known_id && !limits_new_buyer(a->limits, pss->addr, &wait_ms)) {
        snprintf(msg, sizeof(msg),
                 "too many new buyers from your network address (at most %d a minute; "
                 "--new-buyers-per-ip): try again in %lld s",
                 a->cfg.new_buyers_per_ip, (long long)(wait_ms + 999) / 1000);
        send_error(pss->c, id, OUT_RATE_LIMITED, msg, NULL);
        return -1;
    }
    return 0;
}

static void do_hello(app *a, ws_session *pss, int64_t id, const cJSON *m)
{
    const cJSON *jb = cJSON_GetObjectItemCaseSensitive(m, "buyer");
    char fields[512], buyer_id[AUTH_BUYER_ID_LEN + 1];
    int known;

    if (jb && !cJSON_IsString(jb) && !cJSON_IsNull(jb)) {
        send_error(pss->c, id, OUT_BAD_REQUEST, "\"buyer\" must be the token this server gave you",
                   NULL);
        return;
    }
    known = cJSON_IsString(jb) && auth_buyer_verify(a->secret, jb->valuestring) == 0;
    if (known)
        auth_buyer_id(jb->valuestring, buyer_id);
    if (identity_ok(a, pss, id, known ? buyer_id : NULL))
        return;
    if (known)
        snprintf(pss->buyer, sizeof(pss->buyer), "%s", jb->valuestring);
    else
        auth_buyer_mint(a->secret, pss->buyer);
    auth_buyer_id(pss->buyer, buyer_id);
    if (!used_identity(pss, buyer_id))
        snprintf(pss->identity[pss->identities++], sizeof(pss->identity[0]), "%s", buyer_id);
    if (client_hub_set_buyer(a->hub, pss->c, buyer_id)) {
        send_error(pss->c, id, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    pss->hello = 1;
    snprintf(fields, sizeof(fields),
             "\"buyer\":\"%s\",\"server\":\"seatmapd/" SM_VERSION
             "\",\"limits\":{\"max_seats\":%d,\"hold_ttl_ms\":%ld}",
             pss->buyer, a->cfg.max_seats, a->cfg.hold_ttl_ms);
    send_reply(pss->c, id, fields);
}

/* `since`, the seq the page applied last: -1 when absent, -2 when it is not
 * a whole number >= 0. */
static int64_t since_of(const cJSON *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "since");
    if (!v || cJSON_IsNull(v))
        return -1;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
        v->valuedouble != (double)sm_json_int(v->valuedouble, -2))
        return -2;
    return sm_json_int(v->valuedouble, -2);
}

static void do_watch(app *a, ws_session *pss, int64_t id, const cJSON *m)
{
    const cJSON *jshow = cJSON_GetObjectItemCaseSensitive(m, "show");
    int64_t since = since_of(m);
    show *s;
    sm_buf b;

    if (!cJSON_IsString(jshow)) {
        send_error(pss->c, id, OUT_BAD_REQUEST, "expected \"show\": a show id", NULL);
        return;
    }
    if (since == -2) {
        send_error(pss->c, id, OUT_BAD_REQUEST,
                   "expected \"since\": the last seq applied, a whole number >= 0", NULL);
        return;
    }
    {
        outcome o = show_for(a, pss, id, m, jshow->valuestring, NULL, &s);
        if (o != OUT_OK) {
            if (o != OUT_MORE) /* else parked: answered once the show is loaded */
                send_show_error(pss->c, id, o);
            return;
        }
    }
    /* Resumed: the reply says so and carries the buyer's hold (a snapshot
     * would have); one delta from `since` follows, if anything changed.
     * Else a snapshot follows, as without `since`. */
    if (since >= 0 && !show_resumable(s, since))
        since = -1;
    sm_buf_init(&b, 64 * 1024);
    sm_buf_printf(&b, "\"show\":\"%s\"", show_id(s));
    if (since >= 0) {
        sm_buf_adds(&b, ",\"resumed\":true,\"hold\":");
        show_hold_json(s, show_hold_of(s, client_buyer_id(pss->c)), &b);
    }
    if (sm_buf_failed(&b)) {
        sm_buf_free(&b);
        send_error(pss->c, id, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    send_reply(pss->c, id, b.data);
    sm_buf_free(&b);
    show_unwatch(pss->w);
    pss->w = show_watch_since(s, pss->c, since);
}

/* ---- admin: the live dashboard's feed (docs/protocol.md, admin_feed.h) ---- */

/* The session lookup of a dashboard request, on the staff queue (off the
 * loop). The connection may close meanwhile: c is referenced, and pss (owned
 * by lws) is used only while c is still connected, which it is until
 * on_closed detaches it. A lookup not back within API_DB_WAIT_MS is
 * answered `unavailable` and its late result dropped (as api_db.h does for
 * HTTP); the bound's timer is its own allocation, freed once closed. */
typedef struct admin_check {
    ledger_job job;
    app *a;
    ws_session *pss;
    client *c; /* referenced */
    int64_t id, now_ms;
    double t0;         /* when the request was read (req_ctx) */
    uv_timer_t *timer; /* the bound, or NULL */
    int answered;      /* by the bound */
    char hash[AUTH_HASH_HEX + 1];
    ledger_user u;
    int rc;
} admin_check;

static void admin_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void admin_stop_timer(admin_check *k)
{
    if (!k->timer)
        return;
    uv_timer_stop(k->timer);
    uv_close((uv_handle_t *)k->timer, admin_timer_closed);
    k->timer = NULL;
}

/* The database did not answer in time: unavailable now, the result is
 * dropped when it comes. */
static void admin_check_bound(uv_timer_t *t)
{
    admin_check *k = t->data;
    req_ctx saved = req_enter("admin", k->t0);

    admin_stop_timer(k);
    k->answered = 1;
    if (client_connected(k->c) && k->pss->c == k->c)
        send_error(k->c, k->id, OUT_UNAVAILABLE,
                   "the database is not answering; please try again in a moment", NULL);
    req_leave(saved);
}

static void admin_check_run(ledger *l, ledger_job *job)
{
    admin_check *k = job->data;
    k->rc = ledger_session_lookup(l, k->hash, k->now_ms, &k->u);
}

static void admin_check_done(ledger_job *job)
{
    admin_check *k = job->data;
    ws_session *pss = k->pss;
    req_ctx saved = req_enter("admin", k->t0);
    sm_buf b;

    admin_stop_timer(k);
    if (k->answered || !client_connected(k->c) || pss->c != k->c) {
        /* answered by the bound, or closed meanwhile: nobody to answer */
    } else if (k->rc == LEDGER_ENOTFOUND) {
        send_error(k->c, k->id, OUT_UNAUTHORIZED,
                   "log in as an administrator first (the session cookie of /api/login)", NULL);
    } else if (k->rc) {
        send_error(k->c, k->id, OUT_UNAVAILABLE, "the database is unavailable; try again", NULL);
    } else if (strcmp(k->u.role, "admin") != 0) {
        send_error(k->c, k->id, OUT_FORBIDDEN, "the dashboard is for administrators only", NULL);
    } else if (pss->admin) {
        send_reply(k->c, k->id, ""); /* already subscribed (two requests crossed) */
    } else if (!k->a->admin || admin_feed_subscribe(k->a->admin, k->c, pss->session_hash) < 0) {
        send_error(k->c, k->id, OUT_RATE_LIMITED, "too many dashboards are open; close one", NULL);
    } else {
        pss->admin = 1;
        sm_buf_init(&b, 1024);
        sm_buf_adds(&b, "\"user\":");
        sm_buf_add_json_str(&b, k->u.name);
        sm_buf_printf(&b, ",\"push_ms\":%d", ADMIN_FEED_PUSH_MS);
        send_reply(k->c, k->id, sm_buf_failed(&b) ? "" : b.data);
        sm_buf_free(&b);
    }
    req_leave(saved);
    client_unref(k->c);
    memset(&k->u, 0, sizeof(k->u));
    free(k);
}

/* Needs the session cookie of an administrator, sent with the upgrade (the
 * Origin check at the upgrade keeps other sites out), and a hello first,
 * like every request (PROTOCOL.md). Answered once the database has checked
 * the session, off the loop. */
static void do_admin(app *a, ws_session *pss, int64_t id)
{
    admin_check *k;

    if (!pss->session_hash[0]) {
        send_error(pss->c, id, OUT_UNAUTHORIZED,
                   "log in as an administrator first (the session cookie of /api/login)", NULL);
        return;
    }
    if (!(k = calloc(1, sizeof(*k)))) {
        send_error(pss->c, id, OUT_INTERNAL, "out of memory", NULL);
        return;
    }
    k->a = a;
    k->pss = pss;
    k->c = pss->c;
    client_ref(k->c);
    k->id = id;
    k->now_ms = sm_now_ms();
    k->t0 = cur_req.t0;
    snprintf(k->hash, sizeof(k->hash), "%s", pss->session_hash);
    k->job.data = k;
    if (a->staff_queue) {
        if (ledger_queue_depth(a->staff_queue) >= API_DB_QUEUE_MAX) {
            send_error(pss->c, id, OUT_UNAVAILABLE,
                       "the database is not answering; please try again in a moment", NULL);
            client_unref(k->c);
            free(k);
            return;
        }
        if ((k->timer = malloc(sizeof(*k->timer)))) {
            uv_timer_init(a->loop, k->timer);
            k->timer->data = k;
            uv_timer_start(k->timer, admin_check_bound, API_DB_WAIT_MS, 0);
            uv_unref((uv_handle_t *)k->timer); /* as api_db.c's bound */
        }
    }
    ledger_queue_call(a->staff_queue, a->ledger, &k->job, admin_check_run, admin_check_done);
}

/* ---- dispatch ---- */

/* Token bucket: `rate` requests a second, bursts of twice that. */
static int rate_ok(app *a, ws_session *pss)
{
    double rate = a->cfg.rate, burst = rate * 2 < 10 ? 10 : rate * 2;
    int64_t now = sm_mono_ms();
    pss->tokens += (double)(now - pss->tokens_at) * rate / 1000.0;
    pss->tokens_at = now;
    if (pss->tokens > burst)
        pss->tokens = burst;
    if (pss->tokens < 1)
        return 0;
    pss->tokens -= 1;
    return 1;
}

/* The request's id: a positive whole number, else 0. */
static int64_t id_of(const cJSON *m)
{
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(m, "id");
    if (cJSON_IsNumber(jid) && jid->valuedouble >= 1 && jid->valuedouble <= 9007199254740991.0 &&
        jid->valuedouble == (double)(int64_t)jid->valuedouble)
        return (int64_t)jid->valuedouble;
    return 0;
}

/* count: 0 for a parked request handled again (counted when it came). */
static void dispatch(app *a, ws_session *pss, int64_t id, const char *type, const cJSON *m,
                     int count)
{
    int held = strcmp(type, "hold") == 0, release = strcmp(type, "release") == 0;
    int watch = strcmp(type, "watch") == 0, best = strcmp(type, "best") == 0;
    int hello = strcmp(type, "hello") == 0, admin = strcmp(type, "admin") == 0;

    /* by type, with a bounded label: anything else is "unknown" (a static
     * string: the reply's frame keeps it, req_ctx) */
    cur_req.type = held      ? "hold"
                   : release ? "release"
                   : watch   ? "watch"
                   : best    ? "best"
                   : hello   ? "hello"
                   : admin   ? "admin"
                             : "unknown";
    if (count)
        metrics_inc(M_WS_MESSAGES, cur_req.type);
    if (hello)
        do_hello(a, pss, id, m);
    else if (!watch && !held && !release && !best && !admin)
        send_error(pss->c, id, OUT_BAD_REQUEST, "unknown request type", NULL);
    else if (!pss->hello)
        send_error(pss->c, id, OUT_HELLO_REQUIRED, NULL, NULL);
    else if (admin)
        do_admin(a, pss, id);
    else if (watch)
        do_watch(a, pss, id, m);
    else if (best)
        do_best(a, pss, id, m);
    else
        do_seats(a, pss, id, m, release);
}

/* Every message counts against the rate limit, valid or not, before any
 * parsing. 1: go on; 0: refused and answered; -1: closed with 1008 (a
 * flood). */
static int flood_close(struct lws *wsi)
{
    static char why[] = "too many messages";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why, sizeof(why) - 1);
    return -1;
}

static int rate_gate(app *a, ws_session *pss, struct lws *wsi, const char *data, size_t len)
{
    cJSON *m;

    int64_t now = sm_mono_ms();

    if (rate_ok(a, pss) && !pss->flooding)
        return 1;
    /* Refusals are counted per second: a flood is more than
     * WS_FLOOD_REFUSED of them in two seconds running. A single burst, or a
     * client that backs off when refused, never is. */
    if (!pss->flooding && now - pss->refused_since >= WS_FLOOD_MS) {
        int hot = pss->refused > WS_FLOOD_REFUSED && now - pss->refused_since < 2 * WS_FLOOD_MS;
        pss->flood_seconds = hot ? pss->flood_seconds + 1 : 0;
        pss->refused = 0;
        pss->refused_since = now;
    }
    pss->refused++;
    if (!pss->flooding && pss->flood_seconds > 0 && pss->refused > WS_FLOOD_REFUSED) {
        pss->flooding = 1;
        limits_stats(a->limits)->ws_flooders++;
        /* closed below once its answers are out; killed if they never go */
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, WS_FLOOD_KILL_S);
    }
    if (pss->flooding) {
        /* lws 4.1.6 sends no close frame while output is buffered (the
         * peer would see 1006): close once nothing is, and meanwhile read
         * and drop what comes, so that no unread input turns the close
         * into a reset. */
        if (lws_send_pipe_choked(wsi) || client_queued(pss->c))
            return 0; /* at its next message; or killed by the timeout */
        return flood_close(wsi);
    }
    /* Answered with its id when it has one; the flood close bounds what
     * this parsing costs. */
    m = cJSON_ParseWithLength(data, len);
    send_error(pss->c, cJSON_IsObject(m) ? id_of(m) : 0, OUT_RATE_LIMITED, NULL, NULL);
    cJSON_Delete(m);
    return 0;
}

void ws_handle_message(app *a, ws_session *pss, const char *data, size_t len)
{
    cJSON *m = cJSON_ParseWithLength(data, len);
    const cJSON *jtype;
    int64_t id;
    /* timed from when on_receive read it, or from now (the fuzzer) */
    req_ctx saved = req_enter("invalid", cur_req.type ? cur_req.t0 : metrics_now());

    if (!cJSON_IsObject(m)) {
        send_error(pss->c, 0, OUT_BAD_REQUEST, "a message must be one JSON object", NULL);
        goto out;
    }
    id = id_of(m);
    jtype = cJSON_GetObjectItemCaseSensitive(m, "type");
    if (!id)
        send_error(pss->c, 0, OUT_BAD_REQUEST, "\"id\" must be a positive whole number", NULL);
    else if (json_input_check(data, len, m))
        send_error(pss->c, id, OUT_BAD_REQUEST, JSON_INPUT_MESSAGE, NULL);
    else if (!cJSON_IsString(jtype))
        send_error(pss->c, id, OUT_BAD_REQUEST, "\"type\" must be a string", NULL);
    else
        dispatch(a, pss, id, jtype->valuestring, m, 1);
out:
    cJSON_Delete(m);
    req_leave(saved);
}

static int on_established(app *a, ws_session *pss, struct lws *wsi)
{
    pss->c = client_new(wsi, a->cfg.max_queue);
    if (!pss->c)
        return -1;
    client_set_stuck_ms(pss->c, a->cfg.stuck_reader_ms);
    /* the subprotocol chosen at the handshake: v1 unless it asked for v2 */
    if (strcmp(lws_get_protocol(wsi)->name, WS_PROTOCOL_V2) == 0)
        client_set_wire(pss->c, CLIENT_WIRE_V2);
    pss->tokens = a->cfg.rate * 2;
    pss->tokens_at = sm_mono_ms();
    http_client_addr(wsi, pss->addr, sizeof(pss->addr));
    {
        /* a staff session, for the admin request: only its hash is kept */
        char cookies[2048], token[256];
        if (lws_hdr_copy(wsi, cookies, sizeof(cookies), WSI_TOKEN_HTTP_COOKIE) > 0 &&
            http_cookie_get(cookies, API_COOKIE, token, sizeof(token)))
            auth_token_hash(token, pss->session_hash);
    }
    sm_buf_init(&pss->rx, a->cfg.max_frame);
    if (!ws_alive_ready) {
        keepalive_init(&ws_alive, (int64_t)a->cfg.ws_ping_s * 1000,
                       (int64_t)a->cfg.ws_ping_s * 1000 * 7 / 4);
        ws_alive_ready = 1;
    }
    keepalive_add(&ws_alive, &pss->ka, sm_mono_ms());
    metrics_inc(M_CONNECTIONS_TOTAL, "websocket");
    metrics_gauge_add(M_CONNECTIONS, "websocket", 1);
    ws_open++;
    if (sm_log_enabled(SM_LOG_DEBUG)) {
        char peer[PEER_ADDR_MAX];
        peer_address(wsi, &a->cfg.trust_proxy, peer, sizeof(peer));
        sm_logf(SM_LOG_DEBUG, client_id(pss->c), "WebSocket opened from %s", peer);
    }
    if (a->draining)
        client_go_away(pss->c);
    return 0;
}

/* The server drains (SIGTERM): no more deltas; close with 1001 once every
 * request of this connection is answered, so the page reconnects at once
 * (to the process that replaces this one) and resyncs from a snapshot. */
static int on_writeable_draining(ws_session *pss)
{
    show_unwatch(pss->w);
    pss->w = NULL;
    if (!pss->ops)
        client_go_away(pss->c);
    return client_writeable(pss->c) >= 0 ? 0 : -1;
}

static int on_receive(app *a, ws_session *pss, struct lws *wsi, const void *in, size_t len)
{
    req_ctx saved;
    int gate, whole;

    if (!pss->c)
        return -1;
    if (client_closing(pss->c))
        return 0; /* closing: the rest of the input is read and dropped */
    whole = lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi);
    if (lws_is_first_fragment(wsi))
        sm_buf_reset(&pss->rx);
    /* A message in one piece (nearly all) is read where lws put it; only
     * one in pieces is joined in pss->rx, freed after it so that an idle
     * connection keeps no buffer. */
    if (whole ? len > a->cfg.max_frame : sm_buf_add(&pss->rx, in, len) != 0) {
        /* Tell it why (written at once when nothing is queued before it),
         * then close with 1009 from here: a close asked for from
         * WRITEABLE reaches the peer as 1006 on lws 4.1.6. */
        static char why[] = "message too large";
        send_error(pss->c, 0, OUT_TOO_LARGE, "messages may be at most 16 KiB", NULL);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                         sizeof(why) - 1);
        return -1;
    }
    if (!lws_is_final_fragment(wsi))
        return 0;
    if (!whole) {
        in = pss->rx.data ? pss->rx.data : "";
        len = pss->rx.len;
    }
    /* the request is read: its replies are timed from here ("invalid"
     * until dispatch names its type) */
    saved = req_enter("rate_limited", metrics_now());
    gate = rate_gate(a, pss, wsi, in, len);
    cur_req.type = "invalid";
    if (gate < 0) {
        req_leave(saved);
        return -1;
    }
    if (gate && lws_frame_is_binary(wsi))
        send_error(pss->c, 0, OUT_BAD_REQUEST, "messages are JSON text frames", NULL);
    else if (gate)
        ws_handle_message(a, pss, in, len);
    req_leave(saved);
    sm_buf_free(&pss->rx);
    return 0;
}

static void on_closed(app *a, ws_session *pss)
{
    if (pss->c) {
        keepalive_remove(&ws_alive, &pss->ka);
        ws_open--;
        sm_logf(SM_LOG_DEBUG, client_id(pss->c), "WebSocket closed");
    }
    show_unwatch(pss->w);
    pss->w = NULL;
    if (pss->admin)
        admin_feed_unsubscribe(a->admin, pss->c);
    pss->admin = 0;
    if (pss->c) {
        client_detach(pss->c);
        client_unref(pss->c);
        pss->c = NULL;
        metrics_gauge_add(M_CONNECTIONS, "websocket", -1);
    }
    sm_buf_free(&pss->rx);
    memset(pss->buyer, 0, sizeof(pss->buyer));
}

/* ---- keepalive ---- */

static void ka_ping(keepalive_entry *e, void *arg)
{
    ws_session *pss = (ws_session *)((char *)e - offsetof(ws_session, ka));
    (void)arg;
    client_ping(pss->c);
}

/* No pong within the bound: the peer is gone (a dead NAT mapping, a
 * suspended laptop); closed without a close frame, which it would not read. */
static void ka_drop(keepalive_entry *e, void *arg)
{
    ws_session *pss = (ws_session *)((char *)e - offsetof(ws_session, ka));
    (void)arg;
    sm_logf(SM_LOG_DEBUG, client_id(pss->c), "WebSocket dropped: no pong");
    client_kill(pss->c);
}

void ws_keepalive_check(app *a)
{
    (void)a;
    if (ws_alive_ready)
        keepalive_check(&ws_alive, sm_mono_ms(), ka_ping, ka_drop, NULL);
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    ws_session *pss = user;
    app *a = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[32];
        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
            return 1;
        return http_origin_ok(wsi) ? 0 : 1;
    }
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(a, pss, wsi);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(a, pss, wsi, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (pss->c)
            keepalive_confirm(&ws_alive, &pss->ka, sm_mono_ms());
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (pss->c && a->draining)
            return on_writeable_draining(pss);
        return pss->c && client_writeable(pss->c) >= 0 ? 0 : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* the answer to our 1001: close the socket, echo nothing */
        return pss->c && client_close_sent(pss->c) ? -1 : 0;
    case LWS_CALLBACK_CLOSED:
        on_closed(a, pss);
        return 0;
    default:
        return 0;
    }
}
