/*
 * test_venue.c - unit tests of server/venue.c: the shipped venue files parse
 * with the expected seat counts, seat ids resolve in O(1) to their snapshot
 * index, prices follow categories, the layout JSON is valid and lists seats
 * in index order, and every malformed document is refused with a sentence
 * that names the place.
 *
 * Not here: serving the layout over HTTP (the integration tests do that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "venue.h"

#define ERR_MAX 512

/* Test documents are written with ' for " to stay readable; returns a
 * malloc'd copy with the quotes swapped (caller frees). */
static char *q(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static char *venue_path(const char *file)
{
    const char *root = getenv("SEATMAP_SOURCE_DIR");
    static char path[4096];
    snprintf(path, sizeof(path), "%s/assets/venues/%s", root ? root : ".", file);
    return path;
}

static venue *load(const char *file)
{
    char err[ERR_MAX];
    venue *v = NULL;
    int rc = venue_load_file(venue_path(file), &v, NULL, err, sizeof(err));
    if (rc)
        fail_msg("%s", err);
    assert_non_null(v);
    return v;
}

/* Parses the layout members wrapped in braces; the caller deletes it. */
static cJSON *layout_json(const venue *v)
{
    size_t len = 0;
    const char *m = venue_layout_members(v, &len);
    char *doc;
    cJSON *j;

    assert_non_null(m);
    assert_int_equal(strlen(m), len);
    doc = malloc(len + 3);
    doc[0] = '{';
    memcpy(doc + 1, m, len);
    doc[len + 1] = '}';
    doc[len + 2] = '\0';
    j = cJSON_ParseWithLength(doc, len + 2);
    free(doc);
    assert_non_null(j);
    return j;
}

/* Every seat's id resolves to its own index, and the layout lists the same
 * seats in the same order. Returns how many seats are accessible. */
static int check_index_and_layout(const venue *v)
{
    size_t n = venue_seat_count(v), i = 0;
    cJSON *j = layout_json(v);
    cJSON *seats = cJSON_GetObjectItemCaseSensitive(j, "seats"), *s;
    int accessible = 0;

    for (i = 0; i < n; i++) {
        const char *id = venue_seat_id(v, i);
        assert_non_null(id);
        assert_true(sm_valid_seat_id(id));
        assert_int_equal(venue_seat_index(v, id), (long)i);
        assert_true(venue_seat_price(v, i) >= 0);
    }
    assert_null(venue_seat_id(v, n));
    assert_int_equal(venue_seat_price(v, n), -1);

    assert_true(cJSON_IsArray(seats));
    assert_int_equal((size_t)cJSON_GetArraySize(seats), n);
    i = 0;
    cJSON_ArrayForEach(s, seats)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "id");
        assert_true(cJSON_IsString(id));
        assert_string_equal(id->valuestring, venue_seat_id(v, i));
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "section")));
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "row")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "number")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "x")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "y")));
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "category")));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "accessible")))
            accessible++;
        i++;
    }
    for (const char *k = "venue\0currency\0stage\0categories\0sections\0"; *k; k += strlen(k) + 1)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(j, k));
    cJSON_Delete(j);
    return accessible;
}

static void test_demo(void **state)
{
    venue *v = load("demo.json");
    size_t n = venue_seat_count(v);
    int acc;
    long i;

    assert_true(n >= 600 && n <= 1000);
    assert_string_equal(venue_name(v), "Seatmap Playhouse");
    acc = check_index_and_layout(v);
    assert_true(acc >= 4 && acc <= 8);

    /* Row A: seats 1-5 restricted, 6-17 premium (centre block). */
    i = venue_seat_index(v, "STALLS-A-6");
    assert_true(i >= 0);
    assert_int_equal(venue_seat_price(v, (size_t)i), 8900);
    i = venue_seat_index(v, "STALLS-A-1");
    assert_int_equal(i, 0);
    assert_int_equal(venue_seat_price(v, 0), 2900);
    i = venue_seat_index(v, "BALC-C-12");
    assert_true(i >= 0);
    assert_int_equal(venue_seat_price(v, (size_t)i), 4500);
    assert_true(venue_seat_index(v, "BOXL-A-4") >= 0);

    assert_int_equal(venue_seat_index(v, "STALLS-A-99"), -1);
    assert_int_equal(venue_seat_index(v, "STALLS-I-1"), -1); /* no row I */
    assert_int_equal(venue_seat_index(v, ""), -1);
    assert_int_equal(venue_seat_index(v, NULL), -1);
    assert_int_equal(venue_seat_index(v, "stalls-a-1"), -1); /* case matters */
    venue_free(v);
}

static void test_stadium(void **state)
{
    venue *v = load("stadium.json");
    size_t n = venue_seat_count(v), len = 0;

    assert_true(n >= 55000 && n <= 65000);
    check_index_and_layout(v);
    assert_true(venue_seat_index(v, "101-1-1") == 0);
    assert_true(venue_seat_index(v, "230-38-82") == (long)n - 1);
    assert_int_equal(venue_seat_index(v, "231-1-1"), -1);
    venue_layout_members(v, &len);
    print_message("stadium: %zu seats, layout %zu bytes\n", n, len);
    assert_true(len < 6u * 1024 * 1024);
    venue_free(v);
}

static void test_load_file(void **state)
{
    char err[ERR_MAX], *text = (char *)"sentinel";
    venue *v = (venue *)&err;

    assert_int_equal(venue_load_file(venue_path("no-such.json"), &v, &text, err, sizeof(err)), -1);
    assert_null(v);
    assert_null(text);
    assert_non_null(strstr(err, "no-such.json"));

    assert_int_equal(venue_load_file(venue_path("demo.json"), &v, &text, err, sizeof(err)), 0);
    assert_non_null(text);
    assert_non_null(strstr(text, "Seatmap Playhouse"));
    free(text);
    venue_free(v);
    venue_free(NULL);
}

#define HEAD                                                                                       \
    "{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':10,'h':2,'label':'S'},"                 \
    "'categories':[{'id':'P','name':'Premium','price':5000,'color':'#ff0000'},"                    \
    "{'id':'C','name':'Cheap','price':1000,'color':'#00ff00'}],"
#define SECS(x) HEAD "'sections':[" x "]}"
#define ROWS(x) SECS("{'id':'ST','name':'Stalls','rows':[" x "]}")
#define BLOCK(x) ROWS("{'label':'A','y':3,'blocks':[" x "]}")

static venue *parse_ok(const char *doc_q)
{
    char err[ERR_MAX];
    char *doc = q(doc_q);
    venue *v = NULL;
    int rc = venue_parse(doc, strlen(doc), &v, err, sizeof(err));
    free(doc);
    if (rc)
        fail_msg("unexpected error: %s", err);
    return v;
}

static void test_small_features(void **state)
{
    size_t len;
    const char *m;
    /* step -2 numbers 9,7,5,3; dx -1; accessible by number; categories
     * inherited from section and row, overridden by block and seat. */
    venue *v = parse_ok(
        SECS("{'id':'ST','name':'Stalls','category':'C','rows':["
             "{'label':'A','y':3,'x':0.25,'blocks':[{'first':9,'count':4,'step':-2,'x':10,'dx':-1,"
             "'accessible':[3],'category':'P'}]},"
             "{'label':'B','y':4,'category':'P','blocks':[{'first':1,'count':3,'x':0,'dx':0.33,"
             "'dy':0.25}],"
             "'seats':[{'number':7,'x':5,'y':6.04,'category':'C','accessible':true}]}]},"
             "{'id':'BOX','name':'Box \\'1\\'','rows':[{'label':'1','seats':[{'number':1,'x':-1.25,"
             "'y':-0.05,'category':'P'}]}]}"));

    assert_int_equal(venue_seat_count(v), 9);
    assert_string_equal(venue_seat_id(v, 0), "ST-A-9");
    assert_string_equal(venue_seat_id(v, 3), "ST-A-3");
    assert_string_equal(venue_seat_id(v, 4), "ST-B-1");
    assert_string_equal(venue_seat_id(v, 7), "ST-B-7");
    assert_string_equal(venue_seat_id(v, 8), "BOX-1-1");
    assert_int_equal(venue_seat_price(v, 0), 5000);
    assert_int_equal(venue_seat_price(v, 4), 5000);
    assert_int_equal(venue_seat_price(v, 7), 1000);
    m = venue_layout_members(v, &len);
    /* Row x offset 0.25 + 10 - k: 10.3 (10.25 rounds up), 9.3, ... at most one decimal. */
    assert_non_null(strstr(m, "{\"id\":\"ST-A-3\",\"section\":\"ST\",\"row\":\"A\",\"number\":3,"
                              "\"x\":7.3,\"y\":3,\"category\":\"P\",\"accessible\":true}"));
    assert_non_null(strstr(m, "\"id\":\"ST-B-3\",\"section\":\"ST\",\"row\":\"B\",\"number\":3,"
                              "\"x\":0.7,\"y\":4.5,\"category\":\"P\"}"));
    assert_non_null(
        strstr(m, "\"number\":7,\"x\":5,\"y\":6,\"category\":\"C\",\"accessible\":true}"));
    assert_non_null(strstr(m, "\"x\":-1.3,\"y\":-0.1,"));
    assert_non_null(strstr(m, "\"name\":\"Box \\\"1\\\"\",\"bounds\":[-1.3,-0.1,-1.3,-0.1]"));
    assert_non_null(strstr(m, "\"stage\":{\"x\":0,\"y\":0,\"w\":10,\"h\":2,\"label\":\"S\"}"));
    assert_non_null(
        strstr(m, "{\"id\":\"P\",\"name\":\"Premium\",\"price\":5000,\"color\":\"#ff0000\"}"));
    assert_int_equal(check_index_and_layout(v), 2);
    venue_free(v);

    /* Comments (keys starting with '_'), optional format 1, default stage label. */
    v = parse_ok("{'_comment':'x','format':1,'name':'T','currency':'USD','stage':{'x':0,'y':0,"
                 "'w':1,'h':1},'categories':[{'id':'a','name':'A','price':0,'color':'#ABCDEF'}],"
                 "'sections':[{'id':'S','name':'S','rows':[{'label':'1','blocks':[{'first':1,"
                 "'count':1,'x':0,'y':0,'category':'a'}]}]}]}");
    m = venue_layout_members(v, &len);
    assert_non_null(strstr(m, "\"label\":\"Stage\""));
    assert_non_null(strstr(m, "\"currency\":\"USD\""));
    venue_free(v);
}

struct bad_case {
    const char *doc;  /* with ' for " */
    const char *want; /* a substring of the error */
};

static const struct bad_case bad_cases[] = {
    /* not JSON */
    {"", "not valid JSON"},
    {"{'name':'T',", "not valid JSON"},
    {"{'name':'T'} x", "unexpected text"},
    {"[1,2]", "must be a JSON object"},
    /* missing fields */
    {"{}", "missing field 'name'"},
    {"{'name':'T','currency':'EUR','categories':[],'sections':[]}", "stage: missing"},
    {"{'name':'T','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[],'sections':[]}",
     "missing field 'currency'"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'sections':[]}",
     "missing field 'categories'"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[]}",
     "missing field 'sections'"},
    {HEAD "'sections':[]}", "'sections' is empty"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1},'categories':[],'sections':[]}",
     "stage: missing field 'h'"},
    {SECS("{'name':'Stalls','rows':[]}"), "section 1: missing field 'id'"},
    {SECS("{'id':'ST','rows':[]}"), "section ST: missing field 'name'"},
    {SECS("{'id':'ST','name':'Stalls'}"), "section ST: missing field 'rows'"},
    {SECS("{'id':'ST','name':'Stalls','rows':[]}"), "section ST: 'rows' is empty"},
    {ROWS("{'y':3,'blocks':[]}"), "section ST row 1: missing field 'label'"},
    {ROWS("{'label':'A','y':3}"), "section ST row A: the row has no seats"},
    {BLOCK("{'count':4,'x':1,'category':'P'}"), "section ST row A block 1: missing field 'first'"},
    {BLOCK("{'first':1,'x':1,'category':'P'}"), "block 1: missing field 'count'"},
    {BLOCK("{'first':1,'count':4,'category':'P'}"), "block 1: missing field 'x'"},
    {ROWS("{'label':'A','blocks':[{'first':1,'count':4,'x':1,'category':'P'}]}"),
     "block 1: missing field 'y'"},
    {ROWS("{'label':'A','y':1,'seats':[{'x':1,'category':'P'}]}"),
     "section ST row A seat 1: missing field 'number'"},
    {BLOCK("{'first':1,'count':4,'x':1}"), "block 1: seat 1 has no category"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[{'id':'P',"
     "'price':1,'color':'#000000'}],'sections':[]}",
     "category P: missing field 'name'"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[{'id':'P',"
     "'name':'P','color':'#000000'}],'sections':[]}",
     "category P: missing field 'price'"},
    /* wrong types and values */
    {"{'name':5}", "'name' must be a string"},
    {"{'name':'T','currency':'euro'}", "'currency' must be 1 to 3 bytes"},
    {"{'name':'T','currency':'eur','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[],"
     "'sections':[]}",
     "ISO 4217"},
    {"{'name':'T','currency':'EUR','stage':[],'categories':[],'sections':[]}",
     "stage: must be an object"},
    {"{'name':'T','currency':'EUR','stage':{'x':'0','y':0,'w':1,'h':1},'categories':[],"
     "'sections':[]}",
     "stage: 'x' must be a number"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':0,'h':1},'categories':[],"
     "'sections':[]}",
     "'w' and 'h' must be positive"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':{},"
     "'sections':[]}",
     "'categories' must be an array"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[],"
     "'sections':[]}",
     "'categories' is empty"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[{'id':'P',"
     "'name':'P','price':'10','color':'#000000'}],'sections':[]}",
     "category P: 'price' must be a whole number"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[{'id':'P',"
     "'name':'P','price':10.5,'color':'#000000'}],'sections':[]}",
     "category P: 'price' must be a whole number"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[{'id':'P',"
     "'name':'P','price':-1,'color':'#000000'}],'sections':[]}",
     "'price' must be a whole number from 0"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[{'id':'P',"
     "'name':'P','price':1,'color':'red'}],'sections':[]}",
     "category P: 'color' must look like"},
    {"{'name':'T','currency':'EUR','stage':{'x':0,'y':0,'w':1,'h':1},'categories':[{'id':'P',"
     "'name':'P','price':1,'color':'#000000'},{'id':'P','name':'Q','price':1,'color':'#000000'}],"
     "'sections':[]}",
     "category P: the category id is used twice"},
    {SECS("[]"), "section 1: must be an object"},
    {SECS("{'id':'ST','name':'Stalls','rows':{}}"), "section ST: 'rows' must be an array"},
    {ROWS("{'label':1,'y':3,'blocks':[]}"), "section ST row 1: 'label' must be a string"},
    {ROWS("{'label':'A','y':'3','blocks':[]}"), "section ST row A: 'y' must be a number"},
    {ROWS("{'label':'A','y':3,'blocks':{}}"), "section ST row A: 'blocks' must be an array"},
    {BLOCK("{'first':1,'count':'4','x':1,'category':'P'}"), "block 1: 'count' must be a whole"},
    {BLOCK("{'first':1.5,'count':4,'x':1,'category':'P'}"), "block 1: 'first' must be a whole"},
    {BLOCK("{'first':1,'count':0,'x':1,'category':'P'}"), "block 1: 'count' must be a whole"},
    {BLOCK("{'first':0,'count':4,'x':1,'category':'P'}"), "block 1: 'first' must be a whole"},
    {BLOCK("{'first':1,'count':4,'x':1,'step':0,'category':'P'}"), "'step' must not be 0"},
    {BLOCK("{'first':2,'count':4,'x':1,'step':-1,'category':'P'}"),
     "seat numbers run from 2 to -1"},
    {BLOCK("{'first':99990,'count':40,'x':1,'category':'P'}"), "outside 1 to 99999"},
    {BLOCK("{'first':1,'count':4,'x':1,'dx':1e300,'category':'P'}"), "'dx' must be between"},
    {BLOCK("{'first':1,'count':4,'x':1,'category':5}"), "block 1: 'category' must be a string"},
    {BLOCK("{'first':1,'count':4,'x':1,'category':'P','accessible':3}"),
     "block 1: 'accessible' must be an array"},
    {BLOCK("{'first':1,'count':4,'x':1,'category':'P','accessible':['1']}"),
     "'accessible' must list seat numbers"},
    {BLOCK("{'first':1,'count':4,'x':1,'category':'P','accessible':[5]}"),
     "section ST row A block 1: accessible seat 5 is not in the block"},
    {BLOCK("{'first':1,'count':4,'step':2,'x':1,'category':'P','accessible':[4]}"),
     "accessible seat 4 is not in the block"},
    {ROWS("{'label':'A','y':3,'seats':[{'number':1,'x':1,'category':'P','accessible':1}]}"),
     "seat 1: 'accessible' must be true or false"},
    {BLOCK("{'first':1,'count':4,'x':1,'category':'P','accesible':[1]}"),
     "block 1: unknown field 'accesible'"},
    {BLOCK("[1]"), "section ST row A block 1: must be an object"},
    /* unknown category */
    {BLOCK("{'first':1,'count':4,'x':1,'category':'P'},{'first':5,'count':4,'x':6,'category':'X'}"),
     "section ST row A block 2: category 'X' is not defined"},
    {SECS("{'id':'ST','name':'Stalls','category':'Z','rows':[]}"),
     "section ST: category 'Z' is not defined"},
    /* bad seat id characters */
    {SECS("{'id':'ST ALLS','name':'Stalls','rows':[]}"), "section id 'ST ALLS' must be"},
    {SECS("{'id':'ST-1','name':'Stalls','rows':[]}"), "section id 'ST-1' must be"},
    {SECS("{'id':'SECTIONNAMEISLONG','name':'Stalls','rows':[]}"), "section id"},
    {ROWS("{'label':'A/1','y':3,'blocks':[]}"), "section ST row 1: row label 'A/1' must be"},
    {ROWS("{'label':'\\u00e9','y':3,'blocks':[]}"), "row label"},
    /* duplicates */
    {BLOCK("{'first':1,'count':4,'x':1,'category':'P'},{'first':4,'count':2,'x':6,'category':'P'}"),
     "section ST row A block 2: seat id ST-A-4 is used twice"},
    {ROWS("{'label':'A','y':3,'blocks':[{'first':1,'count':2,'x':1,'category':'P'}],"
          "'seats':[{'number':2,'x':9,'category':'P'}]}"),
     "section ST row A seat 1: seat id ST-A-2 is used twice"},
    {ROWS("{'label':'A','y':3,'blocks':[{'first':1,'count':2,'x':1,'category':'P'}]},"
          "{'label':'A','y':4,'blocks':[{'first':5,'count':2,'x':1,'category':'P'}]}"),
     "section ST row A: the row is defined twice"},
    {SECS("{'id':'ST','name':'S','rows':[{'label':'A','y':1,'blocks':[{'first':1,'count':1,"
          "'x':0,'category':'P'}]}]},{'id':'ST','name':'T','rows':[{'label':'B','y':1,"
          "'blocks':[{'first':1,'count':1,'x':0,'category':'P'}]}]}"),
     "section ST: the section id is used twice"},
    /* misc */
    {"{'format':2,'name':'T'}", "format 2 is not supported"},
    {"{'name':'T','colour':'x'}", "unknown field 'colour'"},
};

static void test_bad_documents(void **state)
{
    size_t i;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        char err[ERR_MAX] = "";
        char *doc = q(bad_cases[i].doc);
        venue *v = (venue *)&err; /* must be reset to NULL */
        int rc = venue_parse(doc, strlen(doc), &v, err, sizeof(err));
        if (rc != -1 || v != NULL || !strstr(err, bad_cases[i].want))
            fail_msg("case %zu (%s): rc %d, error \"%s\", wanted \"%s\"", i, bad_cases[i].doc, rc,
                     err, bad_cases[i].want);
        free(doc);
    }
}

/* More than VENUE_MAX_SEATS seats: rows of 50,000 seats. */
static void test_too_many_seats(void **state)
{
    sm_buf b;
    char err[ERR_MAX], *doc;
    venue *v = (venue *)&err;
    int rows = VENUE_MAX_SEATS / 50000 + 1;

    sm_buf_init(&b, 1 << 20);
    assert_int_equal(sm_buf_adds(&b, "{\"name\":\"Big\",\"currency\":\"EUR\",\"stage\":{\"x\":0,"
                                     "\"y\":0,\"w\":1,\"h\":1},\"categories\":[{\"id\":\"P\","
                                     "\"name\":\"P\",\"price\":1,\"color\":\"#000000\"}],"
                                     "\"sections\":[{\"id\":\"S\",\"name\":\"S\",\"category\":"
                                     "\"P\",\"rows\":["),
                     0);
    for (int r = 0; r < rows; r++)
        assert_int_equal(sm_buf_printf(&b,
                                       "%s{\"label\":\"R%d\",\"y\":%d,\"blocks\":[{\"first\":1,"
                                       "\"count\":50000,\"x\":0}]}",
                                       r ? "," : "", r, r),
                         0);
    assert_int_equal(sm_buf_adds(&b, "]}]}"), 0);
    doc = sm_buf_steal(&b, NULL);
    assert_int_equal(venue_parse(doc, strlen(doc), &v, err, sizeof(err)), -1);
    assert_null(v);
    assert_non_null(strstr(err, "more than 200000 seats"));
    free(doc);
}

/* A seat id longer than 32 characters cannot be built from the limits on
 * section ids (16) and row labels (8), but the check is there: */
static void test_long_ids(void **state)
{
    venue *v = parse_ok(SECS("{'id':'SIXTEENCHARSLONG','name':'S','rows':[{'label':'EIGHTCHR',"
                             "'y':0,'blocks':[{'first':99999,'count':1,'x':0,'category':'P'}]}]}"));
    assert_string_equal(venue_seat_id(v, 0), "SIXTEENCHARSLONG-EIGHTCHR-99999");
    assert_int_equal(venue_seat_index(v, "SIXTEENCHARSLONG-EIGHTCHR-99999"), 0);
    venue_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo),          cmocka_unit_test(test_stadium),
        cmocka_unit_test(test_load_file),     cmocka_unit_test(test_small_features),
        cmocka_unit_test(test_bad_documents), cmocka_unit_test(test_too_many_seats),
        cmocka_unit_test(test_long_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
