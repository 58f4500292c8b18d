/* match — configurations cached for matching; see match.h.
 *
 * Layout, chosen for 100,000 configurations in a few MiB: one open-
 * addressing table from integration object code to a bucket; a bucket is a
 * growing array of 16-byte entries (destination pk, action mask, filter
 * index) kept sorted by destination so that one event's hits per
 * destination are adjacent; filters live once in their own table. */
#include "match.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "filter_eval.h"

/* The snapshot comes out of a one-row CTE joined to the page, so that
 * even an empty page (no configuration at all) carries it; such a row has
 * a NULL pk. */
const char match_load_sql[] =
	"WITH s AS (SELECT pg_current_snapshot()::text AS snap)"
	" SELECT c.*, s.snap FROM s LEFT JOIN ("
	" SELECT wc.pk, io.code, wc.event_type, cd.pk AS dest, f.code AS fcode, f.expression,"
	" wc.filter_location"
	" FROM webhookd.webhook_configuration wc"
	" JOIN webhookd.integration_object io ON io.pk = wc.integration_object_pk"
	" JOIN webhookd.consumed_destination cd ON cd.pk = wc.consumed_destination_pk"
	"  AND cd.active"
	" JOIN webhookd.destination_target dt ON dt.pk = cd.destination_target_pk"
	" JOIN webhookd.destination_channel ch ON ch.pk = dt.destination_channel_pk"
	"  AND ch.code IN ('WEBHOOKSERVICES', 'PULL')"
	" LEFT JOIN webhookd.webhook_filter f ON wc.filter_location LIKE 'model://%'"
	"  AND f.code = substr(wc.filter_location, 9)"
	" WHERE wc.pk > $1::bigint ORDER BY wc.pk LIMIT $2::int) c ON true ORDER BY c.pk";

#define EVENT_PREFIX "de.hybris.platform.webhookservices.event."
#define NO_FILTER    (-1)

struct entry {
	int64_t dest;
	uint32_t actions;
	int32_t filter;        /* index into filters, NO_FILTER */
};

struct bucket {
	struct entry *v;
	uint32_t n, cap;
	bool sorted;
	bool filtered;         /* an entry has a filter: matching reads the payload */
};

struct filter {
	char *name;            /* "model://F" as configured */
	struct odata_filter *tree;   /* NULL: parse error or missing */
	char *error;
};

struct table {                 /* string -> index, open addressing */
	char **keys;
	int32_t *vals;
	size_t cap, n;
};

struct match_cache {
	struct table ios;          /* code -> bucket index */
	struct bucket *buckets;
	size_t nbuckets, capbuckets;
	struct table fnames;       /* "model://F" -> filter index */
	struct filter *filters;
	size_t nfilters, capfilters;
	size_t count;
	char *snapshot;
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int32_t *
table_slot(struct table *t, const char *key, bool *found)
{
	size_t i = (size_t)hash(key) & (t->cap - 1);

	while (t->keys[i] != NULL) {
		if (strcmp(t->keys[i], key) == 0) {
			*found = true;
			return &t->vals[i];
		}
		i = (i + 1) & (t->cap - 1);
	}
	*found = false;
	return &t->vals[i];
}

static int
table_grow(struct table *t)
{
	struct table n = { calloc(t->cap ? t->cap * 2 : 64, sizeof(char *)),
	    calloc(t->cap ? t->cap * 2 : 64, sizeof(int32_t)), t->cap ? t->cap * 2 : 64, 0 };
	bool found;

	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -1;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (t->keys[i] != NULL) {
			int32_t *v = table_slot(&n, t->keys[i], &found);

			n.keys[v - n.vals] = t->keys[i];
			*v = t->vals[i];
			n.n++;
		}
	}
	free(t->keys);
	free(t->vals);
	*t = n;
	return 0;
}

/* The index stored under key, or -1 after storing next under it. */
static int
table_get_or_put(struct table *t, const char *key, int32_t next, int32_t *out)
{
	bool found;
	int32_t *v;

	if ((t->n + 1) * 2 > t->cap && table_grow(t) < 0)
		return -1;
	v = table_slot(t, key, &found);
	if (!found) {
		if ((t->keys[v - t->vals] = strdup(key)) == NULL)
			return -1;
		*v = next;
		t->n++;
	}
	*out = *v;
	return 0;
}

static int32_t
table_get(const struct table *t, const char *key)
{
	bool found;
	int32_t *v;

	if (t->cap == 0)
		return -1;
	v = table_slot((struct table *)t, key, &found);
	return found ? *v : -1;
}

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->vals);
}

struct match_cache *
match_new(void)
{
	struct match_cache *c = calloc(1, sizeof(*c));

	if (c && (c->snapshot = strdup("")) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
match_free(struct match_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nbuckets; i++)
		free(c->buckets[i].v);
	free(c->buckets);
	for (size_t i = 0; i < c->nfilters; i++) {
		odata_filter_free(c->filters[i].tree);
		free(c->filters[i].name);
		free(c->filters[i].error);
	}
	free(c->filters);
	table_free(&c->ios);
	table_free(&c->fnames);
	free(c->snapshot);
	free(c);
}

static uint32_t
actions_of(const char *event_type)
{
	static const struct { const char *name; uint32_t actions; } types[] = {
		{ "ItemSavedEvent", MATCH_CREATED | MATCH_UPDATED },
		{ "ItemCreatedEvent", MATCH_CREATED },
		{ "ItemUpdatedEvent", MATCH_UPDATED },
		{ "ItemDeletedEvent", MATCH_DELETED },
	};

	if (strncmp(event_type, EVENT_PREFIX, strlen(EVENT_PREFIX)) != 0)
		return 0;
	event_type += strlen(EVENT_PREFIX);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(event_type, types[i].name) == 0)
			return types[i].actions;
	return 0;
}

/* The filter index for location ("model://F"), parsing F's expression the
 * first time it is seen. A location with no filter row (code NULL), or an
 * expression that does not parse, is kept with its error: every event
 * then fails that configuration's filter, which is recorded, never sent. */
static int
filter_index(struct match_cache *c, const char *location, const char *code,
    const char *expression, int32_t *out)
{
	struct odata_filter_error perr;
	struct filter *f;
	char msg[256];

	if (table_get_or_put(&c->fnames, location, (int32_t)c->nfilters, out) < 0)
		return -1;
	if ((size_t)*out < c->nfilters)
		return 0;
	if (c->nfilters == c->capfilters) {
		size_t cap = c->capfilters ? c->capfilters * 2 : 16;
		struct filter *v = realloc(c->filters, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		c->filters = v;
		c->capfilters = cap;
	}
	f = &c->filters[c->nfilters];
	memset(f, 0, sizeof(*f));
	if ((f->name = strdup(location)) == NULL)
		return -1;
	if (code == NULL)
		snprintf(msg, sizeof(msg), "filter %s does not exist", location);
	else if (expression == NULL || *expression == '\0')
		snprintf(msg, sizeof(msg), "filter %s has no expression", location);
	else if (odata_filter_parse(expression, strlen(expression), &f->tree, &perr) < 0)
		snprintf(msg, sizeof(msg), "filter %s: %s", location, perr.message);
	if (f->tree == NULL && (f->error = strdup(msg)) == NULL) {
		free(f->name);
		return -1;
	}
	c->nfilters++;
	return 0;
}

static struct bucket *
bucket_for(struct match_cache *c, const char *io)
{
	int32_t idx;

	if (table_get_or_put(&c->ios, io, (int32_t)c->nbuckets, &idx) < 0)
		return NULL;
	if ((size_t)idx == c->nbuckets) {
		if (c->nbuckets == c->capbuckets) {
			size_t cap = c->capbuckets ? c->capbuckets * 2 : 16;
			struct bucket *v = realloc(c->buckets, cap * sizeof(*v));

			if (v == NULL)
				return NULL;
			c->buckets = v;
			c->capbuckets = cap;
		}
		memset(&c->buckets[idx], 0, sizeof(c->buckets[idx]));
		c->nbuckets++;
	}
	return &c->buckets[idx];
}

static int
bucket_add(struct bucket *b, const struct entry *e)
{
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 4;
		struct entry *v = realloc(b->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *e;
	b->sorted = false;
	b->filtered |= e->filter != NO_FILTER;
	return 0;
}

static int
by_dest(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return (x->dest > y->dest) - (x->dest < y->dest);
}

int
match_add_rows(struct match_cache *c, const PGresult *res, int64_t *last_pk)
{
	int rows = PQntuples(res);

	if (rows > 0 && c->count == 0 && c->snapshot[0] == '\0') {
		free(c->snapshot);
		if ((c->snapshot = strdup(PQgetvalue(res, 0, 7))) == NULL)
			return -1;
	}
	for (int i = 0; i < rows; i++) {
		struct entry e = { strtoll(PQgetvalue(res, i, 3), NULL, 10),
		    actions_of(PQgetvalue(res, i, 2)), NO_FILTER };
		struct bucket *b;

		if (PQgetisnull(res, i, 0))
			continue;
		*last_pk = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (e.actions == 0)
			continue;
		if (!PQgetisnull(res, i, 6) && filter_index(c, PQgetvalue(res, i, 6),
		    PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
		    PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5), &e.filter) < 0)
			return -1;
		if ((b = bucket_for(c, PQgetvalue(res, i, 1))) == NULL || bucket_add(b, &e) < 0)
			return -1;
		c->count++;
	}
	/* Sorting once per page keeps matching free of it; pages append in
	 * pk order, not destination order, hence the flag. */
	for (size_t i = 0; i < c->nbuckets; i++) {
		if (!c->buckets[i].sorted) {
			qsort(c->buckets[i].v, c->buckets[i].n, sizeof(struct entry), by_dest);
			c->buckets[i].sorted = true;
		}
	}
	return rows;
}

bool
match_needs_payload(const struct match_cache *c, const char *io)
{
	int32_t idx = table_get(&c->ios, io);

	return idx >= 0 && c->buckets[idx].filtered;
}

const char *
match_snapshot(const struct match_cache *c)
{
	return c->snapshot;
}

size_t
match_count(const struct match_cache *c)
{
	return c->count;
}

/* Whether e applies to the event; *err is set when its filter failed. */
static bool
entry_applies(const struct match_cache *c, const struct entry *e,
    const json_t *payload, char *err, size_t errlen, bool *failed)
{
	const struct filter *f;
	char why[200];

	if (e->filter == NO_FILTER)
		return true;
	f = &c->filters[e->filter];
	if (f->tree == NULL) {
		snprintf(err, errlen, "%s", f->error);
		*failed = true;
		return false;
	}
	if (payload == NULL) {
		snprintf(err, errlen, "filter %.60s: the payload is not JSON it can read "
		    "(a number out of range?)", f->name);
		*failed = true;
		return false;
	}
	switch (odata_filter_eval(odata_filter_root(f->tree), payload, why, sizeof(why))) {
	case ODATA_EVAL_TRUE:
		return true;
	case ODATA_EVAL_FALSE:
		return false;
	case ODATA_EVAL_ERROR:
		break;
	}
	snprintf(err, errlen, "filter %.60s: %.130s", f->name, why);
	*failed = true;
	return false;
}

int
match_event(const struct match_cache *c, const char *io, unsigned action,
    const json_t *payload, struct match_hit *hits, int max)
{
	int32_t idx = table_get(&c->ios, io);
	const struct bucket *b;
	int n = 0;

	if (idx < 0)
		return 0;
	b = &c->buckets[idx];
	for (uint32_t i = 0; i < b->n; ) {
		int64_t dest = b->v[i].dest;
		bool hit = false, failed = false;

		if (n == max)
			return -1;
		for (; i < b->n && b->v[i].dest == dest; i++)
			if (!hit && (b->v[i].actions & action))
				hit = entry_applies(c, &b->v[i], payload, hits[n].error,
				    sizeof(hits[n].error), &failed);
		if (!hit && !failed)
			continue;
		hits[n].destination_pk = dest;
		hits[n].failed = !hit;
		n++;
	}
	return n;
}
