/* Checks run by `make check` and the tests; not an applet for measurements. */
#ifndef ICPERF_SELFTEST_H
#define ICPERF_SELFTEST_H

/* icperf selftest-hist      built-in accuracy checks of the histogram, exit 0 when all pass
 * icperf selftest-hist -    histogram of the ns values on stdin (one per line), as one JSON
 *                           object with count, min, mean, max, p50, p90, p99, p999, buckets */
int selftest_hist(int argc, char **argv);

#endif
