/*
 * rate - how many events in the last minute: 60 one-second buckets, each
 * stamped with its second, so a quiet stretch costs nothing and a bucket
 * from a minute ago is never counted.  The caller passes the time (in
 * seconds of any monotonic clock), so this is pure and never fails.
 */
#ifndef OWL_RATE_H
#define OWL_RATE_H

#include <stdint.h>

#define RATE_SECONDS 60

struct rate60 {
	uint64_t sec[RATE_SECONDS];	/* the second bucket i counts */
	uint32_t n[RATE_SECONDS];
};

/* Counts n events at second now. */
void rate60_add(struct rate60 *r, uint64_t now, uint32_t n);
/* The events of the 60 seconds up to and including now. */
uint64_t rate60_sum(const struct rate60 *r, uint64_t now);

#endif
