/*
 * maildir_save - what a shared view (IMAP) writes into a Maildir besides
 * delivery: a message's flags in its name, an appended message, and
 * copies of messages into another folder.  Each is all or nothing and
 * durable before it returns STORE_OK, the same way delivery is (see the
 * state table in docs/MAILDIR.md): a file is written to tmp/, fsync'ed,
 * linked or renamed into cur/, and cur/ fsync'ed; on a failure what was
 * made visible is removed again.  The caller holds no lock for a save;
 * the message gets its UID right after, under the index lock
 * (view_change.c: through the index log, or a scan).
 *
 * Names: TIME.M<usec>P<pid>Q<seq>.HOST,S=<octets>,W=<crlf size>:2,FLAGS,
 * as delivery makes them; TIME is the internal date (an appended
 * message's date, a copy's original), so that it survives a rebuild of
 * the index; a date given in another zone than +0000 (APPEND's
 * "... +0200") adds ",Z=+0200" after W=, so that the zone survives too.
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

#define PATH_MAX_OWL 4096

static const char flag_letters[] = "DFPRST";

/* Makes sure dir/{tmp,new,cur} exist, durably if they were created. */
int
maildir_ensure(struct store *st, const char *dir)
{
	static const char *subs[] = {"tmp", "new", "cur"};
	char path[PATH_MAX_OWL], parent[PATH_MAX_OWL];
	struct stat sb;
	char *slash;

	bsnprintf(path, sizeof(path), "%s/new", dir);
	if (stat(path, &sb) == 0)
		return 0;
	if (store_mkdirs(dir, st->mail_dir) == -1)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		bsnprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if (fsops_mkdir(path, 0700) == -1)
			return -1;
	}
	/* make the new directory entries themselves durable */
	if (fsops_fsync_dir(dir) == -1)
		return -1;
	bsnprintf(parent, sizeof(parent), "%s", dir);
	while ((slash = strrchr(parent, '/')) != NULL &&
	       strlen(parent) > strlen(st->mail_dir)) {
		*slash = '\0';
		if (fsops_fsync_dir(parent) == -1)
			return -1;
	}
	return 0;
}

/*
 * The info "2,LETTERS" for flags, keeping the letters of old_info (the
 * part after ":2,", or NULL) that are not system flags (another program's
 * keyword letters), in ASCII order as Maildir wants.
 */
static void
flags_info(unsigned flags, const char *old_info, char *out, size_t size)
{
	char letters[64];
	size_t n = 0;

	for (size_t i = 0; i < 6; i++)
		if (flags & (1u << i))
			letters[n++] = flag_letters[i];
	for (; old_info != NULL && *old_info != '\0' && n < 60; old_info++)
		if (strchr(flag_letters, *old_info) == NULL &&
		    *old_info > ' ' && *old_info < 0x7f &&
		    *old_info != '/' && memchr(letters, *old_info, n) == NULL)
			letters[n++] = *old_info;
	/* insertion sort: at most a few dozen letters */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && letters[j - 1] > letters[j]; j--) {
			char t = letters[j];

			letters[j] = letters[j - 1];
			letters[j - 1] = t;
		}
	letters[n] = '\0';
	snprintf(out, size, "2,%s", letters);
}

enum store_res
maildir_set_flags(struct store_box *b, size_t i, unsigned flags, char *err,
		  size_t errsz)
{
	char file[STORE_NAME_MAX * 2], info[80], name[400], from[4400],
	     to[4400];
	const char *colon;
	size_t base;

	if (store_box_file(b, i, file, sizeof(file)) == -1) {
		snprintf(err, errsz, "%s: name too long", b->path);
		return STORE_PERM;
	}
	colon = strchr(file, ':');
	base = colon ? (size_t)(colon - file) : strlen(file);

	flags_info(flags, colon && strncmp(colon, ":2,", 3) == 0 ? colon + 3
								 : NULL,
		   info, sizeof(info));
	if (bsnprintf(name, sizeof(name), "%.*s:%s", (int)base, file,
		      info) == -1) {
		snprintf(err, errsz, "%s: name too long", file);
		return STORE_PERM;
	}
	if (strcmp(name, file) == 0 && !(b->msgs[i].bits & STORE_MSG_NEW))
		return STORE_OK;
	/* from new/ (as delivered) or cur/, always into cur/ */
	if (store_box_path(b, i, from, sizeof(from)) == -1) {
		snprintf(err, errsz, "%s: name too long", file);
		return STORE_PERM;
	}
	bsnprintf(to, sizeof(to), "%s/cur/%s", b->path, name);
	if (fsops_rename(from, to) == -1)
		return store_sys_fail(err, errsz, "rename", from);
	box_set_name(b, i, name);
	b->msgs[i].bits &= (uint8_t)~STORE_MSG_NEW;
	return STORE_OK;
}

/* Counts the CRLF size of len octets of the file fd. */
static int
add_crlf(void *arg, const char *p, size_t n)
{
	*(size_t *)arg += store_crlf_size(p, n);
	return 0;
}

#define NAME_TRIES 8	/* new names tried when one is taken */

/* What a saved message's name says besides its unique part. */
struct name_parts {
	unsigned long long sec;	/* internal date */
	int zone;		/* its zone, minutes east of UTC */
	size_t octets, crlf;	/* sizes */
	unsigned flags;		/* system flags */
};

/*
 * A new name in cur/ for a message of np:
 * TIME.M<usec>P<pid>Q<seq>.HOST,S=,W=[,Z=]:2,FLAGS, where only TIME and
 * the zone are the internal date; the rest is a delivery's unique name
 * made now (the microseconds of now, the process, its counter), so that
 * it differs from every name made before, in this run or an earlier one.
 */
static void
save_name(struct store *st, const struct name_parts *np, char *out,
	  size_t size)
{
	struct store_delivery d;
	char info[80], zone[STORE_ZONE_FIELD];

	store_unique_name(st, &d);
	flags_info(np->flags, NULL, info, sizeof(info));
	maildir_zone_field(np->zone, zone, sizeof(zone));
	snprintf(out, size, "%llu%s,S=%zu,W=%zu%s:%s", np->sec,
		 strchr(d.name, '.'), np->octets, np->crlf, zone, info);
}

/*
 * Links from into dir/cur under a new name (name_r), never over a file
 * there: link(2) fails on a name taken (an earlier run of a process with
 * the same pid, the same counter and the same microsecond), and another
 * name is tried.  0, or -1 with errno.
 */
static int
link_new(struct store *st, const char *from, const char *dir,
	 const struct name_parts *np, char *name_r, size_t namesz,
	 int (*ln)(const char *, const char *, size_t), size_t len)
{
	char to[4400];

	for (int i = 0; i < NAME_TRIES; i++) {
		save_name(st, np, name_r, namesz);
		if (bsnprintf(to, sizeof(to), "%s/cur/%s", dir, name_r) == -1) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (ln(from, to, len) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* link(2) through the fault seam; len unused. */
static int
link_only(const char *from, const char *to, size_t len)
{
	(void)len;
	return fsops_link(from, to);
}

enum store_res
maildir_append(struct store *st, const char *dir,
	       const struct store_append_req *a, char *name_r, size_t namesz,
	       char *err, size_t errsz)
{
	char tmp[4400], cur[4400];
	struct store_delivery d;
	/* no date given: now, in +0000 as delivered mail */
	struct name_parts np = {
		.sec = (unsigned long long)(a->date ? a->date : time(NULL)),
		.zone = a->date ? a->zone : 0,
		.octets = a->len,
		.flags = a->flags,
	};
	enum store_res r = STORE_OK;
	int fd;

	if (maildir_ensure(st, dir) == -1)
		return store_sys_fail(err, errsz, "mkdir", dir);
	if (a->data != NULL)
		np.crlf = store_crlf_size(a->data, a->len);
	else if (fsops_read_pieces(a->fd, a->off, a->len, add_crlf,
				   &np.crlf) == -1)
		return store_sys_fail(err, errsz, "read", "the message");
	store_unique_name(st, &d);
	if (bsnprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, d.name) == -1) {
		snprintf(err, errsz, "%s: path too long", dir);
		return STORE_PERM;
	}
	fd = fsops_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1)
		return store_sys_fail(err, errsz, "open", tmp);
	if (fsops_write_text_at(fd, a->data, a->fd, a->off, a->len) == -1 ||
	    fsops_fsync(fd) == -1) {
		r = store_sys_fail(err, errsz, "write", tmp);
		close(fd);
	} else if (fsops_close(fd) == -1) {
		r = store_sys_fail(err, errsz, "close", tmp);
	} else if (link_new(st, tmp, dir, &np, name_r, namesz, link_only,
			    0) == -1) {
		r = store_sys_fail(err, errsz, "link", tmp);
	}
	unlink(tmp);
	if (r != STORE_OK)
		return r;
	bsnprintf(cur, sizeof(cur), "%s/cur", dir);
	if (fsops_fsync_dir(cur) == -1) {
		r = store_sys_fail(err, errsz, "fsync", cur);
		bsnprintf(tmp, sizeof(tmp), "%s/cur/%s", dir, name_r);
		unlink(tmp); /* not durable: not said to be saved */
	}
	return r;
}

/* Links (or, across file systems, copies) from to to. */
static int
link_or_copy(const char *from, const char *to, size_t octets)
{
	int in, out, r;

	if (fsops_link(from, to) == 0)
		return 0;
	if (errno != EXDEV && errno != EMLINK && errno != EPERM)
		return -1;
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	out = fsops_open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (out == -1) {
		close(in);
		return -1;
	}
	r = fsops_write_text(out, NULL, in, octets) == -1 ||
	    fsops_fsync(out) == -1;
	close(in);
	if (fsops_close(out) == -1 || r) {
		unlink(to);
		return -1;
	}
	return 0;
}

/* The path in DIR/sub of a file of base's octets of file; -1 if none. */
static int
find_in(const struct store_box *b, const char *sub, const char *file,
	size_t base, char *out, size_t size)
{
	struct dirent *de;
	DIR *dp;
	int r = -1;

	bsnprintf(out, size, "%s/%s", b->path, sub);
	if ((dp = opendir(out)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, file, base) == 0 &&
		    (de->d_name[base] == ':' || de->d_name[base] == '\0')) {
			r = bsnprintf(out, size, "%s/%s/%s", b->path, sub,
				      de->d_name) == -1 ? -1 : 0;
			break;
		}
	}
	closedir(dp);
	return r;
}

/*
 * The current path of a message whose name was file: the same base in
 * cur/ with other flags if another program renamed it, or still in new/.
 * -1 if gone.
 */
int
maildir_find(const struct store_box *b, const char *file, char *out, size_t size)
{
	size_t base = strcspn(file, ":");

	if (find_in(b, "cur", file, base, out, size) == 0)
		return 0;
	return find_in(b, "new", file, base, out, size);
}

/* The current path of message i of b (renamed meanwhile: found again). */
static int
current_path(const struct store_box *b, size_t i, char *path, size_t size)
{
	char file[STORE_NAME_MAX * 2];

	if (store_box_file(b, i, file, sizeof(file)) == -1 ||
	    store_box_path(b, i, path, size) == -1)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	return maildir_find(b, file, path, size);
}

enum store_res
maildir_copy(struct store_box *b, const size_t *pos, size_t n,
	     const char *dir, char (*names_r)[STORE_NAME_MAX], char *err,
	     size_t errsz)
{
	char from[4400], to[4400];
	enum store_res r = STORE_OK;
	size_t done;

	if (maildir_ensure(b->st, dir) == -1)
		return store_sys_fail(err, errsz, "mkdir", dir);
	for (done = 0; done < n && r == STORE_OK; done++) {
		const struct store_msg *m = &b->msgs[pos[done]];
		struct store_msg_info mi;
		struct name_parts np;

		store_box_info(b, pos[done], &mi);
		np = (struct name_parts){.sec = mi.sec, .zone = mi.zone,
					 .octets = mi.octets, .crlf = mi.size,
					 .flags = m->flags};
		if (current_path(b, pos[done], from, sizeof(from)) == -1) {
			snprintf(err, errsz, "message %u is gone",
				 (unsigned)m->uid);
			r = STORE_NOTFOUND;
			break;
		}
		if (link_new(b->st, from, dir, &np, names_r[done],
			     STORE_NAME_MAX, link_or_copy, mi.octets) == -1) {
			r = store_sys_fail(err, errsz, "link", from);
			break;
		}
	}
	bsnprintf(from, sizeof(from), "%s/cur", dir);
	if (r == STORE_OK && fsops_fsync_dir(from) == -1)
		r = store_sys_fail(err, errsz, "fsync", from);
	if (r != STORE_OK) /* all or nothing: take back what was linked */
		for (size_t k = 0; k < done && k < n; k++) {
			bsnprintf(to, sizeof(to), "%s/cur/%s", dir,
				  names_r[k]);
			unlink(to);
		}
	return r;
}
