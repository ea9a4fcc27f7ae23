/*
 * client.c - connections and their send queues (see client.h).
 */
#include "client.h"

#include "metrics.h"

#include "map.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A ring of frames; a fan-out frame carries the tag of the stream it
 * belongs to (a watcher), the priority lane's carry NULL. */
typedef struct lane_item {
    frame *f;
    void *tag;
} lane_item;

typedef struct lane {
    lane_item *q; /* ring of cap items, grown up to CLIENT_QUEUE_MAX */
    unsigned cap, head, count;
} lane;

struct client {
    struct lws *wsi; /* NULL once detached, and for clients without a socket */
    int socketless;
    int refs;
    size_t max_queue;
    lane prio;          /* replies, events, HTTP: written first, in order */
    lane bulk;          /* fan-out frames (client_send_bulk) */
    size_t qbytes;      /* of both lanes */
    size_t head_off;    /* bytes of the head frame written (HTTP bodies) */
    void *inflight_tag; /* a fan-out frame lws still holds part of */
    int inflight;
    int in_writeable;   /* inside client_writeable: sends are queued */
    int64_t bulk_moved; /* mono ms: fan-out last made progress (or began waiting) */
    int stuck_ms;       /* no fan-out progress for this long: cut off */
    client_drain_fn on_drain;
    int close_code;  /* set: close with this code at the next writeable */
    int close_soft;  /* ... once the queue is written (going away) */
    int close_sent;  /* our close frame went out: waiting for the peer's */
    int ping_wanted; /* a WebSocket ping goes out at the next writeable */
    int killed;      /* client_kill: close at the next writeable */
    const char *close_why;
    char id[SM_LOG_ID_LEN + 1]; /* for log lines */
    client_hub *hub;
    char buyer_id[CLIENT_BUYER_ID_MAX + 1];
    client *buyer_next, *buyer_prev; /* connections of the same buyer */
    client_wire wire;                /* how its seat events are encoded */
    int batching;                    /* client_batch_begin depth */
    unsigned nbatch;
    frame *batch[CLIENT_BATCH_MAX]; /* held back by a batch: written together */
};

static void want_write(client *c);

struct client_hub {
    sm_map buyers; /* buyer id -> client* (head of that buyer's connections) */
};

client *client_new(struct lws *wsi, size_t max_queue)
{
    client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->wsi = wsi;
    c->socketless = wsi == NULL;
    c->refs = 1;
    c->max_queue = max_queue;
    c->stuck_ms = CLIENT_STUCK_MS;
    sm_log_new_id(c->id);
    return c;
}

const char *client_id(const client *c)
{
    return c->id;
}

int client_close_sent(const client *c)
{
    return c->close_sent;
}

void client_go_away(client *c)
{
    if (!client_connected(c) || c->close_code)
        return;
    c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
    c->close_soft = 1;
    c->close_why = "server restarting";
    want_write(c);
}

void client_ref(client *c)
{
    c->refs++;
}

static void lane_drop(lane *l)
{
    while (l->count) {
        frame_unref(l->q[l->head].f);
        l->head = (l->head + 1) % l->cap;
        l->count--;
    }
    free(l->q);
    l->q = NULL;
    l->cap = l->head = 0;
}

static void batch_drop(client *c)
{
    while (c->nbatch)
        frame_unref(c->batch[--c->nbatch]);
}

static void queue_drop(client *c)
{
    batch_drop(c);
    lane_drop(&c->prio);
    lane_drop(&c->bulk);
    c->qbytes = 0;
    c->head_off = 0;
    c->inflight = 0;
    c->inflight_tag = NULL;
}

void client_unref(client *c)
{
    if (c && --c->refs == 0) {
        client_hub_set_buyer(c->hub, c, "");
        queue_drop(c);
        free(c);
    }
}

void client_detach(client *c)
{
    client_hub_set_buyer(c->hub, c, "");
    queue_drop(c);
    c->wsi = NULL;
    c->socketless = 0;
}

int client_connected(const client *c)
{
    return c->wsi != NULL || c->socketless;
}

int client_closing(const client *c)
{
    return c->close_code != 0;
}

const char *client_buyer_id(const client *c)
{
    return c->buyer_id;
}

void client_set_wire(client *c, client_wire wire)
{
    c->wire = wire;
}

client_wire client_get_wire(const client *c)
{
    return c->wire;
}

/* ---- the queue ---- */

/* Doubles the ring (keeping order); 0 or -1 when it is as large as allowed. */
static int lane_grow(lane *l)
{
    unsigned cap = l->cap ? l->cap * 2 : CLIENT_QUEUE_MIN, i;
    lane_item *q;
    if (cap > CLIENT_QUEUE_MAX)
        return -1;
    q = malloc(sizeof(*q) * cap);
    if (!q)
        return -1;
    for (i = 0; i < l->count; i++)
        q[i] = l->q[(l->head + i) % l->cap];
    free(l->q);
    l->q = q;
    l->cap = cap;
    l->head = 0;
    return 0;
}

static int is_ws_frame(const frame *f)
{
    return f->mode == FRAME_TEXT || f->mode == FRAME_BINARY;
}

static enum lws_write_protocol ws_write_mode(const frame *f)
{
    return f->mode == FRAME_BINARY ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
}

/* Frames and bytes written, by protocol (metrics.h); an HTTP body counts as
 * one frame, when its last chunk goes out. */
static void count_sent(const frame *f, size_t bytes, int whole)
{
    const char *proto = is_ws_frame(f) ? "websocket" : "http";
    if (whole && f->req_type)
        metrics_observe(M_WS_REQUEST_SECONDS, f->req_type, metrics_now() - f->req_t0);
    if (whole)
        metrics_inc(M_FRAMES_SENT, proto);
    metrics_add(M_SENT_BYTES, proto, (double)bytes);
}

static void want_write(client *c)
{
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

/* Too far behind, or stuck: cut it off rather than buffer without bound.
 * lws closes a socket that never becomes writeable again after a while. */
static void cut_off(client *c, const char *why)
{
    if (c->close_code)
        return;
    metrics_inc(M_CLIENTS_CUT_OFF, NULL);
    /* once per client: close_code is set from here on */
    sm_logf(SM_LOG_INFO, c->id, "connection cut off (%s)", why);
    c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
    c->close_why = why;
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CLIENT_CLOSE_WAIT_S);
    want_write(c);
}

static void queue_push(client *c, lane *l, frame *f, void *tag)
{
    if ((l->count == l->cap && lane_grow(l)) || c->qbytes + f->len > c->max_queue) {
        cut_off(c, "too slow: too much queued");
        return;
    }
    l->q[(l->head + l->count++) % l->cap] = (lane_item){frame_ref(f), tag};
    c->qbytes += f->len;
    want_write(c);
}

static lane_item queue_pop(client *c, lane *l)
{
    lane_item it = l->q[l->head];
    l->head = (l->head + 1) % l->cap;
    l->count--;
    c->qbytes -= it.f->len;
    c->head_off = 0;
    return it;
}

/* Writes a text frame now; 0, or -1 when the socket failed (the client is
 * then closed at the next writeable). */
static int write_now(client *c, frame *f)
{
    if (lws_write(c->wsi, f->buf + LWS_PRE, f->len, ws_write_mode(f)) < (int)f->len) {
        c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
        want_write(c);
        return -1;
    }
    count_sent(f, f->len, 1);
    return 0;
}

/* A fan-out frame of `tag` has left our hands (written, taken, or the rest
 * of it flushed by lws): its stream may send the next one. */
static void bulk_done(client *c, void *tag)
{
    c->bulk_moved = sm_mono_ms();
    if (tag && c->on_drain && client_connected(c) && !c->close_code)
        c->on_drain(c, tag);
}

/* lws finished the fan-out frame it held part of. */
static void settle_inflight(client *c)
{
    void *tag;
    if (!c->inflight || (c->wsi && lws_partial_buffered(c->wsi)))
        return;
    tag = c->inflight_tag;
    c->inflight = 0;
    c->inflight_tag = NULL;
    bulk_done(c, tag);
}

/* Can a frame go out now, ahead of nothing? */
static int can_write_now(client *c, const frame *f)
{
    return c->wsi && is_ws_frame(f) && !c->in_writeable && !c->prio.count &&
           !lws_partial_buffered(c->wsi);
}

/* The WebSocket header of a server frame (unmasked, final) of f into h;
 * its length. The same bytes lws_write puts before a frame. */
static size_t ws_header(const frame *f, unsigned char h[10])
{
    size_t n = f->len;
    h[0] = (unsigned char)(0x80 | (f->mode == FRAME_BINARY ? 0x2 : 0x1));
    if (n < 126) {
        h[1] = (unsigned char)n;
        return 2;
    }
    if (n < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return 10;
}

/*
 * Writes the frames a batch held back. Two or more that fit in
 * CLIENT_BATCH_BYTES go out framed by us in one lws_write: lws 4.1.6 passes
 * an LWS_WRITE_HTTP write on a WebSocket connection through unframed (its
 * send_raw path; no extension is negotiated here), and keeps what the
 * socket did not take, as for any write. Measured: one sendto instead of two
 * per hold or release (the reply and the buyer's hold event), see
 * docs/benchmarks.md. Otherwise each is written, or queued, as client_send
 * does.
 */
static void batch_flush(client *c)
{
    unsigned char buf[LWS_PRE + CLIENT_BATCH_BYTES], *p = buf + LWS_PRE;
    size_t total = 0, hl;
    unsigned char h[10];
    unsigned i, n = c->nbatch;

    if (!n)
        return;
    c->nbatch = 0;
    for (i = 0; i < n; i++)
        total += ws_header(c->batch[i], h) + c->batch[i]->len;
    /* frames held back before a going-away close still go; a cut-off
     * client gets nothing more */
    if (n > 1 && total <= CLIENT_BATCH_BYTES && c->wsi && (!c->close_code || c->close_soft)) {
        for (i = 0; i < n; i++) {
            hl = ws_header(c->batch[i], p);
            memcpy(p + hl, c->batch[i]->buf + LWS_PRE, c->batch[i]->len);
            p += hl + c->batch[i]->len;
        }
        if (lws_write(c->wsi, buf + LWS_PRE, total, LWS_WRITE_HTTP) < (int)total) {
            c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
            want_write(c);
        } else {
            for (i = 0; i < n; i++)
                count_sent(c->batch[i], c->batch[i]->len, 1);
        }
    } else {
        for (i = 0; i < n; i++) {
            if (!c->wsi || (c->close_code && !c->close_soft))
                break;
            if (can_write_now(c, c->batch[i]))
                write_now(c, c->batch[i]);
            else
                queue_push(c, &c->prio, c->batch[i], NULL);
        }
    }
    for (i = 0; i < n; i++)
        frame_unref(c->batch[i]);
}

void client_batch_begin(client *c)
{
    c->batching++;
}

void client_batch_end(client *c)
{
    if (c->batching && --c->batching == 0)
        batch_flush(c);
}

/*
 * A text frame is written now when nothing is waiting before it and lws
 * holds no unsent bytes of an earlier one; otherwise it is queued for
 * WRITEABLE.
 *
 * PITFALLS.md says to write only from WRITEABLE, and that is the path taken
 * whenever anything is pending. The direct write is measured (bench/): asking
 * lws for a writeable callback costs two epoll_ctl calls and a wakeup per
 * frame, 11.4 -> 7.3 us per frame at 10k watchers. When the socket takes
 * only part of it, lws keeps the rest and sends it before anything we queue.
 *
 * These frames (replies, events, HTTP) go ahead of any fan-out frame that
 * is not yet started: a buyer's answer never waits behind deltas.
 */
void client_send(client *c, frame *f)
{
    if (!client_connected(c) || c->close_code)
        return;
    if (c->batching && c->nbatch < CLIENT_BATCH_MAX && can_write_now(c, f)) {
        c->batch[c->nbatch++] = frame_ref(f);
        return;
    }
    batch_flush(c); /* what was held back goes first */
    if (can_write_now(c, f)) {
        write_now(c, f);
        return;
    }
    queue_push(c, &c->prio, f, NULL);
}

void client_send_bulk(client *c, frame *f, void *tag)
{
    if (!client_connected(c) || c->close_code)
        return;
    batch_flush(c);
    if (!c->inflight && !c->bulk.count)
        c->bulk_moved = sm_mono_ms(); /* the wait for this frame starts now */
    if (can_write_now(c, f) && !c->bulk.count && !c->inflight) {
        if (write_now(c, f) == 0 && lws_partial_buffered(c->wsi)) {
            c->inflight = 1;
            c->inflight_tag = tag;
            want_write(c);
        }
        return;
    }
    queue_push(c, &c->bulk, f, tag);
}

int client_bulk_pending(client *c, const void *tag)
{
    unsigned i;
    int pending = c->inflight && c->inflight_tag == tag;
    for (i = 0; i < c->bulk.count && !pending; i++)
        pending = c->bulk.q[(c->bulk.head + i) % c->bulk.cap].tag == tag;
    if (pending && c->wsi && sm_mono_ms() - c->bulk_moved > c->stuck_ms)
        cut_off(c, "too slow: not reading");
    return pending;
}

void client_set_stuck_ms(client *c, int ms)
{
    c->stuck_ms = ms;
}

void client_set_drain(client *c, client_drain_fn fn)
{
    c->on_drain = fn;
}

void client_forget(client *c, const void *tag)
{
    unsigned i;
    if (c->inflight_tag == tag)
        c->inflight_tag = NULL;
    for (i = 0; i < c->bulk.count; i++)
        if (c->bulk.q[(c->bulk.head + i) % c->bulk.cap].tag == tag)
            c->bulk.q[(c->bulk.head + i) % c->bulk.cap].tag = NULL;
}

void client_send_text(client *c, const char *text, size_t len)
{
    frame *f = frame_new(text, len);
    if (f) {
        client_send(c, f);
        frame_unref(f);
    }
}

/* One chunk of the body at the head of the queue; 1 after its last one. */
static int write_body_chunk(client *c, frame *f)
{
    size_t n = f->len - c->head_off;
    int last;
    if (n > CLIENT_HTTP_CHUNK)
        n = CLIENT_HTTP_CHUNK;
    last = c->head_off + n == f->len;
    /* lws_write may write into the LWS_PRE bytes before the data (for a
     * chunked or h2 framing): the body is shared, so copy the chunk out. */
    {
        unsigned char buf[LWS_PRE + CLIENT_HTTP_CHUNK];
        memcpy(buf + LWS_PRE, f->buf + LWS_PRE + c->head_off, n);
        if (lws_write(c->wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)n)
            return -1;
    }
    count_sent(f, n, last);
    c->head_off += n;
    return last;
}

/* lws's own LWS_WRITE_CLOSE (its private headers; lws-write.h leaves the
 * value 4 out and says lws_close_reason handles it). */
#define CLIENT_WRITE_CLOSE ((enum lws_write_protocol)4)

/* Writes the close frame itself: on lws 4.1.6 a close asked for from
 * WRITEABLE (lws_close_reason, return -1) reaches the peer as 1006, which
 * would make a page wait out its backoff. lws answers the peer's close
 * frame and closes the socket; a peer that never answers is cut off after
 * 2 s. */
static int send_close_frame(client *c)
{
    unsigned char buf[LWS_PRE + 125], *p = buf + LWS_PRE;
    size_t n = strlen(c->close_why);
    if (n > 120)
        n = 120;
    p[0] = (unsigned char)(c->close_code >> 8);
    p[1] = (unsigned char)(c->close_code & 0xff);
    memcpy(p + 2, c->close_why, n);
    if (lws_write(c->wsi, p, n + 2, CLIENT_WRITE_CLOSE) < (int)(n + 2))
        return -1;
    c->close_sent = 1;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
    return 0;
}

/* One frame from the priority lane, else from the fan-out lane. */
static int write_one(client *c)
{
    lane *l = c->prio.count ? &c->prio : &c->bulk;
    frame *f;
    int rc;

    if (!l->count)
        return 0;
    f = l->q[l->head].f;
    if (f->mode == FRAME_HTTP_BODY) {
        rc = write_body_chunk(c, f);
        if (rc < 0)
            return -1;
        if (rc == 1)
            frame_unref(queue_pop(c, l).f);
        return rc;
    }
    {
        lane_item it = queue_pop(c, l);
        rc = lws_write(c->wsi, it.f->buf + LWS_PRE, it.f->len,
                       is_ws_frame(it.f) ? ws_write_mode(it.f) : LWS_WRITE_HTTP_HEADERS);
        if (rc >= 0)
            count_sent(it.f, it.f->len, 1);
        frame_unref(it.f);
        if (rc < 0)
            return -1;
        if (l == &c->bulk) {
            c->inflight = 1;
            c->inflight_tag = it.tag;
            settle_inflight(c);
        }
    }
    return 0;
}

int client_writeable(client *c)
{
    int rc;

    if (!c->wsi)
        return -1;
    if (c->close_sent)
        return 0;
    if (c->killed)
        return -1;
    batch_flush(c);
    c->in_writeable = 1;
    settle_inflight(c);
    c->in_writeable = 0;
    if (c->close_soft && !c->prio.count && !c->bulk.count)
        return send_close_frame(c);
    if (c->close_code && !c->close_soft) {
        const char *why = c->close_why ? c->close_why : "too slow: too much queued";
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)(uintptr_t)why, strlen(why));
        return -1;
    }
    if (lws_partial_buffered(c->wsi)) { /* lws first sends what it holds */
        want_write(c);
        return 0;
    }
    if (c->ping_wanted) { /* between frames, never inside one */
        /* with a payload: lws 4.1.6 does not pass an empty pong on
         * (LWS_CALLBACK_RECEIVE_PONG), and the peer echoes what we send */
        unsigned char ping[LWS_PRE + 2];
        c->ping_wanted = 0;
        memcpy(ping + LWS_PRE, "ka", 2);
        if (lws_write(c->wsi, ping + LWS_PRE, 2, LWS_WRITE_PING) < 0)
            return -1;
        if (c->prio.count || c->bulk.count || c->inflight || c->close_code)
            want_write(c);
        return 0;
    }
    c->in_writeable = 1;
    rc = write_one(c);
    c->in_writeable = 0;
    if (rc < 0)
        return -1;
    if (c->prio.count || c->bulk.count || c->inflight || c->close_code)
        want_write(c);
    return rc;
}

void client_kill(client *c)
{
    if (!c->wsi)
        return;
    /* closed from its writeable callback: a timeout set from outside lws's
     * service (this is called from a uv timer) is not seen until lws next
     * runs its timers, which an idle server may not do for long; the
     * timeout stays as the backstop for a socket that never turns
     * writeable */
    c->killed = 1;
    want_write(c);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 2);
}

void client_ping(client *c)
{
    if (!c->wsi || c->close_sent)
        return;
    c->ping_wanted = 1;
    want_write(c);
}

frame *client_take(client *c)
{
    lane_item it;
    if (c->prio.count)
        return queue_pop(c, &c->prio).f;
    if (!c->bulk.count)
        return NULL;
    it = queue_pop(c, &c->bulk);
    bulk_done(c, it.tag);
    return it.f;
}

size_t client_queued(const client *c)
{
    return c->prio.count + c->bulk.count;
}

/* ---- buyers ---- */

client_hub *client_hub_new(void)
{
    client_hub *h = calloc(1, sizeof(*h));
    if (h)
        sm_map_init(&h->buyers);
    return h;
}

void client_hub_free(client_hub *h)
{
    if (h) {
        sm_map_free(&h->buyers);
        free(h);
    }
}

static void buyer_unlink(client *c)
{
    sm_map *m = &c->hub->buyers;
    if (c->buyer_prev)
        c->buyer_prev->buyer_next = c->buyer_next;
    else if (c->buyer_next)
        sm_map_set(m, c->buyer_id, c->buyer_next);
    else
        sm_map_del(m, c->buyer_id);
    if (c->buyer_next)
        c->buyer_next->buyer_prev = c->buyer_prev;
    c->buyer_next = c->buyer_prev = NULL;
    c->buyer_id[0] = '\0';
    c->hub = NULL;
}

int client_hub_set_buyer(client_hub *h, client *c, const char *buyer_id)
{
    client *head;
    if (c->hub)
        buyer_unlink(c);
    if (!h || !*buyer_id)
        return 0;
    if (strlen(buyer_id) > CLIENT_BUYER_ID_MAX)
        return -1;
    head = sm_map_get(&h->buyers, buyer_id);
    if (sm_map_set(&h->buyers, buyer_id, c))
        return -1;
    snprintf(c->buyer_id, sizeof(c->buyer_id), "%s", buyer_id);
    c->hub = h;
    c->buyer_prev = NULL;
    c->buyer_next = head;
    if (head)
        head->buyer_prev = c;
    return 0;
}

size_t client_hub_send(client_hub *h, const char *buyer_id, frame *f)
{
    client *c = sm_map_get(&h->buyers, buyer_id);
    size_t n = 0;
    for (; c; c = c->buyer_next, n++)
        client_send(c, f);
    return n;
}

int client_hub_has(const client_hub *h, const char *buyer_id)
{
    return sm_map_get(&h->buyers, buyer_id) != NULL;
}
