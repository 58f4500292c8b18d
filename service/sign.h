/* sign — Standard Webhooks signatures (https://www.standardwebhooks.com):
 * webhook-signature = "v1," base64(HMAC-SHA256(key, id "." timestamp "." body)),
 * the key being the base64-decoded part of the secret after "whsec_". */
#ifndef WEBHOOKD_SIGN_H
#define WEBHOOKD_SIGN_H

#include <stddef.h>

#define SIGN_SECRET_MAX   128   /* "whsec_" + base64 of at most 64 bytes, NUL */
#define SIGN_KEY_MIN      24
#define SIGN_KEY_MAX      64
#define SIGN_SIG_MAX      64    /* "v1," + 44 base64 characters, NUL */

/* A new secret, "whsec_" + base64 of 32 random bytes (RAND_bytes).
 * out must hold SIGN_SECRET_MAX bytes. Returns 0, -1 when the RNG fails. */
int sign_secret_generate(char *out);

/* Decode "whsec_<base64>" into key; 24..64 bytes. Returns the key length,
 * or -1 (wrong prefix, bad base64, length out of range). */
int sign_secret_decode(const char *secret, unsigned char key[SIGN_KEY_MAX]);

/* "v1,<base64 signature>" into out (SIGN_SIG_MAX bytes). Returns 0 or -1. */
int sign_standard(const unsigned char *key, size_t keylen, const char *msg_id,
                  long long timestamp, const void *body, size_t bodylen, char *out);

/* Verify a webhook-signature header value (space-separated "v1,<b64>"
 * entries; other versions ignored) in constant time per entry. Returns 1
 * when one entry matches, 0 when none does. For tests and inbound use. */
int sign_verify(const unsigned char *key, size_t keylen, const char *msg_id,
                long long timestamp, const void *body, size_t bodylen,
                const char *header);

#endif
