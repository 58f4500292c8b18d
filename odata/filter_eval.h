/* filter_eval — evaluates a $filter AST (filter.h) against a JSON event
 * payload: the second back end, beside filter_sql, for WebhookFilter
 * expressions. Pure C: no I/O and no globals; the tree and the payload are
 * only read, so one tree may be evaluated by many threads at once.
 *
 * The semantics are filter_sql's (read its header) with the payload in
 * place of the table; where both run the same expression on the same
 * values they agree, except as noted under "Limits".
 *
 * Paths walk nested JSON objects by member name. A missing member, JSON
 * null, or a path through a scalar is null; a path reaching an array is an
 * error ("collection"), and so is one ending on an object. JSON strings are
 * Edm.String, integers Edm.Int64, reals Edm.Double, true/false Edm.Boolean.
 * A payload string (as read, not a function's result) compared with a
 * datetime or datetimeoffset, or given to year()..second(), is read as
 * ISO 8601: yyyy-mm-dd[(T|t| )hh:mm[:ss[.f+]][Z|z|+hh:mm|-hh:mm|+hhmm|+hh]]
 * (no offset means UTC; digits past nanoseconds are dropped); any other
 * string is then a type error. Datetimes are rounded to microseconds as
 * PostgreSQL's timestamp input rounds them (ties to even), so that both
 * back ends see the same instants.
 *
 * Types are checked as filter_sql checks them: Int32 < Int64 < Decimal <
 * Double promote; a Guid meets a Guid or a String case-insensitively;
 * datetime and datetimeoffset compare as instants (a datetime is UTC);
 * the null literal may only stand beside eq/ne (so `1 add null` is a type
 * error, as in SQL), while a null from the payload fits any type. Before
 * evaluating, a first pass type-checks the whole tree with every path
 * null, so an ill-typed expression is an error whatever the payload.
 *
 * Null semantics: `x eq null` is true iff x is null; `a eq b` with both null
 * is true, with one null false; `a ne b` is not (a eq b); gt/ge/lt/le and
 * the boolean functions are false when an operand is null (so `not` of them
 * is true); arithmetic and the other functions give null. and/or/not use
 * SQL's three-valued logic on a null Edm.Boolean from the payload (`not
 * active` is not true for a null active) and the root's null is false.
 * and/or evaluate left to right and skip the right operand once the left
 * decides: a run-time error there (division by zero, overflow, a payload
 * value of the wrong type) is not raised; a type error is, by the first pass.
 *
 * Run-time errors: integer overflow (Int32 arithmetic stays Int32, as
 * int4 in PostgreSQL), Double overflow/underflow, division or mod by zero,
 * a negative substring length, a substring index or length outside Int32,
 * a produced string longer than ODATA_EVAL_MAX_STRING bytes, or more than
 * ODATA_EVAL_MAX_TOTAL bytes of produced strings in one evaluation.
 *
 * Strings are UTF-8 counted in characters (char_length, strpos, substr of
 * PostgreSQL); comparisons are bytewise and tolower/toupper map ASCII
 * only, as PostgreSQL does in webhookd's C-locale database. trim removes
 * spaces only (btrim). round is half away from zero.
 *
 * Limits: Edm.Decimal is exact with 38 significant digits (a 128-bit
 * scaled integer keeping PostgreSQL's display scale, division rounding to
 * the scale numeric would choose); a decimal literal or result needing
 * more is an error where PostgreSQL would still answer. A Double mod is
 * computed exactly on the shortest decimal forms, like the SQL's cast
 * through numeric, when they fit 38 digits (fmod's exact result otherwise). */
#ifndef WEBHOOKD_ODATA_FILTER_EVAL_H
#define WEBHOOKD_ODATA_FILTER_EVAL_H

#include <stddef.h>

#include <jansson.h>

#include "filter.h"

#define ODATA_EVAL_MAX_STRING	(1 << 20)	/* bytes of one produced string */
#define ODATA_EVAL_MAX_TOTAL	(16 << 20)	/* bytes of all of them */

enum odata_eval_result {
	ODATA_EVAL_FALSE,
	ODATA_EVAL_TRUE,
	ODATA_EVAL_ERROR,
};

/* Evaluates root against payload (NULL reads as JSON null). TRUE or FALSE
 * leave err[0] = '\0'; ERROR writes a message into err (errlen bytes,
 * snprintf-style; err may be NULL when errlen is 0) ending in "at position
 * N" (the byte offset of the offending node), e.g. "Operator 'add' is not
 * applicable to Edm.String and Edm.Int32 at position 4.", "Division by
 * zero at position 6.", "Property [order/items] is a collection and cannot
 * be used in $filter at position 0."; messages never echo a value. */
enum odata_eval_result odata_filter_eval(const struct odata_filter_node *root,
    const json_t *payload, char *err, size_t errlen);

#endif
