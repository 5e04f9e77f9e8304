/*
 * Unit tests of the IMAP core's selected state (proto/imap_cmd_select.c,
 * imap_cmd_msg.c, imap_cmd_append.c) over the in-memory store of
 * imap_fake.h: SELECT and EXAMINE responses (rev1 and rev2), the untagged
 * updates and when they may be said (no EXPUNGE during FETCH, STORE or
 * SEARCH by number), \Recent, FETCH's \Seen, STORE with .SILENT and
 * UNCHANGEDSINCE, EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT, COPY and MOVE
 * with COPYUID (and it and MODIFIED right after another session's
 * expunge), APPEND streamed with APPENDUID, TOOBIG and TRYCREATE,
 * IDLE, SEARCHRES's "$", a lost UIDVALIDITY, and a large FETCH written
 * in pieces (IMAP_ACT_OUTPUT, resume).  From RFC 9051, RFC 3501, RFC
 * 4315, RFC 6851, RFC 7162 and RFC 5182.  Each script is fed whole, octet
 * by octet and in pieces of 5; all must give the same responses.
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
#define MSG2 "From: b@example.org\nSubject: two\n\nsecond body\n"
#define MSG3 "From: c@example.org\nSubject: three\n\nthird body\n"

/* What a test does between pieces of its script. */
struct hook {
	void (*fn)(struct imap_fake *f, void *arg);
	void *arg;
	const char *after;	/* run once the output holds this */
};

struct sess {
	struct imap_conf conf;
	struct imap_server *s;
	struct imap_fake *f;
	struct buf *out;	/* what the core writes */
	struct buf *all;	/* everything sent so far */
	bool closed;
};

/* The output "sent": moved to x->all. */
static void
drain(struct sess *x)
{
	buf_add(x->all, x->out->data, x->out->len);
	buf_reset(x->out);
}

static void
sess_open(struct sess *x, struct imap_fake *f, size_t out_max)
{
	memset(x, 0, sizeof(*x));
	x->conf.hostname = "imap.test";
	x->conf.max_errors = 20;
	x->conf.max_auth_failures = 3;
	x->conf.append_max = 1000;
	x->conf.out_max = out_max;
	x->f = f;
	x->s = imap_server_new(&x->conf);
	x->out = buf_new(1 << 22);
	x->all = buf_new(1 << 22);
	imap_server_plain_auth(x->s, true);
	imap_server_clock(x->s, IMAP_FAKE_NOW);
}

static void
sess_close(struct sess *x)
{
	imap_server_free(&x->s);
	buf_free(&x->out);
	buf_free(&x->all);
}

/* Answers the actions the core asks for until it waits for input. */
static void
answer(struct sess *x, enum imap_act a)
{
	for (;;) {
		if (a == IMAP_ACT_LOGIN) {
			imap_server_set_mbox(x->s, &imap_fake_ops, x->f);
			a = imap_server_login_done(x->s, IMAP_LOGIN_OK,
						   x->out);
		} else if (a == IMAP_ACT_OUTPUT) {
			drain(x);
			a = imap_server_resume(x->s, x->out);
		} else {
			break;
		}
	}
	if (a == IMAP_ACT_CLOSE)
		x->closed = true;
	drain(x);
}

/* Feeds text in pieces of chunk octets (0: whole). */
static void
feed(struct sess *x, const char *text, size_t chunk)
{
	size_t len = strlen(text), off = 0;

	while (off < len && !x->closed) {
		size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
		size_t used;
		enum imap_act a = imap_server_feed(x->s, text + off, n, &used,
						   x->out);

		off += used;
		answer(x, a);
	}
}

/*
 * A fresh fake with INBOX holding MSG1..MSG3 (UIDs 1-3), a session
 * logged in, then script fed in pieces; hook (if any) runs between two
 * scripts.  The responses after the login, as a string to free.
 */
static char *
play(const char *script, const char *script2, const struct hook *hook,
     size_t chunk, size_t out_max)
{
	struct imap_fake *f = imap_fake_new();
	struct sess x;
	char *r;
	size_t skip;

	imap_fake_deliver(f, "INBOX", MSG1);
	imap_fake_deliver(f, "INBOX", MSG2);
	imap_fake_deliver(f, "INBOX", MSG3);
	sess_open(&x, f, out_max);
	feed(&x, "L LOGIN alice secret\r\n", 0);
	skip = x.all->len;
	feed(&x, script, chunk);
	if (hook != NULL) {
		hook->fn(f, hook->arg);
		answer(&x, imap_server_poll(x.s, x.out));
	}
	if (script2 != NULL)
		feed(&x, script2, chunk);
	assert_int_equal(imap_fake_open_handles(f), 0);
	r = xstrdup(x.all->data + skip);
	sess_close(&x);
	assert_false(imap_fake_appending(f));
	imap_fake_free(&f);
	return r;
}

/* Plays the script whole, octet by octet and in fives: the same
 * responses each time; they are returned (free them). */
static char *
play_all(const char *script, const char *script2, const struct hook *hook)
{
	char *whole = play(script, script2, hook, 0, 1 << 20);
	static const size_t chunks[] = {1, 5};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *other = play(script, script2, hook, chunks[i], 1 << 20);

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

/* want comes before later in out. */
static void
before(const char *out, const char *want, const char *later)
{
	const char *a = strstr(out, want), *b = strstr(out, later);

	if (a == NULL || b == NULL || a > b)
		fail_msg("\"%s\" not before \"%s\" in:\n%s", want, later, out);
}

/* --- SELECT and EXAMINE --------------------------------------------------- */

static void
test_select_rev1(void **st)
{
	char *o = play_all("a SELECT inbox\r\n", NULL, NULL);

	(void)st;
	has(o, "* 3 EXISTS\r\n");
	has(o, "* 3 RECENT\r\n");
	has(o, "* OK [UNSEEN 1]");
	has(o, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
	has(o, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft \\*)]");
	has(o, "* OK [UIDVALIDITY 1]");
	has(o, "* OK [UIDNEXT 4]");
	has(o, "* OK [HIGHESTMODSEQ ");
	has(o, "a OK [READ-WRITE] SELECT completed\r\n");
	hasnt(o, "* LIST");	/* rev2 only */
	free(o);
}

static void
test_select_rev2_and_examine(void **st)
{
	char *o = play_all("e ENABLE IMAP4rev2\r\na EXAMINE INBOX\r\n"
			   "b SELECT INBOX\r\n", NULL, NULL);

	(void)st;
	has(o, "* ENABLED IMAP4rev2\r\n");
	has(o, "* LIST () \"/\" \"INBOX\"\r\n");
	hasnt(o, "RECENT");
	hasnt(o, "[UNSEEN");
	has(o, "* OK [PERMANENTFLAGS ()]");
	has(o, "a OK [READ-ONLY] EXAMINE completed\r\n");
	/* a second SELECT closes the first mailbox first (RFC 9051 7.1) */
	before(o, "a OK [READ-ONLY]", "* OK [CLOSED]");
	before(o, "* OK [CLOSED]", "b OK [READ-WRITE] SELECT completed");
	free(o);
}

static void
test_select_missing_leaves_selected_state(void **st)
{
	char *o = play_all("a SELECT INBOX\r\nb SELECT nosuch\r\n"
			   "c FETCH 1 FLAGS\r\nd SELECT \"bad\r\n", NULL,
			   NULL);

	(void)st;
	has(o, "b NO [NONEXISTENT]");
	has(o, "c BAD");	/* not selected any more */
	has(o, "d BAD");
	free(o);
}

/* How many times needle is in out. */
static int
occurs(const char *out, const char *needle)
{
	int n = 0;

	for (const char *p = out; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/*
 * rev1's \Recent under EXAMINE (RFC 3501 2.3.2, 6.3.2, 6.3.10): the
 * messages no session has claimed are recent in the EXAMINE session (its
 * RECENT, FETCH FLAGS, SEARCH RECENT) and stay recent for the first
 * SELECT; STATUS RECENT counts them, and of the selected mailbox says
 * the session's own.
 */
static void
test_examine_shows_recent_without_claiming(void **st)
{
	char *o = play_all("a STATUS INBOX (MESSAGES RECENT)\r\n"
			   "b EXAMINE INBOX\r\nc FETCH 1:3 FLAGS\r\n"
			   "d SEARCH RECENT\r\ne STATUS INBOX (RECENT)\r\n"
			   "f CLOSE\r\ng STATUS INBOX (RECENT)\r\n"
			   "h SELECT INBOX\r\ni STATUS INBOX (RECENT)\r\n"
			   "j CLOSE\r\nk STATUS INBOX (RECENT)\r\n"
			   "l EXAMINE INBOX\r\nm FETCH 1 FLAGS\r\n", NULL,
			   NULL);

	(void)st;
	has(o, "* STATUS \"INBOX\" (MESSAGES 3 RECENT 3)\r\na OK");
	has(o, "* 3 EXISTS\r\n* 3 RECENT\r\n");
	has(o, "* 1 FETCH (FLAGS (\\Recent))\r\n"
	    "* 2 FETCH (FLAGS (\\Recent))\r\n"
	    "* 3 FETCH (FLAGS (\\Recent))\r\nc OK");
	has(o, "* SEARCH 1 2 3\r\nd OK");
	has(o, "* STATUS \"INBOX\" (RECENT 3)\r\ne OK");
	has(o, "* STATUS \"INBOX\" (RECENT 3)\r\ng OK");
	/* the SELECT after it still gets them */
	has(strstr(o, "g OK"), "* 3 RECENT\r\n");
	has(o, "h OK [READ-WRITE]");
	has(o, "* STATUS \"INBOX\" (RECENT 3)\r\ni OK");
	/* claimed now: nobody else sees them as recent */
	has(o, "* STATUS \"INBOX\" (RECENT 0)\r\nk OK");
	has(o, "* 0 RECENT\r\n");
	has(o, "* 1 FETCH (FLAGS ())\r\nm OK");
	assert_int_equal(occurs(o, "* 3 RECENT\r\n"), 2);
	free(o);
}

/* --- FETCH's frame --------------------------------------------------------- */

static void
test_fetch_sets_seen_unless_peek_or_examine(void **st)
{
	char *o = play_all("a SELECT INBOX\r\nb FETCH 1 BODY.PEEK[TEXT]\r\n"
			   "c FETCH 2 BODY[TEXT]\r\nd FETCH 1:3 FLAGS\r\n",
			   NULL, NULL);

	(void)st;
	has(o, "second body");
	has(o, "* 2 FETCH (");
	/* the \Seen it set is shown with the body (RFC 9051 6.4.5) */
	has(o, "d OK");
	has(o, "* 1 FETCH (FLAGS (\\Recent))");
	has(o, "* 2 FETCH (FLAGS (\\Seen \\Recent))");
	free(o);
	o = play_all("a EXAMINE INBOX\r\nc FETCH 2 BODY[TEXT]\r\n"
		     "d FETCH 2 FLAGS\r\n", NULL, NULL);
	has(o, "* 2 FETCH (FLAGS (\\Recent))");	/* no \Seen */
	free(o);
}

static void
test_fetch_bad_sets(void **st)
{
	char *o = play_all("a SELECT INBOX\r\nb FETCH 4 FLAGS\r\n"
			   "c FETCH 0 FLAGS\r\nd UID FETCH 4:9 FLAGS\r\n"
			   "e FETCH 1,x FLAGS\r\nf FETCH 1 (FLAGS\r\n"
			   "g FETCH 1 NOSUCH\r\n", NULL, NULL);

	(void)st;
	has(o, "b BAD");
	has(o, "c BAD");
	has(o, "d OK");		/* UIDs not there are no error */
	hasnt(o, "* 4 FETCH");
	has(o, "e BAD");
	has(o, "f BAD");
	has(o, "g BAD");
	free(o);
}

/* The bounds of a logged-in command: a sequence set of more than 10,000
 * elements, and a kept literal past 64 KiB (refused before it is sent). */
static void
test_logged_in_bounds(void **st)
{
	struct buf *cmd = buf_new(1 << 20);
	char *o;

	(void)st;
	buf_addstr(cmd, "a SELECT INBOX\r\nb FETCH 1");
	for (int i = 0; i < 10000; i++)
		buf_addstr(cmd, ",1");
	buf_addstr(cmd, " FLAGS\r\nc SEARCH SUBJECT {70000}\r\n"
		   "d NOOP\r\n");
	o = play(cmd->data, NULL, NULL, 0, 1 << 20);
	has(o, "b BAD");
	has(o, "c NO [TOOBIG]");
	hasnt(o, "+ Ready");
	has(o, "d OK NOOP completed");
	free(o);
	buf_free(&cmd);
}

static void
test_fetch_empty_mailbox_star(void **st)
{
	char *o = play_all("a SELECT Trash\r\nb FETCH 1:* FLAGS\r\n"
			   "c UID FETCH 1:* FLAGS\r\n", NULL, NULL);

	(void)st;
	has(o, "* 0 EXISTS");
	has(o, "b OK");
	has(o, "c OK");
	hasnt(o, "FETCH (");
	free(o);
}

/* A large FETCH in pieces gives the same octets as in one go. */
static void
test_fetch_output_in_pieces(void **st)
{
	const char *script = "a SELECT INBOX\r\nb FETCH 1:3 (BODY.PEEK[] "
			     "FLAGS)\r\nc NOOP\r\n";
	char *whole = play(script, NULL, NULL, 0, 1 << 20);

	(void)st;
	for (size_t max = 1; max < 80; max += 13) {
		char *bits = play(script, NULL, NULL, 3, max);

		assert_string_equal(bits, whole);
		free(bits);
	}
	has(whole, "third body");
	has(whole, "c OK");
	free(whole);
}

/* --- untagged updates ----------------------------------------------------- */

/* Another session expunges the message of UID *arg (NULL: 2). */
static void
other_expunges(struct imap_fake *f, void *arg)
{
	uint32_t uid = arg != NULL ? *(uint32_t *)arg : 2;

	assert_int_equal(imap_fake_other_expunge(f, "INBOX", uid), 0);
}

/* Bodies on both sides of a message expunged by another session after
 * SELECT: the FETCH's one writer goes from the first to the third, in
 * any output step, and the command says NO [EXPUNGEISSUED]. */
static void
test_fetch_bodies_around_a_gone_message(void **st)
{
	struct hook h = {other_expunges, NULL, NULL};
	const char *script = "b FETCH 1:3 (BODY.PEEK[])\r\nc NOOP\r\n";
	char *whole = play("a SELECT INBOX\r\n", script, &h, 0, 1 << 20);

	(void)st;
	for (size_t max = 1; max < 200; max += 37) {
		char *bits = play("a SELECT INBOX\r\n", script, &h, 0, max);

		assert_string_equal(bits, whole);
		free(bits);
	}
	has(whole, "* 1 FETCH (BODY[] {49}\r\nFrom: a@example.org\r\n"
	    "Subject: one\r\n\r\nfirst body\r\n)\r\n");
	has(whole, "* 3 FETCH (BODY[] {51}\r\nFrom: c@example.org\r\n"
	    "Subject: three\r\n\r\nthird body\r\n)\r\n");
	hasnt(whole, "* 2 FETCH");
	has(whole, "b NO [EXPUNGEISSUED]");
	free(whole);
}

static void
test_no_expunge_during_fetch_store_search(void **st)
{
	struct hook h = {other_expunges, NULL, NULL};
	char *o = play_all("a SELECT INBOX\r\n", "b FETCH 1:3 FLAGS\r\n"
			   "c STORE 1 +FLAGS (\\Flagged)\r\n"
			   "d SEARCH ALL\r\ne NOOP\r\n", &h);

	(void)st;
	/* FETCH skips the message gone and says so, without EXPUNGE */
	has(o, "b NO [EXPUNGEISSUED]");
	hasnt(o, "* 2 FETCH");
	before(o, "d OK", "* 2 EXPUNGE");
	before(o, "* 2 EXPUNGE", "e OK");
	hasnt(strstr(o, "b NO"), "EXISTS");
	has(o, "* SEARCH 1 3\r\n");
	free(o);
}

static void
test_uid_commands_may_say_expunge(void **st)
{
	struct hook h = {other_expunges, NULL, NULL};
	char *o = play_all("a SELECT INBOX\r\n", "b UID FETCH 1:* FLAGS\r\n",
			   &h);

	(void)st;
	has(o, "* 1 FETCH (UID 1 FLAGS (\\Recent))");
	has(o, "* 3 FETCH (UID 3 FLAGS (\\Recent))");
	before(o, "* 3 FETCH", "* 2 EXPUNGE");
	before(o, "* 2 EXPUNGE", "b OK");
	free(o);
}

static void
deliver_one(struct imap_fake *f, void *arg)
{
	(void)arg;
	assert_int_equal(imap_fake_deliver(f, "INBOX", MSG1), 4);
	assert_int_equal(imap_fake_other_store(f, "INBOX", 1,
					       IMAP_STORE_ADD, IMAP_F_SEEN,
					       "Work"), 0);
}

static void
test_noop_reports_new_mail_and_flags(void **st)
{
	struct hook h = {deliver_one, NULL, NULL};
	char *o = play_all("a SELECT INBOX\r\n", "b NOOP\r\n", &h);

	(void)st;
	has(o, "* 4 EXISTS\r\n* 4 RECENT\r\n");
	has(o, "* 1 FETCH (FLAGS (\\Seen \\Recent Work))");
	before(o, "* 4 EXISTS", "b OK NOOP completed");
	free(o);
}

static void
test_idle(void **st)
{
	struct hook h = {deliver_one, NULL, NULL};
	char *o = play_all("a SELECT INBOX\r\nb IDLE\r\n", "DONE\r\n"
			   "c IDLE\r\nnope\r\n", &h);

	(void)st;
	has(o, "+ idling\r\n");
	/* the poll said it while idling, before DONE's OK */
	before(o, "* 4 EXISTS", "b OK IDLE terminated");
	has(o, "c BAD");
	free(o);
}

static void
new_uidvalidity(struct imap_fake *f, void *arg)
{
	(void)arg;
	assert_int_equal(imap_fake_set_uidvalidity(f, "INBOX", 99), 0);
}

static void
test_uidvalidity_lost_is_bye(void **st)
{
	struct hook h = {new_uidvalidity, NULL, NULL};
	char *o = play_all("a SELECT INBOX\r\n", "b NOOP\r\nc NOOP\r\n", &h);

	(void)st;
	has(o, "* BYE The selected folder was deleted, renamed or "
	    "renumbered (UIDVALIDITY); select it again\r\n");
	hasnt(o, "UIDVALIDITY changed"); /* the store's words: a path */
	hasnt(o, "b OK");
	hasnt(o, "c ");
	free(o);
}

/* --- STORE ---------------------------------------------------------------- */

static void
test_store(void **st)
{
	char *o = play_all("a SELECT INBOX\r\n"
			   "b STORE 1 +FLAGS (\\Deleted $Label1)\r\n"
			   "c STORE 2 FLAGS.SILENT \\Seen\r\n"
			   "d UID STORE 3 -FLAGS (\\Recent)\r\n"
			   "e STORE 2:3 +FLAGS (\\Answered)\r\n"
			   "f FETCH 2 FLAGS\r\n", NULL, NULL);

	(void)st;
	has(o, "* 1 FETCH (FLAGS (\\Deleted \\Recent $Label1))\r\nb OK");
	has(o, "\r\nc OK");	/* silent: nothing untagged */
	has(o, "d BAD");	/* \Recent cannot be stored */
	has(o, "* 3 FETCH (FLAGS (\\Answered \\Recent))");
	has(o, "* 2 FETCH (FLAGS (\\Answered \\Seen \\Recent))\r\nf OK");
	free(o);
}

#define SYS_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

/*
 * A keyword new to the session is said in FLAGS and PERMANENTFLAGS
 * before the first FETCH that shows it (RFC 9051 7.3.5), once: the
 * session's own STORE (.SILENT too), matched without case.
 */
static void
test_store_says_new_keywords_in_flags(void **st)
{
	char *o = play_all("a SELECT INBOX\r\n"
			   "b STORE 1 +FLAGS ($Hello)\r\n"
			   "c STORE 2 +FLAGS ($hello World)\r\n"
			   "d STORE 1:2 -FLAGS (World)\r\n"
			   "e STORE 3 +FLAGS.SILENT (Quiet)\r\n"
			   "f STORE 3 FLAGS (\\Seen world $HELLO)\r\n",
			   NULL, NULL);

	(void)st;
	has(o, "* FLAGS (" SYS_FLAGS ")\r\n");
	has(o, "* FLAGS (" SYS_FLAGS " $Hello)\r\n"
	    "* OK [PERMANENTFLAGS (" SYS_FLAGS " $Hello \\*)] Flags "
	    "permitted\r\n* 1 FETCH (FLAGS (\\Recent $Hello))\r\nb OK");
	has(o, "* FLAGS (" SYS_FLAGS " $Hello World)\r\n"
	    "* OK [PERMANENTFLAGS (" SYS_FLAGS " $Hello World \\*)] Flags "
	    "permitted\r\n* 2 FETCH (");
	has(o, "* FLAGS (" SYS_FLAGS " $Hello World Quiet)\r\n"
	    "* OK [PERMANENTFLAGS (" SYS_FLAGS " $Hello World Quiet \\*)] "
	    "Flags permitted\r\ne OK");
	/* SELECT's, b's, c's, e's: none for d and f (known, any case) */
	assert_int_equal(occurs(o, "* FLAGS ("), 4);
	assert_int_equal(occurs(o, "* OK [PERMANENTFLAGS ("), 4);
	free(o);
}

static void
other_sets_keyword(struct imap_fake *f, void *arg)
{
	assert_int_equal(imap_fake_other_store(f, "INBOX", 1, IMAP_STORE_ADD,
					       0, arg), 0);
}

/*
 * The same when the keyword comes another way: another session's STORE
 * seen at NOOP (EXAMINE too, with its empty PERMANENTFLAGS), a COPY into
 * the selected mailbox of a message whose keyword the session has not
 * seen yet, an APPEND into it.
 */
static void
test_others_new_keywords_in_flags(void **st)
{
	struct hook h = {other_sets_keyword, "Other", NULL};
	char *o = play_all("a SELECT INBOX\r\n",
			   "b NOOP\r\n"
			   "c APPEND INBOX (Appended) {1+}\r\nx\r\n"
			   "d FETCH 4 FLAGS\r\n", &h);

	(void)st;
	has(o, "* FLAGS (" SYS_FLAGS " Other)\r\n"
	    "* OK [PERMANENTFLAGS (" SYS_FLAGS " Other \\*)] Flags "
	    "permitted\r\n* 1 FETCH (FLAGS (\\Recent Other))\r\nb OK");
	has(o, "* FLAGS (" SYS_FLAGS " Other Appended)\r\n");
	before(o, "* FLAGS (" SYS_FLAGS " Other Appended)", "c OK");
	has(o, "* 4 FETCH (FLAGS (\\Recent Appended))\r\nd OK");
	free(o);
	h.arg = "Seen1";
	o = play_all("a EXAMINE INBOX\r\n", "b NOOP\r\n", &h);
	has(o, "* FLAGS (" SYS_FLAGS " Seen1)\r\n"
	    "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"
	    "* 1 FETCH (FLAGS (\\Recent Seen1))\r\nb OK");
	free(o);
	/* COPY: the other session's keyword is new to this one; the
	 * copy's sync says it before the change's FETCH */
	h.arg = "Copied";
	o = play_all("a SELECT INBOX\r\n", "b COPY 1 INBOX\r\n"
		     "c FETCH 4 FLAGS\r\n", &h);
	has(o, "* FLAGS (" SYS_FLAGS " Copied)\r\n");
	before(o, "* FLAGS (" SYS_FLAGS " Copied)", "* 1 FETCH");
	has(o, "* 4 FETCH (FLAGS (\\Recent Copied))\r\nc OK");
	assert_int_equal(occurs(o, "* FLAGS ("), 2);
	free(o);
}

/* A keyword of 99 octets: "k", i in three digits, 95 zeros. */
static void
add_long_keywords(struct buf *cmd, int from, int to)
{
	for (int i = from; i < to; i++)
		buf_printf(cmd, "%sk%03d%095d", i > from ? " " : "", i, 0);
}

/*
 * The keywords told are bounded as SELECT's list is: 64 KiB of names
 * (IMAP_KEYWORDS_LIST_MAX), here 655 of 99 octets and a space; one past
 * it is not said (and FLAGS is not sent again for it).  A STORE takes
 * 4 KiB of keywords, so they come 40 at a time.
 */
static void
test_told_keywords_bounded(void **st)
{
	struct buf *cmd = buf_new(1 << 20), *last = buf_new(256);
	char *o;

	(void)st;
	buf_addstr(cmd, "a SELECT INBOX\r\n");
	for (int i = 0; i < 18; i++) {	/* k000 .. k719 */
		buf_printf(cmd, "b%02d STORE %d +FLAGS (", i, i % 3 + 1);
		add_long_keywords(cmd, 40 * i, 40 * i + 40);
		buf_addstr(cmd, ")\r\n");
	}
	buf_addstr(cmd, "c NOOP\r\n");
	o = play_all(cmd->data, NULL, NULL);
	has(o, "c OK");
	/* SELECT's, then b00..b16's; b16 adds k640..k654 only */
	assert_int_equal(occurs(o, "* FLAGS ("), 18);
	buf_printf(last, " k654%095d)\r\n* OK [PERMANENTFLAGS (", 0);
	has(o, last->data);
	/* no FLAGS or PERMANENTFLAGS line names k655 or later */
	for (const char *p = o; (p = strstr(p, "FLAGS (\\Answered")) != NULL;
	     p++) {
		const char *eol = strstr(p, "\r\n");
		const char *k = strstr(p, " k655");

		assert_true(k == NULL || k > eol);
	}
	free(o);
	buf_free(&last);
	buf_free(&cmd);
}

static void
test_store_unchangedsince(void **st)
{
	char *o = play_all("a SELECT INBOX (CONDSTORE)\r\n"
			   "b STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS \\Seen\r\n"
			   "c STORE 1 +FLAGS.SILENT \\Seen\r\n"
			   "d EXAMINE INBOX\r\ne STORE 1 +FLAGS \\Seen\r\n",
			   NULL, NULL);

	(void)st;
	has(o, "b OK [MODIFIED 1:3]");
	/* silent with CONDSTORE: the new MODSEQ only (RFC 7162 3.1.3) */
	has(o, "* 1 FETCH (MODSEQ (");
	has(o, "e NO [READ-ONLY]");
	free(o);
}

/* --- EXPUNGE, CLOSE, UNSELECT ---------------------------------------------- */

static void
test_expunge_and_uid_expunge(void **st)
{
	char *o = play_all("a SELECT INBOX\r\n"
			   "b STORE 1:3 +FLAGS.SILENT (\\Deleted)\r\n"
			   "c UID EXPUNGE 2:3\r\nd FETCH 1 UID\r\n"
			   "e EXPUNGE\r\nf NOOP\r\n", NULL, NULL);

	(void)st;
	has(o, "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nc OK");
	has(o, "* 1 FETCH (UID 1)");
	has(o, "* 1 EXPUNGE\r\ne OK");
	free(o);
}

static void
test_close_expunges_silently_unselect_does_not(void **st)
{
	char *o = play_all("a SELECT INBOX\r\nb STORE 1 +FLAGS (\\Deleted)\r\n"
			   "c UNSELECT\r\nd SELECT INBOX\r\ne CLOSE\r\n"
			   "f SELECT INBOX\r\ng FETCH 1 FLAGS\r\n", NULL,
			   NULL);

	(void)st;
	has(o, "c OK");
	has(o, "* 3 EXISTS");	/* UNSELECT kept it */
	hasnt(o, "EXPUNGE\r\n");
	has(o, "e OK");
	has(o, "* 2 EXISTS");	/* CLOSE removed it */
	free(o);
}

/* --- COPY and MOVE -------------------------------------------------------- */

static void
test_copy_and_move(void **st)
{
	char *o = play_all("a SELECT INBOX\r\nb COPY 1:2 Trash\r\n"
			   "c COPY 1 Nosuch\r\nd MOVE 2 Archive\r\n"
			   "e UID MOVE 9 Archive\r\nf UID COPY 3 Trash\r\n",
			   NULL, NULL);

	(void)st;
	has(o, "b OK [COPYUID 4 1:2 1:2] COPY completed");
	has(o, "c NO [TRYCREATE]");
	has(o, "* OK [COPYUID 6 2 1] Moved\r\n* 2 EXPUNGE\r\nd OK");
	has(o, "e OK");
	has(o, "f OK [COPYUID 4 3 3]");
	free(o);
}

static uint32_t uid_1 = 1;

/* COPYUID names the messages copied even when the sync at the end of the
 * command says another session's expunge before them: the source UIDs
 * are taken before the positions move (owld said 3 for UID 2, and for
 * UID 3 read past the end of the view and died of it; found by make
 * torture's imap mode). */
static void
test_copyuid_after_another_sessions_expunge(void **st)
{
	struct hook h = {other_expunges, &uid_1, NULL};
	char *o = play_all("a SELECT INBOX\r\n", "b UID COPY 2:3 Trash\r\n",
			   &h);

	(void)st;
	has(o, "* 1 EXPUNGE\r\nb OK [COPYUID 4 2:3 1:2] UID COPY completed");
	free(o);
}

/* The same for UID STORE's [MODIFIED]: the UIDs left alone, not those
 * at their old positions after the sync's expunge. */
static void
test_modified_after_another_sessions_expunge(void **st)
{
	struct hook h = {other_expunges, &uid_1, NULL};
	char *o = play_all("a SELECT INBOX\r\n", "b UID STORE 2:3 "
			   "(UNCHANGEDSINCE 0) +FLAGS (\\Seen)\r\n", &h);

	(void)st;
	has(o, "* 1 EXPUNGE\r\nb OK [MODIFIED 2:3]");
	free(o);
}

/* --- APPEND --------------------------------------------------------------- */

static void
test_append(void **st)
{
	char *o = play_all("a SELECT INBOX\r\n"
			   "b APPEND INBOX (\\Seen) \"01-Feb-2026 10:00:00 "
			   "+0100\" {11}\r\nHi\r\n\r\nthere\r\n"
			   "c APPEND Drafts {4+}\r\nx\r\ny\r\n"
			   "d APPEND Nosuch {3}\r\nabc\r\n"
			   "e APPEND INBOX {5000}\r\n"
			   "f APPEND INBOX (\\Recent) {3}\r\nabc\r\n"
			   "g APPEND INBOX {3}\r\nabc extra\r\n"
			   "h FETCH 4 (FLAGS INTERNALDATE RFC822.SIZE)\r\n",
			   NULL, NULL);

	(void)st;
	has(o, "+ Ready for literal data\r\n");
	has(o, "* 4 EXISTS\r\n");
	has(o, "b OK [APPENDUID 1 4] APPEND completed");
	has(o, "c OK [APPENDUID 3 1]");
	has(o, "d NO [TRYCREATE]");
	/* too big: refused before the client sends it */
	has(o, "e NO [TOOBIG]");
	has(o, "f BAD");
	has(o, "g BAD");
	/* the date as appended, in its own zone */
	has(o, "INTERNALDATE \" 1-Feb-2026 10:00:00 +0100\"");
	has(o, "RFC822.SIZE 11");
	free(o);
}

/* --- SEARCHRES ------------------------------------------------------------ */

static void
test_search_save_and_dollar(void **st)
{
	char *o = play_all("a SELECT INBOX\r\n"
			   "b SEARCH RETURN (SAVE) SUBJECT t\r\n"
			   "c FETCH $ (UID)\r\nd UID STORE $ +FLAGS \\Flagged\r\n",
			   NULL, NULL);

	(void)st;
	hasnt(o, "* SEARCH");	/* SAVE alone says nothing */
	has(o, "* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\nc OK");
	hasnt(o, "* 1 FETCH (UID");
	has(o, "d OK");
	free(o);
	/* with MIN or MAX alone, only those are saved (RFC 5182 2.4) */
	o = play_all("a SELECT INBOX\r\nb SEARCH RETURN (SAVE MAX) ALL\r\n"
		     "c FETCH $ (UID)\r\nd SEARCH RETURN (SAVE MIN MAX COUNT) "
		     "ALL\r\ne FETCH $ (UID)\r\n", NULL, NULL);
	has(o, "* ESEARCH (TAG \"b\") MAX 3\r\nb OK SEARCH completed\r\n"
	    "* 3 FETCH (UID 3)\r\nc OK");
	has(o, "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n"
	    "* 3 FETCH (UID 3)\r\ne OK");
	free(o);
}

/* --- CONDSTORE ------------------------------------------------------------ */

static void
test_enable_condstore_selected(void **st)
{
	char *o = play_all("a SELECT INBOX\r\nb ENABLE CONDSTORE\r\n"
			   "c FETCH 1 (FLAGS) (CHANGEDSINCE 0)\r\n", NULL,
			   NULL);

	(void)st;
	has(o, "* ENABLED CONDSTORE\r\n* OK [HIGHESTMODSEQ ");
	has(o, "MODSEQ (");
	has(o, "c OK");
	free(o);
}

/* RFC 7162 3.1.9: SORT with a MODSEQ key ends "(MODSEQ m)", m the
 * highest of the messages it returns; it turns CONDSTORE on (3.1), and
 * THREAD's response is unchanged. */
static void
test_sort_modseq(void **st)
{
	char *o = play_all("a SELECT INBOX\r\nb SORT (ARRIVAL) UTF-8 ALL\r\n"
			   "c UID STORE 2 +FLAGS (\\Seen)\r\n"
			   "d SORT (ARRIVAL) UTF-8 MODSEQ 1\r\n"
			   "e UID SORT (ARRIVAL) UTF-8 UID 1 MODSEQ 1\r\n"
			   "f SORT (ARRIVAL) UTF-8 MODSEQ 999\r\n"
			   "g THREAD REFERENCES UTF-8 MODSEQ 1\r\n",
			   NULL, NULL);

	(void)st;
	has(o, "* SORT 1 2 3\r\nb OK");	/* no MODSEQ key, no MODSEQ */
	has(o, "c OK UID STORE completed\r\n* OK [HIGHESTMODSEQ 5] Highest"
	    "\r\n* SORT 1 2 3 (MODSEQ 5)\r\nd OK");
	has(o, "* SORT 1 (MODSEQ 2)\r\ne OK");
	has(o, "* SORT\r\nf OK");		/* none found: none */
	has(o, "* THREAD (1)(2)(3)\r\ng OK");
	free(o);
}

/* RFC 7162 3.1: a MODSEQ search key turns CONDSTORE on in THREAD as in
 * SEARCH and SORT (the HIGHESTMODSEQ before the THREAD response). */
static void
test_thread_modseq_enables_condstore(void **st)
{
	char *o = play_all("a SELECT INBOX\r\n"
			   "b THREAD REFERENCES UTF-8 MODSEQ 1\r\n"
			   "c STORE 1 +FLAGS (\\Seen)\r\n", NULL, NULL);

	(void)st;
	has(o, "* OK [HIGHESTMODSEQ ");
	has(o, "Highest\r\n* THREAD (1)(2)(3)\r\nb OK");
	/* on from then: a STORE's FETCH says MODSEQ (3.1.3) */
	has(o, "* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1 MODSEQ (");
	free(o);
}

static bool
always(void *arg)
{
	(*(unsigned *)arg)++;
	return true;
}

/* The yield hook: asked after each command, a true answer returns from
 * the feed with the next command unread; fed again, it goes on. */
static void
test_yield_between_commands(void **st)
{
	static const char cmds[] = "a NOOP\r\nb SELECT INBOX\r\nc NOOP\r\n";
	struct imap_fake *f = imap_fake_new();
	unsigned asked = 0;
	size_t used, off = 0;
	struct sess x;

	(void)st;
	sess_open(&x, f, 1 << 20);
	feed(&x, "L LOGIN alice secret\r\n", 0);
	buf_reset(x.all);
	imap_server_set_yield(x.s, always, &asked);
	assert_int_equal(imap_server_feed(x.s, cmds, strlen(cmds), &used,
					  x.out), IMAP_ACT_NONE);
	assert_int_equal(used, strlen("a NOOP\r\n"));
	assert_int_equal(asked, 1);
	drain(&x);
	assert_string_equal(x.all->data, "a OK NOOP completed\r\n");
	for (off = used; off < strlen(cmds); off += used)
		answer(&x, imap_server_feed(x.s, cmds + off,
					    strlen(cmds) - off, &used, x.out));
	assert_int_equal(asked, 3);
	has(x.all->data, "b OK [READ-WRITE] SELECT completed\r\n"
	    "c OK NOOP completed\r\n");
	sess_close(&x);
	imap_fake_free(&f);
}

/* COMPRESS=DEFLATE (RFC 4978): offered when the program can; the
 * core stops right after the command so the rest is inflated first. */
static void
test_compress(void **st)
{
	struct imap_fake *f = imap_fake_new();
	struct sess x;
	const char *cmd = "c COMPRESS DEFLATE\r\nxyz";
	size_t used;

	(void)st;
	sess_open(&x, f, 1 << 20);
	feed(&x, "L LOGIN alice secret\r\na COMPRESS DEFLATE\r\n", 0);
	has(x.all->data, "a NO Unknown");
	hasnt(x.all->data, "COMPRESS=DEFLATE");
	sess_close(&x);
	sess_open(&x, f, 1 << 20);
	x.conf.compress = true;
	feed(&x, "L LOGIN alice secret\r\nb COMPRESS LZW\r\n", 0);
	has(x.all->data, "COMPRESS=DEFLATE] Logged in");
	has(x.all->data, "b NO");
	assert_int_equal(imap_server_feed(x.s, cmd, strlen(cmd), &used,
					  x.out), IMAP_ACT_COMPRESS);
	drain(&x);
	assert_int_equal(used, strlen(cmd) - 3);
	has(x.all->data, "c OK DEFLATE active\r\n");
	feed(&x, "d COMPRESS DEFLATE\r\ne CAPABILITY\r\n", 0);
	has(x.all->data, "d NO [COMPRESSIONACTIVE]");
	hasnt(strstr(x.all->data, "e OK") ? strstr(x.all->data, "* CAPA") :
	      "", "COMPRESS=DEFLATE");
	sess_close(&x);
	imap_fake_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_rev1),
		cmocka_unit_test(test_select_rev2_and_examine),
		cmocka_unit_test(test_select_missing_leaves_selected_state),
		cmocka_unit_test(test_examine_shows_recent_without_claiming),
		cmocka_unit_test(test_fetch_sets_seen_unless_peek_or_examine),
		cmocka_unit_test(test_fetch_bad_sets),
		cmocka_unit_test(test_logged_in_bounds),
		cmocka_unit_test(test_fetch_empty_mailbox_star),
		cmocka_unit_test(test_fetch_output_in_pieces),
		cmocka_unit_test(test_fetch_bodies_around_a_gone_message),
		cmocka_unit_test(test_no_expunge_during_fetch_store_search),
		cmocka_unit_test(test_uid_commands_may_say_expunge),
		cmocka_unit_test(test_noop_reports_new_mail_and_flags),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_uidvalidity_lost_is_bye),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_store_says_new_keywords_in_flags),
		cmocka_unit_test(test_others_new_keywords_in_flags),
		cmocka_unit_test(test_told_keywords_bounded),
		cmocka_unit_test(test_store_unchangedsince),
		cmocka_unit_test(test_expunge_and_uid_expunge),
		cmocka_unit_test(test_close_expunges_silently_unselect_does_not),
		cmocka_unit_test(test_copy_and_move),
		cmocka_unit_test(test_copyuid_after_another_sessions_expunge),
		cmocka_unit_test(test_modified_after_another_sessions_expunge),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_search_save_and_dollar),
		cmocka_unit_test(test_enable_condstore_selected),
		cmocka_unit_test(test_sort_modseq),
		cmocka_unit_test(test_thread_modseq_enables_condstore),
		cmocka_unit_test(test_yield_between_commands),
		cmocka_unit_test(test_compress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
