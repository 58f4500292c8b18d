#include "stmt.h"

#include <stdlib.h>
#include <string.h>

struct odata_stmt *
odata_stmts_add(struct odata_stmts *s, char *sql, struct odata_sql_params *params,
    enum odata_stmt_role role)
{
	struct odata_stmt *st;

	if (sql == NULL)
		goto fail;
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		struct odata_stmt *v = realloc(s->v, (size_t)cap * sizeof(*v));

		if (v == NULL)
			goto fail;
		s->v = v;
		s->cap = cap;
	}
	st = &s->v[s->n++];
	memset(st, 0, sizeof(*st));
	st->sql = sql;
	st->params = *params;
	memset(params, 0, sizeof(*params));
	st->role = role;
	return st;
fail:
	free(sql);
	odata_sql_params_free(params);
	return NULL;
}

void
odata_stmts_free(struct odata_stmts *s)
{
	int i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].sql);
		free(s->v[i].render);
		odata_sql_params_free(&s->v[i].params);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}
