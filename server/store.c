/*
 * store.c - the Redis connections behind store.h: connect, reconnect with
 * backoff, load scripts, subscribe, keepalive, and the script runner.
 *
 * Ownership: hiredis owns each redisAsyncContext and frees it after the
 * disconnect callback (or after a failed connect callback); conn.ac is
 * cleared at those points and never used after. Replies belong to hiredis
 * and are freed after our reply callback returns.
 */
#include "store.h"

#include "metrics.h"

#include "embedded.h"
#include "failpoint.h"
#include "rcluster.h"
#include "redis_uv.h"
#include "util.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAX_SCRIPTS 16
#define STORE_HEALTH_MS 250

typedef struct conn {
    store *st;
    redisAsyncContext *ac;
    const char *name; /* "commands" or "subscriber", for logs */
    int up;           /* connected and set up (scripts loaded / subscribed) */
    int failing;      /* an outage is being reported: log it once */
    unsigned backoff_ms;
    uv_timer_t retry;
    unsigned pending;      /* commands sent, not yet answered */
    int64_t progress_mono; /* last reply, or when pending went from 0 to 1 */
    int64_t started_mono;  /* when this connection attempt began */
} conn;

typedef struct script {
    struct store *owner;
    const char *name;
    char *text; /* lib.lua + NAME.lua, owned */
    char sha[41];
} script;

struct store {
    uv_loop_t *loop;
    char host[STORE_HOST_MAX + 1];
    int port;
    int db;
    store_events ev;
    conn cmd, sub;
    uv_timer_t health;
    script scripts[STORE_MAX_SCRIPTS];
    int nscripts;
    int loading; /* SCRIPT LOADs outstanding */
    char keyevent_channel[64];
    char ping_channel[64];
    int64_t last_ping_rx;
    int64_t last_ping_tx;
    int ready_reported;
    int closing;
    /* Cluster mode (redis+cluster://): commands and subscriptions go through
     * rcluster instead of cmd and sub; scripts are loaded once to learn
     * their SHAs, and again by rcluster on a node that answers NOSCRIPT. */
    rcluster *cluster;
    int cluster_loaded; /* scripts whose SHA is known */
    int cluster_loading;
    int handles_open;
};

typedef struct request {
    store *st;
    store_cb *cb;
    void *arg;
    const char *script; /* for the metrics: a script's name (static), or NULL */
    double sent;        /* metrics_now() when sent */
} request;

static void conn_start(conn *c);

/* ---- pure steps (store.h) ---- */

const char *store_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "";
    case STORE_URL_ESCHEME:
        return "only redis:// and redis+cluster:// URLs are supported";
    case STORE_URL_EHOST:
        return "the host is empty, too long, or has characters other than letters, digits, "
               "'.', '-' and '_'";
    case STORE_URL_EPORT:
        return "the port is not a number from 1 to 65535";
    case STORE_URL_EDB:
        return "the database is not a number from 0 to 2147483647";
    case STORE_ENOSCRIPT:
        return "no such script";
    case STORE_URL_ECLUSTER:
        return "a redis+cluster:// URL needs HOST:PORT seeds separated by commas (at most 16, "
               "no database number)";
    default:
        return "out of memory, or the embedded scripts are missing";
    }
}

static int is_host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_';
}

/* Decimal digits only, [p, end), at most max: 0 and *out, or -1. Unlike
 * atoi, no sign, no spaces, no trailing junk, no overflow. */
static int parse_decimal(const char *p, const char *end, long max, long *out)
{
    long v = 0;
    if (p == end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

int store_parse_url(const char *url, store_url *out)
{
    const char *p, *host_end, *port_end, *end;
    long port = STORE_DEFAULT_PORT, db = 0;
    size_t n;

    if (!url)
        return STORE_URL_EHOST;
    p = strncmp(url, "redis://", 8) == 0 ? url + 8 : url;
    if (strstr(p, "://"))
        return STORE_URL_ESCHEME;
    end = p + strlen(p);
    for (host_end = p; is_host_char(*host_end); host_end++)
        ;
    n = (size_t)(host_end - p);
    if (n == 0 || n > STORE_HOST_MAX || (*host_end && *host_end != ':' && *host_end != '/'))
        return STORE_URL_EHOST;
    port_end = strchr(host_end, '/');
    if (!port_end)
        port_end = end;
    if (*host_end == ':' && parse_decimal(host_end + 1, port_end, 65535, &port))
        return STORE_URL_EPORT;
    if (port < 1)
        return STORE_URL_EPORT;
    if (*port_end == '/' && port_end[1] && parse_decimal(port_end + 1, end, STORE_DB_MAX, &db))
        return STORE_URL_EDB;
    memcpy(out->host, p, n);
    out->host[n] = '\0';
    out->port = (int)port;
    out->db = (int)db;
    return 0;
}

int store_check_url(const char *url)
{
    rcluster_addr seeds[RCLUSTER_MAX_SEEDS];
    store_url u;
    int n;
    if (rcluster_is_url(url))
        return rcluster_parse_url(url, seeds, RCLUSTER_MAX_SEEDS, &n) ? STORE_URL_ECLUSTER : 0;
    return store_parse_url(url, &u);
}

unsigned store_backoff_next(unsigned backoff_ms)
{
    return backoff_ms * 2 > STORE_BACKOFF_MAX_MS ? STORE_BACKOFF_MAX_MS : backoff_ms * 2;
}

unsigned store_backoff_delay(unsigned backoff_ms, unsigned rnd)
{
    return backoff_ms + rnd % (backoff_ms / 4 + 1);
}

int store_show_of_key(const char *key, size_t len, char *out, size_t outlen)
{
    const char *open, *close;
    size_t n;
    if (len < 6 || strncmp(key, "sm:{", 4) != 0)
        return -1;
    open = key + 4;
    close = memchr(open, '}', len - 4);
    if (!close)
        return -1;
    n = (size_t)(close - open);
    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, open, n);
    out[n] = '\0';
    return 0;
}

const char *store_error_status(const char *err)
{
    return strncmp(err, "NOSCRIPT", 8) == 0 || strncmp(err, "LOADING", 7) == 0 ||
                   strncmp(err, "BUSY", 4) == 0 || strncmp(err, "OOM", 3) == 0 ||
                   strncmp(err, "READONLY", 8) == 0
               ? "unavailable"
               : "internal";
}

/* ---- connection state ---- */

int store_up(const store *st)
{
    /* A cluster with one master missing still answers for the shows of
     * the others: commands for the missing one's shows wait for a failover
     * (RCLUSTER_RETRY_MS), then answer unavailable. */
    if (st->cluster)
        return rcluster_routable(st->cluster) && st->cluster_loaded == st->nscripts;
    return st->cmd.up;
}

int store_ready(const store *st)
{
    if (st->cluster)
        return rcluster_ready(st->cluster) && st->cluster_loaded == st->nscripts;
    return st->cmd.up && st->sub.up;
}

static void check_ready(store *st)
{
    int ready = store_ready(st);
    if (ready && !st->ready_reported) {
        st->ready_reported = 1;
        if (st->cluster)
            sm_info("Redis Cluster is ready");
        else
            sm_info("Redis at %s:%d is ready", st->host, st->port);
        if (st->ev.on_ready)
            st->ev.on_ready(st->ev.arg);
    } else if (!ready && st->ready_reported) {
        st->ready_reported = 0;
        if (st->ev.on_down)
            st->ev.on_down(st->ev.arg);
    }
}

static void on_retry(uv_timer_t *t)
{
    conn_start(t->data);
}

static void schedule_retry(conn *c)
{
    unsigned delay;
    if (c->st->closing)
        return;
    delay = store_backoff_delay(c->backoff_ms, (unsigned)rand());
    c->backoff_ms = store_backoff_next(c->backoff_ms);
    uv_timer_start(&c->retry, on_retry, delay, 0);
}

static void conn_lost(conn *c, const char *why)
{
    int was_up = c->up;
    if (!c->st->closing)
        metrics_inc(M_REDIS_DISCONNECTS, c->name);
    c->ac = NULL;
    c->up = 0;
    c->pending = 0;
    if (!c->failing) {
        c->failing = 1;
        if (!c->st->closing)
            sm_warn("Redis %s connection to %s:%d %s: %s; retrying with backoff", c->name,
                    c->st->host, c->st->port, was_up ? "lost" : "failed", why);
    }
    check_ready(c->st);
    schedule_retry(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    conn *c = ac->data;
    conn_lost(c, status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "error"));
}

static void conn_up(conn *c)
{
    c->up = 1;
    c->backoff_ms = STORE_BACKOFF_MIN_MS;
    if (c->failing)
        metrics_inc(M_REDIS_RECONNECTS, c->name);
    if (c->failing)
        sm_info("Redis %s connection to %s:%d is back", c->name, c->st->host, c->st->port);
    c->failing = 0;
    check_ready(c->st);
}

/* ---- sending ---- */

static void on_reply(redisAsyncContext *ac, void *r, void *privdata);

static int send_argv(conn *c, int argc, const char **argv, const size_t *lens, request *req)
{
    if (!c->ac)
        return -1;
    if (redisAsyncCommandArgv(c->ac, on_reply, req, argc, argv, lens) != REDIS_OK)
        return -1;
    if (c->pending++ == 0)
        c->progress_mono = sm_mono_ms();
    return 0;
}

static request *new_request(store *st, store_cb *cb, void *arg)
{
    request *req = calloc(1, sizeof(*req));
    if (req) {
        req->st = st;
        req->cb = cb;
        req->arg = arg;
    }
    return req;
}

/* A script's own answer {status, detail, msgs...} into res; res->msgs is
 * malloc'd (the caller frees it), its strings belong to reply. */
static void read_script_answer(const redisReply *reply, store_result *res)
{
    size_t i;
    res->status = reply->element[0]->str;
    if (reply->element[1]->type == REDIS_REPLY_STRING)
        res->detail = reply->element[1]->str;
    if (reply->elements > 2) {
        res->msgs = malloc(sizeof(*res->msgs) * (reply->elements - 2));
        if (!res->msgs)
            res->nmore = reply->elements - 2;
    }
    for (i = 2; res->msgs && i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            res->msgs[res->nmsgs++] = reply->element[i]->str;
}

void store_read_reply(const struct redisReply *reply, store_result *res)
{
    memset(res, 0, sizeof(*res));
    res->detail = "";
    if (!reply) {
        res->status = "unavailable";
    } else if (reply->type == REDIS_REPLY_ERROR) {
        sm_warn("Redis script error: %s", reply->str);
        res->status = store_error_status(reply->str);
    } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
               reply->element[0]->type != REDIS_REPLY_STRING) {
        res->status = "internal";
    } else {
        read_script_answer(reply, res);
    }
    res->outcome = outcome_parse(res->status);
}

static void deliver(request *req, redisReply *reply)
{
    store_result res;

    /* store.reply error: the script ran (or not) but its reply is lost */
    store_read_reply(SM_FAILPOINT("store.reply") ? NULL : reply, &res);
    req->cb(req->arg, &res);
    free((void *)res.msgs);
}

static void reload_scripts(store *st);

/* The answer to a request (NULL: none): metrics, the caller, then req is
 * freed. */
static void complete(request *req, redisReply *reply)
{
    if (req->script) {
        if (reply)
            metrics_observe(M_REDIS_SECONDS, req->script, metrics_now() - req->sent);
        if (!reply || reply->type == REDIS_REPLY_ERROR)
            metrics_inc(M_REDIS_ERRORS, req->script);
    }
    if (req->cb)
        deliver(req, reply);
    free(req);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    conn *c = ac->data;
    request *req = privdata;
    redisReply *reply = r;

    if (c->pending)
        c->pending--;
    c->progress_mono = sm_mono_ms();
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0 &&
        c->up && !c->st->loading)
        reload_scripts(c->st); /* someone ran SCRIPT FLUSH */
    if (req)
        complete(req, reply);
}

/* ---- the command connection: scripts and keyspace events ---- */

/* Keep whatever else is enabled; add keyevent (E) for expired (x). flags
 * has room for two more characters. */
static void add_expired_events(char *flags)
{
    size_t n = strlen(flags);
    if (!strchr(flags, 'E'))
        flags[n++] = 'E';
    if (!strchr(flags, 'x') && !strchr(flags, 'A'))
        flags[n++] = 'x';
    flags[n] = '\0';
}

static void on_config_get(redisAsyncContext *ac, void *r, void *privdata)
{
    conn *c = ac->data;
    redisReply *reply = r;
    char flags[64] = "";
    const char *argv[4] = {"CONFIG", "SET", "notify-keyspace-events", flags};

    if (c->pending)
        c->pending--;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_STRING)
        snprintf(flags, sizeof(flags) - 3, "%s", reply->element[1]->str);
    add_expired_events(flags);
    if (reply->type == REDIS_REPLY_ERROR) {
        sm_warn("cannot read notify-keyspace-events (%s): expiry relies on the sweep", reply->str);
        return;
    }
    send_argv(c, 4, argv, NULL, NULL);
}

/* Seat keys carry TTLs: an eviction policy that may evict them (volatile-*,
 * allkeys-*) could let a held seat be held twice. Say so once. */
static void on_policy(redisAsyncContext *ac, void *r, void *privdata)
{
    conn *c = ac->data;
    redisReply *reply = r;
    if (c->pending)
        c->pending--;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[1]->str, "noeviction") != 0)
        sm_warn("Redis maxmemory-policy is %s: under memory pressure it may evict held seats; "
                "set it to noeviction",
                reply->element[1]->str);
}

/* The scripts are loaded on a new command connection: read the settings
 * the store depends on (their replies finish the set-up), and it is up. */
static void check_settings(redisAsyncContext *ac, conn *c)
{
    const char *get[3] = {"CONFIG", "GET", "notify-keyspace-events"};
    const char *policy[3] = {"CONFIG", "GET", "maxmemory-policy"};
    if (redisAsyncCommandArgv(ac, on_config_get, NULL, 3, get, NULL) == REDIS_OK)
        c->pending++;
    if (redisAsyncCommandArgv(ac, on_policy, NULL, 3, policy, NULL) == REDIS_OK)
        c->pending++;
    conn_up(c);
}

static void on_script_loaded(redisAsyncContext *ac, void *r, void *privdata)
{
    conn *c = ac->data;
    store *st = c->st;
    script *s = privdata;
    redisReply *reply = r;

    if (c->pending)
        c->pending--;
    c->progress_mono = sm_mono_ms();
    if (!reply)
        return; /* disconnected: on_disconnect handles it */
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        sm_error("Redis refused script %s: %s", s->name,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        redisAsyncDisconnect(ac);
        return;
    }
    memcpy(s->sha, reply->str, 40);
    s->sha[40] = '\0';
    if (--st->loading > 0)
        return;
    if (!c->up)
        check_settings(ac, c);
}

static void reload_scripts(store *st)
{
    int i;
    for (i = 0; i < st->nscripts; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", st->scripts[i].text};
        if (redisAsyncCommandArgv(st->cmd.ac, on_script_loaded, &st->scripts[i], 3, argv, NULL) ==
            REDIS_OK) {
            st->loading++;
            st->cmd.pending++;
        }
    }
}

/* ---- the subscriber ---- */

/* A pmessage: an expired key of a show, or a show's transition. */
static void on_pattern_message(store *st, const redisReply *chan, const redisReply *payload)
{
    char show[SM_SHOW_ID_MAX + 1];

    if (chan->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(chan->str, st->keyevent_channel) == 0) {
        if (store_show_of_key(payload->str, payload->len, show, sizeof(show)) == 0 &&
            st->ev.on_expired)
            st->ev.on_expired(st->ev.arg, show);
    } else if (store_show_of_key(chan->str, chan->len, show, sizeof(show)) == 0 &&
               st->ev.on_message) {
        st->ev.on_message(st->ev.arg, show, payload->str, payload->len);
    }
}

/* A message on a subscriber (ours or, in cluster mode, a master's). */
static void on_pubsub(store *st, const redisReply *reply)
{
    const char *kind = rcluster_pubsub_kind(reply);
    if (kind && reply->elements >= 4 && strcmp(kind, "pmessage") == 0)
        on_pattern_message(st, reply->element[2], reply->element[3]);
}

static void on_sub_message(redisAsyncContext *ac, void *r, void *privdata)
{
    conn *c = ac->data;
    store *st = c->st;
    redisReply *reply = r;
    const char *kind = rcluster_pubsub_kind(reply);

    if (!kind)
        return;
    if (strcmp(kind, "psubscribe") == 0 || strcmp(kind, "subscribe") == 0) {
        /* The last of the three subscriptions is confirmed: nothing can be
         * missed from now on, so caches may be rebuilt. */
        if (reply->element[2]->type == REDIS_REPLY_INTEGER && reply->element[2]->integer == 3 &&
            !c->up) {
            st->last_ping_rx = sm_mono_ms();
            conn_up(c);
        }
        return;
    }
    if (strcmp(kind, "message") == 0) {
        st->last_ping_rx = sm_mono_ms();
        return;
    }
    on_pubsub(st, reply);
}

/* Three subscriptions: every show's events, expired keys, our keepalive.
 * The third confirmation brings the subscriber up (on_sub_message). */
static void subscribe(redisAsyncContext *ac, store *st)
{
    const char *ps[4] = {"PSUBSCRIBE", "sm:{*}:ev", st->keyevent_channel, NULL};
    const char *sub[2] = {"SUBSCRIBE", st->ping_channel};
    redisAsyncCommandArgv(ac, on_sub_message, NULL, 3, ps, NULL);
    redisAsyncCommandArgv(ac, on_sub_message, NULL, 2, sub, NULL);
}

/* ---- connecting ---- */

static void on_connect(const redisAsyncContext *cac, int status)
{
    conn *c = cac->data;
    redisAsyncContext *ac = c->ac; /* the same context, without const */
    store *st = c->st;
    char db[16];

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        conn_lost(c, cac->errstr[0] ? cac->errstr : "connect failed");
        return;
    }
    if (st->db) {
        const char *argv[2] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", st->db);
        redisAsyncCommandArgv(ac, NULL, NULL, 2, argv, NULL);
    }
    if (c == &st->cmd) {
        st->loading = 0;
        c->progress_mono = sm_mono_ms();
        reload_scripts(st);
    } else {
        subscribe(ac, st);
    }
}

static void conn_start(conn *c)
{
    store *st = c->st;
    redisAsyncContext *ac;

    if (st->closing || c->ac)
        return;
    ac = redisAsyncConnect(st->host, st->port);
    if (!ac) {
        conn_lost(c, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        conn_lost(c, why);
        return;
    }
    ac->data = c;
    if (redis_uv_attach(ac, st->loop)) {
        redisAsyncFree(ac);
        conn_lost(c, "cannot attach to the event loop");
        return;
    }
    c->ac = ac;
    c->started_mono = c->progress_mono = sm_mono_ms();
    c->pending = 0;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* Drops a connection that stopped answering; hiredis calls the pending
 * callbacks with no reply, then on_disconnect, which reconnects. A context
 * that never connected gets no on_disconnect (hiredis 0.14.1): then the
 * retry is scheduled here. */
static void conn_kill(conn *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    int connected;
    if (!ac)
        return;
    connected = (ac->c.flags & REDIS_CONNECTED) != 0;
    if (!c->failing) /* once per outage */
        sm_warn("Redis %s connection to %s:%d: %s; reconnecting", c->name, c->st->host, c->st->port,
                why);
    c->failing = 1;
    redisAsyncFree(ac);
    if (!connected && c->ac == ac)
        conn_lost(c, why);
}

/* hiredis 0.14.1 has no connect timeout: an address that drops packets
 * would keep an attempt open for minutes. */
static void check_connect_timeout(conn *c, int64_t now)
{
    if (c->ac && !c->up && now - c->started_mono > STORE_REPLY_TIMEOUT_MS)
        conn_kill(c, "not ready after 5 s");
}

/* The subscriber must hear our own PUBLISH within three keepalive periods
 * (a PING would be answered to the wrong callback: PITFALLS.md). */
static void keepalive(store *st, int64_t now)
{
    if (now - st->last_ping_rx > 3 * STORE_KEEPALIVE_MS) {
        conn_kill(&st->sub, "keepalive not received");
        return;
    }
    if (now - st->last_ping_tx >= STORE_KEEPALIVE_MS) {
        const char *argv[3] = {"PUBLISH", st->ping_channel, "1"};
        st->last_ping_tx = now;
        send_argv(&st->cmd, 3, argv, NULL, NULL);
    }
}

static void on_health(uv_timer_t *t)
{
    store *st = t->data;
    int64_t now = sm_mono_ms();

    if (st->cluster)
        return; /* rcluster watches its own connections */
    if (st->cmd.ac && st->cmd.pending && now - st->cmd.progress_mono > STORE_REPLY_TIMEOUT_MS) {
        conn_kill(&st->cmd, "no reply for 5 s");
        return;
    }
    check_connect_timeout(&st->cmd, now);
    check_connect_timeout(&st->sub, now);
    if (st->cmd.up && st->sub.up)
        keepalive(st, now);
}

static const embedded_file *find_embedded(const char *name)
{
    const embedded_file *f;
    for (f = embedded_lua; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

int store_script_text(const char *name, char **out)
{
    const embedded_file *lib = find_embedded("lib"), *f = find_embedded(name);
    size_t a, b;

    *out = NULL;
    if (!lib)
        return STORE_ERR;
    if (!f || f == lib)
        return STORE_ENOSCRIPT;
    a = strlen(lib->text);
    b = strlen(f->text);
    *out = malloc(a + b + 2);
    if (!*out)
        return STORE_ERR;
    memcpy(*out, lib->text, a);
    (*out)[a] = '\n';
    memcpy(*out + a + 1, f->text, b + 1);
    return 0;
}

/* Every embedded script but lib, assembled (store_script_text). */
static int load_scripts(store *st)
{
    const embedded_file *f;
    if (!find_embedded("lib"))
        return STORE_ERR;
    for (f = embedded_lua; f->name; f++) {
        script *s;
        if (strcmp(f->name, "lib") == 0)
            continue;
        if (st->nscripts == STORE_MAX_SCRIPTS)
            return STORE_ERR;
        s = &st->scripts[st->nscripts++];
        s->name = f->name;
        if (store_script_text(f->name, &s->text))
            return STORE_ERR;
    }
    return 0;
}

static void free_scripts(store *st)
{
    int i;
    for (i = 0; i < st->nscripts; i++)
        free(st->scripts[i].text);
}

/* Expired keys of our database, and a keepalive channel no other process
 * shares. */
static void name_channels(store *st)
{
    unsigned char nonce[8];
    int i;
    snprintf(st->keyevent_channel, sizeof(st->keyevent_channel), "__keyevent@%d__:expired", st->db);
    for (i = 0; i < 8; i++)
        nonce[i] = (unsigned char)rand();
    snprintf(st->ping_channel, sizeof(st->ping_channel), "sm:ping:%02x%02x%02x%02x%02x%02x%02x%02x",
             nonce[0], nonce[1], nonce[2], nonce[3], nonce[4], nonce[5], nonce[6], nonce[7]);
}

/* ---- cluster mode ---- */

static void on_cluster_loaded(void *arg, redisReply *reply)
{
    script *s = arg;
    store *st = s->owner;
    st->cluster_loading--;
    if (reply && reply->type == REDIS_REPLY_STRING && reply->len == 40) {
        memcpy(s->sha, reply->str, 41);
        st->cluster_loaded++;
    } else if (reply && !st->closing) {
        sm_error("Redis Cluster refused script %s: %s", s->name,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    }
    check_ready(st);
}

/* Each script's SHA is learnt once from SCRIPT LOAD at any master (a SHA
 * is the same everywhere); a master that lacks a script later answers
 * NOSCRIPT and rcluster loads it there (cluster_script_text). */
static void on_cluster_state(void *arg)
{
    store *st = arg;
    int i;
    if (rcluster_routable(st->cluster) && st->cluster_loaded < st->nscripts &&
        !st->cluster_loading) {
        for (i = 0; i < st->nscripts; i++) {
            const char *argv[3] = {"SCRIPT", "LOAD", st->scripts[i].text};
            if (st->scripts[i].sha[0])
                continue;
            if (rcluster_command(st->cluster, on_cluster_loaded, &st->scripts[i], 3, argv, NULL) ==
                0)
                st->cluster_loading++;
        }
    }
    check_ready(st);
}

static void on_cluster_message(void *arg, const redisReply *msg)
{
    on_pubsub(arg, msg);
}

static const char *cluster_script_text(void *arg, const char *sha)
{
    store *st = arg;
    int i;
    for (i = 0; i < st->nscripts; i++)
        if (strcmp(st->scripts[i].sha, sha) == 0)
            return st->scripts[i].text;
    return NULL;
}

static void on_cluster_reply(void *arg, redisReply *reply)
{
    complete(arg, reply);
}

/* Every master: expired keys (keyspace events are node-local) and every
 * show's channel (classic pub/sub: PUBLISH reaches every node, so each show
 * message arrives once per master: show.c drops repeats by seq). */
static const char *cluster_psub[4] = {"PSUBSCRIBE", "sm:{*}:ev", "__keyevent@0__:expired", NULL};
static const char *cluster_setup[4] = {"CONFIG", "SET", "notify-keyspace-events", "Ex"};

static int cluster_create(store *st, const char *url)
{
    rcluster_opts o;
    memset(&o, 0, sizeof(o));
    o.name = "store";
    o.nsubs = 1;
    o.nchannels = 2;
    o.subs[0] = cluster_psub;
    o.subs_argc[0] = 3;
    o.setup = cluster_setup;
    o.setup_argc = 4;
    o.on_state = on_cluster_state;
    o.on_message = on_cluster_message;
    o.script_text = cluster_script_text;
    o.arg = st;
    return rcluster_create(st->loop, url, &o, &st->cluster);
}

int store_create(uv_loop_t *loop, const char *url, const store_events *ev, store **out)
{
    store *st;
    store_url u;
    int rc;

    *out = NULL;
    if (rcluster_is_url(url)) {
        rcluster_addr seeds[RCLUSTER_MAX_SEEDS];
        int n;
        if (rcluster_parse_url(url, seeds, RCLUSTER_MAX_SEEDS, &n))
            return STORE_URL_ECLUSTER;
        memset(&u, 0, sizeof(u));
        snprintf(u.host, sizeof(u.host), "%s", seeds[0].host);
        u.port = seeds[0].port;
        rc = 0;
    } else {
        rc = store_parse_url(url, &u);
    }
    if (rc)
        return rc;
    st = calloc(1, sizeof(*st));
    if (!st)
        return STORE_ERR;
    memcpy(st->host, u.host, sizeof(st->host));
    st->port = u.port;
    st->db = u.db;
    if (load_scripts(st)) {
        free_scripts(st);
        free(st);
        return STORE_ERR;
    }
    st->loop = loop;
    st->ev = *ev;
    name_channels(st);
    st->cmd.st = st->sub.st = st;
    st->cmd.name = "command";
    st->sub.name = "subscriber";
    st->cmd.backoff_ms = st->sub.backoff_ms = STORE_BACKOFF_MIN_MS;
    uv_timer_init(loop, &st->cmd.retry);
    uv_timer_init(loop, &st->sub.retry);
    uv_timer_init(loop, &st->health);
    st->cmd.retry.data = &st->cmd;
    st->sub.retry.data = &st->sub;
    st->health.data = st;
    uv_timer_start(&st->health, on_health, STORE_HEALTH_MS, STORE_HEALTH_MS);
    for (rc = 0; rc < st->nscripts; rc++)
        st->scripts[rc].owner = st;
    if (rcluster_is_url(url)) {
        if (cluster_create(st, url)) {
            store_destroy(st);
            return STORE_ERR;
        }
    } else {
        conn_start(&st->cmd);
        conn_start(&st->sub);
    }
    *out = st;
    return 0;
}

/* The store is freed with the last of its three timers: libuv runs close
 * callbacks in no promised order. */
static void on_timer_closed(uv_handle_t *h)
{
    store *st = h->data;
    if (--st->handles_open > 0)
        return;
    free_scripts(st);
    free(st);
}

void store_destroy(store *st)
{
    if (!st)
        return;
    st->closing = 1;
    if (st->cmd.ac)
        redisAsyncFree(st->cmd.ac);
    if (st->sub.ac)
        redisAsyncFree(st->sub.ac);
    rcluster_destroy(st->cluster); /* pending requests complete with no reply */
    st->cluster = NULL;
    st->handles_open = 3;
    st->cmd.retry.data = st->sub.retry.data = st; /* no more retries: point at the store */
    uv_close((uv_handle_t *)&st->cmd.retry, on_timer_closed);
    uv_close((uv_handle_t *)&st->sub.retry, on_timer_closed);
    uv_close((uv_handle_t *)&st->health, on_timer_closed);
}

static const script *find_script(const store *st, const char *name)
{
    int i;
    for (i = 0; i < st->nscripts; i++)
        if (strcmp(st->scripts[i].name, name) == 0)
            return &st->scripts[i];
    return NULL;
}

int store_run(store *st, const char *name, const char *show, int argc, const char *const *args,
              store_cb *cb, void *arg)
{
    const script *s = find_script(st, name);
    char seqkey[SM_SHOW_ID_MAX + 16], prefix[SM_SHOW_ID_MAX + 16];
    const char *small[64], **argv = small;
    request *req;
    int i, rc;

    if (!s)
        return STORE_ENOSCRIPT;
    if (!store_up(st) || argc < 0 || argc > STORE_MAX_ARGS)
        return -1;
    if (argc + 5 > (int)(sizeof(small) / sizeof(small[0]))) {
        argv = malloc(sizeof(*argv) * (size_t)(argc + 5));
        if (!argv)
            return -1;
    }
    snprintf(seqkey, sizeof(seqkey), "sm:{%s}:seq", show);
    snprintf(prefix, sizeof(prefix), "sm:{%s}:", show);
    argv[0] = "EVALSHA";
    argv[1] = s->sha;
    argv[2] = "1";
    argv[3] = seqkey;
    argv[4] = prefix;
    for (i = 0; i < argc; i++)
        argv[5 + i] = args[i];
    req = new_request(st, cb, arg);
    if (req) {
        req->script = s->name;
        req->sent = metrics_now();
    }
    if (!req)
        rc = -1;
    else if (st->cluster) /* routed by the slot of seqkey, the show's hash tag */
        rc = rcluster_command(st->cluster, on_cluster_reply, req, argc + 5, argv, NULL);
    else
        rc = send_argv(&st->cmd, argc + 5, argv, NULL, req);
    if (rc)
        free(req);
    if (argv != small)
        free(argv);
    return rc;
}
