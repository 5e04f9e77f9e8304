/*
 * store - the public calls of store.h, each dispatched through the table
 * of the mailbox format's backend (store_private.h): Maildir (maildir.c,
 * maildir_expunge.c) or mbox (mbox.c).  Nothing here knows a format.
 * Fails as the backends do: a store_res and a message in err.
 *
 * Opening a mailbox for POP3 takes its session lock (lock.c) for the life
 * of the box; every scan and expunge takes the index lock for its own
 * length.  See docs/MAILDIR.md.
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "fsops.h"

static const struct store_ops *
backend(enum mailbox_format fmt)
{
	return fmt == MBOX_FMT_MBOX ? &store_mbox_ops : &store_maildir_ops;
}

struct store *
store_new(enum mailbox_format fmt, const char *mail_dir, const char *hostname,
	  const char **error_r)
{
	struct store *st;
	char *h;

	if (fsops_mkdir(mail_dir, 0700) == -1) {
		*error_r = strerror(errno);
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cond, NULL);
	st->ops = backend(fmt);
	st->mail_dir = xstrdup(mail_dir);
	st->host = xstrdup(hostname);
	/* Maildir names use '/' and ':' specially */
	for (h = st->host; *h != '\0'; h++)
		if (*h == '/' || *h == ':' || *h == ',')
			*h = '_';
	return st;
}

void
store_free(struct store **stp)
{
	if (*stp == NULL)
		return;
	store_locks_free(*stp);
	pthread_cond_destroy(&(*stp)->cond);
	pthread_mutex_destroy(&(*stp)->mu);
	free((*stp)->mail_dir);
	free((*stp)->host);
	free(*stp);
	*stp = NULL;
}

void
store_deliver(struct store *st, struct store_delivery **batch, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		batch[i]->res = STORE_OK;
		batch[i]->error[0] = '\0';
		if (batch[i]->crlf_len == 0 && batch[i]->data != NULL)
			batch[i]->crlf_len = store_crlf_size(batch[i]->data,
							     batch[i]->len);
		store_unique_name(st, batch[i]);
	}
	st->ops->deliver(st, batch, n);
}

/* Scans b's folder under its index lock (taken here unless held). */
static enum store_res
box_scan(struct store_box *b, enum box_mode mode,
	 const struct store_box_edit *edit, char *err, size_t errsz)
{
	enum store_res r;
	bool nodir;

	if (mode == BOX_LOCKED)
		return b->st->ops->box_open(b, false, edit, err, errsz);
	r = store_lock_index(b->st, b->path, &nodir, err, errsz);
	if (r != STORE_OK)
		return r;
	r = b->st->ops->box_open(b, nodir, edit, err, errsz);
	store_unlock_index(b->st, b->path);
	return r;
}

/*
 * A session's box: the session lock, then the scan.  A folder that does
 * not exist has no lock file, so only this process's half of the lock
 * would be held, and mail delivered between the lock and the scan would
 * be seen beside a session on another host that found the lock file
 * (check-cluster retrieved a new maildrop's first message twice).  So
 * the folder is made first, empty, as Dovecot makes INBOX at login.
 */
static enum store_res
box_lock_session(struct store_box *b, char *err, size_t errsz)
{
	enum store_res r;
	bool nodir;

	r = store_lock_session(b->st, b->path, &nodir, err, errsz);
	if (r == STORE_OK && nodir && b->st->ops->ensure != NULL) {
		store_unlock_session(b->st, b->path);
		if (b->st->ops->ensure(b->st, b->path) == -1)
			return store_sys_fail(err, errsz, "mkdir", b->path);
		r = store_lock_session(b->st, b->path, &nodir, err, errsz);
	}
	b->session = r == STORE_OK;
	if (r == STORE_OK)
		r = box_scan(b, BOX_SESSION, NULL, err, errsz);
	return r;
}

enum store_res
store_box_open_path(struct store *st, const char *path, enum box_mode mode,
		    const struct store_box_edit *edit, struct store_box **bp,
		    char *err, size_t errsz)
{
	struct store_box *b = xcalloc(1, sizeof(*b));
	enum store_res r = STORE_OK;

	*bp = NULL;
	b->st = st;
	b->fd = -1;
	if (strlen(path) >= STORE_PATH_MAX) {
		snprintf(err, errsz, "mailbox path too long");
		free(b);
		return STORE_PERM;
	}
	b->path = xstrdup(path);
	if (mode == BOX_SESSION)
		r = box_lock_session(b, err, errsz);
	else
		r = box_scan(b, mode, edit, err, errsz);
	if (r != STORE_OK) {
		store_box_free(&b);
		return r;
	}
	store_box_unique_uidls(b);
	*bp = b;
	return STORE_OK;
}

enum store_res
store_box_open(struct store *st, const char *user, struct store_box **bp,
	       char *err, size_t errsz)
{
	char path[4096];

	*bp = NULL;
	if (!store_user_valid(user) ||
	    store_mailbox_path(st, user, path, sizeof(path)) == -1) {
		snprintf(err, errsz, "invalid mailbox name");
		return STORE_PERM;
	}
	return store_box_open_path(st, path, BOX_SESSION, NULL, bp, err, errsz);
}

void
store_box_free(struct store_box **bp)
{
	struct store_box *b = *bp;

	if (b == NULL)
		return;
	store_box_free_msgs(b);
	free(b->mark);
	if (b->st->ops->box_close != NULL)
		b->st->ops->box_close(b);
	else if (b->fd != -1)
		close(b->fd);
	if (b->session)
		store_unlock_session(b->st, b->path);
	free(b->path);
	free(b);
	*bp = NULL;
}

int
store_reader_open(struct store_box *b, size_t i, struct store_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->bol = true;
	r->ops = b->st->ops;
	if (i >= b->n) {
		errno = ENOENT;
		return -1;
	}
	return r->ops->reader_open(b, i, r);
}

ssize_t
store_reader_read(struct store_reader *r, char *buf, size_t size)
{
	return r->ops->reader_read(r, buf, size);
}

void
store_reader_close(struct store_reader *r)
{
	if (r->ops != NULL)
		r->ops->reader_close(r);
	else if (r->fd != -1)
		close(r->fd); /* never opened through a backend */
	r->fd = -1;
}

enum store_res
store_box_expunge(struct store_box *b, const bool *dele, char *err,
		  size_t errsz)
{
	size_t i;

	enum store_res r;
	bool nodir;

	for (i = 0; i < b->n && !dele[i]; i++)
		;
	if (i == b->n)
		return STORE_OK; /* nothing marked */
	r = store_lock_index(b->st, b->path, &nodir, err, errsz);
	if (r != STORE_OK)
		return r;
	r = b->st->ops->box_expunge(b, dele, err, errsz);
	store_unlock_index(b->st, b->path);
	return r;
}
