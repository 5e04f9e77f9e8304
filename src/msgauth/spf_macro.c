/*
 * spf_macro - the macro language of RFC 7208 section 7: syntax checks for
 * domain-specs, modifier values and explanations, and their expansion.
 * Pure functions over the values of struct spf_vars; bounded: a value is
 * split into at most SPF_PARTS_MAX parts, a domain expansion keeps only
 * its last octets (it is cut from the left to 253 anyway), an explanation
 * is cut at its buffer's end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spf_private.h"

#define SPF_PARTS_MAX 1024	/* a value is at most ~800 octets */
#define SPF_DIGITS_MAX 255	/* %{d99999}: all parts anyway */
#define TAIL_SIZE 1024		/* what a domain expansion keeps */

static const char DELIMS[] = ".-+,/_=";

enum tok_kind { TOK_LIT, TOK_MACRO };

struct tok {
	enum tok_kind kind;
	const char *lit;	/* TOK_LIT: the octets it stands for */
	size_t llen;
	char letter;		/* TOK_MACRO: lower case */
	bool upper;		/* URL-escape the value */
	unsigned digits;	/* 0: all parts */
	bool rev;
	unsigned delims;	/* bit i: DELIMS[i]; 0: none given */
	size_t len;		/* octets of the source it took */
};

static int next_tok(const char *, size_t, enum spf_mctx, struct tok *);
static int macro_tok(const char *, size_t, enum spf_mctx, struct tok *);
static bool toplabel(const char *, size_t);
static bool domain_end(const char *, size_t);

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The token at p: its length, or -1 if the syntax is wrong there. */
static int
next_tok(const char *p, size_t n, enum spf_mctx ctx, struct tok *t)
{
	unsigned char c = (unsigned char)p[0];

	memset(t, 0, sizeof(*t));
	t->kind = TOK_LIT;
	if (c != '%') {
		if (!((c >= 0x21 && c <= 0x7e) ||
		      (c == ' ' && ctx == SPF_M_EXPLAIN)))
			return -1;
		t->lit = p;
		t->llen = 1;
		return (int)(t->len = 1);
	}
	if (n < 2)
		return -1;
	t->len = 2;
	switch (p[1]) {
	case '%':
		t->lit = "%";
		t->llen = 1;
		return 2;
	case '_':
		t->lit = " ";
		t->llen = 1;
		return 2;
	case '-':
		t->lit = "%20";
		t->llen = 3;
		return 2;
	case '{':
		return macro_tok(p, n, ctx, t);
	}
	return -1;
}

/* "%{" letter *DIGIT ["r"] *delimiter "}" */
static int
macro_tok(const char *p, size_t n, enum spf_mctx ctx, struct tok *t)
{
	size_t i = 2;
	bool digits = false;
	const char *d;

	if (i >= n || strchr("slodiphcrtv", lower(p[i])) == NULL ||
	    p[i] == '\0')
		return -1;
	t->kind = TOK_MACRO;
	t->letter = lower(p[i]);
	t->upper = p[i] != t->letter;
	if (strchr("crt", t->letter) != NULL && ctx != SPF_M_EXPLAIN)
		return -1;	/* RFC 7208 7.3: exp text only */
	for (i++; i < n && is_digit(p[i]); i++) {
		digits = true;
		t->digits = t->digits * 10 + (unsigned)(p[i] - '0');
		if (t->digits > SPF_DIGITS_MAX)
			t->digits = SPF_DIGITS_MAX;
	}
	if (digits && t->digits == 0)
		return -1;	/* 7.3: the number MUST be nonzero */
	if (i < n && lower(p[i]) == 'r') {
		t->rev = true;
		i++;
	}
	for (; i < n && p[i] != '}'; i++) {
		if (p[i] == '\0' || (d = strchr(DELIMS, p[i])) == NULL)
			return -1;
		t->delims |= 1u << (d - DELIMS);
	}
	if (i >= n)
		return -1;
	t->len = i + 1;
	return (int)t->len;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
toplabel(const char *p, size_t n)
{
	bool alpha = false, hyphen = false;

	if (n == 0 || p[0] == '-' || p[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (is_alpha(p[i]))
			alpha = true;
		else if (p[i] == '-')
			hyphen = true;
		else if (!is_digit(p[i]))
			return false;
	}
	return alpha || hyphen;
}

/* The literal tail p (after the last macro-expand) as "." toplabel ["."] */
static bool
domain_end(const char *p, size_t n)
{
	const char *dot;

	if (n > 0 && p[n - 1] == '.')
		n--;
	dot = NULL;
	for (size_t i = n; i > 0; i--)
		if (p[i - 1] == '.') {
			dot = p + i - 1;
			break;
		}
	return dot != NULL && toplabel(dot + 1, (size_t)(p + n - dot - 1));
}

bool
spf_macro_valid(const char *p, size_t n, enum spf_mctx ctx)
{
	struct tok t;
	size_t i = 0, tail = 0;	/* where the literal tail starts */
	bool last_macro = false;	/* the last token is a macro-expand */
	int k;

	while (i < n) {
		if ((k = next_tok(p + i, n - i, ctx, &t)) < 0)
			return false;
		last_macro = p[i] == '%';
		i += (size_t)k;
		if (last_macro)
			tail = i;
	}
	if (ctx != SPF_M_DOMAIN)
		return true;
	if (n == 0)
		return false;
	if (last_macro)
		return true;	/* domain-end = macro-expand */
	return domain_end(p + tail, n - tail);
}

bool
spf_macro_uses_p(const char *p, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++)
		if (p[i] == '%') {
			if (p[i + 1] == '{' && lower(p[i + 2]) == 'p')
				return true;
			i++;	/* %% %_ %- and the { of others */
		}
	return false;
}

/* --- expansion ----------------------------------------------------- */

struct sink {
	char *buf;
	size_t size, len;
	bool tail;		/* keep the end (a domain), else the start */
	bool cut;		/* something was dropped */
};

static void
put(struct sink *o, char c)
{
	if (o->tail && o->len == o->size) {
		memmove(o->buf, o->buf + o->size / 2, o->size - o->size / 2);
		o->len = o->size - o->size / 2;
		o->cut = true;
	}
	if (o->len < o->size)
		o->buf[o->len++] = c;
	else
		o->cut = true;
}

static bool
unreserved(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' ||
	       c == '_' || c == '~';
}

static void
put_value(struct sink *o, const char *p, size_t n, bool escape)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		if (!escape || unreserved(p[i])) {
			put(o, p[i]);
			continue;
		}
		put(o, '%');
		put(o, hex[(unsigned char)p[i] >> 4]);
		put(o, hex[(unsigned char)p[i] & 15]);
	}
}

static bool
is_delim(char c, unsigned delims)
{
	const char *d = strchr(DELIMS, c);

	return c != '\0' && d != NULL && (delims & (1u << (d - DELIMS)));
}

/*
 * One macro: the value split on its delimiters, reversed, its rightmost
 * parts kept and joined with "." (RFC 7208 7.3), URL-escaped if upper.
 */
static void
put_macro(struct sink *o, const struct tok *t, const char *val)
{
	uint16_t off[SPF_PARTS_MAX], len[SPF_PARTS_MAX];
	size_t n = strlen(val), np = 0, start = 0, first, k;
	unsigned delims = t->delims != 0 ? t->delims : 1u;

	if (t->delims == 0 && t->digits == 0 && !t->rev) {
		put_value(o, val, n, t->upper);
		return;
	}
	for (size_t i = 0; i <= n && np < SPF_PARTS_MAX; i++)
		if (i == n || is_delim(val[i], delims)) {
			off[np] = (uint16_t)start;
			len[np++] = (uint16_t)(i - start);
			start = i + 1;
		}
	first = t->digits != 0 && t->digits < np ? np - t->digits : 0;
	for (size_t j = first; j < np; j++) {
		k = t->rev ? np - 1 - j : j;	/* reversed, then kept */
		if (j > first)
			put(o, '.');
		put_value(o, val + off[k], len[k], t->upper);
	}
}

static const char *
letter_value(const struct spf_vars *v, char letter)
{
	switch (letter) {
	case 's': return v->s;
	case 'l': return v->l;
	case 'o': return v->o;
	case 'd': return v->d;
	case 'i': return v->i;
	case 'p': return v->p != NULL ? v->p : "unknown";
	case 'v': return v->v;
	case 'h': return v->h;
	case 'c': return v->c;
	case 'r': return v->r;
	case 't': return v->t;
	}
	return "";
}

static void
expand(const struct spf_vars *v, const char *p, size_t n,
       enum spf_mctx ctx, struct sink *o)
{
	struct tok t;
	size_t i = 0;
	int k;

	while (i < n && (k = next_tok(p + i, n - i, ctx, &t)) > 0) {
		if (t.kind == TOK_LIT)
			for (size_t j = 0; j < t.llen; j++)
				put(o, t.lit[j]);
		else
			put_macro(o, &t, letter_value(v, t.letter));
		i += (size_t)k;
	}
}

bool
spf_name_valid(const char *name)
{
	size_t n = strlen(name), label = 0;

	if (n == 0 || n > DNSQ_NAME_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || name[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
			continue;
		}
		/* a space, a control, a backslash cannot go to a resolver's
		 * text-to-wire conversion unescaped */
		if ((unsigned char)name[i] <= 0x20 ||
		    (unsigned char)name[i] >= 0x7f || name[i] == '\\')
			return false;
		label++;
	}
	return true;
}

int
spf_macro_domain(const struct spf_vars *v, const char *p, size_t n,
		 char out[DNSQ_NAME_MAX + 1])
{
	char buf[TAIL_SIZE];
	struct sink o = { buf, sizeof(buf), 0, true, false };
	size_t from;

	expand(v, p, n, SPF_M_DOMAIN, &o);
	if (o.len > 0 && buf[o.len - 1] == '.')
		o.len--;
	/* 7.3: longer than 253: drop labels from the left until it fits */
	from = o.len > DNSQ_NAME_MAX ? o.len - DNSQ_NAME_MAX : 0;
	for (; from < o.len; from++)
		if ((from == 0 && !o.cut) || (from > 0 && buf[from - 1] == '.'))
			break;
	if (from >= o.len)
		return -1;
	for (size_t i = from; i < o.len; i++)
		out[i - from] = lower(buf[i]);
	out[o.len - from] = '\0';
	return spf_name_valid(out) ? 0 : -1;
}

void
spf_macro_explain(const struct spf_vars *v, const char *p, size_t n,
		  char *out, size_t size)
{
	struct sink o = { out, size - 1, 0, false, false };

	expand(v, p, n, SPF_M_EXPLAIN, &o);
	out[o.len] = '\0';
}
