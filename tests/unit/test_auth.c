/*
 * test_auth.c - unit tests of server/auth.c: password hashes, random
 * tokens and their storage hashes, buyer tokens (mint, verify, reject
 * forgeries) and hold references.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define REF_ALPHABET "ACDEFGHJKMNPQRTUVWXY34679"

static const uint8_t secret_a[AUTH_SECRET_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static const uint8_t secret_b[AUTH_SECRET_BYTES] = {42};

static int is_lower_hex(const char *s, size_t n)
{
    size_t i;
    if (strlen(s) != n)
        return 0;
    for (i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

static void test_password_hash_verify(void **state)
{
    char h[AUTH_PWHASH_MAX], h2[AUTH_PWHASH_MAX];
    (void)state;
    assert_int_equal(auth_password_hash("correct horse battery", h), 0);
    assert_true(strncmp(h, "$argon2id$", 10) == 0);
    assert_int_equal(auth_password_verify(h, "correct horse battery"), 0);
    assert_int_equal(auth_password_verify(h, "correct horse batterx"), -1);
    assert_int_equal(auth_password_verify(h, ""), -1);
    assert_int_equal(auth_password_verify("not a hash", "correct horse battery"), -1);
    assert_int_equal(auth_password_verify(NULL, "x"), -1);
    /* Salted: the same password hashes differently each time. */
    assert_int_equal(auth_password_hash("correct horse battery", h2), 0);
    assert_string_not_equal(h, h2);
    assert_int_equal(auth_password_verify(h2, "correct horse battery"), 0);
}

static void test_random_token_and_hash(void **state)
{
    char t1[AUTH_TOKEN_HEX + 1], t2[AUTH_TOKEN_HEX + 1];
    char h1[AUTH_HASH_HEX + 1], h2[AUTH_HASH_HEX + 1], h3[AUTH_HASH_HEX + 1];
    (void)state;
    auth_random_token(t1);
    auth_random_token(t2);
    assert_true(is_lower_hex(t1, AUTH_TOKEN_HEX));
    assert_string_not_equal(t1, t2);

    auth_token_hash(t1, h1);
    auth_token_hash(t1, h2);
    auth_token_hash(t2, h3);
    assert_true(is_lower_hex(h1, AUTH_HASH_HEX));
    assert_string_equal(h1, h2);
    assert_string_not_equal(h1, h3);
    assert_string_not_equal(h1, t1);
    /* BLAKE2b-256 of "abc", a published test vector. */
    auth_token_hash("abc", h1);
    assert_string_equal(h1, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

static void test_buyer_mint_verify(void **state)
{
    char t[AUTH_BUYER_LEN + 1], u[AUTH_BUYER_LEN + 1];
    (void)state;
    auth_buyer_mint(secret_a, t);
    auth_buyer_mint(secret_a, u);
    assert_true(is_lower_hex(t, AUTH_BUYER_LEN));
    assert_string_not_equal(t, u);
    assert_int_equal(auth_buyer_verify(secret_a, t), 0);
    assert_int_equal(auth_buyer_verify(secret_a, u), 0);
    /* Another server secret did not mint it. */
    assert_int_equal(auth_buyer_verify(secret_b, t), -1);
}

static void test_buyer_rejects_forgeries(void **state)
{
    char t[AUTH_BUYER_LEN + 1], bad[AUTH_BUYER_LEN + 8];
    size_t i;
    (void)state;
    auth_buyer_mint(secret_a, t);

    /* Any single changed character, in the random part or the MAC. */
    for (i = 0; i < AUTH_BUYER_LEN; i++) {
        memcpy(bad, t, sizeof(t));
        bad[i] = bad[i] == '0' ? '1' : '0';
        assert_int_equal(auth_buyer_verify(secret_a, bad), -1);
    }
    /* Wrong lengths. */
    memcpy(bad, t, sizeof(t));
    bad[AUTH_BUYER_LEN - 2] = '\0';
    assert_int_equal(auth_buyer_verify(secret_a, bad), -1);
    snprintf(bad, sizeof(bad), "%s00", t);
    assert_int_equal(auth_buyer_verify(secret_a, bad), -1);
    assert_int_equal(auth_buyer_verify(secret_a, ""), -1);
    assert_int_equal(auth_buyer_verify(secret_a, NULL), -1);
    /* Not hex, and upper-case spellings of a valid token. */
    memcpy(bad, t, sizeof(t));
    bad[5] = 'g';
    assert_int_equal(auth_buyer_verify(secret_a, bad), -1);
    memcpy(bad, t, sizeof(t));
    for (i = 0; i < AUTH_BUYER_LEN; i++)
        if (bad[i] >= 'a' && bad[i] <= 'f')
            bad[i] = (char)(bad[i] - 'a' + 'A');
    if (strcmp(bad, t) != 0)
        assert_int_equal(auth_buyer_verify(secret_a, bad), -1);
    memset(bad, 'x', AUTH_BUYER_LEN);
    bad[AUTH_BUYER_LEN] = '\0';
    assert_int_equal(auth_buyer_verify(secret_a, bad), -1);
    /* All zeros is well-formed but not minted. */
    memset(bad, '0', AUTH_BUYER_LEN);
    assert_int_equal(auth_buyer_verify(secret_a, bad), -1);
}

static void test_buyer_id(void **state)
{
    char t[AUTH_BUYER_LEN + 1], u[AUTH_BUYER_LEN + 1];
    char a[AUTH_BUYER_ID_LEN + 1], b[AUTH_BUYER_ID_LEN + 1], c[AUTH_BUYER_ID_LEN + 1];
    (void)state;
    auth_buyer_mint(secret_a, t);
    auth_buyer_mint(secret_a, u);
    auth_buyer_id(t, a);
    auth_buyer_id(t, b);
    auth_buyer_id(u, c);
    assert_true(is_lower_hex(a, AUTH_BUYER_ID_LEN));
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* The id reveals nothing of the token it names. */
    assert_null(strstr(t, a));
    /* Stable across builds: the first 16 bytes of BLAKE2b-256("abc"). */
    auth_buyer_id("abc", a);
    assert_string_equal(a, "bddd813c634239723171ef3fee98579b");
}

static void test_str_equal(void **state)
{
    (void)state;
    assert_int_equal(auth_str_equal("abc", "abc"), 1);
    assert_int_equal(auth_str_equal("", ""), 1);
    assert_int_equal(auth_str_equal("abc", "abd"), 0);
    assert_int_equal(auth_str_equal("abc", "abcd"), 0);
    assert_int_equal(auth_str_equal("abc", NULL), 0);
}

static void test_random_ref(void **state)
{
    char ref[AUTH_REF_LEN + 1], first[AUTH_REF_LEN + 1];
    int seen[256] = {0};
    int i, j, distinct = 0, differs = 0;
    (void)state;
    auth_random_ref(first);
    for (i = 0; i < 2000; i++) {
        auth_random_ref(ref);
        assert_int_equal(strlen(ref), AUTH_REF_LEN);
        for (j = 0; j < AUTH_REF_LEN; j++) {
            assert_non_null(strchr(REF_ALPHABET, ref[j]));
            seen[(unsigned char)ref[j]] = 1;
        }
        if (strcmp(ref, first) != 0)
            differs = 1;
    }
    for (i = 0; i < 256; i++)
        distinct += seen[i];
    /* 12000 draws cover all 25 letters (missing one: p < 1e-200). */
    assert_int_equal(distinct, (int)strlen(REF_ALPHABET));
    assert_true(differs);
    /* No look-alikes anywhere in the alphabet. */
    for (i = 0; REF_ALPHABET[i]; i++)
        assert_null(strchr("0O1IL2Z5S8B", REF_ALPHABET[i]));
}

/* A forked child (--workers) must not repeat its parent's refs: without
 * the pool being forgotten at fork, both would draw the same next bytes. */
static void test_random_ref_after_fork(void **state)
{
    char parent[4 * (AUTH_REF_LEN + 1)], child[sizeof(parent)];
    int fds[2], i, status;
    pid_t pid;
    (void)state;
    auth_random_ref(parent); /* the pool is filled */
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (i = 0; i < 4; i++)
            auth_random_ref(child + i * (AUTH_REF_LEN + 1));
        _exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
    }
    for (i = 0; i < 4; i++)
        auth_random_ref(parent + i * (AUTH_REF_LEN + 1));
    assert_int_equal(read(fds[0], child, sizeof(child)), (int)sizeof(child));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    close(fds[1]);
    for (i = 0; i < 4; i++)
        assert_string_not_equal(parent + i * (AUTH_REF_LEN + 1), child + i * (AUTH_REF_LEN + 1));
}

static int group_setup(void **state)
{
    (void)state;
    return auth_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash_verify),
        cmocka_unit_test(test_random_token_and_hash),
        cmocka_unit_test(test_buyer_mint_verify),
        cmocka_unit_test(test_buyer_rejects_forgeries),
        cmocka_unit_test(test_buyer_id),
        cmocka_unit_test(test_str_equal),
        cmocka_unit_test(test_random_ref),
        cmocka_unit_test(test_random_ref_after_fork),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
