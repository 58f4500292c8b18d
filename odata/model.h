/* model — the one description of the WebhookService entity types.
 *
 * Each entity type lists its properties (OData name, SQL column, EDM type,
 * flags), its navigation properties and its key paths in SAP's order. This
 * table drives everything else: $metadata (metadata.c), key parsing and
 * lookup, $filter/$orderby/$select/$expand resolution and SQL (read.c),
 * deep upserts (write.c) and the JSON the client sees. Adding a property is
 * one row here plus a migration under sql/.
 *
 * Conventions every table in sql/ follows: surrogate key column `pk`,
 * etag column `row_version`, a UNIQUE constraint on the columns behind the
 * key paths (a path's first hop: the property's column, or the navigation's
 * foreign-key column). */
#ifndef WEBHOOKD_ODATA_MODEL_H
#define WEBHOOKD_ODATA_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#define ODATA_NAMESPACE  "HybrisCommerceOData"
#define ODATA_CONTAINER  "Container"
#define ODATA_KEY_NAME   "integrationKey"
#define ODATA_MAX_KEY_PARTS 4
#define ODATA_MAX_HOPS      3

enum odata_edm {
	ODATA_EDM_STRING,
	ODATA_EDM_BOOLEAN,
	ODATA_EDM_INT32,
};

/* property flags */
#define ODATA_PROP_WRITE_ONLY 0x01u  /* stored encrypted; never in a response */
#define ODATA_PROP_READ_ONLY  0x02u  /* maintained by the server; ignored on write */
#define ODATA_PROP_NOT_NULL   0x04u  /* JSON null refused (the column has a default) */
#define ODATA_PROP_GENERATED  0x08u  /* WRITE_ONLY secret generated on create when absent,
                                        shown once in that response */

struct odata_prop {
	const char *name;          /* OData name, e.g. "eventType" */
	const char *column;        /* SQL column */
	enum odata_edm type;
	unsigned flags;
	const char *dflt;          /* default as text, NULL = none (null) */
	const char *const *values; /* allowed values (NULL-terminated), NULL = any */
	int max_length;            /* for strings, 0 = unlimited */
};

enum odata_mult {
	ODATA_ONE,       /* 1 */
	ODATA_OPTIONAL,  /* 0..1 */
	ODATA_MANY,      /* * */
};

/* navigation flags */
#define ODATA_NAV_LOOKUP 0x01u  /* the referenced entity must exist; a nested
                                   payload only names it, it is never written */
#define ODATA_NAV_HIDDEN 0x02u  /* not exposed (no metadata, JSON or paths):
                                   the owner link of a composition */

struct odata_type;

struct odata_nav {
	const char *name;
	const char *target_name;   /* entity type name */
	enum odata_mult mult;
	/* ONE/OPTIONAL: foreign-key column in this type's table.
	 * MANY: foreign-key column in the target's table pointing back here; the
	 * children are owned (deleted with the parent, replaced when sent). */
	const char *column;
	unsigned flags;
	/* MANY: the target's navigation pointing back (may be a HIDDEN one). */
	const char *inverse_name;
	/* resolved by odata_model_init */
	const struct odata_type *target;
	const struct odata_nav *inverse;
};

/* A key path resolved: hops through to-one navigations, then a property of
 * the last type, or (prop == NULL) the last type's whole integrationKey. */
struct odata_keypath {
	const struct odata_nav *hops[ODATA_MAX_HOPS];
	int nhops;
	const struct odata_prop *prop;
};

#define ODATA_TYPE_READ_ONLY 0x01u  /* seeded; every write is 405 */

struct odata_type {
	const char *name;          /* "WebhookConfiguration" */
	const char *set;           /* "WebhookConfigurations" */
	const char *table;         /* "webhookd.webhook_configuration" */
	const struct odata_prop *props;
	size_t nprops;
	const struct odata_nav *navs;
	size_t nnavs;
	const char *const *key_paths;  /* "destination/id", ..., SAP order */
	size_t nkeys;
	unsigned flags;
	/* resolved by odata_model_init */
	int index;
	struct odata_keypath key[ODATA_MAX_KEY_PARTS];
	/* the distinct first-hop columns of the key paths = the UNIQUE
	 * constraint used for upserts */
	const char *unique_cols[ODATA_MAX_KEY_PARTS];
	size_t nunique;
};

/* Resolve names into pointers and check the table; aborts with a message on
 * an inconsistency (a programming error). Idempotent, not thread-safe: call
 * once at start-up. Tests may call it repeatedly. */
void odata_model_init(void);

size_t odata_model_ntypes(void);
const struct odata_type *odata_model_type_at(size_t i);
const struct odata_type *odata_model_type(const char *name);
const struct odata_type *odata_model_set(const char *set_name);
const struct odata_prop *odata_model_prop(const struct odata_type *t, const char *name);
/* Exposed navigations only (HIDDEN ones are not found). */
const struct odata_nav *odata_model_nav(const struct odata_type *t, const char *name);
/* Hidden ones too. */
const struct odata_nav *odata_model_nav_any(const struct odata_type *t, const char *name);

/* "Edm.String", "Edm.Boolean", "Edm.Int32" */
const char *odata_model_edm_name(enum odata_edm e);
/* FK_<Type>_<nav> */
int odata_model_assoc_name(char *buf, size_t size, const struct odata_type *t,
                           const struct odata_nav *n);

#endif
