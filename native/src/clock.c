#include "clock.h"

#include <stdio.h>

#ifdef ICPERF_HAVE_TSC
#include <cpuid.h>
#endif

struct clock_state g_clock = { .use_tsc = false, .hz = 1000000000ULL, .ns_mult = 1ULL << 32 };

double clock_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *clock_name(void)
{
	return g_clock.use_tsc ? "tsc" : "monotonic_raw";
}

#ifdef ICPERF_HAVE_TSC
/* CPUID 0x80000007 EDX bit 8: the TSC ticks at a constant rate in every P/C-state and is
 * synchronised across cores, so one core's reading can be compared with another's. */
static bool tsc_invariant(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
		return false;
	__get_cpuid(0x80000007, &a, &b, &c, &d);
	return d & (1u << 8);
}

/* One (monotonic ns, tsc) pair read as close together as possible: the read with the
 * tightest bracket of the monotonic clock around it wins. */
static void paired_read(uint64_t *ns, uint64_t *tsc)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 16; i++) {
		uint64_t t0 = clock_monotonic_raw_ns();
		uint64_t c = __rdtsc();
		uint64_t t1 = clock_monotonic_raw_ns();
		if (t1 - t0 < best) {
			best = t1 - t0;
			*ns = t0 + (t1 - t0) / 2;
			*tsc = c;
		}
	}
}

static uint64_t tsc_calibrate(void)
{
	uint64_t ns0, c0, ns1, c1;
	paired_read(&ns0, &c0);
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	nanosleep(&nap, NULL);
	paired_read(&ns1, &c1);
	if (ns1 <= ns0 || c1 <= c0)
		return 0;
	return (uint64_t)((unsigned __int128)(c1 - c0) * 1000000000ULL / (ns1 - ns0));
}
#endif

int clock_init(enum clock_choice choice)
{
	g_clock = (struct clock_state){ .use_tsc = false, .hz = 1000000000ULL,
					.ns_mult = 1ULL << 32 };
	if (choice == CLOCK_CHOICE_MONOTONIC_RAW)
		return 0;
#ifdef ICPERF_HAVE_TSC
	if (tsc_invariant()) {
		uint64_t hz = tsc_calibrate();
		if (hz >= 1000000) {
			g_clock.use_tsc = true;
			g_clock.hz = hz;
			g_clock.ns_mult = (uint64_t)(((unsigned __int128)1000000000ULL << 32) / hz);
			return 0;
		}
	}
#endif
	if (choice == CLOCK_CHOICE_TSC) {
		fprintf(stderr, "icperf: --clock tsc: this CPU has no usable invariant TSC\n");
		return 1;
	}
	return 0;
}
