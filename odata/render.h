/* render — the JSON of entities from flat SQL rows.
 *
 * PostgreSQL's json_build_object looks up the type of every argument on
 * every call, which made it most of the cost of a read. So a read selects
 * plain columns (the entity's properties, key attribute values, row
 * version, and those of expanded to-one navigations through LEFT JOINs)
 * and this module writes the OData JSON: __metadata, properties,
 * integrationKey (stored with the row), __deferred links and
 * expanded entities. An expanded collection still arrives as one column of
 * JSON text built by PostgreSQL (read.c), copied verbatim.
 *
 * Values by EDM type: Edm.String a JSON string (a JSON property's column is
 * its text), Edm.Int32 the number as selected, Edm.Boolean from 't'/'f',
 * Edm.DateTime "/Date(<ms>)/" from a column holding the milliseconds since
 * the epoch (OData V2 verbose JSON, as SAP Gateway and the SAP Cloud SDK
 * read it). A plain-key type's entities have no etag and no
 * integrationKey; their URIs escape the key with the table behind
 * odata_render_plain_key_sql().
 *
 * A render tree is built by read.c together with its SQL, one node per
 * entity level, and lives as long as the statement. */
#ifndef WEBHOOKD_ODATA_RENDER_H
#define WEBHOOKD_ODATA_RENDER_H

#include <stdbool.h>

#include "model.h"
#include "strbuf.h"

#define ODATA_RENDER_MAX_NODES 64

enum odata_render_nav {
	ODATA_RENDER_DEFERRED,   /* {"__deferred": {"uri": ...}} */
	ODATA_RENDER_ONE,        /* child node, from columns of the same row */
	ODATA_RENDER_JSON,       /* column holding JSON text */
};

struct odata_render_node {
	const struct odata_type *t;
	int col_pk;                          /* NULL here: the entity is null; -1: always present */
	int col_version;                     /* row_version (etag); -1: none */
	int col_key;                         /* the key text (odata_model_key_column) */
	bool show_key;                       /* the synthesized integrationKey */
	int nprops;
	const struct odata_prop *props[32];
	int col_prop[32];
	int nnavs;
	const struct odata_nav *navs[16];
	enum odata_render_nav nav_kind[16];
	int nav_col[16];                     /* JSON */
	struct odata_render_node *nav_child[16];   /* ONE */
};

struct odata_render {
	struct odata_render_node nodes[ODATA_RENDER_MAX_NODES];
	int n;
	int ncols;                            /* columns the SQL selects */
};

/* How to read one row's columns (libpq's PQgetvalue/PQgetisnull). */
struct odata_row {
	const char *(*value)(void *arg, int col);
	bool (*isnull)(void *arg, int col);
	void *arg;
};

struct odata_render_node *odata_render_node_new(struct odata_render *r, const struct odata_type *t);
/* Appends the JSON of the root node (nodes[0]) for one row. */
void odata_render_row(const struct odata_render *r, const struct odata_row *row,
                      const char *base_uri, struct strbuf *out);
/* Appends s as a JSON string. */
void odata_render_json_string(struct strbuf *out, const char *s);
/* Appends SQL text computing, from the SQL text expr of a plain key, the
 * key as written inside Set('...') of an entity URI: the same escaping as
 * the URIs this module writes (nested replace() calls with fixed
 * literals). */
void odata_render_plain_key_sql(struct strbuf *out, const char *expr);

#endif
