/* retry — see retry.h. */
#include "retry.h"

int
retry_policy_init(struct retry_policy *p, const char *schedule, int jitter_percent)
{
	p->attempts = config_durations(schedule, p->delay_ms, CONFIG_DURATIONS_MAX);
	p->jitter_percent = jitter_percent < 0 ? 0 : jitter_percent > 100 ? 100 : jitter_percent;
	return p->attempts > 0 ? 0 : -1;
}

long long
retry_next_delay(const struct retry_policy *p, int done, long retry_after_s, double rnd)
{
	long long d, ra;
	double spread;

	if (done < 1 || done >= p->attempts)
		return -1;
	d = p->delay_ms[done];
	if (retry_after_s >= 0) {
		ra = (long long)retry_after_s * 1000;
		return ra < d ? d : ra > 2 * d ? 2 * d : ra;
	}
	spread = (double)d * p->jitter_percent / 100.0 * (2.0 * rnd - 1.0);
	d += (long long)spread;
	return d < 0 ? 0 : d;
}
