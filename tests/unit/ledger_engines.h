/*
 * ledger_engines.h - the engines the ledger unit tests run against, for
 * test_ledger.c and test_ledger_accounts.c. Every test that uses only
 * ledger.h takes its database from the current row of ledger_test_engines,
 * and main runs the tests once per row, so the same assertions hold for
 * every engine. Two rows: SQLite in a temporary directory, and PostgreSQL
 * (a scratch schema per test on a server pg_child.h starts once per test
 * program). A row whose engine cannot run here (no PostgreSQL installed)
 * says so from `available` and main skips it; in CI both run.
 *
 * Header-only (static inline) because each test file is its own executable.
 */
#ifndef SEATMAP_TEST_LEDGER_ENGINES_H
#define SEATMAP_TEST_LEDGER_ENGINES_H

#include "ledger.h"
#include "pg_child.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_TARGET_MAX 256

typedef struct test_engine {
    const char *name;
    /* Makes a fresh, empty database; writes the string ledger_open takes. */
    void (*create)(char *target, size_t len);
    /* Removes what create made. */
    void (*destroy)(const char *target);
    /* One integer from a query run on a separate connection, so it sees
     * only what the ledger has committed; -1 when there is no row. */
    long long (*query_int)(const char *target, const char *sql);
    /* 0 when the engine can run here, 1 to skip the row (message printed),
     * -1 when it should but cannot (the tests fail). NULL: always. */
    int (*available)(void);
} test_engine;

/* ---- SQLite: a file in a fresh directory under /tmp ---- */

static inline void sqlite_create(char *target, size_t len)
{
    char dir[] = "/tmp/seatmap-test-ledger-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(target, len, "%s/seatmap.db", dir);
}

static inline void sqlite_destroy(const char *target)
{
    char p[T_TARGET_MAX + 8];
    char *slash;
    unlink(target);
    snprintf(p, sizeof(p), "%s-wal", target);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", target);
    unlink(p);
    snprintf(p, sizeof(p), "%s", target);
    slash = strrchr(p, '/');
    if (slash) {
        *slash = '\0';
        rmdir(p);
    }
}

static inline long long sqlite_query_int(const char *target, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(target, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* ---- PostgreSQL: a fresh database per test on the pg_child.h server ---- */

static inline int pg_available(void)
{
    return pg_child_start();
}

/* The schema a target made by pg_create works in. */
static inline const char *pg_schema(const char *target)
{
    const char *p = strstr(target, "search_path%3D");
    assert_non_null(p);
    return p + strlen("search_path%3D");
}

/* A schema per test (cheaper than a database): the target puts it first
 * on the search path, so the ledger's tables and queries land there. */
static inline void pg_create(char *target, size_t len)
{
    static unsigned counter;
    char name[64], sql[128], base[256];
    assert_int_equal(pg_child_start(), 0);
    snprintf(name, sizeof(name), "t_%d_%u", (int)getpid(), counter++);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", name);
    assert_int_equal(pg_child_exec("postgres", sql), 0);
    pg_child_url(base, sizeof(base), "postgres");
    snprintf(target, len, "%s?options=-csearch_path%%3D%s", base, name);
}

static inline void pg_destroy(const char *target)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", pg_schema(target));
    assert_int_equal(pg_child_exec("postgres", sql), 0);
}

/* As sqlite_query_int; a boolean answer counts as 1 or 0. */
static inline long long pg_query_int(const char *target, const char *sql)
{
    PGconn *c = PQconnectdb(target);
    PGresult *r;
    long long v = -1;
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", target, PQerrorMessage(c));
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    if (PQntuples(r) > 0) {
        const char *t = PQgetvalue(r, 0, 0);
        v = strcmp(t, "t") == 0 ? 1 : strcmp(t, "f") == 0 ? 0 : strtoll(t, NULL, 10);
    }
    PQclear(r);
    PQfinish(c);
    return v;
}

static const test_engine ledger_test_engines[] = {
    {"sqlite", sqlite_create, sqlite_destroy, sqlite_query_int, NULL},
    {"postgresql", pg_create, pg_destroy, pg_query_int, pg_available},
};

/* Runs the group once per engine that can run here; returns the failures. */
#define LEDGER_RUN_EACH_ENGINE(tests, failed)                                                      \
    do {                                                                                           \
        size_t e_;                                                                                 \
        for (e_ = 0; e_ < LEDGER_TEST_ENGINES; e_++) {                                             \
            int a_ = ledger_test_engines[e_].available ? ledger_test_engines[e_].available() : 0;  \
            t_engine = &ledger_test_engines[e_];                                                   \
            if (a_ > 0) {                                                                          \
                printf("[  SKIPPED ] %s: engine not installed here\n", t_engine->name);            \
                continue;                                                                          \
            }                                                                                      \
            if (a_ < 0) {                                                                          \
                fprintf(stderr, "%s: engine installed but cannot start\n", t_engine->name);        \
                (failed)++;                                                                        \
                continue;                                                                          \
            }                                                                                      \
            (failed) += cmocka_run_group_tests_name(t_engine->name, tests, NULL, NULL);            \
        }                                                                                          \
    } while (0)
#define LEDGER_TEST_ENGINES (sizeof(ledger_test_engines) / sizeof(ledger_test_engines[0]))

/* The row the tests run against now (main sets it before each group). */
static const test_engine *t_engine = &ledger_test_engines[0];

/* Makes the row called name the current one (for engine-specific tests). */
static inline void t_use_engine(const char *name)
{
    size_t i;
    for (i = 0; i < LEDGER_TEST_ENGINES; i++)
        if (strcmp(ledger_test_engines[i].name, name) == 0)
            t_engine = &ledger_test_engines[i];
    assert_string_equal(t_engine->name, name);
}

/* ---- a fresh database per test ---- */

typedef struct fixture {
    char target[T_TARGET_MAX];
    ledger *l;
} fixture;

static inline void t_open(const char *target, ledger **l)
{
    char err[512];
    int rc = ledger_open(target, l, err, sizeof(err));
    if (rc)
        fail_msg("ledger_open(%s) on %s: %s", target, t_engine->name, err);
}

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    t_engine->create(f->target, sizeof(f->target));
    t_open(f->target, &f->l);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    ledger_close(f->l);
    t_engine->destroy(f->target);
    free(f);
    return 0;
}

/* Closes and opens the ledger again, as a restart of seatmapd would. */
static inline void reopen(fixture *f)
{
    ledger_close(f->l);
    f->l = NULL;
    t_open(f->target, &f->l);
}

static inline long long query_int(const char *target, const char *sql)
{
    return t_engine->query_int(target, sql);
}

#endif
