/* secrets — AES-256-GCM for short secrets under a master keyring that never
 * enters the database. Stored form: "v1:<kid>:<base64(nonce|ciphertext|tag)>".
 * The key id lets keys rotate: the first key of the ring encrypts, every key
 * of the ring decrypts. `aad` binds a ciphertext to where it is stored (e.g.
 * "basic_credential.password") so it cannot be moved to another column. */
#ifndef WEBHOOKD_SECRETS_H
#define WEBHOOKD_SECRETS_H

#include <stddef.h>

struct secrets;

/* Keyring file: one key per line, "<kid> <base64 of 32 bytes>", '#' comments,
 * blank lines ignored; the first key is current. kid: 1..16 of [A-Za-z0-9_-].
 * Returns NULL and a message in err on any problem (bad base64, wrong length,
 * duplicate kid, empty ring, unreadable file). */
struct secrets *secrets_load_file(const char *path, char *err, size_t errlen);
/* Same, from the file's text (used for WEBHOOKD_MASTER_KEY and by tests). */
struct secrets *secrets_load_text(const char *text, char *err, size_t errlen);
void secrets_free(struct secrets *s);

/* Returns a malloc'd NUL-terminated stored form, or NULL on failure. */
char *secrets_encrypt(const struct secrets *s, const char *aad,
                      const void *plain, size_t plain_len);
/* Returns malloc'd plaintext (NUL-terminated, length in *plain_len), or NULL
 * when the form is malformed, the kid unknown, or authentication fails
 * (tampered ciphertext, tag, nonce, kid or aad). */
char *secrets_decrypt(const struct secrets *s, const char *aad,
                      const char *stored, size_t *plain_len);

/* A new keyring line "<kid> <base64 key>\n" with fresh random bytes. */
char *secrets_generate_line(const char *kid);

#endif
