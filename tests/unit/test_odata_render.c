/* render.c: JSON strings and entity JSON from flat rows (URIs escape the
 * stored key for a path that is percent-decoded once), for both services:
 * WebhookService entities (etag, integrationKey) and WebhookMonitoring's
 * plain-key entities (no etag, Edm.DateTime as /Date(ms)/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
	t = odata_model_type(&odata_webhook_service, "IntegrationObject");
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
	t = odata_model_type(&odata_webhook_service, "IntegrationObject");
	memset(&r, 0, sizeof(r));
	n = odata_render_node_new(&r, t);
	n->col_pk = 2;
	strbuf_init(&b);
	odata_render_row(&r, &acc, "B", &b);
	assert_string_equal(b.s, "null");
	strbuf_free(&b);
}

/* Event(id, occurredAt, integrationKey, payload) of WebhookMonitoring:
 * no etag, the key is the id, DateTime columns hold ms since the epoch. */
static void
monitoring_rows(void **state)
{
	static const struct {
		const char *cols[5];	/* id, occurredAt ms, integrationKey, payload, deliveredAt ms */
		const char *json;
	} rows[] = {
		{ { "e1", "1795510800000", "Order|1", "{\"a\": 1}", NULL },
		  "{\"__metadata\":{\"id\":\"B/Events('e1')\",\"uri\":\"B/Events('e1')\","
		  "\"type\":\"HybrisCommerceOData.Event\"},\"id\":\"e1\","
		  "\"occurredAt\":\"/Date(1795510800000)/\",\"integrationKey\":\"Order|1\","
		  "\"payload\":\"{\\\"a\\\": 1}\",\"deliveries\":{\"__deferred\":{\"uri\":"
		  "\"B/Events('e1')/deliveries\"}}}" },
		/* before 1970: negative milliseconds, as selected */
		{ { "e2", "-1", NULL, "{}", NULL },
		  "{\"__metadata\":{\"id\":\"B/Events('e2')\",\"uri\":\"B/Events('e2')\","
		  "\"type\":\"HybrisCommerceOData.Event\"},\"id\":\"e2\","
		  "\"occurredAt\":\"/Date(-1)/\",\"integrationKey\":null,\"payload\":\"{}\","
		  "\"deliveries\":{\"__deferred\":{\"uri\":\"B/Events('e2')/deliveries\"}}}" },
		{ { "0", "0", "", "[]", NULL },
		  "{\"__metadata\":{\"id\":\"B/Events('0')\",\"uri\":\"B/Events('0')\","
		  "\"type\":\"HybrisCommerceOData.Event\"},\"id\":\"0\","
		  "\"occurredAt\":\"/Date(0)/\",\"integrationKey\":\"\",\"payload\":\"[]\","
		  "\"deliveries\":{\"__deferred\":{\"uri\":\"B/Events('0')/deliveries\"}}}" },
		/* a key with every escaped character, a '|' and '+' kept, and a
		 * control character (JSON-escaped in the URI) */
		{ { "a'b/c%d?e#f g\"h\\i|j+k\xc3\xa9\n", "1", "k", "{}", NULL },
		  "{\"__metadata\":{\"id\":\"B/Events('a''b%2Fc%25d%3Fe%23f%20g%22h%5Ci|j+k\xc3\xa9\\n')\","
		  "\"uri\":\"B/Events('a''b%2Fc%25d%3Fe%23f%20g%22h%5Ci|j+k\xc3\xa9\\n')\","
		  "\"type\":\"HybrisCommerceOData.Event\"},\"id\":\"a'b/c%d?e#f g\\\"h\\\\i|j+k\xc3\xa9\\n\","
		  "\"occurredAt\":\"/Date(1)/\",\"integrationKey\":\"k\",\"payload\":\"{}\","
		  "\"deliveries\":{\"__deferred\":{\"uri\":"
		  "\"B/Events('a''b%2Fc%25d%3Fe%23f%20g%22h%5Ci|j+k\xc3\xa9\\n')/deliveries\"}}}" },
	};
	const struct odata_type *t;
	struct odata_render r;
	struct odata_render_node *n;
	size_t i;

	(void)state;
	odata_model_init();
	t = odata_model_type(&odata_monitoring_service, "Event");
	assert_non_null(t);
	assert_null(odata_model_type(&odata_webhook_service, "Event"));
	memset(&r, 0, sizeof(r));
	n = odata_render_node_new(&r, t);
	assert_int_equal(n->col_version, -1);	/* no etag unless set */
	n->col_key = 0;   /* the id column */
	n->props[0] = odata_model_prop(t, "id");
	n->col_prop[0] = 0;
	n->props[1] = odata_model_prop(t, "occurredAt");
	n->col_prop[1] = 1;
	n->props[2] = odata_model_prop(t, "integrationKey");
	n->col_prop[2] = 2;
	n->props[3] = odata_model_prop(t, "payload");
	n->col_prop[3] = 3;
	n->nprops = 4;
	n->navs[0] = odata_model_nav(t, "deliveries");
	n->nav_kind[0] = ODATA_RENDER_DEFERRED;
	n->nnavs = 1;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fake f = { rows[i].cols };
		struct odata_row acc = { fake_value, fake_isnull, &f };
		struct strbuf b;
		json_t *j;

		strbuf_init(&b);
		odata_render_row(&r, &acc, "B", &b);
		assert_false(b.failed);
		if (strcmp(b.s, rows[i].json) != 0)
			fail_msg("row %zu:\n got %s\nwant %s", i, b.s, rows[i].json);
		j = json_loads(b.s, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "id")), rows[i].cols[0]);
		json_decref(j);
		strbuf_free(&b);
	}
}

/* A nullable DateTime column that is NULL is JSON null. */
static void
null_datetime(void **state)
{
	const char *cols[] = { "d1", NULL };
	struct fake f = { cols };
	struct odata_row acc = { fake_value, fake_isnull, &f };
	const struct odata_type *t;
	struct odata_render r;
	struct odata_render_node *n;
	struct strbuf b;

	(void)state;
	odata_model_init();
	t = odata_model_type(&odata_monitoring_service, "Delivery");
	memset(&r, 0, sizeof(r));
	n = odata_render_node_new(&r, t);
	n->col_key = 0;
	n->props[0] = odata_model_prop(t, "deliveredAt");
	n->col_prop[0] = 1;
	n->nprops = 1;
	strbuf_init(&b);
	odata_render_row(&r, &acc, "B", &b);
	assert_string_equal(b.s, "{\"__metadata\":{\"id\":\"B/Deliveries('d1')\",\"uri\":"
	    "\"B/Deliveries('d1')\",\"type\":\"HybrisCommerceOData.Delivery\"},\"deliveredAt\":null}");
	strbuf_free(&b);
}

/* What the SQL of odata_render_plain_key_sql() computes: its replace()
 * calls applied in order, simulated here; it must equal the URI text the
 * C writer produces for the same key. */
static char *
sql_replace(const char *s, const char *from, const char *to)
{
	size_t nf = strlen(from), nt = strlen(to), n = 0;
	char *out = malloc(strlen(s) * (nt + 1) + 1);

	assert_non_null(out);
	while (*s) {
		if (strncmp(s, from, nf) == 0) {
			memcpy(out + n, to, nt);
			n += nt;
			s += nf;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	return out;
}

/* Reads the SQL literal at *p ('...' with '' for a quote). */
static char *
sql_lit(const char **p)
{
	char *out = malloc(strlen(*p) + 1);
	size_t n = 0;

	assert_non_null(out);
	assert_int_equal(**p, '\'');
	for ((*p)++; !(**p == '\'' && (*p)[1] != '\''); (*p)++) {
		if (**p == '\'')
			(*p)++;
		out[n++] = **p;
	}
	(*p)++;
	out[n] = '\0';
	return out;
}

static void
plain_key_sql(void **state)
{
	static const char *const keys[] = {
		"", "plain", "a'b", "100%", "%25", "a/b", "?#", "x y", "\"q\"", "b\\s", "''",
		"a|b+c", "caf\xc3\xa9", "%'/?# \"\\",
	};
	struct strbuf sql;
	size_t i;

	(void)state;
	odata_model_init();
	strbuf_init(&sql);
	odata_render_plain_key_sql(&sql, "z.k");
	assert_false(sql.failed);
	/* fixed text only, '%' replaced first */
	assert_string_equal(sql.s, "replace(replace(replace(replace(replace(replace(replace("
	    "replace(z.k, '%', '%25'), '''', ''''''), '/', '%2F'), '?', '%3F'), '#', '%23'), "
	    "' ', '%20'), '\"', '%22'), '\\', '%5C')");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct odata_type *t = odata_model_type(&odata_monitoring_service, "Event");
		const char *cols[] = { keys[i] };
		struct fake f = { cols };
		struct odata_row acc = { fake_value, fake_isnull, &f };
		struct odata_render r;
		struct odata_render_node *n;
		struct strbuf b;
		char *v = strdup(keys[i]), *want;
		const char *p = sql.s + strlen("replace(replace(replace(replace(replace(replace("
		    "replace(replace(z.k");

		/* apply the SQL's replace() calls in order */
		while (*p == ',') {
			char *from, *to, *next;

			p += 2;
			from = sql_lit(&p);
			p += 2;
			to = sql_lit(&p);
			assert_int_equal(*p, ')');
			p++;
			next = sql_replace(v, from, to);
			free(v);
			v = next;
			free(from);
			free(to);
		}
		assert_int_equal(*p, '\0');
		memset(&r, 0, sizeof(r));
		n = odata_render_node_new(&r, t);
		n->col_key = 0;
		strbuf_init(&b);
		odata_render_row(&r, &acc, "B", &b);
		want = malloc(strlen(v) + 64);
		assert_non_null(want);
		sprintf(want, "{\"__metadata\":{\"id\":\"B/Events('%s')\"", v);
		/* no control characters here: the URI needs no JSON escaping */
		if (strncmp(b.s, want, strlen(want)) != 0)
			fail_msg("key %zu: C writes %s, SQL computes %s", i, b.s, v);
		assert_null(strpbrk(v, "\"\\"));	/* escaped by the table itself */
		free(want);
		free(v);
		strbuf_free(&b);
	}
	strbuf_free(&sql);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_strings),
		cmocka_unit_test(entity_rows),
		cmocka_unit_test(null_child),
		cmocka_unit_test(monitoring_rows),
		cmocka_unit_test(null_datetime),
		cmocka_unit_test(plain_key_sql),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
