/*
 * libFuzzer harness for FETCH (proto/imap_fetch.h): the input is a FETCH
 * item list, a LF, and a message text.  The first octet chooses how many
 * octets each write may add (1 to 16) and how many each read gives (1 to
 * 64).  The items are parsed as a command's argument; when accepted, the
 * response is written at once and again in those pieces, and the two
 * must be the same octets with the same result.  Checks besides: no
 * crash or sanitizer report, a whole response is "* 1 FETCH (...)\r\n"
 * whose values read back as IMAP data (quoted strings, literals whose
 * counts are their octets, lists, atoms), no write adds more than it was
 * allowed, -2 only before any octet.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_fetch.h"
#include "proto/imap_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_limits LIM = {
	.line_max = 2000, .literal_max = 100, .literals_max = 100,
	.depth_max = 4, .args_max = 64,
};

struct rd {
	const char *s;
	size_t len, off, chunk;
};

static long
rd_read(void *p, char *buf, size_t size)
{
	struct rd *r = p;
	size_t n = r->len - r->off;

	if (n > size)
		n = size;
	if (n > r->chunk)
		n = r->chunk;
	memcpy(buf, r->s + r->off, n);
	r->off += n;
	return (long)n;
}

static int
rd_rewind(void *p)
{
	((struct rd *)p)->off = 0;
	return 0;
}

/* An atom (a FETCH item's name with its [section] and <origin>). */
static bool
atom(const char *s, size_t n, size_t *ip)
{
	size_t i = *ip;
	bool quoted = false;

	while (i < n && s[i] != ' ' && s[i] != ')' && s[i] != '(' &&
	       s[i] != '\r') {
		if (s[i++] != '[')
			continue;
		while (i < n && (quoted || s[i] != ']')) {
			if (s[i] == '\\' && quoted)
				i++;
			else if (s[i] == '"')
				quoted = !quoted;
			i++;
		}
		if (i++ >= n)
			return false;
	}
	if (i == *ip)
		return false;
	*ip = i;
	return true;
}

/* One value at *ip: quoted string, literal, list or atom. */
static bool
value(const char *s, size_t n, size_t *ip, unsigned depth)
{
	size_t i = *ip, len = 0;

	if (depth > 64 || i >= n)
		return false;
	if (s[i] == '"') {
		for (i++; i < n && s[i] != '"'; i++) {
			if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
				return false;
			if (s[i] == '\\')
				i++;
		}
		if (i >= n)
			return false;
		*ip = i + 1;
		return true;
	}
	if (s[i] == '~')
		i++;
	if (i < n && s[i] == '{') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			len = len * 10 + (size_t)(s[i] - '0');
		if (n - i < 3 || memcmp(s + i, "}\r\n", 3) != 0 ||
		    n - i - 3 < len)
			return false;
		if (s[*ip] != '~' && memchr(s + i + 3, '\0', len) != NULL)
			return false;
		*ip = i + 3 + len;
		return true;
	}
	if (s[i] != '(')
		return atom(s, n, ip);
	for (i++; i < n && s[i] != ')';) {
		if (!value(s, n, &i, depth + 1))
			return false;
		if (i < n && s[i] == ' ')
			i++;
	}
	if (i >= n)
		return false;
	*ip = i + 1;
	return true;
}

static bool
well_formed(const struct buf *b)
{
	size_t i = 10;

	return b->len >= 14 && memcmp(b->data, "* 1 FETCH (", 11) == 0 &&
	       value(b->data, b->len, &i, 0) && i == b->len - 2 &&
	       memcmp(b->data + i, "\r\n", 2) == 0;
}

static int
run(const struct imap_fetch_items *items, struct rd *r, size_t step,
    struct buf *all)
{
	/* size: the text's with every LF made CRLF, as the store gives
	 * RFC822.SIZE (BODY[] is sent with that size) */
	struct imap_msg m = {
		.uid = 9, .modseq = 3, .flags = 0x3f, .keywords = "a b",
		.size = r->len, .date = 1000000000,
	};
	struct imap_fetch_msg fm = {
		.seq = 1, .m = &m, .recent = true, .rd = r,
		.read = rd_read, .rewind = rd_rewind,
	};
	struct imap_fetch_writer *w;
	struct buf *out = buf_new(SIZE_MAX);
	int res;

	for (size_t i = 0; i < r->len; i++)
		m.size += r->s[i] == '\n';
	w = imap_fetch_writer_new(items, &fm);
	r->off = 0;
	do {
		res = imap_fetch_write(w, out, step);
		if (out->len > step)
			abort();
		if (res == -2 && all->len + out->len > 0)
			abort();
		buf_add(all, out->data, out->len);
		buf_reset(out);
	} while (res == 1);
	imap_fetch_writer_free(&w);
	buf_free(&out);
	return res;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl, *text;
	struct imap_parser *p;
	struct imap_fetch_items *items = NULL;
	struct buf *line, *a, *b;
	struct rd r;
	const char *why;
	size_t used;
	int ra, rb;

	if (size < 2 || size > 65536)
		return 0;
	nl = memchr(data + 1, '\n', size - 1);
	if (nl == NULL || nl - (const char *)data > 1000)
		return 0;
	text = nl + 1;
	line = buf_new(SIZE_MAX);
	buf_addstr(line, "a FETCH 1 ");
	buf_add(line, data + 1, (size_t)(nl - (const char *)data - 1));
	buf_addstr(line, "\r\n");
	p = imap_parser_new(&LIM);
	if (imap_parser_feed(p, line->data, line->len, &used) ==
	    IMAP_PARSE_COMMAND && imap_parser_command(p)->nargs == 2 &&
	    imap_fetch_parse(&imap_parser_command(p)->args[1], &items,
			     &why) == 0) {
		r.s = text;
		r.len = size - (size_t)(text - (const char *)data);
		r.chunk = 4096;
		a = buf_new(SIZE_MAX);
		b = buf_new(SIZE_MAX);
		ra = run(items, &r, SIZE_MAX, a);
		r.chunk = 1 + (data[0] >> 4) * 4;
		rb = run(items, &r, 1 + (data[0] & 15), b);
		if (ra != rb || a->len != b->len ||
		    memcmp(a->data, b->data, a->len) != 0)
			abort();
		if (ra == 0 && !well_formed(a))
			abort();
		if (ra != 0 && ra != -2)
			abort();
		buf_free(&a);
		buf_free(&b);
		imap_fetch_items_free(&items);
	}
	imap_parser_free(&p);
	buf_free(&line);
	return 0;
}
