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

/*
 * Hold refs are made at thousands a second, three candidates per hold. Their
 * randomness comes from a pool: 4 KiB of ChaCha20 keystream
 * (randombytes_buf_deterministic) under a 256-bit key that is replaced at
 * every refill by the first 32 bytes of the keystream itself ("fast key
 * erasure": a key, once used, is gone, so an old pool cannot be rebuilt from
 * a later state). The key comes from the kernel (randombytes_buf: getrandom)
 * once, and again every REF_RESEED_EVERY refills.
 *
 * Measured (bench/per_op.mjs): randombytes_buf asks getrandom for at most 256
 * bytes a call, so refilling 4 KiB from it cost 16 syscalls per ~200 holds;
 * now one getrandom serves ~50,000 holds.
 *
 * The pool is used only from the event loop thread. A forked child (--workers)
 * forgets key and pool (pthread_atfork, registered in auth_init) and draws a
 * key of its own, so no two processes hand out the same refs.
 */
#define REF_KEY_BYTES 32
#define REF_RESEED_EVERY 256

static unsigned char ref_pool[4096];
static size_t ref_pool_left; /* unused bytes, at ref_pool[REF_KEY_BYTES..] */
static unsigned char ref_key[randombytes_SEEDBYTES];
static unsigned ref_refills; /* since the key came from the kernel; 0: none yet */

_Static_assert(REF_KEY_BYTES == randombytes_SEEDBYTES, "the key is a ChaCha20 key");

static void ref_pool_forget(void)
{
    sodium_memzero(ref_pool, sizeof(ref_pool));
    sodium_memzero(ref_key, sizeof(ref_key));
    ref_pool_left = 0;
    ref_refills = 0;
}

static void ref_pool_refill(void)
{
    if (ref_refills % REF_RESEED_EVERY == 0)
        randombytes_buf(ref_key, sizeof(ref_key));
    ref_refills++;
    randombytes_buf_deterministic(ref_pool, sizeof(ref_pool), ref_key);
    memcpy(ref_key, ref_pool, REF_KEY_BYTES);
    sodium_memzero(ref_pool, REF_KEY_BYTES);
    ref_pool_left = sizeof(ref_pool) - REF_KEY_BYTES;
}

static unsigned char pool_byte(void)
{
    unsigned char b;
    if (!ref_pool_left)
        ref_pool_refill();
    b = ref_pool[REF_KEY_BYTES + --ref_pool_left];
    ref_pool[REF_KEY_BYTES + ref_pool_left] = 0; /* used once */
    return b;
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
