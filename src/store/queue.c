/*
 * queue - see queue.h and docs/QUEUE.md.
 *
 * The envelope file is line based, one field per line, "key value":
 *
 *   owlpost-queue 1
 *   id 0123456789abcdef
 *   created 1700000000
 *   next 1700000060
 *   attempts 1
 *   held 0
 *   size 1234
 *   8bit 0
 *   from <sender@example.org>
 *   error 451 4.3.0 try later
 *   rcpt P <user@example.net> 451 4.3.0 try later
 *
 * Addresses and replies are single lines (CR and LF are replaced before
 * they are stored), so the format needs no quoting.
 */
#include "queue.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops.h"

#define ENV_MAX QUEUE_ENV_MAX

static int
path(char *out, size_t size, const char *qdir, const char *sub,
     const char *id, const char *suffix)
{
	return bsnprintf(out, size, "%s/%s%s%s%s", qdir, sub, id ? "/" : "",
			 id ? id : "", suffix) == -1 ? -1 : 0;
}

static int
fail(char *err, size_t errsz, const char *what, const char *p)
{
	snprintf(err, errsz, "%s %s: %s", what, p, strerror(errno));
	return -1;
}

int
queue_init(const char *qdir, char *err, size_t errsz)
{
	static const char *subs[] = {"", "tmp", "msg", "env"};
	char p[4096];

	for (size_t i = 0; i < 4; i++) {
		if (path(p, sizeof(p), qdir, subs[i], NULL, "") == -1)
			return fail(err, errsz, "path too long", qdir);
		if (fsops_mkdir(p, 0700) == -1)
			return fail(err, errsz, "mkdir", p);
	}
	return 0;
}

bool
queue_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= QUEUE_ID_MAX || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '.' &&
		    id[i] != '-' && id[i] != '_')
			return false;
	return true;
}

int
queue_msg_path(const char *qdir, const char *id, char *out, size_t size)
{
	return path(out, size, qdir, "msg", id, "");
}

/*
 * Writes data to tmp/ID.SUFFIX, fsyncs it, renames it to SUB/ID; the
 * caller fsyncs SUB/ (once for a whole batch).
 */
static int
write_unsynced(const char *qdir, const char *sub, const char *id,
	       const char *tmpsuffix, const char *data, int in, size_t len,
	       char *err, size_t errsz)
{
	char tmp[4096], dst[4096];
	int fd;

	if (path(tmp, sizeof(tmp), qdir, "tmp", id, tmpsuffix) == -1 ||
	    path(dst, sizeof(dst), qdir, sub, id, "") == -1) {
		errno = ENAMETOOLONG;
		return fail(err, errsz, "path", qdir);
	}
	fd = fsops_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return fail(err, errsz, "open", tmp);
	if (fsops_write_text(fd, data, in, len) == -1 ||
	    fsops_fsync(fd) == -1) {
		int saved = errno;

		close(fd);
		unlink(tmp);
		errno = saved;
		return fail(err, errsz, "write", tmp);
	}
	if (fsops_close(fd) == -1) {
		unlink(tmp);
		return fail(err, errsz, "close", tmp);
	}
	if (fsops_rename(tmp, dst) == -1) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
		return fail(err, errsz, "rename", dst);
	}
	return 0;
}

/* fsync of QDIR/SUB: what was renamed into it is durable on return 0. */
static int
sync_sub(const char *qdir, const char *sub, char *err, size_t errsz)
{
	char d[4096];

	if (path(d, sizeof(d), qdir, sub, NULL, "") == -1) {
		errno = ENAMETOOLONG;
		return fail(err, errsz, "path", qdir);
	}
	return fsops_fsync_dir(d) == -1 ? fail(err, errsz, "fsync", d) : 0;
}

/* write_unsynced, then the fsync of SUB/: durable on return 0. */
static int
write_file(const char *qdir, const char *sub, const char *id,
	   const char *tmpsuffix, const char *data, int in, size_t len,
	   char *err, size_t errsz)
{
	if (write_unsynced(qdir, sub, id, tmpsuffix, data, in, len, err,
			   errsz) == -1)
		return -1;
	return sync_sub(qdir, sub, err, errsz);
}

static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n')
			*s = ' ';
}

void
qenv_format(const struct qenv *e, struct buf *b)
{
	char text[QUEUE_TEXT_MAX];

	buf_printf(b, "owlpost-queue 1\nid %s\ncreated %lld\nnext %lld\n"
		      "attempts %u\nheld %d\nsize %zu\n8bit %d\nfrom <%s>\n",
		   e->id, (long long)e->created, (long long)e->next,
		   e->attempts, e->held, e->size, e->eightbit, e->sender);
	snprintf(text, sizeof(text), "%s", e->error);
	one_line(text);
	if (text[0] != '\0')
		buf_printf(b, "error %s\n", text);
	for (size_t i = 0; i < e->nrcpts; i++) {
		snprintf(text, sizeof(text), "%s", e->rcpts[i].reply);
		one_line(text);
		buf_printf(b, "rcpt %c <%s>%s%s\n", e->rcpts[i].state,
			   e->rcpts[i].addr, text[0] ? " " : "", text);
	}
}

static int
parse_num(const char *v, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(v, &end, 10);
	return errno != 0 || end == v || *end != '\0' || *out < 0 ? -1 : 0;
}

/* "<addr>" at *v into out; *v moves past it. */
static int
parse_path(const char **v, char *out, size_t size)
{
	const char *p = *v, *close;

	if (*p != '<' || (close = strchr(p, '>')) == NULL ||
	    (size_t)(close - p - 1) >= size)
		return -1;
	/* no control octet: a CR here would reach the next hop's MAIL/RCPT */
	for (const char *c = p + 1; c < close; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -1;
	memcpy(out, p + 1, (size_t)(close - p - 1));
	out[close - p - 1] = '\0';
	*v = close + 1;
	return 0;
}

int
qenv_parse(const char *text, struct qenv *e)
{
	const char *p = text;
	size_t cap = 0;
	bool magic = false;

	memset(e, 0, sizeof(*e));
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[QUEUE_TEXT_MAX + ADDR_PATH_MAX + 64], *v;
		long long num = 0;

		if (n >= sizeof(line))
			goto bad;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl != NULL);
		if ((v = strchr(line, ' ')) == NULL)
			goto bad;
		*v++ = '\0';
		if (strcmp(line, "owlpost-queue") == 0) {
			if (strcmp(v, "1") != 0)
				goto bad;
			magic = true;
		} else if (strcmp(line, "id") == 0) {
			if (!queue_id_valid(v))
				goto bad;
			snprintf(e->id, sizeof(e->id), "%s", v);
		} else if (strcmp(line, "error") == 0) {
			snprintf(e->error, sizeof(e->error), "%s", v);
		} else if (strcmp(line, "from") == 0) {
			const char *q = v;

			if (parse_path(&q, e->sender, sizeof(e->sender)) == -1)
				goto bad;
		} else if (strcmp(line, "rcpt") == 0) {
			struct qrcpt *r;
			const char *q = v + 2;

			if (v[0] != QR_PENDING && v[0] != QR_DONE &&
			    v[0] != QR_FAILED)
				goto bad;
			if (e->nrcpts == cap) {
				cap = cap ? cap * 2 : 4;
				e->rcpts = xrealloc(e->rcpts,
						    cap * sizeof(*e->rcpts));
			}
			r = &e->rcpts[e->nrcpts];
			memset(r, 0, sizeof(*r));
			r->state = v[0];
			if (v[1] != ' ' ||
			    parse_path(&q, r->addr, sizeof(r->addr)) == -1)
				goto bad;
			if (*q == ' ')
				snprintf(r->reply, sizeof(r->reply), "%s",
					 q + 1);
			e->nrcpts++;
		} else if (parse_num(v, &num) == 0) {
			if (strcmp(line, "created") == 0)
				e->created = (time_t)num;
			else if (strcmp(line, "next") == 0)
				e->next = (time_t)num;
			else if (strcmp(line, "attempts") == 0)
				e->attempts = (unsigned)num;
			else if (strcmp(line, "held") == 0)
				e->held = num != 0;
			else if (strcmp(line, "size") == 0)
				e->size = (size_t)num;
			else if (strcmp(line, "8bit") == 0)
				e->eightbit = num != 0;
			/* unknown numeric keys: from a newer version */
		}
		/* other unknown keys are ignored likewise */
	}
	if (!magic || e->id[0] == '\0' || e->nrcpts == 0)
		goto bad;
	return 0;
bad:
	qenv_free(e);
	return -1;
}

void
qenv_free(struct qenv *e)
{
	free(e->rcpts);
	e->rcpts = NULL;
	e->nrcpts = 0;
}

void
qenv_copy(struct qenv *dst, const struct qenv *src)
{
	*dst = *src;
	dst->rcpts = xcalloc(src->nrcpts ? src->nrcpts : 1,
			     sizeof(*dst->rcpts));
	memcpy(dst->rcpts, src->rcpts, src->nrcpts * sizeof(*dst->rcpts));
}

size_t
qenv_pending(const struct qenv *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nrcpts; i++)
		n += e->rcpts[i].state == QR_PENDING;
	return n;
}

int
queue_save(const char *qdir, const struct qenv *e, char *err, size_t errsz)
{
	struct buf *b = buf_new(ENV_MAX);
	int r;

	qenv_format(e, b);
	r = write_file(qdir, "env", e->id, ".env", b->data, -1, b->len, err,
		       errsz);
	buf_free(&b);
	return r;
}

int
queue_spool_open(const char *qdir)
{
	char p[4096];
	int fd;

	if (path(p, sizeof(p), qdir, "tmp", NULL, "") == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = fsops_open(p, O_RDWR | O_TMPFILE, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR &&
			 errno != EINVAL))
		return fd;
	/* no O_TMPFILE here: a unique name, unlinked at once */
	if (bsnprintf(p, sizeof(p), "%s/tmp/spool.XXXXXX", qdir) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(p, O_CLOEXEC);
	if (fd != -1)
		unlink(p);
	return fd;
}

/* Undoes what entry q got on disk, keeping errno as its result. */
static void
new_failed(const char *qdir, struct queue_new *q)
{
	int saved = errno != 0 ? errno : EIO;
	char p[4096];

	/* a rename may have happened before a failed fsync */
	if (path(p, sizeof(p), qdir, "env", q->env->id, "") == 0)
		unlink(p);
	if (queue_msg_path(qdir, q->env->id, p, sizeof(p)) == 0)
		unlink(p);
	q->result = saved;
}

/* A directory fsync failed: every entry still standing fails with it. */
static void
all_failed(const char *qdir, struct queue_new *q, size_t n, const char *err)
{
	int saved = errno;

	for (size_t i = 0; i < n; i++)
		if (q[i].result == 0) {
			snprintf(q[i].err, q[i].errsz, "%s", err);
			errno = saved;
			new_failed(qdir, &q[i]);
		}
}

/* Step 1 and 2 of docs/QUEUE.md for each entry; the count standing. */
static size_t
write_texts(const char *qdir, struct queue_new *q, size_t n)
{
	size_t live = 0;

	for (size_t i = 0; i < n; i++) {
		q[i].result = 0;
		if (!queue_id_valid(q[i].env->id)) {
			snprintf(q[i].err, q[i].errsz, "bad queue id %s",
				 q[i].env->id);
			q[i].result = EINVAL;
		} else if (write_unsynced(qdir, "msg", q[i].env->id, ".msg",
					  q[i].data, q[i].fd, q[i].len,
					  q[i].err, q[i].errsz) == -1) {
			new_failed(qdir, &q[i]);
		} else {
			live++;
		}
	}
	return live;
}

/* Step 3 and 4 (without the fsync of env/); the count standing. */
static size_t
write_envelopes(const char *qdir, struct queue_new *q, size_t n)
{
	struct buf *b = buf_new(ENV_MAX);
	size_t live = 0;

	for (size_t i = 0; i < n; i++) {
		if (q[i].result != 0)
			continue;
		buf_reset(b);
		qenv_format(q[i].env, b);
		if (write_unsynced(qdir, "env", q[i].env->id, ".env", b->data,
				   -1, b->len, q[i].err, q[i].errsz) == -1)
			new_failed(qdir, &q[i]);
		else
			live++;
	}
	buf_free(&b);
	return live;
}

void
queue_add_many(const char *qdir, struct queue_new *q, size_t n)
{
	char err[QUEUE_TEXT_MAX];

	/* every text before any envelope: none points at a missing text */
	if (write_texts(qdir, q, n) == 0)
		return;
	if (sync_sub(qdir, "msg", err, sizeof(err)) == -1) {
		all_failed(qdir, q, n, err);
		return;
	}
	if (write_envelopes(qdir, q, n) == 0)
		return;
	if (sync_sub(qdir, "env", err, sizeof(err)) == -1)
		all_failed(qdir, q, n, err);
}

int
queue_add(const char *qdir, const struct qenv *e, const char *data,
	  int fd, size_t len, char *err, size_t errsz)
{
	struct queue_new q = {.env = e, .data = data, .fd = fd, .len = len,
			      .err = err, .errsz = errsz};

	queue_add_many(qdir, &q, 1);
	errno = q.result;
	return q.result == 0 ? 0 : -1;
}

void
queue_remove_many(const char *qdir, struct queue_gone *q, size_t n)
{
	char p[4096], err[QUEUE_TEXT_MAX];
	size_t live = 0;

	for (size_t i = 0; i < n; i++) {
		q[i].result = 0;
		if (path(p, sizeof(p), qdir, "env", q[i].id, "") == -1) {
			errno = ENAMETOOLONG;
			fail(q[i].err, q[i].errsz, "path", qdir);
			q[i].result = errno;
		} else if (unlink(p) == -1 && errno != ENOENT) {
			fail(q[i].err, q[i].errsz, "unlink", p);
			q[i].result = errno;
		} else {
			live++;
		}
	}
	if (live > 0 && sync_sub(qdir, "env", err, sizeof(err)) == -1) {
		int saved = errno != 0 ? errno : EIO;

		for (size_t i = 0; i < n; i++)
			if (q[i].result == 0) {
				snprintf(q[i].err, q[i].errsz, "%s", err);
				q[i].result = saved;
			}
	}
	/* an envelope gone for good: its text is garbage now */
	for (size_t i = 0; i < n; i++) {
		if (q[i].result != 0 ||
		    queue_msg_path(qdir, q[i].id, p, sizeof(p)) == -1)
			continue;
		if (unlink(p) == -1 && errno != ENOENT) {
			fail(q[i].err, q[i].errsz, "unlink", p);
			q[i].result = errno;
		}
	}
}

int
queue_remove(const char *qdir, const char *id, char *err, size_t errsz)
{
	struct queue_gone q = {.id = id, .err = err, .errsz = errsz};

	queue_remove_many(qdir, &q, 1);
	errno = q.result;
	return q.result == 0 ? 0 : -1;
}

int
queue_load(const char *qdir, const char *id, struct qenv *e, char *err,
	   size_t errsz)
{
	char p[4096];
	char *text;
	ssize_t n;
	int fd;

	if (!queue_id_valid(id)) {
		snprintf(err, errsz, "bad queue id '%s'", id);
		errno = EINVAL;
		return -1;
	}
	if (path(p, sizeof(p), qdir, "env", id, "") == -1)
		return fail(err, errsz, "path", qdir);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) == -1)
		return fail(err, errsz, "open", p);
	text = xmalloc(ENV_MAX + 2);
	n = read(fd, text, ENV_MAX + 1);
	close(fd);
	if (n < 0) {
		free(text);
		return fail(err, errsz, "read", p);
	}
	if (n > ENV_MAX) { /* never written by us: do not half-read it */
		free(text);
		snprintf(err, errsz, "%s: envelope over %d octets", p,
			 ENV_MAX);
		errno = EFBIG;
		return -1;
	}
	text[n] = '\0';
	if (qenv_parse(text, e) == -1 || strcmp(e->id, id) != 0) {
		free(text);
		qenv_free(e);
		snprintf(err, errsz, "%s: not a queue envelope", p);
		errno = EINVAL;
		return -1;
	}
	free(text);
	return 0;
}

static bool
exists(const char *qdir, const char *sub, const char *id)
{
	char p[4096];
	struct stat st;

	return path(p, sizeof(p), qdir, sub, id, "") == 0 &&
	       stat(p, &st) == 0;
}

int
queue_recover(const char *qdir, struct qenv **out, size_t *n,
	      void (*note)(const char *what, const char *name), char *err,
	      size_t errsz)
{
	static const char *subs[] = {"tmp", "msg", "env"};
	char d[4096], p[4096];
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (size_t s = 0; s < 3; s++) {
		DIR *dir;
		struct dirent *de;

		if (path(d, sizeof(d), qdir, subs[s], NULL, "") == -1 ||
		    (dir = opendir(d)) == NULL)
			return fail(err, errsz, "opendir", d);
		while ((de = readdir(dir)) != NULL) {
			const char *id = de->d_name;
			struct qenv e;
			char why[300];

			if (id[0] == '.')
				continue;
			if (bsnprintf(p, sizeof(p), "%s/%s", d, id) == -1)
				continue;
			if (s == 0) { /* an interrupted write */
				unlink(p);
				if (note)
					note("tmp-removed", id);
			} else if (s == 1 && !exists(qdir, "env", id)) {
				/* text without envelope: never acknowledged */
				unlink(p);
				if (note)
					note("orphan-text-removed", id);
			} else if (s == 2) {
				if (!exists(qdir, "msg", id) ||
				    queue_load(qdir, id, &e, why,
					       sizeof(why)) == -1) {
					if (note)
						note("bad-envelope-kept", id);
					continue;
				}
				if (*n == cap) {
					cap = cap ? cap * 2 : 16;
					*out = xrealloc(*out,
							cap * sizeof(**out));
				}
				(*out)[(*n)++] = e;
			}
		}
		closedir(dir);
	}
	return 0;
}
