/* inbound — POST /inbound/{sourceCode}: a webhook from an outside system,
 * verified by its InboundSource (API key, Basic, HMAC, Standard Webhooks or
 * an RS256 JWT), committed as an event with one statement and answered 200;
 * the dispatcher delivers the event like any other. */
#ifndef WEBHOOKD_INBOUND_H
#define WEBHOOKD_INBOUND_H

#include "http.h"

void inbound_handle(struct http_request *req);

#endif
