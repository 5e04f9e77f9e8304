/*
 * lock - the two locks of a mailbox (docs/MAILDIR.md, "The maildrop
 * lock"), each in two halves: a table in this process, then for a Maildir
 * an fcntl write lock on one byte of DIR/.owlpost-lock, which NFS and
 * GlusterFS keep exclusive across hosts.
 *
 * - The session lock (byte 1): a POP3 session holds it from login to the
 *   end, so that a second POP3 session of the user, here or on another
 *   host, is refused (STORE_INUSE, never waited for).  IMAP sessions do
 *   not take it: several of them on one folder are normal.
 * - The index lock (byte 0): every claim (new/ -> cur/), index update and
 *   expunge happens under it; it is held for one such step and waited for
 *   (STORE_INDEX_WAIT_MS, then STORE_TEMP).
 *
 * fcntl locks belong to the process, and closing any descriptor of the
 * file drops all of them; so each lock file is opened once per process,
 * in the table's entry for its folder, and closed when nothing of this
 * process holds a lock on it.  The table's mutex guards the entries; the
 * fcntl calls of the index lock run outside it (the entry is marked as
 * taken first, so no other thread of ours gets there).
 *
 * A folder directory that does not exist cannot have a lock file: the
 * lock is then only the in-process half, and *nodir_r says so (a POP3
 * session then makes the folder and locks again: store.c).
 */
#include "store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"

#define LOCK_NAME ".owlpost-lock"
#define BYTE_INDEX 0
#define BYTE_SESSION 1

struct store_lock_ent {
	char *path;		/* the folder directory or mbox file */
	int fd;			/* its lock file, or -1 */
	bool session;		/* a session of ours holds byte 1 */
	bool index;		/* a thread of ours holds byte 0 */
};

/* The entry of path, made if missing (under st->mu). */
static struct store_lock_ent *
entry(struct store *st, const char *path)
{
	struct store_lock_ent *e;

	for (size_t i = 0; i < st->nlocks; i++)
		if (strcmp(st->locks[i].path, path) == 0)
			return &st->locks[i];
	if (st->nlocks == st->locks_cap) {
		st->locks_cap = st->locks_cap ? st->locks_cap * 2 : 16;
		st->locks = xrealloc(st->locks,
				     st->locks_cap * sizeof(*st->locks));
	}
	e = &st->locks[st->nlocks++];
	e->path = xstrdup(path);
	e->fd = -1;
	e->session = e->index = false;
	return e;
}

/* Drops e if nothing holds it any more (under st->mu). */
static void
entry_done(struct store *st, struct store_lock_ent *e)
{
	if (e->session || e->index)
		return;
	if (e->fd != -1)
		close(e->fd); /* holds no lock of ours now */
	free(e->path);
	*e = st->locks[--st->nlocks];
}

/* Opens e's lock file if the backend has one; -1 with errno. */
static int
entry_open(struct store *st, struct store_lock_ent *e)
{
	char path[4400];

	if (e->fd != -1 || !st->ops->lock_file)
		return 0;
	if (bsnprintf(path, sizeof(path), "%s/" LOCK_NAME, e->path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	e->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	return e->fd == -1 ? -1 : 0;
}

/* F_SETLK of one byte; 0, or -1 with errno (EAGAIN/EACCES: held). */
static int
set_byte(int fd, short type, off_t byte)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET,
			   .l_start = byte, .l_len = 1};

	while (fcntl(fd, F_SETLK, &fl) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

static bool
is_held_errno(int err)
{
	return err == EAGAIN || err == EACCES;
}

enum store_res
store_lock_session(struct store *st, const char *path, bool *nodir_r,
		   char *err, size_t errsz)
{
	struct store_lock_ent *e;
	enum store_res r = STORE_OK;

	*nodir_r = false;
	pthread_mutex_lock(&st->mu);
	e = entry(st, path);
	if (e->session) {
		snprintf(err, errsz, "%s: in use by another session", path);
		pthread_mutex_unlock(&st->mu);
		return STORE_INUSE;
	}
	if (entry_open(st, e) == -1) {
		if (errno != ENOENT)
			r = store_sys_fail(err, errsz, "open lock", path);
		else
			*nodir_r = true;
	} else if (e->fd != -1 && set_byte(e->fd, F_WRLCK, BYTE_SESSION)) {
		if (is_held_errno(errno)) {
			snprintf(err, errsz, "%s: locked by another process",
				 path);
			r = STORE_INUSE;
		} else {
			r = store_sys_fail(err, errsz, "lock", path);
		}
	}
	if (r == STORE_OK)
		e->session = true;
	else
		entry_done(st, e);
	pthread_mutex_unlock(&st->mu);
	return r;
}

void
store_unlock_session(struct store *st, const char *path)
{
	struct store_lock_ent *e;

	pthread_mutex_lock(&st->mu);
	e = entry(st, path);
	if (e->fd != -1 && e->session)
		set_byte(e->fd, F_UNLCK, BYTE_SESSION);
	e->session = false;
	entry_done(st, e);
	pthread_mutex_unlock(&st->mu);
}

static void
deadline_after(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool
passed(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > ts->tv_sec ||
	       (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

/* Waits for byte 0 of fd from other processes, up to the deadline. */
static enum store_res
wait_file_index(int fd, const struct timespec *until, const char *path,
		char *err, size_t errsz)
{
	const struct timespec nap = {0, 10 * 1000000L};

	while (set_byte(fd, F_WRLCK, BYTE_INDEX) == -1) {
		if (!is_held_errno(errno))
			return store_sys_fail(err, errsz, "lock", path);
		if (passed(until)) {
			snprintf(err, errsz, "%s: index locked by another "
				 "process for too long", path);
			return STORE_TEMP;
		}
		nanosleep(&nap, NULL);
	}
	return STORE_OK;
}

enum store_res
store_lock_index(struct store *st, const char *path, bool *nodir_r,
		 char *err, size_t errsz)
{
	struct store_lock_ent *e;
	struct timespec until;
	enum store_res r = STORE_OK;
	int fd;

	*nodir_r = false;
	deadline_after(&until, STORE_INDEX_WAIT_MS);
	pthread_mutex_lock(&st->mu);
	while ((e = entry(st, path))->index)
		if (pthread_cond_timedwait(&st->cond, &st->mu, &until) ==
		    ETIMEDOUT) {
			snprintf(err, errsz, "%s: index locked by another "
				 "session for too long", path);
			pthread_mutex_unlock(&st->mu);
			return STORE_TEMP;
		}
	e->index = true;
	if (entry_open(st, e) == -1) {
		if (errno == ENOENT)
			*nodir_r = true;
		else
			r = store_sys_fail(err, errsz, "open lock", path);
	}
	fd = e->fd;
	pthread_mutex_unlock(&st->mu);
	if (r == STORE_OK && fd != -1)
		r = wait_file_index(fd, &until, path, err, errsz);
	if (r != STORE_OK)
		store_unlock_index(st, path);
	return r;
}

void
store_unlock_index(struct store *st, const char *path)
{
	struct store_lock_ent *e;

	pthread_mutex_lock(&st->mu);
	e = entry(st, path);
	if (e->fd != -1)
		set_byte(e->fd, F_UNLCK, BYTE_INDEX);
	e->index = false;
	entry_done(st, e);
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->mu);
}

void
store_locks_free(struct store *st)
{
	for (size_t i = 0; i < st->nlocks; i++) {
		if (st->locks[i].fd != -1)
			close(st->locks[i].fd);
		free(st->locks[i].path);
	}
	free(st->locks);
	st->locks = NULL;
	st->nlocks = st->locks_cap = 0;
}
