/* libFuzzer target for service/httpparse.c.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iservice \
 *       tests/fuzz/fuzz_httpparse.c service/httpparse.c -o build/fuzz_httpparse
 *   build/fuzz_httpparse -max_total_time=180
 *
 * Every buffer is a heap copy of exactly the bytes the function may touch,
 * so ASan reports any read or write outside them. Besides "does not crash"
 * it checks properties that must hold for any input (abort() on failure):
 * head length/parse agreement, and that chunked decoding gives the same
 * result however the input is split. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *copy(const uint8_t *data, size_t n, size_t extra)
{
	char *p = malloc(n + extra ? n + extra : 1);

	if (!p)
		abort();
	if (n)
		memcpy(p, data, n);
	return p;
}

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void fuzz_target_helpers(const char *target)
{
	size_t n = strlen(target);
	char *t = copy((const uint8_t *)target, n, 1);
	char *path, *query;

	t[n] = '\0';
	if (http_split_target(t, &path, &query) == 0) {
		size_t plen = strlen(path), qlen = strlen(query);

		check(path[0] == '/');
		if (http_pct_decode(path, &plen, false) == 0)
			check(strlen(path) == plen);
		if (http_pct_decode(query, &qlen, true) == 0)
			check(strlen(query) == qlen);
	}
	free(t);
}

static void fuzz_head(const uint8_t *data, size_t size)
{
	size_t hl = http_head_length((const char *)data, size);
	struct http_head head;
	const char *why = NULL;
	char *buf;
	int rc;

	check(hl <= size);
	if (hl == 0) {
		/* No complete head: parsing all of it must fail cleanly. */
		buf = copy(data, size, 0);
		check(http_parse_head(buf, size, &head, &why) != HTTP_PARSE_OK && why);
		free(buf);
		return;
	}
	/* The head ends with its empty line, and no shorter prefix has one. */
	check(data[hl - 1] == '\n');
	check(http_head_length((const char *)data, hl - 1) == 0);

	if (hl < size) {
		/* Passing the body along is a caller bug the parser refuses. */
		buf = copy(data, size, 0);
		check(http_parse_head(buf, size, &head, &why) != HTTP_PARSE_OK);
		free(buf);
	}
	buf = copy(data, hl, 0);
	rc = http_parse_head(buf, hl, &head, &why);
	if (rc != HTTP_PARSE_OK) {
		check(why != NULL && rc < 0);
		free(buf);
		return;
	}
	check(head.nheaders <= HTTP_MAX_HEADERS && (head.minor == 0 || head.minor == 1));
	check(!(head.chunked && head.content_length >= 0));
	check(head.content_length <= 9007199254740992LL);
	(void)http_head_get(&head, "host");
	(void)http_head_get(&head, "Content-Type");
	fuzz_target_helpers(head.target);
	free(buf);
}

/* xorshift, seeded from the input, so that the splits are reproducible. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

struct chunk_result {
	ssize_t consumed;
	size_t outlen;
	bool done;
};

/* Decode in pieces of 1..max_piece random bytes (0: all at once). */
static struct chunk_result decode_split(const uint8_t *data, size_t size, char *out,
                                        uint32_t seed, size_t max_piece)
{
	struct chunk_result r = { 0, 0, false };
	struct http_chunked c;
	size_t pos = 0;

	memset(&c, 0, sizeof(c));
	while (pos < size) {
		size_t n = max_piece ? 1 + next_rand(&seed) % max_piece : size, got = 0;
		char *in;
		ssize_t k;

		if (n > size - pos)
			n = size - pos;
		in = copy(data + pos, n, 0);
		k = http_chunked_decode(&c, in, n, out + r.outlen, &got);
		free(in);
		if (k < 0) {
			r.consumed = -1;
			return r;
		}
		check((size_t)k <= n && got <= (size_t)k);
		r.outlen += got;
		pos += (size_t)k;
		if ((size_t)k < n) {
			check(c.done);
			break;
		}
	}
	r.consumed = (ssize_t)pos;
	r.done = c.done;
	if (c.done) {
		size_t got = 1;

		check(http_chunked_decode(&c, "0\r\n\r\n", 5, out, &got) == 0 && got == 0);
	}
	return r;
}

static void fuzz_chunked(const uint8_t *data, size_t size)
{
	char *whole = copy(NULL, 0, size), *split = copy(NULL, 0, size);
	uint32_t seed = 0x9e3779b9u;
	struct chunk_result a, b;
	size_t i;

	for (i = 0; i < size && i < 8; i++)
		seed = seed * 31 + data[i];
	a = decode_split(data, size, whole, 1, 0);
	b = decode_split(data, size, split, seed | 1, 1 + seed % 7);
	/* The decoder is a byte-at-a-time state machine: how the bytes were
	 * split must not change the outcome. */
	check(a.consumed == b.consumed);
	if (a.consumed >= 0) {
		check(a.outlen == b.outlen && a.done == b.done);
		check(a.outlen == 0 || memcmp(whole, split, a.outlen) == 0);
	}
	free(whole);
	free(split);
}

static void fuzz_pct(const uint8_t *data, size_t size)
{
	char *s = copy(data, size, 1);
	size_t len = size;

	s[size] = '\0';
	if (http_pct_decode(s, &len, size & 1) == 0)
		check(len <= size && s[len] == '\0' && memchr(s, '\0', len) == NULL);
	else
		check(len == size && memcmp(s, data, size) == 0);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_head(data, size);
	fuzz_chunked(data, size);
	fuzz_pct(data, size);
	(void)http_reason(size > 0 ? data[0] + 100 * (size % 6) : 0);
	return 0;
}
