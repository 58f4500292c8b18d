/* httpc — outgoing HTTP requests through libcurl's multi interface, driven
 * by one libevent loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION): nothing
 * here blocks the loop (libcurl's threaded resolver does DNS). Kore's
 * curl.c on libevent.
 *
 * Every request: no redirects followed, http and https only, no proxy from
 * the environment, TCP keep-alive, connections reused per host, and the
 * SSRF guard (ssrf.c) applied in CURLOPT_OPENSOCKETFUNCTION to the address
 * being connected to. */
#ifndef WEBHOOKD_HTTPC_H
#define WEBHOOKD_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ssrf_allow;
struct httpc;

struct httpc_opts {
	int max_connections;            /* CURLMOPT_MAX_TOTAL_CONNECTIONS, 0 = libcurl's default */
	int max_host_connections;       /* CURLMOPT_MAX_HOST_CONNECTIONS, 0 = unlimited */
	const struct ssrf_allow *allow; /* may be NULL: nothing special-use allowed; must
	                                   outlive the httpc */
	bool ssrf_guard;                /* false only in unit tests of httpc itself */
};

enum httpc_error {
	HTTPC_OK = 0,      /* a response arrived (any status code) */
	HTTPC_E_SSRF,      /* refused by the SSRF guard; error_text names the range */
	HTTPC_E_RESOLVE,   /* name did not resolve */
	HTTPC_E_CONNECT,   /* connection refused / unreachable */
	HTTPC_E_TIMEOUT,   /* connect or total timeout */
	HTTPC_E_TLS,       /* handshake or certificate */
	HTTPC_E_URL,       /* malformed or non-http(s) URL */
	HTTPC_E_OTHER,     /* anything else libcurl reports */
	HTTPC_E_ABORTED,   /* httpc_free() while the request was running */
};

struct httpc_req {
	const char *method;            /* "POST", "GET", ... */
	const char *url;
	const char *const *headers;    /* "Name: value" lines, NULL-terminated; may be NULL */
	const void *body;              /* may be NULL */
	size_t body_len;
	long connect_timeout_ms;       /* 0: 5000 */
	long timeout_ms;               /* total; 0: 15000 */
	size_t max_body;               /* response bytes kept (the rest is read and dropped);
	                                  0: 4096 */
};

/* Valid during the callback only. */
struct httpc_resp {
	enum httpc_error error;
	const char *error_text;        /* "" when HTTPC_OK; short, for the attempt log */
	int status;                    /* HTTP status when HTTPC_OK, else 0 */
	const char *body;              /* first max_body bytes, NUL-terminated (may hold NULs) */
	size_t body_len;
	bool body_truncated;
	long retry_after_s;            /* Retry-After (delta-seconds or HTTP-date, from now),
	                                  -1 when absent or unparsable */
	uint64_t duration_us;          /* from httpc_send to completion */
};

typedef void (*httpc_cb)(void *arg, const struct httpc_resp *r);

struct httpc *httpc_new(struct event_base *base, const struct httpc_opts *o);
/* Every running request completes with HTTPC_E_ABORTED (callbacks run inside
 * httpc_free), then everything is released. May be called from inside an
 * httpc callback (the release then waits until that callback returns);
 * httpc_send refuses from the moment httpc_free begins. Call it before
 * event_base_free. */
void httpc_free(struct httpc *c);

/* Start a request; everything in req is copied. The callback runs exactly
 * once, from the loop, never inside httpc_send. Returns 0, or -1 when the
 * request could not be started (out of memory, libcurl refused, a method
 * that is not an HTTP token, a header line holding CR or LF, body NULL with
 * body_len > 0, httpc_free begun) — then cb is never called. A body (or any
 * POST) is sent with Content-Length; "Expect:" is added to the headers
 * unless they have an Expect line, so libcurl never waits for a
 * 100-continue. */
int httpc_send(struct httpc *c, const struct httpc_req *req, httpc_cb cb, void *arg);

/* Requests running now. */
int httpc_running(const struct httpc *c);

#endif
