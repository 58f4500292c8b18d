#include "read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "key.h"
#include "render.h"
#include "scope.h"

#define MAX_PROJ  64
#define MAX_NAVS  8
#define MAX_LATS  32
#define MAX_KEYCTX 32

/* What one entity level shows: properties and navigations ($select) and
 * which navigations are expanded ($expand). */
struct proj {
	const struct odata_type *t;
	bool all;                       /* no $select here, or '*' */
	bool selected;                  /* $select has restricted this level */
	unsigned props;                 /* selected properties (bit = index) */
	bool key;                       /* integrationKey selected */
	unsigned navs;                  /* navigations shown (bit = index) */
	struct proj *exp[MAX_NAVS];     /* expanded navigations */
};

/* A query scope plus the LATERAL subqueries computing each entity's key once. */
struct qscope {
	struct odata_scope s;
	int lat[MAX_LATS];
	int nlat;
	struct strbuf latsql;
};

struct keyctx {
	const struct odata_type *t;
	int alias;
};

struct ctx {
	struct proj pool[MAX_PROJ];
	int nproj;
	int counter;
	struct odata_sql_params *params;
	struct odata_fail *f;
	/* filter/orderby resolution */
	struct qscope *qs;
	struct keyctx keys[MAX_KEYCTX];
	int nkeys;
};

static void entity_json(struct ctx *cx, struct qscope *qs, const struct proj *p, int alias,
                        struct strbuf *out);

/* The projection pool is not zeroed: proj_new() clears each level used. */
static struct ctx *
ctx_new(void)
{
	struct ctx *cx = malloc(sizeof(*cx));

	if (cx != NULL) {
		cx->nproj = 0;
		cx->counter = 0;
		cx->params = NULL;
		cx->f = NULL;
		cx->qs = NULL;
		cx->nkeys = 0;
	}
	return cx;
}

/* ---- projection ------------------------------------------------------ */

static struct proj *
proj_new(struct ctx *cx, const struct odata_type *t)
{
	struct proj *p;

	if (cx->nproj == MAX_PROJ)
		return NULL;
	p = &cx->pool[cx->nproj++];
	memset(p, 0, sizeof(*p));
	p->t = t;
	p->all = true;
	return p;
}

static int
nav_index(const struct odata_type *t, const struct odata_nav *n)
{
	return (int)(n - t->navs);
}

static int
prop_index(const struct odata_type *t, const struct odata_prop *pr)
{
	return (int)(pr - t->props);
}

static bool
readable(const struct odata_prop *pr)
{
	return pr && !(pr->flags & ODATA_PROP_WRITE_ONLY);
}

/* Follows path segs[0..n) of navigations, creating expanded levels. */
static struct proj *
proj_walk(struct ctx *cx, struct proj *p, const char *const *segs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct odata_nav *nav = odata_model_nav(p->t, segs[i]);
		int ni;

		if (nav == NULL) {
			odata_fail_no_property(cx->f, segs[i]);
			return NULL;
		}
		ni = nav_index(p->t, nav);
		p->navs |= 1u << ni;
		if (p->exp[ni] == NULL) {
			p->exp[ni] = proj_new(cx, nav->target);
			if (p->exp[ni] == NULL) {
				odata_fail(cx->f, 400, "invalid_query", NULL, "$expand is too large.");
				return NULL;
			}
		}
		p = p->exp[ni];
	}
	return p;
}

static int
proj_expand(struct ctx *cx, struct proj *root, const struct odata_option_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (proj_walk(cx, root, l->items[i].segs, l->items[i].nsegs) == NULL)
			return -1;
	return 0;
}

/* A level mentioned by $select shows only what is selected: the first
 * item that mentions it clears the default "everything"; later items (and
 * '*') only add to it, so that the order of the items does not matter. */
static void
proj_restrict(struct proj *p)
{
	if (!p->selected) {
		p->selected = true;
		p->all = false;
		p->props = 0;
		p->key = false;
		p->navs = 0;
	}
}

/* The rest segs[from..] of a $select item below a navigation that is not
 * expanded: nothing is shown for it, but every name must exist. */
static int
select_check_rest(struct ctx *cx, const struct odata_type *t, const struct odata_option_path *it,
    size_t from, size_t last)
{
	const struct odata_nav *nav;
	size_t i;

	for (i = from; i < last; i++) {
		nav = odata_model_nav(t, it->segs[i]);
		if (nav == NULL)
			return odata_fail_no_property(cx->f, it->segs[i]);
		t = nav->target;
	}
	if (it->star || odata_model_is_synth_key(t, it->segs[last]) ||
	    readable(odata_model_prop(t, it->segs[last])) ||
	    odata_model_nav(t, it->segs[last]) != NULL)
		return 0;
	return odata_fail_no_property(cx->f, it->segs[last]);
}

static int
select_item(struct ctx *cx, struct proj *root, const struct odata_option_path *it)
{
	struct proj *p = root;
	size_t i, last = it->star ? it->nsegs : it->nsegs - 1;
	const struct odata_prop *pr;
	const struct odata_nav *nav;

	proj_restrict(root);
	for (i = 0; i < last; i++) {
		nav = odata_model_nav(p->t, it->segs[i]);
		if (nav == NULL)
			return odata_fail_no_property(cx->f, it->segs[i]);
		p->navs |= 1u << nav_index(p->t, nav);
		if (p->exp[nav_index(p->t, nav)] == NULL)   /* not expanded: shown deferred */
			return select_check_rest(cx, nav->target, it, i + 1, last);
		p = p->exp[nav_index(p->t, nav)];
		if (i + 1 < last)
			proj_restrict(p);
	}
	if (it->star) {
		proj_restrict(p);
		p->all = true;
		return 0;
	}
	if (p != root)
		proj_restrict(p);
	if (odata_model_is_synth_key(p->t, it->segs[last])) {
		p->key = true;
		return 0;
	}
	pr = odata_model_prop(p->t, it->segs[last]);
	if (readable(pr)) {
		p->props |= 1u << prop_index(p->t, pr);
		return 0;
	}
	nav = odata_model_nav(p->t, it->segs[last]);
	if (nav == NULL)
		return odata_fail_no_property(cx->f, it->segs[last]);
	p->navs |= 1u << nav_index(p->t, nav);
	if (p->exp[nav_index(p->t, nav)]) {
		proj_restrict(p->exp[nav_index(p->t, nav)]);
		p->exp[nav_index(p->t, nav)]->all = true;
	}
	return 0;
}

static struct proj *
proj_build(struct ctx *cx, const struct odata_type *t, const struct odata_options *o)
{
	struct proj *root = proj_new(cx, t);
	size_t i;

	if (o == NULL)
		return root;
	if (o->expand.text && proj_expand(cx, root, &o->expand) < 0)
		return NULL;
	if (o->select.text) {
		for (i = 0; i < o->select.n; i++)
			if (select_item(cx, root, &o->select.items[i]) < 0)
				return NULL;
	}
	return root;
}

/* ---- property values -------------------------------------------------- */

/* The SQL value of property pr of the entity at alias, as $filter and
 * $orderby see it (a JSON property as its text). */
static void
prop_sql(struct strbuf *out, int alias, const struct odata_prop *pr)
{
	if (pr->flags & ODATA_PROP_JSON)
		strbuf_addf(out, "CAST(t%d.%s AS text)", alias, pr->column);
	else
		strbuf_addf(out, "t%d.%s", alias, pr->column);
}

/* As a flat column for render.c: an Edm.DateTime as milliseconds since
 * the epoch (int8); +-infinity (a PULL delivery's nextAttemptAt: never)
 * has no Edm.DateTime and reads as null. */
static void
prop_flat_sql(struct strbuf *out, int alias, const struct odata_prop *pr)
{
	if (pr->type == ODATA_EDM_DATETIME)
		strbuf_addf(out, "CASE WHEN isfinite(t%d.%s) THEN"
		    " CAST(floor(EXTRACT(EPOCH FROM t%d.%s) * 1000) AS int8) END", alias,
		    pr->column, alias, pr->column);
	else
		prop_sql(out, alias, pr);
}

/* As a json_build_object value: what render.c writes (an Edm.DateTime as
 * the text /Date(<ms>)/, NULL staying null). */
static void
prop_json_sql(struct strbuf *out, int alias, const struct odata_prop *pr)
{
	if (pr->type == ODATA_EDM_DATETIME) {
		strbuf_adds(out, "('/Date(' || ");
		prop_flat_sql(out, alias, pr);
		strbuf_adds(out, " || ')/')");
	} else {
		prop_sql(out, alias, pr);
	}
}

/* ---- scopes and entity JSON ------------------------------------------ */

static void
qscope_init(struct ctx *cx, struct qscope *qs, const struct odata_type *t)
{
	odata_scope_init(&qs->s, t, cx->params, &cx->counter);
	qs->nlat = 0;
	strbuf_init(&qs->latsql);
}

static void
qscope_free(struct qscope *qs)
{
	strbuf_free(&qs->latsql);
}

/* "k<alias>.k": the key of the entity at alias, computed once per row. */
static void
key_ref(struct qscope *qs, const struct odata_type *t, int alias, struct strbuf *out)
{
	int i;

	for (i = 0; i < qs->nlat; i++)
		if (qs->lat[i] == alias)
			goto done;
	if (qs->nlat == MAX_LATS) {
		out->failed = true;
		return;
	}
	qs->lat[qs->nlat++] = alias;
	/* OFFSET 0 keeps the planner from pulling the subquery up and so
	 * computing the key again at every place it is used. */
	strbuf_addf(&qs->latsql, " CROSS JOIN LATERAL (SELECT z.k, $1 || '/%s(''' || ", t->set);
	if (t->flags & ODATA_TYPE_PLAIN_KEY)
		odata_render_plain_key_sql(&qs->latsql, "z.k");
	else
		strbuf_adds(&qs->latsql, "webhookd.uri_key(z.k)");
	strbuf_adds(&qs->latsql, " || ''')' AS u FROM (SELECT ");
	odata_scope_key_expr(&qs->s, t, alias, &qs->latsql);
	strbuf_addf(&qs->latsql, " AS k) z OFFSET 0) k%d", alias);
done:
	strbuf_addf(out, "k%d.k", alias);
}

static void
qscope_from(struct qscope *qs, struct strbuf *out)
{
	odata_scope_from(&qs->s, out);
	if (qs->latsql.len)
		strbuf_add(out, qs->latsql.s, qs->latsql.len);
	if (qs->s.failed || qs->latsql.failed)
		out->failed = true;
}

/* "k<alias>.u": the entity's URI, computed once with its key. */
static void
uri_expr(struct qscope *qs, const struct odata_type *t, int alias, struct strbuf *out)
{
	struct strbuf ignore;

	strbuf_init(&ignore);
	key_ref(qs, t, alias, &ignore);
	strbuf_free(&ignore);
	strbuf_addf(out, "k%d.u", alias);
}

static void
nav_json(struct ctx *cx, struct qscope *qs, const struct proj *p, int alias, int ni,
    struct strbuf *out)
{
	const struct odata_nav *nav = &p->t->navs[ni];
	const struct proj *c = p->exp[ni];
	struct qscope sub;
	struct strbuf body;
	int b;

	if (c == NULL) {
		strbuf_adds(out, "json_build_object('__deferred', json_build_object('uri', ");
		uri_expr(qs, p->t, alias, out);
		strbuf_addf(out, " || '/%s'))", nav->name);
		return;
	}
	if (nav->mult != ODATA_MANY) {
		b = odata_scope_join(&qs->s, alias, nav);
		strbuf_addf(out, "CASE WHEN t%d.pk IS NULL THEN NULL ELSE ", b);
		entity_json(cx, qs, c, b, out);
		strbuf_adds(out, " END");
		return;
	}
	qscope_init(cx, &sub, nav->target);
	strbuf_init(&body);
	entity_json(cx, &sub, c, sub.s.root, &body);
	strbuf_adds(out, "(SELECT json_build_object('results', COALESCE(json_agg(");
	strbuf_add(out, body.s ? body.s : "", body.len);
	strbuf_addf(out, " ORDER BY t%d.pk), '[]'::json))", sub.s.root);
	qscope_from(&sub, out);
	strbuf_addf(out, " WHERE t%d.%s = t%d.pk)", sub.s.root, nav->column, alias);
	if (body.failed)
		out->failed = true;
	strbuf_free(&body);
	qscope_free(&sub);
}

static void
entity_json(struct ctx *cx, struct qscope *qs, const struct proj *p, int alias,
    struct strbuf *out)
{
	const struct odata_type *t = p->t;
	size_t i;

	strbuf_adds(out, "json_build_object('__metadata', json_build_object('id', ");
	uri_expr(qs, t, alias, out);
	strbuf_adds(out, ", 'uri', ");
	uri_expr(qs, t, alias, out);
	strbuf_addf(out, ", 'type', '%s.%s'", t->service->ns, t->name);
	if (odata_model_has_etag(t))
		strbuf_addf(out, ", 'etag', 'W/\"' || t%d.row_version || '\"'", alias);
	strbuf_addc(out, ')');
	for (i = 0; i < t->nprops; i++) {
		if (!readable(&t->props[i]) || (!p->all && !(p->props & (1u << i))))
			continue;
		strbuf_addf(out, ", '%s', ", t->props[i].name);
		prop_json_sql(out, alias, &t->props[i]);
	}
	if (!(t->flags & ODATA_TYPE_PLAIN_KEY) && (p->all || p->key)) {
		strbuf_adds(out, ", '" ODATA_KEY_NAME "', ");
		key_ref(qs, t, alias, out);
	}
	for (i = 0; i < t->nnavs; i++) {
		if (t->navs[i].flags & ODATA_NAV_HIDDEN)
			continue;
		if (!p->all && !(p->navs & (1u << i)))
			continue;
		strbuf_addf(out, ", '%s', ", t->navs[i].name);
		nav_json(cx, qs, p, alias, (int)i, out);
	}
	strbuf_addc(out, ')');
}

/* ---- flat rows for render.c ------------------------------------------ */

/* Appends ", <expr>" to the select list and returns its column number. */
static int
flat_col(struct odata_render *r, struct strbuf *cols, const char *expr, size_t len)
{
	strbuf_adds(cols, ", ");
	strbuf_add(cols, expr, len);
	return r->ncols++;
}

static int
flat_colf(struct odata_render *r, struct strbuf *cols, int alias, const char *column)
{
	strbuf_addf(cols, ", t%d.%s", alias, column);
	return r->ncols++;
}

/* The columns of the entity level p at alias, and its render node. */
static struct odata_render_node *
flat_entity(struct ctx *cx, struct qscope *qs, const struct proj *p, int alias, bool root,
    struct odata_render *r, struct strbuf *cols)
{
	struct odata_render_node *n = odata_render_node_new(r, p->t);
	const struct odata_type *t = p->t;
	struct strbuf e;
	size_t i;

	if (n == NULL) {
		cols->failed = true;
		return NULL;
	}
	if (!root)
		n->col_pk = flat_colf(r, cols, alias, "pk");
	if (odata_model_has_etag(t))
		n->col_version = flat_colf(r, cols, alias, "row_version");
	n->col_key = flat_colf(r, cols, alias, odata_model_key_column(t));
	n->show_key = !(t->flags & ODATA_TYPE_PLAIN_KEY) && (p->all || p->key);
	for (i = 0; i < t->nprops && n->nprops < 32; i++) {
		if (!readable(&t->props[i]) || (!p->all && !(p->props & (1u << i))))
			continue;
		strbuf_init(&e);
		prop_flat_sql(&e, alias, &t->props[i]);
		n->props[n->nprops] = &t->props[i];
		n->col_prop[n->nprops++] = flat_col(r, cols, e.s ? e.s : "NULL", e.len);
		if (e.failed)
			cols->failed = true;
		strbuf_free(&e);
	}
	for (i = 0; i < t->nnavs && n->nnavs < 16; i++) {
		const struct odata_nav *nav = &t->navs[i];
		int j = n->nnavs;

		if ((nav->flags & ODATA_NAV_HIDDEN) || (!p->all && !(p->navs & (1u << i))))
			continue;
		n->navs[n->nnavs++] = nav;
		if (p->exp[i] == NULL) {
			n->nav_kind[j] = ODATA_RENDER_DEFERRED;
		} else if (nav->mult != ODATA_MANY) {
			n->nav_kind[j] = ODATA_RENDER_ONE;
			n->nav_child[j] = flat_entity(cx, qs, p->exp[i],
			    odata_scope_join(&qs->s, alias, nav), false, r, cols);
		} else {
			n->nav_kind[j] = ODATA_RENDER_JSON;
			strbuf_init(&e);
			nav_json(cx, qs, p, alias, (int)i, &e);
			n->nav_col[j] = flat_col(r, cols, e.s ? e.s : "NULL", e.len);
			if (e.failed)
				cols->failed = true;
			strbuf_free(&e);
		}
	}
	return n;
}

/* "SELECT $1::text, <columns>": column 0 keeps $1 typed when nothing else
 * uses it. Returns the render tree (malloc'd) or NULL. */
static struct odata_render *
flat_select(struct ctx *cx, struct qscope *qs, const struct proj *root, struct strbuf *sql)
{
	/* not zeroed: ~50 KB, and odata_render_node_new() clears each node used */
	struct odata_render *r = malloc(sizeof(*r));

	if (r != NULL)
		r->n = r->ncols = 0;
	if (r == NULL) {
		sql->failed = true;
		return NULL;
	}
	strbuf_adds(sql, "SELECT $1::text");
	r->ncols = 1;
	flat_entity(cx, qs, root, qs->s.root, true, r, sql);
	return r;
}

/* ---- $filter and $orderby paths -------------------------------------- */

static enum odata_sql_type
sql_type(enum odata_edm e)
{
	switch (e) {
	case ODATA_EDM_BOOLEAN:
		return ODATA_SQL_BOOLEAN;
	case ODATA_EDM_INT32:
		return ODATA_SQL_INT32;
	case ODATA_EDM_DATETIME:
		return ODATA_SQL_DATETIME;   /* timestamptz, as filter_sql.h wants it */
	case ODATA_EDM_STRING:
		break;
	}
	return ODATA_SQL_STRING;
}

static int
resolve(void *arg, const char *const *segs, size_t nsegs, struct odata_sql_column *out,
    size_t *err_segment)
{
	struct ctx *cx = arg;
	struct qscope *qs = cx->qs;
	const struct odata_type *t = qs->s.type;
	const struct odata_prop *pr;
	int alias = qs->s.root;
	struct strbuf b;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i + 1 < nsegs; i++) {
		const struct odata_nav *nav = odata_model_nav(t, segs[i]);

		*err_segment = i;
		if (nav == NULL)
			return ODATA_SQL_NOT_FOUND;
		if (nav->mult == ODATA_MANY)
			return ODATA_SQL_TO_MANY;
		alias = odata_scope_join(&qs->s, alias, nav);
		t = nav->target;
	}
	*err_segment = nsegs - 1;
	strbuf_init(&b);
	if (odata_model_is_synth_key(t, segs[nsegs - 1])) {
		int k;

		/* One context per entity (alias): a filter may name the same key
		 * any number of times. */
		for (k = 0; k < cx->nkeys; k++)
			if (cx->keys[k].t == t && cx->keys[k].alias == alias)
				break;
		if (k == cx->nkeys) {
			if (cx->nkeys == MAX_KEYCTX) {
				strbuf_free(&b);
				return ODATA_SQL_NOMEM;
			}
			cx->keys[cx->nkeys].t = t;
			cx->keys[cx->nkeys++].alias = alias;
		}
		key_ref(qs, t, alias, &b);
		out->type = ODATA_SQL_STRING;
		out->is_key = true;
		out->key_ctx = k;
	} else {
		pr = odata_model_prop(t, segs[nsegs - 1]);
		if (!readable(pr))
			return ODATA_SQL_NOT_FOUND;
		prop_sql(&b, alias, pr);
		out->type = sql_type(pr->type);
	}
	if (b.failed || b.len >= sizeof(out->sql)) {
		strbuf_free(&b);
		return ODATA_SQL_NOMEM;
	}
	memcpy(out->sql, b.s, b.len + 1);
	strbuf_free(&b);
	return ODATA_SQL_OK;
}

static int
key_eq(void *arg, int key_ctx, const char *literal, struct strbuf *out,
    struct odata_sql_params *p)
{
	struct ctx *cx = arg;

	(void)p;   /* the scope appends to the same parameter list */
	odata_scope_key_cond(&cx->qs->s, cx->keys[key_ctx].t, cx->keys[key_ctx].alias, literal, out);
	return out->failed ? ODATA_SQL_NOMEM : ODATA_SQL_OK;
}

static int
where_filter(struct ctx *cx, struct qscope *qs, const struct odata_options *o,
    struct strbuf *out)
{
	struct odata_sql_resolver r = { resolve, key_eq, cx };
	struct odata_filter_error pe;
	struct odata_filter_sql_error ce;
	struct odata_filter *f;
	int rc;

	if (o == NULL || o->filter == NULL)
		return 0;
	if (odata_filter_parse(o->filter, o->filter_len, &f, &pe) < 0)
		return odata_fail(cx->f, 400, "invalid_query", NULL, "Invalid $filter: %s", pe.message);
	cx->qs = qs;
	cx->nkeys = 0;      /* key contexts belong to one statement's scope */
	strbuf_adds(out, " AND ");
	rc = odata_filter_sql_compile(odata_filter_root(f), &r, out, cx->params, &ce);
	odata_filter_free(f);
	if (rc == 0)
		return 0;
	switch (ce.kind) {
	case ODATA_SQL_NOT_FOUND:
		return odata_fail_no_property(cx->f, ce.name);
	case ODATA_SQL_TO_MANY:
		return odata_fail(cx->f, 400, "filter_not_supported", NULL, "%s", ce.message);
	case ODATA_SQL_TYPE:
		return odata_fail(cx->f, 400, "invalid_query", NULL, "Invalid $filter: %s", ce.message);
	default:
		return odata_fail(cx->f, 500, "internal_error", NULL, "Out of memory.");
	}
}

static int
order_by(struct ctx *cx, struct qscope *qs, const struct odata_options *o, struct strbuf *out)
{
	struct odata_sql_column col;
	size_t i, seg;
	int rc;

	strbuf_adds(out, " ORDER BY ");
	cx->qs = qs;
	cx->nkeys = 0;
	for (i = 0; o && o->orderby.text && i < o->orderby.n; i++) {
		const struct odata_option_path *it = &o->orderby.items[i];

		rc = resolve(cx, it->segs, it->nsegs, &col, &seg);
		if (rc == ODATA_SQL_NOT_FOUND)
			return odata_fail_no_property(cx->f, it->segs[seg]);
		if (rc == ODATA_SQL_TO_MANY)
			return odata_fail(cx->f, 400, "invalid_query", NULL,
			    "$orderby cannot use the collection [%s].", it->segs[seg]);
		if (rc != ODATA_SQL_OK)
			return odata_fail(cx->f, 500, "internal_error", NULL, "Out of memory.");
		strbuf_addf(out, "%s %s, ", col.sql, it->desc ? "DESC" : "ASC");
	}
	strbuf_addf(out, "t%d.pk", qs->s.root);
	return 0;
}

/* ---- statements ------------------------------------------------------- */

static int
add_stmt(struct ctx *cx, struct odata_stmts *st, struct strbuf *sql, enum odata_stmt_role role)
{
	if (sql->failed) {
		strbuf_free(sql);
		return odata_fail(cx->f, 500, "internal_error", NULL, "Out of memory.");
	}
	if (odata_stmts_add(st, strbuf_detach(sql), cx->params, role) == NULL)
		return odata_fail(cx->f, 500, "internal_error", NULL, "Out of memory.");
	return 0;
}

static int
add_main(struct ctx *cx, struct odata_stmts *st, struct strbuf *sql, struct odata_render *r)
{
	if (r == NULL)
		sql->failed = true;
	if (add_stmt(cx, st, sql, ODATA_STMT_MAIN) < 0) {
		free(r);
		return -1;
	}
	st->v[st->n - 1].render = r;
	return 0;
}

static void
begin_params(struct ctx *cx, struct odata_sql_params *p, const char *base_uri)
{
	memset(p, 0, sizeof(*p));
	cx->params = p;
	odata_sql_param_add(p, base_uri ? base_uri : "");
}

/* Condition restricting the addressed rows: by key, or to the children of
 * the keyed parent through nav. */
static void
address_cond(struct ctx *cx, struct qscope *qs, const struct odata_read_req *rq,
    struct strbuf *out)
{
	struct odata_scope ps;
	struct strbuf c;

	if (rq->key == NULL) {
		strbuf_adds(out, "TRUE");
		return;
	}
	if (rq->nav == NULL) {
		odata_scope_key_cond(&qs->s, rq->type, qs->s.root, rq->key, out);
		return;
	}
	strbuf_init(&c);
	odata_scope_init(&ps, rq->type, cx->params, &cx->counter);
	odata_scope_key_cond(&ps, rq->type, ps.root, rq->key, &c);
	if (rq->nav->mult == ODATA_MANY)
		strbuf_addf(out, "t%d.%s = (SELECT t%d.pk", qs->s.root, rq->nav->column, ps.root);
	else
		strbuf_addf(out, "t%d.pk = (SELECT t%d.%s", qs->s.root, ps.root, rq->nav->column);
	odata_scope_from(&ps, out);
	strbuf_addf(out, " WHERE %s)", c.s ? c.s : "FALSE");
	if (c.failed || ps.failed)
		out->failed = true;
	strbuf_free(&c);
}

static int
parent_stmt(struct ctx *cx, const struct odata_read_req *rq, struct odata_read *out)
{
	struct odata_sql_params p;
	struct odata_scope s;
	struct strbuf sql, c;

	begin_params(cx, &p, rq->base_uri);
	strbuf_init(&sql);
	strbuf_init(&c);
	odata_scope_init(&s, rq->type, &p, &cx->counter);
	odata_scope_key_cond(&s, rq->type, s.root, rq->key, &c);
	strbuf_adds(&sql, "SELECT 1 WHERE $1::text IS NOT NULL AND EXISTS (SELECT 1");
	odata_scope_from(&s, &sql);
	strbuf_addf(&sql, " WHERE %s)", c.s ? c.s : "FALSE");
	if (c.failed || s.failed)
		sql.failed = true;
	strbuf_free(&c);
	return add_stmt(cx, &out->stmts, &sql, ODATA_STMT_PARENT);
}

static int
count_stmt(struct ctx *cx, const struct odata_read_req *rq, const struct odata_type *t,
    struct odata_read *out)
{
	struct odata_sql_params p;
	struct qscope qs;
	struct strbuf sql, where;
	int rc = -1;

	begin_params(cx, &p, rq->base_uri);
	qscope_init(cx, &qs, t);
	strbuf_init(&sql);
	strbuf_init(&where);
	address_cond(cx, &qs, rq, &where);
	if (where_filter(cx, &qs, rq->opt, &where) < 0)
		goto done;
	strbuf_adds(&sql, "SELECT count(*)");
	qscope_from(&qs, &sql);
	strbuf_addf(&sql, " WHERE $1::text IS NOT NULL AND %s", where.s ? where.s : "FALSE");
	if (where.failed)
		sql.failed = true;
	rc = add_stmt(cx, &out->stmts, &sql, ODATA_STMT_COUNT);
done:
	odata_sql_params_free(&p);
	strbuf_free(&sql);
	strbuf_free(&where);
	qscope_free(&qs);
	return rc;
}

static void
paging(const struct odata_read_req *rq, struct odata_read *out)
{
	const struct odata_options *o = rq->opt;
	long top = o && o->has_top ? o->top : -1;

	out->offset = o && o->has_skiptoken ? o->skiptoken_value : o && o->has_skip ? o->skip : 0;
	/* The maximum caps every page, also the default one. */
	out->page = top < 0 ? rq->page_default : top;
	if (out->page > rq->page_max)
		out->page = rq->page_max;
	out->top_left = top < 0 ? -1 : top - out->page;
}

static int
main_stmt(struct ctx *cx, const struct odata_read_req *rq, const struct odata_type *t,
    bool collection, struct odata_read *out)
{
	struct odata_sql_params p;
	struct qscope qs;
	struct strbuf sql, json, where, order;
	struct odata_render *render = NULL;
	struct proj *root;
	int rc = -1;

	begin_params(cx, &p, rq->base_uri);
	qscope_init(cx, &qs, t);
	strbuf_init(&sql);
	strbuf_init(&json);
	strbuf_init(&where);
	strbuf_init(&order);
	root = proj_build(cx, t, rq->opt);
	if (root == NULL)
		goto done;
	render = flat_select(cx, &qs, root, &sql);
	address_cond(cx, &qs, rq, &where);
	if (collection && (where_filter(cx, &qs, rq->opt, &where) < 0 ||
	    order_by(cx, &qs, rq->opt, &order) < 0))
		goto done;
	qscope_from(&qs, &sql);
	strbuf_addf(&sql, " WHERE %s", where.s ? where.s : "FALSE");
	if (collection) {
		char n[24];

		strbuf_add(&sql, order.s ? order.s : "", order.len);
		snprintf(n, sizeof(n), "%ld", out->page + 1);
		strbuf_addf(&sql, " LIMIT $%d::int8", odata_sql_param_add(&p, n));
		snprintf(n, sizeof(n), "%ld", out->offset);
		strbuf_addf(&sql, " OFFSET $%d::int8", odata_sql_param_add(&p, n));
	}
	if (where.failed || order.failed)
		sql.failed = true;
	rc = add_main(cx, &out->stmts, &sql, render);
	render = NULL;
done:
	free(render);
	odata_sql_params_free(&p);
	strbuf_free(&sql);
	strbuf_free(&json);
	strbuf_free(&where);
	strbuf_free(&order);
	qscope_free(&qs);
	return rc;
}

static int
check_key(const struct odata_read_req *rq, struct odata_fail *f)
{
	char **v, msg[512];

	if (rq->key == NULL || (rq->type->flags & ODATA_TYPE_PLAIN_KEY))
		return 0;   /* a plain key is any text */
	if (odata_key_split(rq->key, rq->type->nkeys, &v) < 0) {
		odata_key_error_message(msg, sizeof(msg), rq->key, rq->type->name);
		return odata_fail(f, 400, "invalid_key", NULL, "%s", msg);
	}
	odata_key_free_values(v, rq->type->nkeys);
	return 0;
}

int
odata_read_build(const struct odata_read_req *rq, struct odata_read *out, struct odata_fail *f)
{
	struct ctx *cx;
	bool collection = rq->key == NULL || (rq->nav && rq->nav->mult == ODATA_MANY);
	const struct odata_type *t = rq->nav ? rq->nav->target : rq->type;
	bool inline_count;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->type = t;
	out->shape = rq->count ? ODATA_READ_COUNT :
	    collection ? ODATA_READ_COLLECTION : ODATA_READ_ENTITY;
	if (check_key(rq, f) < 0)
		return -1;
	cx = ctx_new();
	if (cx == NULL)
		return odata_fail(f, 500, "internal_error", NULL, "Out of memory.");
	cx->f = f;
	paging(rq, out);
	inline_count = collection && rq->opt && rq->opt->inlinecount == ODATA_INLINECOUNT_ALLPAGES;
	if (rq->nav && parent_stmt(cx, rq, out) < 0)
		goto done;
	if ((rq->count || inline_count) && count_stmt(cx, rq, t, out) < 0)
		goto done;
	if (!rq->count && main_stmt(cx, rq, t, collection, out) < 0)
		goto done;
	rc = 0;
done:
	free(cx);
	if (rc < 0)
		odata_read_free(out);
	return rc;
}

void
odata_read_free(struct odata_read *r)
{
	odata_stmts_free(&r->stmts);
}

static struct proj *
proj_from_tree(struct ctx *cx, const struct odata_type *t, const struct odata_expand_tree *e)
{
	struct proj *p = proj_new(cx, t);

	for (; p && e; e = e->next) {
		int ni = nav_index(t, e->nav);

		p->exp[ni] = proj_from_tree(cx, e->nav->target, e->child);
		if (p->exp[ni] == NULL)
			return NULL;
	}
	return p;
}

int
odata_read_entity_stmt(struct odata_stmts *stmts, const struct odata_type *t,
    char *const *values, const struct odata_expand_tree *expand, const char *base_uri)
{
	struct odata_sql_params p;
	struct odata_fail f;
	struct qscope qs;
	struct strbuf sql, json, where;
	struct odata_render *render = NULL;
	struct proj *root;
	struct ctx *cx = ctx_new();
	int rc = -1;

	if (cx == NULL)
		return -1;
	cx->f = &f;
	begin_params(cx, &p, base_uri);
	qscope_init(cx, &qs, t);
	strbuf_init(&sql);
	strbuf_init(&json);
	strbuf_init(&where);
	root = proj_from_tree(cx, t, expand);
	if (root == NULL)
		goto done;
	render = flat_select(cx, &qs, root, &sql);
	odata_scope_values_cond(&qs.s, t, qs.s.root, values, &where);
	qscope_from(&qs, &sql);
	strbuf_addf(&sql, " WHERE %s", where.s ? where.s : "FALSE");
	if (where.failed)
		sql.failed = true;
	rc = add_main(cx, stmts, &sql, render);
	render = NULL;
done:
	free(render);
	odata_sql_params_free(&p);
	strbuf_free(&sql);
	strbuf_free(&json);
	strbuf_free(&where);
	qscope_free(&qs);
	free(cx);
	return rc;
}
