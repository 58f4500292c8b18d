/* libFuzzer target for odata/multipart.c.
 *
 *   make build/fuzz/fuzz_odata_multipart
 *   build/fuzz/fuzz_odata_multipart -max_total_time=120 \
 *       -dict=tests/fuzz/fuzz_odata_multipart.dict
 *
 * The input is parsed as a $batch body twice: with the fixed boundary
 * "batch_1", and with its first line as the boundary (the rest being the
 * body). It is also read as a Content-Type value. Besides "does not crash",
 * it checks (abort() on failure):
 *  - the input copy is freed before the batch is looked at, so every string
 *    and body must be the batch's own copy (ASan would report a use after
 *    free), each NUL-terminated;
 *  - the structure: queries hold one GET, change sets 1..n non-GET requests
 *    with distinct Content-IDs, one request array in body order, methods,
 *    URLs, header names and values within their character sets, the
 *    request count at most max_requests;
 *  - the limit: a batch of n requests parses with max n and fails with
 *    ODATA_BATCH_TOO_MANY with max n - 1;
 *  - errors: a position within the input, a message of printable ASCII
 *    ending in "at position <pos>.";
 *  - the round trip: the batch written back in request form by the small
 *    serializer below (CRLF, all MIME headers canonical) parses to the same
 *    structure;
 *  - the boundary extractor: what it returns is a valid RFC 2046 boundary
 *    that survives quoting;
 *  - the writer: answering each request never fails and ends in the close
 *    delimiter. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"
#include "strbuf.h"

#define MAX_REQ 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool in_set(const char *s, bool (*ok)(unsigned char))
{
	for (; *s != '\0'; s++)
		if (!ok((unsigned char)*s))
			return false;
	return true;
}

static bool upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool url_byte(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

static bool name_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

static bool value_byte(unsigned char c)
{
	return (c >= 0x20 || c == '\t') && c != 0x7f;
}

static bool bchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    strchr("'()+_,-./:=? ", c) != NULL;
}

static bool valid_boundary(const char *b)
{
	size_t n = strlen(b);

	return n >= 1 && n <= 70 && b[n - 1] != ' ' && in_set(b, bchar);
}

static char *copy(const void *p, size_t n)
{
	char *c = malloc(n ? n : 1);

	check(c != NULL);
	if (n)
		memcpy(c, p, n);
	return c;
}

static void check_request(const struct odata_batch_request *r, bool in_changeset, size_t size)
{
	size_t i;

	check(r->method[0] != '\0' && strlen(r->method) <= 20 && in_set(r->method, upper));
	check(in_changeset != (strcmp(r->method, "GET") == 0));
	check(r->url[0] != '\0' && in_set(r->url, url_byte));
	check(r->version_minor == 0 || r->version_minor == 1);
	check(r->nheaders <= ODATA_BATCH_MAX_HEADERS);
	check((r->nheaders == 0) == (r->headers == NULL));
	for (i = 0; i < r->nheaders; i++) {
		const struct odata_batch_header *h = &r->headers[i];

		check(h->name[0] != '\0' && in_set(h->name, name_byte));
		check(in_set(h->value, value_byte));
		check(h->value[0] != ' ' && h->value[0] != '\t');
		check(odata_batch_header(r, h->name) != NULL);
	}
	check(r->body != NULL && r->body[r->body_len] == '\0');
	check(r->body_len <= size && r->pos < size);
	check(r->content_id == NULL || (r->content_id[0] != '\0' && in_set(r->content_id, value_byte)));
}

static void check_batch(const struct odata_batch *b, size_t max, size_t size)
{
	const struct odata_batch_request *base = b->nitems ? b->items[0].requests : NULL;
	size_t i, k, j, n = 0;

	check(b->nrequests <= max);
	check((b->nitems == 0) == (b->items == NULL));
	for (i = 0; i < b->nitems; i++) {
		const struct odata_batch_item *it = &b->items[i];
		bool cs = it->kind == ODATA_BATCH_CHANGESET;

		check(it->kind == ODATA_BATCH_QUERY || cs);
		check(it->requests == base + n);
		if (cs)
			check(it->nrequests >= 1 && it->boundary != NULL && valid_boundary(it->boundary));
		else
			check(it->nrequests == 1 && it->boundary == NULL);
		for (k = 0; k < it->nrequests; k++) {
			check_request(&it->requests[k], cs, size);
			if (n + k > 0)
				check(base[n + k].pos > base[n + k - 1].pos);
			for (j = 0; cs && j < k; j++)
				check(it->requests[k].content_id == NULL || it->requests[j].content_id == NULL ||
				    strcmp(it->requests[k].content_id, it->requests[j].content_id) != 0);
		}
		n += it->nrequests;
	}
	check(n == b->nrequests);
}

static void check_error(const struct odata_batch_error *e, size_t size)
{
	char at[48];
	size_t n = strlen(e->message), k;
	const char *p;

	check(e->kind == ODATA_BATCH_MALFORMED || e->kind == ODATA_BATCH_TOO_MANY ||
	    e->kind == ODATA_BATCH_NOMEM);
	check(e->pos <= size);
	for (p = e->message; *p != '\0'; p++)
		check(*p >= 0x20 && *p < 0x7f);
	snprintf(at, sizeof(at), "at position %zu.", e->pos);
	k = strlen(at);
	check(n > k && strcmp(e->message + n - k, at) == 0);
}

/* Parses data from an exact-size heap copy that is freed at once. */
static int parse(const uint8_t *data, size_t size, const char *boundary, size_t max,
    struct odata_batch **b, struct odata_batch_error *err)
{
	char *in = copy(data, size);
	int rc = odata_batch_parse(in, size, boundary, max, b, err);

	free(in);
	check((rc == 0) == (*b != NULL));
	return rc;
}

static void add_part_head(struct strbuf *sb, const char *boundary, const char *cid)
{
	strbuf_addf(sb, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n",
	    boundary);
	if (cid != NULL)
		strbuf_addf(sb, "Content-ID: %s\r\n", cid);
	strbuf_adds(sb, "\r\n");
}

/* One request in request form, without the line break that ends it. */
static void add_request(struct strbuf *sb, const struct odata_batch_request *r)
{
	size_t i;

	strbuf_addf(sb, "%s %s HTTP/1.%d\r\n", r->method, r->url, r->version_minor);
	for (i = 0; i < r->nheaders; i++)
		strbuf_addf(sb, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
	strbuf_adds(sb, "\r\n");
	strbuf_add(sb, r->body, r->body_len);
	/* With a Content-Length the body is a prefix of the part: a filler
	 * byte keeps its end from gluing onto the next delimiter. */
	if (odata_batch_header(r, "Content-Length") != NULL)
		strbuf_addc(sb, 'X');
}

static void serialize(struct strbuf *sb, const struct odata_batch *b, const char *boundary)
{
	size_t i, k;

	for (i = 0; i < b->nitems; i++) {
		const struct odata_batch_item *it = &b->items[i];

		if (i > 0)
			strbuf_adds(sb, "\r\n");
		if (it->kind == ODATA_BATCH_QUERY) {
			add_part_head(sb, boundary, it->requests[0].content_id);
			add_request(sb, &it->requests[0]);
			continue;
		}
		strbuf_addf(sb, "--%s\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary,
		    it->boundary);
		for (k = 0; k < it->nrequests; k++) {
			if (k > 0)
				strbuf_adds(sb, "\r\n");
			add_part_head(sb, it->boundary, it->requests[k].content_id);
			add_request(sb, &it->requests[k]);
		}
		strbuf_addf(sb, "\r\n--%s--", it->boundary);
	}
	strbuf_addf(sb, "%s--%s--\r\n", b->nitems ? "\r\n" : "", boundary);
	check(!sb->failed);
}

static bool same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static void check_same(const struct odata_batch *a, const struct odata_batch *b)
{
	size_t i, k, h;

	check(a->nitems == b->nitems && a->nrequests == b->nrequests);
	for (i = 0; i < a->nitems; i++) {
		const struct odata_batch_item *x = &a->items[i], *y = &b->items[i];

		check(x->kind == y->kind && same_str(x->boundary, y->boundary));
		check(x->nrequests == y->nrequests);
		for (k = 0; k < x->nrequests; k++) {
			const struct odata_batch_request *r = &x->requests[k], *s = &y->requests[k];

			check(strcmp(r->method, s->method) == 0 && strcmp(r->url, s->url) == 0);
			check(r->version_minor == s->version_minor && r->nheaders == s->nheaders);
			for (h = 0; h < r->nheaders; h++)
				check(strcmp(r->headers[h].name, s->headers[h].name) == 0 &&
				    strcmp(r->headers[h].value, s->headers[h].value) == 0);
			check(r->body_len == s->body_len && memcmp(r->body, s->body, r->body_len) == 0);
			check(same_str(r->content_id, s->content_id));
		}
	}
}

/* Answers every request, echoing its headers and body. */
static void write_answer(const struct odata_batch *b)
{
	struct odata_batch_writer w;
	struct strbuf out;
	size_t i, k;

	strbuf_init(&out);
	odata_batch_writer_init(&w, &out, "batchresponse_x");
	for (i = 0; i < b->nitems; i++) {
		const struct odata_batch_item *it = &b->items[i];

		if (it->kind == ODATA_BATCH_CHANGESET)
			odata_batch_write_begin_changeset(&w);
		for (k = 0; k < it->nrequests; k++) {
			const struct odata_batch_request *r = &it->requests[k];
			struct odata_batch_response resp = { 200 + (int)r->body_len % 400, NULL,
				r->content_id, odata_batch_header(r, "Content-Type"), r->headers,
				r->nheaders, r->body_len % 3 ? r->body : NULL, r->body_len };

			odata_batch_write_response(&w, &resp);
		}
		if (it->kind == ODATA_BATCH_CHANGESET) {
			if (it->nrequests % 2)
				odata_batch_write_end_changeset(&w);
			else
				odata_batch_write_abort_changeset(&w);
		}
	}
	odata_batch_write_end(&w);
	check(!out.failed);
	check(out.len >= 21 && memcmp(out.s + out.len - 21, "--batchresponse_x--\r\n", 21) == 0);
	strbuf_free(&out);
}

static void fuzz_body(const uint8_t *data, size_t size, const char *boundary, size_t max)
{
	struct odata_batch *b, *again;
	struct odata_batch_error err;
	struct strbuf sb;

	if (parse(data, size, boundary, max, &b, &err) != 0) {
		check_error(&err, size);
		return;
	}
	check_batch(b, max, size);

	/* the limit is exact */
	if (b->nrequests > 0) {
		check(parse(data, size, boundary, b->nrequests - 1, &again, &err) == -1);
		check(err.kind == ODATA_BATCH_TOO_MANY);
	}
	check(parse(data, size, boundary, b->nrequests, &again, &err) == 0);
	check_same(b, again);
	odata_batch_free(again);

	/* the round trip */
	strbuf_init(&sb);
	serialize(&sb, b, boundary);
	if (parse((const uint8_t *)sb.s, sb.len, boundary, max, &again, &err) != 0) {
		fprintf(stderr, "round trip failed: %s\n", err.message);
		abort();
	}
	check_same(b, again);
	odata_batch_free(again);
	strbuf_free(&sb);

	write_answer(b);
	odata_batch_free(b);
}

static void fuzz_content_type(const uint8_t *data, size_t size)
{
	char ct[300], out[ODATA_BATCH_MAX_BOUNDARY + 1], again[ODATA_BATCH_MAX_BOUNDARY + 1];

	if (size >= sizeof(ct) || memchr(data, 0, size) != NULL)
		return;
	memcpy(ct, data, size);
	ct[size] = '\0';
	if (odata_batch_boundary(ct, out, sizeof(out)) != 0)
		return;
	check(valid_boundary(out));
	snprintf(ct, sizeof(ct), "MultiPart/Mixed ;\tBOUNDARY = \"%s\"", out);
	check(odata_batch_boundary(ct, again, sizeof(again)) == 0 && strcmp(out, again) == 0);
	check(odata_batch_boundary(ct, again, strlen(out)) == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < 80 ? size : 80);

	fuzz_body(data, size, "batch_1", MAX_REQ);
	if (nl != NULL) {
		size_t n = (size_t)(nl - data);
		char boundary[80];

		if (n > 0 && data[n - 1] == '\r')
			n--;
		memcpy(boundary, data, n);
		boundary[n] = '\0';
		if (memchr(data, 0, n) == NULL && valid_boundary(boundary))
			fuzz_body(nl + 1, size - (size_t)(nl + 1 - data), boundary, 4 * MAX_REQ);
	}
	fuzz_content_type(data, size);
	return 0;
}
