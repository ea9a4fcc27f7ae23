/*
 * rcluster.c - see rcluster.h.
 *
 * Ownership: hiredis owns every redisAsyncContext and frees it after the
 * disconnect callback (or a failed connect callback); node.ac / node.sub are
 * cleared there. A request (creq) belongs to the client from
 * rcluster_command until its callback has run; its formatted command is
 * kept (owned) so that a redirect can send it again. Nodes live as long as
 * the client: a context's data points at its node.
 */
#include "rcluster.h"

#include "metrics.h"
#include "redis_uv.h"
#include "util.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TICK_MS 50

typedef struct node {
    rcluster *rc;
    rcluster_addr addr;
    redisAsyncContext *ac;  /* commands */
    redisAsyncContext *sub; /* subscriber (masters only, when asked for) */
    int master;             /* a master in the current topology */
    int up, sub_up, failing;
    int sub_confirmed;
    unsigned pending;
    unsigned backoff_ms;
    int64_t next_try_mono, started_mono, progress_mono;
    int64_t sub_next_try_mono, sub_started_mono, last_ping_rx;
} node;

typedef struct creq {
    rcluster *rc;
    rcluster_cb *cb;
    void *arg;
    char *cmd; /* redisFormatCommandArgv output, owned */
    int len;
    int slot; /* -1: no key */
    int redirects;
    int script_loaded;
    int script;   /* EVAL or EVALSHA: never follows ASK (rcluster.h) */
    char sha[41]; /* EVALSHA's script, or "" */
    int64_t deadline_mono;
    int64_t retry_mono;
    unsigned backoff_ms;
    struct creq *next; /* in the waiting list */
} creq;

struct rcluster {
    uv_loop_t *loop;
    rcluster_opts o;
    char name[32];
    rcluster_addr seeds[RCLUSTER_MAX_SEEDS];
    int nseeds;
    node *nodes[RCLUSTER_MAX_NODES];
    int nnodes;
    node *owner[RCLUSTER_SLOTS]; /* NULL: unknown */
    int have_topology;
    int refreshing; /* a CLUSTER SHARDS is out */
    int64_t next_refresh_mono;
    int64_t last_ping_tx;
    char ping_channel[64];
    creq *waiting; /* commands to send again later (TRYAGAIN, no owner, ...) */
    uv_timer_t tick;
    int closing;
    int last_ready, last_up, last_routable;
    /* 1: a command for this slot met it moving (ASK, "non local key"); logged
     * once, and again when the slot answers as usual. */
    uint8_t moving[RCLUSTER_SLOTS];
};

/* ---- pure parts ---- */

uint16_t rcluster_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    size_t i;
    int b;
    for (i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned rcluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return rcluster_crc16(open + 1, (size_t)(close - open - 1)) & (RCLUSTER_SLOTS - 1);
    }
    return rcluster_crc16(key, len) & (RCLUSTER_SLOTS - 1);
}

/* "HOST:PORT" (up to end) into a; 0 or -1. The port is the text after the
 * last ':' (an IPv6 endpoint keeps its colons in host). */
static int parse_hostport(const char *p, const char *end, rcluster_addr *a)
{
    const char *colon = NULL, *q;
    long port = 0;
    size_t n;
    for (q = p; q < end; q++)
        if (*q == ':')
            colon = q;
    if (!colon || colon == p || colon + 1 == end)
        return -1;
    for (q = colon + 1; q < end; q++) {
        if (*q < '0' || *q > '9')
            return -1;
        port = port * 10 + (*q - '0');
        if (port > 65535)
            return -1;
    }
    n = (size_t)(colon - p);
    if (port < 1 || n > RCLUSTER_HOST_MAX)
        return -1;
    memcpy(a->host, p, n);
    a->host[n] = '\0';
    a->port = (int)port;
    return 0;
}

int rcluster_parse_redirect(const char *err, unsigned *slot, char *host, size_t hostlen, int *port)
{
    int kind;
    const char *p, *sp;
    long s = 0;
    rcluster_addr a;
    if (strncmp(err, "MOVED ", 6) == 0) {
        kind = RCLUSTER_MOVED;
        p = err + 6;
    } else if (strncmp(err, "ASK ", 4) == 0) {
        kind = RCLUSTER_ASK;
        p = err + 4;
    } else {
        return RCLUSTER_NOT_REDIRECT;
    }
    sp = strchr(p, ' ');
    if (!sp || sp == p)
        return RCLUSTER_NOT_REDIRECT;
    for (; p < sp; p++) {
        if (*p < '0' || *p > '9')
            return RCLUSTER_NOT_REDIRECT;
        s = s * 10 + (*p - '0');
        if (s >= RCLUSTER_SLOTS)
            return RCLUSTER_NOT_REDIRECT;
    }
    if (parse_hostport(sp + 1, sp + 1 + strlen(sp + 1), &a) || strlen(a.host) >= hostlen)
        return RCLUSTER_NOT_REDIRECT;
    *slot = (unsigned)s;
    memcpy(host, a.host, strlen(a.host) + 1);
    *port = a.port;
    return kind;
}

rcluster_err rcluster_error_kind(const char *err)
{
    unsigned slot;
    char host[RCLUSTER_HOST_MAX + 1];
    int port;
    switch (rcluster_parse_redirect(err, &slot, host, sizeof(host), &port)) {
    case RCLUSTER_MOVED:
        return RCLUSTER_ERR_MOVED;
    case RCLUSTER_ASK:
        return RCLUSTER_ERR_ASK;
    default:
        break;
    }
    if (strncmp(err, "TRYAGAIN", 8) == 0)
        return RCLUSTER_ERR_TRYAGAIN;
    if (strncmp(err, "CLUSTERDOWN", 11) == 0)
        return RCLUSTER_ERR_CLUSTERDOWN;
    /* A script's own command refused by the cluster check (Redis 7.0
     * script.c): "ERR Script attempted to access a non local key in a
     * cluster node script: SHA, on @user_script:N." */
    if (strncmp(err, "ERR Script attempted to access a non local key", 46) == 0)
        return RCLUSTER_ERR_MIGRATING;
    if (strncmp(err, "ERR Script attempted to execute a command while the cluster is down", 67) ==
        0)
        return RCLUSTER_ERR_CLUSTERDOWN;
    return RCLUSTER_ERR_ANSWER;
}

const char *rcluster_error_label(rcluster_err kind)
{
    static const char *const labels[] = {NULL,       "moved",       "ask",
                                         "tryagain", "clusterdown", "migrating"};
    return (unsigned)kind < sizeof(labels) / sizeof(labels[0]) ? labels[kind] : NULL;
}

int rcluster_is_url(const char *url)
{
    return url && strncmp(url, RCLUSTER_SCHEME, strlen(RCLUSTER_SCHEME)) == 0;
}

static int is_host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_';
}

int rcluster_parse_url(const char *url, rcluster_addr *seeds, int max, int *n)
{
    const char *p, *end;
    int count = 0;
    if (!rcluster_is_url(url))
        return -1;
    p = url + strlen(RCLUSTER_SCHEME);
    end = p + strlen(p);
    if (end > p && end[-1] == '/')
        end--; /* "redis+cluster://h:p/" is database 0, the only one */
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *q;
        const char *stop = comma ? comma : end;
        rcluster_addr a;
        if (count == max)
            return -1;
        for (q = p; q < stop && is_host_char(*q); q++)
            ;
        if (q == stop) {
            if (q == p || q - p > RCLUSTER_HOST_MAX)
                return -1;
            memcpy(a.host, p, (size_t)(q - p));
            a.host[q - p] = '\0';
            a.port = RCLUSTER_DEFAULT_PORT;
        } else if (*q != ':' || parse_hostport(p, stop, &a)) {
            return -1;
        }
        seeds[count++] = a;
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            return -1;
    }
    if (count == 0)
        return -1;
    *n = count;
    return 0;
}

int rcluster_key_index(int argc, const char *const *argv)
{
    const char *c;
    int i;
    if (argc < 2)
        return -1;
    c = argv[0];
    if (strcasecmp(c, "EVAL") == 0 || strcasecmp(c, "EVALSHA") == 0)
        return argc > 3 && strcmp(argv[2], "0") != 0 ? 3 : -1;
    if (strcasecmp(c, "XGROUP") == 0)
        return argc > 2 ? 2 : -1;
    if (strcasecmp(c, "XREAD") == 0 || strcasecmp(c, "XREADGROUP") == 0) {
        for (i = 1; i + 1 < argc; i++)
            if (strcasecmp(argv[i], "STREAMS") == 0)
                return i + 1;
        return -1;
    }
    if (strcasecmp(c, "PUBLISH") == 0 || strcasecmp(c, "SCRIPT") == 0 ||
        strcasecmp(c, "PING") == 0 || strcasecmp(c, "CONFIG") == 0 ||
        strcasecmp(c, "CLUSTER") == 0 || strcasecmp(c, "INFO") == 0)
        return -1;
    return 1;
}

/* A flat [name, value, name, value ...] array's value for name, or NULL. */
static const redisReply *field(const redisReply *map, const char *name)
{
    size_t i;
    if (!map || map->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (i = 0; i + 1 < map->elements; i += 2)
        if (map->element[i]->type == REDIS_REPLY_STRING && strcmp(map->element[i]->str, name) == 0)
            return map->element[i + 1];
    return NULL;
}

static int str_is(const redisReply *r, const char *s)
{
    return r && r->type == REDIS_REPLY_STRING && strcmp(r->str, s) == 0;
}

static long as_long(const redisReply *r)
{
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER)
        return (long)r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtol(r->str, NULL, 10);
    return -1;
}

/* A node map's address: endpoint (when a real one), else ip. */
static int node_addr(const redisReply *n, rcluster_addr *a)
{
    const redisReply *ep = field(n, "endpoint"), *ip = field(n, "ip");
    const redisReply *host =
        ep && ep->type == REDIS_REPLY_STRING && ep->len > 0 && strcmp(ep->str, "?") != 0 ? ep : ip;
    long port = as_long(field(n, "port"));
    if (!host || host->type != REDIS_REPLY_STRING || host->len == 0 ||
        host->len > RCLUSTER_HOST_MAX || port < 1 || port > 65535)
        return -1;
    memcpy(a->host, host->str, host->len + 1);
    a->port = (int)port;
    return 0;
}

/* One shard: its master (preferring an online one) into out->masters, the
 * others into out->replicas, and its slot ranges. */
static int parse_shard(const redisReply *shard, rcluster_topo *out)
{
    const redisReply *slots = field(shard, "slots"), *nodes = field(shard, "nodes");
    int best = -1, best_online = 0, m;
    size_t i;
    if (!slots || !nodes || slots->type != REDIS_REPLY_ARRAY || nodes->type != REDIS_REPLY_ARRAY)
        return -1;
    for (i = 0; i < nodes->elements; i++) {
        const redisReply *n = nodes->element[i];
        int online = str_is(field(n, "health"), "online");
        if (str_is(field(n, "role"), "master") && (best < 0 || (online && !best_online))) {
            best = (int)i;
            best_online = online;
        }
    }
    for (i = 0; i < nodes->elements; i++) {
        rcluster_addr a;
        if ((int)i == best || out->nreplicas == RCLUSTER_MAX_NODES ||
            node_addr(nodes->element[i], &a))
            continue;
        out->replicas[out->nreplicas++] = a;
    }
    if (best < 0 || slots->elements == 0)
        return 0; /* a shard with no master or no slots serves nothing */
    if (out->nmasters == RCLUSTER_MAX_NODES)
        return -1;
    if (node_addr(nodes->element[best], &out->masters[out->nmasters]))
        return -1;
    m = ++out->nmasters;
    for (i = 0; i + 1 < slots->elements; i += 2) {
        long from = as_long(slots->element[i]), to = as_long(slots->element[i + 1]), s;
        if (from < 0 || to < from || to >= RCLUSTER_SLOTS)
            return -1;
        for (s = from; s <= to; s++)
            out->owner[s] = (uint8_t)m;
    }
    return 0;
}

int rcluster_parse_shards(const redisReply *r, rcluster_topo *out)
{
    size_t i;
    memset(out, 0, sizeof(*out));
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return -1;
    for (i = 0; i < r->elements; i++)
        if (parse_shard(r->element[i], out))
            return -1;
    return 0;
}

/* ---- nodes ---- */

static node *find_node(rcluster *rc, const rcluster_addr *a)
{
    int i;
    for (i = 0; i < rc->nnodes; i++)
        if (rc->nodes[i]->addr.port == a->port && strcmp(rc->nodes[i]->addr.host, a->host) == 0)
            return rc->nodes[i];
    return NULL;
}

static node *get_node(rcluster *rc, const rcluster_addr *a)
{
    node *n = find_node(rc, a);
    if (n || rc->nnodes == RCLUSTER_MAX_NODES)
        return n;
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->rc = rc;
    n->addr = *a;
    n->backoff_ms = RCLUSTER_BACKOFF_MIN_MS;
    rc->nodes[rc->nnodes++] = n;
    return n;
}

static int compute_up(const rcluster *rc);
static int compute_ready(const rcluster *rc);
static node *any_master(rcluster *rc);

/* up and ready are cached here (rcluster_up is asked per command); every
 * event that may change them ends here. */
static void notify_state(rcluster *rc)
{
    int up = compute_up(rc), ready = up && compute_ready(rc);
    int routable = rc->have_topology && any_master(rc) != NULL;
    if (rc->closing ||
        (up == rc->last_up && ready == rc->last_ready && routable == rc->last_routable))
        return;
    rc->last_up = up;
    rc->last_routable = routable;
    rc->last_ready = ready;
    if (rc->o.on_state)
        rc->o.on_state(rc->o.arg);
}

static void want_refresh(rcluster *rc)
{
    rc->next_refresh_mono = 0;
}

static void node_failed(node *n, const char *what, const char *why)
{
    rcluster *rc = n->rc;
    /* jittered exponential backoff, as store.c's (which is above us) */
    unsigned delay = n->backoff_ms + (unsigned)rand() % (n->backoff_ms / 4 + 1);
    n->next_try_mono = sm_mono_ms() + delay;
    n->backoff_ms =
        n->backoff_ms * 2 > RCLUSTER_BACKOFF_MAX_MS ? RCLUSTER_BACKOFF_MAX_MS : n->backoff_ms * 2;
    if (!n->failing && !rc->closing && n->master)
        sm_warn("Redis Cluster (%s) %s connection to %s:%d lost: %s; retrying with backoff",
                rc->name, what, n->addr.host, n->addr.port, why);
    if (n->master)
        n->failing = 1;
    want_refresh(rc);
}

static void on_cmd_disconnect(const redisAsyncContext *ac, int status)
{
    node *n = ac->data;
    n->ac = NULL;
    n->up = 0;
    n->pending = 0;
    node_failed(n, "command", status == REDIS_OK ? "closed" : ac->errstr);
    notify_state(n->rc);
}

static void on_cmd_connect(const redisAsyncContext *ac, int status)
{
    node *n = ac->data;
    rcluster *rc = n->rc;
    if (status != REDIS_OK) {
        n->ac = NULL;
        node_failed(n, "command", ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    n->up = 1;
    n->backoff_ms = RCLUSTER_BACKOFF_MIN_MS;
    if (n->failing)
        sm_info("Redis Cluster (%s) node %s:%d is back", rc->name, n->addr.host, n->addr.port);
    n->failing = 0;
    if (rc->o.setup_argc)
        redisAsyncCommandArgv(n->ac, NULL, NULL, rc->o.setup_argc, rc->o.setup, NULL);
    if (!rc->have_topology)
        want_refresh(rc);
    notify_state(rc);
}

/* Attaches a new context for n to the loop; NULL when it cannot start. */
static redisAsyncContext *open_ctx(node *n, redisConnectCallback *conn_cb,
                                   redisDisconnectCallback *disc_cb)
{
    redisAsyncContext *ac = redisAsyncConnect(n->addr.host, n->addr.port);
    if (!ac)
        return NULL;
    if (ac->err || redis_uv_attach(ac, n->rc->loop)) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = n;
    redisAsyncSetConnectCallback(ac, conn_cb);
    redisAsyncSetDisconnectCallback(ac, disc_cb);
    return ac;
}

static void cmd_open(node *n, int64_t now)
{
    if (n->ac || now < n->next_try_mono)
        return;
    n->ac = open_ctx(n, on_cmd_connect, on_cmd_disconnect);
    if (!n->ac) {
        node_failed(n, "command", "cannot connect");
        return;
    }
    n->started_mono = n->progress_mono = now;
    n->pending = 0;
}

/* ---- subscribers ---- */

const char *rcluster_pubsub_kind(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[0]->str;
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    node *n = ac->data;
    rcluster *rc = n->rc;
    redisReply *reply = r;
    const char *kind = rcluster_pubsub_kind(reply);
    if (!kind)
        return;
    if (strcmp(kind, "psubscribe") == 0 || strcmp(kind, "subscribe") == 0) {
        if (++n->sub_confirmed == rc->o.nchannels + 1 && !n->sub_up) {
            n->sub_up = 1;
            n->last_ping_rx = sm_mono_ms();
            notify_state(rc);
        }
        return;
    }
    if (strcmp(kind, "message") == 0 && reply->element[1]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[1]->str, rc->ping_channel) == 0) {
        n->last_ping_rx = sm_mono_ms();
        return;
    }
    if (rc->o.on_message)
        rc->o.on_message(rc->o.arg, reply);
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    node *n = ac->data;
    n->sub = NULL;
    n->sub_up = 0;
    n->sub_next_try_mono = sm_mono_ms() + RCLUSTER_BACKOFF_MIN_MS;
    want_refresh(n->rc);
    notify_state(n->rc);
}

static void on_sub_connect(const redisAsyncContext *cac, int status)
{
    node *n = cac->data;
    rcluster *rc = n->rc;
    redisAsyncContext *ac = n->sub;
    const char *ping[2] = {"SUBSCRIBE", rc->ping_channel};
    int i;
    if (status != REDIS_OK) {
        n->sub = NULL;
        n->sub_next_try_mono = sm_mono_ms() + RCLUSTER_BACKOFF_MIN_MS;
        return;
    }
    n->sub_confirmed = 0;
    for (i = 0; i < rc->o.nsubs; i++)
        redisAsyncCommandArgv(ac, on_sub_reply, NULL, rc->o.subs_argc[i], rc->o.subs[i], NULL);
    redisAsyncCommandArgv(ac, on_sub_reply, NULL, 2, ping, NULL);
}

static void sub_open(node *n, int64_t now)
{
    if (n->sub || n->rc->o.nsubs == 0 || now < n->sub_next_try_mono)
        return;
    n->sub = open_ctx(n, on_sub_connect, on_sub_disconnect);
    if (!n->sub) {
        n->sub_next_try_mono = now + RCLUSTER_BACKOFF_MIN_MS;
        return;
    }
    n->sub_up = 0;
    n->sub_started_mono = now;
}

/* Frees *slot: hiredis calls its pending callbacks with NULL and then the
 * disconnect callback, which clears *slot; one that never connected gets
 * no disconnect callback in 0.14.1, so it is cleared here (1), or freeing
 * it again later would be a double free. */
static int free_ctx(redisAsyncContext **slot)
{
    redisAsyncContext *ac = *slot;
    int connected = (ac->c.flags & REDIS_CONNECTED) != 0;
    redisAsyncFree(ac);
    if (!connected && *slot == ac) {
        *slot = NULL;
        return 1;
    }
    return 0;
}

/* A context that does not connect or answer in time: freed, and another
 * attempt scheduled. */
static void kill_ctx(node *n, redisAsyncContext **slot)
{
    if (free_ctx(slot)) {
        if (slot == &n->ac)
            node_failed(n, "command", "no answer");
        else
            n->sub_next_try_mono = sm_mono_ms() + RCLUSTER_BACKOFF_MIN_MS;
    }
}

/* ---- requests ---- */

static void send_req(rcluster *rc, creq *q, node *n, int asking);

static void finish(creq *q, redisReply *reply)
{
    if (q->cb)
        q->cb(q->arg, reply);
    free(q->cmd);
    free(q);
}

/* Put q aside to send again after a backoff (doubling up to max_ms), or
 * give up past its deadline. */
static void defer_upto(rcluster *rc, creq *q, unsigned max_ms)
{
    int64_t now = sm_mono_ms();
    if (rc->closing || now >= q->deadline_mono) {
        finish(q, NULL);
        return;
    }
    if (q->backoff_ms > max_ms)
        q->backoff_ms = max_ms;
    q->retry_mono = now + q->backoff_ms;
    q->backoff_ms = q->backoff_ms * 2 > max_ms ? max_ms : q->backoff_ms * 2;
    q->next = rc->waiting;
    rc->waiting = q;
}

static void defer(rcluster *rc, creq *q)
{
    defer_upto(rc, q, RCLUSTER_WAIT_MAX_MS);
}

static node *any_master(rcluster *rc)
{
    int i;
    for (i = 0; i < rc->nnodes; i++)
        if (rc->nodes[i]->master && rc->nodes[i]->up)
            return rc->nodes[i];
    return NULL;
}

static void route(rcluster *rc, creq *q)
{
    node *n = q->slot >= 0 ? rc->owner[q->slot] : any_master(rc);
    if (!n || !n->up) {
        want_refresh(rc);
        defer(rc, q);
        return;
    }
    send_req(rc, q, n, 0);
}

static void on_script_load(redisAsyncContext *ac, void *r, void *privdata)
{
    node *n = ac->data;
    if (n->pending)
        n->pending--;
    n->progress_mono = sm_mono_ms();
}

/* An error reply: a redirect, a pause, a missing script, or the answer. 1
 * when q was taken care of (sent again or deferred). */
static int handle_error(rcluster *rc, node *n, creq *q, const redisReply *reply)
{
    rcluster_err kind = rcluster_error_kind(reply->str);
    if (kind != RCLUSTER_ERR_ANSWER)
        metrics_inc(M_REDIS_REDIRECTS, rcluster_error_label(kind));
    if (kind == RCLUSTER_ERR_MOVED || (kind == RCLUSTER_ERR_ASK && !q->script)) {
        char host[RCLUSTER_HOST_MAX + 1];
        unsigned slot;
        int port;
        rcluster_addr a;
        node *to;
        if (++q->redirects > RCLUSTER_MAX_REDIRECTS)
            return 0;
        rcluster_parse_redirect(reply->str, &slot, host, sizeof(host), &port);
        memcpy(a.host, host, sizeof(host));
        a.port = port;
        to = get_node(rc, &a);
        if (!to)
            return 0;
        if (kind == RCLUSTER_ERR_MOVED) {
            rc->owner[slot] = to;
            to->master = 1;
            want_refresh(rc);
        }
        if (!to->up) {
            defer(rc, q);
            return 1;
        }
        send_req(rc, q, to, kind == RCLUSTER_ERR_ASK);
        return 1;
    }
    /* A script's slot is moving (rcluster.h): wait here, at the owner, for
     * MOVED; TRYAGAIN likewise waits for the keys to be on one node. */
    if (kind == RCLUSTER_ERR_ASK || kind == RCLUSTER_ERR_MIGRATING ||
        kind == RCLUSTER_ERR_TRYAGAIN) {
        if (q->slot >= 0 && !rc->moving[q->slot]) {
            rc->moving[q->slot] = 1;
            sm_info("Redis Cluster (%s): slot %d is moving away from %s:%d; its scripts wait "
                    "until it has moved (up to %d ms each)",
                    rc->name, q->slot, n->addr.host, n->addr.port, RCLUSTER_RETRY_MS);
        }
        defer_upto(rc, q, RCLUSTER_MIGRATE_BACKOFF_MS);
        return 1;
    }
    if (kind == RCLUSTER_ERR_CLUSTERDOWN) {
        want_refresh(rc);
        defer(rc, q);
        return 1;
    }
    if (strncmp(reply->str, "NOSCRIPT", 8) == 0 && q->sha[0] && !q->script_loaded &&
        rc->o.script_text) {
        const char *text = rc->o.script_text(rc->o.arg, q->sha);
        const char *argv[3] = {"SCRIPT", "LOAD", text};
        if (!text || !n->ac)
            return 0;
        q->script_loaded = 1;
        if (redisAsyncCommandArgv(n->ac, on_script_load, NULL, 3, argv, NULL) == REDIS_OK)
            n->pending++;
        send_req(rc, q, n, 0);
        return 1;
    }
    return 0;
}

static void on_cmd_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    node *n = ac->data;
    rcluster *rc = n->rc;
    creq *q = privdata;
    redisReply *reply = r;
    if (n->pending)
        n->pending--;
    n->progress_mono = sm_mono_ms();
    if (reply && reply->type == REDIS_REPLY_ERROR && !rc->closing && handle_error(rc, n, q, reply))
        return;
    if (reply && q->slot >= 0 && rc->moving[q->slot]) {
        rc->moving[q->slot] = 0;
        sm_info("Redis Cluster (%s): slot %d is served again, by %s:%d", rc->name, q->slot,
                n->addr.host, n->addr.port);
    }
    finish(q, reply);
}

static void send_req(rcluster *rc, creq *q, node *n, int asking)
{
    if (!n->ac || !n->up) {
        defer(rc, q);
        return;
    }
    /* A context that is disconnecting refuses commands: try again later
     * rather than answer before rcluster_command has returned. */
    if ((asking && redisAsyncCommand(n->ac, NULL, NULL, "ASKING") != REDIS_OK) ||
        redisAsyncFormattedCommand(n->ac, on_cmd_reply, q, q->cmd, (size_t)q->len) != REDIS_OK) {
        defer(rc, q);
        return;
    }
    if (n->pending++ == 0)
        n->progress_mono = sm_mono_ms();
}

int rcluster_command(rcluster *rc, rcluster_cb *cb, void *arg, int argc, const char **argv,
                     const size_t *lens)
{
    creq *q;
    int k;
    if (rc->closing || !rc->have_topology)
        return -1;
    q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    q->len = redisFormatCommandArgv(&q->cmd, argc, argv, lens);
    if (q->len < 0) {
        free(q);
        return -1;
    }
    q->rc = rc;
    q->cb = cb;
    q->arg = arg;
    k = rcluster_key_index(argc, (const char *const *)argv);
    q->slot = k < 0 ? -1 : (int)rcluster_key_slot(argv[k], lens ? lens[k] : strlen(argv[k]));
    q->script = strcasecmp(argv[0], "EVALSHA") == 0 || strcasecmp(argv[0], "EVAL") == 0;
    if (strcasecmp(argv[0], "EVALSHA") == 0 && argc > 1 && strlen(argv[1]) == 40)
        memcpy(q->sha, argv[1], 41);
    q->deadline_mono = sm_mono_ms() + RCLUSTER_RETRY_MS;
    q->backoff_ms = 25;
    route(rc, q);
    return 0;
}

/* ---- topology ---- */

static void apply_topology(rcluster *rc, const rcluster_topo *t)
{
    int i, changed = 0;
    node *m[RCLUSTER_MAX_NODES];
    for (i = 0; i < t->nreplicas; i++)
        get_node(rc, &t->replicas[i]);
    for (i = 0; i < t->nmasters; i++)
        m[i] = get_node(rc, &t->masters[i]);
    for (i = 0; i < rc->nnodes; i++) {
        node *n = rc->nodes[i];
        int j, is_master = 0;
        for (j = 0; j < t->nmasters; j++)
            if (m[j] == n)
                is_master = 1;
        if (n->master != is_master)
            changed = 1;
        n->master = is_master;
        if (!is_master && n->sub) /* events of a node that is no longer a master */
            free_ctx(&n->sub);
    }
    for (i = 0; i < RCLUSTER_SLOTS; i++)
        rc->owner[i] = t->owner[i] ? m[t->owner[i] - 1] : NULL;
    if (changed || !rc->have_topology) {
        char list[512] = "";
        size_t off = 0;
        for (i = 0; i < t->nmasters && off < sizeof(list) - 1; i++)
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s:%d", i ? ", " : "",
                                    t->masters[i].host, t->masters[i].port);
        sm_info("Redis Cluster (%s): %d masters: %s", rc->name, t->nmasters, list);
    }
    rc->have_topology = 1;
}

static void on_shards(redisAsyncContext *ac, void *r, void *privdata)
{
    node *n = ac->data;
    rcluster *rc = n->rc;
    rcluster_topo *t;
    if (n->pending)
        n->pending--;
    n->progress_mono = sm_mono_ms();
    rc->refreshing = 0;
    if (!r || rc->closing)
        return;
    t = malloc(sizeof(*t));
    if (!t)
        return;
    if (rcluster_parse_shards(r, t) == 0 && t->nmasters > 0)
        apply_topology(rc, t);
    else
        sm_warn("Redis Cluster (%s): %s:%d gave no usable CLUSTER SHARDS answer", rc->name,
                n->addr.host, n->addr.port);
    free(t);
    notify_state(rc);
}

/* Asks a connected node, masters first, for the topology. */
static void refresh(rcluster *rc, int64_t now)
{
    const char *argv[2] = {"CLUSTER", "SHARDS"};
    node *n = any_master(rc);
    int i;
    if (rc->refreshing || now < rc->next_refresh_mono)
        return;
    for (i = 0; !n && i < rc->nnodes; i++)
        if (rc->nodes[i]->up)
            n = rc->nodes[i];
    if (!n)
        return;
    if (redisAsyncCommandArgv(n->ac, on_shards, NULL, 2, argv, NULL) != REDIS_OK)
        return;
    n->pending++;
    rc->refreshing = 1;
    rc->next_refresh_mono =
        now + (rcluster_ready(rc) ? RCLUSTER_REFRESH_MS : RCLUSTER_REFRESH_FAST_MS);
}

/* Which nodes to keep a command connection to: the masters; every node
 * when no master answers (to learn the topology anew). */
static int wanted(const rcluster *rc, const node *n, int masters_up)
{
    return n->master || !masters_up || !rc->have_topology;
}

static void check_node(rcluster *rc, node *n, int masters_up, int64_t now)
{
    if (!wanted(rc, n, masters_up)) {
        if (n->ac && !n->pending)
            free_ctx(&n->ac); /* a replica we no longer need */
        return;
    }
    cmd_open(n, now);
    if (n->ac && ((!n->up && now - n->started_mono > RCLUSTER_TIMEOUT_MS) ||
                  (n->up && n->pending && now - n->progress_mono > RCLUSTER_TIMEOUT_MS)))
        kill_ctx(n, &n->ac);
    if (!n->master)
        return;
    sub_open(n, now);
    if (n->sub && ((!n->sub_up && now - n->sub_started_mono > RCLUSTER_TIMEOUT_MS) ||
                   (n->sub_up && now - n->last_ping_rx > 3 * RCLUSTER_KEEPALIVE_MS)))
        kill_ctx(n, &n->sub);
}

/* Sends again what is due. route() may defer a command anew, which puts it
 * on rc->waiting: the ones not yet due are kept on a list of their own and
 * put back after, so that neither overwrites the other. */
static void run_waiting(rcluster *rc, int64_t now)
{
    creq *list = rc->waiting, *q, *kept = NULL;
    rc->waiting = NULL;
    while (list) {
        q = list;
        list = q->next;
        q->next = NULL;
        if (now >= q->retry_mono) {
            route(rc, q);
        } else {
            q->next = kept;
            kept = q;
        }
    }
    while (kept) {
        q = kept;
        kept = q->next;
        q->next = rc->waiting;
        rc->waiting = q;
    }
}

static void on_tick(uv_timer_t *t)
{
    rcluster *rc = t->data;
    int64_t now = sm_mono_ms();
    int i, masters_up = 0;
    for (i = 0; i < rc->nnodes; i++)
        if (rc->nodes[i]->master && rc->nodes[i]->up)
            masters_up = 1;
    for (i = 0; i < rc->nnodes && !rc->closing; i++)
        check_node(rc, rc->nodes[i], masters_up, now);
    refresh(rc, now);
    if (rc->o.nsubs && now - rc->last_ping_tx >= RCLUSTER_KEEPALIVE_MS) {
        /* Classic PUBLISH reaches every node's subscribers over the bus. */
        const char *argv[3] = {"PUBLISH", rc->ping_channel, "1"};
        node *n = any_master(rc);
        rc->last_ping_tx = now;
        if (n)
            redisAsyncCommandArgv(n->ac, NULL, NULL, 3, argv, NULL);
    }
    run_waiting(rc, now);
    notify_state(rc);
}

/* ---- life ---- */

int rcluster_create(uv_loop_t *loop, const char *url, const rcluster_opts *o, rcluster **out)
{
    rcluster *rc;
    int i;
    unsigned char nonce[8];
    *out = NULL;
    rc = calloc(1, sizeof(*rc));
    if (!rc)
        return -1;
    if (rcluster_parse_url(url, rc->seeds, RCLUSTER_MAX_SEEDS, &rc->nseeds)) {
        free(rc);
        return -1;
    }
    rc->loop = loop;
    rc->o = *o;
    snprintf(rc->name, sizeof(rc->name), "%s", o->name ? o->name : "redis");
    for (i = 0; i < 8; i++)
        nonce[i] = (unsigned char)rand();
    snprintf(rc->ping_channel, sizeof(rc->ping_channel), "sm:ping:%02x%02x%02x%02x%02x%02x%02x%02x",
             nonce[0], nonce[1], nonce[2], nonce[3], nonce[4], nonce[5], nonce[6], nonce[7]);
    for (i = 0; i < rc->nseeds; i++)
        get_node(rc, &rc->seeds[i]);
    uv_timer_init(loop, &rc->tick);
    rc->tick.data = rc;
    uv_timer_start(&rc->tick, on_tick, 0, TICK_MS);
    *out = rc;
    return 0;
}

static void on_tick_closed(uv_handle_t *h)
{
    rcluster *rc = h->data;
    int i;
    for (i = 0; i < rc->nnodes; i++)
        free(rc->nodes[i]);
    free(rc);
}

void rcluster_destroy(rcluster *rc)
{
    int i;
    creq *q;
    if (!rc)
        return;
    rc->closing = 1;
    for (i = 0; i < rc->nnodes; i++) {
        node *n = rc->nodes[i];
        if (n->ac)
            redisAsyncFree(n->ac); /* pending callbacks run with NULL */
        if (n->sub)
            redisAsyncFree(n->sub);
        n->ac = n->sub = NULL;
    }
    while ((q = rc->waiting)) {
        rc->waiting = q->next;
        finish(q, NULL);
    }
    uv_timer_stop(&rc->tick);
    uv_close((uv_handle_t *)&rc->tick, on_tick_closed);
}

int rcluster_up(const rcluster *rc)
{
    return rc->last_up;
}

int rcluster_ready(const rcluster *rc)
{
    return rc->last_ready;
}

int rcluster_routable(const rcluster *rc)
{
    return rc->last_routable;
}

static int compute_up(const rcluster *rc)
{
    int s;
    if (!rc->have_topology)
        return 0;
    for (s = 0; s < RCLUSTER_SLOTS; s++)
        if (!rc->owner[s] || !rc->owner[s]->up)
            return 0;
    return 1;
}

static int compute_ready(const rcluster *rc)
{
    int i;
    for (i = 0; rc->o.nsubs && i < rc->nnodes; i++)
        if (rc->nodes[i]->master && !rc->nodes[i]->sub_up)
            return 0;
    return 1;
}

int rcluster_masters(const rcluster *rc, rcluster_addr *out, int max)
{
    int i, k = 0;
    for (i = 0; i < rc->nnodes && k < max; i++)
        if (rc->nodes[i]->master)
            out[k++] = rc->nodes[i]->addr;
    return k;
}
