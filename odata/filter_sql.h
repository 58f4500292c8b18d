/* filter_sql — compiles a $filter AST (filter.h) into a parameterized
 * PostgreSQL boolean expression for a WHERE clause.
 *
 * No text from the URL is ever spliced into the SQL: every literal becomes a
 * placeholder $N with an explicit cast ($3::text, $4::int8, $5::timestamptz,
 * ...) whose text is appended to the parameter list; identifiers and column
 * expressions come only from the resolver (the entity model). The operators
 * and function names are fixed strings of this file.
 *
 * Every node is type-checked (Edm.String, Boolean, Int32 < Int64 < Decimal <
 * Double, DateTime, DateTimeOffset, Guid, null) and the root must be
 * Edm.Boolean. Every compiled sub-expression is parenthesized.
 *
 * Edm.DateTime has no offset; webhookd reads it as UTC. In SQL both
 * date-time types are timestamptz: a datetime'2024-01-31T10:00' literal is
 * bound as "2024-01-31T10:00:00+00:00" with ::timestamptz (so comparing it
 * with a timestamptz column, or with a datetimeoffset, is exact and uses
 * the column's index whatever the session TimeZone), and year()..second()
 * of an Edm.DateTime take the fields of its UTC time (x AT TIME ZONE
 * 'UTC').
 *
 * Null semantics: `x eq null` is (x IS NULL), `x ne null` (x IS NOT NULL),
 * `a ne b` is (a IS DISTINCT FROM b) (null ne 'a' is true), `a eq b` where
 * both sides may be null is (a IS NOT DISTINCT FROM b); other comparisons
 * and the boolean functions are false when an operand is null. Where NULL
 * and false differ (under `not`, as an operand of eq/ne) such a comparison
 * is wrapped as COALESCE(<cmp>, false); where they do not (the root and
 * and/or operands reached from it) it is left bare so that PostgreSQL can
 * use an index for `col = $n`. Hence the result belongs in a WHERE (or
 * AND-ed into one): it may evaluate to NULL where OData says false. A bare
 * nullable Edm.Boolean property keeps SQL's three-valued logic (`not active`
 * does not match a NULL active), as OData V4 specifies for `not null`.
 *
 * Run-time errors stay run-time errors: integer/decimal/double division by
 * zero (SQLSTATE 22012), integer overflow (22003) and a negative substring
 * length (22011) — the server answers SQLSTATE class 22 with 400.
 * Decimal literals are bound as their exact text. round() rounds half away
 * from zero (for Edm.Double via numeric, which assumes the default
 * extra_float_digits >= 1); round/floor/ceiling of an integer is the
 * integer. year()..second() of a datetimeoffset use the session TimeZone
 * (set it to UTC). */
#ifndef WEBHOOKD_ODATA_FILTER_SQL_H
#define WEBHOOKD_ODATA_FILTER_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "filter.h"
#include "strbuf.h"

enum odata_sql_type {
	ODATA_SQL_STRING,
	ODATA_SQL_BOOLEAN,
	ODATA_SQL_INT32,
	ODATA_SQL_INT64,
	ODATA_SQL_DECIMAL,
	ODATA_SQL_DOUBLE,
	ODATA_SQL_DATETIME,		/* timestamptz, an instant read as UTC */
	ODATA_SQL_DATETIMEOFFSET,	/* timestamptz */
	ODATA_SQL_GUID,			/* uuid */
	ODATA_SQL_NULL,			/* the null literal only */
};

/* Result codes of the resolver callbacks, and error kinds of the compiler,
 * with the answer the server gives. */
enum odata_sql_status {
	ODATA_SQL_OK = 0,
	ODATA_SQL_NOT_FOUND,	/* 404 not_found */
	ODATA_SQL_TO_MANY,	/* 400 filter_not_supported */
	ODATA_SQL_TYPE,		/* 400 invalid_query */
	ODATA_SQL_NOMEM,	/* 500 */
};

/* Bind parameters, in placeholder order. Zero-initialize it, set base, and
 * free it with odata_sql_params_free. Values are malloc'd NUL-terminated
 * text; a NULL value is SQL NULL. v[i] is placeholder $(base + 1 + i), so
 * base = 1 when the caller's query already uses $1. */
struct odata_sql_params {
	char **v;
	int n, cap;
	int base;
};

/* What a member path means in SQL. The expression's SQL type must be the
 * one type names: text, boolean, int4, int8, numeric, float8, timestamptz
 * (DateTime and DateTimeOffset), uuid (so that int4 div int4 stays integer
 * division). */
struct odata_sql_column {
	char sql[256];		/* trusted, NUL-terminated, e.g. j2."id"; an operand
				 * that needs no parentheses before `::` (a column
				 * reference, a call, or parenthesized) */
	enum odata_sql_type type;
	bool is_key;		/* the path is (nav/)*integrationKey; sql computes
				 * the key text (Edm.String) */
	int key_ctx;		/* opaque, passed back to key_eq */
};

struct odata_sql_resolver {
	/* Maps segs[0..nsegs) to a column. Returns ODATA_SQL_OK and fills out;
	 * ODATA_SQL_NOT_FOUND for an unknown property and ODATA_SQL_TO_MANY
	 * for a path through a to-many navigation, both with *err_segment set
	 * to the offending segment's index; or ODATA_SQL_NOMEM (any other
	 * value is treated as ODATA_SQL_NOMEM). May add joins on the side:
	 * it is called once per path occurrence, left to right. */
	int (*resolve)(void *arg, const char *const *segs, size_t nsegs,
	    struct odata_sql_column *out, size_t *err_segment);
	/* For `<key path> eq '<literal>'` (either operand order) and `ne`:
	 * appends to out an indexable boolean condition matching exactly the
	 * rows whose key is literal, e.g. (j1."id" = $3 AND j2."id" = $4),
	 * adding each value with odata_sql_param_add(p, ...) (never
	 * splicing it), or FALSE when the literal is not a well-formed key.
	 * Returns ODATA_SQL_OK or ODATA_SQL_NOMEM. May be NULL: the key is
	 * then compared as the string column.sql. */
	int (*key_eq)(void *arg, int key_ctx, const char *literal, struct strbuf *out,
	    struct odata_sql_params *p);
	void *arg;
};

struct odata_filter_sql_error {
	enum odata_sql_status kind;
	size_t pos;		/* byte offset in the $filter text */
	char message[200];	/* the error body's message; never echoes a literal */
	char name[129];		/* NOT_FOUND / TO_MANY: the offending segment */
};

/* Appends text (copied; NULL = SQL NULL) and returns its placeholder
 * number, or -1 when out of memory (or past 65535 placeholders). */
int odata_sql_param_add(struct odata_sql_params *p, const char *text);

/* Frees every value and the array; p is left empty with its base kept. */
void odata_sql_params_free(struct odata_sql_params *p);

/* Appends the condition for root to out and its parameters to p. Returns 0,
 * or -1 with *err filled (err may be NULL) and out and p restored to their
 * length at the call. Messages:
 *   NOT_FOUND  Could not find property with name: 'x'.
 *   TO_MANY    Navigation property [a/b] is a collection and cannot be used
 *              in $filter.
 *   TYPE       Operator 'eq' is not applicable to Edm.Boolean and
 *              Edm.String at position 12. (also 'not', '-', functions, and
 *              a non-boolean root)
 *   NOMEM      Out of memory. */
int odata_filter_sql_compile(const struct odata_filter_node *root,
    const struct odata_sql_resolver *r, struct strbuf *out,
    struct odata_sql_params *p, struct odata_filter_sql_error *err);

/* "Edm.String", ..., "null". */
const char *odata_filter_sql_type_name(enum odata_sql_type t);

#endif
