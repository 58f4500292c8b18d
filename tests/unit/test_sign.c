/* Unit tests for sign: the Standard Webhooks published vector, verification
 * of multi-signature headers, secret decoding limits and generation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "sign.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* From the Standard Webhooks specification and its reference libraries. */
#define VEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TS     1614265330LL
#define VEC_BODY   "{\"test\": 2432232314}"
#define VEC_B64    "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define VEC_SIG    "v1," VEC_B64
/* The same signature with its first character changed. */
#define BAD_SIG    "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static int
vec_key(unsigned char key[SIGN_KEY_MAX])
{
	int n = sign_secret_decode(VEC_SECRET, key);

	assert_int_equal(n, 24);
	return n;
}

static void
test_vector(void **state)
{
	unsigned char key[SIGN_KEY_MAX];
	char sig[SIGN_SIG_MAX];
	int n = vec_key(key);

	(void)state;
	assert_int_equal(sign_standard(key, (size_t)n, VEC_ID, VEC_TS, VEC_BODY,
	    strlen(VEC_BODY), sig), 0);
	assert_string_equal(sig, VEC_SIG);
}

/* Anything in the signed content changes the signature. */
static void
test_vector_changes(void **state)
{
	unsigned char key[SIGN_KEY_MAX];
	char sig[SIGN_SIG_MAX];
	int n = vec_key(key);

	(void)state;
	assert_int_equal(sign_standard(key, (size_t)n, VEC_ID, VEC_TS + 1, VEC_BODY,
	    strlen(VEC_BODY), sig), 0);
	assert_string_not_equal(sig, VEC_SIG);
	assert_int_equal(sign_standard(key, (size_t)n, "msg_p5jXN8AQM9LWM0D4loKWxJeK", VEC_TS,
	    VEC_BODY, strlen(VEC_BODY), sig), 0);
	assert_string_not_equal(sig, VEC_SIG);
	assert_int_equal(sign_standard(key, (size_t)n, VEC_ID, VEC_TS, VEC_BODY,
	    strlen(VEC_BODY) - 1, sig), 0);
	assert_string_not_equal(sig, VEC_SIG);
	key[0] ^= 1;
	assert_int_equal(sign_standard(key, (size_t)n, VEC_ID, VEC_TS, VEC_BODY,
	    strlen(VEC_BODY), sig), 0);
	assert_string_not_equal(sig, VEC_SIG);
	/* An empty body is signed too (NULL allowed with length 0). */
	assert_int_equal(sign_standard(key, (size_t)n, VEC_ID, VEC_TS, NULL, 0, sig), 0);
	assert_int_equal(strncmp(sig, "v1,", 3), 0);
	assert_int_equal(strlen(sig), 47);
}

static const struct {
	const char *header;
	int want;
} verifies[] = {
	{ VEC_SIG, 1 },
	{ BAD_SIG, 0 },
	{ BAD_SIG " " VEC_SIG, 1 },
	{ VEC_SIG " " BAD_SIG, 1 },
	{ BAD_SIG " " VEC_SIG " " BAD_SIG, 1 },
	{ BAD_SIG " " BAD_SIG, 0 },
	{ "  " VEC_SIG "  ", 1 },
	{ "v1a," VEC_B64, 0 },
	{ "v2," VEC_B64, 0 },                       /* other versions ignored */
	{ "v2," VEC_B64 " " VEC_SIG, 1 },
	{ "v1a,abc v2,xyz " VEC_SIG, 1 },
	{ "V1," VEC_B64, 0 },
	{ VEC_B64, 0 },                             /* no version */
	{ "v1," VEC_SIG, 0 },
	{ VEC_SIG "=", 0 },
	{ VEC_SIG "x", 0 },
	{ "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", 0 },
	{ "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\t", 0 },
	{ "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0 },   /* base64url */
	{ "v1,", 0 },
	{ "v1", 0 },
	{ "", 0 },
	{ "   ", 0 },
	{ ",,,,", 0 },
	{ "garbage", 0 },
	{ "v1,!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", 0 },
	{ "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0 },
};

static void
test_verify(void **state)
{
	unsigned char key[SIGN_KEY_MAX];
	int n = vec_key(key);
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(verifies); i++) {
		int got = sign_verify(key, (size_t)n, VEC_ID, VEC_TS, VEC_BODY,
		    strlen(VEC_BODY), verifies[i].header);

		if (got != verifies[i].want)
			fail_msg("\"%s\": %d, want %d", verifies[i].header, got, verifies[i].want);
	}
	assert_int_equal(sign_verify(key, (size_t)n, VEC_ID, VEC_TS, VEC_BODY,
	    strlen(VEC_BODY), NULL), 0);
	/* The right header for other content. */
	assert_int_equal(sign_verify(key, (size_t)n, VEC_ID, VEC_TS - 1, VEC_BODY,
	    strlen(VEC_BODY), VEC_SIG), 0);
	key[23] ^= 0x80;
	assert_int_equal(sign_verify(key, (size_t)n, VEC_ID, VEC_TS, VEC_BODY,
	    strlen(VEC_BODY), VEC_SIG), 0);
}

/* A secret made of "whsec_" and the base64 of len bytes of fill. */
static char *
secret_of(size_t len)
{
	unsigned char raw[80];
	char *b, *s;

	memset(raw, 0x5a, sizeof(raw));
	b = b64_encode(raw, len);
	assert_non_null(b);
	s = malloc(strlen(b) + 7);
	assert_non_null(s);
	sprintf(s, "whsec_%s", b);
	free(b);
	return s;
}

static void
test_decode_lengths(void **state)
{
	static const struct {
		size_t len;
		int want;
	} lens[] = {
		{ 1, -1 }, { 16, -1 }, { 23, -1 }, { 24, 24 }, { 25, 25 }, { 32, 32 },
		{ 63, 63 }, { 64, 64 }, { 65, -1 }, { 66, -1 }, { 80, -1 },
	};
	unsigned char key[SIGN_KEY_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(lens); i++) {
		char *s = secret_of(lens[i].len);
		int got = sign_secret_decode(s, key);

		if (got != lens[i].want)
			fail_msg("%zu bytes: %d, want %d", lens[i].len, got, lens[i].want);
		if (got > 0)
			assert_int_equal(key[got - 1], 0x5a);
		free(s);
	}
}

static const char *const bad_secrets[] = {
	"",
	"whsec_",
	"whsec",
	"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",             /* no prefix */
	"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	" whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ",
	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",        /* not a multiple of 4 */
	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",
	"whsec_MfKQ9r8GKYqrTwjUPD8I-PZIo2LaLaSw",       /* base64url */
	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw====",
	"whsec_MfKQ9r8GKYqrTwjU\nPD8ILPZIo2LaLaSw",
};

static void
test_decode_bad(void **state)
{
	unsigned char key[SIGN_KEY_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad_secrets); i++)
		if (sign_secret_decode(bad_secrets[i], key) != -1)
			fail_msg("\"%s\" decoded", bad_secrets[i]);
	assert_int_equal(sign_secret_decode(NULL, key), -1);
}

static void
test_generate(void **state)
{
	char a[SIGN_SECRET_MAX], b[SIGN_SECRET_MAX];
	unsigned char ka[SIGN_KEY_MAX], kb[SIGN_KEY_MAX];
	char sig[SIGN_SIG_MAX];

	(void)state;
	assert_int_equal(sign_secret_generate(a), 0);
	assert_int_equal(sign_secret_generate(b), 0);
	assert_int_equal(strncmp(a, "whsec_", 6), 0);
	assert_int_equal(strlen(a), 6 + 44);
	assert_string_not_equal(a, b);
	assert_int_equal(sign_secret_decode(a, ka), 32);
	assert_int_equal(sign_secret_decode(b, kb), 32);
	assert_memory_not_equal(ka, kb, 32);
	/* And it signs and verifies. */
	assert_int_equal(sign_standard(ka, 32, "msg_1", 1700000000LL, "{}", 2, sig), 0);
	assert_int_equal(sign_verify(ka, 32, "msg_1", 1700000000LL, "{}", 2, sig), 1);
	assert_int_equal(sign_verify(kb, 32, "msg_1", 1700000000LL, "{}", 2, sig), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_vector_changes),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_decode_lengths),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_generate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
