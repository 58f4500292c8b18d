#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define S ODATA_EDM_STRING
#define B ODATA_EDM_BOOLEAN
#define I ODATA_EDM_INT32
#define DT ODATA_EDM_DATETIME
#define WO ODATA_PROP_WRITE_ONLY
#define RO ODATA_PROP_READ_ONLY
#define NN ODATA_PROP_NOT_NULL
#define GEN ODATA_PROP_GENERATED
#define JSON ODATA_PROP_JSON

#define ID_LEN   255
#define URL_LEN  2048
#define TEXT_LEN 4096

static const char *const signing_algorithms[] = { "HMAC_SHA256", "NONE", NULL };

/* ---- WebhookConfiguration ---- */
static const struct odata_prop webhook_configuration_props[] = {
	{ "eventType", "event_type", S, NN,
	  "de.hybris.platform.webhookservices.event.ItemSavedEvent", NULL, ID_LEN },
	{ "filterLocation", "filter_location", S, 0, NULL, NULL, ID_LEN },
};
static struct odata_nav webhook_configuration_navs[] = {
	{ "destination", "ConsumedDestination", ODATA_ONE, "consumed_destination_pk", 0, NULL, NULL, NULL },
	{ "integrationObject", "IntegrationObject", ODATA_ONE, "integration_object_pk",
	  ODATA_NAV_LOOKUP, NULL, NULL, NULL },
};
static const char *const webhook_configuration_key[] = {
	"destination/id", "destination/destinationTarget/id", "integrationObject/code", "eventType",
};

/* ---- ConsumedDestination ---- */
static const struct odata_prop consumed_destination_props[] = {
	{ "id", "id", S, 0, NULL, NULL, ID_LEN },
	{ "url", "url", S, 0, NULL, NULL, URL_LEN },
	{ "active", "active", B, NN, "true", NULL, 0 },
	{ "signingAlgorithm", "signing_algorithm", S, NN, "HMAC_SHA256", signing_algorithms, 32 },
	{ "signingSecret", "signing_secret", S, WO | GEN, NULL, NULL, 1024 },
	{ "ignoreErrors", "ignore_errors", B, NN, "false", NULL, 0 },
	{ "maxInFlight", "max_in_flight", I, NN, "8", NULL, 0 },
	{ "timeoutMillis", "timeout_millis", I, NN, "15000", NULL, 0 },
	{ "deactivatedReason", "deactivated_reason", S, RO, NULL, NULL, TEXT_LEN },
};
static struct odata_nav consumed_destination_navs[] = {
	{ "destinationTarget", "DestinationTarget", ODATA_ONE, "destination_target_pk", 0, NULL, NULL, NULL },
	{ "endpoint", "Endpoint", ODATA_OPTIONAL, "endpoint_pk", 0, NULL, NULL, NULL },
	{ "credentialBasic", "BasicCredential", ODATA_OPTIONAL, "credential_basic_pk", 0, NULL, NULL, NULL },
	{ "credentialConsumedOAuth", "ConsumedOAuthCredential", ODATA_OPTIONAL,
	  "credential_consumed_oauth_pk", 0, NULL, NULL, NULL },
	{ "additionalProperties", "String2StringMapType", ODATA_MANY, "owner_pk", 0, "owner", NULL, NULL },
};
static const char *const consumed_destination_key[] = { "id", "destinationTarget/id" };

/* ---- DestinationTarget ---- */
static const struct odata_prop destination_target_props[] = {
	{ "id", "id", S, 0, NULL, NULL, ID_LEN },
};
static struct odata_nav destination_target_navs[] = {
	{ "destinationChannel", "DestinationChannel", ODATA_ONE, "destination_channel_pk",
	  ODATA_NAV_LOOKUP, NULL, NULL, NULL },
	{ "eventConfigurations", "EventConfiguration", ODATA_MANY, "destination_target_pk", 0,
	  "destinationTarget", NULL, NULL },
};
static const char *const destination_target_key[] = { "id" };

/* ---- DestinationChannel (seeded, read-only) ---- */
static const struct odata_prop destination_channel_props[] = {
	{ "code", "code", S, 0, NULL, NULL, ID_LEN },
};
static const char *const code_key[] = { "code" };

/* ---- EventConfiguration ---- */
static const struct odata_prop event_configuration_props[] = {
	{ "eventClass", "event_class", S, 0, NULL, NULL, ID_LEN },
	{ "exportName", "export_name", S, 0, NULL, NULL, ID_LEN },
	{ "version", "version", I, NN, "1", NULL, 0 },
	{ "description", "description", S, 0, NULL, NULL, TEXT_LEN },
};
static struct odata_nav event_configuration_navs[] = {
	{ "destinationTarget", "DestinationTarget", ODATA_ONE, "destination_target_pk", 0, NULL, NULL, NULL },
};
static const char *const event_configuration_key[] = {
	"destinationTarget/id", "eventClass", "version",
};

/* ---- Endpoint ---- */
static const struct odata_prop endpoint_props[] = {
	{ "id", "id", S, 0, NULL, NULL, ID_LEN },
	{ "version", "version", S, 0, NULL, NULL, ID_LEN },
	{ "name", "name", S, 0, NULL, NULL, ID_LEN },
	{ "specUrl", "spec_url", S, 0, NULL, NULL, URL_LEN },
};
static const char *const endpoint_key[] = { "id", "version" };

/* ---- BasicCredential ---- */
static const struct odata_prop basic_credential_props[] = {
	{ "id", "id", S, 0, NULL, NULL, ID_LEN },
	{ "username", "username", S, 0, NULL, NULL, ID_LEN },
	{ "password", "password", S, WO, NULL, NULL, 1024 },
};
static const char *const id_key[] = { "id" };

/* ---- ConsumedOAuthCredential ---- */
static const struct odata_prop consumed_oauth_credential_props[] = {
	{ "id", "id", S, 0, NULL, NULL, ID_LEN },
	{ "clientId", "client_id", S, 0, NULL, NULL, ID_LEN },
	{ "clientSecret", "client_secret", S, WO, NULL, NULL, 1024 },
	{ "oAuthUrl", "oauth_url", S, 0, NULL, NULL, URL_LEN },
	{ "scope", "scope", S, 0, NULL, NULL, TEXT_LEN },
};

/* ---- IntegrationObject ---- */
static const struct odata_prop integration_object_props[] = {
	{ "code", "code", S, 0, NULL, NULL, ID_LEN },
	{ "description", "description", S, 0, NULL, NULL, TEXT_LEN },
};

/* ---- WebhookFilter ---- */
static const struct odata_prop webhook_filter_props[] = {
	{ "code", "code", S, 0, NULL, NULL, ID_LEN },
	{ "expression", "expression", S, 0, NULL, NULL, 8192 },
};

/* ---- String2StringMapType (ConsumedDestination.additionalProperties) ---- */
static const struct odata_prop string2string_props[] = {
	{ "key", "key", S, 0, NULL, NULL, ID_LEN },
	{ "value", "value", S, 0, NULL, NULL, TEXT_LEN },
};
static struct odata_nav string2string_navs[] = {
	{ "owner", "ConsumedDestination", ODATA_ONE, "owner_pk", ODATA_NAV_HIDDEN, NULL, NULL, NULL },
};
static const char *const string2string_key[] = { "owner/integrationKey", "key" };

/* ---- InboundSource (sql/0005_inbound.sql; POST /inbound/{code}, service/inbound.c).
 * action, verification and encoding are checked by the table's trigger (the
 * messages list the allowed values); secret is the API key, "user:password",
 * the HMAC key, the whsec_ secret or the PEM public key, by verification. ---- */
static const struct odata_prop inbound_source_props[] = {
	{ "code", "code", S, 0, NULL, NULL, ID_LEN },
	{ "action", "action", S, 0, NULL, NULL, 32 },
	{ "verification", "verification", S, 0, NULL, NULL, 32 },
	{ "secret", "secret", S, WO, NULL, NULL, 8192 },
	{ "headerName", "header_name", S, 0, NULL, NULL, 128 },
	{ "encoding", "encoding", S, NN, "hex", NULL, 16 },
	{ "idPath", "id_path", S, 0, NULL, NULL, ID_LEN },
	{ "active", "active", B, NN, "true", NULL, 0 },
};
static struct odata_nav inbound_source_navs[] = {
	{ "integrationObject", "IntegrationObject", ODATA_ONE, "integration_object_pk",
	  ODATA_NAV_LOOKUP, NULL, NULL, NULL },
};

/* ---- WebhookMonitoring (sql/0003_dispatch.sql; rows written by the
 * dispatcher and the receivers, never through OData) ---- */
static const char *const event_actions[] = { "created", "updated", "deleted", NULL };
static const char *const delivery_statuses[] = {
	"PENDING", "IN_FLIGHT", "DELIVERED", "FAILED", "DISCARDED", NULL,
};

/* ---- Event ---- */
static const struct odata_prop event_props[] = {
	{ "id", "id", S, NN, NULL, NULL, ID_LEN },
	{ "integrationObject", "integration_object", S, NN, NULL, NULL, ID_LEN },
	{ "action", "action", S, NN, NULL, event_actions, 0 },
	{ "integrationKey", "subject_key", S, 0, NULL, NULL, 0 },   /* the event's subject */
	{ "occurredAt", "occurred_at", DT, NN, NULL, NULL, 0 },
	{ "receivedAt", "received_at", DT, NN, NULL, NULL, 0 },
	{ "source", "source", S, NN, NULL, NULL, 0 },
	{ "payload", "payload", S, NN | JSON, NULL, NULL, 0 },
};
static struct odata_nav event_navs[] = {
	{ "deliveries", "Delivery", ODATA_MANY, "event_pk", 0, "event", NULL, NULL },
};

/* ---- Delivery ---- */
static const struct odata_prop delivery_props[] = {
	{ "id", "id", S, NN, NULL, NULL, ID_LEN },
	{ "status", "status", S, NN, NULL, delivery_statuses, 0 },
	{ "destinationKey", "destination_key", S, NN, NULL, NULL, 0 },
	{ "attempts", "attempts", I, NN, NULL, NULL, 0 },
	{ "nextAttemptAt", "next_attempt_at", DT, 0, NULL, NULL, 0 },   /* null: PULL */
	{ "lastStatusCode", "last_status_code", I, 0, NULL, NULL, 0 },
	{ "createdAt", "created_at", DT, NN, NULL, NULL, 0 },
	{ "deliveredAt", "delivered_at", DT, 0, NULL, NULL, 0 },
};
static struct odata_nav delivery_navs[] = {
	{ "event", "Event", ODATA_ONE, "event_pk", 0, NULL, NULL, NULL },
	{ "deliveryAttempts", "DeliveryAttempt", ODATA_MANY, "delivery_pk", 0, "delivery", NULL, NULL },
};

/* ---- DeliveryAttempt ---- */
static const struct odata_prop delivery_attempt_props[] = {
	{ "id", "id", S, NN, NULL, NULL, ID_LEN },
	{ "attemptNo", "attempt_no", I, NN, NULL, NULL, 0 },
	{ "startedAt", "started_at", DT, NN, NULL, NULL, 0 },
	{ "durationMs", "duration_ms", I, NN, NULL, NULL, 0 },
	{ "statusCode", "status_code", I, 0, NULL, NULL, 0 },
	{ "error", "error", S, 0, NULL, NULL, 0 },
	{ "responseExcerpt", "response_excerpt", S, 0, NULL, NULL, 0 },
};
static struct odata_nav delivery_attempt_navs[] = {
	{ "delivery", "Delivery", ODATA_ONE, "delivery_pk", 0, NULL, NULL, NULL },
};

/* ---- InboundRequest ---- */
static const struct odata_prop inbound_request_props[] = {
	{ "id", "id", S, NN, NULL, NULL, ID_LEN },
	{ "source", "source", S, NN, NULL, NULL, 0 },
	{ "receivedAt", "received_at", DT, NN, NULL, NULL, 0 },
	{ "verified", "verified", B, NN, NULL, NULL, 0 },
	{ "senderId", "sender_id", S, 0, NULL, NULL, 0 },
	{ "duplicate", "duplicate", B, NN, NULL, NULL, 0 },
	{ "status", "status", I, NN, NULL, NULL, 0 },
	{ "integrationMessageId", "integration_message_id", S, 0, NULL, NULL, 0 },
	{ "path", "path", S, NN, NULL, NULL, 0 },
};
static struct odata_nav inbound_request_navs[] = {
	{ "event", "Event", ODATA_OPTIONAL, "event_pk", 0, NULL, NULL, NULL },
};

#define RESOLVED NULL, 0, {{{0}, 0, 0}}, {0}, 0
#define TYPE(name, set, table, props, navs, key, flags) \
	{ name, set, "webhookd." table, props, N(props), navs, N(navs), key, N(key), flags, RESOLVED }
#define LEAF(name, set, table, props, key, flags) \
	{ name, set, "webhookd." table, props, N(props), NULL, 0, key, N(key), flags, RESOLVED }
/* A monitoring type: read-only, keyed by its own "id" property. */
#define MONITORED(name, set, table, props, navs) \
	TYPE(name, set, table, props, navs, id_key, ODATA_TYPE_READ_ONLY | ODATA_TYPE_PLAIN_KEY)

static struct odata_type webhook_types[] = {
	TYPE("WebhookConfiguration", "WebhookConfigurations", "webhook_configuration",
	     webhook_configuration_props, webhook_configuration_navs, webhook_configuration_key, 0),
	TYPE("ConsumedDestination", "ConsumedDestinations", "consumed_destination",
	     consumed_destination_props, consumed_destination_navs, consumed_destination_key, 0),
	TYPE("DestinationTarget", "DestinationTargets", "destination_target",
	     destination_target_props, destination_target_navs, destination_target_key, 0),
	LEAF("DestinationChannel", "DestinationChannels", "destination_channel",
	     destination_channel_props, code_key, ODATA_TYPE_READ_ONLY),
	TYPE("EventConfiguration", "EventConfigurations", "event_configuration",
	     event_configuration_props, event_configuration_navs, event_configuration_key, 0),
	LEAF("Endpoint", "Endpoints", "endpoint", endpoint_props, endpoint_key, 0),
	LEAF("BasicCredential", "BasicCredentials", "basic_credential", basic_credential_props, id_key, 0),
	LEAF("ConsumedOAuthCredential", "ConsumedOAuthCredentials", "consumed_oauth_credential",
	     consumed_oauth_credential_props, id_key, 0),
	LEAF("IntegrationObject", "IntegrationObjects", "integration_object",
	     integration_object_props, code_key, 0),
	LEAF("WebhookFilter", "WebhookFilters", "webhook_filter", webhook_filter_props, code_key, 0),
	TYPE("String2StringMapType", "String2StringMapTypes", "string2string_map",
	     string2string_props, string2string_navs, string2string_key, 0),
	TYPE("InboundSource", "InboundSources", "inbound_source",
	     inbound_source_props, inbound_source_navs, code_key, 0),
};

static struct odata_type monitoring_types[] = {
	MONITORED("Event", "Events", "event", event_props, event_navs),
	MONITORED("Delivery", "Deliveries", "delivery", delivery_props, delivery_navs),
	MONITORED("DeliveryAttempt", "DeliveryAttempts", "delivery_attempt",
	     delivery_attempt_props, delivery_attempt_navs),
	MONITORED("InboundRequest", "InboundRequests", "inbound_request",
	     inbound_request_props, inbound_request_navs),
};

const struct odata_service odata_webhook_service = {
	"WebhookService", ODATA_NAMESPACE, ODATA_CONTAINER, 0, webhook_types, N(webhook_types),
};
const struct odata_service odata_monitoring_service = {
	"WebhookMonitoring", ODATA_NAMESPACE, ODATA_CONTAINER, ODATA_SERVICE_READ_ONLY,
	monitoring_types, N(monitoring_types),
};

static const struct odata_service *const services[] = {
	&odata_webhook_service, &odata_monitoring_service,
};

static _Noreturn void
model_bug(const char *type, const char *what)
{
	fprintf(stderr, "webhookd: entity model: %s: %s\n", type, what);
	abort();
}

static void
resolve_navs(struct odata_type *t)
{
	size_t i;

	for (i = 0; i < t->nnavs; i++) {
		struct odata_nav *n = (struct odata_nav *)&t->navs[i];

		/* navigations stay within one service */
		n->target = odata_model_type(t->service, n->target_name);
		if (n->target == NULL)
			model_bug(t->name, n->name);
	}
	for (i = 0; i < t->nnavs; i++) {
		struct odata_nav *n = (struct odata_nav *)&t->navs[i];

		if (n->inverse_name == NULL)
			continue;
		n->inverse = odata_model_nav_any(n->target, n->inverse_name);
		if (n->inverse == NULL || n->inverse->mult == ODATA_MANY ||
		    strcmp(n->inverse->column, n->column) != 0)
			model_bug(t->name, n->inverse_name);
	}
}

static void
add_unique(struct odata_type *t, const char *col)
{
	size_t i;

	for (i = 0; i < t->nunique; i++)
		if (strcmp(t->unique_cols[i], col) == 0)
			return;
	t->unique_cols[t->nunique++] = col;
}

static void
resolve_key(struct odata_type *t)
{
	size_t k;

	if (t->nkeys == 0 || t->nkeys > ODATA_MAX_KEY_PARTS)
		model_bug(t->name, "key arity");
	t->nunique = 0;
	for (k = 0; k < t->nkeys; k++) {
		struct odata_keypath *kp = &t->key[k];
		const struct odata_type *cur = t;
		char seg[64];
		const char *p = t->key_paths[k], *slash;

		kp->nhops = 0;
		kp->prop = NULL;
		while ((slash = strchr(p, '/')) != NULL) {
			const struct odata_nav *n;

			if ((size_t)(slash - p) >= sizeof(seg) || kp->nhops == ODATA_MAX_HOPS)
				model_bug(t->name, t->key_paths[k]);
			memcpy(seg, p, (size_t)(slash - p));
			seg[slash - p] = '\0';
			n = odata_model_nav_any(cur, seg);
			if (n == NULL || n->mult == ODATA_MANY)
				model_bug(t->name, t->key_paths[k]);
			kp->hops[kp->nhops++] = n;
			cur = n->target;
			p = slash + 1;
		}
		if (!odata_model_is_synth_key(cur, p)) {
			kp->prop = odata_model_prop(cur, p);
			if (kp->prop == NULL || (kp->prop->flags & (ODATA_PROP_WRITE_ONLY | ODATA_PROP_READ_ONLY)))
				model_bug(t->name, t->key_paths[k]);
		} else if (kp->nhops == 0) {
			model_bug(t->name, "a key cannot contain itself");
		}
		add_unique(t, kp->nhops ? kp->hops[0]->column : kp->prop->column);
	}
}

/* What the read and write paths rely on: plain keys are one string property
 * of the type; what writes cannot handle only appears in read-only types;
 * a read-only service has only read-only types. */
static void
check_type(const struct odata_type *t)
{
	bool ro = (t->flags & ODATA_TYPE_READ_ONLY) != 0;
	size_t i;

	if ((t->service->flags & ODATA_SERVICE_READ_ONLY) && !ro)
		model_bug(t->name, "a read-only service has only read-only types");
	if (t->flags & ODATA_TYPE_PLAIN_KEY) {
		if (!ro || t->nkeys != 1 || t->key[0].nhops != 0 || t->key[0].prop == NULL ||
		    t->key[0].prop->type != ODATA_EDM_STRING ||
		    (t->key[0].prop->flags & ODATA_PROP_JSON))
			model_bug(t->name, "a plain key is one string property of a read-only type");
	}
	for (i = 0; i < t->nprops; i++) {
		const struct odata_prop *p = &t->props[i];

		if (!ro && (p->type == ODATA_EDM_DATETIME || (p->flags & ODATA_PROP_JSON)))
			model_bug(t->name, p->name);
		if ((p->flags & ODATA_PROP_JSON) && p->type != ODATA_EDM_STRING)
			model_bug(t->name, p->name);
	}
}

void
odata_model_init(void)
{
	size_t s, i;

	for (s = 0; s < N(services); s++) {
		struct odata_type *ts = (struct odata_type *)services[s]->types;

		for (i = 0; i < services[s]->ntypes; i++) {
			ts[i].service = services[s];
			ts[i].index = (int)i;
		}
	}
	for (s = 0; s < N(services); s++)
		for (i = 0; i < services[s]->ntypes; i++)
			resolve_navs((struct odata_type *)&services[s]->types[i]);
	for (s = 0; s < N(services); s++)
		for (i = 0; i < services[s]->ntypes; i++)
			resolve_key((struct odata_type *)&services[s]->types[i]);
	for (s = 0; s < N(services); s++)
		for (i = 0; i < services[s]->ntypes; i++)
			check_type(&services[s]->types[i]);
}

const struct odata_service *
odata_model_service(const char *name)
{
	size_t s;

	for (s = 0; name != NULL && s < N(services); s++)
		if (strcmp(services[s]->name, name) == 0)
			return services[s];
	return NULL;
}

size_t
odata_model_ntypes(const struct odata_service *svc)
{
	size_t s, n = 0;

	if (svc != NULL)
		return svc->ntypes;
	for (s = 0; s < N(services); s++)
		n += services[s]->ntypes;
	return n;
}

const struct odata_type *
odata_model_type_at(const struct odata_service *svc, size_t i)
{
	size_t s;

	if (svc != NULL)
		return i < svc->ntypes ? &svc->types[i] : NULL;
	for (s = 0; s < N(services); s++) {
		if (i < services[s]->ntypes)
			return &services[s]->types[i];
		i -= services[s]->ntypes;
	}
	return NULL;
}

const struct odata_type *
odata_model_type(const struct odata_service *svc, const char *name)
{
	size_t i, n = odata_model_ntypes(svc);

	for (i = 0; i < n; i++)
		if (strcmp(odata_model_type_at(svc, i)->name, name) == 0)
			return odata_model_type_at(svc, i);
	return NULL;
}

const struct odata_type *
odata_model_set(const struct odata_service *svc, const char *set_name)
{
	size_t i, n = odata_model_ntypes(svc);

	for (i = 0; i < n; i++)
		if (strcmp(odata_model_type_at(svc, i)->set, set_name) == 0)
			return odata_model_type_at(svc, i);
	return NULL;
}

const struct odata_prop *
odata_model_prop(const struct odata_type *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nprops; i++)
		if (strcmp(t->props[i].name, name) == 0)
			return &t->props[i];
	return NULL;
}

const struct odata_nav *
odata_model_nav_any(const struct odata_type *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nnavs; i++)
		if (strcmp(t->navs[i].name, name) == 0)
			return &t->navs[i];
	return NULL;
}

const struct odata_nav *
odata_model_nav(const struct odata_type *t, const char *name)
{
	const struct odata_nav *n = odata_model_nav_any(t, name);

	return n && !(n->flags & ODATA_NAV_HIDDEN) ? n : NULL;
}

const char *
odata_model_key_name(const struct odata_type *t)
{
	return (t->flags & ODATA_TYPE_PLAIN_KEY) ? t->key[0].prop->name : ODATA_KEY_NAME;
}

const char *
odata_model_key_column(const struct odata_type *t)
{
	return (t->flags & ODATA_TYPE_PLAIN_KEY) ? t->key[0].prop->column : "integration_key";
}

bool
odata_model_is_synth_key(const struct odata_type *t, const char *name)
{
	return !(t->flags & ODATA_TYPE_PLAIN_KEY) && strcmp(name, ODATA_KEY_NAME) == 0;
}

bool
odata_model_has_etag(const struct odata_type *t)
{
	return !(t->flags & ODATA_TYPE_PLAIN_KEY);
}

const char *
odata_model_edm_name(enum odata_edm e)
{
	switch (e) {
	case ODATA_EDM_BOOLEAN:
		return "Edm.Boolean";
	case ODATA_EDM_INT32:
		return "Edm.Int32";
	case ODATA_EDM_DATETIME:
		return "Edm.DateTime";
	case ODATA_EDM_STRING:
		break;
	}
	return "Edm.String";
}

int
odata_model_assoc_name(char *buf, size_t size, const struct odata_type *t,
    const struct odata_nav *n)
{
	/* snprintf(NULL, 0, ...) measures, as C11 allows */
	// cppcheck-suppress ctunullpointer
	return snprintf(buf, size, "FK_%s_%s", t->name, n->name);
}
