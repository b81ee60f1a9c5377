/* A frame that rte_eth_tx_burst() accepted is counted as sent, but it stays in the transmit
 * ring until the peer (the switch) takes it: stopping the port before then loses it, and
 * nothing counts it. A switch busy elsewhere at the end of a run (Snabb with five pollers
 * on one core) once left a whole ring, 8192 frames, behind a fixed 100 ms wait.
 *
 * virtio (net_virtio_user: how the lab's containers reach every vhost-user switch)
 * implements neither rte_eth_tx_done_cleanup() nor rte_eth_tx_descriptor_status() in
 * DPDK 22.11 (both return -ENOTSUP), and frees transmitted mbufs only when its ring runs
 * short. Its ring itself tells: DPDK's virtio driver keeps queue q's transmit virtqueue in
 * the memzone "port<P>_vq<2q+1>", laid out as the virtio specification's split virtqueue,
 * and the peer has taken every frame once the used ring's index has reached the available
 * ring's. Other drivers, and a ring not recognised, get the fixed wait. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_memzone.h>

#include "transport_dpdk_drain.h"

/* Split virtqueue (virtio 1.x section 2.7, legacy layout, 4096-byte alignment): the
 * descriptor table (16 bytes each), the available ring {flags, idx, ring[num], used_event}
 * and, aligned, the used ring {flags, idx, ring[num] of 8 bytes, avail_event}. */
#define VRING_ALIGN 4096u
#define VRING_MAX 32768u

static size_t used_offset(size_t num)
{
	return RTE_ALIGN_CEIL(16 * num + 2 * (3 + num), VRING_ALIGN);
}

static size_t split_ring_size(size_t num)
{
	return RTE_ALIGN_CEIL(used_offset(num) + 2 * 3 + 8 * num, VRING_ALIGN);
}

struct split_ring {
	const volatile uint16_t *avail_idx, *used_idx;
	unsigned num;
};

/* The ring's size is not published: it is the one power of two whose layout fills the
 * memzone (small rings share a size: those are left to the fixed wait). */
static bool find_virtio_ring(uint16_t port, uint16_t queue, struct split_ring *r)
{
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(port, &info) != 0 || !info.driver_name ||
	    !strstr(info.driver_name, "virtio"))
		return false;
	char name[RTE_MEMZONE_NAMESIZE];
	snprintf(name, sizeof(name), "port%u_vq%u", (unsigned)port, 2u * queue + 1u);
	const struct rte_memzone *mz = rte_memzone_lookup(name);
	if (!mz || (uintptr_t)mz->addr % VRING_ALIGN)
		return false;
	unsigned num = 0;
	for (unsigned n = 1; n <= VRING_MAX; n <<= 1) {
		if (split_ring_size(n) != mz->len)
			continue;
		if (num)
			return false;
		num = n;
	}
	if (!num)
		return false;
	const uint8_t *base = mz->addr;
	r->avail_idx = (const volatile uint16_t *)(base + 16 * (size_t)num + 2);
	r->used_idx = (const volatile uint16_t *)(base + used_offset(num) + 2);
	r->num = num;
	return true;
}

/* Frames the driver made available that the peer has not used yet; more than the ring
 * holds means the memory is not laid out as expected. */
static long split_ring_pending(const struct split_ring *r)
{
	uint16_t used = *r->used_idx;
	rte_smp_rmb();
	uint16_t avail = *r->avail_idx;
	uint16_t pending = (uint16_t)(avail - used);
	return pending <= r->num ? (long)pending : -1;
}

long dpdk_tx_drain(uint16_t port, uint16_t queue, unsigned timeout_ms, unsigned fallback_ms)
{
	struct split_ring ring;
	long left = find_virtio_ring(port, queue, &ring) ? split_ring_pending(&ring) : -1;
	if (left < 0) {
		rte_delay_us_sleep(fallback_ms * 1000u);
		return -1;
	}
	for (unsigned waited = 0; left > 0 && waited < timeout_ms; waited++) {
		rte_delay_us_sleep(1000);
		left = split_ring_pending(&ring);
	}
	return left;
}
