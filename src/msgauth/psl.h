/*
 * psl - the Public Suffix List (https://publicsuffix.org/list/) and the
 * organizational domain of RFC 7489 3.2: the public suffix of a name and
 * one label more.  Sans-I/O: the caller reads the list's file (Debian's
 * /usr/share/publicsuffix/public_suffix_list.dat) and hands over its text.
 *
 * Every rule of both sections (ICANN and PRIVATE: RFC 7489 does not split
 * them) is kept, normal, wildcard ("*.ck") and exception ("!www.ck").  The
 * list writes international names as U-labels (UTF-8); they are turned
 * into A-labels ("xn--...", RFC 3492) at load, so names from mail, which
 * arrive as A-labels, match them.  A name given in UTF-8 is converted the
 * same way (then the result is in A-labels too).  No IDNA mapping beyond
 * that: upper-case letters outside ASCII are not folded.
 *
 * Lookups hash each suffix of the name: at most one probe per label.
 * Memory is bounded: the text by PSL_TEXT_MAX, the rules by
 * PSL_RULES_MAX.  A rule that cannot be used (a '*' elsewhere than as the
 * whole first label, bad UTF-8, a label too long, an exception of one
 * label, which would leave no public suffix) is skipped and counted, not
 * fatal, so that a newer list with a rule of an unknown form still loads.
 */
#ifndef OWL_PSL_H
#define OWL_PSL_H

#include <stddef.h>

#define PSL_TEXT_MAX (16u << 20)	/* the list's text (2023: 250 KB) */
#define PSL_RULES_MAX 200000		/* rules (2023: 9,700) */

struct psl;

/*
 * Reads the list from its text (len octets).  0 and *r, or -1 with a
 * static text in *error_r: text too long, more than PSL_RULES_MAX rules,
 * no rule at all.
 */
int psl_load(const char *text, size_t len, struct psl **r,
	     const char **error_r);
/*
 * The organizational domain of domain (any case; no trailing dot) into
 * out, lower case: its public suffix and one more label (the list's
 * algorithm; "*" when no rule matches).  -1 if the name is malformed (an
 * empty label, over 253 octets), is itself a public suffix (no label
 * left to add), or out is too small.
 */
int psl_org_domain(const struct psl *p, const char *domain, char *out,
		   size_t size);
/* Rules loaded, and rules skipped as unusable. */
size_t psl_rules(const struct psl *p);
size_t psl_skipped(const struct psl *p);
void psl_free(struct psl **p);

#endif
