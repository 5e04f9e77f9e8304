/*
 * mstruct - the MIME structure of a stored message for IMAP (RFC 9051
 * 7.5.2 BODYSTRUCTURE, ENVELOPE, section numbers), read as a stream: fed
 * the text (LF line ends, as stored) in pieces of any size, it builds the
 * tree of parts with, for each, where its header and body lie and how
 * big they are, counted in CRLF octets (each LF not preceded by CR counts
 * two, as the client sees the text), the body's lines (its LFs, as
 * Dovecot counts), and the Content-* fields parsed; a message (the top
 * one and each message/rfc822 part's) keeps its envelope fields raw.
 *
 * Constant memory in the size of the message: no text is kept but the
 * fields above, each cut at MSTRUCT_FIELD_MAX octets, all of them at
 * most MSTRUCT_KEPT_MAX (past it, further values are NIL), at most
 * MSTRUCT_PARTS_MAX parts nested at most MSTRUCT_DEPTH_MAX deep.
 *
 * Never fails on malformed input, it shows what it can, after Dovecot's
 * message-parser: a header with no blank line ends at the end of the
 * message or at a boundary of an enclosing multipart; a multipart whose
 * boundary never comes ends at the end of the message (or at an outer
 * boundary); the CRLF before a boundary line belongs to the boundary
 * (RFC 2046 5.1.1), that of a header's blank line too, but a
 * close-delimiter's stays in its multipart; a multipart with no boundary
 * parameter or no body has no parts; a message/rfc822 with a base64 or
 * quoted-printable encoding or no body has an empty message; a multipart
 * or message/rfc822 that a limit stops from being followed is shown as
 * a text/plain leaf; past the part limit no boundary is looked for.  Of an envelope field given twice the last counts, of a Content-*
 * field the first (Dovecot's rules).
 */
#ifndef OWL_MSTRUCT_H
#define OWL_MSTRUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSTRUCT_DEPTH_MAX 16		/* nested multiparts and messages */
#define MSTRUCT_PARTS_MAX 1000		/* parts of one message, in all */
#define MSTRUCT_FIELD_MAX 16384		/* one header field kept, octets */
#define MSTRUCT_KEPT_MAX (256 * 1024)	/* all kept values, octets */
#define MSTRUCT_PARAMS_MAX 32		/* parameters of one field */
#define MSTRUCT_BOUNDARY_MAX 200	/* octets of a boundary followed */
#define MSTRUCT_TOKEN_MAX 64		/* type and subtype, octets */

/* The envelope's fields (RFC 9051 7.5.2), in its order. */
enum mstruct_env_field {
	MSTRUCT_DATE,
	MSTRUCT_SUBJECT,
	MSTRUCT_FROM,
	MSTRUCT_SENDER,
	MSTRUCT_REPLY_TO,
	MSTRUCT_TO,
	MSTRUCT_CC,
	MSTRUCT_BCC,
	MSTRUCT_IN_REPLY_TO,
	MSTRUCT_MESSAGE_ID,
	MSTRUCT_ENV_N,
};

/* A parameter; RFC 2231 continuations (name*0, name*1*, ...) are joined
 * into one, named "name*" with its value still "charset'lang'%xx..." when
 * any piece was extended (the client decodes, as with Dovecot). */
struct mstruct_param {
	char *name;
	char *value;
};

struct mstruct_part {
	struct mstruct_part *parent;
	struct mstruct_part *children;	/* parts of a multipart; the message
					   of a message/rfc822 part */
	struct mstruct_part *next;	/* the next sibling */
	unsigned nchildren;
	unsigned depth;			/* 0 for the top message */

	/* where things are, in CRLF octets from the message's start */
	uint64_t hdr_off, hdr_size;	/* the header with its blank line */
	uint64_t body_off, body_size;
	uint64_t body_lines;		/* LFs in the body */

	/* Content-Type (defaults: text/plain, or message/rfc822 in a
	 * multipart/digest; charset=us-ascii when no Content-Type) */
	char type[MSTRUCT_TOKEN_MAX], subtype[MSTRUCT_TOKEN_MAX];
	struct mstruct_param *params;
	size_t nparams;
	bool ct_given;			/* a valid Content-Type was read */
	/* the other Content-* fields, raw and unfolded; NULL if absent */
	char *id, *desc, *enc, *md5, *lang, *loc;
	char *disp;			/* the disposition's type */
	struct mstruct_param *dparams;
	size_t ndparams;

	bool is_msg;			/* a message: the top one, or the
					   child of a message/rfc822 part */
	bool multipart;			/* children are its parts (none
					   when it had no boundary) */
	bool rfc822;			/* children is its message */
	/* a message's envelope fields, raw, unfolded; NULL if absent */
	char *env[MSTRUCT_ENV_N];

	/* the parser's own */
	char *boundary;
	bool closed, in_header, has_field[8];
	uint64_t lf_start;
};

struct mstruct;

struct mstruct *mstruct_new(void);
/* The next piece of the text. */
void mstruct_feed(struct mstruct *ms, const char *data, size_t len);
/* The text has ended: the tree is whole.  Call once, after the last feed;
 * the tree lives as long as ms. */
const struct mstruct_part *mstruct_end(struct mstruct *ms);
/* Has the top message's header ended (its blank line read)?  A caller
 * that needs only the header may stop feeding then: the tree's sizes are
 * of the text fed, the header's right. */
bool mstruct_header_ended(const struct mstruct *ms);
/* The top message (after mstruct_end). */
const struct mstruct_part *mstruct_root(const struct mstruct *ms);
/* The whole text's size in CRLF octets. */
uint64_t mstruct_size(const struct mstruct *ms);
/* Did a limit drop parts or values? */
bool mstruct_truncated(const struct mstruct *ms);
void mstruct_free(struct mstruct **msp);

/* Is the part's type/subtype this one (case-insensitive)? */
bool mstruct_is(const struct mstruct_part *p, const char *type,
		const char *subtype);

#endif
