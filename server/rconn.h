/*
 * rconn.h - one plain asynchronous Redis connection on the libuv loop, for
 * modules that speak ordinary commands rather than the store's scripts (the
 * job queue and the webhook dispatcher). It reconnects with jittered backoff
 * (100 ms .. 5 s), selects the database, says "lost"/"back" once per outage,
 * and drops a connection whose command stays unanswered for 5 s.
 *
 * Why not the store's command connection: the store's connection carries the
 * seat transitions, and a queue's reads must never wait behind them or delay
 * them. Why no XREADGROUP BLOCK: hiredis 0.14.1 answers replies strictly in
 * order on a connection, so a blocked read would hold every later command on
 * it for the whole block time; the queue polls on a timer instead.
 *
 * With a redis+cluster:// URL it is a Redis Cluster client (rcluster.h)
 * instead: each command goes to the master of its key's slot, and "back"
 * means every slot's master answers again.
 *
 * Not here: what the commands mean.
 */
#ifndef SEATMAP_RCONN_H
#define SEATMAP_RCONN_H

#include <stddef.h>
#include <uv.h>

struct redisReply;
typedef struct rconn rconn;

/* The reply (a hiredis redisReply, valid only during the call; hiredis frees
 * it after), or NULL when the connection was lost or destroyed before the
 * answer. */
typedef void rconn_cb(void *arg, struct redisReply *reply);

/* Called after every (re)connect, once SELECT is sent: set-up commands go
 * here (the connection may be used at once). */
typedef void rconn_ready_cb(void *arg);

/* url as store_check_url takes it. 0 or a STORE_URL_E* / -1 code. Starts
 * connecting at once. *out belongs to the caller (rconn_destroy). */
int rconn_create(uv_loop_t *loop, const char *url, const char *name, rconn_ready_cb *on_ready,
                 void *arg, rconn **out);
/* Disconnects: pending callbacks run with NULL now; frees later (the loop
 * must run). */
void rconn_destroy(rconn *c);
/* 1 when connected. */
int rconn_up(const rconn *c);
/* Sends a command; 0: cb (may be NULL) is called exactly once; -1: not
 * connected, nothing sent, cb never called. argv strings are copied. */
int rconn_command(rconn *c, rconn_cb *cb, void *arg, int argc, const char **argv,
                  const size_t *lens);

#endif
