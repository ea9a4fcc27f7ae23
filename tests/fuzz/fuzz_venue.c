/*
 * fuzz_venue.c - the venue format (docs/venue-format.md): venue_parse on
 * any bytes; a venue that parses has every seat id valid, found again by
 * venue_seat_index at its own index.
 */
#include "util.h"
#include "venue.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    venue *v = NULL;
    char err[256];
    size_t i, n;

    if (size > 1024 * 1024)
        return 0;
    if (venue_parse((const char *)data, size, &v, err, sizeof(err)) != 0)
        return 0;
    n = venue_seat_count(v);
    for (i = 0; i < n; i++) {
        const char *id = venue_seat_id(v, i);
        if (!sm_valid_seat_id(id) || venue_seat_index(v, id) != (long)i)
            abort();
        (void)venue_seat_price(v, i);
    }
    (void)venue_name(v);
    venue_free(v);
    return 0;
}
