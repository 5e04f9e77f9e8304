/*
 * ktab - a bounded table of short string keys, each with a fixed-size
 * record: the memory of per-client counters (net/anvil, auth/penalty)
 * that clients cannot grow.  All of it (nslots records) is allocated by
 * ktab_new(); when every slot is taken, ktab_add() replaces a record the
 * caller allows to go, taking the slots in turn (so roughly the oldest
 * first), or fails.  Keys are hashed with a seed the caller picks at
 * random, and a chain is never longer than nslots.  No I/O, no clock;
 * not thread-safe (one event loop owns a table).
 */
#ifndef OWL_KTAB_H
#define OWL_KTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ktab;

/* May this record be dropped to make room?  arg is ktab_add()'s. */
typedef bool ktab_evict_fn(const void *rec, void *arg);

/*
 * A table of nslots records of recsize octets, keys up to keymax octets.
 * Costs about nslots * (keymax + recsize + 16) octets, allocated at once
 * (xmalloc: fatal if there is not that much memory).
 */
struct ktab *ktab_new(size_t nslots, size_t keymax, size_t recsize,
		      uint64_t seed);
void ktab_free(struct ktab **tp);
/* The record of key, or NULL.  Valid until the next add or remove. */
void *ktab_find(const struct ktab *t, const char *key);
/*
 * The record of key, added (zero-filled) if it is not there.  With every
 * slot taken, the first record in turn that may_evict() lets go is
 * replaced.  NULL if key is longer than keymax, or if no record may go.
 */
void *ktab_add(struct ktab *t, const char *key, ktab_evict_fn *may_evict,
	       void *arg);
/* Drops key's record, if any. */
void ktab_remove(struct ktab *t, const char *key);
/* Records held. */
size_t ktab_count(const struct ktab *t);

#endif
