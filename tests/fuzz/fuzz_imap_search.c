/*
 * libFuzzer harness for SEARCH (proto/imap_search.h).  The input is: one
 * octet of choices (rev2, UID, the message's flags and \Recent), eight
 * octets of internal date (any int64; its zone, -23:59 to +23:59, is
 * made from it), a SEARCH command's arguments up to the first NUL, and
 * the rest as the message text.  The arguments go through imap_parser
 * (literals kept) and imap_search_parse; a program is evaluated on the
 * message twice (with the text in pieces of 1 to 16 octets the second
 * time), and its response written.  Checks besides no crash or
 * sanitizer report: a refusal comes with a text; both evaluations agree
 * and are 0 or 1; a program that wants no text never reads it, and one
 * that does reads the text once (never past its end); the response is
 * one CRLF-ended line (none for RETURN (SAVE) alone).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_parser.h"
#include "proto/imap_search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_limits LIM = {
	.line_max = 4096, .literal_max = 1024, .literals_max = 2048,
	.depth_max = 32, .args_max = 1024,
};

struct reader {
	const char *text;
	size_t len, off, piece;
	int ends;		/* reads that said the end */
};

static long
rd_read(void *p, char *buf, size_t size)
{
	struct reader *r = p;
	size_t n = r->len - r->off;

	if (n == 0) {
		r->ends++;
		return 0;
	}
	if (r->ends > 0)
		abort();	/* read again after the end */
	if (n > size)
		n = size;
	if (r->piece > 0 && n > r->piece)
		n = r->piece;
	memcpy(buf, r->text + r->off, n);
	r->off += n;
	return (long)n;
}

static int
rd_rewind(void *p)
{
	struct reader *r = p;

	r->off = 0;
	r->ends = 0;
	return 0;
}

static int
evaluate(const struct imap_search *s, const struct imap_msg *m, bool recent,
	 struct reader *r)
{
	static const struct imap_range saved_r = {5, 7};
	static const struct imap_seqset saved = {(struct imap_range *)&saved_r,
						 1};
	struct imap_search_box box = {3, 9, &saved, 1700000000};
	struct imap_search_msg msg = {2, m, recent, r, rd_read, rd_rewind};
	int res;

	rd_rewind(r);
	res = imap_search_match(s, &box, &msg);
	if (res < -1 || res > 1)
		abort();
	if (!imap_search_wants_text(s) && (r->off > 0 || r->ends > 0))
		abort();
	if (r->ends > 1)
		abort();
	return res;
}

static void
respond(const struct imap_search *s, bool uid, int res)
{
	static const uint32_t nums[] = {1, 2, 3, 5, 9};
	static const uint64_t modseqs[] = {42, 7, 9, 42, 3};
	struct buf *out = buf_new(1 << 16);

	imap_search_write(s, "a1", uid, nums, res == 1 ? 5 : 0, modseqs,
			  out);
	if (imap_search_return(s) == IMAP_SEARCH_RET_SAVE) {
		if (out->len != 0)
			abort();
	} else if (out->len < 4 || memcmp(out->data + out->len - 2, "\r\n",
					   2) != 0 ||
		   memchr(out->data, '\n', out->len) !=
		   out->data + out->len - 1) {
		abort();
	}
	buf_free(&out);
}

static void
search(const struct imap_command *c, uint8_t opt, int64_t date,
       const char *text, size_t len)
{
	struct imap_search *s;
	const char *why;
	struct imap_msg m = {.uid = 7, .modseq = 100, .flags = opt & 0x3f,
			     .keywords = "$Junk work", .size = len,
			     .date = date,
			     .zone = (int)((uint64_t)date % 2879) - 1439};
	struct reader r1 = {text, len, 0, 0, 0};
	struct reader r2 = {text, len, 0, 1 + (opt % 16), 0};
	int a, b;

	if (imap_search_parse(c->args, c->nargs, (opt & 0x40) != 0, &s,
			      &why) != IMAP_SEARCH_OK) {
		if (s != NULL || why == NULL || why[0] == '\0')
			abort();
		return;
	}
	a = evaluate(s, &m, (opt & 0x80) != 0, &r1);
	b = evaluate(s, &m, (opt & 0x80) != 0, &r2);
	if (a != b)
		abort();
	respond(s, (opt & 1) != 0, a);
	imap_search_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *args, *nl, *text;
	struct buf *line;
	struct imap_parser *p;
	size_t off = 0, used;
	uint64_t date = 0;

	if (size < 9 || size > 8192)
		return 0;
	for (int i = 1; i <= 8; i++)
		date = date << 8 | data[i];
	args = (const char *)data + 9;
	nl = memchr(args, '\0', size - 9);
	if (nl == NULL)
		return 0;
	text = nl + 1;
	line = buf_new(SIZE_MAX);
	buf_addstr(line, "a1 SEARCH ");
	buf_add(line, args, (size_t)(nl - args));
	buf_addstr(line, "\r\n");
	p = imap_parser_new(&LIM);
	while (off < line->len) {
		enum imap_parse_res r = imap_parser_feed(p, line->data + off,
							 line->len - off,
							 &used);

		off += used;
		if (r == IMAP_PARSE_LITERAL) {
			imap_parser_literal_accept(p, false);
		} else if (r == IMAP_PARSE_COMMAND) {
			search(imap_parser_command(p), data[0],
			       (int64_t)date, text,
			       size - (size_t)(text - (const char *)data));
			break;
		} else if (r != IMAP_PARSE_MORE) {
			break;
		}
	}
	imap_parser_free(&p);
	buf_free(&line);
	return 0;
}
