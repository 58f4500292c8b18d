#include "filter_sql.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_PARAMS	65535	/* PostgreSQL's limit on placeholders */
#define MAX_PATH_SHOWN	120	/* bytes of a path echoed in a message */

/* A double as numeric without losing digits: float8 -> text is the
 * shortest exact form (extra_float_digits >= 1), float8 -> numeric is not. */
#define AS_NUMERIC(x)	"CAST(CAST(" x " AS text) AS numeric)"

struct ctx {
	const struct odata_sql_resolver *r;
	struct odata_sql_params *p;
	struct odata_filter_sql_error *err;
};

/* A compiled sub-expression; sql is always self-delimited. */
struct expr {
	struct strbuf sql;
	enum odata_sql_type type;
	bool nullable;		/* may evaluate to SQL NULL */
	bool is_key;		/* a bare integrationKey path */
	int key_ctx;
};

static const struct {
	const char *edm, *cast;
} types[] = {
	[ODATA_SQL_STRING] = { "Edm.String", "text" },
	[ODATA_SQL_BOOLEAN] = { "Edm.Boolean", "boolean" },
	[ODATA_SQL_INT32] = { "Edm.Int32", "int4" },
	[ODATA_SQL_INT64] = { "Edm.Int64", "int8" },
	[ODATA_SQL_DECIMAL] = { "Edm.Decimal", "numeric" },
	[ODATA_SQL_DOUBLE] = { "Edm.Double", "float8" },
	[ODATA_SQL_DATETIME] = { "Edm.DateTime", "timestamptz" },	/* read as UTC */
	[ODATA_SQL_DATETIMEOFFSET] = { "Edm.DateTimeOffset", "timestamptz" },
	[ODATA_SQL_GUID] = { "Edm.Guid", "uuid" },
	[ODATA_SQL_NULL] = { "null", NULL },
};

static int compile(struct ctx *c, const struct odata_filter_node *n, bool truth,
    struct expr *e);

/* ----------------------------------------------------------- parameters */

static bool
params_grow(struct odata_sql_params *p)
{
	int cap = p->cap > 0 ? p->cap * 2 : 16;
	char **v = realloc(p->v, (size_t)cap * sizeof(*v));

	if (v == NULL)
		return false;
	p->v = v;
	p->cap = cap;
	return true;
}

int
odata_sql_param_add(struct odata_sql_params *p, const char *text)
{
	char *copy = NULL;

	if (p->base < 0 || p->n >= MAX_PARAMS - p->base)
		return -1;
	if (p->n == p->cap && !params_grow(p))
		return -1;
	if (text != NULL) {
		size_t len = strlen(text);

		if ((copy = malloc(len + 1)) == NULL)
			return -1;
		memcpy(copy, text, len + 1);
	}
	p->v[p->n++] = copy;
	return p->base + p->n;
}

static void
params_truncate(struct odata_sql_params *p, int n)
{
	while (p->n > n)
		free(p->v[--p->n]);
}

void
odata_sql_params_free(struct odata_sql_params *p)
{
	params_truncate(p, 0);
	free(p->v);
	p->v = NULL;
	p->cap = 0;
}

/* --------------------------------------------------------------- errors */

const char *
odata_filter_sql_type_name(enum odata_sql_type t)
{
	return (size_t)t < COUNT(types) ? types[t].edm : "?";
}

static int fail(struct ctx *c, enum odata_sql_status kind, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first error only; returns -1. */
static int
fail(struct ctx *c, enum odata_sql_status kind, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (c->err->kind != ODATA_SQL_OK)
		return -1;
	c->err->kind = kind;
	c->err->pos = pos;
	va_start(ap, fmt);
	vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int
nomem(struct ctx *c)
{
	return fail(c, ODATA_SQL_NOMEM, 0, "Out of memory.");
}

static int
binary_type_error(struct ctx *c, const struct odata_filter_node *n, const struct expr *l,
    const struct expr *r)
{
	return fail(c, ODATA_SQL_TYPE, n->pos,
	    "Operator '%s' is not applicable to %s and %s at position %zu.",
	    odata_filter_binop_name(n->binary.op), odata_filter_sql_type_name(l->type),
	    odata_filter_sql_type_name(r->type), n->pos);
}

static int
not_found(struct ctx *c, const struct odata_filter_node *n, size_t seg)
{
	snprintf(c->err->name, sizeof(c->err->name), "%s", n->path.segs[seg]);
	return fail(c, ODATA_SQL_NOT_FOUND, n->pos, "Could not find property with name: '%s'.",
	    c->err->name);
}

static int
to_many(struct ctx *c, const struct odata_filter_node *n, size_t seg)
{
	struct strbuf path;
	size_t i;
	int rc;

	strbuf_init(&path);
	for (i = 0; i <= seg; i++) {
		if (i > 0)
			strbuf_addc(&path, '/');
		strbuf_adds(&path, n->path.segs[i]);
	}
	if (path.failed) {
		strbuf_free(&path);
		return nomem(c);
	}
	snprintf(c->err->name, sizeof(c->err->name), "%s", n->path.segs[seg]);
	rc = fail(c, ODATA_SQL_TO_MANY, n->pos,
	    "Navigation property [%.*s%s] is a collection and cannot be used in $filter.",
	    MAX_PATH_SHOWN, path.s, path.len > MAX_PATH_SHOWN ? "..." : "");
	strbuf_free(&path);
	return rc;
}

/* -------------------------------------------------------------- helpers */

static const char *
text(const struct expr *e)
{
	return e->sql.s != NULL ? e->sql.s : "";
}

/* Frees a compiled operand after its text went into e. */
static void
release(struct expr *e, struct expr *operand)
{
	if (operand->sql.failed)
		e->sql.failed = true;
	strbuf_free(&operand->sql);
}

static bool
is_numeric(enum odata_sql_type t)
{
	return t == ODATA_SQL_INT32 || t == ODATA_SQL_INT64 || t == ODATA_SQL_DECIMAL ||
	    t == ODATA_SQL_DOUBLE;
}

static bool
is_datetime(enum odata_sql_type t)
{
	return t == ODATA_SQL_DATETIME || t == ODATA_SQL_DATETIMEOFFSET;
}

static bool
is_literal(const struct odata_filter_node *n, enum odata_filter_type t)
{
	return n->kind == ODATA_FILTER_LITERAL && n->lit.type == t;
}

/* Where NULL and false differ, a boolean that may be NULL (from a
 * comparison or a function) becomes false, as OData V2 wants. */
static void
coalesce(struct expr *e, bool truth)
{
	struct strbuf w;

	if (truth || !e->nullable)
		return;
	strbuf_init(&w);
	strbuf_addf(&w, "COALESCE(%s, false)", text(e));
	if (e->sql.failed)
		w.failed = true;
	strbuf_free(&e->sql);
	e->sql = w;
	e->nullable = false;
}

/* ------------------------------------------------------------- literals */

static enum odata_sql_type
literal_type(enum odata_filter_type t)
{
	switch (t) {
	case ODATA_FILTER_BOOL:			return ODATA_SQL_BOOLEAN;
	case ODATA_FILTER_INT32:		return ODATA_SQL_INT32;
	case ODATA_FILTER_INT64:		return ODATA_SQL_INT64;
	case ODATA_FILTER_DECIMAL:		return ODATA_SQL_DECIMAL;
	case ODATA_FILTER_DOUBLE:		return ODATA_SQL_DOUBLE;
	case ODATA_FILTER_STRING:		return ODATA_SQL_STRING;
	case ODATA_FILTER_DATETIME:		return ODATA_SQL_DATETIME;
	case ODATA_FILTER_DATETIMEOFFSET:	return ODATA_SQL_DATETIMEOFFSET;
	case ODATA_FILTER_GUID:			return ODATA_SQL_GUID;
	case ODATA_FILTER_NULL:			break;
	}
	return ODATA_SQL_NULL;
}

/* The shortest text that reads back as d. */
static void
format_double(double d, char *buf, size_t size)
{
	int prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
	snprintf(buf, size, "%.17g", d);
}

/* ISO 8601 from the checked fields: 2024-01-31T10:00:00.1234567+01:00.
 * A datetime (no offset) is an instant in UTC: written with +00:00, so that
 * its timestamptz parameter never depends on the session's TimeZone. */
static void
format_datetime(const struct odata_filter_datetime *dt, bool has_offset, char *buf, size_t size)
{
	const int offset_minutes = has_offset ? dt->offset_minutes : 0;
	size_t n;

	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", dt->year, dt->month, dt->day,
	    dt->hour, dt->minute, dt->second);
	n = strlen(buf);
	if (dt->nanos > 0 && n < size) {
		snprintf(buf + n, size - n, ".%09" PRIu32, dt->nanos % 1000000000u);
		n = strlen(buf);
		while (buf[n - 1] == '0')
			buf[--n] = '\0';
	}
	if (n < size) {
		int m = offset_minutes < 0 ? -offset_minutes : offset_minutes;

		snprintf(buf + n, size - n, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+',
		    m / 60 % 100, m % 60);
	}
}

static void
format_guid(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	buf[i] = '\0';
}

/* The parameter text of a literal: rebuilt from the checked value, except
 * strings and decimals (exact only as text). */
static const char *
literal_text(const struct odata_filter_node *n, char *buf, size_t size)
{
	switch (n->lit.type) {
	case ODATA_FILTER_BOOL:
		return n->lit.b ? "true" : "false";
	case ODATA_FILTER_INT32:
	case ODATA_FILTER_INT64:
		snprintf(buf, size, "%" PRId64, n->lit.i);
		return buf;
	case ODATA_FILTER_DOUBLE:
		format_double(n->lit.d, buf, size);
		return buf;
	case ODATA_FILTER_DATETIME:
	case ODATA_FILTER_DATETIMEOFFSET:
		format_datetime(&n->lit.dt, n->lit.type == ODATA_FILTER_DATETIMEOFFSET, buf, size);
		return buf;
	case ODATA_FILTER_GUID:
		format_guid(n->lit.text, buf, size);
		return buf;
	default:
		return n->lit.text;
	}
}

static int
compile_literal(struct ctx *c, const struct odata_filter_node *n, struct expr *e)
{
	char buf[128];
	const char *value;
	int ph;

	e->type = literal_type(n->lit.type);
	if (e->type == ODATA_SQL_NULL) {
		strbuf_adds(&e->sql, "NULL");
		e->nullable = true;
		return 0;
	}
	if (n->lit.text == NULL || strlen(n->lit.text) != n->lit.len)
		return fail(c, ODATA_SQL_TYPE, n->pos, "Invalid literal at position %zu.", n->pos);
	value = literal_text(n, buf, sizeof(buf));
	if ((ph = odata_sql_param_add(c->p, value)) < 0)
		return nomem(c);
	strbuf_addf(&e->sql, "$%d::%s", ph, types[e->type].cast);
	return 0;
}

/* ---------------------------------------------------------------- paths */

static int
compile_path(struct ctx *c, const struct odata_filter_node *n, struct expr *e)
{
	struct odata_sql_column col;
	size_t seg = 0;
	int rc;

	memset(&col, 0, sizeof(col));
	rc = c->r->resolve(c->r->arg, n->path.segs, n->path.nsegs, &col, &seg);
	if (seg >= n->path.nsegs)
		seg = n->path.nsegs - 1;
	if (rc == ODATA_SQL_NOT_FOUND)
		return not_found(c, n, seg);
	if (rc == ODATA_SQL_TO_MANY)
		return to_many(c, n, seg);
	if (rc != ODATA_SQL_OK || (size_t)col.type >= COUNT(types))
		return nomem(c);
	col.sql[sizeof(col.sql) - 1] = '\0';
	strbuf_adds(&e->sql, col.sql);
	e->type = col.type;
	e->nullable = true;
	e->is_key = col.is_key;
	e->key_ctx = col.key_ctx;
	return 0;
}

/* ------------------------------------------------------------ operators */

static int
compile_unary(struct ctx *c, const struct odata_filter_node *n, struct expr *e)
{
	bool is_not = n->unary.op == ODATA_FILTER_NOT;
	struct expr a;
	int rc = compile(c, n->unary.arg, false, &a);

	if (rc == 0 && (is_not ? a.type != ODATA_SQL_BOOLEAN : !is_numeric(a.type)))
		rc = fail(c, ODATA_SQL_TYPE, n->pos,
		    "Operator '%s' is not applicable to %s at position %zu.", is_not ? "not" : "-",
		    odata_filter_sql_type_name(a.type), n->pos);
	if (rc == 0) {
		strbuf_addf(&e->sql, is_not ? "(NOT %s)" : "(-%s)", text(&a));
		e->type = a.type;
		e->nullable = a.nullable;
	}
	release(e, &a);
	return rc;
}

/* Compiles both operands; on failure neither needs releasing. */
static int
compile_pair(struct ctx *c, const struct odata_filter_node *n, bool truth, struct expr *l,
    struct expr *r)
{
	if (compile(c, n->binary.left, truth, l) != 0)
		return -1;
	if (compile(c, n->binary.right, truth, r) != 0) {
		strbuf_free(&l->sql);
		return -1;
	}
	return 0;
}

static int
compile_logical(struct ctx *c, const struct odata_filter_node *n, bool truth, struct expr *e)
{
	struct expr l, r;

	if (compile_pair(c, n, truth, &l, &r) != 0)
		return -1;
	if (l.type != ODATA_SQL_BOOLEAN || r.type != ODATA_SQL_BOOLEAN) {
		binary_type_error(c, n, &l, &r);
		strbuf_free(&l.sql);
		strbuf_free(&r.sql);
		return -1;
	}
	strbuf_addf(&e->sql, "(%s %s %s)", text(&l), n->binary.op == ODATA_FILTER_AND ?
	    "AND" : "OR", text(&r));
	e->type = ODATA_SQL_BOOLEAN;
	e->nullable = l.nullable || r.nullable;
	release(e, &l);
	release(e, &r);
	return 0;
}

static const char *
arith_sql(enum odata_filter_binop op)
{
	switch (op) {
	case ODATA_FILTER_ADD:	return "+";
	case ODATA_FILTER_SUB:	return "-";
	case ODATA_FILTER_MUL:	return "*";
	case ODATA_FILTER_DIV:	return "/";
	default:		return "%";
	}
}

/* Promotion Int32 < Int64 < Decimal < Double is the enum order. PostgreSQL
 * has no float8 % float8: a Double mod goes through numeric. */
static int
compile_arith(struct ctx *c, const struct odata_filter_node *n, struct expr *e)
{
	struct expr l, r;

	if (compile_pair(c, n, false, &l, &r) != 0)
		return -1;
	if (!is_numeric(l.type) || !is_numeric(r.type)) {
		binary_type_error(c, n, &l, &r);
		strbuf_free(&l.sql);
		strbuf_free(&r.sql);
		return -1;
	}
	e->type = l.type > r.type ? l.type : r.type;
	e->nullable = l.nullable || r.nullable;
	if (n->binary.op == ODATA_FILTER_MOD && e->type == ODATA_SQL_DOUBLE)
		strbuf_addf(&e->sql, "CAST(mod(" AS_NUMERIC("%s") ", " AS_NUMERIC("%s")
		    ") AS float8)", text(&l), text(&r));
	else
		strbuf_addf(&e->sql, "(%s %s %s)", text(&l), arith_sql(n->binary.op), text(&r));
	release(e, &l);
	release(e, &r);
	return 0;
}

static bool
comparable(enum odata_sql_type a, enum odata_sql_type b)
{
	if (is_numeric(a) && is_numeric(b))
		return true;
	if (is_datetime(a) && is_datetime(b))
		return true;
	if ((a == ODATA_SQL_GUID && b == ODATA_SQL_STRING) ||
	    (a == ODATA_SQL_STRING && b == ODATA_SQL_GUID))
		return true;
	return a == b && a != ODATA_SQL_NULL;
}

static const char *
cmp_sql(enum odata_filter_binop op, bool both_nullable)
{
	switch (op) {
	case ODATA_FILTER_EQ:	return both_nullable ? "IS NOT DISTINCT FROM" : "=";
	case ODATA_FILTER_NE:	return "IS DISTINCT FROM";
	case ODATA_FILTER_GT:	return ">";
	case ODATA_FILTER_GE:	return ">=";
	case ODATA_FILTER_LT:	return "<";
	default:		return "<=";
	}
}

/* An operand of a comparison; a Guid meets a String as canonical text. */
static void
add_operand(struct strbuf *s, const struct expr *x, bool guid_vs_string)
{
	if (!guid_vs_string)
		strbuf_adds(s, text(x));
	else
		strbuf_addf(s, x->type == ODATA_SQL_GUID ? "CAST(%s AS text)" : "lower(%s)",
		    text(x));
}

/* Takes l and r (released, also on failure). */
static int
compose_comparison(struct ctx *c, const struct odata_filter_node *n, bool truth,
    struct expr *l, struct expr *r, struct expr *e)
{
	enum odata_filter_binop op = n->binary.op;
	bool mixed = l->type != r->type &&
	    (l->type == ODATA_SQL_GUID || r->type == ODATA_SQL_GUID);
	int rc = 0;

	if (!comparable(l->type, r->type)) {
		rc = binary_type_error(c, n, l, r);
	} else {
		strbuf_addc(&e->sql, '(');
		add_operand(&e->sql, l, mixed);
		strbuf_addf(&e->sql, " %s ", cmp_sql(op, l->nullable && r->nullable));
		add_operand(&e->sql, r, mixed);
		strbuf_addc(&e->sql, ')');
		e->type = ODATA_SQL_BOOLEAN;
		e->nullable = op != ODATA_FILTER_NE && (l->nullable || r->nullable) &&
		    !(op == ODATA_FILTER_EQ && l->nullable && r->nullable);
	}
	release(e, l);
	release(e, r);
	if (rc == 0)
		coalesce(e, truth);
	return rc;
}

/* x eq null, null ne x. */
static int
compile_is_null(struct ctx *c, const struct odata_filter_node *n,
    const struct odata_filter_node *operand, struct expr *e)
{
	struct expr a;

	if (compile(c, operand, false, &a) != 0)
		return -1;
	strbuf_addf(&e->sql, n->binary.op == ODATA_FILTER_EQ ? "(%s IS NULL)" :
	    "(%s IS NOT NULL)", text(&a));
	e->type = ODATA_SQL_BOOLEAN;
	e->nullable = false;
	release(e, &a);
	return 0;
}

/* The model's condition for key eq/ne '<literal>'. Takes k (released). */
static int
compose_key(struct ctx *c, const struct odata_filter_node *n, bool truth, struct expr *k,
    const char *literal, struct expr *e)
{
	struct strbuf cond;
	int rc;

	strbuf_init(&cond);
	rc = c->r->key_eq(c->r->arg, k->key_ctx, literal, &cond, c->p);
	if (rc != ODATA_SQL_OK || cond.failed || cond.len == 0)
		rc = nomem(c);
	else if (n->binary.op == ODATA_FILTER_NE)
		strbuf_addf(&e->sql, "(NOT COALESCE(%s, false))", cond.s);
	else
		strbuf_addf(&e->sql, "(%s)", cond.s);
	e->type = ODATA_SQL_BOOLEAN;
	e->nullable = n->binary.op == ODATA_FILTER_EQ;
	strbuf_free(&cond);
	release(e, k);
	if (rc == 0)
		coalesce(e, truth);
	return rc;
}

/* <path> eq|ne '<string>' in either order: the key condition when the
 * path is an integrationKey, else an ordinary comparison. */
static int
compile_path_string(struct ctx *c, const struct odata_filter_node *n, bool truth,
    bool path_left, struct expr *e)
{
	const struct odata_filter_node *path = path_left ? n->binary.left : n->binary.right;
	const struct odata_filter_node *lit = path_left ? n->binary.right : n->binary.left;
	struct expr pe, le;

	if (compile(c, path, false, &pe) != 0)
		return -1;
	if (pe.is_key && pe.type == ODATA_SQL_STRING)
		return compose_key(c, n, truth, &pe, lit->lit.text, e);
	if (compile(c, lit, false, &le) != 0) {
		strbuf_free(&pe.sql);
		return -1;
	}
	return path_left ? compose_comparison(c, n, truth, &pe, &le, e) :
	    compose_comparison(c, n, truth, &le, &pe, e);
}

static int
compile_comparison(struct ctx *c, const struct odata_filter_node *n, bool truth,
    struct expr *e)
{
	const struct odata_filter_node *l = n->binary.left, *r = n->binary.right;
	bool eqne = n->binary.op == ODATA_FILTER_EQ || n->binary.op == ODATA_FILTER_NE;
	struct expr le, re;

	if (eqne && is_literal(r, ODATA_FILTER_NULL))
		return compile_is_null(c, n, l, e);
	if (eqne && is_literal(l, ODATA_FILTER_NULL))
		return compile_is_null(c, n, r, e);
	if (eqne && c->r->key_eq != NULL && l->kind == ODATA_FILTER_PATH &&
	    is_literal(r, ODATA_FILTER_STRING))
		return compile_path_string(c, n, truth, true, e);
	if (eqne && c->r->key_eq != NULL && r->kind == ODATA_FILTER_PATH &&
	    is_literal(l, ODATA_FILTER_STRING))
		return compile_path_string(c, n, truth, false, e);
	if (compile_pair(c, n, false, &le, &re) != 0)
		return -1;
	return compose_comparison(c, n, truth, &le, &re, e);
}

static int
compile_binary(struct ctx *c, const struct odata_filter_node *n, bool truth, struct expr *e)
{
	if (ODATA_FILTER_IS_LOGICAL(n->binary.op))
		return compile_logical(c, n, truth, e);
	if (ODATA_FILTER_IS_COMPARISON(n->binary.op))
		return compile_comparison(c, n, truth, e);
	return compile_arith(c, n, e);
}

/* ------------------------------------------------------------ functions */

enum arg_kind { A_NONE, A_STR, A_INT, A_DT, A_NUM };

static const struct {
	enum arg_kind args[ODATA_FILTER_MAX_ARGS];
	size_t min;
	enum odata_sql_type ret;	/* ODATA_SQL_NULL: the argument's type */
} sigs[] = {
	[ODATA_FILTER_SUBSTRINGOF] = { { A_STR, A_STR, A_NONE }, 2, ODATA_SQL_BOOLEAN },
	[ODATA_FILTER_STARTSWITH] = { { A_STR, A_STR, A_NONE }, 2, ODATA_SQL_BOOLEAN },
	[ODATA_FILTER_ENDSWITH] = { { A_STR, A_STR, A_NONE }, 2, ODATA_SQL_BOOLEAN },
	[ODATA_FILTER_INDEXOF] = { { A_STR, A_STR, A_NONE }, 2, ODATA_SQL_INT32 },
	[ODATA_FILTER_LENGTH] = { { A_STR, A_NONE, A_NONE }, 1, ODATA_SQL_INT32 },
	[ODATA_FILTER_TOLOWER] = { { A_STR, A_NONE, A_NONE }, 1, ODATA_SQL_STRING },
	[ODATA_FILTER_TOUPPER] = { { A_STR, A_NONE, A_NONE }, 1, ODATA_SQL_STRING },
	[ODATA_FILTER_TRIM] = { { A_STR, A_NONE, A_NONE }, 1, ODATA_SQL_STRING },
	[ODATA_FILTER_CONCAT] = { { A_STR, A_STR, A_NONE }, 2, ODATA_SQL_STRING },
	[ODATA_FILTER_SUBSTRING] = { { A_STR, A_INT, A_INT }, 2, ODATA_SQL_STRING },
	[ODATA_FILTER_REPLACE] = { { A_STR, A_STR, A_STR }, 3, ODATA_SQL_STRING },
	[ODATA_FILTER_YEAR] = { { A_DT, A_NONE, A_NONE }, 1, ODATA_SQL_INT32 },
	[ODATA_FILTER_MONTH] = { { A_DT, A_NONE, A_NONE }, 1, ODATA_SQL_INT32 },
	[ODATA_FILTER_DAY] = { { A_DT, A_NONE, A_NONE }, 1, ODATA_SQL_INT32 },
	[ODATA_FILTER_HOUR] = { { A_DT, A_NONE, A_NONE }, 1, ODATA_SQL_INT32 },
	[ODATA_FILTER_MINUTE] = { { A_DT, A_NONE, A_NONE }, 1, ODATA_SQL_INT32 },
	[ODATA_FILTER_SECOND] = { { A_DT, A_NONE, A_NONE }, 1, ODATA_SQL_INT32 },
	[ODATA_FILTER_ROUND] = { { A_NUM, A_NONE, A_NONE }, 1, ODATA_SQL_NULL },
	[ODATA_FILTER_FLOOR] = { { A_NUM, A_NONE, A_NONE }, 1, ODATA_SQL_NULL },
	[ODATA_FILTER_CEILING] = { { A_NUM, A_NONE, A_NONE }, 1, ODATA_SQL_NULL },
};

static bool
arg_ok(enum arg_kind k, enum odata_sql_type t)
{
	switch (k) {
	case A_STR:	return t == ODATA_SQL_STRING;
	case A_INT:	return t == ODATA_SQL_INT32 || t == ODATA_SQL_INT64;
	case A_DT:	return is_datetime(t);
	case A_NUM:	return is_numeric(t);
	default:	return false;
	}
}

static bool
call_ok(const struct odata_filter_node *n, const struct expr *a)
{
	size_t i, argc = n->call.argc, max = 0;

	while (max < ODATA_FILTER_MAX_ARGS && sigs[n->call.fn].args[max] != A_NONE)
		max++;
	if (argc < sigs[n->call.fn].min || argc > max)
		return false;
	for (i = 0; i < argc; i++)
		if (!arg_ok(sigs[n->call.fn].args[i], a[i].type))
			return false;
	return true;
}

static int
call_type_error(struct ctx *c, const struct odata_filter_node *n, const struct expr *a)
{
	char list[160] = "";
	size_t i, len;

	for (i = 0; i < n->call.argc; i++) {
		len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%s", i > 0 ? ", " : "",
		    odata_filter_sql_type_name(a[i].type));
	}
	return fail(c, ODATA_SQL_TYPE, n->pos,
	    "Function '%s' is not applicable to %s at position %zu.",
	    odata_filter_func_name(n->call.fn), list, n->pos);
}

static const char *
extract_field(enum odata_filter_func fn)
{
	switch (fn) {
	case ODATA_FILTER_YEAR:		return "YEAR";
	case ODATA_FILTER_MONTH:	return "MONTH";
	case ODATA_FILTER_DAY:		return "DAY";
	case ODATA_FILTER_HOUR:		return "HOUR";
	default:			return "MINUTE";
	}
}

/* round/floor/ceiling: the identity on integers; round is half away from
 * zero like numeric's round, so a Double goes through numeric. */
static void
emit_rounding(struct strbuf *s, enum odata_filter_func fn, const struct expr *x)
{
	if (x->type == ODATA_SQL_INT32 || x->type == ODATA_SQL_INT64)
		strbuf_adds(s, text(x));
	else if (fn == ODATA_FILTER_FLOOR)
		strbuf_addf(s, "floor(%s)", text(x));
	else if (fn == ODATA_FILTER_CEILING)
		strbuf_addf(s, "ceil(%s)", text(x));
	else if (x->type == ODATA_SQL_DECIMAL)
		strbuf_addf(s, "round(%s)", text(x));
	else
		strbuf_addf(s, "CAST(round(" AS_NUMERIC("%s") ") AS float8)", text(x));
}

/* substring(s, i[, n]): OData counts from 0, substr from 1. */
static void
emit_substring(struct strbuf *s, const struct expr *a, size_t argc)
{
	const char *cast[2];
	size_t i;

	for (i = 0; i < 2; i++)
		cast[i] = i + 1 < argc && a[i + 1].type == ODATA_SQL_INT64 ? " AS int4)" : "";
	strbuf_addf(s, "substr(%s, (%s%s%s) + 1", text(&a[0]), *cast[0] ? "CAST(" : "",
	    text(&a[1]), cast[0]);
	if (argc == 3)
		strbuf_addf(s, ", %s%s%s", *cast[1] ? "CAST(" : "", text(&a[2]), cast[1]);
	strbuf_addc(s, ')');
}

/* year()..second() of an Edm.DateTime (a timestamptz read as UTC) take
 * the fields of its UTC wall-clock time, whatever the session's TimeZone. */
static const char *
utc_open(const struct expr *x)
{
	return x->type == ODATA_SQL_DATETIME ? "(" : "";
}

static const char *
utc_close(const struct expr *x)
{
	return x->type == ODATA_SQL_DATETIME ? " AT TIME ZONE 'UTC')" : "";
}

static void
emit_call(struct strbuf *s, const struct odata_filter_node *n, const struct expr *a)
{
	const char *x = text(&a[0]), *y = n->call.argc > 1 ? text(&a[1]) : "";

	switch (n->call.fn) {
	case ODATA_FILTER_SUBSTRINGOF:	strbuf_addf(s, "(strpos(%s, %s) > 0)", y, x); break;
	case ODATA_FILTER_STARTSWITH:	strbuf_addf(s, "starts_with(%s, %s)", x, y); break;
	case ODATA_FILTER_ENDSWITH:
		strbuf_addf(s, "(right(%s, length(%s)) = %s)", x, y, y);
		break;
	case ODATA_FILTER_INDEXOF:	strbuf_addf(s, "(strpos(%s, %s) - 1)", x, y); break;
	case ODATA_FILTER_LENGTH:	strbuf_addf(s, "char_length(%s)", x); break;
	case ODATA_FILTER_TOLOWER:	strbuf_addf(s, "lower(%s)", x); break;
	case ODATA_FILTER_TOUPPER:	strbuf_addf(s, "upper(%s)", x); break;
	case ODATA_FILTER_TRIM:		strbuf_addf(s, "btrim(%s)", x); break;
	case ODATA_FILTER_CONCAT:	strbuf_addf(s, "(%s || %s)", x, y); break;
	case ODATA_FILTER_SUBSTRING:	emit_substring(s, a, n->call.argc); break;
	case ODATA_FILTER_REPLACE:
		strbuf_addf(s, "replace(%s, %s, %s)", x, y, text(&a[2]));
		break;
	case ODATA_FILTER_SECOND:
		strbuf_addf(s, "CAST(floor(EXTRACT(SECOND FROM %s%s%s)) AS int4)", utc_open(&a[0]), x,
		    utc_close(&a[0]));
		break;
	case ODATA_FILTER_ROUND:
	case ODATA_FILTER_FLOOR:
	case ODATA_FILTER_CEILING:	emit_rounding(s, n->call.fn, &a[0]); break;
	default:
		strbuf_addf(s, "CAST(EXTRACT(%s FROM %s%s%s) AS int4)", extract_field(n->call.fn),
		    utc_open(&a[0]), x, utc_close(&a[0]));
		break;
	}
}

static int
compile_call(struct ctx *c, const struct odata_filter_node *n, bool truth, struct expr *e)
{
	struct expr a[ODATA_FILTER_MAX_ARGS];
	size_t i, argc = n->call.argc;
	int rc = 0;

	if ((size_t)n->call.fn >= COUNT(sigs) || argc == 0 || argc > ODATA_FILTER_MAX_ARGS)
		return fail(c, ODATA_SQL_TYPE, n->pos, "Invalid function call at position %zu.",
		    n->pos);
	for (i = 0; i < argc; i++)
		strbuf_init(&a[i].sql);
	for (i = 0; i < argc && rc == 0; i++)
		rc = compile(c, n->call.args[i], false, &a[i]);
	if (rc == 0 && !call_ok(n, a))
		rc = call_type_error(c, n, a);
	if (rc == 0) {
		emit_call(&e->sql, n, a);
		e->type = sigs[n->call.fn].ret == ODATA_SQL_NULL ? a[0].type : sigs[n->call.fn].ret;
		for (i = 0; i < argc; i++)
			e->nullable = e->nullable || a[i].nullable;
	}
	for (i = 0; i < argc; i++)
		release(e, &a[i]);
	if (rc == 0 && e->type == ODATA_SQL_BOOLEAN)
		coalesce(e, truth);
	return rc;
}

/* ----------------------------------------------------------------- tree */

/* truth: the caller treats NULL as false (the root, and/or below it), so
 * a comparison may stay bare and indexable. */
static int
compile(struct ctx *c, const struct odata_filter_node *n, bool truth, struct expr *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	strbuf_init(&e->sql);
	switch (n->kind) {
	case ODATA_FILTER_LITERAL:	rc = compile_literal(c, n, e); break;
	case ODATA_FILTER_PATH:		rc = compile_path(c, n, e); break;
	case ODATA_FILTER_UNARY:	rc = compile_unary(c, n, e); break;
	case ODATA_FILTER_BINARY:	rc = compile_binary(c, n, truth, e); break;
	case ODATA_FILTER_CALL:		rc = compile_call(c, n, truth, e); break;
	default:
		rc = fail(c, ODATA_SQL_TYPE, n->pos, "Invalid expression at position %zu.", n->pos);
		break;
	}
	if (rc != 0)
		strbuf_free(&e->sql);
	return rc;
}

static int
compile_root(struct ctx *c, const struct odata_filter_node *root, struct strbuf *out)
{
	struct expr e;
	int rc;

	if (compile(c, root, true, &e) != 0)
		return -1;
	rc = 0;
	if (e.type != ODATA_SQL_BOOLEAN)
		rc = fail(c, ODATA_SQL_TYPE, root->pos,
		    "Expected an Edm.Boolean expression, found %s at position %zu.",
		    odata_filter_sql_type_name(e.type), root->pos);
	else if (e.sql.failed)
		rc = nomem(c);
	else
		strbuf_add(out, e.sql.s, e.sql.len);
	if (rc == 0 && out->failed)
		rc = nomem(c);
	strbuf_free(&e.sql);
	return rc;
}

int
odata_filter_sql_compile(const struct odata_filter_node *root,
    const struct odata_sql_resolver *r, struct strbuf *out,
    struct odata_sql_params *p, struct odata_filter_sql_error *err)
{
	struct odata_filter_sql_error local;
	struct ctx c = { r, p, err != NULL ? err : &local };
	size_t len = out->len;
	int n = p->n;

	memset(c.err, 0, sizeof(*c.err));
	if (root == NULL || r == NULL || r->resolve == NULL)
		return fail(&c, ODATA_SQL_TYPE, 0, "No filter expression at position 0.");
	if (compile_root(&c, root, out) == 0)
		return 0;
	out->len = len;
	if (out->s != NULL)
		out->s[len] = '\0';
	params_truncate(p, n);
	return -1;
}
