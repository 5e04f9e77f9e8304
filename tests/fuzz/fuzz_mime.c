/*
 * libFuzzer harness for the MIME parser and builder.  The input is parsed
 * as a message from the wild; every header and part is run through the
 * terminal sanitizer (no ESC may come out).  Then the input is sent as an
 * attachment and its first 100 octets as the subject and body: the
 * attachment must parse back byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
safe(const char *s, size_t len, struct buf *b)
{
	buf_reset(b);
	mime_safe_text(s, len, b);
	if (b->len > 0 && (memchr(b->data, 0x1b, b->len) != NULL ||
			   memchr(b->data, '\r', b->len) != NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct mime_doc d;
	struct buf *b = buf_new(size * 4 + 64), *out;
	char name[MIME_NAME_MAX + 1];
	char head[101];
	size_t hl = size < 100 ? size : 100;
	struct mime_att att = {"fuzz.bin", text, size, NULL};
	struct mime_out m = {"Thu, 1 Jan 2026 00:00:00 +0000", "<f@z>",
			     "a@z", "b@z", NULL, head, head, hl, &att, 1,
			     "=_owl_fuzz"};

	mime_parse(text, size, &d);
	if (d.subject != NULL)
		safe(d.subject, strlen(d.subject), b);
	for (size_t i = 0; i < d.nparts; i++) {
		safe(d.parts[i].data, d.parts[i].len, b);
		if (d.parts[i].filename != NULL) {
			mime_safe_name(d.parts[i].filename, name,
				       sizeof(name));
			if (strchr(name, '/') != NULL || name[0] == '.' ||
			    name[0] == '\0')
				abort();
		}
	}
	if (d.nparts == 0 || d.nparts > MIME_PARTS_MAX)
		abort();
	mime_doc_free(&d);

	/* round trip as an attachment */
	memcpy(head, text, hl);
	for (size_t i = 0; i < hl; i++)
		if (head[i] == '\0')
			head[i] = ' ';
	head[hl] = '\0';
	m.bodylen = strlen(head);
	out = buf_new(size * 2 + 4096);
	if (mime_build(&m, out) != 0)
		abort();
	mime_parse(out->data, out->len, &d);
	if (d.nparts != 2 || d.parts[1].len != size ||
	    (size > 0 && memcmp(d.parts[1].data, text, size) != 0))
		abort();
	mime_doc_free(&d);
	buf_free(&out);
	buf_free(&b);
	return 0;
}
