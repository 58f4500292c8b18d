#include "utf8.h"

#include <stdbool.h>

size_t
odata_utf8_lead_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c >= 0xE0 && c <= 0xEF)
		return 3;
	if (c >= 0xF0 && c <= 0xF4)
		return 4;
	return 0;
}

/* The range the second byte must fall in: this is what rules out overlong
 * forms (E0, F0), UTF-16 surrogates (ED) and code points above U+10FFFF (F4). */
static bool
second_ok(unsigned char lead, unsigned char c)
{
	unsigned char lo = 0x80, hi = 0xBF;

	if (lead == 0xE0)
		lo = 0xA0;
	else if (lead == 0xED)
		hi = 0x9F;
	else if (lead == 0xF0)
		lo = 0x90;
	else if (lead == 0xF4)
		hi = 0x8F;
	return c >= lo && c <= hi;
}

size_t
odata_utf8_bad(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k, need;

	while (i < n) {
		need = odata_utf8_lead_len(s[i]);
		if (need == 0 || need > n - i)
			return i;
		if (need > 1 && !second_ok(s[i], s[i + 1]))
			return i;
		for (k = 2; k < need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
		i += need;
	}
	return n;
}
