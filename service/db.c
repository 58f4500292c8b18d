#include "db.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>  /* embedded events, no allocation per object */

#include "log.h"
#include "metrics.h"

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

/* Each connection prepares every distinct SQL text once and then only binds
 * and executes it: measured here, that doubles the rate of a simple SELECT
 * compared with an unnamed statement parsed and planned on every call.
 * Past STMT_MAX texts a connection falls back to unnamed statements. */
#define STMT_MAX 128

struct stmt {
	uint64_t hash;
	char *sql;
};

struct db_query {
	TAILQ_ENTRY(db_query) link;
	db_cb cb;
	void *arg;
	int nparams;
	const char **params;   /* into blob */
	char *sql;             /* into blob */
	uint64_t hash;         /* of sql, for the statement cache */
	bool unnamed;          /* never prepare (e.g. LISTEN) */
	_Alignas(void *) char blob[];   /* params pointer array, then sql and param text */
};

struct conn {
	struct db_pool *pool;
	PGconn *pg;
	enum conn_state state;
	struct event io;        /* socket readiness; re-assigned when fd or interest changes */
	struct event retry;     /* reconnect backoff */
	int fd;
	short want;
	bool io_added;
	int backoff_ms;
	struct timeval connect_started;
	struct db_query *q;     /* in flight */
	PGresult *res;          /* the result kept for q */
	bool listener;          /* only LISTENs; never takes queries */
	bool preparing;         /* the result in flight is q's Prepare */
	int nstmts;
	struct stmt stmts[STMT_MAX];
};

struct db_pool {
	struct event_base *base;
	struct db_pool_opts o;
	struct conn *conns;
	int nconns;             /* o.size, plus one when listening */
	TAILQ_HEAD(query_list, db_query) queue;
	int queued;
	int nup;
	struct event tick;      /* connect timeouts */
	struct event kick;      /* fails the queue outside of any caller's stack */
	unsigned rng;
	bool closing;
};

static void conn_start(struct conn *c);
static void conn_fail(struct conn *c, const char *why);
static void conn_next(struct conn *c);

static void
finish(struct db_query *q, enum db_status st, PGresult *res, const char *msg)
{
	struct db_result r = { st, res, "", msg ? msg : "" };
	const char *state;

	if (res != NULL && st == DB_SQL_ERROR) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		r.sqlstate = state ? state : "";
		r.message = PQresultErrorMessage(res);
	}
	q->cb(q->arg, &r);
	free(q);
}

static void
fail_queue(struct db_pool *p)
{
	struct db_query *q;

	while ((q = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, q, link);
		p->queued--;
		finish(q, DB_UNAVAILABLE, NULL, "database unavailable");
	}
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;

	(void)fd; (void)what;
	if (p->nup == 0)
		fail_queue(p);
}

static void
conn_unwatch(struct conn *c)
{
	if (c->io_added)
		event_del(&c->io);
	c->io_added = false;
	c->fd = -1;
	c->want = 0;
}

static void io_cb(evutil_socket_t fd, short what, void *arg);

static int
conn_watch(struct conn *c, short want)
{
	int fd = PQsocket(c->pg);

	if (fd < 0)
		return -1;
	if (c->io_added && fd == c->fd && want == c->want)
		return 0;
	conn_unwatch(c);
	event_assign(&c->io, c->pool->base, fd, want | EV_PERSIST, io_cb, c);
	if (event_add(&c->io, NULL) < 0)
		return -1;
	c->fd = fd;
	c->want = want;
	c->io_added = true;
	return 0;
}

static int
jitter(struct db_pool *p, int ms)
{
	/* xorshift: good enough to spread reconnects, no shared state */
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 17;
	p->rng ^= p->rng << 5;
	return ms - ms / 5 + (int)(p->rng % (unsigned)(ms * 2 / 5 + 1));
}

static void
conn_schedule(struct conn *c)
{
	struct db_pool *p = c->pool;
	int ms = jitter(p, c->backoff_ms);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	c->backoff_ms *= 2;
	if (c->backoff_ms > p->o.reconnect_max_ms)
		c->backoff_ms = p->o.reconnect_max_ms;
	event_add(&c->retry, &tv);
}

static void
stmts_clear(struct conn *c)
{
	while (c->nstmts > 0)
		free(c->stmts[--c->nstmts].sql);
}

static int
stmt_find(const struct conn *c, const struct db_query *q)
{
	int i;

	for (i = 0; i < c->nstmts; i++)
		if (c->stmts[i].hash == q->hash && strcmp(c->stmts[i].sql, q->sql) == 0)
			return i;
	return -1;
}

static void
stmt_name(char *buf, size_t size, int idx)
{
	snprintf(buf, size, "w%d", idx);
}

static void
conn_fail(struct conn *c, const char *why)
{
	struct db_pool *p = c->pool;
	struct db_query *q = c->q;
	PGresult *res = c->res;
	bool was_up = !c->listener && (c->state == CONN_IDLE || c->state == CONN_BUSY);

	conn_unwatch(c);
	c->q = NULL;
	c->res = NULL;
	if (was_up) {
		p->nup--;
		if (!p->closing)
			log_warn("database connection lost: %s", why);
	} else if (c->backoff_ms >= p->o.reconnect_max_ms / 2) {
		log_debug("database connect failed: %s", why);
	}
	if (c->pg != NULL)
		PQfinish(c->pg);
	c->pg = NULL;
	c->state = CONN_DOWN;
	c->preparing = false;
	stmts_clear(c);
	if (!p->closing)
		conn_schedule(c);
	if (res != NULL)
		PQclear(res);
	if (q != NULL)
		finish(q, DB_UNAVAILABLE, NULL, "database connection lost");
	if (p->nup == 0 && p->queued > 0 && !p->closing)
		event_active(&p->kick, 0, 0);
}

static int conn_send(struct conn *c, struct db_query *q);
static int prepared(struct conn *c, struct db_query *q);
static struct db_query *query_new(const char *sql, int nparams,
    const char *const *params, db_cb cb, void *arg);

static void
listened(void *arg, const struct db_result *r)
{
	struct db_pool *p = arg;

	if (r->status == DB_OK)
		p->o.notify_cb(p->o.notify_arg, NULL, NULL);
	else
		log_error("LISTEN %s: %s", p->o.listen_channel, r->message);
}

/* Subscribe on the dedicated connection; its result arrives through the
 * usual BUSY path and tells the owner to refresh what it caches. */
static void
listen_start(struct conn *c)
{
	struct db_pool *p = c->pool;
	char *ident = PQescapeIdentifier(c->pg, p->o.listen_channel, strlen(p->o.listen_channel));
	char sql[128];
	struct db_query *q;

	if (ident == NULL) {
		conn_fail(c, "cannot quote the channel name");
		return;
	}
	snprintf(sql, sizeof(sql), "LISTEN %s", ident);
	PQfreemem(ident);
	q = query_new(sql, 0, NULL, listened, p);
	if (q != NULL)
		q->unnamed = true;  /* utility statements are not prepared */
	if (q == NULL || conn_send(c, q) < 0) {
		free(q);
		conn_fail(c, "cannot LISTEN");
	}
}

static void
conn_up(struct conn *c)
{
	struct db_pool *p = c->pool;

	c->state = CONN_IDLE;
	c->backoff_ms = p->o.reconnect_min_ms;
	if (c->listener) {
		listen_start(c);
		return;
	}
	if (p->nup++ == 0)
		log_info("database connection established");
	metrics_count("db_reconnects");
	if (conn_watch(c, EV_READ) < 0) {
		conn_fail(c, "no socket");
		return;
	}
	conn_next(c);
}

static void
conn_poll_connect(struct conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		if (conn_watch(c, EV_READ) < 0)
			conn_fail(c, "no socket");
		break;
	case PGRES_POLLING_WRITING:
		if (conn_watch(c, EV_WRITE) < 0)
			conn_fail(c, "no socket");
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->pg, 1) != 0)
			conn_fail(c, PQerrorMessage(c->pg));
		else
			conn_up(c);
		break;
	default:
		conn_fail(c, PQerrorMessage(c->pg));
		break;
	}
}

static void
conn_start(struct conn *c)
{
	struct db_pool *p = c->pool;
	/* dbname comes last so that whatever the user's conninfo says wins over
	 * these defaults (libpq: the last value of a repeated keyword is used). */
	static const char *const keys[] = { "application_name", "keepalives",
	    "keepalives_idle", "keepalives_interval", "keepalives_count", "options",
	    "dbname", NULL };
	char options[48];
	const char *vals[] = { "webhookd", "1", "10", "5", "3", options, p->o.conninfo, NULL };

	snprintf(options, sizeof(options), "-c statement_timeout=%d", p->o.statement_timeout_ms);

	c->pg = PQconnectStartParams(keys, vals, 1);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_fail(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	c->state = CONN_CONNECTING;
	event_base_gettimeofday_cached(p->base, &c->connect_started);
	/* libpq: behave as if the last PQconnectPoll returned WRITING */
	if (conn_watch(c, EV_WRITE) < 0)
		conn_fail(c, "no socket");
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	conn_start(arg);
}

static void
complete(struct conn *c)
{
	struct db_query *q = c->q;
	PGresult *res = c->res;
	enum db_status st = DB_SQL_ERROR;
	bool broken = PQstatus(c->pg) == CONNECTION_BAD;

	c->q = NULL;
	c->res = NULL;
	if (res != NULL) {
		ExecStatusType es = PQresultStatus(res);
		if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK)
			st = DB_OK;
	}
	if (c->preparing) {
		c->preparing = false;
		if (st == DB_OK && !broken) {
			PQclear(res);
			if (prepared(c, q) == 0)
				return;     /* the execution is in flight now */
			c->q = q;       /* conn_fail answers it: unavailable */
			c->state = CONN_BUSY;
			conn_fail(c, "cannot execute a prepared statement");
			return;
		}
		/* A failed Prepare is the caller's SQL error: report it below. */
	}
	/* Settle the connection before the callback, which may queue more. */
	if (!broken) {
		c->state = CONN_IDLE;
		broken = conn_watch(c, EV_READ) < 0;
	}
	if (broken)
		conn_fail(c, PQerrorMessage(c->pg));
	if (broken && st != DB_OK)
		finish(q, DB_UNAVAILABLE, NULL, "database connection lost");
	else
		finish(q, st, res, res ? NULL : "no result");
	if (res != NULL)
		PQclear(res);
	if (!broken)
		conn_next(c);
}

/* Collect results; keep the first, or the first error when there are several. */
static void
collect(struct conn *c)
{
	PGresult *r;

	while (!PQisBusy(c->pg)) {
		r = PQgetResult(c->pg);
		if (r == NULL) {
			complete(c);
			return;
		}
		if (c->res == NULL) {
			c->res = r;
		} else if (PQresultStatus(r) == PGRES_FATAL_ERROR &&
		    PQresultStatus(c->res) != PGRES_FATAL_ERROR) {
			PQclear(c->res);
			c->res = r;
		} else {
			PQclear(r);
		}
	}
}

static void
conn_flush(struct conn *c)
{
	int r = PQflush(c->pg);

	if (r < 0)
		conn_fail(c, PQerrorMessage(c->pg));
	else if (conn_watch(c, r == 1 ? (EV_READ | EV_WRITE) : EV_READ) < 0)
		conn_fail(c, "no socket");
}

static void
io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	PGnotify *n;

	(void)fd;
	switch (c->state) {
	case CONN_CONNECTING:
		conn_poll_connect(c);
		return;
	case CONN_IDLE:
		/* Readable while idle: the server is closing on us, or a notice. */
		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
			conn_fail(c, PQerrorMessage(c->pg));
			return;
		}
		while ((n = PQnotifies(c->pg)) != NULL) {
			if (c->listener)
				c->pool->o.notify_cb(c->pool->o.notify_arg, n->relname, n->extra);
			PQfreemem(n);
		}
		return;
	case CONN_BUSY:
		if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
			conn_fail(c, PQerrorMessage(c->pg));
			return;
		}
		if (c->want & EV_WRITE) {
			conn_flush(c);
			if (c->state != CONN_BUSY || (c->want & EV_WRITE))
				return;
		}
		collect(c);
		return;
	case CONN_DOWN:
		return;
	}
}

/* Attaches q only when the send and the first flush worked, so a failure
 * here never runs q's callback: the caller still owns q. A text this
 * connection has not prepared yet is prepared first (complete() then sends
 * the execution); one it has is only bound and executed. */
static int
conn_send(struct conn *c, struct db_query *q)
{
	char name[16];
	int r, idx = q->unnamed ? -1 : stmt_find(c, q);

	if (idx >= 0) {
		stmt_name(name, sizeof(name), idx);
		r = PQsendQueryPrepared(c->pg, name, q->nparams, q->params, NULL, NULL, 0);
	} else if (!q->unnamed && c->nstmts < STMT_MAX) {
		stmt_name(name, sizeof(name), c->nstmts);
		r = PQsendPrepare(c->pg, name, q->sql, q->nparams, NULL);
		c->preparing = r != 0;
	} else {
		r = PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, q->params,
		    NULL, NULL, 0);
	}
	if (!r)
		return -1;
	r = PQflush(c->pg);
	if (r < 0 || conn_watch(c, r == 1 ? (EV_READ | EV_WRITE) : EV_READ) < 0) {
		c->preparing = false;
		return -1;
	}
	c->q = q;
	c->state = CONN_BUSY;
	return 0;
}

/* q's Prepare succeeded: remember the text, then execute it. */
static int
prepared(struct conn *c, struct db_query *q)
{
	struct stmt *st = &c->stmts[c->nstmts];

	st->sql = strdup(q->sql);
	if (st->sql == NULL)
		return -1;
	st->hash = q->hash;
	c->nstmts++;
	c->state = CONN_IDLE;
	return conn_send(c, q);
}

static void
conn_next(struct conn *c)
{
	struct db_pool *p = c->pool;
	struct db_query *q;

	while (!c->listener && c->state == CONN_IDLE && (q = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, q, link);
		p->queued--;
		if (conn_send(c, q) < 0) {
			TAILQ_INSERT_HEAD(&p->queue, q, link);
			p->queued++;
			conn_fail(c, PQerrorMessage(c->pg));
		}
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;
	struct timeval now;
	long ms;
	int i;

	(void)fd; (void)what;
	event_base_gettimeofday_cached(p->base, &now);
	for (i = 0; i < p->nconns; i++) {
		struct conn *c = &p->conns[i];
		if (c->state != CONN_CONNECTING)
			continue;
		ms = (now.tv_sec - c->connect_started.tv_sec) * 1000 +
		    (now.tv_usec - c->connect_started.tv_usec) / 1000;
		if (ms > p->o.connect_timeout_ms)
			conn_fail(c, "connect timeout");
	}
}

struct db_pool *
db_pool_new(struct event_base *base, const struct db_pool_opts *o)
{
	struct db_pool *p;
	struct timeval sec = { 1, 0 };
	int i;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->base = base;
	p->o = *o;
	p->o.conninfo = strdup(o->conninfo);
	p->nconns = o->size + (o->listen_channel != NULL && o->notify_cb != NULL);
	p->conns = calloc((size_t)p->nconns, sizeof(*p->conns));
	if (p->o.conninfo == NULL || p->conns == NULL)
		goto fail;
	TAILQ_INIT(&p->queue);
	p->rng = (unsigned)(uintptr_t)p ^ (unsigned)time(NULL);
	if (p->rng == 0)
		p->rng = 1;
	event_assign(&p->tick, base, -1, EV_PERSIST, tick_cb, p);
	event_assign(&p->kick, base, -1, 0, kick_cb, p);
	event_add(&p->tick, &sec);
	for (i = 0; i < p->nconns; i++) {
		struct conn *c = &p->conns[i];
		c->pool = p;
		c->listener = i >= o->size;
		c->fd = -1;
		c->backoff_ms = o->reconnect_min_ms;
		evtimer_assign(&c->retry, base, retry_cb, c);
		conn_start(c);
	}
	return p;
fail:
	free((char *)p->o.conninfo);
	free(p->conns);
	free(p);
	return NULL;
}

void
db_pool_free(struct db_pool *p)
{
	int i;

	if (p == NULL)
		return;
	p->closing = true;
	event_del(&p->tick);
	event_del(&p->kick);
	for (i = 0; i < p->nconns; i++) {
		struct conn *c = &p->conns[i];
		event_del(&c->retry);
		if (c->pg != NULL)
			conn_fail(c, "shutting down");
		event_del(&c->retry);
	}
	fail_queue(p);
	free((char *)p->o.conninfo);
	free(p->conns);
	free(p);
}

bool
db_pool_up(const struct db_pool *p)
{
	return p->nup > 0;
}

static struct db_query *
query_new(const char *sql, int nparams, const char *const *params, db_cb cb, void *arg)
{
	struct db_query *q;
	size_t need, sl = strlen(sql) + 1, off;
	int i;

	need = sl + (size_t)nparams * sizeof(char *);
	for (i = 0; i < nparams; i++)
		if (params[i] != NULL)
			need += strlen(params[i]) + 1;
	q = malloc(sizeof(*q) + need);
	if (q == NULL)
		return NULL;
	q->cb = cb;
	q->arg = arg;
	q->nparams = nparams;
	q->unnamed = false;
	q->hash = 1469598103934665603ull;   /* FNV-1a */
	for (i = 0; sql[i]; i++)
		q->hash = (q->hash ^ (unsigned char)sql[i]) * 1099511628211ull;
	/* the pointer array first (aligned by the flexible member), then text */
	q->params = (const char **)(void *)q->blob;
	off = (size_t)nparams * sizeof(char *);
	q->sql = q->blob + off;
	memcpy(q->sql, sql, sl);
	off += sl;
	for (i = 0; i < nparams; i++) {
		size_t l;
		if (params[i] == NULL) {
			q->params[i] = NULL;
			continue;
		}
		l = strlen(params[i]) + 1;
		memcpy(q->blob + off, params[i], l);
		q->params[i] = q->blob + off;
		off += l;
	}
	return q;
}

int
db_query(struct db_pool *p, const char *sql, int nparams,
    const char *const *params, db_cb cb, void *arg)
{
	struct db_query *q;
	int i;

	if (p->closing || p->nup == 0 || nparams < 0) {
		metrics_count("db_unavailable");
		return -1;
	}
	q = query_new(sql, nparams, params, cb, arg);
	if (q == NULL)
		return -1;
	for (i = 0; i < p->o.size; i++) {
		struct conn *c = &p->conns[i];
		if (c->state != CONN_IDLE)
			continue;
		if (conn_send(c, q) == 0)
			return 0;
		conn_fail(c, PQerrorMessage(c->pg));
	}
	if (p->nup == 0 || p->queued >= p->o.queue_max) {
		free(q);
		metrics_count("db_unavailable");
		return -1;
	}
	TAILQ_INSERT_TAIL(&p->queue, q, link);
	p->queued++;
	return 0;
}

static int
append_kv(char **buf, size_t *len, const char *k, const char *v)
{
	size_t need = strlen(k) + 4 + 2 * strlen(v) + 2;
	char *nb = realloc(*buf, *len + need);
	char *o;

	if (nb == NULL)
		return -1;
	*buf = nb;
	o = nb + *len;
	o += sprintf(o, "%s%s='", *len ? " " : "", k);
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			*o++ = '\\';
		*o++ = *v;
	}
	*o++ = '\'';
	*o = '\0';
	*len = (size_t)(o - nb);
	return 0;
}

static bool
needs_resolving(const char *host)
{
	unsigned char a[16];

	return host != NULL && host[0] != '\0' && host[0] != '/' && host[0] != '@' &&
	    strchr(host, ',') == NULL && inet_pton(AF_INET, host, a) != 1 &&
	    inet_pton(AF_INET6, host, a) != 1;
}

char *
db_conninfo_resolve(const char *conninfo, char *err, size_t errlen)
{
	PQconninfoOption *opts, *o;
	const char *host = NULL, *hostaddr = NULL;
	char addr[INET6_ADDRSTRLEN], *out = NULL, *perr = NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	size_t len = 0;
	int rc;

	opts = PQconninfoParse(conninfo, &perr);
	if (opts == NULL) {
		snprintf(err, errlen, "database_url: %s", perr ? perr : "invalid");
		PQfreemem(perr);
		return NULL;
	}
	for (o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	if ((hostaddr && *hostaddr) || !needs_resolving(host)) {
		PQconninfoFree(opts);
		return strdup(conninfo);
	}
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "database_url: cannot resolve %s: %s", host, gai_strerror(rc));
		goto done;
	}
	getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
	for (o = opts; o->keyword; o++)
		if (o->val != NULL && *o->val && append_kv(&out, &len, o->keyword, o->val) < 0)
			goto oom;
	if (append_kv(&out, &len, "hostaddr", addr) < 0)
		goto oom;
	goto done;
oom:
	free(out);
	out = NULL;
	snprintf(err, errlen, "out of memory");
done:
	if (ai)
		freeaddrinfo(ai);
	PQconninfoFree(opts);
	return out;
}
