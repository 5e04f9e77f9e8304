/*
 * dnscache - see dnscache.h.  A hash table of chained entries and one
 * doubly linked list in use order (head: the most recent), both under
 * one mutex.  Expired entries are dropped when found, or when they reach
 * the tail.
 */
#include "dnscache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "../lib/clock.h"

struct entry {
	struct entry *hnext;		/* hash chain */
	struct entry *prev, *next;	/* use order */
	enum dnsq_type type;
	uint64_t expires;		/* clock seconds */
	size_t size;			/* what it counts in bytes */
	struct dnsq_answer a;
	char name[];
};

struct dnscache {
	pthread_mutex_t mu;
	struct entry **tab;
	size_t nbuckets;		/* a power of 2 */
	struct entry *head, *tail;
	size_t bytes, max_bytes, entries;
	uint32_t max_ttl, neg_ttl;
	dnscache_clock_fn *now;
	void *arg;
	uint64_t hits, misses, evictions;
};

#define BUCKET_BYTES 512	/* of max_bytes per bucket */

static uint64_t
mono_seconds(void *arg)
{
	(void)arg;
	return mono_ms() / 1000;
}

struct dnscache *
dnscache_new(size_t max_bytes, uint32_t max_ttl, uint32_t neg_ttl,
	     dnscache_clock_fn *now, void *arg)
{
	struct dnscache *c;
	size_t nb = 16;

	if (max_bytes == 0)
		return NULL;
	while (nb < max_bytes / BUCKET_BYTES && nb < ((size_t)1 << 24))
		nb *= 2;
	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->tab = xcalloc(nb, sizeof(*c->tab));
	c->nbuckets = nb;
	c->max_bytes = max_bytes;
	c->max_ttl = max_ttl;
	c->neg_ttl = neg_ttl;
	c->now = now != NULL ? now : mono_seconds;
	c->arg = arg;
	return c;
}

struct dnscache *
dnscache_from_conf(const struct conf *c)
{
	return dnscache_new(c->dns_cache_size, c->dns_cache_max_ttl,
			    c->dns_cache_negative_ttl, NULL, NULL);
}

static size_t
bucket(const struct dnscache *c, enum dnsq_type t, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)t; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		unsigned char ch = *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;

		h = (h ^ ch) * 1099511628211ULL;
	}
	return (size_t)(h & (c->nbuckets - 1));
}

static struct entry **
find(struct dnscache *c, const struct dnsq_question *q)
{
	struct entry **pp = &c->tab[bucket(c, q->type, q->name)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->type == q->type &&
		    strcasecmp((*pp)->name, q->name) == 0)
			break;
	return pp;
}

static void
lru_unlink(struct dnscache *c, struct entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct dnscache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head != NULL)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

/* Unlinks the entry *pp points at (from its chain and the list), frees it. */
static void
drop(struct dnscache *c, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->hnext;
	lru_unlink(c, e);
	c->bytes -= e->size;
	c->entries--;
	dnsq_answer_free(&e->a);
	free(e);
}

static void
drop_entry(struct dnscache *c, struct entry *e)
{
	struct dnsq_question q = {.type = e->type};
	struct entry **pp;

	memcpy(q.name, e->name, strlen(e->name) + 1);
	pp = find(c, &q);
	drop(c, pp);
}

int
dnscache_get(struct dnscache *c, const struct dnsq_question *q,
	     struct dnsq_answer *a)
{
	struct entry **pp;
	uint64_t now;
	int hit = 0;

	if (c == NULL)
		return 0;
	now = c->now(c->arg);
	pthread_mutex_lock(&c->mu);
	pp = find(c, q);
	if (*pp != NULL && (*pp)->expires <= now)
		drop(c, pp);
	else if (*pp != NULL && dnsq_answer_copy(a, &(*pp)->a) == 0) {
		a->ttl = (uint32_t)((*pp)->expires - now);
		lru_unlink(c, *pp);
		lru_push(c, *pp);
		hit = 1;
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

/* The octets an entry for name and a takes. */
static size_t
entry_size(const char *name, const struct dnsq_answer *a)
{
	size_t n = sizeof(struct entry) + strlen(name) + 1 +
		   a->n * sizeof(struct dnsq_rr);

	for (size_t i = 0; i < a->n; i++)
		if (a->rr[i].text != NULL)
			n += a->rr[i].len + 1;
	return n;
}

/* How long a is kept: 0 if not at all. */
static uint32_t
keep_seconds(const struct dnscache *c, const struct dnsq_answer *a)
{
	uint32_t cap;

	switch (a->status) {
	case DNSQ_OK:
		cap = c->max_ttl;
		break;
	case DNSQ_NODATA:
	case DNSQ_NXDOMAIN:
		cap = c->neg_ttl;
		break;
	default:
		return 0;
	}
	return a->ttl < cap ? a->ttl : cap;
}

/* Drops entries from the tail until need more octets fit. */
static void
make_room(struct dnscache *c, size_t need, uint64_t now)
{
	while (c->tail != NULL && c->bytes + need > c->max_bytes) {
		if (c->tail->expires > now)
			c->evictions++;
		drop_entry(c, c->tail);
	}
}

void
dnscache_put(struct dnscache *c, const struct dnsq_question *q,
	     const struct dnsq_answer *a)
{
	uint32_t keep;
	size_t size, nlen = strlen(q->name);
	struct entry *e, **pp;
	uint64_t now;

	if (c == NULL || (keep = keep_seconds(c, a)) == 0 ||
	    (size = entry_size(q->name, a)) > c->max_bytes)
		return;
	if ((e = calloc(1, sizeof(*e) + nlen + 1)) == NULL)
		return;
	if (dnsq_answer_copy(&e->a, a) == -1) {
		free(e);
		return;
	}
	e->type = q->type;
	memcpy(e->name, q->name, nlen + 1);
	e->size = size;
	now = c->now(c->arg);
	e->expires = now + keep;
	pthread_mutex_lock(&c->mu);
	if (*(pp = find(c, q)) != NULL)
		drop(c, pp);
	make_room(c, size, now);
	pp = &c->tab[bucket(c, q->type, q->name)];
	e->hnext = *pp;
	*pp = e;
	lru_push(c, e);
	c->bytes += size;
	c->entries++;
	pthread_mutex_unlock(&c->mu);
}

void
dnscache_stats(struct dnscache *c, struct dnscache_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	s->hits = c->hits;
	s->misses = c->misses;
	s->evictions = c->evictions;
	s->entries = c->entries;
	s->bytes = c->bytes;
	s->max_bytes = c->max_bytes;
	pthread_mutex_unlock(&c->mu);
}

void
dnscache_free(struct dnscache **cp)
{
	struct dnscache *c = *cp;

	if (c == NULL)
		return;
	while (c->tail != NULL)
		drop_entry(c, c->tail);
	free(c->tab);
	pthread_mutex_destroy(&c->mu);
	free(c);
	*cp = NULL;
}
