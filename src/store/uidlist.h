/*
 * uidlist - the per-folder UID index of a Maildir (docs/MAILDIR.md, "The
 * UID index file") in memory: parse it from a buffer, format it into one,
 * and sync it with a listing of cur/.  Pure: no files, no clocks; the file
 * I/O, the lock and the choice of a new UIDVALIDITY are maildir_index.c's.
 *
 * uidlist_parse() accepts exactly what uidlist_format() writes and bounds
 * everything (line length, name length, keywords); any other input is
 * "corrupt" (-1 with the reason), never partly used.  Memory grows with
 * the number of lines only: the base names and keywords of parsed and
 * synced records live in a few large blocks (the parsed text itself, in
 * place), not one allocation each; keywords set later are the only
 * strings allocated one by one.
 */
#ifndef OWL_UIDLIST_H
#define OWL_UIDLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

#define UIDLIST_MAGIC "owlpost-uidlist"
#define UIDLIST_VERSION 1
#define UIDLIST_LINE_MAX 4096	/* octets, without the LF */
#define UIDLIST_BASE_MAX 255	/* octets of a base name (NAME_MAX) */
#define UIDLIST_KEYWORDS_MAX 32	/* per message */
#define UIDLIST_KEYWORD_MAX 100	/* octets of one keyword */
#define UIDLIST_MODSEQ_MAX 0x7fffffffffffffffULL

/* System flags, as the Maildir info letters D F P R S T. */
enum uidlist_flag {
	UF_DRAFT = 1 << 0,	/* D */
	UF_FLAGGED = 1 << 1,	/* F */
	UF_PASSED = 1 << 2,	/* P */
	UF_ANSWERED = 1 << 3,	/* R */
	UF_SEEN = 1 << 4,	/* S */
	UF_DELETED = 1 << 5,	/* T */
};

struct uidlist_rec {
	uint32_t uid;
	uint16_t flags;		/* enum uidlist_flag bits */
	bool innew;		/* the file is new/BASE, as delivered: no
				   scan moves it; a flag change does */
	uint64_t modseq;
	/* Both read only, and valid until the next uidlist_sync() (which
	 * may move them) or uidlist_free(): */
	char *keywords;		/* "kw kw ..." or NULL (see
				   uidlist_set_keywords) */
	char *base;		/* the file name up to ':' */
};

struct uidlist_block;
struct uidlist_names;

/* A directory's mtime and inode as stat saw them; sec 0: none. */
struct uidlist_stamp {
	int64_t sec;
	long nsec;
	uint64_t ino;
};

/* Its records change only through the calls below. */
struct uidlist {
	uint32_t uidvalidity;	/* not 0 */
	uint32_t uidnext;	/* above every uid, not 0 */
	uint64_t highestmodseq;	/* at least every modseq */
	uint32_t recent;	/* the first UID no IMAP session has seen
				   yet: \Recent's claim (RFC 3501 2.3.2) */
	struct uidlist_stamp cur; /* C: cur/ as the full scan that wrote
				   the index listed it, every name in it
				   its record's base and flags, the mtime
				   settled (docs/MAILDIR.md); sec 0: none */
	struct uidlist_stamp newdir; /* W: new/ as that scan listed it,
				   settled too; only with C; sec 0: none
				   (then C holds only with new/ empty) */
	struct uidlist_rec *recs; /* ascending uid */
	size_t n, cap;
	/* uidlist.c's own: */
	struct uidlist_block *blocks;	/* the strings of recs */
	struct uidlist_names *names;	/* a set of the bases, or NULL */
};

/* A file of cur/ or new/ as the sync sees it. */
struct uidlist_file {
	const char *name;	/* its name in cur/ or new/ */
	bool innew;		/* in new/ */
	size_t baselen;		/* octets up to ':' */
	uint32_t uid;		/* out: its UID, 0 if none (a repeated base) */
	uint64_t modseq;	/* out: its modseq (0 with uid 0) */
	unsigned flags;		/* out: its flags (from its name) */
	char *keywords;		/* out (maildir_index_sync): its keywords,
				   the caller's to free, or NULL */
};

/* Parses data into a fresh ul; -1 (ul empty, err set) if corrupt. */
int uidlist_parse(struct uidlist *ul, const char *data, size_t len,
		  char *err, size_t errsz);
/*
 * The same without a copy of the text: buf (from uidlist_buf_new(len),
 * len octets of text read into it) is parsed in place and becomes ul's:
 * 0, or -1 (ul empty, err set) and buf is still the caller's, to read its
 * first line or free with uidlist_buf_free() (the lines after the first
 * may have been changed).
 */
char *uidlist_buf_new(size_t len);
void uidlist_buf_free(char *buf);
int uidlist_parse_buf(struct uidlist *ul, char *buf, size_t len, char *err,
		      size_t errsz);
/* Appends the text of ul to out; -1 if out's bound is too small. */
int uidlist_format(const struct uidlist *ul, struct buf *out);
void uidlist_free(struct uidlist *ul);
/* An empty index with this UIDVALIDITY (UIDNEXT 1, HIGHESTMODSEQ 1). */
void uidlist_init(struct uidlist *ul, uint32_t uidvalidity);
/* The record of uid, or NULL: a binary search of the ascending recs. */
struct uidlist_rec *uidlist_find(struct uidlist *ul, uint32_t uid);
/*
 * Replaces r's keywords with kw ("kw kw ..." of valid atoms, or NULL for
 * none); the only way to change a record's keywords, so that the parser
 * may keep its strings however it likes.
 */
void uidlist_set_keywords(struct uidlist *ul, struct uidlist_rec *r,
			  const char *kw);
/*
 * uids[k] is the UID record k got (records that nobody has been shown
 * yet, e.g. files an append numbered this sync): hands the same UIDs out
 * again in ascending order of k (the records trade their files, flags and
 * modseqs) and updates uids[].
 */
void uidlist_in_order(struct uidlist *ul, uint32_t *uids, size_t n);
/* The next modseq: HIGHESTMODSEQ raised by one and returned. */
uint64_t uidlist_next_modseq(struct uidlist *ul);
/* The flags of a Maildir name's info (after ":2,"); unknown letters: 0. */
unsigned uidlist_flags_of_name(const char *name);

/*
 * Syncs ul with the files of cur/, given in delivery order: records whose
 * base is gone are dropped, each file the index lacks gets the next UID
 * and a new modseq, a file whose flags differ gets them and a new modseq;
 * each files[i].uid, .modseq and .flags is set.  *changed_r: ul must be
 * written.  -1 if the UIDs ran out (UIDNEXT would pass 2^32 - 1): the
 * caller rebuilds with a new UIDVALIDITY; ul's records are unchanged then
 * (files[i].flags may be set).  Linear: names are matched by hashing.
 */
int uidlist_sync(struct uidlist *ul, struct uidlist_file *files, size_t n,
		 bool *changed_r);

/*
 * The index log (DIR/.owlpost-uidlist.log, docs/MAILDIR.md "The index
 * log"): what owld added since the index was last written, one
 * transaction per write, each ending in a commit line that gives the
 * state after it:
 *
 *   owlpost-uidlog 1 V<uidvalidity> I<nonce>
 *   <uid> <modseq> <flags> [+<keyword> ...] :<base name>   (a record)
 *   C <before> <after> N<uidnext> M<highestmodseq> R<recent>
 *
 * before/after: cur/'s stamp (SEC.NSEC.INO) around the transaction's
 * change of cur/, or "-" for one that did not touch cur/ (a \Recent
 * claim).  A record is only ever an added message (its UID at or above
 * the UIDNEXT before it); lines after the last commit line are a torn
 * write, never acknowledged, and are ignored.
 */
#define UIDLOG_MAGIC "owlpost-uidlog"

struct uidlog_hdr {
	uint32_t uidvalidity;
	uint64_t nonce;		/* tells one log file from a later one */
	size_t len;		/* octets of the header line, LF included */
};

struct uidlog_commit {
	bool touched;		/* the transaction changed cur/ */
	struct uidlist_stamp before, after;
	uint32_t uidnext, recent;
	uint64_t highestmodseq;
};

struct uidlog {
	struct uidlist_rec *recs; /* the committed records, in order */
	size_t nrecs;
	struct uidlog_commit *commits;
	size_t ncommits;
	size_t committed;	/* octets up to the end of the last commit */
};

/* The header line at the start of buf; -1 if there is none whole (no LF)
 * or it is not one (*bad_r then: not a torn write but a wrong file). */
int uidlog_parse_header(const char *buf, size_t len, struct uidlog_hdr *h,
			bool *bad_r);
/*
 * Parses the lines of buf (len octets from a line start after the
 * header; changed in place: the records' strings stay in it) up to its
 * last commit line.  -1 (err set) if a line before that is not a record
 * or commit line, or a record's UID is not above the one before it.
 */
int uidlog_parse(char *buf, size_t len, struct uidlog *lg, char *err,
		 size_t errsz);
void uidlog_free(struct uidlog *lg);
/*
 * Applies lg to ul: each record whose UID is at or above ul's UIDNEXT is
 * added (a lower one was written into the index already, and dropped
 * since if it is not there: an expunge); UIDNEXT, HIGHESTMODSEQ and R
 * rise to each commit's.  Idempotent.  buf (from uidlist_buf_new, what
 * lg was parsed from) becomes ul's: the records keep their strings in it.
 */
void uidlist_apply_log(struct uidlist *ul, const struct uidlog *lg,
		       char *buf);
/* One record line (the index's form) appended to out; -1 if no room. */
int uidlist_format_rec(const struct uidlist_rec *r, struct buf *out);
/* A commit line appended to out; -1 if no room. */
int uidlog_format_commit(const struct uidlog_commit *c, struct buf *out);
/* A header line appended to out; -1 if no room. */
int uidlog_format_header(const struct uidlog_hdr *h, struct buf *out);

#endif
