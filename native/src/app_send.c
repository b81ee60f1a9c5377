/* send: paced bursts of sequence-numbered, timestamped packets (thesis 4.2.1). */
#include <inttypes.h>
#include <stdio.h>

#include "app.h"
#include "clock.h"
#include "pacer.h"
#include "payload.h"

int app_send(const struct options *o)
{
	struct transport *t;
	struct report rep;
	int rc = app_open(o, &t, &rep);
	if (rc)
		return rc;

	const payload_fill_fn fill = payload_filler(o->consume);
	const unsigned burst = o->burst;
	const uint32_t plen = t->payload_len;
	struct counters cur = { 0 }, total = { 0 };
	struct run run;
	struct pacer pacer;
	uint64_t seq = 0, now;
	bool by_duration = false;

	report_start(&rep, clock_wall());
	run_begin(&run, o->duration);
	pacer_init(&pacer, run.start, g_clock.hz, o->rate, burst);
	/* A burst belongs to the second its deadline falls in: due bursts go before the tick,
	 * so each second's "attempted" is what the pacer scheduled in it. */
	while (!g_stop) { /* read on every pass: a sender that cannot keep up is never idle */
		now = clock_ticks();
		if (now >= pacer.deadline)
			pacer_check_lag(&pacer, now);
		if (now >= pacer.deadline && pacer.deadline < run.next_tick) {
			unsigned n = tx_prepare(t, burst);
			uint64_t ts = clock_ticks_to_ns(now);
			for (unsigned i = 0; i < n; i++)
				fill(t->tx_payload[i], plen, seq + i, ts);
			unsigned k = tx_commit(t, n);
			/* Numbers of packets the transport refused are reused: the receiver's
			 * "lost" then counts only what went missing after the sender. */
			seq += k;
			cur.attempted += burst;
			cur.sent += k;
			pacer_next(&pacer);
			continue;
		}
		if (now >= run.next_tick) {
			cur.dropped = cur.attempted - cur.sent;
			if (run_close_second(&run, now, &rep, &cur, &total)) {
				by_duration = true;
				break;
			}
			continue;
		}
		cpu_relax();
	}
	/* Every burst due before this point was attempted: the schedule covered exactly the
	 * duration, or up to the signal. */
	uint64_t end = by_duration ? run.boundary : clock_ticks();
	cur.dropped = cur.attempted - cur.sent;
	counters_add(&total, &cur);
	report_summary(&rep, &total, run_elapsed(&run, end),
		       by_duration ? "duration" : "signal");
	if (pacer.skipped)
		fprintf(stderr, "icperf: the sender fell behind the rate: %" PRIu64
			" bursts (%" PRIu64 " packets) were skipped, not attempted\n",
			pacer.skipped, pacer.skipped * burst);
	transport_close(t);
	report_free(&rep);
	return 0;
}
