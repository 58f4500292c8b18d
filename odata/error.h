/* error — the SAP Commerce OData error body:
 * {"error":{"code":"...","message":{"lang":"en","value":"..."},"innererror":...}}
 * innererror is left out when NULL, as in SAP's own 401/403/415 examples. */
#ifndef WEBHOOKD_ODATA_ERROR_H
#define WEBHOOKD_ODATA_ERROR_H

#include <stddef.h>

/* Returns a malloc'd compact JSON text, or NULL when out of memory. */
char *odata_error_json(const char *code, const char *message, const char *innererror);

#endif
