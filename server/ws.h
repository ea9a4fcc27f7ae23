/*
 * ws.h - the buyer's WebSocket protocol, `seatmap.v1` on /ws (PROTOCOL.md):
 * hello, watch, hold, release; replies and errors; the frame size limit and
 * the per-connection rate limit. Seat changes and snapshots are sent by
 * show.c to the connection's client (client.h).
 */
#ifndef SEATMAP_WS_H
#define SEATMAP_WS_H

#include "auth.h"
#include "util.h"

#include <libwebsockets.h>
#include <stdint.h>

/* Per connection (lws allocates it, zeroed, and frees it after CLOSED). */
typedef struct ws_session {
    struct client *c;  /* the connection's queue, owned */
    struct watcher *w; /* the show it watches, or NULL */
    int hello;
    char buyer[AUTH_BUYER_LEN + 1]; /* the buyer's token: a secret */
    double tokens;                  /* rate limit bucket */
    int64_t tokens_at;
    sm_buf rx; /* a message arriving in fragments */
} ws_session;

struct app;

/* One complete text message of the session, answered on pss->c: the seam
 * the fuzzer (tests/fuzz/fuzz_ws.c) drives with a socketless client
 * (client_new(NULL, ...)), pss set up as on_established does. data need not
 * be NUL-terminated. */
void ws_handle_message(struct app *a, ws_session *pss, const char *data, size_t len);

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

#endif
