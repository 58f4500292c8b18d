/* uri — OData V2 resource paths and system query options; see uri.h.
 *
 * Hostile input is the normal case: every length is checked before the work
 * it bounds, nothing recurses, and every message quotes user text through
 * echo(), which cuts it to ODATA_URI_MAX_ECHO bytes on a UTF-8 boundary
 * (the text has been checked to be valid UTF-8 before it is quoted). */
#include "uri.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "strbuf.h"

#define INT32_LIMIT 2147483647L

/* ---- errors ----------------------------------------------------------- */

static int fail(struct odata_uri_error *err, enum odata_uri_errkind kind,
    const char *option, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Fills *err (when not NULL) and returns -1 so that callers can
 * `return fail(...)`. */
static int
fail(struct odata_uri_error *err, enum odata_uri_errkind kind, const char *option,
    size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->kind = kind;
	err->pos = pos;
	snprintf(err->option, sizeof(err->option), "%s", option ? option : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int
nomem(struct odata_uri_error *err)
{
	return fail(err, ODATA_URI_NOMEM, NULL, 0, "Out of memory.");
}

static void
clear_err(struct odata_uri_error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Offset of the first byte of s[0..n) that is not part of a valid UTF-8
 * character, or n when the whole text is valid. */
static size_t
utf8_bad(const char *str, size_t n)
{
	return odata_utf8_bad(str, n);
}

/* The longest prefix of valid UTF-8 s[0..n) that has at most max bytes and
 * does not cut a character. */
static size_t
utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* s[0..n) as a NUL-terminated quotation of at most ODATA_URI_MAX_ECHO bytes,
 * "..." appended when cut. */
struct echo {
	char s[ODATA_URI_MAX_ECHO + 4];
};

static const char *
echo(struct echo *e, const char *s, size_t n)
{
	size_t k = utf8_cut(s, n, ODATA_URI_MAX_ECHO);

	memcpy(e->s, s, k);
	if (k < n) {
		memcpy(e->s + k, "...", 3);
		k += 3;
	}
	e->s[k] = '\0';
	return e->s;
}

/* ---- characters --------------------------------------------------------- */

/* Locale-free classes. */
static bool
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the identifier [A-Za-z_][A-Za-z0-9_]* at the start of s[0..n);
 * 0 when there is none. */
static size_t
ident_len(const char *s, size_t n)
{
	size_t k = 0;

	if (n == 0 || !(is_alpha(s[0]) || s[0] == '_'))
		return 0;
	while (k < n && (is_alpha(s[k]) || is_digit(s[k]) || s[k] == '_'))
		k++;
	return k;
}

static bool
is_ident(const char *s, size_t n)
{
	return n > 0 && n <= ODATA_URI_MAX_IDENT && ident_len(s, n) == n;
}

/* A Content-ID: [A-Za-z0-9._-]{1,ODATA_URI_MAX_IDENT}. */
static bool
is_content_id(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > ODATA_URI_MAX_IDENT)
		return false;
	for (i = 0; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return false;
	return true;
}

static bool
seg_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool
ascii_caseeq(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (strlen(lit) != n)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

static char *
dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* ---- percent-decoding --------------------------------------------------- */

enum decode_rc { DEC_OK, DEC_ESCAPE, DEC_NUL, DEC_UTF8, DEC_NOMEM };

/* Decodes s[0..n) into a malloc'd NUL-terminated *out of *outlen bytes:
 * %XX is a byte, and with form set '+' is a space. A malformed escape, a
 * NUL byte (escaped or not) or, after decoding, invalid UTF-8 fails with
 * *bad at the offset in s of the offending escape or byte (for UTF-8, of
 * the first byte of the bad sequence). */
static enum decode_rc
pct_decode(const char *s, size_t n, bool form, char **out, size_t *outlen, size_t *bad)
{
	char *d = malloc(n + 1);
	size_t i, k = 0;

	*out = NULL;
	if (d == NULL)
		return DEC_NOMEM;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi = -1, lo = -1;

			if (n - i < 3 || (hi = odata_key_hex_value((unsigned char)s[i + 1])) < 0 ||
			    (lo = odata_key_hex_value((unsigned char)s[i + 2])) < 0) {
				free(d);
				*bad = i;
				return DEC_ESCAPE;
			}
			c = (char)(hi * 16 + lo);
			if (c == '\0') {
				free(d);
				*bad = i;
				return DEC_NUL;
			}
			i += 2;
		} else if (c == '\0') {
			free(d);
			*bad = i;
			return DEC_NUL;
		} else if (form && c == '+') {
			c = ' ';
		}
		d[k++] = c;
	}
	d[k] = '\0';
	*bad = utf8_bad(d, k);
	if (*bad != k) {
		/* Back to the raw offset of the bad decoded byte. */
		for (i = 0, k = 0; k < *bad; k++)
			i += s[i] == '%' ? 3 : 1;
		*bad = i;
		free(d);
		return DEC_UTF8;
	}
	*out = d;
	*outlen = k;
	return DEC_OK;
}

char *
odata_uri_decode(const char *s, size_t n, bool form)
{
	size_t len, bad;
	char *out;

	return pct_decode(s, n, form, &out, &len, &bad) == DEC_OK ? out : NULL;
}

/* ---- resource path ------------------------------------------------------ */

void
odata_path_free(struct odata_path *p)
{
	if (p == NULL)
		return;
	free(p->set);
	free(p->key);
	free(p->key_name);
	free(p->nav);
	free(p->content_id);
	memset(p, 0, sizeof(*p));
}

/* End of the segment starting at d[start]: the next '/' that is not inside
 * a quoted part of a key predicate, or n. Inside parentheses a quote opens
 * and closes a literal; '' inside one closes and reopens it, which is the
 * same as an escaped quote. */
static size_t
segment_end(const char *d, size_t n, size_t start)
{
	bool paren = false, quote = false;
	size_t i;

	for (i = start; i < n; i++) {
		char c = d[i];

		if (quote) {
			if (c == '\'')
				quote = false;
		} else if (c == '/') {
			break;
		} else if (c == '(') {
			paren = true;
		} else if (c == ')') {
			paren = false;
		} else if (c == '\'' && paren) {
			quote = true;
		}
	}
	return i;
}

/* Offset in s[0..n) of the ')' closing the '(' at s[open], quotes as in
 * segment_end(); n when there is none. */
static size_t
close_paren(const char *s, size_t n, size_t open)
{
	bool quote = false;
	size_t i;

	for (i = open + 1; i < n; i++) {
		if (s[i] == '\'')
			quote = !quote;
		else if (s[i] == ')' && !quote)
			return i;
	}
	return n;
}

static int
unsupported(struct odata_uri_error *err, const char *d, size_t off, size_t len,
    const char *why)
{
	struct echo e;

	return fail(err, ODATA_URI_UNSUPPORTED, NULL, off,
	    "Unsupported resource path segment '%s' at position %zu: %s.",
	    echo(&e, d + off, len), off, why);
}

/* The first segment of a SET path: Set or Set(pred), at d[off..off+len). */
static int
parse_set_segment(const char *d, size_t off, size_t len, struct odata_path *out,
    struct odata_uri_error *err)
{
	const char *s = d + off;
	size_t k = ident_len(s, len), close;
	const char *pred;
	struct echo e;

	if (k == 0 || (k < len && s[k] != '('))
		return unsupported(err, d, off, len, "not an entity set name");
	if (k > ODATA_URI_MAX_IDENT)
		return unsupported(err, d, off, len, "the name is too long");
	out->kind = ODATA_PATH_SET;
	out->set = dup_n(s, k);
	if (out->set == NULL)
		return nomem(err);
	if (k == len)
		return 0;
	close = close_paren(s, len, k);
	if (close == len)
		return fail(err, ODATA_URI_MALFORMED, NULL, off + k,
		    "Malformed key predicate at position %zu: no closing parenthesis.", off + k);
	if (close != len - 1)
		return fail(err, ODATA_URI_MALFORMED, NULL, off + close + 1,
		    "Malformed resource path at position %zu: unexpected text after the key predicate.",
		    off + close + 1);
	pred = s + k + 1;
	if (odata_key_predicate_named(pred, close - k - 1, &out->key_name, &out->key) != 0) {
		if (err != NULL) {
			size_t m = utf8_cut(pred, close - k - 1, sizeof(err->key) - 1);

			memcpy(err->key, pred, m);
			err->key[m] = '\0';
		}
		return fail(err, ODATA_URI_INVALID_KEY, NULL, off + k + 1,
		    "Invalid key predicate for entity set '%s' at position %zu.",
		    echo(&e, s, k), off + k + 1);
	}
	out->has_key = true;
	return 0;
}

enum path_state { AT_START, AFTER_SET, AFTER_KEY, AFTER_NAV, AFTER_CID, AT_END };

static int
parse_segments(const char *d, size_t n, struct odata_path *out, struct odata_uri_error *err)
{
	enum path_state st = AT_START;
	size_t i = 1;

	if (n == 0 || (n == 1 && d[0] == '/')) {
		out->kind = ODATA_PATH_SERVICE;
		return 0;
	}
	if (d[0] != '/')
		return fail(err, ODATA_URI_MALFORMED, NULL, 0,
		    "Malformed resource path at position 0: it must start with '/'.");
	while (i < n) {
		size_t end = segment_end(d, n, i), len = end - i;
		const char *s = d + i;

		if (len == 0)
			return fail(err, ODATA_URI_MALFORMED, NULL, i,
			    "Malformed resource path at position %zu: empty segment.", i);
		switch (st) {
		case AT_START:
			if (s[0] != '$') {
				if (parse_set_segment(d, i, len, out, err) != 0)
					return -1;
				st = out->has_key ? AFTER_KEY : AFTER_SET;
			} else if (seg_is(s, len, "$metadata")) {
				out->kind = ODATA_PATH_METADATA;
				st = AT_END;
			} else if (seg_is(s, len, "$batch")) {
				out->kind = ODATA_PATH_BATCH;
				st = AT_END;
			} else if (seg_is(s, len, "$count") || seg_is(s, len, "$value") ||
			    seg_is(s, len, "$links") || !is_content_id(s + 1, len - 1)) {
				return unsupported(err, d, i, len, "not a resource");
			} else {
				out->kind = ODATA_PATH_CONTENT_ID;
				out->content_id = dup_n(s + 1, len - 1);
				if (out->content_id == NULL)
					return nomem(err);
				st = AFTER_CID;
			}
			break;
		case AFTER_SET:
			if (!seg_is(s, len, "$count"))
				return unsupported(err, d, i, len,
				    "only $count may follow an entity set without a key");
			out->count = true;
			st = AT_END;
			break;
		case AFTER_KEY:
		case AFTER_CID:
			if (!is_ident(s, len))
				return unsupported(err, d, i, len,
				    "only a navigation property name may follow an entity");
			out->nav = dup_n(s, len);
			if (out->nav == NULL)
				return nomem(err);
			st = st == AFTER_KEY ? AFTER_NAV : AT_END;
			break;
		case AFTER_NAV:
			if (!seg_is(s, len, "$count"))
				return unsupported(err, d, i, len,
				    "only $count may follow a navigation property");
			out->count = true;
			st = AT_END;
			break;
		case AT_END:
			return unsupported(err, d, i, len, "the path is too deep");
		}
		i = end + 1;
	}
	return 0;
}

int
odata_uri_parse_path(const char *raw, struct odata_path *out, struct odata_uri_error *err)
{
	size_t n, dlen = 0, bad = 0;
	char *d = NULL;
	int rc;

	clear_err(err);
	if (out == NULL)
		return fail(err, ODATA_URI_MALFORMED, NULL, 0, "No resource path.");
	memset(out, 0, sizeof(*out));
	if (raw == NULL)
		raw = "";
	n = strlen(raw);
	if (n > ODATA_URI_MAX_PATH)
		return fail(err, ODATA_URI_MALFORMED, NULL, ODATA_URI_MAX_PATH,
		    "Malformed resource path: longer than %d bytes.", ODATA_URI_MAX_PATH);
	switch (pct_decode(raw, n, false, &d, &dlen, &bad)) {
	case DEC_OK:
		break;
	case DEC_ESCAPE:
		return fail(err, ODATA_URI_MALFORMED, NULL, bad,
		    "Malformed resource path at position %zu: bad percent-encoding.", bad);
	case DEC_NUL:
		return fail(err, ODATA_URI_MALFORMED, NULL, bad,
		    "Malformed resource path at position %zu: NUL byte.", bad);
	case DEC_UTF8:
		return fail(err, ODATA_URI_MALFORMED, NULL, bad,
		    "Malformed resource path at position %zu: not valid UTF-8 after decoding.",
		    bad);
	case DEC_NOMEM:
		return nomem(err);
	}
	rc = parse_segments(d, dlen, out, err);
	free(d);
	if (rc != 0)
		odata_path_free(out);
	return rc;
}

/* ---- system query options ----------------------------------------------- */

enum opt {
	OPT_FILTER,
	OPT_ORDERBY,
	OPT_TOP,
	OPT_SKIP,
	OPT_SKIPTOKEN,
	OPT_EXPAND,
	OPT_SELECT,
	OPT_INLINECOUNT,
	OPT_FORMAT,
	NOPT
};

static const char *const opt_names[NOPT] = {
	"$filter", "$orderby", "$top", "$skip", "$skiptoken", "$expand", "$select",
	"$inlinecount", "$format",
};

static void
list_free(struct odata_option_list *l)
{
	free(l->text);
	free(l->items);
	free(l->store);
	memset(l, 0, sizeof(*l));
}

void
odata_options_free(struct odata_options *o)
{
	size_t i;

	if (o == NULL)
		return;
	free(o->filter);
	free(o->skiptoken);
	free(o->format);
	list_free(&o->orderby);
	list_free(&o->expand);
	list_free(&o->select);
	for (i = 0; i < o->ncustom; i++) {
		free(o->custom[i].name);
		free(o->custom[i].value);
	}
	free(o->custom);
	memset(o, 0, sizeof(*o));
}

/* [0-9]+ with a value of at most 2^31-1. */
static int
parse_count(const char *opt, const char *v, size_t n, long *out, struct odata_uri_error *err)
{
	long x = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return fail(err, ODATA_URI_MALFORMED, opt, i,
			    "Invalid %s at position %zu: %s must be a non-negative integer.",
			    opt, i, opt);
		if (x > (INT32_LIMIT - (v[i] - '0')) / 10)
			return fail(err, ODATA_URI_MALFORMED, opt, 0,
			    "Invalid %s at position 0: %s must be a non-negative integer "
			    "not greater than 2147483647.", opt, opt);
		x = x * 10 + (v[i] - '0');
	}
	if (n == 0)
		return fail(err, ODATA_URI_MALFORMED, opt, 0,
		    "Invalid %s at position 0: %s must be a non-negative integer.", opt, opt);
	*out = x;
	return 0;
}

static size_t
skip_spaces(const char *s, size_t n, size_t p)
{
	while (p < n && s[p] == ' ')
		p++;
	return p;
}

/* Parses the $orderby, $expand or $select value l->text[0..n) (already
 * owned by l) into l->items, whose segments point into l->store, a copy of
 * the text with a NUL after every identifier. */
static int
parse_list(enum opt which, size_t n, struct odata_option_list *l, struct odata_uri_error *err)
{
	const char *opt = opt_names[which];
	size_t ends[ODATA_URI_MAX_ITEMS * ODATA_URI_MAX_SEGMENTS], nends = 0, p = 0, i;
	char *s;

	l->store = dup_n(l->text, n);
	l->items = calloc(ODATA_URI_MAX_ITEMS, sizeof(*l->items));
	if (l->store == NULL || l->items == NULL)
		return nomem(err);
	s = l->store;
	for (;;) {
		struct odata_option_path *it;

		p = skip_spaces(s, n, p);
		if (l->n == ODATA_URI_MAX_ITEMS)
			return fail(err, ODATA_URI_MALFORMED, opt, p,
			    "Invalid %s at position %zu: more than %d items.", opt, p,
			    ODATA_URI_MAX_ITEMS);
		it = &l->items[l->n++];
		if (which == OPT_SELECT && p < n && s[p] == '*') {
			it->star = true;
			p++;
		} else {
			for (;;) {
				size_t k = ident_len(s + p, n - p);

				if (k == 0)
					return fail(err, ODATA_URI_MALFORMED, opt, p,
					    "Invalid %s at position %zu: expected a property name%s.",
					    opt, p, which == OPT_SELECT && it->nsegs > 0 ?
					    " or '*'" : "");
				if (k > ODATA_URI_MAX_IDENT)
					return fail(err, ODATA_URI_MALFORMED, opt, p,
					    "Invalid %s at position %zu: a name is longer than %d bytes.",
					    opt, p, ODATA_URI_MAX_IDENT);
				if (it->nsegs == ODATA_URI_MAX_SEGMENTS)
					return fail(err, ODATA_URI_MALFORMED, opt, p,
					    "Invalid %s at position %zu: a path has more than %d segments.",
					    opt, p, ODATA_URI_MAX_SEGMENTS);
				it->segs[it->nsegs++] = s + p;
				p += k;
				ends[nends++] = p;
				if (p == n || s[p] != '/')
					break;
				p++;
				if (which == OPT_SELECT && p < n && s[p] == '*') {
					it->star = true;
					p++;
					break;
				}
			}
			if (which == OPT_ORDERBY) {
				size_t q = skip_spaces(s, n, p), r = q;

				if (q > p && q < n && s[q] != ',') {
					while (r < n && s[r] != ' ' && s[r] != ',')
						r++;
					if (ascii_caseeq(s + q, r - q, "desc")) {
						it->desc = true;
					} else if (!ascii_caseeq(s + q, r - q, "asc")) {
						struct echo e;

						return fail(err, ODATA_URI_MALFORMED, opt, q,
						    "Invalid %s at position %zu: expected 'asc' or "
						    "'desc', found '%s'.", opt, q,
						    echo(&e, s + q, r - q));
					}
					p = r;
				}
			}
		}
		p = skip_spaces(s, n, p);
		if (p == n)
			break;
		if (s[p] != ',')
			return fail(err, ODATA_URI_MALFORMED, opt, p,
			    "Invalid %s at position %zu: expected %s.", opt, p,
			    which == OPT_ORDERBY ? "',', 'asc' or 'desc'" : "','");
		p++;
	}
	/* Every recorded end is a separator or the end of the text. */
	for (i = 0; i < nends; i++)
		s[ends[i]] = '\0';
	return 0;
}

static int
parse_format(char *v, size_t n, struct odata_options *o, struct odata_uri_error *err)
{
	struct echo e;

	if (ascii_caseeq(v, n, "json") || ascii_caseeq(v, n, "application/json")) {
		o->format = v;
		return 0;
	}
	fail(err, ODATA_URI_UNSUPPORTED_FORMAT, "$format", 0,
	    "Format [%s] is not supported; $format must be json.", echo(&e, v, n));
	free(v);
	return -1;
}

/* Takes ownership of the decoded value v[0..n). */
static int
set_option(enum opt which, char *v, size_t n, struct odata_options *o,
    struct odata_uri_error *err)
{
	const char *opt = opt_names[which];
	int rc = 0;

	switch (which) {
	case OPT_FILTER:
		o->filter = v;
		o->filter_len = n;
		return 0;
	case OPT_TOP:
		rc = parse_count(opt, v, n, &o->top, err);
		o->has_top = rc == 0;
		break;
	case OPT_SKIP:
		rc = parse_count(opt, v, n, &o->skip, err);
		o->has_skip = rc == 0;
		break;
	case OPT_SKIPTOKEN:
		rc = parse_count(opt, v, n, &o->skiptoken_value, err);
		if (rc != 0)
			break;
		o->skiptoken = v;
		o->has_skiptoken = true;
		return 0;
	case OPT_INLINECOUNT:
		if (seg_is(v, n, "allpages")) {
			o->inlinecount = ODATA_INLINECOUNT_ALLPAGES;
		} else if (seg_is(v, n, "none")) {
			o->inlinecount = ODATA_INLINECOUNT_NONE;
		} else {
			struct echo e;

			rc = fail(err, ODATA_URI_MALFORMED, opt, 0,
			    "Invalid $inlinecount at position 0: expected 'allpages' or 'none', "
			    "found '%s'.", echo(&e, v, n));
		}
		break;
	case OPT_FORMAT:
		return parse_format(v, n, o, err);
	case OPT_ORDERBY:
	case OPT_EXPAND:
	case OPT_SELECT: {
		struct odata_option_list *l = which == OPT_ORDERBY ? &o->orderby :
		    which == OPT_EXPAND ? &o->expand : &o->select;

		l->text = v;
		return parse_list(which, n, l, err);
	}
	case NOPT:
		break;
	}
	free(v);
	return rc;
}

static int
add_custom(struct odata_options *o, char *name, char *value, size_t pos,
    struct odata_uri_error *err)
{
	struct odata_custom_option *c;

	if (o->ncustom == ODATA_URI_MAX_ITEMS) {
		free(name);
		free(value);
		return fail(err, ODATA_URI_MALFORMED, NULL, pos,
		    "Invalid query string at position %zu: more than %d custom query options.",
		    pos, ODATA_URI_MAX_ITEMS);
	}
	c = realloc(o->custom, (o->ncustom + 1) * sizeof(*c));
	if (c == NULL) {
		free(name);
		free(value);
		return nomem(err);
	}
	o->custom = c;
	c[o->ncustom].name = name;
	c[o->ncustom].value = value;
	o->ncustom++;
	return 0;
}

/* Decodes raw[off..off+n) as form data; *out is malloc'd. */
static int
form_decode(const char *raw, size_t off, size_t n, const char *opt, char **out,
    size_t *outlen, struct odata_uri_error *err)
{
	size_t bad = 0;

	switch (pct_decode(raw + off, n, true, out, outlen, &bad)) {
	case DEC_OK:
		return 0;
	case DEC_ESCAPE:
		return fail(err, ODATA_URI_MALFORMED, opt, off + bad,
		    "Invalid query string at position %zu: bad percent-encoding.", off + bad);
	case DEC_NUL:
		return fail(err, ODATA_URI_MALFORMED, opt, off + bad,
		    "Invalid query string at position %zu: NUL byte.", off + bad);
	case DEC_UTF8:
		return fail(err, ODATA_URI_MALFORMED, opt, off + bad,
		    "Invalid query string at position %zu: not valid UTF-8 after decoding.",
		    off + bad);
	case DEC_NOMEM:
		break;
	}
	return nomem(err);
}

/* One name[=value] pair at raw[start..end). */
static int
parse_pair(const char *raw, size_t start, size_t end, unsigned *seen,
    struct odata_options *o, struct odata_uri_error *err)
{
	const char *eq = memchr(raw + start, '=', end - start);
	size_t neq = eq ? (size_t)(eq - raw) : end, nlen, vlen;
	char *name, *value;
	int which;

	if (form_decode(raw, start, neq - start, NULL, &name, &nlen, err) != 0)
		return -1;
	for (which = 0; which < NOPT; which++)
		if (strcmp(name, opt_names[which]) == 0)
			break;
	if (name[0] == '$' && which == NOPT) {
		struct echo e;

		fail(err, ODATA_URI_MALFORMED, NULL, start,
		    "Unknown system query option '%s' at position %zu.", echo(&e, name, nlen),
		    start);
		free(name);
		return -1;
	}
	if (which < NOPT && (*seen & (1u << which)) != 0) {
		free(name);
		return fail(err, ODATA_URI_MALFORMED, opt_names[which], start,
		    "Invalid query string at position %zu: %s is given more than once.",
		    start, opt_names[which]);
	}
	if (form_decode(raw, eq ? neq + 1 : end, eq ? end - neq - 1 : 0,
	    which < NOPT ? opt_names[which] : NULL, &value, &vlen, err) != 0) {
		free(name);
		return -1;
	}
	if (which < NOPT) {
		free(name);
		*seen |= 1u << which;
		return set_option((enum opt)which, value, vlen, o, err);
	}
	if (nlen == 0) {
		free(name);
		free(value);
		return 0;
	}
	return add_custom(o, name, value, start, err);
}

int
odata_options_parse(const char *raw_query, struct odata_options *out,
    struct odata_uri_error *err)
{
	unsigned seen = 0;
	size_t n, i = 0;

	clear_err(err);
	if (out == NULL)
		return fail(err, ODATA_URI_MALFORMED, NULL, 0, "No options to fill.");
	memset(out, 0, sizeof(*out));
	if (raw_query == NULL)
		return 0;
	n = strlen(raw_query);
	if (n > ODATA_URI_MAX_QUERY)
		return fail(err, ODATA_URI_MALFORMED, NULL, ODATA_URI_MAX_QUERY,
		    "Invalid query string: longer than %d bytes.", ODATA_URI_MAX_QUERY);
	while (i < n) {
		const char *amp = memchr(raw_query + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - raw_query) : n;

		if (end > i && parse_pair(raw_query, i, end, &seen, out, err) != 0) {
			odata_options_free(out);
			return -1;
		}
		i = end + 1;
	}
	return 0;
}

/* ---- __next links ------------------------------------------------------- */

static void
add_encoded(struct strbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char keep[] = "-._~$'(),/*:";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_alpha((char)c) || is_digit((char)c) || memchr(keep, c, sizeof(keep) - 1)) {
			strbuf_addc(b, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

			strbuf_add(b, esc, 3);
		}
	}
}

static void
add_pair(struct strbuf *b, const char *name, const char *value, size_t vlen)
{
	if (b->len > 0)
		strbuf_addc(b, '&');
	add_encoded(b, name, strlen(name));
	strbuf_addc(b, '=');
	add_encoded(b, value, vlen);
}

char *
odata_options_encode_next(const struct odata_options *o, long skiptoken, long top_or_minus1)
{
	struct strbuf b;
	size_t i;

	if (o == NULL)
		return NULL;
	strbuf_init(&b);
	if (o->filter != NULL)
		add_pair(&b, "$filter", o->filter, o->filter_len);
	if (o->orderby.text != NULL)
		add_pair(&b, "$orderby", o->orderby.text, strlen(o->orderby.text));
	if (o->expand.text != NULL)
		add_pair(&b, "$expand", o->expand.text, strlen(o->expand.text));
	if (o->select.text != NULL)
		add_pair(&b, "$select", o->select.text, strlen(o->select.text));
	if (o->inlinecount != ODATA_INLINECOUNT_UNSET)
		add_pair(&b, "$inlinecount", o->inlinecount == ODATA_INLINECOUNT_ALLPAGES ?
		    "allpages" : "none", o->inlinecount == ODATA_INLINECOUNT_ALLPAGES ? 8 : 4);
	if (o->format != NULL)
		add_pair(&b, "$format", o->format, strlen(o->format));
	for (i = 0; i < o->ncustom; i++)
		add_pair(&b, o->custom[i].name, o->custom[i].value, strlen(o->custom[i].value));
	if (top_or_minus1 >= 0)
		strbuf_addf(&b, "%s$top=%ld", b.len > 0 ? "&" : "", top_or_minus1);
	if (skiptoken >= 0)
		strbuf_addf(&b, "%s$skiptoken=%ld", b.len > 0 ? "&" : "", skiptoken);
	return strbuf_detach(&b);
}
