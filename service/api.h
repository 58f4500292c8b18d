/* api — the administrative REST calls beside OData:
 *   POST /api/v1/deliveries/{id}/redeliver          queue a delivery again
 *   POST /api/v1/destinations/{key}/recover?since=  queue failed deliveries again
 *   POST /api/v1/destinations/{key}/rotate-secret   new signing secret, old one
 *                                                   still signs for the overlap */
#ifndef WEBHOOKD_API_H
#define WEBHOOKD_API_H

#include <jansson.h>

#include "http.h"

#define API_SEGMENT_MAX 1024

/* Split "<prefix>/<segment>/<action>" into the percent-decoded segment (seg
 * holds API_SEGMENT_MAX + 1 bytes) and the action; -1 when the path has
 * another shape, -2 when the segment is not 1..API_SEGMENT_MAX bytes of
 * valid UTF-8 without NUL. */
int api_path_parse(const char *path, const char *prefix, char *seg, const char **action);
/* j (reference stolen) as compact JSON; 503 when it is NULL or cannot be
 * written (an allocation failed). */
void api_reply_json(struct http_request *req, int status, json_t *j);
/* 400 invalid_key for a segment api_path_parse could not decode. */
void api_bad_segment(struct http_request *req);

void api_deliveries_handle(struct http_request *req);
void api_destinations_handle(struct http_request *req);

#endif
