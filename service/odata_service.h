/* odata_service — the WebhookService endpoint under
 * /odata2webservices/WebhookService: CORS, X-CSRF-Token, method tunnelling,
 * one operation per request or a $batch of them, each run as one pipeline
 * in one transaction on the worker's database pool. */
#ifndef WEBHOOKD_ODATA_SERVICE_H
#define WEBHOOKD_ODATA_SERVICE_H

#include <stdbool.h>

#include "http.h"

#define ODATA_SERVICE_ROOT "/odata2webservices/WebhookService"

int  odata_service_init(void);
void odata_service_handle(struct http_request *req);
/* CORS headers for an allowed Origin (every answer of the service). */
void odata_service_cors(struct http_request *req);
/* OPTIONS: a CORS preflight, answered without authentication. */
void odata_service_preflight(struct http_request *req);

#endif
