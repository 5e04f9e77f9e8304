/*
 * spf_record - the syntax of an SPF record (RFC 7208 4.6.1, 5, 6, 12):
 * the whole record is parsed before any term is evaluated, since a
 * syntax error anywhere makes the check a permerror (4.6).  Terms point
 * into the record's text; the term array is the only allocation (one
 * per space-separated term, so bounded by the record's length).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_private.h"

static int parse_term(struct spf_record *, struct spf_term *, const char **);
static int parse_modifier(struct spf_record *, struct spf_term *, size_t,
			  const char **);
static int parse_mechanism(struct spf_record *, struct spf_term *,
			   const char **);

static bool
name_char(char c, bool first)
{
	bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

	if (first)
		return alpha;
	return alpha || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.';
}

static bool
is_word(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

int
spf_record_parse(const char *rec, size_t len, struct spf_record *r,
		 const char **error_r)
{
	size_t n = 0, i;

	memset(r, 0, sizeof(*r));
	r->redirect = r->exp = -1;
	if (len < 6 || strncasecmp(rec, "v=spf1", 6) != 0 ||
	    (len > 6 && rec[6] != ' ')) {
		*error_r = "not an SPF record";
		return -1;
	}
	for (i = 6; i < len; i++)	/* after "v=spf1" */
		if (rec[i] != ' ' && (rec[i - 1] == ' '))
			n++;
	if (n > 0 && (r->t = calloc(n, sizeof(*r->t))) == NULL) {
		*error_r = "out of memory";
		return -2;
	}
	for (i = 6; i < len;) {
		struct spf_term *t;
		size_t end;

		if (rec[i] == ' ') {
			i++;
			continue;
		}
		for (end = i; end < len && rec[end] != ' '; end++)
			;
		t = &r->t[r->n];
		t->text = rec + i;
		t->tlen = end - i;
		if (parse_term(r, t, error_r) == -1) {
			r->bad = t->text;
			r->badlen = t->tlen;
			free(r->t);
			r->t = NULL;
			r->n = 0;
			return -1;
		}
		r->n++;
		i = end;
	}
	return 0;
}

void
spf_record_free(struct spf_record *r)
{
	free(r->t);
	r->t = NULL;
	r->n = 0;
}

static int
parse_term(struct spf_record *r, struct spf_term *t, const char **error_r)
{
	size_t k = 0;

	while (k < t->tlen && name_char(t->text[k], k == 0))
		k++;
	if (k > 0 && k < t->tlen && t->text[k] == '=')
		return parse_modifier(r, t, k, error_r);
	return parse_mechanism(r, t, error_r);
}

/* name "=" value: redirect= and exp= at most once, others ignored */
static int
parse_modifier(struct spf_record *r, struct spf_term *t, size_t k,
	       const char **error_r)
{
	long *seen = NULL;

	t->spec = t->text + k + 1;
	t->slen = t->tlen - k - 1;
	if (is_word(t->text, k, "redirect")) {
		t->kind = SPF_T_REDIRECT;
		seen = &r->redirect;
	} else if (is_word(t->text, k, "exp")) {
		t->kind = SPF_T_EXP;
		seen = &r->exp;
	} else {
		t->kind = SPF_T_UNKNOWN;
		if (!spf_macro_valid(t->spec, t->slen, SPF_M_STRING)) {
			*error_r = "bad macro in a modifier";
			return -1;
		}
		return 0;
	}
	if (*seen != -1) {
		*error_r = "a modifier given twice";
		return -1;
	}
	*seen = (long)r->n;
	if (!spf_macro_valid(t->spec, t->slen, SPF_M_DOMAIN)) {
		*error_r = "bad domain-spec";
		return -1;
	}
	return 0;
}

/* "/" ("0" / %x31-39 *DIGIT) of at most max; -1 if not that */
static int
cidr_value(const char *p, size_t n, unsigned max)
{
	unsigned v = 0;

	if (n == 0 || n > 3 || (p[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v <= max ? (int)v : -1;
}

/* The last "/digits" of p[0..*n): its digits' offset, or -1. */
static long
last_cidr(const char *p, size_t n)
{
	size_t j = n;

	while (j > 0 && p[j - 1] >= '0' && p[j - 1] <= '9')
		j--;
	if (j == n || j == 0 || p[j - 1] != '/')
		return -1;
	return (long)j;
}

/*
 * [":" domain-spec] [dual-cidr-length] of a and mx (the rest after the
 * name); dual: whether CIDR lengths may be given.
 */
static int
parse_spec_cidr(struct spf_term *t, const char *p, size_t n, bool dual,
		bool need_spec, const char **error_r)
{
	long j;
	int v;

	t->cidr4 = 32;
	t->cidr6 = 128;
	if (dual && (j = last_cidr(p, n)) >= 2 && p[j - 2] == '/') {
		if ((v = cidr_value(p + j, n - (size_t)j, 128)) < 0)
			goto bad_cidr;
		t->cidr6 = (unsigned)v;
		n = (size_t)j - 2;
	}
	if (dual && (j = last_cidr(p, n)) >= 1) {
		if ((v = cidr_value(p + j, n - (size_t)j, 32)) < 0)
			goto bad_cidr;
		t->cidr4 = (unsigned)v;
		n = (size_t)j - 1;
	}
	if (n == 0 && !need_spec)
		return 0;
	if (n < 2 || p[0] != ':' ||
	    !spf_macro_valid(p + 1, n - 1, SPF_M_DOMAIN)) {
		*error_r = "bad domain-spec";
		return -1;
	}
	t->spec = p + 1;
	t->slen = n - 1;
	return 0;
bad_cidr:
	*error_r = "bad CIDR length";
	return -1;
}

/* ":" address ["/" length] of ip4 and ip6 */
static int
parse_ip(struct spf_term *t, const char *p, size_t n, int family,
	 const char **error_r)
{
	char addr[64];
	const char *slash;
	size_t alen;
	unsigned max = family == AF_INET ? 32 : 128;
	int v = (int)max;

	if (n < 2 || p[0] != ':')
		goto bad;
	p++;
	n--;
	slash = memchr(p, '/', n);
	alen = slash != NULL ? (size_t)(slash - p) : n;
	if (slash != NULL &&
	    (v = cidr_value(slash + 1, n - alen - 1, max)) < 0) {
		*error_r = "bad CIDR length";
		return -1;
	}
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, p, alen);
	addr[alen] = '\0';
	if (inet_pton(family, addr, t->net) != 1)
		goto bad;
	t->cidr4 = t->cidr6 = (unsigned)v;
	return 0;
bad:
	*error_r = family == AF_INET ? "bad ip4 address" : "bad ip6 address";
	return -1;
}

static int
parse_mechanism(struct spf_record *r, struct spf_term *t,
		const char **error_r)
{
	const char *p = t->text, *rest;
	size_t n = t->tlen, k, rlen;

	t->qual = '+';
	if (n > 0 && strchr("+-~?", p[0]) != NULL) {
		t->qual = p[0];
		p++;
		n--;
	}
	for (k = 0; k < n && p[k] != ':' && p[k] != '/'; k++)
		;
	rest = p + k;
	rlen = n - k;
	if (is_word(p, k, "all")) {
		t->kind = SPF_T_ALL;
		r->has_all = true;
		if (rlen == 0)
			return 0;
		*error_r = "arguments to all";
		return -1;
	}
	if (is_word(p, k, "include") || is_word(p, k, "exists")) {
		t->kind = p[0] == 'i' || p[0] == 'I' ? SPF_T_INCLUDE
						     : SPF_T_EXISTS;
		return parse_spec_cidr(t, rest, rlen, false, true, error_r);
	}
	if (is_word(p, k, "a") || is_word(p, k, "mx")) {
		t->kind = k == 1 ? SPF_T_A : SPF_T_MX;
		return parse_spec_cidr(t, rest, rlen, true, false, error_r);
	}
	if (is_word(p, k, "ptr")) {
		t->kind = SPF_T_PTR;
		return parse_spec_cidr(t, rest, rlen, false, false, error_r);
	}
	if (is_word(p, k, "ip4") || is_word(p, k, "ip6")) {
		t->kind = p[2] == '4' ? SPF_T_IP4 : SPF_T_IP6;
		return parse_ip(t, rest, rlen,
				t->kind == SPF_T_IP4 ? AF_INET : AF_INET6,
				error_r);
	}
	*error_r = "unknown mechanism";
	return -1;
}
