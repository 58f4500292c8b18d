#include "auth.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "b64.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "password.h"
#include "server.h"

#define CACHE_SLOTS 1024   /* direct-mapped: a collision only costs one more KDF */
#define MAX_USER 63
#define MAX_PASSWORD 1024

struct cache_slot {
	unsigned char key[32];
	time_t expires;          /* CLOCK_MONOTONIC seconds */
	unsigned role;
	char user[MAX_USER + 1];
};

struct job {
	TAILQ_ENTRY(job) link;   /* queue, then the outstanding list */
	struct auth *a;
	struct http_request *req;
	auth_cb cb;
	struct event done;       /* fired on the request's loop by the KDF thread */
	unsigned char key[32];
	unsigned role;
	bool ok;
	char *stored;
	char user[MAX_USER + 1];
	char password[MAX_PASSWORD + 1];
};

TAILQ_HEAD(job_list, job);

struct auth {
	const struct config *cfg;
	unsigned char pepper[32];
	char *dummy;             /* verified for unknown users, so timing tells nothing */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job_list queue;
	struct job_list running; /* popped by a thread or waiting for their loop */
	int queued;
	bool stopping;
	int nthreads;
	pthread_t *threads;
	struct cache_slot cache[CACHE_SLOTS];
};

static const char *const role_names[] = { "admin", "viewer", "publisher", "subscriber" };
#define NROLES (sizeof(role_names) / sizeof(role_names[0]))

unsigned
auth_role_parse(const char *name)
{
	unsigned i;

	for (i = 0; i < NROLES; i++)
		if (strcmp(name, role_names[i]) == 0)
			return 1u << i;
	return 0;
}

const char *
auth_role_name(unsigned role)
{
	unsigned i;

	for (i = 0; i < NROLES; i++)
		if (role == 1u << i)
			return role_names[i];
	return "none";
}

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
job_free(struct job *j)
{
	OPENSSL_cleanse(j->password, sizeof(j->password));
	free(j->stored);
	free(j);
}

static void *
kdf_main(void *arg)
{
	struct auth *a = arg;
	struct job *j;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->stopping && TAILQ_EMPTY(&a->queue))
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->stopping)
			break;
		j = TAILQ_FIRST(&a->queue);
		TAILQ_REMOVE(&a->queue, j, link);
		a->queued--;
		TAILQ_INSERT_TAIL(&a->running, j, link);
		pthread_mutex_unlock(&a->lock);

		j->ok = password_verify(j->password, j->stored) && j->role != 0;
		OPENSSL_cleanse(j->password, sizeof(j->password));
		metrics_count("auth_kdf_runs");

		pthread_mutex_lock(&a->lock);
		/* event_active is thread-safe: evthread_use_pthreads() is on. */
		event_active(&j->done, EV_TIMEOUT, 1);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

struct auth *
auth_new(const struct config *cfg)
{
	struct auth *a = calloc(1, sizeof(*a));
	char pw[33];
	int i;

	if (a == NULL)
		return NULL;
	a->cfg = cfg;
	TAILQ_INIT(&a->queue);
	TAILQ_INIT(&a->running);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	if (RAND_bytes(a->pepper, sizeof(a->pepper)) != 1 ||
	    password_generate(pw, sizeof(pw), 32) < 0 ||
	    (a->dummy = password_hash(pw, (unsigned)cfg->kdf_iterations)) == NULL)
		goto fail;
	a->threads = calloc((size_t)cfg->kdf_threads, sizeof(pthread_t));
	if (a->threads == NULL)
		goto fail;
	for (i = 0; i < cfg->kdf_threads; i++) {
		if (pthread_create(&a->threads[i], NULL, kdf_main, a) != 0)
			goto fail;
		a->nthreads++;
	}
	return a;
fail:
	log_error("auth: initialisation failed");
	auth_free(a);
	return NULL;
}

void
auth_free(struct auth *a)
{
	struct job *j;
	int i;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	for (i = 0; i < a->nthreads; i++)
		pthread_join(a->threads[i], NULL);
	/* Loops have stopped: nothing else touches these jobs now. */
	while ((j = TAILQ_FIRST(&a->queue)) != NULL) {
		TAILQ_REMOVE(&a->queue, j, link);
		event_del(&j->done);
		job_free(j);
	}
	while ((j = TAILQ_FIRST(&a->running)) != NULL) {
		TAILQ_REMOVE(&a->running, j, link);
		event_del(&j->done);
		job_free(j);
	}
	free(a->threads);
	free(a->dummy);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

static void
cache_key(const struct auth *a, const char *user, const char *pw, unsigned char out[32])
{
	unsigned char msg[MAX_USER + 1 + MAX_PASSWORD + 1];
	size_t ul = strlen(user), pl = strlen(pw);
	unsigned int outlen = 32;

	/* user NUL password: unambiguous, since neither may contain NUL */
	memcpy(msg, user, ul + 1);
	memcpy(msg + ul + 1, pw, pl);
	HMAC(EVP_sha256(), a->pepper, sizeof(a->pepper), msg, ul + 1 + pl, out, &outlen);
	OPENSSL_cleanse(msg, sizeof(msg));
}

static bool
cache_get(struct auth *a, const unsigned char key[32], struct http_request *req)
{
	struct cache_slot *s = &a->cache[(key[0] | key[1] << 8) % CACHE_SLOTS];
	bool hit = false;

	if (a->cfg->auth_cache_ttl_s == 0)
		return false;
	pthread_mutex_lock(&a->lock);
	if (s->expires > mono_now() && CRYPTO_memcmp(s->key, key, 32) == 0) {
		strcpy(req->user, s->user);
		req->role = s->role;
		hit = true;
	}
	pthread_mutex_unlock(&a->lock);
	return hit;
}

static void
cache_put(struct auth *a, const unsigned char key[32], const char *user, unsigned role)
{
	struct cache_slot *s = &a->cache[(key[0] | key[1] << 8) % CACHE_SLOTS];

	if (a->cfg->auth_cache_ttl_s == 0)
		return;
	pthread_mutex_lock(&a->lock);
	memcpy(s->key, key, 32);
	s->expires = mono_now() + a->cfg->auth_cache_ttl_s;
	s->role = role;
	strcpy(s->user, user);
	pthread_mutex_unlock(&a->lock);
}

void
auth_flush(struct auth *a)
{
	pthread_mutex_lock(&a->lock);
	memset(a->cache, 0, sizeof(a->cache));
	pthread_mutex_unlock(&a->lock);
}

void
auth_on_notify(void *a, const char *channel, const char *payload)
{
	(void)channel; (void)payload;
	auth_flush(a);
}

/* "Basic base64(user:password)" -> user, password. */
static int
parse_basic(const char *h, char *user, char *pw)
{
	unsigned char dec[MAX_USER + MAX_PASSWORD + 2];
	size_t n, ulen;
	const unsigned char *colon;

	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return -1;
	h += 6;
	while (*h == ' ')
		h++;
	if (b64_decode(h, strlen(h), dec, sizeof(dec) - 1, &n) < 0)
		return -1;
	colon = memchr(dec, ':', n);
	if (colon == NULL || memchr(dec, '\0', n) != NULL)
		goto fail;
	ulen = (size_t)(colon - dec);
	if (ulen == 0 || ulen > MAX_USER || n - ulen - 1 > MAX_PASSWORD)
		goto fail;
	memcpy(user, dec, ulen);
	user[ulen] = '\0';
	memcpy(pw, colon + 1, n - ulen - 1);
	pw[n - ulen - 1] = '\0';
	OPENSSL_cleanse(dec, sizeof(dec));
	return 0;
fail:
	OPENSSL_cleanse(dec, sizeof(dec));
	return -1;
}

static void
job_done(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct auth *a = j->a;

	(void)fd; (void)what;
	pthread_mutex_lock(&a->lock);
	TAILQ_REMOVE(&a->running, j, link);
	pthread_mutex_unlock(&a->lock);
	if (j->ok) {
		cache_put(a, j->key, j->user, j->role);
		strcpy(j->req->user, j->user);
		j->req->role = j->role;
		j->cb(j->req, AUTH_OK);
	} else {
		metrics_count("auth_failures");
		j->cb(j->req, AUTH_UNAUTHORIZED);
	}
	job_free(j);
}

static void
user_loaded(void *arg, const struct db_result *r)
{
	struct job *j = arg;
	struct auth *a = j->a;
	bool full;

	if (r->status != DB_OK) {
		if (r->status == DB_SQL_ERROR)
			log_error("auth: user lookup failed: %s", r->message);
		j->cb(j->req, AUTH_UNAVAILABLE);
		job_free(j);
		return;
	}
	if (PQntuples(r->res) == 1) {
		j->stored = strdup(PQgetvalue(r->res, 0, 0));
		j->role = auth_role_parse(PQgetvalue(r->res, 0, 1));
	} else {
		j->stored = strdup(a->dummy);   /* same work as a real user */
		j->role = 0;
	}
	if (j->stored == NULL) {
		j->cb(j->req, AUTH_UNAVAILABLE);
		job_free(j);
		return;
	}
	event_assign(&j->done, j->req->worker->base, -1, 0, job_done, j);
	pthread_mutex_lock(&a->lock);
	full = a->queued >= a->cfg->kdf_queue_max;
	if (!full) {
		TAILQ_INSERT_TAIL(&a->queue, j, link);
		a->queued++;
		pthread_cond_signal(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	if (full) {
		log_warn("auth: KDF queue full, refusing a verification");
		j->cb(j->req, AUTH_UNAVAILABLE);
		job_free(j);
	}
}

void
auth_check(struct auth *a, struct http_request *req, auth_cb cb)
{
	char user[MAX_USER + 1], pw[MAX_PASSWORD + 1];
	unsigned char key[32];
	const char *params[1];
	struct job *j;

	/* The common case, a cached credential, allocates nothing. */
	if (parse_basic(http_header(req, "Authorization"), user, pw) < 0) {
		metrics_count("auth_failures");
		cb(req, AUTH_UNAUTHORIZED);
		return;
	}
	cache_key(a, user, pw, key);
	if (cache_get(a, key, req)) {
		OPENSSL_cleanse(pw, sizeof(pw));
		metrics_count("auth_cache_hits");
		cb(req, AUTH_OK);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		OPENSSL_cleanse(pw, sizeof(pw));
		cb(req, AUTH_UNAVAILABLE);
		return;
	}
	j->a = a;
	j->req = req;
	j->cb = cb;
	memcpy(j->key, key, sizeof(key));
	strcpy(j->user, user);
	strcpy(j->password, pw);
	OPENSSL_cleanse(pw, sizeof(pw));
	params[0] = j->user;
	if (db_query(req->worker->db,
	    "SELECT password_hash, role FROM webhookd.users WHERE name = $1",
	    1, params, user_loaded, j) < 0) {
		job_free(j);
		cb(req, AUTH_UNAVAILABLE);
	}
}
