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
 * res == STORE_OK may the caller say 250.  See docs/MAILDIR.md.
 */
#ifndef OWL_STORE_H
#define OWL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../lib/conf.h"

enum store_res { STORE_OK, STORE_TEMP, STORE_NOSPACE, STORE_PERM };

struct store_delivery {
	/* in */
	const char *sender;	/* reverse-path text, "" for <> */
	const char *const *users; /* valid, distinct user@domain names */
	size_t nusers;
	const char *data;	/* the message with LF line ends */
	size_t len;
	time_t when;
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

/* True if name is "local@domain", lower case, safe as path components. */
bool store_user_valid(const char *name);
/* The mailbox path of a valid user; -1 if it does not fit. */
int store_mailbox_path(const struct store *st, const char *user, char *out,
		       size_t size);
/* The size a message of data/len has with CRLF line ends. */
size_t store_crlf_size(const char *data, size_t len);

/* Backend entry points (maildir.c, mbox.c). */
struct store {
	enum mailbox_format fmt;
	char *mail_dir;
	char *host;		/* hostname made safe for Maildir names */
};
void maildir_deliver(struct store *st, struct store_delivery **batch,
		     size_t n);
void mbox_deliver(struct store *st, struct store_delivery *d);
/* Fills d->name with a unique name; used by both backends. */
void store_unique_name(struct store *st, struct store_delivery *d);
/* Sets res and error from errno after a failed call on path. */
void store_fail(struct store_delivery *d, int err, const char *call,
		const char *path);
/* mkdir -p of a user's directory chain below mail_dir. */
int store_mkdirs(const char *path, const char *below);

#endif
