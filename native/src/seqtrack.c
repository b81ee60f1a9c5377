#include "seqtrack.h"

#include <string.h>

void seqtrack_init(struct seqtrack *st)
{
	memset(st, 0, sizeof(*st));
}

void seqtrack_clear(struct seqtrack *st, uint64_t from, uint64_t count)
{
	if (count >= SEQ_WINDOW) {
		memset(st->bits, 0, sizeof(st->bits));
		return;
	}
	uint64_t s = from;
	uint64_t end = from + count;
	while (s < end && s % 64)
		st->bits[(s % SEQ_WINDOW) / 64] &= ~(1ULL << (s % 64)), s++;
	while (end - s >= 64)
		st->bits[(s % SEQ_WINDOW) / 64] = 0, s += 64;
	while (s < end)
		st->bits[(s % SEQ_WINDOW) / 64] &= ~(1ULL << (s % 64)), s++;
}
