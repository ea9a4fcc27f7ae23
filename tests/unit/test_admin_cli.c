/*
 * test_admin_cli.c - unit tests of server/admin_cli.c: `user add`,
 * `token add` and `show add` run in-process against a temporary database,
 * with stdin fed from a file and stdout captured, checked through the
 * ledger. Exit statuses: 0 ok, 1 failure, 2 usage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admin_cli.h"
#include "auth.h"
#include "ledger.h"
#include "ledger_accounts.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
    char db[64];
    char in[64];
    char out[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    int fd;
    assert_non_null(f);
    snprintf(f->db, sizeof(f->db), "/tmp/seatmap-test-cli-XXXXXX");
    fd = mkstemp(f->db);
    assert_true(fd >= 0);
    close(fd);
    unlink(f->db); /* let the CLI create it */
    snprintf(f->in, sizeof(f->in), "/tmp/seatmap-test-cli-in-XXXXXX");
    fd = mkstemp(f->in);
    assert_true(fd >= 0);
    close(fd);
    snprintf(f->out, sizeof(f->out), "/tmp/seatmap-test-cli-out-XXXXXX");
    fd = mkstemp(f->out);
    assert_true(fd >= 0);
    close(fd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char p[80];
    unlink(f->db);
    snprintf(p, sizeof(p), "%s-wal", f->db);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->db);
    unlink(p);
    unlink(f->in);
    unlink(f->out);
    free(f);
    return 0;
}

/* Runs admin_cli_main with `input` on stdin; stdout goes to f->out and, when
 * out is not NULL, its text is copied there. Returns the exit status. */
static int run(fixture *f, const char *input, char *out, size_t outlen, int argc, ...)
{
    char *argv[16];
    va_list ap;
    FILE *fp;
    int i, rc, saved, fd;

    assert_true(argc < 16);
    va_start(ap, argc);
    for (i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;

    fp = fopen(f->in, "w");
    assert_non_null(fp);
    fputs(input ? input : "", fp);
    fclose(fp);
    assert_non_null(freopen(f->in, "r", stdin));

    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    fd = open(f->out, O_WRONLY | O_TRUNC);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    rc = admin_cli_main(argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);

    if (out) {
        size_t n;
        fp = fopen(f->out, "r");
        assert_non_null(fp);
        n = fread(out, 1, outlen - 1, fp);
        out[n] = '\0';
        fclose(fp);
    }
    return rc;
}

static ledger *open_db(fixture *f)
{
    char err[256];
    ledger *l = NULL;
    assert_int_equal(ledger_open(f->db, &l, err, sizeof(err)), 0);
    return l;
}

static void test_user_add(void **state)
{
    fixture *f = *state;
    char out[256];
    ledger_user u;
    ledger *l;

    assert_int_equal(run(f, "s3cret-pass\n", out, sizeof(out), 7, "user", "add", "ann", "--role",
                         "admin", "--db", f->db),
                     0);
    assert_string_equal(out, "user ann added (role admin)\n");
    l = open_db(f);
    assert_int_equal(ledger_user_get(l, "ann", &u), 0);
    assert_string_equal(u.role, "admin");
    assert_int_equal(auth_password_verify(u.pwhash, "s3cret-pass"), 0);
    assert_int_equal(auth_password_verify(u.pwhash, "s3cret-pass\n"), -1);
    ledger_close(l);

    /* Default role, CRLF line end, --db=FILE form; adding again resets. */
    {
        char flag[96];
        snprintf(flag, sizeof(flag), "--db=%s", f->db);
        assert_int_equal(
            run(f, "another-pass\r\nignored\n", out, sizeof(out), 4, "user", "add", "ann", flag),
            0);
    }
    assert_string_equal(out, "user ann added (role boxoffice)\n");
    l = open_db(f);
    assert_int_equal(ledger_user_get(l, "ann", &u), 0);
    assert_string_equal(u.role, "boxoffice");
    assert_int_equal(auth_password_verify(u.pwhash, "another-pass"), 0);
    ledger_close(l);
}

static void test_user_add_refuses_bad_input(void **state)
{
    fixture *f = *state;
    ledger_user u;
    ledger *l;

    assert_int_equal(run(f, "short\n", NULL, 0, 5, "user", "add", "bob", "--db", f->db),
                     ADMIN_CLI_FAIL);
    assert_int_equal(run(f, "\n", NULL, 0, 5, "user", "add", "bob", "--db", f->db), ADMIN_CLI_FAIL);
    assert_int_equal(run(f, "", NULL, 0, 5, "user", "add", "bob", "--db", f->db), ADMIN_CLI_FAIL);
    assert_int_equal(
        run(f, "long-enough\n", NULL, 0, 7, "user", "add", "bob", "--role", "root", "--db", f->db),
        ADMIN_CLI_USAGE);
    assert_int_equal(run(f, "long-enough\n", NULL, 0, 5, "user", "add", "bad name", "--db", f->db),
                     ADMIN_CLI_USAGE);
    assert_int_equal(run(f, "long-enough\n", NULL, 0, 4, "user", "add", "--db", f->db),
                     ADMIN_CLI_USAGE);
    assert_int_equal(
        run(f, "long-enough\n", NULL, 0, 6, "user", "add", "bob", "--frob", "1", "--db", f->db),
        ADMIN_CLI_USAGE);
    assert_int_equal(run(f, "long-enough\n", NULL, 0, 4, "user", "add", "bob", "--db"),
                     ADMIN_CLI_USAGE);
    assert_int_equal(run(f, "long-enough\n", NULL, 0, 5, "user", "del", "bob", "--db", f->db),
                     ADMIN_CLI_USAGE);
    assert_int_equal(run(f, "long-enough\n", NULL, 0, 2, "nope", "add"), ADMIN_CLI_USAGE);
    /* A database that cannot be opened. */
    assert_int_equal(
        run(f, "long-enough\n", NULL, 0, 5, "user", "add", "bob", "--db", "/nonexistent/x/y.db"),
        ADMIN_CLI_FAIL);

    l = open_db(f);
    assert_int_equal(ledger_user_get(l, "bob", &u), LEDGER_ENOTFOUND);
    ledger_close(l);
}

static void test_db_from_environment(void **state)
{
    fixture *f = *state;
    ledger_user u;
    ledger *l;

    setenv("SEATMAP_DB", f->db, 1);
    assert_int_equal(run(f, "env-password\n", NULL, 0, 3, "user", "add", "cid"), 0);
    unsetenv("SEATMAP_DB");
    l = open_db(f);
    assert_int_equal(ledger_user_get(l, "cid", &u), 0);
    ledger_close(l);
}

static void test_token_add(void **state)
{
    fixture *f = *state;
    char out[256], hash[AUTH_HASH_HEX + 1];
    ledger_user u;
    ledger *l;
    size_t n;

    assert_int_equal(run(f, NULL, out, sizeof(out), 5, "token", "add", "psp", "--db", f->db), 0);
    n = strlen(out);
    assert_int_equal(n, 4 + AUTH_TOKEN_HEX + 1);
    assert_memory_equal(out, "smt_", 4);
    assert_int_equal(out[n - 1], '\n');
    out[n - 1] = '\0';

    l = open_db(f);
    auth_token_hash(out, hash);
    assert_int_equal(ledger_token_lookup(l, hash, &u), 0);
    assert_string_equal(u.name, "token:psp");
    assert_string_equal(u.role, "boxoffice");
    /* Only the hash is stored. */
    auth_token_hash(out + 4, hash);
    assert_int_equal(ledger_token_lookup(l, hash, &u), LEDGER_ENOTFOUND);
    ledger_close(l);

    assert_int_equal(run(f, NULL, NULL, 0, 5, "token", "add", "psp", "--db", f->db),
                     ADMIN_CLI_FAIL);
    assert_int_equal(
        run(f, NULL, out, sizeof(out), 7, "token", "add", "ops", "--role", "admin", "--db", f->db),
        0);
    out[strlen(out) - 1] = '\0';
    l = open_db(f);
    auth_token_hash(out, hash);
    assert_int_equal(ledger_token_lookup(l, hash, &u), 0);
    assert_string_equal(u.role, "admin");
    ledger_close(l);
}

static void demo_venue(char *path, size_t len)
{
    const char *src = getenv("SEATMAP_SOURCE_DIR");
    snprintf(path, len, "%s/assets/venues/demo.json", src ? src : ".");
}

static void test_show_add(void **state)
{
    fixture *f = *state;
    char venue_path[512], out[256];
    ledger_show s;
    ledger *l;

    demo_venue(venue_path, sizeof(venue_path));
    if (access(venue_path, R_OK) != 0)
        skip();
    assert_int_equal(run(f, NULL, out, sizeof(out), 11, "show", "add", "gala", "--venue",
                         venue_path, "--name", "Gala Night", "--starts-at",
                         "2030-05-01T19:30:00+02:00", "--db", f->db),
                     0);
    assert_non_null(strstr(out, "show gala added"));
    l = open_db(f);
    assert_int_equal(ledger_show_get(l, "gala", &s), 0);
    assert_string_equal(s.name, "Gala Night");
    assert_string_equal(s.starts_at, "2030-05-01T19:30:00+02:00");
    assert_true(strlen(s.venue_name) > 0);
    assert_non_null(strstr(s.venue_json, "\"sections\""));
    ledger_show_clear(&s);
    ledger_close(l);

    /* Optional start; the id is taken now. */
    assert_int_equal(run(f, NULL, NULL, 0, 9, "show", "add", "plain", "--venue", venue_path,
                         "--name", "Plain", "--db", f->db),
                     0);
    assert_int_equal(run(f, NULL, NULL, 0, 9, "show", "add", "gala", "--venue", venue_path,
                         "--name", "Again", "--db", f->db),
                     ADMIN_CLI_FAIL);
}

static void test_show_add_refuses_bad_input(void **state)
{
    fixture *f = *state;
    char venue_path[512];
    static const char *const bad_times[] = {"tomorrow",           "2030-13-01T19:30",
                                            "2030-05-01",         "2030-05-01T25:00",
                                            "2030-05-01T19:30+2", "2030-05-01T19:30:00Zjunk"};
    static const char *const good_times[] = {"2030-05-01T19:30", "2030-05-01T19:30Z",
                                             "2030-05-01T19:30:15.250-05:00"};
    char id[16];
    size_t i;

    demo_venue(venue_path, sizeof(venue_path));
    assert_int_equal(run(f, NULL, NULL, 0, 9, "show", "add", "bad id!", "--venue", venue_path,
                         "--name", "X", "--db", f->db),
                     ADMIN_CLI_USAGE);
    assert_int_equal(run(f, NULL, NULL, 0, 7, "show", "add", "s1", "--name", "X", "--db", f->db),
                     ADMIN_CLI_USAGE);
    assert_int_equal(
        run(f, NULL, NULL, 0, 7, "show", "add", "s1", "--venue", venue_path, "--db", f->db),
        ADMIN_CLI_USAGE);
    assert_int_equal(run(f, NULL, NULL, 0, 9, "show", "add", "s1", "--venue", "/nonexistent.json",
                         "--name", "X", "--db", f->db),
                     ADMIN_CLI_FAIL);
    for (i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++)
        assert_int_equal(run(f, NULL, NULL, 0, 11, "show", "add", "s1", "--venue", venue_path,
                             "--name", "X", "--starts-at", bad_times[i], "--db", f->db),
                         ADMIN_CLI_USAGE);
    if (access(venue_path, R_OK) != 0)
        return;
    for (i = 0; i < sizeof(good_times) / sizeof(good_times[0]); i++) {
        snprintf(id, sizeof(id), "ok%zu", i);
        assert_int_equal(run(f, NULL, NULL, 0, 11, "show", "add", id, "--venue", venue_path,
                             "--name", "X", "--starts-at", good_times[i], "--db", f->db),
                         0);
    }
}

static void test_help(void **state)
{
    fixture *f = *state;
    char out[256];
    assert_int_equal(run(f, NULL, out, sizeof(out), 3, "show", "add", "--help"), 0);
    assert_non_null(strstr(out, "usage: seatmapd show add"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_add_refuses_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_from_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_add_refuses_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
    };
    if (auth_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
