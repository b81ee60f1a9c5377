#include "transport.h"

#include <stdio.h>

int transport_open(const struct options *o, struct transport **out)
{
	switch (o->transport) {
	case TRANSPORT_UDP:
		return transport_udp_open(o, out);
	case TRANSPORT_RAW:
		return transport_raw_open(o, out);
	case TRANSPORT_XDP:
#ifdef ICPERF_HAVE_XDP
		return transport_xdp_open(o, out);
#else
		fprintf(stderr, "icperf: -X %s: this build has no AF_XDP support (build with "
			"libxdp, libbpf and clang installed)\n", o->iface);
		return 1;
#endif
	case TRANSPORT_DPDK:
#ifdef ICPERF_HAVE_DPDK
		return transport_dpdk_open(o, out);
#else
		fprintf(stderr, "icperf: %s: this build has no DPDK support\n", o->applet);
		return 1;
#endif
	}
	return 1;
}
