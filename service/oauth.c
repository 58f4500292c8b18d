/* oauth — see oauth.h. */
#include "oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "b64.h"
#include "httpc.h"
#include "log.h"

#define EXPIRY_MARGIN_S 30
#define DEFAULT_TTL_S   300     /* no expires_in in the answer */
#define TOKEN_BODY_MAX  65536

struct waiter {
	oauth_cb cb;
	void *arg;
	struct waiter *next;
};

struct entry {
	char *key;              /* url \n client \n scope \n secret */
	char *token;            /* NULL: none cached */
	time_t expires;
	bool fetching;
	struct waiter *waiters;
	struct oauth *o;
	struct entry *next;
};

struct oauth {
	struct httpc *http;
	long connect_timeout_ms;
	struct entry *entries;
};

struct oauth *
oauth_new(struct httpc *http, long connect_timeout_ms)
{
	struct oauth *o = calloc(1, sizeof(*o));

	if (o) {
		o->http = http;
		o->connect_timeout_ms = connect_timeout_ms;
	}
	return o;
}

static void
wake(struct entry *e, const char *token, const char *error)
{
	struct waiter *w = e->waiters;

	e->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;

		w->cb(w->arg, token, error);
		free(w);
		w = next;
	}
}

void
oauth_free(struct oauth *o)
{
	if (o == NULL)
		return;
	while (o->entries) {
		struct entry *e = o->entries;

		o->entries = e->next;
		wake(e, NULL, "dispatcher stopping");
		OPENSSL_clear_free(e->key, strlen(e->key));
		if (e->token)
			OPENSSL_clear_free(e->token, strlen(e->token));
		free(e);
	}
	free(o);
}

/* The token of a client-credentials answer, with its lifetime. */
static char *
parse_token(const char *body, size_t len, long *ttl)
{
	json_t *j = json_loadb(body, len, 0, NULL), *t, *exp;
	char *tok = NULL;

	if (!j)
		return NULL;
	t = json_object_get(j, "access_token");
	exp = json_object_get(j, "expires_in");
	if (json_is_string(t) && json_string_length(t) > 0 &&
	    strcspn(json_string_value(t), "\r\n") == json_string_length(t))
		tok = strdup(json_string_value(t));
	*ttl = json_is_integer(exp) && json_integer_value(exp) > 0 ?
	    (long)json_integer_value(exp) : DEFAULT_TTL_S;
	json_decref(j);
	return tok;
}

static void
fetched(void *arg, const struct httpc_resp *r)
{
	struct entry *e = arg;
	char err[160];
	long ttl = 0;

	e->fetching = false;
	if (e->token) {
		OPENSSL_clear_free(e->token, strlen(e->token));
		e->token = NULL;
	}
	if (r->error != HTTPC_OK) {
		snprintf(err, sizeof(err), "token request failed: %s", r->error_text);
		wake(e, NULL, err);
		return;
	}
	if (r->status / 100 != 2 || r->body_truncated ||
	    (e->token = parse_token(r->body, r->body_len, &ttl)) == NULL) {
		snprintf(err, sizeof(err), "token endpoint answered %d without a usable access_token",
		    r->status);
		wake(e, NULL, err);
		return;
	}
	e->expires = time(NULL) + (ttl > 2 * EXPIRY_MARGIN_S ? ttl - EXPIRY_MARGIN_S : ttl / 2);
	wake(e, e->token, NULL);
}

static struct entry *
entry_for(struct oauth *o, const char *key)
{
	struct entry *e;

	for (e = o->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if ((e = calloc(1, sizeof(*e))) == NULL || (e->key = strdup(key)) == NULL) {
		free(e);
		return NULL;
	}
	e->o = o;
	e->next = o->entries;
	o->entries = e;
	return e;
}

static int
start_fetch(struct oauth *o, struct entry *e, const char *url, const char *client_id,
    const char *client_secret, const char *scope)
{
	char *cred = NULL, *b64 = NULL, *esc = NULL, auth[1024], body[1024];
	const char *hdrs[3] = { auth, "Content-Type: application/x-www-form-urlencoded", NULL };
	struct httpc_req req = { .method = "POST", .url = url, .headers = hdrs,
	    .connect_timeout_ms = o->connect_timeout_ms, .timeout_ms = 15000,
	    .max_body = TOKEN_BODY_MAX };
	int rc = -1;

	if (asprintf(&cred, "%s:%s", client_id, client_secret) < 0) {
		cred = NULL;
		goto done;
	}
	if ((b64 = b64_encode(cred, strlen(cred))) == NULL ||
	    (size_t)snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64) >= sizeof(auth))
		goto done;
	if (scope && *scope) {
		if ((esc = curl_easy_escape(NULL, scope, 0)) == NULL)
			goto done;
		snprintf(body, sizeof(body), "grant_type=client_credentials&scope=%s", esc);
	} else {
		snprintf(body, sizeof(body), "grant_type=client_credentials");
	}
	req.body = body;
	req.body_len = strlen(body);
	if (httpc_send(o->http, &req, fetched, e) == 0) {
		e->fetching = true;
		rc = 0;
	}
done:
	if (cred)
		OPENSSL_clear_free(cred, strlen(cred));
	free(b64);
	curl_free(esc);
	return rc;
}

int
oauth_token(struct oauth *o, const char *url, const char *client_id,
    const char *client_secret, const char *scope, bool refresh,
    const char **cached, oauth_cb cb, void *arg)
{
	struct waiter *w = NULL;
	struct entry *e;
	char *key = NULL;
	int rc = -1;

	if (asprintf(&key, "%s\n%s\n%s\n%s", url, client_id, scope ? scope : "",
	    client_secret) < 0)
		return -1;
	if ((e = entry_for(o, key)) == NULL)
		goto done;
	if (e->token && !e->fetching && (refresh || time(NULL) >= e->expires)) {
		OPENSSL_clear_free(e->token, strlen(e->token));
		e->token = NULL;
	}
	if (e->token && !e->fetching) {
		*cached = e->token;
		rc = 1;
		goto done;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto done;
	w->cb = cb;
	w->arg = arg;
	if (!e->fetching && start_fetch(o, e, url, client_id, client_secret, scope) < 0) {
		free(w);
		goto done;
	}
	w->next = e->waiters;
	e->waiters = w;
	rc = 0;
done:
	OPENSSL_clear_free(key, strlen(key));
	return rc;
}
