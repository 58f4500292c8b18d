/* filter — OData V2 $filter lexer and recursive-descent parser.
 *
 * Hostile input is the normal case (the text comes straight from a URL or
 * from a stored WebhookFilter), so every limit is checked before the work it
 * bounds: the length and the bytes before lexing, the depth before each
 * recursion, the node count before each allocation, a string's length while
 * it is scanned. The C stack is bounded by ODATA_FILTER_MAX_DEPTH frames of
 * the grammar, whatever the input.
 *
 * Decisions the OData V2 text leaves open, made here:
 *  - unsuffixed `1.5` and `1e10` are Double (some servers say Decimal);
 *    `f`/`F` (Single) is accepted and read as Double;
 *  - `-` immediately followed by a digit is part of the numeric literal, so
 *    `-2147483648` is an Int32; `- x` or `-(x)` is the negate operator;
 *  - V2's precedence: gt/ge/lt/le above eq/ne, both left-associative
 *    (`a gt 1 eq true` is ((a gt 1) eq true));
 *  - whitespace is space, tab, CR and LF; it is required around binary
 *    operators and after `not` (unless `(` follows), and forbidden inside a
 *    path (`a/b`), between a function name and `(`, and between a type
 *    prefix and its quote (`datetime'...'`);
 *  - `not` is always the operator, never a property name; other keywords
 *    (`and`, `eq`...) may name properties where an operand is expected;
 *  - datetime: yyyy-mm-ddThh:mm[:ss[.f{1,7}]]; datetimeoffset: the same plus
 *    Z or +hh:mm / -hh:mm (|offset| <= 14:00); guid: 8-4-4-4-12 hex digits.
 *
 * Doubles are read with strtod, which assumes the "C" numeric locale;
 * webhookd never calls setlocale. */
#include "filter.h"

#include <limits.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */

struct block {
	struct block *next;
	size_t used, size;
	max_align_t data[];
};

struct odata_filter {
	struct block *blocks;
	const struct odata_filter_node *root;
};

#define BLOCK_BYTES 8192

static void *
arena_alloc(struct odata_filter *f, size_t n)
{
	const size_t a = alignof(max_align_t);
	struct block *b = f->blocks;
	void *ptr;

	/* n is bounded by the 64 KiB input, so rounding cannot overflow. */
	n = (n + a - 1) / a * a;
	if (b == NULL || b->size - b->used < n) {
		size_t size = n > BLOCK_BYTES ? n : BLOCK_BYTES;

		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			return NULL;
		b->next = f->blocks;
		b->used = 0;
		b->size = size;
		f->blocks = b;
	}
	ptr = (char *)b->data + b->used;
	b->used += n;
	return ptr;
}

void
odata_filter_free(struct odata_filter *f)
{
	struct block *b, *next;

	if (f == NULL)
		return;
	for (b = f->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(f);
}

const struct odata_filter_node *
odata_filter_root(const struct odata_filter *f)
{
	return f != NULL ? f->root : NULL;
}

/* ---------------------------------------------------------------- names */

static const char *const binop_names[] = {
	"or", "and", "eq", "ne", "gt", "ge", "lt", "le",
	"add", "sub", "mul", "div", "mod",
};

static const struct {
	const char *name;
	unsigned char min, max;
} funcs[] = {
	[ODATA_FILTER_SUBSTRINGOF] = { "substringof", 2, 2 },
	[ODATA_FILTER_STARTSWITH] = { "startswith", 2, 2 },
	[ODATA_FILTER_ENDSWITH] = { "endswith", 2, 2 },
	[ODATA_FILTER_INDEXOF] = { "indexof", 2, 2 },
	[ODATA_FILTER_LENGTH] = { "length", 1, 1 },
	[ODATA_FILTER_TOLOWER] = { "tolower", 1, 1 },
	[ODATA_FILTER_TOUPPER] = { "toupper", 1, 1 },
	[ODATA_FILTER_TRIM] = { "trim", 1, 1 },
	[ODATA_FILTER_CONCAT] = { "concat", 2, 2 },
	[ODATA_FILTER_SUBSTRING] = { "substring", 2, 3 },
	[ODATA_FILTER_REPLACE] = { "replace", 3, 3 },
	[ODATA_FILTER_YEAR] = { "year", 1, 1 },
	[ODATA_FILTER_MONTH] = { "month", 1, 1 },
	[ODATA_FILTER_DAY] = { "day", 1, 1 },
	[ODATA_FILTER_HOUR] = { "hour", 1, 1 },
	[ODATA_FILTER_MINUTE] = { "minute", 1, 1 },
	[ODATA_FILTER_SECOND] = { "second", 1, 1 },
	[ODATA_FILTER_ROUND] = { "round", 1, 1 },
	[ODATA_FILTER_FLOOR] = { "floor", 1, 1 },
	[ODATA_FILTER_CEILING] = { "ceiling", 1, 1 },
};

static const char *const type_names[] = {
	"null", "bool", "int32", "int64", "decimal", "double", "string",
	"datetime", "datetimeoffset", "guid",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *
odata_filter_binop_name(enum odata_filter_binop op)
{
	return (size_t)op < COUNT(binop_names) ? binop_names[op] : "?";
}

const char *
odata_filter_func_name(enum odata_filter_func fn)
{
	return (size_t)fn < COUNT(funcs) ? funcs[fn].name : "?";
}

const char *
odata_filter_type_name(enum odata_filter_type type)
{
	return (size_t)type < COUNT(type_names) ? type_names[type] : "?";
}

/* ---------------------------------------------------------------- lexer */

enum tok_kind {
	T_EOF, T_WORD, T_NUMBER, T_STRING, T_TYPED,
	T_LPAREN, T_RPAREN, T_COMMA, T_SLASH, T_MINUS,
};

struct token {
	enum tok_kind kind;
	size_t pos, len;	/* the whole token */
	bool space_before;
	/* T_NUMBER: the type (INT32 means "unsuffixed integer, Int32 or
	 * Int64 by value"); T_TYPED: the prefix's type. */
	enum odata_filter_type type;
	size_t body, body_len;	/* number without suffix; text inside quotes */
	size_t ulen;		/* T_STRING: length once '' is unescaped */
};

struct parser {
	const char *s;
	size_t len, off;
	struct token tok;
	unsigned depth, nodes;
	struct odata_filter *f;
	struct odata_filter_error *err;
	bool failed;
};

/* Records the first error only: later ones are consequences. Returns NULL
 * so that parse functions can `return fail(...)`. */
static void *fail(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void *
fail(struct parser *p, size_t pos, const char *fmt, ...)
{
	char *m = p->err->message;
	size_t size = sizeof(p->err->message);
	va_list ap;
	int n;

	if (p->failed)
		return NULL;
	p->failed = true;
	p->err->pos = pos;
	va_start(ap, fmt);
	n = vsnprintf(m, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < size)
		snprintf(m + n, size - (size_t)n, " at position %zu", pos);
	return NULL;
}

/* Locale-free classes: isalpha() and friends depend on LC_CTYPE. */
static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_ident_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
is_ident(char c)
{
	return is_ident_start(c) || is_digit(c);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char
at(const struct parser *p, size_t i)
{
	return i < p->len ? p->s[i] : '\0';
}

/* Scans 'text' starting at the quote q; fills body and ulen. */
static bool
lex_quoted(struct parser *p, size_t q, struct token *t)
{
	size_t i = q + 1, ulen = 0;

	for (;;) {
		if (i >= p->len) {
			fail(p, q, "unterminated string literal");
			return false;
		}
		if (p->s[i] == '\'') {
			if (at(p, i + 1) != '\'')
				break;
			i++;	/* '' is one quote */
		}
		i++;
		if (++ulen > ODATA_FILTER_MAX_STRING) {
			fail(p, q, "string literal longer than %d bytes", ODATA_FILTER_MAX_STRING);
			return false;
		}
	}
	t->body = q + 1;
	t->body_len = i - t->body;
	t->ulen = ulen;
	t->len = i + 1 - t->pos;
	return true;
}

static size_t
skip_digits(const struct parser *p, size_t i)
{
	while (is_digit(at(p, i)))
		i++;
	return i;
}

/* [-]digits[.digits][(e|E)[+|-]digits][L|M|D|F], case-insensitive suffix. */
static bool
lex_number(struct parser *p, struct token *t)
{
	size_t i = t->pos + (at(p, t->pos) == '-');
	bool dot = false, exp = false;
	char c;

	i = skip_digits(p, i);
	if (at(p, i) == '.') {
		dot = true;
		if (!is_digit(at(p, i + 1)))
			goto bad;
		i = skip_digits(p, i + 1);
	}
	if (at(p, i) == 'e' || at(p, i) == 'E') {
		exp = true;
		i++;
		if (at(p, i) == '+' || at(p, i) == '-')
			i++;
		if (!is_digit(at(p, i)))
			goto bad;
		i = skip_digits(p, i);
	}
	t->kind = T_NUMBER;
	t->body = t->pos;
	t->body_len = i - t->pos;
	t->type = dot || exp ? ODATA_FILTER_DOUBLE : ODATA_FILTER_INT32;
	c = at(p, i);
	if ((c == 'L' || c == 'l') && !dot && !exp)
		t->type = ODATA_FILTER_INT64;
	else if ((c == 'M' || c == 'm') && !exp)
		t->type = ODATA_FILTER_DECIMAL;
	else if (c == 'D' || c == 'd' || c == 'F' || c == 'f')
		t->type = ODATA_FILTER_DOUBLE;
	else
		c = '\0';
	if (c != '\0')
		i++;
	/* 12LL, 1.5MM, 12abc, 1.2.3: one malformed token, not two. */
	if (is_ident(at(p, i)) || at(p, i) == '.')
		goto bad;
	t->len = i - t->pos;
	return true;
bad:
	fail(p, t->pos, "malformed number literal");
	return false;
}

static bool
word_eq(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* An identifier; directly followed by a quote, a typed literal prefix if it
 * is one of OData V2's. */
static bool
lex_word(struct parser *p, struct token *t)
{
	size_t i = t->pos;
	const char *w = p->s + t->pos;

	while (is_ident(at(p, i)))
		i++;
	t->kind = T_WORD;
	t->len = i - t->pos;
	if (at(p, i) != '\'')
		return true;
	if (word_eq(w, t->len, "datetime"))
		t->type = ODATA_FILTER_DATETIME;
	else if (word_eq(w, t->len, "datetimeoffset"))
		t->type = ODATA_FILTER_DATETIMEOFFSET;
	else if (word_eq(w, t->len, "guid"))
		t->type = ODATA_FILTER_GUID;
	else if (word_eq(w, t->len, "time") || word_eq(w, t->len, "binary") ||
	    word_eq(w, t->len, "X")) {
		fail(p, t->pos, "unsupported literal prefix '%.*s'", (int)t->len, w);
		return false;
	} else {
		return true;	/* a word, then a string: `a eq'x'` is reported later */
	}
	t->kind = T_TYPED;
	return lex_quoted(p, i, t);
}

static bool
lex_other(struct parser *p, struct token *t)
{
	unsigned char c = (unsigned char)p->s[t->pos];

	if (c >= 0x21 && c <= 0x7e)
		fail(p, t->pos, "unexpected character '%c'", c);
	else
		fail(p, t->pos, "unexpected byte 0x%02X", c);
	return false;
}

/* Reads the next token into p->tok. */
static bool
lex(struct parser *p)
{
	struct token *t = &p->tok;
	size_t i = p->off;
	bool ok = true;
	char c;

	memset(t, 0, sizeof(*t));
	while (i < p->len && is_space(p->s[i]))
		i++;
	t->space_before = i > p->off;
	t->pos = i;
	t->len = 1;
	c = at(p, i);
	if (i >= p->len) {
		t->kind = T_EOF;
		t->len = 0;
	} else if (c == '(' || c == ')' || c == ',' || c == '/') {
		t->kind = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : c == ',' ? T_COMMA : T_SLASH;
	} else if (c == '-' && !is_digit(at(p, i + 1))) {
		t->kind = T_MINUS;
	} else if (c == '-' || is_digit(c)) {
		ok = lex_number(p, t);
	} else if (c == '\'') {
		t->kind = T_STRING;
		ok = lex_quoted(p, i, t);
	} else if (is_ident_start(c)) {
		ok = lex_word(p, t);
	} else {
		ok = lex_other(p, t);
	}
	p->off = t->pos + t->len;
	return ok;
}

/* ------------------------------------------------------- parser helpers */

static bool
word_is(const struct parser *p, const char *w)
{
	return p->tok.kind == T_WORD && word_eq(p->s + p->tok.pos, p->tok.len, w);
}

static void *
unexpected(struct parser *p)
{
	const struct token *t = &p->tok;
	size_t n = t->len > 32 ? 32 : t->len;

	switch (t->kind) {
	case T_EOF:
		return fail(p, t->pos, "unexpected end of input");
	case T_STRING:
		/* Never echo literal text: it may be a secret pasted by mistake. */
		return fail(p, t->pos, "unexpected string literal");
	case T_TYPED:
		return fail(p, t->pos, "unexpected %s literal", type_names[t->type]);
	default:
		return fail(p, t->pos, "unexpected token '%.*s%s'", (int)n,
		    p->s + t->pos, n < t->len ? "..." : "");
	}
}

static struct odata_filter_node *
new_node(struct parser *p, enum odata_filter_kind kind, size_t pos)
{
	struct odata_filter_node *n;

	if (p->nodes >= ODATA_FILTER_MAX_NODES)
		return fail(p, pos, "expression has more than %d nodes", ODATA_FILTER_MAX_NODES);
	n = arena_alloc(p->f, sizeof(*n));
	if (n == NULL)
		return fail(p, pos, "out of memory");
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->pos = pos;
	p->nodes++;
	return n;
}

static char *
copy_text(struct parser *p, const char *s, size_t n, size_t pos)
{
	char *t = arena_alloc(p->f, n + 1);

	if (t == NULL)
		return fail(p, pos, "out of memory");
	memcpy(t, s, n);
	t[n] = '\0';
	return t;
}

static struct odata_filter_node *
new_literal(struct parser *p, enum odata_filter_type type, size_t pos, const char *s, size_t n)
{
	struct odata_filter_node *node = new_node(p, ODATA_FILTER_LITERAL, pos);

	if (node == NULL)
		return NULL;
	node->lit.type = type;
	node->lit.len = n;
	node->lit.text = copy_text(p, s, n, pos);
	return node->lit.text != NULL ? node : NULL;
}

/* Depth counts parentheses, not, '-' and calls; checked before recursing. */
static bool
enter(struct parser *p, size_t pos)
{
	if (p->depth >= ODATA_FILTER_MAX_DEPTH) {
		fail(p, pos, "nesting deeper than %d", ODATA_FILTER_MAX_DEPTH);
		return false;
	}
	p->depth++;
	return true;
}

/* ------------------------------------------------------------- literals */

/* [-]digits into int64, rejecting overflow. */
static bool
parse_int64(const char *s, size_t n, int64_t *out)
{
	bool neg = n > 0 && s[0] == '-';
	uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
	size_t i;

	for (i = neg; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == lim ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return true;
}

static const struct odata_filter_node *
number_literal(struct parser *p)
{
	const struct token t = p->tok;
	struct odata_filter_node *n;
	enum odata_filter_type type = t.type;
	int64_t v = 0;

	if (type == ODATA_FILTER_INT32 || type == ODATA_FILTER_INT64) {
		if (!parse_int64(p->s + t.body, t.body_len, &v))
			return fail(p, t.pos, "integer literal out of range");
		if (type == ODATA_FILTER_INT32 && (v < INT32_MIN || v > INT32_MAX))
			type = ODATA_FILTER_INT64;
	}
	n = new_literal(p, type, t.pos, p->s + t.body, t.body_len);
	if (n == NULL)
		return NULL;
	n->lit.i = v;
	if (type == ODATA_FILTER_DOUBLE || type == ODATA_FILTER_DECIMAL) {
		/* The lexer allowed only digits, '.', 'e' and signs: strtod
		 * consumes the whole text. */
		n->lit.d = strtod(n->lit.text, NULL);
		if (type == ODATA_FILTER_DOUBLE && !isfinite(n->lit.d))
			return fail(p, t.pos, "double literal out of range");
	}
	return lex(p) ? n : NULL;
}

static const struct odata_filter_node *
string_literal(struct parser *p)
{
	const struct token t = p->tok;
	struct odata_filter_node *n = new_node(p, ODATA_FILTER_LITERAL, t.pos);
	const char *s = p->s + t.body;
	char *u;
	size_t i, j = 0;

	if (n == NULL)
		return NULL;
	u = arena_alloc(p->f, t.ulen + 1);
	if (u == NULL)
		return fail(p, t.pos, "out of memory");
	for (i = 0; i < t.body_len; i++) {
		u[j++] = s[i];
		if (s[i] == '\'')
			i++;	/* the lexer saw the second quote of the pair */
	}
	u[j] = '\0';
	n->lit.type = ODATA_FILTER_STRING;
	n->lit.text = u;
	n->lit.len = j;
	return lex(p) ? n : NULL;
}

static bool
fixed_digits(const char *s, size_t n, int *out)
{
	size_t i;

	*out = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		*out = *out * 10 + (s[i] - '0');
	}
	return true;
}

static int
days_in_month(int y, int m)
{
	static const unsigned char days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* [:ss[.f{1,7}]] from s[*i]. */
static bool
parse_seconds(const char *s, size_t n, size_t *i, struct odata_filter_datetime *dt)
{
	size_t k, digits;

	if (*i >= n || s[*i] != ':')
		return true;
	if (n - *i < 3 || !fixed_digits(s + *i + 1, 2, &dt->second))
		return false;
	*i += 3;
	if (*i >= n || s[*i] != '.')
		return true;
	for (k = *i + 1; k < n && is_digit(s[k]); k++)
		;
	digits = k - *i - 1;
	if (digits < 1 || digits > 7)
		return false;
	dt->nanos = 0;
	for (k = 0; k < 9; k++)
		dt->nanos = dt->nanos * 10 + (k < digits ? (uint32_t)(s[*i + 1 + k] - '0') : 0);
	*i += 1 + digits;
	return true;
}

/* Z | +hh:mm | -hh:mm from s[*i]. */
static bool
parse_offset(const char *s, size_t n, size_t *i, struct odata_filter_datetime *dt)
{
	int hh, mm;

	dt->has_offset = true;
	if (*i < n && s[*i] == 'Z') {
		(*i)++;
		return true;
	}
	if (n - *i < 6 || (s[*i] != '+' && s[*i] != '-') || s[*i + 3] != ':' ||
	    !fixed_digits(s + *i + 1, 2, &hh) || !fixed_digits(s + *i + 4, 2, &mm))
		return false;
	if (mm > 59 || hh * 60 + mm > 14 * 60)
		return false;
	dt->offset_minutes = (s[*i] == '-' ? -1 : 1) * (hh * 60 + mm);
	*i += 6;
	return true;
}

static bool
parse_datetime(const char *s, size_t n, bool offset, struct odata_filter_datetime *dt)
{
	size_t i = 16;

	memset(dt, 0, sizeof(*dt));
	if (n < 16 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    !fixed_digits(s, 4, &dt->year) || !fixed_digits(s + 5, 2, &dt->month) ||
	    !fixed_digits(s + 8, 2, &dt->day) || !fixed_digits(s + 11, 2, &dt->hour) ||
	    !fixed_digits(s + 14, 2, &dt->minute))
		return false;
	if (!parse_seconds(s, n, &i, dt) || (offset && !parse_offset(s, n, &i, dt)) || i != n)
		return false;
	return odata_filter_datetime_valid(dt);
}

bool
odata_filter_datetime_valid(const struct odata_filter_datetime *dt)
{
	return dt->year >= 1 && dt->month >= 1 && dt->month <= 12 && dt->day >= 1 &&
	    dt->day <= days_in_month(dt->year, dt->month) && dt->hour <= 23 &&
	    dt->minute <= 59 && dt->second <= 59;
}

static bool
valid_guid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

		if (dash ? c != '-' : !hex)
			return false;
	}
	return true;
}

static const struct odata_filter_node *
typed_literal(struct parser *p)
{
	const struct token t = p->tok;
	const char *s = p->s + t.body;
	struct odata_filter_datetime dt;
	struct odata_filter_node *n;
	bool ok;

	if (t.type == ODATA_FILTER_GUID)
		ok = valid_guid(s, t.body_len);
	else
		ok = parse_datetime(s, t.body_len, t.type == ODATA_FILTER_DATETIMEOFFSET, &dt);
	if (!ok)
		return fail(p, t.pos, "invalid %s literal", type_names[t.type]);
	n = new_literal(p, t.type, t.pos, s, t.body_len);
	if (n == NULL)
		return NULL;
	if (t.type != ODATA_FILTER_GUID)
		n->lit.dt = dt;
	return lex(p) ? n : NULL;
}

/* null, true, false */
static const struct odata_filter_node *
keyword_literal(struct parser *p, enum odata_filter_type type, bool b)
{
	struct odata_filter_node *n = new_literal(p, type, p->tok.pos, p->s + p->tok.pos, p->tok.len);

	if (n == NULL)
		return NULL;
	n->lit.b = b;
	return lex(p) ? n : NULL;
}

/* -------------------------------------------------------------- grammar */

static const struct odata_filter_node *parse_or(struct parser *p);
static const struct odata_filter_node *parse_unary(struct parser *p);

/* The current token, a binary operator between lo and hi, or -1. */
static int
match_op(const struct parser *p, enum odata_filter_binop lo, enum odata_filter_binop hi)
{
	int op;

	for (op = (int)lo; op <= (int)hi; op++)
		if (word_is(p, binop_names[op]))
			return op;
	return -1;
}

/* Consumes a binary operator keyword, which must stand between spaces. */
static bool
take_op(struct parser *p)
{
	const struct token op = p->tok;
	const char *name = p->s + op.pos;

	if (!op.space_before) {
		fail(p, op.pos, "expected whitespace before '%.*s'", (int)op.len, name);
		return false;
	}
	if (!lex(p))
		return false;
	if (p->tok.kind != T_EOF && !p->tok.space_before) {
		fail(p, p->tok.pos, "expected whitespace after '%.*s'", (int)op.len, name);
		return false;
	}
	return true;
}

static const struct odata_filter_node *
new_binary(struct parser *p, int op, size_t pos, const struct odata_filter_node *left,
    const struct odata_filter_node *right)
{
	struct odata_filter_node *n = new_node(p, ODATA_FILTER_BINARY, pos);

	if (n == NULL)
		return NULL;
	n->binary.op = (enum odata_filter_binop)op;
	n->binary.left = left;
	n->binary.right = right;
	return n;
}

typedef const struct odata_filter_node *(*parse_fn)(struct parser *);

/* One left-associative level: a loop, so long chains cost no stack. */
static const struct odata_filter_node *
parse_level(struct parser *p, parse_fn next, enum odata_filter_binop lo, enum odata_filter_binop hi)
{
	const struct odata_filter_node *left = next(p), *right;
	int op;

	while (left != NULL && (op = match_op(p, lo, hi)) >= 0) {
		size_t pos = p->tok.pos;

		if (!take_op(p) || (right = next(p)) == NULL)
			return NULL;
		left = new_binary(p, op, pos, left, right);
	}
	return left;
}

static const struct odata_filter_node *
parse_mul(struct parser *p)
{
	return parse_level(p, parse_unary, ODATA_FILTER_MUL, ODATA_FILTER_MOD);
}

static const struct odata_filter_node *
parse_add(struct parser *p)
{
	return parse_level(p, parse_mul, ODATA_FILTER_ADD, ODATA_FILTER_SUB);
}

/* OData V2 precedence: relational (gt ge lt le) binds tighter than
 * equality (eq ne), both left-associative, so `a gt 1 eq true` is
 * ((a gt 1) eq true) as in SAP's and Olingo's parsers. */
static const struct odata_filter_node *
parse_rel(struct parser *p)
{
	return parse_level(p, parse_add, ODATA_FILTER_GT, ODATA_FILTER_LE);
}

static const struct odata_filter_node *
parse_eq(struct parser *p)
{
	return parse_level(p, parse_rel, ODATA_FILTER_EQ, ODATA_FILTER_NE);
}

static const struct odata_filter_node *
parse_and(struct parser *p)
{
	return parse_level(p, parse_eq, ODATA_FILTER_AND, ODATA_FILTER_AND);
}

static const struct odata_filter_node *
parse_or(struct parser *p)
{
	return parse_level(p, parse_and, ODATA_FILTER_OR, ODATA_FILTER_OR);
}

static const struct odata_filter_node *
parse_group(struct parser *p)
{
	size_t open = p->tok.pos;
	const struct odata_filter_node *e;

	if (!enter(p, open) || !lex(p) || (e = parse_or(p)) == NULL)
		return NULL;
	if (p->tok.kind == T_EOF)
		return fail(p, open, "unbalanced parenthesis");
	if (p->tok.kind != T_RPAREN)
		return unexpected(p);
	p->depth--;
	return lex(p) ? e : NULL;
}

static void *
arity_error(struct parser *p, int fn, size_t pos)
{
	if (funcs[fn].min == funcs[fn].max)
		return fail(p, pos, "function '%s' takes %d argument%s", funcs[fn].name,
		    funcs[fn].min, funcs[fn].min == 1 ? "" : "s");
	return fail(p, pos, "function '%s' takes %d or %d arguments", funcs[fn].name,
	    funcs[fn].min, funcs[fn].max);
}

static int
find_func(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < COUNT(funcs); i++)
		if (word_eq(s, n, funcs[i].name))
			return (int)i;
	return -1;
}

/* Arguments after the '(' at open, up to and including ')'. */
static bool
parse_args(struct parser *p, int fn, size_t pos, size_t open, struct odata_filter_node *call)
{
	if (p->tok.kind == T_RPAREN) {
		arity_error(p, fn, pos);
		return false;
	}
	for (;;) {
		if (call->call.argc == funcs[fn].max) {
			arity_error(p, fn, pos);
			return false;
		}
		call->call.args[call->call.argc] = parse_or(p);
		if (call->call.args[call->call.argc++] == NULL)
			return false;
		if (p->tok.kind == T_RPAREN)
			break;
		if (p->tok.kind == T_EOF) {
			fail(p, open, "unbalanced parenthesis");
			return false;
		}
		if (p->tok.kind != T_COMMA) {
			unexpected(p);
			return false;
		}
		if (!lex(p))
			return false;
	}
	if (call->call.argc < funcs[fn].min) {
		arity_error(p, fn, pos);
		return false;
	}
	return lex(p);
}

/* name( — the lexer guarantees the '(' follows the name directly. */
static const struct odata_filter_node *
parse_call(struct parser *p)
{
	size_t pos = p->tok.pos, n = p->tok.len, open;
	int fn = find_func(p->s + pos, n);
	struct odata_filter_node *call;

	if (fn < 0)
		return fail(p, pos, "unknown function '%.*s%s'", (int)(n > 32 ? 32 : n),
		    p->s + pos, n > 32 ? "..." : "");
	if (!enter(p, pos) || !lex(p))
		return NULL;
	open = p->tok.pos;
	if (!lex(p) || (call = new_node(p, ODATA_FILTER_CALL, pos)) == NULL)
		return NULL;
	call->call.fn = (enum odata_filter_func)fn;
	if (!parse_args(p, fn, pos, open, call))
		return NULL;
	p->depth--;
	return call;
}

static const struct odata_filter_node *
new_path(struct parser *p, size_t pos, const size_t *starts, const size_t *len, size_t nsegs)
{
	struct odata_filter_node *n = new_node(p, ODATA_FILTER_PATH, pos);
	const char **segs;
	size_t i;

	if (n == NULL)
		return NULL;
	segs = arena_alloc(p->f, nsegs * sizeof(*segs));
	if (segs == NULL)
		return fail(p, pos, "out of memory");
	for (i = 0; i < nsegs; i++)
		if ((segs[i] = copy_text(p, p->s + starts[i], len[i], pos)) == NULL)
			return NULL;
	n->path.segs = segs;
	n->path.nsegs = nsegs;
	return n;
}

/* a/b/c with no whitespace around the slashes. */
static const struct odata_filter_node *
parse_path(struct parser *p)
{
	size_t pos = p->tok.pos, n = 0;
	size_t starts[ODATA_FILTER_MAX_SEGMENTS], len[ODATA_FILTER_MAX_SEGMENTS];

	for (;;) {
		if (n == ODATA_FILTER_MAX_SEGMENTS)
			return fail(p, p->tok.pos, "path longer than %d segments",
			    ODATA_FILTER_MAX_SEGMENTS);
		if (p->tok.len > ODATA_FILTER_MAX_SEGMENT)
			return fail(p, p->tok.pos, "path segment longer than %d bytes",
			    ODATA_FILTER_MAX_SEGMENT);
		starts[n] = p->tok.pos;
		len[n++] = p->tok.len;
		if (!lex(p))
			return NULL;
		if (p->tok.kind != T_SLASH || p->tok.space_before)
			break;
		if (!lex(p))
			return NULL;
		if (p->tok.kind != T_WORD || p->tok.space_before)
			return fail(p, p->tok.pos, "expected a property name after '/'");
	}
	return new_path(p, pos, starts, len, n);
}

static const struct odata_filter_node *
parse_word(struct parser *p)
{
	if (at(p, p->tok.pos + p->tok.len) == '(')
		return parse_call(p);
	if (word_is(p, "null"))
		return keyword_literal(p, ODATA_FILTER_NULL, false);
	if (word_is(p, "true"))
		return keyword_literal(p, ODATA_FILTER_BOOL, true);
	if (word_is(p, "false"))
		return keyword_literal(p, ODATA_FILTER_BOOL, false);
	return parse_path(p);
}

static const struct odata_filter_node *
parse_primary(struct parser *p)
{
	switch (p->tok.kind) {
	case T_LPAREN:
		return parse_group(p);
	case T_NUMBER:
		return number_literal(p);
	case T_STRING:
		return string_literal(p);
	case T_TYPED:
		return typed_literal(p);
	case T_WORD:
		return parse_word(p);
	default:
		return unexpected(p);
	}
}

static bool
is_numeric_type(enum odata_filter_type t)
{
	return t >= ODATA_FILTER_INT32 && t <= ODATA_FILTER_DOUBLE;
}

/* not x, - x: right-recursive, so each one counts towards the depth. */
static const struct odata_filter_node *
parse_unary(struct parser *p)
{
	size_t pos = p->tok.pos;
	enum odata_filter_unop op;
	const struct odata_filter_node *arg;
	struct odata_filter_node *n;

	if (word_is(p, "not"))
		op = ODATA_FILTER_NOT;
	else if (p->tok.kind == T_MINUS)
		op = ODATA_FILTER_NEG;
	else
		return parse_primary(p);
	if (!enter(p, pos) || !lex(p))
		return NULL;
	if (op == ODATA_FILTER_NOT && !p->tok.space_before && p->tok.kind != T_LPAREN &&
	    p->tok.kind != T_EOF)
		return fail(p, p->tok.pos, "expected whitespace after 'not'");
	if ((arg = parse_unary(p)) == NULL)
		return NULL;
	p->depth--;
	if (op == ODATA_FILTER_NEG && arg->kind == ODATA_FILTER_LITERAL &&
	    !is_numeric_type(arg->lit.type))
		return fail(p, pos, "operator '-' needs a numeric operand");
	if ((n = new_node(p, ODATA_FILTER_UNARY, pos)) == NULL)
		return NULL;
	n->unary.op = op;
	n->unary.arg = arg;
	return n;
}

/* ------------------------------------------------------------ top level */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c == 0xe0)
		need = 2, lo = 0xa0;
	else if (c == 0xed)
		need = 2, hi = 0x9f;
	else if (c >= 0xe1 && c <= 0xef)
		need = 2;
	else if (c == 0xf0)
		need = 3, lo = 0x90;
	else if (c >= 0xf1 && c <= 0xf3)
		need = 3;
	else if (c == 0xf4)
		need = 3, hi = 0x8f;
	else
		return 0;
	if (n <= need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need + 1;
}

/* Before lexing, so no later stage sees a NUL or a broken sequence. */
static bool
check_bytes(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->s;
	size_t i = 0, n;

	if (p->len > ODATA_FILTER_MAX_LEN) {
		fail(p, ODATA_FILTER_MAX_LEN, "expression longer than %d bytes", ODATA_FILTER_MAX_LEN);
		return false;
	}
	while (i < p->len) {
		if (s[i] == 0) {
			fail(p, i, "NUL byte");
			return false;
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_seq(s + i, p->len - i)) == 0) {
			fail(p, i, "invalid UTF-8");
			return false;
		}
		i += n;
	}
	return true;
}

static const struct odata_filter_node *
parse_top(struct parser *p)
{
	const struct odata_filter_node *root;

	if (!lex(p))
		return NULL;
	if (p->tok.kind == T_EOF)
		return fail(p, 0, "empty expression");
	if ((root = parse_or(p)) == NULL)
		return NULL;
	if (p->tok.kind == T_RPAREN)
		return fail(p, p->tok.pos, "unbalanced parenthesis");
	if (p->tok.kind != T_EOF)
		return unexpected(p);
	return root;
}

int
odata_filter_parse(const char *s, size_t len, struct odata_filter **out,
    struct odata_filter_error *err)
{
	struct odata_filter_error scratch;
	struct parser p;
	const struct odata_filter_node *root;

	if (err == NULL)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	memset(&p, 0, sizeof(p));
	p.s = s != NULL ? s : "";
	p.len = s != NULL ? len : 0;
	p.err = err;
	if (out == NULL) {
		fail(&p, 0, "no result pointer");
		return -1;
	}
	*out = NULL;
	if (!check_bytes(&p))
		return -1;
	if ((p.f = calloc(1, sizeof(*p.f))) == NULL) {
		fail(&p, 0, "out of memory");
		return -1;
	}
	if ((root = parse_top(&p)) == NULL) {
		odata_filter_free(p.f);
		return -1;
	}
	p.f->root = root;
	*out = p.f;
	return 0;
}

/* ---------------------------------------------------------------- print */

struct sink {
	char *buf;
	size_t size, n;	/* n: the length the whole text needs */
};

static void
put(struct sink *o, const char *s, size_t n)
{
	if (o->size > 0 && o->n < o->size - 1) {
		size_t room = o->size - 1 - o->n;

		memcpy(o->buf + o->n, s, n < room ? n : room);
	}
	o->n += n;
}

static void
put_str(struct sink *o, const char *s)
{
	put(o, s, strlen(s));
}

/* 'text' with ' doubled, as in the OData literal. */
static void
put_quoted(struct sink *o, const char *s, size_t n)
{
	const char *q;

	put(o, "'", 1);
	while ((q = memchr(s, '\'', n)) != NULL) {
		put(o, s, (size_t)(q - s) + 1);
		put(o, "'", 1);
		n -= (size_t)(q - s) + 1;
		s = q + 1;
	}
	put(o, s, n);
	put(o, "'", 1);
}

static void
print_literal(struct sink *o, const struct odata_filter_node *n)
{
	char num[32];

	put(o, "(", 1);
	put_str(o, odata_filter_type_name(n->lit.type));
	switch (n->lit.type) {
	case ODATA_FILTER_NULL:
		break;
	case ODATA_FILTER_INT32:
	case ODATA_FILTER_INT64:
		snprintf(num, sizeof(num), " %lld", (long long)n->lit.i);
		put_str(o, num);
		break;
	case ODATA_FILTER_BOOL:
		put_str(o, n->lit.b ? " true" : " false");
		break;
	case ODATA_FILTER_DECIMAL:
	case ODATA_FILTER_DOUBLE:
		put(o, " ", 1);
		put(o, n->lit.text, n->lit.len);
		break;
	default:
		put(o, " ", 1);
		put_quoted(o, n->lit.text, n->lit.len);
	}
	put(o, ")", 1);
}

/* Recursion depth is bounded by the tree's, at most ODATA_FILTER_MAX_NODES. */
static void
print_node(struct sink *o, const struct odata_filter_node *n)
{
	size_t i;

	switch (n->kind) {
	case ODATA_FILTER_LITERAL:
		print_literal(o, n);
		return;
	case ODATA_FILTER_PATH:
		put_str(o, "(path");
		for (i = 0; i < n->path.nsegs; i++) {
			put(o, " ", 1);
			put_str(o, n->path.segs[i]);
		}
		break;
	case ODATA_FILTER_UNARY:
		put_str(o, n->unary.op == ODATA_FILTER_NOT ? "(not " : "(neg ");
		print_node(o, n->unary.arg);
		break;
	case ODATA_FILTER_BINARY:
		put(o, "(", 1);
		put_str(o, odata_filter_binop_name(n->binary.op));
		put(o, " ", 1);
		print_node(o, n->binary.left);
		put(o, " ", 1);
		print_node(o, n->binary.right);
		break;
	case ODATA_FILTER_CALL:
		put(o, "(", 1);
		put_str(o, odata_filter_func_name(n->call.fn));
		for (i = 0; i < n->call.argc; i++) {
			put(o, " ", 1);
			print_node(o, n->call.args[i]);
		}
		break;
	}
	put(o, ")", 1);
}

int
odata_filter_print(const struct odata_filter_node *node, char *buf, size_t size)
{
	struct sink o = { buf, size, 0 };

	if (node == NULL) {
		if (buf != NULL && size > 0)
			buf[0] = '\0';
		return -1;
	}
	if (buf == NULL)
		o.size = 0;
	print_node(&o, node);
	if (o.size > 0)
		buf[o.n < o.size ? o.n : o.size - 1] = '\0';
	return o.n > INT_MAX ? INT_MAX : (int)o.n;
}
