/*
 * fuzz_proto_v2.c - seatmap.v2's binary seat events (proto_v2.h). The first
 * byte picks what the rest is:
 *   even: a message from the wire, decoded (into a 64-seat client and with no
 *         states at all): it may be refused, never read past its end;
 *   odd:  seat states (each byte mod 3), encoded as a snapshot and as a delta
 *         of the seats whose byte has bit 2 set, then decoded: the decoder
 *         must give back exactly what was encoded, whichever encoding the
 *         snapshot chose.
 */
#include "proto_v2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLIENT_SEATS 64

static void round_trip(const uint8_t *p, size_t n)
{
    static const char letters[3] = {'e', 'p', 'b'};
    char *now = malloc(n + 1), *back = malloc(n + 1);
    uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    size_t i, nidx = 0;
    proto_v2_msg m;
    sm_buf b;

    if (!now || !back || !idx)
        abort();
    for (i = 0; i < n; i++) {
        now[i] = letters[p[i] % 3];
        if (p[i] & 4)
            idx[nidx++] = (uint32_t)i;
    }
    sm_buf_init(&b, 1u << 24);
    if (proto_v2_snapshot(&b, "fuzz", 7, now, n, (n & 1) ? "{\"ref\":\"X\"}" : NULL))
        abort();
    memset(back, 'x', n);
    if (proto_v2_decode((unsigned char *)b.data, b.len, &m, back, n) || m.nseats != n ||
        m.seq != 7 || memcmp(back, now, n) != 0 || (b.len > (n + 3) / 4 + 40))
        abort();
    sm_buf_reset(&b);
    if (proto_v2_delta(&b, "fuzz", 5, 9, now, n, idx, nidx))
        abort();
    memset(back, 'x', n);
    for (i = 0; i < nidx; i++)
        back[idx[i]] = now[idx[i]];
    {
        char *applied = malloc(n + 1);
        if (!applied)
            abort();
        memset(applied, 'x', n);
        if (proto_v2_decode((unsigned char *)b.data, b.len, &m, applied, n) || m.nseats != nidx ||
            m.from != 5 || m.seq != 9 || memcmp(applied, back, n) != 0)
            abort();
        free(applied);
    }
    sm_buf_free(&b);
    free(now);
    free(back);
    free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char states[CLIENT_SEATS];
    proto_v2_msg m;
    unsigned char *copy;

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        round_trip(data + 1, size - 1);
        return 0;
    }
    /* an exact-size copy, so that ASan sees any read past the end */
    copy = malloc(size - 1 ? size - 1 : 1);
    if (!copy)
        abort();
    memcpy(copy, data + 1, size - 1);
    memset(states, 'e', sizeof(states));
    proto_v2_decode(copy, size - 1, &m, states, sizeof(states));
    proto_v2_decode(copy, size - 1, &m, NULL, 0);
    free(copy);
    return 0;
}
