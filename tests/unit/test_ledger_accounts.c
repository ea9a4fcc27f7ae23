/*
 * test_ledger_accounts.c - unit tests of ledger_accounts.h: the one name and
 * role check (shared with admin_cli.c), staff users, sessions (expiry,
 * logout, ended by a password reset) and API tokens, run once per engine of
 * ledger_engines.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_accounts.h"
#include "ledger_engines.h"
#include "util.h"

#include <string.h>

static void test_valid_role(void **state)
{
    (void)state;
    assert_true(ledger_valid_role("boxoffice"));
    assert_true(ledger_valid_role("admin"));
    assert_false(ledger_valid_role("cashier"));
    assert_false(ledger_valid_role("Admin"));
    assert_false(ledger_valid_role(""));
    assert_false(ledger_valid_role(NULL));
}

static void test_valid_name(void **state)
{
    char longest[LEDGER_NAME_MAX + 2];
    (void)state;
    assert_true(ledger_valid_name("ann", LEDGER_NAME_MAX));
    assert_true(ledger_valid_name("ann.lee@box-office_2", LEDGER_NAME_MAX));
    assert_false(ledger_valid_name("", LEDGER_NAME_MAX));
    assert_false(ledger_valid_name(NULL, LEDGER_NAME_MAX));
    assert_false(ledger_valid_name("bad name", LEDGER_NAME_MAX));
    assert_false(ledger_valid_name("tab\tname", LEDGER_NAME_MAX));
    assert_false(ledger_valid_name("caf\xc3\xa9", LEDGER_NAME_MAX));
    assert_false(ledger_valid_name("token:x", LEDGER_NAME_MAX));
    memset(longest, 'a', LEDGER_NAME_MAX);
    longest[LEDGER_NAME_MAX] = '\0';
    assert_true(ledger_valid_name(longest, LEDGER_NAME_MAX));
    /* A token name leaves room for "token:" in ledger_user.name. */
    assert_false(ledger_valid_name(longest, LEDGER_TOKEN_NAME_MAX));
    longest[LEDGER_TOKEN_NAME_MAX] = '\0';
    assert_true(ledger_valid_name(longest, LEDGER_TOKEN_NAME_MAX));
    memset(longest, 'a', LEDGER_NAME_MAX + 1);
    longest[LEDGER_NAME_MAX + 1] = '\0';
    assert_false(ledger_valid_name(longest, LEDGER_NAME_MAX));
}

static void test_users_and_sessions(void **state)
{
    fixture *f = *state;
    /* Sessions are purged against the real clock: use it here. */
    int64_t now = sm_now_ms();
    ledger_user u;

    assert_int_equal(ledger_user_add(f->l, "ann", "admin", "$argon2id$hash1"), 0);
    assert_int_equal(ledger_user_add(f->l, "bob", "cashier", "$argon2id$h"), LEDGER_EINVAL);
    assert_int_equal(ledger_user_add(f->l, "bad name", "admin", "$argon2id$h"), LEDGER_EINVAL);
    assert_int_equal(ledger_user_get(f->l, "ann", &u), 0);
    assert_string_equal(u.role, "admin");
    assert_string_equal(u.pwhash, "$argon2id$hash1");
    assert_int_equal(ledger_user_get(f->l, "nobody", &u), LEDGER_ENOTFOUND);
    assert_int_equal(ledger_user_get(f->l, "ann", &u), 0);

    assert_int_equal(ledger_session_create(f->l, u.id, "hash-a", now + 60000), 0);
    assert_int_equal(ledger_session_create(f->l, u.id, "hash-a", now + 60000), LEDGER_EEXISTS);
    assert_int_equal(ledger_session_create(f->l, u.id + 42, "hash-b", now + 60000),
                     LEDGER_ENOTFOUND);
    {
        ledger_user s;
        assert_int_equal(ledger_session_lookup(f->l, "hash-a", now, &s), 0);
        assert_string_equal(s.name, "ann");
        assert_string_equal(s.role, "admin");
        assert_int_equal(s.id, u.id);
        /* Expired at its deadline. */
        assert_int_equal(ledger_session_lookup(f->l, "hash-a", now + 60000, &s), LEDGER_ENOTFOUND);
        assert_int_equal(ledger_session_lookup(f->l, "hash-zz", now, &s), LEDGER_ENOTFOUND);
        assert_int_equal(ledger_session_delete(f->l, "hash-a"), 0);
        assert_int_equal(ledger_session_lookup(f->l, "hash-a", now, &s), LEDGER_ENOTFOUND);
        assert_int_equal(ledger_session_delete(f->l, "hash-a"), LEDGER_ENOTFOUND);

        /* Adding the user again resets password and role and ends sessions. */
        assert_int_equal(ledger_session_create(f->l, u.id, "hash-c", now + 60000), 0);
        assert_int_equal(ledger_user_add(f->l, "ann", "boxoffice", "$argon2id$hash2"), 0);
        assert_int_equal(ledger_user_get(f->l, "ann", &s), 0);
        assert_int_equal(s.id, u.id);
        assert_string_equal(s.role, "boxoffice");
        assert_string_equal(s.pwhash, "$argon2id$hash2");
        assert_int_equal(ledger_session_lookup(f->l, "hash-c", now, &s), LEDGER_ENOTFOUND);
    }
}

static void test_tokens(void **state)
{
    fixture *f = *state;
    ledger_user u;

    assert_int_equal(ledger_token_add(f->l, "psp", "boxoffice", "tokhash-1"), 0);
    assert_int_equal(ledger_token_add(f->l, "psp", "admin", "tokhash-2"), LEDGER_EEXISTS);
    assert_int_equal(ledger_token_add(f->l, "other", "root", "tokhash-3"), LEDGER_EINVAL);
    assert_int_equal(ledger_token_lookup(f->l, "tokhash-1", &u), 0);
    assert_string_equal(u.name, "token:psp");
    assert_string_equal(u.role, "boxoffice");
    assert_int_equal(ledger_token_lookup(f->l, "tokhash-2", &u), LEDGER_ENOTFOUND);
    reopen(f);
    assert_int_equal(ledger_token_lookup(f->l, "tokhash-1", &u), 0);
    assert_string_equal(u.name, "token:psp");
}

int main(void)
{
    const struct CMUnitTest checks[] = {
        cmocka_unit_test(test_valid_role),
        cmocka_unit_test(test_valid_name),
    };
    /* Run against every engine. */
    const struct CMUnitTest each_engine[] = {
        cmocka_unit_test_setup_teardown(test_users_and_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("names and roles", checks, NULL, NULL);

    LEDGER_RUN_EACH_ENGINE(each_engine, failed);
    return failed;
}
