/*
 * frame.c - see frame.h.
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

frame *frame_new_mode(frame_mode mode, const char *data, size_t len)
{
    frame *f = malloc(sizeof(*f) + LWS_PRE + len + 1);
    if (!f)
        return NULL;
    f->refs = 1;
    f->mode = mode;
    f->len = len;
    f->req_type = NULL;
    f->req_t0 = 0;
    if (len)
        memcpy(f->buf + LWS_PRE, data, len);
    f->buf[LWS_PRE + len] = '\0';
    return f;
}

frame *frame_new(const char *data, size_t len)
{
    return frame_new_mode(FRAME_TEXT, data, len);
}

void frame_unref(frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}
