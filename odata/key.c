/* key — the integrationKey codec; see key.h for the format. */
#include "key.h"
#include "utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SAP writes an absent attribute value as this literal part. */
static const char null_part[] = "null";
#define NULL_PART_LEN (sizeof(null_part) - 1)

static const char prop_prefix[] = "integrationKey=";
#define PROP_PREFIX_LEN (sizeof(prop_prefix) - 1)

/* ---- UTF-8 ---------------------------------------------------------- */

static bool
utf8_valid(const unsigned char *s, size_t n)
{
	return odata_utf8_bad((const char *)s, n) == n;
}

/* Length of s[0..len) without a multibyte character cut off at its end,
 * so that a truncated message stays valid UTF-8. Input that is invalid
 * already is left alone: the JSON layer copes with that. */
static size_t
utf8_trim(const char *s, size_t len)
{
	size_t k = 0, need;

	while (k < len && k < 4 && ((unsigned char)s[len - 1 - k] & 0xC0) == 0x80)
		k++;
	if (k == len || k == 4)
		return len;
	need = odata_utf8_lead_len((unsigned char)s[len - 1 - k]);
	return need > k + 1 ? len - 1 - k : len;
}

/* ---- encoding ------------------------------------------------------- */

/* java.net.URLEncoder's set of bytes that stay as they are. */
static bool
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '*' || c == '_';
}

/* Encoded length of one value; SIZE_MAX if it does not fit in a size_t. */
static size_t
part_len(const char *v)
{
	const unsigned char *p;
	size_t n = 0;

	if (v == NULL)
		return NULL_PART_LEN;
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (n > SIZE_MAX - 3)
			return SIZE_MAX;
		n += (is_unreserved(*p) || *p == ' ') ? 1 : 3;
	}
	return n;
}

static char *
encode_part(char *out, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	if (v == NULL) {
		memcpy(out, null_part, NULL_PART_LEN);
		return out + NULL_PART_LEN;
	}
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (is_unreserved(*p)) {
			*out++ = (char)*p;
		} else if (*p == ' ') {
			*out++ = '+';
		} else {
			*out++ = '%';
			*out++ = hex[*p >> 4];
			*out++ = hex[*p & 0x0F];
		}
	}
	return out;
}

char *
odata_key_encode(const char *const *values, size_t n)
{
	size_t total = 1, i, part;	/* 1: the terminating NUL */
	char *key, *p;

	if (values == NULL && n > 0)
		return NULL;
	for (i = 0; i < n; i++) {
		part = part_len(values[i]);
		if (part == SIZE_MAX || part >= SIZE_MAX - total)
			return NULL;
		total += part + (i > 0);	/* + the '|' before it */
	}
	key = malloc(total);
	if (key == NULL)
		return NULL;
	p = key;
	for (i = 0; i < n; i++) {
		if (i > 0)
			*p++ = '|';
		p = encode_part(p, values[i]);
	}
	*p = '\0';
	return key;
}

/* ---- key predicates ------------------------------------------------- */

/* Unquotes s[0..n), which must be exactly one '...' string literal with
 * '' for each ' inside. */
static int
unquote(const char *s, size_t n, char **out)
{
	char *key = NULL, *w;
	size_t i;

	if (n < 2 || s[0] != '\'')
		goto fail;
	key = malloc(n - 1);	/* the content, at most n - 2 bytes, and a NUL */
	if (key == NULL)
		goto fail;
	w = key;
	for (i = 1; i < n; i++) {
		if (s[i] != '\'') {
			*w++ = s[i];
			continue;
		}
		if (i + 1 == n) {	/* the closing quote, last byte */
			*w = '\0';
			*out = key;
			return 0;
		}
		/* Anything but a second ' is a lone quote or trailing junk. */
		if (s[i + 1] != '\'')
			goto fail;
		*w++ = '\'';
		i++;
	}
fail:	/* also reached by falling out of the loop: unterminated */
	free(key);
	return -1;
}

int
odata_key_predicate(const char *pred, size_t len, char **key_out)
{
	size_t skip = 0;

	if (key_out == NULL)
		return -1;
	*key_out = NULL;
	/* A NUL would silently cut the key short in every C string after us. */
	if (pred == NULL || len == 0 || memchr(pred, '\0', len) != NULL)
		return -1;
	/* Case-sensitive and without blanks, as OData's ABNF has it; anything
	 * else is not this key's name and fails the quote test below. */
	if (len > PROP_PREFIX_LEN && memcmp(pred, prop_prefix, PROP_PREFIX_LEN) == 0)
		skip = PROP_PREFIX_LEN;
	return unquote(pred + skip, len - skip, key_out);
}

#define MAX_KEY_NAME 128

int
odata_key_predicate_named(const char *pred, size_t len, char **name_out, char **key_out)
{
	size_t k = 0;
	char *name;

	if (name_out == NULL || key_out == NULL) {
		if (key_out != NULL)
			*key_out = NULL;
		return -1;
	}
	*name_out = NULL;
	*key_out = NULL;
	if (pred == NULL || len == 0 || memchr(pred, '\0', len) != NULL)
		return -1;
	if (pred[0] == '\'')
		return unquote(pred, len, key_out);
	/* name= then the quoted literal; no blanks anywhere (OData's ABNF) */
	while (k < len && ((pred[k] >= 'A' && pred[k] <= 'Z') || (pred[k] >= 'a' && pred[k] <= 'z') ||
	    pred[k] == '_' || (k > 0 && pred[k] >= '0' && pred[k] <= '9')))
		k++;
	if (k == 0 || k > MAX_KEY_NAME || k + 1 >= len || pred[k] != '=')
		return -1;
	if (unquote(pred + k + 1, len - k - 1, key_out) != 0)
		return -1;
	name = malloc(k + 1);
	if (name == NULL) {
		free(*key_out);
		*key_out = NULL;
		return -1;
	}
	memcpy(name, pred, k);
	name[k] = '\0';
	*name_out = name;
	return 0;
}

/* ---- splitting and decoding ----------------------------------------- */

int
odata_key_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads the %XX escape at s[0..n) (s[0] is the '%') into *byte. */
static int
decode_escape(const char *s, size_t n, unsigned char *byte)
{
	int hi, lo;

	if (n < 3)
		return -1;
	hi = odata_key_hex_value((unsigned char)s[1]);
	lo = odata_key_hex_value((unsigned char)s[2]);
	if (hi < 0 || lo < 0)
		return -1;
	*byte = (unsigned char)(hi << 4 | lo);
	return 0;
}

/* Form-URL-decodes the part s[0..n) into a malloc'd *out (NULL for the
 * literal "null"). */
static int
decode_part(const char *s, size_t n, char **out)
{
	unsigned char *buf = NULL, byte;
	size_t i, len = 0;

	*out = NULL;
	if (n == NULL_PART_LEN && memcmp(s, null_part, n) == 0)
		return 0;
	buf = malloc(n + 1);
	if (buf == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		byte = (unsigned char)s[i];
		if (byte == '+') {
			byte = ' ';
		} else if (byte == '%') {
			if (decode_escape(s + i, n - i, &byte) != 0 || byte == 0)
				goto fail;
			i += 2;
		}
		buf[len++] = byte;
	}
	buf[len] = '\0';
	if (!utf8_valid(buf, len))
		goto fail;
	*out = (char *)buf;
	return 0;
fail:
	free(buf);
	return -1;
}

static size_t
count_parts(const char *key)
{
	size_t n = 1;

	for (; *key != '\0'; key++)
		n += *key == '|';
	return n;
}

int
odata_key_split(const char *key, size_t arity, char ***values_out)
{
	char **v = NULL;
	const char *p;
	size_t i, n;

	if (values_out == NULL)
		return -1;
	*values_out = NULL;
	/* Counted first, so that a huge arity never reaches calloc. */
	if (key == NULL || arity == 0 || count_parts(key) != arity)
		goto fail;
	v = calloc(arity, sizeof(*v));
	if (v == NULL)
		goto fail;
	for (i = 0, p = key; i < arity; i++, p += n + 1) {
		n = strcspn(p, "|");
		if (decode_part(p, n, &v[i]) != 0)
			goto fail;
	}
	*values_out = v;
	return 0;
fail:
	odata_key_free_values(v, arity);
	return -1;
}

void
odata_key_free_values(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- the error message ---------------------------------------------- */

int
odata_key_error_message(char *buf, size_t size, const char *key, const char *type)
{
	int n;

	if (buf == NULL && size > 0)
		return -1;
	n = snprintf(buf, size, "The integration key [%s] is invalid. Please consult "
	    "the IntegrationKey definition of [%s] for configuration details.",
	    key != NULL ? key : "", type != NULL ? type : "");
	if (n < 0)
		return -1;
	if (size > 0 && (size_t)n >= size)
		buf[utf8_trim(buf, size - 1)] = '\0';
	return n;
}
