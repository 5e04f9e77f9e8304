/*
 * folder - a user's Maildir++ folders (folder.h): the names and their
 * on-disk form (pure functions, fuzzed), then the calls that change the
 * tree.  Each change is one rename(2) or mkdir made durable with an fsync
 * of the Maildir root, so a crash leaves a folder whole or not there:
 *
 * - create builds the Maildir under a hidden name (.owlpost-new.U), syncs
 *   it and renames it into place; a leftover of a crash is removed by a
 *   later list or delete once it is an hour old.
 * - delete renames the folder to .owlpost-deleted.U first (gone at once),
 *   then removes it; a list or delete removes what a crash left.
 * - rename renames the folder, then each child (see store_folder_rename).
 * - subscriptions are rewritten whole (tmp, fsync, rename) under a lock.
 *
 * Failures as folder.h says; a failed system call's message names the
 * call and the path.
 */
#include "store_private.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "fsops.h"

#define ROOT_MAX 4096			/* a Maildir root path */
#define PATH_BUF (ROOT_MAX + 2 * NAME_MAX_OCTETS) /* root/disk/file */
#define NEW_PREFIX ".owlpost-new."	/* a folder being created */
#define DELETED_PREFIX ".owlpost-deleted." /* a folder being removed */
#define AUTO_MARK ".owlpost-folders"	/* the special folders were made */
#define ROLE_FILE ".owlpost-special-use"
#define SUBS_FILE "subscriptions"
#define SUBS_LOCK ".owlpost-subscriptions.lock"
#define NEW_MAX_AGE 3600		/* seconds before a leftover goes */
#define NAME_MAX_OCTETS 256		/* a name or a disk name, NUL too */

static const char *const roles[] = {"\\Sent", "\\Drafts", "\\Trash",
				    "\\Junk", "\\Archive", "\\All",
				    "\\Flagged"};
#define NROLES (sizeof(roles) / sizeof(roles[0]))

/* What the first list makes (Dovecot's auto=create with special_use). */
static const struct {
	const char *name;
	unsigned role;
} autos[] = {
	{"Sent", STORE_SU_SENT},   {"Drafts", STORE_SU_DRAFTS},
	{"Trash", STORE_SU_TRASH}, {"Junk", STORE_SU_JUNK},
	{"Archive", STORE_SU_ARCHIVE},
};

static const char NO_FOLDERS[] = "folders need mailbox.format = maildir";

/* Serializes the read-modify-write of subscriptions in this process. */
static pthread_mutex_t subs_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- names ---- */

const char *
store_folder_special_name(unsigned bit)
{
	for (size_t i = 0; i < NROLES; i++)
		if (bit == 1u << i)
			return roles[i];
	return NULL;
}

unsigned
store_folder_special_parse(const char *attr)
{
	for (size_t i = 0; i < NROLES; i++)
		if (strcasecmp(attr, roles[i]) == 0)
			return 1u << i;
	return 0;
}

bool
store_folder_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* The length of the UTF-8 sequence at p (n octets left), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned long c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return len;
}

/* Why the octets of name are not allowed, or NULL. */
static const char *
octets_check(const char *name, size_t n)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return "control character in folder name";
		if (p[i] == '*' || p[i] == '%')
			return "'*' and '%' are not allowed in folder names";
		if ((k = utf8_len(p + i, n - i)) == 0)
			return "folder name is not valid UTF-8";
		i += k;
	}
	return NULL;
}

/* Why the levels of name are not allowed, or NULL. */
static const char *
levels_check(const char *name)
{
	const char *p = name, *e;
	unsigned levels = 0;

	for (;;) {
		e = strchr(p, STORE_FOLDER_SEP);
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == 0)
			return "empty level in folder name";
		if ((l == 1 && p[0] == '.') ||
		    (l == 2 && p[0] == '.' && p[1] == '.'))
			return "'.' and '..' are not folder names";
		if (levels == 0 && l == 5 && strncasecmp(p, "INBOX", 5) == 0 &&
		    e != NULL)
			return "no folders under INBOX: create them at the "
			       "top level";
		if (++levels > STORE_FOLDER_MAX_LEVELS)
			return "folder name has more than 16 levels";
		if (e == NULL)
			return NULL;
		p = e + 1;
	}
}

/* The disk form's octets for name, or 0 if past the limit. */
static size_t
disk_len(const char *name)
{
	size_t n = 1;

	for (const char *p = name; *p != '\0'; p++)
		n += *p == '.' || *p == '%' ? 3 : 1;
	if (strncmp(name, "owlpost-", 8) == 0)
		n += 2;
	return n > STORE_FOLDER_MAX_DISK ? 0 : n;
}

const char *
store_folder_name_check(const char *name)
{
	size_t n = strnlen(name, STORE_FOLDER_MAX_DISK + 1);
	const char *why;

	if (n == 0)
		return "empty folder name";
	if (store_folder_is_inbox(name))
		return "INBOX is not a folder name here";
	if (n >= STORE_FOLDER_MAX_DISK)
		return "folder name too long";
	if ((why = octets_check(name, n)) != NULL ||
	    (why = levels_check(name)) != NULL)
		return why;
	if (disk_len(name) == 0)
		return "folder name too long";
	return NULL;
}

int
store_folder_encode(const char *name, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	if (store_folder_name_check(name) != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (disk_len(name) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	out[n++] = '.';
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.' || c == '%' ||
		    (p == name && strncmp(name, "owlpost-", 8) == 0)) {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else {
			out[n++] = c == STORE_FOLDER_SEP ? '.' : (char)c;
		}
	}
	out[n] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
store_folder_decode(const char *disk, char *out, size_t size)
{
	char name[NAME_MAX_OCTETS], again[NAME_MAX_OCTETS];
	size_t n = 0;
	int hi, lo;

	if (disk[0] != '.' || strnlen(disk, STORE_FOLDER_MAX_DISK + 1) >
				      STORE_FOLDER_MAX_DISK)
		goto bad;
	for (const char *p = disk + 1; *p != '\0'; p++) {
		if (*p == '%') {
			if ((hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0)
				goto bad;
			name[n++] = (char)(hi << 4 | lo);
			p += 2;
		} else {
			name[n++] = *p == '.' ? STORE_FOLDER_SEP : *p;
		}
	}
	name[n] = '\0';
	/* only what encode makes: the same name back, octet for octet */
	if (store_folder_encode(name, again, sizeof(again)) == -1 ||
	    strcmp(again, disk) != 0)
		goto bad;
	if (n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, name, n + 1);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* ---- paths ---- */

static bool
is_mbox(const struct store *st)
{
	return st->ops == &store_mbox_ops;
}

int
store_folder_dir(const struct store *st, const char *user, const char *folder,
		 char *out, size_t size)
{
	char root[ROOT_MAX], disk[NAME_MAX_OCTETS];

	if (!store_user_valid(user) ||
	    (!store_folder_is_inbox(folder) &&
	     (is_mbox(st) ||
	      store_folder_encode(folder, disk, sizeof(disk)) == -1))) {
		errno = EINVAL;
		return -1;
	}
	if (store_mailbox_path(st, user, root, sizeof(root)) == -1 ||
	    (store_folder_is_inbox(folder)
		     ? bsnprintf(out, size, "%s", root)
		     : bsnprintf(out, size, "%s/%s", root, disk)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
store_delivery_dir(const struct store *st, const struct store_delivery *d,
		   size_t i, char *out, size_t size)
{
	return store_folder_dir(st, d->users[i],
				d->folder != NULL ? d->folder : "INBOX", out,
				size);
}

/* The user's Maildir root into root; STORE_PERM with err if none. */
static enum store_res
root_of(struct store *st, const char *user, char *root, size_t size,
	char *err, size_t errsz)
{
	if (!store_user_valid(user) ||
	    store_mailbox_path(st, user, root, size) == -1) {
		snprintf(err, errsz, "invalid mailbox name");
		return STORE_PERM;
	}
	return STORE_OK;
}

/* Checks user and the format; STORE_OK: root set. */
static enum store_res
begin(struct store *st, const char *user, char *root, size_t size, char *err,
      size_t errsz)
{
	if (is_mbox(st)) {
		snprintf(err, errsz, "%s", NO_FOLDERS);
		return STORE_PERM;
	}
	return root_of(st, user, root, size, err, errsz);
}

/* STORE_PERM with the reason if name is not a folder one may create. */
static enum store_res
name_ok(const char *name, char *err, size_t errsz)
{
	const char *why = store_folder_name_check(name);

	if (why == NULL)
		return STORE_OK;
	snprintf(err, errsz, "%s", why);
	return STORE_PERM;
}

/*
 * begin, then name: STORE_PERM with inbox_why if INBOX, with the reason
 * if not valid; else its disk name in disk (NAME_MAX_OCTETS).
 */
static enum store_res
begin_folder(struct store *st, const char *user, const char *name,
	     const char *inbox_why, char *root, char *disk, char *err,
	     size_t errsz)
{
	enum store_res r;

	if ((r = begin(st, user, root, ROOT_MAX, err, errsz)) != STORE_OK)
		return r;
	if (store_folder_is_inbox(name)) {
		snprintf(err, errsz, "%s", inbox_why);
		return STORE_PERM;
	}
	if ((r = name_ok(name, err, errsz)) != STORE_OK)
		return r;
	store_folder_encode(name, disk, NAME_MAX_OCTETS);
	return STORE_OK;
}

/* A name no other process or host makes: .owlpost-KIND.TIME.PID.SEQ.HOST */
static void
hidden_name(struct store *st, const char *prefix, char *out, size_t size)
{
	static atomic_ulong seq;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(out, size, "%s%lld.M%ldP%ldQ%lu.%016llx", prefix,
		 (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
		 atomic_fetch_add(&seq, 1) + 1,
		 store_hash(STORE_HASH_INIT, st->host, strlen(st->host)));
}

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) == -1 &&
	    errno != ENOENT)
		return -1;
	return 0;
}

/* rm -r path; a missing path or entry is fine (another remover). */
static int
remove_tree(const char *path)
{
	if (nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS) == -1 &&
	    errno != ENOENT)
		return -1;
	return 0;
}

/* Makes root a Maildir (tmp/ new/ cur/) if it is not, durably. */
static enum store_res
ensure_root(struct store *st, const char *root, char *err, size_t errsz)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char path[PATH_BUF], *slash;
	struct stat sb;

	bsnprintf(path, sizeof(path), "%s/cur", root);
	if (stat(path, &sb) == 0)
		return STORE_OK;
	if (store_mkdirs(root, st->mail_dir) == -1)
		return store_sys_fail(err, errsz, "mkdir", root);
	for (size_t i = 0; i < 3; i++) {
		bsnprintf(path, sizeof(path), "%s/%s", root, subs[i]);
		if (fsops_mkdir(path, 0700) == -1)
			return store_sys_fail(err, errsz, "mkdir", path);
	}
	if (fsops_fsync_dir(root) == -1)
		return store_sys_fail(err, errsz, "fsync", root);
	bsnprintf(path, sizeof(path), "%s", root);
	while ((slash = strrchr(path, '/')) != NULL &&
	       strlen(path) > strlen(st->mail_dir)) {
		*slash = '\0';
		if (fsops_fsync_dir(path) == -1)
			return store_sys_fail(err, errsz, "fsync", path);
	}
	return STORE_OK;
}

/* ---- scanning a root ---- */

/* Called with each folder of a root: its disk and folder names. */
typedef int (*folder_fn)(void *arg, const char *disk, const char *name);

static bool
is_dir(const char *root, const struct dirent *de)
{
	char path[PATH_BUF];
	struct stat sb;

	if (de->d_type == DT_DIR)
		return true;
	if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
		return false;
	bsnprintf(path, sizeof(path), "%s/%s", root, de->d_name);
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Removes a leftover of a crashed delete, or of a create gone stale. */
static void
sweep(const char *root, const char *entry)
{
	char path[PATH_BUF], qb[300];
	struct stat sb;

	bsnprintf(path, sizeof(path), "%s/%s", root, entry);
	if (strncmp(entry, NEW_PREFIX, strlen(NEW_PREFIX)) == 0 &&
	    (lstat(path, &sb) == -1 ||
	     sb.st_mtime + NEW_MAX_AGE > time(NULL)))
		return; /* maybe still being made */
	if (remove_tree(path) == -1)
		log_msg(LOGL_WARN, "store", "event=folder-sweep-failed "
			"path=%s error=%s", log_q(qb, sizeof(qb), path),
			strerror(errno));
}

/*
 * Calls fn for each folder of root (in directory order) until fn returns
 * nonzero, which scan returns; what crashes left is swept on the way.
 * -1 with errno if root cannot be read (ENOENT: no Maildir, no folders is
 * 0).
 */
static int
scan(const char *root, folder_fn fn, void *arg)
{
	char name[NAME_MAX_OCTETS];
	struct dirent *de;
	DIR *dp;
	int r = 0;

	if ((dp = opendir(root)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (r == 0 && (de = readdir(dp)) != NULL) {
		if (de->d_name[0] != '.')
			continue;
		if (strncmp(de->d_name, DELETED_PREFIX,
			    strlen(DELETED_PREFIX)) == 0 ||
		    strncmp(de->d_name, NEW_PREFIX, strlen(NEW_PREFIX)) == 0)
			sweep(root, de->d_name);
		else if (store_folder_decode(de->d_name, name,
					     sizeof(name)) == 0 &&
			 is_dir(root, de))
			r = fn(arg, de->d_name, name);
	}
	closedir(dp);
	return r;
}

static int
count_one(void *arg, const char *disk, const char *name)
{
	(void)disk;
	(void)name;
	++*(size_t *)arg;
	return 0;
}

/* ---- roles ---- */

/* The roles kept in dir's role file; 0 if none or unreadable. */
static unsigned
read_roles(const char *dir)
{
	char path[PATH_BUF], buf[256], *line, *save;
	unsigned bits = 0;
	ssize_t n;
	int fd;

	bsnprintf(path, sizeof(path), "%s/" ROLE_FILE, dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		bits |= store_folder_special_parse(line);
	return bits;
}

/*
 * Writes dir's role file durably: one IMAP attribute a line.  Its tmp
 * name is unique: two sessions may give a folder its role at once.
 */
static enum store_res
write_roles(struct store *st, const char *dir, unsigned bits, char *err,
	    size_t errsz)
{
	char path[PATH_BUF], tmp[PATH_BUF], text[128], u[NAME_MAX_OCTETS];
	const char *call;
	size_t n = 0;

	for (size_t i = 0; i < NROLES; i++)
		if (bits & 1u << i)
			n += (size_t)snprintf(text + n, sizeof(text) - n,
					      "%s\n", roles[i]);
	bsnprintf(path, sizeof(path), "%s/" ROLE_FILE, dir);
	hidden_name(st, ROLE_FILE ".tmp.", u, sizeof(u));
	bsnprintf(tmp, sizeof(tmp), "%s/%s", dir, u);
	if (fsops_replace(tmp, path, dir, text, n, &call) != 0)
		return store_sys_fail(err, errsz, call, path);
	return STORE_OK;
}

/* ---- create ---- */

/* Creates the empty file path (if missing) and fsyncs it. */
static enum store_res
make_empty(const char *path, char *err, size_t errsz)
{
	enum store_res r;
	int fd;

	fd = fsops_open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return store_sys_fail(err, errsz, "open", path);
	if (fsops_fsync(fd) == -1) {
		r = store_sys_fail(err, errsz, "fsync", path);
		fsops_close(fd);
		return r;
	}
	if (fsops_close(fd) == -1)
		return store_sys_fail(err, errsz, "close", path);
	return STORE_OK;
}

/* Makes dir a folder's Maildir with roles, every entry durable. */
static enum store_res
build_folder(struct store *st, const char *dir, unsigned roles_bits,
	     char *err, size_t errsz)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char path[PATH_BUF];
	enum store_res r;

	if (fsops_mkdir(dir, 0700) == -1)
		return store_sys_fail(err, errsz, "mkdir", dir);
	for (size_t i = 0; i < 3; i++) {
		bsnprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if (fsops_mkdir(path, 0700) == -1)
			return store_sys_fail(err, errsz, "mkdir", path);
	}
	bsnprintf(path, sizeof(path), "%s/maildirfolder", dir);
	if ((r = make_empty(path, err, errsz)) != STORE_OK)
		return r;
	if (roles_bits != 0)
		return write_roles(st, dir, roles_bits, err, errsz);
	if (fsops_fsync_dir(dir) == -1)
		return store_sys_fail(err, errsz, "fsync", dir);
	return STORE_OK;
}

/*
 * Renames root's entry from (folder name) to to: STORE_NOTFOUND if it is
 * not there, STORE_EXISTS if to is a folder.
 */
static enum store_res
move_entry(const char *root, const char *from, const char *to,
	   const char *name, char *err, size_t errsz)
{
	char a[PATH_BUF], b[PATH_BUF];

	bsnprintf(a, sizeof(a), "%s/%s", root, from);
	bsnprintf(b, sizeof(b), "%s/%s", root, to);
	if (fsops_rename(a, b) == 0)
		return STORE_OK;
	if (errno == ENOENT) {
		snprintf(err, errsz, "no folder %s", name);
		return STORE_NOTFOUND;
	}
	if (errno == EEXIST || errno == ENOTEMPTY) {
		snprintf(err, errsz, "folder exists");
		return STORE_EXISTS;
	}
	return store_sys_fail(err, errsz, "rename", a);
}

/*
 * Creates root's folder disk (which must not exist) with roles: built
 * under a hidden name and renamed into place, so it is whole or absent.
 */
static enum store_res
make_folder(struct store *st, const char *root, const char *disk,
	    unsigned roles_bits, char *err, size_t errsz)
{
	char tmp[PATH_BUF], hidden[NAME_MAX_OCTETS];
	enum store_res r;

	hidden_name(st, NEW_PREFIX, hidden, sizeof(hidden));
	bsnprintf(tmp, sizeof(tmp), "%s/%s", root, hidden);
	r = build_folder(st, tmp, roles_bits, err, errsz);
	/* a folder has tmp/ new/ cur/, so rename never replaces one */
	if (r == STORE_OK)
		r = move_entry(root, hidden, disk, disk, err, errsz);
	if (r != STORE_OK) {
		remove_tree(tmp);
		return r;
	}
	if (fsops_fsync_dir(root) == -1)
		return store_sys_fail(err, errsz, "fsync", root);
	return STORE_OK;
}

static bool
folder_exists(const char *root, const char *disk)
{
	char path[PATH_BUF];
	struct stat sb;

	bsnprintf(path, sizeof(path), "%s/%s", root, disk);
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

enum store_res
store_folder_create(struct store *st, const char *user, const char *name,
		    unsigned special_use, unsigned max_folders, char *err,
		    size_t errsz)
{
	char root[ROOT_MAX], disk[NAME_MAX_OCTETS];
	size_t n = 0;
	enum store_res r;

	if ((r = begin_folder(st, user, name, "INBOX exists always", root,
			      disk, err, errsz)) != STORE_OK)
		return r;
	if (special_use & ~STORE_SU_MASK) {
		snprintf(err, errsz, "unknown special use");
		return STORE_PERM;
	}
	if ((r = ensure_root(st, root, err, errsz)) != STORE_OK)
		return r;
	if (folder_exists(root, disk)) {
		snprintf(err, errsz, "folder exists");
		return STORE_EXISTS;
	}
	if (scan(root, count_one, &n) == -1)
		return store_sys_fail(err, errsz, "opendir", root);
	if (n >= max_folders) {
		snprintf(err, errsz, "at most %u folders (mailbox.max_folders)",
			 max_folders);
		return STORE_LIMIT;
	}
	return make_folder(st, root, disk, special_use, err, errsz);
}

/* ---- delete ---- */

enum store_res
store_folder_delete(struct store *st, const char *user, const char *name,
		    char *err, size_t errsz)
{
	char root[ROOT_MAX], disk[NAME_MAX_OCTETS];
	char gone[PATH_BUF], hidden[NAME_MAX_OCTETS], qb[300];
	size_t n = 0;
	enum store_res r;

	if ((r = begin_folder(st, user, name, "INBOX cannot be deleted", root,
			      disk, err, errsz)) != STORE_OK)
		return r;
	scan(root, count_one, &n); /* sweeps what earlier deletes left */
	if (!folder_exists(root, disk)) {
		snprintf(err, errsz, "no folder %s", name);
		return STORE_NOTFOUND;
	}
	hidden_name(st, DELETED_PREFIX, hidden, sizeof(hidden));
	bsnprintf(gone, sizeof(gone), "%s/%s", root, hidden);
	if ((r = move_entry(root, disk, hidden, name, err, errsz)) !=
	    STORE_OK)
		return r;
	if (fsops_fsync_dir(root) == -1)
		return store_sys_fail(err, errsz, "fsync", root);
	/* gone from every list now; what stays is swept later */
	if (remove_tree(gone) == -1)
		log_msg(LOGL_WARN, "store", "event=folder-remove-failed "
			"path=%s error=%s", log_q(qb, sizeof(qb), gone),
			strerror(errno));
	return STORE_OK;
}

/* ---- rename ---- */

struct renaming {
	const char *root;
	const char *from, *to;	/* disk names */
	size_t from_len;
	bool dry;		/* check only */
	size_t moved;		/* children renamed by this pass */
	int err;		/* errno of a failed rename */
	char bad[NAME_MAX_OCTETS]; /* the child that stopped it */
	enum store_res res;
};

/* Checks (dry) or renames one child of from ("FROM.x" -> "TO.x"). */
static int
rename_child(void *arg, const char *disk, const char *name)
{
	struct renaming *rn = arg;
	char to[PATH_BUF], tname[NAME_MAX_OCTETS];
	char a[PATH_BUF], b[PATH_BUF];

	if (strncmp(disk, rn->from, rn->from_len) != 0 ||
	    disk[rn->from_len] != '.')
		return 0;
	snprintf(rn->bad, sizeof(rn->bad), "%s", name);
	snprintf(to, sizeof(to), "%s%s", rn->to, disk + rn->from_len);
	if (store_folder_decode(to, tname, sizeof(tname)) == -1) {
		rn->res = STORE_PERM; /* too deep or too long there */
		return 1;
	}
	if (rn->dry) {
		if (!folder_exists(rn->root, to))
			return 0;
		rn->res = STORE_EXISTS;
		return 1;
	}
	bsnprintf(a, sizeof(a), "%s/%s", rn->root, disk);
	bsnprintf(b, sizeof(b), "%s/%s", rn->root, to);
	if (fsops_rename(a, b) == 0) {
		rn->moved++;
		return 0;
	}
	if (errno == ENOENT)
		return 0; /* an entry readdir gave before it moved */
	rn->err = errno;
	rn->res = errno == EEXIST || errno == ENOTEMPTY ? STORE_EXISTS
							: STORE_TEMP;
	return 1;
}

/* The checks of a rename before anything moves; STORE_OK: go. */
static enum store_res
rename_check(const char *from, const char *to, const char *fdisk,
	     const char *tdisk, char *err, size_t errsz)
{
	size_t fl = strlen(fdisk);
	enum store_res r;

	if (store_folder_is_inbox(from)) {
		snprintf(err, errsz, "renaming INBOX is done by moving its "
			 "messages");
		return STORE_PERM;
	}
	if (store_folder_is_inbox(to)) {
		snprintf(err, errsz, "INBOX exists");
		return STORE_EXISTS;
	}
	if ((r = name_ok(from, err, errsz)) != STORE_OK ||
	    (r = name_ok(to, err, errsz)) != STORE_OK)
		return r;
	if (strncmp(tdisk, fdisk, fl) == 0 && tdisk[fl] == '.') {
		snprintf(err, errsz, "cannot rename a folder below itself");
		return STORE_PERM;
	}
	return STORE_OK;
}

/* Says in err why rn stopped. */
static enum store_res
rename_failed(const struct renaming *rn, bool moved, char *err, size_t errsz)
{
	const char *what = rn->res == STORE_PERM ? "would not be a valid name"
			   : rn->res == STORE_EXISTS ? "would replace a folder"
						     : strerror(rn->err);

	snprintf(err, errsz, "%s: %s%s", rn->bad, what,
		 moved ? " (renamed in part: the rest keeps the old name)"
		       : "");
	return rn->res;
}

/*
 * Renames folder from to to, then each child of it: one rename(2) each,
 * the root fsync'ed once at the end.  A crash in between leaves every
 * message in some folder: the folder under its new name, the children
 * not yet renamed under their old names (listed as "FROM/x" below a
 * non-existent "FROM"), which a user renames again by hand; nothing is
 * half-renamed, since each step is one atomic rename.
 */
enum store_res
store_folder_rename(struct store *st, const char *user, const char *from,
		    const char *to, char *err, size_t errsz)
{
	char root[ROOT_MAX], fdisk[NAME_MAX_OCTETS], tdisk[NAME_MAX_OCTETS];
	struct renaming rn = {.root = root, .from = fdisk, .to = tdisk};
	enum store_res r;
	int k;

	if ((r = begin(st, user, root, sizeof(root), err, errsz)) != STORE_OK)
		return r;
	fdisk[0] = tdisk[0] = '\0';
	if (!store_folder_is_inbox(from) && !store_folder_is_inbox(to)) {
		store_folder_encode(from, fdisk, sizeof(fdisk));
		store_folder_encode(to, tdisk, sizeof(tdisk));
	}
	if ((r = rename_check(from, to, fdisk, tdisk, err, errsz)) !=
	    STORE_OK)
		return r;
	rn.from_len = strlen(fdisk);
	if (!folder_exists(root, fdisk)) {
		snprintf(err, errsz, "no folder %s", from);
		return STORE_NOTFOUND;
	}
	if (folder_exists(root, tdisk)) {
		snprintf(err, errsz, "folder %s exists", to);
		return STORE_EXISTS;
	}
	/* (its children's new names would look like its children) */
	if (strncmp(fdisk, tdisk, strlen(tdisk)) == 0 &&
	    fdisk[strlen(tdisk)] == '.') {
		snprintf(err, errsz, "cannot rename a folder to one above it");
		return STORE_PERM;
	}
	rn.dry = true;
	if ((k = scan(root, rename_child, &rn)) != 0)
		return k == 1 ? rename_failed(&rn, false, err, errsz)
			      : store_sys_fail(err, errsz, "opendir", root);
	if ((r = move_entry(root, fdisk, tdisk, from, err, errsz)) !=
	    STORE_OK)
		return r;
	rn.dry = false;
	r = STORE_OK;
	/* readdir need not show entries renamed under it: until none left */
	do {
		rn.moved = 0;
		if ((k = scan(root, rename_child, &rn)) == 1)
			r = rename_failed(&rn, true, err, errsz);
		else if (k == -1)
			r = store_sys_fail(err, errsz, "opendir", root);
	} while (r == STORE_OK && rn.moved > 0);
	if (fsops_fsync_dir(root) == -1 && r == STORE_OK)
		return store_sys_fail(err, errsz, "fsync", root);
	return r;
}

/* ---- subscriptions ---- */

struct subs {
	char **names;		/* sorted, distinct */
	size_t n, cap;
};

static void
subs_free(struct subs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = s->cap = 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
subs_has(const struct subs *s, const char *name)
{
	return s->n > 0 && bsearch(&name, s->names, s->n, sizeof(*s->names),
				   cmp_str) != NULL;
}

static void
subs_add(struct subs *s, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->names = xrealloc(s->names, s->cap * sizeof(*s->names));
	}
	s->names[s->n++] = xstrdup(name);
}

/* Sorts s and drops repeats. */
static void
subs_sort(struct subs *s)
{
	size_t j = 0;

	if (s->n > 0)
		qsort(s->names, s->n, sizeof(*s->names), cmp_str);
	for (size_t i = 0; i < s->n; i++) {
		if (j > 0 && strcmp(s->names[j - 1], s->names[i]) == 0)
			free(s->names[i]);
		else
			s->names[j++] = s->names[i];
	}
	s->n = j;
}

/*
 * Adds the valid name of one line (INBOX as "INBOX"), up to max; false
 * if it was one past max.
 */
static bool
subs_line(struct subs *s, const char *line, unsigned max)
{
	bool inbox = store_folder_is_inbox(line);

	if (!inbox && store_folder_name_check(line) != NULL)
		return true;
	if (s->n >= max)
		return false;
	subs_add(s, inbox ? "INBOX" : line);
	return true;
}

/*
 * Reads root's subscriptions: at most max names (the rest is logged and
 * left out); a missing file is none.  -1 with errno.
 */
static int
subs_read(const char *root, unsigned max, struct subs *s)
{
	char path[PATH_BUF], qb[300];
	size_t cap = ((size_t)max + 1) * NAME_MAX_OCTETS, len = 0;
	char *text, *line, *save;
	struct stat sb = {0};
	bool cut = false;
	ssize_t n;
	int fd;

	bsnprintf(path, sizeof(path), "%s/" SUBS_FILE, root);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) == 0 && (size_t)sb.st_size < cap)
		cap = (size_t)sb.st_size; /* it may grow: read what fits */
	text = xmalloc(cap + 1);
	while (len < cap && (n = read(fd, text + len, cap - len)) != 0) {
		if (n == -1 && errno != EINTR) {
			/* a part would be written back as the whole */
			free(text);
			close(fd);
			return -1;
		}
		len += n > 0 ? (size_t)n : 0;
	}
	close(fd);
	text[len] = '\0';
	if (len < (size_t)sb.st_size && (line = strrchr(text, '\n')) != NULL)
		line[1] = '\0'; /* not a name cut in two */
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		cut |= !subs_line(s, line, max);
	if (cut || len < (size_t)sb.st_size)
		log_msg(LOGL_WARN, "store", "event=subscriptions-cut path=%s "
			"max=%u", log_q(qb, sizeof(qb), path), max);
	free(text);
	subs_sort(s);
	return 0;
}

/* Replaces root's subscriptions with s, durably. */
static enum store_res
subs_write(const char *root, const struct subs *s, char *err, size_t errsz)
{
	char path[PATH_BUF], tmp[PATH_BUF];
	/* each name < NAME_MAX_OCTETS octets with its newline */
	struct buf *b = buf_new((s->n + 1) * NAME_MAX_OCTETS);
	const char *call;
	enum store_res r = STORE_OK;

	for (size_t i = 0; i < s->n; i++)
		buf_printf(b, "%s\n", s->names[i]);
	bsnprintf(path, sizeof(path), "%s/" SUBS_FILE, root);
	bsnprintf(tmp, sizeof(tmp), "%s.owlpost-tmp", path);
	if (fsops_replace(tmp, path, root, b->data != NULL ? b->data : "",
			  b->len, &call) != 0)
		r = store_sys_fail(err, errsz, call, path);
	buf_free(&b);
	return r;
}

/* Takes the lock of root's subscriptions (mutex, then fcntl); -1: errno. */
static int
subs_lock(const char *root)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char path[PATH_BUF];
	int fd;

	pthread_mutex_lock(&subs_mu);
	bsnprintf(path, sizeof(path), "%s/" SUBS_LOCK, root);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	while (fd != -1 && fcntl(fd, F_SETLKW, &fl) == -1) {
		if (errno != EINTR) {
			close(fd);
			fd = -1;
		}
	}
	if (fd == -1)
		pthread_mutex_unlock(&subs_mu);
	return fd;
}

static void
subs_unlock(int fd)
{
	close(fd);
	pthread_mutex_unlock(&subs_mu);
}

/* Adds or removes name in root's subscriptions, under the lock. */
static enum store_res
subs_change(const char *root, const char *name, bool on, unsigned max,
	    char *err, size_t errsz)
{
	struct subs s = {0};
	enum store_res r = STORE_OK;
	size_t j = 0;

	if (subs_read(root, max, &s) == -1) {
		r = store_sys_fail(err, errsz, "open", root);
	} else if (on && !subs_has(&s, name)) {
		if (s.n >= max) {
			snprintf(err, errsz, "at most %u subscriptions "
				 "(mailbox.max_folders)", max);
			r = STORE_LIMIT;
		} else {
			subs_add(&s, name);
			subs_sort(&s);
			r = subs_write(root, &s, err, errsz);
		}
	} else if (!on && subs_has(&s, name)) {
		for (size_t i = 0; i < s.n; i++) {
			if (strcmp(s.names[i], name) == 0)
				free(s.names[i]);
			else
				s.names[j++] = s.names[i];
		}
		s.n = j;
		r = subs_write(root, &s, err, errsz);
	}
	subs_free(&s);
	return r;
}

enum store_res
store_folder_subscribe(struct store *st, const char *user, const char *name,
		       bool on, unsigned max_folders, char *err, size_t errsz)
{
	char root[ROOT_MAX];
	enum store_res r;
	bool inbox = store_folder_is_inbox(name);
	int fd;

	if (is_mbox(st) && inbox)
		return root_of(st, user, root, sizeof(root), err, errsz);
	if ((r = begin(st, user, root, sizeof(root), err, errsz)) != STORE_OK ||
	    (!inbox && (r = name_ok(name, err, errsz)) != STORE_OK) ||
	    (r = ensure_root(st, root, err, errsz)) != STORE_OK)
		return r;
	if ((fd = subs_lock(root)) == -1)
		return store_sys_fail(err, errsz, "lock", root);
	r = subs_change(root, inbox ? "INBOX" : name, on, max_folders, err,
			errsz);
	subs_unlock(fd);
	return r;
}

/* ---- list ---- */

struct listing {
	const char *root;
	struct store_folder *v;
	size_t n, cap;
	unsigned max;		/* folders on disk to take */
	size_t more;		/* folders on disk past max */
};

static struct store_folder *
list_add(struct listing *l, const char *name, bool exists)
{
	struct store_folder *f;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	f = &l->v[l->n++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->exists = exists;
	return f;
}

static int
list_one(void *arg, const char *disk, const char *name)
{
	struct listing *l = arg;
	char dir[PATH_BUF];

	if (l->n > l->max) { /* INBOX is one of them, not on the count */
		l->more++;
		return 0;
	}
	bsnprintf(dir, sizeof(dir), "%s/%s", l->root, disk);
	list_add(l, name, true)->special_use = read_roles(dir);
	return 0;
}

/* INBOX first, then by name in octet order. */
static int
cmp_folder(const void *a, const void *b)
{
	const struct store_folder *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0;
	bool yi = strcmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct store_folder *
list_find(struct listing *l, size_t n, const char *name)
{
	struct store_folder key = {.name = (char *)name};

	return n == 0 ? NULL
		      : bsearch(&key, l->v, n, sizeof(*l->v), cmp_folder);
}

/* Marks every listed ancestor of name as having children. */
static void
mark_parents(struct listing *l, const char *name)
{
	char parent[NAME_MAX_OCTETS], *slash;
	struct store_folder *f;

	snprintf(parent, sizeof(parent), "%s", name);
	while ((slash = strrchr(parent, STORE_FOLDER_SEP)) != NULL) {
		*slash = '\0';
		if ((f = list_find(l, l->n, parent)) != NULL)
			f->children = true;
	}
}

/* Adds each parent of name not among the first n (sorted) entries. */
static void
add_parents(struct listing *l, size_t n, const char *name)
{
	char parent[NAME_MAX_OCTETS], *slash;

	snprintf(parent, sizeof(parent), "%s", name);
	while ((slash = strrchr(parent, STORE_FOLDER_SEP)) != NULL) {
		*slash = '\0';
		if (list_find(l, n, parent) == NULL)
			list_add(l, parent, false);
	}
}

/* Sorts the entries and drops repeats (a parent added for two). */
static void
list_sort(struct listing *l)
{
	size_t j = 0;

	qsort(l->v, l->n, sizeof(*l->v), cmp_folder);
	for (size_t i = 0; i < l->n; i++) {
		if (j > 0 && strcmp(l->v[j - 1].name, l->v[i].name) == 0)
			free(l->v[i].name);
		else
			l->v[j++] = l->v[i];
	}
	l->n = j;
}

/*
 * To the folders of l (all existing, sorted): the subscribed names and
 * the parents nobody made, as non-existent; then which have children
 * (existing ones below) and which are subscribed.
 */
static void
list_finish(struct listing *l, const struct subs *subs)
{
	size_t n = l->n;

	for (size_t i = 0; i < subs->n; i++)
		if (list_find(l, n, subs->names[i]) == NULL)
			list_add(l, subs->names[i], false);
	for (size_t i = 0; i < n; i++)
		add_parents(l, n, l->v[i].name);
	list_sort(l);
	for (size_t i = 0; i < l->n; i++) {
		l->v[i].subscribed = subs_has(subs, l->v[i].name);
		if (l->v[i].exists)
			mark_parents(l, l->v[i].name);
	}
}

/* Gives folder name of root the role, making it if missing. */
static enum store_res
auto_one(struct store *st, const char *root, const char *name, unsigned role,
	 char *err, size_t errsz)
{
	char disk[NAME_MAX_OCTETS], dir[PATH_BUF];
	enum store_res r;

	store_folder_encode(name, disk, sizeof(disk));
	bsnprintf(dir, sizeof(dir), "%s/%s", root, disk);
	if (!folder_exists(root, disk)) {
		r = make_folder(st, root, disk, role, err, errsz);
		return r == STORE_EXISTS ? STORE_OK : r; /* a race: fine */
	}
	if (read_roles(dir) == 0)
		return write_roles(st, dir, role, err, errsz);
	return STORE_OK;
}

/* The roles some folder of root has. */
struct having {
	const char *root;
	unsigned bits;
};

static int
roles_of(void *arg, const char *disk, const char *name)
{
	struct having *h = arg;
	char dir[PATH_BUF];

	(void)name;
	bsnprintf(dir, sizeof(dir), "%s/%s", h->root, disk);
	h->bits |= read_roles(dir);
	return 0;
}

/*
 * The first list of a Maildir: the special folders made (or given their
 * role), then the mark that says so, so that a later delete sticks.
 * Failures are logged: the list goes on without them.
 */
static void
auto_create(struct store *st, const char *root)
{
	char mark[PATH_BUF], err[300], qb[300], qe[300];
	struct having have = {.root = root};
	enum store_res r = STORE_OK;
	struct stat sb;

	bsnprintf(mark, sizeof(mark), "%s/" AUTO_MARK, root);
	if (stat(mark, &sb) == 0)
		return;
	if (scan(root, roles_of, &have) == -1)
		return;
	for (size_t i = 0; i < sizeof(autos) / sizeof(autos[0]) &&
			   r == STORE_OK; i++)
		if (!(have.bits & autos[i].role))
			r = auto_one(st, root, autos[i].name, autos[i].role,
				     err, sizeof(err));
	if (r == STORE_OK)
		r = make_empty(mark, err, sizeof(err));
	if (r == STORE_OK && fsops_fsync_dir(root) == -1)
		r = store_sys_fail(err, sizeof(err), "fsync", root);
	if (r != STORE_OK)
		log_msg(LOGL_WARN, "store", "event=folder-autocreate-failed "
			"dir=%s error=%s", log_q(qb, sizeof(qb), root),
			log_q(qe, sizeof(qe), err));
}

/* INBOX, alone: mbox. */
static enum store_res
list_mbox(struct store_folder **list_r, size_t *n_r)
{
	struct listing l = {0};

	list_add(&l, "INBOX", true)->subscribed = true;
	*list_r = l.v;
	*n_r = l.n;
	return STORE_OK;
}

enum store_res
store_folder_list(struct store *st, const char *user, unsigned max_folders,
		  struct store_folder **list_r, size_t *n_r, char *err,
		  size_t errsz)
{
	char root[ROOT_MAX], qb[300];
	struct listing l = {.root = root, .max = max_folders};
	struct subs subs = {0};
	enum store_res r;

	*list_r = NULL;
	*n_r = 0;
	if ((r = root_of(st, user, root, sizeof(root), err, errsz)) !=
	    STORE_OK)
		return r;
	if (is_mbox(st))
		return list_mbox(list_r, n_r);
	if ((r = ensure_root(st, root, err, errsz)) != STORE_OK)
		return r;
	auto_create(st, root);
	list_add(&l, "INBOX", true);
	if (scan(root, list_one, &l) == -1 ||
	    subs_read(root, max_folders, &subs) == -1) {
		r = store_sys_fail(err, errsz, "read", root);
		store_folder_list_free(&l.v, l.n);
		subs_free(&subs);
		return r;
	}
	if (l.more > 0)
		log_msg(LOGL_WARN, "store", "event=folders-cut dir=%s "
			"listed=%u more=%zu", log_q(qb, sizeof(qb), root),
			max_folders, l.more);
	qsort(l.v, l.n, sizeof(*l.v), cmp_folder);
	list_finish(&l, &subs);
	subs_free(&subs);
	*list_r = l.v;
	*n_r = l.n;
	return STORE_OK;
}

void
store_folder_list_free(struct store_folder **listp, size_t n)
{
	if (*listp == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*listp)[i].name);
	free(*listp);
	*listp = NULL;
}
