/* webhooks — the registration API; see webhooks.h.
 *
 * The body is checked completely here (jansson) before the database is
 * asked anything: shape, types, unknown fields, the form of each trigger
 * "<IntegrationObject code>.<saved|created|updated|deleted>". What needs
 * other rows (the integration objects exist, the url is absolute http(s))
 * is checked by webhookd.register() in the one statement that writes
 * everything (sql/0006_registration.sql), whose WHnnn errors are mapped
 * like the OData layer maps them.
 *
 * The uuid and the signing secret are made here (RAND_bytes); the secret is
 * encrypted as the OData create path stores it (aad
 * "consumed_destination.signing_secret"), and its plaintext lives only in
 * this request's state until the 201 is written. */
#include "webhooks.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "api.h"
#include "db.h"
#include "odata_op.h"
#include "log.h"
#include "secrets.h"
#include "server.h"
#include "sign.h"
#include "uri.h"

#define PREFIX       "/api/v1/webhooks"
#define UUID_LEN     36
#define CODE_MAX     255     /* an IntegrationObject code (odata/model.c ID_LEN) */
#define URL_MAX      2048    /* ConsumedDestination.url (URL_LEN) */
#define NAME_MAX_LEN 255
#define DESC_MAX     4096
#define TRIGGERS_MAX 100

static const char register_sql[] =
	"SELECT webhookd.register($1::uuid, $2, $3, $4, $5::jsonb, $6, $7)";
static const char list_sql[] =
	"SELECT coalesce(json_agg(webhookd.registration_json(r) ORDER BY r.created_at, r.pk),"
	" '[]'::json) FROM webhookd.registration r";
static const char get_sql[] =
	"SELECT webhookd.registration_json(r) FROM webhookd.registration r WHERE r.uuid = $1::uuid";
static const char unregister_sql[] = "SELECT webhookd.unregister($1::uuid)";

static const char event_prefix[] = "de.hybris.platform.webhookservices.event.";
static const struct { const char *action, *event; } actions[] = {
	{ "saved", "ItemSavedEvent" }, { "created", "ItemCreatedEvent" },
	{ "updated", "ItemUpdatedEvent" }, { "deleted", "ItemDeletedEvent" },
};

struct call {
	struct http_request *req;
	char *secret;           /* create: the plaintext signing key, for the 201 only */
	char uuid[UUID_LEN + 1];
};

static void
call_free(void *arg)
{
	struct call *c = arg;

	if (c->secret)
		OPENSSL_clear_free(c->secret, strlen(c->secret));
	free(c);
}

static struct call *
call_new(struct http_request *req)
{
	return http_ctx_new(req, sizeof(struct call), call_free);
}

/* A database error as the OData layer answers it (odata_op_db_error). */
static void
reply_db_error(struct http_request *req, const struct db_result *r)
{
	struct odata_fail f;

	odata_op_db_error(&f, r->status, r->sqlstate, r->res, r->message);
	if (f.status == 503)
		http_reply_unavailable(req, NULL);
	else
		http_reply_error(req, f.status, f.code, f.message, f.has_inner ? f.inner : NULL);
}

/* ---- reads and delete ----------------------------------------------- */

static void
not_found(struct http_request *req)
{
	http_reply_error(req, 404, "not_found", "No webhook is registered under this uuid.", NULL);
}

/* The single json column of a one-row result, passed through as is. */
static void
read_done(void *arg, const struct db_result *r)
{
	struct call *c = arg;

	if (r->status != DB_OK) {
		reply_db_error(c->req, r);
		return;
	}
	if (PQntuples(r->res) == 0) {
		not_found(c->req);
		return;
	}
	http_reply_text(c->req, 200, "application/json", PQgetvalue(r->res, 0, 0));
}

static void
unregistered(void *arg, const struct db_result *r)
{
	struct call *c = arg;

	if (r->status != DB_OK) {
		reply_db_error(c->req, r);
		return;
	}
	if (PQntuples(r->res) != 1 || PQgetvalue(r->res, 0, 0)[0] != 't') {
		not_found(c->req);
		return;
	}
	http_reply(c->req, 204, NULL, NULL);
}

static void
query(struct http_request *req, const char *sql, const char *uuid, db_cb cb)
{
	const char *p[1] = { uuid };
	struct call *c = call_new(req);

	if (c == NULL || db_query(req->worker->db, sql, uuid ? 1 : 0, uuid ? p : NULL, cb, c) < 0)
		http_reply_unavailable(req, NULL);
}

/* ---- create ---------------------------------------------------------- */

static void
uuid4(char out[UUID_LEN + 1])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		abort();   /* no entropy: nothing safe to continue with */
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, UUID_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void
registered(void *arg, const struct db_result *r)
{
	struct call *c = arg;
	char location[sizeof(PREFIX) + UUID_LEN + 1];
	json_t *j;

	if (r->status != DB_OK) {
		reply_db_error(c->req, r);
		return;
	}
	/* the stored view plus the key, which no later read shows again */
	j = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
	if (j == NULL || json_object_set_new(j, "signing_key", json_string(c->secret)) < 0) {
		json_decref(j);
		http_reply_unavailable(c->req, NULL);
		return;
	}
	snprintf(location, sizeof(location), PREFIX "/%s", c->uuid);
	http_add_header(c->req, "Location", location);
	api_reply_json(c->req, 201, j);
}

static bool
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A checking failure: status, code, message, innererror. */
struct fail {
	int status;
	const char *code;
	char msg[512];
	char inner[300];
};

static int failf(struct fail *f, int status, const char *code, const char *inner,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
failf(struct fail *f, int status, const char *code, const char *inner, const char *fmt, ...)
{
	va_list ap;

	f->status = status;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	snprintf(f->inner, sizeof(f->inner), "%s", inner ? inner : "");
	return -1;
}

static int
no_memory(struct fail *f)
{
	return failf(f, 503, "service_unavailable", NULL,
	    "The service is temporarily unavailable; retry later.");
}

/* One trigger into {"trigger", "code", "event_class"}, appended to out.
 * The code is everything before the last '.', so codes may hold dots. */
static int
add_trigger(json_t *v, size_t i, json_t *out, struct fail *f)
{
	const char *t = json_string_value(v), *dot;
	char idx[32], event_class[96], *code;
	size_t k;
	int rc;

	snprintf(idx, sizeof(idx), "triggers[%zu]", i);
	if (t == NULL)
		return failf(f, 400, "invalid_trigger", idx, "Trigger %s is not a string.", idx);
	if (strlen(t) > CODE_MAX + 8 || !printable(t) || (dot = strrchr(t, '.')) == NULL ||
	    dot == t || dot[1] == '\0')
		return failf(f, 400, "invalid_trigger", *t ? t : idx, "Trigger [%.280s] is not of "
		    "the form <IntegrationObject code>.<saved|created|updated|deleted>.", t);
	for (k = 0; k < sizeof(actions) / sizeof(actions[0]); k++)
		if (strcmp(dot + 1, actions[k].action) == 0)
			break;
	if (k == sizeof(actions) / sizeof(actions[0]))
		return failf(f, 400, "invalid_trigger", t, "Trigger [%.280s] has an unknown action; "
		    "use saved, created, updated or deleted.", t);
	if ((code = strndup(t, (size_t)(dot - t))) == NULL)
		return no_memory(f);
	snprintf(event_class, sizeof(event_class), "%s%s", event_prefix, actions[k].event);
	rc = json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "trigger", t,
	    "code", code, "event_class", event_class));
	free(code);
	return rc < 0 ? no_memory(f) : 0;
}

/* triggers: a non-empty array of unique strings (a repeated trigger is
 * refused: it would name the same WebhookConfiguration twice). */
static int
check_triggers(json_t *arr, json_t *out, struct fail *f)
{
	size_t i, j;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > TRIGGERS_MAX)
		return failf(f, 400, "invalid_attribute_value", "triggers", "Field [triggers] is "
		    "required: an array of 1 to %d strings <IntegrationObject code>.<action>.",
		    TRIGGERS_MAX);
	json_array_foreach(arr, i, v) {
		if (add_trigger(v, i, out, f) < 0)
			return -1;
		for (j = 0; j < i; j++)
			if (json_equal(json_array_get(arr, j), v))
				return failf(f, 400, "invalid_trigger", json_string_value(v),
				    "Trigger [%.280s] is listed more than once.", json_string_value(v));
	}
	return 0;
}

/* An optional string field: absent or null gives NULL. */
static int
opt_string(json_t *body, const char *name, size_t max, const char **out, struct fail *f)
{
	json_t *v = json_object_get(body, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) > max)
		return failf(f, 400, "invalid_attribute_value", name,
		    "Field [%s] must be a string of at most %zu bytes.", name, max);
	*out = json_string_value(v);
	return 0;
}

struct reg {
	const char *url, *name, *description, *alg;
	json_t *triggers;       /* [{"trigger", "code", "event_class"}] */
};

static int
check_fields(json_t *body, struct fail *f)
{
	static const char *const known[] = { "url", "name", "description", "triggers",
	    "signing_alg", "signing_key" };
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(body, k, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			return failf(f, 400, "unknown_field", k, "Field [%.200s] is not known; the fields "
			    "are url, name, description, triggers, signing_alg.", k);
	}
	return 0;
}

/* The whole body, checked; "signing_key" is accepted and ignored (the key
 * is always generated here). */
static int
check_body(json_t *body, struct reg *g, struct fail *f)
{
	json_t *v;

	if (check_fields(body, f) < 0)
		return -1;
	v = json_object_get(body, "url");
	g->url = json_string_value(v);
	if (g->url == NULL || *g->url == '\0' || strlen(g->url) > URL_MAX || !printable(g->url))
		return failf(f, 400, "invalid_attribute_value", "url", "Field [url] is required: "
		    "an absolute http or https URL of at most %d bytes.", URL_MAX);
	if (opt_string(body, "name", NAME_MAX_LEN, &g->name, f) < 0 ||
	    opt_string(body, "description", DESC_MAX, &g->description, f) < 0 ||
	    opt_string(body, "signing_alg", 32, &g->alg, f) < 0)
		return -1;
	if (g->alg == NULL)
		g->alg = "HMAC_SHA256";
	if (strcmp(g->alg, "HMAC_SHA256") != 0 && strcmp(g->alg, "NONE") != 0)
		return failf(f, 400, "invalid_attribute_value", "signing_alg",
		    "Field [signing_alg] must be HMAC_SHA256 or NONE, not [%.32s].", g->alg);
	return check_triggers(json_object_get(body, "triggers"), g->triggers, f);
}

/* The body as parsed JSON object, or NULL with the reply sent. */
static json_t *
parse_body(struct http_request *req)
{
	size_t len = evbuffer_get_length(req->body);
	const char *text = len ? (const char *)evbuffer_pullup(req->body, -1) : "";
	const char *ct = http_header(req, "Content-Type");
	json_error_t je;
	char msg[300];
	json_t *j;

	if (ct != NULL && !odata_op_json_media_type(ct)) {
		snprintf(msg, sizeof(msg), "Media type [%.100s] is not supported.", ct);
		http_reply_error(req, 415, "unsupported_media_type", msg, NULL);
		return NULL;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (j == NULL) {
		snprintf(msg, sizeof(msg), "The payload is not valid JSON: %s at position %d.",
		    je.text, je.position);
		http_reply_error(req, 400, "malformed_payload", msg, NULL);
	} else if (!json_is_object(j)) {
		http_reply_error(req, 400, "malformed_payload", "The payload must be a JSON object.", NULL);
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Secret, its stored form, the uuid, then the one statement. */
static void
submit(struct http_request *req, const struct reg *g)
{
	char secret[SIGN_SECRET_MAX], *stored = NULL, *triggers = NULL;
	const char *p[7];
	struct call *c = NULL;

	if (sign_secret_generate(secret) < 0 ||
	    (stored = secrets_encrypt(req->worker->srv->secrets, "consumed_destination.signing_secret",
	    secret, strlen(secret))) == NULL ||
	    (triggers = json_dumps(g->triggers, JSON_COMPACT)) == NULL ||
	    (c = call_new(req)) == NULL || (c->secret = strdup(secret)) == NULL)
		goto fail;
	uuid4(c->uuid);
	p[0] = c->uuid;
	p[1] = g->name;
	p[2] = g->description;
	p[3] = g->url;
	p[4] = triggers;
	p[5] = g->alg;
	p[6] = stored;
	if (db_query(req->worker->db, register_sql, 7, p, registered, c) < 0)
		goto fail;
	goto done;
fail:
	http_reply_unavailable(req, NULL);
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(stored);
	free(triggers);
}

static void
create(struct http_request *req)
{
	struct reg g = { 0 };
	struct fail f = { 0 };
	json_t *body = parse_body(req);

	if (body == NULL)
		return;
	if ((g.triggers = json_array()) == NULL) {
		http_reply_unavailable(req, NULL);
		goto done;
	}
	if (check_body(body, &g, &f) < 0) {
		http_reply_error(req, f.status, f.code, f.msg, f.inner[0] ? f.inner : NULL);
		goto done;
	}
	submit(req, &g);
done:
	json_decref(g.triggers);
	json_decref(body);
}

/* ---- routing --------------------------------------------------------- */

static bool
is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != UUID_LEN)
		return false;
	for (i = 0; i < UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static void
method_not_allowed(struct http_request *req, const char *allow)
{
	char msg[128];

	http_add_header(req, "Allow", allow);
	snprintf(msg, sizeof(msg), "Method [%.20s] is not supported by [%s].",
	    req->head.method_str, req->path);
	http_reply_error(req, 405, "method_not_allowed", msg, NULL);
}

static void
item(struct http_request *req, const char *seg)
{
	char *id = odata_uri_decode(seg, strlen(seg), false);

	if (req->head.method != HTTP_GET && req->head.method != HTTP_DELETE)
		method_not_allowed(req, "GET, DELETE");
	else if (id == NULL || !is_uuid(id))
		not_found(req);
	else
		query(req, req->head.method == HTTP_GET ? get_sql : unregister_sql, id,
		    req->head.method == HTTP_GET ? read_done : unregistered);
	free(id);
}

void
webhooks_handle(struct http_request *req)
{
	const char *rest = req->path + strlen(PREFIX);

	if (*rest == '\0') {
		if (req->head.method == HTTP_POST)
			create(req);
		else if (req->head.method == HTTP_GET)
			query(req, list_sql, NULL, read_done);
		else
			method_not_allowed(req, "GET, POST");
	} else if (rest[1] != '\0' && strchr(rest + 1, '/') == NULL) {
		item(req, rest + 1);
	} else {
		http_reply_error(req, 404, "not_found", "Use /api/v1/webhooks or "
		    "/api/v1/webhooks/{uuid}.", NULL);
	}
}
