/*
 * Unit tests of store_append_many (IMAP MULTIAPPEND's store side) on temp
 * dirs: several messages saved and numbered in one hold of the index
 * lock, with ascending UIDs in the order given, their flags, keywords and
 * dates; all or nothing when a save fails in the middle (a link fault)
 * or a request is invalid (a bad keyword): the folder is left as it was,
 * with no file in cur/ or tmp/ and no UID spent that a view would see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define USER "alice@example.org"
#define MSG1 "Subject: one\n\nfirst\n"
#define MSG2 "Subject: two\n\nsecond\n"
#define MSG3 "Subject: three\n\nthird\n"

#define TMPROOT_NAME "sappend"
#include "tmproot.h"

/* The files in the INBOX subdirectory sub ("cur", "tmp") of USER. */
static size_t
files_in(const char *sub)
{
	char path[600];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/mail/example.org/alice/%s", root,
		 sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static size_t
view_count(struct store *s)
{
	struct store_view *v;
	struct store_view_info info;
	char err[300];

	assert_int_equal(store_view_open_shared(s, USER, "INBOX", &v, err,
						sizeof(err)), STORE_OK);
	store_view_info(v, &info);
	store_view_close(&v);
	return info.count;
}

static void
three(struct store_append_req *a)
{
	a[0] = (struct store_append_req){.data = MSG1, .fd = -1,
		.len = sizeof(MSG1) - 1, .flags = STORE_F_SEEN,
		.date = 1600000000};
	a[1] = (struct store_append_req){.data = MSG2, .fd = -1,
		.len = sizeof(MSG2) - 1, .keywords = "$Label1 Work",
		.date = 1500000000};
	a[2] = (struct store_append_req){.data = MSG3, .fd = -1,
		.len = sizeof(MSG3) - 1, .flags = STORE_F_DRAFT};
}

static void
test_three_in_order(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_append_req a[3], one;
	struct store_view *v;
	struct store_vmsg m;
	char err[300];

	(void)st;
	one = (struct store_append_req){.data = MSG1, .fd = -1,
					.len = sizeof(MSG1) - 1};
	assert_int_equal(store_append(s, USER, "INBOX", &one, err,
				      sizeof(err)), STORE_OK);
	assert_int_equal(one.uid, 1);
	three(a);
	assert_int_equal(store_append_many(s, USER, "INBOX", a, 3, err,
					   sizeof(err)), STORE_OK);
	/* ascending in the order given, whatever the internal dates */
	assert_int_equal(a[0].uid, 2);
	assert_int_equal(a[1].uid, 3);
	assert_int_equal(a[2].uid, 4);
	assert_int_equal(a[0].uidvalidity, one.uidvalidity);
	assert_int_equal(a[2].uidvalidity, one.uidvalidity);
	assert_int_equal(store_view_open_shared(s, USER, "INBOX", &v, err,
						sizeof(err)), STORE_OK);
	store_view_msg(v, 1, &m);
	assert_int_equal(m.uid, 2);
	assert_int_equal(m.flags, STORE_F_SEEN);
	assert_int_equal(m.date, 1600000000);
	store_view_msg(v, 2, &m);
	assert_int_equal(m.uid, 3);
	assert_string_equal(m.keywords, "$Label1 Work");
	assert_int_equal(m.date, 1500000000);
	store_view_msg(v, 3, &m);
	assert_int_equal(m.uid, 4);
	assert_int_equal(m.flags, STORE_F_DRAFT);
	store_view_close(&v);
	/* none: nothing to do */
	assert_int_equal(store_append_many(s, USER, "INBOX", a, 0, err,
					   sizeof(err)), STORE_OK);
	assert_int_equal(store_append_many(s, USER, "Nope", a, 3, err,
					   sizeof(err)), STORE_NOTFOUND);
	assert_int_equal(view_count(s), 4);
	store_free(&s);
}

static void
test_fault_in_the_middle(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_append_req a[3];
	char err[300];

	(void)st;
	assert_int_equal(view_count(s), 0);
	three(a);
	/* the second message's link into cur/ fails: the first is taken
	   back, the third never made */
	fsops_inject(FSOP_LINK, 2, ENOSPC, false);
	assert_int_equal(store_append_many(s, USER, "INBOX", a, 3, err,
					   sizeof(err)), STORE_NOSPACE);
	fsops_clear();
	assert_int_equal(a[0].uid, 0);
	assert_int_equal(a[0].uidvalidity, 0);
	assert_int_equal(files_in("cur"), 0);
	assert_int_equal(files_in("tmp"), 0);
	assert_int_equal(view_count(s), 0);
	/* a retry saves all three, numbered from 1: nothing was spent */
	three(a);
	assert_int_equal(store_append_many(s, USER, "INBOX", a, 3, err,
					   sizeof(err)), STORE_OK);
	assert_int_equal(a[0].uid, 1);
	assert_int_equal(a[2].uid, 3);
	assert_int_equal(files_in("cur"), 3);
	store_free(&s);
}

static void
test_bad_keyword_saves_none(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_append_req a[3];
	char err[300];

	(void)st;
	three(a);
	a[2].keywords = "bad(keyword";
	assert_int_equal(store_append_many(s, USER, "INBOX", a, 3, err,
					   sizeof(err)), STORE_PERM);
	assert_int_equal(files_in("cur"), 0);
	assert_int_equal(view_count(s), 0);
	store_free(&s);
}

/* Several messages one after another in one spool file (offsets). */
static void
test_from_one_spool_file(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_append_req a[3];
	struct store_view *v;
	struct store_reader rd;
	char path[300], err[300], text[100];
	const char all[] = MSG1 MSG2 MSG3;
	size_t n;
	FILE *fp;
	int fd;

	(void)st;
	snprintf(path, sizeof(path), "%s/spool", root);
	fp = fopen(path, "w+");
	assert_non_null(fp);
	assert_int_equal(fwrite(all, 1, sizeof(all) - 1, fp),
			 sizeof(all) - 1);
	fflush(fp);
	fd = fileno(fp);
	three(a);
	for (int k = 0; k < 3; k++) {
		a[k].off = (off_t)(k == 0 ? 0 : a[k - 1].off +
				   (off_t)a[k - 1].len);
		a[k].data = NULL;
		a[k].fd = fd;
	}
	assert_int_equal(store_append_many(s, USER, "INBOX", a, 3, err,
					   sizeof(err)), STORE_OK);
	fclose(fp);
	assert_int_equal(store_view_open_shared(s, USER, "INBOX", &v, err,
						sizeof(err)), STORE_OK);
	assert_int_equal(store_view_reader_open(v, 1, &rd), 0);
	n = 0;
	for (ssize_t r; (r = store_reader_read(&rd, text + n,
					       sizeof(text) - 1 - n)) > 0;)
		n += (size_t)r;
	text[n] = '\0';
	assert_string_equal(text, MSG2);
	store_reader_close(&rd);
	store_view_close(&v);
	store_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_three_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fault_in_the_middle,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_keyword_saves_none,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_one_spool_file,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
