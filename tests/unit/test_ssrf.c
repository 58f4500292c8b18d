/* Unit tests for ssrf: every special-use range at and just past its edges,
 * the IPv6 forms that carry an IPv4 address, allow-list parsing and its
 * effect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ssrf.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* An address as text (v4 or v6) into a sockaddr_storage. */
static const struct sockaddr *
addr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(443);
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(443);
		assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

/* want: NULL when allowed, else the range name ssrf_check must give. */
static const struct {
	const char *addr;
	const char *want;
} checks[] = {
	/* IPv4, each range at both ends and just outside where that is public */
	{ "0.0.0.0", "this network" },
	{ "0.255.255.255", "this network" },
	{ "1.0.0.0", NULL },
	{ "1.1.1.1", NULL },
	{ "8.8.8.8", NULL },
	{ "9.255.255.255", NULL },
	{ "10.0.0.0", "private-use" },
	{ "10.255.255.255", "private-use" },
	{ "11.0.0.0", NULL },
	{ "100.63.255.255", NULL },
	{ "100.64.0.0", "shared address space (CGNAT)" },
	{ "100.127.255.255", "shared address space (CGNAT)" },
	{ "100.128.0.0", NULL },
	{ "126.255.255.255", NULL },
	{ "127.0.0.0", "loopback" },
	{ "127.0.0.1", "loopback" },
	{ "127.255.255.255", "loopback" },
	{ "128.0.0.0", NULL },
	{ "169.253.255.255", NULL },
	{ "169.254.0.0", "link-local" },
	{ "169.254.169.254", "link-local" },
	{ "169.254.255.255", "link-local" },
	{ "169.255.0.0", NULL },
	{ "172.15.255.255", NULL },
	{ "172.16.0.0", "private-use" },
	{ "172.31.255.255", "private-use" },
	{ "172.32.0.0", NULL },
	{ "191.255.255.255", NULL },
	{ "192.0.0.0", "IETF protocol assignments" },
	{ "192.0.0.255", "IETF protocol assignments" },
	{ "192.0.1.0", NULL },
	{ "192.0.2.0", "documentation (TEST-NET-1)" },
	{ "192.0.2.255", "documentation (TEST-NET-1)" },
	{ "192.0.3.0", NULL },
	{ "192.88.98.255", NULL },
	{ "192.88.99.0", "6to4 relay anycast" },
	{ "192.88.99.255", "6to4 relay anycast" },
	{ "192.88.100.0", NULL },
	{ "192.167.255.255", NULL },
	{ "192.168.0.0", "private-use" },
	{ "192.168.1.1", "private-use" },
	{ "192.168.255.255", "private-use" },
	{ "192.169.0.0", NULL },
	{ "198.17.255.255", NULL },
	{ "198.18.0.0", "benchmarking" },
	{ "198.19.255.255", "benchmarking" },
	{ "198.20.0.0", NULL },
	{ "198.51.99.255", NULL },
	{ "198.51.100.0", "documentation (TEST-NET-2)" },
	{ "198.51.100.255", "documentation (TEST-NET-2)" },
	{ "198.51.101.0", NULL },
	{ "203.0.112.255", NULL },
	{ "203.0.113.0", "documentation (TEST-NET-3)" },
	{ "203.0.113.255", "documentation (TEST-NET-3)" },
	{ "203.0.114.0", NULL },
	{ "223.255.255.255", NULL },
	{ "224.0.0.0", "multicast" },
	{ "224.0.0.251", "multicast" },
	{ "239.255.255.255", "multicast" },
	{ "240.0.0.0", "reserved" },
	{ "255.255.255.254", "reserved" },
	{ "255.255.255.255", "limited broadcast" },

	/* IPv6 */
	{ "::", "unspecified" },
	{ "::1", "loopback" },
	{ "::2", "this network" },                 /* IPv4-compatible 0.0.0.2 */
	{ "2606:4700::1111", NULL },
	{ "2606:4700:4700::1001", NULL },
	{ "2a00:1450:4001:82a::200e", NULL },
	{ "2001:4860:4860::8888", NULL },
	{ "2000::", NULL },
	{ "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL },
	{ "3fff::", "documentation" },
	{ "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation" },
	{ "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved" },
	{ "4000::1", "reserved" },
	{ "5f00::1", "reserved" },
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved" },
	/* IPv4-mapped: the IPv4 address decides */
	{ "::ffff:127.0.0.1", "loopback" },
	{ "::ffff:7f00:1", "loopback" },
	{ "::ffff:10.1.2.3", "private-use" },
	{ "::ffff:169.254.169.254", "link-local" },
	{ "::ffff:172.15.255.255", NULL },
	{ "::ffff:172.16.0.0", "private-use" },
	{ "::ffff:8.8.8.8", NULL },
	{ "::ffff:0.0.0.0", "this network" },
	{ "::fffe:7f00:1", "reserved" },            /* just below ::ffff:0:0/96 */
	{ "::1:ffff:7f00:1", "reserved" },          /* just above it */
	{ "::ffff:0:7f00:1", "reserved" },          /* SIIT, not mapped */
	/* IPv4-compatible */
	{ "::127.0.0.1", "loopback" },
	{ "::10.0.0.1", "private-use" },
	{ "::8.8.8.8", NULL },
	/* NAT64 well-known prefix */
	{ "64:ff9b::127.0.0.1", "loopback" },
	{ "64:ff9b::192.168.0.1", "private-use" },
	{ "64:ff9b::169.254.169.254", "link-local" },
	{ "64:ff9b::8.8.8.8", NULL },
	{ "64:ff9b::1:0:808:808", "reserved" },     /* not the /96 */
	/* NAT64 local-use: the /96 form is judged, the rest refused */
	{ "64:ff9b:1::127.0.0.1", "loopback" },
	{ "64:ff9b:1::8.8.8.8", NULL },
	{ "64:ff9b:1:7f00:1::", "NAT64 local-use" },
	{ "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "NAT64 local-use" },
	{ "64:ff9b:2::8.8.8.8", "reserved" },
	/* discard-only */
	{ "100::", "discard-only" },
	{ "100::ffff:ffff:ffff:ffff", "discard-only" },
	{ "100:0:0:1::", "reserved" },
	/* IETF protocol assignments, Teredo */
	{ "2001::", "Teredo" },
	{ "2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo" },
	{ "2001:1::1", "IETF protocol assignments" },
	{ "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "IETF protocol assignments" },
	{ "2001:200::1", NULL },
	/* documentation */
	{ "2001:db8::", "documentation" },
	{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation" },
	{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL },
	{ "2001:db9::", NULL },
	/* 6to4: the IPv4 address in bits 16..47 decides */
	{ "2002:7f00:1::1", "loopback" },
	{ "2002:a00:1::", "private-use" },
	{ "2002:c0a8:101::1", "private-use" },
	{ "2002:a9fe:a9fe::", "link-local" },
	{ "2002:808:808::1", NULL },
	{ "2002::", "this network" },
	{ "2003::1", NULL },
	/* ULA, link-local, site-local, multicast */
	{ "fbff::1", "reserved" },
	{ "fc00::", "unique local" },
	{ "fd12:3456:789a::1", "unique local" },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local" },
	{ "fe00::1", "reserved" },
	{ "fe80::", "link-local" },
	{ "fe80::1", "link-local" },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local" },
	{ "fec0::", "site-local" },
	{ "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local" },
	{ "ff00::", "multicast" },
	{ "ff02::1", "multicast" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast" },
};

static void
test_check_table(void **state)
{
	struct sockaddr_storage ss;
	const char *got;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(checks); i++) {
		got = ssrf_check(addr(checks[i].addr, &ss), NULL);
		if (checks[i].want == NULL && got != NULL)
			fail_msg("%s: refused as \"%s\", want allowed", checks[i].addr, got);
		if (checks[i].want != NULL && got == NULL)
			fail_msg("%s: allowed, want \"%s\"", checks[i].addr, checks[i].want);
		if (got != NULL && strcmp(got, checks[i].want) != 0)
			fail_msg("%s: refused as \"%s\", want \"%s\"", checks[i].addr, got,
			    checks[i].want);
	}
}

/* An empty allow-list changes nothing. */
static void
test_check_empty_allow(void **state)
{
	struct sockaddr_storage ss;
	struct ssrf_allow a;
	char err[128];
	size_t i;

	(void)state;
	assert_int_equal(ssrf_allow_parse("", &a, err, sizeof(err)), 0);
	assert_int_equal(a.n, 0);
	for (i = 0; i < ARRAY_LEN(checks); i++)
		assert_true((ssrf_check(addr(checks[i].addr, &ss), &a) == NULL) ==
		    (checks[i].want == NULL));
	ssrf_allow_free(&a);
}

static void
test_check_other_family(void **state)
{
	struct sockaddr_un sun;

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_string_equal(ssrf_check((const struct sockaddr *)&sun, NULL),
	    "unsupported address family");
	assert_non_null(ssrf_check(NULL, NULL));
}

/* Lists that parse, with how many ranges they hold. */
static const struct {
	const char *list;
	size_t n;
} good_lists[] = {
	{ "", 0 },
	{ "   ", 0 },
	{ "127.0.0.1", 1 },
	{ "127.0.0.1/32", 1 },
	{ "10.0.0.0/8", 1 },
	{ "0.0.0.0/0", 1 },
	{ "::/0", 1 },
	{ "::1", 1 },
	{ "::1/128", 1 },
	{ "fd00::/8", 1 },
	{ "::ffff:127.0.0.1", 1 },
	{ "::ffff:0:0/96", 1 },
	{ "127.0.0.1, 10.0.0.0/8, ::1/128", 3 },
	{ " 127.0.0.1 ,\t10.0.0.0/8\t, fe80::/10 ", 3 },
	{ "192.168.0.0/16,172.16.0.0/12,10.0.0.0/8,100.64.0.0/10", 4 },
	{ "2001:db8::/32,2001:db8::1", 2 },
};

static const char *const bad_lists[] = {
	",",
	"a,,b",
	"127.0.0.1,,10.0.0.0/8",
	"127.0.0.1,",
	",127.0.0.1",
	"127.0.0.1, ,::1",
	"junk",
	"localhost",
	"example.com",
	"1.2.3",
	"1.2.3.4.5",
	"256.0.0.0",
	"01.2.3.4",
	"1.2.3.4/",
	"1.2.3.4/33",
	"1.2.3.4/-1",
	"1.2.3.4/+8",
	"1.2.3.4/08",
	"1.2.3.4/ 8",
	"1.2.3.4 /8",
	"1.2.3.4/8x",
	"1.2.3.4/1000",
	"10.0.0.1/8",           /* host bits */
	"127.0.0.1/8",
	"172.16.0.0/11",
	"0.0.0.1/0",
	"::1/129",
	"::1/64",               /* host bits */
	"fe80::1/10",
	"fe80::1%eth0",
	"[::1]",
	":::1",
	"1.2.3.4 5.6.7.8",
	"::ffff:127.0.0.1/32",  /* an IPv6 /32: host bits */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

static void
test_parse_good(void **state)
{
	struct ssrf_allow a;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(good_lists); i++) {
		err[0] = '\0';
		if (ssrf_allow_parse(good_lists[i].list, &a, err, sizeof(err)) != 0)
			fail_msg("\"%s\": %s", good_lists[i].list, err);
		assert_int_equal(a.n, good_lists[i].n);
		ssrf_allow_free(&a);
		assert_null(a.r);
		assert_int_equal(a.n, 0);
	}
}

static void
test_parse_bad(void **state)
{
	struct ssrf_allow a;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad_lists); i++) {
		err[0] = '\0';
		if (ssrf_allow_parse(bad_lists[i], &a, err, sizeof(err)) != -1)
			fail_msg("\"%s\" parsed", bad_lists[i]);
		assert_true(strncmp(err, "ssrf_allow: ", 12) == 0);
		assert_null(a.r);
		assert_int_equal(a.n, 0);
		/* A NULL or empty err buffer is fine too. */
		assert_int_equal(ssrf_allow_parse(bad_lists[i], &a, NULL, 0), -1);
	}
}

static void
test_parse_message_names_item(void **state)
{
	struct ssrf_allow a;
	char err[128];

	(void)state;
	assert_int_equal(ssrf_allow_parse("::1, 10.0.0.1/8", &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "10.0.0.1/8"));
	assert_non_null(strstr(err, "host bits"));
	assert_int_equal(ssrf_allow_parse("::1,,::2", &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
}

static void
test_parse_ranges(void **state)
{
	struct ssrf_allow a;
	unsigned char v4[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	unsigned char v6[16] = { 0xfd };

	(void)state;
	assert_int_equal(ssrf_allow_parse("127.0.0.1, fd00::/8, 10.0.0.0/8", &a, NULL, 0), 0);
	assert_int_equal(a.n, 3);
	assert_memory_equal(a.r[0].addr, v4, 16);
	assert_int_equal(a.r[0].prefix, 128);
	assert_memory_equal(a.r[1].addr, v6, 16);
	assert_int_equal(a.r[1].prefix, 8);
	assert_int_equal(a.r[2].prefix, 96 + 8);
	ssrf_allow_free(&a);
	ssrf_allow_free(NULL);
}

/* list, address, allowed? — with the list in force. */
static const struct {
	const char *list;
	const char *addr;
	bool allowed;
} effects[] = {
	{ "127.0.0.1/32", "127.0.0.1", true },
	{ "127.0.0.1/32", "127.0.0.2", false },
	{ "127.0.0.1/32", "::ffff:127.0.0.1", true },
	{ "127.0.0.1/32", "::1", false },
	{ "127.0.0.1", "127.0.0.1", true },
	{ "::ffff:127.0.0.1", "127.0.0.1", true },
	{ "::ffff:127.0.0.1", "127.0.0.2", false },
	{ "::ffff:127.0.0.0/120", "127.0.0.200", true },
	{ "::ffff:127.0.0.0/120", "127.0.1.0", false },
	{ "::1", "::1", true },
	{ "::1", "127.0.0.1", false },
	{ "::1/128", "::1", true },
	{ "10.0.0.0/8", "10.20.30.40", true },
	{ "10.0.0.0/8", "172.16.0.1", false },
	{ "10.0.0.0/8", "11.0.0.1", true },           /* public anyway */
	{ "10.0.0.0/8", "192.168.0.1", false },
	{ "10.0.0.0/8", "::ffff:10.1.1.1", true },
	{ "10.0.0.0/8", "64:ff9b::10.1.1.1", true },   /* the IPv4 it reaches */
	{ "10.0.0.0/8", "2002:a01:101::1", true },
	{ "10.0.0.0/8", "::10.1.1.1", true },
	{ "fd00::/8", "fd12::1", true },
	{ "fd00::/8", "fc00::1", false },
	{ "fe80::/10", "fe80::1", true },
	{ "2001:db8::/32", "2001:db8::1", true },
	{ "2002::/16", "2002:7f00:1::1", true },      /* the range itself, listed */
	{ "64:ff9b:1::/48", "64:ff9b:1:7f00:1::", true },
	{ "169.254.169.254", "169.254.169.254", true },
	{ "169.254.169.254", "169.254.169.253", false },
	{ "192.168.1.0/24, ::1", "192.168.1.77", true },
	{ "192.168.1.0/24, ::1", "::1", true },
	{ "192.168.1.0/24, ::1", "192.168.2.1", false },
	{ "0.0.0.0/0", "127.0.0.1", true },
	{ "0.0.0.0/0", "::1", false },
	{ "::/0", "::1", true },
	{ "::/0", "127.0.0.1", true },
};

static void
test_allow_effect(void **state)
{
	struct sockaddr_storage ss;
	struct ssrf_allow a;
	char err[128];
	const char *got;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(effects); i++) {
		if (ssrf_allow_parse(effects[i].list, &a, err, sizeof(err)) != 0)
			fail_msg("\"%s\": %s", effects[i].list, err);
		got = ssrf_check(addr(effects[i].addr, &ss), &a);
		if ((got == NULL) != effects[i].allowed)
			fail_msg("list \"%s\", %s: %s", effects[i].list, effects[i].addr,
			    got != NULL ? got : "allowed");
		ssrf_allow_free(&a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_table),
		cmocka_unit_test(test_check_empty_allow),
		cmocka_unit_test(test_check_other_family),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_message_names_item),
		cmocka_unit_test(test_parse_ranges),
		cmocka_unit_test(test_allow_effect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
