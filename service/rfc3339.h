/* rfc3339 — strict RFC 3339 date-time check for API input (occurredAt,
 * since=): yyyy-mm-ddThh:mm:ss[.frac](Z|+hh:mm|-hh:mm), a real day of a
 * real month (leap years), 't' and 'z' in lower case too, as the RFC
 * allows. Anything PostgreSQL would read differently is refused first. */
#ifndef WEBHOOKD_RFC3339_H
#define WEBHOOKD_RFC3339_H

#include <stdbool.h>

bool rfc3339_valid(const char *s);

#endif
