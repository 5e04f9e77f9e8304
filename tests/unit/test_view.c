/*
 * Unit tests of the mailbox view (store.h) on both backends, on temp dirs:
 * UIDs in ascending order and kept across opens and expunges, flags and
 * modseqs from the index, sizes and internal dates without a file read,
 * the POP3 UIDL unchanged, the lock, and what mbox gives (no UIDs yet).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

#define MSG "Subject: hi\n\nhello\nworld\n"
#define WHEN 1700000000

#define TMPROOT_NAME "view"
#include "tmproot.h"

static void
deliver_one(struct store *s)
{
	const char *users[] = {"alice@example.org"};
	struct store_delivery d = {.sender = "", .users = users, .nusers = 1,
				   .data = MSG, .fd = -1,
				   .len = sizeof(MSG) - 1, .when = WHEN};
	struct store_delivery *batch[] = {&d};

	store_deliver(s, batch, 1);
	assert_int_equal(d.res, STORE_OK);
}

static struct store_view *
view(struct store *s)
{
	struct store_view *v;
	char err[300];

	assert_int_equal(store_view_open(s, "alice@example.org", "INBOX", &v,
					 err, sizeof(err)), STORE_OK);
	return v;
}

/* The whole text of message i. */
static void
check_text(struct store_view *v, size_t i, const char *want)
{
	struct store_reader r;
	char buf[256];
	ssize_t n;
	size_t got = 0;

	assert_int_equal(store_view_reader_open(v, i, &r), 0);
	while ((n = store_reader_read(&r, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	store_reader_close(&r);
	assert_int_equal(n, 0);
	assert_int_equal(got, strlen(want));
	assert_memory_equal(buf, want, got);
}

static void
test_maildir_view(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v, *v2;
	struct store_view_info info;
	struct store_vmsg m[4];
	char err[300], path[1200], to[1300], dir[600];

	(void)st;
	/* POP3 sees only INBOX */
	assert_int_equal(store_view_open(s, "alice@example.org", "Sent", &v,
					 err, sizeof(err)), STORE_NOTFOUND);
	assert_null(v);
	deliver_one(s);
	deliver_one(s);
	v = view(s);
	store_view_info(v, &info);
	assert_int_equal(info.count, 2);
	assert_true(info.uidvalidity != 0);
	assert_int_equal(info.uidnext, 3);
	for (size_t i = 0; i < 2; i++) {
		store_view_msg(v, i, &m[i]);
		assert_int_equal(m[i].uid, i + 1);
		assert_true(m[i].modseq >= 1 &&
			    m[i].modseq <= info.highestmodseq);
		assert_int_equal(m[i].flags, 0);
		assert_int_equal(m[i].octets, strlen(MSG));
		assert_int_equal(m[i].size, strlen(MSG) + 4);
		assert_true(m[i].date > WHEN); /* delivery time: now */
		/* the UIDL is the base name: up to ",S=" */
		assert_non_null(strstr(m[i].uidl, ".host.test"));
		assert_null(strchr(m[i].uidl, ','));
		check_text(v, i, MSG);
	}
	/* a second view, here: in use */
	assert_int_equal(store_view_open(s, "alice@example.org", "INBOX",
					 &v2, err, sizeof(err)), STORE_INUSE);
	store_view_close(&v);
	assert_null(v);
	/* a flag set by another program, and a foreign file whose name time
	 * is older than both: it gets UID 3 and comes last */
	snprintf(dir, sizeof(dir), "%s/mail/example.org/alice", root);
	{
		char name[300];

		v = view(s);
		store_view_msg(v, 0, &m[0]);
		/* m[0].uidl lives as long as the view */
		snprintf(name, sizeof(name), "%s,S=%zu,W=%zu", m[0].uidl,
			 strlen(MSG), strlen(MSG) + 4);
		store_view_close(&v);
		/* as delivered, still in new/: moved to cur/ with the flags,
		 * as a Maildir MUA does */
		snprintf(path, sizeof(path), "%s/new/%s", dir, name);
		snprintf(to, sizeof(to), "%s/cur/%s:2,FS", dir, name);
		assert_int_equal(rename(path, to), 0);
	}
	snprintf(path, sizeof(path), "%s/new/1000.foreign", dir);
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fputs("Subject: old\n\nx\n", fp);
		fclose(fp);
	}
	v = view(s);
	store_view_info(v, &info);
	assert_int_equal(info.count, 3);
	assert_int_equal(info.uidnext, 4);
	for (size_t i = 0; i < 3; i++)
		store_view_msg(v, i, &m[i]);
	assert_int_equal(m[0].uid, 1);
	assert_int_equal(m[0].flags, STORE_F_FLAGGED | STORE_F_SEEN);
	assert_true(m[0].modseq > m[1].modseq); /* the flag change */
	assert_int_equal(m[2].uid, 3);
	assert_string_equal(m[2].uidl, "1000.foreign");
	assert_int_equal(m[2].date, 1000);
	assert_int_equal(m[2].octets, 16); /* no S= nor W=: read */
	assert_int_equal(m[2].size, 19);
	check_text(v, 2, "Subject: old\n\nx\n");
	/* expunge 2: the others keep their UIDs */
	assert_int_equal(store_view_expunge(v, (bool[]){false, true, false},
					    err, sizeof(err)), STORE_OK);
	store_view_close(&v);
	deliver_one(s);
	v = view(s);
	store_view_info(v, &info);
	assert_int_equal(info.count, 3);
	for (size_t i = 0; i < 3; i++)
		store_view_msg(v, i, &m[i]);
	assert_int_equal(m[0].uid, 1);
	assert_int_equal(m[1].uid, 3);
	assert_int_equal(m[2].uid, 4);
	store_view_close(&v);
	store_view_close(&v); /* NULL is fine */
	/* sizes come from the names: a file whose name lies is not read */
	snprintf(path, sizeof(path), "%s/cur/2000.M1P1Q1.x,S=5,W=7:2,", dir);
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fputs("a much longer text than the name says\n", fp);
		fclose(fp);
	}
	v = view(s);
	store_view_info(v, &info);
	assert_int_equal(info.count, 4);
	store_view_msg(v, 3, &m[3]);
	assert_string_equal(m[3].uidl, "2000.M1P1Q1.x");
	assert_int_equal(m[3].octets, 5);
	assert_int_equal(m[3].size, 7);
	store_view_close(&v);
	store_free(&s);
}

static void
test_mbox_view(void **st)
{
	struct store *s = open_store(MBOX_FMT_MBOX);
	struct store_view *v, *v2;
	struct store_view_info info;
	struct store_vmsg m;
	char err[300];

	(void)st;
	v = view(s); /* no file yet: empty */
	store_view_info(v, &info);
	assert_int_equal(info.count, 0);
	store_view_close(&v);
	deliver_one(s);
	deliver_one(s);
	v = view(s);
	store_view_info(v, &info);
	assert_int_equal(info.count, 2);
	assert_int_equal(info.uidvalidity, 0); /* no UIDs for mbox yet */
	for (size_t i = 0; i < 2; i++) {
		store_view_msg(v, i, &m);
		assert_int_equal(m.uid, 0);
		assert_int_equal(m.date, WHEN); /* from the From_ line */
		/* what POP3 shows: the X-UIDL line is part of the text */
		assert_int_equal(m.size, m.octets + 5);
		assert_true(strlen(m.uidl) >= 1);
	}
	assert_int_equal(store_view_open(s, "alice@example.org", "inbox",
					 &v2, err, sizeof(err)), STORE_INUSE);
	assert_int_equal(store_view_expunge(v, (bool[]){true, false}, err,
					    sizeof(err)), STORE_OK);
	store_view_close(&v);
	v = view(s);
	store_view_info(v, &info);
	assert_int_equal(info.count, 1);
	store_view_close(&v);
	store_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_maildir_view, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mbox_view, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
