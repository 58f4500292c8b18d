/* odata_metadata_*: the EDMX document of each service (WebhookService,
 * WebhookMonitoring), checked against the model table (every type of that
 * service and none of the other's, property, exposed navigation,
 * association and set; hidden navigations absent) after a small
 * namespace-aware XML reader below has accepted it as well-formed. The reader is itself tested on bad input, so
 * a pass means something; tests/e2e/test_metadata.py adds xmllint and
 * Python's parser on the real binary's output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metadata.h"
#include "model.h"
#include "strbuf.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a tiny XML reader ------------------------------------------------ */

#define MAX_ELEMS 512
#define MAX_ATTRS 16
#define MAX_NAME  64
#define MAX_VALUE 512

struct xattr {
	char name[MAX_NAME];
	char value[MAX_VALUE];
};

struct xelem {
	char name[MAX_NAME];        /* as written, with its prefix */
	const char *local;          /* after the prefix */
	const char *ns;             /* the namespace URI, "" for none */
	int parent;                 /* -1 for the root */
	size_t nattrs;
	struct xattr attrs[MAX_ATTRS];
};

struct xdoc {
	struct xelem e[MAX_ELEMS];
	int n;
	char err[256];
};

static int
xfail(struct xdoc *d, const char *p, const char *start, const char *what)
{
	snprintf(d->err, sizeof(d->err), "offset %td: %s", p - start, what);
	return -1;
}

static bool
name_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' ||
	    (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

static const char *
read_name(const char *p, char *out)
{
	size_t n = 0;

	if (!name_char(*p, true))
		return NULL;
	while (name_char(p[n], n == 0)) {
		if (n + 1 >= MAX_NAME)
			return NULL;
		out[n] = p[n];
		n++;
	}
	out[n] = '\0';
	return p + n;
}

/* The attribute value up to quote q, entities decoded; NULL when bad. */
static const char *
read_value(const char *p, char q, char *out)
{
	size_t n = 0;

	for (; *p != q; p++) {
		char c = *p;

		if (c == '\0' || c == '<')
			return NULL;
		if (c == '&') {
			static const struct { const char *ent; char c; } ents[] = {
				{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
				{ "&quot;", '"' }, { "&apos;", '\'' },
			};
			size_t i;

			for (i = 0; i < NELEM(ents); i++)
				if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
					break;
			if (i < NELEM(ents)) {
				c = ents[i].c;
				p += strlen(ents[i].ent) - 1;
			} else if (p[1] == '#') {
				char *end;
				long v = strtol(p + 2, &end, 10);

				if (end == p + 2 || *end != ';' || v < 1 || v > 127)
					return NULL;
				c = (char)v;
				p = end;
			} else {
				return NULL;
			}
		}
		if (n + 1 >= MAX_VALUE)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return p + 1;
}

static const char *
xattr_get(const struct xelem *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->nattrs; i++)
		if (strcmp(e->attrs[i].name, name) == 0)
			return e->attrs[i].value;
	return NULL;
}

/* The URI bound to prefix (NULL/"" = the default namespace) at element i. */
static const char *
lookup_ns(const struct xdoc *d, int i, const char *prefix, size_t plen)
{
	char decl[MAX_NAME + 8];

	if (plen == 0)
		snprintf(decl, sizeof(decl), "xmlns");
	else
		snprintf(decl, sizeof(decl), "xmlns:%.*s", (int)plen, prefix);
	for (; i >= 0; i = d->e[i].parent) {
		const char *v = xattr_get(&d->e[i], decl);

		if (v != NULL)
			return v;
	}
	return plen == 0 ? "" : NULL;
}

/* Resolves the element's and its attributes' prefixes; every one must be
 * declared on the element or an ancestor. */
static int
resolve_names(struct xdoc *d, int i)
{
	struct xelem *e = &d->e[i];
	const char *colon = strchr(e->name, ':');
	size_t k;

	e->local = colon ? colon + 1 : e->name;
	e->ns = lookup_ns(d, i, e->name, colon ? (size_t)(colon - e->name) : 0);
	if (e->ns == NULL) {
		snprintf(d->err, sizeof(d->err), "undeclared prefix on element %s", e->name);
		return -1;
	}
	for (k = 0; k < e->nattrs; k++) {
		const char *an = e->attrs[k].name;

		colon = strchr(an, ':');
		if (colon == NULL || strncmp(an, "xmlns:", 6) == 0)
			continue;
		if (lookup_ns(d, i, an, (size_t)(colon - an)) == NULL) {
			snprintf(d->err, sizeof(d->err), "undeclared prefix on attribute %s of %s",
			    an, e->name);
			return -1;
		}
	}
	return 0;
}

/* Parses the subset of XML the generator writes: one XML declaration,
 * elements with quoted attributes, whitespace between tags, no text, no
 * comments. Checks nesting, unique attribute names and namespace
 * prefixes. 0 or -1 with d->err. */
static int
xml_parse(struct xdoc *d, const char *text)
{
	const char *p = text;
	int stack[64], depth = 0;
	bool root_done = false;

	memset(d, 0, sizeof(*d));
	if (strncmp(p, "<?xml ", 6) == 0) {
		p = strstr(p, "?>");
		if (p == NULL)
			return xfail(d, text, text, "unterminated XML declaration");
		p += 2;
	}
	for (;;) {
		while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0')
			break;
		if (*p != '<')
			return xfail(d, p, text, "text outside a tag");
		p++;
		if (*p == '/') {
			char name[MAX_NAME];

			p = read_name(p + 1, name);
			if (p == NULL || *p != '>')
				return xfail(d, p ? p : text, text, "bad end tag");
			p++;
			if (depth == 0 || strcmp(d->e[stack[depth - 1]].name, name) != 0)
				return xfail(d, p, text, "end tag does not match the open element");
			depth--;
			if (depth == 0)
				root_done = true;
			continue;
		}
		if (root_done)
			return xfail(d, p, text, "a second root element");
		if (d->n == MAX_ELEMS || depth == (int)NELEM(stack))
			return xfail(d, p, text, "too many elements");
		{
			struct xelem *e = &d->e[d->n];
			int self = d->n++;

			e->parent = depth ? stack[depth - 1] : -1;
			p = read_name(p, e->name);
			if (p == NULL)
				return xfail(d, text, text, "bad element name");
			for (;;) {
				struct xattr *a;
				const char *ws = p;
				size_t k;

				while (*p == ' ' || *p == '\n' || *p == '\t')
					p++;
				if (*p == '/' || *p == '>')
					break;
				if (p == ws)
					return xfail(d, p, text, "no blank before an attribute");
				if (e->nattrs == MAX_ATTRS)
					return xfail(d, p, text, "too many attributes");
				a = &e->attrs[e->nattrs];
				p = read_name(p, a->name);
				if (p == NULL || *p != '=' || (p[1] != '"' && p[1] != '\''))
					return xfail(d, p ? p : text, text, "bad attribute");
				p = read_value(p + 2, p[1], a->value);
				if (p == NULL)
					return xfail(d, text, text, "bad attribute value");
				for (k = 0; k < e->nattrs; k++)
					if (strcmp(e->attrs[k].name, a->name) == 0)
						return xfail(d, p, text, "duplicate attribute");
				e->nattrs++;
			}
			if (resolve_names(d, self) < 0)
				return -1;
			if (*p == '/') {
				if (p[1] != '>')
					return xfail(d, p, text, "bad empty-element tag");
				p += 2;
				if (depth == 0)
					root_done = true;
			} else {
				p++;
				stack[depth++] = self;
			}
		}
	}
	if (depth != 0)
		return xfail(d, p, text, "unclosed element");
	if (!root_done)
		return xfail(d, p, text, "no root element");
	return 0;
}

/* ---- queries ---------------------------------------------------------- */

static bool
is(const struct xelem *e, const char *ns, const char *local)
{
	return strcmp(e->ns, ns) == 0 && strcmp(e->local, local) == 0;
}

/* The n-th (from 0) child of parent with that name and, when attr is not
 * NULL, attr == value; -1 if none. */
static int
child(const struct xdoc *d, int parent, const char *local, const char *attr,
    const char *value, int nth)
{
	int i;

	for (i = 0; i < d->n; i++) {
		const char *v;

		if (d->e[i].parent != parent || !is(&d->e[i], ODATA_XMLNS_EDM, local))
			continue;
		if (attr != NULL && ((v = xattr_get(&d->e[i], attr)) == NULL || strcmp(v, value) != 0))
			continue;
		if (nth-- == 0)
			return i;
	}
	return -1;
}

static int
count_children(const struct xdoc *d, int parent, const char *local, const char *attr,
    const char *value)
{
	int n = 0;

	while (child(d, parent, local, attr, value, n) >= 0)
		n++;
	return n;
}

static const char *
must_attr(const struct xdoc *d, int i, const char *name)
{
	const char *v;

	assert_true(i >= 0 && i < d->n);
	v = xattr_get(&d->e[i], name);
	if (v == NULL)
		fail_msg("<%s> has no %s", d->e[i].name, name);
	return v;
}

static void
assert_attr(const struct xdoc *d, int i, const char *name, const char *want)
{
	const char *v = must_attr(d, i, name);

	if (strcmp(v, want) != 0)
		fail_msg("<%s> %s=\"%s\", want \"%s\"", d->e[i].name, name, v, want);
}

static void
assert_no_attr(const struct xdoc *d, int i, const char *name)
{
	if (xattr_get(&d->e[i], name) != NULL)
		fail_msg("<%s Name=\"%s\"> has %s", d->e[i].name,
		    xattr_get(&d->e[i], "Name") ? xattr_get(&d->e[i], "Name") : "", name);
}

static char *
qualified(const char *name)
{
	static char buf[512];
	int len = snprintf(buf, sizeof(buf), "%s.%s", ODATA_NAMESPACE, name);

	assert_true(len > 0 && (size_t)len < sizeof(buf));
	return buf;
}

static char *
assoc_name(const struct odata_type *t, const struct odata_nav *n)
{
	static char buf[256];
	int len = odata_model_assoc_name(buf, sizeof(buf), t, n);

	assert_true(len > 0 && (size_t)len < sizeof(buf));
	return buf;
}

/* ---- the document ----------------------------------------------------- */

static const struct odata_service *const services[] = {
	&odata_webhook_service, &odata_monitoring_service,
};

/* The document of svc, parsed (the tests below run once per service). */
static const struct odata_service *svc;
static char *edmx;
static struct xdoc doc;
static int schema = -1, container = -1;

static void
load(const struct odata_service *s)
{
	free(edmx);
	svc = s;
	edmx = odata_metadata_service_edmx(s);
	assert_non_null(edmx);
	if (xml_parse(&doc, edmx) < 0)
		fail_msg("EDMX of %s not well-formed: %s", s->name, doc.err);
	schema = child(&doc, 1, "Schema", NULL, NULL, 0);
	container = child(&doc, schema, "EntityContainer", NULL, NULL, 0);
}

#define EACH_SERVICE(check) \
	static void \
	check##_all(void **state) \
	{ \
		size_t si; \
		(void)state; \
		for (si = 0; si < NELEM(services); si++) { \
			load(services[si]); \
			check(); \
		} \
	}

static int
setup(void **state)
{
	(void)state;
	odata_model_init();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(edmx);
	edmx = NULL;
	return 0;
}

static void
test_envelope(void)
{
	assert_memory_equal(edmx, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n", 39);
	assert_true(is(&doc.e[0], ODATA_XMLNS_EDMX, "Edmx"));
	assert_int_equal(doc.e[0].parent, -1);
	assert_attr(&doc, 0, "Version", "1.0");
	assert_true(is(&doc.e[1], ODATA_XMLNS_EDMX, "DataServices"));
	assert_int_equal(doc.e[1].parent, 0);
	assert_attr(&doc, 1, "m:DataServiceVersion", "2.0");
	assert_string_equal(lookup_ns(&doc, 1, "m", 1), ODATA_XMLNS_M);
	assert_int_equal(count_children(&doc, 1, "Schema", NULL, NULL), 1);
	assert_true(schema > 1);
	assert_attr(&doc, schema, "Namespace", ODATA_NAMESPACE);
	assert_true(container > schema);
	assert_int_equal(count_children(&doc, schema, "EntityContainer", NULL, NULL), 1);
	assert_attr(&doc, container, "Name", ODATA_CONTAINER);
	assert_attr(&doc, container, "m:IsDefaultEntityContainer", "true");
	/* nothing outside the two namespaces except the documented annotations */
	for (int i = 0; i < doc.n; i++)
		assert_true(is(&doc.e[i], ODATA_XMLNS_EDMX, doc.e[i].local) ||
		    is(&doc.e[i], ODATA_XMLNS_EDM, doc.e[i].local));
	/* one document, no trailing garbage, ends with a newline */
	assert_int_equal(edmx[strlen(edmx) - 1], '\n');
	/* only this service's types */
	for (size_t i = 0; i < odata_model_ntypes(NULL); i++) {
		const struct odata_type *t = odata_model_type_at(NULL, i);
		int n = count_children(&doc, schema, "EntityType", "Name", t->name);

		assert_int_equal(n, t->service == svc ? 1 : 0);
		assert_int_equal(count_children(&doc, container, "EntitySet", "Name", t->set),
		    t->service == svc ? 1 : 0);
	}
}
EACH_SERVICE(test_envelope)

static bool
key_attr_prop(const struct odata_type *t, const struct odata_prop *p)
{
	for (size_t k = 0; k < t->nkeys; k++)
		if (t->key[k].nhops == 0 && t->key[k].prop == p)
			return true;
	return false;
}

static void
test_entity_types(void)
{
	size_t i, j;

	assert_int_equal(count_children(&doc, schema, "EntityType", NULL, NULL),
	    (int)odata_model_ntypes(svc));
	for (i = 0; i < odata_model_ntypes(svc); i++) {
		const struct odata_type *t = odata_model_type_at(svc, i);
		bool plain = (t->flags & ODATA_TYPE_PLAIN_KEY) != 0;
		int et = child(&doc, schema, "EntityType", "Name", t->name, 0), key, ref, kp;

		if (et < 0)
			fail_msg("no EntityType %s", t->name);
		assert_int_equal(count_children(&doc, schema, "EntityType", "Name", t->name), 1);
		assert_int_equal(count_children(&doc, et, "Key", NULL, NULL), 1);
		key = child(&doc, et, "Key", NULL, NULL, 0);
		assert_int_equal(count_children(&doc, key, "PropertyRef", NULL, NULL), 1);
		ref = child(&doc, key, "PropertyRef", NULL, NULL, 0);
		assert_attr(&doc, ref, "Name", odata_model_key_name(t));
		/* the model's properties and integrationKey (a plain key is one of
		 * the model's own), nothing else */
		assert_int_equal(count_children(&doc, et, "Property", NULL, NULL),
		    (int)t->nprops + (plain ? 0 : 1));
		kp = child(&doc, et, "Property", "Name", odata_model_key_name(t), 0);
		assert_true(kp >= 0);
		assert_int_equal(count_children(&doc, et, "Property", "Name",
		    odata_model_key_name(t)), 1);
		assert_attr(&doc, kp, "Type", "Edm.String");
		assert_attr(&doc, kp, "Nullable", "false");
		if (plain) {
			assert_no_attr(&doc, kp, "s:Alias");
			assert_no_attr(&doc, kp, "sap:creatable");
		}
		for (j = 0; j < t->nprops; j++) {
			const struct odata_prop *p = &t->props[j];
			int pe = child(&doc, et, "Property", "Name", p->name, 0);
			bool nn = (p->flags & ODATA_PROP_NOT_NULL) || key_attr_prop(t, p);
			char num[24];

			if (pe < 0)
				fail_msg("%s.%s not declared", t->name, p->name);
			assert_int_equal(count_children(&doc, et, "Property", "Name", p->name), 1);
			assert_attr(&doc, pe, "Type", odata_model_edm_name(p->type));
			if (nn)
				assert_attr(&doc, pe, "Nullable", "false");
			else
				assert_no_attr(&doc, pe, "Nullable");
			if (p->type == ODATA_EDM_STRING && p->max_length > 0) {
				snprintf(num, sizeof(num), "%d", p->max_length);
				assert_attr(&doc, pe, "MaxLength", num);
			} else {
				assert_no_attr(&doc, pe, "MaxLength");
			}
			if (p->type == ODATA_EDM_DATETIME)
				assert_attr(&doc, pe, "Precision", "3");
			else
				assert_no_attr(&doc, pe, "Precision");
			if (p->dflt)
				assert_attr(&doc, pe, "DefaultValue", p->dflt);
			else
				assert_no_attr(&doc, pe, "DefaultValue");
			if (key_attr_prop(t, p))
				assert_attr(&doc, pe, "s:IsUnique", "true");
			else
				assert_no_attr(&doc, pe, "s:IsUnique");
			if (p->flags & ODATA_PROP_READ_ONLY) {
				assert_attr(&doc, pe, "sap:creatable", "false");
				assert_attr(&doc, pe, "sap:updatable", "false");
			} else {
				assert_no_attr(&doc, pe, "sap:creatable");
			}
			if (p->flags & ODATA_PROP_WRITE_ONLY)
				assert_attr(&doc, pe, "sap:filterable", "false");
			else
				assert_no_attr(&doc, pe, "sap:filterable");
		}
	}
}
EACH_SERVICE(test_entity_types)

/* The monitoring types as dispatch.md lists them, literally: key id, the
 * EDM types, and Event.integrationKey an ordinary (nullable) property. */
static void
test_monitoring_types(void **state)
{
	static const struct {
		const char *type, *prop, *edm, *nullable;
	} rows[] = {
		{ "Event", "id", "Edm.String", "false" },
		{ "Event", "integrationKey", "Edm.String", NULL },
		{ "Event", "occurredAt", "Edm.DateTime", "false" },
		{ "Event", "receivedAt", "Edm.DateTime", "false" },
		{ "Event", "payload", "Edm.String", "false" },
		{ "Delivery", "attempts", "Edm.Int32", "false" },
		{ "Delivery", "lastStatusCode", "Edm.Int32", NULL },
		{ "Delivery", "deliveredAt", "Edm.DateTime", NULL },
		{ "Delivery", "nextAttemptAt", "Edm.DateTime", NULL },   /* null: PULL, never attempted */
		{ "DeliveryAttempt", "startedAt", "Edm.DateTime", "false" },
		{ "DeliveryAttempt", "error", "Edm.String", NULL },
		{ "InboundRequest", "verified", "Edm.Boolean", "false" },
		{ "InboundRequest", "status", "Edm.Int32", "false" },
		{ "InboundRequest", "integrationMessageId", "Edm.String", NULL },
	};
	size_t i;

	(void)state;
	assert_ptr_equal(odata_model_service("WebhookMonitoring"), &odata_monitoring_service);
	assert_ptr_equal(odata_model_service("WebhookService"), &odata_webhook_service);
	assert_null(odata_model_service("webhookservice"));
	assert_null(odata_model_set(&odata_webhook_service, "Events"));
	assert_ptr_equal(odata_model_set(NULL, "Events"), odata_model_set(&odata_monitoring_service,
	    "Events"));
	load(&odata_monitoring_service);
	assert_int_equal(count_children(&doc, schema, "EntityType", NULL, NULL), 4);
	for (i = 0; i < NELEM(rows); i++) {
		int et = child(&doc, schema, "EntityType", "Name", rows[i].type, 0);
		int pe = child(&doc, et, "Property", "Name", rows[i].prop, 0);

		if (et < 0 || pe < 0)
			fail_msg("%s.%s not declared", rows[i].type, rows[i].prop);
		assert_attr(&doc, pe, "Type", rows[i].edm);
		if (rows[i].nullable)
			assert_attr(&doc, pe, "Nullable", rows[i].nullable);
		else
			assert_no_attr(&doc, pe, "Nullable");
		assert_attr(&doc, child(&doc, child(&doc, et, "Key", NULL, NULL, 0), "PropertyRef",
		    NULL, NULL, 0), "Name", "id");
	}
	assert_null(strstr(edmx, "s:Alias"));
	assert_null(strstr(edmx, "WebhookConfiguration"));
	load(&odata_webhook_service);
	assert_null(strstr(edmx, "Edm.DateTime"));
	assert_null(strstr(edmx, "\"Event\""));
	assert_null(strstr(edmx, "Deliveries"));
}

/* s:Alias: one <Type>_<attribute> per key part, the key path's last step. */
static void
test_key_alias(void)
{
	size_t i, k;

	for (i = 0; i < odata_model_ntypes(svc); i++) {
		const struct odata_type *t = odata_model_type_at(svc, i);
		int et = child(&doc, schema, "EntityType", "Name", t->name, 0);
		int kp = child(&doc, et, "Property", "Name", ODATA_KEY_NAME, 0);
		char want[512] = "";

		if (t->flags & ODATA_TYPE_PLAIN_KEY)
			continue;   /* no synthesized key (test_entity_types) */
		for (k = 0; k < t->nkeys; k++) {
			const struct odata_keypath *p = &t->key[k];
			const struct odata_type *owner = p->nhops ? p->hops[p->nhops - 1]->target : t;
			const char *last = strrchr(t->key_paths[k], '/');

			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s_%s",
			    k ? "|" : "", owner->name, last ? last + 1 : t->key_paths[k]);
		}
		assert_attr(&doc, kp, "s:Alias", want);
	}
	/* the spec's example, literally */
	if (svc == &odata_webhook_service)
		assert_attr(&doc, child(&doc, child(&doc, schema, "EntityType", "Name",
		    "WebhookConfiguration", 0), "Property", "Name", ODATA_KEY_NAME, 0), "s:Alias",
		    "ConsumedDestination_id|DestinationTarget_id|IntegrationObject_code|"
		    "WebhookConfiguration_eventType");
}
EACH_SERVICE(test_key_alias)

/* The End of association a with that Role; fails unless exactly one. */
static int
assoc_end(int a, const char *role)
{
	assert_int_equal(count_children(&doc, a, "End", "Role", role), 1);
	return child(&doc, a, "End", "Role", role, 0);
}

static void
test_navigations(void)
{
	size_t i, j, exposed = 0;

	for (i = 0; i < odata_model_ntypes(svc); i++) {
		const struct odata_type *t = odata_model_type_at(svc, i);
		int et = child(&doc, schema, "EntityType", "Name", t->name, 0), nexp = 0;

		for (j = 0; j < t->nnavs; j++) {
			const struct odata_nav *n = &t->navs[j];
			int ne = child(&doc, et, "NavigationProperty", "Name", n->name, 0), a, from, to;
			const char *fr, *tr, *src_mult;
			bool key_nav = false;

			if (n->flags & ODATA_NAV_HIDDEN) {
				assert_int_equal(ne, -1);
				assert_int_equal(count_children(&doc, schema, "Association", "Name",
				    assoc_name(t, n)), 0);
				assert_null(strstr(edmx, assoc_name(t, n)));
				continue;
			}
			nexp++;
			exposed++;
			if (ne < 0)
				fail_msg("%s.%s has no NavigationProperty", t->name, n->name);
			assert_int_equal(count_children(&doc, et, "NavigationProperty", "Name", n->name), 1);
			assert_attr(&doc, ne, "Relationship", qualified(assoc_name(t, n)));
			a = child(&doc, schema, "Association", "Name", assoc_name(t, n), 0);
			if (a < 0)
				fail_msg("no Association %s", assoc_name(t, n));
			assert_int_equal(count_children(&doc, a, "End", NULL, NULL), 2);
			fr = must_attr(&doc, ne, "FromRole");
			tr = must_attr(&doc, ne, "ToRole");
			assert_string_not_equal(fr, tr);
			from = assoc_end(a, fr);
			to = assoc_end(a, tr);
			assert_attr(&doc, from, "Type", qualified(t->name));
			assert_attr(&doc, to, "Type", qualified(n->target->name));
			assert_attr(&doc, to, "Multiplicity",
			    n->mult == ODATA_ONE ? "1" : n->mult == ODATA_OPTIONAL ? "0..1" : "*");
			if (n->mult != ODATA_MANY)
				src_mult = "*";
			else if (n->inverse && n->inverse->mult == ODATA_ONE)
				src_mult = "1";
			else
				src_mult = "0..1";
			assert_attr(&doc, from, "Multiplicity", src_mult);
			for (size_t k = 0; k < t->nkeys; k++)
				if (t->key[k].nhops && t->key[k].hops[0] == n)
					key_nav = true;
			if (key_nav)
				assert_attr(&doc, ne, "s:IsUnique", "true");
			else
				assert_no_attr(&doc, ne, "s:IsUnique");
			if (n->mult == ODATA_ONE)
				assert_attr(&doc, ne, "s:Nullable", "false");
			else
				assert_no_attr(&doc, ne, "s:Nullable");
		}
		assert_int_equal(count_children(&doc, et, "NavigationProperty", NULL, NULL), nexp);
	}
	/* one association per exposed navigation, names unique */
	assert_int_equal(count_children(&doc, schema, "Association", NULL, NULL), (int)exposed);
	for (int a = 0; child(&doc, schema, "Association", NULL, NULL, a) >= 0; a++) {
		int ae = child(&doc, schema, "Association", NULL, NULL, a);

		assert_int_equal(count_children(&doc, schema, "Association", "Name",
		    must_attr(&doc, ae, "Name")), 1);
	}
	/* the model has both kinds this test is about */
	assert_true(exposed > 0);
	if (svc == &odata_webhook_service)
		assert_int_equal(count_children(&doc, child(&doc, schema, "EntityType", "Name",
		    "String2StringMapType", 0), "NavigationProperty", NULL, NULL), 0);
}
EACH_SERVICE(test_navigations)

static void
test_container(void)
{
	size_t i;
	int a;

	assert_int_equal(count_children(&doc, container, "EntitySet", NULL, NULL),
	    (int)odata_model_ntypes(svc));
	for (i = 0; i < odata_model_ntypes(svc); i++) {
		const struct odata_type *t = odata_model_type_at(svc, i);
		int es = child(&doc, container, "EntitySet", "Name", t->set, 0);

		if (es < 0)
			fail_msg("no EntitySet %s", t->set);
		assert_int_equal(count_children(&doc, container, "EntitySet", "Name", t->set), 1);
		assert_attr(&doc, es, "EntityType", qualified(t->name));
		if (t->flags & ODATA_TYPE_READ_ONLY) {
			assert_attr(&doc, es, "sap:creatable", "false");
			assert_attr(&doc, es, "sap:updatable", "false");
			assert_attr(&doc, es, "sap:deletable", "false");
		} else {
			assert_no_attr(&doc, es, "sap:creatable");
		}
	}
	/* every Association has exactly one AssociationSet, whose ends name the
	 * sets of the association's end types under the same roles */
	assert_int_equal(count_children(&doc, container, "AssociationSet", NULL, NULL),
	    count_children(&doc, schema, "Association", NULL, NULL));
	for (a = 0; child(&doc, schema, "Association", NULL, NULL, a) >= 0; a++) {
		int ae = child(&doc, schema, "Association", NULL, NULL, a), as, k;
		const char *name = must_attr(&doc, ae, "Name");

		assert_int_equal(count_children(&doc, container, "AssociationSet", "Association",
		    qualified(name)), 1);
		as = child(&doc, container, "AssociationSet", "Association", qualified(name), 0);
		assert_attr(&doc, as, "Name", name);
		assert_int_equal(count_children(&doc, as, "End", NULL, NULL), 2);
		for (k = 0; k < 2; k++) {
			int end = child(&doc, ae, "End", NULL, NULL, k);
			const char *role = must_attr(&doc, end, "Role");
			const char *type = must_attr(&doc, end, "Type");
			const struct odata_type *t;
			int se;

			assert_true(strncmp(type, ODATA_NAMESPACE ".", strlen(ODATA_NAMESPACE) + 1) == 0);
			t = odata_model_type(svc, type + strlen(ODATA_NAMESPACE) + 1);
			assert_non_null(t);
			assert_int_equal(count_children(&doc, as, "End", "Role", role), 1);
			se = child(&doc, as, "End", "Role", role, 0);
			assert_attr(&doc, se, "EntitySet", t->set);
		}
	}
}

EACH_SERVICE(test_container)

/* The spec's shapes, literally: the composition and the pair of
 * associations behind DestinationTarget.eventConfigurations and its
 * inverse. */
static void
test_known_associations(void **state)
{
	static const struct {
		const char *name, *from, *from_mult, *to, *to_mult;
	} rows[] = {
		{ "FK_WebhookConfiguration_destination", "WebhookConfiguration", "*",
		  "ConsumedDestination", "1" },
		{ "FK_ConsumedDestination_endpoint", "ConsumedDestination", "*", "Endpoint", "0..1" },
		{ "FK_ConsumedDestination_additionalProperties", "ConsumedDestination", "1",
		  "String2StringMapType", "*" },
		{ "FK_DestinationTarget_eventConfigurations", "DestinationTarget", "1",
		  "EventConfiguration", "*" },
		{ "FK_EventConfiguration_destinationTarget", "EventConfiguration", "*",
		  "DestinationTarget", "1" },
		/* WebhookMonitoring */
		{ "FK_Event_deliveries", "Event", "1", "Delivery", "*" },
		{ "FK_Delivery_event", "Delivery", "*", "Event", "1" },
		{ "FK_Delivery_deliveryAttempts", "Delivery", "1", "DeliveryAttempt", "*" },
		{ "FK_DeliveryAttempt_delivery", "DeliveryAttempt", "*", "Delivery", "1" },
		{ "FK_InboundRequest_event", "InboundRequest", "*", "Event", "0..1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(rows); i++) {
		int a;

		load(odata_model_type(&odata_webhook_service, rows[i].from) ?
		    &odata_webhook_service : &odata_monitoring_service);
		a = child(&doc, schema, "Association", "Name", rows[i].name, 0);

		if (a < 0)
			fail_msg("no Association %s", rows[i].name);
		assert_attr(&doc, assoc_end(a, rows[i].from), "Multiplicity", rows[i].from_mult);
		assert_attr(&doc, assoc_end(a, rows[i].to), "Multiplicity", rows[i].to_mult);
	}
	load(&odata_webhook_service);
	assert_null(strstr(edmx, "FK_String2StringMapType_owner"));
	assert_null(strstr(edmx, "\"owner\""));
}

static void
test_deterministic_and_appends(void)
{
	struct strbuf b;
	char *again;

	odata_model_init();	/* idempotent */
	again = odata_metadata_service_edmx(svc);
	assert_non_null(again);
	assert_string_equal(again, edmx);
	free(again);
	/* `webhookd metadata` prints the WebhookService's */
	again = odata_metadata_edmx();
	assert_non_null(again);
	if (svc == &odata_webhook_service)
		assert_string_equal(again, edmx);
	else
		assert_string_not_equal(again, edmx);
	free(again);
	strbuf_init(&b);
	strbuf_adds(&b, "prefix");
	odata_metadata_build(&b, svc);
	assert_false(b.failed);
	assert_int_equal(b.len, strlen("prefix") + strlen(edmx));
	assert_memory_equal(b.s, "prefix", 6);
	assert_string_equal(b.s + 6, edmx);
	strbuf_free(&b);
}
EACH_SERVICE(test_deterministic_and_appends)

/* A failed buffer stays failed and unchanged (strbuf's sticky failure). */
static void
test_failed_buffer(void **state)
{
	struct strbuf b;

	(void)state;
	strbuf_init(&b);
	b.failed = true;
	odata_metadata_build(&b, &odata_webhook_service);
	assert_true(b.failed);
	assert_int_equal(b.len, 0);
	assert_null(b.s);
}

static void
test_escape(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		{ "", "" },
		{ "plain.Name_1", "plain.Name_1" },
		{ "a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f" },
		{ "&amp;", "&amp;amp;" },
		{ "t\tn\nr\r", "t&#9;n&#10;r&#13;" },
		{ "\x01x\x1f", "\xef\xbf\xbdx\xef\xbf\xbd" },
		{ "caf\xc3\xa9 \x7f", "caf\xc3\xa9 \x7f" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(rows); i++) {
		struct strbuf b;

		strbuf_init(&b);
		strbuf_adds(&b, "");
		odata_metadata_escape(&b, rows[i].in);
		assert_false(b.failed);
		if (strcmp(b.s, rows[i].want) != 0)
			fail_msg("escape row %zu: got \"%s\", want \"%s\"", i, b.s, rows[i].want);
		strbuf_free(&b);
	}
	/* and the reader above reads escaped text back */
	{
		struct strbuf b;
		struct xdoc *d = malloc(sizeof(*d));

		assert_non_null(d);
		strbuf_init(&b);
		strbuf_adds(&b, "<r a=\"");
		odata_metadata_escape(&b, "x&<>\"'\t\ny");
		strbuf_adds(&b, "\"/>");
		assert_int_equal(xml_parse(d, b.s), 0);
		assert_string_equal(xattr_get(&d->e[0], "a"), "x&<>\"'\t\ny");
		strbuf_free(&b);
		free(d);
	}
}

/* The reader refuses what a strict parser refuses, so its pass on the EDMX
 * is worth something. */
static void
test_reader_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"<a>",
		"<a></b>",
		"<a/><b/>",
		"<a><b></a></b>",
		"<a x=\"1\" x=\"2\"/>",
		"<a x=\"1\"y=\"2\"/>",
		"<a x=1/>",
		"<a x=\"<\"/>",
		"<a x=\"&\"/>",
		"<a x=\"&nbsp;\"/>",
		"<p:a/>",
		"<a p:x=\"1\"/>",
		"<a xmlns:p=\"u\"/><p:b/>",
		"<a><b xmlns:p=\"u\"/><p:c/></a>",
		"<a>text</a>",
		"<?xml version=\"1.0\"",
		"<a x=\"1\"/ >",
	};
	static const char *const good[] = {
		"<a/>",
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<a>\n  <b/>\n</a>\n",
		"<p:a xmlns:p=\"u\" p:x=\"1\"><p:b/></p:a>",
		"<a x='1' y=\"&amp;&#10;\"/>",
	};
	struct xdoc *d = malloc(sizeof(*d));
	size_t i;

	(void)state;
	assert_non_null(d);
	for (i = 0; i < NELEM(bad); i++)
		if (xml_parse(d, bad[i]) == 0)
			fail_msg("reader accepted bad row %zu: %s", i, bad[i]);
	for (i = 0; i < NELEM(good); i++)
		if (xml_parse(d, good[i]) != 0)
			fail_msg("reader refused good row %zu: %s (%s)", i, good[i], d->err);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_rejects),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_envelope_all),
		cmocka_unit_test(test_entity_types_all),
		cmocka_unit_test(test_monitoring_types),
		cmocka_unit_test(test_key_alias_all),
		cmocka_unit_test(test_navigations_all),
		cmocka_unit_test(test_container_all),
		cmocka_unit_test(test_known_associations),
		cmocka_unit_test(test_deterministic_and_appends_all),
		cmocka_unit_test(test_failed_buffer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
