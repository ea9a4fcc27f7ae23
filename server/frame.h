/*
 * frame.h - a reference-counted outgoing message, with the LWS_PRE headroom
 * lws_write needs, so one delta can be queued to ten thousand clients (or
 * one show layout to a thousand HTTP requests) without a copy each.
 *
 * A frame is immutable once made; its mode says how it goes on the wire.
 */
#ifndef SEATMAP_FRAME_H
#define SEATMAP_FRAME_H

#include <libwebsockets.h>
#include <stddef.h>

typedef enum frame_mode {
    FRAME_TEXT = 0,  /* one WebSocket text message */
    FRAME_BINARY,    /* one WebSocket binary message (seatmap.v2 seat events) */
    FRAME_HTTP_HEAD, /* the header block of an HTTP response */
    FRAME_HTTP_BODY, /* the whole body of an HTTP response; written in chunks */
} frame_mode;

typedef struct frame {
    int refs;
    frame_mode mode;
    size_t len;
    /* A reply to a WebSocket request: its type (a static string, a bounded
     * label) and when the request was read (metrics_now); the client
     * observes M_WS_REQUEST_SECONDS when it writes the frame. NULL: not a
     * reply. */
    const char *req_type;
    double req_t0;
    unsigned char buf[]; /* LWS_PRE bytes, then len bytes of data, then NUL */
} frame;

/* Copies data; refs = 1, mode FRAME_TEXT. NULL when out of memory. */
frame *frame_new(const char *data, size_t len);
/* The same with another mode. */
frame *frame_new_mode(frame_mode mode, const char *data, size_t len);
static inline frame *frame_ref(frame *f)
{
    f->refs++;
    return f;
}
/* Drops a reference; frees the frame with the last one. NULL is fine. */
void frame_unref(frame *f);

#endif
