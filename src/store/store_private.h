/*
 * store_private - what the files of store/ share and nobody else sees: the
 * backend table and the helpers the backends use.
 *
 * store.c dispatches every public call through st->ops, a table each
 * backend (maildir.c with maildir_expunge.c, mbox.c) defines whole:
 * delivery, opening a mailbox, reading a message, expunge.  The backends
 * include this header, never each other or store.c's internals, and the
 * helpers they share live in common.c, which calls no backend; so the
 * files of store/ include and call each other without a circle:
 * store.c -> backends -> common.c, fsops.c.
 */
#ifndef OWL_STORE_PRIVATE_H
#define OWL_STORE_PRIVATE_H

#include <pthread.h>

#include "store.h"

struct uidlist;
struct uidlist_file;

/*
 * A change made under the index lock, after the scan and before the index
 * is written (storing flags, giving appended or copied mail its keywords):
 * fn sees the box (b->msgs[i] with its UID) and the index ul, may rename
 * message files and change records (through uidlist.h), and sets *changed
 * if ul must be written.  Not STORE_OK: nothing is written.
 */
struct store_box_edit {
	enum store_res (*fn)(struct store_box *b, struct uidlist *ul,
			     void *arg, bool *changed, char *err,
			     size_t errsz);
	void *arg;
};

#define STORE_NAME_MAX 256	/* octets of a message file name, with NUL */

struct store_ops {
	const char *name;	/* "maildir", "mbox" */
	const char *suffix;	/* appended to a user's mailbox path */
	/* Delivers a batch whose names and CRLF sizes are set. */
	void (*deliver)(struct store *st, struct store_delivery **batch,
			size_t n);
	/* Locks live in DIR/.owlpost-lock (Maildir); false: in-process only */
	bool lock_file;
	/* Makes the folder at dir, empty, if missing (so that its lock file
	 * can be); NULL: the backend has no such folder (mbox).  -1: errno */
	int (*ensure)(struct store *st, const char *dir);
	/*
	 * Fills b (path set) with the folder's messages, under the index lock
	 * (store.c took it; nodir: the folder does not exist yet): Maildir
	 * lists new/ and cur/ and syncs the UID index, then runs edit
	 * (NULL: none) on it before the index is written.  Not STORE_OK: err.
	 */
	enum store_res (*box_open)(struct store_box *b, bool nodir,
				   const struct store_box_edit *edit,
				   char *err, size_t errsz);
	/* Lets go of what box_open kept open (b->fd); NULL: close(b->fd). */
	void (*box_close)(struct store_box *b);
	/* Opens message i (< b->n) for reading; -1 with errno. */
	int (*reader_open)(struct store_box *b, size_t i,
			   struct store_reader *r);
	/* Reads up to size octets of stored text; 0 at the end, -1. */
	ssize_t (*reader_read)(struct store_reader *r, char *buf,
			       size_t size);
	void (*reader_close)(struct store_reader *r);
	/*
	 * maildir_save.c (NULL for mbox, which keeps no flags or folders):
	 * renames message i of b (scanned under the index lock) to carry
	 * flags; writes a message into the folder at dir, durably, as
	 * name_r in cur/; copies the messages at pos of b into the folder at
	 * dir, all or nothing and durably, names_r[k] the name of pos[k].
	 */
	enum store_res (*set_flags)(struct store_box *b, size_t i,
				    unsigned flags, char *err, size_t errsz);
	enum store_res (*append)(struct store *st, const char *dir,
				 const struct store_append_req *a, char *name_r,
				 size_t namesz, char *err, size_t errsz);
	enum store_res (*copy)(struct store_box *b, const size_t *pos,
			       size_t n, const char *dir,
			       char (*names_r)[STORE_NAME_MAX], char *err,
			       size_t errsz);
	/* Removes the messages with dele[i] set (at least one), under the
	 * index lock. */
	enum store_res (*box_expunge)(struct store_box *b, const bool *dele,
				      char *err, size_t errsz);
};

extern const struct store_ops store_maildir_ops;
extern const struct store_ops store_mbox_ops;

struct store {
	const struct store_ops *ops;
	char *mail_dir;
	char *host;		/* hostname made safe for Maildir names */
	/* lock.c: the in-process halves of the mailbox locks */
	pthread_mutex_t mu;
	pthread_cond_t cond;		/* an index lock was let go */
	struct store_lock_ent *locks;
	size_t nlocks, locks_cap;
};

/*
 * lock.c: the session lock (POP3; never waits: STORE_INUSE) and the index
 * lock (every claim, index update and expunge; waits up to
 * STORE_INDEX_WAIT_MS, then STORE_TEMP) of the folder at path (a Maildir
 * directory or an mbox file).  *nodir_r: the folder does not exist yet, so
 * only the in-process half is held.  See lock.c and docs/MAILDIR.md.
 */
#define STORE_INDEX_WAIT_MS 30000
enum store_res store_lock_session(struct store *st, const char *path,
				  bool *nodir_r, char *err, size_t errsz);
void store_unlock_session(struct store *st, const char *path);
enum store_res store_lock_index(struct store *st, const char *path,
				bool *nodir_r, char *err, size_t errsz);
void store_unlock_index(struct store *st, const char *path);
void store_locks_free(struct store *st);

/*
 * store.c: opens the folder at path (a Maildir directory or mbox file) as
 * a box, scanned under the index lock with edit (NULL: none).
 * BOX_SESSION: also holds the session lock until store_box_free (POP3);
 * BOX_LOCKED: the caller holds the index lock (an append or copy links
 * its files and numbers them in one hold, so nobody numbers them first).
 */
enum box_mode { BOX_SHARED, BOX_SESSION, BOX_LOCKED };
enum store_res store_box_open_path(struct store *st, const char *path,
				   enum box_mode mode,
				   const struct store_box_edit *edit,
				   struct store_box **bp, char *err,
				   size_t errsz);
/* Frees b's messages and leaves it empty. */
void store_box_free_msgs(struct store_box *b);

/*
 * maildir_expunge.c: the update at QUIT, through a durable intent record
 * (all or nothing), and at open the roll-forward of a record a crash left
 * (rolled_r: there was one).  See docs/MAILDIR.md.
 */
enum store_res maildir_box_expunge(struct store_box *b, const bool *dele,
				   char *err, size_t errsz);
enum store_res maildir_expunge_recover(const char *dir, bool *rolled_r,
				       char *err, size_t errsz);

/* maildir.c: listings of a cur/ made by this process (for tests). */
extern _Atomic unsigned long maildir_listings;
/* maildir.c: makes sure dir/{tmp,new,cur} exist, durably if created. */
int maildir_ensure(struct store *st, const char *dir);
/* maildir_save.c: the set_flags, append and copy of the table; and the
 * current path in cur/ of a message whose name was file, found by its base
 * (another program changed its flags): -1 if it is gone. */
int maildir_find(const struct store_box *b, const char *file, char *out,
		 size_t size);
enum store_res maildir_set_flags(struct store_box *b, size_t i,
				 unsigned flags, char *err, size_t errsz);
enum store_res maildir_append(struct store *st, const char *dir,
			      const struct store_append_req *a, char *name_r,
			      size_t namesz, char *err, size_t errsz);
enum store_res maildir_copy(struct store_box *b, const size_t *pos,
			    size_t n, const char *dir,
			    char (*names_r)[STORE_NAME_MAX], char *err,
			    size_t errsz);

/*
 * maildir_index.c: reads DIR's UID index, syncs it with the files of cur/
 * (in delivery order; each files[i].uid, .modseq, .flags is set) and
 * writes it back durably
 * if it changed; a missing or corrupt index is rebuilt with a new
 * UIDVALIDITY.  Under the maildrop lock.  See docs/MAILDIR.md.
 */
#include "uidlist.h"

/* The index file as a reader last saw it under the lock. */
struct index_file {
	struct uidlist_stamp st;	/* its mtime and inode; sec 0: none */
	int64_t size;
	uint32_t uidvalidity, uidnext, recent;
	uint64_t highestmodseq;
	struct uidlist_stamp cur;	/* its C, or sec 0 */
	struct uidlist_stamp newdir;	/* its W, or sec 0 */
};
/*
 * What a Maildir scan saw of its folder (b->mark), for a shared view's
 * sync without a scan (view.c): cur/ when it was listed, the index file
 * after the scan, and the log (none after a scan: it folds it).
 */
struct store_mark {
	struct uidlist_stamp cur;	/* cur/ before the listing */
	bool cur_settled;		/* its mtime, and new/'s, was settled
					   then */
	struct uidlist_stamp newdir;	/* new/ before its listing, when
					   settled; else sec 0 */
	bool new_held;			/* a message was in new/ */
	struct index_file idx;
	uint64_t log_nonce;		/* the log applied so far, 0: none */
	int64_t log_off;		/* octets of it applied */
	uint32_t recent;		/* R, the log's included */
};

struct index_state {
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	uint32_t recent;
	struct index_file file;		/* the index file after the sync */
};
/*
 * The edit of maildir_index_sync: runs after the sync, before the write;
 * files[i].uid is set.  Not STORE_OK: the index is not written.
 */
struct index_edit {
	enum store_res (*fn)(struct uidlist *ul, struct uidlist_file *files,
			     size_t n, void *arg, bool *changed, char *err,
			     size_t errsz);
	void *arg;
};
enum store_res maildir_index_sync(const char *dir, struct uidlist_file *files,
				  size_t n, const struct index_edit *edit,
				  const struct uidlist_stamp seen[2],
				  struct index_state *state_r,
				  char *err, size_t errsz);
/*
 * A directory's stamp (mtime, inode masked to 63 bits); -1 (all zero)
 * if it cannot be stat'ed.  Settled at a time T: its mtime so far before
 * T that a change after T cannot carry the same mtime, so a listing that
 * started at T saw everything up to that mtime.  How far depends on the
 * clocks that stamp the directory: on a local filesystem (ext4, xfs,
 * btrfs, tmpfs) the kernel's one clock, whose coarse tick is at most
 * 10 ms, so MAILDIR_SETTLED_LOCAL_NS; on anything else (NFS, GlusterFS's
 * FUSE, unknown) the clocks of several hosts, so MAILDIR_SETTLED_SECS,
 * as Dovecot's MAILDIR_SYNC_SECS.
 */
#define MAILDIR_SETTLED_SECS 2
#define MAILDIR_SETTLED_LOCAL_NS 50000000L	/* 50 ms */
int maildir_stamp(const char *path, struct uidlist_stamp *s);
/* True if path is on a filesystem of one clock (above). */
bool maildir_fs_local(const char *path);
/* True if mtime sec.nsec is settled at *at (above). */
bool maildir_settled_at(int64_t sec, long nsec, const struct timespec *at,
			bool local);
/* The same at the time of the call. */
bool maildir_stamp_settled(const struct uidlist_stamp *s, bool local);
bool maildir_stamp_same(const struct uidlist_stamp *a,
			const struct uidlist_stamp *b);
/*
 * The numbering of an append or copy without a scan: the files names[k]
 * (in cur/, saved under the index lock held now; cur/ was before, and is
 * after, the save) get UIDs from UIDNEXT in order of k, through one
 * transaction on the index log (one write, one fsync).  *fallback_r: the
 * log cannot do it (no index yet, an index or log that does not parse,
 * the log past its bound, a name the index cannot key): number by a scan.
 */
enum store_res maildir_index_append(const char *dir,
				    char (*names)[STORE_NAME_MAX],
				    char *const *keywords, size_t n,
				    const struct uidlist_stamp *before,
				    const struct uidlist_stamp *after,
				    uint32_t *uids_r, uint32_t *uidvalidity_r,
				    bool *fallback_r, char *err,
				    size_t errsz);
/*
 * The base names (file names up to ':') dir's index and its log number,
 * sorted, in *bases_r (n_r of them; each and the array the caller's to
 * free), for maildir_index_has_base().  None for a missing or corrupt
 * index.  -1 (errno) if it cannot be read.
 */
int maildir_index_bases(const char *dir, char ***bases_r, size_t *n_r);
bool maildir_index_has_base(char **bases, size_t n, const char *base);
/*
 * maildir_saving.c: the intent record of a save of several messages
 * (MULTIAPPEND, COPY of several): see there and docs/MAILDIR.md.
 */
enum store_res maildir_saving_begin(struct store *st, const char *dir,
				    char *err, size_t errsz);
void maildir_saving_end(const char *dir);
enum store_res maildir_saving_recover(struct store *st, const char *dir,
				      char *err, size_t errsz);
/*
 * What changed in dir's index since m (under the index lock): *same_r
 * false if the index file is not the one m saw, or the log is not (its
 * nonce) or was cut; else the log's committed transactions from
 * m->log_off on in *lg (their strings in *buf_r, the caller's to free
 * with uidlist_buf_free) and *end_r the log's committed length.
 */
enum store_res maildir_index_tail(const char *dir, const struct store_mark *m,
				  bool *same_r, struct uidlog *lg,
				  char **buf_r, int64_t *end_r,
				  uint64_t *nonce_r, char *err, size_t errsz);
/*
 * The index with its log applied, for a view built without a scan, into
 * ul (and m: the index file, the log, the C stamp), under the index lock:
 * *ok_r false if there is none usable so (missing, corrupt, or the log
 * has changes of cur/ since C was listed).
 */
enum store_res maildir_index_load(const char *dir, struct uidlist *ul,
				  struct store_mark *m, bool *ok_r, char *err,
				  size_t errsz);
/*
 * Moves R to uidnext through the log (one transaction that does not
 * touch cur/) whose committed length is *end (updated); the log must
 * exist with m's nonce.
 */
enum store_res maildir_index_claim(const char *dir, uint32_t uidnext,
				   uint64_t highestmodseq, uint32_t recent,
				   int64_t *end, char *err, size_t errsz);
/* A UIDVALIDITY above old, above any this process made, from the clock. */
uint32_t maildir_new_uidvalidity(uint32_t old);

/* common.c */
/* Reads a plain stored file: up to size octets of [pos, end). */
ssize_t store_read_plain(struct store_reader *r, char *buf, size_t size);
/*
 * "CALL PATH: errno text" into err; STORE_NOSPACE for ENOSPC and EDQUOT,
 * else STORE_TEMP.  Reads errno first: call it right after the failure.
 */
enum store_res store_sys_fail(char *err, size_t errsz, const char *call,
			      const char *path);
/*
 * msgs.c: the message table of a box.  box_str appends a string to the
 * arena (its offset); box_add a zeroed message (its index); box_aux the
 * aux record of message i, made if missing (pointers into b->aux and the
 * arena are valid until the next add).  box_set_name keeps a Maildir name
 * (the UIDL from it, or a hash in aux when the name has none);
 * box_adopt copies message i of from into to (its index there).
 */
uint32_t box_str(struct store_box *b, const char *s, size_t n);
size_t box_add(struct store_box *b);
struct store_aux *box_aux(struct store_box *b, size_t i);
void box_set_name(struct store_box *b, size_t i, const char *name);
void box_set_uidl(struct store_box *b, size_t i, const char *uidl);
void box_set_keywords(struct store_box *b, size_t i, const char *kw);
void box_set_modseq(struct store_box *b, size_t i, uint64_t modseq);
size_t box_adopt(struct store_box *to, const struct store_box *from,
		 size_t i);
/* Makes every uidl in the box unique (suffixes on repeats). */
void store_box_unique_uidls(struct store_box *b);
/* What a Maildir name says: ",W=" (-1: none) and ",S=" in *octets_r (-1:
 * none); the arrival time TIME[.M<usec>...] (0 if it has none). */
long long maildir_name_sizes(const char *name, long long *octets_r);
void maildir_name_time(const char *name, unsigned long long *sec,
		       unsigned long long *usec);
/*
 * The internal date's zone a name says, ",Z=+hhmm" or ",Z=-hhmm" in its
 * base (hh 00-23, mm 00-59), as minutes east of UTC; 0 (+0000) if it has
 * none or none well-formed: delivered mail, and every name from before
 * zones.  maildir_zone_field writes that field for zone into out (room
 * for STORE_ZONE_FIELD), or "" for 0 and a zone out of range, so that a
 * +0000 name is as it always was.
 */
int maildir_name_zone(const char *name);
#define STORE_ZONE_FIELD 9	/* ",Z=+hhmm" and its NUL */
void maildir_zone_field(int zone, char *out, size_t size);
/*
 * What the mbox open does with the file's text once it has it: parses len
 * octets of data, fed in pieces of chunk octets (the file is read in 64
 * KiB ones; the pieces do not change the result), into b->msgs, b->n and
 * b->size.  (mbox.c; for tests and the fuzz harness.)
 */
void mbox_parse(struct store_box *b, const char *data, size_t len,
		size_t chunk);
/* A 64-bit FNV-1a hash, for ids of messages without a usable name. */
unsigned long long store_hash(unsigned long long h, const void *data,
			      size_t len);
#define STORE_HASH_INIT 0xcbf29ce484222325ULL
/* Fills d->name with a unique name; used by both backends. */
void store_unique_name(struct store *st, struct store_delivery *d);
/* The sequence number (Q) the next store_unique_name() of this process
 * gives at least. */
unsigned long store_unique_next(void);
/* Sets res and error from errno after a failed call on path. */
void store_fail(struct store_delivery *d, int err, const char *call,
		const char *path);

#endif
