/*
 * libFuzzer harness for the MIME structure parser (mime/mstruct.h) and
 * its IMAP forms (proto/imap_body.h): the input is a message text, fed
 * whole and in pieces whose sizes come from the text itself; the two
 * trees must write the same BODYSTRUCTURE and ENVELOPE.  Checks besides:
 * no crash or sanitizer report; the size is the text's with every LF not
 * after a CR counted twice; every part's header is followed by its body,
 * lies within its parent's body and after its elder sibling; the limits
 * on depth and parts hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mime/mstruct.h"
#include "proto/imap_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned nparts;

static void
check(const struct mstruct_part *p, uint64_t start, uint64_t end,
      unsigned depth)
{
	uint64_t after = start;

	nparts++;
	if (depth > MSTRUCT_DEPTH_MAX || p->depth != depth ||
	    p->hdr_off < start || p->hdr_off + p->hdr_size != p->body_off ||
	    p->body_off + p->body_size > end ||
	    p->body_lines > p->body_size)
		abort();
	if (p->rfc822 && (p->nchildren != 1 || !p->children->is_msg))
		abort();
	for (const struct mstruct_part *c = p->children; c != NULL;
	     c = c->next) {
		if (c->parent != p || c->hdr_off < after)
			abort();
		check(c, p->body_off, p->body_off + p->body_size, depth + 1);
		after = c->body_off + c->body_size;
	}
}

static void
write_all(const struct mstruct_part *root, struct buf *out)
{
	imap_body_structure(out, root, true);
	imap_body_structure(out, root, false);
	imap_body_envelope(out, root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mstruct *a = mstruct_new(), *b = mstruct_new();
	struct buf *oa = buf_new(SIZE_MAX), *ob = buf_new(SIZE_MAX);
	const char *t = (const char *)data;
	uint64_t want = size;
	size_t off = 0, k = 0;

	for (size_t i = 0; i < size; i++)
		if (t[i] == '\n')	/* every LF is CRLF, as the store counts */
			want++;
	mstruct_feed(a, t, size);
	while (off < size) {
		size_t n = 1 + (size > 0 ? data[k++ % size] % 64 : 0);

		if (n > size - off)
			n = size - off;
		mstruct_feed(b, t + off, n);
		off += n;
	}
	mstruct_end(a);
	mstruct_end(b);
	if (mstruct_size(a) != want || mstruct_size(b) != want)
		abort();
	nparts = 0;
	check(mstruct_root(a), 0, want, 0);
	if (nparts > MSTRUCT_PARTS_MAX)
		abort();
	write_all(mstruct_root(a), oa);
	write_all(mstruct_root(b), ob);
	if (oa->len != ob->len || memcmp(oa->data, ob->data, oa->len) != 0)
		abort();
	mstruct_free(&a);
	mstruct_free(&b);
	buf_free(&oa);
	buf_free(&ob);
	return 0;
}
