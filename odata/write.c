#include "write.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "filter.h"
#include "key.h"
#include "read.h"
#include "scope.h"

#define MAX_DEPTH  8      /* nesting of entities in one payload */
#define MAX_STMTS  1000   /* statements one payload may plan */
#define MAX_TREE   64

/* The entity a nested collection element belongs to. */
struct parent {
	const struct odata_type *t;
	char *const *values;
	const struct odata_nav *inverse;   /* the element's nav back to it */
};

struct wctx {
	const struct odata_write_req *rq;
	struct odata_write *out;
	struct odata_fail *f;
	int counter;
	struct odata_expand_tree tree[MAX_TREE];
	int ntree;
};

static int entity(struct wctx *w, const struct odata_type *t, json_t *o,
                  const struct parent *par, int depth, enum odata_write_mode mode,
                  char ***values_out, struct odata_expand_tree **tree_out);

static int
nomem(struct wctx *w)
{
	return odata_fail(w->f, 500, "internal_error", NULL, "Out of memory.");
}

static void
free_values(char **v, size_t n)
{
	odata_key_free_values(v, n);
}

/* ---- JSON values -------------------------------------------------------- */

/* Text of a scalar JSON value for a property of type e; NULL for null.
 * Returns -1 (with f set) when the JSON type does not fit. */
static int
scalar_text(struct wctx *w, const struct odata_type *t, const struct odata_prop *p,
    json_t *v, char **out)
{
	char buf[32];

	*out = NULL;
	if (json_is_null(v)) {
		if (p->flags & ODATA_PROP_NOT_NULL)
			return odata_fail(w->f, 400, "invalid_attribute_value", p->name,
			    "Property [%s] of [%s] cannot be null.", p->name, t->name);
		return 0;
	}
	switch (p->type) {
	case ODATA_EDM_STRING:
		if (!json_is_string(v))
			break;
		if (p->max_length && json_string_length(v) > (size_t)p->max_length)
			return odata_fail(w->f, 400, "invalid_attribute_value", p->name,
			    "Property [%s] of [%s] is longer than %d bytes.", p->name, t->name,
			    p->max_length);
		if (strlen(json_string_value(v)) != json_string_length(v))
			break;   /* NUL inside */
		*out = strdup(json_string_value(v));
		return *out ? 0 : nomem(w);
	case ODATA_EDM_INT32:
		if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
		    json_integer_value(v) > INT32_MAX)
			break;
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*out = strdup(buf);
		return *out ? 0 : nomem(w);
	case ODATA_EDM_BOOLEAN:
		if (!json_is_boolean(v))
			break;
		*out = strdup(json_is_true(v) ? "true" : "false");
		return *out ? 0 : nomem(w);
	case ODATA_EDM_DATETIME:
		break;   /* only in read-only types (model.c), which are never written */
	}
	return odata_fail(w->f, 400, "invalid_attribute_value", p->name,
	    "Property [%s] of [%s] must be %s.", p->name, t->name, odata_model_edm_name(p->type));
}

static int
check_value(struct wctx *w, const struct odata_type *t, const struct odata_prop *p,
    const char *v)
{
	struct odata_filter *flt;
	struct odata_filter_error fe;
	size_t i;

	if (v && p->values) {
		for (i = 0; p->values[i]; i++)
			if (strcmp(p->values[i], v) == 0)
				break;
		if (p->values[i] == NULL)
			return odata_fail(w->f, 400, "invalid_attribute_value", p->name,
			    "Property [%s] of [%s] has an unsupported value.", p->name, t->name);
	}
	/* a WebhookFilter expression must be a valid $filter expression */
	if (v && strcmp(t->name, "WebhookFilter") == 0 && strcmp(p->name, "expression") == 0) {
		if (odata_filter_parse(v, strlen(v), &flt, &fe) < 0)
			return odata_fail(w->f, 400, "invalid_attribute_value", p->name,
			    "Property [expression] of [WebhookFilter] is not a valid filter: %s", fe.message);
		odata_filter_free(flt);
	}
	return 0;
}

/* ---- keys ------------------------------------------------------------------ */

static int key_values(struct wctx *w, const struct odata_type *t, json_t *o,
                      const struct parent *par, bool need_all, char ***out);

/* Value at key path k of t, read from the JSON object o (NULL: absent). */
static int
path_value(struct wctx *w, const struct odata_type *t, size_t k, json_t *o, char **out,
    bool *present)
{
	const struct odata_keypath *kp = &t->key[k];
	const struct odata_type *cur = t;
	char **sub;
	int h;

	*present = false;
	*out = NULL;
	for (h = 0; h < kp->nhops && o; h++) {
		o = json_object_get(o, kp->hops[h]->name);
		if (o && json_is_object(json_object_get(o, "d")))
			o = json_object_get(o, "d");
		cur = kp->hops[h]->target;
		if (o && !json_is_object(o))
			o = NULL;
	}
	if (o == NULL)
		return 0;
	if (kp->prop == NULL) {
		if (key_values(w, cur, o, NULL, false, &sub) < 0)
			return -1;
		if (sub == NULL)
			return 0;
		*out = odata_key_encode((const char *const *)sub, cur->nkeys);
		free_values(sub, cur->nkeys);
		*present = true;
		return *out ? 0 : nomem(w);
	}
	o = json_object_get(o, kp->prop->name);
	if (o == NULL || json_is_null(o))
		return 0;
	if (scalar_text(w, cur, kp->prop, o, out) < 0)
		return -1;
	*present = true;
	return 0;
}

/* The value of key path k taken from the parent: path "<inverse>/<suffix>"
 * where the suffix is one of the parent's own key paths or integrationKey. */
static int
parent_value(struct wctx *w, const struct odata_type *t, size_t k, const struct parent *par,
    char **out)
{
	const char *suffix = strchr(t->key_paths[k], '/') + 1;
	size_t i;

	if (strcmp(suffix, ODATA_KEY_NAME) == 0) {
		*out = odata_key_encode((const char *const *)par->values, par->t->nkeys);
		return *out ? 0 : nomem(w);
	}
	for (i = 0; i < par->t->nkeys; i++)
		if (strcmp(par->t->key_paths[i], suffix) == 0) {
			*out = par->values[i] ? strdup(par->values[i]) : NULL;
			return 0;
		}
	return odata_fail(w->f, 500, "internal_error", NULL, "Model error: key path %s.",
	    t->key_paths[k]);
}

/* The key values of entity o of type t. With need_all, a missing attribute
 * without a default is 400 missing_key; without, *out is NULL then. */
static int
key_values(struct wctx *w, const struct odata_type *t, json_t *o, const struct parent *par,
    bool need_all, char ***out)
{
	char **v = calloc(t->nkeys, sizeof(*v));
	bool present;
	size_t k;

	*out = NULL;
	if (v == NULL)
		return nomem(w);
	for (k = 0; k < t->nkeys; k++) {
		const struct odata_keypath *kp = &t->key[k];

		if (par && kp->nhops && kp->hops[0] == par->inverse) {
			if (parent_value(w, t, k, par, &v[k]) < 0)
				goto fail;
			continue;
		}
		if (path_value(w, t, k, o, &v[k], &present) < 0)
			goto fail;
		if (present)
			continue;
		if (kp->nhops == 0 && kp->prop->dflt) {
			if ((v[k] = strdup(kp->prop->dflt)) == NULL)
				goto oom;
			continue;
		}
		if (!need_all) {
			free_values(v, t->nkeys);
			return 0;
		}
		odata_fail(w->f, 400, "missing_key", t->key_paths[k],
		    "Key attribute [%s] of [%s] is missing.", t->key_paths[k], t->name);
		goto fail;
	}
	*out = v;
	return 0;
oom:
	nomem(w);
fail:
	free_values(v, t->nkeys);
	return -1;
}

/* ---- statements ------------------------------------------------------------- */

static int
emit(struct wctx *w, struct strbuf *sql, struct odata_sql_params *p, enum odata_stmt_role role)
{
	if (w->out->stmts.n >= MAX_STMTS) {
		strbuf_free(sql);
		odata_sql_params_free(p);
		return odata_fail(w->f, 413, "payload_too_large", NULL,
		    "The payload writes more than %d entities.", MAX_STMTS);
	}
	if (sql->failed || odata_stmts_add(&w->out->stmts, strbuf_detach(sql), p, role) == NULL) {
		strbuf_free(sql);
		odata_sql_params_free(p);
		return nomem(w);
	}
	return 0;
}

static const char *
cast(enum odata_edm e)
{
	return e == ODATA_EDM_INT32 ? "::int4" : e == ODATA_EDM_BOOLEAN ? "::boolean" : "::text";
}

/* Column values of one row being written. */
struct row {
	const char *cols[40];
	struct strbuf vals[40];
	bool key[40];          /* part of the UNIQUE key: never in the UPDATE SET */
	bool insert_only[40];  /* generated secret: only on insert */
	int n;
};

static struct strbuf *
row_col(struct row *r, const char *col, bool key)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->cols[i], col) == 0) {
			strbuf_reset(&r->vals[i]);
			return &r->vals[i];
		}
	if (r->n == 40)
		return NULL;
	r->cols[r->n] = col;
	r->key[r->n] = key;
	r->insert_only[r->n] = false;
	strbuf_init(&r->vals[r->n]);
	return &r->vals[r->n++];
}

static void
row_free(struct row *r)
{
	int i;

	for (i = 0; i < r->n; i++)
		strbuf_free(&r->vals[i]);
}

static bool
is_unique_col(const struct odata_type *t, const char *col)
{
	size_t i;

	for (i = 0; i < t->nunique; i++)
		if (strcmp(t->unique_cols[i], col) == 0)
			return true;
	return false;
}

static void
lookup_or_fail(struct wctx *w, struct odata_sql_params *p, const struct odata_type *t,
    char *const *values, struct strbuf *out)
{
	char *key = odata_key_encode((const char *const *)values, t->nkeys);

	strbuf_adds(out, "COALESCE(");
	odata_scope_lookup(p, &w->counter, t, values, out);
	strbuf_addf(out, ", webhookd.not_found('%s', $%d::text))", t->name,
	    odata_sql_param_add(p, key ? key : ""));
	free(key);
}

/* Properties of o into the row; unknown names are refused. */
static int
row_props(struct wctx *w, const struct odata_type *t, json_t *o, struct row *r,
    struct odata_sql_params *p, enum odata_write_mode mode, const char *key)
{
	const char *name;
	json_t *v;
	size_t i;

	json_object_foreach(o, name, v) {
		if (strcmp(name, "__metadata") == 0 || strcmp(name, ODATA_KEY_NAME) == 0 ||
		    odata_model_nav(t, name))
			continue;
		if (odata_model_prop(t, name) == NULL)
			return odata_fail(w->f, 400, "invalid_property", name,
			    "Property [%.128s] is not a property of [%s].", name, t->name);
	}
	for (i = 0; i < t->nprops; i++) {
		const struct odata_prop *pr = &t->props[i];
		struct strbuf *b;
		char *text, *stored;
		int ph;

		v = json_object_get(o, pr->name);
		if (pr->flags & ODATA_PROP_READ_ONLY)
			continue;
		if (v == NULL && pr->dflt && mode == ODATA_WRITE_UPSERT && is_unique_col(t, pr->column)) {
			/* a key attribute's default is part of the key */
			if ((b = row_col(r, pr->column, true)) == NULL)
				return nomem(w);
			strbuf_addf(b, "$%d%s", odata_sql_param_add(p, pr->dflt), cast(pr->type));
			continue;
		}
		if (v == NULL) {
			/* PUT resets what it does not send, except write-only values:
			 * a client can never read them back to send them again */
			if (mode == ODATA_WRITE_PUT && !is_unique_col(t, pr->column) &&
			    !(pr->flags & ODATA_PROP_WRITE_ONLY)) {
				if ((b = row_col(r, pr->column, false)) == NULL)
					return nomem(w);
				strbuf_adds(b, "DEFAULT");
			}
			if (!(pr->flags & ODATA_PROP_GENERATED) || mode != ODATA_WRITE_UPSERT)
				continue;
			if (w->out->nsecrets == ODATA_WRITE_MAX_SECRETS)
				return odata_fail(w->f, 413, "payload_too_large", NULL,
				    "Too many entities with generated secrets in one payload.");
			text = w->rq->ops->generate(w->rq->ops->arg);
			if (text == NULL)
				return nomem(w);
			w->out->secrets[w->out->nsecrets].plain = text;
			w->out->secrets[w->out->nsecrets].key = strdup(key);
			w->out->secrets[w->out->nsecrets].type = t->name;
			w->out->secrets[w->out->nsecrets].prop = pr->name;
			w->out->secrets[w->out->nsecrets].stmt = -1;
			w->out->nsecrets++;
		} else {
			if (scalar_text(w, t, pr, v, &text) < 0)
				return -1;
			if (check_value(w, t, pr, text) < 0) {
				free(text);
				return -1;
			}
			/* PATCH/PUT: a key attribute was checked against the path
			 * (check_payload_key) and is never updated */
			if (mode != ODATA_WRITE_UPSERT && is_unique_col(t, pr->column)) {
				free(text);
				continue;
			}
		}
		if ((b = row_col(r, pr->column, is_unique_col(t, pr->column))) == NULL) {
			if (v != NULL)
				free(text);
			return nomem(w);
		}
		if (v == NULL)
			r->insert_only[r->n - 1] = true;
		if (text && (pr->flags & ODATA_PROP_WRITE_ONLY)) {
			char aad[96];

			snprintf(aad, sizeof(aad), "%s.%s", strchr(t->table, '.') + 1, pr->column);
			stored = w->rq->ops->encrypt(w->rq->ops->arg, aad, text);
			if (stored == NULL) {
				if (v != NULL)
					free(text);
				return odata_fail(w->f, 500, "internal_error", NULL, "Encryption failed.");
			}
			ph = odata_sql_param_add(p, stored);
			strbuf_addf(b, "$%d::text", ph);
			free(stored);
			if (v != NULL && w->out->nwo < ODATA_WRITE_MAX_WO && ph > 0) {
				struct odata_write_wo *wo = &w->out->wo[w->out->nwo++];

				wo->stmt = -1;
				wo->param = ph - 1 - p->base;
				wo->plain = text;          /* kept: compared with what is stored */
				wo->column = pr->column;
				snprintf(wo->aad, sizeof(wo->aad), "%s", aad);
				continue;
			}
			if (v != NULL)
				free(text);
			continue;
		}
		strbuf_addf(b, "$%d%s", odata_sql_param_add(p, text), cast(pr->type));
		free(text);
	}
	return 0;
}

static struct odata_expand_tree *
tree_add(struct wctx *w, struct odata_expand_tree **list, const struct odata_nav *nav)
{
	struct odata_expand_tree *n;

	for (n = *list; n; n = n->next)
		if (n->nav == nav)
			return n;
	if (w->ntree == MAX_TREE)
		return NULL;
	n = &w->tree[w->ntree++];
	n->nav = nav;
	n->child = NULL;
	n->next = *list;
	*list = n;
	return n;
}

/* Merges list b into a (union of expanded navigations). */
static int
tree_merge(struct wctx *w, struct odata_expand_tree **a, const struct odata_expand_tree *b)
{
	struct odata_expand_tree *n;

	for (; b; b = b->next) {
		if ((n = tree_add(w, a, b->nav)) == NULL)
			return -1;
		if (tree_merge(w, &n->child, b->child) < 0)
			return -1;
	}
	return 0;
}

static json_t *
unwrap(json_t *v)
{
	json_t *d;

	if (json_is_object(v) && (d = json_object_get(v, "results")) != NULL && json_is_array(d))
		return d;
	return v;
}

/* To-one navigations of o: nested entities first, their keys into the row. */
static int
row_navs(struct wctx *w, const struct odata_type *t, json_t *o, const struct parent *par,
    struct row *r, struct odata_sql_params *p, int depth, enum odata_write_mode mode,
    struct odata_expand_tree **tree)
{
	size_t i;

	for (i = 0; i < t->nnavs; i++) {
		const struct odata_nav *nav = &t->navs[i];
		struct odata_expand_tree *child = NULL, *node;
		struct strbuf *b;
		char **cv = NULL;
		json_t *v;

		if (nav->mult == ODATA_MANY)
			continue;
		if (par && nav == par->inverse) {
			if ((b = row_col(r, nav->column, is_unique_col(t, nav->column))) == NULL)
				return nomem(w);
			lookup_or_fail(w, p, par->t, par->values, b);
			continue;
		}
		if (nav->flags & ODATA_NAV_HIDDEN)
			continue;
		v = json_object_get(o, nav->name);
		if (v == NULL) {
			if (mode == ODATA_WRITE_PUT && nav->mult == ODATA_OPTIONAL) {
				if ((b = row_col(r, nav->column, false)) == NULL)
					return nomem(w);
				strbuf_adds(b, "NULL::bigint");
			}
			continue;
		}
		if (json_is_null(v) && nav->mult == ODATA_OPTIONAL) {
			if ((b = row_col(r, nav->column, false)) == NULL)
				return nomem(w);
			strbuf_adds(b, "NULL::bigint");
			continue;
		}
		if (!json_is_object(v))
			return odata_fail(w->f, 400, json_is_null(v) ? "missing_key" : "invalid_attribute_value",
			    nav->name, "Navigation property [%s] of [%s] must be an entity.", nav->name, t->name);
		if (json_object_get(v, "__deferred"))
			continue;
		if (nav->flags & ODATA_NAV_LOOKUP) {
			if (key_values(w, nav->target, v, NULL, true, &cv) < 0)
				return -1;
		} else if (entity(w, nav->target, v, NULL, depth + 1, ODATA_WRITE_UPSERT, &cv, &child) < 0) {
			return -1;
		}
		node = tree_add(w, tree, nav);
		if (node == NULL) {
			free_values(cv, nav->target->nkeys);
			return nomem(w);
		}
		node->child = child;
		if (mode != ODATA_WRITE_UPSERT && is_unique_col(t, nav->column)) {
			/* PATCH/PUT: part of the key, checked against the path
			 * (check_payload_key); the nested entity was written above */
			free_values(cv, nav->target->nkeys);
			continue;
		}
		if ((b = row_col(r, nav->column, is_unique_col(t, nav->column))) == NULL) {
			free_values(cv, nav->target->nkeys);
			return nomem(w);
		}
		lookup_or_fail(w, p, nav->target, cv, b);
		free_values(cv, nav->target->nkeys);
	}
	return 0;
}

static int
upsert_stmt(struct wctx *w, const struct odata_type *t, struct row *r, struct odata_sql_params *p,
    bool secret)
{
	struct strbuf sql, set, cmp_old, cmp_new;
	int i, nset = 0, rc;

	strbuf_init(&sql);
	strbuf_init(&set);
	strbuf_init(&cmp_old);
	strbuf_init(&cmp_new);
	/* A row already holding these values is left alone without even trying
	 * the insert: ON CONFLICT DO UPDATE would lock it until commit, and
	 * deep payloads name the same shared rows (targets, event
	 * configurations) over and over. */
	strbuf_adds(&sql, "WITH v AS (SELECT ");
	for (i = 0; i < r->n; i++)
		strbuf_addf(&sql, "%s%s AS %s", i ? ", " : "", r->vals[i].s ? r->vals[i].s : "NULL",
		    r->cols[i]);
	strbuf_addf(&sql, ") INSERT INTO %s AS x (", t->table);
	for (i = 0; i < r->n; i++)
		strbuf_addf(&sql, "%s%s", i ? ", " : "", r->cols[i]);
	strbuf_adds(&sql, ") SELECT ");
	for (i = 0; i < r->n; i++)
		strbuf_addf(&sql, "%sv.%s", i ? ", " : "", r->cols[i]);
	strbuf_addf(&sql, " FROM v WHERE NOT EXISTS (SELECT 1 FROM %s y WHERE "
	    "y.integration_key = v.integration_key", t->table);
	for (i = 0; i < r->n; i++)
		if (!r->key[i] && !r->insert_only[i])
			strbuf_addf(&sql, " AND y.%s IS NOT DISTINCT FROM v.%s", r->cols[i], r->cols[i]);
	/* the stored key is as unique as the key attributes and is the one
	 * index every writer of this row probes first */
	strbuf_adds(&sql, ") ON CONFLICT (integration_key");
	strbuf_adds(&sql, ") DO ");
	for (i = 0; i < r->n; i++) {
		if (r->key[i] || r->insert_only[i])
			continue;
		strbuf_addf(&set, "%s%s = EXCLUDED.%s", nset ? ", " : "", r->cols[i], r->cols[i]);
		strbuf_addf(&cmp_old, "%sx.%s", nset ? ", " : "", r->cols[i]);
		strbuf_addf(&cmp_new, "%sEXCLUDED.%s", nset ? ", " : "", r->cols[i]);
		nset++;
	}
	if (nset == 0)
		strbuf_adds(&sql, "NOTHING");
	else
		strbuf_addf(&sql, "UPDATE SET %s WHERE ROW(%s) IS DISTINCT FROM ROW(%s)",
		    set.s, cmp_old.s, cmp_new.s);
	if (secret)
		strbuf_adds(&sql, " RETURNING (xmax = 0)");
	if (set.failed || cmp_old.failed || cmp_new.failed)
		sql.failed = true;
	strbuf_free(&set);
	strbuf_free(&cmp_old);
	strbuf_free(&cmp_new);
	rc = emit(w, &sql, p, secret ? ODATA_STMT_SECRET : ODATA_STMT_WRITE);
	return rc;
}

static int
update_stmt(struct wctx *w, const struct odata_type *t, struct row *r, struct odata_sql_params *p,
    char *const *values)
{
	struct strbuf sql;
	int i, nset = 0;

	strbuf_init(&sql);
	strbuf_addf(&sql, "UPDATE %s SET ", t->table);
	for (i = 0; i < r->n; i++) {
		if (r->key[i] || r->insert_only[i])
			continue;
		strbuf_addf(&sql, "%s%s = %s", nset++ ? ", " : "", r->cols[i],
		    r->vals[i].s ? r->vals[i].s : "NULL");
	}
	if (nset == 0)
		strbuf_adds(&sql, "row_version = row_version");
	strbuf_adds(&sql, " WHERE pk = ");
	lookup_or_fail(w, p, t, values, &sql);
	return emit(w, &sql, p, ODATA_STMT_WRITE);
}

/* Reads the stored form of a write-only column of the row being written
 * (no row: it is new), run before the plan: when it decrypts to the value
 * sent, the service puts it back into the plan in place of the new
 * ciphertext, so that sending the same secret again changes nothing. */
static int
prefetch_stmt(struct wctx *w, const struct odata_type *t, char *const *values, const char *column)
{
	struct odata_sql_params p = { 0 };
	struct strbuf sql;

	strbuf_init(&sql);
	strbuf_addf(&sql, "SELECT %s FROM %s WHERE pk = ", column, t->table);
	odata_scope_lookup(&p, &w->counter, t, values, &sql);
	if (sql.failed ||
	    odata_stmts_add(&w->out->prefetch, strbuf_detach(&sql), &p, ODATA_STMT_WRITE) == NULL) {
		strbuf_free(&sql);
		odata_sql_params_free(&p);
		return nomem(w);
	}
	return 0;
}

/* Collections: elements upserted, the ones not sent deleted. */
static int
many_navs(struct wctx *w, const struct odata_type *t, json_t *o, char *const *values,
    int depth, enum odata_write_mode mode, struct odata_expand_tree **tree)
{
	size_t i, j;

	for (i = 0; i < t->nnavs; i++) {
		const struct odata_nav *nav = &t->navs[i];
		struct parent par = { t, values, nav->inverse };
		struct odata_expand_tree *node, *merged = NULL;
		struct odata_sql_params p = { 0 };
		struct strbuf sql, keep;
		json_t *v = json_object_get(o, nav->name), *el;

		if (nav->mult != ODATA_MANY || (nav->flags & ODATA_NAV_HIDDEN))
			continue;
		if (v == NULL && mode != ODATA_WRITE_PUT)
			continue;
		v = v ? unwrap(v) : NULL;
		if (v && !json_is_array(v))
			return odata_fail(w->f, 400, "invalid_attribute_value", nav->name,
			    "Navigation property [%s] of [%s] must be a collection.", nav->name, t->name);
		strbuf_init(&keep);
		json_array_foreach(v, j, el) {
			struct odata_expand_tree *child = NULL;
			char **cv;

			if (!json_is_object(el)) {
				strbuf_free(&keep);
				odata_sql_params_free(&p);
				return odata_fail(w->f, 400, "invalid_attribute_value", nav->name,
				    "Elements of [%s] must be entities.", nav->name);
			}
			if (entity(w, nav->target, el, &par, depth + 1, ODATA_WRITE_UPSERT, &cv, &child) < 0) {
				strbuf_free(&keep);
				odata_sql_params_free(&p);
				return -1;
			}
			strbuf_adds(&keep, keep.len ? ", " : "");
			odata_scope_lookup(&p, &w->counter, nav->target, cv, &keep);
			free_values(cv, nav->target->nkeys);
			if (tree_merge(w, &merged, child) < 0) {
				strbuf_free(&keep);
				odata_sql_params_free(&p);
				return nomem(w);
			}
		}
		strbuf_init(&sql);
		strbuf_addf(&sql, "DELETE FROM %s WHERE %s = ", nav->target->table, nav->column);
		odata_scope_lookup(&p, &w->counter, t, values, &sql);
		if (keep.len)
			strbuf_addf(&sql, " AND pk NOT IN (%s)", keep.s);
		if (keep.failed)
			sql.failed = true;
		strbuf_free(&keep);
		if (emit(w, &sql, &p, ODATA_STMT_WRITE) < 0)
			return -1;
		if ((node = tree_add(w, tree, nav)) == NULL)
			return nomem(w);
		node->child = merged;
	}
	return 0;
}

static int
entity(struct wctx *w, const struct odata_type *t, json_t *o, const struct parent *par,
    int depth, enum odata_write_mode mode, char ***values_out, struct odata_expand_tree **tree_out)
{
	struct odata_sql_params p = { 0 };
	struct odata_expand_tree *tree = NULL;
	struct row r;
	char **values = NULL, *key = NULL;
	int first_secret, first_wo, i, rc = -1;

	r.n = 0;
	if (depth > MAX_DEPTH)
		return odata_fail(w->f, 400, "malformed_payload", NULL,
		    "The payload nests entities deeper than %d levels.", MAX_DEPTH);
	if (t->flags & ODATA_TYPE_READ_ONLY)
		return odata_fail(w->f, 400, "invalid_attribute_value", NULL,
		    "[%s] is read-only.", t->name);
	if (mode == ODATA_WRITE_UPSERT) {
		if (key_values(w, t, o, par, true, &values) < 0)
			return -1;
	} else if (odata_key_split(w->rq->key, t->nkeys, &values) < 0) {
		return nomem(w);   /* checked by the caller */
	}
	key = odata_key_encode((const char *const *)values, t->nkeys);
	if (key == NULL) {
		nomem(w);
		goto done;
	}
	if (row_navs(w, t, o, par, &r, &p, depth, mode, &tree) < 0)
		goto done;
	/* the secrets of this row only: row_navs recorded its nested entities' */
	first_secret = w->out->nsecrets;
	first_wo = w->out->nwo;
	if (row_props(w, t, o, &r, &p, mode, key) < 0)
		goto done;
	if (mode == ODATA_WRITE_UPSERT) {
		struct strbuf *b = row_col(&r, "integration_key", true);

		if (b == NULL) {
			nomem(w);
			goto done;
		}
		strbuf_addf(b, "$%d::text", odata_sql_param_add(&p, key));
		rc = upsert_stmt(w, t, &r, &p, w->out->nsecrets > first_secret);
	} else {
		rc = update_stmt(w, t, &r, &p, values);
	}
	if (rc < 0)
		goto done;
	for (i = first_secret; i < w->out->nsecrets; i++)
		w->out->secrets[i].stmt = w->out->stmts.n - 1;
	for (i = first_wo; i < w->out->nwo; i++) {
		w->out->wo[i].stmt = w->out->stmts.n - 1;
		if ((rc = prefetch_stmt(w, t, values, w->out->wo[i].column)) < 0)
			goto done;
	}
	rc = many_navs(w, t, o, values, depth, mode, &tree);
done:
	row_free(&r);
	odata_sql_params_free(&p);
	free(key);
	if (rc < 0 || values_out == NULL) {
		free_values(values, t->nkeys);
		values = NULL;
	}
	if (values_out)
		*values_out = values;
	if (tree_out)
		*tree_out = tree;
	return rc;
}

/* ---- the plan ----------------------------------------------------------------- */

/* PATCH/PUT: key attributes in the payload must give the key of the path. */
static int
check_payload_key(struct wctx *w, const struct odata_type *t, json_t *o, char **path_values)
{
	char **merged = calloc(t->nkeys, sizeof(char *)), *pk = NULL;
	bool present, differs = false;
	size_t k;
	int rc = -1;

	if (merged == NULL)
		return nomem(w);
	for (k = 0; k < t->nkeys; k++) {
		if (path_value(w, t, k, o, &merged[k], &present) < 0)
			goto done;
		if (!present) {
			merged[k] = path_values[k] ? strdup(path_values[k]) : NULL;
			continue;
		}
		if (path_values[k] == NULL || strcmp(merged[k], path_values[k]) != 0)
			differs = true;
	}
	rc = 0;
	if (differs) {
		pk = odata_key_encode((const char *const *)merged, t->nkeys);
		rc = odata_fail(w->f, 400, "invalid_key", NULL,
		    "Key [%s] in the payload does not match the key [%s] in the path.",
		    pk ? pk : "", w->rq->key);
	}
done:
	free(pk);
	free_values(merged, t->nkeys);
	return rc;
}

static int
hook_stmt(struct wctx *w, const char *name, const char *kind, const char *key)
{
	struct odata_sql_params p = { 0 };
	struct strbuf sql;
	int a, b, c, d;
	char *body = NULL;

	if (name == NULL)
		return 0;
	if (w->rq->body && w->rq->mode != ODATA_WRITE_DELETE) {   /* DELETE: payload NULL */
		body = strndup(w->rq->body, w->rq->body_len);
		if (body == NULL)
			return nomem(w);
	}
	a = odata_sql_param_add(&p, name);
	b = odata_sql_param_add(&p, w->rq->type->name);
	c = odata_sql_param_add(&p, key);
	d = odata_sql_param_add(&p, body);
	free(body);
	strbuf_init(&sql);
	strbuf_addf(&sql, "SELECT webhookd.run_persist_hook($%d::text, '%s', $%d::text, $%d::text, $%d::jsonb)",
	    a, kind, b, c, d);
	return emit(w, &sql, &p, ODATA_STMT_WRITE);
}

static int
etag_stmt(struct wctx *w, char **values)
{
	struct odata_sql_params p = { 0 };
	struct strbuf sql;
	int e, k;

	if (w->rq->if_match == NULL)
		return 0;
	strbuf_init(&sql);
	strbuf_addf(&sql, "SELECT webhookd.check_etag((SELECT row_version FROM %s WHERE pk = ",
	    w->rq->type->table);
	odata_scope_lookup(&p, &w->counter, w->rq->type, values, &sql);
	e = odata_sql_param_add(&p, w->rq->if_match);
	k = odata_sql_param_add(&p, w->out->key);   /* POST: from the payload */
	strbuf_addf(&sql, "), $%d::text, '%s', $%d::text)", e, w->rq->type->name, k);
	return emit(w, &sql, &p, ODATA_STMT_WRITE);
}

static int
delete_stmt(struct wctx *w, char **values)
{
	struct odata_sql_params p = { 0 };
	struct strbuf sql;

	strbuf_init(&sql);
	strbuf_addf(&sql, "DELETE FROM %s WHERE pk = ", w->rq->type->table);
	lookup_or_fail(w, &p, w->rq->type, values, &sql);
	return emit(w, &sql, &p, ODATA_STMT_WRITE);
}

static int
parse_body(struct wctx *w, json_t **out)
{
	json_error_t je;

	*out = json_loadb(w->rq->body ? w->rq->body : "", w->rq->body_len,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (*out == NULL)
		return odata_fail(w->f, 400, "malformed_payload", NULL,
		    "The payload is not valid JSON: %s at position %d.", je.text, je.position);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return odata_fail(w->f, 400, "malformed_payload", NULL,
		    "The payload must be a JSON object.");
	}
	if (json_is_object(json_object_get(*out, "d"))) {   /* {"d": {...}} accepted */
		json_t *d = json_incref(json_object_get(*out, "d"));

		json_decref(*out);
		*out = d;
	}
	return 0;
}

static int
plan(struct wctx *w, json_t *o, char **values)
{
	const struct odata_write_req *rq = w->rq;
	struct odata_expand_tree *tree = NULL;
	int i;

	if (etag_stmt(w, values) < 0 || hook_stmt(w, rq->pre_hook, "PRE", w->out->key) < 0)
		return -1;
	if (rq->mode == ODATA_WRITE_DELETE) {
		if (delete_stmt(w, values) < 0)
			return -1;
	} else if (entity(w, rq->type, o, NULL, 0, rq->mode, NULL, &tree) < 0) {
		return -1;
	}
	if (hook_stmt(w, rq->post_hook, "POST", w->out->key) < 0)
		return -1;
	if (rq->mode != ODATA_WRITE_DELETE &&
	    odata_read_entity_stmt(&w->out->stmts, rq->type, values, tree, rq->base_uri) < 0)
		return nomem(w);
	for (i = 0; i < w->out->nsecrets; i++)
		if (w->out->secrets[i].key == NULL)
			return nomem(w);
	return 0;
}

int
odata_write_build(const struct odata_write_req *rq, struct odata_write *out, struct odata_fail *f)
{
	struct wctx *w = calloc(1, sizeof(*w));
	const struct odata_type *t = rq->type;
	char **values = NULL, msg[512];
	json_t *o = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (w == NULL)
		return odata_fail(f, 500, "internal_error", NULL, "Out of memory.");
	w->rq = rq;
	w->out = out;
	w->f = f;
	out->status = rq->mode == ODATA_WRITE_UPSERT ? 201 : rq->mode == ODATA_WRITE_DELETE ? 204 : 200;
	if (t->flags & ODATA_TYPE_READ_ONLY) {
		odata_fail(f, 405, "method_not_allowed", NULL, "[%s] is read-only.", t->name);
		goto done;
	}
	if (rq->mode != ODATA_WRITE_UPSERT && odata_key_split(rq->key, t->nkeys, &values) < 0) {
		odata_key_error_message(msg, sizeof(msg), rq->key, t->name);
		odata_fail(f, 400, "invalid_key", NULL, "%s", msg);
		goto done;
	}
	if (rq->mode != ODATA_WRITE_DELETE && parse_body(w, &o) < 0)
		goto done;
	if (rq->mode == ODATA_WRITE_UPSERT) {
		if (key_values(w, t, o, NULL, true, &values) < 0)
			goto done;
	} else if (o && check_payload_key(w, t, o, values) < 0) {
		goto done;
	}
	out->key = odata_key_encode((const char *const *)values, t->nkeys);
	if (out->key == NULL) {
		nomem(w);
		goto done;
	}
	rc = plan(w, o, values);
done:
	json_decref(o);
	free_values(values, t->nkeys);
	free(w);
	if (rc < 0)
		odata_write_free(out);
	return rc;
}

void
odata_write_free(struct odata_write *w)
{
	int i;

	odata_stmts_free(&w->stmts);
	for (i = 0; i < w->nsecrets; i++) {
		if (w->secrets[i].plain)
			explicit_bzero(w->secrets[i].plain, strlen(w->secrets[i].plain));
		free(w->secrets[i].plain);
		free(w->secrets[i].key);
	}
	w->nsecrets = 0;
	for (i = 0; i < w->nwo; i++) {
		explicit_bzero(w->wo[i].plain, strlen(w->wo[i].plain));
		free(w->wo[i].plain);
	}
	w->nwo = 0;
	odata_stmts_free(&w->prefetch);
	free(w->key);
	w->key = NULL;
}
