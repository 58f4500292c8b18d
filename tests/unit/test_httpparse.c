/* Unit tests for service/httpparse.c. Every input is copied into a heap
 * buffer of exactly its length so that ASan flags any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "httpparse.h"

/* A literal and its length, so that inputs may contain NUL bytes. */
#define RAW(s) s, sizeof(s) - 1
#define ALL    SIZE_MAX /* expected head length: the whole input */

static char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	if (n)
		memcpy(p, s, n);
	return p;
}

/* ---- http_head_length + http_parse_head --------------------------------- */

struct head_case {
	const char *name;
	const char *raw;
	size_t rawlen;
	size_t head_len;          /* ALL, 0 (incomplete) or a byte count */
	int status;
	enum http_method method;
	const char *target;
	int minor;
	int64_t content_length;
	bool chunked, keep_alive, expect_continue;
	const char *hname, *hvalue; /* lookup; hvalue NULL = must be absent */
	const char *why;            /* the reason on failure */
};

#define H11 "Host: example.com\r\n"
#define OK  HTTP_PARSE_OK
#define BAD HTTP_PARSE_BAD_REQUEST
/* the rest of a case that must fail: head length, status, reason */
#define FAIL(hl, st, why) hl, st, HTTP_OTHER, NULL, 0, 0, false, false, false, NULL, NULL, why

static const struct head_case head_cases[] = {
	/* well-formed */
	{ "simple GET", RAW("GET / HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "host", "example.com", NULL },
	{ "HEAD 1.0 without Host", RAW("HEAD /x?y=1 HTTP/1.0\r\n\r\n"), ALL, OK,
	  HTTP_HEAD, "/x?y=1", 0, -1, false, false, false, "Host", NULL, NULL },
	{ "POST with body after head", RAW("POST /a HTTP/1.1\r\n" H11 "Content-Length: 5\r\n\r\nhello"),
	  58, OK, HTTP_POST, "/a", 1, 5, false, true, false, "content-length", "5", NULL },
	{ "PUT", RAW("PUT /p HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_PUT, "/p", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "PATCH", RAW("PATCH /p HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_PATCH, "/p", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "MERGE", RAW("MERGE /p HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_MERGE, "/p", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "DELETE", RAW("DELETE /p HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_DELETE, "/p", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "OPTIONS *", RAW("OPTIONS * HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_OPTIONS, "*", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "unknown method", RAW("M-SEARCH /p HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_OTHER, "/p", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "methods are case-sensitive", RAW("get /p HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_OTHER, "/p", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "20-char method", RAW("ABCDEFGHIJKLMNOPQRST / HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_OTHER, "/", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "absolute-form target", RAW("GET http://x/y HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_GET, "http://x/y", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "leading blank lines", RAW("\r\n\n\r\nGET / HTTP/1.1\r\n" H11 "\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "Host", "example.com", NULL },
	{ "bare LF", RAW("GET / HTTP/1.1\nHost: a\nX-Y: z\n\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "x-y", "z", NULL },
	{ "CRLF then LF terminator", RAW("GET / HTTP/1.1\r\nHost: a\r\n\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "Host", "a", NULL },
	{ "LF then CRLF terminator", RAW("GET / HTTP/1.1\nHost: a\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "Host", "a", NULL },
	{ "OWS trimmed, inner kept", RAW("GET / HTTP/1.1\r\n" H11 "X-A: \t a \t b \t\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "x-a", "a \t b", NULL },
	{ "empty value", RAW("GET / HTTP/1.1\r\n" H11 "X-E:\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "X-E", "", NULL },
	{ "OWS-only value", RAW("GET / HTTP/1.1\r\n" H11 "X-E: \t \r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "X-E", "", NULL },
	{ "obs-text in value", RAW("GET / HTTP/1.1\r\n" H11 "X-N: caf\xc3\xa9\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "x-n", "caf\xc3\xa9", NULL },
	{ "first header wins", RAW("GET / HTTP/1.1\r\n" H11 "X-D: 1\r\nx-d: 2\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, "X-D", "1", NULL },
	{ "1.0 Connection: Keep-Alive", RAW("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 0, -1, false, true, false, NULL, NULL, NULL },
	{ "1.0 keep-alive in a list", RAW("GET / HTTP/1.0\r\nConnection: foo ,keep-alive\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 0, -1, false, true, false, NULL, NULL, NULL },
	{ "1.0 keep-alive, close", RAW("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 0, -1, false, false, false, NULL, NULL, NULL },
	{ "1.1 Connection: Upgrade, close", RAW("GET / HTTP/1.1\r\n" H11 "Connection: Upgrade, close\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, false, false, NULL, NULL, NULL },
	{ "1.1 close in second header", RAW("GET / HTTP/1.1\r\n" H11 "Connection: x\r\nConnection: ,, CLOSE \t\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, false, false, NULL, NULL, NULL },
	{ "1.1 closed is not close", RAW("GET / HTTP/1.1\r\n" H11 "Connection: closed\r\n\r\n"), ALL, OK,
	  HTTP_GET, "/", 1, -1, false, true, false, NULL, NULL, NULL },
	{ "chunked", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\n\r\n"), ALL, OK,
	  HTTP_POST, "/", 1, -1, true, true, false, NULL, NULL, NULL },
	{ "Chunked, OWS", RAW("POST / HTTP/1.1\r\n" H11 "transfer-encoding:  CHUNKED \t\r\n\r\n"), ALL, OK,
	  HTTP_POST, "/", 1, -1, true, true, false, NULL, NULL, NULL },
	{ "identical Content-Length twice", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\ncontent-length: 5\r\n\r\n"), ALL, OK,
	  HTTP_POST, "/", 1, 5, false, true, false, NULL, NULL, NULL },
	{ "Content-Length 0", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 0\r\n\r\n"), ALL, OK,
	  HTTP_POST, "/", 1, 0, false, true, false, NULL, NULL, NULL },
	{ "Content-Length leading zeros", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 00012\r\n\r\n"), ALL, OK,
	  HTTP_POST, "/", 1, 12, false, true, false, NULL, NULL, NULL },
	{ "Content-Length 2^53", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 9007199254740992\r\n\r\n"), ALL, OK,
	  HTTP_POST, "/", 1, 9007199254740992LL, false, true, false, NULL, NULL, NULL },
	{ "Expect: 100-continue", RAW("POST / HTTP/1.1\r\n" H11 "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n"), ALL, OK,
	  HTTP_POST, "/", 1, 3, false, true, true, NULL, NULL, NULL },
	{ "1.0 Expect: 100-continue ignored", RAW("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), ALL, OK,
	  HTTP_POST, "/", 0, -1, false, false, false, NULL, NULL, NULL },

	/* request smuggling */
	{ "CL + TE", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), FAIL(ALL, BAD, "Transfer-Encoding and Content-Length together") },
	{ "TE + CL", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), FAIL(ALL, BAD, "Transfer-Encoding and Content-Length together") },
	{ "TE gzip + CL", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n"), FAIL(ALL, BAD, "Transfer-Encoding and Content-Length together") },
	{ "TE chunked in 1.0", RAW("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), FAIL(ALL, BAD, "Transfer-Encoding in HTTP/1.0") },
	{ "differing Content-Length", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), FAIL(ALL, BAD, "conflicting Content-Length") },
	{ "5 and 05 differ", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\nContent-Length: 05\r\n\r\n"), FAIL(ALL, BAD, "conflicting Content-Length") },
	{ "CL +5", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: +5\r\n\r\n"), FAIL(ALL, BAD, "invalid Content-Length") },
	{ "CL -1", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: -1\r\n\r\n"), FAIL(ALL, BAD, "invalid Content-Length") },
	{ "CL inner space", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5 5\r\n\r\n"), FAIL(ALL, BAD, "invalid Content-Length") },
	{ "CL hex", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 0x5\r\n\r\n"), FAIL(ALL, BAD, "invalid Content-Length") },
	{ "CL list", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5, 5\r\n\r\n"), FAIL(ALL, BAD, "invalid Content-Length") },
	{ "CL empty", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length:\r\n\r\n"), FAIL(ALL, BAD, "invalid Content-Length") },
	{ "CL 2^53+1", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 9007199254740993\r\n\r\n"), FAIL(ALL, BAD, "invalid Content-Length") },
	{ "CL 2^64+1", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 18446744073709551617\r\n\r\n"), FAIL(ALL, BAD, "invalid Content-Length") },
	{ "TE chunked, identity", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked, identity\r\n\r\n"), FAIL(ALL, HTTP_PARSE_NOT_IMPLEMENTED, "unsupported Transfer-Encoding") },
	{ "TE gzip, chunked", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), FAIL(ALL, HTTP_PARSE_NOT_IMPLEMENTED, "unsupported Transfer-Encoding") },
	{ "TE chunked, chunked", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"), FAIL(ALL, HTTP_PARSE_NOT_IMPLEMENTED, "unsupported Transfer-Encoding") },
	{ "TE twice", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), FAIL(ALL, HTTP_PARSE_NOT_IMPLEMENTED, "unsupported Transfer-Encoding") },
	{ "TE identity", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: identity\r\n\r\n"), FAIL(ALL, HTTP_PARSE_NOT_IMPLEMENTED, "unsupported Transfer-Encoding") },
	{ "TE chunked;x", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked;x\r\n\r\n"), FAIL(ALL, HTTP_PARSE_NOT_IMPLEMENTED, "unsupported Transfer-Encoding") },

	/* header syntax */
	{ "obs-fold", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\r\n b\r\n\r\n"), FAIL(ALL, BAD, "obsolete line folding") },
	{ "first header folded", RAW("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n"), FAIL(ALL, BAD, "obsolete line folding") },
	{ "space before colon", RAW("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), FAIL(ALL, BAD, "whitespace before colon in header") },
	{ "tab before colon", RAW("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), FAIL(ALL, BAD, "whitespace before colon in header") },
	{ "empty header name", RAW("GET / HTTP/1.1\r\n" H11 ": a\r\n\r\n"), FAIL(ALL, BAD, "invalid header name") },
	{ "no colon", RAW("GET / HTTP/1.1\r\n" H11 "NoColon\r\n\r\n"), FAIL(ALL, BAD, "header line without colon") },
	{ "CTL in name", RAW("GET / HTTP/1.1\r\n" H11 "X-\x01: a\r\n\r\n"), FAIL(ALL, BAD, "invalid header name") },
	{ "non-ASCII in name", RAW("GET / HTTP/1.1\r\n" H11 "X-\xc3\xa9: a\r\n\r\n"), FAIL(ALL, BAD, "invalid header name") },
	{ "NUL in value", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\0b\r\n\r\n"), FAIL(ALL, BAD, "invalid character in header value") },
	{ "NUL in name", RAW("GET / HTTP/1.1\r\n" H11 "X\0A: b\r\n\r\n"), FAIL(ALL, BAD, "invalid header name") },
	{ "bare CR in value", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\rb\r\n\r\n"), FAIL(ALL, BAD, "invalid character in header value") },
	{ "CR CR LF", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\r\r\n\r\n"), FAIL(ALL, BAD, "invalid character in header value") },
	{ "DEL in value", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\x7f\r\n\r\n"), FAIL(ALL, BAD, "invalid character in header value") },
	{ "VT in value", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\vb\r\n\r\n"), FAIL(ALL, BAD, "invalid character in header value") },
	{ "missing Host on 1.1", RAW("GET / HTTP/1.1\r\nX-A: a\r\n\r\n"), FAIL(ALL, BAD, "missing Host header") },
	{ "two Hosts", RAW("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), FAIL(ALL, BAD, "more than one Host header") },
	{ "two Hosts on 1.0", RAW("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), FAIL(ALL, BAD, "more than one Host header") },
	{ "Expect: foo", RAW("POST / HTTP/1.1\r\n" H11 "Expect: foo\r\n\r\n"), FAIL(ALL, HTTP_PARSE_EXPECTATION, "unsupported Expect") },
	{ "Expect: 100-continue, foo", RAW("POST / HTTP/1.1\r\n" H11 "Expect: 100-continue\r\nExpect: foo\r\n\r\n"), FAIL(ALL, HTTP_PARSE_EXPECTATION, "unsupported Expect") },

	/* request line */
	{ "non-ASCII in target", RAW("GET /caf\xc3\xa9 HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "invalid request target") },
	{ "DEL in target", RAW("GET /a\x7f HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "invalid request target") },
	{ "NUL in target", RAW("GET /a\0b HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "invalid request target") },
	{ "HTTP/2.0", RAW("GET / HTTP/2.0\r\n" H11 "\r\n"), FAIL(ALL, HTTP_PARSE_VERSION, "unsupported HTTP version") },
	{ "HTTP/1.2", RAW("GET / HTTP/1.2\r\n" H11 "\r\n"), FAIL(ALL, HTTP_PARSE_VERSION, "unsupported HTTP version") },
	{ "HTTP/0.9", RAW("GET / HTTP/0.9\r\n\r\n"), FAIL(ALL, HTTP_PARSE_VERSION, "unsupported HTTP version") },
	{ "HTTP/1.1 trailing space", RAW("GET / HTTP/1.1 \r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "lowercase http/1.1", RAW("GET / http/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "HTTP/1.10", RAW("GET / HTTP/1.10\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "HTTP/1", RAW("GET / HTTP/1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "HTTP/11.1", RAW("GET / HTTP/11.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "tabs as separators", RAW("GET\t/\tHTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed request line") },
	{ "tab before version", RAW("GET /\tHTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "invalid request target") },
	{ "two spaces after method", RAW("GET  / HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "invalid request target") },
	{ "two spaces after target", RAW("GET /  HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "space in target", RAW("GET /a b HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "empty method", RAW(" / HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "invalid method") },
	{ "21-char method", RAW("ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "invalid method") },
	{ "method with ( )", RAW("G(T / HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed request line") },
	{ "no version", RAW("GET /\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed request line") },
	{ "method only", RAW("GET\r\n\r\n"), FAIL(ALL, BAD, "malformed request line") },
	{ "bare CR ends request line", RAW("GET / HTTP/1.1\r" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "CR CR LF after version", RAW("GET / HTTP/1.1\r\r\n" H11 "\r\n"), FAIL(ALL, BAD, "malformed HTTP version") },
	{ "CR then text before line", RAW("\rGET / HTTP/1.1\r\n" H11 "\r\n"), FAIL(ALL, BAD, "invalid method") },

	/* incomplete heads: length 0, and parsing all of it fails */
	{ "empty input", RAW(""), FAIL(0, BAD, "incomplete request head") },
	{ "request line only", RAW("GET / HTTP/1.1\r\n"), FAIL(0, BAD, "incomplete request head") },
	{ "no empty line", RAW("GET / HTTP/1.1\r\n" H11), FAIL(0, BAD, "incomplete request head") },
	{ "CR of empty line only", RAW("GET / HTTP/1.1\r\n" H11 "\r"), FAIL(0, BAD, "incomplete request head") },
	{ "half a line", RAW("GET / HTTP/1.1\r\nHost: exa"), FAIL(0, BAD, "incomplete request head") },
	{ "leading empty lines only", RAW("\r\n\r\n\n"), FAIL(0, BAD, "incomplete request head") },
	{ "lone CR", RAW("\r"), FAIL(0, BAD, "incomplete request head") },
	{ "CR CR", RAW("GET / HTTP/1.1\r\r\r\r"), FAIL(0, BAD, "incomplete request head") },
};

static void check_head_fields(const struct head_case *tc, const struct http_head *h)
{
	assert_int_equal(h->method, tc->method);
	assert_string_equal(h->target, tc->target);
	assert_int_equal(h->minor, tc->minor);
	assert_int_equal(h->content_length, tc->content_length);
	assert_int_equal(h->chunked, tc->chunked);
	assert_int_equal(h->keep_alive, tc->keep_alive);
	assert_int_equal(h->expect_continue, tc->expect_continue);
	if (!tc->hname)
		return;
	if (tc->hvalue)
		assert_string_equal(http_head_get(h, tc->hname), tc->hvalue);
	else
		assert_null(http_head_get(h, tc->hname));
}

static void run_head_case(const struct head_case *tc)
{
	size_t want = tc->head_len == ALL ? tc->rawlen : tc->head_len;
	size_t plen = want ? want : tc->rawlen;
	char *raw = dup_exact(tc->raw, tc->rawlen);
	char *buf;
	struct http_head h;
	const char *why = "unset";
	int rc;

	print_message("  %s\n", tc->name);
	assert_int_equal(http_head_length(raw, tc->rawlen), want);
	/* Incomplete heads are parsed whole: the parser must refuse them. */
	buf = dup_exact(tc->raw, plen);
	rc = http_parse_head(buf, plen, &h, &why);
	assert_int_equal(rc, tc->status);
	if (rc == HTTP_PARSE_OK) {
		assert_null(why);
		check_head_fields(tc, &h);
	} else {
		assert_non_null(why);
		assert_string_equal(why, tc->why);
	}
	free(buf);
	free(raw);
}

static void test_head_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++)
		run_head_case(&head_cases[i]);
}

/* The server calls http_head_length on a growing buffer: every prefix
 * shorter than the head must say 0, every longer one the same length. */
static void test_head_length_prefixes(void **state)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
		const struct head_case *tc = &head_cases[i];
		size_t want = tc->head_len == ALL ? tc->rawlen : tc->head_len;

		if (want == 0)
			continue;
		for (n = 0; n <= tc->rawlen; n++) {
			char *p = dup_exact(tc->raw, n);

			assert_int_equal(http_head_length(p, n), n < want ? 0 : want);
			free(p);
		}
	}
}

/* Parsing writes NULs in place and points into the caller's buffer. */
static void test_parse_in_place(void **state)
{
	static const char req[] = "POST /a?b HTTP/1.1\r\nHost: h\r\nX-A:  v \r\n\r\n";
	char *buf = dup_exact(req, sizeof(req) - 1);
	struct http_head h;
	const char *why;

	(void)state;
	assert_int_equal(http_parse_head(buf, sizeof(req) - 1, &h, &why), HTTP_PARSE_OK);
	assert_ptr_equal(h.method_str, buf);
	assert_string_equal(h.method_str, "POST");
	assert_ptr_equal(h.target, buf + 5);
	assert_int_equal(h.nheaders, 2);
	assert_string_equal(h.headers[0].name, "Host");
	assert_string_equal(h.headers[1].name, "X-A");
	assert_string_equal(h.headers[1].value, "v");
	assert_true(h.headers[1].value > buf && h.headers[1].value < buf + sizeof(req));
	free(buf);
}

/* Bytes beyond the empty line are body; passing them is a caller bug. */
static void test_parse_rejects_trailing_bytes(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\nX";
	char *buf = dup_exact(req, sizeof(req) - 1);
	struct http_head h;
	const char *why = NULL;

	(void)state;
	assert_int_equal(http_parse_head(buf, sizeof(req) - 1, &h, &why), HTTP_PARSE_BAD_REQUEST);
	assert_non_null(why);
	free(buf);
}

/* A request with n "X-<i>: <i>" headers after Host (so n + 1 in all). */
static size_t many_headers(char *out, size_t cap, int n)
{
	size_t len = (size_t)snprintf(out, cap, "GET / HTTP/1.1\r\nHost: h\r\n");
	int i;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "X-%d: %d\r\n", i, i);
	len += (size_t)snprintf(out + len, cap - len, "\r\n");
	return len;
}

static void test_header_count_limit(void **state)
{
	static char text[8192];
	struct http_head h;
	const char *why = NULL;
	size_t len;
	char *buf;

	(void)state;
	len = many_headers(text, sizeof(text), HTTP_MAX_HEADERS - 1);
	assert_int_equal(http_head_length(text, len), len);
	buf = dup_exact(text, len);
	assert_int_equal(http_parse_head(buf, len, &h, &why), HTTP_PARSE_OK);
	assert_int_equal(h.nheaders, HTTP_MAX_HEADERS);
	assert_string_equal(http_head_get(&h, "x-98"), "98");
	free(buf);

	len = many_headers(text, sizeof(text), HTTP_MAX_HEADERS);
	buf = dup_exact(text, len);
	assert_int_equal(http_parse_head(buf, len, &h, &why), HTTP_PARSE_TOO_MANY_HEADERS);
	assert_non_null(why);
	free(buf);
}

static void test_null_why(void **state)
{
	static const char req[] = "GET / HTTP/9.9\r\n\r\n";
	char *buf = dup_exact(req, sizeof(req) - 1);
	struct http_head h;

	(void)state;
	assert_int_equal(http_parse_head(buf, sizeof(req) - 1, &h, NULL), HTTP_PARSE_VERSION);
	free(buf);
}

/* ---- http_chunked_decode ------------------------------------------------ */

struct chunk_case {
	const char *name;
	const char *in;
	size_t inlen;
	ssize_t consumed;     /* -1: malformed */
	const char *out;      /* decoded bytes (when consumed >= 0) */
	size_t outlen;
	bool done;
};

static const struct chunk_case chunk_cases[] = {
	{ "single chunk", RAW("5\r\nhello\r\n0\r\n\r\n"), 15, RAW("hello"), true },
	{ "multi chunk", RAW("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), 26, RAW("hello world"), true },
	{ "extensions", RAW("5;foo=bar\r\nhello\r\n0;x;y=\"z\"\r\n\r\n"), 31, RAW("hello"), true },
	{ "BWS before ext", RAW("5 \t;foo\r\nhello\r\n0\r\n\r\n"), 21, RAW("hello"), true },
	{ "trailers", RAW("5\r\nhello\r\n0\r\nX-T: 1\r\nY:\r\n\r\n"), 27, RAW("hello"), true },
	{ "uppercase hex", RAW("A\r\n0123456789\r\n0\r\n\r\n"), 20, RAW("0123456789"), true },
	{ "lowercase hex", RAW("a\r\n0123456789\r\n0\r\n\r\n"), 20, RAW("0123456789"), true },
	{ "bare LF", RAW("5\nhello\n0\nX: y\n\n"), 16, RAW("hello"), true },
	{ "leading zeros", RAW("0005\r\nabcde\r\n0\r\n\r\n"), 18, RAW("abcde"), true },
	{ "16 hex digits", RAW("0000000000000003\r\nabc\r\n0\r\n\r\n"), 28, RAW("abc"), true },
	{ "stops after the end", RAW("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1"), 13, RAW("abc"), true },
	{ "data with CRLF and NUL", RAW("4\r\n\r\n\0x\r\n0\r\n\r\n"), 14, RAW("\r\n\0x"), true },
	{ "empty body", RAW("0\r\n\r\n"), 5, RAW(""), true },
	{ "incomplete data", RAW("5\r\nhel"), 6, RAW("hel"), false },
	{ "incomplete trailer", RAW("5\r\nhello\r\n0\r\nX: 1\r\n"), 19, RAW("hello"), false },
	{ "max size, partial", RAW("FFFFFFFFFFFFFFFF\r\nab"), 20, RAW("ab"), false },
	{ "empty input", RAW(""), 0, RAW(""), false },

	{ "missing CRLF after data", RAW("5\r\nhelloX0\r\n\r\n"), -1, NULL, 0, false },
	{ "CR then junk after data", RAW("5\r\nhello\rX"), -1, NULL, 0, false },
	{ "data overrun", RAW("3\r\nhello\r\n0\r\n\r\n"), -1, NULL, 0, false },
	{ "bad hex", RAW("G\r\n"), -1, NULL, 0, false },
	{ "bad hex after digit", RAW("5G\r\n"), -1, NULL, 0, false },
	{ "no size", RAW("\r\nhello\r\n"), -1, NULL, 0, false },
	{ "negative", RAW("-5\r\n"), -1, NULL, 0, false },
	{ "0x prefix", RAW("0x5\r\n"), -1, NULL, 0, false },
	{ "17 hex digits", RAW("00000000000000005\r\nhello\r\n0\r\n\r\n"), -1, NULL, 0, false },
	{ "overflow", RAW("10000000000000000\r\n"), -1, NULL, 0, false },
	{ "space without ext", RAW("5 \r\nhello\r\n0\r\n\r\n"), -1, NULL, 0, false },
	{ "space before size", RAW(" 5\r\nhello\r\n0\r\n\r\n"), -1, NULL, 0, false },
	{ "CR without LF", RAW("5\rhello"), -1, NULL, 0, false },
	{ "NUL in extension", RAW("5;a\0b\r\nhello\r\n0\r\n\r\n"), -1, NULL, 0, false },
	{ "trailer without colon", RAW("0\r\nbad\r\n\r\n"), -1, NULL, 0, false },
	{ "trailer space before colon", RAW("0\r\nX-T : 1\r\n\r\n"), -1, NULL, 0, false },
	{ "trailer obs-fold", RAW("0\r\nX-T: 1\r\n 2\r\n\r\n"), -1, NULL, 0, false },
	{ "trailer CTL in value", RAW("0\r\nX-T: \x01\r\n\r\n"), -1, NULL, 0, false },
	{ "final CR junk", RAW("0\r\n\rX"), -1, NULL, 0, false },
};

/* Feed tc->in in pieces of the given sizes (cycled) into a fresh decoder,
 * stopping on error or once nothing more is consumed. Returns the total
 * consumed or -1; decoded bytes are appended to out. */
static ssize_t feed(const struct chunk_case *tc, const size_t *pieces, size_t npieces,
                    char *out, size_t *outlen, bool *done)
{
	struct http_chunked c;
	size_t pos = 0, k = 0;

	memset(&c, 0, sizeof(c));
	*outlen = 0;
	do {
		size_t n = pieces[k++ % npieces], got;
		char *in;
		ssize_t r;

		if (n > tc->inlen - pos)
			n = tc->inlen - pos;
		in = dup_exact(tc->in + pos, n);
		r = http_chunked_decode(&c, in, n, out + *outlen, &got);
		free(in);
		if (r < 0)
			return -1;
		assert_true((size_t)r <= n);
		*outlen += got;
		pos += (size_t)r;
		if ((size_t)r < n)
			break;  /* the decoder stopped at the end of the message */
	} while (pos < tc->inlen);
	*done = c.done;
	return (ssize_t)pos;
}

static void check_feed(const struct chunk_case *tc, const size_t *pieces, size_t npieces)
{
	char *out = malloc(tc->inlen + 1);
	size_t outlen;
	bool done = false;
	ssize_t r;

	assert_non_null(out);
	r = feed(tc, pieces, npieces, out, &outlen, &done);
	assert_int_equal(r, tc->consumed);
	if (r >= 0) {
		assert_int_equal(outlen, tc->outlen);
		assert_memory_equal(out, tc->out, outlen);
		assert_int_equal(done, tc->done);
	}
	free(out);
}

static void test_chunked_table(void **state)
{
	size_t i, whole;

	(void)state;
	for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		print_message("  %s\n", chunk_cases[i].name);
		whole = chunk_cases[i].inlen ? chunk_cases[i].inlen : 1;
		check_feed(&chunk_cases[i], &whole, 1);
	}
}

/* The server sees whatever the socket delivered: every case must decode
 * identically one byte at a time and split anywhere in two. */
static void test_chunked_splits(void **state)
{
	static const size_t one = 1;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		const struct chunk_case *tc = &chunk_cases[i];

		check_feed(tc, &one, 1);
		for (k = 1; k < tc->inlen; k++) {
			size_t two[2] = { k, tc->inlen - k };

			check_feed(tc, two, 2);
		}
	}
}

static void test_chunked_after_done_and_error(void **state)
{
	struct http_chunked c;
	char out[32];
	size_t outlen = 99;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(http_chunked_decode(&c, "0\r\n\r\n", 5, out, &outlen), 5);
	assert_true(c.done);
	assert_int_equal(http_chunked_decode(&c, "1\r\nx\r\n", 6, out, &outlen), 0);
	assert_int_equal(outlen, 0);

	/* An error is sticky: the stream position is lost. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(http_chunked_decode(&c, "Z", 1, out, &outlen), -1);
	assert_int_equal(http_chunked_decode(&c, "0\r\n\r\n", 5, out, &outlen), -1);
}

/* Decoding in place (out == in) is safe: output never overtakes input. */
static void test_chunked_in_place(void **state)
{
	char buf[] = "3\r\nabc\r\n2;e\r\nde\r\n0\r\n\r\n";
	struct http_chunked c;
	size_t outlen;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(http_chunked_decode(&c, buf, sizeof(buf) - 1, buf, &outlen),
	                 (ssize_t)(sizeof(buf) - 1));
	assert_int_equal(outlen, 5);
	assert_memory_equal(buf, "abcde", 5);
}

/* Build "<prefix><n x fill><suffix>" and decode it in one piece. */
static ssize_t decode_long_line(const char *prefix, size_t n, char fill, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), len = pl + n + sl, outlen;
	char *in = malloc(len), *out = malloc(len);
	struct http_chunked c;
	ssize_t r;

	assert_non_null(in);
	assert_non_null(out);
	memcpy(in, prefix, pl);
	memset(in + pl, fill, n);
	memcpy(in + pl + n, suffix, sl);
	memset(&c, 0, sizeof(c));
	r = http_chunked_decode(&c, in, len, out, &outlen);
	free(in);
	free(out);
	return r;
}

static void test_chunked_line_limit(void **state)
{
	(void)state;
	/* "1;" + 4094 = 4096 bytes of size line: allowed; one more is not. */
	assert_true(decode_long_line("1;", 4094, 'a', "\r\nx\r\n0\r\n\r\n") > 0);
	assert_int_equal(decode_long_line("1;", 4095, 'a', "\r\nx\r\n0\r\n\r\n"), -1);
	assert_int_equal(decode_long_line("1;", 100000, 'a', ""), -1);
	/* trailer: "X:" + 4094 = 4096 */
	assert_true(decode_long_line("0\r\nX:", 4094, 'v', "\r\n\r\n") > 0);
	assert_int_equal(decode_long_line("0\r\nX:", 4095, 'v', "\r\n\r\n"), -1);
	assert_int_equal(decode_long_line("0\r\n", 5000, 'n', ": v\r\n\r\n"), -1);
	/* many short trailers are fine: the limit is per line */
	assert_true(decode_long_line("0\r\n", 0, 'x',
	                             "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n") > 0);
}

/* ---- http_split_target -------------------------------------------------- */

static void test_split_target(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *path, *query;
	} cases[] = {
		{ "/a/b?x=1&y=2", 0, "/a/b", "x=1&y=2" },
		{ "/", 0, "/", "" },
		{ "/?", 0, "/", "" },
		{ "/a?b?c", 0, "/a", "b?c" },
		{ "//x", 0, "//x", "" },
		{ "*", -1, NULL, NULL },
		{ "http://x/y", -1, NULL, NULL },
		{ "a/b", -1, NULL, NULL },
		{ "", -1, NULL, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = dup_exact(cases[i].in, strlen(cases[i].in) + 1);
		char *path = NULL, *query = NULL;

		assert_int_equal(http_split_target(t, &path, &query), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_string_equal(path, cases[i].path);
			assert_string_equal(query, cases[i].query);
		}
		free(t);
	}
	assert_int_equal(http_split_target(NULL, NULL, NULL), -1);
}

/* ---- http_pct_decode ---------------------------------------------------- */

static void test_pct_decode(void **state)
{
	static const struct {
		const char *in;
		bool plus;
		int rc;
		const char *out;
	} cases[] = {
		{ "abc", false, 0, "abc" },
		{ "", false, 0, "" },
		{ "%41%42", false, 0, "AB" },
		{ "%4a%4A", false, 0, "JJ" },
		{ "%25", false, 0, "%" },
		{ "%2525", false, 0, "%25" },
		{ "%e2%82%AC", false, 0, "\xe2\x82\xac" },
		{ "a+b", false, 0, "a+b" },
		{ "a+b", true, 0, "a b" },
		{ "%2B+", true, 0, "+ " },
		{ "%20x%20", false, 0, " x " },
		{ "%00", false, -1, NULL },
		{ "a%00b", true, -1, NULL },
		{ "%G1", false, -1, NULL },
		{ "%1G", false, -1, NULL },
		{ "%", false, -1, NULL },
		{ "%4", false, -1, NULL },
		{ "abc%", false, -1, NULL },
		{ "ab%2", false, -1, NULL },
		{ "%%41", false, -1, NULL },
		{ "%+1", true, -1, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);
		char *s = dup_exact(cases[i].in, n + 1);
		size_t len = n;

		assert_int_equal(http_pct_decode(s, &len, cases[i].plus), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(len, strlen(cases[i].out));
			assert_string_equal(s, cases[i].out);
		} else {
			/* a refused string is left as it was */
			assert_int_equal(len, n);
			assert_string_equal(s, cases[i].in);
		}
		free(s);
	}
}

/* Only *len bytes count: a NUL right after them is not read as input. */
static void test_pct_decode_length(void **state)
{
	char s[] = "%41%42%43";
	size_t len = 6;

	(void)state;
	assert_int_equal(http_pct_decode(s, &len, false), 0);
	assert_int_equal(len, 2);
	assert_string_equal(s, "AB");
}

/* ---- http_reason -------------------------------------------------------- */

static void test_reason(void **state)
{
	static const int known[] = {
		100, 200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
		406, 408, 409, 410, 411, 412, 413, 414, 415, 417, 422, 428, 429, 431,
		500, 501, 502, 503, 504, 505,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_string_not_equal(http_reason(known[i]), "Unknown");
	assert_string_equal(http_reason(200), "OK");
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http_reason(418), "Unknown");
	assert_string_equal(http_reason(0), "Unknown");
	assert_string_equal(http_reason(-400), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_table),
		cmocka_unit_test(test_head_length_prefixes),
		cmocka_unit_test(test_parse_in_place),
		cmocka_unit_test(test_parse_rejects_trailing_bytes),
		cmocka_unit_test(test_header_count_limit),
		cmocka_unit_test(test_null_why),
		cmocka_unit_test(test_chunked_table),
		cmocka_unit_test(test_chunked_splits),
		cmocka_unit_test(test_chunked_after_done_and_error),
		cmocka_unit_test(test_chunked_in_place),
		cmocka_unit_test(test_chunked_line_limit),
		cmocka_unit_test(test_split_target),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_pct_decode_length),
		cmocka_unit_test(test_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
