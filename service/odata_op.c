#include "odata_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "key.h"
#include "log.h"
#include "metadata.h"
#include "model.h"
#include "render.h"
#include "secrets.h"
#include "sign.h"

/* Built once per service: the model never changes at run time. */
static struct {
	const struct odata_service *svc;
	char *edmx;
	size_t len;
} docs[] = {
	{ &odata_webhook_service, NULL, 0 },
	{ &odata_monitoring_service, NULL, 0 },
};

int
odata_op_init(void)
{
	size_t i;

	odata_model_init();
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (docs[i].edmx == NULL)
			docs[i].edmx = odata_metadata_service_edmx(docs[i].svc);
		if (docs[i].edmx == NULL)
			return -1;
		docs[i].len = strlen(docs[i].edmx);
	}
	return 0;
}

static void reply_text(struct odata_op *op, int status, const char *ctype, const char *text,
                       size_t len);

static void
reply_metadata(struct odata_op *op)
{
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		if (docs[i].svc == op->in.service && docs[i].edmx != NULL) {
			reply_text(op, 200, "application/xml", docs[i].edmx, docs[i].len);
			return;
		}
	odata_fail(&op->fail, 500, "internal_error", NULL, "No metadata document.");
	odata_op_set_fail(op, &op->fail);
}

void
odata_op_set_fail(struct odata_op *op, const struct odata_fail *f)
{
	op->kind = ODATA_OP_REPLY;
	op->status = f->status;
	if (&op->fail != f)
		op->fail = *f;
	op->ctype = NULL;
}

static void
reply_text(struct odata_op *op, int status, const char *ctype, const char *text, size_t len)
{
	op->kind = ODATA_OP_REPLY;
	op->status = status;
	op->ctype = ctype;
	strbuf_reset(&op->body);
	strbuf_add(&op->body, text, len);
}

bool
odata_op_json_media_type(const char *ct)
{
	size_t n = strcspn(ct, ";");

	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (n == 3 && strncasecmp(ct, "*/*", 3) == 0);
}

/* ---- planning --------------------------------------------------------- */

/* 400 invalid_key for the predicate text pred of an entity of type t (NULL:
 * unknown): SAP's message for an integrationKey; for a plain key, which
 * names the key property. */
static void
key_fail(struct odata_fail *f, const struct odata_type *t, const char *pred)
{
	char msg[512];

	if (t != NULL && (t->flags & ODATA_TYPE_PLAIN_KEY)) {
		odata_fail(f, 400, "invalid_key", NULL, "The key [%.300s] is invalid. Address [%s] "
		    "by its key property: ('...') or (%s='...').", pred, t->name,
		    odata_model_key_name(t));
		return;
	}
	odata_key_error_message(msg, sizeof(msg), pred, t ? t->name : "");
	odata_fail(f, 400, "invalid_key", NULL, "%s", msg);
}

static void
uri_fail(struct odata_op *op, const struct odata_uri_error *e)
{
	struct odata_fail f;

	switch (e->kind) {
	case ODATA_URI_INVALID_KEY:
		key_fail(&f, op->type, e->key);
		break;
	case ODATA_URI_UNSUPPORTED:
		odata_fail(&f, 404, "not_found", NULL, "%s", e->message);
		break;
	case ODATA_URI_UNSUPPORTED_FORMAT:
		odata_fail(&f, 415, "unsupported_media_type", NULL, "%s", e->message);
		break;
	case ODATA_URI_NOMEM:
		odata_fail(&f, 500, "internal_error", NULL, "Out of memory.");
		break;
	default:
		odata_fail(&f, 400, "invalid_query", NULL, "%s", e->message);
	}
	odata_op_set_fail(op, &f);
}

/* The entity set named by the first path segment, for the key message too. */
static const struct odata_type *
set_type(const struct odata_service *svc, const char *raw)
{
	char name[129];
	size_t n;

	if (*raw == '/')
		raw++;
	n = strcspn(raw, "(/?");
	if (n == 0 || n >= sizeof(name))
		return NULL;
	memcpy(name, raw, n);
	name[n] = '\0';
	return odata_model_set(svc, name);
}

/* name='k' naming a property other than the key: the predicate as it was
 * written (name='k' with ' doubled) in the invalid_key message. */
static bool
check_key_name(struct odata_op *op)
{
	struct strbuf pred;

	if (!op->path.has_key || op->path.key_name == NULL ||
	    strcmp(op->path.key_name, odata_model_key_name(op->type)) == 0)
		return true;
	strbuf_init(&pred);
	strbuf_addf(&pred, "%s='", op->path.key_name);
	for (const char *k = op->path.key; *k; k++)
		strbuf_adds(&pred, *k == '\'' ? "''" : (char[2]){ *k, 0 });
	strbuf_addc(&pred, '\'');
	key_fail(&op->fail, op->type, pred.s ? pred.s : "");
	strbuf_free(&pred);
	odata_op_set_fail(op, &op->fail);
	return false;
}

static void
plan_read(struct odata_op *op)
{
	struct odata_read_req rq = {
		.type = op->type, .key = op->path.has_key ? op->path.key : NULL,
		.opt = &op->opt, .count = op->path.count,
		.page_default = op->in.page_default, .page_max = op->in.page_max,
		.base_uri = op->in.base_uri,
	};

	if (op->path.nav) {
		rq.nav = odata_model_nav(op->type, op->path.nav);
		if (rq.nav == NULL) {
			odata_fail_no_property(&op->fail, op->path.nav);
			odata_op_set_fail(op, &op->fail);
			return;
		}
	}
	if (odata_read_build(&rq, &op->rd, &op->fail) < 0) {
		odata_op_set_fail(op, &op->fail);
		return;
	}
	op->kind = ODATA_OP_READ;
}

static char *
encrypt_cb(void *arg, const char *aad, const char *plain)
{
	return secrets_encrypt(arg, aad, plain, strlen(plain));
}

/* A Standard Webhooks signing secret: whsec_ + base64 of 32 random bytes. */
static char *
generate_cb(void *arg)
{
	char s[SIGN_SECRET_MAX];

	(void)arg;
	if (sign_secret_generate(s) < 0)
		return NULL;
	return strdup(s);
}

static bool
check_write(struct odata_op *op, enum odata_write_mode mode)
{
	const char *ct = op->in.header(op->in.harg, "Content-Type");

	if (!op->in.may_write) {
		odata_fail(&op->fail, 403, "forbidden", NULL, "user is not authorized for the operation");
		return false;
	}
	if (op->path.nav || op->path.count || (mode == ODATA_WRITE_UPSERT) == op->path.has_key) {
		odata_fail(&op->fail, 405, "method_not_allowed", NULL,
		    "This method is not supported for this resource.");
		return false;
	}
	if (mode != ODATA_WRITE_DELETE && ct != NULL && !odata_op_json_media_type(ct)) {
		odata_fail(&op->fail, 415, "unsupported_media_type", NULL,
		    "Media type [%.100s] is not supported.", ct);
		return false;
	}
	return true;
}

static void
plan_write(struct odata_op *op, enum odata_write_mode mode)
{
	struct odata_write_ops ops = { encrypt_cb, generate_cb, (void *)op->in.secrets };
	struct odata_write_req rq = {
		.mode = mode, .type = op->type, .key = op->path.key,
		.body = op->in.body, .body_len = op->in.body_len,
		.if_match = op->in.header(op->in.harg, "If-Match"),
		.pre_hook = op->in.header(op->in.harg, "Pre-Persist-Hook"),
		.post_hook = op->in.header(op->in.harg, "Post-Persist-Hook"),
		.base_uri = op->in.base_uri, .ops = &ops,
	};

	if (!check_write(op, mode) || odata_write_build(&rq, &op->wr, &op->fail) < 0) {
		odata_op_set_fail(op, &op->fail);
		return;
	}
	op->kind = ODATA_OP_WRITE;
}

static void
plan_set(struct odata_op *op)
{
	switch (op->in.method) {
	case HTTP_GET:
	case HTTP_HEAD:
		plan_read(op);
		return;
	case HTTP_POST:
		plan_write(op, ODATA_WRITE_UPSERT);
		return;
	case HTTP_PATCH:
	case HTTP_MERGE:
		plan_write(op, ODATA_WRITE_PATCH);
		return;
	case HTTP_PUT:
		plan_write(op, ODATA_WRITE_PUT);
		return;
	case HTTP_DELETE:
		plan_write(op, ODATA_WRITE_DELETE);
		return;
	default:
		odata_fail(&op->fail, 405, "method_not_allowed", NULL,
		    "This method is not supported for this resource.");
		odata_op_set_fail(op, &op->fail);
	}
}

static void
service_document(struct odata_op *op)
{
	size_t i;

	reply_text(op, 200, "application/json", "{\"d\":{\"EntitySets\":[", 20);
	for (i = 0; i < odata_model_ntypes(op->in.service); i++)
		strbuf_addf(&op->body, "%s\"%s\"", i ? "," : "",
		    odata_model_type_at(op->in.service, i)->set);
	strbuf_adds(&op->body, "]}}");
}

void
odata_op_prepare(struct odata_op *op)
{
	struct odata_uri_error e;
	bool get = op->in.method == HTTP_GET || op->in.method == HTTP_HEAD;

	strbuf_init(&op->body);
	if (op->in.service == NULL)
		op->in.service = &odata_webhook_service;
	if ((op->in.service->flags & ODATA_SERVICE_READ_ONLY) && !get) {
		/* every write, whatever it addresses (and however tunnelled) */
		odata_fail(&op->fail, 405, "method_not_allowed", NULL,
		    "The %s service is read-only.", op->in.service->name);
		odata_op_set_fail(op, &op->fail);
		return;
	}
	op->type = set_type(op->in.service, op->in.path);   /* for the message of a bad key */
	if (odata_uri_parse_path(op->in.path, &op->path, &e) < 0 ||
	    odata_options_parse(op->in.query, &op->opt, &e) < 0) {
		uri_fail(op, &e);
		return;
	}
	op->type = op->path.set ? odata_model_set(op->in.service, op->path.set) : NULL;
	switch (op->path.kind) {
	case ODATA_PATH_SERVICE:
		if (get)
			service_document(op);
		break;
	case ODATA_PATH_METADATA:
		if (get)
			reply_metadata(op);
		break;
	case ODATA_PATH_SET:
		if (op->type == NULL) {
			odata_fail(&op->fail, 404, "not_found", NULL,
			    "Entity set [%.128s] was not found.", op->path.set);
			odata_op_set_fail(op, &op->fail);
			return;
		}
		if (!check_key_name(op))
			return;
		plan_set(op);
		return;
	default:   /* $batch inside $batch, an unresolved Content-ID */
		odata_fail(&op->fail, 400, "invalid_query", NULL, "The resource cannot be used here.");
		odata_op_set_fail(op, &op->fail);
		return;
	}
	if (op->status == 0) {
		odata_fail(&op->fail, 405, "method_not_allowed", NULL,
		    "This method is not supported for this resource.");
		odata_op_set_fail(op, &op->fail);
	}
}

struct odata_stmts *
odata_op_stmts(struct odata_op *op)
{
	return op->kind == ODATA_OP_READ ? &op->rd.stmts :
	    op->kind == ODATA_OP_WRITE ? &op->wr.stmts : NULL;
}

void
odata_op_prefetched(struct odata_op *op, PGresult *const *res)
{
	int i;

	if (op->kind != ODATA_OP_WRITE)
		return;
	for (i = 0; i < op->wr.nwo && i < op->wr.prefetch.n; i++) {
		const struct odata_write_wo *wo = &op->wr.wo[i];
		struct odata_stmt *st;
		const char *stored;
		char *plain, *copy;
		size_t len;
		bool same;

		if (wo->stmt < 0 || wo->stmt >= op->wr.stmts.n || PQntuples(res[i]) != 1 ||
		    PQgetisnull(res[i], 0, 0))
			continue;
		st = &op->wr.stmts.v[wo->stmt];
		if (wo->param < 0 || wo->param >= st->params.n)
			continue;
		stored = PQgetvalue(res[i], 0, 0);
		plain = secrets_decrypt(op->in.secrets, wo->aad, stored, &len);
		if (plain == NULL)
			continue;   /* another key, or not ours: store the new one */
		same = len == strlen(wo->plain) && memcmp(plain, wo->plain, len) == 0;
		explicit_bzero(plain, len);
		free(plain);
		if (!same || (copy = strdup(stored)) == NULL)
			continue;
		free(st->params.v[wo->param]);
		st->params.v[wo->param] = copy;
	}
}

/* ---- answers ---------------------------------------------------------- */

static void
wrap_d(struct odata_op *op, int status, const char *json)
{
	op->status = status;
	op->ctype = "application/json";
	strbuf_reset(&op->body);
	strbuf_adds(&op->body, "{\"d\":");
	strbuf_adds(&op->body, json);
	strbuf_addc(&op->body, '}');
}

/* "integration key", or a plain key's property name ("id") */
static const char *
key_label(const struct odata_type *t)
{
	return (t->flags & ODATA_TYPE_PLAIN_KEY) ? odata_model_key_name(t) : "integration key";
}

static void
not_found(struct odata_op *op, const struct odata_type *t, const char *key)
{
	odata_fail(&op->fail, 404, "not_found", key,
	    "[%s] with %s [%s] was not found.", t->name, key_label(t), key);
	odata_op_set_fail(op, &op->fail);
}

struct pgrow {
	const PGresult *res;
	int row;
};

static const char *
pg_value(void *arg, int col)
{
	const struct pgrow *r = arg;

	return PQgetvalue(r->res, r->row, col);
}

static bool
pg_isnull(void *arg, int col)
{
	const struct pgrow *r = arg;

	return PQgetisnull(r->res, r->row, col);
}

/* Appends the JSON of row `row` of a MAIN statement's result. */
static void
render_row(struct odata_op *op, const struct odata_stmt *st, const PGresult *res, int row,
    struct strbuf *out)
{
	struct pgrow pr = { res, row };
	struct odata_row acc = { pg_value, pg_isnull, &pr };

	odata_render_row(st->render, &acc, op->in.base_uri, out);
}

static void
set_etag(struct odata_op *op, const struct odata_stmt *st, const PGresult *res)
{
	if (PQntuples(res) > 0 && st->render && st->render->n > 0 &&
	    st->render->nodes[0].col_version >= 0)
		snprintf(op->etag, sizeof(op->etag), "W/\"%s\"",
		    PQgetvalue(res, 0, st->render->nodes[0].col_version));
}

/* {"d": <the entity of row 0>} */
static void
entity_answer(struct odata_op *op, int status, const struct odata_stmt *st, const PGresult *res)
{
	struct strbuf e;

	strbuf_init(&e);
	render_row(op, st, res, 0, &e);
	wrap_d(op, status, e.s ? e.s : "null");
	if (e.failed)
		op->body.failed = true;
	strbuf_free(&e);
	set_etag(op, st, res);
}

static void
next_link(struct odata_op *op, long offset)
{
	char *q = odata_options_encode_next(&op->opt, offset, op->rd.top_left);

	strbuf_addf(&op->body, ",\"__next\":\"%s", op->in.base_uri);
	/* the raw path is URL text already; JSON needs only " and \ escaped */
	for (const char *p = op->in.path; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addc(&op->body, '\\');
		strbuf_addc(&op->body, *p);
	}
	strbuf_addf(&op->body, "?%s\"", q ? q : "");
	free(q);
}

static void
finish_read(struct odata_op *op, PGresult *const *res)
{
	const struct odata_read *rd = &op->rd;
	const char *count = NULL;
	const PGresult *main = NULL;
	const struct odata_stmt *mst = NULL;
	int i, n;

	for (i = 0; i < rd->stmts.n; i++) {
		if (rd->stmts.v[i].role == ODATA_STMT_PARENT && PQntuples(res[i]) == 0) {
			not_found(op, op->type, op->path.key);
			return;
		}
		if (rd->stmts.v[i].role == ODATA_STMT_COUNT)
			count = PQgetvalue(res[i], 0, 0);
		if (rd->stmts.v[i].role == ODATA_STMT_MAIN) {
			main = res[i];
			mst = &rd->stmts.v[i];
		}
	}
	if (rd->shape == ODATA_READ_COUNT) {
		reply_text(op, 200, "text/plain", count, strlen(count));
		return;
	}
	n = PQntuples(main);
	if (rd->shape == ODATA_READ_ENTITY) {
		if (n == 0) {
			if (op->path.nav)
				odata_fail(&op->fail, 404, "not_found", op->path.key,
				    "[%s] with %s [%s] has no [%s].", op->type->name,
				    key_label(op->type), op->path.key, op->path.nav);
			else
				not_found(op, op->type, op->path.key);
			odata_op_set_fail(op, &op->fail);
			return;
		}
		entity_answer(op, 200, mst, main);
		return;
	}
	op->status = 200;
	op->ctype = "application/json";
	strbuf_adds(&op->body, "{\"d\":{\"results\":[");
	for (i = 0; i < n && i < rd->page; i++) {
		if (i)
			strbuf_addc(&op->body, ',');
		render_row(op, mst, main, i, &op->body);
	}
	strbuf_addc(&op->body, ']');
	if (count)
		strbuf_addf(&op->body, ",\"__count\":\"%s\"", count);
	if (n > rd->page && rd->top_left != 0)
		next_link(op, rd->offset + rd->page);
	strbuf_adds(&op->body, "}}");
}

/* Generated secrets are shown once, in the answer of the write that stored them. */
static void
reveal(json_t *v, const struct odata_write_secret *s)
{
	json_t *m, *el;
	const char *k;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, el)
			reveal(el, s);
		return;
	}
	if (!json_is_object(v))
		return;
	m = json_object_get(json_object_get(v, "__metadata"), "type");
	if (m && strcmp(json_string_value(m) + strlen(ODATA_NAMESPACE) + 1, s->type) == 0 &&
	    json_is_string(json_object_get(v, ODATA_KEY_NAME)) &&
	    strcmp(json_string_value(json_object_get(v, ODATA_KEY_NAME)), s->key) == 0)
		json_object_set_new(v, s->prop, json_string(s->plain));
	json_object_foreach(v, k, el)
		reveal(el, s);
}

static char *
with_secrets(struct odata_op *op, PGresult *const *res, const char *json)
{
	json_t *root = NULL;
	char *out;
	int i, shown = 0;

	for (i = 0; i < op->wr.nsecrets; i++) {
		const struct odata_write_secret *s = &op->wr.secrets[i];

		if (s->stmt < 0 || PQntuples(res[s->stmt]) == 0 ||
		    strcmp(PQgetvalue(res[s->stmt], 0, 0), "t") != 0)
			continue;
		if (root == NULL && (root = json_loads(json, 0, NULL)) == NULL)
			return NULL;
		reveal(root, s);
		shown++;
	}
	if (shown == 0)
		return NULL;
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}

static void
finish_write(struct odata_op *op, PGresult *const *res)
{
	const struct odata_stmts *st = &op->wr.stmts;
	const struct odata_stmt *mst = NULL;
	const PGresult *main = NULL;
	struct strbuf e;
	char *shown;
	int i;

	if (op->wr.status == 204) {
		op->status = 204;
		op->ctype = NULL;
		return;
	}
	for (i = 0; i < st->n; i++)
		if (st->v[i].role == ODATA_STMT_MAIN) {
			main = res[i];
			mst = &st->v[i];
		}
	if (main == NULL || PQntuples(main) == 0) {
		not_found(op, op->type, op->wr.key);
		return;
	}
	strbuf_init(&e);
	render_row(op, mst, main, 0, &e);
	shown = e.s ? with_secrets(op, res, e.s) : NULL;
	wrap_d(op, op->wr.status, shown ? shown : e.s ? e.s : "null");
	if (e.failed)
		op->body.failed = true;
	free(shown);
	strbuf_free(&e);
	set_etag(op, mst, main);
	if (op->wr.status == 201) {
		struct strbuf loc;

		strbuf_init(&loc);
		strbuf_addf(&loc, "%s/%s('", op->in.base_uri, op->type->set);
		for (const char *p = op->wr.key; *p; p++)
			strbuf_adds(&loc, *p == '%' ? "%25" : *p == '|' ? "%7C" : (char[2]){ *p, 0 });
		strbuf_adds(&loc, "')");
		op->location = strbuf_detach(&loc);
	}
}

void
odata_op_finish(struct odata_op *op, PGresult *const *res)
{
	if (op->kind == ODATA_OP_READ)
		finish_read(op, res);
	else if (op->kind == ODATA_OP_WRITE)
		finish_write(op, res);
	if (op->body.failed) {
		odata_fail(&op->fail, 500, "internal_error", NULL, "Out of memory.");
		odata_op_set_fail(op, &op->fail);
	}
	op->kind = ODATA_OP_REPLY;
}

/* Messages PostgreSQL writes are never shown (they may quote values);
 * errors meant for clients come from webhookd.raise_odata (SQLSTATE WHnnn). */
void
odata_op_db_error(struct odata_fail *f, enum db_status status, const char *sqlstate,
    const PGresult *e, const char *log_message)
{
	const char *st = sqlstate ? sqlstate : "";

	if (status == DB_UNAVAILABLE || strcmp(st, "57014") == 0 || strncmp(st, "08", 2) == 0 ||
	    strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0) {
		odata_fail(f, 503, "service_unavailable", NULL,
		    "The service is temporarily unavailable; retry later.");
	} else if (strncmp(st, "WH", 2) == 0 && e != NULL) {
		const char *inner = PQresultErrorField(e, PG_DIAG_MESSAGE_DETAIL);

		odata_fail(f, atoi(st + 2), PQresultErrorField(e, PG_DIAG_MESSAGE_HINT) ?
		    PQresultErrorField(e, PG_DIAG_MESSAGE_HINT) : "invalid_request",
		    inner && *inner ? inner : NULL, "%s",
		    PQresultErrorField(e, PG_DIAG_MESSAGE_PRIMARY));
	} else if (strcmp(st, "23503") == 0) {
		odata_fail(f, 409, "item_in_use", NULL,
		    "The item is referenced by another item and cannot be removed or changed this way.");
	} else if (strcmp(st, "23505") == 0) {
		odata_fail(f, 409, "conflict", NULL,
		    "A concurrent request wrote the same item; retry the request.");
	} else if (strncmp(st, "23", 2) == 0) {
		odata_fail(f, 400, "invalid_attribute_value", NULL,
		    "A value violates a constraint of the model.");
	} else if (strncmp(st, "22", 2) == 0) {
		odata_fail(f, 400, "invalid_query", NULL,
		    "The request cannot be evaluated: %s", strcmp(st, "22012") == 0 ?
		    "division by zero." : "a value is out of range or malformed.");
	} else {
		log_msg(LOG_ERROR, "SQL error %s: %s", st, log_message ? log_message : "");
		odata_fail(f, 500, "internal_error", NULL, "Internal error.");
	}
}

void
odata_op_fail_db(struct odata_op *op, const struct db_batch_result *r)
{
	odata_op_db_error(&op->fail, r->status, r->sqlstate, r->error, r->message);
	odata_op_set_fail(op, &op->fail);
}

void
odata_op_free(struct odata_op *op)
{
	odata_path_free(&op->path);
	odata_options_free(&op->opt);
	odata_read_free(&op->rd);
	odata_write_free(&op->wr);
	strbuf_free(&op->body);
	free(op->location);
	op->location = NULL;
	free(op->scratch);
	op->scratch = NULL;
}
