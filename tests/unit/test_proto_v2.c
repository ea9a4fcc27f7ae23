/* test_proto_v2.c - seatmap.v2's binary snapshots and deltas: every encoding
 * decodes back to the states it was made from, and the sizes stay within
 * what docs/protocol.md promises (60k seats: <= 16 KB for any mix, < 1 KB
 * when nearly all one state; a delta <= 4 bytes a changed seat). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto_v2.h"

#include <stdlib.h>
#include <string.h>

#define STADIUM 60000

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char *states_of(size_t n, char fill)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, fill, n);
    s[n] = '\0';
    return s;
}

/* Encodes a snapshot, decodes it into a fresh array, checks it matches;
 * returns its size. */
static size_t snapshot_round_trip(const char *states, size_t n, const char *hold, int want_enc)
{
    sm_buf b;
    proto_v2_msg m;
    char *back = states_of(n, 'x');
    size_t len;

    sm_buf_init(&b, 1u << 20);
    assert_int_equal(proto_v2_snapshot(&b, "stadium", 123456789, states, n, hold), 0);
    assert_int_equal(proto_v2_decode((unsigned char *)b.data, b.len, &m, back, n), 0);
    assert_int_equal(m.kind, PROTO_V2_SNAPSHOT);
    assert_int_equal(m.show_len, 7);
    assert_memory_equal(m.show, "stadium", 7);
    assert_int_equal(m.seq, 123456789);
    assert_int_equal(m.nseats, n);
    if (want_enc >= 0)
        assert_int_equal(m.encoding, want_enc);
    assert_memory_equal(back, states, n);
    if (hold) {
        assert_int_equal(m.hold_len, strlen(hold));
        assert_memory_equal(m.hold_json, hold, m.hold_len);
    } else {
        assert_null(m.hold_json);
    }
    len = b.len;
    sm_buf_free(&b);
    free(back);
    return len;
}

static void snapshot_all_empty_is_tiny(void **state)
{
    char *s = states_of(STADIUM, 'e');
    (void)state;
    size_t len = snapshot_round_trip(s, STADIUM, NULL, PROTO_V2_RUNS);
    print_message("60k seats, all empty: %zu bytes\n", len);
    assert_true(len < 32);
    free(s);
}

static void snapshot_nearly_uniform_under_1k(void **state)
{
    char *s = states_of(STADIUM, 'e');
    size_t i, len;
    (void)state;
    /* 200 scattered seats held or booked: 0.3 % of the stadium */
    for (i = 0; i < 200; i++)
        s[next_rand() % STADIUM] = i % 2 ? 'p' : 'b';
    len = snapshot_round_trip(s, STADIUM, NULL, PROTO_V2_RUNS);
    print_message("60k seats, 200 scattered held or booked: %zu bytes\n", len);
    assert_true(len < 1024);
    /* nearly all booked, a few returned */
    memset(s, 'b', STADIUM);
    for (i = 0; i < 200; i++)
        s[next_rand() % STADIUM] = 'e';
    len = snapshot_round_trip(s, STADIUM, NULL, PROTO_V2_RUNS);
    print_message("60k seats, all booked but 200: %zu bytes\n", len);
    assert_true(len < 1024);
    free(s);
}

static void snapshot_any_mix_under_16k(void **state)
{
    static const char letters[3] = {'e', 'p', 'b'};
    char *s = states_of(STADIUM, 'e');
    size_t i, len;
    (void)state;
    for (i = 0; i < STADIUM; i++) /* random mix */
        s[i] = letters[next_rand() % 3];
    len = snapshot_round_trip(s, STADIUM, NULL, PROTO_V2_PACKED);
    print_message("60k seats, random mix of e/p/b: %zu bytes\n", len);
    assert_true(len <= 16384);
    for (i = 0; i < STADIUM; i++) /* worst case for runs: every seat differs from the last */
        s[i] = letters[i % 3];
    assert_true(snapshot_round_trip(s, STADIUM, NULL, PROTO_V2_PACKED) <= 16384);
    for (i = 0; i < STADIUM; i++) /* runs of two: runs lose, packed wins */
        s[i] = letters[(i / 2) % 3];
    assert_true(snapshot_round_trip(s, STADIUM, NULL, PROTO_V2_PACKED) <= 16384);
    free(s);
}

static void snapshot_odd_sizes_and_hold(void **state)
{
    const char *hold = "{\"ref\":\"ACDEFG\",\"seats\":[\"A-1\"],\"expires_at\":1700000000000}";
    size_t n;
    (void)state;
    for (n = 0; n <= 9; n++) {
        char *s = states_of(n, 'e');
        size_t i;
        for (i = 0; i < n; i++)
            s[i] = "epb"[(i * 7 + n) % 3];
        snapshot_round_trip(s, n, NULL, -1);
        snapshot_round_trip(s, n, hold, -1);
        free(s);
    }
}

/* Encodes a delta of the seats idx (states from `now`), applies it to
 * `before`, checks the result is `now`; returns its size. */
static size_t delta_round_trip(const char *before, const char *now, size_t n, const uint32_t *idx,
                               size_t nidx, size_t want_count)
{
    sm_buf b;
    proto_v2_msg m;
    char *mine = malloc(n + 1);
    size_t len;

    assert_non_null(mine);
    memcpy(mine, before, n);
    sm_buf_init(&b, 1u << 22);
    assert_int_equal(proto_v2_delta(&b, "S1", 41, 44, now, n, idx, nidx), 0);
    assert_int_equal(proto_v2_decode((unsigned char *)b.data, b.len, &m, mine, n), 0);
    assert_int_equal(m.kind, PROTO_V2_DELTA);
    assert_int_equal(m.from, 41);
    assert_int_equal(m.seq, 44);
    assert_int_equal(m.nseats, want_count);
    assert_memory_equal(mine, now, n);
    len = b.len;
    sm_buf_free(&b);
    free(mine);
    return len;
}

static void delta_fanout_rate_under_4_bytes_a_seat(void **state)
{
    /* 1,000 changes/s at a 50 ms tick: ~50 seats a delta, anywhere */
    char *before = states_of(STADIUM, 'e'), *now = states_of(STADIUM, 'e');
    uint32_t idx[50];
    size_t i, k, total = 0, seats = 0;
    (void)state;
    for (k = 0; k < 100; k++) {
        for (i = 0; i < 50; i++) {
            idx[i] = (uint32_t)(next_rand() % STADIUM);
            now[idx[i]] = now[idx[i]] == 'e' ? 'p' : 'e';
        }
        /* a seat drawn twice is one change */
        {
            uint32_t uniq[50];
            size_t u = 0, j;
            for (i = 0; i < 50; i++) {
                for (j = 0; j < u && uniq[j] != idx[i]; j++)
                    ;
                if (j == u)
                    uniq[u++] = idx[i];
            }
            total += delta_round_trip(before, now, STADIUM, idx, 50, u);
            seats += u;
        }
        memcpy(before, now, STADIUM);
    }
    print_message("deltas of 50 random seats of 60k: %.2f bytes a seat\n",
                  (double)total / (double)seats);
    assert_true(total <= 4 * seats);
    free(before);
    free(now);
}

static void delta_expiry_wave_and_worst_case(void **state)
{
    char *before = states_of(STADIUM, 'p'), *now = states_of(STADIUM, 'e');
    uint32_t *idx = malloc(STADIUM * sizeof(*idx));
    size_t i, len;
    (void)state;
    assert_non_null(idx);
    /* every seat changes, listed backwards and twice over: one byte a seat */
    for (i = 0; i < STADIUM; i++)
        idx[i] = (uint32_t)(STADIUM - 1 - i);
    len = delta_round_trip(before, now, STADIUM, idx, STADIUM, STADIUM);
    assert_true(len <= STADIUM + 32);
    /* 10,000 holds expiring: 10,000 seats spread over the stadium */
    memcpy(now, before, STADIUM);
    for (i = 0; i < 10000; i++) {
        idx[i] = (uint32_t)(i * 6);
        now[idx[i]] = 'e';
    }
    len = delta_round_trip(before, now, STADIUM, idx, 10000, 10000);
    print_message("expiry wave, 10,000 seats in one delta: %zu bytes\n", len);
    assert_true(len <= 10000 + 32);
    /* the worst case: two seats at the ends, the largest gap */
    idx[0] = 0;
    idx[1] = STADIUM - 1;
    len = delta_round_trip(before, before, STADIUM, idx, 2, 2);
    assert_true(len <= 32);
    free(idx);
    free(before);
    free(now);
}

static void delta_skips_unknown_and_repeated_seats(void **state)
{
    char before[] = "eeee", now[] = "epbe";
    uint32_t idx[] = {2, 1, 99, 2, 1};
    (void)state;
    delta_round_trip(before, now, 4, idx, 5, 2);
    delta_round_trip(before, before, 4, NULL, 0, 0);
}

static void decode_refuses_malformed(void **state)
{
    char states[8] = "eeeeeee";
    proto_v2_msg m;
    sm_buf b;
    size_t cut;
    uint32_t idx[] = {6};
    (void)state;
    assert_int_equal(proto_v2_decode((const unsigned char *)"", 0, &m, NULL, 0), -1);
    assert_int_equal(proto_v2_decode((const unsigned char *)"X\0", 2, &m, NULL, 0), -1);
    sm_buf_init(&b, 4096);
    assert_int_equal(proto_v2_snapshot(&b, "S1", 5, "epbepbe", 7, "null"), 0);
    /* every truncation is refused, never read past */
    for (cut = 0; cut < b.len; cut++)
        assert_int_equal(proto_v2_decode((unsigned char *)b.data, cut, &m, NULL, 0), -1);
    /* a snapshot of another size than the client's seat list */
    assert_int_equal(proto_v2_decode((unsigned char *)b.data, b.len, &m, states, 6), -1);
    sm_buf_reset(&b);
    assert_int_equal(proto_v2_delta(&b, "S1", 5, 6, "eeeeeep", 7, idx, 1), 0);
    for (cut = 0; cut < b.len; cut++)
        assert_int_equal(proto_v2_decode((unsigned char *)b.data, cut, &m, states, 7), -1);
    /* an index past the client's seats */
    assert_int_equal(proto_v2_decode((unsigned char *)b.data, b.len, &m, states, 5), -1);
    assert_int_equal(proto_v2_decode((unsigned char *)b.data, b.len, &m, states, 7), 0);
    assert_int_equal(states[6], 'p');
    sm_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(snapshot_all_empty_is_tiny),
        cmocka_unit_test(snapshot_nearly_uniform_under_1k),
        cmocka_unit_test(snapshot_any_mix_under_16k),
        cmocka_unit_test(snapshot_odd_sizes_and_hold),
        cmocka_unit_test(delta_fanout_rate_under_4_bytes_a_seat),
        cmocka_unit_test(delta_expiry_wave_and_worst_case),
        cmocka_unit_test(delta_skips_unknown_and_repeated_seats),
        cmocka_unit_test(decode_refuses_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
