/*
 * libFuzzer harness for the IMAP command parser (proto/imap_parser.h).
 * The first byte chooses what is done with literals (keep, stream,
 * refuse, in turn or all the same) and whether the line after the first
 * command is a raw line (AUTHENTICATE, IDLE); the rest is what a client
 * sends.  It is fed whole and in pieces whose sizes come from the input
 * itself, and the two transcripts (every command with its argument tree,
 * line, literal announcement, streamed octets and error) must be the same.
 * Checks besides: no crash or sanitizer report, every list as deep and as
 * long as the limits allow at most, every string as long as it says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_limits LIM = {
	.line_max = 300, .literal_max = 100, .literals_max = 150,
	.depth_max = 4, .args_max = 40,
};

static void
arg_text(struct buf *out, const struct imap_arg *a, unsigned depth)
{
	if (depth > LIM.depth_max)
		abort();
	buf_printf(out, "%d:", (int)a->type);
	if (a->type == IMAP_ARG_LIST) {
		if (a->n > LIM.args_max)
			abort();
		buf_addc(out, '(');
		for (size_t i = 0; i < a->n; i++)
			arg_text(out, &a->list[i], depth + 1);
		buf_addc(out, ')');
		return;
	}
	if (a->streamed) {
		buf_printf(out, "S%zu", a->len);
		return;
	}
	if (a->str == NULL || a->str[a->len] != '\0')
		abort();
	if (a->type != IMAP_ARG_LITERAL && strlen(a->str) != a->len)
		abort();
	buf_printf(out, "%zu[", a->len);
	buf_add(out, a->str, a->len);
	buf_addc(out, ']');
}

/* Feeds in pieces (sizes from cuts, 0: whole); the transcript. */
static void
run(const uint8_t *cuts, size_t ncuts, unsigned policy, const char *text,
    size_t len, struct buf *out)
{
	struct imap_parser *p = imap_parser_new(&LIM);
	size_t off = 0, k = 0, nlit = 0;
	bool first = true;

	while (off < len) {
		size_t n = ncuts == 0 ? len - off : 1 + cuts[k++ % ncuts] % 16;
		size_t used, ll;
		const char *t, *tag;
		const struct imap_command *c;
		enum imap_parse_res r;

		if (n > len - off)
			n = len - off;
		r = imap_parser_feed(p, text + off, n, &used);
		if (used > n)
			abort();
		off += used;
		switch (r) {
		case IMAP_PARSE_MORE:
			if (used != n)
				abort();
			break;
		case IMAP_PARSE_COMMAND:
			c = imap_parser_command(p);
			buf_printf(out, "C %s %s", c->tag, c->name);
			if (c->nargs > LIM.args_max)
				abort();
			for (size_t i = 0; i < c->nargs; i++)
				arg_text(out, &c->args[i], 0);
			buf_addc(out, '\n');
			if (first && (policy & 8))
				imap_parser_want_line(p);
			first = false;
			break;
		case IMAP_PARSE_LINE:
			t = imap_parser_line(p, &ll);
			buf_printf(out, "R%zu\n", ll);
			buf_add(out, t, ll);
			break;
		case IMAP_PARSE_LITERAL: {
			size_t ls;
			bool sync, l8;
			unsigned what = (policy & 4) ? nlit % 3 : policy % 3;

			imap_parser_literal(p, &ls, &sync, &l8);
			buf_printf(out, "+%zu %d %d %u\n", ls, sync, l8, what);
			nlit++;
			if (what == 2)
				imap_parser_literal_refuse(p);
			else
				imap_parser_literal_accept(p, what == 1);
			break;
		}
		case IMAP_PARSE_DATA:
			imap_parser_data(p, &ll);
			if (ll == 0)
				abort();
			buf_printf(out, "D%zu\n", ll);
			break;
		case IMAP_PARSE_ERROR:
			imap_parser_error(p, &t, &tag);
			buf_printf(out, "E %s %s\n", tag, t);
			break;
		}
	}
	imap_parser_free(&p);
}

/* Streamed pieces come as the input is cut: sum runs of D lines. */
static void
merge_data(struct buf *b)
{
	struct buf *o = buf_new(SIZE_MAX);
	size_t sum = 0;
	char *line = b->data, *end = b->data + b->len;

	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) + 1 : (size_t)(end - line);

		if (line[0] == 'D') {
			sum += strtoul(line + 1, NULL, 10);
		} else {
			if (sum > 0)
				buf_printf(o, "D%zu\n", sum);
			sum = 0;
			buf_add(o, line, n);
		}
		line += n;
	}
	if (sum > 0)
		buf_printf(o, "D%zu\n", sum);
	buf_reset(b);
	buf_add(b, o->data, o->len);
	buf_free(&o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf *a, *b;

	if (size < 1 || size > 4096)
		return 0;
	a = buf_new(SIZE_MAX);
	b = buf_new(SIZE_MAX);
	run(NULL, 0, data[0], (const char *)data + 1, size - 1, a);
	run(data + 1, size - 1, data[0], (const char *)data + 1, size - 1, b);
	merge_data(a);
	merge_data(b);
	if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
		abort();
	buf_free(&a);
	buf_free(&b);
	return 0;
}
