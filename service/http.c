#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "server.h"

#define LINGER_MS 2000     /* after an early error reply, drain what the client still sends */
#define CHUNK_STEP 16384   /* chunked bodies are decoded this many bytes at a time */

enum phase { PH_IDLE, PH_HEAD, PH_BODY, PH_HANDLING, PH_WRITING, PH_LINGER };

struct http_conn {
	TAILQ_ENTRY(http_conn) link;
	struct worker *w;
	struct bufferevent *bev;    /* NULL once the peer is gone */
	enum phase phase;
	struct timeval since;       /* when the current phase began */
	char *headbuf;              /* this request's head; strings of req.head point here */
	struct http_chunked chunked;
	int64_t body_left;          /* Content-Length bytes still to come */
	bool close_after;           /* Connection: close on the reply, then close */
	bool body_unread;           /* replied before the body was read: linger */
	char remote[INET6_ADDRSTRLEN];
	struct http_request req;    /* embedded: one request at a time */
};

static void conn_read(struct http_conn *c);

static const struct config *
cfg_of(const struct http_conn *c)
{
	return c->w->srv->cfg;
}

static long
ms_since(const struct http_conn *c, const struct timeval *now)
{
	return (now->tv_sec - c->since.tv_sec) * 1000 +
	    (now->tv_usec - c->since.tv_usec) / 1000;
}

static void
mark(struct http_conn *c, enum phase ph)
{
	c->phase = ph;
	event_base_gettimeofday_cached(c->w->base, &c->since);
}

static void
request_reset(struct http_conn *c)
{
	struct http_request *r = &c->req;

	if (r->ctx_free != NULL && r->ctx != NULL)
		r->ctx_free(r->ctx);
	free(c->headbuf);
	c->headbuf = NULL;
	evbuffer_drain(r->body, evbuffer_get_length(r->body));
	evbuffer_drain(r->out_headers, evbuffer_get_length(r->out_headers));
	memset(&r->head, 0, sizeof(r->head));
	r->path = NULL;
	r->query = NULL;
	r->route_id = route_none_id();
	r->user[0] = '\0';
	r->role = 0;
	r->message_id = NULL;
	r->xml_errors = false;
	r->ctx = NULL;
	r->ctx_free = NULL;
	r->replied = false;
	memset(&c->chunked, 0, sizeof(c->chunked));
	c->body_left = 0;
	c->body_unread = false;
}

/* The one teardown path of a connection. */
static void
conn_free(struct http_conn *c)
{
	struct worker *w = c->w;

	TAILQ_REMOVE(&w->conns, c, link);
	w->nconns--;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->req.ctx_free != NULL && c->req.ctx != NULL)
		c->req.ctx_free(c->req.ctx);
	free(c->headbuf);
	if (c->req.body)
		evbuffer_free(c->req.body);
	if (c->req.out_headers)
		evbuffer_free(c->req.out_headers);
	free(c);
}

/* The peer is gone. A request being handled keeps its connection object
 * until the handler replies; everything else is freed now. */
static void
conn_gone(struct http_conn *c)
{
	if (c->phase == PH_HANDLING) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		c->bev = NULL;
		return;
	}
	conn_free(c);
}

static void
early_error(struct http_conn *c, int status, const char *code, const char *msg)
{
	c->close_after = true;
	c->body_unread = true;
	mark(c, PH_HANDLING);
	bufferevent_disable(c->bev, EV_READ);
	http_reply_error(&c->req, status, code, msg, NULL);
}

static void
dispatch(struct http_conn *c)
{
	struct http_request *r = &c->req;

	mark(c, PH_HANDLING);
	bufferevent_disable(c->bev, EV_READ);
	if (http_split_target((char *)r->head.target, &r->path, &r->query) < 0) {
		c->close_after = true;
		http_reply_error(r, 400, "invalid_request", "request-target must be a path", NULL);
		return;
	}
	if (!r->head.keep_alive || c->w->draining)
		c->close_after = true;
	route_dispatch(r);
}

static void
read_body(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct http_request *r = &c->req;
	size_t avail, take, outlen;
	ssize_t used;
	char *out;

	if (!r->head.chunked) {
		avail = evbuffer_get_length(in);
		take = avail < (size_t)c->body_left ? avail : (size_t)c->body_left;
		evbuffer_remove_buffer(in, r->body, take);
		c->body_left -= (int64_t)take;
		if (c->body_left == 0)
			dispatch(c);
		return;
	}
	while (!c->chunked.done && (avail = evbuffer_get_length(in)) > 0) {
		take = avail < CHUNK_STEP ? avail : CHUNK_STEP;
		out = malloc(take);
		if (out == NULL) {
			early_error(c, 500, "internal_error", "out of memory");
			return;
		}
		used = http_chunked_decode(&c->chunked, (const char *)evbuffer_pullup(in, (ev_ssize_t)take),
		    take, out, &outlen);
		if (used < 0) {
			free(out);
			early_error(c, 400, "invalid_request", "malformed chunked body");
			return;
		}
		evbuffer_add(r->body, out, outlen);
		free(out);
		evbuffer_drain(in, (size_t)used);
		if (evbuffer_get_length(r->body) > cfg_of(c)->max_body_size) {
			early_error(c, 413, "payload_too_large", "request body is larger than the configured limit");
			return;
		}
	}
	if (c->chunked.done)
		dispatch(c);
}

static void
start_body(struct http_conn *c)
{
	struct http_request *r = &c->req;
	const struct config *cfg = cfg_of(c);

	if (!r->head.chunked && r->head.content_length <= 0) {
		dispatch(c);
		return;
	}
	if (!r->head.chunked && (uint64_t)r->head.content_length > cfg->max_body_size) {
		early_error(c, 413, "payload_too_large", "request body is larger than the configured limit");
		return;
	}
	if (r->head.expect_continue)
		bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	c->body_left = r->head.content_length;
	c->phase = PH_BODY;     /* keeps `since`: one deadline for head and body */
	read_body(c);
}

static int
parse_status_code(int rc)
{
	return rc < 0 ? -rc : 400;
}

static void
read_head(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	const struct config *cfg = cfg_of(c);
	size_t avail = evbuffer_get_length(in), look, n;
	const char *why = NULL;
	int rc;

	if (avail == 0)
		return;
	if (c->phase == PH_IDLE) {
		mark(c, PH_HEAD);
		clock_gettime(CLOCK_MONOTONIC, &c->req.started);
	}
	look = avail < cfg->max_header_size ? avail : cfg->max_header_size;
	n = http_head_length((const char *)evbuffer_pullup(in, (ev_ssize_t)look), look);
	if (n == 0) {
		if (avail >= cfg->max_header_size)
			early_error(c, 431, "header_too_large", "request header fields are larger than the configured limit");
		return;
	}
	c->headbuf = malloc(n + 1);
	if (c->headbuf == NULL) {
		early_error(c, 500, "internal_error", "out of memory");
		return;
	}
	evbuffer_remove(in, c->headbuf, n);
	c->headbuf[n] = '\0';
	rc = http_parse_head(c->headbuf, n, &c->req.head, &why);
	if (rc != HTTP_PARSE_OK) {
		memset(&c->req.head, 0, sizeof(c->req.head));
		early_error(c, parse_status_code(rc), "invalid_request", why ? why : "malformed request");
		return;
	}
	/* Known from here on, so even early refusals echo and log it. */
	c->req.message_id = http_header(&c->req, "integrationMessageId");
	start_body(c);
}

static void
conn_read(struct http_conn *c)
{
	switch (c->phase) {
	case PH_IDLE:
	case PH_HEAD:
		read_head(c);
		break;
	case PH_BODY:
		read_body(c);
		break;
	case PH_LINGER: {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	}
	default:
		break;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_read(arg);
}

static void
request_done(struct http_conn *c)
{
	bool linger = c->body_unread;

	request_reset(c);
	if (c->close_after || c->w->draining) {
		if (linger) {
			/* The client may still be sending the body we refused:
			 * closing now would reset the connection and could lose our
			 * reply, so drain for a moment (and half-close plain TCP so
			 * the client sees the end of our answer). */
			if (c->w->srv->ssl == NULL)
				shutdown(bufferevent_getfd(c->bev), SHUT_WR);
			mark(c, PH_LINGER);
			bufferevent_enable(c->bev, EV_READ);
			return;
		}
		conn_free(c);
		return;
	}
	mark(c, PH_IDLE);
	bufferevent_enable(c->bev, EV_READ);
	conn_read(c);   /* a pipelined request may already be buffered */
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->phase == PH_WRITING)
		request_done(c);
}

static void
event_cb(struct bufferevent *bev, short events, void *arg)
{
	(void)bev;
	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_gone(arg);
}

void
http_accept(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa)
{
	struct http_conn *c;
	int one = 1;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->w = w;
	c->req.conn = c;
	c->req.worker = w;
	c->req.body = evbuffer_new();
	c->req.out_headers = evbuffer_new();
	if (c->req.body == NULL || c->req.out_headers == NULL)
		goto fail;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, c->remote, sizeof(c->remote));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, c->remote, sizeof(c->remote));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (w->srv->ssl != NULL) {
		SSL *ssl = SSL_new(w->srv->ssl);
		if (ssl == NULL)
			goto fail;
		c->bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->bev == NULL)
		goto fail;
	fd = -1;    /* owned by the bufferevent now */
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ);
	request_reset(c);
	mark(c, PH_IDLE);
	TAILQ_INSERT_TAIL(&w->conns, c, link);
	w->nconns++;
	metrics_count("connections_accepted");
	return;
fail:
	if (fd >= 0)
		evutil_closesocket(fd);
	if (c != NULL) {
		if (c->req.body)
			evbuffer_free(c->req.body);
		if (c->req.out_headers)
			evbuffer_free(c->req.out_headers);
		free(c);
	}
}

const char *
http_header(const struct http_request *r, const char *name)
{
	return http_head_get(&r->head, name);
}

int
http_add_header(struct http_request *r, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return -1;
	return evbuffer_add_printf(r->out_headers, "%s: %s\r\n", name, value) < 0 ? -1 : 0;
}

static const char *
date_header(struct worker *w)
{
	struct timeval now;
	struct tm tm;

	event_base_gettimeofday_cached(w->base, &now);
	if (now.tv_sec != w->date_sec) {
		gmtime_r(&now.tv_sec, &tm);
		strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		w->date_sec = now.tv_sec;
	}
	return w->date;
}

/* JSON string contents: the parser admits only visible ASCII in targets, but
 * header values may carry any byte >= 0x20, so escape everything else. */
static void
json_escape(struct evbuffer *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			evbuffer_add_printf(out, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			evbuffer_add_printf(out, "\\u%04x", ch);
		else
			evbuffer_add(out, s, 1);
	}
}

static void
access_log(struct http_conn *c, int status, size_t bytes, double ms)
{
	struct http_request *r = &c->req;
	struct evbuffer *line = evbuffer_new();
	struct timeval now;
	struct tm tm;
	char ts[32];

	if (line == NULL)
		return;
	gettimeofday(&now, NULL);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	evbuffer_add_printf(line, "{\"ts\":\"%s.%03ldZ\",\"remote\":\"%s\",\"method\":\"", ts,
	    (long)now.tv_usec / 1000, c->remote);
	json_escape(line, r->head.method_str ? r->head.method_str : "-");
	evbuffer_add_printf(line, "\",\"path\":\"");
	json_escape(line, r->path ? r->path : (r->head.target ? r->head.target : "-"));
	evbuffer_add_printf(line, "\",\"status\":%d,\"bytes\":%zu,\"latency_ms\":%.3f,\"user\":\"",
	    status, bytes, ms);
	json_escape(line, r->user);
	evbuffer_add_printf(line, "\",\"integrationMessageId\":");
	if (r->message_id != NULL) {
		evbuffer_add(line, "\"", 1);
		json_escape(line, r->message_id);
		evbuffer_add(line, "\"", 1);
	} else {
		evbuffer_add(line, "null", 4);
	}
	evbuffer_add(line, "}\n", 2);
	log_access_line((const char *)evbuffer_pullup(line, -1), evbuffer_get_length(line));
	evbuffer_free(line);
}

static bool
status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

void
http_reply(struct http_request *r, int status, const char *content_type,
    struct evbuffer *body)
{
	struct http_conn *c = r->conn;
	struct evbuffer *out;
	struct timespec now;
	size_t len = body ? evbuffer_get_length(body) : 0;
	double ms;

	if (r->replied)
		return;
	r->replied = true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - r->started.tv_sec) * 1e3 +
	    (double)(now.tv_nsec - r->started.tv_nsec) / 1e6;
	metrics_request(r->route_id, status, (uint64_t)(ms * 1000));
	if (!status_has_body(status))
		len = 0;
	access_log(c, status, len, ms);
	if (c->bev == NULL) {       /* the client left while we worked */
		conn_free(c);
		return;
	}
	out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: webhookd\r\n"
	    "DataServiceVersion: 2.0\r\n", status, http_reason(status), date_header(c->w));
	if (status_has_body(status))
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	if (len > 0 && content_type != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
	if (r->message_id != NULL)
		evbuffer_add_printf(out, "integrationMessageId: %s\r\n", r->message_id);
	if (c->close_after || c->w->draining)
		evbuffer_add_printf(out, "Connection: close\r\n");
	else if (r->head.minor == 0)
		evbuffer_add_printf(out, "Connection: keep-alive\r\n");
	evbuffer_add_buffer(out, r->out_headers);
	evbuffer_add(out, "\r\n", 2);
	if (len > 0 && r->head.method != HTTP_HEAD)
		evbuffer_add_buffer(out, body);
	if (body != NULL)
		evbuffer_drain(body, evbuffer_get_length(body));
	mark(c, PH_WRITING);
	bufferevent_enable(c->bev, EV_WRITE);
}

void *
http_ctx_new(struct http_request *r, size_t size, void (*ctx_free)(void *))
{
	struct http_request **ctx = calloc(1, size);

	if (ctx == NULL)
		return NULL;
	*ctx = r;
	r->ctx = ctx;
	r->ctx_free = ctx_free ? ctx_free : free;
	return ctx;
}

void
http_reply_text(struct http_request *r, int status, const char *content_type,
    const char *text)
{
	struct evbuffer *b = evbuffer_new();

	if (b != NULL)
		evbuffer_add(b, text, strlen(text));
	http_reply(r, status, content_type, b);
	if (b != NULL)
		evbuffer_free(b);
}

void
http_reply_error(struct http_request *r, int status, const char *code,
    const char *message, const char *inner)
{
	char *body = r->xml_errors ? odata_error_xml(code, message, inner) :
	    odata_error_json(code, message, inner);

	if (status == 401)
		http_add_header(r, "WWW-Authenticate", "Basic realm=\"webhookd\", charset=\"UTF-8\"");
	http_reply_text(r, status, r->xml_errors ? "application/xml" : "application/json",
	    body ? body : "{}");
	free(body);
}

void
http_reply_unavailable(struct http_request *r, const char *message)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", r->worker->srv->cfg->retry_after_s);
	http_add_header(r, "Retry-After", v);
	http_reply_error(r, 503, "service_unavailable", message ? message :
	    "The service is temporarily unavailable; retry later.", NULL);
}

void
http_janitor(struct worker *w)
{
	const struct config *cfg = w->srv->cfg;
	struct http_conn *c, *next;
	struct timeval now;
	long ms;

	event_base_gettimeofday_cached(w->base, &now);
	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		ms = ms_since(c, &now);
		switch (c->phase) {
		case PH_IDLE:
			if (w->draining || ms > cfg->idle_timeout_ms)
				conn_free(c);
			break;
		case PH_HEAD:
		case PH_BODY:
			if (ms > cfg->request_timeout_ms) {
				metrics_count("request_timeouts");
				early_error(c, 408, "request_timeout",
				    "the request was not received in time");
			}
			break;
		case PH_WRITING:
			if (ms > cfg->request_timeout_ms)
				conn_free(c);   /* a reader too slow to take its reply */
			break;
		case PH_LINGER:
			if (ms > LINGER_MS)
				conn_free(c);
			break;
		case PH_HANDLING:
			break;
		}
	}
}

void
http_drain(struct worker *w)
{
	struct http_conn *c, *next;

	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->phase == PH_IDLE)
			conn_free(c);
		else
			c->close_after = true;
	}
}

void
http_abort(struct worker *w)
{
	struct http_conn *c, *next;

	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_gone(c);
	}
}

void
http_free_all(struct worker *w)
{
	struct http_conn *c;

	while ((c = TAILQ_FIRST(&w->conns)) != NULL)
		conn_free(c);
}
