/* Fixed-memory log-bucketed histogram of nanosecond values (HDR style).
 *
 * Values below 256 ns have one bucket each. Above, a value v with most significant bit
 * e (e >= 8) falls in a bucket of width 2^(e-7): its top 8 bits (a 1 and a 7-bit mantissa)
 * select one of 128 buckets per power of two. A bucket spans at most 1/128 of its lower
 * bound, and its midpoint is within 0.4 % of every value in it. The range ends at
 * 2^36 ns (68.7 s); larger values land in the last bucket. 3840 counters, 30 KiB. */
#ifndef ICPERF_HISTOGRAM_H
#define ICPERF_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)         /* 128 */
#define HIST_LINEAR_MAX (2u * HIST_SUB_COUNT)         /* 256: exact below this */
#define HIST_MAX_BITS 36                              /* values < 2^36 ns */
#define HIST_BUCKETS (HIST_LINEAR_MAX + (HIST_MAX_BITS - HIST_SUB_BITS - 1) * HIST_SUB_COUNT)

struct histogram {
	uint64_t count, sum, min, max;
	uint64_t buckets[HIST_BUCKETS];
};

static inline unsigned hist_index(uint64_t v)
{
	if (v < HIST_LINEAR_MAX)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb >= HIST_MAX_BITS)
		return HIST_BUCKETS - 1;
	unsigned shift = msb - HIST_SUB_BITS;   /* >= 1 */
	unsigned mant = (unsigned)(v >> shift); /* 128..255 */
	return HIST_LINEAR_MAX + (shift - 1) * HIST_SUB_COUNT + (mant - HIST_SUB_COUNT);
}

static inline void hist_record(struct histogram *h, uint64_t v)
{
	h->buckets[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_reset(struct histogram *h);
void hist_merge(struct histogram *dst, const struct histogram *src);

/* Lowest value and width of bucket i. */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_width(unsigned i);
/* The value reported for bucket i: its midpoint (exact below 256 ns). */
uint64_t hist_bucket_value(unsigned i);

/* Nearest-rank percentiles: for each q in qs (0 < q <= 1), the value of the
 * ceil(q * count)-th smallest sample, as its bucket's midpoint clamped to [min, max].
 * qs must be ascending. Requires count > 0. */
/* ceil(q * count), at least 1, at most count. */
uint64_t hist_rank(double q, uint64_t count);

void hist_percentiles(const struct histogram *h, const double *qs, uint64_t *out, unsigned n);

#endif
