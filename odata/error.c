#include "error.h"

#include <jansson.h>

char *
odata_error_json(const char *code, const char *message, const char *innererror)
{
	json_t *root;
	char *text;

	/* json_pack "s" rejects invalid UTF-8; fall back to a safe message
	 * rather than failing the reply. */
	root = json_pack("{s:{s:s, s:{s:s, s:s}}}", "error", "code", code,
	    "message", "lang", "en", "value", message);
	if (root == NULL)
		root = json_pack("{s:{s:s, s:{s:s, s:s}}}", "error", "code", code,
		    "message", "lang", "en", "value", "invalid request");
	if (root == NULL)
		return NULL;
	if (innererror != NULL) {
		json_t *inner = json_string(innererror);
		if (inner != NULL)
			json_object_set_new(json_object_get(root, "error"), "innererror", inner);
	}
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return text;
}
