/*
 * supervisor.h - `seatmapd serve --workers N`: one supervisor process forks
 * N workers that share the listening port (SO_REUSEPORT, as --reuse-port),
 * each a whole server with its own event loop (server.c). The kernel
 * spreads new connections over the workers; Redis pub/sub keeps their seat
 * caches one, exactly as for several seatmapd processes started by hand.
 *
 * The supervisor runs no loop and opens nothing but the log: it waits for
 * signals. A worker that dies is started again (at once when it had run a
 * while, with a doubling wait when it keeps dying at start); SIGTERM and
 * SIGINT are passed to every worker, which drain (shutdown.h), and the
 * supervisor exits when the last one is gone; SIGHUP is passed on too (log
 * reopen). Workers get SIGTERM if the supervisor itself dies.
 *
 * Not here: anything a worker does (server.c), the port sharing itself
 * (listen_share.c).
 */
#ifndef SEATMAP_SUPERVISOR_H
#define SEATMAP_SUPERVISOR_H

#include "config.h"

/* Delay before restarting a worker that died within
 * SUPERVISOR_QUICK_DEATH_MS of its start: SUPERVISOR_BACKOFF_MIN_MS,
 * doubled for each such death in a row, at most SUPERVISOR_BACKOFF_MAX_MS. */
#define SUPERVISOR_QUICK_DEATH_MS 5000
#define SUPERVISOR_BACKOFF_MIN_MS 100
#define SUPERVISOR_BACKOFF_MAX_MS 30000

/*
 * Runs cfg->workers workers (each runs server_run on a copy of cfg with
 * reuse_port on, worker_id 1..N, and --metrics-listen's port plus
 * worker_id - 1) until SIGTERM or SIGINT. Returns the exit status: 0 when
 * every worker exited 0 at the end; 1 when the workers could not start at
 * all (every first start failed at once: a bad config, a port in use),
 * which is said on the log. cfg is only read.
 */
int supervisor_run(const config *cfg);

/* The delay before the next start of a worker that died quickly `deaths`
 * times in a row (0: no wait). Pure; unit-tested. */
long supervisor_backoff_ms(int deaths);

#endif
