/*
 * mailbox - reading mailboxes for POP3 (see store.h): the format-neutral
 * parts, the message reader, and the Maildir side.
 *
 * Maildir snapshot: every new/NAME is renamed to cur/NAME:2, (as Dovecot
 * and Courier do; the rename is atomic, so a crash leaves the message in
 * one place or the other, never lost), then cur/ is listed once.  Sizes
 * come from ",S=" and ",W=" in the name; only a file without W= (written
 * by another program) is read, to count its lines.  The UIDL is the base
 * name before the first ',' or ':', which the move to cur/ and later flag
 * changes do not touch; a base that is too long or not printable is hashed.
 * A message renamed by another reader (flags) is found again by its base.
 */
#include <dirent.h>
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

enum store_res
store_box_open(struct store *st, const char *user, struct store_box **bp,
	       char *err, size_t errsz)
{
	struct store_box *b = xcalloc(1, sizeof(*b));
	enum store_res r;

	*bp = NULL;
	b->st = st;
	b->fd = -1;
	if (!store_user_valid(user) ||
	    store_mailbox_path(st, user, b->path, sizeof(b->path)) == -1) {
		snprintf(err, errsz, "invalid mailbox name");
		free(b);
		return STORE_PERM;
	}
	r = st->fmt == MBOX_FMT_MBOX ? mbox_box_open(b, err, errsz)
				     : maildir_box_open(b, err, errsz);
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
	free(b);
	*bp = NULL;
}

static int
cmp_uidl_idx(const void *a, const void *b, void *arg)
{
	const struct store_msg *m = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(m[i].uidl, m[j].uidl);

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
 * but the first gets ".2", ".3", ... (last: a hash of the uidl and the
 * message's number instead).  True if it renamed any.
 */
static bool
unique_round(struct store_box *b, bool last)
{
	size_t *idx = xcalloc(b->n + 1, sizeof(*idx));
	bool renamed = false;
	char run[72];

	for (size_t i = 0; i < b->n; i++)
		idx[i] = i;
	qsort_r(idx, b->n, sizeof(*idx), cmp_uidl_idx, b->msgs);
	snprintf(run, sizeof(run), "%s", b->msgs[idx[0]].uidl);
	for (size_t i = 1, k = 2; i < b->n; i++) {
		struct store_msg *m = &b->msgs[idx[i]];

		if (strcmp(m->uidl, run) != 0) {
			snprintf(run, sizeof(run), "%s", m->uidl);
			k = 2;
			continue;
		}
		if (last)
			snprintf(m->uidl, sizeof(m->uidl), "h%016llx.%zu",
				 store_hash(store_hash(STORE_HASH_INIT, run,
						       strlen(run)),
					    &idx[i], sizeof(idx[i])),
				 idx[i] + 1);
		else
			uidl_suffix(m->uidl, k++);
		renamed = true;
	}
	free(idx);
	return renamed;
}

void
store_box_unique_uidls(struct store_box *b)
{
	int round = 0;

	/* again while a suffix made a new repeat; a few rounds at most
	 * unless the names were made to collide, then the hashes settle it */
	if (b->n < 2)
		return;
	while (unique_round(b, false))
		if (++round == 8) {
			unique_round(b, true);
			break;
		}
}

/* The uidl for a Maildir name: its base, or a hash of it. */
static void
maildir_uidl(const char *name, char *out)
{
	size_t n = strcspn(name, ",:");
	bool ok = n > 0 && n <= 70;

	for (size_t i = 0; ok && i < n; i++)
		ok = name[i] > ' ' && name[i] < 0x7f;
	if (ok) {
		memcpy(out, name, n);
		out[n] = '\0';
	} else {
		snprintf(out, 72, "h%016llx",
			 store_hash(STORE_HASH_INIT, name, n));
	}
}

/* The value of ",X=" in the base name, or -1. */
static long long
name_field(const char *name, char x)
{
	size_t base = strcspn(name, ":");

	for (const char *p = name; (p = strchr(p, ',')) != NULL &&
				   (size_t)(p - name) < base;
	     p++) {
		char *end;
		long long v;

		if (p[1] != x || p[2] != '=')
			continue;
		errno = 0;
		v = strtoll(p + 3, &end, 10);
		if (errno == 0 && end != p + 3 && v >= 0 &&
		    (*end == ',' || *end == ':' || *end == '\0'))
			return v;
	}
	return -1;
}

/* A file without W=: its size with CRLF line ends, by reading it. */
static long long
count_crlf_size(const char *path)
{
	char buf[65536];
	long long n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		n += (long long)store_crlf_size(buf, (size_t)r);
	close(fd);
	return r == 0 ? n : -1;
}

/* The delivery time of a Maildir name: TIME[.M<usec>...], or 0s. */
static void
name_time(const char *name, unsigned long long *sec, unsigned long long *usec)
{
	char *end;

	*sec = strtoull(name, &end, 10);
	*usec = 0;
	if (end[0] == '.' && end[1] == 'M')
		*usec = strtoull(end + 2, NULL, 10);
}

long long
maildir_name_info(const char *name, struct store_msg *m)
{
	name_time(name, &m->sec, &m->usec);
	maildir_uidl(name, m->uidl);
	return name_field(name, 'W');
}

/* Arrival order: the time and microseconds in the names, numerically
 * (M<usec> is not zero-padded; parsed once per name, not per comparison:
 * that was a quarter of LIST's time on 10,000 messages), then the names
 * themselves. */
static int
cmp_msg_name(const void *a, const void *b)
{
	const struct store_msg *x = a, *y = b;

	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return strcmp(x->file, y->file);
}

/* Moves new/ into cur/; a message gone meanwhile is skipped. */
static int
move_new(const char *dir)
{
	char from[4400], to[4400], path[4200];
	struct dirent *de;
	DIR *dp;

	bsnprintf(path, sizeof(path), "%s/new", dir);
	if ((dp = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		bsnprintf(from, sizeof(from), "%s/new/%s", dir, de->d_name);
		if (bsnprintf(to, sizeof(to), "%s/cur/%s%s", dir, de->d_name,
			      strchr(de->d_name, ':') ? "" : ":2,") == -1)
			continue;
		if (rename(from, to) == -1 && errno != ENOENT) {
			closedir(dp);
			return -1;
		}
	}
	closedir(dp);
	return 0;
}

enum store_res
maildir_box_open(struct store_box *b, char *err, size_t errsz)
{
	char path[4400];
	struct dirent *de;
	size_t cap = 0;
	DIR *dp;
	bool rolled;
	enum store_res r;

	/* a QUIT that a crash interrupted is finished first */
	r = maildir_expunge_recover(b->path, &rolled, err, errsz);
	if (r != STORE_OK)
		return r;
	if (move_new(b->path) == -1) {
		snprintf(err, errsz, "%s/new: %s", b->path, strerror(errno));
		return STORE_TEMP;
	}
	bsnprintf(path, sizeof(path), "%s/cur", b->path);
	if ((dp = opendir(path)) == NULL) {
		if (errno == ENOENT)
			return STORE_OK; /* no mail yet */
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return STORE_TEMP;
	}
	while ((de = readdir(dp)) != NULL) {
		struct store_msg *m;
		long long w;

		if (de->d_name[0] == '.')
			continue;
		if (b->n == cap) {
			cap = cap ? cap * 2 : 64;
			b->msgs = xrealloc(b->msgs, cap * sizeof(*b->msgs));
		}
		m = &b->msgs[b->n];
		memset(m, 0, sizeof(*m));
		if ((w = maildir_name_info(de->d_name, m)) == -1) {
			bsnprintf(path, sizeof(path), "%s/cur/%s", b->path,
				  de->d_name);
			if ((w = count_crlf_size(path)) == -1)
				continue; /* gone or unreadable: skip it */
		}
		m->size = (size_t)w;
		m->file = xstrdup(de->d_name);
		b->n++;
	}
	closedir(dp);
	/* names start with the delivery time */
	if (b->n > 0)
		qsort(b->msgs, b->n, sizeof(*b->msgs), cmp_msg_name);
	return STORE_OK;
}

/*
 * The current name in cur/ of a message whose name was m->file: the same
 * base with other flags if another program renamed it.  -1 if gone.
 */
static int
maildir_find(struct store_box *b, struct store_msg *m, char *out,
	     size_t size)
{
	size_t base = strcspn(m->file, ":");
	struct dirent *de;
	DIR *dp;
	int r = -1;

	bsnprintf(out, size, "%s/cur", b->path);
	if ((dp = opendir(out)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, m->file, base) == 0 &&
		    (de->d_name[base] == ':' || de->d_name[base] == '\0')) {
			r = bsnprintf(out, size, "%s/cur/%s", b->path,
				      de->d_name) == -1 ? -1 : 0;
			break;
		}
	}
	closedir(dp);
	return r;
}

int
maildir_reader_open(struct store_box *b, size_t i, struct store_reader *r)
{
	char path[4400];
	struct stat sb;

	bsnprintf(path, sizeof(path), "%s/cur/%s", b->path, b->msgs[i].file);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd == -1 && errno == ENOENT &&
	    maildir_find(b, &b->msgs[i], path, sizeof(path)) == 0)
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd == -1)
		return -1;
	if (fstat(r->fd, &sb) == -1) {
		close(r->fd);
		r->fd = -1;
		return -1;
	}
	r->pos = 0;
	r->end = sb.st_size;
	return 0;
}

int
store_reader_open(struct store_box *b, size_t i, struct store_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->bol = true;
	if (i >= b->n) {
		errno = ENOENT;
		return -1;
	}
	if (b->st->fmt == MBOX_FMT_MAILDIR)
		return maildir_reader_open(b, i, r);
	if (b->fd == -1) {
		errno = ENOENT;
		return -1;
	}
	r->fd = b->fd;
	r->pos = b->msgs[i].off;
	r->end = b->msgs[i].end;
	r->mbox = true;
	return 0;
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

ssize_t
store_reader_read(struct store_reader *r, char *buf, size_t size)
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
		want = (size_t)(r->end - r->pos);
		if (!r->mbox) {
			if (want > size)
				want = size;
			n = pread(r->fd, buf, want, r->pos);
		} else {
			/* unquoting only shrinks; keep room for a held run */
			if (size < 8)
				return -1;
			if (want > size - 6)
				want = size - 6;
			if (want > sizeof(raw))
				want = sizeof(raw);
			n = pread(r->fd, raw, want, r->pos);
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file shrank under us */
			return -1;
		}
		r->pos += n;
		if (!r->mbox)
			return n;
		n = (ssize_t)unquote(r, raw, (size_t)n, buf);
		if (n > 0)
			return n;
	}
}

void
store_reader_close(struct store_reader *r)
{
	if (!r->mbox && r->fd != -1)
		close(r->fd);
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
	return b->st->fmt == MBOX_FMT_MBOX ? mbox_box_expunge(b, dele, err,
							      errsz)
					   : maildir_box_expunge(b, dele, err,
								 errsz);
}
