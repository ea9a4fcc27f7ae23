/*
 * pg_child.h - a real PostgreSQL server for unit tests that need one: a
 * fresh cluster (initdb, trust auth) in a temporary directory, its
 * postmaster started on a free loopback port (and a socket in that
 * directory) as a child that dies with the test (PR_SET_PDEATHSIG), waited
 * for with a deadline, shut down and removed at exit. As root, initdb runs
 * through `runuser -u postgres` and the postmaster as the postgres user on
 * a directory it owns (PostgreSQL refuses to run as root).
 *
 * pg_child_start() starts it once per test program (later calls return the
 * same answer); pg_child_port is its port, pg_child_url names a database. The binaries are found in
 * $SEATMAP_PG_BINDIR or /usr/lib/postgresql/NN/bin (Debian's postgresql-15);
 * without them pg_child_start says so and returns -1, and callers skip.
 *
 * The cluster runs with fsync=off: the tests check transactions and
 * constraints, not what survives a power cut, and it keeps CREATE DATABASE
 * per test fast.
 *
 * Header-only (static functions): each test program is one file.
 */
#ifndef SEATMAP_TEST_PG_CHILD_H
#define SEATMAP_TEST_PG_CHILD_H

#include "test_child.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG_CHILD_START_DEADLINE_MS 30000

static pid_t pg_child_pid;
static int pg_child_port;
static int pg_child_state = 2; /* 2 not tried, else pg_child_start's answer */
static char pg_child_dir[64];
static char pg_child_bindir[256];

/* A free loopback port, for tests that need one nobody listens on. */
__attribute__((unused)) static int free_port_pg(void)
{
    return free_port();
}

/* The directory with initdb and postgres, or -1. */
static int pg_child_find_bindir(void)
{
    const char *env = getenv("SEATMAP_PG_BINDIR");
    glob_t g;
    char p[300];
    if (env && env[0]) {
        snprintf(pg_child_bindir, sizeof(pg_child_bindir), "%s", env);
        snprintf(p, sizeof(p), "%s/initdb", env);
        return access(p, X_OK) == 0 ? 0 : -1;
    }
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
        return -1;
    /* the newest version sorts last */
    snprintf(pg_child_bindir, sizeof(pg_child_bindir), "%.*s",
             (int)(strlen(g.gl_pathv[g.gl_pathc - 1]) - strlen("/initdb")),
             g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    return 0;
}

/* The connection string of database db on the child server. */
static inline void pg_child_url(char *out, size_t len, const char *db)
{
    snprintf(out, len, "postgresql://postgres@127.0.0.1:%d/%s", pg_child_port, db);
}

static void pg_child_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs one SQL command as the superuser on database db: 0 or -1. */
static inline int pg_child_exec(const char *db, const char *sql)
{
    char url[256];
    PGconn *c;
    PGresult *r;
    int ok;
    pg_child_url(url, sizeof(url), db);
    c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_child: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PQsetNoticeProcessor(c, pg_child_quiet, NULL);
    r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "pg_child: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static int pg_child_answers(void *unused)
{
    char url[256];
    PGconn *c;
    int ok;
    (void)unused;
    pg_child_url(url, sizeof(url), "postgres");
    strcat(url, "?connect_timeout=1");
    c = PQconnectdb(url);
    ok = PQstatus(c) == CONNECTION_OK;
    PQfinish(c);
    return ok;
}

static void pg_child_stop(void)
{
    char cmd[128];
    int status;
    if (pg_child_pid > 0) {
        kill(pg_child_pid, SIGQUIT); /* immediate shutdown */
        waitpid(pg_child_pid, &status, 0);
        pg_child_pid = 0;
    }
    if (pg_child_dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pg_child_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "pg_child: cannot remove %s\n", pg_child_dir);
        pg_child_dir[0] = '\0';
    }
}

/* Starts the postmaster as user pw (NULL: ourselves). */
static pid_t pg_child_spawn(const struct passwd *pw)
{
    char port[16], data[96], opt_k[96], bin[300];
    pid_t parent = getpid(), pid = fork();
    if (pid != 0)
        return pid;
    if (pw && (setgid(pw->pw_gid) || setuid(pw->pw_uid)))
        _exit(126);
    /* after setuid, which clears it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    snprintf(port, sizeof(port), "%d", pg_child_port);
    snprintf(data, sizeof(data), "%s/data", pg_child_dir);
    snprintf(opt_k, sizeof(opt_k), "%s", pg_child_dir);
    snprintf(bin, sizeof(bin), "%s/postgres", pg_child_bindir);
    {
        char log[128];
        int fd;
        snprintf(log, sizeof(log), "%s/postgres.log", pg_child_dir);
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
    }
    execl(bin, "postgres", "-D", data, "-p", port, "-k", opt_k, "-c", "listen_addresses=127.0.0.1",
          "-c", "fsync=off", "-c", "max_connections=100", (char *)NULL);
    _exit(127);
}

/* Starts the server once per program: 0; 1 when PostgreSQL is not
 * installed (the caller skips); -1 when it is and would not start (the
 * caller fails). A message is printed either way. */
static inline int pg_child_start(void)
{
    const struct passwd *pw = NULL;
    char cmd[1024];
    int attempt, status, rc;

    if (pg_child_state != 2)
        return pg_child_state;
    pg_child_state = -1;
    if (pg_child_find_bindir()) {
        fprintf(stderr, "PostgreSQL binaries not found (install postgresql-15 or set "
                        "SEATMAP_PG_BINDIR): skipping the PostgreSQL tests\n");
        return pg_child_state = 1;
    }
    if (geteuid() == 0 && !(pw = getpwnam("postgres"))) {
        fprintf(stderr, "running as root and there is no postgres user: skipping\n");
        return -1;
    }
    snprintf(pg_child_dir, sizeof(pg_child_dir), "/tmp/seatmap-test-pg-XXXXXX");
    if (!mkdtemp(pg_child_dir) || (pw && chown(pg_child_dir, pw->pw_uid, pw->pw_gid))) {
        fprintf(stderr, "pg_child: cannot make %s\n", pg_child_dir);
        return -1;
    }
    snprintf(cmd, sizeof(cmd),
             "%s %s/initdb -D %s/data -A trust -U postgres --no-sync -E UTF8 >%s/initdb.log 2>&1",
             pw ? "runuser -u postgres --" : "", pg_child_bindir, pg_child_dir, pg_child_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "pg_child: initdb failed (see %s/initdb.log)\n", pg_child_dir);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (attempt = 0; attempt < 3; attempt++) {
        pg_child_port = free_port();
        pg_child_pid = pg_child_spawn(pw);
        if (pg_child_pid < 0)
            break;
        rc = wait_for_child(pg_child_pid, pg_child_answers, NULL, PG_CHILD_START_DEADLINE_MS, 50);
        if (rc == 0) {
            atexit(pg_child_stop);
            return pg_child_state = 0;
        }
        if (rc == -2)
            pg_child_pid = 0;
        if (pg_child_pid > 0) {
            kill(pg_child_pid, SIGKILL);
            waitpid(pg_child_pid, &status, 0);
            pg_child_pid = 0;
        }
    }
    fprintf(stderr, "pg_child: postgres did not start (see %s/postgres.log)\n", pg_child_dir);
    return -1;
}

#endif
