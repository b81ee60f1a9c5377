#include "histogram.h"

#include <string.h>

void hist_reset(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_merge(struct histogram *dst, const struct histogram *src)
{
	if (!src->count)
		return;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_bucket_low(unsigned i)
{
	if (i < HIST_LINEAR_MAX)
		return i;
	unsigned k = i - HIST_LINEAR_MAX;
	unsigned shift = k / HIST_SUB_COUNT + 1;
	uint64_t mant = HIST_SUB_COUNT + k % HIST_SUB_COUNT;
	return mant << shift;
}

uint64_t hist_bucket_width(unsigned i)
{
	if (i < HIST_LINEAR_MAX)
		return 1;
	return 1ULL << ((i - HIST_LINEAR_MAX) / HIST_SUB_COUNT + 1);
}

uint64_t hist_bucket_value(unsigned i)
{
	return hist_bucket_low(i) + hist_bucket_width(i) / 2;
}

uint64_t hist_rank(double q, uint64_t count)
{
	double x = q * (double)count;
	/* 0.9 * 10 is 9.000000000000002 in binary floating point: shave the rounding error. */
	double target = x - x * 1e-12;
	uint64_t rank = (uint64_t)target;
	if ((double)rank < target)
		rank++;
	if (rank < 1)
		rank = 1;
	return rank > count ? count : rank;
}

void hist_percentiles(const struct histogram *h, const double *qs, uint64_t *out, unsigned n)
{
	uint64_t seen = 0;
	unsigned b = 0;
	for (unsigned k = 0; k < n; k++) {
		uint64_t rank = hist_rank(qs[k], h->count);
		while (b < HIST_BUCKETS && seen + h->buckets[b] < rank)
			seen += h->buckets[b++];
		uint64_t v = b < HIST_BUCKETS ? hist_bucket_value(b) : h->max;
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		out[k] = v;
	}
}
