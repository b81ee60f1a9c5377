/* AF_XDP transport (-X IFACE): what its three files share.
 *
 *   transport_xdp.c        the ops: bursts in and out of the rings (the hot paths)
 *   transport_xdp_umem.c   frame memory, the socket and its four rings, teardown
 *   transport_xdp_prog.c   the steering program (bpf/xdp_steer.bpf.c): load and attach
 *
 * One UMEM holds every frame. Its first tx_frames frames belong to the sending thread:
 * each holds a whole frame with prebuilt headers from the start, so a burst only writes
 * payloads (as the raw transport does), and they come back through the completion ring.
 * The rx_frames after them circulate between the fill ring, the RX ring and the receiving
 * thread; a server echoes a received frame in place, and the completion ring gives it
 * back to the fill ring. The client's two threads touch disjoint rings: TX and completion
 * (sender), RX and fill (receiver). */
#ifndef ICPERF_TRANSPORT_XDP_H
#define ICPERF_TRANSPORT_XDP_H

#include <stdalign.h>
#include <stdint.h>
#include <xdp/xsk.h>

#include "frame.h"
#include "transport.h"

#define XDP_FRAME_SIZE 2048u  /* any frame up to 1500 bytes, two per page */
#define XDP_TX_FRAMES 2048u   /* = TX ring = completion ring: the TX ring never lacks room */
#define XDP_RX_FRAMES 16384u  /* = fill ring = RX ring: 32 MiB, about what a socket's 16 MB buffer holds */
#define XDP_IDLE_RING 64u     /* a ring a role never uses still needs a size */
#define XDP_QUEUE 0u
/* -B: an empty RX ring is waited on this long, so loops see signals and ticks. */
#define XDP_POLL_MS 20
/* At the end of a run frames still in the TX ring are given this long to leave. */
#define XDP_DRAIN_MS 100

/* The steering program, attached through a bpf_link: the kernel detaches it when the last
 * descriptor of the link closes, which happens at any exit, SIGKILL included. */
struct xdp_prog {
	struct bpf_object *obj;
	int map_fd;
	int link_fd;
	const char *mode; /* "native" or "generic" */
};

struct xdp_transport {
	struct transport base;
	const char *iface;
	unsigned ifindex;
	uint8_t *area;            /* the UMEM */
	size_t area_len;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	int fd;
	bool zerocopy;
	struct xdp_prog prog;
	struct frame_endpoint me;
	uint32_t frame_len;
	unsigned tx_frames, rx_frames;
	/* Called with an empty RX ring: wakes the kernel if the fill ring asks for it, and with
	 * -B sleeps in poll() until frames arrive. Chosen once. */
	void (*rx_idle)(struct xdp_transport *x);

	/* Sending thread only (a cache line of its own: the client's threads run at once). */
	alignas(64) struct xsk_ring_prod tx;
	struct xsk_ring_cons cq;
	uint32_t tx_idx;          /* first TX descriptor reserved by tx_prepare */
	unsigned tx_nfree;
	uint64_t *tx_free;        /* addresses of the sending thread's free frames */
	bool tx_used;
	bool kick_error_reported;

	/* Receiving thread only. */
	alignas(64) struct xsk_ring_cons rx;
	struct xsk_ring_prod fq;
	unsigned echo_sent;       /* kept[0..echo_sent-1] are in the TX ring now */
	uint64_t kept[ICPERF_MAX_BURST];    /* frame address of rx_payload[i] */
	uint32_t kept_len[ICPERF_MAX_BURST];
	uint64_t unwanted[ICPERF_MAX_BURST];
};

/* transport_xdp_umem.c: everything but the program. Returns 0 or 1 after one line. */
int xdp_umem_open(struct xdp_transport *x, const struct options *o);
/* Sends what is still in the TX ring (at most XDP_DRAIN_MS), says what the kernel dropped,
 * then releases the socket and the memory. Safe on a partly opened transport. */
void xdp_umem_close(struct xdp_transport *x);

/* transport_xdp_prog.c: loads the program for the test's flow and attaches it to the
 * interface, natively where the driver can, else generically. Returns 0 or 1 after one
 * line naming -X. */
int xdp_prog_attach(struct xdp_prog *p, const struct options *o, unsigned ifindex);
/* Puts the socket in the program's slot for its queue. */
int xdp_prog_add_socket(struct xdp_prog *p, const struct options *o, int xsk_fd);
/* Detaches and unloads; safe on a partly set up program. */
void xdp_prog_close(struct xdp_prog *p);

/* The frames of the completion ring, given back to whoever owns them. */
static inline unsigned xdp_take_completions(struct xsk_ring_cons *cq, uint64_t *out,
					    unsigned max)
{
	uint32_t idx;
	unsigned n = xsk_ring_cons__peek(cq, max, &idx);
	for (unsigned i = 0; i < n; i++)
		out[i] = *xsk_ring_cons__comp_addr(cq, idx + i);
	xsk_ring_cons__release(cq, n);
	return n;
}

/* Hands frames back to the fill ring, each by the start of its frame (a received frame's
 * address points at its data). The ring never lacks room: it is as large as the frames. */
static inline void xdp_fill(struct xsk_ring_prod *fq, const uint64_t *addr, unsigned n)
{
	uint32_t idx;
	if (!n || xsk_ring_prod__reserve(fq, n, &idx) != n)
		return;
	for (unsigned i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(fq, idx + i) = addr[i] & ~(uint64_t)(XDP_FRAME_SIZE - 1);
	xsk_ring_prod__submit(fq, n);
}

#endif
