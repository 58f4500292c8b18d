/* Unit tests for b64: RFC 4648 vectors, strictness, capacity, round-trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "b64.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 4648 §10, plus bytes that hit '+', '/' and every padding length. */
static const struct {
	const char *plain;
	size_t      plain_len;
	const char *encoded;
} vectors[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg==" },
	{ "fo", 2, "Zm8=" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg==" },
	{ "fooba", 5, "Zm9vYmE=" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xff", 2, "+/8=" },
	{ "\xff\xff\xff", 3, "////" },
	{ "\0", 1, "AA==" },
	{ "\0\0\0", 3, "AAAA" },
	{ "a\0b", 3, "YQBi" },
};

static void test_encode_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(vectors); i++) {
		char *enc = b64_encode(vectors[i].plain, vectors[i].plain_len);

		assert_non_null(enc);
		assert_string_equal(enc, vectors[i].encoded);
		free(enc);
	}
}

static void test_decode_vectors(void **state)
{
	unsigned char out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_LEN(vectors); i++) {
		const char *e = vectors[i].encoded;

		n = 999;
		assert_int_equal(b64_decode(e, strlen(e), out, sizeof out, &n), 0);
		assert_int_equal(n, vectors[i].plain_len);
		if (n > 0)
			assert_memory_equal(out, vectors[i].plain, n);
		assert_true(b64_decoded_max(strlen(e)) >= n);
	}
}

static void test_encode_null_empty(void **state)
{
	char *enc = b64_encode(NULL, 0);

	(void)state;
	assert_non_null(enc);
	assert_string_equal(enc, "");
	free(enc);
}

/* Inputs that must all be refused, given with explicit lengths so that
 * embedded NULs reach the decoder. */
static const struct {
	const char *in;
	size_t      len;
	const char *why;
} invalid[] = {
	{ "Zg=", 3, "length not a multiple of 4" },
	{ "Zg", 2, "padding missing" },
	{ "Zm9vY", 5, "padding missing" },
	{ "Z===", 4, "three padding characters" },
	{ "====", 4, "padding only" },
	{ "Zm9v=", 5, "padding after a full group" },
	{ "=Zm9", 4, "leading padding" },
	{ "Zm=v", 4, "padding inside a group" },
	{ "Zg==Zg==", 8, "padding before the last group" },
	{ "Zm9v====", 8, "padding group after a full group" },
	{ "Zh==", 4, "non-zero padding bits (1 byte)" },
	{ "Zm9=", 4, "non-zero padding bits (2 bytes)" },
	{ "Zm8 ", 4, "space" },
	{ " Zm8", 4, "leading space" },
	{ "Zm9v\nYmFy", 9, "newline" },
	{ "Zm9v\r\nYmFy", 10, "CRLF" },
	{ "Zm\t8", 4, "tab" },
	{ "Zm9\0", 4, "embedded NUL" },
	{ "\0\0\0\0", 4, "all NUL" },
	{ "Zm9v\0AAA", 8, "NUL in second group" },
	{ "Zm9-", 4, "URL-safe '-'" },
	{ "Zm9_", 4, "URL-safe '_'" },
	{ "Zm9!", 4, "punctuation" },
	{ "Zm9.", 4, "dot" },
	{ "Zm9\x80", 4, "high byte" },
	{ "Zm9\xff", 4, "0xff" },
	{ "\xc3\xa9Zm", 4, "UTF-8" },
};

static void test_decode_invalid(void **state)
{
	unsigned char out[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_LEN(invalid); i++) {
		n = 12345;
		if (b64_decode(invalid[i].in, invalid[i].len, out, sizeof out, &n) != -1)
			fail_msg("accepted #%zu (%s)", i, invalid[i].why);
		assert_int_equal(n, 12345);
	}
}

static const struct {
	const char *in;
	size_t      cap;
	int         rc;
} capacity[] = {
	{ "Zm9vYmFy", 6, 0 },
	{ "Zm9vYmFy", 5, -1 },
	{ "Zm9vYmE=", 5, 0 },
	{ "Zm9vYmE=", 4, -1 },
	{ "Zm9vYg==", 4, 0 },
	{ "Zm9vYg==", 3, -1 },
	{ "Zg==", 1, 0 },
	{ "Zg==", 0, -1 },
	{ "", 0, 0 },
};

static void test_decode_capacity(void **state)
{
	unsigned char out[8];
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_LEN(capacity); i++) {
		/* Canary just past the allowed capacity: must never be written. */
		memset(out, 0xA5, sizeof out);
		if (b64_decode(capacity[i].in, strlen(capacity[i].in), out,
		               capacity[i].cap, &n) != capacity[i].rc)
			fail_msg("capacity case #%zu", i);
		assert_int_equal(out[capacity[i].cap], 0xA5);
	}
}

static void test_decoded_max(void **state)
{
	static const struct {
		size_t in, max;
	} cases[] = { { 0, 0 }, { 4, 3 }, { 8, 6 }, { 44, 33 }, { 1, 3 }, { 5, 6 } };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++)
		assert_int_equal(b64_decoded_max(cases[i].in), cases[i].max);
}

/* Every length 0..100 with random bytes: encode, check shape, decode back. */
static void test_round_trip_random(void **state)
{
	unsigned char in[100], out[100];
	size_t len, i, n;

	(void)state;
	srand(4648);
	for (len = 0; len <= sizeof in; len++) {
		char *enc;

		for (i = 0; i < len; i++)
			in[i] = (unsigned char)rand();
		enc = b64_encode(in, len);
		assert_non_null(enc);
		assert_int_equal(strlen(enc), (len + 2) / 3 * 4);
		assert_int_equal(b64_decode(enc, strlen(enc), out, len, &n), 0);
		assert_int_equal(n, len);
		if (len > 0)
			assert_memory_equal(in, out, len);
		free(enc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_vectors),
		cmocka_unit_test(test_decode_vectors),
		cmocka_unit_test(test_encode_null_empty),
		cmocka_unit_test(test_decode_invalid),
		cmocka_unit_test(test_decode_capacity),
		cmocka_unit_test(test_decoded_max),
		cmocka_unit_test(test_round_trip_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
