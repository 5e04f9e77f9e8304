/*
 * Unit tests of auth/table, auth/users parsing and auth/aliases: what a
 * file parses to, what makes it refused, the last good copy across failed
 * re-reads, atomic edits, and alias expansion (loops, depth, duplicates).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/aliases.h"
#include "auth/users.h"
#include "lib/buf.h"

static char dir[64], path[128];

static int
setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/owl-auth-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/file", dir);
	return 0;
}

static int
teardown(void **st)
{
	char cmd[128];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to path with a new mtime, as an editor would. */
static void
put(const char *text, size_t len)
{
	static long tick;
	struct timespec ts[2] = {{.tv_sec = 1000000 + ++tick},
				 {.tv_sec = 1000000 + tick}};
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

#define PUT(s) put((s), sizeof(s) - 1)

static void
test_users_parse_good_and_skipped(void **st)
{
	static const char f[] =
		"# users\r\n"
		"\n"
		"bob@example.org:{CRYPT}$y$b\r\n"
		"  alice@example.org:{CRYPT}$y$a  \n"
		"Bad Name@example.org:x\n"
		"no colon\n"
		"alice@example.org:second\n"
		"carol@example.org:\n"
		"dave@example.org:x";	/* no final LF */
	struct table_report rep;
	struct table_entry *v;
	size_t n;

	(void)st;
	assert_int_equal(users_parse(f, sizeof(f) - 1, &v, &n, &rep), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].key, "alice@example.org");
	assert_string_equal(v[0].value, "{CRYPT}$y$a");
	assert_int_equal(v[0].line, 4);
	assert_string_equal(v[1].key, "bob@example.org");
	assert_string_equal(v[2].value, "");
	assert_string_equal(v[3].key, "dave@example.org");
	assert_int_equal(rep.lines, 9);
	assert_int_equal(rep.good, 4);
	assert_int_equal(rep.bad, 3);
	assert_null(rep.refused);
	assert_int_equal(rep.skipped_line[0], 5);
	assert_non_null(strstr(rep.skipped_why[0], "invalid user name"));
	assert_int_equal(rep.skipped_line[1], 6);
	assert_non_null(strstr(rep.skipped_why[1], "no ':'"));
	assert_int_equal(rep.skipped_line[2], 7);
	assert_non_null(strstr(rep.skipped_why[2], "duplicate"));
	table_entries_free(v, n);
}

static void
refused(const char *data, size_t len, const char *why)
{
	struct table_report rep;
	struct table_entry *v = (void *)1;
	size_t n = 1;

	assert_int_equal(users_parse(data, len, &v, &n, &rep), -1);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_non_null(rep.refused);
	assert_non_null(strstr(rep.refused, why));
}

static void
test_users_parse_refused(void **st)
{
	static const char nul[] = "alice@example.org:x\n\0\0\0";
	static const char none[] = "hello world\nfoo: bar\n";
	static const char more_bad[] = "a@b.c:x\nX:y\nZ:z\n";

	(void)st;
	refused("", 0, "empty file");
	refused(nul, sizeof(nul) - 1, "NUL byte");
	refused(none, sizeof(none) - 1, "no valid line");
	refused(more_bad, sizeof(more_bad) - 1, "more bad lines");
}

static void
test_users_parse_comment_only_is_empty(void **st)
{
	static const char f[] = "# nobody\n\n   \n";
	struct table_report rep;
	struct table_entry *v;
	size_t n;

	(void)st;
	assert_int_equal(users_parse(f, sizeof(f) - 1, &v, &n, &rep), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rep.bad, 0);
	table_entries_free(v, n);
}

static void
test_long_line_is_bad(void **st)
{
	struct buf *b = buf_new(3 * TABLE_LINE_MAX);
	struct table_report rep;
	struct table_entry *v;
	size_t n;

	(void)st;
	buf_addstr(b, "a@b.c:x\nd@b.c:x\ne@b.c:");
	for (size_t i = 0; i < TABLE_LINE_MAX; i++)
		buf_addc(b, 'h');
	buf_addstr(b, "\n");
	assert_int_equal(users_parse(b->data, b->len, &v, &n, &rep), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rep.skipped_line[0], 3);
	assert_string_equal(rep.skipped_why[0], "line too long");
	table_entries_free(v, n);
	buf_free(&b);
}

static void
test_many_bad_lines_reported_bounded(void **st)
{
	struct buf *b = buf_new(1 << 20);
	struct table_report rep;
	struct table_entry *v;
	size_t n;

	(void)st;
	for (int i = 0; i < 100; i++)
		buf_printf(b, "u%d@b.c:x\n", i);
	for (int i = 0; i < 50; i++)
		buf_printf(b, "Bad%d:x\n", i);
	assert_int_equal(users_parse(b->data, b->len, &v, &n, &rep), 0);
	assert_int_equal(n, 100);
	assert_int_equal(rep.bad, 50);
	assert_int_equal(rep.skipped_line[TABLE_REPORT_MAX - 1],
			 100 + TABLE_REPORT_MAX);
	table_entries_free(v, n);
	buf_free(&b);
}

static void
test_users_last_good_copy(void **st)
{
	struct users *u = users_new(path);
	const char *e;

	(void)st;
	/* required file missing at start: no good copy */
	assert_int_equal(users_refresh(u, &e), -1);
	assert_non_null(strstr(e, "No such file"));
	assert_false(users_ready(u));
	PUT("alice@example.org:x\nbob@example.org:y\n");
	assert_int_equal(users_refresh(u, &e), 0);
	assert_true(users_ready(u));
	assert_int_equal(users_count(u), 2);
	/* each kind of broken file keeps the good copy */
	PUT("");
	assert_int_equal(users_refresh(u, &e), 0);
	assert_string_equal(users_lookup(u, "bob@example.org"), "y");
	PUT("\x7f" "ELF\0\0\0");
	assert_int_equal(users_refresh(u, &e), 0);
	assert_int_equal(users_refresh(u, &e), 0); /* unchanged: no re-read */
	assert_int_equal(users_count(u), 2);
	unlink(path);
	assert_int_equal(users_refresh(u, &e), 0);
	assert_non_null(users_lookup(u, "alice@example.org"));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(users_refresh(u, &e), 0);
	assert_non_null(strstr(e, "Is a directory"));
	assert_int_equal(rmdir(path), 0);
	/* over TABLE_FILE_MAX (sparse: nothing is read) */
	PUT("x");
	assert_int_equal(truncate(path, (off_t)TABLE_FILE_MAX + 1), 0);
	assert_int_equal(users_refresh(u, &e), 0);
	assert_non_null(strstr(e, "File too large"));
	assert_int_equal(users_count(u), 2);
	/* a good file again replaces it */
	PUT("carol@example.org:z\n# only carol\n");
	assert_int_equal(users_refresh(u, &e), 0);
	assert_int_equal(users_count(u), 1);
	assert_null(users_lookup(u, "alice@example.org"));
	assert_string_equal(users_name(u, 0), "carol@example.org");
	users_free(&u);
}

static void
test_file_edit_never_leaves_empty(void **st)
{
	char err[256], *data;
	size_t len;

	(void)st;
	assert_int_equal(table_file_edit(path, TABLE_ADD, "a@b.c", "x", err,
					 sizeof(err)), TABLE_R_OK);
	assert_int_equal(table_file_edit(path, TABLE_ADD, "a@b.c", "x", err,
					 sizeof(err)), TABLE_R_EXISTS);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(table_file_edit(path, TABLE_SET, "a@b.c", "y", err,
					 sizeof(err)), TABLE_R_OK);
	assert_int_equal(table_read_file(path, &data, &len), 0);
	assert_string_equal(data, "a@b.c:y\n");
	free(data);
	assert_int_equal(table_file_edit(path, TABLE_DEL, "a@b.c", "", err,
					 sizeof(err)), TABLE_R_OK);
	assert_int_equal(table_read_file(path, &data, &len), 0);
	assert_true(len > 0 && data[0] == '#');
	free(data);
	assert_int_equal(table_file_edit(path, TABLE_DEL, "a@b.c", "", err,
					 sizeof(err)), TABLE_R_NOTFOUND);
	assert_int_equal(table_file_edit(path, TABLE_SET, "x@b.c", "", err,
					 sizeof(err)), TABLE_R_NOTFOUND);
	/* users_file_edit keeps its messages */
	assert_int_equal(users_file_edit(path, USERS_DEL, "a@b.c", "", err,
					 sizeof(err)), -1);
	assert_string_equal(err, "no such user: a@b.c");
	assert_int_equal(users_file_edit(path, USERS_ADD, "a@b.c", "h", err,
					 sizeof(err)), 0);
	assert_int_equal(users_file_edit(path, USERS_ADD, "a@b.c", "h", err,
					 sizeof(err)), -1);
	assert_string_equal(err, "user a@b.c already exists");
}

static void
check_ok(const char *name, const char *targets, const char *cname,
	 const char *ctargets)
{
	char n[256], t[1024];

	snprintf(n, sizeof(n), "%s", name);
	snprintf(t, sizeof(t), "%s", targets);
	assert_null(aliases_check(n, t));
	assert_string_equal(n, cname);
	assert_string_equal(t, ctargets);
}

static void
check_bad(const char *name, const char *targets)
{
	char n[256], t[1024];

	snprintf(n, sizeof(n), "%s", name);
	snprintf(t, sizeof(t), "%s", targets);
	assert_non_null(aliases_check(n, t));
}

static void
test_aliases_check(void **st)
{
	(void)st;
	check_ok("PostMaster", "alice@Example.ORG", "postmaster",
		 "alice@example.org");
	check_ok("team@Example.org", " a@x.org ,b@y.org,\tC@Z.org ",
		 "team@example.org", "a@x.org,b@y.org,C@z.org");
	check_bad("", "a@x.org");
	check_bad("bad name", "a@x.org");
	check_bad(".x", "a@x.org");
	check_bad("x@bad_domain!", "a@x.org");
	check_bad("x", "");
	check_bad("x", "a@x.org,");
	check_bad("x", "a@x.org,,b@y.org");
	check_bad("x", "no-at-sign");
	check_bad("x", "\"quoted\"@x.org");
	check_bad("x", "a@[127.0.0.1]");
}

/* Hooks: local domain example.org; users alice, bob. */
static bool
fake_local(void *arg, const char *domain)
{
	(void)arg;
	return strcmp(domain, "example.org") == 0;
}

static bool
fake_user(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "alice@example.org") == 0 ||
	       strcmp(name, "bob@example.org") == 0;
}

static struct aliases_hooks H = {
	.is_local = fake_local, .is_user = fake_user, .max_depth = 3,
	.max_targets = 10,
};

static struct aliases *
load_aliases(const char *text)
{
	struct aliases *a;
	const char *e;

	put(text, strlen(text));
	a = aliases_new(path);
	assert_int_equal(aliases_refresh(a, &e), 0);
	return a;
}

static enum aliases_res
expand(struct aliases *a, const char *name, struct aliases_exp *x)
{
	const char *e = NULL;

	return aliases_expand(a, &H, name, x, &e);
}

static void
test_aliases_expand(void **st)
{
	struct aliases *a = load_aliases(
		"team@example.org: alice@example.org, bob@example.org, "
		"Carol@remote.test, alice@example.org\n"
		"postmaster: team@example.org\n"
		"alice@example.org: alice@example.org, a2@remote.test\n"
		"loop1@example.org: loop2@example.org\n"
		"loop2@example.org: loop1@example.org, bob@example.org\n"
		"x@example.org: y@example.org\n"
		"y@example.org: x@example.org\n"
		"d1@example.org: d2@example.org\n"
		"d2@example.org: d3@example.org\n"
		"d3@example.org: d4@example.org\n"
		"d4@example.org: bob@example.org\n"
		"big@example.org: 1@r.test, 2@r.test, 3@r.test, 4@r.test, "
		"5@r.test, 6@r.test, 7@r.test, 8@r.test, 9@r.test, "
		"10@r.test, 11@r.test\n"
		"ghost@example.org: nobody@example.org, bob@example.org\n");
	struct aliases_exp x = {0};

	(void)st;
	/* a user; nobody */
	assert_int_equal(expand(a, "bob@example.org", &x), ALIASES_OK);
	assert_int_equal(x.nlocal, 1);
	aliases_exp_free(&x);
	assert_int_equal(expand(a, "nobody@example.org", &x), ALIASES_UNKNOWN);
	aliases_exp_free(&x);
	/* bare postmaster -> team -> users and outside, each once; alice's
	 * own alias keeps her copy and adds a forward */
	assert_int_equal(expand(a, "postmaster@example.org", &x), ALIASES_OK);
	assert_int_equal(x.nlocal, 2);
	assert_string_equal(x.local[0], "alice@example.org");
	assert_string_equal(x.local[1], "bob@example.org");
	assert_int_equal(x.nremote, 2);
	assert_string_equal(x.remote[0], "a2@remote.test");
	assert_string_equal(x.remote[1], "Carol@remote.test");
	/* the same again into the same set: nothing new */
	assert_int_equal(expand(a, "team@example.org", &x), ALIASES_OK);
	assert_int_equal(x.nlocal + x.nremote, 4);
	aliases_exp_free(&x);
	/* a loop that has a user, one that has none */
	assert_int_equal(expand(a, "loop1@example.org", &x), ALIASES_OK);
	assert_int_equal(x.nlocal, 1);
	aliases_exp_free(&x);
	assert_int_equal(expand(a, "x@example.org", &x), ALIASES_TEMP);
	aliases_exp_free(&x);
	/* too deep (max_depth 3), too many (max_targets 10) */
	assert_int_equal(expand(a, "d1@example.org", &x), ALIASES_TEMP);
	aliases_exp_free(&x);
	H.max_depth = 4;
	assert_int_equal(expand(a, "d1@example.org", &x), ALIASES_OK);
	aliases_exp_free(&x);
	H.max_depth = 3;
	assert_int_equal(expand(a, "big@example.org", &x), ALIASES_TEMP);
	aliases_exp_free(&x);
	/* an unknown target is dropped and counted */
	assert_int_equal(expand(a, "ghost@example.org", &x), ALIASES_OK);
	assert_int_equal(x.dropped, 1);
	assert_string_equal(x.last_dropped, "nobody@example.org");
	assert_int_equal(x.nlocal, 1);
	aliases_exp_free(&x);
	/* no table: users only */
	assert_int_equal(aliases_expand(NULL, &H, "team@example.org", &x,
					&(const char *){NULL}),
			 ALIASES_UNKNOWN);
	aliases_exp_free(&x);
	aliases_free(&a);
}

static void
test_aliases_optional_file(void **st)
{
	struct aliases *a = aliases_new(path);
	const char *e;

	(void)st;
	/* no file at all: an empty table, not an outage */
	assert_int_equal(aliases_refresh(a, &e), 0);
	assert_true(aliases_ready(a));
	assert_int_equal(aliases_count(a), 0);
	PUT("team: bob@example.org\n");
	assert_int_equal(aliases_refresh(a, &e), 0);
	assert_int_equal(aliases_count(a), 1);
	unlink(path);
	assert_int_equal(aliases_refresh(a, &e), 0);
	assert_int_equal(aliases_count(a), 1); /* the last good copy */
	assert_string_equal(aliases_at(a, 0)->key, "team");
	aliases_free(&a);
	/* a broken file at start: no good copy */
	PUT("garbage\n");
	a = aliases_new(path);
	assert_int_equal(aliases_refresh(a, &e), -1);
	assert_false(aliases_ready(a));
	aliases_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_users_parse_good_and_skipped),
		cmocka_unit_test(test_users_parse_refused),
		cmocka_unit_test(test_users_parse_comment_only_is_empty),
		cmocka_unit_test(test_long_line_is_bad),
		cmocka_unit_test(test_many_bad_lines_reported_bounded),
		cmocka_unit_test_setup_teardown(test_users_last_good_copy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_file_edit_never_leaves_empty, setup, teardown),
		cmocka_unit_test(test_aliases_check),
		cmocka_unit_test_setup_teardown(test_aliases_expand, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_aliases_optional_file,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
