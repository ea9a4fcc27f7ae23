/*
 * test_ledger.c - unit tests of ledger.h (server/ledger.c and the engines
 * behind it): shows, the secret, bookings (idempotency, double booking,
 * cancel) and the audit buffer, run once per engine of ledger_engines.h;
 * then what only SQLite has (migrations, WAL, bad files), what only
 * PostgreSQL has (migrations, reconnecting, an unreachable server) and the
 * choice of engine from the open string. Users, sessions and tokens are in
 * test_ledger_accounts.c.
 *
 * Each test gets a fresh database; two handles on one database stand in
 * for two seatmapd processes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "embedded.h"
#include "ledger.h"
#include "ledger_engines.h"
#include "util.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_NOW 1700000000000LL

static void add_show(ledger *l, const char *id)
{
    assert_int_equal(
        ledger_show_add(l, id, "A Show", "Hall", "2030-01-01T20:00:00Z", "{\"name\":\"Hall\"}"), 0);
}

static int book(ledger *l, const char *show, const char *hold, const char *pay,
                const char *const *seats, size_t n, ledger_booking *out)
{
    return ledger_booking_create(l, show, hold, seats, n, pay, "staff:ann", T_NOW, out);
}

static void test_shows(void **state)
{
    fixture *f = *state;
    ledger_show s, *list = NULL;
    size_t n = 0;

    assert_int_equal(ledger_show_add(f->l, "late", "Late", "Hall", "2030-02-01T20:00:00Z", "{}"),
                     0);
    assert_int_equal(
        ledger_show_add(f->l, "early", "Early", "Hall", "2030-01-01T20:00:00Z", "{\"v\":1}"), 0);
    assert_int_equal(ledger_show_add(f->l, "early", "Again", "Hall", "", "{}"), LEDGER_EEXISTS);
    assert_int_equal(ledger_show_add(f->l, "bad id!", "X", "Hall", "", "{}"), LEDGER_EINVAL);

    assert_int_equal(ledger_show_get(f->l, "early", &s), 0);
    assert_string_equal(s.id, "early");
    assert_string_equal(s.name, "Early");
    assert_string_equal(s.venue_name, "Hall");
    assert_string_equal(s.starts_at, "2030-01-01T20:00:00Z");
    assert_string_equal(s.venue_json, "{\"v\":1}");
    ledger_show_clear(&s);
    assert_int_equal(ledger_show_get(f->l, "nope", &s), LEDGER_ENOTFOUND);
    ledger_show_clear(&s);

    assert_int_equal(ledger_show_list(f->l, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "early");
    assert_string_equal(list[1].id, "late");
    assert_null(list[0].venue_json);
    free(list);
}

static void test_booking_create_and_idempotent_payment_ref(void **state)
{
    fixture *f = *state;
    const char *seats[] = {"A-1", "A-2"};
    const char *other[] = {"B-1"};
    ledger_booking b, again;

    add_show(f->l, "S1");
    assert_int_equal(book(f->l, "S1", "REF123", "pay-1", seats, 2, &b), 0);
    assert_true(b.id > 0);
    assert_string_equal(b.show, "S1");
    assert_string_equal(b.hold_ref, "REF123");
    assert_string_equal(b.payment_ref, "pay-1");
    assert_string_equal(b.by, "staff:ann");
    assert_int_equal(b.created_at, T_NOW);
    assert_int_equal(b.cancelled_at, 0);
    assert_int_equal(b.nseats, 2);
    assert_string_equal(b.seats[0], "A-1");
    assert_string_equal(b.seats[1], "A-2");

    /* The same payment ref again, even with other seats: the same booking. */
    assert_int_equal(book(f->l, "S1", "", "pay-1", other, 1, &again), LEDGER_EEXISTS);
    assert_int_equal(again.id, b.id);
    assert_int_equal(again.nseats, 2);
    assert_string_equal(again.seats[1], "A-2");
    ledger_booking_clear(&again);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM bookings"), 1);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM booking_seats"), 2);

    /* Lookups. */
    assert_int_equal(ledger_booking_by_payment(f->l, "S1", "pay-1", &again), 0);
    assert_int_equal(again.id, b.id);
    ledger_booking_clear(&again);
    assert_int_equal(ledger_booking_by_hold(f->l, "S1", "REF123", &again), 0);
    assert_int_equal(again.id, b.id);
    ledger_booking_clear(&again);
    assert_int_equal(ledger_booking_by_hold(f->l, "S1", "NOPE99", &again), LEDGER_ENOTFOUND);
    assert_int_equal(ledger_booking_get(f->l, "S1", b.id, &again), 0);
    assert_string_equal(again.payment_ref, "pay-1");
    ledger_booking_clear(&again);
    assert_int_equal(ledger_booking_get(f->l, "S2", b.id, &again), LEDGER_ENOTFOUND);
    ledger_booking_clear(&b);

    /* A payment ref is unique per show, not globally. */
    add_show(f->l, "S2");
    assert_int_equal(book(f->l, "S2", "", "pay-1", seats, 2, &b), 0);
    ledger_booking_clear(&b);
}

static void test_seat_taken_writes_nothing(void **state)
{
    fixture *f = *state;
    const char *first[] = {"A-1", "A-2"};
    const char *clash[] = {"A-3", "A-2"};
    const char *free_seat[] = {"A-3"};
    ledger_booking b;

    add_show(f->l, "S1");
    assert_int_equal(book(f->l, "S1", "", "pay-1", first, 2, &b), 0);
    ledger_booking_clear(&b);
    assert_int_equal(book(f->l, "S1", "", "pay-2", clash, 2, &b), LEDGER_ESEATTAKEN);
    assert_int_equal(b.nseats, 0);
    assert_non_null(strstr(ledger_errmsg(f->l), "A-2"));
    ledger_booking_clear(&b);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM bookings"), 1);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM booking_seats"), 2);
    assert_int_equal(
        query_int(f->target, "SELECT count(*) FROM audit WHERE what IN ('book','sale')"), 1);
    assert_int_equal(ledger_booking_by_payment(f->l, "S1", "pay-2", &b), LEDGER_ENOTFOUND);
    ledger_booking_clear(&b);
    /* The failed attempt left A-3 free. */
    assert_int_equal(book(f->l, "S1", "", "pay-2", free_seat, 1, &b), 0);
    ledger_booking_clear(&b);
}

static void test_two_handles_cannot_double_book(void **state)
{
    fixture *f = *state;
    const char *seats[] = {"C-7"};
    ledger *other;
    ledger_booking b;

    add_show(f->l, "S1");
    t_open(f->target, &other);
    assert_int_equal(book(f->l, "S1", "", "pay-a", seats, 1, &b), 0);
    ledger_booking_clear(&b);
    assert_int_equal(book(other, "S1", "", "pay-b", seats, 1, &b), LEDGER_ESEATTAKEN);
    ledger_booking_clear(&b);
    /* The second "process" sees the first one's booking by payment ref. */
    assert_int_equal(book(other, "S1", "", "pay-a", seats, 1, &b), LEDGER_EEXISTS);
    assert_string_equal(b.seats[0], "C-7");
    ledger_booking_clear(&b);
    ledger_close(other);
}

/* The server's loop buffers audit rows on a handle that never writes by
 * itself; a ledger thread takes them as a batch and writes them on its own
 * handle (show.c). A full buffer-only handle drops its oldest row instead of
 * writing. */
static void test_audit_batch_moves_between_handles(void **state)
{
    fixture *f = *state;
    ledger *thread;
    int i;

    t_open(f->target, &thread);
    ledger_audit_buffer_only(f->l);
    assert_null(ledger_audit_take(f->l)); /* nothing buffered */
    ledger_audit(f->l, "hold", "S1", "ABCDEF", "A-1 A-2", "buyer:1234", T_NOW);
    ledger_audit(f->l, "release", "S1", "ABCDEF", "A-2", "buyer:1234", T_NOW + 1);
    ledger_audit_give(thread, ledger_audit_take(f->l));
    assert_null(ledger_audit_take(f->l)); /* taken: the loop's buffer is empty */
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit"), 0);
    assert_int_equal(ledger_audit_flush(thread), 0);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit"), 2);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit WHERE what = 'release' AND "
                                          "seats = 'A-2' AND at = 1700000000001"),
                     1);

    for (i = 0; i < 5000; i++)
        ledger_audit(f->l, "expire", "S1", "ZZZZZZ", "B-1", "expiry", T_NOW + i);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit"), 2); /* never wrote */
    ledger_audit_give(thread, ledger_audit_take(f->l));
    assert_int_equal(ledger_audit_flush(thread), 0);
    /* the newest 4096 (LEDGER_AUDIT_MAX) were kept */
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit"), 2 + 4096);
    ledger_close(thread);
}

static void test_booking_bad_arguments(void **state)
{
    fixture *f = *state;
    const char *dup[] = {"A-1", "A-1"};
    const char *bad[] = {"A 1"};
    const char *ok[] = {"A-1"};
    ledger_booking b;

    add_show(f->l, "S1");
    assert_int_equal(book(f->l, "S1", "", "pay", dup, 2, &b), LEDGER_EINVAL);
    assert_int_equal(book(f->l, "S1", "", "pay", bad, 1, &b), LEDGER_EINVAL);
    assert_int_equal(book(f->l, "S1", "", "pay", ok, 0, &b), LEDGER_EINVAL);
    assert_int_equal(book(f->l, "S1", "", "", ok, 1, &b), LEDGER_EINVAL);
    assert_int_equal(book(f->l, "no show!", "", "pay", ok, 1, &b), LEDGER_EINVAL);
    /* A show the ledger does not know. */
    assert_int_equal(book(f->l, "ghost", "", "pay", ok, 1, &b), LEDGER_ENOTFOUND);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM bookings"), 0);
    /* NULL out is allowed. */
    assert_int_equal(book(f->l, "S1", "", "pay", ok, 1, NULL), 0);
}

static void collect_seat(void *arg, const char *seat, int64_t id)
{
    char *acc = arg;
    char one[64];
    snprintf(one, sizeof(one), "%s=%lld;", seat, (long long)id);
    strcat(acc, one);
}

static void test_cancel_frees_seats(void **state)
{
    fixture *f = *state;
    const char *seats[] = {"A-1", "A-2"};
    ledger_booking b, c, *list;
    char acc[256] = "", want[256];
    size_t n;

    add_show(f->l, "S1");
    assert_int_equal(book(f->l, "S1", "HLD234", "pay-1", seats, 2, &b), 0);
    assert_int_equal(ledger_booked_seats(f->l, "S1", collect_seat, acc), 0);
    snprintf(want, sizeof(want), "A-1=%lld;A-2=%lld;", (long long)b.id, (long long)b.id);
    assert_string_equal(acc, want);

    assert_int_equal(ledger_booking_cancel(f->l, "S1", b.id, "staff:bob", T_NOW + 5, &c), 0);
    assert_int_equal(c.id, b.id);
    assert_int_equal(c.cancelled_at, T_NOW + 5);
    assert_int_equal(c.nseats, 2);
    ledger_booking_clear(&c);
    acc[0] = '\0';
    assert_int_equal(ledger_booked_seats(f->l, "S1", collect_seat, acc), 0);
    assert_string_equal(acc, "");
    /* A cancelled booking is no longer the hold's active booking. */
    assert_int_equal(ledger_booking_by_hold(f->l, "S1", "HLD234", &c), LEDGER_ENOTFOUND);

    /* Twice: EINVAL; unknown: ENOTFOUND. */
    assert_int_equal(ledger_booking_cancel(f->l, "S1", b.id, "staff:bob", T_NOW + 6, &c),
                     LEDGER_EINVAL);
    ledger_booking_clear(&c);
    assert_int_equal(ledger_booking_cancel(f->l, "S1", b.id + 100, "staff:bob", T_NOW, &c),
                     LEDGER_ENOTFOUND);
    ledger_booking_clear(&c);
    assert_int_equal(ledger_booking_cancel(f->l, "S2", b.id, "staff:bob", T_NOW, &c),
                     LEDGER_ENOTFOUND);
    ledger_booking_clear(&c);

    /* The seats can be booked again. */
    assert_int_equal(book(f->l, "S1", "", "pay-2", seats, 2, &c), 0);
    assert_true(c.id != b.id);
    ledger_booking_clear(&c);

    /* The list has both, newest first, the cancelled one marked. */
    assert_int_equal(ledger_booking_list(f->l, "S1", &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].payment_ref, "pay-2");
    assert_int_equal(list[0].cancelled_at, 0);
    assert_string_equal(list[1].payment_ref, "pay-1");
    assert_int_equal(list[1].cancelled_at, T_NOW + 5);
    ledger_booking_list_free(list, n);
    assert_int_equal(
        query_int(f->target, "SELECT count(*) FROM bookings WHERE cancelled_by = 'staff:bob'"), 1);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit WHERE what = 'cancel'"), 1);
    ledger_booking_clear(&b);
}

static void test_booking_survives_reopen(void **state)
{
    fixture *f = *state;
    const char *seats[] = {"Z-9"};
    ledger_booking b, again;

    add_show(f->l, "S1");
    assert_int_equal(book(f->l, "S1", "", "pay-1", seats, 1, &b), 0);
    /* Committed before the call returns: another connection sees it. */
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM booking_seats"), 1);
    reopen(f);
    assert_int_equal(ledger_booking_get(f->l, "S1", b.id, &again), 0);
    assert_string_equal(again.seats[0], "Z-9");
    ledger_booking_clear(&again);
    assert_int_equal(book(f->l, "S1", "", "pay-2", seats, 1, &again), LEDGER_ESEATTAKEN);
    ledger_booking_clear(&again);
    ledger_booking_clear(&b);
}

static void test_secret_stable(void **state)
{
    fixture *f = *state;
    uint8_t a[32], b[32], c[32], zero[32] = {0};
    ledger *other;

    /* A second handle that asks first must get the same secret. */
    t_open(f->target, &other);
    assert_int_equal(ledger_secret(other, a), 0);
    assert_int_equal(ledger_secret(f->l, b), 0);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, zero, 32);
    ledger_close(other);
    reopen(f);
    assert_int_equal(ledger_secret(f->l, c), 0);
    assert_memory_equal(a, c, 32);
}

static void test_audit_flush(void **state)
{
    fixture *f = *state;
    const char *seats[] = {"A-1"};
    ledger_booking b;
    int i;

    add_show(f->l, "S1");
    ledger_audit(f->l, "hold", "S1", "ABCDEF", "A-1 A-2", "buyer:1234", T_NOW);
    ledger_audit(f->l, "release", "S1", "ABCDEF", "A-2", "buyer:1234", T_NOW + 1);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit"), 0);
    assert_int_equal(ledger_audit_flush(f->l), 0);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit"), 2);
    assert_int_equal(query_int(f->target,
                               "SELECT count(*) FROM audit WHERE what='hold' AND show_id='S1' AND "
                               "ref='ABCDEF' AND seats='A-1 A-2' AND who='buyer:1234' AND at="
                               "1700000000000"),
                     1);
    assert_int_equal(ledger_audit_flush(f->l), 0); /* nothing buffered: fine */

    /* A booking flushes buffered rows first, then adds its own, in order. */
    ledger_audit(f->l, "hold", "S1", "QWERTY", "A-1", "buyer:99", T_NOW + 2);
    assert_int_equal(book(f->l, "S1", "QWERTY", "pay-1", seats, 1, &b), 0);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit"), 4);
    assert_int_equal(query_int(f->target, "SELECT what = 'book' FROM audit ORDER BY id DESC"), 1);
    ledger_booking_clear(&b);

    /* The buffer is bounded: filling it flushes by itself. */
    for (i = 0; i < 5000; i++)
        ledger_audit(f->l, "expire", "S1", "ZZZZZZ", "B-1", "expiry", T_NOW + i);
    assert_true(query_int(f->target, "SELECT count(*) FROM audit") >= 4 + 4096);
    /* Closing flushes the rest. */
    ledger_close(f->l);
    f->l = NULL;
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM audit"), 4 + 5000);
    reopen(f);
}

/* Several processes open a brand-new file at once (racing on the
 * migrations and the secret) and all try to book the same seat: exactly one
 * wins, the others get LEDGER_ESEATTAKEN, and all share one secret. */
static void test_concurrent_processes(void **state)
{
    enum { NPROC = 4 };
    char path[T_TARGET_MAX];
    uint8_t secrets[NPROC][32];
    int pipes[NPROC][2];
    pid_t pids[NPROC];
    int i, wins = 0, taken = 0;
    char err[256];
    ledger *l;

    (void)state;
    t_engine->create(path, sizeof(path));
    for (i = 0; i < NPROC; i++) {
        assert_int_equal(pipe(pipes[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            const char *seat[] = {"A-1"};
            char pay[16];
            uint8_t sec[32];
            int rc;
            if (ledger_open(path, &l, err, sizeof(err)) != 0)
                _exit(10);
            /* The show may already exist (another child added it). */
            rc = ledger_show_add(l, "S1", "Race", "Hall", "", "{}");
            if (rc != 0 && rc != LEDGER_EEXISTS)
                _exit(11);
            if (ledger_secret(l, sec) != 0 || write(pipes[i][1], sec, 32) != 32)
                _exit(12);
            snprintf(pay, sizeof(pay), "pay-%d", i);
            rc = ledger_booking_create(l, "S1", "", seat, 1, pay, "staff:x", T_NOW, NULL);
            ledger_close(l);
            _exit(rc == 0 ? 0 : rc == LEDGER_ESEATTAKEN ? 1 : 13);
        }
        close(pipes[i][1]);
    }
    for (i = 0; i < NPROC; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 0)
            wins++;
        else if (WEXITSTATUS(status) == 1)
            taken++;
        else
            fail_msg("child %d exited with %d", i, WEXITSTATUS(status));
        assert_int_equal(read(pipes[i][0], secrets[i], 32), 32);
        close(pipes[i][0]);
        if (i)
            assert_memory_equal(secrets[0], secrets[i], 32);
    }
    assert_int_equal(wins, 1);
    assert_int_equal(taken, NPROC - 1);
    assert_int_equal(query_int(path, "SELECT count(*) FROM booking_seats"), 1);
    assert_int_equal(query_int(path, "SELECT count(*) FROM bookings"), 1);
    t_engine->destroy(path);
}

/* ---- SQLite only ---- */

static void test_migrations_apply(void **state)
{
    fixture *f = *state;
    long long last = 0;
    const embedded_file *m;

    for (m = embedded_sql; m->name; m++)
        last = strtol(m->name, NULL, 10);
    assert_true(last >= 1);
    assert_int_equal(query_int(f->target, "PRAGMA user_version"), last);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM sqlite_master WHERE type='table'"
                                          " AND name IN ('meta','shows','users','sessions',"
                                          "'api_tokens','bookings','booking_seats','audit')"),
                     8);
    /* Reopening applies nothing twice. */
    reopen(f);
    reopen(f);
    assert_int_equal(query_int(f->target, "PRAGMA user_version"), last);
}

static void test_wal_mode(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->target, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_open_failure_has_message(void **state)
{
    char err[256] = "";
    ledger *l = (ledger *)1;
    (void)state;
    assert_true(ledger_open("/nonexistent-dir/x/seatmap.db", &l, err, sizeof(err)) < 0);
    assert_null(l);
    assert_non_null(strstr(err, "/nonexistent-dir/x/seatmap.db"));
}

static void test_open_not_a_database(void **state)
{
    char path[T_TARGET_MAX];
    char err[256] = "";
    ledger *l = NULL;
    int fd;
    (void)state;
    sqlite_create(path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "this is not sqlite, not at all, no...........", 45), 45);
    close(fd);
    assert_true(ledger_open(path, &l, err, sizeof(err)) < 0);
    assert_null(l);
    assert_true(strlen(err) > 0);
    sqlite_destroy(path);
}

/* ---- PostgreSQL only ---- */

static void test_pg_migrations_apply(void **state)
{
    fixture *f = *state;
    long long last = 0;
    const embedded_file *m;

    for (m = embedded_pg_sql; m->name; m++)
        last = strtol(m->name, NULL, 10);
    assert_true(last >= 1);
    assert_int_equal(query_int(f->target, "SELECT max(version) FROM seatmap_schema"), last);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM information_schema.tables"
                                          " WHERE table_schema = current_schema() AND table_name IN"
                                          " ('meta','shows','users','sessions','api_tokens',"
                                          "'bookings','booking_seats','audit')"),
                     8);
    /* The constraints that keep bookings right are the database's. */
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM pg_constraint WHERE conname IN"
                                          " ('bookings_payment_ref_key', 'booking_seats_pkey')"),
                     2);
    reopen(f);
    reopen(f);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM seatmap_schema"), last);
}

/* The server drops our connection (a restart, a failover): the next call
 * reconnects and works, and nothing committed is lost. */
static void test_pg_reconnects(void **state)
{
    fixture *f = *state;
    const char *seats[] = {"A-1"};
    const char *more[] = {"A-2"};
    char sql[256];
    ledger_booking b, again;

    add_show(f->l, "S1");
    assert_int_equal(book(f->l, "S1", "", "pay-1", seats, 1, &b), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE application_name = 'seatmapd' AND pid <> pg_backend_pid()");
    assert_int_equal(pg_child_exec("postgres", sql), 0);
    /* A read retries on a fresh connection. */
    assert_int_equal(ledger_booking_get(f->l, "S1", b.id, &again), 0);
    assert_string_equal(again.payment_ref, "pay-1");
    ledger_booking_clear(&again);
    assert_int_equal(pg_child_exec("postgres", sql), 0);
    /* So does a booking: its payment ref makes a second try harmless. */
    assert_int_equal(book(f->l, "S1", "", "pay-2", more, 1, &again), 0);
    ledger_booking_clear(&again);
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM bookings"), 2);
    ledger_booking_clear(&b);
}

/* Reading the watermark waits for a booking in flight (one holding the
 * booking lock shared, as every booking does until it commits), so that
 * no booking can commit later with an id at or below it. */
static void test_pg_watermark_waits_for_bookings_in_flight(void **state)
{
    fixture *f = *state;
    const char *seats[] = {"A-1"};
    PGconn *inflight = PQconnectdb(f->target);
    PGresult *r;
    int fds[2], status;
    int64_t wm = -1, deadline;
    pid_t pid;

    add_show(f->l, "S1");
    assert_int_equal(book(f->l, "S1", "", "pay-1", seats, 1, NULL), 0);
    assert_int_equal(PQstatus(inflight), CONNECTION_OK);
    r = PQexec(inflight, "BEGIN; SELECT pg_advisory_xact_lock_shared(7165064483209145959);"
                         " INSERT INTO bookings (show_id, payment_ref, created_by, created_at,"
                         " seats) VALUES ('S1', 'pay-late', 'x', 0, 'B-1') RETURNING id");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ledger *l;
        char err[256];
        int64_t v = -1;
        if (ledger_open(f->target, &l, err, sizeof(err)) || ledger_booking_max_id(l, &v))
            _exit(1);
        _exit(write(fds[1], &v, sizeof(v)) == sizeof(v) ? 0 : 1);
    }
    close(fds[1]);
    /* The reader is waiting on the lock... */
    deadline = sm_mono_ms() + 10000;
    while (query_int(f->target, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                " AND NOT granted") != 1) {
        assert_true(sm_mono_ms() < deadline);
        nap_ms(20);
    }
    /* ...until the booking in flight commits: then it sees its id. */
    r = PQexec(inflight, "COMMIT");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(read(fds[0], &wm, sizeof(wm)), sizeof(wm));
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(wm, query_int(f->target, "SELECT max(id) FROM bookings"));
    assert_int_equal(query_int(f->target, "SELECT count(*) FROM bookings"), 2);
    PQfinish(inflight);
}

/* A server that is not there: open fails at once with a sentence that
 * names PostgreSQL and never the password. */
static void test_pg_unreachable(void **state)
{
    char url[128];
    char err[512] = "";
    ledger *l = (ledger *)1;
    int64_t t0;
    (void)state;
    snprintf(url, sizeof(url), "postgresql://seatmap:s3cret@127.0.0.1:%d/nodb", free_port_pg());
    t0 = sm_mono_ms();
    assert_int_equal(ledger_open(url, &l, err, sizeof(err)), LEDGER_EIO);
    assert_true(sm_mono_ms() - t0 < 5000);
    assert_null(l);
    assert_non_null(strstr(err, "PostgreSQL"));
    assert_null(strstr(err, "s3cret"));
}

/* ---- choosing the engine ---- */

/* URLs and libpq keyword strings go to PostgreSQL; their errors never echo
 * a password; anything else is a SQLite file. */
static void test_engine_from_target(void **state)
{
    static const char *const targets[] = {
        "postgres://seatmap:s3cret@127.0.0.1:1/seatmap",
        "postgresql://seatmap:s3cret@127.0.0.1:1/seatmap",
        "host=127.0.0.1 port=1 dbname=seatmap password=s3cret",
        "dbname=seatmap host=127.0.0.1 port=1 password=s3cret",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        char err[512] = "";
        ledger *l = (ledger *)1;
        assert_int_equal(ledger_open(targets[i], &l, err, sizeof(err)), LEDGER_EIO);
        assert_null(l);
        assert_non_null(strstr(err, "PostgreSQL"));
        assert_null(strstr(err, "s3cret"));
    }
}

int main(void)
{
    /* Run against every engine. */
    const struct CMUnitTest each_engine[] = {
        cmocka_unit_test_setup_teardown(test_shows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_booking_create_and_idempotent_payment_ref, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seat_taken_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles_cannot_double_book, setup, teardown),
        cmocka_unit_test_setup_teardown(test_booking_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_frees_seats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_booking_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_batch_moves_between_handles, setup, teardown),
        cmocka_unit_test(test_concurrent_processes),
    };
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test_setup_teardown(test_migrations_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_mode, setup, teardown),
        cmocka_unit_test(test_open_failure_has_message),
        cmocka_unit_test(test_open_not_a_database),
    };
    const struct CMUnitTest pg_only[] = {
        cmocka_unit_test_setup_teardown(test_pg_migrations_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_watermark_waits_for_bookings_in_flight, setup,
                                        teardown),
        cmocka_unit_test(test_pg_unreachable),
    };
    const struct CMUnitTest engine_choice[] = {
        cmocka_unit_test(test_engine_from_target),
    };
    int failed = 0;

    LEDGER_RUN_EACH_ENGINE(each_engine, failed);
    t_use_engine("sqlite");
    failed += cmocka_run_group_tests_name("sqlite only", sqlite_only, NULL, NULL);
    t_use_engine("postgresql");
    if (pg_available() == 0)
        failed += cmocka_run_group_tests_name("postgresql only", pg_only, NULL, NULL);
    failed += cmocka_run_group_tests_name("engine choice", engine_choice, NULL, NULL);
    return failed;
}
