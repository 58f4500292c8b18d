/* key — the integrationKey codec.
 *
 * An integrationKey is an entity's key attribute values, in the type's
 * order, each form-URL-encoded exactly as Java's
 * URLEncoder.encode(v, "UTF-8") does it (A-Z a-z 0-9 . - * _ unchanged,
 * space -> '+', every other byte -> %XX in upper-case hex), joined with '|'.
 * So a '|' inside a value is "%7C" and never a separator.
 *
 * NULL values: a NULL (absent) attribute value is written as the literal
 * part "null", as SAP Commerce does, and odata_key_split() turns a part
 * that is exactly "null" back into a NULL pointer. The consequence, kept
 * for compatibility with keys computed by SAP and its clients: a value
 * that is the four-character string "null" gets the same key as NULL. The
 * escaped spelling "%6Eull" (never produced by the encoder) still decodes
 * to the string "null", so such a row stays addressable.
 *
 * Pure string handling: no HTTP, no database. Every function that
 * allocates returns memory the caller frees; on failure nothing is
 * allocated and the out parameter is set to NULL. */
#ifndef WEBHOOKD_ODATA_KEY_H
#define WEBHOOKD_ODATA_KEY_H

#include <stddef.h>

/* The integrationKey of n values (NULL entries allowed, see above), as a
 * malloc'd string; NULL when out of memory. n == 0 gives "". */
char *odata_key_encode(const char *const *values, size_t n);

/* Parses the text between the parentheses of a key predicate, pred[0..len)
 * (need not be NUL-terminated): either 'k' or integrationKey='k', with no
 * whitespace anywhere outside the quotes. Inside the quotes '' stands for
 * one '. The URL path has already been percent-decoded once by the caller.
 * On success *key_out is the malloc'd key text (possibly "") and 0 is
 * returned. -1 (and *key_out = NULL) for an empty predicate, a NUL byte, a
 * property other than exactly "integrationKey", missing or unterminated
 * quotes, a lone ' inside, or anything after the closing quote. */
int odata_key_predicate(const char *pred, size_t len, char **key_out);

/* The same for any key property name: 'k' or <name>='k', where name is an
 * identifier [A-Za-z_][A-Za-z0-9_]* of at most 128 bytes (case kept; the
 * caller compares it with the type's key name, "integrationKey" or e.g.
 * "id"). On success *name_out is the malloc'd name, or NULL for the bare
 * form 'k', and *key_out as above. -1 (both set to NULL) on the errors
 * above, with "a property other than integrationKey" read as "not an
 * identifier". */
int odata_key_predicate_named(const char *pred, size_t len, char **name_out, char **key_out);

/* Splits key on '|' into exactly arity parts and form-URL-decodes each
 * ('+' -> space, %XX -> byte, hex in either case); a part that is exactly
 * "null" becomes NULL. On success *values_out is a malloc'd array of arity
 * malloc'd strings (or NULLs), freed with odata_key_free_values(), and 0 is
 * returned. -1 (and *values_out = NULL) for a wrong number of parts,
 * arity 0, a malformed % escape, a decoded NUL byte, invalid UTF-8 in a
 * decoded value (overlong forms, surrogates and code points above U+10FFFF
 * included), or out of memory. */
int odata_key_split(const char *key, size_t arity, char ***values_out);

/* The value of a hexadecimal digit (either case), or -1: shared with the
 * URL decoder (uri.c). */
int odata_key_hex_value(unsigned char c);

/* Frees what odata_key_split() returned; v may be NULL. */
void odata_key_free_values(char **v, size_t n);

/* SAP's invalid_key message, "The integration key [key] is invalid. Please
 * consult the IntegrationKey definition of [type] for configuration
 * details.", written snprintf-style: at most size bytes including the NUL
 * (buf may be NULL when size is 0); returns the full length the message
 * needs, or -1. A truncated message is cut back to a UTF-8 character
 * boundary so that it stays valid in a JSON error body. NULL key or type
 * print as "". */
int odata_key_error_message(char *buf, size_t size, const char *key, const char *type);

#endif
