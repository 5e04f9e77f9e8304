/*
 * hfield - header fields, line by line.  See hfield.h.
 */
#include <string.h>
#include <strings.h>

#include "hfield.h"

/* The end of the line at p (past its LF, or hlen). */
static size_t
line_end(const char *hdr, size_t hlen, size_t p)
{
	const char *nl = memchr(hdr + p, '\n', hlen - p);

	return nl != NULL ? (size_t)(nl - hdr) + 1 : hlen;
}

/* Length of a line's end ("\n", "\r\n" or none at the end of text). */
static size_t
eol_len(const char *hdr, size_t start, size_t end)
{
	if (end == start || hdr[end - 1] != '\n')
		return 0;
	return end - start >= 2 && hdr[end - 2] == '\r' ? 2 : 1;
}

static void
split_name(const char *hdr, struct hfield *f)
{
	const char *p = hdr + f->off, *colon;
	size_t n = f->len - eol_len(hdr, f->off, f->off + f->len), i;

	f->named = false;
	f->name = p;
	f->nlen = 0;
	f->value = p + n;
	f->vlen = 0;
	colon = memchr(p, ':', n);
	if (colon == NULL || colon == p)
		return;
	for (i = 0; p + i < colon; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= ' ' || c > '~')
			break;
	}
	f->nlen = i;
	for (; p + i < colon && (p[i] == ' ' || p[i] == '\t'); i++)
		;	/* obs-fields: whitespace before the colon */
	if (p + i != colon || f->nlen == 0)
		return;
	f->named = true;
	f->value = colon + 1;
	f->vlen = n - (size_t)(colon + 1 - p);
}

int
hfield_next(const char *hdr, size_t hlen, size_t *pos, struct hfield *f)
{
	size_t p = *pos, end;

	if (p >= hlen)
		return 0;
	end = line_end(hdr, hlen, p);
	if (end - p == eol_len(hdr, p, end) && end > p) {
		*pos = end;	/* the empty line */
		return 0;
	}
	while (end < hlen && (hdr[end] == ' ' || hdr[end] == '\t'))
		end = line_end(hdr, hlen, end);
	f->off = p;
	f->len = end - p;
	split_name(hdr, f);
	*pos = end;
	return 1;
}

bool
hfield_is(const struct hfield *f, const char *name)
{
	return f->named && strlen(name) == f->nlen &&
	       strncasecmp(f->name, name, f->nlen) == 0;
}

size_t
hfield_section_len(const char *p, size_t n)
{
	const char *e = memmem(p, n, "\n\n", 2);

	if (n > 0 && p[0] == '\n')
		return 1;
	return e != NULL ? (size_t)(e - p) + 2 : n;
}

size_t
hfield_insert_at(const char *p, size_t n)
{
	const char *nl;

	if (n < 12 || strncasecmp(p, "Return-Path:", 12) != 0 ||
	    (nl = memchr(p, '\n', n)) == NULL)
		return 0;
	return (size_t)(nl - p) + 1;
}
