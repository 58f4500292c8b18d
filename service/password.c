/* password — see password.h. */
#include "password.h"

#include "b64.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define PREFIX   "pbkdf2-sha256$"
#define SALT_LEN 16
#define SALT_MIN 8
#define SALT_MAX 64
#define HASH_LEN 32
#define ITER_MIN 1000u
#define ITER_MAX 100000000u   /* 9 digits: also bounds the parser */

struct stored {
	unsigned      iterations;
	unsigned char salt[SALT_MAX];
	size_t        salt_len;
	unsigned char hash[HASH_LEN];
};

static int derive(const char *password, const unsigned char *salt,
                  size_t salt_len, unsigned iterations,
                  unsigned char out[HASH_LEN])
{
	size_t len = strlen(password);

	if (len > INT_MAX || iterations > INT_MAX)
		return -1;
	return PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)salt_len,
	                         (int)iterations, EVP_sha256(), HASH_LEN,
	                         out) == 1 ? 0 : -1;
}

char *password_hash(const char *password, unsigned iterations)
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	char *salt64 = NULL, *hash64 = NULL, *out = NULL;
	size_t n;

	/* Above ITER_MAX password_verify would refuse the result. */
	if (!password || iterations < ITER_MIN || iterations > ITER_MAX)
		return NULL;
	if (RAND_bytes(salt, sizeof salt) != 1 ||
	    derive(password, salt, sizeof salt, iterations, hash) < 0)
		goto fail;
	salt64 = b64_encode(salt, sizeof salt);
	hash64 = b64_encode(hash, sizeof hash);
	if (!salt64 || !hash64)
		goto fail;
	n = strlen(PREFIX) + 10 + 1 + strlen(salt64) + 1 + strlen(hash64) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, PREFIX "%u$%s$%s", iterations, salt64, hash64);
fail:
	OPENSSL_cleanse(hash, sizeof hash);
	free(salt64);
	free(hash64);
	return out;
}

/* Plain digits only: strtoul would also take a sign, leading blanks, "0x"
 * and leading zeros, each a second spelling of the same stored form. */
static int parse_iterations(const char *p, size_t len, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 9 || p[0] == '0')
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v < ITER_MIN || v > ITER_MAX)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Exactly four '$'-separated fields, each strictly valid. */
static int parse_stored(const char *s, struct stored *st)
{
	const char *iter, *iter_end, *salt, *salt_end, *hash;
	size_t n;

	if (strncmp(s, PREFIX, strlen(PREFIX)) != 0)
		return -1;
	iter = s + strlen(PREFIX);
	iter_end = strchr(iter, '$');
	if (!iter_end)
		return -1;
	salt = iter_end + 1;
	salt_end = strchr(salt, '$');
	if (!salt_end)
		return -1;
	hash = salt_end + 1;
	if (strchr(hash, '$'))
		return -1;
	if (parse_iterations(iter, (size_t)(iter_end - iter), &st->iterations) < 0)
		return -1;
	if (b64_decode(salt, (size_t)(salt_end - salt), st->salt, SALT_MAX,
	               &st->salt_len) < 0 || st->salt_len < SALT_MIN)
		return -1;
	if (b64_decode(hash, strlen(hash), st->hash, HASH_LEN, &n) < 0 ||
	    n != HASH_LEN)
		return -1;
	return 0;
}

bool password_verify(const char *password, const char *stored)
{
	unsigned char hash[HASH_LEN];
	struct stored st;
	bool ok = false;

	if (!password || !stored || parse_stored(stored, &st) < 0)
		return false;
	if (derive(password, st.salt, st.salt_len, st.iterations, hash) < 0)
		goto fail;
	ok = CRYPTO_memcmp(hash, st.hash, HASH_LEN) == 0;
fail:
	OPENSSL_cleanse(hash, sizeof hash);
	return ok;
}

int password_generate(char *buf, size_t bufsize, size_t len)
{
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[64];
	size_t i = 0, j = sizeof rnd;

	if (!buf || len >= bufsize)
		return -1;
	while (i < len) {
		if (j == sizeof rnd) {
			if (RAND_bytes(rnd, sizeof rnd) != 1)
				goto fail;
			j = 0;
		}
		/* 248 = 4 * 62: bytes from 248 up would favour the first 8
		 * characters, so they are dropped rather than reduced. */
		if (rnd[j] < 248)
			buf[i++] = alnum[rnd[j] % 62];
		j++;
	}
	buf[len] = '\0';
	OPENSSL_cleanse(rnd, sizeof rnd);
	return 0;
fail:
	OPENSSL_cleanse(rnd, sizeof rnd);
	OPENSSL_cleanse(buf, len);
	buf[0] = '\0';
	return -1;
}
