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
};

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
    ledger_show *list = NULL;
    size_t n = 0, i, k;

    sm_buf_adds(b, "\"shows\":[");
    if (ledger_show_list(f->env.ledger, &list, &n) != 0)
        n = 0;
    for (i = 0; i < n; i++) {
        show *s = shows_get(f->env.shows, list[i].id);
        size_t seats, count[3] = {0, 0, 0}, nholds = 0;
        const hold **holds = NULL;
        const char *st;
        if (!s)
            continue;
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
    free(list);
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
    ledger_webhook *hooks = NULL;
    size_t n = 0, i, k;
    int64_t now = sm_now_ms();

    sm_buf_adds(b, "\"webhooks\":[");
    if (ledger_webhook_list(f->env.ledger, &hooks, &n) != 0)
        n = 0;
    for (i = 0; i < n; i++) {
        const ledger_webhook *h = &hooks[i];
        ledger_delivery_counts c;
        ledger_delivery *list = NULL;
        size_t nd = 0;
        if (ledger_delivery_stats(f->env.ledger, h->id, now - 60000, &c) != 0)
            memset(&c, 0, sizeof(c));
        sm_buf_printf(b, "%s{\"id\":%lld,\"url\":", i ? "," : "", (long long)h->id);
        sm_buf_add_json_str(b, h->url);
        sm_buf_adds(b, ",\"events\":");
        webhook_json_events(b, h->events);
        /* queue: waiting for an attempt (new or retry), in flight or not */
        sm_buf_printf(b,
                      ",\"queue\":%lld,\"in_flight\":%lld,\"delivered_per_min\":%lld,"
                      "\"pending\":%lld,\"failed\":%lld,\"dead\":%lld,\"ok\":%lld,"
                      "\"deliveries\":[",
                      (long long)(c.pending + c.failed), in_flight_of(f, h->id),
                      (long long)c.ok_since, (long long)c.pending, (long long)c.failed,
                      (long long)c.dead, (long long)c.ok);
        if (ledger_delivery_list(f->env.ledger, h->id, NULL, ADMIN_FEED_DELIVERIES, &list, &nd) !=
            0)
            nd = 0;
        for (k = 0; k < nd; k++) {
            sm_buf_adds(b, k ? "," : "");
            webhook_json_delivery(b, &list[k]);
        }
        ledger_delivery_list_free(list, nd);
        sm_buf_adds(b, "]}");
    }
    free(hooks);
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
    ledger_user probe;
    /* a session that cannot exist: "not found" only when the database answers */
    return ledger_session_lookup(f->env.ledger, "admin-feed-probe", 0, &probe) == LEDGER_ENOTFOUND;
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

/* A subscriber whose session ended or lost the admin role gets told and is
 * dropped; a database that does not answer changes nothing. */
static void recheck(admin_feed *f, int64_t now)
{
    size_t i = 0;
    while (i < f->nsubs) {
        subscriber *s = &f->subs[i];
        ledger_user u;
        int rc;
        if (!client_connected(s->c)) {
            drop(f, i);
            continue;
        }
        if (now - s->checked_ms < ADMIN_FEED_RECHECK_MS) {
            i++;
            continue;
        }
        s->checked_ms = now;
        rc = ledger_session_lookup(f->env.ledger, s->session_hash, sm_now_ms(), &u);
        if (rc == LEDGER_ENOTFOUND || (rc == 0 && strcmp(u.role, "admin") != 0)) {
            static const char end[] = "{\"type\":\"admin_end\",\"reason\":\"your session has "
                                      "ended or is no longer an administrator's\"}";
            client_send_text(s->c, end, sizeof(end) - 1);
            drop(f, i);
            continue;
        }
        i++;
    }
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

static void on_push(uv_timer_t *t)
{
    admin_feed *f = t->data;
    /* The newest names; whether each is alive is its key's TTL, so clocks of
     * other machines that disagree with ours change nothing. */
    const char *argv[4] = {"ZREVRANGE", FEED_KEY_ALL, "0", FEED_MAX_PROCS_TEXT};

    recheck(f, sm_mono_ms());
    if (!f->nsubs || f->reading)
        return;
    f->reading = 1;
    if (!rconn_up(f->conn) || rconn_command(f->conn, on_names, f, 4, argv, NULL))
        on_beats(f, NULL);
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

static void on_closed(uv_handle_t *h)
{
    admin_feed *f = h->data;
    if (--f->handles_open == 0) {
        cJSON_Delete(f->procs);
        free(f);
    }
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
