/*
 * psl - the Public Suffix List in an open-addressing hash table keyed by
 * the rule's name (without "!" or "*."), with flags saying which kinds of
 * rule exist for that name.  See psl.h.
 *
 * A name of n labels is looked up suffix by suffix; the prevailing rule
 * is an exception if one matches, else the longest match (a wildcard
 * "*.S" matches one label more than S), else "*" (one label).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "dnsq.h"
#include "psl.h"
#include "punycode.h"

enum { RULE = 1, WILD = 2, EXCEPT = 4 };

#define LABELS_MAX 127	/* of a 253-octet name */

struct slot {
	uint32_t off;	/* the name in the arena; 0: empty slot */
	uint8_t len;
	uint8_t flags;
};

struct psl {
	char *arena;		/* names back to back, arena[0] unused */
	size_t alen, acap;
	struct slot *tab;
	size_t cap;		/* a power of two, >= twice the names */
	size_t names, rules, skipped;
};

static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
	return h;
}

static struct slot *
slot_of(const struct psl *p, const char *s, size_t n)
{
	size_t i = (size_t)hash(s, n) & (p->cap - 1);

	for (;; i = (i + 1) & (p->cap - 1)) {
		struct slot *e = &p->tab[i];

		if (e->off == 0 ||
		    (e->len == n && memcmp(p->arena + e->off, s, n) == 0))
			return e;
	}
}

static unsigned
flags_of(const struct psl *p, const char *s, size_t n)
{
	const struct slot *e = slot_of(p, s, n);

	return e->off != 0 ? e->flags : 0;
}

static void
add_name(struct psl *p, const char *s, size_t n, unsigned flags)
{
	struct slot *e = slot_of(p, s, n);

	if (e->off == 0) {
		if (p->alen + n > p->acap) {
			p->acap = (p->alen + n) * 2;
			p->arena = xrealloc(p->arena, p->acap);
		}
		memcpy(p->arena + p->alen, s, n);
		e->off = (uint32_t)p->alen;
		e->len = (uint8_t)n;
		p->alen += n;
		p->names++;
	}
	e->flags |= (uint8_t)flags;
}

/*
 * The name s (n octets, labels in UTF-8 or ASCII) in A-labels, lower
 * case, into out (DNSQ_NAME_MAX + 1); its length, or -1.
 */
static int
to_alabels(const char *s, size_t n, char *out)
{
	size_t o = 0, i = 0;

	if (n == 0)
		return -1;
	while (i <= n) {
		const char *dot = memchr(s + i, '.', n - i);
		size_t l = dot != NULL ? (size_t)(dot - s) - i : n - i;
		int k;

		if (l == 0 || o + 1 > DNSQ_NAME_MAX)
			return -1;
		k = punycode_label(s + i, l, out + o, DNSQ_NAME_MAX + 1 - o);
		if (k == -1)
			return -1;
		for (int j = 0; j < k; j++) {
			unsigned char c = (unsigned char)out[o + j];

			if (c == '.' || c == '*' || c == '!' || c <= ' ')
				return -1;
		}
		o += (size_t)k;
		i += l + 1;
		if (dot == NULL)
			break;
		out[o++] = '.';
	}
	out[o] = '\0';
	return (int)o;
}

/* One line of the list: a rule, a comment or nothing. */
static void
load_line(struct psl *p, const char *s, size_t n)
{
	char name[DNSQ_NAME_MAX + 1];
	unsigned kind = RULE;
	size_t l = 0;
	int k;

	while (l < n && s[l] != ' ' && s[l] != '\t' && s[l] != '\r')
		l++;	/* the rule is the line's first word */
	if (l == 0 || (l >= 2 && s[0] == '/' && s[1] == '/'))
		return;
	if (s[0] == '!')
		kind = EXCEPT, s++, l--;
	else if (l >= 2 && s[0] == '*' && s[1] == '.')
		kind = WILD, s += 2, l -= 2;
	k = to_alabels(s, l, name);
	/* "!tld" would leave no public suffix at all: not a rule */
	if (k == -1 || (kind == EXCEPT && memchr(name, '.', (size_t)k) ==
						  NULL)) {
		p->skipped++;
		return;
	}
	add_name(p, name, (size_t)k, kind);
	p->rules++;
}

static size_t
count_lines(const char *text, size_t len)
{
	size_t n = 1;

	for (const char *q = text; (q = memchr(q, '\n', len - (size_t)(q -
		     text))) != NULL; q++)
		n++;
	return n;
}

int
psl_load(const char *text, size_t len, struct psl **r, const char **error_r)
{
	struct psl *p;
	size_t lines, i = 0;

	*r = NULL;
	if (len > PSL_TEXT_MAX) {
		*error_r = "the list is longer than PSL_TEXT_MAX";
		return -1;
	}
	lines = count_lines(text, len);
	if (lines > PSL_RULES_MAX * 4) {
		*error_r = "the list has too many lines";
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	for (p->cap = 16; p->cap < lines * 2; p->cap *= 2)
		;
	p->tab = xcalloc(p->cap, sizeof(*p->tab));
	p->acap = 4096;
	p->arena = xmalloc(p->acap);
	p->alen = 1;
	while (i < len && p->rules <= PSL_RULES_MAX) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - text) - i : len - i;

		load_line(p, text + i, n);
		i += n + 1;
	}
	if (p->rules > PSL_RULES_MAX || p->rules == 0) {
		*error_r = p->rules == 0 ? "the list has no rule"
					 : "the list has over PSL_RULES_MAX "
					   "rules";
		psl_free(&p);
		return -1;
	}
	*r = p;
	return 0;
}

/*
 * The public suffix's length in labels for the name of n labels that
 * start at name + start[i].
 */
static size_t
suffix_labels(const struct psl *p, const char *name, size_t len,
	      const size_t *start, size_t n)
{
	size_t best = 1, except = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k = n - i;
		unsigned f = flags_of(p, name + start[i], len - start[i]);

		if ((f & EXCEPT) && k > except)
			except = k;
		if ((f & RULE) && k > best)
			best = k;
		if ((f & WILD) && i > 0 && k + 1 > best)
			best = k + 1;
	}
	return except > 0 ? except - 1 : best;
}

int
psl_org_domain(const struct psl *p, const char *domain, char *out,
	       size_t size)
{
	char name[DNSQ_NAME_MAX + 1];
	size_t start[LABELS_MAX + 1], n = 0, ps, len;
	int k = to_alabels(domain, strlen(domain), name);

	if (k == -1)
		return -1;
	len = (size_t)k;
	start[n++] = 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '.')
			start[n++] = i + 1;
	ps = suffix_labels(p, name, len, start, n);
	if (ps >= n || len - start[n - ps - 1] + 1 > size)
		return -1;
	memcpy(out, name + start[n - ps - 1], len - start[n - ps - 1] + 1);
	return 0;
}

size_t
psl_rules(const struct psl *p)
{
	return p->rules;
}

size_t
psl_skipped(const struct psl *p)
{
	return p->skipped;
}

void
psl_free(struct psl **pp)
{
	struct psl *p = *pp;

	if (p == NULL)
		return;
	free(p->arena);
	free(p->tab);
	free(p);
	*pp = NULL;
}
