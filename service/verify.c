/* verify — see verify.h. OpenSSL does the cryptography; jansson reads the
 * JWT's JSON parts; b64.c decodes strictly (one spelling per byte string). */
#include "verify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "b64.h"
#include "key.h"           /* odata_key_hex_value */
#include "sign.h"

#define DIGEST_LEN   32            /* SHA-256 */
#define MAC_MAX      32            /* SHA-256 is the longest MAC here */
#define JWT_SIG_MAX  1024          /* RSA-8192 */
#define RSA_BITS_MIN 2048
#define KEY_PREFIX_B64 "base64:"

static const char *const mode_names[] = {
	[VERIFY_API_KEY] = "API_KEY", [VERIFY_BASIC] = "BASIC",
	[VERIFY_HMAC_SHA256] = "HMAC_SHA256", [VERIFY_HMAC_SHA1] = "HMAC_SHA1",
	[VERIFY_STANDARD_WEBHOOKS] = "STANDARD_WEBHOOKS", [VERIFY_JWT_RS256] = "JWT_RS256",
};

int
verify_mode_parse(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(mode_names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *
verify_default_header(enum verify_mode m)
{
	switch (m) {
	case VERIFY_API_KEY:
		return "X-API-Key";
	case VERIFY_HMAC_SHA256:
		return "X-Signature-SHA256";
	case VERIFY_HMAC_SHA1:
		return "X-Gigya-HMAC-SHA1";
	case VERIFY_JWT_RS256:
		return "x-gigya-sig-jwt";
	case VERIFY_BASIC:
	case VERIFY_STANDARD_WEBHOOKS:
		break;
	}
	return NULL;
}

const char *
verify_result_name(enum verify_result r)
{
	static const char *const names[] = {
		[VERIFY_OK] = "ok", [VERIFY_MISSING] = "missing", [VERIFY_MALFORMED] = "malformed",
		[VERIFY_MISMATCH] = "mismatch", [VERIFY_STALE] = "stale",
		[VERIFY_BAD_SECRET] = "unusable secret",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

/* ---- helpers ------------------------------------------------------------ */

static int
sha256(const void *data, size_t len, unsigned char out[DIGEST_LEN])
{
	unsigned int n = 0;

	return EVP_Digest(len ? data : "", len, out, &n, EVP_sha256(), NULL) == 1 &&
	    n == DIGEST_LEN ? 0 : -1;
}

/* Equal secrets of any length, compared as digests: constant time, and the
 * time says nothing about the secret's length. An empty secret never
 * matches. */
static bool
same_secret(const void *secret, size_t secret_len, const void *given, size_t given_len)
{
	unsigned char a[DIGEST_LEN], b[DIGEST_LEN];

	if (secret_len == 0 || sha256(secret, secret_len, a) < 0 || sha256(given, given_len, b) < 0)
		return false;
	return CRYPTO_memcmp(a, b, DIGEST_LEN) == 0;
}

/* Exactly 2 * outlen hex digits, either case. */
static int
hex_decode(const char *s, size_t n, unsigned char *out, size_t outlen)
{
	size_t i;

	if (n != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		int hi = odata_key_hex_value((unsigned char)s[2 * i]);
		int lo = odata_key_hex_value((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* base64url without padding (JWS, RFC 7515); with url_only false, either
 * alphabet (not mixed) with or without padding (a JWT's sub). */
static int
b64_any_decode(const char *s, size_t n, bool url_only, unsigned char *out, size_t cap,
    size_t *outlen)
{
	size_t i, m, pad = 0, nurl = 0, nstd = 0;
	char *t;
	int rc;

	while (!url_only && pad < 2 && n > 0 && s[n - 1] == '=')
		n--, pad++;
	if (n == 0 || n % 4 == 1 || n > VERIFY_TOKEN_MAX || memchr(s, '=', n) != NULL)
		return -1;
	for (i = 0; i < n; i++) {
		nurl += s[i] == '-' || s[i] == '_';
		nstd += s[i] == '+' || s[i] == '/';
	}
	if ((url_only && nstd) || (nurl && nstd) || (t = malloc(n + 3)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	for (m = n; m % 4; m++)
		t[m] = '=';
	rc = b64_decode(t, m, out, cap, outlen);
	free(t);
	return rc;
}

/* ---- API key and Basic ---------------------------------------------------- */

enum verify_result
verify_api_key(const char *secret, size_t secret_len, const char *given)
{
	if (given == NULL)
		return VERIFY_MISSING;
	if (secret_len == 0)
		return VERIFY_BAD_SECRET;
	return same_secret(secret, secret_len, given, strlen(given)) ? VERIFY_OK : VERIFY_MISMATCH;
}

enum verify_result
verify_basic(const char *secret, size_t secret_len, const char *authorization)
{
	const char *p;
	unsigned char *cred;
	size_t n, len;
	enum verify_result r;

	if (authorization == NULL)
		return VERIFY_MISSING;
	if (strncasecmp(authorization, "Basic ", 6) != 0)
		return VERIFY_MALFORMED;
	p = authorization + 6;
	p += strspn(p, " ");
	n = strlen(p);
	if (n == 0 || n > VERIFY_TOKEN_MAX || (cred = malloc(b64_decoded_max(n) + 1)) == NULL)
		return VERIFY_MALFORMED;
	if (b64_decode(p, n, cred, b64_decoded_max(n), &len) < 0 || memchr(cred, ':', len) == NULL)
		r = VERIFY_MALFORMED;
	else if (secret_len == 0)
		r = VERIFY_BAD_SECRET;
	else
		r = same_secret(secret, secret_len, cred, len) ? VERIFY_OK : VERIFY_MISMATCH;
	OPENSSL_clear_free(cred, b64_decoded_max(n) + 1);
	return r;
}

/* ---- HMAC ------------------------------------------------------------------ */

/* The signature header's bytes: the mode's optional prefix, then hex or
 * base64 of exactly mdlen bytes. */
static enum verify_result
hmac_given(const char *sig, const char *prefix, enum verify_encoding enc, size_t mdlen,
    unsigned char *out)
{
	size_t n, got = 0;

	if (sig == NULL)
		return VERIFY_MISSING;
	if (strncasecmp(sig, prefix, strlen(prefix)) == 0)
		sig += strlen(prefix);
	n = strlen(sig);
	if (enc == VERIFY_HEX)
		return hex_decode(sig, n, out, mdlen) == 0 ? VERIFY_OK : VERIFY_MALFORMED;
	return b64_decode(sig, n, out, MAC_MAX, &got) == 0 && got == mdlen ?
	    VERIFY_OK : VERIFY_MALFORMED;
}

/* The HMAC key: the secret's bytes, or "base64:<b64>" decoded (senders
 * such as SAP Customer Data Cloud hand out base64 secrets used decoded). */
static unsigned char *
hmac_key(const char *secret, size_t secret_len, size_t *keylen)
{
	size_t plen = strlen(KEY_PREFIX_B64), cap;
	unsigned char *key;

	if (secret_len < plen || strncmp(secret, KEY_PREFIX_B64, plen) != 0) {
		if (secret_len == 0 || (key = malloc(secret_len)) == NULL)
			return NULL;
		memcpy(key, secret, secret_len);
		*keylen = secret_len;
		return key;
	}
	cap = b64_decoded_max(secret_len - plen) + 1;
	if ((key = malloc(cap)) == NULL)
		return NULL;
	if (b64_decode(secret + plen, secret_len - plen, key, cap, keylen) < 0 || *keylen == 0) {
		OPENSSL_clear_free(key, cap);
		return NULL;
	}
	return key;
}

enum verify_result
verify_hmac(enum verify_mode m, const char *secret, size_t secret_len, enum verify_encoding enc,
    const char *sig, const void *body, size_t body_len)
{
	const EVP_MD *md = m == VERIFY_HMAC_SHA1 ? EVP_sha1() : EVP_sha256();
	size_t mdlen = m == VERIFY_HMAC_SHA1 ? 20 : 32, keylen = 0;
	unsigned char given[MAC_MAX], mac[EVP_MAX_MD_SIZE], *key;
	unsigned int maclen = 0;
	enum verify_result r;

	r = hmac_given(sig, m == VERIFY_HMAC_SHA1 ? "sha1=" : "sha256=", enc, mdlen, given);
	if (r != VERIFY_OK)
		return r;
	if ((key = hmac_key(secret, secret_len, &keylen)) == NULL)
		return VERIFY_BAD_SECRET;
	if (keylen > INT32_MAX ||
	    HMAC(md, key, (int)keylen, body_len ? body : (const void *)"", body_len, mac, &maclen) == NULL ||
	    maclen != mdlen)
		r = VERIFY_BAD_SECRET;
	else
		r = CRYPTO_memcmp(mac, given, mdlen) == 0 ? VERIFY_OK : VERIFY_MISMATCH;
	OPENSSL_clear_free(key, keylen);
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

/* ---- Standard Webhooks ------------------------------------------------------ */

/* Seconds since the epoch: 1 to 18 digits, nothing else. */
static int
parse_seconds(const char *s, long long *out)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 18 || s[n] != '\0')
		return -1;
	*out = strtoll(s, NULL, 10);
	return 0;
}

static bool
within(long long t, long long now, int tolerance_s)
{
	return t >= now - tolerance_s && t <= now + tolerance_s;
}

enum verify_result
verify_standard(const char *secret, const char *id, const char *timestamp, const char *signature,
    const void *body, size_t body_len, long long now, int tolerance_s)
{
	unsigned char key[SIGN_KEY_MAX];
	long long ts;
	int keylen, ok;

	if (id == NULL || timestamp == NULL || signature == NULL)
		return VERIFY_MISSING;
	if (*id == '\0' || parse_seconds(timestamp, &ts) < 0)
		return VERIFY_MALFORMED;
	if (!within(ts, now, tolerance_s))
		return VERIFY_STALE;
	if ((keylen = sign_secret_decode(secret, key)) < 0)
		return VERIFY_BAD_SECRET;
	ok = sign_verify(key, (size_t)keylen, id, ts, body, body_len, signature);
	OPENSSL_cleanse(key, sizeof(key));
	return ok == 1 ? VERIFY_OK : VERIFY_MISMATCH;
}

/* ---- JWT RS256 ----------------------------------------------------------- */

struct jwt {
	const char *part[3];       /* header, payload, signature (base64url) */
	size_t len[3];
};

/* "[Bearer ]h.p.s", none empty, nothing more. */
static int
jwt_split(const char *token, struct jwt *j)
{
	const char *p = token;
	int i;

	if (strncasecmp(p, "Bearer ", 7) == 0)
		p += 7 + strspn(p + 7, " ");
	if (strlen(p) > VERIFY_TOKEN_MAX)
		return -1;
	for (i = 0; i < 3; i++) {
		size_t n = strcspn(p, ".");

		if (n == 0 || (i < 2 && p[n] != '.') || (i == 2 && p[n] != '\0'))
			return -1;
		j->part[i] = p;
		j->len[i] = n;
		p += n + 1;
	}
	return 0;
}

/* A base64url part holding a JSON object, or NULL. */
static json_t *
jwt_json(const struct jwt *j, int i)
{
	unsigned char *buf;
	size_t cap = b64_decoded_max(j->len[i] + 3) + 1, n;
	json_t *o = NULL;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	if (b64_any_decode(j->part[i], j->len[i], true, buf, cap, &n) == 0)
		o = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* Only RS256, and no critical extension we would have to understand
 * (RFC 7515 4.1.11): "none", HS256 (which would turn the public key into
 * an HMAC key) and everything else are refused before any cryptography. */
static enum verify_result
jwt_check_header(const struct jwt *j)
{
	json_t *h = jwt_json(j, 0);
	const char *alg;
	enum verify_result r;

	if (h == NULL)
		return VERIFY_MALFORMED;
	alg = json_string_value(json_object_get(h, "alg"));
	r = alg && strcmp(alg, "RS256") == 0 && json_object_get(h, "crit") == NULL ?
	    VERIFY_OK : VERIFY_MISMATCH;
	json_decref(h);
	return r;
}

static EVP_PKEY *
load_rsa_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	if (k && (!EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_get_bits(k) < RSA_BITS_MIN)) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 over "header.payload" as sent. */
static enum verify_result
jwt_check_signature(const struct jwt *j, const char *pem)
{
	unsigned char sig[JWT_SIG_MAX];
	size_t siglen;
	EVP_PKEY *key;
	EVP_MD_CTX *ctx = NULL;
	enum verify_result r = VERIFY_MISMATCH;

	if (b64_any_decode(j->part[2], j->len[2], true, sig, sizeof(sig), &siglen) < 0)
		return VERIFY_MALFORMED;
	if ((key = load_rsa_key(pem)) == NULL) {
		r = VERIFY_BAD_SECRET;
		goto done;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1)
		goto done;
	/* header and payload are adjacent in the token: one span with the dot */
	if (EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)j->part[0],
	    j->len[0] + 1 + j->len[1]) == 1)
		r = VERIFY_OK;
done:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	ERR_clear_error();    /* failures leave nothing for this thread's next caller */
	return r;
}

/* The digest in sub: 64 hex digits, or base64 / base64url of 32 bytes. */
static int
sub_digest(const char *sub, unsigned char out[DIGEST_LEN])
{
	size_t n = strlen(sub), got = 0;

	if (n == 2 * DIGEST_LEN)
		return hex_decode(sub, n, out, DIGEST_LEN);
	return b64_any_decode(sub, n, false, out, DIGEST_LEN, &got) == 0 && got == DIGEST_LEN ? 0 : -1;
}

/* A numeric claim: absent (1), a number (0), or anything else (-1). */
static int
claim_time(json_t *p, const char *name, long long *out)
{
	json_t *v = json_object_get(p, name);
	double d;

	if (v == NULL)
		return 1;
	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (d < 0 || d > 1e15)
		return -1;
	*out = (long long)d;
	return 0;
}

static enum verify_result
jwt_check_claims(json_t *p, const void *body, size_t body_len, long long now, int tol)
{
	unsigned char want[DIGEST_LEN], got[DIGEST_LEN];
	const char *sub = json_string_value(json_object_get(p, "sub"));
	long long exp = 0, nbf = 0, iat = 0;
	int has_exp = claim_time(p, "exp", &exp), has_nbf = claim_time(p, "nbf", &nbf),
	    has_iat = claim_time(p, "iat", &iat);

	if (sub == NULL || has_exp < 0 || has_nbf < 0 || has_iat < 0)
		return VERIFY_MALFORMED;
	if ((has_exp == 0 && now > exp + tol) || (has_nbf == 0 && now + tol < nbf) ||
	    (has_iat == 0 && !within(iat, now, tol)))
		return VERIFY_STALE;
	if (sub_digest(sub, got) < 0)
		return VERIFY_MISMATCH;
	if (sha256(body, body_len, want) < 0)
		return VERIFY_MISMATCH;
	return CRYPTO_memcmp(want, got, DIGEST_LEN) == 0 ? VERIFY_OK : VERIFY_MISMATCH;
}

enum verify_result
verify_jwt_rs256(const char *pem, const char *token, const void *body, size_t body_len,
    long long now, int tolerance_s)
{
	struct jwt j;
	json_t *payload;
	enum verify_result r;

	if (token == NULL)
		return VERIFY_MISSING;
	if (jwt_split(token, &j) < 0)
		return VERIFY_MALFORMED;
	if ((r = jwt_check_header(&j)) != VERIFY_OK)
		return r;
	if (pem == NULL || *pem == '\0')
		return VERIFY_BAD_SECRET;
	/* nothing of the payload is believed before the signature is */
	if ((r = jwt_check_signature(&j, pem)) != VERIFY_OK)
		return r;
	if ((payload = jwt_json(&j, 1)) == NULL)
		return VERIFY_MALFORMED;
	r = jwt_check_claims(payload, body, body_len, now, tolerance_s);
	json_decref(payload);
	return r;
}

/* ---- one request ------------------------------------------------------------ */

enum verify_result
verify_request(enum verify_mode m, const char *secret, size_t secret_len, enum verify_encoding enc,
    const struct verify_input *in)
{
	switch (m) {
	case VERIFY_API_KEY:
		return verify_api_key(secret, secret_len, in->header ? in->header : in->query_key);
	case VERIFY_BASIC:
		return verify_basic(secret, secret_len, in->authorization);
	case VERIFY_HMAC_SHA256:
	case VERIFY_HMAC_SHA1:
		return verify_hmac(m, secret, secret_len, enc, in->header, in->body, in->body_len);
	case VERIFY_STANDARD_WEBHOOKS:
		return verify_standard(secret, in->wh_id, in->wh_timestamp, in->wh_signature,
		    in->body, in->body_len, in->now, in->tolerance_s);
	case VERIFY_JWT_RS256:
		return verify_jwt_rs256(secret, in->header, in->body, in->body_len, in->now,
		    in->tolerance_s);
	}
	return VERIFY_BAD_SECRET;
}
