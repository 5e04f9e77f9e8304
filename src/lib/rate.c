/*
 * rate - see rate.h.
 */
#include "rate.h"

void
rate60_add(struct rate60 *r, uint64_t now, uint32_t n)
{
	unsigned i = (unsigned)(now % RATE_SECONDS);

	if (r->sec[i] != now) {
		r->sec[i] = now;
		r->n[i] = 0;
	}
	r->n[i] = r->n[i] > UINT32_MAX - n ? UINT32_MAX : r->n[i] + n;
}

uint64_t
rate60_sum(const struct rate60 *r, uint64_t now)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < RATE_SECONDS; i++)
		if (r->n[i] != 0 && r->sec[i] <= now &&
		    now - r->sec[i] < RATE_SECONDS)
			sum += r->n[i];
	return sum;
}
