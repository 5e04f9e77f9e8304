/*
 * signer - see signer.h.  The key set is a small array of (domain,
 * selector, key), searched linearly: a server signs for a few domains.
 */
#include "signer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../msgauth/dkim.h"
#include "../msgauth/hfield.h"
#include "../store/fsops.h"

#define KEY_FILE_MAX (64 * 1024)
#define KEYS_MAX 1000
#define CHUNK (64 * 1024)

struct skey {
	char domain[DKIM_DOMAIN_MAX + 1];
	char selector[DKIM_SELECTOR_MAX + 1];
	struct dkim_key *key;	/* NULL: several files, none chosen */
};

struct keyset {
	unsigned refs;
	bool on;
	struct skey *k;
	size_t n;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct keyset *current;

static void
keyset_unref(struct keyset *ks)
{
	bool last;

	if (ks == NULL)
		return;
	pthread_mutex_lock(&lock);
	last = --ks->refs == 0;
	pthread_mutex_unlock(&lock);
	if (!last)
		return;
	for (size_t i = 0; i < ks->n; i++)
		dkim_key_free(&ks->k[i].key);
	free(ks->k);
	free(ks);
}

static struct keyset *
keyset_ref(void)
{
	struct keyset *ks;

	pthread_mutex_lock(&lock);
	if ((ks = current) != NULL)
		ks->refs++;
	pthread_mutex_unlock(&lock);
	return ks;
}

static void
install(struct keyset *ks)
{
	struct keyset *old;

	pthread_mutex_lock(&lock);
	old = current;
	current = ks;
	pthread_mutex_unlock(&lock);
	keyset_unref(old);
}

/* "DOMAIN.SELECTOR.key" into its parts; false if not such a name. */
static bool
split_name(const char *name, char *domain, char *selector)
{
	size_t n = strlen(name);
	const char *dot;

	if (n < 9 || strcmp(name + n - 4, ".key") != 0)
		return false;
	n -= 4;
	dot = memrchr(name, '.', n);
	if (dot == NULL || dot == name || (size_t)(dot - name) >
	    DKIM_DOMAIN_MAX || n - (size_t)(dot - name) - 1 >
	    DKIM_SELECTOR_MAX || (size_t)(dot - name) + 1 == n)
		return false;
	memcpy(domain, name, (size_t)(dot - name));
	domain[dot - name] = '\0';
	memcpy(selector, dot + 1, n - (size_t)(dot - name) - 1);
	selector[n - (size_t)(dot - name) - 1] = '\0';
	return true;
}

/* Reads and parses one key file; NULL (logged) if it cannot. */
static struct dkim_key *
read_key(const char *path)
{
	char *text = xmalloc(KEY_FILE_MAX);
	struct dkim_key *key = NULL;
	const char *err = "empty";
	struct stat st;
	ssize_t n = -1;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
			log_msg(LOGL_WARN, "dkim", "event=key-readable-by-"
				"others path=%s mode=%03o", path,
				(unsigned)(st.st_mode & 0777));
		n = read(fd, text, KEY_FILE_MAX);
		close(fd);
	}
	if (n < 0)
		log_msg(LOGL_ERROR, "dkim", "event=key-skipped path=%s "
			"error=\"%s\"", path, strerror(errno));
	else if (n == KEY_FILE_MAX ||
		 dkim_key_private(text, (size_t)n, &key, &err) == -1)
		log_msg(LOGL_ERROR, "dkim", "event=key-skipped path=%s "
			"error=\"%s\"", path, n == KEY_FILE_MAX
						  ? "over 64 KiB" : err);
	free(text);
	return key;
}

/* Adds one file's key to ks, or notes a second key for its domain. */
static void
add_key(struct keyset *ks, const char *dir, const char *name,
	const char *want)
{
	char domain[DKIM_DOMAIN_MAX + 1], sel[DKIM_SELECTOR_MAX + 1];
	char path[PATH_MAX];
	struct skey *k = NULL;

	if (!split_name(name, domain, sel) || ks->n == KEYS_MAX ||
	    (want[0] != '\0' && strcmp(sel, want) != 0) ||
	    bsnprintf(path, sizeof(path), "%s/%s", dir, name) == -1)
		return;
	for (size_t i = 0; i < ks->n; i++)
		if (strcasecmp(ks->k[i].domain, domain) == 0)
			k = &ks->k[i];
	if (k != NULL) { /* several keys and no dkim.selector to choose */
		log_msg(LOGL_WARN, "dkim", "event=key-ambiguous domain=%s "
			"selectors=%s,%s action=unsigned hint=\"set "
			"dkim.selector or remove one\"", domain, k->selector,
			sel);
		dkim_key_free(&k->key);
		return;
	}
	k = &ks->k[ks->n];
	for (size_t i = 0; domain[i] != '\0'; i++)
		if (domain[i] >= 'A' && domain[i] <= 'Z')
			domain[i] = (char)(domain[i] + 32);
	snprintf(k->domain, sizeof(k->domain), "%s", domain);
	snprintf(k->selector, sizeof(k->selector), "%s", sel);
	if ((k->key = read_key(path)) == NULL)
		return;
	ks->n++;
	log_msg(LOGL_INFO, "dkim", "event=key-loaded domain=%s selector=%s "
		"algo=%s bits=%u", domain, sel,
		dkim_algo_name(dkim_key_algo(k->key)), dkim_key_bits(k->key));
}

/* The domains ks signs for (none when ks is NULL or signing is off). */
static size_t
usable_domains(struct keyset *ks)
{
	size_t n = 0;

	for (size_t i = 0; ks != NULL && ks->on && i < ks->n; i++)
		n += ks->k[i].key != NULL;
	return n;
}

size_t
signer_load(const struct conf *c)
{
	struct keyset *ks;
	char dir[PATH_MAX];
	struct dirent *e;
	size_t usable = 0;
	DIR *d;

	if (bsnprintf(dir, sizeof(dir), "%s/dkim", c->data_dir) == -1)
		return 0;
	if ((d = opendir(dir)) == NULL && errno != ENOENT) {
		log_msg(LOGL_ERROR, "dkim", "event=keys-kept error=\"opendir "
			"%s: %s\"", dir, strerror(errno));
		ks = keyset_ref(); /* the set kept */
		usable = usable_domains(ks);
		keyset_unref(ks);
		return usable;
	}
	ks = xcalloc(1, sizeof(*ks));
	ks->refs = 1;
	ks->on = c->dkim_sign == CONF_DKIM_ON;
	ks->k = xcalloc(KEYS_MAX, sizeof(*ks->k));
	while (d != NULL && (e = readdir(d)) != NULL)
		add_key(ks, dir, e->d_name, c->dkim_selector);
	if (d != NULL)
		closedir(d);
	usable = usable_domains(ks);
	install(ks);
	return usable;
}

void
signer_unload(void)
{
	install(NULL);
}

static const struct skey *
find_key(const struct keyset *ks, const char *domain)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->k[i].key != NULL &&
		    strcmp(ks->k[i].domain, domain) == 0)
			return &ks->k[i];
	return NULL;
}

/* Feeds the body: from data, or from fd past what head holds. */
static int
feed_body(struct dkim_signer *s, const char *data, int fd, size_t len,
	  const char *head, size_t have, size_t hlen)
{
	char *chunk;
	size_t off;

	if (data != NULL) {
		dkim_signer_body(s, data + hlen, len - hlen);
		return 0;
	}
	dkim_signer_body(s, head + hlen, have - hlen);
	chunk = xmalloc(CHUNK);
	for (off = have; off < len;) {
		ssize_t n = pread(fd, chunk, len - off < CHUNK ? len - off
							       : CHUNK,
				  (off_t)off);

		if (n <= 0) {
			free(chunk);
			return -1;
		}
		dkim_signer_body(s, chunk, (size_t)n);
		off += (size_t)n;
	}
	free(chunk);
	return 0;
}

static int
sign_with(const struct skey *k, const char *data, int fd, size_t len,
	  int64_t now, const char *head, size_t have, struct buf *field,
	  char *why, size_t whysz)
{
	size_t hlen = hfield_section_len(head, have);
	struct dkim_signer *s;
	const char *err;

	s = dkim_signer_new(k->key, k->domain, k->selector, now, head, hlen,
			    &err);
	if (s == NULL) {
		snprintf(why, whysz, "%s", err);
		return -1;
	}
	if (feed_body(s, data, fd, len, head, have, hlen) == -1) {
		snprintf(why, whysz, "reading the spool: %s",
			 strerror(errno));
		dkim_signer_free(&s);
		return -1;
	}
	if (dkim_signer_finish(s, field, &err) == -1) {
		snprintf(why, whysz, "%s", err);
		dkim_signer_free(&s);
		return -1;
	}
	dkim_signer_free(&s);
	snprintf(why, whysz, "d=%s s=%s", k->domain, k->selector);
	return 1;
}

int
signer_sign(const char *data, int fd, size_t len, int64_t now,
	    struct buf *field, size_t *ins_r, char *why, size_t whysz)
{
	struct keyset *ks = keyset_ref();
	char domain[DKIM_DOMAIN_MAX + 1], *head = NULL;
	const struct skey *k;
	size_t have = len;
	ssize_t n;
	int rc = 0;

	snprintf(why, whysz, "signing off");
	if (ks == NULL || !ks->on || ks->n == 0)
		goto out;
	if (data == NULL) { /* the header section from the spool */
		have = len < DKIM_HEADERS_MAX ? len : DKIM_HEADERS_MAX;
		head = xmalloc(have + 1);
		if ((n = pread(fd, head, have, 0)) != (ssize_t)have) {
			snprintf(why, whysz, "reading the spool: %s",
				 n < 0 ? strerror(errno) : "short read");
			rc = -1;
			goto out;
		}
	}
	if (dkim_from_domain(data ? data : head, have, domain,
			     sizeof(domain)) == -1) {
		snprintf(why, whysz, "no From domain");
		goto out;
	}
	if ((k = find_key(ks, domain)) == NULL) {
		snprintf(why, whysz, "no key for %s", domain);
		goto out;
	}
	if (data == NULL && have < len &&
	    memmem(head, have, "\n\n", 2) == NULL && head[0] != '\n') {
		snprintf(why, whysz, "the header section is over %u KiB",
			 (unsigned)(DKIM_HEADERS_MAX / 1024));
		rc = -1;
		goto out;
	}
	*ins_r = hfield_insert_at(data ? data : head, have);
	rc = sign_with(k, data, fd, len, now, data ? data : head, have, field,
		       why, whysz);
out:
	free(head);
	keyset_unref(ks);
	return rc;
}

int
signer_copy_fd(int fd, size_t len, size_t ins, const struct buf *field,
	       int newfd)
{
	char *chunk = xmalloc(CHUNK);
	size_t off = 0;
	int rc = -1;

	while (off < len) {
		size_t want = off < ins ? ins - off : len - off;
		ssize_t n;

		if (off == ins && fsops_write_all(newfd, field->data,
						  field->len) == -1)
			goto out;
		if (want > CHUNK)
			want = CHUNK;
		if ((n = pread(fd, chunk, want, (off_t)off)) <= 0) {
			if (n == 0)
				errno = EIO;
			goto out;
		}
		if (fsops_write_all(newfd, chunk, (size_t)n) == -1)
			goto out;
		off += (size_t)n;
	}
	if (ins >= len && fsops_write_all(newfd, field->data, field->len) ==
	    -1)
		goto out;
	rc = 0;
out:
	free(chunk);
	return rc;
}

void
signer_bounce(struct buf *b, size_t start)
{
	struct buf *field = buf_new(64 * 1024);
	char why[300];
	size_t ins = 0, tail = b->len - start;
	char *copy;

	if (signer_sign(b->data + start, -1, tail, (int64_t)time(NULL), field,
			&ins, why, sizeof(why)) == 1) {
		ins += start;
		if (b->len + field->len > b->max) {
			log_msg(LOGL_WARN, "dkim", "event=bounce-unsigned "
				"error=\"no room\"");
		} else {
			copy = xmalloc(b->len - ins + 1);
			memcpy(copy, b->data + ins, b->len - ins);
			tail = b->len - ins;
			b->len = ins;
			buf_add(b, field->data, field->len);
			buf_add(b, copy, tail);
			free(copy);
		}
	} else if (strncmp(why, "no ", 3) != 0 &&
		   strcmp(why, "signing off") != 0) {
		log_msg(LOGL_WARN, "dkim", "event=bounce-unsigned "
			"error=\"%s\"", why);
	}
	buf_free(&field);
}
