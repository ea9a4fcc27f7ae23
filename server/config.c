/*
 * config.c - flags and environment of `seatmapd serve` (see config.h).
 */
#include "config.h"

#include "client.h" /* CLIENT_STUCK_MS, the default of --stuck-reader-ms */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum {
    OPT_STR,
    OPT_LISTEN,
    OPT_SECONDS,
    OPT_INT,
    OPT_FLAG,
    OPT_LOG_LEVEL,
    OPT_LOG_FORMAT,
    OPT_CIDRS,
    OPT_ADDR,
    OPT_ONOFF
} opt_kind;

typedef struct option_def {
    const char *flag;
    const char *env;
    opt_kind kind;
    size_t off;
    size_t size;
    long min, max;
} option_def;

#define O(f) offsetof(config, f), sizeof(((config *)0)->f)
static const option_def options[] = {
    {"--listen", "SEATMAP_LISTEN", OPT_LISTEN, O(listen_host), 0, 0},
    {"--redis", "SEATMAP_REDIS", OPT_STR, O(redis_url), 0, 0},
    {"--db", "SEATMAP_DB", OPT_STR, O(db_path), 0, 0},
    {"--web", "SEATMAP_WEB", OPT_STR, O(web_dir), 0, 0},
    {"--demo-venue", "SEATMAP_DEMO_VENUE", OPT_STR, O(demo_venue), 0, 0},
    {"--hold-ttl", "SEATMAP_HOLD_TTL", OPT_SECONDS, O(hold_ttl_ms), 100, 86400000},
    {"--max-seats", "SEATMAP_MAX_SEATS", OPT_INT, O(max_seats), 1, 100},
    {"--tick-ms", "SEATMAP_TICK_MS", OPT_INT, O(tick_ms), 5, 1000},
    {"--sweep-ms", "SEATMAP_SWEEP_MS", OPT_INT, O(sweep_ms), 10, 250},
    {"--rate", "SEATMAP_RATE", OPT_INT, O(rate), 1, 100000},
    {"--stuck-reader-ms", "SEATMAP_STUCK_READER_MS", OPT_INT, O(stuck_reader_ms), 1000, 3600000},
    {"--ws-ping-s", "SEATMAP_WS_PING_S", OPT_INT, O(ws_ping_s), 1, 3600},
    {"--demo", "SEATMAP_DEMO", OPT_FLAG, O(demo), 0, 1},
    {"--metrics-listen", "SEATMAP_METRICS_LISTEN", OPT_ADDR, O(metrics_listen), 0, 0},
    {"--log-level", "SEATMAP_LOG_LEVEL", OPT_LOG_LEVEL, O(log_level), 0, 0},
    {"--log-format", "SEATMAP_LOG_FORMAT", OPT_LOG_FORMAT, O(log_format), 0, 0},
    {"--log-file", "SEATMAP_LOG_FILE", OPT_STR, O(log_file), 0, 0},
    {"--shutdown-timeout", "SEATMAP_SHUTDOWN_TIMEOUT", OPT_SECONDS, O(shutdown_ms), 100, 3600000},
    {"--reuse-port", "SEATMAP_REUSE_PORT", OPT_FLAG, O(reuse_port), 0, 1},
    {"--workers", "SEATMAP_WORKERS", OPT_INT, O(workers), 1, CONFIG_WORKERS_MAX},
    {"--tls-cert", "SEATMAP_TLS_CERT", OPT_STR, O(tls_cert), 0, 0},
    {"--tls-key", "SEATMAP_TLS_KEY", OPT_STR, O(tls_key), 0, 0},
    {"--http-redirect-port", "SEATMAP_HTTP_REDIRECT_PORT", OPT_INT, O(http_redirect_port), 1,
     65535},
    {"--trust-proxy", "SEATMAP_TRUST_PROXY", OPT_CIDRS, O(trust_proxy), 0, 0},
    {"--webhook-timeout-ms", "SEATMAP_WEBHOOK_TIMEOUT_MS", OPT_INT, O(webhook_timeout_ms), 100,
     600000},
    {"--webhook-backoff-ms", "SEATMAP_WEBHOOK_BACKOFF_MS", OPT_INT, O(webhook_backoff_ms), 1,
     600000},
    {"--webhook-max-attempts", "SEATMAP_WEBHOOK_MAX_ATTEMPTS", OPT_INT, O(webhook_max_attempts), 1,
     100},
    {"--ip-limits", "SEATMAP_IP_LIMITS", OPT_ONOFF, O(ip_limits), 0, 1},
    {"--max-conns", "SEATMAP_MAX_CONNS", OPT_INT, O(max_conns), 1, 1000000},
    {"--max-conns-per-ip", "SEATMAP_MAX_CONNS_PER_IP", OPT_INT, O(max_conns_per_ip), 1, 1000000},
    {"--new-buyers-per-ip", "SEATMAP_NEW_BUYERS_PER_IP", OPT_INT, O(new_buyers_per_ip), 1, 1000000},
    {"--max-held-per-ip", "SEATMAP_MAX_HELD_PER_IP", OPT_INT, O(max_held_per_ip), 1, 1000000},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))
#undef O

int config_split_addr(const char *v, char *host, size_t hostlen, int *port, char *err,
                      size_t errlen)
{
    const char *colon = strrchr(v, ':');
    char *end;
    long p;
    size_t n;

    if (!colon) {
        snprintf(err, errlen, "wants HOST:PORT, got '%s'", v);
        return -1;
    }
    n = (size_t)(colon - v);
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (n == 0 || n >= hostlen || *end || end == colon + 1 || errno || p < 1 || p > 65535) {
        snprintf(err, errlen, "wants HOST:PORT with a port from 1 to 65535, got '%s'", v);
        return -1;
    }
    memcpy(host, v, n);
    host[n] = '\0';
    *port = (int)p;
    return 0;
}

static int set_listen(config *cfg, const char *flag, const char *v, char *err, size_t errlen)
{
    char why[400];
    if (config_split_addr(v, cfg->listen_host, sizeof(cfg->listen_host), &cfg->listen_port, why,
                          sizeof(why))) {
        snprintf(err, errlen, "%s %s", flag, why);
        return -1;
    }
    return 0;
}

static int set_option(config *cfg, const option_def *o, const char *v, char *err, size_t errlen)
{
    char *p = (char *)cfg + o->off, *end;

    switch (o->kind) {
    case OPT_LISTEN:
        return set_listen(cfg, o->flag, v, err, errlen);
    case OPT_ADDR: {
        char host[256], why[400];
        int port;
        if (strlen(v) >= o->size ||
            config_split_addr(v, host, sizeof(host), &port, why, sizeof(why))) {
            snprintf(err, errlen, "%s %s", o->flag, strlen(v) >= o->size ? "is too long" : why);
            return -1;
        }
        strcpy(p, v);
        return 0;
    }
    case OPT_STR:
        if (!*v || strlen(v) >= o->size) {
            snprintf(err, errlen, "%s: value is empty or too long", o->flag);
            return -1;
        }
        strcpy(p, v);
        return 0;
    case OPT_SECONDS: {
        double s;
        errno = 0;
        s = strtod(v, &end);
        if (errno || *end || end == v || s * 1000 < o->min || s * 1000 > o->max) {
            snprintf(err, errlen, "%s wants seconds from %.1f to %ld, got '%s'", o->flag,
                     o->min / 1000.0, o->max / 1000, v);
            return -1;
        }
        *(long *)(void *)p = (long)(s * 1000 + 0.5);
        return 0;
    }
    case OPT_INT: {
        long n;
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || *end || end == v || n < o->min || n > o->max) {
            snprintf(err, errlen, "%s wants a whole number from %ld to %ld, got '%s'", o->flag,
                     o->min, o->max, v);
            return -1;
        }
        *(int *)(void *)p = (int)n;
        return 0;
    }
    case OPT_FLAG:
        *(int *)(void *)p =
            !(strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || !*v);
        return 0;
    case OPT_LOG_LEVEL:
        if (sm_log_parse_level(v, (sm_log_level *)(void *)p) == 0)
            return 0;
        snprintf(err, errlen, "--log-level wants debug, info, warn or error, got '%s'", v);
        return -1;
    case OPT_LOG_FORMAT:
        if (sm_log_parse_format(v, (sm_log_format *)(void *)p) == 0)
            return 0;
        snprintf(err, errlen, "--log-format wants text or json, got '%s'", v);
        return -1;
    case OPT_CIDRS:
        return peer_config_parse((peer_config *)(void *)p, v, err, errlen);
    case OPT_ONOFF:
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
            snprintf(err, errlen, "%s wants on or off, got '%s'", o->flag, v);
            return -1;
        }
        *(int *)(void *)p = strcmp(v, "on") == 0;
        return 0;
    }
    return -1;
}

/* Flags of docs/operations.md that only make sense together. */
static int config_check_ops(const config *cfg, char *err, size_t errlen)
{
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together: give both or neither");
        return -1;
    }
    if (cfg->http_redirect_port && !cfg->tls_cert[0]) {
        snprintf(err, errlen,
                 "--http-redirect-port redirects to HTTPS: it needs --tls-cert and "
                 "--tls-key");
        return -1;
    }
    if (cfg->workers > 1 && cfg->metrics_listen[0]) {
        char host[256], why[400];
        int port = 0;
        /* each worker scrapes on a port of its own: PORT, PORT+1, ... */
        if (config_split_addr(cfg->metrics_listen, host, sizeof(host), &port, why, sizeof(why)) ||
            port + cfg->workers - 1 > 65535) {
            snprintf(err, errlen,
                     "--metrics-listen with --workers %d needs the ports PORT to PORT+%d free and "
                     "below 65536",
                     cfg->workers, cfg->workers - 1);
            return -1;
        }
        if (cfg->listen_port >= port && cfg->listen_port <= port + cfg->workers - 1) {
            snprintf(err, errlen,
                     "--metrics-listen with --workers %d takes the ports %d to %d, which include "
                     "the --listen port %d",
                     cfg->workers, port, port + cfg->workers - 1, cfg->listen_port);
            return -1;
        }
    }
    if (cfg->http_redirect_port == cfg->listen_port) {
        snprintf(err, errlen, "--http-redirect-port must differ from the --listen port (%d)",
                 cfg->listen_port);
        return -1;
    }
    return 0;
}

static int path_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

void config_data_dir(char *out, size_t outlen)
{
    char exe[PATH_MAX], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    out[0] = '\0';
    if (n <= 0)
        return;
    exe[n] = '\0';
    /* PREFIX/bin/seatmapd -> PREFIX */
    if (!(slash = strrchr(exe, '/')))
        return;
    *slash = '\0';
    if (!(slash = strrchr(exe, '/')))
        return;
    *slash = '\0';
    if ((size_t)snprintf(out, outlen, "%s/share/seatmap", exe) >= outlen ||
        !path_exists(out, "web"))
        out[0] = '\0';
}

static void set_defaults(config *cfg)
{
    char data[960]; /* fits web_dir and demo_venue with their suffixes */

    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    strcpy(cfg->redis_url, "redis://127.0.0.1:6379/0");
    strcpy(cfg->db_path, "seatmap.db");
    strcpy(cfg->web_dir, "web");
    strcpy(cfg->demo_venue, "assets/venues/demo.json");
    config_data_dir(data, sizeof(data));
    if (data[0]) {
        snprintf(cfg->web_dir, sizeof(cfg->web_dir), "%s/web", data);
        snprintf(cfg->demo_venue, sizeof(cfg->demo_venue), "%s/venues/demo.json", data);
    }
    cfg->hold_ttl_ms = 10 * 60 * 1000;
    cfg->max_seats = 10;
    cfg->tick_ms = 50;
    cfg->webhook_timeout_ms = 10000;
    cfg->webhook_backoff_ms = 1000;
    cfg->webhook_max_attempts = 8;
    cfg->sweep_ms = 100;
    cfg->rate = 50;
    cfg->frozen_bound_ms = 10000;
    cfg->max_frame = 16 * 1024;
    cfg->max_queue = 4 * 1024 * 1024;
    cfg->stuck_reader_ms = CLIENT_STUCK_MS;
    cfg->ws_ping_s = 20;
    cfg->log_level = SM_LOG_INFO;
    cfg->log_format = SM_LOG_TEXT;
    cfg->shutdown_ms = 10000;
    cfg->workers = 1;
    cfg->ip_limits = 1;
    cfg->max_conns = 20000;
    cfg->max_conns_per_ip = 256;
    cfg->new_buyers_per_ip = 60;
    cfg->max_held_per_ip = 100;
}

/* The option a config file's name means: "listen", "--listen" or
 * "SEATMAP_LISTEN". */
static const option_def *option_named(const char *name)
{
    size_t i;
    for (i = 0; i < NOPTIONS; i++)
        if (strcmp(name, options[i].flag) == 0 || strcmp(name, options[i].flag + 2) == 0 ||
            strcmp(name, options[i].env) == 0)
            return &options[i];
    return NULL;
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* One line of a config file; 0, or -1 with what is wrong in err. */
static int config_line(config *cfg, char *line, char *err, size_t errlen)
{
    char *name = trim(line), *value;
    const option_def *o;
    size_t n;

    if (!*name || *name == '#')
        return 0;
    n = strcspn(name, "= \t");
    value = name + n;
    if (*value) {
        char sep = *value;
        *value++ = '\0';
        value = trim(value);
        if (sep != '=' && *value == '=')
            value = trim(value + 1); /* "name = value" */
    }
    /* a value may be quoted, as in a shell or systemd environment file */
    n = strlen(value);
    if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
        value[n - 1] = '\0';
        value++;
    }
    if (!(o = option_named(name))) {
        snprintf(err, errlen, "unknown setting '%s'", name);
        return -1;
    }
    if (o->kind == OPT_FLAG) {
        if (strcmp(value, "true") && strcmp(value, "false") && strcmp(value, "1") &&
            strcmp(value, "0") && strcmp(value, "yes") && strcmp(value, "no") && *value) {
            snprintf(err, errlen, "%s wants true or false, got '%s'", name, value);
            return -1;
        }
        return set_option(cfg, o, *value ? value : "1", err, errlen);
    }
    if (!*value) {
        snprintf(err, errlen, "%s needs a value", name);
        return -1;
    }
    return set_option(cfg, o, value, err, errlen);
}

int config_read_file(config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[CONFIG_LINE_MAX + 2], why[512];
    int lineno = 0, rc = 0;

    if (!f) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    while (!rc && fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                     CONFIG_LINE_MAX);
            rc = -1;
        } else if (config_line(cfg, line, why, sizeof(why))) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (!rc)
        snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", path);
    return rc;
}

/* The value of --config in argv (the last one), or NULL; -1 when it has
 * none. */
static int find_config_flag(int argc, char **argv, const char **path, char *err, size_t errlen)
{
    int a;
    *path = NULL;
    for (a = 0; a < argc; a++) {
        if (strcmp(argv[a], "--config") != 0)
            continue;
        if (a + 1 >= argc) {
            snprintf(err, errlen, "--config needs a value");
            return -1;
        }
        *path = argv[++a];
    }
    return 0;
}

int config_parse(config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    size_t i;
    int a;
    const char *file;

    set_defaults(cfg);
    /* file < environment < command line */
    if (find_config_flag(argc, argv, &file, err, errlen))
        return -1;
    if (file && config_read_file(cfg, file, err, errlen))
        return -1;

    for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        const char *v = getenv(options[i].env);
        if (v && *v && set_option(cfg, &options[i], v, err, errlen)) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " (from %s)", options[i].env);
            return -1;
        }
    }
    for (a = 0; a < argc; a++) {
        const option_def *o = NULL;
        if (strcmp(argv[a], "--config") == 0) {
            a++; /* read first, above */
            continue;
        }
        for (i = 0; i < NOPTIONS; i++)
            if (strcmp(argv[a], options[i].flag) == 0)
                o = &options[i];
        if (!o) {
            snprintf(err, errlen, "unknown option '%s' (see seatmapd --help)", argv[a]);
            return -1;
        }
        if (o->kind == OPT_FLAG) {
            *(int *)(void *)((char *)cfg + o->off) = 1;
            continue;
        }
        if (a + 1 >= argc) {
            snprintf(err, errlen, "%s needs a value", o->flag);
            return -1;
        }
        if (set_option(cfg, o, argv[++a], err, errlen))
            return -1;
    }
    return config_check_ops(cfg, err, errlen);
}
