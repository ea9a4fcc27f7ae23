/* test_map.c - the string map behind every index of the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "map.h"

#include <stdio.h>
#include <string.h>

static void set_get_replace_delete(void **state)
{
    sm_map m;
    int a = 1, b = 2;
    (void)state;
    sm_map_init(&m);
    assert_null(sm_map_get(&m, "x"));
    assert_int_equal(sm_map_set(&m, "x", &a), 0);
    assert_ptr_equal(sm_map_get(&m, "x"), &a);
    assert_int_equal(sm_map_set(&m, "x", &b), 0);
    assert_ptr_equal(sm_map_get(&m, "x"), &b);
    assert_int_equal(m.used, 1);
    assert_ptr_equal(sm_map_del(&m, "x"), &b);
    assert_null(sm_map_get(&m, "x"));
    assert_null(sm_map_del(&m, "x"));
    assert_int_equal(m.used, 0);
    sm_map_free(&m);
}

static void many_keys_grow_and_iterate(void **state)
{
    sm_map m;
    char key[32];
    size_t it = 0, seen = 0;
    const char *k;
    void *v;
    long i;
    (void)state;
    sm_map_init(&m);
    for (i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "seat-%ld", i);
        assert_int_equal(sm_map_set(&m, key, (void *)(intptr_t)(i + 1)), 0);
    }
    /* delete every other key, then check the rest survived the tombstones */
    for (i = 0; i < 20000; i += 2) {
        snprintf(key, sizeof(key), "seat-%ld", i);
        assert_non_null(sm_map_del(&m, key));
    }
    for (i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "seat-%ld", i);
        if (i % 2)
            assert_int_equal((intptr_t)sm_map_get(&m, key), i + 1);
        else
            assert_null(sm_map_get(&m, key));
    }
    while (sm_map_next(&m, &it, &k, &v)) {
        assert_int_equal(strncmp(k, "seat-", 5), 0);
        seen++;
    }
    assert_int_equal(seen, 10000);
    sm_map_free(&m);
}

static void delete_while_iterating(void **state)
{
    sm_map m;
    size_t it = 0;
    const char *k;
    int x = 0;
    (void)state;
    sm_map_init(&m);
    sm_map_set(&m, "a", &x);
    sm_map_set(&m, "b", &x);
    sm_map_set(&m, "c", &x);
    while (sm_map_next(&m, &it, &k, NULL)) {
        char copy[8];
        snprintf(copy, sizeof(copy), "%s", k);
        sm_map_del(&m, copy);
    }
    assert_int_equal(m.used, 0);
    sm_map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_get_replace_delete),
        cmocka_unit_test(many_keys_grow_and_iterate),
        cmocka_unit_test(delete_while_iterating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
