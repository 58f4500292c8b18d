/* model — the one description of the entity types of webhookd's OData
 * services.
 *
 * Two services share this machinery: the WebhookService (configuration,
 * read-write) and WebhookMonitoring (events, deliveries, attempts and
 * inbound requests; read-only). Each entity type belongs to exactly one
 * service (odata_type.service); set and type names are looked up within a
 * service, so that one service's $metadata, service document and paths
 * never show another's types.
 *
 * Each entity type lists its properties (OData name, SQL column, EDM type,
 * flags), its navigation properties and its key paths in SAP's order. This
 * table drives everything else: $metadata (metadata.c), key parsing and
 * lookup, $filter/$orderby/$select/$expand resolution and SQL (read.c),
 * deep upserts (write.c) and the JSON the client sees. Adding a property is
 * one row here plus a migration under sql/.
 *
 * Keys come in two kinds:
 *  - the synthesized integrationKey (WebhookService types): the key
 *    attribute values of key_paths, form-URL-encoded and joined with '|'
 *    (key.h), exposed as the extra property integrationKey and stored by
 *    webhookd in the column integration_key;
 *  - a plain key property (ODATA_TYPE_PLAIN_KEY, the monitoring types): the
 *    one key path names a string property of the type itself (e.g. "id"),
 *    which is the OData key as it is — no encoding, no '|' — and is
 *    addressed as Set('v') or Set(id='v'). There is no integrationKey
 *    property (a property of that name is an ordinary one, such as
 *    Event.integrationKey), no integration_key column and no row_version
 *    (no etag). Such types are read-only (ODATA_TYPE_READ_ONLY).
 * odata_model_key_name() and odata_model_key_column() hide the difference.
 *
 * Conventions every table in sql/ follows: surrogate key column `pk`, and
 * the foreign keys of navigations point at it. Tables of WebhookService
 * types also have the etag column `row_version` and a UNIQUE constraint on
 * the columns behind the key paths (a path's first hop: the property's
 * column, or the navigation's foreign-key column); tables of plain-key
 * types a UNIQUE key column. */
#ifndef WEBHOOKD_ODATA_MODEL_H
#define WEBHOOKD_ODATA_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#define ODATA_NAMESPACE  "HybrisCommerceOData"   /* of both services */
#define ODATA_CONTAINER  "Container"
#define ODATA_KEY_NAME   "integrationKey"        /* the synthesized key */
#define ODATA_MAX_KEY_PARTS 4
#define ODATA_MAX_HOPS      3

enum odata_edm {
	ODATA_EDM_STRING,
	ODATA_EDM_BOOLEAN,
	ODATA_EDM_INT32,
	/* A timestamptz column, an instant read as UTC: JSON "/Date(<ms since
	 * the epoch>)/" (OData V2 verbose JSON), $filter with datetime'...'
	 * (taken as UTC) and datetimeoffset'...' literals, $metadata
	 * Type="Edm.DateTime" Precision="3". Read-only types only. */
	ODATA_EDM_DATETIME,
};

/* property flags */
#define ODATA_PROP_WRITE_ONLY 0x01u  /* stored encrypted; never in a response */
#define ODATA_PROP_READ_ONLY  0x02u  /* maintained by the server; ignored on write */
#define ODATA_PROP_NOT_NULL   0x04u  /* JSON null refused (the column has a default) */
#define ODATA_PROP_GENERATED  0x08u  /* WRITE_ONLY secret generated on create when absent,
                                        shown once in that response */
#define ODATA_PROP_JSON       0x10u  /* a jsonb column shown as its JSON text
                                        (Edm.String); read-only types only */

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
 * the last type, or (prop == NULL) the last type's whole integrationKey.
 * A plain-key type has one key path: no hops, its key property. */
struct odata_keypath {
	const struct odata_nav *hops[ODATA_MAX_HOPS];
	int nhops;
	const struct odata_prop *prop;
};

#define ODATA_TYPE_READ_ONLY 0x01u  /* seeded or server-written; every write is 405 */
#define ODATA_TYPE_PLAIN_KEY 0x02u  /* the key is its one key property (see above) */

#define ODATA_SERVICE_READ_ONLY 0x01u  /* every write to the service is 405 */

/* One OData service: its types are the ones whose .service points here. */
struct odata_service {
	const char *name;          /* "WebhookService": the last segment of its root path */
	const char *ns;            /* Schema namespace, prefix of the qualified type names */
	const char *container;     /* EntityContainer name */
	unsigned flags;            /* ODATA_SERVICE_* */
	const struct odata_type *types;  /* its types, in model (= $metadata) order */
	size_t ntypes;
};

extern const struct odata_service odata_webhook_service;      /* WebhookService */
extern const struct odata_service odata_monitoring_service;   /* WebhookMonitoring */

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
	const struct odata_service *service;
	int index;                 /* position in its service's types */
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

/* The service whose root path ends in name ("WebhookService",
 * "WebhookMonitoring"), or NULL. */
const struct odata_service *odata_model_service(const char *name);

/* The types of service s, in model order; s == NULL: every type of every
 * service (WebhookService's first), for tests and fuzzers. */
size_t odata_model_ntypes(const struct odata_service *s);
const struct odata_type *odata_model_type_at(const struct odata_service *s, size_t i);
/* By type name or entity set name within service s (NULL: any service). */
const struct odata_type *odata_model_type(const struct odata_service *s, const char *name);
const struct odata_type *odata_model_set(const struct odata_service *s, const char *set_name);
const struct odata_prop *odata_model_prop(const struct odata_type *t, const char *name);
/* Exposed navigations only (HIDDEN ones are not found). */
const struct odata_nav *odata_model_nav(const struct odata_type *t, const char *name);
/* Hidden ones too. */
const struct odata_nav *odata_model_nav_any(const struct odata_type *t, const char *name);

/* The key: its OData name ("integrationKey", or the plain key property's
 * name, e.g. "id") and the column holding its text ("integration_key", or
 * the key property's column). */
const char *odata_model_key_name(const struct odata_type *t);
const char *odata_model_key_column(const struct odata_type *t);
/* True when name is t's synthesized integrationKey (never for a plain-key
 * type, whose properties are all ordinary ones). */
bool odata_model_is_synth_key(const struct odata_type *t, const char *name);
/* True when t's table has row_version (entities carry an etag). */
bool odata_model_has_etag(const struct odata_type *t);

/* "Edm.String", "Edm.Boolean", "Edm.Int32", "Edm.DateTime" */
const char *odata_model_edm_name(enum odata_edm e);
/* FK_<Type>_<nav> */
int odata_model_assoc_name(char *buf, size_t size, const struct odata_type *t,
                           const struct odata_nav *n);

#endif
