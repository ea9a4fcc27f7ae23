/*
 * http_static.h - the pages: files of the web directory (--web), served by
 * lws itself. "/" is index.html and "/boxoffice" boxoffice.html; only known
 * file types, never a path with ".." or "//".
 */
#ifndef SEATMAP_HTTP_STATIC_H
#define SEATMAP_HTTP_STATIC_H

#include "http_request.h"

typedef enum http_static_rc {
    HTTP_STATIC_SERVING = 0, /* lws owns the transaction now */
    HTTP_STATIC_ANSWERED,    /* answered with an error through r */
    HTTP_STATIC_CLOSE,       /* close the connection */
} http_static_rc;

http_static_rc http_static_serve(http_req *r, struct lws *wsi, const char *web_dir);

#endif
