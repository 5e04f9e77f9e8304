/*
 * maildir_saving - the intent record that makes a save of several
 * messages (IMAP MULTIAPPEND, a COPY or MOVE of several) all or nothing
 * across a crash.  See docs/MAILDIR.md, "Saving several messages".
 *
 * Such a save links its files into cur/ one by one (each fsync'ed), then
 * numbers them all in one transaction on the index log (the commit).  A
 * crash between the first link and the commit would leave files in cur/
 * that the next listing numbers: part of a command the client was never
 * told had worked, which its retry would save again.  So, under the
 * folder's index lock, before the first link, DIR/.owlpost-saving says
 * "dirty", with this process's id, the host name and the lowest Maildir
 * sequence number (Q) its new names can have (store_unique_name gives
 * time.M<usec>P<pid>Q<seq>.host):
 *
 *   owlpost-saving 1 dirty <pid> <q> <host>
 *
 * written and fsync'ed (and the directory fsync'ed when the file is
 * new).  After the commit it says "clean" (not synced: a lost "clean"
 * only makes the next open look for files it will not find).
 *
 * Crash states (the folder's next open under the index lock, before it
 * lists cur/, runs maildir_saving_recover):
 *   S0  dirty, no file linked yet: nothing in cur/ matches; made clean.
 *   S1  dirty, some files linked, no commit: the files of this pid, host
 *       and Q >= q that the index does not number are unlinked, cur/
 *       fsync'ed, then clean: the save left nothing.
 *   S2  dirty, committed: every matching file is numbered: none removed.
 *   S3  clean (or no record, or one that does not parse): nothing to do.
 *   A dirty record of this very process (pid and host) is no crash: its
 *   save is the one holding the lock now (numbering by a scan where the
 *   log cannot), or one that failed and took its files back.
 * Only names this process made since q can match, and under the index
 * lock no other save of this folder ran since: a delivery's file waits in
 * new/ (claimed after the recovery), and other programs' names carry
 * another pid or host.
 *
 * A save of one message needs no record: it is all or nothing by itself.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "fsops.h"
#include "store_private.h"

#define SAVING_NAME ".owlpost-saving"
#define SAVING_MAGIC "owlpost-saving 1"

/* Writes the record's one line (and makes it durable if sync). */
static int
write_record(const char *dir, const char *line, bool sync)
{
	char path[4400];
	bool created = false;
	int fd, r = 0;

	bsnprintf(path, sizeof(path), "%s/" SAVING_NAME, dir);
	fd = fsops_open(path, O_WRONLY | O_TRUNC, 0600);
	if (fd == -1 && errno == ENOENT) {
		fd = fsops_open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		created = fd != -1;
	}
	if (fd == -1)
		return -1;
	if (fsops_write_all(fd, line, strlen(line)) == -1 ||
	    (sync && fsops_fsync(fd) == -1))
		r = -1;
	if (fsops_close(fd) == -1)
		r = -1;
	if (r == 0 && sync && created)
		r = fsops_fsync_dir(dir);
	return r;
}

enum store_res
maildir_saving_begin(struct store *st, const char *dir, char *err,
		     size_t errsz)
{
	char line[600];

	snprintf(line, sizeof(line), SAVING_MAGIC " dirty %ld %lu %s\n",
		 (long)getpid(), store_unique_next(), st->host);
	if (write_record(dir, line, true) == -1)
		return store_sys_fail(err, errsz, "write", SAVING_NAME);
	return STORE_OK;
}

void
maildir_saving_end(const char *dir)
{
	(void)write_record(dir, SAVING_MAGIC " clean\n", false);
}

/* The dirty record of dir: 1 with its pid, q and host; 0 if none. */
static int
read_dirty(const char *dir, long *pid, unsigned long *q, char *host,
	   size_t hostsz)
{
	static const char head[] = SAVING_MAGIC " dirty ";
	char path[4400], line[600], *p;
	ssize_t got;
	size_t hl;
	int fd;

	bsnprintf(path, sizeof(path), "%s/" SAVING_NAME, dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	got = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (got <= 0)
		return got == 0 ? 0 : -1;
	line[got] = '\0';
	if (strncmp(line, head, sizeof(head) - 1) != 0)
		return 0;
	*pid = strtol(line + sizeof(head) - 1, &p, 10);
	if (*p++ != ' ')
		return 0;
	*q = strtoul(p, &p, 10);
	if (*p++ != ' ')
		return 0;
	hl = strcspn(p, "\n");
	if (hl == 0 || hl >= hostsz || p[hl] != '\n')
		return 0;
	memcpy(host, p, hl);
	host[hl] = '\0';
	return 1;
}

/* Whether name is one of pid's on host with a Q of at least q. */
static bool
made_since(const char *name, long pid, unsigned long q, const char *host)
{
	const char *p = strchr(name, 'P');
	char *end;
	long npid;
	unsigned long nq;
	size_t hl = strlen(host);

	if (p == NULL || strstr(name, ".M") == NULL)
		return false;
	npid = strtol(p + 1, &end, 10);
	if (npid != pid || *end != 'Q')
		return false;
	nq = strtoul(end + 1, &end, 10);
	return nq >= q && *end == '.' && strncmp(end + 1, host, hl) == 0 &&
	       (end[1 + hl] == '\0' || end[1 + hl] == ',' ||
		end[1 + hl] == ':');
}

/* Unlinks the files of cur/ the dirty record names and the index does
 * not number; *removed_r how many. */
static int
remove_unnumbered(const char *dir, long pid, unsigned long q,
		  const char *host, size_t *removed_r)
{
	char path[4400], base[STORE_NAME_MAX * 2];
	char **bases;
	size_t nb;
	struct dirent *de;
	DIR *d;

	*removed_r = 0;
	if (maildir_index_bases(dir, &bases, &nb) == -1)
		return -1;
	bsnprintf(path, sizeof(path), "%s/cur", dir);
	if ((d = opendir(path)) == NULL) {
		for (size_t i = 0; i < nb; i++)
			free(bases[i]);
		free(bases);
		return errno == ENOENT ? 0 : -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t bl = strcspn(de->d_name, ":");

		if (!made_since(de->d_name, pid, q, host) ||
		    bl >= sizeof(base))
			continue;
		memcpy(base, de->d_name, bl);
		base[bl] = '\0';
		if (maildir_index_has_base(bases, nb, base))
			continue;
		bsnprintf(path, sizeof(path), "%s/cur/%s", dir, de->d_name);
		if (unlink(path) == 0)
			(*removed_r)++;
	}
	closedir(d);
	for (size_t i = 0; i < nb; i++)
		free(bases[i]);
	free(bases);
	bsnprintf(path, sizeof(path), "%s/cur", dir);
	return *removed_r > 0 ? fsops_fsync_dir(path) : 0;
}

enum store_res
maildir_saving_recover(struct store *st, const char *dir, char *err,
		       size_t errsz)
{
	char host[256], qb[600];
	unsigned long q;
	size_t removed;
	long pid;
	int r;

	r = read_dirty(dir, &pid, &q, host, sizeof(host));
	if (r == -1)
		return store_sys_fail(err, errsz, "read", SAVING_NAME);
	/* this process's own: a save in progress under the lock we hold
	 * (its numbering by a scan), or one that failed and took its files
	 * back; no crash came between */
	if (r == 0 || (pid == (long)getpid() && strcmp(host, st->host) == 0))
		return STORE_OK;
	if (remove_unnumbered(dir, pid, q, host, &removed) == -1)
		return store_sys_fail(err, errsz, "recover", dir);
	if (removed > 0)
		log_msg(LOGL_WARN, "store", "event=save-rolled-back dir=%s "
			"files=%zu", log_q(qb, sizeof(qb), dir), removed);
	if (write_record(dir, SAVING_MAGIC " clean\n", true) == -1)
		return store_sys_fail(err, errsz, "write", SAVING_NAME);
	return STORE_OK;
}
