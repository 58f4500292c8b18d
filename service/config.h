/* config — webhookd.conf (`key = value`) plus WEBHOOKD_<KEY> overrides. */
#ifndef WEBHOOKD_CONFIG_H
#define WEBHOOKD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config {
	/* listener */
	char   *listen_address;      /* "0.0.0.0" */
	int     port;                /* 9002 */
	int     workers;             /* 0 = one per core */
	bool    tls;                 /* true; false = plain HTTP (behind a proxy) */
	char   *tls_cert_file;       /* "var/tls/cert.pem" */
	char   *tls_key_file;        /* "var/tls/key.pem" */
	/* limits */
	size_t  max_header_size;     /* 16384 bytes: request line + headers */
	size_t  max_body_size;       /* 1048576 bytes */
	int     request_timeout_ms;  /* 30000: whole request must arrive by then */
	int     idle_timeout_ms;     /* 60000: keep-alive connection with no request */
	int     max_connections;     /* 1024, over all workers */
	int     shutdown_timeout_ms; /* 10000: drain bound on SIGTERM */
	/* database */
	char   *database_url;        /* libpq conninfo or URI */
	int     db_pool_size;        /* 4 connections per worker */
	int     db_queue_max;        /* 1024 queued queries per worker, then 503 */
	int     db_reconnect_min_ms; /* 100 */
	int     db_reconnect_max_ms; /* 5000 */
	int     db_statement_timeout_ms; /* 30000: server-side limit per statement, 0 = none */
	int     retry_after_s;       /* 5: Retry-After on 503 */
	/* security */
	char   *master_key_file;     /* "var/master.key" */
	int     auth_cache_ttl_s;    /* 30 */
	int     kdf_threads;         /* 1 */
	int     kdf_queue_max;       /* 64 pending verifications, then 503 */
	int     kdf_iterations;      /* 600000: PBKDF2 rounds for new hashes (min 1000) */
	/* OData */
	int     odata_page_size;     /* 10: rows per page without $top */
	int     odata_page_max;      /* 1000: most rows per page */
	int     batch_max_requests;  /* 200: requests in one $batch */
	char   *cors_allowed_origins; /* "": comma-separated origins (or *) allowed by CORS */
	/* dispatcher */
	bool    dispatcher;          /* true: run the dispatcher in this instance */
	int     dispatcher_threads;  /* 1 */
	int     dispatch_batch;      /* 200 events or deliveries per claim */
	int     dispatch_poll_ms;    /* 1000: poll without NOTIFY */
	int     dispatch_max_connections; /* 512 outgoing connections per thread */
	char   *retry_schedule;      /* "0,5s,5m,30m,2h,5h,10h,10h" (config_durations) */
	int     retry_jitter_percent; /* 20 */
	int     connect_timeout_ms;  /* 5000 */
	int     deactivate_after_s;  /* 432000 (5 days) */
	int     lease_margin_s;      /* 30 */
	int     attempt_retention_s; /* 2592000 (30 days) */
	int     event_retention_s;   /* 2592000 */
	int     purge_batch;         /* 1000 rows per purge statement */
	int     purge_interval_s;    /* 60 */
	int     rotation_overlap_s;  /* 86400 */
	int     publish_max_events;  /* 100 */
	size_t  pull_batch_size;     /* 524288: default maxBatchSize */
	int     pull_max_events;     /* 1000 per pull */
	int     pull_retention_s;    /* 2592000 (30 days) */
	int     pull_inactivity_s;   /* 2592000 */
	int     inbound_tolerance_s; /* 300 */
	char   *ssrf_allow;          /* "": CIDR list (ssrf_allow_parse) */
	/* logging */
	char   *access_log;          /* "-" = stdout, else a path (reopened on SIGHUP) */
	char   *log_level;           /* "info": debug|info|warn|error */
};

#define CONFIG_DURATIONS_MAX 32

/* Parse "0, 500ms, 5s, 5m, 2h, 1d" (bare numbers are seconds; each at most
 * 30 days) into ms[0..n); returns n (1..max) or -1. */
int config_durations(const char *list, long long *ms, int max);

/* Fill *cfg with the defaults above. */
void config_defaults(struct config *cfg);

/* Read `path` (NULL: defaults only) then apply WEBHOOKD_<KEY> variables from
 * the environment. On error returns -1 and writes one line such as
 * "webhookd.conf:12: unknown key 'prot'" or
 * "environment WEBHOOKD_PORT: expected an integer in 1..65535, got 'x'"
 * into err (errlen bytes). A missing file given explicitly is an error. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Set one key from text; `where` is used only for the error message. */
int config_set(struct config *cfg, const char *key, const char *value,
               const char *where, char *err, size_t errlen);

/* Print every key with its current value, `key = value` per line. */
/* stream is a FILE *; void * keeps <stdio.h> out of this header. */
void config_dump(const struct config *cfg, void *stream);

void config_free(struct config *cfg);

#endif
