/*
 * libFuzzer harness for bounce (DSN) building.  The input is a queue
 * envelope (parsed by qenv_parse, as the relay has it), a NUL, and the
 * stored message (LF line ends) whose header section the bounce quotes.
 * Checks: no crash, no sanitizer report; the header section found ends at
 * a line end; the bounce, sent with CRLF for each LF, is valid mail text:
 * no NUL, no CR of its own (it would be a bare CR on the wire), no line
 * over 998 octets; it ends with the closing boundary; each Status is a
 * 5.x.y code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/bounce.h"

#define HEADERS_MAX (64 * 1024)	/* as the relay reads them */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const struct buf *b)
{
	static const char tail[] =
		"\n--0123456789abcdef/mx.example.org--\n";
	size_t line = 0;
	const char *end;

	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];

		if (c == '\0' || c == '\r')
			abort();
		if (c == '\n')
			line = 0;
		else if (++line > 998)
			abort();
	}
	if (b->len < sizeof(tail) - 1 ||
	    memcmp(b->data + b->len - (sizeof(tail) - 1), tail,
		   sizeof(tail) - 1) != 0)
		abort();
	/* the report's own part, not the quoted headers after it */
	end = strstr(b->data, "\nContent-Description: Undelivered message");
	if (end == NULL)
		abort();
	for (const char *p = b->data;
	     (p = strstr(p, "\nStatus: ")) != NULL && p < end; p++) {
		unsigned x, y, z;
		char after;

		if (sscanf(p + 9, "%u.%u.%u%c", &x, &y, &z, &after) != 4 ||
		    x != 5 || y > 999 || z > 999 || after != '\n')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *sep = memchr(data, '\0', size);
	const char *msg;
	size_t mlen, hlen;
	struct qenv e;
	struct buf *b;

	if (sep == NULL || (size_t)(sep - (const char *)data) > 65536)
		return 0;
	if (qenv_parse((const char *)data, &e) == -1)
		return 0;
	msg = sep + 1;
	mlen = size - (size_t)(msg - (const char *)data);
	hlen = bounce_headers_len(msg, mlen, HEADERS_MAX);
	if (hlen > mlen || hlen > HEADERS_MAX ||
	    (hlen > 0 && msg[hlen - 1] != '\n'))
		abort();
	/* room as the relay makes it */
	b = buf_new(HEADERS_MAX + 64 * 1024 + e.nrcpts * 2 * QUEUE_TEXT_MAX);
	bounce_build(b, "mx.example.org", &e, msg, hlen, 1700000000,
		     "0123456789abcdef");
	check_text(b);
	buf_free(&b);
	qenv_free(&e);
	return 0;
}
