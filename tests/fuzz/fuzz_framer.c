/*
 * libFuzzer harness for net/framer, the line framing conn.c runs.  The
 * first two bytes choose the line limit (1..64) and the longest segment
 * shown at once (1..16, like an evbuffer's chains); the rest is the
 * stream, arriving in pieces whose sizes are taken from the stream itself.
 * The events must match a model computed from the whole stream: each line
 * of at most max octets with its LF, CR kept, and one too-long event per
 * overlong line, whatever the pieces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/framer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EV_MAX 4096

struct ev {
	char kind;		/* 'L' or 'T' */
	size_t start, len;	/* lines: where in the stream */
};

/* What the framing must say about the stream s, taken whole. */
static size_t
model(const char *s, size_t n, size_t max, struct ev *ev)
{
	size_t k = 0, start = 0;

	while (start < n && k < EV_MAX) {
		const char *lf = memchr(s + start, '\n', n - start);
		size_t len = lf ? (size_t)(lf - (s + start)) + 1 : n - start;

		if (lf != NULL && len <= max)
			ev[k++] = (struct ev){'L', start, len};
		else if (len >= max)
			ev[k++] = (struct ev){'T', 0, 0};
		start += len;
	}
	return k;
}

/* The framer over the stream, as conn.c drives it. */
static size_t
run(const char *s, size_t n, size_t max, size_t seg, struct ev *ev)
{
	struct framer f;
	size_t done = 0, arrived = 0, k = 0, piece = 0, dropped = 0;

	framer_reset(&f);
	while (arrived < n && k < EV_MAX) {
		/* the next piece's size comes from the stream: 1..32 */
		arrived += 1 + (unsigned char)s[piece++ % n] % 32;
		if (arrived > n)
			arrived = n;
		for (;;) {
			size_t off = done + framer_offset(&f), m, len;

			if (off >= arrived || k >= EV_MAX)
				break;
			m = arrived - off < seg ? arrived - off : seg;
			switch (framer_scan(&f, s + off, m, max, &len)) {
			case FRAMER_MORE:
				if (len != 0)
					abort();
				continue;
			case FRAMER_LINE:
				if (len == 0 || len > max || s[done + len - 1] !=
				    '\n' || memchr(s + done, '\n', len - 1))
					abort();
				ev[k++] = (struct ev){'L', done, len};
				break;
			case FRAMER_TOOLONG:
				if (len == 0 || memchr(s + done, '\n', len))
					abort();
				ev[k++] = (struct ev){'T', 0, 0};
				dropped = 0;
				break;
			case FRAMER_DROP:
				/* framer_dropped(): all the line's DROPs */
				dropped += len;
				if (len == 0 || framer_dropped(&f) != dropped)
					abort();
				break;
			}
			done += len;
			if (done > arrived)
				abort();
		}
	}
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev want[EV_MAX], got[EV_MAX];
	const char *s = (const char *)data + 2;
	size_t max, seg, n, nw, ng;

	if (size < 3)
		return 0;
	max = 1 + data[0] % 64;
	seg = 1 + data[1] % 16;
	n = size - 2;
	nw = model(s, n, max, want);
	ng = run(s, n, max, seg, got);
	if (nw >= EV_MAX || ng >= EV_MAX)
		return 0;
	if (nw != ng)
		abort();
	for (size_t i = 0; i < nw; i++)
		if (want[i].kind != got[i].kind ||
		    want[i].start != got[i].start || want[i].len != got[i].len)
			abort();
	return 0;
}
