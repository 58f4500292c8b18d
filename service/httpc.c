/* httpc — see httpc.h. The shape of libcurl's hiperfifo example: libcurl
 * tells us which sockets to watch (sock_cb) and when to wake it (timer_cb);
 * libevent tells libcurl what happened (curl_multi_socket_action); after
 * each of those, finished transfers are read with curl_multi_info_read.
 *
 * Two libcurl rules shape the code: an easy handle must not be removed from
 * inside a libcurl callback, so completions are only delivered from drain(),
 * after curl_multi_socket_action has returned; and callbacks must never run
 * inside httpc_send, so the timer libcurl asks for when a handle is added is
 * only armed there, and fires from the loop. */
#include "httpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "ssrf.h"

#define CONNECT_TIMEOUT_MS 5000
#define TIMEOUT_MS         15000
#define MAX_BODY           4096
#define RETRY_AFTER_MAX    64    /* longer values are not a delay nor a date */
#define METHOD_MAX         32

/* A socket libcurl asked us to watch (curl_multi_assign keeps it). */
struct sock {
	LIST_ENTRY(sock) link;
	struct httpc *c;
	struct event ev;       /* re-assigned when libcurl changes the interest */
	bool added;
};

struct req {
	TAILQ_ENTRY(req) link;
	struct httpc *c;
	CURL *easy;
	httpc_cb cb;
	void *arg;
	struct curl_slist *headers;
	char *body;             /* the copy CURLOPT_POSTFIELDS points at */
	char *resp;             /* max_body + 1 bytes, allocated on the first byte */
	size_t resp_len;
	size_t max_body;
	bool truncated;
	long retry_after_s;
	long connect_timeout_ms;
	long timeout_ms;
	uint64_t started_us;
	const char *refused;    /* ssrf_check's answer for an address not connected to */
	char refused_addr[INET6_ADDRSTRLEN];
	char errbuf[CURL_ERROR_SIZE];
	char text[CURL_ERROR_SIZE + 96];
};

TAILQ_HEAD(req_list, req);
LIST_HEAD(sock_list, sock);

struct httpc {
	struct event_base *base;
	CURLM *multi;
	struct httpc_opts o;
	struct event timer;
	struct req_list reqs;
	struct sock_list socks;   /* so that nothing leaks if libcurl forgets one */
	int running;
	int depth;                /* > 0 while drain() delivers completions */
	bool closing;             /* httpc_free() has begun */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void
global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
sock_free(struct sock *s)
{
	if (s->added)
		event_del(&s->ev);
	LIST_REMOVE(s, link);
	free(s);
}

static void drain(struct httpc *c);

static void
sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct sock *s = arg;
	struct httpc *c = s->c;   /* s may be gone after socket_action */
	int flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	drain(c);
}

static void
timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct httpc *c = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(c);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl wants now. */
static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct httpc *c = userp;
	struct sock *s = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			sock_free(s);
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
		s->c = c;
		LIST_INSERT_HEAD(&c->socks, s, link);
		curl_multi_assign(c->multi, fd, s);
	}
	if (s->added) {
		event_del(&s->ev);
		s->added = false;
	}
	kind = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (kind == 0)
		return 0;
	event_assign(&s->ev, c->base, fd, kind | EV_PERSIST, sock_event, s);
	if (event_add(&s->ev, NULL) < 0)
		return -1;
	s->added = true;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: only arm the timer, even for 0 ms — calling
 * socket_action from here would run callbacks inside httpc_send. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpc *c = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(&c->timer) < 0 ? -1 : 0;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(&c->timer, &tv) < 0 ? -1 : 0;
}

static enum httpc_error
map_error(const struct req *r, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTPC_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTPC_E_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return HTTPC_E_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		/* libcurl sees a refused socket as a failed connect. */
		return r->refused != NULL ? HTTPC_E_SSRF : HTTPC_E_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return HTTPC_E_TLS;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return HTTPC_E_URL;
	default:
		return HTTPC_E_OTHER;
	}
}

/* Whether the transfer had a connection when it timed out: a new one that
 * completed (CONNECT_TIME), or a reused one (no new connect counted). */
static bool
was_connected(CURL *easy)
{
	curl_off_t ct = 0;
	long n = 0;

	curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &ct);
	curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &n);
	return ct > 0 || n > 0;
}

static const char *
error_text(struct req *r, enum httpc_error e, CURLcode rc)
{
	long ms;

	switch (e) {
	case HTTPC_OK:
		return "";
	case HTTPC_E_ABORTED:
		return "aborted";
	case HTTPC_E_SSRF:
		snprintf(r->text, sizeof(r->text), "refused by SSRF guard: %s %s",
		    r->refused, r->refused_addr);
		return r->text;
	case HTTPC_E_TIMEOUT:
		if (was_connected(r->easy)) {
			snprintf(r->text, sizeof(r->text), "timeout after %ld ms", r->timeout_ms);
		} else {
			ms = r->connect_timeout_ms < r->timeout_ms ? r->connect_timeout_ms : r->timeout_ms;
			snprintf(r->text, sizeof(r->text), "connect timeout after %ld ms", ms);
		}
		return r->text;
	default:
		return r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc);
	}
}

static void
req_free(struct req *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r->resp);
	free(r);
}

/* Take r out of the multi handle, tell its owner, free it. Never called
 * from inside a libcurl callback. */
static void
finish(struct req *r, CURLcode rc, bool aborted)
{
	struct httpc *c = r->c;
	struct httpc_resp resp;
	long status = 0;
	size_t n;

	curl_multi_remove_handle(c->multi, r->easy);
	TAILQ_REMOVE(&c->reqs, r, link);
	c->running--;

	/* The error buffer can end in a newline; the attempt log wants one line. */
	n = strlen(r->errbuf);
	if (n > 0 && r->errbuf[n - 1] == '\n')
		r->errbuf[n - 1] = '\0';
	memset(&resp, 0, sizeof(resp));
	resp.error = aborted ? HTTPC_E_ABORTED : map_error(r, rc);
	resp.error_text = error_text(r, resp.error, rc);
	resp.retry_after_s = -1;
	resp.body = "";
	if (resp.error == HTTPC_OK) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		resp.status = (int)status;
		resp.retry_after_s = r->retry_after_s;
		if (r->resp != NULL) {
			r->resp[r->resp_len] = '\0';
			resp.body = r->resp;
		}
		resp.body_len = r->resp_len;
		resp.body_truncated = r->truncated;
	}
	resp.duration_us = now_us() - r->started_us;
	r->cb(r->arg, &resp);
	req_free(r);
}

static void
destroy(struct httpc *c)
{
	struct sock *s;

	/* May still call sock_cb (CURL_POLL_REMOVE for cached connections)
	 * and timer_cb: both only touch c, which is still whole. */
	curl_multi_cleanup(c->multi);
	evtimer_del(&c->timer);
	while ((s = LIST_FIRST(&c->socks)) != NULL)
		sock_free(s);
	free(c);
}

/* Deliver every finished transfer. A callback may call httpc_send (it only
 * arms the timer) or httpc_free (which then leaves the freeing to us). */
static void
drain(struct httpc *c)
{
	CURLMsg *m;
	CURLcode rc;
	CURL *easy;
	char *priv;
	int left;

	c->depth++;
	while (!c->closing && (m = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* m dies with curl_multi_remove_handle: copy what is needed. */
		easy = m->easy_handle;
		rc = m->data.result;
		priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		if (priv != NULL)
			finish((struct req *)(void *)priv, rc, false);
	}
	c->depth--;
	if (c->depth == 0 && c->closing)
		destroy(c);
}

static size_t
write_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t len = size * nmemb, keep = r->max_body - r->resp_len;

	if (len == 0)
		return 0;
	if (r->resp == NULL) {
		r->resp = malloc(r->max_body + 1);
		if (r->resp == NULL)
			return 0;   /* CURLE_WRITE_ERROR */
	}
	if (keep > len)
		keep = len;
	memcpy(r->resp + r->resp_len, buf, keep);
	r->resp_len += keep;
	if (keep < len)
		r->truncated = true;
	/* All of it, or libcurl would stop the transfer: the rest is dropped
	 * but read, so the connection can be reused. */
	return len;
}

/* Retry-After: delta-seconds, or an HTTP-date turned into seconds from now
 * (0 when already past). -1 when neither. */
static long
parse_retry_after(const char *v, size_t len)
{
	char buf[RETRY_AFTER_MAX];
	time_t t, now;
	size_t i;

	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && strchr(" \t\r\n", v[len - 1]) != NULL)
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
		;
	if (i == len)
		return len <= 18 ? (long)strtoll(buf, NULL, 10) : -1;
	t = curl_getdate(buf, NULL);
	if (t == (time_t)-1)
		return -1;
	now = time(NULL);
	return t > now ? (long)(t - now) : 0;
}

static size_t
header_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t len = size * nmemb;

	/* A status line starts a new response (after a 1xx): forget the last. */
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0)
		r->retry_after_s = -1;
	else if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0)
		r->retry_after_s = parse_retry_after(buf + 12, len - 12);
	return len;
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	out[0] = '\0';
	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		inet_ntop(AF_INET, &sin.sin_addr, out, (socklen_t)outlen);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, out, (socklen_t)outlen);
	}
}

/* CURLOPT_OPENSOCKETFUNCTION: the one place that sees the address actually
 * connected to, after DNS, for every attempt (happy eyeballs included). */
static curl_socket_t
opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct req *r = arg;
	const char *why;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (r->c->o.ssrf_guard) {
		why = ssrf_check(&a->addr, r->c->o.allow);
		if (why != NULL) {
			r->refused = why;
			addr_text(&a->addr, r->refused_addr, sizeof(r->refused_addr));
			return CURL_SOCKET_BAD;
		}
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* An HTTP token (RFC 9110 tchar): the method goes into the request line as is. */
static bool
valid_method(const char *m)
{
	size_t n = strlen(m);

	return n > 0 && n < METHOD_MAX &&
	    strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789!#$%&'*+-.^_`|~") == n;
}

static int
set_headers(struct req *r, const char *const *h)
{
	struct curl_slist *l;
	bool expect = false;

	for (; h != NULL && *h != NULL; h++) {
		/* A line break would smuggle in headers (or a request). */
		if (strpbrk(*h, "\r\n") != NULL)
			return -1;
		if (strncasecmp(*h, "Expect:", 7) == 0)
			expect = true;
		l = curl_slist_append(r->headers, *h);
		if (l == NULL)
			return -1;
		r->headers = l;
	}
	/* No "Expect: 100-continue" on large bodies unless asked for: receivers
	 * rarely answer it, and libcurl would wait a second for them. */
	if (!expect) {
		l = curl_slist_append(r->headers, "Expect:");
		if (l == NULL)
			return -1;
		r->headers = l;
	}
	return 0;
}

static int
set_method(struct req *r, const struct httpc_req *q)
{
	CURL *e = r->easy;
	bool post = strcmp(q->method, "POST") == 0;
	int bad = 0;

	if (!valid_method(q->method) || (q->body == NULL && q->body_len > 0))
		return -1;
	if (q->body != NULL || post) {
		r->body = malloc(q->body_len > 0 ? q->body_len : 1);
		if (r->body == NULL)
			return -1;
		if (q->body_len > 0)
			memcpy(r->body, q->body, q->body_len);
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len) != CURLE_OK;
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) != CURLE_OK;
		if (!post)
			bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method) != CURLE_OK;
	} else if (strcmp(q->method, "HEAD") == 0) {
		bad |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) != CURLE_OK;
	} else if (strcmp(q->method, "GET") != 0) {
		bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method) != CURLE_OK;
	}
	return bad ? -1 : 0;
}

static int
set_options(struct req *r, const char *url)
{
	CURL *e = r->easy;
	int bad = 0;

	bad |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK;
	/* "" rather than unset: a proxy from the environment would connect for
	 * us, to wherever the URL says, past the SSRF guard. */
	bad |= curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)r) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)r) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, (void *)r) != CURLE_OK;
	return bad ? -1 : 0;
}

struct httpc *
httpc_new(struct event_base *base, const struct httpc_opts *o)
{
	struct httpc *c;
	int bad = 0;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK || base == NULL)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->base = base;
	if (o != NULL)
		c->o = *o;
	TAILQ_INIT(&c->reqs);
	LIST_INIT(&c->socks);
	evtimer_assign(&c->timer, base, timer_event, c);
	c->multi = curl_multi_init();
	if (c->multi == NULL)
		goto fail;
	bad |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) != CURLM_OK;
	bad |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, (void *)c) != CURLM_OK;
	bad |= curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK;
	bad |= curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, (void *)c) != CURLM_OK;
	bad |= curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)c->o.max_connections) != CURLM_OK;
	bad |= curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)c->o.max_host_connections) != CURLM_OK;
	if (bad)
		goto fail;
	return c;
fail:
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	free(c);
	return NULL;
}

void
httpc_free(struct httpc *c)
{
	struct req *r;

	if (c == NULL || c->closing)
		return;
	c->closing = true;   /* from here httpc_send refuses */
	while ((r = TAILQ_FIRST(&c->reqs)) != NULL)
		finish(r, CURLE_OK, true);
	/* Called from a completion callback: drain() frees once it unwinds. */
	if (c->depth == 0)
		destroy(c);
}

int
httpc_send(struct httpc *c, const struct httpc_req *q, httpc_cb cb, void *arg)
{
	struct req *r;

	if (c->closing || q == NULL || q->method == NULL || q->url == NULL || cb == NULL)
		return -1;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -1;
	r->c = c;
	r->cb = cb;
	r->arg = arg;
	r->retry_after_s = -1;
	r->max_body = q->max_body > 0 ? q->max_body : MAX_BODY;
	if (r->max_body == SIZE_MAX)
		r->max_body--;   /* room for the NUL */
	r->connect_timeout_ms = q->connect_timeout_ms > 0 ? q->connect_timeout_ms : CONNECT_TIMEOUT_MS;
	r->timeout_ms = q->timeout_ms > 0 ? q->timeout_ms : TIMEOUT_MS;
	r->easy = curl_easy_init();
	if (r->easy == NULL)
		goto fail;
	if (set_headers(r, q->headers) < 0 || set_method(r, q) < 0 || set_options(r, q->url) < 0)
		goto fail;
	r->started_us = now_us();
	/* Calls timer_cb with 0 ms: the transfer starts from the loop. */
	if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK)
		goto fail;
	TAILQ_INSERT_TAIL(&c->reqs, r, link);
	c->running++;
	return 0;
fail:
	req_free(r);
	return -1;
}

int
httpc_running(const struct httpc *c)
{
	return c->running;
}
