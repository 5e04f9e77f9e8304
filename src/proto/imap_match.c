/*
 * imap_match - see imap_match.h.  State i means "the first i octets of
 * the (collapsed) pattern match what was read"; the accepting state is
 * the last.  On an octet c, a state i goes on to i + 1 if octet i is c,
 * stays if it is '*' (or '%' and c is not '/'); then every state on a
 * wildcard also reaches the one after it (the wildcard matching nothing),
 * one step being enough because no two wildcards follow each other.
 */
#include "imap_match.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"

struct imap_match {
	size_t m;		/* pattern octets after collapsing */
	size_t words;		/* of a state set: m + 1 bits */
	size_t fixed;		/* octets that are not wildcards */
	bool ends_pct;
	uint64_t *lit;		/* [256][words]: octet i is c */
	uint64_t *star, *pct, *wild; /* octet i is '*', '%', either */
	/* states after each octet of the last name (stack[0]: start) */
	uint64_t *stack;
	size_t depth_cap;
	char *prev;		/* the last name, whose states stack holds */
	size_t prev_len;
};

static void
setbit(uint64_t *v, size_t i)
{
	v[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool
getbit(const uint64_t *v, size_t i)
{
	return (v[i / 64] >> (i % 64)) & 1;
}

/* Runs of wildcards made one: '*' if the run holds one, else '%'. */
static size_t
collapse(const char *pat, size_t len, char *out, size_t *fixed)
{
	size_t n = 0;

	*fixed = 0;
	for (size_t i = 0; i < len; i++) {
		bool w = pat[i] == '*' || pat[i] == '%';

		if (w && n > 0 && (out[n - 1] == '*' || out[n - 1] == '%')) {
			if (pat[i] == '*')
				out[n - 1] = '*';
			continue;
		}
		out[n++] = pat[i];
		*fixed += !w;
	}
	return n;
}

struct imap_match *
imap_match_new(const char *pat, size_t len)
{
	struct imap_match *m = xcalloc(1, sizeof(*m));
	char *p = xmalloc(len + 1);

	m->m = collapse(pat, len, p, &m->fixed);
	m->ends_pct = len > 0 && pat[len - 1] == '%';
	m->words = m->m / 64 + 1;
	m->lit = xcalloc(256 * m->words, sizeof(uint64_t));
	m->star = xcalloc(3 * m->words, sizeof(uint64_t));
	m->pct = m->star + m->words;
	m->wild = m->pct + m->words;
	for (size_t i = 0; i < m->m; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '*' || c == '%')
			setbit(c == '*' ? m->star : m->pct, i);
		if (c == '*' || c == '%')
			setbit(m->wild, i);
		else
			setbit(m->lit + c * m->words, i);
	}
	free(p);
	m->prev = xstrdup("");
	return m;
}

void
imap_match_free(struct imap_match **mp)
{
	struct imap_match *m = *mp;

	if (m == NULL)
		return;
	free(m->lit);
	free(m->star);
	free(m->stack);
	free(m->prev);
	free(m);
	*mp = NULL;
}

bool
imap_match_ends_pct(const struct imap_match *m)
{
	return m->ends_pct;
}

static unsigned char
other_case(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return (unsigned char)(c - 'a' + 'A');
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A' + 'a');
	return c;
}

/*
 * to: the states after octet c from from, in one pass over the words:
 * what goes on (shifted by one state), what stays on a wildcard, then
 * the wildcards' "nothing" (shifted again; the state after a wildcard is
 * never one, so no carry of it chains).
 */
static void
step(const struct imap_match *m, const uint64_t *from, uint64_t *to,
     unsigned char c, bool icase)
{
	const uint64_t *l = m->lit + c * m->words;
	const uint64_t *u = m->lit + other_case(c) * m->words;
	uint64_t go_carry = 0, wild_carry = 0;

	for (size_t w = 0; w < m->words; w++) {
		uint64_t go = from[w] & (l[w] | (icase ? u[w] : 0));
		uint64_t stay = from[w] & (m->star[w] |
					   (c != '/' ? m->pct[w] : 0));
		uint64_t t = stay | go << 1 | go_carry, on;

		go_carry = go >> 63;
		on = t & m->wild[w];
		to[w] = t | on << 1 | wild_carry;
		wild_carry = on >> 63;
	}
}

static void
start(const struct imap_match *m, uint64_t *s)
{
	memset(s, 0, m->words * sizeof(*s));
	setbit(s, 0);
	if (getbit(m->wild, 0) && m->m > 0)
		setbit(s, 1);	/* a leading wildcard matching nothing */
}

/* The stack sized for a name of nl octets (what it holds kept). */
static void
stack_fit(struct imap_match *m, size_t nl)
{
	if (m->stack == NULL) {
		m->depth_cap = nl + 1 > 64 ? nl + 1 : 64;
		m->stack = xcalloc(m->depth_cap * m->words, sizeof(uint64_t));
		start(m, m->stack);
	}
	if (nl + 1 <= m->depth_cap)
		return;
	m->depth_cap = 2 * (nl + 1);
	m->stack = xrealloc(m->stack,
			    m->depth_cap * m->words * sizeof(uint64_t));
}

static bool
match_icase(struct imap_match *m, const char *name)
{
	uint64_t *base = xcalloc(2 * m->words, sizeof(uint64_t));
	uint64_t *a = base, *b = base + m->words, *t;
	bool r;

	start(m, a);
	for (const char *p = name; *p != '\0'; p++) {
		step(m, a, b, (unsigned char)*p, true);
		t = a, a = b, b = t;
	}
	r = getbit(a, m->m);
	free(base);
	return r;
}

bool
imap_match(struct imap_match *m, const char *name, bool icase)
{
	size_t nl = strlen(name), l = 0;

	if (nl < m->fixed)
		return false;	/* too short to hold the fixed octets */
	if (icase)
		return match_icase(m, name);
	stack_fit(m, nl);
	while (l < nl && l < m->prev_len && name[l] == m->prev[l])
		l++;
	for (size_t j = l; j < nl; j++)
		step(m, m->stack + j * m->words, m->stack + (j + 1) * m->words,
		     (unsigned char)name[j], false);
	free(m->prev);
	m->prev = xstrndup(name, nl);
	m->prev_len = nl;
	return getbit(m->stack + nl * m->words, m->m);
}
