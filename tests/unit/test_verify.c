/* Unit tests for verify: one table of requests per verification mode, good
 * and bad. HMAC cases use the well-known "quick brown fox" vectors and
 * Standard Webhooks its published vector; JWT tokens are made here with
 * RSA keys generated at start (nothing checked in). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "b64.h"
#include "verify.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- API key, Basic, HMAC: fixed vectors -------------------------------- */

#define FOX "The quick brown fox jumps over the lazy dog"
#define FOX256_HEX "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
#define FOX256_B64 "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
#define FOX1_HEX   "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
#define FOX1_B64   "3nybhbi3iqa8ino29wqQcBydtNk="
/* HMAC-SHA1 of FOX keyed with base64-decoded "c2VjcmV0LWtleS1ieXRlcw==" */
#define FOX1_B64KEY "bcsunVvTAz1MqBPsqZnJop5XA7g="

/* Standard Webhooks' published vector */
#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS     1614265330LL
#define SW_TS_S   "1614265330"
#define SW_BODY   "{\"test\": 2432232314}"
#define SW_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

struct vcase {
	const char *name;
	enum verify_mode mode;
	const char *secret;
	enum verify_encoding enc;
	struct verify_input in;
	enum verify_result want;
};

#define BODY(s) .body = s, .body_len = sizeof(s) - 1
#define SW(id, ts, sig, t) .wh_id = id, .wh_timestamp = ts, .wh_signature = sig, \
	BODY(SW_BODY), .now = t, .tolerance_s = 300

static const struct vcase cases[] = {
	/* API_KEY: header, else the apikey query parameter */
	{ "key header", VERIFY_API_KEY, "k-123", VERIFY_HEX, { .header = "k-123" }, VERIFY_OK },
	{ "key query", VERIFY_API_KEY, "k-123", VERIFY_HEX, { .query_key = "k-123" }, VERIFY_OK },
	{ "key wrong", VERIFY_API_KEY, "k-123", VERIFY_HEX, { .header = "k-124" }, VERIFY_MISMATCH },
	{ "key prefix", VERIFY_API_KEY, "k-123", VERIFY_HEX, { .header = "k-12" }, VERIFY_MISMATCH },
	{ "key longer", VERIFY_API_KEY, "k-123", VERIFY_HEX, { .header = "k-1234" }, VERIFY_MISMATCH },
	{ "key empty", VERIFY_API_KEY, "k-123", VERIFY_HEX, { .header = "" }, VERIFY_MISMATCH },
	{ "key header wins", VERIFY_API_KEY, "k-123", VERIFY_HEX,
	  { .header = "bad", .query_key = "k-123" }, VERIFY_MISMATCH },
	{ "key missing", VERIFY_API_KEY, "k-123", VERIFY_HEX, { .header = NULL }, VERIFY_MISSING },
	{ "key empty secret", VERIFY_API_KEY, "", VERIFY_HEX, { .header = "" }, VERIFY_BAD_SECRET },

	/* BASIC */
	{ "basic", VERIFY_BASIC, "alice:s3cret", VERIFY_HEX,
	  { .authorization = "Basic YWxpY2U6czNjcmV0" }, VERIFY_OK },
	{ "basic scheme case", VERIFY_BASIC, "alice:s3cret", VERIFY_HEX,
	  { .authorization = "basic YWxpY2U6czNjcmV0" }, VERIFY_OK },
	{ "basic wrong password", VERIFY_BASIC, "alice:s3cret", VERIFY_HEX,
	  { .authorization = "Basic YWxpY2U6d3Jvbmc=" }, VERIFY_MISMATCH },
	{ "basic no colon", VERIFY_BASIC, "alice:s3cret", VERIFY_HEX,
	  { .authorization = "Basic YWxpY2U=" }, VERIFY_MALFORMED },
	{ "basic truncated b64", VERIFY_BASIC, "alice:s3cret", VERIFY_HEX,
	  { .authorization = "Basic YWxpY2U6czNjcmV" }, VERIFY_MALFORMED },
	{ "basic bearer", VERIFY_BASIC, "alice:s3cret", VERIFY_HEX,
	  { .authorization = "Bearer YWxpY2U6czNjcmV0" }, VERIFY_MALFORMED },
	{ "basic missing", VERIFY_BASIC, "alice:s3cret", VERIFY_HEX, { 0 }, VERIFY_MISSING },

	/* HMAC_SHA256 */
	{ "sha256 hex", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = FOX256_HEX, BODY(FOX) }, VERIFY_OK },
	{ "sha256 HEX upper", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = "F7BC83F430538424B13298E6AA6FB143EF4D59A14946175997479DBC2D1A3CD8", BODY(FOX) },
	  VERIFY_OK },
	{ "sha256 prefixed", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = "sha256=" FOX256_HEX, BODY(FOX) }, VERIFY_OK },
	{ "sha256 base64", VERIFY_HMAC_SHA256, "key", VERIFY_BASE64,
	  { .header = FOX256_B64, BODY(FOX) }, VERIFY_OK },
	{ "sha256 wrong prefix", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = "sha1=" FOX256_HEX, BODY(FOX) }, VERIFY_MALFORMED },
	{ "sha256 truncated", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3c", BODY(FOX) },
	  VERIFY_MALFORMED },
	{ "sha256 base64 given hex", VERIFY_HMAC_SHA256, "key", VERIFY_BASE64,
	  { .header = FOX256_HEX, BODY(FOX) }, VERIFY_MALFORMED },
	{ "sha256 hex given base64", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = FOX256_B64, BODY(FOX) }, VERIFY_MALFORMED },
	{ "sha256 wrong key", VERIFY_HMAC_SHA256, "kez", VERIFY_HEX,
	  { .header = FOX256_HEX, BODY(FOX) }, VERIFY_MISMATCH },
	{ "sha256 body changed", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = FOX256_HEX, BODY(FOX ".") }, VERIFY_MISMATCH },
	{ "sha256 one digit off", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd9", BODY(FOX) },
	  VERIFY_MISMATCH },
	{ "sha256 sha1 mac", VERIFY_HMAC_SHA256, "key", VERIFY_HEX,
	  { .header = FOX1_HEX, BODY(FOX) }, VERIFY_MALFORMED },
	{ "sha256 missing", VERIFY_HMAC_SHA256, "key", VERIFY_HEX, { BODY(FOX) }, VERIFY_MISSING },

	/* HMAC_SHA1 (X-Gigya-HMAC-SHA1 style: base64) */
	{ "sha1 base64", VERIFY_HMAC_SHA1, "key", VERIFY_BASE64,
	  { .header = FOX1_B64, BODY(FOX) }, VERIFY_OK },
	{ "sha1 hex prefixed", VERIFY_HMAC_SHA1, "key", VERIFY_HEX,
	  { .header = "sha1=" FOX1_HEX, BODY(FOX) }, VERIFY_OK },
	{ "sha1 decoded key", VERIFY_HMAC_SHA1, "base64:c2VjcmV0LWtleS1ieXRlcw==", VERIFY_BASE64,
	  { .header = FOX1_B64KEY, BODY(FOX) }, VERIFY_OK },
	{ "sha1 key not decoded", VERIFY_HMAC_SHA1, "c2VjcmV0LWtleS1ieXRlcw==", VERIFY_BASE64,
	  { .header = FOX1_B64KEY, BODY(FOX) }, VERIFY_MISMATCH },
	{ "sha1 bad key base64", VERIFY_HMAC_SHA1, "base64:!!", VERIFY_BASE64,
	  { .header = FOX1_B64, BODY(FOX) }, VERIFY_BAD_SECRET },
	{ "sha1 wrong prefix", VERIFY_HMAC_SHA1, "key", VERIFY_HEX,
	  { .header = "sha256=" FOX1_HEX, BODY(FOX) }, VERIFY_MALFORMED },
	{ "sha1 base64 unpadded", VERIFY_HMAC_SHA1, "key", VERIFY_BASE64,
	  { .header = "3nybhbi3iqa8ino29wqQcBydtNk", BODY(FOX) }, VERIFY_MALFORMED },
	{ "sha1 sha256 mac", VERIFY_HMAC_SHA1, "key", VERIFY_BASE64,
	  { .header = FOX256_B64, BODY(FOX) }, VERIFY_MALFORMED },
	{ "sha1 wrong key", VERIFY_HMAC_SHA1, "KEY", VERIFY_BASE64,
	  { .header = FOX1_B64, BODY(FOX) }, VERIFY_MISMATCH },

	/* STANDARD_WEBHOOKS */
	{ "sw good", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, SW_SIG, SW_TS) }, VERIFY_OK },
	{ "sw within tolerance", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, SW_SIG, SW_TS + 300) }, VERIFY_OK },
	{ "sw several signatures", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, "v1,AAAA " SW_SIG, SW_TS) }, VERIFY_OK },
	{ "sw stale", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, SW_SIG, SW_TS + 301) }, VERIFY_STALE },
	{ "sw future", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, SW_SIG, SW_TS - 301) }, VERIFY_STALE },
	{ "sw timestamp not digits", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, "1614265330.0", SW_SIG, SW_TS) }, VERIFY_MALFORMED },
	{ "sw negative timestamp", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, "-1", SW_SIG, SW_TS) }, VERIFY_MALFORMED },
	{ "sw other id", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW("msg_other", SW_TS_S, SW_SIG, SW_TS) }, VERIFY_MISMATCH },
	{ "sw bad signature", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SW_TS) },
	  VERIFY_MISMATCH },
	{ "sw wrong version", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SW_TS) },
	  VERIFY_MISMATCH },
	{ "sw truncated signature", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", SW_TS) },
	  VERIFY_MISMATCH },
	{ "sw wrong secret", VERIFY_STANDARD_WEBHOOKS, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx",
	  VERIFY_HEX, { SW(SW_ID, SW_TS_S, SW_SIG, SW_TS) }, VERIFY_MISMATCH },
	{ "sw secret without prefix", VERIFY_STANDARD_WEBHOOKS, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	  VERIFY_HEX, { SW(SW_ID, SW_TS_S, SW_SIG, SW_TS) }, VERIFY_BAD_SECRET },
	{ "sw missing id", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(NULL, SW_TS_S, SW_SIG, SW_TS) }, VERIFY_MISSING },
	{ "sw missing timestamp", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, NULL, SW_SIG, SW_TS) }, VERIFY_MISSING },
	{ "sw missing signature", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW(SW_ID, SW_TS_S, NULL, SW_TS) }, VERIFY_MISSING },
	{ "sw empty id", VERIFY_STANDARD_WEBHOOKS, SW_SECRET, VERIFY_HEX,
	  { SW("", SW_TS_S, SW_SIG, SW_TS) }, VERIFY_MALFORMED },
};

static void
test_table(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		const struct vcase *c = &cases[i];
		enum verify_result got = verify_request(c->mode, c->secret, strlen(c->secret),
		    c->enc, &c->in);

		if (got != c->want) {
			print_error("%s: want %s, got %s\n", c->name, verify_result_name(c->want),
			    verify_result_name(got));
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void
test_names(void **state)
{
	(void)state;
	assert_int_equal(verify_mode_parse("API_KEY"), VERIFY_API_KEY);
	assert_int_equal(verify_mode_parse("JWT_RS256"), VERIFY_JWT_RS256);
	assert_int_equal(verify_mode_parse("STANDARD_WEBHOOKS"), VERIFY_STANDARD_WEBHOOKS);
	assert_int_equal(verify_mode_parse("api_key"), -1);
	assert_int_equal(verify_mode_parse(NULL), -1);
	assert_string_equal(verify_default_header(VERIFY_API_KEY), "X-API-Key");
	assert_string_equal(verify_default_header(VERIFY_HMAC_SHA1), "X-Gigya-HMAC-SHA1");
	assert_string_equal(verify_default_header(VERIFY_HMAC_SHA256), "X-Signature-SHA256");
	assert_string_equal(verify_default_header(VERIFY_JWT_RS256), "x-gigya-sig-jwt");
	assert_null(verify_default_header(VERIFY_BASIC));
}

/* ---- JWT RS256: keys and tokens made at start ------------------------------ */

#define NOW  1800000000LL
#define JBODY "{\"events\":[{\"id\":\"e1\",\"type\":\"accountCreated\"}]}"

static EVP_PKEY *key_a, *key_b, *key_small;
static char *pem_a, *pem_b, *pem_small, *pem_ec;

static char *
pem_of(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	n = BIO_get_mem_data(b, &data);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	BIO_free(b);
	return out;
}

static char *
b64url(const void *data, size_t len)
{
	char *s = b64_encode(data, len), *p;

	assert_non_null(s);
	for (p = s; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	if ((p = strchr(s, '=')) != NULL)
		*p = '\0';
	return s;
}

/* "b64url(header).b64url(payload).b64url(RS256 signature by k)"; k NULL:
 * an empty signature (as "alg": "none" tokens have). */
static char *
make_jwt(const char *header, const char *payload, EVP_PKEY *k)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	char *input, *s = NULL, *out;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);

	assert_true(asprintf(&input, "%s.%s", h, p) > 0);
	if (k != NULL) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
		assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input,
		    strlen(input)), 1);
		EVP_MD_CTX_free(ctx);
		s = b64url(sig, siglen);
	}
	assert_true(asprintf(&out, "%s.%s", input, s ? s : "") > 0);
	free(h);
	free(p);
	free(s);
	free(input);
	return out;
}

static void
body_sub(char *hex, char *b64, char *url)
{
	unsigned char md[32];
	char *s;
	int i;

	assert_int_equal(EVP_Digest(JBODY, strlen(JBODY), md, NULL, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	s = b64_encode(md, 32);
	strcpy(b64, s);
	free(s);
	s = b64url(md, 32);
	strcpy(url, s);
	free(s);
}

static int
setup_keys(void **state)
{
	EVP_PKEY *ec;

	(void)state;
	key_a = EVP_RSA_gen(2048);
	key_b = EVP_RSA_gen(2048);
	key_small = EVP_RSA_gen(1024);
	ec = EVP_EC_gen("P-256");
	if (!key_a || !key_b || !key_small || !ec)
		return -1;
	pem_a = pem_of(key_a);
	pem_b = pem_of(key_b);
	pem_small = pem_of(key_small);
	pem_ec = pem_of(ec);
	EVP_PKEY_free(ec);
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	EVP_PKEY_free(key_small);
	free(pem_a);
	free(pem_b);
	free(pem_small);
	free(pem_ec);
	return 0;
}

enum signer { BY_A, BY_B, BY_SMALL, UNSIGNED };

struct jcase {
	const char *name;
	const char *header;
	const char *payload;    /* %s: the sub (hex unless sub_form says otherwise) */
	int sub_form;           /* 0 hex, 1 HEX, 2 base64, 3 base64url, 4 literal "wrong" */
	enum signer signer;
	char *const *pem;
	const char *mangle;     /* NULL, or how to damage the token (see jwt_case) */
	enum verify_result want;
};

#define RS "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define SUB "{\"sub\":\"%s\",\"iat\":1800000000}"

static const struct jcase jcases[] = {
	{ "good hex", RS, SUB, 0, BY_A, &pem_a, NULL, VERIFY_OK },
	{ "good HEX", RS, SUB, 1, BY_A, &pem_a, NULL, VERIFY_OK },
	{ "good base64", RS, SUB, 2, BY_A, &pem_a, NULL, VERIFY_OK },
	{ "good base64url", RS, SUB, 3, BY_A, &pem_a, NULL, VERIFY_OK },
	{ "bearer", RS, SUB, 0, BY_A, &pem_a, "bearer", VERIFY_OK },
	{ "no claims but sub", RS, "{\"sub\":\"%s\"}", 0, BY_A, &pem_a, NULL, VERIFY_OK },
	{ "exp in tolerance", RS, "{\"sub\":\"%s\",\"exp\":1799999800}", 0, BY_A, &pem_a, NULL,
	  VERIFY_OK },
	{ "sub mismatch", RS, SUB, 4, BY_A, &pem_a, NULL, VERIFY_MISMATCH },
	{ "sub missing", RS, "{\"iat\":1800000000}", 0, BY_A, &pem_a, NULL, VERIFY_MALFORMED },
	{ "sub not a string", RS, "{\"sub\":1,\"x\":\"%s\"}", 0, BY_A, &pem_a, NULL,
	  VERIFY_MALFORMED },
	{ "other body", RS, SUB, 0, BY_A, &pem_a, "body", VERIFY_MISMATCH },
	{ "wrong key", RS, SUB, 0, BY_B, &pem_a, NULL, VERIFY_MISMATCH },
	{ "alg none", "{\"alg\":\"none\"}", SUB, 0, UNSIGNED, &pem_a, NULL, VERIFY_MALFORMED },
	{ "alg none signed", "{\"alg\":\"none\"}", SUB, 0, BY_A, &pem_a, NULL, VERIFY_MISMATCH },
	{ "alg HS256", "{\"alg\":\"HS256\"}", SUB, 0, BY_A, &pem_a, NULL, VERIFY_MISMATCH },
	{ "alg rs256 lowercase", "{\"alg\":\"rs256\"}", SUB, 0, BY_A, &pem_a, NULL,
	  VERIFY_MISMATCH },
	{ "alg missing", "{\"typ\":\"JWT\"}", SUB, 0, BY_A, &pem_a, NULL, VERIFY_MISMATCH },
	{ "crit", "{\"alg\":\"RS256\",\"crit\":[\"b64\"]}", SUB, 0, BY_A, &pem_a, NULL,
	  VERIFY_MISMATCH },
	{ "RS256 unsigned", RS, SUB, 0, UNSIGNED, &pem_a, NULL, VERIFY_MALFORMED },
	{ "header not json", "not json", SUB, 0, BY_A, &pem_a, NULL, VERIFY_MALFORMED },
	{ "payload not json", RS, "not json %s", 0, BY_A, &pem_a, NULL, VERIFY_MALFORMED },
	{ "two parts", RS, SUB, 0, BY_A, &pem_a, "two", VERIFY_MALFORMED },
	{ "four parts", RS, SUB, 0, BY_A, &pem_a, "four", VERIFY_MALFORMED },
	{ "padded part", RS, SUB, 0, BY_A, &pem_a, "pad", VERIFY_MALFORMED },
	{ "signature bit flipped", RS, SUB, 0, BY_A, &pem_a, "flip", VERIFY_MISMATCH },
	{ "signature truncated", RS, SUB, 0, BY_A, &pem_a, "trunc", VERIFY_MISMATCH },
	{ "payload swapped", RS, SUB, 0, BY_A, &pem_a, "swap", VERIFY_MISMATCH },
	{ "expired", RS, "{\"sub\":\"%s\",\"exp\":1799999699}", 0, BY_A, &pem_a, NULL, VERIFY_STALE },
	{ "not yet", RS, "{\"sub\":\"%s\",\"nbf\":1800000301}", 0, BY_A, &pem_a, NULL, VERIFY_STALE },
	{ "iat old", RS, "{\"sub\":\"%s\",\"iat\":1799999699}", 0, BY_A, &pem_a, NULL, VERIFY_STALE },
	{ "iat future", RS, "{\"sub\":\"%s\",\"iat\":1800000301}", 0, BY_A, &pem_a, NULL,
	  VERIFY_STALE },
	{ "exp a string", RS, "{\"sub\":\"%s\",\"exp\":\"soon\"}", 0, BY_A, &pem_a, NULL,
	  VERIFY_MALFORMED },
	{ "bad pem", RS, SUB, 0, BY_A, NULL, NULL, VERIFY_BAD_SECRET },
	{ "ec key", RS, SUB, 0, BY_A, &pem_ec, NULL, VERIFY_BAD_SECRET },
	{ "rsa 1024", RS, SUB, 0, BY_SMALL, &pem_small, NULL, VERIFY_BAD_SECRET },
	{ "empty token", RS, SUB, 0, BY_A, &pem_a, "empty", VERIFY_MALFORMED },
	{ "missing", RS, SUB, 0, BY_A, &pem_a, "null", VERIFY_MISSING },
};

/* The token of case c, damaged as c->mangle says; *body the body to check. */
static char *
jwt_case(const struct jcase *c, const char **body)
{
	char hex[65], b64[45], url[44], payload[512], *t, *out;
	const char *sub;
	EVP_PKEY *k = c->signer == BY_A ? key_a : c->signer == BY_B ? key_b :
	    c->signer == BY_SMALL ? key_small : NULL;
	const char *m = c->mangle ? c->mangle : "";

	body_sub(hex, b64, url);
	if (c->sub_form == 1)
		for (t = hex; *t; t++)
			*t = (char)(*t >= 'a' && *t <= 'f' ? *t - 32 : *t);
	sub = c->sub_form == 2 ? b64 : c->sub_form == 3 ? url : c->sub_form == 4 ? "wrong" : hex;
	snprintf(payload, sizeof(payload), c->payload, sub);
	t = make_jwt(c->header, payload, k);
	*body = strcmp(m, "body") == 0 ? JBODY " " : JBODY;
	if (strcmp(m, "bearer") == 0) {
		assert_true(asprintf(&out, "Bearer %s", t) > 0);
	} else if (strcmp(m, "two") == 0) {
		*strrchr(t, '.') = '\0';
		out = strdup(t);
	} else if (strcmp(m, "four") == 0) {
		assert_true(asprintf(&out, "%s.AAAA", t) > 0);
	} else if (strcmp(m, "pad") == 0) {
		assert_true(asprintf(&out, "%s=", t) > 0);
	} else if (strcmp(m, "flip") == 0) {
		char *last = t + strlen(t) - 3;

		*last = *last == 'A' ? 'B' : 'A';
		out = strdup(t);
	} else if (strcmp(m, "trunc") == 0) {
		/* whole base64 groups: it decodes, to a signature too short */
		strrchr(t, '.')[1 + 40] = '\0';
		out = strdup(t);
	} else if (strcmp(m, "swap") == 0) {
		/* another payload under the original signature */
		char *other = make_jwt(c->header, "{\"sub\":\"x\"}", NULL);
		char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
		char *odot1 = strchr(other, '.'), *odot2 = strrchr(other, '.');

		*odot2 = '\0';
		*dot1 = '\0';
		assert_true(asprintf(&out, "%s.%s%s", t, odot1 + 1, dot2) > 0);
		free(other);
	} else if (strcmp(m, "empty") == 0) {
		out = strdup("");
	} else if (strcmp(m, "null") == 0) {
		out = NULL;
	} else {
		out = strdup(t);
	}
	free(t);
	return out;
}

static void
test_jwt_table(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < ARRAY_LEN(jcases); i++) {
		const struct jcase *c = &jcases[i];
		const char *body;
		char *tok = jwt_case(c, &body);
		const char *pem = c->pem ? *c->pem :
		    "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n";
		struct verify_input in = { .header = tok, .body = body, .body_len = strlen(body),
		    .now = NOW, .tolerance_s = 300 };
		enum verify_result got = verify_request(VERIFY_JWT_RS256, pem, strlen(pem),
		    VERIFY_HEX, &in);

		if (got != c->want) {
			print_error("jwt %s: want %s, got %s\n", c->name, verify_result_name(c->want),
			    verify_result_name(got));
			failed++;
		}
		free(tok);
	}
	assert_int_equal(failed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_jwt_table),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
