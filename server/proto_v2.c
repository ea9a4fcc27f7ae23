/*
 * proto_v2.c - see proto_v2.h: the binary snapshot and delta of seatmap.v2,
 * and their reference decoder.
 */
#include "proto_v2.h"

#include <stdlib.h>
#include <string.h>

static int state_code(char c)
{
    return c == 'p' ? 1 : c == 'b' ? 2 : 0;
}

static const char state_letter[3] = {'e', 'p', 'b'};

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static int add_varint(sm_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    return sm_buf_add(b, tmp, n);
}

/* kind, the show id with its length byte. */
static int add_head(sm_buf *b, char kind, const char *show_id)
{
    size_t l = strlen(show_id);
    unsigned char h[2] = {(unsigned char)kind, (unsigned char)l};
    if (l > 255)
        return -1;
    if (sm_buf_add(b, h, 2))
        return -1;
    return sm_buf_add(b, show_id, l);
}

/* The bytes of the runs encoding of states. */
static size_t runs_size(const char *states, size_t n)
{
    size_t i = 0, total = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && states[j] == states[i])
            j++;
        total += varint_len((uint64_t)(j - i - 1) << 2);
        i = j;
    }
    return total;
}

static int add_runs(sm_buf *b, const char *states, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && states[j] == states[i])
            j++;
        if (add_varint(b, (uint64_t)(j - i - 1) << 2 | (uint64_t)state_code(states[i])))
            return -1;
        i = j;
    }
    return 0;
}

static int add_packed(sm_buf *b, const char *states, size_t n)
{
    size_t i, bytes = (n + 3) / 4;
    unsigned char *p;
    if (sm_buf_reserve(b, bytes))
        return -1;
    p = (unsigned char *)b->data + b->len;
    memset(p, 0, bytes);
    for (i = 0; i < n; i++)
        p[i >> 2] |= (unsigned char)(state_code(states[i]) << ((i & 3) * 2));
    b->len += bytes;
    b->data[b->len] = '\0';
    return 0;
}

int proto_v2_snapshot(sm_buf *b, const char *show_id, int64_t seq, const char *states, size_t n,
                      const char *hold_json)
{
    size_t packed = (n + 3) / 4, hl = hold_json ? strlen(hold_json) : 0;
    int runs = runs_size(states, n) < packed;

    if (add_head(b, PROTO_V2_SNAPSHOT, show_id) || add_varint(b, (uint64_t)seq) ||
        add_varint(b, n) || sm_buf_addc(b, runs ? PROTO_V2_RUNS : PROTO_V2_PACKED))
        return -1;
    if (runs ? add_runs(b, states, n) : add_packed(b, states, n))
        return -1;
    if (add_varint(b, hl) || sm_buf_add(b, hold_json ? hold_json : "", hl))
        return -1;
    return sm_buf_failed(b) ? -1 : 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int proto_v2_delta(sm_buf *b, const char *show_id, int64_t from, int64_t seq, const char *states,
                   size_t n, const uint32_t *idx, size_t nidx)
{
    uint32_t *sorted = malloc((nidx ? nidx : 1) * sizeof(*sorted));
    size_t i, count = 0;
    int64_t prev = -1;
    int rc = -1;

    if (!sorted)
        return -1;
    /* ascending, each once, and only seats that exist */
    for (i = 0; i < nidx; i++)
        if (idx[i] < n)
            sorted[count++] = idx[i];
    qsort(sorted, count, sizeof(*sorted), cmp_u32);
    for (i = 0, nidx = count, count = 0; i < nidx; i++)
        if (!count || sorted[i] != sorted[count - 1])
            sorted[count++] = sorted[i];
    if (seq < from)
        goto out;
    if (add_head(b, PROTO_V2_DELTA, show_id) || add_varint(b, (uint64_t)from) ||
        add_varint(b, (uint64_t)(seq - from)) || add_varint(b, count))
        goto out;
    for (i = 0; i < count; i++) {
        uint64_t gap = (uint64_t)((int64_t)sorted[i] - prev - 1);
        if (add_varint(b, gap << 2 | (uint64_t)state_code(states[sorted[i]])))
            goto out;
        prev = sorted[i];
    }
    rc = sm_buf_failed(b) ? -1 : 0;
out:
    free(sorted);
    return rc;
}

/* ---- decoding ---- */

typedef struct reader {
    const unsigned char *p, *end;
} reader;

static int get_varint(reader *r, uint64_t *v)
{
    unsigned shift = 0;
    *v = 0;
    while (r->p < r->end && shift < 64) {
        unsigned char c = *r->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return 0;
        shift += 7;
    }
    return -1;
}

static int get_seq(reader *r, int64_t *out)
{
    uint64_t v;
    if (get_varint(r, &v) || v > (uint64_t)INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int decode_states(reader *r, proto_v2_msg *m, proto_v2_seat_fn fn, void *ud)
{
    size_t i = 0;
    uint64_t v;

    if (m->encoding == PROTO_V2_PACKED) {
        size_t bytes = (m->nseats + 3) / 4;
        if ((size_t)(r->end - r->p) < bytes)
            return -1;
        for (i = 0; i < m->nseats; i++) {
            unsigned code = (r->p[i >> 2] >> ((i & 3) * 2)) & 3;
            if (code > 2 || (fn && fn(ud, i, state_letter[code])))
                return -1;
        }
        r->p += bytes;
        return 0;
    }
    if (m->encoding != PROTO_V2_RUNS)
        return -1;
    while (i < m->nseats) {
        uint64_t len, k;
        if (get_varint(r, &v) || (v & 3) > 2)
            return -1;
        len = (v >> 2) + 1;
        if (len > m->nseats - i)
            return -1;
        for (k = 0; fn && k < len; k++)
            if (fn(ud, i + (size_t)k, state_letter[v & 3]))
                return -1;
        i += (size_t)len;
    }
    return 0;
}

static int decode_changes(reader *r, proto_v2_msg *m, proto_v2_seat_fn fn, void *ud)
{
    uint64_t v, idx;
    int64_t prev = -1;
    size_t i;

    for (i = 0; i < m->nseats; i++) {
        if (get_varint(r, &v) || (v & 3) > 2 || (v >> 2) > UINT32_MAX)
            return -1;
        idx = (uint64_t)(prev + 1) + (v >> 2);
        if (idx > UINT32_MAX || (fn && fn(ud, (size_t)idx, state_letter[v & 3])))
            return -1;
        prev = (int64_t)idx;
    }
    return 0;
}

int proto_v2_decode_each(const unsigned char *buf, size_t len, proto_v2_msg *out,
                         proto_v2_seat_fn fn, void *ud)
{
    reader r = {buf, buf + len};
    uint64_t v;

    memset(out, 0, sizeof(*out));
    if (len < 2 || (buf[0] != PROTO_V2_SNAPSHOT && buf[0] != PROTO_V2_DELTA))
        return -1;
    out->kind = (char)buf[0];
    out->show_len = buf[1];
    out->show = (const char *)buf + 2;
    r.p = buf + 2;
    if ((size_t)(r.end - r.p) < out->show_len)
        return -1;
    r.p += out->show_len;
    if (out->kind == PROTO_V2_DELTA) {
        if (get_seq(&r, &out->from) || get_seq(&r, &out->seq) || out->seq > INT64_MAX - out->from ||
            get_varint(&r, &v) || v > (uint64_t)(r.end - r.p))
            return -1; /* every change takes at least a byte */
        out->seq += out->from;
        out->nseats = (size_t)v;
        if (decode_changes(&r, out, fn, ud))
            return -1;
        return r.p == r.end ? 0 : -1;
    }
    if (get_seq(&r, &out->seq) || get_varint(&r, &v) || v > SIZE_MAX / 2 || r.p == r.end)
        return -1;
    out->nseats = (size_t)v;
    out->encoding = *r.p++;
    if (decode_states(&r, out, fn, ud) || get_varint(&r, &v) || v != (uint64_t)(r.end - r.p))
        return -1;
    out->hold_len = (size_t)v;
    out->hold_json = v ? (const char *)r.p : NULL;
    return 0;
}

typedef struct into_states {
    char *states;
    size_t n;
} into_states;

static int put_state(void *ud, size_t idx, char state)
{
    into_states *t = ud;
    if (idx >= t->n)
        return -1;
    t->states[idx] = state;
    return 0;
}

int proto_v2_decode(const unsigned char *buf, size_t len, proto_v2_msg *out, char *states, size_t n)
{
    into_states t = {states, n};
    /* a snapshot's size is known before its first seat */
    if (states && len > 1 && buf[0] == PROTO_V2_SNAPSHOT) {
        proto_v2_msg head;
        if (proto_v2_decode_each(buf, len, &head, NULL, NULL) || head.nseats != n)
            return -1;
    }
    return proto_v2_decode_each(buf, len, out, states ? put_state : NULL, &t);
}
