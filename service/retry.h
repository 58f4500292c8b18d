/* retry — the delivery retry schedule: when the next attempt is due after
 * a failed one. Pure arithmetic, no I/O, so its rules are unit-tested. */
#ifndef WEBHOOKD_RETRY_H
#define WEBHOOKD_RETRY_H

#include "config.h"

struct retry_policy {
	long long delay_ms[CONFIG_DURATIONS_MAX];  /* before attempt i+1 */
	int attempts;                               /* entries = most attempts */
	int jitter_percent;
};

/* From the configuration's retry_schedule and retry_jitter_percent.
 * Returns 0, -1 when the schedule does not parse. */
int retry_policy_init(struct retry_policy *p, const char *schedule, int jitter_percent);

/* Milliseconds from now until the next attempt after `done` attempts (the
 * last of which failed), or -1 when none is left. The scheduled delay gets
 * +/- jitter_percent of spread from rnd (uniform in [0, 1)). A Retry-After
 * of retry_after_s seconds (-1: none) is honoured within 1x..2x of the
 * scheduled delay (without jitter): sooner than the schedule is never
 * allowed, and a far Retry-After cannot park a delivery indefinitely. */
long long retry_next_delay(const struct retry_policy *p, int done,
                           long retry_after_s, double rnd);

#endif
