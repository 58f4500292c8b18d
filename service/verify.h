/* verify — the checks of an inbound webhook's authenticity (inbound.c),
 * pure: no I/O, no clock (the caller passes "now"), no allocation that
 * outlives a call.
 *
 * Every comparison with a secret is constant-time over fixed-length
 * values: API keys and Basic credentials are compared as SHA-256 digests
 * (so the time never depends on the secret's length or on where the
 * attacker's guess differs), MACs and body digests as their raw bytes. */
#ifndef WEBHOOKD_VERIFY_H
#define WEBHOOKD_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

enum verify_mode {
	VERIFY_API_KEY,
	VERIFY_BASIC,
	VERIFY_HMAC_SHA256,
	VERIFY_HMAC_SHA1,
	VERIFY_STANDARD_WEBHOOKS,
	VERIFY_JWT_RS256,
};

enum verify_encoding {
	VERIFY_HEX,        /* case-insensitive */
	VERIFY_BASE64,     /* standard alphabet, padded */
};

/* Why a request was refused: for logs only, never told to the sender. */
enum verify_result {
	VERIFY_OK = 0,
	VERIFY_MISSING,      /* the header (or query parameter) is absent */
	VERIFY_MALFORMED,    /* present but not of the expected form */
	VERIFY_MISMATCH,     /* well-formed, but the secret does not match */
	VERIFY_STALE,        /* a timestamp or claim outside the tolerance */
	VERIFY_BAD_SECRET,   /* the configured secret is unusable (e.g. bad PEM) */
};

#define VERIFY_TOKEN_MAX 16384   /* longest JWT or signature header accepted */

/* What one request offers; NULL: absent. header is the value of the
 * source's header (headerName or the mode's default): the API key, the
 * HMAC signature or the JWT. */
struct verify_input {
	const char *header;
	const char *query_key;        /* API_KEY: the decoded apikey parameter */
	const char *authorization;    /* BASIC */
	const char *wh_id, *wh_timestamp, *wh_signature;  /* STANDARD_WEBHOOKS */
	const void *body;
	size_t body_len;
	long long now;                /* seconds since the epoch */
	int tolerance_s;              /* timestamps and JWT claims */
};

/* "API_KEY" ... "JWT_RS256"; -1 when unknown. */
int verify_mode_parse(const char *name);
/* The header consulted when the source names none: X-API-Key,
 * X-Signature-SHA256, X-Gigya-HMAC-SHA1, x-gigya-sig-jwt (NULL for BASIC
 * and STANDARD_WEBHOOKS, which use fixed headers). */
const char *verify_default_header(enum verify_mode m);
const char *verify_result_name(enum verify_result r);

/* The whole check of mode m with the source's plaintext secret. */
enum verify_result verify_request(enum verify_mode m, const char *secret, size_t secret_len,
                                  enum verify_encoding enc, const struct verify_input *in);

/* The parts, for verify_request and the unit tests. */
enum verify_result verify_api_key(const char *secret, size_t secret_len, const char *given);
/* authorization: "Basic base64(user:password)"; secret "user:password". */
enum verify_result verify_basic(const char *secret, size_t secret_len, const char *authorization);
/* HMAC-SHA256 or -SHA1 (m) of the body keyed with the secret (or, when the
 * secret is "base64:<b64>", with those decoded bytes), against sig encoded
 * per enc, optionally prefixed "sha256=" / "sha1=" (the mode's own only). */
enum verify_result verify_hmac(enum verify_mode m, const char *secret, size_t secret_len,
                               enum verify_encoding enc, const char *sig,
                               const void *body, size_t body_len);
/* Standard Webhooks: secret "whsec_...", the three webhook-* headers. */
enum verify_result verify_standard(const char *secret, const char *id, const char *timestamp,
                                   const char *signature, const void *body, size_t body_len,
                                   long long now, int tolerance_s);
/* An RS256 JWT ("Bearer " optional) signed by the PEM public key, whose
 * sub is the SHA-256 of the body (hex, base64 or base64url); exp, nbf and
 * iat, when present, judged with tolerance_s. */
enum verify_result verify_jwt_rs256(const char *pem, const char *token, const void *body,
                                    size_t body_len, long long now, int tolerance_s);

#endif
