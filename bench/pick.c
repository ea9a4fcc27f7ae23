/*
 * pick.c - seatmap-pick: the CPU one best-available pick costs (server/best.c,
 * the same code seatmapd runs), measured per pick with the thread's CPU clock
 * on a venue with seats already held, so the p99 is the server's own CPU and
 * not a round trip. bench/run.sh best runs it on the 60,000-seat stadium.
 *
 *   seatmap-pick VENUE.json [--held N] [--picks N] [--label TEXT]
 *
 * The state starts with N random seats held and stays there: every pick's
 * seats are held and as many random held seats are freed. Requests cycle
 * through counts 1..8, a category one time in four, a wheelchair space one
 * time in sixteen, and together:false one time in eight. Prints one line
 * "result pick key=value ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "best.h"
#include "stats.h"
#include "venue.h"

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long held = 10000, picks = 20000, nheld = 0, fails = 0, scattered = 0;
    const char *label = "-";
    char err[512];
    venue *v = NULL;
    best_index *ix;
    char *st;
    uint32_t *list;
    size_t n;
    hist h;

    if (argc < 2) {
        fputs("usage: seatmap-pick VENUE.json [--held N] [--picks N] [--label TEXT]\n", stderr);
        return 1;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--held"))
            held = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--picks"))
            picks = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--label"))
            label = argv[i + 1];
    }
    if (venue_load_file(argv[1], &v, NULL, err, sizeof(err))) {
        fprintf(stderr, "seatmap-pick: %s\n", err);
        return 1;
    }
    n = venue_seat_count(v);
    ix = best_index_new(v);
    st = malloc(n);
    list = malloc(n * sizeof(*list));
    if (!ix || !st || !list || held < 0 || (size_t)held >= n) {
        fprintf(stderr, "seatmap-pick: out of memory or --held out of range\n");
        return 1;
    }
    memset(st, 'e', n);
    srand(42);
    while (nheld < held) {
        size_t i = (size_t)rand() % n;
        if (st[i] == 'e') {
            st[i] = 'p';
            list[nheld++] = (uint32_t)i;
        }
    }
    hist_init(&h);
    for (long k = 0; k < picks; k++) {
        best_request r = {
            .count = (size_t)(1 + k % 8), .category = -1, .section = -1, .together = 1};
        best_result res;
        int64_t t0;
        int rc;

        if (k % 4 == 3)
            r.category = (long)((size_t)(k / 4) % venue_category_count(v));
        if (k % 16 == 5)
            r.accessible = 1;
        if (k % 8 == 6)
            r.together = 0;
        t0 = thread_cpu_ns();
        rc = best_pick(ix, st, NULL, &r, &res);
        hist_add(&h, (thread_cpu_ns() - t0 + 500) / 1000);
        if (rc) {
            fails++;
            continue;
        }
        scattered += res.groups > 1;
        /* hold what was picked, free as many random held seats */
        for (size_t j = 0; j < res.n; j++) {
            size_t out = (size_t)rand() % (size_t)nheld;
            st[list[out]] = 'e';
            st[res.seats[j]] = 'p';
            list[out] = res.seats[j];
        }
    }
    printf("result pick label=%s seats=%zu held=%ld picks=%ld", label, n, held, picks);
    printf(" pick_us_p50=%lld pick_us_p99=%lld pick_us_p999=%lld pick_us_max=%lld",
           (long long)hist_quantile(&h, 0.5), (long long)hist_quantile(&h, 0.99),
           (long long)hist_quantile(&h, 0.999), (long long)hist_quantile(&h, 1.0));
    printf(" pick_us_mean=%.1f failed=%ld scattered=%ld\n", h.sum / (double)h.count, fails,
           scattered);
    best_index_free(ix);
    venue_free(v);
    free(st);
    free(list);
    return 0;
}
