/*
 * rconn.c - see rconn.h. hiredis owns the redisAsyncContext and frees it
 * after the disconnect callback (or a failed connect callback); c->ac is
 * cleared at those points.
 */
#include "rconn.h"

#include "rcluster.h"
#include "redis_uv.h"
#include "store.h"
#include "util.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define RCONN_TIMEOUT_MS 5000
#define RCONN_HEALTH_MS 500

struct rconn {
    uv_loop_t *loop;
    store_url url;
    char name[32];
    redisAsyncContext *ac;
    int up, failing, closing, open_handles;
    unsigned backoff_ms, pending;
    int64_t progress_mono, started_mono;
    uv_timer_t retry, health;
    rconn_ready_cb *on_ready;
    void *arg;
    rcluster *cluster; /* redis+cluster://: commands routed by key slot */
};

typedef struct rreq {
    rconn *c;
    rconn_cb *cb;
    void *arg;
} rreq;

static void start(rconn *c);

static void on_retry(uv_timer_t *t)
{
    start(t->data);
}

static void lost(rconn *c, const char *why)
{
    unsigned delay;
    int was_up = c->up;
    c->ac = NULL;
    c->up = 0;
    c->pending = 0;
    if (c->closing)
        return;
    if (!c->failing) {
        c->failing = 1;
        sm_warn("Redis %s connection to %s:%d %s: %s; retrying with backoff", c->name, c->url.host,
                c->url.port, was_up ? "lost" : "failed", why);
    }
    delay = store_backoff_delay(c->backoff_ms, (unsigned)rand());
    c->backoff_ms = store_backoff_next(c->backoff_ms);
    uv_timer_start(&c->retry, on_retry, delay, 0);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    lost(c, status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "error"));
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    rconn *c = cac->data;
    char db[16];
    if (status != REDIS_OK) {
        lost(c, cac->errstr[0] ? cac->errstr : "connect failed");
        return;
    }
    c->up = 1;
    c->backoff_ms = STORE_BACKOFF_MIN_MS;
    if (c->failing)
        sm_info("Redis %s connection to %s:%d is back", c->name, c->url.host, c->url.port);
    c->failing = 0;
    if (c->url.db) {
        const char *argv[2] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", c->url.db);
        rconn_command(c, NULL, NULL, 2, argv, NULL);
    }
    if (c->on_ready)
        c->on_ready(c->arg);
}

static void start(rconn *c)
{
    redisAsyncContext *ac;
    if (c->closing || c->ac)
        return;
    ac = redisAsyncConnect(c->url.host, c->url.port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        lost(c, "cannot connect");
        return;
    }
    ac->data = c;
    if (redis_uv_attach(ac, c->loop)) {
        redisAsyncFree(ac);
        lost(c, "cannot attach to the event loop");
        return;
    }
    c->ac = ac;
    c->pending = 0;
    c->started_mono = c->progress_mono = sm_mono_ms();
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* A connection attempt or a command stuck for 5 s: drop it (hiredis calls
 * the pending callbacks with NULL, then on_disconnect, which reconnects; a
 * context that never connected gets no on_disconnect in 0.14.1). */
static void on_health(uv_timer_t *t)
{
    rconn *c = t->data;
    int64_t now = sm_mono_ms();
    redisAsyncContext *ac = c->ac;
    int connected;
    if (!ac)
        return;
    if (!(c->up ? c->pending && now - c->progress_mono > RCONN_TIMEOUT_MS
                : now - c->started_mono > RCONN_TIMEOUT_MS))
        return;
    connected = (ac->c.flags & REDIS_CONNECTED) != 0;
    redisAsyncFree(ac);
    if (!connected && c->ac == ac)
        lost(c, "no answer for 5 s");
}

/* Cluster mode: "back" is every slot's master reachable again. */
static void on_cluster_state(void *arg)
{
    rconn *c = arg;
    int up = rcluster_up(c->cluster);
    if (up && !c->up && c->on_ready) {
        c->up = 1;
        c->on_ready(c->arg);
    }
    c->up = up;
}

static int cluster_create(rconn *c, const char *url)
{
    rcluster_opts o;
    memset(&o, 0, sizeof(o));
    o.name = c->name;
    o.on_state = on_cluster_state;
    o.arg = c;
    return rcluster_create(c->loop, url, &o, &c->cluster);
}

int rconn_create(uv_loop_t *loop, const char *url, const char *name, rconn_ready_cb *on_ready,
                 void *arg, rconn **out)
{
    rconn *c;
    store_url u;
    int rc;
    memset(&u, 0, sizeof(u));
    rc = rcluster_is_url(url) ? 0 : store_parse_url(url, &u);
    *out = NULL;
    if (rc)
        return rc;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->loop = loop;
    c->url = u;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->on_ready = on_ready;
    c->arg = arg;
    c->backoff_ms = STORE_BACKOFF_MIN_MS;
    uv_timer_init(loop, &c->retry);
    uv_timer_init(loop, &c->health);
    c->retry.data = c->health.data = c;
    if (rcluster_is_url(url)) {
        if (cluster_create(c, url)) {
            rconn_destroy(c);
            return STORE_URL_ECLUSTER;
        }
    } else {
        uv_timer_start(&c->health, on_health, RCONN_HEALTH_MS, RCONN_HEALTH_MS);
        start(c);
    }
    *out = c;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    rconn *c = h->data;
    if (--c->open_handles == 0)
        free(c);
}

void rconn_destroy(rconn *c)
{
    if (!c)
        return;
    c->closing = 1;
    if (c->ac)
        redisAsyncFree(c->ac);
    c->ac = NULL;
    rcluster_destroy(c->cluster); /* pending callbacks run with NULL */
    c->cluster = NULL;
    c->open_handles = 2;
    uv_close((uv_handle_t *)&c->retry, on_closed);
    uv_close((uv_handle_t *)&c->health, on_closed);
}

int rconn_up(const rconn *c)
{
    return c->up;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    rreq *q = privdata;
    rconn *c = ac->data;
    if (c->pending)
        c->pending--;
    c->progress_mono = sm_mono_ms();
    if (q->cb)
        q->cb(q->arg, r);
    free(q);
}

int rconn_command(rconn *c, rconn_cb *cb, void *arg, int argc, const char **argv,
                  const size_t *lens)
{
    rreq *q;
    if (c->cluster)
        return c->up ? rcluster_command(c->cluster, cb, arg, argc, argv, lens) : -1;
    if (!c->ac || !c->up)
        return -1;
    q = malloc(sizeof(*q));
    if (!q)
        return -1;
    q->c = c;
    q->cb = cb;
    q->arg = arg;
    if (redisAsyncCommandArgv(c->ac, on_reply, q, argc, argv, lens) != REDIS_OK) {
        free(q);
        return -1;
    }
    if (c->pending++ == 0)
        c->progress_mono = sm_mono_ms();
    return 0;
}
