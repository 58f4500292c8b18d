/* multipart — the OData V2 $batch body codec (multipart/mixed).
 *
 * Parser. A $batch request body (OData V2 §2.2.7.6, RFC 2046) is a list of
 * items: a query operation (one part holding one GET request) or a change
 * set (a part of type multipart/mixed with its own boundary, holding 1..n
 * requests none of which is a GET). Each request part carries the MIME
 * headers `Content-Type: application/http` (parameters allowed), optionally
 * `Content-Transfer-Encoding: binary` (7bit and 8bit also accepted) and
 * `Content-ID`, a blank line, then an HTTP request: request line, headers,
 * blank line, body.
 *
 * What the parser accepts and decides:
 *  - lines end in CRLF or a bare LF; a CR anywhere else in a header line is
 *    an error; folded (continued) header lines are an error;
 *  - a delimiter is `--boundary` at the start of a line followed by optional
 *    spaces/tabs and a line break; `--boundary--` at the start of a line
 *    closes (anything after it is epilogue). A line starting with
 *    `--boundary` followed by anything else is ordinary content. The line
 *    break before a delimiter belongs to the delimiter. Preamble and
 *    epilogue are ignored, in the batch and in each change set;
 *  - the blank line after the embedded request's headers may be missing
 *    when the part ends there (then the body is empty);
 *  - request line: METHOD SP URL SP HTTP/1.1 or HTTP/1.0, single spaces;
 *    METHOD is 1..20 upper-case letters (any such: the glue answers 405 for
 *    those it does not serve); URL is any run of bytes other than controls
 *    and space, kept as written (not decoded);
 *  - body: the rest of the part. A Content-Length (digits only) must not
 *    exceed it; a smaller one wins and the bytes after it are ignored.
 *    Transfer-Encoding in an embedded request is an error;
 *  - Content-ID: from the MIME part headers, else from the embedded
 *    request's headers, else NULL; duplicates within one change set are an
 *    error (not across the batch), an empty Content-ID is an error. A
 *    repeated Content-Type, Content-ID or Content-Length header in one
 *    header block is an error;
 *  - an empty change set is an error; a change set inside a change set is
 *    an error; a body without any delimiter (also an empty body) is
 *    "missing close delimiter"; `--boundary--` alone is a valid empty batch;
 *  - limits: each line of a header block (and the request line) at most
 *    ODATA_BATCH_MAX_LINE bytes without its line break; each header block
 *    (the MIME headers of a part, the headers of an embedded request) at
 *    most ODATA_BATCH_MAX_HEADERS lines; at most max_requests requests in
 *    all, change set members included: request max_requests + 1 stops the
 *    parse with ODATA_BATCH_TOO_MANY before it is read (max_requests 0
 *    allows only the empty batch).
 *
 * Every string, array and body of a parsed batch is a copy owned by struct
 * odata_batch (one arena): the input may be freed right after parsing, and
 * odata_batch_free releases everything. Strings are NUL-terminated; a body
 * is body_len bytes (may contain NULs) followed by a NUL that is not part of
 * it, never NULL.
 *
 * Writer. Builds the multipart/mixed response body into a struct strbuf:
 * response parts at the top level, and change set responses, each with its
 * own boundary `changesetresponse_<n>` (n counts up from 1 in a body and is
 * skipped past any value whose delimiter occurs in that change set's parts).
 * Parts of an open change set are held back until it ends, so a change set
 * that fails can be dropped (odata_batch_write_abort_changeset) and answered
 * with one ordinary response part instead.
 *
 * Pure string handling: no HTTP server, no database. */
#ifndef WEBHOOKD_ODATA_MULTIPART_H
#define WEBHOOKD_ODATA_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

#define ODATA_BATCH_MAX_BOUNDARY 70	/* RFC 2046 */
#define ODATA_BATCH_MAX_LINE     8192	/* bytes of one header line */
#define ODATA_BATCH_MAX_HEADERS  100	/* lines of one header block */

/* Extracts the boundary parameter from a Content-Type value such as
 * `multipart/mixed; boundary=batch_36522ad7` or with a quoted boundary
 * (backslash escapes honoured). The media type compares case-insensitively,
 * as does the parameter name; whitespace may surround ';' and '='; other
 * parameters are skipped. Returns 0 and copies the boundary, NUL-terminated,
 * into out; -1 when the value is not multipart/mixed, is malformed, has no
 * or two boundary parameters, or the boundary is empty, longer than
 * ODATA_BATCH_MAX_BOUNDARY, has characters RFC 2046 does not allow (or
 * ends in a space), or does not fit outlen. */
int odata_batch_boundary(const char *content_type, char *out, size_t outlen);

struct odata_batch_header {
	const char *name;	/* as written */
	const char *value;	/* leading and trailing spaces/tabs removed */
};

struct odata_batch_request {
	const char *method;	/* "GET", "POST", "MERGE"... as written */
	const char *url;	/* request target as written: relative, absolute, $1/x */
	int version_minor;	/* HTTP/1.<minor>: 0 or 1 */
	const struct odata_batch_header *headers;	/* of the embedded request */
	size_t nheaders;
	const char *body;	/* body_len bytes + a NUL; "" when empty */
	size_t body_len;
	const char *content_id;	/* NULL when none */
	size_t pos;		/* byte offset of the request line in the input */
};

enum odata_batch_item_kind {
	ODATA_BATCH_QUERY,	/* one GET request */
	ODATA_BATCH_CHANGESET,	/* 1..n non-GET requests */
};

struct odata_batch_item {
	enum odata_batch_item_kind kind;
	const char *boundary;	/* CHANGESET: its boundary; QUERY: NULL */
	const struct odata_batch_request *requests;	/* QUERY: exactly 1 */
	size_t nrequests;
};

struct odata_batch_arena;

struct odata_batch {
	const struct odata_batch_item *items;	/* in body order */
	size_t nitems;
	size_t nrequests;	/* over all items */
	struct odata_batch_arena *arena;	/* private */
};

enum odata_batch_error_kind {
	ODATA_BATCH_MALFORMED,	/* 400 invalid $batch body */
	ODATA_BATCH_TOO_MANY,	/* 400 batch_limit_exceeded */
	ODATA_BATCH_NOMEM,
};

struct odata_batch_error {
	enum odata_batch_error_kind kind;
	size_t pos;		/* byte offset in the body */
	/* e.g. "Malformed $batch body: missing close delimiter at position
	 * 812."; never contains bytes of the body */
	char message[160];
};

/* Parses body[0..len) (need not be NUL-terminated) with the boundary taken
 * from the request's Content-Type. On success returns 0 and *out owns the
 * batch. On error returns -1, sets *out to NULL and fills *err (when not
 * NULL). An invalid boundary argument is ODATA_BATCH_MALFORMED. */
int odata_batch_parse(const char *body, size_t len, const char *boundary, size_t max_requests,
    struct odata_batch **out, struct odata_batch_error *err);

void odata_batch_free(struct odata_batch *b);

/* The value of the embedded request's first header called name (compared
 * case-insensitively), or NULL. */
const char *odata_batch_header(const struct odata_batch_request *req, const char *name);

/* ------------------------------------------------------------- writer */

/* The reason phrase for 200, 201, 202, 204, 400, 401, 403, 404, 405, 409,
 * 412, 413, 415, 500, 503 and a few more; "" for other codes. */
const char *odata_batch_reason(int status);

/* One response part. In every string a CR or LF is written as a space, so a
 * caller cannot break the framing. */
struct odata_batch_response {
	int status;			/* 100..999 */
	const char *reason;		/* NULL: odata_batch_reason(status) */
	const char *content_id;		/* NULL: no Content-ID part header */
	const char *content_type;	/* NULL: no Content-Type header */
	const struct odata_batch_header *headers;	/* written as given, before */
	size_t nheaders;		/* Content-Type and Content-Length */
	const char *body;		/* NULL: no body and no Content-Length; */
	size_t body_len;		/* else Content-Length: body_len, then body */
};

/* The writer's state; treat as opaque. */
struct odata_batch_writer {
	struct strbuf *out;
	const char *boundary;
	size_t nparts;		/* top-level parts written */
	unsigned long changesets;	/* last changesetresponse_<n> used */
	bool in_changeset;
	struct strbuf cs;	/* parts of the open change set */
	size_t *cs_ends;	/* end offset of each of them in cs */
	size_t cs_n, cs_cap;
};

/* Starts a response body in out (appended to what is there). boundary is
 * the one the caller put in the response Content-Type (`multipart/mixed;
 * boundary=...`); it is not copied and must live until write_end. */
void odata_batch_writer_init(struct odata_batch_writer *w, struct strbuf *out,
    const char *boundary);

/* Writes one response part: into the open change set if there is one, else
 * at the top level (a query operation's response, or the single response
 * that answers a failed change set). */
void odata_batch_write_response(struct odata_batch_writer *w, const struct odata_batch_response *r);

/* Opens a change set response; one must not already be open. */
void odata_batch_write_begin_changeset(struct odata_batch_writer *w);

/* Closes the open change set, writing it with its boundary. A change set
 * with no response parts writes nothing. */
void odata_batch_write_end_changeset(struct odata_batch_writer *w);

/* Drops the open change set and everything written into it. */
void odata_batch_write_abort_changeset(struct odata_batch_writer *w);

/* Ends an open change set, writes the close delimiter and releases the
 * writer's memory. Allocation failures anywhere show as out->failed. */
void odata_batch_write_end(struct odata_batch_writer *w);

/* Releases the writer's memory without finishing the body (error paths). */
void odata_batch_writer_free(struct odata_batch_writer *w);

#endif
