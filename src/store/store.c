/*
 * store - the public calls of store.h, each dispatched through the table
 * of the mailbox format's backend (store_private.h): Maildir (maildir.c,
 * maildir_expunge.c) or mbox (mbox.c).  Nothing here knows a format.
 * Fails as the backends do: a store_res and a message in err.
 *
 * Opening a mailbox takes its maildrop lock in two halves, in this order:
 * the in-process table here (store->held), then the backend's lock (Maildir:
 * an fcntl lock on a file inside it, exclusive across hosts); freeing the
 * box lets go of them in the reverse order.  See docs/MAILDIR.md.
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
	for (size_t i = 0; i < (*stp)->nheld; i++)
		free((*stp)->held[i]);
	free((*stp)->held);
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

/* The in-process lock on path: false if a box of ours holds it. */
static bool
hold(struct store *st, const char *path)
{
	bool ok = true;

	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < st->nheld && ok; i++)
		ok = strcmp(st->held[i], path) != 0;
	if (ok) {
		if (st->nheld == st->held_cap) {
			st->held_cap = st->held_cap ? st->held_cap * 2 : 16;
			st->held = xrealloc(st->held,
					    st->held_cap * sizeof(*st->held));
		}
		st->held[st->nheld++] = xstrdup(path);
	}
	pthread_mutex_unlock(&st->mu);
	return ok;
}

static void
release(struct store *st, const char *path)
{
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < st->nheld; i++) {
		if (strcmp(st->held[i], path) != 0)
			continue;
		free(st->held[i]);
		st->held[i] = st->held[--st->nheld];
		break;
	}
	pthread_mutex_unlock(&st->mu);
}

enum store_res
store_box_open(struct store *st, const char *user, struct store_box **bp,
	       char *err, size_t errsz)
{
	struct store_box *b = xcalloc(1, sizeof(*b));
	enum store_res r;

	*bp = NULL;
	b->st = st;
	b->fd = -1;
	b->lock_fd = -1;
	if (!store_user_valid(user) ||
	    store_mailbox_path(st, user, b->path, sizeof(b->path)) == -1) {
		snprintf(err, errsz, "invalid mailbox name");
		free(b);
		return STORE_PERM;
	}
	if (!hold(st, b->path)) {
		snprintf(err, errsz, "%s: in use by another session", b->path);
		free(b);
		return STORE_INUSE;
	}
	b->held = true;
	r = st->ops->box_lock != NULL ? st->ops->box_lock(b, err, errsz)
				      : STORE_OK;
	if (r == STORE_OK)
		r = st->ops->box_open(b, err, errsz);
	if (r != STORE_OK) {
		store_box_free(&b);
		return r;
	}
	store_box_unique_uidls(b);
	*bp = b;
	return STORE_OK;
}

void
store_box_free(struct store_box **bp)
{
	struct store_box *b = *bp;

	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->msgs[i].file);
	free(b->msgs);
	if (b->fd != -1)
		close(b->fd);
	/* the file lock first: the in-process one keeps others off it */
	if (b->lock_fd != -1)
		b->st->ops->box_unlock(b);
	if (b->held)
		release(b->st, b->path);
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

	for (i = 0; i < b->n && !dele[i]; i++)
		;
	if (i == b->n)
		return STORE_OK; /* nothing marked */
	return b->st->ops->box_expunge(b, dele, err, errsz);
}
