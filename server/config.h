/*
 * config.h - the options of `seatmapd serve`, from flags and environment
 * variables (flag wins), with their limits.
 */
#ifndef SEATMAP_CONFIG_H
#define SEATMAP_CONFIG_H

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
    long hold_ttl_ms;     /* --hold-ttl, seconds on the command line */
    int max_seats;        /* seats per hold */
    int tick_ms;          /* delta coalescing period */
    int sweep_ms;         /* expiry sweep period */
    int rate;             /* WebSocket requests per second per connection */
    long frozen_bound_ms; /* a hold frozen longer than this is reconciled */
    size_t max_frame;     /* largest WebSocket message accepted */
    size_t max_queue;     /* bytes queued to one client before it is cut off */
    /* Per-address limits (docs/security.md); ip_limits 0 turns them all off. */
    int ip_limits;
    int max_conns;         /* open connections in all */
    int max_conns_per_ip;  /* open connections per address */
    int new_buyers_per_ip; /* new buyer identities per address per minute */
    int max_held_per_ip;   /* seats held per show per address */
} config;

/*
 * Fills cfg from defaults, SEATMAP_* variables and argv (the words after
 * "serve"). 0 on success; on a bad flag writes one sentence into err and
 * returns -1.
 */
int config_parse(config *cfg, int argc, char **argv, char *err, size_t errlen);

#endif
