/*
 * maildir_index - the UID index of a Maildir folder on disk
 * (DIR/.owlpost-uidlist, docs/MAILDIR.md "The mailbox model"): read it,
 * sync it with the listing of cur/ (uidlist.c does the work in memory),
 * and write it back durably when it changed: .owlpost-uidlist.tmp written,
 * fsync'ed, closed, renamed over the index, DIR fsync'ed, every call
 * through fsops in its index class.  Called with the maildrop lock held.
 *
 * A missing index, or one that does not parse, is rebuilt from the
 * listing with a new UIDVALIDITY (new_uidvalidity()); an index that cannot
 * be read (EIO, EACCES) fails the open with STORE_TEMP instead, because
 * UIDVALIDITY must change only when the index is truly gone.  A failed
 * write leaves the old index and fails the open: no UID of an unwritten
 * state is ever shown.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "fsops.h"
#include "store_private.h"
#include "uidlist.h"

#define INDEX_NAME ".owlpost-uidlist"
#define INDEX_FILE_MAX (256u << 20)	/* larger: not ours, rebuilt */

uint32_t
maildir_new_uidvalidity(uint32_t old)
{
	static _Atomic uint32_t last;
	uint32_t seen = atomic_load(&last), v;

	do {
		v = (uint32_t)time(NULL);
		if (v <= old)
			v = old + 1;
		if (v <= seen)
			v = seen + 1;
		if (v == 0)
			v = 1; /* 2^32 - 1 was passed: wrap, once a century */
	} while (!atomic_compare_exchange_weak(&last, &seen, v));
	return v;
}

/* The UIDVALIDITY an unparsable index still shows in its header, or 0. */
static uint32_t
old_uidvalidity(const char *data, size_t len)
{
	static const char head[] = UIDLIST_MAGIC " ";
	char line[64];
	unsigned long v = 0;
	size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

	memcpy(line, data, n);
	line[n] = '\0';
	if (strncmp(line, head, sizeof(head) - 1) == 0)
		sscanf(line + sizeof(head) - 1, "%*u V%lu", &v);
	return v <= UINT32_MAX ? (uint32_t)v : 0;
}

/*
 * Reads the index at path into ul.  0 and *lost_r false: read; 0 and
 * *lost_r: missing (why "") or corrupt (why says what; *old_r: its
 * UIDVALIDITY if it showed one); STORE_TEMP-worthy errors: -1 with errno.
 */
static int
read_index_once(const char *path, struct uidlist *ul, bool *lost_r,
		uint32_t *old_r, char *why, size_t whysz)
{
	struct stat sb;
	char *data;
	size_t got = 0;
	int fd;

	*lost_r = false;
	*old_r = 0;
	why[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			return -1;
		*lost_r = true;
		return 0;
	}
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EISDIR; /* not ours to replace: the admin's */
		return -1;
	}
	if (sb.st_size > INDEX_FILE_MAX) {
		close(fd);
		snprintf(why, whysz, "bigger than %u octets", INDEX_FILE_MAX);
		*lost_r = true;
		return 0;
	}
	/* read straight into the block the parser keeps: no copy */
	data = uidlist_buf_new((size_t)sb.st_size);
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, data + got, (size_t)sb.st_size - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			int saved = errno;

			uidlist_buf_free(data);
			close(fd);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break; /* shrank: what there is, then it fails below */
		got += (size_t)r;
	}
	close(fd);
	if (uidlist_parse_buf(ul, data, got, why, whysz) == -1) {
		*lost_r = true;
		*old_r = old_uidvalidity(data, got);
		uidlist_buf_free(data);
	}
	return 0;
}

/*
 * read_index_once(), again while it fails with ESTALE: on a cluster
 * filesystem (GlusterFS, NFS) another host's rename of a new index over
 * the old one turns the name we looked up, or the file we opened, stale;
 * the name looked up again is the new index.
 */
#define INDEX_ESTALE_TRIES 10

static int
read_index(const char *path, struct uidlist *ul, bool *lost_r,
	   uint32_t *old_r, char *why, size_t whysz)
{
	int r = -1;

	for (int i = 0; i < INDEX_ESTALE_TRIES; i++) {
		r = read_index_once(path, ul, lost_r, old_r, why, whysz);
		if (r == 0 || errno != ESTALE)
			break;
	}
	return r;
}

/* Writes ul as dir's index: tmp, fsync, close, rename, fsync dir. */
static enum store_res
write_index(const char *dir, const struct uidlist *ul, char *err,
	    size_t errsz)
{
	char tmp[4400], path[4400];
	struct buf *text;
	enum store_res r;
	const char *call;
	size_t max;

	if (__builtin_mul_overflow(ul->n + 1, (size_t)UIDLIST_LINE_MAX + 2,
				   &max)) {
		snprintf(err, errsz, "%s: too many messages", dir);
		return STORE_TEMP;
	}
	bsnprintf(tmp, sizeof(tmp), "%s/" INDEX_NAME ".tmp", dir);
	bsnprintf(path, sizeof(path), "%s/" INDEX_NAME, dir);
	text = buf_new(max);
	if (uidlist_format(ul, text) == -1) {
		snprintf(err, errsz, "%s: index too big", dir);
		buf_free(&text);
		return STORE_TEMP;
	}
	fsops_set_class(FSOPS_INDEX);
	/* renamed: not shown until durable (I2 -> I3 in docs/MAILDIR.md) */
	switch (fsops_replace(tmp, path, dir, text->data, text->len, &call)) {
	case 0:
		r = STORE_OK;
		break;
	case -2:
		r = store_sys_fail(err, errsz, call, dir);
		break;
	default:
		r = store_sys_fail(err, errsz, call, tmp);
		break;
	}
	fsops_set_class(FSOPS_MAIL);
	buf_free(&text);
	return r;
}

static bool
has_keywords(const struct uidlist *ul)
{
	for (size_t i = 0; i < ul->n; i++)
		if (ul->recs[i].keywords != NULL)
			return true;
	return false;
}

/* Hands each file with a UID its record's keywords and modseq (an edit
 * may have changed them). */
static void
take_keywords(struct uidlist *ul, struct uidlist_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct uidlist_rec *rec;

		if (files[i].uid == 0 ||
		    (rec = uidlist_find(ul, files[i].uid)) == NULL)
			continue;
		files[i].modseq = rec->modseq;
		files[i].flags = rec->flags;
		if (rec->keywords != NULL)
			files[i].keywords = xstrdup(rec->keywords);
	}
}

enum store_res
maildir_index_sync(const char *dir, struct uidlist_file *files, size_t n,
		   const struct index_edit *edit, struct index_state *state_r,
		   char *err, size_t errsz)
{
	char path[4400], why[128], qb[600];
	struct uidlist ul;
	bool lost, changed;
	uint32_t old;
	enum store_res r;

	/* never committed: a crash in I1 */
	bsnprintf(path, sizeof(path), "%s/" INDEX_NAME ".tmp", dir);
	if (unlink(path) == -1 && errno != ENOENT)
		return store_sys_fail(err, errsz, "unlink", path);
	bsnprintf(path, sizeof(path), "%s/" INDEX_NAME, dir);
	if (read_index(path, &ul, &lost, &old, why, sizeof(why)) == -1)
		return store_sys_fail(err, errsz, "read", path);
	if (lost) {
		uidlist_init(&ul, maildir_new_uidvalidity(old));
		/* missing: a new folder, or an upgrade; corrupt: say so */
		log_msg(why[0] ? LOGL_WARN : LOGL_INFO, "store",
			"event=%s dir=%s uidvalidity=%u%s%s%s",
			why[0] ? "index-rebuilt" : "index-created",
			log_q(qb, sizeof(qb), dir), (unsigned)ul.uidvalidity,
			why[0] ? " reason=\"" : "", why, why[0] ? "\"" : "");
	}
	if (uidlist_sync(&ul, files, n, &changed) == -1) {
		/* the UIDs ran out: number afresh under a new UIDVALIDITY */
		old = ul.uidvalidity;
		uidlist_free(&ul);
		uidlist_init(&ul, maildir_new_uidvalidity(old));
		lost = true;
		log_msg(LOGL_WARN, "store", "event=index-rebuilt dir=%s "
			"uidvalidity=%u reason=uids-exhausted",
			log_q(qb, sizeof(qb), dir), (unsigned)ul.uidvalidity);
		if (uidlist_sync(&ul, files, n, &changed) == -1) {
			uidlist_free(&ul);
			snprintf(err, errsz, "%s: too many messages", dir);
			return STORE_TEMP;
		}
	}
	r = STORE_OK;
	if (edit != NULL)
		r = edit->fn(&ul, files, n, edit->arg, &changed, err, errsz);
	if (r == STORE_OK && (changed || lost))
		r = write_index(dir, &ul, err, errsz);
	if (r == STORE_OK && (edit != NULL || has_keywords(&ul)))
		take_keywords(&ul, files, n);
	state_r->uidvalidity = ul.uidvalidity;
	state_r->uidnext = ul.uidnext;
	state_r->highestmodseq = ul.highestmodseq;
	uidlist_free(&ul);
	return r;
}
