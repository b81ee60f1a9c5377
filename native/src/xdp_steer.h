/* What the steering program (bpf/xdp_steer.bpf.c) and its loader (transport_xdp_prog.c)
 * share: the flow the program hands to the AF_XDP socket. */
#ifndef ICPERF_XDP_STEER_H
#define ICPERF_XDP_STEER_H

#include <linux/types.h>

/* Written into the program's read-only data before it is loaded, so the verifier sees
 * constants. Network byte order, as the fields appear in the frame. */
struct xdp_steer_cfg {
	__u32 ip;   /* destination IPv4 address of the test's frames: LOCAL_IP */
	__u16 port; /* destination UDP port: --port */
	__u16 pad;
};

#endif
