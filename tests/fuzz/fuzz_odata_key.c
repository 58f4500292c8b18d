/* libFuzzer target for odata/key.c.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iodata \
 *       tests/fuzz/fuzz_odata_key.c odata/key.c -o build/fuzz/fuzz_odata_key
 *   build/fuzz/fuzz_odata_key -max_total_time=180
 *
 * Besides "does not crash", it checks properties that must hold for any
 * input (abort() on failure):
 *  - the round trip: the input read as up to 4 values separated by 0xFF
 *    (a value that is exactly 0xFE stands for NULL) gives the same values
 *    back from split(predicate(quote(encode(v)))), "null" coming back as
 *    NULL; a value that is not valid UTF-8 must make split fail instead;
 *  - the input as a predicate: parsing is idempotent under re-quoting;
 *  - the input as a key: whatever split accepts is valid UTF-8 and survives
 *    encode and split again;
 *  - the error message honours its size, and stays a prefix of the whole.
 * The UTF-8 check here is written differently from key.c's on purpose, so
 * that the two are tested against each other. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

#define MAXV 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static char *copy(const void *data, size_t n, size_t extra)
{
	char *p = malloc(n + extra ? n + extra : 1);

	check(p != NULL);
	if (n)
		memcpy(p, data, n);
	return p;
}

/* Decodes each sequence to its code point and checks the range: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xE0) == 0xC0) {
			len = 2;
			cp = s[i] & 0x1F;
		} else if ((s[i] & 0xF0) == 0xE0) {
			len = 3;
			cp = s[i] & 0x0F;
		} else if ((s[i] & 0xF8) == 0xF0) {
			len = 4;
			cp = s[i] & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

static char *quote(const char *key, bool named)
{
	char *out = copy(NULL, 0, strlen(key) * 2 + 32), *w = out;

	if (named)
		w += sprintf(w, "integrationKey=");
	*w++ = '\'';
	for (; *key != '\0'; key++) {
		if (*key == '\'')
			*w++ = '\'';
		*w++ = *key;
	}
	*w++ = '\'';
	*w = '\0';
	return out;
}

static bool same_value(const char *got, const char *want)
{
	if (want == NULL || strcmp(want, "null") == 0)
		return got == NULL;
	return got != NULL && strcmp(got, want) == 0;
}

/* The encoder's output alphabet, and exactly n - 1 separators. */
static void check_encoded(const char *key, size_t n)
{
	size_t bars = 0;
	const char *p;

	for (p = key; *p != '\0'; p++) {
		bars += *p == '|';
		check(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789.-*_+%|", *p) != NULL);
	}
	check(bars + 1 == n);
}

/* key -> predicate -> key, through a heap copy of the exact length. */
static char *through_predicate(const char *key, bool named)
{
	char *pred = quote(key, named), *exact, *parsed;
	size_t len = strlen(pred);

	exact = copy(pred, len, 0);
	check(odata_key_predicate(exact, len, &parsed) == 0);
	check(strcmp(parsed, key) == 0);
	free(exact);
	free(pred);
	return parsed;
}

static void round_trip(char **vals, size_t n, bool all_valid)
{
	char *key = odata_key_encode((const char *const *)vals, n), *parsed, **got;
	size_t i;
	int rc;

	check(key != NULL);
	check_encoded(key, n);
	parsed = through_predicate(key, n & 1);
	rc = odata_key_split(parsed, n, &got);
	if (!all_valid) {
		check(rc == -1 && got == NULL);
	} else {
		check(rc == 0);
		for (i = 0; i < n; i++)
			check(same_value(got[i], vals[i]));
		odata_key_free_values(got, n);
		check(odata_key_split(parsed, n + 1, &got) == -1 && got == NULL);
	}
	free(parsed);
	free(key);
}

/* The input as up to MAXV values separated by 0xFF. */
static void fuzz_values(const uint8_t *data, size_t size)
{
	char *vals[MAXV] = { NULL };
	size_t n = 0, start = 0, i, end;
	bool all_valid = true;

	if (memchr(data, 0, size) != NULL)
		return;	/* values are C strings */
	while (n < MAXV) {
		const uint8_t *sep = n + 1 < MAXV ? memchr(data + start, 0xFF, size - start) : NULL;

		end = sep ? (size_t)(sep - data) : size;
		if (!(end - start == 1 && data[start] == 0xFE)) {
			vals[n] = copy(data + start, end - start, 1);
			vals[n][end - start] = '\0';
			all_valid &= valid_utf8(data + start, end - start);
		}
		n++;
		if (!sep)
			break;
		start = end + 1;
	}
	round_trip(vals, n, all_valid);
	for (i = 0; i < n; i++)
		free(vals[i]);
}

/* The named form accepts what the strict one does, and more: the name is
 * an identifier before the first '=', the key no longer than the rest. */
static void fuzz_named_predicate(const uint8_t *data, size_t size)
{
	char *pred = copy(data, size, 0), *key = (char *)"x", *name = (char *)"x", *strict = NULL;
	int rc = odata_key_predicate_named(pred, size, &name, &key);

	if (odata_key_predicate(pred, size, &strict) == 0) {
		check(rc == 0 && strcmp(strict, key) == 0);
		check(name == NULL || strcmp(name, "integrationKey") == 0);
		free(strict);
	}
	if (rc == 0) {
		check(memchr(data, 0, size) == NULL);
		check(size >= 2 && strlen(key) <= size - 2);
		if (name != NULL) {
			size_t n = strlen(name);

			check(n >= 1 && n <= 128 && n + 3 <= size && data[n] == '=');
			check(memcmp(name, data, n) == 0);
			check(strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_") == n && !(name[0] >= '0' && name[0] <= '9'));
		}
		free(key);
		free(name);
	} else {
		check(key == NULL && name == NULL);
	}
	free(pred);
}

static void fuzz_predicate(const uint8_t *data, size_t size)
{
	char *pred = copy(data, size, 0), *key = (char *)"x", *again;

	if (odata_key_predicate(pred, size, &key) == 0) {
		check(size >= 2 && strlen(key) <= size - 2);
		check(memchr(data, 0, size) == NULL);
		again = through_predicate(key, size & 1);
		free(again);
		free(key);
	} else {
		check(key == NULL);
	}
	free(pred);
	fuzz_named_predicate(data, size);
}

static void fuzz_split(const uint8_t *data, size_t size)
{
	char *key, **v, **w, *enc;
	size_t arity = 1, i;

	if (memchr(data, 0, size) != NULL)
		return;
	key = copy(data, size, 1);
	key[size] = '\0';
	for (i = 0; i < size; i++)
		arity += key[i] == '|';
	if (odata_key_split(key, arity, &v) != 0) {
		check(v == NULL);
		free(key);
		return;
	}
	for (i = 0; i < arity; i++)
		check(v[i] == NULL || valid_utf8((const unsigned char *)v[i], strlen(v[i])));
	/* Encoding what was decoded gives the canonical key, which decodes to
	 * the same values again (NULL and "null" included). */
	enc = odata_key_encode((const char *const *)v, arity);
	check(enc != NULL);
	check(odata_key_split(enc, arity, &w) == 0);
	for (i = 0; i < arity; i++)
		check(same_value(w[i], v[i]));
	odata_key_free_values(w, arity);
	odata_key_free_values(v, arity);
	free(enc);
	check(odata_key_split(key, arity + 1, &v) == -1);
	free(key);
}

static void fuzz_message(const uint8_t *data, size_t size)
{
	char *key, full[1024], *buf;
	size_t bsize = size ? data[0] % 200 : 0;
	int n, m;

	if (size > 512 || memchr(data, 0, size) != NULL)
		return;
	key = copy(data, size, 1);
	key[size] = '\0';
	n = odata_key_error_message(full, sizeof(full), key, "WebhookConfiguration");
	check(n > 0 && (size_t)n < sizeof(full) && strlen(full) == (size_t)n);
	buf = copy(NULL, 0, bsize);
	m = odata_key_error_message(buf, bsize, key, "WebhookConfiguration");
	check(m == n);
	if (bsize > 0) {
		size_t got = strnlen(buf, bsize);

		check(got < bsize && memcmp(buf, full, got) == 0);
		/* at most a 3-byte tail of one character was cut beyond the limit */
		check(got + 4 > bsize - 1 || got == (size_t)n);
	}
	free(buf);
	free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_values(data, size);
	fuzz_predicate(data, size);
	fuzz_split(data, size);
	fuzz_message(data, size);
	return 0;
}
