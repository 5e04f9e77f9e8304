/*
 * Unit tests of SEARCH (proto/imap_search.h): every search key of RFC
 * 9051 / RFC 3501 6.4.4 on a small fake mailbox, OR / NOT / list nesting,
 * the bounds (keys, depth, ranges), bad syntax, CHARSET, MIME bodies
 * (base64, quoted-printable, ISO-8859-1 and UTF-8, multipart), RFC 2047
 * headers, case-insensitive matching beyond ASCII, the text read lazily
 * and once, RFC 7162 MODSEQ, RFC 5182 "$", RFC 5032 OLDER/YOUNGER, and
 * the responses: "* SEARCH" and ESEARCH with RFC 4731's and RFC 9051's
 * examples.  Command lines go through imap_parser, as in the server.
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
#include "proto/imap_parser.h"
#include "proto/imap_search.h"

static const struct imap_limits LIM = {
	.line_max = 65536, .literal_max = 65536, .literals_max = 65536,
	.depth_max = 64, .args_max = 4096,
};

/* --- a fake mailbox ------------------------------------------------- */

struct reader {
	const char *text;
	size_t len, off;
	int reads;		/* calls of read */
	bool fail;
};

static long
rd_read(void *p, char *buf, size_t size)
{
	struct reader *r = p;
	size_t n = r->len - r->off;

	r->reads++;
	if (r->fail)
		return -1;
	if (n > size)
		n = size;
	if (n > 7)
		n = 7;		/* small pieces: the reader loops */
	memcpy(buf, r->text + r->off, n);
	r->off += n;
	return (long)n;
}

static int
rd_rewind(void *p)
{
	((struct reader *)p)->off = 0;
	return 0;
}

#define M1 \
	"From: \"Alice Smith\" <alice@example.org>\n" \
	"To: bob@example.com\n" \
	"Subject: Hello world\n" \
	"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\n" \
	"\n" \
	"Plain body text with Owls.\n"

#define M2 \
	"Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\n" \
	"From: =?UTF-8?B?0JjQstCw0L0=?= <ivan@example.ru>\n" \
	"Date: 1 Jan 20 00:00:00 +0000\n" \
	"MIME-Version: 1.0\n" \
	"Content-Type: text/plain; charset=utf-8\n" \
	"Content-Transfer-Encoding: base64\n" \
	"\n" \
	"0J/RgNC40LLQtdGCLCDQnNC40YAhIM6jzq/Pg8+Fz4bOv8+C\n" \
	"IM6jzorOo86lzqbOn86jCg==\n"

#define M3 \
	"From: carol@example.org\n" \
	"Cc: dave@example.org,\n" \
	" erin@example.org\n" \
	"Bcc: secret@example.net\n" \
	"X-Spam: yes\n" \
	"Subject: =?UTF-8?Q?=C5=81=C3=93D=C5=B9?= news\n" \
	"Date: Thu, 03 Dec 2026 23:30:00 -1100\n" \
	"MIME-Version: 1.0\n" \
	"Content-Type: multipart/alternative; boundary=\"b1\"\n" \
	"\n" \
	"preamble\n" \
	"--b1\n" \
	"Content-Type: text/plain; charset=ISO-8859-1\n" \
	"Content-Transfer-Encoding: quoted-printable\n" \
	"\n" \
	"Gr=FC=DFe aus K=F6ln, so=\n" \
	"ft break\n" \
	"--b1\n" \
	"Content-Type: text/html; charset=utf-8\n" \
	"Content-Transfer-Encoding: quoted-printable\n" \
	"\n" \
	"<p>Gr=C3=BC=C3=9Fe aus K=C3=B6ln, =C5=81=C3=93D=C5=B9</p>\n" \
	"--b1\n" \
	"Content-Type: image/png\n" \
	"Content-Transfer-Encoding: base64\n" \
	"\n" \
	"aGlkZGVuIGltYWdlIHdvcmRz\n" \
	"--b1--\n"

#define M4 \
	"X-Empty: \n" \
	"Content-Type: multipart/mixed; boundary=o\n" \
	"\n" \
	"--o\n" \
	"Content-Type: text/plain\n" \
	"\n" \
	"no date here\n" \
	"--o\n" \
	"Content-Type: message/rfc822\n" \
	"\n" \
	"Subject: =?UTF-8?Q?Inner_=C3=BCber?=\n" \
	"Content-Type: text/plain; charset=utf-8\n" \
	"Content-Transfer-Encoding: base64\n" \
	"\n" \
	"SW5uZXIgV29yZHM=\n" \
	"--o--\n"

#define NMSG 4

struct fake {
	struct imap_msg m[NMSG];
	bool recent[NMSG];
	struct reader rd[NMSG];
	struct imap_seqset saved;
	int64_t now;
};

static struct fake F;

static void
fake_init(void)
{
	static const char *const texts[NMSG] = {M1, M2, M3, M4};
	int64_t t;

	memset(&F, 0, sizeof(F));
	for (int i = 0; i < NMSG; i++) {
		F.m[i].uid = (uint32_t)(i + 1) * 10;	/* 10 20 30 40 */
		F.m[i].modseq = (uint64_t)(i + 1) * 100;
		F.m[i].size = 1000 * (uint64_t)(i + 1);
		F.rd[i].text = texts[i];
		F.rd[i].len = strlen(texts[i]);
	}
	F.m[0].flags = IMAP_F_SEEN | IMAP_F_ANSWERED;
	F.m[1].flags = IMAP_F_FLAGGED | IMAP_F_DELETED;
	F.m[2].flags = IMAP_F_DRAFT | IMAP_F_SEEN;
	F.m[0].keywords = "$Forwarded Work";
	F.m[2].keywords = "work";
	F.recent[2] = F.recent[3] = true;
	/* internal dates: 1-Feb-1994 23:59:59 UTC, 2-Feb-1994 00:00:00 UTC,
	 * 3-Dec-2026 12:00:00 UTC, 4-Dec-2026 00:00:00 UTC */
	assert_int_equal(imap_datetime_parse(" 1-Feb-1994 23:59:59 +0000", 26,
					     &t, NULL), 0);
	F.m[0].date = t;
	F.m[1].date = t + 1;
	assert_int_equal(imap_datetime_parse(" 3-Dec-2026 12:00:00 +0000", 26,
					     &t, NULL), 0);
	F.m[2].date = t;
	F.m[3].date = t + 12 * 3600;
	F.now = t + 13 * 3600;
}

/* --- running a SEARCH line ------------------------------------------ */

static struct imap_parser *P;

/* Parses "t SEARCH <args>" into *s; the error and why. */
static enum imap_search_err
parse(const char *args, bool rev2, struct imap_search **s, const char **why)
{
	char line[70000];
	size_t off = 0, len, used;
	const struct imap_command *c = NULL;

	len = (size_t)snprintf(line, sizeof(line), "t SEARCH%s%s\r\n",
			       *args ? " " : "", args);
	assert_true(len < sizeof(line));
	imap_parser_free(&P);
	P = imap_parser_new(&LIM);
	while (c == NULL) {
		enum imap_parse_res r = imap_parser_feed(P, line + off,
							 len - off, &used);

		off += used;
		if (r == IMAP_PARSE_LITERAL)
			imap_parser_literal_accept(P, false);
		else if (r == IMAP_PARSE_COMMAND)
			c = imap_parser_command(P);
		else if (r != IMAP_PARSE_MORE)
			fail_msg("imap_parser refused %s", line);
	}
	return imap_search_parse(c->args, c->nargs, rev2, s, why);
}

/* The sequence numbers of the matching messages, "1 3", or "ERR". */
static const char *
matches(struct imap_search *s)
{
	static char out[128];
	struct imap_search_box box = {NMSG, 40, &F.saved, F.now};
	size_t n = 0;

	out[0] = '\0';
	for (uint32_t i = 0; i < NMSG; i++) {
		struct imap_search_msg msg = {i + 1, &F.m[i], F.recent[i],
					      &F.rd[i], rd_read, rd_rewind};
		int r;

		F.rd[i].off = 0;
		r = imap_search_match(s, &box, &msg);
		if (r < 0)
			return "ERR";
		if (r == 1)
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%u",
					      n ? " " : "", i + 1);
	}
	return out;
}

/* The matches of SEARCH args (rev1). */
static const char *
run(const char *args)
{
	static char out[128];
	struct imap_search *s;
	const char *why;

	if (parse(args, false, &s, &why) != IMAP_SEARCH_OK) {
		snprintf(out, sizeof(out), "BAD %s", why);
		return out;
	}
	snprintf(out, sizeof(out), "%s", matches(s));
	imap_search_free(&s);
	return out;
}

static void
want(const char *args, const char *expect)
{
	const char *got = run(args);

	if (strcmp(got, expect) != 0)
		fail_msg("SEARCH %s: got \"%s\", want \"%s\"", args, got,
			 expect);
}

static void
bad(const char *args, enum imap_search_err err)
{
	struct imap_search *s = (struct imap_search *)1;
	const char *why = NULL;

	if (parse(args, false, &s, &why) != err)
		fail_msg("SEARCH %s: not refused as %d", args, (int)err);
	assert_null(s);
	assert_non_null(why);
	assert_true(strlen(why) > 5);
}

static int
setup(void **st)
{
	(void)st;
	fake_init();
	return 0;
}

static int
teardown(void **st)
{
	(void)st;
	imap_parser_free(&P);
	imap_seqset_free(&F.saved);
	return 0;
}

/* --- the keys -------------------------------------------------------- */

static void
test_flags(void **st)
{
	(void)st;
	want("ALL", "1 2 3 4");
	want("ANSWERED", "1");
	want("UNANSWERED", "2 3 4");
	want("DELETED", "2");
	want("UNDELETED", "1 3 4");
	want("DRAFT", "3");
	want("UNDRAFT", "1 2 4");
	want("FLAGGED", "2");
	want("UNFLAGGED", "1 3 4");
	want("SEEN", "1 3");
	want("UNSEEN", "2 4");
	want("seen", "1 3");			/* keys in any case */
	want("RECENT", "3 4");
	want("NEW", "4");			/* recent and unseen */
	want("OLD", "1 2");
	want("KEYWORD work", "1 3");		/* keywords: any case */
	want("KEYWORD $forwarded", "1");
	want("UNKEYWORD WORK", "2 4");
	want("KEYWORD nope", "");
}

static void
test_sizes_dates(void **st)
{
	(void)st;
	want("LARGER 2000", "3 4");
	want("SMALLER 2000", "1");
	want("LARGER 18446744073709551615", "BAD LARGER needs a number");
	want("LARGER x", "BAD LARGER needs a number");
	want("LARGER -1", "BAD LARGER needs a number");
	/* the internal date's day in UTC */
	want("ON 1-Feb-1994", "1");
	want("ON 2-Feb-1994", "2");
	want("BEFORE 2-Feb-1994", "1");
	want("SINCE 2-Feb-1994", "2 3 4");
	want("SINCE \"4-Dec-2026\"", "4");
	want("BEFORE 1-Jan-1990", "");
	want("ON 30-Feb-2020", "BAD Invalid date (d-Mon-yyyy expected)");
	want("SINCE", "BAD A date is needed");
	/* RFC 5032: now is 4-Dec 01:00; message 4 is 1 h old, 3 is 13 h */
	want("YOUNGER 3600", "4");
	want("YOUNGER 3599", "");
	want("OLDER 3600", "1 2 3");
	want("OLDER 46800", "1 2");
	want("YOUNGER", "BAD YOUNGER needs a number of seconds");
	/* ages that do not fit are saturated (UBSan: no overflow) */
	F.m[0].date = INT64_MIN;
	F.m[1].date = INT64_MAX;
	want("OLDER 1", "1 3 4");
	want("YOUNGER 1", "2");		/* in the future */
	want("BEFORE 1-Jan-1000", "1");
}

/* RFC 9051 6.4.4: BEFORE, ON and SINCE take the internal date's day in
 * the zone it was appended with; OLDER and YOUNGER its moment. */
static void
test_dates_in_zone(void **st)
{
	(void)st;
	F.m[0].date = 1174775400;	/* 25-Mar-2007 00:30:00 +0200 */
	F.m[0].zone = 120;
	F.m[1].date = 1174797000;	/* 24-Mar-2007 23:30:00 -0500 */
	F.m[1].zone = -300;
	F.m[2].date = 1174779000;	/* 24-Mar-2007 23:30:00 +0000 */
	F.m[2].zone = 0;
	F.m[3].date = 1174782600;	/* 25-Mar-2007 00:30:00 +0000 */
	F.m[3].zone = 0;
	F.now = 1174786200;		/* 25-Mar-2007 01:30:00 +0000 */
	want("ON 24-Mar-2007", "2 3");
	want("ON 25-Mar-2007", "1 4");
	want("BEFORE 25-Mar-2007", "2 3");
	want("SINCE 25-Mar-2007", "1 4");
	want("SINCE 24-Mar-2007 BEFORE 26-Mar-2007", "1 2 3 4");
	want("NOT ON 25-Mar-2007", "2 3");
	/* the moment, whatever its zone: message 2 is 3 h ahead of now */
	want("YOUNGER 7200", "2 3 4");
	want("OLDER 7200", "1");
	/* +1400 and -1200 days on both sides of UTC's */
	F.m[0].date = 1167559200;	/* 1-Jan-2007 00:00:00 +1400 */
	F.m[0].zone = 840;
	F.m[1].date = 1167652799;	/* 31-Dec-2006 23:59:59 -1200 */
	F.m[1].zone = -720;
	want("ON 1-Jan-2007", "1");
	want("ON 31-Dec-2006", "2");
	/* the ends of time in the farthest zones (UBSan: no overflow) */
	F.m[0].date = INT64_MIN;
	F.m[0].zone = -1439;
	F.m[1].date = INT64_MAX;
	F.m[1].zone = 1439;
	want("BEFORE 1-Jan-1000", "1");
	want("SINCE 1-Jan-9999", "2");
}

static void
test_sent_dates(void **st)
{
	(void)st;
	/* the day written in Date:, its zone not applied; M4 has none */
	want("SENTON 7-Feb-1994", "1");
	want("SENTON 1-Jan-2020", "2");		/* obs-year "20" */
	want("SENTON 3-Dec-2026", "3");		/* 4-Dec in UTC */
	want("SENTBEFORE 1-Jan-2020", "1");
	want("SENTSINCE 1-Jan-2020", "2 3");
	want("NOT SENTSINCE 1-Jan-2020", "1 4");
}

static void
test_sets(void **st)
{
	(void)st;
	want("1", "1");
	want("2:3", "2 3");
	want("*", "4");
	want("3:*", "3 4");
	want("*:3", "3 4");
	want("1,4", "1 4");
	want("UID 20:30", "2 3");
	want("UID *", "4");
	want("UID 15:25,40", "2 4");
	want("UID 1:9", "");
	want("0", "BAD Invalid sequence set");
	want("1,", "BAD Invalid sequence set");
	want("1,$", "BAD Invalid sequence set");
	want("UID", "BAD UID needs a set");
	want("UID (1)", "BAD Invalid sequence set");
	/* "$": the saved result, of UIDs (RFC 5182), in SEARCH and UID */
	want("$", "");
	assert_int_equal(imap_seqset_parse("10,30", 5, 10, &F.saved, &(const
			 char *){NULL}), 0);
	imap_seqset_resolve(&F.saved, 40);
	want("$", "1 3");
	want("UID $", "1 3");
	want("NOT $", "2 4");
}

static void
test_modseq(void **st)
{
	struct imap_search *s;
	const char *why;

	(void)st;
	want("MODSEQ 200", "2 3 4");
	want("MODSEQ \"/flags/\\\\draft\" all 300", "3 4");
	want("MODSEQ \"/flags/$work\" priv 400", "4");
	want("MODSEQ \"/flags/x\" none 400",
	     "BAD Invalid MODSEQ entry type");
	want("MODSEQ \"/other\" all 400", "BAD Invalid MODSEQ entry name");
	want("MODSEQ 9223372036854775808",
	     "BAD MODSEQ needs a mod-sequence value");
	want("MODSEQ", "BAD MODSEQ needs a mod-sequence value");
	assert_int_equal(parse("MODSEQ 1", false, &s, &why), IMAP_SEARCH_OK);
	assert_true(imap_search_wants_modseq(s));
	assert_false(imap_search_wants_text(s));
	assert_false(imap_search_uses_saved(s));
	imap_search_free(&s);
	assert_int_equal(parse("OR $ 1", false, &s, &why), IMAP_SEARCH_OK);
	assert_true(imap_search_uses_saved(s));
	assert_false(imap_search_wants_modseq(s));
	imap_search_free(&s);
}

static void
test_headers(void **st)
{
	(void)st;
	want("FROM alice", "1");
	want("FROM \"ALICE SMITH\"", "1");
	want("FROM example.org", "1 3");
	want("TO bob@EXAMPLE.com", "1");
	want("CC erin", "3");			/* unfolded */
	want("CC \"org, erin\"", "3");
	want("BCC secret", "3");
	want("SUBJECT hello", "1");
	want("SUBJECT \"\"", "1 2 3");		/* having the field */
	want("HEADER X-Spam yes", "3");
	want("HEADER x-spam \"\"", "3");	/* any with the field */
	want("HEADER X-Empty \"\"", "4");
	want("HEADER Subject owls", "");
	want("HEADER \"\" x", "BAD Invalid HEADER field name");
	want("HEADER \"X-Spam:\" x", "BAD Invalid HEADER field name");
	want("HEADER \"X Spam\" x", "BAD Invalid HEADER field name");
	want("HEADER X-Spam", "BAD HEADER needs a string");
	/* RFC 2047 words decoded (ISO-8859-1 and UTF-8), any case */
	want("SUBJECT \"café crème\"", "2");
	want("SUBJECT \"CAFÉ CRÈME\"", "2");
	want("FROM \"иван\"", "2");
	want("FROM \"ИВАН\"", "2");
	want("SUBJECT \"łódź news\"", "3");
	/* a literal as the string */
	want("SUBJECT {5}\r\nWORLD", "1");
	want("SUBJECT NIL", "");			/* the string "NIL" */
	want("SUBJECT", "BAD This search key needs a string");
	want("SUBJECT (x)", "BAD This search key needs a string");
}

static void
test_bodies(void **st)
{
	(void)st;
	want("BODY owls", "1");
	want("BODY \"Plain Body\"", "1");
	want("BODY hello", "");			/* body only */
	want("TEXT hello", "1");		/* headers or body */
	want("TEXT owls", "1");
	want("TEXT secret@", "3");
	/* base64 UTF-8: Cyrillic and Greek in any case, final sigma */
	want("BODY \"ПРИВЕТ, мир\"", "2");
	want("BODY \"σίσυφος\"", "2");
	want("BODY \"ΣΊΣΥΦΟΣ\"", "2");
	/* quoted-printable ISO-8859-1 and UTF-8 parts of a multipart */
	want("BODY \"GRÜSSE\"", "");		/* no full folding of ß */
	want("BODY \"GRÜßE AUS KÖLN\"", "3");
	want("BODY \"soft break\"", "3");
	want("BODY \"łódź\"", "3");
	want("BODY preamble", "");
	want("BODY \"hidden image\"", "");	/* not a text part */
	want("BODY \"0J/Rg\"", "");		/* decoded, not raw */
	want("BODY \"\"", "1 2 3 4");
	/* an attached message: its headers and decoded text are body */
	want("BODY \"inner words\"", "4");
	want("BODY \"INNER ÜBER\"", "4");
	want("SUBJECT inner", "");
	want("TEXT \"inner words\"", "4");
	want("TEXT \"content-type\"", "2 3 4");
}

static void
test_rfc_examples(void **st)
{
	(void)st;
	/* RFC 9051 6.4.4 (and RFC 3501's) */
	want("FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"", "2");
	want("TEXT \"string not in mailbox\"", "");
	want("CHARSET UTF-8 TEXT {12}\r\nПРИВЕТ", "2");
	/* RFC 9051 6.4.4.1's ESEARCH commands parse; RFC 5182's too */
	want("RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "
	     "\"Smith\"", "2");
	want("RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"", "2");
	want("RETURN (SAVE) SINCE 1-Jan-2004 NOT FROM \"Smith\" "
	     "UID 380:*", "4");	/* 380:* is 40:380 */
}

static void
test_nesting(void **st)
{
	(void)st;
	want("SEEN FLAGGED", "");
	want("SEEN ANSWERED", "1");
	want("OR SEEN FLAGGED", "1 2 3");
	want("NOT SEEN", "2 4");
	want("NOT NOT SEEN", "1 3");
	want("OR (SEEN DRAFT) DELETED", "2 3");
	want("OR NOT SEEN OR ANSWERED 3", "1 2 3 4");
	want("(SEEN) (UNDRAFT)", "1");
	want("((((1:2))))", "1 2");
	want("NOT (OR 1 2)", "3 4");
	want("OR FROM alice BODY \"ПРИВЕТ\"", "1 2");
	want("OR", "BAD OR needs two search keys");
	want("OR SEEN", "BAD OR needs two search keys");
	want("NOT", "BAD NOT needs a search key");
	want("()", "BAD Missing search key");
	want("", "BAD Missing search key");
	want("FOO", "BAD Unknown search key");
	want("\"SEEN\"", "BAD Invalid search key");
	want("SEEN NIL", "BAD Invalid search key");
	want("KEYWORD", "BAD KEYWORD needs a keyword");
	want("KEYWORD \"x\"", "BAD KEYWORD needs a keyword");
	want("KEYWORD \\Seen", "BAD Invalid keyword");
}

static void
test_limits(void **st)
{
	char line[8192];
	size_t n = 0;

	(void)st;
	/* IMAP_SEARCH_KEYS_MAX keys in all: the root list counts one */
	for (int i = 0; i < IMAP_SEARCH_KEYS_MAX - 1; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "SEEN ");
	want(line, "1 3");
	snprintf(line + n, sizeof(line) - n, "SEEN");
	bad(line, IMAP_SEARCH_LIMIT);
	/* IMAP_SEARCH_DEPTH_MAX levels of NOT */
	n = 0;
	for (int i = 0; i < IMAP_SEARCH_DEPTH_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "NOT ");
	snprintf(line + n, sizeof(line) - n, "SEEN");
	want(line, "1 3");
	memmove(line + 4, line, strlen(line) + 1);
	memcpy(line, "NOT ", 4);
	bad(line, IMAP_SEARCH_LIMIT);
	/* and of parentheses */
	n = 0;
	for (int i = 0; i < IMAP_SEARCH_DEPTH_MAX + 1; i++)
		line[n++] = '(';
	n += (size_t)snprintf(line + n, sizeof(line) - n, "SEEN");
	for (int i = 0; i < IMAP_SEARCH_DEPTH_MAX + 1; i++)
		line[n++] = ')';
	line[n] = '\0';
	bad(line, IMAP_SEARCH_LIMIT);
	/* IMAP_SEARCH_RANGES_MAX ranges of a set */
	n = 0;
	for (int i = 0; i < IMAP_SEARCH_RANGES_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%d",
				      i ? "," : "", 2 * i + 1);
	want(line, "1 3");
	snprintf(line + n, sizeof(line) - n, ",5000");
	bad(line, IMAP_SEARCH_LIMIT);
}

static void
test_charset_return(void **st)
{
	struct imap_search *s;
	const char *why;

	(void)st;
	want("CHARSET UTF-8 SEEN", "1 3");
	want("CHARSET us-ascii SEEN", "1 3");
	want("CHARSET \"utf-8\" BODY owls", "1");
	want("RETURN (COUNT) CHARSET UTF-8 SEEN", "1 3");
	bad("CHARSET ISO-8859-1 SEEN", IMAP_SEARCH_BADCHARSET);
	bad("CHARSET", IMAP_SEARCH_BAD);
	bad("CHARSET UTF-8", IMAP_SEARCH_BAD);
	bad("CHARSET UTF-8 RETURN (ALL) SEEN", IMAP_SEARCH_BAD);
	bad("RETURN SEEN", IMAP_SEARCH_BAD);
	bad("RETURN (FOO) SEEN", IMAP_SEARCH_BAD);
	bad("RETURN (MIN)", IMAP_SEARCH_BAD);
	assert_int_equal(parse("RETURN () ALL", false, &s, &why),
			 IMAP_SEARCH_OK);
	assert_int_equal(imap_search_return(s), IMAP_SEARCH_RET_ALL);
	imap_search_free(&s);
	assert_int_equal(parse("RETURN (min Max SAVE) ALL", false, &s, &why),
			 IMAP_SEARCH_OK);
	assert_int_equal(imap_search_return(s), IMAP_SEARCH_RET_MIN |
			 IMAP_SEARCH_RET_MAX | IMAP_SEARCH_RET_SAVE);
	imap_search_free(&s);
	assert_int_equal(parse("ALL", false, &s, &why), IMAP_SEARCH_OK);
	assert_int_equal(imap_search_return(s), 0);
	imap_search_free(&s);
	assert_int_equal(parse("ALL", true, &s, &why), IMAP_SEARCH_OK);
	assert_int_equal(imap_search_return(s), IMAP_SEARCH_RET_ALL);
	imap_search_free(&s);
}

/* --- reading the text ------------------------------------------------ */

static void
test_lazy_text(void **st)
{
	struct imap_search *s;
	const char *why;
	int reads;

	(void)st;
	/* no text key: never read */
	want("OR SEEN (1:* LARGER 1)", "1 2 3 4");
	for (int i = 0; i < NMSG; i++)
		assert_int_equal(F.rd[i].reads, 0);
	assert_int_equal(parse("SEEN", false, &s, &why), IMAP_SEARCH_OK);
	assert_false(imap_search_wants_text(s));
	imap_search_free(&s);
	assert_int_equal(parse("NOT (SEEN BODY x)", false, &s, &why),
			 IMAP_SEARCH_OK);
	assert_true(imap_search_wants_text(s));
	imap_search_free(&s);
	/* a text key after a key that already decides: not read */
	want("BODY owls DELETED", "");
	for (int i = 0; i < NMSG; i++)
		assert_int_equal(F.rd[i].reads,
				 i == 1 ? (int)(F.rd[i].len + 6) / 7 + 1 : 0);
	/* many text keys: each message read once (pieces of 7 octets and
	 * the read that says the end) */
	F.rd[1].reads = 0;
	want("FROM x OR BODY y TEXT z SUBJECT w SENTON 1-Jan-2020 "
	     "HEADER x y", "");
	for (int i = 0; i < NMSG; i++) {
		reads = (int)(F.rd[i].len + 6) / 7 + 1;
		assert_int_equal(F.rd[i].reads, reads);
	}
	/* a read error: -1 */
	F.rd[0].fail = true;
	want("BODY owls", "ERR");
	want("SEEN", "1 3");
	F.rd[0].fail = false;
}

static void
test_text_bound(void **st)
{
	/* the first IMAP_SEARCH_TEXT_MAX octets are searched, no more */
	size_t len = IMAP_SEARCH_TEXT_MAX + 100;
	char *big = malloc(len + 1);
	struct reader r = {0};
	struct imap_search *s;
	const char *why;
	struct imap_search_box box = {1, 1, NULL, 0};
	struct imap_msg m = {0};
	struct imap_search_msg msg = {1, &m, false, &r, rd_read, rd_rewind};

	(void)st;
	memset(big, 'a', len);
	memcpy(big, "Subject: x\n\n", 12);
	memcpy(big + IMAP_SEARCH_TEXT_MAX - 6, "needle", 6);
	memcpy(big + IMAP_SEARCH_TEXT_MAX + 10, "beyond", 6);
	big[len] = '\0';
	r.text = big;
	r.len = len;
	assert_int_equal(parse("BODY needle", false, &s, &why),
			 IMAP_SEARCH_OK);
	assert_int_equal(imap_search_match(s, &box, &msg), 1);
	imap_search_free(&s);
	r.off = 0;
	assert_int_equal(parse("BODY beyond", false, &s, &why),
			 IMAP_SEARCH_OK);
	assert_int_equal(imap_search_match(s, &box, &msg), 0);
	assert_true(r.off <= IMAP_SEARCH_TEXT_MAX);
	imap_search_free(&s);
	free(big);
}

/* SEARCH args on the one message text: 1 match, 0 not. */
static int
match_text(const char *text, const char *args)
{
	struct reader r = {text, strlen(text), 0, 0, false};
	struct imap_search *s;
	const char *why;
	struct imap_search_box box = {1, 1, NULL, 0};
	struct imap_msg m = {0};
	struct imap_search_msg msg = {1, &m, false, &r, rd_read, rd_rewind};
	int res;

	assert_int_equal(parse(args, false, &s, &why), IMAP_SEARCH_OK);
	res = imap_search_match(s, &box, &msg);
	imap_search_free(&s);
	return res;
}

#define MADDR \
	"From: <user-from (comment)@ (comment) domain.org>\n" \
	"To: \"Real, Name\" <real@example.org>\n" \
	"Cc: (c) x . y @ example . com,\n" \
	" =?UTF-8?Q?J=C3=B6rg?= (note) <\"j g\"@x.org>\n" \
	"Bcc: team: a@b.c, d (D) @e.f;\n" \
	"Subject: user-from@domain.org?\n" \
	"\n" \
	"user-from@domain.org\n"

static void
test_address_keys(void **st)
{
	(void)st;
	/* RFC 9051 6.4.4: the envelope's address (imaptest's
	 * search-addresses), any case, any part of it */
	assert_int_equal(match_text(MADDR, "FROM user-from@domain.org"), 1);
	assert_int_equal(match_text(MADDR, "FROM USER-FROM@Domain.ORG"), 1);
	assert_int_equal(match_text(MADDR, "FROM from@dom"), 1);
	assert_int_equal(match_text(MADDR, "FROM nobody@domain.org"), 0);
	/* the field's text still matches, comments and all */
	assert_int_equal(match_text(MADDR, "FROM \"(comment)@\""), 1);
	/* a quoted phrase unquoted, before its address */
	assert_int_equal(match_text(MADDR, "TO \"Real, Name <real@\""), 1);
	assert_int_equal(match_text(MADDR, "TO real@example.org"), 1);
	/* white space and comments out of the address; the second address
	 * of a list (its quoted local part as ENVELOPE has it), its RFC 2047
	 * name decoded; the list is one text, as the field is */
	assert_int_equal(match_text(MADDR, "CC x.y@example.com"), 1);
	assert_int_equal(match_text(MADDR, "CC \"\\\"j g\\\"@x.org\""), 1);
	assert_int_equal(match_text(MADDR, "CC \"J\xc3\xb6rg <\""), 1);
	assert_int_equal(match_text(MADDR, "CC \"x.y@example.com, j\""), 1);
	assert_int_equal(match_text(MADDR, "CC \"(note)\""), 1);
	assert_int_equal(match_text(MADDR, "CC \"y@example.com (note)\""),
			 0);
	/* a group's members */
	assert_int_equal(match_text(MADDR, "BCC d@e.f"), 1);
	assert_int_equal(match_text(MADDR, "BCC \"team: a@b.c\""), 1);
	/* SUBJECT, HEADER and BODY stay on the text */
	assert_int_equal(match_text(MADDR, "SUBJECT domain.org?"), 1);
	assert_int_equal(match_text(MADDR, "HEADER From user-from@domain"),
			 0);
	assert_int_equal(match_text(MADDR, "TO user-from@domain.org"), 0);
	/* no field, an empty one, a group with nobody in it */
	assert_int_equal(match_text("Subject: x\n\nb\n", "FROM a"), 0);
	assert_int_equal(match_text("From:\n\nb\n", "FROM \"\""), 1);
	assert_int_equal(match_text("To: undisclosed-recipients:;\n\n",
				    "TO recipients"), 1);
	assert_int_equal(match_text("To: undisclosed-recipients:;\n\n",
				    "TO @"), 0);
}

/* --- responses ------------------------------------------------------- */

/* The response for matches nums with their mod-sequences modseqs. */
static void
response_ms(const char *args, bool rev2, const char *tag, bool uid,
	    const uint32_t *nums, const uint64_t *modseqs, size_t n,
	    const char *expect)
{
	struct imap_search *s;
	const char *why;
	struct buf *out = buf_new(1 << 16);

	assert_int_equal(parse(args, rev2, &s, &why), IMAP_SEARCH_OK);
	imap_search_write(s, tag, uid, nums, n, modseqs, out);
	assert_string_equal(out->data ? out->data : "", expect);
	imap_search_free(&s);
	buf_free(&out);
}

/* The same, every match with mod-sequence modseq. */
static void
response(const char *args, bool rev2, const char *tag, bool uid,
	 const uint32_t *nums, size_t n, uint64_t modseq, const char *expect)
{
	uint64_t ms[16];

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		ms[i] = modseq;
	response_ms(args, rev2, tag, uid, nums, ms, n, expect);
}

static void
test_responses(void **st)
{
	static const uint32_t a[] = {2, 10, 11};
	static const uint32_t b[] = {1, 2, 9};
	static const uint32_t c[] = {1, 2, 3, 5, 7, 8, 9, 10, 20};

	(void)st;
	/* rev1 */
	response("ALL", false, "A1", false, a, 3, 0, "* SEARCH 2 10 11\r\n");
	response("ALL", false, "A1", true, a, 0, 0, "* SEARCH\r\n");
	/* RFC 7162 3.1.5: "* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ
	 * 917162500)"; nothing when there is no match */
	response("MODSEQ 1", false, "a", false, a, 3, 917162500,
		 "* SEARCH 2 10 11 (MODSEQ 917162500)\r\n");
	response("MODSEQ 1", false, "a", false, a, 0, 5, "* SEARCH\r\n");
	/* RFC 4731 3.1's examples */
	response("RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "
		 "\"Smith\"", false, "A282", false, a, 3, 0,
		 "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n");
	response("RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
		 false, "A283", false, a, 3, 0,
		 "* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n");
	/* RFC 9051 6.4.4's: UID, MIN and MAX, and no match */
	response("RETURN (MIN MAX) 1:5000", false, "A285", true,
		 (const uint32_t[]){7, 3800}, 2, 0,
		 "* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n");
	response("RETURN (ALL) 1:5000", false, "A286", false, NULL, 0, 0,
		 "* ESEARCH (TAG \"A286\")\r\n");
	response("RETURN (MIN MAX ALL COUNT) ALL", false, "tag", true, b, 3,
		 0, "* ESEARCH (TAG \"tag\") UID MIN 1 MAX 9 COUNT 3 "
		 "ALL 1:2,9\r\n");
	response("RETURN (MIN MAX ALL COUNT) ALL", false, "tag", false, b, 0,
		 0, "* ESEARCH (TAG \"tag\") COUNT 0\r\n");
	response("RETURN (ALL) ALL", false, "x", false, c, 9, 0,
		 "* ESEARCH (TAG \"x\") ALL 1:3,5,7:10,20\r\n");
	/* rev2: ESEARCH with ALL */
	response("ALL", true, "A1", false, c, 2, 0,
		 "* ESEARCH (TAG \"A1\") ALL 1:2\r\n");
	response("ALL", true, "A1", true, NULL, 0, 0,
		 "* ESEARCH (TAG \"A1\") UID\r\n");
	/* RFC 7162 3.1.5: ESEARCH with MODSEQ */
	response("RETURN (ALL) MODSEQ 5", false, "a", false, c, 4, 1236,
		 "* ESEARCH (TAG \"a\") ALL 1:3,5 MODSEQ 1236\r\n");
	response("RETURN (COUNT) MODSEQ 5", true, "a", false, c, 0, 1236,
		 "* ESEARCH (TAG \"a\") COUNT 0\r\n");
	/* RFC 4731 3.2: MIN alone or MAX alone gives that message's
	 * mod-sequence, MIN and MAX the higher of the two, ALL or COUNT
	 * (with or without MIN/MAX) the highest of all matches */
	response_ms("RETURN (MIN) MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){5, 7, 6}, 3,
		    "* ESEARCH (TAG \"m\") MIN 1 MODSEQ 5\r\n");
	response_ms("RETURN (MAX) MODSEQ 1", false, "m", true, b,
		    (const uint64_t[]){5, 7, 6}, 3,
		    "* ESEARCH (TAG \"m\") UID MAX 9 MODSEQ 6\r\n");
	response_ms("RETURN (MIN MAX) MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){5, 7, 6}, 3,
		    "* ESEARCH (TAG \"m\") MIN 1 MAX 9 MODSEQ 6\r\n");
	response_ms("RETURN (MIN MAX) MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){8, 7, 6}, 3,
		    "* ESEARCH (TAG \"m\") MIN 1 MAX 9 MODSEQ 8\r\n");
	response_ms("RETURN (MIN COUNT) MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){5, 7, 6}, 3,
		    "* ESEARCH (TAG \"m\") MIN 1 COUNT 3 MODSEQ 7\r\n");
	response_ms("RETURN (MAX ALL) MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){5, 7, 6}, 3,
		    "* ESEARCH (TAG \"m\") MAX 9 ALL 1:2,9 MODSEQ 7\r\n");
	response_ms("RETURN (MIN) MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){5}, 1,
		    "* ESEARCH (TAG \"m\") MIN 1 MODSEQ 5\r\n");
	/* RFC 5182: SAVE with MIN saves and returns the MIN message */
	response_ms("RETURN (SAVE MIN) MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){5, 7, 6}, 3,
		    "* ESEARCH (TAG \"m\") MIN 1 MODSEQ 5\r\n");
	response_ms("RETURN (SAVE) MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){5, 7, 6}, 3, "");
	/* rev1 "* SEARCH" and rev2 ESEARCH without RETURN: the highest */
	response_ms("MODSEQ 1", false, "m", false, b,
		    (const uint64_t[]){5, 7, 6}, 3,
		    "* SEARCH 1 2 9 (MODSEQ 7)\r\n");
	response_ms("MODSEQ 1", true, "m", false, b,
		    (const uint64_t[]){5, 7, 6}, 3,
		    "* ESEARCH (TAG \"m\") ALL 1:2,9 MODSEQ 7\r\n");
	/* RFC 5182: SAVE alone answers nothing; with others, ESEARCH */
	response("RETURN (SAVE) ALL", false, "A", false, c, 3, 0, "");
	response("RETURN (SAVE) ALL", true, "A", false, c, 3, 0, "");
	response("RETURN (SAVE MIN) ALL", false, "A", false, c, 3, 0,
		 "* ESEARCH (TAG \"A\") MIN 1\r\n");
	/* a tag with a quote is escaped */
	response("RETURN (COUNT) ALL", false, "a\"b", false, c, 1, 0,
		 "* ESEARCH (TAG \"a\\\"b\") COUNT 1\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes_dates, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dates_in_zone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sent_dates, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modseq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc_examples, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_charset_return, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lazy_text, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_text_bound, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_address_keys, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_responses, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
