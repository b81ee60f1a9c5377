#include "payload.h"

static void fill_header(uint8_t *p, uint32_t len, uint64_t seq, uint64_t ts_ns)
{
	(void)len;
	payload_put_header(p, seq, ts_ns);
}

/* -c: every byte after the header is written, with a pattern that changes per packet. */
static void fill_all(uint8_t *p, uint32_t len, uint64_t seq, uint64_t ts_ns)
{
	payload_put_header(p, seq, ts_ns);
	uint8_t v = (uint8_t)seq;
	for (uint32_t i = PAYLOAD_HDR_LEN; i < len; i++)
		p[i] = v++;
}

static uint64_t read_header(const uint8_t *p, uint32_t len)
{
	(void)p;
	(void)len;
	return 0;
}

/* -c: every byte of the payload is read and summed. */
static uint64_t read_all(const uint8_t *p, uint32_t len)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < len; i++)
		sum += p[i];
	return sum;
}

payload_fill_fn payload_filler(bool consume)
{
	return consume ? fill_all : fill_header;
}

payload_read_fn payload_reader(bool consume)
{
	return consume ? read_all : read_header;
}
