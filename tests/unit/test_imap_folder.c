/*
 * Unit tests of the IMAP core's folder commands (proto/imap_cmd_folder.c)
 * over the in-memory store of imap_fake.h: LIST with RFC 5258's
 * selection and return options, RFC 6154's SPECIAL-USE and RFC 5819's
 * STATUS, LSUB, CREATE (USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
 * NAMESPACE and STATUS, names in modified UTF-7 (IMAP4rev1) and UTF-8
 * (after ENABLE IMAP4rev2), store failures as their RFC 5530 codes, the
 * state check, a session with no store, STATUS (HIGHESTMODSEQ) enabling
 * CONDSTORE, RENAME of the selected mailbox; and the fake itself (sync,
 * \Recent, STORE, EXPUNGE, COPY, APPEND), which the selected-state tests
 * lean on.  Each session logs in, then its
 * input is fed whole, octet by octet and in pieces of 3 and 7, each to a
 * fresh fake, and must give the same responses.
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
#include "proto/imap_server_private.h" /* condstore */

typedef void setup_fn(struct imap_fake *);

/* A logged-in session given text in pieces of chunk (0: whole); the
 * responses after the login's.  The fake is kept in *keep if asked. */
static char *
run(setup_fn *setup, const char *text, size_t chunk,
    struct imap_fake **keep)
{
	static const char LOGIN[] = "L LOGIN alice secret\r\n";
	struct imap_conf conf = {.hostname = "imap.test", .max_errors = 50,
				 .max_auth_failures = 3};
	struct imap_server *s = imap_server_new(&conf);
	struct imap_fake *f = imap_fake_new();
	struct buf *out = buf_new(1 << 20);
	size_t len = strlen(text), off = 0, used;
	enum imap_act a;
	char *r;

	if (setup != NULL)
		setup(f);
	imap_server_plain_auth(s, true);
	a = imap_server_feed(s, LOGIN, strlen(LOGIN), &used, out);
	assert_int_equal(a, IMAP_ACT_LOGIN);
	imap_server_set_mbox(s, &imap_fake_ops, f);
	imap_server_login_done(s, IMAP_LOGIN_OK, out);
	assert_true(imap_server_logged_in(s));
	buf_reset(out);
	while (off < len) {
		size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;

		a = imap_server_feed(s, text + off, n, &used, out);
		off += used;
		if (a == IMAP_ACT_CLOSE)
			break;
		assert_int_equal(a, IMAP_ACT_NONE);
	}
	imap_server_free(&s);
	if (keep != NULL)
		*keep = f;
	else
		imap_fake_free(&f);
	r = xstrdup(out->data);
	buf_free(&out);
	return r;
}

/* Runs text four ways; each must say want.  The fake of the whole run
 * is handed back if keep is not NULL. */
static void
check_keep(setup_fn *setup, const char *text, const char *want,
	   struct imap_fake **keep)
{
	static const size_t chunks[] = {1, 3, 7, 0};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		bool last = i + 1 == sizeof(chunks) / sizeof(chunks[0]);
		char *got = run(setup, text, chunks[i], last ? keep : NULL);

		if (strcmp(got, want) != 0)
			fprintf(stderr, "chunk %zu:\n got: %s\nwant: %s\n",
				chunks[i], got, want);
		assert_string_equal(got, want);
		free(got);
	}
}

static void
check(setup_fn *setup, const char *text, const char *want)
{
	check_keep(setup, text, want, NULL);
}

#define REV2_IN "e ENABLE IMAP4rev2\r\n"
#define REV2_OUT "* ENABLED IMAP4rev2\r\ne OK ENABLE completed\r\n"

/* --- set-ups ------------------------------------------------------------- */

/* Only INBOX. */
static void
bare(struct imap_fake *f)
{
	static const char *const DEF[] = {"Sent", "Drafts", "Trash", "Junk",
					  "Archive"};
	char err[64];

	for (size_t i = 0; i < sizeof(DEF) / sizeof(DEF[0]); i++)
		assert_int_equal(imap_fake_ops.delete(f, DEF[i], err,
						      sizeof(err)), IMAP_M_OK);
}

/* RFC 5258's examples' folders: Fruit, Tofu and Vegetable with
 * children, and a subscribed Fruit/Peach that does not exist. */
static void
fruit(struct imap_fake *f)
{
	static const char *const NAMES[] = {
		"Fruit", "Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable",
		"Vegetable/Broccoli", "Vegetable/Corn",
	};

	bare(f);
	for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++)
		assert_int_equal(imap_fake_create(f, NAMES[i], 0), 0);
	imap_fake_subscribe(f, "INBOX", true);
	imap_fake_subscribe(f, "Fruit/Banana", true);
	imap_fake_subscribe(f, "Fruit/Peach", true);
	imap_fake_subscribe(f, "Vegetable", true);
	imap_fake_subscribe(f, "Vegetable/Broccoli", true);
}

/* A folder two levels below names that do not exist. */
static void
deep(struct imap_fake *f)
{
	bare(f);
	assert_int_equal(imap_fake_create(f, "Projects/2026/Q1", 0), 0);
	assert_int_equal(imap_fake_create(f, "Tofu", 0), 0);
}

/* Messages in INBOX and Sent for STATUS. */
static void
mail(struct imap_fake *f)
{
	imap_fake_deliver(f, "INBOX", "Subject: a\n\nhello\n");
	imap_fake_deliver_full(f, "INBOX", "Subject: b\n\nx\n", IMAP_F_SEEN,
			       NULL, 0);
	imap_fake_deliver_full(f, "INBOX", "Subject: c\n\n",
			       IMAP_F_SEEN | IMAP_F_DELETED, "$Junk", 0);
	imap_fake_deliver(f, "Sent", "Subject: s\n\n");
}

/* Names in other scripts, stored in UTF-8 (RFC 3501 5.1.3's example). */
static void
intl(struct imap_fake *f)
{
	bare(f);
	assert_int_equal(imap_fake_create(f, "\xe5\x8f\xb0\xe5\x8c\x97/"
					  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa"
					  "\x9e", 0), 0);
	assert_int_equal(imap_fake_create(f, "Entw\xc3\xbc" "rfe",
					  IMAP_SU_DRAFTS), 0);
	assert_int_equal(imap_fake_create(f, "A&B", 0), 0);
}

/* --- LIST ---------------------------------------------------------------- */

static void
test_list_all(void **st)
{
	(void)st;
	check(NULL, "a LIST \"\" *\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	      "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	      "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"\r\n"
	      "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	      "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\r\n"
	      "a OK LIST completed\r\n");
	/* RFC 9051 6.3.9: "" asks for the separator and the root */
	check(NULL, "a LIST \"\" \"\"\r\nb list foo \"\"\r\n",
	      "* LIST (\\Noselect) \"/\" \"\"\r\na OK LIST completed\r\n"
	      "* LIST (\\Noselect) \"/\" \"\"\r\nb OK LIST completed\r\n");
	/* INBOX in any case, by a pattern in any case */
	check(NULL, "a LIST \"\" inbox\r\nb LIST \"\" In%\r\n"
	      "c LIST \"\" %X\r\nd LIST \"\" {5}\r\niNbOx\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\na OK LIST "
	      "completed\r\n* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "b OK LIST completed\r\n* LIST (\\HasNoChildren) \"/\" "
	      "\"INBOX\"\r\nc OK LIST completed\r\n+ Ready for literal "
	      "data\r\n* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "d OK LIST completed\r\n");
	/* other names match with case */
	check(NULL, "a LIST \"\" sent\r\nb LIST \"\" S*\r\n",
	      "a OK LIST completed\r\n"
	      "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	      "b OK LIST completed\r\n");
}

static void
test_list_hierarchy(void **st)
{
	(void)st;
	/* '%' stops at the separator; '*' does not */
	check(fruit, "a LIST \"\" %\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\n"
	      "* LIST (\\HasChildren) \"/\" \"Vegetable\"\r\n"
	      "a OK LIST completed\r\n");
	check(fruit, "a LIST \"\" Fruit/*\r\nb LIST \"\" *o*\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"Fruit/Apple\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Fruit/Banana\"\r\n"
	      "a OK LIST completed\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Vegetable/Broccoli\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Vegetable/Corn\"\r\n"
	      "b OK LIST completed\r\n");
	/* the reference and the pattern are joined (6.3.9's table) */
	check(fruit, "a LIST Fruit/ %\r\nb LIST Fruit %\r\n"
	      "c LIST Vegetable/ *n\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"Fruit/Apple\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Fruit/Banana\"\r\n"
	      "a OK LIST completed\r\n"
	      "* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n"
	      "b OK LIST completed\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Vegetable/Corn\"\r\n"
	      "c OK LIST completed\r\n");
}

static void
test_list_levels(void **st)
{
	(void)st;
	/* a trailing '%' also returns the levels above folders, \Noselect
	 * (6.3.9); '*' does not (they do not exist) */
	check(deep, "a LIST \"\" %\r\nb LIST \"\" Projects/%\r\n"
	      "c LIST \"\" *\r\nd LIST \"\" Projects/%/Q%\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\Noselect \\HasChildren) \"/\" \"Projects\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\n"
	      "a OK LIST completed\r\n"
	      "* LIST (\\Noselect \\HasChildren) \"/\" \"Projects/2026\"\r\n"
	      "b OK LIST completed\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Projects/2026/Q1\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\n"
	      "c OK LIST completed\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Projects/2026/Q1\"\r\n"
	      "d OK LIST completed\r\n");
	/* IMAP4rev2 says \NonExistent, which implies \Noselect (7.3.1) */
	check(deep, REV2_IN "a LIST \"\" P%\r\n",
	      REV2_OUT "* LIST (\\NonExistent \\HasChildren) \"/\" "
	      "\"Projects\"\r\na OK LIST completed\r\n");
}

static void
test_list_extended(void **st)
{
	(void)st;
	/* RFC 5258 5, example 4: SUBSCRIBED lists subscriptions, with the
	 * ones that do not exist */
	check(fruit, "A02 LIST (SUBSCRIBED) \"\" *\r\n",
	      "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Fruit/Banana\""
	      "\r\n* LIST (\\NonExistent \\Subscribed) \"/\" \"Fruit/Peach\""
	      "\r\n* LIST (\\Subscribed \\HasChildren) \"/\" \"Vegetable\"\r\n"
	      "* LIST (\\Subscribed \\HasNoChildren) \"/\" "
	      "\"Vegetable/Broccoli\"\r\nA02 OK LIST completed\r\n");
	/* RETURN (SUBSCRIBED CHILDREN): every folder, \Subscribed said */
	check(fruit, "A03 LIST () \"\" % RETURN (CHILDREN SUBSCRIBED)\r\n",
	      "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\n"
	      "* LIST (\\Subscribed \\HasChildren) \"/\" \"Vegetable\"\r\n"
	      "A03 OK LIST completed\r\n");
	/* RECURSIVEMATCH: a parent of a subscription the pattern leaves
	 * out, with CHILDINFO (RFC 5258 example 5) */
	check(fruit, "A04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %\r\n",
	      "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasChildren) \"/\" \"Fruit\" (\"CHILDINFO\" "
	      "(\"SUBSCRIBED\"))\r\n"
	      "* LIST (\\Subscribed \\HasChildren) \"/\" \"Vegetable\" "
	      "(\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	      "A04 OK LIST completed\r\n");
	/* '*' matches the children themselves: no CHILDINFO */
	check(fruit, "A05 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Fruit*\r\n",
	      "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Fruit/Banana\""
	      "\r\n* LIST (\\NonExistent \\Subscribed) \"/\" \"Fruit/Peach\""
	      "\r\nA05 OK LIST completed\r\n");
	/* a name that does not exist, above a subscription (9051's table:
	 * no, no, yes: \NonExistent and CHILDINFO) */
	check(deep, "s SUBSCRIBE Projects/2026/Q1\r\n"
	      "a LIST (RECURSIVEMATCH SUBSCRIBED) \"\" %\r\n",
	      "s OK SUBSCRIBE completed\r\n"
	      "* LIST (\\NonExistent \\HasChildren) \"/\" \"Projects\" "
	      "(\"CHILDINFO\" (\"SUBSCRIBED\"))\r\na OK LIST completed\r\n");
	/* several patterns, each name once */
	check(fruit, "a LIST \"\" (Tofu INBOX T*)\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\n"
	      "a OK LIST completed\r\n");
	/* REMOTE is accepted and changes nothing: nothing is remote */
	check(fruit, "a LIST (REMOTE) \"\" T%\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\na OK LIST "
	      "completed\r\n");
}

static void
test_list_special_use(void **st)
{
	(void)st;
	/* RFC 6154 5.2: the SPECIAL-USE selection option */
	check(NULL, "t3 LIST (SPECIAL-USE) \"\" *\r\n"
	      "t4 LIST (SPECIAL-USE) \"\" %r% RETURN (SPECIAL-USE)\r\n",
	      "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	      "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	      "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"\r\n"
	      "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	      "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\r\n"
	      "t3 OK LIST completed\r\n"
	      "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	      "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	      "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\r\n"
	      "t4 OK LIST completed\r\n");
	/* with SUBSCRIBED: both criteria */
	check(NULL, "s SUBSCRIBE Sent\r\ns SUBSCRIBE INBOX\r\n"
	      "a LIST (SPECIAL-USE SUBSCRIBED) \"\" *\r\n",
	      "s OK SUBSCRIBE completed\r\ns OK SUBSCRIBE completed\r\n"
	      "* LIST (\\Subscribed \\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	      "a OK LIST completed\r\n");
}

static void
test_list_status(void **st)
{
	(void)st;
	/* RFC 5819's example: a STATUS after each selectable name */
	check(mail, "A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 1)\r\n"
	      "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	      "* STATUS \"Archive\" (MESSAGES 0 UNSEEN 0)\r\n"
	      "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	      "* STATUS \"Drafts\" (MESSAGES 0 UNSEEN 0)\r\n"
	      "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"\r\n"
	      "* STATUS \"Junk\" (MESSAGES 0 UNSEEN 0)\r\n"
	      "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	      "* STATUS \"Sent\" (MESSAGES 1 UNSEEN 1)\r\n"
	      "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\r\n"
	      "* STATUS \"Trash\" (MESSAGES 0 UNSEEN 0)\r\n"
	      "A01 OK LIST completed\r\n");
	/* none for a name that does not exist */
	check(deep, "a LIST \"\" % RETURN (STATUS (UIDNEXT))\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* STATUS \"INBOX\" (UIDNEXT 1)\r\n"
	      "* LIST (\\NonExistent \\HasChildren) \"/\" \"Projects\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\n"
	      "* STATUS \"Tofu\" (UIDNEXT 1)\r\n"
	      "a OK LIST completed\r\n");
}

/* Fails INBOX's STATUS once: the LIST goes on without it. */
static void
status_fails(struct imap_fake *f)
{
	bare(f);
	imap_fake_fail(f, IMAP_FAKE_STATUS, IMAP_M_TEMP, "busy");
}

static void
list_fails(struct imap_fake *f)
{
	imap_fake_fail(f, IMAP_FAKE_LIST, IMAP_M_TEMP, "index locked");
}

static void
test_list_errors(void **st)
{
	(void)st;
	check(status_fails, "a LIST \"\" * RETURN (STATUS (MESSAGES))\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "a OK LIST completed\r\n");
	check(list_fails, "a LIST \"\" *\r\nb LIST \"\" \"\"\r\n",
	      "a NO [UNAVAILABLE] index locked\r\n"
	      "* LIST (\\Noselect) \"/\" \"\"\r\nb OK LIST completed\r\n");
	check(NULL, "a LIST\r\nb LIST \"\"\r\nc LIST (FOO) \"\" *\r\n"
	      "d LIST (RECURSIVEMATCH) \"\" *\r\n"
	      "e LIST (RECURSIVEMATCH REMOTE) \"\" *\r\n"
	      "f LIST \"\" * RETURN (FOO)\r\ng LIST \"\" * RETURN\r\n"
	      "h LIST \"\" ()\r\ni LIST \"\" * RETURN (STATUS (FOO))\r\n"
	      "j LIST \"\" * RETURN (STATUS ())\r\nk LIST () (a) *\r\n"
	      "l LIST \"\" * FOO (CHILDREN)\r\n"
	      "m LIST (SPECIAL-USE RECURSIVEMATCH) \"\" *\r\n",
	      "a BAD LIST needs a reference and a mailbox pattern\r\n"
	      "b BAD LIST needs a reference and a mailbox pattern\r\n"
	      "c BAD Unknown selection option\r\n"
	      "d BAD RECURSIVEMATCH needs SUBSCRIBED\r\n"
	      "e BAD RECURSIVEMATCH needs SUBSCRIBED\r\n"
	      "f BAD Unknown return option\r\n"
	      "g BAD LIST ends with RETURN and a list of return options\r\n"
	      "h BAD LIST needs a mailbox pattern\r\n"
	      "i BAD Unknown status item\r\n"
	      "j BAD STATUS needs a list of status items\r\n"
	      "k BAD LIST needs a reference and a mailbox pattern\r\n"
	      "l BAD LIST ends with RETURN and a list of return options\r\n"
	      "m BAD RECURSIVEMATCH needs SUBSCRIBED\r\n");
}

/* Not before login: the dispatcher's state check (IN_LOGGED). */
static void
test_not_logged_in(void **st)
{
	static const char IN[] = "a LIST \"\" *\r\nb STATUS INBOX (MESSAGES)"
				 "\r\nc CREATE x\r\nd NAMESPACE\r\n";
	struct imap_conf conf = {.hostname = "imap.test", .max_errors = 5,
				 .max_auth_failures = 3};
	struct imap_server *s = imap_server_new(&conf);
	struct buf *out = buf_new(1 << 16);
	size_t used;

	(void)st;
	assert_int_equal(imap_server_feed(s, IN, strlen(IN), &used, out),
			 IMAP_ACT_NONE);
	assert_string_equal(out->data,
			    "a BAD Command not valid in this state\r\n"
			    "b BAD Command not valid in this state\r\n"
			    "c BAD Command not valid in this state\r\n"
			    "d BAD Command not valid in this state\r\n");
	imap_server_free(&s);
	buf_free(&out);
}

/* --- LSUB ---------------------------------------------------------------- */

static void
test_lsub(void **st)
{
	(void)st;
	/* RFC 3501 6.3.9: an unsubscribed level above a subscription,
	 * matched by a trailing '%', is \Noselect */
	check(fruit, "a LSUB \"\" %\r\nb LSUB \"\" *\r\nc LSUB Fruit/ %\r\n"
	      "d LSUB \"\" \"\"\r\n",
	      "* LSUB () \"/\" \"INBOX\"\r\n"
	      "* LSUB (\\Noselect) \"/\" \"Fruit\"\r\n"
	      "* LSUB () \"/\" \"Vegetable\"\r\n"
	      "a OK LSUB completed\r\n"
	      "* LSUB () \"/\" \"INBOX\"\r\n"
	      "* LSUB () \"/\" \"Fruit/Banana\"\r\n"
	      "* LSUB () \"/\" \"Fruit/Peach\"\r\n"
	      "* LSUB () \"/\" \"Vegetable\"\r\n"
	      "* LSUB () \"/\" \"Vegetable/Broccoli\"\r\n"
	      "b OK LSUB completed\r\n"
	      "* LSUB () \"/\" \"Fruit/Banana\"\r\n"
	      "* LSUB () \"/\" \"Fruit/Peach\"\r\n"
	      "c OK LSUB completed\r\n"
	      "* LSUB (\\Noselect) \"/\" \"\"\r\nd OK LSUB completed\r\n");
	check(fruit, "a LSUB \"\"\r\nb LSUB (SUBSCRIBED) \"\" *\r\n",
	      "a BAD LSUB needs a reference and a mailbox pattern\r\n"
	      "b BAD LSUB needs a reference and a mailbox pattern\r\n");
}

/* --- CREATE, DELETE, RENAME ----------------------------------------------- */

static void
test_create(void **st)
{
	struct imap_fake *f;

	(void)st;
	check_keep(bare, "a CREATE Fruit\r\nb CREATE Fruit/Apple/\r\n"
		   "c CREATE \"Sent Mail\" (USE (\\Sent))\r\n"
		   "d LIST \"\" *\r\n",
		   "a OK CREATE completed\r\nb OK CREATE completed\r\n"
		   "c OK CREATE completed\r\n"
		   "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
		   "* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n"
		   "* LIST (\\HasNoChildren) \"/\" \"Fruit/Apple\"\r\n"
		   "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Mail\"\r\n"
		   "d OK LIST completed\r\n", &f);
	assert_true(imap_fake_exists(f, "Fruit/Apple"));
	assert_int_equal(imap_fake_special_use(f, "Sent Mail"),
			 IMAP_SU_SENT);
	imap_fake_free(&f);
	/* exists; INBOX in any case; a name the store refuses */
	check_keep(NULL, "a CREATE Sent\r\nb CREATE inbox\r\n"
		   "c CREATE \"a*b\"\r\nd CREATE \"x//y\"\r\n",
		   "a NO [ALREADYEXISTS] folder exists\r\n"
		   "b NO [ALREADYEXISTS] INBOX always exists\r\n"
		   "c NO [CANNOT] '*' and '%' are not allowed in folder "
		   "names\r\nd NO [CANNOT] empty level in folder name\r\n",
		   &f);
	assert_int_equal(imap_fake_calls(f, IMAP_FAKE_CREATE), 3);
	imap_fake_free(&f);
	/* RFC 6154 3: an attribute this server lacks: [USEATTR], nothing
	 * made; a parameter it lacks: BAD */
	check_keep(NULL, "a CREATE X (USE (\\Important))\r\n"
		   "b CREATE X (FOO (bar))\r\nc CREATE X (USE)\r\n"
		   "d CREATE\r\ne CREATE X Y\r\nf CREATE \"\"\r\n"
		   "g CREATE \"/\"\r\n",
		   "a NO [USEATTR] Unsupported special-use attribute\r\n"
		   "b BAD CREATE's parameters are USE and a list of "
		   "attributes\r\n"
		   "c BAD CREATE's parameters are USE and a list of "
		   "attributes\r\n"
		   "d BAD CREATE needs a mailbox name\r\n"
		   "e BAD CREATE's parameters are USE and a list of "
		   "attributes\r\n"
		   "f BAD Empty mailbox name\r\ng BAD Empty mailbox name\r\n",
		   &f);
	assert_int_equal(imap_fake_calls(f, IMAP_FAKE_CREATE), 0);
	imap_fake_free(&f);
}

static void
limit_next(struct imap_fake *f)
{
	imap_fake_fail(f, IMAP_FAKE_CREATE, IMAP_M_LIMIT,
		       "too many folders");
	imap_fake_fail(f, IMAP_FAKE_DELETE, IMAP_M_TEMP, "");
	imap_fake_fail(f, IMAP_FAKE_RENAME, IMAP_M_NOSPACE,
		       "disk\r\nfull");
	imap_fake_fail(f, IMAP_FAKE_SUBSCRIBE, IMAP_M_INUSE, "locked");
}

static void
test_store_failures(void **st)
{
	(void)st;
	/* each as its RFC 5530 code, the reason on one line */
	check(limit_next, "a CREATE X\r\nb DELETE Sent\r\nc RENAME Sent S\r\n"
	      "d SUBSCRIBE Sent\r\ne CREATE X\r\n",
	      "a NO [LIMIT] too many folders\r\n"
	      "b NO [UNAVAILABLE] Temporary failure, try again\r\n"
	      "c NO [OVERQUOTA] disk  full\r\nd NO [INUSE] locked\r\n"
	      "e OK CREATE completed\r\n");
}

static void
test_delete(void **st)
{
	struct imap_fake *f;

	(void)st;
	/* children stay (RFC 9051 6.3.4); the parent is then a level */
	check_keep(fruit, "a DELETE Fruit\r\nb DELETE Fruit\r\n"
		   "c DELETE INBOX\r\nd DELETE Nope\r\ne LIST \"\" F%\r\n",
		   "a OK DELETE completed\r\n"
		   "b NO [NONEXISTENT] no such folder\r\n"
		   "c NO [CANNOT] INBOX cannot be deleted\r\n"
		   "d NO [NONEXISTENT] no such folder\r\n"
		   "* LIST (\\Noselect \\HasChildren) \"/\" \"Fruit\"\r\n"
		   "e OK LIST completed\r\n", &f);
	assert_false(imap_fake_exists(f, "Fruit"));
	assert_true(imap_fake_exists(f, "Fruit/Apple"));
	assert_int_equal(imap_fake_calls(f, IMAP_FAKE_DELETE), 5 + 3);
	imap_fake_free(&f);
	check(NULL, "a DELETE\r\nb DELETE a b\r\nc DELETE (a)\r\n",
	      "a BAD DELETE needs a mailbox name\r\n"
	      "b BAD DELETE needs a mailbox name\r\n"
	      "c BAD Mailbox name expected\r\n");
}

static void
test_rename(void **st)
{
	struct imap_fake *f;

	(void)st;
	/* the children move too (RFC 9051 6.3.6) */
	check_keep(fruit, "a RENAME Fruit Food/Fruit\r\nb LIST \"\" Food/*\r\n",
		   "a OK RENAME completed\r\n"
		   "* LIST (\\HasChildren) \"/\" \"Food/Fruit\"\r\n"
		   "* LIST (\\HasNoChildren) \"/\" \"Food/Fruit/Apple\"\r\n"
		   "* LIST (\\HasNoChildren) \"/\" \"Food/Fruit/Banana\"\r\n"
		   "b OK LIST completed\r\n", &f);
	assert_true(imap_fake_exists(f, "Food/Fruit/Banana"));
	assert_false(imap_fake_exists(f, "Fruit"));
	imap_fake_free(&f);
	check(fruit, "a RENAME INBOX Fruit\r\nb RENAME Tofu inbox\r\n"
	      "c RENAME Tofu Fruit\r\nd RENAME Nope X\r\n"
	      "e RENAME Fruit Fruit/X\r\nf RENAME Tofu\r\n",
	      "a NO [ALREADYEXISTS] folder exists\r\n"
	      "b NO [ALREADYEXISTS] INBOX always exists\r\n"
	      "c NO [ALREADYEXISTS] folder exists\r\n"
	      "d NO [NONEXISTENT] no such folder\r\n"
	      "e NO [CANNOT] a folder cannot move below itself\r\n"
	      "f BAD RENAME needs two mailbox names\r\n");
}

/* Fruit's folders, and two messages in INBOX (the second \\Seen). */
static void
fruit_and_mail(struct imap_fake *f)
{
	fruit(f);
	imap_fake_deliver(f, "INBOX", "Subject: one\n\none\n");
	imap_fake_deliver_full(f, "INBOX", "Subject: two\n\ntwo\n",
			       IMAP_F_SEEN, "$Work", 1700000000);
}

/* RFC 9051 6.3.6: RENAME INBOX moves its messages to the new folder and
 * leaves INBOX there, empty; INBOX's children would stay. */
static void
test_rename_inbox(void **st)
{
	struct imap_fake *f;
	struct imap_msg m;

	(void)st;
	check_keep(fruit_and_mail, "a RENAME INBOX Old\r\n"
		   "b STATUS INBOX (MESSAGES)\r\n"
		   "c STATUS Old (MESSAGES)\r\n",
		   "a OK RENAME completed\r\n"
		   "* STATUS \"INBOX\" (MESSAGES 0)\r\nb OK STATUS completed\r\n"
		   "* STATUS \"Old\" (MESSAGES 2)\r\nc OK STATUS completed\r\n",
		   &f);
	assert_string_equal(imap_fake_text(f, "Old", 1),
			    "Subject: one\n\none\n");
	assert_int_equal(imap_fake_msg(f, "Old", 2, &m), 0);
	assert_int_equal(m.flags, IMAP_F_SEEN);
	assert_string_equal(m.keywords, "$Work");
	assert_int_equal(m.date, 1700000000);
	imap_fake_free(&f);
	check(fruit_and_mail, "a RENAME INBOX Fruit\r\n",
	      "a NO [ALREADYEXISTS] folder exists\r\n");
}

/* --- SUBSCRIBE, NAMESPACE, STATUS ----------------------------------------- */

static void
test_subscribe(void **st)
{
	struct imap_fake *f;

	(void)st;
	/* a name need not exist (RFC 9051 6.3.7) */
	check_keep(NULL, "a SUBSCRIBE Sent\r\nb SUBSCRIBE Later\r\n"
		   "c UNSUBSCRIBE Later\r\nd UNSUBSCRIBE Never\r\n"
		   "e SUBSCRIBE inbox\r\nf LSUB \"\" *\r\ng SUBSCRIBE\r\n",
		   "a OK SUBSCRIBE completed\r\nb OK SUBSCRIBE completed\r\n"
		   "c OK UNSUBSCRIBE completed\r\n"
		   "d OK UNSUBSCRIBE completed\r\n"
		   "e OK SUBSCRIBE completed\r\n"
		   "* LSUB () \"/\" \"INBOX\"\r\n"
		   "* LSUB () \"/\" \"Sent\"\r\nf OK LSUB completed\r\n"
		   "g BAD SUBSCRIBE needs a mailbox name\r\n", &f);
	assert_true(imap_fake_subscribed(f, "Sent"));
	assert_true(imap_fake_subscribed(f, "INBOX"));
	assert_false(imap_fake_subscribed(f, "Later"));
	imap_fake_free(&f);
}

static void
test_namespace(void **st)
{
	(void)st;
	check(NULL, "A001 NAMESPACE\r\nb NAMESPACE x\r\n",
	      "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
	      "A001 OK NAMESPACE completed\r\n"
	      "b BAD NAMESPACE takes no arguments\r\n");
}

static void
test_status(void **st)
{
	(void)st;
	/* RFC 9051 6.3.11's example; the items as asked */
	check(mail, "A042 STATUS INBOX (UIDNEXT MESSAGES)\r\n"
	      "b STATUS inbox (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN "
	      "DELETED SIZE HIGHESTMODSEQ)\r\nc status Sent (size)\r\n"
	      "d STATUS INBOX (MESSAGES messages UIDNEXT Messages)\r\n",
	      "* STATUS \"INBOX\" (UIDNEXT 4 MESSAGES 3)\r\n"
	      "A042 OK STATUS completed\r\n"
	      "* STATUS \"INBOX\" (MESSAGES 3 RECENT 3 UIDNEXT 4 "
	      "UIDVALIDITY 1 UNSEEN 1 DELETED 1 SIZE 52 HIGHESTMODSEQ 4)\r\n"
	      "b OK STATUS completed\r\n"
	      "* STATUS \"Sent\" (SIZE 14)\r\nc OK STATUS completed\r\n"
	      "* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 4)\r\n"
	      "d OK STATUS completed\r\n");
	/* RECENT is IMAP4rev1's only */
	check(mail, REV2_IN "a STATUS INBOX (RECENT)\r\n"
	      "b STATUS INBOX (DELETED)\r\n",
	      REV2_OUT "a BAD Unknown status item\r\n"
	      "* STATUS \"INBOX\" (DELETED 1)\r\nb OK STATUS completed\r\n");
	check(mail, "a STATUS Nope (MESSAGES)\r\nb STATUS INBOX ()\r\n"
	      "c STATUS INBOX (MESSAGES FOO)\r\nd STATUS INBOX MESSAGES\r\n"
	      "e STATUS INBOX\r\nf STATUS (MESSAGES)\r\n",
	      "a NO [NONEXISTENT] no such folder\r\n"
	      "b BAD STATUS needs a list of status items\r\n"
	      "c BAD Unknown status item\r\n"
	      "d BAD STATUS needs a list of status items\r\n"
	      "e BAD STATUS needs a mailbox name and a list of status "
	      "items\r\nf BAD STATUS needs a mailbox name and a list of "
	      "status items\r\n");
}

/* --- names: modified UTF-7 and UTF-8 -------------------------------------- */

static void
test_names_utf7(void **st)
{
	struct imap_fake *f;

	(void)st;
	/* IMAP4rev1: modified UTF-7 both ways (RFC 3501 5.1.3) */
	check(intl, "a LIST \"\" *\r\nb LIST \"\" &U,BTFw-/%\r\n"
	      "c STATUS Entw&APw-rfe (MESSAGES)\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"A&-B\"\r\n"
	      "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Entw&APw-rfe\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"&U,BTFw-/&ZeVnLIqe-\"\r\n"
	      "a OK LIST completed\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"&U,BTFw-/&ZeVnLIqe-\"\r\n"
	      "b OK LIST completed\r\n"
	      "* STATUS \"Entw&APw-rfe\" (MESSAGES 0)\r\n"
	      "c OK STATUS completed\r\n");
	check_keep(bare, "a CREATE &Jjo-\r\nb CREATE \"caf&AOk-/x&-y\"\r\n",
		   "a OK CREATE completed\r\nb OK CREATE completed\r\n", &f);
	assert_true(imap_fake_exists(f, "\xe2\x98\xba"));
	assert_true(imap_fake_exists(f, "caf\xc3\xa9/x&y"));
	imap_fake_free(&f);
	/* not modified UTF-7: BAD, nothing asked of the store; as a LIST
	 * pattern it matches nothing */
	check_keep(bare, "a CREATE &Jjo\r\nb CREATE \"caf\xc3\xa9\"\r\n"
		   "c CREATE a&b\r\nd CREATE &AGE-\r\ne LIST \"\" &Jjo\r\n",
		   "a BAD Mailbox name is not valid modified UTF-7\r\n"
		   "b BAD Mailbox name is not valid modified UTF-7\r\n"
		   "c BAD Mailbox name is not valid modified UTF-7\r\n"
		   "d BAD Mailbox name is not valid modified UTF-7\r\n"
		   "e OK LIST completed\r\n", &f);
	assert_int_equal(imap_fake_calls(f, IMAP_FAKE_CREATE), 0);
	imap_fake_free(&f);
}

static void
test_names_utf8(void **st)
{
	struct imap_fake *f;

	(void)st;
	/* IMAP4rev2: UTF-8 as it is; '&' is itself */
	check(intl, REV2_IN "a LIST \"\" *\r\n"
	      "b LIST \"\" \"\xe5\x8f\xb0%\"\r\n",
	      REV2_OUT "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"A&B\"\r\n"
	      "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Entw\xc3\xbcrfe\"\r\n"
	      "* LIST (\\HasNoChildren) \"/\" \"\xe5\x8f\xb0\xe5\x8c\x97/"
	      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"\r\n"
	      "a OK LIST completed\r\n"
	      "* LIST (\\NonExistent \\HasChildren) \"/\" \"\xe5\x8f\xb0"
	      "\xe5\x8c\x97\"\r\n"
	      "b OK LIST completed\r\n");
	check_keep(bare, REV2_IN "a CREATE \"caf\xc3\xa9\"\r\n"
		   "b CREATE &Jjo-\r\n"
		   "c CREATE \"\xc3\x28\"\r\nd CREATE \"\xc0\xaf\"\r\n",
		   REV2_OUT "a OK CREATE completed\r\nb OK CREATE completed\r\n"
		   "c BAD Mailbox name is not valid UTF-8\r\n"
		   "d BAD Mailbox name is not valid UTF-8\r\n", &f);
	assert_true(imap_fake_exists(f, "caf\xc3\xa9"));
	assert_true(imap_fake_exists(f, "&Jjo-"));
	imap_fake_free(&f);
}

/* Names that need escaping, and one only a literal can carry. */
static void
odd_names(struct imap_fake *f)
{
	bare(f);
	assert_int_equal(imap_fake_create(f, "say \"hi\"\\", 0), 0);
}

static void
test_names_quoted(void **st)
{
	(void)st;
	check(odd_names, "a LIST \"\" s*\r\nb STATUS \"say \\\"hi\\\"\\\\\" "
	      "(MESSAGES)\r\n",
	      "* LIST (\\HasNoChildren) \"/\" \"say \\\"hi\\\"\\\\\"\r\n"
	      "a OK LIST completed\r\n"
	      "* STATUS \"say \\\"hi\\\"\\\\\" (MESSAGES 0)\r\n"
	      "b OK STATUS completed\r\n");
}

/* Logged in with no store given: NO [UNAVAILABLE], no crash. */
static void
test_no_store(void **st)
{
	static const char IN[] = "L LOGIN alice secret\r\na LIST \"\" *\r\n"
				 "b CREATE X\r\nc STATUS X (MESSAGES)\r\n"
				 "d LIST \"\" \"\"\r\ne NAMESPACE\r\n";
	struct imap_conf conf = {.hostname = "imap.test", .max_errors = 5,
				 .max_auth_failures = 3};
	struct imap_server *s = imap_server_new(&conf);
	struct buf *out = buf_new(1 << 16);
	size_t used, off;
	enum imap_act a;

	(void)st;
	imap_server_plain_auth(s, true);
	a = imap_server_feed(s, IN, strlen(IN), &used, out);
	assert_int_equal(a, IMAP_ACT_LOGIN);
	imap_server_login_done(s, IMAP_LOGIN_OK, out);
	buf_reset(out);
	off = used;
	a = imap_server_feed(s, IN + off, strlen(IN) - off, &used, out);
	assert_int_equal(a, IMAP_ACT_NONE);
	assert_string_equal(out->data,
			    "a NO [UNAVAILABLE] No mailbox store\r\n"
			    "b NO [UNAVAILABLE] No mailbox store\r\n"
			    "c NO [UNAVAILABLE] No mailbox store\r\n"
			    "d NO [UNAVAILABLE] No mailbox store\r\n"
			    "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
			    "e OK NAMESPACE completed\r\n");
	imap_server_free(&s);
	buf_free(&out);
}

/* RFC 7162 3.1: STATUS (HIGHESTMODSEQ), also in LIST's RETURN, enables
 * CONDSTORE; other items do not. */
static void
test_condstore_enabled(void **st)
{
	static const char *const IN[] = {
		"a STATUS INBOX (MESSAGES)\r\n",
		"a STATUS INBOX (HIGHESTMODSEQ)\r\n",
		"a LIST \"\" % RETURN (STATUS (HIGHESTMODSEQ))\r\n",
	};
	static const char LOGIN[] = "L LOGIN alice secret\r\n";
	struct imap_conf conf = {.hostname = "imap.test", .max_errors = 5,
				 .max_auth_failures = 3};

	(void)st;
	for (size_t i = 0; i < sizeof(IN) / sizeof(IN[0]); i++) {
		struct imap_server *s = imap_server_new(&conf);
		struct imap_fake *f = imap_fake_new();
		struct buf *out = buf_new(1 << 16);
		size_t used;

		imap_server_plain_auth(s, true);
		imap_server_feed(s, LOGIN, strlen(LOGIN), &used, out);
		imap_server_set_mbox(s, &imap_fake_ops, f);
		imap_server_login_done(s, IMAP_LOGIN_OK, out);
		assert_false(s->condstore);
		imap_server_feed(s, IN[i], strlen(IN[i]), &used, out);
		assert_int_equal(s->condstore, i > 0);
		imap_server_free(&s);
		imap_fake_free(&f);
		buf_free(&out);
	}
}

/* RENAME of the selected mailbox, or of a parent of it: the session's
 * name for it follows; another one's does not. */
static void
test_rename_selected(void **st)
{
	static const char *const SEL[] = {"Fruit", "Fruit/Apple", "Fruitcake"};
	static const char *const WANT[] = {"Food", "Food/Apple", "Fruitcake"};
	static const char IN[] = "a RENAME Fruit Food\r\n";
	static const char LOGIN[] = "L LOGIN alice secret\r\n";
	struct imap_conf conf = {.hostname = "imap.test", .max_errors = 5,
				 .max_auth_failures = 3};

	(void)st;
	for (size_t i = 0; i < sizeof(SEL) / sizeof(SEL[0]); i++) {
		struct imap_server *s = imap_server_new(&conf);
		struct imap_fake *f = imap_fake_new();
		struct buf *out = buf_new(1 << 16);
		size_t used;

		fruit(f);
		imap_fake_create(f, "Fruitcake", 0);
		imap_server_plain_auth(s, true);
		imap_server_feed(s, LOGIN, strlen(LOGIN), &used, out);
		imap_server_set_mbox(s, &imap_fake_ops, f);
		imap_server_login_done(s, IMAP_LOGIN_OK, out);
		s->mailbox = xstrdup(SEL[i]);	/* as SELECT leaves it */
		buf_reset(out);
		imap_server_feed(s, IN, strlen(IN), &used, out);
		assert_string_equal(out->data, "a OK RENAME completed\r\n");
		assert_string_equal(s->mailbox, WANT[i]);
		free(s->mailbox);
		s->mailbox = NULL;
		imap_server_free(&s);
		imap_fake_free(&f);
		buf_free(&out);
	}
}

/* --- the fake's selected view, which imap_server.c's tests use ------------ */

static void
test_fake_view(void **st)
{
	struct imap_fake *f = imap_fake_new();
	const struct imap_mbox_ops *o = &imap_fake_ops;
	struct imap_view_info vi;
	struct imap_changes ch;
	struct imap_msg m;
	uint32_t pos[2] = {0, 2}, u1, u3;
	char err[128];

	(void)st;
	u1 = imap_fake_deliver(f, "INBOX", "a\n");
	imap_fake_deliver(f, "INBOX", "bb\n\n");
	u3 = imap_fake_deliver(f, "INBOX", "c\n");
	/* EXAMINE claims no \Recent (but sees it); the first SELECT
	 * claims all */
	assert_int_equal(o->select(f, "INBOX", true, &vi, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(vi.count, 3);
	assert_int_equal(vi.recent_lo, u1);
	assert_int_equal(vi.recent_hi, u3 + 1);
	assert_int_equal(o->select(f, "INBOX", false, &vi, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(vi.recent_lo, u1);
	assert_int_equal(vi.recent_hi, u3 + 1);
	assert_int_equal(vi.uidnext, 4);
	assert_int_equal(o->select(f, "INBOX", false, &vi, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(vi.recent_hi, 0);
	o->msg(f, 1, &m);
	assert_int_equal(m.size, 6);	/* "bb\r\n\r\n" */
	assert_int_equal(m.date, IMAP_FAKE_NOW);
	/* others: an expunge (uid 1), a flag change (uid 3), a delivery */
	imap_fake_other_expunge(f, "INBOX", u1);
	imap_fake_other_store(f, "INBOX", u3, IMAP_STORE_ADD, IMAP_F_SEEN,
			      "Work");
	imap_fake_deliver(f, "INBOX", "d\n");
	assert_int_equal(o->sync(f, true, &ch, err, sizeof(err)), IMAP_M_OK);
	assert_int_equal(ch.nexpunged, 0);
	assert_int_equal(ch.count, 4);
	assert_int_equal(ch.recent_lo, 4);
	assert_int_equal(ch.recent_hi, 5);
	o->msg(f, 0, &m);
	assert_true(m.expunged);
	assert_int_equal(ch.nchanged, 1);
	assert_int_equal(ch.changed[0], 2);
	o->msg(f, 2, &m);
	assert_int_equal(m.flags, IMAP_F_SEEN);
	assert_string_equal(m.keywords, "Work");
	assert_int_equal(o->sync(f, false, &ch, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.expunged[0], 0);
	assert_int_equal(ch.count, 3);
	/* own EXPUNGE: shown until the next sync, which reports ascending
	 * positions, each after the ones before were removed */
	assert_int_equal(o->expunge(f, pos, 2, err, sizeof(err)), IMAP_M_OK);
	o->msg(f, 2, &m);
	assert_true(m.expunged);
	assert_int_equal(o->sync(f, false, &ch, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(ch.nexpunged, 2);
	assert_int_equal(ch.expunged[0], 0);
	assert_int_equal(ch.expunged[1], 1);
	assert_int_equal(ch.count, 1);
	assert_int_equal(imap_fake_count(f, "INBOX"), 1);
	/* a new UIDVALIDITY ends the view */
	imap_fake_set_uidvalidity(f, "INBOX", 99);
	assert_int_equal(o->sync(f, false, &ch, err, sizeof(err)),
			 IMAP_M_PERM);
	assert_string_equal(err, "UIDVALIDITY changed");
	imap_fake_free(&f);
}

static void
test_fake_store_copy(void **st)
{
	struct imap_fake *f = imap_fake_new();
	const struct imap_mbox_ops *o = &imap_fake_ops;
	struct imap_store_req rq = {.op = IMAP_STORE_ADD,
				    .flags = IMAP_F_FLAGGED,
				    .keywords = "$Label1 Work"};
	struct imap_view_info vi;
	struct imap_msg m;
	uint32_t pos[2] = {0, 1}, uids[2], uv, p;
	bool mod[2];
	char err[128], buf[4];
	void *rd;
	long n;

	(void)st;
	imap_fake_deliver(f, "INBOX", "one\n");
	imap_fake_deliver(f, "INBOX", "two\n");
	o->select(f, "INBOX", false, &vi, err, sizeof(err));
	assert_int_equal(o->store(f, pos, 2, &rq, NULL, err, sizeof(err)),
			 IMAP_M_OK);
	o->msg(f, 0, &m);
	assert_int_equal(m.flags, IMAP_F_FLAGGED);
	assert_string_equal(m.keywords, "$Label1 Work");
	assert_int_equal(m.modseq, 4);
	/* a store that changes nothing bumps no modseq */
	assert_int_equal(o->store(f, pos, 1, &rq, NULL, err, sizeof(err)),
			 IMAP_M_OK);
	o->msg(f, 0, &m);
	assert_int_equal(m.modseq, 4);
	/* UNCHANGEDSINCE 4: message 2 (modseq 5) is left */
	rq = (struct imap_store_req){.op = IMAP_STORE_REMOVE,
				     .keywords = "work", .conditional = true,
				     .unchangedsince = 4};
	assert_int_equal(o->store(f, pos, 2, &rq, mod, err, sizeof(err)),
			 IMAP_M_OK);
	assert_false(mod[0]);
	assert_true(mod[1]);
	o->msg(f, 0, &m);
	assert_string_equal(m.keywords, "$Label1");
	/* COPY and MOVE: UIDs in the order asked */
	assert_int_equal(o->copy(f, pos, 2, "Trash", false, uids, &uv, err,
				 sizeof(err)), IMAP_M_OK);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 2);
	assert_int_equal(uv, 4);
	assert_int_equal(o->copy(f, pos, 1, "Nope", false, uids, &uv, err,
				 sizeof(err)), IMAP_M_NOTFOUND);
	assert_int_equal(o->copy(f, pos + 1, 1, "Sent", true, uids, &uv, err,
				 sizeof(err)), IMAP_M_OK);
	assert_int_equal(imap_fake_count(f, "INBOX"), 1);
	assert_true(o->find_uid(f, 2, &p));
	assert_int_equal(p, 1);
	/* the text: read, rewind, read; a failed read */
	assert_int_equal(o->open(f, 0, &rd, err, sizeof(err)), IMAP_M_OK);
	assert_int_equal(o->read(rd, buf, 3), 3);
	assert_int_equal(o->read(rd, buf, 3), 1);
	assert_int_equal(o->read(rd, buf, 3), 0);
	assert_int_equal(o->rewind(rd), 0);
	imap_fake_fail(f, IMAP_FAKE_READ, IMAP_M_TEMP, NULL);
	assert_int_equal(o->read(rd, buf, 3), -1);
	n = o->read(rd, buf, 3);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "one", 3);
	o->close(rd);
	assert_int_equal(imap_fake_open_handles(f), 0);
	/* the moved message is gone: open says so */
	assert_int_equal(o->open(f, 1, &rd, err, sizeof(err)),
			 IMAP_M_EXPUNGED);
	imap_fake_free(&f);
}

static void
test_fake_append(void **st)
{
	struct imap_fake *f = imap_fake_new();
	const struct imap_mbox_ops *o = &imap_fake_ops;
	struct imap_append_req rq = {.folder = "Drafts",
				     .flags = IMAP_F_DRAFT,
				     .keywords = "$MDNSent", .date = 0};
	struct imap_msg m;
	char err[128];

	(void)st;
	assert_int_equal(o->append_begin(f, 9, err, sizeof(err)), IMAP_M_OK);
	assert_int_equal(o->append_data(f, "a\r\n", 3, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(o->append_data(f, "\r\nbc\r\n", 6, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(o->append_end(f, &rq, 1, err, sizeof(err)), IMAP_M_OK);
	assert_int_equal(rq.uid, 1);
	assert_int_equal(rq.uidvalidity, 3);
	assert_string_equal(imap_fake_text(f, "Drafts", 1), "a\n\nbc\n");
	assert_int_equal(imap_fake_msg(f, "Drafts", 1, &m), 0);
	assert_int_equal(m.size, 9);
	assert_int_equal(m.flags, IMAP_F_DRAFT);
	assert_int_equal(m.date, IMAP_FAKE_NOW);
	/* short, or to no folder: nothing saved */
	o->append_begin(f, 5, err, sizeof(err));
	o->append_data(f, "ab", 2, err, sizeof(err));
	assert_int_equal(o->append_end(f, &rq, 1, err, sizeof(err)), IMAP_M_PERM);
	rq.folder = "Nope";
	o->append_begin(f, 2, err, sizeof(err));
	o->append_data(f, "ab", 2, err, sizeof(err));
	assert_int_equal(o->append_end(f, &rq, 1, err, sizeof(err)),
			 IMAP_M_NOTFOUND);
	o->append_begin(f, 2, err, sizeof(err));
	o->append_abort(f);
	assert_false(imap_fake_appending(f));
	assert_int_equal(imap_fake_count(f, "Drafts"), 1);
	/* an injected failure, once */
	imap_fake_fail(f, IMAP_FAKE_APPEND_BEGIN, IMAP_M_NOSPACE, "quota");
	assert_int_equal(o->append_begin(f, 2, err, sizeof(err)),
			 IMAP_M_NOSPACE);
	assert_string_equal(err, "quota");
	assert_int_equal(o->append_begin(f, 2, err, sizeof(err)), IMAP_M_OK);
	assert_int_equal(imap_fake_calls(f, IMAP_FAKE_APPEND_BEGIN), 6);
	imap_fake_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_all),
		cmocka_unit_test(test_list_hierarchy),
		cmocka_unit_test(test_list_levels),
		cmocka_unit_test(test_list_extended),
		cmocka_unit_test(test_list_special_use),
		cmocka_unit_test(test_list_status),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_lsub),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_store_failures),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_rename),
		cmocka_unit_test(test_rename_inbox),
		cmocka_unit_test(test_subscribe),
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_names_utf7),
		cmocka_unit_test(test_names_utf8),
		cmocka_unit_test(test_names_quoted),
		cmocka_unit_test(test_condstore_enabled),
		cmocka_unit_test(test_rename_selected),
		cmocka_unit_test(test_not_logged_in),
		cmocka_unit_test(test_no_store),
		cmocka_unit_test(test_fake_view),
		cmocka_unit_test(test_fake_store_copy),
		cmocka_unit_test(test_fake_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
