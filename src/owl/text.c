/*
 * owl/text - text for the terminal, pure (no I/O): the display width of
 * UTF-8, list cells cut and padded to a width in columns, and HTML made
 * readable text.
 *
 * Width: glibc's wcwidth() under its built-in C.UTF-8 locale (a
 * thread-local newlocale/uselocale, whatever the user's locale is: owl's
 * text is always UTF-8 once mime_safe_text has run), so wide East Asian
 * characters count two columns and combining marks none, by the same
 * Unicode tables the terminal's libc has.  Fails soft: without that locale,
 * or for a character wcwidth calls unprintable, a character is one column.
 */
#include "owl.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#include "../mime/mime.h"

/* The C.UTF-8 locale, made once; (locale_t)0 if glibc has none. */
static locale_t
utf8_locale(void)
{
	static locale_t loc;
	static bool tried;

	if (!tried) {
		tried = true;
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	return loc;
}

/*
 * The character at s (left octets): its length in *n and its columns.
 * An invalid octet is one octet of one column.
 */
static int
char_width(const char *s, size_t left, size_t *n)
{
	locale_t loc = utf8_locale(), old;
	mbstate_t st;
	wchar_t wc;
	size_t r;
	int w;

	if (loc == (locale_t)0) {
		*n = mime_u8_len((const unsigned char *)s, left);
		return 1;
	}
	old = uselocale(loc);
	memset(&st, 0, sizeof(st));
	r = mbrtowc(&wc, s, left, &st);
	if (r == (size_t)-1 || r == (size_t)-2 || r == 0) {
		*n = 1;
		w = 1;
	} else {
		*n = r;
		w = wcwidth(wc);
		if (w < 0)
			w = 1;
	}
	uselocale(old);
	return w;
}

size_t
owl_text_width(const char *s, size_t len)
{
	size_t cols = 0, i = 0, n;

	while (i < len) {
		cols += (size_t)char_width(s + i, len - i, &n);
		i += n;
	}
	return cols;
}

void
owl_text_cell(const char *s, size_t cols, struct buf *out)
{
	size_t used = 0, i = 0, len = strlen(s), n;

	while (i < len) {
		int w = char_width(s + i, len - i, &n);

		if (used + (size_t)w > cols)
			break; /* a wide character never half shown */
		buf_add(out, s + i, n);
		used += (size_t)w;
		i += n;
	}
	while (used++ < cols)
		buf_addc(out, ' ');
}

/* ---- HTML ---- */

struct html {
	struct buf *out;
	int newlines;		/* line ends at the end of out */
	bool space;		/* a blank is pending */
	bool pre;		/* inside <pre> */
};

static void
put_text(struct html *h, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (h->space && h->newlines == 0 && h->out->len > 0)
		buf_addc(h->out, ' ');
	h->space = false;
	buf_add(h->out, s, n);
	h->newlines = s[n - 1] == '\n' ? 1 : 0;
}

/* A line break; at most max of them in a row (2: a paragraph). */
static void
put_break(struct html *h, int max)
{
	h->space = false;
	if (h->out->len == 0)
		return;
	while (h->newlines < max) {
		buf_addc(h->out, '\n');
		h->newlines++;
	}
}

/* UTF-8 of code point cp into out (4 octets room); its length. */
static size_t
u8_encode(unsigned long cp, char *out)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = '?';
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The entity at s[0] == '&': its text into u8 (5 octets) and the octets
 * it takes; 0 if it is none we know (the '&' is then text).
 */
static size_t
entity(const char *s, size_t left, char *u8, size_t *u8len)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} names[] = {
		{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'},
		{"apos", '\''}, {"nbsp", ' '}, {"copy", 0xa9}, {"reg", 0xae},
		{"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
		{"laquo", 0xab}, {"raquo", 0xbb}, {"euro", 0x20ac},
	};
	const char *semi = memchr(s, ';', left < 12 ? left : 12);
	unsigned long cp = 0;
	size_t n;

	if (semi == NULL)
		return 0;
	n = (size_t)(semi - s);
	if (n >= 3 && s[1] == '#') {
		bool hex = s[2] == 'x' || s[2] == 'X';

		for (size_t i = hex ? 3 : 2; i < n; i++) {
			int c = (unsigned char)s[i], d;

			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (hex && c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				return 0;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
			if (cp > 0x10ffff)
				return 0;
		}
		*u8len = u8_encode(cp, u8);
		return n + 1;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n - 1 &&
		    strncmp(s + 1, names[i].name, n - 1) == 0) {
			*u8len = u8_encode(names[i].cp, u8);
			return n + 1;
		}
	return 0;
}

/* The tag name at s (after '<' and an optional '/'), lower case. */
static void
tag_name(const char *s, size_t n, char *name, size_t size)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < size; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			break;
		name[j++] = (char)(c | 0x20);
	}
	name[j] = '\0';
}

static bool
is_one_of(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

/* What a tag does to the text around it. */
static void
on_tag(struct html *h, const char *name, bool end)
{
	static const char *const para[] = {"p", "div", "table", "ul", "ol",
		"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
		"hr", NULL};
	static const char *const line[] = {"br", "tr", "li", "dt", "dd",
		"title", NULL};

	if (strcmp(name, "pre") == 0)
		h->pre = !end;
	if (is_one_of(name, para)) {
		put_break(h, 2);
	} else if (is_one_of(name, line)) {
		put_break(h, 1);
		if (!end && strcmp(name, "li") == 0)
			put_text(h, "* ", 2);
	} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
		h->space = true;
	}
}

/*
 * Where the element that starts at s (a <script>, <style> or <head>)
 * ends: after its end tag, or at the end.
 */
static size_t
skip_element(const char *s, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl + 2 < len; i++)
		if (s[i] == '<' && s[i + 1] == '/' &&
		    strncasecmp(s + i + 2, name, nl) == 0) {
			const char *gt = memchr(s + i, '>', len - i);

			return gt != NULL ? (size_t)(gt - s) + 1 : len;
		}
	return len;
}

/* The markup at s[0] == '<': handled, and the octets it takes. */
static size_t
markup(struct html *h, const char *s, size_t len)
{
	static const char *const hidden[] = {"script", "style", "head",
		NULL};
	const char *gt;
	char name[16];
	bool end = len > 1 && s[1] == '/';

	if (len >= 4 && memcmp(s, "<!--", 4) == 0) {
		const char *e = memmem(s + 4, len - 4, "-->", 3);

		return e != NULL ? (size_t)(e - s) + 3 : len;
	}
	gt = memchr(s, '>', len);
	if (gt == NULL)
		return len;
	tag_name(s + 1 + end, (size_t)(gt - s) - 1 - end, name, sizeof(name));
	if (!end && is_one_of(name, hidden))
		return skip_element(s, len, name);
	on_tag(h, name, end);
	return (size_t)(gt - s) + 1;
}

void
owl_html_text(const char *s, size_t len, struct buf *out)
{
	struct html h = {out, 0, false, false};
	size_t i = 0, start = out->len;

	while (i < len) {
		char c = s[i], u8[5];
		size_t n, u8len;

		if (c == '<') {
			i += markup(&h, s + i, len - i);
		} else if (c == '&' && (n = entity(s + i, len - i, u8,
						   &u8len)) > 0) {
			put_text(&h, u8, u8len);
			i += n;
		} else if (!h.pre && (c == ' ' || c == '\t' || c == '\n' ||
				      c == '\r')) {
			h.space = true;
			i++;
		} else {
			n = 1;
			while (i + n < len && s[i + n] != '<' &&
			       s[i + n] != '&' && (h.pre ||
			       strchr(" \t\r\n", s[i + n]) == NULL))
				n++;
			put_text(&h, s + i, n);
			i += n;
		}
	}
	/* one line end at the end of what was added */
	while (out->len > start && (out->data[out->len - 1] == '\n' ||
				    out->data[out->len - 1] == ' '))
		out->len--;
	if (out->len > start) {
		out->data[out->len] = '\0';
		buf_addc(out, '\n');
	}
}
