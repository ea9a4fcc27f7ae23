/*
 * util.c - clocks, sm_buf and identifier checks (see util.h).
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t sm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sm_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int valid_id(const char *s, size_t max, int allow_dot)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || (allow_dot && c == '.');
        if (!ok || n >= max)
            return 0;
    }
    return n > 0;
}

int sm_valid_show_id(const char *s)
{
    return valid_id(s, SM_SHOW_ID_MAX, 0);
}

int sm_valid_seat_id(const char *s)
{
    return valid_id(s, SM_SEAT_ID_MAX, 1);
}

int64_t sm_json_int(double v, int64_t dflt)
{
    const double max = 9007199254740991.0;
    return v >= -max && v <= max ? (int64_t)v : dflt; /* NaN fails both */
}

uint64_t sm_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 offset basis */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void sm_buf_init(sm_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
    b->failed = 0;
}

void sm_buf_free(sm_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void sm_buf_reset(sm_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

int sm_buf_reserve(sm_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return -1;
    if (extra > b->limit || b->len > b->limit - extra) {
        b->failed = 1;
        return -1;
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int sm_buf_add(sm_buf *b, const void *p, size_t n)
{
    if (sm_buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sm_buf_adds(sm_buf *b, const char *s)
{
    return sm_buf_add(b, s, strlen(s));
}

int sm_buf_addc(sm_buf *b, char c)
{
    return sm_buf_add(b, &c, 1);
}

int sm_buf_printf(sm_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        b->failed = 1;
    if (n < 0 || sm_buf_reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int sm_buf_add_json_str(sm_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (sm_buf_addc(b, '"'))
        return -1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = sm_buf_add(b, e, 2);
        } else if (c == '\n') {
            rc = sm_buf_add(b, "\\n", 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = sm_buf_add(b, e, 6);
        } else {
            rc = sm_buf_addc(b, (char)c);
        }
        if (rc)
            return -1;
    }
    return sm_buf_addc(b, '"');
}

int sm_buf_failed(const sm_buf *b)
{
    return b->failed;
}

char *sm_buf_steal(sm_buf *b, size_t *len)
{
    char *p = b->data;
    if (b->failed) {
        free(p);
        p = NULL;
    }
    if (len)
        *len = p ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
    return p;
}
