/*
 * libFuzzer harness for modified UTF-7 (proto/imap_utf7.h).  The input
 * is taken both as UTF-8 and as modified UTF-7: whatever converts must
 * convert back to exactly the input (one name, one spelling), and what
 * UTF-8 gives must be printable ASCII only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf *a = buf_new(SIZE_MAX), *b = buf_new(SIZE_MAX);

	if (imap_utf8_to_mutf7(in, size, a) == 0) {
		for (size_t i = 0; i < a->len; i++)
			if (a->data[i] < 0x20 || a->data[i] > 0x7e)
				abort();
		if (imap_mutf7_to_utf8(a->data, a->len, b) != 0 ||
		    b->len != size || memcmp(b->data, in, size) != 0)
			abort();
	}
	buf_reset(a);
	buf_reset(b);
	if (imap_mutf7_to_utf8(in, size, a) == 0) {
		if (imap_utf8_to_mutf7(a->data, a->len, b) != 0 ||
		    b->len != size || memcmp(b->data, in, size) != 0)
			abort();
	}
	buf_free(&a);
	buf_free(&b);
	return 0;
}
