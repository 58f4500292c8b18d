/* deliver — one attempt of one PUSH delivery: the request (payload as
 * published, CloudEvents binary headers, Standard Webhooks signature,
 * credentials, static headers from additionalProperties), sent with httpc,
 * and its outcome (delivered, retry later, failed, destination gone) with
 * what the attempt log keeps. The dispatcher owns the job and stores the
 * outcome; nothing here touches the database. */
#ifndef WEBHOOKD_DELIVER_H
#define WEBHOOKD_DELIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

struct httpc;
struct oauth;
struct secrets;
struct retry_policy;

/* The columns deliver_job_new reads, in order; the claim query returns
 * them (dispatch.c). */
#define DELIVER_COLUMNS \
	"d.pk, d.id, d.attempts, d.destination_pk, e.id, e.integration_object," \
	" e.action, e.subject_key," \
	" to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')," \
	" e.payload, cd.url, cd.timeout_millis, cd.ignore_errors, cd.signing_algorithm," \
	" cd.signing_secret," \
	" CASE WHEN cd.signing_secret_rotated_at > now() - make_interval(secs => $4)" \
	"  THEN cd.signing_secret_prev END," \
	" bc.username, bc.password, oc.client_id, oc.client_secret, oc.oauth_url, oc.scope," \
	" (SELECT json_agg(json_build_array(substr(m.key, 8), m.value))" \
	"  FROM webhookd.string2string_map m WHERE m.owner_pk = cd.pk" \
	"  AND m.key LIKE 'header:%' AND m.value IS NOT NULL)"
/* The joins those columns need, beside delivery d, event e and
 * consumed_destination cd. */
#define DELIVER_JOINS \
	" LEFT JOIN webhookd.basic_credential bc ON bc.pk = cd.credential_basic_pk" \
	" LEFT JOIN webhookd.consumed_oauth_credential oc" \
	"  ON oc.pk = cd.credential_consumed_oauth_pk"

enum deliver_status {
	DELIVER_DELIVERED,
	DELIVER_RETRY,      /* PENDING again after delay_ms */
	DELIVER_FAILED,     /* no attempt left, or ignoreErrors */
};

struct deliver_outcome {
	enum deliver_status status;
	bool gone;              /* 410: deactivate the destination */
	bool counts;            /* counts for or against the destination's health
	                           (false with ignoreErrors) */
	int status_code;        /* 0: no response */
	int attempt_no;         /* 1-based */
	long long delay_ms;     /* DELIVER_RETRY */
	struct timespec started;/* CLOCK_REALTIME */
	int duration_ms;
	char error[256];        /* "" on success */
	char *excerpt;          /* response body, valid UTF-8, <= 4 KiB, or NULL */
};

struct deliver_ctx {            /* per dispatcher thread */
	struct httpc *http;
	struct oauth *oauth;
	const struct secrets *secrets;
	const struct retry_policy *retry;
	long connect_timeout_ms;
	unsigned rand_state;
};

struct deliver_job;
typedef void (*deliver_cb)(void *arg, struct deliver_job *job,
                           const struct deliver_outcome *out);

/* A job from row i of the claim result; NULL when out of memory. A
 * secret that does not decrypt is not an error here: the attempt then
 * fails with that reason (and is retried, in case the keyring changes). */
struct deliver_job *deliver_job_new(const PGresult *res, int row);
void deliver_job_free(struct deliver_job *job);
int64_t deliver_job_pk(const struct deliver_job *job);
int64_t deliver_job_destination(const struct deliver_job *job);

/* Start the attempt; cb runs exactly once from the loop with the outcome
 * (also when the request cannot even start). */
void deliver_start(struct deliver_ctx *ctx, struct deliver_job *job,
                   deliver_cb cb, void *arg);

#endif
