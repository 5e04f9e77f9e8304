/*
 * framer - see framer.h.  Pure: it must not include <event2/...> (make
 * check-layers says so), since the unit tests and the fuzz harness link it
 * alone.
 */
#include "framer.h"

#include <string.h>

void
framer_reset(struct framer *f)
{
	f->seen = 0;
	f->skipping = false;
}

size_t
framer_offset(const struct framer *f)
{
	return f->skipping ? 0 : f->seen;
}

/* Inside an overlong line: everything up to and with its LF goes. */
static enum framer_res
skip(struct framer *f, const char *seg, size_t n, size_t *len_r)
{
	const char *lf = memchr(seg, '\n', n);

	if (lf != NULL) {
		*len_r = (size_t)(lf - seg) + 1;
		f->skipping = false;
	} else {
		*len_r = n;
	}
	return FRAMER_DROP;
}

/* max octets and no LF: the line's head goes, the rest is skipped. */
static enum framer_res
too_long(struct framer *f, size_t drop, size_t *len_r)
{
	*len_r = drop;
	f->seen = 0;
	f->skipping = true;
	return FRAMER_TOOLONG;
}

enum framer_res
framer_scan(struct framer *f, const char *seg, size_t n, size_t max,
	    size_t *len_r)
{
	size_t room, look;
	const char *lf;

	*len_r = 0;
	if (f->skipping)
		return skip(f, seg, n, len_r);
	if (f->seen >= max) /* max shrank under a pending line */
		return too_long(f, f->seen, len_r);
	room = max - f->seen; /* the LF must be among these */
	look = n < room ? n : room;
	lf = memchr(seg, '\n', look);
	if (lf != NULL) {
		*len_r = f->seen + (size_t)(lf - seg) + 1;
		f->seen = 0;
		return FRAMER_LINE;
	}
	if (n < room) {
		f->seen += n;
		return FRAMER_MORE;
	}
	return too_long(f, max, len_r);
}
