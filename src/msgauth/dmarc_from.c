/*
 * dmarc_from - the RFC5322.From domain DMARC evaluates (RFC 7489 6.6.1),
 * refusing what is ambiguous: no From, several From fields, several
 * addresses in one, a group, no domain.  A small lexer over the field's
 * value (RFC 5322 3.2-3.4: comments, quoted strings, domain literals,
 * specials) and a one-pass reading of the mailbox list on top of it.
 * Pure: no allocation, no I/O.
 */
#include <string.h>

#include "dmarc.h"
#include "hfield.h"

enum tok { T_END, T_BAD, T_ATOM, T_QUOTED, T_LITERAL, T_SPECIAL };

struct lex {
	const char *v;
	size_t n, i;
	const char *s;	/* the token */
	size_t len;
};

static bool
is_atext(unsigned char c)
{
	/* raw UTF-8 (not allowed, seen in display names) reads as atext:
	 * a domain with it is refused later */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80 ||
	       strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

/* Past a comment at l->i (its '('), nested; false if unterminated. */
static bool
skip_comment(struct lex *l)
{
	int depth = 0;

	for (; l->i < l->n; l->i++) {
		char c = l->v[l->i];

		if (c == '\\')
			l->i++;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0) {
			l->i++;
			return true;
		}
	}
	return false;
}

/* Past a quoted string or literal opened at l->i, closed by close. */
static bool
skip_to(struct lex *l, char close)
{
	for (l->i++; l->i < l->n; l->i++) {
		char c = l->v[l->i];

		if (c == '\\')
			l->i++;
		else if (c == close) {
			l->i++;
			return true;
		}
	}
	return false;
}

static enum tok
next_tok(struct lex *l)
{
	size_t start;
	char c;

	for (;;) {
		while (l->i < l->n && strchr(" \t\r\n", l->v[l->i]) != NULL &&
		       l->v[l->i] != '\0')
			l->i++;
		if (l->i == l->n)
			return T_END;
		if (l->v[l->i] != '(')
			break;
		if (!skip_comment(l))
			return T_BAD;
	}
	start = l->i;
	l->s = l->v + start;
	c = l->v[l->i];
	if (c == '"' || c == '[') {
		if (!skip_to(l, c == '"' ? '"' : ']'))
			return T_BAD;
		l->len = l->i - start;
		return c == '"' ? T_QUOTED : T_LITERAL;
	}
	if (c != '\0' && strchr("<>@,:;", c) != NULL) {
		l->i++;
		l->len = 1;
		return T_SPECIAL;
	}
	while (l->i < l->n && l->v[l->i] != '\0' &&
	       is_atext((unsigned char)l->v[l->i]))
		l->i++;
	l->len = l->i - start;
	return l->len > 0 ? T_ATOM : T_BAD;
}

/* What has been read of the mailbox list so far. */
struct mlist {
	unsigned items;		/* mailboxes (non-empty items) ended */
	bool in_item, angle, closed, at, local, literal;
	char dom[DNSQ_NAME_MAX + 2];
	size_t dlen;
	char found[DNSQ_NAME_MAX + 2];	/* the first item's domain */
	bool found_ok;
};

static void
new_addr(struct mlist *m)
{
	m->at = m->local = m->literal = false;
	m->dlen = 0;
}

static void
end_item(struct mlist *m)
{
	if (!m->in_item)
		return;	/* an empty item (obs-mbox-list) */
	if (m->items++ == 0) {
		m->found_ok = m->at && m->local && !m->literal &&
			      m->dlen > 0 && !m->angle;
		memcpy(m->found, m->dom, m->dlen);
		m->found[m->dlen] = '\0';
	}
	m->in_item = m->angle = m->closed = false;
	new_addr(m);
}

/* One special character; false if the list cannot be one mailbox. */
static bool
special(struct mlist *m, char c)
{
	switch (c) {
	case '<':
		if (m->angle || m->closed || m->at)
			return false;
		m->angle = m->in_item = true;
		new_addr(m);
		return true;
	case '>':
		if (!m->angle)
			return false;
		m->angle = false;
		m->closed = true;
		return true;
	case ':':	/* the end of an obs-route, or a group */
		if (!m->angle || m->local)
			return false;
		new_addr(m);
		return true;
	case '@':
		if (m->at || m->closed)
			return false;
		m->at = m->in_item = true;
		return true;
	case ',':
		if (!m->angle) {
			end_item(m);
			return true;
		}
		if (m->local)	/* "<a@b, c@d>" */
			return false;
		new_addr(m);	/* "<@r1,@r2:a@b>": an obs-route's list */
		return true;
	}
	return false;	/* ';': a group */
}

/* A word: part of the domain after '@', else local part or phrase. */
static bool
word(struct mlist *m, enum tok t, const char *s, size_t len)
{
	if (m->closed)
		return false;
	m->in_item = true;
	if (!m->at) {
		m->local = true;
		return true;
	}
	if (t == T_QUOTED)
		return false;
	if (t == T_LITERAL)
		m->literal = true;
	if (m->dlen + len > DNSQ_NAME_MAX)
		return false;
	memcpy(m->dom + m->dlen, s, len);
	m->dlen += len;
	return true;
}

/* The domain of the one mailbox in a From value; -1 if not one. */
static int
from_value(const char *v, size_t n, char *out, size_t size)
{
	struct lex l = { v, n, 0, NULL, 0 };
	struct mlist m;
	enum tok t;

	memset(&m, 0, sizeof(m));
	while ((t = next_tok(&l)) != T_END) {
		if (t == T_BAD)
			return -1;
		if (t == T_SPECIAL ? !special(&m, l.s[0])
				   : !word(&m, t, l.s, l.len))
			return -1;
	}
	end_item(&m);
	if (m.items != 1 || !m.found_ok || strlen(m.found) + 1 > size)
		return -1;
	for (size_t i = 0; m.found[i] != '\0'; i++) {
		char c = m.found[i];

		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.') ||
		    (c == '.' && (i == 0 || m.found[i + 1] == '.' ||
				  m.found[i + 1] == '\0')))
			return -1;
		out[i] = c;
	}
	out[strlen(m.found)] = '\0';
	return 0;
}

int
dmarc_from_domain(const char *hdr, size_t hlen, char *out, size_t size)
{
	struct hfield f, from = { 0 };
	size_t pos = 0, n = 0;

	while (hfield_next(hdr, hlen, &pos, &f) == 1)
		if (hfield_is(&f, "from") && n++ == 0)
			from = f;
	if (n != 1)
		return -1;
	return from_value(from.value, from.vlen, out, size);
}
