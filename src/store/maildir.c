/*
 * maildir - Maildir delivery (see docs/MAILDIR.md for the state table).
 *
 * Per message: write MAILDIR/tmp/NAME of the first recipient, fsync, close;
 * link it as new/NAME,S=<size>,W=<crlf size> into each recipient's Maildir
 * (one file, N links); then, once per batch, fsync every new/ directory
 * the batch touched; then unlink the tmp/ name.  Links are used rather than
 * rename so that one write serves every recipient (Dovecot's maildir-save.c
 * argues the same); a crash before the directory fsync may lose the link,
 * and then no 250 was said.  A crash after it leaves only a stray tmp/ file,
 * which readers ignore and clean up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "fsops.h"
#include "store.h"

#define PATH_MAX_OWL 4096

/* Makes sure dir/{tmp,new,cur} exist, durably if they were created. */
static int
ensure_maildir(struct store *st, const char *dir)
{
	static const char *subs[] = {"tmp", "new", "cur"};
	char path[PATH_MAX_OWL], parent[PATH_MAX_OWL];
	struct stat sb;
	char *slash;

	bsnprintf(path, sizeof(path), "%s/new", dir);
	if (stat(path, &sb) == 0)
		return 0;
	if (store_mkdirs(dir, st->mail_dir) == -1)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		bsnprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if (fsops_mkdir(path, 0700) == -1)
			return -1;
	}
	/* make the new directory entries themselves durable */
	if (fsops_fsync_dir(dir) == -1)
		return -1;
	bsnprintf(parent, sizeof(parent), "%s", dir);
	while ((slash = strrchr(parent, '/')) != NULL &&
	       strlen(parent) > strlen(st->mail_dir)) {
		*slash = '\0';
		if (fsops_fsync_dir(parent) == -1)
			return -1;
	}
	return 0;
}

struct pending {
	struct store_delivery *d;
	char tmp[PATH_MAX_OWL];
	char final[64];		/* name with ,S=,W= */
	size_t linked;		/* how many users got a link */
};

/* Writes the tmp file and links it; on failure undoes its links. */
static void
write_one(struct store *st, struct pending *p)
{
	struct store_delivery *d = p->d;
	char dir[PATH_MAX_OWL], path[PATH_MAX_OWL];
	int fd;
	size_t i;

	for (i = 0; i < d->nusers; i++) {
		if (store_mailbox_path(st, d->users[i], dir, sizeof(dir)) ==
		    -1) {
			store_fail(d, EINVAL, "mailbox", d->users[i]);
			d->res = STORE_PERM;
			return;
		}
		if (ensure_maildir(st, dir) == -1) {
			store_fail(d, errno, "mkdir", dir);
			return;
		}
	}
	store_mailbox_path(st, d->users[0], dir, sizeof(dir));
	bsnprintf(p->tmp, sizeof(p->tmp), "%s/tmp/%s", dir, d->name);
	fd = fsops_open(p->tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1) {
		store_fail(d, errno, "open", p->tmp);
		p->tmp[0] = '\0';
		return;
	}
	if (fsops_write_text(fd, d->data, d->fd, d->len) == -1) {
		store_fail(d, errno, "write", p->tmp);
		close(fd);
		return;
	}
	if (fsops_fsync(fd) == -1) {
		store_fail(d, errno, "fsync", p->tmp);
		close(fd);
		return;
	}
	if (fsops_close(fd) == -1) {
		store_fail(d, errno, "close", p->tmp);
		return;
	}
	bsnprintf(p->final, sizeof(p->final), ",S=%zu,W=%zu", d->len,
		 d->crlf_len);
	for (i = 0; i < d->nusers; i++) {
		store_mailbox_path(st, d->users[i], dir, sizeof(dir));
		bsnprintf(path, sizeof(path), "%s/new/%s%s", dir, d->name,
			 p->final);
		if (fsops_link(p->tmp, path) == -1) {
			store_fail(d, errno, "link", path);
			return;
		}
		p->linked++;
	}
}

/* Removes the links a failed delivery made visible. */
static void
undo_links(struct store *st, struct pending *p)
{
	char dir[PATH_MAX_OWL], path[PATH_MAX_OWL];
	size_t i;

	for (i = 0; i < p->linked; i++) {
		store_mailbox_path(st, p->d->users[i], dir, sizeof(dir));
		bsnprintf(path, sizeof(path), "%s/new/%s%s", dir, p->d->name,
			 p->final);
		unlink(path);
		bsnprintf(path, sizeof(path), "%s/new", dir);
		fsops_fsync_dir(path); /* best effort; see docs/MAILDIR.md */
	}
	p->linked = 0;
}

/* Does any delivery in the batch have a link in dir's new/? */
static bool
seen_dir(char (*dirs)[PATH_MAX_OWL], size_t ndirs, const char *dir)
{
	for (size_t i = 0; i < ndirs; i++)
		if (strcmp(dirs[i], dir) == 0)
			return true;
	return false;
}

void
maildir_deliver(struct store *st, struct store_delivery **batch, size_t n)
{
	struct pending *ps = xcalloc(n, sizeof(*ps));
	char (*dirs)[PATH_MAX_OWL] = NULL;
	size_t ndirs = 0, cap = 0, i, j;
	char dir[PATH_MAX_OWL];

	for (i = 0; i < n; i++) {
		ps[i].d = batch[i];
		write_one(st, &ps[i]);
		if (batch[i]->res != STORE_OK)
			undo_links(st, &ps[i]);
	}
	/* group commit: one fsync per new/ directory for the whole batch */
	for (i = 0; i < n; i++) {
		if (batch[i]->res != STORE_OK)
			continue;
		for (j = 0; j < batch[i]->nusers; j++) {
			store_mailbox_path(st, batch[i]->users[j], dir,
					   sizeof(dir));
			strcat(dir, "/new");
			if (seen_dir(dirs, ndirs, dir))
				continue;
			if (ndirs == cap) {
				cap = cap ? cap * 2 : 8;
				dirs = xrealloc(dirs, cap * sizeof(*dirs));
			}
			memcpy(dirs[ndirs++], dir, sizeof(dir));
		}
	}
	for (i = 0; i < ndirs; i++) {
		if (fsops_fsync_dir(dirs[i]) == 0)
			continue;
		/* every delivery with a link there failed */
		int err = errno;

		for (j = 0; j < n; j++) {
			struct store_delivery *d = batch[j];

			if (d->res != STORE_OK)
				continue;
			for (size_t u = 0; u < d->nusers; u++) {
				store_mailbox_path(st, d->users[u], dir,
						   sizeof(dir));
				strcat(dir, "/new");
				if (strcmp(dir, dirs[i]) == 0) {
					store_fail(d, err, "fsync", dirs[i]);
					undo_links(st, &ps[j]);
					break;
				}
			}
		}
	}
	for (i = 0; i < n; i++)
		if (ps[i].tmp[0] != '\0')
			unlink(ps[i].tmp);
	free(dirs);
	free(ps);
}
