/*
 * client.h - one WebSocket connection of a buyer's browser: its identity,
 * the show it watches, its bounded queue of outgoing frames, and its rate
 * limit. ws.c speaks the protocol; show.c fans frames out to clients.
 *
 * Lifetime: a client is allocated when the socket opens and reference
 * counted; an asynchronous Redis call holds a reference, so a reply that
 * arrives after the socket closed finds the client with wsi == NULL and
 * answers nobody.
 */
#ifndef SEATMAP_CLIENT_H
#define SEATMAP_CLIENT_H

#include "auth.h"
#include "frame.h"
#include "util.h"

#include <stdint.h>

#define CLIENT_QUEUE_MAX 1024 /* frames queued before the client is cut off */
#define CLIENT_QUEUE_MIN 8    /* the queue starts this small and doubles as needed */

struct show;
struct app;

typedef struct client {
    struct app *app;
    struct lws *wsi; /* NULL once closed */
    int refs;
    int established; /* the handshake is done: frames may be written */
    int hello;
    char buyer[AUTH_BUYER_LEN + 1];
    char buyer_id[AUTH_BUYER_ID_LEN + 1];
    struct client *buyer_next, *buyer_prev; /* connections of the same buyer */
    struct show *show;                      /* watched show, or NULL */
    struct client *watch_next, *watch_prev; /* watchers of that show */
    int need_snapshot;                      /* snapshot owed once the show is synced */
    frame **queue;                          /* ring of qcap frames, grown up to CLIENT_QUEUE_MAX */
    unsigned qcap, qhead, qcount;
    size_t qbytes;
    int close_code; /* set: close with this code at the next writeable */
    double tokens;  /* rate limit bucket */
    int64_t tokens_at;
    sm_buf rx; /* a message arriving in fragments */
} client;

/* Queues a frame (takes a new reference) and asks lws for a writeable
 * callback. A client whose queue is full is marked to be cut off (1008). */
void client_send(client *c, frame *f);
/* Copies text into a new frame and queues it. */
void client_send_text(client *c, const char *text, size_t len);
void client_unref(client *c);

#endif
