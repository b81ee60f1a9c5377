#include "pacer.h"

void pacer_init(struct pacer *p, uint64_t start, uint64_t hz, uint64_t rate, uint64_t burst)
{
	*p = (struct pacer){ .start = start, .hz = hz, .rate = rate, .burst = burst };
	p->max_lag = hz / 1000 * PACER_MAX_LAG_MS;
	p->deadline = start;
}

void pacer_skip(struct pacer *p, uint64_t now)
{
	/* The slot due at or just before now is kept; the ones before it are skipped. */
	uint64_t due = (uint64_t)((unsigned __int128)(now - p->start) * p->rate / p->hz / p->burst);
	if (due > p->slot) {
		p->skipped += due - p->slot;
		p->slot = due;
		p->deadline = pacer_slot_time(p, due);
	}
}
