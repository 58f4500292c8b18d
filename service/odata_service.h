/* odata_service — the OData endpoints: the WebhookService under
 * /odata2webservices/WebhookService and the read-only WebhookMonitoring
 * under /odata2webservices/WebhookMonitoring, both served by
 * odata_service_handle (the root path picks the model's service): CORS,
 * X-CSRF-Token, method tunnelling, one operation per request or a $batch
 * of them, each run as one pipeline in one transaction on the worker's
 * database pool. On WebhookMonitoring every write — a method other than
 * GET/HEAD, tunnelled or not, and every change set of a $batch — is 405
 * method_not_allowed (a change set is answered by one 405 part; nothing of
 * it runs). */
#ifndef WEBHOOKD_ODATA_SERVICE_H
#define WEBHOOKD_ODATA_SERVICE_H

#include <stdbool.h>

#include "http.h"

#define ODATA_SERVICE_ROOT "/odata2webservices/WebhookService"
#define ODATA_MONITORING_ROOT "/odata2webservices/WebhookMonitoring"

int  odata_service_init(void);
void odata_service_handle(struct http_request *req);
/* CORS headers for an allowed Origin (every answer of the service). */
void odata_service_cors(struct http_request *req);
/* OPTIONS: a CORS preflight, answered without authentication. */
void odata_service_preflight(struct http_request *req);

#endif
