/*
 * Unit tests of the IMAP value parsers of proto/: sequence sets
 * (imap_seqset.h, RFC 9051 9: numbers, ranges either way round, "*",
 * resolving against a mailbox, merging, membership, every refusal and
 * the range bound) and mailbox names in modified UTF-7 (RFC 3501 5.1.3,
 * its examples; both directions, and every non-canonical form refused)
 * and dates (date-text for SEARCH, date-time for APPEND and INTERNALDATE,
 * RFC 9051's example, leap years, every field out of range) and LIST
 * patterns (imap_match.h: '*', '%', runs of them, INBOX without case,
 * prefixes shared between names in and out of order, long patterns,
 * against a plain recursive matcher).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_date.h"
#include "proto/imap_match.h"
#include "proto/imap_seqset.h"
#include "proto/imap_utf7.h"

/* The resolved set as text ("lo:hi,..."), or "ERR why". */
static void
seq(const char *text, uint32_t star, size_t max, char *out, size_t size)
{
	struct imap_seqset set;
	const char *why;
	size_t n = 0;

	if (imap_seqset_parse(text, strlen(text), max, &set, &why) == -1) {
		snprintf(out, size, "ERR %s", why);
		assert_null(set.r);
		return;
	}
	imap_seqset_resolve(&set, star);
	out[0] = '\0';
	for (size_t i = 0; i < set.n; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%u:%u",
				      i ? "," : "", set.r[i].lo, set.r[i].hi);
	imap_seqset_free(&set);
}

static void
expect(const char *text, uint32_t star, const char *want)
{
	char got[512];

	seq(text, star, 100, got, sizeof(got));
	assert_string_equal(got, want);
}

static void
test_seqset(void **st)
{
	(void)st;
	expect("1", 10, "1:1");
	expect("1:*", 10, "1:10");
	expect("*", 10, "10:10");
	expect("*:4", 10, "4:10");		/* either way round */
	expect("7:3", 10, "3:7");
	expect("2,4:7,9,12:*", 15, "2:2,4:7,9:9,12:15");
	expect("2:4,5:7,3", 10, "2:7");	/* touching and inside: merged */
	expect("9,1,5", 10, "1:1,5:5,9:9");	/* sorted */
	expect("4294967295", 10, "4294967295:4294967295");
	expect("1:*", 0, "0:1");		/* empty mailbox: nothing is 1 */
	expect("", 10, "ERR Invalid sequence set");
	expect("0", 10, "ERR Invalid sequence set");
	expect("01", 10, "ERR Invalid sequence set");
	expect("4294967296", 10, "ERR Invalid sequence set");
	expect("1,", 10, "ERR Invalid sequence set");
	expect(",1", 10, "ERR Invalid sequence set");
	expect("1::2", 10, "ERR Invalid sequence set");
	expect("1:2:3", 10, "ERR Invalid sequence set");
	expect("1 2", 10, "ERR Invalid sequence set");
	expect("$", 10, "ERR Invalid sequence set");
	expect("1:-1", 10, "ERR Invalid sequence set");
}

static void
test_seqset_bound_and_has(void **st)
{
	struct imap_seqset set;
	const char *why;
	char got[512];

	(void)st;
	seq("1,2,3", 10, 3, got, sizeof(got));
	assert_string_equal(got, "1:3"); /* three elements, merged */
	seq("1,2,3,4", 10, 3, got, sizeof(got));
	assert_string_equal(got, "ERR [LIMIT] Too many ranges in a sequence "
			    "set");
	assert_int_equal(imap_seqset_parse("3:5,9,20:*", 10, 10, &set, &why),
			 0);
	imap_seqset_resolve(&set, 25);
	for (uint32_t v = 0; v <= 30; v++)
		assert_int_equal(imap_seqset_has(&set, v),
				 (v >= 3 && v <= 5) || v == 9 ||
					 (v >= 20 && v <= 25));
	imap_seqset_free(&set);
}

/* UTF-8 utf8 and modified UTF-7 m are the same name, both ways. */
static void
same_name(const char *utf8, const char *m)
{
	struct buf *a = buf_new(4096), *b = buf_new(4096);

	assert_int_equal(imap_utf8_to_mutf7(utf8, strlen(utf8), a), 0);
	assert_string_equal(a->data, m);
	assert_int_equal(imap_mutf7_to_utf8(m, strlen(m), b), 0);
	assert_string_equal(b->data, utf8);
	buf_free(&a);
	buf_free(&b);
}

static void
not_mutf7(const char *m)
{
	struct buf *b = buf_new(4096);

	assert_int_equal(imap_mutf7_to_utf8(m, strlen(m), b), -1);
	buf_free(&b);
}

static void
test_mutf7(void **st)
{
	struct buf *b = buf_new(64);

	(void)st;
	same_name("INBOX", "INBOX");
	same_name("Entw\xc3\xbcrfe", "Entw&APw-rfe");
	/* RFC 3501 5.1.3's example */
	same_name("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
		  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		  "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	same_name("A&B", "A&-B");
	same_name("&", "&-");
	same_name("\xf0\x9f\x98\x80", "&2D3eAA-");	/* a surrogate pair */
	same_name("", "");
	not_mutf7("&Jjo!");		/* '!' is no base64 digit */
	not_mutf7("&U,BTFw");		/* no closing '-' */
	not_mutf7("&AGE-");		/* 'a' must be written as itself */
	not_mutf7("&-&APw-&APw-");	/* fine, then two runs in a row */
	not_mutf7("&APw-&APw-");
	not_mutf7("&APx-");		/* unused bits not zero */
	not_mutf7("&AP-");		/* not a whole unit */
	not_mutf7("&2D0-");		/* a lone high surrogate */
	not_mutf7("&3gA-");		/* a lone low surrogate */
	not_mutf7("&-\xc3\xbc");	/* raw 8-bit */
	not_mutf7("a\tb");		/* a control character */
	not_mutf7("&-&");		/* '&' at the end */
	/* UTF-8 that is not well formed has no modified UTF-7 */
	assert_int_equal(imap_utf8_to_mutf7("\xc0\xaf", 2, b), -1);
	assert_int_equal(imap_utf8_to_mutf7("\xed\xa0\x80", 3, b), -1);
	assert_int_equal(imap_utf8_to_mutf7("\xc3", 1, b), -1);
	buf_free(&b);
}

static long long
day_of(const char *s)
{
	long long d;

	return imap_date_parse(s, strlen(s), &d) == 0 ? d : -99999;
}

static long long
moment(const char *s)
{
	int64_t t;

	return imap_datetime_parse(s, strlen(s), &t, NULL) == 0
		       ? (long long)t : -99999;
}

static void
test_dates(void **st)
{
	char out[IMAP_DATETIME_LEN + 1];

	(void)st;
	assert_int_equal(day_of("1-Jan-1970"), 0);
	assert_int_equal(day_of("01-jan-1970"), 0);
	assert_int_equal(day_of("29-Feb-2020"), 18321);
	assert_int_equal(day_of("29-Feb-2021"), -99999);
	assert_int_equal(day_of("31-Apr-2020"), -99999);
	assert_int_equal(day_of("0-Jan-2020"), -99999);
	assert_int_equal(day_of("1-Foo-2020"), -99999);
	assert_int_equal(day_of("1-Jan-20"), -99999);
	assert_int_equal(day_of("1-Jan-2020x"), -99999);
	assert_int_equal(day_of("123-Jan-2020"), -99999);
	assert_int_equal(day_of(""), -99999);
	/* RFC 9051's APPEND example */
	assert_int_equal(moment("17-Jul-1996 02:44:25 -0700"), 837596665);
	assert_int_equal(moment(" 1-Jan-1970 00:00:00 +0000"), 0);
	assert_int_equal(moment(" 1-Jan-1970 01:00:00 +0100"), 0);
	assert_int_equal(moment("1-Jan-1970 00:00:00 +0000"), -99999);
	assert_int_equal(moment("01-Jan-1970 24:00:00 +0000"), -99999);
	assert_int_equal(moment("01-Jan-1970 00:60:00 +0000"), -99999);
	assert_int_equal(moment("01-Jan-1970 00:00:00 +2400"), -99999);
	assert_int_equal(moment("01-Jan-1970 00:00:00 +0060"), -99999);
	assert_int_equal(moment("01-Jan-1970 00:00:00 0000"), -99999);
	assert_int_equal(moment("01-Jan-1970 00:00:00 +00000"), -99999);
	/* a moment whose UTC falls out of the years 1000-9999 (fuzzed) */
	assert_int_equal(moment(" 1-Jan-1000 00:00:00 +0010"), -99999);
	assert_int_equal(moment("31-Dec-9999 23:59:59 -0001"), -99999);
	assert_int_equal(moment(" 1-Jan-1000 00:00:00 +0000"),
			 -30610224000LL);
	imap_datetime_format(0, 0, out);
	assert_string_equal(out, " 1-Jan-1970 00:00:00 +0000");
	imap_datetime_format(1796342399, 0, out);
	assert_string_equal(out, " 3-Dec-2026 23:59:59 +0000");
	assert_int_equal(moment(out), 1796342399);
	imap_datetime_format(837596665, 0, out);
	assert_string_equal(out, "17-Jul-1996 09:44:25 +0000");
}

/* s parsed and formatted back in its own zone: the same text. */
static void
zone_round_trip(const char *s, long long want_t, int want_zone)
{
	char out[IMAP_DATETIME_LEN + 1];
	int64_t t;
	int zone = 12345;

	assert_int_equal(imap_datetime_parse(s, strlen(s), &t, &zone), 0);
	assert_int_equal(t, want_t);
	assert_int_equal(zone, want_zone);
	imap_datetime_format(t, zone, out);
	assert_string_equal(out, s);
}

/* RFC 9051 6.4.4: BEFORE, ON and SINCE take the internal date's day in
 * its own zone; INTERNALDATE shows the moment with the zone it came in. */
static void
test_date_zones(void **st)
{
	char out[IMAP_DATETIME_LEN + 1];
	int64_t t;
	int zone;

	(void)st;
	/* 00:30 +0200 is the 25th there, 22:30 on the 24th in UTC */
	zone_round_trip("25-Mar-2007 00:30:00 +0200", 1174775400, 120);
	assert_int_equal(imap_day_in_zone(1174775400, 120), 13597);
	assert_int_equal(imap_day_in_zone(1174775400, 0), 13596);
	zone_round_trip("25-Mar-2007 01:30:00 +0200", 1174779000, 120);
	/* 23:30 -0500 is the 24th there, 04:30 on the 25th in UTC */
	zone_round_trip("24-Mar-2007 23:30:00 -0500", 1174797000, -300);
	assert_int_equal(imap_day_in_zone(1174797000, -300), 13596);
	assert_int_equal(imap_day_in_zone(1174797000, 0), 13597);
	/* the farthest zones in use, and the format's limits */
	zone_round_trip(" 1-Jan-2007 00:00:00 +1400", 1167559200, 840);
	assert_int_equal(imap_day_in_zone(1167559200, 840), 13514);
	assert_int_equal(imap_day_in_zone(1167559200, 0), 13513);
	zone_round_trip("31-Dec-2006 23:59:59 -1200", 1167652799, -720);
	assert_int_equal(imap_day_in_zone(1167652799, -720), 13513);
	assert_int_equal(imap_day_in_zone(1167652799, 0), 13514);
	zone_round_trip(" 1-Jan-2007 00:00:00 +2359", 1167523260, 1439);
	zone_round_trip(" 1-Jan-2007 00:00:00 -2359", 1167695940, -1439);
	/* -0000 is the offset of +0000 (RFC 5322: zone unknown) */
	assert_int_equal(imap_datetime_parse("25-Mar-2007 01:30:00 -0000", 26,
					     &t, &zone), 0);
	assert_int_equal(t, 1174786200);
	assert_int_equal(zone, 0);
	imap_datetime_format(t, zone, out);
	assert_string_equal(out, "25-Mar-2007 01:30:00 +0000");
	zone_round_trip("25-Mar-2007 01:30:00 +0000", 1174786200, 0);
	/* the same moment in other zones */
	imap_datetime_format(1174779000, -300, out);
	assert_string_equal(out, "24-Mar-2007 18:30:00 -0500");
	imap_datetime_format(1174779000, 0, out);
	assert_string_equal(out, "24-Mar-2007 23:30:00 +0000");
	/* a zone out of range is taken as +0000 */
	imap_datetime_format(1174779000, 1440, out);
	assert_string_equal(out, "24-Mar-2007 23:30:00 +0000");
	assert_int_equal(imap_day_in_zone(1174779000, -100000), 13596);
	/* before 1970, and no overflow at the ends (UBSan) */
	assert_int_equal(imap_day_in_zone(-1, 0), -1);
	assert_int_equal(imap_day_in_zone(-1, 1), 0);
	assert_int_equal(imap_day_in_zone(-86400, -1), -2);
	assert_true(imap_day_in_zone(INT64_MIN, -1439) < 0);
	assert_true(imap_day_in_zone(INT64_MAX, 1439) > 0);
	imap_datetime_format(INT64_MIN, -1439, out);
	imap_datetime_format(INT64_MAX, 1439, out);
}

/* The plain definition of a match, to check imap_match against. */
static bool
naive(const char *p, const char *n)
{
	if (*p == '\0')
		return *n == '\0';
	if (*p == '*' || *p == '%') {
		for (const char *k = n;; k++) {
			if (naive(p + 1, k))
				return true;
			if (*k == '\0' || (*p == '%' && *k == '/'))
				return false;
		}
	}
	return *n == *p && naive(p + 1, n + 1);
}

static void
test_match(void **st)
{
	static const char *const PATS[] = {
		"*", "%", "%/%", "*/b", "a%", "a*", "a/%", "a/*", "*a*b*",
		"%%", "*%*", "a%%b", "%b", "", "abc", "a/b/c", "**/%", "%*%",
		"*/%/c", "a%c", "&AOk-", "caf\xc3\xa9*",
	};
	static const char *const NAMES[] = {
		"a", "a/b", "a/b/c", "ab", "abc", "ac", "acb", "ab/c",
		"a/c", "a/cb", "axxb", "b", "b/b", "ba", "caf\xc3\xa9",
		"caf\xc3\xa9/x", "x/y/c", "zz/a",
	};
	size_t np = sizeof(PATS) / sizeof(PATS[0]);
	size_t nn = sizeof(NAMES) / sizeof(NAMES[0]);

	(void)st;
	/* every name in order, then backwards (no prefix to reuse) */
	for (size_t i = 0; i < np; i++) {
		struct imap_match *m = imap_match_new(PATS[i], strlen(PATS[i]));

		for (size_t k = 0; k < 2 * nn; k++) {
			const char *n = NAMES[k < nn ? k : 2 * nn - 1 - k];

			if (imap_match(m, n, false) != naive(PATS[i], n))
				fprintf(stderr, "%s ~ %s\n", PATS[i], n);
			assert_int_equal(imap_match(m, n, false),
					 naive(PATS[i], n));
		}
		imap_match_free(&m);
	}
	/* INBOX without case, and the prefix kept across such a call */
	{
		struct imap_match *m = imap_match_new("iN%", 3);

		assert_true(imap_match(m, "INBOX", true));
		assert_false(imap_match(m, "INBOX", false));
		assert_true(imap_match(m, "iNx", false));
		assert_false(imap_match(m, "inx", false));
		assert_true(imap_match_ends_pct(m));
		imap_match_free(&m);
	}
	/* more fixed octets than the name: nothing, at no cost */
	{
		char pat[600];
		struct imap_match *m;

		memset(pat, 'a', sizeof(pat));
		pat[0] = '*';
		m = imap_match_new(pat, sizeof(pat));
		assert_false(imap_match(m, "aaa", false));
		assert_false(imap_match_ends_pct(m));
		assert_false(imap_match(m, "a", false));
		imap_match_free(&m);
		/* many states (words of bits) */
		for (size_t i = 0; i < sizeof(pat); i += 2)
			pat[i] = '%';
		m = imap_match_new(pat, sizeof(pat) - 1);
		memset(pat, 'a', sizeof(pat));
		pat[sizeof(pat) - 1] = '\0';
		assert_true(imap_match(m, pat, false));
		pat[100] = '/';
		assert_false(imap_match(m, pat, false));
		imap_match_free(&m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_seqset_bound_and_has),
		cmocka_unit_test(test_mutf7),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_date_zones),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
