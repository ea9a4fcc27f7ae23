/*
 * fuzz_config.c - the command line of `seatmapd serve` (config_parse) and
 * Redis URLs (store_parse_url). Input: NUL-separated words (argv after
 * "serve"); the whole input, up to its first NUL, is also read as a URL.
 * A URL that parses must give a host of allowed characters and port and db
 * in range.
 */
#include "config.h"
#include "store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *argv[MAX_WORDS + 1], err[256];
    config cfg;
    store_url u;
    int argc = 0;
    size_t i, start = 0;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';

    memset(&u, 0, sizeof(u));
    if (store_parse_url(copy, &u) == 0) {
        if (u.port < 1 || u.port > 65535 || u.db < 0 || !u.host[0])
            abort();
    }

    for (i = 0; i <= size && argc < MAX_WORDS; i++)
        if (i == size || copy[i] == '\0') {
            argv[argc++] = copy + start;
            start = i + 1;
        }
    argv[argc] = NULL;
    memset(&cfg, 0, sizeof(cfg));
    if (config_parse(&cfg, argc, argv, err, sizeof(err)) != 0 && !err[0])
        abort(); /* a refusal always says why */
    free(copy);
    return 0;
}
