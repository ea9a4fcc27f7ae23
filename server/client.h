/*
 * client.h - one connection, HTTP or WebSocket, and its bounded queue of
 * outgoing frames; and the hub that finds a buyer's connections.
 *
 * Ownership: the protocol callback (ws.c, http.c) creates a client when the
 * connection opens and holds the first reference. Asynchronous work (a Redis
 * script, a password check) takes a reference of its own. When the socket
 * closes the callback calls client_detach, which drops the queue; a reply
 * that arrives after that finds client_connected() == 0 and its send is a
 * no-op. The last client_unref frees the client.
 *
 * Writing: client_send queues a frame (sharing it, never copying) and asks
 * lws for a writeable callback, where client_writeable writes one frame, or
 * one chunk of an HTTP body. A WebSocket text frame with nothing queued
 * before it is written at once (measured: see client.c). A client whose
 * queue passes its byte limit is closed (1008) rather than buffered without
 * bound: its page reconnects and gets a fresh snapshot.
 *
 * Two lanes: client_send (replies, events, HTTP) is the priority lane;
 * client_send_bulk is the fan-out lane, whose frames go out only when no
 * priority frame waits, so a buyer's answer never queues behind deltas.
 * Each fan-out frame carries the tag of its stream (a watcher): the sender
 * asks client_bulk_pending before sending the next one, and is called back
 * (client_set_drain) when a frame of its stream has left, so it sends one
 * merged frame instead of a queue of them. A stream with a frame that made
 * no progress for CLIENT_STUCK_MS (or what client_set_stuck_ms says: the
 * --stuck-reader-ms flag) gets its client closed (1008).
 *
 * Not here: what the frames say (ws.c, show.c, http_request.c).
 */
#ifndef SEATMAP_CLIENT_H
#define SEATMAP_CLIENT_H

#include "frame.h"

#include <stddef.h>

#define CLIENT_QUEUE_MAX 1024 /* frames queued before the client is cut off */
#define CLIENT_QUEUE_MIN 8    /* the queue starts this small and doubles as needed */
#define CLIENT_HTTP_CHUNK 32768
#define CLIENT_BUYER_ID_MAX 32
#define CLIENT_STUCK_MS 60000   /* default: a fan-out frame unsent this long, the reader is stuck */
#define CLIENT_CLOSE_WAIT_S 5   /* a client being cut off is closed after this at the latest */
#define CLIENT_BATCH_MAX 4      /* frames one batch holds back */
#define CLIENT_BATCH_BYTES 4096 /* ... written together when they fit in this */

typedef struct client client;

/* The encoding of seat events (snapshots, deltas) a WebSocket connection
 * negotiated: its subprotocol. Everything else it is sent is the same. */
typedef enum client_wire {
    CLIENT_WIRE_V1 = 0, /* seatmap.v1: JSON text (the default) */
    CLIENT_WIRE_V2,     /* seatmap.v2: binary (proto_v2.h) */
    CLIENT_WIRE_COUNT
} client_wire;
typedef struct client_hub client_hub;

/* A client of an open connection. max_queue: bytes queued before the client
 * is cut off. wsi NULL makes a client with no socket, whose frames stay in
 * its queue until taken with client_take (tests use it). NULL when out of
 * memory. */
client *client_new(struct lws *wsi, size_t max_queue);
void client_ref(client *c);
void client_unref(client *c);
/* The socket closed: drops the queue and leaves the hub; later sends are
 * no-ops. Call once, from the close callback. */
void client_detach(client *c);
/* 1 while the connection is open. */
int client_connected(const client *c);
/* 1 once the client is being cut off: the rest of its input is dropped. */
int client_closing(const client *c);

/* An id for log lines (16 hex digits, log.h). */
const char *client_id(const client *c);
/* Closes with 1001 "going away" once what is queued is written (a server
 * that stops); later sends are dropped, and so is the rest of its input. */
void client_go_away(client *c);
/* 1 once that close frame went out: the peer's close frame is its answer,
 * which must not be echoed (a second close frame makes browsers report the
 * close as 1006, abnormal). */
int client_close_sent(const client *c);

/* Queues a frame (takes a new reference; the caller keeps its own). */
void client_send(client *c, frame *f);
/* Fan-out: queues f behind every priority frame, tagged with its stream
 * (not NULL; takes a new reference to f). Written at once when nothing is
 * waiting. */
void client_send_bulk(client *c, frame *f, void *tag);
/* 1 while a fan-out frame of tag is queued or partly written. Also where a
 * stuck reader is found: one that made no fan-out progress for its stuck
 * time (client_set_stuck_ms) is cut off. */
int client_bulk_pending(client *c, const void *tag);
/* How long a fan-out frame may wait unsent before the reader counts as
 * stuck; CLIENT_STUCK_MS until set. ms > 0. */
void client_set_stuck_ms(client *c, int ms);
/* Called when a fan-out frame of a stream has left (written, taken, or
 * flushed by lws); it may send the stream's next frame from there (which is
 * then queued for the next writeable). tag stays the caller's. */
typedef void (*client_drain_fn)(client *c, void *tag);
void client_set_drain(client *c, client_drain_fn fn);
/* The stream tag ends (its owner is freed): its frames still queued go out
 * untagged, and no drain call names it. */
void client_forget(client *c, const void *tag);

/* A batch: the WebSocket frames client_send would write at once between
 * begin and end are held back and written together at the end, in one
 * system call (a request's reply and the events it causes to the same
 * connection). Nothing is reordered: any other send, fan-out or queued,
 * writes what was held back first. Batches nest; the outermost end writes.
 * Call end on every path after begin, connected or not. */
void client_batch_begin(client *c);
void client_batch_end(client *c);
/* Copies text into a new text frame and sends it. */
void client_send_text(client *c, const char *text, size_t len);

/* From the writeable callback: writes one frame or HTTP chunk. 0: fine,
 * 1: the last byte of an HTTP response went out, -1: close the connection
 * (after a close reason was set, if it was ours to give). */
int client_writeable(client *c);

/* Closes the socket at once, from outside lws's callbacks, without a close
 * frame (a peer that stopped answering). */
void client_kill(client *c);
/* A WebSocket ping, written at the next writeable between two frames
 * (the keepalive: ws.c). */
void client_ping(client *c);

/* For clients without a socket: the oldest queued frame (priority lane
 * first), or NULL. The caller owns the returned reference. Taking a fan-out
 * frame counts as its being written (the drain callback runs). */
frame *client_take(client *c);
size_t client_queued(const client *c);

/* Set once the connection is established (ws.c), read by the fan-out. */
void client_set_wire(client *c, client_wire wire);
client_wire client_get_wire(const client *c);

/* The buyer id this connection said hello as, "" before. */
const char *client_buyer_id(const client *c);

/* Every process-local connection of a buyer, by buyer id. */
client_hub *client_hub_new(void);
/* Only once no client is linked any more. */
void client_hub_free(client_hub *h);
/* Links c under buyer_id (leaving any earlier one); "" unlinks. 0 or -1. */
int client_hub_set_buyer(client_hub *h, client *c, const char *buyer_id);
/* Sends f to every connection of the buyer; 0 when it has none here. */
size_t client_hub_send(client_hub *h, const char *buyer_id, frame *f);
/* 1 when the buyer has a connection on this process. */
int client_hub_has(const client_hub *h, const char *buyer_id);

#endif
