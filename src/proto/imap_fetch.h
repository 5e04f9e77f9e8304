/*
 * imap_fetch - FETCH data items (RFC 9051 6.4.5 and 7.5.2, RFC 3501,
 * RFC 3516 BINARY, RFC 7162 MODSEQ): the item list parsed from a FETCH
 * command's argument, and one message's untagged FETCH response written
 * from its metadata (struct imap_msg) and its text, read through a
 * handle, streamed: a 50 MB BODY[] goes out in pieces as the client
 * reads, never whole in memory.  ENVELOPE, BODY and BODYSTRUCTURE come
 * from src/mime's bounded structure parser.  Pure: the text is read only
 * through the read/rewind functions given.
 *
 * The message text is as stored (LF line ends); everything the client
 * sees counts and carries CRLF: sizes, partial offsets, literals.
 */
#ifndef OWL_IMAP_FETCH_H
#define OWL_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "imap_mbox.h"
#include "imap_parser.h"

struct imap_fetch_items;

/*
 * Parses the item argument of FETCH: one item (an atom: FLAGS, BODY[1.2],
 * BODY.PEEK[HEADER.FIELDS (From To)]<0.100>, ...), a macro (ALL, FAST,
 * FULL) or a parenthesized list of items.  -1 with *why_r (the text of a
 * BAD) for anything RFC 9051's grammar does not allow.
 */
int imap_fetch_parse(const struct imap_arg *arg,
		     struct imap_fetch_items **items_r, const char **why_r);
void imap_fetch_items_free(struct imap_fetch_items **itemsp);
/* Adds UID (UID FETCH), MODSEQ (CHANGEDSINCE, CONDSTORE), FLAGS (a
 * \Seen set by this FETCH is shown: RFC 9051 6.4.5). */
void imap_fetch_add_uid(struct imap_fetch_items *items);
void imap_fetch_add_modseq(struct imap_fetch_items *items);
void imap_fetch_add_flags(struct imap_fetch_items *items);
/* Does an item need the message text (a section, RFC822*, ENVELOPE,
 * BODY, BODYSTRUCTURE, BINARY*)? */
bool imap_fetch_wants_text(const struct imap_fetch_items *items);
/* Does an item set \Seen (BODY[...] without .PEEK, RFC822, RFC822.TEXT,
 * BINARY[...] without .PEEK)? */
bool imap_fetch_sets_seen(const struct imap_fetch_items *items);
/* Does the list ask for MODSEQ (which enables CONDSTORE)? */
bool imap_fetch_wants_modseq(const struct imap_fetch_items *items);

/* The message a response is written for. */
struct imap_fetch_msg {
	uint32_t seq;			/* its sequence number */
	const struct imap_msg *m;	/* flags, UID, size, date, modseq */
	bool recent;			/* \Recent in this session (rev1) */
	bool rev2;			/* IMAP4rev2 on: no \Recent shown */
	/* the text, if imap_fetch_wants_text() */
	void *rd;
	long (*read)(void *rd, char *buf, size_t size);
	int (*rewind)(void *rd);
};

struct imap_fetch_writer;

/* The writer of msg's response; msg (and m) must stay valid until it is
 * freed or reset. */
struct imap_fetch_writer *imap_fetch_writer_new(
	const struct imap_fetch_items *items, const struct imap_fetch_msg *msg);
/* The same writer (the same items) made new for the next message's
 * response, its buffers kept: a FETCH of many messages makes one writer.
 * Any point of the last response is fine (a message left unfinished,
 * failed or whole). */
void imap_fetch_writer_reset(struct imap_fetch_writer *w,
			     const struct imap_fetch_msg *msg);
/*
 * Writes "* SEQ FETCH (...)\r\n" into out, stopping once out holds
 * out_max octets (or out is full): 1 when more is to come (call again
 * when out has been sent; it goes on exactly where it stopped, inside a
 * literal too), 0 when the response is whole, -1 when the text could
 * not be read, -2 when a BINARY item names a part whose
 * Content-Transfer-Encoding is not known (RFC 3516 4.2: the command
 * fails with NO [UNKNOWN-CTE]).  The text is read before the first octet
 * is written to learn its structure and the sizes of filtered and
 * decoded sections: -2 always, and -1 when the text cannot be read at
 * all, come before it, with nothing written (the command can fail with
 * NO); a -1 after it (the text unreadable or shorter on a later read)
 * leaves the response cut, and the session must end.  Every later call
 * after -1 or -2 says the same.
 */
int imap_fetch_write(struct imap_fetch_writer *w, struct buf *out,
		     size_t out_max);
void imap_fetch_writer_free(struct imap_fetch_writer **wp);

#endif
