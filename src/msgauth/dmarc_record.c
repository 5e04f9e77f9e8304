/*
 * dmarc_record - the DMARC policy record (RFC 7489 6.3, 6.4) on DKIM's
 * tag-list parser (msgauth/dkim_tags.h: 6.3 says the syntax is DKIM's).
 * See dmarc.h for what is refused.  Values in the grammar's quoted
 * strings ("reject", "r", "afrf", ...) match in any case, as RFC 5234
 * says; tag names and "DMARC1" are case-sensitive.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "dkim_tags.h"
#include "dmarc.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
val_is(const struct dkim_tag *t, const char *s)
{
	return t->vlen == strlen(s) && strncasecmp(t->val, s, t->vlen) == 0;
}

bool
dmarc_is_record(const char *txt, size_t len)
{
	size_t i = 0;

	while (i < len && is_wsp(txt[i]))
		i++;
	if (i == len || txt[i++] != 'v')
		return false;
	while (i < len && is_wsp(txt[i]))
		i++;
	if (i == len || txt[i++] != '=')
		return false;
	while (i < len && is_wsp(txt[i]))
		i++;
	if (len - i < 6 || memcmp(txt + i, "DMARC1", 6) != 0)
		return false;
	for (i += 6; i < len && is_wsp(txt[i]); i++)
		;
	return i == len || txt[i] == ';';
}

static int
policy_of(const struct dkim_tag *t, enum dmarc_policy *p)
{
	if (val_is(t, "none"))
		*p = DMARC_P_NONE;
	else if (val_is(t, "quarantine"))
		*p = DMARC_P_QUARANTINE;
	else if (val_is(t, "reject"))
		*p = DMARC_P_REJECT;
	else
		return -1;
	return 0;
}

/* "r" or "s" */
static int
mode_of(const struct dkim_tag *t, bool *strict)
{
	if (!val_is(t, "r") && !val_is(t, "s"))
		return -1;
	*strict = val_is(t, "s");
	return 0;
}

/* 1*DIGIT up to max; -1 if not digits or over max. */
static int
number_of(const char *s, size_t n, unsigned long max, unsigned long *v)
{
	*v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		*v = *v * 10 + (unsigned long)(s[i] - '0');
		if (*v > max)
			return -1;
	}
	return 0;
}

/* The items of a list split by sep, whitespace around each trimmed. */
struct item_iter {
	const char *p, *end;
	char sep;
};

static bool
next_item(struct item_iter *it, const char **s, size_t *n)
{
	const char *e;

	if (it->p > it->end)
		return false;
	e = memchr(it->p, it->sep, (size_t)(it->end - it->p));
	if (e == NULL)
		e = it->end;
	*s = it->p;
	*n = (size_t)(e - it->p);
	while (*n > 0 && is_wsp(**s))
		(*s)++, (*n)--;
	while (*n > 0 && is_wsp((*s)[*n - 1]))
		(*n)--;
	it->p = e + 1;
	return true;
}

/* fo=: ( "0" / "1" / "d" / "s" ) *( ":" ... ) */
static int
fo_of(const struct dkim_tag *t, unsigned *fo)
{
	struct item_iter it = { t->val, t->val + t->vlen, ':' };
	const char *s;
	size_t n;

	*fo = 0;
	while (next_item(&it, &s, &n)) {
		const char *k = n == 1 ? strchr("01dsDS", s[0]) : NULL;

		if (k == NULL || s[0] == '\0')
			return -1;
		*fo |= s[0] == '0' ? DMARC_FO_0 : s[0] == '1' ? DMARC_FO_1
		     : (s[0] | 32) == 'd' ? DMARC_FO_D : DMARC_FO_S;
	}
	return 0;
}

/* rf=: Keyword *( ":" Keyword ), Keyword = ldh-str */
static int
rf_of(const struct dkim_tag *t, bool *afrf)
{
	struct item_iter it = { t->val, t->val + t->vlen, ':' };
	const char *s;
	size_t n;

	*afrf = false;
	while (next_item(&it, &s, &n)) {
		if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
			return -1;
		for (size_t i = 0; i < n; i++)
			if (!is_alnum(s[i]) && s[i] != '-')
				return -1;
		*afrf = *afrf || (n == 4 && strncasecmp(s, "afrf", 4) == 0);
	}
	return 0;
}

/*
 * A dmarc-uri: URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ], the URI
 * checked as scheme ":" and something printable without '!' or ','.
 */
static bool
uri_valid(const char *s, size_t n)
{
	const char *bang = memchr(s, '!', n);
	size_t u = bang != NULL ? (size_t)(bang - s) : n, i = 0;

	if (u == 0 || !is_alnum(s[0]) || is_digit(s[0]))
		return false;
	while (i < u && (is_alnum(s[i]) || s[i] == '+' || s[i] == '-' ||
			 s[i] == '.'))
		i++;
	if (i == u || s[i] != ':' || i + 1 == u)
		return false;
	for (i++; i < u; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
			return false;
	if (bang == NULL)
		return true;
	for (i = u + 1; i < n && is_digit(s[i]); i++)
		;
	if (i == u + 1)
		return false;
	return i == n || (i + 1 == n && strchr("kmgtKMGT", s[i]) != NULL);
}

/* Valid URIs in a rua=/ruf= list; bad ones are not counted (unused). */
static unsigned
uris_of(const struct dkim_tag *t)
{
	struct item_iter it = { t->val, t->val + t->vlen, ',' };
	const char *s;
	size_t n;
	unsigned count = 0;

	while (next_item(&it, &s, &n))
		count += uri_valid(s, n);
	return count;
}

static void
defaults(struct dmarc_record *r)
{
	memset(r, 0, sizeof(*r));
	r->pct = 100;
	r->fo = DMARC_FO_0;
	r->rf_afrf = true;
	r->ri = 86400;
}

/* The tags other than v, p, sp; -1 with *why on a bad value. */
static int
other_tags(const struct dkim_tags *tags, struct dmarc_record *r,
	   const char **why)
{
	const struct dkim_tag *t;
	unsigned long v;

	if ((t = dkim_tags_get(tags, "adkim")) != NULL &&
	    mode_of(t, &r->adkim_strict) == -1)
		return *why = "adkim= is not r or s", -1;
	if ((t = dkim_tags_get(tags, "aspf")) != NULL &&
	    mode_of(t, &r->aspf_strict) == -1)
		return *why = "aspf= is not r or s", -1;
	if ((t = dkim_tags_get(tags, "pct")) != NULL) {
		if (t->vlen > 3 || number_of(t->val, t->vlen, 100, &v) == -1)
			return *why = "pct= is not a number 0 to 100", -1;
		r->pct = (unsigned)v;
	}
	if ((t = dkim_tags_get(tags, "ri")) != NULL &&
	    number_of(t->val, t->vlen, UINT32_MAX, &r->ri) == -1)
		return *why = "ri= is not a 32-bit number", -1;
	if ((t = dkim_tags_get(tags, "fo")) != NULL &&
	    fo_of(t, &r->fo) == -1)
		return *why = "fo= is not a list of 0, 1, d, s", -1;
	if ((t = dkim_tags_get(tags, "rf")) != NULL &&
	    rf_of(t, &r->rf_afrf) == -1)
		return *why = "rf= is not a list of keywords", -1;
	if ((t = dkim_tags_get(tags, "rua")) != NULL)
		r->rua = uris_of(t);
	if ((t = dkim_tags_get(tags, "ruf")) != NULL)
		r->ruf = uris_of(t);
	return 0;
}

int
dmarc_parse(const char *txt, size_t len, struct dmarc_record *r,
	    const char **why)
{
	struct dkim_tags tags;
	const struct dkim_tag *p, *sp;
	bool bad;

	defaults(r);
	if (!dmarc_is_record(txt, len))
		return *why = "not a DMARC record (v=DMARC1 first)", -1;
	if (dkim_tags_parse(txt, len, &tags, why) == -1)
		return -1;
	if (other_tags(&tags, r, why) == -1)
		return -1;
	p = dkim_tags_get(&tags, "p");
	sp = dkim_tags_get(&tags, "sp");
	bad = p == NULL || policy_of(p, &r->p) == -1;
	if (sp != NULL) {
		r->has_sp = true;
		bad = bad || policy_of(sp, &r->sp) == -1;
	}
	if (!bad)
		return 0;
	if (r->rua == 0)
		return *why = p == NULL ? "no p= tag" : "p= or sp= is invalid",
		       -1;
	/* 6.6.3 step 6: as if the record said p=none */
	r->p = r->sp = DMARC_P_NONE;
	r->has_sp = false;
	r->p_fallback = true;
	return 0;
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_NONE:
		return "none";
	case DMARC_P_QUARANTINE:
		return "quarantine";
	case DMARC_P_REJECT:
		return "reject";
	}
	return "?";
}
