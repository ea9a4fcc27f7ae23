/*
 * test_best.c - unit tests of server/best.c (the best-available pick) and
 * the venue fields it reads (runs, rank, focus): front and centre first,
 * groups never across an aisle, together or fewest groups, category and
 * section filters, wheelchair spaces asked for and kept for those who ask,
 * rank overrides, the hint when nothing fits, claims of picks in flight, and
 * a pick on the 60,000-seat stadium within its time budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "best.h"
#include "best_op.h"
#include "venue.h"

/*
 * The test venue (' for "): stage centre (10, 1) is the focus.
 *   S row A (y 4): block A1-A6 at x 2..7, aisle, block A7-A12 at x 11..16
 *   S row B (y 5): one block B1-B16 at x 2..17
 *   S row C (y 6): one block C1-C16, premium, C1 and C2 wheelchair spaces
 *   BOX row A: single seats A1 (-3,3), A2 (-2,3) side by side; A3 (5,3) apart
 */
#define HEAD_FIELDS                                                                                \
    "'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':20,'h':2},"                              \
    "'categories':[{'id':'std','name':'Std','price':100,'color':'#000000'},"                       \
    "{'id':'premium','name':'Premium','price':200,'color':'#ffffff'}],"
#define VENUE_HEAD "{" HEAD_FIELDS
#define ROW_A_RANK(r)                                                                              \
    "{'label':'A','y':4" r ",'blocks':[{'first':1,'count':6,'x':2},{'first':7,'count':6,'x':11}]}"
#define SECTIONS(rank_a)                                                                           \
    "'sections':[{'id':'S','name':'S','category':'std','rows':[" ROW_A_RANK(                       \
        rank_a) ","                                                                                \
                "{'label':'B','y':5,'blocks':[{'first':1,'count':16,'x':2}]},"                     \
                "{'label':'C','y':6,'category':'premium','blocks':[{'first':1,'count':16,'x':2,"   \
                "'accessible':[1,2]}]}]},"                                                         \
                "{'id':'BOX','name':'Box','category':'premium','rows':[{'label':'A','seats':["     \
                "{'number':1,'x':-3,'y':3},{'number':2,'x':-2,'y':3},{'number':3,'x':5,'y':3}]}]}" \
                "]}"

static char *q(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static venue *parse(const char *doc_q)
{
    char err[512];
    venue *v = NULL;
    char *doc = q(doc_q);
    if (venue_parse(doc, strlen(doc), &v, err, sizeof(err)))
        fail_msg("%s", err);
    free(doc);
    return v;
}

typedef struct fixture {
    venue *v;
    best_index *ix;
    char *states;
} fixture;

static fixture fx_new(const char *doc_q)
{
    fixture f;
    size_t n;
    f.v = parse(doc_q);
    f.ix = best_index_new(f.v);
    assert_non_null(f.ix);
    n = venue_seat_count(f.v);
    f.states = malloc(n + 1);
    memset(f.states, 'e', n);
    f.states[n] = '\0';
    return f;
}

static void fx_free(fixture *f)
{
    best_index_free(f->ix);
    venue_free(f->v);
    free(f->states);
}

/* Marks seats taken: "S-A-8 S-B-3 ...". */
static void take(fixture *f, const char *ids)
{
    char buf[1024], *save = NULL, *t;
    snprintf(buf, sizeof(buf), "%s", ids);
    for (t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        long i = venue_seat_index(f->v, t);
        if (i < 0)
            fail_msg("no seat %s", t);
        f->states[i] = 'p';
    }
}

/* Takes every seat of a row prefix ("S-A-") except those listed. */
static void take_all_but(fixture *f, const char *keep)
{
    size_t i, n = venue_seat_count(f->v);
    for (i = 0; i < n; i++) {
        char id[40];
        snprintf(id, sizeof(id), " %s ", venue_seat_id(f->v, i));
        char k[1024];
        snprintf(k, sizeof(k), " %s ", keep);
        if (!strstr(k, id))
            f->states[i] = 'b';
    }
}

static best_request rq(size_t count)
{
    best_request r = {.count = count, .category = -1, .section = -1, .together = 1};
    return r;
}

/* The picked seat ids joined by spaces. */
static const char *picked(const fixture *f, const best_result *res)
{
    static char out[2048];
    size_t k, len = 0;
    out[0] = '\0';
    for (k = 0; k < res->n; k++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", k ? " " : "",
                                venue_seat_id(f->v, res->seats[k]));
    return out;
}

static void expect(fixture *f, const best_request *r, const char *ids)
{
    best_result res;
    int rc = best_pick(f->ix, f->states, NULL, r, &res);
    if (rc)
        fail_msg("pick failed (%d), expected %s", rc, ids);
    assert_string_equal(picked(f, &res), ids);
}

static void test_front_and_centre(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(""));
    best_request r = rq(1);
    (void)state;

    expect(&f, &r, "S-A-7"); /* (11,4): the nearest seat to (10,1) */
    r.count = 2;
    expect(&f, &r, "S-A-7 S-A-8");
    take(&f, "S-A-7");
    r.count = 1;
    expect(&f, &r, "S-A-8"); /* (12,4): 3.6 from the focus */
    take(&f, "S-A-8");
    expect(&f, &r, "S-B-9"); /* row B's centre (10,5) is 4 away: nearer than A6 or A9 */
    fx_free(&f);
}

static void test_aisle_and_blocks(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(""));
    best_request r = rq(2);
    best_result res;
    (void)state;

    /* A6 and A7 are the two best single seats left, but an aisle runs
     * between them: the pair is B8-B9, row B's centre. */
    take(&f, "S-A-8");
    expect(&f, &r, "S-B-8 S-B-9");
    /* 7 together: row A's blocks have 6 seats, row B 16. */
    r.count = 7;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_OK);
    assert_int_equal(res.groups, 1);
    assert_string_equal(picked(&f, &res), "S-B-6 S-B-7 S-B-8 S-B-9 S-B-10 S-B-11 S-B-12");
    /* Single seats of a box sit together only when side by side. */
    r = rq(2);
    r.section = venue_section_index(f.v, "BOX");
    assert_true(r.section >= 0);
    expect(&f, &r, "BOX-A-1 BOX-A-2");
    r.count = 1;
    expect(&f, &r, "BOX-A-3");
    take(&f, "BOX-A-1");
    r.count = 2;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_ENOTOGETHER);
    assert_int_equal(res.largest, 1);
    fx_free(&f);
}

static void test_together_or_scattered(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(""));
    best_request r = rq(3);
    best_result res;
    (void)state;

    /* Left free in row B: B2 B3 | B5 B6 | B9 (the rest taken). */
    take_all_but(&f, "S-B-2 S-B-3 S-B-5 S-B-6 S-B-9");
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_ENOTOGETHER);
    assert_int_equal(res.n, 0);
    assert_int_equal(res.largest, 2); /* the hint */
    assert_int_equal(res.available, 5);
    /* Fewest groups: the best pair (B5 B6 beats B2 B3), then the best seat. */
    r.together = 0;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_OK);
    assert_int_equal(res.groups, 2);
    assert_string_equal(picked(&f, &res), "S-B-5 S-B-6 S-B-9");
    /* The survey counts everything even for a request that fits. */
    r.count = 1;
    best_survey(f.ix, f.states, NULL, &r, &res);
    assert_int_equal(res.n, 0);
    assert_int_equal(res.available, 5);
    assert_int_equal(res.largest, 2);
    r.count = 3;
    /* More than there are, together or not: too few, with the count. */
    r.count = 6;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_ETOOFEW);
    assert_int_equal(res.available, 5);
    fx_free(&f);
}

static void test_category_and_section(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(""));
    best_request r = rq(2);
    best_result res;
    (void)state;

    r.category = venue_category_index(f.v, "premium");
    assert_true(r.category >= 0);
    expect(&f, &r, "S-C-8 S-C-9"); /* premium: row C and the box; row C is nearer */
    r.section = venue_section_index(f.v, "S");
    r.category = venue_category_index(f.v, "std");
    expect(&f, &r, "S-A-7 S-A-8");
    /* Nothing of the category left. */
    take_all_but(&f, "S-A-1");
    r.category = venue_category_index(f.v, "premium");
    r.section = -1;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_ETOOFEW);
    assert_int_equal(res.available, 0);
    fx_free(&f);
}

static void test_accessible(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(""));
    best_request r = rq(2);
    best_result res;
    (void)state;

    /* One wheelchair space and a companion seat: C2 C3 (not C1 C2, which
     * would use both spaces). */
    r.accessible = 1;
    expect(&f, &r, "S-C-2 S-C-3");
    r.accessible = 2;
    expect(&f, &r, "S-C-1 S-C-2");
    /* Not asked for: wheelchair spaces are left for those who need them... */
    r = rq(2);
    take_all_but(&f, "S-C-1 S-C-2 S-C-15 S-C-16");
    expect(&f, &r, "S-C-15 S-C-16");
    /* ...unless nothing else is left. */
    take(&f, "S-C-15");
    expect(&f, &r, "S-C-1 S-C-2");
    /* Asked for more than there are: the count of spaces in the answer. */
    r.count = 3;
    r.accessible = 3;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_ETOOFEW);
    assert_int_equal(res.wheelchair, 2);
    /* The hint counts only groups with the spaces asked for. */
    fx_free(&f);
    f = fx_new(VENUE_HEAD SECTIONS(""));
    take(&f, "S-C-3");
    r = rq(3);
    r.accessible = 1;
    r.category = venue_category_index(f.v, "premium");
    r.section = venue_section_index(f.v, "S");
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_ENOTOGETHER);
    assert_int_equal(res.largest, 2); /* C1 C2 */
    fx_free(&f);
}

static void test_rank_and_focus(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(",'rank':101"));
    best_request r = rq(1);
    venue *v;
    char err[256];
    char *doc;
    (void)state;

    /* Row A ranked below the rest (default 100): row B's centre first. */
    expect(&f, &r, "S-B-9");
    take_all_but(&f, "S-A-7 S-C-16");
    expect(&f, &r, "S-C-16"); /* any rank-100 seat before rank 101 */
    fx_free(&f);

    /* A focus moves the best seats: here to the right end. */
    f = fx_new("{'focus':{'x':30,'y':5}," HEAD_FIELDS SECTIONS(""));
    expect(&f, &r, "S-B-16");
    fx_free(&f);

    /* Ranks out of range, and a bad focus, are refused with the place. */
    doc = q(VENUE_HEAD "'sections':[{'id':'S','name':'S','category':'std','rank':0,'rows':["
                       "{'label':'A','y':1,'blocks':[{'first':1,'count':2,'x':0}]}]}]}");
    assert_int_equal(venue_parse(doc, strlen(doc), &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "section S: 'rank' must be a whole number from 1 to 1000"));
    free(doc);
    doc = q("{'focus':{'x':1}," HEAD_FIELDS SECTIONS(""));
    assert_int_equal(venue_parse(doc, strlen(doc), &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "focus: missing field 'y'"));
    free(doc);
}

static void test_claims_and_bad_requests(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(""));
    best_request r = rq(2);
    best_result res;
    uint16_t *claims = calloc(venue_seat_count(f.v), sizeof(*claims));
    char msg[256];
    (void)state;

    claims[venue_seat_index(f.v, "S-A-8")] = 1;
    assert_int_equal(best_pick(f.ix, f.states, claims, &r, &res), BEST_OK);
    assert_string_equal(picked(&f, &res), "S-B-8 S-B-9"); /* A9 A10 are further */
    free(claims);

    r.count = 0;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_EINVAL);
    r.count = BEST_MAX_SEATS + 1;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_EINVAL);
    r.count = 2;
    r.accessible = 3;
    assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &res), BEST_EINVAL);

    /* The sentences. */
    r = rq(4);
    r.category = venue_category_index(f.v, "premium");
    memset(&res, 0, sizeof(res));
    res.largest = 3;
    res.available = 9;
    best_explain(f.v, &r, BEST_ENOTOGETHER, &res, msg, sizeof(msg));
    assert_string_equal(
        msg, "there are no 4 seats together in category premium; the most together is 3");
    res.available = 1;
    best_explain(f.v, &r, BEST_ETOOFEW, &res, msg, sizeof(msg));
    assert_string_equal(msg, "only 1 seat in category premium is free");
    fx_free(&f);
}

/* Jitter: the same seed gives the same pick; a large one spreads picks over
 * nearly-as-good seats; ranks still come first. */
static void test_jitter(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(""));
    best_request r = rq(2);
    best_result a, b;
    int differ = 0;
    (void)state;

    r.jitter = 50;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        r.seed = seed;
        assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &a), BEST_OK);
        assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &b), BEST_OK);
        assert_memory_equal(a.seats, b.seats, sizeof(a.seats[0]) * 2);
        differ += strcmp(picked(&f, &a), "S-A-7 S-A-8") != 0;
    }
    assert_true(differ > 0);
    fx_free(&f);
    f = fx_new(VENUE_HEAD SECTIONS(",'rank':1"));
    for (uint64_t seed = 1; seed <= 20; seed++) {
        r.seed = seed;
        assert_int_equal(best_pick(f.ix, f.states, NULL, &r, &a), BEST_OK);
        assert_non_null(strstr(picked(&f, &a), "S-A-")); /* row A ranks first */
    }
    fx_free(&f);
}

static void test_parse_request(void **state)
{
    fixture f = fx_new(VENUE_HEAD SECTIONS(""));
    best_request r;
    char err[160];
    cJSON *m;
    (void)state;

    m = cJSON_Parse("{\"count\":4,\"category\":\"premium\",\"accessible\":1,\"together\":false}");
    assert_int_equal(best_parse_request(f.v, m, &r, err, sizeof(err)), 0);
    assert_int_equal(r.count, 4);
    assert_int_equal(r.category, venue_category_index(f.v, "premium"));
    assert_int_equal(r.section, -1);
    assert_int_equal(r.accessible, 1);
    assert_int_equal(r.together, 0);
    cJSON_Delete(m);
    m = cJSON_Parse("{\"count\":2}");
    assert_int_equal(best_parse_request(f.v, m, &r, err, sizeof(err)), 0);
    assert_int_equal(r.together, 1);
    cJSON_Delete(m);
    static const char *const bad[][2] = {
        {"{}", "\"count\" must be a whole number from 1 to 100"},
        {"{\"count\":2.5}", "\"count\" must be"},
        {"{\"count\":101}", "\"count\" must be"},
        {"{\"count\":2,\"accessible\":3}", "\"accessible\" must be"},
        {"{\"count\":2,\"together\":1}", "\"together\" must be true or false"},
        {"{\"count\":2,\"category\":\"gold\"}", "this venue has no category 'gold'"},
        {"{\"count\":2,\"section\":7}", "\"section\" must be a string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = cJSON_Parse(bad[i][0]);
        assert_int_equal(best_parse_request(f.v, m, &r, err, sizeof(err)), -1);
        if (!strstr(err, bad[i][1]))
            fail_msg("%s: got \"%s\"", bad[i][0], err);
        cJSON_Delete(m);
    }
    fx_free(&f);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The stadium with 10,000 random seats held: a pick of 2, 4 and 8 together
 * takes well under a millisecond (the bench measures it properly; this only
 * catches an accidental O(n^2)). */
static void test_stadium_speed(void **state)
{
    const char *root = getenv("SEATMAP_SOURCE_DIR");
    char path[4096], err[512];
    venue *v = NULL;
    best_index *ix;
    char *st;
    size_t n, i;
    double worst = 0;
    (void)state;

    snprintf(path, sizeof(path), "%s/assets/venues/stadium.json", root ? root : ".");
    if (venue_load_file(path, &v, NULL, err, sizeof(err)))
        fail_msg("%s", err);
    n = venue_seat_count(v);
    ix = best_index_new(v);
    st = malloc(n);
    memset(st, 'e', n);
    srand(7);
    for (i = 0; i < 10000; i++)
        st[(size_t)rand() % n] = 'p';
    for (int k = 0; k < 30; k++) {
        best_request r = rq((size_t)(2 << (k % 3)));
        best_result res;
        double t0 = now_us(), dt;
        assert_int_equal(best_pick(ix, st, NULL, &r, &res), BEST_OK);
        dt = now_us() - t0;
        if (k && dt > worst) /* the first warms the caches */
            worst = dt;
        for (i = 0; i < res.n; i++)
            st[res.seats[i]] = 'p';
    }
    /* Generous for sanitizer builds on a loaded machine. */
    assert_true(worst < 20000);
    best_index_free(ix);
    venue_free(v);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_front_and_centre),
        cmocka_unit_test(test_aisle_and_blocks),
        cmocka_unit_test(test_together_or_scattered),
        cmocka_unit_test(test_category_and_section),
        cmocka_unit_test(test_accessible),
        cmocka_unit_test(test_rank_and_focus),
        cmocka_unit_test(test_claims_and_bad_requests),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_parse_request),
        cmocka_unit_test(test_stadium_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
