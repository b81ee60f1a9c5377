/* XDP program of the AF_XDP transport (-X): frames of the test's flow (IPv4, UDP, to
 * LOCAL_IP and --port) go to the AF_XDP socket bound to the queue they arrived on; every
 * other frame (ARP, other traffic of the container) goes on to the kernel as if the program
 * were not there. Checks beyond the flow (MAC, payload magic) are the applet's, exactly as
 * for a raw socket, so both transports count the same frames. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../src/xdp_steer.h"

/* One slot per receive queue; the transport fills the slot of the queue it binds. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} icperf_xsks SEC(".maps");

const volatile struct xdp_steer_cfg cfg;

SEC("xdp")
int icperf_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->protocol != IPPROTO_UDP || ip->daddr != cfg.ip)
		return XDP_PASS;
	struct udphdr *udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > end || udp->dest != cfg.port)
		return XDP_PASS;
	/* A queue without a socket (the slot is empty) lets the frame through to the kernel. */
	return bpf_redirect_map(&icperf_xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
