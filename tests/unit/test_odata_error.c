/* odata_error_json: SAP's error body, escaping, and the innererror rule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct row {
	const char *code, *message, *inner, *want;
};

static const struct row rows[] = {
	{ "unauthorized", "user must be authenticated", NULL,
	  "{\"error\":{\"code\":\"unauthorized\",\"message\":{\"lang\":\"en\",\"value\":\"user must be authenticated\"}}}" },
	{ "not_found", "[WebhookConfiguration] with integration key [k] was not found.", "k",
	  "{\"error\":{\"code\":\"not_found\",\"message\":{\"lang\":\"en\",\"value\":\"[WebhookConfiguration] with integration key [k] was not found.\"},\"innererror\":\"k\"}}" },
	/* quotes, backslashes and control characters are escaped */
	{ "x", "a\"b\\c\nd\te", NULL,
	  "{\"error\":{\"code\":\"x\",\"message\":{\"lang\":\"en\",\"value\":\"a\\\"b\\\\c\\nd\\te\"}}}" },
	/* UTF-8 passes through unchanged */
	{ "x", "caf\xc3\xa9", NULL,
	  "{\"error\":{\"code\":\"x\",\"message\":{\"lang\":\"en\",\"value\":\"caf\xc3\xa9\"}}}" },
	/* invalid UTF-8 never produces invalid JSON: a generic message instead */
	{ "x", "bad \xff byte", NULL,
	  "{\"error\":{\"code\":\"x\",\"message\":{\"lang\":\"en\",\"value\":\"invalid request\"}}}" },
	/* an invalid innererror is dropped, the rest survives */
	{ "x", "m", "\xc3", "{\"error\":{\"code\":\"x\",\"message\":{\"lang\":\"en\",\"value\":\"m\"}}}" },
	{ "", "", "", "{\"error\":{\"code\":\"\",\"message\":{\"lang\":\"en\",\"value\":\"\"},\"innererror\":\"\"}}" },
};

static void
test_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *got = odata_error_json(rows[i].code, rows[i].message, rows[i].inner);
		assert_non_null(got);
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("row %zu: got %s\nwant %s", i, got, rows[i].want);
		free(got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
