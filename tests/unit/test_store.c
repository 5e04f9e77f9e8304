/*
 * Unit tests of store/ (Maildir and mbox on a temp dir, with injected
 * failures) and auth/users (hashes, the file, name validation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/users.h"
#include "lib/buf.h"
#include "store/fsops.h"
#include "store/queue.h"
#include "store/store.h"

#define TMPROOT_NAME "store"
#include "tmproot.h"

/* Number of entries in dir (not . and ..), and the first name. */
static int
count(const char *dir, char *first, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n++ == 0 && first)
			snprintf(first, size, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	p = malloc((size_t)n + 1);
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	p[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return p;
}

static const char MSG[] = "Subject: t\n\nline 1\nFrom me\n>From you\n";

static void
deliver(struct store *s, struct store_delivery *d, const char **users,
	size_t n)
{
	struct store_delivery *b[1] = {d};

	memset(d, 0, sizeof(*d));
	d->sender = "x@y.org";
	d->users = users;
	d->nusers = n;
	d->data = MSG;
	d->len = sizeof(MSG) - 1;
	d->when = 1700000000;
	store_deliver(s, b, 1);
}

static void
test_maildir_links(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	const char *users[] = {"alice@example.org", "bob@example.org"};
	struct store_delivery d;
	char name[256], path[600], path2[600];
	struct stat sa, sb;
	size_t len;
	char *text;

	(void)st;
	deliver(s, &d, users, 2);
	assert_int_equal(d.res, STORE_OK);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new", root);
	assert_int_equal(count(path, name, sizeof(name)), 1);
	/* size and CRLF size in the name */
	assert_non_null(strstr(name, ",S=37,W=42"));
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new/%s", root,
		 name);
	snprintf(path2, sizeof(path2), "%s/mail/example.org/bob/new/%s", root,
		 name);
	assert_int_equal(stat(path, &sa), 0);
	assert_int_equal(stat(path2, &sb), 0);
	/* one file, two links */
	assert_int_equal(sa.st_ino, sb.st_ino);
	assert_int_equal(sa.st_nlink, 2);
	text = slurp(path, &len);
	assert_int_equal(len, sizeof(MSG) - 1);
	assert_memory_equal(text, MSG, len);
	free(text);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/tmp", root);
	assert_int_equal(count(path, NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/cur", root);
	assert_int_equal(count(path, NULL, 0), 0);
	store_free(&s);
}

static void
test_maildir_failures(void **st)
{
	static const enum fsop ops[] = {FSOP_WRITE, FSOP_FSYNC, FSOP_LINK,
					FSOP_OPEN};
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	const char *users[] = {"alice@example.org", "bob@example.org"};
	struct store_delivery d;
	char path[600];

	(void)st;
	/* create the maildirs first so faults hit the delivery itself */
	deliver(s, &d, users, 2);
	assert_int_equal(d.res, STORE_OK);
	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++) {
		for (unsigned long nth = 1; nth <= 3; nth++) {
			fsops_inject(ops[i], nth, ENOSPC, false);
			deliver(s, &d, users, 2);
			fsops_clear();
			if (d.res == STORE_OK)
				continue; /* the fault came after this one */
			assert_int_equal(d.res, STORE_NOSPACE);
			assert_true(strlen(d.error) > 0);
		}
	}
	/* whatever failed left nothing visible: 1 + successes only, same
	 * in both mailboxes, and tmp/ is empty */
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new", root);
	int na = count(path, NULL, 0);
	snprintf(path, sizeof(path), "%s/mail/example.org/bob/new", root);
	assert_int_equal(count(path, NULL, 0), na);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/tmp", root);
	assert_int_equal(count(path, NULL, 0), 0);
	/* a write failure answers NOSPACE and delivers nothing */
	fsops_inject(FSOP_WRITE, 1, ENOSPC, true);
	deliver(s, &d, users, 1);
	assert_int_equal(d.res, STORE_NOSPACE);
	fsops_clear();
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new", root);
	assert_int_equal(count(path, NULL, 0), na);
	/* EIO is temporary */
	fsops_inject(FSOP_FSYNC, 1, EIO, false);
	deliver(s, &d, users, 1);
	assert_int_equal(d.res, STORE_TEMP);
	store_free(&s);
}

/* A delivery to a folder (a quarantine's Junk) is all or nothing too:
 * a link that fails for the second user takes back the first's. */
static void
test_maildir_folder_all_or_nothing(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	const char *users[] = {"alice@example.org", "bob@example.org"};
	struct store_delivery d, *b[1] = {&d};
	char path[600], err[200];

	(void)st;
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(store_folder_create(s, users[i], "Junk",
						     STORE_SU_JUNK, 100, err,
						     sizeof(err)),
				 STORE_OK);
	deliver(s, &d, users, 2); /* the inboxes, made now */
	assert_int_equal(d.res, STORE_OK);
	for (int fail = 0; fail < 2; fail++) {
		memset(&d, 0, sizeof(d));
		d.sender = "x@y.org";
		d.users = users;
		d.nusers = 2;
		d.data = MSG;
		d.len = sizeof(MSG) - 1;
		d.folder = "Junk";
		if (fail)
			fsops_inject(FSOP_LINK, 2, ENOSPC, false);
		store_deliver(s, b, 1);
		fsops_clear();
		assert_int_equal(d.res, fail ? STORE_NOSPACE : STORE_OK);
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/mail/example.org/%.*s/.Junk/new",
			 root, (int)(strchr(users[i], '@') - users[i]),
			 users[i]);
		assert_int_equal(count(path, NULL, 0), 1);
		snprintf(path, sizeof(path), "%s/mail/example.org/%.*s/new",
			 root, (int)(strchr(users[i], '@') - users[i]),
			 users[i]);
		assert_int_equal(count(path, NULL, 0), 1);
	}
	store_free(&s);
}

/* Makes dir/name with its mtime age seconds ago. */
static void
aged_file(const char *dir, const char *name, time_t age)
{
	char path[700];
	struct timespec ts[2] = {{time(NULL) - age, 0}, {time(NULL) - age, 0}};
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs("cut short", f);
	fclose(f);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* A box's first open removes what a crash left in tmp/ 36 hours ago or
 * more (a file being written is touched as it goes); newer files, dot
 * files and the messages stay. */
static void
test_maildir_tmp_swept(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	const char *users[] = {"alice@example.org"};
	struct store_delivery d;
	struct store_box *b;
	char tmp[600], err[200], name[100];

	(void)st;
	deliver(s, &d, users, 1);
	assert_int_equal(d.res, STORE_OK);
	snprintf(tmp, sizeof(tmp), "%s/mail/example.org/alice/tmp", root);
	aged_file(tmp, "old.M1P2Q3.host", 37 * 3600);
	aged_file(tmp, "young.M1P2Q4.host", 35 * 3600);
	aged_file(tmp, ".keep", 40 * 3600);
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 1);
	store_box_free(&b);
	assert_int_equal(count(tmp, name, sizeof(name)), 1); /* no dot */
	assert_string_equal(name, "young.M1P2Q4.host");
	strcat(tmp, "/.keep");
	assert_int_equal(access(tmp, F_OK), 0);
	store_free(&s);
}

/* Drops the X-UIDL line after each From_ line, checking it is there. */
static size_t
strip_uidl(char *text, size_t len)
{
	size_t o = 0, i = 0;

	while (i < len) {
		char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) + 1 : len - i;

		memmove(text + o, text + i, n);
		if (n > 5 && memcmp(text + o, "From ", 5) == 0) {
			assert_true(len - (i + n) > 8 &&
				    memcmp(text + i + n, "X-UIDL: ", 8) == 0);
			nl = memchr(text + i + n, '\n', len - i - n);
			i = (size_t)(nl - text) + 1;
			o += n;
			continue;
		}
		o += n;
		i += n;
	}
	return o;
}

static void
test_mbox(void **st)
{
	struct store *s = open_store(MBOX_FMT_MBOX);
	const char *users[] = {"bob@example.org", "alice@example.org"};
	struct store_delivery d;
	char path[600];
	size_t len;
	char *text;
	const char *want =
		"From x@y.org Tue Nov 14 22:13:20 2023\n"
		"Subject: t\n\nline 1\n>From me\n>>From you\n\n";

	(void)st;
	deliver(s, &d, users, 2);
	assert_int_equal(d.res, STORE_OK);
	deliver(s, &d, users, 1);
	assert_int_equal(d.res, STORE_OK);
	snprintf(path, sizeof(path), "%s/mail/example.org/bob.mbox", root);
	text = slurp(path, &len);
	len = strip_uidl(text, len);
	assert_int_equal(len, 2 * strlen(want));
	assert_memory_equal(text, want, strlen(want));
	assert_memory_equal(text + strlen(want), want, strlen(want));
	free(text);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice.mbox", root);
	text = slurp(path, &len);
	len = strip_uidl(text, len);
	assert_int_equal(len, strlen(want));
	free(text);
	/* a failed append is rolled back in every mailbox */
	fsops_inject(FSOP_WRITE, 2, ENOSPC, false);
	deliver(s, &d, users, 2);
	fsops_clear();
	assert_int_equal(d.res, STORE_NOSPACE);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice.mbox", root);
	text = slurp(path, &len);
	len = strip_uidl(text, len);
	assert_int_equal(len, strlen(want));
	free(text);
	snprintf(path, sizeof(path), "%s/mail/example.org/bob.mbox", root);
	text = slurp(path, &len);
	len = strip_uidl(text, len);
	assert_int_equal(len, 2 * strlen(want));
	free(text);
	/* no lock files left */
	snprintf(path, sizeof(path), "%s/mail/example.org", root);
	assert_int_equal(count(path, NULL, 0), 2);
	store_free(&s);
}

/* Reads message i of b whole, through a small buffer. */
static char *
read_msg(struct store_box *b, size_t i, size_t *len)
{
	struct store_reader r;
	struct buf *out = buf_new(1 << 20);
	char chunk[13];
	ssize_t n;
	char *p;

	assert_int_equal(store_reader_open(b, i, &r), 0);
	while ((n = store_reader_read(&r, chunk, sizeof(chunk))) > 0)
		buf_add(out, chunk, (size_t)n);
	assert_int_equal(n, 0);
	store_reader_close(&r);
	*len = out->len;
	p = malloc(out->len + 1);
	memcpy(p, out->data, out->len + 1);
	buf_free(&out);
	return p;
}

static void
write_file(const char *path, const char *text, const char *mode)
{
	FILE *fp = fopen(path, mode);

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Every message's size is its CRLF size, and its text reads back. */
static void
check_box(struct store_box *b, const char *const *texts, size_t n)
{
	assert_true(b->n >= n);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *t = read_msg(b, i, &len);

		assert_int_equal(len, strlen(texts[i]));
		assert_memory_equal(t, texts[i], len);
		assert_int_equal(msg_size(b, i),
				 store_crlf_size(texts[i], strlen(texts[i])) +
				 (len == 0 || texts[i][len - 1] == '\n' ? 0 : 2));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(store_box_uidl(b, i),
						store_box_uidl(b, j));
		assert_true(strlen(store_box_uidl(b, i)) >= 1 &&
			    strlen(store_box_uidl(b, i)) <= 70);
		free(t);
	}
}

static void make_env(struct qenv *e, const char *id);

/* mboxrd quoting line by line, the plain way, for comparison. */
static size_t
quote_ref(const char *t, size_t len, char *out)
{
	size_t o = 0, i = 0;

	while (i < len) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (t + i)) : len - i, g = 0;

		while (g < n && t[i + g] == '>')
			g++;
		if (n - g >= 5 && memcmp(t + i + g, "From ", 5) == 0)
			out[o++] = '>';
		memcpy(out + o, t + i, n);
		o += n;
		out[o++] = '\n';
		i += n + 1;
	}
	return o;
}

/*
 * A message too big for memory comes as a spool file: Maildir, mbox and
 * the queue copy it, byte for byte (mbox: quoted exactly as from memory,
 * wherever a line falls across the 64 KiB pieces it is read in).
 */
static void
test_spooled_text(void **st)
{
	static const char *cuts[] = {">>From x", "From y", ">From", "From",
				     ">>>", "Fro", "\xc3\xa9t\xc3\xa9"};
	const char *users[] = {"alice@example.org"};
	size_t cap = 22 * 65536, len = 0, k, n, got, crlf;
	char *t = malloc(cap), *want = malloc(2 * cap), *text;
	char q[300], err[300], path[600], name[256];
	struct store_delivery d, *b[1] = {&d};
	struct store *s;
	struct qenv e;
	int fd;

	(void)st;
	assert_non_null(t);
	assert_non_null(want);
	/* lines that quote or nearly do, cut by a 64 KiB piece's end */
	for (k = 1; k <= 21; k++) {
		size_t at = 65536 * k - (k - 1) / 7 * 3;

		for (; len < at - 1; len++)
			t[len] = len % 61 == 60 ? '\n' : 'a';
		t[len++] = '\n';
		n = strlen(cuts[(k - 1) % 7]);
		memcpy(t + len, cuts[(k - 1) % 7], n);
		len += n;
	}
	memcpy(t + len, "\n>>", 3); /* no line end at the end */
	len += 3;
	crlf = store_crlf_size(t, len);
	snprintf(q, sizeof(q), "%s/queue", root);
	assert_int_equal(queue_init(q, err, sizeof(err)), 0);
	fd = queue_spool_open(q);
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/tmp", q);
	assert_int_equal(count(path, NULL, 0), 0); /* anonymous */
	assert_int_equal(write(fd, t, len), (ssize_t)len);

	/* mbox: from the spool, then the same text from memory */
	s = open_store(MBOX_FMT_MBOX);
	for (k = 0; k < 2; k++) {
		memset(&d, 0, sizeof(d));
		d.sender = "x@y.org";
		d.users = users;
		d.nusers = 1;
		d.data = k == 0 ? NULL : t;
		d.fd = k == 0 ? fd : -1;
		d.len = len;
		d.crlf_len = k == 0 ? crlf : 0;
		d.when = 1700000000;
		store_deliver(s, b, 1);
		assert_int_equal(d.res, STORE_OK);
	}
	store_free(&s);
	n = (size_t)sprintf(want, "From x@y.org Tue Nov 14 22:13:20 2023\n");
	n += quote_ref(t, len, want + n);
	want[n++] = '\n';
	snprintf(path, sizeof(path), "%s/mail/example.org/alice.mbox", root);
	text = slurp(path, &got);
	got = strip_uidl(text, got);
	assert_int_equal(got, 2 * n);
	assert_memory_equal(text, want, n);
	assert_memory_equal(text + n, want, n);
	free(text);

	/* Maildir: the file is the text; its sizes are in its name */
	s = open_store(MBOX_FMT_MAILDIR);
	memset(&d, 0, sizeof(d));
	d.sender = "x@y.org";
	d.users = users;
	d.nusers = 1;
	d.fd = fd;
	d.len = len;
	d.crlf_len = crlf;
	store_deliver(s, b, 1);
	assert_int_equal(d.res, STORE_OK);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new", root);
	assert_int_equal(count(path, name, sizeof(name)), 1);
	snprintf(want, cap, ",S=%zu,W=%zu", len, crlf);
	assert_non_null(strstr(name, want));
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new/%s",
		 root, name);
	text = slurp(path, &got);
	assert_int_equal(got, len);
	assert_memory_equal(text, t, len);
	free(text);
	/* a failed copy leaves nothing */
	fsops_inject(FSOP_WRITE, 1, ENOSPC, false);
	store_deliver(s, b, 1);
	fsops_clear();
	assert_int_equal(d.res, STORE_NOSPACE);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new", root);
	assert_int_equal(count(path, NULL, 0), 1);
	/* a spool shorter than said is an error, not a short message */
	d.len = len + 1;
	store_deliver(s, b, 1);
	assert_int_equal(d.res, STORE_TEMP);
	assert_int_equal(count(path, NULL, 0), 1);
	store_free(&s);

	/* the queue */
	make_env(&e, "00cd");
	assert_int_equal(queue_add(q, &e, NULL, fd, len, err, sizeof(err)), 0);
	assert_int_equal(queue_msg_path(q, "00cd", path, sizeof(path)), 0);
	text = slurp(path, &got);
	assert_int_equal(got, len);
	assert_memory_equal(text, t, len);
	free(text);
	qenv_free(&e);
	close(fd);
	free(t);
	free(want);
}

static void
test_maildir_box(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	const char *users[] = {"alice@example.org"};
	struct store_delivery d;
	struct store_box *b;
	char err[300], path[700], uidl[3][72], dir[600];
	const char *texts[] = {MSG, MSG, "Subject: foreign\n\nno W= here\n",
			       MSG};
	bool dele[4] = {true, false, true, false};

	(void)st;
	/* a mailbox that does not exist yet is empty */
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 0);
	store_box_free(&b);
	deliver(s, &d, users, 1);
	deliver(s, &d, users, 1);
	snprintf(dir, sizeof(dir), "%s/mail/example.org/alice", root);
	snprintf(path, sizeof(path), "%s/new/9999999998.foreign", dir);
	write_file(path, texts[2], "w");
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(count(path, NULL, 0), 3); /* left where they are */
	snprintf(path, sizeof(path), "%s/cur", dir);
	assert_int_equal(count(path, NULL, 0), 0);
	assert_int_equal(b->n, 3);
	check_box(b, texts, 3);
	assert_string_equal(store_box_uidl(b, 2), "9999999998.foreign");
	for (int i = 0; i < 3; i++)
		snprintf(uidl[i], sizeof(uidl[i]), "%s", store_box_uidl(b, i));
	store_box_free(&b);
	/* a later session: the same ids; mail that arrived comes last */
	deliver(s, &d, users, 1);
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	{
		/* names start with the time: the foreign one sorts last */
		const char *now[] = {MSG, MSG, MSG, texts[2]};

		assert_int_equal(b->n, 4);
		check_box(b, now, 4);
	}
	for (int i = 0; i < 2; i++)
		assert_string_equal(store_box_uidl(b, i), uidl[i]);
	/* another reader moves message 2 into cur/ with a flag, as a
	 * Maildir MUA does: still found */
	{
		char from[900], to[910];

		snprintf(from, sizeof(from), "%s/new/%s", dir,
			 msg_file(b, 1));
		snprintf(to, sizeof(to), "%s/cur/%s:2,S", dir,
			 msg_file(b, 1));
		assert_int_equal(rename(from, to), 0);
	}
	free(read_msg(b, 1, &(size_t){0}));
	assert_int_equal(store_box_expunge(b, dele, err, sizeof(err)),
			 STORE_OK);
	store_box_free(&b);
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 2);
	assert_string_equal(store_box_uidl(b, 0), uidl[1]);
	assert_string_equal(store_box_uidl(b, 1), "9999999998.foreign");
	store_box_free(&b);
	store_free(&s);
}

/*
 * A POP3 session on a maildrop that does not exist yet holds it against
 * other processes (hosts) too: the folder is made at the lock, so the
 * lock has its file.  (Without it only this process's half was held, and
 * a first message delivered between the lock and the scan was retrieved
 * by two hosts' sessions.)
 */
static void
test_session_lock_new_maildrop(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_box *b;
	char err[300];
	pid_t pid;
	int status;

	(void)st;
	assert_int_equal(store_box_open(s, "bob@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct store *cs = open_store(MBOX_FMT_MAILDIR);
		struct store_box *cb = NULL;
		enum store_res r = store_box_open(cs, "bob@example.org", &cb,
						  err, sizeof(err));

		store_box_free(&cb);
		store_free(&cs);
		_exit(r == STORE_INUSE ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	store_box_free(&b);
	store_free(&s);
}

/* The QUIT update's intent record (maildir_expunge.c, docs/MAILDIR.md). */
static void
test_maildir_expunge_record(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	static const char *const names[] = {"1.M1P1Q1.h", "2.M2P1Q2.h",
					    "3.M3P1Q3.h", "4.M4P1Q4.a\\b\nc"};
	struct store_box *b;
	char err[300], path[700], dir[600];
	bool dele[4] = {false, false, false, true};

	(void)st;
	snprintf(dir, sizeof(dir), "%s/mail/example.org/erin", root);
	for (int i = 0; i < 3; i++) {
		static const char *const subs[] = {"tmp", "new", "cur"};

		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		assert_int_equal(store_mkdirs(path, root), 0);
	}
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/new/%s", dir, names[i]);
		write_file(path, "Subject: x\n\nx\n", "w");
	}
	/* a crash left a record (1 and 3) and an uncommitted .tmp (2) */
	snprintf(path, sizeof(path), "%s/owlpost-expunge", dir);
	write_file(path, "owlpost-expunge 1\n1.M1P1Q1.h\n3.M3P1Q3.h\n"
			 "gone\\n.h\n", "w");
	snprintf(path, sizeof(path), "%s/owlpost-expunge.tmp", dir);
	write_file(path, "owlpost-expunge 1\n2.M2P1Q2.h\n", "w");
	assert_int_equal(store_box_open(s, "erin@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 2);
	assert_string_equal(msg_file(b, 0), "2.M2P1Q2.h"); /* in new/ */
	assert_int_equal(count(dir, NULL, 0), 3); /* tmp new cur: no record */
	/* a failed rename of the record: -ERR, nothing deleted, no record */
	fsops_inject(FSOP_RENAME, 1, EIO, false);
	assert_int_equal(store_box_expunge(b, (bool[]){true, true}, err,
					   sizeof(err)), STORE_TEMP);
	fsops_clear();
	assert_int_equal(count(dir, NULL, 0), 3);
	/* a name with '\\' and a newline goes through the record */
	assert_string_equal(msg_file(b, 1), "4.M4P1Q4.a\\b\nc");
	assert_int_equal(store_box_expunge(b, dele + 2, err, sizeof(err)),
			 STORE_OK);
	store_box_free(&b);
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(count(path, NULL, 0), 1);
	/* a record that is not ours: the login fails, the record stays */
	snprintf(path, sizeof(path), "%s/owlpost-expunge", dir);
	write_file(path, "garbage\n", "w");
	assert_int_equal(store_box_open(s, "erin@example.org", &b, err,
					sizeof(err)), STORE_TEMP);
	assert_non_null(strstr(err, "not an expunge record"));
	assert_int_equal(access(path, F_OK), 0);
	store_free(&s);
}

/*
 * Two files of one base name (a copy another program left): marking one
 * must not delete the other; and a marked file renamed by a flag change
 * after the snapshot is still found by its base.  (Version 1 records held
 * base names only, and the update deleted both twins.)
 */
static void
test_maildir_expunge_twins(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_box *b;
	char err[300], path[700], dir[600], to[700];
	bool dele[3] = {false, false, false};
	size_t twin = 3, lone = 3;

	(void)st;
	snprintf(dir, sizeof(dir), "%s/mail/example.org/fred", root);
	for (int i = 0; i < 3; i++) {
		static const char *const subs[] = {"tmp", "new", "cur"};

		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		assert_int_equal(store_mkdirs(path, root), 0);
	}
	snprintf(path, sizeof(path), "%s/cur/1.M1P1Q1.h:2,", dir);
	write_file(path, "Subject: x\n\nx\n", "w");
	snprintf(path, sizeof(path), "%s/cur/1.M1P1Q1.h:2,S", dir);
	write_file(path, "Subject: x\n\nx\n", "w");
	snprintf(path, sizeof(path), "%s/cur/2.M2P1Q2.h:2,", dir);
	write_file(path, "Subject: y\n\ny\n", "w");
	assert_int_equal(store_box_open(s, "fred@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 3);
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(msg_file(b, i), "1.M1P1Q1.h:2,S") == 0)
			twin = i;
		if (strcmp(msg_file(b, i), "2.M2P1Q2.h:2,") == 0)
			lone = i;
	}
	assert_true(twin < 3 && lone < 3);
	dele[twin] = dele[lone] = true;
	/* another reader flags the lone one after the snapshot */
	snprintf(path, sizeof(path), "%s/cur/2.M2P1Q2.h:2,", dir);
	snprintf(to, sizeof(to), "%s/cur/2.M2P1Q2.h:2,F", dir);
	assert_int_equal(rename(path, to), 0);
	assert_int_equal(store_box_expunge(b, dele, err, sizeof(err)),
			 STORE_OK);
	store_box_free(&b);
	snprintf(path, sizeof(path), "%s/cur/1.M1P1Q1.h:2,", dir);
	assert_int_equal(access(path, F_OK), 0); /* the unmarked twin */
	snprintf(path, sizeof(path), "%s/cur", dir);
	assert_int_equal(count(path, NULL, 0), 1);
	store_free(&s);
}

/* Of two files of one base, the marked one still in new/ as delivered
 * goes, and its twin in cur/ stays (the record's name is tried in new/
 * too before its base is looked for). */
static void
test_maildir_expunge_twin_in_new(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_box *b;
	char err[300], path[700], dir[600];
	bool dele[2] = {false, false};

	(void)st;
	snprintf(dir, sizeof(dir), "%s/mail/example.org/gina", root);
	for (int i = 0; i < 3; i++) {
		static const char *const subs[] = {"tmp", "new", "cur"};

		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		assert_int_equal(store_mkdirs(path, root), 0);
	}
	snprintf(path, sizeof(path), "%s/new/1.M1P1Q1.h", dir);
	write_file(path, "Subject: x\n\nx\n", "w");
	snprintf(path, sizeof(path), "%s/cur/1.M1P1Q1.h:2,S", dir);
	write_file(path, "Subject: x\n\nx\n", "w");
	assert_int_equal(store_box_open(s, "gina@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 2);
	for (size_t i = 0; i < 2; i++)
		dele[i] = strcmp(msg_file(b, i), "1.M1P1Q1.h") == 0;
	assert_true(dele[0] || dele[1]);
	assert_int_equal(store_box_expunge(b, dele, err, sizeof(err)),
			 STORE_OK);
	store_box_free(&b);
	snprintf(path, sizeof(path), "%s/new/1.M1P1Q1.h", dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/cur/1.M1P1Q1.h:2,S", dir);
	assert_int_equal(access(path, F_OK), 0);
	store_free(&s);
}

static void
test_maildir_order(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	static const char *const names[] = {"100.M100P1Q2.h", "99.M5P1Q3.h",
					    "100.M99P1Q1.h"};
	struct store_box *b;
	char err[300], path[700];

	(void)st;
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path),
			 "%s/mail/example.org/dave/new", root);
		assert_int_equal(store_mkdirs(path, root), 0);
		snprintf(path, sizeof(path),
			 "%s/mail/example.org/dave/new/%s", root, names[i]);
		write_file(path, "x\n", "w");
	}
	snprintf(path, sizeof(path), "%s/mail/example.org/dave/cur", root);
	assert_int_equal(store_mkdirs(path, root), 0);
	assert_int_equal(store_box_open(s, "dave@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 3);
	/* by time, then microseconds as numbers: 99 < 100.M99 < 100.M100 */
	assert_string_equal(store_box_uidl(b, 0), "99.M5P1Q3.h");
	assert_string_equal(store_box_uidl(b, 1), "100.M99P1Q1.h");
	assert_string_equal(store_box_uidl(b, 2), "100.M100P1Q2.h");
	store_box_free(&b);
	store_free(&s);
}

static void
test_mbox_box(void **st)
{
	struct store *s = open_store(MBOX_FMT_MBOX);
	const char *users[] = {"bob@example.org"};
	struct store_delivery d;
	struct store_box *b;
	char err[300], path[700], uidl[5][72];
	static const char foreign[] = "Subject: same\n\n>From quoted\nx\n";
	const char *texts[] = {MSG, MSG, "Subject: same\n\nFrom quoted\nx\n",
			       "Subject: same\n\nFrom quoted\nx\n"};
	bool dele[4] = {true, false, false, true};
	char *text;
	size_t len;

	(void)st;
	deliver(s, &d, users, 1);
	deliver(s, &d, users, 1);
	snprintf(path, sizeof(path), "%s/mail/example.org/bob.mbox", root);
	/* two identical messages from another program: no X-UIDL */
	for (int i = 0; i < 2; i++) {
		write_file(path, "From a@b Sat Nov 21 10:00:00 2026\n", "a");
		write_file(path, foreign, "a");
		write_file(path, "\n", "a");
	}
	assert_int_equal(store_box_open(s, "bob@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 4);
	/* owld's messages start with their X-UIDL line */
	for (int i = 0; i < 2; i++) {
		text = read_msg(b, (size_t)i, &len);
		assert_true(strncmp(text, "X-UIDL: ", 8) == 0);
		assert_string_equal(strchr(text, '\n') + 1, MSG);
		assert_int_equal(msg_size(b, i),
				 store_crlf_size(text, len));
		assert_int_equal(strncmp(text + 8, store_box_uidl(b, i),
					 strlen(store_box_uidl(b, i))), 0);
		free(text);
	}
	{
		struct store_box one = *b;

		one.msgs += 2;
		one.n = 2;
		check_box(&one, texts + 2, 2);
	}
	for (int i = 0; i < 4; i++)
		snprintf(uidl[i], sizeof(uidl[i]), "%s", store_box_uidl(b, i));
	/* mail delivered during the session survives the expunge */
	deliver(s, &d, users, 1);
	assert_int_equal(store_box_expunge(b, dele, err, sizeof(err)),
			 STORE_OK);
	store_box_free(&b);
	assert_int_equal(store_box_open(s, "bob@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 3);
	assert_string_equal(store_box_uidl(b, 0), uidl[1]);
	assert_string_equal(store_box_uidl(b, 1), uidl[2]);
	snprintf(uidl[4], sizeof(uidl[4]), "%s", store_box_uidl(b, 2));
	/* a failed rewrite leaves the file as it was */
	{
		bool all[3] = {true, true, true};
		char *before = slurp(path, &len), *after;
		size_t len2;

		fsops_inject(FSOP_RENAME, 1, EIO, false);
		assert_int_equal(store_box_expunge(b, all, err, sizeof(err)),
				 STORE_TEMP);
		fsops_clear();
		after = slurp(path, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(before, after, len);
		free(before);
		free(after);
	}
	store_box_free(&b);
	/* a file rewritten behind our back: nothing is deleted */
	assert_int_equal(store_box_open(s, "bob@example.org", &b, err,
					sizeof(err)), STORE_OK);
	write_file(path, "From x\n\n", "w");
	{
		bool one[3] = {true, false, false};

		assert_int_equal(store_box_expunge(b, one, err, sizeof(err)),
				 STORE_TEMP);
	}
	store_box_free(&b);
	store_free(&s);
}

static void
test_mbox_parse_edges(void **st)
{
	struct store *s = open_store(MBOX_FMT_MBOX);
	struct store_box *b;
	char err[300], path[700], dir[600];
	const char *texts[] = {"no separator after me",
			       ">>From x\n>>From\nFrom inside\n", ""};

	(void)st;
	snprintf(dir, sizeof(dir), "%s/mail/example.org", root);
	assert_int_equal(store_mkdirs(dir, root), 0);
	snprintf(path, sizeof(path), "%s/carol.mbox", dir);
	/* a From_ line not after an empty line is text (mboxo); ">>From"
	 * without a space is not quoting; the last line has no LF */
	write_file(path, "From a\n>>>From x\n>>From\nFrom inside\n\n"
			 "From b\n\nFrom c\nno separator after me", "w");
	assert_int_equal(store_box_open(s, "carol@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 3);
	{
		const char *order[] = {texts[1], texts[2], texts[0]};

		check_box(b, order, 2);
		assert_int_equal(msg_size(b, 1), 0);
		size_t len;
		char *t = read_msg(b, 2, &len);

		assert_string_equal(t, texts[0]);
		assert_int_equal(msg_size(b, 2), strlen(texts[0]) + 2);
		free(t);
	}
	store_box_free(&b);
	store_free(&s);
}

/* OWLPOST_FAULT specs: lists, the KILL and DELAY kinds, bad ones. */
static void
test_fault_specs(void **st)
{
	char path[700];

	(void)st;
	assert_int_equal(fsops_inject_spec("write:1:ENOSPC"), 0);
	assert_int_equal(fsops_inject_spec("unlink:2:KILL,fsync:1:DELAY:"
					   "sticky"), 0);
	assert_int_equal(fsops_inject_spec("rename:1:EIO,bogus:1:EIO"), -1);
	assert_int_equal(fsops_inject_spec("unlink:0:KILL"), -1);
	assert_int_equal(fsops_inject_spec("unlink:1:SIGSEGV"), -1);
	fsops_clear();
	/* an unlink fault fails that unlink only */
	snprintf(path, sizeof(path), "%s/victim", root);
	write_file(path, "x", "w");
	assert_int_equal(fsops_inject_spec("unlink:1:EIO"), 0);
	assert_int_equal(fsops_unlink(path), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(fsops_unlink(path), 0);
	fsops_clear();
}

static void
test_user_names(void **st)
{
	static const char *bad[] = {
		"../etc@example.org", "a/b@example.org", "..@example.org",
		".a@example.org", "a.@example.org", "a..b@example.org",
		"alice@../x", "alice@ex/ample.org", "alice", "@example.org",
		"alice@", "Alice@example.org", "al ice@example.org",
		"alice@example..org", "al\nice@example.org",
	};
	char out[300];

	(void)st;
	assert_true(store_user_valid("alice@example.org"));
	assert_true(store_user_valid("a.b-c_d+e@mail.example.org"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (store_user_valid(bad[i]))
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(users_normalize("Alice@Example.ORG", out,
					 sizeof(out)), 0);
	assert_string_equal(out, "alice@example.org");
	assert_int_equal(users_normalize("../x@example.org", out,
					 sizeof(out)), -1);
}

static void
test_users_file(void **st)
{
	char path[300], hash[300], err[300];
	const char *e;
	struct users *u;
	FILE *fp;

	(void)st;
	snprintf(path, sizeof(path), "%s/users", root);
	assert_int_equal(users_hash_password("s3cret", hash, sizeof(hash),
					     &e), 0);
	assert_true(strncmp(hash, "{CRYPT}$", 8) == 0);
	assert_true(users_verify(hash, "s3cret"));
	assert_false(users_verify(hash, "s3cre"));
	assert_false(users_verify("{PLAIN}s3cret", "s3cret"));
	assert_int_equal(users_file_edit(path, USERS_ADD, "alice@example.org",
					 hash, err, sizeof(err)), 0);
	assert_int_equal(users_file_edit(path, USERS_ADD, "alice@example.org",
					 hash, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(users_file_edit(path, USERS_ADD, "bob@example.org",
					 hash, err, sizeof(err)), 0);
	u = users_new(path);
	assert_int_equal(users_refresh(u, &e), 0);
	assert_int_equal(users_count(u), 2);
	assert_non_null(users_lookup(u, "bob@example.org"));
	assert_null(users_lookup(u, "carol@example.org"));
	assert_int_equal(users_file_edit(path, USERS_DEL, "bob@example.org",
					 "", err, sizeof(err)), 0);
	assert_int_equal(users_file_edit(path, USERS_DEL, "bob@example.org",
					 "", err, sizeof(err)), -1);
	assert_int_equal(users_file_edit(path, USERS_PASSWD,
					 "alice@example.org", "{CRYPT}$6$x$y",
					 err, sizeof(err)), 0);
	/* a hand-edited bad line is skipped, never used as a path */
	fp = fopen(path, "a");
	fprintf(fp, "# comment\n../../etc@example.org:{CRYPT}$6$x$y\n");
	fclose(fp);
	assert_int_equal(users_refresh(u, &e), 0);
	assert_int_equal(users_count(u), 1);
	assert_string_equal(users_lookup(u, "alice@example.org"),
			    "{CRYPT}$6$x$y");
	users_free(&u);
}

static void
make_env(struct qenv *e, const char *id)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->created = 1700000000;
	e->next = 1700000060;
	e->attempts = 2;
	e->size = 12;
	e->eightbit = true;
	snprintf(e->sender, sizeof(e->sender), "a@l.test");
	snprintf(e->error, sizeof(e->error), "451 4.3.0 later\r\nInjected: x");
	e->rcpts = calloc(2, sizeof(*e->rcpts));
	e->nrcpts = 2;
	e->rcpts[0].state = QR_PENDING;
	snprintf(e->rcpts[0].addr, sizeof(e->rcpts[0].addr), "x@r.test");
	snprintf(e->rcpts[0].reply, sizeof(e->rcpts[0].reply), "451 later");
	e->rcpts[1].state = QR_DONE;
	snprintf(e->rcpts[1].addr, sizeof(e->rcpts[1].addr), "\"q r\"@r.test");
}

/* The envelope format: round trip, one line per field, bad input refused. */
static void
test_queue_envelope(void **st)
{
	struct qenv e, f;
	struct buf *b = buf_new(1 << 16);
	static const char *bad[] = {
		"", "id abc\nrcpt P <x@y>\n",	/* no magic line */
		"owlpost-queue 2\nid a\nrcpt P <x@y>\n",
		"owlpost-queue 1\nid a\n",	/* no recipients */
		"owlpost-queue 1\nid ../x\nrcpt P <x@y>\n",
		"owlpost-queue 1\nid a\nrcpt X <x@y>\n",
		"owlpost-queue 1\nid a\nrcpt P x@y\n",
		"owlpost-queue 1\nid a\nfrom a@b\nrcpt P <x@y>\n",
		/* a control octet in a path would go out in MAIL or RCPT */
		"owlpost-queue 1\nid a\nfrom <a\r.b@c>\nrcpt P <x@y>\n",
		"owlpost-queue 1\nid a\nrcpt P <x\r@y>\n",
		"owlpost-queue 1\nid a\nrcpt P <x\t@y>\n",
	};

	(void)st;
	make_env(&e, "00ab");
	qenv_format(&e, b);
	/* a CR or LF in a reply never splits a line */
	assert_non_null(strstr(b->data, "error 451 4.3.0 later  Injected: x\n"));
	assert_int_equal(qenv_parse(b->data, &f), 0);
	assert_string_equal(f.id, "00ab");
	assert_int_equal(f.attempts, 2);
	assert_true(f.eightbit);
	assert_int_equal(f.next, 1700000060);
	assert_int_equal(f.nrcpts, 2);
	assert_string_equal(f.rcpts[0].reply, "451 later");
	assert_string_equal(f.rcpts[1].addr, "\"q r\"@r.test");
	assert_int_equal(f.rcpts[1].state, QR_DONE);
	assert_int_equal(qenv_pending(&f), 1);
	qenv_free(&f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(qenv_parse(bad[i], &f), -1);
	qenv_free(&e);
	buf_free(&b);
}

/* add, load, save, remove; a failed write leaves nothing; recovery. */
static void
test_queue_files(void **st)
{
	char q[300], err[300], p[600], name[64];
	struct qenv e, f, *all;
	size_t n;
	static const enum fsop ops[] = {FSOP_OPEN, FSOP_WRITE, FSOP_FSYNC,
					FSOP_RENAME};

	(void)st;
	snprintf(q, sizeof(q), "%s/queue", root);
	assert_int_equal(queue_init(q, err, sizeof(err)), 0);
	make_env(&e, "00ab");
	assert_int_equal(queue_add(q, &e, "hello\n", -1, 6, err, sizeof(err)),
			 0);
	assert_int_equal(queue_load(q, "00ab", &f, err, sizeof(err)), 0);
	assert_int_equal(f.nrcpts, 2);
	f.rcpts[0].state = QR_FAILED;
	assert_int_equal(queue_save(q, &f, err, sizeof(err)), 0);
	qenv_free(&f);
	assert_int_equal(queue_load(q, "00ab", &f, err, sizeof(err)), 0);
	assert_int_equal(qenv_pending(&f), 0);
	qenv_free(&f);
	assert_int_equal(queue_load(q, "../x", &f, err, sizeof(err)), -1);

	/* QUEUE_ENV_MAX: a valid envelope padded one octet past it is refused */
	{
		struct buf *b = buf_new(QUEUE_ENV_MAX + 64);
		FILE *fp;

		make_env(&f, "big1");
		qenv_format(&f, b);
		qenv_free(&f);
		while (b->len < QUEUE_ENV_MAX + 1)
			buf_addstr(b, "x-pad 1\n");
		b->len = QUEUE_ENV_MAX + 1;
		snprintf(p, sizeof(p), "%s/env/big1", q);
		fp = fopen(p, "w");
		fwrite(b->data, 1, b->len, fp);
		fclose(fp);
		assert_int_equal(queue_load(q, "big1", &f, err, sizeof(err)),
				 -1);
		assert_non_null(strstr(err, "envelope over"));
		/* at the limit it is read */
		assert_int_equal(truncate(p, QUEUE_ENV_MAX), 0);
		assert_int_equal(queue_load(q, "big1", &f, err, sizeof(err)),
				 0);
		qenv_free(&f);
		unlink(p);
		buf_free(&b);
	}

	/* every step of an add failing: nothing in msg/, env/ or tmp/ */
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		for (unsigned long nth = 1; nth <= 2; nth++) {
			snprintf(e.id, sizeof(e.id), "f%zu%lu", i, nth);
			fsops_inject(ops[i], nth, EIO, false);
			assert_int_equal(queue_add(q, &e, "x\n", -1, 2, err,
						   sizeof(err)), -1);
			fsops_clear();
			snprintf(p, sizeof(p), "%s/env", q);
			assert_int_equal(count(p, name, sizeof(name)), 1);
			snprintf(p, sizeof(p), "%s/msg", q);
			assert_int_equal(count(p, name, sizeof(name)), 1);
			snprintf(p, sizeof(p), "%s/tmp", q);
			assert_int_equal(count(p, NULL, 0), 0);
		}

	/* what a crash leaves: a tmp/ file, a text without envelope */
	snprintf(p, sizeof(p), "%s/tmp/zz.msg", q);
	fclose(fopen(p, "w"));
	snprintf(p, sizeof(p), "%s/msg/orphan", q);
	fclose(fopen(p, "w"));
	assert_int_equal(queue_recover(q, &all, &n, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(all[0].id, "00ab");
	qenv_free(&all[0]);
	free(all);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/tmp", q);
	assert_int_equal(count(p, NULL, 0), 0);

	assert_int_equal(queue_remove(q, "00ab", err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/msg", q);
	assert_int_equal(count(p, NULL, 0), 0);
	snprintf(p, sizeof(p), "%s/env", q);
	assert_int_equal(count(p, NULL, 0), 0);
	qenv_free(&e);
}

/* Files in QDIR/SUB, or -1. */
static int
qcount(const char *q, const char *sub)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", q, sub);
	return count(p, NULL, 0);
}

/*
 * One batch of adds with its fsync calls failed one at a time: the
 * per-entry calls fail that entry alone, a directory's fsync fails the
 * whole batch; nothing half-written is left either way.
 */
static void
batch_add_faults(const char *q)
{
	/* fsyncs of a batch of 3: 3 texts, msg/, 3 envelopes, env/ */
	static const struct {
		unsigned long nth;
		int failed;		/* which entry, or 3: all */
	} cases[] = {{1, 0}, {2, 1}, {4, 3}, {6, 1}, {7, 2}, {8, 3}};
	struct qenv e[3];
	char err[3][300];
	struct queue_new nq[3];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int i = 0; i < 3; i++) {
			char id[16];

			snprintf(id, sizeof(id), "c%zu%d", c, i);
			make_env(&e[i], id);
			nq[i] = (struct queue_new){.env = &e[i], .data = "x\n",
						   .fd = -1, .len = 2,
						   .err = err[i],
						   .errsz = sizeof(err[i])};
		}
		fsops_inject(FSOP_FSYNC, cases[c].nth, EIO, false);
		queue_add_many(q, nq, 3);
		fsops_clear();
		for (int i = 0; i < 3; i++) {
			bool failed = cases[c].failed == 3 ||
				      cases[c].failed == i;

			assert_int_equal(nq[i].result, failed ? EIO : 0);
			if (failed) /* "write PATH: ..." or "fsync DIR: ..." */
				assert_non_null(strstr(err[i], ": I"));
		}
		assert_int_equal(qcount(q, "tmp"), 0);
		for (int i = 0; i < 3; i++) {
			char t[300];

			if (nq[i].result == 0)
				assert_int_equal(queue_remove(q, e[i].id, t,
							      sizeof(t)), 0);
			qenv_free(&e[i]);
		}
		assert_int_equal(qcount(q, "msg"), 0);
		assert_int_equal(qcount(q, "env"), 0);
	}
}

/* queue_add_many and queue_remove_many: a group commit each. */
static void
test_queue_batch(void **st)
{
	char q[300], err[4][300];
	struct qenv e[4], f;
	struct queue_new nq[4];
	struct queue_gone gq[4];
	static const char *ids[] = {"b1", "b2", "../b3", "b4"};

	(void)st;
	snprintf(q, sizeof(q), "%s/queue", root);
	assert_int_equal(queue_init(q, err[0], sizeof(err[0])), 0);
	for (int i = 0; i < 4; i++) {
		make_env(&e[i], ids[i]);
		nq[i] = (struct queue_new){.env = &e[i], .data = "hello\n",
					   .fd = -1, .len = 6, .err = err[i],
					   .errsz = sizeof(err[i])};
	}
	/* a bad id fails that entry alone */
	queue_add_many(q, nq, 4);
	assert_int_equal(nq[0].result, 0);
	assert_int_equal(nq[1].result, 0);
	assert_int_equal(nq[2].result, EINVAL);
	assert_non_null(strstr(err[2], "bad queue id"));
	assert_int_equal(nq[3].result, 0);
	assert_int_equal(qcount(q, "msg"), 3);
	assert_int_equal(qcount(q, "env"), 3);
	assert_int_equal(qcount(q, "tmp"), 0);
	assert_int_equal(queue_load(q, "b4", &f, err[0], sizeof(err[0])), 0);
	assert_int_equal(f.nrcpts, 2);
	qenv_free(&f);

	/* removal: one fsync of env/ for all; an entry already gone is gone */
	for (int i = 0; i < 4; i++)
		gq[i] = (struct queue_gone){.id = i == 2 ? "none" : ids[i],
					    .err = err[i],
					    .errsz = sizeof(err[i])};
	fsops_inject(FSOP_FSYNC, 1, EIO, false);
	queue_remove_many(q, gq, 4);
	fsops_clear();
	for (int i = 0; i < 4; i++)
		assert_int_equal(gq[i].result, EIO); /* not known durable */
	assert_int_equal(qcount(q, "msg"), 3);	     /* texts kept */
	queue_remove_many(q, gq, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(gq[i].result, 0);
	assert_int_equal(qcount(q, "msg"), 0);
	assert_int_equal(qcount(q, "env"), 0);
	for (int i = 0; i < 4; i++)
		qenv_free(&e[i]);

	batch_add_faults(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_envelope, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_session_lock_new_maildrop,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_maildir_links, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_maildir_tmp_swept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_maildir_folder_all_or_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_maildir_failures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spooled_text, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_maildir_box, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_maildir_expunge_record,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_maildir_expunge_twin_in_new,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_maildir_expunge_twins,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_maildir_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mbox_box, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mbox_parse_edges, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fault_specs, setup,
						teardown),
		cmocka_unit_test(test_user_names),
		cmocka_unit_test_setup_teardown(test_users_file, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
