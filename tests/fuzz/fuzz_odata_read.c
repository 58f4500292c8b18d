/* libFuzzer target for the read planner (odata/read.c with uri.c,
 * filter.c, filter_sql.c, scope.c, render.c): any query string, for every
 * entity set, addressed as a collection, by key, through each navigation
 * and as /$count, must plan statements or fail with a client error — never
 * crash or leak — and no statement may carry text of the query: values
 * travel as parameters.
 *
 *   make build/fuzz/fuzz_odata_read && build/fuzz/fuzz_odata_read -max_total_time=600
 *
 * Input: byte 0 picks the entity set, byte 1 the addressing, the rest is
 * the raw query string (as after '?'). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "read.h"
#include "uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Generated SQL never holds ';', "--" or bytes above 0x7F: finding one that
 * the query also holds means query text reached the SQL. */
static void
check_no_splice(const struct odata_stmts *st, const char *q)
{
	int i;

	if (strpbrk(q, ";") == NULL && strstr(q, "--") == NULL) {
		const unsigned char *p;

		for (p = (const unsigned char *)q; *p && *p < 0x80; p++)
			;
		if (*p == '\0')
			return;
	}
	for (i = 0; i < st->n; i++) {
		const unsigned char *p;

		if (strchr(st->v[i].sql, ';') || strstr(st->v[i].sql, "--"))
			abort();
		for (p = (const unsigned char *)st->v[i].sql; *p; p++)
			if (*p >= 0x80)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct odata_options opt;
	struct odata_uri_error ue;
	struct odata_read_req rq;
	struct odata_read out;
	struct odata_fail f;
	const struct odata_type *t;
	char *q;
	unsigned mode;

	if (!ready) {
		odata_model_init();
		ready = 1;
	}
	if (size < 2)
		return 0;
	t = odata_model_type_at(NULL, data[0] % odata_model_ntypes(NULL));
	mode = data[1];
	q = strndup((const char *)data + 2, size - 2);
	if (q == NULL)
		return 0;
	if (odata_options_parse(q, &opt, &ue) < 0) {
		free(q);
		return 0;
	}
	memset(&rq, 0, sizeof(rq));
	rq.type = t;
	rq.opt = &opt;
	rq.page_default = 10;
	rq.page_max = 1000;
	rq.base_uri = "https://h/odata2webservices/WebhookService";
	if (mode & 1)
		rq.key = (mode & 2) ? "a|b|c|d" : "a";
	if ((mode & 1) && (mode & 4) && t->nnavs)
		rq.nav = &t->navs[(mode >> 4) % t->nnavs];
	if (rq.nav && (rq.nav->flags & ODATA_NAV_HIDDEN))
		rq.nav = NULL;
	rq.count = (mode & 8) != 0 && (rq.key == NULL || (rq.nav && rq.nav->mult == ODATA_MANY));
	if (odata_read_build(&rq, &out, &f) == 0) {
		check_no_splice(&out.stmts, q);
		odata_read_free(&out);
	} else if (f.status < 400 || f.status > 599 || f.code[0] == '\0') {
		abort();
	}
	odata_options_free(&opt);
	free(q);
	return 0;
}
