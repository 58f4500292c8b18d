/* metrics — process-wide counters, rendered in Prometheus text format.
 * Counters are relaxed atomics: workers never take a lock to count. */
#ifndef WEBHOOKD_METRICS_H
#define WEBHOOKD_METRICS_H

#include <stdint.h>

struct evbuffer;

#define METRICS_MAX_ROUTES 32

/* Route labels are registered once at start-up, before any worker runs. */
int  metrics_route(const char *name);
void metrics_request(int route, int status, uint64_t latency_us);
void metrics_count(const char *name);   /* a named event counter, see metrics.c */
void metrics_gauge(const char *name, int64_t value);  /* a named gauge, see metrics.c */
void metrics_render(struct evbuffer *out);

#endif
