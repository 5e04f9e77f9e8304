/*
 * imap_utf7 - see imap_utf7.h.  UTF-8 is decoded to code points, code
 * points to UTF-16 units, units to 6-bit digits; and back, checking at
 * each step that the input is the one canonical form.
 */
#include "imap_utf7.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char B64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool
printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* One code point from UTF-8 at *p; -1 if not well formed. */
static int
utf8_next(const unsigned char **p, const unsigned char *end, uint32_t *cp)
{
	const unsigned char *s = *p;
	uint32_t c = s[0], min;
	int n;

	if (c < 0x80) {
		*cp = c;
		*p = s + 1;
		return 0;
	}
	if ((c & 0xe0) == 0xc0)
		n = 1, c &= 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 2, c &= 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 3, c &= 0x07, min = 0x10000;
	else
		return -1;
	if (end - s <= n)
		return -1;
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	*p = s + n + 1;
	return 0;
}

static void
utf8_put(struct buf *out, uint32_t c)
{
	char b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xc0 | c >> 6);
		b[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xe0 | c >> 12);
		b[1] = (char)(0x80 | (c >> 6 & 0x3f));
		b[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | c >> 18);
		b[1] = (char)(0x80 | (c >> 12 & 0x3f));
		b[2] = (char)(0x80 | (c >> 6 & 0x3f));
		b[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	buf_add(out, b, n);
}

/* The bits of a base64 run not yet written out. */
struct bits {
	uint32_t v;
	int n;
};

static void
put_unit(struct buf *out, struct bits *b, uint32_t unit)
{
	b->v = b->v << 16 | unit;
	b->n += 16;
	while (b->n >= 6) {
		b->n -= 6;
		buf_addc(out, B64[b->v >> b->n & 0x3f]);
	}
	b->v &= (1u << b->n) - 1;
}

int
imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + len;
	struct bits b = {0, 0};
	bool open = false;

	while (p < end) {
		uint32_t c;

		if (utf8_next(&p, end, &c) == -1)
			return -1;
		if (printable(c)) {
			if (open) { /* close the run: its last bits, '-' */
				if (b.n > 0)
					buf_addc(out, B64[b.v << (6 - b.n)]);
				buf_addc(out, '-');
				b.n = 0;
				b.v = 0;
				open = false;
			}
			if (c == '&')
				buf_addstr(out, "&-");
			else
				buf_addc(out, (char)c);
			continue;
		}
		if (!open) {
			buf_addc(out, '&');
			open = true;
		}
		if (c >= 0x10000) {
			c -= 0x10000;
			put_unit(out, &b, 0xd800 | c >> 10);
			put_unit(out, &b, 0xdc00 | (c & 0x3ff));
		} else {
			put_unit(out, &b, c);
		}
	}
	if (open) {
		if (b.n > 0)
			buf_addc(out, B64[b.v << (6 - b.n)]);
		buf_addc(out, '-');
	}
	return 0;
}

static int
digit(unsigned char c)
{
	const char *q = c != '\0' ? strchr(B64, c) : NULL;

	return q == NULL ? -1 : (int)(q - B64);
}

/* A run of base64 from *p to its '-': its code points into out. */
static int
decode_run(const unsigned char **p, const unsigned char *end,
	   struct buf *out)
{
	uint32_t v = 0, high = 0;
	int n = 0, d;
	bool any = false;

	for (; *p < end && **p != '-'; (*p)++) {
		uint32_t unit;

		if ((d = digit(**p)) == -1)
			return -1;
		v = v << 6 | (uint32_t)d;
		n += 6;
		if (n < 16)
			continue;
		n -= 16;
		unit = v >> n & 0xffff;
		v &= (1u << n) - 1;
		any = true;
		if (unit >= 0xd800 && unit <= 0xdbff) {
			if (high != 0)
				return -1;
			high = unit;
			continue;
		}
		if (unit >= 0xdc00 && unit <= 0xdfff) {
			if (high == 0)
				return -1;
			utf8_put(out, 0x10000 + ((high - 0xd800) << 10) +
					      (unit - 0xdc00));
			high = 0;
			continue;
		}
		if (high != 0 || printable(unit))
			return -1; /* printable ASCII is written as itself */
		utf8_put(out, unit);
	}
	/* the '-', whole units only, unused bits zero, no dangling half */
	if (*p == end || !any || n >= 6 || v != 0 || high != 0)
		return -1;
	(*p)++;
	return 0;
}

int
imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + len;
	bool after_run = false;

	while (p < end) {
		if (!printable(*p))
			return -1;
		if (*p != '&') {
			buf_addc(out, (char)*p++);
			after_run = false;
			continue;
		}
		p++;
		if (p < end && *p == '-') {
			buf_addc(out, '&');
			p++;
			after_run = false;
			continue;
		}
		if (after_run)
			return -1; /* two runs in a row are one run */
		if (decode_run(&p, end, out) == -1)
			return -1;
		after_run = true;
	}
	return 0;
}
