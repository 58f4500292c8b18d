/* httpparse — a strict HTTP/1.x request codec. Pure: no I/O, no libevent, so
 * it is unit-tested and fuzzed on its own. The server (http.c) copies a
 * request head into its own buffer and parses it in place. */
#ifndef WEBHOOKD_HTTPPARSE_H
#define WEBHOOKD_HTTPPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 100

enum http_method {
	HTTP_OTHER = 0, HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH,
	HTTP_MERGE, HTTP_DELETE, HTTP_OPTIONS
};

/* Parse outcomes; the negative ones map to an HTTP status for the reply. */
enum http_parse_status {
	HTTP_PARSE_OK = 0,
	HTTP_PARSE_BAD_REQUEST = -400,     /* malformed line, header, length */
	HTTP_PARSE_EXPECTATION = -417,     /* Expect other than 100-continue */
	HTTP_PARSE_TOO_MANY_HEADERS = -431,
	HTTP_PARSE_NOT_IMPLEMENTED = -501, /* Transfer-Encoding other than chunked */
	HTTP_PARSE_VERSION = -505          /* not HTTP/1.0 or HTTP/1.1 */
};

struct http_header {
	const char *name;   /* NUL-terminated, as sent (compare case-insensitively) */
	const char *value;  /* NUL-terminated, leading/trailing OWS removed */
};

struct http_head {
	enum http_method method;
	const char *method_str;     /* NUL-terminated token as sent */
	const char *target;         /* NUL-terminated request-target, raw */
	int minor;                  /* HTTP/1.<minor>: 0 or 1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	/* derived from the headers */
	int64_t content_length;     /* -1 when absent */
	bool chunked;               /* Transfer-Encoding: chunked */
	bool keep_alive;            /* HTTP/1.1 unless "close"; 1.0 only with "keep-alive" */
	bool expect_continue;       /* Expect: 100-continue */
};

/* Length of the request head at the start of buf (request line, headers and
 * the empty line, CRLF or bare LF), or 0 when the empty line has not arrived
 * in the first len bytes. Leading empty lines before the request line are
 * part of the head (RFC 9112 2.2 says a server SHOULD ignore them). */
size_t http_head_length(const char *buf, size_t len);

/* Parse a complete head (len = http_head_length()) in place: writes NULs
 * into buf, points head's strings into it. On failure returns a negative
 * http_parse_status and sets *why to a short static English reason. */
int http_parse_head(char *buf, size_t len, struct http_head *head, const char **why);

/* Case-insensitive header lookup; NULL when absent. */
const char *http_head_get(const struct http_head *head, const char *name);

/* Incremental chunked transfer-coding decoder. Chunk extensions are skipped,
 * trailers are read and discarded. */
struct http_chunked {
	int      state;      /* private */
	uint64_t remaining;  /* private: bytes left in the current chunk */
	size_t   linelen;    /* private: length of the size/trailer line so far */
	bool     done;       /* the last chunk and trailers have been read */
};

/* Decode from in[0..inlen); decoded bytes go to out (capacity >= inlen, as
 * output never exceeds input), their count to *outlen. Returns the number of
 * input bytes consumed (stops right after the end of the message), or -1 on
 * malformed input (bad hex, missing CRLF, size overflow, a size or trailer
 * line longer than 4096 bytes). */
ssize_t http_chunked_decode(struct http_chunked *c, const char *in, size_t inlen,
                            char *out, size_t *outlen);

/* Split a request-target into path and query at the first '?': writes a NUL
 * over the '?', *query points after it ("" when absent). Returns -1 unless
 * the target is origin-form (starts with '/'). */
int http_split_target(char *target, char **path, char **query);

/* Percent-decode s in place (length *len, updated) and NUL-terminate it, so
 * s needs *len + 1 bytes. plus_as_space turns '+' into ' ' (for form-encoded
 * query values). Returns -1 on a malformed escape or a NUL byte, raw or
 * decoded; s is then unchanged. */
int http_pct_decode(char *s, size_t *len, bool plus_as_space);

/* The standard reason phrase for a status code ("Unknown" if none). */
const char *http_reason(int status);

#endif
