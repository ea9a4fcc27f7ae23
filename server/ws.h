/*
 * ws.h - the buyer's WebSocket protocol, `seatmap.v1` and `seatmap.v2` on /ws
 * (PROTOCOL.md, docs/protocol.md):
 * hello, watch, hold, release; replies and errors; the frame size limit and
 * the per-connection rate limit. Seat changes and snapshots are sent by
 * show.c to the connection's client (client.h).
 */
#ifndef SEATMAP_WS_H
#define SEATMAP_WS_H

#include "auth.h"
#include "keepalive.h"
#include "util.h"

#include <libwebsockets.h>
#include <stdint.h>

/* Buyer identities one connection may take over its life: a page that
 * switches identity now and then needs two or three; a script that mints
 * one per hold needs hundreds. Going back to one already used is free. */
#define WS_MAX_IDENTITIES 3

/* The subprotocols of /ws: the same requests and replies; v2 sends
 * snapshots and deltas as binary messages (proto_v2.h). A client that names
 * none gets v1. */
#define WS_PROTOCOL_V1 "seatmap.v1"
#define WS_PROTOCOL_V2 "seatmap.v2"

/* Per connection (lws allocates it, zeroed, and frees it after CLOSED). */
typedef struct ws_session {
    struct client *c;  /* the connection's queue, owned */
    struct watcher *w; /* the show it watches, or NULL */
    int hello;
    char buyer[AUTH_BUYER_LEN + 1]; /* the buyer's token: a secret */
    double tokens;                  /* rate limit bucket */
    int64_t tokens_at;
    sm_buf rx;      /* a message arriving in fragments */
    int ops;        /* holds and releases waiting for Redis */
    int parked;     /* requests waiting for a show's load (ws.c) */
    char addr[64];  /* the client's address (http_client_addr) */
    int identities; /* buyer identities this connection has taken: */
    char identity[WS_MAX_IDENTITIES][AUTH_BUYER_ID_LEN + 1]; /* their ids */
    int refused;           /* messages refused by the rate limit in this second */
    int64_t refused_since; /* when this second of counting began */
    int flood_seconds;     /* seconds running, before this one, over the flood bound */
    int flooding;          /* past WS_FLOOD_REFUSED: input dropped, closing with 1008 */
    char session_hash[AUTH_HASH_HEX + 1]; /* of the staff session cookie at the upgrade, or "" */
    int admin;                            /* subscribed to the admin dashboard's feed */
    keepalive_entry ka;                   /* in the pings' list while connected */
} ws_session;

/* Open WebSocket connections of this process. */
size_t ws_connections(void);

struct app;

/* Pings connections --ws-ping-s after their last pong (or opening) and
 * drops those whose pong has not come at 7/4 of it; called every few
 * hundred ms (server.c). lws's own per-connection validity timer is off
 * (keepalive.h says why). */
void ws_keepalive_check(struct app *a);

/* One complete text message of the session, answered on pss->c: the seam
 * the fuzzer (tests/fuzz/fuzz_ws.c) drives with a socketless client
 * (client_new(NULL, ...)), pss set up as on_established does. data need not
 * be NUL-terminated. */
void ws_handle_message(struct app *a, ws_session *pss, const char *data, size_t len);

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

#endif
