/* write — plans every OData write as a list of SQL statements that the
 * service runs as one pipeline in one transaction (all or nothing).
 *
 * POST is SAP's deep upsert: each entity of the payload, nested ones
 * included, is inserted or updated by its key attributes (INSERT ... ON
 * CONFLICT on the key's UNIQUE constraint), children before the parents
 * that reference them; referenced rows are found by key in subselects, so
 * no statement needs the result of another and the whole plan goes to the
 * database in one round trip. Collections sent are replaced (children not
 * sent are deleted). PATCH/MERGE update the addressed row, PUT replaces it
 * (absent properties back to their defaults), DELETE removes it. A client's
 * integrationKey is ignored: keys are computed from the key attributes.
 * Write-only properties are encrypted through ops before they reach SQL. */
#ifndef WEBHOOKD_ODATA_WRITE_H
#define WEBHOOKD_ODATA_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "model.h"
#include "stmt.h"

enum odata_write_mode {
	ODATA_WRITE_UPSERT,   /* POST /Set */
	ODATA_WRITE_PATCH,    /* PATCH, MERGE /Set('k') */
	ODATA_WRITE_PUT,      /* PUT /Set('k') */
	ODATA_WRITE_DELETE,   /* DELETE /Set('k') */
};

struct odata_write_ops {
	/* malloc'd stored form of a write-only value (aad "table.column"), NULL on failure */
	char *(*encrypt)(void *arg, const char *aad, const char *plain);
	/* malloc'd new secret for ODATA_PROP_GENERATED properties */
	char *(*generate)(void *arg);
	void *arg;
};

struct odata_write_req {
	enum odata_write_mode mode;
	const struct odata_type *type;
	const char *key;                 /* PATCH/PUT/DELETE: the key in the path */
	const char *body;                /* JSON text (not for DELETE) */
	size_t body_len;
	const char *if_match;            /* If-Match header or NULL */
	const char *pre_hook, *post_hook;
	const char *base_uri;
	const struct odata_write_ops *ops;
};

/* A generated secret: shown in the answer only if its statement inserted. */
struct odata_write_secret {
	char *plain;
	char *key;                       /* integrationKey of the entity */
	const char *type;                /* its type name */
	const char *prop;                /* property name */
	int stmt;                        /* index of the ODATA_STMT_SECRET statement */
};

#define ODATA_WRITE_MAX_SECRETS 16

/* A write-only value sent by the client. Encryption is randomised, so the
 * same secret sent again would change the row (and its etag); the service
 * first runs `prefetch` (statement i reads the stored form of wo[i], no row
 * when the entity is new) and, when that decrypts to `plain`, puts it back
 * into statement `stmt`'s parameter `param` instead of the new ciphertext. */
struct odata_write_wo {
	int stmt;
	int param;                       /* index into that statement's params */
	char *plain;                     /* zeroed and freed with the plan */
	const char *column;
	char aad[96];                    /* "table.column", as encrypted */
};

#define ODATA_WRITE_MAX_WO 16

struct odata_write {
	struct odata_stmts stmts;
	int status;                      /* 201, 200 or 204 */
	char *key;                       /* integrationKey of the root entity */
	struct odata_write_secret secrets[ODATA_WRITE_MAX_SECRETS];
	int nsecrets;
	struct odata_stmts prefetch;     /* one per wo[], run before stmts */
	struct odata_write_wo wo[ODATA_WRITE_MAX_WO];
	int nwo;                         /* beyond ODATA_WRITE_MAX_WO: not compared */
};

int  odata_write_build(const struct odata_write_req *rq, struct odata_write *out,
                       struct odata_fail *f);
void odata_write_free(struct odata_write *w);

#endif
