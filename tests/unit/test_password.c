/* Unit tests for password: PBKDF2 hashes, strict parsing of stored forms,
 * random password generation. 1000 iterations keep them fast. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ITER 1000

static const char *passwords[] = {
	"hunter2", "", " ", "correct horse battery staple", "pässwörd",
	"$pbkdf2-sha256$1000$", "a\tb\nc", "\xff\xfe\xfd",
};

static void test_hash_verify(void **state)
{
	char prefix[64];
	size_t i;

	(void)state;
	snprintf(prefix, sizeof prefix, "pbkdf2-sha256$%d$", ITER);
	for (i = 0; i < ARRAY_LEN(passwords); i++) {
		char *h = password_hash(passwords[i], ITER);

		assert_non_null(h);
		assert_memory_equal(h, prefix, strlen(prefix));
		/* 16-byte salt and 32-byte hash, padded base64. */
		assert_int_equal(strlen(h), strlen(prefix) + 24 + 1 + 44);
		if (!password_verify(passwords[i], h))
			fail_msg("password #%zu does not verify against %s", i, h);
		free(h);
	}
}

static void test_long_password(void **state)
{
	char *pw = malloc(10001), *h;

	(void)state;
	memset(pw, 'x', 10000);
	pw[10000] = '\0';
	h = password_hash(pw, ITER);
	assert_true(password_verify(pw, h));
	pw[9999] = 'y';
	assert_false(password_verify(pw, h));
	free(h);
	free(pw);
}

static void test_wrong_password(void **state)
{
	static const struct {
		const char *right, *wrong;
	} cases[] = {
		{ "hunter2", "hunter3" }, { "hunter2", "Hunter2" },
		{ "hunter2", "hunter2 " }, { "hunter2", " hunter2" },
		{ "hunter2", "hunter" }, { "hunter2", "" },
		{ "", " " }, { "", "\n" }, { "pässwörd", "passwort" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		char *h = password_hash(cases[i].right, ITER);

		assert_non_null(h);
		if (password_verify(cases[i].wrong, h))
			fail_msg("case #%zu: \"%s\" accepted for \"%s\"", i,
			         cases[i].wrong, cases[i].right);
		free(h);
	}
}

static void test_salted(void **state)
{
	char *a = password_hash("same", ITER), *b = password_hash("same", ITER);

	(void)state;
	assert_string_not_equal(a, b);
	assert_true(password_verify("same", a));
	assert_true(password_verify("same", b));
	free(a);
	free(b);
}

/* Computed independently with Python's hashlib.pbkdf2_hmac. */
static void test_known_answers(void **state)
{
	static const struct {
		const char *password, *stored;
	} cases[] = {
		{ "correct horse", "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
		  "BBs+1+PaslLtBPULUr8/lQicvVuHiEPMz0i8MjLCbzM=" },
		{ "", "pbkdf2-sha256$1000$MTIzNDU2Nzg=$"
		  "acw5ojVUzAYZdVsxA+hL6nazMN7mBctSd1wGhKXpBcA=" },
		{ "pässwörd", "pbkdf2-sha256$1234$AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
		  "GBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==$"
		  "LsynWsqQayW9lxmis7kPlJ7h32AWkEVxEOd4p5NV8gA=" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++)
		if (!password_verify(cases[i].password, cases[i].stored))
			fail_msg("known answer #%zu rejected", i);
}

/* Stored forms built from parts; NULL parts take the valid value. */
#define SALT "c2FsdHNhbHRzYWx0c2FsdA=="
#define HASH "BBs+1+PaslLtBPULUr8/lQicvVuHiEPMz0i8MjLCbzM="

static const struct {
	const char *prefix, *iter, *salt, *hash, *tail, *why;
} tampered[] = {
	{ NULL, NULL, NULL, NULL, NULL, "(the valid form: must verify)" },
	/* iterations */
	{ NULL, "1001", NULL, NULL, NULL, "iterations changed" },
	{ NULL, "2000", NULL, NULL, NULL, "iterations changed" },
	{ NULL, "999", NULL, NULL, NULL, "iterations below minimum" },
	{ NULL, "0", NULL, NULL, NULL, "zero iterations" },
	{ NULL, "01000", NULL, NULL, NULL, "leading zero" },
	{ NULL, "+1000", NULL, NULL, NULL, "sign" },
	{ NULL, "-1000", NULL, NULL, NULL, "negative" },
	{ NULL, " 1000", NULL, NULL, NULL, "leading blank" },
	{ NULL, "1000 ", NULL, NULL, NULL, "trailing blank" },
	{ NULL, "1e3", NULL, NULL, NULL, "exponent" },
	{ NULL, "0x3e8", NULL, NULL, NULL, "hex" },
	{ NULL, "1000.0", NULL, NULL, NULL, "decimal point" },
	{ NULL, "abc", NULL, NULL, NULL, "non-numeric" },
	{ NULL, "", NULL, NULL, NULL, "empty iterations" },
	{ NULL, "100000001", NULL, NULL, NULL, "above maximum" },
	{ NULL, "4294968296", NULL, NULL, NULL, "2^32 + 1000 (wraps to 1000)" },
	{ NULL, "18446744073709552616", NULL, NULL, NULL, "2^64 + 1000" },
	{ NULL, "99999999999999999999999999999", NULL, NULL, NULL, "huge" },
	/* salt */
	{ NULL, NULL, "d2FsdHNhbHRzYWx0c2FsdA==", NULL, NULL, "salt changed" },
	{ NULL, NULL, "c2FsdHNhbHRzYWx0c2FsdQ==", NULL, NULL, "salt last byte" },
	{ NULL, NULL, "c2FsdHNhbHRzYWx0c2FsdA", NULL, NULL, "salt unpadded" },
	{ NULL, NULL, "c2FsdHNhbHRzYWx0c2FsdB==", NULL, NULL, "salt padding bits" },
	{ NULL, NULL, "c2FsdHNh bHRzYWx0c2FsdA==", NULL, NULL, "salt blank" },
	{ NULL, NULL, "", NULL, NULL, "empty salt" },
	{ NULL, NULL, "c2FsdHNh", NULL, NULL, "salt 6 bytes" },
	{ NULL, NULL, "c2FsdHNhbA==", NULL, NULL, "salt 7 bytes" },
	/* Hash correct for these salts: only the length rule refuses them. */
	{ NULL, NULL, "MTIzNDU2Nw==", "RSglI7dCBeycabClZWGc8wHKsrqkIqHjaHV1hL6NXEo=",
	  NULL, "salt 7 bytes, matching hash" },
	{ NULL, NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	  "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "MC655OAPp3BsjeLCljAmRzBWJEzf30Yk4V/cQ8P/B9A=",
	  NULL, "salt 65 bytes, matching hash" },
	{ NULL, NULL, "c2FsdHNhbHRzYWx0c2FsdA==$", NULL, NULL, "salt with '$'" },
	/* hash */
	{ NULL, NULL, NULL, "CBs+1+PaslLtBPULUr8/lQicvVuHiEPMz0i8MjLCbzM=", NULL,
	  "hash first byte" },
	{ NULL, NULL, NULL, "BBs+1+PaslLtBPULUr8/lQicvVuHiEPMz0i8MjLCbzI=", NULL,
	  "hash last byte" },
	{ NULL, NULL, NULL, "BBs+1+PaslLtBPULUr8/lQicvVuHiEPMz0i8MjLCbzM", NULL,
	  "hash unpadded" },
	{ NULL, NULL, NULL, "BBs+1+PaslLtBPULUr8/lQicvVuHiEPMz0i8MjLCbw==", NULL,
	  "hash 31 bytes" },
	{ NULL, NULL, NULL, "BBs+1+PaslLtBPULUr8/lQicvVuHiEPMz0i8MjLCbzMA", NULL,
	  "hash 33 bytes" },
	{ NULL, NULL, NULL, "", NULL, "empty hash" },
	{ NULL, NULL, NULL, "BBs-1-PaslLtBPULUr8_lQicvVuHiEPMz0i8MjLCbzM=", NULL,
	  "hash URL-safe alphabet" },
	/* framing */
	{ "pbkdf2-sha512$", NULL, NULL, NULL, NULL, "other digest" },
	{ "PBKDF2-SHA256$", NULL, NULL, NULL, NULL, "upper case" },
	{ "pbkdf2_sha256$", NULL, NULL, NULL, NULL, "underscore" },
	{ "$pbkdf2-sha256$", NULL, NULL, NULL, NULL, "leading '$'" },
	{ " pbkdf2-sha256$", NULL, NULL, NULL, NULL, "leading blank" },
	{ "", NULL, NULL, NULL, NULL, "no prefix" },
	{ NULL, NULL, NULL, NULL, "$", "trailing '$'" },
	{ NULL, NULL, NULL, NULL, "$extra", "extra field" },
	{ NULL, NULL, NULL, NULL, "\n", "trailing newline" },
	{ NULL, NULL, NULL, NULL, " ", "trailing blank" },
};

static void build(char *buf, size_t size, size_t i)
{
	snprintf(buf, size, "%s%s$%s$%s%s",
	         tampered[i].prefix ? tampered[i].prefix : "pbkdf2-sha256$",
	         tampered[i].iter ? tampered[i].iter : "1000",
	         tampered[i].salt ? tampered[i].salt : SALT,
	         tampered[i].hash ? tampered[i].hash : HASH,
	         tampered[i].tail ? tampered[i].tail : "");
}

static void test_tampered(void **state)
{
	char form[512];
	size_t i;

	(void)state;
	build(form, sizeof form, 0);
	assert_true(password_verify("correct horse", form));
	for (i = 1; i < ARRAY_LEN(tampered); i++) {
		build(form, sizeof form, i);
		if (password_verify("correct horse", form))
			fail_msg("accepted %s: %s", tampered[i].why, form);
	}
}

static void test_malformed(void **state)
{
	static const char *forms[] = {
		"", "$", "$$$", "pbkdf2-sha256", "pbkdf2-sha256$",
		"pbkdf2-sha256$1000", "pbkdf2-sha256$1000$",
		"pbkdf2-sha256$1000$" SALT, "pbkdf2-sha256$1000$" SALT "$",
		"pbkdf2-sha256$$" SALT "$" HASH, "pbkdf2-sha256$1000$$" HASH,
		"pbkdf2-sha256$" SALT "$" HASH, "pbkdf2-sha256$1000$" HASH,
		"1000$" SALT "$" HASH, "pbkdf2-sha256$1000$" SALT "$" HASH "$" HASH,
		"pbkdf2-sha256$1000$$$" SALT "$" HASH,
		"hunter2", "correct horse",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(forms); i++)
		if (password_verify("correct horse", forms[i]))
			fail_msg("accepted malformed #%zu: %s", i, forms[i]);
	assert_false(password_verify(NULL, "pbkdf2-sha256$1000$" SALT "$" HASH));
	assert_false(password_verify("correct horse", NULL));
}

static void test_hash_iterations(void **state)
{
	static const struct {
		unsigned iterations;
		bool     ok;
	} cases[] = {
		{ 0, false }, { 1, false }, { 999, false }, { 1000, true },
		{ 1001, true }, { 100000001, false }, { 4294967295u, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		char *h = password_hash("pw", cases[i].iterations);

		if ((h != NULL) != cases[i].ok)
			fail_msg("iterations %u: got %s", cases[i].iterations,
			         h ? h : "NULL");
		if (h) {
			char want[32];

			snprintf(want, sizeof want, "pbkdf2-sha256$%u$",
			         cases[i].iterations);
			assert_memory_equal(h, want, strlen(want));
			assert_true(password_verify("pw", h));
		}
		free(h);
	}
	assert_null(password_hash(NULL, ITER));
}

static bool alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

static void test_generate_sizes(void **state)
{
	static const struct {
		size_t bufsize, len;
		int    rc;
	} cases[] = {
		{ 1, 0, 0 }, { 2, 1, 0 }, { 17, 16, 0 }, { 64, 32, 0 },
		{ 1000, 999, 0 }, { 0, 0, -1 }, { 16, 16, -1 }, { 16, 17, -1 },
		{ 1, 1, -1 }, { 8, (size_t)-1, -1 },
	};
	char buf[1000];
	size_t i, k;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		memset(buf, '!', sizeof buf);
		if (password_generate(buf, cases[i].bufsize, cases[i].len) !=
		    cases[i].rc)
			fail_msg("case #%zu: wrong return", i);
		if (cases[i].rc != 0)
			continue;
		assert_int_equal(strlen(buf), cases[i].len);
		for (k = 0; k < cases[i].len; k++)
			if (!alnum(buf[k]))
				fail_msg("case #%zu: character 0x%02x", i,
				         (unsigned char)buf[k]);
	}
	assert_int_equal(password_generate(NULL, 10, 5), -1);
}

/* 62 000 characters: each of the 62 should appear about 1000 times
 * (sd ~31). Modulo bias towards 'A'..'H' would put them near 1130. */
static void test_generate_uniform(void **state)
{
	static const char set[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	int counts[62] = { 0 };
	char buf[1001], other[1001];
	int round;
	size_t k;

	(void)state;
	for (round = 0; round < 62; round++) {
		assert_int_equal(password_generate(buf, sizeof buf, 1000), 0);
		for (k = 0; k < 1000; k++)
			counts[strchr(set, buf[k]) - set]++;
	}
	for (k = 0; k < 62; k++)
		if (counts[k] < 850 || counts[k] > 1150)
			fail_msg("'%c' drawn %d times", set[k], counts[k]);
	assert_int_equal(password_generate(other, sizeof other, 1000), 0);
	assert_string_not_equal(buf, other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_long_password),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_salted),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_hash_iterations),
		cmocka_unit_test(test_generate_sizes),
		cmocka_unit_test(test_generate_uniform),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
