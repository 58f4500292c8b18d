/* server — worker threads (one event loop, listener and database pool
 * each, accept spread by SO_REUSEPORT), TLS context, signals and draining. */
#ifndef WEBHOOKD_SERVER_H
#define WEBHOOKD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event_struct.h>

struct config;
struct auth;
struct db_pool;
struct http_conn;
struct evconnlistener;
typedef struct ssl_ctx_st SSL_CTX;

TAILQ_HEAD(http_conn_list, http_conn);

struct worker {
	int id;
	pthread_t thread;
	struct server *srv;
	struct event_base *base;
	struct evconnlistener *listener;
	struct db_pool *db;
	struct http_conn_list conns;
	int nconns;
	int max_conns;
	struct event janitor;     /* one periodic timer for every connection */
	struct event drain_ev;    /* activated from the main thread on SIGTERM */
	bool draining;
	bool accept_paused;       /* accept failed (EMFILE): retried by the janitor */
	struct timeval drain_deadline;
	struct event notify_ev;   /* events-committed NOTIFY throttle (server_events_committed) */
	bool notify_pending;      /* events committed since the last NOTIFY */
	time_t date_sec;          /* Date header, formatted once per second */
	char date[40];
};

struct secrets;

struct server {
	const struct config *cfg;
	const struct secrets *secrets;  /* master keyring for write-only values */
	SSL_CTX *ssl;
	struct auth *auth;
	char *conninfo;           /* database_url after start-up DNS resolution */
	int schema_version;       /* latest migration this binary knows */
	int nworkers;
	struct worker *workers;
	struct dispatch *dispatch;      /* NULL until started */
	atomic_int workers_done;
};

/* Run `webhookd serve` until SIGTERM/SIGINT; returns the process exit code. */
int server_run(const struct config *cfg, const struct secrets *secrets);

/* Events were committed through worker w (publish, inbound): wake this
 * instance's dispatcher in-process, and every instance's with one NOTIFY
 * per worker per NOTIFY_EVERY_MS at most, the last one sent after the last
 * commit. A NOTIFY in the committing transaction itself would take
 * PostgreSQL's database-wide notify lock on every commit (worker sessions
 * therefore run with webhookd.local_wake=on); a lost NOTIFY only delays
 * (dispatchers also poll). */
void server_events_committed(struct worker *w);

#endif
