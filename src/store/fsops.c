/*
 * fsops - see fsops.h.  Counters are atomics because the worker pool calls
 * in from several threads.
 */
#include "fsops.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"

static struct fault {
	atomic_ulong countdown; /* 0: off */
	atomic_int err;
	atomic_bool sticky;
	atomic_bool tripped;
} faults[FSOPS_CLASSES][FSOP_COUNT];

static _Thread_local enum fsops_class cur_class;

void
fsops_set_class(enum fsops_class cls)
{
	cur_class = cls;
}

void
fsops_inject_class(enum fsops_class cls, enum fsop op, unsigned long nth,
		   int err, bool sticky)
{
	struct fault *f = &faults[cls][op];

	atomic_store(&f->err, err);
	atomic_store(&f->sticky, sticky);
	atomic_store(&f->tripped, false);
	atomic_store(&f->countdown, nth);
}

void
fsops_inject(enum fsop op, unsigned long nth, int err, bool sticky)
{
	fsops_inject_class(FSOPS_MAIL, op, nth, err, sticky);
}

void
fsops_clear(void)
{
	for (int c = 0; c < FSOPS_CLASSES; c++) {
		for (int i = 0; i < FSOP_COUNT; i++) {
			atomic_store(&faults[c][i].countdown, 0);
			atomic_store(&faults[c][i].tripped, false);
		}
	}
}

/* One "[index.]op:N:ERRNAME[:sticky]". */
static int
inject_one(const char *spec)
{
	static const char *ops[] = {"open", "write", "fsync", "link",
				    "rename", "mkdir", "unlink"};
	static const struct {
		const char *name;
		int err;
	} errs[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EDQUOT", EDQUOT},
		    {"KILL", FSOPS_KILL}, {"DELAY", FSOPS_DELAY}};
	char op[16], errname[16], sticky[16] = "";
	enum fsops_class cls = FSOPS_MAIL;
	unsigned long n;
	int err = 0;

	if (strncmp(spec, "index.", 6) == 0) {
		cls = FSOPS_INDEX;
		spec += 6;
	}
	if (sscanf(spec, "%15[a-z]:%lu:%15[A-Z]:%15s", op, &n, errname,
		   sticky) < 3 || n == 0)
		return -1;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (strcmp(errname, errs[i].name) == 0)
			err = errs[i].err;
	if (err == 0)
		return -1;
	for (int i = 0; i < FSOP_COUNT; i++) {
		if (strcmp(op, ops[i]) == 0) {
			fsops_inject_class(cls, (enum fsop)i, n, err,
					   strcmp(sticky, "sticky") == 0);
			return 0;
		}
	}
	return -1;
}

int
fsops_inject_spec(const char *spec)
{
	char copy[256], *save = NULL, *one;

	if (bsnprintf(copy, sizeof(copy), "%s", spec) == -1)
		return -1;
	for (one = strtok_r(copy, ",", &save); one != NULL;
	     one = strtok_r(NULL, ",", &save))
		if (inject_one(one) == -1)
			return -1;
	return 0;
}

/* A fault is due: a crash, a delay (false: make the call), or an errno. */
static bool
trip(struct fault *f)
{
	int err = atomic_load(&f->err);

	if (err == FSOPS_KILL)
		raise(SIGKILL); /* what kill -9 would leave, here and now */
	if (err == FSOPS_DELAY) {
		sleep(1);
		return false;
	}
	errno = err;
	return true;
}

/* True if this call of op must fail; sets errno. */
static bool
fault(enum fsop op)
{
	struct fault *f = &faults[cur_class][op];
	unsigned long c;

	if (atomic_load(&f->tripped) && atomic_load(&f->sticky))
		return trip(f);
	c = atomic_load(&f->countdown);
	while (c > 0) {
		if (atomic_compare_exchange_weak(&f->countdown, &c, c - 1)) {
			if (c == 1) {
				atomic_store(&f->tripped, true);
				return trip(f);
			}
			return false;
		}
	}
	return false;
}

int
fsops_open(const char *path, int flags, mode_t mode)
{
	int fd;

	if (fault(FSOP_OPEN))
		return -1;
	do
		fd = open(path, flags | O_CLOEXEC, mode);
	while (fd == -1 && errno == EINTR);
	return fd;
}

int
fsops_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n;

		if (fault(FSOP_WRITE))
			return -1;
		n = write(fd, p, len > (1 << 20) ? (1 << 20) : len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsops_read_pieces(int in, off_t off, size_t len,
		  int (*fn)(void *arg, const char *p, size_t n), void *arg)
{
	size_t size = len < 65536 ? len : 65536;
	char *b = malloc(size > 0 ? size : 1);
	int r = 0;

	if (b == NULL)
		return -1;
	while (len > 0) {
		ssize_t n = pread(in, b, len < size ? len : size, off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file is shorter than said */
			r = -1;
			break;
		}
		if (fn(arg, b, (size_t)n) == -1) {
			r = -1;
			break;
		}
		off += n;
		len -= (size_t)n;
	}
	free(b);
	return r;
}

static int
write_piece(void *arg, const char *p, size_t n)
{
	return fsops_write_all(*(int *)arg, p, n);
}

int
fsops_write_text(int fd, const char *data, int in, size_t len)
{
	return fsops_write_text_at(fd, data, in, 0, len);
}

int
fsops_write_text_at(int fd, const char *data, int in, off_t from,
		    size_t len)
{
	loff_t off = from;

	if (data != NULL)
		return fsops_write_all(fd, data, len);
	if (fault(FSOP_WRITE))
		return -1;
	while (len > 0) {
		ssize_t n = copy_file_range(in, &off, fd, NULL, len, 0);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EXDEV || errno == EINVAL ||
				errno == ENOSYS || errno == EOPNOTSUPP))
			return fsops_read_pieces(in, off, len, write_piece,
						 &fd);
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file is shorter than said */
			return -1;
		}
		len -= (size_t)n;
	}
	return 0;
}

int
fsops_fsync(int fd)
{
	int r;

	if (fault(FSOP_FSYNC))
		return -1;
	do
		r = fsync(fd);
	while (r == -1 && errno == EINTR);
	return r;
}

int
fsops_close(int fd)
{
	/* close(2) may report a deferred write error (NFS): check it */
	if (close(fd) == -1 && errno != EINTR)
		return -1;
	return 0;
}

int
fsops_link(const char *from, const char *to)
{
	if (fault(FSOP_LINK))
		return -1;
	return link(from, to);
}

int
fsops_rename(const char *from, const char *to)
{
	if (fault(FSOP_RENAME))
		return -1;
	return rename(from, to);
}

int
fsops_unlink(const char *path)
{
	if (fault(FSOP_UNLINK))
		return -1;
	return unlink(path);
}

int
fsops_mkdir(const char *path, mode_t mode)
{
	if (fault(FSOP_MKDIR))
		return -1;
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
fsops_fsync_dir(const char *path)
{
	int fd, r, saved;

	fd = fsops_open(path, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -1)
		return -1;
	r = fsops_fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* Closes fd (if any) and removes tmp, keeping the errno of what failed. */
static int
undo_tmp(int fd, const char *tmp)
{
	int saved = errno;

	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
fsops_replace(const char *tmp, const char *path, const char *dir,
	      const void *data, size_t len, const char **call_r)
{
	int fd;

	*call_r = "open";
	fd = fsops_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	*call_r = "write";
	if (fsops_write_all(fd, data, len) == -1 || fsops_fsync(fd) == -1)
		return undo_tmp(fd, tmp);
	*call_r = "rename";
	if (fsops_close(fd) == -1 || fsops_rename(tmp, path) == -1)
		return undo_tmp(-1, tmp);
	*call_r = "fsync";
	return fsops_fsync_dir(dir) == -1 ? -2 : 0;
}
