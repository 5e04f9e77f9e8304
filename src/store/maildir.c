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
 *
 * Reading (POP3 snapshot): every new/NAME is renamed to cur/NAME:2, (as
 * Dovecot and Courier do; the rename is atomic, so a crash leaves the
 * message in one place or the other, never lost), then cur/ is listed
 * once.  Sizes come from ",S=" and ",W=" in the name; only a file without
 * W= (written by another program) is read, to count its lines.  The UIDL
 * is the base name before the first ',' or ':', which the move to cur/ and
 * later flag changes do not touch; a base that is too long or not
 * printable is hashed.  A message renamed by another reader (flags) is
 * found again by its base.  The expunge is in maildir_expunge.c.
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
#include "store_private.h"
#include "uidlist.h"

#define PATH_MAX_OWL 4096

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
		if (maildir_ensure(st, dir) == -1) {
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

static void
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

/* A file without W=: its size with CRLF line ends (and *octets, its
 * size), by reading it. */
static long long
count_crlf_size(const char *path, long long *octets)
{
	char buf[65536];
	long long n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*octets = 0;
	if (fd == -1)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		n += (long long)store_crlf_size(buf, (size_t)r);
		*octets += r;
	}
	close(fd);
	return r == 0 ? n : -1;
}

/* A file with W= but without S= (another program's): stat, not read. */
static long long
stat_size(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		return -1;
	if (!S_ISREG(sb.st_mode)) {
		errno = EISDIR; /* not a message */
		return -1;
	}
	return (long long)sb.st_size;
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

_Static_assert((int)STORE_F_DRAFT == (int)UF_DRAFT &&
	       (int)STORE_F_FLAGGED == (int)UF_FLAGGED &&
	       (int)STORE_F_PASSED == (int)UF_PASSED &&
	       (int)STORE_F_ANSWERED == (int)UF_ANSWERED &&
	       (int)STORE_F_SEEN == (int)UF_SEEN &&
	       (int)STORE_F_DELETED == (int)UF_DELETED,
	       "the index keeps the store's flag bits");

struct box_edit_call {
	struct store_box *b;
	const struct store_box_edit *edit;
};

/* The box's edit, run by the index sync with each message's UID known. */
static enum store_res
run_box_edit(struct uidlist *ul, struct uidlist_file *files, size_t n,
	     void *arg, bool *changed, char *err, size_t errsz)
{
	struct box_edit_call *c = arg;

	for (size_t i = 0; i < n; i++) {
		c->b->msgs[i].uid = files[i].uid;
		c->b->msgs[i].modseq = files[i].modseq;
		c->b->msgs[i].flags = files[i].flags;
	}
	return c->edit->fn(c->b, ul, c->edit->arg, changed, err, errsz);
}

/* Gives each message of the box its UID, flags and keywords from the
 * index, after edit (NULL: none) changed it. */
static enum store_res
sync_index(struct store_box *b, const struct store_box_edit *edit,
	   char *err, size_t errsz)
{
	struct uidlist_file *files = xcalloc(b->n + 1, sizeof(*files));
	struct box_edit_call call = {b, edit};
	struct index_edit ie = {run_box_edit, &call};
	struct index_state state = {0};
	enum store_res r;

	for (size_t i = 0; i < b->n; i++) {
		files[i].name = b->msgs[i].file;
		files[i].baselen = strcspn(b->msgs[i].file, ":");
	}
	r = maildir_index_sync(b->path, files, b->n, edit ? &ie : NULL,
			       &state, err, errsz);
	b->uidvalidity = state.uidvalidity;
	b->uidnext = state.uidnext;
	b->highestmodseq = state.highestmodseq;
	for (size_t i = 0; i < b->n; i++) {
		if (r == STORE_OK) {
			b->msgs[i].uid = files[i].uid;
			b->msgs[i].modseq = files[i].modseq;
			b->msgs[i].flags = files[i].flags;
			b->msgs[i].keywords = files[i].keywords;
		} else {
			free(files[i].keywords);
		}
	}
	free(files);
	return r;
}

static enum store_res
maildir_box_open(struct store_box *b, bool nodir,
		 const struct store_box_edit *edit, char *err, size_t errsz)
{
	char path[4400];
	struct dirent *de;
	size_t cap = 0;
	DIR *dp;
	bool rolled;
	enum store_res r;

	if (nodir)
		return STORE_OK; /* no Maildir when we locked: no mail yet */
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
		long long w, o;

		if (de->d_name[0] == '.')
			continue;
		if (b->n == cap) {
			cap = cap ? cap * 2 : 64;
			b->msgs = xrealloc(b->msgs, cap * sizeof(*b->msgs));
		}
		m = &b->msgs[b->n];
		memset(m, 0, sizeof(*m));
		w = maildir_name_info(de->d_name, m);
		o = name_field(de->d_name, 'S');
		if (w == -1 || o == -1) { /* not ours: ask the file */
			bsnprintf(path, sizeof(path), "%s/cur/%s", b->path,
				  de->d_name);
			if (w == -1)
				w = count_crlf_size(path, &o);
			else
				o = stat_size(path);
			if (w == -1 || o == -1) {
				/* unreadable now: stat's size, so that it
				 * keeps its UID; gone: skip it */
				if ((o = stat_size(path)) == -1 &&
				    (errno == ENOENT || errno == EISDIR))
					continue;
				if (o == -1) {
					closedir(dp);
					return store_sys_fail(err, errsz,
							      "stat", path);
				}
				w = o;
			}
		}
		m->size = (size_t)w;
		m->octets = (size_t)o;
		m->file = xstrdup(de->d_name);
		m->date = (time_t)m->sec;
		b->n++;
	}
	closedir(dp);
	/* names start with the delivery time */
	if (b->n > 0)
		qsort(b->msgs, b->n, sizeof(*b->msgs), cmp_msg_name);
	return sync_index(b, edit, err, errsz);
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

static int
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

static void
maildir_reader_close(struct store_reader *r)
{
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
}

const struct store_ops store_maildir_ops = {
	.name = "maildir",
	.suffix = "",
	.deliver = maildir_deliver,
	.lock_file = true,
	.set_flags = maildir_set_flags,
	.append = maildir_append,
	.copy = maildir_copy,
	.box_open = maildir_box_open,
	.reader_open = maildir_reader_open,
	.reader_read = store_read_plain,
	.reader_close = maildir_reader_close,
	.box_expunge = maildir_box_expunge,
};
