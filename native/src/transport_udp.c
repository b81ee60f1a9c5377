/* UDP sockets: the kernel builds the headers; frames are just payload buffers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "payload.h"
#include "sockio.h"
#include "transport.h"

#define RX_SLOT 2048 /* any datagram that fits a 1500-byte MTU */

struct udp_transport {
	struct transport base;
	struct sockio io;
	struct sockaddr_in remote;
	uint8_t *tx_buf, *rx_buf;
	struct mmsghdr *tx_msgs, *rx_msgs, *echo_msgs;
	struct iovec *tx_iov, *rx_iov, *echo_iov;
	struct sockaddr_in *rx_from;
	unsigned *rx_slot; /* rx_payload[i] came in rx_msgs[rx_slot[i]] */
};

static unsigned udp_tx_prepare(struct transport *t, unsigned n)
{
	return n < t->burst ? n : t->burst;
}

static unsigned udp_tx_commit(struct transport *t, unsigned n)
{
	struct udp_transport *u = (struct udp_transport *)t;
	return u->io.send(&u->io, u->tx_msgs, n);
}

static unsigned udp_tx_commit_stamped(struct transport *t, unsigned n)
{
	struct udp_transport *u = (struct udp_transport *)t;
	return u->io.send_stamped(&u->io, u->tx_msgs, n);
}

static unsigned udp_rx_burst(struct transport *t)
{
	struct udp_transport *u = (struct udp_transport *)t;
	unsigned got = u->io.recv(&u->io, u->rx_msgs, t->burst);
	unsigned n = 0;
	for (unsigned i = 0; i < got; i++) {
		uint8_t *p = u->rx_iov[i].iov_base;
		uint32_t len = u->rx_msgs[i].msg_len;
		u->rx_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
		if (!payload_is_icperf(p, len))
			continue;
		t->rx_payload[n] = p;
		t->rx_len[n] = len;
		u->rx_slot[n++] = i;
	}
	return n;
}

static void udp_rx_release(struct transport *t, unsigned n)
{
	(void)t;
	(void)n;
}

static unsigned udp_echo(struct transport *t, unsigned n)
{
	struct udp_transport *u = (struct udp_transport *)t;
	for (unsigned i = 0; i < n; i++) {
		u->echo_iov[i].iov_base = t->rx_payload[i];
		u->echo_iov[i].iov_len = t->rx_len[i];
		u->echo_msgs[i].msg_hdr.msg_name = &u->rx_from[u->rx_slot[i]];
	}
	return u->io.send(&u->io, u->echo_msgs, n);
}

static void udp_close(struct transport *t)
{
	struct udp_transport *u = (struct udp_transport *)t;
	if (u->io.fd >= 0)
		close(u->io.fd);
	free(u->tx_buf);
	free(u->rx_buf);
	free(u->tx_msgs);
	free(u->rx_msgs);
	free(u->echo_msgs);
	free(u->tx_iov);
	free(u->rx_iov);
	free(u->echo_iov);
	free(u->rx_from);
	free(u->rx_slot);
	free(u);
}

static const struct transport_ops udp_ops = {
	.name = "udp",
	.tx_prepare = udp_tx_prepare,
	.tx_commit = udp_tx_commit,
	.tx_commit_stamped = udp_tx_commit_stamped,
	.rx_burst = udp_rx_burst,
	.rx_release = udp_rx_release,
	.echo = udp_echo,
	.close = udp_close,
};

static bool udp_alloc(struct udp_transport *u, unsigned burst, uint32_t payload_len)
{
	u->tx_buf = calloc(burst, payload_len);
	u->rx_buf = calloc(burst, RX_SLOT);
	u->tx_msgs = calloc(burst, sizeof(struct mmsghdr));
	u->rx_msgs = calloc(burst, sizeof(struct mmsghdr));
	u->echo_msgs = calloc(burst, sizeof(struct mmsghdr));
	u->tx_iov = calloc(burst, sizeof(struct iovec));
	u->rx_iov = calloc(burst, sizeof(struct iovec));
	u->echo_iov = calloc(burst, sizeof(struct iovec));
	u->rx_from = calloc(burst, sizeof(struct sockaddr_in));
	u->rx_slot = calloc(burst, sizeof(unsigned));
	return u->tx_buf && u->rx_buf && u->tx_msgs && u->rx_msgs && u->echo_msgs &&
	       u->tx_iov && u->rx_iov && u->echo_iov && u->rx_from && u->rx_slot;
}

static void udp_wire(struct udp_transport *u, unsigned burst, uint32_t payload_len)
{
	for (unsigned i = 0; i < burst; i++) {
		u->base.tx_payload[i] = u->tx_buf + (size_t)i * payload_len;
		u->tx_iov[i] = (struct iovec){ u->base.tx_payload[i], payload_len };
		u->tx_msgs[i].msg_hdr = (struct msghdr){ .msg_name = &u->remote,
			.msg_namelen = sizeof(u->remote), .msg_iov = &u->tx_iov[i], .msg_iovlen = 1 };

		u->rx_iov[i] = (struct iovec){ u->rx_buf + (size_t)i * RX_SLOT, RX_SLOT };
		u->rx_msgs[i].msg_hdr = (struct msghdr){ .msg_name = &u->rx_from[i],
			.msg_namelen = sizeof(u->rx_from[i]), .msg_iov = &u->rx_iov[i],
			.msg_iovlen = 1 };

		u->echo_msgs[i].msg_hdr = (struct msghdr){ .msg_namelen = sizeof(struct sockaddr_in),
			.msg_iov = &u->echo_iov[i], .msg_iovlen = 1 };
	}
}

int transport_udp_open(const struct options *o, struct transport **out)
{
	struct udp_transport *u = calloc(1, sizeof(*u));
	uint32_t payload_len = options_payload_len(o);
	/* calloc leaves fd 0, a descriptor udp_close() would close: no socket yet is -1. */
	if (u)
		u->io.fd = -1;
	if (!u || !udp_alloc(u, o->burst, payload_len)) {
		fprintf(stderr, "icperf: -b %u: cannot allocate buffers\n", o->burst);
		if (u)
			udp_close(&u->base);
		return 1;
	}
	u->base.ops = &udp_ops;
	u->base.burst = o->burst;
	u->base.payload_len = payload_len;
	u->remote = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = o->remote_ip,
					  .sin_port = htons((uint16_t)o->port) };
	udp_wire(u, o->burst, payload_len);

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		fprintf(stderr, "icperf: UDP socket: %s\n", strerror(errno));
		udp_close(&u->base);
		return 1;
	}
	sockio_init(&u->io, fd, o, 0);
	u->base.tx_stamp = u->io.tx_stamp;
	/* Bound to LOCAL_IP:port on every role, so a server's echo goes back to the port the
	 * client listens on. */
	struct sockaddr_in local = { .sin_family = AF_INET, .sin_addr = o->local_ip,
				     .sin_port = htons((uint16_t)o->port) };
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &o->local_ip, ip, sizeof(ip));
		fprintf(stderr, "icperf: LOCAL_IP %s --port %u: cannot bind: %s\n", ip, o->port,
			strerror(errno));
		udp_close(&u->base);
		return 1;
	}
	/* A connected sender keeps its route instead of looking it up per packet. Receivers
	 * stay unconnected: they accept whichever peer sends to their port. */
	if ((o->role == ROLE_SEND || o->role == ROLE_CLIENT) &&
	    connect(fd, (struct sockaddr *)&u->remote, sizeof(u->remote)) == 0) {
		for (unsigned i = 0; i < o->burst; i++) {
			u->tx_msgs[i].msg_hdr.msg_name = NULL;
			u->tx_msgs[i].msg_hdr.msg_namelen = 0;
		}
	}
	*out = &u->base;
	return 0;
}
