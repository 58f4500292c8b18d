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

/* Alias of the type holding key part k's last segment. */
static int
walk_hops(struct odata_scope *s, const struct odata_keypath *kp, int alias)
{
	int h;

	for (h = 0; h < kp->nhops; h++)
		alias = odata_scope_join(s, alias, kp->hops[h]);
	return alias;
}

static const struct odata_type *
hop_type(const struct odata_type *t, const struct odata_keypath *kp)
{
	return kp->nhops ? kp->hops[kp->nhops - 1]->target : t;
}

void
odata_scope_key_expr(struct odata_scope *s, const struct odata_type *t, int alias,
    struct strbuf *out)
{
	size_t k;

	strbuf_addc(out, '(');
	for (k = 0; k < t->nkeys; k++) {
		const struct odata_keypath *kp = &t->key[k];
		int a = walk_hops(s, kp, alias);

		if (k)
			strbuf_adds(out, " || '|' || ");
		strbuf_adds(out, "webhookd.key_part(");
		if (kp->prop == NULL)
			odata_scope_key_expr(s, hop_type(t, kp), a, out);
		else if (kp->prop->type == ODATA_EDM_STRING)
			strbuf_addf(out, "t%d.%s", a, kp->prop->column);
		else
			strbuf_addf(out, "t%d.%s::text", a, kp->prop->column);
		strbuf_addc(out, ')');
	}
	strbuf_addc(out, ')');
}

static bool
int32_text(const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	return *v && *end == '\0' && errno == 0 && n >= -2147483648L && n <= 2147483647L &&
	    (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'));
}

static void
part_cond(struct odata_scope *s, const struct odata_type *t, const struct odata_keypath *kp,
    int alias, const char *v, struct strbuf *out)
{
	int a = walk_hops(s, kp, alias), n;

	if (kp->prop == NULL) {
		if (v == NULL)
			strbuf_adds(out, "FALSE");
		else
			odata_scope_key_cond(s, hop_type(t, kp), a, v, out);
		return;
	}
	if (v == NULL) {
		strbuf_addf(out, "t%d.%s IS NULL", a, kp->prop->column);
		return;
	}
	if (kp->prop->type == ODATA_EDM_INT32 && !int32_text(v)) {
		strbuf_adds(out, "FALSE");
		return;
	}
	n = odata_sql_param_add(s->params, v);
	if (kp->prop->type == ODATA_EDM_INT32)
		strbuf_addf(out, "t%d.%s = $%d::int4", a, kp->prop->column, n);
	else
		strbuf_addf(out, "t%d.%s = $%d::text", a, kp->prop->column, n);
}

void
odata_scope_values_cond(struct odata_scope *s, const struct odata_type *t, int alias,
    char *const *values, struct strbuf *out)
{
	size_t k;

	strbuf_addc(out, '(');
	for (k = 0; k < t->nkeys; k++) {
		if (k)
			strbuf_adds(out, " AND ");
		part_cond(s, t, &t->key[k], alias, values[k], out);
	}
	strbuf_addc(out, ')');
}

int
odata_scope_key_cond(struct odata_scope *s, const struct odata_type *t, int alias,
    const char *key, struct strbuf *out)
{
	char **v;

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
