/*
 * server.h - `seatmapd serve`: opens the database, creates the demo show if
 * asked, starts lws on a libuv loop shared with hiredis, and runs until
 * SIGINT or SIGTERM.
 */
#ifndef SEATMAP_SERVER_H
#define SEATMAP_SERVER_H

#include "config.h"

/* Returns the process exit status. */
int server_run(const config *cfg);

#endif
