/*
 * config.c - flags and environment of `seatmapd serve` (see config.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OPT_STR, OPT_LISTEN, OPT_SECONDS, OPT_INT, OPT_FLAG, OPT_ONOFF } opt_kind;

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
    {"--demo", "SEATMAP_DEMO", OPT_FLAG, O(demo), 0, 1},
    {"--ip-limits", "SEATMAP_IP_LIMITS", OPT_ONOFF, O(ip_limits), 0, 1},
    {"--max-conns", "SEATMAP_MAX_CONNS", OPT_INT, O(max_conns), 1, 1000000},
    {"--max-conns-per-ip", "SEATMAP_MAX_CONNS_PER_IP", OPT_INT, O(max_conns_per_ip), 1, 1000000},
    {"--new-buyers-per-ip", "SEATMAP_NEW_BUYERS_PER_IP", OPT_INT, O(new_buyers_per_ip), 1, 1000000},
    {"--max-held-per-ip", "SEATMAP_MAX_HELD_PER_IP", OPT_INT, O(max_held_per_ip), 1, 1000000},
};
#undef O

static int set_listen(config *cfg, const char *v, char *err, size_t errlen)
{
    const char *colon = strrchr(v, ':');
    char *end;
    long port;
    size_t n;

    if (!colon) {
        snprintf(err, errlen, "--listen wants HOST:PORT, got '%s'", v);
        return -1;
    }
    n = (size_t)(colon - v);
    port = strtol(colon + 1, &end, 10);
    if (n == 0 || n >= sizeof(cfg->listen_host) || *end || port < 1 || port > 65535) {
        snprintf(err, errlen, "--listen wants HOST:PORT with a port from 1 to 65535, got '%s'", v);
        return -1;
    }
    memcpy(cfg->listen_host, v, n);
    cfg->listen_host[n] = '\0';
    cfg->listen_port = (int)port;
    return 0;
}

static int set_option(config *cfg, const option_def *o, const char *v, char *err, size_t errlen)
{
    char *p = (char *)cfg + o->off, *end;

    switch (o->kind) {
    case OPT_LISTEN:
        return set_listen(cfg, v, err, errlen);
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
        *(int *)(void *)p = !(strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || !*v);
        return 0;
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

int config_parse(config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    size_t i;
    int a;

    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    strcpy(cfg->redis_url, "redis://127.0.0.1:6379/0");
    strcpy(cfg->db_path, "seatmap.db");
    strcpy(cfg->web_dir, "web");
    strcpy(cfg->demo_venue, "assets/venues/demo.json");
    cfg->hold_ttl_ms = 10 * 60 * 1000;
    cfg->max_seats = 10;
    cfg->tick_ms = 50;
    cfg->sweep_ms = 100;
    cfg->rate = 50;
    cfg->frozen_bound_ms = 10000;
    cfg->max_frame = 16 * 1024;
    cfg->max_queue = 4 * 1024 * 1024;
    cfg->ip_limits = 1;
    cfg->max_conns = 20000;
    cfg->max_conns_per_ip = 256;
    cfg->new_buyers_per_ip = 60;
    cfg->max_held_per_ip = 100;

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
        for (i = 0; i < sizeof(options) / sizeof(options[0]); i++)
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
    return 0;
}
