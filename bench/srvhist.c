/*
 * srvhist.c - seatmap_ws_request_seconds from /metrics (srvhist.h).
 */
#include "srvhist.h"

#include "seats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_hist_scrape(const char *host, int port, const char *type, srv_hist *out)
{
    char want[96], err[256], *body = NULL, *p, *line;
    size_t len = 0, wl;
    int status;

    out->n = 0;
    status = http_get(host, port, "/metrics", &body, &len, err, sizeof(err));
    if (status != 200) {
        fprintf(stderr, "seatmap-bench: /metrics: %s\n", status < 0 ? err : "not 200");
        free(body);
        return -1;
    }
    wl = (size_t)snprintf(want, sizeof(want), "seatmap_ws_request_seconds_bucket{type=\"%s\",le=\"",
                          type);
    for (line = body; line && *line && out->n < SRVHIST_MAX_BUCKETS; line = p) {
        p = strchr(line, '\n');
        if (p)
            *p++ = '\0';
        if (strncmp(line, want, wl) != 0)
            continue;
        {
            const char *le = line + wl, *q = strchr(le, '"');
            if (!q || q[1] != '}')
                continue;
            out->le[out->n] = strncmp(le, "+Inf", 4) == 0 ? INFINITY : strtod(le, NULL);
            out->count[out->n] = strtod(q + 2, NULL);
            out->n++;
        }
    }
    free(body);
    return out->n ? 0 : -1;
}

double srv_hist_quantile_ms(const srv_hist *a, const srv_hist *z, double q)
{
    double total, rank, below = 0, lo = 0;
    int i;

    if (!z->n || (a->n && a->n != z->n))
        return -1;
    total = z->count[z->n - 1] - (a->n ? a->count[a->n - 1] : 0);
    if (total <= 0)
        return -1;
    rank = q * total;
    for (i = 0; i < z->n; i++) {
        double c = z->count[i] - (a->n ? a->count[i] : 0);
        if (c >= rank) {
            if (isinf(z->le[i]))
                return lo * 1000.0; /* past the last bound: that bound */
            if (c == below)
                return z->le[i] * 1000.0;
            return (lo + (z->le[i] - lo) * (rank - below) / (c - below)) * 1000.0;
        }
        below = c;
        lo = z->le[i];
    }
    return lo * 1000.0;
}
