#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "strbuf.h"

/* Cut back to a UTF-8 boundary so a truncated message stays valid JSON text. */
static void
utf8_trim(char *s)
{
	size_t n = strlen(s), i = n, need;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return;
	need = (unsigned char)s[i - 1] >= 0xF0 ? 4 : (unsigned char)s[i - 1] >= 0xE0 ? 3 :
	    (unsigned char)s[i - 1] >= 0xC0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

int
odata_fail(struct odata_fail *f, int status, const char *code, const char *inner,
    const char *fmt, ...)
{
	va_list ap;

	f->status = status;
	snprintf(f->code, sizeof(f->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	utf8_trim(f->message);
	f->has_inner = inner != NULL;
	snprintf(f->inner, sizeof(f->inner), "%s", inner ? inner : "");
	utf8_trim(f->inner);
	return -1;
}

int
odata_fail_no_property(struct odata_fail *f, const char *name)
{
	return odata_fail(f, 404, "not_found", NULL,
	    "Could not find property with name: '%.128s'.", name);
}

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

static void
xml_text(struct strbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': strbuf_adds(b, "&lt;"); break;
		case '>': strbuf_adds(b, "&gt;"); break;
		case '&': strbuf_adds(b, "&amp;"); break;
		case '"': strbuf_adds(b, "&quot;"); break;
		default: strbuf_addc(b, *s);
		}
	}
}

char *
odata_error_xml(const char *code, const char *message, const char *innererror)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_adds(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<error xmlns=\"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata\"><code>");
	xml_text(&b, code);
	strbuf_adds(&b, "</code><message xml:lang=\"en\">");
	xml_text(&b, message);
	strbuf_adds(&b, "</message>");
	if (innererror) {
		strbuf_adds(&b, "<innererror>");
		xml_text(&b, innererror);
		strbuf_adds(&b, "</innererror>");
	}
	strbuf_adds(&b, "</error>");
	return strbuf_detach(&b);
}
