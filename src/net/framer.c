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
	f->cr = f->ended = f->crlf = false;
	f->dropped = 0;
}

size_t
framer_dropped(const struct framer *f)
{
	return f->dropped;
}

bool
framer_dropped_end(const struct framer *f, bool *crlf_r)
{
	*crlf_r = f->ended && f->crlf;
	return f->ended;
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
		f->ended = true;
		f->crlf = lf > seg ? lf[-1] == '\r' : f->cr;
	} else {
		*len_r = n;
		f->cr = seg[n - 1] == '\r';
	}
	f->dropped += *len_r;
	return FRAMER_DROP;
}

/*
 * max octets and no LF: the line's head goes, the rest is skipped.  cr:
 * the head's last octet is a CR (false where it is not at hand, when max
 * shrank under a pending line: then a CR LF split there counts as a bare
 * LF, which can only delay the end of a message, never fake one).
 */
static enum framer_res
too_long(struct framer *f, size_t drop, bool cr, size_t *len_r)
{
	*len_r = drop;
	f->seen = 0;
	f->skipping = true;
	f->cr = cr;
	f->dropped = 0;
	return FRAMER_TOOLONG;
}

enum framer_res
framer_scan(struct framer *f, const char *seg, size_t n, size_t max,
	    size_t *len_r)
{
	size_t room, look;
	const char *lf;

	*len_r = 0;
	f->ended = false;
	if (f->skipping)
		return skip(f, seg, n, len_r);
	if (f->seen >= max) /* max shrank under a pending line */
		return too_long(f, f->seen, false, len_r);
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
	return too_long(f, max, seg[room - 1] == '\r', len_r);
}
