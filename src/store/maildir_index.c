/*
 * maildir_index - the UID index of a Maildir folder on disk
 * (DIR/.owlpost-uidlist, docs/MAILDIR.md "The mailbox model"): read it,
 * sync it with the listing of cur/ (uidlist.c does the work in memory),
 * and write it back durably when it changed: .owlpost-uidlist.tmp written,
 * fsync'ed, closed, renamed over the index, DIR fsync'ed, every call
 * through fsops in its index class.  Called with the maildrop lock held.
 * Beside it the index log (DIR/.owlpost-uidlist.log, docs/MAILDIR.md "The
 * index log"): appends and copies are numbered by one transaction on it
 * (one write, one fsync, nothing read that grows with the folder), views
 * read what it added since they last looked, and every scan replays it
 * and folds it into the index (written, then the log unlinked; a replay
 * is idempotent, so a crash between the two changes nothing).  A log that
 * does not parse before its last commit is a lost index (rebuilt); a torn
 * tail after it was never acknowledged and is cut by the next append.
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
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "fsops.h"
#include "store_private.h"
#include "uidlist.h"

#define INDEX_NAME ".owlpost-uidlist"
#define LOG_NAME ".owlpost-uidlist.log"
#define INDEX_FILE_MAX (256u << 20)	/* larger: not ours, rebuilt */
/*
 * The log is folded into the index (by a scan) once it is past the
 * larger of this and half the index's size: so the appends between two
 * folds are many, and each fold's cost (a scan, an index write) is paid
 * by at least as many appends as the index has lines / 2, which keeps an
 * append's share constant.  Not a config key: nothing an admin would
 * tune (docs/MAILDIR.md).
 */
#define LOG_FOLD_MIN (256u << 10)
/* An append reads this much of the log's end to find its last commit. */
#define LOG_TAIL_READ (64u << 10)

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

int
maildir_stamp(const char *path, struct uidlist_stamp *s)
{
	struct stat sb;

	memset(s, 0, sizeof(*s));
	if (stat(path, &sb) == -1)
		return -1;
	s->sec = sb.st_mtim.tv_sec > 0 ? (int64_t)sb.st_mtim.tv_sec : 0;
	s->nsec = s->sec ? sb.st_mtim.tv_nsec : 0;
	s->ino = (uint64_t)sb.st_ino & (UINT64_MAX >> 1);
	return 0;
}

bool
maildir_fs_local(const char *path)
{
	struct statfs fs;

	if (statfs(path, &fs) == -1)
		return false;
	switch ((unsigned long)fs.f_type) {
	case EXT4_SUPER_MAGIC: /* ext2 and ext3 too */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
		return true;
	default:
		return false;
	}
}

bool
maildir_settled_at(int64_t sec, long nsec, const struct timespec *at,
		   bool local)
{
	int64_t ns;

	if (sec == 0)
		return false;
	if (!local)
		return (int64_t)at->tv_sec >= sec + MAILDIR_SETTLED_SECS;
	if ((int64_t)at->tv_sec > sec + 1)
		return true;
	ns = ((int64_t)at->tv_sec - sec) * 1000000000L + (at->tv_nsec - nsec);
	return ns >= MAILDIR_SETTLED_LOCAL_NS;
}

bool
maildir_stamp_settled(const struct uidlist_stamp *s, bool local)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return maildir_settled_at(s->sec, s->nsec, &now, local);
}

bool
maildir_stamp_same(const struct uidlist_stamp *a,
		   const struct uidlist_stamp *b)
{
	return a->sec != 0 && a->sec == b->sec && a->nsec == b->nsec &&
	       a->ino == b->ino;
}

/* Reads size octets of fd from off into a new parser block; -1 (errno). */
static char *
read_block(int fd, off_t off, size_t size, size_t *got_r)
{
	char *data = uidlist_buf_new(size);
	size_t got = 0;

	while (got < size) {
		ssize_t r = pread(fd, data + got, size - got,
				  off + (off_t)got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			int saved = errno;

			uidlist_buf_free(data);
			errno = saved;
			return NULL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*got_r = got;
	return data;
}

/*
 * The index file's header and stat into f: 0 and *ok_r; 0 and not *ok_r
 * if it is missing or its header does not parse; -1 (errno) if it cannot
 * be read.
 */
static int
index_head(const char *dir, struct index_file *f, bool *ok_r)
{
	char path[4400], head[256], err[64];
	struct uidlist ul;
	struct stat sb;
	ssize_t got;
	char *nl;
	int fd;

	*ok_r = false;
	memset(f, 0, sizeof(*f));
	bsnprintf(path, sizeof(path), "%s/" INDEX_NAME, dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return 0; /* the scan says what is wrong */
	}
	got = pread(fd, head, sizeof(head), 0);
	close(fd);
	if (got <= 0 || (nl = memchr(head, '\n', (size_t)got)) == NULL ||
	    uidlist_parse(&ul, head, (size_t)(nl - head) + 1, err,
			  sizeof(err)) == -1)
		return 0;
	f->st.sec = sb.st_mtim.tv_sec;
	f->st.nsec = sb.st_mtim.tv_nsec;
	f->st.ino = (uint64_t)sb.st_ino & (UINT64_MAX >> 1);
	f->size = (int64_t)sb.st_size;
	f->uidvalidity = ul.uidvalidity;
	f->uidnext = ul.uidnext;
	f->recent = ul.recent;
	f->highestmodseq = ul.highestmodseq;
	f->cur = ul.cur;
	f->newdir = ul.newdir;
	uidlist_free(&ul);
	*ok_r = true;
	return 0;
}

static bool
same_index_file(const struct index_file *a, const struct index_file *b)
{
	return maildir_stamp_same(&a->st, &b->st) && a->size == b->size &&
	       a->uidvalidity == b->uidvalidity &&
	       a->uidnext == b->uidnext && a->recent == b->recent &&
	       a->highestmodseq == b->highestmodseq;
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

/*
 * Applies the log at path to ul (read from the index, not rebuilt).
 * *had_r: there is a log file (the caller removes it once the index is
 * written); *folded_r: it had committed transactions of ul's
 * UIDVALIDITY, so the index must be written before it goes; *corrupt_r
 * (why set): it does not parse before its last commit, so the numbering
 * it holds is lost.  -1 (errno) if it cannot be read.
 */
struct log_info {
	uint64_t nonce;		/* 0: no log of ul's numbering */
	int64_t end;		/* its committed octets */
	bool touched;		/* a transaction in it changed cur/ */
};

static int
replay_log(const char *path, struct uidlist *ul, bool *had_r,
	   bool *folded_r, bool *corrupt_r, struct log_info *li, char *why,
	   size_t whysz)
{
	struct uidlog_hdr h;
	struct uidlog lg;
	struct stat sb;
	char *data;
	size_t got;
	bool bad;
	int fd;

	*had_r = *folded_r = *corrupt_r = false;
	memset(li, 0, sizeof(*li));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	*had_r = true;
	if (sb.st_size > INDEX_FILE_MAX) {
		close(fd);
		snprintf(why, whysz, "log bigger than %u octets",
			 INDEX_FILE_MAX);
		*corrupt_r = true;
		return 0;
	}
	data = read_block(fd, 0, (size_t)sb.st_size, &got);
	close(fd);
	if (data == NULL)
		return -1;
	if (uidlog_parse_header(data, got, &h, &bad) == -1 ||
	    h.uidvalidity != ul->uidvalidity) {
		/* cut at its creation (nothing was committed), or left by a
		 * rebuild that did not get to remove it: nothing for ul */
		if (bad) {
			snprintf(why, whysz, "log: bad header");
			*corrupt_r = true;
		}
		uidlist_buf_free(data);
		return 0;
	}
	if (uidlog_parse(data + h.len, got - h.len, &lg, why, whysz) == -1) {
		*corrupt_r = true;
		uidlist_buf_free(data);
		return 0;
	}
	*folded_r = lg.ncommits > 0;
	li->nonce = h.nonce;
	li->end = (int64_t)(h.len + lg.committed);
	for (size_t i = 0; i < lg.ncommits; i++)
		li->touched = li->touched || lg.commits[i].touched;
	uidlist_apply_log(ul, &lg, data);
	uidlog_free(&lg);
	return 0;
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
		   const struct index_edit *edit,
		   const struct uidlist_stamp seen[2],
		   struct index_state *state_r, char *err, size_t errsz)
{
	char path[4400], logpath[4400], why[128], qb[600];
	struct uidlist ul;
	bool lost, changed, had_log = false, folded = false, corrupt = false;
	struct uidlist_stamp was_cur, was_new;
	struct log_info li;
	uint32_t old;
	enum store_res r;

	/* never committed: a crash in I1 */
	bsnprintf(path, sizeof(path), "%s/" INDEX_NAME ".tmp", dir);
	if (unlink(path) == -1 && errno != ENOENT)
		return store_sys_fail(err, errsz, "unlink", path);
	bsnprintf(path, sizeof(path), "%s/" INDEX_NAME, dir);
	if (read_index(path, &ul, &lost, &old, why, sizeof(why)) == -1)
		return store_sys_fail(err, errsz, "read", path);
	bsnprintf(logpath, sizeof(logpath), "%s/" LOG_NAME, dir);
	if (lost) /* any log is of the lost numbering: removed */
		had_log = access(logpath, F_OK) == 0;
	else if (replay_log(logpath, &ul, &had_log, &folded, &corrupt, &li,
			    why, sizeof(why)) == -1) {
		r = store_sys_fail(err, errsz, "read", logpath);
		uidlist_free(&ul);
		return r;
	}
	if (corrupt) {
		/* the UIDs it gave cannot be known: a new numbering */
		old = ul.uidvalidity;
		uidlist_free(&ul);
		lost = true;
	}
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
	/* C and W: only a listing whose every name the records give back */
	was_cur = ul.cur;
	was_new = ul.newdir;
	memset(&ul.cur, 0, sizeof(ul.cur));
	memset(&ul.newdir, 0, sizeof(ul.newdir));
	if (seen != NULL && seen[0].sec != 0 && seen[1].sec != 0) {
		ul.cur = seen[0];
		ul.newdir = seen[1];
		for (size_t i = 0; i < n && ul.cur.sec != 0; i++)
			if (files[i].uid == 0) {
				memset(&ul.cur, 0, sizeof(ul.cur));
				memset(&ul.newdir, 0, sizeof(ul.newdir));
			}
	}
	if (ul.cur.sec != 0 && (!maildir_stamp_same(&ul.cur, &was_cur) ||
				!maildir_stamp_same(&ul.newdir, &was_new)))
		changed = true;
	if (r == STORE_OK && (changed || lost || folded))
		r = write_index(dir, &ul, err, errsz);
	/* folded (or of no use): a crash before this unlink leaves a log
	 * whose records the index has, which a replay skips */
	if (r == STORE_OK && had_log)
		unlink(logpath);
	if (r == STORE_OK && (edit != NULL || has_keywords(&ul)))
		take_keywords(&ul, files, n);
	state_r->uidvalidity = ul.uidvalidity;
	state_r->uidnext = ul.uidnext;
	state_r->highestmodseq = ul.highestmodseq;
	state_r->recent = ul.recent;
	if (r == STORE_OK) {
		bool ok;

		if (index_head(dir, &state_r->file, &ok) == -1 || !ok)
			memset(&state_r->file, 0, sizeof(state_r->file));
	}
	uidlist_free(&ul);
	return r;
}

/* --- the log: appends without a scan ----------------------------------- */

/* A nonce that tells this log file from any earlier one at its path. */
static uint64_t
log_nonce(void)
{
	static _Atomic uint64_t seq;
	struct timespec ts;
	uint64_t v;

	clock_gettime(CLOCK_REALTIME, &ts);
	v = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	v ^= (uint64_t)getpid() << 40;
	v += atomic_fetch_add(&seq, 1);
	v &= UINT64_MAX >> 1;
	return v ? v : 1;
}

/*
 * The last commit in the log's text tail (len octets, starting at file
 * offset off, at or past the header's end hdr): *k and *end_r (the file
 * offset past it).  -1 if there is none in it.
 */
static int
last_commit(char *tail, size_t len, off_t off, size_t hdr,
	    struct uidlog_commit *k, off_t *end_r)
{
	size_t e = len;

	while (e > 0) {
		size_t nl = e - 1, start;
		struct uidlog lg;
		char err[64];

		/* the line ending at tail[nl] must end in LF */
		while (e > 0 && tail[e - 1] != '\n')
			e--;
		if (e == 0)
			break;
		nl = e - 1;
		start = nl;
		while (start > 0 && tail[start - 1] != '\n')
			start--;
		if (start == 0 && (size_t)off > hdr)
			return -1; /* the line may start before the tail */
		if (tail[start] == 'C' &&
		    uidlog_parse(tail + start, nl + 1 - start, &lg, err,
				 sizeof(err)) == 0 && lg.ncommits == 1) {
			*k = lg.commits[0];
			*end_r = off + (off_t)nl + 1;
			uidlog_free(&lg);
			return 0;
		}
		uidlog_free(&lg);
		e = start;
	}
	return -1;
}

/* Is name a file name whose base the index can key? */
static bool
keyable(const char *name)
{
	size_t b = strcspn(name, ":");

	return b > 0 && b <= UIDLIST_BASE_MAX && name[0] != '.' &&
	       memchr(name, '\n', b) == NULL && memchr(name, '\\', b) == NULL;
}

/* What the log says now: its header and the state after its last
 * commit; the append's open log in *fd_r.  *fallback_r if not usable. */
struct log_pos {
	int fd;
	bool fresh;		/* no header yet: one is written */
	uint64_t nonce;
	off_t committed;	/* where the transaction goes */
	uint32_t uidnext, recent;
	uint64_t highestmodseq;
};

static enum store_res
open_log_for_append(const char *dir, const struct index_file *f,
		    struct log_pos *lp, bool *fallback_r, char *err,
		    size_t errsz)
{
	char path[4400];
	struct uidlog_hdr h;
	struct uidlog_commit k;
	struct stat sb;
	char head[128], *tail;
	size_t got, want;
	off_t start;
	ssize_t n;
	bool bad;

	memset(lp, 0, sizeof(*lp));
	lp->fd = -1;
	lp->uidnext = f->uidnext;
	lp->recent = f->recent;
	lp->highestmodseq = f->highestmodseq;
	bsnprintf(path, sizeof(path), "%s/" LOG_NAME, dir);
	lp->fd = fsops_open(path, O_RDWR | O_CREAT, 0600);
	if (lp->fd == -1)
		return store_sys_fail(err, errsz, "open", path);
	if (fstat(lp->fd, &sb) == -1)
		return store_sys_fail(err, errsz, "stat", path);
	if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)INDEX_FILE_MAX ||
	    (sb.st_size > (off_t)LOG_FOLD_MIN && sb.st_size > f->size / 2))
		return STORE_OK; /* a scan folds it (or says what it is) */
	n = pread(lp->fd, head, sizeof(head), 0);
	if (n == -1)
		return store_sys_fail(err, errsz, "read", path);
	if (uidlog_parse_header(head, (size_t)n, &h, &bad) == -1 ||
	    h.uidvalidity != f->uidvalidity) {
		if (bad)
			return STORE_OK; /* not ours: the scan decides */
		/* new, cut at its creation, or of an older numbering */
		lp->fresh = true;
		lp->nonce = log_nonce();
		*fallback_r = false;
		return STORE_OK;
	}
	lp->nonce = h.nonce;
	lp->committed = (off_t)h.len;
	start = sb.st_size - (off_t)h.len > (off_t)LOG_TAIL_READ
			? sb.st_size - (off_t)LOG_TAIL_READ : (off_t)h.len;
	want = (size_t)(sb.st_size - start);
	if (want > 0) {
		if ((tail = read_block(lp->fd, start, want, &got)) == NULL)
			return store_sys_fail(err, errsz, "read", path);
		if (last_commit(tail, got, start, h.len, &k,
				&lp->committed) == 0) {
			if (k.uidnext > lp->uidnext)
				lp->uidnext = k.uidnext;
			if (k.recent > lp->recent)
				lp->recent = k.recent;
			if (k.highestmodseq > lp->highestmodseq)
				lp->highestmodseq = k.highestmodseq;
		} else if (start > (off_t)h.len) {
			uidlist_buf_free(tail);
			return STORE_OK; /* a huge transaction: a scan */
		}
		uidlist_buf_free(tail);
	}
	*fallback_r = false;
	return STORE_OK;
}

/* The transaction's text: header if fresh, records, commit. */
static void
append_text(const struct log_pos *lp, uint32_t uidvalidity,
	    char (*names)[STORE_NAME_MAX], char *const *keywords, size_t n,
	    const struct uidlist_stamp *before,
	    const struct uidlist_stamp *after, struct buf *text,
	    uint32_t *uids_r)
{
	struct uidlog_commit k = {.touched = true};
	uint64_t modseq = lp->highestmodseq;

	if (lp->fresh) {
		struct uidlog_hdr h = {uidvalidity, lp->nonce, 0};

		uidlog_format_header(&h, text);
	}
	for (size_t i = 0; i < n; i++) {
		char base[UIDLIST_BASE_MAX + 1];
		size_t bl = strcspn(names[i], ":");
		struct uidlist_rec r = {0};

		memcpy(base, names[i], bl);
		base[bl] = '\0';
		r.uid = lp->uidnext + (uint32_t)i;
		r.modseq = ++modseq;
		r.flags = uidlist_flags_of_name(names[i]);
		r.keywords = keywords != NULL ? keywords[i] : NULL;
		r.base = base;
		uidlist_format_rec(&r, text);
		uids_r[i] = r.uid;
	}
	k.before = *before;
	k.after = *after;
	k.uidnext = lp->uidnext + (uint32_t)n;
	k.highestmodseq = modseq;
	k.recent = lp->recent;
	uidlog_format_commit(&k, text);
}

/*
 * Writes text at lp->committed, durably unless !durable; undone on
 * failure.
 */
static enum store_res
log_write(const char *dir, struct log_pos *lp, const struct buf *text,
	  bool durable, char *err, size_t errsz)
{
	char path[4400];
	enum store_res r = STORE_OK;
	const char *call = "write";

	bsnprintf(path, sizeof(path), "%s/" LOG_NAME, dir);
	/* a torn tail (never acknowledged) goes first */
	if (ftruncate(lp->fd, lp->committed) == -1 ||
	    lseek(lp->fd, lp->committed, SEEK_SET) == -1 ||
	    fsops_write_all(lp->fd, text->data, text->len) == -1 ||
	    (call = "fsync", durable && fsops_fsync(lp->fd) == -1) ||
	    (lp->fresh && fsops_fsync_dir(dir) == -1)) {
		r = store_sys_fail(err, errsz, call, path);
		if (ftruncate(lp->fd, lp->committed) == 0)
			fsync(lp->fd);
	}
	return r;
}

/* The log's calls count as the index's for fault injection (fsops.h). */
static enum store_res
index_append(const char *dir, char (*names)[STORE_NAME_MAX],
	     char *const *keywords, size_t n,
	     const struct uidlist_stamp *before,
	     const struct uidlist_stamp *after, uint32_t *uids_r,
	     uint32_t *uidvalidity_r, bool *fallback_r, char *err,
	     size_t errsz);

enum store_res
maildir_index_append(const char *dir, char (*names)[STORE_NAME_MAX],
		     char *const *keywords, size_t n,
		     const struct uidlist_stamp *before,
		     const struct uidlist_stamp *after, uint32_t *uids_r,
		     uint32_t *uidvalidity_r, bool *fallback_r, char *err,
		     size_t errsz)
{
	enum store_res r;

	fsops_set_class(FSOPS_INDEX);
	r = index_append(dir, names, keywords, n, before, after, uids_r,
			 uidvalidity_r, fallback_r, err, errsz);
	fsops_set_class(FSOPS_MAIL);
	return r;
}

static enum store_res
index_append(const char *dir, char (*names)[STORE_NAME_MAX],
	     char *const *keywords, size_t n,
	     const struct uidlist_stamp *before,
	     const struct uidlist_stamp *after, uint32_t *uids_r,
	     uint32_t *uidvalidity_r, bool *fallback_r, char *err,
	     size_t errsz)
{
	struct index_file f;
	struct log_pos lp;
	struct buf *text;
	enum store_res r;
	size_t max;
	bool ok;

	*fallback_r = true;
	if (index_head(dir, &f, &ok) == -1)
		return store_sys_fail(err, errsz, "read", dir);
	if (!ok || before->sec == 0 || after->sec == 0)
		return STORE_OK;
	for (size_t i = 0; i < n; i++)
		if (!keyable(names[i]))
			return STORE_OK;
	r = open_log_for_append(dir, &f, &lp, fallback_r, err, errsz);
	if (r != STORE_OK || *fallback_r ||
	    (uint64_t)lp.uidnext + n >= UINT32_MAX ||
	    lp.highestmodseq + n >= UIDLIST_MODSEQ_MAX) {
		*fallback_r = r == STORE_OK;
		if (lp.fd >= 0)
			close(lp.fd);
		return r;
	}
	max = (n + 2) * ((size_t)UIDLIST_LINE_MAX + 2);
	text = buf_new(max);
	append_text(&lp, f.uidvalidity, names, keywords, n, before, after,
		    text, uids_r);
	r = log_write(dir, &lp, text, true, err, errsz);
	buf_free(&text);
	if (fsops_close(lp.fd) == -1 && r == STORE_OK)
		r = store_sys_fail(err, errsz, "close", dir);
	*uidvalidity_r = r == STORE_OK ? f.uidvalidity : 0;
	return r;
}

/* qsort/bsearch on an array of strings. */
static int
cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
maildir_index_bases(const char *dir, char ***bases_r, size_t *n_r)
{
	char path[4400], why[128];
	struct uidlist ul;
	struct log_info li;
	bool lost, had, folded, corrupt;
	uint32_t old;
	char **v;

	*bases_r = NULL;
	*n_r = 0;
	bsnprintf(path, sizeof(path), "%s/" INDEX_NAME, dir);
	if (read_index(path, &ul, &lost, &old, why, sizeof(why)) == -1)
		return -1;
	if (lost)
		return 0;
	bsnprintf(path, sizeof(path), "%s/" LOG_NAME, dir);
	if (replay_log(path, &ul, &had, &folded, &corrupt, &li, why,
		       sizeof(why)) == -1 || corrupt) {
		uidlist_free(&ul);
		return corrupt ? 0 : -1;
	}
	v = xcalloc(ul.n + 1, sizeof(*v));
	for (size_t i = 0; i < ul.n; i++)
		v[i] = xstrdup(ul.recs[i].base);
	qsort(v, ul.n, sizeof(*v), cmp_str_ptr);
	*bases_r = v;
	*n_r = ul.n;
	uidlist_free(&ul);
	return 0;
}

bool
maildir_index_has_base(char **bases, size_t n, const char *base)
{
	return n > 0 && bsearch(&base, bases, n, sizeof(*bases),
				cmp_str_ptr) != NULL;
}

enum store_res
maildir_index_tail(const char *dir, const struct store_mark *m, bool *same_r,
		   struct uidlog *lg, char **buf_r, int64_t *end_r,
		   uint64_t *nonce_r, char *err, size_t errsz)
{
	char path[4400], head[128];
	struct index_file f;
	struct uidlog_hdr h;
	struct stat sb;
	size_t got;
	off_t from;
	ssize_t n;
	bool ok, bad;
	int fd;

	*same_r = false;
	*buf_r = NULL;
	memset(lg, 0, sizeof(*lg));
	*end_r = 0;
	*nonce_r = 0;
	if (index_head(dir, &f, &ok) == -1)
		return store_sys_fail(err, errsz, "read", dir);
	if (!ok || !same_index_file(&f, &m->idx))
		return STORE_OK;
	bsnprintf(path, sizeof(path), "%s/" LOG_NAME, dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			return store_sys_fail(err, errsz, "open", path);
		*same_r = m->log_nonce == 0;
		return STORE_OK;
	}
	if (fstat(fd, &sb) == -1 || (n = pread(fd, head, sizeof(head), 0)) ==
	    -1) {
		enum store_res r = store_sys_fail(err, errsz, "read", path);

		close(fd);
		return r;
	}
	if (uidlog_parse_header(head, (size_t)n, &h, &bad) == -1 ||
	    h.uidvalidity != f.uidvalidity ||
	    (m->log_nonce != 0 && h.nonce != m->log_nonce)) {
		close(fd);
		return STORE_OK; /* a scan sorts it out */
	}
	from = m->log_nonce != 0 ? (off_t)m->log_off : (off_t)h.len;
	if (from > sb.st_size || from < (off_t)h.len) {
		close(fd);
		return STORE_OK;
	}
	*buf_r = read_block(fd, from, (size_t)(sb.st_size - from), &got);
	close(fd);
	if (*buf_r == NULL)
		return store_sys_fail(err, errsz, "read", path);
	if (uidlog_parse(*buf_r, got, lg, err, errsz) == -1) {
		uidlist_buf_free(*buf_r);
		*buf_r = NULL;
		return STORE_OK;
	}
	*end_r = (int64_t)from + (int64_t)lg->committed;
	*nonce_r = h.nonce;
	*same_r = true;
	return STORE_OK;
}

enum store_res
maildir_index_claim(const char *dir, uint32_t uidnext,
		    uint64_t highestmodseq, uint32_t recent, int64_t *end,
		    char *err, size_t errsz)
{
	struct uidlog_commit k = {.uidnext = uidnext,
				  .highestmodseq = highestmodseq,
				  .recent = recent};
	char path[4400];
	struct log_pos lp = {.committed = (off_t)*end};
	struct buf *text;
	enum store_res r;

	bsnprintf(path, sizeof(path), "%s/" LOG_NAME, dir);
	fsops_set_class(FSOPS_INDEX);
	lp.fd = fsops_open(path, O_RDWR, 0600);
	fsops_set_class(FSOPS_MAIL);
	if (lp.fd == -1)
		return store_sys_fail(err, errsz, "open", path);
	text = buf_new(256);
	uidlog_format_commit(&k, text);
	/* not fsync'ed: a claim lost in a crash shows its messages as
	 * recent once more, which RFC 3501 2.3.2 allows ("if it is not
	 * possible to determine ... SHOULD be considered recent"); the
	 * next transaction's fsync makes it durable anyway */
	fsops_set_class(FSOPS_INDEX);
	r = log_write(dir, &lp, text, false, err, errsz);
	fsops_set_class(FSOPS_MAIL);
	if (r == STORE_OK)
		*end += (int64_t)text->len;
	buf_free(&text);
	close(lp.fd);
	return r;
}

enum store_res
maildir_index_load(const char *dir, struct uidlist *ul, struct store_mark *m,
		   bool *ok_r, char *err, size_t errsz)
{
	char path[4400], why[128];
	struct log_info li;
	struct uidlist_stamp now;
	bool lost, had, folded, corrupt, ok;
	uint32_t old;

	*ok_r = false;
	memset(ul, 0, sizeof(*ul));
	memset(m, 0, sizeof(*m));
	/* its first line says whether the rest is worth reading */
	bsnprintf(path, sizeof(path), "%s/cur", dir);
	if (index_head(dir, &m->idx, &ok) == -1 || !ok ||
	    m->idx.cur.sec == 0 || maildir_stamp(path, &now) == -1 ||
	    !maildir_stamp_same(&now, &m->idx.cur))
		return STORE_OK;
	bsnprintf(path, sizeof(path), "%s/" INDEX_NAME, dir);
	if (read_index(path, ul, &lost, &old, why, sizeof(why)) == -1)
		return store_sys_fail(err, errsz, "read", path);
	if (lost) {
		memset(ul, 0, sizeof(*ul));
		return STORE_OK; /* a scan makes it */
	}
	if (index_head(dir, &m->idx, &ok) == -1 || !ok) {
		uidlist_free(ul);
		return STORE_OK;
	}
	bsnprintf(path, sizeof(path), "%s/" LOG_NAME, dir);
	if (replay_log(path, ul, &had, &folded, &corrupt, &li, why,
		       sizeof(why)) == -1 || corrupt || li.touched ||
	    (had && li.nonce == 0)) {
		uidlist_free(ul);
		return STORE_OK; /* a scan reads it, or says what is wrong */
	}
	m->cur = ul->cur;
	m->newdir = ul->newdir;
	for (size_t i = 0; i < ul->n && !m->new_held; i++)
		m->new_held = ul->recs[i].innew;
	m->cur_settled = true;
	m->log_nonce = li.nonce;
	m->log_off = li.end;
	m->recent = ul->recent;
	*ok_r = true;
	return STORE_OK;
}
