#include "metadata.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

void
odata_metadata_escape(struct strbuf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;
		char num[8];
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		case '\t': case '\n': case '\r':
			snprintf(num, sizeof(num), "&#%u;", (unsigned)c);
			rep = num;
			break;
		default:
			if (c >= 0x20)
				continue;
			rep = "\xef\xbf\xbd";
			break;
		}
		strbuf_add(b, run, (size_t)(s - run));
		strbuf_adds(b, rep);
		run = s + 1;
	}
	strbuf_adds(b, run);
}

/* ` name="value"` with the value escaped. */
static void
add_attr(struct strbuf *b, const char *name, const char *value)
{
	strbuf_addc(b, ' ');
	strbuf_adds(b, name);
	strbuf_adds(b, "=\"");
	odata_metadata_escape(b, value);
	strbuf_addc(b, '"');
}

static void
indent(struct strbuf *b, int depth)
{
	strbuf_addc(b, '\n');
	while (depth-- > 0)
		strbuf_adds(b, "  ");
}

/* ` name="<namespace>.value"`, in the namespace of t's service */
static void
add_qattr(struct strbuf *b, const struct odata_type *t, const char *name, const char *value)
{
	strbuf_addc(b, ' ');
	strbuf_adds(b, name);
	strbuf_adds(b, "=\"");
	odata_metadata_escape(b, t->service->ns);
	strbuf_addc(b, '.');
	odata_metadata_escape(b, value);
	strbuf_addc(b, '"');
}

/* The association name FK_<Type>_<nav>, from the model's one spelling. */
static void
add_assoc_name(struct strbuf *b, const char *attr, bool qualified,
    const struct odata_type *t, const struct odata_nav *n)
{
	int len = odata_model_assoc_name(NULL, 0, t, n);
	char *name;

	if (len < 0 || (name = malloc((size_t)len + 1)) == NULL) {
		b->failed = true;
		return;
	}
	odata_model_assoc_name(name, (size_t)len + 1, t, n);
	if (qualified)
		add_qattr(b, t, attr, name);
	else
		add_attr(b, attr, name);
	free(name);
}

static bool
self_assoc(const struct odata_type *t, const struct odata_nav *n)
{
	return strcmp(t->name, n->target->name) == 0;
}

/* ` attr="<role>"`: the type's name, suffixed when both ends are one type. */
static void
add_role(struct strbuf *b, const char *attr, const struct odata_type *t,
    const struct odata_nav *n, bool source)
{
	const struct odata_type *rt = source ? t : n->target;

	strbuf_addc(b, ' ');
	strbuf_adds(b, attr);
	strbuf_adds(b, "=\"");
	odata_metadata_escape(b, rt->name);
	if (self_assoc(t, n))
		strbuf_adds(b, source ? "Source" : "Target");
	strbuf_addc(b, '"');
}

static const char *
mult_text(enum odata_mult m)
{
	switch (m) {
	case ODATA_ONE:
		return "1";
	case ODATA_OPTIONAL:
		return "0..1";
	case ODATA_MANY:
		break;
	}
	return "*";
}

/* The owner end: many owners may point at one target through a to-one
 * navigation; a collection's children have at most one owner, exactly one
 * when their (possibly hidden) way back is required. */
static const char *
source_mult(const struct odata_nav *n)
{
	if (n->mult != ODATA_MANY)
		return "*";
	return n->inverse && n->inverse->mult == ODATA_ONE ? "1" : "0..1";
}

static bool
exposed(const struct odata_nav *n)
{
	return !(n->flags & ODATA_NAV_HIDDEN);
}

static bool
prop_is_key_attr(const struct odata_type *t, const struct odata_prop *p)
{
	size_t k;

	for (k = 0; k < t->nkeys; k++)
		if (t->key[k].nhops == 0 && t->key[k].prop == p)
			return true;
	return false;
}

static bool
nav_is_key_attr(const struct odata_type *t, const struct odata_nav *n)
{
	size_t k;

	for (k = 0; k < t->nkeys; k++)
		if (t->key[k].nhops > 0 && t->key[k].hops[0] == n)
			return true;
	return false;
}

/* s:Alias: <Type>_<attribute> per key part, in key order, joined by '|'. */
static void
add_key_alias(struct strbuf *b, const struct odata_type *t)
{
	size_t k;

	strbuf_adds(b, " s:Alias=\"");
	for (k = 0; k < t->nkeys; k++) {
		const struct odata_keypath *kp = &t->key[k];
		const struct odata_type *owner = kp->nhops ? kp->hops[kp->nhops - 1]->target : t;

		if (k > 0)
			strbuf_addc(b, '|');
		odata_metadata_escape(b, owner->name);
		strbuf_addc(b, '_');
		odata_metadata_escape(b, kp->prop ? kp->prop->name : ODATA_KEY_NAME);
	}
	strbuf_addc(b, '"');
}

static void
add_property(struct strbuf *b, const struct odata_type *t, const struct odata_prop *p)
{
	bool key_attr = prop_is_key_attr(t, p);
	char num[24];

	indent(b, 4);
	strbuf_adds(b, "<Property");
	add_attr(b, "Name", p->name);
	add_attr(b, "Type", odata_model_edm_name(p->type));
	if ((p->flags & ODATA_PROP_NOT_NULL) || key_attr)
		strbuf_adds(b, " Nullable=\"false\"");
	if (p->type == ODATA_EDM_STRING && p->max_length > 0) {
		snprintf(num, sizeof(num), "%d", p->max_length);
		add_attr(b, "MaxLength", num);
	}
	if (p->type == ODATA_EDM_DATETIME)
		strbuf_adds(b, " Precision=\"3\"");   /* /Date(ms)/: milliseconds */
	if (p->dflt != NULL)
		add_attr(b, "DefaultValue", p->dflt);
	if (key_attr)
		strbuf_adds(b, " s:IsUnique=\"true\"");
	if (p->flags & ODATA_PROP_READ_ONLY)
		strbuf_adds(b, " sap:creatable=\"false\" sap:updatable=\"false\"");
	if (p->flags & ODATA_PROP_WRITE_ONLY)
		strbuf_adds(b, " sap:filterable=\"false\" sap:sortable=\"false\"");
	strbuf_adds(b, "/>");
}

static void
add_entity_type(struct strbuf *b, const struct odata_type *t)
{
	size_t i;

	indent(b, 3);
	strbuf_adds(b, "<EntityType");
	add_attr(b, "Name", t->name);
	strbuf_addc(b, '>');
	indent(b, 4);
	strbuf_adds(b, "<Key><PropertyRef");
	add_attr(b, "Name", odata_model_key_name(t));
	strbuf_adds(b, "/></Key>");
	for (i = 0; i < t->nprops; i++)
		add_property(b, t, &t->props[i]);
	if (!(t->flags & ODATA_TYPE_PLAIN_KEY)) {
		indent(b, 4);
		strbuf_adds(b, "<Property Name=\"" ODATA_KEY_NAME "\" Type=\"Edm.String\" Nullable=\"false\"");
		add_key_alias(b, t);
		strbuf_adds(b, " sap:creatable=\"false\" sap:updatable=\"false\"/>");
	}
	for (i = 0; i < t->nnavs; i++) {
		const struct odata_nav *n = &t->navs[i];

		if (!exposed(n))
			continue;
		indent(b, 4);
		strbuf_adds(b, "<NavigationProperty");
		add_attr(b, "Name", n->name);
		add_assoc_name(b, "Relationship", true, t, n);
		add_role(b, "FromRole", t, n, true);
		add_role(b, "ToRole", t, n, false);
		if (nav_is_key_attr(t, n))
			strbuf_adds(b, " s:IsUnique=\"true\"");
		if (n->mult == ODATA_ONE)
			strbuf_adds(b, " s:Nullable=\"false\"");
		strbuf_adds(b, "/>");
	}
	indent(b, 3);
	strbuf_adds(b, "</EntityType>");
}

static void
add_association(struct strbuf *b, const struct odata_type *t, const struct odata_nav *n)
{
	indent(b, 3);
	strbuf_adds(b, "<Association");
	add_assoc_name(b, "Name", false, t, n);
	strbuf_addc(b, '>');
	indent(b, 4);
	strbuf_adds(b, "<End");
	add_qattr(b, t, "Type", t->name);
	add_attr(b, "Multiplicity", source_mult(n));
	add_role(b, "Role", t, n, true);
	strbuf_adds(b, "/>");
	indent(b, 4);
	strbuf_adds(b, "<End");
	add_qattr(b, n->target, "Type", n->target->name);
	add_attr(b, "Multiplicity", mult_text(n->mult));
	add_role(b, "Role", t, n, false);
	strbuf_adds(b, "/>");
	indent(b, 3);
	strbuf_adds(b, "</Association>");
}

static void
add_association_set(struct strbuf *b, const struct odata_type *t, const struct odata_nav *n)
{
	indent(b, 4);
	strbuf_adds(b, "<AssociationSet");
	add_assoc_name(b, "Name", false, t, n);
	add_assoc_name(b, "Association", true, t, n);
	strbuf_addc(b, '>');
	indent(b, 5);
	strbuf_adds(b, "<End");
	add_attr(b, "EntitySet", t->set);
	add_role(b, "Role", t, n, true);
	strbuf_adds(b, "/>");
	indent(b, 5);
	strbuf_adds(b, "<End");
	add_attr(b, "EntitySet", n->target->set);
	add_role(b, "Role", t, n, false);
	strbuf_adds(b, "/>");
	indent(b, 4);
	strbuf_adds(b, "</AssociationSet>");
}

void
odata_metadata_build(struct strbuf *b, const struct odata_service *svc)
{
	size_t ntypes = odata_model_ntypes(svc), i, j;

	strbuf_adds(b,
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<edmx:Edmx Version=\"1.0\" xmlns:edmx=\"" ODATA_XMLNS_EDMX "\""
	    " xmlns:m=\"" ODATA_XMLNS_M "\" xmlns:sap=\"" ODATA_XMLNS_SAP "\">\n"
	    "  <edmx:DataServices m:DataServiceVersion=\"2.0\">\n"
	    "    <Schema");
	add_attr(b, "Namespace", svc->ns);
	strbuf_adds(b, " xmlns=\"" ODATA_XMLNS_EDM "\" xmlns:s=\"" ODATA_XMLNS_S "\">");
	for (i = 0; i < ntypes; i++)
		add_entity_type(b, odata_model_type_at(svc, i));
	for (i = 0; i < ntypes; i++) {
		const struct odata_type *t = odata_model_type_at(svc, i);

		for (j = 0; j < t->nnavs; j++)
			if (exposed(&t->navs[j]))
				add_association(b, t, &t->navs[j]);
	}
	indent(b, 3);
	strbuf_adds(b, "<EntityContainer");
	add_attr(b, "Name", svc->container);
	strbuf_adds(b, " m:IsDefaultEntityContainer=\"true\">");
	for (i = 0; i < ntypes; i++) {
		const struct odata_type *t = odata_model_type_at(svc, i);

		indent(b, 4);
		strbuf_adds(b, "<EntitySet");
		add_attr(b, "Name", t->set);
		add_qattr(b, t, "EntityType", t->name);
		if (t->flags & ODATA_TYPE_READ_ONLY)
			strbuf_adds(b, " sap:creatable=\"false\" sap:updatable=\"false\""
			    " sap:deletable=\"false\"");
		strbuf_adds(b, "/>");
	}
	for (i = 0; i < ntypes; i++) {
		const struct odata_type *t = odata_model_type_at(svc, i);

		for (j = 0; j < t->nnavs; j++)
			if (exposed(&t->navs[j]))
				add_association_set(b, t, &t->navs[j]);
	}
	strbuf_adds(b,
	    "\n      </EntityContainer>\n"
	    "    </Schema>\n"
	    "  </edmx:DataServices>\n"
	    "</edmx:Edmx>\n");
}

char *
odata_metadata_service_edmx(const struct odata_service *svc)
{
	struct strbuf b;

	strbuf_init(&b);
	odata_metadata_build(&b, svc);
	if (b.failed) {
		strbuf_free(&b);
		return NULL;
	}
	return strbuf_detach(&b);
}

char *
odata_metadata_edmx(void)
{
	return odata_metadata_service_edmx(&odata_webhook_service);
}
