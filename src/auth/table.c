/*
 * table - see table.h.
 */
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"

/* What a stat of the file said; a re-read happens when it changes. */
struct sig {
	int err;		/* 0, or stat's errno */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct table {
	char *path;
	const char *what;
	table_check_fn *check;
	bool optional;
	struct table_entry *v;	/* the good copy */
	size_t n;
	bool loaded;		/* a good copy exists */
	struct sig cur;		/* the file the good copy came from */
	bool failed;		/* the last attempt failed, on file bad */
	struct sig bad;
	char error[300];
};

static const char *
skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *
trim_end(const char *p, const char *end)
{
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r'))
		end--;
	return end;
}

static void
note_bad(struct table_report *rep, size_t line, const char *why)
{
	if (rep->bad < TABLE_REPORT_MAX) {
		rep->skipped_line[rep->bad] = line;
		rep->skipped_why[rep->bad] = why;
	}
	rep->bad++;
}

/* One line, p..end, without its LF: adds an entry, notes a bad line. */
static void
parse_line(const char *p, const char *end, size_t ln, table_check_fn *check,
	   struct table_entry **v, size_t *n, size_t *cap,
	   struct table_report *rep)
{
	const char *colon, *why;
	char *copy, *key, *value;

	p = skip_blanks(p, end);
	end = trim_end(p, end);
	if (p == end || *p == '#')
		return;
	if ((size_t)(end - p) > TABLE_LINE_MAX) {
		note_bad(rep, ln, "line too long");
		return;
	}
	if ((colon = memchr(p, ':', (size_t)(end - p))) == NULL) {
		note_bad(rep, ln, "no ':' after the name");
		return;
	}
	copy = xmalloc((size_t)(end - p) + 1);
	memcpy(copy, p, (size_t)(end - p));
	copy[end - p] = '\0';
	key = copy;
	key[trim_end(key, key + (colon - p)) - key] = '\0';
	value = copy + (colon - p) + 1;
	value = (char *)skip_blanks(value, value + strlen(value));
	if ((why = check(key, value)) != NULL) {
		note_bad(rep, ln, why);
		free(copy);
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].key = xstrdup(key);
	(*v)[*n].value = xstrdup(value);
	(*v)[*n].line = ln;
	(*n)++;
	free(copy);
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct table_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Sorted: drops later duplicates of a key as bad lines. */
static void
drop_duplicates(struct table_entry *v, size_t *n, struct table_report *rep)
{
	size_t i, m = 0;

	for (i = 0; i < *n; i++) {
		if (m > 0 && strcmp(v[m - 1].key, v[i].key) == 0) {
			note_bad(rep, v[i].line,
				 "duplicate name, the first one is used");
			free(v[i].key);
			free(v[i].value);
			continue;
		}
		v[m++] = v[i];
	}
	*n = m;
}

void
table_entries_free(struct table_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

int
table_parse(const char *data, size_t len, table_check_fn *check,
	    struct table_entry **v_r, size_t *n_r, struct table_report *rep)
{
	const char *p = data, *end = data + len;
	struct table_entry *v = NULL;
	size_t n = 0, cap = 0, ln = 0;

	memset(rep, 0, sizeof(*rep));
	*v_r = NULL;
	*n_r = 0;
	if (len == 0) {
		rep->refused = "empty file (0 bytes; a file meant to have no "
			       "entries holds a comment line)";
		return -1;
	}
	if (memchr(data, '\0', len) != NULL) {
		rep->refused = "NUL byte in the file (binary or half-written)";
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		parse_line(p, eol, ++ln, check, &v, &n, &cap, rep);
		p = nl ? nl + 1 : end;
	}
	rep->lines = ln;
	if (n > 1) {
		qsort(v, n, sizeof(*v), cmp_entry);
		drop_duplicates(v, &n, rep);
	}
	rep->good = n;
	if (n == 0 && rep->bad > 0)
		rep->refused = "garbage: no valid line";
	else if (rep->bad > n)
		rep->refused = "garbage: more bad lines than good ones";
	if (rep->refused != NULL) {
		table_entries_free(v, n);
		return -1;
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

/* Reads an open file whole; -1 with errno. */
static int
read_fd(int fd, const struct stat *sb, char **data_r, size_t *len_r)
{
	size_t cap, len = 0;
	char *data;
	ssize_t r;

	if (sb->st_size > (off_t)TABLE_FILE_MAX) {
		errno = EFBIG;
		return -1;
	}
	cap = (size_t)sb->st_size + 1;
	data = xmalloc(cap + 1);
	/* read one more than stat said: a file that grew is not cut */
	while ((r = read(fd, data + len, cap - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(data);
			return -1;
		}
		len += (size_t)r;
		if (len == cap) {
			if (cap > TABLE_FILE_MAX) {
				free(data);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			data = xrealloc(data, cap + 1);
		}
	}
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}

static int
read_file(const char *path, char **data_r, size_t *len_r, struct stat *sb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc, e;

	if (fd == -1)
		return -1;
	rc = fstat(fd, sb) == -1 ? -1 : read_fd(fd, sb, data_r, len_r);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

int
table_read_file(const char *path, char **data_r, size_t *len_r)
{
	struct stat sb;

	return read_file(path, data_r, len_r, &sb);
}

struct table *
table_new(const char *path, const char *what, table_check_fn *check,
	  bool optional)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->path = xstrdup(path);
	t->what = what;
	t->check = check;
	t->optional = optional;
	return t;
}

void
table_free(struct table **tp)
{
	if (*tp == NULL)
		return;
	table_entries_free((*tp)->v, (*tp)->n);
	free((*tp)->path);
	free(*tp);
	*tp = NULL;
}

static void
sig_of(const struct stat *sb, struct sig *s)
{
	memset(s, 0, sizeof(*s));
	s->dev = sb->st_dev;
	s->ino = sb->st_ino;
	s->size = sb->st_size;
	s->mtime = sb->st_mtim;
}

static bool
sig_eq(const struct sig *a, const struct sig *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* A failed read of the file at s: logged once, the good copy kept. */
static int
fail(struct table *t, const struct sig *s, const char *why,
     const char **error_r)
{
	char q[400];

	t->failed = true;
	t->bad = *s;
	snprintf(t->error, sizeof(t->error), "%s: %s", t->path, why);
	if (t->loaded)
		log_msg(LOGL_ERROR, "auth", "event=%s-read-failed file=%s "
			"error=%s using=last-good %s=%zu", t->what, t->path,
			log_q(q, sizeof(q), why), t->what, t->n);
	else
		log_msg(LOGL_ERROR, "auth", "event=%s-read-failed file=%s "
			"error=%s using=none effect=\"temporary failures "
			"(4xx) until the file is fixed\"", t->what, t->path,
			log_q(q, sizeof(q), why));
	*error_r = t->error;
	return t->loaded ? 0 : -1;
}

static void
report(const struct table *t, const struct table_report *rep)
{
	char q[200];
	size_t i, shown = rep->bad < TABLE_REPORT_MAX ? rep->bad
						      : TABLE_REPORT_MAX;

	log_msg(LOGL_INFO, "auth", "event=%s-loaded file=%s %s=%zu "
		"skipped=%zu", t->what, t->path, t->what, rep->good,
		rep->bad);
	for (i = 0; i < shown; i++)
		log_msg(LOGL_WARN, "auth", "event=%s-line-skipped file=%s "
			"line=%zu reason=%s", t->what, t->path,
			rep->skipped_line[i],
			log_q(q, sizeof(q), rep->skipped_why[i]));
	if (rep->bad > shown)
		log_msg(LOGL_WARN, "auth", "event=%s-line-skipped file=%s "
			"more=%zu", t->what, t->path, rep->bad - shown);
}

static void
install(struct table *t, struct table_entry *v, size_t n,
	const struct sig *s)
{
	table_entries_free(t->v, t->n);
	t->v = v;
	t->n = n;
	t->loaded = true;
	t->cur = *s;
	t->failed = false;
}

int
table_refresh(struct table *t, const char **error_r)
{
	struct table_report rep;
	struct table_entry *v;
	struct stat sb;
	struct sig s = {0};
	char *data;
	size_t len, n;

	if (stat(t->path, &sb) == -1)
		s.err = errno;
	else
		sig_of(&sb, &s);
	if (t->loaded && sig_eq(&s, &t->cur))
		return 0;
	if (t->failed && sig_eq(&s, &t->bad)) {
		*error_r = t->error;
		return t->loaded ? 0 : -1;
	}
	if (s.err == ENOENT && t->optional && !t->loaded) {
		log_msg(LOGL_INFO, "auth", "event=%s-loaded file=%s %s=0 "
			"reason=no-file", t->what, t->path, t->what);
		install(t, NULL, 0, &s);
		return 0;
	}
	if (s.err != 0)
		return fail(t, &s, strerror(s.err), error_r);
	if (read_file(t->path, &data, &len, &sb) == -1)
		return fail(t, &s, strerror(errno), error_r);
	sig_of(&sb, &s);
	if (table_parse(data, len, t->check, &v, &n, &rep) == -1) {
		free(data);
		return fail(t, &s, rep.refused, error_r);
	}
	free(data);
	install(t, v, n, &s);
	report(t, &rep);
	return 0;
}

int
table_set_data(struct table *t, const char *data, size_t len,
	       struct table_report *rep)
{
	struct table_entry *v;
	struct sig s = {.err = -1}; /* matches no stat: the file is re-read */
	size_t n;

	if (table_parse(data, len, t->check, &v, &n, rep) == -1)
		return -1;
	install(t, v, n, &s);
	return 0;
}

bool
table_loaded(const struct table *t)
{
	return t->loaded;
}

const char *
table_lookup(const struct table *t, const char *key)
{
	size_t lo = 0, hi = t->n;

	/* a binary search by key: the good copy has no duplicates */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, t->v[mid].key);

		if (c == 0)
			return t->v[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t
table_count(const struct table *t)
{
	return t->n;
}

const struct table_entry *
table_at(const struct table *t, size_t i)
{
	return i < t->n ? &t->v[i] : NULL;
}

/*
 * The key of a line (its text before ':', blanks cut) equals key, in any
 * case?  The parsers take keys in lower case (a hand-written "Team@..." is
 * "team@..."), so an edit must find that line, not add a second one.
 */
static bool
line_has_key(const char *p, const char *end, const char *key)
{
	const char *colon, *k;

	p = skip_blanks(p, end);
	if (p == end || *p == '#' ||
	    (colon = memchr(p, ':', (size_t)(end - p))) == NULL)
		return false;
	k = trim_end(p, colon);
	return (size_t)(k - p) == strlen(key) &&
	       strncasecmp(p, key, strlen(key)) == 0;
}

/* The new text of the file into out; any failure with err. */
static enum table_res
edit_text(const char *data, size_t len, enum table_edit op, const char *key,
	  const char *value, struct buf *out, char *err, size_t errsz)
{
	const char *p = data, *end = data + len;
	bool found = false;
	int full = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p, *eol = nl ? nl : end;
		bool match = !found && line_has_key(line, eol, key);

		p = nl ? nl + 1 : end;
		found = found || match;
		if (match && op == TABLE_SET)
			full |= buf_printf(out, "%s:%s\n", key, value);
		if (match && op != TABLE_ADD)
			continue;
		full |= buf_add(out, line, (size_t)(eol - line));
		full |= buf_addc(out, '\n');
	}
	if (op == TABLE_ADD && found) {
		snprintf(err, errsz, "%s already exists", key);
		return TABLE_R_EXISTS;
	}
	if (op != TABLE_ADD && !found) {
		snprintf(err, errsz, "no such entry: %s", key);
		return TABLE_R_NOTFOUND;
	}
	if (op == TABLE_ADD)
		full |= buf_printf(out, "%s:%s\n", key, value);
	if (out->len == 0)
		full |= buf_addstr(out, "# no entries (an empty file would be "
					"taken for a broken one)\n");
	if (full != 0) {
		snprintf(err, errsz, "file too large");
		return TABLE_R_ERROR;
	}
	return TABLE_R_OK;
}

/* Writes text to tmppath and renames it over path, durably. */
static int
replace_file(const char *path, const char *tmppath, const struct buf *text,
	     char *err, size_t errsz)
{
	int fd = open(tmppath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char *dir, *slash;

	if (fd == -1 ||
	    write(fd, text->data, text->len) != (ssize_t)text->len ||
	    fsync(fd) == -1 || close(fd) == -1) {
		snprintf(err, errsz, "%s: %s", tmppath, strerror(errno));
		if (fd != -1)
			unlink(tmppath);
		return -1;
	}
	if (rename(tmppath, path) == -1) {
		snprintf(err, errsz, "rename(%s, %s): %s", tmppath, path,
			 strerror(errno));
		unlink(tmppath);
		return -1;
	}
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd != -1) {
			fsync(fd);
			close(fd);
		}
	}
	free(dir);
	return 0;
}

enum table_res
table_file_edit(const char *path, enum table_edit op, const char *key,
		const char *value, char *err, size_t errsz)
{
	char lockpath[4096], tmppath[4096], *data = NULL;
	struct buf *out = buf_new(TABLE_FILE_MAX);
	size_t len = 0;
	int lockfd;
	enum table_res res = TABLE_R_ERROR;

	if (bsnprintf(lockpath, sizeof(lockpath), "%s.lock", path) == -1 ||
	    bsnprintf(tmppath, sizeof(tmppath), "%s.tmp.%ld", path,
		      (long)getpid()) == -1) {
		snprintf(err, errsz, "%s: path too long", path);
		buf_free(&out);
		return TABLE_R_ERROR;
	}
	lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd == -1 || flock(lockfd, LOCK_EX) == -1) {
		snprintf(err, errsz, "%s: %s", lockpath, strerror(errno));
		goto out;
	}
	if (table_read_file(path, &data, &len) == -1 && errno != ENOENT) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	res = edit_text(data ? data : "", len, op, key, value, out, err,
			errsz);
	if (res == TABLE_R_OK &&
	    replace_file(path, tmppath, out, err, errsz) == -1)
		res = TABLE_R_ERROR;
out:
	if (lockfd != -1)
		close(lockfd);
	free(data);
	buf_free(&out);
	return res;
}
