/*
 * wire - text encodings shared by the protocol cores: message text as
 * dot-stuffed CRLF lines (SMTP DATA, POP3 RETR/TOP) and base64 lines
 * (SASL; base64 itself is lib/b64.h, included here for the cores).
 */
#ifndef OWL_WIRE_H
#define OWL_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/b64.h"
#include "../lib/buf.h"

/*
 * A command line longer than its limit is answered with an error and
 * dropped up to its LF; one that goes on for WIRE_DROP_MAX more octets
 * without a LF ends the session: only an attack or a broken client sends
 * it, and reading it until the command deadline would cost a core.
 */
#define WIRE_DROP_MAX (1024 * 1024)

/*
 * dot_stuff - a message's text on the wire: stored text (LF line ends)
 * becomes CRLF lines, lines starting with '.' get one more, and TOP stops
 * after the header section and the wanted number of body lines.  Feed
 * the text in chunks of any size; memory is constant.
 */
struct dot_stuff {
	bool bol;		/* at the start of a line */
	bool in_body;
	bool line_empty;	/* the current line has no octets yet */
	long lines;		/* body lines still wanted; -1 for all */
	bool done;
	bool no_bare_cr;	/* dot_stuff_no_bare_cr() was called */
	bool cr;		/* the last chunk ended in a CR */
};

void dot_stuff_init(struct dot_stuff *st, long top_lines);
/*
 * After init, for SMTP DATA to another server (RFC 5321 2.3.8): the wire
 * form never holds a bare CR, whatever the stored text holds (an old queue
 * file, an mbox message).  CR LF in the text is one line end and any other
 * CR becomes a space, as smtp.bare_newline = normalize stores it, so no
 * next hop can take a CR for a line end.  POP3 keeps the stored octets.
 */
void dot_stuff_no_bare_cr(struct dot_stuff *st);
/*
 * Appends the wire form of data to out; returns true once TOP has all it
 * wants (feed no more).  out must have room for 2 * len + 2 octets.
 * Every LF goes out as CR LF.
 */
bool dot_stuff_feed(struct dot_stuff *st, const char *data, size_t len,
		    struct buf *out);
/* Ends the text: a CRLF if the last line had none, then "."; 6 octets. */
void dot_stuff_end(struct dot_stuff *st, struct buf *out);

#define WIRE_B64_LINE_IN 1536	/* octets b64_line encodes at most */

/* prefix, then the base64 of in[0..len), as one CRLF line; -1 if too long. */
int b64_line(struct buf *out, const char *prefix, const char *in,
	     size_t len);
/*
 * A client's SASL PLAIN initial response (RFC 4616: empty authzid, user,
 * password) after prefix as one line; -1 if they are too long together.
 */
int sasl_plain_line(struct buf *out, const char *prefix, const char *user,
		    const char *pass);

#endif
