/* libFuzzer target for the JSON-to-entity decoder (odata/write.c): any body,
 * for every entity set and every write mode, must either plan statements or
 * fail with a client error — never crash, leak or produce a statement whose
 * SQL text contains bytes of the payload (values travel as parameters).
 *
 *   make build/fuzz/fuzz_odata_write && build/fuzz/fuzz_odata_write -max_total_time=600
 *
 * Input: byte 0 picks the entity set, byte 1 the mode, the rest is the body. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model.h"
#include "write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
fake_encrypt(void *arg, const char *aad, const char *plain)
{
	(void)arg;
	(void)plain;
	return strdup(aad);
}

static char *
fake_generate(void *arg)
{
	(void)arg;
	return strdup("whsec_fuzz");
}

/* Values travel as parameters, so no string value of the payload may
 * appear in a statement. Generated SQL never holds ';', "--" or a byte
 * above 0x7F, so a value (4 bytes or longer) with one of those that shows
 * up in a statement was spliced. Walks the body as jansson parses it. */
static void
check_value(const struct odata_stmts *st, const char *v)
{
	int s;

	const unsigned char *p;
	bool tell = false;

	for (p = (const unsigned char *)v; *p; p++)
		if (*p == ';' || *p >= 0x80 || (p[0] == '-' && p[1] == '-'))
			tell = true;
	if (strlen(v) < 4 || !tell)
		return;
	for (s = 0; s < st->n; s++)
		if (strstr(st->v[s].sql, v)) {
			fprintf(stderr, "payload text in SQL: %s\n", v);
			abort();
		}
}

static void
check_no_splice(const struct odata_stmts *st, json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j))
		check_value(st, json_string_value(j));
	else if (json_is_array(j))
		json_array_foreach(j, i, v)
			check_no_splice(st, v);
	else if (json_is_object(j))
		json_object_foreach(j, k, v)
			check_no_splice(st, v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct odata_write_ops ops = { fake_encrypt, fake_generate, NULL };
	struct odata_write_req rq;
	struct odata_write out;
	struct odata_fail f;

	if (!ready) {
		odata_model_init();
		ready = 1;
	}
	if (size < 2)
		return 0;
	memset(&rq, 0, sizeof(rq));
	rq.type = odata_model_type_at(NULL, data[0] % odata_model_ntypes(NULL));
	rq.mode = (enum odata_write_mode)(data[1] % 4);
	rq.key = "a|b|c|d";
	if (rq.type->nkeys == 1)
		rq.key = "a";
	else if (rq.type->nkeys == 2)
		rq.key = "a|b";
	else if (rq.type->nkeys == 3)
		rq.key = "a|b|1";
	rq.body = (const char *)data + 2;
	rq.body_len = size - 2;
	rq.base_uri = "https://h/odata2webservices/WebhookService";
	rq.ops = &ops;
	if (odata_write_build(&rq, &out, &f) == 0) {
		json_t *j = json_loadb(rq.body, rq.body_len, 0, NULL);

		check_no_splice(&out.stmts, j);
		json_decref(j);
		odata_write_free(&out);
	} else if (f.status < 400 || f.status > 599 || f.code[0] == '\0') {
		abort();
	}
	return 0;
}
