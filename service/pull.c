/* pull — see pull.h.  (being written) */
#include "pull.h"

void
pull_handle(struct http_request *req)
{
	http_reply_error(req, 501, "not_implemented", "Not implemented yet.", NULL);
}
