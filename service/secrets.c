/* secrets — see secrets.h. */
#include "secrets.h"

#include "b64.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define KEY_LEN   32
#define NONCE_LEN 12
#define TAG_LEN   16
#define KID_MAX   16
#define MAX_KEYS  32
#define FILE_MAX  (64 * 1024)
#define VERSION   "v1:"

struct key {
	char          kid[KID_MAX + 1];
	unsigned char bytes[KEY_LEN];
};

struct secrets {
	size_t     n;
	struct key keys[MAX_KEYS];   /* keys[0] encrypts */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Explicit ranges rather than isalnum(), whose answer depends on the locale. */
static bool kid_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool valid_kid(const char *kid, size_t len)
{
	size_t i;

	if (len == 0 || len > KID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!kid_char(kid[i]))
			return false;
	return true;
}

/* kid need not be NUL-terminated: decrypt looks it up inside the stored form. */
static const struct key *find_key(const struct secrets *s, const char *kid,
                                  size_t len)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strlen(s->keys[i].kid) == len &&
		    memcmp(s->keys[i].kid, kid, len) == 0)
			return &s->keys[i];
	return NULL;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Parses "<kid> <base64>" in [p, end), already trimmed and non-empty, into
 * the next free slot. A half-filled slot is harmless: secrets_free wipes all
 * of them. */
static int parse_line(struct secrets *s, const char *p, const char *end,
                      unsigned lineno, char *err, size_t errlen)
{
	const char *kid = p, *key;
	size_t kid_len, key_len, n;
	struct key *k;

	while (p < end && !blank(*p))
		p++;
	kid_len = (size_t)(p - kid);
	while (p < end && blank(*p))
		p++;
	key = p;
	while (p < end && !blank(*p))
		p++;
	key_len = (size_t)(p - key);
	if (key_len == 0 || p != end) {
		set_err(err, errlen, "line %u: expected \"<kid> <base64 key>\"", lineno);
		return -1;
	}
	if (!valid_kid(kid, kid_len)) {
		set_err(err, errlen, "line %u: kid must be 1..%d characters of "
		        "[A-Za-z0-9_-]", lineno, KID_MAX);
		return -1;
	}
	if (find_key(s, kid, kid_len)) {
		set_err(err, errlen, "line %u: duplicate kid \"%.*s\"", lineno,
		        (int)kid_len, kid);
		return -1;
	}
	if (s->n == MAX_KEYS) {
		set_err(err, errlen, "line %u: too many keys (at most %d)", lineno,
		        MAX_KEYS);
		return -1;
	}
	k = &s->keys[s->n];
	if (b64_decode(key, key_len, k->bytes, KEY_LEN, &n) < 0 || n != KEY_LEN) {
		set_err(err, errlen, "line %u: key must be %d bytes of base64", lineno,
		        KEY_LEN);
		return -1;
	}
	memcpy(k->kid, kid, kid_len);
	k->kid[kid_len] = '\0';
	s->n++;
	return 0;
}

struct secrets *secrets_load_text(const char *text, char *err, size_t errlen)
{
	struct secrets *s = NULL;
	const char *p, *nl, *end;
	unsigned lineno = 0;

	if (!text) {
		set_err(err, errlen, "no keyring text");
		goto fail;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	for (p = text; p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		end = nl ? nl : p + strlen(p);
		lineno++;
		while (p < end && blank(*p))
			p++;
		while (end > p && blank(end[-1]))
			end--;
		if (p == end || *p == '#')
			continue;
		if (parse_line(s, p, end, lineno, err, errlen) < 0)
			goto fail;
	}
	if (s->n == 0) {
		set_err(err, errlen, "keyring has no keys");
		goto fail;
	}
	return s;
fail:
	secrets_free(s);
	return NULL;
}

/* Refuses anything but a regular file private to its owner: the keyring is
 * the one thing that turns a database dump into plaintext credentials. fstat
 * on the open descriptor so the file checked is the file read. */
static int check_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & 077) {
		set_err(err, errlen, "%s: must not be readable by group or others "
		        "(chmod 600)", path);
		return -1;
	}
	return 0;
}

/* Reads up to cap bytes; *len == cap means the file may be longer. */
static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	size_t got = 0;
	ssize_t r;

	while (got < cap) {
		r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len = got;
	return 0;
}

struct secrets *secrets_load_file(const char *path, char *err, size_t errlen)
{
	struct secrets *s = NULL;
	char *buf = NULL, msg[256];
	size_t len = 0;
	int fd = -1;

	if (!path) {
		set_err(err, errlen, "no key file given");
		goto fail;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (check_file(fd, path, err, errlen) < 0)
		goto fail;
	buf = malloc(FILE_MAX + 1);
	if (!buf) {
		set_err(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	/* Ask for one byte more than allowed to tell "exactly 64 KiB" from "more". */
	if (read_all(fd, buf, FILE_MAX + 1, &len) < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (len > FILE_MAX) {
		set_err(err, errlen, "%s: larger than %d KiB", path, FILE_MAX / 1024);
		goto fail;
	}
	/* A NUL would silently end the text early and hide the keys after it. */
	if (memchr(buf, '\0', len)) {
		set_err(err, errlen, "%s: contains a NUL byte", path);
		goto fail;
	}
	buf[len] = '\0';
	s = secrets_load_text(buf, msg, sizeof msg);
	if (!s)
		set_err(err, errlen, "%s: %s", path, msg);
fail:
	if (fd >= 0)
		close(fd);
	if (buf) {
		/* Whole buffer: a failed read may have left key bytes past len. */
		OPENSSL_cleanse(buf, FILE_MAX + 1);
		free(buf);
	}
	return s;
}

void secrets_free(struct secrets *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

/* GCM authenticates "v1:<kid>:" followed by the caller's aad. A kid never
 * contains ':', so the split is unambiguous: changing the kid, the aad or
 * moving bytes between them all fail authentication. */
static int feed_aad(EVP_CIPHER_CTX *ctx, const char *kid, const char *aad)
{
	size_t aad_len = aad ? strlen(aad) : 0;
	int n;

	if (aad_len > INT_MAX ||
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)VERSION,
	                     (int)strlen(VERSION)) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)kid,
	                     (int)strlen(kid)) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)":", 1) != 1)
		return -1;
	if (aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n,
	                                    (const unsigned char *)aad,
	                                    (int)aad_len) != 1)
		return -1;
	return 0;
}

/* One AES-256-GCM pass over len bytes. Encrypting writes the tag; decrypting
 * checks it, and a mismatch is the only way EVP_CipherFinal_ex fails here. */
static int gcm(const struct key *k, int enc, const char *aad,
               const unsigned char *nonce, const unsigned char *in, int len,
               unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, rc = -1;

	if (!ctx ||
	    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, k->bytes, nonce, enc) != 1 ||
	    feed_aad(ctx, k->kid, aad) < 0)
		goto fail;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, len) != 1)
		goto fail;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		goto fail;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
		goto fail;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
		goto fail;
	rc = 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

char *secrets_encrypt(const struct secrets *s, const char *aad,
                      const void *plain, size_t plain_len)
{
	unsigned char *blob = NULL;
	char *b64 = NULL, *out = NULL;
	const struct key *k;
	size_t n;

	if (!s || s->n == 0 || (!plain && plain_len > 0) ||
	    plain_len > (size_t)INT_MAX - NONCE_LEN - TAG_LEN)
		return NULL;
	k = &s->keys[0];
	blob = malloc(NONCE_LEN + plain_len + TAG_LEN);
	if (!blob || RAND_bytes(blob, NONCE_LEN) != 1)
		goto fail;
	if (gcm(k, 1, aad, blob, plain, (int)plain_len, blob + NONCE_LEN,
	        blob + NONCE_LEN + plain_len) < 0)
		goto fail;
	b64 = b64_encode(blob, NONCE_LEN + plain_len + TAG_LEN);
	if (!b64)
		goto fail;
	n = strlen(VERSION) + strlen(k->kid) + 1 + strlen(b64) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, VERSION "%s:%s", k->kid, b64);
fail:
	free(blob);
	free(b64);
	return out;
}

char *secrets_decrypt(const struct secrets *s, const char *aad,
                      const char *stored, size_t *plain_len)
{
	const char *kid, *colon, *body;
	unsigned char *blob = NULL;
	const struct key *k;
	char *plain = NULL;
	size_t body_len, blob_len, len;

	if (!s || !stored || strncmp(stored, VERSION, strlen(VERSION)) != 0)
		return NULL;
	kid = stored + strlen(VERSION);
	colon = strchr(kid, ':');
	if (!colon || !(k = find_key(s, kid, (size_t)(colon - kid))))
		return NULL;
	body = colon + 1;
	body_len = strlen(body);
	blob = malloc(b64_decoded_max(body_len) + 1);
	if (!blob || b64_decode(body, body_len, blob, b64_decoded_max(body_len),
	                        &blob_len) < 0 ||
	    blob_len < NONCE_LEN + TAG_LEN)
		goto fail;
	len = blob_len - NONCE_LEN - TAG_LEN;
	if (len > INT_MAX || !(plain = malloc(len + 1)))
		goto fail;
	if (gcm(k, 0, aad, blob, blob + NONCE_LEN, (int)len,
	        (unsigned char *)plain, blob + NONCE_LEN + len) < 0) {
		/* Unauthenticated plaintext must not linger in freed memory. */
		OPENSSL_cleanse(plain, len);
		free(plain);
		plain = NULL;
		goto fail;
	}
	plain[len] = '\0';
	if (plain_len)
		*plain_len = len;
fail:
	free(blob);
	return plain;
}

char *secrets_generate_line(const char *kid)
{
	unsigned char key[KEY_LEN];
	char *b64 = NULL, *line = NULL;
	size_t n;

	if (!kid || !valid_kid(kid, strlen(kid)))
		return NULL;
	if (RAND_bytes(key, sizeof key) != 1)
		goto fail;
	b64 = b64_encode(key, sizeof key);
	if (!b64)
		goto fail;
	n = strlen(kid) + 1 + strlen(b64) + 2;
	line = malloc(n);
	if (line)
		snprintf(line, n, "%s %s\n", kid, b64);
fail:
	OPENSSL_cleanse(key, sizeof key);
	if (b64) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	return line;
}
