#include "frame.h"

uint16_t frame_ipv4_checksum(const uint8_t *ip, unsigned len)
{
	uint32_t sum = 0;
	for (unsigned i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void frame_build(uint8_t *f, uint32_t frame_len, const struct frame_endpoint *src,
		 const struct frame_endpoint *dst)
{
	memcpy(f, dst->mac, 6);
	memcpy(f + 6, src->mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;

	uint8_t *ip = f + ETH_HDR_LEN;
	uint16_t total = (uint16_t)(frame_len - ETH_HDR_LEN);
	memset(ip, 0, IPV4_HDR_LEN);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[6] = 0x40; /* DF: every frame is a whole datagram, so the ID may stay 0 (RFC 6864) */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &src->ip, 4);
	memcpy(ip + 16, &dst->ip, 4);
	uint16_t csum = frame_ipv4_checksum(ip, IPV4_HDR_LEN);
	ip[10] = (uint8_t)(csum >> 8);
	ip[11] = (uint8_t)csum;

	uint8_t *udp = ip + IPV4_HDR_LEN;
	uint16_t ulen = (uint16_t)(total - IPV4_HDR_LEN);
	memcpy(udp, &src->port, 2);
	memcpy(udp + 2, &dst->port, 2);
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = 0;
	udp[7] = 0;
}
