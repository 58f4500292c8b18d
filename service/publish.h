/* publish — POST /api/v1/events: one event or an array of them, validated
 * all or nothing in C, stored by one INSERT (one transaction) through
 * webhookd.publish_event's rules, answered 202 with the ids once committed. */
#ifndef WEBHOOKD_PUBLISH_H
#define WEBHOOKD_PUBLISH_H

#include "http.h"

void publish_handle(struct http_request *req);

#endif
