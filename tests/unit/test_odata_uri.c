/* odata_uri_* / odata_options_*: resource paths, system query options,
 * limits, hostile input, and the __next round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define ANYPOS ((size_t)-1)

/* ---- helpers ------------------------------------------------------------ */

static bool
utf8_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n = strlen(str), need, k;

	while (i < n) {
		unsigned char c = s[i];

		if (c < 0x80)
			need = 1;
		else if (c >= 0xC2 && c <= 0xDF)
			need = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 4;
		else
			return false;
		if (need > n - i)
			return false;
		for (k = 1; k < need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
		i += need;
	}
	return true;
}

/* Every error message: a non-empty, NUL-terminated, valid UTF-8 sentence. */
static void
check_message(const struct odata_uri_error *err, const char *input)
{
	size_t len = strnlen(err->message, sizeof(err->message));

	if (len == 0 || len >= sizeof(err->message) || !utf8_ok(err->message) ||
	    err->message[len - 1] != '.')
		fail_msg("bad message for \"%.80s\": \"%s\"", input, err->message);
	if (strnlen(err->option, sizeof(err->option)) >= sizeof(err->option) ||
	    strnlen(err->key, sizeof(err->key)) >= sizeof(err->key) || !utf8_ok(err->key))
		fail_msg("bad option/key for \"%.80s\"", input);
}

/* Exact-size heap copies, so that ASan catches a read past the end. */
static int
parse_path(const char *raw, struct odata_path *p, struct odata_uri_error *err)
{
	char *copy = strdup(raw);
	int rc;

	assert_non_null(copy);
	rc = odata_uri_parse_path(copy, p, err);
	free(copy);
	return rc;
}

static int
parse_opts(const char *raw, struct odata_options *o, struct odata_uri_error *err)
{
	char *copy = strdup(raw);
	int rc;

	assert_non_null(copy);
	rc = odata_options_parse(copy, o, err);
	free(copy);
	return rc;
}

static char *
repeat(const char *head, const char *unit, size_t times, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(hl + ul * times + tl + 1), *p = s;

	assert_non_null(s);
	memcpy(p, head, hl);
	p += hl;
	for (i = 0; i < times; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

/* ---- resource path rows ------------------------------------------------- */

struct path_row {
	const char *raw;
	int rc;
	enum odata_path_kind kind;		/* rc 0 */
	const char *set, *key, *nav, *cid;	/* rc 0; key NULL: no key */
	bool count;
	enum odata_uri_errkind ekind;		/* rc -1 */
	size_t pos;				/* rc -1; ANYPOS: unchecked */
	const char *errkey;			/* INVALID_KEY: err.key */
	const char *key_name;			/* rc 0: name='k' named it; NULL: 'k' */
};

#define P_OK(raw, kind, set, key, nav, count, cid) \
	{ raw, 0, ODATA_PATH_##kind, set, key, nav, cid, count, ODATA_URI_MALFORMED, 0, NULL, NULL }
/* A key predicate name='k' (any property name: the caller checks it). */
#define P_NAMED(raw, set, name, key, nav) \
	{ raw, 0, ODATA_PATH_SET, set, key, nav, NULL, false, ODATA_URI_MALFORMED, 0, NULL, name }
#define P_ERR(raw, ek, pos) \
	{ raw, -1, ODATA_PATH_SERVICE, NULL, NULL, NULL, NULL, false, ODATA_URI_##ek, pos, NULL, \
	  NULL }
#define P_BADKEY(raw, pos, k) \
	{ raw, -1, ODATA_PATH_SERVICE, NULL, NULL, NULL, NULL, false, ODATA_URI_INVALID_KEY, pos, k, \
	  NULL }

#define WC "/WebhookConfigurations"

static const struct path_row path_rows[] = {
	/* service document, metadata, batch */
	P_OK("", SERVICE, NULL, NULL, NULL, false, NULL),
	P_OK("/", SERVICE, NULL, NULL, NULL, false, NULL),
	P_OK("/$metadata", METADATA, NULL, NULL, NULL, false, NULL),
	P_OK("/$metadata/", METADATA, NULL, NULL, NULL, false, NULL),
	P_OK("/%24metadata", METADATA, NULL, NULL, NULL, false, NULL),
	P_OK("/$batch", BATCH, NULL, NULL, NULL, false, NULL),
	P_OK("/$batch/", BATCH, NULL, NULL, NULL, false, NULL),
	P_ERR("//", MALFORMED, 1),
	P_ERR("/$metadata/x", UNSUPPORTED, 11),
	P_ERR("/$metadata/$count", UNSUPPORTED, 11),
	P_ERR("/$batch/x", UNSUPPORTED, 8),
	P_ERR("/$metadata('a')", UNSUPPORTED, 1),
	P_OK("/$Metadata/x", CONTENT_ID, NULL, NULL, "x", false, "Metadata"),	/* case matters */
	/* entity sets */
	P_OK(WC, SET, "WebhookConfigurations", NULL, NULL, false, NULL),
	P_OK(WC "/", SET, "WebhookConfigurations", NULL, NULL, false, NULL),
	P_OK(WC "/$count", SET, "WebhookConfigurations", NULL, NULL, true, NULL),
	P_OK(WC "/$count/", SET, "WebhookConfigurations", NULL, NULL, true, NULL),
	P_OK(WC "%2F$count", SET, "WebhookConfigurations", NULL, NULL, true, NULL),
	P_OK("%2FDestinationTargets", SET, "DestinationTargets", NULL, NULL, false, NULL),
	P_OK("/_x1", SET, "_x1", NULL, NULL, false, NULL),
	P_OK("/a", SET, "a", NULL, NULL, false, NULL),
	P_ERR(WC "/$count/x", UNSUPPORTED, 30),
	P_ERR(WC "/$count/$count", UNSUPPORTED, 30),
	P_ERR(WC "/destination", UNSUPPORTED, 23),	/* navigation needs a key */
	P_ERR(WC "/$value", UNSUPPORTED, 23),
	P_ERR(WC "//", MALFORMED, 23),
	P_ERR(WC "//$count", MALFORMED, 23),
	P_ERR("WebhookConfigurations", MALFORMED, 0),	/* no leading '/' */
	P_ERR("$metadata", MALFORMED, 0),
	P_ERR("/1abc", UNSUPPORTED, 1),
	P_ERR("/a-b", UNSUPPORTED, 1),
	P_ERR("/a b", UNSUPPORTED, 1),
	P_ERR("/a%20b", UNSUPPORTED, 1),
	P_ERR("/a.b", UNSUPPORTED, 1),
	P_ERR("/caf%C3%A9", UNSUPPORTED, 1),
	P_ERR("/Set)", UNSUPPORTED, 1),
	P_ERR("/'a'", UNSUPPORTED, 1),
	P_ERR("/('a')", UNSUPPORTED, 1),
	/* key predicates, both forms */
	P_OK(WC "('a|b|c|d')", SET, "WebhookConfigurations", "a|b|c|d", NULL, false, NULL),
	P_NAMED(WC "(integrationKey='a|b|c|d')", "WebhookConfigurations", "integrationKey", "a|b|c|d",
	    NULL),
	P_NAMED(WC "(integrationKey%3D'a')", "WebhookConfigurations", "integrationKey", "a", NULL),
	P_OK(WC "%28'a'%29", SET, "WebhookConfigurations", "a", NULL, false, NULL),
	P_OK(WC "('a')/", SET, "WebhookConfigurations", "a", NULL, false, NULL),
	P_OK(WC "('')", SET, "WebhookConfigurations", "", NULL, false, NULL),
	/* '' escapes */
	P_OK(WC "('it''s')", SET, "WebhookConfigurations", "it's", NULL, false, NULL),
	P_NAMED(WC "(integrationKey='it''s')", "WebhookConfigurations", "integrationKey", "it's", NULL),
	P_OK(WC "('''')", SET, "WebhookConfigurations", "'", NULL, false, NULL),
	P_OK(WC "('%27%27')", SET, "WebhookConfigurations", "'", NULL, false, NULL),
	P_OK(WC "('a''/''b')", SET, "WebhookConfigurations", "a'/'b", NULL, false, NULL),
	/* decoded exactly once */
	P_OK(WC "('a%7Cb')", SET, "WebhookConfigurations", "a|b", NULL, false, NULL),
	P_OK(WC "('a%7cb')", SET, "WebhookConfigurations", "a|b", NULL, false, NULL),
	P_OK(WC "('a%257Cb')", SET, "WebhookConfigurations", "a%7Cb", NULL, false, NULL),
	P_OK(WC "('a%25257Cb')", SET, "WebhookConfigurations", "a%257Cb", NULL, false, NULL),
	P_OK(WC "('a+b')", SET, "WebhookConfigurations", "a+b", NULL, false, NULL),	/* '+' stays */
	P_OK(WC "('a%20b')", SET, "WebhookConfigurations", "a b", NULL, false, NULL),
	P_OK(WC "('caf%C3%A9')", SET, "WebhookConfigurations", "caf\xc3\xa9", NULL, false, NULL),
	P_OK(WC "('caf\xc3\xa9')", SET, "WebhookConfigurations", "caf\xc3\xa9", NULL, false, NULL),
	/* '/' inside a quoted key does not split */
	P_OK(WC "('a/b')", SET, "WebhookConfigurations", "a/b", NULL, false, NULL),
	P_OK(WC "('a%2Fb')", SET, "WebhookConfigurations", "a/b", NULL, false, NULL),
	P_OK(WC "('/')", SET, "WebhookConfigurations", "/", NULL, false, NULL),
	P_OK(WC "('a/b/c')/destination", SET, "WebhookConfigurations", "a/b/c", "destination", false, NULL),
	P_NAMED(WC "(integrationKey='x/$count')", "WebhookConfigurations", "integrationKey", "x/$count",
	    NULL),
	P_OK(WC "('a)b')", SET, "WebhookConfigurations", "a)b", NULL, false, NULL),
	P_OK(WC "('a(b')", SET, "WebhookConfigurations", "a(b", NULL, false, NULL),
	P_OK(WC "('a''')", SET, "WebhookConfigurations", "a'", NULL, false, NULL),
	/* navigation */
	P_OK(WC "('k')/destination", SET, "WebhookConfigurations", "k", "destination", false, NULL),
	P_OK(WC "('k')/destination/", SET, "WebhookConfigurations", "k", "destination", false, NULL),
	P_OK("/ConsumedDestinations('k')/additionalProperties", SET, "ConsumedDestinations", "k",
	    "additionalProperties", false, NULL),
	P_OK("/ConsumedDestinations('k')/additionalProperties/$count", SET, "ConsumedDestinations",
	    "k", "additionalProperties", true, NULL),
	P_OK("/ConsumedDestinations('k')/additionalProperties/$count/", SET, "ConsumedDestinations",
	    "k", "additionalProperties", true, NULL),
	/* too deep or unsupported */
	P_ERR(WC "('k')/destination/destinationTarget", UNSUPPORTED, 40),
	P_ERR(WC "('k')/destination/id/$value", UNSUPPORTED, 40),
	P_ERR(WC "('k')/eventType/$value", UNSUPPORTED, 38),
	P_ERR(WC "('k')/$value", UNSUPPORTED, 28),
	P_ERR(WC "('k')/$links/destination", UNSUPPORTED, 28),
	P_ERR(WC "('k')/$count", UNSUPPORTED, 28),
	P_ERR(WC "('k')/destination('x')", UNSUPPORTED, 28),
	P_ERR(WC "('k')/dest-ination", UNSUPPORTED, 28),
	P_ERR(WC "('k')/destination/$count/x", UNSUPPORTED, 47),
	P_ERR(WC "('k')/destination//", MALFORMED, 40),
	P_ERR(WC "('k')//destination", MALFORMED, 28),
	/* malformed predicates */
	P_ERR(WC "(", MALFORMED, 22),
	P_ERR(WC "('a'", MALFORMED, 22),
	P_ERR(WC "('a", MALFORMED, 22),
	P_ERR(WC "('a)", MALFORMED, 22),	/* the ')' is quoted */
	P_ERR(WC "('a/b", MALFORMED, 22),
	P_ERR(WC "('a/b')x", MALFORMED, 29),
	P_ERR(WC "('a')x", MALFORMED, 27),
	P_ERR(WC "('a')('b')", MALFORMED, 27),
	P_ERR(WC "('a'')", MALFORMED, 22),
	P_ERR(WC "('a'b')", MALFORMED, 22),
	P_ERR(WC "((('a')))", MALFORMED, 29),
	P_ERR(WC "(')/x", MALFORMED, 22),
	P_ERR(WC "('a'/b')", MALFORMED, 22),	/* the '/' is outside the quotes */
	P_BADKEY(WC "()", 23, ""),
	P_BADKEY(WC "(a)", 23, "a"),
	P_BADKEY(WC "(12)", 23, "12"),
	/* any property name parses: the caller compares it with the type's key
	 * name (invalid_key for a WebhookService type, which only takes
	 * integrationKey) */
	P_NAMED(WC "(code='a')", "WebhookConfigurations", "code", "a", NULL),
	P_NAMED(WC "(integrationkey='a')", "WebhookConfigurations", "integrationkey", "a", NULL),
	P_BADKEY(WC "(integrationKey = 'a')", 23, "integrationKey = 'a'"),
	P_BADKEY(WC "(code= 'a')", 23, "code= 'a'"),
	P_BADKEY(WC "(1code='a')", 23, "1code='a'"),
	P_BADKEY(WC "(co-de='a')", 23, "co-de='a'"),
	P_BADKEY(WC "(=\'a\')", 23, "='a'"),
	P_BADKEY(WC "(id=)", 23, "id="),
	P_BADKEY(WC "(id='a'x)", 23, "id='a'x"),
	P_BADKEY(WC "(id=a)", 23, "id=a"),
	P_BADKEY(WC "(id='a',x='b')", 23, "id='a',x='b'"),
	P_BADKEY(WC "(id=id='a')", 23, "id=id='a'"),
	P_BADKEY(WC "(%C3%A9='a')", 23, "\xc3\xa9='a'"),
	/* WebhookMonitoring: sets and plain keys, both forms */
	P_OK("/Events", SET, "Events", NULL, NULL, false, NULL),
	P_OK("/Deliveries/$count", SET, "Deliveries", NULL, NULL, true, NULL),
	P_OK("/Events('3f2c0a4e-1b2d-4c5e-8f90-a1b2c3d4e5f6')", SET, "Events",
	    "3f2c0a4e-1b2d-4c5e-8f90-a1b2c3d4e5f6", NULL, false, NULL),
	P_NAMED("/Events(id='abc')", "Events", "id", "abc", NULL),
	P_NAMED("/Deliveries(id='msg_0a1b')/deliveryAttempts", "Deliveries", "id", "msg_0a1b",
	    "deliveryAttempts"),
	P_OK("/Deliveries('msg_0a1b')/event", SET, "Deliveries", "msg_0a1b", "event", false, NULL),
	P_OK("/Events('e1')/deliveries/$count", SET, "Events", "e1", "deliveries", true, NULL),
	P_OK("/InboundRequests('inb_1')/event", SET, "InboundRequests", "inb_1", "event", false,
	    NULL),
	/* a plain key is any text: '|' and %7C are kept, '' is a quote, '/'
	 * stays inside the quotes */
	P_OK("/Events('a|b%7Cc')", SET, "Events", "a|b|c", NULL, false, NULL),
	P_OK("/Events('a%257Cb')", SET, "Events", "a%7Cb", NULL, false, NULL),
	P_NAMED("/Events(id='it''s%2F%3F%23%20x')", "Events", "id", "it's/?# x", NULL),
	P_NAMED("/Events(id='')", "Events", "id", "", NULL),
	P_NAMED("/Events(_x9='a')", "Events", "_x9", "a", NULL),
	P_ERR("/Events(id='a)", MALFORMED, 7),
	P_BADKEY("/Events(id)", 8, "id"),
	P_BADKEY(WC "('a' )", 23, "'a' "),
	P_BADKEY(WC "('a','b')", 23, "'a','b'"),
	P_BADKEY(WC "(a'b/c')", 23, "a'b/c'"),
	P_BADKEY(WC "(%20'a')", 23, " 'a'"),
	P_BADKEY(WC "(a)/destination", 23, "a"),	/* the key fails first */
	/* percent-encoding */
	P_ERR("/Set%", MALFORMED, 4),
	P_ERR("/Set%2", MALFORMED, 4),
	P_ERR("/Set%zz", MALFORMED, 4),
	P_ERR("/%G0", MALFORMED, 1),
	P_ERR("/%0G", MALFORMED, 1),
	P_ERR("/%%41", MALFORMED, 1),
	P_ERR("/Set('%')", MALFORMED, 6),
	P_ERR("/Set('a%2')", MALFORMED, 7),
	P_ERR("/Set%00", MALFORMED, 4),
	P_ERR("/Set('a%00b')", MALFORMED, 7),
	P_ERR("%00", MALFORMED, 0),
	P_ERR("/Set('%FF')", MALFORMED, 6),	/* invalid UTF-8 after decoding */
	P_ERR("/Set('%C3')", MALFORMED, 6),
	P_ERR("/Set('%C0%AF')", MALFORMED, 6),	/* overlong '/' */
	P_ERR("/Set('%ED%A0%80')", MALFORMED, 6),	/* surrogate */
	P_ERR("/Set('\xff')", MALFORMED, 6),
	P_ERR("/\xc3", MALFORMED, 1),
	/* Content-ID references */
	P_OK("/$1", CONTENT_ID, NULL, NULL, NULL, false, "1"),
	P_OK("/$1/", CONTENT_ID, NULL, NULL, NULL, false, "1"),
	P_OK("/$123456789", CONTENT_ID, NULL, NULL, NULL, false, "123456789"),
	P_OK("/$1/destination", CONTENT_ID, NULL, NULL, "destination", false, "1"),
	P_OK("/$1/destination/", CONTENT_ID, NULL, NULL, "destination", false, "1"),
	P_OK("/$abc.D-e_f", CONTENT_ID, NULL, NULL, NULL, false, "abc.D-e_f"),
	P_OK("/$newConfig/integrationObject", CONTENT_ID, NULL, NULL, "integrationObject", false,
	    "newConfig"),
	P_ERR("/$", UNSUPPORTED, 1),
	P_ERR("/$/x", UNSUPPORTED, 1),
	P_ERR("/$count", UNSUPPORTED, 1),
	P_ERR("/$value", UNSUPPORTED, 1),
	P_ERR("/$links", UNSUPPORTED, 1),
	P_ERR("/$1('a')", UNSUPPORTED, 1),
	P_ERR("/$a b", UNSUPPORTED, 1),
	P_ERR("/$1/$count", UNSUPPORTED, 4),
	P_ERR("/$1/destination/$count", UNSUPPORTED, 16),
	P_ERR("/$1/destination/x", UNSUPPORTED, 16),
	P_ERR("/$1/dest.ination", UNSUPPORTED, 4),
	P_ERR("/$1//", MALFORMED, 4),
};

static void
check_str(size_t row, const char *what, const char *got, const char *want)
{
	if (want == NULL && got == NULL)
		return;
	if (want == NULL || got == NULL || strcmp(got, want) != 0)
		fail_msg("path row %zu: %s is \"%s\", want \"%s\"", row, what,
		    got ? got : "(NULL)", want ? want : "(NULL)");
}

static void
test_path_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(path_rows); i++) {
		const struct path_row *r = &path_rows[i];
		struct odata_path p;
		struct odata_uri_error err;
		int rc = parse_path(r->raw, &p, &err);

		if (rc != r->rc)
			fail_msg("path row %zu (%s): rc %d, want %d (%s)", i, r->raw, rc, r->rc,
			    rc ? err.message : "");
		if (rc != 0) {
			check_message(&err, r->raw);
			if (err.kind != r->ekind || (r->pos != ANYPOS && err.pos != r->pos))
				fail_msg("path row %zu (%s): kind %d pos %zu, want %d pos %zu: %s", i,
				    r->raw, err.kind, err.pos, r->ekind, r->pos, err.message);
			if (err.option[0] != '\0')
				fail_msg("path row %zu: option \"%s\"", i, err.option);
			if (r->ekind == ODATA_URI_INVALID_KEY)
				check_str(i, "err.key", err.key, r->errkey);
			else if (err.key[0] != '\0')
				fail_msg("path row %zu: err.key set", i);
			/* nothing to free, and freeing is still harmless */
			assert_null(p.set);
			assert_null(p.key);
			assert_null(p.nav);
			assert_null(p.content_id);
			odata_path_free(&p);
			continue;
		}
		if (p.kind != r->kind)
			fail_msg("path row %zu (%s): kind %d, want %d", i, r->raw, p.kind, r->kind);
		check_str(i, "set", p.set, r->set);
		check_str(i, "key", p.key, r->key);
		check_str(i, "nav", p.nav, r->nav);
		check_str(i, "content_id", p.content_id, r->cid);
		check_str(i, "key_name", p.key_name, r->key_name);
		if (p.has_key != (r->key != NULL) || p.count != r->count)
			fail_msg("path row %zu (%s): has_key %d count %d", i, r->raw, p.has_key, p.count);
		odata_path_free(&p);
		assert_null(p.set);
		odata_path_free(&p);	/* idempotent */
	}
}

static void
test_path_messages(void **state)
{
	struct odata_path p;
	struct odata_uri_error err;

	(void)state;
	assert_int_equal(parse_path(WC "('k')/destination/destinationTarget", &p, &err), -1);
	assert_string_equal(err.message, "Unsupported resource path segment 'destinationTarget' "
	    "at position 40: only $count may follow a navigation property.");
	assert_int_equal(parse_path(WC "(code= 'a')", &p, &err), -1);
	assert_string_equal(err.message, "Invalid key predicate for entity set "
	    "'WebhookConfigurations' at position 23.");
	assert_int_equal(parse_path("/Set%zz", &p, &err), -1);
	assert_string_equal(err.message, "Malformed resource path at position 4: bad percent-encoding.");
}

static void
test_path_null_args(void **state)
{
	struct odata_path p;
	struct odata_uri_error err;

	(void)state;
	assert_int_equal(odata_uri_parse_path(NULL, &p, &err), 0);
	assert_int_equal(p.kind, ODATA_PATH_SERVICE);
	assert_int_equal(odata_uri_parse_path("/x", NULL, &err), -1);
	assert_int_equal(odata_uri_parse_path("/a(b)", &p, NULL), -1);	/* err may be NULL */
	assert_int_equal(odata_uri_parse_path("/a('b')/c", &p, NULL), 0);
	odata_path_free(&p);
	odata_path_free(NULL);
}

/* Identifiers and Content-IDs up to ODATA_URI_MAX_IDENT bytes; the path up
 * to ODATA_URI_MAX_PATH. */
static void
test_path_limits(void **state)
{
	struct odata_path p;
	struct odata_uri_error err;
	char *s;

	(void)state;
	s = repeat("/", "a", ODATA_URI_MAX_IDENT, "('k')/nav");
	assert_int_equal(parse_path(s, &p, &err), 0);
	assert_int_equal(strlen(p.set), ODATA_URI_MAX_IDENT);
	odata_path_free(&p);
	free(s);
	s = repeat("/", "a", ODATA_URI_MAX_IDENT + 1, "");
	assert_int_equal(parse_path(s, &p, &err), -1);
	assert_int_equal(err.kind, ODATA_URI_UNSUPPORTED);
	check_message(&err, s);
	free(s);
	s = repeat("/S('k')/", "n", ODATA_URI_MAX_IDENT + 1, "");
	assert_int_equal(parse_path(s, &p, &err), -1);
	assert_int_equal(err.kind, ODATA_URI_UNSUPPORTED);
	free(s);
	s = repeat("/$", "9", ODATA_URI_MAX_IDENT, "");
	assert_int_equal(parse_path(s, &p, &err), 0);
	assert_int_equal(p.kind, ODATA_PATH_CONTENT_ID);
	odata_path_free(&p);
	free(s);
	s = repeat("/$", "9", ODATA_URI_MAX_IDENT + 1, "");
	assert_int_equal(parse_path(s, &p, &err), -1);
	free(s);

	/* a long key fits; one byte over the path limit does not */
	s = repeat("/S('", "x", ODATA_URI_MAX_PATH - 6, "')");
	assert_int_equal(strlen(s), ODATA_URI_MAX_PATH);
	assert_int_equal(parse_path(s, &p, &err), 0);
	assert_int_equal(strlen(p.key), ODATA_URI_MAX_PATH - 6);
	odata_path_free(&p);
	free(s);
	s = repeat("/S('", "x", ODATA_URI_MAX_PATH - 5, "')");
	assert_int_equal(parse_path(s, &p, &err), -1);
	assert_int_equal(err.kind, ODATA_URI_MALFORMED);
	check_message(&err, "long");
	free(s);

	/* many segments, many slashes, many quotes */
	s = repeat("/S('k')", "/n", 1000, "");
	assert_int_equal(parse_path(s, &p, &err), -1);
	assert_int_equal(err.kind, ODATA_URI_UNSUPPORTED);
	free(s);
	s = repeat("", "/", 10000, "");
	assert_int_equal(parse_path(s, &p, &err), -1);
	assert_int_equal(err.kind, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("/S(", "'", 10001, ")");
	assert_int_equal(parse_path(s, &p, &err), -1);	/* odd: unterminated */
	assert_int_equal(err.kind, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("/S(", "''", 5000, ")");
	assert_int_equal(parse_path(s, &p, &err), 0);	/* 4999 escaped quotes */
	assert_int_equal(strlen(p.key), 4999);
	odata_path_free(&p);
	free(s);
	s = repeat("/S", "(", 5000, "");
	assert_int_equal(parse_path(s, &p, &err), -1);
	free(s);
	s = repeat("/S", ")", 5000, "");
	assert_int_equal(parse_path(s, &p, &err), -1);
	free(s);
}

/* Every byte value inside a quoted key, escaped and raw. */
static void
test_path_every_byte(void **state)
{
	int c;

	(void)state;
	for (c = 0; c < 256; c++) {
		char raw[32];
		struct odata_path p;
		struct odata_uri_error err;
		int rc;

		snprintf(raw, sizeof(raw), "/S('%%%02X')", c);
		rc = parse_path(raw, &p, &err);
		if (c == 0 || c == '\'' || c >= 0x80) {
			/* NUL, an unterminated quote, a lone non-ASCII byte */
			if (rc != -1 || err.kind != ODATA_URI_MALFORMED)
				fail_msg("%s: rc %d kind %d", raw, rc, err.kind);
			check_message(&err, raw);
		} else {
			if (rc != 0 || strlen(p.key) != 1 || (unsigned char)p.key[0] != c)
				fail_msg("%s: rc %d", raw, rc);
			odata_path_free(&p);
		}
		if (c == 0)
			continue;
		snprintf(raw, sizeof(raw), "/S('%c')", c);
		rc = parse_path(raw, &p, &err);
		if (c == '%' || c == '\'' || c >= 0x80) {
			if (rc != -1 || err.kind != ODATA_URI_MALFORMED)
				fail_msg("raw byte 0x%02x: rc %d kind %d", c, rc, err.kind);
		} else {
			if (rc != 0 || strlen(p.key) != 1 || (unsigned char)p.key[0] != c)
				fail_msg("raw byte 0x%02x: rc %d", c, rc);
			odata_path_free(&p);
		}
	}
}

/* Quoted user text is cut to 64 bytes on a character boundary. */
static void
test_path_echo(void **state)
{
	struct odata_path p;
	struct odata_uri_error err;
	char *s = repeat("/S('k')/x/", "\xc3\xa9", 500, "");
	const char *q;

	(void)state;
	assert_int_equal(parse_path(s, &p, &err), -1);
	check_message(&err, s);
	q = strstr(err.message, "'\xc3\xa9");
	assert_non_null(q);
	assert_non_null(strstr(err.message, "\xc3\xa9...'"));
	assert_int_equal(strstr(q + 1, "...") - (q + 1), 64);
	free(s);
	/* odd offset: 1 + 2k bytes, so a character straddles the cut */
	s = repeat("/S('k')/x/a", "\xc3\xa9", 500, "");
	assert_int_equal(parse_path(s, &p, &err), -1);
	check_message(&err, s);
	q = strstr(err.message, "'a");
	assert_non_null(q);
	assert_int_equal(strstr(q + 1, "...") - (q + 1), 63);
	free(s);
	/* a long bad key: err.key keeps 255 bytes at most, whole characters */
	s = repeat("/S(x", "\xe2\x82\xac", 300, ")");
	assert_int_equal(parse_path(s, &p, &err), -1);
	assert_int_equal(err.kind, ODATA_URI_INVALID_KEY);
	check_message(&err, s);
	assert_int_equal(strlen(err.key), 253);	/* "x" + 84 x 3 bytes */
	free(s);
}

/* ---- query option rows -------------------------------------------------- */

/* A canonical one-line account of parsed options, for table rows. */
static void
dump_list(char *buf, size_t size, const char *name, const struct odata_option_list *l)
{
	size_t i, k, n = strlen(buf);

	if (l->text == NULL)
		return;
	n += (size_t)snprintf(buf + n, size - n, " %s={", name);
	for (i = 0; i < l->n; i++) {
		const struct odata_option_path *it = &l->items[i];

		if (i > 0)
			n += (size_t)snprintf(buf + n, size - n, ",");
		for (k = 0; k < it->nsegs; k++)
			n += (size_t)snprintf(buf + n, size - n, "%s%s", k ? "/" : "", it->segs[k]);
		if (it->star)
			n += (size_t)snprintf(buf + n, size - n, "%s*", it->nsegs ? "/" : "");
		if (it->desc)
			n += (size_t)snprintf(buf + n, size - n, " desc");
	}
	snprintf(buf + n, size - n, "}");
}

static void
dump_options(char *buf, size_t size, const struct odata_options *o)
{
	size_t i, n;

	buf[0] = '\0';
#define ADDF(...) do { n = strlen(buf); snprintf(buf + n, size - n, __VA_ARGS__); } while (0)
	if (o->filter)
		ADDF(" $filter={%s}", o->filter);
	if (o->has_top)
		ADDF(" $top=%ld", o->top);
	if (o->has_skip)
		ADDF(" $skip=%ld", o->skip);
	if (o->has_skiptoken)
		ADDF(" $skiptoken={%s}=%ld", o->skiptoken, o->skiptoken_value);
	dump_list(buf, size, "$orderby", &o->orderby);
	dump_list(buf, size, "$expand", &o->expand);
	dump_list(buf, size, "$select", &o->select);
	if (o->inlinecount != ODATA_INLINECOUNT_UNSET)
		ADDF(" $inlinecount=%s", o->inlinecount == ODATA_INLINECOUNT_ALLPAGES ?
		    "allpages" : "none");
	if (o->format)
		ADDF(" $format={%s}", o->format);
	for (i = 0; i < o->ncustom; i++)
		ADDF(" {%s}={%s}", o->custom[i].name, o->custom[i].value);
#undef ADDF
	if (buf[0] == ' ')
		memmove(buf, buf + 1, strlen(buf));
}

struct opt_row {
	const char *raw;
	const char *want;	/* dump on success; NULL: error expected */
	enum odata_uri_errkind ekind;
	const char *option;	/* err.option */
	size_t pos;
	const char *msg;	/* NULL, or the exact message */
};

#define O_OK(raw, want) { raw, want, ODATA_URI_MALFORMED, NULL, 0, NULL }
#define O_ERR(raw, opt, pos) { raw, NULL, ODATA_URI_MALFORMED, opt, pos, NULL }
#define O_ERRM(raw, opt, pos, msg) { raw, NULL, ODATA_URI_MALFORMED, opt, pos, msg }
#define O_415(raw) { raw, NULL, ODATA_URI_UNSUPPORTED_FORMAT, "$format", 0, NULL }

static const struct opt_row opt_rows[] = {
	O_OK("", ""),
	O_OK("&", ""),
	O_OK("&&&", ""),
	O_OK("=x", ""),	/* an empty name is skipped */
	/* $filter: decoded text only */
	O_OK("$filter=name eq 'x'", "$filter={name eq 'x'}"),
	O_OK("$filter=name+eq+'x'", "$filter={name eq 'x'}"),
	O_OK("$filter=name%20eq%20'x'", "$filter={name eq 'x'}"),
	O_OK("$filter=a%2Bb+eq+1", "$filter={a+b eq 1}"),
	O_OK("$filter=code eq 'a%26b'", "$filter={code eq 'a&b'}"),
	O_OK("$filter=code eq 'a=b'", "$filter={code eq 'a=b'}"),
	O_OK("$filter=code eq '%25'", "$filter={code eq '%'}"),
	O_OK("$filter=", "$filter={}"),
	O_OK("$filter", "$filter={}"),
	O_OK("$filter=caf%C3%A9", "$filter={caf\xc3\xa9}"),
	O_OK("%24filter=x", "$filter={x}"),
	O_ERR("$filter=a%00", "$filter", 9),
	O_ERR("$filter=a%", "$filter", 9),
	O_ERR("$filter=%FF", "$filter", 8),
	O_ERR("$filter=%C3%28", "$filter", 8),
	O_ERR("$filter=\xff", "$filter", 8),
	/* $top, $skip */
	O_OK("$top=0", "$top=0"),
	O_OK("$top=10&$skip=20", "$top=10 $skip=20"),
	O_OK("$top=007", "$top=7"),
	O_OK("$top=2147483647", "$top=2147483647"),
	O_OK("$skip=2147483647", "$skip=2147483647"),
	O_OK("$top=000000000000000000002147483647", "$top=2147483647"),
	O_ERRM("$top=-1", "$top", 0,
	    "Invalid $top at position 0: $top must be a non-negative integer."),
	O_ERRM("$top=2147483648", "$top", 0, "Invalid $top at position 0: $top must be a "
	    "non-negative integer not greater than 2147483647."),
	O_ERR("$top=99999999999999999999999", "$top", 0),
	O_ERR("$top=+1", "$top", 0),
	O_ERR("$top=%2B1", "$top", 0),
	O_ERR("$top= 1", "$top", 0),
	O_ERR("$top=1 ", "$top", 1),
	O_ERR("$top=1+", "$top", 1),
	O_ERR("$top=1.0", "$top", 1),
	O_ERR("$top=1e3", "$top", 1),
	O_ERR("$top=0x10", "$top", 1),
	O_ERR("$top=", "$top", 0),
	O_ERR("$top", "$top", 0),
	O_ERR("$top=abc", "$top", 0),
	O_ERR("$top=\xd9\xa1", "$top", 0),	/* Arabic-Indic digit one */
	O_ERRM("$skip=x", "$skip", 0,
	    "Invalid $skip at position 0: $skip must be a non-negative integer."),
	O_ERR("$skip=-0", "$skip", 0),
	/* $skiptoken */
	O_OK("$skiptoken=20", "$skiptoken={20}=20"),
	O_OK("$skiptoken=0", "$skiptoken={0}=0"),
	O_OK("$skip=5&$skiptoken=20", "$skip=5 $skiptoken={20}=20"),
	O_ERR("$skiptoken=abc", "$skiptoken", 0),
	O_ERR("$skiptoken=", "$skiptoken", 0),
	O_ERR("$skiptoken=-5", "$skiptoken", 0),
	O_ERR("$skiptoken=2147483648", "$skiptoken", 0),
	/* $inlinecount */
	O_OK("$inlinecount=allpages", "$inlinecount=allpages"),
	O_OK("$inlinecount=none", "$inlinecount=none"),
	O_ERRM("$inlinecount=all", "$inlinecount", 0, "Invalid $inlinecount at position 0: "
	    "expected 'allpages' or 'none', found 'all'."),
	O_ERR("$inlinecount=AllPages", "$inlinecount", 0),
	O_ERR("$inlinecount=", "$inlinecount", 0),
	O_ERR("$inlinecount=allpages ", "$inlinecount", 0),
	/* $format */
	O_OK("$format=json", "$format={json}"),
	O_OK("$format=JSON", "$format={JSON}"),
	O_OK("$format=Json", "$format={Json}"),
	O_OK("$format=application/json", "$format={application/json}"),
	O_OK("$format=application%2Fjson", "$format={application/json}"),
	O_OK("$format=Application/JSON", "$format={Application/JSON}"),
	O_415("$format=xml"),
	O_415("$format=atom"),
	O_415("$format=application/atom+xml"),
	O_415("$format=application/json;odata=verbose"),
	O_415("$format=jsonx"),
	O_415("$format="),
	O_415("$format=json "),
	{ "$format=xml", NULL, ODATA_URI_UNSUPPORTED_FORMAT, "$format", 0,
	  "Format [xml] is not supported; $format must be json." },
	/* $orderby */
	O_OK("$orderby=id", "$orderby={id}"),
	O_OK("$orderby=id asc", "$orderby={id}"),
	O_OK("$orderby=id desc", "$orderby={id desc}"),
	O_OK("$orderby=id DESC", "$orderby={id desc}"),
	O_OK("$orderby=id Asc", "$orderby={id}"),
	O_OK("$orderby=id+desc", "$orderby={id desc}"),
	O_OK("$orderby=id%20desc", "$orderby={id desc}"),
	O_OK("$orderby=id   desc", "$orderby={id desc}"),
	O_OK("$orderby=a,b desc,c asc", "$orderby={a,b desc,c}"),
	O_OK("$orderby=a , b desc ,c", "$orderby={a,b desc,c}"),
	O_OK("$orderby= a desc ", "$orderby={a desc}"),
	O_OK("$orderby=destination/destinationTarget/id desc,eventType",
	    "$orderby={destination/destinationTarget/id desc,eventType}"),
	O_OK("$orderby=a%2Cb", "$orderby={a,b}"),
	O_OK("$orderby=_a1", "$orderby={_a1}"),
	O_OK("$orderby=asc", "$orderby={asc}"),	/* a property called asc */
	O_OK("$orderby=desc desc", "$orderby={desc desc}"),
	O_ERRM("$orderby=id bogus", "$orderby", 3, "Invalid $orderby at position 3: "
	    "expected 'asc' or 'desc', found 'bogus'."),
	O_ERRM("$orderby=a,b desc,", "$orderby", 9,
	    "Invalid $orderby at position 9: expected a property name."),
	O_ERR("$orderby=", "$orderby", 0),
	O_ERR("$orderby=%20", "$orderby", 1),
	O_ERR("$orderby=,a", "$orderby", 0),
	O_ERR("$orderby=a,,b", "$orderby", 2),
	O_ERR("$orderby=a, ,b", "$orderby", 3),
	O_ERR("$orderby=a desc desc", "$orderby", 7),
	O_ERR("$orderby=a descending", "$orderby", 2),
	O_ERR("$orderby=a ascdesc", "$orderby", 2),
	O_ERR("$orderby=a	desc", "$orderby", 1),	/* tab is not a blank here */
	O_ERR("$orderby=a-b", "$orderby", 1),
	O_ERR("$orderby=a/", "$orderby", 2),
	O_ERR("$orderby=/a", "$orderby", 0),
	O_ERR("$orderby=a//b", "$orderby", 2),
	O_ERR("$orderby=a / b", "$orderby", 2),
	O_ERR("$orderby=a/*", "$orderby", 2),
	O_ERR("$orderby=*", "$orderby", 0),
	O_ERR("$orderby=1a", "$orderby", 0),
	O_ERR("$orderby=a desc,", "$orderby", 7),
	O_ERR("$orderby=a desc b", "$orderby", 7),
	O_ERR("$orderby=caf\xc3\xa9", "$orderby", 3),
	O_ERR("$orderby=a,b%00", "$orderby", 12),
	/* $expand */
	O_OK("$expand=destination", "$expand={destination}"),
	O_OK("$expand=destination,integrationObject", "$expand={destination,integrationObject}"),
	O_OK("$expand=destination/destinationTarget/eventConfigurations",
	    "$expand={destination/destinationTarget/eventConfigurations}"),
	O_OK("$expand= a , b/c ", "$expand={a,b/c}"),
	O_OK("$expand=a,a", "$expand={a,a}"),	/* duplicates are the caller's business */
	O_ERR("$expand=", "$expand", 0),
	O_ERR("$expand=a,", "$expand", 2),
	O_ERR("$expand=,a", "$expand", 0),
	O_ERR("$expand=a,,b", "$expand", 2),
	O_ERR("$expand=*", "$expand", 0),
	O_ERR("$expand=a/*", "$expand", 2),
	O_ERR("$expand=a desc", "$expand", 2),
	O_ERR("$expand=a/", "$expand", 2),
	O_ERR("$expand=a(b)", "$expand", 1),
	O_ERRM("$expand=a;b", "$expand", 1, "Invalid $expand at position 1: expected ','."),
	/* $select */
	O_OK("$select=*", "$select={*}"),
	O_OK("$select=id", "$select={id}"),
	O_OK("$select=destinationChannel/*,id", "$select={destinationChannel/*,id}"),
	O_OK("$select=destinationChannel%2F*%2Cid", "$select={destinationChannel/*,id}"),
	O_OK("$select=a/b/c,*, d/* ", "$select={a/b/c,*,d/*}"),
	O_OK("$select=a/b", "$select={a/b}"),
	O_ERR("$select=", "$select", 0),
	O_ERR("$select= ", "$select", 1),
	O_ERR("$select=a,", "$select", 2),
	O_ERR("$select=**", "$select", 1),
	O_ERR("$select=*/a", "$select", 1),
	O_ERR("$select=a/*/b", "$select", 3),
	O_ERR("$select=a/**", "$select", 3),
	O_ERR("$select=a*", "$select", 1),
	O_ERR("$select=a/", "$select", 2),
	O_ERR("$select=a desc", "$select", 2),
	/* unknown and repeated system options */
	O_ERRM("$foo=1", NULL, 0, "Unknown system query option '$foo' at position 0."),
	O_ERR("$top=1&$Top=2", NULL, 7),
	O_ERR("$FILTER=a", NULL, 0),
	O_ERR("$count=true", NULL, 0),
	O_ERR("$links=x", NULL, 0),
	O_ERR("$=1", NULL, 0),
	O_ERR("$", NULL, 0),
	O_ERR("$filter%3D1", NULL, 0),	/* the name is "$filter=1" */
	O_ERR("sap-client=100&$skip=1&$expand=a&$bogus", NULL, 33),
	O_ERRM("$top=1&$top=1", "$top", 7,
	    "Invalid query string at position 7: $top is given more than once."),
	O_ERR("$filter=a&$filter=b", "$filter", 10),
	O_ERR("$filter=a&%24filter=b", "$filter", 10),
	O_ERR("$orderby=a&$orderby=a", "$orderby", 11),
	O_ERR("$format=json&$format=json", "$format", 13),
	O_ERR("$inlinecount=none&$inlinecount=allpages", "$inlinecount", 18),
	O_ERR("$skiptoken=1&$skiptoken=1", "$skiptoken", 13),
	/* custom options: kept, in order, not interpreted */
	O_OK("sap-client=100", "{sap-client}={100}"),
	O_OK("sap-client=100&$top=5", "$top=5 {sap-client}={100}"),
	O_OK("a=1&b=2&a=3", "{a}={1} {b}={2} {a}={3}"),
	O_OK("flag", "{flag}={}"),
	O_OK("flag=", "{flag}={}"),
	O_OK("a+b=c+d", "{a b}={c d}"),
	O_OK("a%20b=c%20d", "{a b}={c d}"),
	O_OK("x=a=b", "{x}={a=b}"),
	O_OK("x=%24top", "{x}={$top}"),
	O_OK("top=-1", "{top}={-1}"),	/* no '$': not $top */
	O_OK("x=caf%C3%A9", "{x}={caf\xc3\xa9}"),
	O_OK("x=%e2%82%ac", "{x}={\xe2\x82\xac}"),
	O_OK("x=\xe2\x82\xac", "{x}={\xe2\x82\xac}"),
};

static void
check_opt_row(size_t i, const struct opt_row *r)
{
	struct odata_options o;
	struct odata_uri_error err;
	char dump[4096];
	int rc = parse_opts(r->raw, &o, &err);

	if (r->want != NULL) {
		if (rc != 0)
			fail_msg("options row %zu (%s): %s", i, r->raw, err.message);
		dump_options(dump, sizeof(dump), &o);
		if (strcmp(dump, r->want) != 0)
			fail_msg("options row %zu (%s): got \"%s\", want \"%s\"", i, r->raw, dump,
			    r->want);
		odata_options_free(&o);
		assert_null(o.filter);
		odata_options_free(&o);
		return;
	}
	if (rc != -1)
		fail_msg("options row %zu (%s): parsed, want an error", i, r->raw);
	check_message(&err, r->raw);
	if (err.kind != r->ekind || err.pos != r->pos ||
	    strcmp(err.option, r->option ? r->option : "") != 0)
		fail_msg("options row %zu (%s): kind %d option \"%s\" pos %zu, want %d \"%s\" %zu: %s",
		    i, r->raw, err.kind, err.option, err.pos, r->ekind,
		    r->option ? r->option : "", r->pos, err.message);
	if (r->msg != NULL && strcmp(err.message, r->msg) != 0)
		fail_msg("options row %zu (%s): message \"%s\", want \"%s\"", i, r->raw,
		    err.message, r->msg);
	/* nothing left to free */
	assert_null(o.filter);
	assert_null(o.custom);
	assert_null(o.orderby.text);
	assert_null(o.orderby.items);
	assert_null(o.format);
	assert_null(o.skiptoken);
	odata_options_free(&o);
}

static void
test_option_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(opt_rows); i++)
		check_opt_row(i, &opt_rows[i]);
}

/* Decoding errors in names, values and custom options. */
static const struct opt_row decode_rows[] = {
	O_ERRM("x=%", NULL, 2, "Invalid query string at position 2: bad percent-encoding."),
	O_ERR("x=%4", NULL, 2),
	O_ERR("x=%G1", NULL, 2),
	O_ERR("x=%1G", NULL, 2),
	O_ERR("x=a%%41", NULL, 3),
	O_ERR("x=%00", NULL, 2),
	O_ERR("%00=x", NULL, 0),
	O_ERR("a%=x", NULL, 1),
	O_ERR("%zz", NULL, 0),
	O_ERR("=%", NULL, 1),	/* an empty name's value is still decoded */
	O_ERR("x=%FF", NULL, 2),	/* invalid UTF-8: the sequence's first byte */
	O_ERR("ok=1&x=%C3", NULL, 7),
	O_ERR("ok=1&x=ab+%C3%A9+%C3", NULL, 17),
	O_ERR("ok=1&x=ab%C3%A9\xc3(", NULL, 15),
	O_ERR("%FF=1", NULL, 0),
	O_ERR("x=%ED%A0%80", NULL, 2),
	O_ERR("x=%F4%90%80%80", NULL, 2),
	O_ERR("$top=%", "$top", 5),
	O_ERR("$select=%2", "$select", 8),
	O_ERR("$expand=%C3%A", "$expand", 11),
	O_ERR("$top=1&$filter=%", "$filter", 15),
};

static void
test_decode_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(decode_rows); i++)
		check_opt_row(i, &decode_rows[i]);
}

/* The decoded list text is kept as given, for __next links. */
static void
test_option_texts(void **state)
{
	struct odata_options o;
	struct odata_uri_error err;

	(void)state;
	assert_int_equal(parse_opts("$orderby=a+,+b%20desc&$expand=x/y&$select=*,x/*"
	    "&$filter=a%20eq%201", &o, &err), 0);
	assert_string_equal(o.orderby.text, "a , b desc");
	assert_int_equal(o.orderby.n, 2);
	assert_string_equal(o.orderby.items[1].segs[0], "b");
	assert_true(o.orderby.items[1].desc);
	assert_false(o.orderby.items[0].desc);
	assert_string_equal(o.expand.text, "x/y");
	assert_int_equal(o.expand.items[0].nsegs, 2);
	assert_string_equal(o.expand.items[0].segs[1], "y");
	assert_string_equal(o.select.text, "*,x/*");
	assert_int_equal(o.select.n, 2);
	assert_int_equal(o.select.items[0].nsegs, 0);
	assert_true(o.select.items[0].star);
	assert_int_equal(o.select.items[1].nsegs, 1);
	assert_true(o.select.items[1].star);
	assert_string_equal(o.filter, "a eq 1");
	assert_int_equal(o.filter_len, 6);
	odata_options_free(&o);

	assert_int_equal(odata_options_parse(NULL, &o, &err), 0);
	assert_null(o.filter);
	assert_int_equal(o.ncustom, 0);
	odata_options_free(&o);
	assert_int_equal(odata_options_parse("$top=1", NULL, &err), -1);
	assert_int_equal(odata_options_parse("$top=x", &o, NULL), -1);	/* err may be NULL */
	assert_int_equal(odata_options_parse("$top=1", &o, NULL), 0);
	odata_options_free(&o);
	odata_options_free(NULL);
}

/* ---- limits --------------------------------------------------------------- */

static void
expect_opts(const char *raw, int want_rc, enum odata_uri_errkind kind)
{
	struct odata_options o;
	struct odata_uri_error err;
	int rc = parse_opts(raw, &o, &err);

	if (rc != want_rc)
		fail_msg("\"%.80s...\" (%zu bytes): rc %d, want %d: %s", raw, strlen(raw), rc,
		    want_rc, rc ? err.message : "");
	if (rc != 0) {
		check_message(&err, raw);
		assert_int_equal(err.kind, kind);
	}
	odata_options_free(&o);
}

static void
test_option_limits(void **state)
{
	char *s;
	size_t n;

	(void)state;
	/* items per list */
	s = repeat("$expand=a", ",a", ODATA_URI_MAX_ITEMS - 1, "");
	expect_opts(s, 0, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$expand=a", ",a", ODATA_URI_MAX_ITEMS, "");
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$orderby=a desc", ",b asc", ODATA_URI_MAX_ITEMS - 1, "");
	expect_opts(s, 0, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$select=*", ",*", ODATA_URI_MAX_ITEMS, "");
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
	/* segments per path */
	s = repeat("$expand=a", "/a", ODATA_URI_MAX_SEGMENTS - 1, "");
	expect_opts(s, 0, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$expand=a", "/a", ODATA_URI_MAX_SEGMENTS, "");
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$select=a", "/a", ODATA_URI_MAX_SEGMENTS - 1, "/*");
	expect_opts(s, 0, ODATA_URI_MALFORMED);	/* '*' is not a segment */
	free(s);
	s = repeat("$orderby=a", "/a", ODATA_URI_MAX_SEGMENTS, " desc");
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
	/* identifier length */
	s = repeat("$orderby=", "x", ODATA_URI_MAX_IDENT, " desc");
	expect_opts(s, 0, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$orderby=", "x", ODATA_URI_MAX_IDENT + 1, " desc");
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$select=a/", "x", 100000, "");	/* also over the query limit */
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
	/* custom options */
	s = repeat("a=1", "&a=1", ODATA_URI_MAX_ITEMS - 1, "");
	expect_opts(s, 0, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("a=1", "&a=1", ODATA_URI_MAX_ITEMS, "");
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("a=1", "&", 20000, "$top=1");	/* empty pairs cost nothing */
	expect_opts(s, 0, ODATA_URI_MALFORMED);
	free(s);
	/* whole query: exactly the limit, and one byte more */
	n = ODATA_URI_MAX_QUERY - strlen("$filter=");
	s = repeat("$filter=", "a", n, "");
	expect_opts(s, 0, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$filter=", "a", n + 1, "");
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("$filter=", "%25", (ODATA_URI_MAX_QUERY - 8) / 3, "");
	expect_opts(s, 0, ODATA_URI_MALFORMED);
	free(s);
	s = repeat("x=", "+", 5000000, "");	/* huge */
	expect_opts(s, -1, ODATA_URI_MALFORMED);
	free(s);
}

/* Every byte value in a custom option value and in $filter, escaped and raw. */
static void
test_option_every_byte(void **state)
{
	int c;

	(void)state;
	for (c = 0; c < 256; c++) {
		char raw[32];
		struct odata_options o;
		struct odata_uri_error err;
		int rc;

		snprintf(raw, sizeof(raw), "x=%%%02x&$filter=%%%02X", c, c);
		rc = parse_opts(raw, &o, &err);
		if (c == 0 || c >= 0x80) {
			if (rc != -1 || err.kind != ODATA_URI_MALFORMED)
				fail_msg("%s: rc %d", raw, rc);
			check_message(&err, raw);
		} else {
			if (rc != 0 || o.ncustom != 1 || strlen(o.custom[0].value) != 1 ||
			    (unsigned char)o.custom[0].value[0] != c || o.filter_len != 1 ||
			    (unsigned char)o.filter[0] != c)
				fail_msg("%s: rc %d", raw, rc);
			odata_options_free(&o);
		}
		if (c == 0)
			continue;
		snprintf(raw, sizeof(raw), "x=%c", c);
		rc = parse_opts(raw, &o, &err);
		if (c == '%' || c >= 0x80) {
			if (rc != -1)
				fail_msg("raw 0x%02x: parsed", c);
			check_message(&err, raw);
			continue;
		}
		if (rc != 0)
			fail_msg("raw 0x%02x: %s", c, err.message);
		if (c == '&') {
			assert_string_equal(o.custom[0].value, "");
		} else {
			assert_int_equal(strlen(o.custom[0].value), 1);
			assert_int_equal(o.custom[0].value[0], c == '+' ? ' ' : c);
		}
		odata_options_free(&o);
	}
}

/* Unknown option names and format values are quoted, cut at 64 bytes on a
 * character boundary. */
static void
test_option_echo(void **state)
{
	struct odata_options o;
	struct odata_uri_error err;
	char *s;
	const char *q;

	(void)state;
	s = repeat("$x", "\xe2\x82\xac", 1000, "=1");
	assert_int_equal(parse_opts(s, &o, &err), -1);
	check_message(&err, s);
	q = strchr(err.message, '\'');
	assert_non_null(q);
	assert_int_equal(strstr(q, "...'") - (q + 1), 62);	/* "$x" + 20 x 3 bytes */
	free(s);
	s = repeat("$format=", "%C3%A9", 1000, "");
	assert_int_equal(parse_opts(s, &o, &err), -1);
	assert_int_equal(err.kind, ODATA_URI_UNSUPPORTED_FORMAT);
	check_message(&err, s);
	q = strchr(err.message, '[');
	assert_int_equal(strstr(q, "...]") - (q + 1), 64);
	free(s);
	s = repeat("$orderby=a ", "z", 1000, "");
	assert_int_equal(parse_opts(s, &o, &err), -1);
	check_message(&err, s);
	assert_non_null(strstr(err.message, "found '" "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" "...'."));
	free(s);
}

/* ---- __next links ------------------------------------------------------- */

static char *
next_of(const char *raw, long skiptoken, long top)
{
	struct odata_options o;
	struct odata_uri_error err;
	char *s;

	if (parse_opts(raw, &o, &err) != 0)
		fail_msg("%s: %s", raw, err.message);
	s = odata_options_encode_next(&o, skiptoken, top);
	assert_non_null(s);
	odata_options_free(&o);
	return s;
}

struct next_row {
	const char *raw;
	long skiptoken, top;
	const char *want;
};

static const struct next_row next_rows[] = {
	{ "", -1, -1, "" },
	{ "", 10, -1, "$skiptoken=10" },
	{ "", 10, 5, "$top=5&$skiptoken=10" },
	{ "$top=3&$skip=7&$skiptoken=9", 0, 0, "$top=0&$skiptoken=0" },
	{ "$filter=name eq 'a%26b'&sap-client=100&$top=50", 20, 30,
	  "$filter=name%20eq%20'a%26b'&sap-client=100&$top=30&$skiptoken=20" },
	{ "$orderby=a+desc,b&$expand=x/y&$select=x/*,id&$inlinecount=allpages&$format=JSON", 10, -1,
	  "$orderby=a%20desc,b&$expand=x/y&$select=x/*,id&$inlinecount=allpages&$format=JSON"
	  "&$skiptoken=10" },
	{ "$inlinecount=none&x=1+%2B+1%3D2&y", 1, -1,
	  "$inlinecount=none&x=1%20%2B%201%3D2&y=&$skiptoken=1" },
	{ "$filter=x%20eq%20'%25%23%3F%2F:'", 2, -1, "$filter=x%20eq%20'%25%23%3F/:'&$skiptoken=2" },
	{ "q=caf%C3%A9~-._", 1, -1, "q=caf%C3%A9~-._&$skiptoken=1" },
};

static void
test_next_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(next_rows); i++) {
		char *s = next_of(next_rows[i].raw, next_rows[i].skiptoken, next_rows[i].top);

		if (strcmp(s, next_rows[i].want) != 0)
			fail_msg("next row %zu: got \"%s\", want \"%s\"", i, s, next_rows[i].want);
		free(s);
	}
	assert_null(odata_options_encode_next(NULL, 1, 1));
}

/* parse(encode_next(parse(q))) keeps every option but $top, $skip and
 * $skiptoken, which become the arguments. */
static void
check_round_trip(const char *raw)
{
	struct odata_options a, b;
	struct odata_uri_error err;
	char da[8192], db[8192], *next;

	if (parse_opts(raw, &a, &err) != 0)
		fail_msg("%s: %s", raw, err.message);
	next = odata_options_encode_next(&a, 40, 20);
	assert_non_null(next);
	if (parse_opts(next, &b, &err) != 0)
		fail_msg("%s -> %s: %s", raw, next, err.message);
	assert_true(b.has_skiptoken);
	assert_int_equal(b.skiptoken_value, 40);
	assert_true(b.has_top);
	assert_int_equal(b.top, 20);
	assert_false(b.has_skip);
	a.has_top = a.has_skip = a.has_skiptoken = false;
	b.has_top = b.has_skip = b.has_skiptoken = false;
	dump_options(da, sizeof(da), &a);
	dump_options(db, sizeof(db), &b);
	if (strcmp(da, db) != 0)
		fail_msg("%s -> %s: \"%s\" became \"%s\"", raw, next, da, db);
	if ((a.orderby.text || b.orderby.text) && strcmp(a.orderby.text, b.orderby.text) != 0)
		fail_msg("%s: $orderby text changed", raw);
	if (a.filter && (a.filter_len != b.filter_len || memcmp(a.filter, b.filter, a.filter_len)))
		fail_msg("%s: $filter changed", raw);
	free(next);
	odata_options_free(&a);
	odata_options_free(&b);
}

static void
test_next_round_trip(void **state)
{
	static const char *const queries[] = {
		"",
		"$top=5",
		"$filter=name eq 'x' and substringof('a+b', code)&$orderby=a desc,b/c&$top=3",
		"$filter=code eq 'it''s %25 %26 = %2B + # ? / : ~'&sap-client=100&sap-language=EN",
		"$expand=destination/destinationTarget,integrationObject&$select=destinationChannel/*,id,*",
		"$inlinecount=allpages&$format=application/json&$skip=100&$skiptoken=5",
		"$orderby= a , b  DESC &x&y=&z=%20%20",
		"a+b=c+d&%C3%A9=%E2%82%AC&n=%F0%9F%98%80",
		"$filter=%01%02%1F%7F%09%0A%0D",
	};
	char raw[600], *p;
	size_t i;
	int c;

	(void)state;
	for (i = 0; i < NELEM(queries); i++)
		check_round_trip(queries[i]);
	/* every ASCII byte, escaped, in a custom value and in $filter */
	p = raw + snprintf(raw, sizeof(raw), "v=");
	for (c = 1; c < 128; c++)
		p += snprintf(p, 4, "%%%02X", c);
	check_round_trip(raw);
	raw[0] = '$';
	memmove(raw + 7, raw + 1, strlen(raw));
	memcpy(raw, "$filter", 7);
	check_round_trip(raw);
}

/* ---- hostile input: a deterministic random walk -------------------------- */

static uint32_t
lcg(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static void
test_random(void **state)
{
	static const char alphabet[] =
	    "/'()%$&=+,* 0aA_9.-|:;~\\\"\xc3\xa9\xff\x80"
	    "%2F%27%7C%00%C3%A9%FF%25";
	static const char *const words[] = {
		"$metadata", "$batch", "$count", "$value", "$1", "WebhookConfigurations",
		"integrationKey=", "destination", "''", "$filter=", "$top=", "$skip=",
		"$skiptoken=", "$orderby=", "$expand=", "$select=", "$inlinecount=", "$format=",
		" desc", " asc", "allpages", "json", "/*", "2147483648",
	};
	uint32_t seed = 12345;
	size_t iter;

	(void)state;
	for (iter = 0; iter < 30000; iter++) {
		char buf[200];
		size_t n = 0, len = lcg(&seed) % 60;
		struct odata_path p;
		struct odata_options o;
		struct odata_uri_error err;

		while (n < len) {
			if (lcg(&seed) % 4 == 0) {
				const char *w = words[lcg(&seed) % NELEM(words)];
				size_t wl = strlen(w);

				if (n + wl >= sizeof(buf))
					break;
				memcpy(buf + n, w, wl);
				n += wl;
			} else {
				buf[n++] = alphabet[lcg(&seed) % (sizeof(alphabet) - 1)];
			}
		}
		buf[n] = '\0';
		if (parse_path(buf, &p, &err) == 0)
			odata_path_free(&p);
		else
			check_message(&err, buf);
		if (parse_opts(buf, &o, &err) == 0) {
			char *next = odata_options_encode_next(&o, 1, 2);

			assert_non_null(next);
			check_round_trip(buf);
			free(next);
			odata_options_free(&o);
		} else {
			check_message(&err, buf);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_rows),
		cmocka_unit_test(test_path_messages),
		cmocka_unit_test(test_path_null_args),
		cmocka_unit_test(test_path_limits),
		cmocka_unit_test(test_path_every_byte),
		cmocka_unit_test(test_path_echo),
		cmocka_unit_test(test_option_rows),
		cmocka_unit_test(test_decode_rows),
		cmocka_unit_test(test_option_texts),
		cmocka_unit_test(test_option_limits),
		cmocka_unit_test(test_option_every_byte),
		cmocka_unit_test(test_option_echo),
		cmocka_unit_test(test_next_rows),
		cmocka_unit_test(test_next_round_trip),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
