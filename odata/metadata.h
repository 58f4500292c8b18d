/* metadata — the $metadata document (OData V2 EDMX) of one service of the
 * entity model (the WebhookService, or WebhookMonitoring): only that
 * service's types, associations and sets.
 *
 * Generated only from the model table (model.h); there is no per-type code.
 * The document is what SAP Commerce's Integration API emits for an
 * integration object, loadable by strict consumers (xmllint, the SAP Cloud
 * SDK generator, SAPUI5's ODataModel):
 *
 *   edmx:Edmx Version="1.0" > edmx:DataServices m:DataServiceVersion="2.0"
 *   > Schema Namespace="HybrisCommerceOData" (the service's namespace) with,
 *   per type of the service in model order, an EntityType (Key/PropertyRef
 *   integrationKey; the model's properties in model order, then
 *   integrationKey; the exposed navigations), then one Association per
 *   exposed navigation, then EntityContainer "Container"
 *   (m:IsDefaultEntityContainer="true") with one EntitySet per type and one
 *   AssociationSet per Association.
 *   A plain-key type (the monitoring types) has Key/PropertyRef naming its
 *   key property (e.g. "id") and no integrationKey property of its own
 *   making (Event.integrationKey is an ordinary property).
 *
 * Decisions:
 *  - One Association per exposed navigation, named FK_<Type>_<nav>
 *    (odata_model_assoc_name), as SAP does. A MANY navigation and its exposed
 *    inverse (DestinationTarget.eventConfigurations and
 *    EventConfiguration.destinationTarget) are two associations, not one:
 *    every NavigationProperty's Relationship is predictable from its own name
 *    and no association is shared between two EntityTypes' navigations.
 *  - Roles: FromRole is the owning type's name, ToRole the target type's;
 *    when they are equal (a self-association) they become <Type>Source and
 *    <Type>Target, since the roles of one association must differ.
 *  - Multiplicities: the target end is "1" (ONE), "0..1" (OPTIONAL) or "*"
 *    (MANY). The source end of a to-one navigation is "*"; of a MANY
 *    navigation it follows the inverse (a HIDDEN one included): "1" when the
 *    inverse is ONE (a composition: every child has exactly one owner),
 *    otherwise "0..1".
 *  - Hidden navigations (ODATA_NAV_HIDDEN) are absent: no NavigationProperty,
 *    no Association.
 *  - SAP Commerce annotations (xmlns:s="http://schemas.sap.com/commerce"):
 *    s:IsUnique="true" on the properties and navigations that are the first
 *    step of a key path; s:Alias on integrationKey, one <Type>_<attribute>
 *    per key part joined with '|' (a key path ending in another type's whole
 *    key gives <Type>_integrationKey); s:Nullable="false" on ONE navigations.
 *  - Properties: Nullable="false" for NOT_NULL and key-attribute
 *    properties (and integrationKey); MaxLength when max_length > 0;
 *    DefaultValue when the model has a default; Edm.DateTime with
 *    Precision="3" (the JSON carries milliseconds).
 *  - SAP V2 annotations (xmlns:sap="http://www.sap.com/Protocols/SAPData"),
 *    the ones SAPUI5 reads: integrationKey and READ_ONLY properties are
 *    sap:creatable="false" sap:updatable="false" (the server computes or
 *    maintains them); WRITE_ONLY properties are declared (clients send
 *    them) but sap:filterable="false" sap:sortable="false" (stored
 *    encrypted, never returned); the EntitySet of a READ_ONLY type is
 *    sap:creatable/updatable/deletable="false".
 *  - Every attribute value is XML-escaped.
 *
 * The document does not change while the process runs: build it once at
 * start-up (after odata_model_init) and serve the same bytes. */
#ifndef WEBHOOKD_ODATA_METADATA_H
#define WEBHOOKD_ODATA_METADATA_H

#include "strbuf.h"

struct odata_service;

/* Appends the EDMX document of service svc to b (strbuf's sticky failure on
 * OOM). odata_model_init() must have been called. */
void odata_metadata_build(struct strbuf *b, const struct odata_service *svc);

/* The EDMX document of svc as a malloc'd NUL-terminated string; NULL when
 * out of memory. odata_model_init() must have been called. */
char *odata_metadata_service_edmx(const struct odata_service *svc);

/* The WebhookService's document (what `webhookd metadata` prints). */
char *odata_metadata_edmx(void);

/* Appends s as XML text that is safe in an attribute value or element
 * content: & < > " ' as entities; tab, LF and CR as character references
 * (an attribute value would normalize literal ones to spaces); the other C0
 * controls, which XML 1.0 cannot carry at all, as U+FFFD. Other bytes are
 * copied (the caller's text is UTF-8). */
void odata_metadata_escape(struct strbuf *b, const char *s);

/* The XML namespaces used by the document. */
#define ODATA_XMLNS_EDMX "http://schemas.microsoft.com/ado/2007/06/edmx"
#define ODATA_XMLNS_M    "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
#define ODATA_XMLNS_EDM  "http://schemas.microsoft.com/ado/2008/09/edm"
#define ODATA_XMLNS_SAP  "http://www.sap.com/Protocols/SAPData"
#define ODATA_XMLNS_S    "http://schemas.sap.com/commerce"

#endif
