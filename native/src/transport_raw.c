/* Raw AF_PACKET sockets (-R IFACE): Ethernet, IPv4 and UDP headers are built in user space,
 * and received frames are filtered here like a DPDK port in promiscuous mode would need. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "frame.h"
#include "net.h"
#include "sockio.h"
#include "transport.h"

#define RX_SLOT 2048

struct raw_transport {
	struct transport base;
	struct sockio io;
	struct frame_endpoint me;
	uint8_t *tx_buf, *rx_buf;
	struct mmsghdr *tx_msgs, *rx_msgs, *echo_msgs;
	struct iovec *tx_iov, *rx_iov, *echo_iov;
	uint8_t **rx_frame;    /* frame of rx_payload[i] */
	uint32_t *rx_frame_len;
	int port_fd;           /* bound, never read: see raw_hold_port() */
};

static unsigned raw_tx_prepare(struct transport *t, unsigned n)
{
	return n < t->burst ? n : t->burst;
}

static unsigned raw_tx_commit(struct transport *t, unsigned n)
{
	struct raw_transport *r = (struct raw_transport *)t;
	return r->io.send(&r->io, r->tx_msgs, n);
}

static unsigned raw_tx_commit_stamped(struct transport *t, unsigned n)
{
	struct raw_transport *r = (struct raw_transport *)t;
	return r->io.send_stamped(&r->io, r->tx_msgs, n);
}

static unsigned raw_rx_burst(struct transport *t)
{
	struct raw_transport *r = (struct raw_transport *)t;
	unsigned got = r->io.recv(&r->io, r->rx_msgs, t->burst);
	unsigned n = 0;
	for (unsigned i = 0; i < got; i++) {
		uint8_t *f = r->rx_iov[i].iov_base;
		uint32_t len = r->rx_msgs[i].msg_len, plen;
		uint8_t *p = frame_payload_for(&r->me, f, len, &plen);
		if (!p)
			continue;
		t->rx_payload[n] = p;
		t->rx_len[n] = plen;
		r->rx_frame[n] = f;
		r->rx_frame_len[n++] = len;
	}
	return n;
}

static void raw_rx_release(struct transport *t, unsigned n)
{
	(void)t;
	(void)n;
}

static unsigned raw_echo(struct transport *t, unsigned n)
{
	struct raw_transport *r = (struct raw_transport *)t;
	for (unsigned i = 0; i < n; i++) {
		frame_swap_endpoints(r->rx_frame[i]);
		r->echo_iov[i].iov_base = r->rx_frame[i];
		r->echo_iov[i].iov_len = r->rx_frame_len[i];
	}
	return r->io.send(&r->io, r->echo_msgs, n);
}

static void raw_close(struct transport *t)
{
	struct raw_transport *r = (struct raw_transport *)t;
	if (r->io.fd >= 0)
		close(r->io.fd);
	if (r->port_fd >= 0)
		close(r->port_fd);
	free(r->tx_buf);
	free(r->rx_buf);
	free(r->tx_msgs);
	free(r->rx_msgs);
	free(r->echo_msgs);
	free(r->tx_iov);
	free(r->rx_iov);
	free(r->echo_iov);
	free(r->rx_frame);
	free(r->rx_frame_len);
	free(r);
}

static const struct transport_ops raw_ops = {
	.name = "raw",
	.tx_prepare = raw_tx_prepare,
	.tx_commit = raw_tx_commit,
	.tx_commit_stamped = raw_tx_commit_stamped,
	.rx_burst = raw_rx_burst,
	.rx_release = raw_rx_release,
	.echo = raw_echo,
	.close = raw_close,
};

/* The kernel sees the frames a raw receiver reads too: with no socket on the UDP port it
 * answers each one with an ICMP port unreachable, which costs a quarter of the receiving
 * CPU. A bound UDP socket with the smallest buffer stops that; it is never read. */
static int raw_hold_port(const struct options *o)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int small = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = o->local_ip,
				 .sin_port = htons((uint16_t)o->port) };
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool raw_alloc(struct raw_transport *r, unsigned burst, uint32_t frame_len)
{
	r->tx_buf = calloc(burst, frame_len);
	r->rx_buf = calloc(burst, RX_SLOT);
	r->tx_msgs = calloc(burst, sizeof(struct mmsghdr));
	r->rx_msgs = calloc(burst, sizeof(struct mmsghdr));
	r->echo_msgs = calloc(burst, sizeof(struct mmsghdr));
	r->tx_iov = calloc(burst, sizeof(struct iovec));
	r->rx_iov = calloc(burst, sizeof(struct iovec));
	r->echo_iov = calloc(burst, sizeof(struct iovec));
	r->rx_frame = calloc(burst, sizeof(uint8_t *));
	r->rx_frame_len = calloc(burst, sizeof(uint32_t));
	return r->tx_buf && r->rx_buf && r->tx_msgs && r->rx_msgs && r->echo_msgs &&
	       r->tx_iov && r->rx_iov && r->echo_iov && r->rx_frame && r->rx_frame_len;
}

/* Frames are prebuilt once; a burst only rewrites payloads. */
static void raw_wire(struct raw_transport *r, const struct options *o, uint32_t frame_len)
{
	struct frame_endpoint dst = { .ip = o->remote_ip.s_addr, .port = r->me.port };
	memcpy(dst.mac, o->remote_mac, 6);
	for (unsigned i = 0; i < o->burst; i++) {
		uint8_t *f = r->tx_buf + (size_t)i * frame_len;
		frame_build(f, frame_len, &r->me, &dst);
		r->base.tx_payload[i] = f + ICPERF_HDR_LEN;
		r->tx_iov[i] = (struct iovec){ f, frame_len };
		r->tx_msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &r->tx_iov[i], .msg_iovlen = 1 };
		r->rx_iov[i] = (struct iovec){ r->rx_buf + (size_t)i * RX_SLOT, RX_SLOT };
		r->rx_msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &r->rx_iov[i], .msg_iovlen = 1 };
		r->echo_msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &r->echo_iov[i],
							   .msg_iovlen = 1 };
	}
}

/* A LOCAL_MAC that is not the interface's own is legal (the frames still go out) but the
 * kernel will not deliver replies unless the interface is promiscuous: say so. */
static void warn_foreign_mac(int fd, const struct options *o)
{
	struct ifreq ifr = { 0 };
	strncpy(ifr.ifr_name, o->iface, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return;
	if (memcmp(ifr.ifr_hwaddr.sa_data, o->local_mac, 6) != 0) {
		char want[18], have[18];
		net_format_mac(o->local_mac, want);
		net_format_mac((const uint8_t *)ifr.ifr_hwaddr.sa_data, have);
		fprintf(stderr, "icperf: warning: LOCAL_MAC %s is not the address of -R %s (%s)\n",
			want, o->iface, have);
	}
}

int transport_raw_open(const struct options *o, struct transport **out)
{
	unsigned ifindex = if_nametoindex(o->iface);
	if (!ifindex) {
		fprintf(stderr, "icperf: -R %s: no such interface\n", o->iface);
		return 1;
	}
	/* A sender binds with protocol 0 so that no received traffic is queued for it. */
	uint16_t proto = o->role == ROLE_SEND ? 0 : htons(ETH_P_IP);
	int fd = socket(AF_PACKET, SOCK_RAW, proto);
	if (fd < 0) {
		fprintf(stderr, "icperf: -R %s: raw socket: %s%s\n", o->iface, strerror(errno),
			errno == EPERM ? " (needs CAP_NET_RAW)" : "");
		return 1;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = proto,
				   .sll_ifindex = (int)ifindex };
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "icperf: -R %s: cannot bind: %s\n", o->iface, strerror(errno));
		close(fd);
		return 1;
	}
	int one = 1;
	/* Our own transmitted frames would otherwise come back on this socket. */
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	/* Frames go straight to the driver: the qdisc adds nothing on a veth or a VF. */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	warn_foreign_mac(fd, o);

	struct raw_transport *r = calloc(1, sizeof(*r));
	if (r)
		r->port_fd = -1;
	if (!r || !raw_alloc(r, o->burst, o->pkt_size)) {
		fprintf(stderr, "icperf: -b %u: cannot allocate buffers\n", o->burst);
		close(fd);
		if (r) {
			r->io.fd = -1;
			raw_close(&r->base);
		}
		return 1;
	}
	sockio_init(&r->io, fd, o, ICPERF_HDR_LEN);
	r->base.tx_stamp = r->io.tx_stamp;
	r->base.ops = &raw_ops;
	r->base.burst = o->burst;
	r->base.payload_len = options_payload_len(o);
	memcpy(r->me.mac, o->local_mac, 6);
	r->me.ip = o->local_ip.s_addr;
	r->me.port = htons((uint16_t)o->port);
	raw_wire(r, o, o->pkt_size);
	if (o->role == ROLE_RECV || o->role == ROLE_SERVER)
		r->port_fd = raw_hold_port(o);
	*out = &r->base;
	return 0;
}
