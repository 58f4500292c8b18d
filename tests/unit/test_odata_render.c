/* render.c: JSON strings and entity JSON from flat rows (URIs escape the
 * stored key for a path that is percent-decoded once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "model.h"
#include "render.h"

static const struct {
	const char *in, *out;
} strings[] = {
	{ "", "\"\"" },
	{ "plain", "\"plain\"" },
	{ "quote\"back\\slash", "\"quote\\\"back\\\\slash\"" },
	{ "nl\ncr\rtab\t", "\"nl\\ncr\\rtab\\t\"" },
	{ "\x01\x1f", "\"\\u0001\\u001f\"" },
	{ "\x7f", "\"\x7f\"" },
	{ "caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"" },
	{ "</script>", "\"</script>\"" },
	{ "'; DROP TABLE x; --", "\"'; DROP TABLE x; --\"" },
};

static void
json_strings(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		struct strbuf b;
		json_t *j;

		strbuf_init(&b);
		odata_render_json_string(&b, strings[i].in);
		assert_string_equal(b.s, strings[i].out);
		/* and a JSON parser reads back the same bytes */
		j = json_loads(b.s, JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(j), strings[i].in);
		json_decref(j);
		strbuf_free(&b);
	}
}

/* A fake row: columns as strings, NULL = SQL NULL. */
struct fake {
	const char *const *cols;
};

static const char *
fake_value(void *arg, int col)
{
	return ((struct fake *)arg)->cols[col];
}

static bool
fake_isnull(void *arg, int col)
{
	return ((struct fake *)arg)->cols[col] == NULL;
}

/* IntegrationObject(code, description) with one expanded to-one child. */
static void
entity_rows(void **state)
{
	static const struct {
		const char *cols[4];
		const char *json;
	} rows[] = {
		{ { "1", "Order", "orders", "Order" },
		  "{\"__metadata\":{\"id\":\"B/IntegrationObjects('Order')\",\"uri\":\"B/IntegrationObjects('Order')\","
		  "\"type\":\"HybrisCommerceOData.IntegrationObject\",\"etag\":\"W/\\\"1\\\"\"},"
		  "\"code\":\"Order\",\"description\":\"orders\",\"integrationKey\":\"Order\"}" },
		{ { "7", "a|b %c", NULL, "a%7Cb+%25c" },
		  "{\"__metadata\":{\"id\":\"B/IntegrationObjects('a%257Cb+%2525c')\","
		  "\"uri\":\"B/IntegrationObjects('a%257Cb+%2525c')\","
		  "\"type\":\"HybrisCommerceOData.IntegrationObject\",\"etag\":\"W/\\\"7\\\"\"},"
		  "\"code\":\"a|b %c\",\"description\":null,\"integrationKey\":\"a%7Cb+%25c\"}" },
	};
	const struct odata_type *t;
	struct odata_render r;
	struct odata_render_node *n;
	size_t i;

	(void)state;
	odata_model_init();
	t = odata_model_type("IntegrationObject");
	memset(&r, 0, sizeof(r));
	n = odata_render_node_new(&r, t);
	n->col_version = 0;
	n->col_key = 3;   /* the stored integration_key */
	n->show_key = true;
	n->props[0] = odata_model_prop(t, "code");
	n->col_prop[0] = 1;
	n->props[1] = odata_model_prop(t, "description");
	n->col_prop[1] = 2;
	n->nprops = 2;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fake f = { rows[i].cols };
		struct odata_row acc = { fake_value, fake_isnull, &f };
		struct strbuf b;

		strbuf_init(&b);
		odata_render_row(&r, &acc, "B", &b);
		assert_false(b.failed);
		assert_string_equal(b.s, rows[i].json);
		strbuf_free(&b);
	}
}

/* A node whose pk column is NULL renders as null (an unset to-one). */
static void
null_child(void **state)
{
	const char *cols[] = { "3", "x", NULL };
	struct fake f = { cols };
	struct odata_row acc = { fake_value, fake_isnull, &f };
	const struct odata_type *t;
	struct odata_render r;
	struct odata_render_node *n;
	struct strbuf b;

	(void)state;
	odata_model_init();
	t = odata_model_type("IntegrationObject");
	memset(&r, 0, sizeof(r));
	n = odata_render_node_new(&r, t);
	n->col_pk = 2;
	strbuf_init(&b);
	odata_render_row(&r, &acc, "B", &b);
	assert_string_equal(b.s, "null");
	strbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_strings),
		cmocka_unit_test(entity_rows),
		cmocka_unit_test(null_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
