/*
 * imap_body - a message's structure (src/mime/mstruct.h) written as IMAP
 * data (RFC 9051 7.5.2): strings, ENVELOPE with its address lists parsed
 * (RFC 5322 3.4, groups, route addresses; RFC 2047 words left as they
 * are: the client decodes them), BODY and BODYSTRUCTURE with extension
 * data.  Pure: appends to a buffer, fails only when the buffer is full
 * (the caller sizes it for the structure's bounded values).
 */
#ifndef OWL_IMAP_BODY_H
#define OWL_IMAP_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"
#include "../mime/mstruct.h"

#define IMAP_QUOTED_MAX 1024	/* longer strings go as literals */

/* A string: quoted when it can be (7-bit, no CR or LF, at most
 * IMAP_QUOTED_MAX octets), else a literal; a NUL goes as 0x80. */
void imap_body_string(struct buf *out, const char *s, size_t len);
/* NIL for NULL, else the string. */
void imap_body_nstring(struct buf *out, const char *s);
/* An astring: an atom when it is one, else a string. */
void imap_body_astring(struct buf *out, const char *s, size_t len);

/* The ENVELOPE of a message part (the top one, or a message/rfc822
 * part's child). */
void imap_body_envelope(struct buf *out, const struct mstruct_part *msg);
/* BODY (ext false) or BODYSTRUCTURE (ext true) of part p. */
void imap_body_structure(struct buf *out, const struct mstruct_part *p,
			 bool ext);

/* The address list of a raw header value, as ENVELOPE shows it
 * ("((name adl mailbox host) ...)" or NIL when it has no address). */
void imap_body_addresses(struct buf *out, const char *value);
/* The same addresses as plain text, for SEARCH FROM/TO/CC/BCC: each
 * "name <mailbox@host>" (or "mailbox@host" without a name; a part that
 * is missing left out), ", " between them, a group as "name: ...;".
 * Comments and quoting are gone, as in ENVELOPE. */
void imap_body_address_text(struct buf *out, const char *value);

#endif
