/* httpparse — see httpparse.h. This is the boundary between hostile bytes
 * and the rest of webhookd, so every function here works only inside the
 * [buf, buf + len) it was given, allocates nothing and, where a rule in
 * RFC 9110/9112 leaves room for leniency, picks the strict reading: a
 * request we refuse costs a 400, one we read differently from a proxy in
 * front of us is a smuggling hole. */
#include "httpparse.h"

#include <limits.h>
#include <string.h>

/* POSIX puts SSIZE_MAX in limits.h only with a feature macro (the Makefile
 * sets _GNU_SOURCE); keep the file buildable without one. */
#ifndef SSIZE_MAX
#define SSIZE_MAX ((ssize_t)(SIZE_MAX >> 1))
#endif

#define METHOD_MAX     20
#define CHUNK_LINE_MAX 4096               /* size/extension/trailer line */
#define CL_MAX         9007199254740992LL /* 2^53: exact in a JSON number */

/* ---- character classes -------------------------------------------------- */

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar / SP / HTAB, obs-text included (RFC 9110 5.5): everything
 * but NUL, the other CTLs (bare CR among them) and DEL. */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ASCII-only case folding: strcasecmp would follow the locale. */
static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool ieq_n(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] == '\0' || lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return b[alen] == '\0';
}

static bool ieq(const char *a, const char *b)
{
	return ieq_n(a, strlen(a), b);
}

/* ---- head framing ------------------------------------------------------- */

/* A line is [start, end) without its CR LF or LF; next is the offset after
 * the LF. */
struct line {
	size_t start, end, next;
};

static bool next_line(const char *buf, size_t len, size_t pos, struct line *ln)
{
	const char *lf;

	if (pos >= len)
		return false;
	lf = memchr(buf + pos, '\n', len - pos);
	if (!lf)
		return false;
	ln->start = pos;
	ln->end = (size_t)(lf - buf);
	ln->next = ln->end + 1;
	if (ln->end > pos && buf[ln->end - 1] == '\r')
		ln->end--;
	return true;
}

/* Offset of the request line: RFC 9112 2.2 lets a server skip empty lines
 * sent before it (old clients add a CRLF after a POST body). */
static size_t skip_empty_lines(const char *buf, size_t len)
{
	size_t pos = 0;

	for (;;) {
		if (pos < len && buf[pos] == '\n')
			pos++;
		else if (pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n')
			pos += 2;
		else
			return pos;
	}
}

size_t http_head_length(const char *buf, size_t len)
{
	size_t pos = skip_empty_lines(buf, len);
	struct line ln;

	/* The first line is the request line and never empty here, so the
	 * head ends at the first line end followed by LF or CR LF. */
	while (next_line(buf, len, pos, &ln)) {
		pos = ln.next;
		if (pos < len && buf[pos] == '\n')
			return pos + 1;
		if (pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n')
			return pos + 2;
	}
	return 0;
}

/* ---- request line ------------------------------------------------------- */

static int fail(const char **why, int status, const char *reason)
{
	*why = reason;
	return status;
}

static enum http_method method_of(const char *m)
{
	static const struct {
		const char *name;
		enum http_method method;
	} methods[] = {
		{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
		{ "PUT", HTTP_PUT }, { "PATCH", HTTP_PATCH }, { "MERGE", HTTP_MERGE },
		{ "DELETE", HTTP_DELETE }, { "OPTIONS", HTTP_OPTIONS },
	};
	size_t i;

	/* Methods are case-sensitive (RFC 9110 9.1): "get" is not GET. */
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].method;
	return HTTP_OTHER;
}

/* HTTP-version is case-sensitive "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3). */
static int parse_version(const char *v, size_t n, int *minor, const char **why)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9')
		return fail(why, HTTP_PARSE_BAD_REQUEST, "malformed HTTP version");
	if (v[5] != '1' || v[7] > '1')
		return fail(why, HTTP_PARSE_VERSION, "unsupported HTTP version");
	*minor = v[7] - '0';
	return HTTP_PARSE_OK;
}

/* method SP request-target SP HTTP-version, with exactly one SP each: a
 * lenient split is where request-line smuggling starts. */
static int parse_request_line(char *buf, const struct line *ln,
                              struct http_head *head, const char **why)
{
	size_t p = ln->start, t;

	while (p < ln->end && is_tchar((unsigned char)buf[p]))
		p++;
	if (p == ln->start || p - ln->start > METHOD_MAX)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "invalid method");
	if (p == ln->end || buf[p] != ' ')
		return fail(why, HTTP_PARSE_BAD_REQUEST, "malformed request line");
	buf[p] = '\0';
	head->method_str = buf + ln->start;
	head->method = method_of(head->method_str);

	t = ++p;
	while (p < ln->end && (unsigned char)buf[p] >= 0x21 && (unsigned char)buf[p] <= 0x7e)
		p++;
	if (p == t || (p < ln->end && buf[p] != ' '))
		return fail(why, HTTP_PARSE_BAD_REQUEST, "invalid request target");
	if (p == ln->end)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "malformed request line");
	buf[p] = '\0';
	head->target = buf + t;
	p++;
	return parse_version(buf + p, ln->end - p, &head->minor, why);
}

/* ---- header fields ------------------------------------------------------ */

static int parse_header_line(char *buf, const struct line *ln,
                             struct http_header *h, const char **why)
{
	size_t p = ln->start, v, vend;

	/* obs-fold: RFC 9112 5.2 allows rejecting it, and we must not guess. */
	if (is_ows((unsigned char)buf[p]))
		return fail(why, HTTP_PARSE_BAD_REQUEST, "obsolete line folding");
	while (p < ln->end && is_tchar((unsigned char)buf[p]))
		p++;
	if (p == ln->end)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "header line without colon");
	/* RFC 9112 5.1: whitespace before the colon MUST be rejected. */
	if (is_ows((unsigned char)buf[p]))
		return fail(why, HTTP_PARSE_BAD_REQUEST, "whitespace before colon in header");
	if (p == ln->start || buf[p] != ':')
		return fail(why, HTTP_PARSE_BAD_REQUEST, "invalid header name");
	buf[p] = '\0';
	h->name = buf + ln->start;

	for (v = p + 1; v < ln->end; v++)
		if (!is_field_char((unsigned char)buf[v]))
			return fail(why, HTTP_PARSE_BAD_REQUEST, "invalid character in header value");
	v = p + 1;
	while (v < ln->end && is_ows((unsigned char)buf[v]))
		v++;
	vend = ln->end;
	while (vend > v && is_ows((unsigned char)buf[vend - 1]))
		vend--;
	/* vend <= ln->end, which is the CR or LF: always ours to overwrite. */
	buf[vend] = '\0';
	h->value = buf + v;
	return HTTP_PARSE_OK;
}

/* ---- derived fields ----------------------------------------------------- */

/* What the framing- and connection-relevant headers said, gathered in one
 * pass and judged afterwards so that the checks run in a fixed order. */
struct framing {
	const char *cl;      /* first Content-Length value */
	bool cl_conflict;
	size_t nte;
	const char *te;      /* first Transfer-Encoding value */
	size_t nhost;
	bool conn_close, conn_keep_alive;
	bool expect_other, expect_continue;
};

/* 1*DIGIT, at most 2^53. No sign, no spaces, no hex, no list ("5, 5"). */
static bool parse_content_length(const char *s, int64_t *out)
{
	int64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
		if (v > CL_MAX)  /* checked every digit, so v * 10 never overflows */
			return false;
	}
	*out = v;
	return true;
}

/* Connection = #connection-option; unknown options (Upgrade, TE, ...) are
 * ignored here. */
static void scan_connection(const char *s, struct framing *f)
{
	for (;;) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		const char *tok = s;

		while (n > 0 && is_ows((unsigned char)*tok)) {
			tok++;
			n--;
		}
		while (n > 0 && is_ows((unsigned char)tok[n - 1]))
			n--;
		if (ieq_n(tok, n, "close"))
			f->conn_close = true;
		else if (ieq_n(tok, n, "keep-alive"))
			f->conn_keep_alive = true;
		if (!e)
			return;
		s = e + 1;
	}
}

static void scan_header(const struct http_header *h, struct framing *f)
{
	if (ieq(h->name, "Content-Length")) {
		/* Byte-identical duplicates only: "5" vs "05" is not worth the
		 * risk that some other hop reads one of them differently. */
		if (!f->cl)
			f->cl = h->value;
		else if (strcmp(f->cl, h->value) != 0)
			f->cl_conflict = true;
	} else if (ieq(h->name, "Transfer-Encoding")) {
		if (!f->te)
			f->te = h->value;
		f->nte++;
	} else if (ieq(h->name, "Host")) {
		f->nhost++;
	} else if (ieq(h->name, "Connection")) {
		scan_connection(h->value, f);
	} else if (ieq(h->name, "Expect")) {
		if (ieq(h->value, "100-continue"))
			f->expect_continue = true;
		else
			f->expect_other = true;
	}
}

/* Message framing first (RFC 9112 6.1-6.3): these errors mean we cannot
 * know where the body ends, so they outrank everything else. */
static int check_framing(const struct framing *f, struct http_head *head, const char **why)
{
	if (f->cl_conflict)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "conflicting Content-Length");
	if (f->cl && !parse_content_length(f->cl, &head->content_length))
		return fail(why, HTTP_PARSE_BAD_REQUEST, "invalid Content-Length");
	if (f->nte == 0)
		return HTTP_PARSE_OK;
	if (head->minor == 0)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "Transfer-Encoding in HTTP/1.0");
	if (f->cl)
		return fail(why, HTTP_PARSE_BAD_REQUEST,
		            "Transfer-Encoding and Content-Length together");
	/* A second header is a list too: "chunked" twice is "chunked, chunked". */
	if (f->nte > 1 || !ieq(f->te, "chunked"))
		return fail(why, HTTP_PARSE_NOT_IMPLEMENTED, "unsupported Transfer-Encoding");
	head->chunked = true;
	return HTTP_PARSE_OK;
}

static int derive(struct http_head *head, const char **why)
{
	struct framing f;
	size_t i;
	int rc;

	memset(&f, 0, sizeof(f));
	for (i = 0; i < head->nheaders; i++)
		scan_header(&head->headers[i], &f);
	rc = check_framing(&f, head, why);
	if (rc != HTTP_PARSE_OK)
		return rc;
	if (f.nhost > 1)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "more than one Host header");
	if (f.nhost == 0 && head->minor == 1)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "missing Host header");
	if (f.expect_other)
		return fail(why, HTTP_PARSE_EXPECTATION, "unsupported Expect");
	/* RFC 9110 10.1.1: ignore 100-continue from an HTTP/1.0 client. */
	head->expect_continue = f.expect_continue && head->minor == 1;
	head->keep_alive = head->minor == 1 ? !f.conn_close
	                                    : f.conn_keep_alive && !f.conn_close;
	return HTTP_PARSE_OK;
}

/* ---- http_parse_head ---------------------------------------------------- */

static void head_init(struct http_head *head)
{
	memset(head, 0, sizeof(*head));
	head->method = HTTP_OTHER;
	head->method_str = "";
	head->target = "";
	head->content_length = -1;
}

int http_parse_head(char *buf, size_t len, struct http_head *head, const char **why)
{
	const char *ignored;
	struct line ln;
	size_t pos;
	int rc;

	if (!why)
		why = &ignored;
	*why = NULL;
	if (!head)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "no request head");
	head_init(head);
	if (!buf)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "no request head");

	pos = skip_empty_lines(buf, len);
	if (!next_line(buf, len, pos, &ln))
		return fail(why, HTTP_PARSE_BAD_REQUEST, "incomplete request head");
	rc = parse_request_line(buf, &ln, head, why);
	if (rc != HTTP_PARSE_OK)
		return rc;
	for (;;) {
		if (!next_line(buf, len, ln.next, &ln))
			return fail(why, HTTP_PARSE_BAD_REQUEST, "incomplete request head");
		if (ln.start == ln.end)
			break;
		if (head->nheaders == HTTP_MAX_HEADERS)
			return fail(why, HTTP_PARSE_TOO_MANY_HEADERS, "too many header fields");
		rc = parse_header_line(buf, &ln, &head->headers[head->nheaders], why);
		if (rc != HTTP_PARSE_OK)
			return rc;
		head->nheaders++;
	}
	/* len must be exactly http_head_length(): bytes after the empty line
	 * are body, and a caller that passed them expects them parsed. */
	if (ln.next != len)
		return fail(why, HTTP_PARSE_BAD_REQUEST, "bytes after the request head");
	return derive(head, why);
}

const char *http_head_get(const struct http_head *head, const char *name)
{
	size_t i;

	for (i = 0; i < head->nheaders; i++)
		if (ieq(head->headers[i].name, name))
			return head->headers[i].value;
	return NULL;
}

/* ---- chunked transfer coding -------------------------------------------- */

/* One state per position in RFC 9112 7.1's grammar. CH_SIZE is 0 so that
 * a zeroed struct starts at the first chunk-size. */
enum {
	CH_SIZE = 0,     /* chunk-size digits; linelen counts them */
	CH_SIZE_WS,      /* BWS after the size, only before a ';' */
	CH_EXT,          /* chunk-ext, skipped */
	CH_SIZE_LF,      /* CR seen at the end of the size line */
	CH_DATA,         /* remaining bytes of chunk-data */
	CH_DATA_CR,      /* CRLF after chunk-data */
	CH_DATA_LF,
	CH_TRAILER_NAME, /* start of a trailer line, or its field-name */
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,   /* CR seen at the end of a trailer field */
	CH_END_LF,       /* CR seen on the final empty line */
	CH_DONE,
	CH_ERROR
};

#define CH_FAIL (-1)
#define CH_MORE 0
#define CH_END  1

static int set_state(struct http_chunked *c, int next)
{
	c->state = next;
	return CH_MORE;
}

/* Count a byte against the line limit: a peer must not keep us parsing one
 * line forever, even though nothing is buffered. */
static int line_byte(struct http_chunked *c, int next)
{
	if (++c->linelen > CHUNK_LINE_MAX)
		return CH_FAIL;
	c->state = next;
	return CH_MORE;
}

static int size_line_done(struct http_chunked *c)
{
	c->linelen = 0;
	c->state = c->remaining ? CH_DATA : CH_TRAILER_NAME;
	return CH_MORE;
}

static int trailer_line_done(struct http_chunked *c)
{
	c->linelen = 0;
	c->state = CH_TRAILER_NAME;
	return CH_MORE;
}

static int size_byte(struct http_chunked *c, unsigned char b)
{
	int d = hex_value(b);

	if (d >= 0) {
		/* 16 digits fill a uint64_t exactly: a 17th always overflows
		 * or is a padding game; either way, refuse. */
		if (c->linelen == 16)
			return CH_FAIL;
		c->remaining = c->remaining << 4 | (uint64_t)d;
		c->linelen++;
		return CH_MORE;
	}
	if (c->linelen == 0)
		return CH_FAIL;
	if (b == ';')
		return line_byte(c, CH_EXT);
	if (is_ows(b))
		return line_byte(c, CH_SIZE_WS);
	if (b == '\r')
		return set_state(c, CH_SIZE_LF);
	if (b == '\n')
		return size_line_done(c);
	return CH_FAIL;
}

static int trailer_byte(struct http_chunked *c, unsigned char b)
{
	if (c->state == CH_TRAILER_NAME) {
		if (c->linelen == 0 && b == '\r')
			return set_state(c, CH_END_LF);
		if (c->linelen == 0 && b == '\n')
			return CH_END;
		if (is_tchar(b))
			return line_byte(c, CH_TRAILER_NAME);
		if (b == ':' && c->linelen > 0)
			return line_byte(c, CH_TRAILER_VALUE);
		return CH_FAIL;
	}
	/* CH_TRAILER_VALUE: the same rules as a header value. */
	if (b == '\r')
		return set_state(c, CH_TRAILER_LF);
	if (b == '\n')
		return trailer_line_done(c);
	if (is_field_char(b))
		return line_byte(c, CH_TRAILER_VALUE);
	return CH_FAIL;
}

/* The line end after chunk-data is mandatory: without it the next "size"
 * would be whatever the sender appended to the chunk. */
static int data_end(struct http_chunked *c, unsigned char b)
{
	if (b != '\n')
		return CH_FAIL;
	c->state = CH_SIZE;
	c->linelen = 0;
	c->remaining = 0;
	return CH_MORE;
}

/* Feed one byte outside chunk-data. */
static int chunk_byte(struct http_chunked *c, unsigned char b)
{
	switch (c->state) {
	case CH_SIZE:
		return size_byte(c, b);
	case CH_SIZE_WS:
		if (is_ows(b))
			return line_byte(c, CH_SIZE_WS);
		return b == ';' ? line_byte(c, CH_EXT) : CH_FAIL;
	case CH_EXT:
		if (b == '\r')
			return set_state(c, CH_SIZE_LF);
		if (b == '\n')
			return size_line_done(c);
		return is_field_char(b) ? line_byte(c, CH_EXT) : CH_FAIL;
	case CH_SIZE_LF:
		return b == '\n' ? size_line_done(c) : CH_FAIL;
	case CH_DATA_CR:
		if (b == '\r')
			return set_state(c, CH_DATA_LF);
		return data_end(c, b);  /* a bare LF, as everywhere else */
	case CH_DATA_LF:
		return data_end(c, b);
	case CH_TRAILER_NAME:
	case CH_TRAILER_VALUE:
		return trailer_byte(c, b);
	case CH_TRAILER_LF:
		return b == '\n' ? trailer_line_done(c) : CH_FAIL;
	case CH_END_LF:
		return b == '\n' ? CH_END : CH_FAIL;
	default:
		return CH_FAIL;
	}
}

ssize_t http_chunked_decode(struct http_chunked *c, const char *in, size_t inlen,
                            char *out, size_t *outlen)
{
	size_t i = 0, o = 0;

	*outlen = 0;
	if (c->state == CH_ERROR)
		return -1;
	if (c->done || c->state == CH_DONE)
		return 0;
	if (inlen > SSIZE_MAX)
		inlen = SSIZE_MAX;  /* the return type cannot say more */
	while (i < inlen) {
		if (c->state == CH_DATA) {
			size_t n = inlen - i;

			if ((uint64_t)n > c->remaining)
				n = (size_t)c->remaining;
			/* memmove: decoding in place (out == in) is allowed,
			 * as output never gets ahead of input. */
			memmove(out + o, in + i, n);
			o += n;
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		switch (chunk_byte(c, (unsigned char)in[i++])) {
		case CH_FAIL:
			c->state = CH_ERROR;
			*outlen = o;
			return -1;
		case CH_END:
			c->state = CH_DONE;
			c->done = true;
			*outlen = o;
			return (ssize_t)i;
		default:
			break;
		}
	}
	*outlen = o;
	return (ssize_t)i;
}

/* ---- request-target helpers --------------------------------------------- */

int http_split_target(char *target, char **path, char **query)
{
	char *q;

	if (!target || target[0] != '/')
		return -1;
	q = strchr(target, '?');
	*path = target;
	if (q) {
		*q = '\0';
		*query = q + 1;
	} else {
		*query = target + strlen(target);  /* "" that is ours to write */
	}
	return 0;
}

int http_pct_decode(char *s, size_t *len, bool plus_as_space)
{
	size_t i, o = 0, n = *len;

	/* Validate before writing so that a rejected string is left intact
	 * for the error message. */
	for (i = 0; i < n; i++) {
		if (s[i] == '\0')
			return -1;
		if (s[i] != '%')
			continue;
		if (n - i < 3 || hex_value((unsigned char)s[i + 1]) < 0 ||
		    hex_value((unsigned char)s[i + 2]) < 0)
			return -1;
		if (s[i + 1] == '0' && s[i + 2] == '0')
			return -1;  /* a NUL would cut every C string after us */
		i += 2;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			s[o++] = (char)(hex_value((unsigned char)s[i + 1]) << 4 |
			                hex_value((unsigned char)s[i + 2]));
			i += 2;
		} else {
			s[o++] = plus_as_space && s[i] == '+' ? ' ' : s[i];
		}
	}
	s[o] = '\0';
	*len = o;
	return 0;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default:  return "Unknown";
	}
}
