#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "clock.h"

volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

void app_install_signals(void)
{
	/* No SA_RESTART: a blocking call returns EINTR and the loop sees the flag at once. */
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int check_cpu(const char *flagval, int cpu)
{
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return 0;
	if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) {
		fprintf(stderr, "icperf: --cpu %s: CPU %d is not available to this process\n",
			flagval, cpu);
		return 1;
	}
	return 0;
}

void app_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		fprintf(stderr, "icperf: --cpu: pinning to CPU %d failed: %s\n", cpu, strerror(err));
}

/* The client stamps through tx_commit_stamped; send stamps a burst once, when it takes the
 * burst up (only the spacing of bursts matters to it); receivers send no stamps of their own. */
static const char *tx_stamp_of(const struct options *o, const struct transport *t)
{
	switch (o->role) {
	case ROLE_CLIENT:
		return t->tx_stamp;
	case ROLE_SEND:
		return "per-burst";
	case ROLE_RECV:
	case ROLE_SERVER:
		break;
	}
	return NULL;
}

int app_open(const struct options *o, struct transport **t, struct report *rep)
{
	char flagval[32];
	if (o->cpu_rx >= 0)
		snprintf(flagval, sizeof(flagval), "%d,%d", o->cpu, o->cpu_rx);
	else
		snprintf(flagval, sizeof(flagval), "%d", o->cpu);
	if ((o->cpu >= 0 && check_cpu(flagval, o->cpu)) ||
	    (o->cpu_rx >= 0 && check_cpu(flagval, o->cpu_rx)))
		return 1;
	int rc = clock_init(o->clock);
	if (rc)
		return rc;
	rc = transport_open(o, t);
	if (rc)
		return rc;
	report_init(rep, o, (*t)->ops->name, tx_stamp_of(o, *t));
	rep->xdp_mode = (*t)->xdp_mode;
	rep->xdp_zerocopy = (*t)->xdp_zerocopy;
	if (o->cpu >= 0 && o->role != ROLE_CLIENT)
		app_pin(o->cpu);
	return 0;
}

void run_begin(struct run *r, unsigned duration)
{
	r->start = clock_ticks();
	r->next_tick = r->start + g_clock.hz;
	r->boundary = r->start;
	r->sec = 0;
	r->duration = duration;
}

bool run_tick(struct run *r, uint64_t now, struct second_record *rec)
{
	r->sec++;
	rec->sec = r->sec;
	rec->t = run_elapsed(r, now);
	rec->ts = clock_wall();
	r->boundary = r->next_tick;
	r->next_tick = r->start + (uint64_t)(r->sec + 1) * g_clock.hz;
	return r->duration && r->sec >= r->duration;
}

bool run_close_second(struct run *r, uint64_t now, struct report *rep, struct counters *cur,
		      struct counters *total)
{
	struct second_record rec;
	bool over = run_tick(r, now, &rec);
	rec.c = *cur;
	report_second(rep, &rec);
	counters_add(total, cur);
	*cur = (struct counters){ 0 };
	return over;
}

double run_elapsed(const struct run *r, uint64_t now)
{
	return (double)(now - r->start) / (double)g_clock.hz;
}

void counters_add(struct counters *total, const struct counters *c)
{
	total->attempted += c->attempted;
	total->sent += c->sent;
	total->dropped += c->dropped;
	total->rx += c->rx;
	total->lost += c->lost;
	total->reordered += c->reordered;
	total->duplicated += c->duplicated;
	total->tx += c->tx;
	total->echoed += c->echoed;
}
