/* Unit tests for secrets: AES-256-GCM round-trips, tampering, rotation,
 * keyring parsing and key-file permissions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "secrets.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define AAD "basic_credential.password"

/* Fixed keys, so that failures reproduce. */
static char *key_b64(unsigned char fill, size_t len)
{
	unsigned char k[64];
	char *s;

	memset(k, fill, sizeof k);
	s = b64_encode(k, len);
	assert_non_null(s);
	return s;
}

/* Expands a keyring template: @A and @B are two valid keys, @L a 33-byte
 * key, @S a 31-byte key. The result is malloc'd. */
static char *expand(const char *tmpl)
{
	char *a = key_b64(0x11, 32), *b = key_b64(0x22, 32);
	char *l = key_b64(0x33, 33), *s = key_b64(0x44, 31);
	char *out = malloc(strlen(tmpl) * 64 + 1), *o = out;
	const char *p;

	assert_non_null(out);
	for (p = tmpl; *p; p++) {
		const char *sub = NULL;

		if (p[0] == '@' && p[1] != '\0')
			sub = p[1] == 'A' ? a : p[1] == 'B' ? b : p[1] == 'L' ? l :
			      p[1] == 'S' ? s : NULL;
		if (sub) {
			o += sprintf(o, "%s", sub);
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	free(a);
	free(b);
	free(l);
	free(s);
	return out;
}

static struct secrets *ring(const char *tmpl)
{
	char err[256] = "", *text = expand(tmpl);
	struct secrets *s = secrets_load_text(text, err, sizeof err);

	if (!s)
		fail_msg("keyring \"%s\" refused: %s", tmpl, err);
	free(text);
	return s;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- round trips ---------------------------------------------------- */

static void test_round_trip(void **state)
{
	static unsigned char big[1000], bin[256];
	const struct {
		const void *plain;
		size_t      len;
	} cases[] = {
		{ "", 0 },
		{ NULL, 0 },
		{ "x", 1 },
		{ "hunter2", 7 },
		{ "\0", 1 },
		{ "a\0b\0\0c", 6 },
		{ bin, sizeof bin },
		{ big, sizeof big },
	};
	struct secrets *s = ring("k1 @A\n");
	size_t i, n;

	(void)state;
	memset(big, 'z', sizeof big);
	for (i = 0; i < sizeof bin; i++)
		bin[i] = (unsigned char)i;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		char *enc = secrets_encrypt(s, AAD, cases[i].plain, cases[i].len);
		char *dec;

		assert_non_null(enc);
		assert_true(starts_with(enc, "v1:k1:"));
		assert_int_equal(strlen(enc),
		                 6 + (12 + cases[i].len + 16 + 2) / 3 * 4);
		n = 9999;
		dec = secrets_decrypt(s, AAD, enc, &n);
		if (!dec)
			fail_msg("case #%zu did not decrypt", i);
		assert_int_equal(n, cases[i].len);
		if (n > 0)
			assert_memory_equal(dec, cases[i].plain, n);
		assert_int_equal(dec[n], '\0');
		free(dec);
		/* plain_len is optional. */
		dec = secrets_decrypt(s, AAD, enc, NULL);
		assert_non_null(dec);
		free(dec);
		free(enc);
	}
	secrets_free(s);
}

static void test_nonce_fresh(void **state)
{
	struct secrets *s = ring("k1 @A\n");
	char *a = secrets_encrypt(s, AAD, "same", 4);
	char *b = secrets_encrypt(s, AAD, "same", 4);
	char *pa, *pb;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_string_not_equal(a, b);
	/* Nonces (first 16 base64 characters cover the 12 bytes) differ too. */
	assert_memory_not_equal(a + 6, b + 6, 16);
	pa = secrets_decrypt(s, AAD, a, NULL);
	pb = secrets_decrypt(s, AAD, b, NULL);
	assert_string_equal(pa, "same");
	assert_string_equal(pb, "same");
	free(pa);
	free(pb);
	free(a);
	free(b);
	secrets_free(s);
}

static void test_aad_null_is_empty(void **state)
{
	struct secrets *s = ring("k1 @A\n");
	char *enc = secrets_encrypt(s, NULL, "p", 1), *dec;

	(void)state;
	assert_non_null(enc);
	dec = secrets_decrypt(s, "", enc, NULL);
	assert_string_equal(dec, "p");
	free(dec);
	free(enc);
	secrets_free(s);
}

/* ---- rotation -------------------------------------------------------- */

static void test_rotation(void **state)
{
	struct secrets *old = ring("k1 @A\n");
	struct secrets *new = ring("# rotated\nk2 @B\nk1 @A\n");
	char *c1 = secrets_encrypt(old, AAD, "old secret", 10);
	char *c2 = secrets_encrypt(new, AAD, "new secret", 10);
	char *p;

	(void)state;
	assert_true(starts_with(c1, "v1:k1:"));
	assert_true(starts_with(c2, "v1:k2:"));
	p = secrets_decrypt(new, AAD, c1, NULL);
	assert_string_equal(p, "old secret");
	free(p);
	p = secrets_decrypt(new, AAD, c2, NULL);
	assert_string_equal(p, "new secret");
	free(p);
	/* The old ring has never heard of k2. */
	assert_null(secrets_decrypt(old, AAD, c2, NULL));
	free(c1);
	free(c2);
	secrets_free(old);
	secrets_free(new);
}

/* ---- tampering ------------------------------------------------------- */

static void test_wrong_aad(void **state)
{
	static const char *wrong[] = {
		"", NULL, "basic_credential.passwore", "basic_credential.password ",
		"basic_credential.passwordx", "basic_credential", "BASIC_CREDENTIAL.PASSWORD",
		"k1:basic_credential.password",
	};
	struct secrets *s = ring("k1 @A\n");
	char *enc = secrets_encrypt(s, AAD, "pw", 2);
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(wrong); i++)
		if (secrets_decrypt(s, wrong[i], enc, NULL))
			fail_msg("decrypted under aad \"%s\"", wrong[i] ? wrong[i] : "(null)");
	free(enc);
	secrets_free(s);
}

/* Flips every bit of nonce, ciphertext and tag in turn. */
static void test_every_bit_flip(void **state)
{
	struct secrets *s = ring("k1 @A\n");
	char *enc = secrets_encrypt(s, AAD, "flip me", 7);
	unsigned char blob[64];
	size_t len, i;
	int bit;

	(void)state;
	assert_int_equal(b64_decode(enc + 6, strlen(enc + 6), blob, sizeof blob,
	                            &len), 0);
	assert_int_equal(len, 12 + 7 + 16);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			char *body, form[128];

			blob[i] ^= (unsigned char)(1u << bit);
			body = b64_encode(blob, len);
			snprintf(form, sizeof form, "v1:k1:%s", body);
			if (secrets_decrypt(s, AAD, form, NULL))
				fail_msg("flip of byte %zu bit %d accepted", i, bit);
			free(body);
			blob[i] ^= (unsigned char)(1u << bit);
		}
	}
	free(enc);
	secrets_free(s);
}

/* k1 and k2 hold the same key bytes: only the kid in the AAD tells them
 * apart, so relabelling a ciphertext must fail. */
static void test_changed_kid(void **state)
{
	struct secrets *s = ring("k1 @A\nk2 @A\nK1 @B\n");
	char *enc = secrets_encrypt(s, AAD, "pw", 2);
	static const char *kids[] = { "k2", "K1", "k1x", "k", "" };
	char form[256];
	size_t i;

	(void)state;
	assert_true(starts_with(enc, "v1:k1:"));
	for (i = 0; i < ARRAY_LEN(kids); i++) {
		snprintf(form, sizeof form, "v1:%s:%s", kids[i], enc + 6);
		if (secrets_decrypt(s, AAD, form, NULL))
			fail_msg("accepted under kid \"%s\"", kids[i]);
	}
	free(enc);
	secrets_free(s);
}

static void test_truncated(void **state)
{
	struct secrets *s = ring("k1 @A\n");
	char *enc = secrets_encrypt(s, AAD, "truncate", 8), *form;
	unsigned char blob[64];
	size_t len, cut;

	(void)state;
	/* Every prefix of the stored form. */
	for (cut = 0; cut < strlen(enc); cut++) {
		form = strndup(enc, cut);
		if (secrets_decrypt(s, AAD, form, NULL))
			fail_msg("prefix of %zu characters accepted", cut);
		free(form);
	}
	/* Every shorter blob, validly re-encoded (drops tag bytes first). */
	assert_int_equal(b64_decode(enc + 6, strlen(enc + 6), blob, sizeof blob,
	                            &len), 0);
	for (cut = 0; cut < len; cut++) {
		char *body = b64_encode(blob, cut), buf[128];

		snprintf(buf, sizeof buf, "v1:k1:%s", body);
		if (secrets_decrypt(s, AAD, buf, NULL))
			fail_msg("blob of %zu bytes accepted", cut);
		free(body);
	}
	free(enc);
	secrets_free(s);
}

static void test_garbage(void **state)
{
	static const char *garbage[] = {
		"", "v", "v1", "v1:", "v1:k1", "v1:k1:", "v1::", "v1::AAAA",
		"v2:k1:AAAA", "V1:k1:AAAA", "v0:k1:AAAA", " v1:k1:AAAA",
		"v1:nokey:AAAA", "v1:k1:!!!!", "v1:k1:AAAA", "v1:k1:AAA",
		"v1:k1:====", "v1:k1:AAAA====",
		"v1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",   /* 28 zero bytes */
		"v1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"v1:k1:k1:AAAA", "v1:k1 :AAAA", "v1: k1:AAAA",
		"v1:k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1:AAAA",
		"v1:\xff\xfe:AAAA", "v1:k1:\n", "v1:k1:AAAA\n",
		"v1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
		":::::::::::", "v1:::::::::",
	};
	struct secrets *s = ring("k1 @A\n");
	size_t i, n = 77;

	(void)state;
	for (i = 0; i < ARRAY_LEN(garbage); i++)
		if (secrets_decrypt(s, AAD, garbage[i], &n))
			fail_msg("garbage #%zu accepted", i);
	assert_int_equal(n, 77);
	assert_null(secrets_decrypt(s, AAD, NULL, NULL));
	assert_null(secrets_decrypt(NULL, AAD, "v1:k1:AAAA", NULL));
	secrets_free(s);
}

/* Random single-character substitutions anywhere in a valid form: a cheap
 * stand-in for the fuzzer, mostly to show nothing crashes under ASan. */
static void test_random_mutations(void **state)
{
	struct secrets *s = ring("k1 @A\n");
	char *enc = secrets_encrypt(s, AAD, "mutate", 6), *form;
	size_t len = strlen(enc);
	int i;

	(void)state;
	form = strdup(enc);
	srand(42);
	for (i = 0; i < 5000; i++) {
		size_t pos = (size_t)rand() % len;
		char c = (char)(rand() % 255 + 1);
		char *dec;

		if (c == enc[pos])
			continue;
		form[pos] = c;
		dec = secrets_decrypt(s, AAD, form, NULL);
		if (dec)
			fail_msg("mutation at %zu to 0x%02x accepted", pos,
			         (unsigned char)c);
		form[pos] = enc[pos];
	}
	free(form);
	free(enc);
	secrets_free(s);
}

static void test_encrypt_refuses(void **state)
{
	struct secrets *s = ring("k1 @A\n");

	(void)state;
	assert_null(secrets_encrypt(NULL, AAD, "x", 1));
	assert_null(secrets_encrypt(s, AAD, NULL, 1));
	secrets_free(s);
	secrets_free(NULL);
}

/* ---- keyring parsing ------------------------------------------------- */

static void test_keyring_valid(void **state)
{
	static const struct {
		const char *text;
		const char *current;
	} cases[] = {
		{ "k1 @A", "k1" },
		{ "k1 @A\n", "k1" },
		{ "k1 @A\r\n", "k1" },
		{ "  \t k1 \t @A \t \n", "k1" },
		{ "# comment\n\n   \n# another\nk1 @A\n# trailing\n", "k1" },
		{ "  # indented comment\nk1 @A\n", "k1" },
		{ "new @B\nold @A\n", "new" },
		{ "old @A\r\nnew @B\r\n", "old" },
		{ "0123456789abcdef @A\n", "0123456789abcdef" },
		{ "A-_z9 @A\n", "A-_z9" },
		{ "_ @A\n", "_" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct secrets *s = ring(cases[i].text);
		char prefix[32], *enc = secrets_encrypt(s, "", "x", 1), *dec;

		snprintf(prefix, sizeof prefix, "v1:%s:", cases[i].current);
		if (!starts_with(enc, prefix))
			fail_msg("case #%zu: %s does not start with %s", i, enc, prefix);
		dec = secrets_decrypt(s, "", enc, NULL);
		assert_string_equal(dec, "x");
		free(dec);
		free(enc);
		secrets_free(s);
	}
}

static const struct {
	const char *text;
	const char *err;
} bad_rings[] = {
	{ "", "keyring has no keys" },
	{ "\n\n\n", "keyring has no keys" },
	{ "# just a comment\n", "keyring has no keys" },
	{ "k1 AAAA\n", "line 1: key must be 32 bytes of base64" },
	{ "\n\nk1 !!!!\n", "line 3: key must be 32 bytes of base64" },
	{ "# c\nk1 @L\n", "line 2: key must be 32 bytes of base64" },
	{ "k1 @S\n", "line 1: key must be 32 bytes of base64" },
	{ "k1 @A=\n", "line 1: key must be 32 bytes of base64" },
	{ "k1 @A\n\nk1 @B\n", "line 3: duplicate kid \"k1\"" },
	{ "k1 @A\nk2 @B\nk1 @A\n", "line 3: duplicate kid \"k1\"" },
	{ "bad.kid @A\n", "line 1: kid must be 1..16 characters of [A-Za-z0-9_-]" },
	{ "k:1 @A\n", "line 1: kid must be" },
	{ "0123456789abcdefg @A\n", "line 1: kid must be" },
	{ "k1 @A\nk\xc3\xa9 @B\n", "line 2: kid must be" },
	{ "k1\n", "line 1: expected \"<kid> <base64 key>\"" },
	{ "@A\n", "line 1: expected" },
	{ "k1 @A extra\n", "line 1: expected" },
	{ "k1 @A # comment\n", "line 1: expected" },
	{ "k1 ERERERERERERERERERER ERERERERERERERERERERERE=\n", "line 1: expected" },
	{ "k1=@A\n", "line 1: expected" },
};

static void test_keyring_errors(void **state)
{
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad_rings); i++) {
		char *text = expand(bad_rings[i].text);
		struct secrets *s;

		strcpy(err, "unset");
		s = secrets_load_text(text, err, sizeof err);
		if (s)
			fail_msg("case #%zu accepted", i);
		if (!starts_with(err, bad_rings[i].err))
			fail_msg("case #%zu: got \"%s\", want \"%s\"", i, err,
			         bad_rings[i].err);
		/* err is optional, and a short buffer is truncated, not overrun. */
		assert_null(secrets_load_text(text, NULL, 0));
		assert_null(secrets_load_text(text, err, 4));
		assert_int_equal(strlen(err), 3);
		free(text);
	}
	assert_null(secrets_load_text(NULL, err, sizeof err));
}

static void test_keyring_limit(void **state)
{
	char *a = key_b64(0x11, 32), *text = malloc(33 * 64), *o = text, err[128];
	struct secrets *s;
	int i;

	(void)state;
	for (i = 0; i < 32; i++)
		o += sprintf(o, "k%d %s\n", i, a);
	s = secrets_load_text(text, err, sizeof err);
	assert_non_null(s);
	secrets_free(s);
	sprintf(o, "k32 %s\n", a);
	s = secrets_load_text(text, err, sizeof err);
	assert_null(s);
	assert_string_equal(err, "line 33: too many keys (at most 32)");
	free(a);
	free(text);
}

/* ---- key files ------------------------------------------------------- */

static char *temp_file(const char *content, mode_t mode)
{
	char *path = strdup("/tmp/test_secrets.XXXXXX");
	int fd = mkstemp(path);
	size_t len = strlen(content);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void test_file_modes(void **state)
{
	static const struct {
		mode_t mode;
		bool   ok;
	} cases[] = {
		{ 0600, true }, { 0400, true }, { 0700, true },
		{ 0644, false }, { 0640, false }, { 0604, false },
		{ 0660, false }, { 0606, false }, { 0610, false }, { 0601, false },
	};
	char *text = expand("k1 @A\n"), err[512], want[512];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		char *path = temp_file(text, cases[i].mode);
		struct secrets *s = secrets_load_file(path, err, sizeof err);

		if (cases[i].ok) {
			if (!s)
				fail_msg("mode %04o refused: %s", (unsigned)cases[i].mode, err);
		} else {
			if (s)
				fail_msg("mode %04o accepted", (unsigned)cases[i].mode);
			snprintf(want, sizeof want, "%s: must not be readable by group "
			         "or others (chmod 600)", path);
			assert_string_equal(err, want);
		}
		secrets_free(s);
		unlink(path);
		free(path);
	}
	free(text);
}

static void test_file_errors(void **state)
{
	char err[512], *path, *big;
	char dir[] = "/tmp/test_secrets_dir.XXXXXX";
	struct secrets *s;

	(void)state;
	/* Missing file: message names the path. */
	s = secrets_load_file("/nonexistent/master.key", err, sizeof err);
	assert_null(s);
	assert_true(starts_with(err, "/nonexistent/master.key: "));
	assert_null(secrets_load_file(NULL, err, sizeof err));

	/* Parse errors carry the path and the line. */
	path = temp_file("# header\nk1 short\n", 0600);
	assert_null(secrets_load_file(path, err, sizeof err));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ": line 2: key must be 32 bytes of base64"));
	unlink(path);
	free(path);

	/* Over 64 KiB (of comments) is refused; exactly 64 KiB is read. */
	big = malloc(65 * 1024 + 1);
	memset(big, '#', 65 * 1024);
	big[65 * 1024] = '\0';
	path = temp_file(big, 0600);
	assert_null(secrets_load_file(path, err, sizeof err));
	assert_non_null(strstr(err, "larger than 64 KiB"));
	unlink(path);
	free(path);
	{
		char *a = key_b64(0x11, 32);
		size_t n = (size_t)sprintf(big, "k1 %s\n", a);

		memset(big + n, '#', 64 * 1024 - n);
		big[64 * 1024] = '\0';
		free(a);
	}
	path = temp_file(big, 0600);
	s = secrets_load_file(path, err, sizeof err);
	if (!s)
		fail_msg("64 KiB file refused: %s", err);
	secrets_free(s);
	unlink(path);
	free(path);
	free(big);

	/* A directory is not a key file. */
	assert_non_null(mkdtemp(dir));
	assert_null(secrets_load_file(dir, err, sizeof err));
	assert_non_null(strstr(err, "not a regular file"));
	rmdir(dir);
}

static void test_file_nul_byte(void **state)
{
	char path[] = "/tmp/test_secrets.XXXXXX", *text = expand("k1 @A\n"), err[256];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(write(fd, "\0k2 x\n", 6), 6);
	close(fd);
	assert_null(secrets_load_file(path, err, sizeof err));
	assert_non_null(strstr(err, "contains a NUL byte"));
	unlink(path);
	free(text);
}

/* ---- key generation -------------------------------------------------- */

static void test_generate_line(void **state)
{
	static const char *bad_kids[] = {
		"", "a b", "k:1", "0123456789abcdefg", "k\n", "ké",
	};
	char *l1 = secrets_generate_line("k1"), *l2 = secrets_generate_line("k1");
	char err[256], *both, *enc, *dec;
	struct secrets *s;
	size_t i;

	(void)state;
	assert_non_null(l1);
	assert_int_equal(strlen(l1), 3 + 44 + 1);
	assert_true(starts_with(l1, "k1 "));
	assert_int_equal(l1[strlen(l1) - 1], '\n');
	assert_string_not_equal(l1, l2);
	/* A generated line is a keyring; two of them with another kid too. */
	s = secrets_load_text(l1, err, sizeof err);
	assert_non_null(s);
	secrets_free(s);
	both = malloc(strlen(l1) + strlen(l2) + 1);
	sprintf(both, "%s%s", l1, l2);
	s = secrets_load_text(both, err, sizeof err);
	assert_null(s);
	assert_string_equal(err, "line 2: duplicate kid \"k1\"");
	free(both);
	free(l2);
	l2 = secrets_generate_line("0123456789abcdef");
	assert_non_null(l2);
	both = malloc(strlen(l1) + strlen(l2) + 1);
	sprintf(both, "%s%s", l2, l1);
	s = secrets_load_text(both, err, sizeof err);
	assert_non_null(s);
	enc = secrets_encrypt(s, AAD, "g", 1);
	assert_true(starts_with(enc, "v1:0123456789abcdef:"));
	dec = secrets_decrypt(s, AAD, enc, NULL);
	assert_string_equal(dec, "g");
	free(dec);
	free(enc);
	secrets_free(s);
	free(both);
	for (i = 0; i < ARRAY_LEN(bad_kids); i++)
		assert_null(secrets_generate_line(bad_kids[i]));
	assert_null(secrets_generate_line(NULL));
	free(l1);
	free(l2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_nonce_fresh),
		cmocka_unit_test(test_aad_null_is_empty),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_wrong_aad),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_changed_kid),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_random_mutations),
		cmocka_unit_test(test_encrypt_refuses),
		cmocka_unit_test(test_keyring_valid),
		cmocka_unit_test(test_keyring_errors),
		cmocka_unit_test(test_keyring_limit),
		cmocka_unit_test(test_file_modes),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_nul_byte),
		cmocka_unit_test(test_generate_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
