#include "render.h"

#include <stdlib.h>
#include <string.h>


struct odata_render_node *
odata_render_node_new(struct odata_render *r, const struct odata_type *t)
{
	struct odata_render_node *n;

	if (r->n == ODATA_RENDER_MAX_NODES)
		return NULL;
	n = &r->nodes[r->n++];
	memset(n, 0, sizeof(*n));
	n->t = t;
	n->col_pk = -1;
	n->col_version = -1;
	return n;
}

/* s as the inside of a JSON string (without the quotes). */
static void
json_chars(struct strbuf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		strbuf_add(out, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"':  strbuf_adds(out, "\\\""); break;
		case '\\': strbuf_adds(out, "\\\\"); break;
		case '\n': strbuf_adds(out, "\\n"); break;
		case '\r': strbuf_adds(out, "\\r"); break;
		case '\t': strbuf_adds(out, "\\t"); break;
		default:
			strbuf_adds(out, "\\u00");
			strbuf_addc(out, hex[c >> 4]);
			strbuf_addc(out, hex[c & 15]);
		}
	}
	strbuf_add(out, run, (size_t)(s - run));
}

void
odata_render_json_string(struct strbuf *out, const char *s)
{
	strbuf_addc(out, '"');
	json_chars(out, s);
	strbuf_addc(out, '"');
}

/* A plain key (any text) inside Set('...') of a URI that is decoded once:
 * these characters are replaced, '%' first, everything else is kept. The
 * C writer below and the SQL one (read.c's expanded collections) apply the
 * same table, so both kinds of answer spell an entity's URI alike. */
static const struct {
	char c;
	const char *rep;
} plain_escapes[] = {
	{ '%', "%25" }, { '\'', "''" }, { '/', "%2F" }, { '?', "%3F" }, { '#', "%23" },
	{ ' ', "%20" }, { '"', "%22" }, { '\\', "%5C" },
};
#define NPLAIN (sizeof(plain_escapes) / sizeof(plain_escapes[0]))

/* s (fixed text of this file) as a SQL string literal. */
static void
sql_literal(struct strbuf *out, const char *s)
{
	strbuf_addc(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addc(out, '\'');
		strbuf_addc(out, *s);
	}
	strbuf_addc(out, '\'');
}

void
odata_render_plain_key_sql(struct strbuf *out, const char *expr)
{
	size_t i;

	for (i = NPLAIN; i > 0; i--)
		strbuf_adds(out, "replace(");
	strbuf_adds(out, expr);
	for (i = 0; i < NPLAIN; i++) {
		char c[2] = { plain_escapes[i].c, '\0' };

		strbuf_adds(out, ", ");
		sql_literal(out, c);
		strbuf_adds(out, ", ");
		sql_literal(out, plain_escapes[i].rep);
		strbuf_addc(out, ')');
	}
}

/* base/Set('key') with the key escaped for a path decoded once. */
static void
entity_uri(struct strbuf *out, const char *base, const struct odata_type *t, const char *key)
{
	strbuf_addf(out, "%s/%s('", base, t->set);
	if (t->flags & ODATA_TYPE_PLAIN_KEY) {
		for (; *key; key++) {
			size_t i;

			for (i = 0; i < NPLAIN && plain_escapes[i].c != *key; i++)
				;
			if (i < NPLAIN)
				strbuf_adds(out, plain_escapes[i].rep);
			else
				strbuf_addc(out, *key);
		}
		strbuf_adds(out, "')");
		return;
	}
	for (; *key; key++) {
		if (*key == '%')
			strbuf_adds(out, "%25");
		else if (*key == '|')
			strbuf_adds(out, "%7C");
		else if (*key == '"' || *key == '\\')   /* never in a key; JSON-safe anyway */
			strbuf_addf(out, "%%%02X", (unsigned char)*key);
		else
			strbuf_addc(out, *key);
	}
	strbuf_adds(out, "')");
}

static void
value(struct strbuf *out, const struct odata_prop *p, const struct odata_row *row, int col)
{
	const char *v;

	if (row->isnull(row->arg, col)) {
		strbuf_adds(out, "null");
		return;
	}
	v = row->value(row->arg, col);
	switch (p->type) {
	case ODATA_EDM_BOOLEAN:
		strbuf_adds(out, v[0] == 't' ? "true" : "false");
		break;
	case ODATA_EDM_INT32:
		strbuf_adds(out, v);
		break;
	case ODATA_EDM_DATETIME:
		/* the column is the instant in ms since the epoch (read.c) */
		strbuf_addf(out, "\"/Date(%s)/\"", v);
		break;
	case ODATA_EDM_STRING:
		odata_render_json_string(out, v);
		break;
	}
}

static void
node(const struct odata_render_node *n, const struct odata_row *row, const char *base,
    struct strbuf *out)
{
	struct strbuf raw, uri;
	const char *key;
	int i;

	if (n->col_pk >= 0 && row->isnull(row->arg, n->col_pk)) {
		strbuf_adds(out, "null");
		return;
	}
	key = row->value(row->arg, n->col_key);
	strbuf_init(&raw);
	strbuf_init(&uri);
	entity_uri(&raw, base, n->t, key);
	/* JSON text of the URI (a plain key may hold control characters; an
	 * integrationKey never needs escaping) */
	strbuf_adds(&uri, "");
	json_chars(&uri, raw.s ? raw.s : "");
	strbuf_addf(out, "{\"__metadata\":{\"id\":\"%s\",\"uri\":\"%s\",\"type\":\"%s.%s\"",
	    uri.s ? uri.s : "", uri.s ? uri.s : "", n->t->service ? n->t->service->ns :
	    ODATA_NAMESPACE, n->t->name);
	if (n->col_version >= 0)
		strbuf_addf(out, ",\"etag\":\"W/\\\"%s\\\"\"", row->value(row->arg, n->col_version));
	strbuf_addc(out, '}');
	for (i = 0; i < n->nprops; i++) {
		strbuf_addf(out, ",\"%s\":", n->props[i]->name);
		value(out, n->props[i], row, n->col_prop[i]);
	}
	if (n->show_key) {
		strbuf_adds(out, ",\"" ODATA_KEY_NAME "\":");
		odata_render_json_string(out, key);
	}
	for (i = 0; i < n->nnavs; i++) {
		strbuf_addf(out, ",\"%s\":", n->navs[i]->name);
		switch (n->nav_kind[i]) {
		case ODATA_RENDER_DEFERRED:
			strbuf_addf(out, "{\"__deferred\":{\"uri\":\"%s/%s\"}}", uri.s ? uri.s : "",
			    n->navs[i]->name);
			break;
		case ODATA_RENDER_ONE:
			node(n->nav_child[i], row, base, out);
			break;
		case ODATA_RENDER_JSON:
			strbuf_adds(out, row->isnull(row->arg, n->nav_col[i]) ? "{\"results\":[]}" :
			    row->value(row->arg, n->nav_col[i]));
			break;
		}
	}
	strbuf_addc(out, '}');
	if (uri.failed || raw.failed)
		out->failed = true;
	strbuf_free(&raw);
	strbuf_free(&uri);
}

void
odata_render_row(const struct odata_render *r, const struct odata_row *row,
    const char *base_uri, struct strbuf *out)
{
	if (r->n > 0)
		node(&r->nodes[0], row, base_uri, out);
}
