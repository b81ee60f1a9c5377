/* Burst pacer on absolute deadlines: burst k is due at start + k * burst / rate seconds,
 * computed from the start each time, so rounding never accumulates into drift.
 *
 * A sender that was delayed (preempted, a slow syscall) catches up by sending the due
 * bursts back to back, but only those at most PACER_MAX_LAG_MS late. Older ones are
 * skipped: neither sent nor counted as attempted. So a sender that cannot keep up offers,
 * and reports, the lower rate it really sent at instead of bursting without bound, while a
 * short scheduling hiccup does not change the rate offered over a second. */
#ifndef ICPERF_PACER_H
#define ICPERF_PACER_H

#include <stdint.h>

#define PACER_MAX_LAG_MS 100

struct pacer {
	uint64_t start;       /* ticks */
	uint64_t hz, rate, burst;
	uint64_t slot;        /* index of the next burst */
	uint64_t deadline;    /* ticks when burst `slot` is due */
	uint64_t max_lag;     /* ticks */
	uint64_t skipped;     /* bursts skipped because the sender was too late */
};

void pacer_init(struct pacer *p, uint64_t start, uint64_t hz, uint64_t rate, uint64_t burst);

static inline uint64_t pacer_slot_time(const struct pacer *p, uint64_t slot)
{
	return p->start + (uint64_t)((unsigned __int128)slot * p->burst * p->hz / p->rate);
}

/* Rarely taken: moves the schedule to the latest slot already due. */
void pacer_skip(struct pacer *p, uint64_t now);

/* Called when now >= deadline, before the due burst is sent: a burst more than max_lag late
 * and every one before it are dropped from the schedule. */
static inline void pacer_check_lag(struct pacer *p, uint64_t now)
{
	if (__builtin_expect(now - p->deadline > p->max_lag, 0))
		pacer_skip(p, now);
}

/* Called after the due burst was sent. */
static inline void pacer_next(struct pacer *p)
{
	p->slot++;
	p->deadline = pacer_slot_time(p, p->slot);
}

#endif
