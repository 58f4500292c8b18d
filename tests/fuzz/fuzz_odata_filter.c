/* libFuzzer target for odata/filter.c.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iodata \
 *       tests/fuzz/fuzz_odata_filter.c odata/filter.c -o build/fuzz/fuzz_odata_filter
 *   build/fuzz/fuzz_odata_filter -max_total_time=180 -max_len=8192
 *
 * The input is a heap copy of exactly its bytes (no NUL after it), so ASan
 * reports any read past the length the parser was given. Besides "does not
 * crash or leak" it checks, with abort() on failure:
 *  - an error leaves *out NULL and gives a message ending in its position,
 *    with the position inside the input;
 *  - a tree respects every limit (nodes, segments, arity, literal ranges);
 *  - print is deterministic, snprintf-like, and parsing twice prints the same;
 *  - rendering the tree back to $filter syntax, fully parenthesized, and
 *    parsing that gives the same canonical print (unless the added
 *    parentheses push it over the depth or length limit). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* A growing text buffer for the re-rendered expression. */
struct text {
	char *p;
	size_t n, cap;
};

static void add(struct text *t, const char *s, size_t n)
{
	if (t->n + n + 1 > t->cap) {
		t->cap = (t->n + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		check(t->p != NULL);
	}
	memcpy(t->p + t->n, s, n);
	t->n += n;
	t->p[t->n] = '\0';
}

static void adds(struct text *t, const char *s)
{
	add(t, s, strlen(s));
}

static void add_quoted(struct text *t, const char *s, size_t n)
{
	size_t i;

	adds(t, "'");
	for (i = 0; i < n; i++) {
		add(t, s + i, 1);
		if (s[i] == '\'')
			adds(t, "'");
	}
	adds(t, "'");
}

static void render_literal(struct text *t, const struct odata_filter_node *n)
{
	switch (n->lit.type) {
	case ODATA_FILTER_STRING:
		add_quoted(t, n->lit.text, n->lit.len);
		return;
	case ODATA_FILTER_DATETIME:
	case ODATA_FILTER_DATETIMEOFFSET:
	case ODATA_FILTER_GUID:
		adds(t, odata_filter_type_name(n->lit.type));
		add_quoted(t, n->lit.text, n->lit.len);
		return;
	default:
		add(t, n->lit.text, n->lit.len);
	}
	if (n->lit.type == ODATA_FILTER_INT64)
		adds(t, "L");
	else if (n->lit.type == ODATA_FILTER_DECIMAL)
		adds(t, "M");
	else if (n->lit.type == ODATA_FILTER_DOUBLE)
		adds(t, "d");
}

/* Fully parenthesized $filter text for the tree; also checks invariants. */
static void render(struct text *t, const struct odata_filter_node *n, size_t *nodes)
{
	size_t i;

	check(n != NULL && ++*nodes <= ODATA_FILTER_MAX_NODES);
	switch (n->kind) {
	case ODATA_FILTER_LITERAL:
		check(n->lit.text != NULL && strlen(n->lit.text) == n->lit.len);
		check(n->lit.type != ODATA_FILTER_STRING || n->lit.len <= ODATA_FILTER_MAX_STRING);
		check(n->lit.type != ODATA_FILTER_INT32 ||
		    (n->lit.i >= INT32_MIN && n->lit.i <= INT32_MAX));
		render_literal(t, n);
		break;
	case ODATA_FILTER_PATH:
		check(n->path.nsegs >= 1 && n->path.nsegs <= ODATA_FILTER_MAX_SEGMENTS);
		for (i = 0; i < n->path.nsegs; i++) {
			size_t len = strlen(n->path.segs[i]);

			check(len >= 1 && len <= ODATA_FILTER_MAX_SEGMENT);
			if (i > 0)
				adds(t, "/");
			add(t, n->path.segs[i], len);
		}
		break;
	case ODATA_FILTER_UNARY:
		adds(t, n->unary.op == ODATA_FILTER_NOT ? "not (" : "-(");
		render(t, n->unary.arg, nodes);
		adds(t, ")");
		break;
	case ODATA_FILTER_BINARY:
		adds(t, "(");
		render(t, n->binary.left, nodes);
		adds(t, ") ");
		adds(t, odata_filter_binop_name(n->binary.op));
		adds(t, " (");
		render(t, n->binary.right, nodes);
		adds(t, ")");
		break;
	case ODATA_FILTER_CALL:
		check(n->call.argc >= 1 && n->call.argc <= ODATA_FILTER_MAX_ARGS);
		adds(t, odata_filter_func_name(n->call.fn));
		adds(t, "(");
		for (i = 0; i < n->call.argc; i++) {
			if (i > 0)
				adds(t, ",");
			render(t, n->call.args[i], nodes);
		}
		adds(t, ")");
		break;
	default:
		check(false);
	}
}

/* The canonical print, malloc'd; checks the snprintf contract on the way. */
static char *print(const struct odata_filter_node *root)
{
	int n = odata_filter_print(root, NULL, 0), m;
	char *buf, small[8];

	check(n > 0);
	buf = malloc((size_t)n + 1);
	check(buf != NULL);
	m = odata_filter_print(root, buf, (size_t)n + 1);
	check(m == n && strlen(buf) == (size_t)n);
	check(odata_filter_print(root, small, sizeof(small)) == n);
	check(strlen(small) == ((size_t)n < sizeof(small) ? (size_t)n : sizeof(small) - 1));
	check(memcmp(small, buf, strlen(small)) == 0);
	return buf;
}

static int parse(const char *s, size_t n, struct odata_filter **f, struct odata_filter_error *err)
{
	int rc = odata_filter_parse(s, n, f, err);
	char at[40];

	check(rc == 0 || rc == -1);
	if (rc == 0) {
		check(*f != NULL && odata_filter_root(*f) != NULL);
		return 0;
	}
	check(*f == NULL);
	check(memchr(err->message, '\0', sizeof(err->message)) != NULL);
	snprintf(at, sizeof(at), " at position %zu", err->pos);
	check(strstr(err->message, at) != NULL);
	check(err->pos <= n);
	return -1;
}

static void round_trip(const struct odata_filter_node *root, const char *want)
{
	struct text t = { NULL, 0, 0 };
	struct odata_filter *f;
	struct odata_filter_error err;
	size_t nodes = 0;
	char *got;

	render(&t, root, &nodes);
	if (parse(t.p, t.n, &f, &err) != 0) {
		/* Only the parentheses we added may make it fail. */
		check(strstr(err.message, "nesting deeper") != NULL ||
		    strstr(err.message, "longer than 65536") != NULL);
		free(t.p);
		return;
	}
	got = print(odata_filter_root(f));
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "round trip via %s\n got %s\nwant %s\n", t.p, got, want);
		abort();
	}
	free(got);
	odata_filter_free(f);
	free(t.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	struct odata_filter *f, *g;
	struct odata_filter_error err, err2;
	char *a, *b;

	check(s != NULL);
	if (size)
		memcpy(s, data, size);
	if (parse(s, size, &f, &err) != 0) {
		/* Errors are deterministic too. */
		check(parse(s, size, &g, &err2) == -1);
		check(err.pos == err2.pos && strcmp(err.message, err2.message) == 0);
		free(s);
		return 0;
	}
	a = print(odata_filter_root(f));
	b = print(odata_filter_root(f));
	check(strcmp(a, b) == 0);
	free(b);
	check(parse(s, size, &g, &err2) == 0);
	b = print(odata_filter_root(g));
	check(strcmp(a, b) == 0);
	free(b);
	odata_filter_free(g);
	round_trip(odata_filter_root(f), a);
	free(a);
	odata_filter_free(f);
	free(s);
	return 0;
}
