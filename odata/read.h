/* read — the SQL of every OData read: an entity by key, a collection with
 * $filter/$orderby/$top/$skip/$skiptoken/$inlinecount, navigation from a
 * keyed entity, /$count, and the entity a write answers with. The same
 * code serves both services (model.h): the type decides the key (stored
 * integrationKey, or a plain key property), whether there is an etag, and
 * how each property is selected.
 *
 * One statement per read selects flat columns that render.c turns into
 * JSON; expanded collections are aggregated by PostgreSQL (json_agg of
 * json_build_object) into one column. $1 is always the service root URI
 * used in __metadata and __deferred links. Projection ($select, $expand)
 * and paths are resolved against the model; unknown names fail with 404
 * not_found as SAP does.
 *
 * Property values: an Edm.DateTime column is selected as milliseconds
 * since the epoch (floor, so before 1970 too) for render.c, built as
 * "/Date(<ms>)/" in expanded JSON, and compared as the timestamptz it is in
 * $filter/$orderby (filter_sql.h); a JSON property is its text. */
#ifndef WEBHOOKD_ODATA_READ_H
#define WEBHOOKD_ODATA_READ_H

#include <stdbool.h>

#include "error.h"
#include "model.h"
#include "stmt.h"
#include "uri.h"

struct odata_read_req {
	const struct odata_type *type;     /* the entity set addressed */
	const char *key;                   /* NULL: the whole set */
	const struct odata_nav *nav;       /* navigation from the keyed entity */
	const struct odata_options *opt;   /* NULL: none */
	bool count;                        /* /$count */
	long page_default, page_max;
	const char *base_uri;              /* service root, no trailing '/' */
};

enum odata_read_shape {
	ODATA_READ_ENTITY,      /* MAIN: at most one row (json, row_version) */
	ODATA_READ_COLLECTION,  /* MAIN: up to page+1 rows (json) */
	ODATA_READ_COUNT,       /* COUNT only */
};

struct odata_read {
	enum odata_read_shape shape;
	const struct odata_type *type;     /* type of the answer's entities */
	struct odata_stmts stmts;          /* PARENT?, COUNT?, MAIN? */
	long page;                         /* COLLECTION: rows to show */
	long offset;                       /* COLLECTION: rows skipped */
	long top_left;                     /* rows the client still wants after this page, -1: no $top */
};

int  odata_read_build(const struct odata_read_req *rq, struct odata_read *out,
                      struct odata_fail *f);
void odata_read_free(struct odata_read *r);

/* For writes: the statement answering with the entity of type t whose key
 * values are `values`, with the navigations named in `expand` (a JSON-like
 * tree, see write.c) expanded. Appended to stmts as MAIN. */
struct odata_expand_tree {
	const struct odata_nav *nav;
	struct odata_expand_tree *child;   /* first child */
	struct odata_expand_tree *next;    /* sibling */
};
int  odata_read_entity_stmt(struct odata_stmts *stmts, const struct odata_type *t,
                            char *const *values, const struct odata_expand_tree *expand,
                            const char *base_uri);

#endif
