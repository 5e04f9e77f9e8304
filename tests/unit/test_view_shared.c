/*
 * Unit tests of shared views (store.h, IMAP's side of the store) on temp
 * dirs: sync reporting new, changed and expunged messages (and keeping
 * expunged ones when asked), storing flags and keywords with modseqs and
 * UNCHANGEDSINCE, expunge by UID, append and copy/move with their UIDs,
 * POP3's session lock beside shared views, the mbox refusal, the limits,
 * two sessions plus delivery at once from three threads, and two
 * processes on one folder (the index lock across processes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

#define USER "alice@example.org"
#define MSG "Subject: hi\n\nhello\nworld\n"

#define TMPROOT_NAME "vshared"
#include "tmproot.h"

static void
deliver(struct store *s, int n)
{
	const char *users[] = {USER};

	for (int i = 0; i < n; i++) {
		struct store_delivery d = {.sender = "", .users = users,
					   .nusers = 1, .data = MSG,
					   .fd = -1, .len = sizeof(MSG) - 1,
					   .when = 1700000000 + i};
		struct store_delivery *batch[] = {&d};

		store_deliver(s, batch, 1);
		assert_int_equal(d.res, STORE_OK);
	}
}

static struct store_view *
open_shared(struct store *s)
{
	struct store_view *v;
	char err[300];

	assert_int_equal(store_view_open_shared(s, USER, "INBOX", &v, err,
						sizeof(err)), STORE_OK);
	return v;
}

static size_t
count(struct store_view *v)
{
	struct store_view_info info;

	store_view_info(v, &info);
	return info.count;
}

static struct store_vmsg
msg(struct store_view *v, size_t i)
{
	struct store_vmsg m;

	store_view_msg(v, i, &m);
	return m;
}

static void
sync_ok(struct store_view *v, unsigned how, struct store_view_changes *ch)
{
	char err[300];

	assert_int_equal(store_view_sync(v, how, ch, err, sizeof(err)),
			 STORE_OK);
}

/* Waits until a stat'ed time stamp can tell a new change apart. */
static void
settle(void)
{
	usleep(10 * 1000);
}

static void
test_new_and_flags(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *a = open_shared(s), *b;
	struct store_view_changes ch;
	struct store_flags_req seen = {.op = STORE_FLAGS_ADD,
				       .flags = STORE_F_SEEN,
				       .keywords = "$Label1 Work"};
	size_t pos = 1;
	uint64_t before;
	char err[300];

	(void)st;
	assert_int_equal(count(a), 0);
	deliver(s, 3);
	sync_ok(a, 0, &ch);
	assert_int_equal(ch.nnew, 3);
	assert_int_equal(ch.nexpunged, 0);
	assert_int_equal(count(a), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(msg(a, i).uid, i + 1);
	store_view_changes_free(&ch);

	b = open_shared(s); /* a second session on the folder */
	assert_int_equal(count(b), 3);
	before = msg(b, 1).modseq;
	assert_int_equal(store_view_store(b, &pos, 1, &seen, NULL, err,
					  sizeof(err)), STORE_OK);
	/* the storing view shows it at once */
	assert_true(msg(b, 1).flags & STORE_F_SEEN);
	assert_string_equal(msg(b, 1).keywords, "$Label1 Work");
	assert_true(msg(b, 1).modseq > before);
	/* the other one at its sync */
	sync_ok(a, 0, &ch);
	assert_int_equal(ch.nchanged, 1);
	assert_int_equal(ch.changed[0], 1);
	assert_int_equal(ch.nnew, 0);
	assert_true(msg(a, 1).flags & STORE_F_SEEN);
	assert_string_equal(msg(a, 1).keywords, "$Label1 Work");
	assert_int_equal(msg(a, 1).modseq, msg(b, 1).modseq);
	store_view_changes_free(&ch);
	/* removing one keyword, case-insensitively */
	seen.op = STORE_FLAGS_REMOVE;
	seen.flags = 0;
	seen.keywords = "work";
	assert_int_equal(store_view_store(b, &pos, 1, &seen, NULL, err,
					  sizeof(err)), STORE_OK);
	assert_string_equal(msg(b, 1).keywords, "$Label1");
	assert_true(msg(b, 1).flags & STORE_F_SEEN);
	/* nothing changed: nothing reported */
	sync_ok(b, 0, &ch);
	assert_int_equal(ch.nchanged + ch.nnew + ch.nexpunged, 0);
	store_view_changes_free(&ch);
	store_view_close(&b);
	/* flags and keywords survive a new open */
	b = open_shared(s);
	assert_true(msg(b, 1).flags & STORE_F_SEEN);
	assert_string_equal(msg(b, 1).keywords, "$Label1");
	assert_null(msg(b, 0).keywords);
	store_view_close(&b);
	store_view_close(&a);
	store_free(&s);
}

static bool
cur_has_suffix(const char *suffix)
{
	char path[400];
	struct dirent *de;
	DIR *d;
	bool found = false;

	snprintf(path, sizeof(path), "%s/mail/example.org/alice/cur", root);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name), k = strlen(suffix);

		if (n >= k && strcmp(de->d_name + n - k, suffix) == 0)
			found = true;
	}
	closedir(d);
	return found;
}

static void
test_flags_in_names_and_unchangedsince(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v;
	struct store_flags_req r = {.op = STORE_FLAGS_REPLACE,
				    .flags = STORE_F_FLAGGED | STORE_F_SEEN |
					     STORE_F_DELETED};
	size_t pos[] = {0, 1};
	bool modified[2];
	uint64_t m0;
	char err[300];

	(void)st;
	deliver(s, 2);
	v = open_shared(s);
	assert_int_equal(store_view_store(v, pos, 1, &r, NULL, err,
					  sizeof(err)), STORE_OK);
	assert_true(cur_has_suffix(":2,FST"));
	m0 = msg(v, 0).modseq;
	/* UNCHANGEDSINCE below message 0's modseq: it is left alone */
	r.op = STORE_FLAGS_REMOVE;
	r.flags = STORE_F_DELETED;
	r.conditional = true;
	r.unchangedsince = m0 - 1;
	assert_int_equal(store_view_store(v, pos, 2, &r, modified, err,
					  sizeof(err)), STORE_OK);
	assert_true(modified[0]);
	assert_false(modified[1]);
	assert_true(msg(v, 0).flags & STORE_F_DELETED);
	assert_int_equal(msg(v, 0).modseq, m0);
	/* HIGHESTMODSEQ is at least what was just shown */
	{
		struct store_view_info in;

		store_view_info(v, &in);
		assert_true(in.highestmodseq >= msg(v, 1).modseq);
	}
	/* UNCHANGEDSINCE 0 leaves every message alone (RFC 7162) */
	r.unchangedsince = 0;
	assert_int_equal(store_view_store(v, pos, 2, &r, modified, err,
					  sizeof(err)), STORE_OK);
	assert_true(modified[0] && modified[1]);
	assert_true(msg(v, 0).flags & STORE_F_DELETED);
	/* a keyword that is not an atom, or too many of them */
	r.conditional = false;
	r.keywords = "bad(word";
	assert_int_equal(store_view_store(v, pos, 1, &r, NULL, err,
					  sizeof(err)), STORE_PERM);
	{
		char many[33 * 8] = "";

		for (int i = 0; i < 33; i++)
			snprintf(many + strlen(many),
				 sizeof(many) - strlen(many), "k%d ", i);
		r.op = STORE_FLAGS_ADD;
		r.keywords = many;
		assert_int_equal(store_view_store(v, pos, 1, &r, NULL, err,
						  sizeof(err)), STORE_LIMIT);
	}
	store_view_close(&v);
	store_free(&s);
}

static void
test_expunge_kept_then_said(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *a, *b;
	struct store_view_changes ch;
	struct store_reader rd;
	bool dele[3] = {true, false, true};
	char err[300];

	(void)st;
	deliver(s, 3);
	a = open_shared(s);
	b = open_shared(s);
	assert_int_equal(store_view_expunge(b, dele, err, sizeof(err)),
			 STORE_OK);
	/* during FETCH, STORE, SEARCH: kept, marked, unreadable */
	sync_ok(a, STORE_SYNC_KEEP_EXPUNGED, &ch);
	assert_int_equal(ch.nexpunged, 0);
	assert_int_equal(count(a), 3);
	assert_true(msg(a, 0).expunged);
	assert_false(msg(a, 1).expunged);
	assert_int_equal(store_view_reader_open(a, 0, &rd), -1);
	store_view_changes_free(&ch);
	/* then said, in descending order */
	sync_ok(a, 0, &ch);
	assert_int_equal(ch.nexpunged, 2);
	assert_int_equal(ch.expunged[0], 2);
	assert_int_equal(ch.expunged[1], 0);
	assert_int_equal(count(a), 1);
	assert_int_equal(msg(a, 0).uid, 2);
	store_view_changes_free(&ch);
	sync_ok(b, 0, &ch);
	assert_int_equal(ch.nexpunged, 2);
	assert_int_equal(count(b), 1);
	store_view_changes_free(&ch);
	store_view_close(&a);
	store_view_close(&b);
	store_free(&s);
}

static void
test_append_copy_move(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v;
	struct store_view_changes ch;
	struct store_append_req ap = {.data = MSG, .fd = -1,
				  .len = sizeof(MSG) - 1,
				  .flags = STORE_F_DRAFT | STORE_F_SEEN,
				  .keywords = "$Forwarded", .date = 1600000000};
	uint32_t uids[2], uv;
	size_t pos[2];
	char err[300];

	(void)st;
	deliver(s, 2);
	v = open_shared(s);
	assert_int_equal(store_append(s, USER, "INBOX", &ap, err,
				      sizeof(err)), STORE_OK);
	assert_int_equal(ap.uid, 3);
	assert_true(ap.uidvalidity != 0);
	sync_ok(v, 0, &ch);
	assert_int_equal(ch.nnew, 1);
	assert_int_equal(msg(v, 2).uid, 3);
	assert_int_equal(msg(v, 2).flags, STORE_F_DRAFT | STORE_F_SEEN);
	assert_string_equal(msg(v, 2).keywords, "$Forwarded");
	assert_int_equal(msg(v, 2).date, 1600000000);
	assert_int_equal(msg(v, 2).size, sizeof(MSG) - 1 + 4);
	store_view_changes_free(&ch);
	/* copy keeps flags, keywords and the internal date */
	pos[0] = 2;
	pos[1] = 0;
	assert_int_equal(store_view_copy(v, pos, 2, "INBOX", false, uids, &uv,
					 err, sizeof(err)), STORE_OK);
	assert_int_equal(uids[0], 4);
	assert_int_equal(uids[1], 5);
	assert_int_equal(uv, ap.uidvalidity);
	sync_ok(v, 0, &ch);
	assert_int_equal(ch.nnew, 2);
	assert_string_equal(msg(v, 3).keywords, "$Forwarded");
	assert_int_equal(msg(v, 3).date, 1600000000);
	assert_int_equal(msg(v, 3).flags, STORE_F_DRAFT | STORE_F_SEEN);
	store_view_changes_free(&ch);
	/* move: copied, then expunged from here */
	pos[0] = 0;
	assert_int_equal(store_view_copy(v, pos, 1, "INBOX", true, uids, &uv,
					 err, sizeof(err)), STORE_OK);
	assert_int_equal(uids[0], 6);
	sync_ok(v, 0, &ch);
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.expunged[0], 0);
	assert_int_equal(ch.nnew, 1);
	assert_int_equal(count(v), 5);
	store_view_changes_free(&ch);
	/* no such folder */
	assert_int_equal(store_view_copy(v, pos, 1, "Nope", false, uids, &uv,
					 err, sizeof(err)), STORE_NOTFOUND);
	assert_int_equal(store_append(s, USER, "Nope", &ap, err, sizeof(err)),
			 STORE_NOTFOUND);
	store_view_close(&v);
	store_free(&s);
}

static void
test_pop3_beside_shared(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *a, *p1, *p2;
	char err[300];

	(void)st;
	deliver(s, 2);
	a = open_shared(s);
	assert_int_equal(store_view_open(s, USER, "INBOX", &p1, err,
					 sizeof(err)), STORE_OK);
	assert_int_equal(store_view_open(s, USER, "INBOX", &p2, err,
					 sizeof(err)), STORE_INUSE);
	/* a shared view still syncs and changes while POP3 holds it */
	{
		bool dele[2] = {true, false};

		assert_int_equal(store_view_expunge(a, dele, err,
						    sizeof(err)), STORE_OK);
	}
	sync_ok(a, 0, NULL);
	assert_int_equal(count(a), 1);
	store_view_close(&p1);
	assert_int_equal(store_view_open(s, USER, "INBOX", &p2, err,
					 sizeof(err)), STORE_OK);
	store_view_close(&p2);
	store_view_close(&a);
	store_free(&s);
}

static void
test_mbox_refused(void **st)
{
	struct store *s = open_store(MBOX_FMT_MBOX);
	struct store_view *v;
	struct store_append_req ap = {.data = MSG, .fd = -1,
				  .len = sizeof(MSG) - 1};
	char err[300];

	(void)st;
	assert_int_equal(store_view_open_shared(s, USER, "INBOX", &v, err,
						sizeof(err)), STORE_PERM);
	assert_non_null(strstr(err, "maildir"));
	assert_int_equal(store_append(s, USER, "INBOX", &ap, err,
				      sizeof(err)), STORE_PERM);
	store_free(&s);
}

/* --- two sessions plus delivery at once --------------------------------- */

#define RACE_MSGS 150

struct racer {
	struct store *s;
	int id;
	bool done;
};

static void *
deliverer(void *arg)
{
	struct racer *r = arg;

	deliver(r->s, RACE_MSGS);
	return NULL;
}

/* Syncs, checks UIDs ascend, and flips \Flagged on a message now and
 * then, until the delivery is done and seen. */
static void *
session(void *arg)
{
	struct racer *r = arg;
	struct store_view *v = open_shared(r->s);
	struct store_flags_req fl = {.op = STORE_FLAGS_ADD,
				     .flags = r->id ? STORE_F_FLAGGED
						    : STORE_F_SEEN};
	char err[300];

	for (int round = 0; round < 400; round++) {
		size_t n;

		sync_ok(v, round % 3 == 0 ? STORE_SYNC_KEEP_EXPUNGED : 0,
			NULL);
		n = count(v);
		for (size_t i = 1; i < n; i++)
			assert_true(msg(v, i - 1).uid < msg(v, i).uid);
		if (n > 0) {
			size_t pos = (size_t)round % n;

			assert_int_equal(store_view_store(v, &pos, 1, &fl,
							  NULL, err,
							  sizeof(err)),
					 STORE_OK);
		}
		if (__atomic_load_n(&r[-r->id].done, __ATOMIC_SEQ_CST) &&
		    n == RACE_MSGS)
			break;
		usleep(1000);
	}
	store_view_close(&v);
	return NULL;
}

static void
test_two_sessions_and_delivery(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct racer rs[3] = {{s, 0, false}, {s, 1, false}, {s, 2, false}};
	struct store_view *a, *b;
	pthread_t t[3];

	(void)st;
	deliver(s, 1); /* the Maildir exists before the sessions */
	pthread_create(&t[1], NULL, session, &rs[0]);
	pthread_create(&t[2], NULL, session, &rs[1]);
	pthread_create(&t[0], NULL, deliverer, &rs[2]);
	pthread_join(t[0], NULL);
	__atomic_store_n(&rs[0].done, true, __ATOMIC_SEQ_CST);
	pthread_join(t[1], NULL);
	pthread_join(t[2], NULL);
	settle();
	a = open_shared(s);
	b = open_shared(s);
	/* every message, each once, UIDs 1..n, and both agree */
	assert_int_equal(count(a), RACE_MSGS + 1);
	assert_int_equal(count(b), RACE_MSGS + 1);
	for (size_t i = 0; i < count(a); i++) {
		assert_int_equal(msg(a, i).uid, i + 1);
		assert_int_equal(msg(a, i).flags, msg(b, i).flags);
		assert_int_equal(msg(a, i).modseq, msg(b, i).modseq);
	}
	store_view_close(&a);
	store_view_close(&b);
	store_free(&s);
}

/* An index rebuilt under a view renumbers the messages: a change by the
 * view's UIDs is refused, not made to other messages. */
static void
test_renumbered_under_view(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v;
	struct store_flags_req fl = {.op = STORE_FLAGS_ADD,
				     .flags = STORE_F_SEEN};
	bool dele[3] = {true, false, false};
	size_t pos = 1;
	char err[300], path[400];

	(void)st;
	deliver(s, 3);
	v = open_shared(s);
	assert_int_equal(store_view_expunge(v, dele, err, sizeof(err)),
			 STORE_OK);
	sync_ok(v, 0, NULL); /* the view: UIDs 2 and 3 */
	assert_int_equal(msg(v, 0).uid, 2);
	pos = 0;
	dele[0] = true;
	snprintf(path, sizeof(path),
		 "%s/mail/example.org/alice/.owlpost-uidlist", root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_view_store(v, &pos, 1, &fl, NULL, err,
					  sizeof(err)), STORE_PERM);
	assert_int_equal(store_view_expunge(v, dele, err, sizeof(err)),
			 STORE_PERM);
	store_view_close(&v);
	/* nothing was lost or flagged by the refused calls (the rebuilt
	 * index calls the two remaining messages 1 and 2) */
	v = open_shared(s);
	assert_int_equal(count(v), 2);
	assert_int_equal(msg(v, 0).flags, 0);
	assert_int_equal(msg(v, 1).flags, 0);
	store_view_close(&v);
	store_free(&s);
}

/* COPYUID pairs copies with originals in the order asked for, whatever
 * the internal dates; a failed numbering takes the saved file back. */
static void
test_copyuid_order_and_failed_append(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v;
	struct store_append_req ap = {.data = MSG, .fd = -1,
				      .len = sizeof(MSG) - 1};
	uint32_t uids[2], uv;
	size_t pos[2] = {0, 1};
	char err[300];

	(void)st;
	ap.date = 2000000000;
	assert_int_equal(store_append(s, USER, "INBOX", &ap, err,
				      sizeof(err)), STORE_OK);
	ap.date = 1000000000;
	assert_int_equal(store_append(s, USER, "INBOX", &ap, err,
				      sizeof(err)), STORE_OK);
	v = open_shared(s);
	assert_int_equal(msg(v, 0).date, 2000000000);
	assert_int_equal(store_view_copy(v, pos, 2, "INBOX", false, uids, &uv,
					 err, sizeof(err)), STORE_OK);
	assert_int_equal(uids[0], 3);
	assert_int_equal(uids[1], 4);
	sync_ok(v, 0, NULL);
	assert_int_equal(msg(v, 2).date, 2000000000);
	assert_int_equal(msg(v, 3).date, 1000000000);
	/* the index log's write fails: the append is taken back, not kept */
	fsops_inject_class(FSOPS_INDEX, FSOP_FSYNC, 1, ENOSPC, false);
	assert_int_equal(store_append(s, USER, "INBOX", &ap, err,
				      sizeof(err)), STORE_NOSPACE);
	assert_int_equal(ap.uid, 0);
	fsops_clear();
	settle();
	sync_ok(v, 0, NULL);
	assert_int_equal(count(v), 4);
	store_view_close(&v);
	store_free(&s);
}

/* Views, appends and copies on a folder besides INBOX (folder.h). */
static void
test_folders(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *in, *work;
	struct store_append_req ap = {.data = MSG, .fd = -1,
				      .len = sizeof(MSG) - 1,
				      .flags = STORE_F_SEEN};
	uint32_t uids[1], uv;
	size_t pos = 0;
	char err[300];

	(void)st;
	deliver(s, 1);
	assert_int_equal(store_view_open_shared(s, USER, "Work", &work, err,
						sizeof(err)), STORE_NOTFOUND);
	assert_int_equal(store_folder_create(s, USER, "Work/2026", 0, 1000,
					     err, sizeof(err)), STORE_OK);
	assert_int_equal(store_view_open_shared(s, USER, "Work/2026", &work,
						err, sizeof(err)), STORE_OK);
	assert_int_equal(count(work), 0);
	assert_int_equal(store_append(s, USER, "Work/2026", &ap, err,
				      sizeof(err)), STORE_OK);
	assert_int_equal(ap.uid, 1);
	in = open_shared(s);
	assert_int_equal(store_view_copy(in, &pos, 1, "Work/2026", true,
					 uids, &uv, err, sizeof(err)),
			 STORE_OK);
	assert_int_equal(uids[0], 2);
	sync_ok(work, 0, NULL);
	assert_int_equal(count(work), 2);
	assert_int_equal(msg(work, 0).flags, STORE_F_SEEN);
	sync_ok(in, 0, NULL);
	assert_int_equal(count(in), 0);
	/* folder names are checked, not taken as paths */
	{
		struct store_view *bad;

		assert_int_equal(store_view_open_shared(s, USER, "../x", &bad,
							err, sizeof(err)),
				 STORE_PERM);
		assert_null(bad);
	}
	store_view_close(&work);
	store_view_close(&in);
	store_free(&s);
}

/*
 * Two processes (each its own store, as two owld hosts on one tree): the
 * child delivers and stores flags while the parent syncs and stores; the
 * index lock (fcntl, byte 0 of .owlpost-lock) keeps them apart, so both
 * end with every message once, the same UIDs and the same flags.
 */
static void
test_two_processes(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v, *w;
	struct store_flags_req fl = {.op = STORE_FLAGS_ADD};
	char err[300];
	pid_t pid;
	int status;

	(void)st;
	deliver(s, 1);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct store *cs = open_store(MBOX_FMT_MAILDIR);
		struct store_view *cv = open_shared(cs);

		fl.flags = STORE_F_FLAGGED;
		for (int i = 0; i < 60; i++) {
			size_t pos = (size_t)i % count(cv);

			deliver(cs, 1);
			sync_ok(cv, 0, NULL);
			if (store_view_store(cv, &pos, 1, &fl, NULL, err,
					     sizeof(err)) != STORE_OK)
				_exit(1);
		}
		store_view_close(&cv);
		store_free(&cs);
		_exit(0);
	}
	v = open_shared(s);
	fl.flags = STORE_F_SEEN;
	for (int i = 0; i < 60; i++) {
		size_t pos = (size_t)i % count(v);

		sync_ok(v, 0, NULL);
		for (size_t k = 1; k < count(v); k++)
			assert_true(msg(v, k - 1).uid < msg(v, k).uid);
		assert_int_equal(store_view_store(v, &pos, 1, &fl, NULL, err,
						  sizeof(err)), STORE_OK);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	settle();
	sync_ok(v, 0, NULL);
	w = open_shared(s);
	assert_int_equal(count(v), 61);
	assert_int_equal(count(w), 61);
	for (size_t i = 0; i < 61; i++) {
		assert_int_equal(msg(v, i).uid, i + 1);
		assert_int_equal(msg(v, i).flags, msg(w, i).flags);
		assert_int_equal(msg(v, i).modseq, msg(w, i).modseq);
	}
	store_view_close(&v);
	store_view_close(&w);
	store_free(&s);
}

static struct store_view *
open_imap(struct store *s, bool claim)
{
	struct store_view *v;
	char err[300];

	assert_int_equal(store_view_open_imap(s, USER, "INBOX", claim, &v,
					      err, sizeof(err)), STORE_OK);
	return v;
}

static void
assert_recent(struct store_view *v, uint32_t lo, uint32_t hi)
{
	uint32_t l, h;

	store_view_recent(v, &l, &h);
	assert_int_equal(l, lo);
	assert_int_equal(h, hi);
}

/* \Recent (RFC 3501 2.3.2): each message is recent in one session
 * only, the first SELECT (not EXAMINE) to see it, here or in another
 * process. */
static void
test_recent_claimed_once(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *a, *b, *x;
	pid_t pid;
	int status;

	(void)st;
	deliver(s, 2);
	x = open_imap(s, false);		/* EXAMINE claims nothing */
	assert_recent(x, 1, 3);
	a = open_imap(s, true);
	assert_recent(a, 1, 3);
	b = open_imap(s, true);
	assert_recent(b, 0, 0);
	settle();
	deliver(s, 1);
	sync_ok(x, 0, NULL);
	assert_recent(x, 3, 4);			/* nor at a sync */
	sync_ok(b, 0, NULL);
	assert_recent(b, 3, 4);
	sync_ok(a, 0, NULL);
	assert_recent(a, 0, 0);
	assert_int_equal(count(a), 3);
	/* another process's session claims the next one */
	settle();
	deliver(s, 1);
	pid = fork();
	if (pid == 0) {
		struct store_view *c = open_imap(s, true);
		uint32_t l, h;

		store_view_recent(c, &l, &h);
		store_view_close(&c);	/* valgrind checks the child too */
		_exit(l == 4 && h == 5 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	sync_ok(a, 0, NULL);
	assert_recent(a, 0, 0);
	assert_int_equal(count(a), 4);
	store_view_close(&a);
	store_view_close(&b);
	store_view_close(&x);
	store_free(&s);
}

/*
 * A view without the claim (EXAMINE; STATUS's) sees as recent what no
 * session has claimed yet, at its open and at each sync, by a scan (a
 * delivery) or from the index log (an APPEND), and leaves it recent for
 * the first SELECT (RFC 3501 2.3.2, 6.3.2); what a SELECT claimed before
 * the view learnt of it is not recent there.
 */
static void
test_recent_seen_unclaimed(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *x, *y, *a;
	struct store_append_req ap = {.data = MSG, .fd = -1,
				      .len = sizeof(MSG) - 1};
	char err[300];

	(void)st;
	deliver(s, 2);
	x = open_imap(s, false);
	assert_recent(x, 1, 3);
	y = open_shared(s);			/* STATUS's view */
	assert_recent(y, 1, 3);
	store_view_close(&y);
	sync_ok(x, 0, NULL);
	assert_recent(x, 0, 0);			/* said once */
	a = open_imap(s, true);			/* still the SELECT's */
	assert_recent(a, 1, 3);
	settle();
	deliver(s, 1);
	sync_ok(x, 0, NULL);
	assert_recent(x, 3, 4);
	sync_ok(a, 0, NULL);
	assert_recent(a, 3, 4);
	/* claimed before x learnt of it: not recent in x */
	settle();
	deliver(s, 1);
	sync_ok(a, 0, NULL);
	assert_recent(a, 4, 5);
	sync_ok(x, 0, NULL);
	assert_recent(x, 0, 0);
	assert_int_equal(count(x), 4);
	/* an APPEND, seen from the log: x first, then a claims it */
	settle();
	assert_int_equal(store_append(s, USER, "INBOX", &ap, err,
				      sizeof(err)), STORE_OK);
	sync_ok(x, 0, NULL);
	assert_recent(x, 5, 6);
	sync_ok(a, 0, NULL);
	assert_recent(a, 5, 6);
	y = open_imap(s, false);		/* all claimed now */
	assert_recent(y, 0, 0);
	assert_int_equal(count(y), 5);
	store_view_close(&y);
	store_view_close(&a);
	store_view_close(&x);
	store_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_and_flags, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_flags_in_names_and_unchangedsince, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_expunge_kept_then_said,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_copy_move, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pop3_beside_shared, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mbox_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recent_claimed_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_seen_unclaimed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_sessions_and_delivery,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_folders, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_renumbered_under_view,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_copyuid_order_and_failed_append, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
