/*
 * venue.c - parses the venue format (docs/venue-format.md) into an immutable
 * venue: the seat list in snapshot order, an O(1) seat id index (an
 * open-addressing hash table), each seat's price, and the layout JSON that
 * GET /api/shows/{show} serves, built once here so that serving it is a copy.
 *
 * Not here: seat states, holds, bookings, HTTP. A venue never changes after
 * venue_parse returns, so it can be shared read-only between shows.
 */
#include "venue.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Format limits; docs/venue-format.md restates them. */
#define VENUE_FORMAT_VERSION 1
#define VENUE_MAX_NAME 128       /* bytes of a venue, section or category name */
#define VENUE_MAX_SECTION_ID 16  /* section id: [A-Za-z0-9_.]{1,16} */
#define VENUE_MAX_ROW_LABEL 8    /* row label: [A-Za-z0-9_.]{1,8} */
#define VENUE_MAX_CATEGORY_ID 16 /* category id: [A-Za-z0-9_.-]{1,16} */
#define VENUE_MAX_CATEGORIES 64
#define VENUE_MAX_SEAT_NUMBER 99999 /* seat numbers are 1..99999 */
#define VENUE_MAX_STEP 1000         /* |step| of seat numbers in a block */
#define VENUE_MAX_COORD 1000000.0   /* |x|, |y|, |dx|, |dy| and every seat position */
#define VENUE_MAX_PRICE 100000000L  /* one million in major units */
#define VENUE_LAYOUT_MAX_BYTES (64u * 1024u * 1024u)
#define VENUE_WHERE_MAX 128

/*
 * A set of short strings with insertion-order indexes: an arena of
 * NUL-terminated strings, their offsets, and an open-addressing table
 * (linear probing, power-of-two size, load <= 1/2) of index + 1 (0 = empty).
 */
typedef struct strtab {
    sm_buf arena;
    uint32_t *off; /* off[i]: where string i starts in arena */
    size_t n, off_cap;
    uint32_t *slot;
    size_t mask; /* slot count - 1; 0 when no table yet */
} strtab;

struct venue {
    char *name;
    strtab ids;        /* seat ids; index == snapshot position */
    uint8_t *seat_cat; /* category index of each seat */
    long *cat_price;   /* price of each category, cents */
    size_t ncat;
    venue_seat *seats; /* geometry, run, section, rank of each seat */
    size_t nruns;
    strtab cat_ids;     /* category ids, index == category index */
    strtab section_ids; /* section ids, index == section index */
    double stage[4];
    double focus[2];
    char *layout; /* venue_layout_members text */
    size_t layout_len;
};

/* ---- string table ---------------------------------------------------- */

static uint32_t str_hash(const char *s)
{
    uint64_t h = sm_hash(s);
    return (uint32_t)(h ^ (h >> 32));
}

static void strtab_init(strtab *t)
{
    memset(t, 0, sizeof(*t));
    /* Strings are at most a seat id long, and there are at most
     * VENUE_MAX_SEATS of them (plus sections and rows, fewer than seats). */
    sm_buf_init(&t->arena, (size_t)2 * VENUE_MAX_SEATS * (SM_SEAT_ID_MAX + 1));
}

static void strtab_free(strtab *t)
{
    sm_buf_free(&t->arena);
    free(t->off);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

/* Borrowed pointer into the arena: valid until the next strtab_add or strtab_free. */
static const char *strtab_get(const strtab *t, size_t i)
{
    return t->arena.data + t->off[i];
}

static long strtab_find(const strtab *t, const char *s)
{
    size_t i;
    if (!t->mask || !s)
        return -1;
    for (i = str_hash(s) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t e = t->slot[i];
        if (!e)
            return -1;
        if (!strcmp(strtab_get(t, e - 1), s))
            return (long)e - 1;
    }
}

static void strtab_place(strtab *t, uint32_t idx)
{
    size_t i = str_hash(strtab_get(t, idx)) & t->mask;
    while (t->slot[i])
        i = (i + 1) & t->mask;
    t->slot[i] = idx + 1;
}

static int strtab_grow(strtab *t)
{
    size_t cap = t->mask ? (t->mask + 1) * 2 : 64;
    uint32_t *slot = calloc(cap, sizeof(*slot));
    size_t i;
    if (!slot)
        return -1;
    free(t->slot);
    t->slot = slot;
    t->mask = cap - 1;
    for (i = 0; i < t->n; i++)
        strtab_place(t, (uint32_t)i);
    return 0;
}

/* Adds s; returns its index, -1 when it is already there, -2 when out of memory. */
static long strtab_add(strtab *t, const char *s)
{
    size_t at = t->arena.len;
    if (strtab_find(t, s) >= 0)
        return -1;
    if (t->n == t->off_cap) {
        size_t cap = t->off_cap ? t->off_cap * 2 : 64;
        uint32_t *off = realloc(t->off, cap * sizeof(*off));
        if (!off)
            return -2;
        t->off = off;
        t->off_cap = cap;
    }
    if ((t->n + 1) * 2 > (t->mask ? t->mask + 1 : 0) && strtab_grow(t))
        return -2;
    if (sm_buf_add(&t->arena, s, strlen(s) + 1))
        return -2;
    t->off[t->n] = (uint32_t)at;
    strtab_place(t, (uint32_t)t->n);
    return (long)t->n++;
}

/* ---- parser state and errors ----------------------------------------- */

/* State of one venue_parse call. Strings it points to (section_id,
 * row_label) belong to the cJSON tree. */
typedef struct parser {
    venue *v;
    char *err;
    size_t errlen;
    char where[VENUE_WHERE_MAX]; /* "section BALC row C block 2" */
    strtab names;                /* "s/SECTION" and "r/SECTION/ROW" keys */
    size_t seat_cap;
    sm_buf seats;    /* the "seats" array body */
    sm_buf sections; /* the "sections" array body */
    const char *section_id;
    const char *row_label;
    int section_cat; /* default category index, or -1 */
    int row_cat;
    long section_idx;
    long section_rank, row_rank; /* inherited rank */
    int row_single_run;          /* the row's last seat was a single seat */
    double last_x, last_y;       /* where that seat is */
    double row_x;                /* offset added to every x of the row */
    double bounds[4];
    int oom;
} parser;

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "<where>: <message>" to the caller's error buffer; returns -1. */
static int fail(parser *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "%s: %s", p->where[0] ? p->where : "venue", msg);
    return -1;
}

static int fail_oom(parser *p)
{
    p->oom = 1;
    return fail(p, "out of memory (or the layout is larger than %u bytes)", VENUE_LAYOUT_MAX_BYTES);
}

/* Field names starting with '_' are comments; anything else unknown is
 * refused so that a typo ("accesible") does not silently lose data. */
static int check_keys(parser *p, const cJSON *obj, const char *const *allowed)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        const char *const *a;
        int ok = it->string && it->string[0] == '_';
        for (a = allowed; !ok && *a; a++)
            ok = !strcmp(*a, it->string);
        if (!ok)
            return fail(p, "unknown field '%.40s'", it->string ? it->string : "");
    }
    return 0;
}

/* *out = the string member, or NULL when absent and not required. The
 * string belongs to the cJSON tree: it lives until venue_parse deletes it. */
static int get_str(parser *p, const cJSON *obj, const char *key, int required, size_t maxlen,
                   const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    size_t n;

    *out = NULL;
    if (!it) {
        if (required)
            return fail(p, "missing field '%s'", key);
        return 0;
    }
    if (!cJSON_IsString(it) || !it->valuestring)
        return fail(p, "'%s' must be a string", key);
    n = strlen(it->valuestring);
    if (n == 0 || n > maxlen)
        return fail(p, "'%s' must be 1 to %zu bytes long", key, maxlen);
    *out = it->valuestring;
    return 0;
}

/* A finite number within +-VENUE_MAX_COORD; *out = def when absent. */
static int get_num(parser *p, const cJSON *obj, const char *key, int required, double def,
                   double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    *out = def;
    if (!it) {
        if (required)
            return fail(p, "missing field '%s'", key);
        return 0;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return fail(p, "'%s' must be a number", key);
    if (fabs(it->valuedouble) > VENUE_MAX_COORD)
        return fail(p, "'%s' must be between %.0f and %.0f", key, -VENUE_MAX_COORD,
                    VENUE_MAX_COORD);
    *out = it->valuedouble;
    return 0;
}

static int is_whole(const cJSON *it, long min, long max)
{
    double d = it->valuedouble;
    return cJSON_IsNumber(it) && isfinite(d) && d == floor(d) && d >= (double)min &&
           d <= (double)max;
}

/* A whole number in [min, max]; *out = def when absent. */
static int get_int(parser *p, const cJSON *obj, const char *key, int required, long def, long min,
                   long max, long *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    *out = def;
    if (!it) {
        if (required)
            return fail(p, "missing field '%s'", key);
        return 0;
    }
    if (!is_whole(it, min, max))
        return fail(p, "'%s' must be a whole number from %ld to %ld", key, min, max);
    *out = (long)it->valuedouble;
    return 0;
}

/* An array member (possibly empty); *out = NULL when absent and optional. */
static int get_arr(parser *p, const cJSON *obj, const char *key, int required, const cJSON **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    *out = NULL;
    if (!it) {
        if (required)
            return fail(p, "missing field '%s'", key);
        return 0;
    }
    if (!cJSON_IsArray(it))
        return fail(p, "'%s' must be an array", key);
    *out = it;
    return 0;
}

/* 1 when s is 1..max characters of [A-Za-z0-9_.] (plus '-' when dash). */
static int valid_token(const char *s, size_t max, int dash)
{
    size_t n;
    for (n = 0; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || (dash && c == '-')))
            return 0;
    }
    return n >= 1 && n <= max;
}

/* A category reference; *idx keeps its value (the inherited default) when
 * the member is absent. */
static int get_cat(parser *p, const cJSON *obj, int *idx)
{
    const char *id;
    long i;

    if (get_str(p, obj, "category", 0, 64, &id))
        return -1;
    if (!id)
        return 0;
    i = strtab_find(&p->v->cat_ids, id);
    if (i < 0)
        return fail(p, "category '%.40s' is not defined", id);
    *idx = (int)i;
    return 0;
}

/* A `rank` member; *rank keeps its value (the inherited one) when absent. */
static int get_rank(parser *p, const cJSON *obj, long *rank)
{
    return get_int(p, obj, "rank", 0, *rank, VENUE_RANK_MIN, VENUE_RANK_MAX, rank);
}

/* ---- output helpers --------------------------------------------------- */

/* Appends v rounded to one decimal, without a trailing ".0". */
static int add_coord(sm_buf *b, double v)
{
    long long r = llround(v * 10.0);
    const char *sign = r < 0 ? "-" : "";
    if (r < 0)
        r = -r;
    if (r % 10)
        return sm_buf_printf(b, "%s%lld.%lld", sign, r / 10, r % 10);
    return sm_buf_printf(b, "%s%lld", sign, r / 10);
}

static void grow_bounds(double *bd, double x, double y)
{
    if (x < bd[0])
        bd[0] = x;
    if (y < bd[1])
        bd[1] = y;
    if (x > bd[2])
        bd[2] = x;
    if (y > bd[3])
        bd[3] = y;
}

/* Adds one seat: checks its id, indexes it and appends its layout object. */
static int add_seat(parser *p, long number, double x, double y, int cat, int accessible, long rank,
                    int new_run)
{
    venue *v = p->v;
    char id[64];
    long idx;
    sm_buf *b = &p->seats;
    int rc = 0;

    if (number < 1 || number > VENUE_MAX_SEAT_NUMBER)
        return fail(p, "seat number %ld is out of range (1 to %d)", number, VENUE_MAX_SEAT_NUMBER);
    if (cat < 0)
        return fail(p,
                    "seat %ld has no category (set 'category' on the seat, block, row or "
                    "section)",
                    number);
    if (fabs(x) > VENUE_MAX_COORD || fabs(y) > VENUE_MAX_COORD)
        return fail(p, "seat %ld lies outside +-%.0f units", number, VENUE_MAX_COORD);
    snprintf(id, sizeof(id), "%s-%s-%ld", p->section_id, p->row_label, number);
    if (!sm_valid_seat_id(id))
        return fail(p, "seat id '%s' is not valid ([A-Za-z0-9_.-], at most %d characters)", id,
                    SM_SEAT_ID_MAX);
    if (v->ids.n >= VENUE_MAX_SEATS)
        return fail(p, "the venue has more than %d seats", VENUE_MAX_SEATS);
    if (v->ids.n == p->seat_cap) {
        size_t cap = p->seat_cap ? p->seat_cap * 2 : 1024;
        uint8_t *sc = realloc(v->seat_cat, cap);
        venue_seat *vs;
        if (!sc)
            return fail_oom(p);
        v->seat_cat = sc;
        vs = realloc(v->seats, cap * sizeof(*vs));
        if (!vs)
            return fail_oom(p);
        v->seats = vs;
        p->seat_cap = cap;
    }
    idx = strtab_add(&v->ids, id);
    if (idx == -1)
        return fail(p, "seat id %s is used twice", id);
    if (idx < 0)
        return fail_oom(p);
    v->seat_cat[idx] = (uint8_t)cat;
    if (new_run || v->nruns == 0)
        v->nruns++;
    v->seats[idx] = (venue_seat){.x = (float)x,
                                 .y = (float)y,
                                 .run = (uint32_t)(v->nruns - 1),
                                 .section = (uint16_t)p->section_idx,
                                 .rank = (uint16_t)rank,
                                 .category = (uint8_t)cat,
                                 .accessible = (uint8_t)(accessible != 0)};
    grow_bounds(p->bounds, x, y);

    if (idx > 0)
        rc |= sm_buf_addc(b, ',');
    rc |= sm_buf_printf(b, "{\"id\":\"%s\",\"section\":\"%s\",\"row\":\"%s\",\"number\":%ld,\"x\":",
                        id, p->section_id, p->row_label, number);
    rc |= add_coord(b, x);
    rc |= sm_buf_adds(b, ",\"y\":");
    rc |= add_coord(b, y);
    rc |= sm_buf_adds(b, ",\"category\":");
    rc |= sm_buf_add_json_str(b, strtab_get(&v->cat_ids, (size_t)cat));
    rc |= sm_buf_adds(b, accessible ? ",\"accessible\":true}" : "}");
    return rc ? fail_oom(p) : 0;
}

/* ---- the document, level by level -------------------------------------- */

static int parse_block(parser *p, const cJSON *blk, double row_y, int have_row_y)
{
    static const char *const keys[] = {"first", "count",    "x",          "dx",   "y", "dy",
                                       "step",  "category", "accessible", "rank", NULL};
    long first, count, step, k, last, rank = p->row_rank;
    double x, dx, y, dy;
    int cat = p->row_cat;
    const cJSON *acc, *it;
    uint8_t *mark = NULL;
    int rc = 0;

    if (!cJSON_IsObject(blk))
        return fail(p, "must be an object");
    if (check_keys(p, blk, keys) ||
        get_int(p, blk, "first", 1, 0, 1, VENUE_MAX_SEAT_NUMBER, &first) ||
        get_int(p, blk, "count", 1, 0, 1, VENUE_MAX_SEATS, &count) ||
        get_int(p, blk, "step", 0, 1, -VENUE_MAX_STEP, VENUE_MAX_STEP, &step) ||
        get_num(p, blk, "x", 1, 0, &x) || get_num(p, blk, "dx", 0, 1, &dx) ||
        get_num(p, blk, "y", !have_row_y, row_y, &y) || get_num(p, blk, "dy", 0, 0, &dy) ||
        get_cat(p, blk, &cat) || get_arr(p, blk, "accessible", 0, &acc) || get_rank(p, blk, &rank))
        return -1;
    if (step == 0)
        return fail(p, "'step' must not be 0");
    last = first + (count - 1) * step;
    if (last < 1 || last > VENUE_MAX_SEAT_NUMBER)
        return fail(p, "seat numbers run from %ld to %ld, outside 1 to %d", first, last,
                    VENUE_MAX_SEAT_NUMBER);
    if (acc && cJSON_GetArraySize(acc) > 0) {
        mark = calloc((size_t)count, 1);
        if (!mark)
            return fail_oom(p);
        cJSON_ArrayForEach(it, acc)
        {
            long n, off;
            if (!is_whole(it, 1, VENUE_MAX_SEAT_NUMBER)) {
                free(mark);
                return fail(p, "'accessible' must list seat numbers");
            }
            n = (long)it->valuedouble;
            off = n - first;
            if (off % step || off / step < 0 || off / step >= count) {
                free(mark);
                return fail(p, "accessible seat %ld is not in the block", n);
            }
            mark[off / step] = 1;
        }
    }
    x += p->row_x;
    for (k = 0; k < count && !rc; k++)
        rc = add_seat(p, first + k * step, x + (double)k * dx, y + (double)k * dy, cat,
                      mark && mark[k], rank, k == 0);
    free(mark);
    p->row_single_run = 0;
    return rc;
}

static int parse_seat(parser *p, const cJSON *st, double row_y, int have_row_y)
{
    static const char *const keys[] = {"number", "x", "y", "category", "accessible", "rank", NULL};
    const cJSON *acc;
    long number, rank = p->row_rank;
    double x, y;
    int cat = p->row_cat, new_run, rc;

    if (!cJSON_IsObject(st))
        return fail(p, "must be an object");
    if (check_keys(p, st, keys) ||
        get_int(p, st, "number", 1, 0, 1, VENUE_MAX_SEAT_NUMBER, &number) ||
        get_num(p, st, "x", 1, 0, &x) || get_num(p, st, "y", !have_row_y, row_y, &y) ||
        get_cat(p, st, &cat) || get_rank(p, st, &rank))
        return -1;
    acc = cJSON_GetObjectItemCaseSensitive(st, "accessible");
    if (acc && !cJSON_IsBool(acc))
        return fail(p, "'accessible' must be true or false");
    x += p->row_x;
    /* Single seats next to each other (no aisle between) sit together. */
    new_run = !p->row_single_run || hypot(x - p->last_x, y - p->last_y) >= VENUE_RUN_GAP;
    rc = add_seat(p, number, x, y, cat, cJSON_IsTrue(acc), rank, new_run);
    p->row_single_run = 1;
    p->last_x = x;
    p->last_y = y;
    return rc;
}

static int parse_row(parser *p, const cJSON *row, size_t ri)
{
    static const char *const keys[] = {"label",  "x",     "y",    "category",
                                       "blocks", "seats", "rank", NULL};
    const cJSON *blocks, *seats, *it;
    const char *label;
    double y;
    size_t base = p->v->ids.n, i;
    char key[VENUE_MAX_SECTION_ID + VENUE_MAX_ROW_LABEL + 8];
    long r;
    int have_y;

    snprintf(p->where, sizeof(p->where), "section %s row %zu", p->section_id, ri + 1);
    if (!cJSON_IsObject(row))
        return fail(p, "must be an object");
    if (get_str(p, row, "label", 1, 64, &label))
        return -1;
    if (!valid_token(label, VENUE_MAX_ROW_LABEL, 0))
        return fail(p, "row label '%.40s' must be 1 to %d letters, digits, '_' or '.'", label,
                    VENUE_MAX_ROW_LABEL);
    snprintf(p->where, sizeof(p->where), "section %s row %s", p->section_id, label);
    p->row_label = label;
    p->row_cat = p->section_cat;
    p->row_rank = p->section_rank;
    p->row_single_run = 0;
    have_y = cJSON_GetObjectItemCaseSensitive(row, "y") != NULL;
    if (check_keys(p, row, keys) || get_num(p, row, "x", 0, 0, &p->row_x) ||
        get_num(p, row, "y", 0, 0, &y) || get_cat(p, row, &p->row_cat) ||
        get_arr(p, row, "blocks", 0, &blocks) || get_arr(p, row, "seats", 0, &seats) ||
        get_rank(p, row, &p->row_rank))
        return -1;
    snprintf(key, sizeof(key), "r/%s/%s", p->section_id, label);
    r = strtab_add(&p->names, key);
    if (r == -1)
        return fail(p, "the row is defined twice");
    if (r < 0)
        return fail_oom(p);

    i = 0;
    cJSON_ArrayForEach(it, blocks)
    {
        snprintf(p->where, sizeof(p->where), "section %s row %s block %zu", p->section_id, label,
                 ++i);
        if (parse_block(p, it, y, have_y))
            return -1;
    }
    i = 0;
    cJSON_ArrayForEach(it, seats)
    {
        snprintf(p->where, sizeof(p->where), "section %s row %s seat %zu", p->section_id, label,
                 ++i);
        if (parse_seat(p, it, y, have_y))
            return -1;
    }
    snprintf(p->where, sizeof(p->where), "section %s row %s", p->section_id, label);
    if (p->v->ids.n == base)
        return fail(p, "the row has no seats (give it 'blocks' or 'seats')");
    return 0;
}

static int parse_section(parser *p, const cJSON *sec, size_t si)
{
    static const char *const keys[] = {"id", "name", "category", "rows", "rank", NULL};
    const cJSON *rows, *it;
    const char *id, *name;
    char key[VENUE_MAX_SECTION_ID + 4];
    size_t ri = 0;
    long r;
    int rc = 0;

    snprintf(p->where, sizeof(p->where), "section %zu", si + 1);
    if (!cJSON_IsObject(sec))
        return fail(p, "must be an object");
    if (get_str(p, sec, "id", 1, 64, &id))
        return -1;
    if (!valid_token(id, VENUE_MAX_SECTION_ID, 0))
        return fail(p, "section id '%.40s' must be 1 to %d letters, digits, '_' or '.'", id,
                    VENUE_MAX_SECTION_ID);
    snprintf(p->where, sizeof(p->where), "section %s", id);
    p->section_id = id;
    p->section_cat = -1;
    p->section_rank = VENUE_RANK_DEFAULT;
    if (check_keys(p, sec, keys) || get_str(p, sec, "name", 1, VENUE_MAX_NAME, &name) ||
        get_cat(p, sec, &p->section_cat) || get_arr(p, sec, "rows", 1, &rows) ||
        get_rank(p, sec, &p->section_rank))
        return -1;
    if (cJSON_GetArraySize(rows) == 0)
        return fail(p, "'rows' is empty");
    snprintf(key, sizeof(key), "s/%s", id);
    r = strtab_add(&p->names, key);
    if (r == -1)
        return fail(p, "the section id is used twice");
    if (r < 0)
        return fail_oom(p);
    p->section_idx = strtab_add(&p->v->section_ids, id);
    if (p->section_idx < 0)
        return fail_oom(p);

    p->bounds[0] = p->bounds[1] = HUGE_VAL;
    p->bounds[2] = p->bounds[3] = -HUGE_VAL;
    cJSON_ArrayForEach(it, rows)
    {
        if (parse_row(p, it, ri++))
            return -1;
    }
    /* Sections carry their seats' bounding box so that a page can place a
     * label or zoom to a section without scanning every seat. */
    if (si > 0)
        rc |= sm_buf_addc(&p->sections, ',');
    rc |= sm_buf_printf(&p->sections, "{\"id\":\"%s\",\"name\":", id);
    rc |= sm_buf_add_json_str(&p->sections, name);
    rc |= sm_buf_adds(&p->sections, ",\"bounds\":[");
    for (int k = 0; k < 4; k++) {
        rc |= add_coord(&p->sections, p->bounds[k]);
        rc |= sm_buf_addc(&p->sections, k < 3 ? ',' : ']');
    }
    rc |= sm_buf_addc(&p->sections, '}');
    return rc ? fail_oom(p) : 0;
}

static int valid_color(const char *s)
{
    size_t i;
    if (strlen(s) != 7 || s[0] != '#')
        return 0;
    for (i = 1; i < 7; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Parses "categories" and writes the "categories" member to out. */
static int parse_categories(parser *p, const cJSON *cats, sm_buf *out)
{
    static const char *const keys[] = {"id", "name", "price", "color", NULL};
    const cJSON *c;
    size_t i = 0;
    int rc = 0;
    venue *v = p->v;
    size_t n = (size_t)cJSON_GetArraySize(cats);

    if (n == 0)
        return fail(p, "'categories' is empty");
    if (n > VENUE_MAX_CATEGORIES)
        return fail(p, "more than %d categories", VENUE_MAX_CATEGORIES);
    v->cat_price = calloc(n, sizeof(*v->cat_price));
    if (!v->cat_price)
        return fail_oom(p);
    rc |= sm_buf_adds(out, ",\"categories\":[");
    cJSON_ArrayForEach(c, cats)
    {
        const char *id, *name, *color;
        long price, r;

        snprintf(p->where, sizeof(p->where), "category %zu", i + 1);
        if (!cJSON_IsObject(c))
            return fail(p, "must be an object");
        if (get_str(p, c, "id", 1, 64, &id))
            return -1;
        if (!valid_token(id, VENUE_MAX_CATEGORY_ID, 1))
            return fail(p, "category id '%.40s' must be 1 to %d letters, digits, '_', '.' or '-'",
                        id, VENUE_MAX_CATEGORY_ID);
        snprintf(p->where, sizeof(p->where), "category %s", id);
        if (check_keys(p, c, keys) || get_str(p, c, "name", 1, VENUE_MAX_NAME, &name) ||
            get_int(p, c, "price", 1, 0, 0, VENUE_MAX_PRICE, &price) ||
            get_str(p, c, "color", 1, 7, &color))
            return -1;
        if (!valid_color(color))
            return fail(p, "'color' must look like \"#1a2b3c\"");
        r = strtab_add(&v->cat_ids, id);
        if (r == -1)
            return fail(p, "the category id is used twice");
        if (r < 0)
            return fail_oom(p);
        v->cat_price[i] = price;
        rc |= sm_buf_printf(out, "%s{\"id\":\"%s\",\"name\":", i ? "," : "", id);
        rc |= sm_buf_add_json_str(out, name);
        rc |= sm_buf_printf(out, ",\"price\":%ld,\"color\":\"%s\"}", price, color);
        i++;
    }
    v->ncat = i;
    rc |= sm_buf_addc(out, ']');
    return rc ? fail_oom(p) : 0;
}

static int parse_stage(parser *p, const cJSON *st, sm_buf *out)
{
    static const char *const keys[] = {"x", "y", "w", "h", "label", NULL};
    double d[4];
    static const char *const names[] = {"x", "y", "w", "h"};
    const char *label;
    int rc = 0;

    snprintf(p->where, sizeof(p->where), "stage");
    if (!st)
        return fail(p, "missing (the venue needs 'stage': {x, y, w, h, label})");
    if (!cJSON_IsObject(st))
        return fail(p, "must be an object");
    if (check_keys(p, st, keys))
        return -1;
    for (int i = 0; i < 4; i++)
        if (get_num(p, st, names[i], 1, 0, &d[i]))
            return -1;
    if (d[2] <= 0 || d[3] <= 0)
        return fail(p, "'w' and 'h' must be positive");
    memcpy(p->v->stage, d, sizeof(d));
    p->v->focus[0] = d[0] + d[2] / 2;
    p->v->focus[1] = d[1] + d[3] / 2;
    if (get_str(p, st, "label", 0, VENUE_MAX_NAME, &label))
        return -1;
    rc |= sm_buf_adds(out, ",\"stage\":{");
    for (int i = 0; i < 4; i++) {
        rc |= sm_buf_printf(out, "%s\"%s\":", i ? "," : "", names[i]);
        rc |= add_coord(out, d[i]);
    }
    rc |= sm_buf_adds(out, ",\"label\":");
    rc |= sm_buf_add_json_str(out, label ? label : "Stage");
    rc |= sm_buf_addc(out, '}');
    return rc ? fail_oom(p) : 0;
}

/* The optional "focus": {x, y}, where the best seats look at (after the stage). */
static int parse_focus(parser *p, const cJSON *f)
{
    static const char *const keys[] = {"x", "y", NULL};

    if (!f)
        return 0;
    snprintf(p->where, sizeof(p->where), "focus");
    if (!cJSON_IsObject(f))
        return fail(p, "must be an object {x, y}");
    return check_keys(p, f, keys) || get_num(p, f, "x", 1, 0, &p->v->focus[0]) ||
                   get_num(p, f, "y", 1, 0, &p->v->focus[1])
               ? -1
               : 0;
}

/* Line and column (1-based) of position pos in text. */
static void line_col(const char *text, size_t pos, size_t *line, size_t *col)
{
    size_t i;
    *line = 1;
    *col = 1;
    for (i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int parse_doc(parser *p, const cJSON *doc)
{
    static const char *const keys[] = {"format",     "name",     "currency", "stage",
                                       "categories", "sections", "focus",    NULL};
    const cJSON *cats, *secs, *it;
    const char *name, *cur;
    long format;
    sm_buf head;
    size_t si = 0;
    int rc = 0;

    p->where[0] = '\0';
    if (!cJSON_IsObject(doc))
        return fail(p, "the document must be a JSON object");
    if (check_keys(p, doc, keys) ||
        get_int(p, doc, "format", 0, VENUE_FORMAT_VERSION, 0, 1000, &format))
        return -1;
    if (format != VENUE_FORMAT_VERSION)
        return fail(p, "format %ld is not supported (this server reads format %d)", format,
                    VENUE_FORMAT_VERSION);
    if (get_str(p, doc, "name", 1, VENUE_MAX_NAME, &name) ||
        get_str(p, doc, "currency", 1, 3, &cur) || get_arr(p, doc, "categories", 1, &cats) ||
        get_arr(p, doc, "sections", 1, &secs))
        return -1;
    if (strlen(cur) != 3 || cur[0] < 'A' || cur[0] > 'Z' || cur[1] < 'A' || cur[1] > 'Z' ||
        cur[2] < 'A' || cur[2] > 'Z')
        return fail(p, "'currency' must be an ISO 4217 code such as \"EUR\"");
    p->v->name = strdup(name);
    if (!p->v->name)
        return fail_oom(p);

    sm_buf_init(&head, VENUE_LAYOUT_MAX_BYTES);
    rc |= sm_buf_adds(&head, "\"venue\":");
    rc |= sm_buf_add_json_str(&head, name);
    rc |= sm_buf_printf(&head, ",\"currency\":\"%s\"", cur);
    if (rc) {
        sm_buf_free(&head);
        return fail_oom(p);
    }
    if (parse_stage(p, cJSON_GetObjectItemCaseSensitive(doc, "stage"), &head) ||
        parse_categories(p, cats, &head) ||
        parse_focus(p, cJSON_GetObjectItemCaseSensitive(doc, "focus")))
        goto fail;
    p->where[0] = '\0';
    if (cJSON_GetArraySize(secs) == 0) {
        fail(p, "'sections' is empty");
        goto fail;
    }
    cJSON_ArrayForEach(it, secs)
    {
        if (parse_section(p, it, si++))
            goto fail;
    }
    rc |= sm_buf_adds(&head, ",\"sections\":[");
    rc |= sm_buf_add(&head, p->sections.data, p->sections.len);
    rc |= sm_buf_adds(&head, "],\"seats\":[");
    rc |= sm_buf_add(&head, p->seats.data, p->seats.len);
    rc |= sm_buf_addc(&head, ']');
    if (rc) {
        fail_oom(p);
        goto fail;
    }
    p->v->layout = sm_buf_steal(&head, &p->v->layout_len);
    return 0;
fail:
    sm_buf_free(&head);
    return -1;
}

/* ---- public API ------------------------------------------------------- */

int venue_parse(const char *json, size_t len, venue **out, char *err, size_t errlen)
{
    parser p;
    cJSON *doc;
    const char *end = NULL;
    int rc;

    *out = NULL;
    memset(&p, 0, sizeof(p));
    p.err = err;
    p.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!json || len > VENUE_MAX_BYTES)
        return fail(&p, "the document is larger than %u bytes", VENUE_MAX_BYTES);

    /* cJSON allocates the tree; we own it and delete it below. On failure,
     * end points at the offending byte. */
    doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!doc) {
        size_t line, col, pos = end && end >= json ? (size_t)(end - json) : 0;
        if (pos > len)
            pos = len;
        line_col(json, pos, &line, &col);
        return fail(&p, "not valid JSON (line %zu, column %zu)", line, col);
    }
    if (end) {
        size_t pos;
        for (pos = (size_t)(end - json); pos < len; pos++) {
            char c = json[pos];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\0') {
                size_t line, col;
                cJSON_Delete(doc);
                line_col(json, pos, &line, &col);
                return fail(&p,
                            "not valid JSON: unexpected text after the document (line "
                            "%zu, column %zu)",
                            line, col);
            }
        }
    }

    p.v = calloc(1, sizeof(*p.v));
    if (!p.v) {
        cJSON_Delete(doc);
        return fail_oom(&p);
    }
    strtab_init(&p.v->ids);
    strtab_init(&p.v->cat_ids);
    strtab_init(&p.v->section_ids);
    strtab_init(&p.names);
    sm_buf_init(&p.seats, VENUE_LAYOUT_MAX_BYTES);
    sm_buf_init(&p.sections, VENUE_LAYOUT_MAX_BYTES);

    rc = parse_doc(&p, doc);

    cJSON_Delete(doc);
    strtab_free(&p.names);
    sm_buf_free(&p.seats);
    sm_buf_free(&p.sections);
    if (rc) {
        venue_free(p.v);
        return -1;
    }
    *out = p.v;
    return 0;
}

static int load_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int load_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int venue_load_file(const char *path, venue **out, char **text_out, char *err, size_t errlen)
{
    FILE *f;
    struct stat st;
    char *text;
    size_t n;
    int rc;

    *out = NULL;
    if (text_out)
        *text_out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        return load_fail(err, errlen, "cannot open venue file %s: %s", path, strerror(errno));
    }
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return load_fail(err, errlen, "venue file %s is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > VENUE_MAX_BYTES) {
        fclose(f);
        return load_fail(err, errlen, "venue file %s is larger than %u bytes", path,
                         VENUE_MAX_BYTES);
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        fclose(f);
        return load_fail(err, errlen, "venue file %s: out of memory", path);
    }
    n = fread(text, 1, (size_t)st.st_size, f);
    if (ferror(f) || n != (size_t)st.st_size) {
        fclose(f);
        free(text);
        return load_fail(err, errlen, "cannot read venue file %s", path);
    }
    fclose(f);
    text[n] = '\0';

    rc = venue_parse(text, n, out, err, errlen);
    if (rc == 0 && text_out)
        *text_out = text;
    else
        free(text);
    if (rc && err && errlen) {
        /* Name the file as well: "demo.json: section X row C: ..." */
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", err);
        snprintf(err, errlen, "%s: %s", path, msg);
    }
    return rc;
}

void venue_free(venue *v)
{
    if (!v)
        return;
    free(v->name);
    strtab_free(&v->ids);
    free(v->seat_cat);
    free(v->seats);
    strtab_free(&v->cat_ids);
    strtab_free(&v->section_ids);
    free(v->cat_price);
    free(v->layout);
    free(v);
}

const char *venue_name(const venue *v)
{
    return v->name;
}

size_t venue_seat_count(const venue *v)
{
    return v->ids.n;
}

const char *venue_seat_id(const venue *v, size_t i)
{
    return i < v->ids.n ? strtab_get(&v->ids, i) : NULL;
}

long venue_seat_price(const venue *v, size_t i)
{
    return i < v->ids.n ? v->cat_price[v->seat_cat[i]] : -1;
}

long venue_seat_index(const venue *v, const char *seat_id)
{
    return strtab_find(&v->ids, seat_id);
}

const char *venue_layout_members(const venue *v, size_t *len)
{
    if (len)
        *len = v->layout_len;
    return v->layout;
}

size_t venue_resolve_seats(const venue *v, const cJSON *arr, const char **ids, size_t max,
                           size_t *n, sm_buf *unknown)
{
    const cJSON *it;
    size_t bad = 0, k;

    *n = 0;
    sm_buf_addc(unknown, '[');
    cJSON_ArrayForEach(it, arr)
    {
        long idx = cJSON_IsString(it) ? venue_seat_index(v, it->valuestring) : -1;
        const char *id;
        if (idx < 0) {
            sm_buf_adds(unknown, bad++ ? "," : "");
            if (cJSON_IsString(it))
                sm_buf_add_json_str(unknown, it->valuestring);
            else
                sm_buf_adds(unknown, "null");
            continue;
        }
        id = venue_seat_id(v, (size_t)idx);
        for (k = 0; k < *n && ids[k] != id; k++)
            ;
        if (k == *n && *n < max)
            ids[(*n)++] = id;
    }
    sm_buf_addc(unknown, ']');
    return bad;
}

const venue_seat *venue_seats(const venue *v)
{
    return v->seats;
}

size_t venue_run_count(const venue *v)
{
    return v->nruns;
}

void venue_stage(const venue *v, double out[4])
{
    memcpy(out, v->stage, sizeof(v->stage));
}

void venue_focus(const venue *v, double *x, double *y)
{
    *x = v->focus[0];
    *y = v->focus[1];
}

size_t venue_category_count(const venue *v)
{
    return v->ncat;
}

long venue_category_index(const venue *v, const char *id)
{
    return strtab_find(&v->cat_ids, id);
}

long venue_section_index(const venue *v, const char *id)
{
    return strtab_find(&v->section_ids, id);
}

const char *venue_category_id(const venue *v, size_t i)
{
    return i < v->ncat ? strtab_get(&v->cat_ids, i) : NULL;
}
