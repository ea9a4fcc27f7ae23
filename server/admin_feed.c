/*
 * admin_feed.c - see admin_feed.h. Two timers: the heartbeat (always, one
 * SET and one ZADD a second on a Redis connection of its own) and the push
 * (only while someone subscribes: read the heartbeats of every process,
 * then build one frame from them, the show caches and the ledger, and queue
 * it to every subscriber).
 *
 * Redis keys (one hash tag, so one cluster slot): sm:{procs}:p:NAME, a
 * process's heartbeat JSON with a TTL; sm:{procs}:all, a sorted set of the
 * names by last beat (old names are trimmed by every process).
 *
 * Ownership: subscribers hold a reference on their client, dropped when
 * they leave. hiredis replies are read only inside their callbacks.
 */
#include "admin_feed.h"

#include "config.h"
#include "ledger_accounts.h"
#include "ledger_webhooks.h"
#include "rconn.h"
#include "webhook_json.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FEED_KEY_ALL "sm:{procs}:all"
#define FEED_KEY_PROC "sm:{procs}:p:"
#define FEED_MAX_PROCS 256
#define FEED_MAX_PROCS_TEXT "255" /* the last index of a ZREVRANGE of FEED_MAX_PROCS */
#define FEED_FRAME_MAX (8u * 1024 * 1024)
#define FEED_BEAT_MAX 64 * 1024

typedef struct subscriber {
    client *c; /* referenced */
    char session_hash[AUTH_HASH_HEX + 1];
    int64_t checked_ms;
} subscriber;

struct admin_feed {
    admin_feed_env env;
    char instance[300];
    char redis_url[512];
    rconn *conn;
    uv_timer_t beat_timer, push_timer;
    int pushing; /* push_timer running */
    int reading; /* a read of the heartbeats is in flight */
    int closing;
    int handles_open;
    subscriber subs[ADMIN_FEED_MAX_SUBSCRIBERS];
    size_t nsubs;
    cJSON *procs;    /* the processes' heartbeats as last read (an array), or NULL */
    int procs_fresh; /* procs came from Redis on this push */
    /* What the frame shows of the ledger, read off the loop (env.queue) once
     * a push: frames are built from the last complete read, and a read that
     * has not come back within FEED_DB_WAIT_MS shows the database down. */
    struct feed_read *snap; /* the last complete read, or NULL */
    int snap_busy;
    int64_t snap_started_ms;
    unsigned jobs_out; /* reads whose done has not run: f lives until 0 */
};

#define FEED_DB_WAIT_MS 2000

/* One webhook as the frame shows it. */
typedef struct feed_hook {
    ledger_webhook h;
    ledger_delivery_counts c;
    ledger_delivery *list; /* the newest ADMIN_FEED_DELIVERIES */
    size_t nd;
} feed_hook;

/* One read of the ledger for the frame and the subscribers' session checks:
 * inputs copied on the loop, outputs written on the thread. */
typedef struct feed_read {
    ledger_job job;
    admin_feed *f;
    int64_t now_ms;
    size_t nchk; /* sessions to check again */
    const client *chk_c[ADMIN_FEED_MAX_SUBSCRIBERS];
    char chk_hash[ADMIN_FEED_MAX_SUBSCRIBERS][AUTH_HASH_HEX + 1];
    int chk_rc[ADMIN_FEED_MAX_SUBSCRIBERS];
    char chk_role[ADMIN_FEED_MAX_SUBSCRIBERS][16];
    ledger_show *shows;
    size_t nshows;
    feed_hook *hooks;
    size_t nhooks;
    int db_up;
} feed_read;

static void feed_read_free(feed_read *d)
{
    size_t i;
    if (!d)
        return;
    for (i = 0; i < d->nhooks; i++) {
        ledger_delivery_list_free(d->hooks[i].list, d->hooks[i].nd);
        sodium_memzero(d->hooks[i].h.secret, sizeof(d->hooks[i].h.secret));
    }
    free(d->hooks);
    free(d->shows);
    free(d);
}

/* On the queue's thread: everything the frame needs from the ledger. */
static void feed_read_run(ledger *l, ledger_job *job)
{
    feed_read *d = job->data;
    ledger_webhook *hooks = NULL;
    ledger_user probe, u;
    size_t n = 0, i;

    /* a session that cannot exist: "not found" only when the database answers */
    d->db_up = ledger_session_lookup(l, "admin-feed-probe", 0, &probe) == LEDGER_ENOTFOUND;
    for (i = 0; i < d->nchk; i++) {
        d->chk_rc[i] = ledger_session_lookup(l, d->chk_hash[i], d->now_ms, &u);
        if (!d->chk_rc[i])
            snprintf(d->chk_role[i], sizeof(d->chk_role[i]), "%s", u.role);
    }
    if (ledger_show_list(l, &d->shows, &d->nshows) != 0) {
        d->shows = NULL;
        d->nshows = 0;
    }
    if (ledger_webhook_list(l, &hooks, &n) != 0 ||
        !(d->hooks = calloc(n ? n : 1, sizeof(*d->hooks)))) {
        free(hooks);
        return;
    }
    for (i = 0; i < n; i++) {
        feed_hook *fh = &d->hooks[i];
        fh->h = hooks[i];
        if (ledger_delivery_stats(l, fh->h.id, d->now_ms - 60000, &fh->c) != 0)
            memset(&fh->c, 0, sizeof(fh->c));
        if (ledger_delivery_list(l, fh->h.id, NULL, ADMIN_FEED_DELIVERIES, &fh->list, &fh->nd) !=
            0) {
            fh->list = NULL;
            fh->nd = 0;
        }
    }
    d->nhooks = n;
    sodium_memzero(hooks, n * sizeof(*hooks));
    free(hooks);
}

/* ---- the heartbeat ---- */

/* This process's heartbeat: {"name","pid","started_at","uptime_s",
 * "connections","watchers","at","webhooks_in_flight":{"ID":n}}. */
static void beat_json(admin_feed *f, sm_buf *b)
{
    int64_t now = sm_now_ms();
    int64_t ids[WEBHOOKS_MAX_IN_FLIGHT];
    unsigned counts[WEBHOOKS_MAX_IN_FLIGHT];
    size_t n = f->env.webhooks
                   ? webhooks_in_flight_each(f->env.webhooks, ids, counts, WEBHOOKS_MAX_IN_FLIGHT)
                   : 0,
           i;

    sm_buf_adds(b, "{\"name\":");
    sm_buf_add_json_str(b, f->instance);
    sm_buf_printf(b,
                  ",\"pid\":%ld,\"version\":\"" SM_VERSION "\",\"started_at\":%lld,"
                  "\"uptime_s\":%lld,\"connections\":%zu,\"watchers\":%zu,\"at\":%lld,"
                  "\"webhooks_in_flight\":{",
                  (long)getpid(), (long long)f->env.started_ms,
                  (long long)(now - f->env.started_ms) / 1000,
                  f->env.connections ? f->env.connections(f->env.arg) : 0,
                  shows_watcher_count(f->env.shows), (long long)now);
    for (i = 0; i < n; i++)
        sm_buf_printf(b, "%s\"%lld\":%u", i ? "," : "", (long long)ids[i], counts[i]);
    sm_buf_adds(b, "}}");
}

static void on_beat(uv_timer_t *t)
{
    admin_feed *f = t->data;
    char key[sizeof(FEED_KEY_PROC) + 300], ttl[24], now[24], old[24];
    sm_buf b;

    if (!rconn_up(f->conn))
        return;
    snprintf(key, sizeof(key), FEED_KEY_PROC "%s", f->instance);
    snprintf(ttl, sizeof(ttl), "%d", ADMIN_FEED_BEAT_TTL_MS);
    snprintf(now, sizeof(now), "%lld", (long long)sm_now_ms());
    snprintf(old, sizeof(old), "(%lld", (long long)sm_now_ms() - 10 * ADMIN_FEED_BEAT_TTL_MS);
    sm_buf_init(&b, FEED_BEAT_MAX);
    beat_json(f, &b);
    if (!sm_buf_failed(&b)) {
        const char *set[5] = {"SET", key, b.data, "PX", ttl};
        const char *zadd[4] = {"ZADD", FEED_KEY_ALL, now, f->instance};
        const char *trim[4] = {"ZREMRANGEBYSCORE", FEED_KEY_ALL, "-inf", old};
        rconn_command(f->conn, NULL, NULL, 5, set, NULL);
        rconn_command(f->conn, NULL, NULL, 4, zadd, NULL);
        rconn_command(f->conn, NULL, NULL, 4, trim, NULL);
    }
    sm_buf_free(&b);
}

/* ---- the frame ---- */

static void shows_part(admin_feed *f, sm_buf *b)
{
    const ledger_show *list = f->snap ? f->snap->shows : NULL;
    size_t n = f->snap ? f->snap->nshows : 0, i, k;

    sm_buf_adds(b, "\"shows\":[");
    for (i = 0; i < n; i++) {
        show *s = shows_get(f->env.shows, list[i].id);
        size_t seats, count[3] = {0, 0, 0}, nholds = 0;
        const hold **holds = NULL;
        const char *st;
        if (!s) { /* added since this process started: in a later frame once loaded */
            if (f->env.loader)
                show_load_prefetch(f->env.loader, list[i].id);
            continue;
        }
        seats = show_seat_count(s);
        st = show_loaded(s) ? show_states(s) : NULL;
        for (k = 0; st && k < seats; k++)
            count[st[k] == 'p' ? 1 : st[k] == 'b' ? 2 : 0]++;
        if (show_hold_list(s, &holds, &nholds) == 0)
            free(holds);
        sm_buf_adds(b, i ? ",{\"id\":" : "{\"id\":");
        sm_buf_add_json_str(b, show_id(s));
        sm_buf_adds(b, ",\"name\":");
        sm_buf_add_json_str(b, show_name(s));
        sm_buf_printf(b,
                      ",\"loaded\":%s,\"seats\":%zu,\"empty\":%zu,\"pending\":%zu,\"booked\":%zu,"
                      "\"holds\":%zu,\"watchers\":%zu,\"seq\":%lld}",
                      st ? "true" : "false", seats, count[0], count[1], count[2], nholds,
                      show_watcher_count(s), (long long)show_seq(s));
    }
    sm_buf_addc(b, ']');
}

/* The in-flight POSTs of one webhook over every process's heartbeat. */
static long long in_flight_of(admin_feed *f, int64_t id)
{
    const cJSON *p;
    char key[24];
    long long n = 0;
    snprintf(key, sizeof(key), "%lld", (long long)id);
    cJSON_ArrayForEach(p, f->procs)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(p, "webhooks_in_flight");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
        if (cJSON_IsNumber(v) && v->valuedouble > 0)
            n += (long long)v->valuedouble;
    }
    return n;
}

static void webhooks_part(admin_feed *f, sm_buf *b)
{
    size_t n = f->snap ? f->snap->nhooks : 0, i, k;

    sm_buf_adds(b, "\"webhooks\":[");
    for (i = 0; i < n; i++) {
        const feed_hook *fh = &f->snap->hooks[i];
        const ledger_webhook *h = &fh->h;
        const ledger_delivery_counts *c = &fh->c;
        sm_buf_printf(b, "%s{\"id\":%lld,\"url\":", i ? "," : "", (long long)h->id);
        sm_buf_add_json_str(b, h->url);
        sm_buf_adds(b, ",\"events\":");
        webhook_json_events(b, h->events);
        /* queue: waiting for an attempt (new or retry), in flight or not */
        sm_buf_printf(b,
                      ",\"queue\":%lld,\"in_flight\":%lld,\"delivered_per_min\":%lld,"
                      "\"pending\":%lld,\"failed\":%lld,\"dead\":%lld,\"ok\":%lld,"
                      "\"deliveries\":[",
                      (long long)(c->pending + c->failed), in_flight_of(f, h->id),
                      (long long)c->ok_since, (long long)c->pending, (long long)c->failed,
                      (long long)c->dead, (long long)c->ok);
        for (k = 0; k < fh->nd; k++) {
            sm_buf_adds(b, k ? "," : "");
            webhook_json_delivery(b, &fh->list[k]);
        }
        sm_buf_adds(b, "]}");
    }
    sm_buf_addc(b, ']');
}

static void processes_part(admin_feed *f, sm_buf *b)
{
    const cJSON *p;
    int first = 1;
    sm_buf_adds(b, "\"processes\":[");
    cJSON_ArrayForEach(p, f->procs)
    {
        char *text = cJSON_PrintUnformatted(p);
        if (!text)
            continue;
        sm_buf_adds(b, first ? "" : ",");
        sm_buf_adds(b, text);
        free(text);
        first = 0;
    }
    if (first) { /* Redis is down: this process's own view at least */
        beat_json(f, b);
    }
    sm_buf_addc(b, ']');
}

static int database_up(admin_feed *f)
{
    if (f->snap_busy && sm_mono_ms() - f->snap_started_ms >= FEED_DB_WAIT_MS)
        return 0; /* not answering */
    return f->snap && f->snap->db_up;
}

static frame *build_frame(admin_feed *f)
{
    sm_buf b;
    frame *fr = NULL;

    sm_buf_init(&b, FEED_FRAME_MAX);
    sm_buf_printf(&b, "{\"type\":\"admin\",\"at\":%lld,\"process\":", (long long)sm_now_ms());
    sm_buf_add_json_str(&b, f->instance);
    sm_buf_printf(&b, ",\"health\":{\"redis\":\"%s\",\"database\":\"%s\",\"queue\":\"%s\"},",
                  store_up(f->env.store) ? "up" : "down", database_up(f) ? "up" : "down",
                  rconn_up(f->conn) ? "up" : "down");
    sm_buf_printf(&b, "\"queue_depth\":%llu,",
                  f->env.webhooks ? (unsigned long long)webhooks_queue_depth(f->env.webhooks)
                                  : 0ULL);
    shows_part(f, &b);
    sm_buf_addc(&b, ',');
    processes_part(f, &b);
    sm_buf_addc(&b, ',');
    webhooks_part(f, &b);
    sm_buf_addc(&b, '}');
    if (!sm_buf_failed(&b))
        fr = frame_new(b.data, b.len);
    else
        sm_warn("admin dashboard: the update is over %u bytes; not sent", FEED_FRAME_MAX);
    sm_buf_free(&b);
    return fr;
}

/* ---- subscribers ---- */

static void drop(admin_feed *f, size_t i)
{
    client_unref(f->subs[i].c);
    f->subs[i] = f->subs[--f->nsubs];
    if (f->nsubs == 0 && f->pushing && !f->closing) {
        uv_timer_stop(&f->push_timer);
        f->pushing = 0;
    }
}

/* Subscribers that have left are dropped. */
static void drop_gone(admin_feed *f)
{
    size_t i = 0;
    while (i < f->nsubs) {
        if (!client_connected(f->subs[i].c))
            drop(f, i);
        else
            i++;
    }
}

/* A subscriber whose session ended or lost the admin role gets told and is
 * dropped; a database that does not answer changes nothing. d is the read
 * that checked them again. */
static void apply_checks(admin_feed *f, const feed_read *d)
{
    size_t k, i;
    for (k = 0; k < d->nchk; k++) {
        if (d->chk_rc[k] != LEDGER_ENOTFOUND &&
            (d->chk_rc[k] != 0 || strcmp(d->chk_role[k], "admin") == 0))
            continue;
        for (i = 0; i < f->nsubs; i++) {
            subscriber *s = &f->subs[i];
            if (s->c == d->chk_c[k] && strcmp(s->session_hash, d->chk_hash[k]) == 0) {
                static const char end[] = "{\"type\":\"admin_end\",\"reason\":\"your session has "
                                          "ended or is no longer an administrator's\"}";
                client_send_text(s->c, end, sizeof(end) - 1);
                drop(f, i);
                break;
            }
        }
    }
}

static void maybe_free(admin_feed *f);
static void read_beats(admin_feed *f);

static void feed_read_done(ledger_job *job)
{
    feed_read *d = job->data;
    admin_feed *f = d->f;
    int first;

    f->jobs_out--;
    if (f->closing) {
        feed_read_free(d);
        maybe_free(f);
        return;
    }
    f->snap_busy = 0;
    apply_checks(f, d);
    first = !f->snap;
    feed_read_free(f->snap);
    f->snap = d;
    if (first && f->nsubs)
        read_beats(f); /* the first frame, held back for this read */
}

/* Starts a read of the ledger for the next frames, checking again the
 * sessions that are due (one read at a time). */
static void read_ledger(admin_feed *f, int64_t now)
{
    feed_read *d;
    size_t i;

    if (f->snap_busy || !(d = calloc(1, sizeof(*d))))
        return;
    d->f = f;
    d->now_ms = sm_now_ms();
    for (i = 0; i < f->nsubs; i++) {
        subscriber *s = &f->subs[i];
        if (now - s->checked_ms < ADMIN_FEED_RECHECK_MS)
            continue;
        s->checked_ms = now;
        d->chk_c[d->nchk] = s->c;
        snprintf(d->chk_hash[d->nchk], sizeof(d->chk_hash[0]), "%s", s->session_hash);
        d->nchk++;
    }
    f->snap_busy = 1;
    f->snap_started_ms = now;
    f->jobs_out++;
    d->job.data = d;
    ledger_queue_call(f->env.queue, f->env.ledger, &d->job, feed_read_run, feed_read_done);
}

static void send_all(admin_feed *f)
{
    frame *fr;
    size_t i;
    if (!f->nsubs)
        return;
    fr = build_frame(f);
    if (!fr)
        return;
    for (i = 0; i < f->nsubs; i++)
        client_send(f->subs[i].c, fr);
    frame_unref(fr);
}

/* [name, ...] from ZRANGE, then MGET of their heartbeats: the process list. */
static void on_beats(void *arg, redisReply *r)
{
    admin_feed *f = arg;
    size_t i;
    f->reading = 0;
    if (f->closing)
        return;
    cJSON_Delete(f->procs);
    f->procs = NULL;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        f->procs = cJSON_CreateArray();
        for (i = 0; f->procs && i < r->elements; i++) {
            const redisReply *e = r->element[i];
            cJSON *p = e->type == REDIS_REPLY_STRING ? cJSON_Parse(e->str) : NULL;
            if (cJSON_IsObject(p))
                cJSON_AddItemToArray(f->procs, p);
            else
                cJSON_Delete(p); /* expired: that process stopped beating */
        }
    }
    send_all(f);
}

static void on_names(void *arg, redisReply *r)
{
    admin_feed *f = arg;
    const char *argv[1 + FEED_MAX_PROCS];
    char keys[FEED_MAX_PROCS][sizeof(FEED_KEY_PROC) + 300];
    size_t i, n = 0;

    if (f->closing) {
        f->reading = 0;
        return;
    }
    argv[n++] = "MGET";
    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && i < FEED_MAX_PROCS; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        snprintf(keys[n - 1], sizeof(keys[0]), FEED_KEY_PROC "%s", r->element[i]->str);
        argv[n] = keys[n - 1];
        n++;
    }
    if (n == 1 || rconn_command(f->conn, on_beats, f, (int)n, argv, NULL))
        on_beats(f, NULL);
}

/* The processes' heartbeats from Redis, then a frame to every subscriber. */
static void read_beats(admin_feed *f)
{
    /* The newest names; whether each is alive is its key's TTL, so clocks of
     * other machines that disagree with ours change nothing. */
    const char *argv[4] = {"ZREVRANGE", FEED_KEY_ALL, "0", FEED_MAX_PROCS_TEXT};

    if (f->reading)
        return;
    f->reading = 1;
    if (!rconn_up(f->conn) || rconn_command(f->conn, on_names, f, 4, argv, NULL))
        on_beats(f, NULL);
}

static void on_push(uv_timer_t *t)
{
    admin_feed *f = t->data;

    drop_gone(f);
    if (!f->nsubs)
        return;
    read_ledger(f, sm_mono_ms());
    if (f->snap) /* else the first read's answer sends the first frame */
        read_beats(f);
}

int admin_feed_subscribe(admin_feed *f, client *c, const char *session_hash)
{
    size_t i;
    subscriber *s;
    for (i = 0; i < f->nsubs; i++)
        if (f->subs[i].c == c)
            return 1;
    if (f->nsubs >= ADMIN_FEED_MAX_SUBSCRIBERS || f->closing)
        return -1;
    s = &f->subs[f->nsubs++];
    s->c = c;
    client_ref(c);
    snprintf(s->session_hash, sizeof(s->session_hash), "%s", session_hash);
    s->checked_ms = sm_mono_ms();
    if (!f->pushing) {
        uv_timer_start(&f->push_timer, on_push, ADMIN_FEED_PUSH_MS, ADMIN_FEED_PUSH_MS);
        f->pushing = 1;
    }
    on_push(&f->push_timer); /* the first frame at once */
    return 0;
}

void admin_feed_unsubscribe(admin_feed *f, client *c)
{
    size_t i;
    for (i = 0; f && i < f->nsubs; i++)
        if (f->subs[i].c == c) {
            drop(f, i);
            return;
        }
}

size_t admin_feed_subscribers(const admin_feed *f)
{
    return f ? f->nsubs : 0;
}

/* ---- life ---- */

static void on_connected(void *arg)
{
    on_beat(&((admin_feed *)arg)->beat_timer);
}

int admin_feed_create(const admin_feed_env *env, admin_feed **out)
{
    admin_feed *f = calloc(1, sizeof(*f));
    *out = NULL;
    if (!f)
        return -1;
    f->env = *env;
    snprintf(f->instance, sizeof(f->instance), "%s", env->instance);
    snprintf(f->redis_url, sizeof(f->redis_url), "%s", env->redis_url);
    f->env.instance = f->instance;
    f->env.redis_url = f->redis_url;
    if (rconn_create(env->loop, f->redis_url, "admin", on_connected, f, &f->conn)) {
        free(f);
        return -1;
    }
    uv_timer_init(env->loop, &f->beat_timer);
    uv_timer_init(env->loop, &f->push_timer);
    f->beat_timer.data = f->push_timer.data = f;
    uv_timer_start(&f->beat_timer, on_beat, ADMIN_FEED_BEAT_MS, ADMIN_FEED_BEAT_MS);
    *out = f;
    return 0;
}

static void maybe_free(admin_feed *f)
{
    if (f->handles_open == 0 && f->jobs_out == 0) {
        cJSON_Delete(f->procs);
        feed_read_free(f->snap);
        free(f);
    }
}

static void on_closed(uv_handle_t *h)
{
    admin_feed *f = h->data;
    f->handles_open--;
    maybe_free(f);
}

void admin_feed_destroy(admin_feed *f)
{
    if (!f)
        return;
    f->closing = 1;
    while (f->nsubs)
        drop(f, 0);
    f->handles_open = 2;
    rconn_destroy(f->conn); /* pending callbacks run now, with NULL */
    uv_close((uv_handle_t *)&f->beat_timer, on_closed);
    uv_close((uv_handle_t *)&f->push_timer, on_closed);
}
