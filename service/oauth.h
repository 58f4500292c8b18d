/* oauth — OAuth 2.0 client-credentials tokens for deliveries, one cache per
 * dispatcher thread. A token is fetched with httpc (client id and secret
 * as HTTP Basic, RFC 6749 §2.3.1), kept until 30 s before it expires, and
 * shared by every delivery using the same token URL, client and scope;
 * requests arriving while a fetch runs wait for it instead of starting
 * their own. */
#ifndef WEBHOOKD_OAUTH_H
#define WEBHOOKD_OAUTH_H

#include <stdbool.h>

struct httpc;
struct oauth;

struct oauth *oauth_new(struct httpc *http, long connect_timeout_ms);
/* Waiting callers are called with a failure first. */
void oauth_free(struct oauth *o);

/* token: the access token, or NULL with error set. Runs from the loop,
 * never inside oauth_token(). */
typedef void (*oauth_cb)(void *arg, const char *token, const char *error);

/* refresh: forget a cached token first (the destination answered 401).
 * Returns 1 with *cached set to a valid token (no callback; the pointer
 * lives until the next oauth call), 0 when cb will be called with the
 * fetched one, or -1 when the request could not start (cb never called). */
int oauth_token(struct oauth *o, const char *url, const char *client_id,
                const char *client_secret, const char *scope, bool refresh,
                const char **cached, oauth_cb cb, void *arg);

#endif
