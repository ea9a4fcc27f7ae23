/*
 * seats.h - the seat list of a show as the load generator needs it: fetched
 * once from GET /api/shows/{show} (so its order is the snapshot order), with
 * an id -> index hash table for matching deltas.
 *
 * Not here: seat states; positions, prices and the rest of the layout.
 */
#ifndef SEATMAP_BENCH_SEATS_H
#define SEATMAP_BENCH_SEATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct seat_list {
    char **ids; /* ids[i] points into blob */
    size_t n;
    char *blob;
    uint32_t *tab; /* open addressing: index + 1, 0 = empty */
    uint32_t mask;
} seat_list;

/*
 * Fetches the layout of show from the server at host:port (blocking, with a
 * timeout) and fills s, which the caller frees with seat_list_free.
 * 0, or -1 with a sentence in err.
 */
int seat_list_fetch(seat_list *s, const char *host, int port, const char *show, char *err,
                    size_t errlen);
void seat_list_free(seat_list *s);
/* Index of the seat whose id is the n bytes at id, or -1. */
long seat_list_find(const seat_list *s, const char *id, size_t n);

/*
 * One blocking HTTP/1.1 GET of path; *body receives the body (caller frees),
 * chunked transfer decoded. Returns the status code, or -1 with err set.
 */
int http_get(const char *host, int port, const char *path, char **body, size_t *len, char *err,
             size_t errlen);

#endif
