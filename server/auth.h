/*
 * auth.h - secrets and credentials, all through libsodium: password hashing
 * (Argon2id via crypto_pwhash_str), random tokens, token hashes for storage,
 * buyer tokens, and constant-time comparison.
 *
 * auth_password_hash and auth_password_verify are deliberately slow (tens of
 * milliseconds): never call them on the event loop; run them on the libuv
 * thread pool (uv_queue_work). Everything else here is fast.
 */
#ifndef SEATMAP_AUTH_H
#define SEATMAP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_PWHASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define AUTH_TOKEN_HEX 64   /* 32 random bytes as hex */
#define AUTH_HASH_HEX 64    /* BLAKE2b-256 as hex */
#define AUTH_BUYER_LEN 48   /* 16 random bytes + 8-byte MAC, as hex */
#define AUTH_BUYER_ID_LEN 32
#define AUTH_SECRET_BYTES 32

/* Must be called once before anything else; 0 or -1. */
int auth_init(void);

/* out receives a NUL-terminated Argon2id string. 0 or -1 (out of memory). */
int auth_password_hash(const char *password, char out[AUTH_PWHASH_MAX]);
/* 0 when password matches the stored hash, -1 otherwise. */
int auth_password_verify(const char *stored_hash, const char *password);

/* 32 random bytes as 64 hex characters plus NUL. */
void auth_random_token(char out[AUTH_TOKEN_HEX + 1]);
/* BLAKE2b-256 of a token as hex: what we store instead of the token. */
void auth_token_hash(const char *token, char out[AUTH_HASH_HEX + 1]);

/*
 * Buyer tokens are minted by the server: 16 random bytes and a keyed MAC of
 * them under the server secret (shared by every process through the
 * database), so any process can tell a token it issued from a made-up one
 * without storing tokens. The buyer id derived from a token is what Redis
 * and other processes see; the token itself stays a secret of the browser.
 */
void auth_buyer_mint(const uint8_t secret[AUTH_SECRET_BYTES], char out[AUTH_BUYER_LEN + 1]);
/* 0 when token is well-formed and was minted with this secret, else -1. */
int auth_buyer_verify(const uint8_t secret[AUTH_SECRET_BYTES], const char *token);
/* Public id of a buyer token (hash prefix as hex), for Redis and pub/sub. */
void auth_buyer_id(const char *token, char out[AUTH_BUYER_ID_LEN + 1]);

/* Constant-time equality of two NUL-terminated strings; 1 when equal. */
int auth_str_equal(const char *a, const char *b);

/* 6-character hold reference from an alphabet without look-alikes
 * (no 0/O, 1/I/L, 2/Z, 5/S, 8/B). */
#define AUTH_REF_LEN 6
void auth_random_ref(char out[AUTH_REF_LEN + 1]);

#endif
