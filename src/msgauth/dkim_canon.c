/*
 * dkim_canon - see dkim_canon.h.  The body canonicalizer is a small state
 * machine over octets: a line's content goes out as it comes, empty lines
 * are counted and only written once a line with content follows (so the
 * empty lines at the end are dropped), and under "relaxed" a run of
 * whitespace is held back until a non-blank octet shows it is not at the
 * end of the line.
 */
#include "dkim_canon.h"

#include <string.h>
#include <strings.h>

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* The next line of text from *ip: its start and length without its end;
 * *ip moves past the end.  False at the end of text. */
static bool
next_line(const char *text, size_t len, size_t *ip, size_t *start,
	  size_t *llen)
{
	const char *nl;
	size_t i = *ip;

	if (i >= len)
		return false;
	nl = memchr(text + i, '\n', len - i);
	*start = i;
	*ip = nl != NULL ? (size_t)(nl - text) + 1 : len;
	*llen = (nl != NULL ? (size_t)(nl - text) : len) - i;
	if (nl != NULL && *llen > 0 && text[i + *llen - 1] == '\r')
		(*llen)--;
	return true;
}

static int
start_field(const char *text, size_t start, size_t llen,
	    struct dkim_hfield *f)
{
	const char *colon = memchr(text + start, ':', llen);

	if (colon == NULL || is_wsp(text[start]))
		return -1;
	f->p = text + start;
	f->len = llen;
	f->nlen = (size_t)(colon - f->p);
	while (f->nlen > 0 && is_wsp(f->p[f->nlen - 1]))
		f->nlen--;
	return f->nlen > 0 ? 0 : -1;
}

int
dkim_canon_split(const char *text, size_t len, struct dkim_hfield *out,
		 size_t max, size_t *n, size_t *body_r)
{
	size_t i = 0, start, llen;

	*n = 0;
	*body_r = len;
	while (next_line(text, len, &i, &start, &llen)) {
		if (llen == 0) {
			*body_r = i;
			return 0;
		}
		if (is_wsp(text[start])) {
			if (*n == 0)
				return -1;
			out[*n - 1].len = start + llen -
					  (size_t)(out[*n - 1].p - text);
			continue;
		}
		if (*n == max || start_field(text, start, llen, &out[*n]) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

bool
dkim_canon_is(const struct dkim_hfield *f, const char *name, size_t n)
{
	return f->nlen == n && strncasecmp(f->p, name, n) == 0;
}

static int
header_simple(const char *t, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '\n' && (i == 0 || t[i - 1] != '\r') &&
		    buf_addc(out, '\r') == -1)
			return -1;
		if (buf_addc(out, t[i]) == -1)
			return -1;
	}
	return 0;
}

static int
header_relaxed(const char *t, size_t len, struct buf *out)
{
	const char *colon = memchr(t, ':', len);
	size_t nlen, i;
	bool wsp = false, started = false;

	if (colon == NULL)
		return -1;
	for (nlen = (size_t)(colon - t); nlen > 0 && is_wsp(t[nlen - 1]);)
		nlen--;
	for (i = 0; i < nlen; i++) {
		char c = t[i];

		if (buf_addc(out, c >= 'A' && c <= 'Z' ? c + 32 : c) == -1)
			return -1;
	}
	if (buf_addc(out, ':') == -1)
		return -1;
	for (i = (size_t)(colon - t) + 1; i < len; i++) {
		char c = t[i];

		if (c == '\r' || c == '\n')
			continue; /* unfolded */
		if (is_wsp(c)) {
			wsp = started;
			continue;
		}
		if ((wsp && buf_addc(out, ' ') == -1) || buf_addc(out, c) == -1)
			return -1;
		wsp = false;
		started = true;
	}
	return 0;
}

int
dkim_canon_header(enum dkim_canon c, const char *text, size_t len,
		  bool crlf, struct buf *out)
{
	if ((c == DKIM_SIMPLE ? header_simple(text, len, out)
			      : header_relaxed(text, len, out)) == -1)
		return -1;
	return crlf ? buf_add(out, "\r\n", 2) : 0;
}

/* --- the body ------------------------------------------------------ */

static void
flush(struct dkim_body *b)
{
	if (b->n > 0)
		b->out(b->arg, b->run, b->n);
	b->n = 0;
}

/* Canonical output: counted, and passed on up to the limit. */
static void
emit(struct dkim_body *b, const char *p, size_t n)
{
	uint64_t room = b->total < b->limit ? b->limit - b->total : 0;
	size_t take = room < n ? (size_t)room : n;

	b->total += n;
	while (take > 0) {
		size_t k = sizeof(b->run) - b->n < take ? sizeof(b->run) - b->n
							: take;

		memcpy(b->run + b->n, p, k);
		b->n += k;
		p += k;
		take -= k;
		if (b->n == sizeof(b->run))
			flush(b);
	}
}

static void
line_content(struct dkim_body *b)
{
	if (b->inline_)
		return;
	for (; b->empty > 0; b->empty--)
		emit(b, "\r\n", 2);
	b->inline_ = true;
}

static void
content(struct dkim_body *b, char c)
{
	if (b->c == DKIM_RELAXED && is_wsp(c)) {
		b->wsp = true;
		return;
	}
	line_content(b);
	if (b->wsp)
		emit(b, " ", 1);
	b->wsp = false;
	emit(b, &c, 1);
}

static void
line_end(struct dkim_body *b)
{
	b->wsp = false; /* trailing whitespace goes (relaxed) */
	if (b->inline_)
		emit(b, "\r\n", 2);
	else
		b->empty++;
	b->inline_ = false;
}

void
dkim_body_init(struct dkim_body *b, enum dkim_canon c, uint64_t limit,
	       dkim_canon_out_fn *out, void *arg)
{
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->limit = limit;
	b->out = out;
	b->arg = arg;
}

void
dkim_body_feed(struct dkim_body *b, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				line_end(b);
				continue;
			}
			content(b, '\r'); /* a bare CR is text */
		}
		if (c == '\r')
			b->cr = true;
		else if (c == '\n')
			line_end(b);
		else if (b->c == DKIM_SIMPLE && !b->wsp && b->inline_ &&
			 b->n < sizeof(b->run) - 1 && b->total < b->limit) {
			b->run[b->n++] = c; /* the common case, inline */
			b->total++;
		} else {
			content(b, c);
		}
	}
}

void
dkim_body_finish(struct dkim_body *b)
{
	if (b->cr)
		content(b, '\r');
	b->cr = false;
	if (b->inline_)
		line_end(b); /* a last line without its CRLF gets one */
	if (b->c == DKIM_SIMPLE && b->total == 0)
		emit(b, "\r\n", 2); /* RFC 6376 3.4.3: an empty body is CRLF */
	b->empty = 0;
	flush(b);
}
