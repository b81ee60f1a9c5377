/* Records on standard output, in the text or JSON form of docs/records.md. */
#ifndef ICPERF_REPORT_H
#define ICPERF_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "histogram.h"
#include "options.h"

struct rtt_stats {
	uint64_t count;
	uint64_t min, mean, max, p50, p90, p99, p999; /* ns */
};

/* Counters of one second or of the whole run; each applet fills the ones it owns. */
struct counters {
	uint64_t attempted, sent, dropped; /* send, client */
	uint64_t rx;                       /* recv, server */
	int64_t lost;                      /* recv (net, see seqtrack.h) */
	uint64_t reordered, duplicated;    /* recv */
	uint64_t tx;                       /* server */
	uint64_t echoed;                   /* client */
	struct rtt_stats rtt;              /* client */
	/* Client summary only: medians of the first and the last packet of each burst (a
	 * count of 0 writes null). */
	uint64_t rtt_first_count, rtt_first_p50, rtt_last_count, rtt_last_p50;
};

struct second_record {
	unsigned sec;
	double t, ts;
	struct counters c;
};

struct report {
	const struct options *o;
	const char *transport;
	const char *tx_stamp; /* NULL for applets that do not timestamp what they send */
	const char *xdp_mode; /* -X: the XDP hook, "native" or "generic"; NULL otherwise */
	bool xdp_zerocopy;
	double start_wall;
	unsigned seconds;
	/* -s: records held until the run ends */
	struct second_record *held;
	unsigned held_count, held_cap;
};

void report_init(struct report *r, const struct options *o, const char *transport,
		 const char *tx_stamp);
void report_start(struct report *r, double start_wall);
void report_second(struct report *r, const struct second_record *rec);
/* Writes the held seconds (with -s), then the summary. */
void report_summary(struct report *r, const struct counters *total, double elapsed,
		    const char *reason);
void report_hist(struct report *r, const struct histogram *h);
void report_free(struct report *r);

/* Fills s from h (s->count = 0 when h is empty). */
void rtt_stats_from_hist(struct rtt_stats *s, const struct histogram *h);

#endif
