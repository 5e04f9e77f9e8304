/*
 * common - what both backends share, calling no backend: user name
 * validation, mailbox paths, unique names, delivery errors, directory
 * chains, ids of messages (a hash) and the reading of a plain
 * stored file.  Nothing here fails but store_mkdirs (-1 with errno) and
 * store_read_plain (-1 with errno; EIO if the file shrank).
 */
#include "store_private.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../lib/addr.h"
#include "../lib/buf.h"
#include "fsops.h"

bool
store_user_valid(const char *name)
{
	return addr_user_valid(name);
}

int
store_mailbox_path(const struct store *st, const char *user, char *out,
		   size_t size)
{
	const char *at = strchr(user, '@');
	int n;

	if (!store_user_valid(user))
		return -1;
	n = snprintf(out, size, "%s/%s/%.*s%s", st->mail_dir, at + 1,
		     (int)(at - user), user,
		     st->ops->suffix);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

size_t
store_crlf_size(const char *data, size_t len)
{
	size_t n = len;
	const char *p = data, *end = data + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

static atomic_ulong seq;	/* the Q of store_unique_name() */

unsigned long
store_unique_next(void)
{
	return atomic_load(&seq) + 1;
}

void
store_unique_name(struct store *st, struct store_delivery *d)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	/* Maildir: time.M<usec>P<pid>Q<seq>.host, unique across hosts */
	snprintf(d->name, sizeof(d->name), "%lld.M%ldP%ldQ%lu.%s",
		 (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
		 atomic_fetch_add(&seq, 1) + 1, st->host);
}

void
store_fail(struct store_delivery *d, int err, const char *call,
	   const char *path)
{
	if (d->res == STORE_OK) {
		d->res = err == ENOSPC || err == EDQUOT ? STORE_NOSPACE
			 : err == ENAMETOOLONG		? STORE_PERM
							: STORE_TEMP;
		snprintf(d->error, sizeof(d->error), "%s(%s): %s", call, path,
			 strerror(err));
	}
}

int
store_mkdirs(const char *path, const char *below)
{
	char tmp[4096];
	size_t start = strlen(below), i, n = strlen(path);

	if (n >= sizeof(tmp) || strncmp(path, below, start) != 0)
		return -1;
	memcpy(tmp, path, n + 1);
	for (i = start + 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (fsops_mkdir(tmp, 0700) == -1)
			return -1;
		tmp[i] = path[i];
	}
	return 0;
}

enum store_res
store_sys_fail(char *err, size_t errsz, const char *call, const char *path)
{
	int saved = errno;

	snprintf(err, errsz, "%s %s: %s", call, path, strerror(saved));
	return saved == ENOSPC || saved == EDQUOT ? STORE_NOSPACE : STORE_TEMP;
}

unsigned long long
store_hash(unsigned long long h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

ssize_t
store_read_plain(struct store_reader *r, char *buf, size_t size)
{
	size_t want;
	ssize_t n;

	if (r->pos >= r->end)
		return 0;
	want = (size_t)(r->end - r->pos);
	if (want > size)
		want = size;
	while ((n = pread(r->fd, buf, want, r->pos)) == -1 && errno == EINTR)
		;
	if (n <= 0) {
		if (n == 0)
			errno = EIO; /* the file shrank under us */
		return -1;
	}
	r->pos += n;
	return n;
}
