/* libFuzzer target for odata/filter_eval.c.
 *
 *   make build/fuzz/fuzz_odata_filter_eval
 *   build/fuzz/fuzz_odata_filter_eval -dict=tests/fuzz/fuzz_odata_filter.dict \
 *       -max_total_time=600 build/fuzz/fuzz_odata_filter_eval.corpus
 *
 * The input is a JSON payload and a $filter text separated by the first 0x00
 * byte (without one, all of it is the filter and the payload is JSON null).
 * Each part is a heap copy of exactly its bytes, so ASan reports any read
 * past a length. When both parse, the filter is evaluated and, with abort()
 * on failure:
 *  - the result is FALSE, TRUE or ERROR; an ERROR has a message ending in
 *    " at position N." with N inside the filter, the others an empty one;
 *  - evaluating again, with no message buffer, or with a short one gives
 *    the same result (and the same message, truncated snprintf-style);
 *  - for a tree without paths, filter_sql refuses it as a type error exactly
 *    when the evaluator's message is a type error, and then with the same
 *    message (the two back ends share the type rules). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "filter.h"
#include "filter_eval.h"
#include "filter_sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool has_path(const struct odata_filter_node *n)
{
	size_t i;

	switch (n->kind) {
	case ODATA_FILTER_PATH:
		return true;
	case ODATA_FILTER_UNARY:
		return has_path(n->unary.arg);
	case ODATA_FILTER_BINARY:
		return has_path(n->binary.left) || has_path(n->binary.right);
	case ODATA_FILTER_CALL:
		for (i = 0; i < n->call.argc; i++)
			if (has_path(n->call.args[i]))
				return true;
		return false;
	default:
		return false;
	}
}

static int resolve_none(void *arg, const char *const *segs, size_t nsegs,
    struct odata_sql_column *out, size_t *err_segment)
{
	(void)arg;
	(void)segs;
	(void)nsegs;
	(void)out;
	*err_segment = 0;
	return ODATA_SQL_NOT_FOUND;
}

static bool is_type_error(const char *msg)
{
	return strstr(msg, " is not applicable to ") != NULL ||
	    strncmp(msg, "Expected an Edm.Boolean expression", 34) == 0;
}

/* The SQL back end's verdict on a tree without paths. */
static void same_types(const struct odata_filter_node *root, enum odata_eval_result r,
    const char *msg)
{
	struct odata_sql_resolver res = { resolve_none, NULL, NULL };
	struct odata_sql_params p = { NULL, 0, 0, 0 };
	struct odata_filter_sql_error err;
	struct strbuf out;
	int rc;

	strbuf_init(&out);
	rc = odata_filter_sql_compile(root, &res, &out, &p, &err);
	if (rc != 0 && err.kind == ODATA_SQL_NOMEM) {
		strbuf_free(&out);
		return;
	}
	if (rc != 0 ? r != ODATA_EVAL_ERROR || strcmp(err.message, msg) != 0 :
	    r == ODATA_EVAL_ERROR && is_type_error(msg)) {
		fprintf(stderr, "eval %d '%s' vs sql %d '%s'\n", (int)r, msg, rc,
		    rc != 0 ? err.message : "");
		abort();
	}
	odata_sql_params_free(&p);
	strbuf_free(&out);
}

static void evaluate(const struct odata_filter_node *root, const json_t *payload, size_t flen)
{
	char msg[512], again[512], small[12], at[48];
	enum odata_eval_result r = odata_filter_eval(root, payload, msg, sizeof(msg));
	const char *p;
	size_t len;

	check(r == ODATA_EVAL_FALSE || r == ODATA_EVAL_TRUE || r == ODATA_EVAL_ERROR);
	check(memchr(msg, '\0', sizeof(msg)) != NULL);
	len = strlen(msg);
	if (r == ODATA_EVAL_ERROR) {
		p = strstr(msg, " at position ");
		check(len > 0 && p != NULL && msg[len - 1] == '.');
		while (strstr(p + 1, " at position ") != NULL)
			p = strstr(p + 1, " at position ");
		check(strtoull(p + 13, NULL, 10) <= flen);
		snprintf(at, sizeof(at), " at position %llu.", strtoull(p + 13, NULL, 10));
		check(strcmp(p, at) == 0);
	} else {
		check(len == 0);
	}
	check(odata_filter_eval(root, payload, again, sizeof(again)) == r);
	check(strcmp(msg, again) == 0);
	check(odata_filter_eval(root, payload, NULL, 0) == r);
	check(odata_filter_eval(root, payload, small, sizeof(small)) == r);
	check(strlen(small) == (len < sizeof(small) ? len : sizeof(small) - 1));
	check(strncmp(small, msg, strlen(small)) == 0);
	if (!has_path(root))
		same_types(root, r, msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t jlen = nul != NULL ? (size_t)(nul - data) : 0;
	size_t flen = nul != NULL ? size - jlen - 1 : size;
	char *js = malloc(jlen ? jlen : 1), *fs = malloc(flen ? flen : 1);
	struct odata_filter *f = NULL;
	json_t *payload = NULL;
	json_error_t jerr;

	check(js != NULL && fs != NULL);
	if (jlen)
		memcpy(js, data, jlen);
	if (flen)
		memcpy(fs, nul != NULL ? nul + 1 : data, flen);
	if (nul != NULL)
		payload = json_loadb(js, jlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if ((nul == NULL || payload != NULL) && odata_filter_parse(fs, flen, &f, NULL) == 0) {
		evaluate(odata_filter_root(f), payload, flen);
		odata_filter_free(f);
	}
	json_decref(payload);
	free(js);
	free(fs);
	return 0;
}
