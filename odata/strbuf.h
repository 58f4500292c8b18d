/* strbuf — a growable NUL-terminated byte buffer for building SQL, JSON and
 * XML text. Allocation failure is sticky: after it every append is a no-op
 * and `failed` stays set, so a builder checks once at the end instead of
 * after every append. */
#ifndef WEBHOOKD_ODATA_STRBUF_H
#define WEBHOOKD_ODATA_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *s;        /* NUL-terminated while len > 0 or after any append */
	size_t len;
	size_t cap;
	bool failed;    /* an allocation failed; contents are incomplete */
};

void strbuf_init(struct strbuf *b);
void strbuf_free(struct strbuf *b);
void strbuf_reset(struct strbuf *b);          /* len = 0, keeps the memory */
void strbuf_add(struct strbuf *b, const void *p, size_t n);
void strbuf_adds(struct strbuf *b, const char *s);
void strbuf_addc(struct strbuf *b, char c);
void strbuf_addf(struct strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The malloc'd text (never NULL unless failed); the buffer is left empty. */
char *strbuf_detach(struct strbuf *b);

#endif
