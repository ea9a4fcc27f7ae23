/*
 * frame.h - a reference-counted outgoing WebSocket message, with the LWS_PRE
 * headroom lws_write needs, so one delta can be queued to ten thousand
 * clients without ten thousand copies.
 */
#ifndef SEATMAP_FRAME_H
#define SEATMAP_FRAME_H

#include <libwebsockets.h>
#include <stddef.h>

typedef struct frame {
    int refs;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes, then len bytes of text, then NUL */
} frame;

/* Copies data; refs = 1. NULL when out of memory. */
frame *frame_new(const char *data, size_t len);
static inline char *frame_text(frame *f)
{
    return (char *)f->buf + LWS_PRE;
}
static inline frame *frame_ref(frame *f)
{
    f->refs++;
    return f;
}
/* Drops a reference; frees the frame with the last one. */
void frame_unref(frame *f);

#endif
