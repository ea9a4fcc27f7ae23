/*
 * config.h - the options of `seatmapd serve`, from flags and environment
 * variables (flag wins), with their limits.
 */
#ifndef SEATMAP_CONFIG_H
#define SEATMAP_CONFIG_H

#include "log.h"
#include "peer.h"

#include <stddef.h>

#define SM_VERSION "0.1.0"

typedef struct config {
    char listen_host[256];
    int listen_port;
    char redis_url[512];
    char db_path[1024];
    char web_dir[1024];
    char demo_venue[1024];
    int demo;
    long hold_ttl_ms;         /* --hold-ttl, seconds on the command line */
    int max_seats;            /* seats per hold */
    int tick_ms;              /* delta coalescing period */
    int sweep_ms;             /* expiry sweep period */
    int rate;                 /* WebSocket requests per second per connection */
    long frozen_bound_ms;     /* a hold frozen longer than this is reconciled */
    size_t max_frame;         /* largest WebSocket message accepted */
    size_t max_queue;         /* bytes queued to one client before it is cut off */
    int stuck_reader_ms;      /* a fan-out frame unsent this long: its reader is cut off */
    int ws_ping_s;            /* WebSocket ping after this long without a pong; dropped
                               * at 7/4 of it (20 -> 35 s) */
    char metrics_listen[300]; /* --metrics-listen HOST:PORT, "" for the main port */
    char config_file[1024];   /* --config FILE, "" when none was read */
    /* operations (docs/operations.md) */
    sm_log_level log_level;   /* --log-level */
    sm_log_format log_format; /* --log-format */
    char log_file[1024];      /* --log-file: "" is stderr; SIGHUP reopens it */
    long shutdown_ms;         /* --shutdown-timeout: SIGTERM waits this long for requests */
    int reuse_port;           /* --reuse-port: SO_REUSEPORT, for rolling restarts */
    int workers;              /* --workers: processes sharing the port (supervisor.h) */
    int worker_id;            /* set by the supervisor: 1..workers in a worker, else 0 */
    char tls_cert[1024];      /* --tls-cert: PEM file; with tls_key, HTTPS and WSS */
    char tls_key[1024];       /* --tls-key */
    int http_redirect_port;   /* --http-redirect-port: plain HTTP that redirects, 0 none */
    peer_config trust_proxy;  /* --trust-proxy: whose X-Forwarded-For is believed */
    int webhook_timeout_ms;   /* a delivery attempt not answered 2xx by then failed */
    int webhook_backoff_ms;   /* the first retry's wait; doubles, capped at 10 min */
    int webhook_max_attempts; /* attempts before a delivery is dead */
    /* Per-address limits (docs/security.md); ip_limits 0 turns them all off. */
    int ip_limits;
    int max_conns;         /* open connections in all */
    int max_conns_per_ip;  /* open connections per address */
    int new_buyers_per_ip; /* new buyer identities per address per minute */
    int max_held_per_ip;   /* seats held per show per address */
} config;

#define CONFIG_LINE_MAX 4096  /* longest line of a config file */
#define CONFIG_WORKERS_MAX 64 /* --workers */

/*
 * Fills cfg from defaults, SEATMAP_* variables and argv (the words after
 * "serve"). 0 on success; on a bad flag writes one sentence into err and
 * returns -1.
 */
int config_parse(config *cfg, int argc, char **argv, char *err, size_t errlen);

/*
 * Applies the config file at path to cfg (config_parse does this for
 * --config). Lines are `name = value` or `name value`, where name is a
 * flag with or without its leading "--" (listen, redis, db, ...) or its
 * SEATMAP_* variable; `#` starts a comment line, blank lines are skipped;
 * a flag without a value (demo) takes true/false/1/0/yes/no. 0, or -1 with
 * "FILE:LINE: what is wrong" in err.
 */
int config_read_file(config *cfg, const char *path, char *err, size_t errlen);

/* Splits "HOST:PORT" (port 1..65535). 0, or -1 with a sentence in err. */
int config_split_addr(const char *v, char *host, size_t hostlen, int *port, char *err,
                      size_t errlen);

/*
 * Where an installed seatmapd keeps its data: PREFIX/share/seatmap, PREFIX
 * being the parent of the directory of the running binary, when that
 * directory exists (so the web pages and venues are found wherever the
 * package was installed); "" for a binary run from the build tree, whose
 * defaults ("web", "assets/venues/demo.json") are relative to the source
 * tree. out gets the directory without a trailing slash.
 */
void config_data_dir(char *out, size_t outlen);

#endif
