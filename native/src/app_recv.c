/* recv: counts what send delivers, with loss/reorder/duplicate accounting (thesis 4.2.2). */
#include <stdlib.h>
#include <stdio.h>

#include "app.h"
#include "clock.h"
#include "payload.h"
#include "seqtrack.h"

/* Where the -c sums go, so the reads cannot be optimised away. */
volatile uint64_t g_payload_sink;

static void take_seq_counts(struct counters *cur, struct seq_counts *sc)
{
	cur->lost = sc->lost;
	cur->reordered = sc->reordered;
	cur->duplicated = sc->duplicated;
	*sc = (struct seq_counts){ 0 };
}

int app_recv(const struct options *o)
{
	struct seqtrack *st = malloc(sizeof(*st));
	if (!st) {
		fprintf(stderr, "icperf: recv: out of memory\n");
		return 1;
	}
	seqtrack_init(st);
	struct transport *t;
	struct report rep;
	int rc = app_open(o, &t, &rep);
	if (rc) {
		free(st);
		return rc;
	}

	const payload_read_fn read = payload_reader(o->consume);
	struct counters cur = { 0 }, total = { 0 };
	struct seq_counts sc = { 0 };
	struct run run;
	uint64_t sink = 0, now;
	const char *reason = "signal";

	report_start(&rep, clock_wall());
	run_begin(&run, o->duration);
	for (;;) {
		unsigned n = rx_burst(t);
		for (unsigned i = 0; i < n; i++) {
			seqtrack_observe(st, payload_seq(t->rx_payload[i]), &sc);
			sink += read(t->rx_payload[i], t->rx_len[i]);
		}
		cur.rx += n;
		rx_release(t, n);
		now = clock_ticks();
		if (now >= run.next_tick) {
			take_seq_counts(&cur, &sc);
			if (run_close_second(&run, now, &rep, &cur, &total)) {
				reason = "duration";
				break;
			}
		}
		if (g_stop)
			break;
	}
	now = clock_ticks();
	take_seq_counts(&cur, &sc);
	counters_add(&total, &cur);
	report_summary(&rep, &total, run_elapsed(&run, now), reason);
	g_payload_sink = sink;
	transport_close(t);
	report_free(&rep);
	free(st);
	return 0;
}
