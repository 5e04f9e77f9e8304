/*
 * pick - see pick.h.
 */
#include "pick.h"

void
pick_init(struct pick *p, bool fresh)
{
	*p = (struct pick){.fresh = fresh};
}

void
pick_add(struct pick *p, void *route, const struct pick_route *rt)
{
	if (!rt->started) {
		if (p->own == NULL)
			p->own = route;
		return;
	}
	p->n++;
	if (p->fresh || !rt->open)
		return;
	if (rt->idle && p->idle == NULL)
		p->idle = route;
	if (p->least == NULL || rt->queued < p->least_queued) {
		p->least = route;
		p->least_queued = rt->queued;
	}
}

enum pick_what
pick_done(const struct pick *p, const struct pick_limits *l, void **route_r,
	  bool *evict_r)
{
	*evict_r = false;
	*route_r = p->own != NULL ? p->own : p->idle;
	if (*route_r != NULL)
		return PICK_ROUTE;
	if (p->n < l->per_dest) {
		if (l->now < l->total)
			return PICK_NEW;
		*evict_r = true;
	}
	*route_r = p->least;
	return p->least != NULL ? PICK_ROUTE : PICK_NONE;
}
