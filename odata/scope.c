#include "scope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

void
odata_scope_init(struct odata_scope *s, const struct odata_type *t,
    struct odata_sql_params *p, int *counter)
{
	memset(s, 0, sizeof(*s));
	s->params = p;
	s->counter = counter;
	s->type = t;
	s->root = (*counter)++;
}

int
odata_scope_join(struct odata_scope *s, int parent_alias, const struct odata_nav *nav)
{
	int i;

	for (i = 0; i < s->nj; i++)
		if (s->j[i].parent == parent_alias && s->j[i].nav == nav)
			return s->j[i].alias;
	if (s->nj == ODATA_SCOPE_MAX_JOINS) {
		s->failed = true;
		return s->root;
	}
	s->j[s->nj].parent = parent_alias;
	s->j[s->nj].nav = nav;
	s->j[s->nj].alias = (*s->counter)++;
	return s->j[s->nj++].alias;
}

void
odata_scope_from(const struct odata_scope *s, struct strbuf *out)
{
	int i;

	strbuf_addf(out, " FROM %s t%d", s->type->table, s->root);
	for (i = 0; i < s->nj; i++)
		strbuf_addf(out, " LEFT JOIN %s t%d ON t%d.pk = t%d.%s",
		    s->j[i].nav->target->table, s->j[i].alias, s->j[i].alias,
		    s->j[i].parent, s->j[i].nav->column);
}

void
odata_scope_key_expr(struct odata_scope *s, const struct odata_type *t, int alias,
    struct strbuf *out)
{
	(void)s;
	strbuf_addf(out, "t%d.%s", alias, odata_model_key_column(t));
}

/* The stored key is the canonical encoding of the values: compare with that.
 * A plain key is its one value. */
void
odata_scope_values_cond(struct odata_scope *s, const struct odata_type *t, int alias,
    char *const *values, struct strbuf *out)
{
	char *key;

	if (t->flags & ODATA_TYPE_PLAIN_KEY) {
		if (values[0] == NULL) {
			strbuf_adds(out, "FALSE");
			return;
		}
		strbuf_addf(out, "(t%d.%s = $%d::text)", alias, odata_model_key_column(t),
		    odata_sql_param_add(s->params, values[0]));
		return;
	}
	key = odata_key_encode((const char *const *)values, t->nkeys);
	if (key == NULL) {
		out->failed = true;
		return;
	}
	strbuf_addf(out, "(t%d.integration_key = $%d::text)", alias, odata_sql_param_add(s->params, key));
	free(key);
}

int
odata_scope_key_cond(struct odata_scope *s, const struct odata_type *t, int alias,
    const char *key, struct strbuf *out)
{
	char **v;

	if (t->flags & ODATA_TYPE_PLAIN_KEY) {
		char *one[1] = { (char *)key };

		odata_scope_values_cond(s, t, alias, one, out);
		return 0;
	}
	if (odata_key_split(key, t->nkeys, &v) < 0) {
		strbuf_adds(out, "FALSE");
		return -1;
	}
	odata_scope_values_cond(s, t, alias, v, out);
	odata_key_free_values(v, t->nkeys);
	return 0;
}

void
odata_scope_lookup(struct odata_sql_params *p, int *counter, const struct odata_type *t,
    char *const *values, struct strbuf *out)
{
	struct odata_scope s;
	struct strbuf cond;

	strbuf_init(&cond);
	odata_scope_init(&s, t, p, counter);
	odata_scope_values_cond(&s, t, s.root, values, &cond);
	strbuf_addf(out, "(SELECT t%d.pk", s.root);
	odata_scope_from(&s, out);
	strbuf_addf(out, " WHERE %s)", cond.s ? cond.s : "FALSE");
	if (cond.failed || s.failed)
		out->failed = true;
	strbuf_free(&cond);
}
