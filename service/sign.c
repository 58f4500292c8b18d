/* sign — see sign.h. HMAC through EVP_MAC so that the body is fed as it
 * is, without copying it next to the id and timestamp. */
#include "sign.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "b64.h"

#define PREFIX      "whsec_"
#define PREFIX_LEN  (sizeof(PREFIX) - 1)
#define GEN_BYTES   32
#define MAC_LEN     32                 /* SHA-256 */
#define MAC_B64_LEN 44                 /* base64 of 32 bytes */

int
sign_secret_generate(char *out)
{
	unsigned char raw[GEN_BYTES];
	char *b;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	b = b64_encode(raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	if (b == NULL)
		return -1;
	snprintf(out, SIGN_SECRET_MAX, PREFIX "%s", b);
	OPENSSL_cleanse(b, strlen(b));
	free(b);
	return 0;
}

int
sign_secret_decode(const char *secret, unsigned char key[SIGN_KEY_MAX])
{
	size_t len, n;

	if (secret == NULL || strncmp(secret, PREFIX, PREFIX_LEN) != 0)
		return -1;
	secret += PREFIX_LEN;
	len = strlen(secret);
	/* outcap SIGN_KEY_MAX: a longer key fails in the decoder itself. */
	if (len == 0 || b64_decode(secret, len, key, SIGN_KEY_MAX, &n) < 0)
		return -1;
	if (n < SIGN_KEY_MIN)
		return -1;
	return (int)n;
}

/* HMAC-SHA256(key, id "." timestamp "." body) into mac[MAC_LEN]. */
static int
mac_message(const unsigned char *key, size_t keylen, const char *msg_id,
    long long timestamp, const void *body, size_t bodylen, unsigned char *mac)
{
	char ts[32];
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t maclen = 0;
	int tslen, rc = -1;

	tslen = snprintf(ts, sizeof(ts), ".%lld.", timestamp);
	if (tslen < 0 || (size_t)tslen >= sizeof(ts))
		goto fail;
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (m == NULL)
		goto fail;
	ctx = EVP_MAC_CTX_new(m);
	if (ctx == NULL)
		goto fail;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tslen) != 1 ||
	    (bodylen > 0 && EVP_MAC_update(ctx, body, bodylen) != 1) ||
	    EVP_MAC_final(ctx, mac, &maclen, MAC_LEN) != 1 || maclen != MAC_LEN)
		goto fail;
	rc = 0;
fail:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return rc;
}

int
sign_standard(const unsigned char *key, size_t keylen, const char *msg_id,
    long long timestamp, const void *body, size_t bodylen, char *out)
{
	unsigned char mac[MAC_LEN];
	char *b;

	if (mac_message(key, keylen, msg_id, timestamp, body, bodylen, mac) < 0)
		return -1;
	b = b64_encode(mac, sizeof(mac));
	if (b == NULL)
		return -1;
	snprintf(out, SIGN_SIG_MAX, "v1,%s", b);
	free(b);
	return 0;
}

int
sign_verify(const unsigned char *key, size_t keylen, const char *msg_id,
    long long timestamp, const void *body, size_t bodylen, const char *header)
{
	char want[SIGN_SIG_MAX];
	const char *p = header;
	size_t len;
	int found = 0;

	if (header == NULL || sign_standard(key, keylen, msg_id, timestamp, body, bodylen, want) < 0)
		return 0;
	/* Every entry is looked at, even after a match: the time taken then
	 * depends on the header's shape only, not on which entry matched. */
	while (*p != '\0') {
		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (len == 3 + MAC_B64_LEN && strncmp(p, "v1,", 3) == 0 &&
		    CRYPTO_memcmp(p + 3, want + 3, MAC_B64_LEN) == 0)
			found = 1;
		p += len;
	}
	return found;
}
