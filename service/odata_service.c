#include "odata_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/rand.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "model.h"
#include "multipart.h"
#include "odata_op.h"
#include "server.h"

struct exec {
	struct http_request *req;
	const struct odata_service *svc;   /* the model's service addressed */
	const char *root;                  /* its root path, ODATA_*_ROOT */
	char base_uri[320];
	struct odata_op *ops;          /* the operations run together */
	size_t nops;
	struct db_stmt *stmts;
	void (*done)(struct exec *);
	bool prefetched;               /* the ops' prefetch statements ran */
	/* $batch */
	struct odata_batch *batch;
	size_t item;
	struct strbuf out;
	struct odata_batch_writer wr;
	char boundary[48];
};

static char csrf_token[33];

int
odata_service_init(void)
{
	unsigned char r[16];
	int i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (i = 0; i < 16; i++)
		snprintf(csrf_token + 2 * i, 3, "%02x", r[i]);
	return odata_op_init();
}

/* ---- CORS --------------------------------------------------------------- */

static bool
origin_allowed(const struct config *cfg, const char *origin)
{
	const char *p = cfg->cors_allowed_origins;
	size_t n = origin ? strlen(origin) : 0;

	while (origin && p && *p) {
		size_t len;

		p += strspn(p, " ,");
		len = strcspn(p, " ,");
		if (len && ((len == n && strncmp(p, origin, n) == 0) || (len == 1 && *p == '*')))
			return true;
		p += len;
	}
	return false;
}

static const char cors_headers[] =
	"Authorization, Content-Type, Accept, Accept-Language, If-Match, X-CSRF-Token, "
	"X-Requested-With, DataServiceVersion, MaxDataServiceVersion, sap-cancel-on-close, "
	"sap-contextid-accept, integrationMessageId, X-HTTP-Method, Pre-Persist-Hook, Post-Persist-Hook";

static bool cors(struct http_request *req);

void
odata_service_cors(struct http_request *req)
{
	(void)cors(req);
}

static bool
cors(struct http_request *req)
{
	const char *origin = http_header(req, "Origin");

	if (!origin_allowed(req->worker->srv->cfg, origin))
		return false;
	http_add_header(req, "Access-Control-Allow-Origin", origin);
	http_add_header(req, "Access-Control-Allow-Credentials", "true");
	http_add_header(req, "Access-Control-Expose-Headers",
	    "ETag, X-CSRF-Token, DataServiceVersion, Location, integrationMessageId");
	http_add_header(req, "Vary", "Origin");
	return true;
}

void
odata_service_preflight(struct http_request *req)
{
	if (http_header(req, "Origin") == NULL ||
	    !origin_allowed(req->worker->srv->cfg, http_header(req, "Origin"))) {
		http_reply_error(req, 403, "forbidden", "The origin is not allowed.", NULL);
		return;
	}
	http_add_header(req, "Access-Control-Allow-Methods",
	    "GET, HEAD, POST, PUT, PATCH, MERGE, DELETE, OPTIONS");
	http_add_header(req, "Access-Control-Allow-Headers", cors_headers);
	http_add_header(req, "Access-Control-Max-Age", "600");
	http_reply(req, 204, NULL, NULL);
}

/* ---- running operations ---------------------------------------------------- */

static void
exec_free(void *arg)
{
	struct exec *x = arg;
	size_t i;

	for (i = 0; i < x->nops; i++)
		odata_op_free(&x->ops[i]);
	free(x->ops);
	free(x->stmts);
	odata_batch_free(x->batch);
	odata_batch_writer_free(&x->wr);
	strbuf_free(&x->out);
	free(x);
}

static void
ran(void *arg, const struct db_batch_result *r)
{
	struct exec *x = arg;
	int first = 0;
	size_t i;

	for (i = 0; i < x->nops; i++) {
		struct odata_op *op = &x->ops[i];
		struct odata_stmts *st = odata_op_stmts(op);
		int n = st ? st->n : 0;

		if (st == NULL)
			continue;
		if (r->status == DB_OK)
			odata_op_finish(op, r->res + first);
		else if (r->status == DB_UNAVAILABLE || (r->failed >= first && r->failed < first + n))
			odata_op_fail_db(op, r);
		/* else: rolled back with the one that failed, which answers for all */
		first += n;
	}
	x->done(x);
}

static void run(struct exec *x);

static void
prefetched(void *arg, const struct db_batch_result *r)
{
	struct exec *x = arg;
	int first = 0;
	size_t i;

	for (i = 0; i < x->nops; i++) {
		struct odata_op *op = &x->ops[i];

		if (op->kind != ODATA_OP_WRITE)
			continue;
		if (r->status == DB_OK)
			odata_op_prefetched(op, r->res + first);
		first += op->wr.prefetch.n;
	}
	/* on an error the plan keeps its new ciphertexts: run it all the same */
	run(x);
}

/* Write-only values sent: reads what is stored first (see odata_write.wo). */
static bool
prefetch(struct exec *x)
{
	int total = 0, k = 0, j;
	size_t i;

	x->prefetched = true;
	for (i = 0; i < x->nops; i++)
		if (x->ops[i].kind == ODATA_OP_WRITE)
			total += x->ops[i].wr.prefetch.n;
	if (total == 0 || total > DB_BATCH_MAX)
		return false;
	free(x->stmts);
	if ((x->stmts = calloc((size_t)total, sizeof(*x->stmts))) == NULL)
		return false;
	for (i = 0; i < x->nops; i++) {
		struct odata_stmts *st = &x->ops[i].wr.prefetch;

		if (x->ops[i].kind != ODATA_OP_WRITE)
			continue;
		for (j = 0; j < st->n; j++, k++) {
			x->stmts[k].sql = st->v[j].sql;
			x->stmts[k].nparams = st->v[j].params.n;
			x->stmts[k].params = (const char *const *)st->v[j].params.v;
		}
	}
	return db_batch(x->req->worker->db, x->stmts, total, prefetched, x) == 0;
}

/* More statements than one pipeline may hold: nothing runs. */
static void
too_many_statements(struct exec *x)
{
	struct odata_fail f;
	size_t i;

	odata_fail(&f, 413, "payload_too_large", NULL,
	    "The request writes too much at once (more than %d statements); split it.", DB_BATCH_MAX);
	for (i = 0; i < x->nops; i++)
		if (odata_op_stmts(&x->ops[i]))
			odata_op_set_fail(&x->ops[i], &f);
	x->done(x);
}

/* Runs the statements of every planned op in x->ops as one transaction;
 * x->done is called when they are answered (maybe at once). */
static void
run(struct exec *x)
{
	int total = 0, k = 0, j;
	size_t i;

	for (i = 0; i < x->nops; i++)
		if (odata_op_stmts(&x->ops[i]))
			total += odata_op_stmts(&x->ops[i])->n;
	if (total == 0) {
		x->done(x);
		return;
	}
	if (total > DB_BATCH_MAX) {
		too_many_statements(x);
		return;
	}
	if (!x->prefetched && prefetch(x))
		return;
	free(x->stmts);
	x->stmts = calloc((size_t)total, sizeof(*x->stmts));
	for (i = 0; x->stmts && i < x->nops; i++) {
		struct odata_stmts *st = odata_op_stmts(&x->ops[i]);

		for (j = 0; st && j < st->n; j++, k++) {
			x->stmts[k].sql = st->v[j].sql;
			x->stmts[k].nparams = st->v[j].params.n;
			x->stmts[k].params = (const char *const *)st->v[j].params.v;
		}
	}
	if (x->stmts == NULL || db_batch(x->req->worker->db, x->stmts, total, ran, x) < 0)
		ran(x, &(struct db_batch_result){ .status = DB_UNAVAILABLE, .failed = -1 });
}

/* ---- one request ---------------------------------------------------------- */

static const char *
req_header(void *arg, const char *name)
{
	return http_header(arg, name);
}

static void
reply_op(struct http_request *req, struct odata_op *op)
{
	struct evbuffer *b;

	if (op->status >= 400) {
		if (op->status == 503) {
			http_reply_unavailable(req, op->fail.message);
			return;
		}
		http_reply_error(req, op->status, op->fail.code, op->fail.message,
		    op->fail.has_inner ? op->fail.inner : NULL);
		return;
	}
	if (op->etag[0])
		http_add_header(req, "ETag", op->etag);
	if (op->location)
		http_add_header(req, "Location", op->location);
	b = evbuffer_new();
	if (b == NULL) {
		http_reply_unavailable(req, NULL);
		return;
	}
	if (op->ctype)
		evbuffer_add(b, op->body.s ? op->body.s : "", op->body.len);
	http_reply(req, op->status, op->ctype, b);
	evbuffer_free(b);
}

static void
single_done(struct exec *x)
{
	if (x->ops[0].status == 405 && (x->svc->flags & ODATA_SERVICE_READ_ONLY))
		http_add_header(x->req, "Allow", "GET, HEAD");
	reply_op(x->req, &x->ops[0]);
}

static enum http_method
tunnelled(const struct http_request *req)
{
	const char *m = http_header(req, "X-HTTP-Method");

	if (req->head.method != HTTP_POST || m == NULL)
		return req->head.method;
	if (strcasecmp(m, "MERGE") == 0)
		return HTTP_MERGE;
	if (strcasecmp(m, "PATCH") == 0)
		return HTTP_PATCH;
	if (strcasecmp(m, "PUT") == 0)
		return HTTP_PUT;
	if (strcasecmp(m, "DELETE") == 0)
		return HTTP_DELETE;
	return HTTP_OTHER;
}

static void
base_uri(struct exec *x)
{
	const char *host = http_header(x->req, "Host");

	if (host == NULL || host[0] == '\0' || strlen(host) > 255 ||
	    host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")])
		host = "localhost";
	snprintf(x->base_uri, sizeof(x->base_uri), "%s://%s%s",
	    x->req->worker->srv->cfg->tls ? "https" : "http", host, x->root);
}

static void
op_init(struct exec *x, struct odata_op *op, enum http_method m, const char *path,
    const char *query, const char *body, size_t len,
    const char *(*hdr)(void *, const char *), void *harg)
{
	const struct config *cfg = x->req->worker->srv->cfg;

	memset(op, 0, sizeof(*op));
	op->in.service = x->svc;
	op->in.method = m;
	op->in.path = path;
	op->in.query = query;
	op->in.body = body;
	op->in.body_len = len;
	op->in.header = hdr;
	op->in.harg = harg;
	op->in.may_write = (x->req->role & AUTH_ROLE_ADMIN) != 0;
	op->in.base_uri = x->base_uri;
	op->in.page_default = cfg->odata_page_size;
	op->in.page_max = cfg->odata_page_max;
	op->in.secrets = x->req->worker->srv->secrets;
}

static void batch_start(struct exec *x);

/* The service whose root the path starts with (route.c only sends those). */
static bool
under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

void
odata_service_handle(struct http_request *req)
{
	const char *csrf = http_header(req, "X-CSRF-Token");
	struct exec *x = calloc(1, sizeof(*x));
	size_t len = evbuffer_get_length(req->body);
	const char *path;

	if (x == NULL) {
		http_reply_unavailable(req, NULL);
		return;
	}
	req->ctx = x;
	req->ctx_free = exec_free;
	x->req = req;
	if (under(req->path, ODATA_MONITORING_ROOT)) {
		x->svc = &odata_monitoring_service;
		x->root = ODATA_MONITORING_ROOT;
	} else {
		x->svc = &odata_webhook_service;
		x->root = ODATA_SERVICE_ROOT;
	}
	path = req->path + strlen(x->root);
	base_uri(x);
	if (csrf && strcasecmp(csrf, "Fetch") == 0)
		http_add_header(req, "X-CSRF-Token", csrf_token);
	if (strcmp(path, "/$batch") == 0 && req->head.method == HTTP_POST) {
		batch_start(x);
		return;
	}
	x->ops = calloc(1, sizeof(*x->ops));
	if (x->ops == NULL) {
		http_reply_unavailable(req, NULL);
		return;
	}
	x->nops = 1;
	op_init(x, &x->ops[0], tunnelled(req), path, req->query,
	    len ? (const char *)evbuffer_pullup(req->body, -1) : "", len, req_header, req);
	odata_op_prepare(&x->ops[0]);
	x->done = single_done;
	run(x);
}

/* ---- $batch ------------------------------------------------------------------ */

static void batch_next(struct exec *x);

static const char *
part_header(void *arg, const char *name)
{
	return odata_batch_header(arg, name);
}

/* "path\0query" of a part's URL: absolute, rooted at the service, or relative.
 * Only the path may name the service root (a $filter literal may hold it). */
static char *
part_target(const char *service_root, const char *url, const char **query)
{
	const size_t root = strlen(service_root);
	size_t n;
	char *s;

	if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
		url = strstr(url, "//") + 2;
		url += strcspn(url, "/?");      /* the host is not ours to check */
	}
	if (strncmp(url, service_root, root) == 0 &&
	    (url[root] == '/' || url[root] == '?' || url[root] == '\0'))
		url += root;
	else if (strncmp(url, service_root + 1, root - 1) == 0 &&
	    (url[root - 1] == '/' || url[root - 1] == '?' || url[root - 1] == '\0'))
		url += root - 1;
	n = strlen(url);
	s = malloc(n + 3);
	if (s == NULL)
		return NULL;
	snprintf(s, n + 3, "%s%s", (*url == '/' || *url == '\0') ? "" : "/", url);
	n = strcspn(s, "?");
	*query = "";
	if (s[n] == '?') {
		s[n] = '\0';
		*query = s + n + 1;
	}
	return s;
}

/* "$1/nav" inside a change set names what request Content-ID 1 wrote. */
static char *
resolve_content_id(struct exec *x, size_t upto, const struct odata_batch_item *it,
    const char *path)
{
	size_t n = strcspn(path + 2, "/"), i;
	struct strbuf b;

	for (i = 0; i < upto; i++) {
		const char *cid = it->requests[i].content_id;
		const struct odata_op *op = &x->ops[i];

		if (cid == NULL || strlen(cid) != n || strncmp(cid, path + 2, n) != 0 ||
		    op->wr.key == NULL)
			continue;
		strbuf_init(&b);
		strbuf_addf(&b, "/%s('", op->type->set);
		for (const char *k = op->wr.key; *k; k++)
			strbuf_adds(&b, *k == '%' ? "%25" : *k == '\'' ? "''" : (char[2]){ *k, 0 });
		strbuf_addf(&b, "')%s", path + 2 + n);
		return strbuf_detach(&b);
	}
	return NULL;
}

static enum http_method
method_of(const char *m)
{
	static const char *const names[] = { "", "GET", "HEAD", "POST", "PUT", "PATCH", "MERGE",
	    "DELETE", "OPTIONS" };
	size_t i;

	for (i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(m, names[i]) == 0)
			return (enum http_method)i;
	return HTTP_OTHER;
}

static void
prepare_part(struct exec *x, const struct odata_batch_item *it, size_t i)
{
	const struct odata_batch_request *r = &it->requests[i];
	struct odata_op *op = &x->ops[i];
	const char *query = "";
	char *target = part_target(x->root, r->url, &query), *resolved;
	enum http_method m = method_of(r->method);
	const char *tm = odata_batch_header(r, "X-HTTP-Method");

	if (m == HTTP_POST && tm)
		m = strcasecmp(tm, "MERGE") == 0 ? HTTP_MERGE : strcasecmp(tm, "PATCH") == 0 ?
		    HTTP_PATCH : strcasecmp(tm, "PUT") == 0 ? HTTP_PUT :
		    strcasecmp(tm, "DELETE") == 0 ? HTTP_DELETE : HTTP_OTHER;
	if (target && strncmp(target, "/$", 2) == 0 && strncmp(target, "/$metadata", 10) != 0 &&
	    (resolved = resolve_content_id(x, i, it, target)) != NULL) {
		size_t plen = strlen(resolved), qlen = strlen(query);
		char *both = malloc(plen + qlen + 2);

		if (both) {
			memcpy(both, resolved, plen + 1);
			memcpy(both + plen + 1, query, qlen + 1);
			query = both + plen + 1;
		}
		free(resolved);
		free(target);
		target = both;
	}
	op_init(x, op, m, target ? target : "", target ? query : "", r->body, r->body_len,
	    part_header, (void *)r);
	op->scratch = target;
	if (target == NULL) {
		odata_fail(&op->fail, 500, "internal_error", NULL, "Out of memory.");
		odata_op_set_fail(op, &op->fail);
		return;
	}
	if (strcmp(target, "/$batch") == 0) {
		odata_fail(&op->fail, 400, "invalid_query", NULL, "A $batch cannot contain a $batch.");
		odata_op_set_fail(op, &op->fail);
		return;
	}
	odata_op_prepare(op);
}

static void
write_part(struct exec *x, const struct odata_op *op, const char *content_id)
{
	struct odata_batch_header h[4];
	struct odata_batch_response r = { 0 };
	char *err = NULL;
	size_t n = 0;

	h[n++] = (struct odata_batch_header){ "DataServiceVersion", "2.0" };
	if (op->etag[0])
		h[n++] = (struct odata_batch_header){ "ETag", op->etag };
	if (op->location)
		h[n++] = (struct odata_batch_header){ "Location", op->location };
	r.status = op->status;
	r.content_id = content_id;
	r.headers = h;
	r.nheaders = n;
	if (op->status >= 400) {
		err = odata_error_json(op->fail.code, op->fail.message,
		    op->fail.has_inner ? op->fail.inner : NULL);
		r.content_type = "application/json";
		r.body = err ? err : "";
		r.body_len = err ? strlen(err) : 0;
	} else if (op->ctype) {
		r.content_type = op->ctype;
		r.body = op->body.s ? op->body.s : "";
		r.body_len = op->body.len;
	}
	odata_batch_write_response(&x->wr, &r);
	free(err);
}

static void
item_done(struct exec *x)
{
	const struct odata_batch_item *it = &x->batch->items[x->item - 1];
	size_t i;

	if (it->kind == ODATA_BATCH_CHANGESET) {
		for (i = 0; i < x->nops; i++)
			if (x->ops[i].status >= 400) {
				write_part(x, &x->ops[i], it->requests[i].content_id);
				batch_next(x);
				return;
			}
		odata_batch_write_begin_changeset(&x->wr);
	}
	for (i = 0; i < x->nops; i++)
		write_part(x, &x->ops[i], it->requests[i].content_id);
	if (it->kind == ODATA_BATCH_CHANGESET)
		odata_batch_write_end_changeset(&x->wr);
	batch_next(x);
}

static void
batch_finish(struct exec *x)
{
	struct evbuffer *b = evbuffer_new();
	char ct[96];

	odata_batch_write_end(&x->wr);
	if (b == NULL || x->out.failed) {
		evbuffer_free(b);
		http_reply_unavailable(x->req, NULL);
		return;
	}
	evbuffer_add(b, x->out.s ? x->out.s : "", x->out.len);
	snprintf(ct, sizeof(ct), "multipart/mixed; boundary=%s", x->boundary);
	http_reply(x->req, 202, ct, b);
	evbuffer_free(b);
}

static void
batch_next(struct exec *x)
{
	const struct odata_batch_item *it;
	size_t i;

	for (i = 0; i < x->nops; i++)
		odata_op_free(&x->ops[i]);
	free(x->ops);
	x->ops = NULL;
	x->nops = 0;
	x->prefetched = false;
	if (x->item == x->batch->nitems) {
		batch_finish(x);
		return;
	}
	it = &x->batch->items[x->item++];
	x->ops = calloc(it->nrequests, sizeof(*x->ops));
	if (x->ops == NULL) {
		http_reply_unavailable(x->req, NULL);
		return;
	}
	x->nops = it->nrequests;
	if (it->kind == ODATA_BATCH_CHANGESET && (x->svc->flags & ODATA_SERVICE_READ_ONLY)) {
		/* a change set is a write: one 405 part answers it, nothing runs */
		x->nops = 1;
		prepare_part(x, it, 0);
		odata_fail(&x->ops[0].fail, 405, "method_not_allowed", NULL,
		    "The %s service is read-only.", x->svc->name);
		odata_op_set_fail(&x->ops[0], &x->ops[0].fail);
		x->done = item_done;
		item_done(x);
		return;
	}
	for (i = 0; i < it->nrequests; i++) {
		prepare_part(x, it, i);
		if (it->kind == ODATA_BATCH_CHANGESET && x->ops[i].status >= 400) {
			x->nops = i + 1;   /* the rest is never run */
			break;
		}
	}
	x->done = item_done;
	if (it->kind == ODATA_BATCH_CHANGESET && x->ops[x->nops - 1].status >= 400) {
		item_done(x);
		return;
	}
	run(x);
}

static void
batch_start(struct exec *x)
{
	struct http_request *req = x->req;
	const char *ct = http_header(req, "Content-Type");
	size_t len = evbuffer_get_length(req->body);
	struct odata_batch_error e;
	unsigned char r[8];
	char boundary[ODATA_BATCH_MAX_BOUNDARY + 1];
	int i;

	if (ct == NULL || odata_batch_boundary(ct, boundary, sizeof(boundary)) < 0) {
		http_reply_error(req, 415, "unsupported_media_type", ct ?
		    "Media type of a $batch must be multipart/mixed with a boundary." :
		    "A $batch needs a Content-Type.", NULL);
		return;
	}
	if (odata_batch_parse(len ? (const char *)evbuffer_pullup(req->body, -1) : "", len,
	    boundary, (size_t)req->worker->srv->cfg->batch_max_requests, &x->batch, &e) < 0) {
		if (e.kind == ODATA_BATCH_TOO_MANY) {
			char msg[128];

			snprintf(msg, sizeof(msg), "The $batch holds more than %d requests.",
			    req->worker->srv->cfg->batch_max_requests);
			http_reply_error(req, 400, "batch_limit_exceeded", msg, NULL);
		} else {
			http_reply_error(req, 400, "malformed_payload", e.message, NULL);
		}
		return;
	}
	RAND_bytes(r, sizeof(r));
	strcpy(x->boundary, "batchresponse_");
	for (i = 0; i < 8; i++)
		snprintf(x->boundary + 14 + 2 * i, 3, "%02x", r[i]);
	strbuf_init(&x->out);
	odata_batch_writer_init(&x->wr, &x->out, x->boundary);
	batch_next(x);
}
