/* Ethernet/IPv4/UDP frames built and checked in user space (raw sockets, DPDK). */
#ifndef ICPERF_FRAME_H
#define ICPERF_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "payload.h"

#define ETH_HDR_LEN 14
#define IPV4_HDR_LEN 20
#define UDP_HDR_LEN 8

/* Who a frame must be addressed to; ip and port in network byte order. */
struct frame_endpoint {
	uint8_t mac[6];
	uint32_t ip;
	uint16_t port;
};

/* Writes the 42 header bytes of a frame of frame_len bytes (without FCS) from src to dst,
 * with a valid IPv4 header checksum and UDP checksum 0 (none). */
void frame_build(uint8_t *f, uint32_t frame_len, const struct frame_endpoint *src,
		 const struct frame_endpoint *dst);

uint16_t frame_ipv4_checksum(const uint8_t *ip, unsigned len);

/* The UDP payload of frame f (len bytes) if it is an unfragmented IPv4/UDP frame addressed to
 * `me` carrying an icperf payload, else NULL. */
static inline uint8_t *frame_payload_for(const struct frame_endpoint *me, uint8_t *f,
					 uint32_t len, uint32_t *payload_len)
{
	if (len < ETH_HDR_LEN + IPV4_HDR_LEN + UDP_HDR_LEN + PAYLOAD_HDR_LEN)
		return NULL;
	if (memcmp(f, me->mac, 6) != 0 || f[12] != 0x08 || f[13] != 0x00)
		return NULL;
	const uint8_t *ip = f + ETH_HDR_LEN;
	unsigned ihl = (ip[0] & 0x0fu) * 4u;
	if ((ip[0] >> 4) != 4 || ihl < IPV4_HDR_LEN || ip[9] != 17)
		return NULL;
	if ((ip[6] & 0x3f) || ip[7]) /* more fragments, or not the first fragment */
		return NULL;
	if (memcmp(ip + 16, &me->ip, 4) != 0)
		return NULL;
	unsigned total = (unsigned)ip[2] << 8 | ip[3];
	if (total > len - ETH_HDR_LEN || total < ihl + UDP_HDR_LEN)
		return NULL;
	uint8_t *udp = f + ETH_HDR_LEN + ihl;
	if (memcmp(udp + 2, &me->port, 2) != 0)
		return NULL;
	unsigned ulen = (unsigned)udp[4] << 8 | udp[5];
	if (ulen < UDP_HDR_LEN || ihl + ulen > total)
		return NULL;
	uint8_t *payload = udp + UDP_HDR_LEN;
	if (!payload_is_icperf(payload, ulen - UDP_HDR_LEN))
		return NULL;
	*payload_len = ulen - UDP_HDR_LEN;
	return payload;
}

static inline void swap_bytes(uint8_t *a, uint8_t *b, unsigned n)
{
	uint8_t tmp[6];
	memcpy(tmp, a, n);
	memcpy(a, b, n);
	memcpy(b, tmp, n);
}

/* Turns a received frame into its reply: MACs, IPv4 addresses and UDP ports swapped. Both
 * checksums stay valid because a one's-complement sum does not depend on word order. */
static inline void frame_swap_endpoints(uint8_t *f)
{
	uint8_t *ip = f + ETH_HDR_LEN;
	uint8_t *udp = ip + (ip[0] & 0x0fu) * 4u;
	swap_bytes(f, f + 6, 6);
	swap_bytes(ip + 12, ip + 16, 4);
	swap_bytes(udp, udp + 2, 2);
}

#endif
