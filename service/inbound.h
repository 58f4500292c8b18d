/* inbound — POST /inbound/{sourceCode}: a webhook from an outside system,
 * verified by its InboundSource (API key, Basic, HMAC, Standard Webhooks or
 * an RS256 JWT), committed as one inbound_request row and answered 200; the
 * dispatcher makes it an event (dispatch.c) and delivers it like any other. */
#ifndef WEBHOOKD_INBOUND_H
#define WEBHOOKD_INBOUND_H

#include "http.h"

void inbound_handle(struct http_request *req);

#endif
