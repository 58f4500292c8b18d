/* dispatch — see dispatch.h.
 *
 * Every thread is a small state machine driven by kick(): each kind of
 * database work (cache page, fan-out, claim, flush, janitor) has one
 * busy flag, so at most one query of each kind runs at a time and kick()
 * starts whatever is wanted and idle. Wake-ups come from NOTIFY, from the
 * poll timer and from finished work. */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "config.h"
#include "db.h"
#include "deliver.h"
#include "httpc.h"
#include "log.h"
#include "match.h"
#include "metrics.h"
#include "oauth.h"
#include "retry.h"
#include "server.h"
#include "ssrf.h"
#include "strbuf.h"

#define CHANNEL          DISPATCH_CHANNEL
#define CACHE_PAGE       5000
#define CACHE_MAX_AGE_S  600     /* reload at least this often (config_change purge) */
#define JANITOR_MS       1000
#define GAUGES_EVERY_S   5
#define HITS_START       64

/* Inbound requests (inbound.c commits the row alone) become events here,
 * in the same transaction as the claim that fans them out: a batch either
 * converts and leases or does neither. A duplicate is linked to the event
 * of the first request with its sender id. */
static const char convert_sql[] =
	"WITH c AS (SELECT pk FROM webhookd.inbound_request WHERE NOT processed"
	"  ORDER BY pk LIMIT $1::int FOR UPDATE SKIP LOCKED),"
	" e AS (INSERT INTO webhookd.event (id, integration_object, action, subject_key,"
	"  payload, occurred_at, received_at, source)"
	"  SELECT r.event_id, r.integration_object, r.action, r.sender_id, r.body,"
	"  r.received_at, r.received_at, r.source"
	"  FROM c JOIN webhookd.inbound_request r ON r.pk = c.pk WHERE NOT r.duplicate"
	"  ON CONFLICT (id) DO NOTHING RETURNING pk, id)"
	" UPDATE webhookd.inbound_request r SET processed = true, body = NULL,"
	" event_pk = coalesce((SELECT e.pk FROM e WHERE e.id = r.event_id),"
	"  (SELECT x.pk FROM webhookd.event x WHERE x.id = r.event_id))"
	" FROM c WHERE r.pk = c.pk";

static const char fanout_claim_sql[] =
	"UPDATE webhookd.event e SET fanout_lease_until = now()"
	" + make_interval(secs => $3::int) WHERE e.pk = ANY (ARRAY(SELECT pk FROM webhookd.event WHERE NOT fanned_out"
	" AND (fanout_lease_until IS NULL OR fanout_lease_until < now())"
	" ORDER BY pk LIMIT $1::int FOR UPDATE SKIP LOCKED))"
	" RETURNING e.pk, e.integration_object, e.action, e.payload,"
	" EXISTS (SELECT 1 FROM webhookd.config_change c"
	"  WHERE NOT pg_visible_in_snapshot(c.xid, $2::pg_snapshot))";

/* A match for a PULL destination is appended to its stream: numbered from
 * destination_state.stream_end, taken by INSERT .. ON CONFLICT DO UPDATE so
 * that its row lock orders the fan-outs of one stream by commit, and never
 * claimed (next_attempt_at infinity). PUSH destinations' state rows are
 * only created here, never locked, so claims are not held up. */
static const char fanout_store_sql[] =
	"WITH m AS (SELECT u.*, cd.integration_key AS dkey,"
	"  ch.code = 'PULL' AND u.err IS NULL AS stream"
	"  FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(event_pk, dest_pk, err)"
	"  JOIN webhookd.consumed_destination cd ON cd.pk = u.dest_pk"
	"  JOIN webhookd.destination_target dt ON dt.pk = cd.destination_target_pk"
	"  JOIN webhookd.destination_channel ch ON ch.pk = dt.destination_channel_pk),"
	" n AS (SELECT dest_pk, count(*) FILTER (WHERE stream) AS cnt FROM m GROUP BY dest_pk),"
	" st AS (INSERT INTO webhookd.destination_state (destination_pk)"
	"  SELECT dest_pk FROM n WHERE cnt = 0 ORDER BY 1 ON CONFLICT DO NOTHING),"
	" sp AS (INSERT INTO webhookd.destination_state AS s (destination_pk, stream_end)"
	"  SELECT dest_pk, cnt FROM n WHERE cnt > 0 ORDER BY 1"
	"  ON CONFLICT (destination_pk) DO UPDATE SET stream_end = s.stream_end + EXCLUDED.stream_end"
	"  RETURNING s.destination_pk, s.stream_end),"
	" sb AS (INSERT INTO webhookd.subscription (destination_pk)"
	"  SELECT dest_pk FROM n WHERE cnt > 0 ORDER BY 1 ON CONFLICT DO NOTHING),"
	" d AS (INSERT INTO webhookd.delivery (event_pk, destination_pk, destination_key, status,"
	"  next_attempt_at, stream_offset)"
	"  SELECT m.event_pk, m.dest_pk, m.dkey,"
	"  CASE WHEN m.err IS NULL THEN 'PENDING' ELSE 'DISCARDED' END,"
	"  CASE WHEN m.stream THEN 'infinity'::timestamptz ELSE now() END,"
	"  CASE WHEN m.stream THEN sp.stream_end - n.cnt - 1 + row_number() OVER"
	"   (PARTITION BY m.dest_pk, m.stream ORDER BY m.event_pk) END"
	"  FROM m JOIN n ON n.dest_pk = m.dest_pk LEFT JOIN sp ON sp.destination_pk = m.dest_pk"
	"  ON CONFLICT (event_pk, destination_pk) DO NOTHING"
	"  RETURNING pk, event_pk, destination_pk)"
	" INSERT INTO webhookd.delivery_attempt (delivery_pk, attempt_no, started_at, error)"
	" SELECT d.pk, 0, now(), m.err FROM d JOIN m ON m.event_pk = d.event_pk"
	" AND m.dest_pk = d.destination_pk WHERE m.err IS NOT NULL";

static const char fanout_done_sql[] =
	"UPDATE webhookd.event SET fanned_out = true, fanout_lease_until = NULL"
	" WHERE pk = ANY($1::bigint[])";

static const char notify_delivery_sql[] =
	"SELECT pg_notify('" CHANNEL "', 'delivery')";

/* Destinations with due deliveries are found by a loose index scan (one
 * probe per destination with anything pending, not one per delivery), so
 * a destination with a large backlog cannot hide the others; each is
 * locked (SKIP LOCKED) so that maxInFlight holds across instances. */
static const char claim_sql[] =
	"WITH RECURSIVE dests(pk) AS ("
	" (SELECT destination_pk FROM webhookd.delivery WHERE status = 'PENDING'"
	"  AND destination_pk IS NOT NULL ORDER BY destination_pk LIMIT 1)"
	" UNION ALL"
	" SELECT (SELECT d.destination_pk FROM webhookd.delivery d WHERE d.status = 'PENDING'"
	"  AND d.destination_pk > dests.pk ORDER BY d.destination_pk LIMIT 1)"
	" FROM dests WHERE dests.pk IS NOT NULL"
	"), ds AS ("
	" SELECT s.destination_pk, cd.max_in_flight - (SELECT count(*) FROM webhookd.delivery f"
	"  WHERE f.destination_pk = s.destination_pk AND f.status = 'IN_FLIGHT') AS room"
	" FROM webhookd.destination_state s"
	" JOIN webhookd.consumed_destination cd ON cd.pk = s.destination_pk AND cd.active"
	" WHERE s.destination_pk IN (SELECT pk FROM dests WHERE pk IS NOT NULL)"
	"  AND EXISTS (SELECT 1 FROM webhookd.delivery x WHERE x.destination_pk = s.destination_pk"
	"  AND x.status = 'PENDING' AND x.next_attempt_at <= now())"
	" FOR UPDATE OF s SKIP LOCKED"
	"), pick AS MATERIALIZED ("
	" SELECT c.pk FROM (SELECT y.pk, ds.room, row_number() OVER"
	"  (PARTITION BY ds.destination_pk ORDER BY y.next_attempt_at) AS rn"
	"  FROM ds CROSS JOIN LATERAL (SELECT d.pk, d.next_attempt_at FROM webhookd.delivery d"
	"   WHERE d.destination_pk = ds.destination_pk AND d.status = 'PENDING'"
	"   AND d.next_attempt_at <= now() ORDER BY d.next_attempt_at LIMIT $2::int) y"
	"  WHERE ds.room > 0) c"
	" WHERE c.rn <= c.room LIMIT $2::int"
	")"
	" UPDATE webhookd.delivery d SET status = 'IN_FLIGHT', lease_owner = $1,"
	" lease_until = now() + make_interval(secs => cd.timeout_millis / 1000.0 + $3::int)"
	" FROM webhookd.event e, webhookd.consumed_destination cd" DELIVER_JOINS
	" WHERE d.pk = ANY (ARRAY(SELECT pk FROM pick)) AND d.status = 'PENDING' AND e.pk = d.event_pk"
	" AND cd.pk = d.destination_pk"
	" RETURNING " DELIVER_COLUMNS;

static const char flush_sql[] =
	"WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[],"
	"  $5::bigint[], $6::float8[], $7::int[], $8::text[], $9::text[])"
	"  AS r(pk, status, code, attempt_no, delay_ms, started, duration, error, excerpt)),"
	" a AS (INSERT INTO webhookd.delivery_attempt (delivery_pk, attempt_no, started_at,"
	"  duration_ms, status_code, error, response_excerpt)"
	"  SELECT r.pk, r.attempt_no, to_timestamp(r.started), r.duration, r.code, r.error,"
	"  r.excerpt FROM r JOIN webhookd.delivery x ON x.pk = r.pk)"
	" UPDATE webhookd.delivery d SET status = r.status, attempts = r.attempt_no,"
	" last_status_code = r.code,"
	" next_attempt_at = CASE WHEN r.status = 'PENDING'"
	"  THEN now() + r.delay_ms * interval '1 millisecond' ELSE d.next_attempt_at END,"
	" delivered_at = CASE WHEN r.status = 'DELIVERED' THEN now() ELSE d.delivered_at END,"
	" lease_owner = NULL, lease_until = NULL"
	" FROM r WHERE d.pk = r.pk AND d.status NOT IN ('DELIVERED', 'DISCARDED')";

static const char health_sql[] =
	"UPDATE webhookd.destination_state s SET failing_since = CASE WHEN h.ok THEN NULL"
	" ELSE coalesce(s.failing_since, to_timestamp(h.since)) END"
	" FROM (SELECT * FROM unnest($1::bigint[], $2::bool[], $3::float8[]) AS h(dest, ok, since)"
	" ORDER BY dest) h WHERE s.destination_pk = h.dest";

static const char deactivate_sql[] =
	"SELECT webhookd.deactivate_destinations($1::bigint[], $2::bigint[], $3::float8)";

/* Every second: leases past their end go back to PENDING; and stream
 * deliveries a PULL consumer has committed past are marked DELIVERED (a
 * pull only moves the cursor, so that it stays one row's write). */
static const char lease_expiry_sql[] =
	"WITH m AS (UPDATE webhookd.delivery d SET status = 'DELIVERED', delivered_at = now(),"
	"  attempts = d.attempts + 1 WHERE d.pk IN (SELECT x.pk FROM webhookd.subscription s"
	"  JOIN webhookd.delivery x ON x.destination_pk = s.destination_pk"
	"  AND x.stream_offset < s.cursor AND x.stream_offset IS NOT NULL AND x.status = 'PENDING'"
	"  LIMIT $1::int) RETURNING 1),"
	" l AS (UPDATE webhookd.delivery SET status = 'PENDING', lease_owner = NULL,"
	"  lease_until = NULL WHERE status = 'IN_FLIGHT' AND lease_until < now() RETURNING 1)"
	" SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM m)";

static const char release_sql[] =
	"UPDATE webhookd.delivery SET status = 'PENDING', lease_owner = NULL, lease_until = NULL"
	" WHERE status = 'IN_FLIGHT' AND lease_owner = $1";

static const char *const purge_sql[] = {
	"DELETE FROM webhookd.delivery_attempt WHERE pk IN (SELECT pk FROM"
	" webhookd.delivery_attempt WHERE started_at < now() - make_interval(secs => $1::int)"
	" LIMIT $2::int)",
	"DELETE FROM webhookd.event WHERE pk IN (SELECT e.pk FROM webhookd.event e"
	" WHERE e.received_at < now() - make_interval(secs => $1::int) AND e.fanned_out"
	" AND NOT EXISTS (SELECT 1 FROM webhookd.delivery d WHERE d.event_pk = e.pk"
	"  AND d.status IN ('PENDING', 'IN_FLIGHT')) LIMIT $2::int)",
	"DELETE FROM webhookd.inbound_request WHERE pk IN (SELECT pk FROM"
	" webhookd.inbound_request WHERE received_at < now() - make_interval(secs => $1::int)"
	" AND processed LIMIT $2::int)",
	"DELETE FROM webhookd.config_change WHERE at < now() - interval '1 hour'",
};
#define NPURGE ((int)(sizeof(purge_sql) / sizeof(purge_sql[0])))

/* PULL streams: unread events past retention are discarded (reads already
 * skip them), and subscriptions nobody pulled from are deactivated. */
static const char streams_sql[] =
	"WITH x AS (UPDATE webhookd.delivery SET status = 'DISCARDED' WHERE pk IN"
	" (SELECT pk FROM webhookd.delivery WHERE stream_offset IS NOT NULL AND status = 'PENDING'"
	"  AND created_at < now() - make_interval(secs => $1::int) LIMIT $3::int) RETURNING 1)"
	" SELECT webhookd.deactivate_subscriptions($2::float8), (SELECT count(*) FROM x)";

static const char gauges_sql[] =
	"SELECT count(*), coalesce(extract(epoch FROM now() - min(next_attempt_at))::bigint, 0)"
	" FROM webhookd.delivery WHERE status = 'PENDING' AND next_attempt_at <= now()";

/* One finished attempt waiting to be stored. */
struct done {
	int64_t pk, dest;
	const char *status;
	int code, attempt_no, duration_ms;
	long long delay_ms;
	double started;
	bool counts, ok, gone;
	char *error, *excerpt;
};

struct claimed_event {
	int64_t pk;
	char *io, *payload;
	unsigned action;
};

struct dthread {
	int id;
	struct dispatch *d;
	pthread_t thread;
	struct event_base *base;
	struct db_pool *db;
	struct httpc *http;
	struct oauth *oauth;
	struct deliver_ctx dctx;
	struct event poll_ev, kick_ev, janitor_ev, drain_ev, wake_ev;
	atomic_bool wake_fanout, wake_claim;
	/* thread 0: cache and fan-out */
	struct match_cache *cache, *loading;
	int64_t load_last;
	time_t cache_loaded;
	bool cache_stale, loading_busy;
	struct claimed_event *events;
	int nevents;
	bool want_fanout;
	enum { FANOUT_IDLE, FANOUT_CLAIMING, FANOUT_WAIT_CACHE, FANOUT_STORING } fanout;
	struct match_hit *hits;
	int maxhits;
	/* every thread: claims and attempts */
	bool want_claim, claim_busy;
	int inflight;
	struct done *done;
	int ndone, capdone;
	bool flush_busy;
	int flush_n;               /* entries of done[] in the running flush */
	/* janitor (thread 0) */
	bool janitor_busy;
	time_t last_purge, last_gauges, last_streams;
	int purge_step;
	/* shutdown */
	bool draining, releasing, finished;
	struct timespec drain_deadline;
};

struct dispatch {
	struct server *srv;
	const struct config *cfg;
	struct retry_policy retry;
	struct ssrf_allow allow;
	char owner[96];
	int nthreads;
	struct dthread *t;
	atomic_int finished;
};

static void kick(struct dthread *t);

static void
schedule_kick(struct dthread *t)
{
	if (!t->finished)
		event_active(&t->kick_ev, 0, 0);
}

/* ---- configuration cache (thread 0) ---------------------------------- */

static void load_page(struct dthread *t);

static void
page_loaded(void *arg, const struct db_result *r)
{
	struct dthread *t = arg;
	int n;

	if (r->status != DB_OK || (n = match_add_rows(t->loading, r->res, &t->load_last)) < 0) {
		log_warn("dispatcher: loading configurations failed: %s",
		    r->message ? r->message : "out of memory");
		match_free(t->loading);
		t->loading = NULL;
		t->loading_busy = false;
		return;      /* the poll retries; the old cache keeps serving */
	}
	if (n == CACHE_PAGE) {
		load_page(t);
		return;
	}
	match_free(t->cache);
	t->cache = t->loading;
	t->loading = NULL;
	t->loading_busy = false;
	t->cache_loaded = time(NULL);
	log_debug("dispatcher: %zu configurations cached", match_count(t->cache));
	schedule_kick(t);
}

static void
load_page(struct dthread *t)
{
	char last[24], page[16];
	const char *p[2] = { last, page };

	snprintf(last, sizeof(last), "%" PRId64, t->load_last);
	snprintf(page, sizeof(page), "%d", CACHE_PAGE);
	if (db_query(t->db, match_load_sql, 2, p, page_loaded, t) < 0) {
		match_free(t->loading);
		t->loading = NULL;
		t->loading_busy = false;
	}
}

static void
load_cache(struct dthread *t)
{
	if ((t->loading = match_new()) == NULL)
		return;
	t->loading_busy = true;
	t->cache_stale = false;
	t->load_last = 0;
	load_page(t);
}

/* ---- fan-out (thread 0) ---------------------------------------------- */

static void
events_clear(struct dthread *t)
{
	for (int i = 0; i < t->nevents; i++) {
		free(t->events[i].io);
		free(t->events[i].payload);
	}
	free(t->events);
	t->events = NULL;
	t->nevents = 0;
}

/* Element of a PostgreSQL array literal: NULL, or a quoted string. */
static void
array_text(struct strbuf *b, const char *s)
{
	if (b->len > 1)
		strbuf_addc(b, ',');
	if (s == NULL) {
		strbuf_adds(b, "NULL");
		return;
	}
	strbuf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_addc(b, '\\');
		strbuf_addc(b, *s);
	}
	strbuf_addc(b, '"');
}

static void
array_num(struct strbuf *b, long long v, bool null)
{
	if (b->len > 1)
		strbuf_addc(b, ',');
	if (null)
		strbuf_adds(b, "NULL");
	else
		strbuf_addf(b, "%lld", v);
}

static void fanout_stored(void *arg, const struct db_batch_result *r);

/* Match every claimed event, then store the deliveries and mark the
 * events done, in one transaction. */
static void
fanout_match(struct dthread *t)
{
	struct strbuf ev, dest, err, all;
	int nhits = 0, rc;

	strbuf_init(&ev), strbuf_init(&dest), strbuf_init(&err), strbuf_init(&all);
	strbuf_addc(&ev, '{'), strbuf_addc(&dest, '{'), strbuf_addc(&err, '{');
	strbuf_addc(&all, '{');
	for (int i = 0; i < t->nevents; i++) {
		struct claimed_event *e = &t->events[i];
		json_t *payload = match_needs_payload(t->cache, e->io) ?
		    json_loads(e->payload, 0, NULL) : NULL;

		while ((rc = match_event(t->cache, e->io, e->action, payload, t->hits,
		    t->maxhits)) < 0) {
			struct match_hit *h = realloc(t->hits, 2 * (size_t)t->maxhits * sizeof(*h));

			if (h == NULL)
				break;
			t->hits = h;
			t->maxhits *= 2;
		}
		json_decref(payload);
		array_num(&all, e->pk, false);
		for (int k = 0; k < rc; k++) {
			array_num(&ev, e->pk, false);
			array_num(&dest, t->hits[k].destination_pk, false);
			array_text(&err, t->hits[k].failed ? t->hits[k].error : NULL);
			if (t->hits[k].failed)
				metrics_count("deliveries_discarded");
		}
		nhits += rc > 0 ? rc : 0;
		metrics_count("events_fanned_out");
	}
	strbuf_addc(&ev, '}'), strbuf_addc(&dest, '}'), strbuf_addc(&err, '}');
	strbuf_addc(&all, '}');
	t->fanout = FANOUT_STORING;
	if (ev.failed || dest.failed || err.failed || all.failed) {
		events_clear(t);            /* the lease expires; retried then */
		t->fanout = FANOUT_IDLE;
	} else {
		const char *p1[3] = { ev.s, dest.s, err.s }, *p2[1] = { all.s };
		struct db_stmt s[3] = { { fanout_store_sql, 3, p1 },
		    { fanout_done_sql, 1, p2 }, { notify_delivery_sql, 0, NULL } };

		if (db_batch(t->db, s, 2, fanout_stored, t) < 0) {
			events_clear(t);
			t->fanout = FANOUT_IDLE;
		}
	}
	strbuf_free(&ev), strbuf_free(&dest), strbuf_free(&err), strbuf_free(&all);
}

static void
fanout_stored(void *arg, const struct db_batch_result *r)
{
	struct dthread *t = arg;
	bool full = t->nevents == t->d->cfg->dispatch_batch;

	if (r->status != DB_OK)
		log_warn("dispatcher: storing deliveries failed: %s", r->message);
	events_clear(t);
	t->fanout = FANOUT_IDLE;
	if (r->status == DB_OK) {
		if (full)
			t->want_fanout = true;
		t->want_claim = true;
		dispatch_wake(t->d, 0);
	}
	schedule_kick(t);
}

static unsigned
action_bit(const char *a)
{
	return strcmp(a, "created") == 0 ? MATCH_CREATED :
	    strcmp(a, "updated") == 0 ? MATCH_UPDATED : MATCH_DELETED;
}

static void
fanout_claimed(void *arg, const struct db_batch_result *br)
{
	struct dthread *t = arg;
	const struct db_result r1 = { .res = br->status == DB_OK ? br->res[1] : NULL };
	const struct db_result *r = &r1;
	int n;
	bool stale = false;

	if (br->status != DB_OK) {
		log_warn("dispatcher: claiming events failed: %s",
		    br->message ? br->message : "database unavailable");
		t->fanout = FANOUT_IDLE;
		return;
	}
	/* a full batch of inbound requests converted: more may wait */
	if (atoi(PQcmdTuples(br->res[0])) >= t->d->cfg->dispatch_batch)
		t->want_fanout = true;
	n = PQntuples(r->res);
	t->fanout = FANOUT_IDLE;
	if (n == 0) {
		schedule_kick(t);
		return;
	}
	if ((t->events = calloc((size_t)n, sizeof(*t->events))) == NULL)
		return;
	for (int i = 0; i < n; i++) {
		struct claimed_event *e = &t->events[t->nevents++];

		e->pk = strtoll(PQgetvalue(r->res, i, 0), NULL, 10);
		e->io = strdup(PQgetvalue(r->res, i, 1));
		e->action = action_bit(PQgetvalue(r->res, i, 2));
		e->payload = strdup(PQgetvalue(r->res, i, 3));
		stale |= PQgetvalue(r->res, i, 4)[0] == 't';
		if (!e->io || !e->payload) {
			events_clear(t);
			return;
		}
	}
	/* A configuration committed before these events is missing from the
	 * cache: reload first, match after (kick() resumes). */
	if (stale) {
		t->cache_stale = true;
		t->fanout = FANOUT_WAIT_CACHE;
		schedule_kick(t);
		return;
	}
	fanout_match(t);
}

static void
fanout_start(struct dthread *t)
{
	char lim[16], lease[16];
	const char *p[3] = { lim, match_snapshot(t->cache), lease };
	const struct db_stmt s[2] = { { convert_sql, 1, p }, { fanout_claim_sql, 3, p } };

	snprintf(lim, sizeof(lim), "%d", t->d->cfg->dispatch_batch);
	/* Matching and storing take milliseconds; a short lease only risks
	 * a second fan-out of the same events, which the unique (event,
	 * destination) makes harmless. */
	snprintf(lease, sizeof(lease), "%d", t->d->cfg->lease_margin_s);

	t->fanout = FANOUT_CLAIMING;
	t->want_fanout = false;
	if (db_batch(t->db, s, 2, fanout_claimed, t) < 0)
		t->fanout = FANOUT_IDLE;
}

/* ---- claims and attempts (every thread) ------------------------------ */

static void
attempt_done(void *arg, struct deliver_job *job, const struct deliver_outcome *o)
{
	struct dthread *t = arg;
	struct done *x;

	if (t->ndone == t->capdone) {
		int cap = t->capdone ? t->capdone * 2 : 64;
		struct done *v = realloc(t->done, (size_t)cap * sizeof(*v));

		if (v == NULL) {
			/* Not stored: the lease expires and the delivery is
			 * attempted again. Duplicates, never loss. */
			t->inflight--;
			deliver_job_free(job);
			return;
		}
		t->done = v;
		t->capdone = cap;
	}
	x = &t->done[t->ndone++];
	memset(x, 0, sizeof(*x));
	x->pk = deliver_job_pk(job);
	x->dest = deliver_job_destination(job);
	x->code = o->status_code;
	x->attempt_no = o->attempt_no;
	x->duration_ms = o->duration_ms;
	x->delay_ms = o->delay_ms;
	x->started = (double)o->started.tv_sec + o->started.tv_nsec / 1e9;
	x->counts = o->counts;
	x->gone = o->gone;
	x->ok = o->status == DELIVER_DELIVERED;
	x->status = o->status == DELIVER_DELIVERED ? "DELIVERED" :
	    o->status == DELIVER_RETRY ? "PENDING" : "FAILED";
	x->error = o->error[0] ? strdup(o->error) : NULL;
	x->excerpt = o->excerpt ? strdup(o->excerpt) : NULL;
	metrics_count(o->status == DELIVER_DELIVERED ? "deliveries_delivered" :
	    o->status == DELIVER_RETRY ? "deliveries_retried" : "deliveries_failed");
	t->inflight--;
	deliver_job_free(job);
	t->want_claim = true;
	schedule_kick(t);
}

static void
claimed(void *arg, const struct db_result *r)
{
	struct dthread *t = arg;
	int n;

	t->claim_busy = false;
	if (r->status != DB_OK) {
		log_warn("dispatcher: claiming deliveries failed: %s",
		    r->message ? r->message : "database unavailable");
		return;
	}
	n = PQntuples(r->res);
	if (n > 0)
		t->want_claim = true;   /* claim_start cleared it; keep wake-ups that came meanwhile */
	for (int i = 0; i < n; i++) {
		struct deliver_job *job = deliver_job_new(r->res, i);

		if (job == NULL)
			continue;     /* its lease expires: attempted later */
		t->inflight++;
		deliver_start(&t->dctx, job, attempt_done, t);
	}
	schedule_kick(t);
}

static void
claim_start(struct dthread *t)
{
	const struct config *cfg = t->d->cfg;
	int room = cfg->dispatch_max_connections - t->inflight;
	char lim[16], margin[16], overlap[16];
	const char *p[4] = { t->d->owner, lim, margin, overlap };

	if (room <= 0)
		return;
	snprintf(lim, sizeof(lim), "%d", room < cfg->dispatch_batch ? room : cfg->dispatch_batch);
	snprintf(margin, sizeof(margin), "%d", cfg->lease_margin_s);
	snprintf(overlap, sizeof(overlap), "%d", cfg->rotation_overlap_s);
	t->claim_busy = true;
	t->want_claim = false;
	if (db_query(t->db, claim_sql, 4, p, claimed, t) < 0)
		t->claim_busy = false;
}

/* ---- storing outcomes ------------------------------------------------- */

static void
done_clear(struct dthread *t, int n)
{
	if (n == 0)
		return;        /* also: done may still be NULL, never allocated */
	for (int i = 0; i < n; i++) {
		free(t->done[i].error);
		free(t->done[i].excerpt);
	}
	memmove(t->done, t->done + n, (size_t)(t->ndone - n) * sizeof(*t->done));
	t->ndone -= n;
}

/* Errors worth trying the same statements again for: serialization and
 * deadlocks, the server going away, resource limits. */
static bool
transient(const char *sqlstate)
{
	static const char *const classes[] = { "40", "57", "08", "53", "55" };

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strncmp(sqlstate, classes[i], 2) == 0)
			return true;
	return false;
}

static void
flushed(void *arg, const struct db_batch_result *r)
{
	struct dthread *t = arg;

	t->flush_busy = false;
	if (r->status == DB_SQL_ERROR && !transient(r->sqlstate)) {
		/* Never a poison pill: a batch PostgreSQL refuses for what it
		 * holds is dropped, its leases expire and the deliveries are
		 * attempted again. */
		log_error("dispatcher: storing %d attempt(s) refused, dropped: %s",
		    t->flush_n, r->message);
		done_clear(t, t->flush_n);
		return;
	}
	if (r->status != DB_OK) {
		/* Kept and stored again by the next flush. */
		log_warn("dispatcher: storing attempts failed (kept): %s", r->message);
		return;
	}
	if (r->n == 4 && PQntuples(r->res[3]) == 1 && atoi(PQgetvalue(r->res[3], 0, 0)) > 0) {
		metrics_count("destinations_deactivated");
		log_info("dispatcher: deactivated %s destination(s)", PQgetvalue(r->res[3], 0, 0));
	}
	done_clear(t, t->flush_n);
	t->want_claim = true;     /* stored outcomes free room in maxInFlight */
	schedule_kick(t);
}

/* Per destination in this flush: whether its last counted outcome was a
 * success, and when the failures after its last success began. */
static void
health_arrays(struct dthread *t, int n, struct strbuf *dests, struct strbuf *oks,
    struct strbuf *since, struct strbuf *gone, struct strbuf *failing)
{
	for (int i = 0; i < n; i++) {
		const struct done *x = &t->done[i];
		bool seen = false, ok = false;
		double first_fail = 0;

		if (!x->counts)
			continue;
		for (int k = 0; k < i && !seen; k++)
			seen = t->done[k].counts && t->done[k].dest == x->dest;
		if (seen)
			continue;
		for (int k = i; k < n; k++) {
			const struct done *y = &t->done[k];

			if (!y->counts || y->dest != x->dest)
				continue;
			if (y->ok)
				ok = true, first_fail = 0;
			else if (first_fail == 0)
				ok = false, first_fail = y->started;
			else
				ok = false;
		}
		array_num(dests, x->dest, false);
		strbuf_adds(oks, oks->len > 1 ? (ok ? ",t" : ",f") : (ok ? "t" : "f"));
		if (since->len > 1)
			strbuf_addc(since, ',');
		strbuf_addf(since, "%.6f", first_fail);
		if (!ok)
			array_num(failing, x->dest, false);
	}
	for (int i = 0; i < n; i++)
		if (t->done[i].gone)
			array_num(gone, t->done[i].dest, false);
}

static void
flush_start(struct dthread *t)
{
	struct strbuf a[9], h[5];
	int n = t->ndone;
	char after[24];

	for (int k = 0; k < 9; k++)
		strbuf_init(&a[k]), strbuf_addc(&a[k], '{');
	for (int k = 0; k < 5; k++)
		strbuf_init(&h[k]), strbuf_addc(&h[k], '{');
	for (int i = 0; i < n; i++) {
		const struct done *x = &t->done[i];

		array_num(&a[0], x->pk, false);
		array_text(&a[1], x->status);
		array_num(&a[2], x->code, x->code == 0);
		array_num(&a[3], x->attempt_no, false);
		array_num(&a[4], x->delay_ms, false);
		if (a[5].len > 1)
			strbuf_addc(&a[5], ',');
		strbuf_addf(&a[5], "%.6f", x->started);
		array_num(&a[6], x->duration_ms, false);
		array_text(&a[7], x->error);
		array_text(&a[8], x->excerpt);
	}
	health_arrays(t, n, &h[0], &h[1], &h[2], &h[3], &h[4]);
	for (int k = 0; k < 9; k++)
		strbuf_addc(&a[k], '}');
	for (int k = 0; k < 5; k++)
		strbuf_addc(&h[k], '}');
	snprintf(after, sizeof(after), "%d", t->d->cfg->deactivate_after_s);
	{
		const char *p1[9] = { a[0].s, a[1].s, a[2].s, a[3].s, a[4].s, a[5].s,
		    a[6].s, a[7].s, a[8].s };
		const char *p2[3] = { h[0].s, h[1].s, h[2].s };
		const char *p3[3] = { h[3].s, h[4].s, after };
		struct db_stmt s[4] = { { flush_sql, 9, p1 }, { health_sql, 3, p2 },
		    { notify_delivery_sql, 0, NULL }, { deactivate_sql, 3, p3 } };
		bool failed = false;
		int ns = h[3].len > 2 || h[4].len > 2 ? 4 : 2;

		for (int k = 0; k < 9; k++)
			failed |= a[k].failed;
		for (int k = 0; k < 5; k++)
			failed |= h[k].failed;
		/* the NOTIFY is only needed to wake others for a retry; keep it
		 * in the batch when deactivating so the statement indexes hold */
		if (!failed) {
			t->flush_n = n;
			t->flush_busy = true;
			if (db_batch(t->db, s, ns, flushed, t) < 0)
				t->flush_busy = false;
		}
	}
	for (int k = 0; k < 9; k++)
		strbuf_free(&a[k]);
	for (int k = 0; k < 5; k++)
		strbuf_free(&h[k]);
}

/* ---- janitor (thread 0) ---------------------------------------------- */

static void janitor_step(struct dthread *t);
static void lease_step(struct dthread *t);

static void
janitor_done(void *arg, const struct db_result *r)
{
	struct dthread *t = arg;
	const struct config *cfg = t->d->cfg;
	int step = t->purge_step;

	t->janitor_busy = false;
	if (r->status != DB_OK)
		return;
	if (step == -1 && PQntuples(r->res) == 1) {
		metrics_gauge("deliveries_pending", strtoll(PQgetvalue(r->res, 0, 0), NULL, 10));
		metrics_gauge("deliveries_oldest_pending_seconds",
		    strtoll(PQgetvalue(r->res, 0, 1), NULL, 10));
		return;
	}
	if (step == -3 && PQntuples(r->res) == 1) {
		long long n = strtoll(PQgetvalue(r->res, 0, 0), NULL, 10);

		while (n-- > 0)
			metrics_count("subscriptions_deactivated");
		return;
	}
	if (step == -2 && PQntuples(r->res) == 1) {
		if (atoi(PQgetvalue(r->res, 0, 0)) > 0)
			t->want_claim = true, schedule_kick(t);
		/* a full batch of committed stream deliveries: more are waiting */
		if (atoi(PQgetvalue(r->res, 0, 1)) >= cfg->purge_batch && !t->draining)
			lease_step(t);
		return;
	}
	/* A full purge batch means there is more: go on at once. */
	if (atoi(PQcmdTuples(r->res)) < cfg->purge_batch)
		t->purge_step++;
	if (t->purge_step < NPURGE)
		janitor_step(t);
}

static void
janitor_step(struct dthread *t)
{
	char ret[16], lim[16];
	const char *p[2] = { ret, lim };
	const struct config *cfg = t->d->cfg;
	int np = t->purge_step < NPURGE - 1 ? 2 : 0;   /* all but config_change */

	snprintf(ret, sizeof(ret), "%d", t->purge_step == 0 ? cfg->attempt_retention_s :
	    cfg->event_retention_s);
	snprintf(lim, sizeof(lim), "%d", cfg->purge_batch);
	t->janitor_busy = true;
	if (db_query(t->db, purge_sql[t->purge_step], np, p, janitor_done, t) < 0)
		t->janitor_busy = false;
}

static void
lease_step(struct dthread *t)
{
	char lim[16];
	const char *p[1] = { lim };

	snprintf(lim, sizeof(lim), "%d", t->d->cfg->purge_batch);
	t->purge_step = -2;
	t->janitor_busy = db_query(t->db, lease_expiry_sql, 1, p, janitor_done, t) == 0;
}

static void
streams_step(struct dthread *t)
{
	const struct config *cfg = t->d->cfg;
	char keep[16], idle[16], lim[16];
	const char *p[3] = { keep, idle, lim };

	snprintf(keep, sizeof(keep), "%d", cfg->pull_retention_s);
	snprintf(idle, sizeof(idle), "%d", cfg->pull_inactivity_s);
	snprintf(lim, sizeof(lim), "%d", cfg->purge_batch);
	t->purge_step = -3;
	t->janitor_busy = db_query(t->db, streams_sql, 3, p, janitor_done, t) == 0;
}

static void
janitor_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dthread *t = arg;
	time_t now = time(NULL);

	(void)fd, (void)what;
	if (t->janitor_busy || t->draining)
		return;
	if (now - t->last_purge >= t->d->cfg->purge_interval_s) {
		t->last_purge = now;
		t->purge_step = 0;
		janitor_step(t);
	} else if (now - t->last_gauges >= GAUGES_EVERY_S) {
		t->last_gauges = now;
		t->purge_step = -1;
		t->janitor_busy = db_query(t->db, gauges_sql, 0, NULL, janitor_done, t) == 0;
	} else if (now - t->last_streams >= GAUGES_EVERY_S) {
		t->last_streams = now;
		streams_step(t);
	} else {
		lease_step(t);
	}
	if (t->cache && now - t->cache_loaded >= CACHE_MAX_AGE_S)
		t->cache_stale = true;
}

/* ---- driving ---------------------------------------------------------- */

static void
released(void *arg, const struct db_result *r)
{
	struct dthread *t = arg;

	if (r->status != DB_OK)
		log_warn("dispatcher: releasing leases failed (they expire): %s",
		    r->message ? r->message : "database unavailable");
	t->releasing = false;
	t->finished = true;
	event_base_loopexit(t->base, NULL);
}

static bool
drain_expired(const struct dthread *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->drain_deadline.tv_sec ||
	    (now.tv_sec == t->drain_deadline.tv_sec && now.tv_nsec >= t->drain_deadline.tv_nsec);
}

/* Draining: attempts finish (bounded), their outcomes are stored, then
 * whatever this instance still holds is handed back. */
static void
drain_step(struct dthread *t)
{
	const char *p[1] = { t->d->owner };

	if (t->releasing || t->finished)
		return;
	if ((t->inflight > 0 && !drain_expired(t)) || t->flush_busy || t->claim_busy ||
	    t->fanout == FANOUT_CLAIMING || t->fanout == FANOUT_STORING ||
	    t->loading_busy || t->janitor_busy)
		return;
	if (t->ndone > 0 && db_pool_up(t->db) && !drain_expired(t)) {
		flush_start(t);
		if (t->flush_busy)
			return;
	}
	t->releasing = true;
	if (db_query(t->db, release_sql, 1, p, released, t) < 0) {
		t->releasing = false;
		t->finished = true;
		event_base_loopexit(t->base, NULL);
	}
}

static void
kick(struct dthread *t)
{
	bool ready;

	if (t->draining) {
		drain_step(t);
		return;
	}
	if (t->id == 0) {
		ready = t->cache && !t->cache_stale && !t->loading_busy;
		if (!ready && !t->loading_busy)
			load_cache(t);
		else if (ready && t->fanout == FANOUT_WAIT_CACHE)
			fanout_match(t);
		else if (ready && t->fanout == FANOUT_IDLE && t->want_fanout)
			fanout_start(t);
	}
	if (t->want_claim && !t->claim_busy)
		claim_start(t);
	if (t->ndone > 0 && !t->flush_busy)
		flush_start(t);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dthread *t = arg;

	(void)fd, (void)what;
	if (atomic_exchange(&t->wake_fanout, false))
		t->want_fanout = true;
	if (atomic_exchange(&t->wake_claim, false))
		t->want_claim = true;
	kick(t);
}

void
dispatch_wake(struct dispatch *d, int fanout)
{
	for (int i = 0; i < d->nthreads; i++) {
		struct dthread *t = &d->t[i];

		if (fanout && i != 0)
			continue;
		atomic_store(fanout ? &t->wake_fanout : &t->wake_claim, true);
		event_active(&t->wake_ev, 0, 0);
	}
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	kick(arg);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dthread *t = arg;

	(void)fd, (void)what;
	t->want_fanout = t->want_claim = true;
	kick(t);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dthread *t = arg;
	const struct config *cfg = t->d->cfg;

	(void)fd, (void)what;
	if (!t->draining) {
		t->draining = true;
		clock_gettime(CLOCK_MONOTONIC, &t->drain_deadline);
		t->drain_deadline.tv_sec += cfg->shutdown_timeout_ms / 1000;
		t->drain_deadline.tv_nsec += (long)(cfg->shutdown_timeout_ms % 1000) * 1000000;
		if (t->drain_deadline.tv_nsec >= 1000000000) {
			t->drain_deadline.tv_sec++;
			t->drain_deadline.tv_nsec -= 1000000000;
		}
	}
	kick(t);
}

static void
notified(void *arg, const char *channel, const char *payload)
{
	struct dthread *t = arg;

	if (channel == NULL) {        /* (re)subscribed: anything may be missed */
		t->cache_stale = t->id == 0;
		t->want_fanout = t->want_claim = true;
	} else if (strcmp(payload, "event") == 0) {
		t->want_fanout = true;
	} else if (strcmp(payload, "config") == 0) {
		t->cache_stale = t->id == 0;
	} else {
		t->want_claim = true;
	}
	kick(t);
}

static void *
thread_main(void *arg)
{
	struct dthread *t = arg;

	event_base_dispatch(t->base);
	atomic_fetch_add(&t->d->finished, 1);
	return NULL;
}

static int
thread_init(struct dispatch *d, struct dthread *t, int id)
{
	const struct config *cfg = d->cfg;
	struct db_pool_opts o = {
		.conninfo = d->srv->conninfo, .size = 3, .queue_max = 64,
		.reconnect_min_ms = cfg->db_reconnect_min_ms,
		.reconnect_max_ms = cfg->db_reconnect_max_ms, .connect_timeout_ms = 10000,
		.statement_timeout_ms = cfg->db_statement_timeout_ms, .dispatcher_session = 1,
		.local_wake = true,   /* converted inbound events: fanned out right here */
		.listen_channel = CHANNEL, .notify_cb = notified, .notify_arg = t,
	};
	struct httpc_opts ho = { .max_connections = cfg->dispatch_max_connections,
	    .allow = &d->allow, .ssrf_guard = true };
	struct timeval poll = { cfg->dispatch_poll_ms / 1000, (cfg->dispatch_poll_ms % 1000) * 1000 };
	struct timeval jt = { JANITOR_MS / 1000, 0 };

	t->id = id;
	t->d = d;
	t->want_fanout = t->want_claim = true;
	t->last_purge = time(NULL);
	if ((t->base = event_base_new()) == NULL)
		return -1;
	event_assign(&t->poll_ev, t->base, -1, EV_PERSIST, poll_cb, t);
	event_assign(&t->kick_ev, t->base, -1, 0, kick_cb, t);
	event_assign(&t->wake_ev, t->base, -1, 0, wake_cb, t);
	event_assign(&t->drain_ev, t->base, -1, 0, drain_cb, t);
	event_assign(&t->janitor_ev, t->base, -1, EV_PERSIST, janitor_cb, t);
	if ((t->db = db_pool_new(t->base, &o)) == NULL ||
	    (t->http = httpc_new(t->base, &ho)) == NULL ||
	    (t->oauth = oauth_new(t->http, cfg->connect_timeout_ms)) == NULL)
		return -1;
	t->maxhits = HITS_START;
	if ((t->hits = calloc((size_t)t->maxhits, sizeof(*t->hits))) == NULL)
		return -1;
	t->dctx = (struct deliver_ctx){ .http = t->http, .oauth = t->oauth,
	    .secrets = d->srv->secrets, .retry = &d->retry,
	    .connect_timeout_ms = cfg->connect_timeout_ms,
	    .rand_state = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)id * 2654435761u };
	event_add(&t->poll_ev, &poll);
	if (id == 0)
		event_add(&t->janitor_ev, &jt);
	return 0;
}

static void
thread_free(struct dthread *t)
{
	if (t->base == NULL)
		return;
	t->finished = true;
	event_del(&t->poll_ev);
	event_del(&t->kick_ev);
	event_del(&t->wake_ev);
	event_del(&t->drain_ev);
	event_del(&t->janitor_ev);
	/* httpc first: aborted attempts and token fetches complete into
	 * done[] (dropped here; their leases were released or expire), and
	 * only then may the token cache they point into go. */
	httpc_free(t->http);
	oauth_free(t->oauth);
	db_pool_free(t->db);
	done_clear(t, t->ndone);
	free(t->done);
	events_clear(t);
	match_free(t->cache);
	match_free(t->loading);
	free(t->hits);
	event_base_free(t->base);
}

struct dispatch *
dispatch_start(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct dispatch *d = calloc(1, sizeof(*d));
	char host[64] = "host", err[160];
	unsigned char rnd[4];
	int i;

	if (d == NULL)
		return NULL;
	d->srv = srv;
	d->cfg = cfg;
	if (!cfg->dispatcher)
		return d;
	if (retry_policy_init(&d->retry, cfg->retry_schedule, cfg->retry_jitter_percent) < 0 ||
	    ssrf_allow_parse(cfg->ssrf_allow, &d->allow, err, sizeof(err)) < 0) {
		log_error("dispatcher: bad retry_schedule or ssrf_allow");
		free(d);
		return NULL;
	}
	gethostname(host, sizeof(host) - 1);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	snprintf(d->owner, sizeof(d->owner), "%.60s:%d:%02x%02x%02x%02x", host, (int)getpid(),
	    rnd[0], rnd[1], rnd[2], rnd[3]);
	if ((d->t = calloc((size_t)cfg->dispatcher_threads, sizeof(*d->t))) == NULL)
		goto fail;
	for (i = 0; i < cfg->dispatcher_threads; i++, d->nthreads++)
		if (thread_init(d, &d->t[i], i) < 0) {
			d->nthreads++;
			goto fail;
		}
	for (i = 0; i < d->nthreads; i++)
		if (pthread_create(&d->t[i].thread, NULL, thread_main, &d->t[i]) != 0) {
			log_error("dispatcher: cannot start threads: %s", strerror(errno));
			/* the started ones are drained by the caller's shutdown */
			d->nthreads = i;
			return d;
		}
	log_info("dispatcher: %d thread(s), lease owner %s", d->nthreads, d->owner);
	return d;
fail:
	log_error("dispatcher: cannot initialise");
	for (i = 0; i < d->nthreads; i++)
		thread_free(&d->t[i]);
	free(d->t);
	ssrf_allow_free(&d->allow);
	free(d);
	return NULL;
}

void
dispatch_drain(struct dispatch *d)
{
	for (int i = 0; i < d->nthreads; i++)
		event_active(&d->t[i].drain_ev, 0, 0);
}

int
dispatch_done(const struct dispatch *d)
{
	return atomic_load(&((struct dispatch *)d)->finished) == d->nthreads;
}

void
dispatch_free(struct dispatch *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < d->nthreads; i++) {
		pthread_join(d->t[i].thread, NULL);
		thread_free(&d->t[i]);
	}
	free(d->t);
	ssrf_allow_free(&d->allow);
	free(d);
}
