/* What the applets share: signals, CPU pinning, the per-second timeline, opening. */
#ifndef ICPERF_APP_H
#define ICPERF_APP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "options.h"
#include "report.h"
#include "transport.h"

extern volatile sig_atomic_t g_stop;

void app_install_signals(void);

/* Pins the calling thread; the CPU was checked by app_open. */
void app_pin(int cpu);

/* Chooses the clock, checks --cpu, opens the transport and pins the (single-threaded)
 * applet: everything that can fail happens here, before the start record. Returns 0 or
 * the exit status after printing one error line. */
int app_open(const struct options *o, struct transport **t, struct report *rep);

/* Seconds on absolute boundaries of the run's start. */
struct run {
	uint64_t start;     /* ticks */
	uint64_t next_tick; /* ticks */
	uint64_t boundary;  /* ticks of the last second boundary passed */
	unsigned sec;
	unsigned duration;
};

void run_begin(struct run *r, unsigned duration);

/* For now >= next_tick: stamps rec (sec, t, ts), moves to the next second and returns
 * whether the duration is over. */
bool run_tick(struct run *r, uint64_t now, struct second_record *rec);

double run_elapsed(const struct run *r, uint64_t now);

void counters_add(struct counters *total, const struct counters *c);

struct report;

/* For now >= next_tick: writes the second's counters, adds them to total, clears them and
 * returns whether the duration is over. */
bool run_close_second(struct run *r, uint64_t now, struct report *rep, struct counters *cur,
		      struct counters *total);

int app_send(const struct options *o);
int app_recv(const struct options *o);
int app_client(const struct options *o);
int app_server(const struct options *o);

#endif
