/* Unit tests for service/match.c: a cache built from rows shaped like
 * match_load_sql's (made with libpq's PGresult constructors) and a table
 * of events with the destinations each must reach. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "match.h"

#define EV "de.hybris.platform.webhookservices.event."

struct cfg {
	const char *pk, *io, *type, *dest, *fcode, *expr, *location;
};

/* dest 1: Order saved; dest 2: Order created only, filtered on status;
 * dest 3: Order deleted + Order saved (two configs, one destination);
 * dest 4: Order updated with a filter that errors at run time;
 * dest 5: Customer saved; dest 6: Order saved, unknown event type (ignored);
 * dest 7: Order saved with a filter that does not parse;
 * dest 8: Order saved with a missing filter (location names none);
 * dest 9: Order updated, filter erroring, plus Order updated unfiltered. */
static const struct cfg cfgs[] = {
	{ "1", "Order", EV "ItemSavedEvent", "1", NULL, NULL, NULL },
	{ "2", "Order", EV "ItemCreatedEvent", "2", "paid", "status eq 'PAID'", "model://paid" },
	{ "3", "Order", EV "ItemDeletedEvent", "3", NULL, NULL, NULL },
	{ "4", "Order", EV "ItemSavedEvent", "3", NULL, NULL, NULL },
	{ "5", "Order", EV "ItemUpdatedEvent", "4", "div", "total div 0 eq 1", "model://div" },
	{ "6", "Customer", EV "ItemSavedEvent", "5", NULL, NULL, NULL },
	{ "7", "Order", "com.example.OtherEvent", "6", NULL, NULL, NULL },
	{ "8", "Order", EV "ItemSavedEvent", "7", "bad", "status eq", "model://bad" },
	{ "9", "Order", EV "ItemSavedEvent", "8", NULL, NULL, "model://gone" },
	{ "10", "Order", EV "ItemUpdatedEvent", "9", "div", "total div 0 eq 1", "model://div" },
	{ "11", "Order", EV "ItemUpdatedEvent", "9", NULL, NULL, NULL },
	{ "12", "Order", EV "ItemSavedEvent", "2", "paid", "status eq 'PAID'", "model://paid" },
};

struct row {
	const char *io;
	unsigned action;
	const char *payload;     /* NULL: not JSON */
	const char *want;        /* "1 2 3!" : destinations, '!' = failed */
};

static const struct row rows[] = {
	{ "Order", MATCH_CREATED, "{\"status\":\"PAID\",\"total\":5}", "1 2 3 7! 8!" },
	{ "Order", MATCH_CREATED, "{\"status\":\"OPEN\",\"total\":5}", "1 3 7! 8!" },
	{ "Order", MATCH_UPDATED, "{\"status\":\"OPEN\",\"total\":5}", "1 3 4! 7! 8! 9" },
	{ "Order", MATCH_UPDATED, "{\"status\":\"PAID\",\"total\":5}", "1 2 3 4! 7! 8! 9" },
	{ "Order", MATCH_DELETED, "{}", "3" },
	{ "Customer", MATCH_DELETED, "{}", "" },
	{ "Customer", MATCH_UPDATED, "{}", "5" },
	{ "Nobody", MATCH_CREATED, "{}", "" },
	{ "order", MATCH_CREATED, "{}", "" },                  /* codes are exact */
	{ "Order", MATCH_CREATED, NULL, "1 2! 3 7! 8!" },      /* unreadable payload */
	{ "Order", MATCH_CREATED, "{\"status\":null}", "1 3 7! 8!" },
};

static PGresult *
page(size_t from, size_t to, const char *snapshot)
{
	static const char *const names[] = { "pk", "code", "event_type", "dest", "fcode",
	    "expression", "filter_location", "snap" };
	PGresAttDesc attrs[8];
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < 8; i++) {
		attrs[i].name = (char *)names[i];
		attrs[i].format = 0;
		attrs[i].typid = 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_int_equal(PQsetResultAttrs(r, 8, attrs), 1);
	for (size_t i = from; i < to; i++) {
		const char *v[8] = { cfgs[i].pk, cfgs[i].io, cfgs[i].type, cfgs[i].dest,
		    cfgs[i].fcode, cfgs[i].expr, cfgs[i].location, snapshot };

		for (int c = 0; c < 8; c++)
			assert_int_equal(PQsetvalue(r, (int)(i - from), c, (char *)v[c],
			    v[c] ? (int)strlen(v[c]) : -1), 1);
	}
	return r;
}

static void
hits_text(const struct match_hit *h, int n, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%lld%s", i ? " " : "",
		    (long long)h[i].destination_pk, h[i].failed ? "!" : "");
}

static struct match_cache *
build(size_t split)
{
	struct match_cache *c = match_new();
	int64_t last = 0;
	PGresult *a = page(0, split, "10:20:"), *b = page(split, sizeof(cfgs) / sizeof(cfgs[0]),
	    "11:21:");

	assert_non_null(c);
	assert_true(match_add_rows(c, a, &last) >= 0);
	assert_true(match_add_rows(c, b, &last) >= 0);
	assert_int_equal(last, 12);
	PQclear(a);
	PQclear(b);
	return c;
}

static void
test_rows(void **state)
{
	(void)state;
	/* the same answers whatever the page boundaries */
	for (size_t split = 0; split <= sizeof(cfgs) / sizeof(cfgs[0]); split++) {
		struct match_cache *c = build(split);

		assert_string_equal(match_snapshot(c), split ? "10:20:" : "11:21:");
		assert_int_equal(match_count(c), 11);      /* the unknown type is left out */
		assert_true(match_needs_payload(c, "Order"));
		assert_false(match_needs_payload(c, "Customer"));
		assert_false(match_needs_payload(c, "Nobody"));
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			struct match_hit hits[16];
			json_t *p = rows[i].payload ? json_loads(rows[i].payload, 0, NULL) : NULL;
			int n = match_event(c, rows[i].io, rows[i].action, p, hits, 16);
			char got[128];

			assert_true(n >= 0);
			hits_text(hits, n, got, sizeof(got));
			if (strcmp(got, rows[i].want) != 0)
				fail_msg("split %zu row %zu: got '%s', want '%s'", split, i, got,
				    rows[i].want);
			for (int k = 0; k < n; k++)
				if (hits[k].failed && strstr(hits[k].error, "filter model://") == NULL)
					fail_msg("row %zu: error '%s' does not name the filter", i,
					    hits[k].error);
			json_decref(p);
		}
		match_free(c);
	}
}

static void
test_too_many(void **state)
{
	struct match_cache *c = build(3);
	struct match_hit hits[2];
	json_t *p = json_loads("{}", 0, NULL);

	(void)state;
	assert_int_equal(match_event(c, "Order", MATCH_CREATED, p, hits, 2), -1);
	json_decref(p);
	match_free(c);
}

static void
test_empty(void **state)
{
	struct match_cache *c = match_new();
	PGresult *r = page(0, 0, "1:1:");
	struct match_hit hits[1];
	int64_t last = 0;

	(void)state;
	/* an empty load still carries its snapshot (the LEFT JOIN row) */
	assert_int_equal(PQsetvalue(r, 0, 7, "5:5:", 4), 1);
	assert_int_equal(match_add_rows(c, r, &last), 1);
	assert_string_equal(match_snapshot(c), "5:5:");
	assert_int_equal(match_count(c), 0);
	assert_int_equal(match_event(c, "Order", MATCH_CREATED, NULL, hits, 1), 0);
	PQclear(r);
	match_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
