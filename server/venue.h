/*
 * venue.h - seat layouts: parsing the venue format (docs/venue-format.md),
 * the seat list in snapshot order, seat id lookup, and the layout JSON that
 * GET /api/shows/{show} serves.
 *
 * A venue is immutable once parsed, so one parsed venue can be shared by
 * every show that uses it. Not here: seat states (show.h), storage.
 */
#ifndef SEATMAP_VENUE_H
#define SEATMAP_VENUE_H

#include "util.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Largest venue we accept: a big stadium plus room. */
#define VENUE_MAX_SEATS 200000
/* Largest venue file we read. */
#define VENUE_MAX_BYTES (32u * 1024u * 1024u)

typedef struct venue venue;

/*
 * Parses a venue document. On success *out is a new venue the caller owns
 * (free with venue_free) and 0 is returned. On failure returns -1, *out is
 * NULL and err holds one human sentence naming what is wrong (e.g.
 * "section STALLS row C: seat id STALLS-C-4 is used twice").
 */
int venue_parse(const char *json, size_t len, venue **out, char *err, size_t errlen);

/* Reads and parses a file; same contract as venue_parse. *text_out, when not
 * NULL, receives the file contents (caller frees) so it can be stored. */
int venue_load_file(const char *path, venue **out, char **text_out, char *err, size_t errlen);

void venue_free(venue *v);

const char *venue_name(const venue *v);
size_t venue_seat_count(const venue *v);
/* Seat id of seat i (0 <= i < count), in snapshot order. */
const char *venue_seat_id(const venue *v, size_t i);
/* Price of seat i in the venue's minor currency unit (cents). */
long venue_seat_price(const venue *v, size_t i);
/* Index of a seat id, or -1 when the venue has no such seat. O(1). */
long venue_seat_index(const venue *v, const char *seat_id);

/*
 * Resolves a JSON array of seat ids to the venue's own strings: ids[] gets
 * each seat of the venue once, in order (duplicates dropped), at most max;
 * *n their count. The ids that are no seat of the venue (null for an item
 * that is not a string) are appended to `unknown` as a JSON array. Returns
 * how many were unknown.
 */
size_t venue_resolve_seats(const venue *v, const cJSON *arr, const char **ids, size_t max,
                           size_t *n, sm_buf *unknown);

/*
 * The layout as JSON object members without the surrounding braces:
 * "venue":"...","currency":"EUR","stage":{...},"categories":[...],
 * "sections":[...],"seats":[{"id","section","row","number","x","y","category"
 * [,"accessible":true]}]. Built once at parse time; owned by the venue.
 */
const char *venue_layout_members(const venue *v, size_t *len);

/* ---- geometry and ranking, for picking the best seats (best.h) ---- */

/* Rank range of the `rank` field; a seat without one has VENUE_RANK_DEFAULT. */
#define VENUE_RANK_MIN 1
#define VENUE_RANK_MAX 1000
#define VENUE_RANK_DEFAULT 100

/*
 * What the venue knows about one seat besides its id. A "run" is a row's
 * seats that sit side by side with no aisle between them: one block, or
 * consecutive single seats of a row less than VENUE_RUN_GAP units apart. The
 * seats of a run have consecutive indexes, in their order along the row.
 */
#define VENUE_RUN_GAP 1.5
typedef struct venue_seat {
    float x, y;
    uint32_t run;       /* run number, 0-based, ascending with the index */
    uint16_t section;   /* section index, in file order */
    uint16_t rank;      /* VENUE_RANK_MIN..VENUE_RANK_MAX, lower is better */
    uint8_t category;   /* category index, in file order */
    uint8_t accessible; /* 1 for a wheelchair space */
} venue_seat;

/* venue_seat_count entries, in snapshot order; owned by the venue. */
const venue_seat *venue_seats(const venue *v);
size_t venue_run_count(const venue *v);
/* The stage rectangle: x, y (top-left), w, h. */
void venue_stage(const venue *v, double out[4]);
/* The point "best" measures from: the venue's `focus`, else the stage's
 * centre. */
void venue_focus(const venue *v, double *x, double *y);
size_t venue_category_count(const venue *v);
/* Index of a category id or section id, -1 when the venue has none such. */
long venue_category_index(const venue *v, const char *id);
long venue_section_index(const venue *v, const char *id);
const char *venue_category_id(const venue *v, size_t i);

#endif
