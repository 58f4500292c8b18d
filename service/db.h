/* db — a per-worker pool of non-blocking libpq connections driven by the
 * worker's event loop (PQconnectStart/PQconnectPoll, PQsendQueryParams,
 * PQflush, PQconsumeInput). No call here ever blocks the loop.
 *
 * A query's callback runs exactly once, always from the event loop and never
 * from inside db_query() itself. While no connection is up, db_query() fails
 * at once so the caller can answer 503; connections come back by themselves
 * with exponential backoff. */
#ifndef WEBHOOKD_DB_H
#define WEBHOOKD_DB_H

#include <stdbool.h>
#include <libpq-fe.h>

struct event_base;
struct db_pool;

enum db_status {
	DB_OK,          /* res holds the result (tuples or command status) */
	DB_SQL_ERROR,   /* the server rejected the statement; see sqlstate */
	DB_UNAVAILABLE  /* the connection broke or the pool shut down */
};

/* res is owned by the pool and valid during the callback only.
 * DB_OK: the statement's result (PGRES_TUPLES_OK or PGRES_COMMAND_OK).
 * DB_SQL_ERROR: the result that failed, normally PGRES_FATAL_ERROR, so that
 *   PQresultErrorField(res, PG_DIAG_SQLSTATE / MESSAGE_PRIMARY / MESSAGE_DETAIL
 *   / MESSAGE_HINT) work; for an unexpected kind of result (an empty query)
 *   those fields are NULL and sqlstate is "".
 * DB_UNAVAILABLE: NULL. */
struct db_result {
	enum db_status status;
	PGresult *res;
	const char *sqlstate;   /* "" unless DB_SQL_ERROR */
	const char *message;    /* for logs; never sent to clients */
};

typedef void (*db_cb)(void *arg, const struct db_result *r);

/* A notification on a LISTENed channel. channel == NULL means "(re)subscribed
 * after a (re)connect": notifications sent meanwhile may have been missed,
 * so whatever they guard must be refreshed wholesale. */
typedef void (*db_notify_cb)(void *arg, const char *channel, const char *payload);

struct db_pool_opts {
	const char *conninfo;   /* libpq conninfo or URI (already DNS-resolved) */
	int size;               /* connections */
	int queue_max;          /* queued queries before db_query() refuses */
	int reconnect_min_ms;
	int reconnect_max_ms;
	int connect_timeout_ms;
	int statement_timeout_ms;   /* 0: none */
	/* Sessions whose committed events are announced by the server itself
	 * (server_events_committed): the event trigger skips its NOTIFY, whose
	 * database-wide lock would serialize every publishing commit. */
	bool local_wake;
	/* The dispatcher's own sessions: synchronous_commit=off (a commit lost
	 * in a PostgreSQL crash only means an expired lease or a second
	 * fan-out: a duplicate, never a loss) and custom plans (its queries'
	 * best plans depend on the backlog's size). */
	bool dispatcher_session;
	/* Optional: one extra connection that only LISTENs on this channel. */
	const char *listen_channel;
	db_notify_cb notify_cb;
	void *notify_arg;
};

struct db_pool *db_pool_new(struct event_base *base, const struct db_pool_opts *o);
/* Fails every queued and running query with DB_UNAVAILABLE, then closes. */
void db_pool_free(struct db_pool *p);

/* Queue a parameterized statement (text params, text results; NULL params are
 * SQL NULL). sql and params are copied. Returns 0, or -1 when the pool has
 * no live connection or its queue is full (cb is then never called). */
int db_query(struct db_pool *p, const char *sql, int nparams,
             const char *const *params, db_cb cb, void *arg);

#define DB_BATCH_MAX 1024

struct db_stmt {
	const char *sql;
	int nparams;                 /* 0..65535 */
	const char *const *params;   /* text params; NULL entries are SQL NULL */
};

/* Everything here is owned by the pool and valid during the callback only. */
struct db_batch_result {
	enum db_status status;       /* DB_OK, DB_SQL_ERROR, DB_UNAVAILABLE */
	int n;                       /* number of statements */
	PGresult *const *res;        /* DB_OK: res[0..n) one result per statement
	                              * (tuples or command status); else NULL */
	int failed;                  /* DB_SQL_ERROR: index of the statement that failed, else -1 */
	const PGresult *error;       /* DB_SQL_ERROR: that statement's error result (for
	                              * PQresultErrorField: SQLSTATE, MESSAGE_PRIMARY,
	                              * MESSAGE_DETAIL, MESSAGE_HINT); else NULL */
	const char *sqlstate;        /* "" unless DB_SQL_ERROR */
	const char *message;         /* for logs only; never sent to clients */
};
typedef void (*db_batch_cb)(void *arg, const struct db_batch_result *r);

/* Runs stmts[0..n) in order on ONE connection, as ONE libpq pipeline ending in
 * a single Sync, so that they run in one implicit transaction: either every
 * statement commits or none does (a failing statement rolls back the ones
 * before it and the ones after it are skipped). Later statements see what
 * earlier ones wrote. All SQL and params are copied. Texts are prepared once
 * per connection, as with db_query().
 * Same contract as db_query: 0, or -1 when no connection is up / queue full /
 * bad arguments (cb never called); cb runs exactly once from the loop, never
 * inside db_batch(). n is 1..DB_BATCH_MAX.
 * DB_UNAVAILABLE after the batch was sent means its outcome is unknown (the
 * connection broke or the pool shut down); it is never retried.
 * Do not put in a batch: transaction control (BEGIN, COMMIT, ROLLBACK,
 * SAVEPOINT: a COMMIT in the middle commits what precedes it), statements
 * that refuse to run in a transaction block (VACUUM, CREATE DATABASE,
 * CREATE INDEX CONCURRENTLY, ...), COPY, or session state (SET, LISTEN,
 * PREPARE, temporary tables: the connection is shared; use SET LOCAL or
 * set_config(..., true), which end with the batch). statement_timeout applies
 * to each statement separately. */
int db_batch(struct db_pool *p, const struct db_stmt *stmts, int n,
             db_batch_cb cb, void *arg);

/* True when at least one connection is established. */
bool db_pool_up(const struct db_pool *p);

/* Resolve a host name in conninfo to hostaddr once, at start-up, so that
 * PQconnectStart never does a blocking DNS lookup on a loop. Returns a
 * malloc'd conninfo (unchanged when nothing needs resolving) or NULL with a
 * message in err. */
char *db_conninfo_resolve(const char *conninfo, char *err, size_t errlen);

#endif
