/*
 * shutdown.h - a stop nobody notices (SIGTERM): stop accepting, answer every
 * request in flight (a confirmation that started is committed and
 * answered), close WebSockets with 1001 "going away" once their requests
 * are answered so pages reconnect at once, then stop, or stop anyway after
 * --shutdown-timeout.
 *
 * With --reuse-port another seatmapd listens on the same port: closing our
 * listening socket sends every new connection there, which makes a rolling
 * restart (start the new, SIGTERM the old).
 */
#ifndef SEATMAP_SHUTDOWN_H
#define SEATMAP_SHUTDOWN_H

#include "app.h"

/* Starts draining a; calls done(a) once on the loop when nothing is in
 * flight any more or the bound has passed. Later calls are no-ops. */
void shutdown_begin(app *a, void (*done)(app *a));

#endif
