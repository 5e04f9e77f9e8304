/*
 * mime - Internet message format (RFC 5322) and MIME (RFC 2045-2047, 2231)
 * for owl: a builder for the messages it sends and a parser for the ones
 * it shows.  No I/O: the caller supplies the date, the Message-ID, the
 * boundary and the files' contents, and prints what the parser returns.
 *
 * Text here uses LF line ends (as owld stores it; the SMTP client makes
 * them CRLF on the wire).  The parser takes LF or CRLF.
 */
#ifndef OWL_MIME_H
#define OWL_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"

#define MIME_PARTS_MAX 256	/* leaf parts kept by the parser */
#define MIME_DEPTH_MAX 16	/* nested multiparts followed */
#define MIME_HEADER_MAX 65536	/* one unfolded header field, octets */
#define MIME_NAME_MAX 255	/* attachment file name, octets */

struct mime_att {
	const char *name;	/* file name (UTF-8), without directories */
	const char *data;
	size_t len;
	const char *type;	/* NULL: guessed from name and content */
};

struct mime_out {
	const char *date;	/* RFC 5322 date-time */
	const char *message_id;	/* with <> */
	const char *from;	/* addresses, comma separated */
	const char *to;
	const char *cc;		/* NULL or "" for none */
	const char *subject;	/* UTF-8 */
	const char *body;	/* UTF-8, LF line ends */
	size_t bodylen;
	const struct mime_att *atts;
	size_t natts;
	const char *boundary;	/* unique token for multipart/mixed */
};

/*
 * Appends the whole message to out: headers, then a text/plain part (7bit
 * when it can be, else quoted-printable) and each attachment as base64.
 * -1 if out's maximum is too small.
 */
int mime_build(const struct mime_out *m, struct buf *out);

/* A content type for a file: by extension, else by content. */
const char *mime_type_guess(const char *name, const char *data, size_t len);

/* Quoted-printable (RFC 2045 6.7) of in, LF line ends, lines <= 76. */
int mime_qp_encode(const char *in, size_t len, struct buf *out);
/* base64 in lines of 76 (RFC 2045 6.8). */
int mime_b64_encode(const char *in, size_t len, struct buf *out);
/* A header field "Name: value", value as RFC 2047 words when not ASCII. */
int mime_header_encode(const char *name, const char *value, struct buf *out);

/* One leaf part of a parsed message. */
struct mime_part {
	char type[128];		/* lower case, "text/plain" by default */
	char *filename;		/* UTF-8, NULL if none */
	bool attachment;	/* not text to show inline */
	char *data;		/* decoded (text: UTF-8) */
	size_t len;
};

struct mime_doc {
	/* unfolded, RFC 2047 decoded to UTF-8; NULL when absent */
	char *from, *to, *cc, *date, *subject;
	struct mime_part *parts;
	size_t nparts;
	bool truncated;		/* a limit dropped parts */
};

/*
 * Parses a whole message.  Never fails on malformed input (it shows what
 * it can); memory is bounded by a small multiple of len.
 */
void mime_parse(const char *text, size_t len, struct mime_doc *doc);
void mime_doc_free(struct mime_doc *doc);

/*
 * Only the header section: the value of field name (first occurrence),
 * unfolded and decoded, into out; false if absent.
 */
bool mime_header_get(const char *text, size_t len, const char *name,
		     struct buf *out);

/*
 * Octets of the UTF-8 character at s (left octets there): 2 to 4 for a
 * well-formed lead and continuation octets, else 1.
 */
size_t mime_u8_len(const unsigned char *s, size_t left);

/* RFC 2047 words in a header value decoded into UTF-8. */
void mime_words_decode(const char *in, size_t len, struct buf *out);

/*
 * Text safe for a terminal: valid UTF-8 kept, control characters other
 * than tab and LF (C0, DEL, C1, so escape sequences too) and invalid
 * octets become '?', CR is dropped.
 */
void mime_safe_text(const char *in, size_t len, struct buf *out);

/*
 * A file name safe to create in a directory: the last path component,
 * control characters and '/' replaced, never "", "." or ".." (then
 * "attachment"), leading dots removed, at most MIME_NAME_MAX octets.
 */
void mime_safe_name(const char *name, char *out, size_t size);

#endif
