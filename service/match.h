/* match — the dispatcher's in-memory copy of the PUSH configurations, and
 * the matching of an event against it.
 *
 * Built from pages of rows (match_load_sql, keyset-paged by configuration
 * pk) into a new cache that replaces the old one only when complete, so a
 * failed reload leaves the old cache serving. Configurations are grouped
 * by integration object code in a hash table; each WebhookFilter is parsed
 * once, whatever the number of configurations naming it. One cache belongs
 * to one dispatcher thread. */
#ifndef WEBHOOKD_MATCH_H
#define WEBHOOKD_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

struct match_cache;

/* Rows of one page: $1 = last configuration pk of the previous page (0 at
 * first), $2 = page size. Columns: see match_add_rows. */
extern const char match_load_sql[];

struct match_cache *match_new(void);
void match_free(struct match_cache *c);

/* Add a page; returns the number of rows added, or -1 (out of memory). The
 * first page's snapshot (column 7) becomes the cache's. *last_pk is set to
 * the page's last configuration pk. */
int match_add_rows(struct match_cache *c, const PGresult *res, int64_t *last_pk);

/* pg_current_snapshot() text of the first page ("" for an empty cache). */
const char *match_snapshot(const struct match_cache *c);
size_t match_count(const struct match_cache *c);

enum match_action { MATCH_CREATED = 1, MATCH_UPDATED = 2, MATCH_DELETED = 4 };

/* Whether matching an event of io evaluates a filter, i.e. needs the
 * payload parsed; most events need not pay for parsing it. */
bool match_needs_payload(const struct match_cache *c, const char *io);

/* One destination an event goes to. failed: no configuration of the
 * destination let the event through, and one filter failed on it (error
 * says which and why); the delivery is then recorded DISCARDED. */
struct match_hit {
	int64_t destination_pk;
	bool failed;
	char error[200];
};

/* The destinations event (integration object code, action as MATCH_*,
 * payload: the parsed payload, NULL when it could not be parsed) goes to,
 * each once, into hits[0..max). Returns the number of hits, or -1 when
 * there would be more than max (the caller grows hits and asks again). */
int match_event(const struct match_cache *c, const char *io, unsigned action,
                const json_t *payload, struct match_hit *hits, int max);

#endif
