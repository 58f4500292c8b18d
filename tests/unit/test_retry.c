/* Unit tests for service/retry.c: the schedule, jitter bounds and the
 * Retry-After clamp, as one table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "retry.h"

struct row {
	const char *schedule;
	int jitter;
	int done;            /* attempts made, the last failed */
	long retry_after;    /* -1: none */
	double rnd;
	long long want;      /* -1: give up */
};

static const struct row rows[] = {
	/* the spec's default schedule, no jitter */
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 1, -1, 0.5, 5000 },
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 2, -1, 0.5, 300000 },
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 3, -1, 0.5, 1800000 },
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 4, -1, 0.5, 7200000 },
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 5, -1, 0.5, 18000000 },
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 7, -1, 0.5, 36000000 },
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 8, -1, 0.5, -1 },       /* 8 attempts made */
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 9, -1, 0.5, -1 },       /* redelivered past the end */
	{ "0,5s,5m,30m,2h,5h,10h,10h", 0, 0, -1, 0.5, -1 },       /* nonsense: nothing made */
	/* jitter: +/-20% at the extremes of rnd, exact in the middle */
	{ "0,5s", 20, 1, -1, 0.0, 4000 },
	{ "0,5s", 20, 1, -1, 0.5, 5000 },
	{ "0,5s", 20, 1, -1, 0.999999, 5999 },
	{ "0,5m", 100, 1, -1, 0.0, 0 },                            /* never negative */
	/* Retry-After within 1x..2x of the scheduled delay, jitter ignored */
	{ "0,5s", 20, 1, 7, 0.0, 7000 },
	{ "0,5s", 20, 1, 1, 0.0, 5000 },                           /* sooner: the schedule */
	{ "0,5s", 20, 1, 0, 0.9, 5000 },
	{ "0,5s", 20, 1, 100, 0.0, 10000 },                        /* later: at most 2x */
	{ "0,5s", 20, 1, 10, 0.0, 10000 },
	{ "0,5s", 20, 2, 7, 0.0, -1 },                             /* no attempt left */
	{ "0,1s,2s", 0, 2, 3, 0.0, 3000 },
	{ "0,500ms", 0, 1, -1, 0.3, 500 },
	/* a single-entry schedule: one attempt, never a retry */
	{ "0", 0, 1, -1, 0.5, -1 },
};

static void
test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct retry_policy p;
		long long got;

		assert_int_equal(retry_policy_init(&p, rows[i].schedule, rows[i].jitter), 0);
		got = retry_next_delay(&p, rows[i].done, rows[i].retry_after, rows[i].rnd);
		if (got != rows[i].want)
			fail_msg("row %zu (%s, done %d, retry-after %ld): got %lld, want %lld", i,
			    rows[i].schedule, rows[i].done, rows[i].retry_after, got, rows[i].want);
	}
}

static void
test_bad_schedule(void **state)
{
	struct retry_policy p;

	(void)state;
	assert_int_equal(retry_policy_init(&p, "", 20), -1);
	assert_int_equal(retry_policy_init(&p, "5x", 20), -1);
	assert_int_equal(retry_policy_init(&p, "0,5s", 250), 0);
	assert_int_equal(p.jitter_percent, 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_bad_schedule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
