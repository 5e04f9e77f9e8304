/*
 * dmarc - one DMARC evaluation: policy discovery (RFC 7489 6.6.3) as a
 * small state machine of DNS questions, alignment (3.1) worked out as
 * each SPF and DKIM verdict arrives, and the verdict with pct= (6.6.4).
 * See dmarc.h.
 */
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "dmarc.h"

enum state { ASK_FROM, ASK_ORG, DONE };

/* How an identifier lines up with the From domain (3.1.1, 3.1.2). */
struct aligned {
	bool strict;	/* the same domain */
	bool relaxed;	/* the same organizational domain */
};

struct dmarc {
	const struct psl *psl;
	char from[DNSQ_NAME_MAX + 1];
	char org[DNSQ_NAME_MAX + 1];
	enum state state;
	enum dmarc_result end;	/* without a record: none or an error */
	const char *end_why;
	bool have_rec, rec_at_org;
	struct dmarc_record rec;
	struct aligned spf, dkim;
};

#define DMARC_PREFIX "_dmarc."

/* from lower-cased into out; false if it is not a domain name. */
static bool
domain_copy(const char *from, char *out)
{
	size_t n = strlen(from), i;

	if (n == 0 || n > DNSQ_NAME_MAX || from[0] == '.' ||
	    from[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = from[i];

		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.') ||
		    (c == '.' && from[i + 1] == '.'))
			return false;
		out[i] = c;
	}
	out[n] = '\0';
	return true;
}

static void
finish(struct dmarc *d, enum dmarc_result r, const char *why)
{
	d->state = DONE;
	d->end = r;
	d->end_why = why;
}

struct dmarc *
dmarc_new(const struct psl *psl, const char *from_domain)
{
	struct dmarc *d = xcalloc(1, sizeof(*d));

	d->psl = psl;
	d->state = ASK_FROM;
	if (!domain_copy(from_domain, d->from)) {
		finish(d, DMARC_PERMERROR, "the From domain is malformed");
		return d;
	}
	if (psl == NULL ||
	    psl_org_domain(psl, d->from, d->org, sizeof(d->org)) == -1)
		memcpy(d->org, d->from, sizeof(d->org));
	return d;
}

/* The org domain of name (lower case) into out; itself if none. */
static void
org_of(const struct dmarc *d, const char *name, char *out)
{
	if (d->psl == NULL ||
	    psl_org_domain(d->psl, name, out, DNSQ_NAME_MAX + 1) == -1)
		memcpy(out, name, strlen(name) + 1);
}

/* How domain (any case; NULL or "" is none) aligns with the From. */
static struct aligned
align(const struct dmarc *d, const char *domain)
{
	char name[DNSQ_NAME_MAX + 1], org[DNSQ_NAME_MAX + 1];
	struct aligned a = { false, false };

	if (domain == NULL || d->from[0] == '\0' ||
	    !domain_copy(domain, name))
		return a;
	a.strict = strcmp(name, d->from) == 0;
	org_of(d, name, org);
	a.relaxed = strcmp(org, d->org) == 0;
	return a;
}

bool
dmarc_next(struct dmarc *d, struct dnsq_question *q)
{
	const char *name;

	if (d->state == DONE)
		return false;
	name = d->state == ASK_FROM ? d->from : d->org;
	q->type = DNSQ_TXT;
	if (bsnprintf(q->name, sizeof(q->name), DMARC_PREFIX "%s", name) ==
	    -1) {
		/* too long to ask: no record can be there */
		if (d->state == ASK_FROM && strcmp(d->from, d->org) != 0) {
			d->state = ASK_ORG;
			return dmarc_next(d, q);
		}
		finish(d, DMARC_NONE, "no DMARC record");
		return false;
	}
	return true;
}

/* The DMARC records of an answer: how many, and the first. */
static size_t
records_of(const struct dnsq_answer *a, const struct dnsq_rr **first)
{
	size_t n = 0;

	*first = NULL;
	for (size_t i = 0; a->status == DNSQ_OK && i < a->n; i++) {
		if (a->rr[i].text == NULL ||
		    !dmarc_is_record(a->rr[i].text, a->rr[i].len))
			continue;
		if (n++ == 0)
			*first = &a->rr[i];
	}
	return n;
}

void
dmarc_answer(struct dmarc *d, const struct dnsq_answer *a)
{
	const struct dnsq_rr *rr;
	const char *why;
	size_t n;

	if (d->state == DONE)
		return;
	if (a->status == DNSQ_TEMP) {
		finish(d, DMARC_TEMPERROR, "the DMARC record lookup failed");
		return;
	}
	n = records_of(a, &rr);
	if (n == 0) {
		if (d->state == ASK_FROM && strcmp(d->from, d->org) != 0)
			d->state = ASK_ORG;	/* 6.6.3 step 4 */
		else
			finish(d, DMARC_NONE, "no DMARC record");
		return;
	}
	if (n > 1) {
		finish(d, DMARC_NONE, "more than one DMARC record");
		return;
	}
	if (dmarc_parse(rr->text, rr->len, &d->rec, &why) == -1) {
		finish(d, DMARC_PERMERROR, why);
		return;
	}
	d->rec_at_org = d->state == ASK_ORG;
	d->have_rec = true;
	finish(d, DMARC_NONE, "");
}

void
dmarc_set_spf(struct dmarc *d, bool spf_pass, const char *spf_domain)
{
	struct aligned none = { false, false };

	d->spf = spf_pass ? align(d, spf_domain) : none;
}

void
dmarc_add_dkim(struct dmarc *d, bool dkim_pass, const char *d_domain)
{
	struct aligned a;

	if (!dkim_pass)
		return;
	a = align(d, d_domain);
	d->dkim.strict = d->dkim.strict || a.strict;
	d->dkim.relaxed = d->dkim.relaxed || a.relaxed;
}

bool
dmarc_requested(const struct dmarc *d, enum dmarc_policy *p)
{
	*p = DMARC_P_NONE;
	if (!d->have_rec)
		return false;
	/* sp= for a subdomain when the record is the org domain's */
	*p = d->rec_at_org && d->rec.has_sp ? d->rec.sp : d->rec.p;
	return true;
}

static enum dmarc_policy
lower(enum dmarc_policy p)
{
	return p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : DMARC_P_NONE;
}

static const char *
fail_why(enum dmarc_policy req, bool sampled)
{
	if (!sampled)
		return req == DMARC_P_REJECT
			       ? "no aligned identifier; p=reject, outside "
				 "pct=: quarantine"
			       : "no aligned identifier; outside pct=: none";
	return req == DMARC_P_REJECT	   ? "no aligned identifier; p=reject"
	       : req == DMARC_P_QUARANTINE ? "no aligned identifier; "
					     "p=quarantine"
					   : "no aligned identifier; p=none";
}

enum dmarc_result
dmarc_result(const struct dmarc *d, unsigned pct_roll,
	     enum dmarc_policy *applied, const char **why)
{
	enum dmarc_policy req, dummy_p;
	const char *dummy_w;
	bool spf_ok, dkim_ok, sampled;

	applied = applied != NULL ? applied : &dummy_p;
	why = why != NULL ? why : &dummy_w;
	*applied = DMARC_P_NONE;
	if (d->state != DONE)
		return *why = "DMARC discovery not finished", DMARC_TEMPERROR;
	if (!d->have_rec)
		return *why = d->end_why, d->end;
	spf_ok = d->rec.aspf_strict ? d->spf.strict : d->spf.relaxed;
	dkim_ok = d->rec.adkim_strict ? d->dkim.strict : d->dkim.relaxed;
	if (spf_ok || dkim_ok) {
		*why = dkim_ok ? "DKIM aligned" : "SPF aligned";
		return DMARC_PASS;
	}
	(void)dmarc_requested(d, &req);
	sampled = pct_roll < d->rec.pct;
	*applied = sampled ? req : lower(req);
	*why = fail_why(req, sampled || req == DMARC_P_NONE);
	return DMARC_FAIL;
}

const struct dmarc_record *
dmarc_found_record(const struct dmarc *d, const char **domain)
{
	if (domain != NULL)
		*domain = d->rec_at_org ? d->org : d->from;
	return d->have_rec ? &d->rec : NULL;
}

const char *
dmarc_org_domain(const struct dmarc *d)
{
	return d->org;
}

void
dmarc_free(struct dmarc **d)
{
	free(*d);
	*d = NULL;
}

const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_NONE:
		return "none";
	case DMARC_PASS:
		return "pass";
	case DMARC_FAIL:
		return "fail";
	case DMARC_TEMPERROR:
		return "temperror";
	case DMARC_PERMERROR:
		return "permerror";
	}
	return "?";
}
