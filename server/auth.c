/*
 * auth.c - secrets and credentials through libsodium (see auth.h): Argon2id
 * password hashes, random tokens, BLAKE2b token hashes for storage, buyer
 * tokens authenticated by a keyed BLAKE2b MAC, and hold references.
 *
 * Not here: storing any of it (ledger.h), sessions and cookies (http), or
 * deciding who may do what. Nothing here keeps state besides libsodium's.
 */
#include "auth.h"

#include <sodium.h>

#include <pthread.h>
#include <string.h>

#define AUTH_TOKEN_BYTES 32
#define AUTH_HASH_BYTES 32
#define AUTH_BUYER_RANDOM_BYTES 16
#define AUTH_BUYER_MAC_BYTES 8
#define AUTH_BUYER_ID_BYTES 16
#define AUTH_REF_ALPHABET "ACDEFGHJKMNPQRTUVWXY34679"

_Static_assert(AUTH_PWHASH_MAX == crypto_pwhash_STRBYTES, "pwhash buffer size");
_Static_assert(AUTH_TOKEN_HEX == 2 * AUTH_TOKEN_BYTES, "token length");
_Static_assert(AUTH_HASH_HEX == 2 * AUTH_HASH_BYTES, "hash length");
_Static_assert(AUTH_BUYER_LEN == 2 * (AUTH_BUYER_RANDOM_BYTES + AUTH_BUYER_MAC_BYTES),
               "buyer token length");
_Static_assert(AUTH_BUYER_ID_LEN == 2 * AUTH_BUYER_ID_BYTES, "buyer id length");
_Static_assert(AUTH_SECRET_BYTES >= crypto_generichash_KEYBYTES_MIN &&
                   AUTH_SECRET_BYTES <= crypto_generichash_KEYBYTES_MAX,
               "secret fits a BLAKE2b key");

static void ref_pool_forget(void);

int auth_init(void)
{
    static int registered;
    /* A forked child (--workers) must not hand out the refs its parent's
     * pool would: it starts with an empty pool and draws its own. */
    if (!registered && pthread_atfork(NULL, NULL, ref_pool_forget) != 0)
        return -1;
    registered = 1;
    /* 0 on first success, 1 when already initialised, -1 on failure. */
    return sodium_init() < 0 ? -1 : 0;
}

int auth_password_hash(const char *password, char out[AUTH_PWHASH_MAX])
{
    if (!password)
        return -1;
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return -1;
    return 0;
}

int auth_password_verify(const char *stored_hash, const char *password)
{
    if (!stored_hash || !password || !memchr(stored_hash, '\0', AUTH_PWHASH_MAX))
        return -1;
    return crypto_pwhash_str_verify(stored_hash, password, strlen(password)) == 0 ? 0 : -1;
}

void auth_random_token(char out[AUTH_TOKEN_HEX + 1])
{
    unsigned char raw[AUTH_TOKEN_BYTES];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(out, AUTH_TOKEN_HEX + 1, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
}

void auth_token_hash(const char *token, char out[AUTH_HASH_HEX + 1])
{
    unsigned char h[AUTH_HASH_BYTES];
    crypto_generichash(h, sizeof(h), (const unsigned char *)token, token ? strlen(token) : 0, NULL,
                       0);
    sodium_bin2hex(out, AUTH_HASH_HEX + 1, h, sizeof(h));
}

/* The MAC of a buyer token's random part under the secret. BLAKE2b's
 * shortest output is 16 bytes, so we compute that and keep the first 8:
 * forging one still takes about 2^64 online guesses. */
static void buyer_mac(const uint8_t secret[AUTH_SECRET_BYTES],
                      const unsigned char random[AUTH_BUYER_RANDOM_BYTES],
                      unsigned char mac[AUTH_BUYER_MAC_BYTES])
{
    unsigned char full[crypto_generichash_BYTES_MIN];
    crypto_generichash(full, sizeof(full), random, AUTH_BUYER_RANDOM_BYTES, secret,
                       AUTH_SECRET_BYTES);
    memcpy(mac, full, AUTH_BUYER_MAC_BYTES);
    sodium_memzero(full, sizeof(full));
}

void auth_buyer_mint(const uint8_t secret[AUTH_SECRET_BYTES], char out[AUTH_BUYER_LEN + 1])
{
    unsigned char raw[AUTH_BUYER_RANDOM_BYTES + AUTH_BUYER_MAC_BYTES];
    randombytes_buf(raw, AUTH_BUYER_RANDOM_BYTES);
    buyer_mac(secret, raw, raw + AUTH_BUYER_RANDOM_BYTES);
    sodium_bin2hex(out, AUTH_BUYER_LEN + 1, raw, sizeof(raw));
}

/* Minted tokens are lowercase hex; accepting uppercase too would give one
 * token two spellings, hence two buyer ids. */
static int lower_hex(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

int auth_buyer_verify(const uint8_t secret[AUTH_SECRET_BYTES], const char *token)
{
    unsigned char raw[AUTH_BUYER_RANDOM_BYTES + AUTH_BUYER_MAC_BYTES];
    unsigned char mac[AUTH_BUYER_MAC_BYTES];
    size_t len = 0;

    if (!token || strnlen(token, AUTH_BUYER_LEN + 1) != AUTH_BUYER_LEN ||
        !lower_hex(token, AUTH_BUYER_LEN))
        return -1;
    if (sodium_hex2bin(raw, sizeof(raw), token, AUTH_BUYER_LEN, NULL, &len, NULL) != 0 ||
        len != sizeof(raw))
        return -1;
    buyer_mac(secret, raw, mac);
    return sodium_memcmp(mac, raw + AUTH_BUYER_RANDOM_BYTES, AUTH_BUYER_MAC_BYTES) == 0 ? 0 : -1;
}

void auth_buyer_id(const char *token, char out[AUTH_BUYER_ID_LEN + 1])
{
    unsigned char h[AUTH_HASH_BYTES];
    crypto_generichash(h, sizeof(h), (const unsigned char *)token, token ? strlen(token) : 0, NULL,
                       0);
    sodium_bin2hex(out, AUTH_BUYER_ID_LEN + 1, h, AUTH_BUYER_ID_BYTES);
}

int auth_str_equal(const char *a, const char *b)
{
    size_t la, lb;
    if (!a || !b)
        return 0;
    la = strlen(a);
    lb = strlen(b);
    /* The length is not secret (tokens have fixed lengths); the bytes are. */
    if (la != lb)
        return 0;
    return sodium_memcmp(a, b, la) == 0;
}

/* Hold refs are made at thousands a second: draw their randomness from a
 * pool refilled 4 KiB at a time rather than a syscall per letter (one
 * getrandom per ~680 holds instead of six per hold). The pool is used only
 * from the event loop thread, and emptied in a forked child (auth_init). */
static unsigned char ref_pool[4096];
static size_t ref_pool_left;

static void ref_pool_forget(void)
{
    sodium_memzero(ref_pool, sizeof(ref_pool));
    ref_pool_left = 0;
}

static unsigned char pool_byte(void)
{
    if (!ref_pool_left) {
        randombytes_buf(ref_pool, sizeof(ref_pool));
        ref_pool_left = sizeof(ref_pool);
    }
    return ref_pool[--ref_pool_left];
}

void auth_random_ref(char out[AUTH_REF_LEN + 1])
{
    static const char alphabet[] = AUTH_REF_ALPHABET;
    const unsigned n = sizeof(alphabet) - 1;
    const unsigned limit = 256 - 256 % n; /* rejection keeps letters uniform */
    size_t i;
    for (i = 0; i < AUTH_REF_LEN; i++) {
        unsigned b;
        do
            b = pool_byte();
        while (b >= limit);
        out[i] = alphabet[b % n];
    }
    out[AUTH_REF_LEN] = '\0';
}
