/*
 * Unit tests of proto/imap_sort (SORT and THREAD=ORDEREDSUBJECT, RFC
 * 5256; DISPLAYFROM/DISPLAYTO, RFC 5957) and of imap_date's RFC 5322
 * dates: the base subject step by step, sent dates with zones, comments
 * and obsolete forms, the sort criteria, orders with ties and REVERSE,
 * missing fields, and ORDEREDSUBJECT's thread shapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_date.h"
#include "proto/imap_sort.h"

static void
base(const char *subject, const char *want, bool want_refwd)
{
	bool refwd;
	char *b = imap_base_subject(subject, &refwd);

	assert_string_equal(b, want);
	assert_int_equal(refwd, want_refwd);
	free(b);
}

static void
test_base_subject(void **st)
{
	(void)st;
	base("Hello", "Hello", false);
	base("  Hello   world  ", "Hello world", false);
	base("Re: Hello", "Hello", true);
	base("RE: re: Fwd: Hello", "Hello", true);
	base("Fw: Hello", "Hello", true);
	base("Re[2]: Hello", "Hello", true);
	base("[list] Re: Hello", "Hello", true);
	base("[list] Hello", "Hello", false);
	base("[list]", "[list]", false);	/* nothing would be left */
	base("Hello (fwd)", "Hello", true);
	base("Hello (FWD) (fwd)  ", "Hello", true);
	base("[Fwd: Re: Hello]", "Hello", true);
	base("[fwd: Hello] (fwd)", "Hello", true);
	base("Re:", "", true);
	base("", "", false);
	base("Reply: x", "Reply: x", false);	/* not "re" ":" */
	base("Re :  x", "x", true);
	base("\tRe:\tHello\tthere", "Hello there", true);
}

static void
date_ok(const char *s, int64_t want)
{
	int64_t t;

	assert_int_equal(imap_date_rfc5322(s, strlen(s), &t), 0);
	assert_int_equal(t, want);
}

static void
date_bad(const char *s)
{
	int64_t t;

	assert_int_equal(imap_date_rfc5322(s, strlen(s), &t), -1);
}

static void
test_rfc5322_dates(void **st)
{
	(void)st;
	/* 2026-01-01T00:00:00Z = 1767225600 */
	date_ok("Thu, 01 Jan 2026 00:00:00 +0000", 1767225600);
	date_ok("1 Jan 2026 01:00 +0100", 1767225600);
	date_ok("Wed, 31 Dec 2025 19:00:00 -0500", 1767225600);
	date_ok("Wed, 31 Dec 2025 19:00:00 EST", 1767225600);
	date_ok("Thu, 01 Jan 2026 00:00:00 GMT (UTC)", 1767225600);
	date_ok(" (comment) Thu , 01 (x) Jan 26 00:00:00 UT", 1767225600);
	date_ok("01 Jan 126 00:00:00 +0000", 1767225600);	/* obs 3 */
	date_ok("Thu, 01 Jan 2026 00:00:00 Z", 1767225600); /* military */
	date_bad("");
	date_bad("Thu, 32 Jan 2026 00:00:00 +0000");
	date_bad("Thu, 29 Feb 2025 00:00:00 +0000");
	date_bad("Thu, 01 Foo 2026 00:00:00 +0000");
	date_bad("Thu, 01 Jan 2026 24:00:00 +0000");
	date_bad("Thu, 01 Jan 2026 00:00:00 +2400");
	date_bad("Thu, 01 Jan 2026 00:00:00");
	date_bad("Thu, 01 Jan 2026 00:00:00 +0000 trailing");
	date_bad("yesterday");
}

static void
crit(const char *words, struct imap_sort_crit *c, int want)
{
	struct imap_arg list[IMAP_SORT_KEYS_MAX + 4], arg;
	char buf[256], *save = NULL, *w;
	size_t n = 0;
	const char *why;

	snprintf(buf, sizeof(buf), "%s", words);
	for (w = strtok_r(buf, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save)) {
		memset(&list[n], 0, sizeof(list[n]));
		list[n].type = IMAP_ARG_ATOM;
		list[n].str = w;
		list[n].len = strlen(w);
		n++;
	}
	memset(&arg, 0, sizeof(arg));
	arg.type = IMAP_ARG_LIST;
	arg.list = list;
	arg.n = n;
	assert_int_equal(imap_sort_parse(&arg, c, &why), want);
}

static void
test_criteria(void **st)
{
	struct imap_sort_crit c;

	(void)st;
	crit("ARRIVAL", &c, 0);
	assert_false(c.needs_header);
	crit("reverse date subject SIZE", &c, 0);
	assert_int_equal(c.n, 3);
	assert_true(c.k[0].reverse);
	assert_false(c.k[1].reverse);
	assert_true(c.needs_header);
	crit("DISPLAYFROM DISPLAYTO CC TO FROM", &c, 0);
	crit("REVERSE", &c, -1);
	crit("REVERSE REVERSE DATE", &c, -1);
	crit("NOSUCH", &c, -1);
	crit("", &c, -1);
	/* IMAP_SORT_KEYS_MAX (16) criteria, and one past it */
	crit("SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE "
	     "SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE", &c, 0);
	assert_int_equal(c.n, IMAP_SORT_KEYS_MAX);
	crit("SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE "
	     "SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE", &c, -1);
}

/* Three messages, as a SORT over a mailbox would fill them. */
static void
fill(struct imap_sort_msg *m, uint32_t seq, int64_t arrival, uint64_t size,
     const char *hdr)
{
	memset(m, 0, sizeof(*m));
	m->num = m->seq = seq;
	m->arrival = arrival;
	m->size = size;
	imap_sort_msg_header(m, hdr, hdr != NULL ? strlen(hdr) : 0);
}

static char *
sorted(const char *words, struct imap_sort_msg *msgs, size_t n)
{
	struct imap_sort_crit c;
	struct buf *out = buf_new(4096);
	char *r;

	crit(words, &c, 0);
	imap_sort_run(&c, msgs, n);
	imap_sort_write(msgs, n, false, out);
	r = xstrdup(out->data);
	buf_free(&out);
	return r;
}

static void
check_sort(const char *words, const char *want)
{
	struct imap_sort_msg m[4];
	char *r;

	fill(&m[0], 1, 300, 50, "From: Zed <zed@x.org>\nTo: b@x.org\n"
	     "Subject: Re: apple\nDate: 1 Jan 2026 00:00:00 +0000\n\n");
	fill(&m[1], 2, 100, 70, "From: \"Al\" <bob@x.org>\nTo: Cy <a@x.org>\n"
	     "Cc: c@x.org\nSubject: banana\nDate: bogus\n\n");
	fill(&m[2], 3, 200, 50, "From: carl@x.org (Carl)\n"
	     "Subject: =?UTF-8?Q?Apple?=\n"
	     "Date: 31 Dec 2025 00:00:00 +0000\n\n");
	fill(&m[3], 4, 200, 60, NULL);
	r = sorted(words, m, 4);
	assert_string_equal(r, want);
	free(r);
	for (size_t i = 0; i < 4; i++)
		imap_sort_msg_clear(&m[i]);
}

static void
test_sort_orders(void **st)
{
	(void)st;
	check_sort("ARRIVAL", "* SORT 2 3 4 1\r\n");
	check_sort("REVERSE ARRIVAL", "* SORT 1 3 4 2\r\n");
	check_sort("SIZE", "* SORT 1 3 4 2\r\n");	/* ties by number */
	/* a bad Date: is the internal date (RFC 5256 2.2) */
	check_sort("DATE", "* SORT 2 4 3 1\r\n");
	/* base subjects: "", apple, Apple, banana; then the number */
	check_sort("SUBJECT", "* SORT 4 1 3 2\r\n");
	check_sort("SUBJECT REVERSE DATE", "* SORT 4 1 3 2\r\n");
	/* the first address's local part: "", bob, carl, zed */
	check_sort("FROM", "* SORT 4 2 3 1\r\n");
	/* display names: "", Al, carl@x.org, Zed */
	check_sort("DISPLAYFROM", "* SORT 4 2 3 1\r\n");
	check_sort("TO", "* SORT 3 4 2 1\r\n");
	check_sort("DISPLAYTO", "* SORT 3 4 1 2\r\n");
	check_sort("CC", "* SORT 1 3 4 2\r\n");
}

/*
 * i;ascii-casemap maps a-z to A-Z (RFC 4790 9.2.1), so "[" and "_" sort
 * after the letters: "B" < "Y" (of "[x] y") < "_X" for SUBJECT, and
 * "B" < "[X" < "_X" for every address key.
 */
static void
test_casemap(void **st)
{
	static const char *const words[] = {
		"SUBJECT", "FROM", "TO", "CC", "DISPLAYFROM", "DISPLAYTO",
	};
	struct imap_sort_msg m[3];
	char *r;

	(void)st;
	fill(&m[0], 1, 0, 1, "From: _x@y\nTo: _x@y\nCc: _x@y\n"
	     "Subject: _x\n\n");
	fill(&m[1], 2, 0, 1, "From: b@y\nTo: b@y\nCc: b@y\nSubject: b\n\n");
	fill(&m[2], 3, 0, 1, "From: [x@y\nTo: [x@y\nCc: [x@y\n"
	     "Subject: [x] y\n\n");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		r = sorted(words[i], m, 3);
		assert_string_equal(r, "* SORT 2 3 1\r\n");
		free(r);
	}
	r = sorted("REVERSE SUBJECT", m, 3);
	assert_string_equal(r, "* SORT 1 3 2\r\n");
	free(r);
	for (size_t i = 0; i < 3; i++)
		imap_sort_msg_clear(&m[i]);
	/* "`" (0x60) after "Z", 8-bit octets after all of ASCII */
	fill(&m[0], 1, 0, 1, "Subject: `q\n\n");
	fill(&m[1], 2, 0, 1, "Subject: =?UTF-8?Q?=C3=A9?=\n\n");
	fill(&m[2], 3, 0, 1, "Subject: Zz\n\n");
	r = sorted("SUBJECT", m, 3);
	assert_string_equal(r, "* SORT 3 1 2\r\n");
	free(r);
	for (size_t i = 0; i < 3; i++)
		imap_sort_msg_clear(&m[i]);
}

static void
test_orderedsubject(void **st)
{
	struct imap_sort_msg m[6];
	struct buf *out = buf_new(4096);

	(void)st;
	fill(&m[0], 1, 0, 1, "Subject: b\nDate: 5 Jan 2026 00:00 +0000\n\n");
	fill(&m[1], 2, 0, 1, "Subject: a\nDate: 3 Jan 2026 00:00 +0000\n\n");
	fill(&m[2], 3, 0, 1, "Subject: Re: a\n"
	     "Date: 4 Jan 2026 00:00 +0000\n\n");
	fill(&m[3], 4, 0, 1, "Subject: c\nDate: 1 Jan 2026 00:00 +0000\n\n");
	fill(&m[4], 5, 0, 1, "Subject: re: B\n"
	     "Date: 6 Jan 2026 00:00 +0000\n\n");
	fill(&m[5], 6, 0, 1, "Subject: b (fwd)\n"
	     "Date: 7 Jan 2026 00:00 +0000\n\n");
	imap_thread_orderedsubject(m, 6, out);
	assert_string_equal(out->data, "* THREAD (4)(2 3)(1 (5)(6))\r\n");
	for (size_t i = 0; i < 6; i++)
		imap_sort_msg_clear(&m[i]);
	buf_reset(out);
	imap_thread_orderedsubject(m, 0, out);
	assert_string_equal(out->data, "* THREAD\r\n");
	buf_free(&out);
}

/* THREAD=REFERENCES over messages given as header sections, in
 * sequence order, each a day later than the one before. */
static void
refs(const char *const *hdrs, size_t n, const char *want)
{
	struct imap_sort_msg m[16];
	struct buf *out = buf_new(4096);

	for (size_t i = 0; i < n; i++)
		fill(&m[i], (uint32_t)(i + 1), 1767225600 + 86400 * (int64_t)i,
		     1, hdrs[i]);
	imap_thread_references(m, n, out);
	assert_string_equal(out->data, want);
	for (size_t i = 0; i < n; i++)
		imap_sort_msg_clear(&m[i]);
	buf_free(&out);
}

static void
test_thread_references(void **st)
{
	const char *chain[] = {
		"Message-ID: <a@x>\nSubject: s\n\n",
		"Message-ID: <b@x>\nReferences: <a@x>\nSubject: Re: s\n\n",
		"Message-ID: <c@x>\nReferences: <a@x> <b@x>\n\n",
	};
	const char *fork[] = {
		"Message-ID: <a@x>\n\n",
		"Message-ID: <b@x>\nIn-Reply-To: <a@x> (a's)\n\n",
		"Message-ID: <c@x>\nIn-Reply-To: <a@x>\n\n",
		"Message-ID: <d@x>\nReferences: <a@x> <c@x>\n\n",
	};
	const char *missing[] = {
		"Message-ID: <b@x>\nReferences: <gone@x>\n\n",
		"Message-ID: <c@x>\nReferences: <gone@x>\n\n",
		"Message-ID: <d@x>\nReferences: <other@x>\n\n",
	};
	const char *subjects[] = {
		"Message-ID: <a@x>\nSubject: Hello\n\n",
		"Message-ID: <b@x>\nSubject: Re: hello\n\n",
		"Message-ID: <c@x>\nSubject: Other\n\n",
		"Message-ID: <d@x>\nSubject: other\n\n",
	};
	const char *loop[] = {
		"Message-ID: <a@x>\nReferences: <b@x>\n\n",
		"Message-ID: <b@x>\nReferences: <a@x>\n\n",
		"Message-ID: <c@x>\nReferences: <c@x>\n\n",
	};
	const char *dupes[] = {
		"Message-ID: <a@x>\n\n",
		"Message-ID: <a@x>\n\n",
		"\n",
		"Message-ID: <b@x>\nReferences: <a@x>\n\n",
	};

	(void)st;
	refs(chain, 3, "* THREAD (1 2 3)\r\n");
	refs(fork, 4, "* THREAD (1 (2)(3 4))\r\n");
	/* two under one missing parent stay under a dummy; one alone is
	 * promoted */
	refs(missing, 3, "* THREAD ((1)(2))(3)\r\n");
	/* gathered by subject: a reply under its original; two originals
	 * under a dummy */
	refs(subjects, 4, "* THREAD (1 2)((3)(4))\r\n");
	/* no loop is ever made, a self-reference is dropped */
	refs(loop, 3, "* THREAD (2 1)(3)\r\n");
	/* a repeated id is a fresh one: the reply goes to the first */
	refs(dupes, 4, "* THREAD (1 4)(2)(3)\r\n");
	refs(dupes, 0, "* THREAD\r\n");
}

/* At most IMAP_THREAD_REFS_MAX references of a message are kept. */
static void
test_references_bounded(void **st)
{
	struct buf *h = buf_new(1 << 20);
	struct imap_sort_msg m;

	(void)st;
	buf_addstr(h, "Message-ID: <me@x>\nReferences:");
	for (int i = 0; i < 3 * IMAP_THREAD_REFS_MAX; i++)
		buf_printf(h, " <r%d@x>", i);
	buf_addstr(h, "\n\n");
	fill(&m, 1, 0, 1, h->data);
	assert_int_equal(m.nrefs, IMAP_THREAD_REFS_MAX);
	assert_string_equal(m.refs[0], "<r0@x>");
	imap_sort_msg_clear(&m);
	buf_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_rfc5322_dates),
		cmocka_unit_test(test_criteria),
		cmocka_unit_test(test_sort_orders),
		cmocka_unit_test(test_casemap),
		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_thread_references),
		cmocka_unit_test(test_references_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
