/* UDP payload layout (docs/records.md, "Packet layout"): seq u64 LE, timestamp ns u64 LE,
 * magic u32 LE, then SIZE-42-20 bytes that only -c writes and reads. */
#ifndef ICPERF_PAYLOAD_H
#define ICPERF_PAYLOAD_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PAYLOAD_MAGIC 0x69637066u /* "icpf" */
#define PAYLOAD_HDR_LEN 20

static inline void payload_put_header(uint8_t *p, uint64_t seq, uint64_t ts_ns)
{
	uint64_t s = htole64(seq), t = htole64(ts_ns);
	uint32_t m = htole32(PAYLOAD_MAGIC);
	memcpy(p, &s, 8);
	memcpy(p + 8, &t, 8);
	memcpy(p + 16, &m, 4);
}

/* Rewrites only the send timestamp of a payload whose header is written. */
static inline void payload_put_ts(uint8_t *p, uint64_t ts_ns)
{
	uint64_t t = htole64(ts_ns);
	memcpy(p + 8, &t, 8);
}

static inline bool payload_is_icperf(const uint8_t *p, uint32_t len)
{
	uint32_t m;
	if (len < PAYLOAD_HDR_LEN)
		return false;
	memcpy(&m, p + 16, 4);
	return le32toh(m) == PAYLOAD_MAGIC;
}

static inline uint64_t payload_seq(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline uint64_t payload_ts(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p + 8, 8);
	return le64toh(v);
}

/* Writes one payload of len bytes. */
typedef void (*payload_fill_fn)(uint8_t *p, uint32_t len, uint64_t seq, uint64_t ts_ns);
/* Reads one received payload; returns a value the caller accumulates so that the reads of
 * -c cannot be optimised away. */
typedef uint64_t (*payload_read_fn)(const uint8_t *p, uint32_t len);

/* Chosen once per run from -c. */
payload_fill_fn payload_filler(bool consume);
payload_read_fn payload_reader(bool consume);

#endif
