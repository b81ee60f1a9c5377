/* server: echoes every icperf packet back as fast as it can (thesis 4.2.6). */
#include "app.h"
#include "clock.h"

int app_server(const struct options *o)
{
	struct transport *t;
	struct report rep;
	int rc = app_open(o, &t, &rep);
	if (rc)
		return rc;

	struct counters cur = { 0 }, total = { 0 };
	struct run run;
	uint64_t now;
	const char *reason = "signal";

	report_start(&rep, clock_wall());
	run_begin(&run, o->duration);
	for (;;) {
		unsigned n = rx_burst(t);
		if (n) {
			cur.tx += transport_echo(t, n);
			cur.rx += n;
			rx_release(t, n);
		}
		now = clock_ticks();
		if (now >= run.next_tick) {
			if (run_close_second(&run, now, &rep, &cur, &total)) {
				reason = "duration";
				break;
			}
		}
		if (g_stop)
			break;
	}
	now = clock_ticks();
	counters_add(&total, &cur);
	report_summary(&rep, &total, run_elapsed(&run, now), reason);
	transport_close(t);
	report_free(&rep);
	return 0;
}
