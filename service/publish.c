/* publish — POST /api/v1/events.
 *
 * The body is one event object or an array of them. jansson checks every
 * event first (all or nothing: the first bad one is answered 400 naming its
 * index and field, nothing is stored); then the raw body itself goes to
 * PostgreSQL as one json parameter and one INSERT ... SELECT pulls the
 * fields out of it. The payload column is `json`, which keeps the text of
 * the payload exactly as published (no re-serialisation: key order,
 * number spelling and whitespace inside it survive to the receiver).
 *
 * Ids are the idempotency keys: missing ones are generated here (UUIDv4)
 * so that the answer can list every id without RETURNING, and ON CONFLICT
 * DO NOTHING stores an id once however often it is published, also twice
 * within one request. The reply is 202 once the INSERT has committed. */
#include "publish.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "rfc3339.h"
#include "server.h"

#define ID_MAX 255
#define KEY_MAX 4096

static const char insert_sql[] =
	"INSERT INTO webhookd.event (id, integration_object, action, subject_key,"
	" payload, occurred_at, source)"
	" SELECT $2::json->>(a.n::int - 1), a.e->>'integrationObject', a.e->>'action',"
	" a.e->>'integrationKey', a.e->'payload',"
	" coalesce((a.e->>'occurredAt')::timestamptz, now()), 'api'"
	" FROM json_array_elements(CASE json_typeof($1::json) WHEN 'array'"
	" THEN $1::json ELSE json_build_array($1::json) END)"
	" WITH ORDINALITY AS a(e, n)"
	" ON CONFLICT (id) DO NOTHING";

struct publish {
	struct http_request *req;
	char *reply;            /* the 202 body, built before the INSERT */
};

static void
publish_free(void *arg)
{
	struct publish *p = arg;

	free(p->reply);
	free(p);
}

static bool
text_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* NULL when ev is a valid event, else the name of the first bad field
 * ("" for the event itself) with why filled in. */
static const char *
check_event(json_t *ev, const char **why)
{
	static const char *const known[] = { "id", "integrationObject", "action",
	    "integrationKey", "payload", "occurredAt" };
	const char *k, *action;
	json_t *v;

	if (!json_is_object(ev))
		return *why = "must be a JSON object", "";
	json_object_foreach(ev, k, v) {
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			return *why = "is not a known field", k;
	}
	v = json_object_get(ev, "id");
	if (v && !(json_is_string(v) && text_ok(json_string_value(v), 1, ID_MAX)))
		return *why = "must be a string of 1 to 255 printable characters", "id";
	v = json_object_get(ev, "integrationObject");
	if (!v || !json_is_string(v) || !text_ok(json_string_value(v), 1, ID_MAX))
		return *why = "is required: the integration object's code", "integrationObject";
	v = json_object_get(ev, "action");
	action = json_string_value(v);
	if (!action || (strcmp(action, "created") && strcmp(action, "updated") &&
	    strcmp(action, "deleted")))
		return *why = "must be one of created, updated, deleted", "action";
	v = json_object_get(ev, "integrationKey");
	if (v && !json_is_null(v) && !(json_is_string(v) &&
	    text_ok(json_string_value(v), 0, KEY_MAX)))
		return *why = "must be a string or null: at most 4096 printable characters "
		    "(it is sent as the ce-subject header)", "integrationKey";
	v = json_object_get(ev, "payload");
	if (!json_is_object(v))
		return *why = "is required and must be a JSON object", "payload";
	v = json_object_get(ev, "occurredAt");
	if (v && !json_is_null(v) &&
	    !(json_is_string(v) && rfc3339_valid(json_string_value(v))))
		return *why = "must be an RFC 3339 date-time, e.g. 2026-11-24T10:00:00Z",
		    "occurredAt";
	return NULL;
}

static void
uuid4(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		abort();   /* no entropy: nothing safe to continue with */
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void
inserted(void *arg, const struct db_result *r)
{
	struct publish *p = arg;

	if (r->status == DB_OK) {
		server_events_committed(p->req->worker);
		http_reply_text(p->req, 202, "application/json", p->reply);
		return;
	}
	log_msg(LOG_WARN, "publish: %s", r->message ? r->message : "database unavailable");
	if (r->status == DB_SQL_ERROR && r->sqlstate[0] == '2' && r->sqlstate[1] == '2')
		http_reply_error(p->req, 400, "invalid_event",
		    "An event holds a value the database cannot store.", NULL);
	else
		http_reply_unavailable(p->req, NULL);
}

/* The ids as a JSON array (the INSERT's $2) and the 202 body. JSON, not a
 * text[] literal: no second escaping convention to get wrong. */
static int
collect_ids(json_t *events, char **array_lit, char **reply)
{
	json_t *ids = json_array(), *out = json_object(), *ev, *lit = json_array();
	size_t i;
	int rc = -1;

	if (!ids || !out || !lit)
		goto done;
	json_array_foreach(events, i, ev) {
		json_t *id = json_object_get(ev, "id");
		char gen[37];

		if (!id) {
			uuid4(gen);
			id = json_string(gen);
		} else {
			json_incref(id);
		}
		if (!id || json_array_append(ids, id) < 0 || json_array_append_new(lit, id) < 0)
			goto done;
	}
	if (json_object_set(out, "ids", ids) < 0)
		goto done;
	*reply = json_dumps(out, JSON_COMPACT);
	*array_lit = json_dumps(lit, JSON_COMPACT);
	if (*reply && *array_lit)
		rc = 0;
done:
	json_decref(ids);
	json_decref(out);
	json_decref(lit);
	return rc;
}

void
publish_handle(struct http_request *req)
{
	const struct config *cfg = req->worker->srv->cfg;
	size_t len = evbuffer_get_length(req->body), n, i;
	const char *body = len ? (const char *)evbuffer_pullup(req->body, -1) : "";
	json_t *root, *events, *ev;
	json_error_t jerr;
	struct publish *p = NULL;
	char *ids = NULL, msg[512], inner[64];
	const char *params[2], *field, *why;

	/* Integers as reals: only the structure is checked here, and JSON
	 * has no size limit on numbers that jansson's int64 would impose. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
	if (!root) {
		snprintf(msg, sizeof(msg), "The body is not valid JSON: %s (line %d, column %d).",
		    jerr.text, jerr.line, jerr.column);
		http_reply_error(req, 400, "invalid_json", msg, NULL);
		return;
	}
	events = json_is_array(root) ? json_incref(root) : json_pack("[O]", root);
	n = json_array_size(events);
	if (n == 0 || n > (size_t)cfg->publish_max_events) {
		snprintf(msg, sizeof(msg), "Publish 1 to %d events per request, not %zu.",
		    cfg->publish_max_events, n);
		http_reply_error(req, 400, "invalid_event", msg, NULL);
		goto done;
	}
	json_array_foreach(events, i, ev) {
		if ((field = check_event(ev, &why)) != NULL) {
			snprintf(msg, sizeof(msg), "Event [%zu]%s%s%s %s.", i,
			    *field ? ": field [" : "", field, *field ? "]" : "", why);
			snprintf(inner, sizeof(inner), "%zu%s%.48s", i, *field ? "/" : "", field);
			http_reply_error(req, 400, "invalid_event", msg, inner);
			goto done;
		}
	}
	p = calloc(1, sizeof(*p));
	if (!p || collect_ids(events, &ids, &p->reply) < 0) {
		http_reply_unavailable(req, NULL);
		goto done;
	}
	p->req = req;
	/* libpq wants NUL-terminated text; the body holds no NUL (jansson
	 * refused it), so one appended byte makes it a C string. */
	if (evbuffer_add(req->body, "", 1) < 0) {
		http_reply_unavailable(req, NULL);
		goto done;
	}
	body = (const char *)evbuffer_pullup(req->body, -1);
	params[0] = body;
	params[1] = ids;
	req->ctx = p;
	req->ctx_free = publish_free;
	p = NULL;
	if (db_query(req->worker->db, insert_sql, 2, params, inserted, req->ctx) < 0)
		http_reply_unavailable(req, NULL);
done:
	if (p)
		publish_free(p);
	free(ids);
	json_decref(events);
	json_decref(root);
}
