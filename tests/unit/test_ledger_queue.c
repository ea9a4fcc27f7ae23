/* test_ledger_queue.c - ledger calls on the booking thread (ledger_queue.h),
 * on a real SQLite file: jobs run off the loop thread on the queue's own
 * handle, in the order they were queued; their done callbacks come back on
 * the loop in that order; a booking committed on the thread is seen by the
 * loop's handle; without a queue the call runs inline; close with jobs
 * queued ends them all and frees everything; a close with a bound gives up
 * on a thread stuck in a call (a database that does not answer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger.h"
#include "ledger_queue.h"
#include "test_db.h"

#include "util.h"

#include <pthread.h>
#include <string.h>

#define JOBS 20

typedef struct job {
    ledger_job j;
    int n;
    int rc;
    pthread_t ran_on;
    ledger *ran_with;
    int64_t id;
} job;

static int done_order[JOBS], ndone;
static pthread_t loop_thread;

static void run_book(ledger *l, ledger_job *lj)
{
    job *x = lj->data;
    char ref[24], pay[24];
    const char *seats[1];
    char seat[24];
    ledger_booking b;

    memset(&b, 0, sizeof(b));
    snprintf(ref, sizeof(ref), "REF%04d", x->n);
    snprintf(pay, sizeof(pay), "pay-%d", x->n);
    snprintf(seat, sizeof(seat), "A-%d", x->n + 1);
    seats[0] = seat;
    x->ran_on = pthread_self();
    x->ran_with = l;
    x->rc = ledger_booking_create(l, "demo", ref, seats, 1, pay, "staff:t", 1000, &b);
    x->id = b.id;
    ledger_booking_clear(&b);
}

static void done_book(ledger_job *lj)
{
    job *x = lj->data;
    assert_true(pthread_equal(pthread_self(), loop_thread));
    done_order[ndone++] = x->n;
}

static const char venue[] =
    "{\"name\":\"t\",\"sections\":[{\"id\":\"A\",\"rows\":[{\"id\":\"1\",\"seats\":30}]}]}";

static void open_with_show(const char *path, ledger **l)
{
    char err[256];
    assert_int_equal(ledger_open(path, l, err, sizeof(err)), 0);
    assert_int_equal(ledger_show_add(*l, "demo", "Demo", "t", "2030-01-01T19:30:00Z", venue), 0);
}

/* A database with the show, a loop, a queue on it, and JOBS bookings
 * queued in order. */
typedef struct fixture {
    char path[256];
    uv_loop_t loop;
    ledger *l; /* the loop's own handle */
    ledger_queue *q;
    job jobs[JOBS];
} fixture;

static void queue_jobs(fixture *f)
{
    char err[256];
    int i;
    assert_int_equal(test_db_create(f->path, sizeof(f->path), "lq"), 0);
    open_with_show(f->path, &f->l);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    loop_thread = pthread_self();
    assert_int_equal(ledger_queue_open(&f->loop, f->path, &f->q, err, sizeof(err)), 0);
    ndone = 0;
    for (i = 0; i < JOBS; i++) {
        memset(&f->jobs[i], 0, sizeof(f->jobs[i]));
        f->jobs[i].n = i;
        f->jobs[i].j.data = &f->jobs[i];
        ledger_queue_submit(f->q, &f->jobs[i].j, run_book, done_book);
    }
}

static void jobs_run_in_order_off_the_loop(void **state)
{
    static fixture f;
    job *jobs = f.jobs;
    ledger_booking b;
    int i;
    (void)state;

    queue_jobs(&f);
    assert_int_equal(ndone, 0); /* never before submit returns */
    while (ndone < JOBS)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_int_equal(ledger_queue_depth(f.q), 0);
    for (i = 0; i < JOBS; i++) {
        assert_int_equal(done_order[i], i);
        assert_int_equal(jobs[i].rc, 0);
        assert_false(pthread_equal(jobs[i].ran_on, loop_thread));
        assert_ptr_not_equal(jobs[i].ran_with, f.l);
        /* committed: the loop's own handle sees it */
        memset(&b, 0, sizeof(b));
        assert_int_equal(ledger_booking_get(f.l, "demo", jobs[i].id, &b), 0);
        ledger_booking_clear(&b);
    }
    assert_true(jobs[JOBS - 1].id > jobs[0].id);
    ledger_queue_close(f.q);
    uv_run(&f.loop, UV_RUN_DEFAULT); /* closes the wake-up handle */
    assert_int_equal(uv_loop_close(&f.loop), 0);
    ledger_close(f.l);
    test_db_remove(f.path);
}

static void inline_without_a_queue(void **state)
{
    char path[256];
    ledger *l;
    job x;
    (void)state;

    assert_int_equal(test_db_create(path, sizeof(path), "lq"), 0);
    open_with_show(path, &l);
    loop_thread = pthread_self();
    ndone = 0;
    memset(&x, 0, sizeof(x));
    x.j.data = &x;
    ledger_queue_call(NULL, l, &x.j, run_book, done_book);
    assert_int_equal(ndone, 1);
    assert_int_equal(x.rc, 0);
    assert_ptr_equal(x.ran_with, l);
    ledger_close(l);
    test_db_remove(path);
}

/* Closing ends every job still out, in order: the thread runs the ones
 * queued before it ends (their work is not lost) and every done callback
 * is called on the closing loop before close returns. */
static void close_ends_every_job(void **state)
{
    static fixture f;
    int i;
    (void)state;

    queue_jobs(&f);
    ledger_queue_close(f.q); /* at once: the thread runs the rest first */
    assert_int_equal(ndone, JOBS);
    for (i = 0; i < JOBS; i++) {
        assert_int_equal(done_order[i], i);
        assert_int_equal(f.jobs[i].rc, 0);
    }
    uv_run(&f.loop, UV_RUN_DEFAULT); /* closes the wake-up handle */
    assert_int_equal(ndone, JOBS);   /* and calls nothing twice */
    assert_int_equal(uv_loop_close(&f.loop), 0);
    ledger_close(f.l);
    test_db_remove(f.path);
}

/* A job that waits until the test lets it go: a database that does not
 * answer. */
static pthread_mutex_t stuck_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stuck_cv = PTHREAD_COND_INITIALIZER;
static int stuck_started, stuck_released;

static void run_stuck(ledger *l, ledger_job *lj)
{
    (void)l;
    (void)lj;
    pthread_mutex_lock(&stuck_mu);
    stuck_started = 1;
    pthread_cond_broadcast(&stuck_cv);
    while (!stuck_released)
        pthread_cond_wait(&stuck_cv, &stuck_mu);
    pthread_mutex_unlock(&stuck_mu);
}

static void done_never(ledger_job *lj)
{
    (void)lj;
    fail_msg("the done callback of a job given up on was called");
}

/* close_by gives up at its deadline: the jobs finished so far end, the one
 * stuck and the ones behind it (and one submitted later) never do, and the
 * loop has nothing left to wait for. */
static void close_by_gives_up_on_a_stuck_thread(void **state)
{
    static fixture f;
    static job first, stuck, behind[2], later;
    char err[256];
    int64_t t0, took;
    int i;
    (void)state;

    assert_int_equal(test_db_create(f.path, sizeof(f.path), "lq"), 0);
    open_with_show(f.path, &f.l);
    assert_int_equal(uv_loop_init(&f.loop), 0);
    loop_thread = pthread_self();
    assert_int_equal(ledger_queue_open(&f.loop, f.path, &f.q, err, sizeof(err)), 0);
    ndone = 0;
    first.j.data = &first;
    ledger_queue_submit(f.q, &first.j, run_book, done_book);
    stuck.j.data = &stuck;
    ledger_queue_submit(f.q, &stuck.j, run_stuck, done_never);
    for (i = 0; i < 2; i++) {
        behind[i].n = i + 1;
        behind[i].j.data = &behind[i];
        ledger_queue_submit(f.q, &behind[i].j, run_book, done_never);
    }
    pthread_mutex_lock(&stuck_mu);
    while (!stuck_started)
        pthread_cond_wait(&stuck_cv, &stuck_mu);
    pthread_mutex_unlock(&stuck_mu);

    t0 = sm_mono_ms();
    assert_int_equal(ledger_queue_close_by(f.q, t0 + 100), 1);
    took = sm_mono_ms() - t0;
    assert_true(took >= 100 && took < 2000);
    assert_int_equal(ndone, 1); /* the first job finished: its done ran */
    assert_int_equal(done_order[0], 0);
    later.j.data = &later;
    ledger_queue_submit(f.q, &later.j, run_book, done_never); /* kept, never run */
    uv_run(&f.loop, UV_RUN_DEFAULT); /* nothing keeps the loop: the wake-up handle is closed */
    assert_int_equal(uv_loop_close(&f.loop), 0);
    assert_int_equal(behind[0].rc, 0);
    assert_null(behind[0].ran_with); /* never ran */

    /* the database answers after all: the thread ends, calling nothing */
    pthread_mutex_lock(&stuck_mu);
    stuck_released = 1;
    pthread_cond_broadcast(&stuck_cv);
    pthread_mutex_unlock(&stuck_mu);
    ledger_close(f.l);
    test_db_remove(f.path);
}

static void open_failure_says_why(void **state)
{
    char err[256];
    uv_loop_t loop;
    ledger_queue *q = (ledger_queue *)1;
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    err[0] = '\0';
    assert_int_equal(ledger_queue_open(&loop, "/nonexistent-dir/seatmap.db", &q, err, sizeof(err)),
                     -1);
    assert_null(q);
    assert_true(err[0] != '\0');
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jobs_run_in_order_off_the_loop),
        cmocka_unit_test(inline_without_a_queue),
        cmocka_unit_test(close_ends_every_job),
        cmocka_unit_test(close_by_gives_up_on_a_stuck_thread),
        cmocka_unit_test(open_failure_says_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
