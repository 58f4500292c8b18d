/* webhooks — the registration API for CI scripts:
 *   POST   /api/v1/webhooks          register (201, the signing key once)
 *   GET    /api/v1/webhooks[/uuid]   list or read, never the key
 *   DELETE /api/v1/webhooks/{uuid}   remove what the registration created
 * Each call is one statement, so one transaction. */
#ifndef WEBHOOKD_WEBHOOKS_H
#define WEBHOOKD_WEBHOOKS_H

#include "http.h"

void webhooks_handle(struct http_request *req);

#endif
