/*
 * imap_mbox - what the IMAP core asks of the mail store: a table of
 * functions the program fills in (owld over store/, the unit tests over
 * an in-memory fake), after the shape of Dovecot's lib-storage, where the
 * IMAP commands see only one mailbox API.  The core stays sans-I/O: it
 * never opens a file itself, and it runs only where the program calls
 * it (owld runs a logged-in session's feed on the worker pool, where
 * these calls may block).
 *
 * Folder names here are UTF-8 with '/' between levels, INBOX spelt
 * "INBOX" (the core has converted modified UTF-7 and INBOX's case).
 * Message positions are 0-based indexes into the selected mailbox's view
 * (the message sequence number minus one).  Message text is as stored:
 * LF line ends; sizes and offsets the client sees count CRLF.
 *
 * Every call that can fail returns an enum imap_mres and, unless OK, a
 * reason in err (for the tagged NO's text).  Nothing here keeps a pointer
 * to the caller's arguments after returning.
 */
#ifndef OWL_IMAP_MBOX_H
#define OWL_IMAP_MBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The system flags, the same bits as store/'s enum store_flag. */
enum imap_flag {
	IMAP_F_DRAFT = 1 << 0,
	IMAP_F_FLAGGED = 1 << 1,
	IMAP_F_PASSED = 1 << 2,		/* no IMAP name: kept, never shown */
	IMAP_F_ANSWERED = 1 << 3,
	IMAP_F_SEEN = 1 << 4,
	IMAP_F_DELETED = 1 << 5,
};

/* How a call came out; each has its response code (RFC 5530). */
enum imap_mres {
	IMAP_M_OK,
	IMAP_M_TEMP,		/* NO [UNAVAILABLE]: try again */
	IMAP_M_NOSPACE,		/* NO [OVERQUOTA] */
	IMAP_M_PERM,		/* NO (err says why; [CANNOT] for a name) */
	IMAP_M_INUSE,		/* NO [INUSE] */
	IMAP_M_EXISTS,		/* NO [ALREADYEXISTS] */
	IMAP_M_NOTFOUND,	/* NO [NONEXISTENT] ([TRYCREATE] for APPEND,
				   COPY and MOVE targets) */
	IMAP_M_LIMIT,		/* NO [LIMIT] */
	IMAP_M_EXPUNGED,	/* NO [EXPUNGEISSUED]: a message is gone */
};

/* Special-use roles (RFC 6154), the same bits as enum store_special. */
enum imap_special {
	IMAP_SU_SENT = 1 << 0,
	IMAP_SU_DRAFTS = 1 << 1,
	IMAP_SU_TRASH = 1 << 2,
	IMAP_SU_JUNK = 1 << 3,
	IMAP_SU_ARCHIVE = 1 << 4,
	IMAP_SU_ALL = 1 << 5,
	IMAP_SU_FLAGGED = 1 << 6,
};

struct imap_folder {
	char *name;		/* "INBOX" or a UTF-8 folder name */
	unsigned special_use;	/* enum imap_special bits */
	bool exists;		/* false: \NonExistent (a parent of one that
				   exists, or only subscribed) */
	bool subscribed;
	bool children;		/* some listed name is below it */
};

/* STATUS of a folder (RFC 9051 6.3.11, RFC 8438 SIZE, RFC 7162). */
struct imap_status {
	uint32_t messages, recent, unseen, deleted;
	uint32_t uidnext, uidvalidity;
	uint64_t size;		/* octets of all messages, with CRLF */
	uint64_t highestmodseq;
};

/* Octets of the keywords a FLAGS response lists ("kw kw ..."): SELECT's
 * list of those in use, and those a session is told of later; past it
 * the list is cut (a keyword left out is not announced). */
#define IMAP_KEYWORDS_LIST_MAX (64 * 1024)

/* The selected mailbox as a view: what SELECT reports. */
struct imap_view_info {
	uint32_t count;		/* messages in the view */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t recent_lo;	/* the UIDs [recent_lo, recent_hi) are
				   \Recent in this session (rev1): it is
				   the first to see them (EXAMINE: none) */
	uint32_t recent_hi;
	const char *keywords;	/* "kw kw ..." every keyword in use (at
				   most IMAP_KEYWORDS_LIST_MAX octets), or
				   NULL; valid until the next call */
};

/* One message of the view. */
struct imap_msg {
	uint32_t uid;
	uint64_t modseq;
	unsigned flags;		/* enum imap_flag bits */
	const char *keywords;	/* "kw kw ...", or NULL; valid until the
				   next call that changes the view */
	uint64_t size;		/* RFC822.SIZE: octets with CRLF */
	int64_t date;		/* INTERNALDATE, seconds since 1970 UTC */
	int zone;		/* its zone, minutes east of UTC (APPEND's;
				   0 for delivered mail) */
	bool expunged;		/* gone; kept until EXPUNGE may be said */
};

/* What a sync changed (positions before it, see imap_mbox_ops.sync). */
struct imap_changes {
	const uint32_t *expunged; /* positions to report as expunged, in
				     this order, each valid right after the
				     ones before it were removed */
	size_t nexpunged;
	const uint32_t *changed;  /* positions (after the expunges) whose
				     flags, keywords or modseq changed */
	size_t nchanged;
	uint32_t count;		/* the view's messages now */
	uint32_t recent_lo;	/* UIDs [lo, hi) newly \Recent in this */
	uint32_t recent_hi;	/* session, as in imap_view_info */
};

enum imap_store_op { IMAP_STORE_REPLACE, IMAP_STORE_ADD, IMAP_STORE_REMOVE };

struct imap_store_req {
	enum imap_store_op op;
	unsigned flags;		/* enum imap_flag bits */
	const char *keywords;	/* "kw kw ...", or NULL */
	bool conditional;	/* UNCHANGEDSINCE given (RFC 7162) */
	uint64_t unchangedsince;
};

struct imap_append_req {
	const char *folder;
	unsigned flags;
	const char *keywords;	/* or NULL */
	int64_t date;		/* internal date; 0: now */
	int zone;		/* the date's zone, minutes east of UTC */
	uint32_t uidvalidity;	/* out: APPENDUID */
	uint32_t uid;		/* out */
};

struct imap_mbox_ops {
	/* --- folders ---------------------------------------------------- */

	/* Every folder (store_folder_list's rules): INBOX first, then by
	 * name; free with list_free. */
	enum imap_mres (*list)(void *ctx, struct imap_folder **list_r,
			       size_t *n_r, char *err, size_t errsz);
	void (*list_free)(void *ctx, struct imap_folder *list, size_t n);
	enum imap_mres (*create)(void *ctx, const char *name,
				 unsigned special_use, char *err,
				 size_t errsz);
	enum imap_mres (*delete)(void *ctx, const char *name, char *err,
				 size_t errsz);
	/* from "INBOX": a new folder to with all of INBOX's messages,
	 * INBOX left empty (RFC 9051 6.3.6) */
	enum imap_mres (*rename)(void *ctx, const char *from, const char *to,
				 char *err, size_t errsz);
	enum imap_mres (*subscribe)(void *ctx, const char *name, bool on,
				    char *err, size_t errsz);
	/* STATUS of a folder; the selected one too (its current state). */
	enum imap_mres (*status)(void *ctx, const char *name,
				 struct imap_status *st, char *err,
				 size_t errsz);

	/* --- the selected mailbox ----------------------------------------- */

	/* Opens name as the view (closing any view before); readonly:
	 * EXAMINE (no flag changes, no \Recent claimed). */
	enum imap_mres (*select)(void *ctx, const char *name, bool readonly,
				 struct imap_view_info *info, char *err,
				 size_t errsz);
	void (*unselect)(void *ctx);
	/*
	 * Brings the view up to date with the folder (new messages at the
	 * end, others' flag changes, expunges).  keep_expunged: messages
	 * expunged meanwhile stay in the view, marked, and are not reported
	 * (FETCH, STORE and SEARCH must not say EXPUNGE); else they are
	 * reported in ch and removed.  ch's arrays are valid until the next
	 * call.  IMAP_M_PERM with "UIDVALIDITY changed": the session must
	 * end (BYE).
	 */
	enum imap_mres (*sync)(void *ctx, bool keep_expunged,
			       struct imap_changes *ch, char *err,
			       size_t errsz);
	void (*msg)(void *ctx, uint32_t pos, struct imap_msg *out);
	/* The position of uid in the view; false if not there. */
	bool (*find_uid)(void *ctx, uint32_t uid, uint32_t *pos_r);
	/*
	 * Flags and keywords of the messages at pos (ascending); the view
	 * shows their new state after.  modified (may be NULL unless
	 * conditional): set for a message left alone by UNCHANGEDSINCE.
	 */
	enum imap_mres (*store)(void *ctx, const uint32_t *pos, size_t n,
				const struct imap_store_req *req,
				bool *modified, char *err, size_t errsz);
	/* Removes the messages at pos (ascending) durably; the view shows
	 * them until the next sync, which reports them. */
	enum imap_mres (*expunge)(void *ctx, const uint32_t *pos, size_t n,
				  char *err, size_t errsz);
	/* Copies (move: moves) the messages at pos to folder; uids_r[k] is
	 * the new UID of pos[k] (COPYUID). */
	enum imap_mres (*copy)(void *ctx, const uint32_t *pos, size_t n,
			       const char *folder, bool move,
			       uint32_t *uids_r, uint32_t *uidvalidity_r,
			       char *err, size_t errsz);

	/* --- message text (LF line ends, as stored) ----------------------- */

	/* Opens the text of the message at pos; its handle in *rd. */
	enum imap_mres (*open)(void *ctx, uint32_t pos, void **rd,
			       char *err, size_t errsz);
	/* Up to size octets from where the last read ended; 0 at the end,
	 * -1 on an error. */
	long (*read)(void *rd, char *buf, size_t size);
	/* Back to the first octet (a second pass over the text). */
	int (*rewind)(void *rd);
	void (*close)(void *rd);

	/* --- APPEND: each literal streamed to a spool --------------------- */

	/* Starts a message of size octets (with CRLF, as sent).  Messages
	 * begun before it and not yet ended stay spooled: the messages of
	 * one MULTIAPPEND (RFC 3502) are spooled, then saved together. */
	enum imap_mres (*append_begin)(void *ctx, uint64_t size, char *err,
				       size_t errsz);
	/* A piece of the last message begun, as the client sends it. */
	enum imap_mres (*append_data)(void *ctx, const char *data, size_t len,
				      char *err, size_t errsz);
	/* Saves the n messages spooled since the last end or abort, the
	 * k-th with req[k], all in req[0].folder, all or nothing (UIDs
	 * ascending in k); or drops every one of them (abort). */
	enum imap_mres (*append_end)(void *ctx, struct imap_append_req *req,
				     size_t n, char *err, size_t errsz);
	void (*append_abort)(void *ctx);
};

#endif
