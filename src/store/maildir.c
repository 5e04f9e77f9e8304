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
 * Reading (a scan): new/ and cur/ are listed once each; a delivered
 * message stays in new/ until its flags change (then it moves to
 * cur/NAME:2,FLAGS), so no open renames anything (docs/MAILDIR.md, "Where
 * a message lives").  Sizes come from ",S=" and ",W=" in the name; only a
 * file without W= (written by another program) is read, to count its
 * lines.  The UIDL is the base name before the first ',' or ':', which
 * the move to cur/ and later flag changes do not touch; a base that is
 * too long or not printable is hashed.  A message renamed by another
 * reader (flags) is found again by its base.  The expunge is in
 * maildir_expunge.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
		if (store_delivery_dir(st, d, i, dir, sizeof(dir)) == -1) {
			store_fail(d, EINVAL, "mailbox", d->users[i]);
			d->res = STORE_PERM;
			return;
		}
		if (maildir_ensure(st, dir) == -1) {
			store_fail(d, errno, "mkdir", dir);
			return;
		}
	}
	store_delivery_dir(st, d, 0, dir, sizeof(dir));
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
		store_delivery_dir(st, d, i, dir, sizeof(dir));
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
		store_delivery_dir(st, p->d, i, dir, sizeof(dir));
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
			store_delivery_dir(st, batch[i], j, dir,
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
				store_delivery_dir(st, d, u, dir,
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

/* A file of cur/ or new/ as the scan lists it, before it is in the box. */
struct listed {
	size_t name;		/* offset in the listing's text */
	unsigned long long sec, usec; /* arrival time from the name */
	long long size, octets;	/* foreign files: read or stat'ed; else -1 */
	bool innew;		/* listed in new/ */
	size_t baselen;		/* octets of the name up to ':' */
};

struct listing {
	struct listed *e;
	size_t n, cap;
	char *text;		/* the names, NUL-terminated, one after another */
	size_t len, tcap;
};

static void
listing_add(struct listing *l, const char *name, bool innew, long long size,
	    long long octets)
{
	size_t n = strlen(name) + 1;
	struct listed *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	if (l->len + n > l->tcap) {
		l->tcap = l->tcap ? l->tcap * 2 : 65536;
		while (l->len + n > l->tcap)
			l->tcap *= 2;
		l->text = xrealloc(l->text, l->tcap);
	}
	e = &l->e[l->n++];
	e->name = l->len;
	memcpy(l->text + l->len, name, n);
	l->len += n;
	maildir_name_time(name, &e->sec, &e->usec);
	e->size = size;
	e->octets = octets;
	e->innew = innew;
	e->baselen = strcspn(name, ":");
}

static void
listing_free(struct listing *l)
{
	free(l->e);
	free(l->text);
}

/* Arrival order: the time and microseconds in the names, numerically
 * (M<usec> is not zero-padded; parsed once per name, not per comparison:
 * that was a quarter of LIST's time on 10,000 messages), then the base
 * names, then cur/ before new/: of a file another program was moving
 * from new/ to cur/ while both were listed, the one in cur/ is the
 * message (the index sync numbers the first of a base only). */
static int
cmp_listed(const void *a, const void *b, void *arg)
{
	const struct listed *x = a, *y = b;
	const char *text = arg;
	size_t n = x->baselen < y->baselen ? x->baselen : y->baselen;
	int c;

	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	c = memcmp(text + x->name, text + y->name, n);
	if (c != 0 || x->baselen != y->baselen)
		return c != 0 ? c : x->baselen < y->baselen ? -1 : 1;
	if (x->innew != y->innew)
		return x->innew ? 1 : -1;
	return strcmp(text + x->name, text + y->name);
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
	enum store_res r;

	for (size_t i = 0; i < n; i++) {
		c->b->msgs[i].uid = files[i].uid;
		box_set_modseq(c->b, i, files[i].modseq);
		c->b->msgs[i].flags = (uint8_t)files[i].flags;
	}
	r = c->edit->fn(c->b, ul, c->edit->arg, changed, err, errsz);
	/* an edit may hand out UIDs anew (an append's, in the order asked) */
	for (size_t i = 0; i < n; i++)
		files[i].uid = c->b->msgs[i].uid;
	return r;
}

/* True if message i's name, as the box keeps it, has a ':'. */
static bool
name_has_colon(const struct store_box *b, size_t i)
{
	const char *s = b->arena + b->msgs[i].name;

	if (strchr(s, ':') != NULL)
		return true;
	return (b->msgs[i].bits & STORE_MSG_SPLIT) &&
	       strchr(s + strlen(s) + 1, ':') != NULL;
}

/*
 * True if every name of the box is what its index record gives back (in
 * cur/ the base, ":2," and the system flags in order: box_set_name keeps
 * the info as flags; in new/ the base alone) and says its sizes: a view
 * can then be built from the index alone while cur/ and new/ are
 * unchanged.
 */
static bool
names_from_records(const struct store_box *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct store_msg *m = &b->msgs[i];

		if (m->aux != 0)
			return false;
		if (!(m->bits & STORE_MSG_NEW) && !(m->bits & STORE_MSG_INFO))
			return false;
		if ((m->bits & STORE_MSG_NEW) &&
		    ((m->bits & STORE_MSG_INFO) || name_has_colon(b, i)))
			return false;
	}
	return true;
}

/* Gives each message of the box its UID, flags and keywords from the
 * index, after edit (NULL: none) changed it; files[i] is message i. */
static enum store_res
sync_index(struct store_box *b, struct uidlist_file *files,
	   const struct store_box_edit *edit,
	   const struct uidlist_stamp stamps[2], bool settled, char *err,
	   size_t errsz)
{
	struct box_edit_call call = {b, edit};
	struct index_edit ie = {run_box_edit, &call};
	struct index_state state = {0};
	struct uidlist_stamp seen[2] = {{0}, {0}};
	enum store_res r;

	/* the index may say C and W only for a settled listing that the
	 * records give back */
	if (settled && names_from_records(b)) {
		seen[0] = stamps[0];
		seen[1] = stamps[1];
	}
	r = maildir_index_sync(b->path, files, b->n, edit ? &ie : NULL,
			       seen, &state, err, errsz);
	b->uidvalidity = state.uidvalidity;
	b->uidnext = state.uidnext;
	b->highestmodseq = state.highestmodseq;
	if (r == STORE_OK) {
		free(b->mark);
		b->mark = xcalloc(1, sizeof(*b->mark));
		b->mark->cur = stamps[0];
		b->mark->cur_settled = settled;
		if (settled)
			b->mark->newdir = stamps[1];
		for (size_t i = 0; i < b->n && !b->mark->new_held; i++)
			b->mark->new_held = (b->msgs[i].bits &
					     STORE_MSG_NEW) != 0;
		b->mark->idx = state.file;
		b->mark->recent = state.recent;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (r == STORE_OK) {
			b->msgs[i].uid = files[i].uid;
			box_set_modseq(b, i, files[i].modseq);
			b->msgs[i].flags = (uint8_t)files[i].flags;
			box_set_keywords(b, i, files[i].keywords);
		}
		free(files[i].keywords);
	}
	return r;
}

/*
 * One file of cur/ or new/ (sub) into the listing: its sizes from its
 * name, or for a file another program wrote, from the file (read, or
 * stat'ed if it is unreadable now, so that it keeps its UID).  A file
 * gone meanwhile, or not a regular file, is left out; -1 (errno) if it
 * cannot be stat'ed.
 */
static int
list_file(struct listing *l, const char *dir, const char *sub,
	  const char *name)
{
	char path[4400];
	bool innew = sub[0] == 'n';
	long long w, o;

	w = maildir_name_sizes(name, &o);
	if (w != -1 && o != -1) {
		listing_add(l, name, innew, -1, -1);
		return 0;
	}
	bsnprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (w == -1)
		w = count_crlf_size(path, &o);
	else
		o = stat_size(path);
	if (w == -1 || o == -1) {
		if ((o = stat_size(path)) == -1)
			return errno == ENOENT || errno == EISDIR ? 0 : -1;
		w = o;
	}
	listing_add(l, name, innew, w, o);
	return 0;
}

_Atomic unsigned long maildir_listings;

/* Lists DIR/sub into l; STORE_OK and *none if there is no such
 * directory. */
static enum store_res
list_sub(const char *dir, const char *sub, struct listing *l, bool *none,
	 char *err, size_t errsz)
{
	char path[4400];
	struct dirent *de;
	DIR *dp;

	*none = false;
	bsnprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((dp = opendir(path)) == NULL) {
		*none = errno == ENOENT;
		if (*none)
			return STORE_OK; /* no mail yet */
		return store_sys_fail(err, errsz, "opendir", path);
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (list_file(l, dir, sub, de->d_name) == -1) {
			enum store_res r = store_sys_fail(err, errsz, "stat",
							  de->d_name);

			closedir(dp);
			return r;
		}
	}
	closedir(dp);
	return STORE_OK;
}

/* The listing, in delivery order, into the box and the sync's files. */
static struct uidlist_file *
fill_box(struct store_box *b, struct listing *l)
{
	struct uidlist_file *files = xcalloc(l->n + 1, sizeof(*files));

	/* names start with the delivery time */
	if (l->n > 1)
		qsort_r(l->e, l->n, sizeof(*l->e), cmp_listed, l->text);
	b->msgs = xmalloc((l->n + 1) * sizeof(*b->msgs));
	b->cap = l->n + 1;
	for (size_t i = 0; i < l->n; i++) {
		const char *name = l->text + l->e[i].name;
		size_t k = box_add(b);

		/* in time order the names are all over the listing's text:
		 * ask for a later one's line while this one is copied */
		if (i + 8 < l->n)
			__builtin_prefetch(l->text + l->e[i + 8].name);

		box_set_name(b, k, name);
		if (l->e[i].innew)
			b->msgs[k].bits |= STORE_MSG_NEW;
		if (l->e[i].size != -1) {
			struct store_aux *a = box_aux(b, k);

			a->size = (uint64_t)l->e[i].size;
			a->octets = (uint64_t)l->e[i].octets;
			a->has |= AUX_SIZES;
		}
		files[k].name = name;
		files[k].baselen = l->e[i].baselen;
		files[k].innew = l->e[i].innew;
	}
	return files;
}

/* A directory of this many octets holds a few thousand names or more:
 * listing it again costs more than waiting out a clock tick. */
#define BIG_DIR_OCTETS (64 * 1024)

/* Nanoseconds from the mtime of s to now (negative: the clock went back). */
static int64_t
stamp_age_ns(const struct uidlist_stamp *s)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return ((int64_t)now.tv_sec - s->sec) * 1000000000L +
	       (now.tv_nsec - s->nsec);
}

/*
 * Stamps DIR/sub before it is listed (a change after shows as a later
 * one), and says whether the stamp is settled (maildir_stamp_settled).
 * A big directory changed within the last tick of a local filesystem (a
 * delivery a moment ago) is waited for, once, for the rest of the tick
 * (MAILDIR_SETTLED_LOCAL_NS at most): its listing is then settled and
 * the index can say C and W, so the next open need not list it again.
 */
static bool
stamp_sub(const char *dir, const char *sub, bool local,
	  struct uidlist_stamp *s)
{
	char path[4400];
	struct stat sb;
	int64_t age;

	bsnprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (maildir_stamp(path, s) == -1)
		return false;
	if (maildir_stamp_settled(s, local))
		return true;
	age = stamp_age_ns(s);
	if (!local || age < 0 || age >= MAILDIR_SETTLED_LOCAL_NS ||
	    stat(path, &sb) == -1 || sb.st_size < BIG_DIR_OCTETS)
		return false;
	nanosleep(&(struct timespec){0, MAILDIR_SETTLED_LOCAL_NS - age},
		  NULL);
	if (maildir_stamp(path, s) == -1)
		return false;
	return maildir_stamp_settled(s, local);
}

/*
 * Files in tmp/ untouched for MAILDIR_TMP_STALE_S are what a crash left
 * (a write cut short, or a delivery's file already linked into new/ and
 * not yet unlinked): a file is there only while a commit writes it (a
 * message being received waits in memory or an anonymous spool), and no
 * reader looks there.  They go at a box's first scan, as the Maildir
 * convention and Dovecot have it (36 hours); dot-files and directories
 * stay.  Best effort.
 */
#define MAILDIR_TMP_STALE_S (36 * 3600)

static void
sweep_tmp(const char *dir)
{
	char path[PATH_MAX_OWL];
	time_t cut = time(NULL) - MAILDIR_TMP_STALE_S;
	struct dirent *e;
	unsigned removed = 0;
	DIR *d;

	if (bsnprintf(path, sizeof(path), "%s/tmp", dir) == -1 ||
	    (d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat sb;

		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) ==
			    -1 ||
		    !S_ISREG(sb.st_mode) || sb.st_mtime >= cut)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	if (removed > 0)
		log_msg(LOGL_INFO, "store", "event=tmp-swept path=%s files=%u",
			path, removed);
}

/*
 * A scan: new/ and cur/ listed (new/ first: a message another program
 * moves from new/ to cur/ meanwhile is then seen at least once), each
 * stamped before, and synced with the index.  Messages stay where they
 * are: a delivered message stays in new/ until its flags change (as
 * Dovecot leaves them for an EXAMINE), so opening a folder of 100,000
 * new messages renames none.
 */
static enum store_res
maildir_box_open(struct store_box *b, bool nodir,
		 const struct store_box_edit *edit, char *err, size_t errsz)
{
	struct listing l = {0};
	struct uidlist_file *files;
	struct uidlist_stamp stamps[2];
	bool rolled, nonew, nocur, settled, local;
	enum store_res r;

	if (nodir)
		return STORE_OK; /* no Maildir when we locked: no mail yet */
	if (!b->tmp_swept) {
		b->tmp_swept = true;
		sweep_tmp(b->path);
	}
	/* a QUIT that a crash interrupted is finished first */
	r = maildir_expunge_recover(b->path, &rolled, err, errsz);
	if (r != STORE_OK)
		return r;
	/* so is a save of several messages that a crash cut short */
	r = maildir_saving_recover(b->st, b->path, err, errsz);
	if (r != STORE_OK)
		return r;
	local = maildir_fs_local(b->path);
	maildir_listings++;
	settled = stamp_sub(b->path, "new", local, &stamps[1]);
	r = list_sub(b->path, "new", &l, &nonew, err, errsz);
	if (r == STORE_OK) {
		settled = stamp_sub(b->path, "cur", local, &stamps[0]) &&
			  settled;
		r = list_sub(b->path, "cur", &l, &nocur, err, errsz);
	}
	if (r != STORE_OK || (nonew && nocur)) {
		listing_free(&l);
		return r;
	}
	files = fill_box(b, &l);
	r = sync_index(b, files, edit, stamps, settled, err, errsz);
	free(files);
	listing_free(&l);
	return r;
}

static int
maildir_reader_open(struct store_box *b, size_t i, struct store_reader *r)
{
	char path[4400], file[STORE_NAME_MAX * 2];
	struct stat sb;

	if (store_box_file(b, i, file, sizeof(file)) == -1 ||
	    store_box_path(b, i, path, sizeof(path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd == -1 && errno == ENOENT &&
	    maildir_find(b, file, path, sizeof(path)) == 0)
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
	.ensure = maildir_ensure,
	.set_flags = maildir_set_flags,
	.append = maildir_append,
	.copy = maildir_copy,
	.box_open = maildir_box_open,
	.reader_open = maildir_reader_open,
	.reader_read = store_read_plain,
	.reader_close = maildir_reader_close,
	.box_expunge = maildir_box_expunge,
};
