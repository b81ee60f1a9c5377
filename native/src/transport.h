/* Transport interface: how an applet moves frames, independent of the API underneath.
 *
 * The applets (app_*.c) own pacing, payload contents and statistics; a transport only
 * moves frames. transport_open() picks one ops table from the options ONCE, before any
 * loop runs, so the hot loops call through the table and never branch on options.
 * Blocking or not, one syscall per packet or sendmmsg/recvmmsg: each combination is its own
 * set of functions chosen at open time.
 *
 * Implementations: transport_udp.c (UDP sockets), transport_raw.c (AF_PACKET, -R), an
 * AF_XDP one (transport_xdp*.c, -X, built when pkg-config finds libxdp and libbpf and
 * clang is there to compile its XDP program) and a DPDK one (transport_dpdk.c, built when
 * pkg-config finds libdpdk; its EAL arguments are options->extra_argv). A new transport provides transport_<name>_open() with the
 * signature of transport_open() and is added to the switch in transport.c.
 *
 * Sending (one thread):
 *   n = tx_prepare(t, want)  makes up to `want` (<= burst) frames ready and stores pointers
 *                            to their UDP payloads in t->tx_payload[0..n-1], each
 *                            t->payload_len bytes. The Ethernet/IPv4/UDP headers are the
 *                            transport's business (socket transports reuse preallocated
 *                            frames with prebuilt headers; DPDK allocates mbufs). The caller
 *                            writes the payloads. Fewer than `want` (an empty mbuf pool)
 *                            is allowed: the applet still counts `want` as attempted.
 *   k = tx_commit(t, n)      sends the n prepared frames and returns how many were accepted:
 *                            always a prefix, frames 0..k-1. Frames k..n-1 are released (DPDK
 *                            frees the mbufs) and count as dropped by the sender.
 *   k = tx_commit_stamped(t, n)  the same, but first overwrites each payload's send
 *                            timestamp with the clock (clock_now_ns()) as late as the API
 *                            allows: right before the frame's own send call where every
 *                            frame has one, else once right before the call that takes the
 *                            whole burst. t->tx_stamp says which: "per-packet" or
 *                            "per-burst" (the start record's tx_stamp). The client uses it,
 *                            so an RTT does not include the sends of the frames before it.
 * Receiving (one thread):
 *   n = rx_burst(t)          receives up to `burst` frames and returns how many are
 *                            addressed to this applet (destination MAC, IPv4 address and UDP
 *                            port where the transport sees them) and carry an icperf payload
 *                            (magic, payload.h). Their payloads are t->rx_payload[i], of
 *                            t->rx_len[i] bytes; anything else is dropped silently. A
 *                            blocking transport waits at most ~20 ms and may return 0, so the
 *                            caller's loop notices signals and per-second ticks.
 *   k = echo(t, n)           sends the n frames of the last rx_burst back to where they came
 *                            from (raw/DPDK swap MACs, IPs and ports in place); returns how
 *                            many went. Call before rx_release.
 *   rx_release(t, n)         gives the n frames back (DPDK frees mbufs; sockets: no-op).
 *                            After echo() it is still called with the same n: frames that
 *                            echo() handed to the driver are not freed a second time.
 *
 * The client runs sending and receiving in two threads on the same transport at the same
 * time, so the tx and rx state of an implementation must be disjoint. echo() is called only
 * from the receiving thread. */
#ifndef ICPERF_TRANSPORT_H
#define ICPERF_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"

struct transport;

struct transport_ops {
	const char *name; /* "udp", "raw", "xdp", "dpdk": the start record's transport field */
	unsigned (*tx_prepare)(struct transport *t, unsigned n);
	unsigned (*tx_commit)(struct transport *t, unsigned n);
	unsigned (*tx_commit_stamped)(struct transport *t, unsigned n);
	unsigned (*rx_burst)(struct transport *t);
	void (*rx_release)(struct transport *t, unsigned n);
	unsigned (*echo)(struct transport *t, unsigned n);
	void (*close)(struct transport *t);
};

/* Implementations embed this as their first member. */
struct transport {
	const struct transport_ops *ops;
	unsigned burst;
	uint32_t payload_len;
	const char *tx_stamp; /* how tx_commit_stamped stamps: "per-packet" or "per-burst" */
	const char *xdp_mode; /* AF_XDP: "native" or "generic" hook; NULL for the others */
	bool xdp_zerocopy;    /* AF_XDP: the socket's frames are the driver's (no copy) */
	uint8_t *tx_payload[ICPERF_MAX_BURST];
	uint8_t *rx_payload[ICPERF_MAX_BURST];
	uint32_t rx_len[ICPERF_MAX_BURST];
};

/* Opens the transport the options ask for. Returns 0 and sets *out, or prints one line
 * naming the flag or address at fault and returns the exit status (1). */
int transport_open(const struct options *o, struct transport **out);

int transport_udp_open(const struct options *o, struct transport **out);
int transport_raw_open(const struct options *o, struct transport **out);
#ifdef ICPERF_HAVE_XDP
int transport_xdp_open(const struct options *o, struct transport **out);
#endif
#ifdef ICPERF_HAVE_DPDK
int transport_dpdk_open(const struct options *o, struct transport **out);
#endif

static inline unsigned tx_prepare(struct transport *t, unsigned n)
{
	return t->ops->tx_prepare(t, n);
}

static inline unsigned tx_commit(struct transport *t, unsigned n)
{
	return t->ops->tx_commit(t, n);
}

static inline unsigned tx_commit_stamped(struct transport *t, unsigned n)
{
	return t->ops->tx_commit_stamped(t, n);
}

static inline unsigned rx_burst(struct transport *t)
{
	return t->ops->rx_burst(t);
}

static inline void rx_release(struct transport *t, unsigned n)
{
	t->ops->rx_release(t, n);
}

static inline unsigned transport_echo(struct transport *t, unsigned n)
{
	return t->ops->echo(t, n);
}

static inline void transport_close(struct transport *t)
{
	t->ops->close(t);
}

#endif
