/*
 * framer - the line framing of net/conn, as pure code: no libevent, no
 * I/O, no allocation, so unit tests and the libFuzzer harness
 * (tests/fuzz/fuzz_framer.c) run the very code conn.c runs.
 *
 * Lines end at LF only (a CR before it stays in the line, and a bare CR
 * ends nothing: the core sees the bytes as sent).  A line may be at most
 * max octets with its LF; max octets without a LF make the line too long:
 * it is reported once (FRAMER_TOOLONG) and then dropped up to and with
 * its LF (FRAMER_DROP); framer_dropped() says how much of it went so far,
 * for the caller's bound on a line that never ends.
 *
 * The caller keeps the bytes (an evbuffer in conn.c).  It shows the framer
 * the input in segments: each call gets the contiguous octets that follow
 * the ones already scanned for the pending line (framer_offset() of them
 * are), so no octet is scanned twice however the input arrives.  After
 * FRAMER_LINE, FRAMER_TOOLONG and FRAMER_DROP the caller removes *len_r
 * octets from the front of its input; after FRAMER_MORE it shows the next
 * segment, or waits for input if it has none.  The caller resets the
 * framer whenever it throws its buffered input away (STARTTLS).
 */
#ifndef OWL_FRAMER_H
#define OWL_FRAMER_H

#include <stdbool.h>
#include <stddef.h>

struct framer {
	size_t seen;	/* octets of the pending line scanned: no LF there */
	bool skipping;	/* inside an overlong line: drop up to its LF */
	bool cr;	/* skipping: the last octet dropped so far is a CR */
	bool ended;	/* the last FRAMER_DROP reached the line's LF */
	bool crlf;	/* ... and a CR stood right before it */
	size_t dropped;	/* skipping: octets dropped after the first max */
};

enum framer_res {
	FRAMER_MORE,	/* no complete line in what was shown: show more */
	FRAMER_LINE,	/* the first *len_r octets are a line with its LF */
	FRAMER_TOOLONG,	/* report once; remove the first *len_r octets */
	FRAMER_DROP,	/* the rest of an overlong line: remove *len_r */
};

void framer_reset(struct framer *f);
/*
 * After FRAMER_DROP: true if it reached the overlong line's LF, with
 * *crlf_r saying whether a CR stood right before it.  SMTP needs it in
 * DATA, where only CR LF "." CR LF ends the text: an overlong line ended
 * by a bare LF must not let a "." line after it end the message.
 */
bool framer_dropped_end(const struct framer *f, bool *crlf_r);
/* Octets of the overlong line dropped after its first max (FRAMER_DROP). */
size_t framer_dropped(const struct framer *f);
/* Where the next segment starts in the caller's input. */
size_t framer_offset(const struct framer *f);
/*
 * Scans seg (n octets at framer_offset() of the input, n > 0) for a line
 * of at most max octets (max > 0; it may change between lines).
 */
enum framer_res framer_scan(struct framer *f, const char *seg, size_t n,
			    size_t max, size_t *len_r);

#endif
