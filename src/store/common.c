/*
 * common - what both backends share, calling no backend: user name
 * validation, mailbox paths, unique names, delivery errors, directory
 * chains, ids of messages (hash, unique uidls) and the reading of a plain
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

static int
cmp_uidl_idx(const void *a, const void *b, void *arg)
{
	const struct store_box *box = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(store_box_uidl(box, i), store_box_uidl(box, j));

	return c != 0 ? c : (i > j) - (i < j);
}

/* A repeat's uidl: "UIDL.K", or "HASH.K" where that would be too long. */
static void
uidl_suffix(char *uidl, size_t k)
{
	char tail[24];
	size_t n = (size_t)snprintf(tail, sizeof(tail), ".%zu", k);

	if (strlen(uidl) + n > 70)
		snprintf(uidl, 72, "h%016llx",
			 store_hash(STORE_HASH_INIT, uidl, strlen(uidl)));
	strcat(uidl, tail);
}

/*
 * One pass: sort indexes by uidl; in each run of one uidl every message
 * but the first gets ".2", ".3", ... (salt > 0: a hash of the salt, the
 * uidl and the message's number, then ".number", instead).  True if it
 * renamed any.
 */
static bool
unique_round(struct store_box *b, unsigned salt)
{
	size_t *idx = xcalloc(b->n + 1, sizeof(*idx));
	bool renamed = false;
	char run[72], uidl[72];

	for (size_t i = 0; i < b->n; i++)
		idx[i] = i;
	qsort_r(idx, b->n, sizeof(*idx), cmp_uidl_idx, b);
	snprintf(run, sizeof(run), "%s", store_box_uidl(b, idx[0]));
	for (size_t i = 1, k = 2; i < b->n; i++) {
		snprintf(uidl, sizeof(uidl), "%s", store_box_uidl(b, idx[i]));
		if (strcmp(uidl, run) != 0) {
			snprintf(run, sizeof(run), "%s", uidl);
			k = 2;
			continue;
		}
		if (salt > 0)
			snprintf(uidl, sizeof(uidl), "h%016llx.%zu",
				 store_hash(store_hash(store_hash(
					STORE_HASH_INIT, &salt, sizeof(salt)),
					run, strlen(run)),
					&idx[i], sizeof(idx[i])),
				 idx[i] + 1);
		else
			uidl_suffix(uidl, k++);
		box_set_uidl(b, idx[i], uidl);
		renamed = true;
	}
	free(idx);
	return renamed;
}

/* True if no two of b's uidls are the same: one pass with a hash table
 * (the usual case; sorting 100,000 of them was a third of an open). */
static bool
uidls_unique(const struct store_box *b)
{
	size_t cap = 16, mask;
	uint32_t *slot;
	bool unique = true;

	while (cap < b->n * 2)
		cap *= 2;
	mask = cap - 1;
	slot = xcalloc(cap, sizeof(*slot));
	for (size_t i = 0; i < b->n && unique; i++) {
		const char *u = store_box_uidl(b, i);
		size_t h = (size_t)store_hash(STORE_HASH_INIT, u, strlen(u));

		for (h &= mask; slot[h] != 0; h = (h + 1) & mask)
			if (strcmp(store_box_uidl(b, slot[h] - 1), u) == 0) {
				unique = false;
				break;
			}
		slot[h] = (uint32_t)i + 1;
	}
	free(slot);
	return unique;
}

void
store_box_unique_uidls(struct store_box *b)
{
	unsigned round = 0;

	/*
	 * Again while a suffix made a new repeat: a few rounds at most unless
	 * the names were made to collide; then hashes settle it, a new salt
	 * each round, since a hashed name can meet a name already there.
	 */
	if (b->n < 2 || b->n >= UINT32_MAX || uidls_unique(b))
		return;
	while (unique_round(b, 0))
		if (++round == 8)
			break;
	for (unsigned salt = 1; round == 8 && unique_round(b, salt); salt++)
		;
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
