/* client: a sender thread paces bursts to a server, the receiving thread times each echo
 * on the shared clock and writes the records (thesis 4.2.5). With an invariant TSC both
 * threads read the same time base on any core, so no clock thread is needed. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "pacer.h"
#include "payload.h"

/* After the last burst, echoes still in flight are awaited this long. */
#define DRAIN_NS 50000000ULL

struct client_tx {
	const struct options *o;
	struct transport *t;
	uint64_t start;
	uint64_t end; /* ticks: no burst is due at or after this (UINT64_MAX without -t) */
	_Atomic uint64_t attempted, sent; /* cumulative, written by the sender only */
	atomic_bool stop;
	uint64_t skipped;
};

static void *sender_main(void *arg)
{
	struct client_tx *tx = arg;
	struct transport *t = tx->t;
	const unsigned burst = tx->o->burst;
	const uint32_t plen = t->payload_len;
	const payload_fill_fn fill = payload_filler(tx->o->consume);
	uint64_t attempted = 0, sent = 0, seq = 0;
	struct pacer pacer;

	if (tx->o->cpu >= 0)
		app_pin(tx->o->cpu);
	pacer_init(&pacer, tx->start, g_clock.hz, tx->o->rate, burst);
	/* The stop flag is read on every pass: a sender that cannot keep up is never idle. */
	while (pacer.deadline < tx->end && !atomic_load_explicit(&tx->stop, memory_order_relaxed)) {
		uint64_t now = clock_ticks();
		if (now < pacer.deadline) {
			cpu_relax();
			continue;
		}
		pacer_check_lag(&pacer, now);
		if (pacer.deadline >= tx->end)
			break;
		unsigned n = tx_prepare(t, burst);
		for (unsigned i = 0; i < n; i++)
			fill(t->tx_payload[i], plen, seq + i, 0);
		/* Stamps each packet as it leaves (or the burst, where one call sends it). */
		unsigned k = tx_commit_stamped(t, n);
		seq += k;
		attempted += burst;
		sent += k;
		pacer_next(&pacer);
		atomic_store_explicit(&tx->attempted, attempted, memory_order_relaxed);
		atomic_store_explicit(&tx->sent, sent, memory_order_relaxed);
	}
	tx->skipped = pacer.skipped;
	return NULL;
}

struct client_rx {
	struct histogram *second, *whole;
	/* The whole run's RTTs of the first and of the last packet of each burst: their
	 * difference is what the position in a burst adds to an RTT. */
	struct histogram *first, *last;
	uint64_t burst;
	uint64_t echoed;  /* this second */
	uint64_t seen_attempted, seen_sent;
};

static void receive_echoes(struct transport *t, struct client_rx *rx)
{
	unsigned n = rx_burst(t);
	if (!n)
		return;
	uint64_t now = clock_now_ns();
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = t->rx_payload[i];
		uint64_t sent_at = payload_ts(p);
		uint64_t rtt = now > sent_at ? now - sent_at : 0;
		hist_record(rx->second, rtt);
		/* Numbers are consecutive from 0 over the packets sent, so this is the position
		 * in the burst for as long as the sender drops nothing. */
		uint64_t pos = payload_seq(p) % rx->burst;
		if (pos == 0)
			hist_record(rx->first, rtt);
		if (pos == rx->burst - 1)
			hist_record(rx->last, rtt);
	}
	rx->echoed += n;
	rx_release(t, n);
}

/* Takes the counters since the last call into c and folds the second's RTTs into whole. */
static void take_interval(struct client_tx *tx, struct client_rx *rx, struct counters *c)
{
	uint64_t a = atomic_load_explicit(&tx->attempted, memory_order_relaxed);
	uint64_t s = atomic_load_explicit(&tx->sent, memory_order_relaxed);
	*c = (struct counters){ .attempted = a - rx->seen_attempted, .sent = s - rx->seen_sent,
				.echoed = rx->echoed };
	c->dropped = c->attempted - c->sent;
	rx->seen_attempted = a;
	rx->seen_sent = s;
	rx->echoed = 0;
	rtt_stats_from_hist(&c->rtt, rx->second);
	hist_merge(rx->whole, rx->second);
	hist_reset(rx->second);
}

static int client_run(const struct options *o, struct transport *t, struct report *rep,
		      struct client_rx *rx)
{
	struct client_tx tx = { .o = o, .t = t };
	struct counters cur, total = { 0 };
	struct run run;
	bool by_duration = false;
	sigset_t block, old;

	/* Signals go to this thread, whose blocking receive they interrupt. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	run_begin(&run, o->duration);
	tx.start = run.start;
	tx.end = o->duration ? run.start + (uint64_t)o->duration * g_clock.hz : UINT64_MAX;
	pthread_t sender;
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int err = pthread_create(&sender, NULL, sender_main, &tx);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		fprintf(stderr, "icperf: client: cannot start the sender thread: %s\n",
			strerror(err));
		return 1;
	}
	report_start(rep, clock_wall());
	struct second_record last;
	for (;;) {
		receive_echoes(t, rx);
		uint64_t now = clock_ticks();
		if (now >= run.next_tick) {
			bool over = run_tick(&run, now, &last);
			if (over) {
				/* The last second is written after the drain below, with the echoes
				 * of its own packets: the seconds of a -t run add up to the summary. */
				by_duration = true;
				break;
			}
			take_interval(&tx, rx, &cur);
			last.c = cur;
			report_second(rep, &last);
			counters_add(&total, &cur);
		}
		if (g_stop)
			break;
	}
	/* At the end of -t the sender stops by itself after the last burst due before it. */
	uint64_t end = by_duration ? run.boundary : clock_ticks();
	if (!by_duration)
		atomic_store(&tx.stop, true);
	pthread_join(sender, NULL);

	uint64_t sent = atomic_load(&tx.sent);
	uint64_t drain_end = clock_ticks() + clock_ns_to_ticks(DRAIN_NS);
	while (total.echoed + rx->echoed < sent && clock_ticks() < drain_end)
		receive_echoes(t, rx);
	take_interval(&tx, rx, &cur);
	if (by_duration) {
		last.t = run_elapsed(&run, clock_ticks());
		last.ts = clock_wall();
		last.c = cur;
		report_second(rep, &last);
	}
	/* After a signal the unfinished second is counted in the summary only. */
	counters_add(&total, &cur);
	rtt_stats_from_hist(&total.rtt, rx->whole);
	struct rtt_stats first, final;
	rtt_stats_from_hist(&first, rx->first);
	rtt_stats_from_hist(&final, rx->last);
	total.rtt_first_count = first.count;
	total.rtt_first_p50 = first.p50;
	total.rtt_last_count = final.count;
	total.rtt_last_p50 = final.p50;
	report_summary(rep, &total, run_elapsed(&run, end), by_duration ? "duration" : "signal");
	report_hist(rep, rx->whole);
	if (tx.skipped)
		fprintf(stderr, "icperf: the sender fell behind the rate: %" PRIu64
			" bursts (%" PRIu64 " packets) were skipped, not attempted\n",
			tx.skipped, tx.skipped * o->burst);
	return 0;
}

int app_client(const struct options *o)
{
	struct histogram *h = malloc(4 * sizeof(*h));
	if (!h) {
		fprintf(stderr, "icperf: client: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < 4; i++)
		hist_reset(&h[i]);
	struct client_rx rx = { .second = &h[0], .whole = &h[1], .first = &h[2], .last = &h[3],
				.burst = o->burst };
	struct transport *t;
	struct report rep;
	int rc = app_open(o, &t, &rep);
	if (!rc) {
		if (o->cpu_rx >= 0)
			app_pin(o->cpu_rx);
		rc = client_run(o, t, &rep, &rx);
		transport_close(t);
		report_free(&rep);
	}
	free(h);
	return rc;
}
