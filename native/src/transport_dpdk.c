/* DPDK transport (dpdk-send, dpdk-recv, dpdk-client, dpdk-server): one port, the first that
 * EAL finds, with one receive and one transmit queue. EAL arguments are the ones after "--".
 *
 * Frames are mbufs. The transmit side has a pool of its own whose mbufs carry the prebuilt
 * Ethernet/IPv4/UDP headers from the moment the pool is made: nothing else ever writes into
 * them, so a burst only writes payloads. The receive side drops every frame not addressed to
 * this applet, since a port in a virtual switch sees whatever is forwarded to it.
 *
 * Threads: the receive queue is polled by one thread only and the transmit queue used by one
 * thread only. The client's sender is a thread of its own; on its first burst it registers
 * with EAL (so the mempool gets a per-lcore cache for it) and, without --cpu, moves to the
 * first worker lcore EAL was given. */
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "app.h"
#include "clock.h"
#include "frame.h"
#include "payload.h"
#include "transport.h"
#include "transport_dpdk_drain.h"
#include "transport_dpdk_eal.h"

#define POOL_CACHE 256
#define RX_DATA_ROOM RTE_MBUF_DEFAULT_BUF_SIZE
/* Frames still in the transmit ring when the port stops are lost without being counted
 * anywhere: the port closes once the peer took them, or after TX_DRAIN_TIMEOUT_MS; where
 * the driver cannot tell (transport_dpdk_drain.c), after TX_DRAIN_MS. */
#define TX_DRAIN_TIMEOUT_MS 2000
#define TX_DRAIN_MS 100
/* Receive descriptors of a sender, which never polls them (the port may round it up). */
#define SEND_RX_RING 64
#define LINK_WAIT_MS 5000

struct dpdk_transport {
	struct transport base;
	uint16_t port;
	struct rte_mempool *rx_pool, *tx_pool;
	struct frame_endpoint me;
	uint32_t frame_len;
	uint8_t hdr[ICPERF_HDR_LEN];
	int tx_cpu;          /* --cpu of the sending thread, -1 if not given */
	unsigned tx_lcore;   /* worker lcore for the client's sender, RTE_MAX_LCORE if none */
	/* Sending thread only (a cache line of its own: the client's threads run at once). */
	alignas(64) struct rte_mbuf *tx_mbufs[ICPERF_MAX_BURST];
	bool tx_thread_ready;
	bool tx_used;
	/* Receiving thread only. */
	alignas(64) struct rte_mbuf *rx_mbufs[ICPERF_MAX_BURST];
	struct rte_mbuf *kept[ICPERF_MAX_BURST];
	struct rte_mbuf *unwanted[ICPERF_MAX_BURST];
	unsigned echo_sent; /* kept[0..echo_sent-1] belong to the driver now */
	bool echo_used;
};

/* A thread that EAL did not start has no lcore id and so no mempool cache: register it.
 * The client's sender goes to the worker lcore's CPUs unless --cpu placed it already. */
static void dpdk_tx_thread_init(struct dpdk_transport *d)
{
	d->tx_thread_ready = true;
	if (rte_lcore_id() != LCORE_ID_ANY)
		return;
	if (d->tx_cpu < 0 && d->tx_lcore < RTE_MAX_LCORE) {
		rte_cpuset_t set = rte_lcore_cpuset(d->tx_lcore);
		int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (err)
			fprintf(stderr, "icperf: dpdk: cannot move the sender to lcore %u: %s\n",
				d->tx_lcore, strerror(err));
	}
	if (rte_thread_register() < 0)
		fprintf(stderr, "icperf: dpdk: sender thread not registered with EAL (%s): "
			"its mbufs bypass the mempool cache\n", rte_strerror(rte_errno));
}

static unsigned dpdk_tx_prepare(struct transport *t, unsigned n)
{
	struct dpdk_transport *d = (struct dpdk_transport *)t;
	if (unlikely(!d->tx_thread_ready))
		dpdk_tx_thread_init(d);
	if (unlikely(rte_pktmbuf_alloc_bulk(d->tx_pool, d->tx_mbufs, n) != 0)) {
		/* An empty pool: take what is left, one by one. */
		unsigned got = 0;
		while (got < n && (d->tx_mbufs[got] = rte_pktmbuf_alloc(d->tx_pool)) != NULL)
			got++;
		n = got;
	}
	const uint32_t len = d->frame_len;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = d->tx_mbufs[i];
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
		t->tx_payload[i] = rte_pktmbuf_mtod(m, uint8_t *) + ICPERF_HDR_LEN;
	}
	return n;
}

static unsigned dpdk_tx_commit(struct transport *t, unsigned n)
{
	struct dpdk_transport *d = (struct dpdk_transport *)t;
	if (unlikely(n == 0))
		return 0;
	d->tx_used = true;
	unsigned k = rte_eth_tx_burst(d->port, 0, d->tx_mbufs, (uint16_t)n);
	if (k < n)
		rte_pktmbuf_free_bulk(d->tx_mbufs + k, n - k);
	return k;
}

/* rte_eth_tx_burst() takes the whole burst: one stamp, as late as possible. */
static unsigned dpdk_tx_commit_stamped(struct transport *t, unsigned n)
{
	const uint64_t ts = clock_now_ns();
	for (unsigned i = 0; i < n; i++)
		payload_put_ts(t->tx_payload[i], ts);
	return dpdk_tx_commit(t, n);
}

static unsigned dpdk_rx_burst(struct transport *t)
{
	struct dpdk_transport *d = (struct dpdk_transport *)t;
	unsigned got = rte_eth_rx_burst(d->port, 0, d->rx_mbufs, (uint16_t)t->burst);
	unsigned n = 0, drop = 0;
	/* The frames were written by another core: start every cache miss before the first
	 * header is read. */
	for (unsigned i = 0; i < got; i++)
		rte_prefetch0(rte_pktmbuf_mtod(d->rx_mbufs[i], void *));
	for (unsigned i = 0; i < got; i++) {
		struct rte_mbuf *m = d->rx_mbufs[i];
		uint32_t plen;
		uint8_t *p = frame_payload_for(&d->me, rte_pktmbuf_mtod(m, uint8_t *),
					       rte_pktmbuf_data_len(m), &plen);
		if (!p) {
			d->unwanted[drop++] = m;
			continue;
		}
		t->rx_payload[n] = p;
		t->rx_len[n] = plen;
		d->kept[n++] = m;
	}
	if (drop)
		rte_pktmbuf_free_bulk(d->unwanted, drop);
	return n;
}

static void dpdk_rx_release(struct transport *t, unsigned n)
{
	struct dpdk_transport *d = (struct dpdk_transport *)t;
	if (n > d->echo_sent)
		rte_pktmbuf_free_bulk(d->kept + d->echo_sent, n - d->echo_sent);
	d->echo_sent = 0;
}

static unsigned dpdk_echo(struct transport *t, unsigned n)
{
	struct dpdk_transport *d = (struct dpdk_transport *)t;
	for (unsigned i = 0; i < n; i++)
		frame_swap_endpoints(rte_pktmbuf_mtod(d->kept[i], uint8_t *));
	unsigned k = n ? rte_eth_tx_burst(d->port, 0, d->kept, (uint16_t)n) : 0;
	d->echo_sent = k;
	d->echo_used |= k > 0;
	return k;
}

/* The queues hold mbufs of the pools: the port is closed before they are freed. */
static void dpdk_release_port(struct dpdk_transport *d, bool started)
{
	if (started)
		rte_eth_dev_stop(d->port);
	rte_eth_dev_close(d->port);
	rte_mempool_free(d->rx_pool);
	rte_mempool_free(d->tx_pool);
}

static void dpdk_close(struct transport *t)
{
	struct dpdk_transport *d = (struct dpdk_transport *)t;
	if (d->tx_used || d->echo_used) {
		long left = dpdk_tx_drain(d->port, 0, TX_DRAIN_TIMEOUT_MS, TX_DRAIN_MS);
		if (left > 0)
			fprintf(stderr, "icperf: dpdk: port %u closes with %ld frames counted as "
				"sent still in its transmit ring: the peer took none of them within "
				"%u ms\n", d->port, left, TX_DRAIN_TIMEOUT_MS);
	}
	dpdk_release_port(d, true);
	free(d);
	rte_eal_cleanup();
}

static const struct transport_ops dpdk_ops = {
	.name = "dpdk",
	.tx_prepare = dpdk_tx_prepare,
	.tx_commit = dpdk_tx_commit,
	.tx_commit_stamped = dpdk_tx_commit_stamped,
	.rx_burst = dpdk_rx_burst,
	.rx_release = dpdk_rx_release,
	.echo = dpdk_echo,
	.close = dpdk_close,
};

/* Every mbuf of the transmit pool holds a whole frame: headers, then a zero payload. */
static void write_template(struct rte_mempool *mp, void *arg, void *obj, unsigned idx)
{
	(void)mp;
	(void)idx;
	const struct dpdk_transport *d = arg;
	struct rte_mbuf *m = obj;
	uint8_t *f = (uint8_t *)m->buf_addr + RTE_PKTMBUF_HEADROOM;
	memset(f, 0, d->frame_len);
	memcpy(f, d->hdr, ICPERF_HDR_LEN);
}

static struct rte_mempool *make_pool(const char *name, unsigned count, uint16_t data_room,
				     int socket)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(name, count, POOL_CACHE, 0, data_room,
							 socket);
	if (!mp)
		fprintf(stderr, "icperf: dpdk: cannot create the %u-mbuf pool %s: %s (give EAL "
			"more memory, e.g. -m 512, or a smaller --ring)\n", count, name,
			rte_strerror(rte_errno));
	return mp;
}

/* A NIC's link takes a moment to come up after the port starts, and a vhost port only when
 * its peer connects: a sender starts when the port can carry frames, or after LINK_WAIT_MS.
 * (A receiver misses nothing by starting at once.) */
static bool wait_link_up(uint16_t port)
{
	for (unsigned waited = 0;; waited += 10) {
		struct rte_eth_link link;
		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status)
			return true;
		if (waited >= LINK_WAIT_MS || g_stop)
			return false;
		rte_delay_us_sleep(10000);
	}
}

/* Pools hold the ring they feed, what is in flight in a burst, and the per-lcore caches. */
static int dpdk_setup_port(struct dpdk_transport *d, const struct options *o)
{
	const uint16_t port = d->port;
	int socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	int rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc < 0) {
		fprintf(stderr, "icperf: dpdk: port %u: cannot configure one rx and one tx queue: "
			"%s\n", port, rte_strerror(-rc));
		return 1;
	}
	/* The sender never polls its receive queue: it gets the smallest ring the port takes
	 * and a small pool. A NIC's driver fills its whole receive ring with mbufs when the
	 * port starts (an 82576 VF's, up to 4096 descriptors, from a pool of 512 failed). */
	uint16_t nrx = o->role == ROLE_SEND ? SEND_RX_RING : (uint16_t)o->ring;
	uint16_t ntx = (uint16_t)o->ring;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	const unsigned slack = 2 * o->burst + 3 * POOL_CACHE;
	unsigned rx_count = o->role == ROLE_SEND ? nrx + slack + 512u : nrx + slack;
	if (o->role == ROLE_SERVER)
		rx_count += ntx; /* echoed frames wait in the transmit ring */
	d->rx_pool = make_pool("icperf_rx", rx_count, RX_DATA_ROOM, socket);
	if (!d->rx_pool)
		return 1;
	if (o->role == ROLE_SEND || o->role == ROLE_CLIENT) {
		uint16_t room = (uint16_t)RTE_ALIGN_CEIL(RTE_PKTMBUF_HEADROOM + d->frame_len, 64);
		d->tx_pool = make_pool("icperf_tx", ntx + slack, room, socket);
		if (!d->tx_pool)
			return 1;
		rte_mempool_obj_iter(d->tx_pool, write_template, d);
	}
	rc = rte_eth_rx_queue_setup(port, 0, nrx, (unsigned)socket, NULL, d->rx_pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, ntx, (unsigned)socket, NULL);
	if (rc < 0) {
		fprintf(stderr, "icperf: --ring %u: port %u refused its queues (%u rx, %u tx "
			"descriptors): %s\n", o->ring, port, nrx, ntx, rte_strerror(-rc));
		return 1;
	}
	/* A switch port sees frames for every address; the filter is rx_burst's. */
	rte_eth_promiscuous_enable(port);
	rc = rte_eth_dev_start(port);
	if (rc < 0) {
		fprintf(stderr, "icperf: dpdk: port %u does not start: %s\n", port,
			rte_strerror(-rc));
		return 1;
	}
	char name[RTE_ETH_NAME_MAX_LEN] = "?";
	rte_eth_dev_get_name_by_port(port, name);
	bool sends = o->role == ROLE_SEND || o->role == ROLE_CLIENT;
	bool up = sends ? wait_link_up(port) : true;
	fprintf(stderr, "icperf: %s: port %u (%s), %u rx and %u tx descriptors%s\n", o->applet,
		port, name, nrx, ntx, up ? "" : ", link still down: starting anyway");
	return 0;
}

static void dpdk_wire(struct dpdk_transport *d, const struct options *o)
{
	d->base.ops = &dpdk_ops;
	d->base.burst = o->burst;
	d->base.payload_len = options_payload_len(o);
	d->base.tx_stamp = "per-burst";
	d->frame_len = o->pkt_size;
	memcpy(d->me.mac, o->local_mac, 6);
	d->me.ip = o->local_ip.s_addr;
	d->me.port = htons((uint16_t)o->port);
	struct frame_endpoint dst = { .ip = o->remote_ip.s_addr, .port = d->me.port };
	memcpy(dst.mac, o->remote_mac, 6);
	uint8_t frame[ICPERF_MAX_FRAME];
	frame_build(frame, d->frame_len, &d->me, &dst);
	memcpy(d->hdr, frame, ICPERF_HDR_LEN);
	d->tx_cpu = o->cpu;
	d->tx_lcore = RTE_MAX_LCORE;
	if (o->role == ROLE_CLIENT) {
		unsigned worker = rte_get_next_lcore(-1, 1, 0);
		if (worker < RTE_MAX_LCORE)
			d->tx_lcore = worker;
		else if (o->cpu < 0)
			fprintf(stderr, "icperf: %s: EAL has one lcore: the sender and receiver "
				"threads share its CPU (give two, e.g. -l 0,1, or --cpu N,M)\n",
				o->applet);
	}
}

int transport_dpdk_open(const struct options *o, struct transport **out)
{
	/* virtio-user writes to its vhost-user socket when the port stops: a switch that has
	 * gone away must not kill the applet with SIGPIPE at the end of its run. */
	signal(SIGPIPE, SIG_IGN);
	char *log;
	int rc = dpdk_eal_init(o, &log);
	if (rc)
		return rc;
	uint16_t count = rte_eth_dev_count_avail();
	uint64_t port = rte_eth_find_next_owned_by(0, RTE_ETH_DEV_NO_OWNER);
	if (port >= RTE_MAX_ETHPORTS) {
		char why[512];
		dpdk_eal_reason(log, false, why, sizeof(why));
		fprintf(stderr, "icperf: %s: EAL found no Ethernet port%s%s (give one after --, "
			"e.g. --vdev=net_virtio_user0,path=SOCKET or -a PCI_ADDRESS)\n", o->applet,
			why[0] ? ": " : "", why);
		free(log);
		rte_eal_cleanup();
		return 1;
	}
	if (log)
		fputs(log, stderr);
	free(log);
	if (count > 1)
		fprintf(stderr, "icperf: %s: EAL found %u ports, using port %u\n", o->applet,
			count, (unsigned)port);
	struct dpdk_transport *d = aligned_alloc(64, sizeof(*d));
	if (!d) {
		fprintf(stderr, "icperf: %s: out of memory\n", o->applet);
		rte_eal_cleanup();
		return 1;
	}
	memset(d, 0, sizeof(*d));
	d->port = (uint16_t)port;
	dpdk_wire(d, o);
	if (dpdk_setup_port(d, o)) {
		dpdk_release_port(d, false);
		free(d);
		rte_eal_cleanup();
		return 1;
	}
	*out = &d->base;
	return 0;
}
