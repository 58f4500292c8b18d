/* Unit tests for httpc against a small HTTP/1.1 server on 127.0.0.1 run in a
 * thread of this test (blocking sockets, one connection at a time, every
 * answer with Connection: close), and a listener that is never accepted
 * from (connections complete in the kernel's backlog, nothing answers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "httpc.h"
#include "ssrf.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BIG_LEN   10000
#define MAX_WAIT  5          /* seconds any one test may run the loop */
#define NCONC     50

/* ---- the server ---- */

struct server {
	int fd;
	int port;
	pthread_t thr;
	pthread_mutex_t lock;
	int accepts;
	int requests;
	char method[16];
	char path[256];
	char head[8192];
	char body[4096];
	size_t body_len;
};

static int
listener(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 128), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void
respond(int fd, const char *status, const char *extra, const char *body, size_t len)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", status, extra, len);
	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

static void
answer(int fd, const char *path)
{
	static char big[BIG_LEN];
	char extra[128];
	struct tm tm;
	time_t t;
	size_t i;

	if (strcmp(path, "/big") == 0) {
		for (i = 0; i < sizeof(big); i++)
			big[i] = (char)('a' + i % 26);
		respond(fd, "200 OK", "Content-Type: text/plain\r\n", big, sizeof(big));
	} else if (strcmp(path, "/exact16") == 0) {
		respond(fd, "200 OK", "", "0123456789abcdef", 16);
	} else if (strcmp(path, "/retry7") == 0) {
		respond(fd, "503 Service Unavailable", "Retry-After: 7\r\n", "busy", 4);
	} else if (strcmp(path, "/retrydate") == 0) {
		t = time(NULL) + 120;
		gmtime_r(&t, &tm);
		strftime(extra, sizeof(extra), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		respond(fd, "429 Too Many Requests", extra, "", 0);
	} else if (strcmp(path, "/retrypast") == 0) {
		respond(fd, "503 Service Unavailable",
		    "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", "", 0);
	} else if (strcmp(path, "/retrybad") == 0) {
		respond(fd, "503 Service Unavailable", "retry-after:  soon-ish\r\n", "", 0);
	} else if (strcmp(path, "/redirect") == 0) {
		respond(fd, "302 Found", "Location: /big\r\n", "moved", 5);
	} else {
		respond(fd, "200 OK", "", "ok", 2);
	}
}

/* Reads one request (head, then Content-Length bytes), remembers it,
 * answers by path. */
static void
serve_one(struct server *s, int fd)
{
	char buf[16384], *end, *cl;
	size_t have = 0, body_len = 0, head_len;
	ssize_t r;

	for (;;) {
		if (have == sizeof(buf) - 1)
			return;
		r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (r <= 0)
			return;
		have += (size_t)r;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL)
			break;
	}
	head_len = (size_t)(end - buf) + 4;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl != NULL && cl < end)
		body_len = strtoul(cl + 17, NULL, 10);
	if (body_len > sizeof(buf) - 1 - head_len)
		return;
	while (have < head_len + body_len) {
		r = recv(fd, buf + have, head_len + body_len - have, 0);
		if (r <= 0)
			return;
		have += (size_t)r;
	}
	pthread_mutex_lock(&s->lock);
	s->requests++;
	sscanf(buf, "%15s %255s", s->method, s->path);
	memcpy(s->head, buf, head_len < sizeof(s->head) ? head_len : sizeof(s->head) - 1);
	s->head[head_len < sizeof(s->head) ? head_len : sizeof(s->head) - 1] = '\0';
	s->body_len = body_len < sizeof(s->body) ? body_len : sizeof(s->body);
	memcpy(s->body, buf + head_len, s->body_len);
	pthread_mutex_unlock(&s->lock);
	answer(fd, s->path);
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	struct timeval tv = { 2, 0 };
	int fd;

	for (;;) {
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;   /* shut down */
		}
		pthread_mutex_lock(&s->lock);
		s->accepts++;
		pthread_mutex_unlock(&s->lock);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		serve_one(s, fd);
		close(fd);
	}
}

static int
server_count(struct server *s, const int *field)
{
	int v;

	pthread_mutex_lock(&s->lock);
	v = *field;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* ---- the fixture ---- */

struct fx {
	struct event_base *base;
	struct server srv;
	int hang_fd, hang_port;    /* listening, never accepted from */
	int closed_port;           /* nothing listens */
	struct httpc *c;
	struct ssrf_allow allow;
};

struct result {
	int done;
	enum httpc_error error;
	char text[256];
	int status;
	char body[BIG_LEN + 1];
	size_t body_len;
	bool truncated;
	long retry_after_s;
	uint64_t duration_us;
};

static bool sending;        /* set around httpc_send: callbacks must not see it */
static int completions;     /* every on_done, for waiting on many */

static void
on_done(void *arg, const struct httpc_resp *r)
{
	struct result *res = arg;

	assert_false(sending);
	completions++;
	res->done++;
	res->error = r->error;
	snprintf(res->text, sizeof(res->text), "%s", r->error_text);
	res->status = r->status;
	assert_non_null(r->body);
	assert_true(r->body_len <= BIG_LEN);
	memcpy(res->body, r->body, r->body_len);
	res->body[r->body_len] = '\0';
	assert_int_equal(r->body[r->body_len], '\0');
	res->body_len = r->body_len;
	res->truncated = r->body_truncated;
	res->retry_after_s = r->retry_after_s;
	res->duration_us = r->duration_us;
}

static int
send_req(struct httpc *c, const struct httpc_req *q, struct result *res)
{
	int rc;

	sending = true;
	rc = httpc_send(c, q, on_done, res);
	sending = false;
	return rc;
}

static void
loop_timeout(evutil_socket_t fd, short what, void *arg)
{
	bool *expired = arg;

	(void)fd;
	(void)what;
	*expired = true;
}

/* Runs the loop until *done reaches want; fails after MAX_WAIT seconds. */
static void
run_until(struct fx *f, const int *done, int want)
{
	struct timeval tv = { MAX_WAIT, 0 };
	bool expired = false;
	struct event *t = evtimer_new(f->base, loop_timeout, &expired);

	assert_non_null(t);
	evtimer_add(t, &tv);
	while (*done < want && !expired)
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(t);
	assert_false(expired);
}

/* Runs the loop for ms milliseconds. */
static void
run_for(struct fx *f, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	bool expired = false;
	struct event *t = evtimer_new(f->base, loop_timeout, &expired);

	assert_non_null(t);
	evtimer_add(t, &tv);
	while (!expired)
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(t);
}

static struct httpc *
client(struct fx *f, bool guard, const char *allow)
{
	struct httpc_opts o = { 0 };
	char err[128];

	ssrf_allow_free(&f->allow);
	if (allow != NULL)
		assert_int_equal(ssrf_allow_parse(allow, &f->allow, err, sizeof(err)), 0);
	o.ssrf_guard = guard;
	o.allow = allow != NULL ? &f->allow : NULL;
	httpc_free(f->c);
	f->c = httpc_new(f->base, &o);
	assert_non_null(f->c);
	return f->c;
}

static void
url(char *out, size_t len, int port, const char *path)
{
	snprintf(out, len, "http://127.0.0.1:%d%s", port, path);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int fd;

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	pthread_mutex_init(&f->srv.lock, NULL);
	f->srv.fd = listener(&f->srv.port);
	assert_int_equal(pthread_create(&f->srv.thr, NULL, server_main, &f->srv), 0);
	f->hang_fd = listener(&f->hang_port);
	fd = listener(&f->closed_port);
	close(fd);
	client(f, false, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	httpc_free(f->c);
	ssrf_allow_free(&f->allow);
	shutdown(f->srv.fd, SHUT_RDWR);   /* wakes accept() */
	pthread_join(f->srv.thr, NULL);
	close(f->srv.fd);
	close(f->hang_fd);
	pthread_mutex_destroy(&f->srv.lock);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* ---- the tests ---- */

static void
test_request_seen(void **state)
{
	struct fx *f = *state;
	static const char body[] = "{\"a\":1}\0tail";
	const char *headers[] = { "Content-Type: application/json", "X-Webhook-Id: abc",
		"webhook-signature: v1,xyz", NULL };
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];

	url(u, sizeof(u), f->srv.port, "/echo?x=1");
	q.method = "POST";
	q.url = u;
	q.headers = headers;
	q.body = body;
	q.body_len = sizeof(body) - 1;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	assert_int_equal(httpc_running(f->c), 1);
	assert_int_equal(res.done, 0);
	run_until(f, &res.done, 1);
	assert_int_equal(httpc_running(f->c), 0);
	assert_int_equal(res.error, HTTPC_OK);
	assert_string_equal(res.text, "");
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body_len, 2);
	assert_string_equal(res.body, "ok");
	assert_false(res.truncated);
	assert_int_equal(res.retry_after_s, -1);
	assert_true(res.duration_us > 0 && res.duration_us < 2000000);

	pthread_mutex_lock(&f->srv.lock);
	assert_string_equal(f->srv.method, "POST");
	assert_string_equal(f->srv.path, "/echo?x=1");
	assert_non_null(strstr(f->srv.head, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(f->srv.head, "\r\nX-Webhook-Id: abc\r\n"));
	assert_non_null(strstr(f->srv.head, "\r\nwebhook-signature: v1,xyz\r\n"));
	assert_non_null(strstr(f->srv.head, "\r\nContent-Length: 12\r\n"));
	assert_null(strcasestr(f->srv.head, "\r\nExpect:"));
	assert_int_equal(f->srv.body_len, 12);
	assert_memory_equal(f->srv.body, body, 12);
	pthread_mutex_unlock(&f->srv.lock);
}

/* The request is copied: the caller's buffers may change after send. */
static void
test_request_copied(void **state)
{
	struct fx *f = *state;
	char body[8] = "payload", hdr[32] = "X-Copy: yes", method[8] = "PUT";
	const char *headers[] = { hdr, NULL };
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];

	url(u, sizeof(u), f->srv.port, "/copied");
	q.method = method;
	q.url = u;
	q.headers = headers;
	q.body = body;
	q.body_len = 7;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	memset(body, 'Z', sizeof(body));
	memset(hdr, 'Z', sizeof(hdr) - 1);
	memset(u, 'Z', sizeof(u) - 1);
	strcpy(method, "GET");
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_OK);
	pthread_mutex_lock(&f->srv.lock);
	assert_string_equal(f->srv.method, "PUT");
	assert_string_equal(f->srv.path, "/copied");
	assert_non_null(strstr(f->srv.head, "\r\nX-Copy: yes\r\n"));
	assert_int_equal(f->srv.body_len, 7);
	assert_memory_equal(f->srv.body, "payload", 7);
	pthread_mutex_unlock(&f->srv.lock);
}

static void
test_methods(void **state)
{
	struct fx *f = *state;
	static const char *const methods[] = { "GET", "DELETE", "POST", "PATCH" };
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];
	size_t i;

	url(u, sizeof(u), f->srv.port, "/m");
	q.url = u;
	for (i = 0; i < ARRAY_LEN(methods); i++) {
		q.method = methods[i];
		res.done = 0;
		assert_int_equal(send_req(f->c, &q, &res), 0);
		run_until(f, &res.done, 1);
		assert_int_equal(res.error, HTTPC_OK);
		pthread_mutex_lock(&f->srv.lock);
		assert_string_equal(f->srv.method, methods[i]);
		assert_int_equal(f->srv.body_len, 0);
		pthread_mutex_unlock(&f->srv.lock);
	}
}

static void
test_body_truncated(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];
	size_t i;

	url(u, sizeof(u), f->srv.port, "/big");
	q.method = "GET";
	q.url = u;
	q.max_body = 100;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body_len, 100);
	assert_true(res.truncated);
	for (i = 0; i < 100; i++)
		assert_int_equal(res.body[i], 'a' + i % 26);

	/* The default keeps 4096. */
	q.max_body = 0;
	res.done = 0;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.body_len, 4096);
	assert_true(res.truncated);

	/* Enough room: all of it. */
	q.max_body = BIG_LEN;
	res.done = 0;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.body_len, BIG_LEN);
	assert_false(res.truncated);

	/* Exactly max_body bytes is not truncated. */
	url(u, sizeof(u), f->srv.port, "/exact16");
	q.max_body = 16;
	res.done = 0;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.body_len, 16);
	assert_false(res.truncated);
	assert_string_equal(res.body, "0123456789abcdef");
}

static void
test_retry_after(void **state)
{
	static const struct {
		const char *path;
		int status;
		long min, max;
	} cases[] = {
		{ "/retry7", 503, 7, 7 },
		{ "/retrydate", 429, 115, 121 },
		{ "/retrypast", 503, 0, 0 },
		{ "/retrybad", 503, -1, -1 },
		{ "/echo", 200, -1, -1 },
	};
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res;
	char u[128];
	size_t i;

	q.method = "POST";
	q.url = u;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		url(u, sizeof(u), f->srv.port, cases[i].path);
		memset(&res, 0, sizeof(res));
		assert_int_equal(send_req(f->c, &q, &res), 0);
		run_until(f, &res.done, 1);
		assert_int_equal(res.error, HTTPC_OK);
		assert_int_equal(res.status, cases[i].status);
		if (res.retry_after_s < cases[i].min || res.retry_after_s > cases[i].max)
			fail_msg("%s: retry_after_s %ld", cases[i].path, res.retry_after_s);
	}
}

static void
test_redirect_not_followed(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];
	int before = server_count(&f->srv, &f->srv.requests);

	url(u, sizeof(u), f->srv.port, "/redirect");
	q.method = "POST";
	q.url = u;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_OK);
	assert_int_equal(res.status, 302);
	assert_string_equal(res.body, "moved");
	assert_int_equal(server_count(&f->srv, &f->srv.requests), before + 1);
}

static void
test_timeout(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];

	url(u, sizeof(u), f->hang_port, "/never");
	q.method = "POST";
	q.url = u;
	q.body = "{}";
	q.body_len = 2;
	q.timeout_ms = 300;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_E_TIMEOUT);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.text, "timeout after 300 ms");
	if (res.duration_us < 280000 || res.duration_us > 1000000)
		fail_msg("timed out after %llu us", (unsigned long long)res.duration_us);
}

/* A listener whose accept queue is full: the kernel drops the SYNs, so the
 * connect itself times out. */
static void
test_connect_timeout(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fill[4], i;
	char u[128];

	assert_true(lfd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	for (i = 0; i < (int)ARRAY_LEN(fill); i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fill[i] >= 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	run_for(f, 50);

	url(u, sizeof(u), ntohs(sin.sin_port), "/");
	q.method = "POST";
	q.url = u;
	q.connect_timeout_ms = 200;
	q.timeout_ms = 3000;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_E_TIMEOUT);
	assert_string_equal(res.text, "connect timeout after 200 ms");
	if (res.duration_us < 180000 || res.duration_us > 1000000)
		fail_msg("timed out after %llu us", (unsigned long long)res.duration_us);
	for (i = 0; i < (int)ARRAY_LEN(fill); i++)
		close(fill[i]);
	close(lfd);
}

/* A proxy from the environment would connect on our behalf, past the SSRF
 * guard: it must be ignored. */
static void
test_env_proxy_ignored(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128], proxy[128];

	url(proxy, sizeof(proxy), f->closed_port, "");
	setenv("http_proxy", proxy, 1);
	setenv("HTTPS_PROXY", proxy, 1);
	setenv("ALL_PROXY", proxy, 1);
	url(u, sizeof(u), f->srv.port, "/via-proxy?");
	q.method = "GET";
	q.url = u;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	assert_int_equal(res.error, HTTPC_OK);
	assert_int_equal(res.status, 200);
	pthread_mutex_lock(&f->srv.lock);
	assert_string_equal(f->srv.path, "/via-proxy?");
	pthread_mutex_unlock(&f->srv.lock);
}

static void
test_connect_refused(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];

	url(u, sizeof(u), f->closed_port, "/");
	q.method = "POST";
	q.url = u;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_E_CONNECT);
	assert_int_equal(res.status, 0);
	assert_true(strlen(res.text) > 0);
	assert_null(strchr(res.text, '\n'));
}

static void
test_ssrf_refused(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];
	int before = server_count(&f->srv, &f->srv.accepts);

	client(f, true, NULL);
	url(u, sizeof(u), f->srv.port, "/echo");
	q.method = "POST";
	q.url = u;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_E_SSRF);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.text, "refused by SSRF guard: loopback 127.0.0.1");

	/* An empty allow-list is no different. */
	client(f, true, "");
	res.done = 0;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_E_SSRF);

	/* Nor is an allow-list for another address. */
	client(f, true, "127.0.0.2/32, 10.0.0.0/8");
	res.done = 0;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_E_SSRF);
	assert_int_equal(server_count(&f->srv, &f->srv.accepts), before);
}

static void
test_ssrf_allowed(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];

	client(f, true, "127.0.0.1/32");
	url(u, sizeof(u), f->srv.port, "/echo");
	q.method = "POST";
	q.url = u;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_OK);
	assert_int_equal(res.status, 200);

	client(f, true, "::ffff:127.0.0.0/104");
	res.done = 0;
	assert_int_equal(send_req(f->c, &q, &res), 0);
	run_until(f, &res.done, 1);
	assert_int_equal(res.error, HTTPC_OK);
}

static void
test_bad_urls(void **state)
{
	static const struct {
		const char *url;
		enum httpc_error want;
	} cases[] = {
		{ "ftp://127.0.0.1/file", HTTPC_E_URL },
		{ "file:///etc/passwd", HTTPC_E_URL },
		{ "gopher://127.0.0.1/", HTTPC_E_URL },
		{ "http://", HTTPC_E_URL },
		{ "http://127.0.0.1:99999/", HTTPC_E_URL },
	};
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result res;
	size_t i;

	q.method = "POST";
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		memset(&res, 0, sizeof(res));
		q.url = cases[i].url;
		assert_int_equal(send_req(f->c, &q, &res), 0);
		assert_int_equal(res.done, 0);   /* never inside httpc_send */
		run_until(f, &res.done, 1);
		if (res.error != cases[i].want)
			fail_msg("%s: error %d (%s)", cases[i].url, res.error, res.text);
		assert_true(strlen(res.text) > 0);
	}
}

/* Requests httpc_send refuses: the callback never runs. */
static void
test_send_refused(void **state)
{
	struct fx *f = *state;
	const char *crlf[] = { "X-A: b\r\nX-Injected: 1", NULL };
	struct httpc_req q = { 0 };
	struct result res = { 0 };
	char u[128];

	url(u, sizeof(u), f->srv.port, "/echo");
	q.url = u;
	q.method = "PO ST";
	assert_int_equal(send_req(f->c, &q, &res), -1);
	q.method = "";
	assert_int_equal(send_req(f->c, &q, &res), -1);
	q.method = NULL;
	assert_int_equal(send_req(f->c, &q, &res), -1);
	q.method = "POST";
	q.headers = crlf;
	assert_int_equal(send_req(f->c, &q, &res), -1);
	q.headers = NULL;
	q.body_len = 3;
	assert_int_equal(send_req(f->c, &q, &res), -1);
	q.body_len = 0;
	q.url = NULL;
	assert_int_equal(send_req(f->c, &q, &res), -1);
	assert_int_equal(httpc_running(f->c), 0);
	run_for(f, 20);
	assert_int_equal(res.done, 0);
}

static void
test_abort_on_free(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result a = { 0 }, b = { 0 };
	char u[128];

	url(u, sizeof(u), f->hang_port, "/never");
	q.method = "POST";
	q.url = u;
	q.timeout_ms = 5000;
	/* One connected and waiting for its answer, one not even started. */
	assert_int_equal(send_req(f->c, &q, &a), 0);
	run_for(f, 100);
	assert_int_equal(a.done, 0);
	assert_int_equal(send_req(f->c, &q, &b), 0);
	assert_int_equal(httpc_running(f->c), 2);
	httpc_free(f->c);
	f->c = NULL;
	assert_int_equal(a.done, 1);
	assert_int_equal(b.done, 1);
	assert_int_equal(a.error, HTTPC_E_ABORTED);
	assert_int_equal(b.error, HTTPC_E_ABORTED);
	assert_string_equal(a.text, "aborted");
	run_for(f, 20);   /* nothing of the httpc is left on the loop */
	assert_int_equal(a.done, 1);
	client(f, false, NULL);
}

/* A callback may free its httpc: the others complete as aborted. */
struct free_in_cb {
	struct httpc **c;
	struct result res;
	int others_seen;
	struct result *other;
};

static void
free_cb(void *arg, const struct httpc_resp *r)
{
	struct free_in_cb *x = arg;

	on_done(&x->res, r);
	httpc_free(*x->c);
	*x->c = NULL;
	x->others_seen = x->other->done;
}

static void
test_free_in_callback(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct result other = { 0 };
	struct free_in_cb x = { &f->c, { 0 }, 0, &other };
	char u[128], h[128];

	url(h, sizeof(h), f->hang_port, "/never");
	q.method = "POST";
	q.url = h;
	assert_int_equal(send_req(f->c, &q, &other), 0);
	url(u, sizeof(u), f->srv.port, "/echo");
	q.url = u;
	assert_int_equal(httpc_send(f->c, &q, free_cb, &x), 0);
	run_until(f, &x.res.done, 1);
	assert_int_equal(x.res.error, HTTPC_OK);
	assert_int_equal(x.others_seen, 1);
	assert_int_equal(other.error, HTTPC_E_ABORTED);
	assert_null(f->c);
	run_for(f, 20);
	client(f, false, NULL);
}

/* A callback may start the next request. */
struct chain {
	struct httpc *c;
	struct httpc_req *q;
	int left;
	int done;
	int ok;
};

static void
chain_cb(void *arg, const struct httpc_resp *r)
{
	struct chain *ch = arg;

	ch->done++;
	if (r->error == HTTPC_OK && r->status == 200)
		ch->ok++;
	if (--ch->left > 0)
		assert_int_equal(httpc_send(ch->c, ch->q, chain_cb, ch), 0);
}

static void
test_send_from_callback(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	struct chain ch = { f->c, &q, 5, 0, 0 };
	char u[128];

	url(u, sizeof(u), f->srv.port, "/echo");
	q.method = "GET";
	q.url = u;
	assert_int_equal(httpc_send(f->c, &q, chain_cb, &ch), 0);
	run_until(f, &ch.done, 5);
	assert_int_equal(ch.ok, 5);
	assert_int_equal(httpc_running(f->c), 0);
}

static void
test_concurrent(void **state)
{
	struct fx *f = *state;
	struct httpc_req q = { 0 };
	static struct result res[NCONC];
	const char *headers[] = { "Content-Type: application/json", NULL };
	char u[128];
	int i, before = server_count(&f->srv, &f->srv.requests);

	memset(res, 0, sizeof(res));
	url(u, sizeof(u), f->srv.port, "/echo");
	q.method = "POST";
	q.url = u;
	q.headers = headers;
	q.body = "{\"n\":1}";
	q.body_len = 7;
	completions = 0;
	for (i = 0; i < NCONC; i++)
		assert_int_equal(send_req(f->c, &q, &res[i]), 0);
	assert_int_equal(httpc_running(f->c), NCONC);
	run_until(f, &completions, NCONC);
	for (i = 0; i < NCONC; i++) {
		assert_int_equal(res[i].done, 1);
		assert_int_equal(res[i].error, HTTPC_OK);
		assert_int_equal(res[i].status, 200);
	}
	assert_int_equal(httpc_running(f->c), 0);
	assert_int_equal(server_count(&f->srv, &f->srv.requests), before + NCONC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_proxy_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssrf_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssrf_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_on_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
