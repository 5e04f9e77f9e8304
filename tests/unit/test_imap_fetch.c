/*
 * Unit tests of FETCH (proto/imap_fetch.h) with the MIME structure
 * parser (mime/mstruct.h) and the IMAP forms of ENVELOPE and
 * BODYSTRUCTURE (proto/imap_body.h).  Every response is written whole,
 * then again 1 and 7 octets at a time with the text read in pieces of 1,
 * 3 and 4096 octets, and all must be the same octets.  From RFC 9051
 * 6.4.5 and 7.5.2 (its FETCH FULL, BODY[HEADER] and BODY examples) and
 * RFC 3516 (BINARY): every item and section form, nested multiparts,
 * message/rfc822, partial fetches at the edges, LF counted as CRLF,
 * malformed MIME, the limits, and read errors.
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
#include "mime/mstruct.h"
#include "proto/imap_body.h"
#include "proto/imap_fetch.h"
#include "proto/imap_parser.h"

/* --- an in-memory text ---------------------------------------------------- */

struct rd {
	const char *s;
	size_t len, off;
	size_t chunk;		/* octets per read at most */
	long fail_at;		/* read fails once off reaches it; -1 never */
	size_t shrink_after;	/* rewinds after which the text is 1 shorter */
	unsigned fail_rewind;	/* reads fail from this rewind on; 0 never */
	unsigned rewinds;
};

static long
rd_read(void *p, char *buf, size_t size)
{
	struct rd *r = p;
	size_t len = r->len, n;

	if (r->shrink_after > 0 && r->rewinds > r->shrink_after)
		len--;
	if (r->fail_at >= 0 && r->off >= (size_t)r->fail_at)
		return -1;
	if (r->fail_rewind > 0 && r->rewinds >= r->fail_rewind)
		return -1;
	n = len - r->off < size ? len - r->off : size;
	if (n > r->chunk)
		n = r->chunk;
	memcpy(buf, r->s + r->off, n);
	r->off += n;
	return (long)n;
}

static int
rd_rewind(void *p)
{
	struct rd *r = p;

	r->off = 0;
	r->rewinds++;
	return 0;
}

/* --- running FETCH -------------------------------------------------------- */

static const struct imap_limits LIM = {
	.line_max = 8192, .literal_max = 1024, .literals_max = 1024,
	.depth_max = 8, .args_max = 200,
};

static struct imap_msg MSG = {
	.uid = 42, .modseq = 7, .flags = 0, .keywords = NULL,
	.size = 0,		/* 0: the text's, every LF made CRLF, as the
				   store gives RFC822.SIZE */
	.date = 837596665,	/* 17-Jul-1996 09:44:25 +0000 */
};

/* The items of "a FETCH 1 <items>"; NULL (and *why) if refused. */
static struct imap_fetch_items *
items_of(const char *items, const char **why)
{
	struct imap_parser *p = imap_parser_new(&LIM);
	struct imap_fetch_items *it = NULL;
	char line[4096];
	size_t used;
	int n = snprintf(line, sizeof(line), "a FETCH 1 %s\r\n", items);

	assert_int_equal(imap_parser_feed(p, line, (size_t)n, &used),
			 IMAP_PARSE_COMMAND);
	if (imap_fetch_parse(&imap_parser_command(p)->args[1], &it, why) < 0)
		it = NULL;
	imap_parser_free(&p);
	return it;
}

/*
 * The response, out_max octets at a time (0: at once), the text read
 * chunk octets at a time; *r_r the last result.
 */
static struct buf *
write_with(const struct imap_fetch_items *it, struct imap_fetch_msg *fm,
	   struct rd *r, size_t step, int *r_r)
{
	struct buf *all = buf_new(SIZE_MAX), *out = buf_new(SIZE_MAX);
	struct imap_fetch_writer *w;
	int res, calls = 0;

	r->off = 0;
	fm->rd = r;
	w = imap_fetch_writer_new(it, fm);
	do {
		res = imap_fetch_write(w, out, step == 0 ? SIZE_MAX : step);
		if (step > 0)
			assert_true(out->len <= step);
		buf_add(all, out->data, out->len);
		buf_reset(out);
		assert_true(++calls < 10000000);
	} while (res == 1);
	imap_fetch_writer_free(&w);
	buf_free(&out);
	*r_r = res;
	return all;
}

/* The response to items for text; checked the same in every piece size. */
static struct buf *
fetch_msg(const char *text, size_t len, const char *items,
	  const struct imap_msg *m, bool recent, bool rev2, int *r_r)
{
	static const size_t steps[] = {1, 7, 0};
	static const size_t chunks[] = {1, 3, 4096};
	const char *why = NULL;
	struct imap_fetch_items *it = items_of(items, &why);
	struct imap_fetch_msg fm = {
		.seq = 3, .m = m, .recent = recent, .rev2 = rev2,
		.read = rd_read, .rewind = rd_rewind,
	};
	struct rd r = {.s = text, .len = len, .chunk = 4096, .fail_at = -1};
	struct imap_msg mm = *m;
	struct buf *whole;
	int res;

	assert_non_null(it);
	if (mm.size == 0) {
		mm.size = len;
		for (size_t i = 0; i < len; i++)
			mm.size += text[i] == '\n';
	}
	fm.m = &mm;
	whole = write_with(it, &fm, &r, 0, r_r);
	for (size_t c = 0; c < 3; c++)
		for (size_t s = 0; s < 3; s++) {
			struct buf *b;

			if (c == 0 && len > 20000 && steps[s] != 0)
				continue;	/* slow, proves nothing new */
			r.chunk = chunks[c];
			b = write_with(it, &fm, &r, steps[s], &res);
			assert_int_equal(res, *r_r);
			assert_int_equal(b->len, whole->len);
			assert_memory_equal(b->data, whole->data, b->len);
			buf_free(&b);
		}
	imap_fetch_items_free(&it);
	return whole;
}

static struct buf *
fetch(const char *text, const char *items)
{
	int r;
	struct buf *b = fetch_msg(text, strlen(text), items, &MSG, false,
				  false, &r);

	assert_int_equal(r, 0);
	return b;
}

/* Expects the response "* 3 FETCH (<want>)\r\n". */
static void
expect(const char *text, const char *items, const char *want)
{
	struct buf *b = fetch(text, items);
	char full[65536];

	snprintf(full, sizeof(full), "* 3 FETCH (%s)\r\n", want);
	assert_string_equal(b->data, full);
	buf_free(&b);
}

/* --- the messages --------------------------------------------------------- */

static const char SIMPLE[] =
	"From: Ann <ann@example.org>\n"
	"Subject: hi\n"
	"\n"
	"line one\n"
	"line two\n";

/* 44 octets of header with CRLF, 20 of body */

static const char MIXED[] =
	"From: a@example.org\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\n"
	"\n"
	"preamble\n"
	"--XX\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"\n"
	"hello\n"
	"--XX\n"
	"Content-Type: message/rfc822\n"
	"Content-Description: fwd\n"
	"\n"
	"Subject: inner\n"
	"Content-Type: multipart/alternative; boundary=YY\n"
	"\n"
	"--YY\n"
	"\n"
	"plain\n"
	"--YY\n"
	"Content-Type: text/html\n"
	"\n"
	"<b>x</b>\n"
	"--YY--\n"
	"--XX\n"
	"Content-Type: application/octet-stream; name=\"a b.bin\"\n"
	"Content-Transfer-Encoding: base64\n"
	"Content-Disposition: attachment; filename=\"a b.bin\"\n"
	"Content-Language: en, fr\n"
	"Content-Location: http://x/y\n"
	"Content-MD5: Q2hlY2s=\n"
	"Content-ID: <id@x>\n"
	"\n"
	"AAEC/w==\n"
	"--XX--\n"
	"epilogue\n";

/* --- item parsing --------------------------------------------------------- */

static void
test_parse(void **state)
{
	static const char *const good[] = {
		"ALL", "FAST", "FULL", "FLAGS", "(FLAGS UID)", "uid",
		"(INTERNALDATE RFC822.SIZE RFC822 RFC822.HEADER RFC822.TEXT)",
		"ENVELOPE", "BODY", "BODYSTRUCTURE", "MODSEQ", "BODY[]",
		"BODY.PEEK[]", "BODY[]<0.10>", "BODY[HEADER]", "BODY[TEXT]",
		"BODY[HEADER.FIELDS (From To)]",
		"BODY[HEADER.FIELDS.NOT (From \"To\")]", "BODY[1]",
		"BODY[1.2.3]", "BODY[1.MIME]", "BODY[2.HEADER]",
		"BODY[2.TEXT]", "BODY[2.HEADER.FIELDS (X)]<1.2>",
		"BINARY[]", "BINARY[1.2]", "BINARY.PEEK[1]<0.5>",
		"BINARY.SIZE[1]", "body.peek[header.fields (a)]",
		"BODY[4294967295]",
	};
	static const char *const bad[] = {
		"ALLX", "(ALL)", "(FAST FLAGS)", "()", "BODY.PEEK", "BODY[",
		"BODY[MIME]", "BODY[0]", "BODY[1.]", "BODY[.1]",
		"BODY[1.0]", "BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]",
		"BODY[HEADER.FIELDS (a]", "BODY[HEADERX]", "BODY[TEXT.1]",
		"BODY[]<0>", "BODY[]<0.0>", "BODY[]<1.2", "BODY[]<x.1>",
		"BODY[]x", "BINARY[HEADER]", "BINARY[1.TEXT]",
		"BINARY.SIZE[1]<0.1>", "BINARY.SIZE", "BINARY[1.]",
		"BODY[4294967296]", "RFC822.SIZE[]", "\"FLAGS\"",
		"(FLAGS \"UID\")", "(FLAGS (UID))", "BODY[]<4294967296.1>",
	};
	const char *why;
	struct imap_fetch_items *it;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		it = items_of(good[i], &why);
		if (it == NULL)
			fail_msg("refused: %s", good[i]);
		imap_fetch_items_free(&it);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		it = items_of(bad[i], &why);
		if (it != NULL)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void
test_predicates(void **state)
{
	static const struct {
		const char *items;
		bool text, seen, modseq;
	} T[] = {
		{"FAST", false, false, false},
		{"(FLAGS UID MODSEQ)", false, false, true},
		{"ALL", true, false, false},
		{"BODY.PEEK[]", true, false, false},
		{"BODY[]", true, true, false},
		{"RFC822", true, true, false},
		{"RFC822.HEADER", true, false, false},
		{"RFC822.TEXT", true, true, false},
		{"BINARY[1]", true, true, false},
		{"BINARY.PEEK[1]", true, false, false},
		{"BINARY.SIZE[1]", true, false, false},
		{"BODYSTRUCTURE", true, false, false},
	};
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
		struct imap_fetch_items *it = items_of(T[i].items, &why);

		assert_non_null(it);
		assert_int_equal(imap_fetch_wants_text(it), T[i].text);
		assert_int_equal(imap_fetch_sets_seen(it), T[i].seen);
		assert_int_equal(imap_fetch_wants_modseq(it), T[i].modseq);
		imap_fetch_add_modseq(it);
		assert_true(imap_fetch_wants_modseq(it));
		imap_fetch_items_free(&it);
	}
}

/* --- simple items --------------------------------------------------------- */

static void
test_flags(void **state)
{
	struct imap_msg m = MSG;
	struct buf *b;
	int r;

	(void)state;
	m.flags = IMAP_F_SEEN | IMAP_F_ANSWERED | IMAP_F_PASSED |
		  IMAP_F_DELETED | IMAP_F_DRAFT | IMAP_F_FLAGGED;
	m.keywords = "$Junk work";
	b = fetch_msg("", 0, "FLAGS", &m, true, false, &r);
	assert_string_equal(b->data, "* 3 FETCH (FLAGS (\\Answered \\Flagged "
			    "\\Deleted \\Seen \\Draft \\Recent $Junk work))"
			    "\r\n");
	buf_free(&b);
	/* IMAP4rev2: no \Recent */
	b = fetch_msg("", 0, "FLAGS", &m, true, true, &r);
	assert_string_equal(b->data, "* 3 FETCH (FLAGS (\\Answered \\Flagged "
			    "\\Deleted \\Seen \\Draft $Junk work))\r\n");
	buf_free(&b);
	m.flags = IMAP_F_PASSED;
	m.keywords = NULL;
	b = fetch_msg("", 0, "FLAGS", &m, false, false, &r);
	assert_string_equal(b->data, "* 3 FETCH (FLAGS ())\r\n");
	buf_free(&b);
}

static void
test_simple_items(void **state)
{
	(void)state;
	expect(SIMPLE, "(UID RFC822.SIZE INTERNALDATE MODSEQ)",
	       "UID 42 RFC822.SIZE 64 "
	       "INTERNALDATE \"17-Jul-1996 09:44:25 +0000\" MODSEQ (7)");
	expect(SIMPLE, "FAST", "FLAGS () INTERNALDATE "
	       "\"17-Jul-1996 09:44:25 +0000\" RFC822.SIZE 64");
	/* the same item twice is one */
	expect(SIMPLE, "(UID UID BODY.PEEK[TEXT] BODY[TEXT])",
	       "UID 42 BODY[TEXT] {20}\r\nline one\r\nline two\r\n");
}

/* The numbers at their bounds: 0, a UID of 2^32-1, a modseq of 2^63-1
 * (RFC 7162's largest), the sequence number of the 4,294,967,295th. */
static void
test_numbers(void **state)
{
	struct imap_msg m = MSG;
	struct buf *b;
	int r;

	(void)state;
	m.uid = UINT32_MAX;
	m.modseq = INT64_MAX;
	b = fetch_msg("", 0, "(UID RFC822.SIZE MODSEQ)", &m, false, false,
		      &r);
	assert_string_equal(b->data, "* 3 FETCH (UID 4294967295 RFC822.SIZE 0 "
			    "MODSEQ (9223372036854775807))\r\n");
	buf_free(&b);
	m.uid = 1;
	m.modseq = 10;
	m.size = 1000000;
	b = fetch_msg("", 0, "(UID RFC822.SIZE MODSEQ)", &m, false, false,
		      &r);
	assert_string_equal(b->data, "* 3 FETCH (UID 1 RFC822.SIZE 1000000 "
			    "MODSEQ (10))\r\n");
	buf_free(&b);
}

static void
test_added(void **state)
{
	const char *why;
	struct imap_fetch_items *it = items_of("(FLAGS BODY[])", &why);
	struct imap_msg m = MSG;
	struct imap_fetch_msg fm = {.seq = 1, .m = &m, .read = rd_read,
				    .rewind = rd_rewind};
	struct rd r = {.s = "x", .len = 1, .chunk = 10, .fail_at = -1};
	struct buf *b;
	int res;

	(void)state;
	m.size = 1;
	imap_fetch_add_uid(it);
	imap_fetch_add_flags(it);	/* there already */
	imap_fetch_add_modseq(it);
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, 0);
	assert_string_equal(b->data, "* 1 FETCH (UID 42 FLAGS () BODY[] {1}"
			    "\r\nx MODSEQ (7))\r\n");
	buf_free(&b);
	imap_fetch_items_free(&it);
}

/* --- sections ------------------------------------------------------------- */

static void
test_whole_and_header(void **state)
{
	(void)state;
	expect(SIMPLE, "BODY[]",
	       "BODY[] {64}\r\nFrom: Ann <ann@example.org>\r\nSubject: hi"
	       "\r\n\r\nline one\r\nline two\r\n");
	expect(SIMPLE, "RFC822",
	       "RFC822 {64}\r\nFrom: Ann <ann@example.org>\r\nSubject: hi"
	       "\r\n\r\nline one\r\nline two\r\n");
	expect(SIMPLE, "BODY.PEEK[HEADER]",
	       "BODY[HEADER] {44}\r\nFrom: Ann <ann@example.org>\r\n"
	       "Subject: hi\r\n\r\n");
	expect(SIMPLE, "RFC822.HEADER",
	       "RFC822.HEADER {44}\r\nFrom: Ann <ann@example.org>\r\n"
	       "Subject: hi\r\n\r\n");
	expect(SIMPLE, "RFC822.TEXT",
	       "RFC822.TEXT {20}\r\nline one\r\nline two\r\n");
	/* a message that is not multipart: part 1 is its body */
	expect(SIMPLE, "BODY[1]", "BODY[1] {20}\r\nline one\r\nline two\r\n");
	expect(SIMPLE, "BODY[1.MIME]",
	       "BODY[1.MIME] {44}\r\nFrom: Ann <ann@example.org>\r\n"
	       "Subject: hi\r\n\r\n");
	/* sections that do not exist */
	expect(SIMPLE, "BODY[2]", "BODY[2] \"\"");
	expect(SIMPLE, "BODY[1.1]", "BODY[1.1] \"\"");
	expect(SIMPLE, "BODY[1.HEADER]", "BODY[1.HEADER] \"\"");
	expect(SIMPLE, "BINARY[3]", "BINARY[3] \"\"");
	expect(SIMPLE, "BINARY.SIZE[3]", "BINARY.SIZE[3] 0");
}

static void
test_crlf_counting(void **state)
{
	/* every LF made CRLF, as the store counts RFC822.SIZE (a CR the
	 * text has before a LF is kept: the client sent CR CR LF), a lone
	 * CR kept, a last line without a line end; a line of a lone CR
	 * still ends the header */
	static const char T[] = "A: 1\r\nB: 2\n\r\nx\ry\r\nz\nend";
	struct buf *b = fetch(T, "(BODY[HEADER] BODY[TEXT] BODY[] "
			      "BODYSTRUCTURE)");

	(void)state;
	assert_string_equal(b->data,
			    "* 3 FETCH (BODY[HEADER] {16}\r\nA: 1\r\r\n"
			    "B: 2\r\n\r\r\n BODY[TEXT] {12}\r\nx\ry\r\r\n"
			    "z\r\nend BODY[] {28}\r\nA: 1\r\r\nB: 2\r\n"
			    "\r\r\nx\ry\r\r\nz\r\nend BODYSTRUCTURE "
			    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") "
			    "NIL NIL \"7BIT\" 12 2 NIL NIL NIL NIL))\r\n");
	buf_free(&b);
}

static void
test_header_fields(void **state)
{
	static const char T[] =
		"Subject: one\n"
		"X-Long: a\n"
		"\tb\n"
		"from: c@d\n"
		"To : e\n"
		"Subject: two\n"
		"\n"
		"body\n";

	(void)state;
	expect(T, "BODY.PEEK[HEADER.FIELDS (FROM subject)]",
	       "BODY[HEADER.FIELDS (FROM subject)] {41}\r\n"
	       "Subject: one\r\nfrom: c@d\r\nSubject: two\r\n\r\n");
	expect(T, "BODY.PEEK[HEADER.FIELDS.NOT (From Subject)]",
	       "BODY[HEADER.FIELDS.NOT (From Subject)] {25}\r\n"
	       "X-Long: a\r\n\tb\r\nTo : e\r\n\r\n");
	expect(T, "BODY[HEADER.FIELDS (x-long to)]",
	       "BODY[HEADER.FIELDS (x-long to)] {25}\r\n"
	       "X-Long: a\r\n\tb\r\nTo : e\r\n\r\n");
	expect(T, "BODY[HEADER.FIELDS (\"Nope\")]",
	       "BODY[HEADER.FIELDS (Nope)] {2}\r\n\r\n");
	expect(T, "BODY[HEADER.FIELDS (Subject)]<10.10>",
	       "BODY[HEADER.FIELDS (Subject)]<10> {10}\r\nne\r\nSubjec");
	/* a header with no blank line: none is added */
	expect("A: 1\nB: 2", "BODY[HEADER.FIELDS (B)]",
	       "BODY[HEADER.FIELDS (B)] {4}\r\nB: 2");
	expect("A: 1\nB: 2", "BODY[TEXT]", "BODY[TEXT] \"\"");
}

static void
test_partial(void **state)
{
	(void)state;
	/* the whole message: 64 octets */
	expect(SIMPLE, "BODY[]<0.4>", "BODY[]<0> {4}\r\nFrom");
	expect(SIMPLE, "BODY[]<60.10>", "BODY[]<60> {4}\r\nwo\r\n");
	expect(SIMPLE, "BODY[]<62.1>", "BODY[]<62> {1}\r\n\r");
	expect(SIMPLE, "BODY[]<63.1>", "BODY[]<63> {1}\r\n\n");
	expect(SIMPLE, "BODY[]<64.1>", "BODY[]<64> \"\"");
	expect(SIMPLE, "BODY[]<4000000000.1>", "BODY[]<4000000000> \"\"");
	/* the CR of a converted line end alone */
	expect(SIMPLE, "BODY[TEXT]<8.1>", "BODY[TEXT]<8> {1}\r\n\r");
	expect(SIMPLE, "BODY[TEXT]<9.2>", "BODY[TEXT]<9> {2}\r\n\nl");
	expect(SIMPLE, "BODY[]<0.4294967295>",
	       "BODY[]<0> {64}\r\nFrom: Ann <ann@example.org>\r\nSubject: hi"
	       "\r\n\r\nline one\r\nline two\r\n");
	expect(SIMPLE, "BINARY[1]<5.4>", "BINARY[1]<5> {4}\r\none\r");
}

/* BODY.PEEK[sect]<start.len> of MIXED against ref[base..], the text
 * made CRLF by the test. */
static void
partial_one(const struct buf *ref, size_t base, const char *sect,
	    size_t start, size_t len)
{
	size_t size = ref->len - base;
	size_t n = start >= size ? 0 : size - start < len ? size - start : len;
	char items[64], want[2048];
	struct buf *b;

	snprintf(items, sizeof(items), "BODY.PEEK[%s]<%zu.%zu>", sect, start,
		 len);
	if (n == 0)
		snprintf(want, sizeof(want), "* 3 FETCH (BODY[%s]<%zu> \"\")"
			 "\r\n", sect, start);
	else
		snprintf(want, sizeof(want), "* 3 FETCH (BODY[%s]<%zu> {%zu}"
			 "\r\n%.*s)\r\n", sect, start, n, (int)n,
			 ref->data + base + start);
	b = fetch(MIXED, items);
	assert_string_equal(b->data, want);
	buf_free(&b);
}

/* Every partial range of BODY[] and BODY[TEXT] against the text made
 * CRLF here. */
static void
test_partial_all(void **state)
{
	static const size_t lens[] = {1, 2, 3, 17, 1000};
	struct buf *ref = buf_new(SIZE_MAX);
	size_t hdr = 0;

	(void)state;
	for (const char *p = MIXED; *p != '\0'; p++) {
		if (*p == '\n')
			buf_addc(ref, '\r');
		buf_addc(ref, *p);
		if (hdr == 0 && ref->len >= 4 &&
		    memcmp(ref->data + ref->len - 4, "\r\n\r\n", 4) == 0)
			hdr = ref->len;
	}
	for (size_t start = 0; start <= ref->len + 1; start += 3)
		for (size_t k = 0; k < 5; k++) {
			partial_one(ref, 0, "", start, lens[k]);
			partial_one(ref, hdr, "TEXT", start, lens[k]);
		}
	buf_free(&ref);
}

/* --- structure ------------------------------------------------------------ */

static void
test_multipart_sections(void **state)
{
	(void)state;
	expect(MIXED, "BODY[1]", "BODY[1] {5}\r\nhello");
	expect(MIXED, "BODY[1.MIME]", "BODY[1.MIME] {43}\r\n"
	       "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	expect(MIXED, "BODY[2.MIME]", "BODY[2.MIME] {58}\r\n"
	       "Content-Type: message/rfc822\r\nContent-Description: fwd"
	       "\r\n\r\n");
	expect(MIXED, "BODY[2.HEADER]", "BODY[2.HEADER] {68}\r\n"
	       "Subject: inner\r\nContent-Type: multipart/alternative; "
	       "boundary=YY\r\n\r\n");
	expect(MIXED, "BODY[2.HEADER.FIELDS (SUBJECT)]",
	       "BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\n"
	       "Subject: inner\r\n\r\n");
	/* a close-delimiter's line break stays in its multipart */
	expect(MIXED, "BODY[2.TEXT]", "BODY[2.TEXT] {66}\r\n"
	       "--YY\r\n\r\nplain\r\n--YY\r\nContent-Type: text/html\r\n"
	       "\r\n<b>x</b>\r\n--YY--\r\n");
	expect(MIXED, "BODY[2.1]", "BODY[2.1] {5}\r\nplain");
	expect(MIXED, "BODY[2.2]", "BODY[2.2] {8}\r\n<b>x</b>");
	expect(MIXED, "BODY[2.2.MIME]", "BODY[2.2.MIME] {27}\r\n"
	       "Content-Type: text/html\r\n\r\n");
	expect(MIXED, "BODY[2.1.MIME]", "BODY[2.1.MIME] {2}\r\n\r\n");
	expect(MIXED, "BODY[3]", "BODY[3] {8}\r\nAAEC/w==");
	expect(MIXED, "BODY[4]", "BODY[4] \"\"");
	/* "1" of a leaf, last, is the leaf (Dovecot) */
	expect(MIXED, "BODY[1.1]", "BODY[1.1] {5}\r\nhello");
	expect(MIXED, "BODY[1.1.1]", "BODY[1.1.1] \"\"");
	expect(MIXED, "BODY[2.3]", "BODY[2.3] \"\"");
	expect(MIXED, "BODY[3.HEADER]", "BODY[3.HEADER] \"\"");
	expect(MIXED, "BINARY.SIZE[3]", "BINARY.SIZE[3] 4");
	expect(MIXED, "BINARY[2.1]", "BINARY[2.1] {5}\r\nplain");
	expect(MIXED, "BINARY.SIZE[2]", "BINARY.SIZE[2] 134");
}

/* A digest's parts are message/rfc822 by default (RFC 2046 5.1.5); part
 * numbers go through them. */
static void
test_digest(void **state)
{
	static const char T[] =
		"Content-Type: multipart/digest; boundary=d\n\n"
		"--d\n\nSubject: a\n\nbody a\n"
		"--d\nContent-Type: text/plain\n\nnot a message\n"
		"--d\n\nContent-Type: multipart/mixed; boundary=e\n\n"
		"--e\n\ne1\n--e\n\ne2\n--e--\n"
		"--d--\n";

	(void)state;
	expect(T, "BODY", "BODY ((\"MESSAGE\" \"RFC822\" NIL NIL NIL "
	       "\"7BIT\" 20 (NIL \"a\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	       "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 6 0) 2)"
	       "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 13 0)"
	       "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 74 "
	       "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 2 0)(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	       "\"US-ASCII\") NIL NIL \"7BIT\" 2 0) \"mixed\") 9) "
	       "\"digest\")");
	expect(T, "(BODY[1.1] BODY[1.HEADER] BODY[3.2] BODY[3.2.MIME] "
	       "BODY[3.TEXT]<0.6> BODY[2.1] BODY[3.3])",
	       "BODY[1.1] {6}\r\nbody a BODY[1.HEADER] {14}\r\nSubject: a"
	       "\r\n\r\n BODY[3.2] {2}\r\ne2 BODY[3.2.MIME] {2}\r\n\r\n "
	       "BODY[3.TEXT]<0> {6}\r\n--e\r\n\r BODY[2.1] {13}\r\n"
	       "not a message "
	       "BODY[3.3] \"\"");
}

static void
test_bodystructure(void **state)
{
	(void)state;
	expect(MIXED, "BODYSTRUCTURE",
	       "BODYSTRUCTURE ("
	       "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" "
	       "5 0 NIL NIL NIL NIL)"
	       "(\"message\" \"rfc822\" NIL NIL \"fwd\" \"7BIT\" 134 "
	       "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 5 0 NIL NIL NIL NIL)"
	       "(\"text\" \"html\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 8 0 NIL NIL NIL NIL) "
	       "\"alternative\" (\"boundary\" \"YY\") NIL NIL NIL) 11 "
	       "NIL NIL NIL NIL)"
	       "(\"application\" \"octet-stream\" (\"name\" \"a b.bin\") "
	       "\"<id@x>\" NIL \"base64\" 8 \"Q2hlY2s=\" "
	       "(\"attachment\" (\"filename\" \"a b.bin\")) (\"en\" \"fr\") "
	       "\"http://x/y\") "
	       "\"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)");
	expect(MIXED, "BODY",
	       "BODY ("
	       "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" "
	       "5 0)"
	       "(\"message\" \"rfc822\" NIL NIL \"fwd\" \"7BIT\" 134 "
	       "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 5 0)"
	       "(\"text\" \"html\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 8 0) \"alternative\") 11)"
	       "(\"application\" \"octet-stream\" (\"name\" \"a b.bin\") "
	       "\"<id@x>\" NIL \"base64\" 8) \"mixed\")");
}

/* The sizes BODYSTRUCTURE gives are the octets BODY[n] sends. */
static void
test_sizes_match(void **state)
{
	static const char *const sect[] = {"1", "2", "3", "2.1", "2.2"};
	static const uint64_t want[] = {5, 134, 8, 5, 8};
	int r;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		char items[64], head[64];
		struct buf *b;

		snprintf(items, sizeof(items), "BODY.PEEK[%s]", sect[i]);
		b = fetch_msg(MIXED, strlen(MIXED), items, &MSG, false, false,
			      &r);
		snprintf(head, sizeof(head), "* 3 FETCH (BODY[%s] {%llu}\r\n",
			 sect[i], (unsigned long long)want[i]);
		assert_memory_equal(b->data, head, strlen(head));
		assert_int_equal(b->len, strlen(head) + want[i] + 3);
		buf_free(&b);
	}
}

/* RFC 9051 7.5.2's BODY example: a text and a base64 attachment. */
static void
test_rfc_body_example(void **state)
{
	struct buf *t = buf_new(SIZE_MAX);
	struct buf *b;
	int r;

	(void)state;
	buf_addstr(t, "Content-Type: MULTIPART/MIXED; boundary=b\n\n--b\n"
		   "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n");
	for (int i = 0; i < 23; i++)	/* 23 lines of 48, then 48 */
		buf_addstr(t, "0123456789012345678901234567890123456789012345"
			   "\n");
	buf_addstr(t, "012345678901234567890123456789012345678901234567\n"
		   "--b\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; "
		   "NAME=cc.diff\n"
		   "Content-ID: <960723163407.20117h@cac.washington.edu>\n"
		   "Content-Description: Compiler diff\n"
		   "Content-Transfer-Encoding: BASE64\n\n");
	for (int i = 0; i < 73; i++)	/* 73 lines of 62, then 28 */
		buf_addstr(t, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVph"
			   "YmNkZWZnaGlqa2xtbm9wcXJz\n");
	buf_addstr(t, "QUJDREVGR0hJSktMTU5PUFFSU1Rr\n--b--\n");
	b = fetch_msg(t->data, t->len, "BODY", &MSG, false, false, &r);
	assert_string_equal(b->data, "* 3 FETCH (BODY ((\"TEXT\" \"PLAIN\" "
			    "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
			    "1152 23)"
			    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" "
			    "\"NAME\" \"cc.diff\") "
			    "\"<960723163407.20117h@cac.washington.edu>\" "
			    "\"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\"))"
			    "\r\n");
	buf_free(&b);
	buf_free(&t);
}

/* RFC 9051 6.4.5 / appendix: FETCH FULL and BODY[HEADER] of message 12. */
static void
test_rfc_full_example(void **state)
{
	struct buf *t = buf_new(SIZE_MAX);
	struct imap_msg m = MSG;
	struct buf *b;
	int r;

	(void)state;
	buf_addstr(t, "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
		   "From: Terry Gray <gray@cac.washington.edu>\n"
		   "Subject: IMAP4rev2 WG mtg summary and minutes\n"
		   "To: imap@cac.washington.edu\n"
		   "cc: minutes@CNRI.Reston.VA.US, John Klensin "
		   "<KLENSIN@MIT.EDU>\n"
		   "Message-Id: <B27397-0100000@cac.washington.edu>\n"
		   "MIME-Version: 1.0\n"
		   "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n");
	for (int i = 0; i < 91; i++)	/* 91 lines of 33, one of 25 */
		buf_addstr(t, "0123456789012345678901234567890\n");
	buf_addstr(t, "01234567890123456789012\n");
	m.flags = IMAP_F_SEEN;
	m.size = 4286;
	b = fetch_msg(t->data, t->len, "FULL", &m, false, false, &r);
	assert_string_equal(b->data,
			    "* 3 FETCH (FLAGS (\\Seen) INTERNALDATE "
			    "\"17-Jul-1996 09:44:25 +0000\" RFC822.SIZE 4286 "
			    "ENVELOPE ("
			    "\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
			    "\"IMAP4rev2 WG mtg summary and minutes\" "
			    "((\"Terry Gray\" NIL \"gray\" "
			    "\"cac.washington.edu\")) "
			    "((\"Terry Gray\" NIL \"gray\" "
			    "\"cac.washington.edu\")) "
			    "((\"Terry Gray\" NIL \"gray\" "
			    "\"cac.washington.edu\")) "
			    "((NIL NIL \"imap\" \"cac.washington.edu\")) "
			    "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
			    "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
			    "NIL NIL "
			    "\"<B27397-0100000@cac.washington.edu>\") "
			    "BODY (\"TEXT\" \"PLAIN\" "
			    "(\"CHARSET\" \"US-ASCII\") "
			    "NIL NIL \"7BIT\" 3028 92))\r\n");
	buf_free(&b);
	b = fetch_msg(t->data, t->len, "BODY[HEADER]", &m, false, false, &r);
	assert_memory_equal(b->data, "* 3 FETCH (BODY[HEADER] {342}\r\n", 31);
	buf_free(&b);
	buf_free(&t);
}

static void
test_envelope(void **state)
{
	(void)state;
	/* groups, route addresses, comments (one before an address names
	 * nothing), quoted names, no domain, encoded words left, Reply-To
	 * empty -> From; 8-bit as literal; Dovecot's words for what is
	 * missing */
	expect("From: \"Doe, J.\" <j@x.org> (work)\n"
	       "Sender: (the boss) boss@x.org\n"
	       "Reply-To:\n"
	       "To: Team: a@x.org, B <@r1,@r2:b@y.org>;, undisclosed:;\n"
	       "Cc: =?utf-8?q?Ren=C3=A9?= <r@x>, local\n"
	       "Bcc: <>\n"
	       "Subject: caf\xc3\xa9 \"q\" \\\n"
	       "In-Reply-To: <a@b>\n"
	       "\n",
	       "ENVELOPE",
	       "ENVELOPE (NIL {11}\r\ncaf\xc3\xa9 \"q\" \\ "
	       "((\"Doe, J.\" NIL \"j\" \"x.org\")) "
	       "((NIL NIL \"boss\" \"x.org\")) "
	       "((\"Doe, J.\" NIL \"j\" \"x.org\")) "
	       "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")"
	       "(\"B\" \"@r1,@r2\" \"b\" \"y.org\")(NIL NIL NIL NIL)"
	       "(NIL NIL \"undisclosed\" NIL)(NIL NIL NIL NIL)) "
	       "((\"=?utf-8?q?Ren=C3=A9?=\" NIL \"r\" \"x\")"
	       "(NIL NIL \"local\" \"MISSING_DOMAIN\")) "
	       "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
	       "\"<a@b>\" NIL)");
	/* nothing: every field NIL */
	expect("\n", "ENVELOPE",
	       "ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* folded values unfolded; quotes and backslashes escaped */
	expect("Subject: a\n b \"c\" \\d\nMessage-ID:\n\t<m@x>\n\n",
	       "ENVELOPE",
	       "ENVELOPE (NIL \"a b \\\"c\\\" \\\\d\" NIL NIL NIL NIL NIL NIL "
	       "NIL \"<m@x>\")");
}

static void
test_params(void **state)
{
	(void)state;
	/* RFC 2231 continuations joined; extended ones stay encoded */
	expect("Content-Type: text/plain; charset=\"us-ascii\" (c);\n"
	       " title*0=\"a b\"; title*1=c; name*0*=utf-8''%E2%82%AC;\n"
	       " name*1=\" x\"; x*=utf-8'en'%41\n"
	       "Content-Disposition: inline\n"
	       "Content-Language: de\n\nb",
	       "BODYSTRUCTURE",
	       "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\" "
	       "\"title\" \"a bc\" \"name*\" \"utf-8''%E2%82%AC%20x\" "
	       "\"x*\" \"utf-8'en'%41\") NIL NIL \"7BIT\" 1 0 NIL "
	       "(\"inline\" NIL) (\"de\") NIL)");
	/* pieces out of order, a gap ends them, a stray quoted string */
	expect("Content-Type: text/x; p*1=b; p*0=a; p*3=d; \"s\"; q=1\n\nb",
	       "BODY", "BODY (\"text\" \"x\" (\"p\" \"ab\" \"q\" \"1\" "
	       "\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 0)");
	/* a type that is not one: the default */
	expect("Content-Type: garbage\n\nb", "BODY",
	       "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 1 0)");
}

/* --- BINARY --------------------------------------------------------------- */

static const char BIN[] =
	"Content-Type: multipart/mixed; boundary=b\n\n"
	"--b\nContent-Transfer-Encoding: base64\n\nAGFi\nYw==\n"
	"--b\nContent-Transfer-Encoding: quoted-printable\n\n"
	"caf=C3=A9=\nX =3d=\n\n= =zz\n"
	"--b\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n"
	"--b\nContent-Transfer-Encoding: 8bit\n\nabc\n"
	"--b--\n";

static void
test_binary(void **state)
{
	struct buf *b;
	const char *why;
	int r;
	static const char want[] = "* 3 FETCH (BINARY[1] ~{4}\r\n\0abc)\r\n";

	(void)state;
	b = fetch(BIN, "BINARY[1]");
	assert_int_equal(b->len, sizeof(want) - 1);
	assert_memory_equal(b->data, want, b->len);
	buf_free(&b);
	/* a NUL outside the partial range: a plain literal */
	expect(BIN, "BINARY.PEEK[1]<1.3>", "BINARY[1]<1> {3}\r\nabc");
	expect(BIN, "BINARY.SIZE[1]", "BINARY.SIZE[1] 4");
	expect(BIN, "BINARY[2]", "BINARY[2] {15}\r\ncaf\xc3\xa9X =\r\n= =zz");
	expect(BIN, "BINARY.SIZE[2]", "BINARY.SIZE[2] 15");
	/* trailing white space dropped, "=" and white space a soft break,
	 * 40 spaces after "=" then text: all of it kept */
	expect("Content-Transfer-Encoding: quoted-printable\n\n"
	       "a \t\nb= \t\nc =20\nd=                                        "
	       "x\ne  ", "BINARY[1]",
	       "BINARY[1] {55}\r\na\r\nbc  \r\nd=                     "
	       "                   x\r\ne");
	expect(BIN, "BINARY[4]", "BINARY[4] {3}\r\nabc");
	expect(BIN, "BINARY[]<0.8>", "BINARY[]<0> {8}\r\nContent-");
	/* the same part by BODY: as sent */
	expect(BIN, "BODY[1]", "BODY[1] {10}\r\nAGFi\r\nYw==");
	/* an unknown encoding: NO [UNKNOWN-CTE], nothing written */
	b = fetch_msg(BIN, strlen(BIN), "(UID BINARY[3])", &MSG, false, false,
		      &r);
	assert_int_equal(r, -2);
	assert_int_equal(b->len, 0);
	buf_free(&b);
	{
		struct imap_fetch_items *it = items_of("BINARY[3]", &why);
		struct imap_fetch_msg fm = {.seq = 1, .m = &MSG,
					    .read = rd_read,
					    .rewind = rd_rewind};
		struct rd rr = {.s = BIN, .len = strlen(BIN), .chunk = 99,
				.fail_at = -1};
		struct imap_fetch_writer *w;
		struct buf *out = buf_new(SIZE_MAX);

		fm.rd = &rr;
		w = imap_fetch_writer_new(it, &fm);
		assert_int_equal(imap_fetch_write(w, out, 100), -2);
		assert_int_equal(imap_fetch_write(w, out, 100), -2);
		assert_int_equal(out->len, 0);
		imap_fetch_writer_free(&w);
		imap_fetch_items_free(&it);
		buf_free(&out);
	}
	b = fetch_msg(BIN, strlen(BIN), "BINARY.SIZE[3]", &MSG, false, false,
		      &r);
	assert_int_equal(r, -2);
	buf_free(&b);
	/* BODY of it is fine */
	expect(BIN, "BODY[3]", "BODY[3] {5}\r\nbegin");
}

static void
test_nul_in_body(void **state)
{
	static const char T[] = "A: b\n\nx\0y\n";
	struct buf *b;
	int r;

	(void)state;
	b = fetch_msg(T, sizeof(T) - 1, "BODY[TEXT]", &MSG, false, false, &r);
	assert_int_equal(r, 0);
	assert_int_equal(b->len, 35);
	assert_memory_equal(b->data, "* 3 FETCH (BODY[TEXT] {5}\r\nx\x80y\r\n)"
			    "\r\n", 35);
	buf_free(&b);
}

/* --- malformed MIME and limits -------------------------------------------- */

static void
test_malformed(void **state)
{
	static const char ENC822[] =
		"Content-Type: multipart/mixed; boundary=q\n\n--q\n"
		"Content-Type: message/rfc822\nContent-Transfer-Encoding: x\n"
		"\n--q--\n";
	const struct mstruct_part *part;
	struct mstruct *ms;

	(void)state;
	/* the closing boundary never comes: the last part ends at the end */
	expect("Content-Type: multipart/mixed; boundary=q\n\n--q\n\none\n"
	       "--q\n\ntwo\n", "(BODY BODY[2])",
	       "BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 3 0)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") "
	       "NIL NIL \"7BIT\" 5 1) \"mixed\") BODY[2] {5}\r\ntwo\r\n");
	/* no boundary line at all: a multipart with no part */
	expect("Content-Type: multipart/mixed; boundary=q\n\ntext\n",
	       "BODY", "BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") "
	       "NIL NIL \"7BIT\" 0 0) \"mixed\")");
	/* no boundary parameter: a multipart with no parts (Dovecot) */
	expect("Content-Type: multipart/mixed\n\ntext\n",
	       "(BODYSTRUCTURE BODY[1])", "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" "
	       "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL "
	       "NIL) \"mixed\" NIL NIL NIL NIL) BODY[1] \"\"");
	/* a part's header cut by the boundary */
	expect("Content-Type: multipart/mixed; boundary=q\n\n--q\n"
	       "Content-Type: text/html\n--q--\n",
	       "(BODY BODY[1.MIME] BODY[1])",
	       "BODY ((\"text\" \"html\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 0 0) \"mixed\") "
	       "BODY[1.MIME] {23}\r\nContent-Type: text/html BODY[1] \"\"");
	/* an outer boundary closes the inner multipart */
	expect("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	       "Content-Type: multipart/mixed; boundary=i\n\n--i\n\nin\n"
	       "--o\n\nout\n--o--\n", "(BODY BODY[1.1] BODY[2])",
	       "BODY (((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 2 0) \"mixed\")(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	       "\"US-ASCII\") NIL NIL \"7BIT\" 3 0) \"mixed\") "
	       "BODY[1.1] {2}\r\nin BODY[2] {3}\r\nout");
	/* an unterminated header: all header, no body */
	expect("Subject: x\nFrom: y", "(BODY[HEADER] BODY[TEXT] BODY)",
	       "BODY[HEADER] {19}\r\nSubject: x\r\nFrom: y BODY[TEXT] \"\" "
	       "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 0 0)");
	/* an empty message */
	expect("", "(BODY[] BODYSTRUCTURE ENVELOPE)",
	       "BODY[] \"\" BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	       "\"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) "
	       "ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* a base64 message/rfc822 is not read: an empty message in it
	 * (Dovecot), sent as it is by BINARY */
	expect("Content-Type: message/rfc822\n"
	       "Content-Transfer-Encoding: base64\n\nU3ViamVjdDogeA==\n",
	       "(BODY BODY[1.1] BINARY[1])", "BODY (\"message\" \"rfc822\" "
	       "NIL NIL NIL \"base64\" 18 (NIL NIL NIL NIL NIL NIL NIL NIL NIL "
	       "NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 0 0) 1) BODY[1.1] \"\" BINARY[1] {18}\r\n"
	       "U3ViamVjdDogeA==\r\n");
	/* a message with no body before the boundary: the line break of
	 * the blank line ending its header is the boundary's (RFC 2046
	 * 5.1.1, Dovecot); the part ends with it (the fuzzer found the
	 * part's body ending before its message's header did) */
	expect("Content-Type: multipart/mixed; boundary=q\n\n--q\n"
	       "Content-Type: message/rfc822\n\nSubject: x\n\n--q--\n",
	       "(BODY[1] BODY[1.HEADER] BODY[1.TEXT] BODY)",
	       "BODY[1] {12}\r\nSubject: x\r\n BODY[1.HEADER] {12}\r\n"
	       "Subject: x\r\n BODY[1.TEXT] \"\" BODY ((\"message\" "
	       "\"rfc822\" NIL NIL NIL \"7BIT\" 12 (NIL \"x\" NIL NIL NIL "
	       "NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	       "\"US-ASCII\") NIL NIL \"7BIT\" 0 0) 1) \"mixed\")");
	expect("Content-Type: multipart/mixed; boundary=q\n\n--q\n"
	       "Content-Type: text/plain\n\n--q--\n", "(BODY[1.MIME] BODY[1])",
	       "BODY[1.MIME] {26}\r\nContent-Type: text/plain\r\n BODY[1] \"\"");
	/* the same with an encoded message/rfc822: its empty message
	 * moves with the end of the header (the fuzzer found it after) */
	expect(ENC822, "(BODY BODY[1.MIME])",
	       "BODY ((\"message\" \"rfc822\" NIL NIL NIL \"x\" 0 (NIL NIL "
	       "NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" "
	       "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) 0) "
	       "\"mixed\") BODY[1.MIME] {60}\r\nContent-Type: message/rfc822"
	       "\r\nContent-Transfer-Encoding: x\r\n");
	ms = mstruct_new();
	mstruct_feed(ms, ENC822, strlen(ENC822));
	part = mstruct_end(ms)->children;
	assert_true(part->rfc822);
	assert_int_equal(part->children->hdr_off,
			 part->body_off + part->body_size);
	mstruct_free(&ms);
	/* a multipart whose header runs to the end: no parts */
	expect("Content-Type: multipart/mixed; boundary=q", "(BODY BODY[1])",
	       "BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	       "\"7BIT\" 0 0) \"mixed\") BODY[1] \"\"");
	/* a message/rfc822 at the top: 1 its message, 1.1 that one's
	 * body */
	expect("Content-Type: message/rfc822\n\nSubject: in\n\nbody\n",
	       "(BODY[1] BODY[1.1] BODY[1.HEADER])",
	       "BODY[1] {21}\r\nSubject: in\r\n\r\nbody\r\n "
	       "BODY[1.1] {6}\r\nbody\r\n BODY[1.HEADER] {15}\r\n"
	       "Subject: in\r\n\r\n");
}

/* Where RFC 9051 leaves a choice, Dovecot's (2.3.19's answers on the
 * same messages, but for the case of the defaults). */
static void
test_dovecot_rules(void **state)
{
	(void)state;
	/* a close-delimiter's line break stays in its multipart */
	expect("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	       "Content-Type: multipart/alternative; boundary=i\n\n--i\n\na\n"
	       "--i\n\nb\n--i--\n--o\n\nc\n--o--\n", "BODY[1]",
	       "BODY[1] {27}\r\n--i\r\n\r\na\r\n--i\r\n\r\nb\r\n--i--\r\n");
	/* the last Subject, the first Content-Type, a comment after an
	 * address as its name, not one before it */
	expect("Subject: one\nSubject: two\nFrom: a@b (Name)\nTo: (c) x@y\n"
	       "Content-Type: text/plain; charset=x\n"
	       "Content-Type: text/html\n\nb\n", "(ENVELOPE BODYSTRUCTURE)",
	       "ENVELOPE (NIL \"two\" ((\"Name\" NIL \"a\" \"b\")) "
	       "((\"Name\" NIL \"a\" \"b\")) ((\"Name\" NIL \"a\" \"b\")) "
	       "((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL) "
	       "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"x\") NIL NIL "
	       "\"7BIT\" 3 1 NIL NIL NIL NIL)");
	/* anything but parameters after the subtype: no Content-Type */
	expect("Content-Type: multipart/mixe]; boundary=b\n\n--b\n\nx\n"
	       "--b--\n", "BODY", "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	       "\"US-ASCII\") NIL NIL \"7BIT\" 17 4)");
	/* a text part without a charset gets us-ascii's, after the rest */
	expect("Content-Type: text/plain; format=flowed\n\nz\n", "BODY",
	       "BODY (\"text\" \"plain\" (\"format\" \"flowed\" \"CHARSET\" "
	       "\"US-ASCII\") NIL NIL \"7BIT\" 3 1)");
}

static void
test_depth_limit(void **state)
{
	struct buf *t = buf_new(SIZE_MAX);
	struct buf *b;
	char want[64];
	int r;

	(void)state;
	/* 20 nested multiparts, each with one part: past the limit the
	 * multipart is a text/plain leaf */
	for (int i = 0; i < 20; i++)
		buf_printf(t, "Content-Type: multipart/mixed; boundary=b%dx\n"
			   "\n--b%dx\n", i, i);
	buf_addstr(t, "\ndeep\n");
	b = fetch_msg(t->data, t->len, "BODYSTRUCTURE", &MSG, false, false,
		      &r);
	assert_int_equal(r, 0);
	/* 16 levels of parentheses opened by multiparts, then the leaf */
	for (int i = 0; i <= MSTRUCT_DEPTH_MAX; i++)
		assert_int_equal(b->data[25 + i], '(');
	assert_memory_equal(b->data + 26 + MSTRUCT_DEPTH_MAX,
			    "\"TEXT\" \"PLAIN\"", 14);
	buf_free(&b);
	/* the leaf's body is the rest, from the 17th header on */
	b = fetch_msg(t->data, t->len,
		      "BODY[1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1]<0.20>", &MSG,
		      false, false, &r);
	snprintf(want, sizeof(want), "{20}\r\n--b16x\r\nContent-Type");
	assert_non_null(strstr(b->data, want));
	buf_free(&b);
	buf_free(&t);
	/* more part numbers than are followed (64): no such part, and the
	 * reply names the section as the client sent it (it was given a
	 * ".0" that no client asked for) */
	t = buf_new(SIZE_MAX);
	buf_addstr(t, "BODY[1");
	for (int i = 1; i < 65; i++)
		buf_addstr(t, ".1");
	buf_addstr(t, ".MIME]");
	b = buf_new(SIZE_MAX);
	buf_printf(b, "%s \"\"", t->data);
	expect(SIMPLE, t->data, b->data);
	buf_free(&b);
	buf_free(&t);
}

static void
test_parts_limit(void **state)
{
	struct buf *t = buf_new(SIZE_MAX);
	struct mstruct *ms = mstruct_new();
	const struct mstruct_part *root;

	(void)state;
	buf_addstr(t, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < MSTRUCT_PARTS_MAX + 50; i++)
		buf_addstr(t, "--b\n\nx\n");
	buf_addstr(t, "--b--\n");
	mstruct_feed(ms, t->data, t->len);
	root = mstruct_end(ms);
	assert_true(mstruct_truncated(ms));
	assert_int_equal(root->nchildren, MSTRUCT_PARTS_MAX - 1);
	assert_int_equal(mstruct_size(ms), t->len + 2 + 3 * (
				 MSTRUCT_PARTS_MAX + 50) + 1);
	assert_int_equal(root->body_off + root->body_size, mstruct_size(ms));
	mstruct_free(&ms);
	buf_free(&t);
}

/* Past MSTRUCT_KEPT_MAX of values kept, further values are NIL. */
static void
test_kept_limit(void **state)
{
	struct buf *t = buf_new(SIZE_MAX);
	struct mstruct *ms = mstruct_new();
	const struct mstruct_part *c;
	size_t kept = 0, nil = 0;

	(void)state;
	buf_addstr(t, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 300; i++) {
		buf_addstr(t, "--b\nContent-Description: ");
		for (int k = 0; k < 1000; k++)
			buf_addc(t, 'd');
		buf_addstr(t, "\n\nx\n");
	}
	buf_addstr(t, "--b--\n");
	mstruct_feed(ms, t->data, t->len);
	mstruct_end(ms);
	assert_true(mstruct_truncated(ms));
	for (c = mstruct_root(ms)->children; c != NULL; c = c->next) {
		if (c->desc != NULL)
			kept += strlen(c->desc) + 1;
		else
			nil++;
		assert_int_equal(c->body_size, 1);
	}
	assert_true(kept <= MSTRUCT_KEPT_MAX);
	assert_true(kept > MSTRUCT_KEPT_MAX - 2000);
	assert_true(nil > 0);
	mstruct_free(&ms);
	buf_free(&t);
}

/* A header field longer than the kept bound is cut, not refused. */
static void
test_long_field(void **state)
{
	struct buf *t = buf_new(SIZE_MAX);
	struct buf *b;
	int r;

	(void)state;
	buf_addstr(t, "Subject: ");
	for (int i = 0; i < MSTRUCT_FIELD_MAX; i++)
		buf_addc(t, 'a');
	buf_addstr(t, "\n\nbody\n");
	b = fetch_msg(t->data, t->len, "ENVELOPE", &MSG, false, false, &r);
	assert_int_equal(r, 0);
	/* "Subject: " takes 9 of the bound: a literal of the rest */
	assert_non_null(strstr(b->data, "ENVELOPE (NIL {16375}\r\naaa"));
	buf_free(&b);
	buf_free(&t);
}

/* --- the text itself ------------------------------------------------------ */

static void
test_read_errors(void **state)
{
	const char *why;
	struct imap_fetch_items *it = items_of("(UID BODY[])", &why);
	struct imap_msg m = MSG;
	struct imap_fetch_msg fm = {.seq = 1, .m = &m, .read = rd_read,
				    .rewind = rd_rewind};
	struct rd r = {.s = SIMPLE, .len = strlen(SIMPLE), .chunk = 5,
		       .fail_at = 0};
	struct buf *b;
	int res;

	(void)state;
	m.size = 64;	/* SIMPLE's, every LF made CRLF */
	/* on the first read: nothing written */
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, -1);
	assert_int_equal(b->len, 0);
	buf_free(&b);
	/* the text ends before the size the store gave: the literal is
	 * cut (BODY[] reads the text once: its first read is its first
	 * piece) */
	r.fail_at = -1;
	r.rewinds = 0;
	m.size = 66;
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, -1);
	assert_memory_equal(b->data, "* 1 FETCH (UID 42 BODY[] {66}\r\n",
			    31);
	assert_true(b->len > 31);
	assert_int_equal(r.rewinds, 1);
	buf_free(&b);
	m.size = 64;
	/* the second read fails: BODY[]'s literal is cut after the first
	 * read's octets */
	r.rewinds = 0;
	r.fail_at = 5;
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, -1);
	assert_int_equal(b->len, 36);
	assert_memory_equal(b->data,
			    "* 1 FETCH (UID 42 BODY[] {64}\r\nFrom:", 36);
	buf_free(&b);
	imap_fetch_items_free(&it);
	/* a section read twice (the structure, then its octets) is shorter
	 * the second time: the literal is cut */
	it = items_of("(UID BODY[TEXT])", &why);
	r.fail_at = -1;
	r.rewinds = 0;
	r.shrink_after = 1;
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, -1);
	assert_true(b->len > 0);
	buf_free(&b);
	r.shrink_after = 0;
	/* the second pass's reads fail: the literal is cut */
	r.rewinds = 0;
	r.fail_rewind = 2;
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, -1);
	assert_non_null(memmem(b->data, b->len, "BODY[TEXT] {", 12));
	buf_free(&b);
	r.fail_rewind = 0;
	imap_fetch_items_free(&it);
	/* a filtered header's size is counted before the first octet:
	 * nothing written, the command can say NO */
	it = items_of("(UID BODY[HEADER.FIELDS (From)] BINARY.SIZE[1])",
		      &why);
	r.rewinds = 0;
	r.fail_rewind = 2;
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, -1);
	assert_int_equal(b->len, 0);
	buf_free(&b);
	imap_fetch_items_free(&it);
}

/*
 * One writer reset for each message of a FETCH gives each the response a
 * new writer gives: messages larger and smaller than one read, a text
 * that fails, a response left in the middle of its literal (the session
 * ended it), in every order.
 */
static void
test_writer_reuse(void **state)
{
	static const char *const items[] = {
		"(UID BODY.PEEK[])",
		"(UID RFC822.SIZE BODY[TEXT] BODY[HEADER.FIELDS (Subject)])",
		"(FLAGS BODYSTRUCTURE BINARY.PEEK[1] BODY[]<2.40>)",
	};
	struct buf *big = buf_new(SIZE_MAX);
	const char *texts[4];
	size_t lens[4];
	struct imap_msg ms[4];

	(void)state;
	for (size_t i = 0; big->len < 50000; i++)
		buf_printf(big, i == 0 ? "Subject: big\n\n" :
			   "line %zu of a text longer than one read\n", i);
	texts[0] = big->data;
	texts[1] = SIMPLE;
	texts[2] = MIXED;
	texts[3] = SIMPLE;	/* its reads fail */
	for (size_t k = 0; k < 4; k++) {
		lens[k] = strlen(texts[k]);
		ms[k] = MSG;
		ms[k].uid = 100 + (uint32_t)k;
		ms[k].size = lens[k];
		for (size_t i = 0; i < lens[k]; i++)
			ms[k].size += texts[k][i] == '\n';
	}
	for (size_t n = 0; n < sizeof(items) / sizeof(items[0]); n++) {
		const char *why;
		struct imap_fetch_items *it = items_of(items[n], &why);
		struct imap_fetch_msg fm = {.read = rd_read,
					    .rewind = rd_rewind};
		struct imap_fetch_writer *w = NULL;
		struct buf *out = buf_new(SIZE_MAX);
		/* big, small, failing, mixed, cut, big again, ... */
		static const size_t order[] = {0, 1, 3, 2, 0, 0, 1, 2, 1};

		for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
			size_t k = order[o];
			struct rd r = {.s = texts[k], .len = lens[k],
				       .chunk = 4096,
				       .fail_at = k == 3 ? 0 : -1};
			struct buf *want;
			int res, wres;

			fm.seq = (uint32_t)o + 1;
			fm.m = &ms[k];
			want = write_with(it, &fm, &r, 0, &wres);
			r.off = 0;
			fm.rd = &r;
			if (w == NULL)
				w = imap_fetch_writer_new(it, &fm);
			else
				imap_fetch_writer_reset(w, &fm);
			if (o == 4) {
				/* left after its first 100 octets */
				assert_int_equal(imap_fetch_write(w, out, 100),
						 1);
				buf_reset(out);
				buf_free(&want);
				continue;
			}
			res = imap_fetch_write(w, out, SIZE_MAX);
			assert_int_equal(res, wres);
			assert_int_equal(res, k == 3 ? -1 : 0);
			assert_int_equal(out->len, want->len);
			assert_memory_equal(out->data, want->data, out->len);
			buf_reset(out);
			buf_free(&want);
		}
		imap_fetch_writer_free(&w);
		buf_free(&out);
		imap_fetch_items_free(&it);
	}
	buf_free(&big);
}

/* A text longer than the size the store gives (it grew meanwhile):
 * BODY[] sends that many octets of it, whatever octet the size ends on
 * (a CR without its LF too), read in any piece size. */
static void
test_text_longer_than_size(void **state)
{
	struct buf *want = buf_new(SIZE_MAX);
	char head[64];

	(void)state;
	for (const char *p = SIMPLE; *p != '\0'; p++) {
		if (*p == '\n')
			buf_addc(want, '\r');
		buf_addc(want, *p);
	}
	for (size_t size = 1; size <= want->len; size++) {
		struct imap_msg m = MSG;
		struct buf *b;
		int r, n;

		m.size = size;
		b = fetch_msg(SIMPLE, strlen(SIMPLE), "BODY.PEEK[]", &m, false,
			      false, &r);
		assert_int_equal(r, 0);
		n = snprintf(head, sizeof(head), "* 3 FETCH (BODY[] {%zu}\r\n",
			     size);
		assert_int_equal(b->len, (size_t)n + size + 3);
		assert_memory_equal(b->data, head, (size_t)n);
		assert_memory_equal(b->data + n, want->data, size);
		assert_memory_equal(b->data + n + size, ")\r\n", 3);
		buf_free(&b);
	}
	buf_free(&want);
}

/* ENVELOPE and the header's sections read no more than the header. */
static void
test_header_only(void **state)
{
	const char *why;
	struct imap_fetch_items *it =
		items_of("(ENVELOPE BODY.PEEK[HEADER.FIELDS (Subject)] "
			 "RFC822.HEADER)", &why);
	struct imap_fetch_msg fm = {.seq = 1, .m = &MSG, .read = rd_read,
				    .rewind = rd_rewind};
	/* the header is 42 octets; reads past 48 fail */
	struct rd r = {.s = SIMPLE, .len = strlen(SIMPLE), .chunk = 8,
		       .fail_at = 48};
	struct buf *b;
	int res;

	(void)state;
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, 0);
	assert_string_equal(b->data, "* 1 FETCH (ENVELOPE (NIL \"hi\" "
			    "((\"Ann\" NIL \"ann\" \"example.org\")) "
			    "((\"Ann\" NIL \"ann\" \"example.org\")) "
			    "((\"Ann\" NIL \"ann\" \"example.org\")) "
			    "NIL NIL NIL NIL NIL) "
			    "BODY[HEADER.FIELDS (Subject)] {15}\r\nSubject: hi"
			    "\r\n\r\n RFC822.HEADER {44}\r\nFrom: Ann "
			    "<ann@example.org>\r\nSubject: hi\r\n\r\n)\r\n");
	buf_free(&b);
	imap_fetch_items_free(&it);
	/* BODY needs it all: the read error shows */
	it = items_of("(ENVELOPE BODY)", &why);
	b = write_with(it, &fm, &r, 0, &res);
	assert_int_equal(res, -1);
	assert_int_equal(b->len, 0);
	buf_free(&b);
	imap_fetch_items_free(&it);
}

/* A text made as it is read: 8 MB of body, never held. */
struct gen {
	uint64_t off, size;
};

static long
gen_read(void *p, char *buf, size_t size)
{
	struct gen *g = p;
	size_t n = g->size - g->off < size ? g->size - g->off : size;

	for (size_t i = 0; i < n; i++) {
		uint64_t o = g->off + i;

		buf[i] = o < 11 ? "Subject: x\n"[o] : o == 11 ? '\n' :
			 o % 64 == 63 ? '\n' : 'a' + (char)(o % 26);
	}
	g->off += n;
	return (long)n;
}

static int
gen_rewind(void *p)
{
	((struct gen *)p)->off = 0;
	return 0;
}

static void
test_big(void **state)
{
	const char *why;
	struct imap_fetch_items *it = items_of("(BODY.PEEK[] BODYSTRUCTURE)",
					       &why);
	struct gen g = {.size = 8u << 20};
	struct imap_fetch_msg fm = {.seq = 1, .m = &MSG, .rd = &g,
				    .read = gen_read, .rewind = gen_rewind};
	struct imap_fetch_writer *w = imap_fetch_writer_new(it, &fm);
	struct buf *out = buf_new(SIZE_MAX);
	uint64_t lfs = 2 + g.size / 64;
	uint64_t want = g.size + lfs, total = 0; /* every LF becomes CRLF */
	char head[64];
	int r, calls = 0;

	(void)state;
	do {
		r = imap_fetch_write(w, out, 65536);
		assert_true(out->len <= 65536);
		if (calls++ == 0) {
			snprintf(head, sizeof(head), "* 1 FETCH (BODY[] {%llu}"
				 "\r\n", (unsigned long long)want);
			assert_memory_equal(out->data, head, strlen(head));
		}
		total += out->len;
		buf_reset(out);
	} while (r == 1);
	assert_int_equal(r, 0);
	assert_true(total > want);
	imap_fetch_writer_free(&w);
	imap_fetch_items_free(&it);
	buf_free(&out);
}

/* --- the strings ---------------------------------------------------------- */

static void
test_strings(void **state)
{
	struct buf *b = buf_new(SIZE_MAX);
	char big[IMAP_QUOTED_MAX + 1];

	(void)state;
	imap_body_string(b, "a\"b\\c", 5);
	assert_string_equal(b->data, "\"a\\\"b\\\\c\"");
	buf_reset(b);
	imap_body_string(b, "a\r\nb", 4);
	assert_string_equal(b->data, "{4}\r\na\r\nb");
	buf_reset(b);
	imap_body_string(b, "a\0b", 3);
	assert_memory_equal(b->data, "{3}\r\na\x80" "b", 8);
	buf_reset(b);
	memset(big, 'x', sizeof(big));
	imap_body_string(b, big, sizeof(big));
	assert_memory_equal(b->data, "{1025}\r\nxx", 10);
	buf_reset(b);
	imap_body_nstring(b, NULL);
	imap_body_astring(b, " ab", 3);
	imap_body_astring(b, "NIL", 3);
	imap_body_astring(b, "x-y", 3);
	assert_string_equal(b->data, "NIL\" ab\"\"NIL\"x-y");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_simple_items),
		cmocka_unit_test(test_added),
		cmocka_unit_test(test_whole_and_header),
		cmocka_unit_test(test_crlf_counting),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_partial_all),
		cmocka_unit_test(test_multipart_sections),
		cmocka_unit_test(test_bodystructure),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_sizes_match),
		cmocka_unit_test(test_rfc_body_example),
		cmocka_unit_test(test_rfc_full_example),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_nul_in_body),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_dovecot_rules),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_parts_limit),
		cmocka_unit_test(test_long_field),
		cmocka_unit_test(test_kept_limit),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_writer_reuse),
		cmocka_unit_test(test_text_longer_than_size),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
