/*
 * libFuzzer harness for owl's text functions over mail it shows: HTML as
 * text (owl_html_text) and list cells (owl_text_cell, owl_text_width).
 * Checks: no crash, no sanitizer report; the text of n octets of HTML is
 * at most n + 1 octets (markup never expands past its own size); a cell
 * of sanitized text is exactly its width in columns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "owl/owl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct buf *out = buf_new(2 * size + 16), *safe = buf_new(4 * size +
								     16);
	size_t cols = size > 0 ? data[0] % 40 : 0;

	memcpy(s, data, size);
	s[size] = '\0';
	owl_html_text(s, size, out);
	if (out->len > size + 1)
		abort();
	buf_free(&out);
	out = buf_new(4 * size + cols + 16);
	mime_safe_text(s, strlen(s), safe);
	for (size_t i = 0; i < safe->len; i++)
		if (safe->data[i] == '\n' || safe->data[i] == '\t')
			safe->data[i] = ' ';
	owl_text_cell(safe->data ? safe->data : "", cols, out);
	if (owl_text_width(out->data ? out->data : "", out->len) != cols)
		abort();
	buf_free(&out);
	buf_free(&safe);
	free(s);
	return 0;
}
