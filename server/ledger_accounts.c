/*
 * ledger_accounts.c - the engine-independent half of ledger_accounts.h:
 * the one definition of a valid staff or token name and role (admin_cli.c
 * checks its arguments with the same functions), argument checks with their
 * messages, and dispatch to the engine chosen at ledger_open. Beside ledger.c,
 * not above or below it: it reaches the handle and the engine only through
 * ledger_engine.c and calls nothing in ledger.c.
 *
 * Not here: storage (the engines), password hashing and tokens (auth.h).
 */
#include "ledger_accounts.h"

#include "ledger_engine.h"

#include <string.h>

int ledger_valid_role(const char *role)
{
    return role && (strcmp(role, "boxoffice") == 0 || strcmp(role, "admin") == 0);
}

int ledger_valid_name(const char *s, size_t max)
{
    size_t n;
    if (!s)
        return 0;
    for (n = 0; s[n]; n++) {
        char c = s[n];
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '@' || c == '-'))
            return 0;
    }
    return n > 0;
}

/* The checks a new user or token passes; `what` names it ("user"). */
static int name_role_check(ledger *l, const char *what, const char *name, int max, const char *role)
{
    if (!ledger_valid_name(name, (size_t)max))
        return ledger__set_err(l, LEDGER_EINVAL, "%s name must match [A-Za-z0-9_.@-]{1,%d}", what,
                               max);
    if (!ledger_valid_role(role))
        return ledger__set_err(l, LEDGER_EINVAL, "role must be boxoffice or admin");
    return 0;
}

/* A lookup by a token hash that cannot be stored finds nothing. */
static int hash_check(ledger *l, const char *token_hash, const char *what)
{
    if (!ledger__text_ok(token_hash, LEDGER_TOKEN_HASH_MAX))
        return ledger__set_err(l, LEDGER_ENOTFOUND, "no such %s", what);
    return 0;
}

int ledger_user_add(ledger *l, const char *name, const char *role, const char *pwhash)
{
    int rc = name_role_check(l, "user", name, LEDGER_NAME_MAX, role);
    if (rc)
        return rc;
    if (!ledger__text_ok(pwhash, sizeof(((ledger_user *)0)->pwhash) - 1))
        return ledger__set_err(l, LEDGER_EINVAL, "bad password hash");
    return LEDGER__CALL(l, user_add, name, role, pwhash);
}

int ledger_user_get(ledger *l, const char *name, ledger_user *out)
{
    memset(out, 0, sizeof(*out));
    if (!ledger_valid_name(name, LEDGER_NAME_MAX))
        return ledger__set_err(l, LEDGER_ENOTFOUND, "no such user");
    return LEDGER__CALL(l, user_get, name, out);
}

int ledger_session_create(ledger *l, int64_t user_id, const char *token_hash, int64_t expires_at_ms)
{
    if (!ledger__text_ok(token_hash, LEDGER_TOKEN_HASH_MAX))
        return ledger__set_err(l, LEDGER_EINVAL, "bad token hash");
    return LEDGER__CALL(l, session_create, user_id, token_hash, expires_at_ms);
}

int ledger_session_lookup(ledger *l, const char *token_hash, int64_t now_ms, ledger_user *out)
{
    int rc;
    memset(out, 0, sizeof(*out));
    rc = hash_check(l, token_hash, "session");
    if (rc)
        return rc;
    return LEDGER__CALL(l, session_lookup, token_hash, now_ms, out);
}

int ledger_session_delete(ledger *l, const char *token_hash)
{
    int rc = hash_check(l, token_hash, "session");
    if (rc)
        return rc;
    return LEDGER__CALL(l, session_delete, token_hash);
}

int ledger_token_add(ledger *l, const char *name, const char *role, const char *token_hash)
{
    int rc = name_role_check(l, "token", name, LEDGER_TOKEN_NAME_MAX, role);
    if (rc)
        return rc;
    if (!ledger__text_ok(token_hash, LEDGER_TOKEN_HASH_MAX))
        return ledger__set_err(l, LEDGER_EINVAL, "bad token hash");
    return LEDGER__CALL(l, token_add, name, role, token_hash);
}

int ledger_token_lookup(ledger *l, const char *token_hash, ledger_user *out)
{
    int rc;
    memset(out, 0, sizeof(*out));
    rc = hash_check(l, token_hash, "token");
    if (rc)
        return rc;
    return LEDGER__CALL(l, token_lookup, token_hash, out);
}
