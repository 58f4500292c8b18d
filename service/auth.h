/* auth — HTTP Basic against the users table. Verified credentials are
 * cached briefly under an HMAC of user and password (never the password
 * itself), so the slow KDF runs once per TTL per credential; when it must run
 * it runs on a KDF thread, never on a worker's loop. */
#ifndef WEBHOOKD_AUTH_H
#define WEBHOOKD_AUTH_H

struct config;
struct http_request;
struct auth;

#define AUTH_ROLE_ADMIN     1u
#define AUTH_ROLE_VIEWER    2u
#define AUTH_ROLE_PUBLISHER 4u
#define AUTH_ROLE_SUBSCRIBER 8u   /* PULL consumers */

enum auth_outcome { AUTH_OK, AUTH_UNAUTHORIZED, AUTH_UNAVAILABLE };

typedef void (*auth_cb)(struct http_request *req, enum auth_outcome outcome);

/* 0 for an unknown name. */
unsigned auth_role_parse(const char *name);
const char *auth_role_name(unsigned role);

struct auth *auth_new(const struct config *cfg);
/* Stops the KDF threads and frees verifications still pending. */
void auth_free(struct auth *a);

/* Forget every cached credential. Called when the users table changes
 * (NOTIFY webhookd_users, sent by a trigger) and when that subscription is
 * (re)established, so a deleted user or changed password stops working at
 * once, on every instance. */
void auth_flush(struct auth *a);
/* Same, with the db_notify_cb signature. */
void auth_on_notify(void *a, const char *channel, const char *payload);

#define AUTH_NOTIFY_CHANNEL "webhookd_users"

/* On AUTH_OK, req->user and req->role are set. cb runs exactly once, either
 * before auth_check returns (cache hit, malformed header) or later on the
 * request's worker loop. */
void auth_check(struct auth *a, struct http_request *req, auth_cb cb);

#endif
