/*
 * log.h - the server's one logging module: one line per event, with a level,
 * as text (the default, for people) or JSON (for log shippers), to stderr or
 * to a file that SIGHUP reopens (logrotate's habit).
 *
 * Text:  2026-12-02T04:08:16.123Z seatmapd warn: message req=3fa9c2d100000012
 * JSON:  {"ts":"2026-12-02T04:08:16.123Z","level":"warn","pid":123,
 *         "msg":"message","req":"3fa9c2d100000012"}
 *
 * Every line is written with one write(2) on an O_APPEND descriptor, so
 * lines of several processes sharing one file never interleave. Control
 * characters in a message are escaped: a line is always one line.
 *
 * Never log a secret: tokens, cookies, passwords, buyer tokens, API tokens,
 * session ids. Callers log who and what (a user name, a show, a booking id,
 * a request id), never the credential that proved it.
 *
 * Not here: what is worth logging (each module decides).
 */
#ifndef SEATMAP_LOG_H
#define SEATMAP_LOG_H

#include <stddef.h>

typedef enum sm_log_level {
    SM_LOG_DEBUG = 0,
    SM_LOG_INFO = 1,
    SM_LOG_WARN = 2,
    SM_LOG_ERROR = 3,
} sm_log_level;

typedef enum sm_log_format {
    SM_LOG_TEXT = 0,
    SM_LOG_JSON = 1,
} sm_log_format;

#define SM_LOG_LINE_MAX 2048 /* a longer message is cut (and says so) */
#define SM_LOG_ID_LEN 16     /* request ids: 16 hex digits */

/* "debug", "info", "warn", "error" (and "warning"); 0 or -1. */
int sm_log_parse_level(const char *s, sm_log_level *out);
/* "text" or "json"; 0 or -1. */
int sm_log_parse_format(const char *s, sm_log_format *out);
const char *sm_log_level_name(sm_log_level lv);

/*
 * Sets the threshold and format, and opens `path` for appending (created
 * 0640) when it is not NULL or "": lines go there instead of stderr. 0, or
 * -1 with a sentence in err (the earlier settings stay).
 */
int sm_log_setup(sm_log_level lv, sm_log_format fmt, const char *path, char *err, size_t errlen);
/* Opens the log file anew under the same name (after logrotate moved it).
 * 0; -1 when it cannot (logging goes on to the old file, and says so). A
 * no-op when logging goes to stderr. */
int sm_log_reopen(void);
/* --workers: tags every later line of this process with worker=id (text)
 * or "worker":id (JSON); 0 (the default) tags nothing. */
void sm_log_set_worker(int id);
/* Back to stderr, text, info (closes a file). */
void sm_log_reset(void);

/* 1 when lines of this level are written: test it before costly formatting. */
int sm_log_enabled(sm_log_level lv);

/* One line. req: a request id to attach, or NULL. */
void sm_logf(sm_log_level lv, const char *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A new id for a request or a connection: 16 hex digits, a random
 * per-process prefix and a counter, so ids of several processes differ. */
void sm_log_new_id(char out[SM_LOG_ID_LEN + 1]);

#define sm_debug(...) sm_logf(SM_LOG_DEBUG, NULL, __VA_ARGS__)
#define sm_info(...) sm_logf(SM_LOG_INFO, NULL, __VA_ARGS__)
#define sm_warn(...) sm_logf(SM_LOG_WARN, NULL, __VA_ARGS__)
#define sm_error(...) sm_logf(SM_LOG_ERROR, NULL, __VA_ARGS__)

#endif
