/*
 * dnscache - answers to DNS questions (msgauth/dnsq.h) kept for their
 * TTL, shared by every worker thread (one mutex; a lookup itself runs
 * outside it, so two threads missing the same question both ask).
 *
 * Keyed by (type, name).  An answer is kept for its TTL capped by
 * dns.cache_max_ttl (NXDOMAIN and NODATA by dns.cache_negative_ttl);
 * TEMP answers and TTL 0 are never kept.  The memory of the entries (the
 * entry, its name, its records and their text) stays under
 * dns.cache_size octets: the least recently used entries go first; an
 * answer bigger than the whole cache is not kept.  The bucket table is
 * sized once from dns.cache_size (8 octets per 512 of it).  Never fails
 * a lookup: out of memory, an answer is simply not kept.
 */
#ifndef OWL_DNSCACHE_H
#define OWL_DNSCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/conf.h"
#include "../msgauth/dnsq.h"

struct dnscache;

/* Seconds on a monotonic clock (tests inject their own). */
typedef uint64_t dnscache_clock_fn(void *arg);

struct dnscache_stats {
	uint64_t hits, misses;	/* lookups answered from it or not */
	uint64_t evictions;	/* live entries dropped for room */
	size_t entries, bytes;	/* now */
	size_t max_bytes;
};

/*
 * A cache of at most max_bytes octets, keeping answers at most max_ttl
 * seconds (negative ones neg_ttl); now NULL: the monotonic clock.  NULL
 * if max_bytes is 0 (no cache).
 */
struct dnscache *dnscache_new(size_t max_bytes, uint32_t max_ttl,
			      uint32_t neg_ttl, dnscache_clock_fn *now,
			      void *arg);
/* The cache the configuration asks for (dns.cache_*), NULL if off. */
struct dnscache *dnscache_from_conf(const struct conf *c);
void dnscache_free(struct dnscache **cp);

/*
 * 1 with a copy of the live answer to q in *a (ttl: the seconds left;
 * the caller frees it), 0 if none (a miss; *a untouched).
 */
int dnscache_get(struct dnscache *c, const struct dnsq_question *q,
		 struct dnsq_answer *a);
/* Keeps a copy of a as the answer to q, if it is to be kept (above). */
void dnscache_put(struct dnscache *c, const struct dnsq_question *q,
		  const struct dnsq_answer *a);
/* The counters, for owlctl status and the metrics. */
void dnscache_stats(struct dnscache *c, struct dnscache_stats *s);

#endif
