/* b64 — strict standard base64 (RFC 4648 §4, '+' '/' with '=' padding).
 * Decoding accepts exactly one spelling of each byte string: no whitespace,
 * padding required, and the unused bits of the last character must be zero,
 * so stored forms that carry base64 cannot be altered without being noticed. */
#ifndef WEBHOOKD_B64_H
#define WEBHOOKD_B64_H

#include <stddef.h>

/* Returns a malloc'd NUL-terminated encoding of data, or NULL (out of memory
 * or len too large). data may be NULL when len is 0. */
char *b64_encode(const void *data, size_t len);

/* Decodes in[0..inlen) into out. Returns 0 and the byte count in *outlen, or
 * -1 on an invalid character (including NUL and whitespace), inlen not a
 * multiple of 4, misplaced or missing padding, non-zero padding bits, or a
 * result longer than outcap. On -1, out may have been partly written and
 * *outlen is left alone. */
int b64_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap,
               size_t *outlen);

/* An upper bound on the decoded size of inlen characters of base64. */
size_t b64_decoded_max(size_t inlen);

#endif
