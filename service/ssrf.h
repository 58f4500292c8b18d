/* ssrf — which addresses outgoing deliveries may connect to.
 *
 * Destinations are refused at connect time when the address actually being
 * connected to (not the name in the URL: DNS rebinding gets no further)
 * is loopback, private, link-local, CGNAT, multicast, documentation,
 * benchmarking, reserved or any other special-use range of IPv4 or IPv6
 * (IANA special-purpose registries). IPv4-mapped (::ffff:a.b.c.d),
 * IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
 * judged by the IPv4 address they carry; so is the /96 form of the
 * local-use NAT64 prefix (64:ff9b:1::a.b.c.d), the rest of 64:ff9b:1::/48
 * is refused (other RFC 6052 layouts hide which IPv4 address they reach).
 * IPv6 outside 2000::/3 that no entry names is refused as "reserved", as is
 * the 3fff::/20 documentation prefix (RFC 9637). An allow-list from the
 * configuration (`ssrf_allow`) opens specific ranges again; it is matched
 * against the address connected to and against the IPv4 address it carries. */
#ifndef WEBHOOKD_SSRF_H
#define WEBHOOKD_SSRF_H

#include <stddef.h>

struct sockaddr;

struct ssrf_range {
	unsigned char addr[16];  /* IPv6; IPv4 as ::ffff:a.b.c.d */
	int prefix;              /* 0..128 (IPv4 /n is stored as /96+n) */
};

struct ssrf_allow {
	struct ssrf_range *r;
	size_t n;
};

/* Parse a comma-separated list of addresses or CIDR ranges ("127.0.0.1,
 * 10.0.0.0/8, ::1/128"); blanks around items are ignored, "" is the empty
 * list. Host bits set beyond the prefix are an error. On error returns -1
 * and writes a message naming the bad item into err. */
int ssrf_allow_parse(const char *list, struct ssrf_allow *out, char *err, size_t errlen);
void ssrf_allow_free(struct ssrf_allow *a);

/* NULL when sa (AF_INET or AF_INET6) may be connected to; otherwise a
 * static name of the range that refuses it, e.g. "loopback",
 * "private-use", "link-local", "shared address space (CGNAT)",
 * "multicast", ... Other address families are refused ("unsupported
 * address family"). allow may be NULL. */
const char *ssrf_check(const struct sockaddr *sa, const struct ssrf_allow *allow);

#endif
