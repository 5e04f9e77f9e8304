/*
 * penalty - see penalty.h.  Keys in the one table: "a " + address,
 * "u " + account, "p " + account + " " + address (an address has no
 * space, so no two keys of different kinds or pairs are equal).  Keys
 * are never cut: accounts are at most ADDR_PATH_MAX octets (owld_cred)
 * and addresses at most 63.
 */
#include "penalty.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/addr.h"
#include "../lib/buf.h"
#include "../lib/ktab.h"

#define ADDR_MAX 63
#define KEY_MAX (2 + ADDR_PATH_MAX + 1 + ADDR_MAX)

struct rec {
	unsigned fails;
	uint64_t last;		/* ms of the last failure */
};

struct penalty {
	struct ktab *tab;	/* NULL: off */
	unsigned base_ms, max_ms;
	uint64_t window_ms;
};

struct penalty *
penalty_new(unsigned base_ms, unsigned max_ms, unsigned window_s,
	    uint64_t seed)
{
	struct penalty *p = xcalloc(1, sizeof(*p));

	p->base_ms = base_ms;
	p->max_ms = max_ms;
	p->window_ms = (uint64_t)window_s * 1000;
	if (base_ms != 0 && max_ms != 0)
		p->tab = ktab_new(PENALTY_SLOTS, KEY_MAX, sizeof(struct rec),
				  seed);
	return p;
}

void
penalty_free(struct penalty **pp)
{
	if (*pp == NULL)
		return;
	ktab_free(&(*pp)->tab);
	free(*pp);
	*pp = NULL;
}

unsigned
penalty_delay(const struct penalty *p, unsigned failures)
{
	uint64_t d;

	if (failures == 0 || p->tab == NULL)
		return 0;
	d = (uint64_t)p->base_ms << (failures > 33 ? 32 : failures - 1);
	return d < p->max_ms ? (unsigned)d : p->max_ms;
}

static void
addr_key(char *key, const char *addr)
{
	snprintf(key, KEY_MAX + 1, "a %s", addr);
}

static void
user_key(char *key, const char *user)
{
	snprintf(key, KEY_MAX + 1, "u %s", user);
}

static void
pair_key(char *key, const char *user, const char *addr)
{
	snprintf(key, KEY_MAX + 1, "p %s %s", user, addr);
}

static bool
expired(const struct penalty *p, const struct rec *r, uint64_t now)
{
	return now > r->last && now - r->last >= p->window_ms;
}

/* The record of key if its failures are still remembered at now. */
static const struct rec *
live(const struct penalty *p, const char *key, uint64_t now)
{
	const struct rec *r = ktab_find(p->tab, key);

	if (r == NULL || r->fails == 0 || expired(p, r, now))
		return NULL;
	return r;
}

/* max(*nb, r's last failure + its delay), keeping the count that won. */
static void
later(const struct penalty *p, const struct rec *r, uint64_t *nb,
      unsigned *failures_r)
{
	uint64_t t;

	if (r == NULL)
		return;
	t = r->last + penalty_delay(p, r->fails);
	if (t > *nb) {
		*nb = t;
		*failures_r = r->fails;
	}
}

uint64_t
penalty_not_before(const struct penalty *p, const char *addr,
		   const char *user, uint64_t now_ms, unsigned *failures_r)
{
	char key[KEY_MAX + 1];
	uint64_t nb = now_ms;

	*failures_r = 0;
	if (p->tab == NULL)
		return nb;
	addr_key(key, addr);
	later(p, live(p, key, now_ms), &nb, failures_r);
	pair_key(key, user, addr);
	if (live(p, key, now_ms) != NULL) {
		user_key(key, user);
		later(p, live(p, key, now_ms), &nb, failures_r);
	}
	return nb;
}

/* One more failure of key at now (a forgotten count starts again). */
static unsigned
count_failure(struct penalty *p, const char *key, uint64_t now)
{
	struct rec *r = ktab_add(p->tab, key, NULL, NULL);

	if (r == NULL)
		return 0;
	if (expired(p, r, now))
		r->fails = 0;
	if (r->fails < UINT_MAX)
		r->fails++;
	r->last = now;
	return r->fails;
}

unsigned
penalty_failed(struct penalty *p, const char *addr, const char *user,
	       uint64_t now_ms)
{
	char key[KEY_MAX + 1];
	unsigned n;

	if (p->tab == NULL)
		return 0;
	user_key(key, user);
	count_failure(p, key, now_ms);
	pair_key(key, user, addr);
	count_failure(p, key, now_ms);
	addr_key(key, addr);
	n = count_failure(p, key, now_ms);
	return n;
}

/*
 * The pair's failures were this account's owner mistyping: they leave the
 * address's count.  Failures there for other accounts stay, or one valid
 * account would wipe the penalty of a guesser spraying others from the
 * same address.
 */
void
penalty_succeeded(struct penalty *p, const char *addr, const char *user)
{
	char key[KEY_MAX + 1];
	const struct rec *pair;
	struct rec *a;
	unsigned own;

	if (p->tab == NULL)
		return;
	pair_key(key, user, addr);
	pair = ktab_find(p->tab, key);
	own = pair != NULL ? pair->fails : 0;
	ktab_remove(p->tab, key);
	addr_key(key, addr);
	if ((a = ktab_find(p->tab, key)) == NULL)
		return;
	if (a->fails <= own)
		ktab_remove(p->tab, key);
	else
		a->fails -= own;
}
