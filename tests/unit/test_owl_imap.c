/*
 * Unit tests of owl/imap_resp (the IMAP responses owl reads: literals
 * with their bounds, LIST with RFC 6154 attributes, STATUS, FETCH,
 * CAPABILITY) and owl/reply (subjects and References of answers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owl/owl.h"

#define S(x) x, sizeof(x) - 1

static void
test_literal_len(void **state)
{
	(void)state;
	assert_int_equal(owl_imap_literal_len(S("* 1 FETCH (BODY[] {12}\r\n")),
			 12);
	assert_int_equal(owl_imap_literal_len(S("a {0}\n")), 0);
	assert_int_equal(owl_imap_literal_len(S("a {5+}\r\n")), 5);
	assert_int_equal(owl_imap_literal_len(S("* OK done\r\n")), -1);
	assert_int_equal(owl_imap_literal_len(S("* OK {}\r\n")), -1);
	assert_int_equal(owl_imap_literal_len(S("* OK 12}\r\n")), -1);
	/* more than 12 digits: refused, not wrapped */
	assert_int_equal(owl_imap_literal_len(
				 S("a {99999999999999999999}\r\n")), -1);
}

static void
test_fetch(void **state)
{
	struct buf *b = buf_new(1024);
	struct owl_imap_item f = {.body = b};

	(void)state;
	assert_true(owl_imap_parse_fetch(S("* 3 FETCH (UID 17 FLAGS (\\Seen "
		"\\Answered) RFC822.SIZE 99 BODY[HEADER] {9}\r\nSubj: x\r\n)"
		"\r\n"), &f));
	assert_int_equal(f.seq, 3);
	assert_int_equal(f.uid, 17);
	assert_int_equal(f.size, 99);
	assert_true(f.seen && f.has_flags && f.has_body);
	assert_int_equal(b->len, 9);
	assert_memory_equal(b->data, "Subj: x\r\n", 9);
	/* unread, body as a quoted string with escapes */
	buf_reset(b);
	assert_true(owl_imap_parse_fetch(S("* 1 FETCH (FLAGS () UID 2 "
		"BODY[] \"a\\\"b\")\r\n"), &f));
	assert_false(f.seen);
	assert_string_equal(b->data, "a\"b");
	/* a literal longer than what the response holds */
	buf_reset(b);
	assert_false(owl_imap_parse_fetch(S("* 1 FETCH (UID 2 BODY[] "
		"{100}\r\nshort)\r\n"), &f));
	/* sequence number 0, no list, nesting past the limit */
	assert_false(owl_imap_parse_fetch(S("* 0 FETCH (UID 1)\r\n"), &f));
	assert_false(owl_imap_parse_fetch(S("* 1 FETCH UID 1\r\n"), &f));
	{
		char deep[200] = "* 1 FETCH (X ";

		for (int i = 0; i < 60; i++)
			strcat(deep, "(");
		assert_false(owl_imap_parse_fetch(deep, strlen(deep), &f));
	}
	buf_free(&b);
}

static void
test_list_status(void **state)
{
	struct owl_folder f;

	(void)state;
	assert_true(owl_imap_parse_list(S("* LIST (\\HasNoChildren \\Trash) "
					   "\"/\" \"Deleted Items\"\r\n"), &f));
	assert_string_equal(f.name, "Deleted Items");
	assert_true(f.trash && !f.sent && !f.noselect);
	assert_true(owl_imap_parse_list(S("* LIST (\\Sent) NIL {4}\r\nSent"
					   "\r\n"), &f));
	assert_string_equal(f.name, "Sent");
	assert_true(f.sent);
	assert_true(owl_imap_parse_list(S("* LIST (\\Noselect) \".\" "
					   "Archive\r\n"), &f));
	assert_true(f.noselect);
	/* a NUL in a name, and no name */
	assert_false(owl_imap_parse_list(S("* LIST () \".\" {3}\r\na\0b\r\n"),
					 &f));
	assert_false(owl_imap_parse_list(S("* LIST () \".\"\r\n"), &f));
	memset(&f, 0, sizeof(f));
	strcpy(f.name, "INBOX");
	assert_true(owl_imap_parse_status(S("* STATUS INBOX (MESSAGES 3 "
					     "UNSEEN 1)\r\n"), &f));
	assert_int_equal(f.messages, 3);
	assert_int_equal(f.unseen, 1);
	/* another folder's STATUS is not this one's */
	assert_false(owl_imap_parse_status(S("* STATUS Sent (MESSAGES 9)"
					      "\r\n"), &f));
	assert_int_equal(f.messages, 3);
}

static void
test_caps(void **state)
{
	char caps[256];

	(void)state;
	assert_true(owl_imap_parse_caps(S("* OK [CAPABILITY IMAP4rev1 "
		"STARTTLS AUTH=PLAIN] ready\r\n"), caps, sizeof(caps)));
	assert_string_equal(caps, "IMAP4rev1 STARTTLS AUTH=PLAIN");
	assert_true(owl_imap_has_cap(caps, "starttls"));
	assert_false(owl_imap_has_cap(caps, "AUTH"));
	assert_true(owl_imap_parse_caps(S("* CAPABILITY IMAP4rev2 MOVE\r\n"),
					caps, sizeof(caps)));
	assert_true(owl_imap_has_cap(caps, "MOVE"));
	assert_false(owl_imap_parse_caps(S("* OK hello\r\n"), caps,
					 sizeof(caps)));
}

static void
test_reply_subject_refs(void **state)
{
	struct buf *b = buf_new(4096);

	(void)state;
	owl_reply_subject("Re: Re: lunch", false, b);
	assert_string_equal(b->data, "Re: lunch");
	buf_reset(b);
	owl_reply_subject("RE:lunch", false, b);
	assert_string_equal(b->data, "Re: lunch");
	buf_reset(b);
	owl_reply_subject("Fwd: Re: x", false, b);
	assert_string_equal(b->data, "Re: Fwd: Re: x");
	buf_reset(b);
	owl_reply_subject("Fw: Fwd: x", true, b);
	assert_string_equal(b->data, "Fwd: x");
	buf_reset(b);
	owl_reply_subject(NULL, false, b);
	assert_string_equal(b->data, "Re: ");
	buf_reset(b);
	owl_reply_references("<a@x>\n <b@x> junk <c d> <>", "<m@x>", b);
	assert_string_equal(b->data, "<a@x> <b@x> <m@x>");
	buf_reset(b);
	owl_reply_references(NULL, NULL, b);
	assert_int_equal(b->len, 0);
	/* 31 ids: the first and the newest 19 kept (RFC 5322 3.6.4) */
	{
		char refs[1024] = "";

		for (int i = 0; i < 30; i++)
			sprintf(refs + strlen(refs), "<%d@x> ", i);
		buf_reset(b);
		owl_reply_references(refs, "<new@x>", b);
		assert_true(strncmp(b->data, "<0@x> <12@x> ", 13) == 0);
		assert_non_null(strstr(b->data, "<29@x> <new@x>"));
		assert_null(strstr(b->data, "<11@x>"));
	}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_len),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_list_status),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_reply_subject_refs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
