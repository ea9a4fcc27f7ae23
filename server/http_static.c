/*
 * http_static.c - files of the web directory (see http_static.h).
 */
#include "http_static.h"

#include <string.h>
#include <sys/stat.h>

static const char *mime_of(const char *path)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"},
                 {".json", "application/json"},
                 {".webmanifest", "application/manifest+json"},
                 {".woff2", "font/woff2"},
                 {".txt", "text/plain; charset=utf-8"}};
    const char *dot = strrchr(path, '.');
    size_t i;
    for (i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].mime;
    return NULL;
}

http_static_rc http_static_serve(http_req *r, struct lws *wsi, const char *web_dir)
{
    char file[2048], extra[256];
    const char *rel = http_req_path(r), *mime;
    struct stat st;
    int n;

    if (strcmp(rel, "/") == 0)
        rel = "/index.html";
    else if (strcmp(rel, "/boxoffice") == 0 || strcmp(rel, "/boxoffice/") == 0)
        rel = "/boxoffice.html";
    else if (strcmp(rel, "/admin") == 0 || strcmp(rel, "/admin/") == 0)
        rel = "/admin.html";
    mime = mime_of(rel);
    if (strstr(rel, "..") || strstr(rel, "//") || !mime) {
        http_respond_error(r, OUT_NOT_FOUND, "no such page", NULL);
        return HTTP_STATIC_ANSWERED;
    }
    snprintf(file, sizeof(file), "%s%s", web_dir, rel);
    if (stat(file, &st) || !S_ISREG(st.st_mode)) {
        http_respond_error(r, OUT_NOT_FOUND, "no such page", NULL);
        return HTTP_STATIC_ANSWERED;
    }
    /* A page takes GET and HEAD (lws sends a HEAD the headers only) */
    if (http_req_method(r) != HTTP_GET && http_req_method(r) != HTTP_HEAD) {
        http_req_set_allow(r, "GET, HEAD");
        http_respond_error(r, OUT_METHOD_NOT_ALLOWED, NULL, NULL);
        return HTTP_STATIC_ANSWERED;
    }
    n = http_req_extra_headers(r, extra, sizeof(extra));
    n = lws_serve_http_file(wsi, file, mime, n > 0 ? extra : NULL, n > 0 ? n : 0);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
        return HTTP_STATIC_CLOSE;
    return HTTP_STATIC_SERVING;
}
