/*
 * Unit tests of the MIME builder and parser: round trips (text, UTF-8
 * subjects and names, binary attachments byte for byte) and messages from
 * the wild, malformed ones included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

static struct mime_out
base_msg(const char *subject, const char *body)
{
	struct mime_out m = {
		.date = "Sun, 22 Nov 2026 10:00:00 +0000",
		.message_id = "<1.2@owl.test>",
		.from = "alice@owl.test",
		.to = "bob@owl.test, carol@owl.test",
		.subject = subject,
		.body = body,
		.bodylen = strlen(body),
		.boundary = "=_owl_b0undary",
	};
	return m;
}

/* Every line of text is at most max octets. */
static void
assert_lines_max(const char *text, size_t max)
{
	size_t line = 0;

	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\n') {
			line = 0;
			continue;
		}
		line++;
		assert_true(line <= max);
	}
}

static void
test_text_round_trip(void **state)
{
	struct mime_out m = base_msg("Hello", "Hi Bob,\n\n.leading dot\n");
	struct buf *out = buf_new(1 << 20);
	struct mime_doc d;

	(void)state;
	assert_int_equal(mime_build(&m, out), 0);
	assert_non_null(strstr(out->data, "Date: Sun, 22 Nov 2026 10:00:00 "
					  "+0000\nFrom: alice@owl.test\n"
					  "To: bob@owl.test, carol@owl.test\n"
					  "Subject: Hello\nMessage-ID: "
					  "<1.2@owl.test>\nMIME-Version: 1.0\n"));
	assert_non_null(strstr(out->data, "Content-Transfer-Encoding: 7bit"));
	assert_null(strstr(out->data, "multipart"));
	mime_parse(out->data, out->len, &d);
	assert_string_equal(d.subject, "Hello");
	assert_string_equal(d.from, "alice@owl.test");
	assert_string_equal(d.to, "bob@owl.test, carol@owl.test");
	assert_null(d.cc);
	assert_int_equal(d.nparts, 1);
	assert_string_equal(d.parts[0].type, "text/plain");
	assert_false(d.parts[0].attachment);
	assert_string_equal(d.parts[0].data, "Hi Bob,\n\n.leading dot\n");
	mime_doc_free(&d);
	buf_free(&out);
}

static void
test_utf8_round_trip(void **state)
{
	/* a long subject of multi-octet characters, and a QP body */
	const char *subj = "Grüße aus Köln — ünïcödé 日本語のテキスト and "
			   "a long tail to need several encoded words";
	char body[4096];
	struct mime_out m;
	struct buf *out = buf_new(1 << 20), *h = buf_new(4096);
	struct mime_doc d;

	(void)state;
	snprintf(body, sizeof(body), "Zürich =  \ntrailing space \n"
		 "tab\t\n%.*s\nend", 2000,
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	m = base_msg(subj, body);
	m.cc = "dave@owl.test";
	assert_int_equal(mime_build(&m, out), 0);
	assert_non_null(strstr(out->data, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(out->data, "quoted-printable"));
	assert_non_null(strstr(out->data, "Cc: dave@owl.test\n"));
	assert_lines_max(out->data, 78);
	for (size_t i = 0; i < out->len; i++)
		assert_true((unsigned char)out->data[i] < 0x80);
	mime_parse(out->data, out->len, &d);
	assert_string_equal(d.subject, subj);
	assert_string_equal(d.cc, "dave@owl.test");
	assert_int_equal(d.nparts, 1);
	assert_string_equal(d.parts[0].data, body[strlen(body) - 1] == '\n' ?
			    body : strcat(body, "\n"));
	assert_true(mime_header_get(out->data, out->len, "subject", h));
	assert_string_equal(h->data, subj);
	assert_false(mime_header_get(out->data, out->len, "X-None", h));
	mime_doc_free(&d);
	buf_free(&out);
	buf_free(&h);
}

/* A long To list is folded between addresses, a long Subject kept whole. */
static void
test_long_fields(void **state)
{
	char to[4096], subj[3001], want[4096];
	struct mime_out m;
	struct buf *out = buf_new(1 << 20);
	struct mime_doc d;
	size_t n = 0, w = 0;

	(void)state;
	for (int i = 0; i < 100; i++) {
		n += (size_t)snprintf(to + n, sizeof(to) - n, "%suser%d@owl.test",
				      i > 0 ? " ,  " : "", i);
		w += (size_t)snprintf(want + w, sizeof(want) - w,
				      "%suser%d@owl.test", i > 0 ? ", " : "",
				      i);
	}
	memset(subj, 'S', sizeof(subj) - 1);
	subj[sizeof(subj) - 1] = '\0';
	m = base_msg(subj, "text\n");
	m.to = to;
	assert_int_equal(mime_build(&m, out), 0);
	assert_lines_max(out->data, 78);
	mime_parse(out->data, out->len, &d);
	/* unfolding gives back each address, ", " between them */
	assert_non_null(d.to);
	assert_non_null(strstr(d.to, "user0@owl.test, user1@owl.test"));
	assert_non_null(strstr(d.to, "user98@owl.test, user99@owl.test"));
	assert_string_equal(d.subject, subj);
	mime_doc_free(&d);
	buf_free(&out);
}

static void
test_attachments_round_trip(void **state)
{
	char bin[3000], text[] = "col1,col2\n1,2\n";
	struct mime_att atts[2] = {
		{"photo \xc3\xa9t\xc3\xa9 \"1\".png", bin, sizeof(bin), NULL},
		{"data.csv", text, sizeof(text) - 1, NULL},
	};
	struct mime_out m = base_msg("Files", "See attached.\n");
	struct buf *out = buf_new(1 << 20);
	struct mime_doc d;

	(void)state;
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 7 + i / 256);
	memcpy(bin, "\x89PNG\r\n\x1a\n", 8);
	m.atts = atts;
	m.natts = 2;
	assert_int_equal(mime_build(&m, out), 0);
	assert_non_null(strstr(out->data, "Content-Type: multipart/mixed; "
					  "boundary=\"=_owl_b0undary\""));
	assert_non_null(strstr(out->data, "Content-Type: image/png; name*="
					  "UTF-8''photo%20%C3%A9t%C3%A9%20"
					  "%221%22.png\n"));
	assert_non_null(strstr(out->data, "filename*=UTF-8''photo"));
	assert_non_null(strstr(out->data, "Content-Type: text/csv; "
					  "name=\"data.csv\"\n"
					  "Content-Disposition: attachment; "
					  "filename=\"data.csv\"\n"));
	assert_lines_max(out->data, 998);
	mime_parse(out->data, out->len, &d);
	assert_int_equal(d.nparts, 3);
	assert_string_equal(d.parts[0].data, "See attached.\n");
	assert_false(d.parts[0].attachment);
	assert_true(d.parts[1].attachment);
	assert_string_equal(d.parts[1].type, "image/png");
	assert_string_equal(d.parts[1].filename, atts[0].name);
	assert_int_equal(d.parts[1].len, sizeof(bin));
	assert_memory_equal(d.parts[1].data, bin, sizeof(bin));
	assert_true(d.parts[2].attachment);
	assert_string_equal(d.parts[2].filename, "data.csv");
	assert_string_equal(d.parts[2].data, text);
	assert_false(d.truncated);
	mime_doc_free(&d);
	buf_free(&out);

	/* too small an output buffer: -1, no crash */
	out = buf_new(200);
	assert_int_equal(mime_build(&m, out), -1);
	buf_free(&out);
}

static void
test_encoders(void **state)
{
	struct buf *b = buf_new(4096);
	char all[256];

	(void)state;
	assert_int_equal(mime_qp_encode("a=b \nc\t", 7, b), 0);
	assert_string_equal(b->data, "a=3Db=20\nc=09");
	buf_reset(b);
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	assert_int_equal(mime_qp_encode(all, sizeof(all), b), 0);
	assert_lines_max(b->data, 76);
	buf_reset(b);
	assert_int_equal(mime_b64_encode(all, sizeof(all), b), 0);
	assert_lines_max(b->data, 76);
	assert_int_equal(strlen(b->data), 344 + 5);
	buf_reset(b);
	assert_int_equal(mime_header_encode("Subject", "plain", b), 0);
	assert_string_equal(b->data, "Subject: plain\n");
	buf_reset(b);
	assert_int_equal(mime_header_encode("Subject", "\xc3\xa9", b), 0);
	assert_string_equal(b->data, "Subject: =?UTF-8?B?w6k=?=\n");
	buf_free(&b);

	assert_string_equal(mime_type_guess("a.PDF", "", 0),
			    "application/pdf");
	assert_string_equal(mime_type_guess("noext", "%PDF-1.4", 8),
			    "application/pdf");
	assert_string_equal(mime_type_guess("notes", "hello\n", 6),
			    "text/plain");
	assert_string_equal(mime_type_guess("blob", "a\0b", 3),
			    "application/octet-stream");
	assert_string_equal(mime_type_guess("latin", "caf\xe9", 4),
			    "application/octet-stream");
	assert_string_equal(mime_type_guess(".bashrc", "x", 1), "text/plain");
}

/* Parses text and returns the doc (free it). */
static void
parse(const char *text, struct mime_doc *d)
{
	mime_parse(text, strlen(text), d);
}

static void
test_wild_messages(void **state)
{
	struct mime_doc d;

	(void)state;
	/* CRLF, ISO-8859-1 words, Q encoding, adjacent words joined */
	parse("From: =?ISO-8859-1?Q?Andr=E9?= <andre@x.test>\r\n"
	      "Subject: =?utf-8?q?caf=C3=A9_au?= =?utf-8?b?bGFpdA==?= x\r\n"
	      "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
	      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	      "Gr=FC=DFe, soft=\r\nbreak\r\n", &d);
	assert_string_equal(d.from, "André <andre@x.test>");
	assert_string_equal(d.subject, "café aulait x");
	assert_int_equal(d.nparts, 1);
	assert_string_equal(d.parts[0].data, "Grüße, softbreak\n");
	mime_doc_free(&d);

	/* folded headers, RFC 2231 continuations, nested alternative */
	parse("Subject: a\n  folded\n\tline\nContent-Type: multipart/mixed;\n"
	      " boundary=outer\n\npreamble\n--outer\n"
	      "Content-Type: multipart/alternative; boundary=\"in ner\"\n\n"
	      "--in ner\nContent-Type: text/plain\n\nplain\n"
	      "--in ner\nContent-Type: text/html\n\n<p>html</p>\n"
	      "--in ner--\n--outer\n"
	      "Content-Type: application/octet-stream\n"
	      "Content-Disposition: attachment;\n"
	      " filename*0*=UTF-8''%E2%82%AC;\n filename*1=\" sign.txt\"\n"
	      "Content-Transfer-Encoding: base64\n\naGVs\nbG8=\n"
	      "--outer--\nepilogue\n", &d);
	assert_string_equal(d.subject, "a  folded\tline");
	assert_int_equal(d.nparts, 3);
	assert_string_equal(d.parts[0].data, "plain");
	assert_string_equal(d.parts[1].type, "text/html");
	assert_string_equal(d.parts[2].filename, "€ sign.txt");
	assert_string_equal(d.parts[2].data, "hello");
	assert_true(d.parts[2].attachment);
	mime_doc_free(&d);

	/* RFC 2047 inside a quoted name (Outlook); name only in C-T */
	parse("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	      "Content-Type: image/png; name=\"=?UTF-8?B?w6kucG5n?=\"\n\n"
	      "x\n--b--\n", &d);
	assert_int_equal(d.nparts, 1);
	assert_string_equal(d.parts[0].filename, "é.png");
	assert_true(d.parts[0].attachment);
	mime_doc_free(&d);

	/* unterminated multipart, junk base64, unknown charset */
	parse("Content-Type: multipart/mixed; boundary=z\n\n--z\n"
	      "Content-Transfer-Encoding: base64\n\n!!aGk*=\n--z\n"
	      "Content-Type: text/plain; charset=x-unknown-42\n\nraw \xff\n",
	      &d);
	assert_int_equal(d.nparts, 2);
	assert_string_equal(d.parts[0].data, "hi");
	assert_string_equal(d.parts[1].data, "raw \xff\n");
	mime_doc_free(&d);

	/* multipart without its boundary, or with none in the body */
	parse("Content-Type: multipart/mixed\n\nbody\n", &d);
	assert_int_equal(d.nparts, 1);
	assert_string_equal(d.parts[0].data, "body\n");
	mime_doc_free(&d);
	parse("Content-Type: multipart/mixed; boundary=q\n\nno parts\n", &d);
	assert_int_equal(d.nparts, 1);
	mime_doc_free(&d);

	/* no header section at all; nothing; broken encoded words */
	parse("just text", &d);
	assert_int_equal(d.nparts, 1);
	assert_null(d.subject);
	mime_doc_free(&d);
	mime_parse("", 0, &d);
	assert_int_equal(d.nparts, 1);
	assert_int_equal(d.parts[0].len, 0);
	mime_doc_free(&d);
	parse("Subject: =?utf-8?x?abc?= =?utf-8?b?=?= =?z =?\n\n", &d);
	assert_string_equal(d.subject, "=?utf-8?x?abc?=  =?z =?");
	mime_doc_free(&d);
}

static void
test_limits(void **state)
{
	struct buf *b = buf_new(1 << 20);
	struct mime_doc d;

	(void)state;
	/* nesting deeper than MIME_DEPTH_MAX */
	for (int i = 0; i < MIME_DEPTH_MAX + 4; i++)
		buf_printf(b, "Content-Type: multipart/mixed; boundary=b%d\n\n"
			   "--b%d\n", i, i);
	buf_addstr(b, "\ninnermost\n");
	mime_parse(b->data, b->len, &d);
	assert_true(d.truncated);
	assert_int_equal(d.nparts, 1);
	mime_doc_free(&d);

	/* more parts than MIME_PARTS_MAX */
	buf_reset(b);
	buf_addstr(b, "Content-Type: multipart/mixed; boundary=p\n\n");
	for (int i = 0; i < MIME_PARTS_MAX + 10; i++)
		buf_addstr(b, "--p\n\nx\n");
	mime_parse(b->data, b->len, &d);
	assert_true(d.truncated);
	assert_int_equal(d.nparts, MIME_PARTS_MAX);
	mime_doc_free(&d);
	buf_free(&b);
}

static void
test_field_limits(void **state)
{
	struct buf *b = buf_new(1 << 20), *h = buf_new(1 << 20);
	struct mime_doc d;
	char bnd[202];

	(void)state;
	/* a header field over MIME_HEADER_MAX is cut there, in one line or
	 * folded */
	for (int folded = 0; folded < 2; folded++) {
		buf_reset(b);
		buf_addstr(b, "Subject: ");
		for (int i = 0; i < MIME_HEADER_MAX + 100; i++)
			buf_addstr(b, folded && i % 70 == 69 ? "\n y" : "y");
		buf_addstr(b, "\n\nbody\n");
		assert_true(mime_header_get(b->data, b->len, "Subject", h));
		assert_true(h->len > MIME_HEADER_MAX - 100);
		assert_true(h->len <= MIME_HEADER_MAX);
		mime_parse(b->data, b->len, &d);
		assert_string_equal(d.subject, h->data);
		assert_string_equal(d.parts[0].data, "body\n");
		mime_doc_free(&d);
	}

	/* a boundary of 200 octets is followed, 201 is not */
	for (int n = 200; n <= 201; n++) {
		memset(bnd, 'b', (size_t)n);
		bnd[n] = '\0';
		buf_reset(b);
		buf_printf(b, "Content-Type: multipart/mixed; boundary=%s\n\n"
			   "--%s\n\none\n--%s\n\ntwo\n--%s--\n", bnd, bnd,
			   bnd, bnd);
		mime_parse(b->data, b->len, &d);
		assert_int_equal(d.nparts, n == 200 ? 2 : 1);
		mime_doc_free(&d);
	}

	/* RFC 2231 continuations: sections 0..63 are joined, 64 ignored */
	buf_reset(b);
	buf_addstr(b, "Content-Type: application/x-y\n"
		      "Content-Disposition: attachment");
	for (int i = 0; i <= 64; i++)
		buf_printf(b, ";\n filename*%d=\"%c\"", i, i == 64 ? 'Z' : 'a');
	buf_addstr(b, "\n\nx\n");
	mime_parse(b->data, b->len, &d);
	assert_int_equal(d.nparts, 1);
	assert_non_null(d.parts[0].filename);
	assert_int_equal(strlen(d.parts[0].filename), 64);
	assert_null(strchr(d.parts[0].filename, 'Z'));
	mime_doc_free(&d);
	buf_free(&b);
	buf_free(&h);
}

static void
test_safe_text_and_names(void **state)
{
	struct buf *b = buf_new(1024);
	char name[MIME_NAME_MAX + 1];
	char longname[600];

	(void)state;
	{
	static const char evil[] = "ok\x1b[31mred\r\n\t\x07 \xc2\x9b "
				   "\xe2\x80\xaerev \xff\xc0\xaf é\n";

	mime_safe_text(evil, sizeof(evil) - 1, b);
	assert_string_equal(b->data, "ok?[31mred\n\t? ? ?rev ??? é\n");
	}

	{
	/* a type that is not two tokens is never shown: the default is */
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		"Content-Type: application/\x1b[2Jevil; name=a.bin\n\nx\n"
		"--b\nContent-Type: Image / PNG ; name=b.png\n\ny\n"
		"--b\nContent-Type: /png; name=c\n\nz\n"
		"--b\nContent-Type: text/html/x; name=d\n\nw\n--b--\n";
	struct mime_doc d;

	mime_parse(msg, sizeof(msg) - 1, &d);
	assert_int_equal(d.nparts, 4);
	assert_string_equal(d.parts[0].type, "text/plain");
	assert_string_equal(d.parts[1].type, "image/png");
	assert_string_equal(d.parts[2].type, "text/plain");
	assert_string_equal(d.parts[3].type, "text/plain");
	mime_doc_free(&d);
	}

	mime_safe_name("../../etc/passwd", name, sizeof(name));
	assert_string_equal(name, "passwd");
	mime_safe_name("C:\\Users\\x\\..\\evil.exe", name, sizeof(name));
	assert_string_equal(name, "evil.exe");
	mime_safe_name(".hidden", name, sizeof(name));
	assert_string_equal(name, "hidden");
	mime_safe_name("..", name, sizeof(name));
	assert_string_equal(name, "attachment");
	mime_safe_name("", name, sizeof(name));
	assert_string_equal(name, "attachment");
	mime_safe_name("a\nb\x1b.txt", name, sizeof(name));
	assert_string_equal(name, "a_b_.txt");
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	mime_safe_name(longname, name, sizeof(name));
	assert_int_equal(strlen(name), MIME_NAME_MAX);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_utf8_round_trip),
		cmocka_unit_test(test_long_fields),
		cmocka_unit_test(test_attachments_round_trip),
		cmocka_unit_test(test_encoders),
		cmocka_unit_test(test_wild_messages),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_field_limits),
		cmocka_unit_test(test_safe_text_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
