/* Unit tests for service/rfc3339.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include "rfc3339.h"

static const struct { const char *s; bool ok; } rows[] = {
	{ "2026-11-24T10:00:00Z", true },
	{ "2026-11-24t10:00:00z", true },
	{ "2026-11-24T10:00:00.1Z", true },
	{ "2026-11-24T10:00:00.123456789Z", true },
	{ "2026-11-24T10:00:00+01:00", true },
	{ "2026-11-24T10:00:00-23:59", true },
	{ "2024-02-29T00:00:00Z", true },          /* leap year */
	{ "2000-02-29T00:00:00Z", true },          /* 400-year rule */
	{ "1900-02-29T00:00:00Z", false },         /* 100-year rule */
	{ "2026-02-29T00:00:00Z", false },
	{ "2026-04-31T00:00:00Z", false },
	{ "2026-13-01T00:00:00Z", false },
	{ "2026-00-01T00:00:00Z", false },
	{ "2026-01-00T00:00:00Z", false },
	{ "0000-01-01T00:00:00Z", false },
	{ "2026-11-24T24:00:00Z", false },
	{ "2026-11-24T23:60:00Z", false },
	{ "2026-11-24T23:59:60Z", true },          /* leap second */
	{ "2026-11-24T23:59:61Z", false },
	{ "2026-11-24T10:00:00", false },          /* no offset */
	{ "2026-11-24 10:00:00Z", false },
	{ "2026-11-24T10:00Z", false },
	{ "2026-11-24T10:00:00.Z", false },
	{ "2026-11-24T10:00:00+0100", false },
	{ "2026-11-24T10:00:00+24:00", false },
	{ "2026-11-24T10:00:00+01:60", false },
	{ "2026-11-24T10:00:00Zjunk", false },
	{ "2026-11-24T10:00:00+01:00x", false },
	{ "+2026-11-24T10:00:00Z", false },
	{ "2026-1-24T10:00:00Z", false },
	{ "２０２６-11-24T10:00:00Z", false },
	{ "", false },
	{ "now", false },
	{ "2026-11-24", false },
};

static void
test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rfc3339_valid(rows[i].s) != rows[i].ok)
			fail_msg("'%s': expected %s", rows[i].s, rows[i].ok ? "valid" : "invalid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_rows) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
