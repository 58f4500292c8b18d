/* api — the administrative REST calls beside OData:
 *   POST /api/v1/deliveries/{id}/redeliver          queue a delivery again
 *   POST /api/v1/destinations/{key}/recover?since=  queue failed deliveries again
 *   POST /api/v1/destinations/{key}/rotate-secret   new signing secret, old one
 *                                                   still signs for the overlap */
#ifndef WEBHOOKD_API_H
#define WEBHOOKD_API_H

#include "http.h"

void api_deliveries_handle(struct http_request *req);
void api_destinations_handle(struct http_request *req);

#endif
