/* b64 — see b64.h. Hand-written rather than EVP_EncodeBlock/EVP_DecodeBlock:
 * those take int lengths, skip whitespace and hide how much padding there
 * was, and all three would need checks around them anyway. */
#include "b64.h"

#include <stdint.h>
#include <stdlib.h>

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a base64 character, or -1 for anything else (including '=' and
 * NUL). Range checks rather than a 256-entry table that could drift from
 * the alphabet above. */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

char *b64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out, *o;
	size_t i;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = alphabet[v >> 6 & 63];
		*o++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		*o++ = alphabet[p[i] >> 2];
		*o++ = alphabet[(p[i] & 3) << 4];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		*o++ = alphabet[p[i] >> 2];
		*o++ = alphabet[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = alphabet[(p[i + 1] & 15) << 2];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

size_t b64_decoded_max(size_t inlen)
{
	return inlen / 4 * 3 + (inlen % 4 ? 3 : 0);
}

/* Number of '=' at the end of a non-empty, 4-aligned input (0..2 are legal;
 * a third '=' is caught as an invalid character by decode_quad). */
static size_t padding(const char *in, size_t inlen)
{
	if (in[inlen - 1] != '=')
		return 0;
	return in[inlen - 2] == '=' ? 2 : 1;
}

/* Decodes one group of 4 characters carrying 3 - pad bytes. Every character
 * before the padding must be in the alphabet, and bits that fall off the end
 * must be zero so that only the canonical spelling decodes. */
static int decode_quad(const char *q, size_t pad, unsigned char *out)
{
	int s[4] = { 0, 0, 0, 0 };
	size_t k;
	uint32_t v;

	for (k = 0; k < 4 - pad; k++) {
		s[k] = sextet((unsigned char)q[k]);
		if (s[k] < 0)
			return -1;
	}
	v = (uint32_t)s[0] << 18 | (uint32_t)s[1] << 12 | (uint32_t)s[2] << 6 |
	    (uint32_t)s[3];
	if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
		return -1;
	out[0] = (unsigned char)(v >> 16);
	if (pad < 2)
		out[1] = (unsigned char)(v >> 8);
	if (pad < 1)
		out[2] = (unsigned char)v;
	return 0;
}

int b64_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap,
               size_t *outlen)
{
	size_t pad, need, i, o = 0;

	if (inlen % 4 != 0 || (inlen > 0 && !in))
		return -1;
	if (inlen == 0) {
		if (outlen)
			*outlen = 0;
		return 0;
	}
	pad = padding(in, inlen);
	need = inlen / 4 * 3 - pad;
	if (need > outcap || !out)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		size_t p = i + 4 == inlen ? pad : 0;

		if (decode_quad(in + i, p, out + o) < 0)
			return -1;
		o += 3 - p;
	}
	if (outlen)
		*outlen = o;
	return 0;
}
