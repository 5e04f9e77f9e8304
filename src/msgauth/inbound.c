/*
 * inbound - the checks on a message from the MX port, in order (see
 * inbound.h): a small state machine over the SPF, DKIM and DMARC cores,
 * each asked for its DNS questions in turn, then one
 * Authentication-Results field and the verdict.
 */
#include "inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"

enum step {
	ST_SPF_HELO,
	ST_SPF_MAIL,
	ST_DKIM,
	ST_DMARC,
	ST_DONE,
};

struct inbound {
	struct inbound_policy pol;
	struct inbound_in in;
	enum step step;
	/* SPF */
	struct spf *spf;		/* the check running, or NULL */
	bool helo_checked, mail_checked;
	enum spf_result spf_helo, spf_mail;
	char spf_why[2][120];
	char spf_exp[200];
	char mail_domain[DNSQ_NAME_MAX + 1];
	/* DKIM */
	struct dkim_verifier *dkim;
	size_t sig;			/* the signature being looked up */
	struct dkim_sig_result *sigs;
	size_t nsigs;
	/* DMARC */
	struct dmarc *dmarc;
	char from_domain[DNSQ_NAME_MAX + 1];
	bool from_bad;			/* no single From address */
	enum dmarc_result dmarc_res;
	enum dmarc_policy applied;
	char dmarc_why[120];
};

/* HELO names that are domains (not address literals, not single labels). */
static bool
helo_is_domain(const char *h)
{
	return h[0] != '\0' && h[0] != '[' && strchr(h, '.') != NULL &&
	       strlen(h) <= DNSQ_NAME_MAX;
}

static void
start_dkim(struct inbound *c, const char *hdr, size_t hlen)
{
	const char *err;

	if (!c->pol.dkim)
		return;
	c->dkim = dkim_verifier_new(&c->pol.dkim_lim, hdr, hlen, c->in.now,
				    &err);
}

static void
start_dmarc_from(struct inbound *c, const char *hdr, size_t hlen)
{
	if (!c->pol.dmarc || c->in.psl == NULL)
		return;
	if (dmarc_from_domain(hdr, hlen, c->from_domain,
			      sizeof(c->from_domain)) == -1)
		c->from_bad = true;
}

struct inbound *
inbound_new(const struct inbound_policy *p, const struct inbound_in *in,
	    const char *hdr, size_t hlen)
{
	struct inbound *c = calloc(1, sizeof(*c));
	const char *at;

	if (c == NULL)
		return NULL;
	c->pol = *p;
	c->in = *in;
	c->spf_helo = c->spf_mail = SPF_NONE;
	c->dmarc_res = DMARC_NONE;
	c->applied = DMARC_P_NONE;
	if ((at = strrchr(in->mailfrom, '@')) != NULL)
		snprintf(c->mail_domain, sizeof(c->mail_domain), "%s", at + 1);
	start_dkim(c, hdr, hlen);
	start_dmarc_from(c, hdr, hlen);
	return c;
}

void
inbound_body(struct inbound *c, const char *p, size_t len)
{
	if (c->dkim != NULL)
		dkim_verifier_body(c->dkim, p, len);
}

void
inbound_body_end(struct inbound *c)
{
	if (c->dkim != NULL) {
		dkim_verifier_finish(c->dkim);
		c->nsigs = dkim_verifier_count(c->dkim);
		if (c->nsigs > 0)
			c->sigs = calloc(c->nsigs, sizeof(*c->sigs));
		if (c->sigs == NULL)
			c->nsigs = 0;
	}
}

/* --- the steps ------------------------------------------------------ */

static void
spf_done(struct inbound *c, bool helo)
{
	const char *why = NULL, *exp = NULL;
	enum spf_result r = spf_result(c->spf, &why, &exp);

	snprintf(c->spf_why[helo ? 0 : 1], sizeof(c->spf_why[0]), "%s",
		 why != NULL ? why : "");
	if (helo) {
		c->spf_helo = r;
		c->helo_checked = true;
	} else {
		c->spf_mail = r;
		c->mail_checked = true;
		if (exp != NULL)
			snprintf(c->spf_exp, sizeof(c->spf_exp), "%s", exp);
	}
	spf_free(&c->spf);
}

/* Starts the SPF check of step st; false when it is not to be made. */
static bool
spf_begin(struct inbound *c, bool helo)
{
	const char *domain;

	if (!c->pol.spf)
		return false;
	if (helo) {
		if (!helo_is_domain(c->in.helo))
			return false;
		domain = c->in.helo;
	} else {
		if (c->in.mailfrom[0] == '\0') {
			/* RFC 7208 2.4: the HELO identity stands for <> */
			c->spf_mail = c->spf_helo;
			c->mail_checked = c->helo_checked;
			return false;
		}
		domain = c->mail_domain;
	}
	c->spf = spf_new(&c->pol.spf_lim, c->in.family, c->in.ip, domain,
			 helo ? "" : c->in.mailfrom, c->in.helo,
			 c->in.receiver, c->in.now);
	if (c->spf == NULL) {
		if (helo)
			c->spf_helo = SPF_TEMPERROR;
		else
			c->spf_mail = SPF_TEMPERROR;
		return false;
	}
	return true;
}

/* The key record's name of signature i, or false to decide it unasked. */
static bool
dkim_question(struct inbound *c, size_t i, struct dnsq_question *q)
{
	const char *d, *s;
	int n;

	if (!dkim_verifier_query(c->dkim, i, &d, &s)) {
		dkim_verifier_check(c->dkim, i, NULL, 0, &c->sigs[i]);
		return false;
	}
	n = snprintf(q->name, sizeof(q->name), "%s._domainkey.%s", s, d);
	if (n < 0 || (size_t)n >= sizeof(q->name)) {
		dkim_verifier_check(c->dkim, i, NULL, 0, &c->sigs[i]);
		c->sigs[i].why = "key record name too long";
		return false;
	}
	for (char *p = q->name; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	q->type = DNSQ_TXT;
	return true;
}

static void
dkim_answered(struct inbound *c, const struct dnsq_answer *a)
{
	struct dkim_sig_result *r = &c->sigs[c->sig];

	if (a->status == DNSQ_TEMP) {
		dkim_verifier_check(c->dkim, c->sig, NULL, 0, r);
		r->res = DKIM_TEMPERROR;
		r->why = "key lookup failed";
	} else if (a->status != DNSQ_OK || a->n == 0) {
		dkim_verifier_check(c->dkim, c->sig, NULL, 0, r);
	} else {
		/* RFC 6376 3.6.2.2: several records are undefined; the first */
		dkim_verifier_check(c->dkim, c->sig, a->rr[0].text,
				    a->rr[0].len, r);
	}
	c->sig++;
}

/* Feeds DMARC the SPF and DKIM results it aligns with. */
static bool
dmarc_begin(struct inbound *c)
{
	if (!c->pol.dmarc || c->in.psl == NULL)
		return false;
	if (c->from_bad) {
		c->dmarc_res = DMARC_PERMERROR;
		snprintf(c->dmarc_why, sizeof(c->dmarc_why), "%s",
			 "no single From address");
		return false;
	}
	if ((c->dmarc = dmarc_new(c->in.psl, c->from_domain)) == NULL) {
		c->dmarc_res = DMARC_TEMPERROR;
		return false;
	}
	dmarc_set_spf(c->dmarc, c->spf_mail == SPF_PASS,
		      c->in.mailfrom[0] != '\0' ? c->mail_domain
						: c->in.helo);
	for (size_t i = 0; i < c->nsigs; i++)
		dmarc_add_dkim(c->dmarc,
			       c->sigs[i].res == DKIM_PASS &&
				       !c->sigs[i].partial,
			       c->sigs[i].domain);
	return true;
}

static void
dmarc_done(struct inbound *c)
{
	const char *why = NULL;

	c->dmarc_res = dmarc_result(c->dmarc, c->in.pct_roll, &c->applied,
				    &why);
	snprintf(c->dmarc_why, sizeof(c->dmarc_why), "%s",
		 why != NULL ? why : "");
	dmarc_free(&c->dmarc);
}

/* Moves on to the next step that has a question; false when done. */
static bool
advance(struct inbound *c, struct dnsq_question *q)
{
	for (;;) {
		switch (c->step) {
		case ST_SPF_HELO:
		case ST_SPF_MAIL:
			if (c->spf == NULL &&
			    !spf_begin(c, c->step == ST_SPF_HELO)) {
				c->step++;
				continue;
			}
			if (spf_next(c->spf, q))
				return true;
			spf_done(c, c->step == ST_SPF_HELO);
			c->step++;
			continue;
		case ST_DKIM:
			for (; c->sig < c->nsigs; c->sig++)
				if (dkim_question(c, c->sig, q))
					return true;
			c->step++;
			continue;
		case ST_DMARC:
			if (c->dmarc == NULL && !dmarc_begin(c)) {
				c->step++;
				continue;
			}
			if (dmarc_next(c->dmarc, q))
				return true;
			dmarc_done(c);
			c->step++;
			continue;
		case ST_DONE:
			return false;
		}
	}
}

bool
inbound_next(struct inbound *c, struct dnsq_question *q)
{
	return advance(c, q);
}

void
inbound_answer(struct inbound *c, const struct dnsq_answer *a)
{
	switch (c->step) {
	case ST_SPF_HELO:
	case ST_SPF_MAIL:
		spf_answer(c->spf, a);
		break;
	case ST_DKIM:
		dkim_answered(c, a);
		break;
	case ST_DMARC:
		dmarc_answer(c->dmarc, a);
		break;
	case ST_DONE:
		break;
	}
}

/* --- results -------------------------------------------------------- */

enum spf_result
inbound_spf(const struct inbound *c, bool helo)
{
	return helo ? c->spf_helo : c->spf_mail;
}

enum dmarc_result
inbound_dmarc(const struct inbound *c, enum dmarc_policy *applied)
{
	if (applied != NULL)
		*applied = c->applied;
	return c->dmarc_res;
}

/* A reason for the field: NULL when there is none to give. */
static const char *
reason(const char *why)
{
	return why != NULL && why[0] != '\0' ? why : NULL;
}

/* RFC 8601 2.7.1: a signature not taken whole is "policy", not "pass". */
static const char *
dkim_name(const struct dkim_sig_result *r)
{
	if (r->res == DKIM_PASS && r->partial)
		return "policy";
	if (r->res == DKIM_NOT_CHECKED)
		return "neutral";
	return dkim_result_name(r->res);
}

static int
add_spf(const struct inbound *c, struct authres *ar)
{
	int rc = 0;

	if (c->helo_checked)
		rc |= authres_add(ar, "spf", spf_result_name(c->spf_helo),
				  reason(c->spf_why[0]), "smtp.helo",
				  c->in.helo, NULL);
	if (c->mail_checked && c->in.mailfrom[0] != '\0')
		rc |= authres_add(ar, "spf", spf_result_name(c->spf_mail),
				  reason(c->spf_why[1]), "smtp.mailfrom",
				  c->mail_domain, NULL);
	return rc;
}

static int
add_dkim(const struct inbound *c, struct authres *ar)
{
	int rc = 0;

	if (!c->pol.dkim)
		return 0;
	if (c->nsigs == 0)
		return authres_add(ar, "dkim", "none", NULL, NULL);
	for (size_t i = 0; i < c->nsigs; i++) {
		const struct dkim_sig_result *r = &c->sigs[i];

		if (r->domain[0] == '\0')
			rc |= authres_add(ar, "dkim", dkim_name(r),
					  reason(r->why), NULL);
		else
			rc |= authres_add(ar, "dkim", dkim_name(r),
					  reason(r->why), "header.d",
					  r->domain, "header.s", r->selector,
					  "header.a", dkim_algo_name(r->algo),
					  NULL);
	}
	return rc;
}

static int
add_dmarc(const struct inbound *c, struct authres *ar)
{
	char comment[200];

	if (!c->pol.dmarc || c->in.psl == NULL)
		return 0;
	if (c->from_bad)
		return authres_add(ar, "dmarc", "permerror",
				   reason(c->dmarc_why), NULL);
	if (authres_add(ar, "dmarc", dmarc_result_name(c->dmarc_res), NULL,
			"header.from", c->from_domain, NULL) == -1)
		return -1;
	snprintf(comment, sizeof(comment), "%s%sdis=%s", c->dmarc_why,
		 c->dmarc_why[0] != '\0' ? " " : "",
		 c->dmarc_res == DMARC_FAIL ? dmarc_policy_name(c->applied)
					    : "none");
	return authres_comment(ar, comment);
}

int
inbound_authres(const struct inbound *c, struct buf *out)
{
	struct authres *ar = authres_new(c->in.authserv_id);
	int rc;

	if (ar == NULL)
		return -1;
	rc = add_spf(c, ar) | add_dkim(c, ar) | add_dmarc(c, ar);
	if (rc == 0)
		rc = authres_format(ar, out);
	authres_free(&ar);
	return rc;
}

/* prefix and arg, the arg printable ASCII only: a sender's text. */
static void
reply_text(char *out, size_t size, const char *prefix, const char *arg)
{
	char clean[120];
	size_t i, j = 0;

	for (i = 0; arg[i] != '\0' && j + 1 < sizeof(clean); i++)
		clean[j++] = arg[i] >= 0x20 && arg[i] < 0x7f ? arg[i] : ' ';
	clean[j] = '\0';
	snprintf(out, size, "%s%s", prefix, clean);
}

static void
log_line(const struct inbound *c, struct inbound_verdict *v)
{
	size_t n;

	n = (size_t)snprintf(v->log, sizeof(v->log), "spf_helo=%s spf=%s "
			     "dkim=", spf_result_name(c->spf_helo),
			     spf_result_name(c->spf_mail));
	for (size_t i = 0; i < c->nsigs && n < sizeof(v->log); i++)
		n += (size_t)snprintf(v->log + n, sizeof(v->log) - n, "%s%s",
				      i > 0 ? "," : "",
				      dkim_name(&c->sigs[i]));
	if (c->nsigs == 0 && n < sizeof(v->log))
		n += (size_t)snprintf(v->log + n, sizeof(v->log) - n, "none");
	if (n < sizeof(v->log))
		snprintf(v->log + n, sizeof(v->log) - n,
			 " dmarc=%s from=%s policy=%s",
			 dmarc_result_name(c->dmarc_res),
			 c->from_domain[0] != '\0' ? c->from_domain : "-",
			 dmarc_policy_name(c->applied));
}

void
inbound_verdict(const struct inbound *c, struct inbound_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->action = INBOUND_ACCEPT;
	log_line(c, v);
	if (c->pol.mode != INBOUND_ENFORCE)
		return;
	if (c->pol.spf_reject && c->spf_mail == SPF_FAIL) {
		v->action = INBOUND_REJECT;
		reply_text(v->reply, sizeof(v->reply),
			   "550 5.7.23 SPF check failed: ",
			   c->spf_exp[0] != '\0' ? c->spf_exp : c->mail_domain);
	} else if (c->dmarc_res == DMARC_FAIL &&
		   c->applied == DMARC_P_REJECT) {
		v->action = INBOUND_REJECT;
		reply_text(v->reply, sizeof(v->reply),
			   "550 5.7.1 Rejected by the DMARC policy of ",
			   c->from_domain);
	} else if (c->dmarc_res == DMARC_FAIL &&
		   c->applied == DMARC_P_QUARANTINE) {
		v->action = INBOUND_QUARANTINE;
	} else if (c->dmarc_res == DMARC_TEMPERROR ||
		   (c->pol.spf_reject && c->spf_mail == SPF_TEMPERROR)) {
		/* DNS trouble is never a permanent refusal */
		v->action = INBOUND_TEMPFAIL;
		snprintf(v->reply, sizeof(v->reply), "%s",
			 "451 4.4.3 Sender checks failed for a DNS error, "
			 "try again later");
	}
}

void
inbound_free(struct inbound **cp)
{
	struct inbound *c = *cp;

	if (c == NULL)
		return;
	spf_free(&c->spf);
	dmarc_free(&c->dmarc);
	dkim_verifier_free(&c->dkim);
	free(c->sigs);
	free(c);
	*cp = NULL;
}
