/* pull — PULL subscriptions, read by consumers behind a firewall:
 *   GET /api/v1/subscriptions/{destinationKey}/events?maxBatchSize=&autoCommit=
 *   PUT /api/v1/subscriptions/{destinationKey}/cursor   {"offset": n}
 * The dispatcher appends each match for a PULL destination to the
 * destination's stream (delivery rows numbered by stream_offset); a pull
 * reads from the committed cursor, and holds the subscription's row lock
 * (NOWAIT) for its one statement, so a concurrent pull gets 409. */
#ifndef WEBHOOKD_PULL_H
#define WEBHOOKD_PULL_H

#include "http.h"

void pull_handle(struct http_request *req);

#endif
