/*
 * Unit tests of the IMAP core's MULTIAPPEND (RFC 3502) and UTF8=ACCEPT
 * (RFC 6855) over the in-memory store of imap_fake.h: several messages in
 * one APPEND saved all or nothing with one APPENDUID uid-set (RFC 4315);
 * each message checked against APPENDLIMIT (RFC 7889), the messages of
 * one command and their octets before its literal is sent (NO [TOOBIG] /
 * [LIMIT], nothing of the command saved), a LITERAL+ one past a bound
 * read and dropped; a store failure (nothing saved); bad syntax (BAD,
 * the spool dropped); the parser's argument bound with no "+" sent for
 * the literal it refuses; ENABLE UTF8=ACCEPT, the UTF8 (~{n}) data item
 * (BAD without it or without a literal8) and mailbox names in UTF-8 both
 * ways once it is on, modified UTF-7 before.  Each script is fed whole,
 * octet by octet and in pieces of 5; all must give the same responses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_fake.h"
#include "lib/buf.h"
#include "proto/imap_server.h"

#define MSG1 "From: a@example.org\nSubject: one\n\nfirst body\n"

/* The bounds of the sessions a test plays. */
struct bounds {
	uint64_t append_max;
	unsigned msgs_max;
	uint64_t total_max;
};

static const struct bounds DEFAULT_BOUNDS = {1000, 5, 2500};

struct sess {
	struct imap_conf conf;
	struct imap_server *s;
	struct imap_fake *f;
	struct buf *out;
	bool closed;
};

static void
sess_open(struct sess *x, struct imap_fake *f, const struct bounds *b)
{
	memset(x, 0, sizeof(*x));
	x->conf.hostname = "imap.test";
	x->conf.max_errors = 20;
	x->conf.max_auth_failures = 3;
	x->conf.append_max = b->append_max;
	x->conf.append_msgs_max = b->msgs_max;
	x->conf.append_total_max = b->total_max;
	x->conf.out_max = 1 << 20;
	x->f = f;
	x->s = imap_server_new(&x->conf);
	x->out = buf_new(1 << 22);
	imap_server_plain_auth(x->s, true);
	imap_server_clock(x->s, IMAP_FAKE_NOW);
}

static void
sess_close(struct sess *x)
{
	imap_server_free(&x->s);
	buf_free(&x->out);
}

/* Feeds text in pieces of chunk octets (0: whole), answering LOGIN. */
static void
feed(struct sess *x, const char *text, size_t len, size_t chunk)
{
	size_t off = 0;

	while (off < len && !x->closed) {
		size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
		size_t used;
		enum imap_act a = imap_server_feed(x->s, text + off, n, &used,
						   x->out);

		off += used;
		if (a == IMAP_ACT_LOGIN) {
			imap_server_set_mbox(x->s, &imap_fake_ops, x->f);
			a = imap_server_login_done(x->s, IMAP_LOGIN_OK,
						   x->out);
		}
		assert_true(a == IMAP_ACT_NONE || a == IMAP_ACT_CLOSE);
		x->closed = a == IMAP_ACT_CLOSE;
	}
}

/* What a test does between its two scripts. */
typedef void between_fn(struct imap_fake *f);

/*
 * A fake with INBOX holding MSG1..3 (UIDs 1-3), a session logged in,
 * script then (after mid, if any) script2 fed in pieces of chunk; the
 * responses after the login (free them); the fake in *f_r if wanted.
 */
static char *
play(const struct bounds *b, const char *script, between_fn *mid,
     const char *script2, size_t chunk, struct imap_fake **f_r)
{
	struct imap_fake *f = imap_fake_new();
	struct sess x;
	size_t skip;
	char *r;

	for (int i = 0; i < 3; i++)
		imap_fake_deliver(f, "INBOX", MSG1);
	sess_open(&x, f, b);
	feed(&x, "L LOGIN alice secret\r\n", 22, 0);
	skip = x.out->len;
	feed(&x, script, strlen(script), chunk);
	if (mid != NULL)
		mid(f);
	if (script2 != NULL)
		feed(&x, script2, strlen(script2), chunk);
	r = xstrdup(x.out->data + skip);
	sess_close(&x);
	assert_false(imap_fake_appending(f));	/* no spool left */
	if (f_r != NULL)
		*f_r = f;
	else
		imap_fake_free(&f);
	return r;
}

/* Whole, octet by octet and in fives: the same responses; the last
 * play's fake in *f_r (if wanted). */
static char *
play_all(const struct bounds *b, const char *script, between_fn *mid,
	 const char *script2, struct imap_fake **f_r)
{
	char *whole = play(b, script, mid, script2, 0, NULL);
	static const size_t chunks[] = {1, 5};

	for (size_t i = 0; i < 2; i++) {
		char *other = play(b, script, mid, script2, chunks[i],
				   i == 1 ? f_r : NULL);

		assert_string_equal(other, whole);
		free(other);
	}
	return whole;
}

static void
has(const char *out, const char *want)
{
	if (strstr(out, want) == NULL)
		fail_msg("missing \"%s\" in:\n%s", want, out);
}

static void
hasnt(const char *out, const char *want)
{
	if (strstr(out, want) != NULL)
		fail_msg("unwanted \"%s\" in:\n%s", want, out);
}

static size_t
count_of(const char *out, const char *what)
{
	size_t n = 0;

	for (const char *p = out; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* --- MULTIAPPEND ---------------------------------------------------------- */

static void
test_multiappend_three(void **st)
{
	struct imap_fake *f;
	struct imap_msg m;
	char *o = play_all(&DEFAULT_BOUNDS,
			   "a CAPABILITY\r\n"
			   "b APPEND INBOX (\\Seen) {5}\r\nab\r\nc"
			   " (\\Flagged $Work) \"01-Feb-2026 10:00:00 +0100\""
			   " {4+}\r\nd\r\ne {3}\r\nfgh\r\n"
			   "c SELECT INBOX\r\n"
			   "d UID FETCH 4:6 (FLAGS INTERNALDATE)\r\n",
			   NULL, NULL, &f);

	(void)st;
	has(o, " MULTIAPPEND ");
	has(o, " UTF8=ACCEPT");
	/* two synchronizing literals, two "+" */
	assert_int_equal(count_of(o, "+ Ready for literal data\r\n"), 2);
	has(o, "b OK [APPENDUID 1 4:6] APPEND completed\r\n");
	has(o, "* 6 EXISTS\r\n");
	has(o, "UID 4 FLAGS (\\Seen \\Recent)");
	/* the date as given, in its zone (RFC 9051 6.4.4 searches its day
	 * there); the moment is 09:00 UTC */
	has(o, "INTERNALDATE \" 1-Feb-2026 10:00:00 +0100\"");
	has(o, "FLAGS (\\Flagged \\Recent $Work)");
	assert_int_equal(imap_fake_count(f, "INBOX"), 6);
	assert_string_equal(imap_fake_text(f, "INBOX", 4), "ab\nc");
	assert_string_equal(imap_fake_text(f, "INBOX", 5), "d\ne");
	assert_string_equal(imap_fake_text(f, "INBOX", 6), "fgh");
	assert_int_equal(imap_fake_msg(f, "INBOX", 5, &m), 0);
	assert_int_equal(m.date, 1769936400);
	assert_int_equal(m.zone, 60);
	assert_int_equal(imap_fake_msg(f, "INBOX", 6, &m), 0);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.date, IMAP_FAKE_NOW);
	assert_int_equal(m.zone, 0);
	imap_fake_free(&f);
	free(o);
}

/* A message past APPENDLIMIT in the middle: refused before it is sent,
 * and the one spooled before it dropped. */
static void
test_multiappend_toobig_in_the_middle(void **st)
{
	struct imap_fake *f;
	char *o = play_all(&DEFAULT_BOUNDS,
			   "a APPEND INBOX {3}\r\nabc {5000}\r\n"
			   "b APPEND INBOX {3}\r\nxyz\r\n",
			   NULL, NULL, &f);

	(void)st;
	assert_int_equal(count_of(o, "+ Ready"), 2); /* a's first, b's */
	has(o, "a NO [TOOBIG] Message larger than APPENDLIMIT (1000 octets)"
	    "\r\n");
	has(o, "b OK [APPENDUID 1 4]");
	assert_int_equal(imap_fake_count(f, "INBOX"), 4);
	assert_string_equal(imap_fake_text(f, "INBOX", 4), "xyz");
	imap_fake_free(&f);
	free(o);
}

/* The same with LITERAL+: its octets are read and dropped, and the rest
 * of the command (another {n+}) skipped, never run as commands. */
static void
test_multiappend_toobig_literal_plus(void **st)
{
	struct buf *s = buf_new(8192);
	struct imap_fake *f;
	char *o;

	(void)st;
	buf_addstr(s, "a APPEND INBOX {3+}\r\nabc {1200+}\r\n");
	for (int i = 0; i < 120; i++)	/* 1200 octets */
		buf_addstr(s, "x NOOP\r\n\r\n");
	buf_addstr(s, " {8+}\r\ny NOOP\r\n\r\nb NOOP\r\n");
	o = play_all(&DEFAULT_BOUNDS, s->data, NULL, NULL, &f);
	has(o, "a NO [TOOBIG]");
	hasnt(o, "x ");
	hasnt(o, "y ");
	hasnt(o, "+ Ready");
	has(o, "b OK NOOP");
	assert_int_equal(imap_fake_count(f, "INBOX"), 3);
	imap_fake_free(&f);
	free(o);
	buf_free(&s);
}

static void
test_multiappend_count_and_size_bounds(void **st)
{
	struct imap_fake *f;
	char *o;

	(void)st;
	/* the sixth message of a command with at most 5 */
	o = play_all(&DEFAULT_BOUNDS,
		     "a APPEND INBOX {1}\r\n1 {1}\r\n2 {1}\r\n3 {1}\r\n4 {1}"
		     "\r\n5 {1}\r\n", NULL, "b NOOP\r\n", &f);
	assert_int_equal(count_of(o, "+ Ready"), 5);
	has(o, "a NO [LIMIT] At most 5 messages in one APPEND\r\n");
	has(o, "b OK");
	assert_int_equal(imap_fake_count(f, "INBOX"), 3);
	imap_fake_free(&f);
	free(o);
	/* 900 + 900 + 900 octets past the 2500 of one command */
	{
		struct buf *s = buf_new(4096);

		buf_addstr(s, "a APPEND INBOX");
		for (int i = 0; i < 3; i++) {
			buf_addstr(s, " {900}\r\n");
			if (i < 2)
				for (int k = 0; k < 900; k++)
					buf_addc(s, 'm');
		}
		o = play_all(&DEFAULT_BOUNDS, s->data, NULL, "b NOOP\r\n",
			     &f);
		buf_free(&s);
	}
	assert_int_equal(count_of(o, "+ Ready"), 2);
	has(o, "a NO [LIMIT] At most 2500 octets of messages in one APPEND"
	    "\r\n");
	assert_int_equal(imap_fake_count(f, "INBOX"), 3);
	imap_fake_free(&f);
	free(o);
}

static void
fail_end(struct imap_fake *f)
{
	imap_fake_fail(f, IMAP_FAKE_APPEND_END, IMAP_M_NOSPACE, "quota");
}

static void
fail_data(struct imap_fake *f)
{
	imap_fake_fail(f, IMAP_FAKE_APPEND_DATA, IMAP_M_TEMP, "disk");
}

static void
test_multiappend_store_fails(void **st)
{
	struct imap_fake *f;
	char *o;

	(void)st;
	o = play_all(&DEFAULT_BOUNDS, "", fail_end,
		     "a APPEND INBOX {3}\r\nabc {3}\r\ndef\r\n", &f);
	has(o, "a NO [OVERQUOTA] quota\r\n");
	assert_int_equal(imap_fake_count(f, "INBOX"), 3);
	imap_fake_free(&f);
	free(o);
	/* the first message's spool fails: the second goes nowhere */
	o = play_all(&DEFAULT_BOUNDS, "", fail_data,
		     "a APPEND INBOX {3}\r\nabc {3}\r\ndef\r\nb NOOP\r\n",
		     &f);
	has(o, "a NO [UNAVAILABLE] disk\r\n");
	has(o, "b OK");
	assert_int_equal(imap_fake_count(f, "INBOX"), 3);
	imap_fake_free(&f);
	free(o);
}

static void
test_multiappend_bad_syntax(void **st)
{
	struct imap_fake *f;
	char *o = play_all(&DEFAULT_BOUNDS,
			   /* flags with no message after them */
			   "a APPEND INBOX {3}\r\nabc (\\Seen)\r\n"
			   /* a date before the flags */
			   "b APPEND INBOX {3}\r\nabc \"01-Feb-2026 10:00:00 "
			   "+0100\" (\\Seen) {1}\r\nx\r\n"
			   /* a flag in a second message */
			   "c APPEND INBOX {3}\r\nabc (\\Recent) {1}\r\nx\r\n"
			   /* a literal in a flag list */
			   "d APPEND INBOX ({1}\r\nx) {1}\r\ny\r\n"
			   "e APPEND Nosuch {1}\r\nx {1}\r\ny\r\n",
			   NULL, NULL, &f);

	(void)st;
	has(o, "a BAD");
	has(o, "b BAD");
	has(o, "c BAD Invalid flag");
	has(o, "d BAD");
	has(o, "e NO [TRYCREATE]");
	assert_int_equal(imap_fake_count(f, "INBOX"), 3);
	imap_fake_free(&f);
	free(o);
}

/* Past the parser's bound of arguments, a synchronizing literal is
 * refused without a "+": the client never sends it. */
static void
test_multiappend_argument_bound(void **st)
{
	struct imap_fake *f = imap_fake_new();
	struct bounds b = {1000, 0, 0};
	struct sess x;
	size_t plus, sent = 0;
	const char *msg = " {1}\r\n";

	(void)st;
	sess_open(&x, f, &b);
	feed(&x, "L LOGIN alice secret\r\n", 22, 0);
	buf_reset(x.out);
	feed(&x, "a APPEND INBOX", 14, 0);
	for (;;) {
		plus = count_of(x.out->data, "+ Ready");
		feed(&x, msg, strlen(msg), 0);
		sent++;
		assert_true(sent < 2000);
		if (count_of(x.out->data, "+ Ready") == plus)
			break;	/* refused: no "+" */
		/* a "+" was sent: the literal is taken, the command goes on */
		feed(&x, "x", 1, 0);
		hasnt(x.out->data, "a ");
	}
	assert_true(sent > 1000);
	has(x.out->data, "a BAD [LIMIT]");
	feed(&x, "b NOOP\r\n", 8, 0);
	has(x.out->data, "b OK");
	assert_int_equal(imap_fake_count(f, "INBOX"), 0);
	assert_false(imap_fake_appending(f));
	sess_close(&x);
	imap_fake_free(&f);
}

/* --- UTF8=ACCEPT ---------------------------------------------------------- */

static void
test_utf8_append(void **st)
{
	struct imap_fake *f;
	char *o = play_all(&DEFAULT_BOUNDS,
			   "a APPEND INBOX UTF8 (~{3}\r\nabc)\r\n"
			   "b ENABLE UTF8=ACCEPT\r\n"
			   "c ENABLE UTF8=ACCEPT\r\n"
			   "d APPEND INBOX (\\Seen) UTF8 (~{10}\r\nS: \xc3\xa9"
			   "\r\n\r\nx) {3}\r\nabc UTF8 (~{1}\r\nz)\r\n"
			   "e APPEND INBOX UTF8 ({3}\r\nabc)\r\n"
			   "f APPEND INBOX UTF8 (~{1}\r\na ~{1}\r\nb)\r\n",
			   NULL, NULL, &f);

	(void)st;
	has(o, "a BAD UTF8 needs ENABLE UTF8=ACCEPT");
	has(o, "* ENABLED UTF8=ACCEPT\r\nb OK");
	has(o, "* ENABLED\r\nc OK");	/* already on: nothing new */
	has(o, "d OK [APPENDUID 1 4:6]");
	has(o, "e BAD UTF8 needs a literal8");
	has(o, "f BAD UTF8 needs a literal8");
	assert_int_equal(imap_fake_count(f, "INBOX"), 6);
	assert_string_equal(imap_fake_text(f, "INBOX", 4),
			    "S: \xc3\xa9\n\nx");
	assert_string_equal(imap_fake_text(f, "INBOX", 6), "z");
	imap_fake_free(&f);
	free(o);
}

/* RFC 6855 4: 8-bit octets in header fields need ENABLE UTF8=ACCEPT (or
 * IMAP4rev2); in the body they are fine; ENABLE UTF8=ACCEPT is for the
 * authenticated state only (RFC 6855 3). */
static void
test_utf8_header_needs_enable(void **st)
{
	struct imap_fake *f;
	char *o = play_all(&DEFAULT_BOUNDS,
			   "a APPEND INBOX {10}\r\nS: \xc3\xa9\r\n\r\nx\r\n"
			   "b APPEND INBOX {11}\r\nS: e\r\n\r\n\xc3\xa9x\r\n"
			   "c APPEND INBOX {1}\r\nx {7}\r\nS: \xff\n\nx\r\n"
			   "d SELECT INBOX\r\ne ENABLE UTF8=ACCEPT\r\n"
			   "f UNSELECT\r\ng ENABLE UTF8=ACCEPT\r\n"
			   "h APPEND INBOX {10}\r\nS: \xc3\xa9\r\n\r\nx\r\n",
			   NULL, NULL, &f);

	(void)st;
	has(o, "a NO [CANNOT] 8-bit octets in message header fields need "
	    "ENABLE UTF8=ACCEPT\r\n");
	has(o, "b OK [APPENDUID 1 4]");
	has(o, "c NO [CANNOT]");	/* the second message's header */
	has(o, "* ENABLED\r\ne OK");
	has(o, "* ENABLED UTF8=ACCEPT\r\ng OK");
	has(o, "h OK [APPENDUID 1 5]");
	assert_int_equal(imap_fake_count(f, "INBOX"), 5);
	imap_fake_free(&f);
	free(o);
}

/* Keywords of one message past 256 octets in all (the store bounds
 * their count). */
static void
test_append_long_keywords(void **st)
{
	struct imap_fake *f;
	char *o = play_all(&DEFAULT_BOUNDS,
			   "a APPEND INBOX (keyword001 keyword002 keyword003 "
			   "keyword004 keyword005 keyword006 keyword007 "
			   "keyword008 keyword009 keyword010 keyword011 "
			   "keyword012 keyword013 keyword014 keyword015 "
			   "keyword016 keyword017 keyword018 keyword019 "
			   "keyword020 keyword021 keyword022 keyword023 "
			   "keyword024 keyword025) {1}\r\nx\r\n",
			   NULL, NULL, &f);

	(void)st;
	has(o, "a OK [APPENDUID 1 4]");
	imap_fake_free(&f);
	free(o);
}

static void
test_utf8_mailbox_names(void **st)
{
	struct imap_fake *f;
	char *o = play_all(&DEFAULT_BOUNDS,
			   /* rev1 without UTF-8: modified UTF-7 */
			   "a CREATE Caf&AOk-\r\n"
			   "b LIST \"\" Caf*\r\n"
			   "c ENABLE UTF8=ACCEPT\r\n"
			   "d LIST \"\" Caf*\r\n"
			   "e CREATE \"R\xc3\xa9sum\xc3\xa9\"\r\n"
			   "f STATUS \"R\xc3\xa9sum\xc3\xa9\" (MESSAGES)\r\n"
			   /* "&" is itself now: no such folder */
			   "g SELECT Caf&AOk-\r\n"
			   "h APPEND \"Caf\xc3\xa9\" {1}\r\nx\r\n"
			   "i CREATE \"bad\xc3\"\r\n",
			   NULL, NULL, &f);

	(void)st;
	has(o, "* LIST (\\HasNoChildren) \"/\" \"Caf&AOk-\"\r\nb OK");
	has(o, "* LIST (\\HasNoChildren) \"/\" \"Caf\xc3\xa9\"\r\nd OK");
	has(o, "e OK");
	has(o, "* STATUS \"R\xc3\xa9sum\xc3\xa9\" (MESSAGES 0)");
	has(o, "g NO");
	has(o, "h OK [APPENDUID ");
	has(o, "i BAD Mailbox name is not valid UTF-8");
	assert_true(imap_fake_exists(f, "R\xc3\xa9sum\xc3\xa9"));
	assert_int_equal(imap_fake_count(f, "Caf\xc3\xa9"), 1);
	imap_fake_free(&f);
	free(o);
}

/* RFC 6855 3 and its erratum 4029: no CHARSET in SEARCH, only UTF-8 in
 * SORT and THREAD once UTF8=ACCEPT is on; before, as RFC 9051. */
static void
test_utf8_search_charset(void **st)
{
	char *o = play_all(&DEFAULT_BOUNDS,
			   "a SELECT INBOX\r\n"
			   "b SEARCH CHARSET US-ASCII ALL\r\n"
			   "b2 UNSELECT\r\nc ENABLE UTF8=ACCEPT\r\n"
			   "c2 SELECT INBOX\r\n"
			   "d SEARCH CHARSET UTF-8 ALL\r\n"
			   "e SEARCH RETURN (COUNT) CHARSET UTF-8 ALL\r\n"
			   "f SEARCH SUBJECT \"\xc3\xa9\"\r\n"
			   "g SORT (SUBJECT) US-ASCII ALL\r\n"
			   "h SORT (SUBJECT) UTF-8 ALL\r\n"
			   "i THREAD REFERENCES US-ASCII ALL\r\n",
			   NULL, NULL, NULL);

	(void)st;
	has(o, "* SEARCH 1 2 3\r\nb OK");
	has(o, "d BAD No CHARSET after ENABLE UTF8=ACCEPT");
	has(o, "e BAD No CHARSET");
	has(o, "* SEARCH\r\nf OK");
	has(o, "g BAD Only UTF-8");
	has(o, "* SORT 1 2 3\r\nh OK");
	has(o, "i BAD Only UTF-8");
	free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multiappend_three),
		cmocka_unit_test(test_multiappend_toobig_in_the_middle),
		cmocka_unit_test(test_multiappend_toobig_literal_plus),
		cmocka_unit_test(test_multiappend_count_and_size_bounds),
		cmocka_unit_test(test_multiappend_store_fails),
		cmocka_unit_test(test_multiappend_bad_syntax),
		cmocka_unit_test(test_multiappend_argument_bound),
		cmocka_unit_test(test_utf8_append),
		cmocka_unit_test(test_utf8_header_needs_enable),
		cmocka_unit_test(test_append_long_keywords),
		cmocka_unit_test(test_utf8_mailbox_names),
		cmocka_unit_test(test_utf8_search_charset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
