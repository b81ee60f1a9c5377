#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

void options_usage(FILE *f, const char *applet)
{
	fprintf(f,
		"usage: icperf %s LOCAL_IP LOCAL_MAC REMOTE_IP REMOTE_MAC [options]%s\n"
		"applets: send recv client server\n"
		"  -r RATE      packets per second (default 1000000; send and client)\n"
		"  -p SIZE      Ethernet frame size without FCS, %d..%d bytes (default %d);\n"
		"               the UDP payload is SIZE-%d bytes (14 Ethernet + 20 IPv4 + 8 UDP)\n"
		"  -b BURST     packets per burst, 1..%d (default 32)\n"
		"  -R IFACE     raw AF_PACKET socket on IFACE, headers built in user space\n"
		"  -X IFACE     AF_XDP socket on queue 0 of IFACE, headers built in user space\n"
		"               (-m is implied: every burst is one kick)\n"
		"  -B           blocking sockets\n"
		"  -m           sendmmsg()/recvmmsg() instead of one syscall per packet\n"
		"  -c           write every payload byte on send, read every byte on receive\n"
		"  -s           keep per-second records in memory, print them when the run ends\n"
		"  -t SECONDS   run duration (default 0: until SIGINT/SIGTERM)\n"
		"  --port N     UDP port on both sides (default %d)\n"
		"  --cpu N[,M]  pin to CPU N (client: sender thread on N, receiver thread on M)\n"
		"  --json       JSON lines instead of text records\n"
		"  --clock C    pacing clock: auto (default), tsc or monotonic_raw\n"
		"  -h, --help   this text\n"
		"Records go to standard output (docs/records.md), diagnostics to standard error.\n",
		applet ? applet : "APPLET",
		applet && strncmp(applet, "dpdk-", 5) == 0 ? " [-- EAL args]" : "",
		ICPERF_MIN_FRAME, ICPERF_MAX_FRAME, ICPERF_MIN_FRAME, ICPERF_HDR_LEN,
		ICPERF_MAX_BURST, ICPERF_DEFAULT_PORT);
#ifdef ICPERF_HAVE_DPDK
	if (!applet || strncmp(applet, "dpdk-", 5) == 0)
		fprintf(f,
			"dpdk-send, dpdk-recv, dpdk-client, dpdk-server (EAL arguments after --, "
			"port 0 of what EAL finds):\n"
			"  --ring N     rx and tx descriptors per queue, %d..%d (default %d),\n"
			"               capped by the device\n"
			"  -R, -X, -B, -m  socket options: accepted and ignored\n",
			ICPERF_MIN_RING, ICPERF_MAX_RING, ICPERF_DEFAULT_RING);
#endif
}

static int bad(const char *flag, const char *value, const char *why)
{
	fprintf(stderr, "icperf: %s %s: %s\n", flag, value, why);
	return 2;
}

/* Strict decimal: digits only, no sign, no spaces, no suffix ("12x" is refused). */
static bool parse_decimal(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* Junk and out-of-range values get the same message: it states what is accepted. */
static int parse_range(const char *flag, const char *value, uint64_t min, uint64_t max,
		       const char *what, uint64_t *out)
{
	uint64_t v;
	if (!parse_decimal(value, &v) || v < min || v > max) {
		char why[128];
		snprintf(why, sizeof(why), "%s must be a whole number in %" PRIu64 "..%" PRIu64,
			 what, min, max);
		return bad(flag, value, why);
	}
	*out = v;
	return 0;
}

static int parse_cpus(const char *value, struct options *o)
{
	char buf[64];
	if (strlen(value) >= sizeof(buf))
		return bad("--cpu", value, "expected N or N,M");
	strcpy(buf, value);
	char *second = strchr(buf, ',');
	if (second)
		*second++ = '\0';
	uint64_t a, b;
	if (!parse_decimal(buf, &a) || a >= 1024 ||
	    (second && (!parse_decimal(second, &b) || b >= 1024)))
		return bad("--cpu", value, "expected N or N,M with CPU numbers 0..1023");
	o->cpu = (int)a;
	o->cpu_rx = second ? (int)b : -1;
	return 0;
}

enum { OPT_CPU = 256, OPT_JSON, OPT_PORT, OPT_CLOCK, OPT_RING };

static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "clock", required_argument, NULL, OPT_CLOCK },
	{ "ring", required_argument, NULL, OPT_RING },
	{ NULL, 0, NULL, 0 },
};

static int parse_flag(int c, const char *arg, struct options *o)
{
	uint64_t v;
	int rc = 0;
	switch (c) {
	case 'r':
		rc = parse_range("-r", arg, 1, ICPERF_MAX_RATE, "rate in packets/s", &o->rate);
		break;
	case 'p':
		rc = parse_range("-p", arg, ICPERF_MIN_FRAME, ICPERF_MAX_FRAME, "frame size", &v);
		o->pkt_size = (unsigned)v;
		break;
	case 'b':
		rc = parse_range("-b", arg, 1, ICPERF_MAX_BURST, "burst", &v);
		o->burst = (unsigned)v;
		break;
	case 't':
		rc = parse_range("-t", arg, 0, 31536000, "duration in seconds", &v);
		o->duration = (unsigned)v;
		break;
	case OPT_PORT:
		rc = parse_range("--port", arg, 1, 65535, "port", &v);
		o->port = (unsigned)v;
		break;
	case 'R':
	case 'X': {
		const char *flag = c == 'R' ? "-R" : "-X";
		if (!*arg || strlen(arg) >= 16)
			return bad(flag, arg, "interface name must be 1..15 characters");
		if (o->iface && o->xdp != (c == 'X'))
			return bad(flag, arg, "-R and -X are two transports: give one of them");
		o->iface = arg;
		o->xdp = c == 'X';
		break;
	}
	case 'B': o->blocking = true; break;
	case 'm': o->mmsg = true; break;
	case 'c': o->consume = true; break;
	case 's': o->deferred = true; break;
	case OPT_JSON: o->json = true; break;
	case OPT_CPU:
		rc = parse_cpus(arg, o);
		break;
	case OPT_RING:
		if (o->transport != TRANSPORT_DPDK)
			return bad("--ring", arg, "only the dpdk-* applets have descriptor rings");
		rc = parse_range("--ring", arg, ICPERF_MIN_RING, ICPERF_MAX_RING,
				 "descriptors per queue", &v);
		o->ring = (unsigned)v;
		break;
	case OPT_CLOCK:
		if (!strcmp(arg, "auto"))
			o->clock = CLOCK_CHOICE_AUTO;
		else if (!strcmp(arg, "tsc"))
			o->clock = CLOCK_CHOICE_TSC;
		else if (!strcmp(arg, "monotonic_raw"))
			o->clock = CLOCK_CHOICE_MONOTONIC_RAW;
		else
			return bad("--clock", arg, "expected auto, tsc or monotonic_raw");
		break;
	}
	return rc;
}

static int parse_positional(char **pos, struct options *o)
{
	if (!net_parse_ipv4(pos[0], &o->local_ip))
		return bad("LOCAL_IP", pos[0], "not an IPv4 address");
	if (!net_parse_mac(pos[1], o->local_mac))
		return bad("LOCAL_MAC", pos[1], "not a MAC address (aa:bb:cc:dd:ee:ff)");
	if (!net_parse_ipv4(pos[2], &o->remote_ip))
		return bad("REMOTE_IP", pos[2], "not an IPv4 address");
	if (!net_parse_mac(pos[3], o->remote_mac))
		return bad("REMOTE_MAC", pos[3], "not a MAC address (aa:bb:cc:dd:ee:ff)");
	return 0;
}

int options_parse(struct options *o, const char *applet, enum role role, bool dpdk,
		  int argc, char **argv)
{
	*o = (struct options){
		.applet = applet, .role = role,
		.transport = dpdk ? TRANSPORT_DPDK : TRANSPORT_UDP,
		.rate = 1000000, .pkt_size = ICPERF_MIN_FRAME, .burst = 32,
		.port = ICPERF_DEFAULT_PORT, .cpu = -1, .cpu_rx = -1,
		.ring = ICPERF_DEFAULT_RING,
	};

	/* GNU getopt drops "--" while permuting, so split the EAL arguments off first. */
	int opt_argc = argc;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			opt_argc = i;
			o->extra_argc = argc - i - 1;
			o->extra_argv = argv + i + 1;
			break;
		}
	}

	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(opt_argc, argv, ":r:p:b:R:X:Bmcst:h", long_options, NULL)) != -1) {
		if (c == 'h') {
			options_usage(stdout, applet);
			return -1;
		}
		if (c == '?' || c == ':') {
			const char *flag = argv[optind - 1];
			char shortflag[3] = { '-', (char)optopt, '\0' };
			if (optopt && strncmp(flag, "--", 2) != 0)
				flag = shortflag;
			fprintf(stderr, "icperf: %s: %s (see icperf %s --help)\n", flag,
				c == ':' ? "missing value" : "unknown option", applet);
			return 2;
		}
		int rc = parse_flag(c, optarg, o);
		if (rc)
			return rc;
	}

	int npos = opt_argc - optind;
	if (npos != 4) {
		if (npos > 4) {
			fprintf(stderr, "icperf: %s: unexpected argument (see icperf %s --help)\n",
				argv[optind + 4], applet);
			return 2;
		}
		fprintf(stderr,
			"icperf: %s: expected LOCAL_IP LOCAL_MAC REMOTE_IP REMOTE_MAC, got %d "
			"argument(s) (see icperf %s --help)\n", applet, npos, applet);
		return 2;
	}
	if (dpdk) { /* socket options are ignored by the DPDK applets, also in the records */
		o->iface = NULL;
		o->xdp = o->blocking = o->mmsg = false;
	} else if (o->xdp) {
		o->transport = TRANSPORT_XDP;
		o->mmsg = false; /* the rings move whole bursts anyway: there is nothing to choose */
	} else if (o->iface) {
		o->transport = TRANSPORT_RAW;
	}
	return parse_positional(argv + optind, o);
}
