/*
 * mbox - delivery to MAIL_DIR/<domain>/<local>.mbox (mboxrd).
 *
 * Each message is appended as a "From sender date" line, the message with
 * every line matching ^>*From  quoted by one more '>', and a blank line.
 * Locking is dot-lock (<file>.lock, made with O_EXCL; stale after 5
 * minutes) plus an fcntl write lock, both bounded in time so a stuck lock
 * gives a temporary failure instead of a hung worker.  All recipients'
 * files are locked (in sorted order, which rules out deadlock between two
 * workers) before anything is written; if any append fails every file is
 * truncated back to its old size, so a delivery is all-or-nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "fsops.h"
#include "store.h"

#define LOCK_TRIES 200		/* x 50 ms = 10 s */
#define LOCK_STALE 300		/* seconds */

struct box {
	const char *user;
	char path[4096];
	char lock[4100];
	int fd;
	off_t old_size;
	bool created, dotlocked;
};

static void
nap(void)
{
	struct timespec ts = {0, 50 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

static int
dotlock(struct box *b)
{
	for (int i = 0; i < LOCK_TRIES; i++) {
		struct stat sb;
		int fd = fsops_open(b->lock, O_WRONLY | O_CREAT | O_EXCL,
				    0600);

		if (fd != -1) {
			close(fd);
			b->dotlocked = true;
			return 0;
		}
		if (errno != EEXIST)
			return -1;
		if (stat(b->lock, &sb) == 0 &&
		    time(NULL) - sb.st_mtime > LOCK_STALE)
			unlink(b->lock);
		else
			nap();
	}
	errno = EAGAIN;
	return -1;
}

static int
open_box(struct store *st, struct box *b)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char dir[4096];
	struct stat sb;
	char *slash;
	int i;

	snprintf(dir, sizeof(dir), "%s", b->path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	if (store_mkdirs(dir, st->mail_dir) == -1)
		return -1;
	if (dotlock(b) == -1)
		return -1;
	b->created = stat(b->path, &sb) == -1;
	b->fd = fsops_open(b->path, O_RDWR | O_CREAT, 0600);
	if (b->fd == -1)
		return -1;
	for (i = 0; i < LOCK_TRIES; i++) {
		if (fcntl(b->fd, F_SETLK, &fl) == 0)
			break;
		if (errno != EACCES && errno != EAGAIN)
			return -1;
		nap();
	}
	if (i == LOCK_TRIES) {
		errno = EAGAIN;
		return -1;
	}
	if (fstat(b->fd, &sb) == -1)
		return -1;
	b->old_size = sb.st_size;
	return 0;
}

static void
close_box(struct box *b)
{
	if (b->fd != -1)
		close(b->fd); /* drops the fcntl lock */
	if (b->dotlocked)
		unlink(b->lock);
}

static bool
is_from_line(const char *p, size_t n)
{
	while (n > 0 && *p == '>') {
		p++;
		n--;
	}
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

/* The text to append: From_ line, quoted message, blank line. */
static struct buf *
render(const struct store_delivery *d, bool need_nl)
{
	char date[64];
	struct tm tm;
	const char *p = d->data, *end = d->data + d->len;
	size_t extra = 0, max;
	struct buf *b;

	for (const char *q = p; q < end;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);

		if (is_from_line(q, n))
			extra++;
		q += n + 1;
	}
	if (__builtin_add_overflow(d->len, extra + 600, &max))
		return NULL;
	b = buf_new(max);
	gmtime_r(&d->when, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	if (need_nl)
		buf_addc(b, '\n');
	buf_printf(b, "From %s %s\n", d->sender[0] ? d->sender
						    : "MAILER-DAEMON", date);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (is_from_line(p, n))
			buf_addc(b, '>');
		buf_add(b, p, n);
		buf_addc(b, '\n');
		p += n + 1;
	}
	buf_addc(b, '\n');
	return b;
}

static bool
ends_with_nl(int fd, off_t size)
{
	char c = '\n';

	if (size == 0)
		return true;
	if (pread(fd, &c, 1, size - 1) != 1)
		return true;
	return c == '\n';
}

static int
cmp_user(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void
mbox_deliver(struct store *st, struct store_delivery *d)
{
	const char **users = xcalloc(d->nusers, sizeof(*users));
	struct box *boxes = xcalloc(d->nusers, sizeof(*boxes));
	size_t i;

	memcpy(users, d->users, d->nusers * sizeof(*users));
	qsort(users, d->nusers, sizeof(*users), cmp_user);
	for (i = 0; i < d->nusers; i++) {
		boxes[i].fd = -1;
		boxes[i].user = users[i];
		if (store_mailbox_path(st, users[i], boxes[i].path,
				       sizeof(boxes[i].path)) == -1) {
			store_fail(d, EINVAL, "mailbox", users[i]);
			d->res = STORE_PERM;
			goto out;
		}
		snprintf(boxes[i].lock, sizeof(boxes[i].lock), "%s.lock",
			 boxes[i].path);
		if (open_box(st, &boxes[i]) == -1) {
			store_fail(d, errno, "lock", boxes[i].path);
			goto out;
		}
	}
	for (i = 0; i < d->nusers && d->res == STORE_OK; i++) {
		struct box *b = &boxes[i];
		struct buf *text = render(
			d, !ends_with_nl(b->fd, b->old_size));

		if (text == NULL) {
			store_fail(d, EFBIG, "render", b->path);
			break;
		}
		if (lseek(b->fd, b->old_size, SEEK_SET) == -1 ||
		    fsops_write_all(b->fd, text->data, text->len) == -1)
			store_fail(d, errno, "write", b->path);
		else if (fsops_fsync(b->fd) == -1)
			store_fail(d, errno, "fsync", b->path);
		buf_free(&text);
	}
	for (i = 0; i < d->nusers; i++) {
		char dir[4096], *slash;

		if (!boxes[i].created || d->res != STORE_OK)
			continue;
		snprintf(dir, sizeof(dir), "%s", boxes[i].path);
		slash = strrchr(dir, '/');
		*slash = '\0';
		if (fsops_fsync_dir(dir) == -1)
			store_fail(d, errno, "fsync", dir);
	}
	if (d->res != STORE_OK) {
		/* all-or-nothing: cut every file back to where it was */
		for (i = 0; i < d->nusers; i++) {
			if (boxes[i].fd == -1)
				continue;
			if (ftruncate(boxes[i].fd, boxes[i].old_size) == 0)
				fsync(boxes[i].fd);
		}
	}
out:
	for (i = 0; i < d->nusers; i++)
		close_box(&boxes[i]);
	free(boxes);
	free(users);
}
