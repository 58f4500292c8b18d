/* pull — see pull.h.
 *
 * Each call is one statement, so one transaction, keyed by the destination's
 * integration key as a parameter. The PullResult is written here from the
 * rows, each payload copied as its stored `json` text, so events reach the
 * consumer byte for byte as published. */
#include "pull.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "render.h"
#include "server.h"
#include "strbuf.h"
#include "uri.h"

#define PREFIX "/api/v1/subscriptions"

/* The destination, whether it is PULL, and its subscription row, locked
 * NOWAIT: a pull or commit running on it makes this one fail with 55P03. */
#define SUBSCRIPTION_CTES \
	"WITH dst AS (SELECT cd.pk, ch.code = 'PULL' AS pull" \
	"  FROM webhookd.consumed_destination cd" \
	"  JOIN webhookd.destination_target dt ON dt.pk = cd.destination_target_pk" \
	"  JOIN webhookd.destination_channel ch ON ch.pk = dt.destination_channel_pk" \
	"  WHERE cd.integration_key = $1)," \
	" s AS (SELECT sub.destination_pk, sub.cursor FROM webhookd.subscription sub" \
	"  JOIN dst ON dst.pk = sub.destination_pk AND dst.pull FOR UPDATE OF sub NOWAIT)," \
	" e AS (SELECT coalesce((SELECT st.stream_end FROM webhookd.destination_state st" \
	"  JOIN s ON s.destination_pk = st.destination_pk), 0) AS stream_end),"

/* $2 soft byte limit, $3 most events, $4 retention (s), $5 autoCommit.
 * The batch is the longest prefix whose bytes before each event stay under
 * the limit, so the first event always goes, however large. When nothing is
 * readable, nextCursor is the stream's end: whatever lies before it has
 * expired or been discarded. */
static const char pull_sql[] =
	SUBSCRIPTION_CTES
	" b0 AS (SELECT d.stream_offset AS o, d.id, d.event_pk FROM webhookd.delivery d"
	"  WHERE d.destination_pk = (SELECT destination_pk FROM s)"
	"  AND d.stream_offset >= (SELECT cursor FROM s) AND d.status <> 'DISCARDED'"
	"  AND d.created_at >= now() - make_interval(secs => $4::int)"
	"  ORDER BY d.stream_offset LIMIT $3::int),"
	" b AS (SELECT b0.o, b0.id, e2.id AS event_id, e2.integration_object, e2.action,"
	"  e2.subject_key, e2.occurred_at, e2.payload, octet_length(e2.payload::text) AS size"
	"  FROM b0 JOIN webhookd.event e2 ON e2.pk = b0.event_pk),"
	" w AS (SELECT b.*, sum(size) OVER (ORDER BY o) - size AS before FROM b),"
	" sel AS (SELECT * FROM w WHERE before < $2::bigint),"
	" nx AS (SELECT coalesce((SELECT max(o) + 1 FROM sel),"
	"  greatest((SELECT cursor FROM s), (SELECT stream_end FROM e)), 0) AS next),"
	" u AS (UPDATE webhookd.subscription sub SET active_at = now(),"
	"  cursor = CASE WHEN $5::bool THEN nx.next ELSE sub.cursor END"
	"  FROM s, nx WHERE sub.destination_pk = s.destination_pk RETURNING 1)"
	" SELECT (SELECT count(*) FROM dst), coalesce((SELECT bool_or(pull) FROM dst), false),"
	" nx.next, (SELECT count(*) FROM u), sel.o, sel.id, sel.event_id,"
	" sel.integration_object, sel.action, sel.subject_key,"
	" to_char(sel.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	" sel.payload FROM nx LEFT JOIN sel ON true ORDER BY sel.o";
enum { P_NEXT = 2, P_OFFSET = 4, P_ID, P_EVENT_ID, P_IO, P_ACTION, P_KEY, P_AT, P_PAYLOAD };

/* $2 the new cursor: no lower than the committed one, no higher than the
 * stream's end. What lies before it is delivered: the dispatcher's janitor
 * marks those rows within a second, off the consumer's path. */
static const char commit_sql[] =
	SUBSCRIPTION_CTES
	" ok AS (SELECT s.destination_pk, s.cursor FROM s, e"
	"  WHERE $2::bigint >= s.cursor AND $2::bigint <= e.stream_end),"
	" u AS (UPDATE webhookd.subscription sub SET cursor = $2::bigint, active_at = now()"
	"  FROM ok WHERE sub.destination_pk = ok.destination_pk RETURNING 1)"
	" SELECT (SELECT count(*) FROM dst), coalesce((SELECT bool_or(pull) FROM dst), false),"
	" coalesce((SELECT cursor FROM s), 0), (SELECT stream_end FROM e), (SELECT count(*) FROM u)";

struct pull {
	struct http_request *req;
	long long offset;       /* commit: the requested cursor */
};

static struct pull *
pull_new(struct http_request *req)
{
	return http_ctx_new(req, sizeof(struct pull), NULL);
}

/* Common answers of both statements: 404 for a key naming no PULL
 * destination, 409 for a pull or commit running, 503 otherwise. Returns
 * true when it answered. */
static bool
answered_error(struct http_request *req, const struct db_result *r)
{
	if (r->status == DB_SQL_ERROR && strcmp(r->sqlstate, "55P03") == 0) {
		metrics_count("pull_conflicts");
		http_reply_error(req, 409, "conflict", "Another pull or commit on this "
		    "subscription is running; use one consumer per subscription.", NULL);
		return true;
	}
	if (r->status != DB_OK || PQntuples(r->res) < 1) {
		if (r->status == DB_SQL_ERROR)
			log_warn("pull: %s (%s)", r->message, r->sqlstate);
		http_reply_unavailable(req, NULL);
		return true;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "0") == 0) {
		http_reply_error(req, 404, "not_found",
		    "No destination has this integration key.", NULL);
		return true;
	}
	if (PQgetvalue(r->res, 0, 1)[0] != 't') {
		http_reply_error(req, 404, "not_found", "The destination's target channel "
		    "is not PULL, so it has no subscription to read.", NULL);
		return true;
	}
	return false;
}

/* The ce-type, as a JSON string: sap.cx.commerce.<IO>.<Created|Updated|Deleted>.v1 */
static void
write_type(struct strbuf *b, const char *io, const char *action)
{
	struct strbuf t;

	strbuf_init(&t);
	strbuf_addf(&t, "sap.cx.commerce.%s.%c%s.v1", io, toupper((unsigned char)action[0]),
	    action[0] ? action + 1 : "");
	if (t.failed)
		b->failed = true;
	else
		odata_render_json_string(b, t.s);
	strbuf_free(&t);
}

/* One event of the batch: its cursor and its envelope. */
static void
write_event(struct strbuf *b, const PGresult *res, int i)
{
	const char *action = PQgetvalue(res, i, P_ACTION);

	strbuf_addf(b, "{\"cursor\":{\"offset\":%s},\"event\":{\"id\":",
	    PQgetvalue(res, i, P_OFFSET));
	odata_render_json_string(b, PQgetvalue(res, i, P_ID));
	strbuf_adds(b, ",\"eventId\":");
	odata_render_json_string(b, PQgetvalue(res, i, P_EVENT_ID));
	strbuf_adds(b, ",\"type\":");
	write_type(b, PQgetvalue(res, i, P_IO), action);
	strbuf_adds(b, ",\"integrationObject\":");
	odata_render_json_string(b, PQgetvalue(res, i, P_IO));
	strbuf_adds(b, ",\"action\":");
	odata_render_json_string(b, action);
	strbuf_adds(b, ",\"integrationKey\":");
	if (PQgetisnull(res, i, P_KEY))
		strbuf_adds(b, "null");
	else
		odata_render_json_string(b, PQgetvalue(res, i, P_KEY));
	strbuf_adds(b, ",\"occurredAt\":");
	odata_render_json_string(b, PQgetvalue(res, i, P_AT));
	strbuf_adds(b, ",\"payload\":");
	strbuf_adds(b, PQgetvalue(res, i, P_PAYLOAD));
	strbuf_adds(b, "}}");
}

static void
pulled(void *arg, const struct db_result *r)
{
	struct pull *p = arg;
	struct strbuf b;
	int i, n;

	if (answered_error(p->req, r))
		return;
	/* one row per event, or one row of NULLs when there is none */
	n = PQgetisnull(r->res, 0, P_OFFSET) ? 0 : PQntuples(r->res);
	strbuf_init(&b);
	strbuf_addf(&b, "{\"status\":\"OK\",\"type\":\"PullResult\",\"errors\":[],"
	    "\"total\":%d,\"data\":{\"events\":[", n);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strbuf_addc(&b, ',');
		write_event(&b, r->res, i);
	}
	strbuf_addf(&b, "],\"nextCursor\":{\"offset\":%s}}}", PQgetvalue(r->res, 0, P_NEXT));
	metrics_count("pulls");
	if (b.failed)
		http_reply_unavailable(p->req, NULL);
	else
		http_reply_text(p->req, 200, "application/json", b.s);
	strbuf_free(&b);
}

static void
committed(void *arg, const struct db_result *r)
{
	struct pull *p = arg;
	char msg[160], body[64];
	long long cursor, end;

	if (answered_error(p->req, r))
		return;
	cursor = strtoll(PQgetvalue(r->res, 0, 2), NULL, 10);
	end = strtoll(PQgetvalue(r->res, 0, 3), NULL, 10);
	if (p->offset < cursor || p->offset > end) {
		snprintf(msg, sizeof(msg), "The offset must lie between the committed cursor "
		    "%lld and the end of the stream %lld; it was %lld.", cursor, end, p->offset);
		http_reply_error(p->req, 400, "invalid_cursor", msg, NULL);
		return;
	}
	snprintf(body, sizeof(body), "{\"offset\":%lld}", p->offset);
	http_reply_text(p->req, 200, "application/json", body);
}

/* A non-negative decimal integer of at most 18 digits. */
static bool
parse_count(const char *s, long long *out)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 18 || s[n] != '\0')
		return false;
	*out = strtoll(s, NULL, 10);
	return true;
}

/* maxBatchSize and autoCommit from the query string; false after answering
 * 400. Unknown parameters are refused, so that a misspelt autoCommit does
 * not silently leave the cursor where it was. */
static bool
pull_params(struct http_request *req, long long *max_bytes, bool *auto_commit)
{
	const char *q = req->query;
	char msg[256];

	while (q && *q) {
		const char *amp = strchr(q, '&'), *eq;
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		char *v = NULL;
		bool ok = false;

		eq = memchr(q, '=', n);
		if (eq && (v = odata_uri_decode(eq + 1, n - (size_t)(eq + 1 - q), true)) != NULL) {
			if ((size_t)(eq - q) == 12 && strncmp(q, "maxBatchSize", 12) == 0)
				ok = parse_count(v, max_bytes) && *max_bytes > 0;
			else if ((size_t)(eq - q) == 10 && strncmp(q, "autoCommit", 10) == 0)
				ok = (*auto_commit = strcmp(v, "true") == 0) || strcmp(v, "false") == 0;
		}
		free(v);
		if (!ok) {
			snprintf(msg, sizeof(msg), "Query parameter [%.*s] is not valid: use "
			    "maxBatchSize=<bytes, at least 1> and autoCommit=true|false.",
			    (int)(eq ? (size_t)(eq - q) : n > 64 ? 64 : n), q);
			http_reply_error(req, 400, "invalid_query", msg, NULL);
			return false;
		}
		q = amp ? amp + 1 : NULL;
	}
	return true;
}

static void
pull_events(struct http_request *req, const char *key)
{
	const struct config *cfg = req->worker->srv->cfg;
	long long max_bytes = (long long)cfg->pull_batch_size;
	bool auto_commit = false;
	char bytes[24], most[16], keep[16];
	const char *p[5] = { key, bytes, most, keep, NULL };

	if (!pull_params(req, &max_bytes, &auto_commit))
		return;
	snprintf(bytes, sizeof(bytes), "%lld", max_bytes);
	snprintf(most, sizeof(most), "%d", cfg->pull_max_events);
	snprintf(keep, sizeof(keep), "%d", cfg->pull_retention_s);
	p[4] = auto_commit ? "true" : "false";
	if (pull_new(req) == NULL ||
	    db_query(req->worker->db, pull_sql, 5, p, pulled, req->ctx) < 0)
		http_reply_unavailable(req, NULL);
}

/* {"offset": n} with n a non-negative integer; -1 after answering 400. */
static long long
commit_offset(struct http_request *req)
{
	size_t len = evbuffer_get_length(req->body);
	const char *body = len ? (const char *)evbuffer_pullup(req->body, -1) : "";
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr), *o;
	long long offset = -1;

	if (!root) {
		http_reply_error(req, 400, "invalid_json", "The body is not valid JSON.", NULL);
		return -1;
	}
	o = json_object_get(root, "offset");
	if (json_is_object(root) && json_object_size(root) == 1 && json_is_integer(o) &&
	    json_integer_value(o) >= 0)
		offset = json_integer_value(o);
	else
		http_reply_error(req, 400, "invalid_cursor",
		    "The body must be {\"offset\": n} with n a non-negative integer.", NULL);
	json_decref(root);
	return offset;
}

static void
commit_cursor(struct http_request *req, const char *key)
{
	long long offset = commit_offset(req);
	char off[24];
	const char *p[2] = { key, off };
	struct pull *pl;

	if (offset < 0)
		return;
	snprintf(off, sizeof(off), "%lld", offset);
	if ((pl = pull_new(req)) == NULL)
		goto fail;
	pl->offset = offset;
	if (db_query(req->worker->db, commit_sql, 2, p, committed, pl) < 0)
		goto fail;
	return;
fail:
	http_reply_unavailable(req, NULL);
}

void
pull_handle(struct http_request *req)
{
	char key[API_SEGMENT_MAX + 1];
	const char *action;
	int rc = api_path_parse(req->path, PREFIX, key, &action);

	if (rc == -2) {
		api_bad_segment(req);
		return;
	}
	if (rc == 0 && strcmp(action, "events") == 0 && req->head.method == HTTP_GET)
		pull_events(req, key);
	else if (rc == 0 && strcmp(action, "cursor") == 0 && req->head.method == HTTP_PUT)
		commit_cursor(req, key);
	else
		http_reply_error(req, 404, "not_found", "Use GET " PREFIX "/{destinationKey}/events"
		    "?maxBatchSize=&autoCommit= or PUT " PREFIX "/{destinationKey}/cursor.", NULL);
}
