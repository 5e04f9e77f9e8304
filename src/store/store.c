/*
 * store - dispatch to the Maildir or mbox backend and the helpers they
 * share: user name validation, mailbox paths, unique names, errors.
 */
#include "store.h"

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
	st->fmt = fmt;
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
	free((*stp)->mail_dir);
	free((*stp)->host);
	free(*stp);
	*stp = NULL;
}

void
store_deliver(struct store *st, struct store_delivery **batch, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		batch[i]->res = STORE_OK;
		batch[i]->error[0] = '\0';
		if (batch[i]->crlf_len == 0 && batch[i]->data != NULL)
			batch[i]->crlf_len = store_crlf_size(batch[i]->data,
							     batch[i]->len);
		store_unique_name(st, batch[i]);
	}
	if (st->fmt == MBOX_FMT_MAILDIR) {
		maildir_deliver(st, batch, n);
		return;
	}
	for (i = 0; i < n; i++)
		mbox_deliver(st, batch[i]);
}

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
		     st->fmt == MBOX_FMT_MBOX ? ".mbox" : "");
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

void
store_unique_name(struct store *st, struct store_delivery *d)
{
	static atomic_ulong seq;
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
