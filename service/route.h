/* route — the route table: path, methods, roles, handler. Unknown paths are
 * 404 and known paths with another method 405, both before authentication;
 * every route but the health checks needs HTTP Basic (auth.c). */
#ifndef WEBHOOKD_ROUTE_H
#define WEBHOOKD_ROUTE_H

#include "http.h"

/* Register metrics labels; once, before workers start. */
void route_init(void);
/* Called by http.c with a complete request. */
void route_dispatch(struct http_request *req);
/* Label for requests that never reached a route (parse errors, timeouts). */
int  route_none_id(void);

#endif
