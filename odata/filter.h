/* filter — the OData V2 $filter grammar: lexer and parser producing an AST.
 *
 * Pure C, no I/O. The same AST feeds two back ends written elsewhere: a
 * compiler to parameterized SQL ($filter) and an evaluator over a JSON event
 * payload (WebhookFilter expressions). Paths are plain segment lists; the
 * entity model resolves them later.
 *
 * Input is the $filter value after percent-decoding. Precedence, loosest
 * first (OData V2 URI conventions; binary levels are left-associative):
 *
 *   or  <  and  <  eq ne  <  gt ge lt le
 *       <  add sub  <  mul div mod  <  not, unary '-'  <  call, path, literal
 *
 * so `not a eq b` is `(not a) eq b`, as in OData V2 where `not` is a unary
 * operator; write `not (a eq b)` for the other reading.
 *
 * Every node, string and segment lives in one arena owned by struct
 * odata_filter: odata_filter_free releases all of it. The tree is read-only.
 * Its depth is at most ODATA_FILTER_MAX_NODES, so back ends may recurse. */
#ifndef WEBHOOKD_ODATA_FILTER_H
#define WEBHOOKD_ODATA_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ODATA_FILTER_MAX_LEN      65536	/* bytes of input */
#define ODATA_FILTER_MAX_DEPTH    100	/* parentheses, not, '-', calls */
#define ODATA_FILTER_MAX_NODES    1000
#define ODATA_FILTER_MAX_STRING   32768	/* bytes of a string literal, unescaped */
#define ODATA_FILTER_MAX_SEGMENTS 32	/* segments of one member path */
#define ODATA_FILTER_MAX_SEGMENT  128	/* bytes of one segment */

enum odata_filter_kind {
	ODATA_FILTER_LITERAL,
	ODATA_FILTER_PATH,
	ODATA_FILTER_UNARY,
	ODATA_FILTER_BINARY,
	ODATA_FILTER_CALL,
};

enum odata_filter_type {
	ODATA_FILTER_NULL,
	ODATA_FILTER_BOOL,
	ODATA_FILTER_INT32,
	ODATA_FILTER_INT64,
	ODATA_FILTER_DECIMAL,
	ODATA_FILTER_DOUBLE,
	ODATA_FILTER_STRING,
	ODATA_FILTER_DATETIME,
	ODATA_FILTER_DATETIMEOFFSET,
	ODATA_FILTER_GUID,
};

enum odata_filter_unop {
	ODATA_FILTER_NOT,
	ODATA_FILTER_NEG,
};

/* Grouped so that back ends can test ranges: logical, comparison, arithmetic. */
enum odata_filter_binop {
	ODATA_FILTER_OR,
	ODATA_FILTER_AND,
	ODATA_FILTER_EQ,
	ODATA_FILTER_NE,
	ODATA_FILTER_GT,
	ODATA_FILTER_GE,
	ODATA_FILTER_LT,
	ODATA_FILTER_LE,
	ODATA_FILTER_ADD,
	ODATA_FILTER_SUB,
	ODATA_FILTER_MUL,
	ODATA_FILTER_DIV,
	ODATA_FILTER_MOD,
};

#define ODATA_FILTER_IS_LOGICAL(op)    ((op) <= ODATA_FILTER_AND)
#define ODATA_FILTER_IS_COMPARISON(op) ((op) >= ODATA_FILTER_EQ && (op) <= ODATA_FILTER_LE)
#define ODATA_FILTER_IS_ARITHMETIC(op) ((op) >= ODATA_FILTER_ADD)

enum odata_filter_func {
	ODATA_FILTER_SUBSTRINGOF,	/* (needle, haystack) — V2 argument order */
	ODATA_FILTER_STARTSWITH,
	ODATA_FILTER_ENDSWITH,
	ODATA_FILTER_INDEXOF,
	ODATA_FILTER_LENGTH,
	ODATA_FILTER_TOLOWER,
	ODATA_FILTER_TOUPPER,
	ODATA_FILTER_TRIM,
	ODATA_FILTER_CONCAT,
	ODATA_FILTER_SUBSTRING,		/* 2 or 3 arguments */
	ODATA_FILTER_REPLACE,
	ODATA_FILTER_YEAR,
	ODATA_FILTER_MONTH,
	ODATA_FILTER_DAY,
	ODATA_FILTER_HOUR,
	ODATA_FILTER_MINUTE,
	ODATA_FILTER_SECOND,
	ODATA_FILTER_ROUND,
	ODATA_FILTER_FLOOR,
	ODATA_FILTER_CEILING,
};

#define ODATA_FILTER_MAX_ARGS 3

/* The fields of a datetime or datetimeoffset literal, already range-checked
 * (including days per month and leap years). */
struct odata_filter_datetime {
	int year, month, day, hour, minute, second;
	uint32_t nanos;		/* the fraction (at most 7 digits), in ns */
	bool has_offset;	/* DATETIMEOFFSET only */
	int offset_minutes;	/* east of UTC; 'Z' is 0 */
};

struct odata_filter_node {
	enum odata_filter_kind kind;
	size_t pos;	/* byte offset of the node's token in the input */
	union {
		struct {
			enum odata_filter_type type;
			/* NUL-terminated text as written, after unescaping, without
			 * quotes, type prefix or suffix: "it's", "-12" for -12L,
			 * "1.50" for 1.50M, "2024-01-31T10:00", "null", "true".
			 * DECIMAL is exact only here: bind it as text. Unsuffixed
			 * 12 is INT32 (INT64 beyond Int32), unsuffixed 1.5 / 1e10
			 * DOUBLE; 'f' (Single) is read as DOUBLE too. */
			const char *text;
			size_t len;
			int64_t i;	/* INT32, INT64 */
			double d;	/* DOUBLE; DECIMAL approximated */
			bool b;		/* BOOL */
			struct odata_filter_datetime dt;	/* DATETIME[OFFSET] */
		} lit;
		struct {
			const char *const *segs;	/* NUL-terminated identifiers */
			size_t nsegs;			/* 1..ODATA_FILTER_MAX_SEGMENTS */
		} path;
		struct {
			enum odata_filter_unop op;
			const struct odata_filter_node *arg;
		} unary;
		struct {
			enum odata_filter_binop op;
			const struct odata_filter_node *left, *right;
		} binary;
		struct {
			enum odata_filter_func fn;
			size_t argc;
			const struct odata_filter_node *args[ODATA_FILTER_MAX_ARGS];
		} call;
	};
};

struct odata_filter;

struct odata_filter_error {
	size_t pos;		/* 0-based byte offset of the offending token */
	char message[160];	/* "... at position N"; never echoes string literals */
};

/* Parses s[0..len). On success returns 0 and *out owns the tree. On error
 * returns -1, sets *out to NULL and fills *err (when err is not NULL). */
int odata_filter_parse(const char *s, size_t len, struct odata_filter **out,
    struct odata_filter_error *err);

const struct odata_filter_node *odata_filter_root(const struct odata_filter *f);

void odata_filter_free(struct odata_filter *f);

/* Fully parenthesized canonical form, e.g.
 * (and (eq (path a b) (string 'x')) (not (bool true))). Works like
 * snprintf: returns the length of the whole text (truncated to fit size,
 * always NUL-terminated when size > 0), or -1 when node is NULL. */
int odata_filter_print(const struct odata_filter_node *node, char *buf, size_t size);

/* True when the date and time fields name a real instant: year >= 1, the
 * day exists in its month (leap years included), hh:mm:ss in range. The
 * parser checks its literals with it; the JSON evaluator its ISO strings. */
bool odata_filter_datetime_valid(const struct odata_filter_datetime *dt);

/* Lower-case OData spellings: "eq", "substringof", "datetimeoffset"... */
const char *odata_filter_binop_name(enum odata_filter_binop op);
const char *odata_filter_func_name(enum odata_filter_func fn);
const char *odata_filter_type_name(enum odata_filter_type type);

#endif
