/* odata_op — one OData operation (a plain request, or one part of a $batch):
 * parse the URL, plan it with odata/ (read.c, write.c), run the plan's
 * statements (the caller does, with db_batch), and render the answer.
 * Nothing here touches a connection, so $batch reuses it unchanged. */
#ifndef WEBHOOKD_ODATA_OP_H
#define WEBHOOKD_ODATA_OP_H

#include <stdbool.h>

#include "db.h"
#include "error.h"
#include "httpparse.h"
#include "read.h"
#include "strbuf.h"
#include "uri.h"
#include "write.h"

struct secrets;

struct odata_op_in {
	const struct odata_service *service;   /* the model's service addressed;
	                                          NULL: the WebhookService */
	enum http_method method;         /* after X-HTTP-Method tunnelling */
	const char *path;                /* raw, after the service root ("" or "/...") */
	const char *query;               /* raw, "" when none */
	const char *body;
	size_t body_len;
	const char *(*header)(void *arg, const char *name);
	void *harg;
	bool may_write;                  /* the user's role allows writes */
	const char *base_uri;            /* service root URI, for links */
	long page_default, page_max;
	const struct secrets *secrets;
};

enum odata_op_kind { ODATA_OP_REPLY, ODATA_OP_READ, ODATA_OP_WRITE };

struct odata_op {
	struct odata_op_in in;
	enum odata_op_kind kind;
	/* the answer */
	int status;
	const char *ctype;               /* NULL: no body */
	struct strbuf body;
	struct odata_fail fail;          /* status >= 400 */
	char etag[32];
	char *location;
	char *scratch;                   /* caller's storage, freed with the op */
	/* the plan */
	struct odata_path path;
	struct odata_options opt;
	const struct odata_type *type;
	struct odata_read rd;
	struct odata_write wr;
};

/* Plans the operation. Afterwards kind is REPLY (answered: an error, the
 * service document, $metadata) or READ/WRITE with statements to run. Any
 * method but GET and HEAD on a read-only service (WebhookMonitoring) is
 * 405 method_not_allowed, "The <name> service is read-only.", whatever the
 * path. */
void odata_op_prepare(struct odata_op *op);
struct odata_stmts *odata_op_stmts(struct odata_op *op);
/* The statements ran: res[0..n) are their results. */
void odata_op_finish(struct odata_op *op, PGresult *const *res);
/* They failed: maps the database error (odata errors raised by SQL, key and
 * constraint violations, timeouts, an unreachable database). failed is the
 * index of the failing statement relative to this op's first, or -1. */
void odata_op_fail_db(struct odata_op *op, const struct db_batch_result *r);
/* A failed statement as the client sees it: 503 for an unreachable or busy
 * database, webhookd.raise_odata's WHnnn errors as raised, constraint and
 * value errors as 409/400, anything else 500 (logged with log_message,
 * never shown). e: the error result, or NULL. */
void odata_op_db_error(struct odata_fail *f, enum db_status status, const char *sqlstate,
    const PGresult *e, const char *log_message);
void odata_op_set_fail(struct odata_op *op, const struct odata_fail *f);
/* A write's prefetch statements (odata_write.prefetch) ran: res[i] is the
 * result of the i-th. Where a stored write-only value decrypts to the one
 * sent, the plan stores it unchanged instead of a new ciphertext. */
void odata_op_prefetched(struct odata_op *op, PGresult *const *res);
void odata_op_free(struct odata_op *op);

/* Once at start-up (builds the model and each service's cached EDMX). */
int  odata_op_init(void);

/* Whether a request body's Content-Type means JSON: application/json with
 * any parameters, or the full wildcard (what some clients send). */
bool odata_op_json_media_type(const char *ct);

#endif
