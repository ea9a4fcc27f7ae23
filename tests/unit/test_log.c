/* test_log.c - the log module (server/log.c): levels, the text and JSON
 * formats, escaping (one event is one line), request ids, reopening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof(path), "/tmp/seatmap-test-log-%ld.log", (long)getpid());
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sm_log_reset();
    unlink(path);
    return 0;
}

static char *slurp(const char *p)
{
    static char buf[16384];
    FILE *f = fopen(p, "r");
    size_t n = 0;
    buf[0] = '\0';
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static void parses_levels_and_formats(void **state)
{
    sm_log_level lv;
    sm_log_format f;
    (void)state;
    assert_int_equal(sm_log_parse_level("debug", &lv), 0);
    assert_int_equal(lv, SM_LOG_DEBUG);
    assert_int_equal(sm_log_parse_level("warning", &lv), 0);
    assert_int_equal(lv, SM_LOG_WARN);
    assert_int_equal(sm_log_parse_level("loud", &lv), -1);
    assert_int_equal(sm_log_parse_format("json", &f), 0);
    assert_int_equal(f, SM_LOG_JSON);
    assert_int_equal(sm_log_parse_format("xml", &f), -1);
}

static void text_lines_filter_by_level(void **state)
{
    char err[256];
    const char *s;
    (void)state;
    assert_int_equal(sm_log_setup(SM_LOG_WARN, SM_LOG_TEXT, path, err, sizeof(err)), 0);
    sm_info("not written");
    sm_warn("written %d", 1);
    sm_logf(SM_LOG_ERROR, "00000000000000ab", "with an id");
    s = slurp(path);
    assert_null(strstr(s, "not written"));
    assert_non_null(strstr(s, "seatmapd warn: written 1\n"));
    assert_non_null(strstr(s, "seatmapd error: with an id req=00000000000000ab\n"));
    assert_false(sm_log_enabled(SM_LOG_DEBUG));
}

static void a_message_stays_one_line(void **state)
{
    char err[256];
    const char *s;
    (void)state;
    assert_int_equal(sm_log_setup(SM_LOG_DEBUG, SM_LOG_TEXT, path, err, sizeof(err)), 0);
    sm_info("user \"x\nseatmapd error: forged\" done");
    s = slurp(path);
    assert_non_null(strstr(s, "user \"x\\nseatmapd error: forged\" done\n"));
    assert_null(strchr(strchr(s, '\n') + 1, '\n')); /* exactly one line */
}

static void json_lines(void **state)
{
    char err[256];
    const char *s;
    (void)state;
    assert_int_equal(sm_log_setup(SM_LOG_DEBUG, SM_LOG_JSON, path, err, sizeof(err)), 0);
    sm_logf(SM_LOG_DEBUG, "abc", "quote \" backslash \\ tab \t bell \a");
    s = slurp(path);
    assert_non_null(strstr(s, "\"level\":\"debug\""));
    assert_non_null(strstr(s, "\"msg\":\"quote \\\" backslash \\\\ tab \\t bell \\u0007\""));
    assert_non_null(strstr(s, "\"req\":\"abc\"}\n"));
    assert_int_equal(s[0], '{');
}

static void reopen_follows_a_rotated_file(void **state)
{
    char err[256], moved[80];
    (void)state;
    snprintf(moved, sizeof(moved), "%s.1", path);
    assert_int_equal(sm_log_setup(SM_LOG_INFO, SM_LOG_TEXT, path, err, sizeof(err)), 0);
    sm_info("before");
    assert_int_equal(rename(path, moved), 0);
    sm_info("still old");
    assert_int_equal(sm_log_reopen(), 0);
    sm_info("after");
    assert_non_null(strstr(slurp(moved), "still old"));
    assert_null(strstr(slurp(moved), "after"));
    assert_non_null(strstr(slurp(path), "after"));
    unlink(moved);
}

static void refuses_an_unwritable_file(void **state)
{
    char err[256] = "";
    (void)state;
    assert_int_equal(
        sm_log_setup(SM_LOG_INFO, SM_LOG_TEXT, "/nonexistent/dir/x.log", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open the log file /nonexistent/dir/x.log"));
}

static void ids_are_distinct(void **state)
{
    char a[SM_LOG_ID_LEN + 1], b[SM_LOG_ID_LEN + 1];
    (void)state;
    sm_log_new_id(a);
    sm_log_new_id(b);
    assert_int_equal(strlen(a), SM_LOG_ID_LEN);
    assert_string_not_equal(a, b);
    assert_memory_equal(a, b, 8); /* one process, one prefix */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_levels_and_formats),
        cmocka_unit_test_setup_teardown(text_lines_filter_by_level, setup, teardown),
        cmocka_unit_test_setup_teardown(a_message_stays_one_line, setup, teardown),
        cmocka_unit_test_setup_teardown(json_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_follows_a_rotated_file, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_an_unwritable_file, setup, teardown),
        cmocka_unit_test(ids_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
