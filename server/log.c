/*
 * log.c - levels, text or JSON lines, a reopenable file, request ids (see
 * log.h).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static struct {
    sm_log_level level;
    sm_log_format format;
    int fd; /* 2 (stderr) or our file */
    char path[1024];
    uint32_t id_prefix;
    uint32_t id_next;
    int worker; /* --workers: this worker's number, 0 when not a worker */
} L = {SM_LOG_INFO, SM_LOG_TEXT, 2, "", 0, 0, 0};

void sm_log_set_worker(int id)
{
    L.worker = id;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int sm_log_parse_level(const char *s, sm_log_level *out)
{
    int i;
    for (i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (sm_log_level)i;
            return 0;
        }
    if (strcmp(s, "warning") == 0) {
        *out = SM_LOG_WARN;
        return 0;
    }
    return -1;
}

int sm_log_parse_format(const char *s, sm_log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = SM_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = SM_LOG_JSON;
    else
        return -1;
    return 0;
}

const char *sm_log_level_name(sm_log_level lv)
{
    return lv >= SM_LOG_DEBUG && lv <= SM_LOG_ERROR ? level_names[lv] : "error";
}

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int sm_log_setup(sm_log_level lv, sm_log_format fmt, const char *path, char *err, size_t errlen)
{
    if (path && *path) {
        int fd;
        if (strlen(path) >= sizeof(L.path)) {
            snprintf(err, errlen, "the log file name is too long");
            return -1;
        }
        if ((fd = open_file(path)) < 0) {
            snprintf(err, errlen, "cannot open the log file %s: %s", path, strerror(errno));
            return -1;
        }
        if (L.fd != 2)
            close(L.fd);
        L.fd = fd;
        strcpy(L.path, path);
    }
    L.level = lv;
    L.format = fmt;
    return 0;
}

int sm_log_reopen(void)
{
    int fd;
    if (L.fd == 2 || !L.path[0])
        return 0;
    if ((fd = open_file(L.path)) < 0) {
        sm_logf(SM_LOG_ERROR, NULL,
                "cannot reopen the log file %s: %s; still writing to the old one", L.path,
                strerror(errno));
        return -1;
    }
    /* Ledger threads log too: the descriptor number stays and now names the
     * new file (dup3 swaps it atomically, keeping close-on-exec), so no thread writes to a closed
     * or reused one. */
    if (dup3(fd, L.fd, O_CLOEXEC) < 0) {
        close(fd);
        sm_logf(SM_LOG_ERROR, NULL,
                "cannot reopen the log file %s: %s; still writing to the old one", L.path,
                strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

void sm_log_reset(void)
{
    if (L.fd != 2)
        close(L.fd);
    L.fd = 2;
    L.path[0] = '\0';
    L.level = SM_LOG_INFO;
    L.format = SM_LOG_TEXT;
}

int sm_log_enabled(sm_log_level lv)
{
    return lv >= L.level;
}

/* Appends s to out[*n..cap), escaped for a JSON string (json) or with
 * control characters as \n, \t, \xNN (text): one event stays one line. */
static void put_escaped(char *out, size_t *n, size_t cap, const char *s, int json)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && *n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n' || c == '\r' || c == '\t') {
            out[(*n)++] = '\\';
            out[(*n)++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (json && (c == '"' || c == '\\')) {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[(*n)++] = '\\';
            if (json) {
                memcpy(out + *n, "u00", 3);
                *n += 3;
            } else {
                out[(*n)++] = 'x';
            }
            out[(*n)++] = hex[c >> 4];
            out[(*n)++] = hex[c & 15];
        } else {
            out[(*n)++] = (char)c;
        }
    }
}

static void put(char *out, size_t *n, size_t cap, const char *s)
{
    size_t k = strlen(s);
    if (*n + k >= cap)
        k = cap - *n - 1;
    memcpy(out + *n, s, k);
    *n += k;
}

void sm_logf(sm_log_level lv, const char *req, const char *fmt, ...)
{
    char msg[SM_LOG_LINE_MAX], line[SM_LOG_LINE_MAX * 2 + 256], ts[96], pid[64];
    size_t n = 0, cap = sizeof(line) - 2;
    struct timespec t;
    struct tm tm;
    va_list ap;
    int m;

    if (!sm_log_enabled(lv))
        return;
    clock_gettime(CLOCK_REALTIME, &t);
    gmtime_r(&t.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t.tv_nsec / 1000000);
    va_start(ap, fmt);
    m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m >= (int)sizeof(msg))
        memcpy(msg + sizeof(msg) - 6, "[...]", 6);
    if (L.format == SM_LOG_JSON) {
        put(line, &n, cap, "{\"ts\":\"");
        put(line, &n, cap, ts);
        put(line, &n, cap, "\",\"level\":\"");
        put(line, &n, cap, sm_log_level_name(lv));
        if (L.worker)
            snprintf(pid, sizeof(pid), "\",\"pid\":%ld,\"worker\":%d,\"msg\":\"", (long)getpid(),
                     L.worker);
        else
            snprintf(pid, sizeof(pid), "\",\"pid\":%ld,\"msg\":\"", (long)getpid());
        put(line, &n, cap, pid);
        put_escaped(line, &n, cap, msg, 1);
        if (req) {
            put(line, &n, cap, "\",\"req\":\"");
            put_escaped(line, &n, cap, req, 1);
        }
        put(line, &n, cap, "\"}");
    } else {
        put(line, &n, cap, ts);
        put(line, &n, cap, " seatmapd ");
        if (L.worker) {
            snprintf(pid, sizeof(pid), "worker=%d ", L.worker);
            put(line, &n, cap, pid);
        }
        put(line, &n, cap, sm_log_level_name(lv));
        put(line, &n, cap, ": ");
        put_escaped(line, &n, cap, msg, 0);
        if (req) {
            put(line, &n, cap, " req=");
            put_escaped(line, &n, cap, req, 0);
        }
    }
    line[n++] = '\n';
    while (write(L.fd, line, n) < 0 && errno == EINTR)
        ;
}

void sm_log_new_id(char out[SM_LOG_ID_LEN + 1])
{
    if (!L.id_prefix) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL);
        L.id_prefix = r ? r : 1;
    }
    snprintf(out, SM_LOG_ID_LEN + 1, "%08x%08x", L.id_prefix, ++L.id_next);
}
