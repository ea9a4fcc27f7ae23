/*
 * ws.h - the buyer's WebSocket protocol, `seatmap.v1` on /ws (PROTOCOL.md):
 * hello, watch, hold, release; replies and errors; the frame size limit and
 * the per-connection rate limit. Seat changes and snapshots are sent by
 * show.c through client.h.
 */
#ifndef SEATMAP_WS_H
#define SEATMAP_WS_H

#include <libwebsockets.h>

typedef struct ws_session {
    struct client *c;
} ws_session;

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

#endif
