#include "server.h"
#include "dispatch.h"
#include "odata_service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "route.h"

#define JANITOR_MS 250

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct worker *w = arg;

	(void)l; (void)salen;
	if (w->draining || w->nconns >= w->max_conns) {
		/* Over the limit: refuse at once rather than queue unbounded work. */
		evutil_closesocket(fd);
		metrics_count("connections_refused_limit");
		return;
	}
	http_accept(w, fd, sa);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct worker *w = arg;
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: pause accepting until the janitor's next pass
	 * instead of spinning on a listener that cannot accept. */
	log_warn("worker %d: accept: %s", w->id, evutil_socket_error_to_string(err));
	evconnlistener_disable(l);
	w->accept_paused = true;
}

static void
janitor_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval now;

	(void)fd; (void)what;
	if (w->accept_paused && w->listener != NULL && !w->draining) {
		evconnlistener_enable(w->listener);
		w->accept_paused = false;
	}
	http_janitor(w);
	if (!w->draining)
		return;
	event_base_gettimeofday_cached(w->base, &now);
	if (w->nconns > 0 && (now.tv_sec < w->drain_deadline.tv_sec ||
	    (now.tv_sec == w->drain_deadline.tv_sec && now.tv_usec < w->drain_deadline.tv_usec)))
		return;
	if (w->nconns > 0)
		log_warn("worker %d: drain deadline passed with %d connection(s) open", w->id, w->nconns);
	http_abort(w);
	event_base_loopbreak(w->base);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	const struct config *cfg = w->srv->cfg;
	struct timeval now, d = { cfg->shutdown_timeout_ms / 1000,
	    (cfg->shutdown_timeout_ms % 1000) * 1000 };

	(void)fd; (void)what;
	event_base_gettimeofday_cached(w->base, &now);
	if (w->draining) {          /* a second signal: stop waiting */
		w->drain_deadline = now;
		return;
	}
	w->draining = true;
	if (w->listener != NULL)
		evconnlistener_free(w->listener);
	w->listener = NULL;
	evutil_timeradd(&now, &d, &w->drain_deadline);
	http_drain(w);
}

/* ---- events-committed NOTIFY throttle ---------------------------------- */

#define NOTIFY_EVERY_MS 10

static void
notify_sent(void *arg, const struct db_result *r)
{
	(void)arg, (void)r;     /* failed: the dispatchers' poll finds the events */
}

static void
notify_send(struct worker *w)
{
	static const char sql[] = "SELECT pg_notify('" DISPATCH_CHANNEL "', 'event')";
	struct timeval tv = { 0, NOTIFY_EVERY_MS * 1000 };

	w->notify_pending = false;
	(void)db_query(w->db, sql, 0, NULL, notify_sent, NULL);
	evtimer_add(&w->notify_ev, &tv);
}

static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd, (void)what;
	if (w->notify_pending)
		notify_send(w);
}

void
server_events_committed(struct worker *w)
{
	if (w->srv->dispatch)
		dispatch_wake(w->srv->dispatch, 1);
	if (evtimer_pending(&w->notify_ev, NULL))
		w->notify_pending = true;
	else
		notify_send(w);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	atomic_fetch_add(&w->srv->workers_done, 1);
	return NULL;
}

static int
listen_addr(const struct config *cfg, struct sockaddr_storage *ss, int *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, cfg->listen_address, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)cfg->port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, cfg->listen_address, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)cfg->port);
		*len = sizeof(*a6);
		return 0;
	}
	log_error("listen_address: '%s' is not an IPv4 or IPv6 address", cfg->listen_address);
	return -1;
}

static int
worker_init(struct server *srv, struct worker *w, int id,
    const struct sockaddr_storage *ss, int sslen)
{
	const struct config *cfg = srv->cfg;
	struct db_pool_opts o = {
		.conninfo = srv->conninfo, .size = cfg->db_pool_size,
		.queue_max = cfg->db_queue_max, .reconnect_min_ms = cfg->db_reconnect_min_ms,
		.reconnect_max_ms = cfg->db_reconnect_max_ms, .connect_timeout_ms = 10000,
		.statement_timeout_ms = cfg->db_statement_timeout_ms, .local_wake = true,
	};
	struct timeval jt = { 0, JANITOR_MS * 1000 };

	/* The auth cache is shared, so one LISTEN connection (worker 0's) serves it. */
	if (id == 0) {
		o.listen_channel = AUTH_NOTIFY_CHANNEL;
		o.notify_cb = auth_on_notify;
		o.notify_arg = srv->auth;
	}

	w->id = id;
	w->srv = srv;
	TAILQ_INIT(&w->conns);
	w->max_conns = (cfg->max_connections + srv->nworkers - 1) / srv->nworkers;
	w->base = event_base_new();
	if (w->base == NULL)
		return -1;
	w->listener = evconnlistener_new_bind(w->base, accept_cb, w,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
	    LEV_OPT_REUSEABLE_PORT, 1024, (const struct sockaddr *)ss, sslen);
	if (w->listener == NULL) {
		log_error("cannot listen on %s:%d: %s", cfg->listen_address, cfg->port,
		    strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(w->listener, accept_error_cb);
	w->db = db_pool_new(w->base, &o);
	if (w->db == NULL)
		return -1;
	event_assign(&w->janitor, w->base, -1, EV_PERSIST, janitor_cb, w);
	event_add(&w->janitor, &jt);
	event_assign(&w->drain_ev, w->base, -1, 0, drain_cb, w);
	evtimer_assign(&w->notify_ev, w->base, notify_cb, w);
	return 0;
}

/* After the loops have stopped. Order matters: failing the database queries
 * lets their handlers answer (to clients that are gone), then pending KDF
 * verifications are dropped, then whatever connections remain are freed. */
static void
workers_teardown(struct server *srv)
{
	int i;

	for (i = 0; i < srv->nworkers; i++) {
		db_pool_free(srv->workers[i].db);
		srv->workers[i].db = NULL;
	}
	auth_free(srv->auth);
	srv->auth = NULL;
	for (i = 0; i < srv->nworkers; i++) {
		struct worker *w = &srv->workers[i];
		if (w->base == NULL)
			continue;
		http_free_all(w);
		if (w->listener)
			evconnlistener_free(w->listener);
		event_del(&w->janitor);
		event_del(&w->drain_ev);
		event_del(&w->notify_ev);
		event_base_free(w->base);
	}
	free(srv->workers);
}

/* The workers bind with SO_REUSEPORT, which would also let them join the
 * listening socket of another process of this user (a second webhookd on
 * the same port) and quietly split its traffic. A plain bind first tells. */
static bool
port_taken(const struct config *cfg, const struct sockaddr_storage *ss, int sslen)
{
	int one = 1, rc, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || cfg->port == 0)
		goto done;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, (const struct sockaddr *)ss, (socklen_t)sslen);
	if (rc < 0 && errno == EADDRINUSE) {
		log_error("cannot listen on %s:%d: another process is listening there",
		    cfg->listen_address, cfg->port);
		close(fd);
		return true;
	}
done:
	if (fd >= 0)
		close(fd);
	return false;
}

static SSL_CTX *
tls_context(const struct config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char err[256];

	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
		log_error("tls_cert_file %s: cannot load", cfg->tls_cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_error("tls_key_file %s: cannot load or does not match the certificate",
		    cfg->tls_key_file);
		goto fail;
	}
	return ctx;
fail:
	ERR_error_string_n(ERR_get_error(), err, sizeof(err));
	log_error("TLS: %s", err);
	SSL_CTX_free(ctx);
	return NULL;
}

struct main_state {
	struct server *srv;
	struct event_base *base;
};

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_state *m = arg;
	int i;

	(void)what;
	if (sig == SIGHUP) {
		log_info("SIGHUP: reopening the access log");
		log_reopen();
		return;
	}
	log_info("%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	for (i = 0; i < m->srv->nworkers; i++)
		event_active(&m->srv->workers[i].drain_ev, 0, 0);
	if (m->srv->dispatch)
		dispatch_drain(m->srv->dispatch);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_state *m = arg;

	(void)fd; (void)what;
	if (atomic_load(&m->srv->workers_done) == m->srv->nworkers &&
	    (m->srv->dispatch == NULL || dispatch_done(m->srv->dispatch)))
		event_base_loopbreak(m->base);
}

static int
run_loops(struct server *srv)
{
	struct main_state m = { srv, event_base_new() };
	struct event *sigs[3] = { NULL, NULL, NULL }, *reap = NULL;
	static const int signos[3] = { SIGTERM, SIGINT, SIGHUP };
	struct timeval tick = { 0, 50000 };
	sigset_t block, old;
	int i, started = 0, rc = 1;

	if (m.base == NULL)
		return 1;
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(m.base, signos[i], signal_cb, &m);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) < 0)
			goto out;
	}
	reap = event_new(m.base, -1, EV_PERSIST, reap_cb, &m);
	if (reap == NULL || event_add(reap, &tick) < 0)
		goto out;
	/* Workers never see these signals; the main loop handles them. */
	sigemptyset(&block);
	for (i = 0; i < 3; i++)
		sigaddset(&block, signos[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	/* The dispatcher first: workers read srv->dispatch (publish.c wakes
	 * it), and creating their threads afterwards publishes it to them. */
	srv->dispatch = dispatch_start(srv);
	for (i = 0; srv->dispatch && i < srv->nworkers; i++, started++)
		if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (srv->dispatch == NULL) {
		log_error("cannot start the dispatcher");
		goto out;
	}
	if (started == srv->nworkers) {
		log_info("webhookd serving %s://%s:%d/ with %d worker(s)",
		    srv->cfg->tls ? "https" : "http", srv->cfg->listen_address,
		    srv->cfg->port, srv->nworkers);
		event_base_dispatch(m.base);
		rc = 0;
	} else {
		log_error("cannot start worker threads");
		for (i = 0; i < started; i++)
			event_active(&srv->workers[i].drain_ev, 0, 0);
		dispatch_drain(srv->dispatch);
		while (!dispatch_done(srv->dispatch))
			usleep(10000);
	}
	for (i = 0; i < started; i++)
		pthread_join(srv->workers[i].thread, NULL);
	dispatch_free(srv->dispatch);
	srv->dispatch = NULL;
out:
	for (i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (reap)
		event_free(reap);
	event_base_free(m.base);
	return rc;
}

int
server_run(const struct config *cfg, const struct secrets *secrets)
{
	struct server srv = { .cfg = cfg, .secrets = secrets };
	struct sockaddr_storage ss;
	char err[512];
	int i, sslen, rc = 1;

	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() < 0 || listen_addr(cfg, &ss, &sslen) < 0 ||
	    port_taken(cfg, &ss, sslen))
		return 1;
	srv.conninfo = db_conninfo_resolve(cfg->database_url, err, sizeof(err));
	if (srv.conninfo == NULL) {
		log_error("%s", err);
		return 1;
	}
	srv.schema_version = migrate_latest();
	if (migrate_check(srv.conninfo, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (cfg->tls && (srv.ssl = tls_context(cfg)) == NULL)
		goto out;
	srv.auth = auth_new(cfg);
	if (srv.auth == NULL)
		goto out;
	route_init();
	if (odata_service_init() < 0) {
		log_error("cannot build the OData model");
		goto out;
	}
	srv.nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (srv.nworkers < 1)
		srv.nworkers = 1;
	srv.workers = calloc((size_t)srv.nworkers, sizeof(*srv.workers));
	if (srv.workers == NULL)
		goto out;
	for (i = 0; i < srv.nworkers; i++)
		if (worker_init(&srv, &srv.workers[i], i, &ss, sslen) < 0)
			goto out;
	rc = run_loops(&srv);
	if (rc == 0)
		log_info("webhookd stopped");
out:
	if (srv.workers != NULL)
		workers_teardown(&srv);
	else
		auth_free(srv.auth);
	SSL_CTX_free(srv.ssl);
	free(srv.conninfo);
	return rc;
}
