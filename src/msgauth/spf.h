/*
 * spf - the Sender Policy Framework check (RFC 7208), sans-I/O.
 *
 * check_host() of RFC 7208 section 4 as a state machine: it hands out one
 * DNS question at a time (struct dnsq_question), its caller looks it up
 * and feeds the answer back, and the result comes out when no question
 * is left.  Nothing here reads a socket, a file or a clock: the time for
 * %{t} is an argument.
 *
 * Everything of RFC 7208: record selection (4.5), the mechanisms all,
 * include, a, mx, ptr, ip4, ip6 and exists with qualifiers and dual CIDR
 * lengths (5), the modifiers redirect= and exp= (6, others ignored), the
 * macros (7), and the processing limits of 4.6.4: at most max_lookups
 * terms that cause DNS lookups (include, a, mx, ptr, exists, redirect),
 * at most max_void of them answered with no records, at most
 * max_mx_names MX names per mx term (more: permerror) and max_ptr_names
 * PTR names looked at (the rest ignored).  Those limits also bound the
 * depth of include and redirect, so memory is bounded: one record per
 * level (at most DNSQ_TXT_MAX octets) and fixed-size names.
 *
 * Errors are results: a malformed record is SPF_PERMERROR, a DNS lookup
 * that failed (DNSQ_TEMP) SPF_TEMPERROR, and so is running out of memory
 * during the check (never a permanent verdict for our trouble).  See
 * docs/SPF.md for the choices where the RFC leaves room.
 */
#ifndef OWL_SPF_H
#define OWL_SPF_H

#include <stdbool.h>
#include <stdint.h>

#include "dnsq.h"

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR
};

#define SPF_MAX_LOOKUPS 10	/* RFC 7208 4.6.4 */
#define SPF_MAX_VOID 2
#define SPF_MAX_MX_NAMES 10
#define SPF_MAX_PTR_NAMES 10
#define SPF_LOOKUPS_CAP 100	/* the most a caller may raise it to */
#define SPF_SENDER_MAX 512	/* a longer MAIL FROM: SPF_NONE */
#define SPF_EXP_MAX 512		/* an explanation is cut there */
#define SPF_RECORD_MAX DNSQ_TXT_MAX /* longer: SPF_PERMERROR */

struct spf_limits {
	unsigned max_lookups;	/* SPF_MAX_LOOKUPS, <= SPF_LOOKUPS_CAP */
	unsigned max_void;	/* SPF_MAX_VOID */
	unsigned max_mx_names;	/* SPF_MAX_MX_NAMES, <= DNSQ_RRS_MAX */
	unsigned max_ptr_names;	/* SPF_MAX_PTR_NAMES, <= DNSQ_RRS_MAX */
};

struct spf;

/*
 * check_host(ip, domain, sender) of RFC 7208 4: family AF_INET or
 * AF_INET6 with ip 4 or 16 octets (an IPv4-mapped IPv6 address is checked
 * as the IPv4 address); sender the MAIL FROM address ("" for the null
 * path: then postmaster@helo, RFC 2.4); helo the HELO/EHLO name; domain
 * the one to check (the sender's domain, or helo for the HELO identity);
 * receiver our host name (%{r}; NULL or "": "unknown"); now the time for
 * %{t}.  lim NULL: the defaults (a field of 0 too).  NULL on no memory.
 * A malformed domain or an over-long sender gives SPF_NONE at once.
 */
struct spf *spf_new(const struct spf_limits *lim, int family,
		    const unsigned char *ip, const char *domain,
		    const char *sender, const char *helo,
		    const char *receiver, int64_t now);
/*
 * true: *q is the next DNS question (the same one until it is answered);
 * answer it with spf_answer().  false: the result is known.
 */
bool spf_next(struct spf *s, struct dnsq_question *q);
/* The answer to the question spf_next() gave; a is not kept. */
void spf_answer(struct spf *s, const struct dnsq_answer *a);
/*
 * The result; *why a short reason (the mechanism that matched, or what
 * was wrong), *exp the expanded exp= explanation for a fail (NULL if
 * none).  Pointers live as long as s.  Before the end: SPF_TEMPERROR.
 */
enum spf_result spf_result(const struct spf *s, const char **why,
			   const char **exp);
/* The DNS lookups and void lookups counted so far (4.6.4). */
void spf_counts(const struct spf *s, unsigned *lookups, unsigned *voids);
/* "pass", "fail", ... as in RFC 8601 2.7.2. */
const char *spf_result_name(enum spf_result r);
void spf_free(struct spf **s);

#endif
