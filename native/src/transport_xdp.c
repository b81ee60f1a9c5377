/* AF_XDP transport (-X IFACE), the hot paths: bursts through the socket's rings. Frames
 * are laid out and filtered exactly as the raw transport's (frame.h), so the two count
 * the same packets. Layout of the memory and who owns which ring: transport_xdp.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "payload.h"
#include "transport_xdp.h"

/* A kick that fails for good (the interface went down) leaves the frames in the TX ring
 * and the sender soon without free frames: its bursts count as dropped. Say why, once. */
static void __attribute__((cold)) xdp_kick_failed(struct xdp_transport *x, int err)
{
	if (err == EBUSY || err == ENOBUFS || x->kick_error_reported)
		return;
	x->kick_error_reported = true;
	fprintf(stderr, "icperf: -X %s: send failed: %s (frames wait in the TX ring; reported "
		"once)\n", x->iface, strerror(err));
}

/* A copy-mode socket sends at most 32 frames per kick (the kernel's TX batch), and says
 * EAGAIN while more are waiting; a zero-copy driver takes the whole ring at once. */
static void xdp_kick_tx(struct xdp_transport *x, unsigned n)
{
	for (unsigned tries = n / 32 + 1; tries; tries--) {
		if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			return;
		if (errno != EAGAIN) {
			xdp_kick_failed(x, errno);
			return;
		}
	}
}

/* Free frames come back through the completion ring; the TX ring is as large as the
 * sending thread's frames, so it has room for every free one. */
static unsigned xdp_tx_prepare(struct transport *t, unsigned n)
{
	struct xdp_transport *x = (struct xdp_transport *)t;
	x->tx_nfree += xdp_take_completions(&x->cq, x->tx_free + x->tx_nfree,
					    x->tx_frames - x->tx_nfree);
	if (n > x->tx_nfree)
		n = x->tx_nfree;
	if (n == 0 || xsk_ring_prod__reserve(&x->tx, n, &x->tx_idx) != n)
		return 0;
	const uint32_t len = x->frame_len;
	for (unsigned i = 0; i < n; i++) {
		uint64_t addr = x->tx_free[--x->tx_nfree];
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, x->tx_idx + i);
		d->addr = addr;
		d->len = len;
		t->tx_payload[i] = x->area + addr + ICPERF_HDR_LEN;
	}
	return n;
}

/* A frame in the TX ring is the kernel's: every prepared frame is accepted. */
static unsigned xdp_tx_commit(struct transport *t, unsigned n)
{
	struct xdp_transport *x = (struct xdp_transport *)t;
	if (n == 0)
		return 0;
	xsk_ring_prod__submit(&x->tx, n);
	x->tx_used = true;
	if (xsk_ring_prod__needs_wakeup(&x->tx))
		xdp_kick_tx(x, n);
	return n;
}

/* One kick hands the whole burst over: one stamp, as late as possible ("per-burst"). */
static unsigned xdp_tx_commit_stamped(struct transport *t, unsigned n)
{
	const uint64_t ts = clock_now_ns();
	for (unsigned i = 0; i < n; i++)
		payload_put_ts(t->tx_payload[i], ts);
	return xdp_tx_commit(t, n);
}

static inline unsigned xdp_rx(struct xdp_transport *x)
{
	uint32_t idx;
	unsigned got = xsk_ring_cons__peek(&x->rx, x->base.burst, &idx);
	if (!got) {
		x->rx_idle(x);
		return 0;
	}
	unsigned n = 0, drop = 0;
	for (unsigned i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		uint8_t *f = x->area + d->addr;
		uint32_t plen;
		uint8_t *p = frame_payload_for(&x->me, f, d->len, &plen);
		if (!p) {
			x->unwanted[drop++] = d->addr;
			continue;
		}
		x->base.rx_payload[n] = p;
		x->base.rx_len[n] = plen;
		x->kept[n] = d->addr;
		x->kept_len[n++] = d->len;
	}
	/* The descriptors are copied out; the frames stay ours until they go back to the
	 * fill ring. */
	xsk_ring_cons__release(&x->rx, got);
	xdp_fill(&x->fq, x->unwanted, drop);
	return n;
}

static unsigned xdp_rx_burst(struct transport *t)
{
	return xdp_rx((struct xdp_transport *)t);
}

/* The server's frames come back from its echoes through the completion ring: they go to
 * the fill ring before the next receive, or the fill ring would run dry while echoes wait
 * to complete. */
static unsigned xdp_rx_burst_echoing(struct transport *t)
{
	struct xdp_transport *x = (struct xdp_transport *)t;
	uint64_t done[ICPERF_MAX_BURST];
	unsigned n;
	while ((n = xdp_take_completions(&x->cq, done, ICPERF_MAX_BURST)) > 0)
		xdp_fill(&x->fq, done, n);
	return xdp_rx(x);
}

static void xdp_rx_release(struct transport *t, unsigned n)
{
	struct xdp_transport *x = (struct xdp_transport *)t;
	if (n > x->echo_sent)
		xdp_fill(&x->fq, x->kept + x->echo_sent, n - x->echo_sent);
	x->echo_sent = 0;
}

/* Swaps the addresses in place and puts the same frames in the TX ring: no copy. */
static unsigned xdp_echo(struct transport *t, unsigned n)
{
	struct xdp_transport *x = (struct xdp_transport *)t;
	uint32_t idx;
	unsigned k = xsk_prod_nb_free(&x->tx, n);
	if (k > n)
		k = n;
	if (k == 0 || xsk_ring_prod__reserve(&x->tx, k, &idx) != k) {
		x->echo_sent = 0;
		return 0;
	}
	for (unsigned i = 0; i < k; i++) {
		frame_swap_endpoints(x->area + x->kept[i]);
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx + i);
		d->addr = x->kept[i];
		d->len = x->kept_len[i];
	}
	xsk_ring_prod__submit(&x->tx, k);
	x->tx_used = true;
	if (xsk_ring_prod__needs_wakeup(&x->tx))
		xdp_kick_tx(x, k);
	x->echo_sent = k;
	return k;
}

static void xdp_close(struct transport *t)
{
	struct xdp_transport *x = (struct xdp_transport *)t;
	xdp_umem_close(x);
	xdp_prog_close(&x->prog);
	free(x->tx_free);
	free(x);
}

/* Busy polling: the kernel fills the RX ring from its own receive path, and needs a kick
 * only where the driver waits for one (the fill ring's need_wakeup flag). */
static void xdp_idle_busy(struct xdp_transport *x)
{
	if (xsk_ring_prod__needs_wakeup(&x->fq))
		recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

/* -B: sleep until frames arrive (poll() also wakes the driver). */
static void xdp_idle_blocking(struct xdp_transport *x)
{
	struct pollfd p = { .fd = x->fd, .events = POLLIN };
	poll(&p, 1, XDP_POLL_MS);
}

static const struct transport_ops xdp_ops = {
	.name = "xdp",
	.tx_prepare = xdp_tx_prepare,
	.tx_commit = xdp_tx_commit,
	.tx_commit_stamped = xdp_tx_commit_stamped,
	.rx_burst = xdp_rx_burst,
	.rx_release = xdp_rx_release,
	.echo = xdp_echo,
	.close = xdp_close,
};

static const struct transport_ops xdp_server_ops = {
	.name = "xdp",
	.tx_prepare = xdp_tx_prepare,
	.tx_commit = xdp_tx_commit,
	.tx_commit_stamped = xdp_tx_commit_stamped,
	.rx_burst = xdp_rx_burst_echoing,
	.rx_release = xdp_rx_release,
	.echo = xdp_echo,
	.close = xdp_close,
};

int transport_xdp_open(const struct options *o, struct transport **out)
{
	struct xdp_transport *x = aligned_alloc(64, sizeof(*x));
	if (!x) {
		fprintf(stderr, "icperf: -X %s: out of memory\n", o->iface);
		return 1;
	}
	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->prog.map_fd = x->prog.link_fd = -1;
	x->base.ops = o->role == ROLE_SERVER ? &xdp_server_ops : &xdp_ops;
	x->base.burst = o->burst;
	x->base.payload_len = options_payload_len(o);
	x->base.tx_stamp = "per-burst";
	x->iface = o->iface;
	x->frame_len = o->pkt_size;
	x->rx_idle = o->blocking ? xdp_idle_blocking : xdp_idle_busy;
	memcpy(x->me.mac, o->local_mac, 6);
	x->me.ip = o->local_ip.s_addr;
	x->me.port = htons((uint16_t)o->port);
	/* The socket is bound before the program is attached: a queue another socket holds
	 * is refused without disturbing the program that serves it. */
	if (xdp_umem_open(x, o) || xdp_prog_attach(&x->prog, o, x->ifindex) ||
	    xdp_prog_add_socket(&x->prog, o, x->fd)) {
		xdp_close(&x->base);
		return 1;
	}
	x->base.xdp_mode = x->prog.mode;
	x->base.xdp_zerocopy = x->zerocopy;
	*out = &x->base;
	return 0;
}
