/*
 * ktab - see ktab.h.  Chained hashing over a fixed pool of nodes: a node
 * is a header, the key (NUL-terminated) and the record.  Freed nodes are
 * chained through the same link, and nodes never used yet are taken in
 * order (so memory no key needed yet stays untouched); with none free, a
 * "hand" walks the pool from where it stopped last and replaces the
 * first record the caller lets go.  Nothing grows after ktab_new().
 */
#include "ktab.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define NONE 0	/* link value: no node (links are index + 1) */

struct node {
	uint32_t next;	/* next in the bucket's chain or the free list */
	uint32_t used;
};

struct ktab {
	size_t nslots, keymax, recoff, nodesize, mask, count, hand;
	size_t fresh;		/* nodes from here on were never used */
	uint64_t seed;
	uint32_t free;		/* free list head (index + 1) */
	uint32_t *bucket;	/* chain heads (index + 1) */
	unsigned char *pool;
};

static struct node *node_at(const struct ktab *t, uint32_t link);
static size_t bucket_of(const struct ktab *t, const char *key);
static void unlink_node(struct ktab *t, uint32_t link);

static size_t
round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

struct ktab *
ktab_new(size_t nslots, size_t keymax, size_t recsize, uint64_t seed)
{
	struct ktab *t = xcalloc(1, sizeof(*t));
	size_t nb = 1, bytes;

	if (nslots == 0 || nslots >= UINT32_MAX)
		abort(); /* the caller's bug */
	while (nb < nslots)
		nb *= 2;
	t->nslots = nslots;
	t->keymax = keymax;
	t->recoff = round8(sizeof(struct node) + keymax + 1);
	t->nodesize = t->recoff + round8(recsize);
	t->mask = nb - 1;
	t->seed = seed;
	if (__builtin_mul_overflow(nslots, t->nodesize, &bytes))
		abort();
	t->bucket = xcalloc(nb, sizeof(*t->bucket));
	t->pool = xcalloc(1, bytes);
	return t;
}

void
ktab_free(struct ktab **tp)
{
	if (*tp == NULL)
		return;
	free((*tp)->bucket);
	free((*tp)->pool);
	free(*tp);
	*tp = NULL;
}

static struct node *
node_at(const struct ktab *t, uint32_t link)
{
	return (struct node *)(void *)(t->pool +
				       (size_t)(link - 1) * t->nodesize);
}

static char *
key_of(struct node *n)
{
	return (char *)(n + 1);
}

static void *
rec_of(const struct ktab *t, struct node *n)
{
	return (unsigned char *)n + t->recoff;
}

/* FNV-1a from a secret start, then a final mix of the high bits. */
static size_t
bucket_of(const struct ktab *t, const char *key)
{
	uint64_t h = 14695981039346656037ULL ^ t->seed;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (size_t)h & t->mask;
}

static uint32_t
find_link(const struct ktab *t, const char *key)
{
	uint32_t l = t->bucket[bucket_of(t, key)];

	while (l != NONE && strcmp(key_of(node_at(t, l)), key) != 0)
		l = node_at(t, l)->next;
	return l;
}

void *
ktab_find(const struct ktab *t, const char *key)
{
	uint32_t l = find_link(t, key);

	return l == NONE ? NULL : rec_of(t, node_at(t, l));
}

/* Takes node link out of its chain and puts it on the free list. */
static void
unlink_node(struct ktab *t, uint32_t link)
{
	struct node *n = node_at(t, link);
	uint32_t *p = &t->bucket[bucket_of(t, key_of(n))];

	while (*p != link)
		p = &node_at(t, *p)->next;
	*p = n->next;
	n->used = 0;
	n->next = t->free;
	t->free = link;
	t->count--;
}

/* Frees the first node, from the hand on, that may_evict lets go. */
static bool
evict_one(struct ktab *t, ktab_evict_fn *may_evict, void *arg)
{
	for (size_t i = 0; i < t->nslots; i++) {
		uint32_t link = (uint32_t)(t->hand + 1);
		struct node *n = node_at(t, link);

		t->hand = (t->hand + 1) % t->nslots;
		if (n->used && (may_evict == NULL ||
				may_evict(rec_of(t, n), arg))) {
			unlink_node(t, link);
			return true;
		}
	}
	return false;
}

void *
ktab_add(struct ktab *t, const char *key, ktab_evict_fn *may_evict,
	 void *arg)
{
	size_t len = strlen(key), b;
	uint32_t l = find_link(t, key);
	struct node *n;

	if (l != NONE)
		return rec_of(t, node_at(t, l));
	if (len > t->keymax)
		return NULL;
	if (t->free == NONE && t->fresh < t->nslots)
		l = (uint32_t)++t->fresh;
	else if (t->free != NONE || evict_one(t, may_evict, arg)) {
		l = t->free;
		t->free = node_at(t, l)->next;
	} else
		return NULL;
	n = node_at(t, l);
	memset(n, 0, t->nodesize);
	memcpy(key_of(n), key, len + 1);
	b = bucket_of(t, key);
	n->used = 1;
	n->next = t->bucket[b];
	t->bucket[b] = l;
	t->count++;
	return rec_of(t, n);
}

void
ktab_remove(struct ktab *t, const char *key)
{
	uint32_t l = find_link(t, key);

	if (l != NONE)
		unlink_node(t, l);
}

size_t
ktab_count(const struct ktab *t)
{
	return t->count;
}
