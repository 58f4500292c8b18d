#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define S ODATA_EDM_STRING
#define B ODATA_EDM_BOOLEAN
#define I ODATA_EDM_INT32
#define WO ODATA_PROP_WRITE_ONLY
#define RO ODATA_PROP_READ_ONLY
#define NN ODATA_PROP_NOT_NULL
#define GEN ODATA_PROP_GENERATED

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

#define RESOLVED 0, {{{0}, 0, 0}}, {0}, 0
#define TYPE(name, set, table, props, navs, key, flags) \
	{ name, set, "webhookd." table, props, N(props), navs, N(navs), key, N(key), flags, RESOLVED }
#define LEAF(name, set, table, props, key, flags) \
	{ name, set, "webhookd." table, props, N(props), NULL, 0, key, N(key), flags, RESOLVED }

static struct odata_type types[] = {
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

		n->target = odata_model_type(n->target_name);
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
		if (strcmp(p, ODATA_KEY_NAME) != 0) {
			kp->prop = odata_model_prop(cur, p);
			if (kp->prop == NULL || (kp->prop->flags & (ODATA_PROP_WRITE_ONLY | ODATA_PROP_READ_ONLY)))
				model_bug(t->name, t->key_paths[k]);
		} else if (kp->nhops == 0) {
			model_bug(t->name, "a key cannot contain itself");
		}
		add_unique(t, kp->nhops ? kp->hops[0]->column : kp->prop->column);
	}
}

void
odata_model_init(void)
{
	size_t i;

	for (i = 0; i < N(types); i++)
		types[i].index = (int)i;
	for (i = 0; i < N(types); i++)
		resolve_navs(&types[i]);
	for (i = 0; i < N(types); i++)
		resolve_key(&types[i]);
}

size_t
odata_model_ntypes(void)
{
	return N(types);
}

const struct odata_type *
odata_model_type_at(size_t i)
{
	return i < N(types) ? &types[i] : NULL;
}

const struct odata_type *
odata_model_type(const char *name)
{
	size_t i;

	for (i = 0; i < N(types); i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}

const struct odata_type *
odata_model_set(const char *set_name)
{
	size_t i;

	for (i = 0; i < N(types); i++)
		if (strcmp(types[i].set, set_name) == 0)
			return &types[i];
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
odata_model_edm_name(enum odata_edm e)
{
	switch (e) {
	case ODATA_EDM_BOOLEAN:
		return "Edm.Boolean";
	case ODATA_EDM_INT32:
		return "Edm.Int32";
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
