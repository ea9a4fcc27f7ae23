/*
 * rcluster.h - Redis Cluster routing on hiredis 0.14.1, which knows nothing
 * of clusters (Debian 12 has no cluster-aware hiredis). A small client of
 * our own: key slots (CRC16/XMODEM of the key or of its {hash tag}), the
 * slot map read from CLUSTER SHARDS, one async command connection per
 * master and, when asked for, one subscriber per master (keyspace events
 * are node-local, so they must be heard on every master).
 *
 * Redirects: MOVED retries at the new owner and re-reads the topology;
 * ASK sends ASKING and retries once at that node without touching the map;
 * TRYAGAIN and CLUSTERDOWN retry with backoff until RCLUSTER_RETRY_MS have
 * passed, then the caller gets no reply ("unavailable").
 *
 * Scripts during a slot migration: our scripts declare one key (the show's
 * seq) and reach the show's other keys through its prefix. At the importing
 * node (ASKING) such a key that has not moved yet reads as absent, so a
 * script there could take a seat that is held: an EVAL/EVALSHA never
 * follows ASK; it waits (RCLUSTER_MIGRATE_BACKOFF_MS steps) until the slot
 * has moved (MOVED). At the migrating node a script that touches a key
 * that is absent there is stopped by Redis ("non local key"); lib.lua
 * reads a key that never exists first, so it is stopped before any write,
 * and waits likewise. So a show's scripts pause while its slot moves.
 * Every redirect and wait is counted (seatmap_redis_redirects_total).
 *
 * NOSCRIPT for an
 * EVALSHA loads the script on that node (its text from script_text) and
 * sends the command again. A command whose connection is lost is not sent
 * again (it may have run): its caller gets no reply.
 *
 * Topology is re-read on a timer, at once on MOVED, CLUSTERDOWN or a lost
 * master, and until every slot has a reachable master. Same libuv design
 * as the store (redis_uv.h); hiredis frees each context after its
 * disconnect callback, and a node's contexts are cleared at that point.
 *
 * Not here: what the commands mean (store.c, rconn.c), sharded pub/sub
 * (hiredis 0.14.1 cannot read it on an async context: PITFALLS.md).
 */
#ifndef SEATMAP_RCLUSTER_H
#define SEATMAP_RCLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define RCLUSTER_SLOTS 16384
#define RCLUSTER_MAX_NODES 64        /* nodes ever seen (masters and replicas) */
#define RCLUSTER_MAX_SEEDS 16        /* HOST:PORT pairs in a URL */
#define RCLUSTER_HOST_MAX 255        /* as STORE_HOST_MAX */
#define RCLUSTER_RETRY_MS 3000       /* TRYAGAIN/CLUSTERDOWN/no owner: retry this long */
#define RCLUSTER_REFRESH_MS 5000     /* topology re-read while all is well */
#define RCLUSTER_REFRESH_FAST_MS 250 /* ... and while something is missing */
#define RCLUSTER_MAX_REDIRECTS 5     /* MOVED/ASK hops for one command */
#define RCLUSTER_TIMEOUT_MS 5000     /* connect or reply timeout of a node */
#define RCLUSTER_KEEPALIVE_MS 2000
#define RCLUSTER_MAX_SUBS 4 /* subscribe commands sent to every master */
#define RCLUSTER_SCHEME "redis+cluster://"
#define RCLUSTER_DEFAULT_PORT 6379
#define RCLUSTER_BACKOFF_MIN_MS 100 /* reconnect backoff, as the store's */
#define RCLUSTER_BACKOFF_MAX_MS 5000
#define RCLUSTER_WAIT_MAX_MS 1000 /* CLUSTERDOWN / no owner: longest retry step */
/* ASK for a script, TRYAGAIN, "non local key": longest retry step. A slot
 * moves in well under a second, and a hold deadline that falls in it should
 * not wait a long step more. */
#define RCLUSTER_MIGRATE_BACKOFF_MS 100

struct redisReply;
typedef struct rcluster rcluster;

/* ---- pure parts, public for tests/unit/test_rcluster.c ---- */

/* CRC16/XMODEM (polynomial 0x1021, init 0), as the cluster spec's
 * keyHashSlot: "123456789" -> 0x31C3. */
uint16_t rcluster_crc16(const char *buf, size_t len);
/* The slot of a key: CRC16 of the text between the first '{' and the next
 * '}' when that is not empty, else of the whole key; mod 16384. */
unsigned rcluster_key_slot(const char *key, size_t len);

enum { RCLUSTER_NOT_REDIRECT = 0, RCLUSTER_MOVED = 1, RCLUSTER_ASK = 2 };
/* "MOVED 3999 127.0.0.1:6381" or "ASK ...": RCLUSTER_MOVED / RCLUSTER_ASK
 * and *slot, host (hostlen bytes with the NUL), *port filled; anything else
 * (other errors, a malformed redirect) RCLUSTER_NOT_REDIRECT. */
int rcluster_parse_redirect(const char *err, unsigned *slot, char *host, size_t hostlen, int *port);

/* What an error reply asks of the client. */
typedef enum rcluster_err {
    RCLUSTER_ERR_ANSWER = 0,  /* none: the error is the answer */
    RCLUSTER_ERR_MOVED,       /* MOVED slot host:port */
    RCLUSTER_ERR_ASK,         /* ASK slot host:port */
    RCLUSTER_ERR_TRYAGAIN,    /* a multi-key command met a half-moved slot */
    RCLUSTER_ERR_CLUSTERDOWN, /* no quorum, or the slot has no master */
    RCLUSTER_ERR_MIGRATING,   /* a script touched a key its node has not (slot moving) */
} rcluster_err;
/* The kind of an error reply's text (RCLUSTER_ERR_ANSWER for anything else),
 * and its label in seatmap_redis_redirects_total ("moved", "ask", ...; NULL
 * for RCLUSTER_ERR_ANSWER). */
rcluster_err rcluster_error_kind(const char *err);
const char *rcluster_error_label(rcluster_err kind);

typedef struct rcluster_addr {
    char host[RCLUSTER_HOST_MAX + 1];
    int port;
} rcluster_addr;

/* 1 when url starts with redis+cluster://. */
int rcluster_is_url(const char *url);
/* redis+cluster://HOST:PORT[,HOST:PORT...] (port 6379 when left out) into
 * seeds (at most max). 0 and *n, or -1 (no seed, bad host or port, too
 * many, a database number: a cluster has only database 0). */
int rcluster_parse_url(const char *url, rcluster_addr *seeds, int max, int *n);

/* Which argument of a command is the key that routes it: 1 for most, 3 for
 * EVAL/EVALSHA (numkeys > 0), 2 for XGROUP, the one after STREAMS for
 * XREAD/XREADGROUP; -1 for a command with no key (PUBLISH, SCRIPT, ...),
 * which any master may answer. */
int rcluster_key_index(int argc, const char *const *argv);

/* A topology: the masters and, for each slot, the index of its master in
 * masters plus one (0: no master). replicas are other nodes seen, to ask for
 * the topology when every master is gone. */
typedef struct rcluster_topo {
    int nmasters, nreplicas;
    rcluster_addr masters[RCLUSTER_MAX_NODES];
    rcluster_addr replicas[RCLUSTER_MAX_NODES];
    uint8_t owner[RCLUSTER_SLOTS];
} rcluster_topo;

/* Reads a CLUSTER SHARDS reply (RESP2: shards as flat name/value arrays).
 * A shard's master is its node with role "master", preferring health
 * "online"; endpoint, else ip, is its address. 0, or -1 for a reply of
 * another shape (nothing usable in *out). */
int rcluster_parse_shards(const struct redisReply *r, rcluster_topo *out);

/* What a reply on a subscribed connection is: "subscribe", "psubscribe",
 * "message", "pmessage", ... (the reply's own string), or NULL when it is
 * not a pub/sub array of at least 3 elements. */
const char *rcluster_pubsub_kind(const struct redisReply *r);

/* ---- the client ---- */

/* The reply (valid only during the call; hiredis frees it), or NULL: not
 * answered (connection lost, retries used up, client destroyed). */
typedef void rcluster_cb(void *arg, struct redisReply *reply);

typedef struct rcluster_opts {
    const char *name; /* for logs: "store", "webhooks", ... */
    /* Subscribe commands (e.g. PSUBSCRIBE a b) sent on a subscriber
     * connection opened to every master; nsubs 0: no subscribers.
     * nchannels: how many channels/patterns they name in all. */
    int nsubs, nchannels;
    const char **subs[RCLUSTER_MAX_SUBS];
    int subs_argc[RCLUSTER_MAX_SUBS];
    /* A command sent on every new master command connection (e.g. CONFIG
     * SET notify-keyspace-events Ex), or setup_argc 0. */
    int setup_argc;
    const char **setup;
    /* Readiness may have changed (rcluster_ready); may be NULL. */
    void (*on_state)(void *arg);
    /* A pub/sub message from a master's subscriber (not the keepalive). */
    void (*on_message)(void *arg, const struct redisReply *msg);
    /* The text of the script of this SHA (for NOSCRIPT), or NULL. */
    const char *(*script_text)(void *arg, const char *sha);
    void *arg;
} rcluster_opts;

/* url: see rcluster_parse_url. o's strings and arrays must outlive the
 * client. 0, or -1 (bad URL, out of memory; *out NULL). Starts connecting
 * to the seeds at once. *out belongs to the caller (rcluster_destroy). */
int rcluster_create(uv_loop_t *loop, const char *url, const rcluster_opts *o, rcluster **out);
/* Disconnects: pending callbacks run with NULL now; frees later (the loop
 * must run). */
void rcluster_destroy(rcluster *rc);
/* 1 when every slot has a master whose command connection is up. */
int rcluster_up(const rcluster *rc);
/* 1 when the topology is known and some master's command connection is up:
 * commands for the slots of that master can be answered (others wait up to
 * RCLUSTER_RETRY_MS for theirs, then get no reply). */
int rcluster_routable(const rcluster *rc);
/* rcluster_up, and every master's subscriber has confirmed all its
 * subscriptions (when subscribers were asked for). */
int rcluster_ready(const rcluster *rc);
/* Sends a command to the master of its key's slot (rcluster_key_index), or
 * to any master for a command with no key. 0: cb (may be NULL) is called
 * exactly once; -1: no topology yet or out of memory, nothing sent, cb never
 * called. argv strings are copied. */
int rcluster_command(rcluster *rc, rcluster_cb *cb, void *arg, int argc, const char **argv,
                     const size_t *lens);
/* "host:port" of each master now, for logs and tests: up to max into out,
 * returns how many. */
int rcluster_masters(const rcluster *rc, rcluster_addr *out, int max);

#endif
