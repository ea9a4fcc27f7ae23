/*
 * seats.c - fetch a show's seat list over HTTP and index it (see seats.h).
 */
#include "seats.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Largest layout document we read (a 200k-seat venue is about 20 MB). */
#define HTTP_MAX_BODY (64u * 1024u * 1024u)
#define HTTP_TIMEOUT_MS 30000

static uint32_t seats__hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/* Decodes a chunked body in place; returns the new length or -1. */
static long seats__dechunk(char *p, size_t n)
{
    size_t in = 0, out = 0;

    for (;;) {
        char *end;
        unsigned long sz = strtoul(p + in, &end, 16);
        char *crlf = memmem(p + in, n - in, "\r\n", 2);
        if (!crlf || end == p + in)
            return -1;
        in = (size_t)(crlf - p) + 2;
        if (sz == 0)
            return (long)out;
        if (in + sz > n)
            return -1;
        memmove(p + out, p + in, sz);
        out += sz;
        in += sz + 2;
        if (in > n)
            return -1;
    }
}

int http_get(const char *host, int port, const char *path, char **body, size_t *len, char *err,
             size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    char req[1024], *buf = NULL, *hend, *cl;
    size_t n = 0, cap = 0, hlen;
    long want = -1;
    int fd, status = -1, chunked;

    *body = NULL;
    *len = 0;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "bad address %s", host);
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "connect %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", path,
             host, port);
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
        goto io_error;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;
        if (n + 65536 + 1 > cap) {
            char *nb;
            cap = cap ? cap * 2 : 262144;
            if (cap > HTTP_MAX_BODY + 65536) {
                snprintf(err, errlen, "response too large");
                goto fail;
            }
            nb = realloc(buf, cap);
            if (!nb)
                goto io_error;
            buf = nb;
        }
        if (poll(&pfd, 1, HTTP_TIMEOUT_MS) <= 0) {
            snprintf(err, errlen, "GET %s: timeout", path);
            goto fail;
        }
        r = recv(fd, buf + n, cap - n - 1, 0);
        if (r < 0)
            goto io_error;
        if (r == 0)
            break;
        n += (size_t)r;
        buf[n] = 0;
        hend = strstr(buf, "\r\n\r\n");
        if (hend && want < 0) {
            cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl && cl < hend)
                want = (long)(hend - buf) + 4 + strtol(cl + 17, NULL, 10);
        }
        if (want >= 0 && (long)n >= want)
            break;
        if (hend && strcasestr(buf, "transfer-encoding: chunked") && n >= 5 &&
            memcmp(buf + n - 5, "0\r\n\r\n", 5) == 0)
            break;
    }
    close(fd);
    fd = -1;
    if (!buf || n < 12 || sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(err, errlen, "GET %s: no HTTP answer", path);
        goto fail;
    }
    hend = strstr(buf, "\r\n\r\n");
    if (!hend) {
        snprintf(err, errlen, "GET %s: truncated answer", path);
        goto fail;
    }
    *hend = 0;
    chunked = strcasestr(buf, "transfer-encoding: chunked") != NULL;
    hlen = (size_t)(hend - buf) + 4;
    memmove(buf, buf + hlen, n - hlen);
    n -= hlen;
    buf[n] = 0;
    if (chunked) {
        long m = seats__dechunk(buf, n);
        if (m < 0) {
            snprintf(err, errlen, "GET %s: bad chunked body", path);
            goto fail;
        }
        n = (size_t)m;
        buf[n] = 0;
    }
    *body = buf;
    *len = n;
    return status;
io_error:
    snprintf(err, errlen, "GET %s: %s", path, strerror(errno));
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return -1;
}

int seat_list_fetch(seat_list *s, const char *host, int port, const char *show, char *err,
                    size_t errlen)
{
    char path[256], *body = NULL;
    size_t blen, total = 0, pos = 0, tabsize = 1;
    cJSON *root = NULL, *arr, *it;
    int status;

    memset(s, 0, sizeof(*s));
    snprintf(path, sizeof(path), "/api/shows/%s", show);
    status = http_get(host, port, path, &body, &blen, err, errlen);
    if (status < 0)
        return -1;
    if (status != 200) {
        snprintf(err, errlen, "GET %s: status %d", path, status);
        goto fail;
    }
    root = cJSON_ParseWithLength(body, blen);
    arr = root ? cJSON_GetObjectItemCaseSensitive(root, "seats") : NULL;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        snprintf(err, errlen, "GET %s: no seats array", path);
        goto fail;
    }
    s->n = (size_t)cJSON_GetArraySize(arr);
    cJSON_ArrayForEach(it, arr)
    {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!cJSON_IsString(id)) {
            snprintf(err, errlen, "GET %s: a seat without id", path);
            goto fail;
        }
        total += strlen(id->valuestring) + 1;
    }
    while (tabsize < s->n * 2)
        tabsize *= 2;
    s->ids = calloc(s->n, sizeof(char *));
    s->blob = malloc(total);
    s->tab = calloc(tabsize, sizeof(uint32_t));
    if (!s->ids || !s->blob || !s->tab) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->mask = (uint32_t)(tabsize - 1);
    size_t i = 0;
    cJSON_ArrayForEach(it, arr)
    {
        const char *id = cJSON_GetObjectItemCaseSensitive(it, "id")->valuestring;
        size_t l = strlen(id);
        uint32_t h = seats__hash(id, l) & s->mask;
        memcpy(s->blob + pos, id, l + 1);
        s->ids[i] = s->blob + pos;
        pos += l + 1;
        while (s->tab[h])
            h = (h + 1) & s->mask;
        s->tab[h] = (uint32_t)i + 1;
        i++;
    }
    cJSON_Delete(root);
    free(body);
    return 0;
fail:
    cJSON_Delete(root);
    free(body);
    seat_list_free(s);
    return -1;
}

void seat_list_free(seat_list *s)
{
    free(s->ids);
    free(s->blob);
    free(s->tab);
    memset(s, 0, sizeof(*s));
}

long seat_list_find(const seat_list *s, const char *id, size_t n)
{
    uint32_t h = seats__hash(id, n) & s->mask;

    while (s->tab[h]) {
        const char *cand = s->ids[s->tab[h] - 1];
        if (strncmp(cand, id, n) == 0 && cand[n] == 0)
            return (long)s->tab[h] - 1;
        h = (h + 1) & s->mask;
    }
    return -1;
}
