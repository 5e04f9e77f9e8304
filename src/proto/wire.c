/*
 * wire - see wire.h.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

/* dot_stuff */

void
dot_stuff_init(struct dot_stuff *st, long top_lines)
{
	memset(st, 0, sizeof(*st));
	st->bol = true;
	st->line_empty = true;
	st->lines = top_lines;
}

void
dot_stuff_no_bare_cr(struct dot_stuff *st)
{
	st->no_bare_cr = true;
}

/* A CR not followed by LF, in no_bare_cr mode: a space in the line. */
static void
lone_cr(struct dot_stuff *st, struct buf *out)
{
	if (buf_addc(out, ' ') == -1)
		abort(); /* the caller sized out for this */
	st->line_empty = false;
	st->bol = false;
}

/* The octets up to the next LF (or CR, in no_bare_cr mode). */
static size_t
span(const struct dot_stuff *st, const char *p, const char *end)
{
	const char *q = memchr(p, '\n', (size_t)(end - p));
	const char *cr;

	if (q == NULL)
		q = end;
	if (st->no_bare_cr && (cr = memchr(p, '\r', (size_t)(q - p))) != NULL)
		q = cr;
	return (size_t)(q - p);
}

bool
dot_stuff_feed(struct dot_stuff *st, const char *data, size_t len,
		struct buf *out)
{
	const char *p = data, *end = data + len;

	while (p < end && !st->done) {
		size_t n;

		if (st->in_body && st->lines == 0) {
			st->done = true;
			break;
		}
		if (st->cr) {
			st->cr = false;
			if (*p != '\n')
				lone_cr(st, out);
		}
		if (st->bol && *p == '.' && buf_addc(out, '.') == -1)
			abort(); /* the caller sized out for this */
		n = span(st, p, end);
		if (buf_add(out, p, n) == -1)
			abort();
		if (n > 0)
			st->line_empty = false;
		p += n;
		st->bol = false;
		if (p == end)
			break;
		if (*p == '\r') {
			/* no_bare_cr: CR LF is a line end, any other CR not */
			if (++p == end) {
				st->cr = true;
				break;
			}
			if (*p != '\n') {
				lone_cr(st, out);
				continue;
			}
		}
		if (buf_add(out, "\r\n", 2) == -1)
			abort();
		p++;
		st->bol = true;
		if (st->in_body && st->lines > 0)
			st->lines--;
		else if (!st->in_body && st->line_empty)
			st->in_body = true; /* the blank line after headers */
		st->line_empty = true;
	}
	if (st->in_body && st->lines == 0)
		st->done = true;
	return st->done;
}

void
dot_stuff_end(struct dot_stuff *st, struct buf *out)
{
	if (st->cr) {
		st->cr = false;
		lone_cr(st, out);
	}
	if ((!st->bol && buf_add(out, "\r\n", 2) == -1) ||
	    buf_add(out, ".\r\n", 3) == -1)
		abort(); /* the caller sized out for this */
}

int
b64_line(struct buf *out, const char *prefix, const char *in, size_t len)
{
	char enc[(WIRE_B64_LINE_IN + 2) / 3 * 4 + 1];

	if (len > WIRE_B64_LINE_IN || b64_encode(in, len, enc, sizeof(enc)) ==
	    -1)
		return -1;
	buf_line(out, "%s%s", prefix, enc);
	return 0;
}

int
sasl_plain_line(struct buf *out, const char *prefix, const char *user,
		const char *pass)
{
	char raw[WIRE_B64_LINE_IN];
	size_t ul = strlen(user), pl = strlen(pass);

	if (ul + pl + 2 > sizeof(raw))
		return -1;
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pass, pl);
	return b64_line(out, prefix, raw, ul + pl + 2);
}
