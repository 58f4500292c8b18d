/* utf8 — strict UTF-8 validation shared by the OData codecs (keys, URLs):
 * no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF —
 * exactly what PostgreSQL would refuse later anyway. */
#ifndef WEBHOOKD_ODATA_UTF8_H
#define WEBHOOKD_ODATA_UTF8_H

#include <stddef.h>

/* Length of the character a lead byte announces; 0 for a byte that cannot
 * start one (a continuation byte, C0, C1, F5..FF). */
size_t odata_utf8_lead_len(unsigned char c);

/* Offset of the first byte of s[0..n) that does not start a valid UTF-8
 * character, or n when the whole text is valid. */
size_t odata_utf8_bad(const char *s, size_t n);

#endif
