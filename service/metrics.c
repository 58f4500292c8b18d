#include "metrics.h"

#include <stdatomic.h>
#include <string.h>

#include <event2/buffer.h>

/* The statuses we answer with; anything else is counted as "other". */
static const int statuses[] = {
	100, 200, 201, 202, 204, 400, 401, 403, 404, 405, 408, 409, 412,
	413, 415, 417, 431, 500, 501, 503, 505, 0
};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))

/* Latency buckets in microseconds, Prometheus "le" in seconds. */
static const uint64_t buckets_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000
};
#define NBUCKET (sizeof(buckets_us) / sizeof(buckets_us[0]))

static const char *route_names[METRICS_MAX_ROUTES];
static int nroutes;

static _Atomic uint64_t requests[METRICS_MAX_ROUTES][NSTATUS];
static _Atomic uint64_t latency_bucket[METRICS_MAX_ROUTES][NBUCKET + 1];
static _Atomic uint64_t latency_sum_us[METRICS_MAX_ROUTES];

static const char *const counter_names[] = {
	"connections_accepted", "connections_refused_limit", "request_timeouts",
	"auth_failures", "auth_cache_hits", "auth_kdf_runs", "db_unavailable",
	"db_reconnects", "events_fanned_out", "deliveries_delivered",
	"deliveries_retried", "deliveries_failed", "deliveries_discarded",
	"destinations_deactivated", "pulls", "pull_conflicts", "subscriptions_deactivated",
	"inbound_accepted", "inbound_duplicates", "inbound_rejected",
};
#define NCOUNTER (sizeof(counter_names) / sizeof(counter_names[0]))
static _Atomic uint64_t counters[NCOUNTER];

/* Gauges: last value set, by the dispatcher's janitor. */
static const char *const gauge_names[] = {
	"deliveries_pending", "deliveries_oldest_pending_seconds",
};
#define NGAUGE (sizeof(gauge_names) / sizeof(gauge_names[0]))
static _Atomic int64_t gauges[NGAUGE];

void
metrics_gauge(const char *name, int64_t value)
{
	for (size_t i = 0; i < NGAUGE; i++)
		if (strcmp(gauge_names[i], name) == 0)
			atomic_store_explicit(&gauges[i], value, memory_order_relaxed);
}

int
metrics_route(const char *name)
{
	int i;

	for (i = 0; i < nroutes; i++)
		if (strcmp(route_names[i], name) == 0)
			return i;
	if (nroutes == METRICS_MAX_ROUTES)
		return METRICS_MAX_ROUTES - 1;
	route_names[nroutes] = name;
	return nroutes++;
}

static size_t
status_index(int status)
{
	size_t i;

	for (i = 0; i + 1 < NSTATUS; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void
metrics_request(int route, int status, uint64_t latency_us)
{
	size_t b;

	if (route < 0 || route >= nroutes)
		return;
	atomic_fetch_add_explicit(&requests[route][status_index(status)], 1,
	    memory_order_relaxed);
	for (b = 0; b < NBUCKET && latency_us > buckets_us[b]; b++)
		;
	atomic_fetch_add_explicit(&latency_bucket[route][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&latency_sum_us[route], latency_us, memory_order_relaxed);
}

void
metrics_count(const char *name)
{
	size_t i;

	for (i = 0; i < NCOUNTER; i++)
		if (strcmp(counter_names[i], name) == 0) {
			atomic_fetch_add_explicit(&counters[i], 1, memory_order_relaxed);
			return;
		}
}

static uint64_t
load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void
render_requests(struct evbuffer *out, int r)
{
	uint64_t n;
	size_t s;

	for (s = 0; s < NSTATUS; s++) {
		n = load(&requests[r][s]);
		if (n == 0)
			continue;
		if (statuses[s] == 0)
			evbuffer_add_printf(out, "webhookd_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
			    route_names[r], (unsigned long long)n);
		else
			evbuffer_add_printf(out, "webhookd_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
			    route_names[r], statuses[s], (unsigned long long)n);
	}
}

static void
render_latency(struct evbuffer *out, int r)
{
	uint64_t cum = 0;
	size_t b;

	for (b = 0; b <= NBUCKET; b++) {
		cum += load(&latency_bucket[r][b]);
		if (b < NBUCKET)
			evbuffer_add_printf(out, "webhookd_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
			    route_names[r], (double)buckets_us[b] / 1e6, (unsigned long long)cum);
		else
			evbuffer_add_printf(out, "webhookd_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
			    route_names[r], (unsigned long long)cum);
	}
	evbuffer_add_printf(out, "webhookd_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
	    route_names[r], (double)load(&latency_sum_us[r]) / 1e6);
	evbuffer_add_printf(out, "webhookd_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
	    route_names[r], (unsigned long long)cum);
}

void
metrics_render(struct evbuffer *out)
{
	size_t i;
	int r;

	evbuffer_add_printf(out, "# HELP webhookd_http_requests_total HTTP requests by route and status.\n"
	    "# TYPE webhookd_http_requests_total counter\n");
	for (r = 0; r < nroutes; r++)
		render_requests(out, r);
	evbuffer_add_printf(out, "# HELP webhookd_http_request_duration_seconds Request latency.\n"
	    "# TYPE webhookd_http_request_duration_seconds histogram\n");
	for (r = 0; r < nroutes; r++)
		render_latency(out, r);
	for (i = 0; i < NCOUNTER; i++)
		evbuffer_add_printf(out, "# TYPE webhookd_%s_total counter\nwebhookd_%s_total %llu\n",
		    counter_names[i], counter_names[i], (unsigned long long)load(&counters[i]));
	for (i = 0; i < NGAUGE; i++)
		evbuffer_add_printf(out, "# TYPE webhookd_%s gauge\nwebhookd_%s %lld\n",
		    gauge_names[i], gauge_names[i],
		    (long long)atomic_load_explicit(&gauges[i], memory_order_relaxed));
}
