/* AF_XDP transport (-X IFACE): the frame memory (UMEM), the socket and its rings, and
 * their teardown. Every way this can fail is one line naming -X and what is missing. */
#include <errno.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include "transport_xdp.h"

static int fail(const struct xdp_transport *x, const char *what, int err, const char *hint)
{
	fprintf(stderr, "icperf: -X %s: %s: %s%s\n", x->iface, what, strerror(err), hint);
	return 1;
}

/* The frames each role needs: senders their own, receivers the fill ring's. */
static void size_for_role(struct xdp_transport *x, enum role role)
{
	x->tx_frames = role == ROLE_SEND || role == ROLE_CLIENT ? XDP_TX_FRAMES : 0;
	x->rx_frames = role == ROLE_SEND ? 0 : XDP_RX_FRAMES;
}

static int make_umem(struct xdp_transport *x, struct xsk_ring_prod *fq, struct xsk_ring_cons *cq,
		     bool transmits)
{
	x->area_len = (size_t)(x->tx_frames + x->rx_frames) * XDP_FRAME_SIZE;
	void *area = mmap(NULL, x->area_len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (area == MAP_FAILED) {
		x->area_len = 0;
		return fail(x, "cannot map the frame memory", errno, "");
	}
	x->area = area;
	const struct xsk_umem_config cfg = {
		.fill_size = x->rx_frames ? x->rx_frames : XDP_IDLE_RING,
		.comp_size = transmits ? XDP_TX_FRAMES : XDP_IDLE_RING,
		.frame_size = XDP_FRAME_SIZE,
	};
	int rc = xsk_umem__create(&x->umem, x->area, x->area_len, fq, cq, &cfg);
	if (rc == 0)
		return 0;
	x->umem = NULL;
	if (rc == -EAFNOSUPPORT)
		return fail(x, "this kernel has no XDP sockets (AF_XDP)", -rc,
			    " (needs CONFIG_XDP_SOCKETS)");
	if (rc == -EPERM)
		return fail(x, "cannot open an XDP socket", -rc, " (needs CAP_NET_RAW)");
	if (rc == -ENOBUFS || rc == -ENOMEM) {
		char what[96];
		snprintf(what, sizeof(what), "cannot lock %zu KiB of frame memory",
			 x->area_len >> 10);
		return fail(x, what, -rc, " (raise the memlock limit, ulimit -l, or give "
			    "CAP_IPC_LOCK)");
	}
	return fail(x, "cannot register the frame memory", -rc, "");
}

static int bind_socket(struct xdp_transport *x, enum role role)
{
	const bool receives = x->rx_frames > 0, transmits = role != ROLE_RECV;
	const struct xsk_socket_config cfg = {
		.rx_size = receives ? XDP_RX_FRAMES : 0,
		.tx_size = transmits ? XDP_TX_FRAMES : 0,
		/* The program is our own (transport_xdp_prog.c), not libxdp's default. */
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		/* Kicks only when a ring asks for one. */
		.bind_flags = XDP_USE_NEED_WAKEUP,
	};
	int rc = xsk_socket__create(&x->xsk, x->iface, XDP_QUEUE, x->umem,
				    receives ? &x->rx : NULL, transmits ? &x->tx : NULL, &cfg);
	if (rc == 0) {
		x->fd = xsk_socket__fd(x->xsk);
		return 0;
	}
	x->xsk = NULL;
	if (rc == -EBUSY)
		return fail(x, "queue 0 is busy", -rc, " (another AF_XDP socket is bound to it)");
	return fail(x, "cannot bind an XDP socket to queue 0", -rc, "");
}

/* Sending frames hold their headers from the start; a burst only writes payloads. */
static int wire_frames(struct xdp_transport *x, const struct options *o)
{
	struct frame_endpoint dst = { .ip = o->remote_ip.s_addr, .port = x->me.port };
	memcpy(dst.mac, o->remote_mac, 6);
	x->tx_free = calloc(x->tx_frames ? x->tx_frames : 1, sizeof(uint64_t));
	if (!x->tx_free) {
		fprintf(stderr, "icperf: -X %s: out of memory\n", x->iface);
		return 1;
	}
	for (unsigned i = 0; i < x->tx_frames; i++) {
		uint64_t addr = (uint64_t)i * XDP_FRAME_SIZE;
		frame_build(x->area + addr, x->frame_len, &x->me, &dst);
		x->tx_free[i] = addr;
	}
	x->tx_nfree = x->tx_frames;
	uint64_t batch[ICPERF_MAX_BURST];
	for (unsigned i = 0; i < x->rx_frames;) {
		unsigned n = 0;
		for (; n < ICPERF_MAX_BURST && i < x->rx_frames; n++, i++)
			batch[n] = (uint64_t)(x->tx_frames + i) * XDP_FRAME_SIZE;
		xdp_fill(&x->fq, batch, n);
	}
	return 0;
}

int xdp_umem_open(struct xdp_transport *x, const struct options *o)
{
	x->ifindex = if_nametoindex(o->iface);
	if (!x->ifindex) {
		fprintf(stderr, "icperf: -X %s: no such interface\n", o->iface);
		return 1;
	}
	/* libxdp would print its own view of every failure next to ours. */
	libxdp_set_print(NULL);
	size_for_role(x, o->role);
	if (make_umem(x, &x->fq, &x->cq, o->role != ROLE_RECV) || bind_socket(x, o->role))
		return 1;
	struct xdp_options opts;
	socklen_t len = sizeof(opts);
	if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opts, &len) == 0)
		x->zerocopy = opts.flags & XDP_OPTIONS_ZEROCOPY;
	return wire_frames(x, o);
}

static bool tx_drained(struct xdp_transport *x)
{
	x->tx_nfree += xdp_take_completions(&x->cq, x->tx_free + x->tx_nfree,
					    x->tx_frames - x->tx_nfree);
	return xsk_prod_nb_free(&x->tx, x->tx.size) == x->tx.size &&
	       x->tx_nfree == x->tx_frames;
}

static void drain_tx(struct xdp_transport *x)
{
	const struct timespec ms = { 0, 1000000 };
	for (unsigned waited = 0; waited < XDP_DRAIN_MS && !tx_drained(x); waited++) {
		sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
		nanosleep(&ms, NULL);
	}
}

/* Frames the kernel could not hand to the socket are missing at the receiver; say why. */
static void report_kernel_drops(const struct xdp_transport *x)
{
	struct xdp_statistics s;
	socklen_t len = sizeof(s);
	if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &s, &len) < 0)
		return;
	if (s.rx_ring_full || s.rx_dropped)
		fprintf(stderr, "icperf: -X %s: the kernel dropped %llu frames bound for the "
			"socket with its RX ring full and %llu for want of a free frame\n",
			x->iface, (unsigned long long)s.rx_ring_full,
			(unsigned long long)s.rx_dropped);
}

void xdp_umem_close(struct xdp_transport *x)
{
	if (x->xsk) {
		if (x->tx_used)
			drain_tx(x);
		report_kernel_drops(x);
		xsk_socket__delete(x->xsk);
	}
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, x->area_len);
}
