#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "auth.h"
#include "db.h"
#include "metrics.h"
#include "api.h"
#include "odata_service.h"
#include "inbound.h"
#include "publish.h"
#include "pull.h"
#include "webhooks.h"
#include "server.h"

#define M(m) (1u << (m))

struct route {
	const char *name;      /* metrics label */
	const char *path;      /* exact match, or a prefix when prefix is set */
	bool prefix;           /* path, or path followed by '/' */
	unsigned methods;      /* M(HTTP_GET) | ... */
	unsigned roles;        /* 0: no authentication */
	http_handler handler;
	int metrics_id;
};

static void handle_healthz(struct http_request *req);
static void handle_readyz(struct http_request *req);
static void handle_metrics(struct http_request *req);

static struct route routes[] = {
	{ "healthz", "/healthz", false, M(HTTP_GET) | M(HTTP_HEAD), 0, handle_healthz, 0 },
	{ "readyz",  "/readyz",  false, M(HTTP_GET) | M(HTTP_HEAD), 0, handle_readyz, 0 },
	{ "metrics", "/metrics", false, M(HTTP_GET) | M(HTTP_HEAD),
	  AUTH_ROLE_ADMIN | AUTH_ROLE_VIEWER, handle_metrics, 0 },
	/* writes need admin: checked per operation (a $batch may mix both) */
	{ "odata", ODATA_SERVICE_ROOT, true,
	  M(HTTP_GET) | M(HTTP_HEAD) | M(HTTP_POST) | M(HTTP_PUT) | M(HTTP_PATCH) |
	  M(HTTP_MERGE) | M(HTTP_DELETE) | M(HTTP_OPTIONS),
	  AUTH_ROLE_ADMIN | AUTH_ROLE_VIEWER, odata_service_handle, 0 },
	/* read-only: odata_service answers writes with 405 */
	{ "monitoring", ODATA_MONITORING_ROOT, true,
	  M(HTTP_GET) | M(HTTP_HEAD) | M(HTTP_POST) | M(HTTP_PUT) | M(HTTP_PATCH) |
	  M(HTTP_MERGE) | M(HTTP_DELETE) | M(HTTP_OPTIONS),
	  AUTH_ROLE_ADMIN | AUTH_ROLE_VIEWER, odata_service_handle, 0 },
	{ "events", "/api/v1/events", false, M(HTTP_POST),
	  AUTH_ROLE_PUBLISHER | AUTH_ROLE_ADMIN, publish_handle, 0 },
	{ "deliveries", "/api/v1/deliveries", true, M(HTTP_POST),
	  AUTH_ROLE_ADMIN, api_deliveries_handle, 0 },
	{ "destinations", "/api/v1/destinations", true, M(HTTP_POST),
	  AUTH_ROLE_ADMIN, api_destinations_handle, 0 },
	{ "subscriptions", "/api/v1/subscriptions", true, M(HTTP_GET) | M(HTTP_PUT),
	  AUTH_ROLE_SUBSCRIBER | AUTH_ROLE_ADMIN, pull_handle, 0 },
	{ "webhooks", "/api/v1/webhooks", true, M(HTTP_GET) | M(HTTP_POST) | M(HTTP_DELETE),
	  AUTH_ROLE_ADMIN, webhooks_handle, 0 },
	/* no user: each source verifies its sender (inbound.c) */
	{ "inbound", "/inbound", true, M(HTTP_POST), 0, inbound_handle, 0 },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static int none_id;

static const char *const method_names[] = {
	[HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT", [HTTP_PATCH] = "PATCH", [HTTP_MERGE] = "MERGE",
	[HTTP_DELETE] = "DELETE", [HTTP_OPTIONS] = "OPTIONS",
};

void
route_init(void)
{
	size_t i;

	none_id = metrics_route("none");
	for (i = 0; i < NROUTES; i++)
		routes[i].metrics_id = metrics_route(routes[i].name);
}

int
route_none_id(void)
{
	return none_id;
}

static void
handle_healthz(struct http_request *req)
{
	http_reply_text(req, 200, "application/json", "{\"status\":\"ok\"}");
}

static void
readyz_done(void *arg, const struct db_result *r)
{
	struct http_request *req = arg;
	int want = req->worker->srv->schema_version, have;
	char body[96];

	if (r->status != DB_OK || PQntuples(r->res) != 1) {
		http_reply_unavailable(req, NULL);
		return;
	}
	have = atoi(PQgetvalue(r->res, 0, 0));
	if (have != want) {
		snprintf(body, sizeof(body), "database schema is at version %d, expected %d", have, want);
		http_reply_unavailable(req, body);
		return;
	}
	snprintf(body, sizeof(body), "{\"status\":\"ready\",\"schema\":%d}", have);
	http_reply_text(req, 200, "application/json", body);
}

/* One real query: the database answers and its schema is the one we speak. */
static void
handle_readyz(struct http_request *req)
{
	if (db_query(req->worker->db,
	    "SELECT coalesce(max(version), 0) FROM webhookd.schema_migrations",
	    0, NULL, readyz_done, req) < 0)
		http_reply_unavailable(req, NULL);
}

static void
handle_metrics(struct http_request *req)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		http_reply_unavailable(req, NULL);
		return;
	}
	metrics_render(b);
	http_reply(req, 200, "text/plain; version=0.0.4", b);
	evbuffer_free(b);
}

static void
authed(struct http_request *req, enum auth_outcome outcome)
{
	const struct route *rt = req->route;

	switch (outcome) {
	case AUTH_UNAUTHORIZED:
		http_reply_error(req, 401, "unauthorized", "user must be authenticated", NULL);
		return;
	case AUTH_UNAVAILABLE:
		http_reply_unavailable(req, NULL);
		return;
	case AUTH_OK:
		break;
	}
	if ((req->role & rt->roles) == 0) {
		http_reply_error(req, 403, "forbidden", "user is not authorized for the operation", NULL);
		return;
	}
	rt->handler(req);
}

static void
not_allowed(struct http_request *req, const struct route *rt)
{
	char allow[96] = "", msg[160];
	size_t i;

	for (i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (method_names[i] == NULL || !(rt->methods & M(i)))
			continue;
		if (allow[0])
			strcat(allow, ", ");
		strcat(allow, method_names[i]);
	}
	http_add_header(req, "Allow", allow);
	snprintf(msg, sizeof(msg), "Method [%.20s] is not supported by [%s].",
	    req->head.method_str, rt->path);
	http_reply_error(req, 405, "method_not_allowed", msg, NULL);
}

static bool
path_matches(const struct route *rt, const char *path)
{
	size_t n = strlen(rt->path);

	if (!rt->prefix)
		return strcmp(rt->path, path) == 0;
	return strncmp(rt->path, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

void
route_dispatch(struct http_request *req)
{
	const struct route *rt = NULL;
	char msg[256];
	size_t i;

	for (i = 0; i < NROUTES; i++)
		if (path_matches(&routes[i], req->path))
			rt = &routes[i];
	if (rt == NULL) {
		snprintf(msg, sizeof(msg), "Resource [%.200s] was not found.", req->path);
		http_reply_error(req, 404, "not_found", msg, NULL);
		return;
	}
	req->route = rt;
	req->route_id = rt->metrics_id;
	if (rt->handler == odata_service_handle) {
		size_t n = strlen(req->path);

		/* CORS headers on every answer, 401/403 included, so that a
		 * browser UI can read the error; $metadata errors are XML */
		odata_service_cors(req);
		req->xml_errors = (n >= 10 && strcmp(req->path + n - 10, "/$metadata") == 0) ||
		    (n >= 12 && strcasecmp(req->path + n - 12, "/%24metadata") == 0);
	}
	if (req->head.method == HTTP_OTHER || !(rt->methods & M(req->head.method))) {
		not_allowed(req, rt);
		return;
	}
	if (rt->roles == 0) {
		rt->handler(req);
		return;
	}
	if (req->head.method == HTTP_OPTIONS && rt->handler == odata_service_handle) {
		odata_service_preflight(req);   /* browsers send preflights without credentials */
		return;
	}
	auth_check(req->worker->srv->auth, req, authed);
}
