/* password — PBKDF2-HMAC-SHA256 password hashes with a per-user salt.
 * Stored form: "pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash>".
 * The iteration count is read back from the stored form, so it can be
 * raised later without invalidating existing hashes. */
#ifndef WEBHOOKD_PASSWORD_H
#define WEBHOOKD_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_DEFAULT_ITERATIONS 600000  /* OWASP 2023 for PBKDF2-SHA256 */

/* Returns a malloc'd stored form (16-byte random salt, 32-byte hash), or
 * NULL. iterations < 1000 is refused. */
char *password_hash(const char *password, unsigned iterations);
/* Constant-time check of password against a stored form. A malformed stored
 * form is false. This is slow on purpose: never call it on an event loop. */
bool password_verify(const char *password, const char *stored);
/* A random password of `len` characters from [A-Za-z0-9] (len < bufsize). */
int password_generate(char *buf, size_t bufsize, size_t len);

#endif
