/*
 * queue - the outbound queue on disk: the only code that writes it.
 *
 * Under QDIR (DATA_DIR/queue) each message is two files named by its id:
 * msg/ID, the text with LF line ends, written once; and env/ID, its
 * envelope (sender, recipients with their state and last reply, attempts,
 * next attempt, hold), a small text file replaced atomically whenever it
 * changes.  Both are written in tmp/ and fsync'ed before they are renamed
 * into place, the message first (in a group, every text before any
 * envelope); the envelope's rename, and the fsync of env/ after it, is
 * the commit point.  queue_recover() at start removes what an
 * interrupted write left (tmp/ files, a msg/ without env/).  See
 * docs/QUEUE.md for the state table.  Every call does file I/O: run them
 * on a worker thread (owlctl may call them directly).
 */
#ifndef OWL_QUEUE_H
#define OWL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../lib/addr.h"
#include "../lib/buf.h"

#define QUEUE_ID_MAX 32
#define QUEUE_TEXT_MAX 512	/* a reply or error kept in the envelope */
#define QUEUE_ENV_MAX (1 << 20)	/* an envelope file is never bigger */

enum qrcpt_state { QR_PENDING = 'P', QR_DONE = 'D', QR_FAILED = 'F' };

struct qrcpt {
	char addr[ADDR_PATH_MAX + 1];	/* without <> */
	char state;			/* enum qrcpt_state */
	char reply[QUEUE_TEXT_MAX];	/* last reply or error, "" if none */
};

struct qenv {
	char id[QUEUE_ID_MAX];
	time_t created, next;
	unsigned attempts;
	bool held;
	char sender[ADDR_PATH_MAX + 1];	/* "" for the null sender */
	size_t size;			/* octets with CRLF line ends */
	bool eightbit;
	char error[QUEUE_TEXT_MAX];	/* the last attempt's error */
	struct qrcpt *rcpts;
	size_t nrcpts;
};

/* Makes QDIR and its tmp/, msg/ and env/. */
int queue_init(const char *qdir, char *err, size_t errsz);
/*
 * A new queue entry, durable on return 0 (say 250 only then).  The text is
 * data, or when data is NULL the file fd from offset 0 (a spool); len
 * octets either way.
 */
int queue_add(const char *qdir, const struct qenv *e, const char *data,
	      int fd, size_t len, char *err, size_t errsz);
/* One new entry of a queue_add_many() batch. */
struct queue_new {
	const struct qenv *env;
	const char *data;	/* the text, or NULL: the file fd from 0 */
	int fd;
	size_t len;
	char *err;		/* the caller's buffer for a failure */
	size_t errsz;
	int result;		/* set: 0 durable, or the errno it failed with */
};
/*
 * queue_add for n entries, with one fsync of msg/ and one of env/ for
 * them all (a group commit): each entry's result says whether it is
 * durable; a failed one leaves nothing behind and the others stand.
 */
void queue_add_many(const char *qdir, struct queue_new *q, size_t n);
/*
 * A spool for a message too big to keep in memory while it arrives: an
 * anonymous file in QDIR/tmp (O_TMPFILE, or a name unlinked at once), open
 * for reading and writing, gone once closed, also after a crash.  -1 with
 * errno if it cannot be made.
 */
int queue_spool_open(const char *qdir);
/* Replaces the envelope durably. */
int queue_save(const char *qdir, const struct qenv *e, char *err,
	       size_t errsz);
/* Removes an entry (envelope first, then the text); durable on return. */
int queue_remove(const char *qdir, const char *id, char *err, size_t errsz);
/* One entry of a queue_remove_many() batch. */
struct queue_gone {
	const char *id;
	char *err;		/* the caller's buffer for a failure */
	size_t errsz;
	int result;		/* set: 0 gone for good, or an errno */
};
/* queue_remove for n entries with one fsync of env/ for them all. */
void queue_remove_many(const char *qdir, struct queue_gone *q, size_t n);
/* Reads one envelope (at most QUEUE_ENV_MAX octets). */
int queue_load(const char *qdir, const char *id, struct qenv *e, char *err,
	       size_t errsz);
/*
 * Cleans what a crash left and loads every envelope into *out (n of
 * them); removed files are reported through note (may be NULL).
 */
int queue_recover(const char *qdir, struct qenv **out, size_t *n,
		  void (*note)(const char *what, const char *name),
		  char *err, size_t errsz);
/* The path of an entry's text. */
int queue_msg_path(const char *qdir, const char *id, char *out, size_t size);

void qenv_free(struct qenv *e);
void qenv_copy(struct qenv *dst, const struct qenv *src);
/* The envelope's file form; parse returns -1 if it is not one. */
void qenv_format(const struct qenv *e, struct buf *b);
int qenv_parse(const char *text, struct qenv *e);
/* Pending recipients left. */
size_t qenv_pending(const struct qenv *e);
/* True if id is a queue id (safe as a file name). */
bool queue_id_valid(const char *id);

#endif
