/*
 * spf - check_host() of RFC 7208 as a state machine (see spf.h).
 *
 * A stack of frames, one per check_host() level: the top-level domain,
 * then one per include (a redirect replaces its frame, as the RFC's
 * result of the redirect is the frame's result).  step() runs the top
 * frame's next term until it needs a DNS answer (ask(): the question and
 * the state that takes the answer) or the result is known.  A term that
 * needs %{p} or the ptr mechanism first runs the "validated names"
 * procedure of 5.5 (ST_P_*), once per check, and resumes.
 *
 * Limits (4.6.4): a term that causes lookups is counted before its
 * first question, so the (max_lookups+1)th is a permerror before it is
 * asked; a term whose own lookup finds nothing counts as void; MX and
 * PTR names are bounded.  temperror and permerror end the whole check at
 * once, as 4.4 and 4.6 say the topmost check_host() returns them.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "spf.h"
#include "spf_private.h"

enum state {
	ST_FRAME,	/* look up the record of the top frame */
	ST_TXT,		/* awaiting its TXT records */
	ST_TERM,	/* evaluate the top frame's next term */
	ST_A,		/* awaiting a's addresses */
	ST_MX,		/* awaiting mx's names */
	ST_MX_NEXT,	/* look up the next MX name's addresses */
	ST_MX_ADDR,	/* awaiting them */
	ST_EXISTS,	/* awaiting exists' A records */
	ST_PTR_MATCH,	/* ptr: the validated names are known */
	ST_REDIRECT,	/* no mechanism matched, redirect= is there */
	ST_EXP,		/* a fail with exp=: look the explanation up */
	ST_EXP_TXT,	/* awaiting its TXT */
	ST_EXP_TEXT,	/* expand it */
	ST_P_START,	/* the validated names of ip: PTR lookup */
	ST_P_PTR,	/* awaiting the PTR records */
	ST_P_NEXT,	/* look up the next name's addresses */
	ST_P_ADDR,	/* awaiting them */
	ST_DONE
};

typedef char name_t[DNSQ_NAME_MAX + 1];

struct frame {
	name_t domain;		/* <domain> of this check_host() */
	char *rec;		/* its record's text */
	struct spf_record r;
	size_t t;		/* the term being evaluated */
	bool redirected;	/* reached by redirect=: none -> permerror */
};

struct mx_name {
	unsigned pref;
	name_t name;
};

struct spf {
	struct spf_limits lim;
	int family;
	unsigned char ip[16];
	char local[SPF_SENDER_MAX + 1], odomain[SPF_SENDER_MAX + 1];
	char sender[2 * (SPF_SENDER_MAX + 1)];	/* local@odomain */
	char helo[SPF_SENDER_MAX + 1];
	name_t receiver;
	char ibuf[80], cbuf[INET6_ADDRSTRLEN], tbuf[24];
	name_t pval;
	struct spf_vars vars;

	unsigned lookups, voids;
	struct frame **fr;
	size_t depth, maxdepth;
	enum state st, p_return;
	bool asked;
	struct dnsq_question q;
	name_t target;		/* the current term's target name */
	bool target_ok;		/* ... is a name to ask for */

	struct mx_name *mx;	/* the mx term's names, sorted */
	size_t nmx, mi;
	name_t *ptr;		/* the PTR names of ip (5.5) */
	bool *ptr_ok;		/* ... validated */
	size_t nptr, pi;
	bool p_done, ptr_void;

	bool done;
	enum spf_result res;
	char why[384];
	char *exp_raw;		/* the exp= TXT */
	char exp[SPF_EXP_MAX + 1];
	bool has_exp;
};

static void step(struct spf *);
static void lookup_term(struct spf *, struct frame *, const struct spf_term *);
static void matched(struct spf *);
static void frame_result(struct spf *, enum spf_result);

/* --- small helpers ------------------------------------------------- */

static struct frame *
top(struct spf *s)
{
	return s->fr[s->depth - 1];
}

static struct spf_term *
term(struct spf *s)
{
	struct frame *f = top(s);

	return &f->r.t[f->t];
}

static void
finish(struct spf *s, enum spf_result res)
{
	s->res = res;
	s->done = true;
	s->st = ST_DONE;
}

static void __attribute__((format(printf, 2, 3)))
set_why(struct spf *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* a reason longer than why is cut: it is only a reason */
	if (vsnprintf(s->why, sizeof(s->why), fmt, ap) < 0)
		s->why[0] = '\0';
	va_end(ap);
}

/* temperror, permerror: the topmost check_host() returns them (4.4, 4.6) */
#define FAIL(s, res, ...) do {			\
		set_why((s), __VA_ARGS__);	\
		finish((s), (res));		\
	} while (0)

static void
ask(struct spf *s, enum dnsq_type type, const char *name, enum state next)
{
	size_t i;

	s->q.type = type;
	for (i = 0; name[i] != '\0' && i < DNSQ_NAME_MAX; i++)
		s->q.name[i] = (char)(name[i] >= 'A' && name[i] <= 'Z'
				      ? name[i] - 'A' + 'a' : name[i]);
	s->q.name[i] = '\0';
	s->asked = true;
	s->st = next;
}

static enum dnsq_type
addr_type(const struct spf *s)
{
	return s->family == AF_INET ? DNSQ_A : DNSQ_AAAA;
}

static size_t
addr_len(const struct spf *s)
{
	return s->family == AF_INET ? 4 : 16;
}

static bool
is_void(const struct dnsq_answer *a)
{
	return a->status == DNSQ_NODATA || a->status == DNSQ_NXDOMAIN ||
	       (a->status == DNSQ_OK && a->n == 0);
}

static bool
prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

static enum spf_result
qual_result(char q)
{
	switch (q) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	}
	return SPF_PASS;
}

/* An answer's records contain ip within bits of prefix. */
static bool
answer_has_ip(const struct spf *s, const struct dnsq_answer *a,
	      unsigned bits)
{
	if (a->status != DNSQ_OK)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (prefix_eq(a->rr[i].addr, s->ip, bits))
			return true;
	return false;
}

/* --- the limits of 4.6.4 ------------------------------------------- */

static bool
count_lookup(struct spf *s)
{
	if (s->lookups >= s->lim.max_lookups) {
		FAIL(s, SPF_PERMERROR, "more than %u DNS lookups (at %.*s)",
		     s->lim.max_lookups, (int)term(s)->tlen, term(s)->text);
		return false;
	}
	s->lookups++;
	return true;
}

static bool
count_void(struct spf *s)
{
	if (++s->voids > s->lim.max_void) {
		FAIL(s, SPF_PERMERROR, "more than %u void lookups (at %.*s)",
		     s->lim.max_void, (int)term(s)->tlen, term(s)->text);
		return false;
	}
	return true;
}

/* --- macros and targets -------------------------------------------- */

/* %{p} for domain d (7.3): d itself, a subdomain of it, any, "unknown" */
static const char *
pick_p(struct spf *s, const char *d)
{
	size_t dl = strlen(d), nl;
	const char *any = NULL;

	for (size_t i = 0; i < s->nptr; i++) {
		if (!s->ptr_ok[i])
			continue;
		if (strcasecmp(s->ptr[i], d) == 0)
			return s->ptr[i];
		if (any == NULL)
			any = s->ptr[i];
	}
	for (size_t i = 0; i < s->nptr; i++) {
		nl = strlen(s->ptr[i]);
		if (s->ptr_ok[i] && nl > dl && s->ptr[i][nl - dl - 1] == '.' &&
		    strcasecmp(s->ptr[i] + nl - dl, d) == 0)
			return s->ptr[i];
	}
	return any != NULL ? any : "unknown";
}

static void
set_vars(struct spf *s, const char *domain)
{
	s->vars.d = domain;
	s->vars.p = s->p_done ? pick_p(s, domain) : "unknown";
}

/*
 * True if the spec needs %{p} and the validated names are not known:
 * then the procedure runs first and the current state is resumed.
 */
static bool
need_p(struct spf *s, const char *spec, size_t slen)
{
	if (s->p_done || spec == NULL || !spf_macro_uses_p(spec, slen))
		return false;
	s->p_return = s->st;
	s->st = ST_P_START;
	return true;
}

/* The target of term t of frame f into s->target; s->target_ok. */
static void
expand_target(struct spf *s, struct frame *f, const struct spf_term *t)
{
	if (t->spec == NULL) {
		memcpy(s->target, f->domain, sizeof(s->target));
		s->target_ok = spf_name_valid(s->target);
		return;
	}
	set_vars(s, f->domain);
	s->target_ok = spf_macro_domain(&s->vars, t->spec, t->slen,
					s->target) == 0;
	if (!s->target_ok)
		s->target[0] = '\0';
}

/* --- frames -------------------------------------------------------- */

static void
push_frame(struct spf *s, const char *domain, bool redirected)
{
	struct frame *f;

	if (s->depth == s->maxdepth) {	/* the lookup limit comes first */
		FAIL(s, SPF_PERMERROR, "include nested too deep");
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		FAIL(s, SPF_TEMPERROR, "out of memory");
		return;
	}
	if (bsnprintf(f->domain, sizeof(f->domain), "%s", domain) == -1)
		f->domain[0] = '\0';	/* not a name: none (4.3) */
	f->redirected = redirected;
	s->fr[s->depth++] = f;
	s->st = ST_FRAME;
}

static void
clear_frame(struct frame *f)
{
	spf_record_free(&f->r);
	free(f->rec);
	f->rec = NULL;
}

static void
pop_frame(struct spf *s)
{
	struct frame *f = s->fr[--s->depth];

	clear_frame(f);
	free(f);
}

/* 4.3, 4.5: no record; through include or redirect a permerror */
static void
frame_none(struct spf *s, const char *why)
{
	struct frame *f = top(s);

	if (s->depth > 1 || f->redirected) {
		FAIL(s, SPF_PERMERROR, "%s at %s (%s)", why,
		     f->domain[0] != '\0' ? f->domain : "a malformed name",
		     s->depth > 1 ? "include" : "redirect");
		return;
	}
	set_why(s, "%s at %s", why, f->domain);
	finish(s, SPF_NONE);
}

static bool
domain_ok(const char *d)
{
	return spf_name_valid(d) && strchr(d, '.') != NULL;
}

static void
do_frame(struct spf *s)
{
	struct frame *f = top(s);

	if (!domain_ok(f->domain)) {
		frame_none(s, "malformed domain");
		return;
	}
	ask(s, DNSQ_TXT, f->domain, ST_TXT);
}

static bool
is_spf(const char *p, size_t n)
{
	return p != NULL && n >= 6 && strncasecmp(p, "v=spf1", 6) == 0 &&
	       (n == 6 || p[6] == ' ');
}

static void
on_txt(struct spf *s, const struct dnsq_answer *a)
{
	struct frame *f = top(s);
	const struct dnsq_rr *found = NULL;
	const char *err = "";
	unsigned count = 0;
	int rc;

	if (a->status == DNSQ_TEMP) {
		FAIL(s, SPF_TEMPERROR, "DNS error for TXT %s", f->domain);
		return;
	}
	for (size_t i = 0; a->status == DNSQ_OK && i < a->n; i++)
		if (is_spf(a->rr[i].text, a->rr[i].len)) {
			found = &a->rr[i];
			count++;
		}
	if (count == 0) {
		frame_none(s, "no SPF record");
		return;
	}
	if (count > 1) {
		FAIL(s, SPF_PERMERROR, "more than one SPF record at %s",
		     f->domain);
		return;
	}
	if (found->len > SPF_RECORD_MAX) {
		FAIL(s, SPF_PERMERROR, "SPF record of %s over %u octets",
		     f->domain, (unsigned)SPF_RECORD_MAX);
		return;
	}
	if ((f->rec = malloc(found->len + 1)) == NULL) {
		FAIL(s, SPF_TEMPERROR, "out of memory");
		return;
	}
	memcpy(f->rec, found->text, found->len);
	f->rec[found->len] = '\0';
	rc = spf_record_parse(f->rec, found->len, &f->r, &err);
	if (rc == -2) {
		FAIL(s, SPF_TEMPERROR, "out of memory");
	} else if (rc == -1) {
		FAIL(s, SPF_PERMERROR, "%s: \"%.*s\" in the record of %s",
		     err, (int)(f->r.badlen > 64 ? 64 : f->r.badlen),
		     f->r.bad, f->domain);
	} else {
		f->t = 0;
		s->st = ST_TERM;
	}
}

/* --- terms --------------------------------------------------------- */

static void
next_term(struct spf *s)
{
	top(s)->t++;
	s->st = ST_TERM;
}

static void
void_no_match(struct spf *s)
{
	if (count_void(s))
		next_term(s);
}

static void
matched(struct spf *s)
{
	struct frame *f = top(s);
	const struct spf_term *t = term(s);

	set_why(s, "%.*s matched at %s", (int)t->tlen, t->text, f->domain);
	frame_result(s, qual_result(t->qual));
}

/* The frame's check_host() result; an include's goes to its parent. */
static void
frame_result(struct spf *s, enum spf_result res)
{
	if (s->depth == 1) {
		if (res == SPF_FAIL && top(s)->r.exp >= 0) {
			s->res = res;
			s->st = ST_EXP;
			return;
		}
		finish(s, res);
		return;
	}
	pop_frame(s);
	if (res == SPF_PASS)
		matched(s);	/* 5.2: the include matches */
	else
		next_term(s);	/* fail, softfail, neutral: no match */
}

static void
no_more_terms(struct spf *s)
{
	struct frame *f = top(s);

	if (f->r.redirect >= 0 && !f->r.has_all) {
		/* 6.1: redirect= is ignored when there is "all" */
		s->st = ST_REDIRECT;
		return;
	}
	set_why(s, "no mechanism matched at %s", f->domain);
	frame_result(s, SPF_NEUTRAL);	/* 4.7 */
}

static bool
ip_term_match(const struct spf *s, const struct spf_term *t)
{
	if ((t->kind == SPF_T_IP4) != (s->family == AF_INET))
		return false;
	return prefix_eq(t->net, s->ip, t->cidr4);
}

static void
do_term(struct spf *s)
{
	struct frame *f = top(s);
	struct spf_term *t;

	if (f->t >= f->r.n) {
		no_more_terms(s);
		return;
	}
	t = term(s);
	switch (t->kind) {
	case SPF_T_ALL:
		matched(s);
		return;
	case SPF_T_IP4:
	case SPF_T_IP6:
		if (ip_term_match(s, t))
			matched(s);
		else
			next_term(s);
		return;
	case SPF_T_REDIRECT:
	case SPF_T_EXP:
	case SPF_T_UNKNOWN:
		next_term(s);
		return;
	default:
		break;
	}
	lookup_term(s, f, t);
}

/* A term that causes DNS lookups (4.6.4): its target, counted, asked. */
static void
lookup_term(struct spf *s, struct frame *f, const struct spf_term *t)
{
	if (need_p(s, t->spec, t->slen))
		return;
	expand_target(s, f, t);
	if (!count_lookup(s))
		return;
	switch (t->kind) {
	case SPF_T_INCLUDE:
		push_frame(s, s->target, false);
		return;
	case SPF_T_PTR:
		if (s->p_done) {
			s->st = ST_PTR_MATCH;
		} else {
			s->p_return = ST_PTR_MATCH;
			s->st = ST_P_START;
		}
		return;
	default:
		break;
	}
	if (!s->target_ok) {	/* nothing to ask: as if none was found */
		void_no_match(s);
		return;
	}
	if (t->kind == SPF_T_A)
		ask(s, addr_type(s), s->target, ST_A);
	else if (t->kind == SPF_T_MX)
		ask(s, DNSQ_MX, s->target, ST_MX);
	else	/* 5.7: exists asks for A whatever the client's family */
		ask(s, DNSQ_A, s->target, ST_EXISTS);
}

static unsigned
term_bits(const struct spf *s)
{
	const struct spf_term *t = &s->fr[s->depth - 1]->r.t[
		s->fr[s->depth - 1]->t];

	return s->family == AF_INET ? t->cidr4 : t->cidr6;
}

static void
on_a(struct spf *s, const struct dnsq_answer *a)
{
	if (a->status == DNSQ_TEMP)
		FAIL(s, SPF_TEMPERROR, "DNS error for %s %s",
		     dnsq_type_name(s->q.type), s->q.name);
	else if (is_void(a))
		void_no_match(s);
	else if (answer_has_ip(s, a, term_bits(s)))
		matched(s);
	else
		next_term(s);
}

static void
on_exists(struct spf *s, const struct dnsq_answer *a)
{
	if (a->status == DNSQ_TEMP)
		FAIL(s, SPF_TEMPERROR, "DNS error for A %s", s->q.name);
	else if (is_void(a))
		void_no_match(s);
	else
		matched(s);
}

/* An MX or PTR record's name (a trailing dot dropped); -1 if none. */
static int
copy_name(name_t out, const struct dnsq_rr *rr)
{
	size_t n = rr->len;

	if (rr->text == NULL)
		return -1;
	if (n > 0 && rr->text[n - 1] == '.')
		n--;
	if (n > DNSQ_NAME_MAX)
		return -1;
	memcpy(out, rr->text, n);
	out[n] = '\0';
	return 0;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct mx_name *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
on_mx(struct spf *s, const struct dnsq_answer *a)
{
	if (a->status == DNSQ_TEMP) {
		FAIL(s, SPF_TEMPERROR, "DNS error for MX %s", s->q.name);
		return;
	}
	if (is_void(a)) {
		void_no_match(s);
		return;
	}
	if (a->n > s->lim.max_mx_names) {	/* 4.6.4: permerror */
		FAIL(s, SPF_PERMERROR, "more than %u MX names at %s",
		     s->lim.max_mx_names, s->q.name);
		return;
	}
	s->nmx = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct mx_name *m = &s->mx[s->nmx];

		if (copy_name(m->name, &a->rr[i]) == -1)
			continue;
		m->pref = a->rr[i].pref;
		s->nmx++;
	}
	qsort(s->mx, s->nmx, sizeof(*s->mx), mx_cmp);
	s->mi = 0;
	s->st = ST_MX_NEXT;
}

static void
do_mx_next(struct spf *s)
{
	while (s->mi < s->nmx && !spf_name_valid(s->mx[s->mi].name))
		s->mi++;	/* a null MX ("."), a broken name */
	if (s->mi == s->nmx)
		next_term(s);
	else
		ask(s, addr_type(s), s->mx[s->mi].name, ST_MX_ADDR);
}

static void
on_mx_addr(struct spf *s, const struct dnsq_answer *a)
{
	if (a->status == DNSQ_TEMP) {
		FAIL(s, SPF_TEMPERROR, "DNS error for %s %s",
		     dnsq_type_name(s->q.type), s->q.name);
		return;
	}
	if (answer_has_ip(s, a, term_bits(s))) {
		matched(s);
		return;
	}
	s->mi++;
	s->st = ST_MX_NEXT;
}

/* 5.5: a validated name that is the target or a subdomain of it */
static void
do_ptr_match(struct spf *s)
{
	size_t tl = strlen(s->target), nl;

	if (s->ptr_void && !count_void(s))
		return;
	for (size_t i = 0; s->target_ok && i < s->nptr; i++) {
		if (!s->ptr_ok[i])
			continue;
		nl = strlen(s->ptr[i]);
		if (strcasecmp(s->ptr[i], s->target) == 0 ||
		    (nl > tl && s->ptr[i][nl - tl - 1] == '.' &&
		     strcasecmp(s->ptr[i] + nl - tl, s->target) == 0)) {
			matched(s);
			return;
		}
	}
	next_term(s);
}

static void
do_redirect(struct spf *s)
{
	struct frame *f = top(s);
	struct spf_term *t = &f->r.t[f->r.redirect];

	f->t = (size_t)f->r.redirect;	/* for the reasons */
	if (need_p(s, t->spec, t->slen))
		return;
	expand_target(s, f, t);
	if (!count_lookup(s))
		return;
	clear_frame(f);
	memcpy(f->domain, s->target, sizeof(f->domain));
	f->redirected = true;
	f->t = 0;
	s->st = ST_FRAME;
}

/* --- exp= (6.2) ---------------------------------------------------- */

static void
do_exp(struct spf *s)
{
	struct frame *f = top(s);
	struct spf_term *t = &f->r.t[f->r.exp];

	if (need_p(s, t->spec, t->slen))
		return;
	expand_target(s, f, t);
	if (!s->target_ok)
		finish(s, SPF_FAIL);
	else	/* not counted: 4.6.4 */
		ask(s, DNSQ_TXT, s->target, ST_EXP_TXT);
}

static void
on_exp_txt(struct spf *s, const struct dnsq_answer *a)
{
	const struct dnsq_rr *rr = a->n == 1 ? &a->rr[0] : NULL;

	/* anything but exactly one record: as if there were no exp= */
	if (a->status != DNSQ_OK || rr == NULL || rr->text == NULL ||
	    !spf_macro_valid(rr->text, rr->len, SPF_M_EXPLAIN) ||
	    (s->exp_raw = malloc(rr->len + 1)) == NULL) {
		finish(s, SPF_FAIL);
		return;
	}
	memcpy(s->exp_raw, rr->text, rr->len);
	s->exp_raw[rr->len] = '\0';
	s->st = ST_EXP_TEXT;
}

static void
do_exp_text(struct spf *s)
{
	size_t n = strlen(s->exp_raw);

	if (need_p(s, s->exp_raw, n))
		return;
	set_vars(s, top(s)->domain);
	spf_macro_explain(&s->vars, s->exp_raw, n, s->exp, sizeof(s->exp));
	s->has_exp = true;
	finish(s, SPF_FAIL);
}

/* --- the validated names of ip (5.5, 7.3 %{p}) --------------------- */

static void
do_p_start(struct spf *s)
{
	char rev[80];
	size_t k = 0;

	if (s->family == AF_INET) {
		if (bsnprintf(rev, sizeof(rev), "%u.%u.%u.%u.in-addr.arpa",
			      s->ip[3], s->ip[2], s->ip[1], s->ip[0]) == -1)
			rev[0] = '\0';	/* 29 octets at most: never */
	} else {
		static const char hex[] = "0123456789abcdef";

		for (int i = 15; i >= 0; i--) {
			rev[k++] = hex[s->ip[i] & 15];
			rev[k++] = '.';
			rev[k++] = hex[s->ip[i] >> 4];
			rev[k++] = '.';
		}
		memcpy(rev + k, "ip6.arpa", sizeof("ip6.arpa"));
	}
	ask(s, DNSQ_PTR, rev, ST_P_PTR);
}

static void
on_p_ptr(struct spf *s, const struct dnsq_answer *a)
{
	s->nptr = 0;
	/* a DNS error: no validated name, the ptr mechanism does not match
	 * and %{p} is "unknown" (5.5, 7.3) */
	s->ptr_void = is_void(a);
	for (size_t i = 0; a->status == DNSQ_OK && i < a->n &&
	     s->nptr < s->lim.max_ptr_names; i++) {
		if (copy_name(s->ptr[s->nptr], &a->rr[i]) == -1)
			continue;
		s->ptr_ok[s->nptr] = false;
		s->nptr++;	/* 4.6.4: names past the limit ignored */
	}
	s->pi = 0;
	s->st = ST_P_NEXT;
}

static void
do_p_next(struct spf *s)
{
	while (s->pi < s->nptr && !spf_name_valid(s->ptr[s->pi]))
		s->pi++;
	if (s->pi < s->nptr) {
		ask(s, addr_type(s), s->ptr[s->pi], ST_P_ADDR);
		return;
	}
	s->p_done = true;
	s->st = s->p_return;
}

static void
on_p_addr(struct spf *s, const struct dnsq_answer *a)
{
	/* an error looking up a name: that name is skipped (5.5) */
	s->ptr_ok[s->pi] = answer_has_ip(s, a, (unsigned)addr_len(s) * 8);
	s->pi++;
	s->st = ST_P_NEXT;
}

/* --- the machine --------------------------------------------------- */

static void
step(struct spf *s)
{
	switch (s->st) {
	case ST_FRAME:
		do_frame(s);
		break;
	case ST_TERM:
		do_term(s);
		break;
	case ST_MX_NEXT:
		do_mx_next(s);
		break;
	case ST_PTR_MATCH:
		do_ptr_match(s);
		break;
	case ST_REDIRECT:
		do_redirect(s);
		break;
	case ST_EXP:
		do_exp(s);
		break;
	case ST_EXP_TEXT:
		do_exp_text(s);
		break;
	case ST_P_START:
		do_p_start(s);
		break;
	case ST_P_NEXT:
		do_p_next(s);
		break;
	default:	/* a state that waits for an answer, or done */
		abort();
	}
}

bool
spf_next(struct spf *s, struct dnsq_question *q)
{
	while (!s->done && !s->asked)
		step(s);
	if (s->done)
		return false;
	*q = s->q;
	return true;
}

void
spf_answer(struct spf *s, const struct dnsq_answer *a)
{
	if (s->done || !s->asked)
		return;
	s->asked = false;
	switch (s->st) {
	case ST_TXT:
		on_txt(s, a);
		break;
	case ST_A:
		on_a(s, a);
		break;
	case ST_MX:
		on_mx(s, a);
		break;
	case ST_MX_ADDR:
		on_mx_addr(s, a);
		break;
	case ST_EXISTS:
		on_exists(s, a);
		break;
	case ST_EXP_TXT:
		on_exp_txt(s, a);
		break;
	case ST_P_PTR:
		on_p_ptr(s, a);
		break;
	case ST_P_ADDR:
		on_p_addr(s, a);
		break;
	default:
		abort();
	}
}

/* --- setup --------------------------------------------------------- */

static void
limits(struct spf_limits *l, const struct spf_limits *in)
{
	l->max_lookups = in != NULL && in->max_lookups != 0 ?
			 in->max_lookups : SPF_MAX_LOOKUPS;
	l->max_void = in != NULL && in->max_void != 0 ?
		      in->max_void : SPF_MAX_VOID;
	l->max_mx_names = in != NULL && in->max_mx_names != 0 ?
			  in->max_mx_names : SPF_MAX_MX_NAMES;
	l->max_ptr_names = in != NULL && in->max_ptr_names != 0 ?
			   in->max_ptr_names : SPF_MAX_PTR_NAMES;
	if (l->max_lookups > SPF_LOOKUPS_CAP)
		l->max_lookups = SPF_LOOKUPS_CAP;
	if (l->max_mx_names > DNSQ_RRS_MAX)
		l->max_mx_names = DNSQ_RRS_MAX;
	if (l->max_ptr_names > DNSQ_RRS_MAX)
		l->max_ptr_names = DNSQ_RRS_MAX;
}

/* ip, its %{i} (dotted, or nibbles for IPv6), %{c}, %{v} */
static bool
set_ip(struct spf *s, int family, const unsigned char *ip)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	if (ip == NULL || (family != AF_INET && family != AF_INET6))
		return false;
	if (family == AF_INET6 && memcmp(ip, mapped, 12) == 0) {
		family = AF_INET;
		ip += 12;
	}
	s->family = family;
	memcpy(s->ip, ip, addr_len(s));
	inet_ntop(family, s->ip, s->cbuf, sizeof(s->cbuf));
	if (family == AF_INET) {
		memcpy(s->ibuf, s->cbuf, sizeof(s->cbuf));
		s->vars.v = "in-addr";
	} else {
		for (int i = 0; i < 16; i++) {
			s->ibuf[k++] = hex[s->ip[i] >> 4];
			s->ibuf[k++] = '.';
			s->ibuf[k++] = hex[s->ip[i] & 15];
			s->ibuf[k++] = i < 15 ? '.' : '\0';
		}
		s->vars.v = "ip6";
	}
	return true;
}

/* <sender>, its local-part and domain; postmaster if none (4.3) */
static bool
set_sender(struct spf *s, const char *sender, const char *helo)
{
	const char *at;

	if (strlen(sender) > SPF_SENDER_MAX || strlen(helo) > SPF_SENDER_MAX)
		return false;
	memcpy(s->helo, helo, strlen(helo) + 1);
	if (*sender == '\0') {	/* the null path: postmaster@helo (2.4) */
		memcpy(s->odomain, helo, strlen(helo) + 1);
		at = sender;
	} else if ((at = strrchr(sender, '@')) != NULL) {
		memcpy(s->odomain, at + 1, strlen(at + 1) + 1);
	} else {
		memcpy(s->odomain, sender, strlen(sender) + 1);
		at = sender;
	}
	if (at == sender) {
		memcpy(s->local, "postmaster", sizeof("postmaster"));
	} else {
		memcpy(s->local, sender, (size_t)(at - sender));
		s->local[at - sender] = '\0';
	}
	/* cannot be cut: sender holds both parts */
	return bsnprintf(s->sender, sizeof(s->sender), "%s@%s", s->local,
			 s->odomain) != -1;
}

struct spf *
spf_new(const struct spf_limits *lim, int family, const unsigned char *ip,
	const char *domain, const char *sender, const char *helo,
	const char *receiver, int64_t now)
{
	struct spf *s = calloc(1, sizeof(*s));
	size_t dlen;

	if (s == NULL)
		return NULL;
	limits(&s->lim, lim);
	s->maxdepth = s->lim.max_lookups + 1;
	s->fr = calloc(s->maxdepth, sizeof(*s->fr));
	s->mx = calloc(s->lim.max_mx_names, sizeof(*s->mx));
	s->ptr = calloc(s->lim.max_ptr_names, sizeof(*s->ptr));
	s->ptr_ok = calloc(s->lim.max_ptr_names, sizeof(*s->ptr_ok));
	if (s->fr == NULL || s->mx == NULL || s->ptr == NULL ||
	    s->ptr_ok == NULL) {
		spf_free(&s);
		return NULL;
	}
	/* 7.3: "unknown" when we have no name (or not one that fits) */
	if (receiver == NULL || *receiver == '\0' ||
	    bsnprintf(s->receiver, sizeof(s->receiver), "%s", receiver) == -1)
		memcpy(s->receiver, "unknown", sizeof("unknown"));
	if (bsnprintf(s->tbuf, sizeof(s->tbuf), "%lld", (long long)now) == -1)
		s->tbuf[0] = '\0';	/* 20 digits and a sign always fit */
	s->vars = (struct spf_vars){ .s = s->sender, .l = s->local,
		.o = s->odomain, .i = s->ibuf, .h = s->helo, .c = s->cbuf,
		.r = s->receiver, .t = s->tbuf, .p = "unknown" };
	domain = domain != NULL ? domain : "";
	dlen = strlen(domain);
	if (dlen > 0 && domain[dlen - 1] == '.')
		dlen--;		/* the root's dot is not in the name */
	if (!set_ip(s, family, ip)) {
		FAIL(s, SPF_NONE, "no client address");
	} else if (!set_sender(s, sender != NULL ? sender : "",
			       helo != NULL ? helo : "")) {
		FAIL(s, SPF_NONE, "sender or HELO name too long");
	} else if (dlen > DNSQ_NAME_MAX) {
		FAIL(s, SPF_NONE, "malformed domain");
	} else {
		char d[DNSQ_NAME_MAX + 1];

		memcpy(d, domain, dlen);
		d[dlen] = '\0';
		push_frame(s, d, false);
	}
	return s;
}

enum spf_result
spf_result(const struct spf *s, const char **why, const char **exp)
{
	if (why != NULL)
		*why = s->done ? s->why : "not finished";
	if (exp != NULL)
		*exp = s->done && s->has_exp ? s->exp : NULL;
	return s->done ? s->res : SPF_TEMPERROR;
}

void
spf_counts(const struct spf *s, unsigned *lookups, unsigned *voids)
{
	*lookups = s->lookups;
	*voids = s->voids;
}

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	case SPF_PERMERROR:
		return "permerror";
	}
	return "?";
}

void
spf_free(struct spf **sp)
{
	struct spf *s = *sp;

	if (s == NULL)
		return;
	while (s->fr != NULL && s->depth > 0)
		pop_frame(s);
	free(s->fr);
	free(s->mx);
	free(s->ptr);
	free(s->ptr_ok);
	free(s->exp_raw);
	free(s);
	*sp = NULL;
}
