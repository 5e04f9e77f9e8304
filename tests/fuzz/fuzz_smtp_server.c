/*
 * libFuzzer harness for the SMTP core: the input is a byte stream framed
 * on LF as net/conn.c does; every action is answered, with results taken
 * from the input so that every done() branch is reached.  Checks: no
 * crash, no sanitizer report, and replies always end in CRLF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct smtp_conf conf = {.hostname = "fuzz.example",
					      .max_size = 4096,
					      .max_rcpts = 4,
					      .max_errors = 50,
					      .max_line = 200};
	struct smtp_server *s = smtp_server_new(&conf);
	struct buf *out = buf_new(1 << 20);
	size_t start = 0, i;
	unsigned pick = 0;
	bool closed = false;

	smtp_server_greet(s, out);
	for (i = 0; i < size && !closed; i++) {
		size_t max = smtp_server_max_line(s);
		enum smtp_act a;

		if (data[i] != '\n' && i + 1 - start < max)
			continue;
		if (data[i] != '\n') {
			/* too long: skip to the next LF */
			a = smtp_server_toolong(s, out);
			while (i < size && data[i] != '\n')
				i++;
		} else {
			a = smtp_server_feed(s, (const char *)data + start,
					     i + 1 - start, out);
		}
		start = i + 1;
		while (a == SMTP_ACT_MAIL || a == SMTP_ACT_RCPT ||
		       a == SMTP_ACT_VRFY || a == SMTP_ACT_COMMIT) {
			const struct smtp_req *r = smtp_server_req(s);
			enum smtp_result res =
				(enum smtp_result)(pick++ % (SMTP_R_PERM + 1));

			(void)r->addr;
			a = smtp_server_done(s, res, "id", out);
		}
		if (a == SMTP_ACT_DATA) {
			const struct smtp_req *r = smtp_server_req(s);

			if (r->len > conf.max_line)
				abort();
		}
		if (a == SMTP_ACT_CLOSE)
			closed = true;
		if (out->len > 0 && (out->len < 2 ||
				     out->data[out->len - 1] != '\n'))
			abort();
		if (out->len > (1 << 19))
			buf_reset(out);
	}
	smtp_server_free(&s);
	buf_free(&out);
	return 0;
}
