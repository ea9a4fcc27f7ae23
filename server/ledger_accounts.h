/*
 * ledger_accounts.h - who may act on the ledger: staff users (name, role,
 * password hash), their login sessions and API tokens. Part of the ledger
 * interface, on the same handle as ledger.h (which opens it), but apart from
 * bookings, shows and the audit trail: neither header includes the other, so
 * a caller includes this one when it deals with staff. The shared types
 * (ledger_user, the limits, the LEDGER_E* codes) are in ledger_types.h.
 *
 * Not here: password hashing and token generation (auth.h). Sessions and
 * tokens are stored by the hash of the token only.
 */
#ifndef SEATMAP_LEDGER_ACCOUNTS_H
#define SEATMAP_LEDGER_ACCOUNTS_H

#include "ledger_types.h"

#include <stddef.h>
#include <stdint.h>

/* 1 if role is one the ledger accepts ("boxoffice" or "admin"), else 0
 * (NULL included). */
int ledger_valid_role(const char *role);
/* 1 if s is a staff or token name: [A-Za-z0-9_.@-]{1,max}, else 0 (NULL
 * included). Names end up in audit rows and "by" fields, so no spaces or
 * control characters. Users take LEDGER_NAME_MAX, tokens
 * LEDGER_TOKEN_NAME_MAX. */
int ledger_valid_name(const char *s, size_t max);

/* role must be "boxoffice" or "admin" (LEDGER_EINVAL otherwise). Adding an
 * existing name replaces its password and role (so `user add` can reset),
 * and ends that user's open sessions. */
int ledger_user_add(ledger *l, const char *name, const char *role, const char *pwhash);
/* Fills *out or LEDGER_ENOTFOUND. */
int ledger_user_get(ledger *l, const char *name, ledger_user *out);

/* Creates a session for user_id (LEDGER_ENOTFOUND if there is no such
 * user, LEDGER_EEXISTS if the hash is taken). Forgets expired sessions. */
int ledger_session_create(ledger *l, int64_t user_id, const char *token_hash,
                          int64_t expires_at_ms);
/* Finds a live session (expires_at > now_ms) and its user; LEDGER_ENOTFOUND. */
int ledger_session_lookup(ledger *l, const char *token_hash, int64_t now_ms, ledger_user *out);
/* Ends a session; LEDGER_ENOTFOUND if there was none. */
int ledger_session_delete(ledger *l, const char *token_hash);
/* role as for users; LEDGER_EEXISTS if the name is taken. */
int ledger_token_add(ledger *l, const char *name, const char *role, const char *token_hash);
/* The token's user ("token:NAME", id 0, no pwhash) or LEDGER_ENOTFOUND. */
int ledger_token_lookup(ledger *l, const char *token_hash, ledger_user *out);

#endif
