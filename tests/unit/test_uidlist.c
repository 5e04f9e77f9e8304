/*
 * Unit tests of the Maildir UID index: the parser and formatter on memory
 * buffers (round trips, every kind of corrupt input), the sync of an index
 * with a listing of cur/, and the file on a temp dir through the store
 * (written at open, kept across opens, rebuilt with a new UIDVALIDITY when
 * lost or corrupt, never written half: injected faults), and the
 * maildrop lock (in-process, and fcntl against another process).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "store/fsops.h"
#include "store/store.h"
#include "store/uidlist.h"

#define TMPROOT_NAME "uidlist"
#include "tmproot.h"

static int
parse(struct uidlist *ul, const char *text)
{
	char err[128];

	return uidlist_parse(ul, text, strlen(text), err, sizeof(err));
}

/* text parses, and formats back to exactly text. */
static void
round_trip(const char *text)
{
	struct uidlist ul;
	struct buf *out = buf_new(1 << 16);

	assert_int_equal(parse(&ul, text), 0);
	assert_int_equal(uidlist_format(&ul, out), 0);
	assert_string_equal(out->data, text);
	uidlist_free(&ul);
	buf_free(&out);
}

static void
test_parse_format(void **st)
{
	struct uidlist ul;

	(void)st;
	round_trip("owlpost-uidlist 1 V1700000000 N1 M1 R1\n");
	round_trip("owlpost-uidlist 1 V7 N10 M20 R4\n"
		   "1 3 - :1.M1P1Q1.h\n"
		   "4 20 DFPRST +$Forwarded +Junk :4.M4P1Q1.h,S=10,W=12\n"
		   "9 5 S :with space\\\\and\\nnewline\n");
	assert_int_equal(parse(&ul, "owlpost-uidlist 1 V7 N10 M20\n"
				    "2 3 SR +a :b\n"), -1); /* order */
	assert_int_equal(parse(&ul, "owlpost-uidlist 1 V7 N3 M20\n"
				    "2 3 RS +k1 +k2 :x y\n"), 0);
	assert_int_equal(ul.n, 1);
	assert_int_equal(ul.recs[0].uid, 2);
	assert_int_equal(ul.recs[0].modseq, 3);
	assert_int_equal(ul.recs[0].flags, UF_ANSWERED | UF_SEEN);
	assert_string_equal(ul.recs[0].keywords, "k1 k2");
	assert_string_equal(ul.recs[0].base, "x y");
	uidlist_free(&ul);
	/* an index from before \Recent was kept: nothing is recent */
	assert_int_equal(parse(&ul, "owlpost-uidlist 1 V7 N10 M20\n"), 0);
	assert_int_equal(ul.recent, 10);
	uidlist_free(&ul);
	/* where the files are: "n", in new/; W, new/'s stamp, after C */
	round_trip("owlpost-uidlist 1 V7 N10 M20 R4 C1700000000.5.7 "
		   "W1700000001.6.8\n"
		   "1 3 n :1.M1P1Q1.h,S=5,W=6\n"
		   "2 4 Sn +kw :2.M2P1Q1.h\n"
		   "3 5 S :3.M3P1Q1.h\n");
	assert_int_equal(parse(&ul, "owlpost-uidlist 1 V7 N10 M20 R4 "
				    "C1700000000.5.7 W1700000001.6.8\n"
				    "1 3 n :a\n2 4 Sn :b\n3 5 - :c\n"), 0);
	assert_true(ul.recs[0].innew);
	assert_int_equal(ul.recs[0].flags, 0);
	assert_true(ul.recs[1].innew);
	assert_int_equal(ul.recs[1].flags, UF_SEEN);
	assert_false(ul.recs[2].innew);
	assert_int_equal(ul.newdir.sec, 1700000001);
	assert_int_equal(ul.newdir.nsec, 6);
	assert_int_equal(ul.newdir.ino, 8);
	uidlist_free(&ul);
	/* the largest values */
	round_trip("owlpost-uidlist 1 V4294967295 N4294967295 "
		   "M9223372036854775807 R4294967295\n"
		   "4294967294 9223372036854775807 - :z\n");
}

static void
test_parse_corrupt(void **st)
{
	static const char *bad[] = {
		"",
		"owlpost-uidlist 1 V7 N10 M20",		/* cut: no LF */
		"owlpost-uidlist 2 V7 N10 M20\n",	/* version */
		"owlpost-uidlist 1 V0 N10 M20\n",	/* UIDVALIDITY 0 */
		"owlpost-uidlist 1 V7 N0 M20\n",
		"owlpost-uidlist 1 V7 N10 M0\n",
		"owlpost-uidlist 1 V07 N10 M20\n",	/* leading zero */
		"owlpost-uidlist 1 V4294967296 N10 M20\n", /* > 32 bits */
		"owlpost-uidlist 1 V7 N10 M9223372036854775808\n",
		"owlpost-uidlist 1 V7 N10 M20 \n",	/* trailing space */
		"owlpost-uidlist 1 V7 N10\n",
		"owlpost-uidlist 1 V7 N10 M20 R0\n",	/* R 0 */
		"owlpost-uidlist 1 V7 N10 M20 R11\n",	/* R > UIDNEXT */
		"owlpost-uidlist 1 V7 N10 M20 R\n",
		"owlpost-uidlist 1 V7 N10 M20 R5 \n",
		"dovecot-uidlist 1 V7 N10 M20\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :a\n1 4 - :b\n",
		"owlpost-uidlist 1 V7 N10 M20\n10 3 - :a\n", /* >= UIDNEXT */
		"owlpost-uidlist 1 V7 N10 M20\n0 3 - :a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 21 - :a\n", /* > HIGHEST */
		"owlpost-uidlist 1 V7 N10 M20\n1 0 - :a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 SR :a\n", /* order */
		"owlpost-uidlist 1 V7 N10 M20\n1 3 SS :a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 X :a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3  :a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - a\n", /* no ':' */
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :\n", /* empty base */
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :.a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :a/b\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :a:2,S\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :a\\\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :a\\x\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - + :a\n", /* empty kw */
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - +a(b :a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :a\n2 3 - :a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 - :a",  /* cut line */
		"owlpost-uidlist 1 V7 N10 M20 R5 W1.2.3\n", /* W without C */
		"owlpost-uidlist 1 V7 N10 M20 R5 C1.2.3 W\n",
		"owlpost-uidlist 1 V7 N10 M20 R5 C1.2.3 W0.0.0\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 nS :a\n", /* n last */
		"owlpost-uidlist 1 V7 N10 M20\n1 3 -n :a\n",
		"owlpost-uidlist 1 V7 N10 M20\n1 3 nn :a\n",
	};
	struct uidlist ul;

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(&ul, bad[i]) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(ul.n, 0);
		assert_null(ul.recs);
	}
	/* a NUL inside, and the bounds of names, lines and keywords */
	{
		char text[8000], err[100];
		int n;

		memcpy(text, "owlpost-uidlist 1 V7 N10 M20\n1 3 - :a\0b\n",
		       41);
		assert_int_equal(uidlist_parse(&ul, text, 41, err,
					       sizeof(err)), -1);
		n = snprintf(text, sizeof(text),
			     "owlpost-uidlist 1 V7 N10 M20\n1 3 - :");
		memset(text + n, 'a', 255);
		strcpy(text + n + 255, "\n");
		assert_int_equal(parse(&ul, text), 0);
		uidlist_free(&ul);
		strcpy(text + n + 255, "a\n"); /* 256 octets */
		assert_int_equal(parse(&ul, text), -1);
		n = snprintf(text, sizeof(text),
			     "owlpost-uidlist 1 V7 N10 M20\n1 3 -");
		for (int k = 0; k < 33; k++)
			n += snprintf(text + n, sizeof(text) - (size_t)n,
				      " +k%d", k);
		snprintf(text + n, sizeof(text) - (size_t)n, " :a\n");
		assert_int_equal(parse(&ul, text), -1); /* 33 keywords */
		n = snprintf(text, sizeof(text),
			     "owlpost-uidlist 1 V7 N10 M20\n1 3 - +");
		memset(text + n, 'k', 101);
		snprintf(text + n + 101, 10, " :a\n");
		assert_int_equal(parse(&ul, text), -1); /* 101 octets */
	}
}

/* Syncs ul with f[0..n): a change, these UIDs, nrecs records after. */
static void
sync_uids(struct uidlist *ul, struct uidlist_file *f, size_t n,
	  const uint32_t *want, size_t nrecs)
{
	bool changed;

	assert_int_equal(uidlist_sync(ul, f, n, &changed), 0);
	assert_true(changed);
	assert_int_equal(ul->n, nrecs);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(f[i].uid, want[i]);
}

static void
test_sync(void **st)
{
	struct uidlist ul;
	struct uidlist_file f[4] = {
		{.name = "1.M1P1Q1.h,S=1,W=2:2,"},
		{.name = "2.M2P1Q1.h:2,S"},
		{.name = "3.M3P1Q1.h:2,"},
		{.name = "3.M3P1Q1.h:2,F"}, /* the same message, twice */
	};
	bool changed;

	(void)st;
	for (int i = 0; i < 4; i++)
		f[i].baselen = strcspn(f[i].name, ":");
	uidlist_init(&ul, 42);
	/* a repeated base gets none */
	sync_uids(&ul, f, 4, (uint32_t[]){1, 2, 3, 0}, 3);
	assert_int_equal(ul.recs[1].flags, UF_SEEN);
	assert_int_equal(ul.uidnext, 4);
	/* nothing new: nothing to write, the same UIDs */
	assert_int_equal(uidlist_sync(&ul, f, 3, &changed), 0);
	assert_false(changed);
	assert_int_equal(f[2].uid, 3);
	/* 2 gone, 1 flagged, a new one: UIDNEXT only grows */
	{
		uint64_t hms = ul.highestmodseq;
		struct uidlist_file g[3] = {
			{.name = "1.M1P1Q1.h,S=1,W=2:2,FS"},
			{.name = "3.M3P1Q1.h:2,"},
			{.name = "4.M4P1Q1.h:2,"},
		};

		for (int i = 0; i < 3; i++)
			g[i].baselen = strcspn(g[i].name, ":");
		assert_int_equal(uidlist_sync(&ul, g, 3, &changed), 0);
		assert_true(changed);
		assert_int_equal(g[0].uid, 1);
		assert_int_equal(g[1].uid, 3);
		assert_int_equal(g[2].uid, 4);
		assert_int_equal(ul.uidnext, 5);
		assert_int_equal(ul.recs[0].flags, UF_FLAGGED | UF_SEEN);
		assert_true(ul.recs[0].modseq > hms);
		assert_true(ul.highestmodseq >= hms + 3);
		/* all gone: UIDNEXT stays */
		assert_int_equal(uidlist_sync(&ul, g, 0, &changed), 0);
		assert_int_equal(ul.n, 0);
		assert_int_equal(ul.uidnext, 5);
	}
	uidlist_free(&ul);
	/* the UIDs run out: -1, the index unchanged */
	uidlist_init(&ul, 42);
	ul.uidnext = UINT32_MAX - 1;
	assert_int_equal(uidlist_sync(&ul, f, 2, &changed), -1);
	assert_int_equal(ul.n, 0);
	assert_int_equal(uidlist_sync(&ul, f, 1, &changed), 0);
	assert_int_equal(f[0].uid, UINT32_MAX - 1);
	uidlist_free(&ul);
}

/*
 * In place: the strings of a parsed index are in the buffer it was read
 * into (no allocation per name), and a bad index leaves the buffer to
 * the caller, its first line intact.
 */
static void
test_parse_in_place(void **st)
{
	static const char text[] =
		"owlpost-uidlist 1 V7 N10 M20 R10\n"
		"1 3 S +k1 +k2 :1.M1P1Q1.h\n"
		"2 4 - :2.M2\\\\P1\\nQ1.h\n"
		"5 6 FS +$Junk :5.M5P1Q1.h\n";
	size_t len = sizeof(text) - 1;
	char *buf = uidlist_buf_new(len), err[128];
	struct buf *out = buf_new(1 << 16);
	struct uidlist ul;

	(void)st;
	memcpy(buf, text, len);
	assert_int_equal(uidlist_parse_buf(&ul, buf, len, err, sizeof(err)),
			 0);
	assert_int_equal(ul.n, 3);
	for (size_t i = 0; i < ul.n; i++) {
		assert_true(ul.recs[i].base > buf &&
			    ul.recs[i].base < buf + len);
		assert_true(ul.recs[i].keywords == NULL ||
			    (ul.recs[i].keywords > buf &&
			     ul.recs[i].keywords < buf + len));
	}
	assert_string_equal(ul.recs[0].keywords, "k1 k2");
	assert_string_equal(ul.recs[0].base, "1.M1P1Q1.h");
	assert_string_equal(ul.recs[1].base, "2.M2\\P1\nQ1.h");
	assert_null(ul.recs[1].keywords);
	assert_string_equal(ul.recs[2].keywords, "$Junk");
	assert_int_equal(uidlist_format(&ul, out), 0);
	assert_string_equal(out->data, text);
	uidlist_free(&ul); /* frees buf */
	/* corrupt (the last line repeats a base): buf is still ours */
	buf = uidlist_buf_new(len + 20);
	memcpy(buf, text, len);
	memcpy(buf + len, "6 7 - :1.M1P1Q1.h\n", 18);
	assert_int_equal(uidlist_parse_buf(&ul, buf, len + 18, err,
					   sizeof(err)), -1);
	assert_int_equal(ul.n, 0);
	assert_null(ul.recs);
	assert_non_null(strstr(err, "line 5"));
	assert_memory_equal(buf, text, 29); /* the header line */
	uidlist_buf_free(buf);
	buf_free(&out);
}

/*
 * Keywords set after the parse, on records whose strings the parser
 * keeps in its buffer and on ones a sync added; then a sync that drops
 * some of them, and the free (valgrind / ASan: no bad or missing free).
 */
static void
test_set_keywords(void **st)
{
	struct uidlist ul;
	struct buf *out = buf_new(1 << 16);
	struct uidlist_file f[4] = {
		{.name = "1.M1P1Q1.h:2,S"},
		{.name = "new.a:2,"},
		{.name = "new.b:2,"},
		{.name = "new.a:2,T"}, /* a second name of new.a */
	};
	bool changed;

	(void)st;
	for (int i = 0; i < 4; i++)
		f[i].baselen = strcspn(f[i].name, ":");
	assert_int_equal(parse(&ul, "owlpost-uidlist 1 V7 N10 M20\n"
			       "1 3 S +k1 +k2 :1.M1P1Q1.h\n"
			       "2 4 - +old :2.M2P1Q1.h\n"
			       "3 5 - :3.M3P1Q1.h\n"), 0);
	uidlist_set_keywords(&ul, &ul.recs[0], "a-much-longer-keyword k2");
	uidlist_set_keywords(&ul, &ul.recs[1], NULL);
	uidlist_set_keywords(&ul, &ul.recs[2], "x");
	uidlist_set_keywords(&ul, &ul.recs[2], "y z");
	assert_int_equal(uidlist_format(&ul, out), 0);
	assert_string_equal(out->data,
			    "owlpost-uidlist 1 V7 N10 M20 R10\n"
			    "1 3 S +a-much-longer-keyword +k2 :1.M1P1Q1.h\n"
			    "2 4 - :2.M2P1Q1.h\n"
			    "3 5 - +y +z :3.M3P1Q1.h\n");
	/* 2 and 3 gone (3 with keywords set), two new, one twice */
	sync_uids(&ul, f, 4, (uint32_t[]){1, 10, 11, 0}, 3);
	assert_string_equal(ul.recs[0].keywords, "a-much-longer-keyword k2");
	/* the names a sync adds share one block: no allocation each */
	assert_ptr_equal(ul.recs[2].base, ul.recs[1].base + 6);
	uidlist_set_keywords(&ul, &ul.recs[1], "fresh");
	assert_string_equal(ul.recs[1].base, "new.a");
	assert_string_equal(ul.recs[2].base, "new.b");
	/* again, with the set rebuilt from the records */
	assert_int_equal(uidlist_sync(&ul, f, 3, &changed), 0);
	assert_false(changed);
	assert_int_equal(f[1].uid, 10);
	assert_string_equal(ul.recs[1].keywords, "fresh");
	uidlist_free(&ul);
	buf_free(&out);
}

/*
 * A view kept open: a sync per new message, 40 of them, some records
 * with keywords set, some gone; the strings stay right while the syncs
 * move them into fewer blocks (valgrind / ASan: nothing read after free).
 */
static void
test_many_syncs(void **st)
{
	enum { N = 40 };
	struct uidlist_file f[N] = {{0}};
	char names[N][32];
	size_t n = 0;
	struct uidlist ul;
	bool changed;

	(void)st;
	uidlist_init(&ul, 9);
	for (size_t k = 0; k < N; k++) {
		snprintf(names[k], sizeof(names[k]), "%zu.M%zuP1Q1.h:2,", k,
			 k);
		f[n].name = names[k];
		f[n].baselen = strcspn(names[k], ":");
		n++;
		if (k == 10) { /* the third message is gone */
			memmove(&f[2], &f[3], (n - 3) * sizeof(f[0]));
			n--;
		}
		assert_int_equal(uidlist_sync(&ul, f, n, &changed), 0);
		assert_true(changed);
		assert_int_equal(f[n - 1].uid, k + 1);
		assert_int_equal(ul.n, n);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(ul.recs[i].uid, f[i].uid);
			assert_int_equal(strncmp(ul.recs[i].base, f[i].name,
						 f[i].baselen), 0);
			assert_int_equal(ul.recs[i].base[f[i].baselen], '\0');
		}
		if (k % 3 == 0)
			uidlist_set_keywords(&ul, &ul.recs[n - 1],
					     k % 2 ? "odd" : "even");
	}
	for (size_t i = 0; i < ul.n; i++) {
		size_t k = ul.recs[i].uid - 1;

		if (k % 3 == 0)
			assert_string_equal(ul.recs[i].keywords,
					    k % 2 ? "odd" : "even");
		else
			assert_null(ul.recs[i].keywords);
	}
	uidlist_free(&ul);
}

/*
 * A corrupt index of 32 MiB of empty lines is refused with memory in
 * proportion to what parsed, not to its LFs (sizing the records by the
 * line count took 1 GiB for it), in a child limited to 512 MiB of address
 * space.  Not under ASan or valgrind, whose own reservations are larger.
 */
static void
test_parse_lf_flood(void **st)
{
	const char *pre = getenv("LD_PRELOAD");
	pid_t pid;
	int status;

	(void)st;
#if defined(__SANITIZE_ADDRESS__)
	skip();
#endif
	if (pre != NULL && strstr(pre, "vgpreload") != NULL)
		skip();
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct rlimit rl = {512u << 20, 512u << 20};
		size_t len = 32u << 20;
		char *text = malloc(len), err[128];
		struct uidlist ul;

		if (text == NULL || setrlimit(RLIMIT_AS, &rl) == -1)
			_exit(2);
		memset(text, '\n', len);
		memcpy(text, "owlpost-uidlist 1 V7 N10 M20\n", 29);
		_exit(uidlist_parse(&ul, text, len, err, sizeof(err)) == -1 &&
			      strstr(err, "line 2") != NULL
		      ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A big index: parse, sync with the same listing (nothing changes) and
 * format back; the same UIDs for every name, and the text unchanged.
 */
static void
test_big_index(void **st)
{
	enum { N = 20000 };
	struct buf *text = buf_new(N * 100), *out = buf_new(N * 100);
	struct uidlist_file *f = calloc(N, sizeof(*f));
	char (*names)[64] = calloc(N, sizeof(*names));
	struct uidlist ul;
	bool changed;

	(void)st;
	assert_non_null(f);
	assert_non_null(names);
	buf_printf(text, "owlpost-uidlist 1 V7 N%d M%d R%d\n", 2 * N + 1,
		   2 * N + 1, 2 * N + 1);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]),
			 "%d.M%dP42Q%d.host,S=9,W=10:2,S", 1700000000 + i,
			 i % 1000, i);
		f[i].name = names[i];
		f[i].baselen = strcspn(names[i], ":");
		buf_printf(text, "%d %d S :%.*s\n", 2 * i + 1, i + 1,
			   (int)f[i].baselen, names[i]);
	}
	assert_int_equal(parse(&ul, text->data), 0);
	assert_int_equal(uidlist_sync(&ul, f, N, &changed), 0);
	assert_false(changed);
	for (int i = 0; i < N; i++)
		assert_int_equal(f[i].uid, 2 * i + 1);
	assert_int_equal(uidlist_format(&ul, out), 0);
	assert_int_equal(out->len, text->len);
	assert_memory_equal(out->data, text->data, text->len);
	uidlist_free(&ul);
	free(names);
	free(f);
	buf_free(&text);
	buf_free(&out);
}

/* --- the file, through the store ---------------------------------------- */

#define MSG "Subject: hi\n\nhello\n"

static void
deliver_one(struct store *s)
{
	const char *users[] = {"alice@example.org"};
	struct store_delivery d = {.sender = "", .users = users, .nusers = 1,
				   .data = MSG, .fd = -1,
				   .len = sizeof(MSG) - 1, .when = 1};
	struct store_delivery *batch[] = {&d};

	store_deliver(s, batch, 1);
	assert_int_equal(d.res, STORE_OK);
}

static void
index_path(char *out, size_t size, const char *suffix)
{
	snprintf(out, size, "%s/mail/example.org/alice/.owlpost-uidlist%s",
		 root, suffix);
}

/* new/ and cur/ of alice's INBOX set 10 s back: settled, so that every
 * open from now on writes the same C and W, however slow the run. */
static void
settle_dirs(void)
{
	static const char *const subs[] = {"new", "cur"};
	struct timespec ts[2] = {{0, UTIME_OMIT}, {0, 0}};
	char path[400];

	ts[1].tv_sec = time(NULL) - 10;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/mail/example.org/alice/%s",
			 root, subs[i]);
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *p = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(fp);
	n = fread(p, 1, (1 << 20) - 1, fp);
	p[n] = '\0';
	fclose(fp);
	return p;
}

static void
put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Opens alice's box, checks its UIDs are want[0..n), returns its V. */
static uint32_t
open_check(struct store *s, const uint32_t *want, size_t n)
{
	struct store_box *b;
	char err[300];
	uint32_t v;

	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(b->msgs[i].uid, want[i]);
	v = b->uidvalidity;
	assert_true(v != 0);
	store_box_free(&b);
	return v;
}

static void
test_index_file(void **st)
{
	char mail[300], path[400], tmp[400], err[300];
	const char *e;
	struct store *s;
	struct store_box *b;
	uint32_t v1, v2, v3;
	char *text, *again;

	(void)st;
	snprintf(mail, sizeof(mail), "%s/mail", root);
	s = store_new(MBOX_FMT_MAILDIR, mail, "host.test", &e);
	assert_non_null(s);
	deliver_one(s);
	deliver_one(s);
	settle_dirs();
	/* delivery does not touch the index */
	index_path(path, sizeof(path), "");
	assert_int_equal(access(path, F_OK), -1);
	v1 = open_check(s, (uint32_t[]){1, 2}, 2);
	text = slurp(path);
	assert_int_equal(strncmp(text, "owlpost-uidlist 1 V", 19), 0);
	/* a second open: the same UIDs, the file not rewritten */
	assert_int_equal(open_check(s, (uint32_t[]){1, 2}, 2), v1);
	again = slurp(path);
	assert_string_equal(text, again);
	free(again);
	free(text);
	/* expunge 1, a new one: UID 3, never 1 again */
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(store_box_expunge(b, (bool[]){true, false}, err,
					   sizeof(err)), STORE_OK);
	store_box_free(&b);
	deliver_one(s);
	assert_int_equal(open_check(s, (uint32_t[]){2, 3}, 2), v1);
	/* a failed index write: the open fails, the old index stays */
	text = slurp(path);
	deliver_one(s);
	again = slurp(path); /* delivery left the index alone */
	assert_string_equal(text, again);
	free(again);
	fsops_inject_class(FSOPS_INDEX, FSOP_RENAME, 1, EIO, false);
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_TEMP);
	assert_null(b);
	assert_non_null(strstr(err, "rename"));
	again = slurp(path);
	assert_string_equal(text, again);
	free(again);
	free(text);
	index_path(tmp, sizeof(tmp), ".tmp");
	assert_int_equal(access(tmp, F_OK), -1);
	/* mail faults count apart: an index write does not move them */
	fsops_inject(FSOP_RENAME, 1, EIO, false);
	assert_int_equal(open_check(s, (uint32_t[]){2, 3, 4}, 3), v1);
	fsops_clear();
	/* a stray .tmp (a crash in I1) is removed, nothing else changes */
	put(tmp, "owlpost-uidlist 1 V1 N99 M99\n");
	assert_int_equal(open_check(s, (uint32_t[]){2, 3, 4}, 3), v1);
	assert_int_equal(access(tmp, F_OK), -1);
	/* lost: rebuilt, numbered from 1, a greater UIDVALIDITY */
	assert_int_equal(unlink(path), 0);
	v2 = open_check(s, (uint32_t[]){1, 2, 3}, 3);
	assert_true(v2 > v1);
	/* corrupt, with a UIDVALIDITY from the future: above that one */
	put(path, "owlpost-uidlist 1 V4000000000 N2 M1\ngarbage\n");
	v3 = open_check(s, (uint32_t[]){1, 2, 3}, 3);
	assert_true(v3 > 4000000000u);
	/* an unreadable index is not "lost": TEMP, not a new UIDVALIDITY */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_TEMP);
	assert_non_null(strstr(err, "read"));
	assert_int_equal(rmdir(path), 0);
	store_free(&s);
}

/* What another process (a second host) gets when it opens alice's box. */
static enum store_res
open_elsewhere(void)
{
	pid_t pid = fork();
	int status;

	assert_true(pid != -1);
	if (pid == 0) {
		char mail[300], err[300];
		const char *e;
		struct store *s;
		struct store_box *b;
		enum store_res r;

		snprintf(mail, sizeof(mail), "%s/mail", root);
		s = store_new(MBOX_FMT_MAILDIR, mail, "other.test", &e);
		r = store_box_open(s, "alice@example.org", &b, err,
				   sizeof(err));
		store_box_free(&b);
		store_free(&s);
		_exit((int)r);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return (enum store_res)WEXITSTATUS(status);
}

static void
test_maildrop_lock(void **st)
{
	char mail[300], err[300], path[600];
	const char *e;
	struct store *s;
	struct store_box *b, *b2;

	(void)st;
	snprintf(mail, sizeof(mail), "%s/mail", root);
	s = store_new(MBOX_FMT_MAILDIR, mail, "host.test", &e);
	deliver_one(s);
	deliver_one(s);
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	/* a second session of this process, and another process: in use */
	assert_int_equal(store_box_open(s, "alice@example.org", &b2, err,
					sizeof(err)), STORE_INUSE);
	assert_null(b2);
	assert_int_equal(open_elsewhere(), STORE_INUSE);
	/* the refused opens did not drop our fcntl lock */
	assert_int_equal(open_elsewhere(), STORE_INUSE);
	/* another user's mailbox is free */
	assert_int_equal(store_box_open(s, "bob@example.org", &b2, err,
					sizeof(err)), STORE_OK);
	store_box_free(&b2);
	/* a marked file another host removed meanwhile: already gone */
	snprintf(path, sizeof(path), "%s/example.org/alice/new/%s", mail,
		 msg_file(b, 0)); /* delivered: still in new/ */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_box_expunge(b, (bool[]){true, true}, err,
					   sizeof(err)), STORE_OK);
	store_box_free(&b);
	/* let go: the next session, here or there, gets it */
	assert_int_equal(open_elsewhere(), STORE_OK);
	assert_int_equal(store_box_open(s, "alice@example.org", &b, err,
					sizeof(err)), STORE_OK);
	assert_int_equal(b->n, 0);
	store_box_free(&b);
	store_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_parse_corrupt),
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_parse_in_place),
		cmocka_unit_test(test_set_keywords),
		cmocka_unit_test(test_many_syncs),
		cmocka_unit_test(test_parse_lf_flood),
		cmocka_unit_test(test_big_index),
		cmocka_unit_test_setup_teardown(test_index_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_maildrop_lock, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
