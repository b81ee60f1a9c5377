/* Pacing and timestamp clock: the invariant TSC when the CPU has one, else
 * CLOCK_MONOTONIC_RAW. "Ticks" are TSC cycles or nanoseconds respectively. */
#ifndef ICPERF_CLOCK_H
#define ICPERF_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "options.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define ICPERF_HAVE_TSC 1
#endif

struct clock_state {
	bool use_tsc;
	uint64_t hz;        /* ticks per second */
	uint64_t ns_mult;   /* ns = ticks * ns_mult >> 32 */
};

extern struct clock_state g_clock;

/* Chooses and calibrates the clock. Returns 0, or 1 after printing an error. */
int clock_init(enum clock_choice choice);

const char *clock_name(void);

static inline uint64_t clock_monotonic_raw_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The branch is on a value fixed before any loop starts, so it is always predicted. */
static inline uint64_t clock_ticks(void)
{
#ifdef ICPERF_HAVE_TSC
	if (__builtin_expect(g_clock.use_tsc, 1))
		return __rdtsc();
#endif
	return clock_monotonic_raw_ns();
}

static inline uint64_t clock_ticks_to_ns(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * g_clock.ns_mult) >> 32);
}

static inline uint64_t clock_ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * g_clock.hz / 1000000000ULL);
}

/* Nanoseconds on the shared clock; every thread and core reads the same time base. */
static inline uint64_t clock_now_ns(void)
{
	return clock_ticks_to_ns(clock_ticks());
}

static inline void cpu_relax(void)
{
#ifdef ICPERF_HAVE_TSC
	_mm_pause();
#endif
}

/* Wall-clock time, UNIX seconds. */
double clock_wall(void);

#endif
