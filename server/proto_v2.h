/*
 * proto_v2.h - the seat events of the `seatmap.v2` subprotocol: snapshots and
 * deltas as compact binary WebSocket messages (docs/protocol.md, "seatmap.v2").
 *
 * Why: in v1 a seat in a delta costs ~17 bytes (its id and state as JSON) and
 * a 60k-seat snapshot ~60 KB. v2 names a seat by its index in the show's seat
 * list and packs states: a snapshot is 2 bits a seat or run lengths, whichever
 * is smaller (<= n/4 + 80 bytes for any mix; a few hundred bytes when nearly
 * every seat has one state); a delta is one varint per changed seat holding
 * the gap to the previous changed index and the state (1-3 bytes a seat).
 *
 * Wire format (all integers unsigned LEB128 varints unless said otherwise):
 *   snapshot: 'S', u8 show id length, show id, seq, nseats, u8 encoding
 *             (0: packed, 1: runs), states, hold length, hold JSON (0: null)
 *   delta:    'D', u8 show id length, show id, from, seq - from, count,
 *             count x ((index - previous index - 1) << 2 | state),
 *             the previous index of the first being -1, indices ascending
 *   state:    0 empty, 1 pending, 2 booked (3 is never sent)
 *   packed:   ceil(nseats / 4) bytes; seat i in byte i / 4, bits 2 * (i % 4)
 *   runs:     varints ((run length - 1) << 2 | state) covering every seat
 *
 * The encoders are pure (no show, no venue): show.c hands them the state
 * letters it keeps ('e' 'p' 'b') and the indices that changed; the decoder is
 * the reference the unit tests and the benchmark client use.
 *
 * Not here: requests, replies and hold events, which stay JSON text exactly
 * as in v1 (ws.c, show.c).
 */
#ifndef SEATMAP_PROTO_V2_H
#define SEATMAP_PROTO_V2_H

#include "util.h"

#include <stddef.h>
#include <stdint.h>

#define PROTO_V2_SNAPSHOT 'S'
#define PROTO_V2_DELTA 'D'
#define PROTO_V2_PACKED 0
#define PROTO_V2_RUNS 1

/*
 * Appends a snapshot of n seats (states: n letters 'e' 'p' 'b') to b.
 * hold_json: this buyer's hold as JSON, or NULL for none. Returns 0, or -1
 * when b failed (limit or memory) or show_id is longer than 255 bytes.
 */
int proto_v2_snapshot(sm_buf *b, const char *show_id, int64_t seq, const char *states, size_t n,
                      const char *hold_json);

/*
 * Appends the delta from -> seq of the seats at the nidx indices idx (in any
 * order; repeats are sent once), each with its state in states (n letters).
 * Indices >= n are left out. idx is not modified. Returns 0 or -1 (b failed,
 * out of memory, show id too long, seq < from).
 */
int proto_v2_delta(sm_buf *b, const char *show_id, int64_t from, int64_t seq, const char *states,
                   size_t n, const uint32_t *idx, size_t nidx);

/* One decoded message. Pointers point into the decoded buffer. */
typedef struct proto_v2_msg {
    char kind; /* PROTO_V2_SNAPSHOT or PROTO_V2_DELTA */
    const char *show;
    size_t show_len;
    int64_t from; /* deltas */
    int64_t seq;
    size_t nseats;         /* snapshots: seats in it; deltas: seats changed */
    const char *hold_json; /* snapshots: the hold as JSON, NULL for none */
    size_t hold_len;
    int encoding; /* snapshots: PROTO_V2_PACKED or PROTO_V2_RUNS */
} proto_v2_msg;

/* Called by proto_v2_decode_each for every seat a message carries, in
 * ascending index order (a snapshot: every seat; a delta: the changed ones);
 * state is 'e', 'p' or 'b'. Nonzero stops the decoding as malformed. */
typedef int (*proto_v2_seat_fn)(void *ud, size_t idx, char state);

/* Decodes one message, handing each seat to fn (NULL: only check and
 * describe it). A snapshot calls fn once per seat it claims to have: decode
 * it with fn NULL first and check out->nseats when the bytes come from
 * outside (proto_v2_decode does). Returns 0, or -1 for a malformed message. */
int proto_v2_decode_each(const unsigned char *buf, size_t len, proto_v2_msg *out,
                         proto_v2_seat_fn fn, void *ud);

/*
 * Decodes one message and applies its seats to states (n letters, the
 * client's copy: a snapshot must have exactly n seats and overwrites them;
 * a delta's indices must be < n). states may be NULL to only check and
 * describe the message. Returns 0, or -1 for a malformed message (states may
 * then be partly written).
 */
int proto_v2_decode(const unsigned char *buf, size_t len, proto_v2_msg *out, char *states,
                    size_t n);

#endif
