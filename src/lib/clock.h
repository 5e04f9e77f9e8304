/*
 * clock - the monotonic clock in the units owlpost counts in, one place
 * for what net/, owld/ and the tests each wrote themselves.  Never fails
 * (CLOCK_MONOTONIC is always there on Linux).
 */
#ifndef OWL_CLOCK_H
#define OWL_CLOCK_H

#include <stdint.h>

/* Milliseconds and microseconds since an arbitrary fixed point. */
uint64_t mono_ms(void);
uint64_t mono_us(void);

#endif
