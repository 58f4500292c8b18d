/* deliver — see deliver.h. */
#include "deliver.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "b64.h"
#include "httpc.h"
#include "oauth.h"
#include "retry.h"
#include "secrets.h"
#include "sign.h"
#include "utf8.h"

#define EXCERPT_MAX   4096
#define MAX_HEADERS   48
#define CE_SOURCE     "webhookd"

enum { C_PK, C_ID, C_ATTEMPTS, C_DEST, C_EVENT_ID, C_IO, C_ACTION, C_SUBJECT,
	C_OCCURRED, C_PAYLOAD, C_URL, C_TIMEOUT, C_IGNORE, C_SIGNALG, C_SECRET,
	C_PREV, C_BUSER, C_BPASS, C_OCLIENT, C_OSECRET, C_OURL, C_OSCOPE,
	C_HEADERS, C_COUNT };

struct deliver_job {
	char *col[C_COUNT];     /* copies of the row, NULL for SQL NULL */
	int64_t pk, dest;
	int attempts;
	/* one attempt */
	struct deliver_ctx *ctx;
	deliver_cb cb;
	void *arg;
	bool oauth_retried;
	struct deliver_outcome out;
	struct timespec t0;
};

struct deliver_job *
deliver_job_new(const PGresult *res, int row)
{
	struct deliver_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	for (int c = 0; c < C_COUNT; c++) {
		if (PQgetisnull(res, row, c))
			continue;
		if ((j->col[c] = strdup(PQgetvalue(res, row, c))) == NULL) {
			deliver_job_free(j);
			return NULL;
		}
	}
	j->pk = strtoll(j->col[C_PK], NULL, 10);
	j->dest = strtoll(j->col[C_DEST], NULL, 10);
	j->attempts = atoi(j->col[C_ATTEMPTS]);
	return j;
}

void
deliver_job_free(struct deliver_job *j)
{
	if (j == NULL)
		return;
	for (int c = 0; c < C_COUNT; c++)
		free(j->col[c]);
	free(j->out.excerpt);
	free(j);
}

int64_t
deliver_job_pk(const struct deliver_job *j)
{
	return j->pk;
}

int64_t
deliver_job_destination(const struct deliver_job *j)
{
	return j->dest;
}

/* The response body as text PostgreSQL accepts: invalid UTF-8 and NUL
 * bytes become '?'. */
static char *
excerpt_of(const char *body, size_t len)
{
	char *s = malloc(len + 1);
	size_t i = 0;

	if (s == NULL)
		return NULL;
	memcpy(s, body, len);
	s[len] = '\0';
	while (i < len) {
		size_t bad = odata_utf8_bad(s + i, len - i);

		i += bad;
		if (i < len)
			s[i++] = '?';
	}
	for (i = 0; i < len; i++)
		if (s[i] == '\0')
			s[i] = '?';
	return s;
}

static void
finish(struct deliver_job *j, const struct httpc_resp *r)
{
	struct deliver_outcome *o = &j->out;
	struct deliver_ctx *ctx = j->ctx;
	struct timespec t1;
	double rnd;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	o->duration_ms = (int)((t1.tv_sec - j->t0.tv_sec) * 1000 +
	    (t1.tv_nsec - j->t0.tv_nsec) / 1000000);
	o->attempt_no = j->attempts + 1;
	o->counts = j->col[C_IGNORE] == NULL || strcmp(j->col[C_IGNORE], "t") != 0;
	if (r) {
		o->status_code = r->error == HTTPC_OK ? r->status : 0;
		if (r->error != HTTPC_OK)
			snprintf(o->error, sizeof(o->error), "%s", r->error_text);
		else if (r->status / 100 != 2)
			snprintf(o->error, sizeof(o->error), "HTTP %d", r->status);
		if (r->error == HTTPC_OK && r->body_len > 0)
			o->excerpt = excerpt_of(r->body, r->body_len);
	}
	if (o->error[0] == '\0') {
		o->status = DELIVER_DELIVERED;
	} else if (!o->counts) {
		o->status = DELIVER_FAILED;     /* ignoreErrors: even a 410 */
	} else if (o->status_code == 410) {
		o->status = DELIVER_FAILED;
		o->gone = true;
	} else {
		rnd = (double)rand_r(&ctx->rand_state) / ((double)RAND_MAX + 1.0);
		o->delay_ms = retry_next_delay(ctx->retry, o->attempt_no,
		    r && r->error == HTTPC_OK ? r->retry_after_s : -1, rnd);
		o->status = o->delay_ms < 0 ? DELIVER_FAILED : DELIVER_RETRY;
	}
	j->cb(j->arg, j, o);
}

static void fail_now(struct deliver_job *j, const char *fmt, const char *what)
{
	snprintf(j->out.error, sizeof(j->out.error), fmt, what);
	finish(j, NULL);
}

static const char *
ce_type_action(const char *action)
{
	if (strcmp(action, "created") == 0)
		return "Created";
	if (strcmp(action, "updated") == 0)
		return "Updated";
	return "Deleted";
}

/* A header name from additionalProperties ("header:<Name>"): an HTTP
 * token, and none of the headers webhookd itself owns. */
static bool
header_name_ok(const char *n)
{
	static const char *const reserved[] = { "content-type", "content-length",
	    "host", "transfer-encoding", "connection", "authorization" };

	if (*n == '\0' || strlen(n) > 128)
		return false;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return false;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcasecmp(n, reserved[i]) == 0)
			return false;
	return strncasecmp(n, "ce-", 3) != 0 && strncasecmp(n, "webhook-", 8) != 0;
}

struct hdrs {
	char *v[MAX_HEADERS + 1];
	int n;
};

static int
hdr_add(struct hdrs *h, const char *name, const char *value)
{
	if (h->n == MAX_HEADERS || strpbrk(value, "\r\n") != NULL ||
	    asprintf(&h->v[h->n], "%s: %s", name, value) < 0)
		return -1;
	h->n++;
	return 0;
}

static void
hdrs_free(struct hdrs *h)
{
	for (int i = 0; i < h->n; i++)
		OPENSSL_clear_free(h->v[i], strlen(h->v[i]));
	h->n = 0;
}

/* Standard Webhooks: one signature per valid secret, space-separated. */
static int
add_signature(struct deliver_job *j, struct hdrs *h, const char **why)
{
	const char *aad = "consumed_destination.signing_secret";
	const char *stored[2] = { j->col[C_SECRET], j->col[C_PREV] };
	char sigs[2 * SIGN_SIG_MAX + 2] = "", ts[24];
	long long now = (long long)time(NULL);

	if (j->col[C_SIGNALG] && strcmp(j->col[C_SIGNALG], "NONE") == 0)
		return 0;
	snprintf(ts, sizeof(ts), "%lld", now);
	for (int i = 0; i < 2; i++) {
		unsigned char key[SIGN_KEY_MAX];
		char sig[SIGN_SIG_MAX], *secret;
		size_t len;
		int klen;

		if (stored[i] == NULL)
			continue;
		secret = secrets_decrypt(j->ctx->secrets, aad, stored[i], &len);
		if (secret == NULL)
			return *why = "signing secret does not decrypt with the master keyring", -1;
		klen = sign_secret_decode(secret, key);
		OPENSSL_clear_free(secret, len);
		if (klen < 0 || sign_standard(key, (size_t)klen, j->col[C_ID], now,
		    j->col[C_PAYLOAD], strlen(j->col[C_PAYLOAD]), sig) < 0) {
			OPENSSL_cleanse(key, sizeof(key));
			return *why = "signing secret is not a whsec_ secret", -1;
		}
		OPENSSL_cleanse(key, sizeof(key));
		if (sigs[0])
			strcat(sigs, " ");
		strcat(sigs, sig);
	}
	if (sigs[0] == '\0')
		return *why = "signing is on but the destination has no signing secret", -1;
	if (hdr_add(h, "webhook-id", j->col[C_ID]) < 0 ||
	    hdr_add(h, "webhook-timestamp", ts) < 0 ||
	    hdr_add(h, "webhook-signature", sigs) < 0)
		return *why = "out of memory", -1;
	return 0;
}

static int
add_basic(struct deliver_job *j, struct hdrs *h, const char **why)
{
	char *pass = NULL, *cred = NULL, *b64 = NULL, *val = NULL;
	size_t len = 0;
	int rc = -1;

	if (j->col[C_BPASS] && (pass = secrets_decrypt(j->ctx->secrets,
	    "basic_credential.password", j->col[C_BPASS], &len)) == NULL) {
		*why = "basic password does not decrypt with the master keyring";
		return -1;
	}
	*why = "out of memory";
	if (asprintf(&cred, "%s:%s", j->col[C_BUSER] ? j->col[C_BUSER] : "",
	    pass ? pass : "") < 0)
		cred = NULL;
	else if ((b64 = b64_encode(cred, strlen(cred))) != NULL &&
	    asprintf(&val, "Basic %s", b64) >= 0)
		rc = hdr_add(h, "Authorization", val);
	else
		val = NULL;
	if (pass)
		OPENSSL_clear_free(pass, len);
	if (cred)
		OPENSSL_clear_free(cred, strlen(cred));
	if (b64)
		OPENSSL_clear_free(b64, strlen(b64));
	if (val)
		OPENSSL_clear_free(val, strlen(val));
	return rc;
}

static int
add_static_headers(struct deliver_job *j, struct hdrs *h)
{
	json_t *a, *pair;
	size_t i;

	if (j->col[C_HEADERS] == NULL)
		return 0;
	if ((a = json_loads(j->col[C_HEADERS], 0, NULL)) == NULL)
		return -1;
	json_array_foreach(a, i, pair) {
		const char *n = json_string_value(json_array_get(pair, 0));
		const char *v = json_string_value(json_array_get(pair, 1));

		/* A bad name or a value with CR/LF would let configuration
		 * inject headers; such entries are skipped. */
		if (n && v && header_name_ok(n))
			(void)hdr_add(h, n, v);
	}
	json_decref(a);
	return 0;
}

static void sent(void *arg, const struct httpc_resp *r);

static void
send_with(struct deliver_job *j, const char *bearer)
{
	char ce_type[320];
	struct hdrs h = { .n = 0 };
	const char *why = "out of memory";
	struct httpc_req req = { .method = "POST", .url = j->col[C_URL],
	    .body = j->col[C_PAYLOAD], .body_len = strlen(j->col[C_PAYLOAD]),
	    .connect_timeout_ms = j->ctx->connect_timeout_ms,
	    .timeout_ms = atol(j->col[C_TIMEOUT]), .max_body = EXCERPT_MAX };

	snprintf(ce_type, sizeof(ce_type), "sap.cx.commerce.%s.%s.v1", j->col[C_IO],
	    ce_type_action(j->col[C_ACTION]));
	if (hdr_add(&h, "Content-Type", "application/json") < 0 ||
	    hdr_add(&h, "User-Agent", "webhookd") < 0 ||
	    hdr_add(&h, "ce-specversion", "1.0") < 0 ||
	    hdr_add(&h, "ce-id", j->col[C_ID]) < 0 ||
	    hdr_add(&h, "ce-type", ce_type) < 0 ||
	    hdr_add(&h, "ce-source", CE_SOURCE) < 0 ||
	    hdr_add(&h, "ce-time", j->col[C_OCCURRED]) < 0 ||
	    (j->col[C_SUBJECT] && hdr_add(&h, "ce-subject", j->col[C_SUBJECT]) < 0)) {
		/* published through the outbox, values are not checked for
		 * line breaks; they must never become headers */
		why = "an event value holds a line break and cannot be sent as a header";
		goto fail;
	}
	/* "Name:" with nothing after it removes a header libcurl would add:
	 * no "Expect: 100-continue" round trip before larger bodies. */
	if ((h.v[h.n] = strdup("Expect:")) == NULL)
		goto fail;
	h.n++;
	if (add_signature(j, &h, &why) < 0)
		goto fail;
	if (bearer) {
		char *v = NULL;

		if (asprintf(&v, "Bearer %s", bearer) < 0 || hdr_add(&h, "Authorization", v) < 0) {
			free(v);
			goto fail;
		}
		OPENSSL_clear_free(v, strlen(v));
	} else if ((j->col[C_BUSER] || j->col[C_BPASS]) && add_basic(j, &h, &why) < 0) {
		goto fail;
	}
	if (add_static_headers(j, &h) < 0)
		goto fail;
	req.headers = (const char *const *)h.v;
	if (httpc_send(j->ctx->http, &req, sent, j) < 0) {
		why = "the request could not be started";
		goto fail;
	}
	hdrs_free(&h);
	return;
fail:
	hdrs_free(&h);
	fail_now(j, "%s", why);
}

static void
token_ready(void *arg, const char *token, const char *error)
{
	struct deliver_job *j = arg;

	if (token == NULL) {
		fail_now(j, "OAuth: %s", error);
		return;
	}
	send_with(j, token);
}

/* Send, first getting an OAuth token when the destination has one. */
static void
start(struct deliver_job *j, bool refresh)
{
	char *secret = NULL;
	const char *cached = NULL;
	size_t len = 0;
	int rc;

	if (j->col[C_OURL] == NULL) {
		send_with(j, NULL);
		return;
	}
	if (j->col[C_OSECRET] && (secret = secrets_decrypt(j->ctx->secrets,
	    "consumed_oauth_credential.client_secret", j->col[C_OSECRET], &len)) == NULL) {
		fail_now(j, "%s", "OAuth client secret does not decrypt with the master keyring");
		return;
	}
	rc = oauth_token(j->ctx->oauth, j->col[C_OURL],
	    j->col[C_OCLIENT] ? j->col[C_OCLIENT] : "", secret ? secret : "",
	    j->col[C_OSCOPE], refresh, &cached, token_ready, j);
	if (secret)
		OPENSSL_clear_free(secret, len);
	if (rc == 1)
		send_with(j, cached);
	else if (rc < 0)
		fail_now(j, "%s", "OAuth: the token request could not be started");
}

static void
sent(void *arg, const struct httpc_resp *r)
{
	struct deliver_job *j = arg;

	/* A 401 with an OAuth token: the token may have been revoked early;
	 * fetch a new one and try once more within the same attempt. */
	if (r->error == HTTPC_OK && r->status == 401 && j->col[C_OURL] && !j->oauth_retried) {
		j->oauth_retried = true;
		start(j, true);
		return;
	}
	finish(j, r);
}

void
deliver_start(struct deliver_ctx *ctx, struct deliver_job *j, deliver_cb cb, void *arg)
{
	free(j->out.excerpt);
	memset(&j->out, 0, sizeof(j->out));
	j->ctx = ctx;
	j->cb = cb;
	j->arg = arg;
	j->oauth_retried = false;
	clock_gettime(CLOCK_REALTIME, &j->out.started);
	clock_gettime(CLOCK_MONOTONIC, &j->t0);
	start(j, false);
}
