#include "db.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>
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

/* One statement of a batch. */
struct bstmt {
	uint64_t hash;
	char *sql;
	int nparams;
	const char **params;
};

/* What the pipeline sent, in order: each op yields its result(s), then NULL. */
struct bop {
	int idx;               /* the statement */
	int slot;              /* prepare: the cache slot it fills; exec: -1 */
	bool prepare;
};

/* A db_batch(): everything lives in its db_query's blob. */
struct batch {
	db_batch_cb cb;
	int n;
	struct bstmt *st;      /* [n] */
	PGresult **res;        /* [n] one per statement, as they come */
	struct bop *ops;       /* [2n] */
	int nops;
	int op;                /* the op whose results PQgetResult returns now */
	int failed;            /* statement index, or -1 */
	PGresult *error;       /* its error result */
	bool reset;            /* the statement cache lost track: reconnect after */
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
	struct batch *b;       /* non-NULL for a db_batch(): into blob */
	/* plain: params pointer array, then sql and param text;
	 * batch: struct batch and its arrays, then the text */
	_Alignas(max_align_t) char blob[];
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
query_free(struct db_query *q)
{
	int i;

	if (q->b != NULL) {
		for (i = 0; i < q->b->n; i++)
			PQclear(q->b->res[i]);
		PQclear(q->b->error);
	}
	free(q);
}

/* Runs a batch's callback once, then frees it. */
static void
batch_finish(struct db_query *q, enum db_status st, const char *msg)
{
	struct batch *b = q->b;
	struct db_batch_result r = { st, b->n, NULL, -1, NULL, "", msg ? msg : "" };
	const char *state;

	if (st == DB_OK) {
		r.res = b->res;
	} else if (st == DB_SQL_ERROR) {
		r.failed = b->failed;
		r.error = b->error;
		state = PQresultErrorField(b->error, PG_DIAG_SQLSTATE);
		r.sqlstate = state ? state : "";
		r.message = PQresultErrorMessage(b->error);
	}
	b->cb(q->arg, &r);
	query_free(q);
}

static void
query_fail(struct db_query *q, const char *msg)
{
	if (q->b != NULL)
		batch_finish(q, DB_UNAVAILABLE, msg);
	else
		finish(q, DB_UNAVAILABLE, NULL, msg);
}

static void
fail_queue(struct db_pool *p)
{
	struct db_query *q;

	while ((q = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, q, link);
		p->queued--;
		query_fail(q, "database unavailable");
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

static uint64_t
sql_hash(const char *sql)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (; *sql; sql++)
		h = (h ^ (unsigned char)*sql) * 1099511628211ull;
	return h;
}

static int
stmt_find(const struct conn *c, uint64_t hash, const char *sql)
{
	int i;

	for (i = 0; i < c->nstmts; i++)
		if (c->stmts[i].hash == hash && strcmp(c->stmts[i].sql, sql) == 0)
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
		query_fail(q, "database connection lost");
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
	char options[256];
	const char *vals[] = { "webhookd", "1", "10", "5", "3", options, p->o.conninfo, NULL };

	/* Generic plans: every statement webhookd prepares is an index lookup
	 * whose best plan does not depend on the values, and re-planning at each
	 * execution (what the default "auto" often settles on) costs more than
	 * running it. UTC makes $filter's year()..second() well defined. */
	snprintf(options, sizeof(options),
	    "-c statement_timeout=%d -c plan_cache_mode=force_generic_plan -c TimeZone=UTC%s%s",
	    p->o.statement_timeout_ms, p->o.local_wake ? " -c webhookd.local_wake=on" : "",
	    p->o.dispatcher_session ? " -c synchronous_commit=off -c plan_cache_mode=force_custom_plan" : "");

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
	bool was_prepare = c->preparing;

	c->q = NULL;
	c->res = NULL;
	if (res != NULL) {
		ExecStatusType es = PQresultStatus(res);
		if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK)
			st = DB_OK;
	} else if (!broken) {
		/* Not seen in practice; keep "res is the error result" true. */
		res = PQmakeEmptyPGresult(c->pg, PGRES_FATAL_ERROR);
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
	/* A Prepare's own success is not q's result. */
	if (broken && (st != DB_OK || was_prepare))
		finish(q, DB_UNAVAILABLE, NULL, "database connection lost");
	else
		finish(q, st, res, res ? NULL : "no result");
	if (res != NULL)
		PQclear(res);
	if (!broken)
		conn_next(c);
}

/* Collect results; keep the first, or the first error when there are several. */
/* A statement can yield several results: keep the first, or the first error
 * when one follows, so that the caller sees why the statement failed. */
static void
keep_result(struct conn *c, PGresult *r)
{
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
		keep_result(c, r);
	}
}

/* The sync result of a batch arrived: leave pipeline mode, settle the
 * connection, then answer. */
static void
batch_complete(struct conn *c)
{
	struct db_query *q = c->q;
	struct batch *b = q->b;
	enum db_status st = b->failed >= 0 ? DB_SQL_ERROR : DB_OK;
	const char *why = NULL;
	int i;

	c->q = NULL;
	for (i = 0; st == DB_OK && i < b->n; i++)
		if (b->res[i] == NULL)
			st = DB_UNAVAILABLE;    /* cannot happen: results were lost */
	if (!PQexitPipelineMode(c->pg)) {
		why = PQerrorMessage(c->pg);
	} else if (b->reset) {
		why = "out of memory";
	} else {
		c->state = CONN_IDLE;
		if (conn_watch(c, EV_READ) < 0)
			why = "no socket";
	}
	/* Settle the connection before the callback, which may queue more. */
	if (why != NULL)
		conn_fail(c, why);
	batch_finish(q, st, st == DB_UNAVAILABLE ? "incomplete pipeline results" : NULL);
	conn_next(c);
}

/* The results of ops[b->op] are complete (PQgetResult returned NULL). */
static int
batch_op_done(struct conn *c, struct batch *b)
{
	const struct bop *o;
	PGresult *r = c->res;
	const char *sev;
	struct stmt *st;

	c->res = NULL;
	if (b->op >= b->nops || r == NULL) {
		PQclear(r);
		conn_fail(c, "unexpected pipeline results");
		return -1;
	}
	o = &b->ops[b->op++];
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		if (!o->prepare) {
			b->res[o->idx] = r;
			return 0;
		}
		/* Prepares succeed in order (an error skips the rest), so they
		 * fill the cache slots in order; a named statement outlives a
		 * rolled-back transaction, so it is cached whatever comes next. */
		PQclear(r);
		st = &c->stmts[c->nstmts];
		if (o->slot != c->nstmts || (st->sql = strdup(b->st[o->idx].sql)) == NULL) {
			b->reset = true;
			return 0;
		}
		st->hash = b->st[o->idx].hash;
		c->nstmts++;
		return 0;
	case PGRES_PIPELINE_ABORTED:
		PQclear(r);
		return 0;
	case PGRES_FATAL_ERROR:
		sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
		if (PQstatus(c->pg) != CONNECTION_BAD &&
		    (sev == NULL || (strcmp(sev, "FATAL") != 0 && strcmp(sev, "PANIC") != 0))) {
			if (b->failed < 0) {
				b->failed = o->idx;
				b->error = r;
			} else {
				PQclear(r);
			}
			return 0;
		}
		/* The server is closing this session: no sync is coming. */
		conn_fail(c, PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	default:    /* COPY and the like: the pipeline cannot go on */
		PQclear(r);
		conn_fail(c, "unexpected result in a batch (COPY?)");
		return -1;
	}
}

/* Collect a batch's results, op by op, until its sync. */
static void
batch_collect(struct conn *c)
{
	struct batch *b = c->q->b;
	PGresult *r;

	while (!PQisBusy(c->pg)) {
		if (PQstatus(c->pg) == CONNECTION_BAD) {
			conn_fail(c, PQerrorMessage(c->pg));
			return;
		}
		r = PQgetResult(c->pg);
		if (r == NULL) {
			if (batch_op_done(c, b) < 0)
				return;
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(r);
			if (c->res != NULL || b->op != b->nops) {
				conn_fail(c, "unexpected pipeline sync");
				return;
			}
			batch_complete(c);
			return;
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			PQclear(r);
			conn_fail(c, "COPY is not supported in a batch");
			return;
		default:
			break;
		}
		keep_result(c, r);
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
		if (c->q->b != NULL)
			batch_collect(c);
		else
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
conn_send_batch(struct conn *c, struct db_query *q)
{
	struct batch *b = q->b;
	char name[16];
	int i, j, r, slot, nnew = 0;

	if (!PQenterPipelineMode(c->pg))
		return -1;
	b->nops = 0;
	for (i = 0; i < b->n; i++) {
		const struct bstmt *s = &b->st[i];

		slot = stmt_find(c, s->hash, s->sql);
		/* or prepared earlier in this very pipeline */
		for (j = 0; slot < 0 && nnew > 0 && j < b->nops; j++) {
			const struct bstmt *t = &b->st[b->ops[j].idx];
			if (b->ops[j].prepare && t->hash == s->hash && strcmp(t->sql, s->sql) == 0)
				slot = b->ops[j].slot;
		}
		if (slot < 0 && c->nstmts + nnew < STMT_MAX) {
			slot = c->nstmts + nnew++;
			stmt_name(name, sizeof(name), slot);
			if (!PQsendPrepare(c->pg, name, s->sql, s->nparams, NULL))
				return -1;
			b->ops[b->nops++] = (struct bop){ i, slot, true };
		}
		if (slot >= 0) {
			stmt_name(name, sizeof(name), slot);
			r = PQsendQueryPrepared(c->pg, name, s->nparams, s->params, NULL, NULL, 0);
		} else {
			r = PQsendQueryParams(c->pg, s->sql, s->nparams, NULL, s->params,
			    NULL, NULL, 0);
		}
		if (!r)
			return -1;
		b->ops[b->nops++] = (struct bop){ i, -1, false };
	}
	/* Until the Sync is out nothing can commit: a failure up to here
	 * leaves the batch to the caller, who may send it elsewhere. */
	if (!PQpipelineSync(c->pg))
		return -1;
	r = PQflush(c->pg);
	if (r < 0 || conn_watch(c, r == 1 ? (EV_READ | EV_WRITE) : EV_READ) < 0)
		return -1;
	b->op = 0;
	c->q = q;
	c->state = CONN_BUSY;
	return 0;
}

static int
conn_send(struct conn *c, struct db_query *q)
{
	char name[16];
	int r, idx;

	if (q->b != NULL)
		return conn_send_batch(c, q);
	idx = q->unnamed ? -1 : stmt_find(c, q->hash, q->sql);

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
	q->b = NULL;
	q->hash = sql_hash(sql);
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

static size_t
align_up(size_t off, size_t a)
{
	return (off + a - 1) / a * a;
}

static struct db_query *
batch_new(const struct db_stmt *stmts, int n, db_batch_cb cb, void *arg)
{
	struct db_query *q;
	struct batch *b;
	size_t need, o_st, o_res, o_ops, o_par, o_txt, l;
	int i, j, npar = 0;
	char *t;
	const char **par;

	for (i = 0; i < n; i++)
		npar += stmts[i].nparams;
	o_st = align_up(sizeof(*b), _Alignof(struct bstmt));
	o_res = align_up(o_st + (size_t)n * sizeof(struct bstmt), _Alignof(PGresult *));
	o_ops = align_up(o_res + (size_t)n * sizeof(PGresult *), _Alignof(struct bop));
	o_par = align_up(o_ops + 2 * (size_t)n * sizeof(struct bop), _Alignof(const char *));
	o_txt = o_par + (size_t)npar * sizeof(const char *);
	need = o_txt;
	for (i = 0; i < n; i++) {
		need += strlen(stmts[i].sql) + 1;
		for (j = 0; j < stmts[i].nparams; j++)
			if (stmts[i].params[j] != NULL)
				need += strlen(stmts[i].params[j]) + 1;
	}
	q = calloc(1, sizeof(*q) + need);
	if (q == NULL)
		return NULL;
	q->arg = arg;
	q->b = b = (struct batch *)(void *)q->blob;
	b->cb = cb;
	b->n = n;
	b->st = (struct bstmt *)(void *)(q->blob + o_st);
	b->res = (PGresult **)(void *)(q->blob + o_res);
	b->ops = (struct bop *)(void *)(q->blob + o_ops);
	b->failed = -1;
	par = (const char **)(void *)(q->blob + o_par);
	t = q->blob + o_txt;
	for (i = 0; i < n; i++) {
		struct bstmt *s = &b->st[i];

		l = strlen(stmts[i].sql) + 1;
		s->sql = memcpy(t, stmts[i].sql, l);
		t += l;
		s->hash = sql_hash(s->sql);
		s->nparams = stmts[i].nparams;
		s->params = par;
		for (j = 0; j < s->nparams; j++) {
			const char *v = stmts[i].params[j];
			if (v == NULL) {
				par[j] = NULL;
				continue;
			}
			l = strlen(v) + 1;
			par[j] = memcpy(t, v, l);
			t += l;
		}
		par += s->nparams;
	}
	return q;
}

/* Send q on an idle connection, or queue it; -1 leaves q to the caller. */
static int
submit(struct db_pool *p, struct db_query *q)
{
	int i;

	for (i = 0; i < p->o.size; i++) {
		struct conn *c = &p->conns[i];
		if (c->state != CONN_IDLE)
			continue;
		if (conn_send(c, q) == 0)
			return 0;
		conn_fail(c, PQerrorMessage(c->pg));
	}
	if (p->nup == 0 || p->queued >= p->o.queue_max) {
		metrics_count("db_unavailable");
		return -1;
	}
	TAILQ_INSERT_TAIL(&p->queue, q, link);
	p->queued++;
	return 0;
}

int
db_query(struct db_pool *p, const char *sql, int nparams,
    const char *const *params, db_cb cb, void *arg)
{
	struct db_query *q;

	if (p->closing || p->nup == 0 || nparams < 0) {
		metrics_count("db_unavailable");
		return -1;
	}
	q = query_new(sql, nparams, params, cb, arg);
	if (q == NULL)
		return -1;
	if (submit(p, q) < 0) {
		free(q);
		return -1;
	}
	return 0;
}

int
db_batch(struct db_pool *p, const struct db_stmt *stmts, int n,
    db_batch_cb cb, void *arg)
{
	struct db_query *q;
	int i;

	if (stmts == NULL || n < 1 || n > DB_BATCH_MAX || cb == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (stmts[i].sql == NULL || stmts[i].nparams < 0 || stmts[i].nparams > 65535 ||
		    (stmts[i].nparams > 0 && stmts[i].params == NULL))
			return -1;
	if (p->closing || p->nup == 0) {
		metrics_count("db_unavailable");
		return -1;
	}
	q = batch_new(stmts, n, cb, arg);
	if (q == NULL)
		return -1;
	if (submit(p, q) < 0) {
		free(q);
		return -1;
	}
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
