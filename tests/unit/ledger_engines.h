/*
 * ledger_engines.h - the engines the ledger unit tests run against, for
 * test_ledger.c and test_ledger_accounts.c. Every test that uses only
 * ledger.h takes its database from the current row of ledger_test_engines,
 * and main runs the tests once per row, so the same assertions hold for
 * every engine. Today there is one row, SQLite in a temporary directory; a
 * PostgreSQL row (a scratch database per test, say) adds a create, a destroy
 * and a query_int, and nothing else.
 *
 * Header-only (static inline) because each test file is its own executable.
 */
#ifndef SEATMAP_TEST_LEDGER_ENGINES_H
#define SEATMAP_TEST_LEDGER_ENGINES_H

#include "ledger.h"

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

static const test_engine ledger_test_engines[] = {
    {"sqlite", sqlite_create, sqlite_destroy, sqlite_query_int},
};
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
