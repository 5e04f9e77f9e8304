/*
 * fetch_drv - prints owlpost's FETCH response (message 1) for a message
 * file and an item list, for dovecot_fetch.py to compare with Dovecot's.
 * Usage: fetch_drv FILE ITEMS.  Not a test by itself; exits 2 on bad use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_fetch.h"
#include "proto/imap_parser.h"

struct rd {
	const char *s;
	size_t len, off;
};

static long
rd_read(void *p, char *b, size_t n)
{
	struct rd *r = p;
	size_t k = r->len - r->off < n ? r->len - r->off : n;

	memcpy(b, r->s + r->off, k);
	r->off += k;
	return (long)k;
}

static int
rd_rewind(void *p)
{
	((struct rd *)p)->off = 0;
	return 0;
}

int
main(int argc, char **argv)
{
	static char text[1 << 24], line[8192];
	static const struct imap_limits lim = {
		.line_max = 8000, .literal_max = 10, .literals_max = 10,
		.depth_max = 5, .args_max = 100,
	};
	struct imap_parser *p = imap_parser_new(&lim);
	struct imap_fetch_items *items;
	struct imap_msg m = {0};
	struct rd r = {.s = text};
	struct imap_fetch_msg fm = {.seq = 1, .m = &m, .rd = &r,
				    .read = rd_read, .rewind = rd_rewind};
	struct imap_fetch_writer *w;
	struct buf *out = buf_new(SIZE_MAX);
	const char *why;
	size_t used;
	FILE *f;
	int n, res;

	if (argc != 3 || (f = fopen(argv[1], "rb")) == NULL)
		return 2;
	r.len = fread(text, 1, sizeof(text), f);
	fclose(f);
	n = snprintf(line, sizeof(line), "a FETCH 1 %s\r\n", argv[2]);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    imap_parser_feed(p, line, (size_t)n, &used) != IMAP_PARSE_COMMAND)
		return 2;
	if (imap_fetch_parse(&imap_parser_command(p)->args[1], &items,
			     &why) < 0) {
		printf("BAD %s\n", why);
		return 0;
	}
	w = imap_fetch_writer_new(items, &fm);
	res = imap_fetch_write(w, out, SIZE_MAX);
	if (res != 0)
		printf("RES %d\n", res);
	fwrite(out->data, 1, out->len, stdout);
	imap_fetch_writer_free(&w);
	imap_fetch_items_free(&items);
	imap_parser_free(&p);
	buf_free(&out);
	return 0;
}
