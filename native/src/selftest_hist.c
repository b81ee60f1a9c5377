#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "selftest.h"

#define SAMPLES 200000
#define MAX_REL_ERR 0.01

static uint64_t rng_state = 0x1c9e7f00d5eedULL;

/* splitmix64 */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t uniform(uint64_t lo, uint64_t hi)
{
	return lo + rng() % (hi - lo + 1);
}

static uint64_t uniform_us(void)
{
	return uniform(1000, 100000);
}

/* 100 ns .. ~13 s, equally many samples per power of two: exercises every bucket group. */
static uint64_t log_uniform(void)
{
	unsigned e = (unsigned)(rng() % 27);
	uint64_t base = 100ULL << e;
	return base + rng() % base;
}

static uint64_t bimodal(void)
{
	return rng() % 10 ? uniform(19000, 21000) : uniform(4900000, 5100000);
}

static uint64_t constant(void)
{
	return 12345;
}

static uint64_t small(void)
{
	return uniform(0, 511);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool check_structure(void)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		uint64_t lo = hist_bucket_low(i), w = hist_bucket_width(i);
		if (hist_index(lo) != i || hist_index(lo + w - 1) != i ||
		    (i + 1 < HIST_BUCKETS && hist_bucket_low(i + 1) != lo + w) ||
		    (lo >= HIST_LINEAR_MAX && w * 128 > lo)) {
			printf("structure: bucket %u [%" PRIu64 ", +%" PRIu64 ") FAIL\n", i, lo, w);
			return false;
		}
	}
	uint64_t top = hist_bucket_low(HIST_BUCKETS - 1) + hist_bucket_width(HIST_BUCKETS - 1);
	bool ok = top == 1ULL << HIST_MAX_BITS && hist_index(UINT64_MAX) == HIST_BUCKETS - 1;
	printf("structure: %u buckets, contiguous up to %" PRIu64 " ns %s\n", HIST_BUCKETS, top,
	       ok ? "ok" : "FAIL");
	return ok;
}

static bool check_distribution(const char *name, uint64_t (*gen)(void), uint64_t *v,
			       struct histogram *h, struct histogram *halves)
{
	static const double qs[] = { 0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0 };
	const unsigned nq = sizeof(qs) / sizeof(qs[0]);
	uint64_t got[sizeof(qs) / sizeof(qs[0])];

	hist_reset(h);
	hist_reset(&halves[0]);
	hist_reset(&halves[1]);
	for (unsigned i = 0; i < SAMPLES; i++) {
		v[i] = gen();
		hist_record(h, v[i]);
		hist_record(&halves[i % 2], v[i]);
	}
	hist_merge(&halves[0], &halves[1]);
	bool merge_ok = !memcmp(halves[0].buckets, h->buckets, sizeof(h->buckets)) &&
			halves[0].count == h->count && halves[0].min == h->min &&
			halves[0].max == h->max && halves[0].sum == h->sum;

	qsort(v, SAMPLES, sizeof(v[0]), cmp_u64);
	hist_percentiles(h, qs, got, nq);
	double worst = 0;
	for (unsigned k = 0; k < nq; k++) {
		uint64_t exact = v[hist_rank(qs[k], SAMPLES) - 1];
		double err = exact ? (double)(got[k] > exact ? got[k] - exact : exact - got[k]) /
					     (double)exact
				   : (got[k] ? 1.0 : 0.0);
		if (err > worst)
			worst = err;
	}
	bool ok = worst <= MAX_REL_ERR && merge_ok;
	printf("%s: n=%u max_rel_err=%.5f merge=%s %s\n", name, SAMPLES, worst,
	       merge_ok ? "ok" : "FAIL", ok ? "ok" : "FAIL");
	return ok;
}

static int builtin_checks(void)
{
	uint64_t *v = malloc(SAMPLES * sizeof(*v));
	struct histogram *h = malloc(3 * sizeof(*h));
	if (!v || !h) {
		fprintf(stderr, "icperf: selftest-hist: out of memory\n");
		free(v);
		free(h);
		return 1;
	}
	static const struct {
		const char *name;
		uint64_t (*gen)(void);
	} dists[] = {
		{ "uniform 1us..100us", uniform_us },
		{ "log-uniform 100ns..13s", log_uniform },
		{ "bimodal 20us/5ms", bimodal },
		{ "constant 12345ns", constant },
		{ "small 0..511ns", small },
	};
	bool ok = check_structure();
	for (size_t i = 0; i < sizeof(dists) / sizeof(dists[0]); i++)
		ok &= check_distribution(dists[i].name, dists[i].gen, v, h, h + 1);
	printf("%s\n", ok ? "selftest-hist: all ok" : "selftest-hist: FAILED");
	free(v);
	free(h);
	return ok ? 0 : 1;
}

static int from_stdin(void)
{
	struct histogram *h = malloc(sizeof(*h));
	if (!h)
		return 1;
	hist_reset(h);
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		char *end;
		uint64_t x = strtoull(line, &end, 10);
		if (end != line)
			hist_record(h, x);
	}
	if (!h->count) {
		fprintf(stderr, "icperf: selftest-hist -: no values on standard input\n");
		free(h);
		return 1;
	}
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	uint64_t p[4];
	hist_percentiles(h, qs, p, 4);
	printf("{\"count\":%" PRIu64 ",\"min\":%" PRIu64 ",\"mean\":%" PRIu64 ",\"max\":%" PRIu64
	       ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64
	       ",\"buckets\":[", h->count, h->min, h->sum / h->count, h->max, p[0], p[1], p[2],
	       p[3]);
	bool first = true;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		printf("%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", hist_bucket_value(i),
		       h->buckets[i]);
		first = false;
	}
	printf("]}\n");
	free(h);
	return 0;
}

int selftest_hist(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "-"))
		return from_stdin();
	if (argc != 1) {
		fprintf(stderr, "icperf: selftest-hist %s: expected no argument or \"-\"\n", argv[1]);
		return 2;
	}
	return builtin_checks();
}
