/* webhooks — see webhooks.h.  (being written) */
#include "webhooks.h"

void
webhooks_handle(struct http_request *req)
{
	http_reply_error(req, 501, "not_implemented", "Not implemented yet.", NULL);
}
