/*
 * owl/imap_resp - reading an IMAP server's responses (RFC 9051 section 4
 * and 7): where a line ends in a literal, and the values owl needs out
 * of a whole response (LIST, STATUS, FETCH, CAPABILITY).  Pure: no I/O,
 * no allocation beyond the caller's bufs.  Every read is bounded by the
 * response's end; a literal longer than what is left, a number past
 * ULONG_MAX, lists nested past OWL_IMAP_DEPTH_MAX or anything else a
 * server should not send makes the parser return false (the response is
 * then ignored or the command fails), never read past the end.
 */
#include "owl.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

long long
owl_imap_literal_len(const char *line, size_t n)
{
	size_t end = n, i;
	unsigned long long v = 0;

	if (end > 0 && line[end - 1] == '\n')
		end--;
	if (end > 0 && line[end - 1] == '\r')
		end--;
	if (end < 3 || line[end - 1] != '}')
		return -1;
	i = end - 1;
	if (i > 0 && line[i - 1] == '+') /* LITERAL+ (a server's: odd) */
		i--;
	if (i == 0 || !isdigit((unsigned char)line[i - 1]))
		return -1;
	while (i > 0 && isdigit((unsigned char)line[i - 1]))
		i--;
	if (i == 0 || line[i - 1] != '{' || end - 1 - i > 12)
		return -1;
	for (; isdigit((unsigned char)line[i]); i++)
		v = v * 10 + (unsigned)(line[i] - '0');
	return (long long)v;
}

static bool
at_end(const struct owl_imap_cur *c)
{
	return c->p >= c->end;
}

bool
owl_imap_sp(struct owl_imap_cur *c)
{
	if (at_end(c) || *c->p != ' ')
		return false;
	while (!at_end(c) && *c->p == ' ')
		c->p++;
	return true;
}

/* An atom character (RFC 9051 ATOM-CHAR), with ] for "BODY[]" items. */
static bool
atom_char(unsigned char ch, bool brackets)
{
	if (ch <= 0x20 || ch >= 0x7f || ch == '(' || ch == ')' || ch == '{' ||
	    ch == '"' || ch == '%' || ch == '*')
		return false;
	return brackets || ch != ']';
}

bool
owl_imap_atom(struct owl_imap_cur *c, char *out, size_t size)
{
	size_t n = 0;
	bool brackets = false;

	while (!at_end(c) && atom_char((unsigned char)*c->p, brackets)) {
		if (*c->p == '[')
			brackets = true;
		if (n + 1 < size)
			out[n++] = *c->p;
		else
			return false;
		c->p++;
	}
	if (size > 0)
		out[n] = '\0';
	return n > 0;
}

bool
owl_imap_number(struct owl_imap_cur *c, unsigned long *v)
{
	char digits[24], *end;

	if (at_end(c) || !isdigit((unsigned char)*c->p))
		return false;
	if (!owl_imap_atom(c, digits, sizeof(digits)))
		return false;
	errno = 0;
	*v = strtoul(digits, &end, 10);
	return errno == 0 && *end == '\0';
}

/* A literal {N}CRLF and its N octets into out (NULL: skipped). */
static bool
literal(struct owl_imap_cur *c, struct buf *out)
{
	const char *p = c->p + 1;
	unsigned long long n = 0;
	size_t digits = 0;

	while (p < c->end && isdigit((unsigned char)*p) && digits++ < 12)
		n = n * 10 + (unsigned)(*p++ - '0');
	if (p < c->end && *p == '+')
		p++;
	if (digits == 0 || p >= c->end || *p != '}')
		return false;
	p++;
	if (p < c->end && *p == '\r')
		p++;
	if (p >= c->end || *p != '\n')
		return false;
	p++;
	if (n > (unsigned long long)(c->end - p))
		return false;
	if (out != NULL && buf_add(out, p, (size_t)n) == -1)
		return false;
	c->p = p + n;
	return true;
}

/* A quoted string with \" and \\ into out (NULL: skipped). */
static bool
quoted(struct owl_imap_cur *c, struct buf *out)
{
	const char *p = c->p + 1;

	while (p < c->end && *p != '"') {
		if (*p == '\\' && p + 1 < c->end)
			p++;
		if (*p == '\r' || *p == '\n')
			return false;
		if (out != NULL && buf_addc(out, *p) == -1)
			return false;
		p++;
	}
	if (p >= c->end)
		return false;
	c->p = p + 1;
	return true;
}

int
owl_imap_string(struct owl_imap_cur *c, struct buf *out)
{
	char atom[1024];

	if (at_end(c))
		return -1;
	if (*c->p == '"')
		return quoted(c, out) ? 1 : -1;
	if (*c->p == '{')
		return literal(c, out) ? 1 : -1;
	if (!owl_imap_atom(c, atom, sizeof(atom)))
		return -1;
	if (strcasecmp(atom, "NIL") == 0)
		return 0;
	if (out != NULL && buf_addstr(out, atom) == -1)
		return -1;
	return 1;
}

bool
owl_imap_skip(struct owl_imap_cur *c, int depth)
{
	char atom[1024];

	if (at_end(c) || depth > OWL_IMAP_DEPTH_MAX)
		return false;
	if (*c->p == '(') {
		c->p++;
		while (!at_end(c) && *c->p != ')') {
			if (*c->p == ' ') {
				c->p++;
				continue;
			}
			if (!owl_imap_skip(c, depth + 1))
				return false;
		}
		if (at_end(c))
			return false;
		c->p++;
		return true;
	}
	if (*c->p == '"' || *c->p == '{')
		return owl_imap_string(c, NULL) != -1;
	return owl_imap_atom(c, atom, sizeof(atom));
}

/* Expects the text (case-insensitive) at the cursor and skips it. */
static bool
word(struct owl_imap_cur *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || strncasecmp(c->p, w, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* A flag list "(\A \B ...)": calls each with the flag. */
static bool
flag_list(struct owl_imap_cur *c, void (*each)(const char *, void *),
	  void *arg)
{
	char flag[256];

	if (at_end(c) || *c->p != '(')
		return false;
	c->p++;
	while (!at_end(c) && *c->p != ')') {
		if (*c->p == ' ') {
			c->p++;
			continue;
		}
		if (!owl_imap_atom(c, flag, sizeof(flag)))
			return false;
		each(flag, arg);
	}
	if (at_end(c))
		return false;
	c->p++;
	return true;
}

static void
list_attr(const char *a, void *arg)
{
	struct owl_folder *f = arg;

	if (strcasecmp(a, "\\Trash") == 0)
		f->trash = true;
	else if (strcasecmp(a, "\\Sent") == 0)
		f->sent = true;
	else if (strcasecmp(a, "\\Noselect") == 0 ||
		 strcasecmp(a, "\\NonExistent") == 0)
		f->noselect = true;
}

/* A mailbox name into name (size octets): false if it does not fit. */
static bool
mailbox_name(struct owl_imap_cur *c, char *name, size_t size)
{
	struct buf *b = buf_new(size - 1);
	bool ok = owl_imap_string(c, b) == 1 && b->len > 0 &&
		  memchr(b->data, '\0', b->len) == NULL;

	if (ok)
		memcpy(name, b->data, b->len + 1);
	buf_free(&b);
	return ok;
}

bool
owl_imap_parse_list(const char *r, size_t n, struct owl_folder *f)
{
	struct owl_imap_cur c = {r, r + n};

	memset(f, 0, sizeof(*f));
	if (!word(&c, "* LIST ") || !flag_list(&c, list_attr, f) ||
	    !owl_imap_sp(&c) || owl_imap_string(&c, NULL) == -1 ||
	    !owl_imap_sp(&c))
		return false;
	return mailbox_name(&c, f->name, sizeof(f->name));
}

bool
owl_imap_parse_status(const char *r, size_t n, struct owl_folder *f)
{
	struct owl_imap_cur c = {r, r + n};
	char name[sizeof(f->name)], item[32];

	if (!word(&c, "* STATUS ") ||
	    !mailbox_name(&c, name, sizeof(name)) || !owl_imap_sp(&c) ||
	    strcmp(name, f->name) != 0 || at_end(&c) || *c.p != '(')
		return false;
	c.p++;
	while (!at_end(&c) && *c.p != ')') {
		unsigned long v;

		if (*c.p == ' ') {
			c.p++;
			continue;
		}
		if (!owl_imap_atom(&c, item, sizeof(item)) ||
		    !owl_imap_sp(&c) || !owl_imap_number(&c, &v))
			return false;
		if (strcasecmp(item, "MESSAGES") == 0)
			f->messages = v;
		else if (strcasecmp(item, "UNSEEN") == 0)
			f->unseen = v;
	}
	return !at_end(&c);
}

static void
fetch_flag(const char *a, void *arg)
{
	struct owl_imap_item *f = arg;

	if (strcasecmp(a, "\\Seen") == 0)
		f->seen = true;
}

/* One FETCH item and its value. */
static bool
fetch_item(struct owl_imap_cur *c, struct owl_imap_item *f)
{
	char item[128];

	if (!owl_imap_atom(c, item, sizeof(item)) || !owl_imap_sp(c))
		return false;
	if (strcasecmp(item, "UID") == 0)
		return owl_imap_number(c, &f->uid);
	if (strcasecmp(item, "RFC822.SIZE") == 0)
		return owl_imap_number(c, &f->size);
	if (strcasecmp(item, "FLAGS") == 0) {
		f->has_flags = true;
		return flag_list(c, fetch_flag, f);
	}
	if (strncasecmp(item, "BODY[", 5) == 0 && f->body != NULL &&
	    !f->has_body) {
		f->has_body = true;
		return owl_imap_string(c, f->body) != -1;
	}
	return owl_imap_skip(c, 0);
}

bool
owl_imap_parse_fetch(const char *r, size_t n, struct owl_imap_item *f)
{
	struct owl_imap_cur c = {r, r + n};

	f->uid = f->size = f->seq = 0;
	f->seen = f->has_flags = f->has_body = false;
	if (!word(&c, "* ") || !owl_imap_number(&c, &f->seq) ||
	    !word(&c, " FETCH (") || f->seq == 0)
		return false;
	while (!at_end(&c) && *c.p != ')') {
		if (*c.p == ' ') {
			c.p++;
			continue;
		}
		if (!fetch_item(&c, f))
			return false;
	}
	return !at_end(&c);
}

bool
owl_imap_has_cap(const char *caps, const char *cap)
{
	size_t n = strlen(cap);

	for (const char *p = caps; *p != '\0';) {
		size_t w = strcspn(p, " ");

		if (w == n && strncasecmp(p, cap, n) == 0)
			return true;
		p += w + (p[w] == ' ');
	}
	return false;
}

bool
owl_imap_parse_caps(const char *r, size_t n, char *caps, size_t size)
{
	const char *p = r, *end = r + n;
	size_t len;

	if (n >= 15 && strncasecmp(r, "* CAPABILITY ", 13) == 0)
		p = r + 13;
	else if ((p = memmem(r, n, "[CAPABILITY ", 12)) != NULL)
		p += 12;
	else
		return false;
	for (len = 0; p + len < end && p[len] != ']' && p[len] != '\r' &&
	     p[len] != '\n' && p[len] != '\0'; len++)
		;
	if (len + 1 > size)
		return false;
	memcpy(caps, p, len);
	caps[len] = '\0';
	return true;
}
