/*
 * imap_sort - SORT and THREAD=ORDEREDSUBJECT (RFC 5256, with RFC 5957's
 * DISPLAYFROM and DISPLAYTO): the sort criteria parsed, what each
 * message gives to sorting taken from its header section (base subject,
 * sent date, first From/To/Cc address), the messages ordered, and the
 * responses written.  Pure: the header text comes from the caller.
 *
 * Strings compare by i;ascii-casemap (RFC 5256 requires at least that);
 * the base subject is RFC 5256 2.1's, its RFC 2047 words decoded; the
 * sent date is the Date: field in UTC, or the internal date when the
 * field is missing or unreadable (2.2).  Ties go by sequence number.
 */
#ifndef OWL_IMAP_SORT_H
#define OWL_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "imap_parser.h"

#define IMAP_SORT_KEYS_MAX 16		/* criteria of one SORT */
#define IMAP_SORT_HEADER_MAX 65536	/* header octets read per message */
#define IMAP_THREAD_REFS_MAX 100	/* references kept per message */

enum imap_sort_key {
	IMAP_SK_ARRIVAL, IMAP_SK_CC, IMAP_SK_DATE, IMAP_SK_FROM,
	IMAP_SK_SIZE, IMAP_SK_SUBJECT, IMAP_SK_TO, IMAP_SK_DISPLAYFROM,
	IMAP_SK_DISPLAYTO,
};

struct imap_sort_crit {
	struct {
		enum imap_sort_key key;
		bool reverse;
	} k[IMAP_SORT_KEYS_MAX];
	size_t n;
	bool needs_header;	/* a key other than ARRIVAL and SIZE */
};

/* The parenthesized criteria of SORT; -1 with *why_r for a BAD. */
int imap_sort_parse(const struct imap_arg *list, struct imap_sort_crit *c,
		    const char **why_r);

/* What one message gives to sorting; strings are allocated. */
struct imap_sort_msg {
	uint32_t num;		/* what the response says: number or UID */
	uint32_t seq;		/* ties */
	uint64_t size;
	int64_t arrival;	/* internal date */
	int64_t date;		/* sent date, UTC */
	uint64_t modseq;	/* its mod-sequence (RFC 7162) */
	char *subject;		/* base subject */
	char *from, *to, *cc;	/* the first address's mailbox (local part) */
	char *dfrom, *dto;	/* its display name, else its address */
	/* THREAD=REFERENCES */
	bool refwd;		/* the subject was a reply or forward's */
	char *msgid;		/* Message-ID's first "<...>", or NULL */
	char **refs;		/* References' ids, else In-Reply-To's first */
	size_t nrefs;
};

/*
 * Fills the header-based fields of m from its header section (hdr, len
 * octets, LF or CRLF line ends; NULL: none); m->arrival must be set.
 */
void imap_sort_msg_header(struct imap_sort_msg *m, const char *hdr,
			  size_t len);
void imap_sort_msg_clear(struct imap_sort_msg *m);

/* Orders msgs by the criteria, ties by sequence number. */
void imap_sort_run(const struct imap_sort_crit *c, struct imap_sort_msg *msgs,
		   size_t n);
/* "* SORT n n n\r\n" of msgs in their order; with modseq (a MODSEQ key
 * was used) and a match, " (MODSEQ m)" before the CRLF, m the highest
 * modseq of msgs (RFC 7162 3.1.9). */
void imap_sort_write(const struct imap_sort_msg *msgs, size_t n, bool modseq,
		     struct buf *out);

/*
 * THREAD=ORDEREDSUBJECT (RFC 5256 3): msgs (header fields filled) are
 * grouped by base subject, each thread's first message by sent date the
 * parent of the others; threads in the order of their first message's
 * sent date.  Writes "* THREAD (...)(...)\r\n".  msgs are reordered.
 */
void imap_thread_orderedsubject(struct imap_sort_msg *msgs, size_t n,
				struct buf *out);

/*
 * THREAD=REFERENCES (RFC 5256 3, after Jamie Zawinski's algorithm):
 * parent/child links from References and In-Reply-To, dummies for
 * messages referred to but not there, pruned, threads gathered by base
 * subject, siblings ordered by sent date.  Writes "* THREAD ...\r\n".
 */
void imap_thread_references(struct imap_sort_msg *msgs, size_t n,
			    struct buf *out);

/* The base subject of a decoded subject (RFC 5256 2.1), allocated; *refwd
 * set if a reply or forward marker was removed. */
char *imap_base_subject(const char *subject, bool *refwd);

#endif
