#include "report.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "net.h"

/* One record is built as either a JSON object or a text "Label: key=value ..." line. */
struct line {
	bool json;
	FILE *f;
};

static void line_begin(struct line *l, const struct report *r, const char *type,
		       const char *label)
{
	l->json = r->o->json;
	l->f = stdout;
	if (l->json)
		fprintf(l->f, "{\"v\":1,\"type\":\"%s\",\"app\":\"%s\"", type, r->o->applet);
	else
		fprintf(l->f, "%s: app=%s", label, r->o->applet);
}

static void line_key(struct line *l, const char *key)
{
	if (l->json)
		fprintf(l->f, ",\"%s\":", key);
	else
		fprintf(l->f, " %s=", key);
}

static void put_u(struct line *l, const char *key, uint64_t v)
{
	line_key(l, key);
	fprintf(l->f, "%" PRIu64, v);
}

static void put_i(struct line *l, const char *key, int64_t v)
{
	line_key(l, key);
	fprintf(l->f, "%" PRId64, v);
}

static void put_f(struct line *l, const char *key, double v, int decimals)
{
	line_key(l, key);
	fprintf(l->f, "%.*f", decimals, v);
}

static void put_b(struct line *l, const char *key, bool v)
{
	line_key(l, key);
	fputs(v ? "true" : "false", l->f);
}

static void put_null(struct line *l, const char *key)
{
	line_key(l, key);
	fputs("null", l->f);
}

static void put_s(struct line *l, const char *key, const char *s)
{
	line_key(l, key);
	if (!l->json) {
		fputs(s, l->f);
		return;
	}
	fputc('"', l->f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(l->f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(l->f, "\\u%04x", *p);
		else
			fputc(*p, l->f);
	}
	fputc('"', l->f);
}

static void line_end(struct line *l)
{
	fputs(l->json ? "}\n" : "\n", l->f);
}

void report_init(struct report *r, const struct options *o, const char *transport,
		 const char *tx_stamp)
{
	*r = (struct report){ .o = o, .transport = transport, .tx_stamp = tx_stamp };
}

void report_start(struct report *r, double start_wall)
{
	const struct options *o = r->o;
	char ip[INET_ADDRSTRLEN], mac[18];
	struct line l;
	r->start_wall = start_wall;
	line_begin(&l, r, "start", "Start");
	put_s(&l, "transport", r->transport);
	inet_ntop(AF_INET, &o->local_ip, ip, sizeof(ip));
	put_s(&l, "local_ip", ip);
	net_format_mac(o->local_mac, mac);
	put_s(&l, "local_mac", mac);
	inet_ntop(AF_INET, &o->remote_ip, ip, sizeof(ip));
	put_s(&l, "remote_ip", ip);
	net_format_mac(o->remote_mac, mac);
	put_s(&l, "remote_mac", mac);
	put_u(&l, "port", o->port);
	put_u(&l, "rate", o->rate);
	put_u(&l, "pkt_size", o->pkt_size);
	put_u(&l, "burst", o->burst);
	put_b(&l, "blocking", o->blocking);
	put_b(&l, "mmsg", o->mmsg);
	put_b(&l, "consume", o->consume);
	put_b(&l, "deferred", o->deferred);
	if (o->iface)
		put_s(&l, "iface", o->iface);
	else
		put_null(&l, "iface");
	if (r->xdp_mode) { /* fields of the AF_XDP transport only (docs/records.md) */
		put_s(&l, "xdp_mode", r->xdp_mode);
		put_b(&l, "xdp_zerocopy", r->xdp_zerocopy);
	}
	if (o->cpu >= 0)
		put_u(&l, "cpu", (uint64_t)o->cpu);
	else
		put_null(&l, "cpu");
	put_u(&l, "duration", o->duration);
	put_s(&l, "clock", clock_name());
	put_u(&l, "tsc_hz", g_clock.use_tsc ? g_clock.hz : 0);
	if (r->tx_stamp)
		put_s(&l, "tx_stamp", r->tx_stamp);
	else
		put_null(&l, "tx_stamp");
	put_f(&l, "ts", start_wall, 6);
	line_end(&l);
	fflush(stdout);
}

static void put_u_or_null(struct line *l, const char *key, uint64_t v, uint64_t count)
{
	if (count)
		put_u(l, key, v);
	else
		put_null(l, key);
}

static void put_rtt(struct line *l, const struct rtt_stats *s)
{
	static const char *const keys[] = { "rtt_min_ns", "rtt_mean_ns", "rtt_max_ns",
					    "rtt_p50_ns", "rtt_p90_ns", "rtt_p99_ns",
					    "rtt_p999_ns" };
	const uint64_t vals[] = { s->min, s->mean, s->max, s->p50, s->p90, s->p99, s->p999 };
	for (unsigned i = 0; i < 7; i++) {
		if (s->count)
			put_u(l, keys[i], vals[i]);
		else
			put_null(l, keys[i]);
	}
}

/* The counters an applet owns, in the order of docs/records.md. */
static void put_counters(struct line *l, enum role role, const struct counters *c)
{
	switch (role) {
	case ROLE_SEND:
		put_u(l, "attempted", c->attempted);
		put_u(l, "sent", c->sent);
		put_u(l, "dropped", c->dropped);
		break;
	case ROLE_RECV:
		put_u(l, "rx", c->rx);
		put_i(l, "lost", c->lost);
		put_u(l, "reordered", c->reordered);
		put_u(l, "duplicated", c->duplicated);
		break;
	case ROLE_CLIENT:
		put_u(l, "attempted", c->attempted);
		put_u(l, "sent", c->sent);
		put_u(l, "dropped", c->dropped);
		put_u(l, "echoed", c->echoed);
		put_rtt(l, &c->rtt);
		break;
	case ROLE_SERVER:
		put_u(l, "rx", c->rx);
		put_u(l, "tx", c->tx);
		break;
	}
}

/* Text second lines keep the thesis framework's leading numbers. */
static void write_second_text(const struct report *r, const struct second_record *s)
{
	const struct counters *c = &s->c;
	switch (r->o->role) {
	case ROLE_SEND:
		printf("Tx-pps: %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", c->sent, c->dropped,
		       c->attempted);
		break;
	case ROLE_RECV:
		printf("Rx-pps: %" PRIu64 " %" PRId64 " %" PRIu64 " %" PRIu64 "\n", c->rx,
		       c->lost, c->reordered, c->duplicated);
		break;
	case ROLE_CLIENT:
		if (c->echoed)
			printf("Avg delay (us) and rx count: %.3f %" PRIu64 "\n",
			       (double)c->rtt.mean / 1000.0, c->echoed);
		else
			printf("Avg delay (us) and rx count: nan 0\n");
		break;
	case ROLE_SERVER:
		printf("Srv-pps: %" PRIu64 " %" PRIu64 "\n", c->rx, c->tx);
		break;
	}
}

static void write_second(const struct report *r, const struct second_record *s)
{
	if (!r->o->json) {
		write_second_text(r, s);
		return;
	}
	struct line l;
	line_begin(&l, r, "second", "Second");
	put_u(&l, "sec", s->sec);
	put_f(&l, "t", s->t, 6);
	put_f(&l, "ts", s->ts, 6);
	put_counters(&l, r->o->role, &s->c);
	line_end(&l);
}

void report_second(struct report *r, const struct second_record *rec)
{
	r->seconds++;
	if (!r->o->deferred) {
		write_second(r, rec);
		fflush(stdout);
		return;
	}
	if (r->held_count == r->held_cap) {
		unsigned cap = r->held_cap ? r->held_cap * 2 : 64;
		struct second_record *n = realloc(r->held, cap * sizeof(*n));
		if (!n) {
			/* Out of memory: better late records than lost ones. */
			write_second(r, rec);
			return;
		}
		r->held = n;
		r->held_cap = cap;
	}
	r->held[r->held_count++] = *rec;
}

void report_summary(struct report *r, const struct counters *total, double elapsed,
		    const char *reason)
{
	for (unsigned i = 0; i < r->held_count; i++)
		write_second(r, &r->held[i]);
	r->held_count = 0;

	struct line l;
	double secs = elapsed > 0 ? elapsed : 1e-9;
	line_begin(&l, r, "summary", "Summary");
	put_u(&l, "seconds", r->seconds);
	put_f(&l, "elapsed", elapsed, 6);
	put_counters(&l, r->o->role, total);
	if (r->o->role == ROLE_CLIENT) {
		put_u_or_null(&l, "rtt_first_p50_ns", total->rtt_first_p50, total->rtt_first_count);
		put_u_or_null(&l, "rtt_last_p50_ns", total->rtt_last_p50, total->rtt_last_count);
	}
	if (r->o->role == ROLE_SEND || r->o->role == ROLE_CLIENT) {
		put_f(&l, "offered_pps", (double)total->attempted / secs, 3);
		put_f(&l, "sent_pps", (double)total->sent / secs, 3);
	} else {
		put_f(&l, "rx_pps", (double)total->rx / secs, 3);
	}
	put_s(&l, "reason", reason);
	line_end(&l);
	fflush(stdout);
}

void report_hist(struct report *r, const struct histogram *h)
{
	struct line l;
	line_begin(&l, r, "hist", "Hist");
	put_s(&l, "unit", "ns");
	line_key(&l, "buckets");
	bool first = true;
	if (l.json)
		fputc('[', stdout);
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		if (l.json)
			printf("%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",",
			       hist_bucket_value(i), h->buckets[i]);
		else
			printf("%s%" PRIu64 ":%" PRIu64, first ? "" : ",", hist_bucket_value(i),
			       h->buckets[i]);
		first = false;
	}
	if (l.json)
		fputc(']', stdout);
	line_end(&l);
	fflush(stdout);
}

void report_free(struct report *r)
{
	free(r->held);
	r->held = NULL;
}

void rtt_stats_from_hist(struct rtt_stats *s, const struct histogram *h)
{
	static const double qs[4] = { 0.5, 0.9, 0.99, 0.999 };
	uint64_t p[4];
	*s = (struct rtt_stats){ .count = h->count };
	if (!h->count)
		return;
	hist_percentiles(h, qs, p, 4);
	s->min = h->min;
	s->max = h->max;
	s->mean = h->sum / h->count;
	s->p50 = p[0];
	s->p90 = p[1];
	s->p99 = p[2];
	s->p999 = p[3];
}
