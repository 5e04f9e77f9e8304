/*
 * mbox - delivery to MAIL_DIR/<domain>/<local>.mbox (mboxrd).
 *
 * Each message is appended as a "From sender date" line, an "X-UIDL: NAME"
 * header (the stable POP3 id, as qpopper writes it), the message with
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
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "fsops.h"
#include "store_private.h"

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
dotlock(const char *lock)
{
	for (int i = 0; i < LOCK_TRIES; i++) {
		struct stat sb;
		int fd = fsops_open(lock, O_WRONLY | O_CREAT | O_EXCL, 0600);

		if (fd != -1) {
			close(fd);
			return 0;
		}
		if (errno != EEXIST)
			return -1;
		if (stat(lock, &sb) == 0 &&
		    time(NULL) - sb.st_mtime > LOCK_STALE)
			unlink(lock);
		else
			nap();
	}
	errno = EAGAIN;
	return -1;
}

/* An fcntl lock of type (F_RDLCK, F_WRLCK), bounded in time. */
static int
fcntl_lock(int fd, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET};

	for (int i = 0; i < LOCK_TRIES; i++) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN)
			return -1;
		nap();
	}
	errno = EAGAIN;
	return -1;
}

static int
open_box(struct store *st, struct box *b)
{
	char dir[4096];
	struct stat sb;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", b->path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	if (store_mkdirs(dir, st->mail_dir) == -1)
		return -1;
	if (dotlock(b->lock) == -1)
		return -1;
	b->dotlocked = true;
	b->created = stat(b->path, &sb) == -1;
	b->fd = fsops_open(b->path, O_RDWR | O_CREAT, 0600);
	if (b->fd == -1)
		return -1;
	if (fcntl_lock(b->fd, F_WRLCK) == -1)
		return -1;
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

/* Appends to an mbox file through a 64 KiB buffer; err keeps the first. */
struct out {
	int fd;
	int err;		/* errno of the first failed write, or 0 */
	size_t n;
	char b[65536];
};

static void
out_flush(struct out *o)
{
	if (o->n > 0 && o->err == 0 &&
	    fsops_write_all(o->fd, o->b, o->n) == -1)
		o->err = errno != 0 ? errno : EIO;
	o->n = 0;
}

static void
out_add(struct out *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(o->b) - o->n;

		if (k > n)
			k = n;
		memcpy(o->b + o->n, p, k);
		o->n += k;
		p += k;
		n -= k;
		if (o->n == sizeof(o->b))
			out_flush(o);
	}
}

/*
 * mboxrd quoting as a stream: a line matching ^>*From  gets one more '>'.
 * At a line start the '>'s and the part of "From " matched so far are held
 * back until the line shows whether it matches, so where the text is cut
 * into chunks does not matter.
 */
struct quote {
	bool bol;		/* at a line start, not decided yet */
	size_t gt;		/* '>'s held */
	size_t from;		/* octets of "From " held after them */
	bool nl;		/* the last octet written was a line end */
};

static void
quote_release(struct out *o, struct quote *q, bool match)
{
	if (match)
		out_add(o, ">", 1);
	for (; q->gt > 0; q->gt--)
		out_add(o, ">", 1);
	if (q->from > 0 || match)
		q->nl = false;
	out_add(o, "From ", q->from);
	q->from = 0;
	q->bol = false;
}

static void
quote_feed(struct out *o, struct quote *q, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl;
		size_t k;

		if (q->bol) {
			if (q->from == 0 && *p == '>') {
				q->gt++;
				q->nl = false;
			} else if (*p == "From "[q->from]) {
				if (++q->from == 5)
					quote_release(o, q, true);
			} else {
				quote_release(o, q, false);
				continue; /* *p is the line's own */
			}
			p++;
			n--;
			continue;
		}
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		out_add(o, p, k);
		q->nl = q->bol = nl != NULL;
		p += k;
		n -= k;
	}
}

struct feed {
	struct out *o;
	struct quote *q;
};

static int
feed_piece(void *arg, const char *p, size_t n)
{
	struct feed *f = arg;

	quote_feed(f->o, f->q, p, n);
	return f->o->err != 0 ? -1 : 0;
}

/*
 * Appends the From_ line, the X-UIDL header, the quoted message (from
 * memory or read from its spool file in 64 KiB pieces) and a blank line.
 */
static int
append_text(int fd, const struct store_delivery *d, bool need_nl)
{
	struct out *o = xmalloc(sizeof(*o));
	struct quote q = {.bol = true, .nl = true};
	char date[64];
	struct tm tm;
	int err;

	o->fd = fd;
	o->err = 0;
	o->n = 0;
	gmtime_r(&d->when, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	if (need_nl)
		out_add(o, "\n", 1);
	out_add(o, "From ", 5);
	if (d->sender[0] != '\0')
		out_add(o, d->sender, strlen(d->sender));
	else
		out_add(o, "MAILER-DAEMON", 13);
	out_add(o, " ", 1);
	out_add(o, date, strlen(date));
	/* first, so a sender's own X-UIDL can never be taken for it */
	out_add(o, "\nX-UIDL: ", 9);
	out_add(o, d->name, strlen(d->name));
	out_add(o, "\n", 1);
	if (d->data != NULL) {
		quote_feed(o, &q, d->data, d->len);
	} else {
		struct feed f = {o, &q};

		if (fsops_read_pieces(d->fd, 0, d->len, feed_piece, &f) ==
			    -1 &&
		    o->err == 0)
			o->err = errno != 0 ? errno : EIO;
	}
	if (q.bol)
		quote_release(o, &q, false);
	if (!q.nl)
		out_add(o, "\n", 1);
	out_add(o, "\n", 1);
	out_flush(o);
	err = o->err;
	free(o);
	errno = err;
	return err != 0 ? -1 : 0;
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

static void
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

		if (lseek(b->fd, b->old_size, SEEK_SET) == -1 ||
		    append_text(b->fd, d,
				!ends_with_nl(b->fd, b->old_size)) == -1)
			store_fail(d, errno, "write", b->path);
		else if (fsops_fsync(b->fd) == -1)
			store_fail(d, errno, "fsync", b->path);
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

/*
 * Reading.  The parser sees the file once, in 64 KiB reads, and keeps per
 * line only its start, its length and its first octets: a message starts
 * at a "From " line at the top of the file or after an empty line, and
 * ends before the empty line that precedes the next one.
 */
#define HEAD_MAX 96

struct parse {
	struct store_box *b;
	struct store_aux *m;	/* the message being read, or NULL */
	unsigned long long hash;	/* of the message's lines */
	unsigned long long lh;		/* of the current line */
	size_t nquoted, nlf;
	bool first_line;	/* the line after the From_ line */
	bool has_uidl;
	bool partial;		/* the last line has no LF (end of file) */
	off_t line_start;
	size_t line_len;
	char head[HEAD_MAX];
	size_t head_len;
	int quote;		/* -1: no; 0..: octets of '>'+"From " seen */
	bool seen_gt;
	bool prev_empty;
	off_t prev_start;
};

/* Message i's aux record: every mbox message has one. */
static const struct store_aux *
mbox_aux(const struct store_box *b, size_t i)
{
	return &b->aux[b->msgs[i].aux - 1];
}

static void
finish_msg(struct parse *p, off_t end)
{
	struct store_aux *m = p->m;
	size_t len, extra = 0;

	if (m == NULL)
		return;
	if (p->prev_empty && p->prev_start >= m->off) {
		end = p->prev_start; /* the separating empty line */
		p->nlf--;
	} else if (p->partial) {
		extra = 2; /* the last line goes out with a CRLF too */
	}
	m->end = end;
	len = (size_t)(m->end - m->off);
	m->size = len - p->nquoted + p->nlf + extra;
	m->octets = len - p->nquoted;
	m->has = AUX_SIZES | AUX_DATE;
	if (!p->has_uidl)
		snprintf(m->uidl, sizeof(m->uidl), "h%016llx", p->hash);
	p->m = NULL;
}

/*
 * The date a From_ line ends with ("From SENDER Www Mmm dd hh:mm:ss yyyy",
 * UTC as mbox_deliver writes it), or 0 if the line is longer than what
 * the parser keeps of it or ends otherwise.
 */
static time_t
from_line_date(const char *head, size_t head_len, size_t line_len,
	       bool ends_nl)
{
	char date[32];
	struct tm tm = {0};
	size_t n = head_len; /* head has the line's octets, no LF */
	const char *end;

	if (line_len - (ends_nl ? 1 : 0) > head_len || n < 5 + 24)
		return 0;
	memcpy(date, head + n - 24, 24);
	date[24] = '\0';
	end = strptime(date, "%a %b %e %H:%M:%S %Y", &tm);
	return end != NULL && *end == '\0' ? timegm(&tm) : 0;
}

/* A whole line has been seen (ends_nl: it ended with LF). */
static void
end_line(struct parse *p, bool ends_nl)
{
	bool empty = p->line_len == (ends_nl ? 1u : 0u);

	if (p->head_len >= 5 && memcmp(p->head, "From ", 5) == 0 &&
	    (p->line_start == 0 || p->prev_empty)) {
		struct store_box *b = p->b;

		finish_msg(p, p->line_start);
		/* the aux record moves only at the next message's start */
		p->m = box_aux(b, box_add(b));
		p->m->from_off = p->line_start;
		p->m->off = p->line_start + (off_t)p->line_len;
		p->m->date = from_line_date(p->head, p->head_len, p->line_len,
					    ends_nl);
		p->hash = p->lh;
		p->nquoted = p->nlf = 0;
		p->first_line = true;
		p->has_uidl = false;
		p->prev_empty = false;
		return;
	}
	if (p->m != NULL) {
		if (p->first_line && p->head_len > 8 &&
		    strncasecmp(p->head, "X-UIDL: ", 8) == 0 &&
		    p->line_len < HEAD_MAX) {
			/*
			 * XXX head holds no LF, so this drops the name's last
			 * octet (of the host part; the time, pid and counter
			 * before it keep it unique).  Kept: every mbox UIDL
			 * handed out so far has this form, and a change would
			 * make clients that leave mail on the server fetch it
			 * all again.
			 */
			size_t n = p->head_len - 8 - (ends_nl ? 1 : 0);
			bool ok = n > 0 && n <= 70;

			for (size_t i = 0; ok && i < n; i++)
				ok = p->head[8 + i] > ' ' &&
				     p->head[8 + i] < 0x7f;
			if (ok) {
				memcpy(p->m->uidl, p->head + 8, n);
				p->m->uidl[n] = '\0';
				p->has_uidl = true;
			}
		}
		p->first_line = false;
		p->hash = store_hash(p->hash, &p->lh, sizeof(p->lh));
		if (p->quote == 5)
			p->nquoted++;
		if (ends_nl)
			p->nlf++;
		p->partial = !ends_nl;
	}
	p->prev_empty = empty;
	p->prev_start = p->line_start;
}

/* Feeds octets of the current line (no LF among them). */
static void
line_part(struct parse *p, const char *s, size_t n)
{
	static const char from[] = "From ";

	if (p->head_len < HEAD_MAX) {
		size_t k = n < HEAD_MAX - p->head_len ? n : HEAD_MAX - p->head_len;

		memcpy(p->head + p->head_len, s, k);
		p->head_len += k;
	}
	p->lh = store_hash(p->lh, s, n);
	/* quote: 0 = a run of '>' (seen_gt once any), 1..4 = part of "From "
	 * matched after it, 5 = a quoted From_ line, -1 = not one */
	for (size_t i = 0; i < n && p->quote >= 0 && p->quote < 5; i++) {
		if (p->quote == 0 && s[i] == '>') {
			p->seen_gt = true;
		} else if (p->seen_gt && s[i] == from[p->quote]) {
			p->quote++;
		} else {
			p->quote = -1;
		}
	}
	p->line_len += n;
}

/* Feeds n octets of the file, the next after those fed before. */
static void
parse_chunk(struct parse *p, const char *buf, size_t n)
{
	const char *s, *end;

	for (s = buf, end = buf + n; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t k = nl ? (size_t)(nl - s) : (size_t)(end - s);

		line_part(p, s, k);
		s += k;
		if (nl == NULL)
			break;
		p->lh = store_hash(p->lh, "\n", 1);
		p->line_len++;
		s++;
		end_line(p, true);
		p->line_start += (off_t)p->line_len;
		p->line_len = p->head_len = 0;
		p->quote = 0;
		p->seen_gt = false;
		p->lh = STORE_HASH_INIT;
	}
}

/* The file ended at size octets. */
static void
parse_end(struct parse *p, off_t size)
{
	if (p->line_len > 0)
		end_line(p, false);
	finish_msg(p, size);
}

void
mbox_parse(struct store_box *b, const char *data, size_t len, size_t chunk)
{
	struct parse p = {.b = b, .quote = 0, .lh = STORE_HASH_INIT};

	b->size = (off_t)len;
	if (chunk == 0)
		chunk = 1;
	for (size_t off = 0; off < len; off += chunk)
		parse_chunk(&p, data + off, len - off < chunk ? len - off
							      : chunk);
	parse_end(&p, (off_t)len);
}

/*
 * Closes the snapshot's descriptor under the dot-lock: closing any
 * descriptor of a file drops every fcntl lock this process holds on it,
 * so a delivery thread of ours holding the file's fcntl lock must not be
 * running then; it holds the dot-lock for all of its write.
 */
static void
mbox_box_close(struct store_box *b)
{
	char lock[4200];
	bool locked;

	if (b->fd == -1)
		return;
	bsnprintf(lock, sizeof(lock), "%s.lock", b->path);
	locked = dotlock(lock) == 0;
	close(b->fd);
	b->fd = -1;
	if (locked)
		unlink(lock);
}

static enum store_res
mbox_box_open(struct store_box *b, bool nodir,
	      const struct store_box_edit *edit, char *err, size_t errsz)
{
	char lock[4200], buf[65536];
	struct flock unlock = {.l_whence = SEEK_SET};
	struct parse p = {.b = b};
	struct stat sb;
	off_t pos = 0;
	enum store_res r = STORE_OK;

	(void)nodir; /* the mbox file itself says: opened below */
	if (edit != NULL) {
		snprintf(err, errsz, "mbox keeps no flags, keywords or UIDs");
		return STORE_PERM;
	}
	bsnprintf(lock, sizeof(lock), "%s.lock", b->path);
	b->fd = open(b->path, O_RDONLY | O_CLOEXEC);
	if (b->fd == -1) {
		if (errno == ENOENT)
			return STORE_OK; /* no mail yet */
		snprintf(err, errsz, "open %s: %s", b->path, strerror(errno));
		return STORE_TEMP;
	}
	/* the same locks as delivery, so no half-appended message is seen */
	if (dotlock(lock) == -1) {
		snprintf(err, errsz, "lock %s: %s", lock, strerror(errno));
		return STORE_TEMP;
	}
	if (fcntl_lock(b->fd, F_RDLCK) == -1 || fstat(b->fd, &sb) == -1) {
		snprintf(err, errsz, "lock %s: %s", b->path, strerror(errno));
		unlink(lock);
		return STORE_TEMP;
	}
	b->dev = sb.st_dev;
	b->ino = sb.st_ino;
	b->size = sb.st_size;
	p.quote = 0;
	p.lh = STORE_HASH_INIT;
	while (pos < b->size) {
		size_t want = sizeof(buf);
		ssize_t n;

		if ((off_t)want > b->size - pos)
			want = (size_t)(b->size - pos);
		n = pread(b->fd, buf, want, pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errsz, "read %s: %s", b->path,
				 n == 0 ? "file shrank" : strerror(errno));
			r = STORE_TEMP;
			break;
		}
		parse_chunk(&p, buf, (size_t)n);
		pos += n;
	}
	if (r == STORE_OK)
		parse_end(&p, b->size);
	unlock.l_type = F_UNLCK;
	fcntl(b->fd, F_SETLK, &unlock);
	unlink(lock);
	return r;
}

/* Copies [from, to) of src to dst. */
static int
copy_range(int src, int dst, off_t from, off_t to)
{
	char buf[65536];

	while (from < to) {
		size_t want = sizeof(buf);
		ssize_t n;

		if ((off_t)want > to - from)
			want = (size_t)(to - from);
		n = pread(src, buf, want, from);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (fsops_write_all(dst, buf, (size_t)n) == -1)
			return -1;
		from += n;
	}
	return 0;
}

static enum store_res
mbox_box_expunge(struct store_box *b, const bool *dele, char *err,
		 size_t errsz)
{
	char lock[4200], tmp[4200], dir[4096], *slash;
	const char *what = "lock";
	struct stat sb;
	int fd = -1, out = -1;
	enum store_res r = STORE_TEMP;
	off_t prev = 0;

	bsnprintf(lock, sizeof(lock), "%s.lock", b->path);
	bsnprintf(dir, sizeof(dir), "%s", b->path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	bsnprintf(tmp, sizeof(tmp), "%s/.%s.expunge", dir, slash + 1);
	if (dotlock(lock) == -1) {
		snprintf(err, errsz, "lock %s: %s", lock, strerror(errno));
		return STORE_TEMP;
	}
	if ((fd = open(b->path, O_RDWR | O_CLOEXEC)) == -1 ||
	    fcntl_lock(fd, F_WRLCK) == -1 || fstat(fd, &sb) == -1)
		goto fail;
	what = "check";
	if (sb.st_dev != b->dev || sb.st_ino != b->ino || sb.st_size < b->size) {
		errno = ESTALE; /* rewritten by another program meanwhile */
		goto fail;
	}
	for (size_t i = 0; i < b->n; i++) {
		char from[5];

		if (pread(fd, from, 5, mbox_aux(b, i)->from_off) != 5 ||
		    memcmp(from, "From ", 5) != 0) {
			errno = ESTALE;
			goto fail;
		}
	}
	what = "write";
	out = fsops_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			 sb.st_mode & 07777);
	if (out == -1)
		goto fail;
	/* what is kept: everything but the deleted messages' ranges */
	for (size_t i = 0; i < b->n; i++) {
		off_t next = i + 1 < b->n ? mbox_aux(b, i + 1)->from_off : b->size;

		if (!dele[i])
			continue;
		if (copy_range(fd, out, prev, mbox_aux(b, i)->from_off) == -1)
			goto fail;
		prev = next;
	}
	/* the rest, with whatever arrived during the session */
	if (copy_range(fd, out, prev, sb.st_size) == -1)
		goto fail;
	what = "fsync";
	if (fchmod(out, sb.st_mode & 07777) == -1 || fsops_fsync(out) == -1)
		goto fail;
	if (fsops_close(out) == -1) {
		out = -1;
		goto fail;
	}
	out = -1;
	what = "rename";
	if (fsops_rename(tmp, b->path) == -1)
		goto fail;
	what = "fsync";
	if (fsops_fsync_dir(dir) == -1)
		goto fail; /* renamed but maybe not durable: say TEMP */
	r = STORE_OK;
	goto done;
fail:
	r = errno == ENOSPC || errno == EDQUOT ? STORE_NOSPACE : STORE_TEMP;
	snprintf(err, errsz, "%s %s: %s", what, b->path, strerror(errno));
	if (out != -1)
		close(out);
	unlink(tmp);
done:
	if (fd != -1)
		close(fd);
	unlink(lock);
	return r;
}

/*
 * mboxrd unquoting: a line matching ^>+From  loses one '>'.  Every '>'
 * but the first is passed on at once; the first is held until the line
 * shows whether "From " follows the run, so the state is a few bits.
 */
static size_t
unquote(struct store_reader *r, const char *in, size_t n, char *out)
{
	static const char from[] = "From ";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (r->held) {
			if (r->from == 0 && c == '>') {
				out[o++] = '>';
				continue;
			}
			if (c == from[r->from]) {
				if (++r->from == 5) {
					memcpy(out + o, from, 5);
					o += 5;
					r->held = false;
					r->bol = false;
				}
				continue;
			}
			out[o++] = '>';
			memcpy(out + o, from, r->from);
			o += r->from;
			r->held = false;
			r->bol = false;
		} else if (r->bol && c == '>') {
			r->held = true;
			r->from = 0;
			continue;
		}
		out[o++] = c;
		r->bol = c == '\n';
		if (!r->bol && i + 1 < n) {
			/* the rest of this line, in one copy */
			const char *nl = memchr(in + i + 1, '\n', n - i - 1);
			size_t k = nl ? (size_t)(nl - in) - i : n - i - 1;

			memcpy(out + o, in + i + 1, k);
			o += k;
			i += k;
			r->bol = nl != NULL;
		}
	}
	return o;
}

static ssize_t
mbox_reader_read(struct store_reader *r, char *buf, size_t size)
{
	char raw[65536];
	size_t want;
	ssize_t n;

	for (;;) {
		if (r->pos >= r->end) {
			if (r->held) { /* a text ending in ">" or ">Fro" */
				size_t o = 0;

				buf[o++] = '>';
				memcpy(buf + o, "From ", r->from);
				o += r->from;
				r->held = false;
				return (ssize_t)o;
			}
			return 0;
		}
		/* unquoting only shrinks; keep room for a held run */
		if (size < 8)
			return -1;
		want = (size_t)(r->end - r->pos);
		if (want > size - 6)
			want = size - 6;
		if (want > sizeof(raw))
			want = sizeof(raw);
		n = pread(r->fd, raw, want, r->pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file shrank under us */
			return -1;
		}
		r->pos += n;
		n = (ssize_t)unquote(r, raw, (size_t)n, buf);
		if (n > 0)
			return n;
	}
}

/* The snapshot's descriptor is shared by every reader of the box. */
static int
mbox_reader_open(struct store_box *b, size_t i, struct store_reader *r)
{
	if (b->fd == -1) {
		errno = ENOENT;
		return -1;
	}
	r->fd = b->fd;
	r->pos = mbox_aux(b, i)->off;
	r->end = mbox_aux(b, i)->end;
	return 0;
}

static void
mbox_reader_close(struct store_reader *r)
{
	r->fd = -1; /* the box's: closed with it */
}

static void
mbox_deliver_batch(struct store *st, struct store_delivery **batch, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mbox_deliver(st, batch[i]);
}

const struct store_ops store_mbox_ops = {
	.name = "mbox",
	.suffix = ".mbox",
	.deliver = mbox_deliver_batch,
	.box_open = mbox_box_open,
	.box_close = mbox_box_close,
	.reader_open = mbox_reader_open,
	.reader_read = mbox_reader_read,
	.reader_close = mbox_reader_close,
	.box_expunge = mbox_box_expunge,
};
