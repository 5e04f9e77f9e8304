/*
 * store - local mailboxes: the only code that writes mail files.
 *
 * One interface, two formats (mailbox.format): Maildir (default) and mbox.
 * Mailboxes live under MAIL_DIR/<domain>/<local> (Maildir) or
 * MAIL_DIR/<domain>/<local>.mbox; a user name is checked with
 * store_user_valid() before it becomes a path, so no name escapes MAIL_DIR.
 *
 * store_deliver() runs on a worker thread and takes a batch of deliveries:
 * each message is written once, fsync'ed, and linked into every recipient's
 * Maildir (mbox: appended to each, under fcntl + dot-lock); the new/
 * directories touched by the batch are fsync'ed once each (group commit).
 * A delivery is all-or-nothing: when any step fails, what it had made
 * visible is removed again and res says TEMP, NOSPACE or PERM.  Only with
 * res == STORE_OK may the caller say 250.  A message too big to keep in
 * memory comes as a spool file (data NULL, fd) and is copied from it, so no
 * path holds a whole large message in memory.  See docs/MAILDIR.md.
 *
 * Each format is a backend behind one table (store_private.h); this header
 * is the whole interface for the rest of owlpost.
 */
#ifndef OWL_STORE_H
#define OWL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../lib/conf.h"

#define STORE_PATH_MAX 4096	/* octets of a mailbox or folder path */

enum store_res {
	STORE_OK,
	STORE_TEMP,		/* try again later (I/O, a lock held too long) */
	STORE_NOSPACE,		/* ENOSPC, EDQUOT */
	STORE_PERM,		/* never works as asked (err says why) */
	STORE_INUSE,		/* the mailbox is held by another session */
	STORE_EXISTS,		/* a folder of that name exists already */
	STORE_NOTFOUND,		/* no such folder */
	STORE_LIMIT,		/* a limit was reached (err says which) */
};

struct store_delivery {
	/* in */
	const char *sender;	/* reverse-path text, "" for <> */
	const char *const *users; /* valid, distinct user@domain names */
	size_t nusers;
	const char *data;	/* the message with LF line ends, or NULL: */
	int fd;			/* it is in this file from offset 0 (a spool) */
	size_t len;		/* its octets */
	size_t crlf_len;	/* its size with CRLF line ends; 0: counted */
	time_t when;
	/*
	 * NULL: the inboxes; else this folder of every user (Maildir only;
	 * made beforehand, store_folder_create): a quarantined message goes
	 * to the Junk folders all or nothing, as to the inboxes.
	 */
	const char *folder;
	/* out */
	enum store_res res;
	char name[128];		/* the message's unique name (its id) */
	char error[200];
};

struct store;

struct store *store_new(enum mailbox_format fmt, const char *mail_dir,
			const char *hostname, const char **error_r);
void store_free(struct store **stp);
void store_deliver(struct store *st, struct store_delivery **batch, size_t n);

/*
 * True if name is "local@domain", lower case, safe as path components:
 * addr_user_valid() of lib/addr.h, which auth/ checks users with too.
 */
bool store_user_valid(const char *name);
/* The mailbox path of a valid user; -1 if it does not fit. */
int store_mailbox_path(const struct store *st, const char *user, char *out,
		       size_t size);
/* Where d goes for its user i: the mailbox, or d->folder's directory. */
int store_delivery_dir(const struct store *st,
		       const struct store_delivery *d, size_t i, char *out,
		       size_t size);
/* The size a message of data/len has with CRLF line ends. */
size_t store_crlf_size(const char *data, size_t len);

/*
 * The snapshot under a view (tests use it directly; protocols use the
 * view below): a mailbox is opened as a snapshot of its messages, in
 * delivery order, with sizes and unique ids, read one message at a time
 * through a store_reader (constant memory), and changed only by
 * store_box_expunge(), which removes the marked messages durably.
 * Maildir: opening moves new/ to cur/ (NAME -> NAME:2,); sizes come from
 * the ,S=,W= names, so no message file is read; the UIDL is the base name.
 * mbox: the file is parsed once under its locks; the UIDL is the X-UIDL
 * header owld writes first in each message, or a hash of the message;
 * expunge rewrites the file (temp, fsync, rename) under the locks and
 * keeps what was delivered after the snapshot.  See docs/MAILDIR.md.
 */
/* System flags (IMAP \Draft \Flagged, passed, \Answered \Seen \Deleted),
 * the Maildir info letters D F P R S T. */
enum store_flag {
	STORE_F_DRAFT = 1 << 0,
	STORE_F_FLAGGED = 1 << 1,
	STORE_F_PASSED = 1 << 2,
	STORE_F_ANSWERED = 1 << 3,
	STORE_F_SEEN = 1 << 4,
	STORE_F_DELETED = 1 << 5,
};

/*
 * A message of a box in 20 octets, so that a folder of 100,000 messages
 * takes a few MB: what its Maildir name says (sizes, arrival time, the
 * POP3 UIDL) is read from the name when asked, not kept twice; the name
 * is kept once, in the box's arena, as "UIDL\0REST" when it starts with
 * its UIDL and a ',' (owld's names do).  What a name cannot say (an mbox
 * message's place and sizes, a foreign file's sizes, a UIDL made unique,
 * keywords) is in an aux record.  Read through the store_box_* calls.
 */
struct store_msg {
	uint32_t uid;		/* Maildir: its UID in the index, or 0 */
	uint32_t name;		/* offset of its name in the arena */
	uint32_t aux;		/* 0, or 1 + its index in b->aux */
	uint32_t modseq_lo;	/* its modseq (store_box_modseq): bits 0-31 */
	uint8_t modseq_hi;	/* bits 32-39 (a modseq past 2^40: in aux) */
	uint8_t flags;		/* enum store_flag bits */
	uint8_t bits;		/* STORE_MSG_GONE, _SPLIT, _INFO, _NEW */
	uint8_t info;		/* _INFO: the flags of the name's ":2," */
};
#define STORE_MSG_GONE 1	/* a shared view keeps it until it may say
				   it was expunged */
#define STORE_MSG_SPLIT 2	/* the name is kept as "UIDL\0REST": the
				   file name is UIDL REST */
#define STORE_MSG_INFO 4	/* the name's ":2,LETTERS" is not kept:
				   the letters are those of info */
#define STORE_MSG_NEW 8		/* Maildir: the file is in new/, as
				   delivered (else in cur/) */

struct store_aux {
	char uidl[72];		/* "": the name's */
	uint64_t size, octets;	/* with AUX_SIZES */
	time_t date;		/* with AUX_DATE */
	off_t from_off;		/* mbox: its From_ line */
	off_t off, end;		/* mbox: its text in the file */
	uint64_t modseq;	/* with AUX_MODSEQ */
	uint32_t keywords;	/* offset of "kw kw ..." in the arena, or 0 */
	uint8_t has;		/* AUX_SIZES, AUX_DATE, AUX_MODSEQ */
};
#define AUX_SIZES 1
#define AUX_DATE 2
#define AUX_MODSEQ 4

struct store_box {
	struct store *st;
	char *path;		/* the Maildir directory or the mbox file
				   (allocated: an idle IMAP session keeps
				   a box, and paths are short) */
	uint32_t uidvalidity;	/* Maildir: of the index; mbox: 0 */
	uint32_t uidnext;	/* Maildir: of the index; mbox: 0 */
	uint64_t highestmodseq;	/* Maildir: of the index; mbox: 0 */
	bool session;		/* holds the session lock (POP3) */
	bool tmp_swept;		/* Maildir: tmp/'s stale files removed */
	struct store_msg *msgs;
	size_t n, cap;
	struct store_aux *aux;
	size_t naux, aux_cap;
	char *arena;		/* names and keywords, NUL-terminated */
	size_t alen, acap;
	int fd;			/* mbox: open for reading, or -1 */
	struct store_mark *mark; /* Maildir: what the scan saw, or NULL */
	dev_t dev;		/* mbox: the snapshot's file and size */
	ino_t ino;
	off_t size;
};

/* What box message i says of itself (store_box_info). */
struct store_msg_info {
	size_t size;		/* octets with CRLF line ends */
	size_t octets;		/* its stored size (LF line ends) */
	time_t date;		/* internal date, or 0 */
	int zone;		/* its zone, minutes east of UTC (",Z=") */
	unsigned long long sec, usec; /* Maildir: arrival time from the name */
};
void store_box_info(const struct store_box *b, size_t i,
		    struct store_msg_info *out);
/* Message i's POP3 UIDL (1-70 printable octets); valid until b changes. */
const char *store_box_uidl(const struct store_box *b, size_t i);
/* Message i's Maildir file name into out; -1 if it does not fit. */
int store_box_file(const struct store_box *b, size_t i, char *out,
		   size_t size);
/* Its path, "DIR/cur/NAME" or "DIR/new/NAME"; -1 if it does not fit. */
int store_box_path(const struct store_box *b, size_t i, char *out,
		   size_t size);
/* Message i's modseq. */
uint64_t store_box_modseq(const struct store_box *b, size_t i);
/* Message i's keywords, "kw kw ...", or NULL. */
const char *store_box_keywords(const struct store_box *b, size_t i);

struct store_ops;

struct store_reader {
	const struct store_ops *ops;	/* the backend that reads it */
	int fd;
	off_t pos, end;
	/* mbox: undoing the mboxrd quoting while reading */
	bool bol, held;		/* at a line start; one '>' held back */
	unsigned from;		/* octets of "From " matched after it */
};

/*
 * Opens user's mailbox (created empty if missing); not STORE_OK: err.
 * The box holds the mailbox until store_box_free(): a second open, by this
 * process or (Maildir, through an fcntl lock on DIR/.owlpost-lock) by
 * another one on any host sharing the tree, gets STORE_INUSE.  Every
 * claim (new/ -> cur/), index update and expunge happens under it.
 */
enum store_res store_box_open(struct store *st, const char *user,
			      struct store_box **bp, char *err, size_t errsz);
void store_box_free(struct store_box **bp);
/* Opens message i for reading; -1 with errno (ENOENT: gone). */
int store_reader_open(struct store_box *b, size_t i, struct store_reader *r);
/* Reads up to size octets of stored text (LF line ends); 0 at the end. */
ssize_t store_reader_read(struct store_reader *r, char *buf, size_t size);
void store_reader_close(struct store_reader *r);
/* Removes the messages with dele[i] set; STORE_OK once durable. */
enum store_res store_box_expunge(struct store_box *b, const bool *dele,
				 char *err, size_t errsz);

/*
 * The mailbox view: what protocols use.  store_view_open is POP3's: a
 * snapshot of a user's INBOX under the session lock (STORE_INUSE if
 * another POP3 session, here or on another host, holds it), synced with
 * the folder's UID index.  Its messages are in ascending UID order
 * (Maildir; a message without a UID, a second name of one message, comes
 * last; mbox has no UIDs: file order, uid 0).  Each has its UID, modseq,
 * system flags, sizes (with CRLF and as stored) and internal date, none
 * of which needs a message file read; the POP3 UIDL is the same as before
 * views (Maildir: the base name; mbox: X-UIDL or a hash).  IMAP's shared
 * views, on any folder, are below.  See docs/MAILDIR.md.
 */
struct store_view;

struct store_view_info {
	size_t count;		/* messages */
	uint32_t uidvalidity;	/* 0: no UIDs (mbox) */
	uint32_t uidnext;
	uint64_t highestmodseq;
};

struct store_vmsg {
	uint32_t uid;		/* 0: none */
	uint64_t modseq;
	unsigned flags;		/* enum store_flag bits */
	size_t size;		/* octets with CRLF line ends */
	size_t octets;		/* octets as stored, LF line ends */
	time_t date;		/* internal date, or 0 */
	int zone;		/* its zone, minutes east of UTC: the one
				   it was appended with, 0 when delivered */
	const char *uidl;	/* the POP3 unique id, 1-70 characters;
				   valid while a POP3 view is open, until
				   the next sync or store of a shared one */
	const char *keywords;	/* "kw kw ...", or NULL; valid until the
				   next sync or store */
	bool expunged;		/* gone; kept until a sync may say so */
};

enum store_res store_view_open(struct store *st, const char *user,
			       const char *folder, struct store_view **vp,
			       char *err, size_t errsz);
void store_view_info(const struct store_view *v, struct store_view_info *out);
/* Message i (< count) of the view. */
void store_view_msg(const struct store_view *v, size_t i,
		    struct store_vmsg *out);
/* Opens message i for reading (store_reader_read/close); -1 with errno. */
int store_view_reader_open(struct store_view *v, size_t i,
			   struct store_reader *r);
/* Removes the messages with dele[i] set, all or nothing; STORE_OK once
 * durable.  The view stays as it was opened. */
enum store_res store_view_expunge(struct store_view *v, const bool *dele,
				  char *err, size_t errsz);
/* Closes the view and lets go of the lock; NULL is fine. */
void store_view_close(struct store_view **vp);

/*
 * Shared views (IMAP): any number of them, in this process and on other
 * hosts, on one folder at once, with POP3 and delivery beside them.  Each
 * claim, flag change, append and expunge happens under the folder's index
 * lock and is written to the UID index before it is shown.  Maildir only
 * (mbox: STORE_PERM, "IMAP needs mailbox.format = maildir").  A user's
 * INBOX is created by the open if it does not exist yet; other folders
 * must exist (STORE_NOTFOUND).  Messages are in ascending UID order, each
 * with a UID (a second name of one message is left out).
 */
enum store_res store_view_open_shared(struct store *st, const char *user,
				      const char *folder,
				      struct store_view **vp, char *err,
				      size_t errsz);

/*
 * IMAP's SELECT: a shared view that, with claim_recent, takes \Recent's
 * claim at its open and at each sync (RFC 3501 2.3.2: a message is
 * recent in one session only, the first to see it); EXAMINE opens one
 * without.  store_view_recent() gives the UIDs [lo, hi) the last open or
 * sync claimed (lo == hi: none); for a view without the claim, the UIDs
 * it learnt of then that no session has claimed yet (EXAMINE shows them
 * as recent and leaves them recent, RFC 3501 6.3.2; STATUS counts them),
 * the claim left where it was.
 */
enum store_res store_view_open_imap(struct store *st, const char *user,
				    const char *folder, bool claim_recent,
				    struct store_view **vp, char *err,
				    size_t errsz);
void store_view_recent(const struct store_view *v, uint32_t *lo_r,
		       uint32_t *hi_r);

/* The folder directory of a view (what a session watches for changes,
 * net/watch.h); valid while the view is open. */
const char *store_view_dir(const struct store_view *v);

/* What a sync changed, for the session to report. */
struct store_view_changes {
	size_t *expunged;	/* positions to report as expunged, in this
				   order (descending runs), each right when
				   the ones before it were said */
	size_t nexpunged;
	size_t *changed;	/* positions after it whose flags, keywords
				   or modseq changed */
	size_t nchanged;
	size_t nnew;		/* messages added at the end */
};

/*
 * Brings a shared view up to date with the folder: new messages at the
 * end, flags, keywords and modseqs of others' changes, and the messages
 * expunged since (removed, or with STORE_SYNC_KEEP_EXPUNGED kept and
 * marked expunged, for the commands during which IMAP must not say
 * EXPUNGE).  Cheap when nothing changed: new/, cur/, the index and its
 * log are stat'ed; when only owld's appends and copies changed the folder
 * since, what the index log added is read, without listing cur/; else
 * the folder is scanned (and once more when cur/ has been quiet for 2 s
 * after a change whose clock tick another program's could share:
 * docs/MAILDIR.md).  ch may be NULL; else free it with
 * store_view_changes_free().
 */
#define STORE_SYNC_KEEP_EXPUNGED 1u
enum store_res store_view_sync(struct store_view *v, unsigned how,
			       struct store_view_changes *ch, char *err,
			       size_t errsz);
void store_view_changes_free(struct store_view_changes *ch);
/* The position of uid in the view: true if it is there. */
bool store_view_find_uid(const struct store_view *v, uint32_t uid,
			 size_t *pos_r);

/*
 * Flags and keywords of a shared view's messages (IMAP STORE): replaced,
 * added or removed; keywords are IMAP atoms (at most 100 octets, 32 per
 * message: STORE_LIMIT), matched without regard to case.  With
 * conditional (CONDSTORE UNCHANGEDSINCE), a message whose modseq is above
 * unchangedsince is left alone and modified[k] set (modified may be NULL
 * otherwise).  Each message changed gets a new modseq; the view shows the
 * new state of the messages at pos that were stored (an expunged or
 * modified one is skipped), and HIGHESTMODSEQ at least their modseqs.
 * Others' changes wait for the next sync.
 */
enum store_flags_op { STORE_FLAGS_REPLACE, STORE_FLAGS_ADD,
		      STORE_FLAGS_REMOVE };
struct store_flags_req {
	enum store_flags_op op;
	unsigned flags;		/* enum store_flag bits */
	const char *keywords;	/* "kw kw ...", or NULL */
	bool conditional;	/* CONDSTORE UNCHANGEDSINCE given: */
	uint64_t unchangedsince; /* a message above it is left alone (0:
				   every message is) */
};
enum store_res store_view_store(struct store_view *v, const size_t *pos,
				size_t n, const struct store_flags_req *req,
				bool *modified, char *err, size_t errsz);

/*
 * Removes the messages of a shared view with dele[i] set (by UID, so a
 * flag change by another session meanwhile does not matter), all or
 * nothing, under the index lock.  The view still shows them until the
 * next sync, which reports them.
 */
enum store_res store_view_expunge_shared(struct store_view *v,
					 const bool *dele, char *err,
					 size_t errsz);

/* The farthest zone of an internal date from UTC, in minutes ("+2359"). */
#define STORE_ZONE_MAX 1439

/*
 * Appends a message to a user's folder through the same all-or-nothing
 * path as delivery (written, fsync'ed, linked, directory fsync'ed), with
 * flags, keywords and an internal date (0: now) with its zone (kept in
 * the file name, docs/MAILDIR.md), and gives it its UID under the index
 * lock before returning (IMAP APPENDUID): UIDNEXT, through the index log,
 * so a message delivered or put in cur/ meanwhile by another program gets
 * a later UID at the next scan.
 */
struct store_append_req {
	const char *data;	/* the message, LF line ends, or NULL: */
	int fd;			/* in this file from offset off */
	off_t off;
	size_t len;
	unsigned flags;		/* enum store_flag bits */
	const char *keywords;	/* "kw kw ...", or NULL */
	time_t date;		/* internal date; 0: now */
	int zone;		/* its zone, minutes east of UTC (at most
				   STORE_ZONE_MAX either way; kept in the
				   name as ",Z=") */
	uint32_t uidvalidity;	/* out */
	uint32_t uid;		/* out */
};
enum store_res store_append(struct store *st, const char *user,
			    const char *folder, struct store_append_req *a,
			    char *err, size_t errsz);
/*
 * Appends the n messages of a[] to folder (IMAP MULTIAPPEND) all or
 * nothing: each is saved as store_append saves one, all are numbered in
 * one hold of the index lock, and if any fails the ones saved before it
 * are taken back; a[k].uid is the UID of a[k], ascending in k.
 */
enum store_res store_append_many(struct store *st, const char *user,
				 const char *folder,
				 struct store_append_req *a, size_t n,
				 char *err, size_t errsz);

/*
 * Copies the messages at pos of a shared view to folder (of the same
 * user; the same folder is fine), with their flags, keywords and internal
 * dates, all or nothing; uids_r[k] is the copy's UID of pos[k] (IMAP
 * COPYUID).  move: then expunges them from the view's folder as
 * store_view_expunge_shared does (if that fails, the copies stay and the
 * originals too: nothing is lost).
 */
enum store_res store_view_copy(struct store_view *v, const size_t *pos,
			       size_t n, const char *folder, bool move,
			       uint32_t *uids_r, uint32_t *uidvalidity_r,
			       char *err, size_t errsz);

/* mkdir -p of a user's directory chain below mail_dir. */
int store_mkdirs(const char *path, const char *below);

#include "folder.h"

#endif
