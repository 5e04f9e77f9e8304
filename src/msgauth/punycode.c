/*
 * punycode - RFC 3492's encoder (section 6.3) with its parameters
 * (section 5), and a UTF-8 decoder in front of it.  See punycode.h.
 */
#include <stdbool.h>
#include <stdint.h>

#include "punycode.h"

enum {
	BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700,
	INITIAL_BIAS = 72, INITIAL_N = 0x80,
};

#define CPS_MAX PUNYCODE_LABEL_MAX	/* code points: each is >= 1 octet
					   of output */

static int utf8_decode(const char *in, size_t len, uint32_t *cp,
		       size_t max, size_t *n);
static uint32_t adapt(uint32_t delta, uint32_t numpoints, bool first);
static char digit(uint32_t d);

/* One code point at in[*i]; -1 if malformed. */
static int
utf8_one(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
	unsigned c = s[*i], extra;
	uint32_t v;

	if (c < 0x80)
		extra = 0, v = c;
	else if ((c & 0xe0) == 0xc0)
		extra = 1, v = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		extra = 2, v = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		extra = 3, v = c & 0x07;
	else
		return -1;
	if (len - *i <= extra)
		return -1;
	for (unsigned k = 1; k <= extra; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		v = (v << 6) | (s[*i + k] & 0x3f);
	}
	if (v < min[extra] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return -1;
	*i += extra + 1;
	*cp = v;
	return 0;
}

static int
utf8_decode(const char *in, size_t len, uint32_t *cp, size_t max, size_t *n)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;

	*n = 0;
	while (i < len) {
		if (*n == max || utf8_one(s, len, &i, &cp[*n]) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

/* RFC 3492 6.1 */
static uint32_t
adapt(uint32_t delta, uint32_t numpoints, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((BASE - TMIN) * TMAX) / 2) {
		delta /= BASE - TMIN;
		k += BASE;
	}
	return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

static char
digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* Appends c to out[*o] keeping room for the NUL; false if full. */
static bool
put(char *out, size_t size, size_t *o, char c)
{
	if (*o + 1 >= size)
		return false;
	out[(*o)++] = c;
	return true;
}

/* The variable-length integer q (RFC 3492 6.3, the inner loop). */
static bool
put_vli(char *out, size_t size, size_t *o, uint32_t q, uint32_t bias)
{
	for (uint32_t k = BASE;; k += BASE) {
		uint32_t t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX
								: k - bias;

		if (q < t)
			return put(out, size, o, digit(q));
		if (!put(out, size, o, digit(t + (q - t) % (BASE - t))))
			return false;
		q = (q - t) / (BASE - t);
	}
}

int
punycode_encode(const char *in, size_t len, char *out, size_t size)
{
	uint32_t cp[CPS_MAX], n = INITIAL_N, delta = 0, bias = INITIAL_BIAS;
	size_t ncp, o = 0, h, b = 0;

	if (size == 0 || utf8_decode(in, len, cp, CPS_MAX, &ncp) == -1)
		return -1;
	for (size_t j = 0; j < ncp; j++)
		if (cp[j] < 0x80 && (b++, !put(out, size, &o, (char)cp[j])))
			return -1;
	if (b > 0 && !put(out, size, &o, '-'))
		return -1;
	for (h = b; h < ncp; n++, delta++) {
		uint32_t m = UINT32_MAX;

		for (size_t j = 0; j < ncp; j++)
			if (cp[j] >= n && cp[j] < m)
				m = cp[j];
		/* CPS_MAX code points below 0x110000: no overflow */
		delta += (m - n) * (uint32_t)(h + 1);
		n = m;
		for (size_t j = 0; j < ncp; j++) {
			if (cp[j] < n)
				delta++;
			if (cp[j] != n)
				continue;
			if (!put_vli(out, size, &o, delta, bias))
				return -1;
			bias = adapt(delta, (uint32_t)(h + 1), h == b);
			delta = 0;
			h++;
		}
	}
	out[o] = '\0';
	return (int)o;
}

int
punycode_label(const char *in, size_t len, char *out, size_t size)
{
	size_t max = size - 1 < PUNYCODE_LABEL_MAX ? size - 1
						   : PUNYCODE_LABEL_MAX;
	char low[CPS_MAX * 4];
	bool ascii = true;
	int n;

	if (size == 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		ascii = ascii && (unsigned char)in[i] < 0x80;
	if (ascii) {
		if (len > max)
			return -1;
		for (size_t i = 0; i < len; i++)
			out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z'
						? in[i] + 32 : in[i]);
		out[len] = '\0';
		return (int)len;
	}
	if (max < 5 || len > sizeof(low))
		return -1;
	for (size_t i = 0; i < len; i++)	/* ASCII letters fold */
		low[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32
							    : in[i]);
	n = punycode_encode(low, len, out + 4, max - 4 + 1);
	if (n == -1)
		return -1;
	out[0] = 'x', out[1] = 'n', out[2] = '-', out[3] = '-';
	return n + 4;
}
