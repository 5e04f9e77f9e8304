/*
 * Unit tests of the Maildir++ folders (store/folder.h) on temp dirs: the
 * names and their limits, the on-disk escaping both ways, the directory of
 * a folder, list (INBOX first, special folders made once with their roles,
 * non-existent parents, subscriptions), create, delete (children stay,
 * crash leftovers swept), rename (children move, what a failure midway
 * leaves), subscriptions, the mbox refusals, and delivery to INBOX beside
 * folders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

#define USER "alice@example.org"
#define MSG "Subject: hi\n\nhello\n"
#define MAX 1000

#define TMPROOT_NAME "folder"
#include "tmproot.h"

static char err[300];

/* ROOT/mail/example.org/alice/REL into out. */
static const char *
at(char *out, size_t size, const char *rel)
{
	snprintf(out, size, "%s/mail/example.org/alice%s%s", root,
		 rel[0] != '\0' ? "/" : "", rel);
	return out;
}

static bool
is_dir(const char *rel)
{
	char path[1200];
	struct stat sb;

	return stat(at(path, sizeof(path), rel), &sb) == 0 &&
	       S_ISDIR(sb.st_mode);
}

static bool
is_file(const char *rel)
{
	char path[1200];
	struct stat sb;

	return stat(at(path, sizeof(path), rel), &sb) == 0 &&
	       S_ISREG(sb.st_mode);
}

static void
write_file(const char *rel, const char *text)
{
	char path[1200];
	FILE *fp = fopen(at(path, sizeof(path), rel), "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
make_dir(const char *rel)
{
	char path[1200];

	assert_int_equal(mkdir(at(path, sizeof(path), rel), 0700), 0);
}

static enum store_res
create(struct store *s, const char *name, unsigned su)
{
	return store_folder_create(s, USER, name, su, MAX, err, sizeof(err));
}

/* The list as "NAME[flags]" joined by spaces: e! exists, c children,
 * s subscribed, then role letters S D T J A L F. */
static void
listing(struct store *s, char *out, size_t size)
{
	static const char letters[] = "SDTJALF";
	struct store_folder *l;
	size_t n, len = 0;

	assert_int_equal(store_folder_list(s, USER, MAX, &l, &n, err,
					   sizeof(err)), STORE_OK);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char flags[16];
		size_t k = 0;

		flags[k++] = l[i].exists ? 'e' : '-';
		if (l[i].children)
			flags[k++] = 'c';
		if (l[i].subscribed)
			flags[k++] = 's';
		for (size_t b = 0; b < 7; b++)
			if (l[i].special_use & 1u << b)
				flags[k++] = letters[b];
		flags[k] = '\0';
		len += (size_t)snprintf(out + len, size - len, "%s%s[%s]",
					i ? " " : "", l[i].name, flags);
	}
	store_folder_list_free(&l, n);
	assert_null(l);
}

#define SPECIALS "Archive[eA] Drafts[eD] Junk[eJ] Sent[eS] Trash[eT]"

static void
check_list(struct store *s, const char *want)
{
	char got[4096];

	listing(s, got, sizeof(got));
	assert_string_equal(got, want);
}

/* A name of n octets of c. */
static const char *
repeat(char *out, char c, size_t n)
{
	memset(out, c, n);
	out[n] = '\0';
	return out;
}

static void
test_names(void **st)
{
	static const char *const good[] = {
		"Sent", "a.b", "A/B/C", "with space", "caf\xc3\xa9",
		"\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x90\xa6", "owlpost-x",
		"owlpost", ".hidden", "a..b", "...", "INBOXES", "x/INBOX",
		"~tilde", "a#b",
	};
	static const char *const bad[] = {
		"", "INBOX", "inbox", "InBoX", "INBOX/x", "inbox/x", "/a",
		"a/", "a//b", "a/./b", "a/../b", ".", "..", "a*", "a%b",
		"tab\there", "nl\n", "del\x7f", "\xc3", "\xc3\x28",
		"\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xff",
	};
	char name[400], deep[400];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(store_folder_name_check(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(store_folder_name_check(bad[i]));
	assert_string_equal(store_folder_name_check("INBOX/x"),
			    "no folders under INBOX: create them at the top "
			    "level");
	assert_true(store_folder_is_inbox("iNbOx"));
	assert_false(store_folder_is_inbox("INBOX/x"));
	/* 16 levels, not 17 */
	deep[0] = '\0';
	for (i = 0; i < 16; i++)
		strcat(deep, i ? "/a" : "a");
	assert_null(store_folder_name_check(deep));
	strcat(deep, "/a");
	assert_string_equal(store_folder_name_check(deep),
			    "folder name has more than 16 levels");
	/* 200 octets on disk with the leading dot, not 201 */
	assert_null(store_folder_name_check(repeat(name, 'a', 199)));
	assert_non_null(store_folder_name_check(repeat(name, 'a', 200)));
	assert_non_null(store_folder_name_check(repeat(name, 'a', 399)));
	/* a '.' takes 3 octets: 66 of them and a letter make 200 */
	repeat(name, '.', 66);
	strcat(name, "a");
	assert_null(store_folder_name_check(name));
	strcat(name, "a");
	assert_string_equal(store_folder_name_check(name),
			    "folder name too long");
	/* "owlpost-" costs 2 more */
	memcpy(name, "owlpost-", 8);
	repeat(name + 8, 'a', 189);
	assert_null(store_folder_name_check(name));
	strcat(name, "a");
	assert_non_null(store_folder_name_check(name));
}

static void
roundtrip(const char *name, const char *want_disk)
{
	char disk[300], back[300];

	assert_int_equal(store_folder_encode(name, disk, sizeof(disk)), 0);
	assert_string_equal(disk, want_disk);
	assert_int_equal(store_folder_decode(disk, back, sizeof(back)), 0);
	assert_string_equal(back, name);
}

static void
test_encoding(void **st)
{
	static const char *const refused[] = {
		"", ".", "..", "cur", "Sent", ".a..b", ".a.", "..a", ".%2e",
		".%41", ".%2", ".%", ".a%2Fb", ".%25", ".%2A", ".INBOX",
		".inbox", ".INBOX.x", ".owlpost-uidlist", ".owlpost-lock",
		".owlpost-new.1", ".owlpost-deleted.1", ".%6Fwlpost",
		".a%00b", ".%2E", ".%2E%2E", ".a\tb",
	};
	char out[300], big[300];

	(void)st;
	roundtrip("Sent", ".Sent");
	roundtrip("A/B/C", ".A.B.C");
	roundtrip("a.b", ".a%2Eb");
	roundtrip("a.b/c.d", ".a%2Eb.c%2Ed");
	roundtrip("...", ".%2E%2E%2E");
	roundtrip(".hidden", ".%2Ehidden");
	roundtrip("with space", ".with space");
	roundtrip("caf\xc3\xa9/x", ".caf\xc3\xa9.x");
	roundtrip("owlpost-uidlist", ".%6Fwlpost-uidlist");
	roundtrip("owlpost-x/owlpost-y", ".%6Fwlpost-x.owlpost-y");
	roundtrip("owlpost", ".owlpost");
	roundtrip("Owlpost-x", ".Owlpost-x");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		errno = 0;
		assert_int_equal(store_folder_decode(refused[i], out,
						     sizeof(out)), -1);
		assert_int_equal(errno, EINVAL);
	}
	/* not valid, INBOX: EINVAL; too small: ENAMETOOLONG */
	assert_int_equal(store_folder_encode("INBOX", out, sizeof(out)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_folder_encode("a*", out, sizeof(out)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_folder_encode("a.b", out, 6), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(store_folder_encode("a.b", out, 7), 0);
	assert_int_equal(store_folder_decode(".a%2Eb", out, 3), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	/* at the disk limit, past it */
	out[0] = '.';
	repeat(out + 1, 'a', 199);
	roundtrip(out + 1, out);
	big[0] = '.';
	repeat(big + 1, 'a', 200);
	assert_int_equal(store_folder_decode(big, out, sizeof(out)), -1);
	/* the roles */
	assert_string_equal(store_folder_special_name(STORE_SU_SENT),
			    "\\Sent");
	assert_string_equal(store_folder_special_name(STORE_SU_FLAGGED),
			    "\\Flagged");
	assert_null(store_folder_special_name(3));
	assert_null(store_folder_special_name(1u << 7));
	assert_int_equal(store_folder_special_parse("\\junk"), STORE_SU_JUNK);
	assert_int_equal(store_folder_special_parse("\\All"), STORE_SU_ALL);
	assert_int_equal(store_folder_special_parse("\\Important"), 0);
	assert_int_equal(store_folder_special_parse("Sent"), 0);
}

static void
test_dir(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	char out[1200], want[1200];

	(void)st;
	assert_int_equal(store_folder_dir(s, USER, "inbox", out, sizeof(out)),
			 0);
	assert_string_equal(out, at(want, sizeof(want), ""));
	assert_int_equal(store_folder_dir(s, USER, "A/b.c", out, sizeof(out)),
			 0);
	assert_string_equal(out, at(want, sizeof(want), ".A.b%2Ec"));
	errno = 0;
	assert_int_equal(store_folder_dir(s, "Alice@x", "INBOX", out,
					  sizeof(out)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_folder_dir(s, USER, "a//b", out, sizeof(out)),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_folder_dir(s, USER, "INBOX/x", out,
					  sizeof(out)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_folder_dir(s, USER, "Sent", out, 10), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	store_free(&s);
	s = open_store(MBOX_FMT_MBOX);
	assert_int_equal(store_folder_dir(s, USER, "INBOX", out, sizeof(out)),
			 0);
	snprintf(want, sizeof(want), "%s/mail/example.org/alice.mbox", root);
	assert_string_equal(out, want);
	assert_int_equal(store_folder_dir(s, USER, "Sent", out, sizeof(out)),
			 -1);
	assert_int_equal(errno, EINVAL);
	store_free(&s);
}

static void
test_list_specials(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	(void)st;
	/* the first list makes the Maildir and the special folders */
	check_list(s, "INBOX[e] " SPECIALS);
	assert_true(is_dir("cur"));
	assert_true(is_dir(".Sent/cur") && is_dir(".Sent/new") &&
		    is_dir(".Sent/tmp"));
	assert_true(is_file(".Sent/maildirfolder"));
	assert_true(is_file(".Sent/.owlpost-special-use"));
	/* roles survive a new store (a restart) */
	store_free(&s);
	s = open_store(MBOX_FMT_MAILDIR);
	check_list(s, "INBOX[e] " SPECIALS);
	/* a deleted one is not made again */
	assert_int_equal(store_folder_delete(s, USER, "Junk", err,
					     sizeof(err)), STORE_OK);
	check_list(s, "INBOX[e] Archive[eA] Drafts[eD] Sent[eS] Trash[eT]");
	store_free(&s);
	/* another user who has "Sent" without a role and a \Trash called
	 * "Bin": Sent gets its role, no Trash is made */
	s = open_store(MBOX_FMT_MAILDIR);
	assert_int_equal(store_folder_create(s, "bob@example.org", "Sent", 0,
					     MAX, err, sizeof(err)),
			 STORE_OK);
	assert_int_equal(store_folder_create(s, "bob@example.org", "Bin",
					     STORE_SU_TRASH, MAX, err,
					     sizeof(err)), STORE_OK);
	{
		struct store_folder *l;
		size_t n;
		const char *want[] = {"INBOX", "Archive", "Bin", "Drafts",
				      "Junk", "Sent"};
		unsigned roles[] = {0, STORE_SU_ARCHIVE, STORE_SU_TRASH,
				    STORE_SU_DRAFTS, STORE_SU_JUNK,
				    STORE_SU_SENT};

		assert_int_equal(store_folder_list(s, "bob@example.org", MAX,
						   &l, &n, err, sizeof(err)),
				 STORE_OK);
		assert_int_equal(n, 6);
		for (size_t i = 0; i < n; i++) {
			assert_string_equal(l[i].name, want[i]);
			assert_int_equal(l[i].special_use, roles[i]);
			assert_true(l[i].exists);
		}
		store_folder_list_free(&l, n);
	}
	store_free(&s);
}

static void
test_create(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	char name[300];

	(void)st;
	/* a user without a Maildir yet: made */
	assert_int_equal(create(s, "Work", 0), STORE_OK);
	assert_true(is_dir("new") && is_dir(".Work/cur"));
	assert_true(is_file(".Work/maildirfolder"));
	assert_false(is_file(".Work/.owlpost-special-use"));
	assert_int_equal(create(s, "Work", 0), STORE_EXISTS);
	assert_string_equal(err, "folder exists");
	assert_int_equal(create(s, "INBOX", 0), STORE_PERM);
	assert_int_equal(create(s, "inbox", 0), STORE_PERM);
	assert_int_equal(create(s, "INBOX/sub", 0), STORE_PERM);
	assert_string_equal(err, "no folders under INBOX: create them at the "
			    "top level");
	assert_int_equal(create(s, "a%b", 0), STORE_PERM);
	assert_int_equal(create(s, "a/", 0), STORE_PERM);
	assert_string_equal(err, "empty level in folder name");
	assert_int_equal(create(s, "Odd", 1u << 7), STORE_PERM);
	/* at and past the name limit */
	assert_int_equal(create(s, repeat(name, 'n', 199), 0), STORE_OK);
	assert_int_equal(create(s, repeat(name, 'n', 200), 0), STORE_PERM);
	assert_string_equal(err, "folder name too long");
	/* a child without its parent; escapes; a role asked for */
	assert_int_equal(create(s, "A/B", 0), STORE_OK);
	assert_int_equal(create(s, "v1.2/x%", 0), STORE_PERM);
	assert_int_equal(create(s, "v1.2", STORE_SU_ALL | STORE_SU_FLAGGED),
			 STORE_OK);
	assert_true(is_dir(".v1%2E2/cur"));
	assert_int_equal(create(s, "owlpost-uidlist", 0), STORE_OK);
	assert_true(is_dir(".%6Fwlpost-uidlist/cur"));
	assert_false(is_dir(".owlpost-uidlist"));
	assert_int_equal(create(s, "caf\xc3\xa9 au lait", 0), STORE_OK);
	/* nothing hidden is left behind */
	{
		char path[1200], cmd[1400];

		snprintf(cmd, sizeof(cmd), "ls -a %s | grep -q owlpost-new",
			 at(path, sizeof(path), ""));
		assert_int_not_equal(system(cmd), 0);
	}
	repeat(name, 'n', 199);
	{
		char want[2048];

		snprintf(want, sizeof(want), "INBOX[e] A[-c] A/B[e] "
			 SPECIALS " Work[e] caf\xc3\xa9 au lait[e] %s[e] "
			 "owlpost-uidlist[e] v1.2[eLF]", name);
		check_list(s, want);
	}
	store_free(&s);
}

static void
test_create_limit(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_folder *l;
	size_t n;

	(void)st;
	check_list(s, "INBOX[e] " SPECIALS); /* 5 folders */
	assert_int_equal(store_folder_create(s, USER, "six", 0, 6, err,
					     sizeof(err)), STORE_OK);
	assert_int_equal(store_folder_create(s, USER, "seven", 0, 6, err,
					     sizeof(err)), STORE_LIMIT);
	assert_string_equal(err, "at most 6 folders (mailbox.max_folders)");
	assert_false(is_dir(".seven"));
	/* a list of more than its max shows max of them */
	assert_int_equal(store_folder_list(s, USER, 3, &l, &n, err,
					   sizeof(err)), STORE_OK);
	assert_int_equal(n, 4);
	assert_string_equal(l[0].name, "INBOX");
	store_folder_list_free(&l, n);
	store_free(&s);
}

static void
test_create_faults(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	static const enum fsop ops[] = {FSOP_MKDIR, FSOP_OPEN, FSOP_FSYNC,
					FSOP_RENAME};

	(void)st;
	check_list(s, "INBOX[e] " SPECIALS);
	/* each failing call: no folder, nothing half-made listed */
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		fsops_inject(ops[i], 1, EIO, false);
		assert_int_equal(create(s, "Half", STORE_SU_ARCHIVE),
				 STORE_TEMP);
		fsops_clear();
		assert_false(is_dir(".Half"));
		check_list(s, "INBOX[e] " SPECIALS);
	}
	fsops_inject(FSOP_WRITE, 1, ENOSPC, false);
	assert_int_equal(create(s, "Half", STORE_SU_ARCHIVE), STORE_NOSPACE);
	fsops_clear();
	assert_int_equal(create(s, "Half", STORE_SU_ARCHIVE), STORE_OK);
	store_free(&s);
}

static void
test_delete(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);

	(void)st;
	assert_int_equal(create(s, "A", 0), STORE_OK);
	assert_int_equal(create(s, "A/B", 0), STORE_OK);
	write_file(".A/cur/1.M1P1Q1.x:2,S", MSG);
	assert_int_equal(store_folder_delete(s, USER, "INBOX", err,
					     sizeof(err)), STORE_PERM);
	assert_string_equal(err, "INBOX cannot be deleted");
	assert_int_equal(store_folder_delete(s, USER, "Nope", err,
					     sizeof(err)), STORE_NOTFOUND);
	assert_int_equal(store_folder_delete(s, USER, "a//b", err,
					     sizeof(err)), STORE_PERM);
	assert_int_equal(store_folder_delete(s, USER, "A", err, sizeof(err)),
			 STORE_OK);
	assert_false(is_dir(".A"));
	assert_true(is_dir(".A.B/cur"));
	check_list(s, "INBOX[e] A[-c] A/B[e] " SPECIALS);
	/* A does not exist now, though A/B does */
	assert_int_equal(store_folder_delete(s, USER, "A", err, sizeof(err)),
			 STORE_NOTFOUND);
	/* what a crash after the first rename left is swept, not listed */
	make_dir(".owlpost-deleted.123");
	make_dir(".owlpost-deleted.123/cur");
	write_file(".owlpost-deleted.123/cur/x", MSG);
	/* a create in progress is left alone; a stale one is swept */
	make_dir(".owlpost-new.1");
	make_dir(".owlpost-new.2");
	{
		char path[1200], cmd[1400];

		snprintf(cmd, sizeof(cmd), "touch -d '2 hours ago' %s",
			 at(path, sizeof(path), ".owlpost-new.2"));
		assert_int_equal(system(cmd), 0);
	}
	check_list(s, "INBOX[e] A[-c] A/B[e] " SPECIALS);
	assert_false(is_dir(".owlpost-deleted.123"));
	assert_true(is_dir(".owlpost-new.1"));
	assert_false(is_dir(".owlpost-new.2"));
	/* a failed removal after the rename: gone all the same, swept next */
	make_dir(".Gone");
	make_dir(".Gone/cur");
	assert_int_equal(store_folder_delete(s, USER, "A/B", err, sizeof(err)),
			 STORE_OK);
	fsops_inject(FSOP_RENAME, 1, EIO, false);
	assert_int_equal(store_folder_delete(s, USER, "Gone", err,
					     sizeof(err)), STORE_TEMP);
	assert_true(is_dir(".Gone"));
	check_list(s, "INBOX[e] Archive[eA] Drafts[eD] Gone[e] Junk[eJ] "
		   "Sent[eS] Trash[eT]");
	store_free(&s);
}

static void
test_rename(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	char deep[400];

	(void)st;
	assert_int_equal(create(s, "A", STORE_SU_ARCHIVE), STORE_OK);
	assert_int_equal(create(s, "A/x", 0), STORE_OK);
	assert_int_equal(create(s, "A/x/y", 0), STORE_OK);
	assert_int_equal(create(s, "A.z", 0), STORE_OK); /* not a child */
	assert_int_equal(create(s, "AB", 0), STORE_OK); /* nor this */
	write_file(".A/cur/1.M1P1Q1.x:2,S", MSG);
	write_file(".A.x.y/new/2.M1P1Q1.x", MSG);
	assert_int_equal(store_folder_rename(s, USER, "INBOX", "Old", err,
					     sizeof(err)), STORE_PERM);
	assert_string_equal(err, "renaming INBOX is done by moving its "
			    "messages");
	assert_int_equal(store_folder_rename(s, USER, "A", "inbox", err,
					     sizeof(err)), STORE_EXISTS);
	assert_int_equal(store_folder_rename(s, USER, "Nope", "C", err,
					     sizeof(err)), STORE_NOTFOUND);
	assert_int_equal(store_folder_rename(s, USER, "A", "AB", err,
					     sizeof(err)), STORE_EXISTS);
	assert_int_equal(store_folder_rename(s, USER, "A", "A/x/q", err,
					     sizeof(err)), STORE_PERM);
	assert_string_equal(err, "cannot rename a folder below itself");
	assert_int_equal(store_folder_rename(s, USER, "A", "A", err,
					     sizeof(err)), STORE_EXISTS);
	assert_int_equal(store_folder_rename(s, USER, "A/x", "A", err,
					     sizeof(err)), STORE_EXISTS);
	assert_int_equal(store_folder_rename(s, USER, "A", "a/", err,
					     sizeof(err)), STORE_PERM);
	/* a child would become 17 levels deep: nothing moves */
	deep[0] = '\0';
	for (size_t i = 0; i < 15; i++)
		strcat(deep, i ? "/d" : "d");
	assert_int_equal(store_folder_rename(s, USER, "A", deep, err,
					     sizeof(err)), STORE_PERM);
	assert_string_equal(err, "A/x/y: would not be a valid name");
	assert_true(is_dir(".A") && is_dir(".A.x.y"));
	/* a child's new name taken: nothing moves */
	assert_int_equal(create(s, "C/x", 0), STORE_OK);
	assert_int_equal(store_folder_rename(s, USER, "A", "C", err,
					     sizeof(err)), STORE_EXISTS);
	assert_true(is_dir(".A") && is_dir(".A.x"));
	assert_int_equal(store_folder_delete(s, USER, "C/x", err,
					     sizeof(err)), STORE_OK);
	/* the folder and its children, with mail and role */
	assert_int_equal(store_folder_rename(s, USER, "A", "C", err,
					     sizeof(err)), STORE_OK);
	assert_true(is_file(".C/cur/1.M1P1Q1.x:2,S"));
	assert_true(is_file(".C.x.y/new/2.M1P1Q1.x"));
	/* (A had \Archive: no Archive was made) */
	check_list(s, "INBOX[e] A.z[e] AB[e] C[ecA] C/x[ec] C/x/y[e] "
		   "Drafts[eD] Junk[eJ] Sent[eS] Trash[eT]");
	/* a child to the top, and back under a new parent name */
	assert_int_equal(store_folder_rename(s, USER, "C/x", "X", err,
					     sizeof(err)), STORE_OK);
	assert_int_equal(store_folder_rename(s, USER, "X", "New/X", err,
					     sizeof(err)), STORE_OK);
	check_list(s, "INBOX[e] A.z[e] AB[e] C[eA] Drafts[eD] Junk[eJ] "
		   "New[-c] New/X[ec] New/X/y[e] Sent[eS] Trash[eT]");
	/* to a parent nobody made: its children would look like ours */
	assert_int_equal(store_folder_rename(s, USER, "New/X", "New", err,
					     sizeof(err)), STORE_PERM);
	assert_string_equal(err, "cannot rename a folder to one above it");
	store_free(&s);
}

static void
test_rename_midway(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);

	(void)st;
	assert_int_equal(create(s, "A", 0), STORE_OK);
	assert_int_equal(create(s, "A/x", 0), STORE_OK);
	write_file(".A.x/cur/1.M1P1Q1.x:2,S", MSG);
	/* the folder renamed, the child's rename fails: both listed, the
	 * message in a folder */
	fsops_inject(FSOP_RENAME, 2, EIO, false);
	assert_int_equal(store_folder_rename(s, USER, "A", "C", err,
					     sizeof(err)), STORE_TEMP);
	fsops_clear();
	assert_non_null(strstr(err, "renamed in part"));
	check_list(s, "INBOX[e] A[-c] A/x[e] Archive[eA] C[e] Drafts[eD] "
		   "Junk[eJ] Sent[eS] Trash[eT]");
	assert_true(is_file(".A.x/cur/1.M1P1Q1.x:2,S"));
	/* the first rename failing: nothing moved */
	fsops_inject(FSOP_RENAME, 1, EIO, false);
	assert_int_equal(store_folder_rename(s, USER, "C", "D", err,
					     sizeof(err)), STORE_TEMP);
	fsops_clear();
	assert_true(is_dir(".C"));
	store_free(&s);
}

static void
test_subscriptions(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	char path[1200], text[400];
	FILE *fp;
	size_t n;

	(void)st;
	assert_int_equal(create(s, "A", 0), STORE_OK);
	assert_int_equal(store_folder_subscribe(s, USER, "A", true, MAX, err,
						sizeof(err)), STORE_OK);
	assert_int_equal(store_folder_subscribe(s, USER, "inbox", true, MAX,
						err, sizeof(err)), STORE_OK);
	/* not existing: fine (RFC 9051) */
	assert_int_equal(store_folder_subscribe(s, USER, "Gone/x", true, MAX,
						err, sizeof(err)), STORE_OK);
	assert_int_equal(store_folder_subscribe(s, USER, "A", true, MAX, err,
						sizeof(err)), STORE_OK);
	assert_int_equal(store_folder_subscribe(s, USER, "a*", true, MAX, err,
						sizeof(err)), STORE_PERM);
	fp = fopen(at(path, sizeof(path), "subscriptions"), "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_string_equal(text, "A\nGone/x\nINBOX\n");
	check_list(s, "INBOX[es] A[es] Archive[eA] Drafts[eD] Gone/x[-s] "
		   "Junk[eJ] Sent[eS] Trash[eT]");
	/* the limit */
	assert_int_equal(store_folder_subscribe(s, USER, "More", true, 3, err,
						sizeof(err)), STORE_LIMIT);
	assert_string_equal(err, "at most 3 subscriptions "
			    "(mailbox.max_folders)");
	/* off, twice; a failed write leaves the file as it was */
	fsops_inject(FSOP_RENAME, 1, EIO, false);
	assert_int_equal(store_folder_subscribe(s, USER, "Gone/x", false, MAX,
						err, sizeof(err)), STORE_TEMP);
	fsops_clear();
	check_list(s, "INBOX[es] A[es] Archive[eA] Drafts[eD] Gone/x[-s] "
		   "Junk[eJ] Sent[eS] Trash[eT]");
	assert_int_equal(store_folder_subscribe(s, USER, "Gone/x", false, MAX,
						err, sizeof(err)), STORE_OK);
	assert_int_equal(store_folder_subscribe(s, USER, "Gone/x", false, MAX,
						err, sizeof(err)), STORE_OK);
	/* lines a person wrote: bad ones ignored */
	write_file("subscriptions", "A\n\n*bad*\nINBOX/x\nTrash\n");
	check_list(s, "INBOX[e] A[es] Archive[eA] Drafts[eD] Junk[eJ] "
		   "Sent[eS] Trash[esT]");
	store_free(&s);
}

#define THREADS 4
#define EACH 25

struct subscriber {
	struct store *s;
	int id;
	int fails;
};

static void *
subscribe_many(void *arg)
{
	struct subscriber *w = arg;
	char name[32], e[300];

	for (int i = 0; i < EACH; i++) {
		snprintf(name, sizeof(name), "t%d/n%d", w->id, i);
		if (store_folder_subscribe(w->s, USER, name, true, MAX, e,
					   sizeof(e)) != STORE_OK)
			w->fails++;
	}
	return NULL;
}

/* Sessions subscribing at once (worker threads): none is lost. */
static void
test_subscribe_threads(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct subscriber w[THREADS];
	pthread_t t[THREADS];
	struct store_folder *l;
	size_t n, subscribed = 0;

	(void)st;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct subscriber){.s = s, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, subscribe_many,
						&w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].fails, 0);
	}
	assert_int_equal(store_folder_list(s, USER, MAX, &l, &n, err,
					   sizeof(err)), STORE_OK);
	for (size_t i = 0; i < n; i++)
		subscribed += l[i].subscribed;
	assert_int_equal(subscribed, THREADS * EACH);
	store_folder_list_free(&l, n);
	store_free(&s);
}

static void *
list_once(void *arg)
{
	struct subscriber *w = arg;
	struct store_folder *l;
	size_t n;
	char e[300];

	if (store_folder_list(w->s, USER, MAX, &l, &n, e, sizeof(e)) !=
	    STORE_OK)
		w->fails++;
	else
		store_folder_list_free(&l, n);
	return NULL;
}

/* First lists at once (sessions racing): the special folders once each;
 * and again after the mark is lost: nothing changes. */
static void
test_list_race(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct subscriber w[THREADS];
	pthread_t t[THREADS];
	char path[1200];

	(void)st;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct subscriber){.s = s, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, list_once, &w[i]),
				 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].fails, 0);
	}
	check_list(s, "INBOX[e] " SPECIALS);
	assert_int_equal(unlink(at(path, sizeof(path), ".owlpost-folders")),
			 0);
	check_list(s, "INBOX[e] " SPECIALS);
	assert_true(is_file(".owlpost-folders"));
	store_free(&s);
}

static void
test_mbox(void **st)
{
	struct store *s = open_store(MBOX_FMT_MBOX);
	struct store_folder *l;
	size_t n;

	(void)st;
	assert_int_equal(create(s, "Sent", 0), STORE_PERM);
	assert_string_equal(err, "folders need mailbox.format = maildir");
	assert_int_equal(store_folder_delete(s, USER, "Sent", err,
					     sizeof(err)), STORE_PERM);
	assert_string_equal(err, "folders need mailbox.format = maildir");
	assert_int_equal(store_folder_rename(s, USER, "A", "B", err,
					     sizeof(err)), STORE_PERM);
	assert_string_equal(err, "folders need mailbox.format = maildir");
	assert_int_equal(store_folder_subscribe(s, USER, "A", true, MAX, err,
						sizeof(err)), STORE_PERM);
	assert_int_equal(store_folder_subscribe(s, USER, "INBOX", true, MAX,
						err, sizeof(err)), STORE_OK);
	assert_int_equal(store_folder_list(s, USER, MAX, &l, &n, err,
					   sizeof(err)), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].name, "INBOX");
	assert_true(l[0].exists && l[0].subscribed);
	store_folder_list_free(&l, n);
	assert_int_equal(store_folder_list(s, "NOT VALID", MAX, &l, &n, err,
					   sizeof(err)), STORE_PERM);
	store_free(&s);
}

static void
test_deliver_beside_folders(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	const char *users[] = {USER};
	struct store_delivery d = {.sender = "", .users = users, .nusers = 1,
				   .data = MSG, .fd = -1,
				   .len = sizeof(MSG) - 1, .when = 1700000000};
	struct store_delivery *batch[] = {&d};
	struct store_view *v;
	struct store_view_info info;

	(void)st;
	check_list(s, "INBOX[e] " SPECIALS);
	assert_int_equal(create(s, "A/B", 0), STORE_OK);
	assert_int_equal(store_folder_subscribe(s, USER, "A", true, MAX, err,
						sizeof(err)), STORE_OK);
	store_deliver(s, batch, 1);
	assert_int_equal(d.res, STORE_OK);
	assert_int_equal(store_view_open(s, USER, "INBOX", &v, err,
					 sizeof(err)), STORE_OK);
	store_view_info(v, &info);
	assert_int_equal(info.count, 1);
	store_view_close(&v);
	check_list(s, "INBOX[e] A[-cs] A/B[e] " SPECIALS);
	store_free(&s);
}

/* The key owld passes as max_folders: default, range. */
static void
test_conf_key(void **st)
{
	struct conf c;

	(void)st;
	conf_init(&c);
	assert_int_equal(c.mailbox_max_folders, 1000);
	assert_int_equal(conf_set(&c, "mailbox.max_folders", "0", err,
				  sizeof(err)), -1);
	assert_non_null(strstr(err, "mailbox.max_folders"));
	assert_int_equal(conf_set(&c, "mailbox.max_folders", "100001", err,
				  sizeof(err)), -1);
	assert_int_equal(conf_set(&c, "mailbox.max_folders", "100000", err,
				  sizeof(err)), 0);
	assert_int_equal(c.mailbox_max_folders, 100000);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_conf_key),
		cmocka_unit_test_setup_teardown(test_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_specials, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_faults, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_midway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_subscriptions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_threads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_race, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_beside_folders,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
