/*
 * Unit tests of store_append_many (IMAP MULTIAPPEND's store side) on temp
 * dirs: several messages saved and numbered in one hold of the index
 * lock, with ascending UIDs in the order given, their flags, keywords and
 * dates; all or nothing when a save fails in the middle (a link fault)
 * or a request is invalid (a bad keyword): the folder is left as it was,
 * with no file in cur/ or tmp/ and no UID spent that a view would see.
 * And the zone of an internal date: the ",Z=" field of a name, read and
 * written, and kept through a view, a copy, a move, a restart and a
 * rebuilt index.
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
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_private.h"

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

static int
zone_of(const char *name)
{
	return maildir_name_zone(name);
}

/* The ",Z=+hhmm" field of a name (docs/MAILDIR.md, "Names"). */
static void
test_zone_field(void **st)
{
	char f[STORE_ZONE_FIELD];

	(void)st;
	assert_int_equal(zone_of("1.M1P2Q3.h,S=1,W=2,Z=+0200:2,S"), 120);
	assert_int_equal(zone_of("1.M1P2Q3.h,S=1,W=2,Z=-0500"), -300);
	assert_int_equal(zone_of("1.h,S=1,W=2,Z=+1400:2,"), 840);
	assert_int_equal(zone_of("1.h,S=1,W=2,Z=-1200:2,"), -720);
	assert_int_equal(zone_of("1.h,Z=+2359,S=1,W=2"), 1439);
	assert_int_equal(zone_of("1.h,S=1,W=2,Z=+0000"), 0);
	assert_int_equal(zone_of("1.h,S=1,W=2,Z=-0000"), 0);
	/* none, or none well-formed: +0000, as every name before zones */
	assert_int_equal(zone_of("1.M1P2Q3.h,S=1,W=2:2,S"), 0);
	assert_int_equal(zone_of("1.M1P2Q3.h"), 0);
	assert_int_equal(zone_of(""), 0);
	assert_int_equal(zone_of("1.h,Z=+2400"), 0);
	assert_int_equal(zone_of("1.h,Z=+0060"), 0);
	assert_int_equal(zone_of("1.h,Z=+020"), 0);
	assert_int_equal(zone_of("1.h,Z=+02000"), 0);
	assert_int_equal(zone_of("1.h,Z=0200"), 0);
	assert_int_equal(zone_of("1.h,Z=+0200x"), 0);
	assert_int_equal(zone_of("1.h,Z="), 0);
	assert_int_equal(zone_of("1.h,z=+0200"), 0);
	/* the first well-formed one; only in the base, not the info */
	assert_int_equal(zone_of("1.h,Z=+99,Z=+0130,Z=+0200"), 90);
	assert_int_equal(zone_of("1.h,S=1:2,Z=+0200"), 0);
	/* written: nothing for +0000, so such names are as they were */
	maildir_zone_field(120, f, sizeof(f));
	assert_string_equal(f, ",Z=+0200");
	maildir_zone_field(-300, f, sizeof(f));
	assert_string_equal(f, ",Z=-0500");
	maildir_zone_field(840, f, sizeof(f));
	assert_string_equal(f, ",Z=+1400");
	maildir_zone_field(-720, f, sizeof(f));
	assert_string_equal(f, ",Z=-1200");
	maildir_zone_field(0, f, sizeof(f));
	assert_string_equal(f, "");
	maildir_zone_field(STORE_ZONE_MAX + 1, f, sizeof(f));
	assert_string_equal(f, "");
	maildir_zone_field(-STORE_ZONE_MAX - 1, f, sizeof(f));
	assert_string_equal(f, "");
	for (int z = -STORE_ZONE_MAX; z <= STORE_ZONE_MAX; z++) {
		char name[64];

		maildir_zone_field(z, f, sizeof(f));
		snprintf(name, sizeof(name), "1.M2P3Q4.h,S=5,W=6%s:2,S", f);
		assert_int_equal(zone_of(name), z);
	}
}

/* How many names in the cur/ of folder_dir ("" INBOX, ".Other") have
 * what in them. */
static size_t
names_with(const char *folder_dir, const char *what)
{
	char path[600];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/mail/example.org/alice/%s/cur", root,
		 folder_dir);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.' && strstr(e->d_name, what) != NULL;
	closedir(d);
	return n;
}

/* Message i of folder, through a new view: its date and zone. */
static void
view_date(struct store *s, const char *folder, size_t i, time_t want_date,
	  int want_zone)
{
	struct store_view *v;
	struct store_vmsg m;
	char err[300];

	assert_int_equal(store_view_open_shared(s, USER, folder, &v, err,
						sizeof(err)), STORE_OK);
	store_view_msg(v, i, &m);
	assert_int_equal(m.date, want_date);
	assert_int_equal(m.zone, want_zone);
	store_view_close(&v);
}

/* Copies (or moves) the messages at pos[0..n) of INBOX to folder. */
static void
copy_to(struct store *s, const size_t *pos, size_t n, const char *folder,
	bool move)
{
	struct store_view *v;
	uint32_t uids[4], uv;
	char err[300];

	assert_int_equal(store_view_open_shared(s, USER, "INBOX", &v, err,
						sizeof(err)), STORE_OK);
	assert_int_equal(store_view_copy(v, pos, n, folder, move, uids, &uv,
					 err, sizeof(err)), STORE_OK);
	store_view_close(&v);
}

/*
 * An internal date appended in a zone keeps it: in the file name (the
 * only place it lives), so in a view, in a copy and a move to another
 * folder, after a restart (a new store) and after the index is rebuilt
 * from the folder alone.  A date of +0000, or none (now), names the file
 * as before; POP3's UIDL is the same as without a zone.
 */
static void
test_zone_kept(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_append_req a[4];
	struct store_view *v;
	struct store_vmsg m;
	const size_t both[2] = {0, 1}, first = 0;
	time_t before = time(NULL);
	char err[300], path[600];

	(void)st;
	three(a);
	a[0].date = 1174779000;		/* 25-Mar-2007 01:30:00 +0200 */
	a[0].zone = 120;
	a[1].date = 1174797000;		/* 24-Mar-2007 23:30:00 -0500 */
	a[1].zone = -300;
	a[2].date = 0;			/* now: in +0000, whatever zone says */
	a[2].zone = 60;
	assert_int_equal(store_append_many(s, USER, "INBOX", a, 3, err,
					   sizeof(err)), STORE_OK);
	a[3] = (struct store_append_req){.data = MSG1, .fd = -1,
		.len = sizeof(MSG1) - 1, .date = 1174786200};
	assert_int_equal(store_append(s, USER, "INBOX", &a[3], err,
				      sizeof(err)), STORE_OK);
	view_date(s, "INBOX", 0, 1174779000, 120);
	view_date(s, "INBOX", 1, 1174797000, -300);
	view_date(s, "INBOX", 3, 1174786200, 0);
	assert_int_equal(store_view_open(s, USER, "INBOX", &v, err,
					 sizeof(err)), STORE_OK);
	store_view_msg(v, 2, &m);
	assert_true(m.date >= before);
	assert_int_equal(m.zone, 0);
	for (size_t i = 0; i < 4; i++) {
		/* POP3's UIDL: the base before the first ',' */
		store_view_msg(v, i, &m);
		assert_null(strchr(m.uidl, ','));
		assert_non_null(strstr(m.uidl, ".host.test"));
	}
	store_view_close(&v);
	/* in the names, after W=; none for +0000 */
	assert_int_equal(names_with("", ",Z=+0200:2,S"), 1);
	assert_int_equal(names_with("", ",Z=-0500:2,"), 1);
	assert_int_equal(names_with("", ",Z="), 2);
	/* a copy and a move keep date and zone */
	assert_int_equal(store_folder_create(s, USER, "Other", 0, 100, err,
					     sizeof(err)), STORE_OK);
	assert_int_equal(store_folder_create(s, USER, "Trash", 0, 100, err,
					     sizeof(err)), STORE_OK);
	copy_to(s, both, 2, "Other", false);
	view_date(s, "Other", 0, 1174779000, 120);
	view_date(s, "Other", 1, 1174797000, -300);
	copy_to(s, &first, 1, "Trash", true);
	view_date(s, "Trash", 0, 1174779000, 120);
	assert_int_equal(view_count(s), 3);
	view_date(s, "INBOX", 0, 1174797000, -300);
	/* a restart, then an index rebuilt from the folder alone */
	store_free(&s);
	s = open_store(MBOX_FMT_MAILDIR);
	view_date(s, "Other", 1, 1174797000, -300);
	snprintf(path, sizeof(path),
		 "%s/mail/example.org/alice/.Other/.owlpost-uidlist", root);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path),
		 "%s/mail/example.org/alice/.Other/.owlpost-uidlist.log",
		 root);
	(void)unlink(path);
	store_free(&s);
	s = open_store(MBOX_FMT_MAILDIR);
	view_date(s, "Other", 0, 1174779000, 120);
	view_date(s, "Other", 1, 1174797000, -300);
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
		cmocka_unit_test(test_zone_field),
		cmocka_unit_test_setup_teardown(test_zone_kept, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
