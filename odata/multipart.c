/* multipart — OData V2 $batch body parser and response writer.
 *
 * The body is hostile input: every limit is checked before the work it
 * bounds. A header line is looked for within ODATA_BATCH_MAX_LINE + 2 bytes
 * only, a header block holds at most ODATA_BATCH_MAX_HEADERS lines (kept on
 * the stack as slices of the input), the request count is checked before a
 * request is read. The work is linear in the body: the parser finds a
 * part's end (the next delimiter) and then reads the part once; a change
 * set is scanned once more for its own delimiters. Recursion is one level
 * deep at most (a change set inside the batch).
 *
 * Everything a parsed batch holds is copied into one arena: requests and
 * items are first collected as linked lists and turned into arrays at the
 * end. Character classes are ASCII-only and locale-free. */
#include "multipart.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */

/* The arena is a chain of blocks; the batch points at the newest. */
struct odata_batch_arena {
	struct odata_batch_arena *next;
	size_t used, size;
	max_align_t data[];
};

#define BLOCK_BYTES 8192

static void *
arena_alloc(struct odata_batch_arena **head, size_t n)
{
	const size_t a = alignof(max_align_t);
	struct odata_batch_arena *b = *head;
	void *ptr;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + a - 1) / a * a;
	if (b == NULL || b->size - b->used < n) {
		size_t size = n > BLOCK_BYTES ? n : BLOCK_BYTES;

		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			return NULL;
		b->next = *head;
		b->used = 0;
		b->size = size;
		*head = b;
	}
	ptr = (char *)b->data + b->used;
	b->used += n;
	return ptr;
}

static void
arena_free(struct odata_batch_arena *a)
{
	struct odata_batch_arena *next;

	for (; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
}

void
odata_batch_free(struct odata_batch *b)
{
	/* b itself lives in its arena */
	if (b != NULL)
		arena_free(b->arena);
}

/* ----------------------------------------------------- character classes */

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* s[0..n) equals the NUL-terminated lower-case want, ignoring case. */
static bool
eq_ci(const char *s, size_t n, const char *want)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (want[i] == '\0' || lower(s[i]) != want[i])
			return false;
	return want[n] == '\0';
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 tchar */
static bool
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bchars (space included; it may not be the last one) */
static bool
is_bchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

static bool
valid_boundary(const char *b, size_t n)
{
	size_t i;

	if (n == 0 || n > ODATA_BATCH_MAX_BOUNDARY || b[n - 1] == ' ')
		return false;
	for (i = 0; i < n; i++)
		if (!is_bchar(b[i]))
			return false;
	return true;
}

/* The media type at the start of v[0..n) is want (lower-case), followed by
 * the end, whitespace or ';'. */
static bool
media_is(const char *v, size_t n, const char *want)
{
	size_t w = strlen(want);

	return n >= w && eq_ci(v, w, want) && (n == w || is_ows(v[w]) || v[w] == ';');
}

/* ------------------------------------------------------------- boundary */

static size_t
skip_ows(const char *s, size_t i)
{
	while (is_ows(s[i]))
		i++;
	return i;
}

/* An unquoted parameter value: anything up to whitespace, ';' or a quote,
 * controls excluded. Looser than RFC 2045's token (it allows the bchars
 * '/', ':', '=' and '?' that clients do send unquoted). */
static bool
is_bare_value(char c)
{
	return (unsigned char)c > 0x20 && c != 0x7f && c != ';' && c != '"';
}

int
odata_batch_boundary(const char *ct, char *out, size_t outlen)
{
	char val[ODATA_BATCH_MAX_BOUNDARY + 1];
	size_t i, vlen = 0;
	bool found = false;

	if (ct == NULL || out == NULL)
		return -1;
	i = skip_ows(ct, 0);
	if (!eq_ci(ct + i, strnlen(ct + i, 15), "multipart/mixed") || is_tchar(ct[i + 15]))
		return -1;
	i += 15;
	for (;;) {
		size_t n0, nlen, len = 0;
		bool is_boundary, too_long = false;

		i = skip_ows(ct, i);
		if (ct[i] == '\0')
			break;
		if (ct[i] != ';')
			return -1;
		i = skip_ows(ct, i + 1);
		if (ct[i] == '\0' || ct[i] == ';')
			continue;	/* empty parameter */
		for (n0 = i; is_tchar(ct[i]); i++)
			;
		nlen = i - n0;
		if (nlen == 0)
			return -1;
		is_boundary = eq_ci(ct + n0, nlen, "boundary");
		i = skip_ows(ct, i);
		if (ct[i] != '=')
			return -1;
		i = skip_ows(ct, i + 1);
		if (ct[i] == '"') {
			for (i++; ct[i] != '"'; i++) {
				if (ct[i] == '\\')
					i++;
				if (ct[i] == '\0')
					return -1;
				if (is_boundary && len < sizeof(val))
					val[len] = ct[i];
				else
					too_long = true;
				len++;
			}
			i++;
		} else {
			for (; is_bare_value(ct[i]); i++) {
				if (is_boundary && len < sizeof(val))
					val[len] = ct[i];
				else
					too_long = true;
				len++;
			}
			if (len == 0)
				return -1;
		}
		if (is_boundary) {
			if (found || too_long)
				return -1;
			found = true;
			vlen = len;
		}
	}
	if (!found || !valid_boundary(val, vlen) || vlen >= outlen)
		return -1;
	memcpy(out, val, vlen);
	out[vlen] = '\0';
	return 0;
}

/* --------------------------------------------------------------- parser */

struct req_node {
	struct odata_batch_request r;
	struct req_node *next;
};

struct item_node {
	enum odata_batch_item_kind kind;
	const char *boundary;
	size_t first, n;	/* indexes into the request list */
	struct item_node *next;
};

struct parser {
	const char *s;
	size_t len;
	size_t max;
	struct odata_batch_arena *arena;
	struct odata_batch_error *err;
	bool failed;
	size_t nreqs;		/* requests counted, read or not */
	struct req_node *reqs, *last_req;
	size_t nread;		/* requests in the list */
	struct item_node *items, *last_item;
	size_t nitems;
};

/* A header line as slices of the input. */
struct hslice {
	const char *name, *value;
	size_t nlen, vlen;
	size_t pos;
};

/* Records the first error only. what is a fixed phrase, never input. */
static int
fail(struct parser *p, enum odata_batch_error_kind kind, size_t pos, const char *what)
{
	struct odata_batch_error *e = p->err;

	if (p->failed)
		return -1;
	p->failed = true;
	e->kind = kind;
	e->pos = pos;
	switch (kind) {
	case ODATA_BATCH_MALFORMED:
		snprintf(e->message, sizeof(e->message),
		    "Malformed $batch body: %s at position %zu.", what, pos);
		break;
	case ODATA_BATCH_TOO_MANY:
		snprintf(e->message, sizeof(e->message),
		    "The $batch body has more than %zu requests at position %zu.", p->max, pos);
		break;
	case ODATA_BATCH_NOMEM:
		snprintf(e->message, sizeof(e->message),
		    "Out of memory while parsing the $batch body at position %zu.", pos);
		break;
	}
	return -1;
}

static void *
alloc(struct parser *p, size_t n, size_t pos)
{
	void *ptr = arena_alloc(&p->arena, n);

	if (ptr == NULL)
		fail(p, ODATA_BATCH_NOMEM, pos, NULL);
	return ptr;
}

static char *
copy(struct parser *p, const char *s, size_t n, size_t pos)
{
	char *d = alloc(p, n + 1, pos);

	if (d != NULL) {
		if (n)
			memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

enum delim {
	DELIM_NONE,
	DELIM_OPEN,
	DELIM_CLOSE,
};

/* Looks for the next delimiter of b in [from, end); from is at the start
 * of a line. *pos is where its "--" starts, *after is past its line break
 * (DELIM_OPEN only). */
static enum delim
find_delim(const struct parser *p, size_t from, size_t end, const char *b, size_t blen,
    size_t *pos, size_t *after)
{
	const char *s = p->s;
	size_t i = from;

	while (end - i >= 2 + blen) {
		if (s[i] == '-' && s[i + 1] == '-' && memcmp(s + i + 2, b, blen) == 0) {
			size_t q = i + 2 + blen;

			*pos = i;
			if (end - q >= 2 && s[q] == '-' && s[q + 1] == '-')
				return DELIM_CLOSE;
			while (q < end && is_ows(s[q]))
				q++;
			if (q < end && s[q] == '\n') {
				*after = q + 1;
				return DELIM_OPEN;
			}
			if (end - q >= 2 && s[q] == '\r' && s[q + 1] == '\n') {
				*after = q + 2;
				return DELIM_OPEN;
			}
		}
		{
			const char *nl = memchr(s + i, '\n', end - i);

			if (nl == NULL)
				break;
			i = (size_t)(nl - s) + 1;
		}
	}
	return DELIM_NONE;
}

/* The line at cur: its length without the line break, and where the next
 * starts (end when the line runs to end unterminated). */
static int
read_line(struct parser *p, size_t cur, size_t end, size_t *len, size_t *next)
{
	size_t avail = end - cur, lim = avail < ODATA_BATCH_MAX_LINE + 2 ? avail : ODATA_BATCH_MAX_LINE + 2;
	const char *nl = memchr(p->s + cur, '\n', lim);
	size_t n;

	if (nl != NULL) {
		n = (size_t)(nl - (p->s + cur));
		*next = cur + n + 1;
		if (n > 0 && p->s[cur + n - 1] == '\r')
			n--;
	} else {
		n = avail;
		*next = end;
	}
	if (n > ODATA_BATCH_MAX_LINE)
		return fail(p, ODATA_BATCH_MALFORMED, cur, "header line too long");
	*len = n;
	return 0;
}

/* Reads header lines from *cur up to a blank line (*blank, *cur past it)
 * or to end (*cur = end). */
static int
read_headers(struct parser *p, size_t *cur, size_t end, struct hslice *h, size_t *n, bool *blank)
{
	*n = 0;
	*blank = false;
	while (*cur < end) {
		size_t ls = *cur, ll, next, i, v0, v1;
		const char *line = p->s + ls, *colon;

		if (read_line(p, ls, end, &ll, &next) != 0)
			return -1;
		*cur = next;
		if (ll == 0) {
			*blank = true;
			return 0;
		}
		if (*n == ODATA_BATCH_MAX_HEADERS)
			return fail(p, ODATA_BATCH_MALFORMED, ls, "too many headers");
		if (is_ows(line[0]))
			return fail(p, ODATA_BATCH_MALFORMED, ls, "folded header line");
		colon = memchr(line, ':', ll);
		if (colon == NULL || colon == line)
			return fail(p, ODATA_BATCH_MALFORMED, ls, "malformed header line");
		for (i = 0; line + i < colon; i++)
			if (!is_tchar(line[i]))
				return fail(p, ODATA_BATCH_MALFORMED, ls, "malformed header name");
		v0 = (size_t)(colon - line) + 1;
		v1 = ll;
		while (v0 < v1 && is_ows(line[v0]))
			v0++;
		while (v1 > v0 && is_ows(line[v1 - 1]))
			v1--;
		for (i = v0; i < v1; i++) {
			unsigned char c = (unsigned char)line[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(p, ODATA_BATCH_MALFORMED, ls + i,
				    "control character in header");
		}
		h[*n].name = line;
		h[*n].nlen = (size_t)(colon - line);
		h[*n].value = line + v0;
		h[*n].vlen = v1 - v0;
		h[*n].pos = ls;
		(*n)++;
	}
	return 0;
}

/* The only header called name (lower-case) in h, NULL when none; a
 * repeated one is an error (sets *bad). */
static const struct hslice *
find_hdr(struct parser *p, const struct hslice *h, size_t n, const char *name, const char *what,
    bool *bad)
{
	const struct hslice *found = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!eq_ci(h[i].name, h[i].nlen, name))
			continue;
		if (found != NULL) {
			fail(p, ODATA_BATCH_MALFORMED, h[i].pos, what);
			*bad = true;
			return NULL;
		}
		found = &h[i];
	}
	return found;
}

static int
parse_request(struct parser *p, size_t s0, size_t end, int depth, const struct hslice *mime_cid)
{
	struct hslice h[ODATA_BATCH_MAX_HEADERS];
	const struct hslice *cl, *te, *cid;
	struct odata_batch_header *hdrs = NULL;
	struct req_node *node;
	const char *line = p->s + s0;
	size_t ll, cur, m, u, vlen, nh, i, body_len;
	bool blank, bad = false;
	int minor;

	if (s0 == end)
		return fail(p, ODATA_BATCH_MALFORMED, s0, "part without a request");
	if (read_line(p, s0, end, &ll, &cur) != 0)
		return -1;
	for (m = 0; m < ll && line[m] >= 'A' && line[m] <= 'Z'; m++)
		;
	if (m == 0 || m > 20 || m == ll || line[m] != ' ')
		return fail(p, ODATA_BATCH_MALFORMED, s0, "malformed request line");
	for (u = m + 1; u < ll && (unsigned char)line[u] > 0x20 && line[u] != 0x7f; u++)
		;
	if (u == m + 1 || u == ll || line[u] != ' ')
		return fail(p, ODATA_BATCH_MALFORMED, s0, "malformed request line");
	vlen = ll - u - 1;
	if (vlen == 8 && memcmp(line + u + 1, "HTTP/1.1", 8) == 0)
		minor = 1;
	else if (vlen == 8 && memcmp(line + u + 1, "HTTP/1.0", 8) == 0)
		minor = 0;
	else
		return fail(p, ODATA_BATCH_MALFORMED, s0 + u + 1, "unsupported HTTP version");
	if (depth == 0 && !(m == 3 && memcmp(line, "GET", 3) == 0))
		return fail(p, ODATA_BATCH_MALFORMED, s0, "request outside a change set is not a GET");
	if (depth > 0 && m == 3 && memcmp(line, "GET", 3) == 0)
		return fail(p, ODATA_BATCH_MALFORMED, s0, "GET request inside a change set");

	if (read_headers(p, &cur, end, h, &nh, &blank) != 0)
		return -1;
	body_len = end - cur;
	cl = find_hdr(p, h, nh, "content-length", "repeated Content-Length", &bad);
	te = find_hdr(p, h, nh, "transfer-encoding", "repeated Transfer-Encoding", &bad);
	cid = mime_cid;
	if (cid == NULL)
		cid = find_hdr(p, h, nh, "content-id", "repeated Content-ID", &bad);
	if (bad)
		return -1;
	if (te != NULL)
		return fail(p, ODATA_BATCH_MALFORMED, te->pos, "Transfer-Encoding in a batched request");
	if (cid != NULL && cid->vlen == 0)
		return fail(p, ODATA_BATCH_MALFORMED, cid->pos, "empty Content-ID");
	if (cl != NULL) {
		size_t v = 0;

		if (cl->vlen == 0)
			return fail(p, ODATA_BATCH_MALFORMED, cl->pos, "malformed Content-Length");
		for (i = 0; i < cl->vlen; i++) {
			char c = cl->value[i];

			if (c < '0' || c > '9')
				return fail(p, ODATA_BATCH_MALFORMED, cl->pos, "malformed Content-Length");
			if (v > body_len / 10 || (size_t)(c - '0') > body_len - v * 10)
				return fail(p, ODATA_BATCH_MALFORMED, cl->pos,
				    "Content-Length beyond the end of the part");
			v = v * 10 + (size_t)(c - '0');
		}
		body_len = v;
	}

	node = alloc(p, sizeof(*node), s0);
	if (node == NULL)
		return -1;
	memset(node, 0, sizeof(*node));
	if (nh > 0) {
		hdrs = alloc(p, nh * sizeof(*hdrs), s0);
		if (hdrs == NULL)
			return -1;
		for (i = 0; i < nh; i++) {
			hdrs[i].name = copy(p, h[i].name, h[i].nlen, h[i].pos);
			hdrs[i].value = copy(p, h[i].value, h[i].vlen, h[i].pos);
		}
	}
	node->r.method = copy(p, line, m, s0);
	node->r.url = copy(p, line + m + 1, u - m - 1, s0);
	node->r.version_minor = minor;
	node->r.headers = hdrs;
	node->r.nheaders = nh;
	node->r.body = copy(p, p->s + cur, body_len, cur);
	node->r.body_len = body_len;
	node->r.content_id = cid != NULL ? copy(p, cid->value, cid->vlen, cid->pos) : NULL;
	node->r.pos = s0;
	if (p->failed)
		return -1;
	if (p->last_req != NULL)
		p->last_req->next = node;
	else
		p->reqs = node;
	p->last_req = node;
	p->nread++;
	return 0;
}

struct cid_ref {
	const char *id;
	size_t pos;
};

static int
cmp_cid(const void *a, const void *b)
{
	const struct cid_ref *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* No two requests from first on share a Content-ID. */
static int
check_cids(struct parser *p, const struct req_node *first, size_t n)
{
	struct cid_ref *ids;
	size_t k = 0, i, dup = SIZE_MAX;

	if (n < 2)
		return 0;
	ids = malloc(n * sizeof(*ids));
	if (ids == NULL)
		return fail(p, ODATA_BATCH_NOMEM, first->r.pos, NULL);
	for (; first != NULL; first = first->next)
		if (first->r.content_id != NULL) {
			ids[k].id = first->r.content_id;
			ids[k].pos = first->r.pos;
			k++;
		}
	if (k > 1)
		qsort(ids, k, sizeof(*ids), cmp_cid);
	for (i = 1; i < k; i++)
		if (strcmp(ids[i - 1].id, ids[i].id) == 0 && ids[i].pos < dup)
			dup = ids[i].pos;
	free(ids);
	if (dup != SIZE_MAX)
		return fail(p, ODATA_BATCH_MALFORMED, dup, "duplicate Content-ID in a change set");
	return 0;
}

static struct item_node *
add_item(struct parser *p, enum odata_batch_item_kind kind, size_t pos)
{
	struct item_node *it = alloc(p, sizeof(*it), pos);

	if (it == NULL)
		return NULL;
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->first = p->nread;
	if (p->last_item != NULL)
		p->last_item->next = it;
	else
		p->items = it;
	p->last_item = it;
	p->nitems++;
	return it;
}

static int parse_multipart(struct parser *p, size_t start, size_t end, const char *b, size_t blen,
    int depth);

static int
parse_changeset(struct parser *p, size_t s0, size_t cur, size_t end, const struct hslice *ct)
{
	char bnd[ODATA_BATCH_MAX_BOUNDARY + 1], *ctv;
	struct req_node *before = p->last_req;
	struct item_node *it;

	ctv = copy(p, ct->value, ct->vlen, ct->pos);
	if (ctv == NULL)
		return -1;
	if (odata_batch_boundary(ctv, bnd, sizeof(bnd)) != 0)
		return fail(p, ODATA_BATCH_MALFORMED, ct->pos, "change set without a valid boundary");
	it = add_item(p, ODATA_BATCH_CHANGESET, s0);
	if (it == NULL)
		return -1;
	it->boundary = copy(p, bnd, strlen(bnd), s0);
	if (it->boundary == NULL)
		return -1;
	if (parse_multipart(p, cur, end, bnd, strlen(bnd), 1) != 0)
		return -1;
	it->n = p->nread - it->first;
	if (it->n == 0)
		return fail(p, ODATA_BATCH_MALFORMED, s0, "empty change set");
	return check_cids(p, before != NULL ? before->next : p->reqs, it->n);
}

/* One part in [s0, end), the line break before the next delimiter
 * excluded. */
static int
parse_part(struct parser *p, size_t s0, size_t end, int depth)
{
	struct hslice h[ODATA_BATCH_MAX_HEADERS];
	const struct hslice *ct, *cid, *cte;
	size_t n, cur = s0;
	bool blank, bad = false;

	if (read_headers(p, &cur, end, h, &n, &blank) != 0)
		return -1;
	if (!blank)
		return fail(p, ODATA_BATCH_MALFORMED, s0, "part headers not followed by a blank line");
	ct = find_hdr(p, h, n, "content-type", "repeated Content-Type", &bad);
	cid = find_hdr(p, h, n, "content-id", "repeated Content-ID", &bad);
	cte = find_hdr(p, h, n, "content-transfer-encoding", "repeated Content-Transfer-Encoding", &bad);
	if (bad)
		return -1;
	if (ct == NULL)
		return fail(p, ODATA_BATCH_MALFORMED, s0, "part without Content-Type");
	if (cte != NULL && !eq_ci(cte->value, cte->vlen, "binary") &&
	    !eq_ci(cte->value, cte->vlen, "8bit") && !eq_ci(cte->value, cte->vlen, "7bit"))
		return fail(p, ODATA_BATCH_MALFORMED, cte->pos, "unsupported Content-Transfer-Encoding");
	if (media_is(ct->value, ct->vlen, "multipart/mixed")) {
		if (depth > 0)
			return fail(p, ODATA_BATCH_MALFORMED, s0, "change set inside a change set");
		return parse_changeset(p, s0, cur, end, ct);
	}
	if (!media_is(ct->value, ct->vlen, "application/http"))
		return fail(p, ODATA_BATCH_MALFORMED, ct->pos, "part Content-Type is not application/http");
	if (++p->nreqs > p->max)
		return fail(p, ODATA_BATCH_TOO_MANY, s0, NULL);
	if (depth == 0 && add_item(p, ODATA_BATCH_QUERY, s0) == NULL)
		return -1;
	if (parse_request(p, cur, end, depth, cid) != 0)
		return -1;
	if (depth == 0)
		p->last_item->n = 1;
	return 0;
}

static int
parse_multipart(struct parser *p, size_t start, size_t end, const char *b, size_t blen, int depth)
{
	const char *missing = depth > 0 ? "missing change set close delimiter" : "missing close delimiter";
	size_t pos, after = 0;
	enum delim k = find_delim(p, start, end, b, blen, &pos, &after);

	if (k == DELIM_NONE)
		return fail(p, ODATA_BATCH_MALFORMED, end, missing);
	while (k == DELIM_OPEN) {
		size_t part = after, e;

		k = find_delim(p, part, end, b, blen, &pos, &after);
		if (k == DELIM_NONE)
			return fail(p, ODATA_BATCH_MALFORMED, end, missing);
		/* the line break before the delimiter is the delimiter's */
		e = pos;
		if (e > part) {
			e--;
			if (e > part && p->s[e - 1] == '\r')
				e--;
		}
		if (parse_part(p, part, e, depth) != 0)
			return -1;
	}
	return 0;
}

/* Turns the lists into the arrays of the public structs. */
static struct odata_batch *
finish(struct parser *p)
{
	struct odata_batch *b = alloc(p, sizeof(*b), p->len);
	struct odata_batch_request *reqs = NULL;
	struct odata_batch_item *items = NULL;
	const struct req_node *r;
	const struct item_node *it;
	size_t i;

	if (b == NULL)
		return NULL;
	if (p->nread > 0 && (reqs = alloc(p, p->nread * sizeof(*reqs), p->len)) == NULL)
		return NULL;
	if (p->nitems > 0 && (items = alloc(p, p->nitems * sizeof(*items), p->len)) == NULL)
		return NULL;
	for (i = 0, r = p->reqs; r != NULL; r = r->next)
		reqs[i++] = r->r;
	for (i = 0, it = p->items; it != NULL; it = it->next, i++) {
		items[i].kind = it->kind;
		items[i].boundary = it->boundary;
		items[i].requests = reqs + it->first;
		items[i].nrequests = it->n;
	}
	b->items = items;
	b->nitems = p->nitems;
	b->nrequests = p->nread;
	b->arena = p->arena;
	return b;
}

int
odata_batch_parse(const char *body, size_t len, const char *boundary, size_t max_requests,
    struct odata_batch **out, struct odata_batch_error *err)
{
	struct odata_batch_error dummy;
	struct parser p;
	struct odata_batch *b;
	size_t blen;

	if (out == NULL)
		return -1;
	*out = NULL;
	memset(&dummy, 0, sizeof(dummy));
	memset(&p, 0, sizeof(p));
	p.s = body;
	p.len = len;
	p.max = max_requests;
	p.err = err != NULL ? err : &dummy;
	if (body == NULL && len > 0)
		return fail(&p, ODATA_BATCH_MALFORMED, 0, "no body");
	if (body == NULL)
		p.s = "";
	blen = boundary != NULL ? strnlen(boundary, ODATA_BATCH_MAX_BOUNDARY + 1) : 0;
	if (boundary == NULL || !valid_boundary(boundary, blen))
		return fail(&p, ODATA_BATCH_MALFORMED, 0, "invalid boundary");
	if (parse_multipart(&p, 0, len, boundary, blen, 0) != 0 || (b = finish(&p)) == NULL) {
		arena_free(p.arena);
		return -1;
	}
	*out = b;
	return 0;
}

const char *
odata_batch_header(const struct odata_batch_request *req, const char *name)
{
	size_t i, n;

	if (req == NULL || name == NULL)
		return NULL;
	n = strlen(name);
	for (i = 0; i < req->nheaders; i++) {
		const char *h = req->headers[i].name;
		size_t k;

		for (k = 0; k < n && h[k] != '\0' && lower(h[k]) == lower(name[k]); k++)
			;
		if (k == n && h[k] == '\0')
			return req->headers[i].value;
	}
	return NULL;
}

/* --------------------------------------------------------------- writer */

const char *
odata_batch_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{ 200, "OK" },
		{ 201, "Created" },
		{ 202, "Accepted" },
		{ 204, "No Content" },
		{ 304, "Not Modified" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" },
		{ 409, "Conflict" },
		{ 410, "Gone" },
		{ 412, "Precondition Failed" },
		{ 413, "Payload Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 422, "Unprocessable Entity" },
		{ 428, "Precondition Required" },
		{ 429, "Too Many Requests" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "";
}

/* Appends s with every CR and LF written as a space. */
static void
add_clean(struct strbuf *b, const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, "\r\n");

		strbuf_add(b, s, n);
		s += n;
		if (*s != '\0') {
			strbuf_addc(b, ' ');
			s++;
		}
	}
}

static void
add_header(struct strbuf *b, const char *name, const char *value)
{
	add_clean(b, name);
	strbuf_add(b, ": ", 2);
	add_clean(b, value);
	strbuf_add(b, "\r\n", 2);
}

/* A response part without its delimiter. */
static void
write_part(struct strbuf *b, const struct odata_batch_response *r)
{
	int status = r->status >= 100 && r->status <= 999 ? r->status : 500;
	size_t i;

	strbuf_adds(b, "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
	if (r->content_id != NULL)
		add_header(b, "Content-ID", r->content_id);
	strbuf_addf(b, "\r\nHTTP/1.1 %d ", status);
	add_clean(b, r->reason != NULL ? r->reason : odata_batch_reason(status));
	strbuf_add(b, "\r\n", 2);
	for (i = 0; i < r->nheaders; i++)
		add_header(b, r->headers[i].name ? r->headers[i].name : "",
		    r->headers[i].value ? r->headers[i].value : "");
	if (r->content_type != NULL)
		add_header(b, "Content-Type", r->content_type);
	if (r->body != NULL)
		strbuf_addf(b, "Content-Length: %zu\r\n", r->body_len);
	strbuf_add(b, "\r\n", 2);
	if (r->body != NULL)
		strbuf_add(b, r->body, r->body_len);
}

/* The delimiter of the next top-level part. */
static void
top_delim(struct odata_batch_writer *w)
{
	if (w->nparts++ > 0)
		strbuf_add(w->out, "\r\n", 2);
	strbuf_add(w->out, "--", 2);
	strbuf_adds(w->out, w->boundary);
	strbuf_add(w->out, "\r\n", 2);
}

void
odata_batch_writer_init(struct odata_batch_writer *w, struct strbuf *out, const char *boundary)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->boundary = boundary;
	strbuf_init(&w->cs);
}

void
odata_batch_write_response(struct odata_batch_writer *w, const struct odata_batch_response *r)
{
	if (!w->in_changeset) {
		top_delim(w);
		write_part(w->out, r);
		return;
	}
	if (w->cs_n == w->cs_cap) {
		size_t cap = w->cs_cap ? w->cs_cap * 2 : 8;
		size_t *e = realloc(w->cs_ends, cap * sizeof(*e));

		if (e == NULL) {
			w->out->failed = true;
			return;
		}
		w->cs_ends = e;
		w->cs_cap = cap;
	}
	write_part(&w->cs, r);
	w->cs_ends[w->cs_n++] = w->cs.len;
}

void
odata_batch_write_begin_changeset(struct odata_batch_writer *w)
{
	if (w->in_changeset)
		odata_batch_write_end_changeset(w);
	w->in_changeset = true;
	w->cs_n = 0;
	strbuf_reset(&w->cs);
}

/* s[0..n) contains the NUL-terminated needle. */
static bool
contains(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	const char *p = s, *end = s + n;

	while ((size_t)(end - p) >= k) {
		p = memchr(p, needle[0], (size_t)(end - p) - k + 1);
		if (p == NULL)
			return false;
		if (memcmp(p, needle, k) == 0)
			return true;
		p++;
	}
	return false;
}

void
odata_batch_write_abort_changeset(struct odata_batch_writer *w)
{
	w->in_changeset = false;
	w->cs_n = 0;
	if (w->cs.failed)
		strbuf_free(&w->cs);	/* clears the sticky failure */
	else
		strbuf_reset(&w->cs);
}

void
odata_batch_write_end_changeset(struct odata_batch_writer *w)
{
	char name[40], delim[48];
	size_t i, start = 0;

	if (!w->in_changeset)
		return;
	if (w->cs.failed)
		w->out->failed = true;
	if (w->cs_n == 0 || w->cs.failed) {
		odata_batch_write_abort_changeset(w);
		return;
	}
	do {
		w->changesets++;
		snprintf(name, sizeof(name), "changesetresponse_%lu", w->changesets);
		snprintf(delim, sizeof(delim), "--%s", name);
	} while (contains(w->cs.s, w->cs.len, delim) || strcmp(name, w->boundary) == 0);
	top_delim(w);
	strbuf_addf(w->out, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n", name);
	for (i = 0; i < w->cs_n; i++) {
		if (i > 0)
			strbuf_add(w->out, "\r\n", 2);
		strbuf_addf(w->out, "%s\r\n", delim);
		strbuf_add(w->out, w->cs.s + start, w->cs_ends[i] - start);
		start = w->cs_ends[i];
	}
	strbuf_addf(w->out, "\r\n%s--", delim);
	odata_batch_write_abort_changeset(w);
}

void
odata_batch_write_end(struct odata_batch_writer *w)
{
	odata_batch_write_end_changeset(w);
	if (w->nparts > 0)
		strbuf_add(w->out, "\r\n", 2);
	strbuf_add(w->out, "--", 2);
	strbuf_adds(w->out, w->boundary);
	strbuf_add(w->out, "--\r\n", 4);
	odata_batch_writer_free(w);
}

void
odata_batch_writer_free(struct odata_batch_writer *w)
{
	strbuf_free(&w->cs);
	free(w->cs_ends);
	w->cs_ends = NULL;
	w->cs_n = w->cs_cap = 0;
	w->in_changeset = false;
}
