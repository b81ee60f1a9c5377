/* Command-line options shared by every applet (thesis Table 4.1). */
#ifndef ICPERF_OPTIONS_H
#define ICPERF_OPTIONS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ICPERF_HDR_LEN 42 /* Ethernet 14 + IPv4 20 + UDP 8 */
#define ICPERF_MIN_FRAME 64
#define ICPERF_MAX_FRAME 1500
#define ICPERF_MAX_BURST 1024
#define ICPERF_MAX_RATE 1000000000ULL
#define ICPERF_DEFAULT_PORT 9000
#define ICPERF_DEFAULT_RING 1024
#define ICPERF_MIN_RING 64
#define ICPERF_MAX_RING 32768

enum role { ROLE_SEND, ROLE_RECV, ROLE_CLIENT, ROLE_SERVER };

enum transport_kind { TRANSPORT_UDP, TRANSPORT_RAW, TRANSPORT_XDP, TRANSPORT_DPDK };

enum clock_choice { CLOCK_CHOICE_AUTO, CLOCK_CHOICE_TSC, CLOCK_CHOICE_MONOTONIC_RAW };

struct options {
	const char *applet; /* name as invoked: "send", "dpdk-recv", ... */
	enum role role;
	enum transport_kind transport;

	struct in_addr local_ip, remote_ip;
	uint8_t local_mac[6], remote_mac[6];

	uint64_t rate;       /* packets per second */
	unsigned pkt_size;   /* Ethernet frame bytes without FCS */
	unsigned burst;
	unsigned port;
	unsigned duration;   /* seconds, 0 = until a signal */
	const char *iface;   /* -R or -X, NULL for UDP sockets */
	bool xdp;            /* iface is -X's: an AF_XDP socket, not AF_PACKET */
	bool blocking, mmsg, consume, deferred, json;
	int cpu;             /* --cpu first CPU, -1 if not pinned */
	int cpu_rx;          /* --cpu second CPU (client receiver thread), -1 if none */
	enum clock_choice clock;
	unsigned ring;       /* --ring: DPDK descriptors per queue, before the device's limits */

	/* Arguments after "--": EAL arguments for the DPDK transport, ignored by sockets. */
	int extra_argc;
	char **extra_argv;
};

/* Parse argv (argv[0] is the applet name). Returns 0 on success, -1 when help was printed
 * (exit 0), or 2 after printing one error line naming the offending flag and value. */
int options_parse(struct options *o, const char *applet, enum role role, bool dpdk,
		  int argc, char **argv);

void options_usage(FILE *f, const char *applet);

/* Payload bytes carried by each frame. */
static inline unsigned options_payload_len(const struct options *o)
{
	return o->pkt_size - ICPERF_HDR_LEN;
}

#endif
