/*
 * Unit tests of the IMAP command parser (proto/imap_parser.h): each case
 * is a client's bytes and the transcript of what the parser hands out,
 * fed whole, octet by octet and in pieces of 2, 3 and 7, which must all
 * give the same transcript.  From RFC 9051's grammar and examples:
 * atoms, quoted strings and their escapes, NIL, nested lists, FETCH items
 * with bracketed sections, flags, literals ({n}, {n+}, ~{n}), streamed
 * and refused literals, raw lines, and every error with what follows it.
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
#include "proto/imap_parser.h"
#include "proto/wire.h"

static const struct imap_limits LIM = {
	.line_max = 200, .literal_max = 64, .literals_max = 100,
	.depth_max = 3, .args_max = 20,
};

/* lim.skip_max of run()'s parser (LIM's is 0, no bound) */
static size_t opt_skip_max;

/* What to do with a literal announcement. */
enum lit_policy { KEEP, STREAM, REFUSE };

static void
arg_text(struct buf *out, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		buf_printf(out, "A:%s", a->str);
		break;
	case IMAP_ARG_QUOTED:
		buf_printf(out, "Q:%s", a->str);
		break;
	case IMAP_ARG_NIL:
		buf_addstr(out, "NIL");
		break;
	case IMAP_ARG_LITERAL:
		if (a->streamed)
			buf_printf(out, "S%s:%zu", a->literal8 ? "8" : "",
				   a->len);
		else
			buf_printf(out, "L%s:%.*s", a->literal8 ? "8" : "",
				   (int)a->len, a->str);
		break;
	case IMAP_ARG_LIST:
		buf_addc(out, '(');
		for (size_t i = 0; i < a->n; i++) {
			if (i > 0)
				buf_addc(out, ' ');
			arg_text(out, &a->list[i]);
		}
		buf_addc(out, ')');
		break;
	}
}

/* Feeds text in pieces of chunk octets (0: whole); the transcript. */
static char *
run(const char *text, size_t len, size_t chunk, enum lit_policy pol,
    bool line_after_first)
{
	struct imap_limits lim = LIM;
	struct imap_parser *p;
	struct buf *out = buf_new(1 << 20);
	size_t off = 0, streamed = 0;
	bool first = true;
	char *r;

	lim.skip_max = opt_skip_max;
	p = imap_parser_new(&lim);
	while (off < len) {
		size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
		size_t used;
		enum imap_parse_res res = imap_parser_feed(p, text + off, n,
							   &used);
		const struct imap_command *c;
		const char *t, *tag, *line;
		size_t ll;

		off += used;
		switch (res) {
		case IMAP_PARSE_MORE:
			assert_int_equal(used, n);
			break;
		case IMAP_PARSE_COMMAND:
			c = imap_parser_command(p);
			buf_printf(out, "C %s %s", c->tag, c->name);
			for (size_t i = 0; i < c->nargs; i++) {
				buf_addc(out, ' ');
				arg_text(out, &c->args[i]);
			}
			buf_addc(out, '\n');
			if (first && line_after_first)
				imap_parser_want_line(p);
			first = false;
			break;
		case IMAP_PARSE_LINE:
			line = imap_parser_line(p, &ll);
			buf_printf(out, "R %.*s\n", (int)ll, line);
			break;
		case IMAP_PARSE_LITERAL: {
			size_t size;
			bool sync, l8;

			imap_parser_literal(p, &size, &sync, &l8);
			buf_printf(out, "+%zu%s%s\n", size, sync ? "" : "+",
				   l8 ? "~" : "");
			if (pol == REFUSE)
				imap_parser_literal_refuse(p);
			else
				imap_parser_literal_accept(p, pol == STREAM);
			break;
		}
		case IMAP_PARSE_DATA:
			imap_parser_data(p, &ll);
			streamed += ll;
			break;
		case IMAP_PARSE_ERROR:
			imap_parser_error(p, &t, &tag);
			buf_printf(out, "E %s %s\n", tag, t);
			break;
		}
	}
	if (streamed > 0)
		buf_printf(out, "D %zu\n", streamed);
	imap_parser_free(&p);
	r = xstrdup(out->data);
	buf_free(&out);
	return r;
}

/* The same transcript however the input is cut. */
static void
check(const char *text, enum lit_policy pol, bool line_after_first,
      const char *want)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7};
	size_t len = strlen(text);

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *got = run(text, len, chunks[i], pol, line_after_first);

		if (strcmp(got, want) != 0)
			fprintf(stderr, "chunk %zu:\n got: %s\nwant: %s\n",
				chunks[i], got, want);
		assert_string_equal(got, want);
		free(got);
	}
}

static void
test_simple(void **st)
{
	(void)st;
	check("a1 NOOP\r\n", KEEP, false, "C a1 NOOP\n");
	check("a1 noop\r\nA2 Capability\r\n", KEEP, false,
	      "C a1 NOOP\nC A2 CAPABILITY\n");
	/* bare LF is taken as CRLF; empty lines are ignored */
	check("\r\n\r\nx NOOP\n", KEEP, false, "C x NOOP\n");
	check("a SELECT INBOX\r\n", KEEP, false, "C a SELECT A:INBOX\n");
}

static void
test_strings(void **st)
{
	(void)st;
	check("a LOGIN \"bob\" \"p a\\\"s\\\\s\"\r\n", KEEP, false,
	      "C a LOGIN Q:bob Q:p a\"s\\s\n");
	check("a X NIL nil \"NIL\" \"\"\r\n", KEEP, false,
	      "C a X NIL NIL Q:NIL Q:\n");
	/* UTF-8 in a quoted string (IMAP4rev2) */
	check("a CREATE \"Entw\xc3\xbcrfe\"\r\n", KEEP, false,
	      "C a CREATE Q:Entw\xc3\xbcrfe\n");
	check("a X \"bad\\n\"\r\nb NOOP\r\n", KEEP, false,
	      "E a Invalid escape in a quoted string\nC b NOOP\n");
	check("a X \"open\r\nb NOOP\r\n", KEEP, false,
	      "E a Invalid characters in a quoted string\nC b NOOP\n");
}

static void
test_lists_and_fetch_items(void **st)
{
	(void)st;
	check("a4 FETCH 1:*,7 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]"
	      "<0.100> UID)\r\n", KEEP, false,
	      "C a4 FETCH A:1:*,7 (A:FLAGS A:BODY.PEEK[HEADER.FIELDS "
	      "(From To)]<0.100> A:UID)\n");
	check("a STORE 2 +FLAGS.SILENT (\\Seen \\Deleted $Label1)\r\n", KEEP,
	      false, "C a STORE A:2 A:+FLAGS.SILENT (A:\\Seen A:\\Deleted "
	      "A:$Label1)\n");
	check("a LIST \"\" %/*\r\n", KEEP, false, "C a LIST Q: A:%/*\n");
	check("a X (() (a (b)))\r\n", KEEP, false,
	      "C a X (() (A:a (A:b)))\n");
	check("a SEARCH BODY[] X\r\n", KEEP, false,
	      "C a SEARCH A:BODY[] A:X\n");
}

static void
test_literals(void **st)
{
	(void)st;
	check("A2 LOGIN \"bob\" {5}\r\npass!\r\n", KEEP, false,
	      "+5\nC A2 LOGIN Q:bob L:pass!\n");
	check("a APPEND INBOX {3+}\r\nabc\r\n", KEEP, false,
	      "+3+\nC a APPEND A:INBOX L:abc\n");
	check("a APPEND INBOX ~{3}\r\nabc\r\n", KEEP, false,
	      "+3~\nC a APPEND A:INBOX L8:abc\n");
	check("a X {0}\r\n {2}\r\nhi\r\n", KEEP, false,
	      "+0\n+2\nC a X L: L:hi\n");
	/* streamed: handed out in pieces, the argument keeps the size */
	check("c1 APPEND INBOX (\\Seen) {10}\r\n0123456789\r\n", STREAM,
	      false, "+10\nC c1 APPEND A:INBOX (A:\\Seen) S:10\nD 10\n");
	/* a literal must be followed by SP, ')' or the line end */
	check("a X {2}\r\nhiX\r\nb NOOP\r\n", KEEP, false,
	      "+2\nE a Missing space between arguments\nC b NOOP\n");
	check("a X {2x}\r\nb NOOP\r\n", KEEP, false,
	      "E a Invalid literal size\nC b NOOP\n");
}

static void
test_refused_and_too_big(void **st)
{
	(void)st;
	/* a synchronizing literal refused: the client never sends it */
	check("a9 APPEND INBOX {999999}\r\nb1 NOOP\r\n", REFUSE, false,
	      "+999999\nE a9 Literal refused\nC b1 NOOP\n");
	/* a non-synchronizing one is read and dropped, not run */
	check("a9 APPEND INBOX {9+}\r\nc2 LOGOUT\r\nb1 NOOP\r\n", REFUSE,
	      false, "+9+\nE a9 Literal refused\nC b1 NOOP\n");
	/* past literal_max the parser refuses by itself */
	check("a X {65+}\r\n"
	      "0123456789012345678901234567890123456789012345678901234567890"
	      "1234\r\nb NOOP\r\n", KEEP, false,
	      "+65+\nE a [TOOBIG] Literal too big\nC b NOOP\n");
	check("a X {65}\r\nb NOOP\r\n", KEEP, false,
	      "+65\nE a [TOOBIG] Literal too big\nC b NOOP\n");
	/* all of a command's kept literals are bounded too */
	check("a X {60+}\r\n"
	      "012345678901234567890123456789012345678901234567890123456789"
	      " {60+}\r\n"
	      "012345678901234567890123456789012345678901234567890123456789"
	      "\r\nb NOOP\r\n", KEEP, false,
	      "+60+\n+60+\nE a [TOOBIG] Literal too big\nC b NOOP\n");
}

static void
test_errors(void **st)
{
	char line[400];

	(void)st;
	check("a1\r\nb NOOP\r\n", KEEP, false,
	      "E a1 Missing command\nC b NOOP\n");
	check("a+1 NOOP\r\n", KEEP, false, "E * Invalid tag\n");
	check("* NOOP\r\n", KEEP, false, "E * Invalid tag\n");
	check("a X )\r\n", KEEP, false, "E a Unexpected ')'\n");
	check("a X (b\r\n", KEEP, false, "E a Missing ')'\n");
	check("a X ((((x))))\r\n", KEEP, false,
	      "E a [LIMIT] Lists nested too deep\n");
	check("a X  b\r\n", KEEP, false, "E a Extra space\n");
	check("a X (a)(b)\r\n", KEEP, false,
	      "E a Missing space between arguments\n");
	check("a X b(c)\r\n", KEEP, false,
	      "E a An atom runs into another argument\n");
	check("a X \x01\r\n", KEEP, false,
	      "E a Invalid characters in an argument\n");
	check("a X a\rb\r\n", KEEP, false,
	      "E a CR without LF\n");
	check("a X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\r\n"
	      "b NOOP\r\n", KEEP, false,
	      "E a [LIMIT] Too many arguments\nC b NOOP\n");
	memset(line, 'x', sizeof(line));
	memcpy(line, "a X ", 4);
	memcpy(line + sizeof(line) - 14, "\r\nb NOOP\r\n", 11);
	check(line, KEEP, false,
	      "E a [TOOBIG] Command line too long\nC b NOOP\n");
	/* an error line ending in {n+}: its octets are not a command */
	check("a X ) {10+}\r\nc LOGOUT\r\n\r\nb NOOP\r\n", KEEP, false,
	      "E a Unexpected ')'\nC b NOOP\n");
	/* ... but a synchronizing one is never sent after the BAD */
	check("a X ) {10}\r\nb NOOP\r\n", KEEP, false,
	      "E a Unexpected ')'\nC b NOOP\n");
}

/*
 * Feeds head and then fill octets of 'x' (and tail) in pieces of chunk;
 * the first error's code, with *fed_r the octets used up to it.
 */
static enum imap_parse_err
first_error(const char *head, size_t fill, const char *tail, size_t chunk,
	    bool raw_line, size_t *fed_r)
{
	size_t hl = strlen(head), tl = strlen(tail), len = hl + fill + tl;
	char *text = xmalloc(len);
	struct imap_parser *p = imap_parser_new(&LIM);
	enum imap_parse_err e = IMAP_ERR_NONE;
	size_t off = 0;

	memcpy(text, head, hl);
	memset(text + hl, 'x', fill);
	memcpy(text + hl + fill, tail, tl);
	while (off < len && e == IMAP_ERR_NONE) {
		size_t n = len - off < chunk ? len - off : chunk, used;
		enum imap_parse_res r = imap_parser_feed(p, text + off, n,
							 &used);
		const char *t, *tag;

		off += used;
		if (r == IMAP_PARSE_ERROR)
			e = imap_parser_error(p, &t, &tag);
		else if (r == IMAP_PARSE_COMMAND && raw_line)
			imap_parser_want_line(p);
	}
	*fed_r = off;
	imap_parser_free(&p);
	free(text);
	return e;
}

/* A line that never ends is an error at once, WIRE_DROP_MAX past the
 * line limit, whether it was too long or bad from its start. */
static void
test_line_without_end(void **st)
{
	static const size_t chunks[] = {1, 4096, 1 << 22};
	size_t fed;

	(void)st;
	for (size_t i = 0; i < 3; i++) {
		size_t c = chunks[i];

		assert_int_equal(first_error("a NOOP ", 2 * WIRE_DROP_MAX, "",
					     c, false, &fed),
				 IMAP_ERR_LINE_ENDLESS);
		/* the bound counts the line's octets (the tag's aside) */
		assert_in_range(fed, LIM.line_max + WIRE_DROP_MAX,
				LIM.line_max + WIRE_DROP_MAX + 8);
		assert_int_equal(first_error("a X ) ", 2 * WIRE_DROP_MAX, "",
					     c, false, &fed),
				 IMAP_ERR_LINE_ENDLESS);
		assert_in_range(fed, WIRE_DROP_MAX,
				LIM.line_max + WIRE_DROP_MAX + 8);
		/* an AUTHENTICATE response or IDLE's DONE line alike */
		assert_int_equal(first_error("a IDLE\r\n", 2 * WIRE_DROP_MAX,
					     "", c, true, &fed),
				 IMAP_ERR_LINE_ENDLESS);
		/* ending just within the bound: the line's own error */
		assert_int_equal(first_error("a NOOP ", WIRE_DROP_MAX, "\r\n",
					     c, false, &fed),
				 IMAP_ERR_LINE_TOO_LONG);
		/* a skipped literal's octets do not count */
		assert_int_equal(first_error("a X ) {2097152+}\r\n",
					     2 * WIRE_DROP_MAX, "\r\n", c,
					     false, &fed),
				 IMAP_ERR_SYNTAX);
	}
}

/*
 * {n+} literals to drop past lim.skip_max are an error before any of
 * their octets is read (the session ends; the rest is not parsed):
 * refused, after an error, or several in one command.  Within the bound
 * they are read into nothing as before.
 */
static void
test_skip_bound(void **st)
{
	(void)st;
	opt_skip_max = 10;
	check("a LOGIN {10+}\r\n0123456789\r\nb NOOP\r\n", REFUSE, false,
	      "+10+\nE a Literal refused\nC b NOOP\n");
	check("a LOGIN {11+}\r\n0123456789A\r\nb NOOP\r\n", REFUSE, false,
	      "+11+\nE a [TOOBIG] Literal too big\nE 0123456789A Missing "
	      "command\nC b NOOP\n");
	check("a X ) {4+}\r\n0123 {6+}\r\n012345\r\nb NOOP\r\n", KEEP,
	      false, "E a Unexpected ')'\nC b NOOP\n");
	check("a X ) {4+}\r\n0123 {7+}\r\n0123456\r\nb NOOP\r\n", KEEP,
	      false, "E a [TOOBIG] Literal too big\nE 0123456 Missing "
	      "command\nC b NOOP\n");
	check("a X ) {999999999999999+}\r\nb NOOP\r\n", KEEP, false,
	      "E a [TOOBIG] Literal too big\nC b NOOP\n");
	/* a new command counts from 0 */
	check("a X ) {10+}\r\n0123456789\r\nb X ) {10+}\r\n0123456789\r\n"
	      "c NOOP\r\n", KEEP, false, "E a Unexpected ')'\nE b Unexpected "
	      "')'\nC c NOOP\n");
	opt_skip_max = 0;
}

static void
test_raw_line(void **st)
{
	(void)st;
	check("a AUTHENTICATE PLAIN\r\nAGJvYgBwYXNz\r\nb NOOP\r\n", KEEP,
	      true, "C a AUTHENTICATE A:PLAIN\nR AGJvYgBwYXNz\nC b NOOP\n");
	check("a IDLE\r\nDONE\r\n", KEEP, true, "C a IDLE\nR DONE\n");
}

/* Limits raised between commands (after a login): deeper lists parse;
 * lowered, the stack is kept but nothing breaks. */
static void
test_set_limits(void **st)
{
	struct imap_limits deep = LIM, shallow = LIM;
	struct imap_parser *p = imap_parser_new(&LIM);
	const char *deep_cmd = "a X (((((x)))))\r\n";
	size_t used;

	(void)st;
	assert_int_equal(imap_parser_feed(p, deep_cmd, strlen(deep_cmd),
					  &used), IMAP_PARSE_ERROR);
	deep.depth_max = 8;
	imap_parser_set_limits(p, &deep);
	assert_int_equal(imap_parser_feed(p, deep_cmd, strlen(deep_cmd),
					  &used), IMAP_PARSE_COMMAND);
	assert_int_equal(imap_parser_command(p)->args[0].type,
			 IMAP_ARG_LIST);
	shallow.depth_max = 2;
	imap_parser_set_limits(p, &shallow);
	assert_int_equal(imap_parser_feed(p, "b Y (z)\r\n", 9, &used),
			 IMAP_PARSE_COMMAND);
	imap_parser_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_lists_and_fetch_items),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_refused_and_too_big),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_line_without_end),
		cmocka_unit_test(test_skip_bound),
		cmocka_unit_test(test_raw_line),
		cmocka_unit_test(test_set_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
