/* inbound — see inbound.h.  (being written) */
#include "inbound.h"

void
inbound_handle(struct http_request *req)
{
	http_reply_error(req, 501, "not_implemented", "Not implemented yet.", NULL);
}
