/* scope — the FROM clause of one SQL (sub)query over the entity model:
 * the base table, the LEFT JOINs that to-one paths need (each joined once),
 * and the integrationKey as a SQL expression or as an indexable condition.
 * Aliases are t<N>, numbered by a counter shared by nested scopes so that a
 * correlated subquery never shadows its outer query. */
#ifndef WEBHOOKD_ODATA_SCOPE_H
#define WEBHOOKD_ODATA_SCOPE_H

#include <stdbool.h>

#include "filter_sql.h"
#include "model.h"
#include "strbuf.h"

#define ODATA_SCOPE_MAX_JOINS 48

struct odata_scope_join {
	int parent;
	const struct odata_nav *nav;
	int alias;
};

struct odata_scope {
	struct odata_sql_params *params;
	int *counter;
	const struct odata_type *type;
	int root;                       /* alias of the base table */
	struct odata_scope_join j[ODATA_SCOPE_MAX_JOINS];
	int nj;
	bool failed;                    /* too many joins */
};

void odata_scope_init(struct odata_scope *s, const struct odata_type *t,
                      struct odata_sql_params *p, int *counter);
/* Alias of nav's target reached from parent_alias (joined on first use). */
int  odata_scope_join(struct odata_scope *s, int parent_alias, const struct odata_nav *nav);
/* " FROM <table> tR LEFT JOIN ... " */
void odata_scope_from(const struct odata_scope *s, struct strbuf *out);
/* The key text of type t at alias, as SQL: the stored integration_key, or a
 * plain-key type's key column. */
void odata_scope_key_expr(struct odata_scope *s, const struct odata_type *t, int alias,
                          struct strbuf *out);
/* Appends a condition true exactly for the row of type t at alias whose key is
 * `key` (the whole integrationKey text, or a plain key's value as it is).
 * Returns 0, or -1 when the key does not split into t's parts (wrong arity,
 * undecodable; never for a plain key): then "FALSE" is appended, so callers
 * that only filter can ignore the return value. */
int  odata_scope_key_cond(struct odata_scope *s, const struct odata_type *t, int alias,
                          const char *key, struct strbuf *out);
/* Same from already split values (t->nkeys of them, NULL = null; a plain
 * key's NULL value matches nothing). */
void odata_scope_values_cond(struct odata_scope *s, const struct odata_type *t, int alias,
                             char *const *values, struct strbuf *out);
/* "(SELECT tN.pk FROM ... WHERE <values cond>)": the pk of t's row with these
 * key values, or NULL. */
void odata_scope_lookup(struct odata_sql_params *p, int *counter, const struct odata_type *t,
                        char *const *values, struct strbuf *out);

#endif
