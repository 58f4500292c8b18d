/* odata/multipart: the $batch boundary parameter, the multipart/mixed
 * parser (structure, framing, limits, errors) and the response writer.
 * Parser rows are written with LF line ends and, unless marked LF_ONLY, run
 * a second time with every LF turned into CRLF. Each row is either the
 * batch's summary (see summarize()) or an error kind, position and message
 * substring. Every input is parsed from an exact-size heap copy so that
 * ASan catches a read past its end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"
#include "strbuf.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- boundary ----------------------------------------------------------- */

struct boundary_row {
	const char *ct;
	const char *want;	/* NULL: -1 expected */
};

#define B70 "1234567890123456789012345678901234567890123456789012345678901234567890"

static const struct boundary_row boundary_rows[] = {
	{ "multipart/mixed; boundary=batch_36522ad7", "batch_36522ad7" },
	{ "multipart/mixed;boundary=batch_1", "batch_1" },
	{ "multipart/mixed ; boundary = batch_1 ", "batch_1" },
	{ "  multipart/mixed\t;\tboundary\t=\tbatch_1", "batch_1" },
	{ "Multipart/Mixed; Boundary=batch_1", "batch_1" },
	{ "MULTIPART/MIXED; BOUNDARY=AbC", "AbC" },	/* the value keeps its case */
	{ "multipart/mixed; boundary=\"batch_1\"", "batch_1" },
	{ "multipart/mixed; boundary=\"with space\"", "with space" },
	{ "multipart/mixed; boundary=\"a\\\"b\"", NULL },	/* '"' is no bchar */
	{ "multipart/mixed; boundary=\"a\\:b\"", "a:b" },	/* quoted-pair */
	{ "multipart/mixed; boundary=\"gc0p4Jq0M2Yt08j34c0p:\"", "gc0p4Jq0M2Yt08j34c0p:" },
	{ "multipart/mixed; boundary=----=_Part_0", "----=_Part_0" },
	{ "multipart/mixed; charset=utf-8; boundary=b1", "b1" },
	{ "multipart/mixed; boundary=b1; charset=\"utf-8\"", "b1" },
	{ "multipart/mixed; x=\"a;b\"; boundary=b1", "b1" },
	{ "multipart/mixed; boundary=b1;", "b1" },	/* trailing ';' */
	{ "multipart/mixed;; boundary=b1", "b1" },
	{ "multipart/mixed; boundary=" B70, B70 },
	{ "multipart/mixed; boundary=\"" B70 "\"", B70 },
	/* errors */
	{ "multipart/mixed; boundary=" B70 "1", NULL },	/* 71 */
	{ "multipart/mixed; boundary=\"" B70 "1\"", NULL },
	{ "multipart/mixed", NULL },	/* missing */
	{ "multipart/mixed;", NULL },
	{ "multipart/mixed; charset=utf-8", NULL },
	{ "multipart/mixed; boundary=", NULL },	/* empty */
	{ "multipart/mixed; boundary=\"\"", NULL },
	{ "multipart/mixed; boundary=\"ends \"", NULL },	/* space last */
	{ "multipart/mixed; boundary=\"unterminated", NULL },
	{ "multipart/mixed; boundary=\"x\\", NULL },
	{ "multipart/mixed; boundary=a; boundary=b", NULL },	/* twice */
	{ "multipart/mixed; boundary=a b", NULL },
	{ "multipart/mixed; boundary=a*b", NULL },	/* '*' is no bchar */
	{ "multipart/mixed; boundary", NULL },
	{ "multipart/mixed; =b", NULL },
	{ "multipart/mixed boundary=b", NULL },
	{ "multipart/mixedx; boundary=b", NULL },
	{ "multipart/alternative; boundary=b", NULL },	/* not multipart/mixed */
	{ "application/http; boundary=b", NULL },
	{ "multipart/; boundary=b", NULL },
	{ "multipart", NULL },
	{ "", NULL },
	{ "text/plain", NULL },
};

static void
test_boundary_rows(void **state)
{
	char out[ODATA_BATCH_MAX_BOUNDARY + 1];
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(boundary_rows); i++) {
		const struct boundary_row *r = &boundary_rows[i];
		int rc;

		strcpy(out, "sentinel");
		rc = odata_batch_boundary(r->ct, out, sizeof(out));
		if (r->want == NULL) {
			if (rc != -1)
				fail_msg("boundary row %zu (%s): want -1, got \"%s\"", i, r->ct, out);
			continue;
		}
		if (rc != 0 || strcmp(out, r->want) != 0)
			fail_msg("boundary row %zu (%s): rc %d, got \"%s\", want \"%s\"", i, r->ct, rc,
			    out, r->want);
	}
}

static void
test_boundary_outlen(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(odata_batch_boundary("multipart/mixed; boundary=1234567", out, 8), 0);
	assert_string_equal(out, "1234567");
	assert_int_equal(odata_batch_boundary("multipart/mixed; boundary=12345678", out, 8), -1);
	assert_int_equal(odata_batch_boundary("multipart/mixed; boundary=1", out, 0), -1);
	assert_int_equal(odata_batch_boundary(NULL, out, 8), -1);
	assert_int_equal(odata_batch_boundary("multipart/mixed; boundary=1", NULL, 8), -1);
}

/* ---- parser helpers ------------------------------------------------------ */

static void
add_escaped(struct strbuf *sb, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			strbuf_adds(sb, "\\n");
		else if (c == '\r')
			strbuf_adds(sb, "\\r");
		else if (c < 0x20 || c >= 0x7f)
			strbuf_addf(sb, "\\x%02x", c);
		else
			strbuf_addc(sb, (char)c);
	}
}

/* "Q{GET url 1.1 id=- h=2 ''} C(cs){POST url 1.1 id=1 h=1 '{}' | ...}" */
static char *
summarize(const struct odata_batch *b)
{
	struct strbuf sb;
	size_t i, k;

	strbuf_init(&sb);
	for (i = 0; i < b->nitems; i++) {
		const struct odata_batch_item *it = &b->items[i];

		if (i > 0)
			strbuf_addc(&sb, ' ');
		if (it->kind == ODATA_BATCH_QUERY) {
			assert_null(it->boundary);
			assert_int_equal(it->nrequests, 1);
			strbuf_adds(&sb, "Q{");
		} else {
			strbuf_addf(&sb, "C(%s){", it->boundary);
		}
		for (k = 0; k < it->nrequests; k++) {
			const struct odata_batch_request *r = &it->requests[k];

			assert_non_null(r->body);
			assert_int_equal(r->body[r->body_len], '\0');
			strbuf_addf(&sb, "%s%s %s 1.%d id=%s h=%zu '", k ? " | " : "", r->method,
			    r->url, r->version_minor, r->content_id ? r->content_id : "-",
			    r->nheaders);
			add_escaped(&sb, r->body, r->body_len);
			strbuf_addc(&sb, '\'');
		}
		strbuf_addc(&sb, '}');
	}
	assert_false(sb.failed);
	return strbuf_detach(&sb);
}

static int
parse_copy(const char *in, size_t len, const char *boundary, size_t max, struct odata_batch **b,
    struct odata_batch_error *err)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, in, len);
	rc = odata_batch_parse(copy, len, boundary, max, b, err);
	free(copy);	/* the batch owns copies of everything */
	return rc;
}

/* s with every LF (and every "\\n" of a summary) doubled into CRLF. */
static char *
to_crlf(const char *s, size_t len, size_t *outlen, bool summary)
{
	char *out = malloc(len * 3 + 1);
	size_t i, n = 0;

	assert_non_null(out);
	for (i = 0; i < len; i++) {
		if (!summary && s[i] == '\n') {
			out[n++] = '\r';
		} else if (summary && s[i] == '\\' && i + 1 < len && s[i + 1] == 'n') {
			memcpy(out + n, "\\r", 2);
			n += 2;
		}
		out[n++] = s[i];
	}
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return out;
}

/* ---- parser rows ----------------------------------------------------------- */

enum {
	LF_ONLY = 1,	/* do not rerun with CRLF */
};

struct row {
	const char *label;
	const char *body;
	const char *want;	/* summary, or NULL when an error is expected */
	enum odata_batch_error_kind kind;
	size_t pos;		/* error position in the LF form */
	const char *msg;	/* substring of the error message */
	int flags;
	size_t max;		/* 0: 100 */
	const char *boundary;	/* NULL: "b" */
};

#define OK(label, body, want)		{ label, body, want, 0, 0, NULL, 0, 0, NULL }
#define OK_LF(label, body, want)	{ label, body, want, 0, 0, NULL, LF_ONLY, 0, NULL }
#define ERR(label, body, pos, msg)	{ label, body, NULL, ODATA_BATCH_MALFORMED, pos, msg, 0, 0, NULL }

#define PART "--b\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
#define CS(name) "--b\nContent-Type: multipart/mixed; boundary=" name "\n\n"
#define CSPART(name) "--" name "\nContent-Type: application/http\n\n"

#define SAPUI5 \
	"--batch_36522ad7\n" \
	"Content-Type: application/http\n" \
	"Content-Transfer-Encoding: binary\n" \
	"\n" \
	"GET WebhookConfigurations?$skip=0&$top=20 HTTP/1.1\n" \
	"sap-cancel-on-close: true\n" \
	"Accept: application/json\n" \
	"Accept-Language: en\n" \
	"DataServiceVersion: 2.0\n" \
	"MaxDataServiceVersion: 2.0\n" \
	"\n" \
	"\n" \
	"--batch_36522ad7\n" \
	"Content-Type: multipart/mixed; boundary=changeset_77a1-b5e2\n" \
	"\n" \
	"--changeset_77a1-b5e2\n" \
	"Content-Type: application/http\n" \
	"Content-Transfer-Encoding: binary\n" \
	"Content-ID: id-1\n" \
	"\n" \
	"POST WebhookConfigurations HTTP/1.1\n" \
	"Content-Type: application/json\n" \
	"Content-Length: 24\n" \
	"Accept: application/json\n" \
	"\n" \
	"{\"integrationKey\":\"a|b\"}\n" \
	"--changeset_77a1-b5e2\n" \
	"Content-Type: application/http\n" \
	"Content-Transfer-Encoding: binary\n" \
	"Content-ID: id-2\n" \
	"\n" \
	"PATCH WebhookConfigurations('a%7Cb') HTTP/1.1\n" \
	"Content-Type: application/json\n" \
	"\n" \
	"{\"filter\":\"x\"}\n" \
	"--changeset_77a1-b5e2\n" \
	"Content-Type: application/http\n" \
	"Content-Transfer-Encoding: binary\n" \
	"Content-ID: id-3\n" \
	"\n" \
	"DELETE WebhookConfigurations('c') HTTP/1.1\n" \
	"\n" \
	"\n" \
	"--changeset_77a1-b5e2--\n" \
	"\n" \
	"--batch_36522ad7--\n"

#define SAPUI5_WANT \
	"Q{GET WebhookConfigurations?$skip=0&$top=20 1.1 id=- h=5 ''} " \
	"C(changeset_77a1-b5e2){POST WebhookConfigurations 1.1 id=id-1 h=3 '{\"integrationKey\":\"a|b\"}'" \
	" | PATCH WebhookConfigurations('a%7Cb') 1.1 id=id-2 h=1 '{\"filter\":\"x\"}'" \
	" | DELETE WebhookConfigurations('c') 1.1 id=id-3 h=0 ''}"

static const struct row rows[] = {
	{ "sapui5", SAPUI5, SAPUI5_WANT, 0, 0, NULL, 0, 4, "batch_36522ad7" },
	OK("empty batch", "--b--\n", ""),
	OK("empty batch, no line break", "--b--", ""),
	OK("empty batch with preamble and epilogue", "pre\n--b--\npost\n--b\n", ""),
	OK("one GET", PART "GET People HTTP/1.1\n\n\n--b--\n", "Q{GET People 1.1 id=- h=0 ''}"),
	OK("GET without blank line after the request", PART "GET People HTTP/1.1\n--b--",
	    "Q{GET People 1.1 id=- h=0 ''}"),
	OK("GET with a header, no blank line", PART "GET People HTTP/1.1\nAccept: a/b\n--b--",
	    "Q{GET People 1.1 id=- h=1 ''}"),
	OK("HTTP/1.0", PART "GET People HTTP/1.0\n\n\n--b--\n", "Q{GET People 1.0 id=- h=0 ''}"),
	OK("absolute URL",
	    PART "GET https://h:8443/odata2webservices/WebhookService/WebhookConfigurations('a%7Cb')?$top=2 HTTP/1.1\n\n\n--b--\n",
	    "Q{GET https://h:8443/odata2webservices/WebhookService/WebhookConfigurations('a%7Cb')?$top=2 1.1 id=- h=0 ''}"),
	OK("preamble and epilogue",
	    "This is a preamble.\n--b is not a delimiter here\n"
	    PART "GET A HTTP/1.1\n\n\n--b--\nepilogue\n--b\n" PART "garbage",
	    "Q{GET A 1.1 id=- h=0 ''}"),
	OK("delimiter transport padding",
	    "--b \t \nContent-Type: application/http\n\nGET A HTTP/1.1\n\n\n--b\t\n"
	    "Content-Type: application/http\n\nGET B HTTP/1.1\n\n\n--b-- \t\n",
	    "Q{GET A 1.1 id=- h=0 ''} Q{GET B 1.1 id=- h=0 ''}"),
	OK("two GETs", PART "GET A HTTP/1.1\n\n\n" PART "GET B HTTP/1.1\n\n\n--b--\n",
	    "Q{GET A 1.1 id=- h=0 ''} Q{GET B 1.1 id=- h=0 ''}"),
	OK("bodies with -- and the boundary not at a line start",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\n\n"
	    "x --cs --b\n-- b\n---cs\n--csx\n--bb\n--cs-x\n--b-x\n -cs-- --b--\n"
	    "--cs--\n\n--b--\n",
	    "C(cs){POST A 1.1 id=- h=0 'x --cs --b\\n-- b\\n---cs\\n--csx\\n--bb\\n--cs-x\\n--b-x\\n -cs-- --b--'}"),
	OK("DELETE, the part ends after the request line", CS("cs") CSPART("cs") "DELETE A HTTP/1.1\n\n--cs--\n--b--\n",
	    "C(cs){DELETE A 1.1 id=- h=0 ''}"),
	OK("empty body", CS("cs") CSPART("cs") "DELETE A HTTP/1.1\n\n\n--cs--\n--b--\n",
	    "C(cs){DELETE A 1.1 id=- h=0 ''}"),
	OK("body is one empty line", CS("cs") CSPART("cs") "POST A HTTP/1.1\n\n\n\n--cs--\n--b--\n",
	    "C(cs){POST A 1.1 id=- h=0 '\\n'}"),
	OK_LF("body keeps a bare CR before the delimiter",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\n\nx\r\r\n--cs--\n--b--\n",
	    "C(cs){POST A 1.1 id=- h=0 'x\\r'}"),
	OK_LF("mixed CRLF and LF",
	    "--b\r\nContent-Type: application/http\n\r\nGET A HTTP/1.1\r\nAccept: x\n\r\n\n--b--\r\n",
	    "Q{GET A 1.1 id=- h=1 ''}"),
	OK("Content-Length smaller than the part: the rest is ignored",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-Length: 2\n\n{}trailing\n--cs--\n--b--\n",
	    "C(cs){POST A 1.1 id=- h=1 '{}'}"),
	OK("Content-Length exact", CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-Length: 0002\n\n{}\n--cs--\n--b--\n",
	    "C(cs){POST A 1.1 id=- h=1 '{}'}"),
	OK("Content-Length 0", CS("cs") CSPART("cs") "POST A HTTP/1.1\ncontent-length:0\n\nxyz\n--cs--\n--b--\n",
	    "C(cs){POST A 1.1 id=- h=1 ''}"),
	OK("Content-ID from the request headers",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-ID: 7\n\n{}\n--cs--\n--b--\n",
	    "C(cs){POST A 1.1 id=7 h=1 '{}'}"),
	OK("part Content-ID wins over the request's",
	    CS("cs") "--cs\nContent-Type: application/http\ncontent-id:  p1 \n\nPOST A HTTP/1.1\nContent-ID: r1\n\n{}\n--cs--\n--b--\n",
	    "C(cs){POST A 1.1 id=p1 h=1 '{}'}"),
	OK("Content-ID on a GET", "--b\nContent-Type: application/http\nContent-ID: g\n\nGET A HTTP/1.1\n\n\n--b--\n",
	    "Q{GET A 1.1 id=g h=0 ''}"),
	OK("same Content-ID in two change sets",
	    CS("c1") "--c1\nContent-Type: application/http\nContent-ID: 1\n\nPOST A HTTP/1.1\n\n\n--c1--\n"
	    CS("c2") "--c2\nContent-Type: application/http\nContent-ID: 1\n\nPOST A HTTP/1.1\n\n\n--c2--\n--b--\n",
	    "C(c1){POST A 1.1 id=1 h=0 ''} C(c2){POST A 1.1 id=1 h=0 ''}"),
	OK("case of part headers, parameters, quoted changeset boundary, other CTEs",
	    "--b\ncontent-type: MULTIPART/Mixed ;Boundary=\"c s:1\"\n\n"
	    "--c s:1\nCONTENT-TYPE: Application/HTTP; msgtype=request\ncontent-transfer-encoding: BINARY\n\n"
	    "MERGE E('k') HTTP/1.1\n\n{}\n"
	    "--c s:1\nContent-Type: application/http\nContent-Transfer-Encoding: 8bit\n\n"
	    "PUT E('k') HTTP/1.1\n\n{}\n"
	    "--c s:1\nContent-Type: application/http\nContent-Transfer-Encoding: 7bit\n\n"
	    "POST $1/destination HTTP/1.1\n\n{}\n--c s:1--\n--b--\n",
	    "C(c s:1){MERGE E('k') 1.1 id=- h=0 '{}' | PUT E('k') 1.1 id=- h=0 '{}'"
	    " | POST $1/destination 1.1 id=- h=0 '{}'}"),
	OK("changeset preamble and epilogue",
	    CS("cs") "cs preamble\n--cs\nContent-Type: application/http\n\nPOST A HTTP/1.1\n\n{}\n--cs--\ncs epilogue\n--b--\n",
	    "C(cs){POST A 1.1 id=- h=0 '{}'}"),
	OK("header values are trimmed and may be empty",
	    PART "GET A HTTP/1.1\nX-Empty:\nX-Tabs:\t v \t\n\n\n--b--\n", "Q{GET A 1.1 id=- h=2 ''}"),
	OK("unknown upper-case method in a change set", CS("cs") CSPART("cs") "FROB A HTTP/1.1\n\n\n--cs--\n--b--\n",
	    "C(cs){FROB A 1.1 id=- h=0 ''}"),
	OK("non-ASCII URL bytes", PART "GET A('\xc3\xa9') HTTP/1.1\n\n\n--b--\n",
	    "Q{GET A('\xc3\xa9') 1.1 id=- h=0 ''}"),

	/* framing errors */
	ERR("empty body", "", 0, "missing close delimiter"),
	ERR("no delimiter", "GET A HTTP/1.1\n", 15, "missing close delimiter"),
	ERR("missing close delimiter", PART "GET A HTTP/1.1\n\n\n", 87, "missing close delimiter"),
	ERR("open delimiter at the end", PART "GET A HTTP/1.1\n\n\n--b", 90, "missing close delimiter"),
	ERR("open delimiter then padding at the end", PART "GET A HTTP/1.1\n\n\n--b  ", 92, "missing close delimiter"),
	ERR("delimiter followed by garbage is content", PART "GET A HTTP/1.1\n\n\n--bx\n", 92,
	    "missing close delimiter"),
	ERR("missing change set close delimiter",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\n\n\n--b--\n", 102, "missing change set close delimiter"),
	ERR("change set never opened", CS("cs") "junk\n--b--\n", 52, "missing change set close delimiter"),
	ERR("empty change set", CS("cs") "--cs--\n--b--\n", 4, "empty change set"),
	ERR("part headers without blank line", "--b\nContent-Type: application/http\n--b--\n", 4,
	    "part headers not followed by a blank line"),
	ERR("part without request", "--b\nContent-Type: application/http\n\n\n--b--\n", 36, "part without a request"),
	ERR("empty part", "--b\n--b--\n", 4, "part headers not followed by a blank line"),

	/* part headers */
	ERR("missing Content-Type", "--b\nContent-Transfer-Encoding: binary\n\nGET A HTTP/1.1\n\n\n--b--\n", 4,
	    "part without Content-Type"),
	ERR("not application/http", "--b\nContent-Type: text/plain\n\nGET A HTTP/1.1\n\n\n--b--\n", 4,
	    "part Content-Type is not application/http"),
	ERR("application/httpx", "--b\nContent-Type: application/httpx\n\nGET A HTTP/1.1\n\n\n--b--\n", 4,
	    "not application/http"),
	ERR("repeated Content-Type",
	    "--b\nContent-Type: application/http\nContent-Type: application/http\n\nGET A HTTP/1.1\n\n\n--b--\n",
	    35, "repeated Content-Type"),
	ERR("repeated part Content-ID",
	    "--b\nContent-Type: application/http\nContent-ID: 1\ncontent-id: 2\n\nGET A HTTP/1.1\n\n\n--b--\n",
	    49, "repeated Content-ID"),
	ERR("base64", "--b\nContent-Type: application/http\nContent-Transfer-Encoding: base64\n\nGET A HTTP/1.1\n\n\n--b--\n",
	    35, "unsupported Content-Transfer-Encoding"),
	ERR("empty Content-ID", "--b\nContent-Type: application/http\nContent-ID:\n\nGET A HTTP/1.1\n\n\n--b--\n",
	    35, "empty Content-ID"),
	ERR("folded header", "--b\nContent-Type: application/http\n x\n\nGET A HTTP/1.1\n\n\n--b--\n", 35,
	    "folded header line"),
	ERR("header without colon", "--b\nContent-Type application/http\n\nGET A HTTP/1.1\n\n\n--b--\n", 4,
	    "malformed header line"),
	ERR("header with empty name", "--b\n: x\n\nGET A HTTP/1.1\n\n\n--b--\n", 4, "malformed header line"),
	ERR("header name with space", "--b\nContent Type: application/http\n\nGET A HTTP/1.1\n\n\n--b--\n", 4,
	    "malformed header name"),
	ERR("control character in a header", PART "GET A HTTP/1.1\nX: a\x01z\n\n\n--b--\n", 89,
	    "control character in header"),
	ERR("CR inside a header line", PART "GET A HTTP/1.1\nX: a\rb\n\n\n--b--\n", 89, "control character in header"),
	ERR("invalid changeset boundary", "--b\nContent-Type: multipart/mixed\n\n--cs--\n--b--\n", 4,
	    "change set without a valid boundary"),
	ERR("nested change set",
	    CS("c1") "--c1\nContent-Type: multipart/mixed; boundary=c2\n\n--c2\nContent-Type: application/http\n\n"
	    "POST A HTTP/1.1\n\n\n--c2--\n--c1--\n--b--\n", 53, "change set inside a change set"),

	/* request line */
	ERR("POST outside a change set", PART "POST A HTTP/1.1\n\n{}\n--b--\n", 70, "request outside a change set is not a GET"),
	ERR("DELETE outside a change set", PART "DELETE A HTTP/1.1\n\n\n--b--\n", 70, "not a GET"),
	ERR("GET inside a change set", CS("cs") CSPART("cs") "GET A HTTP/1.1\n\n\n--cs--\n--b--\n", 85,
	    "GET request inside a change set"),
	ERR("lower-case method", PART "get A HTTP/1.1\n\n\n--b--\n", 70, "malformed request line"),
	ERR("double space", PART "GET  A HTTP/1.1\n\n\n--b--\n", 70, "malformed request line"),
	ERR("no URL", PART "GET HTTP/1.1\n\n\n--b--\n", 70, "malformed request line"),
	ERR("no version", PART "GET A\n\n\n--b--\n", 70, "malformed request line"),
	ERR("no version after space", PART "GET A \n\n\n--b--\n", 76, "unsupported HTTP version"),
	ERR("blank request line", PART "\nGET A HTTP/1.1\n\n\n--b--\n", 70, "malformed request line"),
	ERR("tab separator", PART "GET\tA HTTP/1.1\n\n\n--b--\n", 70, "malformed request line"),
	ERR("method too long", CS("cs") CSPART("cs") "ABCDEFGHIJKLMNOPQRSTU A HTTP/1.1\n\n\n--cs--\n--b--\n", 85,
	    "malformed request line"),
	ERR("HTTP/2", PART "GET A HTTP/2\n\n\n--b--\n", 76, "unsupported HTTP version"),
	ERR("HTTP/1.2", PART "GET A HTTP/1.2\n\n\n--b--\n", 76, "unsupported HTTP version"),
	ERR("http/1.1", PART "GET A http/1.1\n\n\n--b--\n", 76, "unsupported HTTP version"),
	ERR("trailing space after version", PART "GET A HTTP/1.1 \n\n\n--b--\n", 76, "unsupported HTTP version"),
	ERR("version and more", PART "GET A B HTTP/1.1\n\n\n--b--\n", 76, "unsupported HTTP version"),

	/* request headers and body */
	ERR("Content-Length beyond the part",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-Length: 3\n\n{}\n--cs--\n--b--\n", 101,
	    "Content-Length beyond the end of the part"),
	ERR("huge Content-Length",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-Length: 99999999999999999999999\n\n{}\n--cs--\n--b--\n", 101,
	    "Content-Length beyond the end of the part"),
	ERR("Content-Length not a number",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-Length: 1a\n\n{}\n--cs--\n--b--\n", 101, "malformed Content-Length"),
	ERR("negative Content-Length",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-Length: -1\n\n{}\n--cs--\n--b--\n", 101, "malformed Content-Length"),
	ERR("empty Content-Length",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-Length:\n\n{}\n--cs--\n--b--\n", 101, "malformed Content-Length"),
	ERR("repeated Content-Length",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-Length: 2\ncontent-length: 2\n\n{}\n--cs--\n--b--\n", 119,
	    "repeated Content-Length"),
	ERR("Transfer-Encoding",
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\nTransfer-Encoding: chunked\n\n2\n{}\n0\n\n--cs--\n--b--\n", 101,
	    "Transfer-Encoding in a batched request"),
	ERR("duplicate Content-ID in a change set",
	    CS("cs") "--cs\nContent-Type: application/http\nContent-ID: 1\n\nPOST A HTTP/1.1\n\n\n"
	    "--cs\nContent-Type: application/http\nContent-ID: 2\n\nPOST A HTTP/1.1\n\n\n"
	    "--cs\nContent-Type: application/http\n\nPOST A HTTP/1.1\nContent-ID: 1\n\n\n--cs--\n--b--\n",
	    223, "duplicate Content-ID in a change set"),
	ERR("empty request Content-ID", CS("cs") CSPART("cs") "POST A HTTP/1.1\nContent-ID: \n\n\n--cs--\n--b--\n", 101,
	    "empty Content-ID"),
};

static void
check_row(const struct row *r, const char *in, size_t len, bool crlf, const char *want)
{
	struct odata_batch *b = (struct odata_batch *)&b;
	struct odata_batch_error err;
	char at[48];
	int rc;

	memset(&err, 0, sizeof(err));
	rc = parse_copy(in, len, r->boundary ? r->boundary : "b", r->max ? r->max : 100, &b, &err);
	if (want != NULL) {
		char *got;

		if (rc != 0)
			fail_msg("%s%s: unexpected error: %s", r->label, crlf ? " (CRLF)" : "", err.message);
		got = summarize(b);
		odata_batch_free(b);
		if (strcmp(got, want) != 0)
			fail_msg("%s%s:\n got %s\nwant %s", r->label, crlf ? " (CRLF)" : "", got, want);
		free(got);
		return;
	}
	if (rc == 0) {
		char *got = summarize(b);

		fail_msg("%s%s: parsed as %s, want error '%s'", r->label, crlf ? " (CRLF)" : "", got, r->msg);
	}
	assert_null(b);
	snprintf(at, sizeof(at), " at position %zu.", err.pos);
	if (err.kind != r->kind || strstr(err.message, r->msg) == NULL ||
	    strcmp(err.message + strlen(err.message) - strlen(at), at) != 0 ||
	    strncmp(err.message, "Malformed $batch body: ", 23) != 0 || (!crlf && err.pos != r->pos))
		fail_msg("%s%s:\n got error %d %zu '%s'\nwant error %d %zu '%s'", r->label,
		    crlf ? " (CRLF)" : "", err.kind, err.pos, err.message, r->kind, r->pos, r->msg);
}

static void
test_parse_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(rows); i++) {
		const struct row *r = &rows[i];
		size_t len = strlen(r->body), clen;
		char *crlf, *want = NULL;

		check_row(r, r->body, len, false, r->want);
		if (r->flags & LF_ONLY)
			continue;
		crlf = to_crlf(r->body, len, &clen, false);
		if (r->want != NULL)
			want = to_crlf(r->want, strlen(r->want), NULL, true);
		check_row(r, crlf, clen, true, want);
		free(crlf);
		free(want);
	}
}

/* The SAPUI5 batch in detail: header lookup, positions, CRLF. */
static void
test_parse_sapui5_details(void **state)
{
	struct odata_batch *b;
	struct odata_batch_error err;
	const struct odata_batch_request *r;
	size_t len;
	char *in = to_crlf(SAPUI5, strlen(SAPUI5), &len, false);

	(void)state;
	assert_int_equal(parse_copy(in, len, "batch_36522ad7", 4, &b, &err), 0);
	assert_int_equal(b->nitems, 2);
	assert_int_equal(b->nrequests, 4);
	r = &b->items[0].requests[0];
	assert_string_equal(r->method, "GET");
	assert_int_equal(r->version_minor, 1);
	assert_int_equal(r->pos, (size_t)(strstr(in, "GET ") - in));
	assert_string_equal(odata_batch_header(r, "accept"), "application/json");
	assert_string_equal(odata_batch_header(r, "SAP-Cancel-On-Close"), "true");
	assert_string_equal(odata_batch_header(r, "maxdataserviceversion"), "2.0");
	assert_null(odata_batch_header(r, "Accept-"));
	assert_null(odata_batch_header(r, "Accep"));
	assert_null(odata_batch_header(r, "Content-ID"));
	assert_null(odata_batch_header(NULL, "x"));
	assert_null(odata_batch_header(r, NULL));
	assert_string_equal(r->headers[0].name, "sap-cancel-on-close");
	assert_string_equal(r->headers[4].name, "MaxDataServiceVersion");
	assert_int_equal(b->items[1].kind, ODATA_BATCH_CHANGESET);
	assert_string_equal(b->items[1].boundary, "changeset_77a1-b5e2");
	r = &b->items[1].requests[0];
	assert_ptr_equal(r, &b->items[0].requests[1]);	/* one array, in order */
	assert_string_equal(odata_batch_header(r, "content-length"), "24");
	assert_string_equal(odata_batch_header(r, "Content-Type"), "application/json");
	assert_int_equal(r->body_len, 24);
	r = &b->items[1].requests[2];
	assert_string_equal(r->method, "DELETE");
	assert_string_equal(r->url, "WebhookConfigurations('c')");
	assert_string_equal(r->content_id, "id-3");
	assert_int_equal(r->nheaders, 0);
	assert_null(r->headers);
	odata_batch_free(b);
	free(in);
}

static void
test_parse_nul_bytes(void **state)
{
	static const char in[] =
	    CS("cs") CSPART("cs") "POST A HTTP/1.1\n\n\0a\0\n\0" "\n--cs--\n--b--\n";
	struct odata_batch *b;
	struct odata_batch_error err;
	const struct odata_batch_request *r;

	(void)state;
	assert_int_equal(parse_copy(in, sizeof(in) - 1, "b", 10, &b, &err), 0);
	r = &b->items[0].requests[0];
	assert_int_equal(r->body_len, 5);
	assert_memory_equal(r->body, "\0a\0\n\0", 6);
	odata_batch_free(b);

	/* a NUL in the framing is just a byte: here it makes a header invalid */
	{
		static const char bad[] = PART "GET A HTTP/1.1\nX: \0\n\n\n--b--\n";

		assert_int_equal(parse_copy(bad, sizeof(bad) - 1, "b", 10, &b, &err), -1);
		assert_null(b);
		assert_non_null(strstr(err.message, "control character"));
	}
}

static void
test_parse_bad_args(void **state)
{
	struct odata_batch *b = (struct odata_batch *)&b;
	struct odata_batch_error err;
	char b71[72], body[80];

	(void)state;
	assert_int_equal(odata_batch_parse("--b--", 5, NULL, 1, &b, &err), -1);
	assert_null(b);
	assert_string_equal(err.message, "Malformed $batch body: invalid boundary at position 0.");
	assert_int_equal(odata_batch_parse("--b--", 5, "", 1, &b, &err), -1);
	assert_int_equal(odata_batch_parse("--b --", 6, "b ", 1, &b, &err), -1);
	assert_int_equal(odata_batch_parse("--b*--", 6, "b*", 1, &b, &err), -1);
	memset(b71, 'x', 71);
	b71[71] = '\0';
	assert_int_equal(odata_batch_parse("--b--", 5, b71, 1, &b, &err), -1);
	snprintf(body, sizeof(body), "--%s--", b71 + 1);
	assert_int_equal(odata_batch_parse(body, strlen(body), b71 + 1, 1, &b, &err), 0);	/* 70 is fine */
	odata_batch_free(b);
	assert_int_equal(odata_batch_parse(NULL, 5, "b", 1, &b, &err), -1);
	assert_int_equal(odata_batch_parse(NULL, 0, "b", 1, &b, &err), -1);
	assert_int_equal(err.kind, ODATA_BATCH_MALFORMED);
	assert_int_equal(odata_batch_parse("--b--", 5, "b", 1, NULL, &err), -1);
	assert_int_equal(odata_batch_parse("--b--", 5, "b", 0, &b, NULL), 0);	/* err optional */
	assert_int_equal(b->nitems, 0);
	assert_null(b->items);
	odata_batch_free(b);
	assert_int_equal(odata_batch_parse("--b-", 4, "b", 0, &b, NULL), -1);
	odata_batch_free(NULL);
}

/* Error messages name the problem and the offset, never body bytes. */
static void
test_parse_messages(void **state)
{
	static const char in[] = PART "GET SECRET%20TOKEN HTTP/9.9\n\n\n--b--\n";
	static const char in2[] = "--b\nContent-Type: text/SECRET\n\n--b--\n";
	struct odata_batch *b;
	struct odata_batch_error err;

	(void)state;
	assert_int_equal(parse_copy(in, sizeof(in) - 1, "b", 10, &b, &err), -1);
	assert_string_equal(err.message, "Malformed $batch body: unsupported HTTP version at position 89.");
	assert_int_equal(parse_copy(in2, sizeof(in2) - 1, "b", 10, &b, &err), -1);
	assert_null(strstr(err.message, "SECRET"));
	assert_int_equal(parse_copy(PART, strlen(PART), "b", 10, &b, &err), -1);
	assert_string_equal(err.message, "Malformed $batch body: missing close delimiter at position 70.");
}

/* ---- limits -------------------------------------------------------------------- */

static void
add_get(struct strbuf *sb)
{
	strbuf_adds(sb, PART "GET A HTTP/1.1\n\n\n");
}

static void
test_limit(void **state)
{
	struct odata_batch *b;
	struct odata_batch_error err;
	struct strbuf sb;
	size_t i, cross;

	(void)state;
	strbuf_init(&sb);
	for (i = 0; i < 5; i++)
		add_get(&sb);
	strbuf_adds(&sb, "--b--\n");
	assert_int_equal(parse_copy(sb.s, sb.len, "b", 5, &b, &err), 0);	/* exactly max */
	assert_int_equal(b->nrequests, 5);
	odata_batch_free(b);
	assert_int_equal(parse_copy(sb.s, sb.len, "b", 4, &b, &err), -1);	/* max + 1 */
	assert_null(b);
	assert_int_equal(err.kind, ODATA_BATCH_TOO_MANY);
	assert_int_equal(err.pos, 4 * strlen(PART "GET A HTTP/1.1\n\n\n") + 4);
	{
		char want[160];

		snprintf(want, sizeof(want), "The $batch body has more than 4 requests at position %zu.",
		    err.pos);
		assert_string_equal(err.message, want);
	}
	assert_int_equal(parse_copy(sb.s, sb.len, "b", 0, &b, &err), -1);
	assert_int_equal(err.kind, ODATA_BATCH_TOO_MANY);

	/* 2 GETs, then a change set of 3 whose second member is request 4 */
	strbuf_reset(&sb);
	add_get(&sb);
	add_get(&sb);
	strbuf_adds(&sb, CS("cs"));
	for (i = 0; i < 3; i++) {
		if (i == 1)
			cross = sb.len + strlen("--cs\n");
		strbuf_adds(&sb, CSPART("cs") "POST A HTTP/1.1\n\n{}\n");
	}
	strbuf_adds(&sb, "--cs--\n--b--\n");
	assert_int_equal(parse_copy(sb.s, sb.len, "b", 5, &b, &err), 0);
	assert_int_equal(b->nrequests, 5);
	assert_int_equal(b->items[2].nrequests, 3);
	odata_batch_free(b);
	assert_int_equal(parse_copy(sb.s, sb.len, "b", 3, &b, &err), -1);
	assert_int_equal(err.kind, ODATA_BATCH_TOO_MANY);
	assert_int_equal(err.pos, cross);

	/* detected before anything after the limit is read: the rest is junk */
	strbuf_reset(&sb);
	add_get(&sb);
	strbuf_adds(&sb, "--b\nContent-Type: application/http\n\nnot a request line\n--b\nrubbish");
	assert_int_equal(parse_copy(sb.s, sb.len, "b", 1, &b, &err), -1);
	assert_int_equal(err.kind, ODATA_BATCH_TOO_MANY);
	assert_int_equal(parse_copy(sb.s, sb.len, "b", 2, &b, &err), -1);
	assert_int_equal(err.kind, ODATA_BATCH_MALFORMED);
	strbuf_free(&sb);
}

/* A header line of exactly ODATA_BATCH_MAX_LINE bytes passes, one more
 * does not; in the part headers, the request headers and the request
 * line. */
static void
test_line_limit(void **state)
{
	static const char *const where[] = { "part", "request", "request line" };
	struct odata_batch *b;
	struct odata_batch_error err;
	struct strbuf sb;
	size_t w, extra, i;

	(void)state;
	strbuf_init(&sb);
	for (w = 0; w < COUNT(where); w++) {
		for (extra = 0; extra < 2; extra++) {
			size_t fill = ODATA_BATCH_MAX_LINE + extra;

			strbuf_reset(&sb);
			strbuf_adds(&sb, "--b\r\nContent-Type: application/http\r\n");
			if (w == 0) {
				strbuf_adds(&sb, "X: ");
				for (i = 3; i < fill; i++)
					strbuf_addc(&sb, 'v');
				strbuf_adds(&sb, "\r\n");
			}
			strbuf_adds(&sb, "\r\n");
			if (w == 2) {
				strbuf_adds(&sb, "GET /");
				for (i = 5 + 9; i < fill; i++)
					strbuf_addc(&sb, 'u');
				strbuf_adds(&sb, " HTTP/1.1\r\n");
			} else {
				strbuf_adds(&sb, "GET A HTTP/1.1\r\n");
			}
			if (w == 1) {
				strbuf_adds(&sb, "X: ");
				for (i = 3; i < fill; i++)
					strbuf_addc(&sb, 'v');
				strbuf_adds(&sb, "\r\n");
			}
			strbuf_adds(&sb, "\r\n\r\n--b--\r\n");
			assert_false(sb.failed);
			if (parse_copy(sb.s, sb.len, "b", 1, &b, &err) != (extra ? -1 : 0))
				fail_msg("%s line of %zu bytes: %s", where[w], fill, extra ? "accepted" : err.message);
			if (extra)
				assert_non_null(strstr(err.message, "header line too long"));
			else
				odata_batch_free(b);
		}
	}
	strbuf_free(&sb);
}

static void
test_header_count_limit(void **state)
{
	struct odata_batch *b;
	struct odata_batch_error err;
	struct strbuf sb;
	size_t w, n, i;

	(void)state;
	strbuf_init(&sb);
	for (w = 0; w < 2; w++) {
		for (n = ODATA_BATCH_MAX_HEADERS; n <= ODATA_BATCH_MAX_HEADERS + 1; n++) {
			strbuf_reset(&sb);
			strbuf_adds(&sb, "--b\nContent-Type: application/http\n");
			for (i = 1; w == 0 && i < n; i++)
				strbuf_addf(&sb, "X-%zu: v\n", i);
			strbuf_adds(&sb, "\nGET A HTTP/1.1\n");
			for (i = 0; w == 1 && i < n; i++)
				strbuf_addf(&sb, "X-%zu: v\n", i);
			strbuf_adds(&sb, "\n\n--b--\n");
			if (n == ODATA_BATCH_MAX_HEADERS) {
				if (parse_copy(sb.s, sb.len, "b", 1, &b, &err) != 0)
					fail_msg("%zu headers: %s", n, err.message);
				if (w == 1)
					assert_int_equal(b->items[0].requests[0].nheaders, n);
				odata_batch_free(b);
			} else {
				assert_int_equal(parse_copy(sb.s, sb.len, "b", 1, &b, &err), -1);
				assert_non_null(strstr(err.message, "too many headers"));
			}
		}
	}
	strbuf_free(&sb);
}

/* Every prefix of a valid batch (both line end styles) either parses or
 * fails cleanly; only prefixes that keep the close delimiter parse. */
static void
test_truncated(void **state)
{
	size_t v;

	(void)state;
	for (v = 0; v < 2; v++) {
		size_t len, cut, close;
		char *in = v ? to_crlf(SAPUI5, strlen(SAPUI5), &len, false) : strdup(SAPUI5);

		assert_non_null(in);
		len = strlen(in);
		close = (size_t)(strstr(in, "--batch_36522ad7--") - in) + strlen("--batch_36522ad7--");
		for (cut = 0; cut <= len; cut++) {
			struct odata_batch *b;
			struct odata_batch_error err;
			int rc = parse_copy(in, cut, "batch_36522ad7", 100, &b, &err);

			if (rc == 0) {
				if (cut < close)
					fail_msg("prefix of %zu bytes parsed", cut);
				assert_int_equal(b->nrequests, 4);
				odata_batch_free(b);
			} else {
				if (cut >= close)
					fail_msg("prefix of %zu bytes: %s", cut, err.message);
				assert_int_equal(err.kind, ODATA_BATCH_MALFORMED);
				assert_true(err.pos <= cut);
				assert_null(b);
			}
		}
		free(in);
	}
}

/* ---- writer ---------------------------------------------------------------------- */

#define RESP_PART "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"

static void
test_writer_batch(void **state)
{
	static const struct odata_batch_header loc[] = {
		{ "Location", "http://h/WebhookConfigurations('a')" },
	};
	static const char want[] =
	    "--batchresponse_1\r\n"
	    RESP_PART
	    "\r\n"
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 11\r\n"
	    "\r\n"
	    "{\"d\":\"abc\"}"
	    "\r\n--batchresponse_1\r\n"
	    "Content-Type: multipart/mixed; boundary=changesetresponse_1\r\n"
	    "\r\n"
	    "--changesetresponse_1\r\n"
	    RESP_PART
	    "Content-ID: 1\r\n"
	    "\r\n"
	    "HTTP/1.1 201 Created\r\n"
	    "Location: http://h/WebhookConfigurations('a')\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 2\r\n"
	    "\r\n"
	    "{}"
	    "\r\n--changesetresponse_1\r\n"
	    RESP_PART
	    "Content-ID: 2\r\n"
	    "\r\n"
	    "HTTP/1.1 204 No Content\r\n"
	    "\r\n"
	    "\r\n--changesetresponse_1--"
	    "\r\n--batchresponse_1--\r\n";
	struct odata_batch_response get = { 200, NULL, NULL, "application/json", NULL, 0,
	    "{\"d\":\"abc\"}", 11 };
	struct odata_batch_response created = { 201, NULL, "1", "application/json", loc, 1, "{}", 2 };
	struct odata_batch_response deleted = { 204, NULL, "2", NULL, NULL, 0, NULL, 0 };
	struct odata_batch_writer w;
	struct strbuf out;

	(void)state;
	strbuf_init(&out);
	odata_batch_writer_init(&w, &out, "batchresponse_1");
	odata_batch_write_response(&w, &get);
	odata_batch_write_begin_changeset(&w);
	odata_batch_write_response(&w, &created);
	odata_batch_write_response(&w, &deleted);
	odata_batch_write_end_changeset(&w);
	odata_batch_write_end(&w);
	assert_false(out.failed);
	assert_int_equal(out.len, sizeof(want) - 1);
	assert_memory_equal(out.s, want, sizeof(want) - 1);
	strbuf_free(&out);
}

/* A failed change set is answered by one response part, not a change set;
 * what was written into it is dropped. */
static void
test_writer_failed_changeset(void **state)
{
	static const char body[] =
	    "{\"error\":{\"code\":\"invalid_property\",\"message\":{\"lang\":\"en\",\"value\":\"x\"}}}";
	static const char want[] =
	    "--batchresponse_2\r\n"
	    RESP_PART
	    "Content-ID: 2\r\n"
	    "\r\n"
	    "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 73\r\n"
	    "\r\n"
	    "{\"error\":{\"code\":\"invalid_property\",\"message\":{\"lang\":\"en\",\"value\":\"x\"}}}"
	    "\r\n--batchresponse_2\r\n"
	    "Content-Type: multipart/mixed; boundary=changesetresponse_1\r\n"
	    "\r\n"
	    "--changesetresponse_1\r\n"
	    RESP_PART
	    "\r\n"
	    "HTTP/1.1 204 No Content\r\n"
	    "\r\n"
	    "\r\n--changesetresponse_1--"
	    "\r\n--batchresponse_2--\r\n";
	struct odata_batch_response created = { 201, NULL, "1", "application/json", NULL, 0, "{}", 2 };
	struct odata_batch_response failed = { 400, NULL, "2", "application/json", NULL, 0, body,
	    sizeof(body) - 1 };
	struct odata_batch_response ok = { 204, NULL, NULL, NULL, NULL, 0, NULL, 0 };
	struct odata_batch_writer w;
	struct strbuf out;

	(void)state;
	assert_int_equal(sizeof(body) - 1, 73);
	strbuf_init(&out);
	odata_batch_writer_init(&w, &out, "batchresponse_2");
	odata_batch_write_begin_changeset(&w);
	odata_batch_write_response(&w, &created);
	odata_batch_write_abort_changeset(&w);
	odata_batch_write_response(&w, &failed);
	odata_batch_write_begin_changeset(&w);
	odata_batch_write_response(&w, &ok);
	odata_batch_write_end(&w);	/* ends the open change set too */
	assert_false(out.failed);
	if (out.len != sizeof(want) - 1 || memcmp(out.s, want, out.len) != 0)
		fail_msg("got:\n%s\nwant:\n%s", out.s, want);
	strbuf_free(&out);
}

static void
test_writer_edges(void **state)
{
	static const struct odata_batch_header inj[] = { { "X-A\r\nX-B", "v\r\n\r\nHTTP/1.1 200 OK" } };
	struct odata_batch_response r = { 299, NULL, "a\nb", "text/plain\r", inj, 1, "", 0 };
	struct odata_batch_response clash = { 200, "Fine", NULL, NULL, NULL, 0,
	    "\r\n--changesetresponse_1\r\n--changesetresponse_2", 46 };
	struct odata_batch_writer w;
	struct strbuf out;

	(void)state;
	strbuf_init(&out);
	/* nothing written: just the close delimiter */
	odata_batch_writer_init(&w, &out, "b");
	odata_batch_write_end(&w);
	assert_string_equal(out.s, "--b--\r\n");
	/* an empty change set writes nothing */
	strbuf_reset(&out);
	odata_batch_writer_init(&w, &out, "b");
	odata_batch_write_begin_changeset(&w);
	odata_batch_write_end_changeset(&w);
	odata_batch_write_end(&w);
	assert_string_equal(out.s, "--b--\r\n");
	/* CR and LF never reach the output; unknown status: empty reason;
	 * an empty body still gets its Content-Length */
	strbuf_reset(&out);
	odata_batch_writer_init(&w, &out, "b");
	odata_batch_write_response(&w, &r);
	odata_batch_write_end(&w);
	assert_string_equal(out.s, "--b\r\n" RESP_PART "Content-ID: a b\r\n\r\n"
	    "HTTP/1.1 299 \r\nX-A  X-B: v    HTTP/1.1 200 OK\r\nContent-Type: text/plain \r\n"
	    "Content-Length: 0\r\n\r\n\r\n--b--\r\n");
	/* boundaries skip values whose delimiter is in the change set, and
	 * count up through the body */
	strbuf_reset(&out);
	odata_batch_writer_init(&w, &out, "changesetresponse_4");
	odata_batch_write_begin_changeset(&w);
	odata_batch_write_response(&w, &clash);
	odata_batch_write_end_changeset(&w);
	odata_batch_write_begin_changeset(&w);
	odata_batch_write_response(&w, &r);
	odata_batch_write_end_changeset(&w);
	odata_batch_write_begin_changeset(&w);
	odata_batch_write_response(&w, &r);
	odata_batch_write_end(&w);
	assert_false(out.failed);
	assert_non_null(strstr(out.s, "boundary=changesetresponse_3\r\n"));
	assert_null(strstr(out.s, "boundary=changesetresponse_4\r\n"));	/* the batch's */
	assert_non_null(strstr(out.s, "boundary=changesetresponse_5\r\n"));
	assert_non_null(strstr(out.s, "HTTP/1.1 200 Fine\r\n"));
	assert_null(strstr(out.s, "boundary=changesetresponse_1\r\n"));
	assert_null(strstr(out.s, "boundary=changesetresponse_2\r\n"));
	strbuf_free(&out);
	/* abandoning a writer releases its memory */
	odata_batch_writer_init(&w, &out, "b");
	odata_batch_write_begin_changeset(&w);
	odata_batch_write_response(&w, &r);
	odata_batch_writer_free(&w);
	strbuf_free(&out);
}

static void
test_reasons(void **state)
{
	static const struct { int status; const char *reason; } want[] = {
		{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 409, "Conflict" },
		{ 412, "Precondition Failed" }, { 413, "Payload Too Large" },
		{ 415, "Unsupported Media Type" }, { 500, "Internal Server Error" },
		{ 503, "Service Unavailable" }, { 299, "" }, { 0, "" }, { -1, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(want); i++)
		assert_string_equal(odata_batch_reason(want[i].status), want[i].reason);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundary_rows),
		cmocka_unit_test(test_boundary_outlen),
		cmocka_unit_test(test_parse_rows),
		cmocka_unit_test(test_parse_sapui5_details),
		cmocka_unit_test(test_parse_nul_bytes),
		cmocka_unit_test(test_parse_bad_args),
		cmocka_unit_test(test_parse_messages),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_header_count_limit),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_writer_batch),
		cmocka_unit_test(test_writer_failed_changeset),
		cmocka_unit_test(test_writer_edges),
		cmocka_unit_test(test_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
