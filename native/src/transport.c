#include "transport.h"

#include <stdio.h>

int transport_open(const struct options *o, struct transport **out)
{
	switch (o->transport) {
	case TRANSPORT_UDP:
		return transport_udp_open(o, out);
	case TRANSPORT_RAW:
		return transport_raw_open(o, out);
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
