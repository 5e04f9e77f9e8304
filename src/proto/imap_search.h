/*
 * imap_search - SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4): the search keys
 * parsed into a program (the whole grammar: sequence sets, "$", OR and
 * NOT nesting, parenthesized lists, dates, sizes, flags and keywords,
 * headers, BODY and TEXT; RFC 7162 MODSEQ), evaluated on one message at
 * a time, and the result written as "* SEARCH" or "* ESEARCH" (RFC 4731,
 * RFC 9051 7.3.4) with the RETURN options MIN MAX COUNT ALL SAVE.
 *
 * Text keys match case-insensitively on decoded text: header values with
 * their RFC 2047 words decoded (FROM, TO, CC and BCC also the field's
 * addresses as ENVELOPE parses them, "name <mailbox@host>", comments
 * and folds gone), bodies with their transfer encoding undone and their
 * charset converted to UTF-8.  Pure: the text is read
 * only through the read/rewind functions given, and at most
 * IMAP_SEARCH_TEXT_MAX octets of one message are searched.
 *
 * Bounds: at most IMAP_SEARCH_KEYS_MAX keys (each key, OR, NOT and
 * parenthesized list counts one), IMAP_SEARCH_DEPTH_MAX levels of OR, NOT
 * and parentheses, IMAP_SEARCH_RANGES_MAX ranges in one sequence set
 * ("[LIMIT]" BAD past them).
 */
#ifndef OWL_IMAP_SEARCH_H
#define OWL_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "imap_mbox.h"
#include "imap_parser.h"
#include "imap_seqset.h"

#define IMAP_SEARCH_KEYS_MAX 256
#define IMAP_SEARCH_DEPTH_MAX 16
#define IMAP_SEARCH_TEXT_MAX (16u << 20)
#define IMAP_SEARCH_RANGES_MAX 1000	/* ranges of one sequence set */

/* RETURN options (RFC 4731, RFC 5182 SAVE). */
enum {
	IMAP_SEARCH_RET_MIN = 1 << 0,
	IMAP_SEARCH_RET_MAX = 1 << 1,
	IMAP_SEARCH_RET_ALL = 1 << 2,
	IMAP_SEARCH_RET_COUNT = 1 << 3,
	IMAP_SEARCH_RET_SAVE = 1 << 4,
};

enum imap_search_err {
	IMAP_SEARCH_OK,
	IMAP_SEARCH_BAD,	/* BAD why */
	IMAP_SEARCH_LIMIT,	/* BAD [LIMIT] why */
	IMAP_SEARCH_BADCHARSET,	/* NO [BADCHARSET (UTF-8 US-ASCII)] */
};

struct imap_search;

/* SEARCH's arguments give a CHARSET (after RETURN (...), if any): a
 * session with UTF8=ACCEPT on refuses it (RFC 6855 3). */
bool imap_search_has_charset(const struct imap_arg *args, size_t nargs);

/*
 * Parses SEARCH's arguments: [RETURN (opts)] [CHARSET name] keys.
 * esearch: the result is written as ESEARCH (RETURN given, or the session
 * is IMAP4rev2, where SEARCH answers with ESEARCH).
 * why_r: a static text for the BAD or NO, without the response code
 * (the caller writes "[LIMIT]" or "[BADCHARSET (UTF-8 US-ASCII)]").
 */
enum imap_search_err imap_search_parse(const struct imap_arg *args,
				       size_t nargs, bool rev2,
				       struct imap_search **s_r,
				       const char **why_r);
void imap_search_free(struct imap_search **sp);
/* Does a key need the message text (headers, BODY, TEXT, SENT*)? */
bool imap_search_wants_text(const struct imap_search *s);
/* Does a key use "$" (the saved result)? */
bool imap_search_uses_saved(const struct imap_search *s);
/* Does a key or the result need MODSEQ (which enables CONDSTORE)? */
bool imap_search_wants_modseq(const struct imap_search *s);
/* The RETURN options (RETURN () and rev2 without RETURN: ALL); 0 for
 * rev1 without RETURN (a "* SEARCH" response). */
unsigned imap_search_return(const struct imap_search *s);

/* The mailbox the program runs on: "*" of a sequence set is count (or
 * the last UID), "$" is saved. */
struct imap_search_box {
	uint32_t count;
	uint32_t last_uid;
	const struct imap_seqset *saved; /* resolved, of UIDs; NULL: empty */
	int64_t now;			/* for OLDER/YOUNGER (RFC 5032) */
};

struct imap_search_msg {
	uint32_t seq;
	const struct imap_msg *m;
	bool recent;
	void *rd;			/* the text, if wants_text */
	long (*read)(void *rd, char *buf, size_t size);
	int (*rewind)(void *rd);
};

/*
 * 1: msg matches, 0: it does not, -1: its text could not be read.  The
 * text is read (through msg->read, never rewound) at most once a call,
 * and only if a text key still decides; what was read is kept in s until
 * the next call, so one program matches one message at a time.
 */
int imap_search_match(const struct imap_search *s,
		      const struct imap_search_box *box,
		      const struct imap_search_msg *msg);

/*
 * The response for the matching messages, nums ascending (sequence
 * numbers, or UIDs with uid): "* SEARCH ..." (with "(MODSEQ n)" when a
 * MODSEQ key was used: RFC 7162 3.1.5), or "* ESEARCH (TAG "t") [UID]
 * ...".  modseqs: each match's mod-sequence, in the order of nums (read
 * only when a MODSEQ key was used); the MODSEQ written is the highest of
 * them, or with MIN and/or MAX but neither ALL nor COUNT the one of the
 * message MIN or MAX gives (the higher of the two): RFC 4731 3.2.
 */
void imap_search_write(const struct imap_search *s, const char *tag,
		       bool uid, const uint32_t *nums, size_t n,
		       const uint64_t *modseqs, struct buf *out);

#endif
