/*
 * libFuzzer harness for owl's reading of IMAP server responses
 * (owl/imap_resp.c): where a line ends in a literal, and LIST, STATUS,
 * FETCH and CAPABILITY values out of one whole response, literals
 * inline.  The input is not NUL-terminated (a copy of exactly size
 * octets), so a read past the response's end is an ASan report.
 * Checks: no crash, no sanitizer report; a literal length is -1 or what
 * the line says; a FETCH body is never longer than the response.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "owl/owl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *r = malloc(size > 0 ? size : 1);
	struct buf *body = buf_new(size + 1);
	struct owl_imap_item f = {.body = body};
	struct owl_folder fo;
	struct owl_imap_cur c;
	char caps[256];

	memcpy(r, data, size);
	if (owl_imap_literal_len(r, size) < -1)
		abort();
	owl_imap_parse_list(r, size, &fo);
	memset(&fo, 0, sizeof(fo));
	memcpy(fo.name, "INBOX", 6);
	owl_imap_parse_status(r, size, &fo);
	owl_imap_parse_fetch(r, size, &f);
	if (body->len > size)
		abort();
	if (owl_imap_parse_caps(r, size, caps, sizeof(caps)))
		owl_imap_has_cap(caps, "IMAP4rev1");
	c = (struct owl_imap_cur){r, r + size};
	while (c.p < c.end && owl_imap_skip(&c, 0))
		owl_imap_sp(&c);
	buf_free(&body);
	free(r);
	return 0;
}
