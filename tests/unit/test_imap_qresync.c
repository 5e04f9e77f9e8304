/*
 * Unit tests of QRESYNC (RFC 7162 3.2) in the IMAP core, over the
 * in-memory store of imap_fake.h: ENABLE QRESYNC and its ENABLED
 * response, SELECT/EXAMINE (QRESYNC (...)) with VANISHED (EARLIER) and
 * the FETCH of what changed (known-uids, seq-match-data, a different
 * UIDVALIDITY, nothing changed, not enabled, bad parameters), VANISHED
 * instead of EXPUNGE (NOOP, IDLE, EXPUNGE, UID EXPUNGE, MOVE, after UID
 * commands; never during FETCH, STORE or SEARCH by number), the
 * HIGHESTMODSEQ of EXPUNGE's OK and of held-back expunges (errata 1810),
 * UID FETCH's VANISHED modifier and the UID in unsolicited FETCH
 * (3.2.4).  Each script is fed whole, octet by octet and in pieces of 5;
 * all must give the same responses.
 *
 * The fake's modseqs: HIGHESTMODSEQ starts at 1 and each delivery, flag
 * change and expunge raises it by one, so with ten messages delivered
 * it is 11, and the n-th change after is 11 + n.
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

#define MSG "From: a@example.org\nSubject: hi\n\nbody\n"
#define NMSGS 10		/* UIDs 1-10 in INBOX */
#define H0 "11"			/* HIGHESTMODSEQ once they are delivered */

/* A step of a test: a script fed to the session, or a change made by
 * another session (then the core is polled, as owld does in IDLE). */
struct step {
	const char *script;
	void (*change)(struct imap_fake *f);
};

struct sess {
	struct imap_conf conf;
	struct imap_server *s;
	struct imap_fake *f;
	struct buf *out, *all;
	bool closed;
};

static void
drain(struct sess *x)
{
	buf_add(x->all, x->out->data, x->out->len);
	buf_reset(x->out);
}

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

/* Ten messages in INBOX; before (if any) changes the folder before the
 * session logs in; then the steps.  The responses after the login. */
static char *
play(void (*before)(struct imap_fake *f), const struct step *steps,
     size_t chunk, size_t out_max)
{
	struct imap_fake *f = imap_fake_new();
	struct sess x;
	char *r;
	size_t skip;

	for (int i = 0; i < NMSGS; i++)
		imap_fake_deliver(f, "INBOX", MSG);
	if (before != NULL)
		before(f);
	memset(&x, 0, sizeof(x));
	x.conf = (struct imap_conf){
		.hostname = "imap.test", .max_errors = 50,
		.max_auth_failures = 3, .append_max = 1000,
		.out_max = out_max,
	};
	x.f = f;
	x.s = imap_server_new(&x.conf);
	x.out = buf_new(1 << 22);
	x.all = buf_new(1 << 22);
	imap_server_plain_auth(x.s, true);
	imap_server_clock(x.s, IMAP_FAKE_NOW);
	feed(&x, "L LOGIN alice secret\r\n", 0);
	skip = x.all->len;
	for (const struct step *st = steps; st->script || st->change; st++) {
		if (st->script != NULL) {
			feed(&x, st->script, chunk);
		} else {
			st->change(f);
			answer(&x, imap_server_poll(x.s, x.out));
		}
	}
	assert_int_equal(imap_fake_open_handles(f), 0);
	r = xstrdup(x.all->data + skip);
	imap_server_free(&x.s);
	buf_free(&x.out);
	buf_free(&x.all);
	imap_fake_free(&f);
	return r;
}

/* Whole, octet by octet and in fives (and once with a tiny output
 * bound, so that FETCH goes out in pieces): the same each time. */
static char *
play_all(void (*before)(struct imap_fake *f), const struct step *steps)
{
	char *whole = play(before, steps, 0, 1 << 20);
	static const size_t chunks[] = {1, 5};
	char *small = play(before, steps, 0, 16);

	assert_string_equal(small, whole);
	free(small);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *other = play(before, steps, chunks[i], 1 << 20);

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

static void
before(const char *out, const char *want, const char *later)
{
	const char *a = strstr(out, want), *b = strstr(out, later);

	if (a == NULL || b == NULL || a > b)
		fail_msg("\"%s\" not before \"%s\" in:\n%s", want, later, out);
}

/* --- what others do ------------------------------------------------------ */

/* Expunges 3, 4 and 8 (modseqs 12-14), then \Seen on 5 (15) and
 * \Flagged on 9 (16): HIGHESTMODSEQ 16. */
static void
expunge_and_flag(struct imap_fake *f)
{
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 3), 0);
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 4), 0);
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 8), 0);
	assert_int_equal(imap_fake_other_store(f, "INBOX", 5, IMAP_STORE_ADD,
					       IMAP_F_SEEN, NULL), 0);
	assert_int_equal(imap_fake_other_store(f, "INBOX", 9, IMAP_STORE_ADD,
					       IMAP_F_FLAGGED, NULL), 0);
}

/* UID 2 expunged long ago (modseq 12), then 8 (13): HIGHESTMODSEQ 13. */
static void
old_and_new_expunge(struct imap_fake *f)
{
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 2), 0);
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 8), 0);
}

static void
expunge_2_3_7_flag_5(struct imap_fake *f)
{
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 2), 0);
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 3), 0);
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 7), 0);
	assert_int_equal(imap_fake_other_store(f, "INBOX", 5, IMAP_STORE_ADD,
					       IMAP_F_ANSWERED, NULL), 0);
}

/* 2 expunged (12), then \Seen on 3 (13). */
static void
expunge_2_flag_3(struct imap_fake *f)
{
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", 2), 0);
	assert_int_equal(imap_fake_other_store(f, "INBOX", 3, IMAP_STORE_ADD,
					       IMAP_F_SEEN, NULL), 0);
}

/* --- ENABLE --------------------------------------------------------------- */

static void
test_enable(void **st)
{
	static const struct step steps[] = {
		{"a CAPABILITY\r\nb ENABLE QRESYNC\r\n"
		 "c ENABLE QRESYNC CONDSTORE\r\n", NULL},
		{"d SELECT INBOX\r\ne STORE 1 +FLAGS (\\Seen)\r\n", NULL},
		{NULL, NULL},
	};
	static const struct step both[] = {
		{"a ENABLE QRESYNC CONDSTORE\r\nb ENABLE CONDSTORE QRESYNC\r\n",
		 NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, steps);

	(void)st;
	has(o, " QRESYNC");		/* in CAPABILITY */
	/* it enables CONDSTORE too; listed only what was asked for */
	has(o, "* ENABLED QRESYNC\r\nb OK");
	has(o, "* ENABLED\r\nc OK");	/* both on already */
	has(o, "* OK [HIGHESTMODSEQ " H0 "]");
	has(o, "* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1 MODSEQ (12))");
	free(o);
	o = play_all(NULL, both);
	has(o, "* ENABLED QRESYNC CONDSTORE\r\na OK");
	has(o, "* ENABLED\r\nb OK");
	free(o);
}

/* --- SELECT (QRESYNC ...) ------------------------------------------------- */

/* RFC 7162 3.2.5.1: VANISHED (EARLIER) for the known UIDs gone, before
 * the FETCH (UID, FLAGS, MODSEQ) of each changed since the mod-sequence;
 * nothing else. */
static void
test_select_resync(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC IMAP4rev2\r\n"
		 "b SELECT INBOX (QRESYNC (1 " H0 " 1:10))\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(expunge_and_flag, steps);

	(void)st;
	has(o, "* 7 EXISTS\r\n");
	has(o, "* OK [HIGHESTMODSEQ 16]");
	has(o, "* VANISHED (EARLIER) 3:4,8\r\n");
	has(o, "* 3 FETCH (UID 5 FLAGS (\\Seen) MODSEQ (15))\r\n");
	has(o, "* 6 FETCH (UID 9 FLAGS (\\Flagged) MODSEQ (16))\r\n");
	before(o, "* OK [UIDNEXT", "* VANISHED");
	before(o, "* VANISHED", "* 3 FETCH");
	before(o, "* 6 FETCH", "b OK [READ-WRITE] SELECT completed\r\n");
	hasnt(o, "EXPUNGE");
	hasnt(o, "* 1 FETCH");
	hasnt(o, "* 2 FETCH");
	free(o);
}

/* Without known-uids the server acts as if "1:<maxuid>" (UIDNEXT - 1)
 * were given; known UIDs past it are left out (they may yet be given);
 * only the known messages' changes are said.  EXAMINE too. */
static void
test_select_resync_known_uids(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC IMAP4rev2\r\n"
		 "b EXAMINE INBOX (QRESYNC (1 " H0 "))\r\n"
		 "c SELECT INBOX (QRESYNC (1 " H0 " 1:20))\r\n"
		 "d SELECT INBOX (QRESYNC (1 " H0 " 6:9))\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(expunge_and_flag, steps);
	const char *c = strstr(o, "b OK"), *d = strstr(o, "c OK");

	(void)st;
	assert_non_null(c);
	assert_non_null(d);
	has(o, "* VANISHED (EARLIER) 3:4,8\r\n");
	has(o, "b OK [READ-ONLY] EXAMINE completed");
	/* 1:20: what is past UIDNEXT - 1 is left out */
	has(c, "* VANISHED (EARLIER) 3:4,8\r\n");
	hasnt(o, "11:20");
	/* 6:9: 8 is gone, 9 changed, 5 is not asked about */
	has(d, "* VANISHED (EARLIER) 8\r\n* 6 FETCH (UID 9 ");
	hasnt(d, "UID 5");
	free(o);
}

/* The store keeps no log of expunges: UIDs of the known range the
 * mailbox does not hold are all said, expunged before the client's
 * mod-sequence or never used (RFC 7162 5.1: a superset).  seq-match-data
 * narrows it (3.2.5.2): pairs that match say nothing vanished up to
 * them. */
static void
test_select_resync_superset_and_match_data(void **st)
{
	/* the client last saw 1,3:10 at modseq 12 (2 already gone) */
	static const struct step steps[] = {
		{"a ENABLE QRESYNC IMAP4rev2\r\n"
		 "b SELECT INBOX (QRESYNC (1 12 1:10))\r\n"
		 "c SELECT INBOX (QRESYNC (1 12 1:10 (1:3 1,3:4)))\r\n"
		 "d SELECT INBOX (QRESYNC (1 12 1:10 (1,2,6 1,3,8)))\r\n",
		 NULL},
		{NULL, NULL},
	};
	char *o = play_all(old_and_new_expunge, steps);
	const char *c = strstr(o, "b OK"), *d = strstr(o, "c OK");

	(void)st;
	assert_non_null(c);
	assert_non_null(d);
	has(o, "* VANISHED (EARLIER) 2,8\r\nb OK");
	/* 1->1, 2->3, 3->4 match: nothing up to 4 vanished */
	has(c, "* VANISHED (EARLIER) 8\r\nc OK");
	/* the third pair (6 -> 8) no longer matches: from 4 on */
	has(d, "* VANISHED (EARLIER) 8\r\nd OK");
	hasnt(o, "FETCH");
	free(o);
}

/* RFC 7162 3.2.5.2's example: "if the Nth message number in the first
 * set in the list is 4, and the Nth UID in the second set in the list is
 * 8, and the mailbox's fourth message has UID 8, then no UIDs equal to or
 * less than 8 are present in the VANISHED response.  If the (N+1)th
 * message number is 12, and the (N+1)th UID is 24, and the (N+1)th
 * message in the mailbox has UID 25, then the lowest UID included in the
 * VANISHED response would be 9."  UIDs 1-30, then 2, 3, 5, 6 and 9-17
 * expunged: the 4th message is UID 8, the 12th UID 25. */
static void
more_to_30_and_expunge(struct imap_fake *f)
{
	static const uint32_t gone[] = {2, 3, 5, 6, 9, 10, 11, 12, 13, 14,
					15, 16, 17};

	for (int i = NMSGS; i < 30; i++)
		imap_fake_deliver(f, "INBOX", MSG);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		assert_int_equal(imap_fake_other_expunge(f, "INBOX", gone[i]),
				 0);
}

static void
test_select_resync_rfc_match_data_example(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC IMAP4rev2\r\n"
		 "b SELECT INBOX (QRESYNC (1 31 1:30 (4,12 8,24)))\r\n"
		 "c SELECT INBOX (QRESYNC (1 31 1:30))\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(more_to_30_and_expunge, steps);

	(void)st;
	has(o, "* VANISHED (EARLIER) 9:17\r\nb OK");
	has(o, "* VANISHED (EARLIER) 2:3,5:6,9:17\r\nc OK");
	free(o);
}

/* Nothing is said when nothing changed since (the client's mod-sequence
 * is HIGHESTMODSEQ: every expunge raises it), nor when the UIDVALIDITY
 * differs ("MUST ignore the remaining parameters"). */
static void
test_select_resync_nothing(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC\r\n"
		 "b SELECT INBOX (QRESYNC (1 16 1:10))\r\n"
		 "c SELECT INBOX (QRESYNC (7 1 1:10))\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(expunge_and_flag, steps);

	(void)st;
	hasnt(o, "VANISHED");
	hasnt(o, "FETCH");
	has(o, "b OK [READ-WRITE] SELECT completed");
	has(o, "c OK [READ-WRITE] SELECT completed");
	free(o);
}

/* Not enabled: BAD, and the store is not asked to select. */
static void
test_select_qresync_not_enabled(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE CONDSTORE\r\n"
		 "b SELECT INBOX (QRESYNC (1 1))\r\n"
		 "c EXAMINE INBOX (QRESYNC (1 1 1:5))\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, steps);

	(void)st;
	has(o, "b BAD");
	has(o, "c BAD");
	hasnt(o, "EXISTS");
	free(o);
}

static void
test_select_qresync_bad_params(void **st)
{
	static const char *const bad[] = {
		"(QRESYNC)", "(QRESYNC ())", "(QRESYNC (1))",
		"(QRESYNC (0 1))", "(QRESYNC (4294967296 1))",
		"(QRESYNC (1 x))", "(QRESYNC (1 -1))",
		"(QRESYNC (1 9223372036854775808))",
		"(QRESYNC (1 1 1:*))", "(QRESYNC (1 1 0))",
		"(QRESYNC (1 1 1:5 (1:2 3)))", "(QRESYNC (1 1 1:5 (1:2)))",
		"(QRESYNC (1 1 1:5 (1:2 3:4) 7))", "(QRESYNC (1 1 1:5 7))",
		"(QRESYNC (1 1) QRESYNC (1 1))", "(QRESYNC 1 1)",
		"(QRESYNC (1 1 (1:* 1:2)))",
	};
	char script[200];

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct step steps[] = {
			{"a ENABLE QRESYNC\r\n", NULL},
			{script, NULL},
			{NULL, NULL},
		};
		char *o;

		snprintf(script, sizeof(script), "b SELECT INBOX %s\r\n",
			 bad[i]);
		o = play_all(NULL, steps);
		if (strstr(o, "b BAD") == NULL || strstr(o, "EXISTS") != NULL)
			fail_msg("%s not refused:\n%s", bad[i], o);
		free(o);
	}
}

/* RFC 7162 3.2.11: a SELECT with a mailbox selected says CLOSED between
 * the two mailboxes' responses; CLOSE says no VANISHED, no
 * HIGHESTMODSEQ (3.2.8). */
static void
test_closed_and_close(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC\r\nb SELECT INBOX\r\n"
		 "c STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n", NULL},
		{NULL, expunge_2_flag_3},
		{"d EXAMINE Sent (QRESYNC (2 1))\r\ne CLOSE\r\n"
		 "f SELECT INBOX\r\ng STORE 1 +FLAGS.SILENT (\\Deleted)\r\n"
		 "h CLOSE\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, steps);

	(void)st;
	before(o, "c OK", "* OK [CLOSED]");
	before(o, "* OK [CLOSED]", "* 0 EXISTS");
	has(strstr(o, "* OK [CLOSED]"), "d OK [READ-ONLY]");
	has(o, "h OK CLOSE completed\r\n");
	hasnt(o, "VANISHED");
	hasnt(o, "EXPUNGE\r\n");
	free(o);
}

/* --- VANISHED instead of EXPUNGE ------------------------------------------ */

/* RFC 7162 3.2.10.2: others' expunges at NOOP and in IDLE as one
 * VANISHED of UIDs; the FETCH of a flag change has UID and MODSEQ. */
static void
test_vanished_noop_and_idle(void **st)
{
	static const struct step noop[] = {
		{"a ENABLE QRESYNC\r\nb SELECT INBOX\r\n", NULL},
		{NULL, expunge_2_3_7_flag_5},
		{"c NOOP\r\n", NULL},
		{NULL, NULL},
	};
	static const struct step idle[] = {
		{"a ENABLE QRESYNC\r\nb SELECT INBOX\r\nc IDLE\r\n", NULL},
		{NULL, expunge_2_3_7_flag_5},
		{"DONE\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, noop);

	(void)st;
	has(o, "* VANISHED 2:3,7\r\n");
	has(o, "* 3 FETCH (FLAGS (\\Answered \\Recent) UID 5 MODSEQ (15))");
	before(o, "* VANISHED", "* 3 FETCH");
	before(o, "* 3 FETCH", "c OK NOOP");
	hasnt(o, "EXPUNGE");
	free(o);
	o = play_all(NULL, idle);
	has(o, "+ idling\r\n* VANISHED 2:3,7\r\n");
	before(o, "* VANISHED 2:3,7", "c OK IDLE terminated");
	hasnt(o, "EXPUNGE");
	free(o);
}

/* EXPUNGE and UID EXPUNGE say VANISHED and, when something went, the
 * new HIGHESTMODSEQ in the OK (RFC 7162 3.2.7, 3.2.9); MOVE says
 * VANISHED after its COPYUID; a session without QRESYNC still hears
 * EXPUNGE. */
static void
test_vanished_expunge_move(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC\r\nb SELECT INBOX\r\n"
		 "c STORE 2:4,9 +FLAGS.SILENT (\\Deleted)\r\n"
		 "d UID EXPUNGE 4:9\r\ne EXPUNGE\r\nf EXPUNGE\r\n"
		 "g MOVE 1:2 Trash\r\n", NULL},
		{NULL, NULL},
	};
	static const struct step plain[] = {
		{"a SELECT INBOX\r\nb STORE 2:3 +FLAGS.SILENT (\\Deleted)\r\n"
		 "c EXPUNGE\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, steps);

	(void)st;
	/* 4 stores (12-15), then each expunge raises it */
	has(o, "* VANISHED 4,9\r\nd OK [HIGHESTMODSEQ 17] UID EXPUNGE "
	    "completed\r\n");
	has(o, "* VANISHED 2:3\r\ne OK [HIGHESTMODSEQ 19] EXPUNGE "
	    "completed\r\n");
	has(o, "f OK EXPUNGE completed\r\n");
	has(o, "* OK [COPYUID 4 1,5 1:2] Moved\r\n* VANISHED 1,5\r\n"
	    "g OK MOVE completed");
	hasnt(o, "EXPUNGE\r\n");
	free(o);
	o = play_all(NULL, plain);
	has(o, "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nc OK EXPUNGE completed");
	hasnt(o, "VANISHED");
	free(o);
}

/* RFC 7162 3.2.10.2: no VANISHED during FETCH, STORE or SEARCH by
 * number (as no EXPUNGE); after UID commands it may be said.  While an
 * expunge is held back, a FETCH's MODSEQ may pass its mod-sequence, so
 * the HIGHESTMODSEQ from before it is said again (errata 1810). */
static void
test_vanished_held_back(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC\r\nb SELECT INBOX\r\n", NULL},
		{NULL, expunge_2_flag_3},
		{"c FETCH 1 (FLAGS)\r\nd SEARCH ALL\r\n"
		 "e UID FETCH 1 (FLAGS)\r\nf NOOP\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, steps);

	(void)st;
	has(o, "* 3 FETCH (FLAGS (\\Seen \\Recent) UID 3 MODSEQ (13))\r\n"
	    "* OK [HIGHESTMODSEQ " H0 "] Expunges are held back\r\n"
	    "c OK");
	has(o, "* OK [HIGHESTMODSEQ " H0 "] Expunges are held back\r\n"
	    "d OK");
	before(o, "d OK", "* VANISHED 2\r\n");
	has(o, "* VANISHED 2\r\ne OK");
	has(o, "f OK NOOP completed");
	hasnt(strstr(o, "e OK"), "HIGHESTMODSEQ");
	free(o);
}

/* ENABLE while an expunge is held back: its HIGHESTMODSEQ is the one
 * from before the expunge (RFC 7162 3.1 says one, errata 1810 which). */
static void
test_enable_with_expunge_held_back(void **st)
{
	static const struct step steps[] = {
		{"a SELECT INBOX\r\n", NULL},
		{NULL, expunge_2_flag_3},
		{"b FETCH 1 (FLAGS)\r\nc ENABLE QRESYNC\r\nd NOOP\r\n"
		 "e ENABLE CONDSTORE\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, steps);

	(void)st;
	has(o, "* ENABLED QRESYNC\r\n* OK [HIGHESTMODSEQ " H0 "] Highest"
	    "\r\nc OK");
	has(o, "* VANISHED 2\r\nd OK");
	has(o, "* ENABLED\r\ne OK");
	hasnt(o, "EXPUNGE\r\n");
	free(o);
}

/* --- UID FETCH ... (CHANGEDSINCE n VANISHED) ----------------------------- */

static void
test_uid_fetch_vanished(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC IMAP4rev2\r\nb SELECT INBOX\r\n"
		 "c UID FETCH 1:20 (FLAGS) (CHANGEDSINCE " H0 " VANISHED)\r\n"
		 "d UID FETCH 6:7 FLAGS (VANISHED CHANGEDSINCE 1)\r\n"
		 "e UID FETCH 9 FLAGS (CHANGEDSINCE 16 VANISHED)\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(expunge_and_flag, steps);

	(void)st;
	has(o, "* VANISHED (EARLIER) 3:4,8\r\n* 3 FETCH (UID 5 FLAGS "
	    "(\\Seen) MODSEQ (15))\r\n* 6 FETCH (UID 9 FLAGS (\\Flagged) "
	    "MODSEQ (16))\r\nc OK");
	/* nothing of 6:7 is gone; both changed since 1 */
	has(o, "* 4 FETCH (UID 6 FLAGS () MODSEQ (7))\r\n* 5 FETCH (UID 7 "
	    "FLAGS () MODSEQ (8))\r\nd OK");
	has(o, "\r\ne OK");
	hasnt(strstr(o, "c OK"), "VANISHED");
	free(o);
}

/* The last UIDs expunged: "1:*" still names them ("*" is the last UID
 * the session knows of, UIDNEXT - 1, not the last message's). */
static void
expunge_last_two(struct imap_fake *f)
{
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", NMSGS - 1), 0);
	assert_int_equal(imap_fake_other_expunge(f, "INBOX", NMSGS), 0);
}

static void
test_uid_fetch_vanished_star(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC\r\nb SELECT INBOX\r\n"
		 "c UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n"
		 "d UID FETCH 9:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(expunge_last_two, steps);

	(void)st;
	has(o, "* VANISHED (EARLIER) 9:10\r\n* 1 FETCH");
	/* 9:* is 8:10 here (RFC 9051: "*" is the largest number in use) */
	has(o, "* VANISHED (EARLIER) 9:10\r\n* 8 FETCH (UID 8 ");
	free(o);
}

static void
test_uid_fetch_vanished_bad(void **st)
{
	static const struct step steps[] = {
		{"a SELECT INBOX\r\n"
		 "b UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)\r\n"
		 "c ENABLE QRESYNC\r\n"
		 "d UID FETCH 1:* FLAGS (VANISHED)\r\n"
		 "e FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)\r\n"
		 "f UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)\r\n"
		 "g UID FETCH 1:* FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n"
		 "h UID FETCH 1:* FLAGS (CHANGEDSINCE)\r\n"
		 "i UID FETCH 1:* FLAGS (VANISHED CHANGEDSINCE 1 X)\r\n"
		 "j UID FETCH 1:* FLAGS (CHANGEDSINCE 99 VANISHED)\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, steps);

	(void)st;
	has(o, "b BAD");	/* QRESYNC not enabled */
	has(o, "d BAD");	/* no CHANGEDSINCE */
	has(o, "e BAD");	/* not UID FETCH */
	has(o, "f BAD");
	has(o, "g BAD");
	has(o, "h BAD");
	has(o, "i BAD");
	has(o, "j OK");
	hasnt(o, "VANISHED (EARLIER)");
	free(o);
}

/* RFC 7162 3.2.4: with QRESYNC every untagged FETCH a STORE or an
 * implicit \Seen causes has UID and MODSEQ. */
static void
test_unsolicited_fetch_has_uid(void **st)
{
	static const struct step steps[] = {
		{"a ENABLE QRESYNC\r\nb SELECT INBOX\r\n"
		 "c STORE 1 +FLAGS.SILENT (\\Answered)\r\n"
		 "d FETCH 2 BODY[TEXT]\r\n", NULL},
		{NULL, NULL},
	};
	char *o = play_all(NULL, steps);

	(void)st;
	has(o, "* 1 FETCH (UID 1 MODSEQ (12))\r\nc OK");
	has(o, "* 2 FETCH (");
	has(strstr(o, "* 2 FETCH ("), "UID 2");
	has(strstr(o, "* 2 FETCH ("), "MODSEQ (13)");
	has(strstr(o, "* 2 FETCH ("), "\\Seen");
	free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enable),
		cmocka_unit_test(test_select_resync),
		cmocka_unit_test(test_select_resync_known_uids),
		cmocka_unit_test(test_select_resync_superset_and_match_data),
		cmocka_unit_test(test_select_resync_rfc_match_data_example),
		cmocka_unit_test(test_select_resync_nothing),
		cmocka_unit_test(test_select_qresync_not_enabled),
		cmocka_unit_test(test_select_qresync_bad_params),
		cmocka_unit_test(test_closed_and_close),
		cmocka_unit_test(test_vanished_noop_and_idle),
		cmocka_unit_test(test_vanished_expunge_move),
		cmocka_unit_test(test_vanished_held_back),
		cmocka_unit_test(test_enable_with_expunge_held_back),
		cmocka_unit_test(test_uid_fetch_vanished),
		cmocka_unit_test(test_uid_fetch_vanished_star),
		cmocka_unit_test(test_uid_fetch_vanished_bad),
		cmocka_unit_test(test_unsolicited_fetch_has_uid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
