/* Sequence accounting of the receiver.
 *
 * Let H be the highest sequence number received so far (none before the first packet;
 * numbering starts at 0, so packets before the first one received are lost too).
 * For each received packet with sequence number s:
 *   s > H (or first):      in order; the s - (H+1) numbers skipped are counted as lost.
 *   H - W < s <= H, seen:  duplicated.
 *   H - W < s <= H, new:   reordered (late); it was counted lost when skipped, so lost
 *                          is decremented: lost is a net count and a per-second value can
 *                          be negative when a gap opened in an earlier second is filled.
 *   s <= H - W:            too late to tell a late packet from a duplicate: counted as
 *                          reordered, lost is left as is.
 * W (SEQ_WINDOW) is the number of recent sequence numbers remembered in a bitmap.
 * Every received packet is also counted in rx, duplicates included, so with no packet
 * older than the window: rx = (H + 1) - lost + duplicated. */
#ifndef ICPERF_SEQTRACK_H
#define ICPERF_SEQTRACK_H

#include <stdbool.h>
#include <stdint.h>

#define SEQ_WINDOW 65536u /* bits; a power of two */

struct seq_counts {
	int64_t lost;
	uint64_t reordered, duplicated;
};

struct seqtrack {
	uint64_t next;      /* H + 1, 0 before the first packet */
	uint64_t bits[SEQ_WINDOW / 64];
};

void seqtrack_init(struct seqtrack *st);

/* Marks the ring bits of [from, from + count) as not received. */
void seqtrack_clear(struct seqtrack *st, uint64_t from, uint64_t count);

static inline bool seq_bit_test_set(struct seqtrack *st, uint64_t s)
{
	uint64_t *w = &st->bits[(s % SEQ_WINDOW) / 64];
	uint64_t m = 1ULL << (s % 64);
	bool was = *w & m;
	*w |= m;
	return was;
}

static inline void seqtrack_observe(struct seqtrack *st, uint64_t s, struct seq_counts *c)
{
	if (__builtin_expect(s >= st->next, 1)) {
		uint64_t gap = s - st->next;
		if (gap)
			seqtrack_clear(st, st->next, gap);
		st->bits[(s % SEQ_WINDOW) / 64] |= 1ULL << (s % 64);
		c->lost += (int64_t)gap;
		st->next = s + 1;
	} else if (st->next - s <= SEQ_WINDOW) {
		if (seq_bit_test_set(st, s)) {
			c->duplicated++;
		} else {
			c->reordered++;
			c->lost--;
		}
	} else {
		c->reordered++;
	}
}

#endif
