/*
 * anvil - see anvil.h.  The rate is counted in fixed one-minute windows,
 * as Postfix counts it per anvil_rate_time_unit (60s): the first
 * connection after a window ended opens the next one at zero.
 */
#include "anvil.h"

#include <limits.h>
#include <stdlib.h>

#include "../lib/buf.h"
#include "../lib/ktab.h"

#define ADDR_MAX 63		/* "ffff:...:255.255.255.255" fits */
#define RATE_WINDOW 60		/* seconds */
#define SPARE 1024		/* records beyond max_total */

struct rec {
	unsigned sessions;
	unsigned rate;		/* connections since window */
	uint64_t window;	/* start of the current minute */
};

struct anvil {
	struct ktab *tab;	/* NULL: both limits off */
	unsigned max_per_addr, rate_per_min;
};

struct anvil *
anvil_new(unsigned max_total, unsigned max_per_addr, unsigned rate_per_min,
	  uint64_t seed)
{
	struct anvil *a = xcalloc(1, sizeof(*a));

	a->max_per_addr = max_per_addr;
	a->rate_per_min = rate_per_min;
	if (max_per_addr != 0 || rate_per_min != 0)
		a->tab = ktab_new((size_t)max_total + SPARE, ADDR_MAX,
				  sizeof(struct rec), seed);
	return a;
}

void
anvil_free(struct anvil **ap)
{
	if (*ap == NULL)
		return;
	ktab_free(&(*ap)->tab);
	free(*ap);
	*ap = NULL;
}

/* Only a record without open sessions may make room for another. */
static bool
idle(const void *rec, void *arg)
{
	(void)arg;
	return ((const struct rec *)rec)->sessions == 0;
}

enum anvil_res
anvil_connect(struct anvil *a, const char *addr, uint64_t now_s,
	      unsigned *count_r)
{
	struct rec *r;

	*count_r = 0;
	if (a->tab == NULL ||
	    (r = ktab_add(a->tab, addr, idle, NULL)) == NULL)
		return ANVIL_OK; /* off, or (sized out) cannot be counted */
	if (r->rate == 0 || now_s - r->window >= RATE_WINDOW) {
		r->window = now_s;
		r->rate = 0;
	}
	if (r->rate < UINT_MAX)
		r->rate++;
	if (a->max_per_addr != 0 && r->sessions >= a->max_per_addr) {
		*count_r = r->sessions;
		return ANVIL_TOO_MANY;
	}
	if (a->rate_per_min != 0 && r->rate > a->rate_per_min) {
		*count_r = r->rate;
		return ANVIL_TOO_FAST;
	}
	r->sessions++;
	return ANVIL_OK;
}

void
anvil_disconnect(struct anvil *a, const char *addr)
{
	struct rec *r;

	if (a->tab == NULL || (r = ktab_find(a->tab, addr)) == NULL ||
	    r->sessions == 0)
		return;
	/* without a rate to keep, an idle address needs no record */
	if (--r->sessions == 0 && a->rate_per_min == 0)
		ktab_remove(a->tab, addr);
}

unsigned
anvil_sessions(const struct anvil *a, const char *addr)
{
	const struct rec *r = a->tab ? ktab_find(a->tab, addr) : NULL;

	return r ? r->sessions : 0;
}
