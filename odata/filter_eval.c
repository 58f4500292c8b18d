/* filter_eval — see filter_eval.h.
 *
 * One recursive evaluator runs twice over the tree. The first pass (check)
 * gives every literal and path a null of its type, so it only infers types:
 * it finds exactly the errors filter_sql's compiler finds, whatever the
 * payload. The second pass computes values, reading the payload, and
 * short-circuits and/or. A value borrows its text from the tree or the
 * payload, or owns a malloc'd copy (freed as soon as it is consumed).
 * Nothing here calls libm: the service does not link it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem: linear-time search on hostile lengths */
#endif
#include "filter_eval.h"

#include <inttypes.h>
#include <math.h>	/* isinf, isnan: macros (the service links no libm) */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_PATH_SHOWN	120	/* bytes of a path echoed in a message */
#define DEC_DIGITS	38	/* significant digits of a decimal */

typedef __int128 i128;
typedef unsigned __int128 u128;

/* Promotion is the order Int32 < Int64 < Decimal < Double. V_NULL is the
 * null literal; V_ANY a null from the payload, whose type is unknown. */
enum vtype {
	V_NULL, V_BOOL, V_INT32, V_INT64, V_DECIMAL, V_DOUBLE, V_STRING,
	V_DATETIME, V_DTO, V_GUID, V_ANY,
};

static const char *const type_names[] = {
	"null", "Edm.Boolean", "Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double",
	"Edm.String", "Edm.DateTime", "Edm.DateTimeOffset", "Edm.Guid", "null",
};

/* m / 10^scale, |m| < 10^38, 0 <= scale <= 38; scale is numeric's dscale. */
struct dec {
	i128 m;
	int scale;
};

/* Seconds since 1970-01-01T00:00Z and microseconds, PostgreSQL's precision. */
struct instant {
	int64_t sec;
	int32_t us;
};

struct value {
	enum vtype type;
	bool null;
	bool raw;		/* a string read from the payload as it is */
	union {
		bool b;
		int64_t i;	/* INT32, INT64 */
		double d;
		struct dec dec;
		struct instant t;
		struct {
			const char *s;
			size_t len;
		} str;		/* STRING, GUID */
	} u;
	char *own;		/* malloc'd storage behind u.str, or NULL */
};

struct ctx {
	const json_t *payload;
	char *err;
	size_t errlen;
	bool check;		/* the type pass: every leaf is a typed null */
	size_t made;		/* bytes of strings produced */
	size_t pos;		/* of the error */
	bool typed;		/* the error is a type error */
};

static int eval(struct ctx *c, const struct odata_filter_node *n, struct value *v);

/* --------------------------------------------------------------- errors */

static int fail(struct ctx *c, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "<message> at position <pos>." and returns -1. */
static int
fail(struct ctx *c, size_t pos, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	c->pos = pos;
	c->typed = false;
	if (c->err == NULL || c->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	len = strlen(c->err);
	snprintf(c->err + len, c->errlen - len, " at position %zu.", pos);
	return -1;
}

static const char *
tname(enum vtype t)
{
	return (size_t)t < COUNT(type_names) ? type_names[t] : "?";
}

static int
binary_type_error(struct ctx *c, const struct odata_filter_node *n, const struct value *l,
    const struct value *r)
{
	fail(c, n->pos, "Operator '%s' is not applicable to %s and %s",
	    odata_filter_binop_name(n->binary.op), tname(l->type), tname(r->type));
	c->typed = true;
	return -1;
}

static int
overflow(struct ctx *c, const struct odata_filter_node *n, const char *op, enum vtype t)
{
	return fail(c, n->pos, "Operator '%s' overflows %s", op, tname(t));
}

static int
nomem(struct ctx *c, const struct odata_filter_node *n)
{
	return fail(c, n->pos, "Out of memory");
}

/* --------------------------------------------------------------- values */

static void
set_null(struct value *v, enum vtype t)
{
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->null = true;
}

static void
set_bool(struct value *v, bool b)
{
	memset(v, 0, sizeof(*v));
	v->type = V_BOOL;
	v->u.b = b;
}

static void
set_int(struct value *v, enum vtype t, int64_t i)
{
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->u.i = i;
}

static void
set_double(struct value *v, double d)
{
	memset(v, 0, sizeof(*v));
	v->type = V_DOUBLE;
	v->u.d = d;
}

static void
set_dec(struct value *v, struct dec d)
{
	memset(v, 0, sizeof(*v));
	v->type = V_DECIMAL;
	v->u.dec = d;
}

static void
release(struct value *v)
{
	free(v->own);
	v->own = NULL;
}

static bool
is_numeric(enum vtype t)
{
	return t >= V_INT32 && t <= V_DOUBLE;
}

static bool
is_integer(enum vtype t)
{
	return t == V_INT32 || t == V_INT64;
}

static bool
is_datetime(enum vtype t)
{
	return t == V_DATETIME || t == V_DTO;
}

/* ------------------------------------------------------------- decimals */

static i128
p10(int k)
{
	i128 r = 1;

	while (k-- > 0)
		r *= 10;
	return r;
}

static i128
dec_limit(void)
{
	return p10(DEC_DIGITS) - 1;
}

static u128
uabs(i128 x)
{
	return x < 0 ? -(u128)x : (u128)x;
}

/* *x *= 10^k within u128. */
static bool
umul_p10(u128 *x, int k)
{
	for (; k > 0; k--) {
		if (*x > (~(u128)0) / 10)
			return false;
		*x *= 10;
	}
	return true;
}

static bool
dec_rescale(struct dec *d, int scale)
{
	i128 f;

	if (scale > DEC_DIGITS)
		return false;
	if (scale <= d->scale)
		return true;
	f = p10(scale - d->scale);
	if (uabs(d->m) > (u128)(dec_limit() / f))
		return false;
	d->m *= f;
	d->scale = scale;
	return true;
}

/* Drops trailing zero digits of the fraction (the value stays). */
static void
dec_trim(struct dec *d)
{
	while (d->scale > 0 && d->m % 10 == 0) {
		d->m /= 10;
		d->scale--;
	}
}

/* Rescales a and b to one scale, trimming them if their largest does not fit. */
static bool
dec_align(struct dec *a, struct dec *b)
{
	int s = a->scale > b->scale ? a->scale : b->scale;

	if (dec_rescale(a, s) && dec_rescale(b, s))
		return true;
	dec_trim(a);
	dec_trim(b);
	s = a->scale > b->scale ? a->scale : b->scale;
	return dec_rescale(a, s) && dec_rescale(b, s);
}

/* [-|+]digits[.digits][(e|E)[+|-]digits] (the caller checked the shape);
 * false when it needs more than 38 significant digits. */
static bool
dec_parse(const char *s, size_t len, struct dec *out)
{
	const i128 lim = dec_limit();
	size_t i = 0, k;
	bool neg = false, frac = false;
	long exp = 0;
	int d;

	out->m = 0;
	out->scale = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9')); i++) {
		if (s[i] == '.') {
			frac = true;
			continue;
		}
		d = s[i] - '0';
		if (out->m > (lim - d) / 10 || (frac && out->scale == DEC_DIGITS)) {
			if (!frac)
				return false;
			for (k = i; k < len && s[k] == '0'; k++)	/* only zeros left? */
				;
			if (k < len && s[k] >= '1' && s[k] <= '9')
				return false;
			i = k;
			break;
		}
		out->m = out->m * 10 + d;
		out->scale += frac;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		exp = strtol(s + i + 1, NULL, 10);
		if (exp > 1000 || exp < -1000)
			return false;
	}
	if (neg)
		out->m = -out->m;
	exp = out->scale - exp;		/* the scale the exponent asks for */
	if (exp < 0) {
		out->scale = 0;
		if (out->m == 0)
			return true;
		if (-exp > DEC_DIGITS || uabs(out->m) > (u128)(lim / p10((int)-exp)))
			return false;
		out->m *= p10((int)-exp);
		return true;
	}
	while (exp > DEC_DIGITS && out->m != 0 && out->m % 10 == 0) {
		out->m /= 10;
		exp--;
	}
	if (out->m == 0 && exp > DEC_DIGITS)
		exp = DEC_DIGITS;
	out->scale = (int)exp;
	return exp <= DEC_DIGITS;
}

/* Plain text, e.g. -0.050; buf holds at least 48 bytes. */
static void
dec_format(struct dec d, char *buf)
{
	char digits[48];
	u128 a = uabs(d.m);
	int n = 0, i, j = 0;

	do {
		digits[n++] = (char)('0' + (int)(a % 10));
		a /= 10;
	} while (a > 0);
	while (n <= d.scale)
		digits[n++] = '0';
	if (d.m < 0)
		buf[j++] = '-';
	for (i = n - 1; i >= 0; i--) {
		buf[j++] = digits[i];
		if (i == d.scale && i > 0)
			buf[j++] = '.';
	}
	buf[j] = '\0';
}

/* As numeric -> float8 does it: through the text. */
static double
dec_to_double(struct dec d)
{
	char buf[48];

	dec_format(d, buf);
	return strtod(buf, NULL);
}

/* The shortest text that reads back as x (float8's output). */
static void
format_double(double x, char *buf, size_t size)
{
	int prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, size, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			return;
	}
	snprintf(buf, size, "%.17g", x);
}

static int
dec_cmp(struct dec a, struct dec b)
{
	i128 fa = p10(a.scale), fb = p10(b.scale);
	i128 ia = a.m / fa, ib = b.m / fb, ra, rb;
	int s = a.scale > b.scale ? a.scale : b.scale;

	if (ia != ib)
		return ia < ib ? -1 : 1;
	ra = a.m % fa * p10(s - a.scale);
	rb = b.m % fb * p10(s - b.scale);
	return (ra > rb) - (ra < rb);
}

/* a + b for |a|, |b| <= the limit. */
static bool
dec_sum(i128 a, i128 b, i128 *out)
{
	const i128 lim = dec_limit();

	if ((a > 0 && b > lim - a) || (a < 0 && b < -lim - a))
		return false;
	*out = a + b;
	return true;
}

static bool
dec_mul(struct dec a, struct dec b, struct dec *out)
{
	int want = a.scale + b.scale;

	if (b.m != 0 && uabs(a.m) > (u128)(dec_limit() / (i128)uabs(b.m))) {
		dec_trim(&a);
		dec_trim(&b);
		if (b.m != 0 && uabs(a.m) > (u128)(dec_limit() / (i128)uabs(b.m)))
			return false;
	}
	out->m = a.m * b.m;
	out->scale = a.scale + b.scale;
	while (out->scale > DEC_DIGITS && out->m % 10 == 0) {
		out->m /= 10;
		out->scale--;
	}
	if (out->scale > DEC_DIGITS)
		return false;
	(void)dec_rescale(out, want < DEC_DIGITS ? want : DEC_DIGITS);	/* best effort */
	return true;
}

/* The weight (base-10000 digit position) and first base-10000 digit of d,
 * as PostgreSQL's numeric stores it. */
static void
dec_weight(struct dec d, int *weight, int *first)
{
	u128 a = uabs(d.m), t;
	int n = 0, e, w, k;

	*weight = 0;
	*first = 0;
	if (a == 0)
		return;
	for (t = a; t > 0; t /= 10)
		n++;
	e = n - 1 - d.scale;
	w = e >= 0 ? e / 4 : -((-e + 3) / 4);
	k = d.scale + 4 * w;
	if (k >= 0)
		*first = (int)(a / (u128)p10(k));
	else
		*first = (int)(a * (u128)p10(-k));
	*weight = w;
}

/* numeric's select_div_scale: at least 16 significant digits, and no less
 * than either operand's scale. */
static int
div_scale(struct dec a, struct dec b)
{
	int w1, f1, w2, f2, q, s;

	dec_weight(a, &w1, &f1);
	dec_weight(b, &w2, &f2);
	q = w1 - w2 - (f1 <= f2);
	s = 16 - q * 4;
	if (s < a.scale)
		s = a.scale;
	if (s < b.scale)
		s = b.scale;
	return s < 0 ? 0 : s;
}

/* a / b (b != 0) rounded half away from zero at numeric's scale, which is
 * at least a's, so a is the one to scale up. */
static bool
dec_div(struct dec a, struct dec b, struct dec *out)
{
	int s = div_scale(a, b);
	u128 num = uabs(a.m), den = uabs(b.m), q, rem;

	if (s > DEC_DIGITS || !umul_p10(&num, s + b.scale - a.scale))
		return false;
	q = num / den;
	rem = num % den;
	if (rem >= den - rem)
		q++;
	if (q > (u128)dec_limit())
		return false;
	out->m = (a.m < 0) != (b.m < 0) ? -(i128)q : (i128)q;
	out->scale = s;
	return true;
}

/* round (half away from zero), floor or ceiling to scale 0. */
static struct dec
dec_round(struct dec d, enum odata_filter_func fn)
{
	i128 f = p10(d.scale), q = d.m / f, r = d.m % f;
	struct dec out;

	if (fn == ODATA_FILTER_FLOOR && r < 0)
		q--;
	else if (fn == ODATA_FILTER_CEILING && r > 0)
		q++;
	else if (fn == ODATA_FILTER_ROUND && uabs(r) >= uabs(f) - uabs(r))
		q += r < 0 ? -1 : r > 0 ? 1 : 0;
	out.m = q;
	out.scale = 0;
	return out;
}

/* The exact decimal of a numeric value (a Double by its shortest text). */
static bool
to_dec(const struct value *v, struct dec *out)
{
	char buf[40];

	if (is_integer(v->type)) {
		out->m = v->u.i;
		out->scale = 0;
		return true;
	}
	if (v->type == V_DECIMAL) {
		*out = v->u.dec;
		return true;
	}
	format_double(v->u.d, buf, sizeof(buf));
	return dec_parse(buf, strlen(buf), out);
}

static double
to_double(const struct value *v)
{
	if (is_integer(v->type))
		return (double)v->u.i;
	if (v->type == V_DECIMAL)
		return dec_to_double(v->u.dec);
	return v->u.d;
}

/* ------------------------------------------------------------ datetimes */

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* The microseconds of a fraction given in ns, as PostgreSQL's timestamp
 * input computes them: rint(strtod(".fraction") * 1000000), ties to even. */
static int32_t
micros(uint32_t nanos)
{
	char buf[16];
	double x, t;

	snprintf(buf, sizeof(buf), ".%09" PRIu32, nanos % 1000000000u);
	x = strtod(buf, NULL) * 1000000;
	t = (double)(int64_t)x;
	if (x - t > 0.5 || (x - t == 0.5 && (int64_t)t % 2 != 0))
		t += 1;
	return (int32_t)t;
}

static struct instant
instant_of(const struct odata_filter_datetime *dt)
{
	struct instant t;

	t.sec = days_from_civil(dt->year, dt->month, dt->day) * 86400 + dt->hour * 3600 +
	    dt->minute * 60 + dt->second - (int64_t)dt->offset_minutes * 60;
	t.us = micros(dt->nanos);
	if (t.us >= 1000000) {
		t.sec++;
		t.us -= 1000000;
	}
	return t;
}

static bool
digits(const char *s, size_t len, size_t at, size_t n, int *out)
{
	size_t i;

	if (at + n > len)
		return false;
	*out = 0;
	for (i = at; i < at + n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (s[i] - '0');
	}
	return true;
}

/* [:ss[.f+]] at s[*i]; digits past nanoseconds are dropped. */
static bool
iso_seconds(const char *s, size_t len, size_t *i, struct odata_filter_datetime *dt)
{
	uint32_t unit = 100000000;
	size_t k;

	if (*i >= len || s[*i] != ':')
		return true;
	if (!digits(s, len, *i + 1, 2, &dt->second))
		return false;
	*i += 3;
	if (*i >= len || s[*i] != '.')
		return true;
	for (k = *i + 1; k < len && s[k] >= '0' && s[k] <= '9'; k++) {
		dt->nanos += (uint32_t)(s[k] - '0') * unit;
		unit /= 10;
	}
	if (k == *i + 1)
		return false;
	*i = k;
	return true;
}

/* [Z|z|+hh:mm|-hh:mm|+hhmm|+hh] at s[*i]. */
static bool
iso_offset(const char *s, size_t len, size_t *i, struct odata_filter_datetime *dt)
{
	int sign, hh, mm = 0;
	size_t colon;

	if (*i >= len)
		return true;
	dt->has_offset = true;
	if (s[*i] == 'Z' || s[*i] == 'z') {
		(*i)++;
		return true;
	}
	if ((s[*i] != '+' && s[*i] != '-') || !digits(s, len, *i + 1, 2, &hh))
		return false;
	sign = s[*i] == '-' ? -1 : 1;
	*i += 3;
	colon = *i < len && s[*i] == ':';
	if (*i < len) {
		if (!digits(s, len, *i + colon, 2, &mm))
			return false;
		*i += colon + 2;
	}
	if (hh > 23 || mm > 59)
		return false;
	dt->offset_minutes = sign * (hh * 60 + mm);
	return true;
}

/* A payload string as ISO 8601 (see the header). */
static bool
parse_iso(const char *s, size_t len, struct odata_filter_datetime *dt)
{
	size_t i = 10;

	memset(dt, 0, sizeof(*dt));
	if (len < 10 || s[4] != '-' || s[7] != '-' || !digits(s, len, 0, 4, &dt->year) ||
	    !digits(s, len, 5, 2, &dt->month) || !digits(s, len, 8, 2, &dt->day))
		return false;
	if (len > 10) {
		if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || len < 16 || s[13] != ':' ||
		    !digits(s, len, 11, 2, &dt->hour) || !digits(s, len, 14, 2, &dt->minute))
			return false;
		i = 16;
		if (!iso_seconds(s, len, &i, dt) || !iso_offset(s, len, &i, dt) || i != len)
			return false;
	}
	return odata_filter_datetime_valid(dt);
}

/* A non-null payload string becomes a datetime when it reads as one. */
static void
coerce_datetime(struct value *v)
{
	struct odata_filter_datetime dt;

	if (v->type != V_STRING || !v->raw || v->null ||
	    !parse_iso(v->u.str.s, v->u.str.len, &dt))
		return;
	release(v);
	memset(v, 0, sizeof(*v));
	v->type = dt.has_offset ? V_DTO : V_DATETIME;
	v->u.t = instant_of(&dt);
}

static int
inst_cmp(struct instant a, struct instant b)
{
	if (a.sec != b.sec)
		return a.sec < b.sec ? -1 : 1;
	return (a.us > b.us) - (a.us < b.us);
}

/* ------------------------------------------------------------- literals */

static enum vtype
literal_type(enum odata_filter_type t)
{
	switch (t) {
	case ODATA_FILTER_BOOL:			return V_BOOL;
	case ODATA_FILTER_INT32:		return V_INT32;
	case ODATA_FILTER_INT64:		return V_INT64;
	case ODATA_FILTER_DECIMAL:		return V_DECIMAL;
	case ODATA_FILTER_DOUBLE:		return V_DOUBLE;
	case ODATA_FILTER_STRING:		return V_STRING;
	case ODATA_FILTER_DATETIME:		return V_DATETIME;
	case ODATA_FILTER_DATETIMEOFFSET:	return V_DTO;
	case ODATA_FILTER_GUID:			return V_GUID;
	case ODATA_FILTER_NULL:			break;
	}
	return V_NULL;
}

static int
eval_literal(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	enum vtype t = literal_type(n->lit.type);
	const char *text = n->lit.text != NULL ? n->lit.text : "";

	set_null(v, t);
	if (c->check || t == V_NULL)
		return 0;
	v->null = false;
	switch (t) {
	case V_BOOL:
		v->u.b = n->lit.b;
		break;
	case V_INT32:
	case V_INT64:
		v->u.i = n->lit.i;
		break;
	case V_DOUBLE:
		v->u.d = n->lit.d;
		break;
	case V_DECIMAL:
		if (!dec_parse(text, strlen(text), &v->u.dec))
			return fail(c, n->pos, "Decimal literal has more than %d digits",
			    DEC_DIGITS);
		break;
	case V_DATETIME:
	case V_DTO:
		v->u.t = instant_of(&n->lit.dt);
		break;
	default:
		v->u.str.s = text;
		v->u.str.len = n->lit.text != NULL ? n->lit.len : 0;
		break;
	}
	return 0;
}

/* ---------------------------------------------------------------- paths */

static int
path_error(struct ctx *c, const struct odata_filter_node *n, size_t nsegs, const char *what)
{
	char path[ODATA_FILTER_MAX_SEGMENTS * (ODATA_FILTER_MAX_SEGMENT + 1) + 1];
	size_t i, len = 0;

	path[0] = '\0';
	for (i = 0; i < nsegs && len < sizeof(path); i++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "%s%s", i > 0 ? "/" : "",
		    n->path.segs[i]);
	return fail(c, n->pos, "Property [%.*s%s] is %s and cannot be used in $filter",
	    MAX_PATH_SHOWN, path, len > MAX_PATH_SHOWN ? "..." : "", what);
}

static int
json_value(struct ctx *c, const struct odata_filter_node *n, const json_t *j, struct value *v)
{
	set_null(v, V_ANY);
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return path_error(c, n, n->path.nsegs, "a structured value");
	case JSON_ARRAY:
		return path_error(c, n, n->path.nsegs, "a collection");
	case JSON_STRING:
		set_null(v, V_STRING);
		v->null = false;
		v->raw = true;
		v->u.str.s = json_string_value(j);
		v->u.str.len = json_string_length(j);
		return 0;
	case JSON_INTEGER:
		set_int(v, V_INT64, (int64_t)json_integer_value(j));
		return 0;
	case JSON_REAL:
		set_double(v, json_real_value(j));
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		set_bool(v, json_is_true(j));
		return 0;
	default:
		return 0;
	}
}

static int
eval_path(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	const json_t *j = c->payload;
	size_t i;

	set_null(v, V_ANY);
	if (c->check)
		return 0;
	for (i = 0; i < n->path.nsegs; i++) {
		if (j == NULL || json_is_null(j))
			return 0;
		if (json_is_array(j))
			return path_error(c, n, i > 0 ? i : 1, "a collection");
		if (!json_is_object(j))
			return 0;
		j = json_object_get(j, n->path.segs[i]);
	}
	return j == NULL ? 0 : json_value(c, n, j, v);
}

/* -------------------------------------------------------------- unary */

static int
negate(struct ctx *c, const struct odata_filter_node *n, const struct value *a, struct value *v)
{
	*v = *a;
	switch (a->type) {
	case V_INT32:
		if (a->u.i == INT32_MIN)
			return overflow(c, n, "-", a->type);
		v->u.i = -a->u.i;
		return 0;
	case V_INT64:
		if (a->u.i == INT64_MIN)
			return overflow(c, n, "-", a->type);
		v->u.i = -a->u.i;
		return 0;
	case V_DECIMAL:
		v->u.dec.m = -a->u.dec.m;
		return 0;
	default:
		v->u.d = -a->u.d;
		return 0;
	}
}

static int
eval_unary(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	bool is_not = n->unary.op == ODATA_FILTER_NOT;
	struct value a;
	bool ok;

	if (eval(c, n->unary.arg, &a) != 0)
		return -1;
	ok = a.type == V_ANY || (is_not ? a.type == V_BOOL : is_numeric(a.type));
	if (!ok) {
		release(&a);
		fail(c, n->pos, "Operator '%s' is not applicable to %s", is_not ? "not" : "-",
		    tname(a.type));
		c->typed = true;
		return -1;
	}
	if (a.null)
		set_null(v, is_not ? V_BOOL : a.type);
	else if (is_not)
		set_bool(v, !a.u.b);
	else
		return negate(c, n, &a, v);
	return 0;
}

/* -------------------------------------------------------------- logical */

static bool
is_boolish(const struct value *v)
{
	return v->type == V_BOOL || v->type == V_ANY;
}

/* Three-valued and/or; the right operand is skipped when the left decides. */
static int
eval_logical(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	bool is_and = n->binary.op == ODATA_FILTER_AND;
	struct value l, r;
	bool decided;

	if (eval(c, n->binary.left, &l) != 0)
		return -1;
	if (!c->check && l.type == V_BOOL && !l.null && l.u.b != is_and) {
		set_bool(v, l.u.b);
		return 0;
	}
	if (eval(c, n->binary.right, &r) != 0) {
		release(&l);
		return -1;
	}
	if (!is_boolish(&l) || !is_boolish(&r)) {
		binary_type_error(c, n, &l, &r);
		release(&l);
		release(&r);
		return -1;
	}
	/* false decides an and, true an or */
	decided = (!l.null && l.u.b != is_and) || (!r.null && r.u.b != is_and);
	if (decided)
		set_bool(v, !is_and);
	else if (l.null || r.null)
		set_null(v, V_BOOL);
	else
		set_bool(v, is_and);
	return 0;
}

/* ------------------------------------------------------------ comparison */

static bool
comparable(enum vtype a, enum vtype b)
{
	if (a == V_NULL || b == V_NULL)
		return false;
	if (a == V_ANY || b == V_ANY)
		return true;
	if (is_numeric(a) && is_numeric(b))
		return true;
	if (is_datetime(a) && is_datetime(b))
		return true;
	if ((a == V_GUID && b == V_STRING) || (a == V_STRING && b == V_GUID))
		return true;
	return a == b;
}

static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r != 0)
		return r < 0 ? -1 : 1;
	return (alen > blen) - (alen < blen);
}

static char
lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* A Guid against a Guid or a String: both as lower-case text. */
static int
lower_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; i < alen && i < blen; i++) {
		unsigned char x = (unsigned char)lower(a[i]), y = (unsigned char)lower(b[i]);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return (alen > blen) - (alen < blen);
}

static int
num_cmp(const struct value *l, const struct value *r)
{
	enum vtype t = l->type > r->type ? l->type : r->type;
	struct dec a, b;
	double x, y;

	if (is_integer(t))
		return (l->u.i > r->u.i) - (l->u.i < r->u.i);
	if (t == V_DECIMAL) {
		(void)to_dec(l, &a);
		(void)to_dec(r, &b);
		return dec_cmp(a, b);
	}
	x = to_double(l);
	y = to_double(r);
	return (x > y) - (x < y);
}

/* Both non-null and comparable. */
static int
compare(const struct value *l, const struct value *r)
{
	if (is_numeric(l->type))
		return num_cmp(l, r);
	if (is_datetime(l->type))
		return inst_cmp(l->u.t, r->u.t);
	if (l->type == V_GUID || r->type == V_GUID)
		return lower_cmp(l->u.str.s, l->u.str.len, r->u.str.s, r->u.str.len);
	if (l->type == V_STRING)
		return bytes_cmp(l->u.str.s, l->u.str.len, r->u.str.s, r->u.str.len);
	return (l->u.b > r->u.b) - (l->u.b < r->u.b);
}

static bool
cmp_holds(enum odata_filter_binop op, int cmp)
{
	switch (op) {
	case ODATA_FILTER_EQ:	return cmp == 0;
	case ODATA_FILTER_NE:	return cmp != 0;
	case ODATA_FILTER_GT:	return cmp > 0;
	case ODATA_FILTER_GE:	return cmp >= 0;
	case ODATA_FILTER_LT:	return cmp < 0;
	default:		return cmp <= 0;
	}
}

/* x eq null, null ne x: any type, never an error of its own. */
static int
eval_is_null(struct ctx *c, const struct odata_filter_node *n,
    const struct odata_filter_node *operand, struct value *v)
{
	struct value a;

	if (eval(c, operand, &a) != 0)
		return -1;
	set_bool(v, (n->binary.op == ODATA_FILTER_EQ) == a.null);
	release(&a);
	return 0;
}

static bool
is_null_literal(const struct odata_filter_node *n)
{
	return n->kind == ODATA_FILTER_LITERAL && n->lit.type == ODATA_FILTER_NULL;
}

static int
eval_comparison(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	enum odata_filter_binop op = n->binary.op;
	bool eqne = op == ODATA_FILTER_EQ || op == ODATA_FILTER_NE;
	struct value l, r;
	int rc = 0;

	if (eqne && is_null_literal(n->binary.right))
		return eval_is_null(c, n, n->binary.left, v);
	if (eqne && is_null_literal(n->binary.left))
		return eval_is_null(c, n, n->binary.right, v);
	if (eval(c, n->binary.left, &l) != 0)
		return -1;
	if (eval(c, n->binary.right, &r) != 0) {
		release(&l);
		return -1;
	}
	if (is_datetime(l.type))
		coerce_datetime(&r);
	if (is_datetime(r.type))
		coerce_datetime(&l);
	if (!comparable(l.type, r.type))
		rc = binary_type_error(c, n, &l, &r);
	else if (l.null || r.null)
		set_bool(v, eqne && (op == ODATA_FILTER_EQ) == (l.null && r.null));
	else
		set_bool(v, cmp_holds(op, compare(&l, &r)));
	release(&l);
	release(&r);
	return rc;
}

/* ------------------------------------------------------------ arithmetic */

static const char *
opname(const struct odata_filter_node *n)
{
	return odata_filter_binop_name(n->binary.op);
}

static int
div_zero(struct ctx *c, const struct odata_filter_node *n)
{
	return fail(c, n->pos, "Division by zero");
}

/* Int32 op Int32 stays Int32, as int4 does. */
static int
int_arith(struct ctx *c, const struct odata_filter_node *n, enum vtype t, int64_t a, int64_t b,
    struct value *v)
{
	int64_t r = 0, lo = t == V_INT32 ? INT32_MIN : INT64_MIN;
	int64_t hi = t == V_INT32 ? INT32_MAX : INT64_MAX;
	bool ovf = false;

	switch (n->binary.op) {
	case ODATA_FILTER_ADD:	ovf = __builtin_add_overflow(a, b, &r); break;
	case ODATA_FILTER_SUB:	ovf = __builtin_sub_overflow(a, b, &r); break;
	case ODATA_FILTER_MUL:	ovf = __builtin_mul_overflow(a, b, &r); break;
	default:
		if (b == 0)
			return div_zero(c, n);
		if (n->binary.op == ODATA_FILTER_MOD)
			r = b == -1 ? 0 : a % b;
		else if (a == lo && b == -1)
			ovf = true;
		else
			r = a / b;
		break;
	}
	if (ovf || r < lo || r > hi)
		return overflow(c, n, opname(n), t);
	set_int(v, t, r);
	return 0;
}

static int
dec_arith(struct ctx *c, const struct odata_filter_node *n, struct dec a, struct dec b,
    struct value *v)
{
	struct dec r = { 0, 0 };
	bool ok;

	switch (n->binary.op) {
	case ODATA_FILTER_ADD:
	case ODATA_FILTER_SUB:
		if (n->binary.op == ODATA_FILTER_SUB)
			b.m = -b.m;
		ok = dec_align(&a, &b) && dec_sum(a.m, b.m, &r.m);
		r.scale = a.scale;
		break;
	case ODATA_FILTER_MUL:
		ok = dec_mul(a, b, &r);
		break;
	default:
		if (b.m == 0)
			return div_zero(c, n);
		if (n->binary.op == ODATA_FILTER_DIV) {
			ok = dec_div(a, b, &r);
		} else {
			ok = dec_align(&a, &b);
			r.m = ok ? a.m % b.m : 0;
			r.scale = a.scale;
		}
		break;
	}
	if (!ok)
		return overflow(c, n, opname(n), V_DECIMAL);
	set_dec(v, r);
	return 0;
}

/* fmod without libm: long division by y times powers of two, each
 * subtraction exact (d <= r < 2d). */
static double
dmod(double x, double y)
{
	double r = x < 0 ? -x : x, ay = y < 0 ? -y : y, d = ay;

	while (d * 2 <= r)
		d *= 2;
	for (; d >= ay; d /= 2)
		if (r >= d)
			r -= d;
	return x < 0 ? -r : r;
}

/* floor, ceil and round (half away from zero) without libm. */
static double
drounding(double x, enum odata_filter_func fn)
{
	double t, frac;

	if (!(x > -4503599627370496.0 && x < 4503599627370496.0))	/* 2^52: integral */
		return x;
	t = (double)(int64_t)x;		/* toward zero, exact */
	frac = x - t;			/* exact */
	if (fn == ODATA_FILTER_FLOOR)
		return frac < 0 ? t - 1 : t;
	if (fn == ODATA_FILTER_CEILING)
		return frac > 0 ? t + 1 : t;
	if (frac >= 0.5)
		return t + 1;
	return frac <= -0.5 ? t - 1 : t;
}

/* A Double mod, like the SQL's mod() on the operands' text as numeric. */
static int
double_mod(struct ctx *c, const struct odata_filter_node *n, const struct value *l,
    const struct value *r, struct value *v)
{
	struct dec a, b, m;
	double x = to_double(l), y = to_double(r);

	if (y == 0)
		return div_zero(c, n);
	if (to_dec(l, &a) && to_dec(r, &b) && b.m != 0 && dec_align(&a, &b)) {
		m.m = a.m % b.m;
		m.scale = a.scale;
		set_double(v, dec_to_double(m));
	} else {
		set_double(v, dmod(x, y));
	}
	return 0;
}

/* float8's checks: overflow to infinity, underflow of a product or quotient. */
static int
double_arith(struct ctx *c, const struct odata_filter_node *n, const struct value *l,
    const struct value *r, struct value *v)
{
	double x = to_double(l), y = to_double(r), z;

	switch (n->binary.op) {
	case ODATA_FILTER_ADD:	z = x + y; break;
	case ODATA_FILTER_SUB:	z = x - y; break;
	case ODATA_FILTER_MUL:	z = x * y; break;
	case ODATA_FILTER_DIV:
		if (y == 0)
			return div_zero(c, n);
		z = x / y;
		break;
	default:
		return double_mod(c, n, l, r, v);
	}
	if (isinf(z) || isnan(z))
		return overflow(c, n, opname(n), V_DOUBLE);
	if (z == 0 && x != 0 && (n->binary.op == ODATA_FILTER_DIV ||
	    (n->binary.op == ODATA_FILTER_MUL && y != 0)))
		return fail(c, n->pos, "Operator '%s' underflows Edm.Double", opname(n));
	set_double(v, z);
	return 0;
}

static int
eval_arith(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	struct value l, r;
	enum vtype t;
	struct dec a, b;
	int rc = 0;

	if (eval(c, n->binary.left, &l) != 0)
		return -1;
	if (eval(c, n->binary.right, &r) != 0) {
		release(&l);
		return -1;
	}
	if ((!is_numeric(l.type) && l.type != V_ANY) || (!is_numeric(r.type) && r.type != V_ANY)) {
		rc = binary_type_error(c, n, &l, &r);
		release(&l);
		release(&r);
		return rc;
	}
	t = l.type == V_ANY || r.type == V_ANY ? V_ANY : l.type > r.type ? l.type : r.type;
	if (l.null || r.null) {
		set_null(v, t);
	} else if (is_integer(t)) {
		rc = int_arith(c, n, t, l.u.i, r.u.i, v);
	} else if (t == V_DECIMAL) {
		(void)to_dec(&l, &a);
		(void)to_dec(&r, &b);
		rc = dec_arith(c, n, a, b, v);
	} else {
		rc = double_arith(c, n, &l, &r, v);
	}
	return rc;
}

static int
eval_binary(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	if (ODATA_FILTER_IS_LOGICAL(n->binary.op))
		return eval_logical(c, n, v);
	if (ODATA_FILTER_IS_COMPARISON(n->binary.op))
		return eval_comparison(c, n, v);
	return eval_arith(c, n, v);
}

/* -------------------------------------------------------------- strings */

/* Characters in s[0..len): bytes that do not continue a UTF-8 sequence. */
static size_t
char_count(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

/* The byte offset of character k (0-based), or len. */
static size_t
char_offset(const char *s, size_t len, int64_t k)
{
	size_t i;

	if (k <= 0)
		return 0;
	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80 && k-- == 0)
			return i;
	return len;
}

static const char *
find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return hay;
	return memmem(hay, hlen, needle, nlen);
}

/* A new string of len bytes in v (filled by the caller); NULL on error. */
static char *
new_string(struct ctx *c, const struct odata_filter_node *n, size_t len, struct value *v)
{
	char *s;

	if (len > ODATA_EVAL_MAX_STRING) {
		fail(c, n->pos, "String result longer than %d bytes", ODATA_EVAL_MAX_STRING);
		return NULL;
	}
	if (len > ODATA_EVAL_MAX_TOTAL - c->made) {
		fail(c, n->pos, "Strings longer than %d bytes in all", ODATA_EVAL_MAX_TOTAL);
		return NULL;
	}
	if ((s = malloc(len + 1)) == NULL) {
		nomem(c, n);
		return NULL;
	}
	c->made += len;
	s[len] = '\0';
	set_null(v, V_STRING);
	v->null = false;
	v->own = s;
	v->u.str.s = s;
	v->u.str.len = len;
	return s;
}

/* A slice of a's text, taking over its storage. */
static void
slice(struct value *a, size_t from, size_t to, struct value *v)
{
	*v = *a;
	v->raw = false;
	v->u.str.s = a->u.str.s + from;
	v->u.str.len = to - from;
	a->own = NULL;
}

#define S(i)	(a[i].u.str.s)
#define L(i)	(a[i].u.str.len)

static int
fn_case(struct ctx *c, const struct odata_filter_node *n, const struct value *a, struct value *v)
{
	bool up = n->call.fn == ODATA_FILTER_TOUPPER;
	char *s = new_string(c, n, L(0), v);
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < L(0); i++) {
		char ch = S(0)[i];

		if (up && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		s[i] = up ? ch : lower(ch);
	}
	return 0;
}

static int
fn_concat(struct ctx *c, const struct odata_filter_node *n, const struct value *a,
    struct value *v)
{
	char *s = L(0) > ODATA_EVAL_MAX_STRING || L(1) > ODATA_EVAL_MAX_STRING ?
	    new_string(c, n, (size_t)ODATA_EVAL_MAX_STRING + 1, v) : new_string(c, n, L(0) + L(1), v);

	if (s == NULL)
		return -1;
	memcpy(s, S(0), L(0));
	memcpy(s + L(0), S(1), L(1));
	return 0;
}

/* replace(s, from, to), left to right, not overlapping; from '' changes nothing. */
static int
fn_replace(struct ctx *c, const struct odata_filter_node *n, struct value *a, struct value *v)
{
	const char *p, *q, *end = S(0) + L(0);
	size_t count = 0, len;
	char *s, *w;

	if (L(1) == 0) {
		slice(&a[0], 0, L(0), v);
		return 0;
	}
	for (p = S(0); (q = find(p, (size_t)(end - p), S(1), L(1))) != NULL; p = q + L(1))
		count++;
	len = L(0) - count * L(1);
	if (count > 0 && L(2) > (ODATA_EVAL_MAX_STRING + (size_t)1) / count)
		len = (size_t)ODATA_EVAL_MAX_STRING + 1;
	else
		len += count * L(2);
	if ((s = w = new_string(c, n, len, v)) == NULL)
		return -1;
	for (p = S(0); (q = find(p, (size_t)(end - p), S(1), L(1))) != NULL; p = q + L(1)) {
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		memcpy(w, S(2), L(2));
		w += L(2);
	}
	memcpy(w, p, (size_t)(end - p));
	return 0;
}

/* substr(s, i + 1[, len]) of PostgreSQL, i and len already within Int32. */
static int
fn_substring(struct ctx *c, const struct odata_filter_node *n, struct value *a,
    struct value *v)
{
	int64_t start = a[1].u.i + 1, stop = INT64_MAX;
	size_t from, to = L(0);

	if (n->call.argc == 3) {
		if (a[2].u.i < 0)
			return fail(c, n->pos, "Negative substring length");
		stop = start + a[2].u.i;
		if (stop < 1)
			stop = 1;
	}
	if (start < 1)
		start = 1;
	from = char_offset(S(0), L(0), start - 1);
	if (stop != INT64_MAX)
		to = from + char_offset(S(0) + from, L(0) - from, stop - start);
	slice(&a[0], from, to, v);
	return 0;
}

static int
fn_trim(struct value *a, struct value *v)
{
	size_t from = 0, to = L(0);

	while (from < to && S(0)[from] == ' ')
		from++;
	while (to > from && S(0)[to - 1] == ' ')
		to--;
	slice(&a[0], from, to, v);
	return 0;
}

static void
fn_search(const struct odata_filter_node *n, const struct value *a, struct value *v)
{
	const char *p;

	switch (n->call.fn) {
	case ODATA_FILTER_SUBSTRINGOF:
		set_bool(v, find(S(1), L(1), S(0), L(0)) != NULL);
		break;
	case ODATA_FILTER_STARTSWITH:
		set_bool(v, L(0) >= L(1) && memcmp(S(0), S(1), L(1)) == 0);
		break;
	case ODATA_FILTER_ENDSWITH:
		set_bool(v, L(0) >= L(1) && memcmp(S(0) + L(0) - L(1), S(1), L(1)) == 0);
		break;
	case ODATA_FILTER_INDEXOF:
		p = find(S(0), L(0), S(1), L(1));
		set_int(v, V_INT32, p == NULL ? -1 : (int64_t)char_count(S(0), (size_t)(p - S(0))));
		break;
	default:
		set_int(v, V_INT32, (int64_t)char_count(S(0), L(0)));
		break;
	}
}

#undef S
#undef L

/* --------------------------------------------------- numbers and dates */

static int
fn_rounding(const struct odata_filter_node *n, const struct value *a, struct value *v)
{
	enum odata_filter_func fn = n->call.fn;

	if (is_integer(a->type))
		*v = *a;
	else if (a->type == V_DECIMAL)
		set_dec(v, dec_round(a->u.dec, fn));
	else
		set_double(v, drounding(a->u.d, fn));
	return 0;
}

/* year()..second() in UTC; a proleptic year 0 or before is a BC year, as
 * EXTRACT(YEAR) counts them. */
static int
fn_datepart(const struct odata_filter_node *n, const struct value *a, struct value *v)
{
	int64_t days = a->u.t.sec / 86400, secs = a->u.t.sec % 86400, y;
	int m, d;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	switch (n->call.fn) {
	case ODATA_FILTER_YEAR:		set_int(v, V_INT32, y > 0 ? y : y - 1); break;
	case ODATA_FILTER_MONTH:	set_int(v, V_INT32, m); break;
	case ODATA_FILTER_DAY:		set_int(v, V_INT32, d); break;
	case ODATA_FILTER_HOUR:		set_int(v, V_INT32, secs / 3600); break;
	case ODATA_FILTER_MINUTE:	set_int(v, V_INT32, secs / 60 % 60); break;
	default:			set_int(v, V_INT32, secs % 60); break;
	}
	return 0;
}

/* ------------------------------------------------------------ functions */

enum arg_kind { A_NONE, A_STR, A_INT, A_DT, A_NUM };

static const struct {
	enum arg_kind args[ODATA_FILTER_MAX_ARGS];
	size_t min;
	enum vtype ret;		/* V_NULL: the argument's type */
} sigs[] = {
	[ODATA_FILTER_SUBSTRINGOF] = { { A_STR, A_STR, A_NONE }, 2, V_BOOL },
	[ODATA_FILTER_STARTSWITH] = { { A_STR, A_STR, A_NONE }, 2, V_BOOL },
	[ODATA_FILTER_ENDSWITH] = { { A_STR, A_STR, A_NONE }, 2, V_BOOL },
	[ODATA_FILTER_INDEXOF] = { { A_STR, A_STR, A_NONE }, 2, V_INT32 },
	[ODATA_FILTER_LENGTH] = { { A_STR, A_NONE, A_NONE }, 1, V_INT32 },
	[ODATA_FILTER_TOLOWER] = { { A_STR, A_NONE, A_NONE }, 1, V_STRING },
	[ODATA_FILTER_TOUPPER] = { { A_STR, A_NONE, A_NONE }, 1, V_STRING },
	[ODATA_FILTER_TRIM] = { { A_STR, A_NONE, A_NONE }, 1, V_STRING },
	[ODATA_FILTER_CONCAT] = { { A_STR, A_STR, A_NONE }, 2, V_STRING },
	[ODATA_FILTER_SUBSTRING] = { { A_STR, A_INT, A_INT }, 2, V_STRING },
	[ODATA_FILTER_REPLACE] = { { A_STR, A_STR, A_STR }, 3, V_STRING },
	[ODATA_FILTER_YEAR] = { { A_DT, A_NONE, A_NONE }, 1, V_INT32 },
	[ODATA_FILTER_MONTH] = { { A_DT, A_NONE, A_NONE }, 1, V_INT32 },
	[ODATA_FILTER_DAY] = { { A_DT, A_NONE, A_NONE }, 1, V_INT32 },
	[ODATA_FILTER_HOUR] = { { A_DT, A_NONE, A_NONE }, 1, V_INT32 },
	[ODATA_FILTER_MINUTE] = { { A_DT, A_NONE, A_NONE }, 1, V_INT32 },
	[ODATA_FILTER_SECOND] = { { A_DT, A_NONE, A_NONE }, 1, V_INT32 },
	[ODATA_FILTER_ROUND] = { { A_NUM, A_NONE, A_NONE }, 1, V_NULL },
	[ODATA_FILTER_FLOOR] = { { A_NUM, A_NONE, A_NONE }, 1, V_NULL },
	[ODATA_FILTER_CEILING] = { { A_NUM, A_NONE, A_NONE }, 1, V_NULL },
};

static bool
arg_ok(enum arg_kind k, enum vtype t)
{
	if (t == V_ANY)
		return k != A_NONE;
	switch (k) {
	case A_STR:	return t == V_STRING;
	case A_INT:	return is_integer(t);
	case A_DT:	return is_datetime(t);
	case A_NUM:	return is_numeric(t);
	default:	return false;
	}
}

static bool
call_ok(const struct odata_filter_node *n, struct value *a)
{
	size_t i, argc = n->call.argc, max = 0;

	while (max < ODATA_FILTER_MAX_ARGS && sigs[n->call.fn].args[max] != A_NONE)
		max++;
	if (argc < sigs[n->call.fn].min || argc > max)
		return false;
	for (i = 0; i < argc; i++) {
		if (sigs[n->call.fn].args[i] == A_DT)
			coerce_datetime(&a[i]);
		if (!arg_ok(sigs[n->call.fn].args[i], a[i].type))
			return false;
	}
	return true;
}

static int
call_type_error(struct ctx *c, const struct odata_filter_node *n, const struct value *a)
{
	char list[160] = "";
	size_t i, len;

	for (i = 0; i < n->call.argc; i++) {
		len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%s", i > 0 ? ", " : "",
		    tname(a[i].type));
	}
	fail(c, n->pos, "Function '%s' is not applicable to %s",
	    odata_filter_func_name(n->call.fn), list);
	c->typed = true;
	return -1;
}

/* substring's index and length go to int4 (and the index + 1 too) before
 * the call, null or not. */
static int
substring_range(struct ctx *c, const struct odata_filter_node *n, const struct value *a)
{
	size_t i;

	for (i = 1; i < n->call.argc; i++)
		if (!a[i].null && (a[i].u.i < INT32_MIN || a[i].u.i > INT32_MAX ||
		    (i == 1 && a[i].u.i == INT32_MAX)))
			return fail(c, n->pos, "Argument %zu of 'substring' is out of range",
			    i + 1);
	return 0;
}

static int
apply(struct ctx *c, const struct odata_filter_node *n, struct value *a, struct value *v)
{
	switch (n->call.fn) {
	case ODATA_FILTER_TOLOWER:
	case ODATA_FILTER_TOUPPER:	return fn_case(c, n, a, v);
	case ODATA_FILTER_TRIM:		return fn_trim(a, v);
	case ODATA_FILTER_CONCAT:	return fn_concat(c, n, a, v);
	case ODATA_FILTER_SUBSTRING:	return fn_substring(c, n, a, v);
	case ODATA_FILTER_REPLACE:	return fn_replace(c, n, a, v);
	case ODATA_FILTER_ROUND:
	case ODATA_FILTER_FLOOR:
	case ODATA_FILTER_CEILING:	return fn_rounding(n, &a[0], v);
	default:
		break;
	}
	if (n->call.fn >= ODATA_FILTER_YEAR)
		return fn_datepart(n, &a[0], v);
	fn_search(n, a, v);
	return 0;
}

static int
eval_call(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	struct value a[ODATA_FILTER_MAX_ARGS];
	size_t i, argc = n->call.argc;
	bool null = false;
	int rc = 0;

	if ((size_t)n->call.fn >= COUNT(sigs) || argc == 0 || argc > ODATA_FILTER_MAX_ARGS)
		return fail(c, n->pos, "Invalid function call");
	memset(a, 0, sizeof(a));
	for (i = 0; i < argc && rc == 0; i++)
		rc = eval(c, n->call.args[i], &a[i]);
	if (rc == 0 && !call_ok(n, a))
		rc = call_type_error(c, n, a);
	if (rc == 0 && n->call.fn == ODATA_FILTER_SUBSTRING)
		rc = substring_range(c, n, a);
	for (i = 0; i < argc; i++)
		null = null || a[i].null;
	if (rc == 0 && null && sigs[n->call.fn].ret == V_BOOL)
		set_bool(v, false);
	else if (rc == 0 && null)
		set_null(v, sigs[n->call.fn].ret != V_NULL ? sigs[n->call.fn].ret : a[0].type);
	else if (rc == 0)
		rc = apply(c, n, a, v);
	for (i = 0; i < argc; i++)
		release(&a[i]);
	return rc;
}

/* ----------------------------------------------------------------- tree */

static int
eval(struct ctx *c, const struct odata_filter_node *n, struct value *v)
{
	memset(v, 0, sizeof(*v));
	switch (n->kind) {
	case ODATA_FILTER_LITERAL:	return eval_literal(c, n, v);
	case ODATA_FILTER_PATH:		return eval_path(c, n, v);
	case ODATA_FILTER_UNARY:	return eval_unary(c, n, v);
	case ODATA_FILTER_BINARY:	return eval_binary(c, n, v);
	case ODATA_FILTER_CALL:		return eval_call(c, n, v);
	default:
		return fail(c, n->pos, "Invalid expression");
	}
}

/* One pass; *truth is the root's value with null as false. */
static int
eval_root(struct ctx *c, const struct odata_filter_node *root, bool *truth)
{
	struct value v;

	c->made = 0;
	if (eval(c, root, &v) != 0)
		return -1;
	if (!is_boolish(&v)) {
		release(&v);
		fail(c, root->pos, "Expected an Edm.Boolean expression, found %s",
		    tname(v.type));
		c->typed = true;
		return -1;
	}
	*truth = !v.null && v.u.b;
	return 0;
}

/* A type error found by the first pass, where paths have no type yet, is
 * reported with the second pass's message when that is a type error at the
 * same node: it names the payload's types. */
enum odata_eval_result
odata_filter_eval(const struct odata_filter_node *root, const json_t *payload, char *err,
    size_t errlen)
{
	char msg[512] = "", refined[512] = "";
	struct ctx c = { payload, msg, sizeof(msg), true, 0, 0, false };
	bool truth = false;
	size_t pos;
	int rc;

	if (root == NULL)
		rc = fail(&c, 0, "No filter expression");
	else if ((rc = eval_root(&c, root, &truth)) != 0) {
		pos = c.pos;
		c.check = false;
		c.err = refined;
		c.errlen = sizeof(refined);
		if (eval_root(&c, root, &truth) != 0 && c.typed && c.pos == pos)
			memcpy(msg, refined, sizeof(msg));
	} else {
		c.check = false;
		rc = eval_root(&c, root, &truth);
	}
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", rc != 0 ? msg : "");
	if (rc != 0)
		return ODATA_EVAL_ERROR;
	return truth ? ODATA_EVAL_TRUE : ODATA_EVAL_FALSE;
}
