/*
 * maildir_expunge - the POP3 update of a Maildir, all or nothing.
 *
 * Unlinking the marked files one by one is not atomic: a crash in the
 * middle leaves some deleted and some not.  So the names to delete are
 * first written to an intent record, DIR/owlpost-expunge (Maildir readers
 * only look in tmp/, new/ and cur/), durably: written as
 * owlpost-expunge.tmp, fsync'ed, renamed, DIR fsync'ed.  That rename is
 * the commit point.  Then the files are unlinked, cur/ is fsync'ed and the
 * record is removed.  The next open of the mailbox (maildir_box_open, under
 * the POP3 session's mailbox lock) first rolls a record it finds forward,
 * and removes a stray .tmp, which was never committed.  The states are in
 * docs/MAILDIR.md.
 *
 * The record holds each marked message's name in cur/ as the snapshot saw
 * it, one per line after a magic line, with '\' and a newline escaped as
 * "\\" and "\n", behind a tag: 'u' if no other message of the snapshot
 * has its base name (the name up to ':'), 'd' if one has.  Applying it
 * unlinks each exact name; a name gone from cur/ (a flag change by another
 * reader renamed it, or a power loss undid the move from new/) is looked
 * for by its base in cur/ and new/, but only with 'u': two files of one
 * base (a copy left by another program) must not both go when one was
 * marked.  Version 1 records (base names only) are read as 'u' bases.
 * Failures return STORE_TEMP with the call and path in err; a record that
 * was written stays and is rolled forward at the next open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "fsops.h"
#include "store_private.h"

#define RECORD "owlpost-expunge"
#define MAGIC "owlpost-expunge 2"
#define MAGIC_V1 "owlpost-expunge 1"	/* base names only */
#define LINE_MAX_OWL 1024	/* an escaped name (NAME_MAX 255) fits */

struct names {
	char **v;
	size_t n, cap;
};

static void
names_add(struct names *ns, const char *s, size_t len)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 16;
		ns->v = xrealloc(ns->v, ns->cap * sizeof(*ns->v));
	}
	ns->v[ns->n] = xmalloc(len + 1);
	memcpy(ns->v[ns->n], s, len);
	ns->v[ns->n][len] = '\0';
	ns->n++;
}

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One escaped line of the record for name s (len octets) with its tag. */
static int
escape_line(struct buf *b, char tag, const char *s, size_t len)
{
	int r = buf_addc(b, tag);

	for (size_t i = 0; i < len && r == 0; i++) {
		if (s[i] == '\\')
			r = buf_addstr(b, "\\\\");
		else if (s[i] == '\n')
			r = buf_addstr(b, "\\n");
		else
			r = buf_addc(b, s[i]);
	}
	return r == 0 ? buf_addc(b, '\n') : -1;
}

/* Undoes escape_line in place; -1 on a bad escape. */
static int
unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r != '\0'; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		r++;
		if (*r == '\\')
			*w++ = '\\';
		else if (*r == 'n')
			*w++ = '\n';
		else
			return -1;
	}
	*w = '\0';
	return 0;
}

static size_t
base_len(const char *name)
{
	return strcspn(name, ":");
}

static int
cmp_base_idx(const void *a, const void *b, void *arg)
{
	char *const *names = arg;
	const char *x = names[*(const size_t *)a];
	const char *y = names[*(const size_t *)b];
	size_t lx = base_len(x), ly = base_len(y);
	int c = memcmp(x, y, lx < ly ? lx : ly);

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

/*
 * The file names of b's messages: names[i] points into one buffer
 * (*text_r, the caller's to free with names).  NULL if one is too long.
 */
static char **
box_names(const struct store_box *b, char **text_r)
{
	char **names = xcalloc(b->n + 1, sizeof(*names));
	size_t len = 0, cap = 65536;
	char *text = xmalloc(cap), name[LINE_MAX_OWL];
	size_t *offs = xcalloc(b->n + 1, sizeof(*offs));

	for (size_t i = 0; i < b->n; i++) {
		size_t n;

		if (store_box_file(b, i, name, sizeof(name)) == -1) {
			free(names);
			free(text);
			free(offs);
			return NULL;
		}
		n = strlen(name) + 1;
		while (len + n > cap)
			text = xrealloc(text, cap *= 2);
		memcpy(text + len, name, n);
		offs[i] = len;
		len += n;
	}
	for (size_t i = 0; i < b->n; i++)
		names[i] = text + offs[i];
	free(offs);
	*text_r = text;
	return names;
}

/* shared[i]: another message of the snapshot has message i's base name. */
static bool *
shared_bases(const struct store_box *b, char **names)
{
	bool *shared = xcalloc(b->n + 1, sizeof(*shared));
	size_t *idx = xcalloc(b->n + 1, sizeof(*idx));

	for (size_t i = 0; i < b->n; i++)
		idx[i] = i;
	qsort_r(idx, b->n, sizeof(*idx), cmp_base_idx, names);
	for (size_t i = 1; i < b->n; i++)
		if (cmp_base_idx(&idx[i - 1], &idx[i], names) == 0)
			shared[idx[i - 1]] = shared[idx[i]] = true;
	free(idx);
	return shared;
}

/* Writes the record for the marked messages: the commit point. */
static enum store_res
write_record(const struct store_box *b, const bool *dele, char *err,
	     size_t errsz)
{
	char tmp[4400], rec[4400];
	struct buf *text;
	enum store_res r = STORE_TEMP;
	bool *shared = NULL;
	char **names, *names_text = NULL;
	const char *call;
	size_t max;

	/* each name escaped is at most twice NAME_MAX, and its newline */
	if (__builtin_mul_overflow(b->n + 1, (size_t)LINE_MAX_OWL, &max)) {
		snprintf(err, errsz, "%s: too many messages", b->path);
		return STORE_TEMP;
	}
	if ((names = box_names(b, &names_text)) == NULL) {
		snprintf(err, errsz, "%s: name too long", b->path);
		return STORE_TEMP;
	}
	text = buf_new(max);
	bsnprintf(tmp, sizeof(tmp), "%s/" RECORD ".tmp", b->path);
	bsnprintf(rec, sizeof(rec), "%s/" RECORD, b->path);
	buf_addstr(text, MAGIC "\n");
	shared = shared_bases(b, names);
	for (size_t i = 0; i < b->n; i++) {
		if (dele[i] &&
		    escape_line(text, shared[i] ? 'd' : 'u', names[i],
				strlen(names[i])) == -1) {
			snprintf(err, errsz, "%s: name too long", b->path);
			goto done;
		}
	}
	switch (fsops_replace(tmp, rec, b->path, text->data, text->len,
			      &call)) {
	case 0:
		r = STORE_OK;
		break;
	case -2:
		/* maybe not durable: delete nothing on it */
		r = store_sys_fail(err, errsz, call, b->path);
		unlink(rec);
		break;
	default:
		r = store_sys_fail(err, errsz, call, tmp);
		break;
	}
done:
	free(shared);
	free(names);
	free(names_text);
	buf_free(&text);
	return r;
}

/* Reads the record at rec into ns (sorted). */
static enum store_res
read_record(const char *rec, struct names *ns, char *err, size_t errsz)
{
	char line[LINE_MAX_OWL + 1];
	bool magic = false, v1 = false;
	FILE *f = fopen(rec, "re");

	if (f == NULL)
		return store_sys_fail(err, errsz, "open", rec);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);

		if (n == 0 || line[n - 1] != '\n')
			break; /* too long or cut: not ours */
		line[--n] = '\0';
		if (!magic) {
			v1 = strcmp(line, MAGIC_V1) == 0;
			if (strcmp(line, MAGIC) != 0 && !v1)
				break;
			magic = true;
			continue;
		}
		if (v1) {
			/* a base name: as 'u', found by its base */
			memmove(line + 1, line, n + 1);
			line[0] = 'b';
		} else if (line[0] != 'u' && line[0] != 'd') {
			break;
		}
		if (unescape(line + 1) == -1)
			break;
		names_add(ns, line, strlen(line));
	}
	if (ferror(f) || !feof(f) || !magic) {
		fclose(f);
		snprintf(err, errsz, "%s: not an expunge record", rec);
		return STORE_TEMP;
	}
	fclose(f);
	if (ns->n > 0)
		qsort(ns->v, ns->n, sizeof(*ns->v), cmp_name);
	return STORE_OK;
}

/*
 * Unlinks every file of DIR/SUB whose base name is in ns and fsyncs SUB:
 * a marked message renamed since the snapshot (another reader's flags,
 * or moved from new/ to cur/) is still found.
 */
static enum store_res
apply_sub(const char *dir, const char *sub, struct names *ns, char *err,
	  size_t errsz)
{
	char d[4200], path[4500], base[512];
	struct dirent *de;
	DIR *dp;

	bsnprintf(d, sizeof(d), "%s/%s", dir, sub);
	if ((dp = opendir(d)) == NULL)
		return errno == ENOENT ? STORE_OK
				       : store_sys_fail(err, errsz, "opendir", d);
	/* nothing to look for by base: only the fsync below */
	while (ns->n > 0 && (de = readdir(dp)) != NULL) {
		size_t n = strcspn(de->d_name, ":");
		char *key = base;

		if (de->d_name[0] == '.' || n >= sizeof(base))
			continue;
		memcpy(base, de->d_name, n);
		base[n] = '\0';
		if (bsearch(&key, ns->v, ns->n, sizeof(*ns->v), cmp_name) ==
		    NULL)
			continue;
		if (bsnprintf(path, sizeof(path), "%s/%s", d, de->d_name) ==
			    -1 ||
		    (fsops_unlink(path) == -1 && errno != ENOENT)) {
			closedir(dp);
			return store_sys_fail(err, errsz, "unlink", path);
		}
	}
	closedir(dp);
	/*
	 * Both, always: a crash may have come after the unlinks, before this;
	 * and new/ also for the messages still there as delivered, and for
	 * a flag change's move to cur/, which a power loss could undo,
	 * bringing a deleted message back once the record is gone.
	 */
	if (fsops_fsync_dir(d) == -1)
		return store_sys_fail(err, errsz, "fsync", d);
	return STORE_OK;
}

/*
 * Unlinks the recorded name from cur/ or, as delivered, from new/; *gone:
 * it was in one of them.  A name that cannot be a path is in neither.
 */
static enum store_res
unlink_recorded(const char *dir, const char *name, bool *gone, char *err,
		size_t errsz)
{
	static const char *const subs[] = {"cur", "new"};
	char path[4500];

	*gone = false;
	for (size_t k = 0; k < 2; k++) {
		if (bsnprintf(path, sizeof(path), "%s/%s/%s", dir, subs[k],
			      name) == -1)
			return STORE_OK;
		if (fsops_unlink(path) == 0) {
			*gone = true;
			return STORE_OK;
		}
		if (errno != ENOENT)
			return store_sys_fail(err, errsz, "unlink", path);
	}
	return STORE_OK;
}

/*
 * Unlinks each recorded name from cur/ or new/; one in neither (renamed
 * meanwhile) is looked for by its base name in cur/ and new/ when that
 * base was the snapshot's only one ('u', or a version 1 base 'b').  Both
 * directories are fsync'ed.
 */
static enum store_res
apply(const char *dir, struct names *ns, char *err, size_t errsz)
{
	struct names by_base = {0};
	enum store_res r = STORE_OK;
	bool gone;

	for (size_t i = 0; i < ns->n && r == STORE_OK; i++) {
		const char *name = ns->v[i] + 1;
		char tag = ns->v[i][0];

		if (tag != 'b') {
			r = unlink_recorded(dir, name, &gone, err, errsz);
			if (r != STORE_OK)
				break;
			if (gone)
				continue;
			if (tag == 'd')
				continue; /* its twin stays: not marked */
		}
		names_add(&by_base, name, base_len(name));
	}
	if (by_base.n > 0)
		qsort(by_base.v, by_base.n, sizeof(*by_base.v), cmp_name);
	if (r == STORE_OK)
		r = apply_sub(dir, "cur", &by_base, err, errsz);
	if (r == STORE_OK)
		r = apply_sub(dir, "new", &by_base, err, errsz);
	names_free(&by_base);
	return r;
}

/* Rolls the record at DIR forward (it exists): apply, then remove it. */
static enum store_res
roll_forward(const char *dir, char *err, size_t errsz)
{
	char rec[4400];
	struct names ns = {0};
	enum store_res r;

	bsnprintf(rec, sizeof(rec), "%s/" RECORD, dir);
	r = read_record(rec, &ns, err, errsz);
	if (r == STORE_OK)
		r = apply(dir, &ns, err, errsz);
	names_free(&ns);
	/* once cur/ is synced the record says nothing new: gone for good */
	if (r == STORE_OK && unlink(rec) == -1 && errno != ENOENT)
		r = store_sys_fail(err, errsz, "unlink", rec);
	return r;
}

enum store_res
maildir_expunge_recover(const char *dir, bool *rolled_r, char *err,
			size_t errsz)
{
	char p[4400];

	*rolled_r = false;
	/* never committed: the deletion it was for did not happen */
	bsnprintf(p, sizeof(p), "%s/" RECORD ".tmp", dir);
	if (unlink(p) == -1 && errno != ENOENT)
		return store_sys_fail(err, errsz, "unlink", p);
	bsnprintf(p, sizeof(p), "%s/" RECORD, dir);
	if (access(p, F_OK) == -1)
		return errno == ENOENT ? STORE_OK
				       : store_sys_fail(err, errsz, "access", p);
	*rolled_r = true;
	return roll_forward(dir, err, errsz);
}

enum store_res
maildir_box_expunge(struct store_box *b, const bool *dele, char *err,
		    size_t errsz)
{
	enum store_res r = write_record(b, dele, err, errsz);

	if (r != STORE_OK)
		return r; /* nothing deleted */
	return roll_forward(b->path, err, errsz);
}
