/* odata/filter_sql: $filter AST -> parameterized PostgreSQL. Each row is a
 * $filter text and either the exact SQL and parameters (base 0, so the
 * first placeholder is $1) or the error kind, position and exact message.
 * A fake resolver stands in for the entity model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "filter_sql.h"

#define COUNT(a)	(sizeof(a) / sizeof((a)[0]))
#define MAXP		8

/* ------------------------------------------------------- fake resolver */

static const struct fake_col {
	const char *path, *sql;
	enum odata_sql_type type;
	bool key;
	int ctx;
} cols[] = {
	{ "eventType", "t.\"event_type\"", ODATA_SQL_STRING, false, 0 },
	{ "active", "t.\"active\"", ODATA_SQL_BOOLEAN, false, 0 },
	{ "maxInFlight", "t.\"max_in_flight\"", ODATA_SQL_INT32, false, 0 },
	{ "timeoutMillis", "t.\"timeout_millis\"", ODATA_SQL_INT64, false, 0 },
	{ "price", "t.\"price\"", ODATA_SQL_DECIMAL, false, 0 },
	{ "ratio", "t.\"ratio\"", ODATA_SQL_DOUBLE, false, 0 },
	{ "created", "t.\"created\"", ODATA_SQL_DATETIME, false, 0 },	/* timestamptz, UTC */
	{ "modified", "t.\"modified\"", ODATA_SQL_DATETIMEOFFSET, false, 0 },
	{ "uid", "t.\"uid\"", ODATA_SQL_GUID, false, 0 },
	{ "integrationKey", "t.\"ikey\"", ODATA_SQL_STRING, true, 0 },
	{ "destination/id", "j1.\"id\"", ODATA_SQL_STRING, false, 0 },
	{ "destination/integrationKey", "j1.\"ikey\"", ODATA_SQL_STRING, true, 1 },
	{ "destination/destinationTarget/id", "j2.\"id\"", ODATA_SQL_STRING, false, 0 },
};

static int resolve_calls;

static void
join_path(const char *const *segs, size_t n, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "/" : "", segs[i]);
}

/* Is p a whole-segment prefix of some known path? */
static bool
known_prefix(const char *p)
{
	size_t i, n = strlen(p);

	for (i = 0; i < COUNT(cols); i++)
		if (strncmp(cols[i].path, p, n) == 0 &&
		    (cols[i].path[n] == '\0' || cols[i].path[n] == '/'))
			return true;
	return false;
}

static int
fake_resolve(void *arg, const char *const *segs, size_t nsegs, struct odata_sql_column *out,
    size_t *err_segment)
{
	char path[4400];
	size_t i;

	(void)arg;
	resolve_calls++;
	join_path(segs, nsegs, path, sizeof(path));
	for (i = 0; i < COUNT(cols); i++) {
		if (strcmp(cols[i].path, path) == 0) {
			snprintf(out->sql, sizeof(out->sql), "%s", cols[i].sql);
			out->type = cols[i].type;
			out->is_key = cols[i].key;
			out->key_ctx = cols[i].ctx;
			return ODATA_SQL_OK;
		}
	}
	for (i = 0; i < nsegs; i++) {
		*err_segment = i;
		if (strcmp(segs[i], "additionalProperties") == 0)
			return ODATA_SQL_TO_MANY;
		join_path(segs, i + 1, path, sizeof(path));
		if (!known_prefix(path))
			return ODATA_SQL_NOT_FOUND;
	}
	*err_segment = nsegs - 1;	/* a navigation used as a value */
	return ODATA_SQL_NOT_FOUND;
}

static int
add_param(struct strbuf *out, struct odata_sql_params *p, const char *v, const char *fmt)
{
	int n = odata_sql_param_add(p, v);

	if (n < 0)
		return ODATA_SQL_NOMEM;
	strbuf_addf(out, fmt, n);
	return ODATA_SQL_OK;
}

/* ctx 0: two parts a|b; ctx 1: one part without '|'. */
static int
fake_key_eq(void *arg, int ctx, const char *lit, struct strbuf *out, struct odata_sql_params *p)
{
	const char *bar = strchr(lit, '|');
	char first[64];

	(void)arg;
	if (ctx == 1) {
		if (bar != NULL) {
			strbuf_adds(out, "FALSE");
			return ODATA_SQL_OK;
		}
		return add_param(out, p, lit, "(j1.\"id\" = $%d::text)");
	}
	if (bar == NULL || strchr(bar + 1, '|') != NULL || (size_t)(bar - lit) >= sizeof(first)) {
		strbuf_adds(out, "FALSE");
		return ODATA_SQL_OK;
	}
	snprintf(first, sizeof(first), "%.*s", (int)(bar - lit), lit);
	if (add_param(out, p, first, "(t.\"a\" = $%d::text") != ODATA_SQL_OK)
		return ODATA_SQL_NOMEM;
	return add_param(out, p, bar + 1, " AND t.\"b\" = $%d::text)");
}

static const struct odata_sql_resolver resolver = { fake_resolve, fake_key_eq, NULL };
static const struct odata_sql_resolver resolver_nokey = { fake_resolve, NULL, NULL };

/* ---------------------------------------------------------------- rows */

struct row {
	const char *in;
	const char *sql;		/* NULL: an error is expected */
	const char *params[MAXP];	/* NULL-terminated */
	enum odata_sql_status kind;
	size_t pos;
	const char *msg;
	const char *name;		/* NOT_FOUND / TO_MANY */
};

#define OK(in, sql, ...)	{ in, sql, { __VA_ARGS__, NULL }, ODATA_SQL_OK, 0, NULL, NULL }
#define OK0(in, sql)		{ in, sql, { NULL }, ODATA_SQL_OK, 0, NULL, NULL }
#define TYPE(in, pos, msg)	{ in, NULL, { NULL }, ODATA_SQL_TYPE, pos, msg, NULL }
#define NF(in, pos, name)	{ in, NULL, { NULL }, ODATA_SQL_NOT_FOUND, pos, \
				  "Could not find property with name: '" name "'.", name }
#define TM(in, pos, path, name)	{ in, NULL, { NULL }, ODATA_SQL_TO_MANY, pos, "Navigation " \
				  "property [" path "] is a collection and cannot be used " \
				  "in $filter.", name }

static struct odata_filter *
parse_ok(const char *s, size_t len)
{
	struct odata_filter *f = NULL;
	struct odata_filter_error err;

	if (odata_filter_parse(s, len, &f, &err) != 0)
		fail_msg("[%.80s]: parse error: %s", s, err.message);
	return f;
}

static void
check_params(const struct row *w, const struct odata_sql_params *p, const char *label)
{
	int i;

	for (i = 0; i < p->n && i < MAXP && w->params[i] != NULL; i++)
		if (p->v[i] == NULL || strcmp(p->v[i], w->params[i]) != 0)
			fail_msg("%s: param $%d is '%s', want '%s'", label, i + 1,
			    p->v[i] ? p->v[i] : "(NULL)", w->params[i]);
	if (i != p->n || (i < MAXP && w->params[i] != NULL))
		fail_msg("%s: %d params, want more or fewer (first unmatched index %d)", label,
		    p->n, i);
}

static void
check_error(const struct row *w, int rc, const struct odata_filter_sql_error *err,
    const struct strbuf *out, const struct odata_sql_params *p, const char *label)
{
	if (rc == 0)
		fail_msg("%s: compiled to %s, want error '%s'", label, out->s, w->msg);
	if (err->kind != w->kind || err->pos != w->pos || strcmp(err->message, w->msg) != 0)
		fail_msg("%s:\n got error %d at %zu '%s'\nwant error %d at %zu '%s'", label,
		    (int)err->kind, err->pos, err->message, (int)w->kind, w->pos, w->msg);
	if (w->name != NULL && strcmp(err->name, w->name) != 0)
		fail_msg("%s: error name '%s', want '%s'", label, err->name, w->name);
	assert_int_equal(out->len, 0);
	assert_int_equal(p->n, 0);
}

/* s without each " AT TIME ZONE 'UTC'" (in a static buffer). */
static const char *
without_utc(const char *s)
{
	static char buf[8192];
	static const char utc[] = " AT TIME ZONE 'UTC'";
	size_t n = 0;

	while (*s && n + 1 < sizeof(buf)) {
		if (strncmp(s, utc, sizeof(utc) - 1) == 0) {
			s += sizeof(utc) - 1;
			continue;
		}
		buf[n++] = *s++;
	}
	buf[n] = '\0';
	return buf;
}

static void
check_row(const struct row *w, const struct odata_sql_resolver *r, const char *label)
{
	struct odata_filter *f = parse_ok(w->in, strlen(w->in));
	struct odata_filter_sql_error err;
	struct odata_sql_params p = { NULL, 0, 0, 0 };
	struct strbuf out;
	int rc;

	strbuf_init(&out);
	rc = odata_filter_sql_compile(odata_filter_root(f), r, &out, &p, &err);
	if (w->sql == NULL) {
		check_error(w, rc, &err, &out, &p, label);
	} else {
		if (rc != 0)
			fail_msg("%s: unexpected error: %s", label, err.message);
		if (strcmp(out.s, w->sql) != 0)
			fail_msg("%s:\n got %s\nwant %s", label, out.s, w->sql);
		/* nothing from the URL is spliced: no quote ever reaches the SQL
		 * but the fixed zone of an Edm.DateTime's fields */
		if (strchr(without_utc(out.s), '\'') != NULL)
			fail_msg("%s: a quote in the SQL", label);
		check_params(w, &p, label);
	}
	strbuf_free(&out);
	odata_sql_params_free(&p);
	odata_filter_free(f);
}

static void
run_rows(const struct row *rows, size_t n)
{
	char label[128];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "row %zu [%.80s]", i, rows[i].in);
		check_row(&rows[i], &resolver, label);
	}
}

/* ------------------------------------------------------------ operators */

static const struct row operator_rows[] = {
	OK("eventType eq 'x'", "(t.\"event_type\" = $1::text)", "x"),
	OK("eventType eq 'x' and active",
	    "((t.\"event_type\" = $1::text) AND t.\"active\")", "x"),
	/* and binds tighter than or */
	OK("eventType eq 'a' or eventType eq 'b' and maxInFlight gt 1",
	    "((t.\"event_type\" = $1::text) OR ((t.\"event_type\" = $2::text) AND "
	    "(t.\"max_in_flight\" > $3::int4)))", "a", "b", "1"),
	OK("(eventType eq 'a' or eventType eq 'b') and active eq true",
	    "(((t.\"event_type\" = $1::text) OR (t.\"event_type\" = $2::text)) AND "
	    "(t.\"active\" = $3::boolean))", "a", "b", "true"),
	OK("active or active or active", "((t.\"active\" OR t.\"active\") OR t.\"active\")", NULL),
	/* not: its operand's NULL must become false */
	OK("not (eventType eq 'x')", "(NOT COALESCE((t.\"event_type\" = $1::text), false))", "x"),
	OK("not active", "(NOT t.\"active\")", NULL),
	OK("not not active", "(NOT (NOT t.\"active\"))", NULL),
	OK("not (active and eventType eq 'x')",
	    "(NOT (t.\"active\" AND COALESCE((t.\"event_type\" = $1::text), false)))", "x"),
	OK("not active and eventType eq 'x'",
	    "((NOT t.\"active\") AND (t.\"event_type\" = $1::text))", "x"),
	OK("not (eventType ne 'x')", "(NOT (t.\"event_type\" IS DISTINCT FROM $1::text))", "x"),
	/* V2: not binds tighter than eq */
	OK("not active eq false", "((NOT t.\"active\") = $1::boolean)", "false"),
	/* comparisons as operands of eq */
	OK("maxInFlight gt 1 eq true",
	    "(COALESCE((t.\"max_in_flight\" > $1::int4), false) = $2::boolean)", "1", "true"),
	OK("maxInFlight gt 1 eq active",
	    "(COALESCE((t.\"max_in_flight\" > $1::int4), false) = t.\"active\")", "1"),
	/* arithmetic */
	OK("maxInFlight add 2 mul 3 le 10",
	    "((t.\"max_in_flight\" + ($1::int4 * $2::int4)) <= $3::int4)", "2", "3", "10"),
	OK("(maxInFlight add 2) mul 3 le 10",
	    "(((t.\"max_in_flight\" + $1::int4) * $2::int4) <= $3::int4)", "2", "3", "10"),
	OK("maxInFlight sub 1 sub 2 eq 0",
	    "(((t.\"max_in_flight\" - $1::int4) - $2::int4) = $3::int4)", "1", "2", "0"),
	OK("maxInFlight sub -1 ge 0", "((t.\"max_in_flight\" - $1::int4) >= $2::int4)", "-1", "0"),
	OK("-maxInFlight lt -5", "((-t.\"max_in_flight\") < $1::int4)", "-5"),
	OK("- -maxInFlight lt 5", "((-(-t.\"max_in_flight\")) < $1::int4)", "5"),
	OK("maxInFlight div 2 eq 1", "((t.\"max_in_flight\" / $1::int4) = $2::int4)", "2", "1"),
	OK("maxInFlight mod 2 eq 1", "((t.\"max_in_flight\" % $1::int4) = $2::int4)", "2", "1"),
	OK("price mod 2 eq 1", "((t.\"price\" % $1::int4) = $2::int4)", "2", "1"),
	OK("ratio mod 2 eq 1",
	    "(CAST(mod(CAST(CAST(t.\"ratio\" AS text) AS numeric), CAST(CAST($1::int4 AS text) "
	    "AS numeric)) AS float8) = $2::int4)", "2", "1"),
	OK("timeoutMillis add maxInFlight gt 1.5M",
	    "((t.\"timeout_millis\" + t.\"max_in_flight\") > $1::numeric)", "1.5"),
	OK("price mul ratio div 2L lt 0",
	    "(((t.\"price\" * t.\"ratio\") / $1::int8) < $2::int4)", "2", "0"),
	OK("1 add 2 eq 3", "(($1::int4 + $2::int4) = $3::int4)", "1", "2", "3"),
	/* ne, null, two nullable sides */
	OK("eventType ne 'x'", "(t.\"event_type\" IS DISTINCT FROM $1::text)", "x"),
	OK("eventType eq null", "(t.\"event_type\" IS NULL)", NULL),
	OK("null eq eventType", "(t.\"event_type\" IS NULL)", NULL),
	OK("eventType ne null", "(t.\"event_type\" IS NOT NULL)", NULL),
	OK("null ne eventType", "(t.\"event_type\" IS NOT NULL)", NULL),
	OK("null eq null", "(NULL IS NULL)", NULL),
	OK("maxInFlight add 1 eq null", "((t.\"max_in_flight\" + $1::int4) IS NULL)", "1"),
	OK("not (active eq null)", "(NOT (t.\"active\" IS NULL))", NULL),
	OK("eventType eq destination/id", "(t.\"event_type\" IS NOT DISTINCT FROM j1.\"id\")", NULL),
	OK("eventType ne destination/id", "(t.\"event_type\" IS DISTINCT FROM j1.\"id\")", NULL),
	OK("eventType gt destination/id", "(t.\"event_type\" > j1.\"id\")", NULL),
	OK("not (eventType lt destination/id)",
	    "(NOT COALESCE((t.\"event_type\" < j1.\"id\"), false))", NULL),
	OK("'x' eq eventType", "($1::text = t.\"event_type\")", "x"),
	OK("'a' lt 'b'", "($1::text < $2::text)", "a", "b"),
	OK("not ('a' lt 'b')", "(NOT ($1::text < $2::text))", "a", "b"),
	/* every comparison operator and type family */
	OK("maxInFlight ge 1", "(t.\"max_in_flight\" >= $1::int4)", "1"),
	OK("maxInFlight le 1", "(t.\"max_in_flight\" <= $1::int4)", "1"),
	OK("maxInFlight lt timeoutMillis", "(t.\"max_in_flight\" < t.\"timeout_millis\")", NULL),
	OK("ratio gt price", "(t.\"ratio\" > t.\"price\")", NULL),
	OK("active eq true", "(t.\"active\" = $1::boolean)", "true"),
	OK("active ne false", "(t.\"active\" IS DISTINCT FROM $1::boolean)", "false"),
	OK("active gt false", "(t.\"active\" > $1::boolean)", "false"),
	OK("created lt modified", "(t.\"created\" < t.\"modified\")", NULL),
	OK("created le datetimeoffset'2024-01-31T10:00:00Z'",
	    "(t.\"created\" <= $1::timestamptz)", "2024-01-31T10:00:00+00:00"),
	OK("uid eq guid'01234567-89AB-cdef-0123-456789ABCDEF'", "(t.\"uid\" = $1::uuid)",
	    "01234567-89ab-cdef-0123-456789abcdef"),
	OK("uid eq '01234567-89AB-cdef-0123-456789ABCDEF'",
	    "(CAST(t.\"uid\" AS text) = lower($1::text))", "01234567-89AB-cdef-0123-456789ABCDEF"),
	OK("eventType ne uid", "(lower(t.\"event_type\") IS DISTINCT FROM CAST(t.\"uid\" AS text))",
	    NULL),
};

static void
test_operators(void **state)
{
	(void)state;
	run_rows(operator_rows, COUNT(operator_rows));
}

/* ------------------------------------------------------------ literals */

static const struct row literal_rows[] = {
	OK("maxInFlight eq 12", "(t.\"max_in_flight\" = $1::int4)", "12"),
	OK("maxInFlight eq 007", "(t.\"max_in_flight\" = $1::int4)", "7"),
	OK("maxInFlight eq -2147483648", "(t.\"max_in_flight\" = $1::int4)", "-2147483648"),
	OK("timeoutMillis eq 12L", "(t.\"timeout_millis\" = $1::int8)", "12"),
	OK("timeoutMillis eq 2147483648", "(t.\"timeout_millis\" = $1::int8)", "2147483648"),
	OK("timeoutMillis eq -9223372036854775808", "(t.\"timeout_millis\" = $1::int8)",
	    "-9223372036854775808"),
	OK("price eq 1.5M", "(t.\"price\" = $1::numeric)", "1.5"),
	OK("price eq -0.10m", "(t.\"price\" = $1::numeric)", "-0.10"),
	OK("price eq 123456789012345678901234567890.123456789M", "(t.\"price\" = $1::numeric)",
	    "123456789012345678901234567890.123456789"),
	OK("ratio eq 1.5d", "(t.\"ratio\" = $1::float8)", "1.5"),
	OK("ratio eq 1.5", "(t.\"ratio\" = $1::float8)", "1.5"),
	OK("ratio eq 0.1", "(t.\"ratio\" = $1::float8)", "0.1"),
	OK("ratio eq 1e10", "(t.\"ratio\" = $1::float8)", "10000000000"),
	OK("ratio eq -2.5E-3d", "(t.\"ratio\" = $1::float8)", "-0.0025"),
	OK("ratio eq 2f", "(t.\"ratio\" = $1::float8)", "2"),
	OK("ratio eq 1.7976931348623157e308", "(t.\"ratio\" = $1::float8)",
	    "1.7976931348623157e+308"),
	OK("ratio eq 0.30000000000000004", "(t.\"ratio\" = $1::float8)", "0.30000000000000004"),
	OK("active eq false", "(t.\"active\" = $1::boolean)", "false"),
	/* a datetime is UTC: bound with +00:00, never read in the session zone */
	OK("created eq datetime'2024-01-31T10:00'", "(t.\"created\" = $1::timestamptz)",
	    "2024-01-31T10:00:00+00:00"),
	OK("created eq datetime'2024-01-31T10:00:00.1234567'", "(t.\"created\" = $1::timestamptz)",
	    "2024-01-31T10:00:00.1234567+00:00"),
	OK("created eq datetime'2024-02-29T23:59:59.50'", "(t.\"created\" = $1::timestamptz)",
	    "2024-02-29T23:59:59.5+00:00"),
	OK("created eq datetime'0001-01-01T00:00'", "(t.\"created\" = $1::timestamptz)",
	    "0001-01-01T00:00:00+00:00"),
	OK("modified eq datetimeoffset'2024-01-31T10:00:00Z'",
	    "(t.\"modified\" = $1::timestamptz)", "2024-01-31T10:00:00+00:00"),
	OK("modified eq datetimeoffset'2024-01-31T10:00+05:30'",
	    "(t.\"modified\" = $1::timestamptz)", "2024-01-31T10:00:00+05:30"),
	OK("modified eq datetimeoffset'2024-01-31T10:00:00.5-14:00'",
	    "(t.\"modified\" = $1::timestamptz)", "2024-01-31T10:00:00.5-14:00"),
	OK("modified gt datetime'2024-01-31T10:00:00'", "(t.\"modified\" > $1::timestamptz)",
	    "2024-01-31T10:00:00+00:00"),
	OK("uid ne guid'00000000-0000-0000-0000-000000000000'",
	    "(t.\"uid\" IS DISTINCT FROM $1::uuid)", "00000000-0000-0000-0000-000000000000"),
	/* strings: unescaped, bound, never spliced */
	OK("eventType eq 'O''Brien'", "(t.\"event_type\" = $1::text)", "O'Brien"),
	OK("eventType eq ''", "(t.\"event_type\" = $1::text)", ""),
	OK("eventType eq ''''", "(t.\"event_type\" = $1::text)", "'"),
	OK("eventType eq 'x'' OR 1=1 --'", "(t.\"event_type\" = $1::text)", "x' OR 1=1 --"),
	OK("eventType eq '; DROP TABLE x; --' or eventType eq '$1'",
	    "((t.\"event_type\" = $1::text) OR (t.\"event_type\" = $2::text))",
	    "; DROP TABLE x; --", "$1"),
	OK("eventType eq 'a\\'' or 1=1 /*'", "(t.\"event_type\" = $1::text)", "a\\' or 1=1 /*"),
	OK("eventType eq 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'",
	    "(t.\"event_type\" = $1::text)", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	OK("eventType eq 'a eq 1) or (b'", "(t.\"event_type\" = $1::text)", "a eq 1) or (b"),
};

static void
test_literals(void **state)
{
	(void)state;
	run_rows(literal_rows, COUNT(literal_rows));
}

/* ------------------------------------------------------------ functions */

static const struct row function_rows[] = {
	OK("substringof('x', eventType)", "(strpos(t.\"event_type\", $1::text) > 0)", "x"),
	OK("substringof('x', eventType) eq true",
	    "(COALESCE((strpos(t.\"event_type\", $1::text) > 0), false) = $2::boolean)",
	    "x", "true"),
	OK("not substringof('x', eventType)",
	    "(NOT COALESCE((strpos(t.\"event_type\", $1::text) > 0), false))", "x"),
	OK("substringof('x', 'xyz')", "(strpos($2::text, $1::text) > 0)", "x", "xyz"),
	OK("not substringof('x', 'xyz')", "(NOT (strpos($2::text, $1::text) > 0))", "x", "xyz"),
	OK("startswith(eventType, 'a')", "starts_with(t.\"event_type\", $1::text)", "a"),
	OK("not startswith(eventType, 'a')",
	    "(NOT COALESCE(starts_with(t.\"event_type\", $1::text), false))", "a"),
	OK("endswith(eventType, 'a')",
	    "(right(t.\"event_type\", length($1::text)) = $1::text)", "a"),
	OK("endswith(eventType, '')",
	    "(right(t.\"event_type\", length($1::text)) = $1::text)", ""),
	OK("endswith(eventType, destination/id)",
	    "(right(t.\"event_type\", length(j1.\"id\")) = j1.\"id\")", NULL),
	OK("indexof(eventType, 'a') eq 2",
	    "((strpos(t.\"event_type\", $1::text) - 1) = $2::int4)", "a", "2"),
	OK("length(eventType) gt 3", "(char_length(t.\"event_type\") > $1::int4)", "3"),
	OK("tolower(eventType) eq 'a'", "(lower(t.\"event_type\") = $1::text)", "a"),
	OK("toupper(eventType) eq 'A'", "(upper(t.\"event_type\") = $1::text)", "A"),
	OK("trim(eventType) eq 'a'", "(btrim(t.\"event_type\") = $1::text)", "a"),
	OK("concat(eventType, 'x') eq 'ax'",
	    "((t.\"event_type\" || $1::text) = $2::text)", "x", "ax"),
	OK("concat(concat(eventType, destination/id), 'c') ne 'abc'",
	    "(((t.\"event_type\" || j1.\"id\") || $1::text) IS DISTINCT FROM $2::text)",
	    "c", "abc"),
	OK("substring(eventType, 1) eq 'b'",
	    "(substr(t.\"event_type\", ($1::int4) + 1) = $2::text)", "1", "b"),
	OK("substring(eventType, 1, 2) eq 'bc'",
	    "(substr(t.\"event_type\", ($1::int4) + 1, $2::int4) = $3::text)", "1", "2", "bc"),
	OK("substring(eventType, 1L, 2L) eq 'bc'",
	    "(substr(t.\"event_type\", (CAST($1::int8 AS int4)) + 1, CAST($2::int8 AS int4)) = "
	    "$3::text)", "1", "2", "bc"),
	OK("substring(eventType, maxInFlight sub 1) eq 'b'",
	    "(substr(t.\"event_type\", ((t.\"max_in_flight\" - $1::int4)) + 1) = $2::text)",
	    "1", "b"),
	OK("replace(eventType, 'a', 'b') eq 'x'",
	    "(replace(t.\"event_type\", $1::text, $2::text) = $3::text)", "a", "b", "x"),
	/* the fields of an Edm.DateTime are its UTC ones; a DateTimeOffset's
	 * the session's */
	OK("year(created) eq 2024",
	    "(CAST(EXTRACT(YEAR FROM (t.\"created\" AT TIME ZONE 'UTC')) AS int4) = $1::int4)",
	    "2024"),
	OK("month(created) eq 1",
	    "(CAST(EXTRACT(MONTH FROM (t.\"created\" AT TIME ZONE 'UTC')) AS int4) = $1::int4)",
	    "1"),
	OK("day(modified) eq 31",
	    "(CAST(EXTRACT(DAY FROM t.\"modified\") AS int4) = $1::int4)", "31"),
	OK("hour(created) eq 10",
	    "(CAST(EXTRACT(HOUR FROM (t.\"created\" AT TIME ZONE 'UTC')) AS int4) = $1::int4)",
	    "10"),
	OK("minute(created) eq 0",
	    "(CAST(EXTRACT(MINUTE FROM (t.\"created\" AT TIME ZONE 'UTC')) AS int4) = $1::int4)",
	    "0"),
	OK("second(created) eq 59",
	    "(CAST(floor(EXTRACT(SECOND FROM (t.\"created\" AT TIME ZONE 'UTC'))) AS int4) = "
	    "$1::int4)", "59"),
	OK("second(modified) eq 59",
	    "(CAST(floor(EXTRACT(SECOND FROM t.\"modified\")) AS int4) = $1::int4)", "59"),
	OK("year(datetime'2024-01-31T10:00') eq 2024",
	    "(CAST(EXTRACT(YEAR FROM ($1::timestamptz AT TIME ZONE 'UTC')) AS int4) = $2::int4)",
	    "2024-01-31T10:00:00+00:00", "2024"),
	OK("year(datetimeoffset'2024-01-31T10:00Z') eq 2024",
	    "(CAST(EXTRACT(YEAR FROM $1::timestamptz) AS int4) = $2::int4)",
	    "2024-01-31T10:00:00+00:00", "2024"),
	OK("round(ratio) eq 2",
	    "(CAST(round(CAST(CAST(t.\"ratio\" AS text) AS numeric)) AS float8) = $1::int4)", "2"),
	OK("round(price) eq 2", "(round(t.\"price\") = $1::int4)", "2"),
	OK("round(maxInFlight) eq 2", "(t.\"max_in_flight\" = $1::int4)", "2"),
	OK("round(timeoutMillis div 2) eq 2",
	    "((t.\"timeout_millis\" / $1::int4) = $2::int4)", "2", "2"),
	OK("floor(ratio) eq 2", "(floor(t.\"ratio\") = $1::int4)", "2"),
	OK("floor(price) eq 2", "(floor(t.\"price\") = $1::int4)", "2"),
	OK("floor(maxInFlight) eq 2", "(t.\"max_in_flight\" = $1::int4)", "2"),
	OK("ceiling(ratio) eq 2", "(ceil(t.\"ratio\") = $1::int4)", "2"),
	OK("ceiling(price) eq 2.5M", "(ceil(t.\"price\") = $1::numeric)", "2.5"),
	OK("ceiling(1.5M) eq 2", "(ceil($1::numeric) = $2::int4)", "1.5", "2"),
	OK("round(1.5d) add 1 eq 3",
	    "((CAST(round(CAST(CAST($1::float8 AS text) AS numeric)) AS float8) + $2::int4) = "
	    "$3::int4)", "1.5", "1", "3"),
	OK("substringof('x', tolower(concat(eventType, destination/destinationTarget/id)))",
	    "(strpos(lower((t.\"event_type\" || j2.\"id\")), $1::text) > 0)", "x"),
	OK("length(trim(substring(eventType, indexof(eventType, '.') add 1))) gt 0",
	    "(char_length(btrim(substr(t.\"event_type\", (((strpos(t.\"event_type\", $1::text) - 1) "
	    "+ $2::int4)) + 1))) > $3::int4)", ".", "1", "0"),
};

static void
test_functions(void **state)
{
	(void)state;
	run_rows(function_rows, COUNT(function_rows));
}

/* ------------------------------------------------ paths, integrationKey */

static const struct row path_rows[] = {
	OK("destination/destinationTarget/id eq 'x'", "(j2.\"id\" = $1::text)", "x"),
	OK("destination/id eq 'x' and destination/destinationTarget/id eq 'y'",
	    "((j1.\"id\" = $1::text) AND (j2.\"id\" = $2::text))", "x", "y"),
	OK("integrationKey eq 'a|b'", "((t.\"a\" = $1::text AND t.\"b\" = $2::text))", "a", "b"),
	OK("'a|b' eq integrationKey", "((t.\"a\" = $1::text AND t.\"b\" = $2::text))", "a", "b"),
	OK("integrationKey ne 'a|b'",
	    "(NOT COALESCE((t.\"a\" = $1::text AND t.\"b\" = $2::text), false))", "a", "b"),
	OK("not (integrationKey eq 'a|b')",
	    "(NOT COALESCE(((t.\"a\" = $1::text AND t.\"b\" = $2::text)), false))", "a", "b"),
	OK("integrationKey eq 'a|b' eq true",
	    "(COALESCE(((t.\"a\" = $1::text AND t.\"b\" = $2::text)), false) = $3::boolean)",
	    "a", "b", "true"),
	OK0("integrationKey eq 'malformed'", "(FALSE)"),
	OK0("integrationKey ne 'malformed'", "(NOT COALESCE(FALSE, false))"),
	OK("destination/integrationKey eq 'k1'", "((j1.\"id\" = $1::text))", "k1"),
	OK("eventType eq 'e' and destination/integrationKey eq 'k1'",
	    "((t.\"event_type\" = $1::text) AND ((j1.\"id\" = $2::text)))", "e", "k1"),
	OK("startswith(integrationKey, 'a|')", "starts_with(t.\"ikey\", $1::text)", "a|"),
	OK("integrationKey gt 'a'", "(t.\"ikey\" > $1::text)", "a"),
	OK("integrationKey eq concat('a', '|b')",
	    "(t.\"ikey\" = ($1::text || $2::text))", "a", "|b"),
	OK("integrationKey eq eventType", "(t.\"ikey\" IS NOT DISTINCT FROM t.\"event_type\")", NULL),
	OK0("integrationKey eq null", "(t.\"ikey\" IS NULL)"),
	OK0("null ne destination/integrationKey", "(j1.\"ikey\" IS NOT NULL)"),
	/* errors: unknown property, to-many navigation */
	NF("bogus eq 1", 0, "bogus"),
	NF("destination/bogus eq 'x'", 0, "bogus"),
	NF("destination/destinationTarget/nope/id eq 'x'", 0, "nope"),
	NF("eventType eq 'x' and nope", 21, "nope"),
	NF("not (length(bogus) eq 1)", 12, "bogus"),
	NF("bogus eq 1 and active eq 'x'", 0, "bogus"),
	NF("destination eq 'x'", 0, "destination"),
	NF("integrationKey/x eq 'x'", 0, "x"),
	TM("additionalProperties/key eq 'x'", 0, "additionalProperties", "additionalProperties"),
	TM("eventType eq 'x' or destination/additionalProperties/key eq 'x'", 20,
	    "destination/additionalProperties", "additionalProperties"),
};

static void
test_paths(void **state)
{
	(void)state;
	run_rows(path_rows, COUNT(path_rows));
}

/* -------------------------------------------- Edm.DateTime properties */

/* The monitoring service's timestamptz columns (createdAt, deliveredAt,
 * occurredAt...) are Edm.DateTime: compared with datetime'...' (UTC) and
 * datetimeoffset'...' literals as timestamptz parameters, so that
 * `col > $n` can use the column's index; never with strings or numbers. */
static const struct row datetime_rows[] = {
	OK("created gt datetime'2026-11-24T09:00:00'", "(t.\"created\" > $1::timestamptz)",
	    "2026-11-24T09:00:00+00:00"),
	OK("created gt datetime'2026-11-24T09:00'", "(t.\"created\" > $1::timestamptz)",
	    "2026-11-24T09:00:00+00:00"),
	OK("created ge datetimeoffset'2026-11-24T10:00:00+01:00'",
	    "(t.\"created\" >= $1::timestamptz)", "2026-11-24T10:00:00+01:00"),
	OK("created lt datetimeoffset'2026-11-24T09:00:00.001Z'",
	    "(t.\"created\" < $1::timestamptz)", "2026-11-24T09:00:00.001+00:00"),
	OK("created le datetime'9999-12-31T23:59:59.9999999'", "(t.\"created\" <= $1::timestamptz)",
	    "9999-12-31T23:59:59.9999999+00:00"),
	OK("created ne datetime'2026-11-24T09:00'",
	    "(t.\"created\" IS DISTINCT FROM $1::timestamptz)", "2026-11-24T09:00:00+00:00"),
	OK("datetime'2026-11-24T09:00' lt created", "($1::timestamptz < t.\"created\")",
	    "2026-11-24T09:00:00+00:00"),
	OK("created eq null", "(t.\"created\" IS NULL)", NULL),
	OK("created ge datetime'2026-11-24T09:00' and created lt datetime'2026-11-24T10:00'",
	    "((t.\"created\" >= $1::timestamptz) AND (t.\"created\" < $2::timestamptz))",
	    "2026-11-24T09:00:00+00:00", "2026-11-24T10:00:00+00:00"),
	/* the UI's query: failed deliveries of a destination in the last hour */
	OK("destination/id eq 'd1|t1' and eventType eq 'FAILED' and "
	    "created gt datetime'2026-11-24T09:00:00'",
	    "(((j1.\"id\" = $1::text) AND (t.\"event_type\" = $2::text)) AND "
	    "(t.\"created\" > $3::timestamptz))", "d1|t1", "FAILED", "2026-11-24T09:00:00+00:00"),
	OK("not (created gt datetime'2026-11-24T09:00')",
	    "(NOT COALESCE((t.\"created\" > $1::timestamptz), false))", "2026-11-24T09:00:00+00:00"),
	OK("created gt modified", "(t.\"created\" > t.\"modified\")", NULL),
	OK("hour(created) ge 9", "(CAST(EXTRACT(HOUR FROM (t.\"created\" AT TIME ZONE 'UTC')) "
	    "AS int4) >= $1::int4)", "9"),
	/* type errors */
	TYPE("created gt '2026-11-24T09:00:00'", 8,
	    "Operator 'gt' is not applicable to Edm.DateTime and Edm.String at position 8."),
	TYPE("eventType eq datetime'2026-11-24T09:00'", 10,
	    "Operator 'eq' is not applicable to Edm.String and Edm.DateTime at position 10."),
	TYPE("destination/id lt created", 15,
	    "Operator 'lt' is not applicable to Edm.String and Edm.DateTime at position 15."),
	TYPE("created gt 1764000000000", 8,
	    "Operator 'gt' is not applicable to Edm.DateTime and Edm.Int64 at position 8."),
	TYPE("created eq true", 8,
	    "Operator 'eq' is not applicable to Edm.DateTime and Edm.Boolean at position 8."),
	TYPE("created eq guid'01234567-89ab-cdef-0123-456789abcdef'", 8,
	    "Operator 'eq' is not applicable to Edm.DateTime and Edm.Guid at position 8."),
	TYPE("created", 0, "Expected an Edm.Boolean expression, found Edm.DateTime at position 0."),
	TYPE("-created lt created", 0,
	    "Operator '-' is not applicable to Edm.DateTime at position 0."),
	TYPE("startswith(created, '2026')", 0,
	    "Function 'startswith' is not applicable to Edm.DateTime, Edm.String at position 0."),
	TYPE("round(created) eq 1", 0,
	    "Function 'round' is not applicable to Edm.DateTime at position 0."),
	TYPE("year('2026-11-24') eq 2026", 0,
	    "Function 'year' is not applicable to Edm.String at position 0."),
};

static void
test_datetime_properties(void **state)
{
	(void)state;
	run_rows(datetime_rows, COUNT(datetime_rows));
}

/* Malformed datetime literals never reach the compiler: the parser refuses
 * them (the server answers 400 invalid_query). */
static void
test_bad_datetime_literals(void **state)
{
	static const char *const bad[] = {
		"created gt datetime'2026-13-01T00:00'",
		"created gt datetime'2026-02-29T00:00'",	/* not a leap year */
		"created gt datetime'2026-11-24'",		/* no time */
		"created gt datetime'2026-11-24T24:00'",
		"created gt datetime'2026-11-24T09:60'",
		"created gt datetime'2026-11-24T09:00:00Z'",	/* offset in a datetime */
		"created gt datetime'2026-11-24T09:00:00.12345678'",
		"created gt datetime'0000-01-01T00:00'",
		"created gt datetime''",
		"created gt datetime'x'' or 1=1 --'",
		"created gt datetime '2026-11-24T09:00'",
		"created gt datetimeoffset'2026-11-24T09:00'",	/* no offset */
		"created gt datetimeoffset'2026-11-24T09:00+14:01'",
		"created gt datetime'2026-11-24T09:00",
	};
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(bad); i++) {
		struct odata_filter *f = NULL;
		struct odata_filter_error err;

		if (odata_filter_parse(bad[i], strlen(bad[i]), &f, &err) == 0)
			fail_msg("bad literal %zu [%s] parsed", i, bad[i]);
		assert_null(f);
	}
}

/* ----------------------------------------------------------- type errors */

static const struct row type_rows[] = {
	TYPE("active eq 'x'", 7,
	    "Operator 'eq' is not applicable to Edm.Boolean and Edm.String at position 7."),
	TYPE("eventType eq 1", 10,
	    "Operator 'eq' is not applicable to Edm.String and Edm.Int32 at position 10."),
	TYPE("maxInFlight gt null", 12,
	    "Operator 'gt' is not applicable to Edm.Int32 and null at position 12."),
	TYPE("null lt null", 5, "Operator 'lt' is not applicable to null and null at position 5."),
	TYPE("created eq 1", 8,
	    "Operator 'eq' is not applicable to Edm.DateTime and Edm.Int32 at position 8."),
	TYPE("created gt '2024-01-01'", 8,
	    "Operator 'gt' is not applicable to Edm.DateTime and Edm.String at position 8."),
	TYPE("uid eq 1", 4, "Operator 'eq' is not applicable to Edm.Guid and Edm.Int32 at position 4."),
	TYPE("active gt 1", 7,
	    "Operator 'gt' is not applicable to Edm.Boolean and Edm.Int32 at position 7."),
	TYPE("integrationKey eq 1", 15,
	    "Operator 'eq' is not applicable to Edm.String and Edm.Int32 at position 15."),
	TYPE("eventType and active", 10,
	    "Operator 'and' is not applicable to Edm.String and Edm.Boolean at position 10."),
	TYPE("active or 1", 7, "Operator 'or' is not applicable to Edm.Boolean and Edm.Int32 at "
	    "position 7."),
	TYPE("active and null", 7,
	    "Operator 'and' is not applicable to Edm.Boolean and null at position 7."),
	TYPE("not eventType", 0, "Operator 'not' is not applicable to Edm.String at position 0."),
	TYPE("not null", 0, "Operator 'not' is not applicable to null at position 0."),
	TYPE("-eventType eq 1", 0, "Operator '-' is not applicable to Edm.String at position 0."),
	TYPE("-active", 0, "Operator '-' is not applicable to Edm.Boolean at position 0."),
	TYPE("eventType add 1 eq 2", 10,
	    "Operator 'add' is not applicable to Edm.String and Edm.Int32 at position 10."),
	TYPE("created add 1 gt created", 8,
	    "Operator 'add' is not applicable to Edm.DateTime and Edm.Int32 at position 8."),
	TYPE("created sub created gt 1", 8,
	    "Operator 'sub' is not applicable to Edm.DateTime and Edm.DateTime at position 8."),
	TYPE("maxInFlight mod null eq 1", 12,
	    "Operator 'mod' is not applicable to Edm.Int32 and null at position 12."),
	TYPE("active div 2 eq 1", 7,
	    "Operator 'div' is not applicable to Edm.Boolean and Edm.Int32 at position 7."),
	TYPE("eventType", 0, "Expected an Edm.Boolean expression, found Edm.String at position 0."),
	TYPE("null", 0, "Expected an Edm.Boolean expression, found null at position 0."),
	TYPE("maxInFlight add 1", 12,
	    "Expected an Edm.Boolean expression, found Edm.Int32 at position 12."),
	TYPE("length(eventType)", 0,
	    "Expected an Edm.Boolean expression, found Edm.Int32 at position 0."),
	TYPE("length(maxInFlight) eq 1", 0,
	    "Function 'length' is not applicable to Edm.Int32 at position 0."),
	TYPE("substring(eventType, 'a') eq 'x'", 0,
	    "Function 'substring' is not applicable to Edm.String, Edm.String at position 0."),
	TYPE("substring(eventType, 1, 1.5) eq 'x'", 0, "Function 'substring' is not applicable "
	    "to Edm.String, Edm.Int32, Edm.Double at position 0."),
	TYPE("year(eventType) eq 1", 0,
	    "Function 'year' is not applicable to Edm.String at position 0."),
	TYPE("second(maxInFlight) eq 1", 0,
	    "Function 'second' is not applicable to Edm.Int32 at position 0."),
	TYPE("round(eventType) eq 1", 0,
	    "Function 'round' is not applicable to Edm.String at position 0."),
	TYPE("floor(null) eq 1", 0, "Function 'floor' is not applicable to null at position 0."),
	TYPE("startswith(eventType, null)", 0,
	    "Function 'startswith' is not applicable to Edm.String, null at position 0."),
	TYPE("concat(eventType, 1) eq 'x'", 0,
	    "Function 'concat' is not applicable to Edm.String, Edm.Int32 at position 0."),
	TYPE("substringof(active, eventType)", 0,
	    "Function 'substringof' is not applicable to Edm.Boolean, Edm.String at position 0."),
	TYPE("endswith(eventType, 'a') eq 'a'", 25,
	    "Operator 'eq' is not applicable to Edm.Boolean and Edm.String at position 25."),
	TYPE("eventType eq 'x' and (maxInFlight eq 'y')", 34,
	    "Operator 'eq' is not applicable to Edm.Int32 and Edm.String at position 34."),
	TYPE("replace(eventType, 'a', 1) eq 'x'", 0, "Function 'replace' is not applicable to "
	    "Edm.String, Edm.String, Edm.Int32 at position 0."),
	TYPE("indexof(eventType, created) eq 1", 0, "Function 'indexof' is not applicable to "
	    "Edm.String, Edm.DateTime at position 0."),
};

static void
test_type_errors(void **state)
{
	(void)state;
	run_rows(type_rows, COUNT(type_rows));
}

/* Without key_eq the key is an ordinary string column. */
static void
test_no_key_eq(void **state)
{
	static const struct row rows[] = {
		OK("integrationKey eq 'a|b'", "(t.\"ikey\" = $1::text)", "a|b"),
		OK("integrationKey ne 'a|b'", "(t.\"ikey\" IS DISTINCT FROM $1::text)", "a|b"),
		OK("'a|b' eq destination/integrationKey", "($1::text = j1.\"ikey\")", "a|b"),
	};
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(rows); i++)
		check_row(&rows[i], &resolver_nokey, rows[i].in);
}

/* ------------------------------------------------- calls, base, rollback */

/* One resolver call per path occurrence, left to right, none after an error. */
static void
test_resolve_calls(void **state)
{
	static const struct row ok = OK("eventType eq 'a' and integrationKey eq 'b|c' or "
	    "length(destination/id) eq maxInFlight add 1",
	    "(((t.\"event_type\" = $1::text) AND ((t.\"a\" = $2::text AND t.\"b\" = $3::text))) OR "
	    "(char_length(j1.\"id\") IS NOT DISTINCT FROM (t.\"max_in_flight\" + $4::int4)))",
	    "a", "b", "c", "1");
	static const struct row bad = TYPE("length(destination/id) eq eventType add 1 or active", 36,
	    "Operator 'add' is not applicable to Edm.String and Edm.Int32 at position 36.");

	(void)state;
	resolve_calls = 0;
	check_row(&ok, &resolver, ok.in);
	assert_int_equal(resolve_calls, 4);
	resolve_calls = 0;
	check_row(&bad, &resolver, bad.in);
	assert_int_equal(resolve_calls, 2);
}

/* base 1: the caller binds $1 itself; the filter's parameters are $2... */
static void
test_base_and_append(void **state)
{
	const char *in = "eventType eq 'x' and maxInFlight gt 2";
	struct odata_filter *f = parse_ok(in, strlen(in));
	struct odata_sql_params p = { NULL, 0, 0, 1 };
	struct odata_filter_sql_error err;
	struct strbuf out;

	(void)state;
	strbuf_init(&out);
	strbuf_adds(&out, "SELECT * FROM t WHERE t.tenant = $1 AND ");
	assert_int_equal(odata_filter_sql_compile(odata_filter_root(f), &resolver, &out, &p, &err), 0);
	assert_string_equal(out.s, "SELECT * FROM t WHERE t.tenant = $1 AND "
	    "((t.\"event_type\" = $2::text) AND (t.\"max_in_flight\" > $3::int4))");
	assert_int_equal(p.n, 2);
	assert_string_equal(p.v[0], "x");
	assert_string_equal(p.v[1], "2");
	assert_int_equal(err.kind, ODATA_SQL_OK);
	assert_int_equal(odata_sql_param_add(&p, NULL), 4);
	assert_null(p.v[2]);
	odata_filter_free(f);
	strbuf_free(&out);
	odata_sql_params_free(&p);
	assert_null(p.v);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.base, 1);
}

/* On error out and params are as they were, even after params were added. */
static void
test_rollback(void **state)
{
	const char *in = "eventType eq 'x' and integrationKey eq 'a|b' and bogus";
	struct odata_filter *f = parse_ok(in, strlen(in));
	struct odata_sql_params p = { NULL, 0, 0, 0 };
	struct odata_filter_sql_error err;
	struct strbuf out;

	(void)state;
	strbuf_init(&out);
	strbuf_adds(&out, "WHERE ");
	assert_int_equal(odata_sql_param_add(&p, NULL), 1);
	assert_int_equal(odata_filter_sql_compile(odata_filter_root(f), &resolver, &out, &p, &err), -1);
	assert_int_equal(err.kind, ODATA_SQL_NOT_FOUND);
	assert_string_equal(err.name, "bogus");
	assert_string_equal(out.s, "WHERE ");
	assert_int_equal(out.len, 6);
	assert_int_equal(p.n, 1);
	assert_null(p.v[0]);
	/* err may be NULL */
	assert_int_equal(odata_filter_sql_compile(odata_filter_root(f), &resolver, &out, &p, NULL), -1);
	assert_int_equal(p.n, 1);
	odata_filter_free(f);
	strbuf_free(&out);
	odata_sql_params_free(&p);
}

/* Past PostgreSQL's 65535 placeholders: NOMEM, rolled back. */
static void
test_param_limit(void **state)
{
	struct odata_filter *f = parse_ok("eventType eq 'x' or eventType eq 'y'", 36);
	struct odata_sql_params p = { NULL, 0, 0, 65534 };
	struct odata_filter_sql_error err;
	struct strbuf out;

	(void)state;
	strbuf_init(&out);
	assert_int_equal(odata_filter_sql_compile(odata_filter_root(f), &resolver, &out, &p, &err), -1);
	assert_int_equal(err.kind, ODATA_SQL_NOMEM);
	assert_int_equal(p.n, 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(odata_sql_param_add(&p, "a"), 65535);
	assert_int_equal(odata_sql_param_add(&p, "b"), -1);
	odata_filter_free(f);
	strbuf_free(&out);
	odata_sql_params_free(&p);
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(odata_filter_sql_type_name(ODATA_SQL_STRING), "Edm.String");
	assert_string_equal(odata_filter_sql_type_name(ODATA_SQL_DATETIMEOFFSET),
	    "Edm.DateTimeOffset");
	assert_string_equal(odata_filter_sql_type_name(ODATA_SQL_NULL), "null");
	assert_string_equal(odata_filter_sql_type_name((enum odata_sql_type)99), "?");
}

/* ------------------------------------------------------ hostile inputs */

static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(hl + ul * n + tl + 1), *q;

	assert_non_null(s);
	memcpy(s, head, hl);
	q = s + hl;
	for (i = 0; i < n; i++, q += ul)
		memcpy(q, unit, ul);
	memcpy(q, tail, tl + 1);
	return s;
}

/* The parser stops these; the compiler never sees them. */
static void
test_parser_rejects(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *msg;
	} rows[] = {
		{ "eventType eq 'x\0y'", 18, "NUL byte" },
		{ "eventType eq 'x'\0 or 1 eq 1", 27, "NUL byte" },
		{ "eventType eq 'x\xffy'", 0, "invalid UTF-8" },
		{ "eventType eq '\xc0\xaf'", 0, "invalid UTF-8" },
		{ "eventType eq '\xed\xa0\x80'", 0, "invalid UTF-8" },
	};
	struct odata_filter *f;
	struct odata_filter_error err;
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(rows); i++) {
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].in);

		assert_int_equal(odata_filter_parse(rows[i].in, len, &f, &err), -1);
		assert_non_null(strstr(err.message, rows[i].msg));
	}
	s = repeat("", "(", 10000, "active");
	assert_int_equal(odata_filter_parse(s, strlen(s), &f, &err), -1);
	assert_non_null(strstr(err.message, "nesting deeper than 100"));
	free(s);
	s = repeat("", "not ", 10000, "active");
	assert_int_equal(odata_filter_parse(s, strlen(s), &f, &err), -1);
	free(s);
}

/* A 32 KiB string is one parameter; the SQL stays short. */
static void
test_huge_literal(void **state)
{
	char *s = repeat("eventType eq '", "x", ODATA_FILTER_MAX_STRING, "'");
	struct odata_filter *f = parse_ok(s, strlen(s));
	struct odata_sql_params p = { NULL, 0, 0, 0 };
	struct strbuf out;

	(void)state;
	strbuf_init(&out);
	assert_int_equal(odata_filter_sql_compile(odata_filter_root(f), &resolver, &out, &p, NULL), 0);
	assert_string_equal(out.s, "(t.\"event_type\" = $1::text)");
	assert_int_equal(p.n, 1);
	assert_int_equal(strlen(p.v[0]), ODATA_FILTER_MAX_STRING);
	assert_int_equal(strspn(p.v[0], "x"), ODATA_FILTER_MAX_STRING);
	odata_filter_free(f);
	strbuf_free(&out);
	odata_sql_params_free(&p);
	free(s);
}

/* The deepest and the largest trees the parser accepts compile, fast. */
static void
test_big_trees(void **state)
{
	static const struct {
		const char *head, *unit;
		size_t n;
		const char *tail;
		int params;
	} gens[] = {
		{ "", "not ", 99, "active", 0 },
		{ "", "(", 100, "active", 0 },	/* closed below */
		{ "maxInFlight", " add maxInFlight", 497, " eq 1", 1 },
		{ "active", " or eventType eq 'x'", 249, "", 249 },
		{ "", "length(", 98, "eventType", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(gens); i++) {
		char *a = repeat(gens[i].head, gens[i].unit, gens[i].n, gens[i].tail), *s = a;
		struct odata_filter *f;
		struct odata_sql_params p = { NULL, 0, 0, 0 };
		struct odata_filter_sql_error err;
		struct strbuf out;
		int rc;

		if (i == 1)
			s = repeat(a, ")", 100, "");
		if (i == 4)
			s = repeat(a, ")", 98, " gt 1");
		f = parse_ok(s, strlen(s));
		strbuf_init(&out);
		rc = odata_filter_sql_compile(odata_filter_root(f), &resolver, &out, &p, &err);
		if (i == 4) {
			/* length(length(...)) is a type error at the second call */
			assert_int_equal(rc, -1);
			assert_int_equal(err.kind, ODATA_SQL_TYPE);
		} else {
			if (rc != 0)
				fail_msg("gen %zu: %s", i, err.message);
			assert_int_equal(p.n, gens[i].params);
		}
		odata_filter_free(f);
		strbuf_free(&out);
		odata_sql_params_free(&p);
		if (s != a)
			free(s);
		free(a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_datetime_properties),
		cmocka_unit_test(test_bad_datetime_literals),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_no_key_eq),
		cmocka_unit_test(test_resolve_calls),
		cmocka_unit_test(test_base_and_append),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_param_limit),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_parser_rejects),
		cmocka_unit_test(test_huge_literal),
		cmocka_unit_test(test_big_trees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
