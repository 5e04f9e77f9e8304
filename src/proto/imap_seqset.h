/*
 * imap_seqset - IMAP sequence sets (RFC 9051 9, sequence-set): message
 * numbers or UIDs, ranges and "*" (the largest in use), parsed from an
 * atom, bounded, then resolved against the mailbox into sorted, merged
 * ranges.  Pure: no I/O, no allocation but the ranges.  "$" (the saved
 * search result of IMAP4rev2) is the caller's: it is not a set's text.
 *
 * Refused (-1 with why): an empty set or element, a number with a
 * leading zero or 0 itself (nz-number), a number past 2^32 - 1, anything
 * but digits, ':', ',' and '*', and more than max_ranges elements
 * ("[LIMIT]", so a client cannot make the server keep millions of
 * ranges).
 */
#ifndef OWL_IMAP_SEQSET_H
#define OWL_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

#define IMAP_SEQ_STAR 0		/* "*" in a parsed, unresolved set */

struct imap_range {
	uint32_t lo, hi;	/* lo <= hi once resolved */
};

struct imap_seqset {
	struct imap_range *r;
	size_t n;
};

int imap_seqset_parse(const char *s, size_t len, size_t max_ranges,
		      struct imap_seqset *out, const char **why_r);
/*
 * Gives "*" the value star (the largest number or UID in use; 0 in an
 * empty mailbox, where "*" matches nothing), orders each range, sorts
 * and merges them.
 */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);
/* After resolve: true if v is in the set. */
bool imap_seqset_has(const struct imap_seqset *set, uint32_t v);
void imap_seqset_free(struct imap_seqset *set);
/* nums (n of them, in the order given) as a set: runs of consecutive
 * numbers as "a:b", joined by commas (COPYUID, MODIFIED, ESEARCH ALL). */
void imap_seqset_write(struct buf *b, const uint32_t *nums, size_t n);

#endif
