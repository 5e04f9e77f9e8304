/*
 * dkim_canon - DKIM canonicalization (RFC 6376 3.4), "simple" and
 * "relaxed", for header fields and for the body.  Pure: no I/O; the body
 * canonicalizer is sans-I/O, fed the body in chunks of any size (down to
 * one octet) and handing its output to a callback in runs.
 *
 * Input may have CRLF line ends (the wire) or bare LF (as owlpost stores
 * a message): an LF ends a line, and a CR just before it is part of the
 * line end; the output always has CRLF, as the next hop sees it.
 *
 * The body canonicalizer counts the canonical octets: with a limit (a
 * signature's l=) it passes on only that many, and says how many more
 * there were, so a verifier can record that the tail is not covered.
 */
#ifndef OWL_DKIM_CANON_H
#define OWL_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

enum dkim_canon { DKIM_SIMPLE, DKIM_RELAXED };

/* One header field: its text from the name to the end of its last
 * (folded) line, without that line's end. */
struct dkim_hfield {
	const char *p;
	size_t len;
	size_t nlen;	/* the name, without whitespace before the ':' */
};

/*
 * Splits the header section at the start of text into fields, at most
 * max of them (out has room for max).  *n is the count, *body_r the
 * offset where the body starts (past the empty line; len if there is
 * none).  -1 if there are more than max fields, or a line that is not a
 * field (no ':' in it, or a continuation line first); *n then counts
 * the fields before it.
 */
int dkim_canon_split(const char *text, size_t len, struct dkim_hfield *out,
		     size_t max, size_t *n, size_t *body_r);
/* True if field f is named name (any case). */
bool dkim_canon_is(const struct dkim_hfield *f, const char *name, size_t n);
/*
 * Appends field text (len octets, name and all, folded or not) to out
 * canonicalized, with its CRLF when crlf is true (every field but the
 * signature's own, RFC 6376 3.7).  -1 if out is full.
 */
int dkim_canon_header(enum dkim_canon c, const char *text, size_t len,
		      bool crlf, struct buf *out);

typedef void dkim_canon_out_fn(void *arg, const char *p, size_t n);

#define DKIM_CANON_RUN 4096	/* output is passed on in runs this long */

struct dkim_body {
	enum dkim_canon c;
	dkim_canon_out_fn *out;
	void *arg;
	uint64_t limit;		/* octets to pass on (UINT64_MAX: all) */
	uint64_t total;		/* canonical octets so far, passed on
				   or not */
	uint64_t empty;		/* empty lines held back (trailing?) */
	bool cr;		/* a CR held back: a line end if LF follows */
	bool wsp;		/* relaxed: whitespace held back in a line */
	bool inline_;		/* inside a line that has content */
	size_t n;		/* octets in run */
	char run[DKIM_CANON_RUN];
};

/* Starts a body with canonicalization c, output to out(arg, ...). */
void dkim_body_init(struct dkim_body *b, enum dkim_canon c, uint64_t limit,
		    dkim_canon_out_fn *out, void *arg);
/* Feeds the next len octets of the body. */
void dkim_body_feed(struct dkim_body *b, const char *p, size_t len);
/* Ends the body: what was held back goes out (or is dropped as trailing
 * empty lines), and the output run is flushed.  The canonical length,
 * limit or not, is b->total afterwards. */
void dkim_body_finish(struct dkim_body *b);

#endif
