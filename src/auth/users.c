/*
 * users - see users.h.
 */
#include "users.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../store/store.h"

struct entry {
	char *name;
	char *hash;
	unsigned line;		/* in the file */
};

struct users {
	char *path;
	struct entry *v;
	size_t n;
	bool loaded;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct users *
users_new(const char *path)
{
	struct users *u = xcalloc(1, sizeof(*u));

	u->path = xstrdup(path);
	return u;
}

static void
clear(struct entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].hash);
	}
	free(v);
}

void
users_free(struct users **up)
{
	if (*up == NULL)
		return;
	clear((*up)->v, (*up)->n);
	free((*up)->path);
	free(*up);
	*up = NULL;
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
		      ((const struct entry *)b)->name);
}

int
users_normalize(const char *name, char *out, size_t size)
{
	size_t n = strlen(name), i;

	if (n == 0 || n >= size)
		return -1;
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	return store_user_valid(out) ? 0 : -1;
}

/* Splits "name:hash" in place; NULL name if the line is not a user. */
static void
parse_line(char *line, char **name, char **hash)
{
	char *colon;
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	*name = *hash = NULL;
	if (line[0] == '#' || line[0] == '\0')
		return;
	colon = strchr(line, ':');
	if (colon == NULL)
		return;
	*colon = '\0';
	*name = line;
	*hash = colon + 1;
}

/* Orders by name, then by line, so the first line of a name comes first. */
static int
cmp_entry_line(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static void
warn_line(const char *what, unsigned lineno, const char *reason)
{
	log_msg(LOGL_WARN, "auth", "event=bad-user file=%s line=%u "
		"reason=\"%s, line skipped\"", what, lineno, reason);
}

/* Adds the user on one line (len octets, no LF) to *v, if it has one. */
static void
add_line(const char *s, size_t len, const char *what, unsigned lineno,
	 struct entry **v, size_t *n, size_t *cap)
{
	char line[USERS_LINE_MAX], *name, *hash;

	if (len >= sizeof(line)) {
		warn_line(what, lineno, "line too long");
		return;
	}
	if (memchr(s, '\0', len) != NULL) {
		warn_line(what, lineno, "NUL octet");
		return;
	}
	memcpy(line, s, len);
	line[len] = '\0';
	parse_line(line, &name, &hash);
	if (name == NULL)
		return;
	if (!store_user_valid(name)) {
		warn_line(what, lineno, "invalid user name");
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].name = xstrdup(name);
	(*v)[*n].hash = xstrdup(hash);
	(*v)[*n].line = lineno;
	(*n)++;
}

void
users_parse(struct users *u, const char *data, size_t len, const char *what)
{
	struct entry *v = NULL;
	size_t n = 0, cap = 0, k = 0;
	const char *p = data, *end = data + len;
	unsigned lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		add_line(p, l, what, ++lineno, &v, &n, &cap);
		p += l + (nl != NULL);
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_entry_line);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(v[k - 1].name, v[i].name) == 0) {
			warn_line(what, v[i].line,
				  "user listed twice, the first line wins");
			free(v[i].name);
			free(v[i].hash);
			continue;
		}
		v[k++] = v[i];
	}
	clear(u->v, u->n);
	u->v = v;
	u->n = k;
}

/* The whole file (at most USERS_FILE_MAX octets); NULL with errno. */
static char *
read_all(FILE *fp, size_t hint, size_t *len)
{
	size_t cap = hint < USERS_FILE_MAX ? hint + 1 : USERS_FILE_MAX + 1;
	char *text = xmalloc(cap);

	*len = 0;
	for (;;) {
		size_t k = fread(text + *len, 1, cap - *len, fp);

		*len += k;
		if (k == 0 && ferror(fp)) {
			free(text);
			errno = EIO;
			return NULL;
		}
		if (*len < cap) {
			if (feof(fp))
				return text;
			continue;
		}
		if (cap > USERS_FILE_MAX) {
			free(text);
			errno = EFBIG;
			return NULL;
		}
		cap = cap * 2 > USERS_FILE_MAX + 1 ? USERS_FILE_MAX + 1
						   : cap * 2;
		text = xrealloc(text, cap);
	}
}

int
users_refresh(struct users *u, const char **error_r)
{
	struct stat sb;
	char *text;
	size_t len;
	FILE *fp;

	if (stat(u->path, &sb) == -1) {
		if (errno == ENOENT) {
			/* no users yet: an empty table */
			clear(u->v, u->n);
			u->v = NULL;
			u->n = 0;
			u->loaded = false;
			return 0;
		}
		*error_r = strerror(errno);
		return -1;
	}
	if (u->loaded && sb.st_dev == u->dev && sb.st_ino == u->ino &&
	    sb.st_size == u->size && sb.st_mtim.tv_sec == u->mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == u->mtime.tv_nsec)
		return 0;
	if ((fp = fopen(u->path, "r")) == NULL) {
		*error_r = strerror(errno);
		return -1;
	}
	if (fstat(fileno(fp), &sb) == -1) {
		fclose(fp);
		*error_r = strerror(errno);
		return -1;
	}
	if ((text = read_all(fp, (size_t)sb.st_size, &len)) == NULL) {
		fclose(fp);
		*error_r = errno == EFBIG ? "users file too large"
					  : strerror(errno);
		return -1;
	}
	fclose(fp);
	users_parse(u, text, len, u->path);
	free(text);
	u->loaded = true;
	u->dev = sb.st_dev;
	u->ino = sb.st_ino;
	u->size = sb.st_size;
	u->mtime = sb.st_mtim;
	return 0;
}

const char *
users_lookup(const struct users *u, const char *name)
{
	struct entry key = {.name = (char *)name};
	const struct entry *e;

	if (u->n == 0)
		return NULL;
	e = bsearch(&key, u->v, u->n, sizeof(*u->v), cmp_entry);
	return e ? e->hash : NULL;
}

size_t
users_count(const struct users *u)
{
	return u->n;
}

const char *
users_name(const struct users *u, size_t i)
{
	return i < u->n ? u->v[i].name : NULL;
}

int
users_hash_password(const char *password, char *out, size_t size,
		    const char **error_r)
{
	static const char *prefixes[] = {"$y$", "$6$"};
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = NULL;

	for (size_t i = 0; i < 2 && h == NULL; i++) {
		if (crypt_gensalt_rn(prefixes[i], 0, NULL, 0, salt,
				     sizeof(salt)) == NULL)
			continue;
		h = crypt_r(password, salt, cd);
		if (h != NULL && h[0] == '*')
			h = NULL;
	}
	if (h == NULL) {
		*error_r = "crypt(3) could not hash the password";
		free(cd);
		return -1;
	}
	if ((size_t)snprintf(out, size, "{CRYPT}%s", h) >= size) {
		*error_r = "hash too long";
		free(cd);
		return -1;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return 0;
}

/* Compares in time independent of where the strings differ. */
static bool
ct_equal(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static char dummy[256];

static void
make_dummy(void)
{
	const char *err;

	/* a random salt: no password is known to match it */
	if (users_hash_password("owlpost-no-such-user", dummy, sizeof(dummy),
				&err) == -1)
		snprintf(dummy, sizeof(dummy), "{CRYPT}*");
}

const char *
users_dummy_hash(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, make_dummy);
	return dummy;
}

bool
users_verify(const char *stored, const char *password)
{
	struct crypt_data *cd;
	const char *h;
	bool ok;

	if (strncmp(stored, "{CRYPT}", 7) == 0)
		stored += 7;
	else if (strncmp(stored, "{SHA512-CRYPT}", 14) == 0)
		stored += 14;
	else if (stored[0] == '{')
		return false;
	if (stored[0] != '$')
		return false;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(password, stored, cd);
	ok = h != NULL && h[0] != '*' && strlen(h) == strlen(stored) &&
	     ct_equal(h, stored, strlen(h));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int
users_file_edit(const char *path, enum users_edit op, const char *name,
		const char *hash, char *err, size_t errsz)
{
	char lockpath[4096], tmppath[4096], line[1024];
	struct buf *out = buf_new(64 * 1024 * 1024);
	bool found = false;
	int lockfd, fd = -1, rc = -1;
	FILE *fp;
	char *dir, *slash;

	snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	snprintf(tmppath, sizeof(tmppath), "%s.tmp.%ld", path,
		 (long)getpid());
	lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd == -1 || flock(lockfd, LOCK_EX) == -1) {
		snprintf(err, errsz, "%s: %s", lockpath, strerror(errno));
		goto out;
	}
	if ((fp = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL) {
			char copy[1024], *n, *h;

			snprintf(copy, sizeof(copy), "%s", line);
			parse_line(copy, &n, &h);
			if (n != NULL && strcmp(n, name) == 0) {
				found = true;
				if (op == USERS_DEL)
					continue;
				if (op == USERS_PASSWD) {
					buf_printf(out, "%s:%s\n", name, hash);
					continue;
				}
			}
			buf_addstr(out, line);
			if (out->len > 0 && out->data[out->len - 1] != '\n')
				buf_addc(out, '\n');
		}
		fclose(fp);
	} else if (errno != ENOENT) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (op == USERS_ADD && found) {
		snprintf(err, errsz, "user %s already exists", name);
		goto out;
	}
	if (op != USERS_ADD && !found) {
		snprintf(err, errsz, "no such user: %s", name);
		goto out;
	}
	if (op == USERS_ADD && buf_printf(out, "%s:%s\n", name, hash) == -1) {
		snprintf(err, errsz, "%s: users file too large", path);
		goto out;
	}
	fd = open(tmppath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, out->data, out->len) != (ssize_t)out->len ||
	    fsync(fd) == -1 || close(fd) == -1) {
		snprintf(err, errsz, "%s: %s", tmppath, strerror(errno));
		if (fd != -1)
			unlink(tmppath);
		goto out;
	}
	if (rename(tmppath, path) == -1) {
		snprintf(err, errsz, "rename(%s, %s): %s", tmppath, path,
			 strerror(errno));
		unlink(tmppath);
		goto out;
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
	rc = 0;
out:
	if (lockfd != -1)
		close(lockfd);
	buf_free(&out);
	return rc;
}
