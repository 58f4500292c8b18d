/* api — the administrative REST calls beside OData; see api.h.
 *
 * Each call is one statement (one transaction) keyed by a path segment
 * passed as a parameter, never spliced into SQL. A redelivery or recovery
 * NOTIFYs the dispatchers from inside the same statement, so the wake-up
 * is sent exactly when the change commits. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "config.h"
#include "db.h"
#include "uri.h"
#include "log.h"
#include "rfc3339.h"
#include "secrets.h"
#include "server.h"
#include "sign.h"

static const char redeliver_sql[] =
	"WITH x AS (SELECT pk, status, destination_pk, stream_offset FROM webhookd.delivery"
	"  WHERE id = $1 FOR UPDATE),"
	" u AS (UPDATE webhookd.delivery d SET status = 'PENDING', next_attempt_at = now(),"
	"  lease_owner = NULL, lease_until = NULL FROM x WHERE d.pk = x.pk"
	"  AND x.status <> 'IN_FLIGHT' AND x.destination_pk IS NOT NULL"
	"  AND x.stream_offset IS NULL RETURNING d.pk)"
	" SELECT x.status, x.destination_pk IS NULL, (SELECT count(*) FROM u),"
	" pg_notify('webhookd_dispatch', 'delivery'), x.stream_offset IS NOT NULL FROM x";

static const char recover_sql[] =
	"WITH u AS (UPDATE webhookd.delivery d SET status = 'PENDING', next_attempt_at = now()"
	"  FROM webhookd.consumed_destination cd WHERE cd.integration_key = $1"
	"  AND d.destination_pk = cd.pk AND d.status = 'FAILED' AND d.stream_offset IS NULL"
	"  AND d.created_at >= $2::timestamptz RETURNING d.pk)"
	" SELECT (SELECT count(*) FROM webhookd.consumed_destination WHERE integration_key = $1),"
	" (SELECT count(*) FROM u), pg_notify('webhookd_dispatch', 'delivery')";

static const char rotate_sql[] =
	"UPDATE webhookd.consumed_destination SET signing_secret_prev = signing_secret,"
	" signing_secret = $2, signing_secret_rotated_at = now()"
	" WHERE integration_key = $1"
	" RETURNING to_char((now() + make_interval(secs => $3::int)) AT TIME ZONE 'UTC',"
	" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), signing_secret_prev IS NOT NULL";

struct call {
	struct http_request *req;
	char *secret;          /* rotate: the new plaintext secret */
	char *id;              /* redeliver: the delivery id */
};

static void
call_free(void *arg)
{
	struct call *c = arg;

	if (c->secret)
		OPENSSL_clear_free(c->secret, strlen(c->secret));
	free(c->id);
	free(c);
}

/* Percent-decode s[0..n) (form: a query value) into out by the OData
 * parser's rules; -1 on a bad escape, a NUL, invalid UTF-8, nothing, or
 * more than API_SEGMENT_MAX bytes. */
static int
decode_segment(const char *s, size_t n, bool form, char *out)
{
	char *d;
	size_t len;

	if (n == 0 || n > 3 * API_SEGMENT_MAX || (d = odata_uri_decode(s, n, form)) == NULL)
		return -1;
	len = strlen(d);
	if (len > 0 && len <= API_SEGMENT_MAX)
		memcpy(out, d, len + 1);
	free(d);
	return len > 0 && len <= API_SEGMENT_MAX ? 0 : -1;
}

int
api_path_parse(const char *path, const char *prefix, char *seg, const char **action)
{
	size_t plen = strlen(prefix);
	const char *s, *slash;

	if (strncmp(path, prefix, plen) != 0 || path[plen] != '/')
		return -1;
	s = path + plen + 1;
	if ((slash = strchr(s, '/')) == NULL || strchr(slash + 1, '/') != NULL)
		return -1;
	*action = slash + 1;
	return decode_segment(s, (size_t)(slash - s), false, seg) < 0 ? -2 : 0;
}

void
api_bad_segment(struct http_request *req)
{
	http_reply_error(req, 400, "invalid_key", "The id or key in the path is not valid "
	    "percent-encoded UTF-8 of 1 to 1024 bytes.", NULL);
}

void
api_reply_json(struct http_request *req, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (text)
		http_reply_text(req, status, "application/json", text);
	else
		http_reply_unavailable(req, NULL);
	free(text);
	json_decref(j);
}

static struct call *
call_new(struct http_request *req)
{
	return http_ctx_new(req, sizeof(struct call), call_free);
}

static void
redelivered(void *arg, const struct db_result *r)
{
	struct call *c = arg;
	const PGresult *res = r->res;

	if (r->status != DB_OK) {
		http_reply_unavailable(c->req, NULL);
		return;
	}
	if (PQntuples(res) == 0) {
		http_reply_error(c->req, 404, "not_found", "No delivery has this id.", NULL);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "IN_FLIGHT") == 0) {
		http_reply_error(c->req, 409, "conflict",
		    "The delivery is being attempted right now; try again when it has finished.", NULL);
		return;
	}
	if (PQgetvalue(res, 0, 1)[0] == 't') {
		http_reply_error(c->req, 409, "conflict",
		    "The delivery's destination no longer exists.", NULL);
		return;
	}
	if (PQgetvalue(res, 0, 4)[0] == 't') {
		http_reply_error(c->req, 409, "conflict", "The delivery belongs to a PULL "
		    "subscription; its consumer reads it from the subscription's stream.", NULL);
		return;
	}
	api_reply_json(c->req, 202, json_pack("{s:s, s:s}", "id", c->id, "status", "PENDING"));
}

void
api_deliveries_handle(struct http_request *req)
{
	char id[API_SEGMENT_MAX + 1];
	const char *action, *p[1] = { id };
	struct call *c;

	int rc = api_path_parse(req->path, "/api/v1/deliveries", id, &action);

	if (rc == -2) {
		api_bad_segment(req);
		return;
	}
	if (rc < 0 || strcmp(action, "redeliver") != 0) {
		http_reply_error(req, 404, "not_found",
		    "Use POST /api/v1/deliveries/{id}/redeliver.", NULL);
		return;
	}
	if ((c = call_new(req)) == NULL || (c->id = strdup(id)) == NULL ||
	    db_query(req->worker->db, redeliver_sql, 1, p, redelivered, c) < 0)
		http_reply_unavailable(req, NULL);
}

static void
recovered(void *arg, const struct db_result *r)
{
	struct call *c = arg;

	if (r->status != DB_OK) {
		http_reply_unavailable(c->req, NULL);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "0") == 0) {
		http_reply_error(c->req, 404, "not_found",
		    "No destination has this integration key.", NULL);
		return;
	}
	api_reply_json(c->req, 200, json_pack("{s:I}", "requeued",
	    (json_int_t)strtoll(PQgetvalue(r->res, 0, 1), NULL, 10)));
}

static void
rotated(void *arg, const struct db_result *r)
{
	struct call *c = arg;

	if (r->status != DB_OK) {
		http_reply_unavailable(c->req, NULL);
		return;
	}
	if (PQntuples(r->res) == 0) {
		http_reply_error(c->req, 404, "not_found",
		    "No destination has this integration key.", NULL);
		return;
	}
	api_reply_json(c->req, 200, json_pack("{s:s, s:o}", "signingSecret", c->secret,
	    "previousSecretValidUntil", PQgetvalue(r->res, 0, 1)[0] == 't' ?
	    json_string(PQgetvalue(r->res, 0, 0)) : json_null()));
}

/* "since" from the query string, percent-decoded. */
static int
query_since(const char *query, char *out)
{
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > 6 && strncmp(p, "since=", 6) == 0)
			return decode_segment(p + 6, n - 6, false, out);  /* a literal + stays (offsets) */
		p = amp ? amp + 1 : NULL;
	}
	return -1;
}

static void
rotate(struct http_request *req, const char *key)
{
	const struct server *srv = req->worker->srv;
	char secret[SIGN_SECRET_MAX], *stored = NULL, overlap[16];
	const char *p[3] = { key, NULL, overlap };
	struct call *c;

	if (sign_secret_generate(secret) < 0 ||
	    (stored = secrets_encrypt(srv->secrets, "consumed_destination.signing_secret",
	    secret, strlen(secret))) == NULL || (c = call_new(req)) == NULL ||
	    (c->secret = strdup(secret)) == NULL) {
		http_reply_unavailable(req, NULL);
		goto done;
	}
	snprintf(overlap, sizeof(overlap), "%d", srv->cfg->rotation_overlap_s);
	p[1] = stored;
	if (db_query(req->worker->db, rotate_sql, 3, p, rotated, c) < 0)
		http_reply_unavailable(req, NULL);
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(stored);
}

void
api_destinations_handle(struct http_request *req)
{
	char key[API_SEGMENT_MAX + 1], since[API_SEGMENT_MAX + 1];
	const char *action, *p[2] = { key, since };
	struct call *c;

	int rc = api_path_parse(req->path, "/api/v1/destinations", key, &action);

	if (rc == -2) {
		api_bad_segment(req);
		return;
	}
	if (rc < 0 || (strcmp(action, "recover") != 0 && strcmp(action, "rotate-secret") != 0)) {
		http_reply_error(req, 404, "not_found", "Use POST /api/v1/destinations/{key}/recover"
		    "?since=<RFC 3339> or /api/v1/destinations/{key}/rotate-secret.", NULL);
		return;
	}
	if (strcmp(action, "rotate-secret") == 0) {
		rotate(req, key);
		return;
	}
	if (query_since(req->query, since) < 0 || !rfc3339_valid(since)) {
		http_reply_error(req, 400, "invalid_query",
		    "recover needs since=<RFC 3339 date-time>, e.g. since=2026-11-24T10:00:00Z.", NULL);
		return;
	}
	if ((c = call_new(req)) == NULL ||
	    db_query(req->worker->db, recover_sql, 2, p, recovered, c) < 0)
		http_reply_unavailable(req, NULL);
}
