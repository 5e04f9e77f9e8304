/*
 * imap_match - LIST and LSUB patterns (RFC 9051 6.3.9) matched against
 * mailbox names: '*' matches any octets, '%' any octets but the
 * separator '/', every other octet itself.  Pure.
 *
 * The pattern becomes a set of states (one per octet, runs of wildcards
 * made one) kept as bits, moved along a name an octet at a time, so a
 * name costs its length times the pattern's length / 64, never a
 * backtracking search; names given in ascending octet order reuse the
 * states of the octets they share with the name before (a LIST of a
 * thousand folders walks each distinct prefix once).  A name shorter
 * than the pattern's fixed octets costs nothing.
 */
#ifndef OWL_IMAP_MATCH_H
#define OWL_IMAP_MATCH_H

#include <stdbool.h>
#include <stddef.h>

struct imap_match;

/* The pattern's len octets (never NULL). */
struct imap_match *imap_match_new(const char *pat, size_t len);
void imap_match_free(struct imap_match **mp);
/*
 * Whether name (NUL-terminated) matches.  icase: letters compared
 * without case (INBOX's name); such a call leaves the saved prefix alone.
 */
bool imap_match(struct imap_match *m, const char *name, bool icase);
/* Whether the pattern ends in '%' (6.3.9: the levels it stops at are
 * listed too). */
bool imap_match_ends_pct(const struct imap_match *m);

#endif
