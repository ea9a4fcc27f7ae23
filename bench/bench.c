/*
 * bench.c - the scenarios of the seatmap load generator (see bench.h).
 *
 * Messages are read with a few targeted scans rather than a JSON parser:
 * at 10k watchers and 20 deltas/s the generator reads 200k frames/s and must
 * stay well below the server's CPU use. Each distinct delta is parsed once
 * (cached by from, seq and its bytes); every other watcher that gets the same
 * bytes only adds its arrival time to the histogram.
 */
#include "bench.h"

#include "proto_v2.h"
#include "srvhist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- small JSON scans ---------- */

/* Pointer to the value of "key" in p[0..n), or NULL. */
static const char *jval(const char *p, size_t n, const char *key)
{
    size_t kl = strlen(key);
    const char *end = p + n, *q = p;

    while (q < end) {
        const char *k = memchr(q, '"', (size_t)(end - q));
        if (!k || (size_t)(end - k) < kl + 3)
            return NULL;
        if (memcmp(k + 1, key, kl) == 0 && k[kl + 1] == '"') {
            const char *v = k + kl + 2;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            if (v < end && *v == ':') {
                v++;
                while (v < end && (*v == ' ' || *v == '\t'))
                    v++;
                return v < end ? v : NULL;
            }
        }
        q = k + 1;
    }
    return NULL;
}

static int jint(const char *p, size_t n, const char *key, int64_t *out)
{
    const char *v = jval(p, n, key);
    int neg = 0;
    int64_t x = 0;

    if (!v)
        return -1;
    if (*v == '-') {
        neg = 1;
        v++;
    }
    if (*v < '0' || *v > '9')
        return -1;
    while (v < p + n && *v >= '0' && *v <= '9')
        x = x * 10 + (*v++ - '0');
    *out = neg ? -x : x;
    return 0;
}

/* A string value (no escapes expected in the fields we read). */
static int jstr(const char *p, size_t n, const char *key, const char **s, size_t *len)
{
    const char *v = jval(p, n, key), *e;

    if (!v || *v != '"')
        return -1;
    v++;
    e = memchr(v, '"', (size_t)(p + n - v));
    if (!e)
        return -1;
    *s = v;
    *len = (size_t)(e - v);
    return 0;
}

static int streq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* ---------- bookkeeping ---------- */

static void note_error(bench *b, const char *who, const char *p, size_t n)
{
    b->errors++;
    if (!b->first_error[0])
        snprintf(b->first_error, sizeof(b->first_error), "%s: %.*s", who, (int)(n > 120 ? 120 : n),
                 p);
}

/* Records a change of seat to state st made at t (unix us). */
static void rec_push(bench *b, long seat, char st, int64_t t)
{
    seat_rec *r = &b->rec[seat];
    r->t[1] = r->t[0];
    r->st[1] = r->st[0];
    r->win[1] = r->win[0];
    r->t[0] = t;
    r->st[0] = st;
    r->win[0] = (uint8_t)b->measuring;
}

/* Forgets the most recent change of seat (its request failed). */
static void rec_pop(bench *b, long seat)
{
    seat_rec *r = &b->rec[seat];
    r->t[0] = r->t[1];
    r->st[0] = r->st[1];
    r->win[0] = r->win[1];
    r->st[1] = 0;
}

static pend *pend_add(buyer *u, uint8_t kind)
{
    pend *p;

    if (u->npend >= BENCH_PEND_MAX)
        return NULL;
    p = &u->pend[u->npend++];
    memset(p, 0, sizeof(*p));
    p->id = ++u->next_id;
    p->kind = kind;
    p->t = now_us();
    return p;
}

static int pend_take(buyer *u, uint32_t id, pend *out)
{
    for (unsigned i = 0; i < u->npend; i++) {
        if (u->pend[i].id == id) {
            *out = u->pend[i];
            u->pend[i] = u->pend[--u->npend];
            return 0;
        }
    }
    return -1;
}

/* Sends a hold or release of the n seats in seats for buyer i. */
static pend *send_seats(bench *b, long i, uint8_t kind, const int32_t *seats, int n)
{
    char msg[WSC_MAX_SEND];
    buyer *u = &b->b[i];
    pend *p = pend_add(u, kind);
    int len;

    if (!p)
        return NULL;
    len = snprintf(msg, sizeof(msg), "{\"type\":\"%s\",\"id\":%u,\"show\":\"%s\",\"seats\":[",
                   kind == K_HOLD ? "hold" : "release", p->id, b->o.show);
    for (int k = 0; k < n; k++) {
        len += snprintf(msg + len, sizeof(msg) - (size_t)len, "%s\"%s\"", k ? "," : "",
                        b->seats.ids[seats[k]]);
        p->seats[k] = seats[k];
    }
    len += snprintf(msg + len, sizeof(msg) - (size_t)len, "]}");
    p->n = (uint8_t)n;
    if (wsc_send_text(&b->loop, &b->bc[i], msg, (size_t)len)) {
        u->npend--;
        return NULL;
    }
    return p;
}

static void send_simple(bench *b, wsc_conn *c, uint32_t id, const char *type)
{
    char msg[256];
    int len;

    if (strcmp(type, "hello") == 0)
        len = snprintf(msg, sizeof(msg), "{\"type\":\"hello\",\"id\":%u}", id);
    else
        len = snprintf(msg, sizeof(msg), "{\"type\":\"%s\",\"id\":%u,\"show\":\"%s\"}", type, id,
                       b->o.show);
    wsc_send_text(&b->loop, c, msg, (size_t)len);
}

static void watcher_watch(bench *b, long i)
{
    watcher *w = &b->w[i];
    w->watch_sent_us = now_us();
    w->ready = 0;
    send_simple(b, &b->wc[i], ++w->next_id, "watch");
}

/* ---------- deltas ---------- */

/* One seat of a delta (seat: its index, -1 when unknown) into a cache
 * entry; -1 when out of memory. */
static int delta_seat(bench *b, dentry *e, long seat, char st)
{
    b->delta_seats++;
    e->nseats++;
    if (seat < 0) {
        b->unmatched++;
        return 0;
    }
    seat_rec *r = &b->rec[seat];
    int k = r->st[0] == st ? 0 : (r->st[1] == st ? 1 : -1);
    if (k < 0) {
        b->unmatched++;
        return 0;
    }
    if (!r->win[k])
        return 0;
    if (e->n == e->cap) {
        uint32_t nc = e->cap ? e->cap * 2 : 64;
        int64_t *nt = realloc(e->t, nc * sizeof(int64_t));
        if (!nt)
            return -1;
        e->t = nt;
        e->cap = nc;
    }
    e->t[e->n++] = r->t[k];
    return 0;
}

typedef struct dentry_ctx {
    bench *b;
    dentry *e;
} dentry_ctx;

/* Parses the seats of a delta into a cache entry. */
static void delta_parse(bench *b, dentry *e, const char *p, size_t n)
{
    const char *v = jval(p, n, "seats"), *end = p + n;

    e->n = e->nwin = e->nseats = 0;
    if (!v || *v != '[')
        return;
    v++;
    while (v < end) {
        const char *id, *ide;
        long seat;
        char st;

        while (v < end && *v != '[' && *v != ']')
            v++;
        if (v >= end || *v == ']')
            break;
        id = memchr(v, '"', (size_t)(end - v));
        if (!id)
            break;
        id++;
        ide = memchr(id, '"', (size_t)(end - id));
        if (!ide)
            break;
        v = memchr(ide + 1, '"', (size_t)(end - ide - 1));
        if (!v || v + 1 >= end)
            break;
        st = v[1];
        v = memchr(v + 1, ']', (size_t)(end - v - 1));
        if (!v)
            break;
        v++;
        seat = seat_list_find(&b->seats, id, (size_t)(ide - id));
        if (delta_seat(b, e, seat, st))
            return;
    }
    e->nwin = e->n;
}

/* seatmap.v2: the same, from the binary delta (seats by index). */
static int delta_seat_v2(void *ud, size_t idx, char st)
{
    dentry_ctx *x = ud;
    return delta_seat(x->b, x->e, idx < x->b->seats.n ? (long)idx : -1, st);
}

static void delta_parse_v2(bench *b, dentry *e, const char *p, size_t n)
{
    dentry_ctx x = {b, e};
    proto_v2_msg m;
    e->n = e->nwin = 0;
    if (proto_v2_decode_each((const unsigned char *)p, n, &m, delta_seat_v2, &x))
        note_error(b, "bad seatmap.v2 delta", "", 0);
    e->nwin = e->n;
}

static dentry *delta_lookup(bench *b, int64_t from, int64_t seq, const char *p, size_t n)
{
    dentry *e;

    for (unsigned i = 0; i < BENCH_DCACHE; i++) {
        e = &b->dc[i];
        if (e->payload && e->from == from && e->seq == seq && e->len == n &&
            memcmp(e->payload, p, n) == 0) {
            b->dc_hits++;
            return e;
        }
    }
    b->dc_miss++;
    e = &b->dc[b->dc_next++ % BENCH_DCACHE];
    free(e->payload);
    e->payload = malloc(n);
    if (!e->payload)
        return NULL;
    memcpy(e->payload, p, n);
    e->from = from;
    e->seq = seq;
    e->len = (uint32_t)n;
    e->nseats = 0;
    if (n && p[0] == PROTO_V2_DELTA)
        delta_parse_v2(b, e, p, n);
    else
        delta_parse(b, e, p, n);
    return e;
}

static void watcher_delta(bench *b, long i, const char *p, size_t n, int64_t now)
{
    watcher *w = &b->w[i];
    int64_t from, seq;
    dentry *e;
    proto_v2_msg m;

    b->deltas++;
    if (n && p[0] == PROTO_V2_DELTA) {
        if (proto_v2_decode_each((const unsigned char *)p, n, &m, NULL, NULL)) {
            note_error(b, "bad seatmap.v2 delta", "", 0);
            return;
        }
        from = m.from;
        seq = m.seq;
    } else if (jint(p, n, "from", &from) || jint(p, n, "seq", &seq)) {
        note_error(b, "delta without from/seq", p, n);
        return;
    }
    if (w->seq >= 0) {
        if (from > w->seq) {
            w->gaps++;
            w->lost_ops += (uint64_t)(from - w->seq);
        } else if (from < w->seq) {
            w->ooo++;
        }
    }
    if (seq > w->seq)
        w->seq = seq;
    if (!w->ready)
        return;
    e = delta_lookup(b, from, seq, p, n);
    if (!e)
        return;
    b->wdelta_bytes += n;
    b->wdelta_seats += e->nseats;
    if (w->measured) {
        for (uint32_t k = 0; k < e->n; k++)
            hist_add(&b->lat, now - e->t[k]);
        w->arrivals += e->nwin;
    }
}

static void watcher_snapshot(bench *b, long i, const char *p, size_t n, int64_t now)
{
    watcher *w = &b->w[i];
    const char *letters;
    size_t nl;
    int64_t seq;

    if (n && p[0] == PROTO_V2_SNAPSHOT) {
        proto_v2_msg m;
        if (proto_v2_decode_each((const unsigned char *)p, n, &m, NULL, NULL)) {
            note_error(b, "bad seatmap.v2 snapshot", "", 0);
            return;
        }
        seq = m.seq;
        nl = m.nseats;
    } else if (jint(p, n, "seq", &seq) || jstr(p, n, "seats", &letters, &nl)) {
        note_error(b, "bad snapshot", p, n);
        return;
    }
    if (nl != b->seats.n)
        b->snap_bad++;
    w->seq = seq;
    if (!w->ready)
        b->nw_ready++;
    w->ready = 1;
    w->snaps++;
    b->snap_bytes = (uint32_t)n;
    b->last_snap_us = now;
    hist_add(&b->snap_time, now - w->watch_sent_us);
}

/* ---------- buyers ---------- */

static void fanout_reply(bench *b, long i, const pend *p, int ok, const char *code, size_t cl);
static void holds_reply(bench *b, long i, const pend *p, int ok, const char *code, size_t cl,
                        int64_t now);
static void expiry_reply(bench *b, long i, const pend *p, int ok, const char *msg, size_t n);
static void best_reply(bench *b, long i, const pend *p, int ok, const char *msg, size_t n);

static void buyer_message(bench *b, long i, const char *p, size_t n)
{
    buyer *u = &b->b[i];
    const char *type, *code = "";
    size_t tl, cl = 0;
    int64_t id, ms;
    pend pd;
    int ok;

    if (jstr(p, n, "type", &type, &tl))
        return;
    ok = streq(type, tl, "ok");
    if (!ok && !streq(type, tl, "error"))
        return; /* events */
    if (jint(p, n, "id", &id) || pend_take(u, (uint32_t)id, &pd)) {
        note_error(b, "reply to an unknown request", p, n);
        return;
    }
    if (pd.kind == K_BEST || pd.kind == K_PRELOAD) {
        best_reply(b, i, &pd, ok, p, n);
        return;
    }
    if (!ok) {
        jstr(p, n, "code", &code, &cl);
        if (pd.kind == K_HOLD && streq(code, cl, "seat_unavailable"))
            b->hold_unavailable++;
        else if (pd.kind == K_HOLD && streq(code, cl, "hold_limit"))
            b->hold_limit++;
        else if (streq(code, cl, "rate_limited"))
            b->hold_rate++;
        else if (pd.kind == K_HOLD)
            b->hold_other++, note_error(b, "hold", p, n);
        else
            b->rel_err++, note_error(b, pd.kind == K_RELEASE ? "release" : "hello", p, n);
    }
    if (pd.kind == K_HELLO) {
        if (ok && !jint(p, n, "max_seats", &ms))
            b->max_seats = ms;
        if (ok && !u->ready) {
            u->ready = 1;
            b->nb_ready++;
        }
        return;
    }
    if (ok && pd.kind == K_HOLD)
        b->hold_ok++;
    if (ok && pd.kind == K_RELEASE)
        b->rel_ok++;
    if (strcmp(b->o.scenario, "best") == 0)
        best_reply(b, i, &pd, ok, p, n);
    else if (strcmp(b->o.scenario, "fanout") == 0)
        fanout_reply(b, i, &pd, ok, code, cl);
    else if (strcmp(b->o.scenario, "holds") == 0)
        holds_reply(b, i, &pd, ok, code, cl, now_us());
    else if (strcmp(b->o.scenario, "expiry") == 0)
        expiry_reply(b, i, &pd, ok, p, n);
}

/* ---------- wsc callbacks ---------- */

static void on_open(wsc_conn *c, void *ud)
{
    bench *b = ud;

    if (c->role == ROLE_WATCHER) {
        send_simple(b, c, ++b->w[c->idx].next_id, "hello");
    } else {
        pend *p = pend_add(&b->b[c->idx], K_HELLO);
        if (p)
            send_simple(b, c, p->id, "hello");
    }
}

static void on_message(wsc_conn *c, char *p, size_t n, void *ud)
{
    bench *b = ud;
    int64_t now = now_us();
    const char *type;
    size_t tl;

    if (c->role == ROLE_BUYER) {
        buyer_message(b, c->idx, p, n);
        return;
    }
    if (n && (p[0] == PROTO_V2_DELTA || p[0] == PROTO_V2_SNAPSHOT)) {
        /* seatmap.v2: a binary seat event (JSON always starts with '{') */
        if (p[0] == PROTO_V2_DELTA)
            watcher_delta(b, c->idx, p, n, now);
        else
            watcher_snapshot(b, c->idx, p, n, now);
        return;
    }
    if (jstr(p, n, "type", &type, &tl)) {
        note_error(b, "message without type", p, n);
        return;
    }
    if (streq(type, tl, "delta")) {
        watcher_delta(b, c->idx, p, n, now);
    } else if (streq(type, tl, "snapshot")) {
        watcher_snapshot(b, c->idx, p, n, now);
    } else if (streq(type, tl, "ok")) {
        int64_t id;
        /* the reply to hello (id 1) starts the watch */
        if (!jint(p, n, "id", &id) && id == 1 && b->auto_watch)
            watcher_watch(b, c->idx);
    } else if (streq(type, tl, "error")) {
        note_error(b, "watcher", p, n);
    }
}

static void on_close(wsc_conn *c, const char *why, void *ud)
{
    bench *b = ud;

    if (!b->first_close)
        b->first_close = why;
    if (c->role == ROLE_WATCHER) {
        b->nw_closed++;
        if (b->w[c->idx].ready)
            b->nw_ready--;
        b->w[c->idx].ready = 0;
        b->w[c->idx].measured = 0;
    } else {
        b->nb_closed++;
        if (b->b[c->idx].ready)
            b->nb_ready--;
        b->b[c->idx].ready = 0;
    }
}

static const wsc_ops bench_ops = {on_open, on_message, on_close};

int bench_init(bench *b)
{
    return wsc_loop_init(&b->loop, b->o.host, b->o.port, b->o.wire, &bench_ops, b);
}

/* ---------- loop ---------- */

static void pump_connects(bench *b)
{
    while (b->loop.n_pending < BENCH_MAX_CONNECTING &&
           (b->nw_opened < b->nw_target || b->nb_opened < b->nb_target)) {
        wsc_conn *c;
        if (b->nw_opened < b->nw_target) {
            c = &b->wc[b->nw_opened];
            c->role = ROLE_WATCHER;
            c->idx = (uint32_t)b->nw_opened++;
        } else {
            c = &b->bc[b->nb_opened];
            c->role = ROLE_BUYER;
            c->idx = (uint32_t)b->nb_opened++;
        }
        /* best: odd buyers on the second server, if there is one */
        if (c->role == ROLE_BUYER && b->o.port2 > 0)
            b->loop.server.sin_port = htons((uint16_t)(c->idx % 2 ? b->o.port2 : b->o.port));
        if (wsc_connect(&b->loop, c)) {
            b->connect_fail++;
            if (!b->first_close)
                b->first_close = "connect failed";
            c->state = WSC_CLOSED;
        }
    }
}

typedef int (*bench_cond)(bench *b);
typedef void (*bench_tick)(bench *b);

/* Runs the loop until cond is true or seconds pass. 1 when cond held. */
static int run_until(bench *b, bench_cond cond, bench_tick tick, double seconds)
{
    int64_t end = mono_us() + (int64_t)(seconds * 1e6);

    for (;;) {
        pump_connects(b);
        if (cond && cond(b))
            return 1;
        if (mono_us() >= end)
            return 0;
        if (wsc_poll(&b->loop, tick ? 1 : 10) < 0) {
            fprintf(stderr, "seatmap-bench: epoll: %s\n", strerror(errno));
            return 0;
        }
        if (tick)
            tick(b);
    }
}

static int all_watchers_ready(bench *b)
{
    return b->nw_opened == b->nw_target &&
           b->nw_ready + b->nw_closed + b->connect_fail >= b->nw_target;
}

static int all_buyers_ready(bench *b)
{
    return b->nb_opened == b->nb_target &&
           b->nb_ready + b->nb_closed + b->connect_fail >= b->nb_target;
}

static int all_idle(bench *b)
{
    for (long i = 0; i < b->nb; i++)
        if (b->b[i].npend && b->bc[i].state == WSC_OPEN)
            return 0;
    return 1;
}

static int bench_alloc(bench *b, long nw, long nb)
{
    b->nw = nw;
    b->nb = nb;
    b->wc = calloc((size_t)nw + 1, sizeof(wsc_conn));
    b->w = calloc((size_t)nw + 1, sizeof(watcher));
    b->bc = calloc((size_t)nb + 1, sizeof(wsc_conn));
    b->b = calloc((size_t)nb + 1, sizeof(buyer));
    b->rec = calloc(b->seats.n, sizeof(seat_rec));
    if (!b->wc || !b->w || !b->bc || !b->b || !b->rec)
        return -1;
    for (long i = 0; i < nw; i++)
        b->w[i].seq = -1;
    for (size_t i = 0; i < b->seats.n; i++)
        b->rec[i].holder = -1;
    hist_init(&b->lat);
    hist_init(&b->rtt_hold);
    hist_init(&b->rtt_rel);
    hist_init(&b->snap_time);
    b->max_seats = 10;
    return 0;
}

/* Opens the watchers (hello + watch) and waits for their snapshots. */
static int open_watchers(bench *b, long n, double timeout)
{
    int64_t t0 = mono_us();
    b->auto_watch = 1;
    b->nw_target = n;
    if (!run_until(b, all_watchers_ready, NULL, timeout) || b->nw_ready < n) {
        fprintf(stderr, "seatmap-bench: %ld of %ld watchers ready (%ld closed, %ld failed: %s)\n",
                b->nw_ready, n, b->nw_closed, b->connect_fail,
                b->first_close ? b->first_close : "timeout");
        if (b->nw_ready == 0)
            return -1;
    }
    fprintf(stderr, "seatmap-bench: %ld watchers have their snapshot after %.1f s\n", b->nw_ready,
            (double)(mono_us() - t0) / 1e6);
    return 0;
}

static int open_buyers(bench *b, long n, double timeout)
{
    b->nb_target = n;
    if (!run_until(b, all_buyers_ready, NULL, timeout) || b->nb_ready < n) {
        fprintf(stderr, "seatmap-bench: %ld of %ld buyers ready (%s)\n", b->nb_ready, n,
                b->first_close ? b->first_close : "timeout");
        if (b->nb_ready == 0)
            return -1;
    }
    return 0;
}

static void close_all(bench *b)
{
    for (long i = 0; i < b->nw_opened; i++)
        wsc_close(&b->loop, &b->wc[i], 1);
    for (long i = 0; i < b->nb_opened; i++)
        wsc_close(&b->loop, &b->bc[i], 1);
}

/* Process figures over a window. */
typedef struct cpu_mark {
    int64_t t, srv, redis, self;
    uint64_t frames;
    int64_t busy_us; /* whole machine, all cores */
} cpu_mark;

/* CPU time the whole machine spent not idle, in microseconds, or -1. */
static int64_t machine_busy_us(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n = 0;

    if (f) {
        n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
        fclose(f);
    }
    if (n < 5)
        return -1;
    return (int64_t)((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000000ull /
                     (unsigned long long)sysconf(_SC_CLK_TCK));
}

static void cpu_mark_now(bench *b, cpu_mark *m)
{
    m->t = mono_us();
    m->srv = proc_cpu_us(b->o.server_pid);
    m->redis = proc_cpu_us(b->o.redis_pid);
    m->self = self_cpu_us();
    m->frames = b->loop.frames_in;
    m->busy_us = machine_busy_us();
}

static double machine_load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static double pct(int64_t a, int64_t b, int64_t dt)
{
    if (a < 0 || b < 0 || dt <= 0)
        return -1;
    return 100.0 * (double)(b - a) / (double)dt;
}

static void print_cpu(bench *b, const cpu_mark *a, const cpu_mark *z)
{
    int64_t dt = z->t - a->t;
    uint64_t frames = z->frames - a->frames;
    printf(" server_cpu_pct=%.1f redis_cpu_pct=%.1f gen_cpu_pct=%.1f server_rss_kb=%ld",
           pct(a->srv, z->srv, dt), pct(a->redis, z->redis, dt), pct(a->self, z->self, dt),
           proc_status_kb(b->o.server_pid, "VmRSS"));
    /* CPU per frame received, for both ends: what one delivered frame costs */
    printf(" frames_per_s=%.0f server_us_per_frame=%.2f gen_us_per_frame=%.2f",
           dt > 0 ? (double)frames * 1e6 / (double)dt : 0,
           frames && a->srv >= 0 ? (double)(z->srv - a->srv) / (double)frames : 0,
           frames ? (double)(z->self - a->self) / (double)frames : 0);
    /* the machine as a whole, so a busy neighbour shows in the figures */
    printf(" load1=%.2f", machine_load1());
    /* CPU used by everything else on the machine during the window */
    if (a->busy_us >= 0 && a->srv >= 0 && dt > 0) {
        int64_t ours =
            (z->srv - a->srv) + (z->self - a->self) + (a->redis >= 0 ? z->redis - a->redis : 0);
        /* softirq work is charged to whoever runs: small negatives are noise */
        double others = 100.0 * (double)(z->busy_us - a->busy_us - ours) / (double)dt;
        printf(" machine_busy_pct=%.0f others_cpu_pct=%.0f",
               100.0 * (double)(z->busy_us - a->busy_us) / (double)dt, others < 0 ? 0 : others);
    }
}

/* The server's own hold reply time over the window (srvhist.h): its p50 and
 * p99 in ms, or "-" when /metrics did not say. */
static void print_srv_hold(const srv_hist *a, const srv_hist *z)
{
    double p50 = srv_hist_quantile_ms(a, z, 0.50), p99 = srv_hist_quantile_ms(a, z, 0.99);
    if (p50 < 0 || p99 < 0)
        printf(" hold_srv_ms_p50=- hold_srv_ms_p99=-");
    else
        printf(" hold_srv_ms_p50=%.2f hold_srv_ms_p99=%.2f", p50, p99);
}

static void print_hist(const char *name, const hist *h, double div)
{
    printf(" %s_p50=%.2f %s_p99=%.2f %s_p999=%.2f %s_max=%.2f %s_n=%llu", name,
           (double)hist_quantile(h, 0.5) / div, name, (double)hist_quantile(h, 0.99) / div, name,
           (double)hist_quantile(h, 0.999) / div, name, (double)hist_quantile(h, 1.0) / div, name,
           (unsigned long long)h->count);
}

static void print_watcher_totals(bench *b, uint64_t expected_each)
{
    uint64_t gaps = 0, ooo = 0, lost_ops = 0, arrivals = 0, measured = 0;

    for (long i = 0; i < b->nw_opened; i++) {
        watcher *w = &b->w[i];
        gaps += w->gaps;
        ooo += w->ooo;
        lost_ops += w->lost_ops;
        if (w->measured) {
            measured++;
            arrivals += w->arrivals;
        }
    }
    uint64_t expected = expected_each * measured;
    printf(" watchers_measured=%llu arrivals=%llu expected=%llu missing=%lld seq_gaps=%llu "
           "seq_lost_ops=%llu out_of_order=%llu watchers_closed=%ld",
           (unsigned long long)measured, (unsigned long long)arrivals, (unsigned long long)expected,
           (long long)expected - (long long)arrivals, (unsigned long long)gaps,
           (unsigned long long)lost_ops, (unsigned long long)ooo, b->nw_closed);
    printf(" wire=%s delta_bytes=%llu delta_seats_received=%llu delta_bytes_per_seat=%.2f",
           strcmp(b->o.wire, "seatmap.v2") == 0 ? "v2" : "v1", (unsigned long long)b->wdelta_bytes,
           (unsigned long long)b->wdelta_seats,
           b->wdelta_seats ? (double)b->wdelta_bytes / (double)b->wdelta_seats : 0.0);
}

/* ---------- fanout ---------- */

static void fanout_reply(bench *b, long i, const pend *p, int ok, const char *code, size_t cl)
{
    held_slot *s = &b->ring[p->aux];

    (void)code;
    (void)cl;
    if (p->kind == K_HOLD) {
        /* a buyer's answer under fan-out load (docs/benchmarks.md) */
        if (p->t >= b->win_start && p->t < b->win_end)
            hist_add(&b->rtt_hold, now_us() - p->t);
        if (ok) {
            s->state = 2;
            if (p->t >= b->win_start && p->t < b->win_end)
                b->changes_win++;
        } else {
            rec_pop(b, p->seats[0]);
            s->state = 3;
            b->b[i].held--;
        }
    } else {
        b->b[i].held--;
        if (ok) {
            if (p->t >= b->win_start && p->t < b->win_end)
                b->changes_win++;
        } else {
            rec_pop(b, p->seats[0]);
        }
    }
}

/* Makes the changes that are due: releases of seats held hold_ms ago,
 * otherwise holds of fresh seats, round-robin over the buyers. */
static void fanout_tick(bench *b)
{
    int64_t now = now_us(), mono = mono_us();
    uint64_t due = (uint64_t)((double)(mono - b->gen_start) / 1e6 * (double)b->o.rate);
    int burst = 0;

    b->measuring = now >= b->win_start && now < b->win_end;
    while (b->gen_done < due && burst++ < 1000) {
        held_slot *h;
        pend *p;
        int32_t seat;

        while (b->ring_head != b->ring_tail && b->ring[b->ring_head % b->ring_cap].state == 3)
            b->ring_head++;
        h = b->ring_head != b->ring_tail ? &b->ring[b->ring_head % b->ring_cap] : NULL;
        if (h && h->state == 2 && now - h->t >= (int64_t)b->o.hold_ms * 1000 &&
            b->bc[h->buyer].state == WSC_OPEN) {
            seat = h->seat;
            p = send_seats(b, h->buyer, K_RELEASE, &seat, 1);
            if (!p)
                break;
            p->aux = (int32_t)(b->ring_head % b->ring_cap);
            rec_push(b, seat, 'e', p->t);
            h->state = 0;
            b->ring_head++;
            b->gen_done++;
            continue;
        }
        if (b->ring_tail - b->ring_head >= b->ring_cap) {
            b->gen_skipped++;
            b->gen_done++;
            continue;
        }
        /* a buyer with room */
        long tries = 0, i = -1;
        while (tries++ < b->nb) {
            long k = b->next_buyer++ % b->nb;
            if (b->b[k].ready && b->bc[k].state == WSC_OPEN && b->b[k].held + 1 < b->max_seats &&
                b->b[k].npend < BENCH_PEND_MAX) {
                i = k;
                break;
            }
        }
        if (i < 0) {
            b->gen_skipped++;
            b->gen_done++;
            continue;
        }
        seat = (int32_t)(b->next_seat++ % (long)b->seats.n);
        p = send_seats(b, i, K_HOLD, &seat, 1);
        if (!p)
            break;
        h = &b->ring[b->ring_tail % b->ring_cap];
        h->seat = seat;
        h->buyer = (int32_t)i;
        h->t = p->t;
        h->state = 1;
        p->aux = (int32_t)(b->ring_tail % b->ring_cap);
        b->ring_tail++;
        b->b[i].held++;
        rec_push(b, seat, 'p', p->t);
        b->gen_done++;
    }
}

/* Every measured watcher has every measured change. */
static int fanout_drained(bench *b)
{
    for (long i = 0; i < b->nw_opened; i++)
        if (b->w[i].measured && b->w[i].arrivals < b->changes_win)
            return 0;
    return all_idle(b);
}

static void mark_measured(bench *b)
{
    for (long i = 0; i < b->nw_opened; i++) {
        b->w[i].measured = b->w[i].ready;
        b->w[i].arrivals = 0;
    }
}

int bench_fanout(bench *b)
{
    cpu_mark a, z;
    srv_hist srv_a, srv_z;
    int64_t t;

    if (bench_alloc(b, b->o.watchers, b->o.buyers))
        return -1;
    b->ring_cap = b->o.rate * (b->o.hold_ms / 1000 + 2) * 2 + 1024;
    b->ring = calloc((size_t)b->ring_cap, sizeof(held_slot));
    if (!b->ring)
        return -1;
    if (open_buyers(b, b->o.buyers, 30))
        return -1;
    if (open_watchers(b, b->o.watchers, 120))
        return -1;
    t = now_us();
    b->win_start = t + (int64_t)(b->o.warmup * 1e6);
    b->win_end = b->win_start + (int64_t)(b->o.duration * 1e6);
    b->gen_start = mono_us();
    /* warm-up: the held ring fills, releases start */
    run_until(b, NULL, fanout_tick, b->o.warmup);
    mark_measured(b);
    srv_hist_scrape(b->o.host, b->o.port, "hold", &srv_a); /* outside the CPU window */
    cpu_mark_now(b, &a);
    run_until(b, NULL, fanout_tick, b->o.duration);
    cpu_mark_now(b, &z);
    srv_hist_scrape(b->o.host, b->o.port, "hold", &srv_z);
    double achieved = (double)b->gen_done / ((double)(mono_us() - b->gen_start) / 1e6);
    /* drain: the last changes of the window reach the watchers (a change
     * that has not arrived 5 s after the window is counted missing) */
    b->measuring = 0;
    run_until(b, fanout_drained, NULL, 5.0);

    printf("result fanout label=%s watchers=%ld buyers=%ld rate=%ld achieved_rate=%.0f "
           "window_s=%.1f changes=%llu skipped=%llu",
           b->o.label, b->o.watchers, b->o.buyers, b->o.rate, achieved, b->o.duration,
           (unsigned long long)b->changes_win, (unsigned long long)b->gen_skipped);
    print_hist("lat_ms", &b->lat, 1000.0);
    print_hist("hold_rtt_ms", &b->rtt_hold, 1000.0);
    print_srv_hold(&srv_a, &srv_z);
    print_watcher_totals(b, b->changes_win);
    print_cpu(b, &a, &z);
    /* what one change costs the server, frames and all: comparable across
     * servers that send different numbers of frames per change */
    printf(" server_us_per_change=%.1f",
           b->changes_win && a.srv >= 0 ? (double)(z.srv - a.srv) / (double)b->changes_win : 0.0);
    printf(" hold_ok=%llu hold_err=%llu rel_ok=%llu rel_err=%llu unmatched=%llu errors=%llu "
           "frames_in=%llu bytes_in=%llu\n",
           (unsigned long long)b->hold_ok,
           (unsigned long long)(b->hold_unavailable + b->hold_limit + b->hold_rate + b->hold_other),
           (unsigned long long)b->rel_ok, (unsigned long long)b->rel_err,
           (unsigned long long)b->unmatched, (unsigned long long)b->errors,
           (unsigned long long)b->loop.frames_in, (unsigned long long)b->loop.bytes_in);
    if (b->first_error[0])
        fprintf(stderr, "seatmap-bench: first error: %s\n", b->first_error);
    close_all(b);
    /* the tool works when changes were made and every watcher saw some */
    return b->changes_win > 0 && b->lat.count > 0 ? 0 : -1;
}

/* ---------- holds ---------- */

static void holds_next(bench *b, long i)
{
    int32_t seats[BENCH_HOLD_SEATS_MAX];
    int n = 1 + (int)((unsigned)rand() % (unsigned)b->o.hold_seats);
    long pool = b->o.pool < (long)b->seats.n ? b->o.pool : (long)b->seats.n;

    if (b->stopping || b->bc[i].state != WSC_OPEN)
        return;
    for (int k = 0; k < n; k++) {
        int dup;
        do {
            seats[k] = (int32_t)((unsigned)rand() % (unsigned)pool);
            dup = 0;
            for (int j = 0; j < k; j++)
                dup |= seats[j] == seats[k];
        } while (dup);
    }
    send_seats(b, i, K_HOLD, seats, n);
}

static void holds_reply(bench *b, long i, const pend *p, int ok, const char *code, size_t cl,
                        int64_t now)
{
    buyer *u = &b->b[i];
    int in_win = now >= b->win_start && now < b->win_end;

    (void)code;
    (void)cl;
    if (in_win)
        b->ops_win++;
    if (p->kind == K_HOLD) {
        if (in_win)
            hist_add(&b->rtt_hold, now - p->t);
        if (!ok) {
            holds_next(b, i);
            return;
        }
        /* held from the ok until the release goes out, so two overlaps
         * here are certainly a double hold */
        for (int k = 0; k < p->n; k++) {
            seat_rec *r = &b->rec[p->seats[k]];
            if (r->holder >= 0 && r->holder != i)
                b->client_doubles++;
            r->holder = (int32_t)i;
        }
        memcpy(u->cur, p->seats, sizeof(int32_t) * p->n);
        u->ncur = p->n;
        if (b->stopping)
            return; /* the hold stays for the audit */
        for (int k = 0; k < p->n; k++)
            b->rec[p->seats[k]].holder = -1;
        send_seats(b, i, K_RELEASE, p->seats, p->n);
        return;
    }
    if (in_win)
        hist_add(&b->rtt_rel, now - p->t);
    u->ncur = 0;
    if (ok && in_win)
        b->pairs_win++;
    holds_next(b, i);
}

static void holds_tick(bench *b)
{
    b->stopping = now_us() >= b->win_end;
}

int bench_holds(bench *b)
{
    cpu_mark a, z;
    srv_hist srv_a, srv_z;
    rcheck_result rr;
    char err[256];
    long expect_held = 0;
    int audited = -1;

    if (bench_alloc(b, 0, b->o.buyers))
        return -1;
    if (open_buyers(b, b->o.buyers, 30))
        return -1;
    srand(42);
    b->win_start = now_us() + (int64_t)(b->o.warmup * 1e6);
    b->win_end = b->win_start + (int64_t)(b->o.duration * 1e6);
    for (long i = 0; i < b->nb; i++)
        if (b->b[i].ready)
            holds_next(b, i);
    run_until(b, NULL, holds_tick, b->o.warmup);
    srv_hist_scrape(b->o.host, b->o.port, "hold", &srv_a); /* outside the CPU window */
    cpu_mark_now(b, &a);
    run_until(b, NULL, holds_tick, b->o.duration);
    cpu_mark_now(b, &z);
    srv_hist_scrape(b->o.host, b->o.port, "hold", &srv_z);
    b->stopping = 1;
    run_until(b, all_idle, NULL, 10);
    for (long i = 0; i < b->nb; i++)
        expect_held += b->b[i].ncur;
    if (b->o.redis_port > 0) {
        audited = rcheck_audit(b->o.redis_host, b->o.redis_port, b->o.show, &rr, err, sizeof(err));
        if (audited)
            fprintf(stderr, "seatmap-bench: %s\n", err);
    }
    printf("result holds label=%s buyers=%ld pool=%ld hold_seats=1..%d window_s=%.1f "
           "pairs_per_s=%.0f requests_per_s=%.0f",
           b->o.label, b->o.buyers, b->o.pool, b->o.hold_seats, b->o.duration,
           (double)b->pairs_win / b->o.duration, (double)b->ops_win / b->o.duration);
    print_hist("hold_rtt_ms", &b->rtt_hold, 1000.0);
    print_srv_hold(&srv_a, &srv_z);
    print_hist("release_rtt_ms", &b->rtt_rel, 1000.0);
    print_cpu(b, &a, &z);
    /* what one request costs each process, independent of the CPU left to it */
    if (b->ops_win)
        printf(" server_us_per_request=%.1f redis_us_per_request=%.1f gen_us_per_request=%.1f",
               a.srv >= 0 ? (double)(z.srv - a.srv) / (double)b->ops_win : -1.0,
               a.redis >= 0 ? (double)(z.redis - a.redis) / (double)b->ops_win : -1.0,
               (double)(z.self - a.self) / (double)b->ops_win);
    printf(" hold_ok=%llu seat_unavailable=%llu hold_limit=%llu rate_limited=%llu "
           "hold_other=%llu release_ok=%llu release_err=%llu client_doubles=%llu "
           "final_held_expected=%ld",
           (unsigned long long)b->hold_ok, (unsigned long long)b->hold_unavailable,
           (unsigned long long)b->hold_limit, (unsigned long long)b->hold_rate,
           (unsigned long long)b->hold_other, (unsigned long long)b->rel_ok,
           (unsigned long long)b->rel_err, (unsigned long long)b->client_doubles, expect_held);
    if (audited == 0)
        printf(" redis_seat_keys=%ld redis_held=%ld redis_holds=%ld redis_doubles=%ld "
               "(dangling=%ld in_two_holds=%ld held_and_booked=%ld)\n",
               rr.seat_keys, rr.held_seats, rr.holds, rcheck_doubles(&rr), rr.dangling,
               rr.in_two_holds, rr.held_and_booked);
    else
        printf(" redis_doubles=unchecked\n");
    if (b->first_error[0])
        fprintf(stderr, "seatmap-bench: first error: %s\n", b->first_error);
    close_all(b);
    if (b->hold_ok == 0 || b->rel_ok == 0)
        return -1;
    /* a double hold is a broken server, which the benchmark must not hide */
    if (b->client_doubles || (audited == 0 && rcheck_doubles(&rr)))
        return 2;
    return 0;
}

/* ---------- expiry ---------- */

static void expiry_reply(bench *b, long i, const pend *p, int ok, const char *msg, size_t n)
{
    int64_t exp;

    (void)i;
    if (p->kind != K_HOLD || !ok)
        return;
    if (jint(msg, n, "expires_at", &exp)) {
        note_error(b, "hold reply without expires_at", msg, n);
        return;
    }
    b->measuring = 1;
    for (int k = 0; k < p->n; k++)
        rec_push(b, p->seats[k], 'e', exp * 1000);
    b->exp_expected += p->n;
    if (exp * 1000 > b->exp_last_deadline)
        b->exp_last_deadline = exp * 1000;
}

static int expiry_done(bench *b)
{
    uint64_t arrivals = 0, measured = 0;
    int64_t now = now_us();

    if (b->exp_last_deadline == 0 || now < b->exp_last_deadline)
        return 0;
    for (long i = 0; i < b->nw_opened; i++)
        if (b->w[i].measured) {
            measured++;
            arrivals += b->w[i].arrivals;
        }
    return arrivals >= measured * b->exp_expected;
}

int bench_expiry(bench *b)
{
    cpu_mark a, z;
    char err[256];
    long stride;
    int64_t t0, first_deadline = 0;

    if (b->o.junk > 0 && b->o.redis_port > 0) {
        if (rcheck_load_junk(b->o.redis_host, b->o.redis_port, b->o.show, b->o.junk, 60, 3600, err,
                             sizeof(err))) {
            fprintf(stderr, "seatmap-bench: %s\n", err);
            return -1;
        }
        fprintf(stderr, "seatmap-bench: loaded %ld unrelated keys with TTLs\n", b->o.junk);
    }
    if (bench_alloc(b, b->o.watchers, b->o.holds))
        return -1;
    if (open_watchers(b, b->o.watchers, 120))
        return -1;
    if (open_buyers(b, b->o.holds, 120))
        return -1;
    mark_measured(b);
    stride = (long)b->seats.n / b->o.holds;
    if (stride < 1)
        stride = 1;
    t0 = now_us();
    for (long i = 0; i < b->nb; i++) {
        int32_t seat = (int32_t)((i * stride) % (long)b->seats.n);
        if (b->b[i].ready)
            send_seats(b, i, K_HOLD, &seat, 1);
    }
    run_until(b, all_idle, NULL, 60);
    fprintf(stderr,
            "seatmap-bench: %llu holds made in %.2f s (%llu errors); waiting for the deadline\n",
            (unsigned long long)b->hold_ok, (double)(now_us() - t0) / 1e6,
            (unsigned long long)(b->hold_unavailable + b->hold_other + b->hold_rate));
    for (size_t s = 0; s < b->seats.n; s++)
        if (b->rec[s].st[0] == 'e' && (first_deadline == 0 || b->rec[s].t[0] < first_deadline))
            first_deadline = b->rec[s].t[0];
    /* the window runs from the first deadline to the last arrival */
    if (first_deadline > now_us())
        run_until(b, NULL, NULL, (double)(first_deadline - now_us()) / 1e6);
    cpu_mark_now(b, &a);
    if (b->exp_last_deadline) {
        double wait = (double)(b->exp_last_deadline - now_us()) / 1e6 + 10.0;
        run_until(b, expiry_done, NULL, wait);
    }
    cpu_mark_now(b, &z);
    printf("result expiry label=%s watchers=%ld holds=%llu junk_keys=%ld deadline_spread_ms=%.0f",
           b->o.label, b->o.watchers, (unsigned long long)b->exp_expected, b->o.junk,
           (double)(b->exp_last_deadline - first_deadline) / 1000.0);
    print_hist("after_deadline_ms", &b->lat, 1000.0);
    print_watcher_totals(b, b->exp_expected);
    print_cpu(b, &a, &z);
    printf(" window_ms=%.0f server_cpu_ms=%.0f errors=%llu\n", (double)(z.t - a.t) / 1000.0,
           a.srv >= 0 ? (double)(z.srv - a.srv) / 1000.0 : -1.0, (unsigned long long)b->errors);
    if (b->first_error[0])
        fprintf(stderr, "seatmap-bench: first error: %s\n", b->first_error);
    close_all(b);
    return b->lat.count > 0 ? 0 : -1;
}

/* ---------- snapshot ---------- */

static long snap_target;

static int snaps_reached(bench *b)
{
    return b->w[0].snaps >= snap_target || b->wc[0].state != WSC_OPEN;
}

static int joiners_ready(bench *b)
{
    long n = 0;
    for (long i = 1; i < b->nw_opened; i++)
        n += b->w[i].snaps > 0;
    return n + b->nw_closed >= b->o.joiners;
}

static int hello_done(bench *b)
{
    long n = 0;
    for (long i = 0; i < b->nw_opened; i++)
        n += b->wc[i].state == WSC_OPEN && b->w[i].next_id >= 1;
    return b->nw_opened == b->nw_target && b->loop.n_pending == 0 &&
           n + b->nw_closed + b->connect_fail >= b->nw_target;
}

int bench_snapshot(bench *b)
{
    cpu_mark a, z;
    hist single;
    int64_t t0, last = 0;

    if (bench_alloc(b, 1 + b->o.joiners, 0))
        return -1;
    if (open_watchers(b, 1, 30))
        return -1;
    /* sequential snapshots on one connection: build + send + receive time */
    hist_init(&b->snap_time);
    for (long k = 0; k < b->o.snaps; k++) {
        snap_target = b->w[0].snaps + 1;
        watcher_watch(b, 0);
        if (!run_until(b, snaps_reached, NULL, 10))
            break;
    }
    single = b->snap_time;
    uint32_t frame = b->snap_bytes;
    /* joiners: connect and hello first, then all watch at once */
    b->auto_watch = 0;
    b->nw_target = 1 + b->o.joiners;
    run_until(b, hello_done, NULL, 60);
    run_until(b, NULL, NULL, 0.5); /* hello replies */
    hist_init(&b->snap_time);
    cpu_mark_now(b, &a);
    t0 = now_us();
    for (long i = 1; i < b->nw_opened; i++)
        if (b->wc[i].state == WSC_OPEN)
            watcher_watch(b, i);
    run_until(b, joiners_ready, NULL, 60);
    last = b->last_snap_us;
    cpu_mark_now(b, &z);
    long got = 0;
    for (long i = 1; i < b->nw_opened; i++)
        got += b->w[i].snaps > 0;
    printf("result snapshot label=%s wire=%s seats=%zu frame_bytes=%u bytes_per_seat=%.2f",
           b->o.label, strcmp(b->o.wire, "seatmap.v2") == 0 ? "v2" : "v1", b->seats.n, frame,
           b->seats.n ? (double)frame / (double)b->seats.n : 0);
    print_hist("single_ms", &single, 1000.0);
    printf(" joiners=%ld joined=%ld all_joined_ms=%.1f", b->o.joiners, got,
           (double)(last - t0) / 1000.0);
    print_hist("join_ms", &b->snap_time, 1000.0);
    print_cpu(b, &a, &z);
    printf(" snap_bad=%llu errors=%llu\n", (unsigned long long)b->snap_bad,
           (unsigned long long)b->errors);
    if (b->first_error[0])
        fprintf(stderr, "seatmap-bench: first error: %s\n", b->first_error);
    close_all(b);
    return single.count > 0 && got > 0 && b->snap_bad == 0 ? 0 : -1;
}

/* ---------- idle ---------- */

static int idle_settled(bench *b)
{
    (void)b;
    return 0;
}

int bench_idle(bench *b)
{
    cpu_mark a, z;
    long rss0, rss1, rss2;

    if (bench_alloc(b, 1 + b->o.conns, 0))
        return -1;
    /* one watcher first, so the show is loaded before the baseline */
    if (open_watchers(b, 1, 30))
        return -1;
    run_until(b, idle_settled, NULL, 1.0);
    rss0 = proc_status_kb(b->o.server_pid, "VmRSS");
    b->auto_watch = 0;
    b->nw_target = 1 + b->o.conns;
    int64_t t_conn = mono_us(), srv_conn = proc_cpu_us(b->o.server_pid);
    run_until(b, hello_done, NULL, 120);
    run_until(b, NULL, NULL, 0.5); /* hello replies */
    double connect_s = (double)(mono_us() - t_conn) / 1e6 - 0.5;
    int64_t srv_conn_us = proc_cpu_us(b->o.server_pid) - srv_conn;
    run_until(b, idle_settled, NULL, 2.0);
    long open = b->loop.n_open - 1;
    rss1 = proc_status_kb(b->o.server_pid, "VmRSS");
    cpu_mark_now(b, &a);
    run_until(b, idle_settled, NULL, 3.0);
    cpu_mark_now(b, &z);
    /* the same connections watching the show */
    for (long i = 1; i < b->nw_opened; i++)
        if (b->wc[i].state == WSC_OPEN)
            watcher_watch(b, i);
    run_until(b, all_watchers_ready, NULL, 120);
    run_until(b, idle_settled, NULL, 2.0);
    rss2 = proc_status_kb(b->o.server_pid, "VmRSS");
    printf("result idle label=%s conns=%ld open=%ld rss_before_kb=%ld rss_hello_kb=%ld "
           "rss_watching_kb=%ld bytes_per_conn=%.0f bytes_per_watching_conn=%.0f "
           "watching=%ld connect_s=%.2f server_us_per_connect=%.0f",
           b->o.label, b->o.conns, open, rss0, rss1, rss2,
           open > 0 ? (double)(rss1 - rss0) * 1024.0 / (double)open : 0,
           open > 0 ? (double)(rss2 - rss0) * 1024.0 / (double)open : 0, b->nw_ready - 1, connect_s,
           open > 0 && srv_conn >= 0 ? (double)srv_conn_us / (double)open : 0);
    print_cpu(b, &a, &z);
    printf(" errors=%llu\n", (unsigned long long)b->errors);
    if (b->first_error[0])
        fprintf(stderr, "seatmap-bench: first error: %s\n", b->first_error);
    close_all(b);
    return open > 0 ? 0 : -1;
}

/* ---------- best ----------
 *
 * Buyers 0..buyers-1 ask for the best `count` seats (in `section` when
 * given) and release them as soon as they have them, one request in flight
 * each; the rest preload: each holds up to 100 seats before the window
 * opens (random ones of the show, or a section's all but its first ones), so the picks run on a
 * show with `preload` seats held. With --port2, odd buyers are on a second server and the two race
 * through Redis: retries count the picks lost to that race.
 */

#define BEST_PRELOAD_BATCH 100

static int32_t *best_cand; /* seats to preload, shuffled */
static long best_ncand, best_cand_next, best_preload_pending, best_nbuyers;

static void best_next(bench *b, long i)
{
    char msg[512];
    buyer *u = &b->b[i];
    pend *p;
    int len;

    if (b->stopping || b->bc[i].state != WSC_OPEN || !(p = pend_add(u, K_BEST)))
        return;
    len = snprintf(msg, sizeof(msg), "{\"type\":\"best\",\"id\":%u,\"show\":\"%s\",\"count\":%ld",
                   p->id, b->o.show, b->o.count);
    if (b->o.section)
        len += snprintf(msg + len, sizeof(msg) - (size_t)len, ",\"section\":\"%s\"", b->o.section);
    len += snprintf(msg + len, sizeof(msg) - (size_t)len, "}");
    if (wsc_send_text(&b->loop, &b->bc[i], msg, (size_t)len))
        u->npend--;
}

static void preload_send(bench *b, long i)
{
    char msg[WSC_MAX_SEND];
    pend *p;
    int len, k;

    if (best_cand_next >= best_ncand || b->bc[i].state != WSC_OPEN ||
        !(p = pend_add(&b->b[i], K_PRELOAD)))
        return;
    len = snprintf(msg, sizeof(msg), "{\"type\":\"hold\",\"id\":%u,\"show\":\"%s\",\"seats\":[",
                   p->id, b->o.show);
    for (k = 0; k < BEST_PRELOAD_BATCH && best_cand_next < best_ncand; k++)
        len += snprintf(msg + len, sizeof(msg) - (size_t)len, "%s\"%s\"", k ? "," : "",
                        b->seats.ids[best_cand[best_cand_next++]]);
    len += snprintf(msg + len, sizeof(msg) - (size_t)len, "]}");
    if (wsc_send_text(&b->loop, &b->bc[i], msg, (size_t)len))
        b->b[i].npend--;
    else
        best_preload_pending++;
}

/* The seat indexes of "best":{"seats":[...]} in a reply; their number. */
static int best_seats_of(bench *b, const char *p, size_t n, int32_t *out, int max)
{
    const char *v = jval(p, n, "best"), *end = p + n;
    int k = 0;

    if (!v || !(v = jval(v, (size_t)(end - v), "seats")) || *v != '[')
        return 0;
    for (v++; v < end && *v != ']' && k < max;) {
        const char *q = memchr(v, '"', (size_t)(end - v)), *e;
        long idx;
        if (!q || !(e = memchr(q + 1, '"', (size_t)(end - q - 1))))
            break;
        idx = seat_list_find(&b->seats, q + 1, (size_t)(e - q - 1));
        if (idx >= 0)
            out[k++] = (int32_t)idx;
        v = e + 1;
        while (v < end && (*v == ',' || *v == ' '))
            v++;
    }
    return k;
}

static void best_reply(bench *b, long i, const pend *p, int ok, const char *msg, size_t n)
{
    int64_t now = now_us(), tries;
    int in_win = now >= b->win_start && now < b->win_end;
    int32_t seats[BENCH_HOLD_SEATS_MAX];
    const char *code = "";
    size_t cl = 0;
    int k, ns;

    if (p->kind == K_PRELOAD) {
        best_preload_pending--;
        if (!ok)
            note_error(b, "preload", msg, n);
        preload_send(b, i);
        return;
    }
    if (p->kind == K_RELEASE) {
        best_next(b, i);
        return;
    }
    if (in_win) {
        hist_add(&b->rtt_best, now - p->t);
        b->best_ops_win++;
    }
    if (!ok) {
        jstr(msg, n, "code", &code, &cl);
        if (streq(code, cl, "seat_unavailable"))
            b->best_unavailable++;
        else
            b->best_other++, note_error(b, "best", msg, n);
        best_next(b, i);
        return;
    }
    b->best_ok++;
    if (in_win)
        b->best_ok_win++;
    {
        const char *bv = jval(msg, n, "best");
        if (bv && !jint(bv, (size_t)(msg + n - bv), "tries", &tries) && tries > 1)
            b->best_retries += (uint64_t)(tries - 1);
    }
    ns = best_seats_of(b, msg, n, seats, BENCH_HOLD_SEATS_MAX);
    for (k = 0; k < ns; k++) {
        if (b->rec[seats[k]].holder >= 0 && b->rec[seats[k]].holder != i)
            b->client_doubles++;
        b->rec[seats[k]].holder = (int32_t)i;
    }
    if (b->stopping || ns == 0)
        return; /* kept for the audit */
    for (k = 0; k < ns; k++)
        b->rec[seats[k]].holder = -1;
    send_seats(b, i, K_RELEASE, seats, ns);
}

static int best_preloaded(bench *b)
{
    (void)b;
    return best_preload_pending == 0;
}

/* Seats to preload: the section's (or all), shuffled. */
static int best_candidates(bench *b)
{
    size_t sl = b->o.section ? strlen(b->o.section) : 0;
    best_cand = malloc(b->seats.n * sizeof(*best_cand));
    if (!best_cand)
        return -1;
    best_ncand = 0;
    for (size_t i = 0; i < b->seats.n; i++)
        if (!b->o.section ||
            (strncmp(b->seats.ids[i], b->o.section, sl) == 0 && b->seats.ids[i][sl] == '-'))
            best_cand[best_ncand++] = (int32_t)i;
    /* In a section, the seats left free are the first ones (its front rows,
     * where every buyer's best pair is): the race is for them. */
    if (b->o.section && best_ncand > b->o.preload) {
        memmove(best_cand, best_cand + (best_ncand - b->o.preload),
                (size_t)b->o.preload * sizeof(*best_cand));
        best_ncand = b->o.preload;
        return 0;
    }
    for (long i = best_ncand - 1; i > 0; i--) {
        long j = (long)((unsigned)rand() % (unsigned)(i + 1));
        int32_t t = best_cand[i];
        best_cand[i] = best_cand[j];
        best_cand[j] = t;
    }
    if (best_ncand > b->o.preload)
        best_ncand = b->o.preload;
    return 0;
}

int bench_best(bench *b)
{
    long loaders = (b->o.preload + BEST_PRELOAD_BATCH - 1) / BEST_PRELOAD_BATCH;
    cpu_mark a, z;
    rcheck_result rr;
    char err[256];
    int audited = -1;

    if (b->o.count < 1 || b->o.count > BENCH_HOLD_SEATS_MAX) {
        fprintf(stderr, "seatmap-bench: --count must be 1 to %d\n", BENCH_HOLD_SEATS_MAX);
        return -1;
    }
    srand(42);
    best_nbuyers = b->o.buyers;
    if (bench_alloc(b, 0, b->o.buyers + loaders) || best_candidates(b))
        return -1;
    hist_init(&b->rtt_best);
    if (open_buyers(b, b->o.buyers + loaders, 60))
        return -1;
    for (long i = best_nbuyers; i < b->nb; i++)
        if (b->b[i].ready)
            preload_send(b, i);
    run_until(b, best_preloaded, NULL, 60);
    fprintf(stderr, "seatmap-bench: best: %ld seats held before the picks\n", best_cand_next);
    b->win_start = now_us() + (int64_t)(b->o.warmup * 1e6);
    b->win_end = b->win_start + (int64_t)(b->o.duration * 1e6);
    for (long i = 0; i < best_nbuyers; i++)
        if (b->b[i].ready)
            best_next(b, i);
    run_until(b, NULL, holds_tick, b->o.warmup);
    cpu_mark_now(b, &a);
    run_until(b, NULL, holds_tick, b->o.duration);
    cpu_mark_now(b, &z);
    b->stopping = 1;
    run_until(b, all_idle, NULL, 10);
    if (b->o.redis_port > 0) {
        audited = rcheck_audit(b->o.redis_host, b->o.redis_port, b->o.show, &rr, err, sizeof(err));
        if (audited)
            fprintf(stderr, "seatmap-bench: %s\n", err);
    }
    printf("result best label=%s buyers=%ld count=%ld section=%s preload=%ld servers=%d "
           "window_s=%.1f picks_per_s=%.0f",
           b->o.label, best_nbuyers, b->o.count, b->o.section ? b->o.section : "-", best_cand_next,
           b->o.port2 > 0 ? 2 : 1, b->o.duration, (double)b->best_ok_win / b->o.duration);
    print_hist("best_rtt_ms", &b->rtt_best, 1000.0);
    print_cpu(b, &a, &z);
    /* a best and its release are two requests */
    if (b->best_ok_win)
        printf(" server_us_per_pick_and_release=%.1f redis_us_per_pick_and_release=%.1f",
               a.srv >= 0 ? (double)(z.srv - a.srv) / (double)b->best_ok_win : -1.0,
               a.redis >= 0 ? (double)(z.redis - a.redis) / (double)b->best_ok_win : -1.0);
    printf(" best_ok=%llu retries=%llu retries_per_pick=%.3f seat_unavailable=%llu "
           "best_other=%llu client_doubles=%llu",
           (unsigned long long)b->best_ok, (unsigned long long)b->best_retries,
           b->best_ok ? (double)b->best_retries / (double)b->best_ok : 0,
           (unsigned long long)b->best_unavailable, (unsigned long long)b->best_other,
           (unsigned long long)b->client_doubles);
    if (audited == 0)
        printf(" redis_held=%ld redis_doubles=%ld\n", rr.held_seats, rcheck_doubles(&rr));
    else
        printf(" redis_doubles=unchecked\n");
    if (b->first_error[0])
        fprintf(stderr, "seatmap-bench: first error: %s\n", b->first_error);
    close_all(b);
    free(best_cand);
    if (b->best_ok == 0)
        return -1;
    if (b->client_doubles || (audited == 0 && rcheck_doubles(&rr)))
        return 2;
    return 0;
}
