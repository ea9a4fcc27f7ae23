/*
 * rcheck.c - the double-hold audit and the junk-key loader (see rcheck.h).
 *
 * The audit follows the definition in the key schema: a seat key whose value
 * names a ref whose hold hash does not list that seat, a seat in the seat
 * lists of two holds, or a seat both held and in the booked hash. The hold
 * hash's "seats" field is read as a list of seat ids whatever its separator
 * (JSON array, commas or spaces), since seat ids cannot contain those.
 */
#include "rcheck.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RCHECK_SCAN_COUNT "1000"
#define RCHECK_PIPELINE 1000

/* A small string -> string map (seat -> ref) with open addressing. */
typedef struct rmap {
    char **k, **v;
    size_t cap, n;
} rmap;

static uint32_t rmap__hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int rmap_put(rmap *m, const char *k, const char *v)
{
    if ((m->n + 1) * 2 > m->cap) {
        rmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 1024;
        m->k = calloc(m->cap, sizeof(char *));
        m->v = calloc(m->cap, sizeof(char *));
        m->n = 0;
        if (!m->k || !m->v)
            return -1;
        for (size_t i = 0; i < old.cap; i++)
            if (old.k[i])
                rmap_put(m, old.k[i], old.v[i]);
        for (size_t i = 0; i < old.cap; i++) {
            free(old.k[i]);
            free(old.v[i]);
        }
        free(old.k);
        free(old.v);
    }
    size_t h = rmap__hash(k) & (m->cap - 1);
    while (m->k[h]) {
        if (strcmp(m->k[h], k) == 0) {
            free(m->v[h]);
            m->v[h] = strdup(v);
            return 0;
        }
        h = (h + 1) & (m->cap - 1);
    }
    m->k[h] = strdup(k);
    m->v[h] = strdup(v);
    m->n++;
    return 0;
}

static const char *rmap_get(const rmap *m, const char *k)
{
    if (!m->cap)
        return NULL;
    size_t h = rmap__hash(k) & (m->cap - 1);
    while (m->k[h]) {
        if (strcmp(m->k[h], k) == 0)
            return m->v[h];
        h = (h + 1) & (m->cap - 1);
    }
    return NULL;
}

static void rmap_free(rmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->k[i]);
        free(m->v[i]);
    }
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

long rcheck_doubles(const rcheck_result *r)
{
    return r->dangling + r->in_two_holds + r->held_and_booked;
}

static int rcheck__seat_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Collects every key matching pattern into *keys (caller frees each and it). */
static int rcheck__scan(redisContext *rc, const char *pattern, char ***keys, size_t *n)
{
    char cursor[32] = "0";
    size_t cap = 0;

    *keys = NULL;
    *n = 0;
    do {
        redisReply *r =
            redisCommand(rc, "SCAN %s MATCH %s COUNT " RCHECK_SCAN_COUNT, cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 1024;
                char **nk = realloc(*keys, cap * sizeof(char *));
                if (!nk) {
                    freeReplyObject(r);
                    return -1;
                }
                *keys = nk;
            }
            (*keys)[(*n)++] = strdup(r->element[1]->element[i]->str);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

static void rcheck__free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

int rcheck_audit(const char *host, int port, const char *show, rcheck_result *res, char *err,
                 size_t errlen)
{
    char pattern[160], prefix_seat[160], prefix_hold[160], key[256];
    char **seat_keys = NULL, **hold_keys = NULL;
    size_t nseat = 0, nhold = 0;
    rmap seat_ref = {0}, listed = {0}, booked = {0};
    redisContext *rc = redisConnect(host, port);
    int rcode = -1;

    memset(res, 0, sizeof(*res));
    if (!rc || rc->err) {
        snprintf(err, errlen, "redis %s:%d: %s", host, port, rc ? rc->errstr : "no memory");
        goto out;
    }
    snprintf(prefix_seat, sizeof(prefix_seat), "sm:{%s}:seat:", show);
    snprintf(prefix_hold, sizeof(prefix_hold), "sm:{%s}:hold:", show);
    snprintf(pattern, sizeof(pattern), "sm:{%s}:seat:*", show);
    if (rcheck__scan(rc, pattern, &seat_keys, &nseat))
        goto scan_fail;
    snprintf(pattern, sizeof(pattern), "sm:{%s}:hold:*", show);
    if (rcheck__scan(rc, pattern, &hold_keys, &nhold))
        goto scan_fail;
    res->seat_keys = (long)nseat;
    res->holds = (long)nhold;

    /* seat -> value, pipelined */
    for (size_t i = 0; i < nseat; i += RCHECK_PIPELINE) {
        size_t end = i + RCHECK_PIPELINE < nseat ? i + RCHECK_PIPELINE : nseat;
        for (size_t j = i; j < end; j++)
            redisAppendCommand(rc, "GET %s", seat_keys[j]);
        for (size_t j = i; j < end; j++) {
            redisReply *r = NULL;
            if (redisGetReply(rc, (void **)&r) != REDIS_OK || !r)
                goto scan_fail;
            if (r->type == REDIS_REPLY_STRING) {
                const char *seat = seat_keys[j] + strlen(prefix_seat);
                if (r->str[0] == 'h' && r->str[1] == ':') {
                    res->held_seats++;
                    rmap_put(&seat_ref, seat, r->str + 2);
                } else if (r->str[0] == 'b') {
                    res->booked_seats++;
                }
            }
            freeReplyObject(r);
        }
    }
    /* every hold's seat list: seat -> ref that lists it */
    for (size_t i = 0; i < nhold; i++) {
        const char *ref = hold_keys[i] + strlen(prefix_hold);
        redisReply *r = redisCommand(rc, "HGET %s seats", hold_keys[i]);
        if (!r)
            goto scan_fail;
        if (r->type == REDIS_REPLY_STRING) {
            const char *p = r->str;
            while (*p) {
                char seat[64];
                size_t l = 0;
                while (*p && !rcheck__seat_char(*p))
                    p++;
                while (*p && rcheck__seat_char(*p)) {
                    if (l + 1 < sizeof(seat))
                        seat[l++] = *p;
                    p++;
                }
                seat[l] = 0;
                if (!l)
                    continue;
                const char *other = rmap_get(&listed, seat);
                if (other && strcmp(other, ref) != 0)
                    res->in_two_holds++;
                else
                    rmap_put(&listed, seat, ref);
            }
        }
        freeReplyObject(r);
    }
    /* each held seat must be listed by the ref it names */
    for (size_t i = 0; i < seat_ref.cap; i++) {
        if (!seat_ref.k[i])
            continue;
        const char *lister = rmap_get(&listed, seat_ref.k[i]);
        if (!lister || strcmp(lister, seat_ref.v[i]) != 0)
            res->dangling++;
    }
    snprintf(key, sizeof(key), "sm:{%s}:booked", show);
    redisReply *r = redisCommand(rc, "HKEYS %s", key);
    if (!r)
        goto scan_fail;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++) {
            rmap_put(&booked, r->element[i]->str, "1");
            if (rmap_get(&seat_ref, r->element[i]->str))
                res->held_and_booked++;
        }
    freeReplyObject(r);
    rcode = 0;
    goto out;
scan_fail:
    snprintf(err, errlen, "redis audit failed: %s", rc->err ? rc->errstr : "unexpected reply");
out:
    rcheck__free_keys(seat_keys, nseat);
    rcheck__free_keys(hold_keys, nhold);
    rmap_free(&seat_ref);
    rmap_free(&listed);
    rmap_free(&booked);
    if (rc)
        redisFree(rc);
    return rcode;
}

int rcheck_load_junk(const char *host, int port, const char *show, long n, int min_s, int max_s,
                     char *err, size_t errlen)
{
    redisContext *rc = redisConnect(host, port);
    unsigned seed = 12345;

    if (!rc || rc->err) {
        snprintf(err, errlen, "redis %s:%d: %s", host, port, rc ? rc->errstr : "no memory");
        if (rc)
            redisFree(rc);
        return -1;
    }
    for (long i = 0; i < n; i += RCHECK_PIPELINE) {
        long end = i + RCHECK_PIPELINE < n ? i + RCHECK_PIPELINE : n;
        for (long j = i; j < end; j++) {
            int ttl = min_s + (int)(rand_r(&seed) % (unsigned)(max_s - min_s + 1));
            redisAppendCommand(rc, "SET bench:junk:{%s}:%ld x EX %d", show, j, ttl);
        }
        for (long j = i; j < end; j++) {
            redisReply *r = NULL;
            if (redisGetReply(rc, (void **)&r) != REDIS_OK || !r || r->type == REDIS_REPLY_ERROR) {
                snprintf(err, errlen, "redis: %s", r ? r->str : rc->errstr);
                if (r)
                    freeReplyObject(r);
                redisFree(rc);
                return -1;
            }
            freeReplyObject(r);
        }
    }
    redisFree(rc);
    return 0;
}
