/*
 * main.c - command line of seatmap-bench, the seatmap load generator.
 *
 *   seatmap-bench fanout|holds|expiry|snapshot|idle|best --port P [options]
 *   seatmap-bench audit --redis-port P --show S
 *
 * Each scenario prints one line "result <scenario> key=value ..." on stdout
 * (bench/run.sh turns those into the Markdown table) and its progress on
 * stderr. Exit status: 0 when the tool worked, 1 when it did not (nothing
 * measured, server unreachable), 2 when the holds scenario found a double
 * hold. Slowness never changes the exit status.
 *
 * Not here: starting servers (bench/run.sh does), judging targets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"

static void usage(void)
{
    fputs("usage: seatmap-bench fanout|holds|expiry|snapshot|idle|best --port P [--host H]\n"
          "         [--show S] [--watchers N] [--buyers N] [--rate N] [--duration S]\n"
          "         [--warmup S] [--hold-ms MS] [--hold-seats N] [--pool N] [--holds N]\n"
          "         [--junk N] [--joiners N] [--snaps N] [--conns N] [--server-pid PID]\n"
          "         [--redis-port P] [--redis-pid PID] [--label TEXT] [--wire v1|v2]\n"
          "         [--preload N] [--count N] [--section S] [--port2 P]   (best)\n"
          "       seatmap-bench audit --redis-port P --show S\n",
          stderr);
}

static void defaults(bench_opts *o, const char *scenario)
{
    memset(o, 0, sizeof(*o));
    o->scenario = scenario;
    o->host = "127.0.0.1";
    o->redis_host = "127.0.0.1";
    o->show = "stadium";
    o->watchers = 1000;
    o->buyers = 100;
    o->rate = 1000;
    o->duration = 10;
    o->warmup = 2;
    o->hold_ms = 1000;
    o->hold_seats = 2;
    o->pool = 1000;
    o->holds = 10000;
    o->junk = 100000;
    o->joiners = 1000;
    o->snaps = 20;
    o->conns = 10000;
    o->label = "-";
    o->wire = "seatmap.v1";
    o->count = 2;
}

/* Raises the open-file limit as far as allowed; connections need one each. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static bench b;
    bench_opts *o = &b.o;
    char err[256];
    int rc;

    if (argc < 2) {
        usage();
        return 1;
    }
    defaults(o, argv[1]);
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v || strncmp(k, "--", 2) != 0) {
            usage();
            return 1;
        }
        i++;
#define NUM(name, field)                                                                           \
    if (strcmp(k, name) == 0) {                                                                    \
        o->field = strtol(v, NULL, 10);                                                            \
        continue;                                                                                  \
    }
        NUM("--port", port)
        NUM("--watchers", watchers)
        NUM("--buyers", buyers)
        NUM("--rate", rate)
        NUM("--hold-ms", hold_ms)
        NUM("--hold-seats", hold_seats)
        NUM("--pool", pool)
        NUM("--holds", holds)
        NUM("--junk", junk)
        NUM("--joiners", joiners)
        NUM("--snaps", snaps)
        NUM("--conns", conns)
        NUM("--server-pid", server_pid)
        NUM("--redis-port", redis_port)
        NUM("--redis-pid", redis_pid)
        NUM("--preload", preload)
        NUM("--count", count)
        NUM("--port2", port2)
#undef NUM
        if (strcmp(k, "--host") == 0)
            o->host = v;
        else if (strcmp(k, "--show") == 0)
            o->show = v;
        else if (strcmp(k, "--section") == 0)
            o->section = v;
        else if (strcmp(k, "--wire") == 0)
            o->wire = strcmp(v, "v2") == 0 ? "seatmap.v2" : "seatmap.v1";
        else if (strcmp(k, "--label") == 0)
            o->label = v;
        else if (strcmp(k, "--duration") == 0)
            o->duration = strtod(v, NULL);
        else if (strcmp(k, "--warmup") == 0)
            o->warmup = strtod(v, NULL);
        else {
            fprintf(stderr, "seatmap-bench: unknown option %s\n", k);
            usage();
            return 1;
        }
    }
    if (o->hold_seats < 1 || o->hold_seats > BENCH_HOLD_SEATS_MAX || o->buyers < 1 || o->rate < 1 ||
        o->duration <= 0 || o->warmup < 0) {
        fprintf(stderr, "seatmap-bench: an option is out of range\n");
        return 1;
    }
    if (strcmp(o->scenario, "audit") == 0) {
        rcheck_result r;
        if (rcheck_audit(o->redis_host, o->redis_port, o->show, &r, err, sizeof(err))) {
            fprintf(stderr, "seatmap-bench: %s\n", err);
            return 1;
        }
        printf("result audit seat_keys=%ld held=%ld booked=%ld holds=%ld doubles=%ld\n",
               r.seat_keys, r.held_seats, r.booked_seats, r.holds, rcheck_doubles(&r));
        return rcheck_doubles(&r) ? 2 : 0;
    }
    if (o->port <= 0) {
        usage();
        return 1;
    }
    raise_nofile();
    if (bench_init(&b)) {
        fprintf(stderr, "seatmap-bench: bad address %s\n", o->host);
        return 1;
    }
    if (seat_list_fetch(&b.seats, o->host, o->port, o->show, err, sizeof(err))) {
        fprintf(stderr, "seatmap-bench: %s\n", err);
        return 1;
    }
    fprintf(stderr, "seatmap-bench: %s: show %s has %zu seats\n", o->scenario, o->show, b.seats.n);
    if (strcmp(o->scenario, "fanout") == 0)
        rc = bench_fanout(&b);
    else if (strcmp(o->scenario, "holds") == 0)
        rc = bench_holds(&b);
    else if (strcmp(o->scenario, "expiry") == 0)
        rc = bench_expiry(&b);
    else if (strcmp(o->scenario, "snapshot") == 0)
        rc = bench_snapshot(&b);
    else if (strcmp(o->scenario, "idle") == 0)
        rc = bench_idle(&b);
    else if (strcmp(o->scenario, "best") == 0)
        rc = bench_best(&b);
    else {
        usage();
        return 1;
    }
    fflush(stdout);
    wsc_loop_free(&b.loop);
    seat_list_free(&b.seats);
    if (rc == 2)
        return 2;
    return rc ? 1 : 0;
}
