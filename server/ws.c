/*
 * ws.c - the WebSocket protocol callback and the requests of seatmap.v1.
 *
 * The callback is a thin dispatcher: it owns the client struct (client.h),
 * parses each complete message with cJSON and hands holds and releases to
 * Redis (store.h). Writes happen only from SERVER_WRITEABLE, one frame each.
 */
#include "ws.h"

#include "app.h"
#include "client.h"
#include "http.h"
#include "show.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define WS_REF_TRIES 3

/* ---- client queue ---- */

/* Doubles the ring (keeping order); 0 or -1 when it is as large as allowed. */
static int queue_grow(client *c)
{
    unsigned cap = c->qcap ? c->qcap * 2 : CLIENT_QUEUE_MIN, i;
    frame **q;
    if (cap > CLIENT_QUEUE_MAX)
        return -1;
    q = malloc(sizeof(*q) * cap);
    if (!q)
        return -1;
    for (i = 0; i < c->qcount; i++)
        q[i] = c->queue[(c->qhead + i) % c->qcap];
    free(c->queue);
    c->queue = q;
    c->qcap = cap;
    c->qhead = 0;
    return 0;
}

/* Appends to the client's queue and asks lws for a writeable callback. */
static void client_queue(client *c, frame *f)
{
    if (!c->wsi || c->close_code)
        return;
    if ((c->qcount == c->qcap && queue_grow(c)) || c->qbytes + f->len > c->app->cfg.max_queue) {
        /* Too far behind: cut it off rather than buffer without bound. Its
         * page reconnects and gets a fresh snapshot. */
        c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
        lws_callback_on_writable(c->wsi);
        return;
    }
    c->queue[(c->qhead + c->qcount++) % c->qcap] = frame_ref(f);
    c->qbytes += f->len;
    lws_callback_on_writable(c->wsi);
}

/*
 * Sends a frame now when nothing is waiting before it and lws holds no
 * unsent bytes of an earlier one; otherwise queues it for WRITEABLE.
 *
 * PITFALLS.md says to write only from WRITEABLE, and that is the path taken
 * whenever anything is pending. The direct write is measured (bench/): asking
 * lws for a writeable callback costs two epoll_ctl calls and a wakeup per
 * frame, 11.4 -> 7.3 us per frame at 10k watchers. When the socket takes
 * only part of it, lws keeps the rest and sends it before anything we queue.
 */
void client_send(client *c, frame *f)
{
    if (c->wsi && !c->close_code && !c->qcount && c->established && !lws_partial_buffered(c->wsi)) {
        if (lws_write(c->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len) {
            c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION; /* socket failed */
            lws_callback_on_writable(c->wsi);
        }
        return;
    }
    client_queue(c, f);
}

void client_send_text(client *c, const char *text, size_t len)
{
    frame *f = frame_new(text, len);
    if (f) {
        client_send(c, f);
        frame_unref(f);
    }
}

static void queue_drain(client *c)
{
    while (c->qcount) {
        frame_unref(c->queue[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qcount--;
    }
    c->qbytes = 0;
    free(c->queue);
    c->queue = NULL;
    c->qcap = c->qhead = 0;
}

void client_unref(client *c)
{
    if (c && --c->refs == 0) {
        queue_drain(c);
        sm_buf_free(&c->rx);
        free(c);
    }
}

/* ---- buyers ---- */

static void buyer_link(client *c)
{
    sm_map *m = &c->app->buyers;
    client *head = sm_map_get(m, c->buyer_id);
    c->buyer_prev = NULL;
    c->buyer_next = head;
    if (head)
        head->buyer_prev = c;
    sm_map_set(m, c->buyer_id, c);
}

static void buyer_unlink(client *c)
{
    sm_map *m = &c->app->buyers;
    if (!c->hello)
        return;
    if (c->buyer_prev) {
        c->buyer_prev->buyer_next = c->buyer_next;
    } else if (c->buyer_next) {
        sm_map_set(m, c->buyer_id, c->buyer_next);
    } else {
        sm_map_del(m, c->buyer_id);
    }
    if (c->buyer_next)
        c->buyer_next->buyer_prev = c->buyer_prev;
    c->buyer_next = c->buyer_prev = NULL;
}

/* ---- replies ---- */

static void send_reply(client *c, int64_t id, const char *fields)
{
    sm_buf b;
    sm_buf_init(&b, 1024 * 1024);
    if (sm_buf_printf(&b, "{\"type\":\"ok\",\"id\":%lld%s%s}", (long long)id, *fields ? "," : "",
                      fields) == 0)
        client_send_text(c, b.data, b.len);
    sm_buf_free(&b);
}

/* extra: more JSON members (e.g. "\"seats\":[...]") or NULL. */
static void send_error(client *c, int64_t id, const char *code, const char *message,
                       const char *extra)
{
    sm_buf b;
    sm_buf_init(&b, 1024 * 1024);
    if (id > 0)
        sm_buf_printf(&b,
                      "{\"type\":\"error\",\"id\":%lld,\"code\":\"%s\",\"message\":", (long long)id,
                      code);
    else
        sm_buf_printf(&b, "{\"type\":\"error\",\"id\":null,\"code\":\"%s\",\"message\":", code);
    sm_buf_add_json_str(&b, message);
    if (extra)
        sm_buf_printf(&b, ",%s", extra);
    if (sm_buf_addc(&b, '}') == 0)
        client_send_text(c, b.data, b.len);
    sm_buf_free(&b);
}

/* ---- hold and release ---- */

typedef struct seat_op {
    client *c; /* holds a reference */
    show *s;
    int64_t id;
    int release;
    int tries;
    size_t nseats;
    const char *seats[]; /* the venue's own strings */
} seat_op;

static void op_run(seat_op *op);

static void op_done(void *arg, const store_result *res)
{
    seat_op *op = arg;
    client *c = op->c;
    char extra[64 * 1024];
    int stay = 0;

    show_apply_result(op->s, res);
    if (!c->wsi) {
        /* closed meanwhile: nobody to answer */
    } else if (strcmp(res->status, "ok") == 0) {
        snprintf(extra, sizeof(extra), "\"hold\":%s", res->detail[0] ? res->detail : "null");
        send_reply(c, op->id, extra);
    } else if (strcmp(res->status, "retry") == 0 && ++op->tries < WS_REF_TRIES) {
        op_run(op);
        stay = 1;
    } else if (strcmp(res->status, "seat_unavailable") == 0) {
        snprintf(extra, sizeof(extra), "\"seats\":%s", res->detail);
        send_error(c, op->id, "seat_unavailable", "someone else has just taken one of these seats",
                   extra);
    } else if (strcmp(res->status, "not_held") == 0) {
        snprintf(extra, sizeof(extra), "\"seats\":%s", res->detail[0] ? res->detail : "[]");
        send_error(c, op->id, "not_held", "these seats are not in your hold", extra);
    } else if (strcmp(res->status, "hold_limit") == 0) {
        snprintf(extra, sizeof(extra), "a hold can have at most %d seats", c->app->cfg.max_seats);
        send_error(c, op->id, "hold_limit", extra, NULL);
    } else if (strcmp(res->status, "hold_locked") == 0) {
        send_error(c, op->id, "hold_locked",
                   "your hold is being paid for at the box office right now", NULL);
    } else if (strcmp(res->status, "unavailable") == 0) {
        send_error(c, op->id, "unavailable",
                   "the seat store is unavailable right now; please try again in a moment", NULL);
    } else {
        send_error(c, op->id, "internal", "something went wrong on our side", NULL);
    }
    if (!stay) {
        client_unref(c);
        free(op);
    }
}

static void op_run(seat_op *op)
{
    const config *cfg = &op->c->app->cfg;
    const char *args[8 + 100];
    char ttl[24], max[24], refs[WS_REF_TRIES][AUTH_REF_LEN + 1];
    int n = 0, i;
    size_t k;

    args[n++] = op->c->buyer_id;
    if (!op->release) {
        snprintf(ttl, sizeof(ttl), "%ld", cfg->hold_ttl_ms);
        snprintf(max, sizeof(max), "%d", cfg->max_seats);
        args[n++] = ttl;
        args[n++] = max;
        for (i = 0; i < WS_REF_TRIES; i++) {
            auth_random_ref(refs[i]);
            args[n++] = refs[i];
        }
    }
    for (k = 0; k < op->nseats; k++)
        args[n++] = op->seats[k];
    if (store_run(op->c->app->store, op->release ? "release" : "hold", op->s->id, n, args, op_done,
                  op)) {
        store_result res = {.status = "unavailable", .detail = ""};
        op_done(op, &res);
    }
}

static void do_seats(client *c, int64_t id, const cJSON *m, int release)
{
    const cJSON *jshow = cJSON_GetObjectItemCaseSensitive(m, "show");
    const cJSON *jseats = cJSON_GetObjectItemCaseSensitive(m, "seats"), *it;
    int max = c->app->cfg.max_seats, n;
    seat_op *op;
    show *s;
    sm_buf unknown;

    if (!cJSON_IsString(jshow) || !cJSON_IsArray(jseats) || (n = cJSON_GetArraySize(jseats)) == 0) {
        send_error(c, id, "bad_request",
                   "expected \"show\" (a string) and \"seats\" (a list of seat ids)", NULL);
        return;
    }
    cJSON_ArrayForEach(it, jseats) if (!cJSON_IsString(it))
    {
        send_error(c, id, "bad_request", "\"seats\" must be a list of seat ids (strings)", NULL);
        return;
    }
    if (!release && n > max) {
        char msg[64];
        snprintf(msg, sizeof(msg), "a hold can have at most %d seats", max);
        send_error(c, id, "hold_limit", msg, NULL);
        return;
    }
    if (n > 100) {
        send_error(c, id, "bad_request", "too many seats in one request", NULL);
        return;
    }
    s = shows_get(c->app, jshow->valuestring);
    if (!s) {
        send_error(c, id, "unknown_show", "there is no such show", NULL);
        return;
    }
    op = calloc(1, sizeof(*op) + sizeof(op->seats[0]) * (size_t)n);
    if (!op) {
        send_error(c, id, "internal", "out of memory", NULL);
        return;
    }
    sm_buf_init(&unknown, 64 * 1024);
    sm_buf_adds(&unknown, "\"seats\":[");
    cJSON_ArrayForEach(it, jseats)
    {
        long idx = venue_seat_index(s->venue, it->valuestring);
        size_t k;
        if (idx < 0) {
            if (unknown.data[unknown.len - 1] != '[')
                sm_buf_addc(&unknown, ',');
            sm_buf_add_json_str(&unknown, it->valuestring);
            continue;
        }
        for (k = 0; k < op->nseats; k++)
            if (op->seats[k] == venue_seat_id(s->venue, (size_t)idx))
                break;
        if (k == op->nseats)
            op->seats[op->nseats++] = venue_seat_id(s->venue, (size_t)idx);
    }
    if (unknown.data[unknown.len - 1] != '[') {
        sm_buf_addc(&unknown, ']');
        send_error(c, id, "unknown_seat", "this show has no such seat", unknown.data);
        sm_buf_free(&unknown);
        free(op);
        return;
    }
    sm_buf_free(&unknown);
    op->c = c;
    c->refs++;
    op->s = s;
    op->id = id;
    op->release = release;
    op_run(op);
}

/* ---- hello and watch ---- */

static void do_hello(client *c, int64_t id, const cJSON *m)
{
    const cJSON *jb = cJSON_GetObjectItemCaseSensitive(m, "buyer");
    char fields[512];

    if (jb && !cJSON_IsString(jb) && !cJSON_IsNull(jb)) {
        send_error(c, id, "bad_request", "\"buyer\" must be the token this server gave you", NULL);
        return;
    }
    buyer_unlink(c);
    if (cJSON_IsString(jb) && auth_buyer_verify(c->app->secret, jb->valuestring) == 0)
        snprintf(c->buyer, sizeof(c->buyer), "%s", jb->valuestring);
    else
        auth_buyer_mint(c->app->secret, c->buyer);
    auth_buyer_id(c->buyer, c->buyer_id);
    c->hello = 1;
    buyer_link(c);
    snprintf(fields, sizeof(fields),
             "\"buyer\":\"%s\",\"server\":\"seatmapd/" SM_VERSION
             "\",\"limits\":{\"max_seats\":%d,\"hold_ttl_ms\":%ld}",
             c->buyer, c->app->cfg.max_seats, c->app->cfg.hold_ttl_ms);
    send_reply(c, id, fields);
}

static void do_watch(client *c, int64_t id, const cJSON *m)
{
    const cJSON *jshow = cJSON_GetObjectItemCaseSensitive(m, "show");
    char fields[128];
    show *s;

    if (!cJSON_IsString(jshow)) {
        send_error(c, id, "bad_request", "expected \"show\": a show id", NULL);
        return;
    }
    s = shows_get(c->app, jshow->valuestring);
    if (!s) {
        send_error(c, id, "unknown_show", "there is no such show", NULL);
        return;
    }
    snprintf(fields, sizeof(fields), "\"show\":\"%s\"", s->id);
    send_reply(c, id, fields);
    show_watch(s, c);
}

/* ---- dispatch ---- */

/* Token bucket: `rate` requests a second, bursts of twice that. */
static int rate_ok(client *c)
{
    double rate = c->app->cfg.rate, burst = rate * 2 < 10 ? 10 : rate * 2;
    int64_t now = sm_mono_ms();
    c->tokens += (double)(now - c->tokens_at) * rate / 1000.0;
    c->tokens_at = now;
    if (c->tokens > burst)
        c->tokens = burst;
    if (c->tokens < 1)
        return 0;
    c->tokens -= 1;
    return 1;
}

static void handle_message(client *c, const char *data, size_t len)
{
    cJSON *m = cJSON_ParseWithLength(data, len);
    const cJSON *jid, *jtype;
    int64_t id = 0;
    const char *type;

    if (!cJSON_IsObject(m)) {
        send_error(c, 0, "bad_request", "a message must be one JSON object", NULL);
        goto out;
    }
    jid = cJSON_GetObjectItemCaseSensitive(m, "id");
    if (cJSON_IsNumber(jid) && jid->valuedouble >= 1 && jid->valuedouble <= 9007199254740991.0 &&
        jid->valuedouble == (double)(int64_t)jid->valuedouble)
        id = (int64_t)jid->valuedouble;
    if (!rate_ok(c)) {
        /* Answered cheaply, and bounded: a client that floods faster than it
         * reads its answers overflows its queue and is cut off. */
        send_error(c, id, "rate_limited", "too many requests; slow down", NULL);
        goto out;
    }
    jtype = cJSON_GetObjectItemCaseSensitive(m, "type");
    if (!id) {
        send_error(c, 0, "bad_request", "\"id\" must be a positive whole number", NULL);
        goto out;
    }
    if (!cJSON_IsString(jtype)) {
        send_error(c, id, "bad_request", "\"type\" must be a string", NULL);
        goto out;
    }
    type = jtype->valuestring;
    if (strcmp(type, "hello") == 0)
        do_hello(c, id, m);
    else if (strcmp(type, "watch") != 0 && strcmp(type, "hold") != 0 &&
             strcmp(type, "release") != 0)
        send_error(c, id, "bad_request", "unknown request type", NULL);
    else if (!c->hello)
        send_error(c, id, "hello_required", "send hello first", NULL);
    else if (strcmp(type, "watch") == 0)
        do_watch(c, id, m);
    else
        do_seats(c, id, m, strcmp(type, "release") == 0);
out:
    cJSON_Delete(m);
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    ws_session *pss = user;
    app *a = lws_context_user(lws_get_context(wsi));
    client *c = pss ? pss->c : NULL;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[32];
        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
            return 1;
        return http_origin_ok(wsi) ? 0 : 1;
    }
    case LWS_CALLBACK_ESTABLISHED:
        c = calloc(1, sizeof(*c));
        if (!c)
            return -1;
        c->app = a;
        c->wsi = wsi;
        c->refs = 1;
        c->tokens = a->cfg.rate * 2;
        c->tokens_at = sm_mono_ms();
        sm_buf_init(&c->rx, a->cfg.max_frame);
        c->established = 1;
        pss->c = c;
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c)
            return -1;
        if (c->close_code)
            return 0; /* closing: the rest of the input is read and dropped */
        if (lws_is_first_fragment(wsi))
            sm_buf_reset(&c->rx);
        if (sm_buf_add(&c->rx, in, len)) {
            /* Tell it why (written at once when nothing is queued before it),
             * then close with 1009 from here: a close asked for from
             * WRITEABLE reaches the peer as 1006 on lws 4.1.6. */
            static char why[] = "message too large";
            send_error(c, 0, "too_large", "messages may be at most 16 KiB", NULL);
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                             sizeof(why) - 1);
            return -1;
        }
        if (!lws_is_final_fragment(wsi))
            return 0;
        if (lws_frame_is_binary(wsi))
            send_error(c, 0, "bad_request", "messages are JSON text frames", NULL);
        else
            handle_message(c, c->rx.data ? c->rx.data : "", c->rx.len);
        sm_buf_reset(&c->rx);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        frame *f;
        int n;
        if (!c)
            return -1;
        if (c->close_code) {
            static char why[] = "too slow: too much queued";
            lws_close_reason(wsi, (enum lws_close_status)c->close_code, (unsigned char *)why,
                             sizeof(why) - 1);
            return -1;
        }
        if (!c->qcount)
            return 0;
        f = c->queue[c->qhead];
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qcount--;
        c->qbytes -= f->len;
        n = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
        frame_unref(f);
        if (n < 0)
            return -1;
        if (c->qcount || c->close_code)
            lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLOSED:
        if (!c)
            return 0;
        show_unwatch(c);
        buyer_unlink(c);
        queue_drain(c);
        c->wsi = NULL;
        pss->c = NULL;
        client_unref(c);
        return 0;
    default:
        return 0;
    }
}
