/*
 * dmarc - Domain-based Message Authentication, Reporting and Conformance
 * (RFC 7489): the policy record (6.3, 6.4), its discovery in DNS (6.6.3),
 * identifier alignment (3.1) and the policy that follows (6.6.4, pct).
 * Sans-I/O: an evaluation hands out DNS questions and takes their answers
 * (msgauth/dnsq.h); SPF's and DKIM's results come in from their own
 * checks; the caller draws the random number pct= samples with.
 *
 * Use, for one message:
 *	dmarc_from_domain(hdr) -> the RFC5322.From domain (-1: permerror)
 *	d = dmarc_new(psl, from);
 *	while (dmarc_next(d, &q)) { look q up; dmarc_answer(d, &a); }
 *	dmarc_set_spf(d, ...); dmarc_add_dkim(d, ...) for each signature;
 *	res = dmarc_result(d, roll, &applied, &why);
 *
 * Results (RFC 8601 2.7.1 names): none (no record, several records, or
 * the record's p= is broken and no report address says otherwise),
 * pass, fail, temperror (a lookup failed for the moment), permerror (a
 * malformed record).  Only fail carries a policy: none, quarantine or
 * reject; pass and the errors apply none.  Reports (rua, ruf) are not
 * sent: the tags are read and checked, nothing more.
 *
 * Memory: an evaluation is one fixed-size allocation (xmalloc: fatal if
 * out of memory); DKIM signatures are not kept, only whether one aligned.
 */
#ifndef OWL_DMARC_H
#define OWL_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "dnsq.h"
#include "psl.h"

enum dmarc_result {
	DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR
};

enum dmarc_policy { DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };

/* fo= options (6.3): a bit each */
enum { DMARC_FO_0 = 1, DMARC_FO_1 = 2, DMARC_FO_D = 4, DMARC_FO_S = 8 };

struct dmarc_record {
	enum dmarc_policy p, sp;
	bool has_sp;
	bool p_fallback;	/* p= or sp= was invalid, rua= valid: p=none
				   (6.6.3 step 6) */
	unsigned pct;		/* 0..100, default 100 */
	bool adkim_strict, aspf_strict;	/* default relaxed */
	unsigned fo;		/* DMARC_FO_*, default DMARC_FO_0 */
	bool rf_afrf;		/* rf= names afrf (the default) */
	unsigned long ri;	/* seconds, default 86400 */
	unsigned rua, ruf;	/* valid report URIs (not used: counted) */
};

/*
 * True if txt (len octets: the TXT strings joined) starts with the tag
 * v=DMARC1: a DMARC record, good or bad.  Other TXT records at _dmarc are
 * ignored (6.6.3 step 3).
 */
bool dmarc_is_record(const char *txt, size_t len);
/*
 * Parses a DMARC record (6.3, 6.4) into *r.  0, or -1 with a static
 * reason in *why: not a DMARC record, a tag-list error (a duplicate tag,
 * a bad character), a known tag with a bad value, no usable p= and no
 * valid rua=.  Unknown tags are ignored (np=, psd=, t= of later drafts).
 */
int dmarc_parse(const char *txt, size_t len, struct dmarc_record *r,
		const char **why);

/*
 * The domain of the RFC5322.From address in the header section hdr
 * (hlen octets, to the empty line or all of it), lower case, into out;
 * 0, or -1 (RFC 7489 6.6.1: a permerror) when there is no From field,
 * more than one, a From with several addresses, a group, or an address
 * without a domain name (none, an address literal, unparsable).
 */
int dmarc_from_domain(const char *hdr, size_t hlen, char *out, size_t size);

struct dmarc;

/*
 * One evaluation for the RFC5322.From domain from_domain (any case).
 * psl gives the organizational domain (it must outlive the evaluation);
 * NULL: each domain is its own organizational domain (no fallback to a
 * parent's record, relaxed alignment as strict).  A malformed domain
 * gives an evaluation that asks nothing and ends in permerror.
 */
struct dmarc *dmarc_new(const struct psl *psl, const char *from_domain);
/*
 * The next DNS question (TXT at _dmarc.FROM, then at _dmarc.ORG when
 * FROM has no record and ORG differs) into *q; false when discovery is
 * over.  The same question again until it is answered.
 */
bool dmarc_next(struct dmarc *d, struct dnsq_question *q);
/* The answer to the question dmarc_next handed out. */
void dmarc_answer(struct dmarc *d, const struct dnsq_answer *a);

/*
 * SPF's verdict (pass or not) for spf_domain, the domain it checked:
 * MAIL FROM's, or HELO's when MAIL FROM was empty (NULL or "": none).
 */
void dmarc_set_spf(struct dmarc *d, bool spf_pass, const char *spf_domain);
/* One DKIM signature's verdict and its d= domain; call for each. */
void dmarc_add_dkim(struct dmarc *d, bool dkim_pass, const char *d_domain);

/*
 * The verdict, once discovery is over (before: temperror).  pct_roll is a
 * random number 0..99: the message is inside pct= when it is below it;
 * outside, a failing message gets the next lower policy (6.6.4: reject
 * -> quarantine, quarantine -> none).  *applied is the policy to carry
 * out (DMARC_P_NONE unless fail); *why a static text for the log and the
 * Authentication-Results comment.  Either pointer may be NULL.
 */
enum dmarc_result dmarc_result(const struct dmarc *d, unsigned pct_roll,
			       enum dmarc_policy *applied, const char **why);
/*
 * The policy the record asks for this From domain before pct= (p=, or
 * sp= for a subdomain under an organizational domain's record), and
 * whether a record was found at all.
 */
bool dmarc_requested(const struct dmarc *d, enum dmarc_policy *p);
/* The record found (NULL if none) and the domain it was found at. */
const struct dmarc_record *dmarc_found_record(const struct dmarc *d,
					      const char **domain);
/* The organizational domain of the From domain. */
const char *dmarc_org_domain(const struct dmarc *d);
void dmarc_free(struct dmarc **d);

/* RFC 8601 names: "none", "pass", "fail", "temperror", "permerror". */
const char *dmarc_result_name(enum dmarc_result r);
/* "none", "quarantine", "reject" */
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
