/*
 * webhook_sign.c - see webhook_sign.h.
 */
#include "webhook_sign.h"

#include <sodium.h>

#include <stdio.h>
#include <string.h>

void wh_secret_new(char out[WH_SECRET_LEN + 1])
{
    unsigned char raw[WH_SECRET_BYTES];
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, WH_SECRET_PREFIX, 6);
    sodium_bin2base64(out + 6, WH_SECRET_LEN + 1 - 6, raw, sizeof(raw),
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof(raw));
}

int wh_secret_key(const char *secret, unsigned char key[WH_KEY_MAX])
{
    const char *b64 = secret;
    size_t len = 0;
    if (!secret)
        return -1;
    if (strncmp(b64, WH_SECRET_PREFIX, 6) == 0)
        b64 += 6;
    if (!*b64 || sodium_base642bin(key, WH_KEY_MAX, b64, strlen(b64), NULL, &len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    return (int)len;
}

int wh_sign(const char *secret, const char *msg_id, int64_t timestamp_s, const char *body,
            size_t len, char out[WH_SIGNATURE_LEN + 1])
{
    unsigned char key[WH_KEY_MAX], mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    char ts[24];
    int klen = wh_secret_key(secret, key);

    if (klen < 0)
        return -1;
    snprintf(ts, sizeof(ts), "%lld", (long long)timestamp_s);
    crypto_auth_hmacsha256_init(&st, key, (size_t)klen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, WH_SIGNATURE_LEN + 1 - 3, mac, sizeof(mac),
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof(key));
    return 0;
}

uint64_t wh_backoff_ms(unsigned base_ms, int attempt, uint32_t rnd)
{
    uint64_t d = base_ms ? base_ms : 1;
    int i;
    for (i = 1; i < attempt && d < WH_BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > WH_BACKOFF_CAP_MS)
        d = WH_BACKOFF_CAP_MS;
    return d - d / 2 + rnd % (d / 2 + 1);
}
