/* test_metrics.c - the metric registry: counting, bounded labels, histogram
 * buckets, the text format, and reading /proc/self/stat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics.h"

#include <stdio.h>
#include <string.h>

static int has_line(const char *text, const char *line)
{
    const char *p = text;
    size_t n = strlen(line);
    while ((p = strstr(p, line))) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
            return 1;
        p += n;
    }
    return 0;
}

static void counters_and_labels(void **state)
{
    sm_buf b;
    (void)state;
    metrics_reset();
    metrics_inc(M_HOLDS, "ok");
    metrics_inc(M_HOLDS, "ok");
    metrics_inc(M_HOLDS, "seat_unavailable");
    metrics_add(M_HOLDS, "ok", -5); /* a counter never goes down */
    metrics_inc(M_DELTAS, NULL);
    metrics_gauge_add(M_CONNECTIONS, "websocket", 2);
    metrics_gauge_add(M_CONNECTIONS, "websocket", -1);
    assert_true(metrics_value(M_HOLDS, "ok") == 2);
    assert_true(metrics_value(M_CONNECTIONS, "websocket") == 1);
    sm_buf_init(&b, 1 << 20);
    assert_int_equal(metrics_render(&b), 0);
    assert_true(has_line(b.data, "# TYPE seatmap_holds_total counter"));
    assert_true(has_line(b.data, "seatmap_holds_total{outcome=\"ok\"} 2"));
    assert_true(has_line(b.data, "seatmap_holds_total{outcome=\"seat_unavailable\"} 1"));
    assert_true(has_line(b.data, "seatmap_deltas_total 1"));
    assert_true(has_line(b.data, "seatmap_connections{protocol=\"websocket\"} 1"));
    /* an unlabelled family shows its zero; the webhook hook stays out */
    assert_true(has_line(b.data, "seatmap_clients_cut_off_total 0"));
    assert_null(strstr(b.data, "seatmap_webhook"));
    sm_buf_free(&b);
    metrics_set(M_WEBHOOK_QUEUE_DEPTH, NULL, 7);
    sm_buf_init(&b, 1 << 20);
    metrics_render(&b);
    assert_true(has_line(b.data, "seatmap_webhook_queue_depth 7"));
    sm_buf_free(&b);
}

static void labels_are_bounded(void **state)
{
    char label[80];
    sm_buf b;
    int i, n = 0;
    const char *p;
    (void)state;
    metrics_reset();
    for (i = 0; i < 1000; i++) {
        snprintf(label, sizeof(label), "script-%d", i);
        metrics_inc(M_REDIS_ERRORS, label);
    }
    /* a value longer than the limit is cut, not refused */
    memset(label, 'x', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    metrics_inc(M_HOLDS, label);
    metrics_inc(M_HOLDS, "a\"b\\c\nd");
    sm_buf_init(&b, 1 << 20);
    metrics_render(&b);
    for (p = b.data; (p = strstr(p, "\nseatmap_redis_errors_total{")); p++)
        n++;
    assert_int_equal(n, METRICS_MAX_SERIES);
    assert_true(metrics_value(M_REDIS_ERRORS, "other") == 1000 - (METRICS_MAX_SERIES - 1));
    assert_non_null(strstr(b.data, "outcome=\"a\\\"b\\\\c\\nd\"} 1"));
    sm_buf_free(&b);
}

static void histograms(void **state)
{
    sm_buf b;
    (void)state;
    metrics_reset();
    metrics_observe(M_EXPIRY_LATENESS, NULL, 0.01);
    metrics_observe(M_EXPIRY_LATENESS, NULL, 0.3);
    metrics_observe(M_EXPIRY_LATENESS, NULL, 1000);
    metrics_observe(M_REDIS_SECONDS, "hold", 0.0007);
    sm_buf_init(&b, 1 << 20);
    metrics_render(&b);
    assert_true(has_line(b.data, "# TYPE seatmap_expiry_lateness_seconds histogram"));
    assert_true(has_line(b.data, "seatmap_expiry_lateness_seconds_bucket{le=\"0.05\"} 1"));
    assert_true(has_line(b.data, "seatmap_expiry_lateness_seconds_bucket{le=\"0.25\"} 1"));
    assert_true(has_line(b.data, "seatmap_expiry_lateness_seconds_bucket{le=\"0.5\"} 2"));
    assert_true(has_line(b.data, "seatmap_expiry_lateness_seconds_bucket{le=\"120\"} 2"));
    assert_true(has_line(b.data, "seatmap_expiry_lateness_seconds_bucket{le=\"+Inf\"} 3"));
    assert_true(has_line(b.data, "seatmap_expiry_lateness_seconds_sum 1000.31"));
    assert_true(has_line(b.data, "seatmap_expiry_lateness_seconds_count 3"));
    assert_true(
        has_line(b.data, "seatmap_redis_duration_seconds_bucket{script=\"hold\",le=\"0.001\"} 1"));
    assert_true(
        has_line(b.data, "seatmap_redis_duration_seconds_bucket{script=\"hold\",le=\"0.0005\"} 0"));
    sm_buf_free(&b);
}

static void proc_stat(void **state)
{
    /* a command name with spaces and parentheses */
    const char *stat = "1234 (sea (map) d) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 "
                       "3 0 98765 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17";
    unsigned long long cpu, start, vsize;
    long long rss;
    sm_buf b;
    (void)state;
    assert_int_equal(metrics_parse_stat(stat, &cpu, &start, &vsize, &rss), 0);
    assert_true(cpu == 300);
    assert_true(start == 98765);
    assert_true(vsize == 123456789);
    assert_true(rss == 2048);
    assert_int_equal(metrics_parse_stat("garbage", &cpu, &start, &vsize, &rss), -1);
    sm_buf_init(&b, 1 << 20);
    assert_int_equal(metrics_render_process(&b), 0);
    assert_non_null(strstr(b.data, "\nprocess_resident_memory_bytes "));
    assert_non_null(strstr(b.data, "\nprocess_open_fds "));
    sm_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_and_labels),
        cmocka_unit_test(labels_are_bounded),
        cmocka_unit_test(histograms),
        cmocka_unit_test(proc_stat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
