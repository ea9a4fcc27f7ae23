/*
 * webhook_sign.h - the Standard Webhooks 1.0 pieces that need no network:
 * secrets (whsec_ + base64 of WH_SECRET_BYTES random bytes), the signature
 * header (v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"> keyed with
 * the secret's decoded bytes), and the retry schedule. Pure functions over
 * libsodium, so tests/unit/test_webhook_sign.c checks them against the
 * specification's own example.
 *
 * Not here: HTTP (webhook.c), storage (ledger_webhooks.h).
 */
#ifndef SEATMAP_WEBHOOK_SIGN_H
#define SEATMAP_WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define WH_SECRET_BYTES 24
#define WH_SECRET_PREFIX "whsec_"
/* "whsec_" + base64 of 24 bytes (32 characters) + NUL */
#define WH_SECRET_LEN (6 + 32)
/* "v1," + base64 of 32 bytes (44 characters) + NUL */
#define WH_SIGNATURE_LEN (3 + 44)
/* The longest decoded key a stored secret may have. */
#define WH_KEY_MAX 64
/* Retries never wait longer than this. */
#define WH_BACKOFF_CAP_MS (10 * 60 * 1000)

/* A fresh secret into out (NUL-terminated). libsodium must be initialised. */
void wh_secret_new(char out[WH_SECRET_LEN + 1]);

/* The key of a secret: the base64 after "whsec_" (the prefix is optional,
 * as in the reference libraries), decoded into key. Returns its length, or
 * -1 when it is not base64 or longer than WH_KEY_MAX bytes. */
int wh_secret_key(const char *secret, unsigned char key[WH_KEY_MAX]);

/* The webhook-signature header value for one attempt into out. 0, or -1
 * for a bad secret. */
int wh_sign(const char *secret, const char *msg_id, int64_t timestamp_s, const char *body,
            size_t len, char out[WH_SIGNATURE_LEN + 1]);

/* The wait before retry number `attempt` (1 = after the first failure):
 * base_ms * 2^(attempt-1), capped at WH_BACKOFF_CAP_MS, then "equal jitter":
 * half of it fixed plus a random part of up to the other half taken from rnd
 * (any value, e.g. randombytes_random()). Never 0 for base_ms > 0. */
uint64_t wh_backoff_ms(unsigned base_ms, int attempt, uint32_t rnd);

#endif
