/* error — the SAP Commerce OData error body:
 * {"error":{"code":"...","message":{"lang":"en","value":"..."},"innererror":...}}
 * innererror is left out when NULL, as in SAP's own 401/403/415 examples. */
#ifndef WEBHOOKD_ODATA_ERROR_H
#define WEBHOOKD_ODATA_ERROR_H

#include <stdbool.h>
#include <stddef.h>

/* A failed OData operation as the HTTP layer will answer it. */
struct odata_fail {
	int status;           /* 400, 404, 412, 415, 500, 503 ... */
	char code[40];        /* "invalid_key", "not_found" ... */
	char message[4096];   /* English, safe to show (no secrets, cut at UTF-8);
	                         room for the longest keys */
	char inner[3072];
	bool has_inner;
};

/* Fills f; inner may be NULL. Returns -1 so callers can `return odata_fail(...)`. */
int odata_fail(struct odata_fail *f, int status, const char *code, const char *inner,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* "Could not find property with name: 'x'." as 404 not_found */
int odata_fail_no_property(struct odata_fail *f, const char *name);

/* Returns a malloc'd compact JSON text, or NULL when out of memory. */
char *odata_error_json(const char *code, const char *message, const char *innererror);
/* The same error as OData V2 XML (for $metadata requests), malloc'd. */
char *odata_error_xml(const char *code, const char *message, const char *innererror);

#endif
