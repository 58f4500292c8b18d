/* http — connections and requests on a worker's loop: reads requests with
 * httpparse, enforces the limits (header and body size, request deadline,
 * idle timeout), hands complete requests to route_dispatch(), and writes
 * replies. One request per connection at a time; the request is embedded
 * in its connection. A handler may reply later (after a database call): the
 * request stays valid until http_reply*() is called, even if the client has
 * gone away meanwhile. */
#ifndef WEBHOOKD_HTTP_H
#define WEBHOOKD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/util.h>

#include "httpparse.h"

struct worker;
struct route;
struct http_conn;
struct evbuffer;
struct sockaddr;

struct http_request {
	struct http_head head;      /* method, raw target, headers */
	char *path;                 /* raw, still percent-encoded */
	char *query;                /* raw query string, "" when none */
	struct evbuffer *body;      /* the request body, de-chunked */
	struct worker *worker;
	const struct route *route;  /* set by route_dispatch */
	int route_id;               /* metrics label */
	char user[64];              /* authenticated user, "" when none */
	unsigned role;              /* AUTH_ROLE_* bit of the user */
	const char *message_id;     /* integrationMessageId header, or NULL */
	bool xml_errors;            /* errors as OData XML ($metadata requests) */
	void *ctx;                  /* the handler's state */
	void (*ctx_free)(void *);   /* frees ctx once the request ends, answered or not */
	/* private to http.c */
	struct http_conn *conn;
	struct evbuffer *out_headers;
	struct timespec started;
	bool replied;
};

typedef void (*http_handler)(struct http_request *req);

const char *http_header(const struct http_request *r, const char *name);
/* Adds a response header; values with CR or LF are refused (returns -1). */
int  http_add_header(struct http_request *r, const char *name, const char *value);
/* Sends the reply; body contents (may be NULL) are moved, not copied. */
void http_reply(struct http_request *r, int status, const char *content_type,
                struct evbuffer *body);
void http_reply_text(struct http_request *r, int status, const char *content_type,
                     const char *text);
/* An OData error body (odata/error.h); inner may be NULL. */
void http_reply_error(struct http_request *r, int status, const char *code,
                      const char *message, const char *inner);
/* 503 service_unavailable with Retry-After (retry_after_s); message NULL
 * gives the generic one. */
void http_reply_unavailable(struct http_request *r, const char *message);

/* A zeroed handler state of size bytes whose first member is the request
 * pointer, attached as r->ctx with its destructor (NULL: free); NULL when
 * out of memory. */
void *http_ctx_new(struct http_request *r, size_t size, void (*ctx_free)(void *));

/* Worker side. */
void http_accept(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa);
void http_janitor(struct worker *w);     /* deadlines; called a few times a second */
void http_drain(struct worker *w);       /* close idle connections, no more keep-alive */
void http_abort(struct worker *w);       /* drain deadline passed: drop every client */
void http_free_all(struct worker *w);    /* final teardown, after the loop has stopped */

#endif
