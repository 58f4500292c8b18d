/* ssrf — see ssrf.h. Every address is first brought to one 16-byte form
 * (IPv4 as ::ffff:a.b.c.d) so that the allow-list and the tables compare
 * one way; IPv4 ranges are then judged on the 32-bit value, IPv6 ones on
 * prefixes of the bytes. */
#include "ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ITEM_MAX 64   /* longest address text (45) plus "/128", with room */

struct v4_range {
	uint32_t net;
	int prefix;
	const char *name;
};

/* IANA IPv4 Special-Purpose Address Registry, plus multicast and the old
 * class E. Looked up in order, so the /32 comes before its /4. */
static const struct v4_range v4_ranges[] = {
	{ 0x00000000, 8,  "this network" },
	{ 0x0a000000, 8,  "private-use" },
	{ 0x64400000, 10, "shared address space (CGNAT)" },
	{ 0x7f000000, 8,  "loopback" },
	{ 0xa9fe0000, 16, "link-local" },
	{ 0xac100000, 12, "private-use" },
	{ 0xc0000000, 24, "IETF protocol assignments" },
	{ 0xc0000200, 24, "documentation (TEST-NET-1)" },
	{ 0xc0586300, 24, "6to4 relay anycast" },
	{ 0xc0a80000, 16, "private-use" },
	{ 0xc6120000, 15, "benchmarking" },
	{ 0xc6336400, 24, "documentation (TEST-NET-2)" },
	{ 0xcb007100, 24, "documentation (TEST-NET-3)" },
	{ 0xe0000000, 4,  "multicast" },
	{ 0xffffffff, 32, "limited broadcast" },
	{ 0xf0000000, 4,  "reserved" },
};

/* What an IPv6 range means: refused outright, or carrying an IPv4 address
 * that is judged instead (at byte offset v4at). */
enum v6_kind { V6_REFUSE, V6_EMBEDS };

struct v6_range {
	unsigned char addr[16];
	int prefix;
	enum v6_kind kind;
	int v4at;
	const char *name;
};

/* IANA IPv6 Special-Purpose Address Registry. Looked up in order: the
 * exact ::/128 and ::1/128 before ::/96 (IPv4-compatible), Teredo before
 * the /23 that holds it. */
static const struct v6_range v6_ranges[] = {
	{ { 0 }, 128, V6_REFUSE, 0, "unspecified" },
	{ { [15] = 1 }, 128, V6_REFUSE, 0, "loopback" },
	{ { [10] = 0xff, [11] = 0xff }, 96, V6_EMBEDS, 12, "IPv4-mapped" },
	{ { 0 }, 96, V6_EMBEDS, 12, "IPv4-compatible" },
	{ { 0x00, 0x64, 0xff, 0x9b }, 96, V6_EMBEDS, 12, "NAT64" },
	/* Local-use NAT64 (RFC 8215) may use any RFC 6052 format from /48 to
	 * /96; only the /96 one (64:ff9b:1::a.b.c.d) says for certain which
	 * IPv4 address it reaches, so the rest of the /48 is refused below. */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 96, V6_EMBEDS, 12, "NAT64 local-use" },
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, V6_REFUSE, 0, "NAT64 local-use" },
	{ { 0x01, 0x00 }, 64, V6_REFUSE, 0, "discard-only" },
	{ { 0x20, 0x01 }, 32, V6_REFUSE, 0, "Teredo" },
	{ { 0x20, 0x01 }, 23, V6_REFUSE, 0, "IETF protocol assignments" },
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, V6_REFUSE, 0, "documentation" },
	{ { 0x3f, 0xff }, 20, V6_REFUSE, 0, "documentation" },
	{ { 0x20, 0x02 }, 16, V6_EMBEDS, 2, "6to4" },
	{ { 0xfc }, 7, V6_REFUSE, 0, "unique local" },
	{ { 0xfe, 0x80 }, 10, V6_REFUSE, 0, "link-local" },
	{ { 0xfe, 0xc0 }, 10, V6_REFUSE, 0, "site-local" },
	{ { 0xff }, 8, V6_REFUSE, 0, "multicast" },
	/* Everything outside 2000::/3 is unassigned or reserved by the IETF
	 * (the special cases that live there are listed above). */
	{ { 0x00 }, 3, V6_REFUSE, 0, "reserved" },
	{ { 0x40 }, 2, V6_REFUSE, 0, "reserved" },
	{ { 0x80 }, 1, V6_REFUSE, 0, "reserved" },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Whether the first prefix bits of a and b agree. */
static bool
prefix_match(const unsigned char *a, const unsigned char *b, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;
	unsigned char mask;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return ((a[full] ^ b[full]) & mask) == 0;
}

static void
v4_mapped(uint32_t v4, unsigned char out[16])
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	out[12] = (unsigned char)(v4 >> 24);
	out[13] = (unsigned char)(v4 >> 16);
	out[14] = (unsigned char)(v4 >> 8);
	out[15] = (unsigned char)v4;
}

static uint32_t
v4_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool
allowed(const unsigned char a[16], const struct ssrf_allow *allow)
{
	size_t i;

	if (allow == NULL)
		return false;
	for (i = 0; i < allow->n; i++)
		if (prefix_match(a, allow->r[i].addr, allow->r[i].prefix))
			return true;
	return false;
}

static const char *
judge_v4(uint32_t v4, const struct ssrf_allow *allow)
{
	unsigned char a[16];
	size_t i;

	v4_mapped(v4, a);
	if (allowed(a, allow))
		return NULL;
	for (i = 0; i < ARRAY_LEN(v4_ranges); i++) {
		const struct v4_range *r = &v4_ranges[i];
		uint32_t mask = r->prefix == 0 ? 0 : 0xffffffffu << (32 - r->prefix);

		if ((v4 & mask) == r->net)
			return r->name;
	}
	return NULL;
}

static const char *
judge_v6(const unsigned char a[16], const struct ssrf_allow *allow)
{
	size_t i;

	if (allowed(a, allow))
		return NULL;
	for (i = 0; i < ARRAY_LEN(v6_ranges); i++) {
		const struct v6_range *r = &v6_ranges[i];

		if (!prefix_match(a, r->addr, r->prefix))
			continue;
		if (r->kind == V6_REFUSE)
			return r->name;
		return judge_v4(v4_at(a + r->v4at), allow);
	}
	return NULL;
}

const char *
ssrf_check(const struct sockaddr *sa, const struct ssrf_allow *allow)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa == NULL)
		return "unsupported address family";
	/* Copied out: the caller's storage need not be aligned for either. */
	switch (sa->sa_family) {
	case AF_INET:
		memcpy(&sin, sa, sizeof(sin));
		return judge_v4(ntohl(sin.sin_addr.s_addr), allow);
	case AF_INET6:
		memcpy(&sin6, sa, sizeof(sin6));
		return judge_v6(sin6.sin6_addr.s6_addr, allow);
	default:
		return "unsupported address family";
	}
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* "0".."128" in plain decimal: no sign, no leading zero, no blanks. */
static int
parse_prefix(const char *s, int max)
{
	int v = 0;
	const char *p;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 3)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v <= max ? v : -1;
}

/* One item, NUL-terminated and trimmed, into r. Returns NULL or why not. */
static const char *
parse_item(char *item, struct ssrf_range *r)
{
	char *slash = strchr(item, '/');
	struct in_addr a4;
	struct in6_addr a6;
	bool v6 = strchr(item, ':') != NULL;
	int prefix, i;

	if (slash != NULL)
		*slash = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, item, &a6) != 1)
			return "not an IPv6 address";
		memcpy(r->addr, a6.s6_addr, 16);
	} else {
		if (inet_pton(AF_INET, item, &a4) != 1)
			return "not an IPv4 address";
		v4_mapped(ntohl(a4.s_addr), r->addr);
	}
	if (slash == NULL) {
		prefix = v6 ? 128 : 32;
	} else {
		prefix = parse_prefix(slash + 1, v6 ? 128 : 32);
		if (prefix < 0)
			return "bad prefix length";
	}
	r->prefix = v6 ? prefix : 96 + prefix;
	for (i = r->prefix; i < 128; i++)
		if (r->addr[i / 8] & (0x80 >> (i % 8)))
			return "host bits set beyond the prefix";
	return NULL;
}

static size_t
count_items(const char *list)
{
	size_t n = 1;

	for (; *list != '\0'; list++)
		if (*list == ',')
			n++;
	return n;
}

int
ssrf_allow_parse(const char *list, struct ssrf_allow *out, char *err, size_t errlen)
{
	const char *p = list, *end;
	char item[ITEM_MAX];
	const char *why;
	size_t len;

	out->r = NULL;
	out->n = 0;
	while (is_blank(*p))
		p++;
	if (*p == '\0')
		return 0;
	out->r = calloc(count_items(p), sizeof(*out->r));
	if (out->r == NULL) {
		set_err(err, errlen, "ssrf_allow: out of memory");
		return -1;
	}
	for (;;) {
		while (is_blank(*p))
			p++;
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && is_blank(p[len - 1]))
			len--;
		if (len == 0) {
			set_err(err, errlen, "ssrf_allow: empty item");
			goto fail;
		}
		if (len >= sizeof(item)) {
			set_err(err, errlen, "ssrf_allow: item too long: \"%.20s...\"", p);
			goto fail;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		why = parse_item(item, &out->r[out->n]);
		if (why != NULL) {
			set_err(err, errlen, "ssrf_allow: \"%.*s\": %s", (int)len, p, why);
			goto fail;
		}
		out->n++;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
fail:
	ssrf_allow_free(out);
	return -1;
}

void
ssrf_allow_free(struct ssrf_allow *a)
{
	if (a == NULL)
		return;
	free(a->r);
	a->r = NULL;
	a->n = 0;
}
