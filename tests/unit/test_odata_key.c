/* odata_key_*: the integrationKey encoding, key predicates, splitting and
 * decoding, the invalid_key message, and the round trip through all three. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAXV 5

/* ---- encode ---------------------------------------------------------- */

struct enc_row {
	size_t n;
	const char *v[MAXV];
	const char *want;
};

static const struct enc_row enc_rows[] = {
	{ 3, { "a", "b c", "x|y" }, "a|b+c|x%7Cy" },
	{ 1, { "abcXYZ019.-*_" }, "abcXYZ019.-*_" },	/* URLEncoder's safe set */
	{ 1, { "~!'()/:;=?@#&$,[]" }, "%7E%21%27%28%29%2F%3A%3B%3D%3F%40%23%26%24%2C%5B%5D" },
	{ 1, { "100% +1" }, "100%25+%2B1" },
	{ 1, { "  " }, "++" },
	{ 1, { "caf\xc3\xa9 \xe2\x82\xac" }, "caf%C3%A9+%E2%82%AC" },	/* upper-case hex */
	{ 1, { "\xf0\x9f\x98\x80" }, "%F0%9F%98%80" },
	{ 1, { "\t\n\x7f" }, "%09%0A%7F" },
	{ 3, { "a", "", "b" }, "a||b" },	/* empty value, empty part */
	{ 1, { "" }, "" },
	{ 2, { "", "" }, "|" },
	{ 3, { "a", NULL, "b" }, "a|null|b" },	/* SAP's NULL */
	{ 1, { NULL }, "null" },
	{ 1, { "null" }, "null" },	/* the documented collision */
	{ 1, { "%7C" }, "%257C" },
	{ 4, { "dest", "target", "io", "de.hybris.platform.webhookservices.event.ItemSavedEvent" },
	  "dest|target|io|de.hybris.platform.webhookservices.event.ItemSavedEvent" },
	{ 0, { NULL }, "" },
};

static void
test_encode_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(enc_rows); i++) {
		char *got = odata_key_encode(enc_rows[i].v, enc_rows[i].n);

		assert_non_null(got);
		if (strcmp(got, enc_rows[i].want) != 0)
			fail_msg("encode row %zu: got \"%s\", want \"%s\"", i, got, enc_rows[i].want);
		free(got);
	}
}

/* Every single byte against URLEncoder's rule, independently restated. */
static void
test_encode_every_byte(void **state)
{
	int c;

	(void)state;
	for (c = 1; c < 256; c++) {
		char v[2] = { (char)c, '\0' }, want[4];
		const char *vals[1] = { v };
		char *got = odata_key_encode(vals, 1);

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr(".-*_", c) != NULL)
			snprintf(want, sizeof(want), "%c", c);
		else if (c == ' ')
			snprintf(want, sizeof(want), "+");
		else
			snprintf(want, sizeof(want), "%%%02X", c);
		assert_non_null(got);
		if (strcmp(got, want) != 0)
			fail_msg("byte 0x%02x: got \"%s\", want \"%s\"", c, got, want);
		free(got);
	}
}

static void
test_encode_null_array(void **state)
{
	(void)state;
	assert_null(odata_key_encode(NULL, 1));
}

/* ---- predicate -------------------------------------------------------- */

struct pred_row {
	const char *pred;
	size_t len;		/* 0: strlen(pred) */
	const char *want;	/* NULL: -1 expected */
};

static const struct pred_row pred_rows[] = {
	{ "'a|b'", 0, "a|b" },
	{ "integrationKey='a|b|c|d'", 0, "a|b|c|d" },
	{ "integrationKey='it''s'", 0, "it's" },
	{ "'it''s'", 0, "it's" },
	{ "''", 0, "" },	/* an empty key is syntactically fine */
	{ "integrationKey=''", 0, "" },
	{ "''''", 0, "'" },
	{ "''''''", 0, "''" },
	{ "'a''''b'", 0, "a''b" },
	{ "'a%7Cb'", 0, "a%7Cb" },	/* no decoding here */
	{ "'caf\xc3\xa9'", 0, "caf\xc3\xa9" },
	{ "'a b+c'", 0, "a b+c" },
	{ "'('", 0, "(" },
	{ "')'", 0, ")" },
	{ "'integrationKey='", 0, "integrationKey=" },
	{ "'a'", 2, NULL },	/* len cuts the closing quote off */
	/* errors */
	{ "", 0, NULL },	/* empty predicate */
	{ "'", 0, NULL },
	{ "'''", 0, NULL },	/* '' then unterminated */
	{ "'abc", 0, NULL },
	{ "'abc''", 0, NULL },
	{ "abc", 0, NULL },	/* missing quotes */
	{ "abc'", 0, NULL },
	{ "12", 0, NULL },
	{ "'a'b'", 0, NULL },	/* lone quote inside */
	{ "'a' ", 0, NULL },	/* trailing junk */
	{ "'a'x", 0, NULL },
	{ "'a'''x", 0, NULL },
	{ "'a','b'", 0, NULL },
	{ " 'a'", 0, NULL },
	{ "integrationKey", 0, NULL },
	{ "integrationKey=", 0, NULL },
	{ "integrationKey=a", 0, NULL },
	{ "integrationKey='a", 0, NULL },
	{ "integrationKey = 'a'", 0, NULL },	/* strict: no blanks */
	{ "integrationKey ='a'", 0, NULL },
	{ "integrationKey= 'a'", 0, NULL },
	{ "integrationkey='a'", 0, NULL },	/* case matters */
	{ "IntegrationKey='a'", 0, NULL },
	{ "integrationKeys='a'", 0, NULL },
	{ "code='a'", 0, NULL },
	{ "id='a'", 0, NULL },
	{ "integrationKey='a',code='b'", 0, NULL },
	{ "integrationKey=integrationKey='a'", 0, NULL },
	{ "='a'", 0, NULL },
	{ "\"a\"", 0, NULL },
	{ "'a\0b'", 5, NULL },	/* NUL byte inside */
	{ "'ab'\0", 5, NULL },	/* NUL byte after */
	{ "\0'ab'", 5, NULL },
};

/* Runs the predicate parser on an exact-size heap copy, so ASan catches a
 * read past len. */
static int
parse_pred(const char *pred, size_t len, char **key)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, pred, len);
	rc = odata_key_predicate(copy, len, key);
	free(copy);
	return rc;
}

static void
test_predicate_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(pred_rows); i++) {
		const struct pred_row *r = &pred_rows[i];
		size_t len = r->len ? r->len : strlen(r->pred);
		char *key = (char *)"sentinel";
		int rc = parse_pred(r->pred, len, &key);

		if (r->want == NULL) {
			if (rc != -1 || key != NULL)
				fail_msg("predicate row %zu (%s): want -1 and NULL, got %d", i, r->pred, rc);
			continue;
		}
		if (rc != 0 || key == NULL || strcmp(key, r->want) != 0)
			fail_msg("predicate row %zu (%s): rc %d, got \"%s\", want \"%s\"", i, r->pred,
			    rc, key ? key : "(null)", r->want);
		free(key);
	}
}

static void
test_predicate_bad_args(void **state)
{
	char *key = (char *)"sentinel";

	(void)state;
	assert_int_equal(odata_key_predicate(NULL, 0, &key), -1);
	assert_null(key);
	assert_int_equal(odata_key_predicate("'a'", 3, NULL), -1);
}

/* ---- named predicates (any key property: integrationKey, id) ------------ */

struct named_row {
	const char *pred;
	size_t len;		/* 0: strlen(pred) */
	const char *name;	/* NULL: the bare form (or an error) */
	const char *want;	/* NULL: -1 expected */
};

static const struct named_row named_rows[] = {
	{ "'a'", 0, NULL, "a" },
	{ "''", 0, NULL, "" },
	{ "'it''s'", 0, NULL, "it's" },
	{ "id='abc'", 0, "id", "abc" },
	{ "id=''", 0, "id", "" },
	{ "id='a''b'", 0, "id", "a'b" },
	{ "id='a|b%7C'", 0, "id", "a|b%7C" },	/* no decoding here */
	{ "integrationKey='a|b'", 0, "integrationKey", "a|b" },
	{ "integrationkey='a'", 0, "integrationkey", "a" },	/* the caller compares */
	{ "_='a'", 0, "_", "a" },
	{ "a1_B2='x'", 0, "a1_B2", "x" },
	{ "id='id='''", 0, "id", "id='" },
	{ "id='a'", 5, NULL, NULL },		/* len cuts the closing quote off */
	/* errors */
	{ "", 0, NULL, NULL },
	{ "id", 0, NULL, NULL },
	{ "id=", 0, NULL, NULL },
	{ "id=a", 0, NULL, NULL },
	{ "id='a", 0, NULL, NULL },
	{ "id='a'x", 0, NULL, NULL },
	{ "id ='a'", 0, NULL, NULL },
	{ "id= 'a'", 0, NULL, NULL },
	{ " id='a'", 0, NULL, NULL },
	{ "1d='a'", 0, NULL, NULL },
	{ "i-d='a'", 0, NULL, NULL },
	{ "i.d='a'", 0, NULL, NULL },
	{ "='a'", 0, NULL, NULL },
	{ "id=id='a'", 0, NULL, NULL },
	{ "id='a',x='b'", 0, NULL, NULL },
	{ "caf\xc3\xa9='a'", 0, NULL, NULL },
	{ "id=\"a\"", 0, NULL, NULL },
	{ "id='a\0b'", 8, NULL, NULL },
	{ "id\0='a'", 7, NULL, NULL },
	/* 128 bytes of name are fine, 129 are not */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa='k'", 0,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "k" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa='k'", 0, NULL, NULL },
};

static void
test_named_predicate_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(named_rows); i++) {
		const struct named_row *r = &named_rows[i];
		size_t len = r->len ? r->len : strlen(r->pred);
		char *copy = malloc(len ? len : 1);
		char *key = (char *)"sentinel", *name = (char *)"sentinel";
		int rc;

		assert_non_null(copy);
		memcpy(copy, r->pred, len);
		rc = odata_key_predicate_named(copy, len, &name, &key);
		free(copy);
		if (r->want == NULL) {
			if (rc != -1 || key != NULL || name != NULL)
				fail_msg("named row %zu (%s): want -1 and NULLs, got %d", i, r->pred, rc);
			continue;
		}
		if (rc != 0 || key == NULL || strcmp(key, r->want) != 0)
			fail_msg("named row %zu (%s): rc %d, got \"%s\", want \"%s\"", i, r->pred,
			    rc, key ? key : "(null)", r->want);
		if ((r->name == NULL) != (name == NULL) || (name && strcmp(name, r->name) != 0))
			fail_msg("named row %zu (%s): name \"%s\", want \"%s\"", i, r->pred,
			    name ? name : "(null)", r->name ? r->name : "(null)");
		free(key);
		free(name);
	}
	/* the strict form still only takes integrationKey */
	{
		char *key = NULL;

		assert_int_equal(odata_key_predicate("id='a'", 6, &key), -1);
		assert_null(key);
	}
}

static void
test_named_predicate_bad_args(void **state)
{
	char *key = (char *)"sentinel", *name = (char *)"sentinel";

	(void)state;
	assert_int_equal(odata_key_predicate_named(NULL, 0, &name, &key), -1);
	assert_null(key);
	assert_null(name);
	key = (char *)"sentinel";
	assert_int_equal(odata_key_predicate_named("'a'", 3, NULL, &key), -1);
	assert_null(key);
	assert_int_equal(odata_key_predicate_named("'a'", 3, &name, NULL), -1);
}

/* ---- split -------------------------------------------------------------- */

struct split_row {
	const char *key;
	size_t arity;
	int rc;
	const char *want[MAXV];	/* NULL entries: a NULL value */
};

static const struct split_row split_rows[] = {
	{ "a%7Cb|c", 2, 0, { "a|b", "c" } },
	{ "a|b+c|x%7Cy", 3, 0, { "a", "b c", "x|y" } },
	{ "a||b", 3, 0, { "a", "", "b" } },
	{ "", 1, 0, { "" } },
	{ "|", 2, 0, { "", "" } },
	{ "||", 3, 0, { "", "", "" } },
	{ "null", 1, 0, { NULL } },
	{ "a|null|b", 3, 0, { "a", NULL, "b" } },
	{ "null|null", 2, 0, { NULL, NULL } },
	{ "%6Eull", 1, 0, { "null" } },	/* the string "null", escaped */
	{ "NULL", 1, 0, { "NULL" } },	/* only the exact literal is NULL */
	{ "Null", 1, 0, { "Null" } },
	{ "nul", 1, 0, { "nul" } },
	{ "nulll", 1, 0, { "nulll" } },
	{ "null+", 1, 0, { "null " } },
	{ "+%2B+", 1, 0, { " + " } },
	{ "%25", 1, 0, { "%" } },
	{ "%257C", 1, 0, { "%7C" } },	/* decoded exactly once */
	{ "%27%27", 1, 0, { "''" } },
	{ "caf%C3%A9", 1, 0, { "caf\xc3\xa9" } },
	{ "caf%c3%a9", 1, 0, { "caf\xc3\xa9" } },	/* lower-case hex too */
	{ "caf\xc3\xa9", 1, 0, { "caf\xc3\xa9" } },	/* raw UTF-8 passes */
	{ "%F0%9F%98%80", 1, 0, { "\xf0\x9f\x98\x80" } },
	{ "%F4%8F%BF%BF", 1, 0, { "\xf4\x8f\xbf\xbf" } },	/* U+10FFFF */
	{ "%EF%BF%BF", 1, 0, { "\xef\xbf\xbf" } },
	{ "%ED%9F%BF", 1, 0, { "\xed\x9f\xbf" } },	/* U+D7FF, just below the surrogates */
	{ "%01%7F", 1, 0, { "\x01\x7f" } },
	{ "a b~!", 1, 0, { "a b~!" } },	/* URLDecoder leaves other bytes alone */
	{ "dest|target|io|de.hybris.platform.webhookservices.event.ItemSavedEvent", 4, 0,
	  { "dest", "target", "io", "de.hybris.platform.webhookservices.event.ItemSavedEvent" } },
	/* wrong number of parts */
	{ "a|b", 3, -1, { NULL } },
	{ "a|b", 1, -1, { NULL } },
	{ "a|b|c", 2, -1, { NULL } },
	{ "a%7Cb", 2, -1, { NULL } },
	{ "", 2, -1, { NULL } },
	{ "a", 0, -1, { NULL } },
	{ "", 0, -1, { NULL } },
	{ "a", (size_t)-1, -1, { NULL } },
	/* malformed escapes */
	{ "%ZZ", 1, -1, { NULL } },
	{ "%", 1, -1, { NULL } },
	{ "a%", 1, -1, { NULL } },
	{ "%4", 1, -1, { NULL } },
	{ "%4|1", 2, -1, { NULL } },
	{ "%G0", 1, -1, { NULL } },
	{ "%0G", 1, -1, { NULL } },
	{ "%+1", 1, -1, { NULL } },
	{ "% 1", 1, -1, { NULL } },
	{ "%%41", 1, -1, { NULL } },
	{ "ok|%Z", 2, -1, { NULL } },	/* a later part fails: no leak */
	/* decoded NUL */
	{ "%00", 1, -1, { NULL } },
	{ "a%00b", 1, -1, { NULL } },
	{ "a|%00", 2, -1, { NULL } },
	/* invalid UTF-8 */
	{ "%C3%28", 1, -1, { NULL } },
	{ "%C3", 1, -1, { NULL } },	/* truncated */
	{ "%E2%82", 1, -1, { NULL } },
	{ "%F0%9F%98", 1, -1, { NULL } },
	{ "%80", 1, -1, { NULL } },	/* lone continuation byte */
	{ "%BF", 1, -1, { NULL } },
	{ "%C0%AF", 1, -1, { NULL } },	/* overlong '/' */
	{ "%C1%BF", 1, -1, { NULL } },
	{ "%E0%80%AF", 1, -1, { NULL } },
	{ "%E0%9F%BF", 1, -1, { NULL } },
	{ "%F0%80%80%AF", 1, -1, { NULL } },
	{ "%F0%8F%BF%BF", 1, -1, { NULL } },
	{ "%ED%A0%80", 1, -1, { NULL } },	/* UTF-16 surrogate */
	{ "%ED%BF%BF", 1, -1, { NULL } },
	{ "%F4%90%80%80", 1, -1, { NULL } },	/* above U+10FFFF */
	{ "%F5%80%80%80", 1, -1, { NULL } },
	{ "%FE", 1, -1, { NULL } },
	{ "%FF", 1, -1, { NULL } },
	{ "%E2%28%AC", 1, -1, { NULL } },
	{ "%E2%82%28", 1, -1, { NULL } },
	{ "%C3%A9%C3", 1, -1, { NULL } },
	{ "\xff", 1, -1, { NULL } },	/* raw invalid byte */
	{ "\xc3", 1, -1, { NULL } },
	{ "\xc3|\xa9", 2, -1, { NULL } },	/* a character split by '|' */
	{ "%C3|%A9", 2, -1, { NULL } },
};

static void
check_values(size_t row, char **got, const char *const *want, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (want[i] == NULL && got[i] == NULL)
			continue;
		if (want[i] == NULL || got[i] == NULL || strcmp(got[i], want[i]) != 0)
			fail_msg("row %zu value %zu: got \"%s\", want \"%s\"", row, i,
			    got[i] ? got[i] : "(NULL)", want[i] ? want[i] : "(NULL)");
	}
}

static void
test_split_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(split_rows); i++) {
		const struct split_row *r = &split_rows[i];
		char **v = (char **)&v;	/* any non-NULL sentinel */
		int rc = odata_key_split(r->key, r->arity, &v);

		if (rc != r->rc)
			fail_msg("split row %zu (%s, %zu): rc %d, want %d", i, r->key, r->arity, rc, r->rc);
		if (rc != 0) {
			assert_null(v);
			continue;
		}
		assert_non_null(v);
		check_values(i, v, r->want, r->arity);
		odata_key_free_values(v, r->arity);
	}
}

static void
test_split_bad_args(void **state)
{
	char **v = (char **)&v;

	(void)state;
	assert_int_equal(odata_key_split(NULL, 1, &v), -1);
	assert_null(v);
	assert_int_equal(odata_key_split("a", 1, NULL), -1);
	odata_key_free_values(NULL, 3);
}

/* A long key: many parts, and parts that are long. */
static void
test_split_long(void **state)
{
	enum { PARTS = 1000, LEN = 3 * 4096 };
	char *key = malloc(PARTS * 2 + LEN + 1), **v;
	size_t i, p = 0;

	(void)state;
	assert_non_null(key);
	for (i = 0; i < LEN; i += 3)
		memcpy(key + p + i, "%7C", 3);
	p += LEN;
	for (i = 1; i < PARTS; i++) {
		key[p++] = '|';
		key[p++] = 'x';
	}
	key[p] = '\0';
	assert_int_equal(odata_key_split(key, PARTS, &v), 0);
	assert_int_equal(strlen(v[0]), LEN / 3);
	assert_int_equal(strspn(v[0], "|"), LEN / 3);
	assert_string_equal(v[PARTS - 1], "x");
	odata_key_free_values(v, PARTS);
	assert_int_equal(odata_key_split(key, PARTS - 1, &v), -1);
	assert_int_equal(odata_key_split(key, PARTS + 1, &v), -1);
	free(key);
}

/* ---- error message ------------------------------------------------------ */

#define MSG_A "The integration key [a|b] is invalid. Please consult the IntegrationKey " \
	"definition of [WebhookConfiguration] for configuration details."

static void
test_error_message(void **state)
{
	char buf[512];
	int n;

	(void)state;
	n = odata_key_error_message(buf, sizeof(buf), "a|b", "WebhookConfiguration");
	assert_string_equal(buf, MSG_A);
	assert_int_equal(n, strlen(MSG_A));

	/* snprintf-style: the length is returned whatever the size */
	assert_int_equal(odata_key_error_message(NULL, 0, "a|b", "WebhookConfiguration"), n);
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(odata_key_error_message(buf, 10, "a|b", "WebhookConfiguration"), n);
	assert_string_equal(buf, "The integ");
	assert_int_equal(buf[10], 'X');
	buf[1] = 'X';
	assert_int_equal(odata_key_error_message(buf, 1, "a|b", "WebhookConfiguration"), n);
	assert_string_equal(buf, "");
	assert_int_equal(buf[1], 'X');
	/* size 0 writes nothing at all */
	buf[0] = 'Y';
	assert_int_equal(odata_key_error_message(buf, 0, "a|bc", "WebhookConfiguration"), n + 1);
	assert_int_equal(buf[0], 'Y');
	assert_int_equal(odata_key_error_message(NULL, 5, "k", "T"), -1);

	odata_key_error_message(buf, sizeof(buf), NULL, NULL);
	assert_string_equal(buf, "The integration key [] is invalid. Please consult the "
	    "IntegrationKey definition of [] for configuration details.");
	/* the key is shown as given, quotes and all */
	odata_key_error_message(buf, sizeof(buf), "it's|%ZZ", "Endpoint");
	assert_string_equal(buf, "The integration key [it's|%ZZ] is invalid. Please consult the "
	    "IntegrationKey definition of [Endpoint] for configuration details.");
}

/* A truncated message never ends in half a UTF-8 character. */
static void
test_error_message_utf8_cut(void **state)
{
	const char *key = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";	/* é € 😀 */
	static const size_t prefix = sizeof("The integration key [") - 1;
	static const struct { size_t size, want_len; } cuts[] = {
		{ 0 + 1, 0 },
		{ 1 + 1, 0 },	/* half of é */
		{ 2 + 1, 2 },
		{ 3 + 1, 2 },
		{ 4 + 1, 2 },	/* two thirds of € */
		{ 5 + 1, 5 },
		{ 6 + 1, 5 },
		{ 8 + 1, 5 },	/* three quarters of 😀 */
		{ 9 + 1, 9 },
	};
	char buf[128];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cuts); i++) {
		odata_key_error_message(buf, prefix + cuts[i].size, key, "T");
		if (strlen(buf) != prefix + cuts[i].want_len)
			fail_msg("cut %zu: length %zu, want %zu", i, strlen(buf),
			    prefix + cuts[i].want_len);
	}
	/* invalid UTF-8 in the key is passed through, not "repaired" */
	odata_key_error_message(buf, prefix + 2, "\x80\x80\x80\x80\x80", "T");
	assert_int_equal(strlen(buf), prefix + 1);
}

/* ---- round trip --------------------------------------------------------- */

static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Pieces that a random value is made of: everything the codec treats
 * specially, plus multibyte UTF-8 of every length. */
static const char *const pieces[] = {
	"|", "%", "+", " ", "'", "''", "a", "Z", "0", ".", "-", "*", "_", "~", "/", "=",
	"(", ")", "%7C", "%25", "%00", "null", "\t", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
	"\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xc2\x80",
};

static char *
random_value(uint32_t *seed)
{
	size_t cap = 256, len = 0, k, n = next_rand(seed) % 12;
	char *v = malloc(cap);

	assert_non_null(v);
	for (k = 0; k < n; k++) {
		const char *p = pieces[next_rand(seed) % NELEM(pieces)];

		memcpy(v + len, p, strlen(p));
		len += strlen(p);
	}
	v[len] = '\0';
	return v;
}

/* Writes key as a predicate the way a client would: integrationKey='...'
 * with each ' doubled. */
static char *
quote_key(const char *key, bool named)
{
	char *out = malloc(strlen(key) * 2 + 32), *w = out;

	assert_non_null(out);
	if (named)
		w += sprintf(w, "integrationKey=");
	*w++ = '\'';
	for (; *key != '\0'; key++) {
		if (*key == '\'')
			*w++ = '\'';
		*w++ = *key;
	}
	*w++ = '\'';
	*w = '\0';
	return out;
}

static void
round_trip_one(uint32_t *seed, size_t iter)
{
	char *vals[MAXV] = { NULL }, *key, *pred, *parsed, **got;
	size_t n = 1 + next_rand(seed) % MAXV, i;

	for (i = 0; i < n; i++)
		vals[i] = next_rand(seed) % 8 == 0 ? NULL : random_value(seed);
	key = odata_key_encode((const char *const *)vals, n);
	assert_non_null(key);
	/* the encoder leaves no quote for the predicate to escape... */
	assert_null(strchr(key, '\''));
	/* ...but a client may still double any quote it writes */
	pred = quote_key(key, iter & 1);
	assert_int_equal(odata_key_predicate(pred, strlen(pred), &parsed), 0);
	assert_string_equal(parsed, key);
	if (odata_key_split(parsed, n, &got) != 0)
		fail_msg("iteration %zu: split of \"%s\" failed", iter, key);
	for (i = 0; i < n; i++) {
		/* the string "null" is the one value that comes back as NULL */
		bool want_null = vals[i] == NULL || strcmp(vals[i], "null") == 0;

		if (want_null ? got[i] != NULL : (got[i] == NULL || strcmp(got[i], vals[i]) != 0))
			fail_msg("iteration %zu, value %zu: \"%s\" came back as \"%s\" (key %s)",
			    iter, i, vals[i] ? vals[i] : "(NULL)", got[i] ? got[i] : "(NULL)", key);
	}
	odata_key_free_values(got, n);
	assert_int_equal(odata_key_split(parsed, n + 1, &got), -1);
	for (i = 0; i < n; i++)
		free(vals[i]);
	free(key);
	free(pred);
	free(parsed);
}

static void
test_round_trip_random(void **state)
{
	uint32_t seed = 0x2545F491u;
	size_t iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++)
		round_trip_one(&seed, iter);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_rows),
		cmocka_unit_test(test_encode_every_byte),
		cmocka_unit_test(test_encode_null_array),
		cmocka_unit_test(test_predicate_rows),
		cmocka_unit_test(test_predicate_bad_args),
		cmocka_unit_test(test_named_predicate_rows),
		cmocka_unit_test(test_named_predicate_bad_args),
		cmocka_unit_test(test_split_rows),
		cmocka_unit_test(test_split_bad_args),
		cmocka_unit_test(test_split_long),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_error_message_utf8_cut),
		cmocka_unit_test(test_round_trip_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
